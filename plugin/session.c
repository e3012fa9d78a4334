/*
 * session.c — the freeze session of the writer (writer-int.h): prepare, freeze with its quiesce
 * deadline, thaw, backup-complete, abort, the owner going away, and the timer that ends a freeze
 * nobody thaws. Each engine call goes through JetOSSnapshot* on exactly the session's instances.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "writer-int.h"

static struct wr_session *find_session(jetsnap_writer *w, uint32_t id, bool *ended);
static int owned_session(jetsnap_writer *w, const char *owner, uint32_t id, struct wr_session **ps, bool *ended,
                         struct jetsnap_error *err);
static int check_owner(const struct wr_session *s, const char *owner, struct jetsnap_error *err);
static int owner_ok(const char *owner, struct jetsnap_error *err);
static JET_GRBIT type_grbits(enum wr_backup_type t);
static int select_instances(jetsnap_writer *w, const char *const *names, size_t n, size_t **psel, size_t *pn,
                            struct jetsnap_error *err);
static void *freezer_main(void *arg);
static void auto_thaw(jetsnap_writer *w, struct wr_session *s, const char *reason, enum wr_sess_state end);
static void finish(jetsnap_writer *w, struct wr_session *s, enum wr_sess_state state, const char *reason);
static void set_state(jetsnap_writer *w, struct wr_session *s, enum wr_sess_state st);
static void sel_state(jetsnap_writer *w, struct wr_session *s, enum wr_inst_state st);
static struct jetsnap_result *make_results(jetsnap_writer *w, const struct wr_session *s, const char *message,
                                           size_t *pn);
static void engine_abort(struct wr_session *s);
static void abandon(jetsnap_writer *w, struct wr_session *s);

int wr_prepare(jetsnap_writer *w, const char *owner, const char *backup_type, const char *const *instances,
               size_t n, uint32_t *psession, struct jetsnap_error *err)
{
    enum wr_backup_type type;
    if (!w || !psession || (n && !instances) || owner_ok(owner, err) != JETSNAP_OK)
        return wr_fail(err, JETSNAP_E_INVALID_ARGS, 0, "prepare needs a writer, an owner and a session pointer");
    if (!backup_type || wr_parse_backup_type(backup_type, &type) != 0)
        return wr_fail(err, JETSNAP_E_NOT_SUPPORTED, 0,
                       "backup type '%.64s' is not one of full, incremental, differential, copy",
                       backup_type ? backup_type : "");
    pthread_mutex_lock(&w->mu);
    int rc = JETSNAP_OK;
    if (w->stopping) {
        rc = wr_fail(err, JETSNAP_E_INVALID_STATE, 0, "the writer is shutting down");
    } else if (w->cur && strcmp(w->cur->owner, owner) != 0) {
        rc = wr_fail(err, JETSNAP_E_BUSY, 0, "session %u of %s is %s; retry when it has ended", w->cur->id,
                     w->cur->owner, wr_sess_state_name(w->cur->state));
    } else if (w->cur) {
        rc = wr_fail(err, JETSNAP_E_INVALID_STATE, 0,
                     "this owner's session %u is still %s; complete or abort it first", w->cur->id,
                     wr_sess_state_name(w->cur->state));
    }
    struct wr_session *s = NULL;
    if (rc == JETSNAP_OK && !(s = calloc(1, sizeof *s)))
        rc = wr_fail(err, JETSNAP_E_NO_MEMORY, 0, "out of memory");
    if (rc == JETSNAP_OK)
        rc = select_instances(w, instances, n, &s->sel, &s->n_sel, err);
    JET_ERR e = JET_errSuccess;
    if (rc == JETSNAP_OK) {
        e = JetOSSnapshotPrepare(&s->snap, JET_bitExplicitPrepare | JET_bitContinueAfterThaw | type_grbits(type));
        if (e != JET_errSuccess)
            rc = wr_fail(err, JETSNAP_E_NONRETRYABLE, e, "the engine refused a snapshot session");
    }
    for (size_t i = 0; rc == JETSNAP_OK && i < s->n_sel; i++) {
        struct wr_inst *in = &w->inst[s->sel[i]];
        e = JetOSSnapshotPrepareInstance(s->snap, in->inst, 0);
        if (e == JET_errOSSnapshotNotAllowed)
            rc = wr_fail(err, JETSNAP_E_RETRYABLE, e,
                         "instance %s cannot be frozen now (a streaming backup or another snapshot "
                         "session holds it, or it is stopping); retry later",
                         in->name);
        else if (e != JET_errSuccess)
            rc = wr_fail(err, JETSNAP_E_NONRETRYABLE, e, "instance %s cannot join the snapshot", in->name);
    }
    if (rc != JETSNAP_OK) {
        if (s) {
            engine_abort(s);
            free(s->sel);
            free(s);
        }
        pthread_mutex_unlock(&w->mu);
        return rc;
    }
    s->writer = w;
    s->id = w->next_id++;
    if (w->next_id == 0)
        w->next_id = 1;
    snprintf(s->owner, sizeof s->owner, "%s", owner);
    s->type = type;
    s->state = WR_SS_PREPARED;
    w->cur = s;
    w->last_failed = false;
    wr_queue_event(w, JETSNAP_EVENT_SESSION_STATE, s->id, NULL, "", "prepared", NULL, NULL, 0);
    wr_queue_log(w, JETSNAP_LOG_INFO, NULL, WR_EV_SESSION_PREPARED,
                 "session %u prepared for a %s backup of %zu instance(s) by %s", s->id, backup_type, s->n_sel,
                 s->owner);
    wr_update_agg(w);
    *psession = s->id;
    wr_unlock_flush(w);
    return JETSNAP_OK;
}

int wr_freeze(jetsnap_writer *w, const char *owner, uint32_t session, struct jetsnap_result **presults,
              size_t *pn, struct jetsnap_error *err)
{
    if (!w || !presults || !pn || owner_ok(owner, err) != JETSNAP_OK)
        return wr_fail(err, JETSNAP_E_INVALID_ARGS, 0, "freeze needs a writer, an owner and result pointers");
    pthread_mutex_lock(&w->mu);
    bool ended;
    struct wr_session *s = NULL;
    int rc = owned_session(w, owner, session, &s, &ended, err);
    if (rc != JETSNAP_OK) {
        /* owned_session said why */
    } else if (ended || s->state != WR_SS_PREPARED)
        rc = wr_fail(err, JETSNAP_E_INVALID_STATE, 0, "session %u is %s; only a prepared session can freeze",
                     session, wr_sess_state_name(s->state));
    if (rc != JETSNAP_OK) {
        pthread_mutex_unlock(&w->mu);
        return rc;
    }
    set_state(w, s, WR_SS_FREEZING);
    sel_state(w, s, WR_IS_QUIESCING);
    wr_update_agg(w);
    pthread_t t;
    if (pthread_create(&t, NULL, freezer_main, s) != 0) {
        set_state(w, s, WR_SS_PREPARED);
        sel_state(w, s, WR_IS_RUNNING);
        wr_update_agg(w);
        wr_unlock_flush(w);
        return wr_fail(err, JETSNAP_E_RETRYABLE, 0, "cannot start a thread to freeze: %s", strerror(errno));
    }
    pthread_detach(t);
    w->freezers++;
    /* Deliver "quiescing" now (the bus layer's PropertiesChanged), then wait for the freezer. */
    wr_unlock_flush(w);
    pthread_mutex_lock(&w->mu);
    uint64_t deadline = wr_now_usec() + (uint64_t)w->cfg->writer.quiesce_timeout_ms * 1000u;
    while (!s->freezer_done && !s->abandoned && wr_now_usec() < deadline) {
        struct timespec ts = {(time_t)(deadline / 1000000u), (long)(deadline % 1000000u) * 1000};
        pthread_cond_timedwait(&w->cv, &w->mu, &ts);
    }
    if (s->abandoned) { /* aborted, or its owner went away, while quiescing */
        rc = wr_fail(err, JETSNAP_E_INVALID_STATE, 0, "session %u was %s while it was freezing", session,
                     s->end_reason);
    } else if (!s->freezer_done) {
        /* Quiescing takes too long: give up now. The engine's abort returns at once and thaws the
         * instances that did freeze; one still stuck in its I/O is thawed by the engine when that
         * returns, and the freezer then only reports. */
        abandon(w, s);
        s->timed_out = true;
        finish(w, s, WR_SS_FAILED, "quiesce-timeout");
        wr_queue_log(w, JETSNAP_LOG_ERR, NULL, WR_EV_FREEZE_FAILED,
                     "session %u: quiescing took longer than quiesce_timeout_ms (%u ms); nothing stays frozen",
                     session, w->cfg->writer.quiesce_timeout_ms);
        rc = wr_fail(err, JETSNAP_E_TIMEOUT, 0,
                     "quiescing took longer than quiesce_timeout_ms (%u ms); nothing stays frozen",
                     w->cfg->writer.quiesce_timeout_ms);
    } else if (s->freezer_err != JET_errSuccess) {
        JET_ERR e = s->freezer_err;
        engine_abort(s);
        for (size_t i = 0; i < s->n_sel; i++) {
            w->inst[s->sel[i]].last_error = e;
            snprintf(w->inst[s->sel[i]].message, sizeof w->inst[s->sel[i]].message,
                     "the set's freeze failed: %s (%ld)", wr_jet_err_name(e) ? wr_jet_err_name(e) : "JET_err",
                     (long)e);
        }
        sel_state(w, s, WR_IS_RUNNING);
        finish(w, s, WR_SS_FAILED, "freeze-failed");
        wr_queue_log(w, JETSNAP_LOG_ERR, NULL, WR_EV_FREEZE_FAILED, "session %u: freeze failed with %s (%ld)",
                     session, wr_jet_err_name(e) ? wr_jet_err_name(e) : "JET_err", (long)e);
        if (s->missing) {
            struct wr_inst *gone = &w->inst[s->missing - 1];
            gone->inst = 0;
            wr_set_inst_state(w, gone, WR_IS_STOPPED);
            snprintf(gone->message, sizeof gone->message, "terminated by the application");
            rc = wr_fail(err, JETSNAP_E_RETRYABLE, e,
                         "instance %s was terminated after prepare; nothing is frozen", gone->name);
        } else {
            rc = wr_fail(err, e == JET_errOSSnapshotNotAllowed ? JETSNAP_E_RETRYABLE : JETSNAP_E_NONRETRYABLE,
                         e, "the set could not be frozen; nothing is frozen");
        }
    } else {
        struct jetsnap_result *r = make_results(w, s, "", pn);
        if (!r) {
            /* Without a way to report it, the freeze is undone rather than left unreported. */
            auto_thaw(w, s, "out-of-memory", WR_SS_FAILED);
            rc = wr_fail(err, JETSNAP_E_NO_MEMORY, 0, "out of memory; the freeze was undone");
        } else {
            s->frozen_at = wr_now_usec();
            s->deadline = s->frozen_at + (uint64_t)w->cfg->writer.freeze_timeout_ms * 1000u;
            sel_state(w, s, WR_IS_FROZEN);
            set_state(w, s, WR_SS_FROZEN);
            wr_update_agg(w);
            pthread_cond_broadcast(&w->cv); /* the timer takes the new deadline */
            wr_queue_log(w, JETSNAP_LOG_INFO, NULL, WR_EV_FROZEN, "session %u: %zu instance(s) frozen", session,
                         s->n_sel);
            for (size_t i = 0; i < *pn; i++)
                r[i].state = "frozen";
            *presults = r;
        }
    }
    wr_unlock_flush(w);
    return rc;
}

