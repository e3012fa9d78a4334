/*
 * ctl-holder.c — the holder: the process that owns a two-phase freeze (jetsnapctl freeze, later
 * jetsnapctl thaw). The writer thaws at once when the owner of a freeze leaves the bus, so the
 * owner must outlive the short-lived hook that asked for the freeze: this process, detached from
 * the caller, on a bus connection of its own.
 *
 * It writes no file, ever: the filesystems it freezes may be the only ones there are. What it has
 * to say before the freeze is reported through a socket to the freeze command, which acknowledges a
 * success once it has printed it; afterwards the holder talks only on the bus. It ends when told to thaw (org.jetsnap.Writer1.Holder.Thaw), when its session
 * ends without it (AutoThawed, SessionStateChanged to an end state), when the writer leaves the
 * bus, or at the freeze time-out plus a margin at the latest.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "ctl-int.h"

/* Past the writer's freeze time-out the freeze is over anyway; the margin lets the writer's own
 * AutoThawed arrive first, so that the holder ends for the reason the writer gives. */
#define HOLDER_MARGIN_MS 5000
/* When the writer does not say its freeze time-out (conf's upper bound). */
#define HOLDER_DEFAULT_FREEZE_MS 600000
/* Errors of the holder's own calls to the writer that did not come from the writer. */
#define HOLDER_ERR_UNREACHABLE "org.jetsnap.Writer1.Holder.Error.WriterUnreachable"

static const char holder_xml[] =
    DBUS_INTROSPECT_1_0_XML_DOCTYPE_DECL_NODE
    "<node>\n"
    "  <interface name=\"" CTL_IFACE_HOLDER "\">\n"
    "    <method name=\"Thaw\">\n"
    "      <arg name=\"succeeded\" type=\"b\" direction=\"in\"/>\n"
    "      <arg name=\"results\" type=\"a(sss)\" direction=\"out\"/>\n"
    "      <arg name=\"frozen_usec\" type=\"t\" direction=\"out\"/>\n"
    "    </method>\n"
    "  </interface>\n"
    "  <interface name=\"" DBUS_INTERFACE_INTROSPECTABLE "\">\n"
    "    <method name=\"Introspect\"><arg name=\"xml\" type=\"s\" direction=\"out\"/></method>\n"
    "  </interface>\n"
    "</node>\n";

struct holder {
    struct ctl_session s;
    char writer[256]; /* the writer's unique name: only its signals count */
    bool done;
};

static bool watch_writer(struct holder *h, const struct ctl_opts *o, DBusError *err);
static void wait_for_end(struct holder *h);
static DBusHandlerResult on_signal(DBusConnection *c, DBusMessage *m, void *data);
static DBusHandlerResult on_call(DBusConnection *c, DBusMessage *m, void *data);
static DBusMessage *thaw(struct holder *h, DBusMessage *call, bool succeeded);
static bool caller_allowed(DBusConnection *c, DBusMessage *m);
static bool append_results(DBusMessageIter *it, const struct ctl_result *r, size_t n);
static void detach(int keep_fd);
static bool report(int fd, int code, const char *text);
static bool acknowledged(int fd, int timeout_ms);
static uint64_t now_ms(void);

void ctl_holder_main(const struct ctl_opts *o, int report_fd)
{
    detach(report_fd);
    struct holder h = {0};
    char text[2048];
    DBusError err;
    dbus_error_init(&err);
    DBusConnection *c = ctl_connect(o, &err);
    if (!c) {
        ctl_format_error(o, "cannot connect to the bus", &err, text, sizeof text);
        report(report_fd, CTL_EXIT_UNREACHABLE, text);
        _exit(0);
    }
    /* --mount: which instances is decided here, on the holder's connection, right before the
     * freeze (the freeze command holds no connection: libdbus's do not survive the fork). */
    struct ctl_opts mo = *o;
    if (mo.n_mounts) {
        int mrc = ctl_select_mounts(c, &mo, text, sizeof text);
        if (mrc != CTL_EXIT_OK) {
            report(report_fd, mrc, text);
            _exit(0);
        }
    }
    o = &mo;
    ctl_session_init(&h.s, c, o);
    if (!watch_writer(&h, o, &err)) {
        ctl_format_error(o, "watching the writer", &err, text, sizeof text);
        report(report_fd, ctl_unreachable(&err) ? CTL_EXIT_UNREACHABLE : CTL_EXIT_FAILURE, text);
        _exit(0);
    }
    int rc = ctl_session_freeze(&h.s);
    if (rc != CTL_EXIT_OK) {
        ctl_session_describe(&h.s, text, sizeof text);
        report(report_fd, rc, text);
        _exit(0);
    }
    /* Unless the freeze command has told its caller that the set is frozen (it was killed, or
     * could not print), nobody will thaw it: it must not stay frozen. A report merely written
     * is not enough: the command may die before reading it. */
    if (!report(report_fd, CTL_EXIT_OK, h.s.path) || !acknowledged(report_fd, o->timeout_ms)) {
        ctl_session_thaw(&h.s);
        ctl_session_abort(&h.s, "freeze command gone");
        _exit(0);
    }
    close(report_fd);
    wait_for_end(&h);
    ctl_session_free(&h.s);
    ctl_disconnect(c);
    _exit(0);
}

