/*
 * test-backup.c — the external backup sequence (docs/jet-semantics.md, “External backup”), one test
 * per ordering or misuse rule (each fails if the rule is broken), the header bookkeeping (“Backup
 * types and header bookkeeping”) seen through JetGetDatabaseFileInfo, the stream format of a
 * database (header snapshot, pages, trailer), the log range, truncation, stop and term, and the
 * events each step emits.
 */
#include <check.h>
#include <pthread.h>
#include <stdint.h>
#include <stdbool.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "io-int.h"
#include "jet.h"
#include "iohooks.h"
#include "testhooks-int.h"
#include "testutil.h"

#define PS 8192

static char *dir, *dbp, *dbp2;
static JET_INSTANCE inst;
static JET_SESID ses;
static JET_DBID dbid;
static JET_TABLEID tab;

/* Events seen, by id. */
static int events[4096];
static void on_event(void *ctx, JET_INSTANCE in, const char *name, int level, long id, const char *msg)
{
    (void)ctx, (void)in, (void)name, (void)level, (void)msg;
    if (id >= 0 && id < 4096)
        events[id]++;
}

static void put_n(int from, int n)
{
    for (int i = from; i < from + n; i++) {
        char k[32], v[200];
        snprintf(k, sizeof k, "key%08d", i);
        memset(v, 'a' + i % 26, sizeof v);
        OK(JetBeginTransaction(ses));
        OK(JetPutRecord(ses, tab, k, (unsigned long)strlen(k), v, sizeof v, 0));
        OK(JetCommitTransaction(ses, 0));
    }
}

static void start(int circular)
{
    OK(JetCreateInstance(&inst, "bk"));
    OK(JetSetSystemParameter(&inst, 0, JET_paramSystemPath, 0, dir));
    OK(JetSetSystemParameter(&inst, 0, JET_paramLogFilePath, 0, dir));
    OK(JetSetSystemParameter(&inst, 0, JET_paramLogFileSize, 128, NULL));
    OK(JetSetSystemParameter(&inst, 0, JET_paramCircularLog, (JET_API_PTR)circular, NULL));
    OK(JetInit(&inst));
    OK(JetBeginSession(inst, &ses, NULL, NULL));
}

static void setup_common(int circular)
{
    memset(events, 0, sizeof events);
    JetSetEventCallback(on_event, NULL);
    eng_bk_retry_base_ms = 1;
    dir = tu_mkdtemp("backup");
    dbp = tu_path(dir, "a.edb");
    dbp2 = tu_path(dir, "b.edb");
    start(circular);
    OK(JetCreateDatabase(ses, dbp, NULL, &dbid, 0));
    OK(JetCreateTable(ses, dbid, "t", 0, 0, &tab));
    put_n(0, 50);
}

static void setup(void) { setup_common(0); }
static void setup_circular(void) { setup_common(1); }

static void dbgate_open(void);

static void teardown(void)
{
    dbgate_open(); /* a test that failed with the gate closed must not hang the term */
    if (inst)
        JetTerm2(inst, JET_bitTermAbrupt);
    inst = 0;
    JetSetEventCallback(NULL, NULL);
    tu_rmtree(dir);
    free(dir);
    free(dbp);
    free(dbp2);
}

/* Read a whole backup file into out (may be NULL) with reads of cb bytes; returns its length. */
static size_t read_all(JET_HANDLE h, unsigned long cb, FILE *out)
{
    char *buf = malloc(cb);
    size_t total = 0;
    for (;;) {
        unsigned long got = 0;
        OK(JetReadFileInstance(inst, h, buf, cb, &got));
        if (!got)
            break;
        if (out)
            ck_assert_int_eq(fwrite(buf, 1, got, out), got);
        total += got;
    }
    free(buf);
    return total;
}

/* Count the strings of a multi-sz list. */
static int count_multisz(const char *p)
{
    int n = 0;
    while (*p) {
        n++;
        p += strlen(p) + 1;
    }
    return n;
}

/* Copy every database and log of a backup into outdir (NULL: read only). */
static void copy_databases(const char *outdir)
{
    unsigned long need = 0;
    OK(JetGetAttachInfoInstance(inst, NULL, 0, &need));
    char *list = malloc(need);
    unsigned long got = 0;
    OK(JetGetAttachInfoInstance(inst, list, need, &got));
    ck_assert_int_eq(got, need);
    for (char *p = list; *p; p += strlen(p) + 1) {
        JET_HANDLE h;
        unsigned long lo, hi;
        OK(JetOpenFileInstance(inst, p, &h, &lo, &hi));
        FILE *f = NULL;
        if (outdir) {
            char *o = tu_path(outdir, strrchr(p, '/') + 1);
            f = fopen(o, "wb");
            free(o);
        }
        size_t n = read_all(h, 16 * PS, f);
        ck_assert_int_eq(n, ((uint64_t)hi << 32) | lo);
        if (f)
            fclose(f);
        OK(JetCloseFileInstance(inst, h));
    }
    free(list);
}

static int copy_logs(const char *outdir, JET_LOGINFO *li)
{
    unsigned long need = 0;
    JET_LOGINFO tmp = {sizeof tmp, 0, 0, ""};
    OK(JetGetLogInfoInstance2(inst, NULL, 0, &need, li ? li : &tmp));
    char *list = malloc(need);
    OK(JetGetLogInfoInstance(inst, list, need, &need));
    int n = 0;
    for (char *p = list; *p; p += strlen(p) + 1, n++) {
        JET_HANDLE h;
        unsigned long lo, hi;
        OK(JetOpenFileInstance(inst, p, &h, &lo, &hi));
        FILE *f = NULL;
        if (outdir) {
            char *o = tu_path(outdir, strrchr(p, '/') + 1);
            f = fopen(o, "wb");
            free(o);
        }
        read_all(h, 2 * PS, f);
        if (f)
            fclose(f);
        OK(JetCloseFileInstance(inst, h));
    }
    free(list);
    return n;
}

static JET_DBINFOMISC info(const char *path)
{
    JET_DBINFOMISC m;
    OK(JetGetDatabaseFileInfo(path, &m, sizeof m, JET_DbInfoMisc));
    return m;
}

static int nlogs_on_disk(void)
{
    DIR *d = opendir(dir);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        if (!strncmp(e->d_name, "edb", 3) && strlen(e->d_name) == 12 && strstr(e->d_name, ".log"))
            n++;
    closedir(d);
    return n;
}

/* ------------------------------------------------------------------------------------------- */

START_TEST(full_backup_sequence_and_header_stamp)
{
    JET_DBINFOMISC before = info(dbp);
    ck_assert_int_eq(before.bkinfoFullPrev.genLow, 0);
    char *out = tu_path(dir, "out");
    mkdir(out, 0755);
    OK(JetBeginExternalBackupInstance(inst, 0));
    ck_assert_int_eq(events[210], 1);
    put_n(100, 20); /* the engine keeps committing */
    copy_databases(out);
    ck_assert_int_eq(events[220], 1);
    ck_assert_int_eq(events[221], 1);
    JET_LOGINFO li = {sizeof li, 0, 0, ""};
    int n = copy_logs(out, &li);
    ck_assert_int_eq(events[223], 1);
    ck_assert_int_ge(n, 1);
    ck_assert_int_eq((long)(li.ulGenHigh - li.ulGenLow + 1), n);
    ck_assert_str_eq(li.szBaseName, "edb");
    OK(JetTruncateLogInstance(inst));
    OK(JetEndExternalBackupInstance(inst));
    ck_assert_int_eq(events[213], 1);
    JET_DBINFOMISC m = info(dbp);
    ck_assert_int_eq(m.bkinfoFullPrev.genLow, li.ulGenLow);
    ck_assert_int_eq(m.bkinfoFullPrev.genHigh, li.ulGenHigh);
    ck_assert_int_ne(m.bkinfoFullPrev.logtimeMark.bYear, 0);
    ck_assert_int_eq(m.bkinfoFullPrev.logtimeMark.bFiller2 & 1, 0); /* not an OS snapshot */
    ck_assert_int_eq(m.bkinfoCopyPrev.genLow, 0);
    ck_assert_int_eq(m.bkinfoIncPrev.genLow, 0);
    ck_assert_int_eq(m.bkinfoFullCur.genLow, 0);
    /* The streamed copy carries bkinfoFullCur and a trailer; attaching it as is is refused. */
    char *copy = tu_path(out, "a.edb");
    JET_DBINFOMISC c = info(copy);
    ck_assert_int_eq(c.bkinfoFullCur.genLow, li.ulGenLow);
    struct stat st;
    ck_assert_int_eq(stat(copy, &st), 0);
    ck_assert_int_eq(st.st_size % PS, 0);
    int fd = open(copy, O_RDONLY);
    char trl[PS];
    ck_assert_int_eq(pread(fd, trl, PS, st.st_size - PS), PS);
    close(fd);
    ck_assert(!memcmp(trl + 4, "JSNAPTRL", 8));
    free(copy);
    free(out);
}
END_TEST

START_TEST(untruncated_full_is_a_copy_unless_truncate_done)
{
    OK(JetBeginExternalBackupInstance(inst, 0));
    copy_databases(NULL);
    copy_logs(NULL, NULL);
    OK(JetEndExternalBackupInstance2(inst, JET_bitBackupEndNormal));
    JET_DBINFOMISC m = info(dbp);
    ck_assert_int_eq(m.bkinfoFullPrev.genLow, 0);
    ck_assert_int_ne(m.bkinfoCopyPrev.genLow, 0);
    /* A copy gives no baseline: an incremental is refused. */
    ck_assert_int_eq(JetBeginExternalBackupInstance(inst, JET_bitBackupIncremental), JET_errMissingFullBackup);
    ck_assert_int_eq(events[206], 1);
    /* TruncateDone records a full backup although nothing was truncated. */
    OK(JetBeginExternalBackupInstance(inst, 0));
    copy_databases(NULL);
    copy_logs(NULL, NULL);
    OK(JetEndExternalBackupInstance2(inst, JET_bitBackupEndNormal | JET_bitBackupTruncateDone));
    m = info(dbp);
    ck_assert_int_ne(m.bkinfoFullPrev.genLow, 0);
    OK(JetBeginExternalBackupInstance(inst, JET_bitBackupIncremental));
    OK(JetEndExternalBackupInstance2(inst, JET_bitBackupEndAbort));
}
END_TEST

START_TEST(incremental_and_differential)
{
    OK(JetBeginExternalBackupInstance(inst, 0));
    copy_databases(NULL);
    JET_LOGINFO full = {sizeof full, 0, 0, ""};
    copy_logs(NULL, &full);
    OK(JetTruncateLogInstance(inst));
    OK(JetEndExternalBackupInstance(inst));
    put_n(200, 30);
    /* Not truncated: a differential. */
    OK(JetBeginExternalBackupInstance(inst, JET_bitBackupIncremental));
    ck_assert_int_eq(events[211], 1);
    /* Attach info and database files exist only in a full backup. */
    char buf[4096];
    unsigned long got;
    ck_assert_int_eq(JetGetAttachInfoInstance(inst, buf, sizeof buf, &got), JET_errInvalidBackupSequence);
    JET_HANDLE h;
    ck_assert_int_eq(JetOpenFileInstance(inst, dbp, &h, NULL, NULL), JET_errInvalidBackupSequence);
    JET_LOGINFO diff = {sizeof diff, 0, 0, ""};
    copy_logs(NULL, &diff);
    ck_assert_int_le(diff.ulGenLow, full.ulGenHigh + 1); /* no gap after the full */
    OK(JetEndExternalBackupInstance(inst));
    JET_DBINFOMISC m = info(dbp);
    ck_assert_int_eq(m.bkinfoDiffPrev.genHigh, diff.ulGenHigh);
    ck_assert_int_eq(m.bkinfoIncPrev.genLow, 0);
    put_n(300, 30);
    /* Truncated: an incremental, continuing with no gap. */
    OK(JetBeginExternalBackupInstance(inst, JET_bitBackupIncremental));
    JET_LOGINFO inc = {sizeof inc, 0, 0, ""};
    copy_logs(NULL, &inc);
    ck_assert_int_le(inc.ulGenLow, full.ulGenHigh + 1);
    ck_assert_int_gt(inc.ulGenHigh, diff.ulGenHigh);
    OK(JetTruncateLogInstance(inst));
    OK(JetEndExternalBackupInstance(inst));
    m = info(dbp);
    ck_assert_int_eq(m.bkinfoIncPrev.genHigh, inc.ulGenHigh);
    /* A new full clears Incremental and Differential. */
    OK(JetBeginExternalBackupInstance(inst, 0));
    copy_databases(NULL);
    copy_logs(NULL, NULL);
    OK(JetTruncateLogInstance(inst));
    OK(JetEndExternalBackupInstance(inst));
    m = info(dbp);
    ck_assert_int_eq(m.bkinfoIncPrev.genLow, 0);
    ck_assert_int_eq(m.bkinfoDiffPrev.genLow, 0);
    ck_assert_int_gt(m.bkinfoFullPrev.genHigh, inc.ulGenHigh);
}
END_TEST

START_TEST(no_backup_errors)
{
    char buf[64];
    unsigned long got;
    JET_HANDLE h;
    ck_assert_int_eq(JetGetAttachInfoInstance(inst, buf, sizeof buf, &got), JET_errNoBackup);
    ck_assert_int_eq(JetOpenFileInstance(inst, dbp, &h, NULL, NULL), JET_errNoBackup);
    ck_assert_int_eq(JetReadFileInstance(inst, 1, buf, PS, &got), JET_errNoBackup);
    ck_assert_int_eq(JetCloseFileInstance(inst, 1), JET_errNoBackup);
    ck_assert_int_eq(JetGetLogInfoInstance(inst, buf, sizeof buf, &got), JET_errNoBackup);
    ck_assert_int_eq(JetGetTruncateLogInfoInstance(inst, buf, sizeof buf, &got), JET_errNoBackup);
    ck_assert_int_eq(JetTruncateLogInstance(inst), JET_errNoBackup);
    ck_assert_int_eq(JetEndExternalBackupInstance(inst), JET_errNoBackup);
    OK(JetStopBackupInstance(inst)); /* a flag only, even with no backup */
    OK(JetBeginExternalBackupInstance(inst, 0)); /* and it does not stop the next backup */
    OK(JetGetAttachInfoInstance(inst, NULL, 0, &got));
    OK(JetEndExternalBackupInstance2(inst, JET_bitBackupEndAbort));
}
END_TEST

START_TEST(begin_errors)
{
    ck_assert_int_eq(JetBeginExternalBackupInstance(inst, JET_bitBackupAtomic), JET_errInvalidGrbit);
    ck_assert_int_eq(JetBeginExternalBackupInstance(inst, JET_bitBackupSnapshot), JET_errInvalidGrbit);
    ck_assert_int_eq(JetBeginExternalBackupInstance(inst, 0x40 | JET_bitBackupIncremental), JET_errInvalidGrbit);
    ck_assert_int_eq(JetBeginExternalBackupInstance(inst, JET_bitBackupIncremental), JET_errMissingFullBackup);
    OK(JetBeginExternalBackupInstance(inst, 0));
    ck_assert_int_eq(JetBeginExternalBackupInstance(inst, 0), JET_errBackupInProgress);
    ck_assert_int_eq(JetBeginExternalBackupInstance(inst, JET_bitBackupIncremental), JET_errBackupInProgress);
    OK(JetEndExternalBackupInstance2(inst, JET_bitBackupEndAbort));
    ck_assert_int_eq(events[215], 1);
    /* An instance that is not initialized, and a bad handle. */
    JET_INSTANCE other;
    OK(JetCreateInstance(&other, "other"));
    ck_assert_int_eq(JetBeginExternalBackupInstance(other, 0), JET_errNotInitialized);
    OK(JetTerm(other));
    ck_assert_int_eq(JetBeginExternalBackupInstance(inst + 1, 0), JET_errInvalidParameter);
    /* Stopped service: the usual entry error. */
    OK(JetStopServiceInstance(inst));
    ck_assert_int_eq(JetBeginExternalBackupInstance(inst, 0), JET_errClientRequestToStopJetService);
}
END_TEST

START_TEST(incremental_with_circular_logging_is_invalid)
{
    ck_assert_int_eq(JetBeginExternalBackupInstance(inst, JET_bitBackupIncremental), JET_errInvalidBackup);
    /* A full backup works with circular logging, and its logs are kept while it runs. */
    OK(JetBeginExternalBackupInstance(inst, 0));
    copy_databases(NULL);
    put_n(1000, 600); /* several generations of 128 KB, with checkpoints that would delete them */
    int n = copy_logs(NULL, NULL);
    ck_assert_int_ge(n, 3);
    OK(JetTruncateLogInstance(inst));
    OK(JetEndExternalBackupInstance(inst));
}
END_TEST

START_TEST(legacy_forms_follow_the_mode)
{
    /* Multi-instance mode (setup created an instance): the legacy forms are refused. */
    char buf[64];
    unsigned long got;
    JET_HANDLE h;
    ck_assert_int_eq(JetBeginExternalBackup(0), JET_errRunningInMultiInstanceMode);
    ck_assert_int_eq(JetGetAttachInfo(buf, sizeof buf, &got), JET_errRunningInMultiInstanceMode);
    ck_assert_int_eq(JetOpenFile(dbp, &h, NULL, NULL), JET_errRunningInMultiInstanceMode);
    ck_assert_int_eq(JetReadFile(1, buf, PS, &got), JET_errRunningInMultiInstanceMode);
    ck_assert_int_eq(JetCloseFile(1), JET_errRunningInMultiInstanceMode);
    ck_assert_int_eq(JetGetLogInfo(buf, sizeof buf, &got), JET_errRunningInMultiInstanceMode);
    ck_assert_int_eq(JetTruncateLog(), JET_errRunningInMultiInstanceMode);
    ck_assert_int_eq(JetEndExternalBackup(), JET_errRunningInMultiInstanceMode);
    ck_assert_int_eq(JetStopBackup(), JET_errRunningInMultiInstanceMode);
    OK(JetTerm(inst));
    inst = 0;
    /* No mode: InvalidParameter, as ESE. */
    ck_assert_int_eq(JetBeginExternalBackup(0), JET_errInvalidParameter);
    ck_assert_int_eq(JetStopBackup(), JET_errInvalidParameter);
    /* One-instance mode: the legacy forms drive the one instance. */
    OK(JetSetSystemParameter(NULL, 0, JET_paramSystemPath, 0, dir));
    OK(JetSetSystemParameter(NULL, 0, JET_paramLogFilePath, 0, dir));
    OK(JetSetSystemParameter(NULL, 0, JET_paramLogFileSize, 128, NULL));
    OK(JetInit(NULL));
    OK(JetBeginSession(0, &ses, NULL, NULL));
    OK(JetAttachDatabase(ses, dbp, 0));
    OK(JetBeginExternalBackup(0));
    OK(JetGetAttachInfo(NULL, 0, &got));
    char *list = malloc(got);
    OK(JetGetAttachInfo(list, got, &got));
    ck_assert_int_eq(count_multisz(list), 1);
    ck_assert_str_eq(list, dbp);
    unsigned long lo, hi;
    OK(JetOpenFile(list, &h, &lo, &hi));
    char *buf2 = malloc(64 * PS);
    size_t total = 0;
    for (;;) {
        OK(JetReadFile(h, buf2, 64 * PS, &got));
        if (!got)
            break;
        total += got;
    }
    ck_assert_int_eq(total, lo);
    OK(JetCloseFile(h));
    OK(JetGetLogInfo(NULL, 0, &got));
    char *logs = malloc(got);
    OK(JetGetLogInfo(logs, got, &got));
    for (char *p = logs; *p; p += strlen(p) + 1) {
        OK(JetOpenFile(p, &h, &lo, &hi));
        while (JetReadFile(h, buf2, 64 * PS, &got) == 0 && got)
            ;
        OK(JetCloseFile(h));
    }
    OK(JetTruncateLog());
    OK(JetEndExternalBackup());
    ck_assert_int_ne(info(dbp).bkinfoFullPrev.genLow, 0);
    OK(JetStopBackup());
    OK(JetTerm(0));
    free(list);
    free(logs);
    free(buf2);
}
END_TEST

