/* api-table.c — JetCreateTable, JetOpenTable, JetCloseTable, JetDeleteTable. A table is a B+tree
 * whose root page number is kept in the database's catalog B+tree under the table's name. */
#include <stdlib.h>
#include <string.h>

#include "api-int.h"
#include "catalog-int.h"

static long cursor_new(eng_sess *s, eng_db *db, uint32_t root, const char *name, JET_TABLEID *out)
{
    eng_cursor *c = calloc(1, sizeof *c);
    ENG_RETURN_IF(!c, JET_errOutOfMemory, "no memory for a new cursor");
    c->key = malloc(bt_key_max(db->page_size));
    c->handle = c->key ? eng_handle_new(ENG_H_TABLE, c) : 0;
    if (!c->handle) {
        free(c->key);
        free(c);
        return JET_errOutOfMemory;
    }
    c->sess = s;
    c->db = db;
    c->root = root;
    c->pos = CUR_NONE;
    strncpy(c->name, name, JET_cbNameMost);
    pthread_mutex_lock(&s->inst->mu);
    c->next = s->cursors;
    s->cursors = c;
    db->open_tables++;
    pthread_mutex_unlock(&s->inst->mu);
    *out = c->handle;
    return JET_errSuccess;
}

JET_ERR JET_API JetCreateTable(JET_SESID sesid, JET_DBID dbid, const char *szTableName,
                               unsigned long lPages, unsigned long lDensity, JET_TABLEID *ptableid)
{
    (void)lPages;
    eng_sess *s;
    long err = eng_enter_session(sesid, &s);
    if (err)
        return err;
    eng_db *db = NULL;
    if (!ptableid)
        err = JET_errInvalidParameter;
    if (!err)
        err = api_check_name(szTableName);
    if (!err && lDensity != 0 && (lDensity < 20 || lDensity > 100))
        err = JET_errDensityInvalid;
    if (!err)
        err = api_db(s, dbid, &db);
    bool implicit = false;
    if (!err)
        err = api_update_begin(s, db, &implicit);
    if (!err) {
        size_t before = eng_txn_changes(&s->txn);
        eng_view v;
        eng_view_begin(&v, db, &s->txn);
        uint32_t root = 0;
        err = eng_catalog_find(&v, szTableName, &root);
        if (!err)
            err = JET_errTableDuplicate;
        else if (err == JET_errObjectNotFound)
            err = bt_create(&v.io, &root);
        if (!err)
            err = eng_catalog_put(&v, szTableName, root);
        if (!err && v.err)
            err = v.err;
        eng_view_end(&v);
        err = api_update_end(s, implicit, before, err);
        if (!err)
            err = cursor_new(s, db, root, szTableName, ptableid);
    }
    eng_leave_session(s);
    return err;
}

JET_ERR JET_API JetOpenTable(JET_SESID sesid, JET_DBID dbid, const char *szTableName,
                             const void *pvParameters, unsigned long cbParameters, JET_GRBIT grbit,
                             JET_TABLEID *ptableid)
{
    (void)pvParameters;
    (void)cbParameters;
    eng_sess *s;
    long err = eng_enter_session(sesid, &s);
    if (err)
        return err;
    const JET_GRBIT known = JET_bitTableDenyWrite | JET_bitTableDenyRead | JET_bitTableReadOnly |
                            JET_bitTableUpdatable | JET_bitTableNoCache | JET_bitTablePreread |
                            JET_bitTableSequential;
    eng_db *db = NULL;
    if (!ptableid)
        err = JET_errInvalidParameter;
    if (!err && (grbit & ~known))
        err = JET_errInvalidGrbit;
    if (!err)
        err = api_check_name(szTableName);
    if (!err)
        err = api_db(s, dbid, &db);
    if (!err) {
        eng_view v;
        uint32_t root = 0;
        api_read_begin(s, db, &v);
        err = eng_catalog_find(&v, szTableName, &root);
        api_read_end(&v);
        if (!err)
            err = cursor_new(s, db, root, szTableName, ptableid);
    }
    eng_leave_session(s);
    return err;
}

JET_ERR JET_API JetCloseTable(JET_SESID sesid, JET_TABLEID tableid)
{
    eng_sess *s;
    long err = eng_enter_session(sesid, &s);
    if (err)
        return err;
    eng_cursor *c;
    err = api_cursor(s, tableid, &c);
    if (!err) {
        pthread_mutex_lock(&s->inst->mu);
        for (eng_cursor **pp = &s->cursors; *pp; pp = &(*pp)->next)
            if (*pp == c) {
                *pp = c->next;
                break;
            }
        c->db->open_tables--;
        pthread_mutex_unlock(&s->inst->mu);
        eng_handle_free(c->handle);
        free(c->key);
        free(c);
    }
    eng_leave_session(s);
    return err;
}

JET_ERR JET_API JetDeleteTable(JET_SESID sesid, JET_DBID dbid, const char *szTableName)
{
    eng_sess *s;
    long err = eng_enter_session(sesid, &s);
    if (err)
        return err;
    eng_inst *in = s->inst;
    eng_db *db = NULL;
    err = api_check_name(szTableName);
    if (!err)
        err = api_db(s, dbid, &db);
    bool implicit = false;
    if (!err)
        err = api_update_begin(s, db, &implicit);
    if (!err) {
        size_t before = eng_txn_changes(&s->txn);
        eng_view v;
        eng_view_begin(&v, db, &s->txn);
        uint32_t root = 0;
        err = eng_catalog_find(&v, szTableName, &root);
        if (!err) {
            pthread_mutex_lock(&in->mu);
            for (eng_sess *o = in->sessions; o && !err; o = o->next)
                for (eng_cursor *c = o->cursors; c; c = c->next)
                    if (c->db == db && c->root == root)
                        err = JET_errTableInUse;
            pthread_mutex_unlock(&in->mu);
        }
        if (!err)
            err = bt_destroy(&v.io, root);
        if (!err)
            err = eng_catalog_del(&v, szTableName);
        if (!err && v.err)
            err = v.err;
        eng_view_end(&v);
        err = api_update_end(s, implicit, before, err);
    }
    eng_leave_session(s);
    return err;
}
