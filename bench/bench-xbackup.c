/*
 * bench-xbackup.c — a full streaming backup through the writer's D-Bus interface into files, by
 * the real `jetsnapctl backup`, raw and with `--compress zstd:1`, idle and under a write load,
 * next to the copies it is measured against, all in one run on one database:
 *
 *   in-process   JetBackupInstance(instance, DIR, 0) in this process: the engine's own backup of
 *                the same instance, the baseline for "raw over the bus"
 *   cp + sync    `cp DB LOGS... DIR/` then `sync` of the copies (coreutils): the disk's copy rate
 *   zstd CLI     `zstd -1 -T2 --output-dir-flat DIR DB LOGS...` then `sync` of the outputs: the
 *                baseline for "zstd-1 over the bus"
 *   mdb_copy     `mdb_copy SRC DST` (lmdb-utils) + fsync, of an LMDB environment loaded to the same
 *                size, as bench-backup does
 *
 *   bench-xbackup [--size-mib N] [--writers N] [--seconds S] [--repeat N] [--dir DIR] [--smoke]
 *                 [--keep]
 *
 * The database is loaded in this process (KEY_SIZE-byte keys, VALUE_SIZE-byte values, durable
 * transactions of TXN_SIZE records, non-circular logging with 32 MiB logs) until its file reaches
 * --size-mib. Then the program starts a private dbus-daemon (the plugin tests' configuration),
 * loads the built jetsnap-writer.so with dlopen and opens it in host mode, as an application does
 * (examples/demo-app.c): the writer starts the instance and serves it on the bus, and jetsnapctl
 * (JETSNAPCTL, a separate process) talks to it there. One untimed JetBackupInstance first
 * truncates the logs of the load, so every copy holds the database and a few log generations.
 *
 * Idle: --repeat rounds of every copy, each after a syncfs of the work directory so that no
 * earlier writeback lands inside it; every row reports its best round. Under load: --writers
 * threads (bu_load: begin, insert one 100-byte record, durable commit, in a loop) run on the
 * backed-up instance; they run alone for --seconds, then each of cp + sync (a control: the same
 * I/O without the engine), the in-process backup, jetsnapctl raw and jetsnapctl zstd:1 runs once
 * with 1 s of writers alone between them, then the writers run alone for --seconds again. Their
 * commit rate during each copy is held against their rate alone (the mean of both alone windows).
 *
 * Every figure is a ratio against a baseline of the same run; the targets are printed as met or
 * not met, never asserted. The exit status is non-zero only when a call or a program fails (the
 * message names it). Everything is in the work directory, removed at exit with the dbus-daemon
 * killed, also on failure and on SIGINT/SIGTERM/SIGHUP.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <spawn.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "jet.h"
#include "jetsnap-plugin.h"

#include "benchlmdb.h"
#include "benchplugin.h"
#include "benchutil.h"

#ifndef WRITER_SO
#error "WRITER_SO must name the built jetsnap-writer.so (bench/meson.build)"
#endif
#ifndef JETSNAPCTL
#error "JETSNAPCTL must name the built jetsnapctl (bench/meson.build)"
#endif
#ifndef TESTBUS_CONF_IN
#error "TESTBUS_CONF_IN must name tests/plugin/testbus.conf.in (bench/meson.build)"
#endif

#define INST "xb"
#define BUS_NAME "org.jetsnap.Writer1"
#define KEY_SIZE 8
#define VALUE_SIZE 400
#define TXN_SIZE 10000
#define LOG_KIB 32768
#define WRITER_VALUE 100
/* Bulk keys sit above the load writers' keys (writer id << 48 | seq, bu_load). */
#define BULK_BASE (0xFFull << 56)
#define MAX_FILES 4096

static struct {
    double size_mib, seconds;
    int writers, repeat;
    const char *dir;
    bool keep, smoke;
} opt = {.size_mib = 300, .seconds = 5, .writers = 4, .repeat = 2};

