/*
 * bus-calls.c — the state-changing methods of org.jetsnap.Writer1.Writer (PrepareForBackup,
 * Freeze, Thaw, Abort, BackupComplete), served by worker threads (bus-int.h): a freeze may quiesce
 * for seconds and the caller's uid is a round trip to the bus, and neither may hold up the loop
 * that answers everyone else. Each call: the caller's uid must be in allow_users (asked of the bus
 * by unique name, never derived from a PID), then the arguments are checked, then the state
 * machine of session.c runs with the caller's unique name as the owner.
 */
#include <ctype.h>
#include <errno.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bus-int.h"

static void *worker_main(void *arg);
static void serve(struct wr_bus *b, DBusConnection *c, DBusMessage *m);
static void serve_call(struct wr_bus *b, DBusConnection *c, DBusMessage *m);
static bool caller_allowed(struct wr_bus *b, DBusConnection *c, DBusMessage *m);
static void call_prepare(struct wr_bus *b, DBusConnection *c, DBusMessage *m);
static void call_freeze(struct wr_bus *b, DBusConnection *c, DBusMessage *m);
static void call_thaw(struct wr_bus *b, DBusConnection *c, DBusMessage *m);
static void call_abort(struct wr_bus *b, DBusConnection *c, DBusMessage *m);
static void call_complete(struct wr_bus *b, DBusConnection *c, DBusMessage *m);
static bool check_options(DBusConnection *c, DBusMessage *m, DBusMessageIter *it);
static void reply_results(DBusConnection *c, DBusMessage *m, struct jetsnap_result *r, size_t n, const uint64_t *usec);

int wr_bus_workers_start(struct wr_bus *b)
{
    for (int i = 0; i < WR_BUS_WORKERS; i++) {
        if (pthread_create(&b->workers[i], NULL, worker_main, b) != 0)
            return -1;
        b->n_workers++;
    }
    return 0;
}

void wr_bus_workers_stop(struct wr_bus *b)
{
    pthread_mutex_lock(&b->jmu);
    b->jstop = true;
    pthread_cond_broadcast(&b->jcv);
    pthread_mutex_unlock(&b->jmu);
    for (int i = 0; i < b->n_workers; i++)
        pthread_join(b->workers[i], NULL);
    b->n_workers = 0;
}

bool wr_bus_job_queue(struct wr_bus *b, DBusConnection *c, DBusMessage *m)
{
    struct wr_bus_job *j = calloc(1, sizeof *j);
    pthread_mutex_lock(&b->jmu);
    bool ok = j && !b->jstop && b->n_jobs < WR_BUS_JOBS_MAX;
    if (ok) {
        j->conn = dbus_connection_ref(c);
        j->msg = dbus_message_ref(m);
        if (b->tail)
            b->tail->next = j;
        else
            b->head = j;
        b->tail = j;
        b->n_jobs++;
        pthread_cond_signal(&b->jcv);
    }
    pthread_mutex_unlock(&b->jmu);
    if (!ok) {
        free(j);
        wr_bus_reply_error(c, m, DBUS_ERROR_LIMITS_EXCEEDED,
                           "%d state-changing calls are already waiting; retry later", WR_BUS_JOBS_MAX);
    }
    return ok;
}

/* allow_users: names are resolved once, at start; a name that does not exist here allows nobody
 * (and is logged), which is the safe reading of a typo. */
int wr_bus_resolve_users(struct wr_bus *b, struct jetsnap_error *err)
{
    const struct conf_strv *u = &b->w->cfg->writer.allow_users;
    b->allowed = calloc(u->n ? u->n : 1, sizeof *b->allowed);
    size_t text = 1;
    for (size_t i = 0; i < u->n; i++)
        text += strlen(u->v[i]) + 2;
    b->allowed_text = calloc(1, text);
    if (!b->allowed || !b->allowed_text)
        return wr_fail(err, JETSNAP_E_NO_MEMORY, 0, "out of memory");
    for (size_t i = 0; i < u->n; i++) {
        const char *s = u->v[i];
        strcat(strcat(b->allowed_text, i ? ", " : ""), s);
        char *end;
        errno = 0;
        unsigned long v = strtoul(s, &end, 10);
        if (isdigit((unsigned char)s[0]) && !*end && !errno && v < (uid_t)-1) {
            b->allowed[b->n_allowed++] = (uid_t)v;
            continue;
        }
        struct passwd pw, *res = NULL;
        char buf[4096];
        if (getpwnam_r(s, &pw, buf, sizeof buf, &res) == 0 && res)
            b->allowed[b->n_allowed++] = pw.pw_uid;
        else
            wr_bus_log(b, JETSNAP_LOG_WARNING, "allow_users: there is no user '%s' on this system; ignored", s);
    }
    return JETSNAP_OK;
}

