/*
 * crc32c.c — CRC-32C (Castagnoli polynomial 0x82F63B78, reflected), the checksum of pages, log
 * records and file headers. Uses the SSE4.2 crc32 instruction when the CPU has it, otherwise a
 * slicing-by-8 table. Both give identical results (checked by tests/unit/test-crc.c).
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
__attribute__((target("sse4.2"))) static uint32_t crc32c_hw(uint32_t crc, const void *buf, size_t len)
{
    const uint8_t *p = buf;
    uint64_t c = ~crc;
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
    if (__builtin_cpu_supports("sse4.2"))
        return crc32c_hw;
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
