/*
 * bench-instances.c — what an idle instance costs: memory, threads, CPU.
 *
 *   bench-instances [--counts 1,16,64] [--idle-seconds S] [--dir DIR] [--keep]
 *
 * For each count N: create and initialize N instances (each with its own directory and default
 * parameters) and attach one small database to each (one table, one record; the session is
 * ended, the database stays attached), then let them sit idle for --idle-seconds. Printed per N,
 * against a baseline taken just before the instances were created:
 *   - RSS delta (VmRSS of /proc/self/status), in total and per instance;
 *   - thread delta (Threads of /proc/self/status), in total and per instance;
 *   - CPU time the whole process used during the idle window (getrusage user + system), which
 *     should be ~0: an idle instance has no timer and polls nothing;
 *   - context switches of all the process's threads during the idle window (voluntary +
 *     involuntary, /proc/self/task/TID/status): a thread that polls wakes up; a sleeping one does
 *     not. The main thread's own sleep accounts for one or two.
 * Nothing here asserts on the figures; the exit status is non-zero only when a JET call fails.
 */
#include <dirent.h>
#include <malloc.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "jet.h"

#include "benchutil.h"

#define MAX_COUNTS 16

static bool g_keep;

static void check(JET_ERR e, const char *call, int i)
{
    if (e >= 0)
        return;
    fprintf(stderr, "bench-instances: FAILED: %s (instance %d): JET error %ld\n", call, i, e);
    bu_cleanup();
    exit(1);
}

/* Context switches of every thread of the process so far. */
static long ctx_switches(void)
{
    DIR *d = opendir("/proc/self/task");
    if (!d)
        return -1;
    long sum = 0;
    struct dirent *e;
    char path[300];
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        snprintf(path, sizeof path, "/proc/self/task/%s/status", e->d_name);
        long v = bu_status_field(path, "voluntary_ctxt_switches");
        long nv = bu_status_field(path, "nonvoluntary_ctxt_switches");
        sum += (v > 0 ? v : 0) + (nv > 0 ? nv : 0);
    }
    closedir(d);
    return sum;
}

