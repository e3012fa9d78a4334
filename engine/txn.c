/*
 * txn.c — transactions: private page copies, nested levels, commit into the log and the cache.
 *
 * A transaction's changed pages live in an open-addressing map keyed by (dbid, pgno). Level 1
 * needs no undo journal: rolling it back drops the map. Nested levels (2..7) journal the prior
 * image of a page the first time the level changes it, so a nested rollback can restore it.
 * Commit of level 1 writes one record per changed page (its whole image, or a diff against the
 * committed image it was copied from) plus a COMMIT record as one run in the log, then copies the
 * pages into the cache; see engine-int.h for the whole protocol.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "engine-int.h"
#include "records-int.h"

#define WRITER_WAIT_SEC 10

static uint64_t tkey(uint32_t dbid, uint32_t pgno) { return ((uint64_t)dbid << 32) | pgno; }
static size_t thash(uint64_t k, size_t cap) { return (size_t)((k * 0x9E3779B97F4A7C15ULL) >> 20) & (cap - 1); }

static eng_tpage *tmap_find(eng_txn *t, uint64_t key)
{
    if (!t->cap)
        return NULL;
    for (size_t i = thash(key, t->cap);; i = (i + 1) & (t->cap - 1)) {
        if (t->pages[i].key == key)
            return &t->pages[i];
        if (!t->pages[i].key)
            return NULL;
    }
}

static long tmap_grow(eng_txn *t)
{
    size_t nc = t->cap ? t->cap * 2 : 64;
    eng_tpage *np = calloc(nc, sizeof *np);
    ENG_RETURN_IF(!np, JET_errOutOfMemory, "no memory to grow the transaction's page map");
    for (size_t i = 0; i < t->cap; i++) {
        if (!t->pages[i].key)
            continue;
        size_t j = thash(t->pages[i].key, nc);
        while (np[j].key)
            j = (j + 1) & (nc - 1);
        np[j] = t->pages[i];
    }
    free(t->pages);
    t->pages = np;
    t->cap = nc;
    return JET_errSuccess;
}

static long tmap_insert(eng_txn *t, uint64_t key, uint8_t *buf, eng_tpage **out)
{
    ENG_RETURN_IF(t->count >= ENG_TXN_MAX_PAGES, JET_errVersionStoreOutOfMemory,
                  "the transaction already holds as many changed pages as one may");
    if ((t->count + 1) * 10 > t->cap * 7) {
        long err = tmap_grow(t);
        if (err)
            return err;
    }
    size_t i = thash(key, t->cap);
    while (t->pages[i].key)
        i = (i + 1) & (t->cap - 1);
    t->pages[i].key = key;
    t->pages[i].buf = buf;
    t->pages[i].orig = NULL;
    t->pages[i].full_lsn = 0;
    t->pages[i].saved_level = 0;
    t->count++;
    *out = &t->pages[i];
    return JET_errSuccess;
}

/* Backward-shift deletion keeps linear probing correct without tombstones. */
static void tmap_remove(eng_txn *t, eng_tpage *e)
{
    size_t i = (size_t)(e - t->pages);
    free(t->pages[i].buf);
    t->pages[i].key = 0;
    t->count--;
    size_t j = i;
    for (;;) {
        j = (j + 1) & (t->cap - 1);
        if (!t->pages[j].key)
            return;
        size_t home = thash(t->pages[j].key, t->cap);
        bool move = (j > i) ? (home <= i || home > j) : (home <= i && home > j);
        if (move) {
            t->pages[i] = t->pages[j];
            t->pages[j].key = 0;
            i = j;
        }
    }
}

static void tmap_clear(eng_txn *t)
{
    for (size_t i = 0; i < t->cap; i++)
        if (t->pages[i].key)
            free(t->pages[i].buf);
    free(t->pages);
    t->pages = NULL;
    t->cap = t->count = 0;
    for (size_t i = 0; i < t->jr_len; i++)
        free(t->jr[i].prior);
    t->jr_len = 0;
}

size_t eng_txn_changes(const eng_txn *t) { return t->count + t->jr_len; }