/* The paced copies run under load only: at PACE_FAST x and PACE_SLOW x the raw copy's idle time. */
enum copy { C_CP, C_ZSTD, C_JET, C_CTL_RAW, C_CTL_ZSTD, C_MDB, C_PACE_FAST, C_PACE_SLOW, N_COPIES };
#define N_IDLE C_PACE_FAST
#define PACE_FAST 1.3
#define PACE_SLOW 6.0
static const char *const copy_name[N_COPIES] = {
    "cp + sync of the instance's files",  "zstd -1 -T2 CLI + sync, same files", "in-process JetBackupInstance",
    "jetsnapctl backup (raw, over D-Bus)", "jetsnapctl backup --compress zstd:1", "mdb_copy + fsync (LMDB, same size)",
    "jetsnapctl raw --max-rate idle/1.3", "jetsnapctl raw --max-rate idle/6",
};

struct measure {
    double s;        /* seconds */
    uint64_t bytes;  /* bytes copied (uncompressed) */
    uint64_t stored; /* bytes written */
    bool done;
};

static struct {
    struct measure idle[N_COPIES];
    struct measure load[N_COPIES];
    double wr_during[N_COPIES]; /* writers' commits/s during the copy under load */
    double wr_gap[N_COPIES];    /* their longest stall in it, seconds */
    double wr_alone, wr_alone1, wr_alone2;
    uint64_t records, db_bytes, lmdb_bytes;
} R;

static char g_sys[PATH_MAX], g_db[PATH_MAX], g_lmdb[PATH_MAX], g_conf[PATH_MAX];
static char g_bus_address[PATH_MAX + 64];
static const struct jetsnap_plugin *P;
static jetsnap_writer *g_w;
static JET_INSTANCE g_inst;
static unsigned g_round;

static void parse(int argc, char **argv);
static _Noreturn void usage(void);
static void load_database(void);
static void write_config(void);
static void host(void);
static void load_lmdb(void);
static void warm_up(void);
static void idle_rounds(void);
static void load_phase(void);
static struct measure run_copy(enum copy c);
static void report(void);
static void check(JET_ERR e, const char *call);
static uint64_t file_size(const char *path);
static uint64_t dir_bytes(const char *dir);
static size_t source_files(char **v, size_t max, uint64_t *bytes);
static void free_files(char **v, size_t n);
static void sync_dir_files(const char *dir);
static int run_program(char *const argv[], char *out, size_t n_out);
static uint64_t json_u64(const char *text, const char *key);
static void on_log(void *ctx, int priority, const char *instance, int event, const char *message);
static const char *ctl_path(void);
static double mbps(uint64_t bytes, double s);
static void target(const char *what, double v, double want, bool at_most);

int main(int argc, char **argv)
{
    bu_init("bench-xbackup", &opt.keep, true);
    parse(argc, argv);
    if (!bu_start_signal_thread())
        bu_fail("cannot start the signal thread");
    bu_make_workdir(opt.dir);
    setvbuf(stdout, NULL, _IOLBF, 0);
    printf("bench-xbackup: work directory %s; %.0f MiB; %d writers; jetsnapctl %s\n", bu_workdir, opt.size_mib,
           opt.writers, ctl_path());
    load_database();
    load_lmdb();
    write_config();
    bu_start_dbus(TESTBUS_CONF_IN, g_bus_address, sizeof g_bus_address);
    host();
    warm_up();
    idle_rounds();
    load_phase();
    report();
    P->close(g_w);
    bu_cleanup();
    return 0;
}

static void parse(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--keep"))
            opt.keep = true;
        else if (!strcmp(a, "--smoke"))
            opt.smoke = true;
        else if (!v)
            usage();
        else if (!strcmp(a, "--size-mib"))
            opt.size_mib = bu_parse_pos(argv[++i], "--size-mib");
        else if (!strcmp(a, "--seconds"))
            opt.seconds = bu_parse_pos(argv[++i], "--seconds");
        else if (!strcmp(a, "--writers"))
            opt.writers = (int)bu_parse_pos(argv[++i], "--writers");
        else if (!strcmp(a, "--repeat"))
            opt.repeat = (int)bu_parse_pos(argv[++i], "--repeat");
        else if (!strcmp(a, "--dir"))
            opt.dir = argv[++i];
        else
            usage();
    }
    if (opt.smoke) {
        opt.size_mib = 16;
        opt.seconds = 1;
        opt.repeat = 1;
    }
    if (opt.writers > 64)
        usage();
}

