/*
 * jetsnapd — the small host of jetsnap-writer.so. It loads the plugin with dlopen and drives it
 * through jetsnap-plugin.h only, exactly as a third-party host would (it links neither the writer
 * nor libjet: the plugin brings the engine). The writer starts the instances of the ini file (host
 * mode) and serves them on D-Bus from jetsnapd's own poll loop until SIGTERM or SIGINT; then close
 * thaws whatever is frozen (AutoThawed "shutdown") and terminates the instances cleanly.
 *
 * docs/jetsnapd.md is the manual: options, exit codes, log lines, signals.
 */
#include <dlfcn.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>

#include "conf-report.h"
#include "jetsnap-plugin.h"

#ifndef JETSNAPD_PLUGIN_PATH
#error "meson passes -DJETSNAPD_PLUGIN_PATH=\"<prefix>/<libdir>/jetsnap/jetsnap-writer.so\""
#endif
#ifndef JETSNAPD_VERSION
#define JETSNAPD_VERSION "unknown"
#endif

/* Exit codes, as docs/jetsnapd.md lists them. */
enum {
    EXIT_CLEAN = 0,  /* stopped by SIGTERM/SIGINT after a clean close; --check-config: valid */
    EXIT_CONFIG = 1, /* the configuration has errors or cannot be read */
    EXIT_USAGE = 2,  /* bad command line */
    EXIT_PLUGIN = 3, /* the plugin could not be loaded, or the writer not opened */
    EXIT_SYSTEM = 4, /* a system call of jetsnapd's own failed, or out of memory */
};

/* Syslog priorities of jetsnapd's own lines (the writer's come with theirs). */
enum { PRIO_ERR = 3, PRIO_WARNING = 4, PRIO_NOTICE = 5, PRIO_INFO = 6 };

/* A member a later minor version of the table appended is only there when struct_size covers it. */
#define PLUGIN_HAS(p, member) \
    ((p)->struct_size >= offsetof(struct jetsnap_plugin, member) + sizeof((p)->member))

struct options {
    const char *config;
    const char *bus_address; /* NULL: the config's "bus" key decides */
    const char *plugin;
    bool check_config;
};

