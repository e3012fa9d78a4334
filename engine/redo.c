/*
 * redo.c — what crash recovery (recovery.c) and restore (restore.c) share: the page records of a
 * transaction are held until its COMMIT record is read, so a transaction the log does not show
 * committed never reaches a database, and a committed page is written stamped with the LSN just
 * past its COMMIT record (what the running engine stamps, eng_cache_install) and sealed with the
 * page checksum.
 *
 * A page record is a whole image (ENG_LR_PAGE) or a diff (ENG_LR_PAGEDIFF) against the image
 * stamped `base`. Whole images replace whatever the file holds, so a torn or older page is
 * repaired. Why diffs can be replayed: a commit logs a diff only when the page's last whole image
 * is newer than the newest checkpoint begun (txn.c), so from any checkpoint on the first record of
 * every page is a whole image and the diffs after it apply in order; and a diff the file's page
 * already holds (stamped with this commit or a later one: a page a backup read after it was
 * flushed) is skipped.
 * Pages are written back lazily from a small direct-mapped set of slots, so the many diffs of a
 * hot page (a table's last leaf, the meta page) are applied in memory; recovery and restore flush
 * a file before they sync or close it. A crash in between leaves older pages, which a rerun
 * brings forward again, since it starts from the same checkpoint or backup.
 */
#include <stdlib.h>
#include <string.h>

#include "engine-int.h"
#include "records-int.h"

long eng_redo_add(eng_redo *r, const eng_logrec_view *v)
{
    bool diff = v->type == ENG_LR_PAGEDIFF;
    ENG_RETURN_IF(v->type != ENG_LR_PAGE && !diff, JET_errLogCorrupted,
                  "a record held for redo is neither a page image nor a page diff");
    eng_rec_page pr;
    long err = diff ? eng_rec_pagediff_decode(v->data, v->len, r->ps, &pr)
                    : eng_rec_page_decode(v->data, v->len, r->ps, &pr);
    ENG_RETURN_IF(err, err, "a page record in the log does not decode");
    if (r->n == r->cap) {
        size_t nc = r->cap ? r->cap * 2 : 64;
        eng_redo_page *np = realloc(r->pages, nc * sizeof *np);
        ENG_RETURN_IF(!np, JET_errOutOfMemory, "no memory to hold the transaction's page records");
        r->pages = np;
        r->cap = nc;
    }
    uint8_t *img = malloc(pr.body_len ? pr.body_len : 1);
    ENG_RETURN_IF(!img, JET_errOutOfMemory, "no memory for a logged page change");
    memcpy(img, pr.body, pr.body_len);
    r->pages[r->n++] = (eng_redo_page){pr.dbid, pr.pgno, diff, pr.base, img, pr.body_len};
    return JET_errSuccess;
}

#define SLOTS 1024 /* pages kept between commits (8 MiB with 8 KiB pages) */

static long slot_writeback(eng_redo *r, eng_redo_slot *s)
{
    if (s->fd < 0 || !s->dirty)
        return JET_errSuccess;
    int w = eng_io_pwrite(s->fd, s->img, r->ps, eng_page_off(s->pgno, r->ps));
    ENG_RETURN_IF(w < 0, eng_io_errno_to_jet(w, 0), "a replayed page cannot be written to its database");
    s->dirty = false;
    return JET_errSuccess;
}

/* The slot of (fd, pgno), holding that page if *have is set on return. A dirty page of another
 * file or page number in the slot is written back first. */
static long slot_get(eng_redo *r, int fd, uint32_t pgno, eng_redo_slot **out, bool *have)
{
    if (!r->slots) {
        r->slots = calloc(SLOTS, sizeof *r->slots);
        ENG_RETURN_IF(!r->slots, JET_errOutOfMemory, "no memory for the redo page slots");
        for (size_t i = 0; i < SLOTS; i++)
            r->slots[i].fd = -1;
    }
    eng_redo_slot *s = &r->slots[((uint64_t)pgno * 0x9E3779B1u + (uint32_t)fd * 0x85EBCA6Bu) % SLOTS];
    *have = s->fd == fd && s->pgno == pgno;
    if (!*have) {
        long err = slot_writeback(r, s);
        ENG_RETURN_IF(err, err, "the page in the slot cannot be written back to make room");
        if (!s->img && !(s->img = malloc(r->ps)))
            return JET_errOutOfMemory;
        s->fd = -1; /* holds nothing until the caller fills it */
    }
    *out = s;
    return JET_errSuccess;
}

