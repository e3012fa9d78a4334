/*
 * backup-load — the streaming backup and JetExternalRestore under real load, with real files,
 * threads and (for one part) a real SIGKILL. Every round, with its own seed:
 *
 *  1. Backup under load. Four writer threads, each with its own session, commit durable random
 *     transactions (1..4 puts/deletes over the thread's own 300 keys; values derived from
 *     (thread, transaction number, key), some of a few KB) while the main thread streams a full
 *     backup (databases through OpenFile/ReadFile, then GetLogInfoInstance2, the logs,
 *     TruncateLog, End). A global atomic clock stamps each transaction's start and
 *     acknowledgement and the moments just before and just after GetLogInfo (which rolls the log,
 *     so the backup's logs end there). The restore (JetExternalRestore, streams mapped to their
 *     copies, range from the JET_LOGINFO) must hold, for every thread, exactly its first k
 *     transactions, with (acknowledged before GetLogInfo was called) <= k <= (started before it
 *     returned); nothing else. A second, static database streamed in the same backup must come
 *     back exactly.
 *  2. Chains. Full + three truncated incrementals with the writers running throughout: the full's
 *     stream plus all logs in one directory restore to the state at the last incremental's
 *     bound; then a new full + a non-truncated incremental (a differential) restore the same way.
 *  3. Truncation and SIGKILL. A child process commits, takes a truncated full backup while it
 *     commits (the logs below the checkpoint must be gone afterwards), goes on committing and is
 *     SIGKILLed. JetInit in the parent must recover every acknowledged commit; the following
 *     incremental backup must start no later than the full's last generation + 1, and the full's
 *     stream plus both backups' logs must restore to exactly the recovered state.
 *  4. Damage. A flipped byte inside a record of one backed-up log makes the restore fail with
 *     JET_errLogFileCorrupt; a flipped byte in a page of the static database's stream (no log of
 *     the range touches that database, so nothing can repair the page) fails it with
 *     JET_errReadVerifyFailure. The undamaged set restores (part 1), so the errors come from the
 *     damage.
 *
 * Usage: backup-load [--rounds N] [--seed S]. The seed is printed; a failing round prints its own
 * seed, and "--seed <that> --rounds 1" runs that round first.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "io-int.h"
#include "jet.h"
#include "../common/txmodel.h"
#include "../unit/testutil.h"

#define PS 8192
#define NWRITERS 4
#define KEYS_PER 300
#define STATIC_OWNER NWRITERS /* the owner id of the static database's records */
#define NOWNERS (NWRITERS + 1)

/* ------------------------------------------------------------------------------------------- */
/* Transactions: the model is in txmodel; the SIGKILL part reports each one to its parent */

/* Messages of the SIGKILL part, child -> parent; smaller than PIPE_BUF, so writes from several
 * threads never interleave. */
struct msg {
    uint32_t kind; /* 1 begin, 2 ack (of tid's transaction seq), 3 backup done */
    uint32_t tid;
    uint32_t seq;
    uint32_t nops;
    struct tm_op ops[TM_MAXOPS];
    uint64_t a, b; /* kind 3: the full backup's ulGenLow, ulGenHigh */
    int64_t c;     /* kind 3: number of logs truncated */
};

static void write_all(int fd, const void *buf, size_t n)
{
    const char *p = buf;
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            _exit(4);
        p += w;
        n -= (size_t)w;
    }
}

/* The fd every writer of the SIGKILL child reports to (the parent reads the model from it). */
static int g_report_fd = -1;

static void report_begin(const struct tm_owner *w, uint32_t seq, const struct tm_txn *x)
{
    struct msg m;
    memset(&m, 0, sizeof m);
    m.kind = 1;
    m.tid = (uint32_t)w->id;
    m.seq = seq;
    m.nops = x->nops;
    memcpy(m.ops, x->ops, sizeof m.ops);
    write_all(g_report_fd, &m, sizeof m);
}

static void report_ack(const struct tm_owner *w, uint32_t seq)
{
    struct msg m;
    memset(&m, 0, sizeof m);
    m.kind = 2;
    m.tid = (uint32_t)w->id;
    m.seq = seq;
    write_all(g_report_fd, &m, sizeof m);
}

static atomic_bool g_stop;

static void writers_start(struct tm_owner *w, int n, JET_INSTANCE inst, const char *dbpath, unsigned pace_us,
                          int pipe_fd)
{
    g_report_fd = pipe_fd;
    for (int i = 0; i < n; i++) {
        w[i].jinst = inst;
        w[i].dbpath = dbpath;
        w[i].pace_us = pace_us;
        w[i].on_begin = pipe_fd >= 0 ? report_begin : NULL;
        w[i].on_ack = pipe_fd >= 0 ? report_ack : NULL;
    }
    tm_writers_run(w, n, &g_stop);
}

static void writers_stop(struct tm_owner *w, int n)
{
    tm_writers_join(w, n, &g_stop);
}

