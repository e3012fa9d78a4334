/*
 * instances-stress — many instances, many threads, instances created and terminated under load.
 *
 * --instances slots (default 64), each with its own directory (edb.chk, logs of 128 KiB, one
 * database with table "t"), are driven by --threads workers (default 16) for --seconds (default 8).
 * Each worker repeatedly picks a random slot:
 *   - no instance running there: create it (JetCreateInstance with the slot's name, JetInit,
 *     attach or create the database) under the slot's mutex, then publish its handle;
 *   - otherwise, without the slot's mutex: a session, then a few durable transactions of one
 *     JetPutRecord each, with a key (thread, counter) no other transaction uses and a value derived
 *     from the key. A transaction is ACKED when JetCommitTransaction returned success and UNKNOWN
 *     when any of its calls failed. Calls may fail only with the errors a racing JetTerm produces
 *     (TermInProgress, InvalidSesid, InvalidParameter, NotInitialized, InvalidTableId,
 *     InvalidDatabaseId); anything else fails the test;
 *   - now and then: terminate the slot's instance (JetTerm, or JetTerm2 Complete or Dirty) under the
 *     slot's mutex while other workers are inside calls on it; JetGetInstanceInfo + JetFreeBuffer;
 *     JetGetSystemParameter; JetSetSystemParameter of the parameters that may change while an
 *     instance runs (CacheSizeMax, CircularLog, OSSnapshotTimeout).
 * At the end every instance is terminated, every slot is opened again (recovery after a dirty term)
 * and checked: every ACKED key is present with its exact value, no key outside ACKED ∪ UNKNOWN
 * exists, and every page of every database file verifies.
 *
 * Meant to run under ThreadSanitizer too (test.sh's build-tsan): it is the test that makes the
 * engine's cross-instance and term-versus-call paths run concurrently.
 *
 * Usage: instances-stress [--seconds N] [--instances N] [--threads N] [--seed S]
 * Exit 0 = pass (one summary line on stdout), 1 = a check failed, 2 = bad usage.
 */
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "jet.h"
#include "testhooks-int.h"
#include "../unit/testutil.h"

#define MAX_VALUE 3000
#define KEY_LEN 8

enum { ST_NONE = 0, ST_UNKNOWN = 1, ST_ACKED = 2 };

struct slot {
    pthread_mutex_t mu;          /* held only while creating/initializing or terminating */
    _Atomic JET_INSTANCE inst;   /* 0: no running instance; read by workers without mu */
    char name[32];
    char *dir;
    char *dbpath;
};

/* What one worker did with its keys: rec[counter] for key (tid, counter). Written only by its
 * worker, read by main after the join. */
struct rec {
    uint16_t slot;
    uint8_t state;
};

struct worker {
    pthread_t th;
    uint32_t tid;
    unsigned long long rng;
    struct rec *rec;
    uint32_t nrec, caprec;
};

static int g_seconds = 8, g_nslots = 64, g_nthreads = 16;
static struct slot *g_slots;
static atomic_bool g_stop, g_failed;
static atomic_ulong n_create, n_term_abrupt, n_term_complete, n_term_dirty, n_term_refused;
static atomic_ulong n_acked, n_raced, n_info, n_getparam, n_setparam, n_sessions;