/* Subscribe before the freeze, so that no AutoThawed can pass unseen between it and the wait. */
static bool watch_writer(struct holder *h, const struct ctl_opts *o, DBusError *err)
{
    DBusConnection *c = h->s.c;
    const char *name = o->bus_name;
    DBusMessage *m = dbus_message_new_method_call(DBUS_SERVICE_DBUS, DBUS_PATH_DBUS, DBUS_INTERFACE_DBUS, "GetNameOwner");
    if (m && !dbus_message_append_args(m, DBUS_TYPE_STRING, &name, DBUS_TYPE_INVALID)) {
        dbus_message_unref(m);
        m = NULL;
    }
    DBusMessage *r = ctl_send(c, m, o->timeout_ms, err);
    const char *owner;
    if (!r)
        return false;
    if (!dbus_message_get_args(r, err, DBUS_TYPE_STRING, &owner, DBUS_TYPE_INVALID)) {
        dbus_message_unref(r);
        return false;
    }
    snprintf(h->writer, sizeof h->writer, "%s", owner);
    dbus_message_unref(r);

    char rule[1024];
    snprintf(rule, sizeof rule, "type='signal',sender='%s',path='" CTL_ROOT "',interface='" CTL_IFACE_WRITER "'", h->writer);
    dbus_bus_add_match(c, rule, err);
    if (dbus_error_is_set(err))
        return false;
    snprintf(rule, sizeof rule,
             "type='signal',sender='" DBUS_SERVICE_DBUS "',interface='" DBUS_INTERFACE_DBUS
             "',member='NameOwnerChanged',arg0='%s'",
             o->bus_name);
    dbus_bus_add_match(c, rule, err);
    if (dbus_error_is_set(err))
        return false;
    static const DBusObjectPathVTable vt = {.message_function = on_call};
    if (!dbus_connection_add_filter(c, on_signal, h, NULL) ||
        !dbus_connection_try_register_object_path(c, CTL_HOLDER_PATH, &vt, h, err)) {
        if (!dbus_error_is_set(err))
            dbus_set_error_const(err, DBUS_ERROR_NO_MEMORY, "out of memory");
        return false;
    }
    return true;
}

static void wait_for_end(struct holder *h)
{
    uint32_t fto = h->s.freeze_timeout_ms ? h->s.freeze_timeout_ms : HOLDER_DEFAULT_FREEZE_MS;
    uint64_t deadline = now_ms() + fto + HOLDER_MARGIN_MS;
    /* A hook pair whose post hook may never run (Velero, Veeam) wants the freeze shorter than
     * the writer's own limit: the holder ends it itself. */
    uint64_t hold = h->s.o->hold_ms ? now_ms() + h->s.o->hold_ms : UINT64_MAX;
    while (!h->done) {
        uint64_t now = now_ms();
        if (now >= hold) {
            ctl_session_abort(&h->s, "hold time-out");
            return;
        }
        if (now >= deadline) {
            /* The writer should have ended the freeze by now; make sure and leave. */
            ctl_session_abort(&h->s, "holder time-out");
            return;
        }
        if (hold < deadline)
            deadline = hold;
        uint64_t wait = deadline - now;
        if (!dbus_connection_read_write_dispatch(h->s.c, wait > 1000 ? 1000 : (int)wait))
            return; /* disconnected: the writer has released us and thawed */
    }
}

