/*
 * fuzz-page.c — fuzz target for page decoding: bt_page_validate (the check every page read from
 * disk gets) and the B+tree code that walks, searches, scans and changes the pages behind it.
 *
 * Built two ways (tests/fuzz/meson.build):
 *  - with -Dfuzz=true and clang: a libFuzzer binary "fuzz-page" (btree.c compiled into it with
 *    coverage), run as ./fuzz-page -max_len=131073 CORPUS_DIR tests/fuzz/corpus-page
 *  - always: "fuzz-page-replay" (FUZZ_REPLAY_MAIN), which runs every file of the directories or
 *    files named on its command line through the same target; the unit test fuzz-page-corpus
 *    replays tests/fuzz/corpus-page/ so every build exercises the corpus. With --make-seeds DIR
 *    it writes seed inputs: trees the B+tree itself built.
 *
 * Input: byte 0 holds flags (bit 0: 8 KiB pages, else 4 KiB; bits 1..7 seed the operations), then
 * pages 1..n of the tree (n <= FZ_PAGES, the last one zero-padded), page 1 its root. Bytes 0..15
 * of each page belong to the pager: the target stamps the page number there and recomputes the
 * checksum (eng_page_seal), so a mutated page passes its checksum and only the structure checks
 * stand between it and the B+tree, exactly as for crafted damage on disk.
 *
 * Pages are handed to the B+tree as the engine does: a page read for the first time is checked
 * with eng_page_verify and bt_page_validate (the cache on a miss); a page the B+tree changed is
 * handed back as it is (the transaction's private copy).
 *
 * Besides "no crash, no leak, no undefined behaviour", the target checks:
 *  - every call answers 0 or an error the B+tree may give here, never anything else;
 *  - a scan (seek GE, then GT from the key it is on; and backwards) ends within as many steps as
 *    the pages hold cells, and its keys strictly increase (decrease): damage never makes it loop
 *    or step back;
 *  - a seek's answer stands in the asked relation to the key;
 *  - when bt_check accepts the tree: the scans see exactly its records, every one of them can be
 *    read, inserts and deletes never report damage, every page they leave behind passes
 *    bt_page_validate (the check must not refuse what the engine writes), the tree still passes
 *    bt_check with the expected record count, and bt_destroy frees every page exactly once.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine-int.h"
#include "replay.h"


#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "fuzz-page: check failed: %s (line %d)\n", #cond, __LINE__);            \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

#define FZ_PAGES 16     /* pages an input may hold */
#define FZ_MAX 96       /* page numbers the B+tree may use, allocations included */
#define FZ_KEY_MAX 2000 /* bt_key_max of the largest page size used */

typedef struct fz {
    eng_pageio io;
    uint32_t ps;
    uint32_t n;               /* pages 1..n exist (input pages, then allocations) */
    uint8_t *img[FZ_MAX + 1];
    bool dirty[FZ_MAX + 1];   /* changed by the B+tree: handed back without a check */
    bool freed[FZ_MAX + 1];
    bool checked[FZ_MAX + 1]; /* passed eng_page_verify + bt_page_validate once */
    int misuse;               /* a free of a free page, a write of a page never there */
    unsigned reports;         /* io.corrupt calls */
} fz;

static int fz_read(void *ctx, uint32_t pgno, const uint8_t **page)
{
    fz *f = ctx;
    if (pgno == 0 || pgno > f->n)
        return JET_errDatabaseCorrupted;
    if (!f->dirty[pgno] && !f->checked[pgno]) {
        /* What the cache does on a miss; the page is immutable until written, so once is enough. */
        if (eng_page_verify(f->img[pgno], pgno, f->ps))
            return JET_errReadVerifyFailure;
        if (bt_page_validate(f->img[pgno], f->ps, pgno, 2, f->n + 1, NULL))
            return JET_errDatabaseCorrupted;
        f->checked[pgno] = true;
    }
    *page = f->img[pgno];
    return 0;
}

static int fz_write(void *ctx, uint32_t pgno, uint8_t **page)
{
    fz *f = ctx;
    if (pgno == 0 || pgno > f->n) {
        f->misuse++;
        return JET_errDatabaseCorrupted;
    }
    if (!f->dirty[pgno]) {
        /* The B+tree validated the page through read() before changing it, as in the engine. */
        const uint8_t *unused;
        int rc = fz_read(f, pgno, &unused);
        if (rc)
            return rc;
        f->dirty[pgno] = true;
    }
    *page = f->img[pgno];
    return 0;
}

