/*
 * api-record.c — the record calls: a table is an ordered map from binary key to binary value.
 * A cursor remembers the key it is on (or before/after the ends); moving re-seeks from that key,
 * so it stays correct however the tree changes underneath between calls.
 */
#include <string.h>

#include "api-int.h"

static long check_key(eng_cursor *c, const void *key, unsigned long cb)
{
    ENG_RETURN_IF(!key || cb == 0, JET_errInvalidParameter, "the key is missing or empty");
    ENG_RETURN_IF(cb > bt_key_max(c->db->page_size), JET_errKeyTooBig,
                  "the key is longer than the database's page size allows");
    return JET_errSuccess;
}

/* Enter the session and resolve the cursor in one step. */
static long enter(JET_SESID sesid, JET_TABLEID tableid, eng_sess **ps, eng_cursor **pc)
{
    long err = eng_enter_session(sesid, ps);
    if (err)
        return err;
    err = api_cursor(*ps, tableid, pc);
    if (err)
        eng_leave_session(*ps);
    return err;
}

static long copy_out(const void *src, size_t n, void *dst, unsigned long cbmax, unsigned long *pcb)
{
    size_t c = n < cbmax ? n : cbmax;
    if (c && dst)
        memcpy(dst, src, c);
    if (pcb)
        *pcb = (unsigned long)n;
    return n > cbmax ? JET_wrnBufferTruncated : JET_errSuccess;
}

JET_ERR JET_API JetPutRecord(JET_SESID sesid, JET_TABLEID tableid, const void *pvKey, unsigned long cbKey,
                             const void *pvData, unsigned long cbData, JET_GRBIT grbit)
{
    eng_sess *s;
    eng_cursor *c;
    long err = enter(sesid, tableid, &s, &c);
    if (err)
        return err;
    if (grbit & ~(JET_GRBIT)JET_bitPutNoOverwrite)
        err = JET_errInvalidGrbit;
    if (!err)
        err = check_key(c, pvKey, cbKey);
    if (!err && !pvData && cbData)
        err = JET_errInvalidParameter;
    if (!err && cbData > BT_VALUE_MAX)
        err = JET_errRecordTooBig;
    bool implicit = false;
    if (!err)
        err = api_update_begin(s, c->db, &implicit);
    if (!err) {
        size_t before = eng_txn_changes(&s->txn);
        eng_view v;
        eng_view_begin(&v, c->db, &s->txn);
        err = bt_put(&v.io, c->root, pvKey, cbKey, pvData ? pvData : "", cbData, grbit & JET_bitPutNoOverwrite);
        if (!err && v.err)
            err = v.err;
        eng_view_end(&v);
        err = api_update_end(s, implicit, before, err);
        if (!err) {
            memcpy(c->key, pvKey, cbKey);
            c->klen = cbKey;
            c->pos = CUR_ON;
        }
    }
    eng_leave_session(s);
    return err;
}

JET_ERR JET_API JetGetRecord(JET_SESID sesid, JET_TABLEID tableid, const void *pvKey, unsigned long cbKey,
                             void *pvData, unsigned long cbMax, unsigned long *pcbActual, JET_GRBIT grbit)
{
    eng_sess *s;
    eng_cursor *c;
    long err = enter(sesid, tableid, &s, &c);
    if (err)
        return err;
    if (grbit)
        err = JET_errInvalidGrbit;
    if (!err)
        err = check_key(c, pvKey, cbKey);
    if (!err && !pvData && cbMax)
        err = JET_errInvalidParameter;
    if (!err) {
        eng_view v;
        size_t vlen = 0;
        api_read_begin(s, c->db, &v);
        err = bt_get(&v.io, c->root, pvKey, cbKey, pvData, pvData ? cbMax : 0, &vlen);
        api_read_end(&v);
        if (!err) {
            if (pcbActual)
                *pcbActual = (unsigned long)vlen;
            err = vlen > cbMax ? JET_wrnBufferTruncated : JET_errSuccess;
        }
    }
    eng_leave_session(s);
    return err;
}

