/*
 * dbfile.c — database file format: the header (kept twice) and page checksums.
 *
 * File layout (all integers little-endian):
 *   offset 0              header copy A (one page-size block)
 *   offset page_size      header copy B
 *   offset (p+1)*ps       page p, for p = 1 .. npages-1 (page 1: meta, page 2: catalog root)
 *   A cleanly shut down file is exactly (npages+1)*ps bytes long; attach refuses any other size.
 *
 * Header block (first 512 bytes used, rest zero), format version 1:
 *   0   u32  CRC-32C of bytes 4..511
 *   4   8B   magic "JSNAPDB\0"
 *   12  u32  format version (1)
 *   16  u32  page size
 *   20  u32  state: 1 just created, 2 dirty (attached or crashed), 3 clean
 *   24  u64  sequence number, +1 on every header write (the newer valid copy wins)
 *   32  u64  database signature: random
 *   40  u64  database signature: creation time (µs since the epoch)
 *   48  u64  log set signature: random     (the log set of the last attachment)
 *   56  u64  log set signature: time
 *   64  u64  LSN of the ATTACH record of the last attachment
 *   72  u64  LSN at which the database was last made consistent
 *   80  u64  LSN of the last detach
 *   88  u64  time of the last consistent point (µs)
 *   96  u32  1 = a restored backup image that still needs hard recovery
 *   100 6 backup records of 28 bytes each, in this order: last full, last incremental, last copy,
 *       last differential, the backup in progress (only in a streamed copy), the OS snapshot in
 *       progress. Each: u64 LSN of the mark, u64 time of the mark (µs), u32 first generation,
 *       u32 last generation, u32 kind (0 none, 1 streaming, 2 OS snapshot).
 *   268..511 reserved (zero)
 * Copy A is written and fsync'ed before copy B, so a torn header write leaves one good copy.
 *
 * Page (every page p >= 1):
 *   0  u32  CRC-32C of bytes 4..ps-1, seeded with the page number (a page written at the wrong
 *           offset fails the check even if its bytes are intact)
 *   4  u32  page number
 *   8  u64  LSN of the commit that last changed the page
 *   16 u8   page type (btree-int.h), then the owner's layout
 */
#include <string.h>

#include "engine-int.h"

#define HDR_BYTES 512
#define HDR_VERSION 1
static const char magic[8] = {'J', 'S', 'N', 'A', 'P', 'D', 'B', 0};

static void hdr_encode(const eng_dbhdr *h, uint8_t *b)
{
    memset(b, 0, HDR_BYTES);
    memcpy(b + 4, magic, 8);
    eng_st32(b + 12, h->version);
    eng_st32(b + 16, h->page_size);
    eng_st32(b + 20, h->state);
    eng_st64(b + 24, h->seq);
    eng_st64(b + 32, h->sig.random);
    eng_st64(b + 40, h->sig.create_time_usec);
    eng_st64(b + 48, h->log_sig.random);
    eng_st64(b + 56, h->log_sig.create_time_usec);
    eng_st64(b + 64, h->lsn_attach);
    eng_st64(b + 72, h->lsn_consistent);
    eng_st64(b + 80, h->lsn_detach);
    eng_st64(b + 88, h->time_consistent_usec);
    eng_st32(b + 96, h->backup_restored);
    const eng_bkinfo *bk[6] = {&h->bk_full, &h->bk_inc, &h->bk_copy, &h->bk_diff, &h->bk_cur, &h->bk_snap};
    for (int i = 0; i < 6; i++) {
        uint8_t *q = b + 100 + 28 * i;
        eng_st64(q, bk[i]->mark);
        eng_st64(q + 8, bk[i]->mark_usec);
        eng_st32(q + 16, bk[i]->gen_low);
        eng_st32(q + 20, bk[i]->gen_high);
        eng_st32(q + 24, bk[i]->type);
    }
    eng_st32(b, eng_crc32c(0, b + 4, HDR_BYTES - 4));
}

void eng_dbhdr_encode(const eng_dbhdr *h, uint8_t *block)
{
    eng_dbhdr c = *h;
    c.version = HDR_VERSION;
    memset(block, 0, h->page_size);
    hdr_encode(&c, block);
}

/* 0: valid; 1: not a jetsnap header at all; 2: damaged jetsnap header; 3: other version. */
static int hdr_decode(const uint8_t *b, eng_dbhdr *h)
{
    if (memcmp(b + 4, magic, 8) != 0)
        return 1;
    if (eng_ld32(b) != eng_crc32c(0, b + 4, HDR_BYTES - 4))
        return 2;
    h->version = eng_ld32(b + 12);
    if (h->version != HDR_VERSION)
        return 3;
    h->page_size = eng_ld32(b + 16);
    h->state = eng_ld32(b + 20);
    h->seq = eng_ld64(b + 24);
    h->sig.random = eng_ld64(b + 32);
    h->sig.create_time_usec = eng_ld64(b + 40);
    h->log_sig.random = eng_ld64(b + 48);
    h->log_sig.create_time_usec = eng_ld64(b + 56);
    h->lsn_attach = eng_ld64(b + 64);
    h->lsn_consistent = eng_ld64(b + 72);
    h->lsn_detach = eng_ld64(b + 80);
    h->time_consistent_usec = eng_ld64(b + 88);
    h->backup_restored = eng_ld32(b + 96);
    eng_bkinfo *bk[6] = {&h->bk_full, &h->bk_inc, &h->bk_copy, &h->bk_diff, &h->bk_cur, &h->bk_snap};
    for (int i = 0; i < 6; i++) {
        const uint8_t *q = b + 100 + 28 * i;
        bk[i]->mark = eng_ld64(q);
        bk[i]->mark_usec = eng_ld64(q + 8);
        bk[i]->gen_low = eng_ld32(q + 16);
        bk[i]->gen_high = eng_ld32(q + 20);
        bk[i]->type = eng_ld32(q + 24);
    }
    return 0;
}