/* Bring the page a diff applies to into slot s. Returns 1 when the page already holds the commit
 * ending at lsn. */
static long diff_base(eng_redo *r, int fd, eng_redo_slot *s, bool have_it, const eng_redo_page *p, eng_lsn lsn)
{
    if (!have_it) {
        ssize_t got = eng_io_pread(fd, s->img, r->ps, eng_page_off(p->pgno, r->ps));
        ENG_RETURN_IF(got < 0, eng_io_errno_to_jet((int)got, 0),
                      "the page a logged diff applies to cannot be read");
        if (got != (ssize_t)r->ps || eng_page_verify(s->img, p->pgno, r->ps)) {
            eng_event(NULL, 1, 305, "redo: page %u of database %u, which a logged change applies to, is damaged",
                      p->pgno, p->dbid);
            return ENG_ERR(JET_errReadVerifyFailure, "the page a logged diff applies to is short or damaged");
        }
        s->fd = fd;
        s->pgno = p->pgno;
        s->dirty = false;
    }
    eng_lsn have = eng_ld64(s->img + 8);
    if (have >= lsn)
        return 1;
    if (have != p->base) {
        eng_event(NULL, 1, 306,
                  "redo: page %u of database %u is at log position %u:%u, the change logged at %u:%u needs %u:%u",
                  p->pgno, p->dbid, ENG_LSN_GEN(have), ENG_LSN_OFF(have), ENG_LSN_GEN(lsn), ENG_LSN_OFF(lsn),
                  ENG_LSN_GEN(p->base), ENG_LSN_OFF(p->base));
        return ENG_ERR(JET_errDatabaseCorrupted, "the page is not at the version the logged diff needs");
    }
    return 0;
}

long eng_redo_write(eng_redo *r, int fd, eng_redo_page *p, eng_lsn lsn)
{
    eng_redo_slot *s = NULL;
    bool have_it = false;
    long err = slot_get(r, fd, p->pgno, &s, &have_it);
    ENG_RETURN_IF(err, err, "the page cannot be given a redo slot");
    if (p->diff) {
        long st = diff_base(r, fd, s, have_it, p, lsn);
        if (st == 1) {
            r->skipped++;
            return JET_errSuccess;
        }
        ENG_RETURN_IF(st, st, "the logged diff cannot be applied to the page on disk");
        eng_pagediff_apply(s->img, p->img, p->len);
    } else {
        memcpy(s->img, p->img, r->ps);
        s->fd = fd;
        s->pgno = p->pgno;
    }
    eng_st64(s->img + 8, lsn);
    eng_page_seal(s->img, p->pgno, r->ps);
    s->dirty = true;
    return JET_errSuccess;
}

long eng_redo_flush(eng_redo *r, int fd)
{
    long err = JET_errSuccess;
    for (size_t i = 0; r->slots && i < SLOTS; i++) {
        eng_redo_slot *s = &r->slots[i];
        if (s->fd < 0 || (fd >= 0 && s->fd != fd))
            continue;
        long e = slot_writeback(r, s);
        if (e && !err)
            err = e;
        s->fd = -1;
    }
    return err;
}

void eng_redo_clear(eng_redo *r)
{
    for (size_t i = 0; i < r->n; i++)
        free(r->pages[i].img);
    r->n = 0;
}

void eng_redo_free(eng_redo *r)
{
    eng_redo_clear(r);
    free(r->pages);
    for (size_t i = 0; r->slots && i < SLOTS; i++)
        free(r->slots[i].img);
    free(r->slots);
    r->pages = NULL;
    r->slots = NULL;
    r->cap = 0;
}
