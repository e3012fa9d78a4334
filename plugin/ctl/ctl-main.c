/*
 * ctl-main.c — jetsnapctl's command line: global options, the command, its options, usage.
 * Global options are accepted before and after the command name, so that a script can keep one
 * prefix ("jetsnapctl --address X") for every command.
 */
#include <ctype.h>
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
    OPT_OUTPUT,
    OPT_BASE,
    OPT_COMPRESS,
    OPT_PROGRESS,
    OPT_MAX_RATE,
    OPT_LABEL,
    OPT_FROM,
    OPT_TO,
    OPT_MAP,
    OPT_UNTIL,
    OPT_UNTIL_GEN,
    OPT_MOUNT,
    OPT_HOLD_TIMEOUT,
    OPT_SNAPPER,
    OPT_DESCRIPTION,
    OPT_CLEANUP,
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
    "  snapshot [--type T] [--instance N]... --snapper CONFIG [--description TEXT] [--json]\n"
    "                                          freeze, have snapper take a snapshot, thaw, complete\n"
    "  freeze [--type T] [--instance N]...     freeze and return, leaving a holder process\n"
    "  thaw [--abort] [SESSION]                thaw what freeze froze\n"
    "  backup --instance N --type T --output DIR|- [--base DIR] [--compress none|zstd[:L]]\n"
    "                                          stream a backup of one instance, with a manifest\n"
    "  verify DIR                              check a backup against its manifest\n"
    "  restore --from DIR [--from DIR]... --to DIR [--map OLD=NEW]... [--until TIME|--until-generation N]\n"
    "                                          restore a chain of backups through the engine\n"
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
    "10 the backup failed or was refused (ended invalid, nothing truncated), 11 the backup's\n"
    "destination could not be written, 12 backup stored but TruncateLogs failed, 13 a backup set\n"
    "is damaged or not a chain (verify, restore), 14 restore failed, 15 freeze --mount: no\n"
    "instance on those filesystems (nothing frozen), 16 snapper unreachable, refused or failed\n"
    "(nothing kept), 128+N ended by signal N.\n"
    "See docs/jetsnapctl.md.\n";

static const char usage_status[] =
    "Usage: jetsnapctl status [--json]\n"
    "\n"
    "Prints the writer's state, the owner and state of its active session and how long it has\n"
    "been frozen, and every instance's state and last error. --json prints the same as one JSON\n"
    "object. Exit codes: 0, 1, 2, 3.\n";

static const char usage_snapshot[] =
    "Usage: jetsnapctl snapshot [--type TYPE] [--instance NAME]... -- COMMAND [ARG]...\n"
    "       jetsnapctl snapshot [--type TYPE] [--instance NAME]... --snapper CONFIG\n"
    "                           [--description TEXT] [--cleanup ALGORITHM] [--json]\n"
    "\n"
    "Prepares a backup of the instances (all of them when none is named), freezes them, runs\n"
    "COMMAND (its output passed through), thaws, and completes the backup when COMMAND exited 0\n"
    "and the freeze held until thaw, or aborts it otherwise. A one-line summary goes to stderr.\n"
    "\n"
    "With --snapper, snapperd (org.opensuse.Snapper on the system bus) takes a single snapshot of\n"
    "CONFIG while the instances are frozen (CreateSingleSnapshot); its userdata records the writer,\n"
    "session, type, instances and how long they were frozen. The snapshot's number goes to stdout\n"
    "(with --json, the whole record). It is deleted again unless the backup completes.\n"
    "\n"
    "  --type TYPE         full, copy (default), incremental or differential; full and\n"
    "                      incremental truncate the logs on completion, copy never does\n"
    "  --instance NAME     an instance to include (repeat for more)\n"
    "  --snapper CONFIG    the snapper config to snapshot, instead of COMMAND\n"
    "  --description TEXT  the snapper snapshot's description (default \"jetsnapctl snapshot\")\n"
    "  --cleanup ALG       its cleanup algorithm: number, timeline, ... (default none)\n"
    "  --json              --snapper: the record as JSON on stdout\n"
    "\n"
    "Exit codes: 0 done, 3 writer unreachable, 4 nothing frozen, 5 COMMAND failed (aborted),\n"
    "6 the freeze ended before thaw (discard the snapshot; a snapper one is deleted), 7 thaw or\n"
    "completion failed (likewise), 16 snapper unreachable, refused or failed (aborted, nothing\n"
    "kept), 128+N interrupted by signal N (thawed and aborted).\n";

