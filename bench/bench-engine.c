/*
 * bench-engine.c — jetsnap vs SQLite on one workload, measured in one run on the same machine.
 *
 *   bench-engine [--records N] [--txn-size N] [--reads N] [--commit-seconds S] [--dir DIR]
 *                [--scale F] [--threads N] [--cache-mib M] [--engine both|jet|sqlite] [--keep]
 *
 * Workload (identical for both engines; see bench/README.md):
 *   key   = 8-byte big-endian sequence number (both engines store in key order)
 *   value = 100 bytes of deterministic pseudo-random data derived from the key
 *   phase 1  bulk insert of N records in transactions of --txn-size, each commit durable
 *   phase 2  random point reads of existing keys (length checked on every read, content compared
 *            on every 16th read, so the phase cannot measure a no-op)
 *   phase 3  durable single-record commits for --commit-seconds, with 1 thread and with --threads
 *            threads, each thread with its own session / connection and its own keys
 *   phase 4  raw fsync rate: 4 KiB pwrite + fdatasync in a loop on a preallocated file, 1 thread
 *
 * Everything is reported as rates and as ratios between numbers measured in this process; nothing
 * here is a pass/fail assertion on time. The exit status is non-zero only when a call fails or a
 * read returns wrong data.
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sqlite3.h>

#include "jet.h"

#include "benchutil.h"

#define KEY_SIZE 8
#define VALUE_SIZE 100
#define CHECK_EVERY 16 /* full content comparison on every 16th point read */
#define FSYNC_FILE_SIZE (64u << 20)
#define FSYNC_BLOCK 4096u

/* ---------------------------------------------------------------------------------------------
 * Options and global state
 * ------------------------------------------------------------------------------------------- */
struct options {
    uint64_t records;
    uint64_t txn_size;
    uint64_t reads;
    double commit_seconds;
    const char *parent_dir;
    double scale;
    unsigned threads;
    unsigned cache_mib;
    bool run_jet;
    bool run_sqlite;
    bool keep;
};

static struct options opt = {
    .records = 8000000,
    .txn_size = 10000,
    .reads = 1000000,
    .commit_seconds = 3.0,
    .parent_dir = NULL,
    .scale = 1.0,
    .threads = 8,
    .cache_mib = 512,
    .run_jet = true,
    .run_sqlite = true,
    .keep = false,
};

/* One name per message: each thread's buffer is reused by its next call. */
static const char *jet_err_name(JET_ERR err)
{
    static _Thread_local char buf[64];
    return bu_jet_err_name(err, buf, sizeof buf, "unknown JET_err");
}

/* Abort on any JET error (< 0); warnings (> 0) pass. `call` is the source text of the call. */
#define JET_CHECK(call) jet_check((call), #call, NULL)

static void jet_check(JET_ERR err, const char *call, const char *context)
{
    if (err < 0)
        bu_fail("jetsnap: %s returned %ld (%s)%s%s", call, (long)err, jet_err_name(err),
                context ? " " : "", context ? context : "");
}

/* Run a PRAGMA that returns one value and give it back as text (in buf). */
static const char *sql_pragma(sqlite3 *db, const char *sql, char *buf, size_t cb)
{
    sqlite3_stmt *st = bu_sql_prepare(db, sql);
    int rc = sqlite3_step(st);
    buf[0] = '\0';
    if (rc == SQLITE_ROW) {
        const unsigned char *t = sqlite3_column_text(st, 0);
        snprintf(buf, cb, "%s", t ? (const char *)t : "");
        rc = sqlite3_step(st);
    }
    if (rc != SQLITE_DONE)
        bu_sqlite_fail(db, rc, sql);
    sqlite3_finalize(st);
    return buf;
}

/* ---------------------------------------------------------------------------------------------
 * Workload data
 * ------------------------------------------------------------------------------------------- */
/* The random read keys: the same sequence for both engines. */
struct read_rng {
    uint64_t s;
};

static uint64_t next_read_seq(struct read_rng *r, uint64_t n)
{
    return bu_splitmix64(&r->s) % n;
}

static void check_read(uint64_t seq, uint64_t i, const unsigned char *got, size_t cb,
                       const char *engine)
{
    if (cb != VALUE_SIZE)
        bu_fail("%s: point read %" PRIu64 " of key %" PRIu64 " returned %zu bytes, expected %d",
                engine, i, seq, cb, VALUE_SIZE);
    if (i % CHECK_EVERY == 0) {
        unsigned char want[VALUE_SIZE];
        bu_make_value(seq, want, VALUE_SIZE);
        if (memcmp(want, got, VALUE_SIZE) != 0)
            bu_fail("%s: point read %" PRIu64 " of key %" PRIu64 " returned wrong content", engine,
                    i, seq);
    }
}

/* ---------------------------------------------------------------------------------------------
 * Time, memory, files
 * ------------------------------------------------------------------------------------------- */
/* Peak RSS of the process so far, in KiB (getrusage). */
static long peak_rss_kib(void)
{
    struct rusage ru;
    return getrusage(RUSAGE_SELF, &ru) == 0 ? ru.ru_maxrss : -1;
}

/* Peak RSS over the whole run: resetting the high-water mark (below) also resets what getrusage
 * reports, so the maximum seen before each reset is kept here. */
static long g_peak_rss_kib;

static long process_peak_rss_kib(void)
{
    long now_kib = peak_rss_kib();
    if (now_kib > g_peak_rss_kib)
        g_peak_rss_kib = now_kib;
    return g_peak_rss_kib;
}

