/*
 * bus.c — the writer's D-Bus connection (bus-int.h): start and stop, connecting with a private
 * connection that never exits the process, taking the well-known name, and what the bus itself
 * tells us: an owner's connection vanished (its session is thawed and aborted at once), our
 * well-known name was taken away, or our connection was lost (every bus owner's session is
 * thawed, then we reconnect with back-off).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bus-int.h"

static int connect_bus(struct wr_bus *b, char *why, size_t n);
static void drop_connection(struct wr_bus *b);
static void release_all_owners(struct wr_bus *b, const char *reason);
static void bus_free(struct wr_bus *b);
static void strip_guid(char *address);

int wr_bus_start(jetsnap_writer *w, const char *address, enum jetsnap_bus_loop loop, struct jetsnap_error *err)
{
    if (loop == JETSNAP_BUS_NONE)
        return JETSNAP_OK;
    struct wr_bus *b = calloc(1, sizeof *b);
    if (!b)
        return wr_fail(err, JETSNAP_E_NO_MEMORY, 0, "out of memory");
    b->w = w;
    b->loop = loop;
    b->epfd = b->wakefd = -1;
    b->backoff_ms = WR_BUS_BACKOFF_MIN_MS;
    b->name = w->cfg->writer.bus_name;
    pthread_mutex_init(&b->cmu, NULL);
    pthread_mutex_init(&b->wmu, NULL);
    pthread_mutex_init(&b->jmu, NULL);
    pthread_mutex_init(&b->omu, NULL);
    pthread_cond_init(&b->jcv, NULL);
    const struct conf_bus *cb = &w->cfg->writer.bus;
    if (!address)
        address = cb->kind == CONF_BUS_ADDRESS ? cb->address : conf_bus_kind_name(cb->kind);
    w->bus = b;
    char why[512] = "";
    int rc = JETSNAP_OK;
    if (!(b->address = strdup(address)))
        rc = wr_fail(err, JETSNAP_E_NO_MEMORY, 0, "out of memory");
    if (rc == JETSNAP_OK && wr_bus_loop_init(b) < 0)
        rc = wr_fail(err, JETSNAP_E_NO_MEMORY, 0, "cannot create the bus loop's descriptors");
    if (rc == JETSNAP_OK)
        rc = wr_bus_resolve_users(b, err);
    if (rc == JETSNAP_OK && wr_bus_workers_start(b) != 0)
        rc = wr_fail(err, JETSNAP_E_NO_MEMORY, 0, "cannot start the bus worker threads");
    /* Open fails when the bus cannot be reached at all or the name is taken: a host starting a
     * second writer for the same name must hear it now. Later losses are re-made with back-off. */
    if (rc == JETSNAP_OK && connect_bus(b, why, sizeof why) != 0)
        rc = wr_fail(err, JETSNAP_E_BUS, 0, "%s", why);
    if (rc == JETSNAP_OK && loop == JETSNAP_BUS_THREAD) {
        if (pthread_create(&b->thread, NULL, wr_bus_loop_main, b) == 0)
            b->thread_started = true;
        else
            rc = wr_fail(err, JETSNAP_E_NO_MEMORY, 0, "cannot start the bus thread");
    }
    if (rc != JETSNAP_OK) {
        wr_bus_stop(w);
        return rc;
    }
    if (strchr(address, ':'))
        wr_bus_log(b, JETSNAP_LOG_INFO, "serving %s as %s on the bus at %s", WR_BUS_ROOT, b->name, address);
    else
        wr_bus_log(b, JETSNAP_LOG_INFO, "serving %s as %s on the %s bus", WR_BUS_ROOT, b->name, address);
    return JETSNAP_OK;
}

void wr_bus_stop(jetsnap_writer *w)
{
    struct wr_bus *b = w->bus;
    if (!b)
        return;
    atomic_store(&b->stop, true);
    if (b->thread_started) {
        wr_bus_loop_wake(b);
        pthread_join(b->thread, NULL);
        b->thread_started = false;
    }
    wr_bus_workers_stop(b);
    pthread_mutex_lock(&b->cmu);
    DBusConnection *c = b->conn;
    b->conn = NULL;
    pthread_mutex_unlock(&b->cmu);
    if (c) {
        dbus_connection_flush(c); /* the last signals (AutoThawed "shutdown") and replies */
        wr_bus_loop_detach(b, c);
        dbus_connection_close(c);
        dbus_connection_unref(c);
    }
    w->bus = NULL;
    bus_free(b);
}

int wr_bus_fd(jetsnap_writer *w)
{
    return w && w->bus && w->bus->loop == JETSNAP_BUS_HOST ? w->bus->epfd : -1;
}

int wr_bus_dispatch(jetsnap_writer *w)
{
    if (!w || !w->bus || w->bus->loop != JETSNAP_BUS_HOST)
        return -1;
    wr_bus_loop_iterate(w->bus, 0);
    return wr_bus_loop_next_ms(w->bus);
}

