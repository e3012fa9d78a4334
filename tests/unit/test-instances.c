/*
 * test-instances.c — the process-wide instance table and ESE's instance-mode rules
 * (docs/jet-semantics.md, “Instance modes”), one test per rule, each of which fails if the rule is
 * broken: legacy one-instance mode vs multi-instance mode and their errors, the mode reset, names,
 * the instance limit, shared paths, JetEnableMultiInstance, JetGetInstanceInfo, JetStopService*,
 * JetTerm2's grbits, TermInProgress for a call racing a term, and InstanceUnavailable confined to
 * the instance that failed. Check runs every test in its own process, so each starts with no mode.
 */
#include <check.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "io-int.h"
#include "jet.h"
#include "iohooks.h"
#include "testutil.h"


static char *root;

static void setup(void) { root = tu_mkdtemp("inst"); }

static void teardown(void)
{
    eng_io_set_fault_hook(NULL, NULL);
    tu_rmtree(root);
    free(root);
}

/* A fresh directory root/<name>; returns a static-lifetime string owned by the caller. */
static char *subdir(const char *name)
{
    char *p = tu_path(root, name);
    ck_assert_int_eq(mkdir(p, 0755), 0);
    return p;
}

/* Create (not init) an instance whose system and log paths are a new directory root/<name>. */
static JET_INSTANCE create_in(const char *name)
{
    JET_INSTANCE inst = 0;
    OK(JetCreateInstance(&inst, name));
    char *d = subdir(name);
    OK(JetSetSystemParameter(&inst, 0, JET_paramSystemPath, 0, d));
    OK(JetSetSystemParameter(&inst, 0, JET_paramLogFilePath, 0, d));
    OK(JetSetSystemParameter(&inst, 0, JET_paramLogFileSize, 128, NULL));
    free(d);
    return inst;
}

static JET_INSTANCE start(const char *name)
{
    JET_INSTANCE inst = create_in(name);
    OK(JetInit(&inst));
    return inst;
}

/* Point the process defaults at root/<name>, for the legacy and &nil forms of JetInit. */
static void defaults_in(const char *name)
{
    char *d = subdir(name);
    OK(JetSetSystemParameter(NULL, 0, JET_paramSystemPath, 0, d));
    OK(JetSetSystemParameter(NULL, 0, JET_paramLogFilePath, 0, d));
    OK(JetSetSystemParameter(NULL, 0, JET_paramLogFileSize, 128, NULL));
    free(d);
}

/* A database with one table and one committed record; returns the session. */
static JET_SESID with_db(JET_INSTANCE inst, const char *file, JET_TABLEID *ptab)
{
    JET_SESID s;
    JET_DBID db;
    JET_TABLEID t;
    char *p = tu_path(root, file);
    OK(JetBeginSession(inst, &s, NULL, NULL));
    OK(JetCreateDatabase(s, p, NULL, &db, 0));
    OK(JetCreateTable(s, db, "t", 0, 0, &t));
    OK(JetBeginTransaction(s));
    OK(JetPutRecord(s, t, "k", 1, "v", 1, 0));
    OK(JetCommitTransaction(s, 0));
    free(p);
    if (ptab)
        *ptab = t;
    return s;
}

START_TEST(legacy_mode_selected_by_jetinit_null)
{
    defaults_in("legacy");
    OK(JetInit(NULL));
    JET_INSTANCE x = 0;
    ck_assert_int_eq(JetCreateInstance(&x, "x"), JET_errRunningInOneInstanceMode);
    ck_assert_int_eq(JetCreateInstance2(&x, "x", "X", 0), JET_errRunningInOneInstanceMode);
    JET_SETSYSPARAM sp = {JET_paramMaxInstances, 4, NULL, 0};
    ck_assert_int_eq(JetEnableMultiInstance(&sp, 1, NULL), JET_errRunningInOneInstanceMode);
    ck_assert_int_eq(JetInit(NULL), JET_errAlreadyInitialized);
    JET_INSTANCE nil = JET_instanceNil;
    ck_assert_int_eq(JetInit(&nil), JET_errAlreadyInitialized);
    /* Instance arguments are ignored: whatever is passed, the one instance is used. */
    JET_SESID s;
    OK(JetBeginSession(12345, &s, NULL, NULL));
    OK(JetEndSession(s, 0));
    OK(JetTerm(0));
}
END_TEST

