/*
 * snapshot.c — the per-instance part of an OS snapshot (docs/jet-semantics.md, “OS snapshot
 * sessions”): the header stamps and log truncation that follow a freeze (the freeze and thaw
 * themselves are in freeze.c). The session that spans instances, its state machine and its
 * time-out live in instancemgr/snapshot-api.c.
 */
#include <string.h>

#include "engine-int.h"

static bool live(eng_db *db) { return db && db->fd >= 0 && !db->detaching; }

long eng_snap_check_incremental(eng_inst *in)
{
    long err = JET_errSuccess;
    pthread_mutex_lock(&in->mu);
    for (uint32_t id = 1; id <= ENG_MAX_DB; id++) {
        eng_db *db = in->dbs[id];
        if (live(db) && (db->hdr.bk_full.gen_low == 0 || db->hdr.bk_full.type != ENG_BKTYPE_SNAPSHOT)) {
            eng_event(in, 2, 206, "database %s cannot have an incremental snapshot without a full one first",
                      db->path);
            err = JET_errMissingFullBackup;
        }
    }
    pthread_mutex_unlock(&in->mu);
    return err;
}

long eng_snap_stamp(eng_inst *in, bool incremental, bool copy, const eng_bkinfo *bk)
{
    long err = JET_errSuccess;
    pthread_mutex_lock(&in->mu);
    for (uint32_t id = 1; id <= ENG_MAX_DB; id++) {
        eng_db *db = in->dbs[id];
        if (!live(db))
            continue;
        eng_dbhdr h = db->hdr;
        eng_bkinfo *slot = incremental ? (copy ? &h.bk_diff : &h.bk_inc) : (copy ? &h.bk_copy : &h.bk_full);
        if (slot->type && slot->mark > bk->mark)
            continue; /* a later backup is already recorded */
        *slot = *bk;
        if (!incremental && !copy) {
            memset(&h.bk_inc, 0, sizeof h.bk_inc);
            memset(&h.bk_diff, 0, sizeof h.bk_diff);
        }
        long e = eng_frz_dbhdr_write(db, &h);
        if (e) {
            eng_event(in, 2, 219, "error %ld updating the header of %s with the snapshot information", e, db->path);
            if (!err)
                err = e;
        } else {
            db->hdr = h;
        }
    }
    pthread_mutex_unlock(&in->mu);
    return err;
}

long eng_snap_truncate(eng_inst *in, uint32_t upto)
{
    eng_log_config cfg = in->logcfg;
    cfg.sig = in->logsig;
    uint32_t lo = 0, hi = 0, cur = 0;
    long err = log_list(&cfg, &lo, &hi, &cur);
    if (err)
        return err;
    uint32_t need = eng_ckpt_gen(in); /* never what crash recovery needs */
    if (upto > need)
        upto = need;
    if (!lo || lo >= upto) {
        if (lo > upto)
            return ENG_ERR(JET_errRequiredLogFilesMissing,
                           "the oldest log on disk is past the truncation point: logs are missing");
        eng_event(in, 3, 225, "no log files can be truncated");
        return JET_errSuccess;
    }
    eng_frz_enter(in);
    err = log_delete_range(&cfg, lo, upto);
    eng_frz_exit(in);
    if (!err)
        eng_event(in, 3, 224, "deleting log files %u to %u", lo, upto - 1);
    return err;
}