/* Remember a page's state before level t->level changes it for the first time. */
static long journal(eng_txn *t, eng_tpage *e, uint32_t page_size, bool was_private)
{
    if (t->level < 2 || (e && e->saved_level >= t->level))
        return JET_errSuccess;
    if (t->jr_len == t->jr_cap) {
        size_t nc = t->jr_cap ? t->jr_cap * 2 : 32;
        eng_tjournal *nj = realloc(t->jr, nc * sizeof *nj);
        ENG_RETURN_IF(!nj, JET_errOutOfMemory, "no memory to grow the nested levels' undo journal");
        t->jr = nj;
        t->jr_cap = nc;
    }
    eng_tjournal *j = &t->jr[t->jr_len];
    j->key = e->key;
    j->level = (uint8_t)t->level;
    j->prev_saved_level = was_private ? e->saved_level : 0;
    j->prior = NULL;
    if (was_private) {
        j->prior = malloc(page_size);
        ENG_RETURN_IF(!j->prior, JET_errOutOfMemory,
                      "no memory to save a page for a nested rollback");
        memcpy(j->prior, e->buf, page_size);
    }
    t->jr_len++;
    e->saved_level = (uint8_t)t->level;
    return JET_errSuccess;
}

/* ---------------------------------------------------------------------------------------------
 * The view: eng_pageio for the B+tree
 * ------------------------------------------------------------------------------------------- */
static long pin_push(eng_view *v, eng_page *pg)
{
    if (v->npins == v->cappins) {
        size_t nc = v->cappins ? v->cappins * 2 : 16;
        eng_page **np = realloc(v->pins, nc * sizeof *np);
        if (!np) {
            eng_cache_unpin(v->db, pg);
            return JET_errOutOfMemory;
        }
        v->pins = np;
        v->cappins = nc;
    }
    v->pins[v->npins++] = pg;
    return JET_errSuccess;
}

static long committed_limit(eng_view *v, uint32_t pgno)
{
    /* npages only changes at commit, under the view lock or the writer lock the caller holds. */
    return pgno >= 1 && pgno < v->db->npages ? JET_errSuccess : JET_errDatabaseCorrupted;
}

static int v_read(void *ctx, uint32_t pgno, const uint8_t **page)
{
    eng_view *v = ctx;
    if (v->txn) {
        eng_tpage *e = tmap_find(v->txn, tkey(v->db->dbid, pgno));
        if (e) {
            *page = e->buf;
            return 0;
        }
    }
    long err = committed_limit(v, pgno);
    if (err)
        return (int)(v->err = ENG_ERR(err, "the page number is 0 or past the end of the database"));
    eng_page *pg;
    err = eng_cache_get(v->db, pgno, &pg);
    if (!err)
        err = pin_push(v, pg);
    if (err)
        return (int)(v->err = err);
    *page = pg->data;
    return 0;
}

static long private_copy(eng_view *v, uint32_t pgno, eng_tpage **out)
{
    eng_txn *t = v->txn;
    long err = committed_limit(v, pgno);
    ENG_RETURN_IF(err, err, "the page to change is 0 or past the end of the database");
    eng_page *pg;
    err = eng_cache_get(v->db, pgno, &pg);
    if (err)
        return err;
    /* The committed image is kept next to the copy: commit logs only what changed (pagediff.c).
     * Stable while we copy it: only this transaction's commit (it holds the writer lock) changes
     * the database's pages. */
    uint32_t ps = v->db->page_size;
    uint8_t *buf = malloc(2 * (size_t)ps);
    if (!buf) {
        eng_cache_unpin(v->db, pg);
        return JET_errOutOfMemory;
    }
    memcpy(buf, pg->data, ps);
    memcpy(buf + ps, pg->data, ps);
    eng_lsn full_lsn = pg->full_lsn;
    eng_cache_unpin(v->db, pg);
    eng_tpage *e;
    err = tmap_insert(t, tkey(v->db->dbid, pgno), buf, &e);
    if (err) {
        free(buf);
        return err;
    }
    e->orig = buf + ps;
    e->full_lsn = full_lsn;
    err = journal(t, e, v->db->page_size, false);
    *out = e;
    return err;
}

static int v_write(void *ctx, uint32_t pgno, uint8_t **page)
{
    eng_view *v = ctx;
    long err = JET_errInvalidParameter;
    if (!v->txn || !(v->txn->locked_dbs & (1u << (v->db->dbid - 1))))
        return (int)(v->err = ENG_ERR(err, "a page is written outside a transaction holding the "
                                           "database's writer lock"));
    eng_tpage *e = tmap_find(v->txn, tkey(v->db->dbid, pgno));
    if (e)
        err = journal(v->txn, e, v->db->page_size, true);
    else
        err = private_copy(v, pgno, &e);
    if (err)
        return (int)(v->err = err);
    *page = e->buf;
    return 0;
}

