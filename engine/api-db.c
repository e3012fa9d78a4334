/* api-db.c — JetCreateDatabase, JetAttachDatabase, JetDetachDatabase, JetOpenDatabase,
 * JetCloseDatabase. */
#include "api-int.h"

JET_ERR JET_API JetCreateDatabase(JET_SESID sesid, const char *szFilename, const char *szConnect,
                                  JET_DBID *pdbid, JET_GRBIT grbit)
{
    (void)szConnect;
    eng_sess *s;
    long err = eng_enter_session(sesid, &s);
    if (err)
        return err;
    err = eng_db_create(s, szFilename, grbit, pdbid);
    eng_leave_session(s);
    return err;
}

JET_ERR JET_API JetAttachDatabase(JET_SESID sesid, const char *szFilename, JET_GRBIT grbit)
{
    eng_sess *s;
    long err = eng_enter_session(sesid, &s);
    if (err)
        return err;
    err = eng_db_attach(s, szFilename, grbit);
    eng_leave_session(s);
    return err;
}

JET_ERR JET_API JetDetachDatabase(JET_SESID sesid, const char *szFilename)
{
    eng_sess *s;
    long err = eng_enter_session(sesid, &s);
    if (err)
        return err;
    err = eng_db_detach(s, szFilename);
    eng_leave_session(s);
    return err;
}

JET_ERR JET_API JetOpenDatabase(JET_SESID sesid, const char *szFilename, const char *szConnect,
                                JET_DBID *pdbid, JET_GRBIT grbit)
{
    (void)szConnect;
    eng_sess *s;
    long err = eng_enter_session(sesid, &s);
    if (err)
        return err;
    eng_inst *in = s->inst;
    if (!szFilename || !*szFilename || !pdbid) {
        err = JET_errInvalidParameter;
    } else if (grbit & ~(JET_GRBIT)(JET_bitDbReadOnly | JET_bitDbExclusive)) {
        err = JET_errInvalidGrbit;
    } else {
        pthread_mutex_lock(&in->mu);
        eng_db *db = eng_db_find(in, szFilename);
        if (!db) {
            err = JET_errDatabaseNotFound;
        } else {
            s->open_dbs[db->dbid]++;
            db->opened_by++;
            *pdbid = db->dbid;
        }
        pthread_mutex_unlock(&in->mu);
    }
    eng_leave_session(s);
    return err;
}

JET_ERR JET_API JetCloseDatabase(JET_SESID sesid, JET_DBID dbid, JET_GRBIT grbit)
{
    eng_sess *s;
    long err = eng_enter_session(sesid, &s);
    if (err)
        return err;
    eng_inst *in = s->inst;
    eng_db *db = NULL;
    if (grbit)
        err = JET_errInvalidGrbit;
    else
        err = api_db(s, dbid, &db);
    if (!err) {
        pthread_mutex_lock(&in->mu);
        /* The session's last open of the database may not go while its tables are open. */
        if (s->open_dbs[dbid] == 1)
            for (eng_cursor *c = s->cursors; c; c = c->next)
                if (c->db == db)
                    err = JET_errTableInUse;
        if (!err) {
            s->open_dbs[dbid]--;
            db->opened_by--;
        }
        pthread_mutex_unlock(&in->mu);
    }
    eng_leave_session(s);
    return err;
}
