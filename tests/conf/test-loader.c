/*
 * test-loader.c — the writer's instance loader (plugin/loader.c) with the real engine (libjet)
 * and real files in a temporary directory:
 *  - three instances, one of which lists a database file that does not exist: that one fails at
 *    JetAttachDatabase with JET_errFileNotFound and a message naming the instance, the step and
 *    the file; it is terminated (its name is free again) and the missing file is NOT created;
 *    the other two run with the configured parameters, accept sessions and serve their data;
 *    wr_unload stops them.
 *  - a log directory that does not exist fails that instance at JetInit, the others stay up.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "conf.h"
#include "jet.h"
#include "loader-int.h"
#include "testutil.h"


static char *dir;

struct logged {
    int level;
    enum wr_event ev;
    char inst[80];
    char msg[1024];
};
static struct logged logs[64];
static size_t nlogs;

static void log_cb(void *ctx, enum wr_log_level level, const char *instance, enum wr_event ev, const char *msg)
{
    ck_assert_ptr_eq(ctx, &nlogs);
    if (nlogs < 64) {
        logs[nlogs].level = (int)level;
        logs[nlogs].ev = ev;
        snprintf(logs[nlogs].inst, sizeof logs[nlogs].inst, "%s", instance ? instance : "");
        snprintf(logs[nlogs].msg, sizeof logs[nlogs].msg, "%s", msg);
        nlogs++;
    }
}

static const struct logged *find_log(const char *inst, enum wr_event ev)
{
    for (size_t i = 0; i < nlogs; i++)
        if (logs[i].ev == ev && !strcmp(logs[i].inst, inst))
            return &logs[i];
    return NULL;
}

static char *sub(const char *name)
{
    char *p = tu_path(dir, name);
    return p;
}

static void mkdir_sub(const char *name)
{
    char *p = sub(name);
    ck_assert_int_eq(mkdir(p, 0700), 0);
    free(p);
}

/* Create database files (with one table "t" holding key "k" -> value = the file name) through a
 * throw-away instance, as an administrator's tool would. */
static void create_databases(const char *const *names, size_t n)
{
    mkdir_sub("setup");
    char *sp = sub("setup");
    JET_INSTANCE inst;
    JET_SESID ses;
    OK(JetCreateInstance(&inst, "setup"));
    OK(JetSetSystemParameter(&inst, 0, JET_paramSystemPath, 0, sp));
    OK(JetSetSystemParameter(&inst, 0, JET_paramLogFilePath, 0, sp));
    OK(JetSetSystemParameter(&inst, 0, JET_paramLogFileSize, 256, NULL));
    OK(JetInit(&inst));
    OK(JetBeginSession(inst, &ses, NULL, NULL));
    for (size_t i = 0; i < n; i++) {
        char *p = sub(names[i]);
        JET_DBID db;
        JET_TABLEID t;
        OK(JetCreateDatabase(ses, p, NULL, &db, 0));
        OK(JetCreateTable(ses, db, "t", 0, 0, &t));
        OK(JetPutRecord(ses, t, "k", 1, names[i], strlen(names[i]), 0));
        OK(JetCloseTable(ses, t));
        OK(JetCloseDatabase(ses, db, 0));
        OK(JetDetachDatabase(ses, p));
        free(p);
    }
    OK(JetEndSession(ses, 0));
    OK(JetTerm(inst));
    free(sp);
}

static struct conf_config *config_from(const char *text)
{
    struct conf_config *cfg = NULL;
    struct conf_diags *d = NULL;
    int r = conf_parse_buffer("test.conf", text, strlen(text), &cfg, &d);
    for (size_t i = 0; d && i < d->count; i++)
        fprintf(stderr, "%s\n", d->items[i].text);
    ck_assert_int_eq(r, CONF_OK);
    conf_diags_free(d);
    return cfg;
}

/* The template with every '@' replaced by the test directory. */
static char *fill(const char *t)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&buf, &len);
    for (; *t; t++) {
        if (*t == '@')
            fputs(dir, m);
        else
            fputc(*t, m);
    }
    fclose(m);
    return buf;
}

static void setup(void)
{
    dir = tu_mkdtemp("loader");
    nlogs = 0;
}

static void teardown(void)
{
    tu_rmtree(dir);
    free(dir);
}

