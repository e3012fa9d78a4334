/*
 * btree.c — the B+tree of one table over eng_pageio (see btree-int.h for the contract).
 *
 * On-page format, version BT_FORMAT_VERSION (1). Integers are little-endian, offsets are from the
 * start of the page. Bytes 0..15 belong to the pager and are never written here.
 *
 * Tree page (ENG_PT_LEAF or ENG_PT_INTERNAL):
 *   16       page type
 *   17       format version (1)
 *   18..19   nslots: number of cells
 *   20..21   cell_lo: offset of the lowest byte of the cell area; page_size when there are no cells
 *            (32768 still fits a u16)
 *   22..23   frag: bytes of dead cells inside [cell_lo, page_size)
 *   24..27   internal: pgno of the leftmost child; leaf: 0
 *   28..31   reserved, 0
 *   32..     slot array: nslots u16 cell offsets, in increasing key order
 *            free gap up to cell_lo
 *   cell_lo.. cells (in no particular order) and dead bytes, up to the end of the page
 *   Invariants: 32 + 2*nslots <= cell_lo <= page_size; every cell lies inside [cell_lo, page_size);
 *   the sizes of all cells plus frag add up to page_size - cell_lo.
 *
 * Leaf cell:      u16 klen | u32 vlen | key | value (vlen bytes)
 *             or  u16 klen | u32 vlen | BT_OVF_FLAG | key | u32 first overflow pgno
 *   A value is inline when its whole cell fits in bt_cell_max (a quarter of the usable page minus
 *   the slot), so every leaf holds at least four cells; otherwise it lives in an overflow chain.
 * Internal cell:  u16 klen | u32 child | key
 *   With separators s0 < s1 < ... < s(n-1): the leftmost child (header) holds keys < s0, the child of
 *   cell i holds keys >= s(i) and < s(i+1). Separators may be shortened: a separator is the shortest
 *   prefix of the right side's first key that is greater than the left side's last key.
 *
 * Overflow page (ENG_PT_OVERFLOW), one link of a long value's chain:
 *   16 type, 17 format version, 18..19 reserved 0, 20..23 next pgno (0 ends the chain),
 *   24..27 bytes of data in this page, 28.. data. Every page but the last is full.
 *
 * Policies:
 *  - Split: a page that overflows is split to balance bytes. When a new key goes past the last key
 *    of the rightmost leaf, the split happens at the insertion point instead ("append split"), and
 *    the same holds for the internal pages above it, so sequential loads leave pages ~100% full.
 *    The root never moves: a root split moves its contents into two new pages.
 *  - Delete: a non-root leaf that empties is freed and unlinked from its parent; an internal page
 *    that loses its only child is freed in turn. A non-root internal page left with a single child
 *    stays as is (collapsing it would unbalance the tree); a root left with a single child takes
 *    over that child's contents (repeatedly), so depth shrinks again after mass deletes.
 *    Half-empty pages are not merged.
 *  - No sibling links: moving to the next/previous leaf climbs the path kept during descent.
 *  - Pages are not trusted: the pager runs bt_page_validate on every page it reads from disk; on
 *    the way down each child must fit between its parent's separators; a seek checks that what it
 *    found stands in the asked relation to the key, so scans (seek GT/LT from the current key)
 *    always move on and end.
 *  - Every offset and length read from a page is checked before use; a damaged page gives
 *    JET_errDatabaseCorrupted, never an out-of-bounds access. Depth is limited to BT_MAX_DEPTH.
 */
#include "btree-int.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "jet.h"

#define BT_FORMAT_VERSION 1

#define BT_OFF_TYPE 16
#define BT_OFF_VERSION 17
#define BT_OFF_NSLOTS 18
#define BT_OFF_CELLLO 20
#define BT_OFF_FRAG 22
#define BT_OFF_LEFT 24
#define BT_OFF_RESERVED 28
#define BT_HDR 32       /* first slot */
#define BT_CELL_HDR 6   /* u16 klen + u32 vlen/child */
#define BT_SLOT 2
#define BT_OVF_FLAG 0x80000000u
#define BT_OVF_REF 4    /* first overflow pgno in a leaf cell */

#define BT_OVF_NEXT 20
#define BT_OVF_LEN 24
#define BT_OVF_DATA 28

#define BT_MAX_DEPTH 32
#define BT_PAGE_MAX 32768
#define BT_KEY_MAX_ALL 2000
/* Largest cell of any page size: (32768 - 32) / 4 - 2. */
#define BT_CELL_MAX_ALL 8182

/* ---------------------------------------------------------------------------------------------
 * Little helpers
 * ------------------------------------------------------------------------------------------- */
static inline uint16_t bt_ld16(const uint8_t *p)
{
    return (uint16_t)(p[0] | (unsigned)p[1] << 8);
}
static inline uint32_t bt_ld32(const uint8_t *p)
{
    uint32_t v;
    memcpy(&v, p, 4);
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    v = __builtin_bswap32(v);
#endif
    return v;
}
static inline void bt_st16(uint8_t *p, unsigned v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}
static inline void bt_st32(uint8_t *p, uint32_t v)
{
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    v = __builtin_bswap32(v);
#endif
    memcpy(p, &v, 4);
}

/* One place every corruption goes through, so a debugger breakpoint catches the first detection. */
static __attribute__((noinline)) int bt_corrupt(void)
{
    return JET_errDatabaseCorrupted;
}
#define BT_CORRUPT_IF(cond)                                                                        \
    do {                                                                                           \
        if (cond)                                                                                  \
            return bt_corrupt();                                                                   \
    } while (0)

static int bt_keycmp(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen)
{
    size_t n = alen < blen ? alen : blen;
    int c = n ? memcmp(a, b, n) : 0;
    if (c)
        return c;
    return (alen > blen) - (alen < blen);
}

size_t bt_key_max(uint32_t page_size)
{
    return page_size <= 4096 ? 1000 : 2000;
}

static bool bt_ps_ok(const eng_pageio *io)
{
    if (!io)
        return false;
    uint32_t ps = io->page_size;
    return ps == 4096 || ps == 8192 || ps == 16384 || ps == 32768;
}

/* Largest cell (without its slot) that goes in a leaf: a quarter of the usable space. */
static inline size_t bt_cell_max(uint32_t ps)
{
    return (ps - BT_HDR) / 4 - BT_SLOT;
}

static inline size_t bt_ovf_cap(uint32_t ps)
{
    return ps - BT_OVF_DATA;
}

/* ---------------------------------------------------------------------------------------------
 * Page header and cells. Readers take const pages; every value from the page is bounds-checked.
 * ------------------------------------------------------------------------------------------- */
static inline unsigned bt_nslots(const uint8_t *pg)
{
    return bt_ld16(pg + BT_OFF_NSLOTS);
}
static inline unsigned bt_cell_lo(const uint8_t *pg)
{
    return bt_ld16(pg + BT_OFF_CELLLO);
}
static inline bool bt_is_leaf(const uint8_t *pg)
{
    return pg[BT_OFF_TYPE] == ENG_PT_LEAF;
}

static bool bt_hdr_ok(const uint8_t *pg, uint32_t ps)
{
    uint8_t t = pg[BT_OFF_TYPE];
    if ((t != ENG_PT_LEAF && t != ENG_PT_INTERNAL) || pg[BT_OFF_VERSION] != BT_FORMAT_VERSION)
        return false;
    size_t n = bt_nslots(pg), lo = bt_cell_lo(pg), frag = bt_ld16(pg + BT_OFF_FRAG);
    if (BT_HDR + BT_SLOT * n > lo || lo > ps || frag > ps - lo)
        return false;
    return t == ENG_PT_LEAF || bt_ld32(pg + BT_OFF_LEFT) != 0;
}