DBusConnection *wr_bus_conn(struct wr_bus *b)
{
    pthread_mutex_lock(&b->cmu);
    DBusConnection *c = b->conn && !b->lost ? dbus_connection_ref(b->conn) : NULL;
    pthread_mutex_unlock(&b->cmu);
    return c;
}

void wr_bus_maintain(struct wr_bus *b)
{
    pthread_mutex_lock(&b->cmu);
    bool lost = b->lost, down = !b->conn;
    uint64_t at = b->reconnect_at;
    pthread_mutex_unlock(&b->cmu);
    if (lost) {
        drop_connection(b);
        return;
    }
    if (!down || atomic_load(&b->stop) || wr_now_usec() < at)
        return;
    char why[512];
    if (connect_bus(b, why, sizeof why) == 0) {
        wr_bus_log(b, JETSNAP_LOG_NOTICE, "reconnected to the bus as %s", b->name);
        b->backoff_ms = WR_BUS_BACKOFF_MIN_MS;
        return;
    }
    wr_bus_log(b, JETSNAP_LOG_WARNING, "reconnecting failed (%s); next try in %u ms", why, b->backoff_ms);
    pthread_mutex_lock(&b->cmu);
    b->reconnect_at = wr_now_usec() + (uint64_t)b->backoff_ms * 1000u;
    pthread_mutex_unlock(&b->cmu);
    b->backoff_ms = b->backoff_ms * 2 > WR_BUS_BACKOFF_MAX_MS ? WR_BUS_BACKOFF_MAX_MS : b->backoff_ms * 2;
}

DBusHandlerResult wr_bus_filter(DBusConnection *c, DBusMessage *m, void *data)
{
    struct wr_bus *b = data;
    if (dbus_message_is_signal(m, DBUS_INTERFACE_LOCAL, "Disconnected")) {
        pthread_mutex_lock(&b->cmu);
        b->lost = true;
        pthread_mutex_unlock(&b->cmu);
        wr_bus_loop_wake(b);
        return DBUS_HANDLER_RESULT_HANDLED;
    }
    if (!dbus_message_has_sender(m, DBUS_SERVICE_DBUS))
        return DBUS_HANDLER_RESULT_NOT_YET_HANDLED;
    const char *name = NULL, *old = NULL, *new = NULL;
    if (dbus_message_is_signal(m, DBUS_INTERFACE_DBUS, "NameOwnerChanged") &&
        dbus_message_get_args(m, NULL, DBUS_TYPE_STRING, &name, DBUS_TYPE_STRING, &old, DBUS_TYPE_STRING, &new,
                              DBUS_TYPE_INVALID) &&
        name[0] == ':' && new[0] == '\0') {
        bool tracked = false;
        pthread_mutex_lock(&b->omu);
        for (size_t i = 0; i < b->n_owners && !tracked; i++)
            tracked = !strcmp(b->owners[i], name);
        pthread_mutex_unlock(&b->omu);
        if (tracked) {
            /* The owner's process died or dropped its connection: thaw now, not at the time-out. */
            wr_bus_log(b, JETSNAP_LOG_NOTICE, "owner %s left the bus", name);
            wr_release_owner(b->w, name, "owner-vanished");
            wr_bus_forget_owner(b, c, name);
        }
    } else if (dbus_message_is_signal(m, DBUS_INTERFACE_DBUS, "NameLost") &&
               dbus_message_get_args(m, NULL, DBUS_TYPE_STRING, &name, DBUS_TYPE_INVALID) &&
               !strcmp(name, b->name)) {
        wr_bus_log(b, JETSNAP_LOG_ERR, "lost the bus name %s; coordinators can no longer find this writer", name);
    }
    return DBUS_HANDLER_RESULT_NOT_YET_HANDLED;
}

void wr_bus_forget_owner(struct wr_bus *b, DBusConnection *c, const char *owner)
{
    bool had = false;
    pthread_mutex_lock(&b->omu);
    for (size_t i = 0; i < b->n_owners; i++)
        if (!strcmp(b->owners[i], owner)) {
            free(b->owners[i]);
            b->owners[i] = b->owners[--b->n_owners];
            had = true;
            break;
        }
    pthread_mutex_unlock(&b->omu);
    if (had && c) {
        char rule[512];
        snprintf(rule, sizeof rule,
                 "type='signal',sender='" DBUS_SERVICE_DBUS "',interface='" DBUS_INTERFACE_DBUS
                 "',member='NameOwnerChanged',arg0='%s'",
                 owner);
        dbus_bus_remove_match(c, rule, NULL); /* no error pointer: asynchronous */
    }
}

void wr_bus_log(struct wr_bus *b, int priority, const char *fmt, ...)
{
    jetsnap_writer *w = b->w;
    if (!w->log)
        return;
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    w->log(w->log_ctx, priority, NULL, WR_EV_BUS, msg);
}

