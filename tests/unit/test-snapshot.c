/*
 * test-snapshot.c — JetOSSnapshot*: every ordering and grbit rule of docs/jet-semantics.md, “OS
 * snapshot sessions” and “Snapshot ordering errors” (each test fails if its rule is broken), the
 * header stamps End makes, the freeze time-out (writers resume by themselves, a late Thaw reports
 * the time-out), and proof that nothing is written to a frozen instance's files: the I/O layer's
 * hook counts every write, sync, rename, truncate and unlink under the instance's directory while
 * it is frozen. The "stuck" cases hold one instance's I/O in that hook while the session freezes,
 * as a disk that stops answering would: Abort, the time-out and a term of the other instance must
 * thaw the other at once, and the stuck one must not stay frozen once its I/O returns.
 */
#include <check.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "io-int.h"
#include "jet.h"
#include "iohooks.h"
#include "testutil.h"


static char *root;

struct inst {
    JET_INSTANCE inst;
    JET_SESID ses;
    JET_TABLEID tab;
    JET_DBID db;
    char *dir, *dbp;
};
static struct inst A, B;

static int events[4096];
static void on_event(void *ctx, JET_INSTANCE in, const char *name, int level, long id, const char *msg)
{
    (void)ctx, (void)in, (void)name, (void)level, (void)msg;
    if (id >= 0 && id < 4096)
        __atomic_add_fetch(&events[id], 1, __ATOMIC_RELAXED);
}

static void start(struct inst *x, const char *name, int circular)
{
    x->dir = tu_path(root, name);
    mkdir(x->dir, 0755);
    x->dbp = tu_path(x->dir, "db.edb");
    OK(JetCreateInstance(&x->inst, name));
    OK(JetSetSystemParameter(&x->inst, 0, JET_paramSystemPath, 0, x->dir));
    OK(JetSetSystemParameter(&x->inst, 0, JET_paramLogFilePath, 0, x->dir));
    OK(JetSetSystemParameter(&x->inst, 0, JET_paramLogFileSize, 128, NULL));
    OK(JetSetSystemParameter(&x->inst, 0, JET_paramCircularLog, (JET_API_PTR)circular, NULL));
    OK(JetInit(&x->inst));
    OK(JetBeginSession(x->inst, &x->ses, NULL, NULL));
    if (access(x->dbp, F_OK) == 0) {
        OK(JetAttachDatabase(x->ses, x->dbp, 0));
        OK(JetOpenDatabase(x->ses, x->dbp, NULL, &x->db, 0));
        OK(JetOpenTable(x->ses, x->db, "t", NULL, 0, 0, &x->tab));
    } else {
        OK(JetCreateDatabase(x->ses, x->dbp, NULL, &x->db, 0));
        OK(JetCreateTable(x->ses, x->db, "t", 0, 0, &x->tab));
    }
}

static void put(struct inst *x, int i, JET_GRBIT commit)
{
    char k[32];
    snprintf(k, sizeof k, "k%08d", i);
    OK(JetBeginTransaction(x->ses));
    OK(JetPutRecord(x->ses, x->tab, k, (unsigned long)strlen(k), k, (unsigned long)strlen(k), 0));
    OK(JetCommitTransaction(x->ses, commit));
}

static void setup(void)
{
    memset(events, 0, sizeof events);
    JetSetEventCallback(on_event, NULL);
    root = tu_mkdtemp("snap");
    start(&A, "a", 0);
    start(&B, "b", 0);
    for (int i = 0; i < 20; i++) {
        put(&A, i, 0);
        put(&B, i, 0);
    }
}

static void teardown(void)
{
    eng_io_set_fault_hook(NULL, NULL);
    JetSetEventCallback(NULL, NULL);
    struct inst *all[] = {&A, &B};
    for (int i = 0; i < 2; i++) {
        if (all[i]->inst)
            JetTerm2(all[i]->inst, JET_bitTermAbrupt);
        free(all[i]->dir);
        free(all[i]->dbp);
        memset(all[i], 0, sizeof *all[i]);
    }
    tu_rmtree(root);
    free(root);
}

static JET_DBINFOMISC info(const char *p)
{
    JET_DBINFOMISC m;
    OK(JetGetDatabaseFileInfo(p, &m, sizeof m, JET_DbInfoMisc));
    return m;
}

/* A whole snapshot: Prepare(grbit|ContinueAfterThaw) Freeze Thaw [Truncate] End. */
static void snapshot(JET_GRBIT grbit, bool truncate)
{
    JET_OSSNAPID id;
    unsigned long n;
    JET_INSTANCE_INFO *ii;
    OK(JetOSSnapshotPrepare(&id, grbit | JET_bitContinueAfterThaw));
    OK(JetOSSnapshotFreeze(id, &n, &ii, 0));
    JetFreeBuffer((char *)ii);
    OK(JetOSSnapshotThaw(id, 0));
    if (truncate)
        OK(JetOSSnapshotTruncateLog(id, JET_bitAllDatabasesSnapshot));
    OK(JetOSSnapshotEnd(id, 0));
}

START_TEST(prepare_rules)
{
    JET_OSSNAPID id;
    ck_assert_int_eq(JetOSSnapshotPrepare(NULL, 0), JET_errInvalidParameter);
    ck_assert_int_eq(JetOSSnapshotPrepare(&id, 0x10), JET_errInvalidGrbit);
    OK(JetOSSnapshotPrepare(&id, 0));
    ck_assert_int_eq(events[2005], 2); /* "will be a Full shadow copy", per instance */
    /* Both instances joined: a second session gets none of them. */
    JET_OSSNAPID id2;
    OK(JetOSSnapshotPrepare(&id2, JET_bitCopySnapshot));
    ck_assert(id2 != id);
    unsigned long n;
    JET_INSTANCE_INFO *ii;
    OK(JetOSSnapshotGetFreezeInfo(id2, &n, &ii, 0));
    ck_assert_int_eq(n, 0);
    ck_assert_int_eq(JetOSSnapshotPrepareInstance(id2, A.inst, 0), JET_errOSSnapshotNotAllowed);
    OK(JetOSSnapshotGetFreezeInfo(id, &n, &ii, 0));
    ck_assert_int_eq(n, 2);
    JetFreeBuffer((char *)ii);
    OK(JetOSSnapshotEnd(id2, 0)); /* from Prepare: nothing happens */
    OK(JetOSSnapshotAbort(id, 0));
    ck_assert_int_eq(events[2007], 2);
    ck_assert_int_eq(JetOSSnapshotAbort(id, 0), JET_errOSSnapshotInvalidSnapId);
    ck_assert_int_eq(JetOSSnapshotFreeze(id, &n, &ii, 0), JET_errOSSnapshotInvalidSnapId);
    ck_assert_int_eq(JetOSSnapshotThaw(12345, 0), JET_errOSSnapshotInvalidSnapId);
    /* Kinds: events 2008 incremental, 2009 copy, 2010 differential. */
    OK(JetOSSnapshotPrepare(&id, JET_bitCopySnapshot | JET_bitExplicitPrepare));
    ck_assert_int_eq(events[2009], 0); /* explicit: nobody joined yet */
    OK(JetOSSnapshotPrepareInstance(id, A.inst, 0));
    ck_assert_int_eq(events[2009], 1);
    ck_assert_int_eq(JetOSSnapshotPrepareInstance(id, A.inst, 0), JET_errOSSnapshotNotAllowed);
    ck_assert_int_eq(JetOSSnapshotPrepareInstance(id, B.inst, 1), JET_errInvalidGrbit);
    ck_assert_int_eq(JetOSSnapshotPrepareInstance(id, 777, 0), JET_errInvalidParameter);
    OK(JetOSSnapshotGetFreezeInfo(id, &n, &ii, 0));
    ck_assert_int_eq(n, 1);
    ck_assert(ii[0].hInstanceId == A.inst);
    ck_assert_str_eq(ii[0].szDatabaseFileName[0], A.dbp);
    JetFreeBuffer((char *)ii);
    OK(JetOSSnapshotAbort(id, 0));
}
END_TEST

