/*
 * crc32c.c — CRC-32C (Castagnoli polynomial 0x82F63B78, reflected), the checksum of pages, log
 * records, file headers and backup streams. Uses the SSE4.2 crc32 instruction in three interleaved
 * chains when the CPU has it, otherwise a slicing-by-8 table. Both give identical results
 * (checked by tests/unit/test-crc.c).
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "io-int.h"
#include "jet.h"
#include "testhooks-int.h"

static uint32_t table[8][256];

static void init_table(void)
{
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++)
            c = c & 1 ? (c >> 1) ^ 0x82F63B78u : c >> 1;
        table[0][i] = c;
    }
    for (uint32_t i = 0; i < 256; i++)
        for (int t = 1; t < 8; t++)
            table[t][i] = (table[t - 1][i] >> 8) ^ table[0][table[t - 1][i] & 0xff];
}

uint32_t eng_crc32c_sw(uint32_t crc, const void *buf, size_t len)
{
    const uint8_t *p = buf;
    crc = ~crc;
    while (len >= 8) {
        uint64_t v;
        memcpy(&v, p, 8);
        v ^= crc;
        crc = table[7][v & 0xff] ^ table[6][(v >> 8) & 0xff] ^ table[5][(v >> 16) & 0xff] ^
              table[4][(v >> 24) & 0xff] ^ table[3][(v >> 32) & 0xff] ^ table[2][(v >> 40) & 0xff] ^
              table[1][(v >> 48) & 0xff] ^ table[0][v >> 56];
        p += 8;
        len -= 8;
    }
    while (len--)
        crc = (crc >> 8) ^ table[0][(crc ^ *p++) & 0xff];
    return ~crc;
}

#if defined(__x86_64__)
/* The crc32 instruction takes 3 cycles to give its result but can start one every cycle, so one
 * dependent chain runs at a third of its speed. Three chains over three adjacent blocks run at
 * full speed; their registers are then joined: the register after A||B is the register after A
 * moved over |B| zero bytes, xor the register of B from zero (the CRC is linear without its
 * pre- and post-inversion). Moving over a fixed length is a 32x32 bit matrix, kept as four
 * 256-entry tables. Backup streams and page checks checksum every byte a backup moves. */
#define CRC_LONG 8192u /* bytes per chain in a long round: 24 KiB per round */
#define CRC_SHORT 256u /* per chain in a short round, for the rest of a 4 KiB..8 KiB page */

static uint32_t long_shift[4][256], short_shift[4][256];

__attribute__((target("sse4.2"))) static uint32_t zeros_hw(uint32_t reg, size_t n)
{
    uint64_t c = reg;
    for (n /= 8; n; n--)
        c = __builtin_ia32_crc32di(c, 0);
    return (uint32_t)c;
}

__attribute__((target("sse4.2"))) static void make_shift(uint32_t tab[4][256], size_t n)
{
    uint32_t bit[32];
    for (int i = 0; i < 32; i++)
        bit[i] = zeros_hw(1u << i, n);
    for (int k = 0; k < 4; k++)
        for (uint32_t b = 0; b < 256; b++) {
            uint32_t v = 0;
            for (int j = 0; j < 8; j++)
                if (b >> j & 1)
                    v ^= bit[8 * k + j];
            tab[k][b] = v;
        }
}

static inline uint32_t shift(uint32_t tab[4][256], uint32_t c)
{
    return tab[0][c & 0xff] ^ tab[1][c >> 8 & 0xff] ^ tab[2][c >> 16 & 0xff] ^ tab[3][c >> 24];
}

__attribute__((target("sse4.2"))) static const uint8_t *rounds(uint64_t *pc, const uint8_t *p, size_t *plen,
                                                                 size_t block, uint32_t tab[4][256])
{
    uint64_t c0 = *pc;
    while (*plen >= 3 * block) {
        uint64_t c1 = 0, c2 = 0;
        for (size_t i = 0; i < block; i += 8) {
            uint64_t v0, v1, v2;
            memcpy(&v0, p + i, 8);
            memcpy(&v1, p + block + i, 8);
            memcpy(&v2, p + 2 * block + i, 8);
            c0 = __builtin_ia32_crc32di(c0, v0);
            c1 = __builtin_ia32_crc32di(c1, v1);
            c2 = __builtin_ia32_crc32di(c2, v2);
        }
        c0 = shift(tab, (uint32_t)c0) ^ (uint32_t)c1;
        c0 = shift(tab, (uint32_t)c0) ^ (uint32_t)c2;
        p += 3 * block;
        *plen -= 3 * block;
    }
    *pc = c0;
    return p;
}

__attribute__((target("sse4.2"))) static uint32_t crc32c_hw(uint32_t crc, const void *buf, size_t len)
{
    const uint8_t *p = buf;
    uint64_t c = ~crc;
    p = rounds(&c, p, &len, CRC_LONG, long_shift);
    p = rounds(&c, p, &len, CRC_SHORT, short_shift);
    while (len >= 8) {
        uint64_t v;
        memcpy(&v, p, 8);
        c = __builtin_ia32_crc32di(c, v);
        p += 8;
        len -= 8;
    }
    uint32_t c32 = (uint32_t)c;
    while (len--)
        c32 = __builtin_ia32_crc32qi(c32, *p++);
    return ~c32;
}
#endif

typedef uint32_t (*crc_fn)(uint32_t, const void *, size_t);

static crc_fn pick(void)
{
    init_table();
#if defined(__x86_64__)
    __builtin_cpu_init();
    if (__builtin_cpu_supports("sse4.2")) {
        make_shift(long_shift, CRC_LONG);
        make_shift(short_shift, CRC_SHORT);
        return crc32c_hw;
    }
#endif
    return eng_crc32c_sw;
}

/* Chosen once, before main, so there is no lazy-init race between threads. */
static crc_fn impl;
__attribute__((constructor)) static void crc_init(void) { impl = pick(); }

uint32_t eng_crc32c(uint32_t crc, const void *buf, size_t len) { return impl(crc, buf, len); }

unsigned int JET_API JetCrc32c(unsigned int crc, const void *pv, size_t cb)
{
    return cb ? impl(crc, pv, cb) : crc;
}