static const char usage_freeze[] =
    "Usage: jetsnapctl freeze [--type TYPE] [--instance NAME]... | [--mount MNT]... [--hold-timeout MS]\n"
    "\n"
    "Freezes the instances and returns, for hooks whose process exits between freeze and thaw.\n"
    "A holder process keeps the freeze (the writer thaws when its owner leaves the bus) until\n"
    "'jetsnapctl thaw', --hold-timeout, the writer's freeze time-out, or its own death. Prints\n"
    "the session's object path on success. Options as for snapshot, and:\n"
    "  --mount MNT       freeze the instances with a file (GetMetadata's system_path, log_path,\n"
    "                    data_files) on the filesystem mounted at MNT (repeat for more)\n"
    "  --hold-timeout MS abort the freeze when no thaw came MS after it (the snapshot must then\n"
    "                    be discarded: thaw SESSION exits 6); for a post hook that may never run\n"
    "\n"
    "Exit codes: 0 frozen, 2 usage (also MNT not a mount point), 3 writer unreachable, 4 nothing\n"
    "frozen, 1 the holder failed or the path could not be printed (nothing stays frozen), 6 the\n"
    "holder ended before it was told, 15 no instance on the --mount filesystems (nothing frozen).\n";

static const char usage_thaw[] =
    "Usage: jetsnapctl thaw [--abort] [SESSION]\n"
    "\n"
    "Thaws the freeze a 'jetsnapctl freeze' holder keeps and completes the backup, or aborts it\n"
    "with --abort. SESSION, the path freeze printed, lets thaw tell a freeze that ended early\n"
    "(exit 6) from one already thawed (exit 8) once the holder is gone.\n"
    "\n"
    "Exit codes: 0 thawed, 3 writer unreachable, 6 the freeze ended before thaw (discard the\n"
    "snapshot), 7 thaw or completion failed, 8 nothing is frozen, 9 the freeze is not a holder's.\n";

static const char usage_backup[] =
    "Usage: jetsnapctl backup --instance NAME --type TYPE --output DIR|- [--base DIR]\n"
    "                         [--compress none|zstd[:LEVEL]] [--max-rate RATE] [--label TEXT]\n"
    "                         [--progress=auto|always|never] [--json]\n"
    "\n"
    "Streams every file of a backup of one instance through the writer (ExternalBackup) into DIR\n"
    "(created; must be empty or missing), with DIR/backup_manifest describing it, then ends the\n"
    "backup and, for full and incremental, truncates the logs it made unnecessary. '--output -'\n"
    "writes the same files and manifest as one tar stream on stdout.\n"
    "\n"
    "  --type TYPE         full, incremental, copy or differential\n"
    "  --base DIR          incremental, differential: the previous backup of the chain\n"
    "  --compress C        none (default) or zstd, zstd:LEVEL (1..19): done by the writer\n"
    "  --max-rate RATE     at most RATE bytes a second as stored (suffix k, M or G: KiB, MiB, GiB;\n"
    "                      32k..1024G), the streams read and their files written at that pace, so\n"
    "                      that the disk keeps room for the application's own writes\n"
    "  --label TEXT        recorded in the manifest (at most 255 bytes)\n"
    "  --progress=WHEN     a progress line on stderr: auto (on a terminal), always, never\n"
    "  --json              a JSON summary on stdout (on stderr with --output -)\n"
    "\n"
    "Exit codes: 0 done, 2 usage, 3 writer unreachable, 10 the writer refused or failed the\n"
    "backup, 11 the destination could not be written (both: the backup ended invalid, nothing\n"
    "truncated, the files written removed), 12 stored but TruncateLogs failed, 13 --base damaged.\n";

