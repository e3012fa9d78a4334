/*
 * hardening-outside.c — the engine's hardening checked from outside, the way a careless user
 * meets it: this program includes only jet.h and links only libjet.so, and does to the files
 * what a user or a crash can do (write a backup into the wrong directory, flip a bit of a log,
 * cut a file, put a FIFO where a file belongs, overwrite another instance's log). Each case runs
 * in a forked child with an alarm, so a hang fails the case instead of the run.
 *
 * Every case asserts two things: the call reports the right JET_err, and nothing the user had is
 * lost (the files are byte-for-byte what they were, and the instance starts again with every
 * acknowledged commit).
 *
 *   hardening-outside [SCRATCH_DIR]     exit 0 when every case passed
 */
#include <errno.h>
#include <pthread.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <jet.h>

#define RECORDS 200
#define CASE_SECONDS 30

static char scratch[512];
static int case_failed;

static void fail(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("    FAIL: ", stdout);
    vprintf(fmt, ap);
    fputc('\n', stdout);
    va_end(ap);
    fflush(stdout);
    case_failed = 1;
}

#define EXPECT(cond, ...)                                                                          \
    do {                                                                                           \
        if (!(cond))                                                                               \
            fail(__VA_ARGS__);                                                                     \
    } while (0)

static void path_join(char *out, size_t n, const char *a, const char *b)
{
    snprintf(out, n, "%s/%s", a, b);
}

static void mkdir_p(const char *dir)
{
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "mkdir -p '%s'", dir);
    if (system(cmd) != 0) {
        fprintf(stderr, "cannot create %s\n", dir);
        exit(2);
    }
}

/* The whole content of a file (NULL if it cannot be read); *len gets its size. */
static unsigned char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    unsigned char *buf = NULL;
    size_t cap = 0, n = 0, got;
    do {
        if (n == cap) {
            cap = cap ? 2 * cap : 1 << 16;
            unsigned char *nb = realloc(buf, cap);
            if (!nb) {
                free(buf);
                fclose(f);
                return NULL;
            }
            buf = nb;
        }
        got = fread(buf + n, 1, cap - n, f);
        n += got;
    } while (got > 0);
    fclose(f);
    *len = n;
    return buf;
}

/* A snapshot of the regular files of a directory (names and contents), to prove nothing changed. */
struct dirsnap {
    size_t n;
    char names[64][256];
    unsigned char *data[64];
    size_t len[64];
};

static void snap_take(struct dirsnap *s, const char *dir)
{
    char cmd[1200];
    memset(s, 0, sizeof *s);
    snprintf(cmd, sizeof cmd, "ls -A '%s' 2>/dev/null", dir);
    FILE *p = popen(cmd, "r");
    char line[256];
    while (p && s->n < 64 && fgets(line, sizeof line, p)) {
        line[strcspn(line, "\n")] = '\0';
        memcpy(s->names[s->n], line, sizeof line);
        char full[1024];
        path_join(full, sizeof full, dir, line);
        s->data[s->n] = slurp(full, &s->len[s->n]);
        s->n++;
    }
    if (p)
        pclose(p);
}

/* Fails the case unless dir holds exactly the files of s with the same bytes. */
static void snap_expect_same(const struct dirsnap *s, const char *dir, const char *what)
{
    struct dirsnap now;
    snap_take(&now, dir);
    EXPECT(now.n == s->n, "%s: %zu entries before, %zu after", what, s->n, now.n);
    for (size_t i = 0; i < s->n; i++) {
        size_t j = 0;
        while (j < now.n && strcmp(now.names[j], s->names[i]))
            j++;
        if (j == now.n) {
            fail("%s: %s is gone", what, s->names[i]);
            continue;
        }
        EXPECT(now.len[j] == s->len[i] && (!s->len[i] || !memcmp(now.data[j], s->data[i], s->len[i])),
               "%s: %s changed", what, s->names[i]);
    }
    for (size_t i = 0; i < now.n; i++)
        free(now.data[i]);
}

static void snap_free(struct dirsnap *s)
{
    for (size_t i = 0; i < s->n; i++)
        free(s->data[i]);
}

