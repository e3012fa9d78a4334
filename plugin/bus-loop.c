/*
 * bus-loop.c — the writer's D-Bus main loop (bus-int.h): one epoll set holding libdbus's watches,
 * an eventfd to be woken by other threads, and the deadlines of libdbus's timeouts. The same loop
 * runs on the writer's own thread (JETSNAP_BUS_THREAD) or, one pass per call, in the host's
 * bus_dispatch (JETSNAP_BUS_HOST), whose bus_fd is the epoll descriptor itself: it becomes readable
 * when anything in the set is.
 *
 * libdbus may hand out a read and a write watch for the same socket; epoll takes a descriptor
 * once, so the events of all enabled watches of a descriptor are merged. Watch and timeout
 * callbacks run under libdbus's connection lock, from any thread that touches the connection:
 * they only edit the lists under wmu and never call back into libdbus.
 */
#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "bus-int.h"

static dbus_bool_t add_watch(DBusWatch *wt, void *data);
static void remove_watch(DBusWatch *wt, void *data);
static void toggle_watch(DBusWatch *wt, void *data);
static dbus_bool_t add_timeout(DBusTimeout *t, void *data);
static void remove_timeout(DBusTimeout *t, void *data);
static void toggle_timeout(DBusTimeout *t, void *data);
static void wake_main(void *data);
static void dispatch_status(DBusConnection *c, DBusDispatchStatus st, void *data);
static void handle_fd(struct wr_bus *b, int fd, uint32_t events);
static void run_timeouts(struct wr_bus *b);
static void update_fd(struct wr_bus *b, int fd);
static bool watch_known(struct wr_bus *b, DBusWatch *wt);

int wr_bus_loop_init(struct wr_bus *b)
{
    b->epfd = epoll_create1(EPOLL_CLOEXEC);
    b->wakefd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (b->epfd < 0 || b->wakefd < 0)
        return -errno;
    struct epoll_event ev = {.events = EPOLLIN, .data.fd = b->wakefd};
    if (epoll_ctl(b->epfd, EPOLL_CTL_ADD, b->wakefd, &ev) < 0)
        return -errno;
    return 0;
}

void wr_bus_loop_free(struct wr_bus *b)
{
    if (b->epfd >= 0)
        close(b->epfd);
    if (b->wakefd >= 0)
        close(b->wakefd);
    b->epfd = b->wakefd = -1;
    free(b->watches);
    free(b->timeouts);
    b->watches = NULL;
    b->timeouts = NULL;
    b->n_watches = b->n_timeouts = b->cap_watches = b->cap_timeouts = 0;
}

bool wr_bus_loop_attach(struct wr_bus *b, DBusConnection *c)
{
    if (!dbus_connection_set_watch_functions(c, add_watch, remove_watch, toggle_watch, b, NULL) ||
        !dbus_connection_set_timeout_functions(c, add_timeout, remove_timeout, toggle_timeout, b, NULL))
        return false;
    dbus_connection_set_wakeup_main_function(c, wake_main, b, NULL);
    dbus_connection_set_dispatch_status_function(c, dispatch_status, b, NULL);
    /* Messages may already wait (read during the blocking Hello and RequestName). */
    wr_bus_loop_wake(b);
    return true;
}

void wr_bus_loop_detach(struct wr_bus *b, DBusConnection *c)
{
    /* Replacing the functions makes libdbus call remove_* for every watch and timeout it had. */
    dbus_connection_set_watch_functions(c, NULL, NULL, NULL, NULL, NULL);
    dbus_connection_set_timeout_functions(c, NULL, NULL, NULL, NULL, NULL);
    dbus_connection_set_wakeup_main_function(c, NULL, NULL, NULL);
    dbus_connection_set_dispatch_status_function(c, NULL, NULL, NULL);
    (void)b;
}

void wr_bus_loop_iterate(struct wr_bus *b, int timeout_ms)
{
    struct epoll_event ev[16];
    int n = epoll_wait(b->epfd, ev, 16, timeout_ms);
    for (int i = 0; i < n; i++) {
        if (ev[i].data.fd == b->wakefd) {
            uint64_t v;
            while (read(b->wakefd, &v, sizeof v) == (ssize_t)sizeof v)
                ;
            continue;
        }
        handle_fd(b, ev[i].data.fd, ev[i].events);
    }
    run_timeouts(b);
    DBusConnection *c = wr_bus_conn(b);
    if (c) {
        while (dbus_connection_dispatch(c) == DBUS_DISPATCH_DATA_REMAINS)
            ;
        dbus_connection_unref(c);
    }
    wr_bus_maintain(b);
}

