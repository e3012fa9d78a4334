/*
 * demo-app.c — jetsnap-demo-app, an example application that embeds libjet and hosts its
 * instances through the writer plugin, the way a mail store or directory service would: it loads
 * jetsnap-writer.so with dlopen (jetsnap-plugin.h only), lets the writer start the configured
 * instances (host mode) and export them on D-Bus, and then uses the instances itself.
 *
 * With --load it commits a steady stream of small transactions on every instance and appends one
 * line "INSTANCE SEQ USEC" to the --acks file for each commit JetCommitTransaction acknowledged
 * (keys are SEQ as ten digits, values 100 bytes or --value-size; USEC the CLOCK_REALTIME time the
 * commit returned). --writers N runs N committing threads per instance, which take sequence
 * numbers in turn. Keep that file on a filesystem you do not snapshot:
 * `jetsnapctl snapshot -- sh -c 'cp ACKS SNAP/ && cp -a DATA SNAP/'` then holds, in the copied
 * file, exactly the commits the copy must contain — `jetsnap-demo-app --verify` checks it.
 *
 * Serves until SIGTERM or SIGINT; prints "ready" on stdout once the writer is open.
 *
 *   jetsnap-demo-app --config FILE [--plugin SO] [--address ADDR] [--loop thread|host]
 *                    [--create] [--load] [--acks FILE]
 *   jetsnap-demo-app --verify --config FILE --acks FILE [--map OLD=NEW] [--before USEC]
 *                    [--at-most FILE]
 * --before: only the commits acknowledged before that time must be there (a point-in-time
 * restore); --at-most: an acks file copied later — nothing past its last commit (plus the one a
 * writer may have made durable without acknowledging it yet) may be there.
 */
#include <dlfcn.h>
#include <errno.h>
#include <time.h>
#include <getopt.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include "conf.h"
#include "jetsnap-plugin.h"

#ifndef DEMO_PLUGIN_PATH
#define DEMO_PLUGIN_PATH "jetsnap-writer.so"
#endif

struct opts {
    const char *config, *plugin, *address, *acks, *map, *at_most;
    unsigned long long before; /* --verify --before USEC, 0 if not given */
    enum jetsnap_bus_loop loop;
    bool create, load, verify;
    unsigned long value_size; /* --load: bytes of each value (default 100) */
    unsigned writers;         /* --load: committing threads per instance; --verify: how many ran */
};

/* The commits an acks file lists for one instance. */
struct acked {
    unsigned long *seq;
    size_t n, cap;
    unsigned long max;
};

struct loader {
    const char *name;
    const char *db;
    JET_INSTANCE inst;
    pthread_t thread;
    unsigned long commits;
    unsigned long value_size;
    atomic_ulong *next_seq; /* shared by the instance's writers: each commit takes the next one */
    JET_ERR err;
};

static atomic_bool stopping;
static pthread_mutex_t ack_mu = PTHREAD_MUTEX_INITIALIZER;
static FILE *ack_file;

static int parse(int argc, char **argv, struct opts *o);
static int serve(const struct opts *o, const struct conf_config *cfg);
static int verify(const struct opts *o, const struct conf_config *cfg);
static int create_missing(const struct conf_config *cfg);
static const struct jetsnap_plugin *load_plugin(const char *path, void **so);
static void *load_main(void *arg);
static void on_log(void *ctx, int priority, const char *instance, int event, const char *message);
static int remap(const char *path, const char *map, char *out, size_t n);
static int read_acks(const char *path, const struct conf_config *cfg, unsigned long long before,
                     struct acked *a);
static void mkdirs(const char *path);