START_TEST(prepare_needs_an_instance)
{
    OK(JetTerm(A.inst));
    OK(JetTerm(B.inst));
    A.inst = B.inst = 0;
    JET_OSSNAPID id;
    ck_assert_int_eq(JetOSSnapshotPrepare(&id, 0), JET_errNotInitialized);
}
END_TEST

START_TEST(sequence_rules)
{
    JET_OSSNAPID id;
    unsigned long n;
    JET_INSTANCE_INFO *ii;
    OK(JetOSSnapshotPrepare(&id, JET_bitContinueAfterThaw));
    ck_assert_int_eq(JetOSSnapshotThaw(id, 0), JET_errOSSnapshotInvalidSequence);
    ck_assert_int_eq(JetOSSnapshotTruncateLog(id, 0), JET_errOSSnapshotInvalidSequence);
    ck_assert_int_eq(JetOSSnapshotFreeze(id, &n, &ii, 1), JET_errInvalidGrbit);
    ck_assert_int_eq(JetOSSnapshotFreeze(id, NULL, &ii, 0), JET_errInvalidParameter);
    OK(JetOSSnapshotFreeze(id, &n, &ii, 0));
    ck_assert_int_eq(n, 2);
    JetFreeBuffer((char *)ii);
    ck_assert_int_eq(events[2001], 2);
    ck_assert_int_eq(JetOSSnapshotFreeze(id, &n, &ii, 0), JET_errOSSnapshotInvalidSequence);
    ck_assert_int_eq(JetOSSnapshotPrepareInstance(id, A.inst, 0), JET_errOSSnapshotInvalidSequence);
    ck_assert_int_eq(JetOSSnapshotTruncateLog(id, JET_bitAllDatabasesSnapshot), JET_errOSSnapshotInvalidSequence);
    ck_assert_int_eq(JetOSSnapshotEnd(id, 0), JET_errOSSnapshotInvalidSequence); /* frozen */
    ck_assert_int_eq(JetOSSnapshotEnd(id, 2), JET_errInvalidGrbit);
    ck_assert_int_eq(JetOSSnapshotThaw(id, 4), JET_errInvalidGrbit);
    /* A streaming backup is refused while the snapshot holds the instances. */
    ck_assert_int_eq(JetBeginExternalBackupInstance(A.inst, 0), JET_errBackupInProgress);
    OK(JetOSSnapshotGetFreezeInfo(id, &n, &ii, 0));
    JetFreeBuffer((char *)ii);
    OK(JetOSSnapshotThaw(id, 0));
    ck_assert_int_eq(events[2003], 2);
    ck_assert_int_eq(JetOSSnapshotThaw(id, 0), JET_errOSSnapshotInvalidSequence);
    ck_assert_int_eq(JetOSSnapshotTruncateLog(id, 2), JET_errInvalidGrbit);
    OK(JetOSSnapshotTruncateLog(id, 0));
    OK(JetOSSnapshotTruncateLog(id, JET_bitAllDatabasesSnapshot)); /* repeatable */
    ck_assert_int_eq(JetOSSnapshotTruncateLogInstance(id, 4242, 0), JET_wrnNyi);
    ck_assert_int_eq(JetBeginExternalBackupInstance(A.inst, 0), JET_errBackupInProgress);
    OK(JetOSSnapshotEnd(id, 0));
    ck_assert_int_eq(events[2006], 2);
    ck_assert_int_eq(JetOSSnapshotEnd(id, 0), JET_errOSSnapshotInvalidSnapId);
    /* After End the instances are free again for a streaming backup. */
    OK(JetBeginExternalBackupInstance(A.inst, 0));
    OK(JetEndExternalBackupInstance2(A.inst, JET_bitBackupEndAbort));
}
END_TEST

START_TEST(thaw_without_continue_ends_the_session)
{
    JET_OSSNAPID id;
    unsigned long n;
    JET_INSTANCE_INFO *ii;
    OK(JetOSSnapshotPrepare(&id, 0));
    OK(JetOSSnapshotFreeze(id, &n, &ii, 0));
    JetFreeBuffer((char *)ii);
    OK(JetOSSnapshotThaw(id, 0));
    ck_assert_int_eq(JetOSSnapshotEnd(id, 0), JET_errOSSnapshotInvalidSnapId);
    ck_assert_int_eq(events[2006], 2);
    /* It was a full snapshot, recorded as such with the OS-snapshot bit. */
    JET_DBINFOMISC m = info(A.dbp);
    ck_assert_int_ne(m.bkinfoFullPrev.genLow, 0);
    ck_assert_int_eq(m.bkinfoFullPrev.logtimeMark.bFiller2 & 1, 1);
}
END_TEST

START_TEST(abort_while_frozen_thaws)
{
    JET_OSSNAPID id;
    unsigned long n;
    JET_INSTANCE_INFO *ii;
    OK(JetOSSnapshotPrepare(&id, JET_bitContinueAfterThaw));
    OK(JetOSSnapshotFreeze(id, &n, &ii, 0));
    JetFreeBuffer((char *)ii);
    OK(JetOSSnapshotEnd(id, JET_bitAbortSnapshot));
    /* Thawed: a durable commit goes through, and nothing was recorded. */
    put(&A, 100, 0);
    ck_assert_int_eq(info(A.dbp).bkinfoFullPrev.genLow, 0);
    ck_assert_int_eq(events[2007], 2);
}
END_TEST