int wr_bus_loop_next_ms(struct wr_bus *b)
{
    uint64_t now = wr_now_usec(), best = UINT64_MAX;
    pthread_mutex_lock(&b->wmu);
    for (size_t i = 0; i < b->n_timeouts; i++)
        if (dbus_timeout_get_enabled(b->timeouts[i].t) && b->timeouts[i].due < best)
            best = b->timeouts[i].due;
    pthread_mutex_unlock(&b->wmu);
    pthread_mutex_lock(&b->cmu);
    if (b->lost)
        best = now; /* wr_bus_maintain has to drop the connection */
    else if (!b->conn && b->reconnect_at < best)
        best = b->reconnect_at;
    pthread_mutex_unlock(&b->cmu);
    if (best == UINT64_MAX)
        return -1;
    if (best <= now)
        return 0;
    uint64_t ms = (best - now + 999) / 1000;
    return ms > INT32_MAX ? INT32_MAX : (int)ms;
}

void wr_bus_loop_wake(struct wr_bus *b)
{
    uint64_t one = 1;
    ssize_t r = write(b->wakefd, &one, sizeof one);
    (void)r; /* EAGAIN: the counter is already non-zero, the loop wakes anyway */
}

void *wr_bus_loop_main(void *arg)
{
    struct wr_bus *b = arg;
    while (!atomic_load(&b->stop))
        wr_bus_loop_iterate(b, wr_bus_loop_next_ms(b));
    return NULL;
}

static dbus_bool_t add_watch(DBusWatch *wt, void *data)
{
    struct wr_bus *b = data;
    pthread_mutex_lock(&b->wmu);
    if (b->n_watches == b->cap_watches) {
        size_t cap = b->cap_watches ? 2 * b->cap_watches : 4;
        DBusWatch **v = realloc(b->watches, cap * sizeof *v);
        if (!v) {
            pthread_mutex_unlock(&b->wmu);
            return FALSE;
        }
        b->watches = v;
        b->cap_watches = cap;
    }
    b->watches[b->n_watches++] = wt;
    update_fd(b, dbus_watch_get_unix_fd(wt));
    pthread_mutex_unlock(&b->wmu);
    return TRUE;
}

static void remove_watch(DBusWatch *wt, void *data)
{
    struct wr_bus *b = data;
    pthread_mutex_lock(&b->wmu);
    for (size_t i = 0; i < b->n_watches; i++)
        if (b->watches[i] == wt) {
            b->watches[i] = b->watches[--b->n_watches];
            break;
        }
    update_fd(b, dbus_watch_get_unix_fd(wt));
    pthread_mutex_unlock(&b->wmu);
}

static void toggle_watch(DBusWatch *wt, void *data)
{
    struct wr_bus *b = data;
    pthread_mutex_lock(&b->wmu);
    update_fd(b, dbus_watch_get_unix_fd(wt));
    pthread_mutex_unlock(&b->wmu);
}

static uint64_t timeout_due(DBusTimeout *t)
{
    return wr_now_usec() + (uint64_t)dbus_timeout_get_interval(t) * 1000u;
}

static dbus_bool_t add_timeout(DBusTimeout *t, void *data)
{
    struct wr_bus *b = data;
    pthread_mutex_lock(&b->wmu);
    if (b->n_timeouts == b->cap_timeouts) {
        size_t cap = b->cap_timeouts ? 2 * b->cap_timeouts : 4;
        struct wr_bus_timeout *v = realloc(b->timeouts, cap * sizeof *v);
        if (!v) {
            pthread_mutex_unlock(&b->wmu);
            return FALSE;
        }
        b->timeouts = v;
        b->cap_timeouts = cap;
    }
    b->timeouts[b->n_timeouts++] = (struct wr_bus_timeout){t, timeout_due(t)};
    pthread_mutex_unlock(&b->wmu);
    wr_bus_loop_wake(b); /* the loop may be sleeping past the new deadline */
    return TRUE;
}

static void remove_timeout(DBusTimeout *t, void *data)
{
    struct wr_bus *b = data;
    pthread_mutex_lock(&b->wmu);
    for (size_t i = 0; i < b->n_timeouts; i++)
        if (b->timeouts[i].t == t) {
            b->timeouts[i] = b->timeouts[--b->n_timeouts];
            break;
        }
    pthread_mutex_unlock(&b->wmu);
}

