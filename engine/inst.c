/*
 * inst.c — one engine instance: JetInit (recovery, log, checkpoint thread), JetTerm, sessions, and
 * the entry/exit bracket every API call goes through so that a term waits for calls in flight and
 * refuses new ones (JET_errTermInProgress).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "engine-int.h"
#include "records-int.h"

eng_inst *eng_inst_new(void)
{
    eng_inst *in = calloc(1, sizeof *in);
    if (!in)
        return NULL;
    eng_params_default(&in->p);
    pthread_mutex_init(&in->mu, NULL);
    pthread_cond_init(&in->cv, NULL);
    pthread_rwlock_init(&in->ckpt_lock, NULL);
    pthread_mutex_init(&in->ckpt_run, NULL);
    pthread_mutex_init(&in->ckpt_mu, NULL);
    pthread_mutex_init(&in->ckpt_wake_mu, NULL);
    pthread_cond_init(&in->ckpt_wake_cv, NULL);
    in->ckpt_fd = -1;
    in->state = INST_CREATED;
    eng_bk_init(in);
    eng_frz_init(in);
    return in;
}

void eng_inst_free(eng_inst *in)
{
    if (!in)
        return;
    pthread_mutex_destroy(&in->mu);
    pthread_cond_destroy(&in->cv);
    pthread_rwlock_destroy(&in->ckpt_lock);
    pthread_mutex_destroy(&in->ckpt_run);
    pthread_mutex_destroy(&in->ckpt_mu);
    pthread_mutex_destroy(&in->ckpt_wake_mu);
    pthread_cond_destroy(&in->ckpt_wake_cv);
    eng_bk_destroy(in);
    eng_frz_destroy(in);
    free(in);
}

long eng_enter(eng_inst *in)
{
    long err = JET_errSuccess;
    pthread_mutex_lock(&in->mu);
    if (in->state == INST_TERMINATING)
        err = JET_errTermInProgress;
    else if (in->state != INST_RUNNING)
        err = JET_errNotInitialized;
    else if (in->fatal)
        err = eng_fatal_err(in->fatal);
    else if (in->stop_service & ENG_STOP_ALL)
        err = JET_errClientRequestToStopJetService;
    else
        in->active++;
    pthread_mutex_unlock(&in->mu);
    return err;
}

void eng_leave(eng_inst *in)
{
    pthread_mutex_lock(&in->mu);
    if (--in->active == 0)
        pthread_cond_broadcast(&in->cv);
    pthread_mutex_unlock(&in->mu);
}

long eng_enter_session(JET_SESID sesid, eng_sess **out)
{
    /* Look up and enter under the handle lock: a term cannot free the session in between. */
    eng_handle_lock();
    eng_sess *s = eng_handle_get_locked(sesid, ENG_H_SESSION);
    long err = s ? JET_errSuccess : JET_errInvalidSesid;
    bool idle = false;
    /* ESE lets a session move between threads from one call to the next, but never be in two
     * calls at once: the second would share its transaction and cursors unlocked. */
    if (s && !atomic_compare_exchange_strong_explicit(&s->busy, &idle, true, memory_order_acquire,
                                                      memory_order_relaxed))
        err = ENG_ERR(JET_errSessionSharingViolation, "the session is already in a call on another thread");
    if (!err) {
        err = eng_enter(s->inst);
        /* Released under the handle lock, before a term can free the session. */
        if (err)
            atomic_store_explicit(&s->busy, false, memory_order_release);
    }
    eng_handle_unlock();
    if (!err)
        *out = s;
    return err;
}

void eng_leave_session(eng_sess *s)
{
    /* The session may be claimed and ended by another thread as soon as it is released; the
     * instance stays, as this call is still counted in it. */
    eng_inst *in = s->inst;
    atomic_store_explicit(&s->busy, false, memory_order_release);
    eng_leave(in);
}

static void on_roll(void *ctx, uint32_t gen)
{
    (void)gen;
    eng_ckpt_kick(ctx);
}

static long check_dir(const char *path, long err)
{
    struct stat st;
    ENG_RETURN_IF(stat(path, &st) < 0 || !S_ISDIR(st.st_mode) || access(path, W_OK | X_OK) < 0, err,
                  "the path is missing or not a writable directory");
    return JET_errSuccess;
}

