/*
 * bus-signals.c — the writer's events as D-Bus signals (bus-int.h). wr_bus_event is called for
 * every event, in order, by whichever thread delivers the writer's queue (writer.c), without the
 * writer's mutex: it only builds messages and queues them on the connection.
 *
 *   SESSION_STATE  → Writer.SessionStateChanged; PropertiesChanged of the session (State) and of
 *                    the writer (FreezeOwner, ActiveSession); InterfacesAdded when the session is
 *                    prepared, InterfacesRemoved when it ends
 *   AUTO_THAWED    → Writer.AutoThawed(session, reason, results)
 *   INSTANCE_STATE → PropertiesChanged of the instance; Writer.InstanceFailed when it failed
 *   WRITER_STATE   → PropertiesChanged of the writer (State)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bus-int.h"

static void session_changed(struct wr_bus *b, DBusConnection *c, const struct jetsnap_event *ev);
static void instance_changed(struct wr_bus *b, DBusConnection *c, const struct jetsnap_event *ev);
static void props_changed(struct wr_bus *b, DBusConnection *c, const char *path, const char *iface,
                          const char *const *names, size_t n, const char *const *invalidated, size_t n_inv);
static DBusMessage *writer_signal(const char *member);
static bool is_end(const char *state);

static _Thread_local struct wr_bus_deferred *deferred;

void wr_bus_defer_begin(struct wr_bus_deferred *d)
{
    *d = (struct wr_bus_deferred){0};
    deferred = d;
}

void wr_bus_defer_end(jetsnap_writer *w, struct wr_bus_deferred *d)
{
    deferred = NULL;
    for (size_t i = 0; i < d->n; i++) {
        wr_bus_event(w, &d->ev[i]);
        free((void *)d->ev[i].instance); /* the block of its strings */
        free((void *)d->ev[i].results);
    }
    free(d->ev);
    *d = (struct wr_bus_deferred){0};
}

/* Keep a copy of ev for wr_bus_defer_end; false without memory (then it is sent now). */
static bool defer(struct wr_bus_deferred *d, const struct jetsnap_event *ev)
{
    if (d->n == d->cap) {
        size_t cap = d->cap ? 2 * d->cap : 64;
        struct jetsnap_event *v = realloc(d->ev, cap * sizeof *v);
        if (!v)
            return false;
        d->ev = v;
        d->cap = cap;
    }
    const char *str[4] = {ev->instance ? ev->instance : "", ev->old_state ? ev->old_state : "",
                          ev->new_state ? ev->new_state : "", ev->reason ? ev->reason : ""};
    size_t len = 0;
    for (int k = 0; k < 4; k++)
        len += strlen(str[k]) + 1;
    size_t rlen = ev->n_results * sizeof *ev->results;
    for (size_t i = 0; i < ev->n_results; i++)
        rlen += strlen(ev->results[i].instance) + strlen(ev->results[i].state) + strlen(ev->results[i].message) + 3;
    char *blk = malloc(len);
    struct jetsnap_result *res = ev->n_results ? malloc(rlen) : NULL;
    if (!blk || (ev->n_results && !res)) {
        free(blk);
        free(res);
        return false;
    }
    struct jetsnap_event *e = &d->ev[d->n++];
    *e = *ev;
    const char **dst[4] = {&e->instance, &e->old_state, &e->new_state, &e->reason};
    for (int k = 0; k < 4; k++) {
        *dst[k] = strcpy(blk, str[k]);
        blk += strlen(str[k]) + 1;
    }
    if (!ev->instance)
        e->instance = *dst[0]; /* "" but owned: freed as the block */
    char *p = res ? (char *)(res + ev->n_results) : NULL;
    for (size_t i = 0; i < ev->n_results; i++) {
        res[i].instance = strcpy(p, ev->results[i].instance);
        p += strlen(p) + 1;
        res[i].state = strcpy(p, ev->results[i].state);
        p += strlen(p) + 1;
        res[i].message = strcpy(p, ev->results[i].message);
        p += strlen(p) + 1;
    }
    e->results = res;
    return true;
}

