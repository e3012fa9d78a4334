/*
 * chkstream.c — JetChecksumStream*: check a database's backup stream (backup.c's format: the
 * header block twice, pages 1..N-1, a trailer page, records.c) as it is fed in chunks of any size,
 * without a file or an instance (docs/jet-semantics.md, “Checking a backup stream”).
 *
 * The stream is cut into page-size units as the bytes come. The page size is not known before a
 * header copy is read, so the first bytes are kept (at most HEAD_MAX, which holds copy B of the
 * largest page size) until copy A, or copy B at one of the four page sizes, decodes; they are then
 * cut into units like the rest. Where the trailer is is only known at the end, so each complete
 * unit is held back until the next one completes: the last one is checked as the trailer at End,
 * every other as a page.
 */
#include <stdlib.h>
#include <string.h>

#include "engine-int.h"
#include "records-int.h"

#define HDR_USED 512                  /* header bytes that carry data (dbfile.c) */
#define PS_MAX 32768u
#define HEAD_MAX (PS_MAX + HDR_USED)  /* enough for copy B at the largest page size */
#define NO_BAD (~0ULL)

struct JET_CHECKSUMSTREAM {
    uint64_t fed;
    uint32_t ps;         /* 0 until a header copy gave it */
    bool hopeless;       /* no header copy in HEAD_MAX bytes: nothing can be cut into pages */
    long hdr_err;        /* why neither copy decoded (ps 0), or the first header copy's problem */
    uint8_t *head;       /* the first bytes, kept while ps is 0 */
    size_t nhead;
    eng_dbhdr hdr;       /* the first header copy that decoded */
    bool have_hdr;
    uint8_t *copy_a;     /* unit 0, compared with unit 1 */
    uint64_t unit;       /* index of the next unit to complete */
    uint8_t *cur;        /* the unit being filled */
    size_t ncur;
    uint8_t *held;       /* the last complete unit past the headers, not yet checked */
    bool have_held;
    JET_CHECKSUMINFO out;
};

static void push(JET_CHECKSUMSTREAM *s, const uint8_t *p, size_t n);
static long find_page_size(JET_CHECKSUMSTREAM *s, bool final);
static void unit_done(JET_CHECKSUMSTREAM *s);
static void check_header_copy(JET_CHECKSUMSTREAM *s, uint64_t u, const uint8_t *b);
static void check_page(JET_CHECKSUMSTREAM *s, uint64_t u, const uint8_t *b);
static void check_last(JET_CHECKSUMSTREAM *s);
static void bad(JET_CHECKSUMSTREAM *s, uint64_t u, uint32_t pgno);
static long verdict(const JET_CHECKSUMSTREAM *s);
static bool all_zero(const uint8_t *p, size_t n);
static void chk_free(JET_CHECKSUMSTREAM *s);

JET_ERR JET_API JetChecksumStreamBegin(JET_CHECKSUMSTREAM **pps)
{
    ENG_RETURN_IF(!pps, JET_errInvalidParameter, "no place was given for the stream check");
    JET_CHECKSUMSTREAM *s = calloc(1, sizeof *s);
    if (s)
        s->head = malloc(HEAD_MAX);
    if (!s || !s->head) {
        free(s);
        return ENG_ERR(JET_errOutOfMemory, "no memory for a stream check");
    }
    s->out.ibFirstBad = NO_BAD;
    *pps = s;
    return JET_errSuccess;
}

JET_ERR JET_API JetChecksumStreamFeed(JET_CHECKSUMSTREAM *s, const void *pv, unsigned long cb)
{
    ENG_RETURN_IF(!s || (!pv && cb), JET_errInvalidParameter, "no stream check, or no bytes with a length");
    if (!cb)
        return JET_errSuccess; /* pv may be NULL then, which memcpy must not see */
    const uint8_t *p = pv;
    s->fed += cb;
    if (!s->ps && !s->hopeless) {
        /* Keep the first bytes until a header copy says how long a unit is. */
        size_t take = HEAD_MAX - s->nhead < cb ? HEAD_MAX - s->nhead : cb;
        memcpy(s->head + s->nhead, p, take);
        s->nhead += take;
        p += take;
        cb -= take;
        if (find_page_size(s, false) || !s->ps)
            return JET_errSuccess;
    }
    if (s->ps)
        push(s, p, cb);
    return JET_errSuccess;
}

