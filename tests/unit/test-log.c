/*
 * test-log.c — the write-ahead log module (log-int.h) on its own, without an engine instance:
 *  - the writer: open, append (single records, gather lists, multi-record runs that cross into the
 *    next generation, concurrent runs that must not interleave), flush, roll, close, and the exact
 *    LSN of every record as the documented placement rule predicts it;
 *  - file names (5 upper-case hex digits, 8 past 0xFFFFF), log_list, log_seal_current on a torn
 *    tail, log_delete_range;
 *  - the scanner: records come back in order with exact payloads and LSNs, and every documented
 *    error for damaged, missing, foreign, renamed, wrong-version and wrong-size files;
 *  - argument limits (payload size, record types);
 *  - group commit (concurrent flushers share syncs) and failure injection through
 *    eng_io_set_fault_hook (ENOSPC, EIO on fdatasync, torn writes, failures while creating files),
 *    including that a failure is sticky.
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "io-int.h"
#include "jet.h"
#include "log-int.h"
#include "logfmt-int.h"
#include "testutil.h"

#define FSIZE (64u * 1024u) /* the smallest allowed generation: rolls come quickly */
#define REC2K 2000u         /* 2016 bytes in the file: exactly 30 records per 64 KiB generation */
#define PER_GEN 30u

static char *dir;
static eng_log_config cfg;
static const eng_logsig sig_a = {0x0123456789ABCDEFull, 1700000000000000ull};
static const eng_logsig sig_b = {0xFEDCBA9876543210ull, 1700000000000001ull};

static void setup(void)
{
    dir = tu_mkdtemp("log");
    memset(&cfg, 0, sizeof cfg);
    cfg.dir = dir;
    memcpy(cfg.base, "edb", 4);
    cfg.file_size = FSIZE;
    cfg.sig = sig_a;
}

static void teardown(void)
{
    eng_io_set_fault_hook(NULL, NULL);
    tu_rmtree(dir);
    free(dir);
}

/* ---------------------------------------------------------------------------------------------
 * Helpers: an in-memory model of what was appended, files, payloads
 * ------------------------------------------------------------------------------------------- */
typedef struct xrec {
    uint16_t type;
    eng_lsn lsn, end;
    size_t len;
    uint8_t *data;
} xrec;

typedef struct model {
    xrec *r;
    size_t n, cap;
} model;

static void fill(uint8_t *p, size_t n, unsigned long long tag)
{
    unsigned long long s = tag * 0x9E3779B97F4A7C15ull + 1;
    for (size_t i = 0; i < n; i++)
        p[i] = (uint8_t)(tu_rand(&s) >> 56);
}

static xrec *model_push(model *m, uint16_t type, size_t len)
{
    if (m->n == m->cap) {
        m->cap = m->cap ? m->cap * 2 : 64;
        m->r = realloc(m->r, m->cap * sizeof *m->r);
        ck_assert_ptr_nonnull(m->r);
    }
    xrec *x = &m->r[m->n++];
    memset(x, 0, sizeof *x);
    x->type = type;
    x->len = len;
    x->data = malloc(len ? len : 1);
    ck_assert_ptr_nonnull(x->data);
    fill(x->data, len, m->n * 7919u + len);
    return x;
}

static void model_free(model *m)
{
    for (size_t i = 0; i < m->n; i++)
        free(m->r[i].data);
    free(m->r);
    memset(m, 0, sizeof *m);
}

/* Append one record as a three-piece gather list and check what log_append reports against the
 * placement rule: right behind the previous record in the same generation, or at the first record
 * slot of a later generation. */
static xrec *append_rec(eng_log *lg, model *m, uint16_t type, size_t len)
{
    xrec *x = model_push(m, type, len);
    size_t a = len / 3, b = len / 2;
    struct iovec iov[3] = {{x->data, a}, {x->data + a, b - a}, {x->data + b, len - b}};
    eng_logrec rec = {type, iov, 3};
    ck_assert_int_eq(log_append(lg, &rec, 1, &x->lsn, &x->end), 0);
    ck_assert_uint_eq(ENG_LSN_GEN(x->end), ENG_LSN_GEN(x->lsn));
    ck_assert_uint_eq(ENG_LSN_OFF(x->end) - ENG_LSN_OFF(x->lsn), log_rec_size(len));
    ck_assert_uint_le(ENG_LSN_OFF(x->end) + LOG_SEAL_SIZE, FSIZE); /* room for the seal */
    ck_assert_uint_eq(x->end, log_tip(lg));
    if (m->n > 1) {
        const xrec *p = &m->r[m->n - 2];
        if (ENG_LSN_GEN(x->lsn) == ENG_LSN_GEN(p->lsn))
            ck_assert_uint_eq(x->lsn, p->end);
        else
            ck_assert_uint_eq(x->lsn, ENG_LSN(ENG_LSN_GEN(p->lsn) + 1, LOG_HDR_SIZE));
    }
    return m->r + m->n - 1;
}

/* Scan from `start` and expect exactly records [from, to) of the model, then `final_rc` (twice:
 * the end and errors are sticky). Returns logscan_end() at that point. */
static eng_lsn expect_scan(const eng_log_config *c, eng_lsn start, const model *m, size_t from, size_t to,
                           int final_rc)
{
    eng_logscan *sc = NULL;
    ck_assert_int_eq(logscan_open(c, start, &sc), 0);
    eng_logrec_view v;
    for (size_t i = from; i < to; i++) {
        const xrec *x = &m->r[i];
        memset(&v, 0, sizeof v);
        int rc = logscan_next(sc, &v);
        if (rc != 0)
            ck_abort_msg("record %zu: logscan_next returned %d", i, rc);
        ck_assert_uint_eq(v.type, x->type);
        ck_assert_uint_eq(v.lsn, x->lsn);
        ck_assert_uint_eq(v.end, x->end);
        ck_assert_uint_eq(v.len, x->len);
        if (x->len)
            ck_assert_int_eq(memcmp(v.data, x->data, x->len), 0);
    }
    ck_assert_int_eq(logscan_next(sc, &v), final_rc);
    ck_assert_int_eq(logscan_next(sc, &v), final_rc);
    eng_lsn end = logscan_end(sc);
    logscan_close(sc);
    return end;
}

/* A log set of n records of REC2K bytes starting at generation 1, flushed and closed. Returns the
 * generation of <base>.log (the last one). */
static uint32_t build_set(const eng_log_config *c, model *m, size_t n)
{
    eng_log *lg = NULL;
    ck_assert_int_eq(log_writer_open(c, 1, &lg), 0);
    for (size_t i = 0; i < n; i++)
        append_rec(lg, m, ENG_LR_PAGE, REC2K);
    ck_assert_int_eq(log_flush(lg, log_tip(lg)), 0);
    uint32_t last = ENG_LSN_GEN(log_tip(lg));
    ck_assert_int_eq(log_writer_close(lg), 0);
    return last;
}

static char *gen_path(const eng_log_config *c, uint32_t gen)
{
    char *p = malloc(LOG_PATH_MAX);
    ck_assert_ptr_nonnull(p);
    ck_assert_int_eq(log_file_path(c, gen, p, LOG_PATH_MAX), 0);
    return p;
}

static bool exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

static long long fsize_of(const char *path)
{
    struct stat st;
    ck_assert_int_eq(stat(path, &st), 0);
    return (long long)st.st_size;
}

static void flip_byte(const char *path, uint64_t off)
{
    int fd = open(path, O_RDWR);
    ck_assert_int_ge(fd, 0);
    uint8_t b;
    ck_assert_int_eq(pread(fd, &b, 1, (off_t)off), 1);
    b ^= 0x5A;
    ck_assert_int_eq(pwrite(fd, &b, 1, (off_t)off), 1);
    close(fd);
}

static void write_at(const char *path, uint64_t off, const void *buf, size_t n)
{
    int fd = open(path, O_RDWR | O_CREAT, 0644);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(pwrite(fd, buf, n, (off_t)off), (ssize_t)n);
    close(fd);
}

static void read_at(const char *path, uint64_t off, void *buf, size_t n)
{
    int fd = open(path, O_RDONLY);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(pread(fd, buf, n, (off_t)off), (ssize_t)n);
    close(fd);
}

static void copy_file(const char *from, const char *to)
{
    long long n = fsize_of(from);
    uint8_t *b = malloc((size_t)n);
    ck_assert_ptr_nonnull(b);
    read_at(from, 0, b, (size_t)n);
    unlink(to);
    write_at(to, 0, b, (size_t)n);
    free(b);
}

/* Whole contents of a file (NULL if it does not exist), and whether a file still has them. */
static uint8_t *slurp(const char *path, long long *n)
{
    if (!exists(path)) {
        *n = -1;
        return NULL;
    }
    *n = fsize_of(path);
    uint8_t *b = malloc((size_t)*n + 1);
    ck_assert_ptr_nonnull(b);
    if (*n)
        read_at(path, 0, b, (size_t)*n);
    return b;
}

static void expect_unchanged(const char *path, const uint8_t *b, long long n)
{
    long long n2;
    uint8_t *b2 = slurp(path, &n2);
    ck_assert_msg(n2 == n, "%s: size %lld, was %lld", path, n2, n);
    if (n > 0)
        ck_assert_msg(memcmp(b, b2, (size_t)n) == 0, "%s was changed", path);
    free(b2);
}

/* What cfg.on_corrupt reported last. */
static char bad_path[LOG_PATH_MAX];
static uint64_t bad_off;
static int n_bad;

static void on_corrupt(void *ctx, const char *path, uint64_t off, const char *why)
{
    (void)ctx;
    ck_assert_ptr_nonnull(why);
    snprintf(bad_path, sizeof bad_path, "%s", path);
    bad_off = off;
    n_bad++;
}

static void expect_reported(const char *path, uint64_t off)
{
    ck_assert_int_gt(n_bad, 0);
    ck_assert_str_eq(bad_path, path);
    ck_assert_uint_eq(bad_off, off);
    n_bad = 0;
}

