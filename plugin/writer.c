/*
 * writer.c — the writer's life and what it reports: open (host or adopt mode), close, status, and
 * the queue that delivers events and log lines outside the writer's mutex (writer-int.h).
 */
#include <errno.h>
#include <stddef.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "writer-int.h"

static void loader_log(void *ctx, enum wr_log_level level, const char *instance, enum wr_event event,
                       const char *message);
static int open_config(jetsnap_writer *w, const char *path, struct jetsnap_error *err);
static int start_host(jetsnap_writer *w, struct jetsnap_error *err);
static int find_adopted(jetsnap_writer *w, struct jetsnap_error *err);
static void writer_free(jetsnap_writer *w);

int wr_open(const struct jetsnap_open_args *args, jetsnap_writer **pw, struct jetsnap_error *err)
{
    /* A host built against an older 1.x header passes a shorter struct: the members it does not
     * know keep their defaults (zero: the config's bus, on the writer's own thread). */
    struct jetsnap_open_args a = {0};
    if (!args || !pw || args->struct_size < offsetof(struct jetsnap_open_args, bus_address) || !args->config_path)
        return wr_fail(err, JETSNAP_E_INVALID_ARGS, 0, "open needs its arguments and a configuration path");
    memcpy(&a, args, args->struct_size < sizeof a ? args->struct_size : sizeof a);
    args = &a;
    if (args->mode != JETSNAP_MODE_HOST && args->mode != JETSNAP_MODE_ADOPT)
        return wr_fail(err, JETSNAP_E_INVALID_ARGS, 0, "unknown mode %d", (int)args->mode);
    if (args->bus_loop != JETSNAP_BUS_THREAD && args->bus_loop != JETSNAP_BUS_HOST &&
        args->bus_loop != JETSNAP_BUS_NONE)
        return wr_fail(err, JETSNAP_E_INVALID_ARGS, 0, "unknown bus loop %d", (int)args->bus_loop);
    jetsnap_writer *w = calloc(1, sizeof *w);
    if (!w)
        return wr_fail(err, JETSNAP_E_NO_MEMORY, 0, "out of memory");
    w->mode = args->mode;
    w->log = args->log;
    w->log_ctx = args->log_ctx;
    w->event = args->event;
    w->event_ctx = args->event_ctx;
    w->next_id = 1;
    w->agg_state = "stable";
    pthread_mutex_init(&w->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&w->cv, &ca);
    pthread_condattr_destroy(&ca);

    int rc = open_config(w, args->config_path, err);
    if (rc == JETSNAP_OK)
        rc = w->mode == JETSNAP_MODE_HOST ? start_host(w, err) : find_adopted(w, err);
    if (rc == JETSNAP_OK)
        rc = wr_bus_start(w, args->bus_address, args->bus_loop, err);
    if (rc == JETSNAP_OK) {
        if (pthread_create(&w->timer, NULL, wr_timer_main, w) == 0)
            w->timer_started = true;
        else
            rc = wr_fail(err, JETSNAP_E_NO_MEMORY, 0, "cannot start the freeze timer thread");
    }
    if (rc != JETSNAP_OK) {
        writer_free(w);
        return rc;
    }
    *pw = w;
    return JETSNAP_OK;
}

void wr_close(jetsnap_writer *w)
{
    if (!w)
        return;
    /* Streaming backups first: their producers read instances the close will end. */
    wr_xb_close_all(w);
    pthread_mutex_lock(&w->mu);
    w->stopping = true;
    wr_end_all(w, "shutdown");
    pthread_cond_broadcast(&w->cv);
    /* A freezer thread still inside JetOSSnapshotFreeze holds the writer: wait for it (it
     * thaws what it froze, since its session was abandoned above). */
    while (w->freezers > 0)
        pthread_cond_wait(&w->cv, &w->mu);
    wr_unlock_flush(w);
    /* After the sessions ended, so that their AutoThawed("shutdown") went out on the bus. */
    wr_bus_stop(w);
    if (w->timer_started)
        pthread_join(w->timer, NULL);
    w->timer_started = false;
    writer_free(w);
}