START_TEST(legacy_mode_selected_by_jetinit_nil)
{
    defaults_in("legacy");
    JET_INSTANCE inst = JET_instanceNil;
    OK(JetInit(&inst));
    ck_assert(inst != 0 && inst != JET_instanceNil);
    JET_INSTANCE x;
    ck_assert_int_eq(JetCreateInstance(&x, "x"), JET_errRunningInOneInstanceMode);
    OK(JetTerm(inst));
}
END_TEST

START_TEST(multi_mode_refuses_legacy_calls)
{
    JET_INSTANCE a = start("a");
    ck_assert_int_eq(JetInit(NULL), JET_errRunningInMultiInstanceMode);
    ck_assert_int_eq(JetStopService(), JET_errRunningInMultiInstanceMode);
    /* The refused calls changed nothing: the instance still works. */
    JET_SESID s;
    OK(JetBeginSession(a, &s, NULL, NULL));
    OK(JetEndSession(s, 0));
    OK(JetTerm(a));
}
END_TEST

START_TEST(multi_mode_jetinit_nil_allocates_unnamed)
{
    JET_INSTANCE a = start("a");
    defaults_in("unnamed");
    JET_INSTANCE u = JET_instanceNil;
    OK(JetInit(&u));
    ck_assert(u != a && u != 0 && u != JET_instanceNil);
    /* Only one unnamed instance may exist. */
    JET_INSTANCE u2;
    ck_assert_int_eq(JetCreateInstance(&u2, NULL), JET_errInstanceNameInUse);
    OK(JetTerm(u));
    OK(JetTerm(a));
}
END_TEST

START_TEST(no_mode_legacy_calls_invalid_parameter)
{
    ck_assert_int_eq(JetStopService(), JET_errInvalidParameter);
    /* ...and they do not select a mode: multi-instance mode is still available. */
    JET_INSTANCE a;
    OK(JetCreateInstance(&a, "a"));
    OK(JetTerm(a));
}
END_TEST

START_TEST(mode_resets_when_last_instance_ends)
{
    JET_INSTANCE a = start("a"), b = create_in("b");
    OK(JetTerm(a));
    /* b (created, never initialized) still holds multi-instance mode. */
    ck_assert_int_eq(JetInit(NULL), JET_errRunningInMultiInstanceMode);
    OK(JetTerm(b));
    defaults_in("legacy");
    OK(JetInit(NULL));
    OK(JetTerm(0));
    /* And back again. */
    JET_INSTANCE c;
    OK(JetCreateInstance(&c, "c"));
    OK(JetTerm(c));
}
END_TEST

START_TEST(instance_names_unique)
{
    JET_INSTANCE a, b, c, d;
    OK(JetCreateInstance(&a, "same"));
    ck_assert_int_eq(JetCreateInstance(&b, "same"), JET_errInstanceNameInUse);
    ck_assert_int_eq(JetCreateInstance2(&b, "same", "other display", 0), JET_errInstanceNameInUse);
    OK(JetCreateInstance(&c, NULL));
    ck_assert_int_eq(JetCreateInstance(&d, NULL), JET_errInstanceNameInUse);
    ck_assert_int_eq(JetCreateInstance(NULL, "n"), JET_errInvalidParameter);
    char longname[JET_cbNameMost + 2];
    memset(longname, 'x', sizeof longname - 1);
    longname[sizeof longname - 1] = 0;
    ck_assert_int_eq(JetCreateInstance(&d, longname), JET_errInvalidParameter);
    OK(JetTerm(a));
    /* A freed name can be used again. */
    OK(JetCreateInstance(&a, "same"));
    OK(JetTerm(a));
    OK(JetTerm(c));
}
END_TEST

