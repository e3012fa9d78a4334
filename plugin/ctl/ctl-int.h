/*
 * ctl-int.h — jetsnapctl, the command-line snapshot coordinator (docs/jetsnapctl.md): a D-Bus
 * client of the writer's org.jetsnap.Writer1 interface (plugin/org.jetsnap.Writer1.xml).
 *
 * Files: ctl-main.c (options, commands, usage), ctl-status.c (status, text and JSON),
 * ctl-snapshot.c (snapshot: freeze around a command of the user's), ctl-freeze.c (the two-phase
 * freeze and thaw commands), ctl-holder.c (the process that owns a two-phase freeze), ctl-bus.c
 * (connecting, calls, replies, errors and the exit codes they map to).
 *
 * Everything is single-threaded and uses blocking libdbus calls. The holder is forked before any
 * bus connection exists: libdbus connections do not survive a fork.
 */
#ifndef JETSNAP_CTL_INT_H
#define JETSNAP_CTL_INT_H

#include <dbus/dbus.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Exit codes (docs/jetsnapctl.md, "Exit codes"); 128 + N when ended by signal N. */
#define CTL_EXIT_OK 0
#define CTL_EXIT_FAILURE 1    /* anything not below: a bad reply, no memory, fork failed */
#define CTL_EXIT_USAGE 2      /* bad command line */
#define CTL_EXIT_UNREACHABLE 3 /* no bus, no writer on the bus name, or no reply in time */
#define CTL_EXIT_NOT_FROZEN 4 /* the writer refused to prepare or freeze: nothing is frozen */
#define CTL_EXIT_COMMAND 5    /* snapshot: COMMAND failed; the session was aborted */
#define CTL_EXIT_DISCARD 6    /* the freeze ended before thaw (time-out, owner gone): discard */
#define CTL_EXIT_THAW 7       /* thaw or completion failed otherwise: discard the snapshot */
#define CTL_EXIT_NOTHING 8    /* thaw: nothing is frozen (a second thaw, or never frozen) */
#define CTL_EXIT_NOT_HOLDER 9 /* thaw: the freeze belongs to a coordinator that is no holder */

#define CTL_DEFAULT_BUS_NAME "org.jetsnap.Writer1"
#define CTL_ROOT "/org/jetsnap/Writer1"
#define CTL_IFACE_WRITER "org.jetsnap.Writer1.Writer"
#define CTL_IFACE_SESSION "org.jetsnap.Writer1.Session"
#define CTL_ERR_PREFIX "org.jetsnap.Writer1.Error."
#define CTL_ERR_TIMEOUT CTL_ERR_PREFIX "Timeout"
#define CTL_HOLDER_PATH CTL_ROOT "/Holder"
#define CTL_IFACE_HOLDER "org.jetsnap.Writer1.Holder"
#define CTL_DEFAULT_TIMEOUT_MS 25000
/* Freeze may legitimately take the writer's whole quiesce time-out: never give up before it. */
#define CTL_FREEZE_MARGIN_MS 5000

enum ctl_bus { CTL_BUS_SYSTEM, CTL_BUS_SESSION, CTL_BUS_ADDRESS };

struct ctl_opts {
    enum ctl_bus bus;
    const char *address;  /* CTL_BUS_ADDRESS */
    const char *bus_name; /* the writer's well-known name */
    int timeout_ms;       /* each D-Bus call */
    bool json;            /* status --json */
    const char *type;     /* snapshot, freeze: the backup type */
    const char **instances; /* snapshot, freeze: --instance, in order; none = every instance */
    size_t n_instances;
    bool abort;              /* thaw --abort */
    const char *session_path; /* thaw SESSION: the path freeze printed, or NULL */
    char **command;           /* snapshot: COMMAND [ARG]..., NULL-terminated */
};

/* (instance, state, message): one instance's outcome, pointing into the reply it came from. */
struct ctl_result {
    const char *instance;
    const char *state;
    const char *message;
};

/* A coordinator's session with the writer, as snapshot and the holder run it (ctl-session.c). */
struct ctl_session {
    DBusConnection *c;
    const struct ctl_opts *o;
    const char *step;  /* the call that failed last, for messages */
    DBusError err;     /* its error */
    uint32_t freeze_timeout_ms, quiesce_timeout_ms;
    char path[256];    /* the session's object path, "" before prepare */
    DBusMessage *freeze_reply; /* owns frozen[] */
    struct ctl_result *frozen;
    size_t n_frozen;
    DBusMessage *thaw_reply; /* owns thawed[] */
    struct ctl_result *thawed;
    size_t n_thawed;
    uint64_t frozen_usec;
};

