/*
 * cache.c — the committed page cache of one database.
 *
 * Holds committed page images only (transactions keep their changes private until commit).
 * Clean pages sit on an LRU list and are evicted when the cache is over JET_paramCacheSizeMax;
 * dirty pages sit on a dirty list until eng_cache_flush writes them, which it does only after the
 * log is durable past each page's LSN (the write-ahead rule). Pinned pages are never evicted.
 * Images are read from disk with their checksum verified (one re-read on a mismatch, to ride out
 * a read that raced a concurrent write of the same page); a damaged page is reported as
 * JET_errReadVerifyFailure and never used. A page whose checksum is right but whose structure
 * is not (bt_page_validate: cells, keys, page numbers it refers to) is JET_errDatabaseCorrupted,
 * with an event naming the page and the reason, and is never used either.
 */
#include <stdlib.h>
#include <string.h>

#include "engine-int.h"

static void list_init(eng_page *s) { s->prev = s->next = s; }
static void list_del(eng_page *p)
{
    p->prev->next = p->next;
    p->next->prev = p->prev;
    p->prev = p->next = p;
}
static void list_push(eng_page *s, eng_page *p)
{
    p->next = s->next;
    p->prev = s;
    s->next->prev = p;
    s->next = p;
}

long eng_cache_init(eng_db *db)
{
    size_t want = (size_t)ENG_PARAM_LOAD(db->inst, cache_pages) * 2;
    size_t n = 1024;
    while (n < want && n < ((size_t)1 << 26))
        n <<= 1;
    db->hash = calloc(n, sizeof *db->hash);
    ENG_RETURN_IF(!db->hash, JET_errOutOfMemory, "no memory for the page cache's hash table");
    db->hash_size = n;
    list_init(&db->lru);
    list_init(&db->dirtyq);
    return JET_errSuccess;
}

static size_t hslot(const eng_db *db, uint32_t pgno) { return (pgno * 2654435761u) & (db->hash_size - 1); }

static eng_page *lookup(eng_db *db, uint32_t pgno)
{
    for (eng_page *p = db->hash[hslot(db, pgno)]; p; p = p->hnext)
        if (p->pgno == pgno)
            return p;
    return NULL;
}

static void unhash(eng_db *db, eng_page *pg)
{
    eng_page **pp = &db->hash[hslot(db, pg->pgno)];
    while (*pp != pg)
        pp = &(*pp)->hnext;
    *pp = pg->hnext;
}

static void evict(eng_db *db)
{
    size_t limit = ENG_PARAM_LOAD(db->inst, cache_pages);
    eng_page *p = db->lru.prev;
    while (db->npages_cached > limit && p != &db->lru) {
        eng_page *prev = p->prev;
        if (!p->pins && !p->dirty) {
            list_del(p);
            unhash(db, p);
            free(p->data);
            free(p);
            db->npages_cached--;
        }
        p = prev;
    }
}

static eng_page *page_new(eng_db *db, uint32_t pgno)
{
    eng_page *pg = calloc(1, sizeof *pg);
    if (!pg)
        return NULL;
    pg->data = malloc(db->page_size);
    if (!pg->data) {
        free(pg);
        return NULL;
    }
    pg->pgno = pgno;
    list_init(pg);
    return pg;
}

static void insert(eng_db *db, eng_page *pg)
{
    size_t h = hslot(db, pg->pgno);
    pg->hnext = db->hash[h];
    db->hash[h] = pg;
    db->npages_cached++;
}