int main(int argc, char **argv)
{
    struct opts o = {.plugin = getenv("JETSNAP_PLUGIN") ? getenv("JETSNAP_PLUGIN") : DEMO_PLUGIN_PATH};
    int rc = parse(argc, argv, &o);
    if (rc >= 0)
        return rc;
    struct conf_config *cfg = NULL;
    struct conf_diags *d = NULL;
    if (conf_load_file(o.config, &cfg, &d) != CONF_OK) {
        for (size_t i = 0; d && i < d->count; i++)
            fprintf(stderr, "%s\n", d->items[i].text);
        conf_diags_free(d);
        return 1;
    }
    conf_diags_free(d);
    rc = o.verify ? verify(&o, cfg) : serve(&o, cfg);
    conf_free(cfg);
    return rc;
}

static int usage(FILE *f, int rc)
{
    fprintf(f, "usage: jetsnap-demo-app --config FILE [--plugin SO] [--address ADDR] [--loop thread|host]\n"
               "                        [--create] [--load] [--acks FILE] [--value-size BYTES] [--writers N]\n"
               "       jetsnap-demo-app --verify --config FILE --acks FILE [--map OLD=NEW] [--before USEC]\n"
               "                        [--at-most FILE] [--writers N]\n");
    return rc;
}

/* -1: go on; otherwise the exit code. */
static int parse(int argc, char **argv, struct opts *o)
{
    static const struct option lo[] = {
        {"config", required_argument, 0, 'c'}, {"plugin", required_argument, 0, 'p'},
        {"address", required_argument, 0, 'a'}, {"loop", required_argument, 0, 'l'},
        {"create", no_argument, 0, 'C'},        {"load", no_argument, 0, 'L'},
        {"acks", required_argument, 0, 'k'},    {"verify", no_argument, 0, 'V'},
        {"map", required_argument, 0, 'm'},     {"help", no_argument, 0, 'h'},
        {"value-size", required_argument, 0, 'v'}, {"before", required_argument, 0, 'b'},
        {"at-most", required_argument, 0, 'M'}, {"writers", required_argument, 0, 'w'},
        {0, 0, 0, 0},
    };
    int c;
    while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
        switch (c) {
        case 'c': o->config = optarg; break;
        case 'p': o->plugin = optarg; break;
        case 'a': o->address = optarg; break;
        case 'l':
            if (!strcmp(optarg, "thread"))
                o->loop = JETSNAP_BUS_THREAD;
            else if (!strcmp(optarg, "host"))
                o->loop = JETSNAP_BUS_HOST;
            else
                return usage(stderr, 2);
            break;
        case 'C': o->create = true; break;
        case 'L': o->load = true; break;
        case 'k': o->acks = optarg; break;
        case 'V': o->verify = true; break;
        case 'm': o->map = optarg; break;
        case 'b': o->before = strtoull(optarg, NULL, 10); break;
        case 'M': o->at_most = optarg; break;
        case 'w': {
            char *end;
            unsigned long v = strtoul(optarg, &end, 10);
            if (*end || v < 1 || v > 64) {
                fprintf(stderr, "jetsnap-demo-app: --writers takes 1 to 64 threads per instance\n");
                return 2;
            }
            o->writers = (unsigned)v;
            break;
        }
        case 'v': {
            char *end;
            o->value_size = strtoul(optarg, &end, 10);
            if (*end || o->value_size < 1 || o->value_size > 65536) {
                fprintf(stderr, "jetsnap-demo-app: --value-size takes 1 to 65536 bytes\n");
                return 2;
            }
            break;
        }
        case 'h': return usage(stdout, 0);
        default: return usage(stderr, 2);
        }
    }
    if (!o->config || optind != argc || (o->verify && !o->acks) || (o->load && !o->acks))
        return usage(stderr, 2);
    return -1;
}