/* Wait until every writer has at least min transactions acknowledged (so the load is real). */
static void writers_wait(struct tm_owner *w, int n, size_t min)
{
    double t0 = tm_now_sec();
    for (;;) {
        bool ok = true;
        for (int i = 0; i < n; i++) {
            /* n grows monotonically; a racy read only delays this loop by one turn */
            size_t got = __atomic_load_n(&w[i].n, __ATOMIC_ACQUIRE);
            ok &= got > min;
        }
        if (ok)
            return;
        EXPECT(tm_now_sec() - t0 < 60, "writers made no progress in 60 s");
        tm_sleep_ms(2);
    }
}

/* ------------------------------------------------------------------------------------------- */
/* Reading a database */

static JET_INSTANCE open_instance(const char *name, const char *dir)
{
    JET_INSTANCE inst;
    CHECK(JetCreateInstance(&inst, name));
    CHECK(JetSetSystemParameter(&inst, 0, JET_paramSystemPath, 0, dir));
    CHECK(JetSetSystemParameter(&inst, 0, JET_paramLogFilePath, 0, dir));
    CHECK(JetSetSystemParameter(&inst, 0, JET_paramLogFileSize, 256, NULL));
    CHECK(JetInit(&inst));
    return inst;
}

/* Read every record of table "t" of the database at path, attached to instance v, into
 * got[owner][k] (the transaction whose value it holds). Every value must be exactly what that
 * transaction wrote, and every key in the range of an owner in [olo, ohi]. */
static void read_table(JET_INSTANCE v, const char *path, int olo, int ohi, uint32_t got[NOWNERS][KEYS_PER],
                       const struct tm_owner *owners)
{
    uint64_t mine = 0;
    for (int i = olo; i <= ohi; i++)
        mine |= 1ull << i;
    tm_read_table(v, path, owners, NOWNERS, mine, "this database", &got[0][0]);
}

/* read_table on a restored database, in an instance of its own (in a fresh directory under work),
 * then a check of every page of the file. */
static void read_db(const char *work, const char *path, int olo, int ohi, uint32_t got[NOWNERS][KEYS_PER],
                    const struct tm_owner *owners)
{
    char *d = tu_path(work, "verify");
    tu_rmtree(d);
    EXPECT(mkdir(d, 0755) == 0, "mkdir %s: %s", d, strerror(errno));
    JET_INSTANCE v = open_instance("bl-verify", d);
    read_table(v, path, olo, ohi, got, owners);
    CHECK(JetTerm(v));
    tu_rmtree(d);
    free(d);
    tm_verify_pages(path);
}

/* ------------------------------------------------------------------------------------------- */
/* Files */

static void copy_file(const char *from, const char *to)
{
    FILE *a = fopen(from, "rb"), *b = fopen(to, "wb");
    EXPECT(a && b, "copy %s -> %s: %s", from, to, strerror(errno));
    char buf[65536];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, a)) > 0)
        EXPECT(fwrite(buf, 1, n, b) == n, "write %s: %s", to, strerror(errno));
    EXPECT(!ferror(a) && fclose(b) == 0, "copy %s -> %s failed", from, to);
    fclose(a);
}

static void copy_logs_between(const char *from, const char *to, unsigned long lo, unsigned long hi)
{
    for (unsigned long g = lo; g <= hi; g++) {
        char name[32];
        snprintf(name, sizeof name, "edb%05lX.log", g);
        char *f = tu_path(from, name), *t = tu_path(to, name);
        copy_file(f, t);
        free(f);
        free(t);
    }
}

static char *mkdir_in(const char *parent, const char *name)
{
    char *p = tu_path(parent, name);
    EXPECT(mkdir(p, 0755) == 0, "mkdir %s: %s", p, strerror(errno));
    return p;
}

static void flip_byte(const char *path, uint64_t off, uint8_t mask)
{
    int fd = open(path, O_RDWR);
    EXPECT(fd >= 0, "open %s: %s", path, strerror(errno));
    uint8_t c;
    EXPECT(pread(fd, &c, 1, (off_t)off) == 1, "read %s", path);
    c ^= mask;
    EXPECT(pwrite(fd, &c, 1, (off_t)off) == 1, "write %s", path);
    close(fd);
}

/* Archived logs (edbXXXXX.log) in dir: count, lowest and highest generation. */
static int archived_logs(const char *dir, uint32_t *lo, uint32_t *hi)
{
    DIR *d = opendir(dir);
    EXPECT(d, "opendir %s", dir);
    int n = 0;
    *lo = UINT32_MAX;
    *hi = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        const char *s = e->d_name;
        if (strlen(s) != 12 || strncmp(s, "edb", 3) || strcmp(s + 8, ".log"))
            continue;
        char hex[6];
        memcpy(hex, s + 3, 5);
        hex[5] = 0;
        char *end;
        unsigned long g = strtoul(hex, &end, 16);
        if (*end || !g)
            continue;
        n++;
        if (g < *lo)
            *lo = (uint32_t)g;
        if (g > *hi)
            *hi = (uint32_t)g;
    }
    closedir(d);
    return n;
}

/* The generation of the checkpoint in dir/edb.chk (format at the top of engine/checkpoint.c: two
 * copies, at 0 and 256 KiB; the valid one with the higher sequence counts). Read while the engine
 * may be rewriting it, so a copy that fails its CRC is skipped. */
