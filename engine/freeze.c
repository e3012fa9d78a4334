/*
 * freeze.c — the freeze gate of an OS snapshot: freeze and thaw, and the gate every write of a
 * database or checkpoint file passes (cache.c, checkpoint.c, db.c, backup.c call down into it).
 *
 * Freeze must be fast and bounded and must leave on disk something that recovers to what was
 * committed: it closes the gate (waiting only for the writes already in flight, one bounded flush
 * batch at most), then writes and syncs what the log holds and pauses it. It does not flush the
 * cache: dirty pages stay in memory and the log, which is on disk, covers them. While frozen,
 * sessions keep reading and writing in memory; a durable commit waits in log_flush, and a full
 * cache stalls its writer, until thaw.
 */
#include "engine-int.h"

void eng_frz_init(eng_inst *in)
{
    pthread_mutex_init(&in->frz_mu, NULL);
    pthread_cond_init(&in->frz_cv, NULL);
    in->frozen = false;
    in->frz_io = 0;
    atomic_store(&in->snap_hold, false);
}

void eng_frz_destroy(eng_inst *in)
{
    pthread_mutex_destroy(&in->frz_mu);
    pthread_cond_destroy(&in->frz_cv);
}

void eng_frz_enter(eng_inst *in)
{
    pthread_mutex_lock(&in->frz_mu);
    while (in->frozen)
        pthread_cond_wait(&in->frz_cv, &in->frz_mu);
    in->frz_io++;
    pthread_mutex_unlock(&in->frz_mu);
}

void eng_frz_exit(eng_inst *in)
{
    pthread_mutex_lock(&in->frz_mu);
    if (--in->frz_io == 0)
        pthread_cond_broadcast(&in->frz_cv);
    pthread_mutex_unlock(&in->frz_mu);
}

long eng_freeze(eng_inst *in)
{
    pthread_mutex_lock(&in->frz_mu);
    in->frozen = true;
    while (in->frz_io > 0)
        pthread_cond_wait(&in->frz_cv, &in->frz_mu);
    pthread_mutex_unlock(&in->frz_mu);
    long err = in->log ? log_pause(in->log) : JET_errSuccess;
    if (err) {
        pthread_mutex_lock(&in->frz_mu);
        in->frozen = false;
        pthread_cond_broadcast(&in->frz_cv);
        pthread_mutex_unlock(&in->frz_mu);
    }
    return err;
}

void eng_thaw(eng_inst *in)
{
    if (in->log)
        log_resume(in->log);
    pthread_mutex_lock(&in->frz_mu);
    in->frozen = false;
    pthread_cond_broadcast(&in->frz_cv);
    pthread_mutex_unlock(&in->frz_mu);
}

long eng_frz_dbhdr_write(eng_db *db, eng_dbhdr *h)
{
    eng_frz_enter(db->inst);
    long err = eng_dbhdr_write(db->fd, h);
    eng_frz_exit(db->inst);
    return err;
}