int wr_thaw(jetsnap_writer *w, const char *owner, uint32_t session, struct jetsnap_result **presults, size_t *pn,
            uint64_t *pfrozen_usec, struct jetsnap_error *err)
{
    if (!w || !presults || !pn || owner_ok(owner, err) != JETSNAP_OK)
        return wr_fail(err, JETSNAP_E_INVALID_ARGS, 0, "thaw needs a writer, an owner and result pointers");
    pthread_mutex_lock(&w->mu);
    bool ended;
    struct wr_session *s = NULL;
    int rc = owned_session(w, owner, session, &s, &ended, err);
    if (rc != JETSNAP_OK) {
        /* owned_session said why */
    } else if (s->timed_out)
        rc = wr_fail(err, JETSNAP_E_TIMEOUT, 0,
                     "the freeze of session %u had already ended (%s); discard the snapshot and retry", session,
                     s->end_reason);
    else if (!ended && (s->state == WR_SS_PREPARED || s->state == WR_SS_FREEZING))
        rc = wr_fail(err, JETSNAP_E_INVALID_STATE, 0, "session %u is %s, not frozen", session,
                     wr_sess_state_name(s->state));
    if (rc != JETSNAP_OK) {
        pthread_mutex_unlock(&w->mu);
        return rc;
    }
    if (s->state == WR_SS_FROZEN) {
        JET_ERR e = JetOSSnapshotThaw(s->snap, 0);
        s->frozen_usec = wr_now_usec() - s->frozen_at;
        if (e != JET_errSuccess) {
            /* The engine ended the freeze on its own (its time-out, or an instance was terminated):
             * the snapshot cannot be trusted. */
            wr_queue_log(w, JETSNAP_LOG_ERR, NULL, WR_EV_THAW_FAILED,
                         "session %u: the engine's thaw answered %s (%ld); the snapshot must be discarded",
                         session, wr_jet_err_name(e) ? wr_jet_err_name(e) : "JET_err", (long)e);
            auto_thaw(w, s, e == JET_errOSSnapshotTimeOut ? "instance-ended" : "thaw-failed", WR_SS_FAILED);
            s->timed_out = true;
            rc = wr_fail(err, e == JET_errOSSnapshotTimeOut ? JETSNAP_E_TIMEOUT : JETSNAP_E_NONRETRYABLE, e,
                         "the freeze of session %u did not hold until thaw; discard the snapshot", session);
            wr_unlock_flush(w);
            return rc;
        }
        sel_state(w, s, WR_IS_RUNNING);
        set_state(w, s, WR_SS_THAWED);
        wr_update_agg(w);
        wr_queue_log(w, JETSNAP_LOG_INFO, NULL, WR_EV_THAWED, "session %u thawed after %llu µs", session,
                     (unsigned long long)s->frozen_usec);
    }
    /* Thawed before (a repeated thaw), or ended without its freeze failing: a harmless no-op. */
    struct jetsnap_result *r = make_results(w, s, "", pn);
    if (!r) {
        wr_unlock_flush(w);
        return wr_fail(err, JETSNAP_E_NO_MEMORY, 0, "out of memory (the instances are thawed)");
    }
    for (size_t i = 0; i < *pn; i++)
        r[i].state = "running";
    *presults = r;
    if (pfrozen_usec)
        *pfrozen_usec = s->frozen_usec;
    wr_unlock_flush(w);
    return JETSNAP_OK;
}

