/*
 * test-writer-abi.c — jetsnap-writer.so as a host or an in-process coordinator uses it: dlopen the
 * built module, take the table from its one exported symbol, and drive the writer through
 * jetsnap-plugin.h only (jet.h and libjet.so for the application's side: creating databases,
 * committing, looking at log files). Each test runs in its own forked process (Check's default),
 * so the process-wide instance mode starts fresh.
 *
 * What it holds the writer to: host and adopt mode; the session rules (owner, Busy, InvalidState,
 * all-or-nothing freeze, a freeze that really stops durable commits until thaw, thaw idempotent,
 * abort idempotent and legal in every state); a freeze always ends (thaw, freeze time-out with a
 * late thaw answering Timeout, the owner released); log truncation after full, never after copy;
 * the legacy one-instance mode named on open; bad arguments answered, never a crash.
 */
#include <check.h>
#include <dirent.h>
#include <dlfcn.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "jet.h"
#include "jetsnap-plugin.h"
#include "testutil.h"

static const struct jetsnap_plugin *P;
static void *so;
static char *dir;
static char conf_path[4096];

/* ---- events seen through the callback ---- */
static pthread_mutex_t ev_mu = PTHREAD_MUTEX_INITIALIZER;
static char autothaw_reason[64];
static int autothaw_count;
static int n_frozen_events;

static void on_event(void *ctx, const struct jetsnap_event *ev)
{
    (void)ctx;
    pthread_mutex_lock(&ev_mu);
    if (ev->kind == JETSNAP_EVENT_AUTO_THAWED) {
        snprintf(autothaw_reason, sizeof autothaw_reason, "%s", ev->reason);
        autothaw_count++;
    }
    if (ev->kind == JETSNAP_EVENT_INSTANCE_STATE && !strcmp(ev->new_state, "frozen"))
        n_frozen_events++;
    pthread_mutex_unlock(&ev_mu);
}

static char logged[16384]; /* every log line of the current test, for the cases that read them */

static void on_log(void *ctx, int prio, const char *instance, int event, const char *msg)
{
    (void)ctx;
    size_t used = strlen(logged);
    snprintf(logged + used, sizeof logged - used, "%s\n", msg);
    if (getenv("JETSNAP_TEST_VERBOSE"))
        fprintf(stderr, "<%d> [%s] %d %s\n", prio, instance ? instance : "-", event, msg);
}

static void load_plugin(void)
{
    so = dlopen(WRITER_SO, RTLD_NOW | RTLD_LOCAL);
    ck_assert_msg(so != NULL, "dlopen %s: %s", WRITER_SO, dlerror());
    void *sym = dlsym(so, JETSNAP_PLUGIN_ENTRY);
    jetsnap_plugin_entry_fn *entry = NULL;
    memcpy(&entry, &sym, sizeof entry); /* ISO C has no object-to-function pointer cast */
    ck_assert_msg(entry != NULL, "no symbol %s", JETSNAP_PLUGIN_ENTRY);
    P = entry(JETSNAP_PLUGIN_ABI_VERSION);
    ck_assert_ptr_nonnull(P);
    ck_assert_uint_eq(P->abi_version, JETSNAP_PLUGIN_ABI_VERSION);
    ck_assert_uint_ge(P->struct_size, sizeof *P);
    ck_assert_ptr_null(entry(JETSNAP_PLUGIN_ABI_VERSION + 1)); /* a newer major than ours */
}

/* Databases are never created by the writer: make them as the application would, then stop. */
static void make_database(const char *name, const char *path, const char *sysdir)
{
    JET_INSTANCE in = 0;
    JET_SESID s = 0;
    JET_DBID db = 0;
    JET_TABLEID t = 0;
    ck_assert_int_eq(JetCreateInstance2(&in, name, NULL, 0), JET_errSuccess);
    ck_assert_int_eq(JetSetSystemParameter(&in, 0, JET_paramSystemPath, 0, sysdir), JET_errSuccess);
    ck_assert_int_eq(JetSetSystemParameter(&in, 0, JET_paramLogFilePath, 0, sysdir), JET_errSuccess);
    ck_assert_int_eq(JetSetSystemParameter(&in, 0, JET_paramLogFileSize, 64, NULL), JET_errSuccess);
    ck_assert_int_eq(JetInit(&in), JET_errSuccess);
    ck_assert_int_eq(JetBeginSession(in, &s, NULL, NULL), JET_errSuccess);
    ck_assert_int_eq(JetCreateDatabase(s, path, NULL, &db, 0), JET_errSuccess);
    ck_assert_int_eq(JetCreateTable(s, db, "t", 0, 0, &t), JET_errSuccess);
    ck_assert_int_eq(JetTerm(in), JET_errSuccess);
}