static void *worker_main(void *arg)
{
    struct wr_bus *b = arg;
    pthread_mutex_lock(&b->jmu);
    for (;;) {
        while (!b->head && !b->jstop)
            pthread_cond_wait(&b->jcv, &b->jmu);
        struct wr_bus_job *j = b->head;
        if (!j)
            break; /* stopping, and every queued call has been answered */
        b->head = j->next;
        if (!b->head)
            b->tail = NULL;
        b->n_jobs--;
        pthread_mutex_unlock(&b->jmu);
        serve(b, j->conn, j->msg);
        dbus_message_unref(j->msg);
        dbus_connection_unref(j->conn);
        free(j);
        pthread_mutex_lock(&b->jmu);
    }
    pthread_mutex_unlock(&b->jmu);
    return NULL;
}

static void serve(struct wr_bus *b, DBusConnection *c, DBusMessage *m)
{
    if (!caller_allowed(b, c, m))
        return;
    struct wr_bus_deferred d;
    wr_bus_defer_begin(&d);
    serve_call(b, c, m);
    wr_bus_defer_end(b->w, &d);
}

static void serve_call(struct wr_bus *b, DBusConnection *c, DBusMessage *m)
{
    const char *member = dbus_message_get_member(m);
    if (wr_bus_backup_member(member, NULL))
        wr_bus_backup_call(b, c, m);
    else if (!strcmp(member, "PrepareForBackup"))
        call_prepare(b, c, m);
    else if (!strcmp(member, "Freeze"))
        call_freeze(b, c, m);
    else if (!strcmp(member, "Thaw"))
        call_thaw(b, c, m);
    else if (!strcmp(member, "Abort"))
        call_abort(b, c, m);
    else
        call_complete(b, c, m);
}

/* The caller's uid, asked of the bus by its unique name (cached: unique names are never reused). */
static bool caller_allowed(struct wr_bus *b, DBusConnection *c, DBusMessage *m)
{
    const char *sender = dbus_message_get_sender(m);
    if (!sender) /* a peer-to-peer connection has no bus to ask */
        goto denied_unknown;
    uid_t uid = (uid_t)-1;
    bool cached = false;
    pthread_mutex_lock(&b->omu);
    for (size_t i = 0; i < WR_BUS_UID_CACHE && !cached; i++)
        if (!strcmp(b->uids[i].name, sender)) {
            uid = b->uids[i].uid;
            cached = true;
        }
    pthread_mutex_unlock(&b->omu);
    if (!cached) {
        DBusError e;
        dbus_error_init(&e);
        unsigned long u = dbus_bus_get_unix_user(c, sender, &e);
        if (dbus_error_is_set(&e)) {
            wr_bus_reply_error(c, m, DBUS_ERROR_ACCESS_DENIED, "the bus could not say who %s is: %s", sender,
                               e.message);
            dbus_error_free(&e);
            return false;
        }
        uid = (uid_t)u;
        pthread_mutex_lock(&b->omu);
        struct wr_bus_uid *slot = &b->uids[b->uid_next++ % WR_BUS_UID_CACHE];
        snprintf(slot->name, sizeof slot->name, "%s", sender);
        slot->uid = uid;
        pthread_mutex_unlock(&b->omu);
    }
    for (size_t i = 0; i < b->n_allowed; i++)
        if (b->allowed[i] == uid)
            return true;
    wr_bus_reply_error(c, m, DBUS_ERROR_ACCESS_DENIED, "uid %lu may not call %s: allow_users of %s is %s",
                       (unsigned long)uid, dbus_message_get_member(m), b->w->cfg->path, b->allowed_text);
    return false;
denied_unknown:
    wr_bus_reply_error(c, m, DBUS_ERROR_ACCESS_DENIED, "a caller without a bus name may not change state");
    return false;
}