int wr_backup_complete(jetsnap_writer *w, const char *owner, uint32_t session, int succeeded,
                       struct jetsnap_error *err)
{
    if (!w || owner_ok(owner, err) != JETSNAP_OK)
        return wr_fail(err, JETSNAP_E_INVALID_ARGS, 0, "backup_complete needs a writer and an owner");
    pthread_mutex_lock(&w->mu);
    bool ended;
    struct wr_session *s = NULL;
    int rc = owned_session(w, owner, session, &s, &ended, err);
    if (rc != JETSNAP_OK) {
        /* owned_session said why */
    } else if (s->timed_out)
        rc = wr_fail(err, JETSNAP_E_TIMEOUT, 0, "the freeze of session %u had ended (%s); nothing to complete",
                     session, s->end_reason);
    else if (ended && s->state == WR_SS_COMPLETED)
        rc = JETSNAP_OK; /* repeated: it is complete */
    else if (ended || s->state != WR_SS_THAWED)
        rc = wr_fail(err, JETSNAP_E_INVALID_STATE, 0, "session %u is %s; only a thawed session can complete",
                     session, wr_sess_state_name(s->state));
    if (rc != JETSNAP_OK || ended) {
        pthread_mutex_unlock(&w->mu);
        return rc;
    }
    if (!succeeded) {
        engine_abort(s);
        finish(w, s, WR_SS_ABORTED, "backup-failed");
        wr_queue_log(w, JETSNAP_LOG_NOTICE, NULL, WR_EV_ABORTED,
                     "session %u: the coordinator's backup failed; nothing recorded or truncated", session);
        wr_unlock_flush(w);
        return JETSNAP_OK;
    }
    JET_ERR te = JET_errSuccess;
    if (s->type == WR_BT_FULL || s->type == WR_BT_INCREMENTAL)
        te = JetOSSnapshotTruncateLog(s->snap, JET_bitAllDatabasesSnapshot);
    JET_ERR e = JetOSSnapshotEnd(s->snap, 0);
    if (e != JET_errSuccess) {
        engine_abort(s);
        finish(w, s, WR_SS_ABORTED, "complete-failed");
        rc = wr_fail(err, JETSNAP_E_NONRETRYABLE, e, "the snapshot could not be recorded in the databases");
    } else {
        s->snap = 0;
        finish(w, s, WR_SS_COMPLETED, "complete");
        if (te != JET_errSuccess)
            rc = wr_fail(err, JETSNAP_E_NONRETRYABLE, te,
                         "the backup is recorded, but truncating the logs it made unnecessary failed");
    }
    wr_queue_log(w, rc ? JETSNAP_LOG_ERR : JETSNAP_LOG_INFO, NULL, WR_EV_COMPLETED, "session %u completed%s%s",
                 session, rc ? ": " : "", rc && err ? err->message : "");
    wr_unlock_flush(w);
    return rc;
}