static _Noreturn void usage(void)
{
    fprintf(stderr, "usage: bench-xbackup [--size-mib N] [--writers N] [--seconds S] [--repeat N] [--dir DIR] "
                    "[--smoke] [--keep]\n");
    exit(2);
}

/* As an application does before it hosts an instance through the writer: the database is made
 * and filled by the application, then the instance is terminated for the writer to start. */
static void load_database(void)
{
    bu_path_fmt(g_sys, sizeof g_sys, "%s/jet", bu_workdir);
    bu_path_fmt(g_db, sizeof g_db, "%s/xb.edb", g_sys);
    bu_make_dir(g_sys, false);
    JET_INSTANCE in = 0;
    JET_SESID s = 0;
    JET_DBID db = 0;
    JET_TABLEID t = 0;
    check(JetCreateInstance2(&in, "xb-load", NULL, 0), "JetCreateInstance2");
    check(JetSetSystemParameter(&in, 0, JET_paramSystemPath, 0, g_sys), "JetSetSystemParameter(SystemPath)");
    check(JetSetSystemParameter(&in, 0, JET_paramLogFilePath, 0, g_sys), "JetSetSystemParameter(LogFilePath)");
    check(JetSetSystemParameter(&in, 0, JET_paramLogFileSize, LOG_KIB, NULL), "JetSetSystemParameter(LogFileSize)");
    check(JetSetSystemParameter(&in, 0, JET_paramCircularLog, 0, NULL), "JetSetSystemParameter(CircularLog)");
    check(JetInit(&in), "JetInit");
    check(JetBeginSession(in, &s, NULL, NULL), "JetBeginSession");
    check(JetCreateDatabase(s, g_db, NULL, &db, 0), "JetCreateDatabase");
    check(JetCreateTable(s, db, "kv", 0, 0, &t), "JetCreateTable");
    uint64_t target = (uint64_t)(opt.size_mib * 1048576.0), i = 0;
    unsigned char key[KEY_SIZE], val[VALUE_SIZE];
    double t0 = bu_now();
    /* The file grows only as the cache flushes: the bytes inserted stop the load too. */
    while (file_size(g_db) < target && i * (KEY_SIZE + VALUE_SIZE) < target) {
        check(JetBeginTransaction(s), "JetBeginTransaction");
        for (uint64_t end = i + TXN_SIZE; i < end; i++) {
            bu_make_key(BULK_BASE | i, key, KEY_SIZE);
            bu_make_value(i, val, VALUE_SIZE);
            check(JetPutRecord(s, t, key, KEY_SIZE, val, VALUE_SIZE, JET_bitPutNoOverwrite), "JetPutRecord");
        }
        check(JetCommitTransaction(s, 0), "JetCommitTransaction");
    }
    check(JetCloseTable(s, t), "JetCloseTable");
    check(JetEndSession(s, 0), "JetEndSession");
    check(JetTerm2(in, JET_bitTermComplete), "JetTerm2");
    R.records = i;
    R.db_bytes = file_size(g_db);
    printf("jetsnap: %" PRIu64 " records, database %.1f MiB, loaded in %.1f s\n", i, (double)R.db_bytes / 1048576.0,
           bu_now() - t0);
}

/* This process's user may stream; the instance as it was loaded (non-circular logging, the
 * setup a backup is made for). */
static void write_config(void)
{
    bu_path_fmt(g_conf, sizeof g_conf, "%s/writer.conf", bu_workdir);
    FILE *f = fopen(g_conf, "w");
    if (!f)
        bu_fail("%s: %s", g_conf, strerror(errno));
    fprintf(f,
            "[writer]\nbus_name = %s\nallow_users = %lu\nstream_compression = none\nzstd_level = 1\nzstd_workers = 2\n\n"
            "[instance %s]\nsystem_path = %s\nlog_path = %s\ndatabase = %s\nlog_file_size_kb = %u\n"
            "circular_logging = false\n",
            BUS_NAME, (unsigned long)getuid(), INST, g_sys, g_sys, g_db, LOG_KIB);
    if (fclose(f) != 0)
        bu_fail("%s: %s", g_conf, strerror(errno));
}