static uint32_t checkpoint_gen(const char *dir)
{
    char *p = tu_path(dir, "edb.chk");
    int fd = open(p, O_RDONLY);
    EXPECT(fd >= 0, "open %s: %s", p, strerror(errno));
    uint64_t best_seq = 0;
    uint32_t gen = 0;
    static uint8_t b[65536];
    for (int copy = 0; copy < 2; copy++) {
        ssize_t n = pread(fd, b, sizeof b, copy * 256 * 1024);
        if (n < 56 || memcmp(b + 4, "JSNAPCHK", 8))
            continue;
        uint32_t len = (uint32_t)b[16] | ((uint32_t)b[17] << 8) | ((uint32_t)b[18] << 16) | ((uint32_t)b[19] << 24);
        uint32_t crc = (uint32_t)b[0] | ((uint32_t)b[1] << 8) | ((uint32_t)b[2] << 16) | ((uint32_t)b[3] << 24);
        if (len < 56 || len > (size_t)n || crc != eng_crc32c(0, b + 4, len - 4))
            continue;
        uint64_t seq = 0, lsn = 0;
        for (int i = 7; i >= 0; i--) {
            seq = (seq << 8) | b[24 + i];
            lsn = (lsn << 8) | b[48 + i];
        }
        if (seq >= best_seq) {
            best_seq = seq;
            gen = (uint32_t)(lsn >> 32);
        }
    }
    close(fd);
    EXPECT(gen, "%s has no valid copy", p);
    free(p);
    return gen;
}

/* ------------------------------------------------------------------------------------------- */
/* The backup */

/* Stream one file of the backup set into outdir under its base name, cb bytes a read. With
 * slow_us, reads of 1..16 pages with pauses of up to slow_us in between, so the writers commit
 * (and the checkpoint flushes) while the database is being copied: a really fuzzy copy. */
static void copy_backup_file(JET_INSTANCE inst, const char *name, const char *outdir, unsigned long cb, uint8_t *buf,
                             unsigned slow_us, unsigned long long *seed)
{
    JET_HANDLE h;
    unsigned long lo = 0, hi = 0;
    CHECK(JetOpenFileInstance(inst, name, &h, &lo, &hi));
    const char *base = strrchr(name, '/');
    char *o = tu_path(outdir, base ? base + 1 : name);
    FILE *f = fopen(o, "wb");
    EXPECT(f, "fopen %s: %s", o, strerror(errno));
    uint64_t total = 0;
    for (;;) {
        unsigned long got = 0;
        if (slow_us && total) {
            cb = (unsigned long)(1 + tu_rand(seed) % 16) * PS;
            tm_sleep_us((unsigned)(tu_rand(seed) % slow_us));
        }
        CHECK(JetReadFileInstance(inst, h, buf, cb, &got));
        if (!got)
            break;
        EXPECT(fwrite(buf, 1, got, f) == got, "write %s", o);
        total += got;
    }
    EXPECT(fclose(f) == 0, "close %s", o);
    EXPECT(total == (((uint64_t)hi << 32) | lo), "%s: streamed %llu bytes, OpenFile said %llu", name,
           (unsigned long long)total, (unsigned long long)(((uint64_t)hi << 32) | lo));
    CHECK(JetCloseFileInstance(inst, h));
    free(o);
}

struct bk {
    JET_LOGINFO li;
    uint64_t x1, x2;  /* clock just before GetLogInfo was called and just after it returned */
    int ntruncated;   /* logs TruncateLog deleted */
    uint32_t trunc_hi; /* highest generation it deleted (0: none) */
};

/* One backup of inst: full (databases and logs) or incremental (logs) into outdir, truncated or
 * not. pause_ms: a pause between the databases and GetLogInfo, so commits land in between. */
