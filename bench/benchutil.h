/*
 * benchutil.h — the plumbing the benchmark programs in bench/ share: the work directory and its
 * removal on exit, failure and signals; time; percentiles; the workload's keys and values;
 * /proc/self/status fields; RESULT lines; option parsing helpers; and, for the programs that link
 * SQLite, its error-checked calls.
 *
 * Each program is one process that measures one thing, so the state here (program name, work
 * directory) is process-global on purpose: a failure anywhere, in any thread, must be able to
 * report itself and remove the work directory without being handed a context.
 *
 * Nothing here decides what a program measures or how it prints its figures; where the programs'
 * copies differed, the difference is a parameter or stayed in the program.
 */
#ifndef JETSNAP_BENCHUTIL_H
#define JETSNAP_BENCHUTIL_H

#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "jet.h"

/* ---------------------------------------------------------------------------------------------
 * Work directory and failure
 * ------------------------------------------------------------------------------------------- */

/* The program's work directory; empty until it exists, so an early failure removes nothing. */
extern char bu_workdir[PATH_MAX];

/* prog prefixes every message. *keep is read when cleaning up, not now, because the programs set
 * it while parsing options. say_kept: whether a kept work directory is named on stderr. */
void bu_init(const char *prog, const bool *keep, bool say_kept);

/* rm -rf without following links, best effort: a benchmark's scratch files are not worth a
 * failure of their own. */
void bu_remove_tree(const char *path);

/* Removes (or, with keep, names) the work directory; only the first call does anything, because
 * a failing thread and the signal thread can race to it. It first calls the hook of
 * bu_at_cleanup, if any. */
void bu_cleanup(void);

/* fn runs once in bu_cleanup (on success, bu_fail or a signal), before the work directory is
 * removed: for what else a program started and must not leave behind, such as a daemon. It may be
 * called from any thread, while others are still running, so it should only do simple things
 * (kill a process by its id). NULL removes the hook. */
void bu_at_cleanup(void (*fn)(void));

/* "<prog>: FAILED: <message>", clean up, _exit(1): _exit, because other threads may still be
 * inside the engine and must not run atexit handlers under it. */
_Noreturn void bu_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* $TMPDIR, or /tmp when it is unset or empty. */
const char *bu_default_parent(void);

/* Creates bu_workdir as <realpath of parent>/<prog>.XXXXXX (parent NULL: bu_default_parent()). */
void bu_make_workdir(const char *parent);

/* Blocks SIGINT, SIGTERM and SIGHUP in this thread and every thread created after it (the
 * engine's too), and takes them in a thread of their own, so that an interrupted run still
 * removes its work directory. Call before any other thread starts. Returns false when the thread
 * could not be created. */
bool bu_start_signal_thread(void);