static void host(void)
{
    P = bp_load_writer(WRITER_SO);
    struct jetsnap_open_args a = {
        .struct_size = sizeof a,
        .config_path = g_conf,
        .mode = JETSNAP_MODE_HOST,
        .log = on_log,
        .bus_address = g_bus_address,
        .bus_loop = JETSNAP_BUS_THREAD,
    };
    struct jetsnap_error e = {0};
    if (P->open(&a, &g_w, &e) != JETSNAP_OK)
        bu_fail("plugin open: %s", e.message);
    struct jetsnap_status *st = NULL;
    if (P->status(g_w, &st, &e) != JETSNAP_OK)
        bu_fail("plugin status: %s", e.message);
    for (size_t i = 0; i < st->n_instances; i++)
        if (!strcmp(st->instances[i].name, INST))
            g_inst = st->instances[i].instance;
    P->status_free(st);
    if (!g_inst)
        bu_fail("the writer did not start instance %s", INST);
}

/* LMDB loaded with the same records (MDB_APPEND) until data.mdb is as large as the database. */
static void load_lmdb(void)
{
    bu_path_fmt(g_lmdb, sizeof g_lmdb, "%s/lmdb", bu_workdir);
    bu_make_dir(g_lmdb, false);
    bl_load(g_lmdb, R.db_bytes, KEY_SIZE, VALUE_SIZE, TXN_SIZE);
    char data[PATH_MAX];
    bu_path_fmt(data, sizeof data, "%s/data.mdb", g_lmdb);
    R.lmdb_bytes = file_size(data);
    printf("LMDB: data.mdb %.1f MiB\n", (double)R.lmdb_bytes / 1048576.0);
}

/* The load left a log generation per 32 MiB; a full backup truncates them, so that every copy
 * that follows holds the database and the few generations written since. */
static void warm_up(void)
{
    char dir[PATH_MAX];
    bu_path_fmt(dir, sizeof dir, "%s/warm-up", bu_workdir);
    check(JetBackupInstance(g_inst, dir, 0, NULL), "JetBackupInstance (warm-up)");
    bu_remove_tree(dir);
    size_t n = 0;
    uint64_t bytes = 0;
    char *v[MAX_FILES];
    n = source_files(v, MAX_FILES, &bytes);
    free_files(v, n);
    printf("instance %s: %zu files, %.1f MiB after the warm-up backup\n", INST, n, (double)bytes / 1048576.0);
}

static void idle_rounds(void)
{
    for (int r = 0; r < opt.repeat; r++) {
        for (int c = 0; c < N_IDLE; c++) {
            struct measure m = run_copy((enum copy)c);
            printf("  idle round %d: %-40s %8.1f MiB in %6.3f s = %7.1f MB/s\n", r + 1, copy_name[c],
                   (double)m.bytes / 1048576.0, m.s, mbps(m.bytes, m.s));
            if (!R.idle[c].done || mbps(m.bytes, m.s) > mbps(R.idle[c].bytes, R.idle[c].s))
                R.idle[c] = m;
        }
    }
}

static void load_phase(void)
{
    static const enum copy order[] = {C_CP, C_JET, C_CTL_RAW, C_CTL_ZSTD, C_PACE_FAST, C_PACE_SLOW};
    struct bu_load l = {0};
    const char *db = g_db;
    bu_load_start(&l, opt.writers, 1, &g_inst, &db, "kv", WRITER_VALUE);
    bu_sleep(0.5); /* warm-up */
    size_t n;
    double gap, t0 = bu_now();
    bu_sleep(opt.seconds);
    double t1 = bu_now();
    bu_load_window(&l, t0, t1, &n, &gap, NULL);
    R.wr_alone1 = (double)n / (t1 - t0);
    printf("  %d writers alone: %.0f commits/s\n", opt.writers, R.wr_alone1);
    for (size_t i = 0; i < sizeof order / sizeof order[0]; i++) {
        enum copy c = order[i];
        bu_sleep(1.0);
        double a = bu_now();
        R.load[c] = run_copy(c);
        double b = bu_now();
        /* run_copy settles the disk first; the window is the copy alone. */
        a = b - R.load[c].s;
        bu_load_window(&l, a, b, &n, &gap, NULL);
        R.wr_during[c] = (double)n / (b - a);
        R.wr_gap[c] = gap;
        printf("  under load: %-40s %8.1f MiB in %6.3f s; writers %.0f commits/s, longest stall %.1f ms\n",
               copy_name[c], (double)R.load[c].bytes / 1048576.0, R.load[c].s, R.wr_during[c], gap * 1e3);
    }
    bu_sleep(1.0);
    t0 = bu_now();
    bu_sleep(opt.seconds);
    t1 = bu_now();
    bu_load_window(&l, t0, t1, &n, &gap, NULL);
    R.wr_alone2 = (double)n / (t1 - t0);
    R.wr_alone = (R.wr_alone1 + R.wr_alone2) / 2;
    printf("  %d writers alone again: %.0f commits/s\n", opt.writers, R.wr_alone2);
    bu_load_stop(&l);
    bu_load_free(&l);
}