START_TEST(open_file_rules)
{
    JET_HANDLE h, hs[17];
    OK(JetBeginExternalBackupInstance(inst, 0));
    ck_assert_int_eq(JetOpenFileInstance(inst, "", &h, NULL, NULL), JET_errInvalidParameter);
    ck_assert_int_eq(JetOpenFileInstance(inst, NULL, &h, NULL, NULL), JET_errInvalidParameter);
    /* Not attached, in the database phase: DatabaseNotFound, and the backup goes on. */
    ck_assert_int_eq(JetOpenFileInstance(inst, dbp2, &h, NULL, NULL), JET_errDatabaseNotFound);
    ck_assert_int_eq(events[217], 1);
    OK(JetOpenFileInstance(inst, dbp, &h, NULL, NULL));
    ck_assert_int_eq(JetOpenFileInstance(inst, dbp, &hs[0], NULL, NULL), JET_errInvalidBackupSequence);
    /* A streamed database cannot be detached, even when nothing else uses it. */
    OK(JetCloseTable(ses, tab));
    OK(JetCloseDatabase(ses, dbid, 0));
    ck_assert_int_eq(JetDetachDatabase(ses, dbp), JET_errDatabaseInUse);
    /* Logs may not be listed while a file is open. */
    char buf[4096];
    unsigned long got;
    ck_assert_int_eq(JetGetLogInfoInstance(inst, buf, sizeof buf, &got), JET_errInvalidBackupSequence);
    ck_assert_int_eq(JetGetTruncateLogInfoInstance(inst, buf, sizeof buf, &got), JET_errInvalidBackupSequence);
    ck_assert_int_eq(JetTruncateLogInstance(inst), JET_errInvalidBackupSequence);
    /* Closed half-read: not copied (event 222). */
    char *b = malloc(3 * PS);
    OK(JetReadFileInstance(inst, h, b, 3 * PS, &got));
    OK(JetCloseFileInstance(inst, h));
    ck_assert_int_eq(events[222], 1);
    ck_assert_int_eq(JetCloseFileInstance(inst, h), JET_errInvalidParameter);
    /* Now in the log phase: databases are refused, unknown names too. */
    OK(JetGetLogInfoInstance(inst, NULL, 0, &got));
    ck_assert_int_eq(JetOpenFileInstance(inst, dbp, &h, NULL, NULL), JET_errInvalidBackupSequence);
    ck_assert_int_eq(JetOpenFileInstance(inst, "/etc/passwd", &h, NULL, NULL), JET_errInvalidParameter);
    char *list = malloc(got);
    OK(JetGetLogInfoInstance(inst, list, got, &got));
    /* 16 handles at most. */
    int i;
    for (i = 0; i < 16; i++)
        OK(JetOpenFileInstance(inst, list, &hs[i], NULL, NULL));
    ck_assert_int_eq(JetOpenFileInstance(inst, list, &hs[16], NULL, NULL), JET_errOutOfMemory);
    for (i = 0; i < 16; i++)
        OK(JetCloseFileInstance(inst, hs[i]));
    /* The database was not copied completely: ending "normally" tells the truth. */
    ck_assert_int_eq(JetEndExternalBackupInstance(inst), JET_errBackupAbortByCaller);
    ck_assert_int_eq(info(dbp).bkinfoFullPrev.genLow, 0);
    ck_assert_int_eq(info(dbp).bkinfoCopyPrev.genLow, 0);
    /* The backup is over: the database can be detached again. */
    OK(JetDetachDatabase(ses, dbp));
    free(b);
    free(list);
}
END_TEST

START_TEST(read_file_rules)
{
    JET_HANDLE h;
    unsigned long lo, hi, got;
    char *b = malloc(8 * PS);
    /* A clean restart puts every page on disk (the 50 small commits of setup need not have filled
     * a log generation, so no checkpoint may have written the meta page yet). */
    OK(JetTerm(inst));
    start(0);
    OK(JetAttachDatabase(ses, dbp, 0));
    OK(JetBeginExternalBackupInstance(inst, 0));
    OK(JetOpenFileInstance(inst, dbp, &h, &lo, &hi));
    ck_assert_int_eq(JetReadFileInstance(inst, h, b, 2 * PS, &got), JET_errInvalidParameter); /* first < 3 pages */
    ck_assert_int_eq(JetReadFileInstance(inst, h, b, 3 * PS + 1, &got), JET_errInvalidParameter);
    ck_assert_int_eq(JetReadFileInstance(inst, h, NULL, 3 * PS, &got), JET_errInvalidParameter);
    ck_assert_int_eq(JetReadFileInstance(inst, h + 5, b, 3 * PS, &got), JET_errInvalidParameter);
    OK(JetReadFileInstance(inst, h, b, 3 * PS, &got));
    ck_assert_int_eq(got, 3 * PS);
    /* The first two pages are the header snapshot, twice; the third is page 1 (the meta page). */
    ck_assert(!memcmp(b, b + PS, PS));
    ck_assert(!memcmp(b + 4, "JSNAPDB", 7));
    ck_assert_int_eq(((unsigned char *)b)[2 * PS + 4], 1);
    OK(JetReadFileInstance(inst, h, b, PS, &got)); /* later reads may be one page */
    size_t total = 4 * PS;
    while (JetReadFileInstance(inst, h, b, 8 * PS, &got) == 0 && got)
        total += got;
    ck_assert_int_eq(total, lo);
    OK(JetReadFileInstance(inst, h, b, 8 * PS, &got)); /* past the end: success, nothing */
    ck_assert_int_eq(got, 0);
    OK(JetCloseFileInstance(inst, h));
    OK(JetGetLogInfoInstance(inst, NULL, 0, &got));
    char *list = malloc(got);
    OK(JetGetLogInfoInstance(inst, list, got, &got));
    OK(JetOpenFileInstance(inst, list, &h, &lo, &hi));
    ck_assert_int_eq(JetReadFileInstance(inst, h, b, PS, &got), JET_errInvalidParameter); /* first < 2 pages */
    OK(JetReadFileInstance(inst, h, b, 2 * PS, &got));
    ck_assert(!memcmp(b, "JSNAPLOG", 8));
    OK(JetCloseFileInstance(inst, h));
    OK(JetEndExternalBackupInstance2(inst, JET_bitBackupEndAbort));
    free(b);
    free(list);
}
END_TEST

START_TEST(end_grbits_and_truth)
{
    OK(JetBeginExternalBackupInstance(inst, 0));
    ck_assert_int_eq(JetEndExternalBackupInstance2(inst, 0), JET_errInvalidParameter);
    ck_assert_int_eq(JetEndExternalBackupInstance2(inst, JET_bitBackupEndNormal | JET_bitBackupEndAbort),
                     JET_errInvalidParameter);
    ck_assert_int_eq(JetEndExternalBackupInstance2(inst, JET_bitBackupEndNormal | 0x1000), JET_errInvalidGrbit);
    /* Still running after those refusals. Ending normally before the logs: AbortByCaller. */
    copy_databases(NULL);
    ck_assert_int_eq(JetEndExternalBackupInstance(inst), JET_errBackupAbortByCaller);
    ck_assert_int_eq(events[214], 1);
    ck_assert_int_eq(info(dbp).bkinfoCopyPrev.genLow, 0);
    /* Logs listed but not all read: AbortByCaller too, and TruncateLog refuses. */
    OK(JetBeginExternalBackupInstance(inst, 0));
    copy_databases(NULL);
    put_n(500, 300);
    unsigned long got;
    OK(JetGetLogInfoInstance(inst, NULL, 0, &got));
    ck_assert_int_eq(JetTruncateLogInstance(inst), JET_errLogFileNotCopied);
    ck_assert_int_eq(events[520], 1);
    ck_assert_int_eq(JetEndExternalBackupInstance(inst), JET_errBackupAbortByCaller);
    ck_assert_int_eq(info(dbp).bkinfoCopyPrev.genLow, 0);
    ck_assert_int_eq(JetEndExternalBackupInstance(inst), JET_errNoBackup);
}
END_TEST

START_TEST(stop_backup_aborts_by_server)
{
    OK(JetBeginExternalBackupInstance(inst, 0));
    JET_HANDLE h;
    OK(JetOpenFileInstance(inst, dbp, &h, NULL, NULL));
    OK(JetStopBackupInstance(inst));
    char *b = malloc(3 * PS);
    unsigned long got;
    ck_assert_int_eq(JetReadFileInstance(inst, h, b, 3 * PS, &got), JET_errBackupAbortByServer);
    ck_assert_int_eq(JetGetAttachInfoInstance(inst, NULL, 0, &got), JET_errBackupAbortByServer);
    ck_assert_int_eq(JetOpenFileInstance(inst, dbp, &h, NULL, NULL), JET_errBackupAbortByServer);
    ck_assert_int_eq(JetGetLogInfoInstance(inst, NULL, 0, &got), JET_errBackupAbortByServer);
    ck_assert_int_eq(JetTruncateLogInstance(inst), JET_errBackupAbortByServer);
    OK(JetCloseFileInstance(inst, h)); /* CloseFile still works */
    ck_assert_int_eq(JetEndExternalBackupInstance(inst), JET_errBackupAbortByServer);
    ck_assert_int_eq(events[226], 1);
    ck_assert_int_eq(info(dbp).bkinfoFullPrev.genLow, 0);
    /* Over: a new backup starts normally. */
    OK(JetBeginExternalBackupInstance(inst, 0));
    OK(JetEndExternalBackupInstance2(inst, JET_bitBackupEndAbort));
    free(b);
}
END_TEST

START_TEST(term_and_backup)
{
    OK(JetBeginExternalBackupInstance(inst, 0));
    /* A clean term refuses; the instance keeps running. */
    ck_assert_int_eq(JetTerm2(inst, JET_bitTermComplete), JET_errBackupInProgress);
    ck_assert_int_eq(JetTerm2(inst, 0), JET_errBackupInProgress);
    unsigned long got;
    OK(JetGetAttachInfoInstance(inst, NULL, 0, &got));
    /* StopBackup ends it as aborted by the server, then terminates. */
    OK(JetTerm2(inst, JET_bitTermStopBackup));
    ck_assert_int_eq(events[226], 1);
    inst = 0;
    /* No header was stamped. */
    ck_assert_int_eq(info(dbp).bkinfoFullPrev.genLow, 0);
    ck_assert_int_eq(info(dbp).bkinfoCopyPrev.genLow, 0);
    /* JetTerm (Abrupt) also ends a running backup. */
    start(0);
    OK(JetAttachDatabase(ses, dbp, 0));
    OK(JetBeginExternalBackupInstance(inst, 0));
    OK(JetTerm(inst));
    inst = 0;
}
END_TEST

START_TEST(truncation_keeps_what_recovery_needs)
{
    put_n(1000, 600); /* several generations */
    int before = nlogs_on_disk();
    ck_assert_int_ge(before, 3);
    OK(JetBeginExternalBackupInstance(inst, 0));
    copy_databases(NULL);
    copy_logs(NULL, NULL);
    unsigned long need;
    OK(JetGetTruncateLogInfoInstance(inst, NULL, 0, &need));
    char *list = malloc(need);
    OK(JetGetTruncateLogInfoInstance(inst, list, need, &need));
    int listed = count_multisz(list);
    OK(JetTruncateLogInstance(inst));
    ck_assert_int_eq(events[224] + events[225], 1);
    /* Every listed log is gone; nothing else is. */
    for (char *p = list; *p; p += strlen(p) + 1)
        ck_assert_int_ne(access(p, F_OK), 0);
    ck_assert_int_eq(nlogs_on_disk(), before + 1 - listed); /* GetLogInfo rolled one more */
    OK(JetEndExternalBackupInstance(inst));
    /* The instance still recovers after a dirty stop, with what was kept. */
    put_n(3000, 20);
    ck_assert_int_eq(JetTerm2(inst, JET_bitTermDirty), JET_errDirtyShutdown);
    inst = 0;
    start(0);
    OK(JetAttachDatabase(ses, dbp, 0));
    OK(JetOpenDatabase(ses, dbp, NULL, &dbid, 0));
    OK(JetOpenTable(ses, dbid, "t", NULL, 0, 0, &tab));
    char v[256];
    unsigned long got;
    OK(JetGetRecord(ses, tab, "key00003019", 11, v, sizeof v, &got, 0));
    OK(JetGetRecord(ses, tab, "key00000000", 11, v, sizeof v, &got, 0));
    free(list);
}
END_TEST

START_TEST(missing_and_damaged_logs_cancel_the_backup)
{
    OK(JetBeginExternalBackupInstance(inst, 0));
    put_n(1000, 300); /* several generations to copy */
    copy_databases(NULL);
    unsigned long need;
    OK(JetGetLogInfoInstance(inst, NULL, 0, &need));
    char *list = malloc(need);
    OK(JetGetLogInfoInstance(inst, list, need, &need));
    ck_assert_int_ge(count_multisz(list), 2);
    /* Damage one record of the first listed log. */
    int fd = open(list, O_RDWR);
    char c;
    ck_assert_int_eq(pread(fd, &c, 1, 4096 + 40), 1);
    c ^= 0x5A;
    ck_assert_int_eq(pwrite(fd, &c, 1, 4096 + 40), 1);
    close(fd);
    JET_HANDLE h;
    ck_assert_int_eq(JetOpenFileInstance(inst, list, &h, NULL, NULL), JET_errLogReadVerifyFailure);
    ck_assert_int_eq(events[218], 1);
    /* The whole backup is cancelled: later calls and End report it. */
    char *second = list + strlen(list) + 1;
    ck_assert_int_eq(JetOpenFileInstance(inst, second, &h, NULL, NULL), JET_errLogReadVerifyFailure);
    ck_assert_int_eq(JetEndExternalBackupInstance(inst), JET_errLogReadVerifyFailure);
    /* A missing log: MissingFileToBackup, also cancelling. */
    OK(JetBeginExternalBackupInstance(inst, 0));
    copy_databases(NULL);
    OK(JetGetLogInfoInstance(inst, NULL, 0, &need));
    free(list);
    list = malloc(need);
    OK(JetGetLogInfoInstance(inst, list, need, &need));
    char *last = list;
    for (char *p = list; *p; p += strlen(p) + 1)
        last = p;
    ck_assert_int_eq(unlink(last), 0);
    ck_assert_int_eq(JetOpenFileInstance(inst, last, &h, NULL, NULL), JET_errMissingFileToBackup);
    ck_assert_int_eq(JetEndExternalBackupInstance(inst), JET_errMissingFileToBackup);
    free(list);
    JetTerm2(inst, JET_bitTermDirty); /* the log set is broken on purpose */
    inst = 0;
}
END_TEST

START_TEST(damaged_database_page_fails_only_that_database)
{
    OK(JetCreateDatabase(ses, dbp2, NULL, &dbid, 0));
    JET_TABLEID t2;
    OK(JetCreateTable(ses, dbid, "t", 0, 0, &t2));
    /* Get every page of a.edb to disk, then damage one in the middle of the file. */
    OK(JetStopServiceInstance2(inst, JET_bitStopServiceQuiesceCaches));
    OK(JetStopServiceInstance2(inst, JET_bitStopServiceResume));
    struct stat st;
    ck_assert_int_eq(stat(dbp, &st), 0);
    off_t off = (st.st_size / PS / 2) * PS + 100;
    int fd = open(dbp, O_RDWR);
    char c = 0x55;
    ck_assert_int_eq(pwrite(fd, &c, 1, off), 1);
    close(fd);
    OK(JetBeginExternalBackupInstance(inst, 0));
    JET_HANDLE h;
    OK(JetOpenFileInstance(inst, dbp, &h, NULL, NULL));
    char *b = malloc(64 * PS);
    unsigned long got;
    JET_ERR e = JET_errSuccess;
    while ((e = JetReadFileInstance(inst, h, b, 64 * PS, &got)) == 0 && got)
        ;
    ck_assert_int_eq(e, JET_errReadVerifyFailure);
    ck_assert_int_ge(events[217], 1);
    /* Its handle is gone; the other database and the logs go on. */
    ck_assert_int_eq(JetCloseFileInstance(inst, h), JET_errInvalidParameter);
    OK(JetOpenFileInstance(inst, dbp2, &h, NULL, NULL));
    while (JetReadFileInstance(inst, h, b, 64 * PS, &got) == 0 && got)
        ;
    OK(JetCloseFileInstance(inst, h));
    copy_logs(NULL, NULL);
    OK(JetEndExternalBackupInstance(inst));
    ck_assert_int_eq(info(dbp).bkinfoCopyPrev.genLow, 0);
    ck_assert_int_ne(info(dbp2).bkinfoCopyPrev.genLow, 0);
    free(b);
    JetTerm2(inst, JET_bitTermDirty);
    inst = 0;
}
END_TEST

