/*
 * jetsnap-plugin.h — the C ABI of jetsnap-writer.so, the writer that makes a process's jetsnap
 * instances good citizens of a VSS-style snapshot framework (docs/writer.md).
 *
 * Who calls it:
 *  - an application that embeds libjet loads the plugin with its ini file and either lets the
 *    writer start the configured instances (host mode) or lets it take instances the application
 *    already runs, found by name (adopt mode). The application keeps using libjet directly;
 *  - a snapshot coordinator that loads the plugin in its own process and drives the same state
 *    machine the D-Bus interface drives (prepare, freeze, thaw, backup-complete, abort);
 *  - jetsnapd, the small host, exactly as any third-party host would.
 *
 * The plugin exports one symbol, jetsnap_plugin_v1 (type jetsnap_plugin_entry_fn): it returns a
 * table of functions. The table only grows: a host checks abi_version and struct_size before using
 * a member that a later minor version added (members are only ever appended).
 *
 *     void *so = dlopen("jetsnap-writer.so", RTLD_NOW | RTLD_LOCAL);
 *     void *sym = dlsym(so, JETSNAP_PLUGIN_ENTRY);
 *     jetsnap_plugin_entry_fn *entry;
 *     memcpy(&entry, &sym, sizeof entry);   // ISO C: no cast from object to function pointer
 *     const struct jetsnap_plugin *p = entry(JETSNAP_PLUGIN_ABI_VERSION);
 *
 * One freeze session at a time per writer, owned by one owner (a D-Bus unique name, or any string
 * an in-process coordinator chooses). A freeze always ends: by thaw; by the freeze time-out (the
 * config's freeze_timeout_ms; a late thaw then fails with JETSNAP_E_TIMEOUT, so the coordinator
 * discards its snapshot); or at once when the owner is released (jetsnap_plugin.release_owner; on
 * D-Bus, when the owner's connection vanishes). The writer never writes to a filesystem it froze:
 * its messages go to the log callback only.
 *
 * Conventions: functions return JETSNAP_OK (0) or a negative JETSNAP_E_* code and fill the caller's
 * struct jetsnap_error (when not NULL) with the code, the JET_err behind it (0 if none) and a
 * message that starts with that JET_err's name and number when there is one. Out-parameters are
 * written only on success. Everything the plugin returns is freed with the matching free function
 * of the table. All functions are thread-safe; the callbacks are called without the writer's
 * locks held, from the calling thread or from the writer's timer thread.
 */
#ifndef JETSNAP_PLUGIN_H
#define JETSNAP_PLUGIN_H

#include <stddef.h>
#include <stdint.h>

#include "jet.h"