START_TEST(freeze_refused_during_streaming_backup)
{
    OK(JetBeginExternalBackupInstance(B.inst, 0));
    JET_OSSNAPID id;
    unsigned long n;
    JET_INSTANCE_INFO *ii;
    /* B does not join a new session; added explicitly it is refused. */
    OK(JetOSSnapshotPrepare(&id, JET_bitExplicitPrepare));
    ck_assert_int_eq(JetOSSnapshotPrepareInstance(id, B.inst, 0), JET_errOSSnapshotNotAllowed);
    OK(JetOSSnapshotPrepareInstance(id, A.inst, 0));
    OK(JetOSSnapshotAbort(id, 0));
    /* A backup that starts between Prepare and Freeze makes the freeze fail, freezing nothing. */
    OK(JetEndExternalBackupInstance2(B.inst, JET_bitBackupEndAbort));
    OK(JetOSSnapshotPrepare(&id, JET_bitContinueAfterThaw));
    OK(JetBeginExternalBackupInstance(B.inst, 0));
    ck_assert_int_eq(JetOSSnapshotFreeze(id, &n, &ii, 0), JET_errOSSnapshotNotAllowed);
    put(&A, 200, 0); /* A is not frozen */
    OK(JetEndExternalBackupInstance2(B.inst, JET_bitBackupEndAbort));
    /* Still in Prepare: it can be frozen now. */
    OK(JetOSSnapshotFreeze(id, &n, &ii, 0));
    JetFreeBuffer((char *)ii);
    OK(JetOSSnapshotThaw(id, 0));
    OK(JetOSSnapshotEnd(id, 0));
}
END_TEST

/* Without ExplicitPrepare an instance running a streaming backup still joins the session (it is
 * initialized and in no other session), so the Freeze fails with OSSnapshotNotAllowed instead of
 * "succeeding" without it: a coordinator must never be told a set is frozen when a member is not. */
START_TEST(implicit_prepare_includes_a_busy_instance)
{
    OK(JetBeginExternalBackupInstance(B.inst, 0));
    JET_OSSNAPID id;
    unsigned long n = 0;
    JET_INSTANCE_INFO *ii = NULL;
    OK(JetOSSnapshotPrepare(&id, JET_bitContinueAfterThaw));
    ck_assert_int_eq(JetOSSnapshotFreeze(id, &n, &ii, 0), JET_errOSSnapshotNotAllowed);
    put(&A, 300, 0); /* nothing was frozen */
    put(&B, 300, 0);
    OK(JetEndExternalBackupInstance2(B.inst, JET_bitBackupEndAbort));
    /* The backup over, the same session freezes both. */
    OK(JetOSSnapshotFreeze(id, &n, &ii, 0));
    ck_assert_uint_eq(n, 2);
    JetFreeBuffer((char *)ii);
    OK(JetOSSnapshotThaw(id, 0));
    OK(JetOSSnapshotEnd(id, 0));
}
END_TEST

START_TEST(kinds_and_header_stamps)
{
    ck_assert_int_eq(JetOSSnapshotPrepare(&(JET_OSSNAPID){0}, 0x20), JET_errInvalidGrbit);
    /* An incremental needs a full OS snapshot first (a streaming full does not count). */
    JET_OSSNAPID id;
    unsigned long n;
    JET_INSTANCE_INFO *ii;
    OK(JetOSSnapshotPrepare(&id, JET_bitIncrementalSnapshot));
    ck_assert_int_eq(JetOSSnapshotFreeze(id, &n, &ii, 0), JET_errMissingFullBackup);
    OK(JetOSSnapshotAbort(id, 0));
    snapshot(0, true);
    JET_DBINFOMISC m = info(A.dbp);
    ck_assert_int_ne(m.bkinfoFullPrev.genLow, 0);
    ck_assert_int_le(m.bkinfoFullPrev.genLow, m.bkinfoFullPrev.genHigh);
    put(&A, 300, 0);
    snapshot(JET_bitIncrementalSnapshot, true);
    m = info(A.dbp);
    ck_assert_int_ne(m.bkinfoIncPrev.genLow, 0);
    ck_assert_int_eq(m.bkinfoIncPrev.logtimeMark.bFiller2 & 1, 1);
    snapshot(JET_bitCopySnapshot, false);
    m = info(A.dbp);
    ck_assert_int_ne(m.bkinfoCopyPrev.genLow, 0);
    snapshot(JET_bitCopySnapshot | JET_bitIncrementalSnapshot, false);
    m = info(A.dbp);
    ck_assert_int_ne(m.bkinfoDiffPrev.genLow, 0);
    /* A copy snapshot never truncates. */
    OK(JetOSSnapshotPrepare(&id, JET_bitCopySnapshot | JET_bitContinueAfterThaw));
    OK(JetOSSnapshotFreeze(id, &n, &ii, 0));
    JetFreeBuffer((char *)ii);
    OK(JetOSSnapshotThaw(id, 0));
    ck_assert_int_eq(JetOSSnapshotTruncateLog(id, JET_bitAllDatabasesSnapshot), JET_errOSSnapshotInvalidSequence);
    OK(JetOSSnapshotEnd(id, 0));
    /* A new full clears Incremental and Differential. */
    snapshot(0, false);
    m = info(A.dbp);
    ck_assert_int_eq(m.bkinfoIncPrev.genLow, 0);
    ck_assert_int_eq(m.bkinfoDiffPrev.genLow, 0);
}
END_TEST

START_TEST(incremental_with_circular_logging_is_invalid)
{
    OK(JetTerm(B.inst));
    B.inst = 0;
    free(B.dir);
    free(B.dbp);
    start(&B, "c", 1);
    snapshot(0, false);
    JET_OSSNAPID id;
    unsigned long n;
    JET_INSTANCE_INFO *ii;
    OK(JetOSSnapshotPrepare(&id, JET_bitIncrementalSnapshot | JET_bitExplicitPrepare));
    OK(JetOSSnapshotPrepareInstance(id, B.inst, 0));
    ck_assert_int_eq(JetOSSnapshotFreeze(id, &n, &ii, 0), JET_errInvalidBackup);
    OK(JetOSSnapshotAbort(id, 0));
}
END_TEST