static int parse_args(int argc, char **argv, struct options *o);
static int check_config(const char *path);
static int serve(const struct options *o);
static int load_plugin(const char *path, const struct jetsnap_plugin **pp);
static void announce(const struct jetsnap_plugin *P, jetsnap_writer *w);
static int run_loop(const struct jetsnap_plugin *P, jetsnap_writer *w, int sfd, int *psig);
static void on_writer_log(void *ctx, int priority, const char *instance, int event, const char *message);
static void say(int priority, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int64_t deadline_after(int ms);
static int ms_until(int64_t deadline);
static int64_t now_ms(void);

int main(int argc, char **argv)
{
    struct options o = {0};
    int rc = parse_args(argc, argv, &o);
    if (rc >= 0)
        return rc;
    return o.check_config ? check_config(o.config) : serve(&o);
}

static void usage(FILE *f)
{
    fprintf(f,
            "usage: jetsnapd --config FILE [--session | --system | --address ADDRESS] [--plugin PATH]\n"
            "       jetsnapd --config FILE --check-config\n"
            "Host the jetsnap writer: start the instances of FILE, serve them to snapshot\n"
            "coordinators on D-Bus until SIGTERM or SIGINT, then thaw and terminate them cleanly.\n"
            "\n"
            "  -c, --config FILE    the configuration file (jetsnap.conf(5))\n"
            "      --session        connect to the session bus (overrides the file's \"bus\")\n"
            "      --system         connect to the system bus (overrides the file's \"bus\")\n"
            "      --address ADDR   connect to the D-Bus address ADDR, e.g. unix:path=/run/x/bus\n"
            "      --plugin PATH    load the writer from PATH (default: $JETSNAP_PLUGIN if set,\n"
            "                       else %s)\n"
            "      --check-config   check FILE and start nothing: every problem is printed as\n"
            "                       FILE:LINE: problem, a valid file gets a one-line summary\n"
            "  -h, --help           show this help and exit\n"
            "  -V, --version        show the version and exit\n"
            "\n"
            "Exit status: 0 clean shutdown (with --check-config: the file is valid),\n"
            "1 configuration errors, 2 bad usage, 3 the writer plugin could not be loaded or\n"
            "opened, 4 a system error. Log lines go to stderr with <N> syslog priority prefixes.\n",
            JETSNAPD_PLUGIN_PATH);
}

/* Returns an exit code when the command line says to stop (help, version, bad usage), else -1. */
static int parse_args(int argc, char **argv, struct options *o)
{
    enum { OPT_SESSION = 256, OPT_SYSTEM, OPT_ADDRESS, OPT_PLUGIN, OPT_CHECK_CONFIG };
    static const struct option longopts[] = {
        {"config", required_argument, NULL, 'c'},
        {"session", no_argument, NULL, OPT_SESSION},
        {"system", no_argument, NULL, OPT_SYSTEM},
        {"address", required_argument, NULL, OPT_ADDRESS},
        {"plugin", required_argument, NULL, OPT_PLUGIN},
        {"check-config", no_argument, NULL, OPT_CHECK_CONFIG},
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},
        {NULL, 0, NULL, 0},
    };
    int n_bus = 0;
    int c;
    while ((c = getopt_long(argc, argv, "c:hV", longopts, NULL)) != -1) {
        switch (c) {
        case 'c':
            o->config = optarg;
            break;
        case OPT_SESSION:
            o->bus_address = "session";
            n_bus++;
            break;
        case OPT_SYSTEM:
            o->bus_address = "system";
            n_bus++;
            break;
        case OPT_ADDRESS:
            if (!*optarg) {
                fprintf(stderr, "jetsnapd: --address needs a D-Bus address, e.g. unix:path=/run/x/bus\n");
                return EXIT_USAGE;
            }
            o->bus_address = optarg;
            n_bus++;
            break;
        case OPT_PLUGIN:
            o->plugin = optarg;
            break;
        case OPT_CHECK_CONFIG:
            o->check_config = true;
            break;
        case 'h':
            usage(stdout);
            return EXIT_CLEAN;
        case 'V':
            printf("jetsnapd %s (writer plugin ABI %u)\n", JETSNAPD_VERSION, JETSNAP_PLUGIN_ABI_VERSION);
            return EXIT_CLEAN;
        default: /* getopt has said what was wrong */
            fprintf(stderr, "Try 'jetsnapd --help'.\n");
            return EXIT_USAGE;
        }
    }
    const char *problem = NULL;
    if (optind < argc)
        problem = "unexpected argument";
    else if (!o->config)
        problem = "--config FILE is required";
    else if (n_bus > 1)
        problem = "--session, --system and --address exclude each other";
    if (problem) {
        fprintf(stderr, "jetsnapd: %s%s%s\nTry 'jetsnapd --help'.\n", problem, optind < argc ? " " : "",
                optind < argc ? argv[optind] : "");
        return EXIT_USAGE;
    }
    if (!o->plugin) {
        const char *env = getenv("JETSNAP_PLUGIN");
        o->plugin = env && *env ? env : JETSNAPD_PLUGIN_PATH;
    }
    return -1;
}

/* The same report as jetsnap-check-config, and nothing is loaded: a unit's ExecStartPre can run it
 * with the daemon's own arguments. */
static int check_config(const char *path)
{
    int r = conf_report_check(path, stdout, stderr);
    return r == CONF_OK ? EXIT_CLEAN : r == CONF_EINVALID || r == CONF_EIO ? EXIT_CONFIG : EXIT_SYSTEM;
}

