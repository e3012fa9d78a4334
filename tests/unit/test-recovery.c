/*
 * test-recovery.c — crash recovery and I/O failure handling, through jet.h plus the engine's
 * internal I/O fault hook (io-int.h) and offline verifier.
 *
 * What the suite covers:
 *  - a "fuzzy" copy (edb.chk, then the database read slowly while commits go on, then the logs)
 *    recovers to exactly the acknowledged commits;
 *  - recovery killed after its K-th write, several times over, and then run to the end still
 *    gives every committed transaction (recovery is idempotent);
 *  - a database page write torn by a crash during a checkpoint is repaired by recovery;
 *  - small commits log diffs of the pages they change, not whole pages, and recovery replays them
 *    through several checkpoints;
 *  - ENOSPC on the database file (JET_errDiskFull, then an unavailable instance) and on the log
 *    (JET_errLogDiskFull, then an unavailable instance) loses nothing acknowledged and adds nothing
 *    that was not;
 *  - an fsync failure of the log never reports a commit as successful, and stays failed;
 *  - circular logging keeps the number of log files bounded (and plain logging does not), and
 *    recovers a killed process;
 *  - eight committing threads and two scanning readers: readers only ever see committed states,
 *    and every acknowledged commit survives a restart;
 *  - lazy commits become durable with the next durable commit (or JET_bitWaitLastLevel0Commit).
 *  - a database that edb.chk names, whose file was replaced by another database's, is refused.
 *  - a copy of an instance's directory recovers in another directory with JetInit3's restore map
 *    and never touches the originals, not even in a later plain JetInit; a database the map
 *    leaves out is skipped; a bad JET_RSTINFO or a map to the wrong files is refused with nothing
 *    changed; without a map (or with an empty one) recovery stays in place.
 *
 * Most cases compare the recovered table with a model: transaction i of a fixed, deterministic
 * sequence puts one key (and sometimes deletes another), so "the first n transactions" is a
 * complete description of what the table must hold. Crashes are real: forked children that die by
 * SIGKILL, reporting their acknowledged commits through shared memory.
 */
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "engine-int.h"
#include "io-int.h"
#include "jet.h"
#include "log-int.h"
#include "testhooks-int.h"
#include "testutil.h"

#define PS 8192u /* default JET_paramDatabasePageSize */