long eng_cache_get(eng_db *db, uint32_t pgno, eng_page **out)
{
    pthread_mutex_lock(&db->cmu);
    eng_page *pg = lookup(db, pgno);
    if (pg) {
        pg->pins++;
        if (!pg->dirty) {
            list_del(pg);
            list_push(&db->lru, pg);
        }
        pthread_mutex_unlock(&db->cmu);
        *out = pg;
        return JET_errSuccess;
    }
    pthread_mutex_unlock(&db->cmu);

    eng_page *np = page_new(db, pgno);
    ENG_RETURN_IF(!np, JET_errOutOfMemory, "no memory for a cache page");
    long err = JET_errSuccess;
    for (int attempt = 0; attempt < 2; attempt++) {
        ssize_t n = eng_io_pread(db->fd, np->data, db->page_size, eng_page_off(pgno, db->page_size));
        if (n < 0) {
            err = eng_io_errno_to_jet((int)n, 0);
            break;
        }
        err = n < (ssize_t)db->page_size ? JET_errReadVerifyFailure
                                         : eng_page_verify(np->data, pgno, db->page_size);
        if (!err)
            break;
    }
    if (err) {
        free(np->data);
        free(np);
        eng_event(db->inst, 1, 1018, "page %u of %s failed verification (error %ld)", pgno, db->path, err);
        return ENG_ERR(err, "the page cannot be read, or is cut short or fails its checksum twice");
    }
    const char *why = NULL;
    if ((np->data[16] == ENG_PT_META) != (pgno == ENG_PGNO_META))
        why = pgno == ENG_PGNO_META ? "meta page of another type" : "meta page type off page 1";
    else
        bt_page_validate(np->data, db->page_size, pgno, ENG_PGNO_CATALOG + 1, db->npages, &why);
    if (why) {
        free(np->data);
        free(np);
        eng_event(db->inst, 1, 1206, "page %u of %s is corrupted: %s", pgno, db->path, why);
        return ENG_ERR(JET_errDatabaseCorrupted,
                       "the page's checksum is right but its structure is not (see event 1206)");
    }
    np->lsn = eng_ld64(np->data + 8);

    pthread_mutex_lock(&db->cmu);
    pg = lookup(db, pgno);
    if (pg) { /* another reader loaded it meanwhile */
        free(np->data);
        free(np);
    } else {
        pg = np;
        insert(db, pg);
        list_push(&db->lru, pg);
    }
    pg->pins++;
    evict(db);
    pthread_mutex_unlock(&db->cmu);
    *out = pg;
    return JET_errSuccess;
}

void eng_cache_unpin(eng_db *db, eng_page *pg)
{
    pthread_mutex_lock(&db->cmu);
    pg->pins--;
    pthread_mutex_unlock(&db->cmu);
}

long eng_cache_install(eng_db *db, uint32_t pgno, const uint8_t *img, eng_lsn lsn, eng_lsn full_lsn)
{
    pthread_mutex_lock(&db->cmu);
    eng_page *pg = lookup(db, pgno);
    if (!pg) {
        pg = page_new(db, pgno);
        if (!pg) {
            pthread_mutex_unlock(&db->cmu);
            return JET_errOutOfMemory;
        }
        insert(db, pg);
    } else {
        list_del(pg);
    }
    memcpy(pg->data, img, db->page_size);
    eng_st64(pg->data + 8, lsn);
    pg->lsn = lsn;
    pg->full_lsn = full_lsn;
    if (!pg->dirty) {
        pg->dirty = true;
        pg->rec_lsn = lsn;
        db->ndirty++;
    }
    list_push(&db->dirtyq, pg);
    pthread_mutex_unlock(&db->cmu);
    return JET_errSuccess;
}

size_t eng_cache_dirty(eng_db *db)
{
    pthread_mutex_lock(&db->cmu);
    size_t n = db->ndirty;
    pthread_mutex_unlock(&db->cmu);
    return n;
}

struct staged {
    eng_page *pg;
    uint32_t pgno;
    eng_lsn lsn;
    uint8_t *buf;
};

static int cmp_staged(const void *a, const void *b)
{
    uint32_t x = ((const struct staged *)a)->pgno, y = ((const struct staged *)b)->pgno;
    return x < y ? -1 : x > y;
}

/* Write staged pages in page order, one pwritev per run of consecutive page numbers. */
static int write_runs(eng_db *db, struct staged *st, size_t n)
{
    size_t i = 0;
    while (i < n) {
        struct iovec iov[64];
        size_t k = 0;
        while (i + k < n && k < 64 && (k == 0 || st[i + k].pgno == st[i + k - 1].pgno + 1)) {
            iov[k].iov_base = st[i + k].buf;
            iov[k].iov_len = db->page_size;
            k++;
        }
        int r = eng_io_pwritev(db->fd, iov, (int)k, eng_page_off(st[i].pgno, db->page_size));
        if (r < 0)
            return r;
        i += k;
    }
    return 0;
}