/* Check a running instance: parameters as configured, a session, its database readable. */
static void check_running(const struct wr_instance *wi, const char *sys, unsigned long log_kb, unsigned long cache_mb,
                          unsigned long circular, const char *db_name)
{
    ck_assert_int_eq(wi->state, WR_INSTANCE_RUNNING);
    ck_assert(wi->inst != 0);
    ck_assert_ptr_null(wi->step);
    ck_assert_ptr_null(wi->message);
    JET_API_PTR v = 0, page = 0;
    char s[4096];
    OK(JetGetSystemParameter(wi->inst, 0, JET_paramSystemPath, NULL, s, sizeof s));
    ck_assert_str_eq(s, sys);
    OK(JetGetSystemParameter(wi->inst, 0, JET_paramLogFileSize, &v, NULL, 0));
    ck_assert_uint_eq(v, log_kb);
    OK(JetGetSystemParameter(wi->inst, 0, JET_paramDatabasePageSize, &page, NULL, 0));
    OK(JetGetSystemParameter(wi->inst, 0, JET_paramCacheSizeMax, &v, NULL, 0));
    ck_assert_uint_eq(v, cache_mb * 1024 * 1024 / page);
    OK(JetGetSystemParameter(wi->inst, 0, JET_paramCircularLog, &v, NULL, 0));
    ck_assert_uint_eq(v, circular);

    JET_SESID ses;
    JET_DBID db;
    JET_TABLEID t;
    char val[64];
    unsigned long got = 0;
    char *p = sub(db_name);
    OK(JetBeginSession(wi->inst, &ses, NULL, NULL));
    OK(JetOpenDatabase(ses, p, NULL, &db, 0)); /* attached by the loader */
    OK(JetOpenTable(ses, db, "t", NULL, 0, 0, &t));
    OK(JetGetRecord(ses, t, "k", 1, val, sizeof val, &got, 0));
    ck_assert_uint_eq(got, strlen(db_name));
    ck_assert(!memcmp(val, db_name, got));
    OK(JetCloseTable(ses, t));
    OK(JetCloseDatabase(ses, db, 0));
    OK(JetEndSession(ses, 0));
    free(p);
}

START_TEST(missing_database_fails_only_its_instance)
{
    static const char *const dbs[] = {"a/a1.edb", "a/a2.edb", "b/b1.edb", "c/c1.edb"};
    mkdir_sub("a");
    mkdir_sub("b");
    mkdir_sub("c");
    mkdir_sub("c/logs");
    create_databases(dbs, 4);

    char *text = fill(
             "[writer]\n"
             "[instance a]\n"
             "display_name = Instance A\n"
             "system_path = @/a\nlog_path = @/a\n"
             "database = @/a/a1.edb\ndatabase = @/a/a2.edb\n"
             "log_file_size_kb = 128\ncache_size_mb = 2\n"
             "[instance b]\n"
             "system_path = @/b\nlog_path = @/b\n"
             "database = @/b/b1.edb\n"
             "database = @/b/typo.edb\n"
             "log_file_size_kb = 128\n"
             "[instance c]\n"
             "system_path = @/c\nlog_path = @/c/logs\n"
             "database = @/c/c1.edb\n"
             "log_file_size_kb = 256\ncircular_logging = true\ncache_size_mb = 8\n");
    struct conf_config *cfg = config_from(text);
    free(text);
    struct wr_load_result *res = NULL;
    ck_assert_int_eq(wr_load(cfg, log_cb, &nlogs, &res), WR_OK);
    ck_assert_ptr_nonnull(res);
    ck_assert_uint_eq(res->n, 3);
    ck_assert_uint_eq(res->n_running, 2);
    ck_assert_uint_eq(res->n_failed, 1);

    /* b failed, with every detail */
    const struct wr_instance *b = &res->instances[1];
    char *typo = sub("b/typo.edb");
    ck_assert_str_eq(b->name, "b");
    ck_assert_int_eq(b->state, WR_INSTANCE_FAILED);
    ck_assert(b->inst == 0);
    ck_assert_str_eq(b->step, "JetAttachDatabase");
    ck_assert_int_eq(b->err, JET_errFileNotFound);
    ck_assert_str_eq(b->path, typo);
    ck_assert_uint_eq(b->n_databases, 1);
    char want[8192];
    snprintf(want, sizeof want,
             "instance 'b' failed: JetAttachDatabase %s: JET_errFileNotFound (-1811): the database file "
             "does not exist; jetsnap never creates a missing database; instance terminated",
             typo);
    ck_assert_str_eq(b->message, want);
    const struct logged *lf = find_log("b", WR_EV_INSTANCE_FAILED);
    ck_assert_ptr_nonnull(lf);
    ck_assert_int_eq(lf->level, WR_LOG_ERR);
    ck_assert_str_eq(lf->msg, want);
    ck_assert_ptr_null(find_log("b", WR_EV_INSTANCE_STARTED));
    /* the typo did not create a database */
    struct stat st;
    ck_assert_int_eq(stat(typo, &st), -1);
    free(typo);
    /* b was terminated: its name and directories are free for a new instance */
    JET_INSTANCE again;
    OK(JetCreateInstance(&again, "b"));
    OK(JetTerm(again));

    /* a and c run */
    char *asys = sub("a"), *csys = sub("c");
    check_running(&res->instances[0], asys, 128, 2, 0, "a/a2.edb");
    check_running(&res->instances[2], csys, 256, 8, 1, "c/c1.edb");
    ck_assert_uint_eq(res->instances[0].n_databases, 2);
    ck_assert_str_eq(res->instances[0].name, "a");
    ck_assert_ptr_nonnull(find_log("a", WR_EV_INSTANCE_STARTED));
    ck_assert_ptr_nonnull(find_log("c", WR_EV_INSTANCE_STARTED));
    free(asys);
    free(csys);

    JET_INSTANCE ia = res->instances[0].inst;
    wr_unload(res, log_cb, &nlogs);
    ck_assert_ptr_nonnull(find_log("a", WR_EV_INSTANCE_STOPPED));
    ck_assert_ptr_nonnull(find_log("c", WR_EV_INSTANCE_STOPPED));
    ck_assert_ptr_null(find_log("b", WR_EV_INSTANCE_STOPPED));
    JET_SESID ses;
    ck_assert_int_lt(JetBeginSession(ia, &ses, NULL, NULL), 0); /* the handle is gone */
    conf_free(cfg);
}
END_TEST

