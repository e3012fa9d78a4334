/*
 * benchutil.c — the shared plumbing of the benchmark programs in bench/ (see benchutil.h): work
 * directory, failure and signal handling, time, percentiles, workload data, /proc fields, RESULT
 * lines and option helpers. Compiled into each benchmark executable.
 */
#include "benchutil.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "jet.h"

char bu_workdir[PATH_MAX];

static const char *g_prog = "bench";
static const bool *g_keep;
static bool g_say_kept;
static atomic_bool g_cleaning;
static void (*_Atomic g_cleanup_hook)(void);

void bu_init(const char *prog, const bool *keep, bool say_kept)
{
    g_prog = prog;
    g_keep = keep;
    g_say_kept = say_kept;
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    remove(path);
    return 0;
}

void bu_remove_tree(const char *path)
{
    nftw(path, rm_entry, 32, FTW_DEPTH | FTW_PHYS);
}

void bu_at_cleanup(void (*fn)(void))
{
    atomic_store(&g_cleanup_hook, fn);
}

void bu_cleanup(void)
{
    void (*hook)(void) = atomic_exchange(&g_cleanup_hook, NULL);
    if (hook)
        hook();
    if (bu_workdir[0] == '\0' || atomic_exchange(&g_cleaning, true))
        return;
    if (g_keep && *g_keep) {
        if (g_say_kept)
            fprintf(stderr, "%s: work directory kept: %s\n", g_prog, bu_workdir);
    } else {
        bu_remove_tree(bu_workdir);
    }
}

_Noreturn void bu_fail(const char *fmt, ...)
{
    va_list ap;
    fflush(stdout);
    fprintf(stderr, "%s: FAILED: ", g_prog);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    bu_cleanup();
    _exit(1);
}

const char *bu_default_parent(void)
{
    const char *parent = getenv("TMPDIR");
    return parent && *parent ? parent : "/tmp";
}

void bu_make_workdir(const char *parent)
{
    char real[PATH_MAX], tmpl[PATH_MAX];
    if (!parent)
        parent = bu_default_parent();
    if (!realpath(parent, real))
        bu_fail("directory %s: %s", parent, strerror(errno));
    int n = snprintf(tmpl, sizeof tmpl, "%s/%s.XXXXXX", real, g_prog);
    if (n < 0 || (size_t)n >= sizeof tmpl)
        bu_fail("path too long (%%s/%s.XXXXXX)", g_prog);
    if (!mkdtemp(tmpl))
        bu_fail("mkdtemp %s: %s", tmpl, strerror(errno));
    bu_path_fmt(bu_workdir, sizeof bu_workdir, "%s", tmpl);
}

static void *signal_thread(void *arg)
{
    sigset_t *set = arg;
    int sig;
    if (sigwait(set, &sig) == 0) {
        fprintf(stderr, "%s: interrupted by signal %d\n", g_prog, sig);
        bu_cleanup();
        _exit(128 + sig);
    }
    return NULL;
}

bool bu_start_signal_thread(void)
{
    static sigset_t set; /* the thread reads it after this returns */
    pthread_t th;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    if (pthread_create(&th, NULL, signal_thread, &set) != 0)
        return false;
    pthread_detach(th);
    return true;
}

void bu_path_fmt(char *buf, size_t cb, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, cb, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= cb)
        bu_fail("path too long (%s)", fmt);
}

void bu_make_dir(const char *path, bool exist_ok)
{
    if (mkdir(path, 0700) != 0 && !(exist_ok && errno == EEXIST))
        bu_fail("mkdir %s: %s", path, strerror(errno));
}

void bu_settle_disk(void)
{
    int fd = open(bu_workdir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        syncfs(fd);
        close(fd);
    }
}

void bu_barrier_wait(pthread_barrier_t *b)
{
    int rc = pthread_barrier_wait(b);
    if (rc != 0 && rc != PTHREAD_BARRIER_SERIAL_THREAD)
        bu_fail("pthread_barrier_wait: %s", strerror(rc));
}

double bu_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