/* ---------------------------------------------------------------------------------------------
 * Writer and scanner
 * ------------------------------------------------------------------------------------------- */

START_TEST(append_flush_roll_scan)
{
    model m = {0};
    eng_log *lg = NULL;
    unsigned long long seed = tu_seed("append_flush_roll_scan");
    ck_assert_int_eq(log_writer_open(&cfg, 1, &lg), 0);
    ck_assert_uint_eq(log_tip(lg), ENG_LSN(1, LOG_HDR_SIZE));
    ck_assert_uint_eq(log_durable(lg), ENG_LSN(1, LOG_HDR_SIZE));
    ck_assert_int_eq(log_error(lg), 0);
    uint32_t rolled_to = 0;
    for (int i = 0; i < 150; i++) {
        size_t len = (size_t)(tu_rand(&seed) % 3000);
        if (i % 17 == 0)
            len = 0; /* empty payloads are records too */
        xrec *x = append_rec(lg, &m, (uint16_t)(1 + i % 7), len);
        if (i % 10 == 9) {
            ck_assert_int_eq(log_flush(lg, x->end), 0);
            ck_assert_uint_ge(log_durable(lg), x->end);
        }
        if (i == 75) {
            uint32_t before = ENG_LSN_GEN(log_tip(lg));
            ck_assert_int_eq(log_roll(lg, &rolled_to), 0);
            ck_assert_uint_eq(rolled_to, before + 1);
            ck_assert_uint_eq(log_tip(lg), ENG_LSN(rolled_to, LOG_HDR_SIZE));
            /* A roll flushes first: everything before it is durable. */
            ck_assert_uint_ge(log_durable(lg), ENG_LSN(rolled_to, LOG_HDR_SIZE));
        }
    }
    ck_assert_uint_eq(m.r[76].lsn, ENG_LSN(rolled_to, LOG_HDR_SIZE));
    uint32_t last = ENG_LSN_GEN(log_tip(lg));
    ck_assert_uint_ge(last, 4); /* ~225 KB in 64 KB files, plus one explicit roll */
    ck_assert_int_eq(log_writer_close(lg), 0);

    /* On disk: archived 1 .. last-1 and <base>.log, each exactly file_size bytes. */
    uint32_t lo, hi, cur;
    ck_assert_int_eq(log_list(&cfg, &lo, &hi, &cur), 0);
    ck_assert_uint_eq(lo, 1);
    ck_assert_uint_eq(hi, last - 1);
    ck_assert_uint_eq(cur, last);
    for (uint32_t g = 1; g < last; g++) {
        char *p = gen_path(&cfg, g);
        ck_assert_int_eq(fsize_of(p), FSIZE);
        free(p);
    }
    char *cp = tu_path(dir, "edb.log");
    ck_assert_int_eq(fsize_of(cp), FSIZE);
    free(cp);

    /* Everything comes back in order; the end is just past the last record. */
    ck_assert_uint_eq(expect_scan(&cfg, ENG_LSN(1, 0), &m, 0, m.n, 1), m.r[m.n - 1].end);
    /* A scan may start at any record boundary. */
    expect_scan(&cfg, m.r[40].lsn, &m, 40, m.n, 1);
    size_t j = 100;
    while (j > 0 && ENG_LSN_GEN(m.r[j - 1].lsn) == ENG_LSN_GEN(m.r[100].lsn))
        j--;
    ck_assert_uint_eq(ENG_LSN_OFF(m.r[j].lsn), LOG_HDR_SIZE);
    expect_scan(&cfg, ENG_LSN(ENG_LSN_GEN(m.r[j].lsn), 0), &m, j, m.n, 1);
    /* With no signature given, the scanner adopts the set's one. */
    eng_log_config any = cfg;
    memset(&any.sig, 0, sizeof any.sig);
    any.file_size = 0;
    eng_logscan *sc;
    ck_assert_int_eq(logscan_open(&any, ENG_LSN(2, 0), &sc), 0);
    eng_logsig s = logscan_sig(sc);
    ck_assert(log_sig_eq(&s, &sig_a));
    logscan_close(sc);

    /* A second writer may not start while a current generation exists. */
    ck_assert_int_eq(log_writer_open(&cfg, last + 1, &lg), JET_errFileAlreadyExists);
    model_free(&m);
}
END_TEST

START_TEST(scan_from_generation_start)
{
    /* ENG_LSN_OFF(start) == 0 means "the first record of that generation". */
    model m = {0};
    build_set(&cfg, &m, 70);
    ck_assert_uint_eq(m.r[PER_GEN].lsn, ENG_LSN(2, LOG_HDR_SIZE));
    ck_assert_uint_eq(m.r[PER_GEN - 1].lsn, ENG_LSN(1, LOG_HDR_SIZE + (PER_GEN - 1) * log_rec_size(REC2K)));
    expect_scan(&cfg, ENG_LSN(2, 0), &m, PER_GEN, m.n, 1);
    expect_scan(&cfg, ENG_LSN(3, 0), &m, 2 * PER_GEN, m.n, 1);
    /* Bad starting points are refused, not misread. */
    eng_logscan *sc;
    ck_assert_int_eq(logscan_open(&cfg, ENG_LSN(1, 12), &sc), JET_errInvalidParameter);
    ck_assert_int_eq(logscan_open(&cfg, ENG_LSN(1, 100), &sc), JET_errInvalidParameter);
    ck_assert_int_eq(logscan_open(&cfg, ENG_LSN(0, 0), &sc), JET_errInvalidParameter);
    ck_assert_int_eq(logscan_open(&cfg, ENG_LSN(9, 0), &sc), JET_errMissingLogFile);
    model_free(&m);
}
END_TEST

static uint32_t rolled[64];
static atomic_int nrolled;

static void on_roll(void *ctx, uint32_t gen)
{
    (void)ctx;
    int i = atomic_fetch_add(&nrolled, 1);
    if (i < 64)
        rolled[i] = gen;
}

START_TEST(run_crosses_generations)
{
    cfg.on_roll = on_roll;
    atomic_store(&nrolled, 0);
    eng_log *lg = NULL;
    ck_assert_int_eq(log_writer_open(&cfg, 1, &lg), 0);
    model m = {0};
    append_rec(lg, &m, ENG_LR_INIT, 100);

    /* One run of 40 records of 5000 bytes (200 KB): it must continue in generations 2, 3 and 4,
     * each record placed by the rule "o + s + 16 <= file_size, else the next generation". */
    enum { N = 40 };
    struct iovec iov[N];
    eng_logrec recs[N];
    size_t first_idx = m.n;
    for (int i = 0; i < N; i++) {
        xrec *x = model_push(&m, ENG_LR_PAGE, 5000 + (size_t)i);
        iov[i].iov_base = x->data;
        iov[i].iov_len = x->len;
        recs[i].type = x->type;
        recs[i].iov = &iov[i];
        recs[i].iovcnt = 1;
    }
    eng_lsn first, end;
    ck_assert_int_eq(log_append(lg, recs, N, &first, &end), 0);
    ck_assert_uint_eq(first, m.r[0].end);
    uint32_t g = ENG_LSN_GEN(first), off = ENG_LSN_OFF(first);
    for (size_t i = first_idx; i < m.n; i++) {
        uint32_t sz = (uint32_t)log_rec_size(m.r[i].len);
        if ((uint64_t)off + sz + LOG_SEAL_SIZE > FSIZE) {
            g++;
            off = LOG_HDR_SIZE;
        }
        m.r[i].lsn = ENG_LSN(g, off);
        off += sz;
        m.r[i].end = ENG_LSN(g, off);
    }
    ck_assert_uint_eq(end, m.r[m.n - 1].end);
    ck_assert_uint_eq(ENG_LSN_GEN(end), 4);
    append_rec(lg, &m, ENG_LR_COMMIT, 8);
    ck_assert_int_eq(log_writer_close(lg), 0);

    /* The owner heard of every archived generation, once, in order. */
    ck_assert_int_eq(atomic_load(&nrolled), 3);
    for (int i = 0; i < 3; i++)
        ck_assert_uint_eq(rolled[i], (uint32_t)i + 1);
    expect_scan(&cfg, ENG_LSN(1, 0), &m, 0, m.n, 1);
    model_free(&m);
}
END_TEST

/* Concurrent appenders: each appends runs of RUN records tagged (thread, run, index); a run must
 * come back contiguous even when it crosses a generation boundary. */
enum { RT_THREADS = 4, RT_RUNS = 60, RT_RUN = 5 };
/* What log_append reported for each run: first record and end, checked against the scan. */
static eng_lsn rt_first[RT_THREADS][RT_RUNS], rt_end[RT_THREADS][RT_RUNS];
struct rt_arg {
    eng_log *lg;
    uint32_t id;
    atomic_int *bad;
};

static void *run_thread(void *p)
{
    struct rt_arg *a = p;
    unsigned long long s = 1000 + a->id;
    uint8_t buf[RT_RUN][1600];
    struct iovec iov[RT_RUN];
    eng_logrec recs[RT_RUN];
    for (uint32_t r = 0; r < RT_RUNS; r++) {
        for (uint32_t k = 0; k < RT_RUN; k++) {
            size_t len = 12 + (size_t)(tu_rand(&s) % 1500);
            log_st32(buf[k], a->id);
            log_st32(buf[k] + 4, r);
            log_st32(buf[k] + 8, k);
            memset(buf[k] + 12, (int)(a->id * 16 + k), len - 12);
            iov[k].iov_base = buf[k];
            iov[k].iov_len = len;
            recs[k].type = ENG_LR_PAGE;
            recs[k].iov = &iov[k];
            recs[k].iovcnt = 1;
        }
        eng_lsn first, end;
        if (log_append(a->lg, recs, RT_RUN, &first, &end) || first >= end)
            atomic_fetch_add(a->bad, 1);
        rt_first[a->id][r] = first;
        rt_end[a->id][r] = end;
        if (r % 4 == 0 && (log_flush(a->lg, end) || log_durable(a->lg) < end))
            atomic_fetch_add(a->bad, 1);
    }
    return NULL;
}

