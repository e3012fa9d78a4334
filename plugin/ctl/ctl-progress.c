/*
 * ctl-progress.c — the progress line of a backup on a terminal: bytes so far of the expected
 * total, the rate and the time left, redrawn in place on stderr. Never on a pipe or file unless
 * asked (--progress=always): logs of scripts should not fill with carriage returns.
 */
#include <stdio.h>
#include <time.h>
#include <unistd.h>

#include "ctl-int.h"

static void draw(struct ctl_progress *p, uint64_t now);
static void human(uint64_t bytes, char *out, size_t n);

void ctl_progress_init(struct ctl_progress *p, int mode)
{
    *p = (struct ctl_progress){0};
    p->on = mode == CTL_PROGRESS_ALWAYS || (mode == CTL_PROGRESS_AUTO && isatty(STDERR_FILENO));
    p->t0_usec = ctl_mono_usec();
}

void ctl_progress_add(struct ctl_progress *p, uint64_t bytes)
{
    p->done += bytes;
    if (!p->on)
        return;
    uint64_t now = ctl_mono_usec();
    if (now - p->last_usec >= 200000) {
        p->last_usec = now;
        draw(p, now);
    }
}

void ctl_progress_clear(struct ctl_progress *p)
{
    if (p->on && p->last_usec) {
        fputs("\r\033[K", stderr);
        fflush(stderr);
        p->last_usec = 0;
    }
}

uint64_t ctl_now_usec(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

uint64_t ctl_mono_usec(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static void draw(struct ctl_progress *p, uint64_t now)
{
    char done[32], total[32], eta[32] = "--:--";
    double secs = (double)(now - p->t0_usec) / 1e6;
    double rate = secs > 0 ? (double)p->done / secs : 0;
    human(p->done, done, sizeof done);
    human(p->total, total, sizeof total);
    /* The total is an estimate (databases grow while streamed): no ETA once past it. */
    if (rate > 0 && p->total > p->done) {
        uint64_t left = (uint64_t)((double)(p->total - p->done) / rate);
        snprintf(eta, sizeof eta, "%llu:%02llu", (unsigned long long)(left / 60), (unsigned long long)(left % 60));
    }
    fprintf(stderr, "\r\033[K%s of ~%s  %.1f MB/s  ETA %s", done, total, rate / 1e6, eta);
    fflush(stderr);
}

static void human(uint64_t bytes, char *out, size_t n)
{
    if (bytes >= (1ull << 30))
        snprintf(out, n, "%.2f GiB", (double)bytes / (double)(1ull << 30));
    else
        snprintf(out, n, "%.1f MiB", (double)bytes / (double)(1ull << 20));
}