/* One copy into a fresh directory, timed from its start to the last byte on disk; the directory
 * is removed afterwards (not timed). */
static struct measure run_copy(enum copy c)
{
    struct measure m = {.done = true};
    char dst[PATH_MAX], out[8192];
    bu_path_fmt(dst, sizeof dst, "%s/copy-%u", bu_workdir, ++g_round);
    char *files[MAX_FILES];
    size_t nf = 0;
    if (c == C_CP || c == C_ZSTD) {
        bu_make_dir(dst, false);
        nf = source_files(files, MAX_FILES, &m.bytes);
    }
    char *argv[MAX_FILES + 16];
    size_t k = 0;
    bu_settle_disk();
    double t0 = bu_now();
    switch (c) {
    case C_CP:
        argv[k++] = "cp";
        for (size_t i = 0; i < nf; i++)
            argv[k++] = files[i];
        argv[k++] = dst;
        argv[k] = NULL;
        if (run_program(argv, NULL, 0) != 0)
            bu_fail("cp of the instance's files into %s failed", dst);
        sync_dir_files(dst);
        break;
    case C_ZSTD:
        argv[k++] = "zstd";
        argv[k++] = "-1";
        argv[k++] = "-T2";
        argv[k++] = "-q";
        argv[k++] = "--output-dir-flat";
        argv[k++] = dst;
        for (size_t i = 0; i < nf; i++)
            argv[k++] = files[i];
        argv[k] = NULL;
        if (run_program(argv, NULL, 0) != 0)
            bu_fail("zstd -1 -T2 of the instance's files into %s failed", dst);
        sync_dir_files(dst);
        break;
    case C_JET:
        check(JetBackupInstance(g_inst, dst, 0, NULL), "JetBackupInstance");
        break;
    case C_CTL_RAW:
    case C_CTL_ZSTD:
    case C_PACE_FAST:
    case C_PACE_SLOW: {
        /* The raw run's list ends before its options; a paced one's rate: the idle raw copy's
         * bytes over PACE_x times its time. */
        char rate[32];
        double pace = c == C_PACE_FAST ? PACE_FAST : PACE_SLOW;
        snprintf(rate, sizeof rate, "%.0f", (double)R.idle[C_CTL_RAW].bytes / (pace * R.idle[C_CTL_RAW].s));
        char *a[] = {(char *)ctl_path(), "--address", g_bus_address, "backup", "--instance", INST, "--type", "full",
                     "--output", dst, "--progress", "never", "--json",
                     c == C_CTL_RAW ? NULL : c == C_CTL_ZSTD ? "--compress" : "--max-rate",
                     c == C_CTL_ZSTD ? "zstd:1" : rate, NULL};
        int rc = run_program(a, out, sizeof out);
        if (rc != 0)
            bu_fail("jetsnapctl backup (%s) exited with %d", copy_name[c], rc);
        break;
    }
    case C_MDB: {
        bu_make_dir(dst, false);
        char *a[] = {"mdb_copy", g_lmdb, dst, NULL};
        if (run_program(a, NULL, 0) != 0)
            bu_fail("mdb_copy %s %s failed (Debian: lmdb-utils)", g_lmdb, dst);
        sync_dir_files(dst);
        break;
    }
    case N_COPIES:
        break;
    }
    m.s = bu_now() - t0;
    m.stored = dir_bytes(dst);
    if (c == C_JET)
        m.bytes = m.stored;
    else if (c == C_MDB)
        m.bytes = R.lmdb_bytes;
    else if (c == C_CTL_RAW || c == C_CTL_ZSTD || c == C_PACE_FAST || c == C_PACE_SLOW) {
        m.bytes = json_u64(out, "bytes");
        m.stored = json_u64(out, "stored_bytes");
    }
    free_files(files, nf);
    bu_remove_tree(dst);
    return m;
}

