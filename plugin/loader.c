/*
 * loader.c — start the instances of a configuration through the public JET API (see loader-int.h).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "loader-int.h"

/* Names of the JET_err / JET_wrn numbers of jet.h, for messages. */
static const struct {
    JET_ERR err;
    const char *name;
} err_names[] = {
    {JET_errSuccess, "JET_errSuccess"},
    {JET_wrnNyi, "JET_wrnNyi"},
    {JET_errInternalError, "JET_errInternalError"},
    {JET_errKeyTruncated, "JET_errKeyTruncated"},
    {JET_errKeyTooBig, "JET_errKeyTooBig"},
    {JET_errInvalidLoggedOperation, "JET_errInvalidLoggedOperation"},
    {JET_errLogFileCorrupt, "JET_errLogFileCorrupt"},
    {JET_errNoBackupDirectory, "JET_errNoBackupDirectory"},
    {JET_errBackupDirectoryNotEmpty, "JET_errBackupDirectoryNotEmpty"},
    {JET_errBackupInProgress, "JET_errBackupInProgress"},
    {JET_errRestoreInProgress, "JET_errRestoreInProgress"},
    {JET_errMissingPreviousLogFile, "JET_errMissingPreviousLogFile"},
    {JET_errLogWriteFail, "JET_errLogWriteFail"},
    {JET_errLogGenerationMismatch, "JET_errLogGenerationMismatch"},
    {JET_errBadLogVersion, "JET_errBadLogVersion"},
    {JET_errInvalidLogSequence, "JET_errInvalidLogSequence"},
    {JET_errLoggingDisabled, "JET_errLoggingDisabled"},
    {JET_errLogSequenceEnd, "JET_errLogSequenceEnd"},
    {JET_errNoBackup, "JET_errNoBackup"},
    {JET_errInvalidBackupSequence, "JET_errInvalidBackupSequence"},
    {JET_errMissingRestoreLogFiles, "JET_errMissingRestoreLogFiles"},
    {JET_errMissingFullBackup, "JET_errMissingFullBackup"},
    {JET_errEndingRestoreLogTooLow, "JET_errEndingRestoreLogTooLow"},
    {JET_errStartingRestoreLogTooHigh, "JET_errStartingRestoreLogTooHigh"},
    {JET_errRestoreOfNonBackupDatabase, "JET_errRestoreOfNonBackupDatabase"},
    {JET_errLogFileNotCopied, "JET_errLogFileNotCopied"},
    {JET_errBadRestoreTargetInstance, "JET_errBadRestoreTargetInstance"},
    {JET_errBackupAbortByCaller, "JET_errBackupAbortByCaller"},
    {JET_errBackupAbortByServer, "JET_errBackupAbortByServer"},
    {JET_errBackupNotAllowedYet, "JET_errBackupNotAllowedYet"},
    {JET_errInvalidBackup, "JET_errInvalidBackup"},
    {JET_errRecoveredWithErrors, "JET_errRecoveredWithErrors"},
    {JET_errMissingLogFile, "JET_errMissingLogFile"},
    {JET_errLogDiskFull, "JET_errLogDiskFull"},
    {JET_errBadLogSignature, "JET_errBadLogSignature"},
    {JET_errBadDbSignature, "JET_errBadDbSignature"},
    {JET_errBadCheckpointSignature, "JET_errBadCheckpointSignature"},
    {JET_errCheckpointCorrupt, "JET_errCheckpointCorrupt"},
    {JET_errDatabaseLogSetMismatch, "JET_errDatabaseLogSetMismatch"},
    {JET_errLogFileSizeMismatch, "JET_errLogFileSizeMismatch"},
    {JET_errCheckpointFileNotFound, "JET_errCheckpointFileNotFound"},
    {JET_errRequiredLogFilesMissing, "JET_errRequiredLogFilesMissing"},
    {JET_errSoftRecoveryOnBackupDatabase, "JET_errSoftRecoveryOnBackupDatabase"},
    {JET_errDatabaseDirtyShutdown, "JET_errDatabaseDirtyShutdown"},
    {JET_errConsistentTimeMismatch, "JET_errConsistentTimeMismatch"},
    {JET_errMissingFileToBackup, "JET_errMissingFileToBackup"},
    {JET_errLogReadVerifyFailure, "JET_errLogReadVerifyFailure"},
    {JET_errInvalidGrbit, "JET_errInvalidGrbit"},
    {JET_errTermInProgress, "JET_errTermInProgress"},
    {JET_errFeatureNotAvailable, "JET_errFeatureNotAvailable"},
    {JET_errInvalidName, "JET_errInvalidName"},
    {JET_errInvalidParameter, "JET_errInvalidParameter"},
    {JET_wrnColumnNull, "JET_wrnColumnNull"},
    {JET_wrnBufferTruncated, "JET_wrnBufferTruncated"},
    {JET_wrnDatabaseAttached, "JET_wrnDatabaseAttached"},
    {JET_errDatabaseFileReadOnly, "JET_errDatabaseFileReadOnly"},
    {JET_errInvalidDatabaseId, "JET_errInvalidDatabaseId"},
    {JET_errOutOfMemory, "JET_errOutOfMemory"},
    {JET_errOutOfDatabaseSpace, "JET_errOutOfDatabaseSpace"},
    {JET_errOutOfCursors, "JET_errOutOfCursors"},
    {JET_errOutOfBuffers, "JET_errOutOfBuffers"},
    {JET_errReadVerifyFailure, "JET_errReadVerifyFailure"},
    {JET_errPageNotInitialized, "JET_errPageNotInitialized"},
    {JET_errOutOfFileHandles, "JET_errOutOfFileHandles"},
    {JET_errDiskIO, "JET_errDiskIO"},
    {JET_errInvalidPath, "JET_errInvalidPath"},
    {JET_errInvalidSystemPath, "JET_errInvalidSystemPath"},
    {JET_errInvalidLogDirectory, "JET_errInvalidLogDirectory"},
    {JET_errRecordTooBig, "JET_errRecordTooBig"},
    {JET_errTooManyOpenDatabases, "JET_errTooManyOpenDatabases"},
    {JET_errInvalidDatabase, "JET_errInvalidDatabase"},
    {JET_errNotInitialized, "JET_errNotInitialized"},
    {JET_errAlreadyInitialized, "JET_errAlreadyInitialized"},
    {JET_errInitInProgress, "JET_errInitInProgress"},
    {JET_errFileAccessDenied, "JET_errFileAccessDenied"},
    {JET_errBufferTooSmall, "JET_errBufferTooSmall"},
    {JET_wrnSeekNotEqual, "JET_wrnSeekNotEqual"},
    {JET_errInvalidBufferSize, "JET_errInvalidBufferSize"},
    {JET_errNotInTransaction, "JET_errNotInTransaction"},
    {JET_errTooManyActiveUsers, "JET_errTooManyActiveUsers"},
    {JET_errVersionStoreOutOfMemory, "JET_errVersionStoreOutOfMemory"},
    {JET_errRunningInOneInstanceMode, "JET_errRunningInOneInstanceMode"},
    {JET_errRunningInMultiInstanceMode, "JET_errRunningInMultiInstanceMode"},
    {JET_errSystemParamsAlreadySet, "JET_errSystemParamsAlreadySet"},
    {JET_errSystemPathInUse, "JET_errSystemPathInUse"},
    {JET_errLogFilePathInUse, "JET_errLogFilePathInUse"},
    {JET_errTempPathInUse, "JET_errTempPathInUse"},
    {JET_errInstanceNameInUse, "JET_errInstanceNameInUse"},
    {JET_errSystemParameterConflict, "JET_errSystemParameterConflict"},
    {JET_errInstanceUnavailable, "JET_errInstanceUnavailable"},
    {JET_errDatabaseUnavailable, "JET_errDatabaseUnavailable"},
    {JET_errInstanceUnavailableDueToFatalLogDiskFull, "JET_errInstanceUnavailableDueToFatalLogDiskFull"},
    {JET_errOutOfSessions, "JET_errOutOfSessions"},
    {JET_errWriteConflict, "JET_errWriteConflict"},
    {JET_errTransTooDeep, "JET_errTransTooDeep"},
    {JET_errInvalidSesid, "JET_errInvalidSesid"},
    {JET_errInTransaction, "JET_errInTransaction"},
    {JET_errRollbackRequired, "JET_errRollbackRequired"},
    {JET_errSesidTableIdMismatch, "JET_errSesidTableIdMismatch"},
    {JET_errInvalidInstance, "JET_errInvalidInstance"},
    {JET_errDirtyShutdown, "JET_errDirtyShutdown"},
    {JET_errReadPgnoVerifyFailure, "JET_errReadPgnoVerifyFailure"},
    {JET_errDatabaseDuplicate, "JET_errDatabaseDuplicate"},
    {JET_errDatabaseInUse, "JET_errDatabaseInUse"},
    {JET_errDatabaseNotFound, "JET_errDatabaseNotFound"},
    {JET_errDatabaseInvalidName, "JET_errDatabaseInvalidName"},
    {JET_errDatabaseCorrupted, "JET_errDatabaseCorrupted"},
    {JET_errInvalidDatabaseVersion, "JET_errInvalidDatabaseVersion"},
    {JET_errPageSizeMismatch, "JET_errPageSizeMismatch"},
    {JET_errTooManyInstances, "JET_errTooManyInstances"},
    {JET_errDatabaseSharingViolation, "JET_errDatabaseSharingViolation"},
    {JET_errAttachedDatabaseMismatch, "JET_errAttachedDatabaseMismatch"},
    {JET_errDatabaseInvalidPath, "JET_errDatabaseInvalidPath"},
    {JET_errTableLocked, "JET_errTableLocked"},
    {JET_errTableDuplicate, "JET_errTableDuplicate"},
    {JET_errTableInUse, "JET_errTableInUse"},
    {JET_errObjectNotFound, "JET_errObjectNotFound"},
    {JET_errDensityInvalid, "JET_errDensityInvalid"},
    {JET_errInvalidTableId, "JET_errInvalidTableId"},
    {JET_errTooManyOpenTables, "JET_errTooManyOpenTables"},
    {JET_errIllegalOperation, "JET_errIllegalOperation"},
    {JET_errClientRequestToStopJetService, "JET_errClientRequestToStopJetService"},
    {JET_errRecordNotFound, "JET_errRecordNotFound"},
    {JET_errNoCurrentRecord, "JET_errNoCurrentRecord"},
    {JET_errKeyDuplicate, "JET_errKeyDuplicate"},
    {JET_errTooManyAttachedDatabases, "JET_errTooManyAttachedDatabases"},
    {JET_errDiskFull, "JET_errDiskFull"},
    {JET_errPermissionDenied, "JET_errPermissionDenied"},
    {JET_errFileNotFound, "JET_errFileNotFound"},
    {JET_errFileInvalidType, "JET_errFileInvalidType"},
    {JET_errFileAlreadyExists, "JET_errFileAlreadyExists"},
    {JET_errAfterInitialization, "JET_errAfterInitialization"},
    {JET_errLogCorrupted, "JET_errLogCorrupted"},
};