START_TEST(truncation_deletes_only_what_is_safe)
{
    /* Several 128 KB generations, so the checkpoints that follow the log rolls move past the
     * first one. (How many commits that takes depends on how much each one logs.) */
    char name[64];
    snprintf(name, sizeof name, "edb%05X.log", 5);
    char *fifth = tu_path(A.dir, name);
    for (int i = 0; access(fifth, F_OK) != 0; i++) {
        ck_assert_int_lt(i, 200000);
        put(&A, 1000 + i, 0);
    }
    free(fifth);
    snprintf(name, sizeof name, "edb%05X.log", 1);
    char *first = tu_path(A.dir, name);
    ck_assert_int_eq(access(first, F_OK), 0);
    JET_OSSNAPID id;
    unsigned long n;
    JET_INSTANCE_INFO *ii;
    OK(JetOSSnapshotPrepare(&id, JET_bitContinueAfterThaw));
    OK(JetOSSnapshotFreeze(id, &n, &ii, 0));
    JetFreeBuffer((char *)ii);
    OK(JetOSSnapshotThaw(id, 0));
    OK(JetOSSnapshotTruncateLogInstance(id, A.inst, 0)); /* 0: nothing deleted */
    ck_assert_int_eq(access(first, F_OK), 0);
    OK(JetOSSnapshotEnd(id, 0));
    /* With AllDatabasesSnapshot, the logs below the checkpoint at freeze go. */
    OK(JetOSSnapshotPrepare(&id, JET_bitContinueAfterThaw));
    OK(JetOSSnapshotFreeze(id, &n, &ii, 0));
    JetFreeBuffer((char *)ii);
    OK(JetOSSnapshotThaw(id, 0));
    OK(JetOSSnapshotTruncateLogInstance(id, A.inst, JET_bitAllDatabasesSnapshot));
    ck_assert_int_ne(access(first, F_OK), 0);
    OK(JetOSSnapshotEnd(id, 0));
    /* The instance still recovers after a crash. */
    put(&A, 5000, 0);
    ck_assert_int_eq(JetTerm2(A.inst, JET_bitTermDirty), JET_errDirtyShutdown);
    A.inst = 0;
    free(A.dir);
    free(A.dbp);
    start(&A, "a", 0);
    char v[32];
    unsigned long got;
    OK(JetGetRecord(A.ses, A.tab, "k00005000", 9, v, sizeof v, &got, 0));
    OK(JetGetRecord(A.ses, A.tab, "k00001000", 9, v, sizeof v, &got, 0));
    free(first);
}
END_TEST

/* ------------------------------------------------------------------------------------------- */
/* Writers and the I/O counter. */

static atomic_bool frozen_window;  /* set by the test from Freeze's return to Thaw's call */
static atomic_int writes_while_frozen;
static const char *watched[2];

static int under_watched(int fd, const char *path)
{
    char target[4096];
    if (tu_hook_path(fd, path, target, sizeof target))
        return 0;
    for (int i = 0; i < 2; i++)
        if (watched[i] && !strncmp(target, watched[i], strlen(watched[i])))
            return 1;
    return 0;
}

static int count_hook(void *ctx, enum eng_io_op op, int fd, const char *path, uint64_t off, size_t len)
{
    (void)ctx, (void)off, (void)len;
    if (op == ENG_IO_READ || op == ENG_IO_OPEN || !atomic_load(&frozen_window))
        return 0;
    if (under_watched(fd, path))
        atomic_fetch_add(&writes_while_frozen, 1);
    return 0;
}

struct writer {
    struct inst *x;
    JET_SESID ses;
    JET_TABLEID tab;
    int base;
    atomic_int done;          /* commits acknowledged */
    atomic_bool stop;
    atomic_llong last_ack_ns; /* when the last commit returned */
    JET_GRBIT grbit;
};

static long long now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void *writer_main(void *arg)
{
    struct writer *w = arg;
    for (int i = 0; !atomic_load(&w->stop); i++) {
        char k[32], v[600];
        snprintf(k, sizeof k, "w%d-%08d", w->base, i);
        memset(v, 'a' + i % 26, sizeof v);
        if (JetBeginTransaction(w->ses) || JetPutRecord(w->ses, w->tab, k, (unsigned long)strlen(k), v, sizeof v, 0) ||
            JetCommitTransaction(w->ses, i % 3 == 0 ? JET_bitCommitLazyFlush : 0))
            break;
        atomic_fetch_add(&w->done, 1);
        atomic_store(&w->last_ack_ns, now_ns());
    }
    return NULL;
}

static void writer_start(struct writer *w, struct inst *x, int base, pthread_t *th)
{
    memset(w, 0, sizeof *w);
    w->x = x;
    w->base = base;
    JET_DBID db;
    OK(JetBeginSession(x->inst, &w->ses, NULL, NULL));
    OK(JetOpenDatabase(w->ses, x->dbp, NULL, &db, 0));
    OK(JetOpenTable(w->ses, db, "t", NULL, 0, 0, &w->tab));
    ck_assert_int_eq(pthread_create(th, NULL, writer_main, w), 0);
}

START_TEST(nothing_is_written_while_frozen)
{
    /* A small cache, so the writers also push the checkpoint and the cache limits. */
    OK(JetSetSystemParameter(&A.inst, 0, JET_paramCacheSizeMax, 64, NULL));
    watched[0] = A.dir;
    watched[1] = B.dir;
    eng_io_set_fault_hook(count_hook, NULL);
    struct writer w[4];
    pthread_t th[4];
    for (int i = 0; i < 4; i++)
        writer_start(&w[i], i < 2 ? &A : &B, i, &th[i]);
    usleep(200000);
    for (int round = 0; round < 5; round++) {
        JET_OSSNAPID id;
        unsigned long n;
        JET_INSTANCE_INFO *ii;
        OK(JetOSSnapshotPrepare(&id, JET_bitContinueAfterThaw));
        OK(JetOSSnapshotFreeze(id, &n, &ii, 0));
        atomic_store(&frozen_window, true);
        JetFreeBuffer((char *)ii);
        int before[4];
        for (int i = 0; i < 4; i++)
            before[i] = atomic_load(&w[i].done);
        usleep(150000); /* long enough for commits, checkpoints and rolls to want to happen */
        /* Durable commits wait; at most the lazy ones went through. */
        int during = 0;
        for (int i = 0; i < 4; i++)
            during += atomic_load(&w[i].done) - before[i];
        atomic_store(&frozen_window, false);
        OK(JetOSSnapshotThaw(id, 0));
        ck_assert_int_le(during, 4 * 2); /* a lazy commit then a durable one that blocks */
        OK(JetOSSnapshotEnd(id, 0));
        usleep(100000);
    }
    for (int i = 0; i < 4; i++) {
        atomic_store(&w[i].stop, true);
        pthread_join(th[i], NULL);
        JetEndSession(w[i].ses, 0);
    }
    eng_io_set_fault_hook(NULL, NULL);
    ck_assert_int_eq(atomic_load(&writes_while_frozen), 0);
    int total = 0;
    for (int i = 0; i < 4; i++)
        total += atomic_load(&w[i].done);
    ck_assert_int_gt(total, 100); /* they really were writing */
}
END_TEST

