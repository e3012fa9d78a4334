/*
 * test-api.c — the public API through jet.h: behaviour, every documented error number for bad
 * input, isolation between sessions, nested transactions, and recovery after a dirty shutdown
 * and after a crashed process. Misuse and hostile surroundings: one session used from two threads
 * (SessionSharingViolation, never shared state), FIFOs and directories where files belong
 * (refused at once; the "fifo" tcase has a short time-out so a blocking open fails it), too few
 * file descriptors, and a full database disk.
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <time.h>

#include "io-int.h"
#include "jet.h"
#include "iohooks.h"
#include "testhooks-int.h"
#include "testutil.h"

static char *dir;
static char dbp[4096];
static JET_INSTANCE inst;
static JET_SESID ses;
static JET_DBID dbid;
static JET_TABLEID tab;


static void start_instance(void)
{
    OK(JetCreateInstance(&inst, "api"));
    OK(JetSetSystemParameter(&inst, 0, JET_paramSystemPath, 0, dir));
    OK(JetSetSystemParameter(&inst, 0, JET_paramLogFilePath, 0, dir));
    OK(JetSetSystemParameter(&inst, 0, JET_paramLogFileSize, 256, NULL));
    OK(JetInit(&inst));
    OK(JetBeginSession(inst, &ses, NULL, NULL));
}

static void setup(void)
{
    dir = tu_mkdtemp("api");
    snprintf(dbp, sizeof dbp, "%s/a.edb", dir);
    start_instance();
    OK(JetCreateDatabase(ses, dbp, NULL, &dbid, 0));
    OK(JetCreateTable(ses, dbid, "t", 0, 0, &tab));
}

static void teardown(void)
{
    if (inst)
        JetTerm(inst);
    inst = 0;
    tu_rmtree(dir);
    free(dir);
}

static void reopen(void)
{
    OK(JetTerm(inst));
    start_instance();
    OK(JetAttachDatabase(ses, dbp, 0));
    OK(JetOpenDatabase(ses, dbp, NULL, &dbid, 0));
    OK(JetOpenTable(ses, dbid, "t", NULL, 0, 0, &tab));
}

static void put_s(JET_SESID s, JET_TABLEID t, const char *k, const char *v)
{
    OK(JetPutRecord(s, t, k, (unsigned long)strlen(k), v, (unsigned long)strlen(v), 0));
}

static int get_s(JET_SESID s, JET_TABLEID t, const char *k, char *out, size_t n)
{
    unsigned long got = 0;
    JET_ERR e = JetGetRecord(s, t, k, (unsigned long)strlen(k), out, (unsigned long)n - 1, &got, 0);
    if (e == JET_errSuccess)
        out[got] = 0;
    return (int)e;
}

START_TEST(put_get_delete_persist)
{
    char buf[64];
    put_s(ses, tab, "alpha", "1");
    put_s(ses, tab, "beta", "2");
    put_s(ses, tab, "alpha", "one"); /* replace */
    ck_assert_int_eq(JetPutRecord(ses, tab, "beta", 4, "x", 1, JET_bitPutNoOverwrite), JET_errKeyDuplicate);
    OK(get_s(ses, tab, "alpha", buf, sizeof buf));
    ck_assert_str_eq(buf, "one");
    OK(JetDeleteRecord(ses, tab, "beta", 4, 0));
    ck_assert_int_eq(JetDeleteRecord(ses, tab, "beta", 4, 0), JET_errRecordNotFound);
    ck_assert_int_eq(get_s(ses, tab, "beta", buf, sizeof buf), JET_errRecordNotFound);
    reopen();
    OK(get_s(ses, tab, "alpha", buf, sizeof buf));
    ck_assert_str_eq(buf, "one");
    ck_assert_int_eq(get_s(ses, tab, "beta", buf, sizeof buf), JET_errRecordNotFound);
}
END_TEST

START_TEST(buffer_truncated_and_large_values)
{
    size_t n = (1u << 20) + 12345; /* larger than a page and than 1 MiB */
    unsigned char *big = malloc(n), *back = malloc(n);
    for (size_t i = 0; i < n; i++)
        big[i] = (unsigned char)(i * 7 + 3);
    OK(JetPutRecord(ses, tab, "big", 3, big, (unsigned long)n, 0));
    unsigned long got = 0;
    char small[10];
    ck_assert_int_eq(JetGetRecord(ses, tab, "big", 3, small, sizeof small, &got, 0), JET_wrnBufferTruncated);
    ck_assert_uint_eq(got, n);
    ck_assert_mem_eq(small, big, sizeof small);
    reopen();
    OK(JetGetRecord(ses, tab, "big", 3, back, (unsigned long)n, &got, 0));
    ck_assert_uint_eq(got, n);
    ck_assert_int_eq(memcmp(big, back, n), 0);
    free(big);
    free(back);
}
END_TEST

START_TEST(keys_up_to_the_limit)
{
    unsigned char k[2001];
    memset(k, 'k', sizeof k);
    OK(JetPutRecord(ses, tab, k, 255, "v", 1, 0));
    OK(JetPutRecord(ses, tab, k, 2000, "w", 1, 0)); /* 8 KiB pages allow 2000 bytes, as ESE */
    ck_assert_int_eq(JetPutRecord(ses, tab, k, 2001, "w", 1, 0), JET_errKeyTooBig);
    ck_assert_int_eq(JetPutRecord(ses, tab, k, 0, "w", 1, 0), JET_errInvalidParameter);
    ck_assert_int_eq(JetPutRecord(ses, tab, NULL, 3, "w", 1, 0), JET_errInvalidParameter);
    ck_assert_int_eq(JetPutRecord(ses, tab, k, 3, NULL, 1, 0), JET_errInvalidParameter);
    ck_assert_int_eq(JetPutRecord(ses, tab, k, 3, "w", 1, 0x80), JET_errInvalidGrbit);
}
END_TEST

