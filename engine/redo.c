/*
 * redo.c — what crash recovery (recovery.c) and restore (restore.c) share: the page images of a
 * transaction are held until its COMMIT record is read, so a transaction the log does not show
 * committed never reaches a database, and a committed image is written stamped with its commit's
 * LSN and sealed with the page checksum.
 */
#include <stdlib.h>
#include <string.h>

#include "engine-int.h"

long eng_redo_add(eng_redo *r, const eng_logrec_view *v)
{
    ENG_RETURN_IF(v->type != ENG_LR_PAGE || v->len != ENG_REC_PAGE_HDR + r->ps, JET_errLogCorrupted);
    if (r->n == r->cap) {
        size_t nc = r->cap ? r->cap * 2 : 64;
        eng_redo_page *np = realloc(r->pages, nc * sizeof *np);
        ENG_RETURN_IF(!np, JET_errOutOfMemory);
        r->pages = np;
        r->cap = nc;
    }
    uint8_t *img = malloc(r->ps);
    ENG_RETURN_IF(!img, JET_errOutOfMemory);
    memcpy(img, v->data + ENG_REC_PAGE_HDR, r->ps);
    r->pages[r->n++] = (eng_redo_page){eng_ld32(v->data), eng_ld32(v->data + 4), img};
    return JET_errSuccess;
}

long eng_redo_write(const eng_redo *r, int fd, eng_redo_page *p, eng_lsn lsn)
{
    eng_st64(p->img + 8, lsn);
    eng_page_seal(p->img, p->pgno, r->ps);
    int w = eng_io_pwrite(fd, p->img, r->ps, eng_page_off(p->pgno, r->ps));
    ENG_RETURN_IF(w < 0, eng_io_errno_to_jet(w, 0));
    return JET_errSuccess;
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
    r->pages = NULL;
    r->cap = 0;
}
