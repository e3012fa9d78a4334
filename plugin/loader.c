/*
 * loader.c — start the instances of a configuration through the public JET API (see loader-int.h).
 */
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "loader-int.h"

const char *wr_jet_err_name(JET_ERR err)
{
    /* The engine's table (JET_paramErrorToString) gives "<name>, <description>" in a buffer; each
     * name is copied once into this cache, so that the caller gets a string that never changes, as
     * from a table of its own. jet.h defines far fewer numbers than the cache holds. */
    static struct {
        JET_ERR err;
        char name[64];
    } cache[512];
    static size_t n;
    static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
    const char *name = NULL;
    pthread_mutex_lock(&mu);
    for (size_t i = 0; i < n && !name; i++)
        if (cache[i].err == err)
            name = cache[i].name;
    char buf[512];
    JET_API_PTR l = (JET_API_PTR)err;
    if (!name && n < sizeof cache / sizeof cache[0] &&
        JetGetSystemParameter(0, 0, JET_paramErrorToString, &l, buf, sizeof buf) == JET_errSuccess &&
        !strncmp(buf, "JET_", 4)) { /* not "Unknown Error, Unknown Error" */
        size_t len = strcspn(buf, ",");
        if (len < sizeof cache[n].name) {
            memcpy(cache[n].name, buf, len);
            cache[n].name[len] = 0;
            cache[n].err = err;
            name = cache[n++].name;
        }
    }
    pthread_mutex_unlock(&mu);
    return name;
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
