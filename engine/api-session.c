/*
 * api-session.c — JetEndSession and the transaction calls, plus the helpers the other api files
 * share: cursor and database lookups, implicit transactions, read views.
 */
#include <stdlib.h>
#include <string.h>

#include "api-int.h"
#include "catalog-int.h"

long api_cursor(eng_sess *s, JET_TABLEID tableid, eng_cursor **out)
{
    /* The owner check is made under the handle lock: a cursor of another session may be closed
     * (and freed) by that session's thread at any moment, but not before its handle is freed. */
    eng_handle_lock();
    eng_cursor *c = eng_handle_get_locked(tableid, ENG_H_TABLE);
    long err = !c ? JET_errInvalidTableId : c->sess != s ? JET_errSesidTableIdMismatch : JET_errSuccess;
    eng_handle_unlock();
    ENG_RETURN_IF(err, err, "the table id is not a cursor this session has open");
    *out = c;
    return JET_errSuccess;
}

long api_db(eng_sess *s, JET_DBID dbid, eng_db **out)
{
    ENG_RETURN_IF(dbid == 0 || dbid > ENG_MAX_DB || !s->open_dbs[dbid], JET_errInvalidDatabaseId,
                  "the session has not opened this database id");
    eng_db *db = s->inst->dbs[dbid];
    ENG_RETURN_IF(!db, JET_errInvalidDatabaseId, "the database id no longer names an attached database");
    *out = db;
    return JET_errSuccess;
}

long api_update_begin(eng_sess *s, eng_db *db, bool *implicit)
{
    *implicit = false;
    ENG_RETURN_IF(s->txn.doomed, JET_errRollbackRequired, "a failed call left the transaction half-done");
    /* Set by a failed flush under the cache locks, which this path does not take. */
    long io_err = __atomic_load_n(&db->io_err, __ATOMIC_RELAXED);
    if (io_err) {
        /* The flush that failed (often the checkpoint thread's) makes the instance unavailable
         * only after it returns; a caller told DiskFull here must find every later call refused
         * the same way, so the instance is marked now (eng_fatal keeps the first cause). */
        eng_fatal(s->inst, io_err);
        ENG_RETURN_IF(true, io_err == JET_errDiskFull ? JET_errDiskFull : JET_errDatabaseUnavailable,
                      "a page write of this database failed earlier");
    }
    if (s->txn.level == 0) {
        s->txn.level = 1;
        s->txn.implicit = true;
        *implicit = true;
    }
    long err = eng_txn_lock_db(&s->txn, db);
    if (err && *implicit)
        eng_txn_rollback(&s->txn, true);
    return err;
}

long api_update_end(eng_sess *s, bool implicit, size_t changes_before, long err)
{
    if (implicit) {
        if (err) {
            eng_txn_rollback(&s->txn, true);
            return err;
        }
        eng_lsn lsn = 0;
        err = eng_txn_commit(&s->txn, 0, &lsn);
        if (!err && lsn && s->inst->log) {
            err = log_flush(s->inst->log, lsn);
            if (err)
                eng_fatal(s->inst, err);
        }
        return err;
    }
    /* A failure after pages changed leaves the transaction half-done: ESE's rule applies. */
    if (err && eng_txn_changes(&s->txn) != changes_before)
        s->txn.doomed = true;
    return err;
}

void api_read_begin(eng_sess *s, eng_db *db, eng_view *v)
{
    bool mine = s->txn.level > 0 && (s->txn.locked_dbs & (1u << (db->dbid - 1)));
    if (!mine)
        pthread_rwlock_rdlock(&db->view_lock);
    eng_view_begin(v, db, mine ? &s->txn : NULL);
}

void api_read_end(eng_view *v)
{
    bool mine = v->txn != NULL;
    eng_db *db = v->db;
    eng_view_end(v);
    if (!mine)
        pthread_rwlock_unlock(&db->view_lock);
}