static void report(void)
{
    const struct measure *I = R.idle, *L = R.load;
    printf("\n== streaming backup over D-Bus into files vs its baselines; measured in this run ==\n");
    printf("%-42s %9s %8s %9s | %8s %9s %10s %10s\n", "idle (best of rounds) | under load", "MiB", "s", "MB/s",
           "s", "load/idle", "writers", "stall ms");
    for (int c = 0; c < N_COPIES; c++) {
        /* A paced copy has no idle run of its own: its time is held against the raw copy's. */
        const struct measure *i = c < N_IDLE ? &I[c] : &I[C_CTL_RAW];
        if (c < N_IDLE)
            printf("%-42s %9.1f %8.3f %9.1f", copy_name[c], (double)i->bytes / 1048576.0, i->s,
                   mbps(i->bytes, i->s));
        else
            printf("%-42s %9.1f %8s %9.1f", copy_name[c], (double)L[c].bytes / 1048576.0, "-",
                   mbps(L[c].bytes, L[c].s));
        if (L[c].done)
            printf(" | %8.3f %8.2fx %9.2fx %10.1f\n", L[c].s, L[c].s / i->s, R.wr_during[c] / R.wr_alone,
                   R.wr_gap[c] * 1e3);
        else
            printf(" |\n");
    }
    printf("(paced rows: MB/s is their rate under load; load/idle is against the raw copy's idle time)\n");
    printf("(zstd rows: MiB are the uncompressed bytes; stored: CLI %.1f MiB, jetsnapctl %.1f MiB)\n",
           (double)I[C_ZSTD].stored / 1048576.0, (double)I[C_CTL_ZSTD].stored / 1048576.0);
    printf("%d writers alone: %.0f commits/s (%.0f before, %.0f after the copies under load)\n\n", opt.writers,
           R.wr_alone, R.wr_alone1, R.wr_alone2);

    double raw = mbps(I[C_CTL_RAW].bytes, I[C_CTL_RAW].s), zs = mbps(I[C_CTL_ZSTD].bytes, I[C_CTL_ZSTD].s);
    double jet = mbps(I[C_JET].bytes, I[C_JET].s), mdb = mbps(I[C_MDB].bytes, I[C_MDB].s);
    double cp = mbps(I[C_CP].bytes, I[C_CP].s), zcli = mbps(I[C_ZSTD].bytes, I[C_ZSTD].s);
    printf("Ratios (MB/s over MB/s, idle):\n");
    printf("  jetsnapctl raw / in-process JetBackupInstance  %6.2fx\n", raw / jet);
    printf("  jetsnapctl raw / mdb_copy                      %6.2fx\n", raw / mdb);
    printf("  jetsnapctl raw / cp + sync                     %6.2fx\n", raw / cp);
    printf("  in-process     / mdb_copy                      %6.2fx\n", jet / mdb);
    printf("  jetsnapctl zstd:1 / zstd -1 -T2 CLI            %6.2fx\n", zs / zcli);
    printf("\nTargets (informational, never asserted):\n");
    target("raw over the bus / in-process backup", raw / jet, 0.9, false);
    target("raw over the bus / mdb_copy", raw / mdb, 0.9, false);
    target("zstd-1 over the bus / zstd CLI", zs / zcli, 1.0, false);
    target("raw over the bus under load / idle time", L[C_CTL_RAW].s / I[C_CTL_RAW].s, 1.5, true);
    target("zstd-1 over the bus under load / idle time", L[C_CTL_ZSTD].s / I[C_CTL_ZSTD].s, 1.5, true);
    target("writers during the raw backup / alone", R.wr_during[C_CTL_RAW] / R.wr_alone, 0.85, false);
    target("writers during the zstd-1 backup / alone", R.wr_during[C_CTL_ZSTD] / R.wr_alone, 0.85, false);
    printf("With --max-rate (the time and the writers' share of one paced copy, both targets at once):\n");
    for (int c = C_PACE_FAST; c <= C_PACE_SLOW; c++) {
        char what[96];
        double pace = c == C_PACE_FAST ? PACE_FAST : PACE_SLOW;
        snprintf(what, sizeof what, "idle/%.1f: time under load / raw idle time", pace);
        target(what, L[c].s / I[C_CTL_RAW].s, 1.5, true);
        snprintf(what, sizeof what, "idle/%.1f: writers during it / alone", pace);
        target(what, R.wr_during[c] / R.wr_alone, 0.85, false);
    }

    static const char *const key[N_COPIES] = {"cp",       "zstd_cli",  "jet",       "ctl_raw",
                                              "ctl_zstd", "mdb_copy", "ctl_pace_fast", "ctl_pace_slow"};
    char name[96];
    for (int c = 0; c < N_COPIES; c++) {
        const struct measure *i = c < N_IDLE ? &I[c] : &I[C_CTL_RAW];
        if (c < N_IDLE) {
            snprintf(name, sizeof name, "%s_idle_mbps", key[c]);
            bu_result_line(name, mbps(i->bytes, i->s));
        }
        if (L[c].done) {
            snprintf(name, sizeof name, "%s_load_over_idle", key[c]);
            bu_result_line(name, L[c].s / i->s);
            snprintf(name, sizeof name, "%s_writers_over_alone", key[c]);
            bu_result_line(name, R.wr_during[c] / R.wr_alone);
        }
    }
    bu_result_line("ratio_ctl_raw_over_jet", raw / jet);
    bu_result_line("ratio_ctl_raw_over_mdb_copy", raw / mdb);
    bu_result_line("ratio_ctl_zstd_over_zstd_cli", zs / zcli);
    bu_result_line("writers_alone_per_s", R.wr_alone);
    bu_result_line("db_bytes", (double)R.db_bytes);
}