/* An initialized instance whose log and system files live in dir/log and database in dir/db. */
static JET_ERR start(const char *name, const char *dir, JET_INSTANCE *inst)
{
    char logdir[600];
    path_join(logdir, sizeof logdir, dir, "log");
    mkdir_p(logdir);
    JET_ERR e = JetCreateInstance(inst, name);
    if (e < 0)
        return e;
    JetSetSystemParameter(inst, 0, JET_paramLogFilePath, 0, logdir);
    JetSetSystemParameter(inst, 0, JET_paramSystemPath, 0, logdir);
    e = JetInit(inst);
    if (e < 0)
        JetTerm(*inst);
    return e;
}

/* Create dir/db/data.edb with a table "kv" holding RECORDS durable commits of one record each. */
static void fill(JET_INSTANCE inst, const char *dir)
{
    char dbdir[600], db[700];
    path_join(dbdir, sizeof dbdir, dir, "db");
    mkdir_p(dbdir);
    path_join(db, sizeof db, dbdir, "data.edb");
    JET_SESID ses;
    JET_DBID dbid;
    JET_TABLEID t;
    JET_ERR e = JetBeginSession(inst, &ses, NULL, NULL);
    EXPECT(e == 0, "JetBeginSession: %ld", e);
    e = JetCreateDatabase(ses, db, NULL, &dbid, 0);
    EXPECT(e == 0, "JetCreateDatabase %s: %ld", db, e);
    e = JetCreateTable(ses, dbid, "kv", 0, 0, &t);
    EXPECT(e == 0, "JetCreateTable: %ld", e);
    for (int i = 0; i < RECORDS; i++) {
        char k[32], v[64];
        int kl = snprintf(k, sizeof k, "key%05d", i);
        int vl = snprintf(v, sizeof v, "value of record %d", i);
        JetBeginTransaction(ses);
        JetPutRecord(ses, t, k, (unsigned long)kl, v, (unsigned long)vl, 0);
        e = JetCommitTransaction(ses, 0);
        if (e != 0) {
            fail("commit %d: %ld", i, e);
            break;
        }
    }
    JetCloseTable(ses, t);
    JetEndSession(ses, 0);
}

/* The number of the RECORDS records of dir/db/data.edb that read back as written (-err if the
 * database cannot be opened). */
static long count_records(JET_INSTANCE inst, const char *dir)
{
    char db[700];
    snprintf(db, sizeof db, "%s/db/data.edb", dir);
    JET_SESID ses;
    JET_DBID dbid;
    JET_TABLEID t;
    JET_ERR e = JetBeginSession(inst, &ses, NULL, NULL);
    if (e < 0)
        return e;
    e = JetAttachDatabase(ses, db, 0);
    if (e >= 0)
        e = JetOpenDatabase(ses, db, NULL, &dbid, 0);
    if (e >= 0)
        e = JetOpenTable(ses, dbid, "kv", NULL, 0, 0, &t);
    if (e < 0) {
        JetEndSession(ses, 0);
        return e;
    }
    long ok = 0;
    for (int i = 0; i < RECORDS; i++) {
        char k[32], v[64], want[64];
        int kl = snprintf(k, sizeof k, "key%05d", i);
        int wl = snprintf(want, sizeof want, "value of record %d", i);
        unsigned long got = 0;
        if (JetGetRecord(ses, t, k, (unsigned long)kl, v, sizeof v, &got, 0) == 0 && got == (unsigned long)wl &&
            !memcmp(v, want, got))
            ok++;
    }
    JetCloseTable(ses, t);
    JetEndSession(ses, 0);
    return ok;
}

/* Restart the instance of dir (after JetTerm or a crash) and expect every record. */
static void expect_restarts_whole(const char *name, const char *dir, const char *what)
{
    JET_INSTANCE inst;
    JET_ERR e = start(name, dir, &inst);
    EXPECT(e == 0, "%s: JetInit afterwards: %ld", what, e);
    if (e < 0)
        return;
    long n = count_records(inst, dir);
    EXPECT(n == RECORDS, "%s: %ld of %d records after restart", what, n, RECORDS);
    JetTerm(inst);
}

/* A child that fills an instance of dir and dies without JetTerm, as a crash would leave it. */
static void crashed_instance(const char *dir)
{
    pid_t pid = fork();
    if (pid == 0) {
        JET_INSTANCE inst;
        if (start("crashing", dir, &inst) != 0)
            _exit(3);
        fill(inst, dir);
        _exit(case_failed ? 4 : 0);
    }
    int st;
    waitpid(pid, &st, 0);
    EXPECT(WIFEXITED(st) && WEXITSTATUS(st) == 0, "the crashing child failed (status %d)", st);
}