void bu_sleep(double s)
{
    if (s <= 0)
        return;
    struct timespec ts = {.tv_sec = (time_t)s, .tv_nsec = (long)((s - (double)(time_t)s) * 1e9)};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

int bu_cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

double bu_pct(const double *sorted, size_t n, double p)
{
    if (!n)
        return 0;
    double x = p * (double)n;
    size_t k = (size_t)x;
    if ((double)k < x)
        k++; /* ceil */
    if (k < 1)
        k = 1;
    if (k > n)
        k = n;
    return sorted[k - 1];
}

void bu_times_add(struct bu_times *x, double t)
{
    if (x->n == x->cap) {
        size_t nc = x->cap ? x->cap * 2 : 65536;
        double *nt = realloc(x->t, nc * sizeof *nt);
        if (!nt)
            bu_fail("out of memory (event times)");
        x->t = nt;
        x->cap = nc;
    }
    x->t[x->n++] = t;
}

void bu_times_free(struct bu_times *x)
{
    free(x->t);
    x->t = NULL;
    x->n = x->cap = 0;
}

double bu_times_gap_over(const struct bu_times *x, double a, double b)
{
    /* The first time after a. */
    size_t lo = 0, hi = x->n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (x->t[mid] <= a)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo == 0 || lo == x->n)
        return 0;
    double best = 0;
    for (size_t k = lo; k < x->n; k++) {
        double g = x->t[k] - x->t[k - 1];
        if (g > best)
            best = g;
        if (x->t[k] >= b)
            break;
    }
    return best;
}

void bu_times_window(const struct bu_times *x, double a, double b, size_t *count, double *gap, double *gap_end)
{
    *count = 0;
    *gap = 0;
    if (gap_end)
        *gap_end = 0;
    double prev = -1;
    for (size_t k = 0; k < x->n; k++) {
        double t = x->t[k];
        if (t < a)
            continue;
        if (t > b)
            break;
        (*count)++;
        if (prev >= 0 && t - prev > *gap) {
            *gap = t - prev;
            if (gap_end)
                *gap_end = t;
        }
        prev = t;
    }
}

static void load_check(JET_ERR e, const char *call, int i)
{
    char name[128];
    if (e < 0)
        bu_fail("%s (instance %d): %s (%ld)", call, i, bu_jet_err_name(e, name, sizeof name, "JET error"), (long)e);
}

static void *load_writer_main(void *arg)
{
    struct bu_load_writer *w = arg;
    struct bu_load *l = w->load;
    for (int k = 0; k < w->ninst; k++) {
        int i = w->inst[k];
        JET_DBID db;
        load_check(JetBeginSession(l->inst[i], &w->ses[k], NULL, NULL), "JetBeginSession", i);
        load_check(JetOpenDatabase(w->ses[k], l->db[i], NULL, &db, 0), "JetOpenDatabase", i);
        load_check(JetOpenTable(w->ses[k], db, l->table, NULL, 0, 0, &w->tab[k]), "JetOpenTable", i);
    }
    uint8_t key[8];
    uint8_t *val = malloc(l->value_bytes > sizeof key ? l->value_bytes : sizeof key);
    if (!val)
        bu_fail("out of memory");
    for (size_t b = 0; b < l->value_bytes; b++)
        val[b] = (uint8_t)(b * 31 + (size_t)w->id);
    bu_barrier_wait(&l->start);
    int k = 0;
    while (!atomic_load_explicit(&l->stop, memory_order_relaxed)) {
        uint64_t kv = ((uint64_t)w->id << 48) | w->seq++;
        for (int b = 0; b < 8; b++)
            key[b] = (uint8_t)(kv >> (56 - 8 * b));
        memcpy(val, key, sizeof key < l->value_bytes ? sizeof key : l->value_bytes);
        int i = w->inst[k];
        load_check(JetBeginTransaction(w->ses[k]), "JetBeginTransaction", i);
        load_check(JetPutRecord(w->ses[k], w->tab[k], key, sizeof key, val, l->value_bytes, 0), "JetPutRecord", i);
        load_check(JetCommitTransaction(w->ses[k], 0), "JetCommitTransaction", i);
        bu_times_add(&w->ack, bu_now());
        if (++k == w->ninst)
            k = 0;
    }
    for (int j = 0; j < w->ninst; j++)
        load_check(JetEndSession(w->ses[j], 0), "JetEndSession", w->inst[j]);
    free(val);
    return NULL;
}

