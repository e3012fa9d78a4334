/*
 * ctl-freeze.c — jetsnapctl freeze and thaw, for callers whose process exits between the two
 * (qemu-ga's fsfreeze-hook, pre/post scripts of backup products). freeze starts a holder
 * (ctl-holder.c) that owns the freeze on the bus and waits for its report; thaw finds the holder
 * through the writer's FreezeOwner property and asks it to thaw.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ctl-int.h"

/* The holder's calls are bounded by --timeout and the writer's quiesce time-out (at most
 * 600 s, conf/): waiting longer than this for its report means something is badly wrong. */
#define FREEZE_REPORT_SLACK_MS (600000 + 2 * CTL_FREEZE_MARGIN_MS)

static int read_report(int fd, int cap_ms, char *text, size_t n);
static int thaw_ended(DBusConnection *c, const struct ctl_opts *o, const char *path);
static int thaw_call(DBusConnection *c, const struct ctl_opts *o, const char *owner);
static int thaw_error(DBusConnection *c, const struct ctl_opts *o, const char *owner, DBusError *err);
static bool owner_still(DBusConnection *c, const struct ctl_opts *o, const char *owner);

int ctl_freeze(const struct ctl_opts *o)
{
    int fds[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) != 0) {
        ctl_err("cannot create a socket pair: %s", strerror(errno));
        return CTL_EXIT_FAILURE;
    }
    fflush(NULL);
    /* Double fork and setsid: the holder is nobody's child and in no terminal's session, so the
     * caller's exit, its process group's signals or a hang-up leave the freeze alone. */
    pid_t pid = fork();
    if (pid < 0) {
        ctl_err("cannot start the holder: %s", strerror(errno));
        return CTL_EXIT_FAILURE;
    }
    if (pid == 0) {
        close(fds[0]);
        setsid();
        pid_t h = fork();
        if (h == 0)
            ctl_holder_main(o, fds[1]);
        if (h < 0) {
            char msg[256];
            int len = snprintf(msg, sizeof msg, "%d\tcannot start the holder: %s", CTL_EXIT_FAILURE, strerror(errno));
            if (len > 0 && send(fds[1], msg, (size_t)len, MSG_NOSIGNAL) < 0) {
                /* the freeze command reports a silent holder */
            }
        }
        _exit(0);
    }
    close(fds[1]);
    while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
        ;
    char text[4096];
    long long cap = 2LL * o->timeout_ms + FREEZE_REPORT_SLACK_MS;
    int code = read_report(fds[0], cap > 0x7fffffff ? 0x7fffffff : (int)cap, text, sizeof text);
    if (code == CTL_EXIT_OK) {
        /* The holder keeps the freeze only once our caller is sure to hear of it: printed first,
         * acknowledged second; without the byte it thaws and aborts. */
        printf("%s\n", text);
        char ack = CTL_REPORT_ACK;
        if (fflush(stdout) != 0) {
            ctl_err("cannot print the session path: %s; the holder thaws and aborts", strerror(errno));
            code = CTL_EXIT_FAILURE;
        } else if (send(fds[0], &ack, 1, MSG_NOSIGNAL) != 1) {
            ctl_err("the holder is gone: %s; its freeze has ended", strerror(errno));
            code = CTL_EXIT_DISCARD;
        }
    } else {
        ctl_err("%s", text);
    }
    close(fds[0]);
    return code;
}

/* The holder's "CODE\tTEXT" up to EOF: CODE, TEXT in text; CTL_EXIT_FAILURE when it said nothing. */
static int read_report(int fd, int cap_ms, char *text, size_t n)
{
    char buf[4096];
    size_t len = 0;
    for (;;) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        int r = poll(&p, 1, cap_ms);
        if (r < 0 && errno == EINTR)
            continue;
        if (r == 0) {
            snprintf(text, n, "the holder did not report within %d ms; it aborts its session when it finds "
                              "nobody listening", cap_ms);
            return CTL_EXIT_FAILURE;
        }
        ssize_t got = read(fd, buf + len, sizeof buf - 1 - len);
        if (got < 0 && errno == EINTR)
            continue;
        if (got <= 0 || (len += (size_t)got) == sizeof buf - 1)
            break;
    }
    buf[len] = 0;
    char *tab = strchr(buf, '\t'), *end;
    long code = tab ? strtol(buf, &end, 10) : -1;
    if (!tab || end != tab || code < 0 || code > 125) {
        snprintf(text, n, "the holder ended without reporting whether it froze (%.200s)", len ? buf : "no word at all");
        return CTL_EXIT_FAILURE;
    }
    snprintf(text, n, "%s", tab + 1);
    return (int)code;
}

