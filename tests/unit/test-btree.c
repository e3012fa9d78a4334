/* B+tree: randomized operations against a sorted-array model, edge cases of keys, values and seeks,
 * page accounting (fill factor, leaks, overflow chains) and damaged or garbage pages.
 *
 * The page provider below behaves like the transaction layer: write() hands out a private copy the
 * first time a page is written in a call and poisons the old image (so a B+tree that keeps using a
 * stale pointer reads garbage), freed pages are poisoned and reused, and bytes 0..15 of every page
 * carry a stamp the B+tree must never touch. */
#include <check.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "btree-int.h"
#include "jet.h"
#include "testutil.h"

/* Layout facts mirrored from btree.c (white-box tests use them to predict page counts). */
#define BT_HDR 32
#define BT_CELL_HDR 6
#define BT_OVF_DATA 28
static size_t inline_max_vlen(uint32_t ps, size_t klen)
{
    return (ps - BT_HDR) / 4 - 2 - BT_CELL_HDR - klen;
}
static size_t ovf_pages(uint32_t ps, size_t vlen)
{
    size_t cap = ps - BT_OVF_DATA;
    return (vlen + cap - 1) / cap;
}

/* ---------------------------------------------------------------------------------------------
 * In-memory page provider
 * ------------------------------------------------------------------------------------------- */
typedef struct mpage {
    uint8_t *img;
    bool live, dirty;
} mpage;

typedef struct memio {
    eng_pageio io;
    uint32_t ps;
    mpage *pg; /* index = pgno; pgno 0 is never handed out */
    size_t npg, cap;
    uint32_t *freel;
    size_t nfree, freecap;
    size_t live;
    uint32_t damaged;  /* read/write of this pgno fails with ReadVerifyFailure (0: none) */
    long alloc_budget; /* allocations left before JET_errDiskFull (-1: unlimited) */
    bool cow;
    uint8_t **grave; /* stale images, released at the end of the call */
    size_t ngrave, gravecap;
    uint32_t *dirtyl;
    size_t ndirty, dirtycap;
    unsigned long nwrite, nalloc, nfree_calls;
    int misuse; /* double free, write of a dead page, ... */
    bool validate;     /* read() runs bt_page_validate, as the engine's cache does on a miss */
    unsigned reports;  /* calls of io.corrupt */
} memio;

static void *xrealloc(void *p, size_t n)
{
    p = realloc(p, n);
    if (!p)
        abort();
    return p;
}

static void stamp(uint8_t *img, uint32_t pgno)
{
    for (int i = 0; i < 16; i++)
        img[i] = (uint8_t)(0xA0 + i + pgno * 7);
}

static bool stamp_ok(const uint8_t *img, uint32_t pgno)
{
    for (int i = 0; i < 16; i++)
        if (img[i] != (uint8_t)(0xA0 + i + pgno * 7))
            return false;
    return true;
}

static void push_grave(memio *m, uint8_t *img)
{
    if (m->ngrave == m->gravecap) {
        m->gravecap = m->gravecap ? 2 * m->gravecap : 16;
        m->grave = xrealloc(m->grave, m->gravecap * sizeof *m->grave);
    }
    m->grave[m->ngrave++] = img;
}

static void mark_dirty(memio *m, uint32_t pgno)
{
    m->pg[pgno].dirty = true;
    if (m->ndirty == m->dirtycap) {
        m->dirtycap = m->dirtycap ? 2 * m->dirtycap : 16;
        m->dirtyl = xrealloc(m->dirtyl, m->dirtycap * sizeof *m->dirtyl);
    }
    m->dirtyl[m->ndirty++] = pgno;
}

static int m_read(void *ctx, uint32_t pgno, const uint8_t **page)
{
    memio *m = ctx;
    if (pgno == 0 || pgno >= m->npg || !m->pg[pgno].live)
        return JET_errDatabaseCorrupted;
    if (pgno == m->damaged)
        return JET_errReadVerifyFailure;
    if (m->validate && bt_page_validate(m->pg[pgno].img, m->ps, pgno, 1, (uint32_t)m->npg, NULL))
        return JET_errDatabaseCorrupted;
    *page = m->pg[pgno].img;
    return 0;
}

static void m_corrupt(void *ctx, uint32_t pgno, const char *why)
{
    memio *m = ctx;
    ck_assert_uint_lt(pgno, m->npg);
    ck_assert_ptr_nonnull(why);
    m->reports++;
}

static int m_write(void *ctx, uint32_t pgno, uint8_t **page)
{
    memio *m = ctx;
    if (pgno == 0 || pgno >= m->npg || !m->pg[pgno].live) {
        m->misuse++;
        return JET_errDatabaseCorrupted;
    }
    if (pgno == m->damaged)
        return JET_errReadVerifyFailure;
    m->nwrite++;
    mpage *p = &m->pg[pgno];
    if (m->cow && !p->dirty) {
        uint8_t *copy = xrealloc(NULL, m->ps);
        memcpy(copy, p->img, m->ps);
        memset(p->img + 16, 0xDB, m->ps - 16);
        push_grave(m, p->img);
        p->img = copy;
        mark_dirty(m, pgno);
    }
    *page = p->img;
    return 0;
}

static int m_alloc(void *ctx, uint32_t *pgno, uint8_t **page)
{
    memio *m = ctx;
    if (m->alloc_budget == 0)
        return JET_errDiskFull;
    if (m->alloc_budget > 0)
        m->alloc_budget--;
    m->nalloc++;
    uint32_t n;
    if (m->nfree) {
        n = m->freel[--m->nfree];
    } else {
        if (m->npg == m->cap) {
            m->cap = m->cap ? 2 * m->cap : 64;
            m->pg = xrealloc(m->pg, m->cap * sizeof *m->pg);
        }
        n = (uint32_t)m->npg++;
        m->pg[n].img = xrealloc(NULL, m->ps);
    }
    mpage *p = &m->pg[n];
    memset(p->img, 0, m->ps);
    stamp(p->img, n);
    p->live = true;
    p->dirty = false;
    if (m->cow)
        mark_dirty(m, n);
    m->live++;
    *pgno = n;
    *page = p->img;
    return 0;
}

static int m_free(void *ctx, uint32_t pgno)
{
    memio *m = ctx;
    if (pgno == 0 || pgno >= m->npg || !m->pg[pgno].live) {
        m->misuse++;
        return JET_errInternalError;
    }
    m->nfree_calls++;
    m->pg[pgno].live = false;
    memset(m->pg[pgno].img + 16, 0xEF, m->ps - 16);
    if (m->nfree == m->freecap) {
        m->freecap = m->freecap ? 2 * m->freecap : 64;
        m->freel = xrealloc(m->freel, m->freecap * sizeof *m->freel);
    }
    m->freel[m->nfree++] = pgno;
    m->live--;
    return 0;
}

static memio *mio_new(uint32_t ps, bool cow)
{
    memio *m = calloc(1, sizeof *m);
    if (!m)
        abort();
    m->ps = ps;
    m->cow = cow;
    m->alloc_budget = -1;
    m->npg = 1;
    m->cap = 64;
    m->pg = xrealloc(NULL, m->cap * sizeof *m->pg);
    memset(&m->pg[0], 0, sizeof m->pg[0]);
    m->io = (eng_pageio){m, ps, m_read, m_write, m_alloc, m_free, m_corrupt};
    return m;
}

/* End of one B+tree call: stale images can go, and the next call gets fresh private copies. */
static void mio_end(memio *m)
{
    for (size_t i = 0; i < m->ngrave; i++)
        free(m->grave[i]);
    m->ngrave = 0;
    for (size_t i = 0; i < m->ndirty; i++)
        m->pg[m->dirtyl[i]].dirty = false;
    m->ndirty = 0;
}

static void mio_free(memio *m)
{
    mio_end(m);
    for (size_t i = 1; i < m->npg; i++)
        free(m->pg[i].img);
    free(m->pg);
    free(m->freel);
    free(m->grave);
    free(m->dirtyl);
    free(m);
}

/* A deep copy, for "discard everything this call did" (what the transaction layer does). */
static memio *mio_snapshot(const memio *m)
{
    memio *s = mio_new(m->ps, m->cow);
    free(s->pg);
    *s = *m;
    s->io.ctx = s;
    s->pg = xrealloc(NULL, m->cap * sizeof *m->pg);
    for (size_t i = 0; i < m->npg; i++) {
        s->pg[i] = m->pg[i];
        if (i) {
            s->pg[i].img = xrealloc(NULL, m->ps);
            memcpy(s->pg[i].img, m->pg[i].img, m->ps);
        }
    }
    s->freel = xrealloc(NULL, (m->freecap ? m->freecap : 1) * sizeof *m->freel);
    if (m->nfree)
        memcpy(s->freel, m->freel, m->nfree * sizeof *m->freel);
    s->grave = NULL;
    s->ngrave = s->gravecap = 0;
    s->dirtyl = NULL;
    s->ndirty = s->dirtycap = 0;
    return s;
}

static size_t count_type(const memio *m, uint8_t type)
{
    size_t n = 0;
    for (size_t i = 1; i < m->npg; i++)
        n += m->pg[i].live && m->pg[i].img[16] == type;
    return n;
}

static void assert_pager_bytes(const memio *m)
{
    for (uint32_t i = 1; i < m->npg; i++)
        if (m->pg[i].live)
            ck_assert_msg(stamp_ok(m->pg[i].img, i), "bytes 0..15 of page %u changed", i);
    ck_assert_int_eq(m->misuse, 0);
}

static unsigned long mutations(const memio *m)
{
    return m->nwrite + m->nalloc + m->nfree_calls;
}

