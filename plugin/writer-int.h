/*
 * writer-int.h — the writer's state machine (plugin/, prefix wr_), shared by writer.c (open, close,
 * instances, status), session.c (prepare, freeze, thaw, backup-complete, abort, the freeze timer)
 * and plugin.c (the exported table of jetsnap-plugin.h, whose functions these are).
 *
 * Locking: one mutex, wr_writer.mu, guards everything below. It is held across the short engine
 * calls (JetOSSnapshotPrepare*, Thaw, End, Abort, TruncateLog) so that a thaw and the time-out can
 * never both act on one freeze, and released across JetOSSnapshotFreeze, which may wait on I/O:
 * status calls are answered while a freeze quiesces. Callbacks (log, event) are queued under the
 * mutex and delivered after it is released (wr_flush).
 *
 * Session life: prepared → freezing → frozen → thawed → completed, or aborted from any state, or
 * failed-at-freeze (freeze failed or took too long, the freeze time-out fired, or an instance was
 * terminated while frozen). An ended session is kept (the last WR_ENDED_KEEP of them) so that a late
 * thaw or a repeated abort gets the right answer.
 */
#ifndef JETSNAP_WR_WRITER_INT_H
#define JETSNAP_WR_WRITER_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "conf.h"
#include "jetsnap-plugin.h"
#include "loader-int.h"

#define WR_OWNER_MAX 255
/* Codes of the D-Bus side only (not in jetsnap-plugin.h): wr_error_name maps them. */
#define WR_E_ACCESS_DENIED (-101) /* org.freedesktop.DBus.Error.AccessDenied */
#define WR_E_LIMITS (-102)        /* org.freedesktop.DBus.Error.LimitsExceeded */
#define WR_ENDED_KEEP 16

enum wr_inst_state { WR_IS_RUNNING, WR_IS_QUIESCING, WR_IS_FROZEN, WR_IS_STOPPED, WR_IS_FAILED };

struct wr_inst {
    char *name;
    JET_INSTANCE inst; /* 0 when stopped or failed */
    enum wr_inst_state state;
    JET_ERR last_error;
    char message[256];
    uint64_t frozen_since; /* CLOCK_MONOTONIC µs, 0 if not frozen */
    uint32_t xb_session;   /* the streaming backup session holding it, 0 if none */
    uint32_t xb_trunc_gen; /* last generation of its last valid full or incremental streaming
                              backup through this writer: TruncateLogs' limit (0: none) */
};

/* One instance as it is now (wr_inst_get): a copy, so no lock is held while it is used. */
struct wr_inst_view {
    const char *state; /* wr_inst_state_name */
    JET_ERR last_error;
    char message[256];
    uint64_t frozen_since;
};

enum wr_sess_state {
    WR_SS_PREPARED,
    WR_SS_FREEZING,
    WR_SS_FROZEN,
    WR_SS_THAWED,
    WR_SS_COMPLETED,
    WR_SS_ABORTED,
    WR_SS_FAILED, /* "failed-at-freeze" */
};

enum wr_backup_type { WR_BT_FULL, WR_BT_INCREMENTAL, WR_BT_DIFFERENTIAL, WR_BT_COPY };

struct wr_session {
    struct jetsnap_writer *writer;
    uint32_t id;
    char owner[WR_OWNER_MAX + 1];
    enum wr_backup_type type;
    enum wr_sess_state state;
    JET_OSSNAPID snap;     /* the engine's session while it exists, else 0 */
    size_t *sel;           /* indices into wr_writer.inst */
    size_t n_sel;
    uint64_t frozen_at;    /* CLOCK_MONOTONIC µs */
    uint64_t frozen_usec;  /* how long the last freeze lasted, once thawed */
    uint64_t deadline;     /* freeze time-out, CLOCK_MONOTONIC µs */
    bool timed_out;        /* ended by the freeze or quiesce time-out: thaw answers Timeout */
    bool abandoned;        /* given up while freezing: the freezer thread undoes its freeze */
    bool freezer_done;     /* the freezer thread has finished JetOSSnapshotFreeze */
    bool orphan;           /* pushed out of the ended ring while its freezer ran: the freezer frees it */
    JET_ERR freezer_err;
    size_t missing;        /* 1 + index of a selected instance the engine's freeze did not include */
    char end_reason[64];   /* why it ended: "thaw", "timeout", "owner-vanished", ... */
};

/* An event or log line waiting for the mutex to be released. */
struct wr_queued {
    bool is_log;
    int priority, event_id;
    enum jetsnap_event_kind kind;
    uint32_t session;
    char instance[128];
    char old_state[32], new_state[32], reason[64];
    char message[512];
    struct jetsnap_result *results; /* owned, with its strings */
    size_t n_results;
};