static int serve(const struct opts *o, const struct conf_config *cfg)
{
    if (o->create && create_missing(cfg) != 0)
        return 1;
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    pthread_sigmask(SIG_BLOCK, &set, NULL); /* every thread started later inherits the mask */
    int sfd = signalfd(-1, &set, SFD_CLOEXEC);
    void *so = NULL;
    const struct jetsnap_plugin *P = load_plugin(o->plugin, &so);
    if (!P || sfd < 0)
        return 3;
    struct jetsnap_open_args a = {
        .struct_size = sizeof a,
        .config_path = o->config,
        .mode = JETSNAP_MODE_HOST,
        .log = on_log,
        .bus_address = o->address,
        .bus_loop = o->loop,
    };
    jetsnap_writer *w = NULL;
    struct jetsnap_error e = {0};
    if (P->open(&a, &w, &e) != JETSNAP_OK) {
        fprintf(stderr, "jetsnap-demo-app: cannot open the writer: %s\n", e.message);
        return 3;
    }
    struct jetsnap_status *st = NULL;
    struct loader *ld = NULL;
    atomic_ulong *seqs = NULL;
    size_t n = 0;
    if (o->load) {
        if (!(ack_file = fopen(o->acks, "a")) || P->status(w, &st, &e) != JETSNAP_OK) {
            fprintf(stderr, "jetsnap-demo-app: %s: %s\n", o->acks, ack_file ? e.message : strerror(errno));
            P->close(w);
            return 1;
        }
        unsigned writers = o->writers ? o->writers : 1;
        ld = calloc(st->n_instances * writers, sizeof *ld);
        seqs = calloc(st->n_instances, sizeof *seqs);
        for (size_t i = 0; ld && seqs && i < st->n_instances; i++) {
            const struct conf_instance *ci = conf_find_instance(cfg, st->instances[i].name);
            if (!st->instances[i].instance || !ci)
                continue;
            for (unsigned k = 0; k < writers; k++) {
                ld[n] = (struct loader){.name = ci->name, .db = ci->databases.v[0], .inst = st->instances[i].instance,
                                         .value_size = o->value_size ? o->value_size : 100, .next_seq = &seqs[i]};
                if (pthread_create(&ld[n].thread, NULL, load_main, &ld[n]) == 0)
                    n++;
            }
        }
    }
    printf("ready\n");
    fflush(stdout);
    int fd = P->bus_fd(w), timeout = -1;
    for (;;) {
        struct pollfd p[2] = {{.fd = sfd, .events = POLLIN}, {.fd = fd, .events = POLLIN}};
        int r = poll(p, fd >= 0 ? 2 : 1, timeout);
        if (r < 0 && errno != EINTR)
            break;
        if (p[0].revents)
            break;
        if (fd >= 0)
            timeout = P->bus_dispatch(w);
    }
    /* The load stops first: a commit blocked by a freeze returns when the freeze ends (thaw, or
     * the writer's time-out at the latest), then the writer closes and terminates the instances. */
    atomic_store(&stopping, true);
    unsigned long total = 0;
    int rc = 0;
    for (size_t i = 0; i < n; i++) {
        pthread_join(ld[i].thread, NULL);
        total += ld[i].commits;
        if (ld[i].err) {
            fprintf(stderr, "jetsnap-demo-app: instance %s: load stopped with error %ld\n", ld[i].name,
                    (long)ld[i].err);
            rc = 1;
        }
    }
    free(ld);
    free(seqs);
    if (st)
        P->status_free(st);
    P->close(w);
    if (ack_file)
        fclose(ack_file);
    if (o->load)
        fprintf(stderr, "jetsnap-demo-app: %lu commits acknowledged on %zu instances\n", total, n);
    /* The plugin stays loaded until exit: the engine it uses keeps process-wide state (the
     * instance table, the error-name cache) that unloading would strand. */
    (void)so;
    return rc;
}