START_TEST(freeze_times_out)
{
    OK(JetSetSystemParameter(&A.inst, 0, JET_paramOSSnapshotTimeout, 300, NULL));
    OK(JetSetSystemParameter(&B.inst, 0, JET_paramOSSnapshotTimeout, 300, NULL));
    struct writer w;
    pthread_t th;
    writer_start(&w, &A, 9, &th);
    usleep(100000);
    JET_OSSNAPID id;
    unsigned long n;
    JET_INSTANCE_INFO *ii;
    OK(JetOSSnapshotPrepare(&id, JET_bitContinueAfterThaw));
    OK(JetOSSnapshotFreeze(id, &n, &ii, 0));
    long long t0 = now_ns();
    JetFreeBuffer((char *)ii);
    usleep(600000);
    ck_assert_int_eq(JetOSSnapshotThaw(id, 0), JET_errOSSnapshotTimeOut);
    ck_assert_int_eq(events[2004], 2);
    /* The writer resumed by itself at about 300 ms: its first commit after the freeze returned
     * well before the late Thaw. */
    atomic_store(&w.stop, true);
    pthread_join(th, NULL);
    JetEndSession(w.ses, 0);
    /* Find when it resumed: the first acknowledgement after t0 + 200 ms. */
    long long last = atomic_load(&w.last_ack_ns);
    ck_assert_msg(last - t0 > 250000000LL, "the writer went on during the freeze (%lld ms)", (last - t0) / 1000000);
    /* After a time-out only an abort ends the session. */
    ck_assert_int_eq(JetOSSnapshotEnd(id, 0), JET_errOSSnapshotInvalidSequence);
    ck_assert_int_eq(JetOSSnapshotTruncateLog(id, JET_bitAllDatabasesSnapshot), JET_errOSSnapshotInvalidSequence);
    OK(JetOSSnapshotEnd(id, JET_bitAbortSnapshot));
    ck_assert_int_eq(info(A.dbp).bkinfoFullPrev.genLow, 0);
}
END_TEST

static void *resume_probe(void *arg)
{
    /* One durable commit issued while frozen: it returns only after the thaw. */
    struct inst *x = arg;
    JET_SESID s;
    JET_DBID db;
    JET_TABLEID t;
    JetBeginSession(x->inst, &s, NULL, NULL);
    JetOpenDatabase(s, x->dbp, NULL, &db, 0);
    JetOpenTable(s, db, "t", NULL, 0, 0, &t);
    JetBeginTransaction(s);
    JetPutRecord(s, t, "probe", 5, "p", 1, 0);
    long long t0 = now_ns();
    JET_ERR e = JetCommitTransaction(s, 0);
    long long dt = now_ns() - t0;
    JetEndSession(s, 0);
    return (void *)(intptr_t)(e ? -1 : dt / 1000000);
}

START_TEST(time_out_resumes_writers_at_the_deadline)
{
    OK(JetSetSystemParameter(&A.inst, 0, JET_paramOSSnapshotTimeout, 300, NULL));
    JET_OSSNAPID id;
    unsigned long n;
    JET_INSTANCE_INFO *ii;
    OK(JetOSSnapshotPrepare(&id, JET_bitExplicitPrepare));
    OK(JetOSSnapshotPrepareInstance(id, A.inst, 0));
    OK(JetOSSnapshotFreeze(id, &n, &ii, 0));
    JetFreeBuffer((char *)ii);
    pthread_t th;
    ck_assert_int_eq(pthread_create(&th, NULL, resume_probe, &A), 0);
    void *r;
    pthread_join(th, &r);
    long ms = (long)(intptr_t)r;
    ck_assert_msg(ms >= 200 && ms < 1000, "the commit waited %ld ms; the time-out is 300 ms", ms);
    /* Without ContinueAfterThaw the late Thaw reports the time-out and ends the session. */
    ck_assert_int_eq(JetOSSnapshotThaw(id, 0), JET_errOSSnapshotTimeOut);
    ck_assert_int_eq(JetOSSnapshotAbort(id, 0), JET_errOSSnapshotInvalidSnapId);
}
END_TEST

static void *term_probe(void *arg)
{
    JET_INSTANCE i = *(JET_INSTANCE *)arg;
    long long t0 = now_ns();
    JetTerm(i);
    return (void *)(intptr_t)((now_ns() - t0) / 1000000);
}

START_TEST(term_ends_the_freeze)
{
    /* A term must not wait out the freeze time-out: it ends the freeze of the whole session, the
     * other instance is thawed with it, and the service learns from Thaw to discard its copy. */
    OK(JetSetSystemParameter(&A.inst, 0, JET_paramOSSnapshotTimeout, 60000, NULL));
    OK(JetSetSystemParameter(&B.inst, 0, JET_paramOSSnapshotTimeout, 60000, NULL));
    JET_OSSNAPID id;
    unsigned long n;
    JET_INSTANCE_INFO *ii;
    OK(JetOSSnapshotPrepare(&id, JET_bitContinueAfterThaw));
    OK(JetOSSnapshotFreeze(id, &n, &ii, 0));
    JetFreeBuffer((char *)ii);
    ck_assert_int_eq(n, 2);
    /* A durable commit on B waits in the freeze while B terminates. */
    pthread_t pb, th;
    ck_assert_int_eq(pthread_create(&pb, NULL, resume_probe, &B), 0);
    usleep(200000);
    ck_assert_int_eq(pthread_create(&th, NULL, term_probe, &B.inst), 0);
    void *r;
    pthread_join(th, &r);
    long ms = (long)(intptr_t)r;
    ck_assert_msg(ms < 2000, "JetTerm took %ld ms with a 60 s freeze time-out", ms);
    pthread_join(pb, NULL);
    B.inst = 0;
    ck_assert_int_eq(events[2007], 2); /* both instances name the cause */
    /* A is thawed: a durable commit completes at once. */
    long long t0 = now_ns();
    put(&A, 900, 0);
    ck_assert_int_lt(now_ns() - t0, 1000000000LL);
    /* The session reports the failure and, as after a time-out, only an abort ends it. */
    ck_assert_int_eq(JetOSSnapshotThaw(id, 0), JET_errOSSnapshotTimeOut);
    ck_assert_int_eq(JetOSSnapshotTruncateLog(id, JET_bitAllDatabasesSnapshot), JET_errOSSnapshotInvalidSequence);
    ck_assert_int_eq(JetOSSnapshotEnd(id, 0), JET_errOSSnapshotInvalidSequence);
    OK(JetOSSnapshotAbort(id, 0));
    ck_assert_int_eq(info(A.dbp).bkinfoFullPrev.genLow, 0); /* nothing recorded as a backup */
    ck_assert_int_eq(info(B.dbp).bkinfoFullPrev.genLow, 0);
    /* A can take part in a new snapshot. */
    snapshot(0, false);
    ck_assert_int_ne(info(A.dbp).bkinfoFullPrev.genLow, 0);
}
END_TEST