START_TEST(seek_move_retrieve)
{
    const char *keys[] = {"b", "d", "f", "h"};
    for (int i = 0; i < 4; i++)
        put_s(ses, tab, keys[i], keys[i]);
    char k[8];
    unsigned long kl;
    ck_assert_int_eq(JetSeekRecord(ses, tab, "e", 1, JET_bitSeekGE), JET_wrnSeekNotEqual);
    OK(JetRetrieveKey(ses, tab, k, sizeof k, &kl, 0));
    ck_assert_int_eq(kl, 1);
    ck_assert_int_eq(k[0], 'f');
    ck_assert_int_eq(JetSeekRecord(ses, tab, "e", 1, JET_bitSeekLE), JET_wrnSeekNotEqual);
    OK(JetRetrieveKey(ses, tab, k, sizeof k, &kl, 0));
    ck_assert_int_eq(k[0], 'd');
    OK(JetSeekRecord(ses, tab, "d", 1, JET_bitSeekEQ));
    ck_assert_int_eq(JetSeekRecord(ses, tab, "e", 1, JET_bitSeekEQ), JET_errRecordNotFound);
    ck_assert_int_eq(JetSeekRecord(ses, tab, "z", 1, JET_bitSeekGT), JET_errRecordNotFound);
    ck_assert_int_eq(JetSeekRecord(ses, tab, "a", 1, JET_bitSeekLT), JET_errRecordNotFound);
    ck_assert_int_eq(JetSeekRecord(ses, tab, "a", 1, JET_bitSeekLT | JET_bitSeekGT), JET_errInvalidGrbit);
    ck_assert_int_eq(JetSeekRecord(ses, tab, "a", 1, 0), JET_errInvalidGrbit);
    OK(JetSeekRecord(ses, tab, "h", 1, JET_bitSeekLT)); /* lands on "f" ... */
    OK(JetRetrieveKey(ses, tab, k, sizeof k, &kl, 0));
    ck_assert_int_eq(k[0], 'f');
    /* Forward and backward walks. */
    OK(JetMove(ses, tab, JET_MoveFirst, 0));
    int n = 0;
    JET_ERR e;
    do {
        OK(JetRetrieveKey(ses, tab, k, sizeof k, &kl, 0));
        ck_assert_int_eq(k[0], keys[n][0]);
        n++;
    } while ((e = JetMove(ses, tab, JET_MoveNext, 0)) == JET_errSuccess);
    ck_assert_int_eq(e, JET_errNoCurrentRecord);
    ck_assert_int_eq(n, 4);
    ck_assert_int_eq(JetRetrieveKey(ses, tab, k, sizeof k, &kl, 0), JET_errNoCurrentRecord);
    OK(JetMove(ses, tab, JET_MoveLast, 0));
    OK(JetMove(ses, tab, -2, 0));
    OK(JetRetrieveKey(ses, tab, k, sizeof k, &kl, 0));
    ck_assert_int_eq(k[0], 'd');
    char v[8];
    unsigned long vl;
    OK(JetRetrieveRecord(ses, tab, v, sizeof v, &vl, 0));
    ck_assert_int_eq(vl, 1);
    ck_assert_int_eq(v[0], 'd');
    /* Deleting the current record leaves the cursor between its neighbours. */
    OK(JetDeleteRecord(ses, tab, "d", 1, 0));
    ck_assert_int_eq(JetRetrieveRecord(ses, tab, v, sizeof v, &vl, 0), JET_errNoCurrentRecord);
    OK(JetMove(ses, tab, JET_MoveNext, 0));
    OK(JetRetrieveKey(ses, tab, k, sizeof k, &kl, 0));
    ck_assert_int_eq(k[0], 'f');
    ck_assert_int_eq(JetRetrieveKey(ses, tab, k, 0, &kl, 0), JET_wrnBufferTruncated);
    ck_assert_int_eq(JetMove(ses, tab, JET_MoveNext, 0x10), JET_errInvalidGrbit);
}
END_TEST

START_TEST(empty_table_moves)
{
    ck_assert_int_eq(JetMove(ses, tab, JET_MoveFirst, 0), JET_errNoCurrentRecord);
    ck_assert_int_eq(JetMove(ses, tab, JET_MoveLast, 0), JET_errNoCurrentRecord);
    ck_assert_int_eq(JetMove(ses, tab, JET_MoveNext, 0), JET_errNoCurrentRecord);
}
END_TEST

START_TEST(rollback_and_nesting)
{
    char buf[32];
    OK(JetBeginTransaction(ses));
    put_s(ses, tab, "a", "1");
    OK(JetBeginTransaction(ses));
    put_s(ses, tab, "b", "2");
    put_s(ses, tab, "a", "changed");
    OK(JetRollback(ses, 0)); /* undoes level 2 only */
    OK(get_s(ses, tab, "a", buf, sizeof buf));
    ck_assert_str_eq(buf, "1");
    ck_assert_int_eq(get_s(ses, tab, "b", buf, sizeof buf), JET_errRecordNotFound);
    OK(JetBeginTransaction(ses));
    put_s(ses, tab, "c", "3");
    OK(JetCommitTransaction(ses, 0)); /* level 2 into level 1 */
    OK(JetRollback(ses, 0));          /* level 1: everything goes */
    ck_assert_int_eq(get_s(ses, tab, "a", buf, sizeof buf), JET_errRecordNotFound);
    ck_assert_int_eq(get_s(ses, tab, "c", buf, sizeof buf), JET_errRecordNotFound);
    ck_assert_int_eq(JetRollback(ses, 0), JET_errNotInTransaction);
    ck_assert_int_eq(JetCommitTransaction(ses, 0), JET_errNotInTransaction);
    for (int i = 0; i < 7; i++)
        OK(JetBeginTransaction(ses));
    ck_assert_int_eq(JetBeginTransaction(ses), JET_errTransTooDeep);
    OK(JetRollback(ses, JET_bitRollbackAll));
    ck_assert_int_eq(JetRollback(ses, 0), JET_errNotInTransaction);
    ck_assert_int_eq(JetCommitTransaction(ses, 0x100), JET_errInvalidGrbit);
}
END_TEST

START_TEST(rollback_of_create_table_closes_its_cursor)
{
    JET_TABLEID t2;
    OK(JetBeginTransaction(ses));
    OK(JetCreateTable(ses, dbid, "temp", 0, 0, &t2));
    put_s(ses, t2, "x", "y");
    OK(JetRollback(ses, 0));
    ck_assert_int_eq(JetPutRecord(ses, t2, "x", 1, "y", 1, 0), JET_errInvalidTableId);
    ck_assert_int_eq(JetOpenTable(ses, dbid, "temp", NULL, 0, 0, &t2), JET_errObjectNotFound);
}
END_TEST

START_TEST(readers_see_only_committed)
{
    JET_SESID s2;
    JET_DBID d2;
    JET_TABLEID t2;
    char buf[32];
    OK(JetBeginSession(inst, &s2, NULL, NULL));
    OK(JetOpenDatabase(s2, dbp, NULL, &d2, 0));
    OK(JetOpenTable(s2, d2, "T", NULL, 0, 0, &t2)); /* table names are case-insensitive */
    put_s(ses, tab, "k", "old");
    OK(JetBeginTransaction(ses));
    put_s(ses, tab, "k", "new");
    put_s(ses, tab, "fresh", "x");
    OK(get_s(s2, t2, "k", buf, sizeof buf));
    ck_assert_str_eq(buf, "old");
    ck_assert_int_eq(get_s(s2, t2, "fresh", buf, sizeof buf), JET_errRecordNotFound);
    OK(get_s(ses, tab, "k", buf, sizeof buf)); /* a session sees its own changes */
    ck_assert_str_eq(buf, "new");
    /* A second writer on this thread would deadlock: it gets WriteConflict at once. */
    ck_assert_int_eq(JetPutRecord(s2, t2, "z", 1, "z", 1, 0), JET_errWriteConflict);
    OK(JetCommitTransaction(ses, 0));
    OK(get_s(s2, t2, "k", buf, sizeof buf));
    ck_assert_str_eq(buf, "new");
    put_s(s2, t2, "z", "from s2");
    OK(JetEndSession(s2, 0));
}
END_TEST