static void *load_main(void *arg)
{
    struct loader *l = arg;
    JET_SESID s = 0;
    JET_DBID db = 0;
    JET_TABLEID t = 0;
    JET_ERR e = JetBeginSession(l->inst, &s, NULL, NULL);
    if (!e)
        e = JetOpenDatabase(s, l->db, NULL, &db, 0);
    if (!e)
        e = JetOpenTable(s, db, "t", NULL, 0, 0, &t);
    /* Bigger values make bigger databases faster: streaming tests need files that outgrow a
     * socket's buffer. */
    char *v = malloc(l->value_size);
    if (!v)
        return NULL;
    memset(v, 'v', l->value_size);
    while (!e && !atomic_load(&stopping)) {
        unsigned long seq = atomic_fetch_add(l->next_seq, 1) + 1;
        char k[16];
        snprintf(k, sizeof k, "%010lu", seq);
        e = JetBeginTransaction(s);
        if (!e)
            e = JetPutRecord(s, t, k, 10, v, l->value_size, 0);
        if (!e)
            e = JetCommitTransaction(s, 0);
        if (e)
            break;
        l->commits++;
        struct timespec now;
        clock_gettime(CLOCK_REALTIME, &now);
        pthread_mutex_lock(&ack_mu);
        fprintf(ack_file, "%s %lu %llu\n", l->name, seq,
                (unsigned long long)now.tv_sec * 1000000ull + (unsigned long long)now.tv_nsec / 1000u);
        fflush(ack_file);
        pthread_mutex_unlock(&ack_mu);
    }
    l->err = e;
    free(v);
    if (s)
        JetEndSession(s, 0);
    return NULL;
}

/* Applications create their databases; the writer never does. Each missing database of an
 * instance is created with one table "t", then the instance is terminated for the writer. */
static int create_missing(const struct conf_config *cfg)
{
    for (size_t i = 0; i < cfg->n_instances; i++) {
        const struct conf_instance *ci = &cfg->instances[i];
        struct stat sb;
        bool missing = false;
        for (size_t d = 0; d < ci->databases.n; d++)
            missing |= stat(ci->databases.v[d], &sb) != 0;
        if (!missing)
            continue;
        mkdirs(ci->system_path);
        mkdirs(ci->log_path);
        JET_INSTANCE in = 0;
        JET_SESID s = 0;
        JET_ERR e = JetCreateInstance2(&in, ci->name, NULL, 0);
        if (!e)
            e = JetSetSystemParameter(&in, 0, JET_paramSystemPath, 0, ci->system_path);
        if (!e)
            e = JetSetSystemParameter(&in, 0, JET_paramLogFilePath, 0, ci->log_path);
        if (!e)
            e = JetSetSystemParameter(&in, 0, JET_paramLogFileSize, ci->log_file_size_kb, NULL);
        if (!e)
            e = JetInit(&in);
        if (!e)
            e = JetBeginSession(in, &s, NULL, NULL);
        for (size_t d = 0; !e && d < ci->databases.n; d++) {
            if (stat(ci->databases.v[d], &sb) == 0)
                continue;
            JET_DBID db = 0;
            JET_TABLEID t = 0;
            e = JetCreateDatabase(s, ci->databases.v[d], NULL, &db, 0);
            if (!e)
                e = JetCreateTable(s, db, "t", 0, 0, &t);
        }
        JET_ERR te = in ? JetTerm(in) : 0;
        if (e || te) {
            fprintf(stderr, "jetsnap-demo-app: creating the databases of %s failed with error %ld\n", ci->name,
                    (long)(e ? e : te));
            return -1;
        }
    }
    return 0;
}

/* --verify: recover each instance of a copy (paths remapped OLD=NEW) and check that every commit
 * listed in the acks file is there. */