START_TEST(database_file_info_errors)
{
    JET_DBINFOMISC m;
    ck_assert_int_eq(JetGetDatabaseFileInfo(dbp, &m, 8, JET_DbInfoMisc), JET_errBufferTooSmall);
    ck_assert_int_eq(JetGetDatabaseFileInfo(dbp, &m, sizeof m, 0), JET_errInvalidParameter);
    ck_assert_int_eq(JetGetDatabaseFileInfo(NULL, &m, sizeof m, JET_DbInfoMisc), JET_errInvalidParameter);
    char *nope = tu_path(dir, "nope.edb");
    ck_assert_int_eq(JetGetDatabaseFileInfo(nope, &m, sizeof m, JET_DbInfoMisc), JET_errFileNotFound);
    free(nope);
    OK(JetGetDatabaseFileInfo(dbp, &m, sizeof m, JET_DbInfoMisc));
    ck_assert_int_eq(m.dbstate, 2); /* attached: dirty until detached */
    ck_assert_int_eq(m.cbPageSize, PS);
    OK(JetCloseTable(ses, tab));
    OK(JetCloseDatabase(ses, dbid, 0));
    OK(JetDetachDatabase(ses, dbp));
    OK(JetGetDatabaseFileInfo(dbp, &m, sizeof m, JET_DbInfoMisc));
    ck_assert_int_eq(m.dbstate, 3);
}
END_TEST


/* Full backup of the current state into outdir (databases and logs), truncated or not. */
static void full_backup(const char *outdir, bool truncate, JET_LOGINFO *li)
{
    OK(JetBeginExternalBackupInstance(inst, 0));
    copy_databases(outdir);
    copy_logs(outdir, li);
    if (truncate)
        OK(JetTruncateLogInstance(inst));
    OK(JetEndExternalBackupInstance(inst));
}

static void incremental_backup(const char *outdir, bool truncate, JET_LOGINFO *li)
{
    OK(JetBeginExternalBackupInstance(inst, JET_bitBackupIncremental));
    copy_logs(outdir, li);
    if (truncate)
        OK(JetTruncateLogInstance(inst));
    OK(JetEndExternalBackupInstance(inst));
}

/* Open a restored database in a fresh instance and count records key00000000.. present; checks
 * that exactly keys [0, n) of the put_n pattern exist (plus nothing else). */
static void expect_keys(const char *path, const int *want, int nwant)
{
    char *d = tu_path(dir, "verify");
    mkdir(d, 0755);
    JET_INSTANCE v;
    OK(JetCreateInstance(&v, "verify"));
    OK(JetSetSystemParameter(&v, 0, JET_paramSystemPath, 0, d));
    OK(JetSetSystemParameter(&v, 0, JET_paramLogFilePath, 0, d));
    OK(JetSetSystemParameter(&v, 0, JET_paramLogFileSize, 128, NULL));
    OK(JetInit(&v));
    JET_SESID s;
    JET_DBID db;
    JET_TABLEID t;
    OK(JetBeginSession(v, &s, NULL, NULL));
    OK(JetAttachDatabase(s, path, 0));
    OK(JetOpenDatabase(s, path, NULL, &db, 0));
    OK(JetOpenTable(s, db, "t", NULL, 0, 0, &t));
    int n = 0;
    JET_ERR e = JetMove(s, t, JET_MoveFirst, 0);
    while (e == JET_errSuccess) {
        char k[32], val[256], exp[200];
        unsigned long kl, vl;
        OK(JetRetrieveKey(s, t, k, sizeof k - 1, &kl, 0));
        k[kl] = 0;
        int i = atoi(k + 3);
        ck_assert_msg(n < nwant && want[n] == i, "restored key %s not expected at position %d", k, n);
        OK(JetRetrieveRecord(s, t, val, sizeof val, &vl, 0));
        memset(exp, 'a' + i % 26, sizeof exp);
        ck_assert_int_eq(vl, 200);
        ck_assert(!memcmp(val, exp, 200));
        n++;
        e = JetMove(s, t, JET_MoveNext, 0);
    }
    ck_assert_int_eq(e, JET_errNoCurrentRecord);
    ck_assert_int_eq(n, nwant);
    OK(JetTerm(v));
    tu_rmtree(d);
    free(d);
}

static int *range_keys(int *n, int a0, int a1, int b0, int b1)
{
    int *k = malloc(sizeof(int) * (size_t)((a1 - a0) + (b1 - b0) + 1));
    *n = 0;
    for (int i = a0; i < a1; i++)
        k[(*n)++] = i;
    for (int i = b0; i < b1; i++)
        k[(*n)++] = i;
    return k;
}

START_TEST(restore_full_backup)
{
    char *out = tu_path(dir, "out");
    mkdir(out, 0755);
    OK(JetBeginExternalBackupInstance(inst, 0));
    copy_databases(out);
    put_n(100, 40); /* after the copy of the pages: brought in by the logs */
    JET_LOGINFO li = {sizeof li, 0, 0, ""};
    copy_logs(out, &li);
    OK(JetEndExternalBackupInstance(inst));
    put_n(500, 10); /* after the backup's logs: not in the restore */
    char *copy = tu_path(out, "a.edb");
    /* Not recovered yet: attaching it as it is is refused. */
    ck_assert_int_eq(JetAttachDatabase(ses, copy, 0), JET_errSoftRecoveryOnBackupDatabase);
    JET_RSTMAP map = {dbp, copy};
    char *rl = tu_path(dir, "restorelogs");
    mkdir(rl, 0755);
    OK(JetExternalRestore(rl, rl, &map, 1, out, (long)li.ulGenLow, (long)li.ulGenHigh, NULL));
    ck_assert_int_eq(events[903], 1);
    JET_DBINFOMISC m = info(copy);
    ck_assert_int_eq(m.dbstate, 3);
    ck_assert_int_eq(m.bkinfoFullCur.genLow, 0);
    int n;
    int *want = range_keys(&n, 0, 50, 100, 140);
    expect_keys(copy, want, n);
    free(want);
    free(copy);
    free(rl);
    free(out);
}
END_TEST

START_TEST(restore_without_map_uses_original_paths)
{
    char *out = tu_path(dir, "out");
    mkdir(out, 0755);
    JET_LOGINFO li = {sizeof li, 0, 0, ""};
    full_backup(out, true, &li);
    put_n(700, 5);
    OK(JetTerm(inst));
    inst = 0;
    /* Lose the database; put the stream back where it was. */
    char *copy = tu_path(out, "a.edb");
    ck_assert_int_eq(rename(copy, dbp), 0);
    OK(JetExternalRestore2(NULL, NULL, NULL, 0, out, NULL, NULL, NULL, NULL, NULL));
    int n;
    int *want = range_keys(&n, 0, 50, 0, 0);
    expect_keys(dbp, want, n);
    free(want);
    free(copy);
    free(out);
}
END_TEST

START_TEST(restore_incremental_chain_and_differential)
{
    char *full = tu_path(dir, "full"), *chain = tu_path(dir, "chain"), *diff = tu_path(dir, "diff");
    mkdir(full, 0755);
    mkdir(chain, 0755);
    mkdir(diff, 0755);
    JET_LOGINFO lf = {sizeof lf, 0, 0, ""}, l1 = lf, l2 = lf, l3 = lf, ld = lf;
    full_backup(full, true, &lf);
    /* Keep the full's stream for two restores. */
    char *src = tu_path(full, "a.edb"), *c1 = tu_path(chain, "a.edb"), *c2 = tu_path(diff, "a.edb");
    char cmd[16384];
    snprintf(cmd, sizeof cmd, "cp %s/edb*.log %s/ && cp %s/edb*.log %s/ && cp %s %s && cp %s %s", full, chain, full,
             diff, src, c1, src, c2);
    ck_assert_int_eq(system(cmd), 0);
    put_n(1000, 30);
    incremental_backup(chain, true, &l1);
    put_n(2000, 30);
    incremental_backup(chain, true, &l2);
    put_n(3000, 30);
    incremental_backup(chain, true, &l3);
    ck_assert_int_le(l1.ulGenLow, lf.ulGenHigh + 1);
    ck_assert_int_le(l2.ulGenLow, l1.ulGenHigh + 1);
    ck_assert_int_le(l3.ulGenLow, l2.ulGenHigh + 1);
    put_n(4000, 5); /* after the chain */
    JET_RSTMAP map = {dbp, c1};
    OK(JetExternalRestore(NULL, NULL, &map, 1, chain, (long)lf.ulGenLow, (long)l3.ulGenHigh, NULL));
    int n;
    int *want = malloc(sizeof(int) * 200);
    n = 0;
    for (int i = 0; i < 50; i++)
        want[n++] = i;
    for (int b = 1000; b <= 3000; b += 1000)
        for (int i = b; i < b + 30; i++)
            want[n++] = i;
    expect_keys(c1, want, n);
    /* A differential after a full: the full's stream plus the latest differential's logs. */
    OK(JetBeginExternalBackupInstance(inst, 0));
    OK(JetEndExternalBackupInstance2(inst, JET_bitBackupEndAbort));
    full_backup(diff, true, &lf);
    snprintf(cmd, sizeof cmd, "cp %s/a.edb %s/a.edb", diff, diff);
    put_n(5000, 20);
    incremental_backup(NULL, false, NULL); /* a differential we do not use */
    put_n(6000, 20);
    incremental_backup(diff, false, &ld); /* not truncated: carries everything since the full */
    ck_assert_int_le(ld.ulGenLow, lf.ulGenHigh + 1);
    ck_assert_int_ne(info(dbp).bkinfoDiffPrev.genLow, 0);
    JET_RSTMAP map2 = {dbp, c2};
    OK(JetExternalRestore(NULL, NULL, &map2, 1, diff, (long)lf.ulGenLow, (long)ld.ulGenHigh, NULL));
    for (int i = 4000; i < 4005; i++)
        want[n++] = i;
    for (int i = 5000; i < 5020; i++)
        want[n++] = i;
    for (int i = 6000; i < 6020; i++)
        want[n++] = i;
    expect_keys(c2, want, n);
    free(want);
    free(src);
    free(c1);
    free(c2);
    free(full);
    free(chain);
    free(diff);
}
END_TEST

START_TEST(restore_errors)
{
    char *out = tu_path(dir, "out");
    mkdir(out, 0755);
    OK(JetBeginExternalBackupInstance(inst, 0));
    copy_databases(out);
    put_n(100, 1200); /* several generations: a 200-byte put logs a diff of a few hundred bytes */
    JET_LOGINFO li = {sizeof li, 0, 0, ""};
    copy_logs(out, &li);
    OK(JetEndExternalBackupInstance(inst));
    ck_assert_int_ge(li.ulGenHigh, li.ulGenLow + 2);
    char *copy = tu_path(out, "a.edb");
    JET_RSTMAP map = {dbp, copy};
    long lo = (long)li.ulGenLow, hi = (long)li.ulGenHigh;
    ck_assert_int_eq(JetExternalRestore(NULL, NULL, &map, 1, NULL, lo, hi, NULL), JET_errInvalidParameter);
    ck_assert_int_eq(JetExternalRestore2(NULL, NULL, &map, 1, out, NULL, NULL, dir, NULL, NULL), JET_errInvalidParameter);
    ck_assert_int_eq(JetExternalRestore2(NULL, NULL, &map, 1, out, NULL, "nosuch", NULL, NULL, NULL),
                     JET_errBadRestoreTargetInstance);
    /* The live database is not a backup. */
    JET_RSTMAP live = {dbp, dbp};
    ck_assert_int_eq(JetExternalRestore(NULL, NULL, &live, 1, out, lo, hi, NULL), JET_errFileAccessDenied);
    /* Ranges that do not cover what the database needs. */
    ck_assert_int_eq(JetExternalRestore(NULL, NULL, &map, 1, out, lo + 1, hi, NULL), JET_errStartingRestoreLogTooHigh);
    ck_assert_int_eq(JetExternalRestore(NULL, NULL, &map, 1, out, lo, hi + 5, NULL), JET_errMissingRestoreLogFiles);
    /* A log in the middle goes missing. */
    char name[64];
    snprintf(name, sizeof name, "edb%05lX.log", (unsigned long)(lo + 1));
    char *mid = tu_path(out, name), *aside = tu_path(dir, "aside.log");
    ck_assert_int_eq(rename(mid, aside), 0);
    ck_assert_int_eq(JetExternalRestore(NULL, NULL, &map, 1, out, lo, hi, NULL), JET_errMissingRestoreLogFiles);
    ck_assert_int_eq(rename(aside, mid), 0);
    /* A flipped byte in a record of a backed-up log. */
    int fd = open(mid, O_RDWR);
    char c;
    ck_assert_int_eq(pread(fd, &c, 1, 4096 + 100), 1);
    c ^= 0x20;
    ck_assert_int_eq(pwrite(fd, &c, 1, 4096 + 100), 1);
    ck_assert_int_eq(JetExternalRestore(NULL, NULL, &map, 1, out, lo, hi, NULL), JET_errLogFileCorrupt);
    c ^= 0x20;
    ck_assert_int_eq(pwrite(fd, &c, 1, 4096 + 100), 1);
    close(fd);
    /* A stream cut short has no trailer. */
    struct stat st;
    ck_assert_int_eq(stat(copy, &st), 0);
    char *cut = tu_path(dir, "cut.edb");
    snprintf(name, sizeof name, "%lld", (long long)(st.st_size - PS));
    char cmd[16384];
    snprintf(cmd, sizeof cmd, "head -c %s %s > %s", name, copy, cut);
    ck_assert_int_eq(system(cmd), 0);
    JET_RSTMAP mcut = {dbp, cut};
    ck_assert_int_eq(JetExternalRestore(NULL, NULL, &mcut, 1, out, lo, hi, NULL), JET_errDatabaseCorrupted);
    /* A flipped byte in a page of the stream that no log rewrites. */
    char *bad = tu_path(dir, "bad.edb");
    snprintf(cmd, sizeof cmd, "cp %s %s", copy, bad);
    ck_assert_int_eq(system(cmd), 0);
    fd = open(bad, O_RDWR);
    ck_assert_int_eq(pread(fd, &c, 1, 3 * PS + 50), 1); /* page 2, the catalog root */
    c ^= 0x01;
    ck_assert_int_eq(pwrite(fd, &c, 1, 3 * PS + 50), 1);
    close(fd);
    JET_RSTMAP mbad = {dbp, bad};
    JET_ERR e = JetExternalRestore(NULL, NULL, &mbad, 1, out, lo, hi, NULL);
    ck_assert_msg(e == JET_errReadVerifyFailure || e == JET_errSuccess, "got %ld", e);
    if (e == JET_errSuccess) {
        /* The logs rewrote that page: then the restored database must be fully valid. */
        int n;
        int *want = range_keys(&n, 0, 50, 100, 1300);
        expect_keys(bad, want, n);
        free(want);
    }
    /* After all that, the untouched stream still restores. */
    OK(JetExternalRestore(NULL, NULL, &map, 1, out, lo, hi, NULL));
    free(copy);
    free(cut);
    free(bad);
    free(mid);
    free(aside);
    free(out);
}
END_TEST

/* ------------------------------------------------------------------------------------------- *
 * JetTruncateLogUpToInstance: the logs of a backup ended with TruncateDone, deleted afterwards.
 * ------------------------------------------------------------------------------------------- */

static bool gen_on_disk(unsigned long gen)
{
    char name[32];
    snprintf(name, sizeof name, "edb%05lX.log", gen);
    char *p = tu_path(dir, name);
    bool there = access(p, F_OK) == 0;
    free(p);
    return there;
}

/* A streaming full backup into outdir (NULL: read only), with nput commits while it runs, ended
 * Normal | TruncateDone without truncating: the databases record it as Full and every log stays
 * on disk. */
static void full_backup_truncate_done(const char *outdir, int nput, JET_LOGINFO *li)
{
    OK(JetBeginExternalBackupInstance(inst, 0));
    copy_databases(outdir);
    put_n(1000, nput);
    copy_logs(outdir, li);
    OK(JetEndExternalBackupInstance2(inst, JET_bitBackupEndNormal | JET_bitBackupTruncateDone));
}

/* Checkpoint now, so crash recovery needs nothing older than the current generation. */
static void checkpoint_now(void)
{
    OK(JetStopServiceInstance2(inst, JET_bitStopServiceQuiesceCaches));
    OK(JetStopServiceInstance2(inst, JET_bitStopServiceResume));
}

START_TEST(truncate_up_to_after_truncate_done)
{
    char *out = tu_path(dir, "out");
    mkdir(out, 0755);
    JET_LOGINFO li = {sizeof li, 0, 0, ""};
    full_backup_truncate_done(out, 600, &li); /* several generations in the backup */
    ck_assert_int_ge(li.ulGenHigh, li.ulGenLow + 2);
    JET_DBINFOMISC m = info(dbp);
    ck_assert_int_eq(m.bkinfoFullPrev.genHigh, li.ulGenHigh);
    for (unsigned long g = 1; g <= li.ulGenHigh; g++)
        ck_assert_msg(gen_on_disk(g), "generation %lu was deleted by End", g);
    put_n(2000, 600); /* generations after the backup: never deleted */
    checkpoint_now();
    unsigned long first = 0;
    /* The caller's limit first. */
    memset(events, 0, sizeof events);
    OK(JetTruncateLogUpToInstance(inst, li.ulGenLow, &first));
    ck_assert_int_eq(first, li.ulGenLow + 1);
    ck_assert_int_eq(events[224], 1);
    for (unsigned long g = 1; g <= li.ulGenLow; g++)
        ck_assert(!gen_on_disk(g));
    ck_assert(gen_on_disk(li.ulGenLow + 1));
    /* No limit: up to the backup's last generation, and not one more. */
    OK(JetTruncateLogUpToInstance(inst, 0, &first));
    ck_assert_int_eq(first, li.ulGenHigh + 1);
    ck_assert(!gen_on_disk(li.ulGenHigh));
    ck_assert(gen_on_disk(li.ulGenHigh + 1));
    ck_assert_int_eq(events[224], 2);
    /* Again: nothing left to delete. */
    OK(JetTruncateLogUpToInstance(inst, 0, NULL));
    ck_assert_int_eq(events[224], 2);
    ck_assert_int_eq(events[225], 1);
    ck_assert(gen_on_disk(li.ulGenHigh + 1));
    /* The backup still restores: its logs are its own copies. */
    char *copy = tu_path(out, "a.edb");
    JET_RSTMAP map = {dbp, copy};
    OK(JetExternalRestore(NULL, NULL, &map, 1, out, (long)li.ulGenLow, (long)li.ulGenHigh, NULL));
    int n;
    int *want = range_keys(&n, 0, 50, 1000, 1600);
    expect_keys(copy, want, n);
    free(want);
    /* And the instance still recovers from a crash with what was kept. */
    put_n(3000, 20);
    ck_assert_int_eq(JetTerm2(inst, JET_bitTermDirty), JET_errDirtyShutdown);
    inst = 0;
    start(0);
    OK(JetAttachDatabase(ses, dbp, 0));
    OK(JetOpenDatabase(ses, dbp, NULL, &dbid, 0));
    OK(JetOpenTable(ses, dbid, "t", NULL, 0, 0, &tab));
    char v[256];
    unsigned long got;
    OK(JetGetRecord(ses, tab, "key00003019", 11, v, sizeof v, &got, 0));
    OK(JetGetRecord(ses, tab, "key00002599", 11, v, sizeof v, &got, 0));
    free(copy);
    free(out);
}
END_TEST