int wr_abort(jetsnap_writer *w, const char *owner, uint32_t session, const char *reason, struct jetsnap_error *err)
{
    if (!w || owner_ok(owner, err) != JETSNAP_OK)
        return wr_fail(err, JETSNAP_E_INVALID_ARGS, 0, "abort needs a writer and an owner");
    pthread_mutex_lock(&w->mu);
    bool ended;
    struct wr_session *s = NULL;
    int rc = owned_session(w, owner, session, &s, &ended, err);
    if (rc != JETSNAP_OK || ended) { /* an ended session: abort is idempotent */
        pthread_mutex_unlock(&w->mu);
        return rc;
    }
    char why[64];
    snprintf(why, sizeof why, "aborted: %.50s", reason && *reason ? reason : "no reason given");
    if (s->state == WR_SS_FREEZING) {
        abandon(w, s);
        finish(w, s, WR_SS_ABORTED, why);
    } else {
        engine_abort(s);
        sel_state(w, s, WR_IS_RUNNING);
        finish(w, s, WR_SS_ABORTED, why);
    }
    wr_queue_log(w, JETSNAP_LOG_NOTICE, NULL, WR_EV_ABORTED, "session %u %s", session, why);
    wr_unlock_flush(w);
    return JETSNAP_OK;
}