#ifdef __cplusplus
extern "C" {
#endif

#define JETSNAP_PLUGIN_ABI_VERSION 1u
#define JETSNAP_PLUGIN_ENTRY "jetsnap_plugin_v1"

/* Result codes. Each maps to one D-Bus error name, org.jetsnap.Writer1.Error.<Name> unless said. */
#define JETSNAP_OK 0
#define JETSNAP_E_BUSY (-1)             /* Busy: another owner holds a session; message names it */
#define JETSNAP_E_TIMEOUT (-2)          /* Timeout: quiesce or freeze time-out; discard the snapshot */
#define JETSNAP_E_RETRYABLE (-3)        /* Retryable: the set could not be frozen now; try later */
#define JETSNAP_E_NONRETRYABLE (-4)     /* NonRetryable: an error that a retry will not cure */
#define JETSNAP_E_INVALID_STATE (-5)    /* InvalidState: a call out of sequence, or not the owner's */
#define JETSNAP_E_UNKNOWN_SESSION (-6)  /* UnknownSession */
#define JETSNAP_E_UNKNOWN_INSTANCE (-7) /* UnknownInstance */
#define JETSNAP_E_NOT_SUPPORTED (-8)    /* NotSupported: e.g. an unknown backup type */
#define JETSNAP_E_INVALID_ARGS (-9)     /* org.freedesktop.DBus.Error.InvalidArgs */
#define JETSNAP_E_NO_MEMORY (-10)       /* org.freedesktop.DBus.Error.NoMemory */
#define JETSNAP_E_CONFIG (-11)          /* the configuration file has errors (message: FILE:LINE) */
#define JETSNAP_E_MODE (-12)            /* an instance-mode conflict (JET_errRunningIn*InstanceMode) */
#define JETSNAP_E_BUS (-13)             /* the bus could not be reached, or another process owns the
                                           writer's bus name (open only) */

/* Log priorities: syslog's numbers, so a host can hand them to the journal unchanged. */
#define JETSNAP_LOG_ERR 3
#define JETSNAP_LOG_WARNING 4
#define JETSNAP_LOG_NOTICE 5
#define JETSNAP_LOG_INFO 6

typedef struct jetsnap_writer jetsnap_writer; /* opaque */

/* The error of a failed call. message is NUL-terminated, UTF-8, at most 511 bytes. */
struct jetsnap_error {
    int code;        /* the JETSNAP_E_* returned */
    JET_ERR jet_err; /* the engine's error behind it, or 0 */
    char message[512];
};

/* The log callback: priority (JETSNAP_LOG_*), the instance concerned or NULL, a stable event id
 * (docs/writer.md, "Events") and a one-line message. Strings are valid during the call only. */
typedef void jetsnap_log_fn(void *ctx, int priority, const char *instance, int event, const char *message);

/* (instance name, state, message): one instance's outcome of a freeze or thaw. */
struct jetsnap_result {
    const char *instance;
    const char *state;   /* the instance's state after the call: "frozen", "running", ... */
    const char *message; /* "" on success; otherwise what went wrong, JET_err name first */
};

/* What the writer tells an in-process coordinator (and the D-Bus layer turns into signals). */
enum jetsnap_event_kind {
    JETSNAP_EVENT_SESSION_STATE = 1,   /* session, old_state, new_state */
    JETSNAP_EVENT_AUTO_THAWED = 2,     /* session, reason ("timeout", "owner-vanished", "shutdown"),
                                          results */
    JETSNAP_EVENT_INSTANCE_STATE = 3,  /* instance, old_state, new_state */
    JETSNAP_EVENT_WRITER_STATE = 4,    /* old_state, new_state (the writer's aggregate State) */
};
struct jetsnap_event {
    enum jetsnap_event_kind kind;
    uint32_t session;  /* the session id, or 0 */
    const char *instance;
    const char *old_state;
    const char *new_state;
    const char *reason;
    const struct jetsnap_result *results;
    size_t n_results;
};
typedef void jetsnap_event_fn(void *ctx, const struct jetsnap_event *ev);

enum jetsnap_mode {
    JETSNAP_MODE_HOST = 0,  /* the writer starts the configured instances and terminates them on close */
    JETSNAP_MODE_ADOPT = 1, /* the writer takes running instances of the configured names; the
                               application keeps them (close leaves them running, thawed) */
};

/* Where the writer's D-Bus connection runs. */
enum jetsnap_bus_loop {
    JETSNAP_BUS_THREAD = 0, /* on a thread of the writer's own */
    JETSNAP_BUS_HOST = 1,   /* on the host's main loop: it polls bus_fd and calls bus_dispatch */
    JETSNAP_BUS_NONE = 2,   /* no D-Bus at all: the process coordinates in-process only */
};

struct jetsnap_open_args {
    uint32_t struct_size;        /* sizeof(struct jetsnap_open_args) */
    const char *config_path;     /* the ini file (docs/jetsnap.conf.5) */
    enum jetsnap_mode mode;
    jetsnap_log_fn *log;         /* or NULL */
    void *log_ctx;
    jetsnap_event_fn *event;     /* or NULL */
    void *event_ctx;
    /* NULL: the config's "bus" key. Otherwise "system", "session" or a D-Bus address
     * ("unix:path=/run/x"), which overrides the key (jetsnapd --address, tests). */
    const char *bus_address;
    enum jetsnap_bus_loop bus_loop;
};

/* One instance as the writer sees it (list_instances). */
struct jetsnap_instance {
    const char *name;
    JET_INSTANCE instance; /* the engine handle while the instance runs, else 0 */
    const char *state;     /* "running", "quiescing", "frozen", "stopped", "failed" */
    JET_ERR last_error;    /* 0, or the last error seen on this instance */
    const char *message;   /* "" or what went wrong last */
    uint64_t frozen_since_usec; /* CLOCK_MONOTONIC µs at freeze, 0 if not frozen */
};

/* GetStatus: the writer's aggregate state and its current (or last) session. */
struct jetsnap_status {
    const char *state;        /* "stable", "preparing", "frozen", "thawing", "failed" */
    uint32_t session;         /* the current session, or 0 */
    const char *session_state; /* "prepared", "freezing", "frozen", "thawed", "" when none */
    const char *owner;        /* the current session's owner, or "" */
    const char *backup_type;  /* "full", "incremental", "differential", "copy", or "" */
    uint64_t frozen_usec;     /* how long the current freeze has lasted, 0 if not frozen */
    struct jetsnap_instance *instances;
    size_t n_instances;
};

struct jetsnap_plugin {
    uint32_t abi_version; /* JETSNAP_PLUGIN_ABI_VERSION of the plugin */
    uint32_t struct_size; /* sizeof(struct jetsnap_plugin) of the plugin */

    /* open: read the configuration and start (host) or find (adopt) its instances. In host mode an
     * instance that fails to start is listed as "failed" with its error and the writer opens all the
     * same; it fails only when no instance runs. In adopt mode an instance not running is "stopped".
     * Errors: INVALID_ARGS (NULL or short args), CONFIG (the file has errors; the message is the
     *   first "FILE:LINE: problem", the log callback gets every one), MODE (the process is in
     *   legacy one-instance mode: JET_errRunningInOneInstanceMode), NONRETRYABLE (no instance could
     *   be started or found; the message says why for the first), BUS (the bus cannot be
     *   reached, or another process owns the bus name; a connection lost later is re-made with
     *   back-off, after thawing whatever was frozen), NO_MEMORY.
     * Without bus_loop JETSNAP_BUS_NONE the writer exports its instances on D-Bus
     * (docs/writer.md, "D-Bus interface") under the config's bus_name. */
    int (*open)(const struct jetsnap_open_args *args, jetsnap_writer **pw, struct jetsnap_error *err);

    /* close: abort every session (thawing first, AutoThawed reason "shutdown"), stop the timer, and in
     * host mode terminate the instances cleanly. NULL is a no-op. */
    void (*close)(jetsnap_writer *w);

    /* status: a snapshot of the writer's state; free it with status_free. Errors: INVALID_ARGS,
     * NO_MEMORY. */
    int (*status)(jetsnap_writer *w, struct jetsnap_status **pst, struct jetsnap_error *err);
    void (*status_free)(struct jetsnap_status *st);

    /* prepare: start a session for owner (non-empty, ≤ 255 bytes) of backup_type ("full",
     * "incremental", "differential", "copy") over the named instances (n == 0: every running
     * instance). The instances join an engine snapshot session (JetOSSnapshotPrepare with
     * JET_bitExplicitPrepare and the type's grbits) at once, so one that cannot be frozen now is
     * named here. *psession gets the session id (never 0).
     * Errors: INVALID_ARGS, BUSY (another owner's session exists: the message names the owner),
     *   INVALID_STATE (this owner already has an unfinished session), NOT_SUPPORTED (type),
     *   UNKNOWN_INSTANCE (a name not in the configuration), RETRYABLE (an instance is not running,
     *   or is in a streaming backup or another snapshot: JET_errOSSnapshotNotAllowed), NO_MEMORY. */
    int (*prepare)(jetsnap_writer *w, const char *owner, const char *backup_type, const char *const *instances,
                   size_t n, uint32_t *psession, struct jetsnap_error *err);

    /* freeze: freeze every instance of the session, all or none (JetOSSnapshotFreeze), waiting at
     * most the config's quiesce_timeout_ms. On success the freeze time-out starts; *presults gets one
     * result per instance (free with results_free). On failure nothing stays frozen, the session
     * ends as "failed-at-freeze", and the error message names the instance results.
     * Errors: UNKNOWN_SESSION, INVALID_STATE (not prepared, or not the owner's), TIMEOUT (quiescing
     *   took too long: whatever froze meanwhile is thawed), RETRYABLE (JET_errOSSnapshotNotAllowed
     *   and other transient engine errors), NONRETRYABLE (other engine errors), NO_MEMORY. */
    int (*freeze)(jetsnap_writer *w, const char *owner, uint32_t session, struct jetsnap_result **presults,
                  size_t *pn, struct jetsnap_error *err);

    /* thaw: end the freeze (JetOSSnapshotThaw); every instance is tried. *pfrozen_usec gets how long
     * it was frozen. A thaw of the owner's session that is already thawed succeeds again (a harmless
     * no-op; the results say "running").
     * Errors: UNKNOWN_SESSION, INVALID_STATE (not frozen yet, or not the owner's), TIMEOUT (the freeze
     *   had already ended by its time-out, or an instance was terminated meanwhile: discard the
     *   snapshot), NONRETRYABLE. */
    int (*thaw)(jetsnap_writer *w, const char *owner, uint32_t session, struct jetsnap_result **presults,
                size_t *pn, uint64_t *pfrozen_usec, struct jetsnap_error *err);

    /* backup_complete: end a thawed session. With succeeded, the snapshot is recorded in every database
     * (JetOSSnapshotEnd) and, after a full or incremental backup only, the logs it made unnecessary
     * are truncated (JetOSSnapshotTruncateLog); never after a copy or differential. Without it,
     * nothing is recorded or truncated.
     * Errors: UNKNOWN_SESSION, INVALID_STATE (not thawed, or not the owner's), TIMEOUT (the freeze
     *   timed out: nothing to complete), NONRETRYABLE (the engine refused; the session is ended). */
    int (*backup_complete)(jetsnap_writer *w, const char *owner, uint32_t session, int succeeded,
                           struct jetsnap_error *err);

    /* abort: end the session from any state, thawing first if frozen; nothing is recorded or
     * truncated. Idempotent: an ended session of this owner gives JETSNAP_OK again.
     * Errors: UNKNOWN_SESSION, INVALID_STATE (not the owner's). */
    int (*abort)(jetsnap_writer *w, const char *owner, uint32_t session, const char *reason,
                 struct jetsnap_error *err);

    /* release_owner: the owner is gone (its process or connection ended). Its session is aborted at
     * once; if it was frozen the instances are thawed and AutoThawed(reason) is reported. reason is
     * "owner-vanished" for D-Bus; an in-process coordinator may pass its own. Always JETSNAP_OK. */
    int (*release_owner)(jetsnap_writer *w, const char *owner, const char *reason);

    void (*results_free)(struct jetsnap_result *results, size_t n);

    /* error_name: the D-Bus error name of a JETSNAP_E_* code ("org.jetsnap.Writer1.Error.Busy"),
     * or NULL for JETSNAP_OK and unknown codes. Static string. */
    const char *(*error_name)(int code);

    /* bus_fd: with JETSNAP_BUS_HOST, a descriptor the host's loop polls for POLLIN (it never reads,
     * writes or closes it); -1 in the other modes. Valid until close. */
    int (*bus_fd)(jetsnap_writer *w);

    /* bus_dispatch: with JETSNAP_BUS_HOST, do the pending bus work without blocking (read,
     * dispatch, write, reconnect after a lost connection) and return in how many milliseconds it
     * wants to be called again if bus_fd stays quiet (-1: only when bus_fd is readable). Call it
     * when bus_fd is readable or that time has passed, from one thread at a time. Calls that take
     * long (a freeze quiescing) run on the writer's worker threads, never in bus_dispatch. In the
     * other modes it returns -1 and does nothing. */
    int (*bus_dispatch)(jetsnap_writer *w);
};

typedef const struct jetsnap_plugin *jetsnap_plugin_entry_fn(uint32_t abi_version);

/* The entry point: the table, or NULL when abi_version is newer than the plugin's major version. */
const struct jetsnap_plugin *jetsnap_plugin_v1(uint32_t abi_version);

#ifdef __cplusplus
}
#endif

#endif /* JETSNAP_PLUGIN_H */