START_TEST(bad_handles_and_arguments)
{
    char buf[8];
    unsigned long n;
    ck_assert_int_eq(JetPutRecord(12345, tab, "a", 1, "b", 1, 0), JET_errInvalidSesid);
    ck_assert_int_eq(JetPutRecord(JET_sesidNil, tab, "a", 1, "b", 1, 0), JET_errInvalidSesid);
    ck_assert_int_eq(JetGetRecord(ses, 999, "a", 1, buf, 8, &n, 0), JET_errInvalidTableId);
    ck_assert_int_eq(JetBeginTransaction(0), JET_errInvalidSesid);
    ck_assert_int_eq(JetOpenTable(ses, dbid, "nope", NULL, 0, 0, &tab), JET_errObjectNotFound);
    JET_TABLEID t2;
    ck_assert_int_eq(JetCreateTable(ses, dbid, "t", 0, 0, &t2), JET_errTableDuplicate);
    ck_assert_int_eq(JetCreateTable(ses, dbid, "", 0, 0, &t2), JET_errInvalidName);
    ck_assert_int_eq(JetCreateTable(ses, dbid, "x", 0, 5, &t2), JET_errDensityInvalid);
    ck_assert_int_eq(JetCreateTable(ses, 77, "x", 0, 0, &t2), JET_errInvalidDatabaseId);
    ck_assert_int_eq(JetCreateTable(ses, dbid, "x", 0, 0, NULL), JET_errInvalidParameter);
    JET_DBID d2;
    ck_assert_int_eq(JetCreateDatabase(ses, dbp, NULL, &d2, 0), JET_errDatabaseDuplicate);
    ck_assert_int_eq(JetOpenDatabase(ses, "/nonexistent/x.edb", NULL, &d2, 0), JET_errDatabaseNotFound);
    ck_assert_int_eq(JetAttachDatabase(ses, dbp, 0), JET_wrnDatabaseAttached);
    ck_assert_int_eq(JetDeleteTable(ses, dbid, "t"), JET_errTableInUse);
    ck_assert_int_eq(JetEndSession(ses, 5), JET_errInvalidGrbit);
    ck_assert_int_eq(JetBeginSession(inst, NULL, NULL, NULL), JET_errInvalidParameter);
    JET_SESID s2;
    ck_assert_int_eq(JetBeginSession(0x1234, &s2, NULL, NULL), JET_errInvalidParameter);
    /* A closed table handle is stale, not a crash. */
    OK(JetCloseTable(ses, tab));
    ck_assert_int_eq(JetCloseTable(ses, tab), JET_errInvalidTableId);
    OK(JetDeleteTable(ses, dbid, "t"));
    ck_assert_int_eq(JetDeleteTable(ses, dbid, "t"), JET_errObjectNotFound);
}
END_TEST

START_TEST(not_a_database_and_damaged_page)
{
    char junk[4096];
    snprintf(junk, sizeof junk, "%s/junk.edb", dir);
    FILE *f = fopen(junk, "w");
    for (int i = 0; i < 50000; i++)
        fputc(i * 31, f);
    fclose(f);
    ck_assert_int_eq(JetAttachDatabase(ses, junk, 0), JET_errDatabaseCorrupted);
    ck_assert_int_eq(JetAttachDatabase(ses, "/nonexistent/dir/x.edb", 0), JET_errFileNotFound);

    /* Fill a table, detach, flip a byte in one of its pages, reattach: the read fails with
     * ReadVerifyFailure instead of returning wrong data. */
    char v[500];
    memset(v, 'v', sizeof v);
    for (int i = 0; i < 200; i++) {
        char k[16];
        snprintf(k, sizeof k, "key%04d", i);
        OK(JetPutRecord(ses, tab, k, (unsigned long)strlen(k), v, sizeof v, 0));
    }
    OK(JetCloseTable(ses, tab));
    OK(JetCloseDatabase(ses, dbid, 0));
    OK(JetDetachDatabase(ses, dbp));
    int fd = open(dbp, O_RDWR);
    unsigned char b;
    off_t off = 8192 * 5 + 1000; /* inside page 4, a leaf of "t" */
    ck_assert_int_eq(pread(fd, &b, 1, off), 1);
    b ^= 0xff;
    ck_assert_int_eq(pwrite(fd, &b, 1, off), 1);
    close(fd);
    ck_assert_int_eq(eng_verify_file(dbp, NULL, NULL, NULL), JET_errReadVerifyFailure);
    OK(JetAttachDatabase(ses, dbp, 0));
    OK(JetOpenDatabase(ses, dbp, NULL, &dbid, 0));
    OK(JetOpenTable(ses, dbid, "t", NULL, 0, 0, &tab));
    int failures = 0;
    for (int i = 0; i < 200; i++) {
        char k[16], out[600];
        unsigned long n = 0;
        snprintf(k, sizeof k, "key%04d", i);
        JET_ERR e = JetGetRecord(ses, tab, k, (unsigned long)strlen(k), out, sizeof out, &n, 0);
        if (e == JET_errReadVerifyFailure)
            failures++;
        else
            ck_assert_int_eq(e, JET_errSuccess);
    }
    ck_assert_int_gt(failures, 0);
}
END_TEST

START_TEST(dirty_term_recovers)
{
    char buf[32];
    put_s(ses, tab, "durable", "yes");
    OK(JetBeginTransaction(ses));
    put_s(ses, tab, "lazy", "yes");
    OK(JetCommitTransaction(ses, JET_bitCommitLazyFlush));
    OK(JetCommitTransaction(ses, JET_bitWaitLastLevel0Commit)); /* makes the lazy one durable */
    OK(JetBeginTransaction(ses));
    put_s(ses, tab, "uncommitted", "no");
    /* Dirty: databases are not flushed; the open transaction is lost. */
    ck_assert_int_eq(JetTerm2(inst, JET_bitTermDirty), JET_errDirtyShutdown);
    inst = 0;
    start_instance();
    OK(JetAttachDatabase(ses, dbp, 0));
    OK(JetOpenDatabase(ses, dbp, NULL, &dbid, 0));
    OK(JetOpenTable(ses, dbid, "t", NULL, 0, 0, &tab));
    OK(get_s(ses, tab, "durable", buf, sizeof buf));
    OK(get_s(ses, tab, "lazy", buf, sizeof buf));
    ck_assert_int_eq(get_s(ses, tab, "uncommitted", buf, sizeof buf), JET_errRecordNotFound);
}
END_TEST