static void target(const char *what, double v, double want, bool at_most)
{
    bool met = at_most ? v <= want : v >= want;
    printf("  %-46s %6.2fx (%s %.2fx): %s\n", what, v, at_most ? "<=" : ">=", want, met ? "met" : "NOT met");
}

static void check(JET_ERR e, const char *call)
{
    char name[128];
    if (e < 0)
        bu_fail("%s: %s (%ld)", call, bu_jet_err_name(e, name, sizeof name, "JET error"), (long)e);
}

static uint64_t file_size(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? (uint64_t)st.st_size : 0;
}

/* The bytes of the regular files in dir (not recursive). */
static uint64_t dir_bytes(const char *dir)
{
    DIR *d = opendir(dir);
    uint64_t n = 0;
    for (struct dirent *e; d && (e = readdir(d));) {
        char p[PATH_MAX];
        struct stat st;
        bu_path_fmt(p, sizeof p, "%s/%s", dir, e->d_name);
        if (lstat(p, &st) == 0 && S_ISREG(st.st_mode))
            n += (uint64_t)st.st_size;
    }
    if (d)
        closedir(d);
    return n;
}

/* The files a copy of the instance takes: its database and its log generations (*.log), as they
 * are now; malloc'd paths into v. */
static size_t source_files(char **v, size_t max, uint64_t *bytes)
{
    size_t n = 0;
    *bytes = 0;
    DIR *d = opendir(g_sys);
    if (!d)
        bu_fail("%s: %s", g_sys, strerror(errno));
    for (struct dirent *e; (e = readdir(d)) && n < max;) {
        size_t len = strlen(e->d_name);
        bool want = !strcmp(e->d_name, "xb.edb") || (len > 4 && !strcmp(e->d_name + len - 4, ".log"));
        if (!want)
            continue;
        char p[PATH_MAX];
        bu_path_fmt(p, sizeof p, "%s/%s", g_sys, e->d_name);
        if (!(v[n] = strdup(p)))
            bu_fail("out of memory");
        *bytes += file_size(p);
        n++;
    }
    closedir(d);
    return n;
}