JET_ERR JET_API JetChecksumStreamEnd(JET_CHECKSUMSTREAM *s, JET_CHECKSUMINFO *pinfo)
{
    ENG_RETURN_IF(!s, JET_errInvalidParameter, "no stream check to end");
    if (!s->ps && !s->hopeless)
        find_page_size(s, true);
    if (s->ps)
        check_last(s);
    long err = verdict(s);
    JET_CHECKSUMINFO o = s->out;
    o.cbPageSize = s->ps;
    o.cbStream = s->fed;
    o.fHeaderValid = s->ps && s->unit >= 2 && !s->hdr_err;
    chk_free(s);
    ENG_RETURN_IF(pinfo && pinfo->cbStruct != sizeof *pinfo, JET_errInvalidParameter,
                  "the JET_CHECKSUMINFO's cbStruct is not the size of the structure");
    if (pinfo) {
        o.cbStruct = pinfo->cbStruct;
        *pinfo = o;
    }
    return err;
}

/* Cut n bytes into units (ps known). */
static void push(JET_CHECKSUMSTREAM *s, const uint8_t *p, size_t n)
{
    while (n) {
        size_t take = s->ps - s->ncur < n ? s->ps - s->ncur : n;
        memcpy(s->cur + s->ncur, p, take);
        s->ncur += take;
        p += take;
        n -= take;
        if (s->ncur == s->ps)
            unit_done(s);
    }
}

/* Read the page size from header copy A, or from copy B where one of the page sizes puts it,
 * once enough of the head is there (or, final, with what there is); then cut the head into units.
 * A decision needs only the head: 0 while undecided and not final. Returns an error only when the
 * unit buffers cannot be had. */
static long find_page_size(JET_CHECKSUMSTREAM *s, bool final)
{
    static const uint32_t sizes[] = {4096, 8192, 16384, PS_MAX};
    eng_dbhdr h;
    uint32_t ps = 0;
    long ea = s->nhead >= HDR_USED ? eng_dbhdr_decode(s->head, HDR_USED, &h) : JET_errDatabaseCorrupted;
    if (!ea) {
        ps = h.page_size;
    } else {
        bool waiting = s->nhead < HDR_USED;
        for (size_t i = 0; i < sizeof sizes / sizeof *sizes && !ps; i++) {
            if (s->nhead < sizes[i] + HDR_USED) {
                waiting = true;
                break;
            }
            if (!eng_dbhdr_decode(s->head + sizes[i], HDR_USED, &h) && h.page_size == sizes[i])
                ps = sizes[i];
        }
        if (!ps && (!waiting || final)) {
            s->hopeless = true; /* no header copy: the stream cannot be cut into pages */
            s->hdr_err = ea;
            s->out.cpgBad = 1;
            s->out.ibFirstBad = 0;
        }
        if (!ps)
            return JET_errSuccess;
    }
    s->cur = malloc(ps);
    s->held = malloc(ps);
    s->copy_a = malloc(ps);
    if (!s->cur || !s->held || !s->copy_a) {
        s->hopeless = true;
        s->hdr_err = JET_errOutOfMemory;
        return ENG_ERR(JET_errOutOfMemory, "no memory for the stream check's page buffers");
    }
    s->ps = ps;
    uint8_t *head = s->head;
    size_t nhead = s->nhead;
    s->head = NULL;
    s->nhead = 0;
    push(s, head, nhead);
    free(head);
    return JET_errSuccess;
}

/* s->cur holds a whole unit. */
static void unit_done(JET_CHECKSUMSTREAM *s)
{
    uint64_t u = s->unit++;
    s->ncur = 0;
    if (u < 2) {
        check_header_copy(s, u, s->cur);
        return;
    }
    /* The unit before this one was not the last: it is a page. */
    if (s->have_held)
        check_page(s, u - 1, s->held);
    uint8_t *t = s->held;
    s->held = s->cur;
    s->cur = t;
    s->have_held = true;
}