static void fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void fail(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("instances-stress: FAIL: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    atomic_store(&g_failed, true);
    atomic_store(&g_stop, true);
}

/* The errors a call may get because a JetTerm of its instance raced it. */
static int racing_err(JET_ERR e)
{
    return e == JET_errTermInProgress || e == JET_errInvalidSesid || e == JET_errInvalidParameter ||
           e == JET_errNotInitialized || e == JET_errInvalidTableId || e == JET_errInvalidDatabaseId;
}

/* 0: success or a warning; 1: failed because of a racing term; -1: real failure (reported). */
static int classify(JET_ERR e, const char *call, int slot)
{
    if (e >= 0)
        return 0;
    if (racing_err(e)) {
        atomic_fetch_add(&n_raced, 1);
        return 1;
    }
    fail("%s on slot %d: error %ld", call, slot, e);
    return -1;
}

static void keybytes(uint32_t tid, uint32_t ctr, uint8_t k[KEY_LEN])
{
    for (int i = 0; i < 4; i++) {
        k[i] = (uint8_t)(tid >> (24 - 8 * i));
        k[4 + i] = (uint8_t)(ctr >> (24 - 8 * i));
    }
}

/* The value of key (tid, ctr): its length and bytes depend on nothing else. Every 16th value is
 * large so that the 128 KiB logs roll often and checkpoints run in every instance. */
static uint32_t value_for(uint32_t tid, uint32_t ctr, uint8_t *out)
{
    unsigned long long s = ((unsigned long long)tid << 32 | ctr) * 0x9E3779B97F4A7C15ULL + 1;
    uint32_t len = (uint32_t)(tu_rand(&s) % 200);
    if (ctr % 16 == 15)
        len = MAX_VALUE - (uint32_t)(tu_rand(&s) % 500);
    for (uint32_t i = 0; i < len; i++)
        out[i] = (uint8_t)tu_rand(&s);
    return len;
}

static JET_ERR set_params(JET_INSTANCE *inst, struct slot *sl)
{
    JET_ERR e;
    if ((e = JetSetSystemParameter(inst, 0, JET_paramSystemPath, 0, sl->dir)) < 0 ||
        (e = JetSetSystemParameter(inst, 0, JET_paramLogFilePath, 0, sl->dir)) < 0 ||
        (e = JetSetSystemParameter(inst, 0, JET_paramTempPath, 0, sl->dir)) < 0 ||
        (e = JetSetSystemParameter(inst, 0, JET_paramLogFileSize, 128, NULL)) < 0 ||
        (e = JetSetSystemParameter(inst, 0, JET_paramCacheSizeMax, 64, NULL)) < 0)
        return e;
    return JET_errSuccess;
}

/* Create, initialize and open the slot's instance and database. Under sl->mu. On success the
 * instance runs with the database attached, and no session is left open. */
static JET_ERR open_slot(struct slot *sl, JET_INSTANCE *out, const char **what)
{
    JET_INSTANCE inst = 0;
    JET_SESID ses = 0;
    JET_DBID db;
    JET_TABLEID t;
    JET_ERR e;
    *what = "JetCreateInstance";
    if ((e = JetCreateInstance(&inst, sl->name)) < 0)
        return e;
    *what = "JetSetSystemParameter";
    if ((e = set_params(&inst, sl)) < 0)
        goto fail;
    *what = "JetInit";
    if ((e = JetInit(&inst)) < 0)
        goto fail;
    *what = "JetBeginSession";
    if ((e = JetBeginSession(inst, &ses, NULL, NULL)) < 0)
        goto fail;
    *what = "JetAttachDatabase";
    e = JetAttachDatabase(ses, sl->dbpath, 0);
    if (e == JET_errFileNotFound) {
        *what = "JetCreateDatabase";
        if ((e = JetCreateDatabase(ses, sl->dbpath, NULL, &db, 0)) < 0)
            goto fail;
        *what = "JetCreateTable";
        if ((e = JetCreateTable(ses, db, "t", 0, 0, &t)) < 0)
            goto fail;
    } else if (e < 0) {
        goto fail;
    }
    *what = "JetEndSession";
    if ((e = JetEndSession(ses, 0)) < 0)
        goto fail;
    *out = inst;
    return JET_errSuccess;
fail:
    JetTerm(inst);
    return e;
}

/* A fresh key for this worker, recorded as UNKNOWN until its commit returns success. */
static uint32_t new_key(struct worker *w, int slot)
{
    if (w->nrec == w->caprec) {
        w->caprec = w->caprec ? w->caprec * 2 : 1024;
        w->rec = realloc(w->rec, w->caprec * sizeof *w->rec);
        if (!w->rec)
            abort();
    }
    uint32_t ctr = w->nrec++;
    w->rec[ctr].slot = (uint16_t)slot;
    w->rec[ctr].state = ST_UNKNOWN;
    return ctr;
}

/* A session on a running instance: a few durable one-record transactions. Returns -1 on a real
 * failure (already reported). */
static int work(struct worker *w, int si, JET_INSTANCE inst)
{
    struct slot *sl = &g_slots[si];
    JET_SESID ses;
    JET_DBID db;
    JET_TABLEID t;
    uint8_t k[KEY_LEN], val[MAX_VALUE], got[MAX_VALUE];
    int c = classify(JetBeginSession(inst, &ses, NULL, NULL), "JetBeginSession", si);
    if (c)
        return c < 0 ? -1 : 0;
    atomic_fetch_add(&n_sessions, 1);
    if ((c = classify(JetOpenDatabase(ses, sl->dbpath, NULL, &db, 0), "JetOpenDatabase", si)))
        goto end;
    if ((c = classify(JetOpenTable(ses, db, "t", NULL, 0, 0, &t), "JetOpenTable", si)))
        goto end;
    int ntx = 1 + (int)(tu_rand(&w->rng) % 4);
    for (int i = 0; i < ntx && !c && !atomic_load(&g_stop); i++) {
        uint32_t ctr = new_key(w, si);
        keybytes(w->tid, ctr, k);
        uint32_t len = value_for(w->tid, ctr, val);
        if ((c = classify(JetBeginTransaction(ses), "JetBeginTransaction", si)))
            break;
        if ((c = classify(JetPutRecord(ses, t, k, KEY_LEN, val, len, JET_bitPutNoOverwrite),
                          "JetPutRecord", si)))
            break;
        if ((c = classify(JetCommitTransaction(ses, 0), "JetCommitTransaction", si)))
            break;
        w->rec[ctr].state = ST_ACKED;
        atomic_fetch_add(&n_acked, 1);
        /* Read our own commit back: it must be visible to a fresh read at once. */
        unsigned long got_len = 0;
        JET_ERR e = JetGetRecord(ses, t, k, KEY_LEN, got, sizeof got, &got_len, 0);
        if (e == JET_errRecordNotFound || (e >= 0 && (got_len != len || memcmp(got, val, len)))) {
            fail("slot %d: key (%u,%u) committed but read back %s", si, w->tid, ctr,
                 e < 0 ? "as absent" : "with a different value");
            c = -1;
        } else {
            c = classify(e, "JetGetRecord", si);
        }
    }
end:;
    /* After a racing term the session is gone (InvalidSesid) or going (TermInProgress). But a clean
     * term (JET_bitTermComplete) refused with TooManyActiveUsers gives TermInProgress only while it
     * decides, and then the instance runs on with this session and its open transaction: ending
     * it is retried until one or the other is known, or the transaction would hold the database's
     * writer lock for good. */
    JET_ERR e;
    for (int tries = 0; (e = JetEndSession(ses, 0)) == JET_errTermInProgress && tries < 30000; tries++)
        usleep(1000);
    int ce = classify(e, "JetEndSession", si);
    return c < 0 || ce < 0 ? -1 : 0;
}

static void side_calls(struct worker *w)
{
    uint64_t r = tu_rand(&w->rng) % 3;
    struct slot *sl = &g_slots[tu_rand(&w->rng) % (uint64_t)g_nslots];
    JET_INSTANCE inst = atomic_load(&sl->inst);
    if (r == 0) {
        unsigned long n = 0;
        JET_INSTANCE_INFO *info = NULL;
        JET_ERR e = JetGetInstanceInfo(&n, &info);
        if (e < 0) {
            fail("JetGetInstanceInfo: error %ld", e);
            return;
        }
        for (unsigned long i = 0; i < n; i++)
            if (!info[i].szInstanceName || strncmp(info[i].szInstanceName, "stress-", 7) ||
                info[i].cDatabases > 1)
                fail("JetGetInstanceInfo: unexpected entry %lu (%s, %lu databases)", i,
                     info[i].szInstanceName ? info[i].szInstanceName : "(null)",
                     (unsigned long)info[i].cDatabases);
        if (n > (unsigned long)g_nslots)
            fail("JetGetInstanceInfo: %lu instances, at most %d exist", n, g_nslots);
        JetFreeBuffer((char *)info);
        atomic_fetch_add(&n_info, 1);
    } else if (r == 1 && inst) {
        JET_API_PTR v = 0;
        char path[4096];
        JET_ERR e = JetGetSystemParameter(inst, 0, JET_paramCacheSizeMax, &v, NULL, 0);
        if (e >= 0)
            e = JetGetSystemParameter(inst, 0, JET_paramLogFilePath, NULL, path, sizeof path);
        if (e >= 0 && strcmp(path, sl->dir))
            fail("JetGetSystemParameter(LogFilePath) of %s gave %s", sl->name, path);
        else if (e < 0 && e != JET_errInvalidParameter)
            fail("JetGetSystemParameter of %s: error %ld", sl->name, e);
        atomic_fetch_add(&n_getparam, 1);
    } else if (r == 2 && inst) {
        static const unsigned long ids[] = {JET_paramCacheSizeMax, JET_paramCircularLog,
                                            JET_paramOSSnapshotTimeout};
        unsigned long id = ids[tu_rand(&w->rng) % 3];
        JET_API_PTR v = id == JET_paramCacheSizeMax ? 64 + tu_rand(&w->rng) % 192
                        : id == JET_paramCircularLog ? tu_rand(&w->rng) % 2
                                                     : 1000 + tu_rand(&w->rng) % 100000;
        JET_ERR e = JetSetSystemParameter(&inst, 0, id, v, NULL);
        if (e < 0 && e != JET_errInvalidParameter) /* a stale handle after a term */
            fail("JetSetSystemParameter(%lu) of %s: error %ld", id, sl->name, e);
        atomic_fetch_add(&n_setparam, 1);
    }
}

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    while (!atomic_load(&g_stop)) {
        int si = (int)(tu_rand(&w->rng) % (uint64_t)g_nslots);
        struct slot *sl = &g_slots[si];
        uint64_t dice = tu_rand(&w->rng) % 1000;
        JET_INSTANCE inst = atomic_load(&sl->inst);
        if (!inst) {
            pthread_mutex_lock(&sl->mu);
            if (!atomic_load(&sl->inst)) {
                const char *what = "";
                JET_ERR e = open_slot(sl, &inst, &what);
                if (e < 0)
                    fail("%s on slot %d: error %ld", what, si, e);
                else {
                    atomic_store(&sl->inst, inst);
                    atomic_fetch_add(&n_create, 1);
                }
            }
            pthread_mutex_unlock(&sl->mu);
        } else if (dice < 15) {
            /* Terminate while other workers may be inside calls on this instance. */
            pthread_mutex_lock(&sl->mu);
            inst = atomic_load(&sl->inst);
            if (inst) {
                uint64_t how = tu_rand(&w->rng) % 10;
                JET_GRBIT g = how < 6 ? JET_bitTermAbrupt : how < 8 ? JET_bitTermComplete : JET_bitTermDirty;
                /* Workers that read the handle before it is cleared race the term: the point. */
                JET_ERR e = g == JET_bitTermAbrupt ? JetTerm(inst) : JetTerm2(inst, g);
                if (e == JET_errTooManyActiveUsers && g == JET_bitTermComplete) {
                    atomic_fetch_add(&n_term_refused, 1); /* a transaction was open: still running */
                } else if (e < 0 && !(e == JET_errDirtyShutdown && g == JET_bitTermDirty)) {
                    fail("JetTerm2(0x%lx) on slot %d: error %ld", (unsigned long)g, si, e);
                } else {
                    atomic_store(&sl->inst, 0);
                    atomic_fetch_add(g == JET_bitTermAbrupt    ? &n_term_abrupt
                                     : g == JET_bitTermComplete ? &n_term_complete
                                                                : &n_term_dirty,
                                     1);
                }
            }
            pthread_mutex_unlock(&sl->mu);
        } else if (dice < 45) {
            side_calls(w);
        } else if (work(w, si, inst) < 0) {
            break;
        }
    }
    return NULL;
}