/* ctl-status.c, ctl-snapshot.c, ctl-freeze.c: the commands; each returns the exit code. */
int ctl_status(const struct ctl_opts *o);
int ctl_snapshot(const struct ctl_opts *o);
int ctl_freeze(const struct ctl_opts *o);
int ctl_thaw(const struct ctl_opts *o);

/* ctl-holder.c: the holder's life after the double fork; reports CODE\tTEXT on report_fd (a
 * stream socket), then on success waits for CTL_REPORT_ACK from the freeze command; never returns. */
#define CTL_REPORT_ACK '!'
void ctl_holder_main(const struct ctl_opts *o, int report_fd) __attribute__((noreturn));

/* ctl-session.c: each returns an exit code; on failure step and err say what went wrong. */
void ctl_session_init(struct ctl_session *s, DBusConnection *c, const struct ctl_opts *o);
/* Read the time-outs, prepare, freeze. A failed freeze is aborted: nothing stays frozen. */
int ctl_session_freeze(struct ctl_session *s);
/* Thaw: CTL_EXIT_DISCARD when the freeze had already ended (Timeout), CTL_EXIT_THAW otherwise. */
int ctl_session_thaw(struct ctl_session *s);
int ctl_session_complete(struct ctl_session *s);
/* Abort (legal in every state, idempotent); keeps an earlier failure's step and err. */
void ctl_session_abort(struct ctl_session *s, const char *reason);
/* "step: Name: message" of the last failure, with a hint when the writer was unreachable. */
void ctl_session_describe(const struct ctl_session *s, char *out, size_t n);
void ctl_session_free(struct ctl_session *s);

/* ctl-bus.c */
/* A private connection to the bus of o, registered; NULL with err set. */
DBusConnection *ctl_connect(const struct ctl_opts *o, DBusError *err);
void ctl_disconnect(DBusConnection *c);
/* A method call to the writer (o->bus_name). */
DBusMessage *ctl_writer_call(const struct ctl_opts *o, const char *path, const char *iface, const char *method);
/* Send and wait at most timeout_ms for the reply; NULL with err set on an error reply or none. */
DBusMessage *ctl_send(DBusConnection *c, DBusMessage *m, int timeout_ms, DBusError *err);
/* Append an empty a{sv} (the options every writer call takes). */
bool ctl_append_empty_dict(DBusMessageIter *it);
/* Append an array of strings; the strings must be valid UTF-8. */
bool ctl_append_strv(DBusMessageIter *it, const char *const *v, size_t n);
/* Read an a(sss) at it into a malloc'd array of pointers into the message; false if malformed. */
bool ctl_read_results(DBusMessageIter *it, struct ctl_result **pv, size_t *pn);
/* Properties.GetAll of iface at path: the reply, its a{sv} at *dict. */
DBusMessage *ctl_get_all(DBusConnection *c, const struct ctl_opts *o, const char *path, const char *iface,
                         DBusMessageIter *dict, DBusError *err);
/* Properties.Get of one property: the reply, the value (inside the variant) at *val. */
DBusMessage *ctl_get(DBusConnection *c, const struct ctl_opts *o, const char *path, const char *iface,
                     const char *name, DBusMessageIter *val, DBusError *err);
/* The value of key in the a{sv} at dict, if there and of type dbus_type. */
bool ctl_dict_lookup(const DBusMessageIter *dict, const char *key, int dbus_type, DBusMessageIter *val);
const char *ctl_dict_str(const DBusMessageIter *dict, const char *key, const char *dflt);
uint64_t ctl_dict_u64(const DBusMessageIter *dict, const char *key, uint64_t dflt);
uint32_t ctl_dict_u32(const DBusMessageIter *dict, const char *key, uint32_t dflt);
/* The error said the bus or the writer cannot be reached (as opposed to a refusal). */
bool ctl_unreachable(const DBusError *err);
/* Print "jetsnapctl: what: Name: message" on stderr, with a hint for unreachable writers. */
void ctl_print_error(const struct ctl_opts *o, const char *what, const DBusError *err);
/* The same text, without the "jetsnapctl: " prefix of its first line, into out. */
void ctl_format_error(const struct ctl_opts *o, const char *what, const DBusError *err, char *out, size_t n);
/* The short name of a writer error ("Timeout"), or the full name of any other. */
const char *ctl_error_short(const char *name);
/* The time in milliseconds, as "12.3". */
void ctl_format_ms(uint64_t usec, char *out, size_t n);
/* Print the instances of results whose message is not empty, one a line, on stderr. */
void ctl_print_result_messages(const struct ctl_result *r, size_t n);
/* "a, b, c" of the results' instances, cut with "..." to fit cap. */
void ctl_join_instances(const struct ctl_result *r, size_t n, char *out, size_t cap);
void ctl_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif /* JETSNAP_CTL_INT_H */
