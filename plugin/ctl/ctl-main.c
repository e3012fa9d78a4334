/*
 * ctl-main.c — jetsnapctl's command line: global options, the command, its options, usage.
 * Global options are accepted before and after the command name, so that a script can keep one
 * prefix ("jetsnapctl --address X") for every command.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl-int.h"

enum {
    OPT_SESSION_BUS = 0x100,
    OPT_SYSTEM_BUS,
    OPT_ADDRESS,
    OPT_BUS_NAME,
    OPT_TIMEOUT,
    OPT_HELP,
    OPT_JSON,
    OPT_TYPE,
    OPT_INSTANCE,
    OPT_ABORT,
};

/* parse_command's answers besides an exit code: go on with the command, or --help was printed. */
#define PARSE_GO (-1)
#define PARSE_HELP (-2)

#define GLOBAL_OPTIONS                                                                              \
    {"session", no_argument, NULL, OPT_SESSION_BUS}, {"system", no_argument, NULL, OPT_SYSTEM_BUS}, \
        {"address", required_argument, NULL, OPT_ADDRESS},                                          \
        {"bus-name", required_argument, NULL, OPT_BUS_NAME},                                        \
        {"timeout", required_argument, NULL, OPT_TIMEOUT}, {"help", no_argument, NULL, OPT_HELP}

static const char usage_global[] =
    "Usage: jetsnapctl [GLOBAL OPTIONS] COMMAND [OPTIONS]\n"
    "\n"
    "Coordinates application-consistent snapshots of jetsnap instances through their writer\n"
    "(org.jetsnap.Writer1 on D-Bus).\n"
    "\n"
    "Commands:\n"
    "  status [--json]                         the writer, its session and its instances\n"
    "  snapshot [--type T] [--instance N]... -- COMMAND [ARG]...\n"
    "                                          freeze, run COMMAND, thaw, complete\n"
    "  freeze [--type T] [--instance N]...     freeze and return, leaving a holder process\n"
    "  thaw [--abort] [SESSION]                thaw what freeze froze\n"
    "\n"
    "Global options (before or after the command):\n"
    "  --system            the system bus (default)\n"
    "  --session           the session bus\n"
    "  --address ADDR      the bus at a D-Bus address (unix:path=...)\n"
    "  --bus-name NAME     the writer's bus name (default org.jetsnap.Writer1)\n"
    "  --timeout MS        the longest to wait for each D-Bus reply (default 25000)\n"
    "  --help              this text; COMMAND --help for a command's\n"
    "\n"
    "Exit codes: 0 done, 1 other failure, 2 usage, 3 writer unreachable, 4 nothing frozen\n"
    "(prepare or freeze refused), 5 COMMAND failed, 6 the freeze ended before thaw (discard the\n"
    "snapshot), 7 thaw or completion failed, 8 nothing to thaw, 9 the freeze is not a holder's,\n"
    "128+N ended by signal N. See docs/jetsnapctl.md.\n";

static const char usage_status[] =
    "Usage: jetsnapctl status [--json]\n"
    "\n"
    "Prints the writer's state, the owner and state of its active session and how long it has\n"
    "been frozen, and every instance's state and last error. --json prints the same as one JSON\n"
    "object. Exit codes: 0, 1, 2, 3.\n";

static const char usage_snapshot[] =
    "Usage: jetsnapctl snapshot [--type TYPE] [--instance NAME]... -- COMMAND [ARG]...\n"
    "\n"
    "Prepares a backup of the instances (all of them when none is named), freezes them, runs\n"
    "COMMAND (its output passed through), thaws, and completes the backup when COMMAND exited 0\n"
    "and the freeze held until thaw, or aborts it otherwise. A one-line summary goes to stderr.\n"
    "\n"
    "  --type TYPE       full, copy (default), incremental or differential; full and\n"
    "                    incremental truncate the logs on completion, copy never does\n"
    "  --instance NAME   an instance to include (repeat for more)\n"
    "\n"
    "Exit codes: 0 done, 3 writer unreachable, 4 nothing frozen, 5 COMMAND failed (aborted),\n"
    "6 the freeze ended before thaw (discard the snapshot), 7 thaw or completion failed,\n"
    "128+N interrupted by signal N (thawed and aborted).\n";

static const char usage_freeze[] =
    "Usage: jetsnapctl freeze [--type TYPE] [--instance NAME]...\n"
    "\n"
    "Freezes the instances and returns, for hooks whose process exits between freeze and thaw.\n"
    "A holder process keeps the freeze (the writer thaws when its owner leaves the bus) until\n"
    "'jetsnapctl thaw', the writer's freeze time-out, or its own death. Prints the session's\n"
    "object path on success. Options as for snapshot.\n"
    "\n"
    "Exit codes: 0 frozen, 3 writer unreachable, 4 nothing frozen, 1 the holder failed or the\n"
    "path could not be printed (nothing stays frozen), 6 the holder ended before it was told.\n";