START_TEST(max_instances_counts_created_ones)
{
    JET_API_PTR v = 0;
    OK(JetGetSystemParameter(0, 0, JET_paramMaxInstances, &v, NULL, 0));
    ck_assert_int_eq(v, 16); /* ESE's default */
    OK(JetSetSystemParameter(NULL, 0, JET_paramMaxInstances, 3, NULL));
    JET_INSTANCE a = start("a"), b, c, d;
    OK(JetCreateInstance(&b, "b")); /* created, never initialized: counts */
    OK(JetCreateInstance(&c, "c"));
    ck_assert_int_eq(JetCreateInstance(&d, "d"), JET_errTooManyInstances);
    JET_INSTANCE nil = 0;
    ck_assert_int_eq(JetInit(&nil), JET_errTooManyInstances);
    /* The limit is read when the mode is set: it cannot change under running instances. */
    ck_assert_int_eq(JetSetSystemParameter(NULL, 0, JET_paramMaxInstances, 8, NULL), JET_errAlreadyInitialized);
    OK(JetTerm(b));
    OK(JetCreateInstance(&d, "d"));
    OK(JetTerm(a));
    OK(JetTerm(c));
    OK(JetTerm(d));
    ck_assert_int_eq(JetSetSystemParameter(NULL, 0, JET_paramMaxInstances, 0, NULL), JET_errInvalidParameter);
}
END_TEST

START_TEST(already_initialized)
{
    JET_INSTANCE a = start("a");
    JET_INSTANCE copy = a;
    ck_assert_int_eq(JetInit(&copy), JET_errAlreadyInitialized);
    ck_assert_int_eq(JetInit2(&copy, 0), JET_errAlreadyInitialized);
    OK(JetTerm(a));
    JET_INSTANCE stale = a;
    ck_assert_int_eq(JetInit(&stale), JET_errInvalidParameter);
}
END_TEST

START_TEST(shared_paths_refused)
{
    JET_INSTANCE a = start("a");
    char *ad = tu_path(root, "a"), *bd = subdir("b");
    JET_INSTANCE b;
    OK(JetCreateInstance(&b, "b"));
    OK(JetSetSystemParameter(&b, 0, JET_paramSystemPath, 0, ad));
    OK(JetSetSystemParameter(&b, 0, JET_paramLogFilePath, 0, bd));
    ck_assert_int_eq(JetInit(&b), JET_errSystemPathInUse);
    OK(JetSetSystemParameter(&b, 0, JET_paramSystemPath, 0, bd));
    /* The same directory by another spelling is still the same directory. */
    char other[8192];
    snprintf(other, sizeof other, "%s/../a/.", bd);
    OK(JetSetSystemParameter(&b, 0, JET_paramLogFilePath, 0, other));
    ck_assert_int_eq(JetInit(&b), JET_errLogFilePathInUse);
    OK(JetSetSystemParameter(&b, 0, JET_paramLogFilePath, 0, bd));
    OK(JetInit(&b));
    OK(JetTerm(b));
    OK(JetTerm(a));
    free(ad);
    free(bd);
}
END_TEST

START_TEST(enable_multi_instance)
{
    JET_SETSYSPARAM sp[2] = {{JET_paramMaxInstances, 5, NULL, 1}, {JET_paramLogFileSize, 256, NULL, 1}};
    unsigned long n = 99;
    OK(JetEnableMultiInstance(sp, 2, &n));
    ck_assert_int_eq(n, 2);
    ck_assert_int_eq(sp[0].err, 0);
    ck_assert_int_eq(sp[1].err, 0);
    /* Multi-instance mode is now set: legacy calls are refused. */
    ck_assert_int_eq(JetInit(NULL), JET_errRunningInMultiInstanceMode);
    JET_API_PTR v = 0;
    OK(JetGetSystemParameter(0, 0, JET_paramMaxInstances, &v, NULL, 0));
    ck_assert_int_eq(v, 5);
    /* Now only a check: the same values pass, another value conflicts. */
    OK(JetEnableMultiInstance(sp, 2, &n));
    ck_assert_int_eq(n, 2);
    JET_SETSYSPARAM bad[2] = {{JET_paramMaxInstances, 5, NULL, 0}, {JET_paramLogFileSize, 512, NULL, 0}};
    ck_assert_int_eq(JetEnableMultiInstance(bad, 2, &n), JET_errSystemParameterConflict);
    ck_assert_int_eq(n, 1);
    ck_assert_int_eq(bad[0].err, 0);
    ck_assert_int_eq(bad[1].err, JET_errSystemParameterConflict);
    OK(JetGetSystemParameter(0, 0, JET_paramLogFileSize, &v, NULL, 0));
    ck_assert_int_eq(v, 256);
    ck_assert_int_eq(JetEnableMultiInstance(NULL, 1, NULL), JET_errInvalidParameter);
}
END_TEST

