/*
 * testhooks-int.h — the engine's entry points that only tests (and benches) call: checks and
 * tunables that are not part of jet.h and that no other engine file uses. Each is defined in the
 * file named beside it, which includes this header so the compiler checks the definition against
 * the declaration the tests see. (The I/O fault hooks live with the I/O wrappers, in io-int.h.)
 */
#ifndef ENG_TESTHOOKS_INT_H
#define ENG_TESTHOOKS_INT_H

#include <stddef.h>
#include <stdint.h>

/* verify.c: offline check of the database file at path (both headers, every page's checksum and
 * number, the catalog and every table's B+tree); only reads the file. On success, stores the
 * counts asked for (any pointer may be NULL). Errors: ReadVerifyFailure (a page fails its checksum
 * or number), DatabaseCorrupted (bad header or B+tree), and the I/O errors of reading. */
long eng_verify_file(const char *path, uint64_t *npages, uint64_t *ntables, uint64_t *nrecords);

/* crc32c.c: the table-driven CRC-32C, always; eng_crc32c (io-int.h) may use the CPU's
 * instruction instead, and the tests compare the two. */
uint32_t eng_crc32c_sw(uint32_t crc, const void *buf, size_t len);

/* backup.c: base of the back-off between the re-reads of a page that fails its checksum during a
 * backup ((i+1) x base ms, 16 tries). Tests lower it to keep a "page stays bad" case short. */
extern unsigned eng_bk_retry_base_ms;

#endif