static const char usage_verify[] =
    "Usage: jetsnapctl verify DIR\n"
    "\n"
    "Checks a backup made by 'jetsnapctl backup': the manifest's own checksum, every file's\n"
    "presence, size and CRC-32C (zstd files decompressed), no file the manifest does not list, and\n"
    "every log generation of its range, and every database page's own checksum. Names each bad\n"
    "file on stderr.\n"
    "\n"
    "Exit codes: 0 the backup is intact, 2 usage, 13 damaged.\n";

static const char usage_restore[] =
    "Usage: jetsnapctl restore --from FULL [--from INCREMENTAL]... --to DIR [--map OLD=NEW]...\n"
    "                          [--until TIME|--until-generation N] [--json]\n"
    "\n"
    "Verifies every backup set and that each builds on the one before, then writes the databases\n"
    "of the first into DIR (or, for the database whose original path is OLD, to NEW), the logs of\n"
    "the whole chain into a scratch directory, and replays them through the engine\n"
    "(JetExternalRestoreUntil). The databases are then clean: attach them to any instance.\n"
    "\n"
    "  --until TIME           only the transactions committed before TIME: RFC 3339\n"
    "                         (2026-12-04T17:25:57.414090Z, or with an offset), local\n"
    "                         'YYYY-MM-DD HH:MM:SS[.frac]', or @EPOCH.USEC\n"
    "  --until-generation N   replay the logs up to generation N only\n"
    "  --json                 the result as JSON on stdout\n"
    "\n"
    "Exit codes: 0 restored, 2 usage, 13 a set is damaged or the sets are not a chain (nothing\n"
    "written), 14 writing the files or the engine's restore failed, or the point asked for is\n"
    "before the backup is consistent (nothing left behind).\n";

static int run_backup(int argc, char **argv, struct ctl_opts *o);
static int run_verify(int argc, char **argv, struct ctl_opts *o);
static int run_restore(int argc, char **argv, struct ctl_opts *o);
static bool add_arg(const char ***v, size_t *n, const char *s);
static int run_status(int argc, char **argv, struct ctl_opts *o);
static int run_snapshot(int argc, char **argv, struct ctl_opts *o);
static int run_freeze(int argc, char **argv, struct ctl_opts *o);
static int run_thaw(int argc, char **argv, struct ctl_opts *o);
static int parse_command(int argc, char **argv, const char *cmd, const struct option *extra, size_t n_extra,
                         const char *usage, struct ctl_opts *o);
static bool parse_global(int opt, const char *cmd, struct ctl_opts *o, bool *bad);
static bool parse_rate(const char *s, uint64_t *out);
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
        usage_error(NULL, "no command given (status, snapshot, freeze, thaw, backup, verify, restore)");
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
    else if (strcmp(cmd, "backup") == 0)
        rc = run_backup(cargc, cargv, &o);
    else if (strcmp(cmd, "verify") == 0)
        rc = run_verify(cargc, cargv, &o);
    else if (strcmp(cmd, "restore") == 0)
        rc = run_restore(cargc, cargv, &o);
    else {
        usage_error(NULL, "unknown command '%s' (status, snapshot, freeze, thaw, backup, verify, restore)", cmd);
        rc = CTL_EXIT_USAGE;
    }
    free(o.instances);
    free(o.mounts);
    if (o.metadata)
        dbus_message_unref(o.metadata);
    free(o.from);
    free(o.maps);
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