START_TEST(enable_multi_instance_bad_value_changes_nothing)
{
    JET_SETSYSPARAM sp[2] = {{JET_paramLogFileSize, 256, NULL, 0}, {JET_paramLogFileSize, 1, NULL, 0}};
    unsigned long n = 0;
    ck_assert_int_eq(JetEnableMultiInstance(sp, 2, &n), JET_errInvalidParameter);
    ck_assert_int_eq(sp[1].err, JET_errInvalidParameter);
    JET_API_PTR v = 0;
    OK(JetGetSystemParameter(0, 0, JET_paramLogFileSize, &v, NULL, 0));
    ck_assert_int_ne(v, 256);
    /* No mode was set: legacy mode is still possible. */
    defaults_in("legacy");
    OK(JetInit(NULL));
    OK(JetTerm(0));
}
END_TEST

START_TEST(instance_info)
{
    unsigned long n = 7;
    JET_INSTANCE_INFO *info = (JET_INSTANCE_INFO *)1;
    OK(JetGetInstanceInfo(&n, &info));
    ck_assert_int_eq(n, 0);
    ck_assert_ptr_null(info);
    JET_INSTANCE a = start("alpha"), b = start("beta"), c = create_in("gamma");
    JET_SESID sa = with_db(a, "a1.edb", NULL);
    JET_SESID sa2 = with_db(a, "a2.edb", NULL);
    OK(JetGetInstanceInfo(&n, &info));
    ck_assert_int_eq(n, 2); /* gamma is not initialized */
    int seen = 0;
    for (unsigned long i = 0; i < n; i++) {
        if (info[i].hInstanceId == a) {
            ck_assert_str_eq(info[i].szInstanceName, "alpha");
            ck_assert_int_eq(info[i].cDatabases, 2);
            char *p1 = tu_path(root, "a1.edb"), *p2 = tu_path(root, "a2.edb");
            int m = 0;
            for (int d = 0; d < 2; d++) {
                m += !strcmp(info[i].szDatabaseFileName[d], p1) || !strcmp(info[i].szDatabaseFileName[d], p2);
                ck_assert_str_eq(info[i].szDatabaseDisplayName[d], info[i].szDatabaseFileName[d]);
            }
            ck_assert_int_eq(m, 2);
            free(p1);
            free(p2);
            seen |= 1;
        } else {
            ck_assert(info[i].hInstanceId == b);
            ck_assert_str_eq(info[i].szInstanceName, "beta");
            ck_assert_int_eq(info[i].cDatabases, 0);
            seen |= 2;
        }
        ck_assert_ptr_null(info[i].szDatabaseSLVFileName_Obsolete);
    }
    ck_assert_int_eq(seen, 3);
    OK(JetFreeBuffer((char *)info));
    OK(JetFreeBuffer(NULL));
    ck_assert_int_eq(JetGetInstanceInfo(NULL, &info), JET_errInvalidParameter);
    ck_assert_int_eq(JetGetInstanceInfo(&n, NULL), JET_errInvalidParameter);
    OK(JetEndSession(sa, 0));
    OK(JetEndSession(sa2, 0));
    OK(JetTerm(a));
    OK(JetTerm(b));
    OK(JetTerm(c));
}
END_TEST