static int fz_alloc(void *ctx, uint32_t *pgno, uint8_t **page)
{
    fz *f = ctx;
    if (f->n == FZ_MAX)
        return JET_errDiskFull;
    uint32_t p = ++f->n;
    f->img[p] = calloc(1, f->ps);
    CHECK(f->img[p]);
    eng_st32(f->img[p] + 4, p);
    f->dirty[p] = true;
    *pgno = p;
    *page = f->img[p];
    return 0;
}

static int fz_free(void *ctx, uint32_t pgno)
{
    fz *f = ctx;
    if (pgno == 0 || pgno > f->n || f->freed[pgno]) {
        f->misuse++;
        return JET_errDatabaseCorrupted;
    }
    /* As the pager formats a freed page: type ENG_PT_FREE, which the B+tree refuses to read. */
    memset(f->img[pgno] + ENG_PAGE_HDR_PAGER, 0, f->ps - ENG_PAGE_HDR_PAGER);
    f->freed[pgno] = true;
    f->dirty[pgno] = true;
    return 0;
}

static void fz_corrupt(void *ctx, uint32_t pgno, const char *why)
{
    fz *f = ctx;
    CHECK(why && *why);
    (void)pgno;
    f->reports++;
}

static void fz_init(fz *f, uint32_t ps)
{
    memset(f, 0, sizeof *f);
    f->ps = ps;
    f->io = (eng_pageio){f, ps, fz_read, fz_write, fz_alloc, fz_free, fz_corrupt};
}

static void fz_release(fz *f)
{
    for (uint32_t p = 1; p <= f->n; p++)
        free(f->img[p]);
}