/* A config of n instances i0..i(n-1), each in its own directory, logs of 64 KiB. */
static void make_env(int n, unsigned freeze_ms, int make_dbs)
{
    dir = tu_mkdtemp("wrabi");
    snprintf(conf_path, sizeof conf_path, "%s/writer.conf", dir);
    FILE *f = fopen(conf_path, "w");
    ck_assert_ptr_nonnull(f);
    fprintf(f, "[writer]\nfreeze_timeout_ms = %u\nquiesce_timeout_ms = 5000\n", freeze_ms);
    for (int i = 0; i < n; i++) {
        char name[16], sub[4096], db[8192];
        snprintf(name, sizeof name, "i%d", i);
        snprintf(sub, sizeof sub, "%s/%s", dir, name);
        ck_assert_int_eq(mkdir(sub, 0700), 0);
        snprintf(db, sizeof db, "%s/%s.edb", sub, name);
        if (make_dbs)
            make_database(name, db, sub);
        fprintf(f, "[instance %s]\nsystem_path = %s\nlog_path = %s\ndatabase = %s\nlog_file_size_kb = 64\n",
                name, sub, sub, db);
    }
    fclose(f);
}

static jetsnap_writer *open_writer(enum jetsnap_mode mode)
{
    struct jetsnap_open_args a = {
        .struct_size = sizeof a,
        .config_path = conf_path,
        .mode = mode,
        .log = on_log,
        .event = on_event,
        .bus_loop = JETSNAP_BUS_NONE, /* in-process only: the D-Bus side has its own suite */
    };
    jetsnap_writer *w = NULL;
    struct jetsnap_error e = {0};
    int rc = P->open(&a, &w, &e);
    ck_assert_msg(rc == JETSNAP_OK, "open: %d %s", rc, e.message);
    return w;
}

static void setup(void)
{
    load_plugin();
    autothaw_count = n_frozen_events = 0;
    autothaw_reason[0] = 0;
}

static void teardown(void)
{
    if (dir)
        tu_rmtree(dir);
    free(dir);
    dir = NULL;
}

/* The engine handle of instance `name`, from the writer's status. */
static JET_INSTANCE handle_of(jetsnap_writer *w, const char *name, const char **state)
{
    struct jetsnap_status *st = NULL;
    struct jetsnap_error e;
    ck_assert_int_eq(P->status(w, &st, &e), JETSNAP_OK);
    JET_INSTANCE h = 0;
    for (size_t i = 0; i < st->n_instances; i++)
        if (!strcmp(st->instances[i].name, name)) {
            h = st->instances[i].instance;
            if (state)
                *state = st->instances[i].state; /* static strings */
        }
    P->status_free(st);
    return h;
}

/* The application's side: one durable commit into instance `name`'s database, timed. */
struct committer {
    JET_INSTANCE inst;
    char db[4096];
    int key;
    atomic_int done;
    JET_ERR err;
};

static void *commit_one(void *arg)
{
    struct committer *c = arg;
    JET_SESID s = 0;
    JET_DBID db = 0;
    JET_TABLEID t = 0;
    JET_ERR e = JetBeginSession(c->inst, &s, NULL, NULL);
    if (!e)
        e = JetOpenDatabase(s, c->db, NULL, &db, 0);
    if (!e)
        e = JetOpenTable(s, db, "t", NULL, 0, 0, &t);
    if (!e)
        e = JetBeginTransaction(s);
    char k[32];
    snprintf(k, sizeof k, "k%08d", c->key);
    static const char v[2048]; /* big enough that a few hundred commits roll 64 KiB logs */
    if (!e)
        e = JetPutRecord(s, t, k, (unsigned long)strlen(k), v, sizeof v, 0);
    if (!e)
        e = JetCommitTransaction(s, 0);
    if (s)
        JetEndSession(s, 0);
    c->err = e;
    atomic_store(&c->done, 1);
    return NULL;
}

