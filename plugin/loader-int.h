/*
 * loader-int.h — the writer's instance loader (plugin/, prefix wr_): turns a configuration
 * (conf.h) into running engine instances through the public JET API (jet.h) only.
 *
 * For each [instance NAME] of the configuration, in file order:
 *   JetCreateInstance2(name, display_name)
 *   JetSetSystemParameter: JET_paramSystemPath, JET_paramLogFilePath, JET_paramLogFileSize (KiB),
 *     JET_paramCircularLog, JET_paramCacheSizeMax (cache_size_mb converted to pages of the
 *     instance's JET_paramDatabasePageSize)
 *   JetInit (runs crash recovery when needed)
 *   JetBeginSession, JetAttachDatabase for every database, JetEndSession (the databases stay
 *     attached to the instance)
 * A missing database file is never created: JetAttachDatabase fails with JET_errFileNotFound and
 * the instance fails, so a typo in a path cannot produce a new empty database. Any failure fails
 * only that instance: it is terminated (JetTerm), reported through the log callback and recorded
 * in the result (step, JET_err, path, message); the other instances are loaded all the same.
 *
 * Library code never prints: every message goes to the caller's wr_log_fn.
 */
#ifndef JETSNAP_WR_LOADER_INT_H
#define JETSNAP_WR_LOADER_INT_H

#include <stddef.h>

#include "conf.h"
#include "jet.h"

/* Return codes of wr_load. */
#define WR_OK 0
#define WR_ENOMEM (-1) /* out of memory before anything was started */
#define WR_EARG (-2)   /* cfg or pres is NULL */

/* Log levels: syslog's numbers, so a host can pass them straight to the journal. */
enum wr_log_level {
    WR_LOG_ERR = 3,
    WR_LOG_WARNING = 4,
    WR_LOG_NOTICE = 5,
    WR_LOG_INFO = 6,
};

/* Event ids of the loader's messages (stable; documented for log filters). */
enum wr_event {
    WR_EV_INSTANCE_STARTED = 1001,     /* info: an instance runs, its databases attached */
    WR_EV_INSTANCE_FAILED = 1002,      /* error: an instance failed to start and was terminated */
    WR_EV_INSTANCE_STOPPED = 1003,     /* info: wr_unload terminated an instance */
    WR_EV_INSTANCE_STOP_FAILED = 1004, /* warning: JetTerm reported an error (the instance is gone) */
    WR_EV_MAX_INSTANCES = 1005,        /* warning: JET_paramMaxInstances could not be raised */
};

/* The log callback: level, the instance concerned (NULL for the process), event id and a
 * one-line message. The strings are valid only during the call. May be called from wr_load and
 * wr_unload only, in the caller's thread. */
typedef void wr_log_fn(void *ctx, enum wr_log_level level, const char *instance, enum wr_event event,
                       const char *message);

enum wr_instance_state {
    WR_INSTANCE_RUNNING = 0, /* initialized, databases attached; inst is valid */
    WR_INSTANCE_FAILED = 1,  /* failed at step; already terminated; inst is 0 */
};

/* One configured instance after wr_load. */
struct wr_instance {
    char *name;                   /* the instance name (copied from the configuration) */
    enum wr_instance_state state;
    JET_INSTANCE inst;            /* the engine instance while RUNNING, else 0 */
    size_t n_databases;           /* databases attached (all of them when RUNNING) */
    /* Why it failed (state FAILED); all NULL/0 when RUNNING: */
    const char *step;             /* static text: the call that failed, e.g. "JetAttachDatabase" */
    JET_ERR err;                  /* its JET_err */
    char *path;                   /* the file or directory concerned, or NULL */
    char *message;                /* the whole message, as sent to the log callback */
};

/* The outcome of wr_load: one entry per configured instance, in configuration order. */
struct wr_load_result {
    struct wr_instance *instances;
    size_t n;
    size_t n_running;
    size_t n_failed;
};

/* wr_load: start every instance of cfg as described at the top of this file.
 *   cfg      a valid configuration (from conf_load_file); only read, and not referenced after
 *            the call returns.
 *   log      the log callback, or NULL for silence; ctx is passed to it.
 *   pres     receives the result (free it with wr_unload), also when some or all instances
 *            failed: check n_failed, or the state of each entry.
 * Before the first instance, JET_paramMaxInstances is raised to the number of instances when
 * that is larger than its value (possible only while no instance exists in the process; otherwise
 * a WR_EV_MAX_INSTANCES warning, and instances beyond the limit fail with JET_errTooManyInstances).
 * Returns WR_OK (the result is written), WR_EARG (cfg or pres NULL), WR_ENOMEM (nothing was
 * started, nothing is written). Out of memory after instances started fails the instance being
 * loaded (err JET_errOutOfMemory) and continues. */
int wr_load(const struct conf_config *cfg, wr_log_fn *log, void *ctx, struct wr_load_result **pres);

/* wr_unload: JetTerm every instance wr_load left running (in reverse order; open transactions
 * of sessions the host opened are rolled back, databases are flushed and detached cleanly), log
 * WR_EV_INSTANCE_STOPPED (or _STOP_FAILED) for each, and free res. NULL does nothing. */
void wr_unload(struct wr_load_result *res, wr_log_fn *log, void *ctx);

/* wr_jet_err_name: the name of a JET_err/JET_wrn number of jet.h ("JET_errFileNotFound"), or NULL
 * for a number jet.h does not define; from the engine's table (JET_paramErrorToString). Static
 * string. */
const char *wr_jet_err_name(JET_ERR err);

#endif /* JETSNAP_WR_LOADER_INT_H */