int wr_status(jetsnap_writer *w, struct jetsnap_status **pst, struct jetsnap_error *err)
{
    if (!w || !pst)
        return wr_fail(err, JETSNAP_E_INVALID_ARGS, 0, "status needs a writer and somewhere to put it");
    pthread_mutex_lock(&w->mu);
    size_t strings = 0;
    for (size_t i = 0; i < w->n_inst; i++)
        strings += strlen(w->inst[i].name) + 1 + strlen(w->inst[i].message) + 1;
    const char *owner = w->cur ? w->cur->owner : "";
    size_t size = sizeof(struct jetsnap_status) + w->n_inst * sizeof(struct jetsnap_instance) + strings +
                  strlen(owner) + 1;
    struct jetsnap_status *st = calloc(1, size);
    if (!st) {
        pthread_mutex_unlock(&w->mu);
        return wr_fail(err, JETSNAP_E_NO_MEMORY, 0, "out of memory");
    }
    /* One block: the struct, the instance array, then the strings. */
    st->instances = (struct jetsnap_instance *)(st + 1);
    char *p = (char *)(st->instances + w->n_inst);
    uint64_t now = wr_now_usec();
    for (size_t i = 0; i < w->n_inst; i++) {
        const struct wr_inst *in = &w->inst[i];
        struct jetsnap_instance *o = &st->instances[i];
        o->name = strcpy(p, in->name);
        p += strlen(p) + 1;
        o->message = strcpy(p, in->message);
        p += strlen(p) + 1;
        o->instance = in->inst;
        o->state = wr_inst_state_name(in->state);
        o->last_error = in->last_error;
        o->frozen_since_usec = in->frozen_since;
    }
    st->n_instances = w->n_inst;
    st->owner = strcpy(p, owner);
    st->state = w->agg_state;
    static const char *const types[] = {"full", "incremental", "differential", "copy"};
    if (w->cur) {
        st->session = w->cur->id;
        st->session_state = wr_sess_state_name(w->cur->state);
        st->backup_type = types[w->cur->type];
        st->frozen_usec = w->cur->state == WR_SS_FROZEN ? now - w->cur->frozen_at : 0;
    } else {
        st->session_state = "";
        st->backup_type = "";
    }
    pthread_mutex_unlock(&w->mu);
    *pst = st;
    return JETSNAP_OK;
}

void wr_inst_get(jetsnap_writer *w, size_t i, struct wr_inst_view *v)
{
    pthread_mutex_lock(&w->mu);
    const struct wr_inst *in = &w->inst[i];
    v->state = wr_inst_state_name(in->state);
    v->last_error = in->last_error;
    snprintf(v->message, sizeof v->message, "%s", in->message);
    v->frozen_since = in->frozen_since;
    pthread_mutex_unlock(&w->mu);
}

void wr_status_free(struct jetsnap_status *st)
{
    free(st);
}

void wr_results_free(struct jetsnap_result *r, size_t n)
{
    (void)n; /* one block: the array and its strings */
    free(r);
}

const char *wr_error_name(int code)
{
    switch (code) {
    case JETSNAP_E_BUSY:
        return "org.jetsnap.Writer1.Error.Busy";
    case JETSNAP_E_TIMEOUT:
        return "org.jetsnap.Writer1.Error.Timeout";
    case JETSNAP_E_RETRYABLE:
        return "org.jetsnap.Writer1.Error.Retryable";
    case JETSNAP_E_NONRETRYABLE:
    case JETSNAP_E_CONFIG:
    case JETSNAP_E_MODE:
    case JETSNAP_E_BUS:
        return "org.jetsnap.Writer1.Error.NonRetryable";
    case JETSNAP_E_INVALID_STATE:
        return "org.jetsnap.Writer1.Error.InvalidState";
    case JETSNAP_E_UNKNOWN_SESSION:
        return "org.jetsnap.Writer1.Error.UnknownSession";
    case JETSNAP_E_UNKNOWN_INSTANCE:
        return "org.jetsnap.Writer1.Error.UnknownInstance";
    case JETSNAP_E_NOT_SUPPORTED:
        return "org.jetsnap.Writer1.Error.NotSupported";
    case JETSNAP_E_INVALID_ARGS:
        return "org.freedesktop.DBus.Error.InvalidArgs";
    case JETSNAP_E_NO_MEMORY:
        return "org.freedesktop.DBus.Error.NoMemory";
    case WR_E_ACCESS_DENIED:
        return "org.freedesktop.DBus.Error.AccessDenied";
    case WR_E_LIMITS:
        return "org.freedesktop.DBus.Error.LimitsExceeded";
    default:
        return NULL;
    }
}

