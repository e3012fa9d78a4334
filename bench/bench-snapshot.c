/*
 * bench-snapshot.c — OS snapshot freeze and thaw latency under a steady write load.
 *
 *   bench-snapshot [--rounds N] [--instances 1,16,64] [--writers W | --writers-per-instance K]
 *                  [--hold-ms MS] [--pause-ms MS] [--baseline-seconds S] [--log-kib K]
 *                  [--dir DIR] [--scale F] [--keep]
 *
 * For each instance count N: create N instances (each in its own directory, one database with one
 * table each, circular logging), start W writer threads (default 4 in total, whatever N is, so
 * the machine carries the same number of committers at every N) that make durable single-record
 * commits round-robin over the instances they serve (writer w serves instances w, w+W, w+2W, ...
 * when N >= W; when N < W the writers are spread over the instances, several per instance), let
 * them run alone for --baseline-seconds, then run --rounds snapshot rounds:
 *
 *   JetOSSnapshotPrepare(ContinueAfterThaw) -> JetOSSnapshotFreeze (timed) -> hold --hold-ms
 *   -> JetOSSnapshotThaw (timed) -> JetOSSnapshotEnd (timed) -> pause --pause-ms
 *
 * Printed per N: Freeze, Thaw and End latency (p50, p99, max; nearest-rank percentiles over the
 * rounds), the writers' longest stall (the longest gap between two consecutive commit
 * acknowledgements of one writer, over the whole run of rounds, and that gap minus the hold time),
 * the per-round stall (the longest gap of any writer that overlaps the round's Freeze..Thaw;
 * p50/p99), and the writers' throughput alone and during the rounds. The targets of the issue
 * (Freeze p99 <= 20 ms at 64 instances, Thaw p99 <= 5 ms) are printed as met / not met, never
 * asserted. The exit status is non-zero only when a call fails. RESULT lines repeat the figures.
 */
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "jet.h"

#include "benchutil.h"

#define MAX_COUNTS 16
#define MAX_N 1024
#define VALUE_BYTES 100

static struct {
    int rounds;
    int counts[MAX_COUNTS], ncounts;
    int writers;      /* total writers; 0 = writers_per_instance * N */
    int writers_per_instance;
    double hold_ms, pause_ms, baseline_s, scale;
    unsigned log_kib;
    const char *dir;
    bool keep;
} opt = {
    .rounds = 200,
    .counts = {1, 16, 64},
    .ncounts = 3,
    .writers = 4,
    .hold_ms = 20,
    .pause_ms = 20,
    .baseline_s = 1.0,
    .scale = 1.0,
    .log_kib = 5120,
};

static void check(JET_ERR e, const char *call, int i)
{
    if (e < 0)
        bu_fail("%s (instance %d): JET error %ld", call, i, e);
}

/* ---------------------------------------------------------------------------------------------
 * Instances and writers
 * ------------------------------------------------------------------------------------------- */

static JET_INSTANCE g_inst[MAX_N];
static char g_dbpath[MAX_N][PATH_MAX];

static void set_param(int i, unsigned long id, JET_API_PTR num, const char *str, const char *what)
{
    check(JetSetSystemParameter(&g_inst[i], 0, id, num, str), what, i);
}