/* EIO on every write under one directory. */
static const char *failing_dir;
static int fail_hook(void *ctx, enum eng_io_op op, int fd, const char *path, uint64_t off, size_t len)
{
    (void)ctx, (void)off, (void)len;
    if (op != ENG_IO_WRITE)
        return 0;
    const char *save = watched[0];
    watched[0] = failing_dir;
    int hit = under_watched(fd, path);
    watched[0] = save;
    return hit ? -EIO : 0;
}

START_TEST(failed_freeze_leaves_nothing_frozen)
{
    /* B holds a lazy commit, so its freeze must write the log — and that write fails. */
    put(&B, 500, JET_bitCommitLazyFlush);
    JET_OSSNAPID id;
    unsigned long n;
    JET_INSTANCE_INFO *ii;
    OK(JetOSSnapshotPrepare(&id, JET_bitExplicitPrepare | JET_bitContinueAfterThaw));
    OK(JetOSSnapshotPrepareInstance(id, A.inst, 0)); /* frozen first */
    OK(JetOSSnapshotPrepareInstance(id, B.inst, 0));
    watched[0] = watched[1] = NULL;
    failing_dir = B.dir;
    eng_io_set_fault_hook(fail_hook, NULL);
    JET_ERR e = JetOSSnapshotFreeze(id, &n, &ii, 0);
    eng_io_set_fault_hook(NULL, NULL);
    ck_assert_int_eq(e, JET_errLogWriteFail);
    ck_assert_int_eq(events[2002], 1);
    /* A was thawed again: a durable commit completes at once. */
    long long t0 = now_ns();
    put(&A, 501, 0);
    ck_assert_int_lt(now_ns() - t0, 2000000000LL);
    /* The session is still in Prepare, with nothing to thaw. */
    ck_assert_int_eq(JetOSSnapshotThaw(id, 0), JET_errOSSnapshotInvalidSequence);
    OK(JetOSSnapshotAbort(id, 0));
}
END_TEST

/* ------------------------------------------------------------------------------------------- */
/* One instance whose disk stops answering while the session freezes (a filesystem frozen by
 * someone else, a dead NFS server, a hung disk): its freeze cannot finish, and Abort, the time-out
 * and a term of another instance of the session must still end the freeze of the others at once. */

static pthread_mutex_t stuck_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t stuck_cv = PTHREAD_COND_INITIALIZER;
static const char *stuck_dir; /* under stuck_mu */
static bool stuck_armed;      /* under stuck_mu */
static int stuck_held;        /* operations waiting in the hook, under stuck_mu */

/* Every write, sync, rename, truncate or unlink under stuck_dir waits while armed. */
static int stuck_hook(void *ctx, enum eng_io_op op, int fd, const char *path, uint64_t off, size_t len)
{
    (void)ctx, (void)off, (void)len;
    if (op == ENG_IO_READ || op == ENG_IO_OPEN)
        return 0;
    pthread_mutex_lock(&stuck_mu);
    const char *dir = stuck_armed ? stuck_dir : NULL;
    pthread_mutex_unlock(&stuck_mu);
    char target[4096];
    if (!dir || tu_hook_path(fd, path, target, sizeof target) || strncmp(target, dir, strlen(dir)))
        return 0;
    pthread_mutex_lock(&stuck_mu);
    if (stuck_armed) {
        stuck_held++;
        pthread_cond_broadcast(&stuck_cv);
        while (stuck_armed)
            pthread_cond_wait(&stuck_cv, &stuck_mu);
        stuck_held--;
    }
    pthread_mutex_unlock(&stuck_mu);
    return 0;
}

static void stuck_arm(const char *dir)
{
    pthread_mutex_lock(&stuck_mu);
    stuck_dir = dir;
    stuck_armed = true;
    pthread_mutex_unlock(&stuck_mu);
    eng_io_set_fault_hook(stuck_hook, NULL);
}

static int stuck_holding(void)
{
    pthread_mutex_lock(&stuck_mu);
    int n = stuck_held;
    pthread_mutex_unlock(&stuck_mu);
    return n;
}

/* Until an I/O of the stuck instance waits in the hook (at most 10 s). */
static bool stuck_wait_held(void)
{
    for (int i = 0; i < 10000 && !stuck_holding(); i++)
        usleep(1000);
    return stuck_holding() > 0;
}

/* The disk answers again. The hook stays installed (and lets everything through), so no
 * operation already inside it is left with a hook that was taken away under it. */
static void stuck_release(void)
{
    pthread_mutex_lock(&stuck_mu);
    stuck_armed = false;
    pthread_cond_broadcast(&stuck_cv);
    pthread_mutex_unlock(&stuck_mu);
}

/* A JET call made on its own thread, so the test can tell whether it returns in time. */
enum call_kind { CALL_FREEZE, CALL_ABORT, CALL_TERM };
struct call {
    enum call_kind kind;
    JET_OSSNAPID id;
    JET_INSTANCE inst;
    pthread_t th;
    atomic_bool done;
    JET_ERR err;
};

static void *call_main(void *arg)
{
    struct call *c = arg;
    unsigned long n = 0;
    JET_INSTANCE_INFO *ii = NULL;
    switch (c->kind) {
    case CALL_FREEZE:
        c->err = JetOSSnapshotFreeze(c->id, &n, &ii, 0);
        if (c->err == JET_errSuccess)
            JetFreeBuffer((char *)ii);
        break;
    case CALL_ABORT:
        c->err = JetOSSnapshotAbort(c->id, 0);
        break;
    case CALL_TERM:
        c->err = JetTerm(c->inst);
        break;
    }
    atomic_store(&c->done, true);
    return NULL;
}

static void call_start(struct call *c, enum call_kind kind, JET_OSSNAPID id, JET_INSTANCE inst)
{
    memset(c, 0, sizeof *c);
    c->kind = kind;
    c->id = id;
    c->inst = inst;
    ck_assert_int_eq(pthread_create(&c->th, NULL, call_main, c), 0);
}

/* Has the call returned within ms milliseconds? */
static bool call_returns_within(struct call *c, long ms)
{
    long long end = now_ns() + ms * 1000000LL;
    while (!atomic_load(&c->done) && now_ns() < end)
        usleep(1000);
    return atomic_load(&c->done);
}

/* Has the writer acknowledged a commit past `after` within ms milliseconds? */
static bool writer_acks_within(struct writer *w, int after, long ms)
{
    long long end = now_ns() + ms * 1000000LL;
    while (atomic_load(&w->done) <= after && now_ns() < end)
        usleep(1000);
    return atomic_load(&w->done) > after;
}

