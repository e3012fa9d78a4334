/*
 * events.c — diagnostics. Library code never prints on its own: events go to a callback (the
 * plugin sends them to the journal). Without one, JETSNAP_DEBUG=1 in the environment sends them,
 * and every error where it starts (ENG_RETURN_IF: number, name, file, line, why), to stderr.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "engine-int.h"
#include "errnames-int.h"

static int debug_level(void)
{
    static atomic_int lvl = -1;
    int v = atomic_load(&lvl);
    if (v < 0) {
        const char *e = getenv("JETSNAP_DEBUG");
        v = e && *e && *e != '0' ? 1 : 0;
        atomic_store(&lvl, v);
    }
    return v;
}

long eng_trace_err(long err, const char *file, int line, const char *why)
{
    if (err < 0 && debug_level()) {
        const char *name = eng_err_name(err, NULL);
        fprintf(stderr, "jetsnap: error %ld (%s) at %s:%d%s%s\n", err, name ? name : "unknown", file,
                line, why && *why ? ": " : "", why ? why : "");
    }
    return err;
}

static pthread_mutex_t cb_mu = PTHREAD_MUTEX_INITIALIZER;
static JET_PFNEVENT cb_fn;
static void *cb_ctx;

JET_ERR JET_API JetSetEventCallback(JET_PFNEVENT pfnEvent, void *ctx)
{
    pthread_mutex_lock(&cb_mu);
    cb_fn = pfnEvent;
    cb_ctx = ctx;
    pthread_mutex_unlock(&cb_mu);
    return JET_errSuccess;
}

void eng_event(eng_inst *in, int level, int id, const char *fmt, ...)
{
    pthread_mutex_lock(&cb_mu);
    JET_PFNEVENT fn = cb_fn;
    void *ctx = cb_ctx;
    pthread_mutex_unlock(&cb_mu);
    if (!fn && !debug_level())
        return;
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    const char *name = in && in->has_name ? in->name : NULL;
    if (fn)
        fn(ctx, in ? in->handle : 0, name, level, id, msg);
    else
        fprintf(stderr, "jetsnap[%s] level %d event %d: %s\n", name ? name : "-", level, id, msg);
}

uint64_t eng_now_usec(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

eng_dbsig eng_new_sig(void)
{
    eng_dbsig s;
    uint64_t r = 0;
    FILE *f = fopen("/dev/urandom", "rb");
    if (!f || fread(&r, sizeof r, 1, f) != 1) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        r = (uint64_t)ts.tv_nsec * 0x9E3779B97F4A7C15ULL ^ (uint64_t)(uintptr_t)&r;
    }
    if (f)
        fclose(f);
    s.random = r ? r : 1;
    s.create_time_usec = eng_now_usec();
    return s;
}