/* Every call ends the "transaction call" so stale pointers are released. */
static int t_put(memio *m, uint32_t root, const void *k, size_t kl, const void *v, size_t vl, int no)
{
    int rc = bt_put(&m->io, root, k, kl, v, vl, no);
    mio_end(m);
    return rc;
}
static int t_get(memio *m, uint32_t root, const void *k, size_t kl, void *buf, size_t cb, size_t *vl)
{
    int rc = bt_get(&m->io, root, k, kl, buf, cb, vl);
    mio_end(m);
    return rc;
}
static int t_del(memio *m, uint32_t root, const void *k, size_t kl)
{
    int rc = bt_delete(&m->io, root, k, kl);
    mio_end(m);
    return rc;
}
static int t_seek(memio *m, uint32_t root, const void *k, size_t kl, enum bt_seek_op op, uint8_t *out,
                  size_t *outl)
{
    int rc = bt_seek(&m->io, root, k, kl, op, out, outl);
    mio_end(m);
    return rc;
}
static int t_check(memio *m, uint32_t root, uint64_t *n)
{
    int rc = bt_check(&m->io, root, n);
    mio_end(m);
    return rc;
}
static uint32_t t_create(memio *m)
{
    uint32_t root = 0;
    ck_assert_int_eq(bt_create(&m->io, &root), 0);
    mio_end(m);
    return root;
}

/* ---------------------------------------------------------------------------------------------
 * Reference model: a sorted array
 * ------------------------------------------------------------------------------------------- */
typedef struct ent {
    uint8_t *k, *v;
    size_t kl, vl;
} ent;
typedef struct model {
    ent *e;
    size_t n, cap;
} model;

static int keycmp(const uint8_t *a, size_t al, const uint8_t *b, size_t bl)
{
    size_t n = al < bl ? al : bl;
    int c = n ? memcmp(a, b, n) : 0;
    return c ? c : (al > bl) - (al < bl);
}