static DBusHandlerResult on_signal(DBusConnection *c, DBusMessage *m, void *data)
{
    struct holder *h = data;
    const char *a0 = NULL, *a1 = NULL, *a2 = NULL;
    if (dbus_message_is_signal(m, DBUS_INTERFACE_LOCAL, "Disconnected")) {
        h->done = true;
        return DBUS_HANDLER_RESULT_NOT_YET_HANDLED;
    }
    if (dbus_message_get_type(m) != DBUS_MESSAGE_TYPE_SIGNAL)
        return DBUS_HANDLER_RESULT_NOT_YET_HANDLED;
    const char *sender = dbus_message_get_sender(m);
    if (dbus_message_is_signal(m, DBUS_INTERFACE_DBUS, "NameOwnerChanged") && sender &&
        strcmp(sender, DBUS_SERVICE_DBUS) == 0) {
        /* The writer left (or was replaced): its instances are not frozen for us any more. */
        if (dbus_message_get_args(m, NULL, DBUS_TYPE_STRING, &a0, DBUS_TYPE_STRING, &a1, DBUS_TYPE_STRING, &a2,
                                  DBUS_TYPE_INVALID) &&
            strcmp(a0, h->s.o->bus_name) == 0 && strcmp(a2, h->writer) != 0)
            h->done = true;
        return DBUS_HANDLER_RESULT_NOT_YET_HANDLED;
    }
    if (!sender || strcmp(sender, h->writer) != 0)
        return DBUS_HANDLER_RESULT_NOT_YET_HANDLED;
    if (dbus_message_is_signal(m, CTL_IFACE_WRITER, "AutoThawed")) {
        DBusMessageIter it;
        if (dbus_message_iter_init(m, &it) && dbus_message_iter_get_arg_type(&it) == DBUS_TYPE_OBJECT_PATH) {
            dbus_message_iter_get_basic(&it, &a0);
            if (strcmp(a0, h->s.path) == 0)
                h->done = true;
        }
    } else if (dbus_message_is_signal(m, CTL_IFACE_WRITER, "SessionStateChanged")) {
        if (dbus_message_get_args(m, NULL, DBUS_TYPE_OBJECT_PATH, &a0, DBUS_TYPE_STRING, &a1, DBUS_TYPE_STRING, &a2,
                                  DBUS_TYPE_INVALID) &&
            strcmp(a0, h->s.path) == 0 &&
            (strcmp(a2, "completed") == 0 || strcmp(a2, "aborted") == 0 || strcmp(a2, "failed-at-freeze") == 0))
            h->done = true;
    }
    return DBUS_HANDLER_RESULT_NOT_YET_HANDLED;
}

static DBusHandlerResult on_call(DBusConnection *c, DBusMessage *m, void *data)
{
    struct holder *h = data;
    DBusMessage *reply;
    dbus_bool_t succeeded;
    if (dbus_message_is_method_call(m, DBUS_INTERFACE_INTROSPECTABLE, "Introspect")) {
        const char *xml = holder_xml;
        reply = dbus_message_new_method_return(m);
        if (reply && !dbus_message_append_args(reply, DBUS_TYPE_STRING, &xml, DBUS_TYPE_INVALID)) {
            dbus_message_unref(reply);
            reply = NULL;
        }
    } else if (!dbus_message_is_method_call(m, CTL_IFACE_HOLDER, "Thaw")) {
        return DBUS_HANDLER_RESULT_NOT_YET_HANDLED; /* libdbus answers UnknownMethod */
    } else if (!dbus_message_get_args(m, NULL, DBUS_TYPE_BOOLEAN, &succeeded, DBUS_TYPE_INVALID)) {
        reply = dbus_message_new_error(m, DBUS_ERROR_INVALID_ARGS, "Thaw takes one boolean: succeeded");
    } else if (!caller_allowed(c, m)) {
        reply = dbus_message_new_error_printf(m, DBUS_ERROR_ACCESS_DENIED,
                                              "only uid %u or root may thaw this freeze", (unsigned)getuid());
    } else {
        reply = thaw(h, m, succeeded);
        h->done = true;
    }
    if (reply) {
        dbus_connection_send(c, reply, NULL);
        dbus_message_unref(reply);
    }
    return DBUS_HANDLER_RESULT_HANDLED;
}

