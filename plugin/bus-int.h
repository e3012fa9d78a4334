/*
 * bus-int.h — the writer on D-Bus (plugin/, prefix wr_bus_): the objects and interfaces of
 * org.jetsnap.Writer1.xml over a private libdbus-1 connection (docs/writer.md, "D-Bus interface").
 *
 * Files: bus.c (start, stop, connecting and reconnecting, the bus's own signals: the owner's
 * connection vanishing, our connection lost), bus-loop.c (an epoll loop over libdbus's watches and
 * timeouts, on the writer's thread or the host's), bus-objects.c (the object tree: routing,
 * Introspect, Properties, ObjectManager, the read-only methods), bus-calls.c (the state-changing
 * methods on worker threads: caller's uid, arguments, the state machine, owner tracking),
 * bus-signals.c (the writer's events as signals), bus-msg.c (small message helpers).
 *
 * Threads: exactly one thread reads and dispatches the connection (the loop: the writer's own
 * thread, or the host in bus_dispatch). Handlers on it never block on anything but the writer's
 * mutex, which is only held for short calls: whatever may wait (a freeze quiescing, asking the bus
 * for a caller's uid) is queued to the workers, which send their replies themselves (libdbus
 * connections may be used from any thread; sending wakes the loop to write).
 *
 * Locking: cmu guards the connection pointer (replaced on reconnect; users take a reference under
 * it), wmu the watch and timeout lists, jmu the job queue, omu the owners and the uid cache. None is
 * held while calling into libdbus or the writer, except cmu around dbus_connection_ref. Order when
 * nested: the writer's mu is never taken under any of them.
 */
#ifndef JETSNAP_WR_BUS_INT_H
#define JETSNAP_WR_BUS_INT_H

#include <dbus/dbus.h>
#include <stdatomic.h>
#include <sys/types.h>

#include "writer-int.h"

#define WR_BUS_ROOT "/org/jetsnap/Writer1"
#define WR_BUS_INSTANCES WR_BUS_ROOT "/instance"
#define WR_BUS_SESSIONS WR_BUS_ROOT "/session"
#define WR_BUS_IFACE_WRITER "org.jetsnap.Writer1.Writer"
#define WR_BUS_IFACE_INSTANCE "org.jetsnap.Writer1.Instance"
#define WR_BUS_IFACE_SESSION "org.jetsnap.Writer1.Session"
#define WR_BUS_IFACE_BACKUP "org.jetsnap.Writer1.ExternalBackup"
#define WR_BUS_IFACE_PROPS "org.freedesktop.DBus.Properties"
#define WR_BUS_IFACE_INTRO "org.freedesktop.DBus.Introspectable"
#define WR_BUS_IFACE_OM "org.freedesktop.DBus.ObjectManager"
/* The interface's minor version (property InterfaceVersion): bumped by compatible additions. */
#define WR_BUS_IFACE_VERSION 1u
/* The writer class's identity, VSS's writer id: the same for every jetsnap writer. */
#define WR_BUS_WRITER_ID "3c8f6a52-5e1b-4d7a-9b21-6a6574736e61"

#define WR_BUS_WORKERS 4      /* state-changing calls served at once */
#define WR_BUS_JOBS_MAX 256   /* queued beyond that: LimitsExceeded */
#define WR_BUS_UID_CACHE 64   /* callers whose uid is remembered (unique names are never reused) */
#define WR_BUS_NAMES_MAX 4096 /* instance names in one call */
#define WR_BUS_BACKOFF_MIN_MS 100
#define WR_BUS_BACKOFF_MAX_MS 5000

struct wr_bus_timeout {
    DBusTimeout *t;
    uint64_t due; /* CLOCK_MONOTONIC µs; only meaningful while enabled */
};

struct wr_bus_job {
    DBusConnection *conn; /* referenced: the connection the call came on */
    DBusMessage *msg;     /* referenced */
    struct wr_bus_job *next;
};

struct wr_bus_uid {
    char name[256];
    uid_t uid;
};