static void backup(JET_INSTANCE inst, const char *logdir, bool incremental, bool truncate, const char *outdir,
                   unsigned pause_ms, unsigned slow_us, unsigned long long *seed, struct bk *r)
{
    uint8_t *buf = aligned_alloc(4096, 16 * PS);
    EXPECT(buf, "out of memory");
    memset(r, 0, sizeof *r);
    CHECK(JetBeginExternalBackupInstance(inst, incremental ? JET_bitBackupIncremental : 0));
    unsigned long need = 0;
    if (!incremental) {
        CHECK(JetGetAttachInfoInstance(inst, NULL, 0, &need));
        char *list = malloc(need);
        EXPECT(list, "out of memory");
        CHECK(JetGetAttachInfoInstance(inst, list, need, &need));
        for (char *p = list; *p; p += strlen(p) + 1)
            copy_backup_file(inst, p, outdir, 16 * PS, buf, slow_us, seed);
        free(list);
    }
    if (pause_ms)
        tm_sleep_ms(pause_ms);
    r->li.cbSize = sizeof r->li;
    /* The checkpoint only moves forward, so the one GetLogInfo bases the truncation range on lies
     * between these two readings. */
    uint32_t ckpt_before = checkpoint_gen(logdir);
    r->x1 = tm_tick();
    CHECK(JetGetLogInfoInstance2(inst, NULL, 0, &need, &r->li));
    r->x2 = tm_tick();
    uint32_t ckpt_after = checkpoint_gen(logdir);
    EXPECT(r->li.ulGenLow >= 1 && r->li.ulGenHigh >= r->li.ulGenLow, "GetLogInfo gave the range %lu - %lu",
           r->li.ulGenLow, r->li.ulGenHigh);
    char *list = malloc(need);
    EXPECT(list, "out of memory");
    CHECK(JetGetLogInfoInstance(inst, list, need, &need));
    unsigned long n = 0;
    for (char *p = list; *p; p += strlen(p) + 1, n++)
        copy_backup_file(inst, p, outdir, 2 * PS, buf, 0, seed);
    EXPECT(n == r->li.ulGenHigh - r->li.ulGenLow + 1, "GetLogInfo listed %lu logs for the range %lu - %lu", n,
           r->li.ulGenLow, r->li.ulGenHigh);
    free(list);
    if (truncate) {
        CHECK(JetGetTruncateLogInfoInstance(inst, NULL, 0, &need));
        char *tl = malloc(need);
        EXPECT(tl, "out of memory");
        CHECK(JetGetTruncateLogInfoInstance(inst, tl, need, &need));
        for (char *p = tl; *p; p += strlen(p) + 1)
            EXPECT(access(p, F_OK) == 0, "%s is to be truncated but is not there", p);
        CHECK(JetTruncateLogInstance(inst));
        /* Every listed log is gone, and they were the oldest: nothing below them is left. */
        uint32_t lo, hi;
        for (char *p = tl; *p; p += strlen(p) + 1) {
            EXPECT(access(p, F_OK) != 0, "%s survived TruncateLog", p);
            const char *b = strrchr(p, '/');
            uint32_t g = (uint32_t)strtoul(b + 4, NULL, 16);
            if (g > r->trunc_hi)
                r->trunc_hi = g;
            r->ntruncated++;
        }
        int left = archived_logs(logdir, &lo, &hi);
        if (left > 0) {
            EXPECT(lo > r->trunc_hi, "after TruncateLog up to generation %u, generation %u is still there",
                   r->trunc_hi, lo);
            /* No hole either: the logs left are one run from the first one kept. */
            EXPECT((uint32_t)left == hi - lo + 1, "after TruncateLog %d logs are left for generations %u - %u",
                   left, lo, hi);
            EXPECT(!r->ntruncated || lo == r->trunc_hi + 1, "TruncateLog deleted up to %u but the oldest left is %u",
                   r->trunc_hi, lo);
        }
        /* Below the checkpoint (and the copied range) everything is gone ... */
        uint32_t gone_below = ckpt_before < r->li.ulGenHigh + 1 ? ckpt_before : (uint32_t)r->li.ulGenHigh + 1;
        if (archived_logs(logdir, &lo, &hi) > 0)
            EXPECT(lo >= gone_below, "generation %u survived TruncateLog, below the checkpoint's %u", lo, ckpt_before);
        /* ... and nothing crash recovery needs was deleted: the checkpoint's generation and later. */
        EXPECT(r->trunc_hi < ckpt_after, "TruncateLog deleted generation %u; recovery starts at %u", r->trunc_hi,
               ckpt_after);
        free(tl);
    }
    CHECK(JetEndExternalBackupInstance(inst));
    if (tm_cfg.verbose)
        fprintf(stderr, "  %s backup%s: logs %lu - %lu, %d truncated, GetLogInfo took %llu ticks\n",
                incremental ? "incremental" : "full", truncate ? "" : " (not truncated)", r->li.ulGenLow,
                r->li.ulGenHigh, r->ntruncated, (unsigned long long)(r->x2 - r->x1));
    free(buf);
}

/* An aborted backup whose GetLogInfo rolls the log, then a checkpoint: afterwards everything
 * committed so far is in older generations than the checkpoint, and on disk. */
static void roll_and_checkpoint(JET_INSTANCE inst)
{
    unsigned long need;
    CHECK(JetBeginExternalBackupInstance(inst, 0));
    CHECK(JetGetLogInfoInstance(inst, NULL, 0, &need));
    CHECK(JetEndExternalBackupInstance2(inst, JET_bitBackupEndAbort));
    CHECK(JetStopServiceInstance2(inst, JET_bitStopServiceQuiesceCaches));
    CHECK(JetStopServiceInstance2(inst, JET_bitStopServiceResume));
}

static JET_ERR restore(const char *bkdir, JET_RSTMAP *map, long nmap, unsigned long lo, unsigned long hi)
{
    /* szLogPath NULL: no roll-forward, so the result is exactly what the backed-up range holds. */
    return JetExternalRestore(NULL, NULL, map, nmap, (JET_PSTR)bkdir, (long)lo, (long)hi, NULL);
}


/* ------------------------------------------------------------------------------------------- */
/* Part 1 and 4: one full backup under load, its restore, and damaged copies of it */

struct stats {
    uint64_t txns, backups, restores, kills, truncated, damaged;
};
static struct stats g_st;

/* Find the records of the logs in dir for [lo, hi]: returns the file and the offset of one byte
 * inside the payload of a record picked at random (never the seal, never padding). */