static size_t model_lb(const model *md, const uint8_t *k, size_t kl, bool *eq)
{
    size_t lo = 0, hi = md->n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (keycmp(md->e[mid].k, md->e[mid].kl, k, kl) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    *eq = lo < md->n && keycmp(md->e[lo].k, md->e[lo].kl, k, kl) == 0;
    return lo;
}

static uint8_t *dup(const void *p, size_t n)
{
    uint8_t *d = xrealloc(NULL, n ? n : 1);
    if (n)
        memcpy(d, p, n);
    return d;
}

static void model_put(model *md, const uint8_t *k, size_t kl, const uint8_t *v, size_t vl)
{
    bool eq;
    size_t i = model_lb(md, k, kl, &eq);
    if (eq) {
        free(md->e[i].v);
        md->e[i].v = dup(v, vl);
        md->e[i].vl = vl;
        return;
    }
    if (md->n == md->cap) {
        md->cap = md->cap ? 2 * md->cap : 256;
        md->e = xrealloc(md->e, md->cap * sizeof *md->e);
    }
    memmove(md->e + i + 1, md->e + i, (md->n - i) * sizeof *md->e);
    md->e[i] = (ent){dup(k, kl), dup(v, vl), kl, vl};
    md->n++;
}

static void model_del(model *md, size_t i)
{
    free(md->e[i].k);
    free(md->e[i].v);
    memmove(md->e + i, md->e + i + 1, (md->n - i - 1) * sizeof *md->e);
    md->n--;
}

static void model_free(model *md)
{
    while (md->n)
        model_del(md, md->n - 1);
    free(md->e);
}

/* Index the model says a seek lands on, or -1 for RecordNotFound. */
static long model_seek(const model *md, const uint8_t *k, size_t kl, enum bt_seek_op op)
{
    bool eq;
    long i = (long)model_lb(md, k, kl, &eq), n = (long)md->n;
    switch (op) {
    case BT_SEEK_EQ:
        return eq ? i : -1;
    case BT_SEEK_GE:
        return i < n ? i : -1;
    case BT_SEEK_GT:
        i += eq;
        return i < n ? i : -1;
    case BT_SEEK_LE:
        return eq ? i : i - 1;
    case BT_SEEK_LT:
        return i - 1;
    }
    return -1;
}

/* ---------------------------------------------------------------------------------------------
 * Shared assertions
 * ------------------------------------------------------------------------------------------- */
static void assert_value(memio *m, uint32_t root, const void *k, size_t kl, const void *v, size_t vl)
{
    uint8_t *buf = xrealloc(NULL, vl + 1);
    size_t got = 0;
    ck_assert_int_eq(t_get(m, root, k, kl, buf, vl + 1, &got), 0);
    ck_assert_uint_eq(got, vl);
    ck_assert(vl == 0 || memcmp(buf, v, vl) == 0);
    free(buf);
}

/* The whole tree equals the model: forward with GE/GT, backward with LE/LT, every value. */
static void assert_same(memio *m, uint32_t root, const model *md)
{
    uint64_t nrec = 0;
    ck_assert_int_eq(t_check(m, root, &nrec), 0);
    ck_assert_uint_eq(nrec, md->n);
    uint8_t key[2000];
    size_t kl = 0;
    int rc = t_seek(m, root, NULL, 0, BT_SEEK_GE, key, &kl);
    for (size_t i = 0; i < md->n; i++) {
        ck_assert_int_eq(rc, 0);
        ck_assert_int_eq(keycmp(key, kl, md->e[i].k, md->e[i].kl), 0);
        assert_value(m, root, md->e[i].k, md->e[i].kl, md->e[i].v, md->e[i].vl);
        uint8_t cur[2000];
        memcpy(cur, key, kl);
        rc = t_seek(m, root, cur, kl, BT_SEEK_GT, key, &kl);
    }
    ck_assert_int_eq(rc, JET_errRecordNotFound);
    rc = t_seek(m, root, NULL, 0, BT_SEEK_LE, key, &kl);
    for (size_t i = md->n; i-- > 0;) {
        ck_assert_int_eq(rc, 0);
        ck_assert_int_eq(keycmp(key, kl, md->e[i].k, md->e[i].kl), 0);
        uint8_t cur[2000];
        memcpy(cur, key, kl);
        rc = t_seek(m, root, cur, kl, BT_SEEK_LT, key, &kl);
    }
    ck_assert_int_eq(rc, JET_errRecordNotFound);
    assert_pager_bytes(m);
}

/* Keys from a small alphabet so that prefixes, repeats and long shared prefixes are common. */
static size_t rand_key(unsigned long long *s, uint8_t *k, size_t kmax)
{
    unsigned r = (unsigned)(tu_rand(s) % 100);
    size_t len;
    if (r < 70)
        len = 1 + tu_rand(s) % 6;
    else if (r < 92)
        len = 7 + tu_rand(s) % 60;
    else
        len = 67 + tu_rand(s) % (kmax - 66);
    static const uint8_t alpha[] = {0x00, 'a', 'b', 0xff};
    for (size_t i = 0; i < len; i++)
        k[i] = alpha[tu_rand(s) % 4];
    return len;
}

static size_t rand_vlen(unsigned long long *s, uint32_t ps, size_t kl)
{
    unsigned r = (unsigned)(tu_rand(s) % 100);
    size_t lim = inline_max_vlen(ps, kl);
    if (r < 60)
        return tu_rand(s) % 40;
    if (r < 80)
        return tu_rand(s) % (lim + 1);
    if (r < 95)
        return lim - 2 + tu_rand(s) % 5;
    return lim + tu_rand(s) % (3 * ps);
}

/* ---------------------------------------------------------------------------------------------
 * Randomized operations against the model
 * ------------------------------------------------------------------------------------------- */
static void random_ops(uint32_t ps, unsigned long long seed, int nops)
{
    unsigned long long s = seed;
    memio *m = mio_new(ps, true);
    m->validate = true; /* what the B+tree writes must pass the check pages get on a read */
    uint32_t root = t_create(m);
    model md = {0};
    size_t kmax = bt_key_max(ps);
    uint8_t key[2001], out[2000];
    uint8_t *val = xrealloc(NULL, 4 * (size_t)ps + 8192);
    uint8_t *buf = xrealloc(NULL, 4 * (size_t)ps + 8192);
    for (int op = 0; op < nops; op++) {
        size_t kl;
        if (md.n && tu_rand(&s) % 2) {
            const ent *e = &md.e[tu_rand(&s) % md.n];
            kl = e->kl;
            memcpy(key, e->k, kl);
        } else {
            kl = rand_key(&s, key, kmax);
        }
        bool eq;
        size_t at = model_lb(&md, key, kl, &eq);
        unsigned what = (unsigned)(tu_rand(&s) % 100);
        unsigned long before = mutations(m);
        if (what < 45) {
            int no = what >= 35;
            size_t vl = rand_vlen(&s, ps, kl);
            for (size_t i = 0; i < vl; i++)
                val[i] = (uint8_t)tu_rand(&s);
            int rc = t_put(m, root, key, kl, val, vl, no);
            if (no && eq) {
                ck_assert_int_eq(rc, JET_errKeyDuplicate);
                ck_assert_uint_eq(mutations(m), before);
            } else {
                ck_assert_int_eq(rc, 0);
                model_put(&md, key, kl, val, vl);
            }
        } else if (what < 65) {
            int rc = t_del(m, root, key, kl);
            if (eq) {
                ck_assert_int_eq(rc, 0);
                model_del(&md, at);
            } else {
                ck_assert_int_eq(rc, JET_errRecordNotFound);
                ck_assert_uint_eq(mutations(m), before);
            }
        } else if (what < 80) {
            size_t vl = 0;
            int rc = t_get(m, root, key, kl, buf, 4 * (size_t)ps + 8192, &vl);
            if (eq) {
                ck_assert_int_eq(rc, 0);
                ck_assert_uint_eq(vl, md.e[at].vl);
                ck_assert(vl == 0 || memcmp(buf, md.e[at].v, vl) == 0);
            } else {
                ck_assert_int_eq(rc, JET_errRecordNotFound);
            }
        } else {
            enum bt_seek_op sop = (enum bt_seek_op)(tu_rand(&s) % 5);
            bool from_edge = tu_rand(&s) % 10 == 0;
            if (from_edge) {
                sop = tu_rand(&s) % 2 ? BT_SEEK_GE : BT_SEEK_LE;
                kl = 0;
            }
            size_t ol = 0;
            int rc = t_seek(m, root, from_edge ? NULL : key, kl, sop, out, &ol);
            long want = from_edge ? (md.n ? (sop == BT_SEEK_GE ? 0 : (long)md.n - 1) : -1)
                                  : model_seek(&md, key, kl, sop);
            if (want < 0) {
                ck_assert_int_eq(rc, JET_errRecordNotFound);
            } else {
                ck_assert_int_eq(rc, 0);
                ck_assert_int_eq(keycmp(out, ol, md.e[want].k, md.e[want].kl), 0);
            }
        }
        ck_assert_uint_eq(m->ngrave, 0);
        if (op % 300 == 299) {
            uint64_t nrec = 0;
            ck_assert_int_eq(t_check(m, root, &nrec), 0);
            ck_assert_uint_eq(nrec, md.n);
            assert_pager_bytes(m);
        }
    }
    assert_same(m, root, &md);

    /* Delete everything in random order: only the root is left, as an empty leaf. */
    while (md.n) {
        size_t i = tu_rand(&s) % md.n;
        ck_assert_int_eq(t_del(m, root, md.e[i].k, md.e[i].kl), 0);
        model_del(&md, i);
        if (md.n % 500 == 0)
            ck_assert_int_eq(t_check(m, root, NULL), 0);
    }
    ck_assert_uint_eq(m->live, 1);
    ck_assert_int_eq(t_seek(m, root, NULL, 0, BT_SEEK_GE, out, &(size_t){0}), JET_errRecordNotFound);
    ck_assert_int_eq(bt_destroy(&m->io, root), 0);
    mio_end(m);
    ck_assert_uint_eq(m->live, 0);
    assert_pager_bytes(m);
    model_free(&md);
    free(val);
    free(buf);
    mio_free(m);
}

START_TEST(random_ops_4k)
{
    unsigned long long seed = tu_seed("btree random_ops_4k");
    for (int i = 0; i < 4; i++)
        random_ops(4096, seed + 0x1000193ULL * (unsigned long long)i, 5000);
}
END_TEST

START_TEST(random_ops_32k)
{
    unsigned long long seed = tu_seed("btree random_ops_32k");
    for (int i = 0; i < 3; i++)
        random_ops(32768, seed + 0x1000193ULL * (unsigned long long)i, 5000);
}
END_TEST

START_TEST(random_ops_8k_16k)
{
    unsigned long long seed = tu_seed("btree random_ops_8k_16k");
    random_ops(8192, seed, 3000);
    random_ops(16384, seed + 1, 3000);
}
END_TEST

/* ---------------------------------------------------------------------------------------------
 * Keys and values at their limits
 * ------------------------------------------------------------------------------------------- */
static void make_key(uint8_t *k, size_t len, size_t salt)
{
    for (size_t i = 0; i < len; i++)
        k[i] = (uint8_t)((salt * 31 + i * 7) % 251);
}

static void key_lengths(uint32_t ps)
{
    memio *m = mio_new(ps, true);
    m->validate = true; /* what the B+tree writes must pass the check pages get on a read */
    uint32_t root = t_create(m);
    size_t kmax = bt_key_max(ps);
    ck_assert_uint_eq(kmax, ps == 4096 ? 1000 : 2000);
    uint8_t k[2002], v[8];
    for (size_t len = 1; len <= kmax; len++) {
        make_key(k, len, len);
        memcpy(v, &len, sizeof len);
        ck_assert_int_eq(t_put(m, root, k, len, v, sizeof len, 1), 0);
    }
    uint64_t n = 0;
    ck_assert_int_eq(t_check(m, root, &n), 0);
    ck_assert_uint_eq(n, kmax);
    for (size_t len = 1; len <= kmax; len++) {
        size_t got = 0, vl = 0;
        make_key(k, len, len);
        ck_assert_int_eq(t_get(m, root, k, len, &got, sizeof got, &vl), 0);
        ck_assert_uint_eq(vl, sizeof len);
        ck_assert_uint_eq(got, len);
        uint8_t out[2000];
        size_t ol = 0;
        ck_assert_int_eq(t_seek(m, root, k, len, BT_SEEK_EQ, out, &ol), 0);
        ck_assert_uint_eq(ol, len);
        ck_assert_mem_eq(out, k, len);
    }

    /* A longest key with a value just inline, and with one that goes to an overflow chain. */
    make_key(k, kmax, 9999);
    size_t lim = inline_max_vlen(ps, kmax);
    uint8_t *big = calloc(1, lim + 1);
    size_t live0 = m->live;
    ck_assert_int_eq(t_put(m, root, k, kmax, big, lim, 0), 0);
    assert_value(m, root, k, kmax, big, lim);
    ck_assert_int_eq(t_put(m, root, k, kmax, big, lim + 1, 0), 0);
    assert_value(m, root, k, kmax, big, lim + 1);
    ck_assert_int_eq(count_type(m, ENG_PT_OVERFLOW), 1);
    ck_assert_int_eq(t_del(m, root, k, kmax), 0);
    ck_assert_int_eq(count_type(m, ENG_PT_OVERFLOW), 0);
    ck_assert_uint_le(m->live, live0 + 1);
    free(big);

    /* Errors from the arguments alone change nothing. */
    unsigned long before = mutations(m);
    uint8_t out[2000];
    size_t ol = 0, vl = 0;
    make_key(k, kmax + 1, 1);
    ck_assert_int_eq(t_put(m, root, k, kmax + 1, v, 1, 0), JET_errKeyTooBig);
    ck_assert_int_eq(t_get(m, root, k, kmax + 1, v, 1, &vl), JET_errKeyTooBig);
    ck_assert_int_eq(t_del(m, root, k, kmax + 1), JET_errKeyTooBig);
    ck_assert_int_eq(t_seek(m, root, k, kmax + 1, BT_SEEK_GE, out, &ol), JET_errKeyTooBig);
    ck_assert_int_eq(t_put(m, root, k, 0, v, 1, 0), JET_errInvalidParameter);
    ck_assert_int_eq(t_put(m, root, NULL, 3, v, 1, 0), JET_errInvalidParameter);
    ck_assert_int_eq(t_put(m, root, k, 3, NULL, 1, 0), JET_errInvalidParameter);
    ck_assert_int_eq(t_get(m, root, k, 0, v, 1, &vl), JET_errInvalidParameter);
    ck_assert_int_eq(t_del(m, root, k, 0), JET_errInvalidParameter);
    ck_assert_int_eq(t_seek(m, root, k, 0, BT_SEEK_EQ, out, &ol), JET_errInvalidParameter);
    ck_assert_int_eq(t_seek(m, root, NULL, 0, BT_SEEK_GT, out, &ol), JET_errInvalidParameter);
    ck_assert_int_eq(t_seek(m, root, NULL, 0, BT_SEEK_LT, out, &ol), JET_errInvalidParameter);
    ck_assert_int_eq(t_seek(m, root, NULL, 5, BT_SEEK_GE, out, &ol), JET_errInvalidParameter);
    ck_assert_int_eq(t_seek(m, root, k, 1, (enum bt_seek_op)77, out, &ol), JET_errInvalidParameter);
    make_key(k, 5, 5);
    ck_assert_int_eq(t_put(m, root, k, 5, v, 1, 1), JET_errKeyDuplicate);
    make_key(k, 5, 6);
    ck_assert_int_eq(t_del(m, root, k, 5), JET_errRecordNotFound);
    ck_assert_int_eq(t_get(m, root, k, 5, NULL, 0, NULL), JET_errRecordNotFound);
    ck_assert_uint_eq(mutations(m), before);

    ck_assert_int_eq(bt_destroy(&m->io, root), 0);
    mio_end(m);
    ck_assert_uint_eq(m->live, 0);
    assert_pager_bytes(m);
    mio_free(m);
}

START_TEST(key_lengths_4k)
{
    key_lengths(4096);
}
END_TEST

START_TEST(key_lengths_8k)
{
    key_lengths(8192);
}
END_TEST

static void value_sizes(uint32_t ps)
{
    memio *m = mio_new(ps, true);
    m->validate = true; /* what the B+tree writes must pass the check pages get on a read */
    uint32_t root = t_create(m);
    unsigned long long s = tu_seed("btree value_sizes");
    const size_t mib = (size_t)1 << 20;
    uint8_t *v = xrealloc(NULL, mib), *buf = xrealloc(NULL, mib + 1);
    for (size_t i = 0; i < mib; i++)
        v[i] = (uint8_t)tu_rand(&s);
    size_t lim = inline_max_vlen(ps, 1);
    size_t sizes[] = {0, 1, lim - 1, lim, lim + 1, ps - BT_OVF_DATA, ps - BT_OVF_DATA + 1, mib};
    for (size_t i = 0; i < sizeof sizes / sizeof *sizes; i++) {
        size_t vl = sizes[i];
        uint8_t k = (uint8_t)i;
        ck_assert_int_eq(t_put(m, root, &k, 1, v, vl, 1), 0);
        ck_assert_uint_eq(m->live, 1 + (vl > lim ? ovf_pages(ps, vl) : 0));
        assert_value(m, root, &k, 1, v, vl);
        /* A short buffer gets a prefix and the full length; a zero one only the length. */
        size_t got = 0;
        memset(buf, 0x55, vl / 2 + 1);
        ck_assert_int_eq(t_get(m, root, &k, 1, buf, vl / 2, &got), 0);
        ck_assert_uint_eq(got, vl);
        ck_assert(memcmp(buf, v, vl / 2) == 0 && buf[vl / 2] == 0x55);
        ck_assert_int_eq(t_get(m, root, &k, 1, NULL, 0, &got), 0);
        ck_assert_uint_eq(got, vl);
        ck_assert_int_eq(t_del(m, root, &k, 1), 0);
        ck_assert_uint_eq(m->live, 1);
    }
    free(v);
    free(buf);
    ck_assert_int_eq(bt_destroy(&m->io, root), 0);
    mio_end(m);
    mio_free(m);
}

START_TEST(value_sizes_4k)
{
    value_sizes(4096);
}
END_TEST

START_TEST(value_sizes_32k)
{
    value_sizes(32768);
}
END_TEST

START_TEST(value_64mib)
{
    memio *m = mio_new(4096, false);
    uint32_t root = t_create(m);
    uint8_t *v = xrealloc(NULL, BT_VALUE_MAX + 1);
    for (size_t i = 0; i < BT_VALUE_MAX + 1; i++)
        v[i] = (uint8_t)(i * 2654435761u >> 13);
    unsigned long before = mutations(m);
    ck_assert_int_eq(t_put(m, root, "big", 3, v, BT_VALUE_MAX + 1, 0), JET_errRecordTooBig);
    ck_assert_uint_eq(mutations(m), before);
    ck_assert_int_eq(t_put(m, root, "big", 3, v, BT_VALUE_MAX, 0), 0);
    ck_assert_uint_eq(m->live, 1 + ovf_pages(4096, BT_VALUE_MAX));
    uint8_t *buf = xrealloc(NULL, BT_VALUE_MAX);
    size_t got = 0;
    ck_assert_int_eq(t_get(m, root, "big", 3, buf, BT_VALUE_MAX, &got), 0);
    ck_assert_uint_eq(got, BT_VALUE_MAX);
    ck_assert(memcmp(buf, v, BT_VALUE_MAX) == 0);
    free(buf);
    ck_assert_int_eq(t_check(m, root, NULL), 0);
    ck_assert_int_eq(t_put(m, root, "big", 3, v, BT_VALUE_MAX + 1, 0), JET_errRecordTooBig);
    ck_assert_int_eq(t_put(m, root, "big", 3, "x", 1, 0), 0);
    ck_assert_uint_eq(m->live, 1);
    free(v);
    ck_assert_int_eq(bt_destroy(&m->io, root), 0);
    mio_end(m);
    ck_assert_uint_eq(m->live, 0);
    mio_free(m);
}
END_TEST

/* ---------------------------------------------------------------------------------------------
 * Page accounting
 * ------------------------------------------------------------------------------------------- */
static void be32(uint8_t *k, uint32_t v)
{
    k[0] = (uint8_t)(v >> 24);
    k[1] = (uint8_t)(v >> 16);
    k[2] = (uint8_t)(v >> 8);
    k[3] = (uint8_t)v;
}

static void bulk_fill(uint32_t ps)
{
    memio *m = mio_new(ps, false);
    m->validate = true; /* what the B+tree writes must pass the check pages get on a read */
    uint32_t root = t_create(m);
    const uint32_t n = 100000;
    uint8_t k[8] = {0}, v[24];
    for (uint32_t i = 0; i < n; i++) {
        be32(k + 4, i);
        memset(v, (int)i, sizeof v);
        ck_assert_int_eq(t_put(m, root, k, sizeof k, v, sizeof v, 1), 0);
    }
    uint64_t nrec = 0;
    ck_assert_int_eq(t_check(m, root, &nrec), 0);
    ck_assert_uint_eq(nrec, n);
    /* Per record: 8-byte key, 24-byte value, 6-byte cell header, 2-byte slot. */
    double leaves = (double)count_type(m, ENG_PT_LEAF);
    double fill = n * (8.0 + 24 + BT_CELL_HDR + 2) / (leaves * (ps - BT_HDR));
    fprintf(stderr, "bulk %u: %zu pages (%.0f leaves, %zu internal), leaf fill %.3f\n", ps, m->live,
            leaves, count_type(m, ENG_PT_INTERNAL), fill);
    ck_assert_msg(fill >= 0.85, "leaf fill %.3f", fill);
    /* Internal pages fill up too: an internal cell is at most 6 + 8 bytes plus its slot. */
    size_t fanout = (ps - BT_HDR) / (BT_CELL_HDR + 8 + 2);
    size_t ideal_internal = ((size_t)leaves + fanout - 1) / fanout + 1;
    ck_assert_uint_le(count_type(m, ENG_PT_INTERNAL), ideal_internal);
    ck_assert_uint_eq(m->live, count_type(m, ENG_PT_LEAF) + count_type(m, ENG_PT_INTERNAL));
    for (uint32_t i = 0; i < n; i += 997) {
        be32(k + 4, i);
        uint8_t got[24];
        size_t vl = 0;
        ck_assert_int_eq(t_get(m, root, k, sizeof k, got, sizeof got, &vl), 0);
        ck_assert_uint_eq(vl, 24);
        ck_assert_uint_eq(got[23], (uint8_t)i);
    }
    ck_assert_int_eq(bt_destroy(&m->io, root), 0);
    mio_end(m);
    ck_assert_uint_eq(m->live, 0);
    mio_free(m);
}

START_TEST(bulk_sequential_fill)
{
    bulk_fill(4096);
    bulk_fill(32768);
}
END_TEST

START_TEST(delete_all_no_leaks)
{
    unsigned long long s = tu_seed("btree delete_all_no_leaks");
    memio *m = mio_new(4096, true);
    m->validate = true; /* what the B+tree writes must pass the check pages get on a read */
    uint32_t root = t_create(m);
    const uint32_t n = 20000;
    uint32_t *order = xrealloc(NULL, n * sizeof *order);
    uint8_t k[4], v[6000];
    memset(v, 0x3c, sizeof v);
    for (int round = 0; round < 2; round++) {
        for (uint32_t i = 0; i < n; i++)
            order[i] = i;
        for (uint32_t i = n - 1; i > 0; i--) {
            uint32_t j = (uint32_t)(tu_rand(&s) % (i + 1)), t = order[i];
            order[i] = order[j];
            order[j] = t;
        }
        for (uint32_t i = 0; i < n; i++) {
            be32(k, order[i]);
            size_t vl = order[i] % 50 == 0 ? 5000 + order[i] % 1000 : order[i] % 100;
            ck_assert_int_eq(t_put(m, root, k, 4, v, vl, 1), 0);
        }
        ck_assert_int_eq(t_check(m, root, NULL), 0);
        ck_assert_uint_gt(count_type(m, ENG_PT_INTERNAL), 1);
        /* Random order with byte-balanced splits: leaves end up about ln 2 full. */
        double bytes = 0;
        for (uint32_t i = 0; i < n; i++)
            bytes += 4 + BT_CELL_HDR + 2 + (i % 50 == 0 ? 4 : i % 100);
        double fill = bytes / ((double)count_type(m, ENG_PT_LEAF) * (4096 - BT_HDR));
        ck_assert_msg(fill > 0.6 && fill < 0.8, "random-order leaf fill %.3f", fill);
        /* Second round deletes in key order, which empties leaves from the left. */
        for (uint32_t i = 0; i < n; i++) {
            be32(k, round ? i : order[i]);
            ck_assert_int_eq(t_del(m, root, k, 4), 0);
            if (i % 4000 == 0)
                ck_assert_int_eq(t_check(m, root, NULL), 0);
        }
        ck_assert_uint_eq(m->live, 1);
        ck_assert_uint_eq(count_type(m, ENG_PT_LEAF), 1);
        ck_assert_uint_eq(m->pg[root].img[16], ENG_PT_LEAF);
        uint64_t nrec = 1;
        ck_assert_int_eq(t_check(m, root, &nrec), 0);
        ck_assert_uint_eq(nrec, 0);
    }
    /* All but one record gone: the root takes over its single child level by level, so the
     * tree is one leaf again. */
    for (uint32_t i = 0; i < n; i++) {
        be32(k, i);
        ck_assert_int_eq(t_put(m, root, k, 4, v, 200, 1), 0);
    }
    ck_assert_uint_gt(count_type(m, ENG_PT_INTERNAL), 1);
    for (uint32_t i = 0; i < n; i++) {
        be32(k, order[i]);
        if (order[i] != n / 2)
            ck_assert_int_eq(t_del(m, root, k, 4), 0);
    }
    ck_assert_uint_eq(m->live, 1);
    be32(k, n / 2);
    assert_value(m, root, k, 4, v, 200);
    ck_assert_int_eq(bt_destroy(&m->io, root), 0);
    mio_end(m);
    ck_assert_uint_eq(m->live, 0);
    assert_pager_bytes(m);
    free(order);
    mio_free(m);
}
END_TEST

START_TEST(overflow_replace)
{
    const uint32_t ps = 4096;
    memio *m = mio_new(ps, true);
    m->validate = true; /* what the B+tree writes must pass the check pages get on a read */
    uint32_t root = t_create(m);
    static uint8_t v[20016];
    for (size_t i = 0; i < sizeof v; i++)
        v[i] = (uint8_t)(i * 13);
    /* Long to short and back, chains growing and shrinking, exactly one page and one byte more. */
    static const size_t steps[] = {10000, 10, 20000, 5000, 5001, 0, 4069, 4068, 1000, 12000};
    for (size_t i = 0; i < sizeof steps / sizeof *steps; i++) {
        size_t vl = steps[i];
        ck_assert_int_eq(t_put(m, root, "key", 3, v + i, vl, 0), 0);
        size_t want = 1 + (vl > inline_max_vlen(ps, 3) ? ovf_pages(ps, vl) : 0);
        ck_assert_uint_eq(m->live, want);
        assert_value(m, root, "key", 3, v + i, vl);
        unsigned long before = mutations(m);
        ck_assert_int_eq(t_put(m, root, "key", 3, v, 1, 1), JET_errKeyDuplicate);
        ck_assert_uint_eq(mutations(m), before);
        ck_assert_uint_eq(m->live, want);
    }
    ck_assert_int_eq(t_del(m, root, "key", 3), 0);
    ck_assert_uint_eq(m->live, 1);

    /* Many long values across leaf splits, then all shortened: no overflow page survives. */
    uint8_t k[4];
    for (uint32_t i = 0; i < 300; i++) {
        be32(k, i * 7919 % 300);
        ck_assert_int_eq(t_put(m, root, k, 4, v, 3000 + i, 0), 0);
    }
    ck_assert_uint_eq(count_type(m, ENG_PT_OVERFLOW), 300);
    for (uint32_t i = 0; i < 300; i++) {
        be32(k, i);
        ck_assert_int_eq(t_put(m, root, k, 4, v, 8, 0), 0);
    }
    ck_assert_uint_eq(count_type(m, ENG_PT_OVERFLOW), 0);
    ck_assert_uint_eq(m->live, count_type(m, ENG_PT_LEAF) + count_type(m, ENG_PT_INTERNAL));
    for (uint32_t i = 0; i < 300; i++) {
        be32(k, i);
        ck_assert_int_eq(t_put(m, root, k, 4, v, 9000, 0), 0);
    }
    ck_assert_uint_eq(count_type(m, ENG_PT_OVERFLOW), 300 * ovf_pages(ps, 9000));
    ck_assert_int_eq(t_check(m, root, NULL), 0);
    ck_assert_int_eq(bt_destroy(&m->io, root), 0);
    mio_end(m);
    ck_assert_uint_eq(m->live, 0);
    assert_pager_bytes(m);
    mio_free(m);
}
END_TEST

START_TEST(two_trees_share_pages)
{
    memio *m = mio_new(4096, true);
    m->validate = true; /* what the B+tree writes must pass the check pages get on a read */
    uint32_t a = t_create(m), b = t_create(m);
    uint8_t k[4];
    for (uint32_t i = 0; i < 5000; i++) {
        be32(k, i);
        ck_assert_int_eq(t_put(m, a, k, 4, "A", 1, 1), 0);
        be32(k, 5000 - i);
        ck_assert_int_eq(t_put(m, b, k, 4, "BB", 2, 1), 0);
        if (i % 3 == 0) {
            be32(k, i / 3);
            ck_assert_int_eq(t_del(m, a, k, 4), 0);
        }
    }
    uint64_t na = 0, nb = 0;
    ck_assert_int_eq(t_check(m, a, &na), 0);
    ck_assert_int_eq(t_check(m, b, &nb), 0);
    ck_assert_uint_eq(na, 5000 - 1667);
    ck_assert_uint_eq(nb, 5000);
    ck_assert_int_eq(bt_destroy(&m->io, a), 0);
    mio_end(m);
    size_t live_b = m->live;
    ck_assert_int_eq(t_check(m, b, &nb), 0);
    ck_assert_uint_eq(nb, 5000);
    ck_assert_int_eq(bt_destroy(&m->io, b), 0);
    mio_end(m);
    ck_assert_uint_gt(live_b, 0);
    ck_assert_uint_eq(m->live, 0);
    mio_free(m);
}
END_TEST

/* ---------------------------------------------------------------------------------------------
 * Seek semantics
 * ------------------------------------------------------------------------------------------- */
static void expect_seek(memio *m, uint32_t root, const char *k, size_t kl, enum bt_seek_op op,
                        const char *want, size_t wl)
{
    uint8_t out[2000];
    size_t ol = 0;
    int rc = t_seek(m, root, k, kl, op, out, &ol);
    if (!want) {
        ck_assert_msg(rc == JET_errRecordNotFound, "op %d key %.*s: rc %d", op, (int)kl, k, rc);
        return;
    }
    ck_assert_msg(rc == 0, "op %d key %.*s: rc %d", op, (int)kl, k, rc);
    ck_assert_msg(ol == wl && memcmp(out, want, wl) == 0, "op %d key %.*s: got %.*s want %.*s", op,
                  (int)kl, k, (int)ol, out, (int)wl, want);
}
#define SEEK(k, op, want) expect_seek(m, root, k, sizeof k - 1, BT_SEEK_##op, want, sizeof want - 1)
#define SEEK_NF(k, op) expect_seek(m, root, k, sizeof k - 1, BT_SEEK_##op, NULL, 0)

START_TEST(seek_small_tree)
{
    memio *m = mio_new(4096, true);
    m->validate = true; /* what the B+tree writes must pass the check pages get on a read */
    uint32_t root = t_create(m);
    static const enum bt_seek_op ops[] = {BT_SEEK_EQ, BT_SEEK_LT, BT_SEEK_LE, BT_SEEK_GE, BT_SEEK_GT};
    for (int i = 0; i < 5; i++)
        expect_seek(m, root, "m", 1, ops[i], NULL, 0);
    expect_seek(m, root, NULL, 0, BT_SEEK_GE, NULL, 0);
    expect_seek(m, root, NULL, 0, BT_SEEK_LE, NULL, 0);

    const char *keys[] = {"b", "ba", "bab", "bb", "d", "\xff", "\xff\xff"};
    for (int i = 0; i < 7; i++)
        ck_assert_int_eq(t_put(m, root, keys[i], strlen(keys[i]), "v", 1, 1), 0);
    SEEK_NF("a", EQ);
    SEEK_NF("a", LT);
    SEEK_NF("a", LE);
    SEEK("a", GE, "b");
    SEEK("a", GT, "b");
    SEEK("b", EQ, "b");
    SEEK_NF("b", LT);
    SEEK("b", LE, "b");
    SEEK("b", GE, "b");
    SEEK("b", GT, "ba");
    SEEK("ba", GT, "bab");
    SEEK("ba", LT, "b");
    SEEK("baa", LE, "ba");
    SEEK("baa", GE, "bab");
    SEEK("bac", LE, "bab");
    SEEK("bac", GE, "bb");
    SEEK_NF("bac", EQ);
    SEEK("c", LT, "bb");
    SEEK("c", GE, "d");
    SEEK("d", LT, "bb");
    SEEK("d", GT, "\xff");
    SEEK("\xff", LT, "d");
    SEEK("\xff", GT, "\xff\xff");
    SEEK("\xff\xff", EQ, "\xff\xff");
    SEEK("\xff\xff", LE, "\xff\xff");
    SEEK_NF("\xff\xff", GT);
    SEEK_NF("\xff\xff\x00", GE);
    SEEK_NF("\xff\xff\x00", EQ);
    SEEK("\xff\xff\x00", LE, "\xff\xff");
    SEEK("\xff\xff\x00", LT, "\xff\xff");
    expect_seek(m, root, NULL, 0, BT_SEEK_GE, "b", 1);
    expect_seek(m, root, NULL, 0, BT_SEEK_LE, "\xff\xff", 2);
    ck_assert_int_eq(bt_destroy(&m->io, root), 0);
    mio_end(m);
    mio_free(m);
}
END_TEST

/* Seeks that cross leaves, on a deep tree, before and after deletes thin it out. */
START_TEST(seek_across_leaves)
{
    unsigned long long s = tu_seed("btree seek_across_leaves");
    memio *m = mio_new(4096, true);
    m->validate = true; /* what the B+tree writes must pass the check pages get on a read */
    uint32_t root = t_create(m);
    const uint32_t n = 20000;
    bool *present = calloc(2 * n + 2, 1);
    long *prevk = xrealloc(NULL, (2 * n + 2) * sizeof *prevk);
    long *nextk = xrealloc(NULL, (2 * n + 2) * sizeof *nextk);
    uint8_t k[4], v[100] = {0}, out[2000];
    for (uint32_t i = 0; i < n; i++) {
        uint32_t x = 2 * (uint32_t)((i * 7919ULL) % n);
        be32(k, x);
        ck_assert_int_eq(t_put(m, root, k, 4, v, sizeof v, 1), 0);
        present[x] = true;
    }
    for (int pass = 0; pass < 3; pass++) {
        ck_assert_int_eq(t_check(m, root, NULL), 0);
        long first = -1, last = -1;
        for (uint32_t x = 0; x < 2 * n; x++)
            if (present[x]) {
                last = x;
                if (first < 0)
                    first = x;
            }
        /* prevk[x]: largest present key < x; nextk[x]: smallest present key > x. */
        for (long x = 0, p = -1; x < 2 * (long)n + 2; x++) {
            prevk[x] = p;
            if (present[x])
                p = x;
        }
        for (long x = 2 * (long)n + 1, q = -1; x >= 0; x--) {
            nextk[x] = q;
            if (present[x])
                q = x;
        }
        for (uint32_t x = 0; x < 2 * n + 1; x++) {
            be32(k, x);
            long prev = prevk[x], next = nextk[x];
            long want[5] = {present[x] ? (long)x : -1, prev, present[x] ? (long)x : prev,
                            present[x] ? (long)x : next, next};
            for (int op = 0; op < 5; op++) {
                size_t ol = 0;
                int rc = t_seek(m, root, k, 4, (enum bt_seek_op)op, out, &ol);
                if (want[op] < 0) {
                    ck_assert_int_eq(rc, JET_errRecordNotFound);
                } else {
                    ck_assert_int_eq(rc, 0);
                    ck_assert_uint_eq(ol, 4);
                    uint32_t got = (uint32_t)out[0] << 24 | (uint32_t)out[1] << 16 |
                                   (uint32_t)out[2] << 8 | out[3];
                    ck_assert_uint_eq(got, (uint32_t)want[op]);
                }
            }
        }
        size_t ol = 0;
        int rc = t_seek(m, root, NULL, 0, BT_SEEK_GE, out, &ol);
        ck_assert_int_eq(rc, first < 0 ? JET_errRecordNotFound : 0);
        rc = t_seek(m, root, NULL, 0, BT_SEEK_LE, out, &ol);
        ck_assert_int_eq(rc, last < 0 ? JET_errRecordNotFound : 0);
        /* Thin out: whole runs of keys (whole leaves) and random single keys. */
        for (uint32_t x = 0; x < 2 * n; x += 2) {
            bool drop = pass == 0 ? (x / 400) % 3 != 1 : tu_rand(&s) % 4 != 0;
            if (present[x] && drop) {
                be32(k, x);
                ck_assert_int_eq(t_del(m, root, k, 4), 0);
                present[x] = false;
            }
        }
    }
    free(present);
    free(prevk);
    free(nextk);
    ck_assert_int_eq(bt_destroy(&m->io, root), 0);
    mio_end(m);
    ck_assert_uint_eq(m->live, 0);
    mio_free(m);
}
END_TEST

/* ---------------------------------------------------------------------------------------------
 * Damage
 * ------------------------------------------------------------------------------------------- */
static uint32_t build_tree(memio *m, uint32_t n, size_t big_every)
{
    uint32_t root = t_create(m);
    uint8_t k[4], v[9000];
    memset(v, 0x77, sizeof v);
    for (uint32_t i = 0; i < n; i++) {
        be32(k, i * 2654435761u);
        size_t vl = big_every && i % big_every == 0 ? 9000 : 20 + i % 50;
        ck_assert_int_eq(t_put(m, root, k, 4, v, vl, 1), 0);
    }
    return root;
}

static uint32_t find_page(const memio *m, uint8_t type, uint32_t not_this)
{
    for (uint32_t i = 1; i < m->npg; i++)
        if (m->pg[i].live && m->pg[i].img[16] == type && i != not_this)
            return i;
    return 0;
}

START_TEST(damaged_pages)
{
    memio *m = mio_new(4096, true);
    const uint32_t n = 5000;
    uint32_t root = build_tree(m, n, 100);
    uint8_t k[4], buf[9000], out[2000];
    size_t vl, ol;
    uint32_t targets[3] = {find_page(m, ENG_PT_LEAF, root), find_page(m, ENG_PT_OVERFLOW, 0), root};
    for (int t = 0; t < 3; t++) {
        ck_assert_uint_ne(targets[t], 0);
        m->damaged = targets[t];
        int errors = 0;
        for (uint32_t i = 0; i < n; i++) {
            be32(k, i * 2654435761u);
            int rc = t_get(m, root, k, 4, buf, sizeof buf, &vl);
            ck_assert(rc == 0 || rc == JET_errReadVerifyFailure);
            errors += rc != 0;
        }
        if (t == 2)
            ck_assert_int_eq(errors, n);
        else
            ck_assert(errors > 0 && errors < (int)n);
        ck_assert_int_eq(t_check(m, root, NULL), JET_errReadVerifyFailure);
        int rc = t_seek(m, root, NULL, 0, BT_SEEK_GE, out, &ol);
        for (uint32_t i = 0; rc == 0 && i < n + 1; i++)
            rc = t_seek(m, root, out, ol, BT_SEEK_GT, out, &ol);
        ck_assert_int_eq(rc, t == 1 ? JET_errRecordNotFound : JET_errReadVerifyFailure);
        unsigned long frees = m->nfree_calls;
        ck_assert_int_eq(bt_destroy(&m->io, root), JET_errReadVerifyFailure);
        mio_end(m);
        ck_assert_uint_eq(m->nfree_calls, frees);
        /* Modifications meet the damaged page too; run them on a copy and throw it away. */
        memio *c = mio_snapshot(m);
        int perr = 0;
        for (uint32_t i = 0; i < n; i++) {
            be32(k, i * 2654435761u);
            rc = t_put(c, root, k, 4, buf, 30, 0);
            ck_assert(rc == 0 || rc == JET_errReadVerifyFailure);
            perr += rc != 0;
            rc = t_del(c, root, k, 4);
            ck_assert(rc == 0 || rc == JET_errReadVerifyFailure || rc == JET_errRecordNotFound);
        }
        ck_assert_int_gt(perr, 0);
        mio_free(c);
    }
    m->damaged = 0;
    uint64_t nrec = 0;
    ck_assert_int_eq(t_check(m, root, &nrec), 0);
    ck_assert_uint_eq(nrec, n);
    ck_assert_int_eq(bt_destroy(&m->io, root), 0);
    mio_end(m);
    ck_assert_uint_eq(m->live, 0);
    mio_free(m);
}
END_TEST

/* Everything a call may answer on a damaged tree; anything else (or a crash) is a bug. */
static bool rc_allowed(int rc)
{
    return rc == 0 || rc == JET_errDatabaseCorrupted || rc == JET_errRecordNotFound ||
           rc == JET_errKeyDuplicate;
}

static void poke_everything(memio *m, uint32_t root, uint32_t nkeys, unsigned long long *s)
{
    uint8_t k[4], buf[10000], out[2000];
    size_t vl, ol;
    ck_assert(rc_allowed(t_check(m, root, NULL)));
    for (uint32_t i = 0; i < nkeys; i++) {
        be32(k, i * 2654435761u);
        ck_assert(rc_allowed(t_get(m, root, k, 4, buf, sizeof buf, &vl)));
    }
    for (int i = 0; i < 40; i++) {
        be32(k, (uint32_t)(tu_rand(s) % 400) * 2654435761u);
        ck_assert(rc_allowed(t_get(m, root, k, 4, buf, sizeof buf, &vl)));
        ck_assert(rc_allowed(t_seek(m, root, k, 4, (enum bt_seek_op)(i % 5), out, &ol)));
    }
    int rc = t_seek(m, root, NULL, 0, BT_SEEK_GE, out, &ol);
    for (int i = 0; rc == 0 && i < 1000; i++)
        rc = t_seek(m, root, out, ol, BT_SEEK_GT, out, &ol);
    ck_assert(rc_allowed(rc));
    rc = t_seek(m, root, NULL, 0, BT_SEEK_LE, out, &ol);
    for (int i = 0; rc == 0 && i < 1000; i++)
        rc = t_seek(m, root, out, ol, BT_SEEK_LT, out, &ol);
    ck_assert(rc_allowed(rc));
    memset(buf, 0x42, sizeof buf);
    for (int i = 0; i < 40; i++) {
        be32(k, (uint32_t)(tu_rand(s) % 500) * 2654435761u);
        size_t len = tu_rand(s) % 4 == 0 ? 6000 : tu_rand(s) % 300;
        ck_assert(rc_allowed(t_put(m, root, k, 4, buf, len, (int)(i & 1))));
        be32(k, (uint32_t)(tu_rand(s) % 500) * 2654435761u);
        ck_assert(rc_allowed(t_del(m, root, k, 4)));
    }
    ck_assert(rc_allowed(t_check(m, root, NULL)));
    ck_assert(rc_allowed(bt_destroy(&m->io, root)));
    mio_end(m);
    ck_assert_int_eq(m->misuse, 0);
}

static void garbage(uint32_t ps)
{
    unsigned long long s = tu_seed("btree garbage");
    memio *m = mio_new(ps, true);
    uint32_t nkeys = ps == 4096 ? 400 : 3000;
    uint32_t root = build_tree(m, nkeys, 40);
    ck_assert_int_eq(t_check(m, root, NULL), 0);
    for (int it = 0; it < 150; it++) {
        memio *c = mio_snapshot(m);
        uint32_t pg;
        do
            pg = 1 + (uint32_t)(tu_rand(&s) % (c->npg - 1));
        while (!c->pg[pg].live);
        uint8_t *img = c->pg[pg].img;
        for (uint32_t i = 16; i < ps; i++)
            img[i] = (uint8_t)tu_rand(&s);
        if (it % 2) { /* a plausible header, so the garbage gets looked at more deeply */
            img[16] = (uint8_t)(tu_rand(&s) % 2 ? ENG_PT_LEAF : ENG_PT_INTERNAL);
            img[17] = 1;
        }
        ck_assert_int_eq(t_check(c, root, NULL), JET_errDatabaseCorrupted);
        unsigned long frees = c->nfree_calls;
        ck_assert_int_eq(bt_destroy(&c->io, root), JET_errDatabaseCorrupted);
        mio_end(c);
        ck_assert_uint_eq(c->nfree_calls, frees);
        poke_everything(c, root, nkeys, &s);
        mio_free(c);
    }
    /* A few flipped bytes anywhere: answers may be right or "corrupted", never a crash. */
    for (int it = 0; it < 300; it++) {
        memio *c = mio_snapshot(m);
        int flips = 1 + (int)(tu_rand(&s) % 6);
        for (int f = 0; f < flips; f++) {
            uint32_t pg;
            do
                pg = 1 + (uint32_t)(tu_rand(&s) % (c->npg - 1));
            while (!c->pg[pg].live);
            /* Header and slots, a cell header (lengths, child pointer), or anywhere. */
            uint8_t *img = c->pg[pg].img;
            uint32_t off = 16 + (uint32_t)(tu_rand(&s) % (ps - 16)), how = tu_rand(&s) % 3;
            unsigned nslots = (unsigned)(img[18] | img[19] << 8);
            if (how == 0) {
                off = 16 + (uint32_t)(tu_rand(&s) % 64);
            } else if (how == 1 && img[16] != ENG_PT_OVERFLOW && nslots && nslots < 2000) {
                unsigned slot = (unsigned)(tu_rand(&s) % nslots);
                off = (uint32_t)(img[32 + 2 * slot] | img[33 + 2 * slot] << 8) +
                      (uint32_t)(tu_rand(&s) % 6);
                if (off >= ps || off < 16)
                    off = 16;
            }
            img[off] ^= (uint8_t)(1 + tu_rand(&s) % 255);
        }
        poke_everything(c, root, nkeys, &s);
        mio_free(c);
    }
    mio_free(m);
}

START_TEST(garbage_4k)
{
    garbage(4096);
}
END_TEST

START_TEST(garbage_32k)
{
    garbage(32768);
}
END_TEST

/* Hand-made structural damage: a cycle, a page referenced twice, keys out of order, byte counts off. */
START_TEST(hand_made_damage)
{
    memio *m = mio_new(4096, true);
    uint32_t root = build_tree(m, 3000, 0);
    uint8_t *r = m->pg[root].img;
    ck_assert_int_eq(r[16], ENG_PT_INTERNAL);
    uint8_t saved[4];
    memcpy(saved, r + 24, 4);
    uint8_t k[4], out[2000];
    size_t ol;

    /* Leftmost child of the root is the root itself. */
    r[24] = (uint8_t)root;
    r[25] = (uint8_t)(root >> 8);
    r[26] = (uint8_t)(root >> 16);
    r[27] = (uint8_t)(root >> 24);
    ck_assert_int_eq(t_check(m, root, NULL), JET_errDatabaseCorrupted);
    ck_assert_int_eq(t_seek(m, root, NULL, 0, BT_SEEK_GE, out, &ol), JET_errDatabaseCorrupted);
    be32(k, 0);
    ck_assert_int_eq(t_get(m, root, k, 1, NULL, 0, NULL), JET_errDatabaseCorrupted);
    unsigned long frees = m->nfree_calls;
    ck_assert_int_eq(bt_destroy(&m->io, root), JET_errDatabaseCorrupted);
    mio_end(m);
    ck_assert_uint_eq(m->nfree_calls, frees);
    memcpy(r + 24, saved, 4);
    ck_assert_int_eq(t_check(m, root, NULL), 0);

    /* The first separator's child is the leftmost child too: destroy must not free it twice. */
    uint16_t off = (uint16_t)(r[32] | r[33] << 8);
    uint8_t saved2[4];
    memcpy(saved2, r + off + 2, 4);
    memcpy(r + off + 2, r + 24, 4);
    ck_assert_int_eq(t_check(m, root, NULL), JET_errDatabaseCorrupted);
    ck_assert_int_eq(bt_destroy(&m->io, root), JET_errDatabaseCorrupted);
    mio_end(m);
    ck_assert_uint_eq(m->nfree_calls, frees);
    memcpy(r + off + 2, saved2, 4);

    /* Two separators swapped. */
    uint8_t sl[4];
    memcpy(sl, r + 32, 4);
    uint8_t sw[4] = {sl[2], sl[3], sl[0], sl[1]};
    memcpy(r + 32, sw, 4);
    ck_assert_int_eq(t_check(m, root, NULL), JET_errDatabaseCorrupted);
    memcpy(r + 32, sl, 4);

    /* Two keys of a leaf swapped; then a leaf whose dead-byte count is off by one. */
    uint32_t leaf = find_page(m, ENG_PT_LEAF, 0);
    uint8_t *lp = m->pg[leaf].img;
    memcpy(sl, lp + 32, 4);
    uint8_t sw2[4] = {sl[2], sl[3], sl[0], sl[1]};
    memcpy(lp + 32, sw2, 4);
    ck_assert_int_eq(t_check(m, root, NULL), JET_errDatabaseCorrupted);
    memcpy(lp + 32, sl, 4);
    ck_assert_int_eq(t_check(m, root, NULL), 0);
    lp[22]++;
    ck_assert_int_eq(t_check(m, root, NULL), JET_errDatabaseCorrupted);
    lp[22]--;
    ck_assert_int_eq(t_check(m, root, NULL), 0);

    /* A key of one leaf moved past its parent's separator: a leaf's last key becomes 0xff... */
    uint16_t n0 = (uint16_t)(lp[18] | lp[19] << 8);
    uint16_t lastoff = (uint16_t)(lp[32 + 2 * (n0 - 1)] | lp[33 + 2 * (n0 - 1)] << 8);
    uint8_t savedk[4];
    memcpy(savedk, lp + lastoff + 6, 4);
    memset(lp + lastoff + 6, 0xff, 4);
    ck_assert_int_eq(t_check(m, root, NULL), JET_errDatabaseCorrupted);
    memcpy(lp + lastoff + 6, savedk, 4);

    /* The root's first separator lowered below the keys of its left child. */
    uint16_t soff = (uint16_t)(r[32] | r[33] << 8), sklen = (uint16_t)(r[soff] | r[soff + 1] << 8);
    uint8_t savedsep[2000];
    memcpy(savedsep, r + soff + 6, sklen);
    memset(r + soff + 6, 0, sklen);
    ck_assert_int_eq(t_check(m, root, NULL), JET_errDatabaseCorrupted);
    memcpy(r + soff + 6, savedsep, sklen);

    /* An unknown format version. */
    r[17] = 2;
    ck_assert_int_eq(t_check(m, root, NULL), JET_errDatabaseCorrupted);
    r[17] = 1;
    uint64_t nrec = 0;
    ck_assert_int_eq(t_check(m, root, &nrec), 0);
    ck_assert_uint_eq(nrec, 3000);
    ck_assert_int_eq(bt_destroy(&m->io, root), 0);
    mio_end(m);
    ck_assert_uint_eq(m->live, 0);
    ck_assert_int_eq(m->misuse, 0);
    mio_free(m);
}
END_TEST

/* Two records whose values share one overflow chain: each chain is fine on its own, only the
 * page-visited set sees it, and destroy must not free the chain twice. */
START_TEST(shared_overflow_chain)
{
    memio *m = mio_new(4096, true);
    uint32_t root = t_create(m);
    static uint8_t v[9000];
    ck_assert_int_eq(t_put(m, root, "a", 1, v, sizeof v, 1), 0);
    ck_assert_int_eq(t_put(m, root, "b", 1, v, sizeof v, 1), 0);
    ck_assert_uint_eq(m->live, 1 + 2 * ovf_pages(4096, sizeof v));
    uint8_t *r = m->pg[root].img;
    uint16_t a = (uint16_t)(r[32] | r[33] << 8), b = (uint16_t)(r[34] | r[35] << 8);
    ck_assert_uint_eq(r[a + 6], 'a');
    ck_assert_uint_eq(r[a + 5] & 0x80, 0x80); /* overflow flag, top bit of the u32 length */
    memcpy(r + b + 7, r + a + 7, 4);
    ck_assert_int_eq(t_check(m, root, NULL), JET_errDatabaseCorrupted);
    unsigned long frees = m->nfree_calls;
    ck_assert_int_eq(bt_destroy(&m->io, root), JET_errDatabaseCorrupted);
    mio_end(m);
    ck_assert_uint_eq(m->nfree_calls, frees);
    ck_assert_int_eq(m->misuse, 0);
    mio_free(m);
}
END_TEST

/* A root leaf whose three slots all point at one cell that reaches the end of the page, with
 * the dead-byte count claiming the rest is free: an insert must compact and find out that the
 * cells cannot all fit, instead of copying past the page. */
START_TEST(overlapping_cells)
{
    const uint32_t ps = 4096;
    memio *m = mio_new(ps, true);
    uint32_t root = t_create(m);
    uint8_t *r = m->pg[root].img;
    const unsigned lo = 100, size = ps - lo, vlen = size - BT_CELL_HDR - 1;
    r[18] = 3;
    r[19] = 0;
    r[20] = (uint8_t)lo;
    r[21] = (uint8_t)(lo >> 8);
    r[22] = (uint8_t)size;
    r[23] = (uint8_t)(size >> 8);
    for (int i = 0; i < 3; i++) {
        r[32 + 2 * i] = (uint8_t)lo;
        r[33 + 2 * i] = (uint8_t)(lo >> 8);
    }
    r[lo] = 1;
    r[lo + 1] = 0;
    r[lo + 2] = (uint8_t)vlen;
    r[lo + 3] = (uint8_t)(vlen >> 8);
    r[lo + 4] = r[lo + 5] = 0;
    r[lo + 6] = 'a';
    ck_assert_int_eq(t_check(m, root, NULL), JET_errDatabaseCorrupted);
    uint8_t v[100] = {0};
    ck_assert_int_eq(t_put(m, root, "b", 1, v, sizeof v, 0), JET_errDatabaseCorrupted);
    uint8_t buf[4096];
    size_t vl = 0;
    ck_assert_int_eq(t_get(m, root, "a", 1, buf, sizeof buf, &vl), 0);
    ck_assert_uint_eq(vl, vlen);
    ck_assert_int_eq(m->misuse, 0);
    mio_free(m);
}
END_TEST

/* Allocation failures half-way through a put: the error comes back, and once the call's changes
 * are thrown away (as the transaction layer does) the tree is intact. */
START_TEST(alloc_failure)
{
    unsigned long long s = tu_seed("btree alloc_failure");
    memio *m = mio_new(4096, true);
    uint32_t root = build_tree(m, 1500, 30);
    uint64_t expect = 1500;
    uint8_t k[4], v[9000];
    memset(v, 1, sizeof v);
    int failures = 0;
    for (int i = 0; i < 300; i++) {
        memio *snap = mio_snapshot(m);
        m->alloc_budget = (long)(tu_rand(&s) % 3);
        be32(k, (uint32_t)tu_rand(&s));
        size_t vl = tu_rand(&s) % 3 == 0 ? 9000 : 200;
        int rc = t_put(m, root, k, 4, v, vl, 1);
        if (rc == 0 || rc == JET_errKeyDuplicate) {
            mio_free(snap);
            expect += rc == 0;
        } else {
            ck_assert_int_eq(rc, JET_errDiskFull);
            failures++;
            mio_free(m);
            m = snap;
        }
        m->alloc_budget = -1;
        if (i % 50 == 0) {
            uint64_t nrec = 0;
            ck_assert_int_eq(t_check(m, root, &nrec), 0);
            ck_assert_uint_eq(nrec, expect);
        }
    }
    ck_assert_int_gt(failures, 10);
    uint64_t nrec = 0;
    ck_assert_int_eq(t_check(m, root, &nrec), 0);
    ck_assert_uint_eq(nrec, expect);
    ck_assert_int_eq(bt_destroy(&m->io, root), 0);
    mio_end(m);
    ck_assert_uint_eq(m->live, 0);
    mio_free(m);
}
END_TEST

/* ---------------------------------------------------------------------------------------------
 * Pages that pass their checksum but lie about their structure (issue 9, item 8)
 * ------------------------------------------------------------------------------------------- */
static uint16_t ld16(const uint8_t *p)
{
    return (uint16_t)(p[0] | p[1] << 8);
}
static void st16(uint8_t *p, unsigned v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}
static void st32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

/* Slots i, i+1, i+2 of a tree page rotated right by one: (c, d, e) becomes (e, c, d). The cells
 * are untouched, only their order lies: a seek GT e lands on c, and a scan that trusts it goes
 * e, c, d, e, c, d, ... forever. */
static void rotate_slots(uint8_t *pg, unsigned i)
{
    uint8_t *sl = pg + BT_HDR + 2 * i, e[2];
    memcpy(e, sl + 4, 2);
    memmove(sl + 2, sl, 4);
    memcpy(sl, e, 2);
}

/* A scan as JetMove does it: seek GE/LE from nothing, then GT/LT from the key it is on, until
 * something else than success. Unbounded on purpose: a scan that never ends hangs the test,
 * which the case's time-out turns into a failure. */
static int scan(memio *m, uint32_t root, int dir, unsigned long *steps)
{
    uint8_t out[2000];
    size_t ol = 0;
    unsigned long n = 0;
    int rc = t_seek(m, root, NULL, 0, dir > 0 ? BT_SEEK_GE : BT_SEEK_LE, out, &ol);
    while (rc == 0) {
        rc = t_seek(m, root, out, ol, dir > 0 ? BT_SEEK_GT : BT_SEEK_LT, out, &ol);
        n++;
    }
    if (steps)
        *steps = n;
    return rc;
}

START_TEST(scan_over_rotated_slots_ends)
{
    memio *m = mio_new(4096, true);
    uint32_t root = build_tree(m, 3000, 0);
    unsigned long steps = 0;
    ck_assert_int_eq(scan(m, root, 1, &steps), JET_errRecordNotFound);
    ck_assert_uint_eq(steps, 3000);
    uint32_t leaf = find_page(m, ENG_PT_LEAF, root);
    ck_assert_uint_ne(leaf, 0);
    unsigned n = ld16(m->pg[leaf].img + 18);
    ck_assert_uint_ge(n, 8);
    /* The B+tree alone (nothing checks pages on read): the scan still ends, on the seek that
     * would have gone back, and the damage is reported with the page. */
    memio *c = mio_snapshot(m);
    rotate_slots(c->pg[leaf].img, n / 2);
    ck_assert_int_eq(scan(c, root, 1, NULL), JET_errDatabaseCorrupted);
    ck_assert_uint_gt(c->reports, 0);
    int rc = scan(c, root, -1, NULL);
    ck_assert(rc == JET_errDatabaseCorrupted || rc == JET_errRecordNotFound);
    mio_free(c);
    /* With the read-time check (as the engine's cache does): the page is refused outright. */
    c = mio_snapshot(m);
    c->validate = true;
    rotate_slots(c->pg[leaf].img, n / 2);
    ck_assert_int_eq(scan(c, root, 1, NULL), JET_errDatabaseCorrupted);
    ck_assert_int_eq(scan(c, root, -1, NULL), JET_errDatabaseCorrupted);
    ck_assert_int_ne(bt_page_validate(c->pg[leaf].img, 4096, leaf, 1, (uint32_t)c->npg, NULL), 0);
    mio_free(c);
    mio_free(m);
}
END_TEST

/* There are no sibling links; the way a scan can come back to pages it has passed is a child
 * pointer aimed at a page met before. Child 1 of the root made the same page as child 0: a scan
 * that left leaf 0 comes back into it from the root and loops. */
START_TEST(child_cycle_scan_ends)
{
    memio *m = mio_new(4096, true);
    uint32_t root = build_tree(m, 3000, 0);
    uint8_t *r = m->pg[root].img;
    ck_assert_int_eq(r[16], ENG_PT_INTERNAL);
    ck_assert_uint_ge(ld16(r + 18), 2);
    uint16_t off = ld16(r + BT_HDR);
    memcpy(r + off + 2, r + 24, 4);
    for (int validate = 0; validate < 2; validate++) {
        m->validate = validate;
        m->reports = 0;
        ck_assert_int_eq(scan(m, root, 1, NULL), JET_errDatabaseCorrupted);
        ck_assert_int_eq(scan(m, root, -1, NULL), JET_errDatabaseCorrupted);
        ck_assert_uint_gt(m->reports, 0);
        /* A lookup of a key that lives under child 1 does not quietly miss it either. */
        uint8_t sep[2000];
        uint16_t kl = ld16(r + off);
        memcpy(sep, r + off + BT_CELL_HDR, kl);
        ck_assert_int_eq(t_get(m, root, sep, kl, NULL, 0, NULL), JET_errDatabaseCorrupted);
    }
    ck_assert_int_eq(m->misuse, 0);
    mio_free(m);
}
END_TEST

/* bt_page_validate on its own: every page the B+tree makes passes; each kind of lie is refused
 * with its reason. */
START_TEST(page_validate_reasons)
{
    const uint32_t ps = 4096;
    memio *m = mio_new(ps, true);
    uint32_t root = build_tree(m, 3000, 100);
    uint32_t lim = (uint32_t)m->npg;
    for (uint32_t p = 1; p < m->npg; p++)
        if (m->pg[p].live)
            ck_assert_int_eq(bt_page_validate(m->pg[p].img, ps, p, 1, lim, NULL), 0);
    uint32_t leaf = find_page(m, ENG_PT_LEAF, root), ovf = find_page(m, ENG_PT_OVERFLOW, 0);
    ck_assert_uint_ne(leaf, 0);
    ck_assert_uint_ne(ovf, 0);
    uint8_t *pg = malloc(ps);
    const char *why;
#define EXPECT_BAD(src, pgno, edit, reason)                                                       \
    do {                                                                                          \
        memcpy(pg, m->pg[src].img, ps);                                                           \
        edit;                                                                                     \
        why = NULL;                                                                               \
        ck_assert_int_eq(bt_page_validate(pg, ps, pgno, 1, lim, &why), JET_errDatabaseCorrupted); \
        ck_assert_str_eq(why, reason);                                                            \
    } while (0)
    unsigned n = ld16(m->pg[leaf].img + 18);
    EXPECT_BAD(leaf, leaf, rotate_slots(pg, 1), "keys out of order");
    EXPECT_BAD(leaf, leaf, memcpy(pg + BT_HDR + 2, pg + BT_HDR, 2), "keys out of order");
    EXPECT_BAD(leaf, leaf, st16(pg + BT_HDR + 2 * (n - 1), ps - 2), "slot offset outside the cell area");
    EXPECT_BAD(leaf, leaf, st16(pg + 20, BT_HDR + 2 * n - 2), "slot array and cell area overlap");
    EXPECT_BAD(leaf, leaf, pg[22]++, "cell bytes and dead bytes do not fill the cell area");
    EXPECT_BAD(leaf, leaf, pg[17] = 7, "unknown B+tree format version");
    EXPECT_BAD(leaf, leaf, pg[16] = 9, "unknown page type");
    EXPECT_BAD(leaf, leaf, st32(pg + 24, 5), "leaf with a leftmost child");
    EXPECT_BAD(leaf, leaf, pg[29] = 1, "reserved header bytes not zero");
    EXPECT_BAD(root, root, st32(pg + 24, lim), "leftmost child page out of range");
    EXPECT_BAD(root, root, st32(pg + 24, root), "leftmost child page out of range");
    {
        uint16_t off = ld16(m->pg[root].img + BT_HDR);
        EXPECT_BAD(root, root, st32(pg + off + 2, 0), "child page out of range");
        EXPECT_BAD(root, root, st32(pg + off + 2, lim + 1000), "child page out of range");
    }
    {
        /* The lowest cell grown by one byte into the cell above it and another cell shrunk by
         * one byte: every count adds up, but two cells share a byte. */
        const uint8_t *img = m->pg[leaf].img;
        unsigned lo = ld16(img + 20), at_lo = n, other = n;
        ck_assert_uint_eq(ld16(img + 22), 0);
        for (unsigned i = 0; i < n; i++) {
            if (ld16(img + BT_HDR + 2 * i) == lo)
                at_lo = i;
            else if (other == n && img[ld16(img + BT_HDR + 2 * i) + 2] > 0)
                other = i;
        }
        ck_assert_uint_lt(at_lo, n);
        ck_assert_uint_lt(other, n);
        EXPECT_BAD(leaf, leaf, (pg[lo + 2]++, pg[ld16(pg + BT_HDR + 2 * other) + 2]--), "cells overlap");
    }
    EXPECT_BAD(ovf, ovf, st32(pg + 24, 0), "overflow data length out of range");
    EXPECT_BAD(ovf, ovf, st32(pg + 24, ps), "overflow data length out of range");
    EXPECT_BAD(ovf, ovf, st32(pg + 20, lim), "next overflow page out of range");
#undef EXPECT_BAD
    free(pg);
    mio_free(m);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("btree");
    TCase *tc = tcase_create("btree");
    tcase_set_timeout(tc, 240);
    tcase_add_test(tc, random_ops_4k);
    tcase_add_test(tc, random_ops_32k);
    tcase_add_test(tc, random_ops_8k_16k);
    tcase_add_test(tc, key_lengths_4k);
    tcase_add_test(tc, key_lengths_8k);
    tcase_add_test(tc, value_sizes_4k);
    tcase_add_test(tc, value_sizes_32k);
    tcase_add_test(tc, value_64mib);
    tcase_add_test(tc, bulk_sequential_fill);
    tcase_add_test(tc, delete_all_no_leaks);
    tcase_add_test(tc, overflow_replace);
    tcase_add_test(tc, two_trees_share_pages);
    tcase_add_test(tc, seek_small_tree);
    tcase_add_test(tc, seek_across_leaves);
    tcase_add_test(tc, damaged_pages);
    tcase_add_test(tc, garbage_4k);
    tcase_add_test(tc, garbage_32k);
    tcase_add_test(tc, hand_made_damage);
    tcase_add_test(tc, shared_overflow_chain);
    tcase_add_test(tc, overlapping_cells);
    tcase_add_test(tc, alloc_failure);
    suite_add_tcase(s, tc);
    /* Scans over lying pages must end: a short time-out turns a hang into a failure. */
    TCase *tl = tcase_create("lying-pages");
    tcase_set_timeout(tl, 20);
    tcase_add_test(tl, scan_over_rotated_slots_ends);
    tcase_add_test(tl, child_cycle_scan_ends);
    tcase_add_test(tl, page_validate_reasons);
    suite_add_tcase(s, tl);
    return s;
}

TU_CHECK_MAIN(suite)