struct wr_bus {
    jetsnap_writer *w;
    enum jetsnap_bus_loop loop;
    char *address;   /* "system", "session" or a D-Bus address */
    const char *name; /* the well-known name (the config's bus_name) */

    pthread_mutex_t cmu;
    DBusConnection *conn; /* NULL while disconnected */
    bool lost;            /* set by the Disconnected signal, acted on by the loop */
    uint64_t reconnect_at; /* CLOCK_MONOTONIC µs, while disconnected */
    unsigned backoff_ms;

    int epfd, wakefd;
    pthread_mutex_t wmu;
    DBusWatch **watches;
    size_t n_watches, cap_watches;
    struct wr_bus_timeout *timeouts;
    size_t n_timeouts, cap_timeouts;

    pthread_t thread;
    bool thread_started;
    atomic_bool stop;

    pthread_mutex_t jmu;
    pthread_cond_t jcv;
    struct wr_bus_job *head, *tail;
    size_t n_jobs;
    bool jstop;
    pthread_t workers[WR_BUS_WORKERS];
    int n_workers;

    uid_t *allowed; /* allow_users resolved at start */
    size_t n_allowed;
    char *allowed_text; /* as configured, for messages */

    pthread_mutex_t omu;
    char **owners; /* unique names with a NameOwnerChanged match installed */
    size_t n_owners, cap_owners;
    struct wr_bus_uid uids[WR_BUS_UID_CACHE];
    size_t uid_next;
};