void bu_load_start(struct bu_load *l, int nw, int n, const JET_INSTANCE *inst, const char *const *db,
                   const char *table, size_t value_bytes)
{
    memset(l, 0, sizeof *l);
    l->nw = nw;
    l->n = n;
    l->inst = inst;
    l->db = db;
    l->table = table;
    l->value_bytes = value_bytes;
    l->w = calloc((size_t)nw, sizeof *l->w);
    if (!l->w)
        bu_fail("out of memory");
    for (int j = 0; j < nw; j++) {
        struct bu_load_writer *w = &l->w[j];
        w->load = l;
        w->id = j;
        w->inst = calloc((size_t)n, sizeof *w->inst);
        w->ses = calloc((size_t)n, sizeof *w->ses);
        w->tab = calloc((size_t)n, sizeof *w->tab);
        if (!w->inst || !w->ses || !w->tab)
            bu_fail("out of memory");
        if (n >= nw)
            for (int i = j; i < n; i += nw)
                w->inst[w->ninst++] = i;
        else
            w->inst[w->ninst++] = j % n;
    }
    atomic_store(&l->stop, false);
    if (pthread_barrier_init(&l->start, NULL, (unsigned)nw + 1) != 0)
        bu_fail("pthread_barrier_init");
    for (int j = 0; j < nw; j++)
        if (pthread_create(&l->w[j].th, NULL, load_writer_main, &l->w[j]) != 0)
            bu_fail("pthread_create (writer %d)", j);
    bu_barrier_wait(&l->start);
}

void bu_load_stop(struct bu_load *l)
{
    atomic_store(&l->stop, true);
    for (int j = 0; j < l->nw; j++)
        pthread_join(l->w[j].th, NULL);
    pthread_barrier_destroy(&l->start);
}

void bu_load_free(struct bu_load *l)
{
    for (int j = 0; j < l->nw; j++) {
        free(l->w[j].inst);
        free(l->w[j].ses);
        free(l->w[j].tab);
        bu_times_free(&l->w[j].ack);
    }
    free(l->w);
    l->w = NULL;
    l->nw = 0;
}

void bu_load_window(const struct bu_load *l, double a, double b, size_t *commits, double *gap, double *gap_end)
{
    *commits = 0;
    *gap = 0;
    if (gap_end)
        *gap_end = 0;
    for (int j = 0; j < l->nw; j++) {
        size_t c;
        double g, e;
        bu_times_window(&l->w[j].ack, a, b, &c, &g, &e);
        *commits += c;
        if (g > *gap) {
            *gap = g;
            if (gap_end)
                *gap_end = e;
        }
    }
}

double bu_load_gap_over(const struct bu_load *l, double a, double b)
{
    double worst = 0;
    for (int j = 0; j < l->nw; j++) {
        double g = bu_times_gap_over(&l->w[j].ack, a, b);
        if (g > worst)
            worst = g;
    }
    return worst;
}

uint64_t bu_splitmix64(uint64_t *s)
{
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

void bu_make_key(uint64_t seq, unsigned char *key, size_t cb)
{
    for (size_t i = cb; i-- > 0;) {
        key[i] = (unsigned char)(seq & 0xFF);
        seq >>= 8;
    }
}

void bu_make_value(uint64_t seq, unsigned char *val, size_t cb)
{
    uint64_t s = seq ^ 0x6A65747370617021ull;
    for (size_t off = 0; off < cb; off += 8) {
        uint64_t r = bu_splitmix64(&s);
        size_t n = cb - off < 8 ? cb - off : 8;
        memcpy(val + off, &r, n);
    }
}

uint64_t bu_writer_seq(unsigned run, unsigned tid, uint64_t i)
{
    return (1ull << 63) | ((uint64_t)run << 48) | ((uint64_t)tid << 32) | (i & 0xFFFFFFFFull);
}

long bu_status_field(const char *path, const char *name)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    char line[256];
    long v = -1;
    size_t n = strlen(name);
    while (fgets(line, sizeof line, f))
        if (!strncmp(line, name, n) && line[n] == ':') {
            v = strtol(line + n + 1, NULL, 10);
            break;
        }
    fclose(f);
    return v;
}

void bu_result_line(const char *name, double v)
{
    if (v == (double)(long long)v && v < 9e15 && v > -9e15)
        printf("RESULT %s=%lld\n", name, (long long)v);
    else
        printf("RESULT %s=%.4f\n", name, v);
}

const char *bu_jet_err_name(long err, char *buf, size_t n, const char *unknown)
{
    char s[512];
    JET_API_PTR l = (JET_API_PTR)err;
    if (JetGetSystemParameter(0, 0, JET_paramErrorToString, &l, s, sizeof s) != JET_errSuccess ||
        strncmp(s, "JET_", 4)) /* "Unknown Error, Unknown Error" */
        return unknown;
    snprintf(buf, n, "%.*s", (int)strcspn(s, ","), s);
    return buf;
}

double bu_parse_pos(const char *s, const char *what)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end || !(v > 0)) {
        fprintf(stderr, "%s: bad %s: %s\n", g_prog, what, s);
        exit(2);
    }
    return v;
}