START_TEST(stop_service_is_final)
{
    JET_INSTANCE a = start("a"), b = start("b");
    JET_TABLEID t;
    JET_SESID s = with_db(a, "a.edb", &t);
    OK(JetStopServiceInstance(a));
    JET_SESID s2;
    ck_assert_int_eq(JetBeginSession(a, &s2, NULL, NULL), JET_errClientRequestToStopJetService);
    ck_assert_int_eq(JetBeginTransaction(s), JET_errClientRequestToStopJetService);
    char v[4];
    unsigned long got;
    ck_assert_int_eq(JetGetRecord(s, t, "k", 1, v, sizeof v, &got, 0), JET_errClientRequestToStopJetService);
    ck_assert_int_eq(JetStopServiceInstance2(a, JET_bitStopServiceResume), JET_errClientRequestToStopJetService);
    /* The other instance is not affected. */
    OK(JetBeginSession(b, &s2, NULL, NULL));
    OK(JetEndSession(s2, 0));
    /* JetTerm still works, and the quiesced database holds the commit. */
    OK(JetTerm(a));
    a = start("a2");
    char *p = tu_path(root, "a.edb");
    OK(JetBeginSession(a, &s, NULL, NULL));
    OK(JetAttachDatabase(s, p, 0));
    JET_DBID db;
    OK(JetOpenDatabase(s, p, NULL, &db, 0));
    OK(JetOpenTable(s, db, "t", NULL, 0, 0, &t));
    OK(JetGetRecord(s, t, "k", 1, v, sizeof v, &got, 0));
    ck_assert_int_eq(got, 1);
    free(p);
    OK(JetTerm(a));
    OK(JetTerm(b));
}
END_TEST

START_TEST(stop_service_resumable_bits)
{
    JET_INSTANCE a = start("a");
    JET_TABLEID t;
    JET_SESID s = with_db(a, "a.edb", &t);
    OK(JetStopServiceInstance2(a, JET_bitStopServiceQuiesceCaches | JET_bitStopServiceBackgroundUserTasks));
    /* Resumable stops leave sessions working. */
    JET_SESID s2;
    OK(JetBeginSession(a, &s2, NULL, NULL));
    OK(JetEndSession(s2, 0));
    OK(JetBeginTransaction(s));
    OK(JetPutRecord(s, t, "k2", 2, "v", 1, 0));
    OK(JetCommitTransaction(s, 0));
    OK(JetStopServiceInstance2(a, JET_bitStopServiceResume | JET_bitStopServiceQuiesceCaches));
    OK(JetStopServiceInstance2(a, JET_bitStopServiceResume));
    ck_assert_int_eq(JetStopServiceInstance2(a, 0x40), JET_errInvalidGrbit);
    /* A final stop after the resumable ones. */
    OK(JetStopServiceInstance2(a, JET_bitStopServiceAll));
    ck_assert_int_eq(JetBeginSession(a, &s2, NULL, NULL), JET_errClientRequestToStopJetService);
    OK(JetTerm(a));
    /* After the term no instance is left: no mode, nothing initialized. */
    ck_assert_int_eq(JetStopServiceInstance(a), JET_errNotInitialized);
}
END_TEST

START_TEST(stop_service_legacy_and_not_initialized)
{
    JET_INSTANCE c;
    OK(JetCreateInstance(&c, "c"));
    ck_assert_int_eq(JetStopServiceInstance(c), JET_errNotInitialized);
    OK(JetTerm(c));
    defaults_in("legacy");
    OK(JetInit(NULL));
    OK(JetStopService());
    JET_SESID s;
    ck_assert_int_eq(JetBeginSession(0, &s, NULL, NULL), JET_errClientRequestToStopJetService);
    OK(JetTerm(0));
}
END_TEST