static void start_commit(struct committer *c, jetsnap_writer *w, const char *name, int key, pthread_t *t)
{
    memset(c, 0, sizeof *c);
    c->inst = handle_of(w, name, NULL);
    ck_assert_msg(c->inst != 0, "instance %s has no handle", name);
    snprintf(c->db, sizeof c->db, "%s/%s/%s.edb", dir, name, name);
    c->key = key;
    ck_assert_int_eq(pthread_create(t, NULL, commit_one, c), 0);
}

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

START_TEST(host_mode_full_cycle)
{
    make_env(3, 60000, 1);
    jetsnap_writer *w = open_writer(JETSNAP_MODE_HOST);
    struct jetsnap_status *st = NULL;
    struct jetsnap_error e = {0};
    ck_assert_int_eq(P->status(w, &st, &e), JETSNAP_OK);
    ck_assert_uint_eq(st->n_instances, 3);
    ck_assert_str_eq(st->state, "stable");
    for (size_t i = 0; i < 3; i++) {
        ck_assert_str_eq(st->instances[i].state, "running");
        ck_assert(st->instances[i].instance != 0);
    }
    P->status_free(st);

    uint32_t sid = 0;
    ck_assert_int_eq(P->prepare(w, "coord", "full", NULL, 0, &sid, &e), JETSNAP_OK);
    ck_assert_uint_ne(sid, 0);
    struct jetsnap_result *r = NULL;
    size_t n = 0;
    ck_assert_int_eq(P->freeze(w, "coord", sid, &r, &n, &e), JETSNAP_OK);
    ck_assert_uint_eq(n, 3);
    for (size_t i = 0; i < n; i++)
        ck_assert_str_eq(r[i].state, "frozen");
    P->results_free(r, n);
    ck_assert_int_eq(n_frozen_events, 3);
    const char *ist = NULL;
    handle_of(w, "i1", &ist);
    ck_assert_str_eq(ist, "frozen");

    /* Frozen means frozen: a durable commit waits for the thaw. */
    struct committer c;
    pthread_t t;
    start_commit(&c, w, "i1", 1, &t);
    sleep_ms(300);
    ck_assert_msg(!atomic_load(&c.done), "a durable commit finished while the instance was frozen");

    uint64_t frozen = 0;
    ck_assert_int_eq(P->thaw(w, "coord", sid, &r, &n, &frozen, &e), JETSNAP_OK);
    ck_assert_uint_eq(n, 3);
    P->results_free(r, n);
    ck_assert_uint_ge(frozen, 300000);
    pthread_join(t, NULL);
    ck_assert_int_eq(c.err, JET_errSuccess);

    /* A second thaw of the owner's thawed session is a harmless no-op. */
    ck_assert_int_eq(P->thaw(w, "coord", sid, &r, &n, &frozen, &e), JETSNAP_OK);
    P->results_free(r, n);
    ck_assert_int_eq(P->backup_complete(w, "coord", sid, 1, &e), JETSNAP_OK);
    ck_assert_int_eq(P->backup_complete(w, "coord", sid, 1, &e), JETSNAP_OK); /* repeated */
    ck_assert_int_eq(P->abort(w, "coord", sid, "late", &e), JETSNAP_OK);     /* idempotent */
    ck_assert_int_eq(P->status(w, &st, &e), JETSNAP_OK);
    ck_assert_str_eq(st->state, "stable");
    ck_assert_uint_eq(st->session, 0);
    P->status_free(st);
    P->close(w);
}
END_TEST