static void pick_log_record(const char *dir, unsigned long lo, unsigned long hi, unsigned long long *seed,
                            char *path, size_t pn, uint64_t *off)
{
    /* Reservoir sampling over every record with a payload. */
    uint64_t seen = 0;
    for (unsigned long g = lo; g <= hi; g++) {
        char name[32];
        snprintf(name, sizeof name, "edb%05lX.log", g);
        char *p = tu_path(dir, name);
        int fd = open(p, O_RDONLY);
        EXPECT(fd >= 0, "open %s", p);
        struct stat st;
        fstat(fd, &st);
        uint64_t o = 4096;
        while (o + 16 <= (uint64_t)st.st_size) {
            uint8_t h[16];
            EXPECT(pread(fd, h, 16, (off_t)o) == 16, "read %s", p);
            uint32_t len = (uint32_t)h[4] | ((uint32_t)h[5] << 8) | ((uint32_t)h[6] << 16) | ((uint32_t)h[7] << 24);
            uint16_t type = (uint16_t)(h[8] | (h[9] << 8));
            if (type == 0 || type == 0xFFFF)
                break; /* the unwritten rest, or the seal */
            if (len > 0 && ++seen && tu_rand(seed) % seen == 0) {
                snprintf(path, pn, "%s", p);
                *off = o + 16 + tu_rand(seed) % len;
            }
            o += 16 + ((len + 7) & ~7ull);
        }
        close(fd);
        free(p);
    }
    EXPECT(seen > 0, "no log record in %s generations %lu - %lu", dir, lo, hi);
}

static void part_load_and_damage(const char *work, unsigned long long *seed)
{
    static struct tm_owner o[NOWNERS];
    tm_owners_init(o, NOWNERS, seed);
    char *live = mkdir_in(work, "live"), *bk = mkdir_in(work, "bk1"), *rs = mkdir_in(work, "rs1");
    char *dba = tu_path(live, "a.edb"), *dbb = tu_path(live, "b.edb");
    JET_INSTANCE inst = open_instance("bl-live", live);
    tm_create_db(inst, dba);
    tm_create_db(inst, dbb);
    /* The static database: written now, never during the backup. */
    {
        JET_SESID s;
        JET_DBID db;
        JET_TABLEID t;
        uint8_t *val = malloc(TM_MAXVAL);
        EXPECT(val, "out of memory");
        CHECK(JetBeginSession(inst, &s, NULL, NULL));
        CHECK(JetOpenDatabase(s, dbb, NULL, &db, 0));
        CHECK(JetOpenTable(s, db, "t", NULL, 0, 0, &t));
        for (int i = 0; i < 60; i++)
            tm_do_txn(&o[STATIC_OWNER], s, t, val);
        CHECK(JetCloseTable(s, t));
        CHECK(JetCloseDatabase(s, db, 0));
        CHECK(JetEndSession(s, 0));
        free(val);
    }
    /* So that no log of the backup's range carries a page of b.edb: its pages in the stream are the
     * only copy the restore has. */
    roll_and_checkpoint(inst);

    writers_start(o, NWRITERS, inst, dba, 1500, -1);
    writers_wait(o, NWRITERS, 30 + tu_rand(seed) % 150);
    struct bk b;
    backup(inst, live, false, true, bk, (unsigned)(tu_rand(seed) % 60), 3000, seed, &b);
    tm_sleep_ms((unsigned)(tu_rand(seed) % 100)); /* commits after the backup: never in the restore */
    writers_stop(o, NWRITERS);
    CHECK(JetTerm(inst));
    g_st.backups++;

    /* Restore both streams, from fresh copies (a restore rewrites its files). */
    char *sa = tu_path(bk, "a.edb"), *sb = tu_path(bk, "b.edb");
    char *ra = tu_path(rs, "a.edb"), *rb = tu_path(rs, "b.edb");
    copy_file(sa, ra);
    copy_file(sb, rb);
    JET_RSTMAP map[2] = {{dba, ra}, {dbb, rb}};
    CHECK(restore(bk, map, 2, b.li.ulGenLow, b.li.ulGenHigh));
    g_st.restores++;
    uint32_t got[NOWNERS][KEYS_PER];
    read_db(work, ra, 0, NWRITERS - 1, got, o);
    for (int i = 0; i < NWRITERS; i++) {
        size_t lo = tm_acked_before(&o[i], b.x1), hi = tm_started_before(&o[i], b.x2);
        tm_match(&o[i], got[i], lo, hi, "full backup under load");
        g_st.txns += o[i].n;
    }
    read_db(work, rb, STATIC_OWNER, STATIC_OWNER, got, o);
    tm_match(&o[STATIC_OWNER], got[STATIC_OWNER], o[STATIC_OWNER].n, o[STATIC_OWNER].n, "static database");

    /* Part 4a: one flipped byte inside a record of one backed-up log. */
    char *dmg = mkdir_in(work, "dmg");
    copy_logs_between(bk, dmg, b.li.ulGenLow, b.li.ulGenHigh);
    char lpath[4200];
    uint64_t loff = 0;
    pick_log_record(dmg, b.li.ulGenLow, b.li.ulGenHigh, seed, lpath, sizeof lpath, &loff);
    flip_byte(lpath, loff, (uint8_t)(1u << (tu_rand(seed) % 8)));
    char *da = tu_path(dmg, "a.edb");
    copy_file(sa, da);
    JET_RSTMAP m1 = {dba, da};
    JET_ERR e = restore(dmg, &m1, 1, b.li.ulGenLow, b.li.ulGenHigh);
    EXPECT(e == JET_errLogFileCorrupt, "a flipped byte at %s+%llu: restore gave %ld, not LogFileCorrupt (%d)", lpath,
           (unsigned long long)loff, (long)e, JET_errLogFileCorrupt);
    g_st.damaged++;

    /* Part 4b: one flipped byte in a page of b.edb's stream. No log of the range has a page of
     * b.edb (roll_and_checkpoint above), so the restore has no other copy of that page. */
    char *db2 = tu_path(dmg, "b.edb");
    copy_file(sb, db2);
    struct stat st;
    EXPECT(stat(db2, &st) == 0, "stat %s", db2);
    uint32_t units = (uint32_t)(st.st_size / PS); /* 2 header pages, pages 1..N-1, the trailer */
    uint32_t npages = units - 2;
    EXPECT(npages > 3, "b.edb has only %u pages", npages);
    uint32_t pg = 2 + (uint32_t)(tu_rand(seed) % (npages - 2)); /* 2..N-1: past the meta page */
    uint64_t poff = ((uint64_t)pg + 1) * PS + tu_rand(seed) % PS;
    flip_byte(db2, poff, (uint8_t)(1u << (tu_rand(seed) % 8)));
    JET_RSTMAP m2 = {dbb, db2};
    e = restore(bk, &m2, 1, b.li.ulGenLow, b.li.ulGenHigh);
    EXPECT(e == JET_errReadVerifyFailure, "a flipped byte in page %u of a stream no log rewrites: restore gave %ld",
           pg, (long)e);
    g_st.damaged++;

    free(da);
    free(db2);
    free(dmg);
    free(sa);
    free(sb);
    free(ra);
    free(rb);
    free(dba);
    free(dbb);
    free(live);
    free(bk);
    free(rs);
    tm_owners_free(o, NOWNERS);
}