/* The offset just past the last non-zero byte of a file: the end of what the log holds. */
static long written_end(const unsigned char *b, size_t n)
{
    while (n > 0 && b[n - 1] == 0)
        n--;
    return (long)n;
}

/* ---------------------------------------------------------------------------------------------
 * The cases
 * ------------------------------------------------------------------------------------------- */

/* Item 1: an atomic backup into a directory that is not a backup is refused and touches nothing. */
static void case_atomic_backup_into_live_dirs(const char *dir)
{
    JET_INSTANCE inst;
    JET_ERR e = start("atomic", dir, &inst);
    EXPECT(e == 0, "JetInit: %ld", e);
    if (e)
        return;
    fill(inst, dir);
    char logdir[600], userdir[600], note[700];
    path_join(logdir, sizeof logdir, dir, "log");
    path_join(userdir, sizeof userdir, dir, "home");
    mkdir_p(userdir);
    path_join(note, sizeof note, userdir, "thesis.txt");
    FILE *f = fopen(note, "w");
    fputs("four years of work\n", f);
    fclose(f);

    struct dirsnap user;
    snap_take(&user, userdir);
    e = JetBackupInstance(inst, userdir, JET_bitBackupAtomic, NULL);
    EXPECT(e < 0, "atomic backup into a user directory returned %ld", e);
    snap_expect_same(&user, userdir, "user directory");
    snap_free(&user);

    struct dirsnap logs_before;
    snap_take(&logs_before, logdir);
    e = JetBackupInstance(inst, logdir, JET_bitBackupAtomic, NULL);
    EXPECT(e < 0, "atomic backup into the instance's own log directory returned %ld", e);
    JetTerm(inst);
    struct dirsnap logs_after_term;
    snap_take(&logs_after_term, logdir);
    for (size_t i = 0; i < logs_before.n; i++) {
        size_t j = 0;
        while (j < logs_after_term.n && strcmp(logs_after_term.names[j], logs_before.names[i]))
            j++;
        EXPECT(j < logs_after_term.n, "log directory: %s is gone", logs_before.names[i]);
    }
    snap_free(&logs_before);
    snap_free(&logs_after_term);
    expect_restarts_whole("atomic", dir, "after the refused backups");
}

/* Item 2: recovery over a damaged edb.log must fail with LogFileCorrupt and change no file of the
 * log directory. */
static void expect_refused_recovery(const char *name, const char *dir, const char *what)
{
    struct dirsnap before;
    char logdir[600];
    path_join(logdir, sizeof logdir, dir, "log");
    snap_take(&before, logdir);
    JET_INSTANCE inst;
    JET_ERR e = start(name, dir, &inst);
    EXPECT(e == JET_errLogFileCorrupt, "JetInit over %s: %ld, expected %d", what, e, JET_errLogFileCorrupt);
    if (e == 0)
        JetTerm(inst);
    snap_expect_same(&before, logdir, "log directory after the refused recovery");
    snap_free(&before);
}

/* The crashed instance's edb.log (*n bytes, *end of them written), or NULL. */
static unsigned char *crashed_log(const char *dir, char *log, size_t logsz, size_t *n, long *end)
{
    crashed_instance(dir);
    snprintf(log, logsz, "%s/log/edb.log", dir);
    unsigned char *b = slurp(log, n);
    EXPECT(b != NULL, "cannot read %s", log);
    if (b) {
        *end = written_end(b, *n);
        EXPECT(*end > 8192, "edb.log holds only %ld bytes of records", *end);
    }
    return b;
}

static void put_byte(const char *path, long at, unsigned char v)
{
    FILE *f = fopen(path, "r+b");
    EXPECT(f && fseek(f, at, SEEK_SET) == 0 && fputc(v, f) == v && fclose(f) == 0, "cannot write %s", path);
}