long eng_dbhdr_read(int fd, uint32_t expect_ps, eng_dbhdr *out)
{
    uint8_t a[HDR_BYTES], b[HDR_BYTES];
    eng_dbhdr ha, hb;
    ssize_t n = eng_io_pread(fd, a, HDR_BYTES, 0);
    ENG_RETURN_IF(n < 0, eng_io_errno_to_jet((int)n, 0), "the database header cannot be read");
    ENG_RETURN_IF(n < HDR_BYTES, JET_errDatabaseCorrupted,
                  "the file is too short to hold a database header");
    int ra = hdr_decode(a, &ha);
    int rb = 1;
    /* Copy B sits one page further; its position depends on the page size, which copy A tells
     * us, or (A damaged) one of the allowed sizes. */
    uint32_t sizes[4] = {4096, 8192, 16384, 32768};
    for (int i = 0; i < 4 && rb; i++) {
        uint32_t ps = ra == 0 ? ha.page_size : sizes[i];
        if (ra == 0 && i > 0)
            break;
        n = eng_io_pread(fd, b, HDR_BYTES, ps);
        if (n == HDR_BYTES) {
            rb = hdr_decode(b, &hb);
            if (rb == 0 && hb.page_size != ps)
                rb = 2;
        }
    }
    if (ra == 3 || rb == 3)
        ENG_RETURN_IF(ra != 0 && rb != 0, JET_errInvalidDatabaseVersion,
                      "no header copy is valid and one has an unknown format version");
    ENG_RETURN_IF(ra != 0 && rb != 0, JET_errDatabaseCorrupted,
                  "neither copy of the database header is valid");
    const eng_dbhdr *h = ra != 0 ? &hb : rb != 0 ? &ha : (ha.seq >= hb.seq ? &ha : &hb);
    ENG_RETURN_IF(h->page_size != 4096 && h->page_size != 8192 && h->page_size != 16384 &&
                      h->page_size != 32768,
                  JET_errDatabaseCorrupted,
                  "the database header's page size is not 4, 8, 16 or 32 KiB");
    ENG_RETURN_IF(expect_ps && h->page_size != expect_ps, JET_errPageSizeMismatch,
                  "the database's page size differs from the instance's");
    *out = *h;
    return JET_errSuccess;
}

long eng_dbhdr_decode(const uint8_t *block, size_t len, eng_dbhdr *out)
{
    ENG_RETURN_IF(len < HDR_BYTES, JET_errDatabaseCorrupted, "a header block is shorter than the header");
    eng_dbhdr h;
    int r = hdr_decode(block, &h);
    ENG_RETURN_IF(r == 3, JET_errInvalidDatabaseVersion, "the header has an unknown format version");
    ENG_RETURN_IF(r != 0, JET_errDatabaseCorrupted, "the header's magic or checksum is wrong");
    ENG_RETURN_IF(h.page_size != 4096 && h.page_size != 8192 && h.page_size != 16384 && h.page_size != 32768,
                  JET_errDatabaseCorrupted, "the header's page size is not 4, 8, 16 or 32 KiB");
    /* The checksum covers the used bytes only; the rest of an encoded block is zero. */
    for (size_t i = HDR_BYTES; i < len; i++)
        ENG_RETURN_IF(block[i], JET_errDatabaseCorrupted, "the unused part of a header block is not zero");
    *out = h;
    return JET_errSuccess;
}

long eng_dbhdr_write(int fd, eng_dbhdr *h)
{
    uint8_t b[HDR_BYTES];
    h->version = HDR_VERSION;
    h->seq++;
    hdr_encode(h, b);
    int r = eng_io_pwrite(fd, b, HDR_BYTES, 0);
    if (!r)
        r = eng_io_fdatasync(fd);
    if (!r)
        r = eng_io_pwrite(fd, b, HDR_BYTES, h->page_size);
    if (!r)
        r = eng_io_fdatasync(fd);
    ENG_RETURN_IF(r < 0, eng_io_errno_to_jet(r, 0),
                  "the database header cannot be written and synced");
    return JET_errSuccess;
}

void eng_page_seal(uint8_t *page, uint32_t pgno, uint32_t ps)
{
    eng_st32(page + 4, pgno);
    eng_st32(page, eng_crc32c(pgno, page + 4, ps - 4));
}

long eng_page_verify(const uint8_t *page, uint32_t pgno, uint32_t ps)
{
    if (eng_ld32(page) != eng_crc32c(pgno, page + 4, ps - 4) || eng_ld32(page + 4) != pgno)
        return JET_errReadVerifyFailure;
    return JET_errSuccess;
}