/* Read a page and check its header. */
static int bt_read(const eng_pageio *io, uint32_t pgno, const uint8_t **pg)
{
    BT_CORRUPT_IF(pgno == 0);
    int rc = io->read(io->ctx, pgno, pg);
    if (rc < 0)
        return rc;
    BT_CORRUPT_IF(!bt_hdr_ok(*pg, io->page_size));
    return 0;
}

static int bt_write(const eng_pageio *io, uint32_t pgno, uint8_t **pg)
{
    int rc = io->write(io->ctx, pgno, pg);
    if (rc < 0)
        return rc;
    /* The writable image must be the page we validated on the way down. */
    BT_CORRUPT_IF(!bt_hdr_ok(*pg, io->page_size));
    return 0;
}

/* Offset of cell i with its key; checks that the header and the key are inside the page. */
static int bt_cell_key(const uint8_t *pg, uint32_t ps, unsigned i, const uint8_t **key, size_t *klen)
{
    size_t off = bt_ld16(pg + BT_HDR + BT_SLOT * i);
    BT_CORRUPT_IF(off < bt_cell_lo(pg) || off + BT_CELL_HDR > ps);
    size_t kl = bt_ld16(pg + off);
    BT_CORRUPT_IF(kl == 0 || kl > bt_key_max(ps) || off + BT_CELL_HDR + kl > ps);
    *key = pg + off + BT_CELL_HDR;
    *klen = kl;
    return 0;
}

typedef struct bt_lcell {
    const uint8_t *key;
    size_t klen;
    size_t vlen;      /* full value length */
    bool ovf;         /* value in an overflow chain starting at first */
    const uint8_t *val; /* inline value */
    uint32_t first;
    size_t off, size; /* cell position and size in the page */
} bt_lcell;

static int bt_leaf_cell(const uint8_t *pg, uint32_t ps, unsigned i, bt_lcell *c)
{
    int rc = bt_cell_key(pg, ps, i, &c->key, &c->klen);
    if (rc < 0)
        return rc;
    c->off = (size_t)(c->key - pg) - BT_CELL_HDR;
    uint32_t raw = bt_ld32(pg + c->off + 2);
    c->ovf = (raw & BT_OVF_FLAG) != 0;
    c->vlen = raw & ~BT_OVF_FLAG;
    c->size = BT_CELL_HDR + c->klen + (c->ovf ? BT_OVF_REF : c->vlen);
    BT_CORRUPT_IF(c->off + c->size > ps || c->vlen > BT_VALUE_MAX);
    if (c->ovf) {
        c->val = NULL;
        c->first = bt_ld32(c->key + c->klen);
        BT_CORRUPT_IF(c->first == 0);
    } else {
        c->val = c->key + c->klen;
        c->first = 0;
    }
    return 0;
}

/* Size of cell i of a page of either kind, checked to lie inside the page. */
static int bt_cell_size(const uint8_t *pg, uint32_t ps, unsigned i, size_t *off, size_t *size)
{
    if (bt_is_leaf(pg)) {
        bt_lcell c;
        int rc = bt_leaf_cell(pg, ps, i, &c);
        if (rc < 0)
            return rc;
        *off = c.off;
        *size = c.size;
        return 0;
    }
    const uint8_t *k = NULL;
    size_t kl = 0;
    int rc = bt_cell_key(pg, ps, i, &k, &kl);
    if (rc < 0)
        return rc;
    *off = (size_t)(k - pg) - BT_CELL_HDR;
    *size = BT_CELL_HDR + kl;
    return 0;
}

/* Child ci (0..nslots) of an internal page. */
static int bt_child(const uint8_t *pg, uint32_t ps, unsigned ci, uint32_t *child)
{
    uint32_t c;
    if (ci == 0) {
        c = bt_ld32(pg + BT_OFF_LEFT);
    } else {
        const uint8_t *k = NULL;
        size_t kl;
        int rc = bt_cell_key(pg, ps, ci - 1, &k, &kl);
        if (rc < 0)
            return rc;
        c = bt_ld32(k - BT_CELL_HDR + 2);
    }
    BT_CORRUPT_IF(c == 0);
    *child = c;
    return 0;
}

/* Lower bound: *pos = first cell whose key is >= key, *eq = that key equals key. */
static int bt_search(const uint8_t *pg, uint32_t ps, const uint8_t *key, size_t klen, unsigned *pos,
                     bool *eq)
{
    unsigned lo = 0, hi = bt_nslots(pg);
    bool found = false;
    while (lo < hi) {
        unsigned mid = lo + (hi - lo) / 2;
        const uint8_t *k = NULL;
        size_t kl = 0;
        int rc = bt_cell_key(pg, ps, mid, &k, &kl);
        if (rc < 0)
            return rc;
        int c = bt_keycmp(key, klen, k, kl);
        if (c > 0) {
            lo = mid + 1;
        } else {
            hi = mid;
            found = c == 0;
        }
    }
    *pos = lo;
    *eq = found && lo < bt_nslots(pg);
    return 0;
}

/* ---------------------------------------------------------------------------------------------
 * Validation of a page read from disk (bt_page_validate) and of how pages fit together
 * ------------------------------------------------------------------------------------------- */
#define BT_BAD(cond, reason)                                                                       \
    do {                                                                                           \
        if (cond) {                                                                                \
            *why = (reason);                                                                       \
            return bt_corrupt();                                                                   \
        }                                                                                          \
    } while (0)

/* a < b. Keys are mostly short: a byte loop beats a call to memcmp, which once made up 40% of
 * bt_page_validate's time on a leaf of 8-byte keys. */
static inline bool bt_key_less(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen)
{
    size_t n = alen < blen ? alen : blen;
    if (n > 32) {
        int c = memcmp(a, b, n);
        if (c)
            return c < 0;
    } else {
        for (size_t i = 0; i < n; i++)
            if (a[i] != b[i])
                return a[i] < b[i];
    }
    return alen < blen;
}

static inline bool bt_ref_ok(uint32_t ref, uint32_t pgno, uint32_t first, uint32_t limit)
{
    return ref >= first && ref < limit && ref != pgno;
}

/* Bytes of the cell at off, from its header alone (the caller has checked the header fits). */
static inline size_t bt_cell_bytes(const uint8_t *pg, bool leaf, size_t off)
{
    size_t kl = bt_ld16(pg + off);
    if (!leaf)
        return BT_CELL_HDR + kl;
    uint32_t raw = bt_ld32(pg + off + 2);
    return BT_CELL_HDR + kl + ((raw & BT_OVF_FLAG) ? BT_OVF_REF : (raw & ~BT_OVF_FLAG));
}