static long append_marker(eng_inst *in, uint16_t type)
{
    uint8_t t[ENG_REC_TIME_LEN];
    eng_rec_marker_encode(t, &(eng_rec_time){eng_now_usec()});
    struct iovec iov = {t, sizeof t};
    eng_logrec rec = {type, &iov, 1};
    eng_lsn end;
    long err = log_append(in->log, &rec, 1, NULL, &end);
    return err ? err : log_flush(in->log, end);
}

long eng_inst_init(eng_inst *in, JET_GRBIT grbit, const eng_rstmap *map)
{
    ENG_RETURN_IF(grbit & ~(JET_GRBIT)(JET_bitReplayIgnoreMissingDB | JET_bitRecoveryWithoutUndo),
                  JET_errInvalidGrbit, "JetInit takes only ReplayIgnoreMissingDB and RecoveryWithoutUndo");
    pthread_mutex_lock(&in->mu);
    long err = in->state == INST_RUNNING        ? JET_errAlreadyInitialized
               : in->state == INST_INITIALIZING ? JET_errInitInProgress
               : in->state == INST_TERMINATING  ? JET_errTermInProgress
                                                : JET_errSuccess;
    if (!err) {
        in->state = INST_INITIALIZING;
        in->fatal = 0;
        in->stop_service = 0;
    }
    pthread_mutex_unlock(&in->mu);
    if (err)
        return err;

    char ckpt[ENG_PATH_MAX + 16];
    if ((err = check_dir(in->p.system_path, JET_errInvalidSystemPath)))
        goto fail;
    if ((err = check_dir(in->p.log_path, JET_errInvalidLogDirectory)))
        goto fail;
    snprintf(ckpt, sizeof ckpt, "%s/%s.chk", in->p.system_path, in->p.base_name);
    in->ckpt_fd = eng_io_open(ckpt, O_RDWR | O_CREAT, 0644);
    if (in->ckpt_fd < 0) {
        err = eng_io_errno_to_jet(in->ckpt_fd, 0);
        in->ckpt_fd = -1;
        goto fail;
    }
    if (flock(in->ckpt_fd, LOCK_EX | LOCK_NB) < 0) {
        /* Another process (or instance) runs on this checkpoint and log set. */
        err = errno == EWOULDBLOCK ? JET_errFileAccessDenied : JET_errDiskIO;
        goto fail;
    }
    memset(&in->logcfg, 0, sizeof in->logcfg);
    in->logcfg.dir = in->p.log_path;
    memcpy(in->logcfg.base, in->p.base_name, 4);
    in->logcfg.file_size = in->p.log_file_kb * 1024u;
    in->logcfg.on_roll = on_roll;
    in->logcfg.on_roll_ctx = in;
    if (in->p.recovery) {
        uint32_t gen = 1;
        if ((err = eng_recover(in, grbit, map, &gen)))
            goto fail;
        in->logcfg.sig = in->logsig;
        if ((err = log_writer_open(&in->logcfg, gen, &in->log)))
            goto fail;
        if ((err = append_marker(in, ENG_LR_INIT)))
            goto fail;
        /* From now on nothing before this generation is needed for crash recovery. */
        if ((err = eng_ckpt_write(in, ENG_LSN(gen, 0))))
            goto fail;
        if (ENG_PARAM_LOAD(in, circular_log) && gen > 1)
            log_delete_range(&in->logcfg, 1, gen);
    } else {
        in->logsig = (eng_logsig){eng_new_sig().random, eng_now_usec()};
    }
    if ((err = eng_ckpt_start(in)))
        goto fail;
    pthread_mutex_lock(&in->mu);
    in->state = INST_RUNNING;
    pthread_mutex_unlock(&in->mu);
    eng_event(in, 4, 100, "instance initialized");
    return JET_errSuccess;
fail:
    if (in->log) {
        log_writer_close(in->log);
        in->log = NULL;
    }
    if (in->ckpt_fd >= 0) {
        eng_io_close(in->ckpt_fd);
        in->ckpt_fd = -1;
    }
    pthread_mutex_lock(&in->mu);
    in->state = INST_CREATED;
    pthread_mutex_unlock(&in->mu);
    return err;
}

static void cursor_free(eng_cursor *c)
{
    eng_handle_free(c->handle);
    free(c->key);
    free(c);
}