START_TEST(concurrent_runs_stay_contiguous)
{
    cfg.on_roll = on_roll;
    atomic_store(&nrolled, 0);
    eng_log *lg = NULL;
    ck_assert_int_eq(log_writer_open(&cfg, 1, &lg), 0);
    atomic_int bad = 0;
    pthread_t th[RT_THREADS];
    struct rt_arg args[RT_THREADS];
    for (uint32_t i = 0; i < RT_THREADS; i++) {
        args[i] = (struct rt_arg){lg, i, &bad};
        ck_assert_int_eq(pthread_create(&th[i], NULL, run_thread, &args[i]), 0);
    }
    for (int i = 0; i < RT_THREADS; i++)
        pthread_join(th[i], NULL);
    ck_assert_int_eq(atomic_load(&bad), 0);
    ck_assert_int_eq(log_writer_close(lg), 0);

    uint32_t lo, hi, cur;
    ck_assert_int_eq(log_list(&cfg, &lo, &hi, &cur), 0);
    ck_assert_uint_ge(hi, 3); /* the runs did cross generations */
    /* Every archived generation was reported exactly once (threads may report out of order). */
    ck_assert_int_eq(atomic_load(&nrolled), (int)hi);
    ck_assert_uint_le(hi, 64);
    bool seen[65] = {false};
    for (uint32_t i = 0; i < hi; i++) {
        ck_assert_uint_ge(rolled[i], 1);
        ck_assert_uint_le(rolled[i], hi);
        ck_assert(!seen[rolled[i]]);
        seen[rolled[i]] = true;
    }

    eng_logscan *sc;
    ck_assert_int_eq(logscan_open(&cfg, ENG_LSN(1, 0), &sc), 0);
    uint32_t next_run[RT_THREADS] = {0};
    eng_logrec_view v;
    eng_lsn prev = 0;
    int rc, total = 0;
    uint32_t in_run = RT_RUN, cur_t = 0; /* in_run == RT_RUN: between runs */
    while ((rc = logscan_next(sc, &v)) == 0) {
        ck_assert_uint_gt(v.lsn, prev);
        prev = v.lsn;
        ck_assert_uint_ge(v.len, 12);
        uint32_t t = log_ld32(v.data), r = log_ld32(v.data + 4), k = log_ld32(v.data + 8);
        ck_assert_uint_lt(t, RT_THREADS);
        for (size_t i = 12; i < v.len; i++)
            ck_assert_uint_eq(v.data[i], (uint8_t)(t * 16 + k));
        if (in_run == RT_RUN) {
            ck_assert_uint_eq(k, 0);
            ck_assert_uint_eq(r, next_run[t]); /* a thread's runs in its own order */
            ck_assert_uint_eq(v.lsn, rt_first[t][r]);
            cur_t = t;
            in_run = 0;
        } else {
            ck_assert_uint_eq(t, cur_t); /* nobody interleaved */
            ck_assert_uint_eq(r, next_run[t]);
            ck_assert_uint_eq(k, in_run);
        }
        /* The end reported is just past the run's own last record, even when other appends
         * came in while the appender waited after its run (a page stamped with a later position
         * would not match the base of its next diff). */
        if (in_run == RT_RUN - 1)
            ck_assert_uint_eq(v.end, rt_end[t][r]);
        if (++in_run == RT_RUN)
            next_run[t]++;
        total++;
    }
    ck_assert_int_eq(rc, 1);
    logscan_close(sc);
    ck_assert_int_eq(total, RT_THREADS * RT_RUNS * RT_RUN);
    for (int i = 0; i < RT_THREADS; i++)
        ck_assert_uint_eq(next_run[i], RT_RUNS);
}
END_TEST

/* ---------------------------------------------------------------------------------------------
 * Files: names, listing, sealing, deleting
 * ------------------------------------------------------------------------------------------- */

static void expect_name(uint32_t gen, const char *name)
{
    char p[LOG_PATH_MAX], want[LOG_PATH_MAX];
    ck_assert_int_eq(log_file_path(&cfg, gen, p, sizeof p), 0);
    snprintf(want, sizeof want, "%s/%s", dir, name);
    ck_assert_str_eq(p, want);
}

START_TEST(file_names)
{
    expect_name(1, "edb00001.log");
    expect_name(0xABCDE, "edbABCDE.log");
    expect_name(0xFFFFF, "edbFFFFF.log");
    expect_name(0x100000, "edb00100000.log");
    expect_name(0xFFFFFFFE, "edbFFFFFFFE.log");
    char p[LOG_PATH_MAX];
    size_t need = strlen(dir) + strlen("/edb00001.log") + 1;
    ck_assert_int_eq(log_file_path(&cfg, 1, p, need), 0);
    ck_assert_int_eq(log_file_path(&cfg, 1, p, need - 1), JET_errInvalidPath);
    ck_assert_int_eq(log_file_path(&cfg, 0x100000, p, need), JET_errInvalidPath);

    /* The writer uses those names across the 5-to-8-digit boundary, and so do list and scan. */
    eng_log *lg = NULL;
    model m = {0};
    ck_assert_int_eq(log_writer_open(&cfg, 0xFFFFE, &lg), 0);
    for (int i = 0; i < 3; i++) {
        append_rec(lg, &m, ENG_LR_PAGE, 100);
        ck_assert_int_eq(log_roll(lg, NULL), 0);
    }
    append_rec(lg, &m, ENG_LR_PAGE, 100);
    ck_assert_uint_eq(ENG_LSN_GEN(log_tip(lg)), 0x100001);
    ck_assert_int_eq(log_writer_close(lg), 0);
    const char *names[] = {"edbFFFFE.log", "edbFFFFF.log", "edb00100000.log", "edb.log"};
    for (int i = 0; i < 4; i++) {
        char *q = tu_path(dir, names[i]);
        ck_assert_msg(exists(q), "%s missing", names[i]);
        free(q);
    }
    const char *never[] = {"edbffffe.log", "edb100000.log", "edb00100001.log"};
    for (int i = 0; i < 3; i++) {
        char *q = tu_path(dir, never[i]);
        ck_assert_msg(!exists(q), "%s should not exist", never[i]);
        free(q);
    }
    uint32_t lo, hi, cur;
    ck_assert_int_eq(log_list(&cfg, &lo, &hi, &cur), 0);
    ck_assert_uint_eq(lo, 0xFFFFE);
    ck_assert_uint_eq(hi, 0x100000);
    ck_assert_uint_eq(cur, 0x100001);
    expect_scan(&cfg, ENG_LSN(0xFFFFE, 0), &m, 0, m.n, 1);
    model_free(&m);
}
END_TEST

START_TEST(list_seal_and_delete)
{
    uint32_t lo = 9, hi = 9, cur = 9;
    ck_assert_int_eq(log_list(&cfg, &lo, &hi, &cur), 0);
    ck_assert_uint_eq(lo + hi + cur, 0);
    uint32_t sg = 9;
    eng_lsn end = 9;
    ck_assert_int_eq(log_seal_current(&cfg, &sg, &end), 0); /* nothing to seal */
    ck_assert_uint_eq(sg, 0);
    ck_assert_uint_eq(end, 0);

    model m = {0};
    uint32_t last = build_set(&cfg, &m, 75); /* 30 + 30 + 15 */
    ck_assert_uint_eq(last, 3);
    uint32_t tail = ENG_LSN_OFF(m.r[m.n - 1].end);
    char *cur_path = tu_path(dir, "edb.log"), *tmp_path = tu_path(dir, "edbtmp.log");

    /* A torn tail as a crash leaves it: half a record with a plausible header but a wrong CRC,
     * and stray bytes further on. */
    uint8_t junk[200];
    memset(junk, 0xAB, sizeof junk);
    log_rec_encode(junk, 0x1234, 150, ENG_LR_PAGE, 3, tail);
    junk[0] ^= 1;
    write_at(cur_path, tail, junk, sizeof junk);
    write_at(cur_path, FSIZE - 100, junk, 50);
    write_at(tmp_path, 0, "stale", 5);

    /* The scanner already treats the torn tail as the end of the log ... */
    ck_assert_uint_eq(expect_scan(&cfg, ENG_LSN(1, 0), &m, 0, m.n, 1), ENG_LSN(3, tail));
    /* ... and sealing makes that permanent. */
    ck_assert_int_eq(log_seal_current(&cfg, &sg, &end), 0);
    ck_assert_uint_eq(sg, 3);
    ck_assert_uint_eq(end, ENG_LSN(3, tail));
    ck_assert(!exists(cur_path));
    ck_assert(!exists(tmp_path));
    char *a3 = gen_path(&cfg, 3);
    ck_assert_int_eq(fsize_of(a3), FSIZE);
    uint8_t *img = malloc(FSIZE);
    read_at(a3, 0, img, FSIZE);
    ck_assert_uint_eq(log_ld32(img + tail + 4), 0);           /* length */
    ck_assert_uint_eq(log_ld16(img + tail + 8), ENG_LR_SEAL); /* type */
    ck_assert_uint_eq(log_ld32(img + tail + 12), 3);          /* generation */
    for (uint32_t o = tail + LOG_SEAL_SIZE; o < FSIZE; o++)
        if (img[o])
            ck_abort_msg("byte %u behind the seal is %u, not zero", o, img[o]);
    free(img);

    ck_assert_int_eq(log_list(&cfg, &lo, &hi, &cur), 0);
    ck_assert_uint_eq(lo, 1);
    ck_assert_uint_eq(hi, 3);
    ck_assert_uint_eq(cur, 0);
    ck_assert_int_eq(log_seal_current(&cfg, &sg, &end), 0);
    ck_assert_uint_eq(sg, 0);

    /* The log goes on in generation 4; a scan started at the seal moves on to it. */
    eng_log *lg = NULL;
    ck_assert_int_eq(log_writer_open(&cfg, 3, &lg), JET_errFileAlreadyExists); /* never reuse 3 */
    ck_assert_int_eq(log_writer_open(&cfg, 4, &lg), 0);
    append_rec(lg, &m, ENG_LR_INIT, 33);
    ck_assert_uint_eq(m.r[m.n - 1].lsn, ENG_LSN(4, LOG_HDR_SIZE));
    ck_assert_int_eq(log_writer_close(lg), 0);
    expect_scan(&cfg, ENG_LSN(1, 0), &m, 0, m.n, 1);
    expect_scan(&cfg, ENG_LSN(3, tail), &m, m.n - 1, m.n, 1);

    /* Deleting: [lo, hi) only, missing ones skipped, never the current generation. */
    ck_assert_int_eq(log_delete_range(&cfg, 1, 3), 0);
    char *a1 = gen_path(&cfg, 1), *a2 = gen_path(&cfg, 2);
    ck_assert(!exists(a1));
    ck_assert(!exists(a2));
    ck_assert(exists(a3));
    ck_assert_int_eq(log_delete_range(&cfg, 1, 3), 0);
    ck_assert_int_eq(log_delete_range(&cfg, 3, 3), 0);
    ck_assert(exists(a3));
    ck_assert_int_eq(log_list(&cfg, &lo, &hi, &cur), 0);
    ck_assert_uint_eq(lo, 3);
    ck_assert_uint_eq(hi, 3);
    ck_assert_uint_eq(cur, 4);
    eng_logscan *sc;
    ck_assert_int_eq(logscan_open(&cfg, ENG_LSN(1, 0), &sc), JET_errMissingLogFile);
    expect_scan(&cfg, ENG_LSN(3, 0), &m, 2 * PER_GEN, m.n, 1);
    ck_assert_int_eq(log_delete_range(&cfg, 1, 100), 0);
    ck_assert(!exists(a3));
    ck_assert(exists(cur_path));
    ck_assert_int_eq(log_list(&cfg, &lo, &hi, &cur), 0);
    ck_assert_uint_eq(lo + hi, 0);
    ck_assert_uint_eq(cur, 4);
    free(a1);
    free(a2);
    free(a3);
    free(cur_path);
    free(tmp_path);
    model_free(&m);
}
END_TEST