START_TEST(one_owner_at_a_time)
{
    make_env(2, 60000, 1);
    jetsnap_writer *w = open_writer(JETSNAP_MODE_HOST);
    struct jetsnap_error e = {0};
    uint32_t sid = 0, other = 0;
    ck_assert_int_eq(P->prepare(w, ":1.42", "copy", NULL, 0, &sid, &e), JETSNAP_OK);
    ck_assert_int_eq(P->prepare(w, ":1.43", "copy", NULL, 0, &other, &e), JETSNAP_E_BUSY);
    ck_assert_msg(strstr(e.message, ":1.42") != NULL, "Busy does not name the owner: %s", e.message);
    ck_assert_str_eq(P->error_name(e.code), "org.jetsnap.Writer1.Error.Busy");
    /* The same owner twice: its first session is still open. */
    ck_assert_int_eq(P->prepare(w, ":1.42", "copy", NULL, 0, &other, &e), JETSNAP_E_INVALID_STATE);
    struct jetsnap_result *r = NULL;
    size_t n = 0;
    uint64_t fz = 0;
    /* Only the owner may freeze, thaw, complete or abort. */
    ck_assert_int_eq(P->freeze(w, ":1.43", sid, &r, &n, &e), JETSNAP_E_INVALID_STATE);
    ck_assert_int_eq(P->freeze(w, ":1.42", sid, &r, &n, &e), JETSNAP_OK);
    P->results_free(r, n);
    ck_assert_int_eq(P->thaw(w, ":1.43", sid, &r, &n, &fz, &e), JETSNAP_E_INVALID_STATE);
    ck_assert_int_eq(P->abort(w, ":1.43", sid, "x", &e), JETSNAP_E_INVALID_STATE);
    ck_assert_int_eq(P->backup_complete(w, ":1.42", sid, 1, &e), JETSNAP_E_INVALID_STATE); /* frozen */
    ck_assert_int_eq(P->freeze(w, ":1.42", sid, &r, &n, &e), JETSNAP_E_INVALID_STATE);    /* again */
    /* Abort is legal in every state: here it thaws. */
    ck_assert_int_eq(P->abort(w, ":1.42", sid, "test", &e), JETSNAP_OK);
    const char *ist = NULL;
    handle_of(w, "i0", &ist);
    ck_assert_str_eq(ist, "running");
    ck_assert_int_eq(P->abort(w, ":1.42", sid, "test", &e), JETSNAP_OK);
    /* Now the other coordinator gets its turn. */
    ck_assert_int_eq(P->prepare(w, ":1.43", "full", NULL, 0, &other, &e), JETSNAP_OK);
    ck_assert_uint_ne(other, sid);
    ck_assert_int_eq(P->abort(w, ":1.43", other, "test", &e), JETSNAP_OK);
    P->close(w);
}
END_TEST

START_TEST(freeze_is_all_or_nothing)
{
    make_env(3, 60000, 1);
    jetsnap_writer *w = open_writer(JETSNAP_MODE_HOST);
    struct jetsnap_error e = {0};
    uint32_t sid = 0;
    ck_assert_int_eq(P->prepare(w, "c", "full", NULL, 0, &sid, &e), JETSNAP_OK);
    /* The application terminates one member between prepare and freeze. */
    JET_INSTANCE i1 = handle_of(w, "i1", NULL);
    ck_assert_int_eq(JetTerm(i1), JET_errSuccess);
    struct jetsnap_result *r = NULL;
    size_t n = 0;
    int rc = P->freeze(w, "c", sid, &r, &n, &e);
    ck_assert_msg(rc == JETSNAP_E_RETRYABLE || rc == JETSNAP_E_NONRETRYABLE, "freeze gave %d: %s", rc,
                  e.message);
    ck_assert_msg(strncmp(e.message, "JET_err", 7) == 0, "no JET_err name first: %s", e.message);
    /* Nothing stays frozen: the others commit at once. */
    struct committer c;
    pthread_t t;
    start_commit(&c, w, "i0", 7, &t);
    for (int i = 0; i < 100 && !atomic_load(&c.done); i++)
        sleep_ms(20);
    ck_assert_msg(atomic_load(&c.done), "i0 stayed frozen after a failed freeze");
    pthread_join(t, NULL);
    ck_assert_int_eq(c.err, JET_errSuccess);
    struct jetsnap_status *st = NULL;
    ck_assert_int_eq(P->status(w, &st, &e), JETSNAP_OK);
    ck_assert_str_eq(st->state, "failed");
    ck_assert_uint_eq(st->session, 0);
    P->status_free(st);
    /* A thaw "just in case" after a failed freeze is harmless. */
    uint64_t fz;
    ck_assert_int_eq(P->thaw(w, "c", sid, &r, &n, &fz, &e), JETSNAP_OK);
    P->results_free(r, n);
    P->close(w);
}
END_TEST