START_TEST(term_grbits)
{
    JET_INSTANCE a = start("a");
    JET_TABLEID t;
    JET_SESID s = with_db(a, "a.edb", &t);
    ck_assert_int_eq(JetTerm2(a, 0x100), JET_errInvalidGrbit);
    OK(JetBeginTransaction(s));
    OK(JetPutRecord(s, t, "open", 4, "x", 1, 0));
    /* Complete refuses to end open transactions; the instance keeps running. */
    ck_assert_int_eq(JetTerm2(a, JET_bitTermComplete), JET_errTooManyActiveUsers);
    OK(JetCommitTransaction(s, 0));
    OK(JetBeginTransaction(s));
    OK(JetPutRecord(s, t, "rolled", 6, "x", 1, 0));
    /* Abrupt rolls the open transaction back and shuts down cleanly. */
    OK(JetTerm2(a, JET_bitTermAbrupt));
    ck_assert_int_eq(JetBeginTransaction(s), JET_errInvalidSesid);

    a = start("a2");
    char *p = tu_path(root, "a.edb");
    OK(JetBeginSession(a, &s, NULL, NULL));
    OK(JetAttachDatabase(s, p, 0));
    JET_DBID db;
    OK(JetOpenDatabase(s, p, NULL, &db, 0));
    OK(JetOpenTable(s, db, "t", NULL, 0, 0, &t));
    char v[4];
    unsigned long got;
    OK(JetGetRecord(s, t, "open", 4, v, sizeof v, &got, 0));
    ck_assert_int_eq(JetGetRecord(s, t, "rolled", 6, v, sizeof v, &got, 0), JET_errRecordNotFound);
    OK(JetBeginTransaction(s));
    OK(JetPutRecord(s, t, "dirty", 5, "x", 1, 0));
    OK(JetCommitTransaction(s, 0));
    /* Dirty leaves the database to recovery, reports it, and still frees the instance. */
    ck_assert_int_eq(JetTerm2(a, JET_bitTermDirty), JET_errDirtyShutdown);
    ck_assert_int_eq(JetBeginTransaction(s), JET_errInvalidSesid);
    JET_INSTANCE again;
    OK(JetCreateInstance(&again, "a2")); /* the name is free again */
    char *d = tu_path(root, "a2");
    OK(JetSetSystemParameter(&again, 0, JET_paramSystemPath, 0, d));
    OK(JetSetSystemParameter(&again, 0, JET_paramLogFilePath, 0, d));
    OK(JetSetSystemParameter(&again, 0, JET_paramLogFileSize, 128, NULL));
    OK(JetInit(&again)); /* recovery */
    OK(JetBeginSession(again, &s, NULL, NULL));
    OK(JetAttachDatabase(s, p, 0));
    OK(JetOpenDatabase(s, p, NULL, &db, 0));
    OK(JetOpenTable(s, db, "t", NULL, 0, 0, &t));
    OK(JetGetRecord(s, t, "dirty", 5, v, sizeof v, &got, 0));
    OK(JetTerm(again));
    free(p);
    free(d);
}
END_TEST

/* A term that blocks inside its own I/O (tu_sync_gate), so another thread can call in while it runs. */
static void *term_thread(void *arg)
{
    JET_INSTANCE *pa = arg;
    return (void *)(intptr_t)JetTerm(*pa);
}

START_TEST(calls_racing_a_term)
{
    JET_INSTANCE keep = start("keep"); /* keeps multi-instance mode after a is gone */
    JET_INSTANCE a = start("a");
    JET_TABLEID t;
    JET_SESID s = with_db(a, "a.edb", &t);
    tu_sync_gate_arm();
    pthread_t th;
    ck_assert_int_eq(pthread_create(&th, NULL, term_thread, &a), 0);
    tu_sync_gate_wait_holding();
    /* The term is inside its flush now. */
    JET_SESID s2;
    ck_assert_int_eq(JetBeginSession(a, &s2, NULL, NULL), JET_errTermInProgress);
    ck_assert_int_eq(JetTerm(a), JET_errTermInProgress);
    JET_INSTANCE copy = a;
    ck_assert_int_eq(JetInit(&copy), JET_errAlreadyInitialized);
    tu_sync_gate_release();
    void *ret;
    pthread_join(th, &ret);
    ck_assert_int_eq((long)(intptr_t)ret, 0);
    ck_assert_int_eq(JetBeginTransaction(s), JET_errInvalidSesid);
    ck_assert_int_eq(JetBeginSession(a, &s2, NULL, NULL), JET_errInvalidParameter);
    (void)t;
    OK(JetTerm(keep));
}
END_TEST