struct jetsnap_writer {
    pthread_mutex_t mu;
    pthread_cond_t cv; /* CLOCK_MONOTONIC: the timer's deadline, freezer completion */
    struct conf_config *cfg;
    enum jetsnap_mode mode;
    struct wr_load_result *loaded; /* host mode */
    struct wr_inst *inst;
    size_t n_inst;
    jetsnap_log_fn *log;
    void *log_ctx;
    jetsnap_event_fn *event;
    void *event_ctx;

    struct wr_session *cur;                   /* the unfinished session, or NULL */
    struct wr_session *ended[WR_ENDED_KEEP];  /* ring of ended sessions, newest at ended_head-1 */
    size_t ended_head;
    uint32_t next_id;
    const char *agg_state; /* last reported writer state */
    bool last_failed;      /* the last session failed: State is "failed" until the next prepare */

    pthread_t timer;
    bool timer_started, stopping;
    int freezers; /* freezer threads still running */

    struct wr_queued *queue; /* grows as needed; handed over whole to the flushing thread */
    size_t n_queue, cap_queue;
    uint64_t ticket_next, ticket_serving; /* delivery order across threads (wr_unlock_flush) */

    struct wr_bus *bus;    /* the D-Bus side (bus-int.h), or NULL with JETSNAP_BUS_NONE */

    struct wr_xsess *xb;   /* streaming backup sessions (xbackup.c), newest first */
    bool xb_stopping;      /* closing: no new streaming backup */
};