void wr_bus_event(jetsnap_writer *w, const struct jetsnap_event *ev)
{
    struct wr_bus *b = w->bus;
    if (deferred && defer(deferred, ev))
        return;
    DBusConnection *c = b ? wr_bus_conn(b) : NULL;
    if (!c)
        return; /* not on a bus, or between connections: the properties tell the state later */
    switch (ev->kind) {
    case JETSNAP_EVENT_SESSION_STATE:
        session_changed(b, c, ev);
        break;
    case JETSNAP_EVENT_AUTO_THAWED: {
        char path[128];
        wr_bus_session_path(ev->session, path, sizeof path);
        const char *p = path;
        DBusMessage *m = writer_signal("AutoThawed");
        DBusMessageIter it;
        if (m) {
            dbus_message_iter_init_append(m, &it);
            if (dbus_message_iter_append_basic(&it, DBUS_TYPE_OBJECT_PATH, &p) && wr_bus_append_str(&it, ev->reason) &&
                wr_bus_append_results(&it, ev->results, ev->n_results))
                wr_bus_send(c, m);
            else
                dbus_message_unref(m);
        }
        break;
    }
    case JETSNAP_EVENT_INSTANCE_STATE:
        instance_changed(b, c, ev);
        break;
    case JETSNAP_EVENT_WRITER_STATE: {
        static const char *const names[] = {"State"};
        props_changed(b, c, WR_BUS_ROOT, WR_BUS_IFACE_WRITER, names, 1, NULL, 0);
        break;
    }
    }
    dbus_connection_unref(c);
}

void wr_bus_stream_finished(jetsnap_writer *w, uint32_t session, uint32_t stream, bool ok, uint64_t bytes,
                            const char *error_name)
{
    DBusConnection *c = w->bus ? wr_bus_conn(w->bus) : NULL;
    if (!c)
        return;
    char path[128];
    wr_bus_session_path(session, path, sizeof path);
    const char *p = path;
    dbus_uint32_t id = stream;
    dbus_bool_t good = ok;
    dbus_uint64_t n = bytes;
    DBusMessage *m = dbus_message_new_signal(WR_BUS_ROOT, WR_BUS_IFACE_BACKUP, "FileStreamFinished");
    DBusMessageIter it;
    bool built = m != NULL;
    if (built) {
        dbus_message_iter_init_append(m, &it);
        built = dbus_message_iter_append_basic(&it, DBUS_TYPE_OBJECT_PATH, &p) &&
                dbus_message_iter_append_basic(&it, DBUS_TYPE_UINT32, &id) &&
                dbus_message_iter_append_basic(&it, DBUS_TYPE_BOOLEAN, &good) &&
                dbus_message_iter_append_basic(&it, DBUS_TYPE_UINT64, &n) && wr_bus_append_str(&it, error_name);
    }
    if (built)
        wr_bus_send(c, m);
    else if (m)
        dbus_message_unref(m);
    dbus_connection_unref(c);
}