START_TEST(killed_process_recovers)
{
    /* A child commits, leaves a transaction open and dies by SIGKILL, never flushing the
     * database file: JetInit in this process must redo the commit and drop the rest. */
    OK(JetTerm(inst));
    inst = 0;
    pid_t pid = fork();
    if (pid == 0) {
        start_instance();
        OK(JetAttachDatabase(ses, dbp, 0));
        OK(JetOpenDatabase(ses, dbp, NULL, &dbid, 0));
        OK(JetOpenTable(ses, dbid, "t", NULL, 0, 0, &tab));
        for (int i = 0; i < 300; i++) {
            char k[16];
            snprintf(k, sizeof k, "c%03d", i);
            put_s(ses, tab, k, "committed");
        }
        OK(JetBeginTransaction(ses));
        put_s(ses, tab, "c000", "overwritten but not committed");
        put_s(ses, tab, "zz", "not committed");
        kill(getpid(), SIGKILL);
    }
    int st;
    waitpid(pid, &st, 0);
    ck_assert(WIFSIGNALED(st));
    start_instance();
    ck_assert_int_eq(JetAttachDatabase(ses, dbp, 0), JET_errSuccess);
    OK(JetOpenDatabase(ses, dbp, NULL, &dbid, 0));
    OK(JetOpenTable(ses, dbid, "t", NULL, 0, 0, &tab));
    char buf[64];
    for (int i = 0; i < 300; i++) {
        char k[16];
        snprintf(k, sizeof k, "c%03d", i);
        OK(get_s(ses, tab, k, buf, sizeof buf));
        ck_assert_str_eq(buf, "committed");
    }
    ck_assert_int_eq(get_s(ses, tab, "zz", buf, sizeof buf), JET_errRecordNotFound);
}
END_TEST

START_TEST(dirty_database_needs_recovery)
{
    OK(JetCloseTable(ses, tab));
    OK(JetCloseDatabase(ses, dbid, 0));
    ck_assert_int_eq(JetTerm2(inst, JET_bitTermDirty), JET_errDirtyShutdown);
    inst = 0;
    /* Another instance with another log set cannot attach it: it needs its own logs first. */
    char other[4096];
    snprintf(other, sizeof other, "%s/other", dir);
    mkdir(other, 0755);
    JET_INSTANCE i2;
    JET_SESID s2;
    OK(JetCreateInstance(&i2, "other"));
    OK(JetSetSystemParameter(&i2, 0, JET_paramSystemPath, 0, other));
    OK(JetSetSystemParameter(&i2, 0, JET_paramLogFilePath, 0, other));
    OK(JetInit(&i2));
    OK(JetBeginSession(i2, &s2, NULL, NULL));
    ck_assert_int_eq(JetAttachDatabase(s2, dbp, 0), JET_errDatabaseDirtyShutdown);
    OK(JetTerm(i2));
}
END_TEST

START_TEST(term_with_open_transaction)
{
    OK(JetBeginTransaction(ses));
    put_s(ses, tab, "x", "y");
    ck_assert_int_eq(JetTerm2(inst, JET_bitTermComplete), JET_errTooManyActiveUsers);
    OK(JetRollback(ses, 0));
    OK(JetTerm2(inst, JET_bitTermComplete));
    inst = 0;
    ck_assert_int_eq(JetBeginTransaction(ses), JET_errInvalidSesid);
}
END_TEST

START_TEST(system_parameters)
{
    JET_API_PTR v = 0;
    char s[64];
    OK(JetGetSystemParameter(inst, 0, JET_paramLogFileSize, &v, NULL, 0));
    ck_assert_uint_eq(v, 256);
    OK(JetGetSystemParameter(inst, 0, JET_paramBaseName, NULL, s, sizeof s));
    ck_assert_str_eq(s, "edb");
    ck_assert_int_eq(JetGetSystemParameter(inst, 0, JET_paramBaseName, NULL, s, 2), JET_errBufferTooSmall);
    OK(JetGetSystemParameter(inst, 0, JET_paramOSSnapshotTimeout, &v, NULL, 0));
    ck_assert_uint_eq(v, 70000);
    OK(JetGetSystemParameter(0, 0, JET_paramMaxInstances, &v, NULL, 0));
    ck_assert_uint_eq(v, 16);
    OK(JetGetSystemParameter(inst, 0, JET_paramDatabasePageSize, &v, NULL, 0));
    ck_assert_uint_eq(v, 8192);
    ck_assert_int_eq(JetSetSystemParameter(&inst, 0, JET_paramLogFileSize, 512, NULL), JET_errAlreadyInitialized);
    ck_assert_int_eq(JetSetSystemParameter(&inst, 0, 9999, 1, NULL), JET_errInvalidParameter);
    ck_assert_int_eq(JetGetSystemParameter(inst, 0, 9999, &v, NULL, 0), JET_errInvalidParameter);
    JET_INSTANCE fresh;
    OK(JetCreateInstance(&fresh, "fresh"));
    ck_assert_int_eq(JetSetSystemParameter(&fresh, 0, JET_paramLogFileSize, 10, NULL), JET_errInvalidParameter);
    ck_assert_int_eq(JetSetSystemParameter(&fresh, 0, JET_paramBaseName, 0, "toolong"), JET_errInvalidParameter);
    ck_assert_int_eq(JetSetSystemParameter(&fresh, 0, JET_paramRecovery, 0, "maybe"), JET_errInvalidParameter);
    /* Two instances may not share a log directory. */
    OK(JetSetSystemParameter(&fresh, 0, JET_paramSystemPath, 0, dir));
    ck_assert_int_eq(JetInit(&fresh), JET_errSystemPathInUse);
    OK(JetTerm(fresh));
}
END_TEST

START_TEST(modes)
{
    /* setup() created an instance: multi-instance mode. */
    ck_assert_int_eq(JetInit(NULL), JET_errRunningInMultiInstanceMode);
    JET_INSTANCE dup;
    ck_assert_int_eq(JetCreateInstance(&dup, "api"), JET_errInstanceNameInUse);
    ck_assert_int_eq(JetCreateInstance(NULL, "x"), JET_errInvalidParameter);
    OK(JetTerm(inst));
    inst = 0;
    /* All instances gone: the mode resets; JetInit(NULL) selects legacy mode. */
    OK(JetSetSystemParameter(NULL, 0, JET_paramSystemPath, 0, dir));
    OK(JetSetSystemParameter(NULL, 0, JET_paramLogFilePath, 0, dir));
    /* The logs in dir were made 256 KB; another size would be JET_errLogFileSizeMismatch. */
    OK(JetSetSystemParameter(NULL, 0, JET_paramLogFileSize, 256, NULL));
    JET_INSTANCE legacy = 0;
    OK(JetInit(&legacy));
    ck_assert_int_eq(JetCreateInstance(&dup, "x"), JET_errRunningInOneInstanceMode);
    ck_assert_int_eq(JetInit(NULL), JET_errAlreadyInitialized);
    JET_SESID s;
    OK(JetBeginSession(0, &s, NULL, NULL)); /* the instance argument is ignored in legacy mode */
    OK(JetAttachDatabase(s, dbp, 0));
    OK(JetTerm(legacy));
    OK(JetSetSystemParameter(NULL, 0, JET_paramSystemPath, 0, "."));
    OK(JetSetSystemParameter(NULL, 0, JET_paramLogFilePath, 0, "."));
    OK(JetCreateInstance(&dup, "again"));
    OK(JetTerm(dup));
}
END_TEST