void eng_session_destroy(eng_sess *s)
{
    eng_inst *in = s->inst;
    if (s->txn.level)
        eng_txn_rollback(&s->txn, true);
    eng_txn_free(&s->txn);
    pthread_mutex_lock(&in->mu);
    eng_cursor *cursors = s->cursors;
    s->cursors = NULL;
    for (eng_cursor *c = cursors; c; c = c->next)
        c->db->open_tables--;
    for (uint32_t id = 1; id <= ENG_MAX_DB; id++)
        if (s->open_dbs[id] && in->dbs[id])
            in->dbs[id]->opened_by -= (int)s->open_dbs[id];
    for (eng_sess **pp = &in->sessions; *pp; pp = &(*pp)->next)
        if (*pp == s) {
            *pp = s->next;
            break;
        }
    in->nsessions--;
    pthread_mutex_unlock(&in->mu);
    /* Handles are freed only after in->mu is released: eng_enter_session takes the handle lock and
     * then in->mu, so taking the handle lock under in->mu deadlocks against it (found by
     * tests/stress/instances-stress). */
    while (cursors) {
        eng_cursor *c = cursors;
        cursors = c->next;
        cursor_free(c);
    }
    eng_handle_free(s->handle);
    free(s);
}

long eng_session_begin(eng_inst *in, JET_SESID *psesid)
{
    eng_sess *s = calloc(1, sizeof *s);
    ENG_RETURN_IF(!s, JET_errOutOfMemory, "no memory for a new session");
    s->inst = in;
    s->txn.sess = s;
    pthread_mutex_lock(&in->mu);
    if (in->nsessions >= (int)in->p.max_sessions) {
        pthread_mutex_unlock(&in->mu);
        free(s);
        return ENG_ERR(JET_errOutOfSessions, "the instance has JET_paramMaxSessions sessions already");
    }
    s->next = in->sessions;
    in->sessions = s;
    in->nsessions++;
    pthread_mutex_unlock(&in->mu);
    /* The handle is made outside in->mu (the handle lock comes first: see eng_session_destroy).
     * The caller is inside eng_enter, so no term can destroy the listed session meanwhile. */
    s->handle = eng_handle_new(ENG_H_SESSION, s);
    if (!s->handle) {
        eng_session_destroy(s);
        return JET_errOutOfMemory;
    }
    *psesid = s->handle;
    return JET_errSuccess;
}