/* PrepareForBackup(s backup_type, as instance_ids, a{sv} options) -> (o session) */
static void call_prepare(struct wr_bus *b, DBusConnection *c, DBusMessage *m)
{
    DBusMessageIter it, arr;
    const char *type = NULL;
    dbus_message_iter_init(m, &it);
    dbus_message_iter_get_basic(&it, &type);
    dbus_message_iter_next(&it);
    int count = dbus_message_iter_get_element_count(&it);
    if (count > WR_BUS_NAMES_MAX) {
        wr_bus_reply_error(c, m, DBUS_ERROR_INVALID_ARGS, "instance_ids has %d names; at most %d are accepted",
                           count, WR_BUS_NAMES_MAX);
        return;
    }
    const char **names = calloc(count > 0 ? (size_t)count : 1, sizeof *names);
    if (!names) {
        wr_bus_reply_error(c, m, DBUS_ERROR_NO_MEMORY, "out of memory");
        return;
    }
    size_t n = 0;
    dbus_message_iter_recurse(&it, &arr);
    while (dbus_message_iter_get_arg_type(&arr) == DBUS_TYPE_STRING) {
        dbus_message_iter_get_basic(&arr, &names[n++]);
        dbus_message_iter_next(&arr);
    }
    dbus_message_iter_next(&it);
    if (!check_options(c, m, &it)) {
        free(names);
        return;
    }
    const char *owner = dbus_message_get_sender(m);
    uint32_t id = 0;
    struct jetsnap_error e = {0};
    int rc = wr_prepare(b->w, owner, type, names, n, &id, &e);
    free(names);
    if (rc != JETSNAP_OK) {
        wr_bus_reply_failure(c, m, &e);
        return;
    }
    /* From now on the session must end when the owner's connection does. */
    wr_bus_track_owner(b, c, owner);
    char path[128];
    wr_bus_session_path(id, path, sizeof path);
    const char *p = path;
    DBusMessage *r = dbus_message_new_method_return(m);
    wr_bus_reply(c, m, r, r && dbus_message_append_args(r, DBUS_TYPE_OBJECT_PATH, &p, DBUS_TYPE_INVALID));
}

/* Freeze(o session, a{sv} options) -> (a(sss) results) */
static void call_freeze(struct wr_bus *b, DBusConnection *c, DBusMessage *m)
{
    DBusMessageIter it;
    dbus_message_iter_init(m, &it);
    uint32_t id = wr_bus_session_arg(c, m, &it);
    if (!id || !check_options(c, m, &it))
        return;
    struct jetsnap_result *res = NULL;
    size_t n = 0;
    struct jetsnap_error e = {0};
    if (wr_freeze(b->w, dbus_message_get_sender(m), id, &res, &n, &e) != JETSNAP_OK)
        wr_bus_reply_failure(c, m, &e);
    else
        reply_results(c, m, res, n, NULL);
}

/* Thaw(o session, a{sv} options) -> (a(sss) results, t frozen_usec) */
static void call_thaw(struct wr_bus *b, DBusConnection *c, DBusMessage *m)
{
    DBusMessageIter it;
    dbus_message_iter_init(m, &it);
    uint32_t id = wr_bus_session_arg(c, m, &it);
    if (!id || !check_options(c, m, &it))
        return;
    struct jetsnap_result *res = NULL;
    size_t n = 0;
    uint64_t usec = 0;
    struct jetsnap_error e = {0};
    if (wr_thaw(b->w, dbus_message_get_sender(m), id, &res, &n, &usec, &e) != JETSNAP_OK)
        wr_bus_reply_failure(c, m, &e);
    else
        reply_results(c, m, res, n, &usec);
}

/* Abort(o session, s reason) */
static void call_abort(struct wr_bus *b, DBusConnection *c, DBusMessage *m)
{
    DBusMessageIter it;
    dbus_message_iter_init(m, &it);
    uint32_t id = wr_bus_session_arg(c, m, &it);
    if (!id)
        return;
    const char *reason = "";
    dbus_message_iter_get_basic(&it, &reason);
    char why[64]; /* the writer keeps a short reason; a 1 MiB one is cut, not refused */
    snprintf(why, sizeof why, "%s", reason[0] ? reason : "aborted by the owner");
    struct jetsnap_error e = {0};
    if (wr_abort(b->w, dbus_message_get_sender(m), id, why, &e) != JETSNAP_OK) {
        wr_bus_reply_failure(c, m, &e);
        return;
    }
    DBusMessage *r = dbus_message_new_method_return(m);
    if (r)
        wr_bus_send(c, r);
}

/* BackupComplete(o session, b succeeded, a{sv} options) */
static void call_complete(struct wr_bus *b, DBusConnection *c, DBusMessage *m)
{
    DBusMessageIter it;
    dbus_message_iter_init(m, &it);
    uint32_t id = wr_bus_session_arg(c, m, &it);
    if (!id)
        return;
    dbus_bool_t ok = FALSE;
    dbus_message_iter_get_basic(&it, &ok);
    dbus_message_iter_next(&it);
    if (!check_options(c, m, &it))
        return;
    struct jetsnap_error e = {0};
    if (wr_backup_complete(b->w, dbus_message_get_sender(m), id, ok ? 1 : 0, &e) != JETSNAP_OK) {
        wr_bus_reply_failure(c, m, &e);
        return;
    }
    DBusMessage *r = dbus_message_new_method_return(m);
    if (r)
        wr_bus_send(c, r);
}