/* Fail (ENOSPC) the n-th write to a file whose name ends in `suffix`. */
struct nth_fault {
    const char *suffix;
    int n, seen;
};
static int nth_hook(void *ctx, enum eng_io_op op, int fd, const char *path, uint64_t off, size_t len)
{
    (void)off, (void)len;
    struct nth_fault *f = ctx;
    if (op != ENG_IO_WRITE)
        return 0;
    char target[4096];
    tu_hook_path(fd, path, target, sizeof target); /* "" if unresolvable: no match */
    size_t tl = strlen(target), sl = strlen(f->suffix);
    if (tl < sl || strcmp(target + tl - sl, f->suffix))
        return 0;
    return ++f->seen == f->n ? -ENOSPC : 0;
}

START_TEST(database_disk_full_is_reported)
{
    /* The database's disk fills up: the checkpoint thread's page write fails. The calls that come
     * after must say DiskFull, not a bare InstanceUnavailable, and nothing acknowledged is lost. */
    char v[2048];
    memset(v, 'v', sizeof v);
    struct nth_fault f = {"/a.edb", 1, 0};
    eng_io_set_fault_hook(nth_hook, &f);
    JET_ERR e = 0;
    int n = 0;
    for (; n < 20000 && !e; n++) {
        char k[16];
        snprintf(k, sizeof k, "full%05d", n);
        e = JetPutRecord(ses, tab, k, (unsigned long)strlen(k), v, sizeof v, 0);
    }
    n--; /* the last put failed */
    ck_assert_int_ge(f.seen, 1);
    ck_assert_int_eq(e, JET_errDiskFull);
    /* Sticky, and named the same way on every call and for a new session. */
    ck_assert_int_eq(JetPutRecord(ses, tab, "again", 5, "x", 1, 0), JET_errDiskFull);
    ck_assert_int_eq(JetBeginTransaction(ses), JET_errDiskFull);
    JET_SESID s2;
    ck_assert_int_eq(JetBeginSession(inst, &s2, NULL, NULL), JET_errDiskFull);
    ck_assert_int_eq(JetStopServiceInstance2(inst, JET_bitStopServiceQuiesceCaches), JET_errDiskFull);
    eng_io_set_fault_hook(NULL, NULL);
    JetTerm(inst);
    inst = 0;
    /* Space again: recovery brings back every acknowledged put. */
    start_instance();
    OK(JetAttachDatabase(ses, dbp, 0));
    OK(JetOpenDatabase(ses, dbp, NULL, &dbid, 0));
    OK(JetOpenTable(ses, dbid, "t", NULL, 0, 0, &tab));
    for (int i = 0; i < n; i++) {
        char k[16];
        unsigned long got = 0;
        snprintf(k, sizeof k, "full%05d", i);
        ck_assert_msg(JetGetRecord(ses, tab, k, (unsigned long)strlen(k), NULL, 0, &got, 0) == JET_wrnBufferTruncated &&
                          got == sizeof v,
                      "acknowledged put %s is lost", k);
    }
}
END_TEST

START_TEST(failed_create_leaves_nothing_behind)
{
    /* The first write to b.edb is its header after the ATTACH record went to the log (the file is
     * built as b.edb.creating and renamed into place before): the create fails after the log
     * already names the database. */
    char *bp = tu_path(dir, "b.edb");
    struct nth_fault f = {"/b.edb", 1, 0};
    eng_io_set_fault_hook(nth_hook, &f);
    JET_DBID b;
    ck_assert_int_eq(JetCreateDatabase(ses, bp, NULL, &b, 0), JET_errDiskFull);
    eng_io_set_fault_hook(NULL, NULL);
    ck_assert_int_ge(f.seen, 1);
    ck_assert_int_ne(access(bp, F_OK), 0); /* no half-made file */
    /* Recovery replays the ATTACH of a database that never got a committed page: it must not
     * bring the file back. Twice: once replaying from before the ATTACH record, once after a
     * checkpoint taken since (which must not list it). */
    for (int round = 0; round < 2; round++) {
        if (round == 1) {
            f.seen = 0;
            eng_io_set_fault_hook(nth_hook, &f);
            ck_assert_int_eq(JetCreateDatabase(ses, bp, NULL, &b, 0), JET_errDiskFull);
            eng_io_set_fault_hook(NULL, NULL);
            OK(JetStopServiceInstance2(inst, JET_bitStopServiceQuiesceCaches));
        }
        put_s(ses, tab, "after", "x");
        ck_assert_int_eq(JetTerm2(inst, JET_bitTermDirty), JET_errDirtyShutdown);
        inst = 0;
        start_instance();
        ck_assert_int_ne(access(bp, F_OK), 0);
        OK(JetAttachDatabase(ses, dbp, 0));
        OK(JetOpenDatabase(ses, dbp, NULL, &dbid, 0));
        OK(JetOpenTable(ses, dbid, "t", NULL, 0, 0, &tab));
        char v[8];
        ck_assert_int_eq(get_s(ses, tab, "after", v, sizeof v), 0);
    }
    /* And the name can be used for a new database. */
    OK(JetCreateDatabase(ses, bp, NULL, &b, 0));
    free(bp);
}
END_TEST

/* Holds the first sync made by one thread until released, so that thread's call is visibly in
 * flight while the test thread makes calls on the same session. */
static struct {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    pthread_t who;
    int state; /* 0 armed, 1 holding, 2 released */
} hold = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0};

static int hold_hook(void *ctx, enum eng_io_op op, int fd, const char *path, uint64_t off, size_t len)
{
    (void)ctx, (void)fd, (void)path, (void)off, (void)len;
    if (op != ENG_IO_SYNC)
        return 0;
    pthread_mutex_lock(&hold.mu);
    if (hold.state == 0 && pthread_equal(pthread_self(), hold.who)) {
        hold.state = 1;
        pthread_cond_broadcast(&hold.cv);
        while (hold.state != 2)
            pthread_cond_wait(&hold.cv, &hold.mu);
    }
    pthread_mutex_unlock(&hold.mu);
    return 0;
}

static void *commit_main(void *arg)
{
    (void)arg;
    return (void *)(intptr_t)JetCommitTransaction(ses, 0);
}