static void free_files(char **v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(v[i]);
}

/* What `sync FILE...` does: fsync every file (and here the directory), in this process rather than
 * a program with an argument list as long as the file list. */
static void sync_dir_files(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        bu_fail("%s: %s", dir, strerror(errno));
    for (struct dirent *e; (e = readdir(d));) {
        if (e->d_name[0] == '.')
            continue;
        char p[PATH_MAX];
        bu_path_fmt(p, sizeof p, "%s/%s", dir, e->d_name);
        int fd = open(p, O_RDONLY | O_CLOEXEC);
        if (fd < 0 || fsync(fd) != 0)
            bu_fail("fsync %s: %s", p, strerror(errno));
        close(fd);
    }
    int fd = dirfd(d);
    if (fsync(fd) != 0)
        bu_fail("fsync %s: %s", dir, strerror(errno));
    closedir(d);
}

/* Run a program (argv[0] looked up in PATH) with the default signal mask and wait for it; its
 * stdout goes into out (n_out bytes, NUL-terminated) when out is given. Returns its exit status. */
static int run_program(char *const argv[], char *out, size_t n_out)
{
    int fds[2] = {-1, -1};
    if (out && pipe2(fds, O_CLOEXEC) != 0)
        bu_fail("pipe: %s", strerror(errno));
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t at;
    sigset_t none, dfl;
    sigemptyset(&none);
    sigemptyset(&dfl);
    sigaddset(&dfl, SIGINT);
    sigaddset(&dfl, SIGTERM);
    sigaddset(&dfl, SIGHUP);
    sigaddset(&dfl, SIGPIPE);
    posix_spawn_file_actions_init(&fa);
    if (out)
        posix_spawn_file_actions_adddup2(&fa, fds[1], 1);
    posix_spawnattr_init(&at);
    /* This thread blocks the signals the signal thread takes; a child must not inherit that. */
    posix_spawnattr_setflags(&at, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
    posix_spawnattr_setsigmask(&at, &none);
    posix_spawnattr_setsigdefault(&at, &dfl);
    pid_t pid;
    int rc = posix_spawnp(&pid, argv[0], &fa, &at, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&at);
    if (out)
        close(fds[1]);
    if (rc != 0)
        bu_fail("cannot start %s: %s", argv[0], strerror(rc));
    size_t got = 0;
    while (out) {
        ssize_t k = read(fds[0], out + got, n_out - 1 - got);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0 || (got += (size_t)k) == n_out - 1)
            break;
    }
    if (out) {
        out[got] = '\0';
        close(fds[0]);
    }
    int status;
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR)
            bu_fail("waitpid %s: %s", argv[0], strerror(errno));
    if (!WIFEXITED(status))
        bu_fail("%s was killed by signal %d", argv[0], WIFSIGNALED(status) ? WTERMSIG(status) : 0);
    return WEXITSTATUS(status);
}

/* The number after "key": in jetsnapctl's --json summary. */
static uint64_t json_u64(const char *text, const char *key)
{
    char pat[64];
    snprintf(pat, sizeof pat, "\"%s\":", key);
    const char *p = strstr(text, pat);
    if (!p)
        bu_fail("jetsnapctl --json printed no %s: %s", key, text);
    return strtoull(p + strlen(pat), NULL, 10);
}

/* $BENCH_XBACKUP_CTL runs instead of the built jetsnapctl, with the same arguments: a wrapper
 * that profiles it (strace -c, perf record). */
static const char *ctl_path(void)
{
    const char *e = getenv("BENCH_XBACKUP_CTL");
    return e && e[0] ? e : JETSNAPCTL;
}

/* Warnings and errors explain a failure; the writer's info and notice messages are not ours. */
static void on_log(void *ctx, int priority, const char *instance, int event, const char *message)
{
    (void)ctx;
    if (priority <= JETSNAP_LOG_WARNING)
        fprintf(stderr, "bench-xbackup: writer <%d> %s%s%s (event %d)\n", priority, instance ? instance : "",
                instance ? ": " : "", message, event);
}

static double mbps(uint64_t bytes, double s)
{
    return s > 0 ? (double)bytes / 1e6 / s : 0;
}