static void session_changed(struct wr_bus *b, DBusConnection *c, const struct jetsnap_event *ev)
{
    char path[128];
    wr_bus_session_path(ev->session, path, sizeof path);
    const char *p = path;
    bool created = ev->old_state[0] == '\0';
    if (created) {
        /* InterfacesAdded carries the properties: the session object answers from now on. */
        DBusMessage *m = dbus_message_new_signal(WR_BUS_ROOT, WR_BUS_IFACE_OM, "InterfacesAdded");
        DBusMessageIter it, ifaces, ent;
        const char *iface = WR_BUS_IFACE_SESSION;
        bool ok = m != NULL;
        if (ok) {
            dbus_message_iter_init_append(m, &it);
            ok = dbus_message_iter_append_basic(&it, DBUS_TYPE_OBJECT_PATH, &p) &&
                 dbus_message_iter_open_container(&it, DBUS_TYPE_ARRAY, "{sa{sv}}", &ifaces) &&
                 dbus_message_iter_open_container(&ifaces, DBUS_TYPE_DICT_ENTRY, NULL, &ent) &&
                 dbus_message_iter_append_basic(&ent, DBUS_TYPE_STRING, &iface) &&
                 wr_bus_append_props(b, path, iface, &ent);
            ok = ok && dbus_message_iter_close_container(&ifaces, &ent) && dbus_message_iter_close_container(&it, &ifaces);
        }
        if (ok)
            wr_bus_send(c, m);
        else if (m)
            dbus_message_unref(m);
    }
    DBusMessage *m = writer_signal("SessionStateChanged");
    if (m && dbus_message_append_args(m, DBUS_TYPE_OBJECT_PATH, &p, DBUS_TYPE_STRING, &ev->old_state, DBUS_TYPE_STRING,
                                      &ev->new_state, DBUS_TYPE_INVALID))
        wr_bus_send(c, m);
    else if (m)
        dbus_message_unref(m);
    if (!created) {
        static const char *const state[] = {"State"}, *const frozen[] = {"FrozenUsec"};
        props_changed(b, c, path, WR_BUS_IFACE_SESSION, state, 1, frozen, 1);
    }
    if (created || is_end(ev->new_state)) {
        static const char *const names[] = {"FreezeOwner", "ActiveSession"};
        props_changed(b, c, WR_BUS_ROOT, WR_BUS_IFACE_WRITER, names, 2, NULL, 0);
    }
    if (is_end(ev->new_state)) {
        DBusMessage *r = dbus_message_new_signal(WR_BUS_ROOT, WR_BUS_IFACE_OM, "InterfacesRemoved");
        DBusMessageIter it, arr;
        const char *iface = WR_BUS_IFACE_SESSION;
        bool ok = r != NULL;
        if (ok) {
            dbus_message_iter_init_append(r, &it);
            ok = dbus_message_iter_append_basic(&it, DBUS_TYPE_OBJECT_PATH, &p) &&
                 dbus_message_iter_open_container(&it, DBUS_TYPE_ARRAY, "s", &arr) &&
                 dbus_message_iter_append_basic(&arr, DBUS_TYPE_STRING, &iface) &&
                 dbus_message_iter_close_container(&it, &arr);
        }
        if (ok)
            wr_bus_send(c, r);
        else if (r)
            dbus_message_unref(r);
    }
}

static void instance_changed(struct wr_bus *b, DBusConnection *c, const struct jetsnap_event *ev)
{
    jetsnap_writer *w = b->w;
    size_t i = 0;
    while (i < w->n_inst && strcmp(w->inst[i].name, ev->instance) != 0)
        i++;
    if (i == w->n_inst)
        return;
    char esc[256], path[320];
    wr_bus_escape(ev->instance, esc, sizeof esc);
    snprintf(path, sizeof path, "%s/%s", WR_BUS_INSTANCES, esc);
    /* Built directly from one instance's copy: a freeze of N instances sends 2N of these, so
     * they are the bulk of its signals (bench-writer). */
    struct wr_inst_view v;
    wr_inst_get(w, i, &v);
    DBusMessage *pc = dbus_message_new_signal(path, WR_BUS_IFACE_PROPS, "PropertiesChanged");
    DBusMessageIter pit, dict, inv;
    const char *iface = WR_BUS_IFACE_INSTANCE;
    bool ok = pc != NULL;
    if (ok) {
        dbus_message_iter_init_append(pc, &pit);
        ok = dbus_message_iter_append_basic(&pit, DBUS_TYPE_STRING, &iface) &&
             dbus_message_iter_open_container(&pit, DBUS_TYPE_ARRAY, "{sv}", &dict) &&
             wr_bus_dict_str(&dict, "State", v.state) && wr_bus_dict_u64(&dict, "FrozenSinceUsec", v.frozen_since) &&
             wr_bus_dict_str(&dict, "LastError", wr_bus_err_name(v.last_error)) &&
             wr_bus_dict_str(&dict, "LastErrorMessage", v.message) &&
             dbus_message_iter_close_container(&pit, &dict) &&
             dbus_message_iter_open_container(&pit, DBUS_TYPE_ARRAY, "s", &inv) &&
             dbus_message_iter_close_container(&pit, &inv);
    }
    if (ok)
        wr_bus_send(c, pc);
    else if (pc)
        dbus_message_unref(pc);
    if (strcmp(ev->new_state, "failed") != 0)
        return;
    const char *id = ev->instance, *err = wr_bus_err_name(v.last_error);
    DBusMessage *m = writer_signal("InstanceFailed");
    DBusMessageIter it;
    if (m) {
        dbus_message_iter_init_append(m, &it);
        if (wr_bus_append_str(&it, id) && wr_bus_append_str(&it, err) && wr_bus_append_str(&it, v.message))
            wr_bus_send(c, m);
        else
            dbus_message_unref(m);
    }
}