/* Reset the kernel's RSS high-water mark (Linux >= 4.0), so that each engine's peak can be read
 * separately from /proc/self/status. Returns false when that is not possible. */
static bool reset_peak_rss(void)
{
    process_peak_rss_kib();
    int fd = open("/proc/self/clear_refs", O_WRONLY | O_CLOEXEC);
    if (fd < 0)
        return false;
    bool ok = write(fd, "5", 1) == 1;
    close(fd);
    return ok;
}

static long vm_hwm_kib(void)
{
    return bu_status_field("/proc/self/status", "VmHWM");
}

/* Bytes allocated on disk by the regular files in dir; the file named `main_name` (if any) is
 * counted in *main_bytes, all others in *other_bytes. */
static uint64_t g_du_main, g_du_other;
static const char *g_du_main_name;

static int du_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    if (flag == FTW_F && S_ISREG(st->st_mode)) {
        uint64_t bytes = (uint64_t)st->st_blocks * 512u;
        if (g_du_main_name && strcmp(path + ftw->base, g_du_main_name) == 0)
            g_du_main += bytes;
        else
            g_du_other += bytes;
    }
    return 0;
}

static void disk_usage(const char *dir, const char *main_name, uint64_t *main_bytes,
                       uint64_t *other_bytes)
{
    g_du_main = g_du_other = 0;
    g_du_main_name = main_name;
    nftw(dir, du_entry, 16, FTW_PHYS);
    *main_bytes = g_du_main;
    *other_bytes = g_du_other;
}

/* ---------------------------------------------------------------------------------------------
 * Results
 * ------------------------------------------------------------------------------------------- */
struct engine_result {
    bool ran;
    double bulk_s;        /* seconds for phase 1 */
    double reads_s;       /* seconds for phase 2 */
    double commit1_rate;  /* phase 3, 1 thread: commits per second */
    double commitN_rate;  /* phase 3, opt.threads threads */
    uint64_t commit1_n, commitN_n;
    double close_s;       /* JetTerm2 / sqlite3_close after the phases */
    uint64_t db_bytes_load, log_bytes_load;   /* on disk right after the last bulk commit */
    uint64_t db_bytes_final, log_bytes_final; /* on disk after a clean shutdown */
    long hwm_kib;                             /* peak RSS while this engine ran, -1 unknown */
};

static struct engine_result res_jet, res_sql;
static double fsync_rate;
static uint64_t fsync_n;

/* ---------------------------------------------------------------------------------------------
 * Durable-commit threads (shared by both engines)
 * ------------------------------------------------------------------------------------------- */
enum engine { ENGINE_JET, ENGINE_SQLITE };

struct commit_ctx {
    enum engine engine;
    unsigned run;     /* 1 = single-thread run, 2 = multi-thread run: part of the keys */
    pthread_barrier_t start, stop;
    atomic_bool stopping;
    JET_INSTANCE inst; /* jetsnap */
    const char *path;  /* jetsnap database file or SQLite database file */
};

struct committer {
    struct commit_ctx *ctx;
    unsigned tid;
    uint64_t count;
    pthread_t thread;
};

static void jet_commit_loop(struct committer *c)
{
    struct commit_ctx *ctx = c->ctx;
    JET_SESID ses;
    JET_DBID dbid;
    JET_TABLEID tab;
    unsigned char key[KEY_SIZE], val[VALUE_SIZE];
    char where[96];

    JET_CHECK(JetBeginSession(ctx->inst, &ses, NULL, NULL));
    JET_CHECK(JetOpenDatabase(ses, ctx->path, NULL, &dbid, 0));
    JET_CHECK(JetOpenTable(ses, dbid, "kv", NULL, 0, 0, &tab));
    bu_barrier_wait(&ctx->start);
    while (!atomic_load_explicit(&ctx->stopping, memory_order_relaxed)) {
        uint64_t seq = bu_writer_seq(ctx->run, c->tid, c->count);
        bu_make_key(seq, key, KEY_SIZE);
        bu_make_value(seq, val, VALUE_SIZE);
        snprintf(where, sizeof where, "(thread %u, commit %" PRIu64 ")", c->tid, c->count);
        jet_check(JetBeginTransaction(ses), "JetBeginTransaction", where);
        jet_check(JetPutRecord(ses, tab, key, KEY_SIZE, val, VALUE_SIZE, JET_bitPutNoOverwrite),
                  "JetPutRecord", where);
        jet_check(JetCommitTransaction(ses, 0), "JetCommitTransaction(sesid, 0)", where);
        c->count++;
    }
    bu_barrier_wait(&ctx->stop);
    JET_CHECK(JetCloseTable(ses, tab));
    JET_CHECK(JetCloseDatabase(ses, dbid, 0));
    JET_CHECK(JetEndSession(ses, 0));
}

static sqlite3 *sqlite_connect(const char *path, bool create);