START_TEST(session_in_use_by_another_thread)
{
    OK(JetBeginTransaction(ses));
    put_s(ses, tab, "k1", "v1");
    pthread_t th;
    hold.state = 0;
    pthread_mutex_lock(&hold.mu); /* hold.who is set before the thread can sync */
    eng_io_set_fault_hook(hold_hook, NULL);
    ck_assert_int_eq(pthread_create(&th, NULL, commit_main, NULL), 0);
    hold.who = th;
    while (hold.state != 1)
        pthread_cond_wait(&hold.cv, &hold.mu);
    pthread_mutex_unlock(&hold.mu);
    /* The commit is in its log flush: every call on the session, by session or by table, is
     * refused, and none of them changes anything. */
    char buf[16];
    unsigned long got;
    ck_assert_int_eq(JetPutRecord(ses, tab, "k2", 2, "v2", 2, 0), JET_errSessionSharingViolation);
    ck_assert_int_eq(JetGetRecord(ses, tab, "k1", 2, buf, sizeof buf, &got, 0), JET_errSessionSharingViolation);
    ck_assert_int_eq(JetMove(ses, tab, JET_MoveFirst, 0), JET_errSessionSharingViolation);
    ck_assert_int_eq(JetBeginTransaction(ses), JET_errSessionSharingViolation);
    ck_assert_int_eq(JetRollback(ses, 0), JET_errSessionSharingViolation);
    ck_assert_int_eq(JetCloseTable(ses, tab), JET_errSessionSharingViolation);
    ck_assert_int_eq(JetCloseDatabase(ses, dbid, 0), JET_errSessionSharingViolation);
    ck_assert_int_eq(JetEndSession(ses, 0), JET_errSessionSharingViolation);
    /* Another session is not affected. */
    JET_SESID other;
    JET_TABLEID otab;
    JET_DBID odb;
    OK(JetBeginSession(inst, &other, NULL, NULL));
    OK(JetOpenDatabase(other, dbp, NULL, &odb, 0));
    OK(JetOpenTable(other, odb, "t", NULL, 0, 0, &otab));
    ck_assert_int_eq(JetCloseTable(other, tab), JET_errSesidTableIdMismatch);
    pthread_mutex_lock(&hold.mu);
    hold.state = 2;
    pthread_cond_broadcast(&hold.cv);
    pthread_mutex_unlock(&hold.mu);
    void *r;
    pthread_join(th, &r);
    eng_io_set_fault_hook(NULL, NULL);
    ck_assert_int_eq((long)(intptr_t)r, JET_errSuccess);
    /* The session moved between threads and goes on working; the refused put left no trace. */
    ck_assert_int_eq(get_s(other, otab, "k1", buf, sizeof buf), 0);
    ck_assert_str_eq(buf, "v1");
    ck_assert_int_eq(get_s(ses, tab, "k2", buf, sizeof buf), JET_errRecordNotFound);
    put_s(ses, tab, "k3", "v3");
    OK(JetEndSession(other, 0));
}
END_TEST

#define HAMMER_N 3000
#define HAMMER_V 200 /* values large enough for the puts to split pages all the time */

static void hammer_value(const char *k, char *v)
{
    for (size_t i = 0; i < HAMMER_V; i++)
        v[i] = k[i % strlen(k)];
}

struct hammer {
    int id;
    pthread_barrier_t *go;
    JET_ERR rc[HAMMER_N];
};

static void *hammer_main(void *arg)
{
    struct hammer *h = arg;
    pthread_barrier_wait(h->go);
    for (int i = 0; i < HAMMER_N; i++) {
        char k[32], v[HAMMER_V];
        snprintf(k, sizeof k, "h%d-%05d", h->id, i);
        hammer_value(k, v);
        h->rc[i] = JetPutRecord(ses, tab, k, (unsigned long)strlen(k), v, sizeof v, 0);
        if (i % 8 == 7) {
            /* Reads and moves through the same session too (their results are not checked). */
            char r[32];
            unsigned long got;
            JetGetRecord(ses, tab, k, (unsigned long)strlen(k), r, sizeof r, &got, 0);
            JetMove(ses, tab, JET_MovePrevious, 0);
        }
    }
    return NULL;
}

START_TEST(one_session_hammered_from_two_threads)
{
    static struct hammer h[2];
    OK(JetBeginTransaction(ses));
    pthread_t th[2];
    pthread_barrier_t go;
    pthread_barrier_init(&go, NULL, 2);
    for (int t = 0; t < 2; t++) {
        h[t].id = t;
        h[t].go = &go;
        ck_assert_int_eq(pthread_create(&th[t], NULL, hammer_main, &h[t]), 0);
    }
    for (int t = 0; t < 2; t++)
        pthread_join(th[t], NULL);
    pthread_barrier_destroy(&go);
    OK(JetCommitTransaction(ses, 0));
    /* Each put either happened or was refused whole; the committed table says which. */
    int done = 0, refused = 0;
    JET_SESID rs;
    JET_TABLEID rt;
    OK(JetBeginSession(inst, &rs, NULL, NULL));
    OK(JetOpenDatabase(rs, dbp, NULL, &dbid, 0));
    OK(JetOpenTable(rs, dbid, "t", NULL, 0, 0, &rt));
    for (int t = 0; t < 2; t++)
        for (int i = 0; i < HAMMER_N; i++) {
            char k[32], v[HAMMER_V + 1], want[HAMMER_V];
            snprintf(k, sizeof k, "h%d-%05d", t, i);
            ck_assert_msg(h[t].rc[i] == 0 || h[t].rc[i] == JET_errSessionSharingViolation,
                          "put %s returned %ld", k, (long)h[t].rc[i]);
            int e = get_s(rs, rt, k, v, sizeof v);
            if (h[t].rc[i] == 0) {
                ck_assert_msg(e == 0, "put %s returned 0 but the record is missing (%d)", k, e);
                hammer_value(k, want);
                ck_assert_msg(strlen(v) == HAMMER_V && !memcmp(v, want, HAMMER_V), "record %s is damaged", k);
                done++;
            } else {
                ck_assert_msg(e == JET_errRecordNotFound, "refused put %s left a record (%d)", k, e);
                refused++;
            }
        }
    ck_assert_int_gt(done, 0);
    printf("one_session_hammered_from_two_threads: %d done, %d refused\n", done, refused);
    OK(JetEndSession(rs, 0));
}
END_TEST

struct closer {
    JET_ERR close_rc, end_rc;
    int tries;
};

static void *closer_main(void *arg)
{
    struct closer *c = arg;
    /* Retried while the other thread holds the session; bounded by time, not by a count: on a
     * loaded machine a count ran out while the other thread still hammered, which says nothing
     * about the engine. The other thread stops after a fixed number of calls, so this ends. */
    time_t give_up = time(NULL) + 60;
    do {
        c->close_rc = JetCloseTable(ses, tab);
        c->tries++;
        if (c->close_rc == JET_errSessionSharingViolation)
            sched_yield();
    } while (c->close_rc == JET_errSessionSharingViolation && time(NULL) < give_up);
    do {
        c->end_rc = JetEndSession(ses, 0);
        c->tries++;
        if (c->end_rc == JET_errSessionSharingViolation)
            sched_yield();
    } while (c->end_rc == JET_errSessionSharingViolation && time(NULL) < give_up);
    return NULL;
}