static int bt_validate_tree(const uint8_t *pg, uint32_t ps, uint32_t pgno, uint32_t first,
                            uint32_t limit, const char **why)
{
    BT_BAD(pg[BT_OFF_VERSION] != BT_FORMAT_VERSION, "unknown B+tree format version");
    bool leaf = bt_is_leaf(pg);
    size_t n = bt_nslots(pg), lo = bt_cell_lo(pg), frag = bt_ld16(pg + BT_OFF_FRAG);
    BT_BAD(lo > ps, "cell area starts past the end of the page");
    BT_BAD(BT_HDR + BT_SLOT * n > lo, "slot array and cell area overlap");
    BT_BAD(frag > ps - lo, "dead-byte count larger than the cell area");
    BT_BAD(bt_ld32(pg + BT_OFF_RESERVED) != 0, "reserved header bytes not zero");
    uint32_t left = bt_ld32(pg + BT_OFF_LEFT);
    BT_BAD(leaf && left != 0, "leaf with a leftmost child");
    BT_BAD(!leaf && !bt_ref_ok(left, pgno, first, limit), "leftmost child page out of range");
    /* One bit per byte offset marks where a cell starts: two slots naming one cell, and (walked in
     * offset order below) cells that overlap, are found without sorting. */
    uint64_t starts[BT_PAGE_MAX / 64];
    memset(starts, 0, ps / 8);
    size_t total = 0, keymax = bt_key_max(ps), cellmax = bt_cell_max(ps);
    const uint8_t *prev = NULL;
    size_t prevlen = 0;
    for (size_t i = 0; i < n; i++) {
        size_t off = bt_ld16(pg + BT_HDR + BT_SLOT * i);
        BT_BAD(off < lo || off + BT_CELL_HDR > ps, "slot offset outside the cell area");
        size_t kl = bt_ld16(pg + off);
        BT_BAD(kl == 0 || kl > keymax, "key length out of range");
        BT_BAD(off + BT_CELL_HDR + kl > ps, "key runs past the end of the page");
        uint32_t raw = bt_ld32(pg + off + 2);
        if (leaf) {
            bool ovf = (raw & BT_OVF_FLAG) != 0;
            size_t vlen = raw & ~BT_OVF_FLAG;
            BT_BAD(vlen > BT_VALUE_MAX, "value length out of range");
            size_t size = bt_cell_bytes(pg, true, off);
            BT_BAD(off + size > ps, "cell runs past the end of the page");
            if (ovf) {
                BT_BAD(vlen == 0, "empty value in an overflow chain");
                BT_BAD(!bt_ref_ok(bt_ld32(pg + off + BT_CELL_HDR + kl), pgno, first, limit),
                       "overflow page out of range");
            } else {
                BT_BAD(size > cellmax, "inline cell larger than allowed");
            }
        } else {
            BT_BAD(!bt_ref_ok(raw, pgno, first, limit), "child page out of range");
        }
        const uint8_t *k = pg + off + BT_CELL_HDR;
        BT_BAD(prev && !bt_key_less(prev, prevlen, k, kl), "keys out of order");
        prev = k;
        prevlen = kl;
        BT_BAD(starts[off / 64] & (UINT64_C(1) << (off % 64)), "two slots point at one cell");
        starts[off / 64] |= UINT64_C(1) << (off % 64);
        total += bt_cell_bytes(pg, leaf, off);
    }
    BT_BAD(total + frag != ps - lo, "cell bytes and dead bytes do not fill the cell area");
    size_t end = lo;
    for (size_t w = lo / 64; w < ps / 64; w++) {
        for (uint64_t bits = starts[w]; bits; bits &= bits - 1) {
            size_t off = w * 64 + (size_t)__builtin_ctzll(bits);
            BT_BAD(off < end, "cells overlap");
            end = off + bt_cell_bytes(pg, leaf, off);
        }
    }
    return 0;
}

static int bt_validate_ovf(const uint8_t *pg, uint32_t ps, uint32_t pgno, uint32_t first,
                           uint32_t limit, const char **why)
{
    BT_BAD(pg[BT_OFF_VERSION] != BT_FORMAT_VERSION, "unknown overflow format version");
    BT_BAD(bt_ld16(pg + 18) != 0, "reserved overflow header bytes not zero");
    uint32_t len = bt_ld32(pg + BT_OVF_LEN), next = bt_ld32(pg + BT_OVF_NEXT);
    BT_BAD(len == 0 || len > bt_ovf_cap(ps), "overflow data length out of range");
    BT_BAD(next != 0 && !bt_ref_ok(next, pgno, first, limit), "next overflow page out of range");
    BT_BAD(next != 0 && len != bt_ovf_cap(ps), "overflow page not full but not last");
    return 0;
}

int bt_page_validate(const uint8_t *pg, uint32_t ps, uint32_t pgno, uint32_t first, uint32_t limit,
                     const char **why)
{
    const char *unused;
    if (!why)
        why = &unused;
    *why = NULL;
    BT_BAD(!pg || (ps != 4096 && ps != 8192 && ps != 16384 && ps != 32768), "bad page size");
    switch (pg[BT_OFF_TYPE]) {
    case ENG_PT_FREE:
    case ENG_PT_META:
        return 0;
    case ENG_PT_LEAF:
    case ENG_PT_INTERNAL:
        return bt_validate_tree(pg, ps, pgno, first, limit, why);
    case ENG_PT_OVERFLOW:
        return bt_validate_ovf(pg, ps, pgno, first, limit, why);
    default:
        *why = "unknown page type";
        return bt_corrupt();
    }
}

/* Damage that spans pages: reported (page and reason) to the provider, if it listens. */
static int bt_report(const eng_pageio *io, uint32_t pgno, const char *why)
{
    if (io->corrupt)
        io->corrupt(io->ctx, pgno, why);
    return bt_corrupt();
}

/* A child's keys lie between the separators around it in its parent (child ci). A child pointer
 * aimed at the wrong page (one met twice, a cycle) shows here, on the way down, before a search
 * lands in the wrong leaf or a scan steps back into keys it has passed. */
static int bt_child_fits(const eng_pageio *io, const uint8_t *parent, unsigned ci, uint32_t pgno,
                         const uint8_t *pg)
{
    uint32_t ps = io->page_size;
    unsigned n = bt_nslots(pg);
    if (n == 0)
        return bt_is_leaf(pg) ? bt_report(io, pgno, "empty leaf below an internal page") : 0;
    const uint8_t *k = NULL, *s = NULL;
    size_t kl = 0, sl = 0;
    int rc;
    if (ci > 0) {
        if ((rc = bt_cell_key(parent, ps, ci - 1, &s, &sl)) < 0 ||
            (rc = bt_cell_key(pg, ps, 0, &k, &kl)) < 0)
            return rc;
        if (bt_keycmp(k, kl, s, sl) < 0)
            return bt_report(io, pgno, "first key below the parent's separator");
    }
    if (ci < bt_nslots(parent)) {
        if ((rc = bt_cell_key(parent, ps, ci, &s, &sl)) < 0 ||
            (rc = bt_cell_key(pg, ps, n - 1, &k, &kl)) < 0)
            return rc;
        if (bt_keycmp(k, kl, s, sl) >= 0)
            return bt_report(io, pgno, "last key not below the parent's next separator");
    }
    return 0;
}

/* ---------------------------------------------------------------------------------------------
 * Page modification
 * ------------------------------------------------------------------------------------------- */
static void bt_format(uint8_t *pg, uint32_t ps, uint8_t type, uint32_t leftmost)
{
    pg[BT_OFF_TYPE] = type;
    pg[BT_OFF_VERSION] = BT_FORMAT_VERSION;
    bt_st16(pg + BT_OFF_NSLOTS, 0);
    bt_st16(pg + BT_OFF_CELLLO, ps);
    bt_st16(pg + BT_OFF_FRAG, 0);
    bt_st32(pg + BT_OFF_LEFT, leftmost);
    bt_st32(pg + BT_OFF_RESERVED, 0);
}

/* Rewrite the cell area without dead bytes. The copy goes through a stack page so overlapping
 * (damaged) cells cannot make the copy run out of the page. */