static const char usage_thaw[] =
    "Usage: jetsnapctl thaw [--abort] [SESSION]\n"
    "\n"
    "Thaws the freeze a 'jetsnapctl freeze' holder keeps and completes the backup, or aborts it\n"
    "with --abort. SESSION, the path freeze printed, lets thaw tell a freeze that ended early\n"
    "(exit 6) from one already thawed (exit 8) once the holder is gone.\n"
    "\n"
    "Exit codes: 0 thawed, 3 writer unreachable, 6 the freeze ended before thaw (discard the\n"
    "snapshot), 7 thaw or completion failed, 8 nothing is frozen, 9 the freeze is not a holder's.\n";

static int run_status(int argc, char **argv, struct ctl_opts *o);
static int run_snapshot(int argc, char **argv, struct ctl_opts *o);
static int run_freeze(int argc, char **argv, struct ctl_opts *o);
static int run_thaw(int argc, char **argv, struct ctl_opts *o);
static int parse_command(int argc, char **argv, const char *cmd, const struct option *extra, size_t n_extra,
                         const char *usage, struct ctl_opts *o);
static bool parse_global(int opt, const char *cmd, struct ctl_opts *o, bool *bad);
static void usage_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

int main(int argc, char **argv)
{
    struct ctl_opts o = {
        .bus = CTL_BUS_SYSTEM,
        .bus_name = CTL_DEFAULT_BUS_NAME,
        .timeout_ms = CTL_DEFAULT_TIMEOUT_MS,
        /* copy never truncates logs: a snapshot taken by hand must not change what a backup
         * agent's next incremental needs. */
        .type = "copy",
    };
    static const struct option globals[] = {GLOBAL_OPTIONS, {0}};
    bool bad = false;
    int opt;
    while ((opt = getopt_long(argc, argv, "+", globals, NULL)) != -1) {
        if (parse_global(opt, NULL, &o, &bad))
            continue;
        if (opt == OPT_HELP) {
            fputs(usage_global, stdout);
            return CTL_EXIT_OK;
        }
        fprintf(stderr, "Try 'jetsnapctl --help'.\n");
        return CTL_EXIT_USAGE;
    }
    if (bad)
        return CTL_EXIT_USAGE;
    if (optind >= argc) {
        usage_error(NULL, "no command given (status, snapshot, freeze, thaw)");
        return CTL_EXIT_USAGE;
    }
    /* The command's own parse starts at its name, as getopt expects argv[0] to be. */
    int cargc = argc - optind;
    char **cargv = argv + optind;
    const char *cmd = cargv[0];
    int rc;
    if (strcmp(cmd, "status") == 0)
        rc = run_status(cargc, cargv, &o);
    else if (strcmp(cmd, "snapshot") == 0)
        rc = run_snapshot(cargc, cargv, &o);
    else if (strcmp(cmd, "freeze") == 0)
        rc = run_freeze(cargc, cargv, &o);
    else if (strcmp(cmd, "thaw") == 0)
        rc = run_thaw(cargc, cargv, &o);
    else {
        usage_error(NULL, "unknown command '%s' (status, snapshot, freeze, thaw)", cmd);
        rc = CTL_EXIT_USAGE;
    }
    free(o.instances);
    return rc;
}

static int run_status(int argc, char **argv, struct ctl_opts *o)
{
    static const struct option extra[] = {{"json", no_argument, NULL, OPT_JSON}};
    int rc = parse_command(argc, argv, "status", extra, 1, usage_status, o);
    if (rc != PARSE_GO)
        return rc == PARSE_HELP ? CTL_EXIT_OK : rc;
    if (optind < argc) {
        usage_error("status", "unexpected argument '%s'", argv[optind]);
        return CTL_EXIT_USAGE;
    }
    return ctl_status(o);
}

static const struct option freeze_options[] = {
    {"type", required_argument, NULL, OPT_TYPE},
    {"instance", required_argument, NULL, OPT_INSTANCE},
};

static int run_snapshot(int argc, char **argv, struct ctl_opts *o)
{
    int rc = parse_command(argc, argv, "snapshot", freeze_options, 2, usage_snapshot, o);
    if (rc != PARSE_GO)
        return rc == PARSE_HELP ? CTL_EXIT_OK : rc;
    if (optind >= argc) {
        usage_error("snapshot", "no COMMAND to run while frozen (jetsnapctl snapshot -- COMMAND [ARG]...)");
        return CTL_EXIT_USAGE;
    }
    o->command = argv + optind;
    return ctl_snapshot(o);
}