/* Thaw, then complete or (not succeeded, or the thaw failed) abort: the reply to the caller. */
static DBusMessage *thaw(struct holder *h, DBusMessage *call, bool succeeded)
{
    struct ctl_session *s = &h->s;
    int rc = ctl_session_thaw(s);
    if (rc == CTL_EXIT_OK && succeeded)
        rc = ctl_session_complete(s);
    if (rc != CTL_EXIT_OK || !succeeded)
        ctl_session_abort(s, succeeded ? "thaw failed" : "thaw --abort");
    if (dbus_error_is_set(&s->err)) {
        char text[2048];
        ctl_session_describe(s, text, sizeof text);
        /* The writer's own errors pass through by name (Timeout: discard the snapshot); a writer
         * that could not be reached must not look like the holder itself being unreachable. */
        const char *name = strncmp(s->err.name, CTL_ERR_PREFIX, strlen(CTL_ERR_PREFIX)) == 0 ? s->err.name
                                                                                               : HOLDER_ERR_UNREACHABLE;
        return dbus_message_new_error(call, name, text);
    }
    DBusMessage *reply = dbus_message_new_method_return(call);
    DBusMessageIter it;
    dbus_uint64_t usec = s->frozen_usec;
    if (reply) {
        dbus_message_iter_init_append(reply, &it);
        if (!append_results(&it, s->thawed, s->n_thawed) || !dbus_message_iter_append_basic(&it, DBUS_TYPE_UINT64, &usec)) {
            dbus_message_unref(reply);
            reply = dbus_message_new_error(call, DBUS_ERROR_NO_MEMORY, "out of memory");
        }
    }
    return reply;
}

/* The holder's uid (who froze) or root: anyone else thawing early would spoil the snapshot. */
static bool caller_allowed(DBusConnection *c, DBusMessage *m)
{
    const char *sender = dbus_message_get_sender(m);
    if (!sender)
        return false;
    DBusError err;
    dbus_error_init(&err);
    unsigned long uid = dbus_bus_get_unix_user(c, sender, &err);
    if (dbus_error_is_set(&err)) {
        dbus_error_free(&err);
        return false;
    }
    return uid == 0 || uid == (unsigned long)getuid();
}

static bool append_results(DBusMessageIter *it, const struct ctl_result *r, size_t n)
{
    DBusMessageIter a, s;
    if (!dbus_message_iter_open_container(it, DBUS_TYPE_ARRAY, "(sss)", &a))
        return false;
    for (size_t i = 0; i < n; i++) {
        if (!dbus_message_iter_open_container(&a, DBUS_TYPE_STRUCT, NULL, &s) ||
            !dbus_message_iter_append_basic(&s, DBUS_TYPE_STRING, &r[i].instance) ||
            !dbus_message_iter_append_basic(&s, DBUS_TYPE_STRING, &r[i].state) ||
            !dbus_message_iter_append_basic(&s, DBUS_TYPE_STRING, &r[i].message) ||
            !dbus_message_iter_close_container(&a, &s)) {
            dbus_message_iter_abandon_container_if_open(&a, &s);
            dbus_message_iter_abandon_container(it, &a);
            return false;
        }
    }
    return dbus_message_iter_close_container(it, &a);
}

/* The caller (a hook runner such as qemu-ga) may read our stdout and stderr until EOF, and may
 * live on a filesystem being frozen or unmounted: hold none of its descriptors, nor its cwd. */
static void detach(int keep_fd)
{
    if (chdir("/") != 0) {
        /* "/" always exists; nothing sensible to do otherwise */
    }
    int null = open("/dev/null", O_RDWR | O_CLOEXEC);
    if (null >= 0) {
        dup2(null, 0);
        dup2(null, 1);
        dup2(null, 2);
        if (null > 2)
            close(null);
    }
    if (keep_fd > 3)
        close_range(3, (unsigned)keep_fd - 1, 0);
    close_range((unsigned)keep_fd + 1, ~0U, 0);
    signal(SIGPIPE, SIG_IGN); /* a vanished freeze command is an error to see, not a death */
    signal(SIGHUP, SIG_IGN);
    signal(SIGINT, SIG_IGN);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
}

/* "CODE\tTEXT", then EOF (the socket stays open for the acknowledgement). */
static bool report(int fd, int code, const char *text)
{
    char buf[4096];
    int n = snprintf(buf, sizeof buf, "%d\t%s", code, text);
    if (n < 0)
        return false;
    size_t len = (size_t)n < sizeof buf ? (size_t)n : sizeof buf - 1, off = 0;
    while (off < len) {
        ssize_t w = send(fd, buf + off, len - off, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return false;
        off += (size_t)w;
    }
    return shutdown(fd, SHUT_WR) == 0;
}

/* The freeze command's one byte: it has printed the session path and is about to exit 0. */
static bool acknowledged(int fd, int timeout_ms)
{
    char c;
    for (;;) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        int r = poll(&p, 1, timeout_ms);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return false;
        ssize_t got = recv(fd, &c, 1, 0);
        if (got < 0 && errno == EINTR)
            continue;
        return got == 1 && c == CTL_REPORT_ACK;
    }
}

static uint64_t now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000u + (uint64_t)t.tv_nsec / 1000000u;
}