/* No option is defined yet: an unknown key is refused rather than ignored, so that a coordinator
 * relying on an option this writer does not know hears it. */
static bool check_options(DBusConnection *c, DBusMessage *m, DBusMessageIter *it)
{
    DBusMessageIter arr, ent;
    dbus_message_iter_recurse(it, &arr);
    if (dbus_message_iter_get_arg_type(&arr) != DBUS_TYPE_DICT_ENTRY)
        return true;
    const char *key = "";
    dbus_message_iter_recurse(&arr, &ent);
    dbus_message_iter_get_basic(&ent, &key);
    wr_bus_reply_error(c, m, DBUS_ERROR_INVALID_ARGS, "unknown option '%.64s' for %s", key,
                       dbus_message_get_member(m));
    return false;
}

/* The session path argument; 0 (and UnknownSession sent) if it names no session of this writer. */
uint32_t wr_bus_session_arg(DBusConnection *c, DBusMessage *m, DBusMessageIter *it)
{
    const char *path = "";
    dbus_message_iter_get_basic(it, &path);
    dbus_message_iter_next(it);
    uint32_t id = wr_bus_session_id(path);
    if (!id)
        wr_bus_reply_error(c, m, "org.jetsnap.Writer1.Error.UnknownSession", "%.200s is not a session of this writer",
                           path);
    return id;
}

void wr_bus_reply_failure(DBusConnection *c, DBusMessage *m, const struct jetsnap_error *e)
{
    const char *name = wr_error_name(e->code);
    wr_bus_reply_error(c, m, name ? name : "org.jetsnap.Writer1.Error.NonRetryable", "%s", e->message);
}

static void reply_results(DBusConnection *c, DBusMessage *m, struct jetsnap_result *r, size_t n, const uint64_t *usec)
{
    DBusMessage *reply = dbus_message_new_method_return(m);
    DBusMessageIter it;
    bool ok = reply != NULL;
    if (ok) {
        dbus_message_iter_init_append(reply, &it);
        ok = wr_bus_append_results(&it, r, n);
    }
    if (ok && usec) {
        dbus_uint64_t u = *usec;
        ok = dbus_message_iter_append_basic(&it, DBUS_TYPE_UINT64, &u);
    }
    wr_results_free(r, n);
    if (ok)
        wr_bus_send(c, reply);
    else {
        if (reply)
            dbus_message_unref(reply);
        wr_bus_reply_error(c, m, DBUS_ERROR_NO_MEMORY, "out of memory building the reply");
    }
}

/* Watch the owner's connection (one match rule per owner, however many sessions it runs), then
 * make sure it did not leave before the rule was in place. */
void wr_bus_track_owner(struct wr_bus *b, DBusConnection *c, const char *owner)
{
    bool known = false;
    pthread_mutex_lock(&b->omu);
    for (size_t i = 0; i < b->n_owners && !known; i++)
        known = !strcmp(b->owners[i], owner);
    if (!known && b->n_owners == b->cap_owners) {
        size_t cap = b->cap_owners ? 2 * b->cap_owners : 8;
        char **v = realloc(b->owners, cap * sizeof *v);
        if (v) {
            b->owners = v;
            b->cap_owners = cap;
        }
    }
    char *copy = known || b->n_owners == b->cap_owners ? NULL : strdup(owner);
    if (copy)
        b->owners[b->n_owners++] = copy;
    pthread_mutex_unlock(&b->omu);
    if (known)
        return;
    if (!copy) {
        /* Without memory to watch it, the owner's session must not outlive this call's success:
         * the freeze time-out would be its only end. Refuse by ending it now. */
        wr_release_owner(b->w, owner, "owner-vanished");
        return;
    }
    char rule[512];
    snprintf(rule, sizeof rule,
             "type='signal',sender='" DBUS_SERVICE_DBUS "',interface='" DBUS_INTERFACE_DBUS
             "',member='NameOwnerChanged',arg0='%s'",
             owner);
    DBusError e;
    dbus_error_init(&e);
    dbus_bus_add_match(c, rule, &e);
    bool watching = !dbus_error_is_set(&e);
    dbus_error_free(&e);
    bool present = watching && dbus_bus_name_has_owner(c, owner, &e);
    dbus_error_free(&e);
    if (!present) {
        wr_bus_log(b, JETSNAP_LOG_NOTICE, "owner %s left the bus before its session could be tracked", owner);
        wr_release_owner(b->w, owner, "owner-vanished");
        wr_bus_forget_owner(b, c, owner);
    }
}
