/*
 * snapshot-copy — an OS snapshot (JetOSSnapshot*) taken the way a snapshot service takes it, with
 * a real copy of the files, under load. Every round, with its own seed:
 *
 *  - 1 to 3 instances (3 in every third round at least), each in its own directory holding its
 *    edb.chk, its logs (small generations, 128 or 256 KB, so they roll all the time) and its
 *    database; some rounds with a tiny cache (flushes and checkpoints want to run during the
 *    freeze) or circular logging.
 *  - 4 writer threads spread over the instances, each with its own key range, commit random
 *    transactions of 1..4 puts/deletes, some of them with JET_bitCommitLazyFlush. A global atomic
 *    clock stamps each transaction's start and acknowledgement, and the moments right before
 *    JetOSSnapshotFreeze is called, right after it returns and right before Thaw is called.
 *  - The main thread runs Prepare (sometimes ExplicitPrepare + PrepareInstance, sometimes a copy
 *    snapshot) -> Freeze -> `cp -a` of every instance directory -> Thaw -> [TruncateLog(Instance)]
 *    -> End, or a plain Thaw that ends the session itself. While still frozen the live files are
 *    compared with the copy byte for byte: the copy is of a state nothing was writing to.
 *  - After the thaw the writers must make progress again (no hang), write a little more, stop;
 *    JetTerm.
 *
 * Checks:
 *  1. The live instances, reopened, hold for every writer exactly all its transactions: no commit
 *     acknowledged at any time — before, during or after the freeze — is lost.
 *  2. Each copy, restored by soft recovery in place (the logs and edb.chk name the databases by
 *     absolute path, so the live directory is moved aside and the copy renamed to its path; then
 *     JetInit, attach, read), holds for every writer exactly its first k transactions with
 *     (acknowledged before Freeze was called) <= k <= (started before Freeze returned), lazy
 *     commits included (Freeze forces the log); no other key, and every value exactly what its
 *     transaction wrote. eng_verify_file passes on every recovered and live database.
 *  3. No durable commit that wrote something and started after Freeze returned was acknowledged
 *     before Thaw was called (its log cannot have reached the disk).
 * A watchdog ends a round that hangs.
 *
 * Usage: snapshot-copy [--rounds N] [--seed S]. The seed is printed; a failing round prints its
 * own seed and keeps its files, and "--seed <that> --rounds 1" runs that round first.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
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

#include "io-int.h"
#include "jet.h"
#include "logfmt-int.h"
#include "../common/txmodel.h"
#include "../unit/testutil.h"

#define NWRITERS 4
#define MAXINST 3
#define KEYS_PER 200
#define ROUND_TIMEOUT_S 180

/* ------------------------------------------------------------------------------------------- */
/* The watchdog and a slow disk */

static char g_alarm_msg[512]; /* preformatted: the watchdog may only write(2) */

static void on_alarm(int sig)
{
    (void)sig;
    ssize_t r = write(2, g_alarm_msg, strlen(g_alarm_msg));
    (void)r;
    _exit(1);
}

/* A slow disk, in some rounds: every sync takes 0.05..0.5 ms more, and allocating a new log
 * generation 1..4 ms. This machine's disk does both in microseconds; with real latencies the log
 * has a leader in flight, or its next generation being made, at most moments — which is when
 * Freeze has to wait for it while appenders fill the log and line up to roll it. */
static atomic_uint_fast64_t g_slow_ctr;
static int slow_io(void *ctx, enum eng_io_op op, int fd, const char *path, uint64_t off, size_t len)
{
    (void)ctx, (void)fd, (void)path, (void)off, (void)len;
    if (op == ENG_IO_SYNC || op == ENG_IO_ALLOCATE) {
        uint64_t h = (atomic_fetch_add(&g_slow_ctr, 1) + 1) * 0x9E3779B97F4A7C15ULL;
        tm_sleep_us(op == ENG_IO_SYNC ? 50 + (unsigned)((h >> 40) % 450) : 1000 + (unsigned)((h >> 40) % 3000));
    }
    return 0;
}