/* writer.c */
int wr_open(const struct jetsnap_open_args *args, jetsnap_writer **pw, struct jetsnap_error *err);
void wr_close(jetsnap_writer *w);
int wr_status(jetsnap_writer *w, struct jetsnap_status **pst, struct jetsnap_error *err);
/* Instance i (an index into w->inst) as it is now: O(1), where wr_status copies every instance. */
void wr_inst_get(jetsnap_writer *w, size_t i, struct wr_inst_view *v);
void wr_status_free(struct jetsnap_status *st);
void wr_results_free(struct jetsnap_result *r, size_t n);
const char *wr_error_name(int code);
int wr_fail(struct jetsnap_error *err, int code, JET_ERR jet, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
uint64_t wr_now_usec(void);
const char *wr_inst_state_name(enum wr_inst_state s);
const char *wr_sess_state_name(enum wr_sess_state s);
/* Under mu: change an instance's state and queue its event; recompute and queue the writer state. */
void wr_set_inst_state(jetsnap_writer *w, struct wr_inst *in, enum wr_inst_state s);
void wr_update_agg(jetsnap_writer *w);
void wr_queue_log(jetsnap_writer *w, int priority, const char *instance, int event_id, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
void wr_queue_event(jetsnap_writer *w, enum jetsnap_event_kind kind, uint32_t session, const char *instance,
                    const char *old_state, const char *new_state, const char *reason,
                    struct jetsnap_result *results, size_t n_results);
/* Release mu and deliver what was queued (in order). */
void wr_unlock_flush(jetsnap_writer *w);

/* What the D-Bus side reads of a session (wr_session_get). Strings are copies or static. */
struct wr_session_view {
    uint32_t id;
    char owner[WR_OWNER_MAX + 1];
    const char *backup_type; /* "full", ... */
    const char *state;       /* wr_sess_state_name */
    bool ended;
    uint64_t frozen_usec;    /* how long it is (or was) frozen; 0 if never */
    const char **instances; /* malloc'd array (the caller frees it) of names valid for the writer's life */
    size_t n_instances;
};

/* bus.c: the D-Bus side (bus-int.h). wr_bus_start connects and exports the writer; wr_bus_stop
 * disconnects (before the writer's sessions end); wr_bus_event receives every queued event. */
int wr_bus_start(jetsnap_writer *w, const char *address, enum jetsnap_bus_loop loop, struct jetsnap_error *err);
void wr_bus_stop(jetsnap_writer *w);
void wr_bus_event(jetsnap_writer *w, const struct jetsnap_event *ev);
int wr_bus_fd(jetsnap_writer *w);
int wr_bus_dispatch(jetsnap_writer *w);
/* FileStreamFinished, from a producer thread (nothing without a bus). */
void wr_bus_stream_finished(jetsnap_writer *w, uint32_t session, uint32_t stream, bool ok, uint64_t bytes,
                            const char *error_name);

/* session.c */
/* A copy of what session id is now, current or kept after its end. JETSNAP_OK, UNKNOWN_SESSION or
 * NO_MEMORY. */
int wr_session_get(jetsnap_writer *w, uint32_t id, struct wr_session_view *v);
/* The ids of the current session (first, if any) and the kept ended ones; returns how many. */
size_t wr_session_ids(jetsnap_writer *w, uint32_t *ids, size_t max);
int wr_prepare(jetsnap_writer *w, const char *owner, const char *backup_type, const char *const *instances,
               size_t n, uint32_t *psession, struct jetsnap_error *err);
int wr_freeze(jetsnap_writer *w, const char *owner, uint32_t session, struct jetsnap_result **presults,
              size_t *pn, struct jetsnap_error *err);
int wr_thaw(jetsnap_writer *w, const char *owner, uint32_t session, struct jetsnap_result **presults, size_t *pn,
            uint64_t *pfrozen_usec, struct jetsnap_error *err);
int wr_backup_complete(jetsnap_writer *w, const char *owner, uint32_t session, int succeeded,
                       struct jetsnap_error *err);
int wr_abort(jetsnap_writer *w, const char *owner, uint32_t session, const char *reason,
             struct jetsnap_error *err);
int wr_release_owner(jetsnap_writer *w, const char *owner, const char *reason);
/* "full", ... to its enum: 0, or -1 for anything else. */
int wr_parse_backup_type(const char *t, enum wr_backup_type *pt);
/* Under mu: does the unfinished freeze session select instance i? */
bool wr_freeze_holds(jetsnap_writer *w, size_t i);
/* Under mu, for close: end the current session (thawing first), reason "shutdown". */
void wr_end_all(jetsnap_writer *w, const char *reason);
/* The timer thread: ends a freeze that outlives its deadline. */
void *wr_timer_main(void *arg);

/* xbackup.c: streaming backups (docs/writer.md, "Streaming backups"). One session per instance;
 * every call but the views needs the session's owner. Errors as wr_fail, with the D-Bus-only
 * WR_E_ACCESS_DENIED (a path outside the set) and WR_E_LIMITS (stream_max streams running). */
enum wr_xb_state { WR_XB_STREAMING, WR_XB_COMPLETED, WR_XB_FAILED, WR_XB_ABORTED };

struct wr_xfile {
    char *path;         /* as the engine names it */
    char name[256];     /* unique in the set */
    bool is_log;
    uint32_t gen;       /* logs */
    uint64_t size;      /* stream bytes; exact for logs, and for a database once opened */
    bool size_exact;
    uint64_t mtime_usec;
    uint32_t mode;
    bool opened;        /* a stream of it was started (a database can be read once per backup) */
    bool streamed;      /* read to its end by a stream that succeeded */
};

struct wr_xstream {
    uint32_t id;
    struct wr_xsess *s;
    size_t file;        /* index into s->files */
    JET_HANDLE h;
    int wfd;            /* the producer's end; -1 once closed (under mu) */
    bool zstd;
    int level;
    unsigned workers;
    void *z;            /* ZSTD_CCtx */
    uint64_t expected;  /* uncompressed bytes, from JetOpenFileInstance */
    atomic_bool cancel; /* cut by EndBackup(false), the owner leaving, or close */
    bool done, joined;  /* under mu / the ending thread */
    pthread_t thread;
    _Atomic uint64_t bytes_read, bytes_written;
    uint32_t crc;       /* CRC-32C of the uncompressed bytes, once done */
    char error_name[64];
};

struct wr_xsess {
    jetsnap_writer *w;
    uint32_t id;
    char owner[WR_OWNER_MAX + 1];
    size_t inst;        /* index into w->inst */
    enum wr_backup_type type;
    enum wr_xb_state state;
    unsigned refs;      /* the list's reference plus one per call using it (under mu) */
    pthread_mutex_t op; /* one control call at a time; taken before mu */
    struct wr_xfile *files;
    size_t n_files;
    bool range_fixed;
    uint32_t gen_low, gen_high;
    char log_base[16];
    uint32_t page_size;
    struct wr_xstream **streams;
    size_t n_streams, cap_streams;
    unsigned running;
    uint32_t last_stream;
    uint64_t start_usec, stop_usec; /* CLOCK_REALTIME */
    char label[256];
    JET_ERR end_err;
    char end_reason[64];
    struct wr_xsess *next;
};

struct wr_xb_start {
    uint64_t start_usec;
    uint32_t page_size;
    char log_base[16];
    const char *backup_type;
};

/* One file as ListFiles and GetLogInfo give it (a copy; wr_xb_files_free). */
struct wr_xb_file {
    char *path;
    char name[256];
    const char *kind; /* "data" or "log" */
    uint64_t size, mtime_usec;
    uint32_t mode, gen;
    bool streamed, size_exact;
};

struct wr_xb_log_info {
    uint32_t gen_low, gen_high;
    char log_base[16];
    struct wr_xb_file *files; /* the whole set (the caller picks the logs) */
    size_t n_files;
};

struct wr_xb_open_opts {
    const char *compression; /* NULL: the config's */
    bool has_level, has_workers;
    int level;
    unsigned workers;
};

struct wr_xb_open_info {
    uint32_t stream_id;
    char name[256];
    const char *kind;
    uint64_t expected;
    bool zstd;
    int level;
};

struct wr_xb_result {
    bool complete;
    uint64_t bytes_read, bytes_written;
    char checksum[32];
    char error_name[64];
};

struct wr_xb_stop {
    bool valid;
    char error_name[64];
    char message[256];
    const char *recorded_as, *backup_type, *instance;
    uint32_t gen_low, gen_high;
    uint64_t start_usec, stop_usec;
    char label[256];
};

const char *wr_xb_state_name(enum wr_xb_state s);
int wr_xb_begin(jetsnap_writer *w, const char *owner, const char *instance, const char *type, const char *label,
                uint32_t *psession, struct wr_xb_start *info, struct jetsnap_error *err);
/* The set as it is now: the databases, and the logs once the range is fixed (which this call does
 * when no database is left to stream). */
int wr_xb_list(jetsnap_writer *w, const char *owner, uint32_t id, struct wr_xb_file **pf, size_t *pn,
               struct jetsnap_error *err);
void wr_xb_files_free(struct wr_xb_file *f, size_t n);
int wr_xb_log_info(jetsnap_writer *w, const char *owner, uint32_t id, struct wr_xb_log_info *li,
                   struct jetsnap_error *err);
/* Start a stream of path (path_len bytes, from the caller's ay); *pfd gets the read end, which
 * the caller owns. */
int wr_xb_open(jetsnap_writer *w, const char *owner, uint32_t id, const char *path, size_t path_len,
               const struct wr_xb_open_opts *o, int *pfd, struct wr_xb_open_info *info, struct jetsnap_error *err);
int wr_xb_result(jetsnap_writer *w, const char *owner, uint32_t id, uint32_t stream, struct wr_xb_result *r,
                 struct jetsnap_error *err);
/* End the backup (again: the stop info of the first end). */
int wr_xb_end(jetsnap_writer *w, const char *owner, uint32_t id, bool success, struct wr_xb_stop *stop,
              struct jetsnap_error *err);
/* Delete the logs the instance's last valid full or incremental streaming backup made unnecessary,
 * up to generation up_to (0: as far as it allows); *pfirst gets the first generation kept. */
int wr_xb_truncate(jetsnap_writer *w, const char *instance, uint32_t up_to, uint32_t *pfirst,
                   struct jetsnap_error *err);
void wr_xb_release_owner(jetsnap_writer *w, const char *owner, const char *reason);
void wr_xb_close_all(jetsnap_writer *w);
void wr_xb_free_all(jetsnap_writer *w);
/* Under mu: the session view of streaming session id (v->instances has room for one); false if
 * there is none. */
bool wr_xb_view(jetsnap_writer *w, uint32_t id, struct wr_session_view *v);
/* Under mu: streaming session ids, live ones first. */
size_t wr_xb_ids(jetsnap_writer *w, uint32_t *ids, size_t max);

/* Event ids of the writer's log lines (stable; docs/writer.md, "Events"); the loader's are 1001-1005. */
enum wr_writer_event {
    WR_EV_SESSION_PREPARED = 1101,
    WR_EV_FROZEN = 1102,
    WR_EV_FREEZE_FAILED = 1103,
    WR_EV_THAWED = 1104,
    WR_EV_AUTO_THAWED = 1105,
    WR_EV_COMPLETED = 1106,
    WR_EV_ABORTED = 1107,
    WR_EV_THAW_FAILED = 1108,
    WR_EV_ADOPT_MISSING = 1109,
    WR_EV_BUS = 1110, /* the bus connection: serving, lost, reconnected, name lost, allow_users */
    WR_EV_STREAM_BEGIN = 1111,
    WR_EV_STREAM_END = 1112,
    WR_EV_STREAM_FAILED = 1113,
    WR_EV_TRUNCATED = 1114,
};

#endif /* JETSNAP_WR_WRITER_INT_H */