/* A gate that holds every page write to one database file until released (header writes pass):
 * the checkpoint thread then cannot finish a checkpoint (it writes the dirty pages before it moves
 * edb.chk), so the checkpoint stays where it was, while commits (which write only the log) go on.
 * A backup's page reads wait for a flush's writes, so the gate closes after the pages are read. */
static pthread_mutex_t dbgate_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t dbgate_cv = PTHREAD_COND_INITIALIZER;
static bool dbgate_closed;
static char dbgate_path[PATH_MAX];

static int dbgate_hook(void *ctx, enum eng_io_op op, int fd, const char *path, uint64_t off, size_t len)
{
    (void)ctx, (void)off, (void)len;
    char p[PATH_MAX];
    if (op != ENG_IO_WRITE || off < 2 * PS || tu_hook_path(fd, path, p, sizeof p) || strcmp(p, dbgate_path))
        return 0;
    pthread_mutex_lock(&dbgate_mu);
    while (dbgate_closed)
        pthread_cond_wait(&dbgate_cv, &dbgate_mu);
    pthread_mutex_unlock(&dbgate_mu);
    return 0;
}

static void dbgate_close(const char *db)
{
    ck_assert_ptr_nonnull(realpath(db, dbgate_path));
    dbgate_closed = true;
    eng_io_set_fault_hook(dbgate_hook, NULL);
}

static void dbgate_open(void)
{
    pthread_mutex_lock(&dbgate_mu);
    dbgate_closed = false;
    pthread_cond_broadcast(&dbgate_cv);
    pthread_mutex_unlock(&dbgate_mu);
    eng_io_set_fault_hook(NULL, NULL);
}

START_TEST(truncate_up_to_stops_at_the_checkpoint)
{
    checkpoint_now(); /* the checkpoint is in the current generation: the backup's first */
    OK(JetBeginExternalBackupInstance(inst, 0));
    copy_databases(NULL);
    dbgate_close(dbp);
    put_n(1000, 600); /* each roll asks for a checkpoint, which waits at the gate */
    JET_LOGINFO li = {sizeof li, 0, 0, ""};
    copy_logs(NULL, &li);
    OK(JetEndExternalBackupInstance2(inst, JET_bitBackupEndNormal | JET_bitBackupTruncateDone));
    ck_assert_int_ge(li.ulGenHigh, li.ulGenLow + 2);
    /* Crash recovery needs every log from the backup's first generation on: none of those goes. */
    unsigned long first = 0;
    OK(JetTruncateLogUpToInstance(inst, 0, &first));
    ck_assert_int_le(first, li.ulGenLow);
    for (unsigned long g = first; g <= li.ulGenHigh; g++)
        ck_assert_msg(gen_on_disk(g), "generation %lu, which recovery needs, was deleted", g);
    dbgate_open();
    /* Once checkpointed, they go. */
    checkpoint_now();
    OK(JetTruncateLogUpToInstance(inst, 0, &first));
    ck_assert_int_eq(first, li.ulGenHigh + 1);
}
END_TEST

START_TEST(truncate_up_to_refusals)
{
    put_n(1000, 600);
    int before = nlogs_on_disk();
    ck_assert_int_ge(before, 3);
    unsigned long first = 12345;
    /* No backup recorded at all. */
    ck_assert_int_eq(JetTruncateLogUpToInstance(inst, 0, &first), JET_errNoBackup);
    ck_assert_int_eq(first, 12345);
    /* A copy backup (a full not truncated, ended without TruncateDone) counts for nothing. */
    full_backup(NULL, false, NULL);
    ck_assert_int_ne(info(dbp).bkinfoCopyPrev.genHigh, 0);
    checkpoint_now();
    int now = nlogs_on_disk();
    ck_assert_int_eq(JetTruncateLogUpToInstance(inst, 0, &first), JET_errNoBackup);
    ck_assert_int_eq(nlogs_on_disk(), now);
    /* Refused while a backup runs, whatever the headers say. */
    full_backup_truncate_done(NULL, 0, NULL);
    checkpoint_now();
    now = nlogs_on_disk();
    OK(JetBeginExternalBackupInstance(inst, 0));
    ck_assert_int_eq(JetTruncateLogUpToInstance(inst, 0, &first), JET_errBackupInProgress);
    ck_assert_int_eq(nlogs_on_disk(), now);
    OK(JetEndExternalBackupInstance2(inst, JET_bitBackupEndAbort));
    /* ... and while an OS snapshot holds the instance. */
    JET_OSSNAPID snap;
    unsigned long ni;
    JET_INSTANCE_INFO *ii;
    OK(JetOSSnapshotPrepare(&snap, 0));
    OK(JetOSSnapshotFreeze(snap, &ni, &ii, 0));
    JetFreeBuffer((char *)ii);
    ck_assert_int_eq(JetTruncateLogUpToInstance(inst, 0, &first), JET_errBackupInProgress);
    OK(JetOSSnapshotAbort(snap, 0));
    ck_assert_int_eq(nlogs_on_disk(), now);
    /* A generation that does not fit the log's 32-bit numbers. */
    if (sizeof(unsigned long) > 4)
        ck_assert_int_eq(JetTruncateLogUpToInstance(inst, (unsigned long)UINT32_MAX + 1, &first),
                         JET_errInvalidParameter);
    /* A second database with no backup of its own holds every log back. */
    JET_DBID d2;
    OK(JetCreateDatabase(ses, dbp2, NULL, &d2, 0));
    memset(events, 0, sizeof events);
    OK(JetTruncateLogUpToInstance(inst, 0, &first));
    ck_assert_int_eq(nlogs_on_disk(), now);
    ck_assert_int_eq(events[224], 0);
    ck_assert_int_eq(events[225], 1);
    /* Once it is in a recorded full backup too, they go. */
    full_backup_truncate_done(NULL, 0, NULL);
    checkpoint_now();
    OK(JetTruncateLogUpToInstance(inst, 0, &first));
    ck_assert_int_lt(nlogs_on_disk(), now);
    ck_assert_int_eq(events[224], 1);
    OK(JetCloseDatabase(ses, d2, 0));
}
END_TEST

START_TEST(truncate_up_to_with_circular_logging_does_nothing)
{
    full_backup(NULL, true, NULL);
    int now = nlogs_on_disk();
    unsigned long first = 0;
    OK(JetTruncateLogUpToInstance(inst, 0, &first));
    ck_assert_int_gt(first, 0);
    ck_assert_int_eq(nlogs_on_disk(), now);
}
END_TEST

/* ------------------------------------------------------------------------------------------- *
 * JetChecksumStream*: a database's backup stream checked as it is fed.
 * ------------------------------------------------------------------------------------------- */

/* A streaming full backup with commits while it runs; returns a.edb's stream (malloc'ed, *n
 * bytes) and the log range in *li. */
static unsigned char *stream_of_a_backup(size_t *n, JET_LOGINFO *li)
{
    OK(JetBeginExternalBackupInstance(inst, 0));
    JET_HANDLE h;
    unsigned long lo, hi;
    OK(JetOpenFileInstance(inst, dbp, &h, &lo, &hi));
    *n = ((size_t)hi << 32) | lo;
    unsigned char *buf = malloc(*n);
    size_t got = 0;
    for (;;) {
        unsigned long cb = 0;
        OK(JetReadFileInstance(inst, h, buf + got, 3 * PS, &cb));
        if (!cb)
            break;
        got += cb;
        put_n(1000 + (int)got / PS, 1); /* the engine keeps committing */
    }
    ck_assert_uint_eq(got, *n);
    OK(JetCloseFileInstance(inst, h));
    copy_logs(NULL, li);
    OK(JetEndExternalBackupInstance(inst));
    return buf;
}

/* Check n bytes of b fed in chunks: fixed ones of chunk bytes, or (chunk 0) of random sizes. */
static JET_ERR check_stream_bytes(const unsigned char *b, size_t n, size_t chunk, JET_CHECKSUMINFO *info)
{
    static unsigned long long seed = 77;
    JET_CHECKSUMSTREAM *cs = NULL;
    OK(JetChecksumStreamBegin(&cs));
    for (size_t o = 0; o < n;) {
        size_t c = chunk ? chunk : 1 + tu_rand(&seed) % (3 * PS);
        if (c > n - o)
            c = n - o;
        OK(JetChecksumStreamFeed(cs, b + o, (unsigned long)c));
        o += c;
    }
    memset(info, 0, sizeof *info);
    info->cbStruct = sizeof *info;
    return JetChecksumStreamEnd(cs, info);
}

START_TEST(checksum_stream_of_a_real_backup)
{
    put_n(100, 300); /* a few pages */
    size_t n;
    JET_LOGINFO li = {sizeof li, 0, 0, ""};
    unsigned char *b = stream_of_a_backup(&n, &li);
    ck_assert_uint_ge(n, 6 * PS);
    size_t chunks[] = {0, 0, 1, 7, 512, PS - 1, PS, PS + 3, 3 * PS, n};
    for (size_t i = 0; i < sizeof chunks / sizeof *chunks; i++) {
        JET_CHECKSUMINFO ci;
        OK(check_stream_bytes(b, n, chunks[i], &ci));
        ck_assert_uint_eq(ci.cbStruct, sizeof ci);
        ck_assert_uint_eq(ci.cbPageSize, PS);
        ck_assert_uint_eq(ci.cbStream, n);
        ck_assert_uint_eq(ci.cpgChecked, n / PS - 3);
        ck_assert_uint_le(ci.cpgEmpty, ci.cpgChecked);
        ck_assert_uint_eq(ci.cpgBad, 0);
        ck_assert_uint_eq(ci.pgnoFirstBad, 0);
        ck_assert(ci.ibFirstBad == ~0ULL);
        ck_assert_uint_eq(ci.fHeaderValid, 1);
        ck_assert_uint_eq(ci.fTrailerValid, 1);
        ck_assert_uint_eq(ci.genLow, li.ulGenLow);
        ck_assert_uint_ge(ci.genHigh, ci.genLow);
        ck_assert_uint_le(ci.genHigh, li.ulGenHigh);
    }
    /* The stream written to a file is what a restore takes: the check and the restore agree. */
    char *out = tu_path(dir, "out");
    mkdir(out, 0755);
    char *copy = tu_path(out, "a.edb");
    FILE *f = fopen(copy, "wb");
    ck_assert_uint_eq(fwrite(b, 1, n, f), n);
    fclose(f);
    JET_RSTMAP map = {dbp, copy};
    OK(JetExternalRestore(NULL, NULL, &map, 1, dir, (long)li.ulGenLow, (long)li.ulGenHigh, NULL));
    free(copy);
    free(out);
    free(b);
}
END_TEST

/* Flip one byte at off and check: refused, and the damage placed where it is. */
static void flip_is_caught(unsigned char *b, size_t n, size_t off, unsigned char mask)
{
    b[off] ^= mask;
    JET_CHECKSUMINFO ci;
    JET_ERR e = check_stream_bytes(b, n, off % 3 ? 0 : 4 * PS + 1, &ci);
    b[off] ^= mask;
    size_t unit = off / PS, units = n / PS;
    ck_assert_msg(e != JET_errSuccess, "a flip of byte %zu (mask 0x%02x) passed", off, mask);
    ck_assert_msg(ci.cpgBad >= 1, "byte %zu: no unit counted bad", off);
    ck_assert_msg(ci.ibFirstBad == (unsigned long long)unit * PS, "byte %zu: first bad at %llu", off,
                  ci.ibFirstBad);
    if (unit < 2) {
        ck_assert_int_eq(e, JET_errDatabaseCorrupted);
        ck_assert_uint_eq(ci.fHeaderValid, 0);
        ck_assert_uint_eq(ci.fTrailerValid, 1);
    } else if (unit == units - 1) {
        ck_assert_int_eq(e, JET_errDatabaseCorrupted);
        ck_assert_uint_eq(ci.fHeaderValid, 1);
        ck_assert_uint_eq(ci.fTrailerValid, 0);
        ck_assert_uint_eq(ci.pgnoFirstBad, 0);
    } else {
        ck_assert_int_eq(e, JET_errReadVerifyFailure);
        ck_assert_uint_eq(ci.fHeaderValid, 1);
        ck_assert_uint_eq(ci.fTrailerValid, 1);
        ck_assert_uint_eq(ci.pgnoFirstBad, unit - 1);
        ck_assert_uint_eq(ci.cpgBad, 1);
    }
}

START_TEST(checksum_stream_catches_every_flipped_byte)
{
    put_n(100, 300);
    size_t n;
    unsigned char *b = stream_of_a_backup(&n, NULL);
    size_t units = n / PS;
    /* The edges of every unit: checksum, number, LSN, the header's used part and its zero tail,
     * the last byte. */
    size_t edges[] = {0, 3, 4, 7, 8, 15, 16, 100, 511, 512, 513, PS / 2, PS - 1};
    for (size_t u = 0; u < units; u++)
        for (size_t i = 0; i < sizeof edges / sizeof *edges; i++)
            flip_is_caught(b, n, u * PS + edges[i], 0x01);
    /* Every 61st byte of the whole stream, with another bit each time. */
    for (size_t off = 30, k = 0; off < n; off += 61, k++)
        flip_is_caught(b, n, off, (unsigned char)(1u << (k % 8)));
    /* A zero page (never written) with one byte set is no longer a page. */
    for (size_t u = 2; u < units - 1; u++) {
        bool zero = true;
        for (size_t i = 0; i < PS && zero; i++)
            zero = b[u * PS + i] == 0;
        if (zero)
            flip_is_caught(b, n, u * PS + PS / 3, 0x40);
    }
    free(b);
}
END_TEST

START_TEST(checksum_stream_refuses_a_cut_or_run_on_stream)
{
    put_n(100, 300);
    size_t n;
    unsigned char *b = stream_of_a_backup(&n, NULL);
    size_t cuts[] = {n - 1, n - 100, n - PS, n - PS - 1, n - 2 * PS, 4 * PS, 3 * PS + 7, 2 * PS, PS + 600,
                     PS, 511, 100, 0};
    for (size_t i = 0; i < sizeof cuts / sizeof *cuts; i++) {
        JET_CHECKSUMINFO ci;
        JET_ERR e = check_stream_bytes(b, cuts[i], 0, &ci);
        ck_assert_msg(e == JET_errDatabaseCorrupted, "a stream cut to %zu bytes gave %ld", cuts[i], e);
        ck_assert_uint_eq(ci.fTrailerValid, 0);
        ck_assert_uint_eq(ci.cbStream, cuts[i]);
        if (cuts[i] >= PS + 512)
            ck_assert_uint_eq(ci.cbPageSize, PS);
    }
    /* Bytes after the trailer: a page of zeros, or one byte. */
    unsigned char *longer = calloc(1, n + PS);
    memcpy(longer, b, n);
    JET_CHECKSUMINFO ci;
    ck_assert_int_eq(check_stream_bytes(longer, n + PS, 0, &ci), JET_errDatabaseCorrupted);
    ck_assert_uint_eq(ci.fTrailerValid, 0);
    ck_assert_int_eq(check_stream_bytes(longer, n + 1, PS, &ci), JET_errDatabaseCorrupted);
    ck_assert_uint_eq(ci.fTrailerValid, 0);
    /* A page dropped from the middle: the trailer no longer counts the stream. */
    memcpy(longer, b, 3 * PS);
    memcpy(longer + 3 * PS, b + 4 * PS, n - 4 * PS);
    ck_assert_int_eq(check_stream_bytes(longer, n - PS, 0, &ci), JET_errDatabaseCorrupted);
    /* A database file is not a stream: no trailer. */
    OK(JetCloseTable(ses, tab));
    OK(JetCloseDatabase(ses, dbid, 0));
    OK(JetDetachDatabase(ses, dbp));
    FILE *f = fopen(dbp, "rb");
    size_t m = fread(longer, 1, n, f);
    fclose(f);
    ck_assert_int_eq(check_stream_bytes(longer, m, 0, &ci), JET_errDatabaseCorrupted);
    ck_assert_uint_eq(ci.fHeaderValid, 1);
    ck_assert_uint_eq(ci.fTrailerValid, 0);
    ck_assert_uint_eq(ci.cpgBad, 0);
    free(longer);
    free(b);
}
END_TEST

START_TEST(checksum_stream_argument_errors)
{
    JET_CHECKSUMSTREAM *cs = NULL;
    ck_assert_int_eq(JetChecksumStreamBegin(NULL), JET_errInvalidParameter);
    ck_assert_int_eq(JetChecksumStreamFeed(NULL, "x", 1), JET_errInvalidParameter);
    ck_assert_int_eq(JetChecksumStreamEnd(NULL, NULL), JET_errInvalidParameter);
    OK(JetChecksumStreamBegin(&cs));
    ck_assert_ptr_nonnull(cs);
    ck_assert_int_eq(JetChecksumStreamFeed(cs, NULL, 5), JET_errInvalidParameter);
    OK(JetChecksumStreamFeed(cs, NULL, 0));
    JET_CHECKSUMINFO ci;
    memset(&ci, 0x5A, sizeof ci);
    ci.cbStruct = sizeof ci - 1;
    /* The check is freed all the same (the leak checker of the sanitizer build would say). */
    ck_assert_int_eq(JetChecksumStreamEnd(cs, &ci), JET_errInvalidParameter);
    ck_assert_uint_eq(ci.cbPageSize, 0x5A5A5A5AUL | (sizeof(long) > 4 ? 0x5A5A5A5A00000000UL : 0));
    /* Nothing fed: no header. */
    OK(JetChecksumStreamBegin(&cs));
    ck_assert_int_eq(JetChecksumStreamEnd(cs, NULL), JET_errDatabaseCorrupted);
}
END_TEST

/* ------------------------------------------------------------------------------------------- *
 * JetExternalRestoreUntil: a restore stopped at a point in time.
 * ------------------------------------------------------------------------------------------- */

static unsigned long long now_usec(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (unsigned long long)ts.tv_sec * 1000000ULL + (unsigned long long)ts.tv_nsec / 1000;
}