/* In a forked child Check cannot report, so a failed call ends the child with a message instead. */
#define CHILD_OK(call)                                                                             \
    do {                                                                                           \
        JET_ERR ce_ = (call);                                                                      \
        if (ce_ != JET_errSuccess) {                                                               \
            fprintf(stderr, "child %s:%d: %s = %ld\n", __FILE__, __LINE__, #call, ce_);           \
            _exit(3);                                                                              \
        }                                                                                          \
    } while (0)

static char *root; /* per-test scratch directory */

static void setup(void)
{
    root = tu_mkdtemp("recovery");
}

static void teardown(void)
{
    eng_io_set_fault_hook(NULL, NULL);
    tu_rmtree(root);
    free(root);
    root = NULL;
}

static char *subdir(const char *name)
{
    char *p = tu_path(root, name);
    ck_assert_int_eq(mkdir(p, 0755), 0);
    return p;
}

/* ---------------------------------------------------------------------------------------------
 * The deterministic workload and its model
 * ------------------------------------------------------------------------------------------- */
#define NK 400
#define VAL_MAX 16384

struct model {
    int64_t last[NK]; /* index of the transaction that wrote the current value, -1 = absent */
};

static uint32_t put_key(uint32_t i) { return (i * 7919u) % NK; }
static uint32_t del_key(uint32_t i) { return (i * 104729u + 13u) % NK; }
static bool wants_delete(const struct model *m, uint32_t i)
{
    return i % 5 == 4 && del_key(i) != put_key(i) && m->last[del_key(i)] >= 0;
}

static void model_init(struct model *m)
{
    for (int k = 0; k < NK; k++)
        m->last[k] = -1;
}

static void model_apply(struct model *m, uint32_t i)
{
    bool del = wants_delete(m, i);
    m->last[put_key(i)] = i;
    if (del)
        m->last[del_key(i)] = -1;
}

/* The state after transactions 0..n-1. */
static void model_upto(struct model *m, uint32_t n)
{
    model_init(m);
    for (uint32_t i = 0; i < n; i++)
        model_apply(m, i);
}

static uint64_t model_count(const struct model *m)
{
    uint64_t c = 0;
    for (int k = 0; k < NK; k++)
        c += m->last[k] >= 0;
    return c;
}

/* Most values fit in a leaf; every 61st needs overflow pages, so those paths are replayed too. */
static uint32_t value_fill(uint32_t i, uint8_t *buf)
{
    unsigned long long s = i * 0x9E3779B97F4A7C15ULL + 7;
    uint32_t r = (uint32_t)(tu_rand(&s) >> 11);
    uint32_t len = i % 61 == 60 ? 9000 + r % 4000 : 8 + r % 1200;
    if (buf) {
        for (uint32_t b = 0; b < len; b++)
            buf[b] = (uint8_t)(tu_rand(&s) >> 17);
        memcpy(buf, &i, 4); /* the writer's index, for failure messages */
    }
    return len;
}

static void keyname(uint32_t k, char out[8])
{
    snprintf(out, 8, "k%04u", k);
}

/* Transaction i of the workload on top of state m. Returns the first error; on error the
 * transaction is gone (rolled back, or ended by the failed commit). */
static JET_ERR run_txn(JET_SESID s, JET_TABLEID t, const struct model *m, uint32_t i, JET_GRBIT grbit,
                       uint8_t *buf)
{
    JET_ERR e = JetBeginTransaction(s);
    if (e)
        return e;
    char k[8];
    uint32_t len = value_fill(i, buf);
    keyname(put_key(i), k);
    e = JetPutRecord(s, t, k, 5, buf, len, 0);
    if (!e && wants_delete(m, i)) {
        keyname(del_key(i), k);
        e = JetDeleteRecord(s, t, k, 5, 0);
    }
    if (!e)
        e = JetCommitTransaction(s, grbit);
    if (e)
        (void)JetRollback(s, JET_bitRollbackAll); /* NotInTransaction when the commit ended it */
    return e;
}

/* 0 if table t holds exactly the state m; otherwise 1 with the reason in why. */
static int table_equals(JET_SESID s, JET_TABLEID t, const struct model *m, char *why, size_t wn)
{
    uint8_t *got = malloc(VAL_MAX), *want = malloc(VAL_MAX);
    bool seen[NK] = {false};
    int bad = 0;
    JET_ERR e = JetMove(s, t, JET_MoveFirst, 0);
    while (e == JET_errSuccess && !bad) {
        char k[16];
        unsigned long kl = 0, vl = 0;
        e = JetRetrieveKey(s, t, k, sizeof k - 1, &kl, 0);
        if (!e)
            e = JetRetrieveRecord(s, t, got, VAL_MAX, &vl, 0);
        if (e)
            break;
        k[kl < sizeof k ? kl : sizeof k - 1] = 0;
        unsigned key = (unsigned)atoi(k + 1);
        if (kl != 5 || k[0] != 'k' || key >= NK) {
            snprintf(why, wn, "unexpected key '%s'", k);
            bad = 1;
        } else if (m->last[key] < 0) {
            snprintf(why, wn, "key %u present, should be absent", key);
            bad = 1;
        } else {
            uint32_t wl = value_fill((uint32_t)m->last[key], want);
            if (vl != wl || memcmp(got, want, wl)) {
                uint32_t from = 0;
                memcpy(&from, got, 4);
                snprintf(why, wn, "key %u: value of txn %u (len %lu), want txn %lld (len %u)", key, from, vl,
                         (long long)m->last[key], wl);
                bad = 1;
            }
            seen[key] = true;
        }
        if (!bad)
            e = JetMove(s, t, JET_MoveNext, 0);
    }
    if (!bad && e != JET_errNoCurrentRecord) {
        snprintf(why, wn, "scan failed with %ld", e);
        bad = 1;
    }
    for (unsigned k = 0; k < NK && !bad; k++)
        if (m->last[k] >= 0 && !seen[k]) {
            snprintf(why, wn, "key %u (txn %lld) missing", k, (long long)m->last[k]);
            bad = 1;
        }
    free(got);
    free(want);
    return bad;
}

/* ---------------------------------------------------------------------------------------------
 * Instances, files, children
 * ------------------------------------------------------------------------------------------- */
struct icfg {
    unsigned log_kb;
    unsigned circular;
    unsigned cache_pages;
};

/* An instance on directory d, initialized by JetInit3 with rst (NULL: none, as JetInit). */
static JET_ERR inst_open3(const char *name, const char *d, const struct icfg *c, JET_RSTINFO *rst,
                          JET_INSTANCE *out)
{
    JET_INSTANCE in;
    JET_ERR e = JetCreateInstance(&in, name);
    if (e)
        return e;
    if (!e)
        e = JetSetSystemParameter(&in, 0, JET_paramSystemPath, 0, d);
    if (!e)
        e = JetSetSystemParameter(&in, 0, JET_paramLogFilePath, 0, d);
    if (!e)
        e = JetSetSystemParameter(&in, 0, JET_paramLogFileSize, c->log_kb, NULL);
    if (!e)
        e = JetSetSystemParameter(&in, 0, JET_paramCircularLog, c->circular, NULL);
    if (!e && c->cache_pages)
        e = JetSetSystemParameter(&in, 0, JET_paramCacheSizeMax, c->cache_pages, NULL);
    if (!e)
        e = JetInit3(&in, rst, 0);
    if (e) {
        JetTerm(in);
        return e;
    }
    *out = in;
    return JET_errSuccess;
}

static JET_ERR inst_open(const char *name, const char *d, const struct icfg *c, JET_INSTANCE *out)
{
    return inst_open3(name, d, c, NULL, out);
}

/* Create (or attach to) db and table "t" in a new session. */
static JET_ERR db_open(JET_INSTANCE in, const char *dbp, bool create, JET_SESID *ps, JET_TABLEID *pt)
{
    JET_SESID s;
    JET_DBID d;
    JET_ERR e = JetBeginSession(in, &s, NULL, NULL);
    if (e)
        return e;
    if (create) {
        e = JetCreateDatabase(s, dbp, NULL, &d, 0);
        if (!e)
            e = JetCreateTable(s, d, "t", 0, 0, pt);
    } else {
        e = JetAttachDatabase(s, dbp, 0);
        if (!e)
            e = JetOpenDatabase(s, dbp, NULL, &d, 0);
        if (!e)
            e = JetOpenTable(s, d, "t", NULL, 0, 0, pt);
    }
    if (!e)
        *ps = s;
    return e;
}

/* Recover the instance in d (JetInit), and check its table against the first n transactions —
 * or, when maybe_next, the first n + 1 (a transaction in flight at a crash may have made it).
 * Also checks every page of the file and that its record count matches. */
static void recover_and_check(const char *name, const char *d, const char *dbp, const struct icfg *c, uint32_t n,
                              bool maybe_next)
{
    JET_INSTANCE in;
    JET_SESID s;
    JET_TABLEID t;
    OK(inst_open(name, d, c, &in));
    OK(db_open(in, dbp, false, &s, &t));
    struct model *m = malloc(sizeof *m), *m2 = malloc(sizeof *m2);
    model_upto(m, n);
    model_upto(m2, n + 1);
    char why[256] = "", why2[256] = "";
    int bad = table_equals(s, t, m, why, sizeof why);
    bool took_next = false;
    if (bad && maybe_next) {
        bad = table_equals(s, t, m2, why2, sizeof why2);
        took_next = !bad;
    }
    ck_assert_msg(!bad, "after %u acknowledged commits: %s%s%s", n, why, maybe_next ? " / with the next: " : "",
                  why2);
    OK(JetTerm(in));
    uint64_t np = 0, nt = 0, nr = 0;
    OK(eng_verify_file(dbp, &np, &nt, &nr));
    ck_assert_uint_eq(nt, 1);
    ck_assert_uint_eq(nr, model_count(took_next ? m2 : m));
    free(m);
    free(m2);
}

/* Memory shared with forked children. */
struct shared {
    atomic_uint acked;   /* transactions of the workload acknowledged so far */
    atomic_uint writes;  /* fault hooks: writes seen */
    atomic_int flag;     /* fault hooks: the fault was injected */
    atomic_ullong torn_off;
    atomic_ullong torn_len;
};

static struct shared *shared_new(void)
{
    void *p = mmap(NULL, sizeof(struct shared), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    ck_assert_ptr_ne(p, MAP_FAILED);
    memset(p, 0, sizeof(struct shared));
    return p;
}

static void shared_free(struct shared *sh)
{
    munmap(sh, sizeof *sh);
}

static int wait_child(pid_t pid)
{
    int st = 0;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
        ;
    return st;
}

static bool killed(int st)
{
    return WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL;
}

/* The file a descriptor refers to, for hooks that see only an fd. */
static bool fd_path(int fd, char *out, size_t n)
{
    char p[64];
    snprintf(p, sizeof p, "/proc/self/fd/%d", fd);
    ssize_t k = readlink(p, out, n - 1);
    if (k < 0)
        return false;
    out[k] = 0;
    return true;
}

static bool ends_with(const char *s, const char *suffix)
{
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && !strcmp(s + a - b, suffix);
}

static bool is_log_name(const char *name)
{
    const char *b = strrchr(name, '/');
    b = b ? b + 1 : name;
    return !strncmp(b, "edb", 3) && ends_with(b, ".log");
}

/* The file an operation touches: the path for path operations, else what the fd points at. */
static bool op_file(int fd, const char *path, char *out, size_t n)
{
    if (path) {
        snprintf(out, n, "%s", path);
        return true;
    }
    return fd >= 0 && fd_path(fd, out, n);
}

static int count_logs(const char *d)
{
    DIR *dd = opendir(d);
    ck_assert_ptr_nonnull(dd);
    int n = 0;
    struct dirent *de;
    while ((de = readdir(dd)))
        n += is_log_name(de->d_name);
    closedir(dd);
    return n;
}

static void sleep_us(long us)
{
    struct timespec ts = {us / 1000000, (us % 1000000) * 1000};
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
        ;
}

static struct timespec mtime_of(const char *p)
{
    struct stat st;
    ck_assert_int_eq(stat(p, &st), 0);
    return st.st_mtim;
}

static bool ts_eq(struct timespec a, struct timespec b)
{
    return a.tv_sec == b.tv_sec && a.tv_nsec == b.tv_nsec;
}

/* Copy src to dst in chunks, calling pause() (if any) between them. Returns whether src was
 * modified while the copy ran (its mtime moved). */
static bool copy_file(const char *src, const char *dst, size_t chunk, void (*pause)(void *), void *arg)
{
    int in = open(src, O_RDONLY | O_CLOEXEC);
    ck_assert_int_ge(in, 0);
    int out = open(dst, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    ck_assert_int_ge(out, 0);
    struct timespec m0 = mtime_of(src);
    bool changed = false;
    char *buf = malloc(chunk);
    for (off_t off = 0;; off += (off_t)chunk) {
        ssize_t n = pread(in, buf, chunk, off);
        ck_assert_int_ge(n, 0);
        if (n == 0)
            break;
        ck_assert_int_eq(pwrite(out, buf, (size_t)n, off), n);
        if (pause)
            pause(arg);
        changed = changed || !ts_eq(m0, mtime_of(src));
    }
    free(buf);
    close(in);
    ck_assert_int_eq(fsync(out), 0);
    close(out);
    return changed;
}

/* ---------------------------------------------------------------------------------------------
 * 1. A fuzzy copy recovers
 * ------------------------------------------------------------------------------------------- */
struct writer {
    JET_SESID s;
    JET_TABLEID t;
    atomic_bool stop;
    atomic_uint acked;
    atomic_bool failed;
    JET_ERR err;
    const char *dbp;
    unsigned chunks;
};

/* The pause between two chunks of the database copy: a few more commits, not a fixed time, so
 * the copy overlaps rolls and checkpoints however fast or loaded the machine is. After the first
 * chunk it also waits for a checkpoint to write the file, so the copy is fuzzy for certain. */
static void wait_commits(void *arg)
{
    struct writer *w = arg;
    unsigned target = atomic_load(&w->acked) + 3;
    while (atomic_load(&w->acked) < target && !atomic_load(&w->failed))
        sleep_us(500);
    if (!w->chunks++) {
        struct timespec m0 = mtime_of(w->dbp);
        for (int i = 0; i < 20000 && ts_eq(m0, mtime_of(w->dbp)) && !atomic_load(&w->failed); i++)
            sleep_us(1000);
    }
}

static void *writer_main(void *arg)
{
    struct writer *w = arg;
    struct model *m = malloc(sizeof *m);
    uint8_t *buf = malloc(VAL_MAX);
    model_init(m);
    for (uint32_t i = 0; !atomic_load(&w->stop); i++) {
        JET_ERR e = run_txn(w->s, w->t, m, i, 0, buf);
        if (e) {
            w->err = e;
            atomic_store(&w->failed, true);
            break;
        }
        model_apply(m, i);
        atomic_store(&w->acked, i + 1);
    }
    free(m);
    free(buf);
    return NULL;
}

START_TEST(fuzzy_copy_recovers)
{
    /* Recovery opens databases by the absolute path recorded in the log and edb.chk, so the copy
     * is recovered where the original lived: the original directory is moved aside first (what a
     * restore to the original location does). */
    char *live = subdir("live"), *copy = subdir("copy"), *aside = tu_path(root, "aside");
    char *dbp = tu_path(live, "a.edb");
    /* Small log files and a small cache: rolls and checkpoints keep writing the database file
     * while it is being copied. */
    struct icfg c = {128, 0, 64};
    JET_INSTANCE in;
    struct writer w = {0};
    OK(inst_open("fuzzy", live, &c, &in));
    OK(db_open(in, dbp, true, &w.s, &w.t));
    w.dbp = dbp;
    pthread_t th;
    ck_assert_int_eq(pthread_create(&th, NULL, writer_main, &w), 0);
    /* Start once checkpoints have given the file some pages (bounded wait: a slow machine only
     * makes the writer wait for the checkpoint through the small cache). */
    struct stat st;
    for (int i = 0; i < 20000 && !atomic_load(&w.failed); i++) {
        ck_assert_int_eq(stat(dbp, &st), 0);
        if (atomic_load(&w.acked) >= 60 && st.st_size >= 16 * (off_t)PS)
            break;
        sleep_us(1000);
    }

    char *ckpt = tu_path(live, "edb.chk"), *ckpt2 = tu_path(copy, "edb.chk"), *db2 = tu_path(copy, "a.edb");
    copy_file(ckpt, ckpt2, 1 << 20, NULL, NULL);
    unsigned before = atomic_load(&w.acked);
    bool changed = copy_file(dbp, db2, PS, wait_commits, &w);
    unsigned during = atomic_load(&w.acked) - before;
    atomic_store(&w.stop, true);
    pthread_join(th, NULL);
    ck_assert_int_eq(w.err, 0);
    unsigned n = atomic_load(&w.acked);

    /* Every acknowledged commit is durable in the log by now, so the logs are copied last. */
    DIR *dd = opendir(live);
    ck_assert_ptr_nonnull(dd);
    struct dirent *de;
    int nlogs = 0;
    while ((de = readdir(dd))) {
        if (!is_log_name(de->d_name))
            continue;
        char *s = tu_path(live, de->d_name), *d = tu_path(copy, de->d_name);
        copy_file(s, d, 1 << 20, NULL, NULL);
        nlogs++;
        free(s);
        free(d);
    }
    closedir(dd);
    ck_assert_msg(changed && during > 0, "the copy was not fuzzy: file changed %d, %u commits during it", changed,
                  during);
    ck_assert_int_gt(nlogs, 2);
    fprintf(stderr, "fuzzy_copy_recovers: %u commits, %u during the database copy, %d log files\n", n, during,
            nlogs);
    OK(JetTerm(in));

    ck_assert_int_eq(rename(live, aside), 0);
    ck_assert_int_eq(rename(copy, live), 0);
    recover_and_check("fuzzy2", live, dbp, &c, n, false);
    free(live);
    free(copy);
    free(aside);
    free(dbp);
    free(ckpt);
    free(ckpt2);
    free(db2);
}
END_TEST

/* ---------------------------------------------------------------------------------------------
 * 2. Recovery killed part-way, again and again
 * ------------------------------------------------------------------------------------------- */
#define DIRTY_TXNS 150

/* A child commits the first DIRTY_TXNS transactions durably and exits without JetTerm. The log is
 * large enough that it never rolls, so no checkpoint runs and the whole workload is left for
 * recovery; and two directories prepared this way need the same number of recovery writes. */
static void make_dirty(const char *d, const char *dbp, const struct icfg *c)
{
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        JET_INSTANCE in;
        JET_SESID s;
        JET_TABLEID t;
        struct model m;
        uint8_t *buf = malloc(VAL_MAX);
        CHILD_OK(inst_open("dirty", d, c, &in));
        CHILD_OK(db_open(in, dbp, true, &s, &t));
        model_init(&m);
        for (uint32_t i = 0; i < DIRTY_TXNS; i++) {
            CHILD_OK(run_txn(s, t, &m, i, 0, buf));
            model_apply(&m, i);
        }
        _exit(0);
    }
    int st = wait_child(pid);
    ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "dirty child status %d", st);
}

struct kill_ctx {
    struct shared *sh;
    unsigned kill_at; /* 0: count only */
};

static int kill_hook(void *ctx, enum eng_io_op op, int fd, const char *path, uint64_t off, size_t len)
{
    (void)fd;
    (void)path;
    (void)off;
    (void)len;
    struct kill_ctx *k = ctx;
    if (op != ENG_IO_WRITE)
        return 0;
    unsigned n = atomic_fetch_add(&k->sh->writes, 1) + 1;
    if (k->kill_at && n == k->kill_at)
        raise(SIGKILL); /* before write n: writes 1..n-1 happened */
    return 0;
}

/* Run JetInit on d in a child whose K-th write kills it (count only when K is 0). Returns the
 * child's status; sh->writes holds the writes it got to. */
static int recover_child(const char *d, const struct icfg *c, struct shared *sh, unsigned kill_at)
{
    atomic_store(&sh->writes, 0);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        static struct kill_ctx k;
        k.sh = sh;
        k.kill_at = kill_at;
        JET_INSTANCE in;
        eng_io_set_fault_hook(kill_hook, &k);
        CHILD_OK(inst_open("rec", d, c, &in));
        eng_io_set_fault_hook(NULL, NULL);
        CHILD_OK(JetTerm(in));
        _exit(0);
    }
    return wait_child(pid);
}