int wr_release_owner(jetsnap_writer *w, const char *owner, const char *reason)
{
    if (!w || !owner)
        return JETSNAP_OK;
    pthread_mutex_lock(&w->mu);
    if (w->cur && !strcmp(w->cur->owner, owner))
        wr_end_all(w, reason && *reason ? reason : "owner-vanished");
    wr_unlock_flush(w);
    wr_xb_release_owner(w, owner, reason && *reason ? reason : "owner-vanished");
    return JETSNAP_OK;
}

void wr_end_all(jetsnap_writer *w, const char *reason)
{
    struct wr_session *s = w->cur;
    if (!s)
        return;
    if (s->state == WR_SS_FROZEN) {
        auto_thaw(w, s, reason, WR_SS_ABORTED);
    } else if (s->state == WR_SS_FREEZING) {
        abandon(w, s);
        finish(w, s, WR_SS_ABORTED, reason);
    } else {
        engine_abort(s);
        sel_state(w, s, WR_IS_RUNNING);
        finish(w, s, WR_SS_ABORTED, reason);
    }
    wr_queue_log(w, JETSNAP_LOG_NOTICE, NULL, WR_EV_ABORTED, "session %u of %s ended: %s", s->id, s->owner,
                 reason);
}

void *wr_timer_main(void *arg)
{
    jetsnap_writer *w = arg;
    pthread_mutex_lock(&w->mu);
    while (!w->stopping) {
        struct wr_session *s = w->cur;
        if (!s || s->state != WR_SS_FROZEN) {
            pthread_cond_wait(&w->cv, &w->mu);
            continue;
        }
        uint64_t now = wr_now_usec();
        if (now < s->deadline) {
            struct timespec ts = {(time_t)(s->deadline / 1000000u), (long)(s->deadline % 1000000u) * 1000};
            pthread_cond_timedwait(&w->cv, &w->mu, &ts);
            continue;
        }
        s->timed_out = true;
        s->frozen_usec = now - s->frozen_at;
        wr_queue_log(w, JETSNAP_LOG_WARNING, NULL, WR_EV_AUTO_THAWED,
                     "session %u of %s: no thaw within freeze_timeout_ms (%u ms); thawed, the snapshot must be "
                     "discarded",
                     s->id, s->owner, w->cfg->writer.freeze_timeout_ms);
        auto_thaw(w, s, "timeout", WR_SS_FAILED);
        wr_unlock_flush(w);
        pthread_mutex_lock(&w->mu);
    }
    pthread_mutex_unlock(&w->mu);
    return NULL;
}

/* ------------------------------------------------------------------------------------------- */

