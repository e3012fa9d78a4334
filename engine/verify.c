/*
 * verify.c — offline check of a database file: both headers, every page's checksum and number,
 * the catalog and every table's B+tree structure. Used by the crash tests ("every page
 * verifies") and meant for a future command-line checker; it only reads the file.
 */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>

#include "engine-int.h"
#include "testhooks-int.h"

struct fview {
    eng_pageio io;
    int fd;
    uint32_t npages;
    uint8_t **bufs; /* pages handed out during one B+tree call, freed after it */
    size_t nbufs, capbufs;
};

static int fv_read(void *ctx, uint32_t pgno, const uint8_t **page)
{
    struct fview *v = ctx;
    if (pgno == 0 || pgno >= v->npages)
        return JET_errDatabaseCorrupted;
    if (v->nbufs == v->capbufs) {
        size_t nc = v->capbufs ? v->capbufs * 2 : 64;
        uint8_t **nb = realloc(v->bufs, nc * sizeof *nb);
        if (!nb)
            return JET_errOutOfMemory;
        v->bufs = nb;
        v->capbufs = nc;
    }
    uint8_t *b = malloc(v->io.page_size);
    if (!b)
        return JET_errOutOfMemory;
    ssize_t n = eng_io_pread(v->fd, b, v->io.page_size, eng_page_off(pgno, v->io.page_size));
    if (n != (ssize_t)v->io.page_size || eng_page_verify(b, pgno, v->io.page_size)) {
        free(b);
        return JET_errReadVerifyFailure;
    }
    v->bufs[v->nbufs++] = b;
    *page = b;
    return 0;
}

static int fv_ro(void *ctx, uint32_t pgno, uint8_t **page)
{
    (void)ctx;
    (void)pgno;
    (void)page;
    return JET_errInvalidParameter; /* read-only */
}

static int fv_free(void *ctx, uint32_t pgno)
{
    (void)ctx;
    (void)pgno;
    return JET_errInvalidParameter;
}

static int fv_alloc(void *ctx, uint32_t *pgno, uint8_t **page)
{
    (void)pgno;
    return fv_ro(ctx, 0, page);
}

static void fv_release(struct fview *v)
{
    for (size_t i = 0; i < v->nbufs; i++)
        free(v->bufs[i]);
    v->nbufs = 0;
}

long eng_verify_file(const char *path, uint64_t *npages_out, uint64_t *ntables_out, uint64_t *nrecords_out)
{
    int fd = eng_io_open(path, O_RDONLY, 0);
    ENG_RETURN_IF(fd < 0, eng_io_errno_to_jet(fd, 0), "the database file cannot be opened");
    eng_dbhdr h;
    long err = eng_dbhdr_read(fd, 0, &h);
    uint8_t *pg = NULL;
    struct fview v;
    memset(&v, 0, sizeof v);
    v.fd = fd;
    v.io.ctx = &v;
    v.io.page_size = h.page_size;
    v.io.read = fv_read;
    v.io.write = fv_ro;
    v.io.alloc = fv_alloc;
    v.io.free = fv_free;
    uint64_t ntables = 0, nrec = 0;
    if (err)
        goto out;
    pg = malloc(h.page_size);
    if (!pg) {
        err = JET_errOutOfMemory;
        goto out;
    }
    ssize_t n = eng_io_pread(fd, pg, h.page_size, eng_page_off(ENG_PGNO_META, h.page_size));
    if (n != (ssize_t)h.page_size || eng_page_verify(pg, ENG_PGNO_META, h.page_size) || pg[16] != ENG_PT_META) {
        err = JET_errDatabaseCorrupted;
        goto out;
    }
    v.npages = eng_ld32(pg + ENG_META_NPAGES);
    for (uint32_t p = 1; p < v.npages; p++) {
        n = eng_io_pread(fd, pg, h.page_size, eng_page_off(p, h.page_size));
        if (n != (ssize_t)h.page_size || eng_page_verify(pg, p, h.page_size)) {
            err = ENG_ERR(JET_errReadVerifyFailure,
                          "a page is cut short or fails its checksum or page number check");
            goto out;
        }
    }
    uint64_t ncat = 0;
    err = bt_check(&v.io, ENG_PGNO_CATALOG, &ncat);
    fv_release(&v);
    /* Walk the catalog and check every table. */
    uint8_t key[JET_cbKeyMostMost];
    size_t klen = 0;
    enum bt_seek_op op = BT_SEEK_GE;
    while (!err) {
        uint8_t cur[JET_cbKeyMostMost];
        size_t clen = 0;
        long r = bt_seek(&v.io, ENG_PGNO_CATALOG, op == BT_SEEK_GE ? NULL : key, klen, op, cur, &clen);
        fv_release(&v);
        if (r == JET_errRecordNotFound)
            break;
        if (r) {
            err = r;
            break;
        }
        uint8_t val[4 + JET_cbNameMost];
        size_t vlen = 0;
        err = bt_get(&v.io, ENG_PGNO_CATALOG, cur, clen, val, sizeof val, &vlen);
        fv_release(&v);
        if (!err && vlen < 4)
            err = JET_errDatabaseCorrupted;
        uint64_t nr = 0;
        if (!err)
            err = bt_check(&v.io, eng_ld32(val), &nr);
        fv_release(&v);
        ntables++;
        nrec += nr;
        memcpy(key, cur, clen);
        klen = clen;
        op = BT_SEEK_GT;
    }
out:
    fv_release(&v);
    free(v.bufs);
    free(pg);
    eng_io_close(fd);
    if (!err) {
        if (npages_out)
            *npages_out = v.npages;
        if (ntables_out)
            *ntables_out = ntables;
        if (nrecords_out)
            *nrecords_out = nrec;
    }
    return err;
}