/* ------------------------------------------------------------------------------------------- */
/* Part 2: incremental chain and differential, with the writers running throughout */

static void check_restore(const char *work, const char *bkdir, const char *stream, const char *orig,
                          unsigned long lo, unsigned long hi, const struct bk *bound, struct tm_owner *o,
                          const char *what)
{
    char *rs = tu_path(work, "rs-chain");
    tu_rmtree(rs);
    EXPECT(mkdir(rs, 0755) == 0, "mkdir %s", rs);
    char *ra = tu_path(rs, "a.edb");
    copy_file(stream, ra);
    JET_RSTMAP m = {(char *)orig, ra};
    CHECK(restore(bkdir, &m, 1, lo, hi));
    g_st.restores++;
    uint32_t got[NOWNERS][KEYS_PER];
    read_db(work, ra, 0, NWRITERS - 1, got, o);
    for (int i = 0; i < NWRITERS; i++)
        tm_match(&o[i], got[i], tm_acked_before(&o[i], bound->x1), tm_started_before(&o[i], bound->x2), what);
    free(ra);
    tu_rmtree(rs);
    free(rs);
}

static void part_chain(const char *work, unsigned long long *seed)
{
    static struct tm_owner o[NOWNERS];
    tm_owners_init(o, NOWNERS, seed);
    char *live = mkdir_in(work, "live2"), *full = mkdir_in(work, "full2"), *chain = mkdir_in(work, "chain");
    char *fd2 = mkdir_in(work, "full-d"), *diff = mkdir_in(work, "diff"), *scratch = mkdir_in(work, "scratch");
    char *dba = tu_path(live, "a.edb");
    JET_INSTANCE inst = open_instance("bl-live2", live);
    tm_create_db(inst, dba);
    writers_start(o, NWRITERS, inst, dba, 2000, -1);
    struct bk f, inc[3], f2, d0, d;
    writers_wait(o, NWRITERS, 3);
    backup(inst, live, false, true, full, (unsigned)(tu_rand(seed) % 30), 1500, seed, &f);
    for (int i = 0; i < 3; i++) {
        tm_sleep_ms(30 + (unsigned)(tu_rand(seed) % 150));
        backup(inst, live, true, true, chain, (unsigned)(tu_rand(seed) % 20), 0, seed, &inc[i]);
        unsigned long prev = i ? inc[i - 1].li.ulGenHigh : f.li.ulGenHigh;
        EXPECT(inc[i].li.ulGenLow <= prev + 1, "incremental %d starts at generation %lu, after %lu + 1", i + 1,
               inc[i].li.ulGenLow, prev);
        EXPECT(inc[i].li.ulGenHigh > prev, "incremental %d ends at generation %lu, not after %lu", i + 1,
               inc[i].li.ulGenHigh, prev);
    }
    tm_sleep_ms(10 + (unsigned)(tu_rand(seed) % 30));
    backup(inst, live, false, true, fd2, (unsigned)(tu_rand(seed) % 20), 1500, seed, &f2);
    tm_sleep_ms(10 + (unsigned)(tu_rand(seed) % 30));
    backup(inst, live, true, false, scratch, 0, 0, seed, &d0); /* a differential the restore does not use */
    tm_sleep_ms(10 + (unsigned)(tu_rand(seed) % 30));
    backup(inst, live, true, false, diff, (unsigned)(tu_rand(seed) % 20), 0, seed, &d);
    EXPECT(d.li.ulGenLow <= f2.li.ulGenHigh + 1, "the differential starts at %lu, after the full's %lu + 1",
           d.li.ulGenLow, f2.li.ulGenHigh);
    EXPECT(d.li.ulGenLow <= d0.li.ulGenLow, "the later differential starts later (%lu > %lu)", d.li.ulGenLow,
           d0.li.ulGenLow);
    tm_sleep_ms((unsigned)(tu_rand(seed) % 20));
    writers_stop(o, NWRITERS);
    CHECK(JetTerm(inst));
    g_st.backups += 7;
    for (int i = 0; i < NWRITERS; i++)
        g_st.txns += o[i].n;

    /* The chain: the full's stream, its logs and every incremental's, in one directory. */
    copy_logs_between(full, chain, f.li.ulGenLow, f.li.ulGenHigh);
    char *sa = tu_path(full, "a.edb");
    check_restore(work, chain, sa, dba, f.li.ulGenLow, inc[2].li.ulGenHigh, &inc[2], o, "full + 3 incrementals");
    /* The differential: the second full's stream and logs plus the differential's logs. */
    copy_logs_between(fd2, diff, f2.li.ulGenLow, f2.li.ulGenHigh);
    char *sd = tu_path(fd2, "a.edb");
    check_restore(work, diff, sd, dba, f2.li.ulGenLow, d.li.ulGenHigh, &d, o, "full + differential");
    free(sa);
    free(sd);
    free(dba);
    free(live);
    free(full);
    free(chain);
    free(fd2);
    free(diff);
    free(scratch);
    tm_owners_free(o, NOWNERS);
}

