/* CRC-32C: known vectors, and the hardware path agrees with the table path on random input. */
#include <check.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "io-int.h"
#include "jet.h"
#include "testhooks-int.h"
#include "testutil.h"

START_TEST(known_vectors)
{
    /* RFC 3720 B.4 test vectors. */
    uint8_t zeros[32] = {0}, ones[32], inc[32];
    memset(ones, 0xff, sizeof ones);
    for (int i = 0; i < 32; i++)
        inc[i] = (uint8_t)i;
    ck_assert_uint_eq(eng_crc32c(0, zeros, 32), 0x8A9136AAu);
    ck_assert_uint_eq(eng_crc32c(0, ones, 32), 0x62A8AB43u);
    ck_assert_uint_eq(eng_crc32c(0, inc, 32), 0x46DD794Eu);
    ck_assert_uint_eq(eng_crc32c(0, "123456789", 9), 0xE3069283u);
    /* The public form gives the same values, in pieces too. */
    ck_assert_uint_eq(JetCrc32c(0, "123456789", 9), 0xE3069283u);
    ck_assert_uint_eq(JetCrc32c(JetCrc32c(0, "1234", 4), "56789", 5), 0xE3069283u);
    ck_assert_uint_eq(JetCrc32c(7, NULL, 0), 7u);
}
END_TEST

START_TEST(hw_matches_sw_and_is_incremental)
{
    unsigned long long s = tu_seed("crc");
    uint8_t buf[4099];
    for (int round = 0; round < 200; round++) {
        size_t n = tu_rand(&s) % sizeof buf;
        for (size_t i = 0; i < n; i++)
            buf[i] = (uint8_t)tu_rand(&s);
        uint32_t whole = eng_crc32c(0, buf, n);
        ck_assert_uint_eq(whole, eng_crc32c_sw(0, buf, n));
        size_t cut = n ? tu_rand(&s) % n : 0;
        ck_assert_uint_eq(whole, eng_crc32c(eng_crc32c(0, buf, cut), buf + cut, n - cut));
    }
}
END_TEST

/* Long buffers take the three-chain rounds (24 KiB and 768-byte rounds) and their joins. */
START_TEST(long_buffers_match_sw)
{
    unsigned long long s = tu_seed("crc-long");
    size_t cap = 200000;
    uint8_t *buf = malloc(cap + 8);
    ck_assert_ptr_nonnull(buf);
    for (size_t i = 0; i < cap + 8; i++)
        buf[i] = (uint8_t)tu_rand(&s);
    size_t lens[] = {767, 768, 769, 24575, 24576, 24577, 25344, 49152 + 768 + 7, 131072, cap};
    for (size_t k = 0; k < sizeof lens / sizeof lens[0]; k++)
        for (size_t off = 0; off < 8; off += 3) {
            uint32_t seed = (uint32_t)tu_rand(&s);
            ck_assert_uint_eq(eng_crc32c(seed, buf + off, lens[k]), eng_crc32c_sw(seed, buf + off, lens[k]));
        }
    for (int round = 0; round < 50; round++) {
        size_t n = tu_rand(&s) % cap, off = tu_rand(&s) % 8;
        ck_assert_uint_eq(eng_crc32c(0, buf + off, n), eng_crc32c_sw(0, buf + off, n));
    }
    free(buf);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("crc");
    TCase *tc = tcase_create("crc");
    tcase_add_test(tc, known_vectors);
    tcase_add_test(tc, hw_matches_sw_and_is_incremental);
    tcase_add_test(tc, long_buffers_match_sw);
    suite_add_tcase(s, tc);
    return s;
}

TU_CHECK_MAIN(suite)