/* bus.c */
/* A referenced connection to send on, or NULL while disconnected. Unref it when done. */
DBusConnection *wr_bus_conn(struct wr_bus *b);
/* The loop found the connection lost, or it is time to retry: act on it (loop thread only). */
void wr_bus_maintain(struct wr_bus *b);
/* The filter for the bus's signals: NameOwnerChanged of an owner, NameLost, Disconnected. */
DBusHandlerResult wr_bus_filter(DBusConnection *c, DBusMessage *m, void *data);
/* Stop tracking owner (its session ended by itself or it vanished). */
void wr_bus_forget_owner(struct wr_bus *b, DBusConnection *c, const char *owner);
void wr_bus_log(struct wr_bus *b, int priority, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* bus-loop.c */
int wr_bus_loop_init(struct wr_bus *b);
void wr_bus_loop_free(struct wr_bus *b);
/* Give the connection to the loop (watch, timeout, wake-up and dispatch-status functions). */
bool wr_bus_loop_attach(struct wr_bus *b, DBusConnection *c);
void wr_bus_loop_detach(struct wr_bus *b, DBusConnection *c);
/* One pass: wait at most timeout_ms (0: not at all) for activity, handle it, dispatch. */
void wr_bus_loop_iterate(struct wr_bus *b, int timeout_ms);
/* Milliseconds until a timeout or a reconnect is due; -1 if none. */
int wr_bus_loop_next_ms(struct wr_bus *b);
void wr_bus_loop_wake(struct wr_bus *b);
void *wr_bus_loop_main(void *arg);

/* bus-objects.c: the handler of every method call on the connection (registered as the fallback
 * of "/"). State-changing calls are handed to wr_bus_job_queue. */
DBusHandlerResult wr_bus_handle(DBusConnection *c, DBusMessage *m, void *data);
/* Escape an instance name into one object path element (_XX for every byte not [A-Za-z0-9]). */
void wr_bus_escape(const char *name, char *out, size_t n);
/* Append the properties of an interface at path as a{sv}; false if there is no such object. */
bool wr_bus_append_props(struct wr_bus *b, const char *path, const char *iface, DBusMessageIter *it);

/* bus-calls.c */
int wr_bus_workers_start(struct wr_bus *b);
void wr_bus_workers_stop(struct wr_bus *b);
/* Queue a state-changing call; false (and an error reply sent) when the queue is full. */
bool wr_bus_job_queue(struct wr_bus *b, DBusConnection *c, DBusMessage *m);
int wr_bus_resolve_users(struct wr_bus *b, struct jetsnap_error *err);
/* Watch owner's connection so that its sessions end when it leaves the bus (after a call that
 * gave it a session succeeded). */
void wr_bus_track_owner(struct wr_bus *b, DBusConnection *c, const char *owner);
void wr_bus_reply_failure(DBusConnection *c, DBusMessage *m, const struct jetsnap_error *e);
/* The session path argument at it (advanced past it); 0, with UnknownSession sent, if it names no
 * session of this writer. */
uint32_t wr_bus_session_arg(DBusConnection *c, DBusMessage *m, DBusMessageIter *it);

/* bus-backup.c: org.jetsnap.Writer1.ExternalBackup. wr_bus_backup_call serves a queued call (on
 * a worker); GetFileResult, which never waits, is answered on the loop by wr_bus_backup_result. */
void wr_bus_backup_call(struct wr_bus *b, DBusConnection *c, DBusMessage *m);
/* Is member a method of ExternalBackup? *psig (optional) gets its input signature. */
bool wr_bus_backup_member(const char *member, const char **psig);
void wr_bus_backup_result(struct wr_bus *b, DBusConnection *c, DBusMessage *m);

/* bus-msg.c */
/* Reply with error name and a message made valid UTF-8 (libdbus aborts on invalid UTF-8). */
void wr_bus_reply_error(DBusConnection *c, DBusMessage *m, const char *name, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
void wr_bus_send(DBusConnection *c, DBusMessage *reply);
/* The writer's events delivered on this thread between begin and end become signals only at
 * end: a worker replies first, then tells everyone else. At 64 instances a Freeze makes 131
 * signals, and building and sending them before the reply tripled the coordinator's Freeze
 * round trip (bench-writer). */
struct wr_bus_deferred {
    struct jetsnap_event *ev; /* copies (strings and results in one block each, see bus-signals.c) */
    size_t n, cap;
};
void wr_bus_defer_begin(struct wr_bus_deferred *d);
void wr_bus_defer_end(jetsnap_writer *w, struct wr_bus_deferred *d);
/* Send reply to m if ok (building it succeeded); otherwise drop it and answer NoMemory. */
void wr_bus_reply(DBusConnection *c, DBusMessage *m, DBusMessage *reply, bool ok);
/* Append a string, replacing it with a valid UTF-8 copy if needed. */
bool wr_bus_append_str(DBusMessageIter *it, const char *s);
bool wr_bus_append_results(DBusMessageIter *it, const struct jetsnap_result *r, size_t n);
/* a{sv} entries */
bool wr_bus_dict_str(DBusMessageIter *dict, const char *key, const char *val);
bool wr_bus_dict_u32(DBusMessageIter *dict, const char *key, uint32_t val);
bool wr_bus_dict_u64(DBusMessageIter *dict, const char *key, uint64_t val);
bool wr_bus_dict_path(DBusMessageIter *dict, const char *key, const char *path);
bool wr_bus_dict_bytes(DBusMessageIter *dict, const char *key, const char *bytes);
bool wr_bus_dict_strv(DBusMessageIter *dict, const char *key, const char *const *v, size_t n);
bool wr_bus_dict_bool(DBusMessageIter *dict, const char *key, bool val);
bool wr_bus_dict_i32(DBusMessageIter *dict, const char *key, int32_t val);
bool wr_bus_dict_bytesv(DBusMessageIter *dict, const char *key, const char *const *v, size_t n);
/* A path as ay (no terminating NUL). */
bool wr_bus_append_bytes(DBusMessageIter *it, const char *bytes);
/* The object path of session id ("/org/jetsnap/Writer1/session/7"). */
void wr_bus_session_path(uint32_t id, char *out, size_t n);
/* Parse a session path: its id, or 0 if the path is not one. */
uint32_t wr_bus_session_id(const char *path);
/* The name of the JET_err behind an instance's last error, or "". */
const char *wr_bus_err_name(JET_ERR e);

/* bus-signals.c: wr_bus_event (writer-int.h) turns events into signals. */

/* introspect-xml.c, generated from org.jetsnap.Writer1.xml at build time. */
extern const char wr_bus_interface_xml[];

#endif /* JETSNAP_WR_BUS_INT_H */