START_TEST(killed_recovery_is_idempotent)
{
    struct icfg c = {4096, 0, 0};
    char *md = subdir("measure"), *dd = subdir("data");
    char *mdb = tu_path(md, "a.edb"), *ddb = tu_path(dd, "a.edb");
    struct shared *sh = shared_new();
    make_dirty(md, mdb, &c);
    make_dirty(dd, ddb, &c);

    /* How many writes a whole recovery (and the JetInit around it) makes, on an identical twin. */
    int st = recover_child(md, &c, sh, 0);
    ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "measuring child status %d", st);
    unsigned total = atomic_load(&sh->writes);
    /* Redo writes each page the workload touched once (it applies a page's changes in memory
     * and writes it back when it syncs the file), plus headers and log files: enough distinct
     * kill points for the ones below. */
    ck_assert_uint_ge(total, 30);

    /* Early, middle and late kill points, ascending. A kill after the database header was marked
     * clean, or after the old log was sealed, saves the next run up to 3 writes, so up to
     * total - 4 every run must still be killed; the last points may find recovery finishing. */
    unsigned ks[] = {1, 2, total / 5, total / 2, total * 4 / 5, total - 16, total - 10, total - 6, total - 4,
                     total - 2, total};
    int nkilled = 0;
    for (size_t i = 0; i < sizeof ks / sizeof ks[0]; i++) {
        st = recover_child(dd, &c, sh, ks[i]);
        if (ks[i] <= total - 4)
            ck_assert_msg(killed(st), "K=%u of %u: child status %d", ks[i], total, st);
        else
            ck_assert_msg(killed(st) || (WIFEXITED(st) && WEXITSTATUS(st) == 0), "K=%u: child status %d", ks[i],
                          st);
        nkilled += killed(st);
    }
    fprintf(stderr, "killed_recovery_is_idempotent: %u writes per recovery, %d of %zu runs killed\n", total,
            nkilled, sizeof ks / sizeof ks[0]);
    ck_assert_int_ge(nkilled, 9);
    recover_and_check("final", dd, ddb, &c, DIRTY_TXNS, false);
    shared_free(sh);
    free(md);
    free(dd);
    free(mdb);
    free(ddb);
}
END_TEST

/* ---------------------------------------------------------------------------------------------
 * 3. A torn page write during a checkpoint
 * ------------------------------------------------------------------------------------------- */
struct torn_ctx {
    struct shared *sh;
    atomic_bool armed;
};

static int torn_hook(void *ctx, enum eng_io_op op, int fd, const char *path, uint64_t off, size_t len)
{
    struct torn_ctx *t = ctx;
    char f[4096];
    if (op != ENG_IO_WRITE || !atomic_load(&t->armed) || off < 2 * PS || !op_file(fd, path, f, sizeof f) ||
        !ends_with(f, "/a.edb"))
        return 0;
    if (atomic_exchange(&t->sh->flag, 1))
        return 0;
    /* Tear inside the middle page of the run, right after its checksum: the pages before it are
     * new, it has a new checksum over old contents, the rest stay old. */
    size_t mid = len / PS / 2;
    atomic_store(&t->sh->torn_off, off + mid * PS);
    atomic_store(&t->sh->torn_len, len);
    return (int)(mid * PS + 4);
}

START_TEST(torn_checkpoint_write_is_repaired)
{
    char *d = subdir("torn"), *dbp = tu_path(d, "a.edb");
    struct icfg c = {128, 0, 64};
    struct shared *sh = shared_new();
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        static struct torn_ctx tc;
        tc.sh = sh;
        JET_INSTANCE in;
        JET_SESID s;
        JET_TABLEID t;
        struct model m;
        uint8_t *buf = malloc(VAL_MAX);
        eng_io_set_fault_hook(torn_hook, &tc);
        CHILD_OK(inst_open("torn", d, &c, &in));
        CHILD_OK(db_open(in, dbp, true, &s, &t));
        model_init(&m);
        for (uint32_t i = 0; i < 20000; i++) {
            if (i == 40) /* after a few checkpoints have completed normally */
                atomic_store(&tc.armed, true);
            /* The torn write fails the checkpoint, which makes the instance unavailable: the first
             * failing call tells that the write has happened. */
            if (run_txn(s, t, &m, i, 0, buf)) {
                if (!atomic_load(&sh->flag))
                    _exit(4);
                raise(SIGKILL);
            }
            model_apply(&m, i);
            atomic_store(&sh->acked, i + 1);
        }
        _exit(5);
    }
    int st = wait_child(pid);
    ck_assert_msg(killed(st), "child status %d", st);
    ck_assert_int_eq(atomic_load(&sh->flag), 1);

    /* The tear really reached the file: that page does not verify before recovery. */
    uint64_t off = atomic_load(&sh->torn_off);
    uint8_t *pg = malloc(PS);
    int fd = open(dbp, O_RDONLY | O_CLOEXEC);
    ck_assert_int_ge(fd, 0);
    ssize_t got = pread(fd, pg, PS, (off_t)off);
    ck_assert_int_ge(got, 4); /* a page beyond the old end of the file: only the prefix exists */
    memset(pg + got, 0, PS - (size_t)got);
    close(fd);
    ck_assert_int_ne(eng_page_verify(pg, (uint32_t)(off / PS - 1), PS), 0);
    free(pg);

    recover_and_check("torn2", d, dbp, &c, atomic_load(&sh->acked), false);
    shared_free(sh);
    free(d);
    free(dbp);
}
END_TEST

/* Small commits log diffs (ENG_LR_PAGEDIFF), and a crash after many of them, across several
 * log rolls and the checkpoints they start, recovers every one. */
START_TEST(small_commits_log_diffs)
{
    char *d = subdir("diffs"), *dbp = tu_path(d, "a.edb");
    /* Generations of 512 KB: every log roll starts a checkpoint, after which a page's next change
     * is logged whole again, so with tiny generations nearly every change would be whole. */
    struct icfg c = {512, 0, 0};
    JET_INSTANCE in;
    JET_SESID s;
    JET_TABLEID t;
    struct model m;
    uint8_t *buf = malloc(VAL_MAX);
    OK(inst_open("diffs", d, &c, &in));
    OK(db_open(in, dbp, true, &s, &t));
    model_init(&m);
    const uint32_t n = 4000;
    for (uint32_t i = 0; i < n; i++) {
        OK(run_txn(s, t, &m, i, 0, buf));
        model_apply(&m, i);
    }
    ck_assert_int_eq(JetTerm2(in, JET_bitTermDirty), JET_errDirtyShutdown);
    free(buf);

    eng_log_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.dir = d;
    memcpy(cfg.base, "edb", 4);
    eng_logscan *sc = NULL;
    ck_assert_int_eq(logscan_open(&cfg, ENG_LSN(1, 0), &sc), 0);
    eng_logrec_view v;
    uint64_t whole = 0, diffs = 0, commits = 0, diff_bytes = 0;
    uint32_t last_gen = 0;
    while (logscan_next(sc, &v) == 0) {
        whole += v.type == ENG_LR_PAGE;
        diffs += v.type == ENG_LR_PAGEDIFF;
        commits += v.type == ENG_LR_COMMIT;
        if (v.type == ENG_LR_PAGEDIFF)
            diff_bytes += v.len;
        last_gen = ENG_LSN_GEN(v.lsn);
    }
    logscan_close(sc);
    fprintf(stderr, "small_commits_log_diffs: %llu commits, %llu whole pages, %llu diffs (%.0f bytes each), %u generations\n",
            (unsigned long long)commits, (unsigned long long)whole, (unsigned long long)diffs,
            diffs ? (double)diff_bytes / (double)diffs : 0.0, last_gen);
    ck_assert_uint_ge(commits, n);
    /* The workload puts random keys, so after each checkpoint most pages are logged whole once
     * more; what is left still has to be many diffs. */
    ck_assert_uint_ge(diffs, commits / 4);
    ck_assert_uint_lt(diff_bytes / diffs, PS / 4);
    ck_assert_uint_ge(last_gen, 3); /* the log rolled, so checkpoints ran in between */

    recover_and_check("diffs2", d, dbp, &c, n, false);
    free(d);
    free(dbp);
}
END_TEST

/* ---------------------------------------------------------------------------------------------
 * 4. Disk full
 * ------------------------------------------------------------------------------------------- */
enum target { T_DB, T_LOG };

struct nospace_ctx {
    atomic_bool armed;
    enum target target;
    enum eng_io_op op1, op2;
    int err;
    atomic_int hits;
};
static struct nospace_ctx nsc;

static int nospace_hook(void *ctx, enum eng_io_op op, int fd, const char *path, uint64_t off, size_t len)
{
    (void)off;
    (void)len;
    struct nospace_ctx *n = ctx;
    char f[4096];
    if (!atomic_load(&n->armed) || (op != n->op1 && op != n->op2) || !op_file(fd, path, f, sizeof f))
        return 0;
    bool hit = n->target == T_DB ? ends_with(f, ".edb") : is_log_name(f);
    if (!hit)
        return 0;
    atomic_fetch_add(&n->hits, 1);
    return n->err;
}

static void arm(enum target t, enum eng_io_op op1, enum eng_io_op op2, int err)
{
    nsc.target = t;
    nsc.op1 = op1;
    nsc.op2 = op2;
    nsc.err = err;
    atomic_store(&nsc.hits, 0);
    eng_io_set_fault_hook(nospace_hook, &nsc);
    atomic_store(&nsc.armed, true);
}

/* Commits until one fails; returns the error and leaves *n at the number acknowledged. */
static JET_ERR commit_until_error(JET_SESID s, JET_TABLEID t, struct model *m, uint32_t *n, uint32_t limit)
{
    uint8_t *buf = malloc(VAL_MAX);
    JET_ERR e = JET_errSuccess;
    while (*n < limit && !(e = run_txn(s, t, m, *n, 0, buf))) {
        model_apply(m, *n);
        (*n)++;
    }
    free(buf);
    return e;
}