/* PropertiesChanged with the current values of names (read now: the event says what changed,
 * the object says what it is) and the names of invalidated ones. */
static void props_changed(struct wr_bus *b, DBusConnection *c, const char *path, const char *iface,
                          const char *const *names, size_t n, const char *const *invalidated, size_t n_inv)
{
    /* All properties are built (cheap), then only the named ones are copied into the signal. */
    DBusMessage *all = dbus_message_new_signal(path, iface, "x");
    DBusMessage *m = dbus_message_new_signal(path, WR_BUS_IFACE_PROPS, "PropertiesChanged");
    DBusMessageIter ai, rd, dict, out, changed, inv;
    bool ok = all && m;
    if (ok) {
        dbus_message_iter_init_append(all, &ai);
        ok = wr_bus_append_props(b, path, iface, &ai);
    }
    if (ok) {
        dbus_message_iter_init_append(m, &out);
        ok = dbus_message_iter_append_basic(&out, DBUS_TYPE_STRING, &iface) &&
             dbus_message_iter_open_container(&out, DBUS_TYPE_ARRAY, "{sv}", &changed);
        dbus_message_iter_init(all, &rd);
        dbus_message_iter_recurse(&rd, &dict);
        while (ok && dbus_message_iter_get_arg_type(&dict) == DBUS_TYPE_DICT_ENTRY) {
            DBusMessageIter ent, var, oent, ovar;
            const char *k;
            dbus_message_iter_recurse(&dict, &ent);
            dbus_message_iter_get_basic(&ent, &k);
            bool want = false;
            for (size_t i = 0; i < n && !want; i++)
                want = !strcmp(names[i], k);
            if (want) {
                dbus_message_iter_next(&ent);
                dbus_message_iter_recurse(&ent, &var);
                char *sig = dbus_message_iter_get_signature(&var);
                ok = sig && dbus_message_iter_open_container(&changed, DBUS_TYPE_DICT_ENTRY, NULL, &oent) &&
                     dbus_message_iter_append_basic(&oent, DBUS_TYPE_STRING, &k) &&
                     dbus_message_iter_open_container(&oent, DBUS_TYPE_VARIANT, sig, &ovar);
                dbus_free(sig);
                if (ok) {
                    int t = dbus_message_iter_get_arg_type(&var);
                    if (dbus_type_is_basic(t)) {
                        DBusBasicValue v;
                        dbus_message_iter_get_basic(&var, &v);
                        ok = dbus_message_iter_append_basic(&ovar, t, &v);
                    } else {
                        ok = false; /* only basic-typed properties change */
                    }
                    ok = dbus_message_iter_close_container(&oent, &ovar) && ok;
                    ok = dbus_message_iter_close_container(&changed, &oent) && ok;
                }
            }
            dbus_message_iter_next(&dict);
        }
        ok = ok && dbus_message_iter_close_container(&out, &changed) &&
             dbus_message_iter_open_container(&out, DBUS_TYPE_ARRAY, "s", &inv);
        for (size_t i = 0; ok && i < n_inv; i++)
            ok = dbus_message_iter_append_basic(&inv, DBUS_TYPE_STRING, &invalidated[i]);
        ok = ok && dbus_message_iter_close_container(&out, &inv);
    }
    if (all)
        dbus_message_unref(all);
    if (ok)
        wr_bus_send(c, m);
    else if (m)
        dbus_message_unref(m);
}

static DBusMessage *writer_signal(const char *member)
{
    return dbus_message_new_signal(WR_BUS_ROOT, WR_BUS_IFACE_WRITER, member);
}

static bool is_end(const char *state)
{
    /* "failed" ends a streaming backup's session; a freeze session fails as "failed-at-freeze". */
    return !strcmp(state, "completed") || !strcmp(state, "aborted") || !strcmp(state, "failed-at-freeze") ||
           !strcmp(state, "failed");
}