const char *wr_jet_err_name(JET_ERR err)
{
    for (size_t i = 0; i < sizeof err_names / sizeof err_names[0]; i++)
        if (err_names[i].err == err)
            return err_names[i].name;
    return NULL;
}

#if defined(__GNUC__)
__attribute__((format(printf, 6, 7)))
#endif
static void say(wr_log_fn *log, void *ctx, enum wr_log_level level, const char *instance, enum wr_event ev,
                const char *fmt, ...)
{
    if (!log)
        return;
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    log(ctx, level, instance, ev, buf);
}

/* A hint for the errors an administrator is most likely to meet at each step. */
static const char *hint(const char *step, JET_ERR err)
{
    if (!strcmp(step, "JetAttachDatabase")) {
        switch (err) {
        case JET_errFileNotFound:
            return "the database file does not exist; jetsnap never creates a missing database";
        case JET_errDatabaseDirtyShutdown:
            return "the database needs recovery with the logs it was used with";
        case JET_errDatabaseSharingViolation:
        case JET_errFileAccessDenied:
            return "the database is in use by another instance or process";
        case JET_errDatabaseCorrupted:
            return "not a jetsnap database, or both headers are damaged";
        default:
            return NULL;
        }
    }
    switch (err) {
    case JET_errInvalidPath:
    case JET_errInvalidSystemPath:
    case JET_errInvalidLogDirectory:
        return "the directory does not exist or cannot be written";
    case JET_errSystemPathInUse:
    case JET_errLogFilePathInUse:
    case JET_errFileAccessDenied:
        return "the directory is used by another instance or process";
    case JET_errInstanceNameInUse:
        return "an instance of that name already exists in this process";
    case JET_errTooManyInstances:
        return "JET_paramMaxInstances reached";
    default:
        return NULL;
    }
}