START_TEST(database_disk_full)
{
    char *d = subdir("dbfull"), *dbp = tu_path(d, "a.edb"), *dbb = tu_path(d, "b.edb");
    struct icfg c = {128, 0, 64};
    JET_INSTANCE in;
    JET_SESID s;
    JET_TABLEID t;
    struct model m;
    model_init(&m);
    uint32_t n = 0;
    OK(inst_open("dbfull", d, &c, &in));
    JET_DBID d2;
    OK(JetBeginSession(in, &s, NULL, NULL));
    /* A new database cannot even get its header: the documented JET_errDiskFull, and the instance
     * stays usable. (Done before any commit, while the checkpoint thread is idle: a checkpoint that
     * runs during the failed create records the half-made database in edb.chk and the next JetInit
     * fails with JET_errDatabaseCorrupted — an engine bug reported separately, not tested here.) */
    arm(T_DB, ENG_IO_WRITE, ENG_IO_ALLOCATE, -ENOSPC);
    ck_assert_int_eq(JetCreateDatabase(s, dbb, NULL, &d2, 0), JET_errDiskFull);
    atomic_store(&nsc.armed, false);
    OK(JetEndSession(s, 0));
    OK(db_open(in, dbp, true, &s, &t));
    ck_assert_int_eq(commit_until_error(s, t, &m, &n, 40), 0);

    /* The log is unaffected, so commits go on until a checkpoint fails to write a page; from then
     * the database and then the instance refuse every update with the cause, JET_errDiskFull. */
    arm(T_DB, ENG_IO_WRITE, ENG_IO_ALLOCATE, -ENOSPC);
    JET_ERR e = commit_until_error(s, t, &m, &n, 5000);
    ck_assert_msg(e == JET_errDiskFull, "commit gave %ld", e);
    ck_assert_int_gt(atomic_load(&nsc.hits), 0);
    uint8_t *buf = malloc(VAL_MAX);
    for (uint32_t i = 0; i < 3; i++) {
        e = run_txn(s, t, &m, n, 0, buf);
        ck_assert_msg(e == JET_errDiskFull, "retry gave %ld", e);
    }
    free(buf);
    OK(JetTerm(in));
    atomic_store(&nsc.armed, false);
    eng_io_set_fault_hook(NULL, NULL);
    recover_and_check("dbfull2", d, dbp, &c, n, false);
    free(d);
    free(dbp);
    free(dbb);
}
END_TEST

/* A log fault that makes commits fail; afterwards exactly the acknowledged commits must be there
 * (or, when the failed commit may have reached the log, possibly that one too). */
static void log_fault_case(const char *name, enum eng_io_op op1, enum eng_io_op op2, int err, JET_ERR want,
                           bool failed_may_exist)
{
    char *d = subdir(name), *dbp = tu_path(d, "a.edb");
    struct icfg c = {128, 0, 0};
    JET_INSTANCE in;
    JET_SESID s;
    JET_TABLEID t;
    struct model m;
    model_init(&m);
    uint32_t n = 0;
    OK(inst_open(name, d, &c, &in));
    OK(db_open(in, dbp, true, &s, &t));
    ck_assert_int_eq(commit_until_error(s, t, &m, &n, 30), 0);
    arm(T_LOG, op1, op2, err);
    uint8_t *buf = malloc(VAL_MAX);
    ck_assert_int_eq(run_txn(s, t, &m, n, 0, buf), want);
    ck_assert_int_gt(atomic_load(&nsc.hits), 0);
    /* The failure is sticky: the instance stays unavailable, even for reads. */
    for (uint32_t i = 1; i <= 3; i++)
        ck_assert_int_eq(run_txn(s, t, &m, n + i, 0, buf), JET_errInstanceUnavailable);
    ck_assert_int_eq(JetGetRecord(s, t, "k0000", 5, buf, VAL_MAX, NULL, 0), JET_errInstanceUnavailable);
    free(buf);
    OK(JetTerm(in));
    atomic_store(&nsc.armed, false);
    eng_io_set_fault_hook(NULL, NULL);
    recover_and_check("again", d, dbp, &c, n, failed_may_exist);
    free(d);
    free(dbp);
}

START_TEST(log_disk_full)
{
    /* Nothing of the failed commit reached the log, so it must be absent. */
    log_fault_case("logfull", ENG_IO_WRITE, ENG_IO_ALLOCATE, -ENOSPC, JET_errLogDiskFull, false);
}
END_TEST

/* ---------------------------------------------------------------------------------------------
 * 5. fsync failure of the log
 * ------------------------------------------------------------------------------------------- */
START_TEST(log_fsync_failure)
{
    /* The failed commit's records were written, only not synced: whether it survives is open, but
     * it must not have been reported as a success. */
    log_fault_case("logsync", ENG_IO_SYNC, ENG_IO_SYNC, -EIO, JET_errLogWriteFail, true);
}
END_TEST

/* ---------------------------------------------------------------------------------------------
 * 6. Circular logging
 * ------------------------------------------------------------------------------------------- */
#define CIRC_TXNS 400
#define CIRC_SETTLED 4 /* edb.log, edbtmp.log, and the generation or two a checkpoint may need */

/* Wait (at most 10 s, no commits meanwhile) for the checkpoint to catch up; the file count then. */
static int settled_logs(const char *d)
{
    int k = count_logs(d);
    for (int i = 0; i < 10000 && k > CIRC_SETTLED; i++) {
        sleep_us(1000);
        k = count_logs(d);
    }
    return k;
}

/* Runs CIRC_TXNS commits in d. With circular logging it lets the checkpoint catch up every 40
 * commits and returns the largest settled count; *at_end is the count after the last commit. */
static void circular_run(const char *name, const char *d, unsigned circular, int *settled_max, int *at_end)
{
    char *dbp = tu_path(d, "a.edb");
    struct icfg c = {128, circular, 0};
    JET_INSTANCE in;
    JET_SESID s;
    JET_TABLEID t;
    struct model m;
    model_init(&m);
    uint8_t *buf = malloc(VAL_MAX);
    OK(inst_open(name, d, &c, &in));
    OK(db_open(in, dbp, true, &s, &t));
    *settled_max = 0;
    for (uint32_t i = 0; i < CIRC_TXNS; i++) {
        OK(run_txn(s, t, &m, i, 0, buf));
        model_apply(&m, i);
        if (circular && i % 40 == 39) {
            int k = settled_logs(d);
            *settled_max = k > *settled_max ? k : *settled_max;
        }
    }
    *at_end = count_logs(d);
    OK(JetTerm(in));
    free(buf);
    recover_and_check(name, d, dbp, &c, CIRC_TXNS, false);
    free(dbp);
}

START_TEST(circular_log_is_bounded)
{
    /* How many generations pile up between two checkpoints depends on the machine's speed, so
     * the bound is checked once the checkpoint has caught up: circular logging must then be back
     * to a handful of files every time, while the plain log keeps every generation (about 20). */
    char *dc = subdir("circ"), *dp = subdir("plain");
    int cmax = 0, cend = 0, pmax = 0, pend = 0;
    circular_run("circ", dc, 1, &cmax, &cend);
    circular_run("plain", dp, 0, &pmax, &pend);
    fprintf(stderr, "circular_log_is_bounded: circular at most %d log files once settled (%d at the end), plain %d\n",
            cmax, cend, pend);
    ck_assert_msg(cmax <= CIRC_SETTLED, "circular logging kept %d log files", cmax);
    ck_assert_msg(pend >= 4 * CIRC_SETTLED, "plain logging has only %d log files", pend);
    free(dc);
    free(dp);
}
END_TEST

START_TEST(circular_log_crash_recovers)
{
    char *d = subdir("circcrash"), *dbp = tu_path(d, "a.edb");
    struct icfg c = {128, 1, 0};
    struct shared *sh = shared_new();
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        JET_INSTANCE in;
        JET_SESID s;
        JET_TABLEID t;
        struct model m;
        uint8_t *buf = malloc(VAL_MAX);
        CHILD_OK(inst_open("circ", d, &c, &in));
        CHILD_OK(db_open(in, dbp, true, &s, &t));
        model_init(&m);
        for (uint32_t i = 0;; i++) {
            CHILD_OK(run_txn(s, t, &m, i, 0, buf));
            model_apply(&m, i);
            atomic_store(&sh->acked, i + 1);
        }
    }
    /* Kill it well after the first generations have been deleted (bounded wait: the child keeps
     * committing, so rolls keep asking for checkpoints). */
    char *first = tu_path(d, "edb00001.log");
    for (int i = 0; i < 20000 && (atomic_load(&sh->acked) < 300 || access(first, F_OK) == 0); i++)
        sleep_us(1000);
    kill(pid, SIGKILL);
    int st = wait_child(pid);
    ck_assert_msg(killed(st), "child status %d", st);
    ck_assert_int_ne(access(first, F_OK), 0);
    free(first);
    recover_and_check("circ2", d, dbp, &c, atomic_load(&sh->acked), true);
    /* JetInit deletes, with circular logging, everything before its new generation. */
    ck_assert_int_le(count_logs(d), CIRC_SETTLED);
    shared_free(sh);
    free(d);
    free(dbp);
}
END_TEST

/* ---------------------------------------------------------------------------------------------
 * 7. Many threads
 * ------------------------------------------------------------------------------------------- */
#define NWRITERS 8
#define NREADERS 2
#define WCOMMITS 100

struct mt {
    JET_INSTANCE in;
    const char *dbp;
    atomic_int writers_left;
    atomic_uint acked[NWRITERS];
    atomic_int violations;
    atomic_ulong scans;
    char why[256];
    pthread_mutex_t mu;
};

struct mt_arg {
    struct mt *mt;
    int id;
};

static void mt_fail(struct mt *mt, const char *fmt, long a, long b)
{
    pthread_mutex_lock(&mt->mu);
    if (!atomic_fetch_add(&mt->violations, 1))
        snprintf(mt->why, sizeof mt->why, fmt, a, b);
    pthread_mutex_unlock(&mt->mu);
}

static JET_ERR mt_session(struct mt *mt, JET_SESID *s, JET_TABLEID *t)
{
    JET_DBID d;
    JET_ERR e = JetBeginSession(mt->in, s, NULL, NULL);
    if (!e)
        e = JetOpenDatabase(*s, mt->dbp, NULL, &d, 0);
    if (!e)
        e = JetOpenTable(*s, d, "t", NULL, 0, 0, t);
    return e;
}

/* Writer w: transaction n inserts record "r<w>-<n>" and sets counter "c<w>" to n, together.
 * Every fourth step it also makes a transaction it rolls back, which readers must never see. */