/* ------------------------------------------------------------------------------------------- */
/* Writers: the model is in txmodel */

static bool has_put(const struct tm_txn *x)
{
    for (uint32_t i = 0; i < x->nops; i++)
        if (!x->ops[i].del)
            return true;
    return false;
}

static atomic_bool g_stop;

/* Wait until every writer has more than min[i] transactions acknowledged. */
static void writers_wait(struct tm_owner *w, const size_t *min, const char *what)
{
    double t0 = tm_now_sec();
    for (;;) {
        bool ok = true;
        for (int i = 0; i < NWRITERS; i++)
            ok &= atomic_load(&w[i].nacked) > min[i];
        if (ok)
            return;
        EXPECT(tm_now_sec() - t0 < 60, "%s: the writers made no progress in 60 s", what);
        tm_sleep_ms(1);
    }
}

/* ------------------------------------------------------------------------------------------- */
/* Instances and reading a database */

struct cfg {
    unsigned log_kb;
    unsigned cache_pages; /* 0: the default */
    bool circular;
};

static JET_INSTANCE open_instance(const char *name, const char *dir, const struct cfg *c)
{
    JET_INSTANCE inst;
    CHECK(JetCreateInstance(&inst, name));
    CHECK(JetSetSystemParameter(&inst, 0, JET_paramSystemPath, 0, dir));
    CHECK(JetSetSystemParameter(&inst, 0, JET_paramLogFilePath, 0, dir));
    CHECK(JetSetSystemParameter(&inst, 0, JET_paramLogFileSize, c->log_kb, NULL));
    CHECK(JetSetSystemParameter(&inst, 0, JET_paramCircularLog, c->circular, NULL));
    /* Far longer than any copy here takes: a time-out would discard the round's copy. */
    CHECK(JetSetSystemParameter(&inst, 0, JET_paramOSSnapshotTimeout, 60000, NULL));
    if (c->cache_pages)
        CHECK(JetSetSystemParameter(&inst, 0, JET_paramCacheSizeMax, c->cache_pages, NULL));
    CHECK(JetInit(&inst));
    return inst;
}

/* Read every record of table "t" of the database at path into got[owner][k] (the transaction
 * whose value it holds). Every value must be exactly what that transaction wrote, and every key
 * belong to a writer of instance ix. */
static void read_table(JET_INSTANCE v, const char *path, int ix, uint32_t got[NWRITERS][KEYS_PER],
                       const struct tm_owner *o)
{
    uint64_t mine = 0;
    for (int i = 0; i < NWRITERS; i++)
        if (o[i].inst == ix)
            mine |= 1ull << i;
    char where[32];
    snprintf(where, sizeof where, "instance %d", ix);
    tm_read_table(v, path, o, NWRITERS, mine, where, &got[0][0]);
}

/* ------------------------------------------------------------------------------------------- */
/* Files */

/* `cp -a from to`, as a snapshot service's copy would be: another process reading the files. */
static void cp_a(const char *from, const char *to)
{
    char *argv[] = {"cp", "-a", (char *)from, (char *)to, NULL};
    pid_t pid;
    int r = posix_spawnp(&pid, "cp", NULL, NULL, argv, environ);
    EXPECT(r == 0, "posix_spawnp cp: %s", strerror(r));
    int st = 0;
    while (waitpid(pid, &st, 0) < 0)
        EXPECT(errno == EINTR, "waitpid: %s", strerror(errno));
    EXPECT(WIFEXITED(st) && WEXITSTATUS(st) == 0, "cp -a %s %s failed (status 0x%x)", from, to, st);
}