static int run_snapshot(int argc, char **argv, struct ctl_opts *o)
{
    static const struct option extra[] = {
        {"type", required_argument, NULL, OPT_TYPE},
        {"instance", required_argument, NULL, OPT_INSTANCE},
        {"snapper", required_argument, NULL, OPT_SNAPPER},
        {"description", required_argument, NULL, OPT_DESCRIPTION},
        {"cleanup", required_argument, NULL, OPT_CLEANUP},
        {"json", no_argument, NULL, OPT_JSON},
    };
    int rc = parse_command(argc, argv, "snapshot", extra, 6, usage_snapshot, o);
    if (rc != PARSE_GO)
        return rc == PARSE_HELP ? CTL_EXIT_OK : rc;
    const char *why = NULL;
    if (o->snapper_config) {
        if (optind < argc)
            why = "--snapper takes the snapshot itself: no COMMAND";
    } else if (optind >= argc) {
        why = "no COMMAND to run while frozen (jetsnapctl snapshot -- COMMAND [ARG]...), nor --snapper CONFIG";
    } else if (o->description || o->cleanup || o->json) {
        why = "--description, --cleanup and --json go with --snapper";
    }
    if (why) {
        usage_error("snapshot", "%s", why);
        return CTL_EXIT_USAGE;
    }
    if (!o->description)
        o->description = "jetsnapctl snapshot";
    if (!o->cleanup)
        o->cleanup = "";
    o->command = o->snapper_config ? NULL : argv + optind;
    return ctl_snapshot(o);
}

