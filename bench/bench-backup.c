/*
 * bench-backup.c — jetsnap's full streaming backup against plain copies and against its peers'
 * backup tools, measured in one run on the same data and the same file system.
 *
 *   bench-backup [--size-mib N] [--dir DIR] [--seconds S] [--threads N] [--read-mib M]
 *                [--repeat N] [--scale F] [--keep]
 *
 * What it measures (see bench/README.md, "bench-backup"):
 *   1. a jetsnap database of about N MiB (bulk transactions of 8-byte keys, 400-byte values), then a
 *      clean restart so the file holds every page;
 *   2. idle: `cp DB COPY` + `sync COPY` (coreutils, run with posix_spawn), a copy in C (read/write of
 *      --read-mib + fsync), and a full streaming backup through the JET API (Begin, GetAttachInfo,
 *      OpenFile/ReadFile of --read-mib/CloseFile into a file + fsync, GetLogInfo, the logs the same
 *      way, TruncateLog, End) — each --repeat times, the best time counts;
 *   3. --threads writers doing durable single-record commits for --seconds (throughput, p99 commit
 *      latency), then the same writers while a full backup runs (backup time under load / idle);
 *   4. JetExternalRestore of the idle backup and of the backup taken under load, each checked
 *      record by record afterwards;
 *   5. SQLite: a database of the same size, `cp`+`sync` of it, sqlite3_backup_step(100) into a file
 *      (the loop the sqlite3 shell's .backup runs), and the same while one writer commits, bounded by
 *      3x the idle time — reported as finished or not, with the number of restarts;
 *   6. LMDB: an environment of the same size, `cp`+`sync` of data.mdb and `mdb_copy` (lmdb-utils,
 *      run with posix_spawn) + fsync of its output.
 * Everything is reported as MB/s and as ratios between numbers measured in this process; the
 * targets are informational. The exit status is non-zero only when a call fails or data is wrong.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <spawn.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <lmdb.h>
#include <sqlite3.h>

#include "jet.h"

#include "benchlmdb.h"
#include "benchutil.h"

#define KEY_SIZE 8
#define VALUE_SIZE 400   /* fits a 4 KiB SQLite WITHOUT ROWID page without overflow pages */
#define TXN_SIZE 10000   /* records per bulk transaction */
#define SQLITE_STEP_PAGES 100 /* what the sqlite3 shell's .backup passes to sqlite3_backup_step */
#define SQLITE_MAX_RESTARTS 100000
#define WARMUP_S 0.5

/* ---------------------------------------------------------------------------------------------
 * Options and global state
 * ------------------------------------------------------------------------------------------- */
static struct {
    double size_mib;
    const char *parent_dir;
    double seconds;
    unsigned threads;
    unsigned read_mib;
    unsigned repeat;
    double scale;
    bool keep;
} opt = {
    .size_mib = 1024,
    .parent_dir = NULL,
    .seconds = 10,
    .threads = 4,
    .read_mib = 4,
    .repeat = 2,
    .scale = 1,
    .keep = false,
};

/* One name per message: each thread's buffer is reused by its next call. */
static const char *jet_err_name(JET_ERR err)
{
    static _Thread_local char buf[64];
    return bu_jet_err_name(err, buf, sizeof buf, "JET_err (see jet.h)");
}

#define JET_CHECK(call) jet_check((call), #call)

static void jet_check(JET_ERR err, const char *call)
{
    if (err < 0)
        bu_fail("jetsnap: %s returned %ld (%s)", call, (long)err, jet_err_name(err));
}

/* A query that returns one integer. */
static int64_t sql_int(sqlite3 *db, const char *sql)
{
    sqlite3_stmt *st = bu_sql_prepare(db, sql);
    int rc = sqlite3_step(st);
    if (rc != SQLITE_ROW)
        bu_sqlite_fail(db, rc, sql);
    int64_t v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return v;
}

/* ---------------------------------------------------------------------------------------------
 * Workload data: the same keys and values for every engine.
 * ------------------------------------------------------------------------------------------- */
static uint64_t key_seq(const unsigned char key[KEY_SIZE])
{
    uint64_t v = 0;
    for (int i = 0; i < KEY_SIZE; i++)
        v = (v << 8) | key[i];
    return v;
}

/* ---------------------------------------------------------------------------------------------
 * Time and files
 * ------------------------------------------------------------------------------------------- */
static uint64_t file_size(const char *path)
{
    struct stat st;
    if (stat(path, &st) != 0)
        bu_fail("stat %s: %s", path, strerror(errno));
    return (uint64_t)st.st_size;
}

static void fsync_path(const char *path)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        bu_fail("open %s: %s", path, strerror(errno));
    if (fsync(fd) != 0)
        bu_fail("fsync %s: %s", path, strerror(errno));
    close(fd);
}

static void write_all(int fd, const void *buf, size_t n, const char *path)
{
    const char *p = buf;
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            bu_fail("write %s: %s", path, strerror(errno));
        }
        p += w;
        n -= (size_t)w;
    }
}

/* Run a program (argv[0] looked up in PATH) and wait for it. Returns its exit status, or -1 when
 * it could not be started because it is not installed. */
static int run_program(char *const argv[])
{
    pid_t pid;
    int rc = posix_spawnp(&pid, argv[0], NULL, NULL, argv, environ);
    if (rc == ENOENT)
        return -1;
    if (rc != 0)
        bu_fail("posix_spawnp %s: %s", argv[0], strerror(rc));
    int status;
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR)
            bu_fail("waitpid %s: %s", argv[0], strerror(errno));
    if (WIFEXITED(status) && WEXITSTATUS(status) == 127)
        return -1;
    if (!WIFEXITED(status))
        bu_fail("%s was killed by signal %d", argv[0], WIFSIGNALED(status) ? WTERMSIG(status) : 0);
    return WEXITSTATUS(status);
}

/* `cp SRC DST` then `sync DST` (coreutils: fsync of that one file), timed together. */
static double time_cp_sync(const char *src, const char *dst)
{
    char *cp_argv[] = {"cp", (char *)src, (char *)dst, NULL};
    char *sync_argv[] = {"sync", (char *)dst, NULL};
    bu_settle_disk();
    double t0 = bu_now();
    if (run_program(cp_argv) != 0)
        bu_fail("cp %s %s failed", src, dst);
    if (run_program(sync_argv) != 0)
        bu_fail("sync %s failed", dst);
    return bu_now() - t0;
}

