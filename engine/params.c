/*
 * params.c — the system parameters jetsnap knows: one table of id, type, default and bounds that
 * drives JetSetSystemParameter, JetGetSystemParameter and the defaults of a new instance.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "engine-int.h"

enum ptype { P_NUM, P_STR, P_BOOL };

struct pdef {
    unsigned long id;
    enum ptype type;
    bool global;          /* one value per process (ESE: set before the first instance) */
    bool running;         /* may change on a running instance */
    unsigned long min, max;
    size_t off;           /* offset in eng_params */
    size_t size;          /* string capacity */
};

#define NUM(id, g, r, lo, hi, field) {id, P_NUM, g, r, lo, hi, offsetof(eng_params, field), 0}
#define STR(id, field) {id, P_STR, false, false, 0, 0, offsetof(eng_params, field), sizeof(((eng_params *)0)->field)}

static const struct pdef defs[] = {
    STR(JET_paramSystemPath, system_path),
    STR(JET_paramTempPath, temp_path),
    STR(JET_paramLogFilePath, log_path),
    STR(JET_paramBaseName, base_name),
    NUM(JET_paramMaxSessions, false, false, 1, 30000, max_sessions),
    NUM(JET_paramLogFileSize, false, false, 64, 32768, log_file_kb),
    {JET_paramCircularLog, P_BOOL, false, true, 0, 1, offsetof(eng_params, circular_log), 0},
    NUM(JET_paramCacheSizeMax, false, true, 64, 1u << 24, cache_pages),
    {JET_paramRecovery, P_STR, false, false, 0, 0, offsetof(eng_params, recovery), 0},
    NUM(JET_paramDatabasePageSize, true, false, 4096, 32768, page_size),
    NUM(JET_paramOSSnapshotTimeout, false, true, 1, 0x7fffffff, ossnapshot_timeout_ms),
    NUM(JET_paramMaxInstances, true, false, 1, 1024, max_instances),
};

static const struct pdef *find(unsigned long id)
{
    for (size_t i = 0; i < sizeof defs / sizeof defs[0]; i++)
        if (defs[i].id == id)
            return &defs[i];
    return NULL;
}

void eng_params_default(eng_params *p)
{
    memset(p, 0, sizeof *p);
    strcpy(p->system_path, ".");
    strcpy(p->temp_path, ".");
    strcpy(p->log_path, ".");
    strcpy(p->base_name, "edb");
    p->log_file_kb = 5120;
    p->circular_log = 0;
    p->cache_pages = 8192;
    p->recovery = 1;
    p->page_size = 8192;
    p->ossnapshot_timeout_ms = 70000; /* ESE's code default (docs/jet-semantics.md, “Departures from ESE”) */
    p->max_instances = 16;
    p->max_sessions = 1024;
}

bool eng_param_known(unsigned long id) { return find(id) != NULL; }
bool eng_param_is_global(unsigned long id)
{
    const struct pdef *d = find(id);
    return d && d->global;
}
bool eng_param_settable_running(unsigned long id)
{
    const struct pdef *d = find(id);
    return d && d->running;
}

long eng_param_set(eng_params *p, unsigned long id, JET_API_PTR lparam, const char *sz)
{
    const struct pdef *d = find(id);
    ENG_RETURN_IF(!d, JET_errInvalidParameter, "no such system parameter id");
    char *base = (char *)p + d->off;
    if (id == JET_paramRecovery) {
        /* ESE takes "On"/"Off" (case-insensitive); anything else is refused here. */
        ENG_RETURN_IF(!sz, JET_errInvalidParameter, "JET_paramRecovery takes a string, none given");
        if (!strcasecmp(sz, "on"))
            p->recovery = 1;
        else if (!strcasecmp(sz, "off"))
            p->recovery = 0;
        else
            ENG_RETURN_IF(1, JET_errInvalidParameter, "JET_paramRecovery is \"On\" or \"Off\"");
        return JET_errSuccess;
    }
    switch (d->type) {
    case P_STR: {
        ENG_RETURN_IF(!sz || !*sz, JET_errInvalidParameter, "a string parameter needs a non-empty string");
        size_t n = strlen(sz);
        if (id == JET_paramBaseName)
            ENG_RETURN_IF(n != JET_BASE_NAME_LENGTH || strchr(sz, '/'), JET_errInvalidParameter,
                          "the base name is three characters, no '/'");
        ENG_RETURN_IF(n >= d->size, JET_errInvalidPath, "the path is longer than the engine stores");
        memcpy(base, sz, n + 1);
        return JET_errSuccess;
    }
    /* Numbers and booleans are stored atomically: the ones settable while an instance runs are
     * read by engine threads without the instance table lock (ENG_PARAM_LOAD). */
    case P_BOOL:
        __atomic_store_n((uint32_t *)base, lparam ? 1u : 0u, __ATOMIC_RELAXED);
        return JET_errSuccess;
    case P_NUM:
        ENG_RETURN_IF(lparam < d->min || lparam > d->max, JET_errInvalidParameter,
                      "the value is outside the parameter's range");
        if (id == JET_paramDatabasePageSize)
            ENG_RETURN_IF(lparam != 4096 && lparam != 8192 && lparam != 16384 && lparam != 32768,
                          JET_errInvalidParameter, "the page size is 4, 8, 16 or 32 KiB");
        __atomic_store_n((uint32_t *)base, (uint32_t)lparam, __ATOMIC_RELAXED);
        return JET_errSuccess;
    }
    return JET_errInvalidParameter;
}

long eng_param_get(const eng_params *p, unsigned long id, JET_API_PTR *pl, char *sz, unsigned long cbmax)
{
    const struct pdef *d = find(id);
    ENG_RETURN_IF(!d, JET_errInvalidParameter, "no such system parameter id");
    const char *base = (const char *)p + d->off;
    if (d->type == P_STR) {
        const char *v = id == JET_paramRecovery ? (p->recovery ? "On" : "Off") : base;
        ENG_RETURN_IF(!sz, JET_errInvalidParameter, "a string parameter needs a buffer");
        size_t n = strlen(v);
        ENG_RETURN_IF(n + 1 > cbmax, JET_errBufferTooSmall, "the buffer cannot hold the value and its NUL");
        memcpy(sz, v, n + 1);
        return JET_errSuccess;
    }
    ENG_RETURN_IF(!pl, JET_errInvalidParameter, "a number parameter needs somewhere to put it");
    *pl = *(const uint32_t *)base;
    return JET_errSuccess;
}