/* Fill err: the message starts with the JET_err's name and number when there is one. */
int wr_fail(struct jetsnap_error *err, int code, JET_ERR jet, const char *fmt, ...)
{
    if (!err)
        return code;
    err->code = code;
    err->jet_err = jet;
    size_t off = 0;
    if (jet) {
        const char *name = wr_jet_err_name(jet);
        int k = snprintf(err->message, sizeof err->message, "%s (%ld): ", name ? name : "JET_err", (long)jet);
        off = k > 0 && (size_t)k < sizeof err->message ? (size_t)k : 0;
    }
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->message + off, sizeof err->message - off, fmt, ap);
    va_end(ap);
    return code;
}

uint64_t wr_now_usec(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

const char *wr_inst_state_name(enum wr_inst_state s)
{
    static const char *const n[] = {"running", "quiescing", "frozen", "stopped", "failed"};
    return n[s];
}

const char *wr_sess_state_name(enum wr_sess_state s)
{
    static const char *const n[] = {"prepared", "freezing", "frozen", "thawed",
                                    "completed", "aborted", "failed-at-freeze"};
    return n[s];
}

void wr_set_inst_state(jetsnap_writer *w, struct wr_inst *in, enum wr_inst_state s)
{
    if (in->state == s)
        return;
    wr_queue_event(w, JETSNAP_EVENT_INSTANCE_STATE, 0, in->name, wr_inst_state_name(in->state),
                   wr_inst_state_name(s), NULL, NULL, 0);
    in->state = s;
    in->frozen_since = s == WR_IS_FROZEN ? wr_now_usec() : 0;
}

void wr_update_agg(jetsnap_writer *w)
{
    const char *s = w->last_failed ? "failed" : "stable";
    if (w->cur) {
        switch (w->cur->state) {
        case WR_SS_PREPARED:
        case WR_SS_FREEZING:
            s = "preparing";
            break;
        case WR_SS_FROZEN:
            s = "frozen";
            break;
        case WR_SS_THAWED:
            s = "thawing";
            break;
        default:
            break;
        }
    }
    if (strcmp(s, w->agg_state) != 0) {
        wr_queue_event(w, JETSNAP_EVENT_WRITER_STATE, 0, NULL, w->agg_state, s, NULL, NULL, 0);
        w->agg_state = s;
    }
}

static struct wr_queued *queue_slot(jetsnap_writer *w)
{
    if (w->n_queue == w->cap_queue) {
        size_t cap = w->cap_queue ? 2 * w->cap_queue : 16;
        struct wr_queued *q = realloc(w->queue, cap * sizeof *q);
        if (!q)
            return NULL; /* out of memory: the event is lost, the state itself is right */
        w->queue = q;
        w->cap_queue = cap;
    }
    struct wr_queued *q = &w->queue[w->n_queue++];
    memset(q, 0, sizeof *q);
    return q;
}

static void copy_str(char *dst, size_t n, const char *src)
{
    snprintf(dst, n, "%s", src ? src : "");
}

void wr_queue_log(jetsnap_writer *w, int priority, const char *instance, int event_id, const char *fmt, ...)
{
    if (!w->log)
        return;
    struct wr_queued *q = queue_slot(w);
    if (!q)
        return;
    q->is_log = true;
    q->priority = priority;
    q->event_id = event_id;
    copy_str(q->instance, sizeof q->instance, instance);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(q->message, sizeof q->message, fmt, ap);
    va_end(ap);
}

void wr_queue_event(jetsnap_writer *w, enum jetsnap_event_kind kind, uint32_t session, const char *instance,
                    const char *old_state, const char *new_state, const char *reason,
                    struct jetsnap_result *results, size_t n_results)
{
    struct wr_queued *q = w->event || w->bus ? queue_slot(w) : NULL;
    if (!q) {
        wr_results_free(results, n_results);
        return;
    }
    q->kind = kind;
    q->session = session;
    copy_str(q->instance, sizeof q->instance, instance);
    copy_str(q->old_state, sizeof q->old_state, old_state);
    copy_str(q->new_state, sizeof q->new_state, new_state);
    copy_str(q->reason, sizeof q->reason, reason);
    q->results = results;
    q->n_results = n_results;
}

/* Delivery keeps the order in which events were queued, also across threads: each flush takes a
 * ticket under the mutex and delivers when the flushes before it are done. A callback must not
 * call a function that changes state (it would wait for its own ticket). */
void wr_unlock_flush(jetsnap_writer *w)
{
    if (w->n_queue == 0) {
        pthread_mutex_unlock(&w->mu);
        return;
    }
    size_t n = w->n_queue;
    struct wr_queued *q = w->queue;
    w->queue = NULL;
    w->n_queue = w->cap_queue = 0;
    uint64_t ticket = w->ticket_next++;
    while (w->ticket_serving != ticket)
        pthread_cond_wait(&w->cv, &w->mu);
    pthread_mutex_unlock(&w->mu);
    for (size_t i = 0; i < n; i++) {
        const struct wr_queued *e = &q[i];
        if (e->is_log) {
            w->log(w->log_ctx, e->priority, e->instance[0] ? e->instance : NULL, e->event_id, e->message);
            continue;
        }
        struct jetsnap_event ev = {
            .kind = e->kind,
            .session = e->session,
            .instance = e->instance[0] ? e->instance : NULL,
            .old_state = e->old_state,
            .new_state = e->new_state,
            .reason = e->reason,
            .results = e->results,
            .n_results = e->n_results,
        };
        if (w->bus)
            wr_bus_event(w, &ev);
        if (w->event)
            w->event(w->event_ctx, &ev);
        wr_results_free(e->results, e->n_results);
    }
    free(q);
    pthread_mutex_lock(&w->mu);
    w->ticket_serving++;
    pthread_cond_broadcast(&w->cv);
    pthread_mutex_unlock(&w->mu);
}

static void loader_log(void *ctx, enum wr_log_level level, const char *instance, enum wr_event event,
                       const char *message)
{
    jetsnap_writer *w = ctx;
    if (w->log)
        w->log(w->log_ctx, (int)level, instance, (int)event, message);
}

static int open_config(jetsnap_writer *w, const char *path, struct jetsnap_error *err)
{
    struct conf_diags *d = NULL;
    int rc = conf_load_file(path, &w->cfg, &d);
    if (rc == CONF_OK) {
        conf_diags_free(d);
        return JETSNAP_OK;
    }
    for (size_t i = 0; d && w->log && i < d->count; i++)
        w->log(w->log_ctx, JETSNAP_LOG_ERR, NULL, 0, d->items[i].text);
    if (rc == CONF_ENOMEM)
        wr_fail(err, JETSNAP_E_NO_MEMORY, 0, "out of memory reading %s", path);
    else
        wr_fail(err, JETSNAP_E_CONFIG, 0, "%s", d && d->count ? d->items[0].text : path);
    conf_diags_free(d);
    return err ? err->code : (rc == CONF_ENOMEM ? JETSNAP_E_NO_MEMORY : JETSNAP_E_CONFIG);
}

static int alloc_instances(jetsnap_writer *w, struct jetsnap_error *err)
{
    w->n_inst = w->cfg->n_instances;
    w->inst = calloc(w->n_inst, sizeof *w->inst);
    if (!w->inst)
        return wr_fail(err, JETSNAP_E_NO_MEMORY, 0, "out of memory");
    for (size_t i = 0; i < w->n_inst; i++) {
        w->inst[i].name = strdup(w->cfg->instances[i].name);
        if (!w->inst[i].name)
            return wr_fail(err, JETSNAP_E_NO_MEMORY, 0, "out of memory");
    }
    return JETSNAP_OK;
}

static int start_host(jetsnap_writer *w, struct jetsnap_error *err)
{
    if (alloc_instances(w, err) != JETSNAP_OK)
        return err ? err->code : JETSNAP_E_NO_MEMORY;
    if (wr_load(w->cfg, loader_log, w, &w->loaded) != WR_OK)
        return wr_fail(err, JETSNAP_E_NO_MEMORY, 0, "out of memory starting the instances");
    const struct wr_instance *first_failed = NULL;
    for (size_t i = 0; i < w->loaded->n; i++) {
        const struct wr_instance *li = &w->loaded->instances[i];
        struct wr_inst *in = &w->inst[i];
        if (li->state == WR_INSTANCE_RUNNING) {
            in->inst = li->inst;
            in->state = WR_IS_RUNNING;
            continue;
        }
        in->state = WR_IS_FAILED;
        in->last_error = li->err;
        copy_str(in->message, sizeof in->message, li->message);
        if (!first_failed)
            first_failed = li;
        /* A process already in legacy one-instance mode cannot host the writer's instances at all:
         * say so by name rather than as one more failed instance. */
        if (li->err == JET_errRunningInOneInstanceMode)
            return wr_fail(err, JETSNAP_E_MODE, li->err,
                           "this process already runs a legacy one-instance engine (JetInit without "
                           "JetCreateInstance), so the writer cannot create its instances; use "
                           "JetCreateInstance2 for every instance, or adopt mode");
    }
    if (w->loaded->n_running == 0)
        return wr_fail(err, JETSNAP_E_NONRETRYABLE, first_failed ? first_failed->err : 0,
                       "no instance could be started; the first: %s",
                       first_failed && first_failed->message ? first_failed->message : "?");
    return JETSNAP_OK;
}

static int find_adopted(jetsnap_writer *w, struct jetsnap_error *err)
{
    if (alloc_instances(w, err) != JETSNAP_OK)
        return err ? err->code : JETSNAP_E_NO_MEMORY;
    unsigned long c = 0;
    JET_INSTANCE_INFO *info = NULL;
    JET_ERR e = JetGetInstanceInfo(&c, &info);
    if (e != JET_errSuccess)
        return wr_fail(err, JETSNAP_E_NONRETRYABLE, e, "cannot list the process's instances");
    size_t found = 0;
    for (size_t i = 0; i < w->n_inst; i++) {
        struct wr_inst *in = &w->inst[i];
        for (unsigned long k = 0; k < c && !in->inst; k++)
            if (info[k].szInstanceName && !strcmp(info[k].szInstanceName, in->name))
                in->inst = info[k].hInstanceId;
        if (in->inst) {
            in->state = WR_IS_RUNNING;
            found++;
        } else {
            in->state = WR_IS_STOPPED;
            copy_str(in->message, sizeof in->message, "no running instance of this name in the process");
            if (w->log)
                w->log(w->log_ctx, JETSNAP_LOG_WARNING, in->name, WR_EV_ADOPT_MISSING,
                       "adopt: no running instance of this name in the process");
        }
    }
    JetFreeBuffer((char *)info);
    if (found == 0)
        return wr_fail(err, JETSNAP_E_NONRETRYABLE, 0,
                       "adopt: none of the %zu configured instances runs in this process (started with "
                       "JetCreateInstance2 under the configured name and initialized?)",
                       w->n_inst);
    return JETSNAP_OK;
}

static void writer_free(jetsnap_writer *w)
{
    wr_bus_stop(w);
    wr_xb_close_all(w); /* a failed open may have streamed nothing; a close has ended them already */
    wr_xb_free_all(w);
    if (w->loaded)
        wr_unload(w->loaded, loader_log, w);
    for (size_t i = 0; i < w->n_inst; i++)
        free(w->inst[i].name);
    free(w->inst);
    for (size_t i = 0; i < WR_ENDED_KEEP; i++)
        if (w->ended[i]) {
            free(w->ended[i]->sel);
            free(w->ended[i]);
        }
    free(w->queue);
    conf_free(w->cfg);
    pthread_cond_destroy(&w->cv);
    pthread_mutex_destroy(&w->mu);
    free(w);
}