/* put_n's records, each in its own transaction, with the time before its commit began and the
 * time it was acknowledged: its commit record's time lies in between. */
static void put_timed(int from, int n, unsigned long long *began, unsigned long long *acked)
{
    for (int i = 0; i < n; i++) {
        char k[32], v[200];
        snprintf(k, sizeof k, "key%08d", from + i);
        memset(v, 'a' + (from + i) % 26, sizeof v);
        OK(JetBeginTransaction(ses));
        OK(JetPutRecord(ses, tab, k, (unsigned long)strlen(k), v, sizeof v, 0));
        began[i] = now_usec();
        OK(JetCommitTransaction(ses, 0));
        acked[i] = now_usec();
    }
}

/* A fresh copy of the stream src at dir/name, for one restore. */
static char *stream_copy(const char *src, const char *name)
{
    char *dst = tu_path(dir, name);
    char cmd[16384];
    snprintf(cmd, sizeof cmd, "cp %s %s", src, dst);
    ck_assert_int_eq(system(cmd), 0);
    return dst;
}

static unsigned char *file_bytes(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    ck_assert_ptr_nonnull(f);
    fseek(f, 0, SEEK_END);
    *n = (size_t)ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *b = malloc(*n ? *n : 1);
    ck_assert_uint_eq(fread(b, 1, *n, f), *n);
    fclose(f);
    return b;
}

/* Is key i in the database at path (a fresh instance)? Fills have[] for keys [from, from+n). */
static void keys_present(const char *path, int from, int n, bool *have)
{
    char *d = tu_path(dir, "probe");
    mkdir(d, 0755);
    JET_INSTANCE v;
    OK(JetCreateInstance(&v, "probe"));
    OK(JetSetSystemParameter(&v, 0, JET_paramSystemPath, 0, d));
    OK(JetSetSystemParameter(&v, 0, JET_paramLogFilePath, 0, d));
    OK(JetSetSystemParameter(&v, 0, JET_paramLogFileSize, 128, NULL));
    OK(JetInit(&v));
    JET_SESID s;
    JET_DBID db;
    JET_TABLEID t;
    OK(JetBeginSession(v, &s, NULL, NULL));
    OK(JetAttachDatabase(s, path, 0));
    OK(JetOpenDatabase(s, path, NULL, &db, 0));
    OK(JetOpenTable(s, db, "t", NULL, 0, 0, &t));
    for (int i = 0; i < n; i++) {
        char k[32];
        snprintf(k, sizeof k, "key%08d", from + i);
        JET_ERR e = JetGetRecord(s, t, k, (unsigned long)strlen(k), NULL, 0, NULL, 0);
        ck_assert_msg(e == JET_errSuccess || e == JET_wrnBufferTruncated || e == JET_errRecordNotFound,
                      "key %s: %ld", k, e);
        have[i] = e != JET_errRecordNotFound;
    }
    OK(JetTerm(v));
    tu_rmtree(d);
    free(d);
}

#define PIT_A 600 /* commits after the copy of the pages, before the pause */
#define PIT_B 300 /* after it */

struct pit {
    char *out, *stream;
    JET_LOGINFO li;
    unsigned long gen_consistent; /* the stream's trailer genHigh */
    unsigned long long early, pause, began[PIT_A + PIT_B], acked[PIT_A + PIT_B];
};

/* A full backup taken while commits go on (after 600 that fill a few generations): 2x20 while the
 * pages are copied (the time between the
 * two batches in p->early), then PIT_A commits, a pause of 40 ms with p->pause in its middle, and
 * PIT_B more; every acknowledged commit's time recorded. */
static void pit_backup(struct pit *p)
{
    p->out = tu_path(dir, "out");
    mkdir(p->out, 0755);
    put_n(100, 600); /* the backup starts a few generations in */
    OK(JetBeginExternalBackupInstance(inst, 0));
    put_n(1000, 20);
    p->early = now_usec();
    put_n(1020, 20);
    copy_databases(p->out);
    put_timed(2000, PIT_A, p->began, p->acked);
    usleep(20000);
    p->pause = now_usec();
    usleep(20000);
    put_timed(2000 + PIT_A, PIT_B, p->began + PIT_A, p->acked + PIT_A);
    p->li = (JET_LOGINFO){sizeof p->li, 0, 0, ""};
    copy_logs(p->out, &p->li);
    OK(JetEndExternalBackupInstance(inst));
    p->stream = tu_path(p->out, "a.edb");
    /* Where the copy becomes consistent: the trailer says, and the stream check reads it. */
    size_t n;
    unsigned char *b = file_bytes(p->stream, &n);
    JET_CHECKSUMINFO ci;
    OK(check_stream_bytes(b, n, n, &ci));
    free(b);
    p->gen_consistent = ci.genHigh;
    ck_assert_uint_ge(p->gen_consistent, p->li.ulGenLow);
    ck_assert_uint_gt(p->gen_consistent, 1); /* so that a generation before it can be asked for */
    ck_assert_uint_lt(p->gen_consistent, p->li.ulGenHigh); /* PIT_A commits fill generations after it */
}

static void pit_free(struct pit *p)
{
    free(p->out);
    free(p->stream);
}

/* The timed keys present in the restored file form a prefix of the commit order: returns its
 * length, and checks the keys from before the copy are all there. */
static int timed_prefix(const char *path)
{
    bool *have = calloc(PIT_A + PIT_B, sizeof *have);
    keys_present(path, 2000, PIT_A + PIT_B, have);
    int k = 0;
    while (k < PIT_A + PIT_B && have[k])
        k++;
    for (int i = k; i < PIT_A + PIT_B; i++)
        ck_assert_msg(!have[i], "key %d is restored but key %d, committed before it, is not", 2000 + i, 2000 + k);
    free(have);
    bool early[40];
    keys_present(path, 1000, 40, early);
    for (int i = 0; i < 40; i++)
        ck_assert(early[i]);
    return k;
}

static JET_ERR restore_until(struct pit *p, const char *file, JET_RSTSTOP *st)
{
    JET_RSTMAP map = {dbp, (char *)file};
    return JetExternalRestoreUntil(NULL, NULL, &map, 1, p->out, &p->li, NULL, NULL, NULL, NULL, st);
}

START_TEST(restore_until_a_time_in_a_pause)
{
    struct pit p;
    pit_backup(&p);
    char *r = stream_copy(p.stream, "until-time.edb");
    JET_RSTSTOP st = {sizeof st, p.pause, 0, 0, 0, 0, 0, 0};
    memset(events, 0, sizeof events);
    OK(restore_until(&p, r, &st));
    /* Exactly the commits before the pause. */
    ck_assert_int_eq(timed_prefix(r), PIT_A);
    ck_assert_int_eq(events[913], 1);
    ck_assert_uint_ge(st.usecLastCommit, p.began[PIT_A - 1]);
    ck_assert_uint_le(st.usecLastCommit, p.acked[PIT_A - 1]);
    ck_assert_uint_ge(st.cCommitsReplayed, PIT_A + 20);
    ck_assert_uint_eq(st.genLowReplayed, p.li.ulGenLow);
    ck_assert_uint_le(st.genHighReplayed, p.li.ulGenHigh);
    ck_assert_uint_ge(st.genHighReplayed, p.gen_consistent);
    ck_assert_uint_eq(st.cDatabases, 1);
    JET_DBINFOMISC m = info(r);
    ck_assert_int_eq(m.dbstate, 3); /* clean: attachable anywhere */
    ck_assert_int_eq(m.bkinfoFullCur.genLow, 0);
    /* No limit at all: every commit of the backup, as JetExternalRestore2. */
    char *all = stream_copy(p.stream, "until-end.edb");
    JET_RSTSTOP none = {sizeof none, 0, 0, 0, 0, 0, 0, 0};
    OK(restore_until(&p, all, &none));
    ck_assert_int_eq(timed_prefix(all), PIT_A + PIT_B);
    ck_assert_uint_eq(none.genHighReplayed, p.li.ulGenHigh);
    ck_assert_uint_ge(none.usecLastCommit, p.began[PIT_A + PIT_B - 1]);
    ck_assert_uint_le(none.usecLastCommit, p.acked[PIT_A + PIT_B - 1]);
    ck_assert_uint_gt(none.cCommitsReplayed, st.cCommitsReplayed + PIT_B - 1);
    /* A time inside the stream of commits: those acknowledged before it are in, those begun at or
     * after it are out (one commit may straddle it). */
    char *mid = stream_copy(p.stream, "until-mid.edb");
    int k = PIT_A + PIT_B / 2;
    JET_RSTSTOP sm = {sizeof sm, p.began[k], 0, 0, 0, 0, 0, 0};
    OK(restore_until(&p, mid, &sm));
    int got = timed_prefix(mid);
    ck_assert_int_ge(got, k - 1);
    ck_assert_int_le(got, k);
    ck_assert_uint_lt(sm.usecLastCommit, p.began[k]);
    free(mid);
    free(all);
    free(r);
    pit_free(&p);
}
END_TEST

START_TEST(restore_until_a_generation)
{
    struct pit p;
    pit_backup(&p);
    unsigned long g = p.li.ulGenHigh - 1;
    char *r = stream_copy(p.stream, "until-gen.edb");
    JET_RSTSTOP st = {sizeof st, 0, g, 0, 0, 0, 0, 0};
    OK(restore_until(&p, r, &st));
    ck_assert_uint_eq(st.genHighReplayed, g);
    int k = timed_prefix(r);
    ck_assert_int_lt(k, PIT_A + PIT_B); /* the last generation holds the last commits */
    if (k > 0) {
        ck_assert_uint_ge(st.usecLastCommit, p.began[k - 1]);
        ck_assert_uint_le(st.usecLastCommit, p.acked[k - 1]);
    }
    /* The earliest stop allowed: the generation the copy is consistent at. */
    char *edge = stream_copy(p.stream, "until-edge.edb");
    JET_RSTSTOP se = {sizeof se, 0, p.gen_consistent, 0, 0, 0, 0, 0};
    OK(restore_until(&p, edge, &se));
    ck_assert_uint_eq(se.genHighReplayed, p.gen_consistent);
    ck_assert_int_le(timed_prefix(edge), k);
    /* Both limits: the earlier one stops the replay. */
    char *both = stream_copy(p.stream, "until-both.edb");
    JET_RSTSTOP sb = {sizeof sb, p.pause, p.li.ulGenHigh, 0, 0, 0, 0, 0};
    OK(restore_until(&p, both, &sb));
    ck_assert_int_eq(timed_prefix(both), PIT_A);
    free(both);
    free(edge);
    free(r);
    pit_free(&p);
}
END_TEST

START_TEST(restore_until_too_early_is_refused_untouched)
{
    struct pit p;
    pit_backup(&p);
    char *r = stream_copy(p.stream, "too-early.edb");
    size_t n0;
    unsigned char *before = file_bytes(r, &n0);
    /* A time while the pages were being copied: commits after it are in the generations the copy
     * needs. */
    JET_RSTSTOP st = {sizeof st, p.early, 0, 0, 0, 0, 0, 0};
    memset(events, 0, sizeof events);
    ck_assert_int_eq(restore_until(&p, r, &st), JET_errEndingRestoreLogTooLow);
    ck_assert_int_eq(events[912], 1);
    ck_assert_uint_eq(st.cDatabases, 0); /* out fields only on success */
    /* A generation before the one the copy is consistent at. */
    JET_RSTSTOP sg = {sizeof sg, 0, p.gen_consistent - 1, 0, 0, 0, 0, 0};
    ck_assert_int_eq(restore_until(&p, r, &sg), JET_errEndingRestoreLogTooLow);
    ck_assert_int_eq(events[912], 2);
    JET_RSTSTOP s1 = {sizeof s1, 1, 0, 0, 0, 0, 0, 0};
    ck_assert_int_eq(restore_until(&p, r, &s1), JET_errEndingRestoreLogTooLow);
    size_t n1;
    unsigned char *after = file_bytes(r, &n1);
    ck_assert_uint_eq(n0, n1);
    ck_assert(!memcmp(before, after, n0));
    /* Still a backup: attaching it as it is is refused, and a restore without a stop works. */
    ck_assert_int_eq(JetAttachDatabase(ses, r, 0), JET_errSoftRecoveryOnBackupDatabase);
    OK(restore_until(&p, r, NULL));
    ck_assert_int_eq(timed_prefix(r), PIT_A + PIT_B);
    /* A bad JET_RSTSTOP. */
    JET_RSTSTOP bad = {sizeof bad - 1, 0, 0, 0, 0, 0, 0, 0};
    ck_assert_int_eq(restore_until(&p, r, &bad), JET_errInvalidParameter);
    if (sizeof(unsigned long) > 4) {
        JET_RSTSTOP big = {sizeof big, 0, (unsigned long)UINT32_MAX + 1, 0, 0, 0, 0, 0};
        ck_assert_int_eq(restore_until(&p, r, &big), JET_errInvalidParameter);
    }
    free(before);
    free(after);
    free(r);
    pit_free(&p);
}
END_TEST

START_TEST(restore_refused_in_one_instance_mode)
{
    OK(JetTerm(inst));
    inst = 0;
    OK(JetSetSystemParameter(NULL, 0, JET_paramSystemPath, 0, dir));
    OK(JetSetSystemParameter(NULL, 0, JET_paramLogFilePath, 0, dir));
    OK(JetSetSystemParameter(NULL, 0, JET_paramLogFileSize, 128, NULL));
    OK(JetInit(NULL));
    ck_assert_int_eq(JetExternalRestore(NULL, NULL, NULL, 0, dir, 0, 0, NULL), JET_errRunningInOneInstanceMode);
    ck_assert_int_eq(JetExternalRestore2(NULL, NULL, NULL, 0, dir, NULL, NULL, NULL, NULL, NULL),
                     JET_errRunningInOneInstanceMode);
    OK(JetTerm(0));
}
END_TEST


static int snp_calls[16];
static JET_ERR on_status(JET_SESID s, JET_SNP snp, JET_SNT snt, void *pv)
{
    (void)s, (void)pv;
    if (snt >= 0 && snt < 16)
        snp_calls[snt]++;
    ck_assert(snp == JET_snpBackup || snp == JET_snpRestore);
    return JET_errSuccess;
}

START_TEST(backup_to_directory_and_restore_instance)
{
    char *bd = tu_path(dir, "bdir");
    ck_assert_int_eq(JetBackupInstance(inst, NULL, 0, NULL), JET_errNoBackupDirectory);
    ck_assert_int_eq(JetBackupInstance(inst, bd, JET_bitBackupIncremental, NULL), JET_errMissingFullBackup);
    ck_assert_int_eq(JetBackupInstance(inst, bd, 0x1000, NULL), JET_errInvalidGrbit);
    OK(JetBackupInstance(inst, bd, 0, on_status));
    ck_assert_int_eq(snp_calls[JET_sntBegin], 1);
    ck_assert_int_eq(snp_calls[JET_sntComplete], 1);
    ck_assert_int_ne(info(dbp).bkinfoFullPrev.genLow, 0);
    ck_assert_int_eq(JetBackupInstance(inst, bd, 0, NULL), JET_errBackupDirectoryNotEmpty);
    put_n(100, 30);
    OK(JetBackupInstance(inst, bd, JET_bitBackupIncremental, NULL));
    ck_assert_int_ne(info(dbp).bkinfoIncPrev.genLow, 0);
    put_n(200, 30);
    OK(JetBackupInstance(inst, bd, JET_bitBackupIncremental, NULL));
    put_n(900, 5); /* not in the backup */
    /* The legacy form belongs to one-instance mode. */
    ck_assert_int_eq(JetBackup(bd, 0, NULL), JET_errRunningInMultiInstanceMode);
    ck_assert_int_eq(JetRestore(bd, NULL), JET_errRunningInMultiInstanceMode);
    ck_assert_int_eq(JetRestoreInstance(inst, bd, NULL, NULL), JET_errAfterInitialization);
    OK(JetTerm(inst));
    inst = 0;
    ck_assert_int_eq(unlink(dbp), 0); /* the database is lost */
    memset(snp_calls, 0, sizeof snp_calls);
    OK(JetRestoreInstance(JET_instanceNil, bd, NULL, on_status));
    ck_assert_int_eq(snp_calls[JET_sntComplete], 1);
    int n;
    int *want = range_keys(&n, 0, 50, 100, 130);
    int *w2 = realloc(want, sizeof(int) * (size_t)(n + 30));
    for (int i = 200; i < 230; i++)
        w2[n++] = i;
    expect_keys(dbp, w2, n);
    free(w2);
    free(bd);
}
END_TEST

START_TEST(atomic_backup_replaces_the_previous_one)
{
    char *bd = tu_path(dir, "bdir");
    OK(JetBackupInstance(inst, bd, JET_bitBackupAtomic, NULL));
    put_n(100, 20);
    OK(JetBackupInstance(inst, bd, JET_bitBackupAtomic, NULL));
    /* No leftovers, and the directory holds the newer backup: restoring it gives the 20 records. */
    char *nd = tu_path(bd, ".new"), *od = tu_path(bd, ".old");
    ck_assert_int_ne(access(nd, F_OK), 0);
    ck_assert_int_ne(access(od, F_OK), 0);
    put_n(300, 5);
    /* A created instance lends its parameters and is locked meanwhile. */
    OK(JetTerm(inst));
    inst = 0;
    ck_assert_int_eq(unlink(dbp), 0);
    JET_INSTANCE r;
    OK(JetCreateInstance(&r, "restorer"));
    OK(JetRestoreInstance(r, bd, NULL, NULL));
    OK(JetTerm(r));
    int n;
    int *want = range_keys(&n, 0, 50, 100, 120);
    expect_keys(dbp, want, n);
    free(want);
    free(nd);
    free(od);
    free(bd);
}
END_TEST


START_TEST(database_left_out_keeps_its_logs)
{
    /* b.edb is attached but not copied by the full backup: truncation must keep every log it
     * would need, since it has no backup of its own. */
    JET_DBID d2;
    JET_TABLEID t2;
    OK(JetCreateDatabase(ses, dbp2, NULL, &d2, 0));
    OK(JetCreateTable(ses, d2, "t", 0, 0, &t2));
    put_n(1000, 600);
    int before = nlogs_on_disk();
    ck_assert_int_ge(before, 3);
    OK(JetBeginExternalBackupInstance(inst, 0));
    JET_HANDLE h;
    OK(JetOpenFileInstance(inst, dbp, &h, NULL, NULL));
    read_all(h, 16 * PS, NULL);
    OK(JetCloseFileInstance(inst, h));
    copy_logs(NULL, NULL);
    unsigned long need = 0;
    OK(JetGetTruncateLogInfoInstance(inst, NULL, 0, &need));
    char *list = malloc(need);
    OK(JetGetTruncateLogInfoInstance(inst, list, need, &need));
    ck_assert_int_eq(count_multisz(list), 0);
    OK(JetTruncateLogInstance(inst));
    ck_assert_int_eq(events[225], 1); /* "no log files can be truncated" */
    ck_assert_int_eq(nlogs_on_disk(), before + 1);
    OK(JetEndExternalBackupInstance(inst));
    ck_assert_int_ne(info(dbp).bkinfoFullPrev.genLow, 0);
    ck_assert_int_eq(info(dbp2).bkinfoFullPrev.genLow, 0);
    free(list);
}
END_TEST