/* A copy in C with the backup's buffer size: read/write of opt.read_mib MiB, then fsync. */
static double time_c_copy(const char *src, const char *dst, unsigned char *buf, size_t cb)
{
    bu_settle_disk();
    double t0 = bu_now();
    int in = open(src, O_RDONLY | O_CLOEXEC);
    if (in < 0)
        bu_fail("open %s: %s", src, strerror(errno));
    int out = open(dst, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (out < 0)
        bu_fail("open %s: %s", dst, strerror(errno));
    for (;;) {
        ssize_t n = read(in, buf, cb);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            bu_fail("read %s: %s", src, strerror(errno));
        if (n == 0)
            break;
        write_all(out, buf, (size_t)n, dst);
    }
    if (fsync(out) != 0)
        bu_fail("fsync %s: %s", dst, strerror(errno));
    close(out);
    close(in);
    return bu_now() - t0;
}

/* ---------------------------------------------------------------------------------------------
 * jetsnap: instance, load, check
 * ------------------------------------------------------------------------------------------- */
static char g_jet_dir[PATH_MAX], g_jet_db[PATH_MAX];
static JET_INSTANCE g_inst;
static JET_SESID g_ses;
static JET_DBID g_dbid;
static JET_TABLEID g_tab;
static uint64_t g_records;    /* bulk records: keys 0 .. g_records-1 */
static uint64_t g_jet_bytes;  /* the database file after the clean restart */
static double g_jet_load_s;

static void jet_start(bool create)
{
    JET_CHECK(JetCreateInstance(&g_inst, "bench-backup"));
    JET_CHECK(JetSetSystemParameter(&g_inst, 0, JET_paramSystemPath, 0, g_jet_dir));
    JET_CHECK(JetSetSystemParameter(&g_inst, 0, JET_paramLogFilePath, 0, g_jet_dir));
    JET_CHECK(JetSetSystemParameter(&g_inst, 0, JET_paramLogFileSize, 32768, NULL));
    JET_CHECK(JetSetSystemParameter(&g_inst, 0, JET_paramCircularLog, 0, NULL));
    JET_CHECK(JetInit(&g_inst));
    JET_CHECK(JetBeginSession(g_inst, &g_ses, NULL, NULL));
    if (create) {
        JET_CHECK(JetCreateDatabase(g_ses, g_jet_db, NULL, &g_dbid, 0));
        JET_CHECK(JetCreateTable(g_ses, g_dbid, "kv", 0, 0, &g_tab));
    } else {
        JET_CHECK(JetAttachDatabase(g_ses, g_jet_db, 0));
        JET_CHECK(JetOpenDatabase(g_ses, g_jet_db, NULL, &g_dbid, 0));
        JET_CHECK(JetOpenTable(g_ses, g_dbid, "kv", NULL, 0, 0, &g_tab));
    }
}

static void jet_stop(void)
{
    JET_CHECK(JetCloseTable(g_ses, g_tab));
    JET_CHECK(JetCloseDatabase(g_ses, g_dbid, 0));
    JET_CHECK(JetEndSession(g_ses, 0));
    JET_CHECK(JetTerm2(g_inst, JET_bitTermComplete));
    g_inst = 0;
}

/* Bulk-load until the database file reaches target bytes, then restart cleanly so that the file
 * holds every page and the next checkpoint is at the log's tip. */
static void jet_load(uint64_t target)
{
    unsigned char key[KEY_SIZE], val[VALUE_SIZE];
    bu_path_fmt(g_jet_dir, sizeof g_jet_dir, "%s/jet/", bu_workdir);
    bu_path_fmt(g_jet_db, sizeof g_jet_db, "%sbench.edb", g_jet_dir);
    bu_make_dir(g_jet_dir, false);
    jet_start(true);
    printf("jetsnap: loading about %.0f MiB (%d-byte values, %d records per durable commit) ...\n",
           (double)target / 1048576.0, VALUE_SIZE, TXN_SIZE);
    fflush(stdout);
    double t0 = bu_now();
    uint64_t i = 0;
    /* The file grows only as the cache flushes, so it can lag by the cache's size: the raw bytes
     * inserted stop the load too (the B-tree packs appended records into nearly full pages). */
    while (file_size(g_jet_db) < target && i * (KEY_SIZE + VALUE_SIZE) < target) {
        JET_CHECK(JetBeginTransaction(g_ses));
        for (uint64_t end = i + TXN_SIZE; i < end; i++) {
            bu_make_key(i, key, KEY_SIZE);
            bu_make_value(i, val, VALUE_SIZE);
            JET_ERR err = JetPutRecord(g_ses, g_tab, key, KEY_SIZE, val, VALUE_SIZE,
                                       JET_bitPutNoOverwrite);
            if (err < 0)
                jet_check(err, "JetPutRecord (bulk)");
        }
        JET_CHECK(JetCommitTransaction(g_ses, 0));
    }
    g_records = i;
    jet_stop();
    g_jet_load_s = bu_now() - t0;
    jet_start(false);
    g_jet_bytes = file_size(g_jet_db);
    printf("jetsnap: %" PRIu64 " records, database file %.1f MiB, loaded in %.1f s\n", g_records,
           (double)g_jet_bytes / 1048576.0, g_jet_load_s);
}

/* What a restored (or live) database must hold: every bulk record, and per writer run and thread
 * a prefix 0..m-1 of its keys with lo[t] <= m <= hi[t] (lo == hi: exactly that many). */
struct expect_run {
    unsigned run;
    unsigned threads;
    uint64_t lo[64], hi[64];
};

/* Scan the table of the database at path (attached to a fresh instance) and check every record
 * against the expectation; fail on any difference. */
static void jet_verify(const char *path, const struct expect_run *runs, unsigned nruns,
                       const char *what)
{
    char dir[PATH_MAX];
    JET_INSTANCE v = 0;
    JET_SESID s;
    JET_DBID d;
    JET_TABLEID t;
    unsigned char key[KEY_SIZE + 8], val[VALUE_SIZE + 8], want[VALUE_SIZE];
    uint64_t seen[4][64];
    memset(seen, 0, sizeof seen);

    bu_path_fmt(dir, sizeof dir, "%s/verify/", bu_workdir);
    bu_make_dir(dir, false);
    JET_CHECK(JetCreateInstance(&v, "bench-backup-verify"));
    JET_CHECK(JetSetSystemParameter(&v, 0, JET_paramSystemPath, 0, dir));
    JET_CHECK(JetSetSystemParameter(&v, 0, JET_paramLogFilePath, 0, dir));
    JET_CHECK(JetInit(&v));
    JET_CHECK(JetBeginSession(v, &s, NULL, NULL));
    JET_CHECK(JetAttachDatabase(s, path, 0));
    JET_CHECK(JetOpenDatabase(s, path, NULL, &d, 0));
    JET_CHECK(JetOpenTable(s, d, "kv", NULL, 0, 0, &t));
    uint64_t bulk = 0, n = 0;
    JET_ERR e = JetMove(s, t, JET_MoveFirst, 0);
    while (e == JET_errSuccess) {
        unsigned long kl, vl;
        JET_CHECK(JetRetrieveKey(s, t, key, sizeof key, &kl, 0));
        JET_CHECK(JetRetrieveRecord(s, t, val, sizeof val, &vl, 0));
        if (kl != KEY_SIZE || vl != VALUE_SIZE)
            bu_fail("%s: record %" PRIu64 " has a %lu-byte key and a %lu-byte value", what, n, kl,
                    vl);
        uint64_t seq = key_seq(key);
        bu_make_value(seq, want, VALUE_SIZE);
        if (memcmp(val, want, VALUE_SIZE) != 0)
            bu_fail("%s: the value of key %#" PRIx64 " is wrong", what, seq);
        if (!(seq >> 63)) {
            if (seq != bulk)
                bu_fail("%s: bulk key %" PRIu64 " found where %" PRIu64 " was expected", what, seq,
                        bulk);
            bulk++;
        } else {
            unsigned run = (unsigned)((seq >> 48) & 0x7FFF), tid = (unsigned)((seq >> 32) & 0xFFFF);
            uint64_t i = seq & 0xFFFFFFFFull;
            if (run >= 4 || tid >= 64 || i != seen[run][tid])
                bu_fail("%s: writer key run %u thread %u #%" PRIu64 " out of sequence", what, run,
                        tid, i);
            seen[run][tid]++;
        }
        n++;
        e = JetMove(s, t, JET_MoveNext, 0);
    }
    if (e != JET_errNoCurrentRecord)
        jet_check(e, "JetMove (verify)");
    if (bulk != g_records)
        bu_fail("%s: %" PRIu64 " bulk records, expected %" PRIu64, what, bulk, g_records);
    for (unsigned r = 0; r < 4; r++)
        for (unsigned tid = 0; tid < 64; tid++) {
            uint64_t lo = 0, hi = 0;
            for (unsigned k = 0; k < nruns; k++)
                if (runs[k].run == r && tid < runs[k].threads) {
                    lo = runs[k].lo[tid];
                    hi = runs[k].hi[tid];
                }
            if (seen[r][tid] < lo || seen[r][tid] > hi)
                bu_fail("%s: writer run %u thread %u has %" PRIu64 " records, expected %" PRIu64
                        "..%" PRIu64,
                        what, r, tid, seen[r][tid], lo, hi);
        }
    JET_CHECK(JetCloseTable(s, t));
    JET_CHECK(JetCloseDatabase(s, d, 0));
    JET_CHECK(JetEndSession(s, 0));
    JET_CHECK(JetTerm2(v, JET_bitTermComplete));
    bu_remove_tree(dir);
    printf("  %s: %" PRIu64 " records checked, all correct\n", what, n);
}

/* ---------------------------------------------------------------------------------------------
 * jetsnap: writers
 * ------------------------------------------------------------------------------------------- */
struct commit_rec {
    double end; /* when the commit returned (bu_now()) */
    double lat; /* seconds from JetBeginTransaction to the commit's return */
};

struct writer {
    struct writer_set *set;
    unsigned tid;
    atomic_uint_fast64_t count;
    struct commit_rec *recs;
    size_t nrecs, caprecs;
    pthread_t thread;
};

struct writer_set {
    unsigned run, n;
    atomic_bool stopping;
    pthread_barrier_t start;
    struct writer w[64];
};

static void *writer_main(void *arg)
{
    struct writer *w = arg;
    struct writer_set *set = w->set;
    JET_SESID ses;
    JET_DBID dbid;
    JET_TABLEID tab;
    unsigned char key[KEY_SIZE], val[VALUE_SIZE];

    JET_CHECK(JetBeginSession(g_inst, &ses, NULL, NULL));
    JET_CHECK(JetOpenDatabase(ses, g_jet_db, NULL, &dbid, 0));
    JET_CHECK(JetOpenTable(ses, dbid, "kv", NULL, 0, 0, &tab));
    bu_barrier_wait(&set->start);
    uint64_t i = 0;
    while (!atomic_load_explicit(&set->stopping, memory_order_relaxed)) {
        uint64_t seq = bu_writer_seq(set->run, w->tid, i);
        bu_make_key(seq, key, KEY_SIZE);
        bu_make_value(seq, val, VALUE_SIZE);
        double t0 = bu_now();
        JET_CHECK(JetBeginTransaction(ses));
        JET_ERR err = JetPutRecord(ses, tab, key, KEY_SIZE, val, VALUE_SIZE, JET_bitPutNoOverwrite);
        if (err < 0)
            jet_check(err, "JetPutRecord (writer)");
        JET_CHECK(JetCommitTransaction(ses, 0));
        double t1 = bu_now();
        i++;
        atomic_store(&w->count, i);
        if (w->nrecs == w->caprecs) {
            size_t cap = w->caprecs ? w->caprecs * 2 : 65536;
            struct commit_rec *r = realloc(w->recs, cap * sizeof *r);
            if (!r)
                bu_fail("out of memory (commit records)");
            w->recs = r;
            w->caprecs = cap;
        }
        w->recs[w->nrecs++] = (struct commit_rec){t1, t1 - t0};
    }
    JET_CHECK(JetCloseTable(ses, tab));
    JET_CHECK(JetCloseDatabase(ses, dbid, 0));
    JET_CHECK(JetEndSession(ses, 0));
    return NULL;
}

static struct writer_set *writers_start(unsigned run)
{
    struct writer_set *set = calloc(1, sizeof *set);
    if (!set)
        bu_fail("out of memory");
    set->run = run;
    set->n = opt.threads;
    atomic_init(&set->stopping, false);
    pthread_barrier_init(&set->start, NULL, set->n + 1);
    for (unsigned i = 0; i < set->n; i++) {
        set->w[i].set = set;
        set->w[i].tid = i;
        atomic_init(&set->w[i].count, 0);
        int rc = pthread_create(&set->w[i].thread, NULL, writer_main, &set->w[i]);
        if (rc != 0)
            bu_fail("pthread_create: %s", strerror(rc));
    }
    bu_barrier_wait(&set->start);
    return set;
}

static void writers_stop(struct writer_set *set)
{
    atomic_store(&set->stopping, true);
    for (unsigned i = 0; i < set->n; i++)
        pthread_join(set->w[i].thread, NULL);
    pthread_barrier_destroy(&set->start);
}

struct writer_stats {
    double rate;    /* commits per second that returned in the window */
    double p50_ms, p99_ms, max_ms;
    uint64_t n;
    double window_s;
};

/* Throughput and latency of the commits that returned within [t0, t1]. */
static struct writer_stats writer_window(const struct writer_set *set, double t0, double t1)
{
    struct writer_stats st = {0};
    size_t total = 0;
    for (unsigned i = 0; i < set->n; i++)
        total += set->w[i].nrecs;
    double *lat = malloc((total ? total : 1) * sizeof *lat);
    if (!lat)
        bu_fail("out of memory");
    size_t n = 0;
    for (unsigned i = 0; i < set->n; i++)
        for (size_t k = 0; k < set->w[i].nrecs; k++)
            if (set->w[i].recs[k].end >= t0 && set->w[i].recs[k].end <= t1)
                lat[n++] = set->w[i].recs[k].lat;
    st.n = n;
    st.window_s = t1 - t0;
    st.rate = t1 > t0 ? (double)n / (t1 - t0) : 0;
    if (n) {
        qsort(lat, n, sizeof *lat, bu_cmp_double);
        st.p50_ms = lat[(n - 1) / 2] * 1e3;
        st.p99_ms = lat[(size_t)((double)(n - 1) * 0.99)] * 1e3;
        st.max_ms = lat[n - 1] * 1e3;
    }
    free(lat);
    return st;
}

static void writers_free(struct writer_set *set, struct expect_run *exp)
{
    exp->run = set->run;
    exp->threads = set->n;
    for (unsigned i = 0; i < set->n; i++) {
        exp->lo[i] = exp->hi[i] = atomic_load(&set->w[i].count);
        free(set->w[i].recs);
    }
    free(set);
}

/* ---------------------------------------------------------------------------------------------
 * jetsnap: the full streaming backup
 * ------------------------------------------------------------------------------------------- */
struct backup_result {
    double total_s, db_s, logs_s, end_s; /* whole backup; database stream; logs; truncate + end */
    double read_s, write_s, fsync_s;     /* of the streams: in JetReadFile, write(2), fsync(2) */
    uint64_t db_bytes, log_bytes;
    unsigned nlogs;
    JET_LOGINFO li;
};

/* Read one backup file through JetReadFileInstance into outdir/<basename>, fsync it. */
static uint64_t stream_file(const char *name, const char *outdir, unsigned char *buf, size_t cb,
                            struct backup_result *r)
{
    char out[PATH_MAX];
    JET_HANDLE h;
    unsigned long lo = 0, hi = 0;
    const char *base = strrchr(name, '/');
    bu_path_fmt(out, sizeof out, "%s/%s", outdir, base ? base + 1 : name);
    JET_CHECK(JetOpenFileInstance(g_inst, name, &h, &lo, &hi));
    int fd = open(out, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0)
        bu_fail("open %s: %s", out, strerror(errno));
    uint64_t total = 0;
    for (;;) {
        unsigned long got = 0;
        double t0 = bu_now();
        JET_CHECK(JetReadFileInstance(g_inst, h, buf, (unsigned long)cb, &got));
        double t1 = bu_now();
        r->read_s += t1 - t0;
        if (!got)
            break;
        write_all(fd, buf, got, out);
        r->write_s += bu_now() - t1;
        total += got;
    }
    double t2 = bu_now();
    if (fsync(fd) != 0)
        bu_fail("fsync %s: %s", out, strerror(errno));
    r->fsync_s += bu_now() - t2;
    close(fd);
    JET_CHECK(JetCloseFileInstance(g_inst, h));
    uint64_t want = ((uint64_t)hi << 32) | lo;
    if (total != want)
        bu_fail("jetsnap: backup of %s gave %" PRIu64 " bytes, JetOpenFile announced %" PRIu64,
                name, total, want);
    return total;
}

/* before_logs (may be NULL) runs right before JetGetLogInfo: every commit that returned before it
 * must be in the backup. */
static struct backup_result jet_backup(const char *outdir, unsigned char *buf, size_t cb,
                                       void (*before_logs)(void *), void *ctx)
{
    struct backup_result r = {0};
    unsigned long need = 0, got = 0;
    bu_make_dir(outdir, false);
    double t0 = bu_now();
    JET_CHECK(JetBeginExternalBackupInstance(g_inst, 0));
    JET_CHECK(JetGetAttachInfoInstance(g_inst, NULL, 0, &need));
    char *list = malloc(need);
    if (!list)
        bu_fail("out of memory");
    JET_CHECK(JetGetAttachInfoInstance(g_inst, list, need, &got));
    for (const char *p = list; *p; p += strlen(p) + 1)
        r.db_bytes += stream_file(p, outdir, buf, cb, &r);
    free(list);
    double t1 = bu_now();
    if (before_logs)
        before_logs(ctx);
    r.li = (JET_LOGINFO){.cbSize = sizeof r.li};
    JET_CHECK(JetGetLogInfoInstance2(g_inst, NULL, 0, &need, &r.li));
    list = malloc(need);
    if (!list)
        bu_fail("out of memory");
    JET_CHECK(JetGetLogInfoInstance(g_inst, list, need, &got));
    for (const char *p = list; *p; p += strlen(p) + 1) {
        r.log_bytes += stream_file(p, outdir, buf, cb, &r);
        r.nlogs++;
    }
    free(list);
    double t2 = bu_now();
    JET_CHECK(JetTruncateLogInstance(g_inst));
    JET_CHECK(JetEndExternalBackupInstance(g_inst));
    double t3 = bu_now();
    r.db_s = t1 - t0;
    r.logs_s = t2 - t1;
    r.end_s = t3 - t2;
    r.total_s = t3 - t0;
    return r;
}

/* Restore a backup in dir (the stream of bench.edb and its logs) in place, timed. */
static double jet_restore(const char *dir, const struct backup_result *b)
{
    char stream[PATH_MAX], logs[PATH_MAX], bdir[PATH_MAX];
    bu_path_fmt(stream, sizeof stream, "%s/bench.edb", dir);
    bu_path_fmt(logs, sizeof logs, "%s/restore-logs", dir);
    bu_path_fmt(bdir, sizeof bdir, "%s", dir);
    bu_make_dir(logs, false);
    JET_RSTMAP map = {g_jet_db, stream};
    bu_settle_disk();
    double t0 = bu_now();
    JET_CHECK(JetExternalRestore(logs, logs, &map, 1, bdir, (long)b->li.ulGenLow,
                                 (long)b->li.ulGenHigh, NULL));
    return bu_now() - t0;
}

/* ---------------------------------------------------------------------------------------------
 * SQLite
 * ------------------------------------------------------------------------------------------- */
static sqlite3 *sqlite_connect(const char *path, bool create)
{
    sqlite3 *db = bu_sqlite_open(path, create);
    bu_sql_exec(db, "PRAGMA journal_mode=WAL");
    bu_sql_exec(db, "PRAGMA synchronous=FULL");
    return db;
}

struct sqlite_backup_result {
    bool finished;
    double s;
    unsigned restarts;
    int pages_total, pages_left; /* at the end */
};

/* sqlite3_backup_step(100) until done — the loop of the sqlite3 shell's .backup — into a new file
 * dst (synchronous=FULL, so the copy is fsynced when it commits). With a deadline (> 0) it gives
 * up after that many seconds or SQLITE_MAX_RESTARTS restarts. */
static struct sqlite_backup_result sqlite_backup(sqlite3 *src, const char *dst, double deadline)
{
    struct sqlite_backup_result r = {0};
    sqlite3 *d = NULL;
    int rc = sqlite3_open_v2(dst, &d, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL);
    if (rc != SQLITE_OK)
        bu_sqlite_fail(d, rc, "sqlite3_open_v2 (backup destination)");
    bu_sql_exec(d, "PRAGMA synchronous=FULL");
    double t0 = bu_now();
    sqlite3_backup *b = sqlite3_backup_init(d, "main", src, "main");
    if (!b)
        bu_sqlite_fail(d, sqlite3_errcode(d), "sqlite3_backup_init");
    int last_left = -1;
    for (;;) {
        rc = sqlite3_backup_step(b, SQLITE_STEP_PAGES);
        int left = sqlite3_backup_remaining(b);
        if (last_left >= 0 && left > last_left)
            r.restarts++; /* the source changed under another connection: it starts over */
        last_left = left;
        if (rc == SQLITE_DONE) {
            r.finished = true;
            break;
        }
        if (rc == SQLITE_BUSY || rc == SQLITE_LOCKED)
            bu_sleep(0.001);
        else if (rc != SQLITE_OK)
            bu_sqlite_fail(d, rc, "sqlite3_backup_step");
        if (deadline > 0 && (bu_now() - t0 > deadline || r.restarts >= SQLITE_MAX_RESTARTS))
            break;
    }
    r.pages_total = sqlite3_backup_pagecount(b);
    r.pages_left = sqlite3_backup_remaining(b);
    rc = sqlite3_backup_finish(b);
    if (r.finished && rc != SQLITE_OK)
        bu_sqlite_fail(d, rc, "sqlite3_backup_finish");
    rc = sqlite3_close(d);
    if (rc != SQLITE_OK)
        bu_sqlite_fail(d, rc, "sqlite3_close (backup destination)");
    r.s = bu_now() - t0;
    return r;
}

struct sqlite_writer {
    const char *path;
    atomic_bool stopping;
    pthread_barrier_t start;
    uint64_t count;
    double t0, t1;
};

static void *sqlite_writer_main(void *arg)
{
    struct sqlite_writer *w = arg;
    unsigned char key[KEY_SIZE], val[VALUE_SIZE];
    sqlite3 *db = sqlite_connect(w->path, false);
    sqlite3_stmt *begin = bu_sql_prepare(db, "BEGIN IMMEDIATE");
    sqlite3_stmt *ins = bu_sql_prepare(db, "INSERT INTO kv(k, v) VALUES (?1, ?2)");
    sqlite3_stmt *commit = bu_sql_prepare(db, "COMMIT");
    bu_barrier_wait(&w->start);
    w->t0 = bu_now();
    while (!atomic_load_explicit(&w->stopping, memory_order_relaxed)) {
        uint64_t seq = bu_writer_seq(3, 0, w->count);
        bu_make_key(seq, key, KEY_SIZE);
        bu_make_value(seq, val, VALUE_SIZE);
        bu_sql_step_done(db, begin, "BEGIN IMMEDIATE (writer)");
        sqlite3_bind_blob(ins, 1, key, KEY_SIZE, SQLITE_STATIC);
        sqlite3_bind_blob(ins, 2, val, VALUE_SIZE, SQLITE_STATIC);
        bu_sql_step_done(db, ins, "INSERT (writer)");
        bu_sql_step_done(db, commit, "COMMIT (writer)");
        w->count++;
    }
    w->t1 = bu_now();
    sqlite3_finalize(begin);
    sqlite3_finalize(ins);
    sqlite3_finalize(commit);
    int rc = sqlite3_close(db);
    if (rc != SQLITE_OK)
        bu_sqlite_fail(db, rc, "sqlite3_close (writer)");
    return NULL;
}

/* ---------------------------------------------------------------------------------------------
 * Results
 * ------------------------------------------------------------------------------------------- */
static struct {
    /* jetsnap, idle: best of opt.repeat */
    double cp_s, ccopy_s;
    struct backup_result bk, bk_last;
    double bk_all[16], cp_all[16], ccopy_all[16];
    /* jetsnap, under load */
    struct writer_stats w_alone, w_backup, w_cp;
    double cp_load_s; /* cp+sync of the database file while the writers run (control) */
    struct backup_result bk_load;
    double restore_s, restore_load_s;
    /* SQLite */
    uint64_t sq_records, sq_bytes;
    double sq_load_s, sq_cp_s;
    struct sqlite_backup_result sq_bk, sq_bk_load;
    double sq_writer_rate;
    uint64_t sq_writer_n;
    /* LMDB */
    uint64_t lm_records, lm_bytes, lm_copy_bytes;
    double lm_load_s, lm_cp_s, lm_copy_s;
    bool lm_used_cli;
} R;

/* ---------------------------------------------------------------------------------------------
 * The phases
 * ------------------------------------------------------------------------------------------- */
static unsigned char *g_buf;
static size_t g_buf_cb;

static void jet_idle_phase(void)
{
    char dst[PATH_MAX], bdir[PATH_MAX];
    printf("jetsnap: idle copies and backups, %u round(s), reads of %u MiB ...\n", opt.repeat,
           opt.read_mib);
    fflush(stdout);
    for (unsigned k = 0; k < opt.repeat; k++) {
        bu_path_fmt(dst, sizeof dst, "%s/cp-bench.edb", bu_workdir);
        double t = time_cp_sync(g_jet_db, dst);
        if (file_size(dst) != g_jet_bytes)
            bu_fail("cp %s gave %" PRIu64 " bytes", dst, file_size(dst));
        unlink(dst);
        R.cp_all[k] = t;
        if (k == 0 || t < R.cp_s)
            R.cp_s = t;

        bu_path_fmt(dst, sizeof dst, "%s/ccopy-bench.edb", bu_workdir);
        t = time_c_copy(g_jet_db, dst, g_buf, g_buf_cb);
        unlink(dst);
        R.ccopy_all[k] = t;
        if (k == 0 || t < R.ccopy_s)
            R.ccopy_s = t;

        bu_path_fmt(bdir, sizeof bdir, "%s/backup-idle-%u", bu_workdir, k);
        bu_settle_disk();
        struct backup_result b = jet_backup(bdir, g_buf, g_buf_cb, NULL, NULL);
        R.bk_all[k] = b.total_s;
        if (k == 0 || b.total_s < R.bk.total_s)
            R.bk = b;
        printf("  round %u: cp+sync %.2f s, C copy %.2f s, backup %.2f s (database %.2f s, "
               "%u log(s) %.2f s, truncate+end %.2f s; in JetReadFile %.2f s, write %.2f s, fsync %.2f s)\n",
               k + 1, R.cp_all[k], R.ccopy_all[k], b.total_s, b.db_s, b.nlogs, b.logs_s, b.end_s, b.read_s,
               b.write_s, b.fsync_s);
        fflush(stdout);
        if (k + 1 < opt.repeat)
            bu_remove_tree(bdir);
        else
            R.bk_last = b; /* the last round's backup is kept for the restore */
    }
}

struct load_ctx {
    struct writer_set *set;
    uint64_t before[64];
};

static void snapshot_counts(void *arg)
{
    struct load_ctx *c = arg;
    for (unsigned i = 0; i < c->set->n; i++)
        c->before[i] = atomic_load(&c->set->w[i].count);
}

static void jet_load_phase(struct expect_run *exp_alone, struct expect_run *exp_cp,
                           struct expect_run *exp_load)
{
    char bdir[PATH_MAX];
    printf("jetsnap: %u writers (durable single-record commits) for %.1f s, no backup ...\n",
           opt.threads, opt.seconds);
    fflush(stdout);
    bu_settle_disk();
    struct writer_set *set = writers_start(1);
    double t0 = bu_now();
    bu_sleep(WARMUP_S + opt.seconds);
    double t1 = bu_now();
    writers_stop(set);
    R.w_alone = writer_window(set, t0 + WARMUP_S, t1);
    writers_free(set, exp_alone);

    /* Control: the same writers while `cp`+`sync` copies the database file — the same amount of
     * I/O with no engine involved, so it shows what the disk alone costs the writers. */
    printf("jetsnap: %u writers while cp+sync copies the database file (control) ...\n",
           opt.threads);
    fflush(stdout);
    char dst[PATH_MAX];
    bu_path_fmt(dst, sizeof dst, "%s/cp-load-bench.edb", bu_workdir);
    set = writers_start(3);
    bu_sleep(WARMUP_S);
    double c0 = bu_now();
    R.cp_load_s = time_cp_sync(g_jet_db, dst);
    double c1 = bu_now();
    writers_stop(set);
    R.w_cp = writer_window(set, c0, c1);
    writers_free(set, exp_cp);
    unlink(dst);

    printf("jetsnap: %u writers while a full backup runs ...\n", opt.threads);
    fflush(stdout);
    bu_path_fmt(bdir, sizeof bdir, "%s/backup-load", bu_workdir);
    bu_settle_disk();
    set = writers_start(2);
    bu_sleep(WARMUP_S);
    struct load_ctx ctx = {.set = set};
    double b0 = bu_now();
    R.bk_load = jet_backup(bdir, g_buf, g_buf_cb, snapshot_counts, &ctx);
    double b1 = bu_now();
    writers_stop(set);
    R.w_backup = writer_window(set, b0, b1);
    /* The backup must hold every commit that returned before GetLogInfo, and can hold no more
     * than the writers made. */
    writers_free(set, exp_load);
    for (unsigned i = 0; i < exp_load->threads; i++)
        exp_load->lo[i] = ctx.before[i];
    printf("  backup under load %.2f s (database %.2f s, %u log(s) %.2f s, truncate+end %.2f s; "
           "in JetReadFile %.2f s, write %.2f s, fsync %.2f s)\n",
           R.bk_load.total_s, R.bk_load.db_s, R.bk_load.nlogs, R.bk_load.logs_s, R.bk_load.end_s,
           R.bk_load.read_s, R.bk_load.write_s, R.bk_load.fsync_s);
}

static void sqlite_phase(uint64_t target)
{
    char dir[PATH_MAX], path[PATH_MAX], dst[PATH_MAX];
    unsigned char key[KEY_SIZE], val[VALUE_SIZE];
    bu_path_fmt(dir, sizeof dir, "%s/sqlite", bu_workdir);
    bu_path_fmt(path, sizeof path, "%s/kv.db", dir);
    bu_make_dir(dir, false);
    printf("SQLite %s: loading %.1f MiB (WAL, synchronous=FULL, WITHOUT ROWID) ...\n",
           sqlite3_libversion(), (double)target / 1048576.0);
    fflush(stdout);
    sqlite3 *db = sqlite_connect(path, true);
    bu_sql_exec(db, "CREATE TABLE kv(k BLOB PRIMARY KEY, v BLOB) WITHOUT ROWID");
    sqlite3_stmt *ins = bu_sql_prepare(db, "INSERT INTO kv(k, v) VALUES (?1, ?2)");
    int64_t page_size = sql_int(db, "PRAGMA page_size");
    double t0 = bu_now();
    uint64_t i = 0;
    while ((uint64_t)(sql_int(db, "PRAGMA page_count") * page_size) < target) {
        bu_sql_exec(db, "BEGIN IMMEDIATE");
        for (uint64_t end = i + TXN_SIZE; i < end; i++) {
            bu_make_key(i, key, KEY_SIZE);
            bu_make_value(i, val, VALUE_SIZE);
            sqlite3_bind_blob(ins, 1, key, KEY_SIZE, SQLITE_STATIC);
            sqlite3_bind_blob(ins, 2, val, VALUE_SIZE, SQLITE_STATIC);
            bu_sql_step_done(db, ins, "INSERT (bulk)");
        }
        bu_sql_exec(db, "COMMIT");
    }
    sqlite3_finalize(ins);
    bu_sql_exec(db, "PRAGMA wal_checkpoint(TRUNCATE)");
    R.sq_load_s = bu_now() - t0;
    R.sq_records = i;
    R.sq_bytes = file_size(path);
    printf("SQLite: %" PRIu64 " records, database file %.1f MiB, loaded in %.1f s\n", i,
           (double)R.sq_bytes / 1048576.0, R.sq_load_s);

    bu_path_fmt(dst, sizeof dst, "%s/cp-kv.db", bu_workdir);
    R.sq_cp_s = time_cp_sync(path, dst);
    unlink(dst);

    printf("SQLite: sqlite3_backup_step(%d) loop (.backup), idle ...\n", SQLITE_STEP_PAGES);
    fflush(stdout);
    bu_path_fmt(dst, sizeof dst, "%s/backup-idle.db", bu_workdir);
    bu_settle_disk();
    R.sq_bk = sqlite_backup(db, dst, 0);
    {
        sqlite3 *c = NULL;
        int rc = sqlite3_open_v2(dst, &c, SQLITE_OPEN_READONLY, NULL);
        if (rc != SQLITE_OK)
            bu_sqlite_fail(c, rc, "sqlite3_open_v2 (backup check)");
        int64_t n = sql_int(c, "SELECT count(*) FROM kv");
        if ((uint64_t)n != R.sq_records)
            bu_fail("SQLite: the backup has %" PRId64 " records, expected %" PRIu64, n,
                    R.sq_records);
        sqlite3_close(c);
    }
    unlink(dst);

    double limit = 3 * R.sq_bk.s < 1 ? 1 : 3 * R.sq_bk.s;
    printf("SQLite: the same while one writer commits (given up after %.1f s) ...\n", limit);
    fflush(stdout);
    struct sqlite_writer w = {.path = path};
    atomic_init(&w.stopping, false);
    pthread_barrier_init(&w.start, NULL, 2);
    pthread_t th;
    int rc = pthread_create(&th, NULL, sqlite_writer_main, &w);
    if (rc != 0)
        bu_fail("pthread_create: %s", strerror(rc));
    bu_barrier_wait(&w.start);
    bu_sleep(WARMUP_S);
    bu_path_fmt(dst, sizeof dst, "%s/backup-load.db", bu_workdir);
    R.sq_bk_load = sqlite_backup(db, dst, limit);
    atomic_store(&w.stopping, true);
    pthread_join(th, NULL);
    pthread_barrier_destroy(&w.start);
    R.sq_writer_n = w.count;
    R.sq_writer_rate = w.t1 > w.t0 ? (double)w.count / (w.t1 - w.t0) : 0;
    unlink(dst);
    rc = sqlite3_close(db);
    if (rc != SQLITE_OK)
        bu_sqlite_fail(db, rc, "sqlite3_close");
    if (!opt.keep)
        bu_remove_tree(dir);
}

static void lmdb_phase(uint64_t target)
{
    char dir[PATH_MAX], data[PATH_MAX], dst[PATH_MAX], dstdata[PATH_MAX];
    MDB_env *env;
    bu_path_fmt(dir, sizeof dir, "%s/lmdb", bu_workdir);
    bu_path_fmt(data, sizeof data, "%s/data.mdb", dir);
    bu_make_dir(dir, false);
    printf("LMDB %s: loading %.1f MiB ...\n", MDB_VERSION_STRING, (double)target / 1048576.0);
    fflush(stdout);
    double t0 = bu_now();
    uint64_t i = bl_load(dir, target, KEY_SIZE, VALUE_SIZE, TXN_SIZE);
    R.lm_load_s = bu_now() - t0;
    R.lm_records = i;
    R.lm_bytes = file_size(data);
    printf("LMDB: %" PRIu64 " records, data.mdb %.1f MiB, loaded in %.1f s\n", i,
           (double)R.lm_bytes / 1048576.0, R.lm_load_s);

    bu_path_fmt(dst, sizeof dst, "%s/cp-data.mdb", bu_workdir);
    R.lm_cp_s = time_cp_sync(data, dst);
    unlink(dst);

    bu_path_fmt(dst, sizeof dst, "%s/lmdb-copy", bu_workdir);
    bu_path_fmt(dstdata, sizeof dstdata, "%s/data.mdb", dst);
    bu_make_dir(dst, false);
    char *argv[] = {"mdb_copy", dir, dst, NULL};
    bu_settle_disk();
    t0 = bu_now();
    int rc = run_program(argv);
    R.lm_used_cli = rc != -1;
    if (rc > 0)
        bu_fail("mdb_copy %s %s exited with %d", dir, dst, rc);
    if (!R.lm_used_cli) {
        /* lmdb-utils is not installed: the library call that mdb_copy makes. */
        bl_check(mdb_env_create(&env), "mdb_env_create");
        bl_check(mdb_env_set_mapsize(env, (size_t)(target * 2 + (256u << 20))),
                  "mdb_env_set_mapsize");
        bl_check(mdb_env_open(env, dir, MDB_RDONLY, 0600), "mdb_env_open");
        bl_check(mdb_env_copy2(env, dst, 0), "mdb_env_copy2");
        mdb_env_close(env);
    }
    fsync_path(dstdata);
    R.lm_copy_s = bu_now() - t0;
    R.lm_copy_bytes = file_size(dstdata);
    /* The copy must hold every record. */
    bl_check(mdb_env_create(&env), "mdb_env_create");
    bl_check(mdb_env_set_mapsize(env, (size_t)(target * 2 + (256u << 20))), "mdb_env_set_mapsize");
    bl_check(mdb_env_open(env, dst, MDB_RDONLY, 0600), "mdb_env_open (copy)");
    MDB_stat st;
    bl_check(mdb_env_stat(env, &st), "mdb_env_stat (copy)");
    mdb_env_close(env);
    if (st.ms_entries != R.lm_records)
        bu_fail("LMDB: the copy has %zu records, expected %" PRIu64, st.ms_entries, R.lm_records);
    bu_remove_tree(dst);
    if (!opt.keep)
        bu_remove_tree(dir);
}

/* ---------------------------------------------------------------------------------------------
 * Report
 * ------------------------------------------------------------------------------------------- */
static double mbps(uint64_t bytes, double s)
{
    return s > 0 ? (double)bytes / 1e6 / s : 0;
}

static void target(const char *what, double v, bool met)
{
    printf("  %-62s %8.2fx  %s\n", what, v, met ? "(met)" : "(not met)");
}

static void report(void)
{
    uint64_t bk_bytes = R.bk.db_bytes + R.bk.log_bytes;
    uint64_t bkl_bytes = R.bk_load.db_bytes + R.bk_load.log_bytes;
    double cp_mbps = mbps(g_jet_bytes, R.cp_s);
    double bk_mbps = mbps(bk_bytes, R.bk.total_s);
    double bk_db_mbps = mbps(R.bk.db_bytes, R.bk.db_s);
    double ratio_bk_cp = cp_mbps > 0 ? bk_mbps / cp_mbps : 0;
    double ratio_tput = R.w_alone.rate > 0 ? R.w_backup.rate / R.w_alone.rate : 0;
    double ratio_p99 = R.w_alone.p99_ms > 0 ? R.w_backup.p99_ms / R.w_alone.p99_ms : 0;
    double ratio_load = R.bk.total_s > 0 ? R.bk_load.total_s / R.bk.total_s : 0;
    double sq_cp_mbps = mbps(R.sq_bytes, R.sq_cp_s), sq_bk_mbps = mbps(R.sq_bytes, R.sq_bk.s);
    double lm_cp_mbps = mbps(R.lm_bytes, R.lm_cp_s), lm_bk_mbps = mbps(R.lm_copy_bytes, R.lm_copy_s);
    char a[160];

    printf("\n== full backup: jetsnap vs cp+sync, SQLite .backup, mdb_copy; measured in this run ==\n");
    printf("data: jetsnap %.1f MiB (%" PRIu64 " records), SQLite %.1f MiB (%" PRIu64
           " records), LMDB %.1f MiB (%" PRIu64 " records); %d-byte keys, %d-byte values; "
           "reads of %u MiB; best of %u idle round(s); all copies in %s\n\n",
           (double)g_jet_bytes / 1048576.0, g_records, (double)R.sq_bytes / 1048576.0,
           R.sq_records, (double)R.lm_bytes / 1048576.0, R.lm_records, KEY_SIZE, VALUE_SIZE,
           opt.read_mib, opt.repeat, bu_workdir);
    printf("%-58s %10s %10s %10s\n", "copy (idle, to a file, fsynced)", "MB", "seconds", "MB/s");
    printf("%-58s %10.1f %10.2f %10.1f\n", "jetsnap db: cp + sync (coreutils)", g_jet_bytes / 1e6,
           R.cp_s, cp_mbps);
    printf("%-58s %10.1f %10.2f %10.1f\n", "jetsnap db: C read/write + fsync", g_jet_bytes / 1e6,
           R.ccopy_s, mbps(g_jet_bytes, R.ccopy_s));
    printf("%-58s %10.1f %10.2f %10.1f\n", "jetsnap full backup (JET API), whole", bk_bytes / 1e6,
           R.bk.total_s, bk_mbps);
    printf("%-58s %10.1f %10.2f %10.1f\n", "  of which the database stream", R.bk.db_bytes / 1e6,
           R.bk.db_s, bk_db_mbps);
    snprintf(a, sizeof a, "  of which %u log file(s)", R.bk.nlogs);
    printf("%-58s %10.1f %10.2f %10.1f\n", a, R.bk.log_bytes / 1e6, R.bk.logs_s,
           mbps(R.bk.log_bytes, R.bk.logs_s));
    printf("%-58s %10s %10.2f\n", "  of which TruncateLog + End", "", R.bk.end_s);
    printf("%-58s %10.1f %10.2f %10.1f\n", "SQLite db: cp + sync", R.sq_bytes / 1e6, R.sq_cp_s,
           sq_cp_mbps);
    printf("%-58s %10.1f %10.2f %10.1f\n", "SQLite backup_step(100) loop (.backup)", R.sq_bytes / 1e6,
           R.sq_bk.s, sq_bk_mbps);
    printf("%-58s %10.1f %10.2f %10.1f\n", "LMDB data.mdb: cp + sync", R.lm_bytes / 1e6, R.lm_cp_s,
           lm_cp_mbps);
    printf("%-58s %10.1f %10.2f %10.1f\n",
           R.lm_used_cli ? "LMDB mdb_copy (CLI) + fsync" : "LMDB mdb_env_copy2 + fsync",
           R.lm_copy_bytes / 1e6, R.lm_copy_s, lm_bk_mbps);

    printf("\n%-58s %10s %10s %10s\n", "ratios (speed, MB/s over MB/s)", "", "", "ratio");
    printf("%-58s %32.2fx\n", "jetsnap backup / cp+sync", ratio_bk_cp);
    printf("%-58s %32.2fx\n", "jetsnap backup, database stream only / cp+sync",
           cp_mbps > 0 ? bk_db_mbps / cp_mbps : 0);
    printf("%-58s %32.2fx\n", "SQLite .backup / cp+sync", sq_cp_mbps > 0 ? sq_bk_mbps / sq_cp_mbps : 0);
    printf("%-58s %32.2fx\n", "mdb_copy / cp+sync", lm_cp_mbps > 0 ? lm_bk_mbps / lm_cp_mbps : 0);

    printf("\n%-40s %12s %12s %12s %12s\n", "writers (durable 1-record commits)", "commits/s",
           "p50 ms", "p99 ms", "max ms");
    snprintf(a, sizeof a, "%u writers alone (%.1f s)", opt.threads, R.w_alone.window_s);
    printf("%-40s %12.0f %12.2f %12.2f %12.2f\n", a, R.w_alone.rate, R.w_alone.p50_ms,
           R.w_alone.p99_ms, R.w_alone.max_ms);
    snprintf(a, sizeof a, "%u writers during the backup (%.1f s)", opt.threads, R.w_backup.window_s);
    printf("%-40s %12.0f %12.2f %12.2f %12.2f\n", a, R.w_backup.rate, R.w_backup.p50_ms,
           R.w_backup.p99_ms, R.w_backup.max_ms);
    printf("%-40s %11.2fx %12s %11.2fx\n", "during backup / alone", ratio_tput, "", ratio_p99);
    snprintf(a, sizeof a, "control: during cp+sync (%.1f s)", R.w_cp.window_s);
    printf("%-40s %12.0f %12.2f %12.2f %12.2f\n", a, R.w_cp.rate, R.w_cp.p50_ms, R.w_cp.p99_ms,
           R.w_cp.max_ms);
    printf("%-40s %11.2fx %12s %11.2fx\n", "control: during cp+sync / alone",
           R.w_alone.rate > 0 ? R.w_cp.rate / R.w_alone.rate : 0, "",
           R.w_alone.p99_ms > 0 ? R.w_cp.p99_ms / R.w_alone.p99_ms : 0);

    printf("\n%-58s %10s %10s %10s\n", "backup under load", "MB", "seconds", "MB/s");
    printf("%-58s %10.1f %10.2f %10.1f\n", "jetsnap full backup, idle", bk_bytes / 1e6,
           R.bk.total_s, bk_mbps);
    snprintf(a, sizeof a, "jetsnap full backup, %u writers (%u log file(s))", opt.threads,
             R.bk_load.nlogs);
    printf("%-58s %10.1f %10.2f %10.1f\n", a, bkl_bytes / 1e6, R.bk_load.total_s,
           mbps(bkl_bytes, R.bk_load.total_s));
    /* Where the streams' time went: the engine (JetReadFile) or the backup file's writes. */
    const struct backup_result *parts[2] = {&R.bk, &R.bk_load};
    for (int i = 0; i < 2; i++) {
        const char *when = i ? "under load" : "idle";
        snprintf(a, sizeof a, "  %s: streams' time in JetReadFile", when);
        printf("%-58s %10s %10.2f\n", a, "", parts[i]->read_s);
        snprintf(a, sizeof a, "  %s: streams' time in write(2) of the backup files", when);
        printf("%-58s %10s %10.2f\n", a, "", parts[i]->write_s);
        snprintf(a, sizeof a, "  %s: streams' time in fsync(2) of the backup files", when);
        printf("%-58s %10s %10.2f\n", a, "", parts[i]->fsync_s);
    }
    printf("%-58s %32.2fx\n", "jetsnap backup time under load / idle", ratio_load);
    snprintf(a, sizeof a, "control: cp+sync of the database file, %u writers", opt.threads);
    printf("%-58s %10.1f %10.2f %10.1f\n", a, g_jet_bytes / 1e6, R.cp_load_s,
           mbps(g_jet_bytes, R.cp_load_s));
    printf("%-58s %32.2fx\n", "control: cp+sync time under load / idle",
           R.cp_s > 0 ? R.cp_load_s / R.cp_s : 0);
    printf("%-58s %10.1f %10.2f %10.1f\n", "SQLite .backup, idle", R.sq_bytes / 1e6, R.sq_bk.s,
           sq_bk_mbps);
    if (R.sq_bk_load.finished)
        snprintf(a, sizeof a, "finished in %.2f s (%.2fx idle), %u restart(s)", R.sq_bk_load.s,
                 R.sq_bk.s > 0 ? R.sq_bk_load.s / R.sq_bk.s : 0, R.sq_bk_load.restarts);
    else
        snprintf(a, sizeof a, "DID NOT FINISH in %.2f s: %u restarts, %d of %d pages left",
                 R.sq_bk_load.s, R.sq_bk_load.restarts, R.sq_bk_load.pages_left,
                 R.sq_bk_load.pages_total);
    printf("%-40s %s\n", "SQLite .backup, 1 writer committing", a);
    printf("%-40s %.0f commits/s during it\n", "  that writer", R.sq_writer_rate);

    printf("\n%-58s %10s %10s %10s\n", "restore (JetExternalRestore, in place)", "MB", "seconds",
           "MB/s");
    uint64_t last_bytes = R.bk_last.db_bytes + R.bk_last.log_bytes;
    snprintf(a, sizeof a, "idle backup (logs %lu-%lu)", R.bk_last.li.ulGenLow,
             R.bk_last.li.ulGenHigh);
    printf("%-58s %10.1f %10.2f %10.1f\n", a, last_bytes / 1e6, R.restore_s,
           mbps(last_bytes, R.restore_s));
    snprintf(a, sizeof a, "backup under load (logs %lu-%lu)", R.bk_load.li.ulGenLow,
             R.bk_load.li.ulGenHigh);
    printf("%-58s %10.1f %10.2f %10.1f\n", a, bkl_bytes / 1e6, R.restore_load_s,
           mbps(bkl_bytes, R.restore_load_s));
    printf("%-58s %32.2fx\n", "restore (idle backup) time / backup time",
           R.bk.total_s > 0 ? R.restore_s / R.bk.total_s : 0);

    printf("\ntargets (informational, never asserted):\n");
    target("full backup speed / cp+sync >= 0.90x", ratio_bk_cp, ratio_bk_cp >= 0.9);
    target("writers' throughput during the backup / alone >= 0.85x", ratio_tput, ratio_tput >= 0.85);
    target("backup time under load / idle <= 1.30x", ratio_load, ratio_load <= 1.3);
    printf("  %-62s %s\n", "SQLite .backup with a writer committing (expected: never finishes)",
           R.sq_bk_load.finished ? "finished" : "did not finish");

    printf("\n");
    bu_result_line("size_mib", opt.size_mib);
    bu_result_line("seconds", opt.seconds);
    bu_result_line("threads", opt.threads);
    bu_result_line("read_mib", opt.read_mib);
    bu_result_line("repeat", opt.repeat);
    bu_result_line("jet_records", (double)g_records);
    bu_result_line("jet_db_bytes", (double)g_jet_bytes);
    bu_result_line("jet_load_s", g_jet_load_s);
    bu_result_line("jet_cp_sync_s", R.cp_s);
    bu_result_line("jet_cp_sync_mbps", cp_mbps);
    bu_result_line("jet_c_copy_s", R.ccopy_s);
    bu_result_line("jet_c_copy_mbps", mbps(g_jet_bytes, R.ccopy_s));
    bu_result_line("jet_backup_s", R.bk.total_s);
    bu_result_line("jet_backup_bytes", (double)bk_bytes);
    bu_result_line("jet_backup_mbps", bk_mbps);
    bu_result_line("jet_backup_db_s", R.bk.db_s);
    bu_result_line("jet_backup_db_mbps", bk_db_mbps);
    bu_result_line("jet_backup_logs", R.bk.nlogs);
    bu_result_line("jet_backup_log_bytes", (double)R.bk.log_bytes);
    bu_result_line("jet_backup_logs_s", R.bk.logs_s);
    bu_result_line("jet_backup_end_s", R.bk.end_s);
    bu_result_line("ratio_backup_over_cp", ratio_bk_cp);
    bu_result_line("writers_alone_per_s", R.w_alone.rate);
    bu_result_line("writers_alone_p99_ms", R.w_alone.p99_ms);
    bu_result_line("writers_backup_per_s", R.w_backup.rate);
    bu_result_line("writers_backup_p99_ms", R.w_backup.p99_ms);
    bu_result_line("ratio_writers_backup_over_alone", ratio_tput);
    bu_result_line("ratio_writers_p99_backup_over_alone", ratio_p99);
    bu_result_line("writers_cp_per_s", R.w_cp.rate);
    bu_result_line("writers_cp_p99_ms", R.w_cp.p99_ms);
    bu_result_line("ratio_writers_cp_over_alone",
                   R.w_alone.rate > 0 ? R.w_cp.rate / R.w_alone.rate : 0);
    bu_result_line("jet_cp_load_s", R.cp_load_s);
    bu_result_line("ratio_cp_load_over_idle", R.cp_s > 0 ? R.cp_load_s / R.cp_s : 0);
    bu_result_line("jet_backup_load_s", R.bk_load.total_s);
    bu_result_line("jet_backup_load_bytes", (double)bkl_bytes);
    bu_result_line("jet_backup_read_s", R.bk.read_s);
    bu_result_line("jet_backup_write_s", R.bk.write_s);
    bu_result_line("jet_backup_fsync_s", R.bk.fsync_s);
    bu_result_line("jet_backup_load_read_s", R.bk_load.read_s);
    bu_result_line("jet_backup_load_write_s", R.bk_load.write_s);
    bu_result_line("jet_backup_load_fsync_s", R.bk_load.fsync_s);
    bu_result_line("ratio_backup_load_over_idle", ratio_load);
    bu_result_line("jet_restore_s", R.restore_s);
    bu_result_line("jet_restore_load_s", R.restore_load_s);
    bu_result_line("ratio_restore_over_backup", R.bk.total_s > 0 ? R.restore_s / R.bk.total_s : 0);
    bu_result_line("sqlite_db_bytes", (double)R.sq_bytes);
    bu_result_line("sqlite_cp_sync_s", R.sq_cp_s);
    bu_result_line("sqlite_backup_s", R.sq_bk.s);
    bu_result_line("ratio_sqlite_backup_over_cp", sq_cp_mbps > 0 ? sq_bk_mbps / sq_cp_mbps : 0);
    bu_result_line("sqlite_backup_load_finished", R.sq_bk_load.finished ? 1 : 0);
    bu_result_line("sqlite_backup_load_s", R.sq_bk_load.s);
    bu_result_line("sqlite_backup_load_restarts", R.sq_bk_load.restarts);
    bu_result_line("lmdb_db_bytes", (double)R.lm_bytes);
    bu_result_line("lmdb_cp_sync_s", R.lm_cp_s);
    bu_result_line("lmdb_copy_s", R.lm_copy_s);
    bu_result_line("lmdb_copy_cli", R.lm_used_cli ? 1 : 0);
    bu_result_line("ratio_lmdb_copy_over_cp", lm_cp_mbps > 0 ? lm_bk_mbps / lm_cp_mbps : 0);
    bu_result_line("ratio_jet_backup_over_sqlite_backup",
                   sq_bk_mbps > 0 ? bk_mbps / sq_bk_mbps : 0);
    bu_result_line("ratio_jet_backup_over_mdb_copy", lm_bk_mbps > 0 ? bk_mbps / lm_bk_mbps : 0);
}

/* ---------------------------------------------------------------------------------------------
 * Setup
 * ------------------------------------------------------------------------------------------- */
static void usage(FILE *f)
{
    fprintf(f,
            "usage: bench-backup [options]\n"
            "  --size-mib N   size of each engine's database in MiB (default 1024)\n"
            "  --dir DIR      create the work directory inside DIR (default $TMPDIR or /tmp)\n"
            "  --seconds S    length of the writers-alone run (default 10)\n"
            "  --threads N    writer threads (default 4)\n"
            "  --read-mib M   bytes per JetReadFile and per read of the C copy (default 4)\n"
            "  --repeat N     idle rounds of cp / C copy / backup; the best counts (default 2)\n"
            "  --scale F      multiply --size-mib and --seconds by F (0.01 for a smoke run)\n"
            "  --keep         keep the work directory\n");
}

static void parse_args(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"size-mib", required_argument, NULL, 'n'}, {"dir", required_argument, NULL, 'd'},
        {"seconds", required_argument, NULL, 'S'},  {"threads", required_argument, NULL, 'T'},
        {"read-mib", required_argument, NULL, 'r'}, {"repeat", required_argument, NULL, 'R'},
        {"scale", required_argument, NULL, 's'},    {"keep", no_argument, NULL, 'k'},
        {"help", no_argument, NULL, 'h'},           {NULL, 0, NULL, 0},
    };
    int ch;
    while ((ch = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (ch) {
        case 'n': opt.size_mib = bu_parse_pos(optarg, "--size-mib"); break;
        case 'd': opt.parent_dir = optarg; break;
        case 'S': opt.seconds = bu_parse_pos(optarg, "--seconds"); break;
        case 'T': opt.threads = (unsigned)bu_parse_pos(optarg, "--threads"); break;
        case 'r': opt.read_mib = (unsigned)bu_parse_pos(optarg, "--read-mib"); break;
        case 'R': opt.repeat = (unsigned)bu_parse_pos(optarg, "--repeat"); break;
        case 's': opt.scale = bu_parse_pos(optarg, "--scale"); break;
        case 'k': opt.keep = true; break;
        case 'h': usage(stdout); exit(0);
        default: usage(stderr); exit(2);
        }
    }
    if (optind != argc) {
        usage(stderr);
        exit(2);
    }
    if (opt.threads < 1 || opt.threads > 64 || opt.read_mib < 1 || opt.read_mib > 1024 ||
        opt.repeat < 1 || opt.repeat > 16) {
        fprintf(stderr, "bench-backup: --threads (1..64), --read-mib (1..1024) or --repeat (1..16) "
                        "out of range\n");
        exit(2);
    }
    opt.size_mib *= opt.scale;
    opt.seconds *= opt.scale;
    if (opt.size_mib < 4)
        opt.size_mib = 4;
    if (opt.seconds < 1)
        opt.seconds = 1;
}