START_TEST(short_current_file_is_corrupt)
{
    /* Generations are allocated whole before they get a header, so no crash leaves one short:
     * a current file cut in the middle of a record lost data, it is not a torn tail. Nothing may
     * be sealed, zeroed, extended or renamed. */
    model m = {0};
    build_set(&cfg, &m, 10);
    char *cur_path = tu_path(dir, "edb.log"), *a1 = gen_path(&cfg, 1);
    uint32_t cut = ENG_LSN_OFF(m.r[7].lsn) + 100;
    ck_assert_int_eq(truncate(cur_path, cut), 0);
    long long n;
    uint8_t *before = slurp(cur_path, &n);
    cfg.on_corrupt = on_corrupt;
    eng_logscan *sc;
    ck_assert_int_eq(logscan_open(&cfg, ENG_LSN(1, 0), &sc), JET_errLogFileCorrupt);
    expect_reported(cur_path, cut);
    uint32_t sg = 9;
    eng_lsn end;
    ck_assert_int_eq(log_seal_current(&cfg, &sg, &end), JET_errLogFileCorrupt);
    expect_reported(cur_path, cut);
    expect_unchanged(cur_path, before, n);
    ck_assert(!exists(a1));
    /* Cut at a record boundary, or right behind the header: the same. */
    ck_assert_int_eq(truncate(cur_path, ENG_LSN_OFF(m.r[5].lsn)), 0);
    ck_assert_int_eq(log_seal_current(&cfg, &sg, &end), JET_errLogFileCorrupt);
    ck_assert_int_eq(truncate(cur_path, LOG_HDR_SIZE), 0);
    ck_assert_int_eq(log_seal_current(&cfg, &sg, &end), JET_errLogFileCorrupt);
    ck_assert(!exists(a1));
    ck_assert_int_eq(fsize_of(cur_path), LOG_HDR_SIZE);
    free(before);
    free(a1);
    free(cur_path);
    model_free(&m);
}
END_TEST

/* ---------------------------------------------------------------------------------------------
 * Scanner errors
 * ------------------------------------------------------------------------------------------- */

START_TEST(damage_in_archived_generation)
{
    model m = {0};
    ck_assert_uint_eq(build_set(&cfg, &m, 100), 4);
    char *a1 = gen_path(&cfg, 1), *a2 = gen_path(&cfg, 2);

    /* One byte of a payload in the middle of generation 1: nothing behind it may be trusted. */
    uint64_t off = ENG_LSN_OFF(m.r[5].lsn) + LOG_REC_HDR + 700;
    flip_byte(a1, off);
    expect_scan(&cfg, ENG_LSN(1, 0), &m, 0, 5, JET_errLogFileCorrupt);
    flip_byte(a1, off);
    expect_scan(&cfg, ENG_LSN(1, 0), &m, 0, m.n, 1);

    /* A record header (its type) damaged. */
    flip_byte(a1, ENG_LSN_OFF(m.r[20].lsn) + 8);
    expect_scan(&cfg, ENG_LSN(1, 0), &m, 0, 20, JET_errLogFileCorrupt);
    flip_byte(a1, ENG_LSN_OFF(m.r[20].lsn) + 8);

    /* The seal of generation 2 damaged: a generation that does not end with its seal. */
    uint32_t seal2 = ENG_LSN_OFF(m.r[2 * PER_GEN - 1].end);
    flip_byte(a2, seal2 + 1);
    expect_scan(&cfg, ENG_LSN(2, 0), &m, PER_GEN, 2 * PER_GEN, JET_errLogFileCorrupt);
    flip_byte(a2, seal2 + 1);

    /* Generation 2 cut short before its last record: refused as soon as it is opened. */
    ck_assert_int_eq(truncate(a2, ENG_LSN_OFF(m.r[50].lsn)), 0);
    expect_scan(&cfg, ENG_LSN(1, 0), &m, 0, PER_GEN, JET_errLogFileCorrupt);

    /* A damaged file header is refused. */
    flip_byte(a1, 30);
    eng_logscan *sc;
    ck_assert_int_eq(logscan_open(&cfg, ENG_LSN(1, 0), &sc), JET_errLogFileCorrupt);
    free(a1);
    free(a2);
    model_free(&m);
}
END_TEST

START_TEST(damage_in_last_generation_is_corrupt)
{
    /* One bit flipped in a record in the middle of the current generation, intact records behind
     * it: those were written (and acknowledged) after it, so this is damage, not a torn tail. */
    model m = {0};
    ck_assert_uint_eq(build_set(&cfg, &m, 100), 4);
    char *cur_path = tu_path(dir, "edb.log"), *a4 = gen_path(&cfg, 4);
    cfg.on_corrupt = on_corrupt;
    size_t k = 3 * PER_GEN + 4;
    uint32_t at = ENG_LSN_OFF(m.r[k].lsn);
    flip_byte(cur_path, at + LOG_REC_HDR + 3);
    long long n;
    uint8_t *before = slurp(cur_path, &n);
    expect_scan(&cfg, ENG_LSN(1, 0), &m, 0, k, JET_errLogFileCorrupt);
    expect_reported(cur_path, at);
    /* Refused also when the scan starts behind the damage (a checkpoint there). */
    eng_logscan *sc;
    ck_assert_int_eq(logscan_open(&cfg, m.r[k + 2].lsn, &sc), JET_errLogFileCorrupt);
    expect_reported(cur_path, at);
    /* Sealing refuses and changes nothing: no seal, no zeroing, no archive. */
    uint32_t sg;
    eng_lsn end = 0;
    ck_assert_int_eq(log_seal_current(&cfg, &sg, &end), JET_errLogFileCorrupt);
    ck_assert_uint_eq(end, m.r[k].lsn);
    expect_unchanged(cur_path, before, n);
    ck_assert(!exists(a4));
    free(before);

    /* A header damaged (its length, its type): the same. (A record zeroed whole, with intact
     * ones only within one write's reach behind it, looks like an out-of-order torn write: see
     * torn_write_out_of_order_ends_log.) */
    flip_byte(cur_path, at + LOG_REC_HDR + 3);
    expect_scan(&cfg, ENG_LSN(1, 0), &m, 0, m.n, 1);
    flip_byte(cur_path, at + 5);
    expect_scan(&cfg, ENG_LSN(1, 0), &m, 0, k, JET_errLogFileCorrupt);
    flip_byte(cur_path, at + 5);
    flip_byte(cur_path, at + 8);
    expect_scan(&cfg, ENG_LSN(1, 0), &m, 0, k, JET_errLogFileCorrupt);
    flip_byte(cur_path, at + 8);

    /* The last record damaged, nothing behind it: a torn tail, the log ends there. */
    size_t last = m.n - 1;
    flip_byte(cur_path, ENG_LSN_OFF(m.r[last].lsn) + LOG_REC_HDR + 3);
    ck_assert_uint_eq(expect_scan(&cfg, ENG_LSN(1, 0), &m, 0, last, 1), m.r[last].lsn);
    ck_assert_int_eq(log_seal_current(&cfg, &sg, &end), 0);
    ck_assert_uint_eq(sg, 4);
    ck_assert_uint_eq(end, m.r[last].lsn);
    ck_assert_uint_eq(expect_scan(&cfg, ENG_LSN(1, 0), &m, 0, last, 1), m.r[last].lsn);

    /* In a sealed last generation, damage before the seal is damage too. */
    flip_byte(a4, ENG_LSN_OFF(m.r[last - 2].lsn) + LOG_REC_HDR);
    expect_scan(&cfg, ENG_LSN(1, 0), &m, 0, last - 2, JET_errLogFileCorrupt);
    expect_reported(a4, ENG_LSN_OFF(m.r[last - 2].lsn));
    free(a4);
    free(cur_path);
    model_free(&m);
}
END_TEST