static void sqlite_commit_loop(struct committer *c)
{
    struct commit_ctx *ctx = c->ctx;
    unsigned char key[KEY_SIZE], val[VALUE_SIZE];
    sqlite3 *db = sqlite_connect(ctx->path, false);
    sqlite3_stmt *begin = bu_sql_prepare(db, "BEGIN IMMEDIATE");
    sqlite3_stmt *ins = bu_sql_prepare(db, "INSERT INTO kv(k, v) VALUES (?1, ?2)");
    sqlite3_stmt *commit = bu_sql_prepare(db, "COMMIT");

    bu_barrier_wait(&ctx->start);
    while (!atomic_load_explicit(&ctx->stopping, memory_order_relaxed)) {
        uint64_t seq = bu_writer_seq(ctx->run, c->tid, c->count);
        bu_make_key(seq, key, KEY_SIZE);
        bu_make_value(seq, val, VALUE_SIZE);
        bu_sql_step_done(db, begin, "BEGIN IMMEDIATE (durable commit)");
        sqlite3_bind_blob(ins, 1, key, KEY_SIZE, SQLITE_STATIC);
        sqlite3_bind_blob(ins, 2, val, VALUE_SIZE, SQLITE_STATIC);
        bu_sql_step_done(db, ins, "INSERT (durable commit)");
        bu_sql_step_done(db, commit, "COMMIT (durable commit)");
        c->count++;
    }
    bu_barrier_wait(&ctx->stop);
    sqlite3_finalize(begin);
    sqlite3_finalize(ins);
    sqlite3_finalize(commit);
    int rc = sqlite3_close(db);
    if (rc != SQLITE_OK)
        bu_sqlite_fail(db, rc, "sqlite3_close (commit thread)");
}

static void *committer_main(void *arg)
{
    struct committer *c = arg;
    if (c->ctx->engine == ENGINE_JET)
        jet_commit_loop(c);
    else
        sqlite_commit_loop(c);
    return NULL;
}

/* Run nthreads committers for opt.commit_seconds; returns commits per second. */
static double run_commits(enum engine engine, unsigned run, unsigned nthreads, JET_INSTANCE inst,
                          const char *path, uint64_t *total)
{
    struct commit_ctx ctx = {.engine = engine, .run = run, .inst = inst, .path = path};
    struct committer *c = calloc(nthreads, sizeof *c);
    if (!c)
        bu_fail("out of memory");
    atomic_init(&ctx.stopping, false);
    pthread_barrier_init(&ctx.start, NULL, nthreads + 1);
    pthread_barrier_init(&ctx.stop, NULL, nthreads + 1);
    bu_settle_disk();
    for (unsigned i = 0; i < nthreads; i++) {
        c[i].ctx = &ctx;
        c[i].tid = i;
        int rc = pthread_create(&c[i].thread, NULL, committer_main, &c[i]);
        if (rc != 0)
            bu_fail("pthread_create: %s", strerror(rc));
    }
    bu_barrier_wait(&ctx.start);
    double t0 = bu_now();
    bu_sleep(opt.commit_seconds);
    atomic_store(&ctx.stopping, true);
    bu_barrier_wait(&ctx.stop); /* every thread has finished its last commit */
    double t1 = bu_now();
    uint64_t n = 0;
    for (unsigned i = 0; i < nthreads; i++) {
        pthread_join(c[i].thread, NULL);
        n += c[i].count;
    }
    pthread_barrier_destroy(&ctx.start);
    pthread_barrier_destroy(&ctx.stop);
    free(c);
    *total = n;
    return (double)n / (t1 - t0);
}

/* ---------------------------------------------------------------------------------------------
 * jetsnap
 * ------------------------------------------------------------------------------------------- */
