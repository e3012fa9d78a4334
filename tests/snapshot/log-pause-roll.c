/*
 * log-pause-roll — a regression test for the log under an OS snapshot freeze (log_pause), built
 * step by step instead of hoped for under load (snapshot-copy hits it about once in a few hundred
 * freezes). The interleaving:
 *
 *   1. a committer leads a flush and is inside fdatasync (held there by an I/O hook);
 *   2. more is appended (lazy), so the log is not durable up to its tip;
 *   3. log_pause starts and waits for that flush, with the log already marked paused;
 *   4. an appender whose record does not fit starts a roll: it takes the log's exclusive append
 *      right, puts the seal in the buffer and waits for log_resume;
 *   5. the flush ends; log_pause writes and syncs the buffer (seal included) itself;
 *   6. while paused, another appender comes; then log_resume, the roll finishes.
 *
 * log_pause used to clear the roller's exclusive right after its own flush, so the appender of
 * step 6 put its record right after the seal — a place no scan ever reads — and its commit,
 * acknowledged after the thaw, was gone for crash recovery. The test checks that the step-6
 * appender waits for the resume and that a scan of the log finds its record.
 * Exit 0 = pass; one summary line.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <time.h>

#include "io-int.h"
#include "jet.h"
#include "log-int.h"
#include "../unit/testutil.h"

#define FILE_SIZE (64u * 1024u)
#define BIG 20000u

static eng_log *g_lg;
static atomic_int g_block_sync, g_in_sync, g_c_done;

static void fail(const char *what)
{
    fprintf(stderr, "log-pause-roll: %s\n", what);
    exit(1);
}

static void nap_ms(unsigned ms)
{
    struct timespec ts = {0, (long)ms * 1000000L};
    nanosleep(&ts, NULL);
}

/* Holds a sync while g_block_sync is set: the leader of step 1 stays in flight. */
static int hold_sync(void *ctx, enum eng_io_op op, int fd, const char *path, uint64_t off, size_t len)
{
    (void)ctx, (void)fd, (void)path, (void)off, (void)len;
    if (op == ENG_IO_SYNC && atomic_load(&g_block_sync)) {
        atomic_store(&g_in_sync, 1);
        while (atomic_load(&g_block_sync))
            nap_ms(1);
    }
    return 0;
}

static void append(const char *tag, size_t n, eng_lsn *end)
{
    char *b = calloc(1, n);
    if (!b)
        fail("out of memory");
    memcpy(b, tag, strlen(tag));
    struct iovec iov = {b, n};
    eng_logrec r = {ENG_LR_PAGE, &iov, 1};
    if (log_append(g_lg, &r, 1, NULL, end))
        fail("log_append failed");
    free(b);
}

static void *committer(void *a)
{
    (void)a;
    eng_lsn e;
    append("A", 100, &e);
    if (log_flush(g_lg, e))
        fail("log_flush failed");
    return NULL;
}

static void *pauser(void *a)
{
    (void)a;
    if (log_pause(g_lg))
        fail("log_pause failed");
    return NULL;
}

static void *roller(void *a)
{
    (void)a;
    eng_lsn e;
    append("B-roll", BIG, &e);
    return NULL;
}

static void *late(void *a)
{
    (void)a;
    eng_lsn e;
    append("C-late", 100, &e);
    atomic_store(&g_c_done, 1);
    return NULL;
}

int main(void)
{
    char *dir = tu_mkdtemp("log-pause-roll");
    eng_log_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.dir = dir;
    memcpy(cfg.base, "edb", 4);
    cfg.file_size = FILE_SIZE;
    cfg.sig.random = 1;
    cfg.sig.create_time_usec = 1;
    if (log_writer_open(&cfg, 1, &g_lg))
        fail("log_writer_open failed");
    /* Fill generation 1 until a BIG record no longer fits but small ones do. */
    eng_lsn e;
    uint32_t room;
    while ((room = FILE_SIZE - ENG_LSN_OFF(log_tip(g_lg))) > BIG) {
        append("fill", room > 2 * BIG + 1000 ? BIG : 1000, &e);
        if (log_flush(g_lg, e))
            fail("log_flush failed");
    }
    eng_io_set_fault_hook(hold_sync, NULL);
    pthread_t a, p, b, c;
    atomic_store(&g_block_sync, 1);
    pthread_create(&a, NULL, committer, NULL); /* step 1 */
    while (!atomic_load(&g_in_sync))
        nap_ms(1);
    append("M-lazy", 100, &e);                 /* step 2 */
    pthread_create(&p, NULL, pauser, NULL);    /* step 3 */
    nap_ms(100);
    pthread_create(&b, NULL, roller, NULL);    /* step 4 */
    nap_ms(100);
    atomic_store(&g_block_sync, 0);            /* step 5 */
    pthread_join(a, NULL);
    pthread_join(p, NULL);
    pthread_create(&c, NULL, late, NULL);      /* step 6 */
    nap_ms(100);
    bool went_through = atomic_load(&g_c_done);
    log_resume(g_lg);
    pthread_join(b, NULL);
    pthread_join(c, NULL);
    eng_io_set_fault_hook(NULL, NULL);
    append("end", 100, &e);
    if (log_flush(g_lg, e) || log_writer_close(g_lg))
        fail("the final flush failed");
    if (went_through)
        fail("an append went through while a roll waited for the resume (it lands after the seal)");

    eng_logscan *sc;
    if (logscan_open(&cfg, ENG_LSN(1, 0), &sc))
        fail("logscan_open failed");
    eng_logrec_view v;
    int r, n = 0;
    bool found = false;
    while ((r = logscan_next(sc, &v)) == 0) {
        n++;
        found |= v.len >= 6 && !memcmp(v.data, "C-late", 6);
    }
    logscan_close(sc);
    if (r != 1)
        fail("the scan of the log failed");
    if (!found)
        fail("the record appended during the freeze is not in the log any scan reads");
    tu_rmtree(dir);
    free(dir);
    printf("log-pause-roll: a roll waiting through a freeze keeps its exclusive append; %d records scanned\n", n);
    return 0;
}