START_TEST(torn_write_out_of_order_ends_log)
{
    /* A power cut may keep later sectors of the last (unsynced) write and lose earlier ones:
     * a record with a sector still all zero, intact records right behind it within one write's
     * reach. That is still a torn tail: nothing of that write was acknowledged. */
    model m = {0};
    ck_assert_uint_eq(build_set(&cfg, &m, 100), 4);
    char *cur_path = tu_path(dir, "edb.log");
    size_t k = 3 * PER_GEN + 4;
    uint32_t at = ENG_LSN_OFF(m.r[k].lsn);
    uint32_t sec = (at + LOG_REC_HDR + LOG_SECTOR - 1) & ~(LOG_SECTOR - 1); /* inside the payload */
    ck_assert_uint_le(sec + LOG_SECTOR, at + LOG_REC_HDR + REC2K);
    uint8_t zero[LOG_SECTOR];
    memset(zero, 0, sizeof zero);
    write_at(cur_path, sec, zero, sizeof zero);
    ck_assert_uint_eq(expect_scan(&cfg, ENG_LSN(1, 0), &m, 0, k, 1), m.r[k].lsn);
    /* Sealing ends the generation there and zeroes what the half-done write left behind. */
    uint32_t sg;
    eng_lsn end;
    ck_assert_int_eq(log_seal_current(&cfg, &sg, &end), 0);
    ck_assert_uint_eq(end, m.r[k].lsn);
    ck_assert_uint_eq(expect_scan(&cfg, ENG_LSN(1, 0), &m, 0, k, 1), m.r[k].lsn);
    free(cur_path);
    model_free(&m);
}
END_TEST

static void flip_bit_at(const char *path, uint64_t off, int bit)
{
    uint8_t b;
    read_at(path, off, &b, 1);
    b ^= (uint8_t)(1u << bit);
    write_at(path, off, &b, 1);
}

START_TEST(one_flipped_bit_is_damage)
{
    /* Records whose payload holds zero sectors (as page images do): a zeroed sector is what a
     * torn write looks like, but one flipped bit is not, wherever it is. */
    model m = {0};
    eng_log *lg = NULL;
    ck_assert_int_eq(log_writer_open(&cfg, 1, &lg), 0);
    for (int i = 0; i < 20; i++) {
        xrec *x = model_push(&m, ENG_LR_PAGE, REC2K);
        memset(x->data + 200, 0, 1500);
        struct iovec iov = {x->data, x->len};
        eng_logrec rec = {ENG_LR_PAGE, &iov, 1};
        ck_assert_int_eq(log_append(lg, &rec, 1, &x->lsn, &x->end), 0);
    }
    ck_assert_int_eq(log_writer_close(lg), 0);
    char *cur_path = tu_path(dir, "edb.log");
    cfg.on_corrupt = on_corrupt;
    uint32_t at = ENG_LSN_OFF(m.r[8].lsn);
    /* A bit of the payload, of the type, of the stored CRC: each is damage. */
    uint64_t spots[] = {at + LOG_REC_HDR + 7, at + LOG_REC_HDR + REC2K - 1, at + 8, at + 2};
    for (size_t i = 0; i < sizeof spots / sizeof *spots; i++)
        for (int bit = 0; bit < 8; bit += 3) {
            flip_bit_at(cur_path, spots[i], bit);
            expect_scan(&cfg, ENG_LSN(1, 0), &m, 0, 8, JET_errLogFileCorrupt);
            expect_reported(cur_path, at);
            flip_bit_at(cur_path, spots[i], bit);
        }
    /* The same record with its first sector never written instead (from the record on, as a
     * half-done write leaves it) reads as a torn write. */
    uint32_t sec_end = (at / LOG_SECTOR + 1) * LOG_SECTOR;
    uint8_t keep[LOG_SECTOR], zero[LOG_SECTOR] = {0};
    read_at(cur_path, at, keep, sec_end - at);
    write_at(cur_path, at, zero, sec_end - at);
    ck_assert_uint_eq(expect_scan(&cfg, ENG_LSN(1, 0), &m, 0, 8, 1), m.r[8].lsn);
    write_at(cur_path, at, keep, sec_end - at);
    expect_scan(&cfg, ENG_LSN(1, 0), &m, 0, m.n, 1);
    /* The very last record one bit off, nothing behind it: damage too, not a torn tail. */
    uint32_t last = ENG_LSN_OFF(m.r[19].lsn);
    flip_bit_at(cur_path, last + LOG_REC_HDR + 1000, 5);
    expect_scan(&cfg, ENG_LSN(1, 0), &m, 0, 19, JET_errLogFileCorrupt);
    uint32_t sg;
    ck_assert_int_eq(log_seal_current(&cfg, &sg, NULL), JET_errLogFileCorrupt);
    free(cur_path);
    model_free(&m);
}
END_TEST

START_TEST(scan_start_must_be_a_record_boundary)
{
    /* A start position handed in from outside (the checkpoint) is checked against the log. */
    model m = {0};
    ck_assert_uint_eq(build_set(&cfg, &m, 100), 4);
    eng_logscan *sc;
    /* Inside a record (8-aligned, so only reading the generation can tell). */
    ck_assert_int_eq(logscan_open(&cfg, m.r[40].lsn + 64, &sc), JET_errInvalidParameter);
    ck_assert_int_eq(logscan_open(&cfg, m.r[95].lsn + 8, &sc), JET_errInvalidParameter);
    /* Past the end of the records: in the current generation, and behind an archived seal. */
    eng_lsn tail = m.r[m.n - 1].end;
    ck_assert_int_eq(logscan_open(&cfg, tail + 64, &sc), JET_errInvalidParameter);
    ck_assert_int_eq(logscan_open(&cfg, m.r[PER_GEN - 1].end + 16, &sc), JET_errInvalidParameter);
    /* Exact boundaries, the seal and the end of the log are fine. */
    expect_scan(&cfg, m.r[95].lsn, &m, 95, m.n, 1);
    expect_scan(&cfg, m.r[PER_GEN - 1].end, &m, PER_GEN, m.n, 1);
    expect_scan(&cfg, tail, &m, m.n, m.n, 1);
    model_free(&m);
}
END_TEST

static atomic_long big_syncs, big_max_write;

static int count_hook(void *ctx, enum eng_io_op op, int fd, const char *path, uint64_t off, size_t len)
{
    (void)ctx, (void)fd, (void)path, (void)off;
    if (op == ENG_IO_SYNC)
        atomic_fetch_add(&big_syncs, 1);
    if (op == ENG_IO_WRITE && (long)len > atomic_load(&big_max_write))
        atomic_store(&big_max_write, (long)len);
    return 0;
}

START_TEST(big_buffers_are_written_in_synced_pieces)
{
    /* The torn-tail rule needs at most LOG_WRITE_MAX unsynced bytes: a 3 MiB flush goes out as
     * pieces, each synced before the next. */
    cfg.file_size = 8u * 1024u * 1024u;
    model m = {0};
    eng_log *lg = NULL;
    ck_assert_int_eq(log_writer_open(&cfg, 1, &lg), 0);
    xrec *a = model_push(&m, ENG_LR_PAGE, 3u * 1024u * 1024u);
    struct iovec iov = {a->data, a->len};
    eng_logrec rec = {ENG_LR_PAGE, &iov, 1};
    atomic_store(&big_syncs, 0);
    atomic_store(&big_max_write, 0);
    eng_io_set_fault_hook(count_hook, NULL);
    /* (A buffer past LOG_BUF_HIGH is written out by the append itself.) */
    ck_assert_int_eq(log_append(lg, &rec, 1, &a->lsn, &a->end), 0);
    ck_assert_int_eq(log_flush(lg, a->end), 0);
    eng_io_set_fault_hook(NULL, NULL);
    ck_assert_int_le(atomic_load(&big_max_write), LOG_WRITE_MAX);
    ck_assert_int_ge(atomic_load(&big_syncs), 4);
    ck_assert_int_eq(log_writer_close(lg), 0);
    expect_scan(&cfg, ENG_LSN(1, 0), &m, 0, 1, 1);
    model_free(&m);
}
END_TEST

START_TEST(live_log_files_are_locked)
{
    /* While a writer runs, its current files are locked against another writer, a recovery's
     * sealing and creating a file over them; an archived generation is known to be live by
     * its set's locked current file. */
    model m = {0};
    eng_log *lg = NULL;
    ck_assert_int_eq(log_writer_open(&cfg, 1, &lg), 0);
    for (int i = 0; i < 40; i++)
        append_rec(lg, &m, ENG_LR_PAGE, REC2K);
    ck_assert_int_eq(log_flush(lg, log_tip(lg)), 0);
    char *cur = tu_path(dir, "edb.log"), *tmp = tu_path(dir, "edbtmp.log"), *a1 = gen_path(&cfg, 1);
    ck_assert(exists(tmp));
    long long nc, nt, na;
    uint8_t *bc = slurp(cur, &nc), *bt = slurp(tmp, &nt), *ba = slurp(a1, &na);
    uint32_t sg;
    ck_assert_int_eq(log_seal_current(&cfg, &sg, NULL), JET_errFileAccessDenied);
    int fd = -1;
    ck_assert_int_eq(log_create_file(&cfg, tmp, 9, &fd), JET_errFileAccessDenied);
    ck_assert_int_eq(log_create_file(&cfg, cur, 9, &fd), JET_errFileAccessDenied);
    const char *paths[] = {cur, tmp, a1};
    for (int i = 0; i < 3; i++) {
        int f = open(paths[i], O_RDWR);
        ck_assert_int_ge(f, 0);
        /* A caller about to overwrite locks first, then asks about the archived ones. */
        int locked = flock(f, LOCK_EX | LOCK_NB);
        if (i < 2)
            ck_assert_int_ne(locked, 0);
        else
            ck_assert_int_eq(log_file_in_use(f, paths[i]), JET_errFileAccessDenied);
        close(f);
    }
    expect_unchanged(cur, bc, nc);
    expect_unchanged(tmp, bt, nt);
    expect_unchanged(a1, ba, na);
    ck_assert_int_eq(log_writer_close(lg), 0);
    /* Once the writer is gone nothing is held. */
    int f = open(a1, O_RDWR);
    ck_assert_int_eq(log_file_in_use(f, a1), 0);
    close(f);
    f = open(dir, O_RDONLY); /* not a log file at all */
    ck_assert_int_eq(log_file_in_use(f, dir), 0);
    close(f);
    ck_assert_int_eq(log_seal_current(&cfg, &sg, NULL), 0);
    ck_assert_uint_eq(sg, 2);
    free(bc);
    free(bt);
    free(ba);
    free(cur);
    free(tmp);
    free(a1);
    model_free(&m);
}
END_TEST

