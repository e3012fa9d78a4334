/*
 * ctl-backup-stream.c — one file of a backup: the writer's socket read to EOF into the
 * destination in large page-aligned chunks, with the CRC-32C of the uncompressed bytes computed on
 * the way (a zstd stream is decompressed on the side) so that it can be held against the writer's
 * GetFileResult and recorded in the manifest. EOF proves nothing by itself: the caller asks.
 *
 * Two buffers and a writing thread: while one chunk goes to the disk (an O_DIRECT write waits for
 * the device), the next is read from the socket and checksummed, so the writer's producer is never
 * held up by our disk and the disk never waits for the producer. Reading one chunk while writing
 * the one before is what keeps a single-stream copy at the disk's speed. The buffers are made once
 * per backup (struct ctl_streamer): fresh memory costs a page fault per 4 KiB on first touch, which
 * on a virtual machine took longer than streaming a small file.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "ctl-int.h"

/* The hand-over between the reading (calling) thread and the writing thread. */
struct handoff {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct ctl_dest *d;
    const void *buf; /* the chunk to write, while pending */
    size_t len;
    bool pending, quit, failed;
    char err[4096];
};

static void *write_main(void *arg);
static bool post(struct handoff *h, const void *buf, size_t len);
static void wait_idle(struct handoff *h);
static size_t fill(int fd, void *buf, size_t cap, bool *eof, struct ctl_unpack *u, struct ctl_streamer *sb,
                   const char *stored_as, char *err, size_t n);
static void pace(struct ctl_streamer *sb, size_t got);

bool ctl_streamer_init(struct ctl_streamer *sb, uint64_t max_rate, char *err, size_t n)
{
    sb->buf[0] = sb->buf[1] = NULL;
    sb->max_rate = max_rate;
    sb->paced_bytes = 0;
    sb->t0_usec = ctl_mono_usec();
    for (int i = 0; i < 2; i++) {
        if (posix_memalign(&sb->buf[i], CTL_HUGE_ALIGN, CTL_STREAM_BUF) != 0) {
            sb->buf[i] = NULL;
            ctl_streamer_free(sb);
            snprintf(err, n, "out of memory");
            return false;
        }
        /* Huge pages where the system gives them on request (transparent_hugepage=madvise): one
         * fault per 2 MiB instead of 512; advice only, so its failure is ignored. */
        (void)madvise(sb->buf[i], CTL_STREAM_BUF, MADV_HUGEPAGE);
    }
    return true;
}

void ctl_streamer_free(struct ctl_streamer *sb)
{
    free(sb->buf[0]);
    free(sb->buf[1]);
    sb->buf[0] = sb->buf[1] = NULL;
}

bool ctl_stream_file(int fd, struct ctl_streamer *sb, struct ctl_dest *d, const char *stored_as,
                     int64_t expected, bool zstd, void (*progress)(void *ctx, uint64_t bytes), void *pctx,
                     struct ctl_stream_result *r, bool *dest_failed, char *err, size_t n)
{
    memset(r, 0, sizeof *r);
    *dest_failed = false;
    void *const *buf = sb->buf;
    struct ctl_unpack u;
    if (!ctl_unpack_init(&u, zstd, NULL, NULL, err, n)) {
        return false;
    }
    struct handoff h = {.mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER, .d = d};
    pthread_t th;
    bool ok = ctl_dest_begin(d, stored_as, expected, err, n);
    *dest_failed = !ok;
    bool started = false;
    if (ok) {
        int e = pthread_create(&th, NULL, write_main, &h);
        if (e != 0) {
            snprintf(err, n, "no thread to write %s: %s", stored_as, strerror(e));
            ok = false;
        }
        started = e == 0;
    }
    for (int cur = 0; ok; cur ^= 1) {
        /* The writing thread holds at most the other buffer: this one is free to fill. */
        bool eof = false;
        size_t have = fill(fd, buf[cur], CTL_STREAM_BUF, &eof, &u, sb, stored_as, err, n);
        if (have == (size_t)-1) {
            ok = false;
            break;
        }
        if (have == 0)
            break;
        if (!post(&h, buf[cur], have)) {
            /* An earlier chunk's write failed: its sentence (ENOSPC, the file) is in h.err. */
            *dest_failed = true;
            ok = false;
            break;
        }
        r->stored += have;
        if (progress)
            progress(pctx, have);
        if (eof)
            break;
    }
    if (started) {
        wait_idle(&h);
        pthread_mutex_lock(&h.mu);
        h.quit = true;
        pthread_cond_broadcast(&h.cv);
        pthread_mutex_unlock(&h.mu);
        pthread_join(th, NULL);
        /* The destination's failure is the one to report, whether the reading side saw it
         * (post refused) or only the last write failed. */
        if (h.failed && (ok || *dest_failed)) {
            snprintf(err, n, "%s", h.err);
            *dest_failed = true;
            ok = false;
        }
    }
    char uerr[256];
    if (ok && !ctl_unpack_end(&u, uerr, sizeof uerr)) {
        snprintf(err, n, "%s: the writer's stream: %s", stored_as, uerr);
        ok = false;
    }
    if (ok && !ctl_dest_end(d, err, n)) {
        *dest_failed = true;
        ok = false;
    }
    r->uncompressed = u.size;
    r->crc = u.crc;
    ctl_unpack_free(&u);
    return ok;
}