static int verify(const struct opts *o, const struct conf_config *cfg)
{
    struct acked *want = calloc(cfg->n_instances, sizeof *want), *most = calloc(cfg->n_instances, sizeof *most);
    unsigned writers = o->writers ? o->writers : 1;
    int rc = want && most ? 0 : 1;
    if (rc == 0)
        rc = read_acks(o->acks, cfg, o->before, want);
    if (rc == 0 && o->at_most)
        rc = read_acks(o->at_most, cfg, 0, most);
    unsigned long checked = 0;
    for (size_t i = 0; rc == 0 && i < cfg->n_instances; i++) {
        const struct conf_instance *ci = &cfg->instances[i];
        char sys[4096], logp[4096], db[4096];
        if (remap(ci->system_path, o->map, sys, sizeof sys) || remap(ci->log_path, o->map, logp, sizeof logp) ||
            remap(ci->databases.v[0], o->map, db, sizeof db)) {
            rc = 1;
            break;
        }
        JET_INSTANCE in = 0;
        JET_SESID s = 0;
        JET_DBID dbid = 0;
        JET_TABLEID t = 0;
        char vname[160];
        snprintf(vname, sizeof vname, "verify-%s", ci->name);
        JET_ERR e = JetCreateInstance2(&in, vname, NULL, 0);
        if (!e)
            e = JetSetSystemParameter(&in, 0, JET_paramSystemPath, 0, sys);
        if (!e)
            e = JetSetSystemParameter(&in, 0, JET_paramLogFilePath, 0, logp);
        if (!e)
            e = JetSetSystemParameter(&in, 0, JET_paramLogFileSize, ci->log_file_size_kb, NULL);
        /* The copy's logs name the databases at their original paths: the restore map sends
         * recovery to the copied files, so the live ones are never touched. */
        size_t nmap = ci->databases.n;
        JET_RSTMAP *map = calloc(nmap, sizeof *map);
        char(*moved)[4096] = calloc(nmap, sizeof *moved);
        for (size_t d = 0; !e && map && moved && d < nmap; d++) {
            if (remap(ci->databases.v[d], o->map, moved[d], sizeof moved[d]))
                e = JET_errInvalidPath;
            map[d] = (JET_RSTMAP){ci->databases.v[d], moved[d]};
        }
        JET_RSTINFO ri = {.cbStruct = sizeof ri, .rgrstmap = map, .crstmap = (long)nmap};
        if (!map || !moved)
            e = JET_errOutOfMemory;
        if (!e)
            e = JetInit3(&in, o->map ? &ri : NULL, 0);
        free(map);
        free(moved);
        if (!e)
            e = JetBeginSession(in, &s, NULL, NULL);
        if (!e)
            e = JetAttachDatabase(s, db, 0);
        if (!e)
            e = JetOpenDatabase(s, db, NULL, &dbid, 0);
        if (!e)
            e = JetOpenTable(s, dbid, "t", NULL, 0, 0, &t);
        if (!e && o->at_most) {
            /* Keys are the sequence in ten digits: the last key is the last commit in the copy. A
             * writer may have made one more commit durable than it acknowledged. */
            char key[16] = "";
            unsigned long got = 0;
            e = JetMove(s, t, JET_MoveLast, 0);
            if (!e)
                e = JetRetrieveKey(s, t, key, sizeof key - 1, &got, 0);
            unsigned long last = e == JET_errNoCurrentRecord ? 0 : strtoul(key, NULL, 10);
            if (e == JET_errNoCurrentRecord)
                e = JET_errSuccess;
            /* Writers take sequence numbers in turn, and each may have one commit durable but not
             * yet acknowledged: nothing past the last acknowledged + the number of writers. */
            if (!e && last > most[i].max + writers) {
                fprintf(stderr, "jetsnap-demo-app: %s: the copy holds commit %lu, but only up to %lu had been "
                        "acknowledged (by %u writers) by the time %s was taken\n", ci->name, last, most[i].max,
                        writers, o->at_most);
                e = JET_errDatabaseCorrupted;
            }
        }
        for (size_t j = 0; !e && j < want[i].n; j++) {
            char key[16], v[128];
            unsigned long got = 0, k = want[i].seq[j];
            snprintf(key, sizeof key, "%010lu", k);
            e = JetGetRecord(s, t, key, 10, v, sizeof v, &got, 0);
            if (e == JET_wrnBufferTruncated) /* a --value-size larger than the buffer: present is enough */
                e = JET_errSuccess;
            if (e)
                fprintf(stderr, "jetsnap-demo-app: %s: acknowledged commit %lu is missing from the copy (%ld)\n",
                        ci->name, k, (long)e);
            else
                checked++;
        }
        if (e) {
            fprintf(stderr, "jetsnap-demo-app: verifying %s failed with error %ld\n", ci->name, (long)e);
            rc = 1;
        }
        if (in)
            JetTerm(in);
    }
    for (size_t i = 0; i < cfg->n_instances; i++) {
        free(want ? want[i].seq : NULL);
        free(most ? most[i].seq : NULL);
    }
    free(want);
    free(most);
    if (rc == 0)
        printf("verified %lu acknowledged commits in %zu instances%s\n", checked, cfg->n_instances,
               o->at_most ? ", and none past the later acks file" : "");
    return rc;
}