/* Until the writer's commits block: none acknowledged for 200 ms (at most 10 s). */
static bool writer_blocks(struct writer *w)
{
    long long end = now_ns() + 10000000000LL;
    while (now_ns() < end) {
        if (now_ns() - atomic_load(&w->last_ack_ns) > 200000000LL)
            return true;
        usleep(5000);
    }
    return false;
}

static void writer_stop(struct writer *w, pthread_t th)
{
    atomic_store(&w->stop, true);
    pthread_join(th, NULL);
    JetEndSession(w->ses, 0);
}

/* B's disk hangs with writers on A and B; a session of A and B (B's I/O stuck) is being frozen
 * on its own thread; returns once A is frozen (its writer blocks) while B's freeze cannot end. */
static void freeze_with_b_stuck(JET_OSSNAPID *id, struct call *fz, struct writer *wa, pthread_t *ta,
                                struct writer *wb, pthread_t *tb)
{
    OK(JetOSSnapshotPrepare(id, JET_bitExplicitPrepare | JET_bitContinueAfterThaw));
    OK(JetOSSnapshotPrepareInstance(*id, A.inst, 0));
    OK(JetOSSnapshotPrepareInstance(*id, B.inst, 0));
    writer_start(wa, &A, 1, ta);
    writer_start(wb, &B, 2, tb);
    ck_assert(writer_acks_within(wa, 0, 10000));
    ck_assert(writer_acks_within(wb, 0, 10000));
    stuck_arm(B.dir);
    ck_assert_msg(stuck_wait_held(), "no I/O of B reached the hook");
    call_start(fz, CALL_FREEZE, *id, 0);
    ck_assert_msg(writer_blocks(wa), "A never froze");
    /* A is frozen, B's freeze waits for its disk. */
    ck_assert(!atomic_load(&fz->done));
    ck_assert_int_gt(stuck_holding(), 0);
}

START_TEST(abort_ends_a_freeze_stuck_in_one_instance)
{
    JET_OSSNAPID id;
    struct call fz, ab;
    struct writer wa, wb;
    pthread_t ta, tb;
    freeze_with_b_stuck(&id, &fz, &wa, &ta, &wb, &tb);
    int a_before = atomic_load(&wa.done);
    long long t0 = now_ns();
    call_start(&ab, CALL_ABORT, id, 0);
    bool prompt = call_returns_within(&ab, 1000);
    long long abort_ms = (now_ns() - t0) / 1000000;
    /* A thawed at once: its writer goes on while B's disk still hangs and its freeze still runs. */
    bool a_resumed = prompt && writer_acks_within(&wa, a_before, 1000);
    /* Meanwhile B cannot be taken by another freeze or a streaming backup: the old freeze, when
     * its disk answers, would undo theirs. An implicit Prepare includes it, so that Freeze fails
     * instead of leaving it out of the copy. */
    JET_ERR prep_b = 0, freeze_b = 0, backup_b = 0;
    if (prompt) {
        JET_OSSNAPID id3;
        unsigned long n3;
        JET_INSTANCE_INFO *ii3;
        OK(JetOSSnapshotPrepare(&id3, JET_bitExplicitPrepare));
        prep_b = JetOSSnapshotPrepareInstance(id3, B.inst, 0);
        OK(JetOSSnapshotAbort(id3, 0));
        OK(JetOSSnapshotPrepare(&id3, 0));
        freeze_b = JetOSSnapshotFreeze(id3, &n3, &ii3, 0);
        if (freeze_b == JET_errSuccess)
            JetFreeBuffer((char *)ii3);
        OK(JetOSSnapshotAbort(id3, 0));
        backup_b = JetBeginExternalBackupInstance(B.inst, 0);
    }
    bool b_still_stuck = stuck_holding() > 0 && !atomic_load(&fz.done);
    stuck_release(); /* before any assertion, so a failure does not leave threads hanging */
    ck_assert_msg(prompt, "JetOSSnapshotAbort waited for the stuck instance");
    ck_assert_msg(abort_ms < 1000, "JetOSSnapshotAbort took %lld ms", abort_ms);
    OK(ab.err);
    pthread_join(ab.th, NULL);
    ck_assert_msg(a_resumed, "A stayed frozen after the abort");
    ck_assert(b_still_stuck);
    ck_assert_int_eq(prep_b, JET_errOSSnapshotNotAllowed);
    ck_assert_int_eq(freeze_b, JET_errOSSnapshotNotAllowed);
    ck_assert_int_eq(backup_b, JET_errBackupInProgress);
    /* B's disk answers: the freeze returns the abort, and B is not left frozen. */
    pthread_join(fz.th, NULL);
    ck_assert_int_eq(fz.err, JET_errOSSnapshotInvalidSnapId);
    int b_before = atomic_load(&wb.done);
    ck_assert_msg(writer_acks_within(&wb, b_before, 5000), "B stayed frozen after its freeze returned");
    writer_stop(&wa, ta);
    writer_stop(&wb, tb);
    ck_assert_int_eq(JetOSSnapshotAbort(id, 0), JET_errOSSnapshotInvalidSnapId);
    ck_assert_int_eq(events[2007], 2 + 2); /* this session's abort, then the implicit one's */
    /* Neither instance is held by the ended session: a new one freezes and thaws both. */
    JET_OSSNAPID id2;
    unsigned long n;
    JET_INSTANCE_INFO *ii;
    OK(JetOSSnapshotPrepare(&id2, JET_bitContinueAfterThaw));
    OK(JetOSSnapshotFreeze(id2, &n, &ii, 0));
    ck_assert_int_eq(n, 2);
    JetFreeBuffer((char *)ii);
    OK(JetOSSnapshotThaw(id2, 0));
    OK(JetOSSnapshotEnd(id2, 0));
    put(&A, 700, 0);
    put(&B, 700, 0);
}
END_TEST

START_TEST(calls_during_a_stuck_freeze_do_not_wait)
{
    /* While the session freezes, the calls that need another state answer at once. */
    JET_OSSNAPID id;
    struct call fz;
    struct writer wa, wb;
    pthread_t ta, tb;
    freeze_with_b_stuck(&id, &fz, &wa, &ta, &wb, &tb);
    unsigned long n = 0;
    JET_INSTANCE_INFO *ii = NULL;
    long long t0 = now_ns();
    JET_ERR thaw = JetOSSnapshotThaw(id, 0);
    JET_ERR end = JetOSSnapshotEnd(id, 0);
    JET_ERR again = JetOSSnapshotFreeze(id, &n, &ii, 0);
    JET_ERR trunc = JetOSSnapshotTruncateLog(id, JET_bitAllDatabasesSnapshot);
    JET_ERR info_err = JetOSSnapshotGetFreezeInfo(id, &n, &ii, 0);
    long long ms = (now_ns() - t0) / 1000000;
    if (info_err == JET_errSuccess)
        JetFreeBuffer((char *)ii);
    JET_ERR ab = JetOSSnapshotAbort(id, 0);
    stuck_release();
    pthread_join(fz.th, NULL);
    writer_stop(&wa, ta);
    writer_stop(&wb, tb);
    ck_assert_msg(ms < 1000, "the calls took %lld ms", ms);
    ck_assert_int_eq(thaw, JET_errOSSnapshotInvalidSequence);
    ck_assert_int_eq(end, JET_errOSSnapshotInvalidSequence);
    ck_assert_int_eq(again, JET_errOSSnapshotInvalidSequence);
    ck_assert_int_eq(trunc, JET_errOSSnapshotInvalidSequence);
    OK(info_err);
    ck_assert_int_eq(n, 2);
    OK(ab);
    ck_assert_int_eq(fz.err, JET_errOSSnapshotInvalidSnapId);
}
END_TEST