START_TEST(freeze_timeout_thaws_and_late_thaw_says_timeout)
{
    make_env(2, 300, 1);
    jetsnap_writer *w = open_writer(JETSNAP_MODE_HOST);
    struct jetsnap_error e = {0};
    uint32_t sid = 0;
    ck_assert_int_eq(P->prepare(w, "c", "full", NULL, 0, &sid, &e), JETSNAP_OK);
    struct jetsnap_result *r = NULL;
    size_t n = 0;
    ck_assert_int_eq(P->freeze(w, "c", sid, &r, &n, &e), JETSNAP_OK);
    P->results_free(r, n);
    struct committer c;
    pthread_t t;
    start_commit(&c, w, "i0", 9, &t);
    /* The commit goes through once the 300 ms window has passed, without any thaw. */
    for (int i = 0; i < 150 && !atomic_load(&c.done); i++)
        sleep_ms(20);
    ck_assert_msg(atomic_load(&c.done), "the freeze did not end by its time-out");
    pthread_join(t, NULL);
    ck_assert_int_eq(c.err, JET_errSuccess);
    pthread_mutex_lock(&ev_mu);
    ck_assert_int_eq(autothaw_count, 1);
    ck_assert_str_eq(autothaw_reason, "timeout");
    pthread_mutex_unlock(&ev_mu);
    uint64_t fz = 0;
    ck_assert_int_eq(P->thaw(w, "c", sid, &r, &n, &fz, &e), JETSNAP_E_TIMEOUT);
    ck_assert_str_eq(P->error_name(e.code), "org.jetsnap.Writer1.Error.Timeout");
    ck_assert_int_eq(P->backup_complete(w, "c", sid, 1, &e), JETSNAP_E_TIMEOUT);
    ck_assert_int_eq(P->abort(w, "c", sid, "discard", &e), JETSNAP_OK);
    P->close(w);
}
END_TEST

START_TEST(released_owner_thaws_at_once)
{
    make_env(2, 60000, 1);
    jetsnap_writer *w = open_writer(JETSNAP_MODE_HOST);
    struct jetsnap_error e = {0};
    uint32_t sid = 0;
    ck_assert_int_eq(P->prepare(w, ":1.7", "full", NULL, 0, &sid, &e), JETSNAP_OK);
    struct jetsnap_result *r = NULL;
    size_t n = 0;
    ck_assert_int_eq(P->freeze(w, ":1.7", sid, &r, &n, &e), JETSNAP_OK);
    P->results_free(r, n);
    ck_assert_int_eq(P->release_owner(w, ":1.8", "owner-vanished"), JETSNAP_OK); /* someone else: nothing */
    const char *ist = NULL;
    handle_of(w, "i0", &ist);
    ck_assert_str_eq(ist, "frozen");
    ck_assert_int_eq(P->release_owner(w, ":1.7", "owner-vanished"), JETSNAP_OK);
    handle_of(w, "i0", &ist);
    ck_assert_str_eq(ist, "running");
    pthread_mutex_lock(&ev_mu);
    ck_assert_int_eq(autothaw_count, 1);
    ck_assert_str_eq(autothaw_reason, "owner-vanished");
    pthread_mutex_unlock(&ev_mu);
    struct committer c;
    pthread_t t;
    start_commit(&c, w, "i1", 3, &t);
    pthread_join(t, NULL);
    ck_assert_int_eq(c.err, JET_errSuccess);
    P->close(w);
}
END_TEST

START_TEST(close_while_frozen_thaws)
{
    make_env(2, 60000, 1);
    jetsnap_writer *w = open_writer(JETSNAP_MODE_HOST);
    struct jetsnap_error e = {0};
    uint32_t sid = 0;
    ck_assert_int_eq(P->prepare(w, "c", "full", NULL, 0, &sid, &e), JETSNAP_OK);
    struct jetsnap_result *r = NULL;
    size_t n = 0;
    ck_assert_int_eq(P->freeze(w, "c", sid, &r, &n, &e), JETSNAP_OK);
    P->results_free(r, n);
    P->close(w); /* host mode: thaws, then terminates the instances cleanly */
    pthread_mutex_lock(&ev_mu);
    ck_assert_int_eq(autothaw_count, 1);
    ck_assert_str_eq(autothaw_reason, "shutdown");
    pthread_mutex_unlock(&ev_mu);
    /* Terminated cleanly: the databases attach again without recovery work to do. */
    unsigned long c = 1;
    JET_INSTANCE_INFO *info = NULL;
    ck_assert_int_eq(JetGetInstanceInfo(&c, &info), JET_errSuccess);
    ck_assert_uint_eq(c, 0);
}
END_TEST