static __attribute__((noinline)) int bt_compact(uint8_t *pg, uint32_t ps)
{
    uint8_t tmp[BT_PAGE_MAX];
    unsigned n = bt_nslots(pg);
    size_t top = ps, floor = BT_HDR + (size_t)BT_SLOT * n;
    for (unsigned i = 0; i < n; i++) {
        size_t off, size;
        int rc = bt_cell_size(pg, ps, i, &off, &size);
        if (rc < 0)
            return rc;
        BT_CORRUPT_IF(size > top - floor);
        top -= size;
        memcpy(tmp + top, pg + off, size);
        bt_st16(pg + BT_HDR + BT_SLOT * i, (unsigned)top);
    }
    memcpy(pg + top, tmp + top, ps - top);
    bt_st16(pg + BT_OFF_CELLLO, (unsigned)top);
    bt_st16(pg + BT_OFF_FRAG, 0);
    return 0;
}

/* Make `size` contiguous bytes plus one slot available. 1: done, 0: the page is too full. */
static int bt_make_room(uint8_t *pg, uint32_t ps, size_t size)
{
    size_t slot_end = BT_HDR + (size_t)BT_SLOT * (bt_nslots(pg) + 1);
    size_t lo = bt_cell_lo(pg), frag = bt_ld16(pg + BT_OFF_FRAG);
    if (slot_end + size <= lo)
        return 1;
    if (slot_end + size > lo + frag)
        return 0;
    int rc = bt_compact(pg, ps);
    if (rc < 0)
        return rc;
    return slot_end + size <= bt_cell_lo(pg);
}

/* Insert a cell at slot position pos; bt_make_room said there is room. */
static void bt_insert_cell(uint8_t *pg, unsigned pos, const uint8_t *cell, size_t size)
{
    unsigned n = bt_nslots(pg);
    size_t lo = bt_cell_lo(pg) - size;
    memcpy(pg + lo, cell, size);
    uint8_t *slots = pg + BT_HDR;
    memmove(slots + BT_SLOT * (pos + 1), slots + BT_SLOT * pos, (size_t)BT_SLOT * (n - pos));
    bt_st16(slots + BT_SLOT * pos, (unsigned)lo);
    bt_st16(pg + BT_OFF_NSLOTS, n + 1);
    bt_st16(pg + BT_OFF_CELLLO, (unsigned)lo);
}

/* Remove cell i: its bytes join the gap when they sit at its edge, otherwise become dead bytes. */
static int bt_remove_cell(uint8_t *pg, uint32_t ps, unsigned i)
{
    size_t off, size;
    int rc = bt_cell_size(pg, ps, i, &off, &size);
    if (rc < 0)
        return rc;
    unsigned n = bt_nslots(pg);
    size_t lo = bt_cell_lo(pg), frag = bt_ld16(pg + BT_OFF_FRAG);
    BT_CORRUPT_IF(frag + size > ps - lo);
    uint8_t *slots = pg + BT_HDR;
    memmove(slots + BT_SLOT * i, slots + BT_SLOT * (i + 1), (size_t)BT_SLOT * (n - i - 1));
    bt_st16(pg + BT_OFF_NSLOTS, n - 1);
    if (off == lo)
        bt_st16(pg + BT_OFF_CELLLO, (unsigned)(lo + size));
    else
        bt_st16(pg + BT_OFF_FRAG, (unsigned)(frag + size));
    return 0;
}

/* A cell image in a split: bytes elsewhere (the old page's copy or the new cell). */
typedef struct bt_span {
    const uint8_t *p;
    size_t len;
} bt_span;

static void bt_build(uint8_t *pg, uint32_t ps, uint8_t type, uint32_t leftmost, const bt_span *s,
                     unsigned cnt)
{
    bt_format(pg, ps, type, leftmost);
    size_t top = ps;
    for (unsigned i = 0; i < cnt; i++) {
        top -= s[i].len;
        memcpy(pg + top, s[i].p, s[i].len);
        bt_st16(pg + BT_HDR + BT_SLOT * i, (unsigned)top);
    }
    bt_st16(pg + BT_OFF_NSLOTS, cnt);
    bt_st16(pg + BT_OFF_CELLLO, (unsigned)top);
}

static inline size_t bt_span_klen(const bt_span *s)
{
    return bt_ld16(s->p);
}

/* Where to cut m spans (weights include the slot). Leaf: left [0,k), right [k,m).
 * Internal: left [0,k), span k moves up, right (k,m). Returns k, or -1 if nothing fits. */
static long bt_choose_split(const bt_span *s, unsigned m, uint32_t ps, bool leaf, bool append)
{
    size_t cap = ps - BT_HDR, total = 0;
    for (unsigned i = 0; i < m; i++)
        total += s[i].len + BT_SLOT;
    if (append && (!leaf || m >= 2)) {
        size_t left = total - (s[m - 1].len + BT_SLOT);
        if (left <= cap && (leaf ? s[m - 1].len + BT_SLOT <= cap : true))
            return (long)m - 1;
    }
    long best = -1;
    size_t best_diff = SIZE_MAX, left = 0;
    for (unsigned k = 0; k < m; k++) {
        size_t right = total - left - (leaf ? 0 : s[k].len + BT_SLOT);
        if ((!leaf || k > 0) && left <= cap && right <= cap) {
            size_t diff = left > right ? left - right : right - left;
            if (diff < best_diff) {
                best_diff = diff;
                best = k;
            }
        }
        left += s[k].len + BT_SLOT;
    }
    return best;
}

/* Shortest prefix of r that is still greater than l (l < r). */
static size_t bt_short_sep(const uint8_t *l, size_t ll, const uint8_t *r, size_t rl)
{
    size_t n = ll < rl ? ll : rl, c = 0;
    while (c < n && l[c] == r[c])
        c++;
    return c < rl ? c + 1 : rl;
}

/*
 * Split page pgno (writable image pg) while inserting `cell` at slot position pos. For a non-root
 * page the left half stays in place and the right half goes to a new page; the separator and the
 * new page come back in sep/seplen/right. For the root, both halves go to new pages and the root
 * becomes an internal page over them (*right is set to 0: nothing to insert above).
 */
static int bt_split(const eng_pageio *io, uint8_t *pg, bool is_root, unsigned pos,
                    const uint8_t *cell, size_t csize, bool append, uint8_t *sep, size_t *seplen,
                    uint32_t *right)
{
    uint32_t ps = io->page_size;
    unsigned n = bt_nslots(pg), m = n + 1;
    bool leaf = bt_is_leaf(pg);
    uint8_t *tmp = malloc(ps + sizeof(bt_span) * m);
    if (!tmp)
        return JET_errOutOfMemory;
    bt_span *s = (bt_span *)(void *)(tmp + ps);
    memcpy(tmp, pg, ps);
    int rc = 0;
    for (unsigned i = 0, j = 0; i < m; i++) {
        if (i == pos) {
            s[i] = (bt_span){cell, csize};
            continue;
        }
        size_t off, size;
        if ((rc = bt_cell_size(tmp, ps, j++, &off, &size)) < 0)
            goto out;
        s[i] = (bt_span){tmp + off, size};
    }
    long k = bt_choose_split(s, m, ps, leaf, append);
    if (k < 0) {
        rc = bt_corrupt();
        goto out;
    }
    /* Left keeps [0,k); leaf right gets [k,m), internal right gets (k,m) under child of span k. */
    unsigned rfrom = leaf ? (unsigned)k : (unsigned)k + 1;
    uint32_t lleft = bt_ld32(tmp + BT_OFF_LEFT), rleft = 0;
    if (leaf) {
        const bt_span *l = &s[k - 1], *r = &s[k];
        *seplen = bt_short_sep(l->p + BT_CELL_HDR, bt_span_klen(l), r->p + BT_CELL_HDR,
                               bt_span_klen(r));
        memcpy(sep, r->p + BT_CELL_HDR, *seplen);
    } else {
        *seplen = bt_span_klen(&s[k]);
        memcpy(sep, s[k].p + BT_CELL_HDR, *seplen);
        rleft = bt_ld32(s[k].p + 2);
    }
    uint8_t type = leaf ? ENG_PT_LEAF : ENG_PT_INTERNAL;
    uint32_t rpg;
    uint8_t *rimg;
    if ((rc = io->alloc(io->ctx, &rpg, &rimg)) < 0)
        goto out;
    bt_build(rimg, ps, type, rleft, s + rfrom, m - rfrom);
    if (!is_root) {
        bt_build(pg, ps, type, lleft, s, (unsigned)k);
        *right = rpg;
        goto out;
    }
    uint32_t lpg;
    uint8_t *limg;
    if ((rc = io->alloc(io->ctx, &lpg, &limg)) < 0)
        goto out;
    bt_build(limg, ps, type, lleft, s, (unsigned)k);
    /* The root's one cell goes where the old page copy was: no span is read any more. */
    uint8_t *rc_cell = tmp;
    bt_st16(rc_cell, (unsigned)*seplen);
    bt_st32(rc_cell + 2, rpg);
    memcpy(rc_cell + BT_CELL_HDR, sep, *seplen);
    bt_span one = {rc_cell, BT_CELL_HDR + *seplen};
    bt_build(pg, ps, ENG_PT_INTERNAL, lpg, &one, 1);
    *right = 0;
out:
    free(tmp);
    return rc;
}