START_TEST(missing_generation)
{
    model m = {0};
    ck_assert_uint_eq(build_set(&cfg, &m, 100), 4);
    char *a2 = gen_path(&cfg, 2);
    ck_assert_int_eq(unlink(a2), 0);
    expect_scan(&cfg, ENG_LSN(1, 0), &m, 0, PER_GEN, JET_errMissingLogFile);
    eng_logscan *sc;
    ck_assert_int_eq(logscan_open(&cfg, ENG_LSN(2, 0), &sc), JET_errMissingLogFile);
    expect_scan(&cfg, ENG_LSN(3, 0), &m, 2 * PER_GEN, m.n, 1);
    free(a2);
    model_free(&m);
}
END_TEST

START_TEST(foreign_log_set)
{
    model m = {0}, other = {0};
    ck_assert_uint_eq(build_set(&cfg, &m, 100), 4);
    char *dir_b = tu_mkdtemp("log-b");
    eng_log_config cfg_b = cfg;
    cfg_b.dir = dir_b;
    cfg_b.sig = sig_b;
    build_set(&cfg_b, &other, 100);
    char *a2 = gen_path(&cfg, 2), *b2 = gen_path(&cfg_b, 2);
    copy_file(b2, a2); /* same name, same generation, same size: only the signature differs */

    expect_scan(&cfg, ENG_LSN(1, 0), &m, 0, PER_GEN, JET_errBadLogSignature);
    eng_log_config adopt = cfg; /* no signature given: generation 1's is adopted, then required */
    memset(&adopt.sig, 0, sizeof adopt.sig);
    expect_scan(&adopt, ENG_LSN(1, 0), &m, 0, PER_GEN, JET_errBadLogSignature);
    eng_logscan *sc;
    ck_assert_int_eq(logscan_open(&cfg, ENG_LSN(2, 0), &sc), JET_errBadLogSignature);

    /* Asking for set B in A's directory: refused by list, scan and seal, which leaves the
     * current file alone. */
    eng_log_config wrong = cfg;
    wrong.sig = sig_b;
    uint32_t lo, hi, cur, sg;
    ck_assert_int_eq(log_list(&wrong, &lo, &hi, &cur), JET_errBadLogSignature);
    ck_assert_int_eq(logscan_open(&wrong, ENG_LSN(1, 0), &sc), JET_errBadLogSignature);
    ck_assert_int_eq(log_seal_current(&wrong, &sg, NULL), JET_errBadLogSignature);
    char *cur_path = tu_path(dir, "edb.log");
    ck_assert(exists(cur_path));
    free(cur_path);
    free(a2);
    free(b2);
    tu_rmtree(dir_b);
    free(dir_b);
    model_free(&m);
    model_free(&other);
}
END_TEST

START_TEST(generation_mismatch)
{
    model m = {0};
    ck_assert_uint_eq(build_set(&cfg, &m, 100), 4);
    char *a2 = gen_path(&cfg, 2), *a3 = gen_path(&cfg, 3);
    ck_assert_int_eq(rename(a3, a2), 0); /* generation 3's file now named as generation 2 */
    expect_scan(&cfg, ENG_LSN(1, 0), &m, 0, PER_GEN, JET_errLogGenerationMismatch);
    eng_logscan *sc;
    ck_assert_int_eq(logscan_open(&cfg, ENG_LSN(2, 0), &sc), JET_errLogGenerationMismatch);
    free(a2);
    free(a3);
    model_free(&m);
}
END_TEST

/* Set the header's format version and, when fix_crc, make its CRC valid again. */
static void set_version(const char *path, uint32_t version, bool fix_crc)
{
    uint8_t h[LOG_HDR_USED];
    read_at(path, 0, h, sizeof h);
    log_st32(h + 8, version);
    if (fix_crc)
        log_st32(h + LOG_HDR_CRC_OFF, eng_crc32c(0, h, LOG_HDR_CRC_OFF));
    write_at(path, 0, h, sizeof h);
}

START_TEST(bad_version)
{
    model m = {0};
    ck_assert_uint_eq(build_set(&cfg, &m, 100), 4);
    char *a2 = gen_path(&cfg, 2);
    set_version(a2, LOG_VERSION + 1, true);
    expect_scan(&cfg, ENG_LSN(1, 0), &m, 0, PER_GEN, JET_errBadLogVersion);
    eng_logscan *sc;
    ck_assert_int_eq(logscan_open(&cfg, ENG_LSN(2, 0), &sc), JET_errBadLogVersion);
    /* The version is read before the CRC: a future layout is reported as such. */
    set_version(a2, 7, false);
    ck_assert_int_eq(logscan_open(&cfg, ENG_LSN(2, 0), &sc), JET_errBadLogVersion);
    /* Version 1 logs had no diff records; a reader that skipped them would lose commits. */
    set_version(a2, 1, true);
    ck_assert_int_eq(logscan_open(&cfg, ENG_LSN(2, 0), &sc), JET_errBadLogVersion);
    set_version(a2, LOG_VERSION, true);
    expect_scan(&cfg, ENG_LSN(1, 0), &m, 0, m.n, 1);
    free(a2);
    model_free(&m);
}
END_TEST

START_TEST(file_size_mismatch)
{
    model m = {0};
    ck_assert_uint_eq(build_set(&cfg, &m, 100), 4);
    eng_logscan *sc;
    eng_log_config big = cfg;
    big.file_size = 2 * FSIZE; /* the set was made with another size */
    ck_assert_int_eq(logscan_open(&big, ENG_LSN(1, 0), &sc), JET_errLogFileSizeMismatch);
    uint32_t sg;
    ck_assert_int_eq(log_seal_current(&big, &sg, NULL), JET_errLogFileSizeMismatch);

    /* A file longer than its header says. */
    char *a2 = gen_path(&cfg, 2);
    ck_assert_int_eq(truncate(a2, FSIZE + 4096), 0);
    expect_scan(&cfg, ENG_LSN(1, 0), &m, 0, PER_GEN, JET_errLogFileSizeMismatch);
    eng_log_config any = cfg;
    any.file_size = 0; /* unknown size: the header's is still enforced */
    expect_scan(&any, ENG_LSN(1, 0), &m, 0, PER_GEN, JET_errLogFileSizeMismatch);
    ck_assert_int_eq(truncate(a2, FSIZE), 0);
    expect_scan(&any, ENG_LSN(1, 0), &m, 0, m.n, 1);
    free(a2);
    model_free(&m);
}
END_TEST

/* ---------------------------------------------------------------------------------------------
 * Arguments
 * ------------------------------------------------------------------------------------------- */

START_TEST(payload_and_type_limits)
{
    eng_log *lg = NULL;
    ck_assert_int_eq(log_writer_open(&cfg, 1, &lg), 0);
    size_t max = LOG_MAX_PAYLOAD(FSIZE);
    uint8_t *big = calloc(1, max + 2);
    ck_assert_ptr_nonnull(big);
    fill(big, max + 1, 77);
    struct iovec one = {big, max + 1};
    eng_logrec rec = {ENG_LR_PAGE, &one, 1};
    eng_lsn first, end;
    ck_assert_int_eq(log_append(lg, &rec, 1, &first, &end), JET_errInvalidParameter);
    /* The limit is on the sum of the gather list, not on one element. */
    struct iovec two[2] = {{big, max / 2 + 1}, {big + max / 2 + 1, max - max / 2}};
    rec.iov = two;
    rec.iovcnt = 2;
    ck_assert_int_eq(log_append(lg, &rec, 1, &first, &end), JET_errInvalidParameter);
    /* A run with one bad record appends nothing at all. */
    struct iovec small = {big, 10};
    eng_logrec run[2] = {{ENG_LR_PAGE, &small, 1}, {ENG_LR_PAGE, &one, 1}};
    ck_assert_int_eq(log_append(lg, run, 2, &first, &end), JET_errInvalidParameter);
    run[1].type = 0;
    run[1].iov = &small;
    ck_assert_int_eq(log_append(lg, run, 2, &first, &end), JET_errInvalidParameter);
    run[1].type = ENG_LR_SEAL; /* the log's own */
    ck_assert_int_eq(log_append(lg, run, 2, &first, &end), JET_errInvalidParameter);
    run[1].type = ENG_LR_PAGE;
    run[1].iovcnt = -1;
    ck_assert_int_eq(log_append(lg, run, 2, &first, &end), JET_errInvalidParameter);
    ck_assert_uint_eq(log_tip(lg), ENG_LSN(1, LOG_HDR_SIZE));
    /* Refused arguments are not failures of the log. */
    ck_assert_int_eq(log_error(lg), 0);

    /* Exactly the limit is fine: the limit leaves room for a header's worth of other records
     * before it in the same generation; a second one starts the next generation. */
    model m = {0};
    append_rec(lg, &m, ENG_LR_INIT, 100);
    append_rec(lg, &m, ENG_LR_PAGE, max);
    ck_assert_uint_eq(m.r[1].lsn, m.r[0].end);
    append_rec(lg, &m, ENG_LR_PAGE, max);
    ck_assert_uint_eq(m.r[2].lsn, ENG_LSN(2, LOG_HDR_SIZE));
    append_rec(lg, &m, ENG_LR_COMMIT, 0);
    ck_assert_int_eq(log_writer_close(lg), 0);
    expect_scan(&cfg, ENG_LSN(1, 0), &m, 0, m.n, 1);

    /* Bad configurations. */
    eng_log_config bad = cfg;
    bad.file_size = FSIZE + 100;
    ck_assert_int_eq(log_writer_open(&bad, 9, &lg), JET_errInvalidParameter);
    bad = cfg;
    bad.file_size = 32 * 1024;
    ck_assert_int_eq(log_writer_open(&bad, 9, &lg), JET_errInvalidParameter);
    bad = cfg;
    memcpy(bad.base, "ed", 3);
    ck_assert_int_eq(log_writer_open(&bad, 9, &lg), JET_errInvalidParameter);
    ck_assert_int_eq(log_writer_open(&cfg, 0, &lg), JET_errInvalidParameter);
    char *nodir = tu_path(dir, "nonexistent");
    bad = cfg;
    bad.dir = nodir;
    ck_assert_int_eq(log_writer_open(&bad, 9, &lg), JET_errInvalidLogDirectory);
    free(nodir);
    free(big);
    model_free(&m);
}
END_TEST