static void *init_thread(void *arg)
{
    return (void *)(intptr_t)JetInit((JET_INSTANCE *)arg);
}
static void *term_thread(void *arg)
{
    return (void *)(intptr_t)JetTerm2(*(JET_INSTANCE *)arg, JET_bitTermStopBackup);
}

START_TEST(backup_calls_racing_init_and_term)
{
    /* While an instance initializes (recovery), a backup is not allowed yet. */
    OK(JetTerm(inst));
    OK(JetCreateInstance(&inst, "bk"));
    OK(JetSetSystemParameter(&inst, 0, JET_paramSystemPath, 0, dir));
    OK(JetSetSystemParameter(&inst, 0, JET_paramLogFilePath, 0, dir));
    OK(JetSetSystemParameter(&inst, 0, JET_paramLogFileSize, 128, NULL));
    tu_sync_gate_arm();
    pthread_t th;
    ck_assert_int_eq(pthread_create(&th, NULL, init_thread, &inst), 0);
    tu_sync_gate_wait_holding();
    ck_assert_int_eq(JetBeginExternalBackupInstance(inst, 0), JET_errBackupNotAllowedYet);
    tu_sync_gate_release();
    void *r;
    pthread_join(th, &r);
    ck_assert_int_eq((long)(intptr_t)r, 0);
    /* While a term that stops the backup runs, the backup's calls get TermInProgress. */
    OK(JetBeginSession(inst, &ses, NULL, NULL));
    OK(JetAttachDatabase(ses, dbp, 0));
    OK(JetBeginExternalBackupInstance(inst, 0));
    tu_sync_gate_arm();
    ck_assert_int_eq(pthread_create(&th, NULL, term_thread, &inst), 0);
    tu_sync_gate_wait_holding();
    unsigned long got;
    ck_assert_int_eq(JetGetAttachInfoInstance(inst, NULL, 0, &got), JET_errTermInProgress);
    ck_assert_int_eq(JetEndExternalBackupInstance(inst), JET_errTermInProgress);
    tu_sync_gate_release();
    pthread_join(th, &r);
    ck_assert_int_eq((long)(intptr_t)r, 0);
    ck_assert_int_eq(events[226], 1);
    inst = 0;
}
END_TEST

static JET_INSTANCE restoring;
static JET_ERR during_restore(JET_SESID s, JET_SNP snp, JET_SNT snt, void *pv)
{
    (void)s, (void)pv;
    if (snp == JET_snpRestore && snt == JET_sntBegin) {
        /* The instance lent to the restore refuses to start or end meanwhile. */
        JET_INSTANCE i = restoring;
        ck_assert_int_eq(JetInit(&i), JET_errRestoreInProgress);
        ck_assert_int_eq(JetTerm(restoring), JET_errRestoreInProgress);
        ck_assert_int_eq(JetRestoreInstance(restoring, dir, NULL, NULL), JET_errRestoreInProgress);
        snp_calls[15]++;
    }
    return JET_errSuccess;
}

START_TEST(restore_in_progress)
{
    char *bd = tu_path(dir, "bdir");
    OK(JetBackupInstance(inst, bd, 0, NULL));
    OK(JetTerm(inst));
    inst = 0;
    OK(JetCreateInstance(&restoring, "restorer"));
    OK(JetRestoreInstance(restoring, bd, NULL, during_restore));
    ck_assert_int_eq(snp_calls[15], 1);
    /* Afterwards it is an ordinary created instance again. */
    OK(JetTerm(restoring));
    free(bd);
}
END_TEST

/* ------------------------------------------------------------------------------------------- */
/* An atomic backup replaces only an earlier backup, and its swap survives a crash (issue 9). */

/* Everything under d, byte for byte: each entry's relative name, type, link target or content,
 * in name order, recursively (symbolic links are not followed). Caller frees; *len its size. */
static void snap_add(char **buf, size_t *len, const void *p, size_t n)
{
    *buf = realloc(*buf, *len + n + 1);
    memcpy(*buf + *len, p, n);
    *len += n;
}

static int by_name(const struct dirent **a, const struct dirent **b) { return strcmp((*a)->d_name, (*b)->d_name); }

static void snap_tree(const char *d, const char *rel, char **buf, size_t *len)
{
    struct dirent **ents;
    int n = scandir(d, &ents, NULL, by_name);
    ck_assert_int_ge(n, 0);
    for (int i = 0; i < n; i++) {
        const char *nm = ents[i]->d_name;
        if (strcmp(nm, ".") && strcmp(nm, "..")) {
            char *p = tu_path(d, nm), r[1024];
            snprintf(r, sizeof r, "%s/%s", rel, nm);
            struct stat st;
            ck_assert_int_eq(lstat(p, &st), 0);
            char head[1100];
            /* (a directory's size is the file system's business) */
            long long sz = S_ISDIR(st.st_mode) ? 0 : (long long)st.st_size;
            int hl = snprintf(head, sizeof head, "%s %o %lld\n", r, (unsigned)st.st_mode, sz);
            snap_add(buf, len, head, (size_t)hl);
            if (S_ISDIR(st.st_mode)) {
                snap_tree(p, r, buf, len);
            } else if (S_ISLNK(st.st_mode)) {
                char t[1024];
                ssize_t tl = readlink(p, t, sizeof t);
                ck_assert_int_gt(tl, 0);
                snap_add(buf, len, t, (size_t)tl);
            } else {
                FILE *f = fopen(p, "rb");
                ck_assert_ptr_nonnull(f);
                char c[65536];
                size_t got;
                while ((got = fread(c, 1, sizeof c, f)) > 0)
                    snap_add(buf, len, c, got);
                fclose(f);
            }
            free(p);
        }
        free(ents[i]);
    }
    free(ents);
}

typedef struct snap {
    char *buf;
    size_t len;
} snap;

static snap take_snap(const char *d)
{
    snap s = {malloc(1), 0};
    snap_tree(d, "", &s.buf, &s.len);
    return s;
}

/* d holds exactly what it held when s was taken (and s is freed). */
static void assert_untouched(snap s, const char *d)
{
    snap now = take_snap(d);
    ck_assert_msg(now.len == s.len && !memcmp(now.buf, s.buf, s.len), "%s was changed", d);
    free(now.buf);
    free(s.buf);
}

static void write_file(const char *d, const char *name, const char *text)
{
    char *p = tu_path(d, name);
    FILE *f = fopen(p, "w");
    ck_assert_ptr_nonnull(f);
    fputs(text, f);
    fclose(f);
    free(p);
}

/* A second instance whose log, system and database directories are apart, with one database. */
static JET_INSTANCE inst2;
static char *d2log, *d2sys, *d2data, *db2;

static void start2(bool create)
{
    JET_SESID s;
    JET_DBID d;
    JET_TABLEID t;
    OK(JetCreateInstance(&inst2, "bk2"));
    OK(JetSetSystemParameter(&inst2, 0, JET_paramSystemPath, 0, d2sys));
    OK(JetSetSystemParameter(&inst2, 0, JET_paramLogFilePath, 0, d2log));
    OK(JetSetSystemParameter(&inst2, 0, JET_paramLogFileSize, 128, NULL));
    OK(JetInit(&inst2));
    OK(JetBeginSession(inst2, &s, NULL, NULL));
    if (create) {
        OK(JetCreateDatabase(s, db2, NULL, &d, 0));
        OK(JetCreateTable(s, d, "t", 0, 0, &t));
        OK(JetBeginTransaction(s));
        OK(JetPutRecord(s, t, "k2", 2, "v2", 2, 0));
        OK(JetCommitTransaction(s, 0));
    } else {
        OK(JetAttachDatabase(s, db2, 0));
        OK(JetOpenDatabase(s, db2, NULL, &d, 0));
        OK(JetOpenTable(s, d, "t", NULL, 0, 0, &t));
        char v[8];
        unsigned long vl = 0;
        OK(JetSeekRecord(s, t, "k2", 2, JET_bitSeekEQ));
        OK(JetRetrieveRecord(s, t, v, sizeof v, &vl, 0));
        ck_assert(vl == 2 && !memcmp(v, "v2", 2));
    }
}

static void make_dirs2(void)
{
    d2log = tu_path(dir, "logs");
    d2sys = tu_path(dir, "sys");
    d2data = tu_path(dir, "data");
    db2 = tu_path(d2data, "x.edb");
    ck_assert_int_eq(mkdir(d2log, 0755), 0);
    ck_assert_int_eq(mkdir(d2sys, 0755), 0);
    ck_assert_int_eq(mkdir(d2data, 0755), 0);
}

static void free_dirs2(void)
{
    free(d2log);
    free(d2sys);
    free(d2data);
    free(db2);
}

/* An atomic backup of in into d is refused with err, and nothing under d changes. */
static void refused(JET_INSTANCE in, const char *d, JET_ERR err)
{
    snap s = take_snap(d);
    ck_assert_int_eq(JetBackupInstance(in, d, JET_bitBackupAtomic, NULL), err);
    assert_untouched(s, d);
}

START_TEST(atomic_backup_refuses_an_instance_s_live_directories)
{
    /* The fixture instance keeps its logs, checkpoint and database in dir. */
    refused(inst, dir, JET_errBackupDirectoryNotEmpty);
    make_dirs2();
    start2(true);
    /* Its own log, system and database directories. */
    refused(inst2, d2log, JET_errBackupDirectoryNotEmpty);
    refused(inst2, d2sys, JET_errBackupDirectoryNotEmpty);
    refused(inst2, d2data, JET_errBackupDirectoryNotEmpty);
    /* Another instance's, even with a marker that claims them for a backup: the live names
     * (edb.log, edb.chk) and the locked database give them away. */
    write_file(d2log, ".jetsnap-backup", "jetsnap backup 1\nedb.log\nedb00001.log\nedbtmp.log\n");
    write_file(d2sys, ".jetsnap-backup", "jetsnap backup 1\nedb.chk\n");
    write_file(d2data, ".jetsnap-backup", "jetsnap backup 1\nx.edb\n");
    refused(inst, d2log, JET_errBackupDirectoryNotEmpty);
    refused(inst, d2sys, JET_errBackupDirectoryNotEmpty);
    refused(inst, d2data, JET_errBackupDirectoryNotEmpty);
    ck_assert_int_ge(events[214], 7);
    /* An incremental adds only to a jetsnap backup: not to a live log directory, where it
     * would copy the logs over themselves. */
    char *b2 = tu_path(dir, "b2");
    OK(JetBackupInstance(inst2, b2, 0, NULL));
    char *mk = tu_path(d2log, ".jetsnap-backup");
    ck_assert_int_eq(unlink(mk), 0);
    free(mk);
    snap sl = take_snap(d2log);
    ck_assert_int_eq(JetBackupInstance(inst2, d2log, JET_bitBackupIncremental, NULL),
                     JET_errBackupDirectoryNotEmpty);
    assert_untouched(sl, d2log);
    free(b2);
    /* Both instances start again on what they left. */
    OK(JetTerm(inst2));
    OK(JetTerm(inst));
    inst = 0;
    start2(false);
    OK(JetTerm(inst2));
    start(0);
    OK(JetTerm(inst));
    inst = 0;
    int n;
    int *want = range_keys(&n, 0, 50, 0, 0);
    expect_keys(dbp, want, n);
    free(want);
    free_dirs2();
}
END_TEST

START_TEST(atomic_backup_refuses_a_user_directory)
{
    char *u = tu_path(dir, "user"), *sub = tu_path(u, "sub");
    ck_assert_int_eq(mkdir(u, 0755), 0);
    write_file(u, "notes.txt", "not a backup\n");
    refused(inst, u, JET_errBackupDirectoryNotEmpty);
    /* Dot files count too, and a marker does not make the user's file the backup's. */
    char *notes = tu_path(u, "notes.txt");
    ck_assert_int_eq(unlink(notes), 0);
    free(notes);
    write_file(u, ".profile", "x\n");
    refused(inst, u, JET_errBackupDirectoryNotEmpty);
    write_file(u, ".jetsnap-backup", "jetsnap backup 1\na.edb\n");
    write_file(u, "a.edb.txt", "mine\n");
    refused(inst, u, JET_errBackupDirectoryNotEmpty);
    /* A subdirectory is never taken for part of a backup. */
    char *u2 = tu_path(dir, "user2");
    ck_assert_int_eq(mkdir(u2, 0755), 0);
    char *s2 = tu_path(u2, "sub");
    ck_assert_int_eq(mkdir(s2, 0755), 0);
    write_file(s2, "deep.txt", "deep\n");
    refused(inst, u2, JET_errBackupDirectoryNotEmpty);
    /* A file that is not a directory. */
    char *f = tu_path(dir, "plain");
    write_file(dir, "plain", "plain\n");
    ck_assert_int_eq(JetBackupInstance(inst, f, JET_bitBackupAtomic, NULL), JET_errInvalidPath);
    /* An empty directory is fine. */
    ck_assert_int_eq(mkdir(sub, 0755), 0);
    OK(JetBackupInstance(inst, sub, JET_bitBackupAtomic, NULL));
    free(f);
    free(s2);
    free(u2);
    free(sub);
    free(u);
}
END_TEST

START_TEST(atomic_backup_follows_no_symbolic_link)
{
    char *u = tu_path(dir, "user"), *bk = tu_path(dir, "bk"), *bd = tu_path(bk, "bd");
    ck_assert_int_eq(mkdir(u, 0755), 0);
    ck_assert_int_eq(mkdir(bk, 0755), 0);
    write_file(u, "notes.txt", "not a backup\n");
    /* The backup path itself a link: to a user directory, to the instance's live directory. */
    char *l1 = tu_path(dir, "link-user"), *l2 = tu_path(dir, "link-live");
    ck_assert_int_eq(symlink(u, l1), 0);
    ck_assert_int_eq(symlink(dir, l2), 0);
    snap su = take_snap(u), sd = take_snap(dir);
    ck_assert_int_eq(JetBackupInstance(inst, l1, JET_bitBackupAtomic, NULL), JET_errInvalidPath);
    ck_assert_int_eq(JetBackupInstance(inst, l2, JET_bitBackupAtomic, NULL), JET_errInvalidPath);
    assert_untouched(sd, dir);
    assert_untouched(su, u);
    su = take_snap(u);
    /* A link planted under the staging name. */
    char *st = tu_path(bk, ".bd.jetsnap-tmp");
    ck_assert_int_eq(symlink(u, st), 0);
    ck_assert_int_eq(JetBackupInstance(inst, bd, JET_bitBackupAtomic, NULL), JET_errBackupDirectoryNotEmpty);
    assert_untouched(su, u);
    ck_assert_int_eq(unlink(st), 0);
    /* Links planted inside a previous backup (where an older jetsnap staged its swap, and under
     * a log's name). */
    OK(JetBackupInstance(inst, bd, JET_bitBackupAtomic, NULL));
    char *n1 = tu_path(bd, ".new"), *n2 = tu_path(bd, ".old"), *n3 = tu_path(bd, "edb00099.log");
    ck_assert_int_eq(symlink(u, n1), 0);
    ck_assert_int_eq(symlink(u, n2), 0);
    snap sb = take_snap(bk);
    su = take_snap(u);
    ck_assert_int_eq(JetBackupInstance(inst, bd, JET_bitBackupAtomic, NULL), JET_errBackupDirectoryNotEmpty);
    assert_untouched(su, u);
    assert_untouched(sb, bk);
    unlink(n1);
    unlink(n2);
    char *notes = tu_path(u, "notes.txt");
    ck_assert_int_eq(symlink(notes, n3), 0);
    free(notes);
    sb = take_snap(bk);
    su = take_snap(u);
    ck_assert_int_eq(JetBackupInstance(inst, bd, JET_bitBackupAtomic, NULL), JET_errBackupDirectoryNotEmpty);
    ck_assert_int_eq(JetBackupInstance(inst, bd, JET_bitBackupIncremental, NULL), JET_errBackupDirectoryNotEmpty);
    assert_untouched(su, u);
    assert_untouched(sb, bk);
    free(n1);
    free(n2);
    free(n3);
    free(st);
    free(l1);
    free(l2);
    free(bd);
    free(bk);
    free(u);
}
END_TEST

/* Entries of d (not . and ..). */
static int entries(const char *d)
{
    DIR *dd = opendir(d);
    ck_assert_ptr_nonnull(dd);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(dd)))
        n += strcmp(e->d_name, ".") && strcmp(e->d_name, "..");
    closedir(dd);
    return n;
}

START_TEST(atomic_backup_over_every_earlier_backup)
{
    char *bk = tu_path(dir, "bk"), *bd = tu_path(bk, "bd");
    ck_assert_int_eq(mkdir(bk, 0755), 0);
    /* A plain backup, then atomic ones over it, then an incremental on top. */
    OK(JetBackupInstance(inst, bd, 0, NULL));
    put_n(100, 10);
    OK(JetBackupInstance(inst, bd, JET_bitBackupAtomic, NULL));
    put_n(200, 10);
    OK(JetBackupInstance(inst, bd, JET_bitBackupAtomic, NULL));
    ck_assert_int_eq(entries(bk), 1); /* no staging directory left beside it */
    put_n(300, 10);
    OK(JetBackupInstance(inst, bd, JET_bitBackupIncremental, NULL));
    put_n(400, 10);
    OK(JetBackupInstance(inst, bd, JET_bitBackupAtomic, NULL));
    ck_assert_int_eq(entries(bk), 1);
    OK(JetTerm(inst));
    inst = 0;
    ck_assert_int_eq(unlink(dbp), 0);
    OK(JetRestoreInstance(JET_instanceNil, bd, NULL, NULL));
    int n;
    int *want = range_keys(&n, 0, 50, 100, 110);
    want = realloc(want, sizeof(int) * (size_t)(n + 30));
    for (int i = 200; i < 210; i++)
        want[n++] = i;
    for (int i = 300; i < 310; i++)
        want[n++] = i;
    for (int i = 400; i < 410; i++)
        want[n++] = i;
    expect_keys(dbp, want, n);
    free(want);
    free(bd);
    free(bk);
}
END_TEST