/* ---------------------------------------------------------------------------------------------
 * Descent
 * ------------------------------------------------------------------------------------------- */
typedef struct bt_frame {
    uint32_t pgno;
    unsigned idx; /* internal: child taken; leaf: lower-bound position */
    const uint8_t *pg;
} bt_frame;

typedef struct bt_path {
    bt_frame f[BT_MAX_DEPTH];
    unsigned depth; /* the leaf is f[depth - 1] */
    bool found;
} bt_path;

/* Walk from the root to the leaf where key belongs (to_end: the last leaf, position past its end). */
static int bt_descend(const eng_pageio *io, uint32_t root, const uint8_t *key, size_t klen,
                      bool to_end, bt_path *p)
{
    uint32_t ps = io->page_size, pgno = root;
    for (unsigned d = 0;; d++) {
        BT_CORRUPT_IF(d == BT_MAX_DEPTH);
        const uint8_t *pg;
        int rc = bt_read(io, pgno, &pg);
        if (rc < 0)
            return rc;
        if (d > 0 && (rc = bt_child_fits(io, p->f[d - 1].pg, p->f[d - 1].idx, pgno, pg)) < 0)
            return rc;
        bt_frame *f = &p->f[d];
        f->pgno = pgno;
        f->pg = pg;
        unsigned pos;
        bool eq = false;
        if (to_end)
            pos = bt_nslots(pg);
        else if ((rc = bt_search(pg, ps, key, klen, &pos, &eq)) < 0)
            return rc;
        if (bt_is_leaf(pg)) {
            f->idx = pos;
            p->depth = d + 1;
            p->found = eq;
            return 0;
        }
        f->idx = eq ? pos + 1 : pos; /* keys equal to a separator live to its right */
        if ((rc = bt_child(pg, ps, f->idx, &pgno)) < 0)
            return rc;
    }
}

/* Move the path to the next (dir > 0) or previous leaf, positioned at its first/last cell.
 * JET_errRecordNotFound at the end of the tree. */
static int bt_step_leaf(const eng_pageio *io, bt_path *p, int dir)
{
    uint32_t ps = io->page_size;
    unsigned l = p->depth - 1;
    while (l > 0) {
        bt_frame *f = &p->f[l - 1];
        if (dir > 0 ? f->idx < bt_nslots(f->pg) : f->idx > 0)
            break;
        l--;
    }
    if (l == 0)
        return JET_errRecordNotFound;
    p->f[l - 1].idx = dir > 0 ? p->f[l - 1].idx + 1 : p->f[l - 1].idx - 1;
    for (; l < p->depth; l++) {
        uint32_t pgno = 0;
        const uint8_t *pg;
        int rc = bt_child(p->f[l - 1].pg, ps, p->f[l - 1].idx, &pgno);
        if (rc < 0)
            return rc;
        if ((rc = bt_read(io, pgno, &pg)) < 0)
            return rc;
        bool leaf = bt_is_leaf(pg);
        unsigned n = bt_nslots(pg);
        /* Leaves all sit at the same depth and only the root may be empty. */
        BT_CORRUPT_IF(leaf != (l == p->depth - 1) || (leaf && n == 0));
        if ((rc = bt_child_fits(io, p->f[l - 1].pg, p->f[l - 1].idx, pgno, pg)) < 0)
            return rc;
        p->f[l] = (bt_frame){pgno, dir > 0 ? 0 : (leaf ? n - 1 : n), pg};
    }
    return 0;
}

/* Is every page above level `level` of the path at its last child? */
static bool bt_rightmost(const bt_path *p, unsigned level)
{
    for (unsigned l = 0; l < level; l++)
        if (p->f[l].idx != bt_nslots(p->f[l].pg))
            return false;
    return true;
}

/* ---------------------------------------------------------------------------------------------
 * Overflow chains
 * ------------------------------------------------------------------------------------------- */
static int bt_ovf_read_page(const eng_pageio *io, uint32_t pgno, size_t remaining,
                            const uint8_t **pg, size_t *len)
{
    BT_CORRUPT_IF(pgno == 0);
    int rc = io->read(io->ctx, pgno, pg);
    if (rc < 0)
        return rc;
    const uint8_t *p = *pg;
    size_t cap = bt_ovf_cap(io->page_size), want = remaining < cap ? remaining : cap;
    BT_CORRUPT_IF(p[BT_OFF_TYPE] != ENG_PT_OVERFLOW || p[BT_OFF_VERSION] != BT_FORMAT_VERSION);
    BT_CORRUPT_IF(bt_ld32(p + BT_OVF_LEN) != want);
    BT_CORRUPT_IF((remaining == want) != (bt_ld32(p + BT_OVF_NEXT) == 0));
    *len = want;
    return 0;
}

static int bt_ovf_write(const eng_pageio *io, const uint8_t *val, size_t vlen, uint32_t *first)
{
    size_t cap = bt_ovf_cap(io->page_size);
    uint8_t *prev = NULL;
    for (size_t off = 0; off < vlen;) {
        uint32_t pgno;
        uint8_t *pg;
        int rc = io->alloc(io->ctx, &pgno, &pg);
        if (rc < 0)
            return rc;
        size_t len = vlen - off < cap ? vlen - off : cap;
        pg[BT_OFF_TYPE] = ENG_PT_OVERFLOW;
        pg[BT_OFF_VERSION] = BT_FORMAT_VERSION;
        bt_st16(pg + 18, 0);
        bt_st32(pg + BT_OVF_NEXT, 0);
        bt_st32(pg + BT_OVF_LEN, (uint32_t)len);
        memcpy(pg + BT_OVF_DATA, val + off, len);
        if (prev)
            bt_st32(prev + BT_OVF_NEXT, pgno);
        else
            *first = pgno;
        prev = pg;
        off += len;
    }
    return 0;
}

/* Copy the first `want` bytes of a chain holding vlen bytes. */
static int bt_ovf_copy(const eng_pageio *io, uint32_t pgno, size_t vlen, uint8_t *buf, size_t want)
{
    size_t done = 0;
    while (done < want) {
        const uint8_t *pg;
        size_t len = 0;
        int rc = bt_ovf_read_page(io, pgno, vlen - done, &pg, &len);
        if (rc < 0)
            return rc;
        size_t n = want - done < len ? want - done : len;
        memcpy(buf + done, pg + BT_OVF_DATA, n);
        done += len;
        pgno = bt_ld32(pg + BT_OVF_NEXT);
    }
    return 0;
}

