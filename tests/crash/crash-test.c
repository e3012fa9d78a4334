/*
 * crash-test — real processes, real SIGKILL.
 *
 * Each round forks a child that opens the instance in DIR and commits random transactions
 * (1..8 puts/deletes over 2,000 keys, values from 0 bytes to 20 KiB so some span overflow pages),
 * each one durable (JetCommitTransaction with grbit 0). Before committing it tells the parent
 * what the transaction does; after the commit returns it sends an acknowledgement. The parent
 * SIGKILLs the child at a random moment, then runs JetInit (recovery) itself and checks:
 *   - every acknowledged transaction is present, in order, with exact values;
 *   - the one transaction that was in flight is either entirely present or entirely absent;
 *   - nothing else is there, and every page of the database file verifies.
 * The rounds continue on the same files, so damage would accumulate and be caught later too.
 * Usage: crash-test [--rounds N] [--seed S]
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "jet.h"
#include "testhooks-int.h"
#include "../unit/testutil.h"

#define NKEYS 2000
#define MAXOPS 8

struct op {
    uint32_t key;
    uint32_t len; /* value length; UINT32_MAX = delete */
};
struct msg {
    uint32_t kind; /* 1 = begin, 2 = ack */
    uint32_t nops;
    uint64_t seq;
    struct op ops[MAXOPS];
};

struct model {
    uint64_t seq[NKEYS]; /* 0 = absent */
    uint32_t len[NKEYS];
};

static const char *dir;
static char dbpath[4096];

