/*
 * ctl-session.c — the writer's session as a coordinator runs it: prepare, freeze, thaw, complete
 * or abort. Shared by snapshot (in the foreground) and the holder (for freeze and thaw), which
 * report failures differently: each call leaves the failing step and error in the session.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl-int.h"

static int failed(struct ctl_session *s, const char *step, int rc);

void ctl_session_init(struct ctl_session *s, DBusConnection *c, const struct ctl_opts *o)
{
    memset(s, 0, sizeof *s);
    s->c = c;
    s->o = o;
    dbus_error_init(&s->err);
}

int ctl_session_freeze(struct ctl_session *s)
{
    const struct ctl_opts *o = s->o;
    DBusMessageIter d, it;
    dbus_error_free(&s->err);
    DBusMessage *r = ctl_get_all(s->c, o, CTL_ROOT, CTL_IFACE_WRITER, &d, &s->err);
    if (!r)
        return failed(s, "reading the writer's properties", ctl_unreachable(&s->err) ? CTL_EXIT_UNREACHABLE : CTL_EXIT_FAILURE);
    s->freeze_timeout_ms = ctl_dict_u32(&d, "FreezeTimeoutMsec", 0);
    s->quiesce_timeout_ms = ctl_dict_u32(&d, "QuiesceTimeoutMsec", 0);
    dbus_message_unref(r);

    DBusMessage *m = ctl_writer_call(o, CTL_ROOT, CTL_IFACE_WRITER, "PrepareForBackup");
    if (m) {
        dbus_message_iter_init_append(m, &it);
        if (!dbus_message_iter_append_basic(&it, DBUS_TYPE_STRING, &o->type) ||
            !ctl_append_strv(&it, o->instances, o->n_instances) || !ctl_append_empty_dict(&it)) {
            dbus_message_unref(m);
            m = NULL;
        }
    }
    r = ctl_send(s->c, m, o->timeout_ms, &s->err);
    if (!r)
        return failed(s, "PrepareForBackup", ctl_unreachable(&s->err) ? CTL_EXIT_UNREACHABLE : CTL_EXIT_NOT_FROZEN);
    const char *path = NULL;
    if (!dbus_message_get_args(r, &s->err, DBUS_TYPE_OBJECT_PATH, &path, DBUS_TYPE_INVALID)) {
        dbus_message_unref(r);
        return failed(s, "PrepareForBackup's reply", CTL_EXIT_FAILURE);
    }
    snprintf(s->path, sizeof s->path, "%s", path);
    dbus_message_unref(r);

    m = ctl_writer_call(o, CTL_ROOT, CTL_IFACE_WRITER, "Freeze");
    if (m) {
        dbus_message_iter_init_append(m, &it);
        const char *p = s->path;
        if (!dbus_message_iter_append_basic(&it, DBUS_TYPE_OBJECT_PATH, &p) || !ctl_append_empty_dict(&it)) {
            dbus_message_unref(m);
            m = NULL;
        }
    }
    /* Quiescing may take the writer's whole quiesce time-out; a caller that gave up sooner would
     * leave a freeze it does not know about. */
    int wait = o->timeout_ms;
    if (s->quiesce_timeout_ms && (long long)s->quiesce_timeout_ms + CTL_FREEZE_MARGIN_MS > wait)
        wait = (int)((long long)s->quiesce_timeout_ms + CTL_FREEZE_MARGIN_MS);
    s->freeze_reply = ctl_send(s->c, m, wait, &s->err);
    if (!s->freeze_reply ||
        !(dbus_message_iter_init(s->freeze_reply, &it) && ctl_read_results(&it, &s->frozen, &s->n_frozen))) {
        if (s->freeze_reply) {
            dbus_set_error(&s->err, DBUS_ERROR_INVALID_SIGNATURE, "Freeze answered %s, not a(sss)",
                           dbus_message_get_signature(s->freeze_reply));
            dbus_message_unref(s->freeze_reply);
            s->freeze_reply = NULL;
        }
        /* Whatever the error (even no reply at all), make sure nothing stays frozen. */
        failed(s, "Freeze", CTL_EXIT_NOT_FROZEN);
        ctl_session_abort(s, "freeze failed");
        return CTL_EXIT_NOT_FROZEN;
    }
    s->frozen_at_usec = ctl_now_usec();
    return CTL_EXIT_OK;
}