static void create_instances(int n)
{
    for (int i = 0; i < n; i++) {
        char name[64], dir[PATH_MAX];
        snprintf(name, sizeof name, "snap-%d-%d", n, i);
        if ((size_t)snprintf(dir, sizeof dir, "%s/%s", bu_workdir, name) >= sizeof dir ||
            (size_t)snprintf(g_dbpath[i], sizeof g_dbpath[i], "%s/snap.edb", dir) >= sizeof g_dbpath[i])
            bu_fail("path too long under %s", bu_workdir);
        if (mkdir(dir, 0755) < 0)
            bu_fail("mkdir %s: %s", dir, strerror(errno));
        check(JetCreateInstance(&g_inst[i], name), "JetCreateInstance", i);
        set_param(i, JET_paramSystemPath, 0, dir, "JetSetSystemParameter(SystemPath)");
        set_param(i, JET_paramLogFilePath, 0, dir, "JetSetSystemParameter(LogFilePath)");
        set_param(i, JET_paramTempPath, 0, dir, "JetSetSystemParameter(TempPath)");
        set_param(i, JET_paramCircularLog, 1, NULL, "JetSetSystemParameter(CircularLog)");
        set_param(i, JET_paramLogFileSize, opt.log_kib, NULL, "JetSetSystemParameter(LogFileSize)");
        check(JetInit(&g_inst[i]), "JetInit", i);
        JET_SESID ses;
        JET_DBID db;
        JET_TABLEID t;
        check(JetBeginSession(g_inst[i], &ses, NULL, NULL), "JetBeginSession", i);
        check(JetCreateDatabase(ses, g_dbpath[i], NULL, &db, 0), "JetCreateDatabase", i);
        check(JetCreateTable(ses, db, "kv", 0, 0, &t), "JetCreateTable", i);
        check(JetCloseTable(ses, t), "JetCloseTable", i);
        check(JetEndSession(ses, 0), "JetEndSession", i); /* the database stays attached */
    }
}

/* ---------------------------------------------------------------------------------------------
 * One instance count
 * ------------------------------------------------------------------------------------------- */

struct round {
    double prep0, frz0, frz1, thaw0, thaw1, end1;
};

struct result {
    int n, writers, rounds;
    double frz_p50, frz_p99, frz_max, thaw_p50, thaw_p99, thaw_max, end_p50, end_p99, end_max;
    double stall_max, stall_round_p50, stall_round_p99;
    double base_rate, base_gap_max, load_rate, ratio;
    double hold_ms_measured; /* mean Freeze-return .. Thaw-call gap */
};