static int run_freeze(int argc, char **argv, struct ctl_opts *o)
{
    static const struct option extra[] = {
        {"type", required_argument, NULL, OPT_TYPE},
        {"instance", required_argument, NULL, OPT_INSTANCE},
        {"mount", required_argument, NULL, OPT_MOUNT},
        {"hold-timeout", required_argument, NULL, OPT_HOLD_TIMEOUT},
    };
    int rc = parse_command(argc, argv, "freeze", extra, 4, usage_freeze, o);
    if (rc != PARSE_GO)
        return rc == PARSE_HELP ? CTL_EXIT_OK : rc;
    if (optind < argc) {
        usage_error("freeze", "unexpected argument '%s'", argv[optind]);
        return CTL_EXIT_USAGE;
    }
    if (o->n_mounts && o->n_instances) {
        usage_error("freeze", "--mount chooses the instances: give it or --instance, not both");
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

static int run_backup(int argc, char **argv, struct ctl_opts *o)
{
    static const struct option extra[] = {
        {"type", required_argument, NULL, OPT_TYPE},     {"instance", required_argument, NULL, OPT_INSTANCE},
        {"output", required_argument, NULL, OPT_OUTPUT}, {"base", required_argument, NULL, OPT_BASE},
        {"compress", required_argument, NULL, OPT_COMPRESS}, {"progress", required_argument, NULL, OPT_PROGRESS},
        {"label", required_argument, NULL, OPT_LABEL},   {"json", no_argument, NULL, OPT_JSON},
        {"max-rate", required_argument, NULL, OPT_MAX_RATE},
    };
    o->type = NULL;
    int rc = parse_command(argc, argv, "backup", extra, 9, usage_backup, o);
    if (rc != PARSE_GO)
        return rc == PARSE_HELP ? CTL_EXIT_OK : rc;
    const char *why = NULL;
    if (optind < argc)
        why = "unexpected argument";
    else if (o->n_instances != 1)
        why = "name exactly one --instance";
    else if (!o->type || (strcmp(o->type, "full") && strcmp(o->type, "incremental") && strcmp(o->type, "copy") &&
                          strcmp(o->type, "differential")))
        why = "--type wants full, incremental, copy or differential";
    else if (!o->output || !o->output[0])
        why = "--output DIR (or - for a tar stream on stdout) is required";
    else if (!o->base && (!strcmp(o->type, "incremental") || !strcmp(o->type, "differential")))
        why = "an incremental or differential backup needs --base DIR, the previous backup of its chain";
    else if (o->base && (!strcmp(o->type, "full") || !strcmp(o->type, "copy")))
        why = "a full or copy backup builds on nothing: no --base";
    else if (o->label && (strlen(o->label) > 255 || !dbus_validate_utf8(o->label, NULL)))
        why = "--label wants at most 255 bytes of UTF-8";
    if (why) {
        usage_error("backup", "%s%s%s", why, optind < argc ? " " : "", optind < argc ? argv[optind] : "");
        return CTL_EXIT_USAGE;
    }
    return ctl_backup(o);
}

static int run_verify(int argc, char **argv, struct ctl_opts *o)
{
    int rc = parse_command(argc, argv, "verify", NULL, 0, usage_verify, o);
    if (rc != PARSE_GO)
        return rc == PARSE_HELP ? CTL_EXIT_OK : rc;
    if (optind + 1 != argc) {
        usage_error("verify", "name one backup directory");
        return CTL_EXIT_USAGE;
    }
    if (!add_arg(&o->from, &o->n_from, argv[optind]))
        return CTL_EXIT_FAILURE;
    return ctl_verify(o);
}

static int run_restore(int argc, char **argv, struct ctl_opts *o)
{
    static const struct option extra[] = {
        {"from", required_argument, NULL, OPT_FROM},   {"to", required_argument, NULL, OPT_TO},
        {"map", required_argument, NULL, OPT_MAP},     {"until", required_argument, NULL, OPT_UNTIL},
        {"until-generation", required_argument, NULL, OPT_UNTIL_GEN}, {"json", no_argument, NULL, OPT_JSON},
    };
    int rc = parse_command(argc, argv, "restore", extra, 6, usage_restore, o);
    if (rc != PARSE_GO)
        return rc == PARSE_HELP ? CTL_EXIT_OK : rc;
    const char *why = NULL;
    if (optind < argc)
        why = "unexpected argument";
    else if (o->n_from == 0)
        why = "--from FULL is required (then each later backup of the chain, in order)";
    else if (!o->to || !o->to[0])
        why = "--to DIR is required";
    else if (o->until_usec && o->until_gen)
        why = "--until and --until-generation exclude each other";
    for (size_t i = 0; !why && i < o->n_maps; i++)
        if (!strchr(o->maps[i], '=') || o->maps[i][0] != '/' || strchr(o->maps[i], '=')[1] == '\0')
            why = "--map wants OLD=NEW, OLD the database's original absolute path";
    if (why) {
        usage_error("restore", "%s", why);
        return CTL_EXIT_USAGE;
    }
    return ctl_restore(o);
}

static bool add_arg(const char ***v, size_t *n, const char *s)
{
    const char **nv = realloc(*v, (*n + 1) * sizeof *nv);
    if (!nv) {
        ctl_err("out of memory");
        return false;
    }
    nv[(*n)++] = s;
    *v = nv;
    return true;
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
        case OPT_MOUNT: {
            const char **v = realloc(o->mounts, (o->n_mounts + 1) * sizeof *v);
            if (!v) {
                ctl_err("out of memory");
                return CTL_EXIT_FAILURE;
            }
            v[o->n_mounts++] = optarg;
            o->mounts = v;
            break;
        }
        case OPT_HOLD_TIMEOUT: {
            char *end;
            errno = 0;
            long v = strtol(optarg, &end, 10);
            if (errno || end == optarg || *end || v <= 0 || v > INT_MAX) {
                usage_error(cmd, "--hold-timeout wants milliseconds (a positive integer), not '%s'", optarg);
                return CTL_EXIT_USAGE;
            }
            o->hold_ms = (uint32_t)v;
            break;
        }
        case OPT_ABORT:
            o->abort = true;
            break;
        case OPT_SNAPPER:
        case OPT_DESCRIPTION:
        case OPT_CLEANUP: {
            const char **dst = opt == OPT_SNAPPER   ? &o->snapper_config
                               : opt == OPT_CLEANUP ? &o->cleanup
                                                    : &o->description;
            const char *name = opt == OPT_SNAPPER ? "snapper" : opt == OPT_CLEANUP ? "cleanup" : "description";
            /* libdbus aborts the process on invalid UTF-8 (see --instance). */
            if (!dbus_validate_utf8(optarg, NULL) || (opt == OPT_SNAPPER && !optarg[0])) {
                usage_error(cmd, "--%s wants UTF-8 text%s", name, opt == OPT_SNAPPER ? " (a snapper config name)" : "");
                bad = true;
            }
            *dst = optarg;
            break;
        }
        case OPT_OUTPUT:
            o->output = optarg;
            break;
        case OPT_BASE:
            o->base = optarg;
            break;
        case OPT_LABEL:
            o->label = optarg;
            break;
        case OPT_COMPRESS: {
            char *end = NULL;
            if (!strcmp(optarg, "none")) {
                o->zstd = false;
            } else if (!strcmp(optarg, "zstd")) {
                o->zstd = true;
            } else if (!strncmp(optarg, "zstd:", 5) && (o->zstd_level = (int)strtol(optarg + 5, &end, 10)) >= 1 &&
                       o->zstd_level <= 19 && !*end) {
                o->zstd = true;
            } else {
                usage_error(cmd, "--compress wants none, zstd or zstd:LEVEL (1..19), not '%s'", optarg);
                bad = true;
            }
            break;
        }
        case OPT_MAX_RATE:
            if (!parse_rate(optarg, &o->max_rate)) {
                usage_error(cmd, "--max-rate wants bytes a second, with k, M or G (32k..1024G), not '%s'", optarg);
                bad = true;
            }
            break;
        case OPT_PROGRESS:
            if (!strcmp(optarg, "auto"))
                o->progress = CTL_PROGRESS_AUTO;
            else if (!strcmp(optarg, "always"))
                o->progress = CTL_PROGRESS_ALWAYS;
            else if (!strcmp(optarg, "never"))
                o->progress = CTL_PROGRESS_NEVER;
            else {
                usage_error(cmd, "--progress wants auto, always or never, not '%s'", optarg);
                bad = true;
            }
            break;
        case OPT_FROM:
            if (!add_arg(&o->from, &o->n_from, optarg))
                return CTL_EXIT_FAILURE;
            break;
        case OPT_TO:
            o->to = optarg;
            break;
        case OPT_MAP:
            if (!add_arg(&o->maps, &o->n_maps, optarg))
                return CTL_EXIT_FAILURE;
            break;
        case OPT_UNTIL:
            if (!ctl_parse_time(optarg, &o->until_usec)) {
                usage_error(cmd, "--until wants a time like 2024-05-01T12:00:00.250+02:00, "
                            "'2024-05-01 12:00:00' (local) or @EPOCH.USEC, not '%s'", optarg);
                bad = true;
            }
            break;
        case OPT_UNTIL_GEN: {
            char *end;
            errno = 0;
            unsigned long g = strtoul(optarg, &end, 10);
            if (errno || end == optarg || *end || g == 0 || g > 0x7fffffffUL || optarg[0] == '-') {
                usage_error(cmd, "--until-generation wants a log generation (a positive integer), not '%s'", optarg);
                bad = true;
            }
            o->until_gen = (uint32_t)g;
            break;
        }
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

/* "N", "Nk", "NM", "NG" (binary multiples), within CTL_RATE_MIN..CTL_RATE_MAX. */
static bool parse_rate(const char *s, uint64_t *out)
{
    char *end = NULL;
    errno = 0;
    if (!isdigit((unsigned char)s[0]))
        return false;
    unsigned long long v = strtoull(s, &end, 10);
    int shift = 0;
    if (*end == 'k' || *end == 'K')
        shift = 10;
    else if (*end == 'M')
        shift = 20;
    else if (*end == 'G')
        shift = 30;
    if (errno || (shift && *++end) || *end || v > (CTL_RATE_MAX >> shift))
        return false;
    v <<= shift;
    if (v < CTL_RATE_MIN)
        return false;
    *out = v;
    return true;
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