static long new_private(eng_view *v, uint32_t pgno, uint8_t **page)
{
    uint8_t *buf = calloc(1, v->db->page_size);
    ENG_RETURN_IF(!buf, JET_errOutOfMemory, "no memory for a new page of the transaction");
    eng_st32(buf + 4, pgno);
    eng_tpage *e;
    long err = tmap_insert(v->txn, tkey(v->db->dbid, pgno), buf, &e);
    if (err) {
        free(buf);
        return err;
    }
    err = journal(v->txn, e, v->db->page_size, false);
    *page = buf;
    return err;
}

static int v_alloc(void *ctx, uint32_t *pgno, uint8_t **page)
{
    eng_view *v = ctx;
    uint8_t *meta;
    int r = v_write(v, ENG_PGNO_META, &meta);
    if (r)
        return r;
    v->txn->meta_dirty |= 1u << (v->db->dbid - 1);
    uint32_t head = eng_ld32(meta + ENG_META_FREEHEAD);
    if (head) {
        uint8_t *pg;
        r = v_write(v, head, &pg);
        if (r)
            return r;
        if (pg[16] != ENG_PT_FREE)
            return (int)(v->err = ENG_ERR(JET_errDatabaseCorrupted,
                                          "the head of the free page list is not a free page"));
        eng_st32(meta + ENG_META_FREEHEAD, eng_ld32(pg + ENG_FREE_NEXT));
        eng_st32(meta + ENG_META_NFREE, eng_ld32(meta + ENG_META_NFREE) - 1);
        memset(pg + ENG_PAGE_HDR_PAGER, 0, v->db->page_size - ENG_PAGE_HDR_PAGER);
        *pgno = head;
        *page = pg;
        return 0;
    }
    uint32_t n = eng_ld32(meta + ENG_META_NPAGES);
    if (n >= 0x7fffffffu)
        return (int)(v->err = JET_errOutOfDatabaseSpace);
    long err = new_private(v, n, page);
    if (err)
        return (int)(v->err = err);
    eng_st32(meta + ENG_META_NPAGES, n + 1);
    *pgno = n;
    return 0;
}

static int v_free(void *ctx, uint32_t pgno)
{
    eng_view *v = ctx;
    if (pgno <= ENG_PGNO_CATALOG)
        return (int)(v->err = ENG_ERR(JET_errDatabaseCorrupted,
                                      "page 0, the meta page or the catalog root is being freed"));
    uint8_t *meta, *pg;
    int r = v_write(v, ENG_PGNO_META, &meta);
    if (!r)
        r = v_write(v, pgno, &pg);
    if (r)
        return r;
    memset(pg + ENG_PAGE_HDR_PAGER, 0, v->db->page_size - ENG_PAGE_HDR_PAGER);
    pg[16] = ENG_PT_FREE;
    eng_st32(pg + ENG_FREE_NEXT, eng_ld32(meta + ENG_META_FREEHEAD));
    eng_st32(meta + ENG_META_FREEHEAD, pgno);
    eng_st32(meta + ENG_META_NFREE, eng_ld32(meta + ENG_META_NFREE) + 1);
    return 0;
}

static void v_corrupt(void *ctx, uint32_t pgno, const char *why)
{
    eng_view *v = ctx;
    eng_event(v->db->inst, 1, 1206, "page %u of %s is corrupted: %s", pgno, v->db->path, why);
}

void eng_view_begin(eng_view *v, eng_db *db, eng_txn *txn)
{
    memset(v, 0, sizeof *v);
    v->db = db;
    v->txn = txn;
    v->io.ctx = v;
    v->io.page_size = db->page_size;
    v->io.read = v_read;
    v->io.write = v_write;
    v->io.alloc = v_alloc;
    v->io.free = v_free;
    v->io.corrupt = v_corrupt;
}

void eng_view_end(eng_view *v)
{
    for (size_t i = 0; i < v->npins; i++)
        eng_cache_unpin(v->db, v->pins[i]);
    free(v->pins);
    v->pins = NULL;
    v->npins = v->cappins = 0;
}

long eng_txn_format_db(eng_txn *t, eng_db *db)
{
    eng_view v;
    eng_view_begin(&v, db, t);
    uint8_t *meta;
    long err = new_private(&v, ENG_PGNO_META, &meta);
    if (!err) {
        meta[16] = ENG_PT_META;
        eng_st32(meta + ENG_META_NPAGES, ENG_PGNO_CATALOG);
        t->meta_dirty |= 1u << (db->dbid - 1);
        uint32_t root = 0;
        err = bt_create(&v.io, &root);
        if (!err && v.err)
            err = v.err;
        if (!err && root != ENG_PGNO_CATALOG)
            err = JET_errInternalError;
        if (!err)
            eng_st32(meta + ENG_META_CATALOG, root);
    }
    eng_view_end(&v);
    return err;
}