static int bt_ovf_free(const eng_pageio *io, uint32_t pgno, size_t vlen)
{
    size_t done = 0;
    while (done < vlen) {
        const uint8_t *pg;
        size_t len = 0;
        int rc = bt_ovf_read_page(io, pgno, vlen - done, &pg, &len);
        if (rc < 0)
            return rc;
        uint32_t next = bt_ld32(pg + BT_OVF_NEXT);
        if ((rc = io->free(io->ctx, pgno)) < 0)
            return rc;
        done += len;
        pgno = next;
    }
    return 0;
}

/* ---------------------------------------------------------------------------------------------
 * API
 * ------------------------------------------------------------------------------------------- */
static int bt_check_key(const eng_pageio *io, const void *key, size_t klen)
{
    if (!bt_ps_ok(io) || !key || klen == 0)
        return JET_errInvalidParameter;
    if (klen > bt_key_max(io->page_size))
        return JET_errKeyTooBig;
    return 0;
}

int bt_create(const eng_pageio *io, uint32_t *root)
{
    if (!bt_ps_ok(io) || !root)
        return JET_errInvalidParameter;
    uint32_t pgno;
    uint8_t *pg;
    int rc = io->alloc(io->ctx, &pgno, &pg);
    if (rc < 0)
        return rc;
    bt_format(pg, io->page_size, ENG_PT_LEAF, 0);
    *root = pgno;
    return 0;
}

int bt_get(const eng_pageio *io, uint32_t root, const void *key, size_t klen, void *buf, size_t cbmax,
           size_t *vlen_out)
{
    int rc = bt_check_key(io, key, klen);
    if (rc < 0)
        return rc;
    if (!buf && cbmax)
        return JET_errInvalidParameter;
    bt_path p;
    if ((rc = bt_descend(io, root, key, klen, false, &p)) < 0)
        return rc;
    if (!p.found)
        return JET_errRecordNotFound;
    const bt_frame *leaf = &p.f[p.depth - 1];
    bt_lcell c;
    if ((rc = bt_leaf_cell(leaf->pg, io->page_size, leaf->idx, &c)) < 0)
        return rc;
    size_t want = cbmax < c.vlen ? cbmax : c.vlen;
    if (c.ovf) {
        if ((rc = bt_ovf_copy(io, c.first, c.vlen, buf, want)) < 0)
            return rc;
    } else if (want) {
        memcpy(buf, c.val, want);
    }
    if (vlen_out)
        *vlen_out = c.vlen;
    return 0;
}

/* Insert cell at the leaf of path p (position pos), splitting upward as needed. */
static int bt_insert_path(const eng_pageio *io, bt_path *p, unsigned pos, uint8_t *cell, size_t csize,
                          bool append)
{
    uint32_t ps = io->page_size;
    uint8_t sep[BT_KEY_MAX_ALL];
    for (unsigned l = p->depth; l-- > 0;) {
        bt_frame *f = &p->f[l];
        uint8_t *pg;
        int rc = bt_write(io, f->pgno, &pg);
        if (rc < 0)
            return rc;
        f->pg = pg;
        BT_CORRUPT_IF(pos > bt_nslots(pg));
        if ((rc = bt_make_room(pg, ps, csize)) < 0)
            return rc;
        if (rc == 1) {
            bt_insert_cell(pg, pos, cell, csize);
            return 0;
        }
        append = append && pos == bt_nslots(pg) && bt_rightmost(p, l);
        size_t seplen = 0;
        uint32_t right = 0;
        if ((rc = bt_split(io, pg, l == 0, pos, cell, csize, append, sep, &seplen, &right)) < 0)
            return rc;
        if (l == 0)
            return 0;
        bt_st16(cell, (unsigned)seplen);
        bt_st32(cell + 2, right);
        memcpy(cell + BT_CELL_HDR, sep, seplen);
        csize = BT_CELL_HDR + seplen;
        pos = p->f[l - 1].idx; /* the split child is child idx; its new sibling is child idx + 1 */
    }
    return bt_corrupt();
}

int bt_put(const eng_pageio *io, uint32_t root, const void *key, size_t klen, const void *val,
           size_t vlen, int no_overwrite)
{
    int rc = bt_check_key(io, key, klen);
    if (rc < 0)
        return rc;
    if (vlen > BT_VALUE_MAX)
        return JET_errRecordTooBig;
    if (!val && vlen)
        return JET_errInvalidParameter;
    uint32_t ps = io->page_size;
    bt_path p;
    if ((rc = bt_descend(io, root, key, klen, false, &p)) < 0)
        return rc;
    if (p.found && no_overwrite)
        return JET_errKeyDuplicate;
    bt_frame *leaf = &p.f[p.depth - 1];
    bt_lcell old = {0};
    if (p.found && (rc = bt_leaf_cell(leaf->pg, ps, leaf->idx, &old)) < 0)
        return rc;

    /* Cell header, key, and the value or a reference to its chain. */
    uint8_t cell[BT_CELL_MAX_ALL];
    bool inline_val = BT_CELL_HDR + klen + vlen <= bt_cell_max(ps);
    uint32_t first = 0;
    if (!inline_val && (rc = bt_ovf_write(io, val, vlen, &first)) < 0)
        return rc;
    bt_st16(cell, (unsigned)klen);
    bt_st32(cell + 2, (uint32_t)vlen | (inline_val ? 0 : BT_OVF_FLAG));
    memcpy(cell + BT_CELL_HDR, key, klen);
    size_t csize = BT_CELL_HDR + klen;
    if (inline_val) {
        if (vlen)
            memcpy(cell + csize, val, vlen);
        csize += vlen;
    } else {
        bt_st32(cell + csize, first);
        csize += BT_OVF_REF;
    }

    if (p.found && csize == old.size) {
        uint8_t *pg;
        if ((rc = bt_write(io, leaf->pgno, &pg)) < 0)
            return rc;
        memcpy(pg + old.off, cell, csize);
    } else {
        if (p.found) {
            uint8_t *pg;
            if ((rc = bt_write(io, leaf->pgno, &pg)) < 0)
                return rc;
            leaf->pg = pg;
            if ((rc = bt_remove_cell(pg, ps, leaf->idx)) < 0)
                return rc;
        }
        bool append = !p.found && bt_rightmost(&p, p.depth - 1);
        if ((rc = bt_insert_path(io, &p, leaf->idx, cell, csize, append)) < 0)
            return rc;
    }
    if (old.ovf)
        return bt_ovf_free(io, old.first, old.vlen);
    return 0;
}

/* The root has one child and no separator: take over the child's contents (depth shrinks). */
static int bt_collapse_root(const eng_pageio *io, uint32_t root)
{
    uint32_t ps = io->page_size;
    for (unsigned d = 0; d < BT_MAX_DEPTH; d++) {
        const uint8_t *rp;
        int rc = bt_read(io, root, &rp);
        if (rc < 0)
            return rc;
        if (bt_is_leaf(rp) || bt_nslots(rp) != 0)
            return 0;
        uint32_t child = bt_ld32(rp + BT_OFF_LEFT);
        const uint8_t *cp;
        if ((rc = bt_read(io, child, &cp)) < 0)
            return rc;
        BT_CORRUPT_IF(child == root);
        uint8_t *wp;
        if ((rc = bt_write(io, root, &wp)) < 0)
            return rc;
        memcpy(wp + BT_OFF_TYPE, cp + BT_OFF_TYPE, ps - BT_OFF_TYPE);
        if ((rc = io->free(io->ctx, child)) < 0)
            return rc;
    }
    return bt_corrupt();
}