static void run(int n, struct result *r)
{
    int nw = opt.writers ? opt.writers : opt.writers_per_instance * n;
    memset(r, 0, sizeof *r);
    r->n = n;
    r->writers = nw;
    r->rounds = opt.rounds;

    double c0 = bu_now();
    create_instances(n);
    double c1 = bu_now();

    const char *db[MAX_N];
    for (int i = 0; i < n; i++)
        db[i] = g_dbpath[i];
    struct bu_load load;
    bu_load_start(&load, nw, n, g_inst, db, "kv", VALUE_BYTES);

    /* Writers alone: a short warm-up, then the baseline window. */
    bu_sleep(0.3);
    double b0 = bu_now();
    bu_sleep(opt.baseline_s);
    double b1 = bu_now();

    struct round *rd = calloc((size_t)opt.rounds, sizeof *rd);
    if (!rd)
        bu_fail("out of memory");
    for (int k = 0; k < opt.rounds; k++) {
        struct round *x = &rd[k];
        JET_OSSNAPID id;
        unsigned long ninfo = 0;
        JET_INSTANCE_INFO *info = NULL;
        x->prep0 = bu_now();
        check(JetOSSnapshotPrepare(&id, JET_bitContinueAfterThaw), "JetOSSnapshotPrepare", -1);
        x->frz0 = bu_now();
        check(JetOSSnapshotFreeze(id, &ninfo, &info, 0), "JetOSSnapshotFreeze", -1);
        x->frz1 = bu_now();
        JetFreeBuffer((char *)info);
        if (ninfo != (unsigned long)n)
            bu_fail("JetOSSnapshotFreeze froze %lu instances, expected %d", ninfo, n);
        bu_sleep(opt.hold_ms / 1e3 - (bu_now() - x->frz1));
        x->thaw0 = bu_now();
        check(JetOSSnapshotThaw(id, 0), "JetOSSnapshotThaw", -1);
        x->thaw1 = bu_now();
        check(JetOSSnapshotEnd(id, 0), "JetOSSnapshotEnd", -1);
        x->end1 = bu_now();
        bu_sleep(opt.pause_ms / 1e3);
    }
    double l0 = rd[0].prep0, l1 = bu_now();

    bu_load_stop(&load);

    /* Figures. */
    double *frz = malloc((size_t)opt.rounds * sizeof *frz);
    double *thaw = malloc((size_t)opt.rounds * sizeof *thaw);
    double *end = malloc((size_t)opt.rounds * sizeof *end);
    double *stall = malloc((size_t)opt.rounds * sizeof *stall);
    if (!frz || !thaw || !end || !stall)
        bu_fail("out of memory");
    double hold_sum = 0;
    for (int k = 0; k < opt.rounds; k++) {
        frz[k] = (rd[k].frz1 - rd[k].frz0) * 1e3;
        thaw[k] = (rd[k].thaw1 - rd[k].thaw0) * 1e3;
        end[k] = (rd[k].end1 - rd[k].thaw1) * 1e3;
        hold_sum += rd[k].thaw0 - rd[k].frz1;
        stall[k] = bu_load_gap_over(&load, rd[k].frz0, rd[k].thaw1) * 1e3;
    }
    qsort(frz, (size_t)opt.rounds, sizeof *frz, bu_cmp_double);
    qsort(thaw, (size_t)opt.rounds, sizeof *thaw, bu_cmp_double);
    qsort(end, (size_t)opt.rounds, sizeof *end, bu_cmp_double);
    qsort(stall, (size_t)opt.rounds, sizeof *stall, bu_cmp_double);
    size_t R = (size_t)opt.rounds;
    r->frz_p50 = bu_pct(frz, R, 0.50);
    r->frz_p99 = bu_pct(frz, R, 0.99);
    r->frz_max = bu_pct(frz, R, 1.0);
    r->thaw_p50 = bu_pct(thaw, R, 0.50);
    r->thaw_p99 = bu_pct(thaw, R, 0.99);
    r->thaw_max = bu_pct(thaw, R, 1.0);
    r->end_p50 = bu_pct(end, R, 0.50);
    r->end_p99 = bu_pct(end, R, 0.99);
    r->end_max = bu_pct(end, R, 1.0);
    r->stall_round_p50 = bu_pct(stall, R, 0.50);
    r->stall_round_p99 = bu_pct(stall, R, 0.99);
    double stall_round_max = bu_pct(stall, R, 1.0);
    r->hold_ms_measured = hold_sum / (double)R * 1e3;

    size_t bc, lc;
    double bgap, lgap;
    bu_load_window(&load, b0, b1, &bc, &bgap, NULL);
    bu_load_window(&load, l0, l1, &lc, &lgap, NULL);
    r->base_rate = (double)bc / (b1 - b0);
    r->base_gap_max = bgap * 1e3;
    r->load_rate = (double)lc / (l1 - l0);
    r->ratio = r->base_rate > 0 ? r->load_rate / r->base_rate : 0;
    r->stall_max = lgap * 1e3;

    printf("\nN=%d: %d instance%s created in %.2f s; %d writers (%s), %d rounds, hold %.0f ms, pause %.0f ms\n",
           n, n, n == 1 ? "" : "s", c1 - c0, nw,
           n >= nw ? "each round-robin over its own instances" : "several per instance", opt.rounds,
           opt.hold_ms, opt.pause_ms);
    printf("  %-34s %10s %10s %10s\n", "", "p50 ms", "p99 ms", "max ms");
    printf("  %-34s %10.3f %10.3f %10.3f\n", "JetOSSnapshotFreeze", r->frz_p50, r->frz_p99, r->frz_max);
    printf("  %-34s %10.3f %10.3f %10.3f\n", "JetOSSnapshotThaw", r->thaw_p50, r->thaw_p99, r->thaw_max);
    printf("  %-34s %10.3f %10.3f %10.3f\n", "JetOSSnapshotEnd", r->end_p50, r->end_p99, r->end_max);
    printf("  %-34s %10.3f %10.3f %10.3f\n", "writers' stall per round", r->stall_round_p50, r->stall_round_p99,
           stall_round_max);
    printf("  %-34s %10.3f %10.3f %10.3f\n", "  minus the hold", r->stall_round_p50 - r->hold_ms_measured,
           r->stall_round_p99 - r->hold_ms_measured, stall_round_max - r->hold_ms_measured);
    printf("  writers' longest stall over the rounds: %.3f ms (%.3f ms beyond the %.3f ms hold); "
           "writers alone: %.3f ms\n",
           r->stall_max, r->stall_max - r->hold_ms_measured, r->hold_ms_measured, r->base_gap_max);
    printf("  writers' throughput: alone %.0f commits/s, during the rounds %.0f commits/s (%.2fx)\n",
           r->base_rate, r->load_rate, r->ratio);
    fflush(stdout);

    free(frz);
    free(thaw);
    free(end);
    free(stall);
    free(rd);
    bu_load_free(&load);
    for (int i = 0; i < n; i++)
        check(JetTerm(g_inst[i]), "JetTerm", i);
}