/* ---------------------------------------------------------------------------------------------
 * Writer locks
 * ------------------------------------------------------------------------------------------- */
long eng_txn_lock_db(eng_txn *t, eng_db *db)
{
    uint32_t bit = 1u << (db->dbid - 1);
    if (t->locked_dbs & bit)
        return JET_errSuccess;
    struct timespec dl;
    clock_gettime(CLOCK_REALTIME, &dl);
    dl.tv_sec += WRITER_WAIT_SEC;
    pthread_mutex_lock(&db->wmu);
    while (db->writer) {
        /* A term waits for this call to end, and the holder cannot end its transaction meanwhile
         * (its calls get TermInProgress): waiting on would stall the term for the whole wait and
         * end in WriteConflict. eng_inst_term broadcasts wcv after setting the flag. */
        if (atomic_load(&db->inst->draining)) {
            pthread_mutex_unlock(&db->wmu);
            return ENG_ERR(JET_errTermInProgress,
                           "the instance is terminating while another transaction holds the "
                           "database's writer lock");
        }
        /* The holder runs on this very thread: waiting would deadlock. */
        if (pthread_equal(db->writer_thread, pthread_self())) {
            pthread_mutex_unlock(&db->wmu);
            return ENG_ERR(JET_errWriteConflict, "a transaction on this same thread holds the "
                                                 "database's writer lock (waiting would deadlock)");
        }
        if (pthread_cond_timedwait(&db->wcv, &db->wmu, &dl) == ETIMEDOUT && db->writer) {
            pthread_mutex_unlock(&db->wmu);
            return ENG_ERR(JET_errWriteConflict,
                           "another transaction kept the database's writer lock past the wait");
        }
    }
    db->writer = t;
    db->writer_thread = pthread_self();
    pthread_mutex_unlock(&db->wmu);
    t->locked_dbs |= bit;
    return JET_errSuccess;
}

static void unlock_dbs(eng_txn *t)
{
    eng_inst *in = t->sess->inst;
    for (uint32_t id = 1; id <= ENG_MAX_DB; id++) {
        if (!(t->locked_dbs & (1u << (id - 1))))
            continue;
        eng_db *db = in->dbs[id];
        pthread_mutex_lock(&db->wmu);
        db->writer = NULL;
        pthread_cond_broadcast(&db->wcv);
        pthread_mutex_unlock(&db->wmu);
    }
    t->locked_dbs = 0;
    t->meta_dirty = 0;
}

/* ---------------------------------------------------------------------------------------------
 * Begin / commit / rollback
 * ------------------------------------------------------------------------------------------- */
long eng_txn_begin(eng_txn *t)
{
    ENG_RETURN_IF(t->level >= ENG_MAX_LEVELS, JET_errTransTooDeep,
                  "the transaction is already nested as deep as the engine allows");
    t->level++;
    return JET_errSuccess;
}

static void end_all(eng_txn *t)
{
    tmap_clear(t);
    unlock_dbs(t);
    t->level = 0;
    t->doomed = false;
    t->implicit = false;
}

static void commit_nested(eng_txn *t)
{
    int lvl = t->level;
    /* Entries of this level sit at the journal's tail. */
    size_t keep = t->jr_len;
    while (keep > 0 && t->jr[keep - 1].level == lvl)
        keep--;
    size_t w = keep;
    for (size_t i = keep; i < t->jr_len; i++) {
        eng_tjournal j = t->jr[i];
        eng_tpage *e = tmap_find(t, j.key);
        if (lvl - 1 < 2 || j.prev_saved_level >= lvl - 1) {
            /* The outer level already holds an older image (or needs none): drop this one. */
            free(j.prior);
            if (e)
                e->saved_level = lvl - 1 < 2 ? 0 : (uint8_t)(lvl - 1);
        } else {
            j.level = (uint8_t)(lvl - 1);
            t->jr[w++] = j;
            if (e)
                e->saved_level = (uint8_t)(lvl - 1);
        }
    }
    t->jr_len = w;
    t->level--;
}