/* A crash image: what the backup's parent directory held just before each rename or sync of an
 * atomic backup, as a power cut there would leave it (every earlier write synced). */
static pthread_t crash_thread;
static char *crash_src, *crash_dst;
static int crash_images;
static snap crash_last;
static int crash_no_exchange; /* fail the first rename of the staging directory with EINVAL */

static void copy_tree(const char *from, const char *to)
{
    ck_assert_int_eq(mkdir(to, 0755), 0);
    DIR *d = opendir(from);
    ck_assert_ptr_nonnull(d);
    struct dirent *e;
    while ((e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        char *a = tu_path(from, e->d_name), *b = tu_path(to, e->d_name);
        struct stat st;
        ck_assert_int_eq(lstat(a, &st), 0);
        if (S_ISDIR(st.st_mode)) {
            copy_tree(a, b);
        } else {
            ck_assert(S_ISREG(st.st_mode));
            FILE *f = fopen(a, "rb"), *g = fopen(b, "wb");
            ck_assert(f && g);
            char c[65536];
            size_t got;
            while ((got = fread(c, 1, sizeof c, f)) > 0)
                ck_assert_int_eq(fwrite(c, 1, got, g), got);
            fclose(f);
            fclose(g);
        }
        free(a);
        free(b);
    }
    closedir(d);
}

static int crash_hook(void *ctx, enum eng_io_op op, int fd, const char *path, uint64_t off, size_t len)
{
    (void)ctx, (void)fd, (void)off, (void)len;
    if (!pthread_equal(pthread_self(), crash_thread) || (op != ENG_IO_RENAME && op != ENG_IO_SYNC))
        return 0;
    snap s = take_snap(crash_src);
    if (crash_images && s.len == crash_last.len && !memcmp(s.buf, crash_last.buf, s.len)) {
        free(s.buf);
    } else {
        char name[32];
        snprintf(name, sizeof name, "img%03d", crash_images++);
        char *to = tu_path(crash_dst, name);
        copy_tree(crash_src, to);
        free(to);
        free(crash_last.buf);
        crash_last = s;
    }
    if (crash_no_exchange == 1 && op == ENG_IO_RENAME && strstr(path, "jetsnap-tmp")) {
        crash_no_exchange = 2;
        return -EINVAL; /* as a file system without RENAME_EXCHANGE answers */
    }
    return 0;
}

/* Keys of the database at path (-1 if it cannot be read), without asserting what they are. */
static int count_keys(const char *path)
{
    char *d = tu_path(dir, "count");
    mkdir(d, 0755);
    JET_INSTANCE v;
    OK(JetCreateInstance(&v, "count"));
    OK(JetSetSystemParameter(&v, 0, JET_paramSystemPath, 0, d));
    OK(JetSetSystemParameter(&v, 0, JET_paramLogFilePath, 0, d));
    OK(JetSetSystemParameter(&v, 0, JET_paramLogFileSize, 128, NULL));
    OK(JetInit(&v));
    JET_SESID s;
    JET_DBID db;
    JET_TABLEID t;
    int n = -1;
    OK(JetBeginSession(v, &s, NULL, NULL));
    if (!JetAttachDatabase(s, path, 0) && !JetOpenDatabase(s, path, NULL, &db, 0) &&
        !JetOpenTable(s, db, "t", NULL, 0, 0, &t)) {
        n = 0;
        for (JET_ERR e = JetMove(s, t, JET_MoveFirst, 0); !e; e = JetMove(s, t, JET_MoveNext, 0))
            n++;
    }
    OK(JetTerm(v));
    tu_rmtree(d);
    free(d);
    return n;
}

static void crash_during_swap(int no_exchange)
{
    char *bk = tu_path(dir, "bk"), *bd = tu_path(bk, "bd"), *imgs = tu_path(dir, "images");
    ck_assert_int_eq(mkdir(bk, 0755), 0);
    ck_assert_int_eq(mkdir(imgs, 0755), 0);
    OK(JetBackupInstance(inst, bd, JET_bitBackupAtomic, NULL)); /* old: 50 records */
    put_n(100, 20);                                              /* new: 70 */
    crash_thread = pthread_self();
    crash_src = bk;
    crash_dst = imgs;
    crash_images = 0;
    crash_last.buf = NULL;
    crash_no_exchange = no_exchange;
    eng_io_set_fault_hook(crash_hook, NULL);
    JET_ERR err = JetBackupInstance(inst, bd, JET_bitBackupAtomic, NULL);
    eng_io_set_fault_hook(NULL, NULL);
    free(crash_last.buf);
    OK(err);
    ck_assert_int_eq(crash_no_exchange, no_exchange ? 2 : 0);
    ck_assert_int_ge(crash_images, 4);
    OK(JetTerm(inst));
    inst = 0;
    /* Each image restores the old backup or the new one, whole, never a mix or nothing. */
    int olds = 0, news = 0;
    for (int i = 0; i < crash_images; i++) {
        char name[32];
        snprintf(name, sizeof name, "img%03d/bd", i);
        char *img = tu_path(imgs, name);
        unlink(dbp);
        JET_ERR r = JetRestoreInstance(JET_instanceNil, img, NULL, NULL);
        ck_assert_msg(r == JET_errSuccess, "crash image %d does not restore: %d", i, (int)r);
        int n = count_keys(dbp);
        ck_assert_msg(n == 50 || n == 70, "crash image %d restores %d records", i, n);
        olds += n == 50;
        news += n == 70;
        free(img);
    }
    ck_assert_int_gt(olds, 0);
    ck_assert_int_gt(news, 0);
    free(imgs);
    free(bd);
    free(bk);
}

START_TEST(crash_during_atomic_swap_leaves_a_whole_backup)
{
    crash_during_swap(0);
}
END_TEST

START_TEST(crash_during_swap_without_exchange_leaves_a_whole_backup)
{
    crash_during_swap(1);
}
END_TEST

static int fail_rename_hook(void *ctx, enum eng_io_op op, int fd, const char *path, uint64_t off, size_t len)
{
    (void)ctx, (void)fd, (void)off, (void)len;
    return op == ENG_IO_RENAME && strstr(path, "jetsnap-tmp") ? -EIO : 0;
}

START_TEST(failed_swap_keeps_the_previous_backup_and_the_logs)
{
    char *bk = tu_path(dir, "bk"), *bd = tu_path(bk, "bd");
    ck_assert_int_eq(mkdir(bk, 0755), 0);
    OK(JetBackupInstance(inst, bd, JET_bitBackupAtomic, NULL));
    put_n(100, 20);
    snap s = take_snap(bk);
    int logs = nlogs_on_disk();
    eng_io_set_fault_hook(fail_rename_hook, NULL);
    ck_assert_int_eq(JetBackupInstance(inst, bd, JET_bitBackupAtomic, NULL), JET_errDiskIO);
    eng_io_set_fault_hook(NULL, NULL);
    assert_untouched(s, bk); /* the previous backup as it was, no staging left */
    ck_assert_int_ge(nlogs_on_disk(), logs); /* nothing truncated for a backup that is not there */
    /* The one after that works. */
    OK(JetBackupInstance(inst, bd, JET_bitBackupAtomic, NULL));
    free(bd);
    free(bk);
}
END_TEST

START_TEST(interrupted_swap_is_recovered_by_the_next_backup)
{
    /* What a cut between the two renames of a swap without exchange leaves: no bd, the previous
     * backup as .bd.jetsnap-old, and a new one in .bd.jetsnap-tmp. */
    char *bk = tu_path(dir, "bk"), *bd = tu_path(bk, "bd");
    char *old = tu_path(bk, ".bd.jetsnap-old"), *tmp = tu_path(bk, ".bd.jetsnap-tmp");
    ck_assert_int_eq(mkdir(bk, 0755), 0);
    OK(JetBackupInstance(inst, bd, JET_bitBackupAtomic, NULL));
    ck_assert_int_eq(rename(bd, old), 0);
    ck_assert_int_eq(mkdir(tmp, 0755), 0);
    write_file(tmp, ".jetsnap-backup", "jetsnap backup 1\na.edb\n");
    write_file(tmp, "a.edb", "half a stream");
    /* An incremental finds the previous backup back in place and adds to it. */
    put_n(100, 20);
    OK(JetBackupInstance(inst, bd, JET_bitBackupIncremental, NULL));
    ck_assert_int_eq(access(old, F_OK), -1);
    ck_assert_int_eq(access(tmp, F_OK), -1);
    OK(JetTerm(inst));
    inst = 0;
    ck_assert_int_eq(unlink(dbp), 0);
    OK(JetRestoreInstance(JET_instanceNil, bd, NULL, NULL));
    int n;
    int *want = range_keys(&n, 0, 50, 100, 120);
    expect_keys(dbp, want, n);
    free(want);
    free(old);
    free(tmp);
    free(bd);
    free(bk);
}
END_TEST

START_TEST(staging_directory_of_a_running_backup_is_left_alone)
{
    /* Another process building its atomic backup into the same directory holds the staging
     * directory's lock: a second backup does not delete what it builds. */
    char *bk = tu_path(dir, "bk"), *bd = tu_path(bk, "bd"), *tmp = tu_path(bk, ".bd.jetsnap-tmp");
    ck_assert_int_eq(mkdir(bk, 0755), 0);
    ck_assert_int_eq(mkdir(tmp, 0755), 0);
    write_file(tmp, ".jetsnap-backup", "jetsnap backup 1\na.edb\n");
    write_file(tmp, "a.edb", "being written");
    int fd = open(tmp, O_RDONLY | O_DIRECTORY);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(flock(fd, LOCK_EX), 0);
    snap s = take_snap(bk);
    ck_assert_int_eq(JetBackupInstance(inst, bd, JET_bitBackupAtomic, NULL), JET_errBackupInProgress);
    ck_assert_int_eq(JetBackupInstance(inst, bd, 0, NULL), JET_errBackupInProgress);
    assert_untouched(s, bk);
    /* Once that one is gone (crashed), its leftovers go. */
    close(fd);
    OK(JetBackupInstance(inst, bd, JET_bitBackupAtomic, NULL));
    ck_assert_int_eq(access(tmp, F_OK), -1);
    free(tmp);
    free(bd);
    free(bk);
}
END_TEST

/* ---------------------------------------------------------------------------------------------
 * A restore that fails must leave the live files alone (issue 9, items 4, 9 and 11): every
 * damaged or incomplete backup is refused before anything is written where a database lives,
 * the instance still starts with all its data, and a restore that succeeds makes its result
 * durable. */

/* Every regular file of a directory, with its size and checksum. */
struct live {
    int n;
    char name[64][256];
    int64_t size[64];
    uint32_t crc[64];
};

static void live_files(const char *d, struct live *l)
{
    memset(l, 0, sizeof *l);
    DIR *dd = opendir(d);
    ck_assert_ptr_nonnull(dd);
    struct dirent *e;
    uint8_t *buf = malloc(1 << 16);
    while ((e = readdir(dd))) {
        char *p = tu_path(d, e->d_name);
        struct stat st;
        if (stat(p, &st) == 0 && S_ISREG(st.st_mode)) {
            ck_assert_int_lt(l->n, 64);
            snprintf(l->name[l->n], sizeof l->name[0], "%s", e->d_name);
            l->size[l->n] = st.st_size;
            int fd = open(p, O_RDONLY);
            ck_assert_int_ge(fd, 0);
            uint32_t crc = 0;
            ssize_t got;
            while ((got = read(fd, buf, 1 << 16)) > 0)
                crc = eng_crc32c(crc, buf, (size_t)got);
            close(fd);
            l->crc[l->n++] = crc;
        }
        free(p);
    }
    free(buf);
    closedir(dd);
}

/* The files of d are exactly those of before, byte for byte (and no file was left behind). */
static void assert_unchanged(const char *d, const struct live *before)
{
    struct live *now = malloc(sizeof *now);
    live_files(d, now);
    for (int i = 0; i < now->n; i++) {
        int j = 0;
        while (j < before->n && strcmp(before->name[j], now->name[i]))
            j++;
        ck_assert_msg(j < before->n, "%s appeared in %s", now->name[i], d);
        ck_assert_msg(now->size[i] == before->size[j] && now->crc[i] == before->crc[j], "%s changed", now->name[i]);
    }
    ck_assert_int_eq(now->n, before->n);
    free(now);
}

static void put_in(JET_SESID s, JET_TABLEID t, int from, int n)
{
    for (int i = from; i < from + n; i++) {
        char k[32], v[200];
        snprintf(k, sizeof k, "key%08d", i);
        memset(v, 'a' + i % 26, sizeof v);
        OK(JetBeginTransaction(s));
        OK(JetPutRecord(s, t, k, (unsigned long)strlen(k), v, sizeof v, 0));
        OK(JetCommitTransaction(s, 0));
    }
}

/* The keys the live a.edb holds after spanning_backup: 0..49 and 100..1299 (in the backup) and
 * 5000..5019 (only in the live files). */
static int *live_keys(int *n)
{
    int *k = range_keys(n, 0, 50, 100, 1300);
    k = realloc(k, sizeof(int) * (size_t)(*n + 20));
    for (int i = 5000; i < 5020; i++)
        k[(*n)++] = i;
    return k;
}

/* A backup directory as JetBackupInstance lays it out (each stream under its file name, the logs
 * as edbXXXXX.log), taken while transactions commit so its logs span several generations; then
 * commits that only the live files hold. With b, b.edb is in it too. The instance is stopped
 * afterwards: its files are what a failed restore must not touch. */
static char *spanning_backup(JET_LOGINFO *li, bool b)
{
    if (b) {
        JET_DBID d2;
        JET_TABLEID t2;
        OK(JetCreateDatabase(ses, dbp2, NULL, &d2, 0));
        OK(JetCreateTable(ses, d2, "t", 0, 0, &t2));
        put_in(ses, t2, 0, 30);
        OK(JetCloseTable(ses, t2));
    }
    char *bd = tu_path(dir, "bdir");
    ck_assert_int_eq(mkdir(bd, 0755), 0);
    OK(JetBeginExternalBackupInstance(inst, 0));
    copy_databases(bd);
    put_n(100, 1200);
    copy_logs(bd, li);
    OK(JetTruncateLogInstance(inst));
    OK(JetEndExternalBackupInstance(inst));
    ck_assert_int_ge(li->ulGenHigh, li->ulGenLow + 2);
    put_n(5000, 20);
    OK(JetTerm(inst));
    inst = 0;
    return bd;
}

/* Start the instance again on its own files: a.edb holds exactly want. */
static void restart_and_expect(const int *want, int nwant)
{
    start(0);
    OK(JetAttachDatabase(ses, dbp, 0));
    OK(JetOpenDatabase(ses, dbp, NULL, &dbid, 0));
    OK(JetOpenTable(ses, dbid, "t", NULL, 0, 0, &tab));
    int n = 0;
    JET_ERR e = JetMove(ses, tab, JET_MoveFirst, 0);
    while (e == JET_errSuccess) {
        char k[32];
        unsigned long kl;
        OK(JetRetrieveKey(ses, tab, k, sizeof k - 1, &kl, 0));
        k[kl] = 0;
        ck_assert_msg(n < nwant && want[n] == atoi(k + 3), "key %s not expected at position %d", k, n);
        n++;
        e = JetMove(ses, tab, JET_MoveNext, 0);
    }
    ck_assert_int_eq(e, JET_errNoCurrentRecord);
    ck_assert_int_eq(n, nwant);
    OK(JetTerm(inst));
    inst = 0;
}

static char *log_name(const char *d, unsigned long gen)
{
    char name[32];
    snprintf(name, sizeof name, "edb%05lX.log", gen);
    return tu_path(d, name);
}

/* Restore bd expecting want_err; the instance's directory must be untouched, and the instance
 * must start with all its data. */
static void restore_refused(const char *bd, JET_ERR want_err)
{
    struct live *before = malloc(sizeof *before);
    live_files(dir, before);
    ck_assert_int_eq(JetRestoreInstance(JET_instanceNil, bd, NULL, NULL), want_err);
    assert_unchanged(dir, before);
    free(before);
    int n;
    int *want = live_keys(&n);
    restart_and_expect(want, n);
    free(want);
}

/* After the damage is repaired, the backup restores: a.edb holds what the backup had. */
static void restores_after_all(const char *bd)
{
    OK(JetRestoreInstance(JET_instanceNil, bd, NULL, NULL));
    int n;
    int *want = range_keys(&n, 0, 50, 100, 1300);
    expect_keys(dbp, want, n);
    free(want);
    char *tmp = tu_path(dir, "a.edb.restoring");
    ck_assert_int_ne(access(tmp, F_OK), 0);
    free(tmp);
}

START_TEST(restore_with_a_log_missing_changes_nothing)
{
    JET_LOGINFO li = {sizeof li, 0, 0, ""};
    char *bd = spanning_backup(&li, false);
    char *mid = log_name(bd, li.ulGenLow + 1), *aside = tu_path(dir, "aside");
    ck_assert_int_eq(rename(mid, aside), 0);
    restore_refused(bd, JET_errMissingRestoreLogFiles);
    ck_assert_int_eq(rename(aside, mid), 0);
    restores_after_all(bd);
    free(mid);
    free(aside);
    free(bd);
}
END_TEST

START_TEST(restore_with_a_truncated_log_changes_nothing)
{
    JET_LOGINFO li = {sizeof li, 0, 0, ""};
    char *bd = spanning_backup(&li, false);
    char *mid = log_name(bd, li.ulGenLow + 1), *aside = tu_path(dir, "aside");
    char cmd[16384];
    snprintf(cmd, sizeof cmd, "cp %s %s && truncate -s 40000 %s", mid, aside, mid);
    ck_assert_int_eq(system(cmd), 0);
    restore_refused(bd, JET_errLogFileCorrupt);
    ck_assert_int_eq(rename(aside, mid), 0);
    restores_after_all(bd);
    free(mid);
    free(aside);
    free(bd);
}
END_TEST

START_TEST(restore_with_a_foreign_log_changes_nothing)
{
    JET_LOGINFO li = {sizeof li, 0, 0, ""};
    char *bd = spanning_backup(&li, false);
    /* Another instance, with its own log set, writes until it has the same generation. */
    char *od = tu_path(dir, "other"), *odb = tu_path(od, "o.edb");
    ck_assert_int_eq(mkdir(od, 0755), 0);
    JET_INSTANCE o;
    JET_SESID s;
    JET_DBID d;
    JET_TABLEID t;
    OK(JetCreateInstance(&o, "other"));
    OK(JetSetSystemParameter(&o, 0, JET_paramSystemPath, 0, od));
    OK(JetSetSystemParameter(&o, 0, JET_paramLogFilePath, 0, od));
    OK(JetSetSystemParameter(&o, 0, JET_paramLogFileSize, 128, NULL));
    OK(JetInit(&o));
    OK(JetBeginSession(o, &s, NULL, NULL));
    OK(JetCreateDatabase(s, odb, NULL, &d, 0));
    OK(JetCreateTable(s, d, "t", 0, 0, &t));
    char *theirs = log_name(od, li.ulGenLow + 1), *mine = log_name(bd, li.ulGenLow + 1);
    for (int i = 0; access(theirs, F_OK) != 0; i += 50) {
        ck_assert_int_lt(i, 100000);
        put_in(s, t, i, 50);
    }
    OK(JetTerm(o));
    char *aside = tu_path(dir, "aside");
    ck_assert_int_eq(rename(mine, aside), 0);
    char cmd[16384];
    snprintf(cmd, sizeof cmd, "cp %s %s", theirs, mine);
    ck_assert_int_eq(system(cmd), 0);
    memset(events, 0, sizeof events);
    restore_refused(bd, JET_errInvalidLogSequence);
    ck_assert_int_ge(events[910], 1); /* names the generation */
    ck_assert_int_eq(rename(aside, mine), 0);
    restores_after_all(bd);
    free(theirs);
    free(mine);
    free(aside);
    free(odb);
    free(od);
    free(bd);
}
END_TEST

START_TEST(restore_with_a_truncated_stream_changes_nothing)
{
    JET_LOGINFO li = {sizeof li, 0, 0, ""};
    char *bd = spanning_backup(&li, false);
    char *stream = tu_path(bd, "a.edb"), *aside = tu_path(dir, "aside");
    struct stat st;
    ck_assert_int_eq(stat(stream, &st), 0);
    char cmd[16384];
    /* Cut at a page boundary (the trailer is gone), in the middle of a page, and just after
     * the header. */
    long long cuts[3] = {(long long)st.st_size - PS, (long long)st.st_size / 2 + 100, 3 * PS};
    for (int i = 0; i < 3; i++) {
        snprintf(cmd, sizeof cmd, "cp %s %s && truncate -s %lld %s", stream, aside, cuts[i], stream);
        ck_assert_int_eq(system(cmd), 0);
        memset(events, 0, sizeof events);
        restore_refused(bd, JET_errDatabaseCorrupted);
        ck_assert_int_ge(events[909], 1); /* names the stream */
        ck_assert_int_eq(rename(aside, stream), 0);
    }
    /* A damaged page in the middle of a whole stream. */
    snprintf(cmd, sizeof cmd, "cp %s %s", stream, aside);
    ck_assert_int_eq(system(cmd), 0);
    int fd = open(stream, O_RDWR);
    char c;
    ck_assert_int_eq(pread(fd, &c, 1, 4 * PS + 100), 1);
    c ^= 0x10;
    ck_assert_int_eq(pwrite(fd, &c, 1, 4 * PS + 100), 1);
    close(fd);
    restore_refused(bd, JET_errReadVerifyFailure);
    ck_assert_int_eq(rename(aside, stream), 0);
    restores_after_all(bd);
    free(stream);
    free(aside);
    free(bd);
}
END_TEST

/* Writes to files whose path contains match fail once `budget` bytes have gone to them (the
 * write that crosses the budget writes its prefix, then fails: a disk that filled up). */
struct fill_ctx {
    const char *match;
    long long budget;
    long long used;
};

static int fill_hook(void *ctx, enum eng_io_op op, int fd, const char *path, uint64_t off, size_t len)
{
    (void)off;
    struct fill_ctx *f = ctx;
    char p[4096];
    if (op != ENG_IO_WRITE || tu_hook_path(fd, path, p, sizeof p) || !strstr(p, f->match))
        return 0;
    long long room = f->budget - f->used;
    if (room <= 0)
        return -ENOSPC;
    f->used += (long long)len;
    return (long long)len > room ? (int)room : 0;
}

START_TEST(restore_of_a_backup_cut_by_a_full_disk_changes_nothing)
{
    /* JetBackupInstance writes the stream, then the logs: the disk fills in the stream, and
     * (second backup) in the first log. */
    JET_LOGINFO li = {sizeof li, 0, 0, ""};
    char *bd = spanning_backup(&li, false);
    /* How long the stream is: from a backup that the disk had room for. */
    start(0);
    OK(JetAttachDatabase(ses, dbp, 0));
    char *whole = tu_path(dir, "whole"), *stream = tu_path(whole, "a.edb");
    OK(JetBackupInstance(inst, whole, 0, NULL));
    struct stat st;
    ck_assert_int_eq(stat(stream, &st), 0);
    OK(JetTerm(inst));
    inst = 0;
    long long budgets[2] = {(long long)st.st_size / 2, (long long)st.st_size + 40000};
    JET_ERR want[2] = {JET_errDatabaseCorrupted, JET_errLogFileCorrupt};
    char *cut = tu_path(dir, "cut");
    for (int i = 0; i < 2; i++) {
        start(0);
        OK(JetAttachDatabase(ses, dbp, 0));
        struct fill_ctx f = {"/cut/", budgets[i], 0};
        eng_io_set_fault_hook(fill_hook, &f);
        JET_ERR e = JetBackupInstance(inst, cut, 0, NULL);
        eng_io_set_fault_hook(NULL, NULL);
        ck_assert_msg(e == JET_errDiskFull || e == JET_errDiskIO, "backup gave %ld", e);
        OK(JetTerm(inst));
        inst = 0;
        restore_refused(cut, want[i]);
        tu_rmtree(cut);
    }
    free(cut);
    free(stream);
    free(whole);
    free(bd);
}
END_TEST

/* Fail the n-th operation op on a path (or fd) that contains match. */
struct nth_ctx {
    enum eng_io_op op;
    const char *match;
    int n, seen, err;
};

static int nth_hook(void *ctx, enum eng_io_op op, int fd, const char *path, uint64_t off, size_t len)
{
    (void)off, (void)len;
    struct nth_ctx *c = ctx;
    char p[4096];
    if (op != c->op || tu_hook_path(fd, path, p, sizeof p) || !strstr(p, c->match))
        return 0;
    return ++c->seen == c->n ? c->err : 0;
}

START_TEST(restore_failing_late_leaves_no_half_written_database)
{
    JET_LOGINFO li = {sizeof li, 0, 0, ""};
    char *bd = spanning_backup(&li, true);
    /* Both databases are put back by one restore: the second one fails to be put in place, or
     * to be written, after the first is done. Neither may have changed. */
    struct nth_ctx cases[3] = {{ENG_IO_RENAME, ".restoring", 2, 0, -EIO},
                               {ENG_IO_WRITE, ".restoring", 2, 0, -ENOSPC},
                               {ENG_IO_SYNC, ".restoring", 2, 0, -EIO}};
    JET_ERR want[3] = {JET_errDiskIO, JET_errDiskFull, JET_errDiskIO};
    for (int i = 0; i < 3; i++) {
        struct live *before = malloc(sizeof *before);
        live_files(dir, before);
        eng_io_set_fault_hook(nth_hook, &cases[i]);
        JET_ERR e = JetRestoreInstance(JET_instanceNil, bd, NULL, NULL);
        eng_io_set_fault_hook(NULL, NULL);
        ck_assert_int_ge(cases[i].seen, 2);
        ck_assert_int_eq(e, want[i]);
        assert_unchanged(dir, before);
        free(before);
    }
    int n;
    int *keys = live_keys(&n);
    restart_and_expect(keys, n);
    free(keys);
    restores_after_all(bd);
    free(bd);
}
END_TEST

/* Records the order of renames and directory syncs under one directory. */
struct order_ctx {
    const char *dir;
    int last_rename, last_dirsync, seq;
};

static int order_hook(void *ctx, enum eng_io_op op, int fd, const char *path, uint64_t off, size_t len)
{
    (void)fd, (void)off, (void)len;
    struct order_ctx *c = ctx;
    if (!path)
        return 0;
    size_t dl = strlen(c->dir);
    if (op == ENG_IO_RENAME && !strncmp(path, c->dir, dl) && strstr(path, ".restoring"))
        c->last_rename = ++c->seq;
    else if (op == ENG_IO_SYNC && !strcmp(path, c->dir))
        c->last_dirsync = ++c->seq;
    return 0;
}

/* Fail the sync of one directory (eng_io_fsync_dir). */
static int dirsync_hook(void *ctx, enum eng_io_op op, int fd, const char *path, uint64_t off, size_t len)
{
    (void)fd, (void)off, (void)len;
    return op == ENG_IO_SYNC && path && !strcmp(path, (const char *)ctx) ? -EIO : 0;
}

START_TEST(restore_whose_rename_cannot_be_made_durable_changes_nothing)
{
    JET_LOGINFO li = {sizeof li, 0, 0, ""};
    char *bd = spanning_backup(&li, false);
    struct live *before = malloc(sizeof *before);
    live_files(dir, before);
    eng_io_set_fault_hook(dirsync_hook, dir);
    JET_ERR e = JetRestoreInstance(JET_instanceNil, bd, NULL, NULL);
    eng_io_set_fault_hook(NULL, NULL);
    ck_assert_int_eq(e, JET_errDiskIO);
    assert_unchanged(dir, before);
    free(before);
    int n;
    int *keys = live_keys(&n);
    restart_and_expect(keys, n);
    free(keys);
    restores_after_all(bd);
    free(bd);
}
END_TEST

START_TEST(restored_database_is_durably_in_place)
{
    JET_LOGINFO li = {sizeof li, 0, 0, ""};
    char *bd = spanning_backup(&li, false);
    struct order_ctx c = {dir, 0, 0, 0};
    eng_io_set_fault_hook(order_hook, &c);
    JET_ERR e = JetRestoreInstance(JET_instanceNil, bd, NULL, NULL);
    eng_io_set_fault_hook(NULL, NULL);
    OK(e);
    ck_assert_int_gt(c.last_rename, 0);
    ck_assert_int_gt(c.last_dirsync, c.last_rename); /* the rename itself is made durable */
    int n;
    int *want = range_keys(&n, 0, 50, 100, 1300);
    expect_keys(dbp, want, n);
    free(want);
    free(bd);
}
END_TEST

START_TEST(external_restore_of_a_damaged_stream_leaves_it_as_it_was)
{
    JET_LOGINFO li = {sizeof li, 0, 0, ""};
    char *bd = spanning_backup(&li, false);
    char *stream = tu_path(bd, "a.edb");
    int fd = open(stream, O_RDWR);
    char c;
    ck_assert_int_eq(pread(fd, &c, 1, 5 * PS + 100), 1);
    c ^= 0x10;
    ck_assert_int_eq(pwrite(fd, &c, 1, 5 * PS + 100), 1);
    close(fd);
    struct live *before = malloc(sizeof *before);
    live_files(bd, before);
    JET_RSTMAP map = {dbp, stream};
    ck_assert_int_eq(JetExternalRestore(NULL, NULL, &map, 1, bd, (long)li.ulGenLow, (long)li.ulGenHigh, NULL),
                     JET_errReadVerifyFailure);
    assert_unchanged(bd, before);
    free(before);
    free(stream);
    free(bd);
}
END_TEST

START_TEST(external_restore_with_damaged_later_logs_leaves_the_stream_as_it_was)
{
    JET_LOGINFO li = {sizeof li, 0, 0, ""};
    char *bd = spanning_backup(&li, false);
    /* Later logs of the same set to roll forward through, one of them damaged before the last. */
    start(0);
    OK(JetAttachDatabase(ses, dbp, 0));
    OK(JetOpenDatabase(ses, dbp, NULL, &dbid, 0));
    OK(JetOpenTable(ses, dbid, "t", NULL, 0, 0, &tab));
    put_n(6000, 1200);
    OK(JetTerm(inst));
    inst = 0;
    char *fwd = tu_path(dir, "fwd"), *stream = tu_path(bd, "a.edb");
    char cmd[16384];
    snprintf(cmd, sizeof cmd, "mkdir %s && cp %s/edb*.log %s/", fwd, dir, fwd);
    ck_assert_int_eq(system(cmd), 0);
    char *later = log_name(fwd, li.ulGenHigh + 1), *next = log_name(fwd, li.ulGenHigh + 2);
    ck_assert_int_eq(access(later, F_OK), 0);
    ck_assert_int_eq(access(next, F_OK), 0);
    int fd = open(later, O_RDWR);
    char c;
    ck_assert_int_eq(pread(fd, &c, 1, 4096 + 100), 1);
    c ^= 0x20;
    ck_assert_int_eq(pwrite(fd, &c, 1, 4096 + 100), 1);
    struct live *before = malloc(sizeof *before);
    live_files(bd, before);
    JET_RSTMAP map = {dbp, stream};
    memset(events, 0, sizeof events);
    ck_assert_int_eq(JetExternalRestore(NULL, fwd, &map, 1, bd, (long)li.ulGenLow, (long)li.ulGenHigh, NULL),
                     JET_errLogFileCorrupt);
    assert_unchanged(bd, before);
    ck_assert_int_ge(events[910], 1); /* names the generation */
    free(before);
    /* Repaired, the same restore rolls forward to the last commit. */
    c ^= 0x20;
    ck_assert_int_eq(pwrite(fd, &c, 1, 4096 + 100), 1);
    close(fd);
    OK(JetExternalRestore(NULL, fwd, &map, 1, bd, (long)li.ulGenLow, (long)li.ulGenHigh, NULL));
    int n;
    int *want = live_keys(&n);
    want = realloc(want, sizeof(int) * (size_t)(n + 1200));
    for (int i = 6000; i < 7200; i++)
        want[n++] = i;
    expect_keys(stream, want, n);
    free(want);
    free(later);
    free(next);
    free(stream);
    free(fwd);
    free(bd);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("backup");
    TCase *tc = tcase_create("sequence");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, full_backup_sequence_and_header_stamp);
    tcase_add_test(tc, untruncated_full_is_a_copy_unless_truncate_done);
    tcase_add_test(tc, incremental_and_differential);
    tcase_add_test(tc, no_backup_errors);
    tcase_add_test(tc, begin_errors);
    tcase_add_test(tc, legacy_forms_follow_the_mode);
    tcase_add_test(tc, open_file_rules);
    tcase_add_test(tc, read_file_rules);
    tcase_add_test(tc, end_grbits_and_truth);
    tcase_add_test(tc, stop_backup_aborts_by_server);
    tcase_add_test(tc, term_and_backup);
    tcase_add_test(tc, truncation_keeps_what_recovery_needs);
    tcase_add_test(tc, missing_and_damaged_logs_cancel_the_backup);
    tcase_add_test(tc, damaged_database_page_fails_only_that_database);
    tcase_add_test(tc, database_file_info_errors);
    tcase_add_test(tc, restore_full_backup);
    tcase_add_test(tc, restore_without_map_uses_original_paths);
    tcase_add_test(tc, restore_incremental_chain_and_differential);
    tcase_add_test(tc, restore_errors);
    tcase_add_test(tc, restore_refused_in_one_instance_mode);
    tcase_add_test(tc, truncate_up_to_after_truncate_done);
    tcase_add_test(tc, truncate_up_to_stops_at_the_checkpoint);
    tcase_add_test(tc, truncate_up_to_refusals);
    tcase_add_test(tc, checksum_stream_of_a_real_backup);
    tcase_add_test(tc, checksum_stream_catches_every_flipped_byte);
    tcase_add_test(tc, checksum_stream_refuses_a_cut_or_run_on_stream);
    tcase_add_test(tc, checksum_stream_argument_errors);
    tcase_add_test(tc, restore_until_a_time_in_a_pause);
    tcase_add_test(tc, restore_until_a_generation);
    tcase_add_test(tc, restore_until_too_early_is_refused_untouched);
    tcase_add_test(tc, backup_to_directory_and_restore_instance);
    tcase_add_test(tc, atomic_backup_replaces_the_previous_one);
    tcase_add_test(tc, database_left_out_keeps_its_logs);
    tcase_add_test(tc, backup_calls_racing_init_and_term);
    tcase_add_test(tc, restore_in_progress);
    suite_add_tcase(s, tc);
    TCase *tcc = tcase_create("circular");
    tcase_add_checked_fixture(tcc, setup_circular, teardown);
    tcase_set_timeout(tcc, 120);
    tcase_add_test(tcc, incremental_with_circular_logging_is_invalid);
    tcase_add_test(tcc, truncate_up_to_with_circular_logging_does_nothing);
    suite_add_tcase(s, tcc);
    TCase *tca = tcase_create("atomic-dir");
    tcase_add_checked_fixture(tca, setup, teardown);
    tcase_set_timeout(tca, 120);
    tcase_add_test(tca, atomic_backup_refuses_an_instance_s_live_directories);
    tcase_add_test(tca, atomic_backup_refuses_a_user_directory);
    tcase_add_test(tca, atomic_backup_follows_no_symbolic_link);
    tcase_add_test(tca, atomic_backup_over_every_earlier_backup);
    tcase_add_test(tca, crash_during_atomic_swap_leaves_a_whole_backup);
    tcase_add_test(tca, crash_during_swap_without_exchange_leaves_a_whole_backup);
    tcase_add_test(tca, failed_swap_keeps_the_previous_backup_and_the_logs);
    tcase_add_test(tca, interrupted_swap_is_recovered_by_the_next_backup);
    tcase_add_test(tca, staging_directory_of_a_running_backup_is_left_alone);
    suite_add_tcase(s, tca);
    TCase *tcr = tcase_create("restore-safety");
    tcase_add_checked_fixture(tcr, setup, teardown);
    tcase_set_timeout(tcr, 240);
    tcase_add_test(tcr, restore_with_a_log_missing_changes_nothing);
    tcase_add_test(tcr, restore_with_a_truncated_log_changes_nothing);
    tcase_add_test(tcr, restore_with_a_foreign_log_changes_nothing);
    tcase_add_test(tcr, restore_with_a_truncated_stream_changes_nothing);
    tcase_add_test(tcr, restore_of_a_backup_cut_by_a_full_disk_changes_nothing);
    tcase_add_test(tcr, restore_failing_late_leaves_no_half_written_database);
    tcase_add_test(tcr, restored_database_is_durably_in_place);
    tcase_add_test(tcr, restore_whose_rename_cannot_be_made_durable_changes_nothing);
    tcase_add_test(tcr, external_restore_of_a_damaged_stream_leaves_it_as_it_was);
    tcase_add_test(tcr, external_restore_with_damaged_later_logs_leaves_the_stream_as_it_was);
    suite_add_tcase(s, tcr);
    return s;
}

TU_CHECK_MAIN(suite)