/* Re-open slot si and compare its table with what the workers recorded. */
static int verify_slot(int si, struct worker *ws, unsigned long *present_unknown, unsigned long *nrecords)
{
    struct slot *sl = &g_slots[si];
    struct stat st;
    unsigned long acked_here = 0;
    for (int w = 0; w < g_nthreads; w++)
        for (uint32_t c = 0; c < ws[w].nrec; c++)
            acked_here += ws[w].rec[c].slot == si && ws[w].rec[c].state == ST_ACKED;
    if (stat(sl->dbpath, &st) < 0) {
        if (acked_here) {
            fail("slot %d: no database file but %lu acknowledged commits", si, acked_here);
            return -1;
        }
        return 0;
    }
    JET_INSTANCE inst;
    const char *what;
    JET_ERR e = open_slot(sl, &inst, &what);
    if (e < 0) {
        fail("verify: %s on slot %d: error %ld", what, si, e);
        return -1;
    }
    JET_SESID ses;
    JET_DBID db;
    JET_TABLEID t;
    static uint8_t val[MAX_VALUE], want[MAX_VALUE];
    int rc = -1;
    if ((e = JetBeginSession(inst, &ses, NULL, NULL)) < 0 ||
        (e = JetOpenDatabase(ses, sl->dbpath, NULL, &db, 0)) < 0 ||
        (e = JetOpenTable(ses, db, "t", NULL, 0, 0, &t)) < 0) {
        fail("verify: opening slot %d: error %ld", si, e);
        goto out;
    }
    /* Every acknowledged key, exactly. */
    for (int w = 0; w < g_nthreads; w++)
        for (uint32_t c = 0; c < ws[w].nrec; c++) {
            if (ws[w].rec[c].slot != si || ws[w].rec[c].state != ST_ACKED)
                continue;
            uint8_t k[KEY_LEN];
            keybytes(ws[w].tid, c, k);
            uint32_t len = value_for(ws[w].tid, c, want);
            unsigned long got = 0;
            e = JetGetRecord(ses, t, k, KEY_LEN, val, sizeof val, &got, 0);
            if (e < 0 || got != len || memcmp(val, want, len)) {
                fail("slot %d: acknowledged key (%u,%u) %s (error %ld)", si, ws[w].tid, c,
                     e < 0 ? "lost" : "has the wrong value", e);
                goto out;
            }
        }
    /* Nothing else: every key present was at least attempted here, with its own value. */
    e = JetMove(ses, t, JET_MoveFirst, 0);
    while (e >= 0) {
        uint8_t k[16];
        unsigned long kl = 0, vl = 0;
        if ((e = JetRetrieveKey(ses, t, k, sizeof k, &kl, 0)) < 0 ||
            (e = JetRetrieveRecord(ses, t, val, sizeof val, &vl, 0)) < 0) {
            fail("slot %d: reading the table: error %ld", si, e);
            goto out;
        }
        uint32_t tid = (uint32_t)k[0] << 24 | (uint32_t)k[1] << 16 | (uint32_t)k[2] << 8 | k[3];
        uint32_t c = (uint32_t)k[4] << 24 | (uint32_t)k[5] << 16 | (uint32_t)k[6] << 8 | k[7];
        if (kl != KEY_LEN || tid >= (uint32_t)g_nthreads || c >= ws[tid].nrec ||
            ws[tid].rec[c].slot != si || ws[tid].rec[c].state == ST_NONE) {
            fail("slot %d: key (%u,%u) of length %lu present but never written here", si, tid, c, kl);
            goto out;
        }
        uint32_t len = value_for(tid, c, want);
        if (vl != len || memcmp(val, want, len)) {
            fail("slot %d: key (%u,%u) has the wrong value", si, tid, c);
            goto out;
        }
        if (ws[tid].rec[c].state == ST_UNKNOWN)
            (*present_unknown)++;
        (*nrecords)++;
        e = JetMove(ses, t, JET_MoveNext, 0);
    }
    if (e != JET_errNoCurrentRecord) {
        fail("slot %d: JetMove: error %ld", si, e);
        goto out;
    }
    rc = 0;
out:
    if ((e = JetTerm(inst)) < 0) {
        fail("verify: JetTerm on slot %d: error %ld", si, e);
        rc = -1;
    }
    uint64_t np = 0, nt = 0, nr = 0;
    if (rc == 0 && (e = eng_verify_file(sl->dbpath, &np, &nt, &nr)) < 0) {
        fail("slot %d: %s does not verify: error %ld", si, sl->dbpath, e);
        rc = -1;
    }
    return rc;
}