START_TEST(term_of_another_instance_ends_a_stuck_freeze)
{
    JET_OSSNAPID id;
    struct call fz, tm;
    struct writer wa, wb;
    pthread_t ta, tb;
    freeze_with_b_stuck(&id, &fz, &wa, &ta, &wb, &tb);
    long long t0 = now_ns();
    call_start(&tm, CALL_TERM, 0, A.inst);
    bool prompt = call_returns_within(&tm, 1000);
    long long term_ms = (now_ns() - t0) / 1000000;
    bool b_still_stuck = stuck_holding() > 0 && !atomic_load(&fz.done);
    stuck_release();
    ck_assert_msg(prompt, "JetTerm of A waited for B's stuck freeze");
    ck_assert_msg(term_ms < 1000, "JetTerm took %lld ms", term_ms);
    pthread_join(tm.th, NULL);
    OK(tm.err);
    A.inst = 0;
    ck_assert(b_still_stuck);
    writer_stop(&wa, ta); /* its calls fail from the term on */
    /* The freeze reports what a Thaw after such a term reports, and B is not left frozen. */
    pthread_join(fz.th, NULL);
    ck_assert_int_eq(fz.err, JET_errOSSnapshotTimeOut);
    int b_before = atomic_load(&wb.done);
    ck_assert_msg(writer_acks_within(&wb, b_before, 5000), "B stayed frozen after its freeze returned");
    writer_stop(&wb, tb);
    ck_assert_int_eq(JetOSSnapshotThaw(id, 0), JET_errOSSnapshotTimeOut);
    ck_assert_int_eq(JetOSSnapshotEnd(id, 0), JET_errOSSnapshotInvalidSequence);
    OK(JetOSSnapshotAbort(id, 0));
    /* A comes back, and a new session freezes and thaws both. */
    free(A.dir);
    free(A.dbp);
    start(&A, "a", 0);
    snapshot(0, false);
    ck_assert_int_ne(info(A.dbp).bkinfoFullPrev.genLow, 0);
    ck_assert_int_ne(info(B.dbp).bkinfoFullPrev.genLow, 0);
}
END_TEST

START_TEST(time_out_ends_a_stuck_freeze)
{
    OK(JetSetSystemParameter(&A.inst, 0, JET_paramOSSnapshotTimeout, 1000, NULL));
    OK(JetSetSystemParameter(&B.inst, 0, JET_paramOSSnapshotTimeout, 1000, NULL));
    JET_OSSNAPID id;
    struct call fz;
    struct writer wa, wb;
    pthread_t ta, tb;
    freeze_with_b_stuck(&id, &fz, &wa, &ta, &wb, &tb);
    /* Nobody calls Abort: the time-out thaws A by itself while B's disk still hangs. */
    int a_before = atomic_load(&wa.done);
    bool a_resumed = writer_acks_within(&wa, a_before, 5000);
    bool b_still_stuck = stuck_holding() > 0 && !atomic_load(&fz.done);
    stuck_release();
    ck_assert_msg(a_resumed, "the time-out did not end the freeze of A");
    ck_assert(b_still_stuck);
    pthread_join(fz.th, NULL);
    ck_assert_int_eq(fz.err, JET_errOSSnapshotTimeOut);
    ck_assert_int_eq(__atomic_load_n(&events[2004], __ATOMIC_RELAXED), 2);
    int b_before = atomic_load(&wb.done);
    ck_assert_msg(writer_acks_within(&wb, b_before, 5000), "B stayed frozen after its freeze returned");
    writer_stop(&wa, ta);
    writer_stop(&wb, tb);
    /* As after a time-out of a frozen session: Thaw reports it, only an abort ends it. */
    ck_assert_int_eq(JetOSSnapshotThaw(id, 0), JET_errOSSnapshotTimeOut);
    ck_assert_int_eq(JetOSSnapshotEnd(id, 0), JET_errOSSnapshotInvalidSequence);
    OK(JetOSSnapshotAbort(id, 0));
    OK(JetSetSystemParameter(&A.inst, 0, JET_paramOSSnapshotTimeout, 60000, NULL));
    OK(JetSetSystemParameter(&B.inst, 0, JET_paramOSSnapshotTimeout, 60000, NULL));
    snapshot(0, false);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("snapshot");
    TCase *tc = tcase_create("rules");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, prepare_rules);
    tcase_add_test(tc, prepare_needs_an_instance);
    tcase_add_test(tc, sequence_rules);
    tcase_add_test(tc, thaw_without_continue_ends_the_session);
    tcase_add_test(tc, abort_while_frozen_thaws);
    tcase_add_test(tc, freeze_refused_during_streaming_backup);
    tcase_add_test(tc, implicit_prepare_includes_a_busy_instance);
    tcase_add_test(tc, kinds_and_header_stamps);
    tcase_add_test(tc, incremental_with_circular_logging_is_invalid);
    tcase_add_test(tc, truncation_deletes_only_what_is_safe);
    tcase_add_test(tc, nothing_is_written_while_frozen);
    tcase_add_test(tc, freeze_times_out);
    tcase_add_test(tc, time_out_resumes_writers_at_the_deadline);
    tcase_add_test(tc, term_ends_the_freeze);
    tcase_add_test(tc, failed_freeze_leaves_nothing_frozen);
    suite_add_tcase(s, tc);
    TCase *tk = tcase_create("stuck");
    tcase_add_checked_fixture(tk, setup, teardown);
    tcase_set_timeout(tk, 60);
    tcase_add_test(tk, abort_ends_a_freeze_stuck_in_one_instance);
    tcase_add_test(tk, calls_during_a_stuck_freeze_do_not_wait);
    tcase_add_test(tk, term_of_another_instance_ends_a_stuck_freeze);
    tcase_add_test(tk, time_out_ends_a_stuck_freeze);
    suite_add_tcase(s, tk);
    return s;
}

TU_CHECK_MAIN(suite)