static bool same_file(const char *a, const char *b)
{
    FILE *fa = fopen(a, "rb"), *fb = fopen(b, "rb");
    EXPECT(fa && fb, "open %s / %s: %s", a, b, strerror(errno));
    static char ba[65536], bb[65536];
    bool same = true;
    for (;;) {
        size_t na = fread(ba, 1, sizeof ba, fa), nb = fread(bb, 1, sizeof bb, fb);
        if (na != nb || memcmp(ba, bb, na)) {
            same = false;
            break;
        }
        if (na == 0)
            break;
    }
    fclose(fa);
    fclose(fb);
    return same;
}

static int count_entries(const char *dir)
{
    DIR *d = opendir(dir);
    EXPECT(d, "opendir %s: %s", dir, strerror(errno));
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
            n++;
    closedir(d);
    return n;
}

/* While frozen: the live directory still holds exactly what was copied — the same names and the
 * same bytes — so the copy is of a state the engine was not writing to. Returns the file count. */
static int compare_dirs(const char *live, const char *copy)
{
    DIR *d = opendir(live);
    EXPECT(d, "opendir %s: %s", live, strerror(errno));
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        char *a = tu_path(live, e->d_name), *b = tu_path(copy, e->d_name);
        struct stat sa, sb;
        EXPECT(stat(a, &sa) == 0, "stat %s: %s", a, strerror(errno));
        EXPECT(stat(b, &sb) == 0, "%s appeared in the live directory while frozen (not in the copy)", a);
        EXPECT(S_ISREG(sa.st_mode), "%s is not a regular file", a);
        EXPECT(sa.st_size == sb.st_size && same_file(a, b), "%s changed while frozen (differs from its copy)", a);
        free(a);
        free(b);
        n++;
    }
    closedir(d);
    EXPECT(n == count_entries(copy), "%s lost files while frozen (%d left, %d copied)", live, n, count_entries(copy));
    return n;
}


/* The log files of dir, walked by the format documented at the top of engine/log.c: every
 * generation has a valid header naming its own number and the log set's signature; its records
 * carry their generation and a CRC bound to their position; an archived generation ends with a
 * seal and nothing but zeros follows it (the scanner never looks past a seal, so a record there is
 * lost to recovery even though its commit was acknowledged); the current one has zeros after its
 * last record; the generations are one run ending at the current one. Returns how many files. */