static void *freezer_main(void *arg)
{
    struct wr_session *s = arg;
    jetsnap_writer *w = s->writer;
    unsigned long c = 0;
    JET_INSTANCE_INFO *info = NULL;
    pthread_mutex_lock(&w->mu);
    JET_OSSNAPID snap = s->snap; /* abandon() may clear it meanwhile */
    pthread_mutex_unlock(&w->mu);
    JET_ERR e = JetOSSnapshotFreeze(snap, &c, &info, 0);
    pthread_mutex_lock(&w->mu);
    /* An instance terminated since prepare has left the engine's session, which then freezes the
     * others: the set is not what the coordinator asked for, so the freeze fails as a whole. */
    for (size_t i = 0; e == JET_errSuccess && i < s->n_sel; i++) {
        bool in = false;
        for (unsigned long k = 0; k < c && !in; k++)
            in = info[k].hInstanceId == w->inst[s->sel[i]].inst;
        if (!in) {
            e = JET_errOSSnapshotNotAllowed;
            s->missing = s->sel[i] + 1;
        }
    }
    JetFreeBuffer((char *)info);
    s->freezer_done = true;
    s->freezer_err = e;
    if (s->abandoned) {
        /* Nobody waits for this freeze any more: undo it. */
        engine_abort(s);
        if (e == JET_errSuccess) {
            size_t n = 0;
            struct jetsnap_result *r = make_results(w, s, "", &n);
            for (size_t i = 0; r && i < n; i++)
                r[i].state = "running";
            wr_queue_event(w, JETSNAP_EVENT_AUTO_THAWED, s->id, NULL, NULL, NULL, s->end_reason, r, n);
        }
        for (size_t i = 0; i < s->n_sel; i++)
            if (w->inst[s->sel[i]].state == WR_IS_QUIESCING)
                wr_set_inst_state(w, &w->inst[s->sel[i]], WR_IS_RUNNING);
        if (s->orphan) {
            free(s->sel);
            free(s);
        }
    }
    w->freezers--;
    pthread_cond_broadcast(&w->cv);
    wr_unlock_flush(w);
    return NULL;
}

/* Under mu: end a frozen session's freeze now (engine abort thaws), report AutoThawed(reason). */
static void auto_thaw(jetsnap_writer *w, struct wr_session *s, const char *reason, enum wr_sess_state end)
{
    engine_abort(s);
    sel_state(w, s, WR_IS_RUNNING);
    size_t n = 0;
    struct jetsnap_result *r = make_results(w, s, "", &n);
    for (size_t i = 0; r && i < n; i++)
        r[i].state = "running";
    wr_queue_event(w, JETSNAP_EVENT_AUTO_THAWED, s->id, NULL, NULL, NULL, reason, r, n);
    wr_queue_log(w, JETSNAP_LOG_WARNING, NULL, WR_EV_AUTO_THAWED, "session %u auto-thawed: %s", s->id, reason);
    s->timed_out = true; /* whatever the reason, the snapshot taken meanwhile is not to be trusted */
    finish(w, s, end, reason);
}

/* Under mu: the session ends; it moves to the ring of ended sessions. */
static void finish(jetsnap_writer *w, struct wr_session *s, enum wr_sess_state state, const char *reason)
{
    snprintf(s->end_reason, sizeof s->end_reason, "%s", reason);
    set_state(w, s, state);
    if (w->cur == s)
        w->cur = NULL;
    w->last_failed = state == WR_SS_FAILED || s->timed_out;
    struct wr_session **slot = &w->ended[w->ended_head];
    if (*slot) {
        if ((*slot)->abandoned && !(*slot)->freezer_done) {
            (*slot)->orphan = true; /* its freezer thread frees it */
        } else {
            free((*slot)->sel);
            free(*slot);
        }
    }
    *slot = s;
    w->ended_head = (w->ended_head + 1) % WR_ENDED_KEEP;
    wr_update_agg(w);
}

static void set_state(jetsnap_writer *w, struct wr_session *s, enum wr_sess_state st)
{
    if (s->state == st)
        return;
    wr_queue_event(w, JETSNAP_EVENT_SESSION_STATE, s->id, NULL, wr_sess_state_name(s->state),
                   wr_sess_state_name(st), NULL, NULL, 0);
    s->state = st;
}

static void sel_state(jetsnap_writer *w, struct wr_session *s, enum wr_inst_state st)
{
    for (size_t i = 0; i < s->n_sel; i++)
        wr_set_inst_state(w, &w->inst[s->sel[i]], st);
}