/* snprintf for paths: a path that does not fit is a failure, never silently cut. */
void bu_path_fmt(char *buf, size_t cb, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* mkdir 0700; exist_ok: an existing directory is not a failure. */
void bu_make_dir(const char *path, bool exist_ok);

/* syncfs of the work directory's file system: whatever earlier phases left dirty must not be
 * written back in the middle of the next measurement. */
void bu_settle_disk(void);

void bu_barrier_wait(pthread_barrier_t *b);

/* Starts `dbus-daemon --config-file=C --fork --nopidfile --print-address=1 --print-pid=1`, exactly
 * as the plugin tests do, where C is the template conf_in (tests/plugin/testbus.conf.in) with
 * @LISTEN@ replaced by a socket in the work directory; its address goes into address. The daemon
 * is killed by bu_cleanup (this takes the bu_at_cleanup hook). A daemon that does not start is a
 * failure. */
void bu_start_dbus(const char *conf_in, char *address, size_t n_address);

/* ---------------------------------------------------------------------------------------------
 * Time and statistics
 * ------------------------------------------------------------------------------------------- */

/* Monotonic seconds: wall-clock steps must not land in a measurement. */
double bu_now(void);

/* Sleeps s seconds, resuming after signals; s <= 0 returns at once. */
void bu_sleep(double s);

/* qsort comparator for doubles (ascending). */
int bu_cmp_double(const void *a, const void *b);

/* Nearest-rank percentile of a sorted array: the smallest value with at least p of them <= it;
 * 0 for an empty array. */
double bu_pct(const double *sorted, size_t n, double p);

/* Event times (CLOCK_MONOTONIC seconds, bu_now), appended in order by one thread and read once
 * it has stopped: the writers' commit acknowledgements, whose gaps are the writers' stalls. */
struct bu_times {
    double *t;
    size_t n, cap;
};

/* Appends t; out of memory is a failure. */
void bu_times_add(struct bu_times *x, double t);

void bu_times_free(struct bu_times *x);

/* The longest gap between two consecutive times that overlaps [a, b]; 0 when there is no time
 * before a or none after it (no complete gap). */
double bu_times_gap_over(const struct bu_times *x, double a, double b);

/* How many times fall in [a, b], and the longest gap between two consecutive ones of them;
 * gap_end (NULL: not wanted) gets the time that ended that gap, or 0 when there is none. */
void bu_times_window(const struct bu_times *x, double a, double b, size_t *count, double *gap, double *gap_end);

/* ---------------------------------------------------------------------------------------------
 * Write load: durable single-record commits on running jetsnap instances (bench-snapshot,
 * bench-writer)
 * ------------------------------------------------------------------------------------------- */

struct bu_load;

/* One writer thread. */
struct bu_load_writer {
    struct bu_load *load;
    pthread_t th;
    int id;
    int ninst;
    int *inst;           /* indexes into the load's instances */
    JET_SESID *ses;
    JET_TABLEID *tab;
    struct bu_times ack; /* the time of every commit acknowledgement */
    uint64_t seq;
};

/* W writers over N instances. Writer w serves instances w, w+W, w+2W, ... when N >= W, moving to
 * its next instance after every commit; when N < W the writers share the instances (writer w
 * commits to instance w mod N). Each opens a session, the database and the table in every
 * instance it serves, then runs begin; insert one record (8-byte key: the writer's id in the top
 * 16 bits, then a sequence number, so every writer appends at its own right edge; value_bytes
 * bytes of value); JetCommitTransaction(0) in a loop, time-stamping each acknowledgement. A
 * failed JET call is a failure of the program (bu_fail). */
struct bu_load {
    int nw, n;
    const JET_INSTANCE *inst; /* n handles: the caller's, valid until bu_load_stop */
    const char *const *db;    /* n database paths */
    const char *table;
    size_t value_bytes;
    struct bu_load_writer *w;
    atomic_bool stop;
    pthread_barrier_t start;
};

/* Starts nw writers over the n instances and returns once each has opened its tables. */
void bu_load_start(struct bu_load *l, int nw, int n, const JET_INSTANCE *inst, const char *const *db,
                   const char *table, size_t value_bytes);

/* Stops the writers (one blocked by a freeze returns when it is thawed), waits for them and ends
 * their sessions. Their acknowledgement times stay until bu_load_free. */
void bu_load_stop(struct bu_load *l);

void bu_load_free(struct bu_load *l);

/* Commits acknowledged in [a, b] by all writers, and the longest gap between two consecutive
 * acknowledgements of one writer among them; gap_end (or NULL) as in bu_times_window. */
void bu_load_window(const struct bu_load *l, double a, double b, size_t *commits, double *gap, double *gap_end);

/* The longest gap between two consecutive acknowledgements of any writer that overlaps [a, b]. */
double bu_load_gap_over(const struct bu_load *l, double a, double b);

/* ---------------------------------------------------------------------------------------------
 * Workload data: the same keys and values for every engine and every program.
 * ------------------------------------------------------------------------------------------- */

uint64_t bu_splitmix64(uint64_t *s);

/* Big-endian seq in cb bytes, so that key order is sequence order in every engine. */
void bu_make_key(uint64_t seq, unsigned char *key, size_t cb);

/* cb bytes that depend only on seq, so that a reader can check what it got. */
void bu_make_value(uint64_t seq, unsigned char *val, size_t cb);

/* Keys of the durable-commit writers: above every bulk key, distinct per run and thread. */
uint64_t bu_writer_seq(unsigned run, unsigned tid, uint64_t i);

/* ---------------------------------------------------------------------------------------------
 * Process figures and output
 * ------------------------------------------------------------------------------------------- */

/* A "Name:   value" field of a /proc status file (VmRSS and VmHWM in KiB, Threads, context
 * switches); -1 if the file or the field is absent. */
long bu_status_field(const char *path, const char *name);

/* "RESULT name=value": integers without decimals, so that the lines read as counts. */
void bu_result_line(const char *name, double v);

/* The name of a JET_err/JET_wrn number ("JET_errFileNotFound"), from the engine's own table
 * (JetGetSystemParameter with JET_paramErrorToString), written into buf (n bytes; cut to fit);
 * returns buf, or unknown for a number jet.h does not define. */
const char *bu_jet_err_name(long err, char *buf, size_t n, const char *unknown);

/* ---------------------------------------------------------------------------------------------
 * Options
 * ------------------------------------------------------------------------------------------- */

/* A number > 0, or "<prog>: bad <what>: <s>" and exit(2). */
double bu_parse_pos(const char *s, const char *what);

/* A list like "1,16,64" of integers in 1..maxval into counts[0..max-1]; the number of them, or -1
 * when the list is malformed. strict: more than max entries, or junk right after a number, is
 * malformed; otherwise the list is cut at max entries. */
int bu_parse_counts(const char *s, int *counts, int max, long maxval, bool strict);

/* ---------------------------------------------------------------------------------------------
 * SQLite, for the programs that include <sqlite3.h> before this header: inline, so that the
 * programs without SQLite need neither its header nor its library.
 * ------------------------------------------------------------------------------------------- */
#ifdef SQLITE_VERSION
static inline _Noreturn void bu_sqlite_fail(sqlite3 *db, int rc, const char *what)
{
    bu_fail("SQLite: %s returned %d (%s): %s", what, rc, sqlite3_errstr(rc),
            db ? sqlite3_errmsg(db) : "no connection");
}

static inline void bu_sql_exec(sqlite3 *db, const char *sql)
{
    char *msg = NULL;
    int rc = sqlite3_exec(db, sql, NULL, NULL, &msg);
    if (rc != SQLITE_OK)
        bu_fail("SQLite: sqlite3_exec(\"%s\") returned %d (%s): %s", sql, rc, sqlite3_errstr(rc),
                msg ? msg : "");
}

static inline sqlite3_stmt *bu_sql_prepare(sqlite3 *db, const char *sql)
{
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);
    if (rc != SQLITE_OK)
        bu_sqlite_fail(db, rc, sql);
    return st;
}

/* Step a statement that returns no rows, then reset it for the next use. */
static inline void bu_sql_step_done(sqlite3 *db, sqlite3_stmt *st, const char *what)
{
    int rc = sqlite3_step(st);
    if (rc != SQLITE_DONE)
        bu_sqlite_fail(db, rc, what);
    rc = sqlite3_reset(st);
    if (rc != SQLITE_OK)
        bu_sqlite_fail(db, rc, what);
}

/* Open without SQLite's own mutexes (each connection stays in one thread) and wait up to 10 s for
 * a lock, because the programs run writers and backups side by side. */
static inline sqlite3 *bu_sqlite_open(const char *path, bool create)
{
    sqlite3 *db = NULL;
    int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX | (create ? SQLITE_OPEN_CREATE : 0);
    int rc = sqlite3_open_v2(path, &db, flags, NULL);
    if (rc != SQLITE_OK)
        bu_sqlite_fail(db, rc, "sqlite3_open_v2");
    rc = sqlite3_busy_timeout(db, 10000);
    if (rc != SQLITE_OK)
        bu_sqlite_fail(db, rc, "sqlite3_busy_timeout");
    return db;
}
#endif

#endif