static void run_jet(struct engine_result *r)
{
    char dir[PATH_MAX], dbpath[PATH_MAX];
    unsigned char key[KEY_SIZE], val[VALUE_SIZE], got[VALUE_SIZE + 28];
    char where[96];
    JET_INSTANCE inst = 0;
    JET_SESID ses;
    JET_DBID dbid;
    JET_TABLEID tab;
    unsigned long cb;
    JET_API_PTR page_size = 8192;

    bu_path_fmt(dir, sizeof dir, "%s/jet/", bu_workdir);
    bu_path_fmt(dbpath, sizeof dbpath, "%sbench.edb", dir);
    bu_make_dir(dir, true);
    bool hwm_ok = reset_peak_rss();

    printf("jetsnap: setting up in %s\n", dir);
    fflush(stdout);
    JET_CHECK(JetCreateInstance(&inst, "bench"));
    JET_CHECK(JetGetSystemParameter(inst, 0, JET_paramDatabasePageSize, &page_size, NULL, 0));
    if (page_size == 0)
        page_size = 8192;
    JET_API_PTR cache_pages = ((JET_API_PTR)opt.cache_mib << 20) / page_size;
    JET_CHECK(JetSetSystemParameter(&inst, 0, JET_paramSystemPath, 0, dir));
    JET_CHECK(JetSetSystemParameter(&inst, 0, JET_paramLogFilePath, 0, dir));
    JET_CHECK(JetSetSystemParameter(&inst, 0, JET_paramLogFileSize, 32768, NULL));
    JET_CHECK(JetSetSystemParameter(&inst, 0, JET_paramCircularLog, 1, NULL));
    JET_CHECK(JetSetSystemParameter(&inst, 0, JET_paramCacheSizeMax, cache_pages, NULL));
    JET_CHECK(JetInit(&inst));
    JET_CHECK(JetBeginSession(inst, &ses, NULL, NULL));
    JET_CHECK(JetCreateDatabase(ses, dbpath, NULL, &dbid, 0));
    JET_CHECK(JetCreateTable(ses, dbid, "kv", 0, 0, &tab));
    printf("jetsnap: page size %lu, cache %lu pages, log files 32 MiB, circular logging\n",
           (unsigned long)page_size, (unsigned long)cache_pages);

    /* Phase 1: bulk insert. */
    printf("jetsnap: phase 1, bulk insert of %" PRIu64 " records ...\n", opt.records);
    fflush(stdout);
    bu_settle_disk();
    double t0 = bu_now();
    for (uint64_t i = 0; i < opt.records;) {
        uint64_t end = i + opt.txn_size < opt.records ? i + opt.txn_size : opt.records;
        snprintf(where, sizeof where, "(bulk transaction starting at record %" PRIu64 ")", i);
        jet_check(JetBeginTransaction(ses), "JetBeginTransaction", where);
        for (; i < end; i++) {
            bu_make_key(i, key, KEY_SIZE);
            bu_make_value(i, val, VALUE_SIZE);
            JET_ERR err = JetPutRecord(ses, tab, key, KEY_SIZE, val, VALUE_SIZE,
                                       JET_bitPutNoOverwrite);
            if (err < 0) {
                snprintf(where, sizeof where, "(bulk record %" PRIu64 ")", i);
                jet_check(err, "JetPutRecord", where);
            }
        }
        jet_check(JetCommitTransaction(ses, 0), "JetCommitTransaction(sesid, 0)", where);
    }
    r->bulk_s = bu_now() - t0;
    disk_usage(dir, "bench.edb", &r->db_bytes_load, &r->log_bytes_load);

    /* Phase 2: random point reads. First make sure both ends of the key range are there. */
    printf("jetsnap: phase 2, %" PRIu64 " random point reads ...\n", opt.reads);
    fflush(stdout);
    for (int e = 0; e < 2; e++) {
        uint64_t seq = e ? opt.records - 1 : 0;
        bu_make_key(seq, key, KEY_SIZE);
        snprintf(where, sizeof where, "(key %" PRIu64 ", before the read phase)", seq);
        jet_check(JetGetRecord(ses, tab, key, KEY_SIZE, got, sizeof got, &cb, 0), "JetGetRecord",
                  where);
        check_read(seq, 0, got, cb, "jetsnap");
    }
    struct read_rng rng = {.s = 42};
    t0 = bu_now();
    for (uint64_t i = 0; i < opt.reads; i++) {
        uint64_t seq = next_read_seq(&rng, opt.records);
        bu_make_key(seq, key, KEY_SIZE);
        JET_ERR err = JetGetRecord(ses, tab, key, KEY_SIZE, got, sizeof got, &cb, 0);
        if (err != JET_errSuccess) {
            snprintf(where, sizeof where, "(read %" PRIu64 ", key %" PRIu64 ")", i, seq);
            if (err > 0)
                bu_fail("jetsnap: JetGetRecord returned warning %ld (%s) %s", (long)err,
                        jet_err_name(err), where);
            jet_check(err, "JetGetRecord", where);
        }
        check_read(seq, i, got, cb, "jetsnap");
    }
    r->reads_s = bu_now() - t0;

    /* Phase 3: durable single-record commits. */
    printf("jetsnap: phase 3, durable commits, 1 thread then %u threads, %.1f s each ...\n",
           opt.threads, opt.commit_seconds);
    fflush(stdout);
    r->commit1_rate = run_commits(ENGINE_JET, 1, 1, inst, dbpath, &r->commit1_n);
    r->commitN_rate = run_commits(ENGINE_JET, 2, opt.threads, inst, dbpath, &r->commitN_n);

    /* Clean shutdown. */
    t0 = bu_now();
    JET_CHECK(JetCloseTable(ses, tab));
    JET_CHECK(JetCloseDatabase(ses, dbid, 0));
    JET_CHECK(JetEndSession(ses, 0));
    JET_CHECK(JetTerm2(inst, JET_bitTermComplete));
    r->close_s = bu_now() - t0;
    disk_usage(dir, "bench.edb", &r->db_bytes_final, &r->log_bytes_final);
    r->hwm_kib = hwm_ok ? vm_hwm_kib() : -1;
    if (!opt.keep)
        bu_remove_tree(dir);
    r->ran = true;
}

/* ---------------------------------------------------------------------------------------------
 * SQLite
 * ------------------------------------------------------------------------------------------- */
static sqlite3 *sqlite_connect(const char *path, bool create)
{
    char pragma[64], buf[32];
    sqlite3 *db = bu_sqlite_open(path, create);
    if (strcmp(sql_pragma(db, "PRAGMA journal_mode=WAL", buf, sizeof buf), "wal") != 0)
        bu_fail("SQLite: PRAGMA journal_mode=WAL gave journal mode \"%s\"", buf);
    bu_sql_exec(db, "PRAGMA synchronous=FULL");
    if (strcmp(sql_pragma(db, "PRAGMA synchronous", buf, sizeof buf), "2") != 0)
        bu_fail("SQLite: PRAGMA synchronous is %s after setting FULL (2)", buf);
    /* The same page-cache budget as jetsnap's CacheSizeMax (negative = KiB). */
    snprintf(pragma, sizeof pragma, "PRAGMA cache_size=-%u", opt.cache_mib * 1024u);
    bu_sql_exec(db, pragma);
    return db;
}

