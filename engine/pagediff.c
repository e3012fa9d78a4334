/*
 * pagediff.c — the byte ranges a commit changed in a page, as carried by ENG_LR_PAGEDIFF records.
 *
 * Why: logging the whole page for every commit made a one-record durable commit write a full page
 * (8 KiB by default) to the log, which is what filled the log during a backup under load and made
 * every fsync carry a page. A diff of a B+tree leaf after one put is usually a few hundred bytes.
 *
 * Encoding (after the 16-byte record header, ENG_REC_DIFF_HDR: records.c): runs of
 *   u16 offset, u16 length, `length` bytes — the new contents of [offset, offset+length).
 * Offsets and lengths are multiples of 8 (the diff compares 8-byte words), runs are in increasing
 * order and never overlap, and never touch bytes 0..15 (the pager's checksum, page number and
 * LSN, which redo sets itself).
 */
#include <string.h>

#include "engine-int.h"

#define WORD 8u

long eng_pagediff_encode(const uint8_t *old, const uint8_t *cur, uint32_t ps, uint8_t *out, size_t cap)
{
    size_t n = 0;
    uint32_t off = ENG_DIFF_FIRST;
    while (off < ps) {
        if (!memcmp(old + off, cur + off, WORD)) {
            off += WORD;
            continue;
        }
        uint32_t start = off;
        while (off < ps && memcmp(old + off, cur + off, WORD))
            off += WORD;
        uint32_t len = off - start;
        if (n + 4 + len > cap)
            return -1;
        eng_st16(out + n, (uint16_t)start);
        eng_st16(out + n + 2, (uint16_t)len);
        memcpy(out + n + 4, cur + start, len);
        n += 4 + len;
    }
    return (long)n;
}

long eng_pagediff_check(const uint8_t *runs, size_t len, uint32_t ps)
{
    size_t i = 0;
    uint32_t next = ENG_DIFF_FIRST;
    while (i < len) {
        ENG_RETURN_IF(len - i < 4, JET_errLogCorrupted,
                      "a diff run's 4-byte header is cut off by the record's end");
        uint32_t off = eng_ld16(runs + i), n = eng_ld16(runs + i + 2);
        ENG_RETURN_IF(off < next || n == 0 || (off | n) % WORD || (uint64_t)off + n > ps ||
                          len - i - 4 < n,
                      JET_errLogCorrupted,
                      "a diff run is empty, unaligned, overlapping, or past the page or record");
        next = off + n;
        i += 4 + n;
    }
    return JET_errSuccess;
}

void eng_pagediff_apply(uint8_t *page, const uint8_t *runs, size_t len)
{
    size_t i = 0;
    while (i < len) {
        uint32_t off = eng_ld16(runs + i), n = eng_ld16(runs + i + 2);
        memcpy(page + off, runs + i + 4, n);
        i += 4 + n;
    }
}