/* One block: the array, then each instance's name and the message. */
static struct jetsnap_result *make_results(jetsnap_writer *w, const struct wr_session *s, const char *message,
                                           size_t *pn)
{
    size_t size = s->n_sel * sizeof(struct jetsnap_result) + strlen(message) + 1;
    for (size_t i = 0; i < s->n_sel; i++)
        size += strlen(w->inst[s->sel[i]].name) + 1;
    struct jetsnap_result *r = malloc(size);
    if (!r)
        return NULL;
    char *p = (char *)(r + s->n_sel);
    char *msg = strcpy(p, message);
    p += strlen(message) + 1;
    for (size_t i = 0; i < s->n_sel; i++) {
        r[i].instance = strcpy(p, w->inst[s->sel[i]].name);
        p += strlen(p) + 1;
        r[i].state = wr_inst_state_name(w->inst[s->sel[i]].state);
        r[i].message = msg;
    }
    *pn = s->n_sel;
    return r;
}

/* The engine session ends, thawing first if frozen (JetOSSnapshotAbort is legal in every state). */
/* Under mu: stop waiting for a freeze that is still quiescing. JetOSSnapshotAbort does not wait
 * for it: the instances already frozen are thawed before it returns, so nothing stays frozen while
 * the coordinator is told the freeze failed. */
static void abandon(jetsnap_writer *w, struct wr_session *s)
{
    s->abandoned = true;
    engine_abort(s);
    sel_state(w, s, WR_IS_RUNNING);
}

static void engine_abort(struct wr_session *s)
{
    if (s->snap)
        JetOSSnapshotAbort(s->snap, 0);
    s->snap = 0;
}

static struct wr_session *find_session(jetsnap_writer *w, uint32_t id, bool *ended)
{
    *ended = false;
    if (w->cur && w->cur->id == id)
        return w->cur;
    for (size_t i = 0; i < WR_ENDED_KEEP; i++)
        if (w->ended[i] && w->ended[i]->id == id && !w->ended[i]->orphan) {
            *ended = true;
            return w->ended[i];
        }
    return NULL;
}

/* Under mu: the session id names, which owner must own (current or ended: *ended says which).
 * UNKNOWN_SESSION or INVALID_STATE (another owner's) with err filled; *ps is set on JETSNAP_OK. */
static int owned_session(jetsnap_writer *w, const char *owner, uint32_t id, struct wr_session **ps, bool *ended,
                         struct jetsnap_error *err)
{
    struct wr_session *s = find_session(w, id, ended);
    if (!s)
        return wr_fail(err, JETSNAP_E_UNKNOWN_SESSION, 0, "no session %u", id);
    if (check_owner(s, owner, err) != JETSNAP_OK)
        return err ? err->code : JETSNAP_E_INVALID_STATE;
    *ps = s;
    return JETSNAP_OK;
}

static int check_owner(const struct wr_session *s, const char *owner, struct jetsnap_error *err)
{
    if (strcmp(s->owner, owner) != 0)
        return wr_fail(err, JETSNAP_E_INVALID_STATE, 0, "session %u belongs to %s; only its owner may change it",
                       s->id, s->owner);
    return JETSNAP_OK;
}

static int owner_ok(const char *owner, struct jetsnap_error *err)
{
    (void)err;
    return owner && *owner && strlen(owner) <= WR_OWNER_MAX ? JETSNAP_OK : JETSNAP_E_INVALID_ARGS;
}

bool wr_freeze_holds(jetsnap_writer *w, size_t i)
{
    const struct wr_session *s = w->cur;
    for (size_t k = 0; s && k < s->n_sel; k++)
        if (s->sel[k] == i)
            return true;
    return false;
}

int wr_parse_backup_type(const char *t, enum wr_backup_type *pt)
{
    static const char *const names[] = {"full", "incremental", "differential", "copy"};
    for (int i = 0; i < 4; i++)
        if (!strcmp(t, names[i])) {
            *pt = (enum wr_backup_type)i;
            return 0;
        }
    return -1;
}

/* ESE's mapping: a differential is an incremental that is recorded, like a copy, without truncating. */
static JET_GRBIT type_grbits(enum wr_backup_type t)
{
    switch (t) {
    case WR_BT_INCREMENTAL:
        return JET_bitIncrementalSnapshot;
    case WR_BT_DIFFERENTIAL:
        return JET_bitIncrementalSnapshot | JET_bitCopySnapshot;
    case WR_BT_COPY:
        return JET_bitCopySnapshot;
    default:
        return 0;
    }
}