int main(int argc, char **argv)
{
    char bdir[PATH_MAX], stream[PATH_MAX];

    bu_init("bench-backup", &opt.keep, true);
    parse_args(argc, argv);
    if (!bu_start_signal_thread())
        bu_fail("pthread_create (signal thread) failed");

    bu_make_workdir(opt.parent_dir);
    g_buf_cb = (size_t)opt.read_mib << 20;
    g_buf = malloc(g_buf_cb);
    if (!g_buf)
        bu_fail("out of memory (%u MiB buffer)", opt.read_mib);
    printf("bench-backup: work directory %s; %.0f MiB per engine, %u writers, %.1f s writer run\n",
           bu_workdir, opt.size_mib, opt.threads, opt.seconds);
    fflush(stdout);

    jet_load((uint64_t)(opt.size_mib * 1048576.0));
    jet_idle_phase();
    struct expect_run exp[3];
    jet_load_phase(&exp[0], &exp[1], &exp[2]);

    printf("jetsnap: JetExternalRestore of the idle backup, then of the backup under load ...\n");
    fflush(stdout);
    bu_path_fmt(bdir, sizeof bdir, "%s/backup-idle-%u", bu_workdir, opt.repeat - 1);
    R.restore_s = jet_restore(bdir, &R.bk_last);
    bu_path_fmt(stream, sizeof stream, "%s/bench.edb", bdir);
    jet_verify(stream, NULL, 0, "restored idle backup");
    if (!opt.keep)
        bu_remove_tree(bdir);
    bu_path_fmt(bdir, sizeof bdir, "%s/backup-load", bu_workdir);
    R.restore_load_s = jet_restore(bdir, &R.bk_load);
    bu_path_fmt(stream, sizeof stream, "%s/bench.edb", bdir);
    jet_verify(stream, exp, 3, "restored backup taken under load");
    if (!opt.keep)
        bu_remove_tree(bdir);
    jet_stop();
    if (!opt.keep)
        bu_remove_tree(g_jet_dir);

    sqlite_phase(g_jet_bytes);
    lmdb_phase(g_jet_bytes);
    report();
    fflush(stdout);
    free(g_buf);
    bu_cleanup();
    return 0;
}