static void *mt_writer(void *arg)
{
    struct mt_arg *a = arg;
    struct mt *mt = a->mt;
    JET_SESID s;
    JET_TABLEID t;
    JET_ERR e = mt_session(mt, &s, &t);
    char ck[16], rk[16], v[32];
    snprintf(ck, sizeof ck, "c%d", a->id);
    for (unsigned n = 1; !e && n <= WCOMMITS;) {
        if (n % 4 == 0) {
            snprintf(rk, sizeof rk, "r%d-rolledback", a->id);
            e = JetBeginTransaction(s);
            if (!e)
                e = JetPutRecord(s, t, rk, (unsigned long)strlen(rk), "ROLLEDBACK", 10, 0);
            if (!e)
                e = JetPutRecord(s, t, ck, (unsigned long)strlen(ck), "999999", 6, 0);
            JET_ERR r = JetRollback(s, 0);
            if (e == JET_errWriteConflict)
                e = JET_errSuccess; /* another writer held the database too long: try again */
            if (!e)
                e = r;
            if (e)
                break;
        }
        snprintf(rk, sizeof rk, "r%d-%06u", a->id, n);
        snprintf(v, sizeof v, "%06u", n);
        e = JetBeginTransaction(s);
        if (!e)
            e = JetPutRecord(s, t, rk, (unsigned long)strlen(rk), v, 6, JET_bitPutNoOverwrite);
        if (!e)
            e = JetPutRecord(s, t, ck, (unsigned long)strlen(ck), v, 6, 0);
        if (!e)
            e = JetCommitTransaction(s, 0);
        if (e == JET_errWriteConflict) {
            e = JetRollback(s, JET_bitRollbackAll);
            continue;
        }
        if (!e)
            atomic_store(&mt->acked[a->id], n++);
    }
    if (e)
        mt_fail(mt, "writer %ld failed with %ld", a->id, e);
    JetEndSession(s, 0);
    atomic_fetch_sub(&mt->writers_left, 1);
    return NULL;
}

static void *mt_reader(void *arg)
{
    struct mt_arg *a = arg;
    struct mt *mt = a->mt;
    JET_SESID s;
    JET_TABLEID t;
    JET_ERR e = mt_session(mt, &s, &t);
    if (e)
        mt_fail(mt, "reader %ld: session failed with %ld", a->id, e);
    long seen[NWRITERS] = {0};
    bool last_round = false;
    while (!e && !last_round) {
        last_round = atomic_load(&mt->writers_left) == 0; /* one full pass after the writers end */
        /* A counter never goes back, and the record committed with it is always there. */
        for (int w = 0; w < NWRITERS; w++) {
            char ck[16], rk[16], v[16];
            unsigned long got = 0;
            snprintf(ck, sizeof ck, "c%d", w);
            JET_ERR g = JetGetRecord(s, t, ck, (unsigned long)strlen(ck), v, sizeof v - 1, &got, 0);
            if (g == JET_errRecordNotFound)
                continue;
            if (g || got != 6) {
                mt_fail(mt, "counter read failed: %ld (length %ld)", g, (long)got);
                continue;
            }
            v[6] = 0;
            long n = atol(v);
            if (n > WCOMMITS || n < seen[w])
                mt_fail(mt, "counter went to %ld after %ld", n, seen[w]);
            seen[w] = n;
            snprintf(rk, sizeof rk, "r%d-%06ld", w, n);
            if (JetGetRecord(s, t, rk, (unsigned long)strlen(rk), v, sizeof v - 1, &got, 0) != JET_errSuccess)
                mt_fail(mt, "writer %ld: counter %ld visible without its record", w, n);
        }
        /* A full scan meets no rolled-back record. */
        JET_ERR m = JetMove(s, t, JET_MoveFirst, 0);
        while (m == JET_errSuccess) {
            char k[32], v[16];
            unsigned long kl = 0, vl = 0;
            if (JetRetrieveKey(s, t, k, sizeof k - 1, &kl, 0) || JetRetrieveRecord(s, t, v, sizeof v - 1, &vl, 0)) {
                mt_fail(mt, "scan: retrieve failed (%ld, %ld)", 0, 0);
                break;
            }
            k[kl < sizeof k ? kl : sizeof k - 1] = 0;
            v[vl < sizeof v ? vl : sizeof v - 1] = 0;
            if (strstr(k, "rolledback") || !strcmp(v, "999999"))
                mt_fail(mt, "scan saw rolled-back data (%ld, %ld)", (long)kl, (long)vl);
            m = JetMove(s, t, JET_MoveNext, 0);
        }
        if (m != JET_errNoCurrentRecord && m != JET_errSuccess)
            mt_fail(mt, "scan ended with %ld (%ld)", m, 0);
        atomic_fetch_add(&mt->scans, 1);
    }
    JetEndSession(s, 0);
    return NULL;
}

START_TEST(many_threads_commit_and_read)
{
    char *d = subdir("mt"), *dbp = tu_path(d, "a.edb");
    struct icfg c = {1024, 0, 0};
    struct mt mt;
    memset(&mt, 0, sizeof mt);
    pthread_mutex_init(&mt.mu, NULL);
    mt.dbp = dbp;
    JET_SESID s;
    JET_TABLEID t;
    OK(inst_open("mt", d, &c, &mt.in));
    OK(db_open(mt.in, dbp, true, &s, &t));
    atomic_store(&mt.writers_left, NWRITERS);
    pthread_t th[NWRITERS + NREADERS];
    struct mt_arg args[NWRITERS + NREADERS];
    for (int i = 0; i < NWRITERS + NREADERS; i++) {
        args[i].mt = &mt;
        args[i].id = i < NWRITERS ? i : i - NWRITERS;
        ck_assert_int_eq(pthread_create(&th[i], NULL, i < NWRITERS ? mt_writer : mt_reader, &args[i]), 0);
    }
    for (int i = 0; i < NWRITERS + NREADERS; i++)
        pthread_join(th[i], NULL);
    ck_assert_msg(atomic_load(&mt.violations) == 0, "%d violations, first: %s", atomic_load(&mt.violations),
                  mt.why);
    ck_assert_uint_ge(atomic_load(&mt.scans), 2);
    for (int w = 0; w < NWRITERS; w++)
        ck_assert_uint_eq(atomic_load(&mt.acked[w]), WCOMMITS);
    OK(JetTerm(mt.in));

    /* After a restart every acknowledged commit is there, and nothing rolled back. */
    OK(inst_open("mt2", d, &c, &mt.in));
    OK(db_open(mt.in, dbp, false, &s, &t));
    for (int w = 0; w < NWRITERS; w++) {
        char k[32], v[16];
        unsigned long got = 0;
        snprintf(k, sizeof k, "c%d", w);
        OK(JetGetRecord(s, t, k, (unsigned long)strlen(k), v, sizeof v, &got, 0));
        ck_assert_int_eq(got, 6);
        ck_assert_mem_eq(v, "000100", 6);
        for (unsigned n = 1; n <= WCOMMITS; n++) {
            snprintf(k, sizeof k, "r%d-%06u", w, n);
            OK(JetGetRecord(s, t, k, (unsigned long)strlen(k), v, sizeof v, &got, 0));
        }
        snprintf(k, sizeof k, "r%d-rolledback", w);
        ck_assert_int_eq(JetGetRecord(s, t, k, (unsigned long)strlen(k), v, sizeof v, &got, 0),
                         JET_errRecordNotFound);
    }
    OK(JetTerm(mt.in));
    uint64_t np = 0, nt = 0, nr = 0;
    OK(eng_verify_file(dbp, &np, &nt, &nr));
    ck_assert_uint_eq(nr, NWRITERS * (WCOMMITS + 1));
    pthread_mutex_destroy(&mt.mu);
    free(d);
    free(dbp);
}
END_TEST

/* ---------------------------------------------------------------------------------------------
 * 8. Lazy commits
 * ------------------------------------------------------------------------------------------- */
START_TEST(lazy_commits_become_durable)
{
    char *d = subdir("lazy"), *dbp = tu_path(d, "a.edb");
    struct icfg c = {256, 0, 0};
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        JET_INSTANCE in;
        JET_SESID s;
        JET_TABLEID t;
        struct model m;
        uint8_t *buf = malloc(VAL_MAX);
        CHILD_OK(inst_open("lazy", d, &c, &in));
        CHILD_OK(db_open(in, dbp, true, &s, &t));
        model_init(&m);
        uint32_t i = 0;
        /* Lazy commits, then one durable commit that carries them to disk... */
        for (; i < 20; i++) {
            CHILD_OK(run_txn(s, t, &m, i, JET_bitCommitLazyFlush, buf));
            model_apply(&m, i);
        }
        CHILD_OK(run_txn(s, t, &m, i, 0, buf));
        model_apply(&m, i++);
        /* ...and more lazy ones, made durable by asking to wait for the session's last commit. */
        for (; i < 30; i++) {
            CHILD_OK(run_txn(s, t, &m, i, JET_bitCommitLazyFlush, buf));
            model_apply(&m, i);
        }
        CHILD_OK(JetCommitTransaction(s, JET_bitWaitLastLevel0Commit));
        raise(SIGKILL);
        _exit(6);
    }
    int st = wait_child(pid);
    ck_assert_msg(killed(st), "child status %d", st);
    recover_and_check("lazy2", d, dbp, &c, 30, false);
    free(d);
    free(dbp);
}
END_TEST

/* ---------------------------------------------------------------------------------------------
 * 9. Damaged logs and checkpoints are refused, not read as a torn tail; live logs are locked
 * ------------------------------------------------------------------------------------------- */

/* Every file of a directory with its contents, to prove that a refused JetInit changed nothing. */
struct dirsnap {
    int n;
    char name[64][256];
    uint8_t *data[64];
    long long size[64];
};

/* The whole file at p (and its size). */
static uint8_t *slurp(const char *p, size_t *n)
{
    struct stat st;
    ck_assert_int_eq(stat(p, &st), 0);
    uint8_t *b = malloc((size_t)st.st_size + 1);
    int fd = open(p, O_RDONLY);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(pread(fd, b, (size_t)st.st_size, 0), st.st_size);
    close(fd);
    *n = (size_t)st.st_size;
    return b;
}

static void snap_take(struct dirsnap *sn, const char *d)
{
    memset(sn, 0, sizeof *sn);
    DIR *dh = opendir(d);
    ck_assert_ptr_nonnull(dh);
    struct dirent *de;
    while ((de = readdir(dh))) {
        if (de->d_name[0] == '.')
            continue;
        ck_assert_int_lt(sn->n, 64);
        int i = sn->n++;
        snprintf(sn->name[i], sizeof sn->name[i], "%s", de->d_name);
        char *p = tu_path(d, de->d_name);
        size_t n;
        sn->data[i] = slurp(p, &n);
        sn->size[i] = (long long)n;
        free(p);
    }
    closedir(dh);
}