static void check_header_copy(JET_CHECKSUMSTREAM *s, uint64_t u, const uint8_t *b)
{
    eng_dbhdr h;
    long err = eng_dbhdr_decode(b, s->ps, &h);
    if (!err && h.page_size != s->ps)
        err = JET_errDatabaseCorrupted;
    /* The stream writes one header snapshot twice: copies that differ mean one is damaged. */
    if (!err && u == 1 && s->have_hdr && memcmp(s->copy_a, b, s->ps))
        err = JET_errDatabaseCorrupted;
    if (u == 0)
        memcpy(s->copy_a, b, s->ps);
    if (err) {
        if (!s->hdr_err)
            s->hdr_err = err;
        bad(s, u, 0);
    } else if (!s->have_hdr) {
        s->hdr = h;
        s->have_hdr = true;
    }
}

/* Unit u (>= 2) is page u - 1. */
static void check_page(JET_CHECKSUMSTREAM *s, uint64_t u, const uint8_t *b)
{
    uint32_t pgno = (uint32_t)(u - 1);
    s->out.cpgChecked++;
    if (all_zero(b, s->ps))
        s->out.cpgEmpty++;
    else if (u - 1 > UINT32_MAX || eng_page_verify(b, pgno, s->ps))
        bad(s, u, pgno);
}

/* The held unit is the last whole one: the trailer, if the stream is whole. A trailer that does
 * not count the stream's length, or names another database, ends a stream cut short or run on.
 * Any other last unit is checked as a page, except that one which is neither a good trailer nor a
 * good page at the very end is taken for a damaged trailer (counted bad, with no page number). */
static void check_last(JET_CHECKSUMSTREAM *s)
{
    if (!s->have_held)
        return; /* nothing past the headers */
    uint64_t u = s->unit - 1;
    eng_rec_trailer tr;
    if (!eng_rec_trailer_decode(s->held, s->ps, &tr)) {
        s->out.fTrailerValid = s->ncur == 0 && s->have_hdr && ((uint64_t)tr.npages + 2) * s->ps == s->fed &&
                               tr.sig.random == s->hdr.sig.random &&
                               tr.sig.create_time_usec == s->hdr.sig.create_time_usec;
        s->out.genLow = tr.gen_low;
        s->out.genHigh = tr.gen_high;
        return;
    }
    if (s->ncur == 0 && !all_zero(s->held, s->ps) && eng_page_verify(s->held, (uint32_t)(u - 1), s->ps))
        bad(s, u, 0);
    else
        check_page(s, u, s->held);
}

static void bad(JET_CHECKSUMSTREAM *s, uint64_t u, uint32_t pgno)
{
    if (s->out.ibFirstBad == NO_BAD)
        s->out.ibFirstBad = u * s->ps;
    if (pgno && !s->out.pgnoFirstBad)
        s->out.pgnoFirstBad = pgno;
    s->out.cpgBad++;
}

/* What End returns: a stream that cannot be restored as it is before a damaged page in one that
 * could be repaired from the logs, as the restore's own check ranks them. */
static long verdict(const JET_CHECKSUMSTREAM *s)
{
    if (!s->ps)
        return s->hdr_err == JET_errInvalidDatabaseVersion || s->hdr_err == JET_errOutOfMemory
                   ? ENG_ERR(s->hdr_err, "no header copy of the stream could be used")
                   : ENG_ERR(JET_errDatabaseCorrupted, "no header copy of the stream is readable");
    ENG_RETURN_IF(s->hdr_err || s->unit < 2, JET_errDatabaseCorrupted,
                  "a header copy of the stream is damaged or missing");
    ENG_RETURN_IF(!s->out.fTrailerValid, JET_errDatabaseCorrupted,
                  "the stream does not end with a trailer that matches it: cut short, run on or damaged");
    ENG_RETURN_IF(s->out.cpgBad, JET_errReadVerifyFailure, "a page of the stream is damaged");
    return JET_errSuccess;
}

static bool all_zero(const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i])
            return false;
    return true;
}

static void chk_free(JET_CHECKSUMSTREAM *s)
{
    free(s->head);
    free(s->cur);
    free(s->held);
    free(s->copy_a);
    free(s);
}