static void run_sqlite(struct engine_result *r)
{
    char dir[PATH_MAX], dbpath[PATH_MAX], buf[32];
    unsigned char key[KEY_SIZE], val[VALUE_SIZE];

    bu_path_fmt(dir, sizeof dir, "%s/sqlite/", bu_workdir);
    bu_path_fmt(dbpath, sizeof dbpath, "%skv.db", dir);
    bu_make_dir(dir, true);
    bool hwm_ok = reset_peak_rss();

    printf("SQLite %s: setting up in %s\n", sqlite3_libversion(), dir);
    fflush(stdout);
    sqlite3 *db = sqlite_connect(dbpath, true);
    bu_sql_exec(db, "CREATE TABLE kv(k BLOB PRIMARY KEY, v BLOB) WITHOUT ROWID");
    printf("SQLite: journal_mode=WAL, synchronous=FULL, page size %s, cache %u MiB, "
           "wal_autocheckpoint %s pages\n",
           sql_pragma(db, "PRAGMA page_size", buf, sizeof buf), opt.cache_mib,
           sql_pragma(db, "PRAGMA wal_autocheckpoint", buf + 16, 16));

    sqlite3_stmt *begin = bu_sql_prepare(db, "BEGIN IMMEDIATE");
    sqlite3_stmt *commit = bu_sql_prepare(db, "COMMIT");
    sqlite3_stmt *ins = bu_sql_prepare(db, "INSERT INTO kv(k, v) VALUES (?1, ?2)");
    sqlite3_stmt *sel = bu_sql_prepare(db, "SELECT v FROM kv WHERE k = ?1");

    /* Phase 1: bulk insert. */
    printf("SQLite: phase 1, bulk insert of %" PRIu64 " records ...\n", opt.records);
    fflush(stdout);
    bu_settle_disk();
    double t0 = bu_now();
    for (uint64_t i = 0; i < opt.records;) {
        uint64_t end = i + opt.txn_size < opt.records ? i + opt.txn_size : opt.records;
        bu_sql_step_done(db, begin, "BEGIN IMMEDIATE (bulk)");
        for (; i < end; i++) {
            bu_make_key(i, key, KEY_SIZE);
            bu_make_value(i, val, VALUE_SIZE);
            sqlite3_bind_blob(ins, 1, key, KEY_SIZE, SQLITE_STATIC);
            sqlite3_bind_blob(ins, 2, val, VALUE_SIZE, SQLITE_STATIC);
            bu_sql_step_done(db, ins, "INSERT (bulk)");
        }
        bu_sql_step_done(db, commit, "COMMIT (bulk)");
    }
    r->bulk_s = bu_now() - t0;
    disk_usage(dir, "kv.db", &r->db_bytes_load, &r->log_bytes_load);

    /* Phase 2: random point reads (each its own autocommit read transaction, as jetsnap's
     * JetGetRecord outside a transaction). */
    printf("SQLite: phase 2, %" PRIu64 " random point reads ...\n", opt.reads);
    fflush(stdout);
    struct read_rng rng = {.s = 42};
    for (int pass = 0; pass < 2; pass++) {
        uint64_t nreads = pass ? opt.reads : 2;
        t0 = bu_now();
        for (uint64_t i = 0; i < nreads; i++) {
            /* pass 0 checks both ends of the key range; pass 1 is the timed one */
            uint64_t seq = pass ? next_read_seq(&rng, opt.records) : i ? opt.records - 1 : 0;
            bu_make_key(seq, key, KEY_SIZE);
            sqlite3_bind_blob(sel, 1, key, KEY_SIZE, SQLITE_STATIC);
            int rc = sqlite3_step(sel);
            if (rc != SQLITE_ROW) {
                if (rc == SQLITE_DONE)
                    bu_fail("SQLite: point read %" PRIu64 ": key %" PRIu64 " not found", i, seq);
                bu_sqlite_fail(db, rc, "SELECT (point read)");
            }
            const void *v = sqlite3_column_blob(sel, 0);
            size_t cb = (size_t)sqlite3_column_bytes(sel, 0);
            check_read(seq, pass ? i : 0, v, cb, "SQLite");
            rc = sqlite3_step(sel);
            if (rc != SQLITE_DONE)
                bu_sqlite_fail(db, rc, "SELECT (point read, expected one row)");
            sqlite3_reset(sel);
        }
        r->reads_s = bu_now() - t0;
    }

    /* Phase 3: durable single-record commits, each thread on its own connection. */
    printf("SQLite: phase 3, durable commits, 1 thread then %u threads, %.1f s each ...\n",
           opt.threads, opt.commit_seconds);
    fflush(stdout);
    r->commit1_rate = run_commits(ENGINE_SQLITE, 1, 1, 0, dbpath, &r->commit1_n);
    r->commitN_rate = run_commits(ENGINE_SQLITE, 2, opt.threads, 0, dbpath, &r->commitN_n);

    /* Clean shutdown: the last connection to close checkpoints and removes the WAL. */
    t0 = bu_now();
    sqlite3_finalize(begin);
    sqlite3_finalize(commit);
    sqlite3_finalize(ins);
    sqlite3_finalize(sel);
    int rc = sqlite3_close(db);
    if (rc != SQLITE_OK)
        bu_sqlite_fail(db, rc, "sqlite3_close");
    r->close_s = bu_now() - t0;
    disk_usage(dir, "kv.db", &r->db_bytes_final, &r->log_bytes_final);
    r->hwm_kib = hwm_ok ? vm_hwm_kib() : -1;
    if (!opt.keep)
        bu_remove_tree(dir);
    r->ran = true;
}

/* ---------------------------------------------------------------------------------------------
 * Phase 4: the raw fsync rate of the file system under DIR.
 * ------------------------------------------------------------------------------------------- */