static void snap_expect_same(struct dirsnap *sn, const char *d)
{
    struct dirsnap now;
    snap_take(&now, d);
    ck_assert_msg(now.n == sn->n, "%s: %d files, were %d", d, now.n, sn->n);
    for (int i = 0; i < sn->n; i++) {
        int j = 0;
        while (j < now.n && strcmp(now.name[j], sn->name[i]))
            j++;
        ck_assert_msg(j < now.n, "%s disappeared", sn->name[i]);
        ck_assert_msg(now.size[j] == sn->size[i] && !memcmp(now.data[j], sn->data[i], (size_t)sn->size[i]),
                      "%s was changed", sn->name[i]);
    }
    for (int i = 0; i < now.n; i++)
        free(now.data[i]);
}

static void snap_free(struct dirsnap *sn)
{
    for (int i = 0; i < sn->n; i++)
        free(sn->data[i]);
}

static char last_event[1024];
static int n_events;

static void grab_event(void *ctx, JET_INSTANCE inst, const char *name, int level, long id, const char *msg)
{
    (void)ctx, (void)inst, (void)name, (void)id;
    if (level == 1) {
        snprintf(last_event, sizeof last_event, "%s", msg);
        n_events++;
    }
}

/* A crashed instance (dirty term) with n committed transactions in d. */
static void crashed_instance(const char *d, const char *dbp, const struct icfg *c, uint32_t n)
{
    JET_INSTANCE in;
    JET_SESID s;
    JET_TABLEID t;
    struct model m;
    uint8_t *buf = malloc(VAL_MAX);
    OK(inst_open("crashed", d, c, &in));
    OK(db_open(in, dbp, true, &s, &t));
    model_init(&m);
    for (uint32_t i = 0; i < n; i++) {
        OK(run_txn(s, t, &m, i, 0, buf));
        model_apply(&m, i);
    }
    ck_assert_int_eq(JetTerm2(in, JET_bitTermDirty), JET_errDirtyShutdown);
    free(buf);
}

/* The records of the current log generation in d: LSN and length of each. */
static int current_records(const char *d, eng_lsn *lsn, size_t *len, int max)
{
    eng_log_config lc;
    memset(&lc, 0, sizeof lc);
    lc.dir = d;
    memcpy(lc.base, "edb", 4);
    uint32_t lo, hi, cur;
    ck_assert_int_eq(log_list(&lc, &lo, &hi, &cur), 0);
    ck_assert_uint_gt(cur, 0);
    eng_logscan *sc;
    ck_assert_int_eq(logscan_open(&lc, ENG_LSN(cur, 0), &sc), 0);
    eng_logrec_view v;
    int n = 0;
    while (n < max && logscan_next(sc, &v) == 0) {
        lsn[n] = v.lsn;
        len[n++] = v.len;
    }
    logscan_close(sc);
    return n;
}

static void flip_bit(const char *path, uint64_t off)
{
    int fd = open(path, O_RDWR);
    ck_assert_int_ge(fd, 0);
    uint8_t b;
    ck_assert_int_eq(pread(fd, &b, 1, (off_t)off), 1);
    b ^= 0x10;
    ck_assert_int_eq(pwrite(fd, &b, 1, (off_t)off), 1);
    close(fd);
}

START_TEST(damaged_current_log_is_refused)
{
    char *d = subdir("dmg"), *dbp = tu_path(d, "a.edb"), *cur = tu_path(d, "edb.log");
    struct icfg c = {1024, 0, 0};
    crashed_instance(d, dbp, &c, 60);
    eng_lsn lsn[4096];
    size_t len[4096];
    int n = current_records(d, lsn, len, 4096);
    ck_assert_int_gt(n, 20);
    /* A small record in the middle, many intact ones behind it: one bit of it flipped. */
    int k = n / 2;
    while (k < n - 5 && len[k] > 256)
        k++;
    ck_assert_int_lt(k, n - 5);
    uint64_t at = ENG_LSN_OFF(lsn[k]);
    flip_bit(cur, at + 16 + len[k] / 2);
    struct dirsnap sn;
    snap_take(&sn, d);
    JetSetEventCallback(grab_event, NULL);
    n_events = 0;
    JET_INSTANCE in;
    ck_assert_int_eq(inst_open("dmg2", d, &c, &in), JET_errLogFileCorrupt);
    snap_expect_same(&sn, d); /* no seal, no zeroing, no archive, no new generation */
    ck_assert_int_gt(n_events, 0);
    char want[64];
    snprintf(want, sizeof want, "offset %llu", (unsigned long long)at);
    ck_assert_msg(strstr(last_event, "edb.log") && strstr(last_event, want), "event: %s", last_event);
    snap_free(&sn);
    flip_bit(cur, at + 16 + len[k] / 2);

    /* One bit of a whole page image (which has zero sectors of its own, as a torn write would). */
    int g = n / 2;
    while (g < n - 5 && len[g] < 4096)
        g++;
    ck_assert_int_lt(g, n - 5);
    uint64_t gat = ENG_LSN_OFF(lsn[g]);
    flip_bit(cur, gat + 16 + len[g] / 3);
    snap_take(&sn, d);
    n_events = 0;
    ck_assert_int_eq(inst_open("dmg2b", d, &c, &in), JET_errLogFileCorrupt);
    snap_expect_same(&sn, d);
    snprintf(want, sizeof want, "offset %llu", (unsigned long long)gat);
    ck_assert_msg(n_events > 0 && strstr(last_event, want), "event: %s", last_event);
    snap_free(&sn);
    flip_bit(cur, gat + 16 + len[g] / 3);

    /* edb.log cut short (it is allocated whole, so no crash does that). */
    struct stat st;
    ck_assert_int_eq(stat(cur, &st), 0);
    uint8_t *tail = malloc((size_t)st.st_size / 2);
    int fd = open(cur, O_RDONLY);
    ck_assert_int_eq(pread(fd, tail, (size_t)st.st_size / 2, st.st_size / 2), st.st_size / 2);
    close(fd);
    ck_assert_int_eq(truncate(cur, st.st_size / 2), 0);
    snap_take(&sn, d);
    n_events = 0;
    ck_assert_int_eq(inst_open("dmg3", d, &c, &in), JET_errLogFileCorrupt);
    snap_expect_same(&sn, d);
    ck_assert_msg(n_events > 0 && strstr(last_event, "edb.log"), "event: %s", last_event);
    snap_free(&sn);
    JetSetEventCallback(NULL, NULL);

    /* Repaired, the log recovers every commit. */
    fd = open(cur, O_WRONLY);
    ck_assert_int_eq(pwrite(fd, tail, (size_t)st.st_size / 2, st.st_size / 2), st.st_size / 2);
    close(fd);
    free(tail);
    recover_and_check("dmg4", d, dbp, &c, 60, false);
    free(d);
    free(dbp);
    free(cur);
}
END_TEST

/* Rewrite both copies of edb.chk with another log position, checksums right. */
static void ckpt_set_lsn(const char *ckpt, eng_lsn lsn)
{
    int fd = open(ckpt, O_RDWR);
    ck_assert_int_ge(fd, 0);
    uint8_t b[4096];
    ck_assert_int_ge(pread(fd, b, sizeof b, 0), 56);
    uint32_t l;
    memcpy(&l, b + 16, 4);
    ck_assert_uint_le(l, sizeof b);
    memcpy(b + 48, &lsn, 8);
    uint32_t crc = eng_crc32c(0, b + 4, l - 4);
    memcpy(b, &crc, 4);
    ck_assert_int_eq(pwrite(fd, b, l, 0), (ssize_t)l);
    ck_assert_int_eq(pwrite(fd, b, l, 256 * 1024), (ssize_t)l);
    close(fd);
}

static eng_lsn ckpt_lsn(const char *ckpt)
{
    int fd = open(ckpt, O_RDONLY);
    eng_lsn l = 0;
    ck_assert_int_eq(pread(fd, &l, 8, 48), 8);
    close(fd);
    return l;
}

START_TEST(checkpoint_off_the_log_is_refused)
{
    char *d = subdir("chk"), *dbp = tu_path(d, "a.edb"), *ckpt = tu_path(d, "edb.chk");
    struct icfg c = {1024, 0, 0};
    crashed_instance(d, dbp, &c, 40);
    eng_lsn lsn[4096];
    size_t len[4096];
    int n = current_records(d, lsn, len, 4096);
    ck_assert_int_gt(n, 10);
    eng_lsn orig = ckpt_lsn(ckpt);
    ck_assert_uint_le(orig, lsn[0]);
    JetSetEventCallback(grab_event, NULL);
    JET_INSTANCE in;
    /* Into the middle of a record, and past the end of the log. */
    eng_lsn bad[] = {lsn[n / 2] + 8, lsn[n - 1] + 16 + len[n - 1] + 64};
    for (int i = 0; i < 2; i++) {
        ckpt_set_lsn(ckpt, bad[i]);
        struct dirsnap sn;
        snap_take(&sn, d);
        n_events = 0;
        ck_assert_int_eq(inst_open("chk2", d, &c, &in), JET_errCheckpointCorrupt);
        snap_expect_same(&sn, d);
        ck_assert_msg(n_events > 0 && strstr(last_event, "edb.chk"), "event: %s", last_event);
        snap_free(&sn);
    }
    JetSetEventCallback(NULL, NULL);
    ckpt_set_lsn(ckpt, orig);
    recover_and_check("chk3", d, dbp, &c, 40, false);
    free(d);
    free(dbp);
    free(ckpt);
}
END_TEST

START_TEST(create_database_over_live_logs_is_refused)
{
    char *da = subdir("la"), *db = subdir("lb"), *dbp = tu_path(da, "a.edb"), *dbq = tu_path(db, "b.edb");
    struct icfg c = {64, 0, 0}; /* small generations: archived ones appear quickly */
    JET_INSTANCE a, b;
    JET_SESID sa, sb;
    JET_TABLEID ta, tb;
    OK(inst_open("live-a", da, &c, &a));
    OK(inst_open("live-b", db, &c, &b));
    OK(db_open(a, dbp, true, &sa, &ta));
    OK(db_open(b, dbq, true, &sb, &tb));
    struct model m;
    model_init(&m);
    uint8_t *buf = malloc(VAL_MAX);
    for (uint32_t i = 0; i < 40; i++) {
        OK(run_txn(sa, ta, &m, i, 0, buf));
        model_apply(&m, i);
    }
    free(buf);
    const char *names[] = {"edb.log", "edb00001.log", "edbtmp.log", "edb.chk"};
    for (int i = 0; i < 4; i++) {
        char *p = tu_path(da, names[i]);
        struct stat st0, st1;
        ck_assert_int_eq(stat(p, &st0), 0);
        JET_SESID who[] = {sb, sa}; /* another instance, and the instance itself */
        for (int w = 0; w < 2; w++) {
            JET_DBID id;
            JET_ERR e = JetCreateDatabase(who[w], p, NULL, &id, JET_bitDbOverwriteExisting);
            ck_assert_msg(e == JET_errFileAccessDenied, "JetCreateDatabase over %s: %ld", names[i], e);
            ck_assert_int_eq(JetCreateDatabase(who[w], p, NULL, &id, 0), JET_errFileAlreadyExists);
        }
        ck_assert_int_eq(stat(p, &st1), 0);
        ck_assert_int_eq(st1.st_size, st0.st_size);
        ck_assert_int_eq(st1.st_ino, st0.st_ino);
        free(p);
    }
    OK(JetTerm(b));
    OK(JetTerm(a));
    recover_and_check("live-a2", da, dbp, &c, 40, false);
    free(da);
    free(db);
    free(dbp);
    free(dbq);
}
END_TEST