/* Item 2: one flipped bit in the middle of edb.log is corruption, not a torn tail. */
static void case_bit_flip_mid_log(const char *dir)
{
    char log[700], what[200];
    size_t n = 0;
    long end = 0;
    unsigned char *b = crashed_log(dir, log, sizeof log, &n, &end);
    if (!b)
        return;
    long at = end / 2;
    put_byte(log, at, b[at] ^ 0x10);
    snprintf(what, sizeof what, "a bit flipped at %ld of %ld", at, end);
    expect_refused_recovery("flip", dir, what);
    /* the damage repaired, recovery brings back every acknowledged commit */
    put_byte(log, at, b[at]);
    free(b);
    expect_restarts_whole("flip", dir, "after the bit was set back");
}

/* Item 2: edb.log is preallocated, so a short one is corruption too. */
static void case_truncated_log(const char *dir)
{
    char log[700], what[200];
    size_t n = 0;
    long end = 0;
    unsigned char *b = crashed_log(dir, log, sizeof log, &n, &end);
    if (!b)
        return;
    EXPECT(truncate(log, end / 2) == 0, "truncate: %s", strerror(errno));
    snprintf(what, sizeof what, "an edb.log cut to %ld bytes", end / 2);
    expect_refused_recovery("short", dir, what);
    free(b);
}

/* Item 3: another instance cannot create a database over a live log file. */
static void case_overwrite_live_log(const char *dir)
{
    char a[600], bdir[600];
    path_join(a, sizeof a, dir, "a");
    path_join(bdir, sizeof bdir, dir, "b");
    JET_INSTANCE ia, ib;
    JET_ERR e = start("victim", a, &ia);
    EXPECT(e == 0, "JetInit victim: %ld", e);
    if (e)
        return;
    fill(ia, a);
    e = start("vandal", bdir, &ib);
    EXPECT(e == 0, "JetInit vandal: %ld", e);
    if (e) {
        JetTerm(ia);
        return;
    }
    char log[700];
    snprintf(log, sizeof log, "%s/log/edb.log", a);
    size_t n0 = 0, n1 = 0;
    unsigned char *before = slurp(log, &n0);
    JET_SESID ses;
    JET_DBID dbid;
    JetBeginSession(ib, &ses, NULL, NULL);
    e = JetCreateDatabase(ses, log, NULL, &dbid, JET_bitDbOverwriteExisting);
    EXPECT(e == JET_errFileAccessDenied || e == -1215 /* JET_errDatabaseSharingViolation */,
           "JetCreateDatabase over another instance's edb.log: %ld", e);
    JetEndSession(ses, 0);
    unsigned char *after = slurp(log, &n1);
    EXPECT(before && after && n0 == n1 && !memcmp(before, after, n0), "edb.log of the victim changed");
    free(before);
    free(after);
    JetTerm(ib);
    JetTerm(ia);
    expect_restarts_whole("victim", a, "the victim");
}

/* Item 6: a FIFO where edb.chk belongs gets InvalidPath (it is not a file), not a hang or an I/O
 * error. */
static void case_fifo_checkpoint(const char *dir)
{
    char logdir[600], ckpt[700];
    path_join(logdir, sizeof logdir, dir, "log");
    mkdir_p(logdir);
    path_join(ckpt, sizeof ckpt, logdir, "edb.chk");
    EXPECT(mkfifo(ckpt, 0600) == 0, "mkfifo: %s", strerror(errno));
    JET_INSTANCE inst;
    JET_ERR e = start("fifo", dir, &inst);
    EXPECT(e == JET_errInvalidPath, "JetInit with a FIFO as edb.chk returned %ld, expected %d", e, JET_errInvalidPath);
    if (e == 0)
        JetTerm(inst);
}

/* Item 6: a FIFO where edb.log belongs, and one handed to JetGetDatabaseFileInfo. */
static void case_fifo_log_and_info(const char *dir)
{
    char logdir[600], log[700], db[700];
    path_join(logdir, sizeof logdir, dir, "log");
    mkdir_p(logdir);
    path_join(log, sizeof log, logdir, "edb.log");
    EXPECT(mkfifo(log, 0600) == 0, "mkfifo: %s", strerror(errno));
    JET_INSTANCE inst;
    JET_ERR e = start("fifolog", dir, &inst);
    EXPECT(e == JET_errInvalidPath, "JetInit with a FIFO as edb.log returned %ld, expected %d", e, JET_errInvalidPath);
    if (e == 0)
        JetTerm(inst);

    path_join(db, sizeof db, dir, "fifo.edb");
    EXPECT(mkfifo(db, 0600) == 0, "mkfifo: %s", strerror(errno));
    JET_DBINFOMISC info;
    e = JetGetDatabaseFileInfo(db, &info, sizeof info, JET_DbInfoMisc);
    EXPECT(e == JET_errInvalidPath, "JetGetDatabaseFileInfo of a FIFO returned %ld, expected %d", e,
           JET_errInvalidPath);
}