START_TEST(missing_log_directory_fails_at_init)
{
    static const char *const dbs[] = {"a/a.edb", "b/b.edb"};
    mkdir_sub("a");
    mkdir_sub("b");
    create_databases(dbs, 2);
    char *text = fill(
             "[instance a]\nsystem_path = @/a\nlog_path = @/a/no-such-dir\ndatabase = @/a/a.edb\n"
             "[instance b]\nsystem_path = @/b\nlog_path = @/b\ndatabase = @/b/b.edb\n");
    struct conf_config *cfg = config_from(text);
    free(text);
    struct wr_load_result *res = NULL;
    ck_assert_int_eq(wr_load(cfg, NULL, NULL, &res), WR_OK); /* no log callback: silent */
    ck_assert_uint_eq(res->n_running, 1);
    const struct wr_instance *a = &res->instances[0];
    ck_assert_int_eq(a->state, WR_INSTANCE_FAILED);
    ck_assert_str_eq(a->step, "JetInit");
    ck_assert_int_lt(a->err, 0);
    ck_assert_ptr_nonnull(strstr(a->message, "instance 'a' failed: JetInit"));
    ck_assert_ptr_nonnull(strstr(a->message, "no-such-dir"));
    ck_assert_int_eq(res->instances[1].state, WR_INSTANCE_RUNNING);
    JET_SESID ses;
    OK(JetBeginSession(res->instances[1].inst, &ses, NULL, NULL));
    OK(JetEndSession(ses, 0));
    wr_unload(res, NULL, NULL);
    conf_free(cfg);
}
END_TEST

START_TEST(arguments_and_names)
{
    struct wr_load_result *res = (struct wr_load_result *)0x1;
    ck_assert_int_eq(wr_load(NULL, NULL, NULL, &res), WR_EARG);
    ck_assert_ptr_eq(res, (struct wr_load_result *)0x1);
    wr_unload(NULL, NULL, NULL);
    ck_assert_str_eq(wr_jet_err_name(JET_errFileNotFound), "JET_errFileNotFound");
    ck_assert_str_eq(wr_jet_err_name(JET_wrnDatabaseAttached), "JET_wrnDatabaseAttached");
    ck_assert_ptr_null(wr_jet_err_name(-424242));
    /* Names are static strings: a later call does not change an earlier one's. */
    const char *a = wr_jet_err_name(JET_errDiskFull);
    const char *b = wr_jet_err_name(JET_wrnSeekNotEqual);
    ck_assert_str_eq(a, "JET_errDiskFull");
    ck_assert_str_eq(b, "JET_wrnSeekNotEqual");
    ck_assert_ptr_eq(wr_jet_err_name(JET_errDiskFull), a);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("loader");
    TCase *tc = tcase_create("loader");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, missing_database_fails_only_its_instance);
    tcase_add_test(tc, missing_log_directory_fails_at_init);
    tcase_add_test(tc, arguments_and_names);
    suite_add_tcase(s, tc);
    return s;
}

TU_CHECK_MAIN(suite)
