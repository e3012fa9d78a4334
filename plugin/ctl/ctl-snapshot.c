/*
 * ctl-snapshot.c — jetsnapctl snapshot: prepare, freeze, run the user's command (or have snapper
 * take a snapshot: --snapper, ctl-snapper.c), thaw, then complete or abort. The stop signals stay
 * blocked from the start and are taken with sigwaitinfo, so that one arriving at any moment is
 * seen at the next step instead of killing us while the instances are frozen (the writer would
 * thaw when our connection closed, but the command would go on copying a set that is no longer
 * frozen, and nobody would say so).
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "ctl-int.h"

/* How long an interrupted command may take to exit after we passed it the signal. */
#define REAP_GRACE_SEC 10

static int run_frozen(struct ctl_session *s, const sigset_t *stops, const sigset_t *old_mask);
static int run_snapper(struct ctl_session *s, struct ctl_snapper *sn, const sigset_t *stops);
static int discard(struct ctl_session *s, struct ctl_snapper *sn, const char *reason, int rc);
static void print_snapper_failure(const struct ctl_snapper *sn);
static int interrupted(struct ctl_session *s, int sig, pid_t child);
static void summary(const struct ctl_session *s, const char *outcome);
static void print_failure(const struct ctl_session *s);
static pid_t start_command(char **argv, const sigset_t *old_mask);
static int wait_command(pid_t *ppid, const sigset_t *stops, int *pstatus);
static int pending_stop(const sigset_t *stops);
static void reap(pid_t pid, const sigset_t *stops);
static void describe_status(int status, char *out, size_t n);

int ctl_snapshot(const struct ctl_opts *o)
{
    sigset_t stops, old_mask;
    sigemptyset(&stops);
    sigaddset(&stops, SIGINT);
    sigaddset(&stops, SIGTERM);
    sigaddset(&stops, SIGHUP);
    sigaddset(&stops, SIGCHLD);
    sigprocmask(SIG_BLOCK, &stops, &old_mask);

    DBusError err;
    dbus_error_init(&err);
    DBusConnection *c = ctl_connect(o, &err);
    if (!c) {
        ctl_print_error(o, "cannot connect to the bus", &err);
        dbus_error_free(&err);
        return CTL_EXIT_UNREACHABLE;
    }
    struct ctl_snapper sn = {0};
    if (o->snapper_config && ctl_snapper_open(&sn, o) != CTL_EXIT_OK) {
        print_snapper_failure(&sn);
        ctl_err("nothing was frozen");
        ctl_snapper_close(&sn);
        ctl_disconnect(c);
        return CTL_EXIT_SNAPPER;
    }
    struct ctl_session s;
    ctl_session_init(&s, c, o);
    int rc = ctl_session_freeze(&s);
    if (rc != CTL_EXIT_OK) {
        print_failure(&s);
        if (rc == CTL_EXIT_NOT_FROZEN && s.path[0])
            ctl_err("nothing is frozen (session %s aborted)", s.path);
    } else if (o->snapper_config) {
        rc = run_snapper(&s, &sn, &stops);
    } else {
        rc = run_frozen(&s, &stops, &old_mask);
    }
    ctl_session_free(&s);
    if (o->snapper_config)
        ctl_snapper_close(&sn);
    ctl_disconnect(c);
    return rc;
}

/* Snapper's snapshot is the COMMAND: taken while frozen, kept only if the freeze is known to have
 * held around it and the writer completed the backup; otherwise deleted again, so that no snapshot
 * that merely looks application-consistent is left behind. A stop signal cannot interrupt the
 * blocking call: it is taken right after it. */