/* Item 5: one session driven by two threads at once. Each call either works or is refused with
 * SessionSharingViolation; every put that returned 0 is there afterwards. */
struct sharer {
    JET_SESID ses;
    JET_TABLEID t;
    int id;
    int puts_ok, refused, other;
    char ok_mask[2000];
};

static void *share_run(void *arg)
{
    struct sharer *w = arg;
    for (int i = 0; i < 2000; i++) {
        char k[32], v[200];
        int kl = snprintf(k, sizeof k, "t%d-%05d", w->id, i);
        memset(v, 'a' + w->id, sizeof v);
        JET_ERR e = JetPutRecord(w->ses, w->t, k, (unsigned long)kl, v, sizeof v, 0);
        if (e == 0) {
            w->puts_ok++;
            w->ok_mask[i] = 1;
        } else if (e == JET_errSessionSharingViolation) {
            w->refused++;
        } else {
            w->other++;
        }
    }
    return NULL;
}

static void case_session_shared_by_two_threads(const char *dir)
{
    JET_INSTANCE inst;
    JET_ERR e = start("sharing", dir, &inst);
    EXPECT(e == 0, "JetInit: %ld", e);
    if (e)
        return;
    char dbdir[600], db[700];
    path_join(dbdir, sizeof dbdir, dir, "db");
    mkdir_p(dbdir);
    path_join(db, sizeof db, dbdir, "data.edb");
    JET_SESID ses;
    JET_DBID dbid;
    JET_TABLEID t;
    JetBeginSession(inst, &ses, NULL, NULL);
    EXPECT(JetCreateDatabase(ses, db, NULL, &dbid, 0) == 0, "JetCreateDatabase");
    EXPECT(JetCreateTable(ses, dbid, "kv", 0, 0, &t) == 0, "JetCreateTable");
    EXPECT(JetBeginTransaction(ses) == 0, "JetBeginTransaction");
    struct sharer w[2];
    pthread_t th[2];
    for (int i = 0; i < 2; i++) {
        memset(&w[i], 0, sizeof w[i]);
        w[i].ses = ses;
        w[i].t = t;
        w[i].id = i;
        pthread_create(&th[i], NULL, share_run, &w[i]);
    }
    for (int i = 0; i < 2; i++)
        pthread_join(th[i], NULL);
    EXPECT(JetCommitTransaction(ses, 0) == 0, "commit");
    for (int i = 0; i < 2; i++) {
        EXPECT(w[i].other == 0, "thread %d: %d calls failed with an error other than -1112", i, w[i].other);
        for (int r = 0; r < 2000; r++) {
            if (!w[i].ok_mask[r])
                continue;
            char k[32], v[256];
            int kl = snprintf(k, sizeof k, "t%d-%05d", i, r);
            unsigned long got = 0;
            e = JetGetRecord(ses, t, k, (unsigned long)kl, v, sizeof v, &got, 0);
            if (e != 0 || got != 200) {
                fail("thread %d: put %s returned 0 but reads back %ld (%lu bytes)", i, k, e, got);
                break;
            }
        }
    }
    printf("    (puts that went through: %d and %d; refused with -1112: %d and %d)\n", w[0].puts_ok, w[1].puts_ok,
           w[0].refused, w[1].refused);
    JetCloseTable(ses, t);
    JetEndSession(ses, 0);
    JetTerm(inst);
}