/* The child at path level l + 1 is gone (freed): unlink it from the page at level l, and cascade
 * when that page loses its last child. */
static int bt_unlink_child(const eng_pageio *io, uint32_t root, bt_path *p, unsigned l)
{
    uint32_t ps = io->page_size;
    for (;; l--) {
        bt_frame *f = &p->f[l];
        uint8_t *pg;
        int rc = bt_write(io, f->pgno, &pg);
        if (rc < 0)
            return rc;
        f->pg = pg;
        unsigned n = bt_nslots(pg);
        BT_CORRUPT_IF(f->idx > n);
        if (n == 0) {
            if (l == 0) {
                bt_format(pg, ps, ENG_PT_LEAF, 0);
                return 0;
            }
            if ((rc = io->free(io->ctx, f->pgno)) < 0)
                return rc;
            continue;
        }
        if (f->idx == 0) {
            /* The leftmost child goes: cell 0's child becomes leftmost, its separator goes. */
            uint32_t c1 = 0;
            if ((rc = bt_child(pg, ps, 1, &c1)) < 0)
                return rc;
            bt_st32(pg + BT_OFF_LEFT, c1);
            rc = bt_remove_cell(pg, ps, 0);
        } else {
            rc = bt_remove_cell(pg, ps, f->idx - 1);
        }
        if (rc < 0)
            return rc;
        return l == 0 ? bt_collapse_root(io, root) : 0;
    }
}

int bt_delete(const eng_pageio *io, uint32_t root, const void *key, size_t klen)
{
    int rc = bt_check_key(io, key, klen);
    if (rc < 0)
        return rc;
    uint32_t ps = io->page_size;
    bt_path p;
    if ((rc = bt_descend(io, root, key, klen, false, &p)) < 0)
        return rc;
    if (!p.found)
        return JET_errRecordNotFound;
    bt_frame *leaf = &p.f[p.depth - 1];
    bt_lcell old;
    if ((rc = bt_leaf_cell(leaf->pg, ps, leaf->idx, &old)) < 0)
        return rc;
    uint8_t *pg;
    if ((rc = bt_write(io, leaf->pgno, &pg)) < 0)
        return rc;
    leaf->pg = pg;
    if ((rc = bt_remove_cell(pg, ps, leaf->idx)) < 0)
        return rc;
    if (old.ovf && (rc = bt_ovf_free(io, old.first, old.vlen)) < 0)
        return rc;
    if (bt_nslots(pg) > 0 || p.depth == 1)
        return 0;
    if ((rc = io->free(io->ctx, leaf->pgno)) < 0)
        return rc;
    return bt_unlink_child(io, root, &p, p.depth - 2);
}

int bt_seek(const eng_pageio *io, uint32_t root, const void *key, size_t klen, enum bt_seek_op op,
            uint8_t *keyout, size_t *klen_out)
{
    if (!bt_ps_ok(io) || !keyout || !klen_out || (!key && klen) || (unsigned)op > BT_SEEK_GT)
        return JET_errInvalidParameter;
    if (klen == 0 && op != BT_SEEK_GE && op != BT_SEEK_LE)
        return JET_errInvalidParameter;
    uint32_t ps = io->page_size;
    if (klen > bt_key_max(ps))
        return JET_errKeyTooBig;
    bt_path p;
    /* An empty key sorts before every key, so GE needs no special case; LE walks to the end. */
    int rc = bt_descend(io, root, key, klen, klen == 0 && op == BT_SEEK_LE, &p);
    if (rc < 0)
        return rc;
    bt_frame *leaf = &p.f[p.depth - 1];
    long i = leaf->idx, n = bt_nslots(leaf->pg);
    switch (op) {
    case BT_SEEK_EQ:
        if (!p.found)
            return JET_errRecordNotFound;
        break;
    case BT_SEEK_GE:
        break;
    case BT_SEEK_GT:
        i += p.found;
        break;
    case BT_SEEK_LE:
        i -= !p.found;
        break;
    case BT_SEEK_LT:
        i--;
        break;
    }
    if (i >= n || i < 0) {
        if ((rc = bt_step_leaf(io, &p, i < 0 ? -1 : 1)) < 0)
            return rc;
        i = p.f[p.depth - 1].idx;
    }
    const uint8_t *k = NULL;
    size_t kl = 0;
    if ((rc = bt_cell_key(p.f[p.depth - 1].pg, ps, (unsigned)i, &k, &kl)) < 0)
        return rc;
    if (klen) {
        int c = bt_keycmp(k, kl, key, klen);
        bool ok = op == BT_SEEK_EQ ? c == 0 : op == BT_SEEK_GE ? c >= 0 : op == BT_SEEK_GT ? c > 0
                                          : op == BT_SEEK_LE ? c <= 0 : c < 0;
        if (!ok)
            return bt_report(io, p.f[p.depth - 1].pgno, "seek found a key on the wrong side");
    }
    memcpy(keyout, k, kl);
    *klen_out = kl;
    return 0;
}

/* ---------------------------------------------------------------------------------------------
 * Check and destroy
 * ------------------------------------------------------------------------------------------- */

/* Set of page numbers met so far: a page referenced twice (a cycle, a shared chain) is corrupt. */
typedef struct bt_pgset {
    uint32_t *v;
    size_t cap, n;
} bt_pgset;

static int bt_pgset_add(bt_pgset *s, uint32_t pgno)
{
    if (2 * (s->n + 1) > s->cap) {
        size_t ncap = s->cap ? 2 * s->cap : 1024;
        uint32_t *nv = calloc(ncap, sizeof *nv);
        if (!nv)
            return JET_errOutOfMemory;
        for (size_t i = 0; i < s->cap; i++) {
            if (!s->v[i])
                continue;
            size_t h = (s->v[i] * 2654435761u) & (ncap - 1);
            while (nv[h])
                h = (h + 1) & (ncap - 1);
            nv[h] = s->v[i];
        }
        free(s->v);
        s->v = nv;
        s->cap = ncap;
    }
    size_t h = (pgno * 2654435761u) & (s->cap - 1);
    while (s->v[h]) {
        BT_CORRUPT_IF(s->v[h] == pgno);
        h = (h + 1) & (s->cap - 1);
    }
    s->v[h] = pgno;
    s->n++;
    return 0;
}

static int bt_check_chain(const eng_pageio *io, bt_pgset *seen, uint32_t pgno, size_t vlen)
{
    size_t done = 0;
    while (done < vlen) {
        const uint8_t *pg;
        size_t len = 0;
        int rc = bt_pgset_add(seen, pgno);
        if (rc < 0)
            return rc;
        if ((rc = bt_ovf_read_page(io, pgno, vlen - done, &pg, &len)) < 0)
            return rc;
        done += len;
        pgno = bt_ld32(pg + BT_OVF_NEXT);
    }
    return 0;
}

/* A key range [lo, hi); a NULL pointer means unbounded. */
typedef struct bt_range {
    const uint8_t *lo, *hi;
    size_t lolen, hilen;
} bt_range;

static bool bt_in_range(const bt_range *r, const uint8_t *k, size_t kl)
{
    if (r->lo && bt_keycmp(k, kl, r->lo, r->lolen) < 0)
        return false;
    return !r->hi || bt_keycmp(k, kl, r->hi, r->hilen) < 0;
}

/* Everything about one page on its own: cells inside the cell area, not overlapping, byte counts
 * adding up, keys increasing and inside the range the parent gives. */