static int check_logs(const char *dir, const char *what)
{
    DIR *d = opendir(dir);
    EXPECT(d, "opendir %s: %s", dir, strerror(errno));
    uint32_t lo = UINT32_MAX, hi = 0, cur = 0;
    int n = 0, narch = 0;
    eng_logsig sig = {0, 0};
    struct dirent *e;
    while ((e = readdir(d))) {
        const char *s = e->d_name;
        size_t l = strlen(s);
        if (l < 7 || strncmp(s, "edb", 3) || strcmp(s + l - 4, ".log") || !strcmp(s, "edbtmp.log"))
            continue;
        bool current = !strcmp(s, "edb.log");
        uint32_t want = 0;
        if (!current) {
            char *end;
            EXPECT(l == 12, "%s: unexpected log file %s/%s", what, dir, s);
            want = (uint32_t)strtoul(s + 3, &end, 16);
            EXPECT(end == s + 8 && want, "%s: unexpected log file %s/%s", what, dir, s);
        }
        char *p = tu_path(dir, s);
        FILE *f = fopen(p, "rb");
        EXPECT(f, "open %s: %s", p, strerror(errno));
        struct stat st;
        EXPECT(fstat(fileno(f), &st) == 0, "stat %s", p);
        size_t sz = (size_t)st.st_size;
        uint8_t *b = malloc(sz ? sz : 1);
        EXPECT(b && fread(b, 1, sz, f) == sz, "read %s", p);
        fclose(f);
        log_fhdr h;
        EXPECT(log_fhdr_decode(b, sz, &h) == 0, "%s: %s has a bad header", what, p);
        EXPECT(h.file_size == sz, "%s: %s is %zu bytes, its header says %u", what, p, sz, h.file_size);
        EXPECT(current || h.gen == want, "%s: %s holds generation %u", what, p, h.gen);
        if (!n)
            sig = h.sig;
        EXPECT(log_sig_eq(&sig, &h.sig), "%s: %s belongs to another log set", what, p);
        size_t off = LOG_HDR_SIZE;
        bool sealed = false;
        while (off + LOG_REC_HDR <= sz) {
            const uint8_t *r = b + off;
            uint32_t len = log_ld32(r + 4);
            uint16_t type = log_ld16(r + 8);
            if (type == 0 && len == 0 && log_ld32(r) == 0 && log_ld32(r + 12) == 0)
                break; /* the unwritten rest */
            EXPECT(type != 0 && log_ld32(r + 12) == h.gen && off + log_rec_size(len) <= sz,
                   "%s: %s: a bad record header at offset %zu", what, p, off);
            uint32_t pc = eng_crc32c(0, r + LOG_REC_HDR, len);
            EXPECT(log_rec_crc(pc, r, (uint32_t)off) == log_ld32(r), "%s: %s: the record at offset %zu fails its CRC",
                   what, p, off);
            off += (size_t)log_rec_size(len);
            if (type == ENG_LR_SEAL) {
                sealed = true;
                break;
            }
        }
        for (size_t i = off; i < sz; i++)
            EXPECT(b[i] == 0, "%s: %s has data at offset %zu, after its %s at %zu", what, p, i,
                   sealed ? "seal" : "last record", off);
        EXPECT(current || sealed, "%s: %s, an archived generation, has no seal", what, p);
        if (current) {
            cur = h.gen;
        } else {
            narch++;
            lo = h.gen < lo ? h.gen : lo;
            hi = h.gen > hi ? h.gen : hi;
        }
        free(b);
        free(p);
        n++;
    }
    closedir(d);
    EXPECT(cur, "%s: %s has no edb.log", what, dir);
    EXPECT(!narch || ((uint32_t)narch == hi - lo + 1 && hi + 1 == cur),
           "%s: %s holds %d archived generations %u..%u and the current %u: not one run", what, dir, narch, lo, hi,
           cur);
    return n;
}

/* ------------------------------------------------------------------------------------------- */
/* One round */

struct stats {
    uint64_t rounds3, extra, instances, txns, lazy, during, after, bounds_lo, bounds_hi, files;
};
static struct stats g_st;

