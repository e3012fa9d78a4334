/*
 * txmodel.c — the transaction model shared by backup-load and snapshot-copy: writers, values,
 * the prefix-within-bounds check and reading a table back (see txmodel.h).
 */
#include "txmodel.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "testhooks-int.h"
#include "../unit/testutil.h"

struct tm_config tm_cfg;
int tm_round;
unsigned long long tm_round_seed;
const char *tm_work = "";

void tm_die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "%s: round %d (seed %llu, files in %s): ", tm_cfg.prog, tm_round, tm_round_seed, tm_work);
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    fflush(stderr);
    /* _exit, not exit: a writer thread may be the one failing, and nothing may run on. */
    _exit(1);
}

static atomic_uint_fast64_t g_clock = 1;
uint64_t tm_tick(void) { return atomic_fetch_add(&g_clock, 1); }

void tm_sleep_ms(unsigned ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
        ;
}

void tm_sleep_us(unsigned us)
{
    struct timespec ts = {us / 1000000, (long)(us % 1000000) * 1000L};
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
        ;
}

double tm_now_sec(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* ------------------------------------------------------------------------------------------- */
/* Transactions and their values */

static uint64_t mix(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ULL;
    x ^= x >> 33;
    return x;
}

/* One value in eight is 1.5..6 KB, so records of several pages' worth move around. */
uint32_t tm_value_for(uint32_t owner, uint32_t seq, uint32_t gkey, uint8_t *out)
{
    uint64_t h = mix(((uint64_t)owner << 56) ^ ((uint64_t)seq << 20) ^ gkey ^ tm_cfg.value_salt);
    uint32_t len = (h % 8 == 0) ? 1500 + (uint32_t)((h >> 8) % 4500) : 12 + (uint32_t)((h >> 8) % 250);
    unsigned long long s = h | 1;
    for (int i = 0; i < 4; i++) {
        out[i] = (uint8_t)(owner >> (8 * i));
        out[4 + i] = (uint8_t)(seq >> (8 * i));
        out[8 + i] = (uint8_t)(gkey >> (8 * i));
    }
    for (uint32_t i = 12; i < len; i++)
        out[i] = (uint8_t)tu_rand(&s);
    return len;
}

uint32_t tm_gkey_of(int owner, uint32_t k) { return (uint32_t)owner * tm_cfg.keys_per + k; }

void tm_keybytes(uint32_t g, uint8_t k[4])
{
    k[0] = (uint8_t)(g >> 24);
    k[1] = (uint8_t)(g >> 16);
    k[2] = (uint8_t)(g >> 8);
    k[3] = (uint8_t)g;
}

struct tm_txn *tm_push_txn(struct tm_owner *w)
{
    if (w->n == w->cap) {
        size_t nc = w->cap ? w->cap * 2 : 256;
        struct tm_txn *nt = realloc(w->tx, nc * sizeof *nt);
        EXPECT(nt, "out of memory");
        w->tx = nt;
        w->cap = nc;
    }
    struct tm_txn *x = &w->tx[w->n];
    memset(x, 0, sizeof *x);
    return x;
}

void tm_do_txn(struct tm_owner *w, JET_SESID ses, JET_TABLEID t, uint8_t *val)
{
    struct tm_txn *x = tm_push_txn(w);
    uint32_t seq = (uint32_t)w->n + 1;
    x->nops = 1 + (uint32_t)(tu_rand(&w->seed) % TM_MAXOPS);
    for (uint32_t i = 0; i < x->nops; i++) {
        x->ops[i].key = (uint16_t)(tu_rand(&w->seed) % tm_cfg.keys_per);
        x->ops[i].del = tu_rand(&w->seed) % 100 < 25;
    }
    if (w->lazy_commits)
        x->lazy = tu_rand(&w->seed) % 100 < w->lazy_pct;
    x->ack = TM_PENDING;
    x->start = tm_tick();
    /* From here on it counts as started; progress checks read n from another thread. */
    __atomic_store_n(&w->n, w->n + 1, __ATOMIC_RELEASE);
    if (w->on_begin)
        w->on_begin(w, seq, x);
    CHECK(JetBeginTransaction(ses));
    for (uint32_t i = 0; i < x->nops; i++) {
        uint32_t g = tm_gkey_of(w->id, x->ops[i].key);
        uint8_t k[4];
        tm_keybytes(g, k);
        if (x->ops[i].del) {
            JET_ERR e = JetDeleteRecord(ses, t, k, 4, 0);
            if (e != JET_errRecordNotFound)
                CHECK(e);
        } else {
            uint32_t len = tm_value_for((uint32_t)w->id, seq, g, val);
            CHECK(JetPutRecord(ses, t, k, 4, val, len, 0));
        }
    }
    CHECK(JetCommitTransaction(ses, x->lazy ? JET_bitCommitLazyFlush : 0));
    x->ack = tm_tick();
    atomic_fetch_add(&w->nacked, 1);
    if (w->on_ack)
        w->on_ack(w, seq);
}

static void *writer_main(void *arg)
{
    struct tm_owner *w = arg;
    JET_SESID ses;
    JET_DBID db;
    JET_TABLEID t;
    uint8_t *val = malloc(TM_MAXVAL);
    EXPECT(val, "out of memory");
    CHECK(JetBeginSession(w->jinst, &ses, NULL, NULL));
    CHECK(JetOpenDatabase(ses, w->dbpath, NULL, &db, 0));
    CHECK(JetOpenTable(ses, db, "t", NULL, 0, 0, &t));
    while (!atomic_load(w->stop)) {
        tm_do_txn(w, ses, t, val);
        if (w->pace_us)
            tm_sleep_us((unsigned)(tu_rand(&w->seed) % w->pace_us));
    }
    /* Every lazy commit durable: after this even a dirty term must keep all of them. */
    if (w->lazy_commits)
        CHECK(JetCommitTransaction(ses, JET_bitWaitAllLevel0Commit));
    CHECK(JetCloseTable(ses, t));
    CHECK(JetCloseDatabase(ses, db, 0));
    CHECK(JetEndSession(ses, 0));
    free(val);
    return NULL;
}

void tm_owners_init(struct tm_owner *o, int n, unsigned long long *seed)
{
    for (int i = 0; i < n; i++) {
        free(o[i].tx);
        memset(&o[i], 0, sizeof o[i]);
        o[i].id = i;
        o[i].seed = tu_rand(seed) | 1;
    }
}

void tm_owners_free(struct tm_owner *o, int n)
{
    for (int i = 0; i < n; i++) {
        free(o[i].tx);
        o[i].tx = NULL;
        o[i].n = o[i].cap = 0;
    }
}

void tm_writers_run(struct tm_owner *w, int n, atomic_bool *stop)
{
    atomic_store(stop, false);
    for (int i = 0; i < n; i++) {
        w[i].stop = stop;
        EXPECT(pthread_create(&w[i].th, NULL, writer_main, &w[i]) == 0, "pthread_create failed");
    }
}

void tm_writers_join(struct tm_owner *w, int n, atomic_bool *stop)
{
    atomic_store(stop, true);
    for (int i = 0; i < n; i++)
        pthread_join(w[i].th, NULL);
}

/* ------------------------------------------------------------------------------------------- */
/* The model check */

size_t tm_acked_before(const struct tm_owner *w, uint64_t x)
{
    size_t k = 0;
    while (k < w->n && w->tx[k].ack != TM_PENDING && w->tx[k].ack < x)
        k++;
    return k;
}

size_t tm_started_before(const struct tm_owner *w, uint64_t y)
{
    size_t k = 0;
    while (k < w->n && w->tx[k].start < y)
        k++;
    return k;
}

static void apply(uint32_t *m, const struct tm_txn *x, uint32_t seq)
{
    for (uint32_t i = 0; i < x->nops; i++)
        m[x->ops[i].key] = x->ops[i].del ? 0 : seq;
}

size_t tm_match(const struct tm_owner *w, const uint32_t *got, size_t lo, size_t hi, const char *what)
{
    const char *who = tm_cfg.owner_word, *holds = tm_cfg.holds_word;
    int nk = (int)tm_cfg.keys_per;
    uint32_t *m = calloc((size_t)nk, sizeof *m);
    EXPECT(m, "out of memory");
    EXPECT(lo <= hi && hi <= w->n, "%s: bad bounds %zu..%zu of %zu", what, lo, hi, w->n);
    size_t j = 0;
    for (; j < lo; j++)
        apply(m, &w->tx[j], (uint32_t)j + 1);
    char first[200] = "";
    for (;; j++) {
        int diff = -1;
        for (int k = 0; k < nk && diff < 0; k++)
            if (m[k] != got[k])
                diff = k;
        if (diff < 0) {
            if (tm_cfg.verbose)
                fprintf(stderr, "  %s: %s %d: %zu txns, bounds [%zu, %zu], %s %zu\n", what, who, w->id, w->n, lo, hi,
                        holds, j);
            free(m);
            return j;
        }
        if (j == lo)
            snprintf(first, sizeof first, "after %zu txns key %d should hold txn %u, %s %u", j, diff, m[diff], holds,
                     got[diff]);
        if (j == hi)
            tm_die("%s: %s %d matches no prefix of its %zu transactions within [%zu, %zu]: %s; after %zu txns "
                   "key %d should hold txn %u, %s %u",
                   what, who, w->id, w->n, lo, hi, first, j, diff, m[diff], holds, got[diff]);
        apply(m, &w->tx[j], (uint32_t)j + 1);
    }
}

/* ------------------------------------------------------------------------------------------- */
/* Databases */

void tm_create_db(JET_INSTANCE inst, const char *path)
{
    JET_SESID s;
    JET_DBID db;
    JET_TABLEID t;
    CHECK(JetBeginSession(inst, &s, NULL, NULL));
    CHECK(JetCreateDatabase(s, path, NULL, &db, 0));
    CHECK(JetCreateTable(s, db, "t", 0, 0, &t));
    CHECK(JetCloseTable(s, t));
    CHECK(JetCloseDatabase(s, db, 0));
    CHECK(JetEndSession(s, 0));
}

void tm_read_table(JET_INSTANCE v, const char *path, const struct tm_owner *owners, int nowners, uint64_t mine,
                   const char *where, uint32_t *got)
{
    const char *who = tm_cfg.owner_word;
    uint32_t nk = tm_cfg.keys_per;
    JET_SESID s;
    JET_DBID db;
    JET_TABLEID t;
    CHECK(JetBeginSession(v, &s, NULL, NULL));
    JET_ERR e = JetAttachDatabase(s, path, 0);
    EXPECT(e >= 0, "attaching %s: %ld", path, (long)e); /* a warning if recovery attached it already */
    CHECK(JetOpenDatabase(s, path, NULL, &db, 0));
    CHECK(JetOpenTable(s, db, "t", NULL, 0, 0, &t));
    memset(got, 0, sizeof(uint32_t) * (size_t)nowners * nk);
    uint8_t *val = malloc(TM_MAXVAL), *want = malloc(TM_MAXVAL);
    EXPECT(val && want, "out of memory");
    e = JetMove(s, t, JET_MoveFirst, 0);
    while (e == JET_errSuccess) {
        uint8_t k[8];
        unsigned long kl = 0, vl = 0;
        CHECK(JetRetrieveKey(s, t, k, sizeof k, &kl, 0));
        CHECK(JetRetrieveRecord(s, t, val, TM_MAXVAL, &vl, 0));
        EXPECT(kl == 4, "%s: a key of %lu bytes", path, kl);
        uint32_t g = ((uint32_t)k[0] << 24) | ((uint32_t)k[1] << 16) | ((uint32_t)k[2] << 8) | k[3];
        int owner = (int)(g / nk);
        EXPECT(owner < nowners && (mine >> owner & 1), "%s: key %u belongs to no %s of %s", path, g, who, where);
        EXPECT(vl >= 12, "%s: key %u has a value of %lu bytes", path, g, vl);
        uint32_t seq = (uint32_t)val[4] | ((uint32_t)val[5] << 8) | ((uint32_t)val[6] << 16) | ((uint32_t)val[7] << 24);
        EXPECT(seq >= 1 && seq <= owners[owner].n, "%s: key %u holds a value of txn %u of %s %d, which %s %zu", path, g,
               seq, who, owner, tm_cfg.ran_word, owners[owner].n);
        uint32_t wl = tm_value_for((uint32_t)owner, seq, g, want);
        EXPECT(vl == wl && !memcmp(val, want, wl), "%s: key %u has a wrong value (len %lu, txn %u wrote %u bytes)",
               path, g, vl, seq, wl);
        got[(size_t)owner * nk + g % nk] = seq;
        e = JetMove(s, t, JET_MoveNext, 0);
    }
    EXPECT(e == JET_errNoCurrentRecord, "%s: JetMove failed with %ld", path, (long)e);
    CHECK(JetCloseTable(s, t));
    CHECK(JetCloseDatabase(s, db, 0));
    CHECK(JetEndSession(s, 0));
    free(val);
    free(want);
}

void tm_verify_pages(const char *path)
{
    uint64_t np = 0, nt = 0, nr = 0;
    JET_ERR e = eng_verify_file(path, &np, &nt, &nr);
    EXPECT(e == JET_errSuccess, "%s fails page verification: %ld", path, (long)e);
}

/* ------------------------------------------------------------------------------------------- */
/* Rounds */

bool tm_parse_args(int argc, char **argv, int *rounds, unsigned long long *seed)
{
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--rounds") && i + 1 < argc)
            *rounds = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--seed") && i + 1 < argc)
            *seed = strtoull(argv[++i], NULL, 0);
        else {
            fprintf(stderr, "usage: %s [--rounds N] [--seed S]\n", argv[0]);
            return false;
        }
    }
    return true;
}

unsigned long long tm_pick_seed(unsigned long long seed)
{
    if (!seed)
        return tu_seed(tm_cfg.prog);
    fprintf(stderr, "%s: seed %llu\n", tm_cfg.prog, seed);
    return seed;
}

char *tm_round_begin(int r, unsigned long long *seed, unsigned long long *rs)
{
    tm_round = r;
    tm_round_seed = r ? tu_rand(seed) : *seed;
    *rs = tm_round_seed;
    char *work = tu_mkdtemp(tm_cfg.prog);
    tm_work = work;
    return work;
}

void tm_round_end(char *work)
{
    tu_rmtree(work);
    tm_work = "";
    free(work);
}