long api_check_name(const char *name)
{
    ENG_RETURN_IF(!name, JET_errInvalidParameter, "no name was given");
    size_t n = strlen(name);
    ENG_RETURN_IF(n == 0 || n > JET_cbNameMost, JET_errInvalidName,
                  "the name is empty or longer than JET_cbNameMost");
    for (size_t i = 0; i < n; i++)
        ENG_RETURN_IF((unsigned char)name[i] < 0x20 || name[i] == 0x7f, JET_errInvalidName,
                      "the name holds a control character");
    return JET_errSuccess;
}

void api_revalidate_cursors(eng_sess *s)
{
    eng_inst *in = s->inst;
    eng_cursor **pp = &s->cursors;
    while (*pp) {
        eng_cursor *c = *pp;
        eng_view v;
        api_read_begin(s, c->db, &v);
        uint32_t root = 0;
        long err = eng_catalog_find(&v, c->name, &root);
        api_read_end(&v);
        if (err == JET_errObjectNotFound || (!err && root != c->root)) {
            /* The table was created by the work just rolled back: its cursor closes with it. */
            *pp = c->next;
            pthread_mutex_lock(&in->mu);
            c->db->open_tables--;
            pthread_mutex_unlock(&in->mu);
            eng_handle_free(c->handle);
            free(c->key);
            free(c);
            continue;
        }
        pp = &c->next;
    }
}

JET_ERR JET_API JetEndSession(JET_SESID sesid, JET_GRBIT grbit)
{
    eng_sess *s;
    long err = eng_enter_session(sesid, &s);
    if (err)
        return err;
    eng_inst *in = s->inst;
    if (grbit) {
        eng_leave_session(s);
        return JET_errInvalidGrbit;
    }
    /* The session stays claimed until it is freed: a call racing the end gets
     * SessionSharingViolation, then InvalidSesid once the handle is gone. */
    eng_session_destroy(s);
    eng_leave(in);
    return JET_errSuccess;
}

JET_ERR JET_API JetBeginTransaction(JET_SESID sesid)
{
    eng_sess *s;
    long err = eng_enter_session(sesid, &s);
    if (err)
        return err;
    err = eng_txn_begin(&s->txn);
    eng_leave_session(s);
    return err;
}

JET_ERR JET_API JetCommitTransaction(JET_SESID sesid, JET_GRBIT grbit)
{
    eng_sess *s;
    long err = eng_enter_session(sesid, &s);
    if (err)
        return err;
    eng_inst *in = s->inst;
    const JET_GRBIT known = JET_bitCommitLazyFlush | JET_bitWaitLastLevel0Commit | JET_bitWaitAllLevel0Commit;
    if (grbit & ~known) {
        err = JET_errInvalidGrbit;
    } else if (grbit & (JET_bitWaitLastLevel0Commit | JET_bitWaitAllLevel0Commit)) {
        /* ESE: these flags ask only to make earlier lazy commits durable; no transaction ends. */
        if (in->log)
            err = log_flush(in->log, (grbit & JET_bitWaitAllLevel0Commit) ? log_tip(in->log) : s->last_commit);
    } else {
        int level = s->txn.level;
        eng_lsn lsn = 0;
        err = eng_txn_commit(&s->txn, grbit, &lsn);
        if (!err && level == 1 && lsn) {
            s->last_commit = lsn;
            if (!(grbit & JET_bitCommitLazyFlush) && in->log) {
                err = log_flush(in->log, lsn);
                if (err)
                    eng_fatal(in, err);
            }
        }
    }
    eng_leave_session(s);
    return err;
}

JET_ERR JET_API JetRollback(JET_SESID sesid, JET_GRBIT grbit)
{
    eng_sess *s;
    long err = eng_enter_session(sesid, &s);
    if (err)
        return err;
    if (grbit & ~(JET_GRBIT)JET_bitRollbackAll)
        err = JET_errInvalidGrbit;
    else
        err = eng_txn_rollback(&s->txn, grbit & JET_bitRollbackAll);
    if (!err)
        api_revalidate_cursors(s);
    eng_leave_session(s);
    return err;
}