/* Item 7: JetTerm of a frozen instance ends the freeze at once, and the thaw says the copy is bad. */
static void case_term_during_freeze(const char *dir)
{
    JET_INSTANCE inst;
    JET_ERR e = start("frozen", dir, &inst);
    EXPECT(e == 0, "JetInit: %ld", e);
    if (e)
        return;
    fill(inst, dir);
    JetSetSystemParameter(&inst, 0, JET_paramOSSnapshotTimeout, 60000, NULL);
    JET_OSSNAPID snap;
    unsigned long n = 0;
    JET_INSTANCE_INFO *info = NULL;
    EXPECT(JetOSSnapshotPrepare(&snap, 0) == 0, "JetOSSnapshotPrepare");
    e = JetOSSnapshotFreeze(snap, &n, &info, 0);
    EXPECT(e == 0, "JetOSSnapshotFreeze: %ld", e);
    if (info)
        JetFreeBuffer((char *)info);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    e = JetTerm(inst);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double s = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    EXPECT(e == 0, "JetTerm: %ld", e);
    EXPECT(s < 10, "JetTerm of a frozen instance took %.1f s (freeze time-out 60 s)", s);
    e = JetOSSnapshotThaw(snap, 0);
    EXPECT(e == JET_errOSSnapshotTimeOut, "JetOSSnapshotThaw after the term: %ld, expected %d", e,
           JET_errOSSnapshotTimeOut);
    JetOSSnapshotAbort(snap, 0);
    expect_restarts_whole("frozen", dir, "after the term during a freeze");
}

/* Item 8: a database cut in the middle of a page is refused when attached. */
static void case_cut_database(const char *dir)
{
    JET_INSTANCE inst;
    JET_ERR e = start("cut", dir, &inst);
    EXPECT(e == 0, "JetInit: %ld", e);
    if (e)
        return;
    fill(inst, dir);
    JetTerm(inst);
    char db[700];
    snprintf(db, sizeof db, "%s/db/data.edb", dir);
    struct stat st;
    EXPECT(stat(db, &st) == 0, "stat %s", db);
    EXPECT(truncate(db, st.st_size - 3000) == 0, "truncate: %s", strerror(errno));
    e = start("cut", dir, &inst);
    EXPECT(e == 0, "JetInit: %ld", e);
    if (e)
        return;
    long n = count_records(inst, dir);
    EXPECT(n < 0, "a database cut by 3000 bytes attached and served %ld records", n);
    JetTerm(inst);
}

static const struct {
    const char *name;
    void (*fn)(const char *dir);
} cases[] = {
    {"atomic backup into live and user directories is refused", case_atomic_backup_into_live_dirs},
    {"a bit flipped mid edb.log is corruption", case_bit_flip_mid_log},
    {"a short edb.log is corruption", case_truncated_log},
    {"a database cannot be created over a live log", case_overwrite_live_log},
    {"a FIFO as edb.chk is an error, not a hang", case_fifo_checkpoint},
    {"a FIFO as edb.log or a database is an error, not a hang", case_fifo_log_and_info},
    {"a database cut mid-page is refused at attach", case_cut_database},
    {"one session used by two threads: -1112, never damage", case_session_shared_by_two_threads},
    {"JetTerm during a freeze ends it at once", case_term_during_freeze},
};

int main(int argc, char **argv)
{
    snprintf(scratch, sizeof scratch, "%s", argc > 1 ? argv[1] : "/tmp/hardening-outside.XXXXXX");
    if (argc <= 1 && !mkdtemp(scratch)) {
        perror("mkdtemp");
        return 2;
    }
    int failed = 0;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char dir[600];
        snprintf(dir, sizeof dir, "%s/case%zu", scratch, i);
        mkdir_p(dir);
        fflush(stdout);
        pid_t pid = fork();
        if (pid == 0) {
            alarm(CASE_SECONDS); /* a hang is a failure, not a stuck run */
            cases[i].fn(dir);
            fflush(stdout);
            _exit(case_failed);
        }
        int st;
        waitpid(pid, &st, 0);
        int ok = WIFEXITED(st) && WEXITSTATUS(st) == 0;
        if (WIFSIGNALED(st))
            printf("    FAIL: died of signal %d%s\n", WTERMSIG(st),
                   WTERMSIG(st) == SIGALRM ? " (a hang: still running after the alarm)" : "");
        printf("%s: %s\n", ok ? "ok  " : "FAIL", cases[i].name);
        failed += !ok;
    }
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", scratch);
    if (!failed && argc <= 1 && system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", scratch);
    printf("hardening-outside: %zu cases, %d failed\n", sizeof cases / sizeof cases[0], failed);
    return failed ? 1 : 0;
}