long eng_inst_term(eng_inst *in, JET_GRBIT grbit)
{
    const JET_GRBIT known = JET_bitTermComplete | JET_bitTermAbrupt | JET_bitTermStopBackup | JET_bitTermDirty;
    ENG_RETURN_IF(grbit & ~known, JET_errInvalidGrbit,
                  "a term takes only the Complete, Abrupt, StopBackup and Dirty bits");
    bool dirty = grbit & JET_bitTermDirty;
    bool complete = !dirty && !(grbit & (JET_bitTermAbrupt | JET_bitTermStopBackup));
    bool backup = eng_bk_running(in); /* before in->mu: the backup mutex ranks above it */
    pthread_mutex_lock(&in->mu);
    if (in->state == INST_CREATED) {
        pthread_mutex_unlock(&in->mu);
        return JET_errSuccess; /* never initialized: nothing to shut down */
    }
    if (in->state == INST_TERMINATING || in->state == INST_INITIALIZING) {
        long e = in->state == INST_TERMINATING ? JET_errTermInProgress : JET_errInitInProgress;
        pthread_mutex_unlock(&in->mu);
        return e;
    }
    /* ESE: a clean term refuses to cut a running backup short; StopBackup, Abrupt and Dirty end it
     * (as aborted by the server) once the calls in flight have drained. */
    if (complete && backup) {
        pthread_mutex_unlock(&in->mu);
        return ENG_ERR(JET_errBackupInProgress,
                       "a streaming backup is running, which a clean term does not cut short");
    }
    in->state = INST_TERMINATING;
    eng_bk_stop(in); /* a backup call in flight ends with BackupAbortByServer */
    /* Calls waiting for a database's writer lock would keep the drain below waiting for as long as
     * they wait (see eng_txn_lock_db): wake them to give up. */
    atomic_store(&in->draining, true);
    for (uint32_t id = 1; id <= ENG_MAX_DB; id++)
        if (in->dbs[id]) {
            pthread_mutex_lock(&in->dbs[id]->wmu);
            pthread_cond_broadcast(&in->dbs[id]->wcv);
            pthread_mutex_unlock(&in->dbs[id]->wmu);
        }
    while (in->active > 0)
        pthread_cond_wait(&in->cv, &in->mu);
    atomic_store(&in->draining, false);
    /* A session changes its transaction level inside its calls without in->mu, so the levels are
     * looked at only once the calls in flight have drained (eng_leave publishes them). A refused
     * clean term leaves the instance running; calls that raced it got TermInProgress. */
    if (complete)
        for (eng_sess *s = in->sessions; s; s = s->next)
            if (s->txn.level > 0) {
                in->state = INST_RUNNING;
                pthread_mutex_unlock(&in->mu);
                return ENG_ERR(JET_errTooManyActiveUsers, "a session still has a transaction open");
            }
    pthread_mutex_unlock(&in->mu);
    eng_bk_cancel(in);

    eng_ckpt_stop(in);
    while (in->sessions)
        eng_session_destroy(in->sessions);

    long err = JET_errSuccess;
    bool broken = in->fatal != 0;
    for (uint32_t id = 1; id <= ENG_MAX_DB; id++) {
        eng_db *db = in->dbs[id];
        if (!db)
            continue;
        /* After a fatal error nothing more may be written: the next JetInit recovers from the log. */
        long e = eng_db_close_file(in, db, !dirty && !broken);
        if (e && !err)
            err = e;
    }
    if (in->log) {
        if (!dirty && !broken && !err) {
            err = append_marker(in, ENG_LR_TERM);
            if (!err)
                err = eng_ckpt_write(in, log_tip(in->log));
        }
        long e = log_writer_close(in->log);
        if (e && !err && !broken)
            err = e;
        in->log = NULL;
    }
    if (in->ckpt_fd >= 0) {
        eng_io_close(in->ckpt_fd);
        in->ckpt_fd = -1;
    }
    pthread_mutex_lock(&in->mu);
    in->state = INST_CREATED;
    pthread_mutex_unlock(&in->mu);
    eng_event(in, 4, 101, "instance terminated%s", dirty ? " (dirty)" : "");
    if (!err && dirty)
        err = JET_errDirtyShutdown;
    return err;
}

long eng_inst_stop_service(eng_inst *in, JET_GRBIT grbit)
{
    const JET_GRBIT resumable = JET_bitStopServiceBackgroundUserTasks | JET_bitStopServiceQuiesceCaches;
    const JET_GRBIT known = resumable | JET_bitStopServiceStopAndEmitLog | JET_bitStopServiceResume;
    ENG_RETURN_IF(grbit & ~known, JET_errInvalidGrbit,
                  "stopping the service takes only BackgroundUserTasks, QuiesceCaches, StopAndEmitLog and Resume");
    pthread_mutex_lock(&in->mu);
    long err = in->state == INST_TERMINATING ? JET_errTermInProgress
               : in->state != INST_RUNNING   ? JET_errNotInitialized
               : in->fatal                   ? eng_fatal_err(in->fatal)
               : (in->stop_service & ENG_STOP_ALL) ? JET_errClientRequestToStopJetService
                                                   : JET_errSuccess;
    bool quiesce = false;
    if (!err) {
        if (grbit & JET_bitStopServiceResume) {
            /* Resume alone undoes every resumable stop; with bits, only those. */
            JET_GRBIT bits = grbit & resumable;
            in->stop_service &= ~(bits ? bits : resumable);
        } else if (!(grbit & resumable)) {
            /* StopServiceAll (0) or StopAndEmitLog: final until JetTerm. */
            in->stop_service |= ENG_STOP_ALL;
            quiesce = true;
        } else {
            in->stop_service |= grbit & resumable;
            quiesce = grbit & JET_bitStopServiceQuiesceCaches;
        }
        if (quiesce)
            in->active++; /* keep JetTerm from tearing the instance down under the checkpoint */
    }
    pthread_mutex_unlock(&in->mu);
    if (err || !quiesce)
        return err;
    /* Quiescing writes every dirty page now, so the databases on disk are as current as the
     * log and a following term or snapshot has nothing left to flush. */
    err = eng_checkpoint(in);
    eng_event(in, 4, 102, "service stopped (grbit 0x%lx)", (unsigned long)grbit);
    eng_leave(in);
    return err;
}