static int count_logs(const char *name)
{
    char sub[4096];
    snprintf(sub, sizeof sub, "%s/%s", dir, name);
    DIR *d = opendir(sub);
    ck_assert_ptr_nonnull(d);
    int n = 0;
    struct dirent *de;
    while ((de = readdir(d)))
        n += strncmp(de->d_name, "edb0", 4) == 0 && strstr(de->d_name, ".log") != NULL;
    closedir(d);
    return n;
}

/* Fill i0's logs past a few generations, as an application under load would. */
static void roll_logs(jetsnap_writer *w, int from)
{
    for (int k = from; k < from + 150; k++) {
        struct committer c;
        pthread_t t;
        start_commit(&c, w, "i0", k, &t);
        pthread_join(t, NULL);
        ck_assert_int_eq(c.err, JET_errSuccess);
    }
}

static void snapshot_cycle(jetsnap_writer *w, const char *type)
{
    struct jetsnap_error e = {0};
    uint32_t sid = 0;
    const char *only[] = {"i0"};
    ck_assert_int_eq(P->prepare(w, "c", type, only, 1, &sid, &e), JETSNAP_OK);
    struct jetsnap_result *r = NULL;
    size_t n = 0;
    uint64_t fz = 0;
    ck_assert_msg(P->freeze(w, "c", sid, &r, &n, &e) == JETSNAP_OK, "%s freeze: %s", type, e.message);
    ck_assert_uint_eq(n, 1);
    P->results_free(r, n);
    ck_assert_int_eq(P->thaw(w, "c", sid, &r, &n, &fz, &e), JETSNAP_OK);
    P->results_free(r, n);
    ck_assert_msg(P->backup_complete(w, "c", sid, 1, &e) == JETSNAP_OK, "complete: %s", e.message);
}

START_TEST(logs_truncated_after_full_never_after_copy)
{
    make_env(1, 60000, 1);
    jetsnap_writer *w = open_writer(JETSNAP_MODE_HOST);
    roll_logs(w, 0);
    int before = count_logs("i0");
    ck_assert_int_gt(before, 1);
    snapshot_cycle(w, "copy");
    ck_assert_int_eq(count_logs("i0"), before);
    snapshot_cycle(w, "full");
    int after_full = count_logs("i0");
    ck_assert_int_lt(after_full, before);
    /* A differential builds on that full and, like a copy, truncates nothing; an incremental does. */
    roll_logs(w, 1000);
    before = count_logs("i0");
    ck_assert_int_gt(before, after_full);
    snapshot_cycle(w, "differential");
    ck_assert_int_eq(count_logs("i0"), before);
    snapshot_cycle(w, "incremental");
    ck_assert_int_lt(count_logs("i0"), before);
    P->close(w);
}
END_TEST