int bu_parse_counts(const char *s, int *counts, int max, long maxval, bool strict)
{
    int n = 0;
    for (const char *p = s; *p;) {
        if (n == max) {
            if (strict)
                return -1;
            break;
        }
        char *end;
        long v = strtol(p, &end, 10);
        if (end == p || v < 1 || v > maxval || (strict && *end && *end != ','))
            return -1;
        counts[n++] = (int)v;
        p = *end == ',' ? end + 1 : end;
    }
    return n;
}

/* ---------------------------------------------------------------------------------------------
 * A private dbus-daemon (bench-writer, bench-xbackup)
 * ------------------------------------------------------------------------------------------- */

static atomic_int g_bus_pid;

static void kill_bus(void);
static char *read_text(const char *path);

void bu_start_dbus(const char *conf_in, char *address, size_t n_address)
{
    char conf[PATH_MAX], listen[PATH_MAX + 16], arg[PATH_MAX + 32];
    bu_path_fmt(conf, sizeof conf, "%s/bus.conf", bu_workdir);
    bu_path_fmt(listen, sizeof listen, "unix:path=%s/bus", bu_workdir);
    char *tmpl = read_text(conf_in);
    char *at = strstr(tmpl, "@LISTEN@");
    if (!at)
        bu_fail("%s has no @LISTEN@", conf_in);
    FILE *f = fopen(conf, "w");
    if (!f || fprintf(f, "%.*s%s%s", (int)(at - tmpl), tmpl, listen, at + strlen("@LISTEN@")) < 0 || fclose(f) != 0)
        bu_fail("%s: %s", conf, strerror(errno));
    free(tmpl);

    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0)
        bu_fail("pipe: %s", strerror(errno));
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t at_;
    sigset_t none, dfl;
    sigemptyset(&none);
    sigemptyset(&dfl);
    sigaddset(&dfl, SIGINT);
    sigaddset(&dfl, SIGTERM);
    sigaddset(&dfl, SIGHUP);
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, fds[1], 1);
    posix_spawnattr_init(&at_);
    /* This thread blocks the signals the signal thread takes; the daemon must not inherit that. */
    posix_spawnattr_setflags(&at_, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
    posix_spawnattr_setsigmask(&at_, &none);
    posix_spawnattr_setsigdefault(&at_, &dfl);
    bu_path_fmt(arg, sizeof arg, "--config-file=%s", conf);
    char *argv[] = {"dbus-daemon", arg, "--fork", "--nopidfile", "--print-address=1", "--print-pid=1", NULL};
    pid_t pid;
    int rc = posix_spawnp(&pid, "dbus-daemon", &fa, &at_, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&at_);
    close(fds[1]);
    if (rc != 0) {
        close(fds[0]);
        bu_fail("cannot start dbus-daemon: %s (Debian: apt-get install dbus-daemon)", strerror(rc));
    }
    /* Two lines: the address, then the daemon's pid. The daemon closes our pipe when it forks. */
    char out[PATH_MAX + 128];
    size_t n = 0;
    int lines = 0;
    while (lines < 2 && n + 1 < sizeof out) {
        ssize_t got = read(fds[0], out + n, sizeof out - 1 - n);
        if (got < 0 && errno == EINTR)
            continue;
        if (got <= 0)
            break;
        for (ssize_t k = 0; k < got; k++)
            lines += out[n + (size_t)k] == '\n';
        n += (size_t)got;
    }
    out[n] = '\0';
    close(fds[0]);
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    char *nl = strchr(out, '\n');
    long daemon = nl ? strtol(nl + 1, NULL, 10) : 0;
    if (daemon > 0) {
        atomic_store(&g_bus_pid, (int)daemon);
        bu_at_cleanup(kill_bus);
    }
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0 || !nl || daemon <= 0)
        bu_fail("dbus-daemon --config-file=%s did not start (status %d): %s", conf, status, out);
    *nl = '\0';
    bu_path_fmt(address, n_address, "%s", out);
}

/* The cleanup hook (bu_at_cleanup): from any thread, on success, failure or a signal. */
static void kill_bus(void)
{
    int pid = atomic_exchange(&g_bus_pid, 0);
    if (pid > 0)
        kill(pid, SIGKILL);
}

/* Reads the whole template into a string. */
static char *read_text(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f)
        bu_fail("%s: %s", path, strerror(errno));
    size_t cap = 4096, n = 0;
    char *s = malloc(cap);
    for (size_t got; s && (got = fread(s + n, 1, cap - n - 1, f)) > 0;) {
        n += got;
        if (n + 1 == cap) {
            char *ns = realloc(s, cap *= 2);
            if (!ns)
                free(s);
            s = ns;
        }
    }
    if (!s)
        bu_fail("out of memory");
    s[n] = '\0';
    fclose(f);
    return s;
}