#define CHECK(call)                                                                                \
    do {                                                                                           \
        JET_ERR e_ = (call);                                                                       \
        if (e_ < 0) {                                                                              \
            fprintf(stderr, "%s:%d: %s failed: %ld\n", __FILE__, __LINE__, #call, e_);            \
            exit(3);                                                                               \
        }                                                                                          \
    } while (0)

static void value_for(uint64_t seq, uint32_t key, uint32_t len, uint8_t *out)
{
    unsigned long long s = seq * 1000003ULL + key + 1;
    for (uint32_t i = 0; i < len; i++)
        out[i] = (uint8_t)tu_rand(&s);
}

static void keybytes(uint32_t key, uint8_t k[4])
{
    k[0] = (uint8_t)(key >> 24);
    k[1] = (uint8_t)(key >> 16);
    k[2] = (uint8_t)(key >> 8);
    k[3] = (uint8_t)key;
}

static JET_INSTANCE open_instance(int circular)
{
    JET_INSTANCE inst;
    CHECK(JetCreateInstance(&inst, "crash"));
    CHECK(JetSetSystemParameter(&inst, 0, JET_paramSystemPath, 0, dir));
    CHECK(JetSetSystemParameter(&inst, 0, JET_paramLogFilePath, 0, dir));
    CHECK(JetSetSystemParameter(&inst, 0, JET_paramLogFileSize, 128, NULL));
    CHECK(JetSetSystemParameter(&inst, 0, JET_paramCircularLog, (JET_API_PTR)circular, NULL));
    CHECK(JetSetSystemParameter(&inst, 0, JET_paramCacheSizeMax, 128, NULL));
    CHECK(JetInit(&inst));
    return inst;
}

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

static void child(int fd, uint64_t seq0, unsigned long long seed, int circular)
{
    JET_INSTANCE inst = open_instance(circular);
    JET_SESID ses;
    JET_DBID db;
    JET_TABLEID t;
    CHECK(JetBeginSession(inst, &ses, NULL, NULL));
    if (JetAttachDatabase(ses, dbpath, 0) == JET_errFileNotFound) {
        CHECK(JetCreateDatabase(ses, dbpath, NULL, &db, 0));
        CHECK(JetCreateTable(ses, db, "t", 0, 0, &t));
    } else {
        CHECK(JetOpenDatabase(ses, dbpath, NULL, &db, 0));
        CHECK(JetOpenTable(ses, db, "t", NULL, 0, 0, &t));
    }
    uint8_t *val = malloc(20480);
    uint64_t seq = seq0;
    for (;;) {
        struct msg m;
        memset(&m, 0, sizeof m);
        m.kind = 1;
        m.seq = ++seq;
        m.nops = 1 + (uint32_t)(tu_rand(&seed) % MAXOPS);
        CHECK(JetBeginTransaction(ses));
        for (uint32_t i = 0; i < m.nops; i++) {
            struct op *o = &m.ops[i];
            o->key = (uint32_t)(tu_rand(&seed) % NKEYS);
            uint8_t k[4];
            keybytes(o->key, k);
            uint64_t r = tu_rand(&seed) % 100;
            if (r < 25) {
                JET_ERR e = JetDeleteRecord(ses, t, k, 4, 0);
                if (e != JET_errRecordNotFound)
                    CHECK(e);
                o->len = UINT32_MAX;
            } else {
                o->len = r < 30 ? 4000 + (uint32_t)(tu_rand(&seed) % 16000) : (uint32_t)(tu_rand(&seed) % 300);
                value_for(seq, o->key, o->len, val);
                CHECK(JetPutRecord(ses, t, k, 4, val, o->len, 0));
            }
        }
        write_all(fd, &m, sizeof m);
        CHECK(JetCommitTransaction(ses, 0));
        m.kind = 2;
        write_all(fd, &m, sizeof m);
    }
}

static void apply(struct model *md, const struct msg *m)
{
    for (uint32_t i = 0; i < m->nops; i++) {
        const struct op *o = &m->ops[i];
        if (o->len == UINT32_MAX) {
            md->seq[o->key] = 0;
        } else {
            md->seq[o->key] = m->seq;
            md->len[o->key] = o->len;
        }
    }
}

/* Read the whole table into got; returns 0 if it matches md exactly. */
static int compare(JET_SESID ses, JET_TABLEID t, const struct model *md, char *why, size_t wn)
{
    static uint8_t val[20480], want[20480];
    int found[NKEYS] = {0};
    JET_ERR e = JetMove(ses, t, JET_MoveFirst, 0);
    while (e >= 0) {
        uint8_t k[8];
        unsigned long kl = 0, vl = 0;
        CHECK(JetRetrieveKey(ses, t, k, sizeof k, &kl, 0));
        CHECK(JetRetrieveRecord(ses, t, val, sizeof val, &vl, 0));
        if (kl != 4) {
            snprintf(why, wn, "key of length %lu", kl);
            return 1;
        }
        uint32_t key = ((uint32_t)k[0] << 24) | ((uint32_t)k[1] << 16) | ((uint32_t)k[2] << 8) | k[3];
        if (key >= NKEYS || !md->seq[key]) {
            snprintf(why, wn, "key %u present but should be absent", key);
            return 1;
        }
        value_for(md->seq[key], key, md->len[key], want);
        if (vl != md->len[key] || memcmp(val, want, vl)) {
            snprintf(why, wn, "key %u has the wrong value (len %lu, want %u from txn %llu)", key, vl,
                     md->len[key], (unsigned long long)md->seq[key]);
            return 1;
        }
        found[key] = 1;
        e = JetMove(ses, t, JET_MoveNext, 0);
    }
    if (e != JET_errNoCurrentRecord) {
        snprintf(why, wn, "JetMove failed with %ld", e);
        return 1;
    }
    for (uint32_t k = 0; k < NKEYS; k++)
        if (md->seq[k] && !found[k]) {
            snprintf(why, wn, "key %u (txn %llu) missing", k, (unsigned long long)md->seq[k]);
            return 1;
        }
    return 0;
}

int main(int argc, char **argv)
{
    int rounds = 50;
    unsigned long long seed = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--rounds") && i + 1 < argc)
            rounds = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--seed") && i + 1 < argc)
            seed = strtoull(argv[++i], NULL, 0);
    }
    if (!seed)
        seed = tu_seed("crash-test");
    else
        fprintf(stderr, "crash-test: seed %llu\n", seed);
    char *d = tu_mkdtemp("crash");
    dir = d;
    snprintf(dbpath, sizeof dbpath, "%s/crash.edb", dir);
    struct model *md = calloc(1, sizeof *md);
    uint64_t seq = 0, acked_total = 0, inflight_applied = 0;
    signal(SIGPIPE, SIG_IGN);

    for (int round = 0; round < rounds; round++) {
        int circular = round % 2;
        int p[2];
        if (pipe(p) < 0)
            return 2;
        unsigned long long cseed = tu_rand(&seed);
        pid_t pid = fork();
        if (pid == 0) {
            close(p[0]);
            child(p[1], seq, cseed, circular);
            _exit(0);
        }
        close(p[1]);
        /* Kill after a random number of acknowledged commits, or a random time. */
        uint64_t kill_after = 1 + tu_rand(&seed) % 40;
        int kill_ms = 50 + (int)(tu_rand(&seed) % 400);
        struct timespec t0, now;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        uint64_t acks = 0;
        struct msg pending = {0}, m;
        int have_pending = 0, killed = 0;
        size_t got = 0;
        char *buf = (char *)&m;
        for (;;) {
            clock_gettime(CLOCK_MONOTONIC, &now);
            long el = (now.tv_sec - t0.tv_sec) * 1000 + (now.tv_nsec - t0.tv_nsec) / 1000000;
            if (!killed && (acks >= kill_after || el >= kill_ms + 5000 || (acks > 0 && el >= kill_ms))) {
                kill(pid, SIGKILL);
                killed = 1;
            }
            struct pollfd pf = {p[0], POLLIN, 0};
            if (poll(&pf, 1, killed ? 1000 : 5) < 0 && errno != EINTR)
                return 2;
            if (!(pf.revents & (POLLIN | POLLHUP)))
                continue;
            ssize_t n = read(p[0], buf + got, sizeof m - got);
            if (n < 0 && errno == EINTR)
                continue;
            if (n <= 0)
                break; /* EOF: the child is gone and everything it wrote has been read */
            got += (size_t)n;
            if (got < sizeof m)
                continue;
            got = 0;
            if (m.kind == 1) {
                pending = m;
                have_pending = 1;
            } else if (m.kind == 2 && have_pending && m.seq == pending.seq) {
                apply(md, &pending);
                seq = pending.seq;
                have_pending = 0;
                acks++;
                acked_total++;
            }
        }
        close(p[0]);
        int status = 0;
        waitpid(pid, &status, 0);
        if (!(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL)) {
            fprintf(stderr, "round %d: the child ended on its own (status %d) before the kill\n", round, status);
            return 1;
        }

        /* Recover and compare. */
        JET_INSTANCE inst = open_instance(circular);
        JET_SESID ses;
        JET_DBID db;
        JET_TABLEID t;
        CHECK(JetBeginSession(inst, &ses, NULL, NULL));
        JET_ERR e = JetAttachDatabase(ses, dbpath, 0);
        if (e == JET_errFileNotFound && acked_total == 0 && !have_pending) {
            CHECK(JetTerm(inst));
            continue; /* killed before the database existed */
        }
        CHECK(e);
        CHECK(JetOpenDatabase(ses, dbpath, NULL, &db, 0));
        e = JetOpenTable(ses, db, "t", NULL, 0, 0, &t);
        if (e == JET_errObjectNotFound && acked_total == 0) {
            CHECK(JetTerm(inst));
            continue;
        }
        CHECK(e);
        char why[256] = "";
        int bad = compare(ses, t, md, why, sizeof why);
        if (bad && have_pending) {
            struct model alt = *md;
            apply(&alt, &pending);
            char why2[256] = "";
            if (!compare(ses, t, &alt, why2, sizeof why2)) {
                *md = alt; /* the in-flight commit made it to disk before the kill: all of it */
                seq = pending.seq;
                bad = 0;
                inflight_applied++;
            } else {
                snprintf(why + strlen(why), sizeof why - strlen(why), "; with the in-flight txn: %s", why2);
            }
        } else if (!bad && have_pending) {
            seq = pending.seq; /* the in-flight one is absent: never reuse its sequence number */
        }
        CHECK(JetCloseTable(ses, t));
        CHECK(JetEndSession(ses, 0));
        CHECK(JetTerm(inst));
        if (bad) {
            fprintf(stderr, "round %d: after recovery: %s\n", round, why);
            return 1;
        }
        uint64_t np = 0, nt = 0, nr = 0;
        e = eng_verify_file(dbpath, &np, &nt, &nr);
        if (e) {
            fprintf(stderr, "round %d: database file fails verification: %ld\n", round, e);
            return 1;
        }
    }
    uint32_t live = 0;
    for (uint32_t k = 0; k < NKEYS; k++)
        live += md->seq[k] != 0;
    printf("crash-test: %d kills, %llu acknowledged commits all present, %llu in-flight commits found "
           "complete, %u live keys; every page verified\n",
           rounds, (unsigned long long)acked_total, (unsigned long long)inflight_applied, live);
    tu_rmtree(d);
    free(d);
    free(md);
    return 0;
}