static int select_instances(jetsnap_writer *w, const char *const *names, size_t n, size_t **psel, size_t *pn,
                            struct jetsnap_error *err)
{
    size_t *sel = calloc(w->n_inst ? w->n_inst : 1, sizeof *sel);
    if (!sel)
        return wr_fail(err, JETSNAP_E_NO_MEMORY, 0, "out of memory");
    size_t k = 0;
    if (n == 0) {
        for (size_t i = 0; i < w->n_inst; i++) {
            if (w->inst[i].xb_session) {
                /* "Every instance" must not silently mean "every one not being streamed". */
                free(sel);
                return wr_fail(err, JETSNAP_E_RETRYABLE, 0,
                               "instance %s is being streamed by backup session %u; a freeze and a "
                               "streaming backup of one instance exclude each other",
                               w->inst[i].name, w->inst[i].xb_session);
            }
            if (w->inst[i].state == WR_IS_RUNNING)
                sel[k++] = i;
        }
        if (k == 0) {
            free(sel);
            return wr_fail(err, JETSNAP_E_RETRYABLE, 0, "no instance of this writer is running");
        }
    }
    for (size_t j = 0; j < n; j++) {
        size_t i = 0;
        while (i < w->n_inst && (!names[j] || strcmp(w->inst[i].name, names[j]) != 0))
            i++;
        if (i == w->n_inst) {
            free(sel);
            return wr_fail(err, JETSNAP_E_UNKNOWN_INSTANCE, 0, "no instance '%.128s' in this writer",
                           names[j] ? names[j] : "");
        }
        bool dup = false;
        for (size_t d = 0; d < k; d++)
            dup |= sel[d] == i;
        if (dup)
            continue;
        if (w->inst[i].xb_session) {
            free(sel);
            return wr_fail(err, JETSNAP_E_RETRYABLE, 0,
                           "instance %s is being streamed by backup session %u; a freeze and a streaming "
                           "backup of one instance exclude each other",
                           w->inst[i].name, w->inst[i].xb_session);
        }
        if (w->inst[i].state != WR_IS_RUNNING) {
            free(sel);
            return wr_fail(err, JETSNAP_E_RETRYABLE, w->inst[i].last_error, "instance %s is %s%s%s", w->inst[i].name,
                           wr_inst_state_name(w->inst[i].state), w->inst[i].message[0] ? ": " : "",
                           w->inst[i].message);
        }
        sel[k++] = i;
    }
    *psel = sel;
    *pn = k;
    return JETSNAP_OK;
}

int wr_session_get(jetsnap_writer *w, uint32_t id, struct wr_session_view *v)
{
    static const char *const types[] = {"full", "incremental", "differential", "copy"};
    pthread_mutex_lock(&w->mu);
    bool ended;
    const struct wr_session *s = find_session(w, id, &ended);
    int rc = JETSNAP_OK;
    if (!s) {
        /* A streaming backup's session, or none. */
        v->instances = calloc(1, sizeof *v->instances);
        rc = !v->instances ? JETSNAP_E_NO_MEMORY : wr_xb_view(w, id, v) ? JETSNAP_OK : JETSNAP_E_UNKNOWN_SESSION;
        if (rc != JETSNAP_OK) {
            free(v->instances);
            v->instances = NULL;
        }
        pthread_mutex_unlock(&w->mu);
        return rc;
    }
    if (!(v->instances = calloc(s->n_sel ? s->n_sel : 1, sizeof *v->instances)))
        rc = JETSNAP_E_NO_MEMORY;
    if (rc == JETSNAP_OK) {
        v->id = s->id;
        snprintf(v->owner, sizeof v->owner, "%s", s->owner);
        v->backup_type = types[s->type];
        v->state = wr_sess_state_name(s->state);
        v->ended = ended;
        v->frozen_usec = s->state == WR_SS_FROZEN ? wr_now_usec() - s->frozen_at : s->frozen_usec;
        for (size_t i = 0; i < s->n_sel; i++)
            v->instances[i] = w->inst[s->sel[i]].name;
        v->n_instances = s->n_sel;
    }
    pthread_mutex_unlock(&w->mu);
    return rc;
}

size_t wr_session_ids(jetsnap_writer *w, uint32_t *ids, size_t max)
{
    size_t n = 0;
    pthread_mutex_lock(&w->mu);
    if (w->cur && n < max)
        ids[n++] = w->cur->id;
    for (size_t i = 0; i < WR_ENDED_KEEP && n < max; i++) {
        /* newest first: the ring's head is where the next ended session goes */
        const struct wr_session *s = w->ended[(w->ended_head + WR_ENDED_KEEP - 1 - i) % WR_ENDED_KEEP];
        if (s && !s->orphan)
            ids[n++] = s->id;
    }
    n += wr_xb_ids(w, ids + n, max - n);
    pthread_mutex_unlock(&w->mu);
    return n;
}