/* Fail every write to files under one directory: one instance's disk "breaks". */
static const char *broken_dir;
static int broken_hook(void *ctx, enum eng_io_op op, int fd, const char *path, uint64_t off, size_t len)
{
    (void)ctx, (void)off, (void)len;
    if (op != ENG_IO_WRITE && op != ENG_IO_SYNC)
        return 0;
    char target[4096];
    if (tu_hook_path(fd, path, target, sizeof target))
        return 0;
    return strncmp(target, broken_dir, strlen(broken_dir)) ? 0 : -EIO;
}

START_TEST(instance_unavailable_only_where_it_failed)
{
    JET_INSTANCE a = start("a"), b = start("b");
    JET_TABLEID ta, tb;
    char *adb = subdir("adb"), *bdb = subdir("bdb");
    char fa[8192], fb[8192];
    snprintf(fa, sizeof fa, "adb/a.edb");
    snprintf(fb, sizeof fb, "bdb/b.edb");
    JET_SESID sa = with_db(a, fa, &ta), sb = with_db(b, fb, &tb);
    char *alog = tu_path(root, "a");
    char real[4096];
    ck_assert_ptr_nonnull(realpath(alog, real));
    broken_dir = real;
    eng_io_set_fault_hook(broken_hook, NULL);
    OK(JetBeginTransaction(sa));
    OK(JetPutRecord(sa, ta, "x", 1, "y", 1, 0));
    JET_ERR e = JetCommitTransaction(sa, 0);
    ck_assert_msg(e < 0, "a commit whose log cannot be written must fail, got %ld", e);
    /* From now on instance a is unavailable... */
    JET_SESID s2;
    ck_assert_int_eq(JetBeginSession(a, &s2, NULL, NULL), JET_errInstanceUnavailable);
    ck_assert_int_eq(JetBeginTransaction(sa), JET_errInstanceUnavailable);
    /* ...and instance b keeps committing. */
    for (int i = 0; i < 20; i++) {
        char k[16];
        snprintf(k, sizeof k, "b%d", i);
        OK(JetBeginTransaction(sb));
        OK(JetPutRecord(sb, tb, k, (unsigned long)strlen(k), "v", 1, 0));
        OK(JetCommitTransaction(sb, 0));
    }
    eng_io_set_fault_hook(NULL, NULL);
    JetTerm(a);
    OK(JetTerm(b));
    free(adb);
    free(bdb);
    free(alog);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("instances");
    TCase *tc = tcase_create("modes");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, legacy_mode_selected_by_jetinit_null);
    tcase_add_test(tc, legacy_mode_selected_by_jetinit_nil);
    tcase_add_test(tc, multi_mode_refuses_legacy_calls);
    tcase_add_test(tc, multi_mode_jetinit_nil_allocates_unnamed);
    tcase_add_test(tc, no_mode_legacy_calls_invalid_parameter);
    tcase_add_test(tc, mode_resets_when_last_instance_ends);
    tcase_add_test(tc, instance_names_unique);
    tcase_add_test(tc, max_instances_counts_created_ones);
    tcase_add_test(tc, already_initialized);
    tcase_add_test(tc, shared_paths_refused);
    tcase_add_test(tc, enable_multi_instance);
    tcase_add_test(tc, enable_multi_instance_bad_value_changes_nothing);
    tcase_add_test(tc, instance_info);
    tcase_add_test(tc, stop_service_is_final);
    tcase_add_test(tc, stop_service_resumable_bits);
    tcase_add_test(tc, stop_service_legacy_and_not_initialized);
    tcase_add_test(tc, term_grbits);
    tcase_add_test(tc, calls_racing_a_term);
    tcase_add_test(tc, instance_unavailable_only_where_it_failed);
    suite_add_tcase(s, tc);
    return s;
}

TU_CHECK_MAIN(suite)
