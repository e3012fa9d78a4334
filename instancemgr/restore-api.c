/*
 * restore-api.c — JetExternalRestore, JetExternalRestore2 and JetExternalRestoreUntil: argument and mode rules
 * (docs/jet-semantics.md, “Restore”), then the engine's hard recovery (engine/restore.c).
 */
#include <stdio.h>
#include <string.h>

#include "imgr-int.h"

static long restore(const char *log_path, JET_RSTMAP *map, long nmap, const char *backup_logs, uint32_t lo,
                    uint32_t hi, const char *forward, JET_PFNSTATUS pfn, JET_RSTSTOP *stop)
{
    ENG_RETURN_IF(!backup_logs || !*backup_logs || nmap < 0 || (nmap && !map), JET_errInvalidParameter,
                  "the backup log directory is missing, or the restore map and its count disagree");
    long err = imgr_check_not_one_instance();
    if (err)
        return err;
    eng_params p;
    imgr_defaults(&p);
    eng_restore_args a = {&p, backup_logs, lo, hi, map, nmap, forward ? forward : log_path, pfn, stop};
    return eng_restore(&a);
}

JET_ERR JET_API JetExternalRestore(JET_PSTR szCheckpointFilePath, JET_PSTR szLogPath, JET_RSTMAP *rgrstmap,
                                   long crstfilemap, JET_PSTR szBackupLogPath, long genLow, long genHigh,
                                   JET_PFNSTATUS pfn)
{
    (void)szCheckpointFilePath;
    ENG_RETURN_IF(genLow < 0 || genHigh < 0, JET_errInvalidParameter, "a log generation is negative");
    return restore(szLogPath, rgrstmap, crstfilemap, szBackupLogPath, (uint32_t)genLow, (uint32_t)genHigh, NULL,
                   pfn, NULL);
}

JET_ERR JET_API JetExternalRestore2(JET_PSTR szCheckpointFilePath, JET_PSTR szLogPath, JET_RSTMAP *rgrstmap,
                                    long crstfilemap, JET_PSTR szBackupLogPath, JET_LOGINFO *pLogInfo,
                                    JET_PSTR szTargetInstanceName, JET_PSTR szTargetInstanceLogPath,
                                    JET_PSTR szTargetInstanceCheckpointPath, JET_PFNSTATUS pfn)
{
    return JetExternalRestoreUntil(szCheckpointFilePath, szLogPath, rgrstmap, crstfilemap, szBackupLogPath, pLogInfo,
                                   szTargetInstanceName, szTargetInstanceLogPath, szTargetInstanceCheckpointPath, pfn,
                                   NULL);
}

JET_ERR JET_API JetExternalRestoreUntil(JET_PSTR szCheckpointFilePath, JET_PSTR szLogPath, JET_RSTMAP *rgrstmap,
                                        long crstfilemap, JET_PSTR szBackupLogPath, JET_LOGINFO *pLogInfo,
                                        JET_PSTR szTargetInstanceName, JET_PSTR szTargetInstanceLogPath,
                                        JET_PSTR szTargetInstanceCheckpointPath, JET_PFNSTATUS pfn, JET_RSTSTOP *pStop)
{
    (void)szCheckpointFilePath;
    ENG_RETURN_IF(pStop && (pStop->cbStruct != sizeof *pStop || pStop->genStop > UINT32_MAX), JET_errInvalidParameter,
                  "the JET_RSTSTOP's cbStruct is not the size of the structure, or its genStop is not a generation");
    bool tlog = szTargetInstanceLogPath && *szTargetInstanceLogPath;
    bool tckpt = szTargetInstanceCheckpointPath && *szTargetInstanceCheckpointPath;
    bool tname = szTargetInstanceName && *szTargetInstanceName;
    /* ESE: the target's log and checkpoint paths come together, and a name excludes them. */
    ENG_RETURN_IF(tlog != tckpt || (tname && tlog), JET_errInvalidParameter,
                  "the target's log and checkpoint paths come together, and a target name excludes them");
    ENG_RETURN_IF(pLogInfo && pLogInfo->cbSize != sizeof *pLogInfo, JET_errInvalidParameter,
                  "the JET_LOGINFO's cbSize is not the size of the structure");
    uint32_t lo = pLogInfo ? (uint32_t)pLogInfo->ulGenLow : 0, hi = pLogInfo ? (uint32_t)pLogInfo->ulGenHigh : 0;
    char forward[ENG_PATH_MAX];
    forward[0] = 0;
    if (tname) {
        eng_inst *in;
        long err = imgr_pin_name(szTargetInstanceName, &in);
        if (!err) {
            pthread_mutex_lock(&in->mu);
            if (in->state != INST_RUNNING)
                err = JET_errBadRestoreTargetInstance;
            else
                snprintf(forward, sizeof forward, "%s", in->p.log_path);
            pthread_mutex_unlock(&in->mu);
            imgr_unpin(in);
        }
        ENG_RETURN_IF(err, JET_errBadRestoreTargetInstance,
                      "no running instance has the target instance name");
    } else if (tlog) {
        snprintf(forward, sizeof forward, "%s", szTargetInstanceLogPath);
    }
    return restore(szLogPath, rgrstmap, crstfilemap, szBackupLogPath, lo, hi, forward[0] ? forward : NULL, pfn, pStop);
}