JET_ERR JET_API JetDeleteRecord(JET_SESID sesid, JET_TABLEID tableid, const void *pvKey, unsigned long cbKey,
                                JET_GRBIT grbit)
{
    eng_sess *s;
    eng_cursor *c;
    long err = enter(sesid, tableid, &s, &c);
    if (err)
        return err;
    if (grbit)
        err = JET_errInvalidGrbit;
    if (!err)
        err = check_key(c, pvKey, cbKey);
    bool implicit = false;
    if (!err)
        err = api_update_begin(s, c->db, &implicit);
    if (!err) {
        size_t before = eng_txn_changes(&s->txn);
        eng_view v;
        eng_view_begin(&v, c->db, &s->txn);
        err = bt_delete(&v.io, c->root, pvKey, cbKey);
        if (!err && v.err)
            err = v.err;
        eng_view_end(&v);
        err = api_update_end(s, implicit, before, err);
        if (!err && c->pos == CUR_ON && c->klen == cbKey && !memcmp(c->key, pvKey, cbKey))
            c->pos = CUR_DELETED;
    }
    eng_leave_session(s);
    return err;
}

/* Seek from the committed or own view; on success the cursor is on the found key. */
static long seek(eng_sess *s, eng_cursor *c, const void *key, size_t klen, enum bt_seek_op op)
{
    eng_view v;
    size_t flen = 0;
    uint8_t found[JET_cbKeyMostMost]; /* the search key may be the cursor's own buffer */
    api_read_begin(s, c->db, &v);
    long err = bt_seek(&v.io, c->root, key, klen, op, found, &flen);
    api_read_end(&v);
    if (err)
        return err;
    memcpy(c->key, found, flen);
    c->klen = flen;
    c->pos = CUR_ON;
    return JET_errSuccess;
}

JET_ERR JET_API JetSeekRecord(JET_SESID sesid, JET_TABLEID tableid, const void *pvKey, unsigned long cbKey,
                              JET_GRBIT grbit)
{
    eng_sess *s;
    eng_cursor *c;
    long err = enter(sesid, tableid, &s, &c);
    if (err)
        return err;
    enum bt_seek_op op = BT_SEEK_EQ;
    switch (grbit) {
    case JET_bitSeekEQ: op = BT_SEEK_EQ; break;
    case JET_bitSeekLT: op = BT_SEEK_LT; break;
    case JET_bitSeekLE: op = BT_SEEK_LE; break;
    case JET_bitSeekGE: op = BT_SEEK_GE; break;
    case JET_bitSeekGT: op = BT_SEEK_GT; break;
    default: err = JET_errInvalidGrbit;
    }
    if (!err)
        err = check_key(c, pvKey, cbKey);
    if (!err) {
        err = seek(s, c, pvKey, cbKey, op);
        if (err == JET_errRecordNotFound)
            c->pos = CUR_NONE;
        /* As ESE: only the inclusive inequalities warn; LT/GT can never land on an equal key,
         * so landing elsewhere is plain success for them. */
        else if (!err && (op == BT_SEEK_LE || op == BT_SEEK_GE) &&
                 (c->klen != cbKey || memcmp(c->key, pvKey, cbKey)))
            err = JET_wrnSeekNotEqual;
    }
    eng_leave_session(s);
    return err;
}