/* Record the failure of one instance, terminate it, log it. */
static void fail(struct wr_instance *wi, JET_INSTANCE *inst, JET_SESID *ses, const char *step,
                 const char *param, JET_ERR err, const char *path, wr_log_fn *log, void *ctx)
{
    if (*ses)
        JetEndSession(*ses, 0);
    *ses = 0;
    if (*inst)
        JetTerm(*inst);
    *inst = 0;
    const char *name = wr_jet_err_name(err);
    char num[32];
    if (!name) {
        snprintf(num, sizeof num, "JET_err%ld", err);
        name = num;
    }
    const char *h = hint(step, err);
    char *msg = NULL;
    if (asprintf(&msg, "instance '%s' failed: %s%s%s%s%s%s: %s (%ld)%s%s; instance terminated", wi->name,
                 step, param ? "(" : "", param ? param : "", param ? ")" : "", path ? " " : "",
                 path ? path : "", name, err, h ? ": " : "", h ? h : "") < 0)
        msg = NULL;
    wi->state = WR_INSTANCE_FAILED;
    wi->inst = 0;
    wi->step = step;
    wi->err = err;
    wi->path = path ? strdup(path) : NULL;
    wi->message = msg;
    say(log, ctx, WR_LOG_ERR, wi->name, WR_EV_INSTANCE_FAILED, "%s",
        msg ? msg : "instance failed (out of memory while formatting the message)");
}