static int parse_int(const char *s, int lo, int hi)
{
    char *end;
    long v = strtol(s, &end, 10);
    if (*s == 0 || *end || v < lo || v > hi) {
        fprintf(stderr, "instances-stress: bad number %s (%d..%d)\n", s, lo, hi);
        exit(2);
    }
    return (int)v;
}

int main(int argc, char **argv)
{
    unsigned long long seed = 0;
    int have_seed = 0;
    for (int i = 1; i < argc; i++) {
        if (i + 1 >= argc) {
            fprintf(stderr, "usage: %s [--seconds N] [--instances N] [--threads N] [--seed S]\n", argv[0]);
            return 2;
        }
        if (!strcmp(argv[i], "--seconds"))
            g_seconds = parse_int(argv[++i], 0, 86400);
        else if (!strcmp(argv[i], "--instances"))
            g_nslots = parse_int(argv[++i], 1, 1000);
        else if (!strcmp(argv[i], "--threads"))
            g_nthreads = parse_int(argv[++i], 1, 1024);
        else if (!strcmp(argv[i], "--seed")) {
            seed = strtoull(argv[++i], NULL, 0);
            have_seed = 1;
        } else {
            fprintf(stderr, "usage: %s [--seconds N] [--instances N] [--threads N] [--seed S]\n", argv[0]);
            return 2;
        }
    }
    if (!have_seed)
        seed = tu_seed("instances-stress");
    if (!seed)
        seed = 1;
    fprintf(stderr, "instances-stress: seed %llu, %d instances, %d threads, %d s\n", seed, g_nslots,
            g_nthreads, g_seconds);

    /* Global: must be set while no instance exists. Headroom over the slots for nothing else. */
    JET_ERR e = JetSetSystemParameter(NULL, 0, JET_paramMaxInstances, (JET_API_PTR)g_nslots + 16, NULL);
    if (e < 0) {
        fprintf(stderr, "instances-stress: FAIL: JetSetSystemParameter(MaxInstances): error %ld\n", e);
        return 1;
    }
    char *root = tu_mkdtemp("instances-stress");
    g_slots = calloc((size_t)g_nslots, sizeof *g_slots);
    struct worker *ws = calloc((size_t)g_nthreads, sizeof *ws);
    if (!g_slots || !ws)
        abort();
    for (int i = 0; i < g_nslots; i++) {
        struct slot *sl = &g_slots[i];
        pthread_mutex_init(&sl->mu, NULL);
        snprintf(sl->name, sizeof sl->name, "stress-%d", i);
        sl->dir = tu_path(root, sl->name);
        if (mkdir(sl->dir, 0755) < 0) {
            perror(sl->dir);
            return 1;
        }
        sl->dbpath = tu_path(sl->dir, "s.edb");
    }

    for (int i = 0; i < g_nthreads; i++) {
        ws[i].tid = (uint32_t)i;
        ws[i].rng = seed ^ (0xD1B54A32D192ED03ULL * (unsigned long long)(i + 1));
        if (!ws[i].rng)
            ws[i].rng = 1;
        if (pthread_create(&ws[i].th, NULL, worker_main, &ws[i]) != 0) {
            perror("pthread_create");
            return 1;
        }
    }
    struct timespec t0, now;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    do {
        usleep(50 * 1000);
        clock_gettime(CLOCK_MONOTONIC, &now);
    } while (!atomic_load(&g_stop) && now.tv_sec - t0.tv_sec < g_seconds);
    atomic_store(&g_stop, true);
    for (int i = 0; i < g_nthreads; i++)
        pthread_join(ws[i].th, NULL);

    unsigned long running = 0;
    for (int i = 0; i < g_nslots; i++) {
        JET_INSTANCE inst = atomic_load(&g_slots[i].inst);
        if (!inst)
            continue;
        running++;
        if ((e = JetTerm(inst)) < 0)
            fail("final JetTerm of slot %d: error %ld", i, e);
        atomic_store(&g_slots[i].inst, 0);
    }
    unsigned long long attempted = 0;
    for (int w = 0; w < g_nthreads; w++)
        attempted += ws[w].nrec;
    unsigned long acked = 0, unknown = 0, present_unknown = 0, nrecords = 0;
    for (int w = 0; w < g_nthreads; w++)
        for (uint32_t c = 0; c < ws[w].nrec; c++) {
            acked += ws[w].rec[c].state == ST_ACKED;
            unknown += ws[w].rec[c].state == ST_UNKNOWN;
        }
    int bad = atomic_load(&g_failed);
    for (int i = 0; i < g_nslots && !bad; i++)
        bad = verify_slot(i, ws, &present_unknown, &nrecords) < 0;
    if (bad || atomic_load(&g_failed)) {
        fprintf(stderr, "instances-stress: FAIL (seed %llu; files kept in %s)\n", seed, root);
        return 1;
    }
    if (acked == 0) {
        fprintf(stderr, "instances-stress: FAIL: no transaction was acknowledged\n");
        return 1;
    }
    printf("instances-stress: OK %d s, %d instances, %d threads: %lu creates, %lu terms "
           "(%lu abrupt, %lu complete, %lu dirty, %lu refused), %lu sessions, %lu commits acked, "
           "%lu unknown (%lu present), %lu records verified, %lu calls failed by a racing term, "
           "%lu instance infos, %lu/%lu parameter gets/sets, %lu running at the end\n",
           g_seconds, g_nslots, g_nthreads, atomic_load(&n_create),
           atomic_load(&n_term_abrupt) + atomic_load(&n_term_complete) + atomic_load(&n_term_dirty),
           atomic_load(&n_term_abrupt), atomic_load(&n_term_complete), atomic_load(&n_term_dirty),
           atomic_load(&n_term_refused), atomic_load(&n_sessions), acked, unknown, present_unknown,
           nrecords, atomic_load(&n_raced), atomic_load(&n_info), atomic_load(&n_getparam),
           atomic_load(&n_setparam), running);
    for (int i = 0; i < g_nslots; i++) {
        pthread_mutex_destroy(&g_slots[i].mu);
        free(g_slots[i].dir);
        free(g_slots[i].dbpath);
    }
    for (int w = 0; w < g_nthreads; w++)
        free(ws[w].rec);
    free(ws);
    free(g_slots);
    tu_rmtree(root);
    free(root);
    return 0;
}
