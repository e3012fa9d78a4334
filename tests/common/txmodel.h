/*
 * txmodel.h — the transaction model shared by the load programs (backup-load, snapshot-copy).
 *
 * Writer threads ("owners", each over its own key range) commit random transactions whose values
 * are derived from (owner, transaction number, key), stamped with a global clock at their start and
 * at their acknowledgement. A database read back afterwards must hold, for every owner, exactly the
 * state of some prefix of its transactions within the bounds the clock gives (acknowledged before X
 * .. started before Y): that is the model check (tm_match).
 *
 * Every failure ends the process at once through tm_die, so a broken state is never checked further
 * or cleaned up: the files stay for a look. The programs differ in small things (keys per owner, the
 * value hash, how their messages name an owner); struct tm_config carries those, so that each
 * program's data and messages stay exactly what they were before this code was shared.
 */
#ifndef JETSNAP_TXMODEL_H
#define JETSNAP_TXMODEL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "jet.h"

#define TM_MAXOPS 4
#define TM_MAXVAL 8192
#define TM_PENDING UINT64_MAX

/* Set once by main before anything else runs. */
struct tm_config {
    const char *prog;       /* the program's name: prefix of failures, temporary directories */
    unsigned keys_per;      /* keys of one owner: owner o holds the keys o * keys_per + [0, keys_per) */
    uint64_t value_salt;    /* mixed into every value's hash */
    const char *owner_word; /* how messages name an owner ("owner", "writer") */
    const char *holds_word; /* how messages name what a database holds ("restored", "holds") */
    const char *ran_word;   /* how messages name an owner's transaction count ("has", "ran") */
    bool verbose;           /* per-owner match results on stderr */
};
extern struct tm_config tm_cfg;

/* Where a failure happened, for its message: the round, its seed and its files. */
extern int tm_round;
extern unsigned long long tm_round_seed;
extern const char *tm_work;

#if defined(__GNUC__)
__attribute__((noreturn, format(printf, 1, 2)))
#endif
void tm_die(const char *fmt, ...);

#define CHECK(call)                                                                                \
    do {                                                                                           \
        JET_ERR e_ = (call);                                                                       \
        if (e_ != JET_errSuccess)                                                                  \
            tm_die("%s:%d: %s failed: %ld", __FILE__, __LINE__, #call, (long)e_);                  \
    } while (0)

#define EXPECT(cond, ...)                                                                          \
    do {                                                                                           \
        if (!(cond))                                                                               \
            tm_die(__VA_ARGS__);                                                                   \
    } while (0)

/* The clock that orders starts, acknowledgements and the moments the programs check against. */
uint64_t tm_tick(void);
void tm_sleep_ms(unsigned ms);
void tm_sleep_us(unsigned us);
double tm_now_sec(void);

struct tm_op {
    uint16_t key; /* index inside the owner's range */
    uint8_t del;
    uint8_t pad;
};

struct tm_txn {
    uint32_t nops;
    struct tm_op ops[TM_MAXOPS];
    bool lazy;
    uint64_t start, ack; /* clock stamps; ack TM_PENDING until the commit returned */
};

/* One owner of a key range: a writer thread (or a loader run by the main thread). tx[j] is its
 * transaction number j + 1. Only the owner's thread appends; others read after joining it, except
 * n and nacked, which are published atomically for progress checks. */
struct tm_owner {
    int id;
    int inst; /* snapshot-copy: index of its instance in the round */
    unsigned long long seed;
    struct tm_txn *tx;
    size_t n, cap;
    atomic_size_t nacked; /* acknowledged so far, read while the thread runs */
    /* writer thread only */
    JET_INSTANCE jinst;
    const char *dbpath;
    pthread_t th;
    atomic_bool *stop;
    unsigned pace_us; /* at most this long a pause after each commit: bounds the log volume */
    /* Off, no lazy draw is made at all, so the seed's sequence is the one an owner without lazy
     * commits always had. On, lazy_pct of the transactions commit with JET_bitCommitLazyFlush and
     * the writer makes them all durable before it ends. */
    bool lazy_commits;
    unsigned lazy_pct;
    /* Called (if set) right after the transaction counts as started, and right after its commit
     * returned; backup-load's SIGKILL part reports both to its parent process. */
    void (*on_begin)(const struct tm_owner *w, uint32_t seq, const struct tm_txn *x);
    void (*on_ack)(const struct tm_owner *w, uint32_t seq);
};

/* The value transaction seq of owner writes to global key gkey (into out, TM_MAXVAL bytes); its
 * length. A 12-byte header (owner, seq, gkey) says whose a wrong value is. */
uint32_t tm_value_for(uint32_t owner, uint32_t seq, uint32_t gkey, uint8_t *out);
uint32_t tm_gkey_of(int owner, uint32_t k);
void tm_keybytes(uint32_t g, uint8_t k[4]);
/* A zeroed transaction at tx[n]; n is not advanced. */
struct tm_txn *tm_push_txn(struct tm_owner *w);
/* One random transaction of w on table t (val: a TM_MAXVAL buffer), recorded in w->tx. */
void tm_do_txn(struct tm_owner *w, JET_SESID ses, JET_TABLEID t, uint8_t *val);

/* Fresh owners 0..n-1, each with a seed drawn from *seed; frees what they held before. */
void tm_owners_init(struct tm_owner *o, int n, unsigned long long *seed);
void tm_owners_free(struct tm_owner *o, int n);
/* Start a thread per owner (w[i].jinst, dbpath, pace_us, ... set) that runs tm_do_txn on table "t"
 * of dbpath until *stop; tm_writers_join sets *stop and joins them. */
void tm_writers_run(struct tm_owner *w, int n, atomic_bool *stop);
void tm_writers_join(struct tm_owner *w, int n, atomic_bool *stop);

/* How many leading transactions of w were acknowledged before clock x, and how many started
 * before clock y. */
size_t tm_acked_before(const struct tm_owner *w, uint64_t x);
size_t tm_started_before(const struct tm_owner *w, uint64_t y);
/* got[k] = the transaction whose value key k holds, 0 if absent. Finds the k in [lo, hi] for which
 * the first k transactions of w give exactly got; returns it, or dies with the differences. */
size_t tm_match(const struct tm_owner *w, const uint32_t *got, size_t lo, size_t hi, const char *what);

/* A database at path with the one empty table "t". */
void tm_create_db(JET_INSTANCE inst, const char *path);
/* Read every record of table "t" of the database at path, attached to instance v, into
 * got[owner * keys_per + k] (the transaction whose value it holds; got has nowners * keys_per
 * entries). Every value must be exactly what that transaction wrote, and every key belong to an
 * owner whose bit is set in mine; where names the database in that failure ("this database"). */
void tm_read_table(JET_INSTANCE v, const char *path, const struct tm_owner *owners, int nowners, uint64_t mine,
                   const char *where, uint32_t *got);
/* eng_verify_file passes on every page of the database at path. */
void tm_verify_pages(const char *path);

/* --rounds N and --seed S into *rounds and *seed; false (usage printed) on anything else. */
bool tm_parse_args(int argc, char **argv, int *rounds, unsigned long long *seed);
/* The seed to run with: *seed if given (printed), else tu_seed's. */
unsigned long long tm_pick_seed(unsigned long long seed);
/* Round r: sets tm_round, tm_round_seed (round 0 uses the seed itself, so a failing round's seed
 * reruns it first; later ones draw from *seed) and *rs to it, makes and returns the work directory. */
char *tm_round_begin(int r, unsigned long long *seed, unsigned long long *rs);
/* Removes and frees the work directory of a round that passed. */
void tm_round_end(char *work);

#endif