int ctl_thaw(const struct ctl_opts *o)
{
    DBusError err;
    dbus_error_init(&err);
    DBusConnection *c = ctl_connect(o, &err);
    if (!c) {
        ctl_print_error(o, "cannot connect to the bus", &err);
        dbus_error_free(&err);
        return CTL_EXIT_UNREACHABLE;
    }
    DBusMessageIter d;
    DBusMessage *r = ctl_get_all(c, o, CTL_ROOT, CTL_IFACE_WRITER, &d, &err);
    int rc;
    if (!r) {
        ctl_print_error(o, "reading the writer's properties", &err);
        rc = ctl_unreachable(&err) ? CTL_EXIT_UNREACHABLE : CTL_EXIT_FAILURE;
        dbus_error_free(&err);
        ctl_disconnect(c);
        return rc;
    }
    const char *owner = ctl_dict_str(&d, "FreezeOwner", "");
    const char *active = ctl_dict_str(&d, "ActiveSession", "/");
    const char *state = ctl_dict_str(&d, "State", "");
    if (o->session_path && strcmp(o->session_path, active) != 0) {
        /* Not (or no longer) the writer's session: what became of it tells whether the freeze
         * held until now. Another coordinator's active session is left alone. */
        rc = thaw_ended(c, o, o->session_path);
    } else if (!owner[0]) {
        ctl_err("nothing is frozen (the writer is %s)", state);
        if (strcmp(state, "failed") == 0)
            ctl_err("the writer's last session failed (a freeze time-out, or its owner left): a snapshot "
                    "taken during it is not consistent");
        rc = CTL_EXIT_NOTHING;
    } else {
        rc = thaw_call(c, o, owner);
    }
    dbus_message_unref(r);
    ctl_disconnect(c);
    return rc;
}

static int thaw_ended(DBusConnection *c, const struct ctl_opts *o, const char *path)
{
    DBusError err;
    dbus_error_init(&err);
    DBusMessageIter v;
    DBusMessage *r = ctl_get(c, o, path, CTL_IFACE_SESSION, "State", &v, &err);
    if (!r) {
        int rc = ctl_unreachable(&err) ? CTL_EXIT_UNREACHABLE : CTL_EXIT_NOTHING;
        if (rc == CTL_EXIT_NOTHING)
            ctl_err("nothing is frozen: the writer no longer knows session %s (%s)", path, ctl_error_short(err.name));
        else
            ctl_print_error(o, "reading the session's state", &err);
        dbus_error_free(&err);
        return rc;
    }
    const char *state = "";
    if (dbus_message_iter_get_arg_type(&v) == DBUS_TYPE_STRING)
        dbus_message_iter_get_basic(&v, &state);
    int rc;
    if (strcmp(state, "completed") == 0 || (o->abort && strcmp(state, "aborted") == 0)) {
        ctl_err("nothing is frozen: session %s is already %s", path, state);
        rc = CTL_EXIT_NOTHING;
    } else if (strcmp(state, "aborted") == 0 || strcmp(state, "failed-at-freeze") == 0) {
        ctl_err("session %s ended before this thaw (%s): the freeze did not hold, discard the snapshot", path,
                state);
        rc = o->abort ? CTL_EXIT_OK : CTL_EXIT_DISCARD;
    } else {
        ctl_err("session %s is %s but not the writer's active session; not touched", path, state);
        rc = CTL_EXIT_FAILURE;
    }
    dbus_message_unref(r);
    return rc;
}