static void run_fsync(void)
{
    char path[PATH_MAX];
    static unsigned char block[1u << 20];
    uint64_t s = 7;

    bu_path_fmt(path, sizeof path, "%s/fsync.dat", bu_workdir);
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
        bu_fail("open %s: %s", path, strerror(errno));
    for (size_t i = 0; i < sizeof block; i += 8) {
        uint64_t x = bu_splitmix64(&s);
        memcpy(block + i, &x, 8);
    }
    /* Preallocate by writing the whole file once, as a log file is before it is reused, so the
     * loop below measures data flushes rather than block allocation. */
    for (uint64_t off = 0; off < FSYNC_FILE_SIZE; off += sizeof block)
        if (pwrite(fd, block, sizeof block, (off_t)off) != (ssize_t)sizeof block)
            bu_fail("pwrite %s: %s", path, strerror(errno));
    if (fsync(fd) != 0)
        bu_fail("fsync %s: %s", path, strerror(errno));
    printf("raw fsync: phase 4, 4 KiB pwrite + fdatasync, 1 thread, %.1f s ...\n",
           opt.commit_seconds);
    fflush(stdout);
    bu_settle_disk();

    uint64_t n = 0, off = 0;
    double t0 = bu_now(), t1 = t0;
    while (t1 - t0 < opt.commit_seconds) {
        block[n % 4096] ^= 0xFF; /* never write the same bytes twice in a row */
        if (pwrite(fd, block, FSYNC_BLOCK, (off_t)off) != (ssize_t)FSYNC_BLOCK)
            bu_fail("pwrite %s: %s", path, strerror(errno));
        if (fdatasync(fd) != 0)
            bu_fail("fdatasync %s: %s", path, strerror(errno));
        off = (off + FSYNC_BLOCK) % FSYNC_FILE_SIZE;
        n++;
        t1 = bu_now();
    }
    close(fd);
    unlink(path);
    fsync_n = n;
    fsync_rate = (double)n / (t1 - t0);
}

/* ---------------------------------------------------------------------------------------------
 * Report
 * ------------------------------------------------------------------------------------------- */
static const char *fmt_rate(double v, bool have, char *buf, size_t cb)
{
    if (!have) {
        snprintf(buf, cb, "-");
        return buf;
    }
    char digits[32];
    snprintf(digits, sizeof digits, "%.0f", v);
    size_t len = strlen(digits), o = 0;
    for (size_t i = 0; i < len && o + 2 < cb; i++) {
        if (i > 0 && (len - i) % 3 == 0)
            buf[o++] = ',';
        buf[o++] = digits[i];
    }
    buf[o] = '\0';
    return buf;
}

static const char *fmt_ratio(double num, double den, bool have, char *buf, size_t cb)
{
    if (!have || den <= 0)
        snprintf(buf, cb, "-");
    else
        snprintf(buf, cb, "%.2fx", num / den);
    return buf;
}

static const char *fmt_mib(uint64_t bytes, bool have, char *buf, size_t cb)
{
    if (!have)
        snprintf(buf, cb, "-");
    else
        snprintf(buf, cb, "%.1f MiB", (double)bytes / (1024.0 * 1024.0));
    return buf;
}

static double rate(uint64_t n, double s)
{
    return s > 0 ? (double)n / s : 0;
}

static void row(const char *name, double jv, double sv, bool ratio)
{
    char a[32], b[32], c[32];
    bool both = res_jet.ran && res_sql.ran;
    printf("%-40s %15s %15s %15s\n", name, fmt_rate(jv, res_jet.ran, a, sizeof a),
           fmt_rate(sv, res_sql.ran, b, sizeof b),
           ratio ? fmt_ratio(jv, sv, both, c, sizeof c) : "");
}

static void result_line(const char *name, double v, bool have)
{
    if (have)
        bu_result_line(name, v);
}