static double cpu_ms(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e3 + (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e3;
}

struct row {
    int n;
    long rss_kib, threads, ctxsw;
    double cpu_ms;
};

static void run(int n, double idle_s, struct row *r)
{
    JET_INSTANCE *inst = calloc((size_t)n, sizeof *inst);
    if (!inst)
        abort();
    /* Memory freed by the previous round goes back to the system first, so it cannot hide
     * this round's growth. */
    malloc_trim(0);
    long rss0 = bu_status_field("/proc/self/status", "VmRSS");
    long thr0 = bu_status_field("/proc/self/status", "Threads");
    for (int i = 0; i < n; i++) {
        char name[64], dir[4200], db[4300];
        snprintf(name, sizeof name, "bench-%d-%d", n, i);
        snprintf(dir, sizeof dir, "%s/%s", bu_workdir, name);
        snprintf(db, sizeof db, "%s/idle.edb", dir);
        if (mkdir(dir, 0755) < 0) {
            perror(dir);
            bu_cleanup();
            exit(1);
        }
        check(JetCreateInstance(&inst[i], name), "JetCreateInstance", i);
        check(JetSetSystemParameter(&inst[i], 0, JET_paramSystemPath, 0, dir), "JetSetSystemParameter", i);
        check(JetSetSystemParameter(&inst[i], 0, JET_paramLogFilePath, 0, dir), "JetSetSystemParameter", i);
        check(JetSetSystemParameter(&inst[i], 0, JET_paramTempPath, 0, dir), "JetSetSystemParameter", i);
        check(JetInit(&inst[i]), "JetInit", i);
        JET_SESID ses;
        JET_DBID dbid;
        JET_TABLEID t;
        check(JetBeginSession(inst[i], &ses, NULL, NULL), "JetBeginSession", i);
        check(JetCreateDatabase(ses, db, NULL, &dbid, 0), "JetCreateDatabase", i);
        check(JetCreateTable(ses, dbid, "t", 0, 0, &t), "JetCreateTable", i);
        check(JetPutRecord(ses, t, "k", 1, "v", 1, 0), "JetPutRecord", i);
        check(JetEndSession(ses, 0), "JetEndSession", i);
    }
    bu_sleep(0.2); /* let whatever the last commits started settle before the window opens */
    /* Reading /proc costs CPU of its own: the CPU window lies inside the switch-count window. */
    long s0 = ctx_switches();
    double c0 = cpu_ms();
    bu_sleep(idle_s);
    double c1 = cpu_ms();
    long s1 = ctx_switches();
    r->n = n;
    r->rss_kib = bu_status_field("/proc/self/status", "VmRSS") - rss0;
    r->threads = bu_status_field("/proc/self/status", "Threads") - thr0;
    r->cpu_ms = c1 - c0;
    r->ctxsw = s1 - s0;
    for (int i = 0; i < n; i++)
        check(JetTerm(inst[i]), "JetTerm", i);
    free(inst);
}

static void usage(const char *argv0)
{
    fprintf(stderr, "usage: %s [--counts 1,16,64] [--idle-seconds S] [--dir DIR] [--keep]\n", argv0);
    exit(2);
}

int main(int argc, char **argv)
{
    int counts[MAX_COUNTS] = {1, 16, 64}, ncounts = 3, maxn = 0;
    double idle_s = 2.0;
    const char *parent = bu_default_parent();
    bu_init("bench-instances", &g_keep, false);
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--keep")) {
            g_keep = true;
        } else if (i + 1 >= argc) {
            usage(argv[0]);
        } else if (!strcmp(argv[i], "--counts")) {
            ncounts = bu_parse_counts(argv[++i], counts, MAX_COUNTS, 1024, false);
            if (ncounts < 0)
                usage(argv[0]);
        } else if (!strcmp(argv[i], "--idle-seconds")) {
            idle_s = strtod(argv[++i], NULL);
            if (idle_s <= 0 || idle_s > 3600)
                usage(argv[0]);
        } else if (!strcmp(argv[i], "--dir")) {
            parent = argv[++i];
        } else {
            usage(argv[0]);
        }
    }
    for (int i = 0; i < ncounts; i++)
        if (counts[i] > maxn)
            maxn = counts[i];
    snprintf(bu_workdir, sizeof bu_workdir, "%s/bench-instances.XXXXXX", parent);
    if (!mkdtemp(bu_workdir)) {
        perror(bu_workdir);
        return 1;
    }
    /* Global, and only settable while no instance runs: once, for the largest round. */
    check(JetSetSystemParameter(NULL, 0, JET_paramMaxInstances, (JET_API_PTR)(maxn > 16 ? maxn : 16), NULL),
          "JetSetSystemParameter(MaxInstances)", -1);

    struct row rows[MAX_COUNTS];
    for (int i = 0; i < ncounts; i++)
        run(counts[i], idle_s, &rows[i]);

    printf("bench-instances: idle instances, default parameters, one attached database each; "
           "%.1f s idle window; deltas against the process before the instances were created\n",
           idle_s);
    printf("%6s  %14s  %13s  %10s  %12s  %13s  %12s\n", "N", "RSS delta KiB", "KiB/instance",
           "threads", "threads/inst", "CPU ms (idle)", "ctx switches");
    for (int i = 0; i < ncounts; i++) {
        const struct row *r = &rows[i];
        printf("%6d  %14ld  %13.0f  %10ld  %12.2f  %13.1f  %12ld\n", r->n, r->rss_kib,
               (double)r->rss_kib / r->n, r->threads, (double)r->threads / r->n, r->cpu_ms, r->ctxsw);
    }
    for (int i = 0; i < ncounts; i++)
        printf("RESULT n=%d rss_delta_kib=%ld rss_kib_per_instance=%.0f threads_per_instance=%.2f "
               "idle_cpu_ms=%.1f idle_ctx_switches=%ld\n",
               rows[i].n, rows[i].rss_kib, (double)rows[i].rss_kib / rows[i].n,
               (double)rows[i].threads / rows[i].n, rows[i].cpu_ms, rows[i].ctxsw);
    bu_cleanup();
    return 0;
}