static int run_snapper(struct ctl_session *s, struct ctl_snapper *sn, const sigset_t *stops)
{
    int sig = pending_stop(stops);
    if (sig)
        return interrupted(s, sig, -1);
    bool made = ctl_snapper_create(sn, s);
    /* Thaw before anything else: the instances wait for nothing more. */
    int rc = ctl_session_thaw(s);
    sig = pending_stop(stops);
    if (rc != CTL_EXIT_OK) {
        print_failure(s);
        if (rc == CTL_EXIT_DISCARD)
            ctl_err("the freeze ended before the thaw: the snapshot is not consistent");
    }
    if (!made) {
        print_snapper_failure(sn);
        ctl_session_abort(s, "snapper failed");
        ctl_err("no snapshot was taken; the freeze was aborted (session %s)", s->path);
        return sig ? 128 + sig : CTL_EXIT_SNAPPER;
    }
    if (sig) {
        ctl_err("interrupted by %s", strsignal(sig));
        return discard(s, sn, "interrupted", 128 + sig);
    }
    if (rc != CTL_EXIT_OK)
        return discard(s, sn, "thaw failed", rc);
    ctl_print_result_messages(s->thawed, s->n_thawed);
    if (!ctl_snapper_record(sn, s)) {
        print_snapper_failure(sn);
        return discard(s, sn, "snapper failed", CTL_EXIT_SNAPPER);
    }
    rc = ctl_session_complete(s);
    if (rc != CTL_EXIT_OK) {
        print_failure(s);
        return discard(s, sn, "completion failed", rc);
    }
    char outcome[sizeof sn->subvolume + 256];
    snprintf(outcome, sizeof outcome, "snapper snapshot %u of config '%s' (%s) completed", sn->number,
             s->o->snapper_config, sn->subvolume);
    summary(s, outcome);
    if (!ctl_snapper_report(sn, s)) {
        ctl_err("cannot write snapshot %u's record on stdout: %s", sn->number, strerror(errno));
        return CTL_EXIT_FAILURE;
    }
    return CTL_EXIT_OK;
}

/* Abort first (no log is truncated for a snapshot that is going), then delete the snapshot. */
static int discard(struct ctl_session *s, struct ctl_snapper *sn, const char *reason, int rc)
{
    ctl_session_abort(s, reason);
    ctl_snapper_discard(sn);
    ctl_err("session %s aborted", s->path);
    return rc;
}

static void print_snapper_failure(const struct ctl_snapper *sn)
{
    char text[2048];
    ctl_snapper_describe(sn, text, sizeof text);
    ctl_err("%s", text);
}

static int run_frozen(struct ctl_session *s, const sigset_t *stops, const sigset_t *old_mask)
{
    int sig = pending_stop(stops);
    if (sig)
        return interrupted(s, sig, -1);
    pid_t pid = start_command(s->o->command, old_mask), running = pid;
    int status = 0;
    if (pid > 0 && (sig = wait_command(&running, stops, &status)) != 0)
        return interrupted(s, sig, running);

    int rc = ctl_session_thaw(s);
    bool command_ok = pid > 0 && WIFEXITED(status) && WEXITSTATUS(status) == 0;
    char what[128];
    if (pid <= 0)
        snprintf(what, sizeof what, "COMMAND could not be started");
    else
        describe_status(status, what, sizeof what);
    if (rc != CTL_EXIT_OK) {
        print_failure(s);
        if (rc == CTL_EXIT_DISCARD)
            ctl_err("the freeze ended before the thaw: the snapshot is not consistent, discard it");
        ctl_session_abort(s, "thaw failed");
        if (!command_ok) {
            ctl_err("and %s", what);
            return CTL_EXIT_COMMAND;
        }
        return rc;
    }
    ctl_print_result_messages(s->thawed, s->n_thawed);
    if (!command_ok) {
        ctl_session_abort(s, "command failed");
        char outcome[256];
        snprintf(outcome, sizeof outcome, "snapshot aborted, %s", what);
        summary(s, outcome);
        return CTL_EXIT_COMMAND;
    }
    rc = ctl_session_complete(s);
    if (rc != CTL_EXIT_OK) {
        print_failure(s);
        ctl_session_abort(s, "completion failed");
        return rc;
    }
    summary(s, "snapshot completed");
    return CTL_EXIT_OK;
}

/* Thaw first (the command may still be copying: the freeze must end as soon as possible), then
 * abort, then give the command a bounded time to stop. */
static int interrupted(struct ctl_session *s, int sig, pid_t child)
{
    if (child > 0)
        kill(child, sig);
    int rc = ctl_session_thaw(s);
    if (rc != CTL_EXIT_OK)
        print_failure(s);
    ctl_session_abort(s, "interrupted");
    ctl_err("interrupted by %s: thawed and aborted %s", strsignal(sig), s->path);
    if (child > 0) {
        sigset_t chld;
        sigemptyset(&chld);
        sigaddset(&chld, SIGCHLD);
        reap(child, &chld);
    }
    return 128 + sig;
}