START_TEST(close_and_end_racing_calls)
{
    /* One thread closes the table and ends the session while another keeps using both: the
     * user gets refusals and then "gone", never freed memory. */
    struct closer c = {0, 0, 0};
    pthread_t th;
    ck_assert_int_eq(pthread_create(&th, NULL, closer_main, &c), 0);
    int gone = 0;
    for (int i = 0; i < 200000 && gone < 50; i++) {
        JET_ERR e = JetPutRecord(ses, tab, "r", 1, "x", 1, 0);
        ck_assert_msg(e == 0 || e == JET_errSessionSharingViolation || e == JET_errInvalidTableId ||
                          e == JET_errInvalidSesid,
                      "put returned %ld", (long)e);
        e = JetBeginTransaction(ses);
        ck_assert_msg(e == 0 || e == JET_errSessionSharingViolation || e == JET_errInvalidSesid,
                      "begin returned %ld", (long)e);
        if (e == 0) {
            e = JetRollback(ses, 0);
            ck_assert_msg(e == 0 || e == JET_errSessionSharingViolation || e == JET_errInvalidSesid,
                          "rollback returned %ld", (long)e);
        }
        if (e == JET_errInvalidSesid)
            gone++;
    }
    pthread_join(th, NULL);
    ck_assert_int_eq(c.close_rc, JET_errSuccess);
    ck_assert_int_eq(c.end_rc, JET_errSuccess);
    ck_assert_int_eq(JetPutRecord(ses, tab, "r", 1, "x", 1, 0), JET_errInvalidSesid);
    /* The instance is whole: a new session reads and writes, and the term is clean. */
    OK(JetBeginSession(inst, &ses, NULL, NULL));
    OK(JetOpenDatabase(ses, dbp, NULL, &dbid, 0));
    OK(JetOpenTable(ses, dbid, "t", NULL, 0, 0, &tab));
    put_s(ses, tab, "after", "y");
    OK(JetTerm2(inst, JET_bitTermComplete));
    inst = 0;
}
END_TEST

/* JetInit of a new instance whose system and log directory is d (the result; the instance is left
 * created, in *pi). */
static JET_ERR init_in(const char *d, JET_INSTANCE *pi)
{
    OK(JetCreateInstance(pi, "fifo"));
    OK(JetSetSystemParameter(pi, 0, JET_paramSystemPath, 0, d));
    OK(JetSetSystemParameter(pi, 0, JET_paramLogFilePath, 0, d));
    OK(JetSetSystemParameter(pi, 0, JET_paramLogFileSize, 256, NULL));
    return JetInit(pi);
}

/* Nothing ever opens the other end of these FIFOs: an open that waits for one hangs until the
 * tcase time-out. */
START_TEST(fifo_as_checkpoint_or_log)
{
    const char *names[] = {"edb.chk", "edb.log"};
    for (int i = 0; i < 2; i++) {
        char sub[16];
        snprintf(sub, sizeof sub, "f%d", i);
        char *d = tu_path(dir, sub);
        ck_assert_int_eq(mkdir(d, 0755), 0);
        char *f = tu_path(d, names[i]);
        ck_assert_int_eq(mkfifo(f, 0600), 0);
        JET_INSTANCE fi;
        ck_assert_int_eq(init_in(d, &fi), JET_errInvalidPath);
        OK(JetTerm(fi));
        struct stat st;
        ck_assert_int_eq(stat(f, &st), 0);
        ck_assert(S_ISFIFO(st.st_mode)); /* left as it was */
        free(f);
        free(d);
    }
}
END_TEST

START_TEST(fifo_or_directory_as_database)
{
    char *f = tu_path(dir, "fifo.edb");
    ck_assert_int_eq(mkfifo(f, 0600), 0);
    JET_DBINFOMISC m;
    ck_assert_int_eq(JetGetDatabaseFileInfo(f, &m, sizeof m, JET_DbInfoMisc), JET_errInvalidPath);
    ck_assert_int_eq(JetAttachDatabase(ses, f, 0), JET_errInvalidPath);
    JET_DBID d2;
    ck_assert_int_eq(JetCreateDatabase(ses, f, NULL, &d2, JET_bitDbOverwriteExisting), JET_errInvalidPath);
    struct stat st;
    ck_assert_int_eq(stat(f, &st), 0);
    ck_assert(S_ISFIFO(st.st_mode));
    /* A directory is no database either. */
    ck_assert_int_eq(JetGetDatabaseFileInfo(dir, &m, sizeof m, JET_DbInfoMisc), JET_errInvalidPath);
    ck_assert_int_eq(JetAttachDatabase(ses, dir, 0), JET_errInvalidPath);
    /* The instance is unharmed. */
    put_s(ses, tab, "still", "here");
    free(f);
}
END_TEST

START_TEST(fifo_in_a_backup)
{
    put_s(ses, tab, "k", "v");
    char *bd = tu_path(dir, "bk");
    OK(JetBackupInstance(inst, bd, 0, NULL));
    OK(JetTerm(inst));
    inst = 0;
    /* The stream, then a log of the backup, replaced by a FIFO: the restore fails, at once. */
    const char *names[] = {"a.edb", "edb00001.log"};
    for (int i = 0; i < 2; i++) {
        char *f = tu_path(bd, names[i]), *keep = tu_path(dir, "keep");
        ck_assert_int_eq(rename(f, keep), 0);
        ck_assert_int_eq(mkfifo(f, 0600), 0);
        JET_ERR e = JetRestoreInstance(0, bd, NULL, NULL);
        ck_assert_msg(e < 0, "restore with a FIFO as %s returned %ld", names[i], (long)e);
        ck_assert_int_eq(unlink(f), 0);
        ck_assert_int_eq(rename(keep, f), 0);
        free(f);
        free(keep);
    }
    free(bd);
}
END_TEST

/* The highest descriptor number open in this process. */
static int max_fd(void)
{
    int m = 2;
    for (int fd = 3; fd < 4096; fd++)
        if (fcntl(fd, F_GETFD) >= 0)
            m = fd;
    return m;
}