/* One step forward (dir > 0) or back from the cursor's position. */
static long step(eng_sess *s, eng_cursor *c, int dir)
{
    long err;
    enum eng_curpos p = c->pos;
    if (dir > 0) {
        if (p == CUR_AFTER_LAST)
            return JET_errNoCurrentRecord;
        err = (p == CUR_ON || p == CUR_DELETED) ? seek(s, c, c->key, c->klen, BT_SEEK_GT)
                                                : seek(s, c, NULL, 0, BT_SEEK_GE);
        if (err == JET_errRecordNotFound) {
            c->pos = CUR_AFTER_LAST;
            err = JET_errNoCurrentRecord;
        }
    } else {
        if (p == CUR_BEFORE_FIRST)
            return JET_errNoCurrentRecord;
        err = (p == CUR_ON || p == CUR_DELETED) ? seek(s, c, c->key, c->klen, BT_SEEK_LT)
                                                : seek(s, c, NULL, 0, BT_SEEK_LE);
        if (err == JET_errRecordNotFound) {
            c->pos = CUR_BEFORE_FIRST;
            err = JET_errNoCurrentRecord;
        }
    }
    return err;
}

JET_ERR JET_API JetMove(JET_SESID sesid, JET_TABLEID tableid, long cRow, JET_GRBIT grbit)
{
    eng_sess *s;
    eng_cursor *c;
    long err = enter(sesid, tableid, &s, &c);
    if (err)
        return err;
    if (grbit & ~(JET_GRBIT)JET_bitMoveKeyNE) {
        err = JET_errInvalidGrbit;
    } else if (cRow == JET_MoveFirst || cRow == JET_MoveLast) {
        c->pos = cRow == JET_MoveFirst ? CUR_BEFORE_FIRST : CUR_AFTER_LAST;
        err = step(s, c, cRow == JET_MoveFirst ? 1 : -1);
    } else if (cRow == 0) {
        err = c->pos == CUR_ON ? JET_errSuccess : JET_errNoCurrentRecord;
    } else {
        long n = cRow > 0 ? cRow : -cRow;
        for (long i = 0; i < n && !err; i++)
            err = step(s, c, cRow > 0 ? 1 : -1);
    }
    eng_leave_session(s);
    return err;
}

/* What JetRetrieveKey and JetRetrieveRecord check before reading the record under the cursor. */
static long check_retrieve(const eng_cursor *c, const void *pv, unsigned long cbMax, JET_GRBIT grbit)
{
    if (grbit & ~(JET_GRBIT)JET_bitRetrieveCopy)
        return JET_errInvalidGrbit;
    if (c->pos != CUR_ON)
        return JET_errNoCurrentRecord;
    if (!pv && cbMax)
        return JET_errInvalidParameter;
    return JET_errSuccess;
}

JET_ERR JET_API JetRetrieveKey(JET_SESID sesid, JET_TABLEID tableid, void *pvKey, unsigned long cbMax,
                               unsigned long *pcbActual, JET_GRBIT grbit)
{
    eng_sess *s;
    eng_cursor *c;
    long err = enter(sesid, tableid, &s, &c);
    if (err)
        return err;
    err = check_retrieve(c, pvKey, cbMax, grbit);
    if (!err)
        err = copy_out(c->key, c->klen, pvKey, cbMax, pcbActual);
    eng_leave_session(s);
    return err;
}

JET_ERR JET_API JetRetrieveRecord(JET_SESID sesid, JET_TABLEID tableid, void *pvData, unsigned long cbMax,
                                  unsigned long *pcbActual, JET_GRBIT grbit)
{
    eng_sess *s;
    eng_cursor *c;
    long err = enter(sesid, tableid, &s, &c);
    if (err)
        return err;
    err = check_retrieve(c, pvData, cbMax, grbit);
    if (!err) {
        eng_view v;
        size_t vlen = 0;
        api_read_begin(s, c->db, &v);
        err = bt_get(&v.io, c->root, c->key, c->klen, pvData, pvData ? cbMax : 0, &vlen);
        api_read_end(&v);
        if (err == JET_errRecordNotFound)
            err = JET_errNoCurrentRecord;
        if (!err) {
            if (pcbActual)
                *pcbActual = (unsigned long)vlen;
            err = vlen > cbMax ? JET_wrnBufferTruncated : JET_errSuccess;
        }
    }
    eng_leave_session(s);
    return err;
}