START_TEST(missing_first_generation_is_named)
{
    char *d = subdir("mfg"), *d2 = subdir("mfg-nochk"), *dbp = tu_path(d, "a.edb"), *g1 = tu_path(d, "edb00001.log");
    struct icfg c = {64, 0, 0};
    crashed_instance(d, dbp, &c, 40);
    ck_assert_int_eq(unlink(g1), 0);
    JET_INSTANCE in;
    /* With edb.chk: the generation it needs is gone (-509), or it needs only later ones. */
    JET_ERR e = inst_open("mfg2", d, &c, &in);
    ck_assert_msg(e == JET_errMissingPreviousLogFile || e == JET_errSuccess, "with edb.chk: %ld", e);
    if (!e)
        OK(JetTerm(in));
    /* Without a checkpoint recovery starts at the oldest generation there is, which continues
     * the missing first one. */
    char *dbq = tu_path(d2, "b.edb"), *ckpt2 = tu_path(d2, "edb.chk"), *g1b = tu_path(d2, "edb00001.log");
    crashed_instance(d2, dbq, &c, 40);
    ck_assert_int_eq(unlink(ckpt2), 0);
    ck_assert_int_eq(unlink(g1b), 0);
    e = inst_open("mfg3", d2, &c, &in);
    ck_assert_msg(e == JET_errMissingLogFile, "without edb.chk: %ld", e);
    free(dbq);
    free(ckpt2);
    free(g1b);
    free(d);
    free(d2);
    free(dbp);
    free(g1);
}
END_TEST

static char *sys_dir;
static atomic_int sys_dir_syncs;

static int dirsync_hook(void *ctx, enum eng_io_op op, int fd, const char *path, uint64_t off, size_t len)
{
    (void)ctx, (void)off, (void)len;
    if (op == ENG_IO_SYNC && fd < 0 && path && !strcmp(path, sys_dir))
        atomic_fetch_add(&sys_dir_syncs, 1);
    return 0;
}

START_TEST(new_checkpoint_file_is_durable)
{
    /* JetInit creates edb.chk; its directory entry must be synced, not just its data. */
    sys_dir = subdir("sys");
    char *logs = subdir("logs");
    JET_INSTANCE in;
    OK(JetCreateInstance(&in, "chkdir"));
    OK(JetSetSystemParameter(&in, 0, JET_paramSystemPath, 0, sys_dir));
    OK(JetSetSystemParameter(&in, 0, JET_paramLogFilePath, 0, logs));
    atomic_store(&sys_dir_syncs, 0);
    eng_io_set_fault_hook(dirsync_hook, NULL);
    OK(JetInit(&in));
    eng_io_set_fault_hook(NULL, NULL);
    ck_assert_int_ge(atomic_load(&sys_dir_syncs), 1);
    OK(JetTerm(in));
    free(sys_dir);
    free(logs);
}
END_TEST

/* ---------------------------------------------------------------------------------------------
 * 10. A copy recovered in another directory (JetInit3's restore map)
 * ------------------------------------------------------------------------------------------- */
#define PAIR_NA 40 /* transactions on a.edb before the checkpoint, and as many after it */
#define PAIR_NB 5  /* transactions on b.edb */

static const struct icfg pair_cfg = {1024, 0, 0}; /* generations the workload never fills */

/* The number of databases edb.chk in d lists (its first copy). */
static uint32_t ckpt_ndb(const char *d)
{
    char *p = tu_path(d, "edb.chk");
    int fd = open(p, O_RDONLY);
    uint32_t n = 0;
    ck_assert_int_eq(pread(fd, &n, 4, 20), 4);
    close(fd);
    free(p);
    return n;
}

/* An instance in d that crashed (dirty term) with two databases, known to recovery both ways:
 * a.edb from edb.chk (a checkpoint passed its ATTACH record; 2 x PAIR_NA transactions, half of
 * them after the checkpoint), b.edb from its ATTACH record (created after the checkpoint;
 * PAIR_NB transactions). */
static void crashed_pair(const char *d)
{
    char *pa = tu_path(d, "a.edb"), *pb = tu_path(d, "b.edb");
    JET_INSTANCE in;
    JET_SESID sa, sb;
    JET_TABLEID ta, tb;
    struct model m;
    uint8_t *buf = malloc(VAL_MAX);
    OK(inst_open("pair", d, &pair_cfg, &in));
    OK(db_open(in, pa, true, &sa, &ta));
    model_init(&m);
    for (uint32_t i = 0; i < 2 * PAIR_NA; i++) {
        if (i == PAIR_NA) {
            /* A checkpoint now, written before the call returns (the log never rolls, so no
             * other one runs). */
            OK(JetStopServiceInstance2(in, JET_bitStopServiceQuiesceCaches));
            OK(JetStopServiceInstance2(in, JET_bitStopServiceResume));
        }
        OK(run_txn(sa, ta, &m, i, 0, buf));
        model_apply(&m, i);
    }
    OK(db_open(in, pb, true, &sb, &tb));
    model_init(&m);
    for (uint32_t i = 0; i < PAIR_NB; i++) {
        OK(run_txn(sb, tb, &m, i, 0, buf));
        model_apply(&m, i);
    }
    ck_assert_int_eq(JetTerm2(in, JET_bitTermDirty), JET_errDirtyShutdown);
    ck_assert_uint_eq(ckpt_ndb(d), 1); /* a.edb only */
    free(buf);
    free(pa);
    free(pb);
}

/* fn(path, arg) for every file of directory d. */
static void each_file(const char *d, void (*fn)(const char *path, const char *name, void *arg), void *arg)
{
    DIR *dh = opendir(d);
    ck_assert_ptr_nonnull(dh);
    struct dirent *de;
    while ((de = readdir(dh))) {
        if (de->d_name[0] == '.')
            continue;
        char *p = tu_path(d, de->d_name);
        fn(p, de->d_name, arg);
        free(p);
    }
    closedir(dh);
}

static void copy_into(const char *path, const char *name, void *dst)
{
    char *t = tu_path(dst, name);
    copy_file(path, t, 1 << 20, NULL, NULL);
    free(t);
}

static void chmod_one(const char *path, const char *name, void *mode)
{
    (void)name;
    ck_assert_int_eq(chmod(path, *(mode_t *)mode), 0);
}

/* cp of every file of src into dst, as a copy of an instance's directory taken elsewhere. */
static void copy_dir(const char *src, const char *dst) { each_file(src, copy_into, (void *)dst); }

/* The originals are made read-only while a copy of them recovers (as root, which the tests may
 * run as, that stops nothing: the byte comparisons are the proof). */
static void chmod_files(const char *d, mode_t mode) { each_file(d, chmod_one, &mode); }

/* Attach dbp in a new session and check that its table holds exactly the first n transactions. */
static void attach_check(JET_INSTANCE in, const char *dbp, uint32_t n)
{
    JET_SESID s;
    JET_TABLEID t;
    OK(db_open(in, dbp, false, &s, &t));
    struct model *m = malloc(sizeof *m);
    model_upto(m, n);
    char why[256] = "";
    ck_assert_msg(!table_equals(s, t, m, why, sizeof why), "%s after %u transactions: %s", dbp, n, why);
    free(m);
    OK(JetEndSession(s, 0));
}

static void expect_file(const char *p, const uint8_t *b, size_t n)
{
    size_t m;
    uint8_t *now = slurp(p, &m);
    ck_assert_msg(m == n && !memcmp(now, b, n), "%s was changed", p);
    free(now);
}

START_TEST(database_replaced_under_checkpoint_is_refused)
{
    /* edb.chk names a.edb with its signature: another database's file now at that path is refused,
     * not rewritten with a.edb's pages (as the signature in an ATTACH record already makes it). */
    char *d = subdir("repl"), *other = subdir("other");
    crashed_pair(d);
    char *pa = tu_path(d, "a.edb"), *po = tu_path(other, "o.edb");
    JET_INSTANCE in;
    JET_SESID s;
    JET_TABLEID t;
    OK(inst_open("other", other, &pair_cfg, &in));
    OK(db_open(in, po, true, &s, &t));
    OK(JetTerm(in));
    copy_file(po, pa, 1 << 20, NULL, NULL);
    size_t n;
    uint8_t *b = slurp(pa, &n);
    ck_assert_int_eq(inst_open("repl2", d, &pair_cfg, &in), JET_errBadDbSignature);
    expect_file(pa, b, n);
    free(b);
    free(d), free(other), free(pa), free(po);
}
END_TEST

static JET_RSTINFO rstinfo(JET_RSTMAP *map, long n)
{
    JET_RSTINFO r;
    memset(&r, 0, sizeof r);
    r.cbStruct = sizeof r;
    r.rgrstmap = map;
    r.crstmap = n;
    return r;
}

/* The recovery events of the restore map: 307 (a database not in the map is skipped) and 308
 * (a database is recovered at its new path). */
static int n_skipped, n_moved;
static char skipped_msg[1024];

static void grab_map_event(void *ctx, JET_INSTANCE inst, const char *name, int level, long id, const char *msg)
{
    (void)ctx, (void)inst, (void)name, (void)level;
    if (id == 307) {
        n_skipped++;
        snprintf(skipped_msg, sizeof skipped_msg, "%s", msg);
    } else if (id == 308) {
        n_moved++;
    }
}