START_TEST(adopt_mode_takes_running_instances_by_name)
{
    make_env(2, 60000, 1);
    /* The application runs i0 itself (i1 it does not start). */
    JET_INSTANCE in = 0;
    char sub[4096];
    snprintf(sub, sizeof sub, "%s/i0", dir);
    ck_assert_int_eq(JetCreateInstance2(&in, "i0", NULL, 0), JET_errSuccess);
    ck_assert_int_eq(JetSetSystemParameter(&in, 0, JET_paramSystemPath, 0, sub), JET_errSuccess);
    ck_assert_int_eq(JetSetSystemParameter(&in, 0, JET_paramLogFilePath, 0, sub), JET_errSuccess);
    ck_assert_int_eq(JetSetSystemParameter(&in, 0, JET_paramLogFileSize, 64, NULL), JET_errSuccess);
    ck_assert_int_eq(JetInit(&in), JET_errSuccess);
    jetsnap_writer *w = open_writer(JETSNAP_MODE_ADOPT);
    const char *st0 = NULL, *st1 = NULL;
    ck_assert(handle_of(w, "i0", &st0) == in);
    ck_assert_str_eq(st0, "running");
    ck_assert(handle_of(w, "i1", &st1) == 0);
    ck_assert_str_eq(st1, "stopped");
    struct jetsnap_error e = {0};
    uint32_t sid = 0;
    const char *both[] = {"i0", "i1"};
    ck_assert_int_eq(P->prepare(w, "c", "copy", both, 2, &sid, &e), JETSNAP_E_RETRYABLE);
    ck_assert_int_eq(P->prepare(w, "c", "copy", NULL, 0, &sid, &e), JETSNAP_OK);
    struct jetsnap_result *r = NULL;
    size_t n = 0;
    ck_assert_int_eq(P->freeze(w, "c", sid, &r, &n, &e), JETSNAP_OK);
    ck_assert_uint_eq(n, 1);
    ck_assert_str_eq(r[0].instance, "i0");
    P->results_free(r, n);
    P->close(w); /* adopt mode: thaws and leaves the application's instance running */
    JET_SESID s = 0;
    ck_assert_int_eq(JetBeginSession(in, &s, NULL, NULL), JET_errSuccess);
    ck_assert_int_eq(JetEndSession(s, 0), JET_errSuccess);
    ck_assert_int_eq(JetTerm(in), JET_errSuccess);
}
END_TEST

START_TEST(legacy_one_instance_process_is_named)
{
    make_env(1, 60000, 1);
    /* The host process already runs ESE's legacy single instance (JetInit without an instance). */
    JET_INSTANCE legacy = 0;
    char sub[4096];
    snprintf(sub, sizeof sub, "%s/legacy", dir);
    ck_assert_int_eq(mkdir(sub, 0700), 0);
    ck_assert_int_eq(JetSetSystemParameter(NULL, 0, JET_paramSystemPath, 0, sub), JET_errSuccess);
    ck_assert_int_eq(JetSetSystemParameter(NULL, 0, JET_paramLogFilePath, 0, sub), JET_errSuccess);
    ck_assert_int_eq(JetInit(&legacy), JET_errSuccess);
    struct jetsnap_open_args a = {.struct_size = sizeof a,
                                  .config_path = conf_path,
                                  .mode = JETSNAP_MODE_HOST,
                                  .log = on_log,
                                  .bus_loop = JETSNAP_BUS_NONE};
    jetsnap_writer *w = NULL;
    struct jetsnap_error e = {0};
    logged[0] = '\0';
    ck_assert_int_eq(P->open(&a, &w, &e), JETSNAP_E_MODE);
    ck_assert_msg(strstr(logged, "JET_errRunningInOneInstanceMode") != NULL, "not said in the log: %s", logged);
    ck_assert_ptr_null(w);
    ck_assert_int_eq(e.jet_err, JET_errRunningInOneInstanceMode);
    ck_assert_msg(strstr(e.message, "JET_errRunningInOneInstanceMode") == e.message, "%s", e.message);
    JetTerm(legacy);
}
END_TEST