/* ------------------------------------------------------------------------------------------- */
/* Part 3: truncation, then SIGKILL and recovery */

#define NKILLW 2

static void kill_child(const char *live, const char *bk, int fd, unsigned long long seed)
{
    static struct tm_owner o[NKILLW];
    tm_owners_init(o, NKILLW, &seed);
    char *dba = tu_path(live, "a.edb");
    JET_INSTANCE inst = open_instance("bl-child", live);
    tm_create_db(inst, dba);
    writers_start(o, NKILLW, inst, dba, 1000, fd);
    /* Some generations first, so there is something below the checkpoint to truncate. */
    uint32_t lo, hi;
    double t0 = tm_now_sec();
    while (archived_logs(live, &lo, &hi) < 3) {
        EXPECT(tm_now_sec() - t0 < 60, "child: no log rolls in 60 s");
        tm_sleep_ms(2);
    }
    uint32_t below = hi; /* archived before the checkpoint that follows: all below it */
    CHECK(JetStopServiceInstance2(inst, JET_bitStopServiceQuiesceCaches));
    CHECK(JetStopServiceInstance2(inst, JET_bitStopServiceResume));
    struct bk b;
    backup(inst, live, false, true, bk, (unsigned)(tu_rand(&seed) % 30), 1000, &seed, &b);
    /* The checkpoint was in a generation after `below` when the backup was taken: every log up
     * to `below` had to go. */
    EXPECT(b.trunc_hi >= below, "child: truncation stopped at generation %u, the checkpoint is past %u", b.trunc_hi,
           below);
    if (archived_logs(live, &lo, &hi) > 0)
        EXPECT(lo > below, "child: generation %u is below the checkpoint and was not truncated", lo);
    struct msg m;
    memset(&m, 0, sizeof m);
    m.kind = 3;
    m.a = b.li.ulGenLow;
    m.b = b.li.ulGenHigh;
    m.c = b.ntruncated;
    write_all(fd, &m, sizeof m);
    for (;;)
        pause(); /* the writers go on until the SIGKILL */
}