static void rollback_nested(eng_txn *t, uint32_t page_size)
{
    int lvl = t->level;
    while (t->jr_len > 0 && t->jr[t->jr_len - 1].level == lvl) {
        eng_tjournal *j = &t->jr[--t->jr_len];
        eng_tpage *e = tmap_find(t, j->key);
        if (e) {
            if (!j->prior) {
                tmap_remove(t, e);
            } else {
                memcpy(e->buf, j->prior, page_size);
                e->saved_level = j->prev_saved_level;
            }
        }
        free(j->prior);
    }
    t->level--;
    t->doomed = false;
}

long eng_txn_rollback(eng_txn *t, bool all)
{
    ENG_RETURN_IF(t->level == 0, JET_errNotInTransaction,
                  "the session has no transaction to roll back");
    if (all || t->level == 1) {
        end_all(t);
        return JET_errSuccess;
    }
    uint32_t ps = t->sess->inst->p.page_size;
    rollback_nested(t, ps);
    return JET_errSuccess;
}

static int cmp_key(const void *a, const void *b)
{
    uint64_t x = (*(eng_tpage *const *)a)->key, y = (*(eng_tpage *const *)b)->key;
    return x < y ? -1 : x > y;
}

/* Wait while the cache of db has far more dirty pages than it may hold (back-pressure on
 * writers, so the checkpoint thread can catch up). */
static void throttle(eng_db *db)
{
    size_t limit = ENG_PARAM_LOAD(db->inst, cache_pages);
    if (eng_cache_dirty(db) <= limit)
        return;
    eng_ckpt_kick(db->inst);
    pthread_mutex_lock(&db->cmu);
    while (db->ndirty > limit / 2 + limit / 4 && !db->io_err) {
        struct timespec dl;
        clock_gettime(CLOCK_REALTIME, &dl);
        dl.tv_sec += 1;
        pthread_cond_timedwait(&db->ccv, &db->cmu, &dl);
        if (db->ndirty > limit) {
            pthread_mutex_unlock(&db->cmu);
            eng_ckpt_kick(db->inst);
            pthread_mutex_lock(&db->cmu);
        }
    }
    pthread_mutex_unlock(&db->cmu);
}