/* On stderr: COMMAND's stdout may be the backup itself (snapshot -- tar c ... > x.tar). */
static void summary(const struct ctl_session *s, const char *outcome)
{
    char ms[32], names[512];
    ctl_join_instances(s->frozen, s->n_frozen, names, sizeof names);
    ctl_format_ms(s->frozen_usec, ms, sizeof ms);
    fprintf(stderr, "jetsnapctl: %s: %zu instance%s (%s) frozen for %s ms, type %s, session %s\n", outcome,
            s->n_frozen, s->n_frozen == 1 ? "" : "s", names, ms, s->o->type, s->path);
}

static void print_failure(const struct ctl_session *s)
{
    char text[2048];
    ctl_session_describe(s, text, sizeof text);
    ctl_err("%s", text);
}

static pid_t start_command(char **argv, const sigset_t *old_mask)
{
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        ctl_err("cannot start %s: %s", argv[0], strerror(errno));
        return -1;
    }
    if (pid == 0) {
        sigprocmask(SIG_SETMASK, old_mask, NULL);
        execvp(argv[0], argv);
        int e = errno;
        fprintf(stderr, "jetsnapctl: cannot run %s: %s\n", argv[0], strerror(e));
        _exit(e == ENOENT ? 127 : 126);
    }
    return pid;
}

/* 0 when the command ended (*pstatus), or the stop signal that came first; *ppid becomes 0 once
 * the command is reaped, so that nobody signals or waits for a pid that may be reused. */
static int wait_command(pid_t *ppid, const sigset_t *stops, int *pstatus)
{
    pid_t pid = *ppid;
    for (;;) {
        siginfo_t si;
        int sig = sigwaitinfo(stops, &si);
        if (sig < 0) {
            if (errno == EINTR)
                continue;
            /* Cannot wait for signals: fall back to a plain wait, still correct without them. */
            while (waitpid(pid, pstatus, 0) < 0 && errno == EINTR)
                ;
            *ppid = 0;
            return 0;
        }
        if (sig != SIGCHLD)
            return sig;
        pid_t r = waitpid(pid, pstatus, WNOHANG);
        if (r == pid) {
            *ppid = 0;
            /* A terminal's ^C reaches the command too and may end it first: still an interrupt. */
            return pending_stop(stops);
        }
    }
}

static int pending_stop(const sigset_t *stops)
{
    sigset_t set = *stops;
    sigdelset(&set, SIGCHLD);
    struct timespec zero = {0, 0};
    int sig = sigtimedwait(&set, NULL, &zero);
    return sig > 0 ? sig : 0;
}

static void reap(pid_t pid, const sigset_t *chld)
{
    struct timespec end, now;
    clock_gettime(CLOCK_MONOTONIC, &end);
    end.tv_sec += REAP_GRACE_SEC;
    for (;;) {
        pid_t r = waitpid(pid, NULL, WNOHANG);
        if (r == pid || (r < 0 && errno != EINTR))
            return;
        clock_gettime(CLOCK_MONOTONIC, &now);
        long long left = (end.tv_sec - now.tv_sec) * 1000000000LL + (end.tv_nsec - now.tv_nsec);
        if (left <= 0)
            break;
        struct timespec t = {left / 1000000000LL, left % 1000000000LL};
        sigtimedwait(chld, NULL, &t);
    }
    ctl_err("the command did not stop within %d s: killing it", REAP_GRACE_SEC);
    kill(pid, SIGKILL);
    while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
        ;
}

static void describe_status(int status, char *out, size_t n)
{
    if (WIFEXITED(status))
        snprintf(out, n, "COMMAND exited with status %d", WEXITSTATUS(status));
    else if (WIFSIGNALED(status))
        snprintf(out, n, "COMMAND was killed by %s", strsignal(WTERMSIG(status)));
    else
        snprintf(out, n, "COMMAND ended with wait status %#x", (unsigned)status);
}