static void part_kill(const char *work, unsigned long long *seed)
{
    char *live = mkdir_in(work, "live3"), *bk = mkdir_in(work, "bk3");
    char *dba = tu_path(live, "a.edb");
    int p[2];
    EXPECT(pipe(p) == 0, "pipe");
    unsigned long long cseed = tu_rand(seed);
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    EXPECT(pid >= 0, "fork");
    if (pid == 0) {
        /* Never outlive a parent that failed before its SIGKILL: the writers would go on forever. */
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() == 1)
            _exit(5);
        close(p[0]);
        kill_child(live, bk, p[1], cseed);
        _exit(0);
    }
    close(p[1]);
    static struct tm_owner o[NOWNERS];
    tm_owners_init(o, NOWNERS, seed);
    unsigned long full_lo = 0, full_hi = 0;
    bool backed_up = false, killed = false;
    uint64_t acks_after = 0, kill_acks = 5 + tu_rand(seed) % 100;
    unsigned kill_ms = 10 + (unsigned)(tu_rand(seed) % 300);
    double t0 = tm_now_sec(), tb = 0;
    struct msg m;
    size_t have = 0;
    for (;;) {
        double t = tm_now_sec();
        if (!killed && ((backed_up && (acks_after >= kill_acks || (t - tb) * 1000 >= kill_ms)) || t - t0 > 120)) {
            kill(pid, SIGKILL);
            killed = true;
        }
        struct pollfd pf = {p[0], POLLIN, 0};
        if (poll(&pf, 1, killed ? 1000 : 5) < 0 && errno != EINTR)
            tm_die("poll: %s", strerror(errno));
        if (!(pf.revents & (POLLIN | POLLHUP)))
            continue;
        ssize_t n = read(p[0], (char *)&m + have, sizeof m - have);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break; /* the child is gone and all it wrote was read */
        have += (size_t)n;
        if (have < sizeof m)
            continue;
        have = 0;
        EXPECT(m.tid < NKILLW, "bad message from the child");
        struct tm_owner *w = &o[m.tid];
        if (m.kind == 1) {
            EXPECT(m.seq == w->n + 1, "child: txn %u of writer %u out of order", m.seq, m.tid);
            struct tm_txn *x = tm_push_txn(w);
            x->nops = m.nops;
            memcpy(x->ops, m.ops, sizeof x->ops);
            x->ack = TM_PENDING;
            w->n++;
        } else if (m.kind == 2) {
            EXPECT(m.seq == w->n && w->tx[m.seq - 1].ack == TM_PENDING, "child: ack of txn %u out of order", m.seq);
            w->tx[m.seq - 1].ack = 1;
            if (backed_up)
                acks_after++;
        } else if (m.kind == 3) {
            backed_up = true;
            full_lo = (unsigned long)m.a;
            full_hi = (unsigned long)m.b;
            g_st.truncated += (uint64_t)m.c;
            tb = tm_now_sec();
        }
    }
    close(p[0]);
    int status = 0;
    waitpid(pid, &status, 0);
    EXPECT(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL, "the child ended on its own (status 0x%x)", status);
    EXPECT(backed_up, "the child never finished its backup");
    g_st.kills++;
    g_st.backups++;

    /* Recovery: every acknowledged commit is there, the one in flight per writer all or nothing. */
    JET_INSTANCE inst = open_instance("bl-recover", live);
    uint32_t got[NOWNERS][KEYS_PER];
    read_table(inst, dba, 0, NKILLW - 1, got, o);
    size_t krec[NKILLW];
    for (int i = 0; i < NKILLW; i++) {
        size_t acked = 0;
        while (acked < o[i].n && o[i].tx[acked].ack != TM_PENDING)
            acked++;
        krec[i] = tm_match(&o[i], got[i], acked, o[i].n, "recovery after SIGKILL");
        g_st.txns += o[i].n;
    }
    /* The next incremental continues the full's chain with no gap. */
    struct bk inc;
    backup(inst, live, true, true, bk, 0, 0, seed, &inc);
    g_st.backups++;
    EXPECT(inc.li.ulGenLow <= full_hi + 1, "the incremental after the crash starts at %lu, after the full's %lu + 1",
           inc.li.ulGenLow, full_hi);
    CHECK(JetTerm(inst));
    /* The full's stream and both backups' logs give exactly the recovered state. */
    char *rs = mkdir_in(work, "rs3"), *ra = tu_path(rs, "a.edb"), *sa = tu_path(bk, "a.edb");
    copy_file(sa, ra);
    JET_RSTMAP map = {dba, ra};
    CHECK(restore(bk, &map, 1, full_lo, inc.li.ulGenHigh));
    g_st.restores++;
    read_db(work, ra, 0, NKILLW - 1, got, o);
    for (int i = 0; i < NKILLW; i++)
        tm_match(&o[i], got[i], krec[i], krec[i], "full + incremental across the crash");
    free(rs);
    free(ra);
    free(sa);
    free(dba);
    free(live);
    free(bk);
    tm_owners_free(o, NOWNERS);
}

/* ------------------------------------------------------------------------------------------- */

int main(int argc, char **argv)
{
    tm_cfg = (struct tm_config){.prog = "backup-load",
                                .keys_per = KEYS_PER,
                                .value_salt = 0x5bd1e995ULL,
                                .owner_word = "owner",
                                .holds_word = "restored",
                                .ran_word = "has"};
    int rounds = 10;
    unsigned long long seed = 0;
    if (!tm_parse_args(argc, argv, &rounds, &seed))
        return 2;
    seed = tm_pick_seed(seed);
    unsigned long long seed0 = seed;
    signal(SIGPIPE, SIG_IGN);
    tm_cfg.verbose = getenv("BACKUP_LOAD_VERBOSE") != NULL;
    double t0 = tm_now_sec();
    for (int r = 0; r < rounds; r++) {
        unsigned long long rs;
        char *work = tm_round_begin(r, &seed, &rs);
        part_load_and_damage(work, &rs);
        part_chain(work, &rs);
        part_kill(work, &rs);
        tm_round_end(work);
    }
    printf("backup-load: %d rounds (seed %llu) in %.1f s: %llu backups under load, %llu restores exact within "
           "their bounds, %llu transactions, %llu kills recovered, %llu logs truncated, %llu damaged sets refused\n",
           rounds, seed0, tm_now_sec() - t0, (unsigned long long)g_st.backups, (unsigned long long)g_st.restores,
           (unsigned long long)g_st.txns, (unsigned long long)g_st.kills, (unsigned long long)g_st.truncated,
           (unsigned long long)g_st.damaged);
    return 0;
}