long eng_txn_commit(eng_txn *t, JET_GRBIT grbit, eng_lsn *commit_lsn)
{
    ENG_RETURN_IF(t->level == 0, JET_errNotInTransaction,
                  "the session has no transaction to commit");
    ENG_RETURN_IF(t->doomed, JET_errRollbackRequired,
                  "an update failed half-way in this transaction, which must now be rolled back");
    if (t->level > 1) {
        commit_nested(t);
        return JET_errSuccess;
    }
    eng_inst *in = t->sess->inst;
    *commit_lsn = 0;
    if (!t->count) {
        end_all(t);
        return JET_errSuccess;
    }

    /* Log records: one per changed page (in key order: readable logs, sequential redo), then
     * COMMIT. A page is logged as a diff against its committed image when the diff is small and
     * the page's last whole image in the log is newer than the newest checkpoint begun; otherwise
     * whole. So from any checkpoint on, every page's first record is whole: recovery repairs a page
     * torn by a crash, and a fuzzy copy of the file replays (redo.c). */
    size_t n = t->count;
    uint32_t ps = in->p.page_size;
    size_t dcap = ps / 4; /* a bigger diff is not worth its replay cost: log the page whole */
    size_t dstride = ENG_REC_DIFF_HDR + dcap;
    eng_tpage **ents = malloc(n * sizeof *ents);
    eng_logrec *recs = malloc((n + 1) * sizeof *recs);
    struct iovec *iov = malloc((2 * n + 1) * sizeof *iov);
    uint8_t *hdrs = malloc(n * ENG_REC_PAGE_HDR + ENG_REC_TIME_LEN);
    uint8_t *diffs = in->log ? malloc(n * dstride) : NULL;
    long *dlen = malloc(n * sizeof *dlen);
    eng_lsn *full = malloc(n * sizeof *full);
    if (!ents || !recs || !iov || !hdrs || (in->log && !diffs) || !dlen || !full) {
        free(ents);
        free(recs);
        free(iov);
        free(hdrs);
        free(diffs);
        free(dlen);
        free(full);
        return JET_errOutOfMemory; /* the transaction stays open; the caller may retry or roll back */
    }
    size_t k = 0;
    for (size_t i = 0; i < t->cap; i++)
        if (t->pages[i].key)
            ents[k++] = &t->pages[i];
    qsort(ents, n, sizeof *ents, cmp_key);
    for (size_t i = 0; i < n; i++) {
        eng_rec_page pr = {(uint32_t)(ents[i]->key >> 32), (uint32_t)ents[i]->key, 0, NULL, 0};
        eng_rec_page_encode(hdrs + i * ENG_REC_PAGE_HDR, &pr);
        dlen[i] = -1;
        if (diffs && ents[i]->orig && ents[i]->full_lsn) {
            uint8_t *d = diffs + i * dstride;
            pr.base = eng_ld64(ents[i]->orig + 8); /* the LSN the committed image is stamped with */
            eng_rec_pagediff_encode(d, &pr);
            dlen[i] = eng_pagediff_encode(ents[i]->orig, ents[i]->buf, ps, d + ENG_REC_DIFF_HDR, dcap);
        }
    }
    uint8_t *ctime = hdrs + n * ENG_REC_PAGE_HDR;
    eng_rec_commit_encode(ctime, &(eng_rec_time){eng_now_usec()});
    iov[2 * n].iov_base = ctime;
    iov[2 * n].iov_len = ENG_REC_TIME_LEN;
    recs[n].type = ENG_LR_COMMIT;
    recs[n].iov = &iov[2 * n];
    recs[n].iovcnt = 1;

    long err = JET_errSuccess;
    eng_lsn end = 0;
    pthread_rwlock_rdlock(&in->ckpt_lock);
    /* Decided under the checkpoint lock: a checkpoint that begins later starts after this commit. */
    eng_lsn horizon = in->fpi_horizon;
    for (size_t i = 0; i < n; i++) {
        bool diff = dlen[i] >= 0 && ents[i]->full_lsn > horizon;
        if (diff) {
            iov[2 * i].iov_base = diffs + i * dstride;
            iov[2 * i].iov_len = ENG_REC_DIFF_HDR + (size_t)dlen[i];
            recs[i].type = ENG_LR_PAGEDIFF;
            recs[i].iovcnt = 1;
        } else {
            iov[2 * i].iov_base = hdrs + i * ENG_REC_PAGE_HDR;
            iov[2 * i].iov_len = ENG_REC_PAGE_HDR;
            iov[2 * i + 1].iov_base = ents[i]->buf;
            iov[2 * i + 1].iov_len = ps;
            recs[i].type = ENG_LR_PAGE;
            recs[i].iovcnt = 2;
        }
        recs[i].iov = &iov[2 * i];
        full[i] = diff ? ents[i]->full_lsn : 0;
    }
    if (in->log)
        err = log_append(in->log, recs, n + 1, NULL, &end);
    if (!err) {
        /* Copy into the cache one database at a time, each under its view lock. */
        size_t i = 0;
        while (i < n) {
            uint32_t dbid = (uint32_t)(ents[i]->key >> 32);
            eng_db *db = in->dbs[dbid];
            pthread_rwlock_wrlock(&db->view_lock);
            for (; i < n && (uint32_t)(ents[i]->key >> 32) == dbid; i++) {
                uint32_t pgno = (uint32_t)ents[i]->key;
                /* Without a log (recovery off) nothing was logged whole: 0 keeps diffs off. */
                eng_lsn fl = full[i] ? full[i] : in->log ? end : 0;
                long e2 = eng_cache_install(db, pgno, ents[i]->buf, end, fl);
                if (e2 && !err)
                    err = e2;
                if (pgno == ENG_PGNO_META)
                    db->npages = eng_ld32(ents[i]->buf + ENG_META_NPAGES);
            }
            atomic_fetch_add(&db->version, 1);
            pthread_rwlock_unlock(&db->view_lock);
        }
    }
    pthread_rwlock_unlock(&in->ckpt_lock);
    uint32_t touched = t->locked_dbs;
    free(ents);
    free(recs);
    free(iov);
    free(hdrs);
    free(diffs);
    free(dlen);
    free(full);
    if (err) {
        /* Failing half-way through the copy-in would leave the cache inconsistent with the log. */
        eng_fatal(in, err);
        end_all(t);
        return err;
    }
    end_all(t);
    *commit_lsn = end;
    for (uint32_t id = 1; id <= ENG_MAX_DB; id++)
        if (touched & (1u << (id - 1)))
            throttle(in->dbs[id]);
    return JET_errSuccess;
}

void eng_txn_free(eng_txn *t)
{
    if (t->level)
        end_all(t);
    tmap_clear(t);
    free(t->jr);
    t->jr = NULL;
    t->jr_cap = 0;
}