static int serve(const struct options *o)
{
    /* stderr may be a pipe to a logger that goes away; dying of SIGPIPE there would skip close,
     * and with it the clean thaw and termination of the instances. */
    signal(SIGPIPE, SIG_IGN);

    /* Blocked before open: the writer's threads inherit this mask, so the signals wait in the
     * signalfd for the loop instead of killing the process on whichever thread they land. */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    int sfd = -1;
    if (sigprocmask(SIG_BLOCK, &set, NULL) != 0 || (sfd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK)) < 0) {
        say(PRIO_ERR, "cannot set up the signal descriptor: %s", strerror(errno));
        return EXIT_SYSTEM;
    }

    const struct jetsnap_plugin *P = NULL;
    int rc = load_plugin(o->plugin, &P);
    if (rc != EXIT_CLEAN) {
        close(sfd);
        return rc;
    }

    /* An older plugin without the host-loop members runs its bus on a thread of its own. */
    bool host_loop = PLUGIN_HAS(P, bus_dispatch);
    struct jetsnap_open_args args = {
        .struct_size = sizeof args,
        .config_path = o->config,
        .mode = JETSNAP_MODE_HOST,
        .log = on_writer_log,
        .bus_address = o->bus_address,
        .bus_loop = host_loop ? JETSNAP_BUS_HOST : JETSNAP_BUS_THREAD,
    };
    struct jetsnap_error err = {0};
    jetsnap_writer *w = NULL;
    int orc = P->open(&args, &w, &err);
    if (orc != JETSNAP_OK) {
        /* With a config error the writer has already logged every FILE:LINE through on_writer_log. */
        if (orc == JETSNAP_E_CONFIG)
            say(PRIO_ERR, "%s: the configuration has errors (listed above); nothing was started", o->config);
        else
            say(PRIO_ERR, "cannot open the writer with %s: %s", o->config,
                err.message[0] ? err.message : "no reason given");
        close(sfd);
        return orc == JETSNAP_E_CONFIG ? EXIT_CONFIG : orc == JETSNAP_E_NO_MEMORY ? EXIT_SYSTEM : EXIT_PLUGIN;
    }
    announce(P, w);

    int sig = 0;
    rc = run_loop(host_loop ? P : NULL, w, sfd, &sig);
    if (sig)
        say(PRIO_INFO, "%s received: thawing and terminating the instances",
            sig == SIGTERM ? "SIGTERM" : sig == SIGINT ? "SIGINT" : "signal");
    P->close(w);
    say(PRIO_INFO, "stopped");
    close(sfd);
    return rc;
}

/* A plugin that is used stays loaded until exit: the engine it brings keeps process-wide state (its
 * instance table) in the module's data, and unmapping that just before exit buys nothing but
 * making it look leaked to LeakSanitizer. */
static int load_plugin(const char *path, const struct jetsnap_plugin **pp)
{
    void *so = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!so) {
        say(PRIO_ERR, "cannot load the writer plugin: %s (give its path with --plugin or JETSNAP_PLUGIN)",
            dlerror());
        return EXIT_PLUGIN;
    }
    void *sym = dlsym(so, JETSNAP_PLUGIN_ENTRY);
    jetsnap_plugin_entry_fn *entry = NULL;
    memcpy(&entry, &sym, sizeof entry); /* ISO C has no cast from object to function pointer */
    const struct jetsnap_plugin *P = entry ? entry(JETSNAP_PLUGIN_ABI_VERSION) : NULL;
    const char *why = !entry ? "it does not export " JETSNAP_PLUGIN_ENTRY
                      : !P   ? "it does not offer the writer ABI version jetsnapd was built for"
                      : !PLUGIN_HAS(P, status_free) ? "its function table is too short"
                                                    : NULL;
    if (why) {
        say(PRIO_ERR, "cannot use the writer plugin %s: %s", path, why);
        dlclose(so);
        return EXIT_PLUGIN;
    }
    *pp = P;
    return EXIT_CLEAN;
}

/* One line that says the daemon is up and what it serves; a test (or a person) waits for it. */
static void announce(const struct jetsnap_plugin *P, jetsnap_writer *w)
{
    struct jetsnap_status *st = NULL;
    struct jetsnap_error err = {0};
    if (P->status(w, &st, &err) != JETSNAP_OK) {
        say(PRIO_WARNING, "ready, but the writer's status is not available: %s", err.message);
        return;
    }
    static const char more[] = ", ...";
    char names[1024] = "";
    size_t len = 0, running = 0;
    bool cut = false;
    for (size_t i = 0; i < st->n_instances; i++) {
        if (strcmp(st->instances[i].state, "running") != 0)
            continue;
        running++;
        if (cut)
            continue; /* the count stays right; only the list is cut */
        size_t room = sizeof names - len - sizeof more; /* kept back for the mark of a cut */
        int n = snprintf(names + len, room, "%s%s", len ? ", " : "", st->instances[i].name);
        if (n < 0 || (size_t)n >= room) {
            memcpy(names + len, more, sizeof more);
            cut = true;
            continue;
        }
        len += (size_t)n;
    }
    say(running == st->n_instances ? PRIO_INFO : PRIO_WARNING, "ready: %zu of %zu instance%s running (%s)",
        running, st->n_instances, st->n_instances == 1 ? "" : "s", names);
    P->status_free(st);
}