static DBusConnection *open_private(const char *address, DBusError *e)
{
    if (!strcmp(address, "system"))
        return dbus_bus_get_private(DBUS_BUS_SYSTEM, e);
    if (!strcmp(address, "session"))
        return dbus_bus_get_private(DBUS_BUS_SESSION, e);
    DBusConnection *c = dbus_connection_open_private(address, e);
    if (c && !dbus_bus_register(c, e)) {
        dbus_connection_close(c);
        dbus_connection_unref(c);
        return NULL;
    }
    return c;
}

/* Connect, take the name, export the objects and hand the connection to the loop. 0 or -1 with
 * why filled. */
static int connect_bus(struct wr_bus *b, char *why, size_t n)
{
    static const DBusObjectPathVTable vtable = {.message_function = wr_bus_handle};
    DBusError e;
    dbus_error_init(&e);
    DBusConnection *c = open_private(b->address, &e);
    if (!c) {
        snprintf(why, n, "cannot connect to the %s bus: %s", b->address, e.message ? e.message : "?");
        dbus_error_free(&e);
        return -1;
    }
    /* libdbus's default would _exit() the host process when the bus goes away. */
    dbus_connection_set_exit_on_disconnect(c, FALSE);
    int r = dbus_bus_request_name(c, b->name, DBUS_NAME_FLAG_DO_NOT_QUEUE, &e);
    bool ok = r == DBUS_REQUEST_NAME_REPLY_PRIMARY_OWNER;
    if (!ok)
        snprintf(why, n, "cannot own the bus name %s: %s", b->name,
                 dbus_error_is_set(&e) ? e.message : "another process owns it (is another writer running?)");
    dbus_error_free(&e);
    if (ok && (!dbus_connection_register_fallback(c, "/", &vtable, b) ||
               !dbus_connection_add_filter(c, wr_bus_filter, b, NULL))) {
        snprintf(why, n, "out of memory");
        ok = false;
    }
    if (ok && !wr_bus_loop_attach(b, c)) {
        snprintf(why, n, "out of memory");
        ok = false;
    }
    if (!ok) {
        dbus_connection_close(c);
        dbus_connection_unref(c);
        return -1;
    }
    pthread_mutex_lock(&b->cmu);
    b->conn = c;
    b->lost = false;
    pthread_mutex_unlock(&b->cmu);
    return 0;
}

/* Our connection is gone: nobody can thaw over it, so every session a bus owner holds is thawed
 * and aborted now; then the next connection attempt is scheduled. */
static void drop_connection(struct wr_bus *b)
{
    pthread_mutex_lock(&b->cmu);
    DBusConnection *c = b->conn;
    b->conn = NULL;
    b->lost = false;
    b->reconnect_at = wr_now_usec() + (uint64_t)b->backoff_ms * 1000u;
    pthread_mutex_unlock(&b->cmu);
    wr_bus_log(b, JETSNAP_LOG_WARNING, "lost the connection to the bus; reconnecting");
    /* A bus that restarts has a new guid: an address that names the old one could never
     * be reached again. */
    strip_guid(b->address);
    release_all_owners(b, "disconnected");
    if (c) {
        wr_bus_loop_detach(b, c);
        dbus_connection_close(c);
        dbus_connection_unref(c);
    }
}

static void release_all_owners(struct wr_bus *b, const char *reason)
{
    for (;;) {
        char owner[256];
        pthread_mutex_lock(&b->omu);
        bool any = b->n_owners > 0;
        if (any) {
            snprintf(owner, sizeof owner, "%s", b->owners[b->n_owners - 1]);
            free(b->owners[--b->n_owners]);
        }
        pthread_mutex_unlock(&b->omu);
        if (!any)
            return;
        wr_release_owner(b->w, owner, reason);
    }
}

/* Remove every "guid=..." key of a D-Bus address list ("unix:path=/x,guid=ab;tcp:..."). */
static void strip_guid(char *address)
{
    char *out = address;
    for (char *p = address; *p;) {
        bool at_key = p == address || p[-1] == ',' || p[-1] == ':';
        if (at_key && !strncmp(p, "guid=", 5)) {
            while (*p && *p != ',' && *p != ';')
                p++;
            if (*p == ',')
                p++;
            else if (out > address && out[-1] == ',')
                out--; /* the key was last: drop the comma before it */
            continue;
        }
        *out++ = *p++;
    }
    *out = '\0';
}

static void bus_free(struct wr_bus *b)
{
    wr_bus_loop_free(b);
    for (size_t i = 0; i < b->n_owners; i++)
        free(b->owners[i]);
    free(b->owners);
    free(b->allowed);
    free(b->allowed_text);
    free(b->address);
    pthread_cond_destroy(&b->jcv);
    pthread_mutex_destroy(&b->omu);
    pthread_mutex_destroy(&b->jmu);
    pthread_mutex_destroy(&b->wmu);
    pthread_mutex_destroy(&b->cmu);
    free(b);
}