static void run_round(const char *work, unsigned long long *seed, bool three)
{
    int ninst = three ? 3 : 1 + (int)(tu_rand(seed) % 3);
    struct cfg c;
    c.log_kb = tu_rand(seed) % 2 ? 256 : 128;
    c.cache_pages = tu_rand(seed) % 3 == 0 ? 64 : 0;
    c.circular = tu_rand(seed) % 6 == 0;
    char *dir[MAXINST], *copy[MAXINST], *aside[MAXINST], *dbp[MAXINST], name[MAXINST][64];
    JET_INSTANCE inst[MAXINST];
    for (int k = 0; k < ninst; k++) {
        char b[32];
        snprintf(b, sizeof b, "i%d", k);
        dir[k] = tu_path(work, b);
        snprintf(b, sizeof b, "snap%d", k);
        copy[k] = tu_path(work, b);
        snprintf(b, sizeof b, "i%d.live", k);
        aside[k] = tu_path(work, b);
        dbp[k] = tu_path(dir[k], "db.edb");
        snprintf(name[k], sizeof name[k], "sc-%d-%d", tm_round, k);
        EXPECT(mkdir(dir[k], 0755) == 0, "mkdir %s: %s", dir[k], strerror(errno));
        inst[k] = open_instance(name[k], dir[k], &c);
        tm_create_db(inst[k], dbp[k]);
    }

    static struct tm_owner o[NWRITERS];
    unsigned pace = (unsigned)(tu_rand(seed) % 1500);
    /* Some rounds mostly lazy: then commits keep going through (into memory) during the freeze. */
    unsigned lazy_pct = tu_rand(seed) % 3 == 0 ? 70 + (unsigned)(tu_rand(seed) % 25) : (unsigned)(tu_rand(seed) % 40);
    tm_owners_init(o, NWRITERS, seed);
    for (int i = 0; i < NWRITERS; i++) {
        o[i].inst = i % ninst;
        o[i].jinst = inst[o[i].inst];
        o[i].dbpath = dbp[o[i].inst];
        o[i].pace_us = pace;
        o[i].lazy_commits = true;
        o[i].lazy_pct = lazy_pct;
    }
    bool slow = tu_rand(seed) % 3 == 0;
    if (slow)
        eng_io_set_fault_hook(slow_io, NULL);
    tm_writers_run(o, NWRITERS, &g_stop);
    size_t min[NWRITERS];
    size_t warm = 10 + (size_t)(tu_rand(seed) % 80);
    for (int i = 0; i < NWRITERS; i++)
        min[i] = warm;
    writers_wait(o, min, "before the snapshot");
    tm_sleep_ms((unsigned)(tu_rand(seed) % 50));

    /* The snapshot. */
    bool cont = tu_rand(seed) % 2, explicit_ = tu_rand(seed) % 3 == 0, copysnap = tu_rand(seed) % 4 == 0;
    int trunc = (int)(tu_rand(seed) % 3); /* with cont: 0 none, 1 TruncateLog, 2 TruncateLogInstance */
    unsigned hold_ms = (unsigned)(tu_rand(seed) % 60);
    JET_GRBIT g = (cont ? JET_bitContinueAfterThaw : 0) | (explicit_ ? JET_bitExplicitPrepare : 0) |
                  (copysnap ? JET_bitCopySnapshot : 0);
    JET_OSSNAPID id;
    CHECK(JetOSSnapshotPrepare(&id, g));
    if (explicit_)
        for (int k = 0; k < ninst; k++)
            CHECK(JetOSSnapshotPrepareInstance(id, inst[k], 0));
    unsigned long ni = 0;
    JET_INSTANCE_INFO *ii = NULL;
    uint64_t x1 = tm_tick();
    CHECK(JetOSSnapshotFreeze(id, &ni, &ii, 0));
    uint64_t x2 = tm_tick();
    double tf = tm_now_sec();
    EXPECT(ni == (unsigned long)ninst, "Freeze froze %lu instances of %d", ni, ninst);
    for (unsigned long j = 0; j < ni; j++) {
        int k = 0;
        while (k < ninst && inst[k] != ii[j].hInstanceId)
            k++;
        EXPECT(k < ninst, "Freeze reported an instance that is not ours");
        EXPECT(ii[j].cDatabases == 1 && !strcmp(ii[j].szDatabaseFileName[0], dbp[k]),
               "Freeze reported %lu databases for %s", (unsigned long)ii[j].cDatabases, dir[k]);
    }
    JetFreeBuffer((char *)ii);
    int files = 0;
    for (int k = 0; k < ninst; k++)
        cp_a(dir[k], copy[k]);
    tm_sleep_ms(hold_ms); /* commits pile up against the frozen log meanwhile */
    for (int k = 0; k < ninst; k++)
        files += compare_dirs(dir[k], copy[k]);
    double frozen_s = tm_now_sec() - tf;
    uint64_t x3 = tm_tick();
    CHECK(JetOSSnapshotThaw(id, 0));
    size_t at_thaw[NWRITERS];
    for (int i = 0; i < NWRITERS; i++)
        at_thaw[i] = atomic_load(&o[i].nacked);
    if (cont) {
        if (copysnap) {
            EXPECT(JetOSSnapshotTruncateLog(id, JET_bitAllDatabasesSnapshot) == JET_errOSSnapshotInvalidSequence,
                   "a copy snapshot truncated its logs");
        } else if (trunc == 1) {
            CHECK(JetOSSnapshotTruncateLog(id, JET_bitAllDatabasesSnapshot));
        } else if (trunc == 2) {
            for (int k = 0; k < ninst; k++)
                CHECK(JetOSSnapshotTruncateLogInstance(id, inst[k], JET_bitAllDatabasesSnapshot));
        }
        CHECK(JetOSSnapshotEnd(id, 0));
    }
    EXPECT(JetOSSnapshotEnd(id, 0) == JET_errOSSnapshotInvalidSnapId, "the session outlived its End");

    /* Writing goes on after the thaw: every writer gets commits through again. */
    for (int i = 0; i < NWRITERS; i++)
        min[i] = at_thaw[i] + 1;
    writers_wait(o, min, "after the thaw");
    /* More freezes without a copy, back to back under the same load: each one is another chance
     * for Freeze to land while the log is busy (a flush in flight, a roll waiting), and whatever
     * it mishandles shows in the live logs and the live data checked below. */
    int extra = (int)(tu_rand(seed) % 16);
    for (int f = 0; f < extra; f++) {
        CHECK(JetOSSnapshotPrepare(&id, 0));
        CHECK(JetOSSnapshotFreeze(id, &ni, &ii, 0));
        JetFreeBuffer((char *)ii);
        tm_sleep_us((unsigned)(tu_rand(seed) % 10000));
        CHECK(JetOSSnapshotThaw(id, 0));
        tm_sleep_us((unsigned)(tu_rand(seed) % 4000));
    }
    g_st.extra += (uint64_t)extra;
    tm_sleep_ms(20 + (unsigned)(tu_rand(seed) % 100));
    tm_writers_join(o, NWRITERS, &g_stop);
    /* A dirty term leaves the databases behind the log: reopening then depends on the log. */
    bool dirty = tu_rand(seed) % 3 != 0;
    for (int k = 0; k < ninst; k++) {
        if (dirty)
            EXPECT(JetTerm2(inst[k], JET_bitTermDirty) == JET_errDirtyShutdown, "a dirty term was not dirty");
        else
            CHECK(JetTerm(inst[k]));
    }
    eng_io_set_fault_hook(NULL, NULL);
    for (int k = 0; k < ninst; k++) {
        check_logs(copy[k], "the copy taken while frozen");
        check_logs(dir[k], "the live logs after the round");
    }

    /* Check 3: a durable commit that started after Freeze returned could not reach the frozen log. */
    uint64_t during = 0, lazy = 0;
    for (int i = 0; i < NWRITERS; i++)
        for (size_t j = 0; j < o[i].n; j++) {
            const struct tm_txn *x = &o[i].tx[j];
            EXPECT(x->ack != TM_PENDING, "writer %d: txn %zu never acknowledged", i, j + 1);
            lazy += x->lazy;
            if (x->start > x2 && x->ack < x3) {
                during++;
                EXPECT(x->lazy || !has_put(x),
                       "writer %d: durable txn %zu started after Freeze returned and was acknowledged while frozen",
                       i, j + 1);
            }
        }

    /* Check 1: the live instances hold every acknowledged commit. */
    uint32_t got[NWRITERS][KEYS_PER];
    for (int k = 0; k < ninst; k++) {
        JET_INSTANCE v = open_instance(name[k], dir[k], &c);
        read_table(v, dbp[k], k, got, o);
        CHECK(JetTerm(v));
        tm_verify_pages(dbp[k]);
        for (int i = 0; i < NWRITERS; i++)
            if (o[i].inst == k)
                tm_match(&o[i], got[i], o[i].n, o[i].n, "live instance after the thaw");
    }

    /* Check 2: each copy, recovered in place, is the state at Freeze. */
    for (int k = 0; k < ninst; k++) {
        EXPECT(rename(dir[k], aside[k]) == 0, "rename %s: %s", dir[k], strerror(errno));
        EXPECT(rename(copy[k], dir[k]) == 0, "rename %s: %s", copy[k], strerror(errno));
        JET_INSTANCE v = open_instance(name[k], dir[k], &c);
        read_table(v, dbp[k], k, got, o);
        CHECK(JetTerm(v));
        tm_verify_pages(dbp[k]);
        for (int i = 0; i < NWRITERS; i++)
            if (o[i].inst == k) {
                size_t lo = tm_acked_before(&o[i], x1), hi = tm_started_before(&o[i], x2);
                tm_match(&o[i], got[i], lo, hi, "copy taken while frozen, recovered in place");
                g_st.bounds_lo += lo;
                g_st.bounds_hi += hi;
            }
    }

    if (tm_cfg.verbose)
        fprintf(stderr,
                "  round %d: %d instances, log %u KB, cache %u, circular %d, lazy %u%%, %s%s%s snapshot, truncate %d, "
                "frozen %.0f ms, %d files, %llu commits acknowledged while frozen, %s term%s\n",
                tm_round, ninst, c.log_kb, c.cache_pages, c.circular, lazy_pct, cont ? "continue-after-thaw " : "",
                explicit_ ? "explicit " : "", copysnap ? "copy" : "full", trunc, frozen_s * 1000, files,
                (unsigned long long)during, dirty ? "dirty" : "clean", slow ? ", slow disk" : "");
    g_st.rounds3 += ninst == 3;
    g_st.instances += (uint64_t)ninst;
    g_st.lazy += lazy;
    g_st.during += during;
    g_st.files += (uint64_t)files;
    for (int i = 0; i < NWRITERS; i++) {
        g_st.txns += o[i].n;
        g_st.after += o[i].n - tm_started_before(&o[i], x3);
        free(o[i].tx);
        o[i].tx = NULL;
        o[i].n = o[i].cap = 0;
    }
    for (int k = 0; k < ninst; k++) {
        free(dir[k]);
        free(copy[k]);
        free(aside[k]);
        free(dbp[k]);
    }
}