/* A small deterministic generator for the operations (splitmix64). */
static uint64_t next_rand(uint64_t *s)
{
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static int keycmp(const uint8_t *a, size_t al, const uint8_t *b, size_t bl)
{
    size_t n = al < bl ? al : bl;
    int c = n ? memcmp(a, b, n) : 0;
    return c ? c : (al > bl) - (al < bl);
}

static bool seek_rc_ok(int rc)
{
    return rc == 0 || rc == JET_errRecordNotFound || rc == JET_errDatabaseCorrupted;
}

/* Keys a scan met, kept for lookups and for deriving keys to insert and delete. */
#define FZ_KEEP 32
typedef struct keys {
    uint8_t k[FZ_KEEP][FZ_KEY_MAX];
    size_t len[FZ_KEEP];
    unsigned n;
} keys;

/* Scan in one direction; returns the final error and counts steps. */
static int scan(fz *f, int dir, unsigned long bound, unsigned long *count, keys *kept)
{
    static uint8_t cur[FZ_KEY_MAX], prev[FZ_KEY_MAX];
    size_t cl = 0, pl = 0;
    unsigned long n = 0;
    int rc = bt_seek(&f->io, 1, NULL, 0, dir > 0 ? BT_SEEK_GE : BT_SEEK_LE, cur, &cl);
    while (rc == 0) {
        n++;
        CHECK(n <= bound); /* a scan ends: it never meets more keys than the pages hold */
        CHECK(cl >= 1 && cl <= bt_key_max(f->ps));
        if (n > 1)
            CHECK(dir > 0 ? keycmp(cur, cl, prev, pl) > 0 : keycmp(cur, cl, prev, pl) < 0);
        if (kept && kept->n < FZ_KEEP) {
            memcpy(kept->k[kept->n], cur, cl);
            kept->len[kept->n++] = cl;
        }
        memcpy(prev, cur, cl);
        pl = cl;
        rc = bt_seek(&f->io, 1, prev, pl, dir > 0 ? BT_SEEK_GT : BT_SEEK_LT, cur, &cl);
    }
    CHECK(rc == JET_errRecordNotFound || rc == JET_errDatabaseCorrupted);
    *count = n;
    return rc;
}

static void check_seek(fz *f, const uint8_t *key, size_t kl, enum bt_seek_op op)
{
    static uint8_t out[FZ_KEY_MAX];
    size_t ol = 0;
    int rc = bt_seek(&f->io, 1, key, kl, op, out, &ol);
    CHECK(seek_rc_ok(rc));
    if (rc == 0) {
        int c = keycmp(out, ol, key, kl);
        CHECK(op == BT_SEEK_EQ ? c == 0 : op == BT_SEEK_GE ? c >= 0 : op == BT_SEEK_GT ? c > 0
              : op == BT_SEEK_LE ? c <= 0 : c < 0);
    }
}

/* Make a key near one the scan met (or a fresh one): the same, one byte changed, shorter, longer. */
static size_t derive_key(const keys *kept, uint64_t *s, uint8_t *k)
{
    uint64_t r = next_rand(s);
    if (!kept->n || r % 5 == 0) {
        size_t kl = 1 + (size_t)(r >> 8) % 12;
        for (size_t i = 0; i < kl; i++)
            k[i] = (uint8_t)next_rand(s);
        return kl;
    }
    unsigned i = (unsigned)((r >> 8) % kept->n);
    size_t kl = kept->len[i];
    memcpy(k, kept->k[i], kl);
    switch ((r >> 20) % 4) {
    case 0:
        break;
    case 1:
        k[kl - 1] ^= (uint8_t)(1 + (r >> 24) % 255);
        break;
    case 2:
        if (kl > 1)
            kl--;
        break;
    default:
        if (kl < 200)
            k[kl++] = (uint8_t)(r >> 32);
        break;
    }
    return kl;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    uint32_t ps = (data[0] & 1) ? 8192 : 4096;
    uint64_t seed = data[0] >> 1;
    data++;
    size--;
    size_t npg = (size + ps - 1) / ps;
    if (npg > FZ_PAGES)
        npg = FZ_PAGES;
    static fz f;
    fz_init(&f, ps);
    f.n = (uint32_t)npg;
    unsigned long cells = 0;
    for (uint32_t p = 1; p <= f.n; p++) {
        f.img[p] = calloc(1, ps);
        CHECK(f.img[p]);
        size_t off = (size_t)(p - 1) * ps, len = size - off < ps ? size - off : ps;
        memcpy(f.img[p], data + off, len);
        eng_page_seal(f.img[p], p, ps);
        uint8_t t = f.img[p][16];
        if (t == ENG_PT_LEAF || t == ENG_PT_INTERNAL)
            cells += eng_ld32(f.img[p] + 18) & 0xffff;
        /* The check must be a pure function of the page and must not disagree with itself. */
        const char *why = NULL;
        int v = bt_page_validate(f.img[p], ps, p, 2, f.n + 1, &why);
        CHECK(v == 0 ? why == NULL : (v == JET_errDatabaseCorrupted && why && *why));
    }

    uint64_t nrec = 0;
    int rc = bt_check(&f.io, 1, &nrec);
    CHECK(rc == 0 || rc == JET_errDatabaseCorrupted);
    bool valid = rc == 0;

    static keys kept;
    kept.n = 0;
    unsigned long fwd = 0, back = 0;
    int rf = scan(&f, 1, cells + 1, &fwd, &kept);
    int rb = scan(&f, -1, cells + 1, &back, NULL);
    if (valid) {
        CHECK(rf == JET_errRecordNotFound && rb == JET_errRecordNotFound);
        CHECK(fwd == nrec && back == nrec);
        CHECK(f.reports == 0);
    }
    static uint8_t buf[3 * 32768];
    for (unsigned i = 0; i < kept.n; i++) {
        size_t vl = 0;
        rc = bt_get(&f.io, 1, kept.k[i], kept.len[i], buf, sizeof buf, &vl);
        CHECK(valid ? rc == 0 : seek_rc_ok(rc));
        if (rc == 0)
            CHECK(vl <= BT_VALUE_MAX);
    }
    uint8_t key[FZ_KEY_MAX];
    for (int i = 0; i < 10; i++) {
        size_t kl = derive_key(&kept, &seed, key);
        check_seek(&f, key, kl, (enum bt_seek_op)(i % 5));
    }

    /* Changes. On a tree bt_check accepts they must work and leave pages the check accepts. */
    uint64_t expect = nrec;
    bool full = false;
    for (int i = 0; i < 8 && !full; i++) {
        size_t kl = derive_key(&kept, &seed, key);
        uint64_t r = next_rand(&seed);
        size_t had = 0;
        int g = bt_get(&f.io, 1, key, kl, NULL, 0, &had);
        CHECK(valid ? (g == 0 || g == JET_errRecordNotFound) : seek_rc_ok(g));
        if (r % 3 == 0) {
            rc = bt_delete(&f.io, 1, key, kl);
            if (valid) {
                CHECK(rc == (g == 0 ? 0 : JET_errRecordNotFound));
                expect -= rc == 0;
            }
        } else {
            size_t vl = (r >> 8) % 4 == 0 ? (size_t)(r >> 16) % (2 * ps) : (size_t)(r >> 16) % 100;
            memset(buf, (int)(r >> 40), vl);
            int no_overwrite = (int)((r >> 48) & 1);
            rc = bt_put(&f.io, 1, key, kl, buf, vl, no_overwrite);
            if (rc == JET_errDiskFull) {
                full = true; /* a half-done change: the engine throws the transaction away */
            } else if (valid) {
                CHECK(rc == (g == 0 && no_overwrite ? JET_errKeyDuplicate : 0));
                expect += g != 0 && rc == 0;
            }
        }
        CHECK(rc == 0 || rc == JET_errRecordNotFound || rc == JET_errKeyDuplicate ||
              rc == JET_errDatabaseCorrupted || rc == JET_errDiskFull);
        if (!valid && rc == JET_errDatabaseCorrupted)
            break; /* the engine would discard the transaction's changes here */
    }
    if (valid && !full) {
        CHECK(f.misuse == 0);
        for (uint32_t p = 1; p <= f.n; p++) {
            const char *why = NULL;
            if (f.dirty[p] && !f.freed[p] &&
                bt_page_validate(f.img[p], ps, p, 2, f.n + 1, &why) != 0) {
                fprintf(stderr, "fuzz-page: page %u the B+tree wrote is refused: %s\n", p, why);
                abort();
            }
        }
        uint64_t after = 0;
        CHECK(bt_check(&f.io, 1, &after) == 0);
        CHECK(after == expect);
        CHECK(bt_destroy(&f.io, 1) == 0);
        CHECK(f.misuse == 0);
        /* Every page of the tree, and only those, was freed once: the input's pages that were
         * not part of it stay, and no allocated page is left over. */
        for (uint32_t p = (uint32_t)npg + 1; p <= f.n; p++)
            CHECK(f.freed[p]);
        CHECK(f.freed[1]);
    }
    fz_release(&f);
    return 0;
}

#ifdef FUZZ_REPLAY_MAIN
/* One seed: a tree the B+tree built from nrec records (keys of klen bytes, every big_every-th value
 * long enough for an overflow chain), written as an input if it fits in FZ_PAGES pages. */
static int make_seed(const char *dir, const char *name, uint32_t ps, unsigned nrec, size_t klen,
                     unsigned big_every, unsigned ndelete)
{
    static fz f;
    fz_init(&f, ps);
    uint32_t root = 0;
    CHECK(bt_create(&f.io, &root) == 0 && root == 1);
    static uint8_t val[3 * 8192];
    uint8_t key[FZ_KEY_MAX];
    uint64_t s = nrec * 31 + klen;
    for (unsigned i = 0; i < nrec; i++) {
        for (size_t b = 0; b < klen; b++)
            key[b] = (uint8_t)(b < 4 ? (i * 2654435761u) >> (24 - 8 * b) : next_rand(&s));
        size_t vl = big_every && i % big_every == 0 ? 2 * ps + 100 : 10 + i % 40;
        memset(val, (int)i, vl);
        CHECK(bt_put(&f.io, root, key, klen, val, vl, 0) == 0);
    }
    for (unsigned i = 0; i < ndelete; i++) {
        for (size_t b = 0; b < 4 && b < klen; b++)
            key[b] = (uint8_t)((i * 3 * 2654435761u) >> (24 - 8 * b));
        (void)bt_delete(&f.io, root, key, klen < 4 ? klen : 4);
    }
    int bad = 0;
    if (f.n > FZ_PAGES) {
        fprintf(stderr, "seed %s: %u pages, more than %d\n", name, f.n, FZ_PAGES);
        bad = 1;
    } else {
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", dir, name);
        FILE *out = fopen(path, "wb");
        uint8_t flags = (uint8_t)((ps == 8192) | (uint8_t)(nrec << 1));
        if (!out || fwrite(&flags, 1, 1, out) != 1)
            bad = 1;
        for (uint32_t p = 1; p <= f.n && !bad; p++) {
            eng_page_seal(f.img[p], p, ps);
            if (fwrite(f.img[p], 1, ps, out) != ps)
                bad = 1;
        }
        if (!out || fclose(out))
            bad = 1;
    }
    fz_release(&f);
    return bad;
}

int main(int argc, char **argv)
{
    if (argc == 3 && !strcmp(argv[1], "--make-seeds")) {
        int bad = 0;
        bad |= make_seed(argv[2], "seed-empty", 4096, 0, 4, 0, 0);
        bad |= make_seed(argv[2], "seed-leaf", 4096, 40, 4, 0, 0);
        bad |= make_seed(argv[2], "seed-two-levels", 4096, 400, 4, 0, 0);
        bad |= make_seed(argv[2], "seed-overflow", 4096, 60, 4, 15, 0);
        bad |= make_seed(argv[2], "seed-long-keys", 4096, 24, 300, 0, 0);
        bad |= make_seed(argv[2], "seed-deleted", 4096, 400, 4, 0, 150);
        bad |= make_seed(argv[2], "seed-8k", 8192, 150, 6, 50, 0);
        return bad;
    }
    return fuzz_replay("fuzz-page-replay", argc - 1, argv + 1);
}
#endif