START_TEST(restore_map_recovers_copy_elsewhere)
{
    char *orig = subdir("orig"), *copy = subdir("copy");
    crashed_pair(orig);
    uint32_t na = 2 * PAIR_NA;
    copy_dir(orig, copy);
    char *oa = tu_path(orig, "a.edb"), *ob = tu_path(orig, "b.edb");
    char *ca = tu_path(copy, "a.edb"), *cb = tu_path(copy, "b.edb");
    /* The map may spell the paths the log names otherwise than the engine stores them: through a
     * symlink to their directory, or with a "." in it. */
    char *link = tu_path(root, "orig-link");
    ck_assert_int_eq(symlink(orig, link), 0);
    char *oa_alias = tu_path(link, "a.edb"), *ob_alias = tu_path(orig, "./b.edb");
    /* And it may name databases this log never mentions, in a directory that does not exist here
     * (compared as written, and unused). */
    char nx_from[] = "/nonexistent-jetsnap-dir/x.edb", nx_to[] = "/nonexistent-jetsnap-dir/y.edb";
    JET_RSTMAP map[] = {{oa_alias, ca}, {ob_alias, cb}, {nx_from, nx_to}};
    JET_RSTINFO ri = rstinfo(map, 3);
    chmod_files(orig, 0444);
    struct dirsnap sn;
    snap_take(&sn, orig);

    JET_INSTANCE in;
    n_moved = n_skipped = 0;
    JetSetEventCallback(grab_map_event, NULL);
    OK(inst_open3("copy", copy, &pair_cfg, &ri, &in));
    JetSetEventCallback(NULL, NULL);
    snap_expect_same(&sn, orig);
    ck_assert_int_ge(n_moved, 2);
    ck_assert_int_eq(n_skipped, 0);
    attach_check(in, ca, na);
    attach_check(in, cb, PAIR_NB);

    /* The copies live on at their new paths: more commits, and another crash. */
    JET_SESID s;
    JET_DBID dbid;
    JET_TABLEID t;
    OK(JetBeginSession(in, &s, NULL, NULL));
    OK(JetOpenDatabase(s, ca, NULL, &dbid, 0)); /* attached by attach_check */
    OK(JetOpenTable(s, dbid, "t", NULL, 0, 0, &t));
    struct model m;
    model_upto(&m, na);
    uint8_t *buf = malloc(VAL_MAX);
    for (uint32_t i = na; i < na + 20; i++) {
        OK(run_txn(s, t, &m, i, 0, buf));
        model_apply(&m, i);
    }
    free(buf);
    ck_assert_int_eq(JetTerm2(in, JET_bitTermDirty), JET_errDirtyShutdown);
    snap_expect_same(&sn, orig);

    /* A plain JetInit of the copy, without a map, recovers the copies and still never touches the
     * originals: nothing the copy's edb.chk or logs now ask for names the old paths. */
    OK(inst_open("copy2", copy, &pair_cfg, &in));
    attach_check(in, ca, na + 20);
    attach_check(in, cb, PAIR_NB);
    OK(JetTerm(in));
    snap_expect_same(&sn, orig);
    snap_free(&sn);

    /* The originals, untouched, still recover in place to what they held. */
    chmod_files(orig, 0644);
    OK(inst_open("orig2", orig, &pair_cfg, &in));
    attach_check(in, oa, na);
    attach_check(in, ob, PAIR_NB);
    OK(JetTerm(in));
    fprintf(stderr, "restore_map_recovers_copy_elsewhere: %u + %u transactions recovered in the copy\n", na,
            PAIR_NB);
    free(orig), free(copy), free(oa), free(ob), free(ca), free(cb), free(link), free(oa_alias), free(ob_alias);
}
END_TEST

START_TEST(restore_map_skips_unmapped_database)
{
    char *orig = subdir("orig"), *copy = subdir("copy");
    crashed_pair(orig);
    uint32_t na = 2 * PAIR_NA;
    copy_dir(orig, copy);
    char *oa = tu_path(orig, "a.edb"), *ca = tu_path(copy, "a.edb"), *cb = tu_path(copy, "b.edb");
    JET_RSTMAP map[] = {{oa, ca}};
    JET_RSTINFO ri = rstinfo(map, 1);
    chmod_files(orig, 0444);
    struct dirsnap sn;
    snap_take(&sn, orig);
    size_t ncb;
    uint8_t *cb_bytes = slurp(cb, &ncb);

    /* b.edb is not in the map: its changes are skipped with event 307, at its original path and in
     * the copy alike; a.edb is recovered in the copy. */
    JET_INSTANCE in;
    n_moved = n_skipped = 0;
    JetSetEventCallback(grab_map_event, NULL);
    OK(inst_open3("copy", copy, &pair_cfg, &ri, &in));
    JetSetEventCallback(NULL, NULL);
    snap_expect_same(&sn, orig);
    snap_free(&sn);
    ck_assert_int_ge(n_skipped, 1);
    ck_assert_msg(strstr(skipped_msg, "/b.edb"), "event 307: %s", skipped_msg);
    expect_file(cb, cb_bytes, ncb);
    attach_check(in, ca, na);
    JET_SESID s;
    OK(JetBeginSession(in, &s, NULL, NULL));
    ck_assert_int_eq(JetAttachDatabase(s, cb, 0), JET_errDatabaseDirtyShutdown); /* never recovered */
    OK(JetEndSession(s, 0));
    OK(JetTerm(in));
    expect_file(cb, cb_bytes, ncb);
    free(cb_bytes);
    chmod_files(orig, 0644);
    free(orig), free(copy), free(oa), free(ca), free(cb);
}
END_TEST

START_TEST(bad_restore_info_is_refused)
{
    char *orig = subdir("orig"), *copy = subdir("copy");
    crashed_pair(orig);
    uint32_t na = 2 * PAIR_NA;
    copy_dir(orig, copy);
    char *oa = tu_path(orig, "a.edb"), *ob = tu_path(orig, "b.edb");
    char *ca = tu_path(copy, "a.edb"), *cb = tu_path(copy, "b.edb");
    char *oa_dot = tu_path(orig, "./a.edb");
    char empty[] = "";
    char *longname = malloc(ENG_PATH_MAX + 16);
    memset(longname, 'x', ENG_PATH_MAX + 15);
    longname[0] = '/';
    longname[ENG_PATH_MAX + 15] = 0;
    struct dirsnap so, sc;
    snap_take(&so, orig);
    snap_take(&sc, copy);

    JET_RSTMAP good[] = {{oa, ca}, {ob, cb}};
    struct {
        const char *what;
        JET_RSTMAP e[2];
        long n;
        long cb_delta;
        bool null_map;
    } bad[] = {
        {"cbStruct one short", {{oa, ca}}, 1, -1, false},
        {"cbStruct one long", {{oa, ca}}, 1, 1, false},
        {"negative count", {{oa, ca}}, -1, 0, false},
        {"count without entries", {{oa, ca}}, 1, 0, true},
        {"NULL source", {{NULL, ca}}, 1, 0, false},
        {"NULL target", {{oa, NULL}}, 1, 0, false},
        {"empty source", {{empty, ca}}, 1, 0, false},
        {"empty target", {{oa, empty}}, 1, 0, false},
        {"source too long", {{longname, ca}}, 1, 0, false},
        {"target too long", {{oa, longname}}, 1, 0, false},
        {"same source twice", {{oa, ca}, {oa, cb}}, 2, 0, false},
        {"same source, spelled otherwise", {{oa, ca}, {oa_dot, cb}}, 2, 0, false},
        {"two sources into one file", {{oa, ca}, {ob, ca}}, 2, 0, false},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        JET_RSTINFO ri = rstinfo(bad[i].null_map ? NULL : bad[i].e, bad[i].n);
        ri.cbStruct = (unsigned long)((long)ri.cbStruct + bad[i].cb_delta);
        JET_INSTANCE in;
        JET_ERR e = inst_open3("bad", copy, &pair_cfg, &ri, &in);
        if (!e)
            JetTerm(in);
        ck_assert_msg(e == JET_errInvalidParameter, "%s: %ld", bad[i].what, e);
        snap_expect_same(&so, orig);
        snap_expect_same(&sc, copy);
    }
    /* Each path well formed, but the two files swapped: neither copy is the database the log
     * names for it (the signature in edb.chk or the ATTACH record says so), and nothing is written. */
    JET_RSTMAP swapped[] = {{oa, cb}, {ob, ca}};
    JET_RSTINFO ri = rstinfo(swapped, 2);
    JET_INSTANCE in;
    ck_assert_int_eq(inst_open3("swapped", copy, &pair_cfg, &ri, &in), JET_errBadDbSignature);
    snap_expect_same(&so, orig);
    snap_expect_same(&sc, copy);
    snap_free(&so);
    snap_free(&sc);

    /* The refused calls used up nothing: the right map still recovers the copy. */
    ri = rstinfo(good, 2);
    OK(inst_open3("good", copy, &pair_cfg, &ri, &in));
    attach_check(in, ca, na);
    attach_check(in, cb, PAIR_NB);
    OK(JetTerm(in));
    free(orig), free(copy), free(oa), free(ob), free(ca), free(cb), free(oa_dot), free(longname);
}
END_TEST

START_TEST(null_restore_info_recovers_in_place)
{
    /* Without prstinfo, and with an empty map (ESE: no map), recovery is what JetInit does. */
    char *d1 = subdir("d1"), *d2 = subdir("d2");
    crashed_pair(d1);
    crashed_pair(d2);
    char *a1 = tu_path(d1, "a.edb"), *b1 = tu_path(d1, "b.edb"), *a2 = tu_path(d2, "a.edb"),
         *b2 = tu_path(d2, "b.edb");
    JET_INSTANCE in;
    OK(inst_open3("null-info", d1, &pair_cfg, NULL, &in));
    attach_check(in, a1, 2 * PAIR_NA);
    attach_check(in, b1, PAIR_NB);
    OK(JetTerm(in));
    JET_RSTINFO ri = rstinfo(NULL, 0);
    OK(inst_open3("empty-map", d2, &pair_cfg, &ri, &in));
    attach_check(in, a2, 2 * PAIR_NA);
    attach_check(in, b2, PAIR_NB);
    OK(JetTerm(in));
    free(d1), free(d2), free(a1), free(b1), free(a2), free(b2);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("recovery");
    TCase *tc = tcase_create("recovery");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 120);
    /* TR_ONLY=<case name> runs one case: Check itself can select only suites and tcases. */
    const char *only = getenv("TR_ONLY");
#define ADD(t) if (!only || !strcmp(only, #t)) tcase_add_test(tc, t)
    ADD(fuzzy_copy_recovers);
    ADD(killed_recovery_is_idempotent);
    ADD(torn_checkpoint_write_is_repaired);
    ADD(small_commits_log_diffs);
    ADD(database_disk_full);
    ADD(log_disk_full);
    ADD(log_fsync_failure);
    ADD(circular_log_is_bounded);
    ADD(circular_log_crash_recovers);
    ADD(many_threads_commit_and_read);
    ADD(lazy_commits_become_durable);
    ADD(damaged_current_log_is_refused);
    ADD(checkpoint_off_the_log_is_refused);
    ADD(create_database_over_live_logs_is_refused);
    ADD(missing_first_generation_is_named);
    ADD(new_checkpoint_file_is_durable);
    ADD(database_replaced_under_checkpoint_is_refused);
    ADD(restore_map_recovers_copy_elsewhere);
    ADD(restore_map_skips_unmapped_database);
    ADD(bad_restore_info_is_refused);
    ADD(null_restore_info_recovers_in_place);
    suite_add_tcase(s, tc);
    return s;
}

TU_CHECK_MAIN(suite)