static int thaw_call(DBusConnection *c, const struct ctl_opts *o, const char *owner)
{
    DBusMessage *m = dbus_message_new_method_call(owner, CTL_HOLDER_PATH, CTL_IFACE_HOLDER, "Thaw");
    dbus_bool_t succeeded = !o->abort;
    if (m && !dbus_message_append_args(m, DBUS_TYPE_BOOLEAN, &succeeded, DBUS_TYPE_INVALID)) {
        dbus_message_unref(m);
        m = NULL;
    }
    DBusError err;
    dbus_error_init(&err);
    /* The holder makes up to three writer calls (thaw, complete, abort), each within --timeout. */
    long long wait = 3LL * o->timeout_ms + CTL_FREEZE_MARGIN_MS;
    DBusMessage *r = ctl_send(c, m, wait > 0x7fffffff ? 0x7fffffff : (int)wait, &err);
    if (!r)
        return thaw_error(c, o, owner, &err);
    DBusMessageIter it;
    struct ctl_result *res = NULL;
    size_t n = 0;
    dbus_uint64_t usec = 0;
    if (!dbus_message_iter_init(r, &it) || !ctl_read_results(&it, &res, &n) || !dbus_message_iter_next(&it) ||
        dbus_message_iter_get_arg_type(&it) != DBUS_TYPE_UINT64) {
        ctl_err("the holder answered %s, not (a(sss)t)", dbus_message_get_signature(r));
        dbus_message_unref(r);
        free(res);
        return CTL_EXIT_FAILURE;
    }
    dbus_message_iter_get_basic(&it, &usec);
    char ms[32], names[512];
    ctl_format_ms(usec, ms, sizeof ms);
    ctl_join_instances(res, n, names, sizeof names);
    ctl_print_result_messages(res, n);
    fprintf(stderr, "jetsnapctl: thawed %zu instance%s (%s) after %s ms; backup %s\n", n, n == 1 ? "" : "s", names,
            ms, o->abort ? "aborted" : "completed");
    free(res);
    dbus_message_unref(r);
    return CTL_EXIT_OK;
}

static int thaw_error(DBusConnection *c, const struct ctl_opts *o, const char *owner, DBusError *err)
{
    int rc;
    /* No reply: either the owner left during the call (as a killed holder does), or it never
     * answers holder calls; whether it is still the owner tells which. */
    bool left = dbus_error_has_name(err, DBUS_ERROR_NO_REPLY) && !owner_still(c, o, owner);
    if (dbus_error_has_name(err, DBUS_ERROR_NO_REPLY) && !left) {
        ctl_err("the freeze owner %s did not answer: it is not a jetsnapctl holder (another coordinator's "
                "session), or it hangs; not touched",
                owner);
        rc = CTL_EXIT_NOT_HOLDER;
    } else if (dbus_error_has_name(err, DBUS_ERROR_UNKNOWN_METHOD) || dbus_error_has_name(err, DBUS_ERROR_UNKNOWN_OBJECT) ||
        dbus_error_has_name(err, DBUS_ERROR_UNKNOWN_INTERFACE)) {
        ctl_err("the freeze belongs to %s, which is not a jetsnapctl holder (another coordinator's session); "
                "not touched",
                owner);
        rc = CTL_EXIT_NOT_HOLDER;
    } else if (left || dbus_error_has_name(err, DBUS_ERROR_SERVICE_UNKNOWN) ||
               dbus_error_has_name(err, DBUS_ERROR_NAME_HAS_NO_OWNER)) {
        ctl_err("the freeze owner %s left the bus before this thaw: the writer thawed when it left, discard the "
                "snapshot",
                owner);
        rc = o->abort ? CTL_EXIT_OK : CTL_EXIT_DISCARD;
    } else if (dbus_error_has_name(err, CTL_ERR_TIMEOUT)) {
        ctl_err("%s", err->message);
        if (o->abort) {
            ctl_err("the freeze had already ended; the session is aborted");
            rc = CTL_EXIT_OK;
        } else {
            ctl_err("the freeze ended before the thaw: the snapshot is not consistent, discard it");
            rc = CTL_EXIT_DISCARD;
        }
    } else if (dbus_error_has_name(err, DBUS_ERROR_ACCESS_DENIED)) {
        ctl_print_error(o, "calling the holder", err);
        /* dbus-daemon's own refusals start so; the holder's name the uid it wants. */
        if (err->message && strncmp(err->message, "Rejected send message", 21) == 0)
            ctl_err("the bus's policy does not let this call through: install org.jetsnap.Writer1.Holder.conf "
                    "in the bus's system.d");
        rc = CTL_EXIT_FAILURE;
    } else {
        ctl_print_error(o, "thaw", err);
        rc = CTL_EXIT_THAW;
    }
    dbus_error_free(err);
    return rc;
}

static bool owner_still(DBusConnection *c, const struct ctl_opts *o, const char *owner)
{
    DBusError err;
    dbus_error_init(&err);
    DBusMessageIter v;
    DBusMessage *r = ctl_get(c, o, CTL_ROOT, CTL_IFACE_WRITER, "FreezeOwner", &v, &err);
    if (!r) {
        dbus_error_free(&err);
        return true; /* cannot tell: do not claim the freeze ended */
    }
    const char *now = "";
    if (dbus_message_iter_get_arg_type(&v) == DBUS_TYPE_STRING)
        dbus_message_iter_get_basic(&v, &now);
    bool same = strcmp(now, owner) == 0;
    dbus_message_unref(r);
    return same;
}