static int run_freeze(int argc, char **argv, struct ctl_opts *o)
{
    int rc = parse_command(argc, argv, "freeze", freeze_options, 2, usage_freeze, o);
    if (rc != PARSE_GO)
        return rc == PARSE_HELP ? CTL_EXIT_OK : rc;
    if (optind < argc) {
        usage_error("freeze", "unexpected argument '%s'", argv[optind]);
        return CTL_EXIT_USAGE;
    }
    return ctl_freeze(o);
}

static int run_thaw(int argc, char **argv, struct ctl_opts *o)
{
    static const struct option extra[] = {{"abort", no_argument, NULL, OPT_ABORT}};
    int rc = parse_command(argc, argv, "thaw", extra, 1, usage_thaw, o);
    if (rc != PARSE_GO)
        return rc == PARSE_HELP ? CTL_EXIT_OK : rc;
    if (optind < argc) {
        if (optind + 1 < argc || !dbus_validate_path(argv[optind], NULL)) {
            usage_error("thaw", "SESSION is the object path freeze printed, not '%s'", argv[optind]);
            return CTL_EXIT_USAGE;
        }
        o->session_path = argv[optind];
    }
    return ctl_thaw(o);
}

static int parse_command(int argc, char **argv, const char *cmd, const struct option *extra, size_t n_extra,
                         const char *usage, struct ctl_opts *o)
{
    struct option longopts[16] = {GLOBAL_OPTIONS};
    size_t base = 6;
    for (size_t i = 0; i < n_extra && base + i < 15; i++)
        longopts[base + i] = extra[i];
    bool bad = false;
    optind = 1;
    int opt;
    /* getopt's own complaints start with argv[0]: make them say whose. */
    static char prog[64];
    snprintf(prog, sizeof prog, "jetsnapctl %s", cmd);
    argv[0] = prog;
    /* "+": stop at the first operand, so COMMAND's own options are left to COMMAND. */
    while ((opt = getopt_long(argc, argv, "+", longopts, NULL)) != -1) {
        if (parse_global(opt, cmd, o, &bad))
            continue;
        switch (opt) {
        case OPT_HELP:
            fputs(usage, stdout);
            return PARSE_HELP;
        case OPT_JSON:
            o->json = true;
            break;
        case OPT_TYPE:
            if (!dbus_validate_utf8(optarg, NULL) || !optarg[0]) {
                usage_error(cmd, "--type wants full, copy, incremental or differential");
                bad = true;
            }
            o->type = optarg;
            break;
        case OPT_INSTANCE: {
            /* libdbus aborts the process on invalid UTF-8 in a string it is asked to append. */
            if (!dbus_validate_utf8(optarg, NULL) || !optarg[0]) {
                usage_error(cmd, "--instance wants an instance name (UTF-8, not empty)");
                bad = true;
                break;
            }
            const char **v = realloc(o->instances, (o->n_instances + 1) * sizeof *v);
            if (!v) {
                ctl_err("out of memory");
                return CTL_EXIT_FAILURE;
            }
            v[o->n_instances++] = optarg;
            o->instances = v;
            break;
        }
        case OPT_ABORT:
            o->abort = true;
            break;
        default: /* getopt printed what it did not like */
            fprintf(stderr, "Try 'jetsnapctl %s --help'.\n", cmd);
            return CTL_EXIT_USAGE;
        }
    }
    return bad ? CTL_EXIT_USAGE : PARSE_GO;
}

static bool parse_global(int opt, const char *cmd, struct ctl_opts *o, bool *bad)
{
    switch (opt) {
    case OPT_SESSION_BUS:
        o->bus = CTL_BUS_SESSION;
        return true;
    case OPT_SYSTEM_BUS:
        o->bus = CTL_BUS_SYSTEM;
        return true;
    case OPT_ADDRESS:
        o->bus = CTL_BUS_ADDRESS;
        o->address = optarg;
        return true;
    case OPT_BUS_NAME:
        if (!dbus_validate_bus_name(optarg, NULL) || optarg[0] == ':') {
            usage_error(cmd, "not a well-known bus name: '%s'", optarg);
            *bad = true;
        }
        o->bus_name = optarg;
        return true;
    case OPT_TIMEOUT: {
        char *end;
        errno = 0;
        long v = strtol(optarg, &end, 10);
        if (errno || end == optarg || *end || v <= 0 || v > INT_MAX) {
            usage_error(cmd, "--timeout wants milliseconds (a positive integer), not '%s'", optarg);
            *bad = true;
        }
        o->timeout_ms = (int)v;
        return true;
    }
    default:
        return false;
    }
}

static void usage_error(const char *cmd, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "jetsnapctl: ");
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\nTry 'jetsnapctl %s%s--help'.\n", cmd ? cmd : "", cmd ? " " : "");
}