static void report(void)
{
    const struct engine_result *j = &res_jet, *s = &res_sql;
    char a[32], b[32], c[32], name[64];
    bool both = j->ran && s->ran;
    double j_bulk = rate(opt.records, j->bulk_s), s_bulk = rate(opt.records, s->bulk_s);
    double j_read = rate(opt.reads, j->reads_s), s_read = rate(opt.reads, s->reads_s);

    printf("\n== jetsnap vs SQLite %s (WAL, synchronous=FULL), measured in this run ==\n",
           sqlite3_libversion());
    printf("workload: %" PRIu64 " records (8-byte big-endian keys, %d-byte values), "
           "%" PRIu64 " per transaction; %" PRIu64 " random point reads; %.1f s per durable-commit "
           "run; cache %u MiB per engine\n\n",
           opt.records, VALUE_SIZE, opt.txn_size, opt.reads, opt.commit_seconds, opt.cache_mib);
    printf("%-40s %15s %15s %15s\n", "metric (per second)", "jetsnap", "SQLite", "jetsnap/SQLite");
    row("bulk insert, records/s", j_bulk, s_bulk, true);
    row("random point reads, reads/s", j_read, s_read, true);
    row("durable commits, 1 thread, commits/s", j->commit1_rate, s->commit1_rate, true);
    snprintf(name, sizeof name, "durable commits, %u threads, commits/s", opt.threads);
    row(name, j->commitN_rate, s->commitN_rate, true);
    snprintf(name, sizeof name, "durable commits %u threads / 1 thread", opt.threads);
    printf("%-40s %15s %15s\n", name,
           fmt_ratio(j->commitN_rate, j->commit1_rate, j->ran, a, sizeof a),
           fmt_ratio(s->commitN_rate, s->commit1_rate, s->ran, b, sizeof b));
    printf("%-40s %15s\n", "raw fsync (4 KiB pwrite+fdatasync)/s", fmt_rate(fsync_rate, true, a,
                                                                           sizeof a));
    printf("%-40s %15s %15s\n", "1-thread commits / raw fsync",
           fmt_ratio(j->commit1_rate, fsync_rate, j->ran, a, sizeof a),
           fmt_ratio(s->commit1_rate, fsync_rate, s->ran, b, sizeof b));

    printf("\n%-40s %15s %15s\n", "on disk (allocated)", "jetsnap", "SQLite");
    printf("%-40s %15s %15s\n", "after bulk load: database",
           fmt_mib(j->db_bytes_load, j->ran, a, sizeof a),
           fmt_mib(s->db_bytes_load, s->ran, b, sizeof b));
    printf("%-40s %15s %15s\n", "after bulk load: logs (+chk / WAL+shm)",
           fmt_mib(j->log_bytes_load, j->ran, a, sizeof a),
           fmt_mib(s->log_bytes_load, s->ran, b, sizeof b));
    printf("%-40s %15s %15s\n", "after clean shutdown: database",
           fmt_mib(j->db_bytes_final, j->ran, a, sizeof a),
           fmt_mib(s->db_bytes_final, s->ran, b, sizeof b));
    printf("%-40s %15s %15s\n", "after clean shutdown: logs",
           fmt_mib(j->log_bytes_final, j->ran, a, sizeof a),
           fmt_mib(s->log_bytes_final, s->ran, b, sizeof b));
    snprintf(a, sizeof a, "%.2f s", j->close_s);
    snprintf(b, sizeof b, "%.2f s", s->close_s);
    printf("%-40s %15s %15s\n", "shutdown (JetTerm2 / sqlite3_close)", j->ran ? a : "-",
           s->ran ? b : "-");
    snprintf(a, sizeof a, "%ld MiB", j->hwm_kib / 1024);
    snprintf(b, sizeof b, "%ld MiB", s->hwm_kib / 1024);
    printf("%-40s %15s %15s\n", "peak RSS while the engine ran",
           j->ran && j->hwm_kib >= 0 ? a : "-", s->ran && s->hwm_kib >= 0 ? b : "-");
    printf("%-40s %11ld MiB\n", "peak RSS of the process (getrusage)",
           process_peak_rss_kib() / 1024);

    if (j->ran) {
        printf("\ngoals for later issues (informational, never asserted):\n");
        if (both)
            printf("  bulk insert, jetsnap/SQLite >= 1.00x: %s %s\n",
                   fmt_ratio(j_bulk, s_bulk, true, c, sizeof c),
                   j_bulk >= s_bulk ? "(met)" : "(not met)");
        printf("  jetsnap durable commits, %u threads / 1 thread >= 3.00x: %s %s\n", opt.threads,
               fmt_ratio(j->commitN_rate, j->commit1_rate, true, c, sizeof c),
               j->commitN_rate >= 3 * j->commit1_rate ? "(met)" : "(not met)");
    }

    printf("\n");
    result_line("records", (double)opt.records, true);
    result_line("txn_size", (double)opt.txn_size, true);
    result_line("reads", (double)opt.reads, true);
    result_line("commit_seconds", opt.commit_seconds, true);
    result_line("threads", opt.threads, true);
    result_line("jet_bulk_insert_per_s", j_bulk, j->ran);
    result_line("sqlite_bulk_insert_per_s", s_bulk, s->ran);
    result_line("ratio_bulk_insert", s_bulk > 0 ? j_bulk / s_bulk : 0, both);
    result_line("jet_point_read_per_s", j_read, j->ran);
    result_line("sqlite_point_read_per_s", s_read, s->ran);
    result_line("ratio_point_read", s_read > 0 ? j_read / s_read : 0, both);
    result_line("jet_commit_1t_per_s", j->commit1_rate, j->ran);
    result_line("sqlite_commit_1t_per_s", s->commit1_rate, s->ran);
    result_line("ratio_commit_1t", s->commit1_rate > 0 ? j->commit1_rate / s->commit1_rate : 0,
                both);
    result_line("jet_commit_nt_per_s", j->commitN_rate, j->ran);
    result_line("sqlite_commit_nt_per_s", s->commitN_rate, s->ran);
    result_line("ratio_commit_nt", s->commitN_rate > 0 ? j->commitN_rate / s->commitN_rate : 0,
                both);
    result_line("jet_commit_scaling_nt_over_1t",
                j->commit1_rate > 0 ? j->commitN_rate / j->commit1_rate : 0, j->ran);
    result_line("sqlite_commit_scaling_nt_over_1t",
                s->commit1_rate > 0 ? s->commitN_rate / s->commit1_rate : 0, s->ran);
    result_line("fsync_per_s", fsync_rate, true);
    result_line("jet_commit_1t_over_fsync", fsync_rate > 0 ? j->commit1_rate / fsync_rate : 0,
                j->ran);
    result_line("sqlite_commit_1t_over_fsync", fsync_rate > 0 ? s->commit1_rate / fsync_rate : 0,
                s->ran);
    result_line("jet_db_bytes_after_load", (double)j->db_bytes_load, j->ran);
    result_line("jet_log_bytes_after_load", (double)j->log_bytes_load, j->ran);
    result_line("sqlite_db_bytes_after_load", (double)s->db_bytes_load, s->ran);
    result_line("sqlite_wal_bytes_after_load", (double)s->log_bytes_load, s->ran);
    result_line("jet_db_bytes_final", (double)j->db_bytes_final, j->ran);
    result_line("jet_log_bytes_final", (double)j->log_bytes_final, j->ran);
    result_line("sqlite_db_bytes_final", (double)s->db_bytes_final, s->ran);
    result_line("sqlite_wal_bytes_final", (double)s->log_bytes_final, s->ran);
    result_line("jet_peak_rss_kib", (double)j->hwm_kib, j->ran && j->hwm_kib >= 0);
    result_line("sqlite_peak_rss_kib", (double)s->hwm_kib, s->ran && s->hwm_kib >= 0);
    result_line("peak_rss_kib", (double)process_peak_rss_kib(), true);
}