/* ---------------------------------------------------------------------------------------------
 * Group commit
 * ------------------------------------------------------------------------------------------- */
enum { GC_THREADS = 8, GC_ITERS = 200 };
static atomic_long n_syncs, n_writes;

/* Counts syncs and makes each take a while, as on a real disk, so flushers that arrive during one
 * must be served by the next instead of each paying its own. */
static int slow_sync_hook(void *ctx, enum eng_io_op op, int fd, const char *path, uint64_t off, size_t len)
{
    (void)ctx, (void)fd, (void)path, (void)off, (void)len;
    if (op == ENG_IO_SYNC) {
        atomic_fetch_add(&n_syncs, 1);
        usleep(300);
    } else if (op == ENG_IO_WRITE) {
        atomic_fetch_add(&n_writes, 1);
    }
    return 0;
}

struct gc_arg {
    eng_log *lg;
    uint32_t id;
    atomic_int *bad;
};

static void *gc_thread(void *p)
{
    struct gc_arg *a = p;
    uint8_t buf[48];
    for (uint32_t i = 0; i < GC_ITERS; i++) {
        log_st32(buf, a->id);
        log_st32(buf + 4, i);
        memset(buf + 8, (int)a->id, sizeof buf - 8);
        struct iovec iov = {buf, sizeof buf};
        eng_logrec rec = {ENG_LR_COMMIT, &iov, 1};
        eng_lsn end = 0;
        if (log_append(a->lg, &rec, 1, NULL, &end))
            atomic_fetch_add(a->bad, 1);
        /* Durable when log_flush returns: never behind what it was asked for. */
        if (log_flush(a->lg, end) || log_durable(a->lg) < end)
            atomic_fetch_add(a->bad, 1);
    }
    return NULL;
}

START_TEST(group_commit_shares_syncs)
{
    cfg.file_size = 1024 * 1024; /* no roll: every sync counted is a flush's */
    eng_log *lg = NULL;
    ck_assert_int_eq(log_writer_open(&cfg, 1, &lg), 0);
    atomic_store(&n_syncs, 0);
    atomic_store(&n_writes, 0);
    eng_io_set_fault_hook(slow_sync_hook, NULL);
    atomic_int bad = 0;
    pthread_t th[GC_THREADS];
    struct gc_arg args[GC_THREADS];
    for (uint32_t i = 0; i < GC_THREADS; i++) {
        args[i] = (struct gc_arg){lg, i, &bad};
        ck_assert_int_eq(pthread_create(&th[i], NULL, gc_thread, &args[i]), 0);
    }
    for (int i = 0; i < GC_THREADS; i++)
        pthread_join(th[i], NULL);
    eng_io_set_fault_hook(NULL, NULL);
    ck_assert_int_eq(atomic_load(&bad), 0);
    long flushes = GC_THREADS * GC_ITERS, syncs = atomic_load(&n_syncs);
    fprintf(stderr, "group commit: %ld flushes, %ld syncs, %ld writes\n", flushes, syncs,
            atomic_load(&n_writes));
    ck_assert_int_gt(syncs, 0);
    ck_assert_int_lt(syncs, flushes);
    ck_assert_int_le(atomic_load(&n_writes), syncs); /* one write per sync at most */
    ck_assert_uint_eq(log_durable(lg), log_tip(lg));
    ck_assert_int_eq(log_writer_close(lg), 0);

    /* All records are there, each thread's in its own order. */
    eng_logscan *sc;
    ck_assert_int_eq(logscan_open(&cfg, ENG_LSN(1, 0), &sc), 0);
    uint32_t next[GC_THREADS] = {0};
    eng_logrec_view v;
    int rc, n = 0;
    while ((rc = logscan_next(sc, &v)) == 0) {
        ck_assert_uint_eq(v.len, 48);
        uint32_t t = log_ld32(v.data), i = log_ld32(v.data + 4);
        ck_assert_uint_lt(t, GC_THREADS);
        ck_assert_uint_eq(i, next[t]);
        next[t]++;
        n++;
    }
    ck_assert_int_eq(rc, 1);
    logscan_close(sc);
    ck_assert_int_eq(n, flushes);
}
END_TEST

/* ---------------------------------------------------------------------------------------------
 * Fault injection
 * ------------------------------------------------------------------------------------------- */
struct fault {
    enum eng_io_op op;
    int result; /* what the hook returns for the op */
    int skip;   /* let this many matching ops through first */
    atomic_int hits;
};

static int fault_hook(void *ctx, enum eng_io_op op, int fd, const char *path, uint64_t off, size_t len)
{
    (void)fd, (void)path, (void)off, (void)len;
    struct fault *f = ctx;
    if (op != f->op)
        return 0;
    if (atomic_fetch_add(&f->hits, 1) < f->skip)
        return 0;
    return f->result;
}

/* A writer with n flushed records of 100 bytes in m. */
static eng_log *writer_with(model *m, int n)
{
    eng_log *lg = NULL;
    ck_assert_int_eq(log_writer_open(&cfg, 1, &lg), 0);
    for (int i = 0; i < n; i++)
        append_rec(lg, m, ENG_LR_PAGE, 100);
    ck_assert_int_eq(log_flush(lg, log_tip(lg)), 0);
    return lg;
}

static void expect_sticky(eng_log *lg, int err)
{
    ck_assert_int_eq(log_error(lg), err);
    uint8_t b[8] = {0};
    struct iovec iov = {b, sizeof b};
    eng_logrec rec = {ENG_LR_PAGE, &iov, 1};
    eng_lsn end = 0;
    ck_assert_int_eq(log_append(lg, &rec, 1, NULL, &end), err);
    ck_assert_int_eq(log_flush(lg, log_tip(lg)), err);
    ck_assert_int_eq(log_flush(lg, 0), err);
    ck_assert_int_eq(log_roll(lg, NULL), err);
    ck_assert_int_eq(log_error(lg), err);
}

START_TEST(enospc_on_write_is_sticky)
{
    model m = {0};
    eng_log *lg = writer_with(&m, 5);
    eng_lsn durable = log_durable(lg);
    struct fault f = {.op = ENG_IO_WRITE, .result = -ENOSPC};
    eng_io_set_fault_hook(fault_hook, &f);
    xrec *x = model_push(&m, ENG_LR_PAGE, 100);
    struct iovec iov = {x->data, x->len};
    eng_logrec rec = {x->type, &iov, 1};
    ck_assert_int_eq(log_append(lg, &rec, 1, &x->lsn, &x->end), 0); /* buffered only */
    ck_assert_int_eq(log_flush(lg, x->end), JET_errLogDiskFull);
    ck_assert_int_gt(atomic_load(&f.hits), 0);
    ck_assert_uint_eq(log_durable(lg), durable);
    /* The disk has room again, but the log stays failed: what follows the lost write must never
     * be written behind a hole. */
    eng_io_set_fault_hook(NULL, NULL);
    expect_sticky(lg, JET_errLogDiskFull);
    ck_assert_int_eq(log_writer_close(lg), JET_errLogDiskFull);
    /* What was durable before is intact, and nothing after it was written. */
    expect_scan(&cfg, ENG_LSN(1, 0), &m, 0, 5, 1);
    model_free(&m);
}
END_TEST

START_TEST(eio_on_fdatasync_is_sticky)
{
    model m = {0};
    eng_log *lg = writer_with(&m, 5);
    struct fault f = {.op = ENG_IO_SYNC, .result = -EIO};
    eng_io_set_fault_hook(fault_hook, &f);
    xrec *x = append_rec(lg, &m, ENG_LR_PAGE, 100);
    ck_assert_int_eq(log_flush(lg, x->end), JET_errLogWriteFail);
    ck_assert_int_gt(atomic_load(&f.hits), 0);
    ck_assert_uint_lt(log_durable(lg), x->end);
    eng_io_set_fault_hook(NULL, NULL);
    /* After a failed fdatasync the page cache state is unknown (the kernel may have dropped the
     * dirty pages): retrying could report durability that is not there. */
    expect_sticky(lg, JET_errLogWriteFail);
    ck_assert_int_eq(log_writer_close(lg), JET_errLogWriteFail);
    model_free(&m);
}
END_TEST