static void toggle_timeout(DBusTimeout *t, void *data)
{
    struct wr_bus *b = data;
    pthread_mutex_lock(&b->wmu);
    for (size_t i = 0; i < b->n_timeouts; i++)
        if (b->timeouts[i].t == t)
            b->timeouts[i].due = timeout_due(t);
    pthread_mutex_unlock(&b->wmu);
    wr_bus_loop_wake(b);
}

static void wake_main(void *data)
{
    wr_bus_loop_wake(data);
}

static void dispatch_status(DBusConnection *c, DBusDispatchStatus st, void *data)
{
    (void)c;
    if (st != DBUS_DISPATCH_COMPLETE)
        wr_bus_loop_wake(data);
}

/* Hand the events of fd to each of its watches. A watch may be removed by the handling of another
 * (the connection breaking), so each is looked up again before it is used. */
static void handle_fd(struct wr_bus *b, int fd, uint32_t events)
{
    DBusWatch *mine[8];
    size_t n = 0;
    pthread_mutex_lock(&b->wmu);
    for (size_t i = 0; i < b->n_watches && n < 8; i++)
        if (dbus_watch_get_unix_fd(b->watches[i]) == fd && dbus_watch_get_enabled(b->watches[i]))
            mine[n++] = b->watches[i];
    pthread_mutex_unlock(&b->wmu);
    for (size_t i = 0; i < n; i++) {
        if (!watch_known(b, mine[i]))
            continue;
        unsigned wf = dbus_watch_get_flags(mine[i]), flags = 0;
        if ((events & EPOLLIN) && (wf & DBUS_WATCH_READABLE))
            flags |= DBUS_WATCH_READABLE;
        if ((events & EPOLLOUT) && (wf & DBUS_WATCH_WRITABLE))
            flags |= DBUS_WATCH_WRITABLE;
        if (events & EPOLLERR)
            flags |= DBUS_WATCH_ERROR;
        if (events & EPOLLHUP)
            flags |= DBUS_WATCH_HANGUP;
        if (flags)
            dbus_watch_handle(mine[i], flags);
    }
}

static bool watch_known(struct wr_bus *b, DBusWatch *wt)
{
    bool known = false;
    pthread_mutex_lock(&b->wmu);
    for (size_t i = 0; i < b->n_watches && !known; i++)
        known = b->watches[i] == wt && dbus_watch_get_enabled(wt);
    pthread_mutex_unlock(&b->wmu);
    return known;
}

static void run_timeouts(struct wr_bus *b)
{
    DBusTimeout *due[16];
    size_t n = 0;
    uint64_t now = wr_now_usec();
    pthread_mutex_lock(&b->wmu);
    for (size_t i = 0; i < b->n_timeouts && n < 16; i++) {
        struct wr_bus_timeout *t = &b->timeouts[i];
        if (dbus_timeout_get_enabled(t->t) && t->due <= now) {
            due[n++] = t->t;
            t->due = timeout_due(t->t);
        }
    }
    pthread_mutex_unlock(&b->wmu);
    for (size_t i = 0; i < n; i++) {
        bool known = false;
        pthread_mutex_lock(&b->wmu);
        for (size_t k = 0; k < b->n_timeouts && !known; k++)
            known = b->timeouts[k].t == due[i];
        pthread_mutex_unlock(&b->wmu);
        if (known)
            dbus_timeout_handle(due[i]);
    }
}

/* Under wmu: make the epoll registration of fd match its enabled watches. */
static void update_fd(struct wr_bus *b, int fd)
{
    uint32_t events = 0;
    bool any = false;
    for (size_t i = 0; i < b->n_watches; i++) {
        if (dbus_watch_get_unix_fd(b->watches[i]) != fd)
            continue;
        any = true;
        if (!dbus_watch_get_enabled(b->watches[i]))
            continue;
        unsigned f = dbus_watch_get_flags(b->watches[i]);
        if (f & DBUS_WATCH_READABLE)
            events |= EPOLLIN;
        if (f & DBUS_WATCH_WRITABLE)
            events |= EPOLLOUT;
    }
    struct epoll_event ev = {.events = events, .data.fd = fd};
    /* Registered with no events, a hung-up socket would still report EPOLLHUP on every pass. */
    if (!any || !events) {
        epoll_ctl(b->epfd, EPOLL_CTL_DEL, fd, NULL);
        return;
    }
    if (epoll_ctl(b->epfd, EPOLL_CTL_MOD, fd, &ev) < 0 && errno == ENOENT)
        epoll_ctl(b->epfd, EPOLL_CTL_ADD, fd, &ev);
}