static int bt_check_page(const uint8_t *pg, uint32_t ps, const bt_range *r)
{
    uint8_t used[BT_PAGE_MAX / 8];
    memset(used, 0, ps / 8);
    unsigned n = bt_nslots(pg);
    size_t total = 0;
    const uint8_t *prev = NULL;
    size_t prevlen = 0;
    for (unsigned i = 0; i < n; i++) {
        size_t off, size;
        int rc = bt_cell_size(pg, ps, i, &off, &size);
        if (rc < 0)
            return rc;
        for (size_t b = off; b < off + size; b++) {
            BT_CORRUPT_IF(used[b / 8] & (1u << (b % 8)));
            used[b / 8] |= (uint8_t)(1u << (b % 8));
        }
        total += size;
        const uint8_t *k = NULL;
        size_t kl = 0;
        if ((rc = bt_cell_key(pg, ps, i, &k, &kl)) < 0)
            return rc;
        BT_CORRUPT_IF(prev && bt_keycmp(prev, prevlen, k, kl) >= 0);
        BT_CORRUPT_IF(!bt_in_range(r, k, kl));
        if (bt_is_leaf(pg)) {
            bt_lcell c;
            if ((rc = bt_leaf_cell(pg, ps, i, &c)) < 0)
                return rc;
            BT_CORRUPT_IF(c.ovf ? c.vlen == 0 : c.size > bt_cell_max(ps));
        }
        prev = k;
        prevlen = kl;
    }
    BT_CORRUPT_IF(total + bt_ld16(pg + BT_OFF_FRAG) != ps - bt_cell_lo(pg));
    BT_CORRUPT_IF(bt_ld32(pg + BT_OFF_RESERVED) != 0 || (bt_is_leaf(pg) && bt_ld32(pg + BT_OFF_LEFT)));
    return 0;
}

typedef struct bt_cframe {
    uint32_t pgno;
    const uint8_t *pg;
    unsigned next; /* next child to visit */
    bt_range r;
} bt_cframe;

/* The range of child ci of an internal page whose own range is r. */
static int bt_child_range(const uint8_t *pg, uint32_t ps, unsigned ci, const bt_range *r, bt_range *out)
{
    *out = *r;
    int rc;
    if (ci > 0 && (rc = bt_cell_key(pg, ps, ci - 1, &out->lo, &out->lolen)) < 0)
        return rc;
    if (ci < bt_nslots(pg) && (rc = bt_cell_key(pg, ps, ci, &out->hi, &out->hilen)) < 0)
        return rc;
    return 0;
}

static int bt_check_leaf(const eng_pageio *io, bt_pgset *seen, const uint8_t *pg, const uint8_t **last,
                         size_t *lastlen, uint64_t *count)
{
    uint32_t ps = io->page_size;
    unsigned n = bt_nslots(pg);
    for (unsigned i = 0; i < n; i++) {
        bt_lcell c;
        int rc = bt_leaf_cell(pg, ps, i, &c);
        if (rc < 0)
            return rc;
        if (c.ovf && (rc = bt_check_chain(io, seen, c.first, c.vlen)) < 0)
            return rc;
    }
    if (n) {
        const uint8_t *k = NULL;
        size_t kl = 0;
        int rc = bt_cell_key(pg, ps, 0, &k, &kl);
        if (rc < 0)
            return rc;
        BT_CORRUPT_IF(*last && bt_keycmp(*last, *lastlen, k, kl) >= 0);
        if ((rc = bt_cell_key(pg, ps, n - 1, last, lastlen)) < 0)
            return rc;
    }
    *count += n;
    return 0;
}

static int bt_check_walk(const eng_pageio *io, uint32_t root, bt_pgset *seen, uint64_t *count)
{
    uint32_t ps = io->page_size;
    bt_cframe st[BT_MAX_DEPTH];
    unsigned depth = 0, leaf_depth = 0;
    const uint8_t *last = NULL;
    size_t lastlen = 0;
    uint32_t pgno = root;
    bt_range r = {0};
    for (;;) {
        /* Visit pgno at level `depth`. */
        BT_CORRUPT_IF(depth == BT_MAX_DEPTH);
        const uint8_t *pg;
        int rc = bt_pgset_add(seen, pgno);
        if (rc < 0)
            return rc;
        if ((rc = bt_read(io, pgno, &pg)) < 0)
            return rc;
        if ((rc = bt_check_page(pg, ps, &r)) < 0)
            return rc;
        if (bt_is_leaf(pg)) {
            BT_CORRUPT_IF(depth > 0 && bt_nslots(pg) == 0);
            BT_CORRUPT_IF(leaf_depth && depth + 1 != leaf_depth);
            leaf_depth = depth + 1;
            if ((rc = bt_check_leaf(io, seen, pg, &last, &lastlen, count)) < 0)
                return rc;
        } else {
            BT_CORRUPT_IF(leaf_depth && depth + 1 >= leaf_depth);
            st[depth++] = (bt_cframe){pgno, pg, 0, r};
        }
        /* Next child of the deepest page with children left. */
        while (depth > 0 && st[depth - 1].next > bt_nslots(st[depth - 1].pg))
            depth--;
        if (depth == 0)
            return 0;
        bt_cframe *f = &st[depth - 1];
        if ((rc = bt_child(f->pg, ps, f->next, &pgno)) < 0)
            return rc;
        if ((rc = bt_child_range(f->pg, ps, f->next, &f->r, &r)) < 0)
            return rc;
        f->next++;
    }
}

int bt_check(const eng_pageio *io, uint32_t root, uint64_t *nrecords)
{
    if (!bt_ps_ok(io))
        return JET_errInvalidParameter;
    bt_pgset seen = {0};
    uint64_t count = 0;
    int rc = bt_check_walk(io, root, &seen, &count);
    free(seen.v);
    if (rc == 0 && nrecords)
        *nrecords = count;
    return rc;
}

/* Free every page of a tree that passed bt_check: children before parents, root last. */
static int bt_free_walk(const eng_pageio *io, uint32_t root)
{
    uint32_t ps = io->page_size;
    struct {
        uint32_t pgno;
        const uint8_t *pg;
        unsigned next;
    } st[BT_MAX_DEPTH];
    unsigned depth = 0;
    uint32_t pgno = root;
    for (;;) {
        BT_CORRUPT_IF(depth == BT_MAX_DEPTH);
        const uint8_t *pg;
        int rc = bt_read(io, pgno, &pg);
        if (rc < 0)
            return rc;
        if (bt_is_leaf(pg)) {
            for (unsigned i = 0; i < bt_nslots(pg); i++) {
                bt_lcell c;
                if ((rc = bt_leaf_cell(pg, ps, i, &c)) < 0)
                    return rc;
                if (c.ovf && (rc = bt_ovf_free(io, c.first, c.vlen)) < 0)
                    return rc;
            }
            if ((rc = io->free(io->ctx, pgno)) < 0)
                return rc;
        } else {
            st[depth].pgno = pgno;
            st[depth].pg = pg;
            st[depth].next = 0;
            depth++;
        }
        while (depth > 0 && st[depth - 1].next > bt_nslots(st[depth - 1].pg)) {
            depth--;
            if ((rc = io->free(io->ctx, st[depth].pgno)) < 0)
                return rc;
        }
        if (depth == 0)
            return 0;
        if ((rc = bt_child(st[depth - 1].pg, ps, st[depth - 1].next++, &pgno)) < 0)
            return rc;
    }
}

int bt_destroy(const eng_pageio *io, uint32_t root)
{
    /* Freeing a page twice would corrupt the database's free space for good, so a tree that does
     * not pass the check is left alone. */
    int rc = bt_check(io, root, NULL);
    if (rc < 0)
        return rc;
    return bt_free_walk(io, root);
}