/* ---------------------------------------------------------------------------------------------
 * Setup: options, work directory, signals
 * ------------------------------------------------------------------------------------------- */
static void usage(FILE *f)
{
    fprintf(f,
            "usage: bench-engine [options]\n"
            "  --records N         records in the bulk load (default 8000000)\n"
            "  --txn-size N        records per bulk transaction (default 10000)\n"
            "  --reads N           random point reads (default 1000000)\n"
            "  --commit-seconds S  seconds per durable-commit and fsync measurement (default 3)\n"
            "  --dir DIR           create the work directory inside DIR (default $TMPDIR or /tmp)\n"
            "  --scale F           multiply --records and --reads by F (0.01 for a smoke run)\n"
            "  --threads N         threads of the multi-threaded commit run (default 8)\n"
            "  --cache-mib M       page cache per engine in MiB (default 512)\n"
            "  --engine E          both (default), jet or sqlite\n"
            "  --keep              keep the work directory\n");
}

static uint64_t parse_u64(const char *s, const char *what, uint64_t min)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || end == s || *end || s[0] == '-' || v < min) {
        fprintf(stderr, "bench-engine: bad %s: %s\n", what, s);
        exit(2);
    }
    return v;
}

static void parse_args(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"records", required_argument, NULL, 'r'},
        {"txn-size", required_argument, NULL, 't'},
        {"reads", required_argument, NULL, 'R'},
        {"commit-seconds", required_argument, NULL, 'c'},
        {"dir", required_argument, NULL, 'd'},
        {"scale", required_argument, NULL, 's'},
        {"threads", required_argument, NULL, 'T'},
        {"cache-mib", required_argument, NULL, 'm'},
        {"engine", required_argument, NULL, 'e'},
        {"keep", no_argument, NULL, 'k'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int ch;
    while ((ch = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (ch) {
        case 'r': opt.records = parse_u64(optarg, "--records", 1); break;
        case 't': opt.txn_size = parse_u64(optarg, "--txn-size", 1); break;
        case 'R': opt.reads = parse_u64(optarg, "--reads", 0); break;
        case 'c': opt.commit_seconds = bu_parse_pos(optarg, "--commit-seconds"); break;
        case 'd': opt.parent_dir = optarg; break;
        case 's': opt.scale = bu_parse_pos(optarg, "--scale"); break;
        case 'T': opt.threads = (unsigned)parse_u64(optarg, "--threads", 1); break;
        case 'm': opt.cache_mib = (unsigned)parse_u64(optarg, "--cache-mib", 1); break;
        case 'e':
            opt.run_jet = strcmp(optarg, "both") == 0 || strcmp(optarg, "jet") == 0;
            opt.run_sqlite = strcmp(optarg, "both") == 0 || strcmp(optarg, "sqlite") == 0;
            if (!opt.run_jet && !opt.run_sqlite) {
                fprintf(stderr, "bench-engine: --engine must be both, jet or sqlite\n");
                exit(2);
            }
            break;
        case 'k': opt.keep = true; break;
        case 'h': usage(stdout); exit(0);
        default: usage(stderr); exit(2);
        }
    }
    if (optind != argc) {
        usage(stderr);
        exit(2);
    }
    if (opt.threads > 4096 || opt.cache_mib > (1u << 20)) {
        fprintf(stderr, "bench-engine: --threads or --cache-mib out of range\n");
        exit(2);
    }
    if (opt.scale != 1.0) {
        double rec = (double)opt.records * opt.scale, rd = (double)opt.reads * opt.scale;
        opt.records = rec < 1 ? 1 : (uint64_t)rec;
        opt.reads = (uint64_t)rd;
    }
    if (opt.records >= (1ull << 62)) {
        fprintf(stderr, "bench-engine: --records too large\n");
        exit(2);
    }
}

int main(int argc, char **argv)
{
    bu_init("bench-engine", &opt.keep, true);
    parse_args(argc, argv);
    if (!bu_start_signal_thread())
        bu_fail("pthread_create (signal thread) failed");

    bu_make_workdir(opt.parent_dir);
    printf("bench-engine: work directory %s\n", bu_workdir);
    printf("bench-engine: %" PRIu64 " records, %" PRIu64 " per transaction, %" PRIu64
           " reads, %.1f s per commit run, %u threads\n",
           opt.records, opt.txn_size, opt.reads, opt.commit_seconds, opt.threads);
    fflush(stdout);

    if (opt.run_jet)
        run_jet(&res_jet);
    if (opt.run_sqlite)
        run_sqlite(&res_sql);
    run_fsync();
    report();
    fflush(stdout);
    bu_cleanup();
    return 0;
}