/* Serve until SIGTERM or SIGINT. P is NULL when the writer runs its bus on its own thread: then
 * only the signals are waited for. bus_fd may be -1 (no connection, or no bus at all): poll skips
 * a negative descriptor, and the writer's time-outs still drive bus_dispatch. */
static int run_loop(const struct jetsnap_plugin *P, jetsnap_writer *w, int sfd, int *psig)
{
    /* Once at once: the writer may have bus work pending from open, and its answer says when it
     * wants the next call. */
    int64_t deadline = P ? deadline_after(P->bus_dispatch(w)) : -1;
    for (;;) {
        struct pollfd pf[2] = {
            {.fd = sfd, .events = POLLIN},
            {.fd = P ? P->bus_fd(w) : -1, .events = POLLIN},
        };
        int n = poll(pf, 2, deadline < 0 ? -1 : ms_until(deadline));
        if (n < 0) {
            if (errno == EINTR)
                continue;
            say(PRIO_ERR, "poll: %s", strerror(errno));
            return EXIT_SYSTEM;
        }
        if (pf[0].revents & POLLIN) {
            struct signalfd_siginfo si;
            ssize_t r = read(sfd, &si, sizeof si);
            if (r == (ssize_t)sizeof si) {
                *psig = (int)si.ssi_signo;
                return EXIT_CLEAN;
            }
            if (r < 0 && errno != EAGAIN && errno != EINTR) {
                say(PRIO_ERR, "reading the signal descriptor: %s", strerror(errno));
                return EXIT_SYSTEM;
            }
        }
        if (P && (pf[1].revents || (deadline >= 0 && now_ms() >= deadline)))
            deadline = deadline_after(P->bus_dispatch(w));
    }
}

/* The writer's log callback. An instance and an event id, when given, go in front and at the end
 * of the line, so a line can be found by instance and by id (docs/writer.md, "Events"). */
static void on_writer_log(void *ctx, int priority, const char *instance, int event, const char *message)
{
    (void)ctx;
    /* Out of syslog's 0..7 the prefix would not be read as one: such a line is a notice. */
    if (priority < 0 || priority > 7)
        priority = PRIO_NOTICE;
    char ev[32] = "";
    if (event)
        snprintf(ev, sizeof ev, " (event %d)", event);
    if (instance)
        say(priority, "instance %s: %s%s", instance, message ? message : "", ev);
    else
        say(priority, "%s%s", message ? message : "", ev);
}

/* One log line "<N>jetsnapd: ..." on stderr, written with one write(2) so that lines of the writer's
 * threads do not interleave, and kept to one line (journald starts a new entry at each newline). */
static void say(int priority, const char *fmt, ...)
{
    char line[4096];
    int head = snprintf(line, sizeof line, "<%d>jetsnapd: ", priority);
    size_t room = sizeof line - 1 - (size_t)head; /* one byte kept for the '\n' */
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line + head, room, fmt, ap);
    va_end(ap);
    size_t len = (size_t)head + (n < 0 ? 0 : (size_t)n < room ? (size_t)n : room - 1); /* cut if long */
    for (size_t i = (size_t)head; i < len; i++)
        if (line[i] == '\n' || line[i] == '\r')
            line[i] = ' ';
    line[len++] = '\n';
    for (size_t off = 0; off < len;) {
        ssize_t w = write(STDERR_FILENO, line + off, len - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return; /* nowhere to log to: carry on serving */
        off += (size_t)w;
    }
}

/* bus_dispatch's answer (ms, or -1 for none) as an absolute CLOCK_MONOTONIC deadline, or -1. */
static int64_t deadline_after(int ms)
{
    return ms < 0 ? -1 : now_ms() + ms;
}

static int ms_until(int64_t deadline)
{
    int64_t left = deadline - now_ms();
    return left <= 0 ? 0 : left > INT_MAX ? INT_MAX : (int)left;
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}