START_TEST(out_of_file_handles)
{
    /* JetInit under a descriptor limit that leaves it k free descriptors: it either succeeds or
     * says what is missing (OutOfFileHandles), never that the log directory is wrong. */
    OK(JetTerm(inst));
    inst = 0;
    int refused = 0, started = 0;
    for (int k = 0; k < 16; k++) {
        char *d = NULL;
        char sub[16];
        snprintf(sub, sizeof sub, "nofile%d", k);
        d = tu_path(dir, sub);
        ck_assert_int_eq(mkdir(d, 0755), 0);
        int p[2];
        ck_assert_int_eq(pipe(p), 0);
        pid_t pid = fork();
        ck_assert_int_ge(pid, 0);
        if (pid == 0) {
            close(p[0]);
            /* Fill the holes below the highest open descriptor, so exactly k are free. */
            int top = max_fd(), fd;
            while ((fd = open("/dev/null", O_RDONLY)) >= 0 && fd < top)
                ;
            if (fd > top)
                close(fd);
            struct rlimit rl = {(rlim_t)(top + 1 + k), (rlim_t)(top + 1 + k)};
            JET_INSTANCE fi;
            long r = setrlimit(RLIMIT_NOFILE, &rl) == 0 ? init_in(d, &fi) : 1;
            if (write(p[1], &r, sizeof r) != sizeof r)
                _exit(2);
            _exit(0);
        }
        close(p[1]);
        long r = 1;
        ck_assert_int_eq(read(p[0], &r, sizeof r), (ssize_t)sizeof r);
        close(p[0]);
        int st;
        waitpid(pid, &st, 0);
        ck_assert_msg(r == JET_errSuccess || r == JET_errOutOfFileHandles,
                      "JetInit with %d free descriptors returned %ld", k, r);
        refused += r == JET_errOutOfFileHandles;
        started += r == JET_errSuccess;
        free(d);
    }
    ck_assert_int_gt(refused, 0);
    ck_assert_int_gt(started, 0);
}
END_TEST

/* JETSNAP_DEBUG=1 makes every error print where it started and why (engine-int.h, ENG_RETURN_IF);
 * without it the library prints nothing. Each run is a fresh child: the engine reads the variable
 * once per process. */
enum trace_case { TRACE_PARAM, TRACE_LEGACY_IN_MULTI };

static char *trace_of(int debug, enum trace_case what)
{
    char *d = tu_mkdtemp("trace");
    char path[4096];
    snprintf(path, sizeof path, "%s/stderr", d);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        if (debug)
            setenv("JETSNAP_DEBUG", "1", 1);
        else
            unsetenv("JETSNAP_DEBUG");
        int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        if (fd < 0 || dup2(fd, 2) < 0)
            _exit(3);
        JET_INSTANCE in = 0, in2 = 0;
        if (JetCreateInstance(&in, "trace") != JET_errSuccess)
            _exit(4);
        long r;
        if (what == TRACE_PARAM) {
            r = JetSetSystemParameter(&in, 0, JET_paramBaseName, 0, "toolong") == JET_errInvalidParameter;
        } else {
            /* Two instances: the process is in multi-instance mode, where a legacy call that names
             * no instance cannot be served. */
            r = JetCreateInstance(&in2, "trace2") == JET_errSuccess &&
                JetBackup(d, 0, NULL) == JET_errRunningInMultiInstanceMode &&
                JetRestore(d, NULL) == JET_errRunningInMultiInstanceMode;
            JetTerm(in2);
        }
        JetTerm(in);
        _exit(r ? 0 : 5);
    }
    int st = 0;
    ck_assert_int_eq(waitpid(pid, &st, 0), pid);
    ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "trace child failed: status %d", st);
    FILE *f = fopen(path, "r");
    ck_assert_ptr_nonnull(f);
    static char buf[8192];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    buf[n] = 0;
    fclose(f);
    tu_rmtree(d);
    free(d);
    return buf;
}

START_TEST(debug_trace_names_the_error_and_why)
{
    const char *out = trace_of(1, TRACE_PARAM);
    ck_assert_msg(strstr(out, "jetsnap: error -1003 (JET_errInvalidParameter) at ") != NULL,
                  "no named trace line in: %s", out);
    ck_assert_msg(strstr(out, "params.c:") && strstr(out, ": the base name is three characters, no '/'\n"),
                  "trace does not give the file and the reason: %s", out);
    out = trace_of(0, TRACE_PARAM);
    ck_assert_msg(out[0] == 0, "the library printed without JETSNAP_DEBUG: %s", out);
}
END_TEST

START_TEST(legacy_call_in_multi_instance_mode_names_the_call_to_use)
{
    const char *out = trace_of(1, TRACE_LEGACY_IN_MULTI);
    ck_assert_msg(strstr(out, "(JET_errRunningInMultiInstanceMode)") != NULL, "no named trace in: %s", out);
    ck_assert_msg(strstr(out, "call JetBackupInstance with the instance's handle\n") != NULL,
                  "JetBackup's refusal does not name JetBackupInstance: %s", out);
    ck_assert_msg(strstr(out, "call JetRestoreInstance with the instance's handle\n") != NULL,
                  "JetRestore's refusal does not name JetRestoreInstance: %s", out);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("api");
    TCase *tc = tcase_create("api");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, put_get_delete_persist);
    tcase_add_test(tc, buffer_truncated_and_large_values);
    tcase_add_test(tc, keys_up_to_the_limit);
    tcase_add_test(tc, seek_move_retrieve);
    tcase_add_test(tc, empty_table_moves);
    tcase_add_test(tc, rollback_and_nesting);
    tcase_add_test(tc, rollback_of_create_table_closes_its_cursor);
    tcase_add_test(tc, readers_see_only_committed);
    tcase_add_test(tc, bad_handles_and_arguments);
    tcase_add_test(tc, not_a_database_and_damaged_page);
    tcase_add_test(tc, dirty_term_recovers);
    tcase_add_test(tc, killed_process_recovers);
    tcase_add_test(tc, dirty_database_needs_recovery);
    tcase_add_test(tc, term_with_open_transaction);
    tcase_add_test(tc, system_parameters);
    tcase_add_test(tc, modes);
    tcase_add_test(tc, failed_create_leaves_nothing_behind);
    tcase_add_test(tc, database_disk_full_is_reported);
    suite_add_tcase(s, tc);
    TCase *ts = tcase_create("sharing");
    tcase_add_checked_fixture(ts, setup, teardown);
    tcase_set_timeout(ts, 120);
    tcase_add_test(ts, session_in_use_by_another_thread);
    tcase_add_test(ts, one_session_hammered_from_two_threads);
    tcase_add_test(ts, close_and_end_racing_calls);
    suite_add_tcase(s, ts);
    TCase *tf = tcase_create("fifo");
    tcase_add_checked_fixture(tf, setup, teardown);
    tcase_set_timeout(tf, 20);
    tcase_add_test(tf, fifo_as_checkpoint_or_log);
    tcase_add_test(tf, fifo_or_directory_as_database);
    tcase_add_test(tf, fifo_in_a_backup);
    tcase_add_test(tf, out_of_file_handles);
    suite_add_tcase(s, tf);
    TCase *tt = tcase_create("trace");
    tcase_add_test(tt, debug_trace_names_the_error_and_why);
    tcase_add_test(tt, legacy_call_in_multi_instance_mode_names_the_call_to_use);
    suite_add_tcase(s, tt);
    return s;
}

TU_CHECK_MAIN(suite)