/* ------------------------------------------------------------------------------------------- */

int main(int argc, char **argv)
{
    tm_cfg = (struct tm_config){.prog = "snapshot-copy",
                                .keys_per = KEYS_PER,
                                .value_salt = 0x7f4a7c15ULL,
                                .owner_word = "writer",
                                .holds_word = "holds",
                                .ran_word = "ran"};
    int rounds = 20;
    unsigned long long seed = 0;
    if (!tm_parse_args(argc, argv, &rounds, &seed))
        return 2;
    seed = tm_pick_seed(seed);
    unsigned long long seed0 = seed;
    tm_cfg.verbose = getenv("SNAPSHOT_COPY_VERBOSE") != NULL;
    signal(SIGALRM, on_alarm);
    double t0 = tm_now_sec();
    for (int r = 0; r < rounds; r++) {
        unsigned long long rs;
        char *work = tm_round_begin(r, &seed, &rs);
        snprintf(g_alarm_msg, sizeof g_alarm_msg,
                 "snapshot-copy: round %d (seed %llu, files in %s): hung for %d s\n", r, tm_round_seed, work,
                 ROUND_TIMEOUT_S);
        alarm(ROUND_TIMEOUT_S);
        /* Every third round has three instances; the others pick 1..3 from their seed. */
        run_round(work, &rs, r % 3 == 0);
        alarm(0);
        tm_round_end(work);
    }
    printf("snapshot-copy: %d rounds (seed %llu) in %.1f s: %llu instances (%llu rounds with 3) frozen and copied "
           "with cp -a (%llu files), %llu more freezes, %llu transactions (%llu lazy, %llu acknowledged while frozen, %llu after the "
           "thaw), every copy recovered within its bounds (%llu..%llu transactions), nothing lost live\n",
           rounds, seed0, tm_now_sec() - t0, (unsigned long long)g_st.instances, (unsigned long long)g_st.rounds3,
           (unsigned long long)g_st.files, (unsigned long long)g_st.extra, (unsigned long long)g_st.txns, (unsigned long long)g_st.lazy,
           (unsigned long long)g_st.during, (unsigned long long)g_st.after, (unsigned long long)g_st.bounds_lo,
           (unsigned long long)g_st.bounds_hi);
    return 0;
}