START_TEST(torn_write_ends_log_at_the_tear)
{
    model m = {0};
    eng_log *lg = writer_with(&m, 3);
    append_rec(lg, &m, ENG_LR_PAGE, 100);
    append_rec(lg, &m, ENG_LR_PAGE, 100);
    append_rec(lg, &m, ENG_LR_COMMIT, 100);
    /* The pending buffer starts at record 3: let record 3 and half of record 4 reach the file. */
    struct fault f = {.op = ENG_IO_WRITE,
                      .result = (int)(log_rec_size(100) + log_rec_size(100) / 2)};
    eng_io_set_fault_hook(fault_hook, &f);
    ck_assert_int_eq(log_flush(lg, log_tip(lg)), JET_errLogWriteFail);
    eng_io_set_fault_hook(NULL, NULL);
    ck_assert_int_eq(log_writer_close(lg), JET_errLogWriteFail);
    ck_assert_uint_eq(expect_scan(&cfg, ENG_LSN(1, 0), &m, 0, 4, 1), m.r[4].lsn);
    uint32_t sg;
    eng_lsn end;
    ck_assert_int_eq(log_seal_current(&cfg, &sg, &end), 0);
    ck_assert_uint_eq(end, m.r[4].lsn);
    expect_scan(&cfg, ENG_LSN(1, 0), &m, 0, 4, 1);
    model_free(&m);
}
END_TEST

START_TEST(enospc_during_roll)
{
    /* The disk fills up exactly when a generation is being finished: the run that needed the
     * roll fails, nothing of it becomes visible, and the log stays failed. */
    model m = {0};
    eng_log *lg = writer_with(&m, 3);
    enum { N = 20 };
    uint8_t *buf = malloc(N * 5000);
    fill(buf, N * 5000, 5);
    struct iovec iov[N];
    eng_logrec recs[N];
    for (int i = 0; i < N; i++) {
        iov[i] = (struct iovec){buf + i * 5000, 5000};
        recs[i] = (eng_logrec){ENG_LR_PAGE, &iov[i], 1};
    }
    struct fault f = {.op = ENG_IO_WRITE, .result = -ENOSPC};
    eng_io_set_fault_hook(fault_hook, &f);
    ck_assert_int_eq(log_append(lg, recs, N, NULL, NULL), JET_errLogDiskFull);
    eng_io_set_fault_hook(NULL, NULL);
    ck_assert_uint_eq(ENG_LSN_GEN(log_tip(lg)), 1); /* the roll did not happen */
    expect_sticky(lg, JET_errLogDiskFull);
    ck_assert_int_eq(log_writer_close(lg), JET_errLogDiskFull);
    char *a1 = gen_path(&cfg, 1);
    ck_assert(!exists(a1));
    free(a1);
    expect_scan(&cfg, ENG_LSN(1, 0), &m, 0, m.n, 1);
    free(buf);
    model_free(&m);
}
END_TEST

START_TEST(enospc_while_appending_a_long_run)
{
    /* A run past the 1 MiB buffer limit is written out by log_append itself, which then reports
     * the failure directly. */
    cfg.file_size = 4u * 1024 * 1024;
    model m = {0};
    eng_log *lg = writer_with(&m, 2);
    enum { N = 24, LEN = 60000 };
    uint8_t *buf = malloc((size_t)N * LEN);
    fill(buf, (size_t)N * LEN, 6);
    struct iovec iov[N];
    eng_logrec recs[N];
    for (int i = 0; i < N; i++) {
        iov[i] = (struct iovec){buf + (size_t)i * LEN, LEN};
        recs[i] = (eng_logrec){ENG_LR_PAGE, &iov[i], 1};
    }
    struct fault f = {.op = ENG_IO_WRITE, .result = -ENOSPC};
    eng_io_set_fault_hook(fault_hook, &f);
    ck_assert_int_eq(log_append(lg, recs, N, NULL, NULL), JET_errLogDiskFull);
    ck_assert_int_eq(atomic_load(&f.hits), 1);
    eng_io_set_fault_hook(NULL, NULL);
    expect_sticky(lg, JET_errLogDiskFull);
    ck_assert_int_eq(log_writer_close(lg), JET_errLogDiskFull);
    expect_scan(&cfg, ENG_LSN(1, 0), &m, 0, m.n, 1);
    free(buf);
    model_free(&m);
}
END_TEST

START_TEST(failure_creating_next_generation)
{
    /* Disk full while the next generation is made ahead of time (after a roll). */
    model m = {0};
    eng_log *lg = writer_with(&m, 2);
    struct fault f = {.op = ENG_IO_ALLOCATE, .result = -ENOSPC};
    eng_io_set_fault_hook(fault_hook, &f);
    uint32_t g = 0;
    ck_assert_int_eq(log_roll(lg, &g), JET_errLogDiskFull);
    eng_io_set_fault_hook(NULL, NULL);
    char *tmp_path = tu_path(dir, "edbtmp.log");
    ck_assert(!exists(tmp_path)); /* the half-made file is removed */
    expect_sticky(lg, JET_errLogDiskFull);
    ck_assert_int_eq(log_writer_close(lg), JET_errLogDiskFull);
    expect_scan(&cfg, ENG_LSN(1, 0), &m, 0, m.n, 1);
    free(tmp_path);
    model_free(&m);
}
END_TEST

START_TEST(rename_failure_during_roll)
{
    /* The roll wrote and synced the seal but could not rename the file: what is left is a
     * complete, sealed current generation, which log_seal_current archives as it is. */
    model m = {0};
    eng_log *lg = writer_with(&m, 4);
    eng_lsn tail = log_tip(lg);
    struct fault f = {.op = ENG_IO_RENAME, .result = -EIO};
    eng_io_set_fault_hook(fault_hook, &f);
    ck_assert_int_eq(log_roll(lg, NULL), JET_errLogWriteFail);
    eng_io_set_fault_hook(NULL, NULL);
    expect_sticky(lg, JET_errLogWriteFail);
    ck_assert_int_eq(log_writer_close(lg), JET_errLogWriteFail);
    uint32_t sg;
    eng_lsn end;
    ck_assert_int_eq(log_seal_current(&cfg, &sg, &end), 0);
    ck_assert_uint_eq(sg, 1);
    ck_assert_uint_eq(end, tail);
    ck_assert_int_eq(log_writer_open(&cfg, 2, &lg), 0);
    append_rec(lg, &m, ENG_LR_INIT, 10);
    ck_assert_uint_eq(m.r[m.n - 1].lsn, ENG_LSN(2, LOG_HDR_SIZE));
    ck_assert_int_eq(log_writer_close(lg), 0);
    expect_scan(&cfg, ENG_LSN(1, 0), &m, 0, m.n, 1);
    model_free(&m);
}
END_TEST

START_TEST(open_failures_leave_nothing)
{
    char *cur_path = tu_path(dir, "edb.log"), *tmp_path = tu_path(dir, "edbtmp.log");
    eng_log *lg = NULL;
    /* The first file cannot be made. */
    struct fault f = {.op = ENG_IO_ALLOCATE, .result = -ENOSPC};
    eng_io_set_fault_hook(fault_hook, &f);
    ck_assert_int_eq(log_writer_open(&cfg, 1, &lg), JET_errLogDiskFull);
    ck_assert(!exists(cur_path));
    ck_assert(!exists(tmp_path));
    /* The first file is made but the one after it is not: the empty generation is taken back,
     * so a retry can start over. */
    struct fault f2 = {.op = ENG_IO_ALLOCATE, .result = -ENOSPC, .skip = 1};
    eng_io_set_fault_hook(fault_hook, &f2);
    ck_assert_int_eq(log_writer_open(&cfg, 1, &lg), JET_errLogDiskFull);
    ck_assert_int_eq(atomic_load(&f2.hits), 2);
    ck_assert(!exists(cur_path));
    ck_assert(!exists(tmp_path));
    /* EIO while zero-filling: LogWriteFail, and again nothing left behind. */
    struct fault f3 = {.op = ENG_IO_WRITE, .result = -EIO};
    eng_io_set_fault_hook(fault_hook, &f3);
    ck_assert_int_eq(log_writer_open(&cfg, 1, &lg), JET_errLogWriteFail);
    ck_assert(!exists(cur_path));
    ck_assert(!exists(tmp_path));
    eng_io_set_fault_hook(NULL, NULL);
    ck_assert_int_eq(log_writer_open(&cfg, 1, &lg), 0);
    ck_assert_int_eq(log_writer_close(lg), 0);
    free(cur_path);
    free(tmp_path);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("log");
    TCase *tc = tcase_create("log");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, append_flush_roll_scan);
    tcase_add_test(tc, scan_from_generation_start);
    tcase_add_test(tc, run_crosses_generations);
    tcase_add_test(tc, concurrent_runs_stay_contiguous);
    tcase_add_test(tc, file_names);
    tcase_add_test(tc, list_seal_and_delete);
    tcase_add_test(tc, short_current_file_is_corrupt);
    tcase_add_test(tc, damage_in_archived_generation);
    tcase_add_test(tc, damage_in_last_generation_is_corrupt);
    tcase_add_test(tc, torn_write_out_of_order_ends_log);
    tcase_add_test(tc, one_flipped_bit_is_damage);
    tcase_add_test(tc, scan_start_must_be_a_record_boundary);
    tcase_add_test(tc, big_buffers_are_written_in_synced_pieces);
    tcase_add_test(tc, live_log_files_are_locked);
    tcase_add_test(tc, missing_generation);
    tcase_add_test(tc, foreign_log_set);
    tcase_add_test(tc, generation_mismatch);
    tcase_add_test(tc, bad_version);
    tcase_add_test(tc, file_size_mismatch);
    tcase_add_test(tc, payload_and_type_limits);
    tcase_add_test(tc, group_commit_shares_syncs);
    tcase_add_test(tc, enospc_on_write_is_sticky);
    tcase_add_test(tc, eio_on_fdatasync_is_sticky);
    tcase_add_test(tc, torn_write_ends_log_at_the_tear);
    tcase_add_test(tc, enospc_during_roll);
    tcase_add_test(tc, enospc_while_appending_a_long_run);
    tcase_add_test(tc, failure_creating_next_generation);
    tcase_add_test(tc, rename_failure_during_roll);
    tcase_add_test(tc, open_failures_leave_nothing);
    suite_add_tcase(s, tc);
    return s;
}

TU_CHECK_MAIN(suite)