static void *write_main(void *arg)
{
    struct handoff *h = arg;
    pthread_mutex_lock(&h->mu);
    for (;;) {
        while (!h->pending && !h->quit)
            pthread_cond_wait(&h->cv, &h->mu);
        if (!h->pending)
            break;
        const void *buf = h->buf;
        size_t len = h->len;
        bool skip = h->failed;
        pthread_mutex_unlock(&h->mu);
        char e[sizeof h->err];
        bool ok = skip || ctl_dest_write(h->d, buf, len, e, sizeof e);
        pthread_mutex_lock(&h->mu);
        if (!ok) {
            h->failed = true;
            memcpy(h->err, e, sizeof e);
        }
        h->pending = false;
        pthread_cond_broadcast(&h->cv);
    }
    pthread_mutex_unlock(&h->mu);
    return NULL;
}

/* Hand a chunk to the writing thread once it has finished the one before; false when a write
 * already failed (the chunk is not written: the caller stops). */
static bool post(struct handoff *h, const void *buf, size_t len)
{
    pthread_mutex_lock(&h->mu);
    while (h->pending)
        pthread_cond_wait(&h->cv, &h->mu);
    bool ok = !h->failed;
    if (ok) {
        h->buf = buf;
        h->len = len;
        h->pending = true;
        pthread_cond_broadcast(&h->cv);
    }
    pthread_mutex_unlock(&h->mu);
    return ok;
}

static void wait_idle(struct handoff *h)
{
    pthread_mutex_lock(&h->mu);
    while (h->pending)
        pthread_cond_wait(&h->cv, &h->mu);
    pthread_mutex_unlock(&h->mu);
}

/* Fill buf from the socket (a destination written in big chunks is what keeps the disk
 * streaming), checksumming (or decompressing) each piece as soon as it is read: in pieces of
 * CTL_READ_PIECE the bytes are still in the CPU's cache, while a pass over the whole buffer
 * afterwards reads it from memory again. The bytes read, with *eof at the end of the stream;
 * (size_t)-1 with err set on a read or stream error. */
static size_t fill(int fd, void *buf, size_t cap, bool *eof, struct ctl_unpack *u, struct ctl_streamer *sb,
                   const char *stored_as, char *err, size_t n)
{
    size_t have = 0;
    while (have < cap) {
        size_t want = cap - have < CTL_READ_PIECE ? cap - have : CTL_READ_PIECE;
        ssize_t got = read(fd, (char *)buf + have, want);
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0) {
            char b[32];
            snprintf(err, n, "%s: reading the writer's stream: %s (%s)", stored_as, strerror(errno),
                     ctl_errno_name(errno, b, sizeof b));
            return (size_t)-1;
        }
        if (got == 0) {
            *eof = true;
            break;
        }
        char uerr[256];
        if (!ctl_unpack_feed(u, (char *)buf + have, (size_t)got, uerr, sizeof uerr)) {
            snprintf(err, n, "%s: the writer's stream: %s", stored_as, uerr);
            return (size_t)-1;
        }
        have += (size_t)got;
        pace(sb, (size_t)got);
    }
    return have;
}

/* With a rate: sleep until the bytes read so far are due (a whole backup's average held to the
 * rate; in CTL_READ_PIECE steps, so the stream is smooth, not bursts). */
static void pace(struct ctl_streamer *sb, size_t got)
{
    if (!sb->max_rate)
        return;
    sb->paced_bytes += got;
    uint64_t due = sb->t0_usec + (uint64_t)((double)sb->paced_bytes * 1e6 / (double)sb->max_rate);
    uint64_t now = ctl_mono_usec();
    if (due > now) {
        struct timespec ts = {(time_t)((due - now) / 1000000), (long)((due - now) % 1000000) * 1000};
        while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
            ;
    }
}