/* The commits acknowledged per instance in an acks file (only those acknowledged before `before`,
 * when it is not 0, which needs the time column). 0 or 1 (message printed). */
static int read_acks(const char *path, const struct conf_config *cfg, unsigned long long before, struct acked *a)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        fprintf(stderr, "jetsnap-demo-app: %s: %s\n", path, strerror(errno));
        return 1;
    }
    char line[256], name[128];
    unsigned long seq;
    unsigned long long usec;
    int rc = 0;
    while (rc == 0 && fgets(line, sizeof line, f)) {
        int n = sscanf(line, "%127s %lu %llu", name, &seq, &usec);
        if (n < 2 || (before && n < 3)) {
            fprintf(stderr, "jetsnap-demo-app: %s: a line that is not \"INSTANCE SEQ USEC\": %s", path, line);
            rc = 1;
            break;
        }
        if (before && usec >= before)
            continue;
        for (size_t i = 0; i < cfg->n_instances; i++) {
            struct acked *x = &a[i];
            if (strcmp(cfg->instances[i].name, name) != 0)
                continue;
            if (x->n == x->cap) {
                size_t cap = x->cap ? 2 * x->cap : 1024;
                unsigned long *v = realloc(x->seq, cap * sizeof *v);
                if (!v) {
                    fprintf(stderr, "jetsnap-demo-app: out of memory reading %s\n", path);
                    rc = 1;
                    break;
                }
                x->seq = v;
                x->cap = cap;
            }
            x->seq[x->n++] = seq;
            if (seq > x->max)
                x->max = seq;
        }
    }
    fclose(f);
    return rc;
}

/* mkdir -p: an error shows up when the database is created there. */
static void mkdirs(const char *path)
{
    char p[4096];
    snprintf(p, sizeof p, "%s", path);
    for (char *s = p + 1; *s; s++)
        if (*s == '/') {
            *s = '\0';
            mkdir(p, 0755);
            *s = '/';
        }
    mkdir(p, 0755);
}

static int remap(const char *path, const char *map, char *out, size_t n)
{
    const char *eq = map ? strchr(map, '=') : NULL;
    size_t ol = eq ? (size_t)(eq - map) : 0;
    if (eq && !strncmp(path, map, ol) && (path[ol] == '/' || path[ol] == '\0'))
        return snprintf(out, n, "%s%s", eq + 1, path + ol) >= (int)n;
    return snprintf(out, n, "%s", path) >= (int)n;
}

static const struct jetsnap_plugin *load_plugin(const char *path, void **so)
{
    *so = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!*so) {
        fprintf(stderr, "jetsnap-demo-app: cannot load the writer plugin: %s\n", dlerror());
        return NULL;
    }
    void *sym = dlsym(*so, JETSNAP_PLUGIN_ENTRY);
    jetsnap_plugin_entry_fn *entry = NULL;
    memcpy(&entry, &sym, sizeof entry); /* ISO C has no object-to-function pointer cast */
    const struct jetsnap_plugin *P = entry ? entry(JETSNAP_PLUGIN_ABI_VERSION) : NULL;
    if (!P)
        fprintf(stderr, "jetsnap-demo-app: %s is not a jetsnap writer plugin of ABI %u\n", path,
                JETSNAP_PLUGIN_ABI_VERSION);
    return P;
}

static void on_log(void *ctx, int priority, const char *instance, int event, const char *message)
{
    (void)ctx;
    fprintf(stderr, "<%d>jetsnap-demo-app: %s%s%s (event %d)\n", priority, instance ? instance : "",
            instance ? ": " : "", message, event);
}