long eng_cache_flush(eng_db *db, eng_lsn upto)
{
    pthread_mutex_lock(&db->fmu);
    long err = db->io_err;
    if (err) {
        pthread_mutex_unlock(&db->fmu);
        return err;
    }
    /* Take the batch in bounded chunks so a huge dirty set does not need a huge staging area,
     * and size the staging area to what is dirty now, so a checkpoint of a few pages does not
     * allocate (and, under MALLOC_PERTURB_, fill) 32 MiB. */
    pthread_mutex_lock(&db->cmu);
    size_t chunk = db->ndirty < 4096 ? db->ndirty : 4096;
    pthread_mutex_unlock(&db->cmu);
    if (chunk == 0) {
        pthread_mutex_unlock(&db->fmu);
        return JET_errSuccess;
    }
    struct staged *st = malloc(chunk * sizeof *st);
    uint8_t *bufs = malloc(chunk * (size_t)db->page_size);
    if (!st || !bufs) {
        free(st);
        free(bufs);
        pthread_mutex_unlock(&db->fmu);
        return JET_errOutOfMemory;
    }
    for (;;) {
        size_t n = 0;
        eng_lsn maxlsn = 0;
        pthread_mutex_lock(&db->cmu);
        for (eng_page *p = db->dirtyq.prev; p != &db->dirtyq && n < chunk; p = p->prev) {
            /* LSNs here are commit *ends*: the last commit before upto ends exactly at upto. */
            if (upto && p->rec_lsn > upto)
                continue;
            p->pins++;
            st[n].pg = p;
            st[n].pgno = p->pgno;
            n++;
        }
        pthread_mutex_unlock(&db->cmu);
        if (!n)
            break;
        /* Nothing reaches the file while the instance is frozen for an OS snapshot. */
        eng_frz_enter(db->inst);
        /* Copy images under the view lock so a concurrent commit cannot change them mid-copy. */
        pthread_rwlock_rdlock(&db->view_lock);
        for (size_t i = 0; i < n; i++) {
            st[i].buf = bufs + i * (size_t)db->page_size;
            memcpy(st[i].buf, st[i].pg->data, db->page_size);
            st[i].lsn = st[i].pg->lsn;
            if (st[i].lsn > maxlsn)
                maxlsn = st[i].lsn;
        }
        pthread_rwlock_unlock(&db->view_lock);
        if (db->inst->log && maxlsn)
            err = log_flush(db->inst->log, maxlsn); /* write-ahead rule */
        if (!err) {
            qsort(st, n, sizeof *st, cmp_staged);
            for (size_t i = 0; i < n; i++)
                eng_page_seal(st[i].buf, st[i].pgno, db->page_size);
            pthread_mutex_lock(&db->pwmu);
            int r = write_runs(db, st, n);
            pthread_mutex_unlock(&db->pwmu);
            if (!r)
                r = eng_io_fdatasync(db->fd);
            if (r < 0)
                err = eng_io_errno_to_jet(r, 0);
        }
        eng_frz_exit(db->inst);
        pthread_mutex_lock(&db->cmu);
        for (size_t i = 0; i < n; i++) {
            eng_page *p = st[i].pg;
            p->pins--;
            if (!err && p->dirty && p->lsn == st[i].lsn) {
                p->dirty = false;
                db->ndirty--;
                list_del(p);
                list_push(&db->lru, p);
            } else if (!err && p->dirty && upto && p->rec_lsn <= upto) {
                /* Changed again while it was written. Those commits were installed after the
                 * caller took `upto` (a checkpoint takes it with every commit's copy-in done), so
                 * they end after upto: the page is clean up to there. Without this a page that
                 * every commit touches (the meta page) could keep a checkpoint looping. */
                p->rec_lsn = upto + 1;
            }
        }
        if (err) /* atomic: api_update_begin reads it without cmu or fmu */
            __atomic_store_n(&db->io_err, err, __ATOMIC_RELAXED);
        evict(db);
        pthread_cond_broadcast(&db->ccv);
        pthread_mutex_unlock(&db->cmu);
        if (err) {
            eng_event(db->inst, 1, err == JET_errDiskFull ? 1808 : 1022, "writing %zu pages of %s failed with error %ld",
                      n, db->path, err);
            break;
        }
    }
    free(st);
    free(bufs);
    pthread_mutex_unlock(&db->fmu);
    return err;
}

void eng_cache_destroy(eng_db *db)
{
    if (!db->hash)
        return;
    for (size_t i = 0; i < db->hash_size; i++) {
        eng_page *p = db->hash[i];
        while (p) {
            eng_page *n = p->hnext;
            free(p->data);
            free(p);
            p = n;
        }
    }
    free(db->hash);
    db->hash = NULL;
}