START_TEST(bad_arguments_are_answered)
{
    make_env(1, 60000, 1);
    jetsnap_writer *w = open_writer(JETSNAP_MODE_HOST);
    struct jetsnap_error e = {0};
    uint32_t sid = 0;
    ck_assert_int_eq(P->prepare(w, "c", "log", NULL, 0, &sid, &e), JETSNAP_E_NOT_SUPPORTED);
    ck_assert_int_eq(P->prepare(w, "c", NULL, NULL, 0, &sid, &e), JETSNAP_E_NOT_SUPPORTED);
    const char *nope[] = {"nope"};
    ck_assert_int_eq(P->prepare(w, "c", "full", nope, 1, &sid, &e), JETSNAP_E_UNKNOWN_INSTANCE);
    ck_assert_str_eq(P->error_name(e.code), "org.jetsnap.Writer1.Error.UnknownInstance");
    size_t big = 1u << 20;
    char *huge = malloc(big + 1);
    memset(huge, 'x', big);
    huge[big] = 0;
    ck_assert_int_eq(P->prepare(w, huge, "full", NULL, 0, &sid, &e), JETSNAP_E_INVALID_ARGS);
    const char *many[100000];
    for (size_t i = 0; i < 100000; i++)
        many[i] = huge;
    ck_assert_int_eq(P->prepare(w, "c", "full", many, 100000, &sid, &e), JETSNAP_E_UNKNOWN_INSTANCE);
    free(huge);
    ck_assert_int_eq(P->prepare(w, "", "full", NULL, 0, &sid, &e), JETSNAP_E_INVALID_ARGS);
    struct jetsnap_result *r = NULL;
    size_t n = 0;
    uint64_t fz = 0;
    ck_assert_int_eq(P->freeze(w, "c", 12345, &r, &n, &e), JETSNAP_E_UNKNOWN_SESSION);
    ck_assert_int_eq(P->thaw(w, "c", 12345, &r, &n, &fz, &e), JETSNAP_E_UNKNOWN_SESSION);
    ck_assert_int_eq(P->abort(w, "c", 12345, "x", &e), JETSNAP_E_UNKNOWN_SESSION);
    ck_assert_int_eq(P->backup_complete(w, "c", 12345, 1, &e), JETSNAP_E_UNKNOWN_SESSION);
    ck_assert_int_eq(P->freeze(NULL, "c", 1, &r, &n, &e), JETSNAP_E_INVALID_ARGS);
    ck_assert_ptr_null(P->error_name(JETSNAP_OK));
    /* Healthy afterwards: a whole cycle works. */
    ck_assert_int_eq(P->prepare(w, "c", "full", NULL, 0, &sid, &e), JETSNAP_OK);
    ck_assert_int_eq(P->freeze(w, "c", sid, &r, &n, &e), JETSNAP_OK);
    P->results_free(r, n);
    ck_assert_int_eq(P->thaw(w, "c", sid, &r, &n, &fz, &e), JETSNAP_OK);
    P->results_free(r, n);
    ck_assert_int_eq(P->backup_complete(w, "c", sid, 0, &e), JETSNAP_OK);
    P->close(w);
    P->close(NULL);
}
END_TEST

START_TEST(config_errors_name_file_and_line)
{
    dir = tu_mkdtemp("wrabi");
    snprintf(conf_path, sizeof conf_path, "%s/bad.conf", dir);
    FILE *f = fopen(conf_path, "w");
    fprintf(f, "[writer]\nfreeze_timeout_ms = soon\n");
    fclose(f);
    struct jetsnap_open_args a = {
        .struct_size = sizeof a, .config_path = conf_path, .mode = JETSNAP_MODE_HOST, .bus_loop = JETSNAP_BUS_NONE};
    jetsnap_writer *w = NULL;
    struct jetsnap_error e = {0};
    ck_assert_int_eq(P->open(&a, &w, &e), JETSNAP_E_CONFIG);
    ck_assert_msg(strstr(e.message, "bad.conf:2:") != NULL, "%s", e.message);
    a.struct_size = 4; /* an older, shorter struct than the plugin knows */
    ck_assert_int_eq(P->open(&a, &w, &e), JETSNAP_E_INVALID_ARGS);
    ck_assert_int_eq(P->open(NULL, &w, &e), JETSNAP_E_INVALID_ARGS);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("writer-abi");
    TCase *tc = tcase_create("abi");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, host_mode_full_cycle);
    tcase_add_test(tc, one_owner_at_a_time);
    tcase_add_test(tc, freeze_is_all_or_nothing);
    tcase_add_test(tc, freeze_timeout_thaws_and_late_thaw_says_timeout);
    tcase_add_test(tc, released_owner_thaws_at_once);
    tcase_add_test(tc, close_while_frozen_thaws);
    tcase_add_test(tc, logs_truncated_after_full_never_after_copy);
    tcase_add_test(tc, adopt_mode_takes_running_instances_by_name);
    tcase_add_test(tc, legacy_one_instance_process_is_named);
    tcase_add_test(tc, bad_arguments_are_answered);
    tcase_add_test(tc, config_errors_name_file_and_line);
    suite_add_tcase(s, tc);
    return s;
}

TU_CHECK_MAIN(suite)