int ctl_session_thaw(struct ctl_session *s)
{
    DBusMessageIter it;
    dbus_error_free(&s->err);
    DBusMessage *m = ctl_writer_call(s->o, CTL_ROOT, CTL_IFACE_WRITER, "Thaw");
    if (m) {
        dbus_message_iter_init_append(m, &it);
        const char *p = s->path;
        if (!dbus_message_iter_append_basic(&it, DBUS_TYPE_OBJECT_PATH, &p) || !ctl_append_empty_dict(&it)) {
            dbus_message_unref(m);
            m = NULL;
        }
    }
    s->thaw_at_usec = ctl_now_usec();
    s->thaw_reply = ctl_send(s->c, m, s->o->timeout_ms, &s->err);
    if (!s->thaw_reply)
        return failed(s, "Thaw", strcmp(s->err.name, CTL_ERR_TIMEOUT) == 0 ? CTL_EXIT_DISCARD : CTL_EXIT_THAW);
    dbus_uint64_t usec = 0;
    if (!dbus_message_iter_init(s->thaw_reply, &it) || !ctl_read_results(&it, &s->thawed, &s->n_thawed) ||
        !dbus_message_iter_next(&it) || dbus_message_iter_get_arg_type(&it) != DBUS_TYPE_UINT64) {
        dbus_set_error(&s->err, DBUS_ERROR_INVALID_SIGNATURE, "Thaw answered %s, not (a(sss)t)",
                       dbus_message_get_signature(s->thaw_reply));
        return failed(s, "Thaw's reply", CTL_EXIT_THAW);
    }
    dbus_message_iter_get_basic(&it, &usec);
    s->frozen_usec = usec;
    return CTL_EXIT_OK;
}

int ctl_session_complete(struct ctl_session *s)
{
    DBusMessageIter it;
    dbus_error_free(&s->err);
    DBusMessage *m = ctl_writer_call(s->o, CTL_ROOT, CTL_IFACE_WRITER, "BackupComplete");
    if (m) {
        dbus_message_iter_init_append(m, &it);
        const char *p = s->path;
        dbus_bool_t yes = TRUE;
        if (!dbus_message_iter_append_basic(&it, DBUS_TYPE_OBJECT_PATH, &p) ||
            !dbus_message_iter_append_basic(&it, DBUS_TYPE_BOOLEAN, &yes) || !ctl_append_empty_dict(&it)) {
            dbus_message_unref(m);
            m = NULL;
        }
    }
    DBusMessage *r = ctl_send(s->c, m, s->o->timeout_ms, &s->err);
    if (!r)
        return failed(s, "BackupComplete", strcmp(s->err.name, CTL_ERR_TIMEOUT) == 0 ? CTL_EXIT_DISCARD : CTL_EXIT_THAW);
    dbus_message_unref(r);
    return CTL_EXIT_OK;
}

void ctl_session_abort(struct ctl_session *s, const char *reason)
{
    if (!s->path[0])
        return;
    const char *p = s->path;
    DBusMessage *m = ctl_writer_call(s->o, CTL_ROOT, CTL_IFACE_WRITER, "Abort");
    if (m && !dbus_message_append_args(m, DBUS_TYPE_OBJECT_PATH, &p, DBUS_TYPE_STRING, &reason, DBUS_TYPE_INVALID)) {
        dbus_message_unref(m);
        m = NULL;
    }
    DBusError err;
    dbus_error_init(&err);
    DBusMessage *r = ctl_send(s->c, m, s->o->timeout_ms, &err);
    if (r) {
        dbus_message_unref(r);
    } else if (!dbus_error_is_set(&s->err)) {
        /* An abort that fails after everything else worked is worth telling. */
        dbus_move_error(&err, &s->err);
        s->step = "Abort";
    } else if (ctl_unreachable(&err)) {
        /* The writer is gone (its sessions with it), as the first failure already said. */
        dbus_error_free(&err);
    } else {
        /* Closing our connection ends the session too (the writer releases a vanished owner), so
         * a failed abort is not left behind: say so, but keep the first failure as the cause. */
        ctl_err("Abort of %s: %s: %s (the writer ends it when this process leaves the bus)", s->path,
                ctl_error_short(err.name), err.message ? err.message : "");
        dbus_error_free(&err);
    }
}

void ctl_session_describe(const struct ctl_session *s, char *out, size_t n)
{
    if (dbus_error_is_set(&s->err))
        ctl_format_error(s->o, s->step ? s->step : "?", &s->err, out, n);
    else
        snprintf(out, n, "%s failed", s->step ? s->step : "?");
}

void ctl_session_free(struct ctl_session *s)
{
    free(s->frozen);
    free(s->thawed);
    if (s->freeze_reply)
        dbus_message_unref(s->freeze_reply);
    if (s->thaw_reply)
        dbus_message_unref(s->thaw_reply);
    dbus_error_free(&s->err);
    memset(s, 0, sizeof *s);
}

static int failed(struct ctl_session *s, const char *step, int rc)
{
    s->step = step;
    return rc;
}