/* ---------------------------------------------------------------------------------------------
 * main
 * ------------------------------------------------------------------------------------------- */

static _Noreturn void usage(const char *argv0)
{
    fprintf(stderr,
            "usage: %s [--rounds N] [--instances 1,16,64] [--writers W | --writers-per-instance K]\n"
            "          [--hold-ms MS] [--pause-ms MS] [--baseline-seconds S] [--log-kib K]\n"
            "          [--dir DIR] [--scale F] [--keep]\n",
            argv0);
    exit(2);
}

static double num_arg(const char *argv0, const char *s, double lo, double hi)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end || !(v >= lo && v <= hi))
        usage(argv0);
    return v;
}

int main(int argc, char **argv)
{
    const char *parent = bu_default_parent();
    bu_init("bench-snapshot", &opt.keep, true);
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--keep")) {
            opt.keep = true;
        } else if (i + 1 >= argc) {
            usage(argv[0]);
        } else if (!strcmp(a, "--rounds")) {
            opt.rounds = (int)num_arg(argv[0], argv[++i], 1, 1e7);
        } else if (!strcmp(a, "--instances")) {
            opt.ncounts = bu_parse_counts(argv[++i], opt.counts, MAX_COUNTS, MAX_N, true);
            if (opt.ncounts <= 0)
                usage(argv[0]);
        } else if (!strcmp(a, "--writers")) {
            opt.writers = (int)num_arg(argv[0], argv[++i], 1, 1024);
            opt.writers_per_instance = 0;
        } else if (!strcmp(a, "--writers-per-instance")) {
            opt.writers_per_instance = (int)num_arg(argv[0], argv[++i], 1, 16);
            opt.writers = 0;
        } else if (!strcmp(a, "--hold-ms")) {
            opt.hold_ms = num_arg(argv[0], argv[++i], 0, 60000);
        } else if (!strcmp(a, "--pause-ms")) {
            opt.pause_ms = num_arg(argv[0], argv[++i], 0, 60000);
        } else if (!strcmp(a, "--baseline-seconds")) {
            opt.baseline_s = num_arg(argv[0], argv[++i], 0.1, 3600);
        } else if (!strcmp(a, "--log-kib")) {
            opt.log_kib = (unsigned)num_arg(argv[0], argv[++i], 64, 32768);
        } else if (!strcmp(a, "--dir")) {
            parent = argv[++i];
        } else if (!strcmp(a, "--scale")) {
            opt.scale = num_arg(argv[0], argv[++i], 1e-6, 1e6);
        } else {
            usage(argv[0]);
        }
    }
    /* --scale shortens the run: fewer rounds (at least 10) and a shorter baseline (at least 0.2 s). */
    if (opt.scale != 1.0) {
        double r = opt.rounds * opt.scale + 0.5;
        opt.rounds = r < 10 ? 10 : r > 1e7 ? 10000000 : (int)r;
        opt.baseline_s = opt.baseline_s * opt.scale < 0.2 ? 0.2 : opt.baseline_s * opt.scale;
    }
    int maxn = 0;
    for (int i = 0; i < opt.ncounts; i++)
        if (opt.counts[i] > maxn)
            maxn = opt.counts[i];

    if (!bu_start_signal_thread())
        bu_fail("pthread_create (signal thread)");

    if ((size_t)snprintf(bu_workdir, sizeof bu_workdir, "%s/bench-snapshot.XXXXXX", parent) >= sizeof bu_workdir)
        bu_fail("--dir too long");
    if (!mkdtemp(bu_workdir)) {
        int e = errno;
        bu_workdir[0] = 0;
        bu_fail("mkdtemp in %s: %s", parent, strerror(e));
    }
    /* Global, and only settable while no instance runs: once, for the largest count. */
    check(JetSetSystemParameter(NULL, 0, JET_paramMaxInstances, (JET_API_PTR)(maxn > 16 ? maxn : 16), NULL),
          "JetSetSystemParameter(MaxInstances)", -1);

    printf("bench-snapshot: work directory %s; %d rounds per count; writers: %s; durable single-record "
           "commits (8-byte key, %d-byte value); circular logging, %u KiB log files\n",
           bu_workdir, opt.rounds, opt.writers ? "fixed total" : "per instance", VALUE_BYTES, opt.log_kib);
    fflush(stdout);

    struct result res[MAX_COUNTS];
    for (int i = 0; i < opt.ncounts; i++)
        run(opt.counts[i], &res[i]);

    printf("\nSummary (ms; nearest-rank percentiles over %d rounds)\n", opt.rounds);
    printf("%5s %7s %9s %9s %9s %9s %9s %9s %11s %11s %10s %10s %7s\n", "N", "writers", "frz p50", "frz p99",
           "frz max", "thaw p50", "thaw p99", "thaw max", "stall max", "stall-hold", "alone c/s", "rounds c/s",
           "ratio");
    for (int i = 0; i < opt.ncounts; i++) {
        const struct result *r = &res[i];
        printf("%5d %7d %9.3f %9.3f %9.3f %9.3f %9.3f %9.3f %11.3f %11.3f %10.0f %10.0f %7.2f\n", r->n,
               r->writers, r->frz_p50, r->frz_p99, r->frz_max, r->thaw_p50, r->thaw_p99, r->thaw_max, r->stall_max,
               r->stall_max - r->hold_ms_measured, r->base_rate, r->load_rate, r->ratio);
    }
    printf("\nTargets (informational, never asserted):\n");
    for (int i = 0; i < opt.ncounts; i++) {
        const struct result *r = &res[i];
        if (r->n == 64)
            printf("  Freeze p99 <= 20 ms at 64 instances: %s (%.3f ms)\n", r->frz_p99 <= 20 ? "met" : "NOT MET",
                   r->frz_p99);
    }
    for (int i = 0; i < opt.ncounts; i++) {
        const struct result *r = &res[i];
        printf("  Thaw p99 <= 5 ms at %d instance%s: %s (%.3f ms)\n", r->n, r->n == 1 ? "" : "s",
               r->thaw_p99 <= 5 ? "met" : "NOT MET", r->thaw_p99);
    }
    for (int i = 0; i < opt.ncounts; i++) {
        const struct result *r = &res[i];
        printf("RESULT n=%d writers=%d rounds=%d freeze_p50_ms=%.3f freeze_p99_ms=%.3f freeze_max_ms=%.3f "
               "thaw_p50_ms=%.3f thaw_p99_ms=%.3f thaw_max_ms=%.3f end_p50_ms=%.3f end_p99_ms=%.3f "
               "stall_max_ms=%.3f stall_max_minus_hold_ms=%.3f stall_round_p50_ms=%.3f stall_round_p99_ms=%.3f "
               "writers_alone_per_s=%.0f writers_rounds_per_s=%.0f ratio_writers_rounds_over_alone=%.3f "
               "writers_alone_gap_max_ms=%.3f\n",
               r->n, r->writers, r->rounds, r->frz_p50, r->frz_p99, r->frz_max, r->thaw_p50, r->thaw_p99,
               r->thaw_max, r->end_p50, r->end_p99, r->stall_max, r->stall_max - r->hold_ms_measured,
               r->stall_round_p50, r->stall_round_p99, r->base_rate, r->load_rate, r->ratio, r->base_gap_max);
    }
    for (int i = 0; i < opt.ncounts; i++) {
        const struct result *r = &res[i];
        if (r->n == 64)
            printf("RESULT target_freeze_p99_64_met=%d\n", r->frz_p99 <= 20);
    }
    bool thaw_ok = true;
    for (int i = 0; i < opt.ncounts; i++)
        thaw_ok = thaw_ok && res[i].thaw_p99 <= 5;
    printf("RESULT target_thaw_p99_met=%d\n", thaw_ok);
    printf("RESULT hold_ms=%.1f pause_ms=%.1f baseline_seconds=%.2f log_kib=%u\n", opt.hold_ms, opt.pause_ms,
           opt.baseline_s, opt.log_kib);
    bu_cleanup();
    return 0;
}