static void load_one(const struct conf_instance *ci, struct wr_instance *wi, wr_log_fn *log, void *ctx)
{
    JET_INSTANCE inst = 0;
    JET_SESID ses = 0;
    JET_ERR err;

    err = JetCreateInstance2(&inst, ci->name, ci->display_name, 0);
    if (err < 0) {
        inst = 0;
        fail(wi, &inst, &ses, "JetCreateInstance2", NULL, err, NULL, log, ctx);
        return;
    }
    struct {
        unsigned long id;
        const char *pname;
        JET_API_PTR num;
        const char *str;
    } params[] = {
        {JET_paramSystemPath, "JET_paramSystemPath", 0, ci->system_path},
        {JET_paramLogFilePath, "JET_paramLogFilePath", 0, ci->log_path},
        {JET_paramLogFileSize, "JET_paramLogFileSize", ci->log_file_size_kb, NULL},
        {JET_paramCircularLog, "JET_paramCircularLog", ci->circular_logging ? 1 : 0, NULL},
    };
    for (size_t i = 0; i < sizeof params / sizeof params[0]; i++) {
        err = JetSetSystemParameter(&inst, 0, params[i].id, params[i].num, params[i].str);
        if (err < 0) {
            fail(wi, &inst, &ses, "JetSetSystemParameter", params[i].pname, err, params[i].str, log, ctx);
            return;
        }
    }
    JET_API_PTR page_size = 0;
    err = JetGetSystemParameter(inst, 0, JET_paramDatabasePageSize, &page_size, NULL, 0);
    if (err < 0 || !page_size) {
        fail(wi, &inst, &ses, "JetGetSystemParameter", "JET_paramDatabasePageSize",
             err < 0 ? err : JET_errInternalError, NULL, log, ctx);
        return;
    }
    JET_API_PTR pages = (JET_API_PTR)((unsigned long long)ci->cache_size_mb * 1024 * 1024 / page_size);
    err = JetSetSystemParameter(&inst, 0, JET_paramCacheSizeMax, pages, NULL);
    if (err < 0) {
        fail(wi, &inst, &ses, "JetSetSystemParameter", "JET_paramCacheSizeMax", err, NULL, log, ctx);
        return;
    }
    err = JetInit(&inst);
    if (err < 0) {
        bool sys = err == JET_errInvalidSystemPath || err == JET_errSystemPathInUse ||
                   err == JET_errCheckpointCorrupt || err == JET_errCheckpointFileNotFound;
        fail(wi, &inst, &ses, "JetInit", NULL, err, sys ? ci->system_path : ci->log_path, log, ctx);
        return;
    }
    err = JetBeginSession(inst, &ses, NULL, NULL);
    if (err < 0) {
        ses = 0;
        fail(wi, &inst, &ses, "JetBeginSession", NULL, err, NULL, log, ctx);
        return;
    }
    for (size_t d = 0; d < ci->databases.n; d++) {
        err = JetAttachDatabase(ses, ci->databases.v[d], 0);
        if (err < 0) {
            fail(wi, &inst, &ses, "JetAttachDatabase", NULL, err, ci->databases.v[d], log, ctx);
            return;
        }
        wi->n_databases++;
    }
    JetEndSession(ses, 0);
    wi->state = WR_INSTANCE_RUNNING;
    wi->inst = inst;
    say(log, ctx, WR_LOG_INFO, wi->name, WR_EV_INSTANCE_STARTED,
        "instance '%s' started: %zu database%s attached, logs in %s", wi->name, wi->n_databases,
        wi->n_databases == 1 ? "" : "s", ci->log_path);
}

int wr_load(const struct conf_config *cfg, wr_log_fn *log, void *ctx, struct wr_load_result **pres)
{
    if (!cfg || !pres)
        return WR_EARG;
    struct wr_load_result *res = calloc(1, sizeof *res);
    struct wr_instance *v = res ? calloc(cfg->n_instances + 1, sizeof *v) : NULL;
    if (!v) {
        free(res);
        return WR_ENOMEM;
    }
    res->instances = v;
    for (size_t i = 0; i < cfg->n_instances; i++) {
        v[i].name = strdup(cfg->instances[i].name);
        if (!v[i].name) {
            for (size_t j = 0; j < i; j++)
                free(v[j].name);
            free(v);
            free(res);
            return WR_ENOMEM;
        }
    }
    res->n = cfg->n_instances;

    JET_API_PTR max = 0;
    if (JetGetSystemParameter(0, 0, JET_paramMaxInstances, &max, NULL, 0) >= 0 && max < cfg->n_instances) {
        JET_ERR err = JetSetSystemParameter(NULL, 0, JET_paramMaxInstances, cfg->n_instances, NULL);
        if (err < 0) {
            const char *name = wr_jet_err_name(err);
            say(log, ctx, WR_LOG_WARNING, NULL, WR_EV_MAX_INSTANCES,
                "cannot raise JET_paramMaxInstances from %lu to %zu: %s (%ld); instances beyond the "
                "limit will fail",
                (unsigned long)max, cfg->n_instances, name ? name : "?", err);
        }
    }

    for (size_t i = 0; i < cfg->n_instances; i++) {
        load_one(&cfg->instances[i], &v[i], log, ctx);
        if (v[i].state == WR_INSTANCE_RUNNING)
            res->n_running++;
        else
            res->n_failed++;
    }
    *pres = res;
    return WR_OK;
}

void wr_unload(struct wr_load_result *res, wr_log_fn *log, void *ctx)
{
    if (!res)
        return;
    for (size_t i = res->n; i-- > 0;) {
        struct wr_instance *wi = &res->instances[i];
        if (wi->state == WR_INSTANCE_RUNNING && wi->inst) {
            JET_ERR err = JetTerm(wi->inst);
            if (err < 0) {
                const char *name = wr_jet_err_name(err);
                say(log, ctx, WR_LOG_WARNING, wi->name, WR_EV_INSTANCE_STOP_FAILED,
                    "instance '%s': JetTerm: %s (%ld)", wi->name, name ? name : "?", err);
            } else {
                say(log, ctx, WR_LOG_INFO, wi->name, WR_EV_INSTANCE_STOPPED, "instance '%s' stopped",
                    wi->name);
            }
        }
        free(wi->name);
        free(wi->path);
        free(wi->message);
    }
    free(res->instances);
    free(res);
}
