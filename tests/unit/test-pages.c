/*
 * test-pages.c — database files and pages (dbfile.c), and what the engine does with damaged ones:
 *  - page checksums (eng_page_seal / eng_page_verify) for every page size: a sealed page verifies,
 *    any flipped bit fails, and a page read under another page number fails;
 *  - the database header kept twice (eng_dbhdr_read / eng_dbhdr_write): either copy alone is
 *    enough, the newer valid copy wins, both damaged or a file that is not a database gives
 *    JET_errDatabaseCorrupted (never a crash), another format version JET_errInvalidDatabaseVersion;
 *  - through the public API: freed pages are reused (a delete-all then reinsert does not grow the
 *    file), a damaged overflow page of a long value or a damaged meta page is reported as
 *    JET_errReadVerifyFailure and never used, and header damage is survived or refused as
 *    documented. (test-api.c already covers a damaged leaf page.)
 *  - page diffs (pagediff.c) and their redo (redo.c): random changes at every page size encode,
 *    check and apply back to the same bytes, or are refused when bigger than allowed; malformed
 *    runs are JET_errLogCorrupted; redo applies a diff only onto the page stamped with its base,
 *    skips one the page already holds, and refuses a damaged or too old page.
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "engine-int.h"
#include "records-int.h"
#include "iohooks.h"
#include "jet.h"
#include "testhooks-int.h"
#include "testutil.h"

#define HDR_BYTES 512 /* bytes of a header block that carry data (dbfile.c) */

static const uint32_t page_sizes[] = {4096, 8192, 16384, 32768};

static char *dir;
static char dbp[4096];

static void setup(void)
{
    dir = tu_mkdtemp("pages");
    snprintf(dbp, sizeof dbp, "%s/p.edb", dir);
}

static void teardown(void)
{
    eng_io_set_fault_hook(NULL, NULL);
    tu_rmtree(dir);
    free(dir);
}

/* ---------------------------------------------------------------------------------------------
 * File helpers
 * ------------------------------------------------------------------------------------------- */

static void flip_bits(const char *path, uint64_t off, uint8_t mask)
{
    int fd = open(path, O_RDWR);
    ck_assert_int_ge(fd, 0);
    uint8_t b;
    ck_assert_int_eq(pread(fd, &b, 1, (off_t)off), 1);
    b ^= mask;
    ck_assert_int_eq(pwrite(fd, &b, 1, (off_t)off), 1);
    close(fd);
}

static void read_at(const char *path, uint64_t off, void *buf, size_t n)
{
    int fd = open(path, O_RDONLY);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(pread(fd, buf, n, (off_t)off), (ssize_t)n);
    close(fd);
}

static void write_at(const char *path, uint64_t off, const void *buf, size_t n)
{
    int fd = open(path, O_RDWR | O_CREAT, 0644);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(pwrite(fd, buf, n, (off_t)off), (ssize_t)n);
    close(fd);
}

static long long fsize_of(const char *path)
{
    struct stat st;
    ck_assert_int_eq(stat(path, &st), 0);
    return (long long)st.st_size;
}

/* ---------------------------------------------------------------------------------------------
 * Page checksums
 * ------------------------------------------------------------------------------------------- */

static void check_page_size(uint32_t ps, unsigned long long *seed)
{
    uint8_t *pg = malloc(ps), *copy = malloc(ps);
    ck_assert_ptr_nonnull(pg);
    ck_assert_ptr_nonnull(copy);
    for (uint32_t i = 0; i < ps; i++)
        pg[i] = (uint8_t)(tu_rand(seed) >> 56);
    const uint32_t pgno = 1234567;
    eng_page_seal(pg, pgno, ps);
    ck_assert_uint_eq(eng_ld32(pg + 4), pgno);
    ck_assert_int_eq(eng_page_verify(pg, pgno, ps), JET_errSuccess);
    /* Read at another position: the checksum is seeded with the page number. */
    ck_assert_int_eq(eng_page_verify(pg, pgno + 1, ps), JET_errReadVerifyFailure);
    ck_assert_int_eq(eng_page_verify(pg, pgno - 1, ps), JET_errReadVerifyFailure);
    ck_assert_int_eq(eng_page_verify(pg, 1, ps), JET_errReadVerifyFailure);
    /* Both checks count: the stored number alone, and the seed alone. */
    memcpy(copy, pg, ps);
    eng_st32(copy + 4, pgno + 1); /* claims another number; checksum computed for pgno */
    eng_st32(copy, eng_crc32c(pgno, copy + 4, ps - 4));
    ck_assert_int_eq(eng_page_verify(copy, pgno, ps), JET_errReadVerifyFailure);
    ck_assert_int_eq(eng_page_verify(copy, pgno + 1, ps), JET_errReadVerifyFailure);
    /* Sealing again under the other number makes it valid there and only there. */
    eng_page_seal(copy, pgno + 1, ps);
    ck_assert_int_eq(eng_page_verify(copy, pgno + 1, ps), JET_errSuccess);
    ck_assert_int_eq(eng_page_verify(copy, pgno, ps), JET_errReadVerifyFailure);

    /* One flipped bit anywhere fails: every bit of the 4 KiB page, and for larger pages every bit
     * of the first and last 512 bytes (header, LSN, type, end of the body) plus 4096 random bits
     * (checking all 262144 bits of a 32 KiB page would cost seconds under a sanitizer). */
    uint64_t nbits = (uint64_t)ps * 8;
    uint64_t tried = 0;
    for (uint64_t bit = 0; bit < nbits; bit++) {
        uint64_t byte = bit / 8;
        if (ps > 4096 && byte >= 512 && byte < ps - 512)
            continue;
        pg[byte] ^= (uint8_t)(1u << (bit % 8));
        if (eng_page_verify(pg, pgno, ps) != JET_errReadVerifyFailure)
            ck_abort_msg("page size %u: bit %llu flipped still verifies", ps, (unsigned long long)bit);
        pg[byte] ^= (uint8_t)(1u << (bit % 8));
        tried++;
    }
    if (ps > 4096)
        for (int i = 0; i < 4096; i++) {
            uint64_t bit = tu_rand(seed) % nbits;
            pg[bit / 8] ^= (uint8_t)(1u << (bit % 8));
            if (eng_page_verify(pg, pgno, ps) != JET_errReadVerifyFailure)
                ck_abort_msg("page size %u: bit %llu flipped still verifies", ps, (unsigned long long)bit);
            pg[bit / 8] ^= (uint8_t)(1u << (bit % 8));
            tried++;
        }
    ck_assert_uint_eq(tried, ps == 4096 ? 4096 * 8 : 1024 * 8 + 4096);
    ck_assert_int_eq(eng_page_verify(pg, pgno, ps), JET_errSuccess); /* restored exactly */

    /* A never-written (all zero) page is not a valid page, whatever its number. */
    memset(copy, 0, ps);
    for (uint32_t p = 1; p < 200; p++)
        ck_assert_int_eq(eng_page_verify(copy, p, ps), JET_errReadVerifyFailure);
    free(pg);
    free(copy);
}

START_TEST(page_seal_and_verify)
{
    unsigned long long seed = tu_seed("page_seal_and_verify");
    for (size_t i = 0; i < sizeof page_sizes / sizeof page_sizes[0]; i++)
        check_page_size(page_sizes[i], &seed);
}
END_TEST

/* ---------------------------------------------------------------------------------------------
 * The header, kept twice
 * ------------------------------------------------------------------------------------------- */

static eng_dbhdr sample_hdr(uint32_t ps)
{
    eng_dbhdr h;
    memset(&h, 0, sizeof h);
    h.page_size = ps;
    h.state = JET_dbstateCleanShutdown;
    h.sig.random = 0x1111222233334444ull;
    h.sig.create_time_usec = 1700000000123456ull;
    h.log_sig.random = 0x5555666677778888ull;
    h.log_sig.create_time_usec = 1700000000654321ull;
    h.lsn_attach = ENG_LSN(3, 4096);
    h.lsn_consistent = ENG_LSN(5, 8192);
    h.lsn_detach = ENG_LSN(5, 8200);
    h.time_consistent_usec = 1700000001000000ull;
    h.backup_restored = 0;
    return h;
}

static void expect_hdr_eq(const eng_dbhdr *a, const eng_dbhdr *b)
{
    ck_assert_uint_eq(a->version, b->version);
    ck_assert_uint_eq(a->page_size, b->page_size);
    ck_assert_uint_eq(a->state, b->state);
    ck_assert_uint_eq(a->seq, b->seq);
    ck_assert_uint_eq(a->sig.random, b->sig.random);
    ck_assert_uint_eq(a->sig.create_time_usec, b->sig.create_time_usec);
    ck_assert_uint_eq(a->log_sig.random, b->log_sig.random);
    ck_assert_uint_eq(a->log_sig.create_time_usec, b->log_sig.create_time_usec);
    ck_assert_uint_eq(a->lsn_attach, b->lsn_attach);
    ck_assert_uint_eq(a->lsn_consistent, b->lsn_consistent);
    ck_assert_uint_eq(a->lsn_detach, b->lsn_detach);
    ck_assert_uint_eq(a->time_consistent_usec, b->time_consistent_usec);
    ck_assert_uint_eq(a->backup_restored, b->backup_restored);
}

/* (Re)create the file at dbp with a header for page size ps written by the engine, plus a few
 * pages of non-zero filler after the two header blocks, as a real database has. */
static eng_dbhdr fresh_file(uint32_t ps)
{
    unlink(dbp);
    int fd = open(dbp, O_RDWR | O_CREAT | O_TRUNC, 0644);
    ck_assert_int_ge(fd, 0);
    uint8_t *fill = malloc(3 * (size_t)ps);
    memset(fill, 0xC3, 3 * (size_t)ps);
    ck_assert_int_eq(pwrite(fd, fill, 3 * (size_t)ps, 2 * (off_t)ps), 3 * (ssize_t)ps);
    free(fill);
    eng_dbhdr h = sample_hdr(ps);
    OK(eng_dbhdr_write(fd, &h));
    close(fd);
    ck_assert_uint_eq(h.seq, 1);
    ck_assert_uint_eq(h.version, 1);
    return h;
}

static long read_hdr(uint32_t expect_ps, eng_dbhdr *out)
{
    int fd = open(dbp, O_RDONLY);
    ck_assert_int_ge(fd, 0);
    memset(out, 0xEE, sizeof *out);
    long e = eng_dbhdr_read(fd, expect_ps, out);
    close(fd);
    return e;
}

static void write_hdr(eng_dbhdr *h)
{
    int fd = open(dbp, O_RDWR);
    ck_assert_int_ge(fd, 0);
    OK(eng_dbhdr_write(fd, h));
    close(fd);
}

START_TEST(header_roundtrip)
{
    for (size_t i = 0; i < 4; i++) {
        uint32_t ps = page_sizes[i];
        eng_dbhdr h = fresh_file(ps), got;
        OK(read_hdr(0, &got));
        expect_hdr_eq(&got, &h);
        OK(read_hdr(ps, &got));
        expect_hdr_eq(&got, &h);
        ck_assert_int_eq(read_hdr(ps == 8192 ? 4096 : 8192, &got), JET_errPageSizeMismatch);
        /* Both copies hold the same bytes, at 0 and at page_size. */
        uint8_t a[HDR_BYTES], b[HDR_BYTES];
        read_at(dbp, 0, a, sizeof a);
        read_at(dbp, ps, b, sizeof b);
        ck_assert_int_eq(memcmp(a, b, HDR_BYTES), 0);
        ck_assert_int_eq(memcmp(a + 4, "JSNAPDB", 8), 0);
        h.state = JET_dbstateDirtyShutdown;
        write_hdr(&h);
        ck_assert_uint_eq(h.seq, 2);
        OK(read_hdr(0, &got));
        expect_hdr_eq(&got, &h);
        /* The filler pages were not touched. */
        uint8_t c;
        read_at(dbp, 2 * (uint64_t)ps, &c, 1);
        ck_assert_uint_eq(c, 0xC3);
    }
}
END_TEST

START_TEST(header_one_copy_is_enough)
{
    for (size_t i = 0; i < 4; i++) {
        uint32_t ps = page_sizes[i];
        eng_dbhdr h = fresh_file(ps), got;
        /* Copy A damaged (a field byte): copy B is used; B's position is found by trying each
         * page size. */
        flip_bits(dbp, 100, 0x10);
        OK(read_hdr(0, &got));
        expect_hdr_eq(&got, &h);
        OK(read_hdr(ps, &got));
        /* Copy A not a header at all (a torn first write: zeros). */
        uint8_t zero[HDR_BYTES] = {0};
        write_at(dbp, 0, zero, sizeof zero);
        OK(read_hdr(0, &got));
        expect_hdr_eq(&got, &h);

        /* Copy B damaged, A intact. */
        h = fresh_file(ps);
        flip_bits(dbp, ps + 30, 0x01);
        OK(read_hdr(0, &got));
        expect_hdr_eq(&got, &h);
        /* Only its CRC damaged. */
        h = fresh_file(ps);
        flip_bits(dbp, ps + 2, 0x80);
        OK(read_hdr(0, &got));
        expect_hdr_eq(&got, &h);
    }
}
END_TEST

START_TEST(header_both_copies_damaged)
{
    for (size_t i = 0; i < 4; i++) {
        uint32_t ps = page_sizes[i];
        eng_dbhdr got;
        fresh_file(ps);
        flip_bits(dbp, 100, 0x10);
        flip_bits(dbp, ps + 200, 0x02);
        ck_assert_int_eq(read_hdr(0, &got), JET_errDatabaseCorrupted);
        ck_assert_int_eq(read_hdr(ps, &got), JET_errDatabaseCorrupted);
        fresh_file(ps);
        flip_bits(dbp, 0, 0x01);      /* A's CRC */
        flip_bits(dbp, ps + 4, 0x01); /* B's magic */
        ck_assert_int_eq(read_hdr(0, &got), JET_errDatabaseCorrupted);
    }
}
END_TEST

START_TEST(header_newer_copy_wins)
{
    for (size_t i = 0; i < 4; i++) {
        uint32_t ps = page_sizes[i];
        eng_dbhdr v1 = fresh_file(ps), got;
        uint8_t old[HDR_BYTES];
        read_at(dbp, 0, old, sizeof old); /* seq 1 */
        eng_dbhdr v2 = v1;
        v2.state = JET_dbstateDirtyShutdown;
        v2.lsn_attach = ENG_LSN(7, 4096);
        write_hdr(&v2); /* seq 2 in both */
        /* A crash after copy A: A new, B old. */
        write_at(dbp, ps, old, sizeof old);
        OK(read_hdr(0, &got));
        ck_assert_uint_eq(got.seq, 2);
        expect_hdr_eq(&got, &v2);
        /* The other way round (A rolled back to the old one): B, newer, still wins. */
        write_hdr(&v2); /* seq 3 in both */
        uint8_t s3[HDR_BYTES];
        read_at(dbp, 0, s3, sizeof s3);
        write_at(dbp, 0, old, sizeof old);
        OK(read_hdr(0, &got));
        ck_assert_uint_eq(got.seq, 3);
        expect_hdr_eq(&got, &v2);
        /* A newer copy that is damaged loses to an older intact one. */
        write_at(dbp, 0, s3, sizeof s3);
        write_at(dbp, ps, old, sizeof old);
        flip_bits(dbp, 50, 0x04);
        OK(read_hdr(0, &got));
        ck_assert_uint_eq(got.seq, 1);
        expect_hdr_eq(&got, &v1);
    }
}
END_TEST

START_TEST(header_not_a_database)
{
    eng_dbhdr got;
    /* Random bytes. */
    unsigned long long seed = tu_seed("header_not_a_database");
    uint8_t *junk = malloc(70000);
    for (int i = 0; i < 70000; i++)
        junk[i] = (uint8_t)(tu_rand(&seed) >> 56);
    unlink(dbp);
    write_at(dbp, 0, junk, 70000);
    ck_assert_int_eq(read_hdr(0, &got), JET_errDatabaseCorrupted);
    /* Zeros. */
    memset(junk, 0, 70000);
    write_at(dbp, 0, junk, 70000);
    ck_assert_int_eq(read_hdr(0, &got), JET_errDatabaseCorrupted);
    /* Our magic, nothing else right. */
    memcpy(junk + 4, "JSNAPDB", 8);
    write_at(dbp, 0, junk, 70000);
    ck_assert_int_eq(read_hdr(0, &got), JET_errDatabaseCorrupted);
    free(junk);
    /* Empty, and too short for even one header block. */
    unlink(dbp);
    write_at(dbp, 0, "", 0);
    ck_assert_int_eq(fsize_of(dbp), 0);
    ck_assert_int_eq(read_hdr(0, &got), JET_errDatabaseCorrupted);
    write_at(dbp, 0, "JSNAP", 5);
    ck_assert_int_eq(read_hdr(0, &got), JET_errDatabaseCorrupted);
    fresh_file(8192);
    ck_assert_int_eq(truncate(dbp, HDR_BYTES - 1), 0);
    ck_assert_int_eq(read_hdr(0, &got), JET_errDatabaseCorrupted);
    /* A well-formed header with an impossible page size. */
    uint32_t bad_ps[] = {0, 512, 12345, 65536};
    for (int i = 0; i < 4; i++) {
        unlink(dbp);
        write_at(dbp, 0, "", 0);
        eng_dbhdr h = sample_hdr(bad_ps[i]);
        write_hdr(&h);
        ck_assert_int_eq(read_hdr(0, &got), JET_errDatabaseCorrupted);
    }
}
END_TEST

/* Set the format version of one header copy and give it a valid CRC again. */
static void set_hdr_version(uint64_t at, uint32_t version)
{
    uint8_t b[HDR_BYTES];
    read_at(dbp, at, b, sizeof b);
    eng_st32(b + 12, version);
    eng_st32(b, eng_crc32c(0, b + 4, HDR_BYTES - 4));
    write_at(dbp, at, b, sizeof b);
}

START_TEST(header_other_version)
{
    for (size_t i = 0; i < 4; i++) {
        uint32_t ps = page_sizes[i];
        eng_dbhdr got;
        fresh_file(ps);
        set_hdr_version(0, 2);
        set_hdr_version(ps, 2);
        ck_assert_int_eq(read_hdr(0, &got), JET_errInvalidDatabaseVersion);
        ck_assert_int_eq(read_hdr(ps, &got), JET_errInvalidDatabaseVersion);
        /* Another version in one copy and damage in the other: still a version problem, so a
         * newer file is not reported as garbage. */
        fresh_file(ps);
        set_hdr_version(0, 0);
        flip_bits(dbp, ps + 100, 0x01);
        ck_assert_int_eq(read_hdr(0, &got), JET_errInvalidDatabaseVersion);
        /* Version changed without fixing the CRC is plain damage. */
        fresh_file(ps);
        flip_bits(dbp, 12, 0x02);
        flip_bits(dbp, ps + 12, 0x02);
        ck_assert_int_eq(read_hdr(0, &got), JET_errDatabaseCorrupted);
    }
}
END_TEST

/* ---------------------------------------------------------------------------------------------
 * Through the public API
 * ------------------------------------------------------------------------------------------- */
static JET_INSTANCE inst;
static JET_SESID ses;
static JET_DBID dbid;
static JET_TABLEID tab;

static void start_instance(void)
{
    OK(JetCreateInstance(&inst, "pages"));
    OK(JetSetSystemParameter(&inst, 0, JET_paramSystemPath, 0, dir));
    OK(JetSetSystemParameter(&inst, 0, JET_paramLogFilePath, 0, dir));
    OK(JetSetSystemParameter(&inst, 0, JET_paramLogFileSize, 1024, NULL));
    OK(JetInit(&inst));
    OK(JetBeginSession(inst, &ses, NULL, NULL));
}

static void stop_instance(void)
{
    OK(JetTerm(inst));
    inst = 0;
}

static void create_db(void)
{
    start_instance();
    OK(JetCreateDatabase(ses, dbp, NULL, &dbid, 0));
    OK(JetCreateTable(ses, dbid, "t", 0, 0, &tab));
}

static void open_db(void)
{
    OK(JetAttachDatabase(ses, dbp, 0));
    OK(JetOpenDatabase(ses, dbp, NULL, &dbid, 0));
    OK(JetOpenTable(ses, dbid, "t", NULL, 0, 0, &tab));
}

static void detach_db(void)
{
    OK(JetCloseTable(ses, tab));
    OK(JetCloseDatabase(ses, dbid, 0));
    OK(JetDetachDatabase(ses, dbp));
}

static void api_teardown(void)
{
    if (inst)
        JetTerm(inst);
    inst = 0;
    teardown();
}

static void value_for(uint8_t *v, size_t n, int i)
{
    unsigned long long s = (unsigned long long)i * 2654435761u + 17;
    for (size_t k = 0; k < n; k++)
        v[k] = (uint8_t)(tu_rand(&s) >> 56);
}

/* meta page fields of the detached file at dbp */
static uint32_t meta_u32(int field)
{
    uint8_t b[4];
    read_at(dbp, eng_page_off(ENG_PGNO_META, 8192) + (uint64_t)field, b, 4);
    return eng_ld32(b);
}

enum { FS_SMALL = 3000, FS_SMALL_LEN = 300, FS_BIG = 30, FS_BIG_LEN = 40000 };

/* Insert the load used by the free-space test: small records and long values (overflow chains),
 * committed in batches. */
static void load(int gen)
{
    uint8_t *v = malloc(FS_BIG_LEN);
    for (int i = 0; i < FS_SMALL + FS_BIG; i++) {
        if (i % 500 == 0)
            OK(JetBeginTransaction(ses));
        char k[32];
        int kl = snprintf(k, sizeof k, "%c%06d", gen ? 'b' : 'a', i);
        size_t n = i < FS_SMALL ? FS_SMALL_LEN : FS_BIG_LEN;
        value_for(v, n, i + gen * 100000);
        OK(JetPutRecord(ses, tab, k, (unsigned long)kl, v, (unsigned long)n, 0));
        if (i % 500 == 499 || i == FS_SMALL + FS_BIG - 1)
            OK(JetCommitTransaction(ses, 0));
    }
    free(v);
}

START_TEST(free_space_is_reused)
{
    create_db();
    load(0);
    detach_db();
    uint64_t np1 = 0, nrec = 0;
    OK(eng_verify_file(dbp, &np1, NULL, &nrec));
    ck_assert_uint_eq(nrec, FS_SMALL + FS_BIG);
    long long size1 = fsize_of(dbp);
    ck_assert_uint_eq(meta_u32(ENG_META_NPAGES), np1);
    /* (The load takes ~2 MB: far more pages than the few the catalog and root need.) */
    ck_assert_uint_gt(np1, 200);

    /* Delete everything and commit: the pages go to the free list, the file does not shrink. */
    open_db();
    for (int i = 0; i < FS_SMALL + FS_BIG; i++) {
        if (i % 500 == 0)
            OK(JetBeginTransaction(ses));
        char k[32];
        int kl = snprintf(k, sizeof k, "a%06d", i);
        OK(JetDeleteRecord(ses, tab, k, (unsigned long)kl, 0));
        if (i % 500 == 499 || i == FS_SMALL + FS_BIG - 1)
            OK(JetCommitTransaction(ses, 0));
    }
    ck_assert_int_eq(JetMove(ses, tab, JET_MoveFirst, 0), JET_errNoCurrentRecord);
    detach_db();
    uint64_t np_del = 0;
    OK(eng_verify_file(dbp, &np_del, NULL, &nrec));
    ck_assert_uint_eq(nrec, 0);
    ck_assert_uint_eq(np_del, np1);
    uint32_t nfree = meta_u32(ENG_META_NFREE);
    ck_assert_uint_ge(nfree, np1 - 10); /* all but the meta, catalog and table root pages */
    ck_assert_uint_ne(meta_u32(ENG_META_FREEHEAD), 0);

    /* The same load again (other keys, same sizes) fits in the freed pages. */
    open_db();
    load(1);
    detach_db();
    uint64_t np2 = 0;
    OK(eng_verify_file(dbp, &np2, NULL, &nrec));
    ck_assert_uint_eq(nrec, FS_SMALL + FS_BIG);
    long long size2 = fsize_of(dbp);
    fprintf(stderr, "free space: %llu pages (%lld bytes), %u freed, then %llu pages (%lld bytes)\n",
            (unsigned long long)np1, size1, nfree, (unsigned long long)np2, size2);
    ck_assert_uint_le(np2, np1 + np1 / 20);
    ck_assert_int_le(size2, size1 + size1 / 20);
    ck_assert_uint_lt(meta_u32(ENG_META_NFREE), nfree / 10);

    /* And the data is what was written. */
    open_db();
    uint8_t *want = malloc(FS_BIG_LEN), *got = malloc(FS_BIG_LEN);
    for (int i = 0; i < FS_SMALL + FS_BIG; i += 7) {
        char k[32];
        int kl = snprintf(k, sizeof k, "b%06d", i);
        size_t n = i < FS_SMALL ? FS_SMALL_LEN : FS_BIG_LEN;
        value_for(want, n, i + 100000);
        unsigned long gl = 0;
        OK(JetGetRecord(ses, tab, k, (unsigned long)kl, got, FS_BIG_LEN, &gl, 0));
        ck_assert_uint_eq(gl, n);
        ck_assert_int_eq(memcmp(want, got, n), 0);
    }
    free(want);
    free(got);
    stop_instance();
}
END_TEST

/* The overflow pages of the file at dbp (8 KiB pages), in page order; returns how many. */
static int find_overflow_pages(uint32_t *out, int max)
{
    uint64_t npages = 0;
    OK(eng_verify_file(dbp, &npages, NULL, NULL));
    uint8_t pg[8192];
    int n = 0;
    for (uint32_t p = 1; p < npages; p++) {
        read_at(dbp, eng_page_off(p, 8192), pg, sizeof pg);
        OK(eng_page_verify(pg, p, 8192));
        if (pg[16] == ENG_PT_OVERFLOW && n < max)
            out[n++] = p;
    }
    return n;
}

START_TEST(damaged_overflow_page)
{
    const size_t big_len = 200000; /* ~25 overflow pages of 8 KiB */
    uint8_t *big = malloc(big_len), *back = malloc(big_len);
    value_for(big, big_len, 42);
    create_db();
    OK(JetPutRecord(ses, tab, "a", 1, "alpha", 5, 0));
    OK(JetPutRecord(ses, tab, "big", 3, big, (unsigned long)big_len, 0));
    OK(JetPutRecord(ses, tab, "c", 1, "gamma", 5, 0));
    stop_instance(); /* clean: everything in the file, header says clean */

    /* Find the overflow pages in the file and damage one in the middle of the chain's data. */
    uint32_t ovf[64];
    int novf = find_overflow_pages(ovf, 64);
    ck_assert_int_ge(novf, 24);
    uint32_t victim = ovf[novf / 2];
    uint64_t at = eng_page_off(victim, 8192) + 4000;
    flip_bits(dbp, at, 0x20);
    ck_assert_int_eq(eng_verify_file(dbp, NULL, NULL, NULL), JET_errReadVerifyFailure);

    start_instance();
    open_db(); /* header and meta page are fine */
    unsigned long got = 0;
    ck_assert_int_eq(JetGetRecord(ses, tab, "big", 3, back, (unsigned long)big_len, &got, 0),
                     JET_errReadVerifyFailure);
    /* Not remembered as good: asking again reads it again and fails again. */
    ck_assert_int_eq(JetGetRecord(ses, tab, "big", 3, back, (unsigned long)big_len, &got, 0),
                     JET_errReadVerifyFailure);
    OK(JetSeekRecord(ses, tab, "big", 3, JET_bitSeekEQ)); /* the leaf is intact */
    ck_assert_int_eq(JetRetrieveRecord(ses, tab, back, (unsigned long)big_len, &got, 0),
                     JET_errReadVerifyFailure);
    /* The neighbours are unaffected. */
    char small[16];
    OK(JetGetRecord(ses, tab, "a", 1, small, sizeof small, &got, 0));
    ck_assert_uint_eq(got, 5);
    ck_assert_int_eq(memcmp(small, "alpha", 5), 0);
    OK(JetGetRecord(ses, tab, "c", 1, small, sizeof small, &got, 0));
    ck_assert_int_eq(memcmp(small, "gamma", 5), 0);

    /* Repair the byte under the running engine: the page is read from disk again and the value
     * comes back whole, which shows the damaged image was never kept. */
    flip_bits(dbp, at, 0x20);
    memset(back, 0, big_len);
    OK(JetGetRecord(ses, tab, "big", 3, back, (unsigned long)big_len, &got, 0));
    ck_assert_uint_eq(got, big_len);
    ck_assert_int_eq(memcmp(big, back, big_len), 0);
    stop_instance();
    free(big);
    free(back);
}
END_TEST

START_TEST(misplaced_page)
{
    /* An intact page written at the wrong place (a misdirected write): its bytes are a valid
     * page, but not this one. */
    const size_t big_len = 100000;
    uint8_t *big = malloc(big_len), *back = malloc(big_len);
    value_for(big, big_len, 7);
    create_db();
    OK(JetPutRecord(ses, tab, "big", 3, big, (unsigned long)big_len, 0));
    OK(JetPutRecord(ses, tab, "k", 1, "v", 1, 0));
    stop_instance();
    uint32_t ovf[32];
    int n = find_overflow_pages(ovf, 32);
    ck_assert_int_ge(n, 12);
    uint8_t pg[8192];
    read_at(dbp, eng_page_off(ovf[3], 8192), pg, sizeof pg);
    write_at(dbp, eng_page_off(ovf[4], 8192), pg, sizeof pg);

    start_instance();
    open_db();
    unsigned long got = 0;
    ck_assert_int_eq(JetGetRecord(ses, tab, "big", 3, back, (unsigned long)big_len, &got, 0),
                     JET_errReadVerifyFailure);
    char v[2];
    OK(JetGetRecord(ses, tab, "k", 1, v, sizeof v, &got, 0));
    stop_instance();
    free(big);
    free(back);
}
END_TEST

START_TEST(damaged_free_page)
{
    /* Free pages are reused: a damaged one must make the allocation fail rather than hand the
     * B+tree a page with unknown contents, and the database stays usable for everything else. */
    const size_t big_len = 100000;
    uint8_t *big = malloc(big_len);
    value_for(big, big_len, 9);
    create_db();
    OK(JetPutRecord(ses, tab, "k", 1, "v", 1, 0));
    OK(JetPutRecord(ses, tab, "old", 3, big, (unsigned long)big_len, 0));
    OK(JetDeleteRecord(ses, tab, "old", 3, 0)); /* its overflow chain goes to the free list */
    stop_instance();
    uint32_t head = meta_u32(ENG_META_FREEHEAD);
    ck_assert_uint_ne(head, 0);
    ck_assert_uint_ge(meta_u32(ENG_META_NFREE), 12);
    flip_bits(dbp, eng_page_off(head, 8192) + 5000, 0x40);

    start_instance();
    open_db();
    ck_assert_int_eq(JetPutRecord(ses, tab, "new", 3, big, (unsigned long)big_len, 0),
                     JET_errReadVerifyFailure);
    char v[2];
    unsigned long got = 0;
    ck_assert_int_eq(JetGetRecord(ses, tab, "new", 3, v, sizeof v, &got, 0), JET_errRecordNotFound);
    OK(JetGetRecord(ses, tab, "k", 1, v, sizeof v, &got, 0));
    ck_assert_int_eq(v[0], 'v');
    /* Updates that need no new page still work. */
    OK(JetPutRecord(ses, tab, "k", 1, "w", 1, 0));
    OK(JetGetRecord(ses, tab, "k", 1, v, sizeof v, &got, 0));
    ck_assert_int_eq(v[0], 'w');
    stop_instance();
    free(big);
}
END_TEST

START_TEST(damaged_meta_page)
{
    create_db();
    OK(JetPutRecord(ses, tab, "k", 1, "v", 1, 0));
    stop_instance();
    uint64_t at = eng_page_off(ENG_PGNO_META, 8192) + 1000;
    flip_bits(dbp, at, 0x01);
    ck_assert_int_eq(eng_verify_file(dbp, NULL, NULL, NULL), JET_errDatabaseCorrupted);

    start_instance();
    /* The page count comes from the meta page: a damaged one is refused at attach. */
    ck_assert_int_eq(JetAttachDatabase(ses, dbp, 0), JET_errReadVerifyFailure);
    ck_assert_int_eq(JetOpenDatabase(ses, dbp, NULL, &dbid, 0), JET_errDatabaseNotFound);
    /* The refused attach left the file as it was: still clean, still attachable once repaired. */
    int fd = open(dbp, O_RDONLY);
    eng_dbhdr h;
    OK(eng_dbhdr_read(fd, 0, &h));
    close(fd);
    ck_assert_uint_eq(h.state, JET_dbstateCleanShutdown);
    flip_bits(dbp, at, 0x01);
    open_db();
    char v[4];
    unsigned long got = 0;
    OK(JetGetRecord(ses, tab, "k", 1, v, sizeof v, &got, 0));
    ck_assert_uint_eq(got, 1);
    ck_assert_int_eq(v[0], 'v');
    stop_instance();
}
END_TEST

START_TEST(header_damage_through_the_api)
{
    create_db();
    OK(JetPutRecord(ses, tab, "k", 1, "value", 5, 0));
    stop_instance();
    uint8_t good_a[HDR_BYTES], good_b[HDR_BYTES];
    read_at(dbp, 0, good_a, sizeof good_a);
    read_at(dbp, 8192, good_b, sizeof good_b);

    /* Copy A damaged: attach works from copy B, and the next header write repairs A. */
    flip_bits(dbp, 40, 0xFF);
    start_instance();
    open_db();
    char v[8];
    unsigned long got = 0;
    OK(JetGetRecord(ses, tab, "k", 1, v, sizeof v, &got, 0));
    ck_assert_int_eq(memcmp(v, "value", 5), 0);
    stop_instance();
    uint8_t a[HDR_BYTES];
    read_at(dbp, 0, a, sizeof a);
    ck_assert_uint_eq(eng_ld32(a), eng_crc32c(0, a + 4, HDR_BYTES - 4));
    ck_assert_int_eq(memcmp(a + 32, good_a + 32, 16), 0); /* same database signature */

    /* Both copies damaged: refused as corrupted. */
    read_at(dbp, 0, good_a, sizeof good_a);
    read_at(dbp, 8192, good_b, sizeof good_b);
    flip_bits(dbp, 40, 0xFF);
    flip_bits(dbp, 8192 + 40, 0xFF);
    start_instance();
    ck_assert_int_eq(JetAttachDatabase(ses, dbp, 0), JET_errDatabaseCorrupted);
    /* Another format version (valid CRCs): refused as such. */
    write_at(dbp, 0, good_a, sizeof good_a);
    write_at(dbp, 8192, good_b, sizeof good_b);
    set_hdr_version(0, 2);
    set_hdr_version(8192, 2);
    ck_assert_int_eq(JetAttachDatabase(ses, dbp, 0), JET_errInvalidDatabaseVersion);
    /* Neither refusal changed anything: with the good headers back it attaches. */
    write_at(dbp, 0, good_a, sizeof good_a);
    write_at(dbp, 8192, good_b, sizeof good_b);
    open_db();
    OK(JetGetRecord(ses, tab, "k", 1, v, sizeof v, &got, 0));
    ck_assert_int_eq(memcmp(v, "value", 5), 0);
    stop_instance();
}
END_TEST

START_TEST(truncated_and_empty_files_through_the_api)
{
    create_db();
    OK(JetPutRecord(ses, tab, "k", 1, "v", 1, 0));
    stop_instance();
    start_instance();
    /* Only the two header blocks left: the meta page is missing. */
    ck_assert_int_eq(truncate(dbp, 2 * 8192), 0);
    ck_assert_int_eq(JetAttachDatabase(ses, dbp, 0), JET_errDatabaseCorrupted);
    /* Empty. */
    ck_assert_int_eq(truncate(dbp, 0), 0);
    ck_assert_int_eq(JetAttachDatabase(ses, dbp, 0), JET_errDatabaseCorrupted);
    stop_instance();
}
END_TEST

/* ---------------------------------------------------------------------------------------------
 * Checksum-valid but lying files and pages (issue 9, item 8)
 * ------------------------------------------------------------------------------------------- */
enum { LY_PS = 8192, LY_RECORDS = 2000 };

static char events[64][512];
static int nevents;

static void on_event(void *ctx, JET_INSTANCE instance, const char *name, int level, long id,
                     const char *msg)
{
    (void)ctx;
    (void)instance;
    (void)name;
    (void)level;
    (void)id;
    if (nevents < 64)
        snprintf(events[nevents++], sizeof events[0], "%s", msg);
}

/* Index of the first event containing both strings (b may be NULL), or -1. */
static int find_event(const char *a, const char *b)
{
    for (int i = 0; i < nevents; i++)
        if (strstr(events[i], a) && (!b || strstr(events[i], b)))
            return i;
    return -1;
}

/* A detached database of LY_RECORDS records in table t, enough for a two-level table tree. */
static void lying_db(void)
{
    create_db();
    uint8_t v[100];
    OK(JetBeginTransaction(ses));
    for (int i = 0; i < LY_RECORDS; i++) {
        char k[16];
        int kl = snprintf(k, sizeof k, "k%05d", i);
        value_for(v, sizeof v, i);
        OK(JetPutRecord(ses, tab, k, (unsigned long)kl, v, sizeof v, 0));
    }
    OK(JetCommitTransaction(ses, 0));
    stop_instance();
}

static void read_page(uint32_t pgno, uint8_t *pg)
{
    read_at(dbp, eng_page_off(pgno, LY_PS), pg, LY_PS);
    OK(eng_page_verify(pg, pgno, LY_PS));
}

/* Write a page back with its checksum made right: only its structure is wrong. */
static void write_page(uint32_t pgno, uint8_t *pg)
{
    eng_page_seal(pg, pgno, LY_PS);
    write_at(dbp, eng_page_off(pgno, LY_PS), pg, LY_PS);
}

static void set_npages(uint32_t n)
{
    uint8_t pg[LY_PS];
    read_page(ENG_PGNO_META, pg);
    eng_st32(pg + ENG_META_NPAGES, n);
    write_page(ENG_PGNO_META, pg);
}

/* The first page of the table's tree (not the catalog's root, page 2) of this type with at least
 * min_slots slots. */
static uint32_t find_table_page(uint8_t type, unsigned min_slots)
{
    uint32_t np = meta_u32(ENG_META_NPAGES);
    uint8_t pg[LY_PS];
    for (uint32_t p = ENG_PGNO_CATALOG + 1; p < np; p++) {
        read_page(p, pg);
        if (pg[16] == type && (unsigned)(pg[18] | pg[19] << 8) >= min_slots)
            return p;
    }
    ck_abort_msg("no page of type %d with %u slots", type, min_slots);
    return 0;
}

/* Scan the whole table with JetMove; returns the error it ends with and counts records. */
static long move_scan(int *count)
{
    *count = 0;
    long err = JetMove(ses, tab, JET_MoveFirst, 0);
    while (err == JET_errSuccess) {
        ++*count;
        err = JetMove(ses, tab, JET_MoveNext, 0);
    }
    return err;
}

static void attach_refused(const char *why)
{
    long long size = fsize_of(dbp);
    nevents = 0;
    JetSetEventCallback(on_event, NULL);
    start_instance();
    ck_assert_int_eq(JetAttachDatabase(ses, dbp, 0), JET_errDatabaseCorrupted);
    stop_instance();
    JetSetEventCallback(NULL, NULL);
    ck_assert_msg(find_event(dbp, why) >= 0, "no event naming %s and \"%s\"", dbp, why);
    ck_assert_int_eq(fsize_of(dbp), size); /* refused as it was: not grown, not written */
}

static void attach_and_count(int expect)
{
    start_instance();
    open_db();
    int n = 0;
    ck_assert_int_eq(move_scan(&n), JET_errNoCurrentRecord);
    ck_assert_int_eq(n, expect);
    stop_instance();
}

START_TEST(page_count_smaller_than_file)
{
    lying_db();
    uint32_t np = meta_u32(ENG_META_NPAGES);
    ck_assert_int_eq(fsize_of(dbp), (long long)eng_page_off(np, LY_PS));
    set_npages(np - 3);
    attach_refused("meta page counts");
    /* Nothing was changed: with the right count the database is whole. */
    set_npages(np);
    attach_and_count(LY_RECORDS);
}
END_TEST

START_TEST(page_count_absurdly_large)
{
    lying_db();
    uint32_t np = meta_u32(ENG_META_NPAGES);
    set_npages(0x7fffffff); /* 16 TiB of 8 KiB pages */
    attach_refused("meta page counts");
    set_npages(np);
    attach_and_count(LY_RECORDS);
}
END_TEST

START_TEST(file_cut_mid_page_or_at_boundary)
{
    lying_db();
    long long size = fsize_of(dbp);
    ck_assert_int_eq(truncate(dbp, size - 100), 0);
    attach_refused("cut in the middle of a page");
    ck_assert_int_eq(truncate(dbp, size - 2 * LY_PS), 0);
    attach_refused("meta page counts");
}
END_TEST

/* Three slots of a table leaf rotated (c, d, e -> e, c, d), checksum made right: a JetMove scan
 * used to go e, c, d, e, ... forever; the page is refused when read (the case's time-out turns a
 * hang into a failure). */
START_TEST(rotated_slots_scan_ends)
{
    lying_db();
    uint32_t leaf = find_table_page(ENG_PT_LEAF, 8);
    uint8_t pg[LY_PS];
    read_page(leaf, pg);
    unsigned n = (unsigned)(pg[18] | pg[19] << 8);
    uint8_t *sl = pg + 32 + 2 * (n / 2), e[2];
    memcpy(e, sl + 4, 2);
    memmove(sl + 2, sl, 4);
    memcpy(sl, e, 2);
    write_page(leaf, pg);
    nevents = 0;
    JetSetEventCallback(on_event, NULL);
    start_instance();
    open_db();
    int count = 0;
    ck_assert_int_eq(move_scan(&count), JET_errDatabaseCorrupted);
    ck_assert_int_lt(count, LY_RECORDS);
    /* Backwards too. */
    long err = JetMove(ses, tab, JET_MoveLast, 0);
    while (err == JET_errSuccess)
        err = JetMove(ses, tab, JET_MovePrevious, 0);
    ck_assert_int_eq(err, JET_errDatabaseCorrupted);
    stop_instance();
    JetSetEventCallback(NULL, NULL);
    char pgname[32];
    snprintf(pgname, sizeof pgname, "page %u ", leaf);
    ck_assert_msg(find_event(pgname, "keys out of order") >= 0, "no event for %s", pgname);
}
END_TEST

/* The table's root made to point at the catalog's root (page 2) as its leftmost child: a scan
 * used to walk into the catalog and serve its entries as records. */
START_TEST(child_pointer_out_of_range)
{
    lying_db();
    uint32_t root = find_table_page(ENG_PT_INTERNAL, 1);
    uint8_t pg[LY_PS], saved[4];
    read_page(root, pg);
    memcpy(saved, pg + 24, 4);
    const uint32_t bad[] = {ENG_PGNO_CATALOG, ENG_PGNO_META, root, 0x7fffffff};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        eng_st32(pg + 24, bad[i]);
        write_page(root, pg);
        nevents = 0;
        JetSetEventCallback(on_event, NULL);
        start_instance();
        open_db();
        int count = 0;
        ck_assert_int_eq(move_scan(&count), JET_errDatabaseCorrupted);
        ck_assert_int_eq(count, 0);
        stop_instance();
        JetSetEventCallback(NULL, NULL);
        char pgname[32];
        snprintf(pgname, sizeof pgname, "page %u ", root);
        ck_assert_msg(find_event(pgname, "child page out of range") >= 0, "no event for %s (child %u)",
                      pgname, bad[i]);
    }
    memcpy(pg + 24, saved, 4);
    write_page(root, pg);
    attach_and_count(LY_RECORDS);
}
END_TEST

/* ---------------------------------------------------------------------------------------------
 * A power cut during JetCreateDatabase (issue 9, item 11)
 * ------------------------------------------------------------------------------------------- */

/* From the n-th file operation on (any file, any thread) everything fails: the power is gone, and
 * not even the failing create's clean-up reaches the disk. */
struct cut {
    int n, seen;
    bool cut;
    enum eng_io_op op; /* the first operation that failed */
    char path[4096];
};

static int cut_hook(void *ctx, enum eng_io_op op, int fd, const char *path, uint64_t off, size_t len)
{
    (void)off, (void)len;
    struct cut *c = ctx;
    if (c->cut)
        return -EIO;
    if (++c->seen < c->n)
        return 0;
    c->cut = true;
    c->op = op;
    tu_hook_path(fd, path, c->path, sizeof c->path);
    return -EIO;
}

/* Cut the power at every file operation of a JetCreateDatabase in turn; after each, an instance
 * recovers and the application retries the create. The retry succeeds, or (the cut came after
 * the create's formatting commit reached the log, so recovery made the database whole) the file
 * is a whole database that attaches. Never a half-made file refused with -550, -1206 or -1811,
 * and no temporary file is left behind. */
START_TEST(cut_during_create_then_retry)
{
    int cuts = 0, at_rename = 0, at_dir_sync = 0, whole = 0;
    for (int n = 1;; n++) {
        start_instance();
        struct cut c = {.n = n};
        eng_io_set_fault_hook(cut_hook, &c);
        JET_DBID d;
        long err = JetCreateDatabase(ses, dbp, NULL, &d, 0);
        bool cut_in_create = c.cut;
        if (!cut_in_create) {
            eng_io_set_fault_hook(NULL, NULL);
            OK(err);
            stop_instance();
            break;
        }
        JetTerm2(inst, JET_bitTermDirty); /* whatever it says: the power is off */
        inst = 0;
        eng_io_set_fault_hook(NULL, NULL);
        cuts++;
        start_instance();
        err = JetCreateDatabase(ses, dbp, NULL, &d, 0);
        if (err == JET_errFileAlreadyExists) {
            ck_assert_msg(c.op != ENG_IO_RENAME, "cut at the rename left a file at the path");
            whole++;
            OK(JetAttachDatabase(ses, dbp, 0));
            OK(JetOpenDatabase(ses, dbp, NULL, &d, 0));
        } else {
            ck_assert_msg(err == JET_errSuccess, "retry after a cut at operation %d (op %d on %s): %ld", n,
                          (int)c.op, c.path, err);
        }
        at_rename += c.op == ENG_IO_RENAME;
        at_dir_sync += c.op == ENG_IO_SYNC && strcmp(c.path, dir) == 0;
        OK(JetCreateTable(ses, d, "t", 0, 0, &tab));
        OK(JetPutRecord(ses, tab, "k", 1, "v", 1, 0));
        OK(JetCloseTable(ses, tab));
        OK(JetCloseDatabase(ses, d, 0));
        OK(JetDetachDatabase(ses, dbp));
        stop_instance();
        char tmp[4200];
        snprintf(tmp, sizeof tmp, "%s.creating", dbp);
        ck_assert_int_ne(access(tmp, F_OK), 0);
        uint64_t nrec = 0;
        OK(eng_verify_file(dbp, NULL, NULL, &nrec));
        ck_assert_uint_eq(nrec, 1);
        ck_assert_int_eq(unlink(dbp), 0);
    }
    fprintf(stderr, "create cut at %d points: the retried create succeeded %d times, found a whole "
            "database %d times\n", cuts, cuts - whole, whole);
    ck_assert_int_gt(cuts, 5);
    ck_assert_int_gt(at_rename, 0);
    ck_assert_int_gt(at_dir_sync, 0);
}
END_TEST

/* What the atomic create keeps of the rules: an existing file is refused unless
 * JET_bitDbOverwriteExisting, a file locked by another holder is never replaced, a leftover
 * temporary file is taken over, one in use by another creator is left alone. */
START_TEST(create_rules_kept)
{
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.creating", dbp);
    start_instance();
    JET_DBID d;
    /* A user's file, and a directory, at the path. */
    write_at(dbp, 0, "user data", 9);
    ck_assert_int_eq(JetCreateDatabase(ses, dbp, NULL, &d, 0), JET_errFileAlreadyExists);
    ck_assert_int_eq(fsize_of(dbp), 9);
    char *sub = tu_path(dir, "sub");
    ck_assert_int_eq(mkdir(sub, 0755), 0);
    ck_assert_int_eq(JetCreateDatabase(ses, sub, NULL, &d, 0), JET_errFileAlreadyExists);
    ck_assert_int_eq(JetCreateDatabase(ses, sub, NULL, &d, JET_bitDbOverwriteExisting),
                     JET_errInvalidPath);
    free(sub);
    /* Locked by another holder (another process, as far as flock is concerned). */
    int lk = open(dbp, O_RDWR);
    ck_assert_int_ge(lk, 0);
    ck_assert_int_eq(flock(lk, LOCK_EX | LOCK_NB), 0);
    ck_assert_int_eq(JetCreateDatabase(ses, dbp, NULL, &d, JET_bitDbOverwriteExisting),
                     JET_errFileAccessDenied);
    ck_assert_int_eq(fsize_of(dbp), 9);
    close(lk);
    /* A leftover temporary file in use by another creator: refused, and left alone. */
    ck_assert_int_eq(unlink(dbp), 0);
    write_at(tmp, 0, "half", 4);
    lk = open(tmp, O_RDWR);
    ck_assert_int_ge(lk, 0);
    ck_assert_int_eq(flock(lk, LOCK_EX | LOCK_NB), 0);
    ck_assert_int_eq(JetCreateDatabase(ses, dbp, NULL, &d, 0), JET_errFileAccessDenied);
    ck_assert_int_eq(fsize_of(tmp), 4);
    ck_assert_int_ne(access(dbp, F_OK), 0);
    close(lk);
    /* The same file left by a crash (no lock): taken over. */
    OK(JetCreateDatabase(ses, dbp, NULL, &d, 0));
    ck_assert_int_ne(access(tmp, F_OK), 0);
    OK(JetCreateTable(ses, d, "t", 0, 0, &tab));
    OK(JetPutRecord(ses, tab, "k", 1, "v", 1, 0));
    OK(JetCloseTable(ses, tab));
    OK(JetCloseDatabase(ses, d, 0));
    /* Attached: another create is refused whatever the grbit. */
    ck_assert_int_eq(JetCreateDatabase(ses, dbp, NULL, &d, 0), JET_errDatabaseDuplicate);
    ck_assert_int_eq(JetCreateDatabase(ses, dbp, NULL, &d, JET_bitDbOverwriteExisting),
                     JET_errDatabaseDuplicate);
    OK(JetDetachDatabase(ses, dbp));
    /* A whole database: refused without the grbit, replaced by an empty one with it. */
    ck_assert_int_eq(JetCreateDatabase(ses, dbp, NULL, &d, 0), JET_errFileAlreadyExists);
    OK(JetCreateDatabase(ses, dbp, NULL, &d, JET_bitDbOverwriteExisting));
    ck_assert_int_ne(access(tmp, F_OK), 0);
    OK(JetCloseDatabase(ses, d, 0));
    OK(JetDetachDatabase(ses, dbp));
    stop_instance();
    uint64_t ntables = 9;
    OK(eng_verify_file(dbp, NULL, &ntables, NULL));
    ck_assert_uint_eq(ntables, 0);
}
END_TEST

/* ---------------------------------------------------------------------------------------------
 * Page diffs and their redo
 * ------------------------------------------------------------------------------------------- */

START_TEST(diff_roundtrip)
{
    unsigned long long seed = 42;
    for (size_t z = 0; z < sizeof page_sizes / sizeof *page_sizes; z++) {
        uint32_t ps = page_sizes[z];
        uint8_t *old = malloc(ps), *cur = malloc(ps), *out = malloc(ps), *back = malloc(ps);
        for (int round = 0; round < 300; round++) {
            for (uint32_t i = 0; i < ps; i++)
                old[i] = (uint8_t)tu_rand(&seed);
            memcpy(cur, old, ps);
            /* A few changed spans anywhere, the pager's bytes included (they never go in a diff). */
            int spans = (int)(tu_rand(&seed) % 6);
            for (int k = 0; k < spans; k++) {
                uint32_t at = (uint32_t)(tu_rand(&seed) % ps), len = 1 + (uint32_t)(tu_rand(&seed) % 600);
                for (uint32_t i = at; i < ps && i < at + len; i++)
                    cur[i] ^= (uint8_t)(1 + tu_rand(&seed) % 255);
            }
            size_t cap = round % 3 ? ps / 4 : ps;
            long n = eng_pagediff_encode(old, cur, ps, out, cap);
            /* What it must cost: 4 bytes per run of changed 8-byte words plus the words. */
            size_t need = 0;
            for (uint32_t w = ENG_DIFF_FIRST; w < ps; w += 8)
                if (memcmp(old + w, cur + w, 8))
                    need += 8 + (w == ENG_DIFF_FIRST || !memcmp(old + w - 8, cur + w - 8, 8) ? 4 : 0);
            if (need > cap) {
                ck_assert_int_eq(n, -1);
                continue;
            }
            ck_assert_int_eq(n, (long)need);
            OK(eng_pagediff_check(out, (size_t)n, ps));
            memcpy(back, old, ps);
            eng_pagediff_apply(back, out, (size_t)n);
            ck_assert(!memcmp(back, old, ENG_DIFF_FIRST));
            ck_assert(!memcmp(back + ENG_DIFF_FIRST, cur + ENG_DIFF_FIRST, ps - ENG_DIFF_FIRST));
        }
        free(old);
        free(cur);
        free(out);
        free(back);
    }
}
END_TEST

static void run(uint8_t *p, uint16_t off, uint16_t len)
{
    eng_st16(p, off);
    eng_st16(p + 2, len);
    memset(p + 4, 0xAB, len);
}

START_TEST(diff_malformed)
{
    uint8_t b[64 + 8192] = {0};
    const uint32_t ps = 8192;
    OK(eng_pagediff_check(b, 0, ps)); /* no change at all */
    run(b, 16, 8);
    OK(eng_pagediff_check(b, 12, ps));
    ck_assert_int_eq(eng_pagediff_check(b, 11, ps), JET_errLogCorrupted); /* cut short */
    ck_assert_int_eq(eng_pagediff_check(b, 2, ps), JET_errLogCorrupted);  /* half a run header */
    run(b, 8, 8);
    ck_assert_int_eq(eng_pagediff_check(b, 12, ps), JET_errLogCorrupted); /* the pager's bytes */
    run(b, 20, 8);
    ck_assert_int_eq(eng_pagediff_check(b, 12, ps), JET_errLogCorrupted); /* not word-aligned */
    run(b, 16, 0);
    ck_assert_int_eq(eng_pagediff_check(b, 4, ps), JET_errLogCorrupted); /* empty run */
    run(b, 8184, 16);
    ck_assert_int_eq(eng_pagediff_check(b, 20, ps), JET_errLogCorrupted); /* past the page */
    run(b, 64, 16);
    run(b + 20, 72, 8);
    ck_assert_int_eq(eng_pagediff_check(b, 32, ps), JET_errLogCorrupted); /* overlapping */
    run(b + 20, 32, 8);
    ck_assert_int_eq(eng_pagediff_check(b, 32, ps), JET_errLogCorrupted); /* out of order */
    run(b + 20, 80, 8);
    OK(eng_pagediff_check(b, 32, ps));
}
END_TEST

/* Hand eng_redo_add a PAGEDIFF record of page 3 against `base`. */
static void add_diff(eng_redo *r, eng_lsn base, const uint8_t *runs, size_t len)
{
    uint8_t rec[ENG_REC_DIFF_HDR + 64];
    eng_st32(rec, 1);
    eng_st32(rec + 4, 3);
    eng_st64(rec + 8, base);
    memcpy(rec + ENG_REC_DIFF_HDR, runs, len);
    eng_logrec_view v = {ENG_LR_PAGEDIFF, 0, 0, rec, ENG_REC_DIFF_HDR + len};
    OK(eng_redo_add(r, &v));
}

static void page_at(int fd, uint32_t ps, eng_lsn stamp, uint8_t fill)
{
    uint8_t *p = malloc(ps);
    memset(p, fill, ps);
    eng_st64(p + 8, stamp);
    eng_page_seal(p, 3, ps);
    ck_assert_int_eq(pwrite(fd, p, ps, (off_t)eng_page_off(3, ps)), (ssize_t)ps);
    free(p);
}

/* Redo keeps pages in memory until flushed: every check of the file flushes first (which also
 * makes redo read the file again next time, after the test changed it). */
static eng_lsn stamp_of(eng_redo *r, int fd, uint32_t ps, uint8_t *p)
{
    OK(eng_redo_flush(r, fd));
    ck_assert_int_eq(pread(fd, p, ps, (off_t)eng_page_off(3, ps)), (ssize_t)ps);
    OK(eng_page_verify(p, 3, ps));
    return eng_ld64(p + 8);
}

START_TEST(redo_applies_diffs_in_order)
{
    const uint32_t ps = 8192;
    int fd = open(dbp, O_RDWR | O_CREAT, 0644);
    ck_assert_int_ge(fd, 0);
    eng_redo r = {.ps = ps};
    uint8_t runs[12], *p = malloc(ps);
    run(runs, 96, 8);
    const eng_lsn base = ENG_LSN(4, 5000), next = ENG_LSN(4, 6000);

    page_at(fd, ps, base, 0x11);
    add_diff(&r, base, runs, sizeof runs);
    OK(eng_redo_write(&r, fd, &r.pages[0], next)); /* onto its base: applied, stamped */
    ck_assert_uint_eq(stamp_of(&r, fd, ps, p), next);
    ck_assert_uint_eq(p[96], 0xAB);
    ck_assert_uint_eq(p[104], 0x11);
    OK(eng_redo_write(&r, fd, &r.pages[0], next)); /* again: the page holds it, skipped */
    ck_assert_uint_eq(r.skipped, 1);
    ck_assert_uint_eq(stamp_of(&r, fd, ps, p), next);

    page_at(fd, ps, ENG_LSN(4, 7000), 0x22); /* a later image (a backup read it after a flush) */
    OK(eng_redo_write(&r, fd, &r.pages[0], next));
    ck_assert_uint_eq(r.skipped, 2);
    ck_assert_uint_eq(stamp_of(&r, fd, ps, p), ENG_LSN(4, 7000));
    ck_assert_uint_eq(p[96], 0x22);

    page_at(fd, ps, ENG_LSN(4, 100), 0x33); /* older than the base: a change is missing */
    ck_assert_int_eq(eng_redo_write(&r, fd, &r.pages[0], next), JET_errDatabaseCorrupted);
    ck_assert_uint_eq(stamp_of(&r, fd, ps, p), ENG_LSN(4, 100));

    page_at(fd, ps, base, 0x44);
    OK(eng_redo_flush(&r, fd));
    flip_bits(dbp, eng_page_off(3, ps) + 300, 0x10); /* damaged: never patched */
    ck_assert_int_eq(eng_redo_write(&r, fd, &r.pages[0], next), JET_errReadVerifyFailure);

    eng_logrec_view bad = {ENG_LR_PAGEDIFF, 0, 0, runs, 8}; /* shorter than its header */
    ck_assert_int_eq(eng_redo_add(&r, &bad), JET_errLogCorrupted);
    eng_redo_free(&r);
    free(p);
    close(fd);
}
END_TEST

/* ---- records.c: the payload codecs ------------------------------------------------------- */

/* The bytes every encoder writes, built here field by field from the tables at the top of
 * records.c (the layouts the engine wrote before the codecs existed): a codec that moved a field
 * would change what is on disk. */
START_TEST(records_encode_the_documented_bytes)
{
    uint8_t got[256], want[256];
    const eng_dbsig sig = {0x1122334455667788ull, 0x99AABBCCDDEEFF00ull};

    memset(got, 0xEE, sizeof got);
    memset(want, 0xEE, sizeof want);
    eng_rec_page_encode(got, &(eng_rec_page){.dbid = 7, .pgno = 0x01020304});
    eng_st32(want, 7);
    eng_st32(want + 4, 0x01020304);
    ck_assert_int_eq(ENG_REC_PAGE_HDR, 8);
    ck_assert(!memcmp(got, want, 16)); /* and nothing past the header touched */

    eng_rec_pagediff_encode(got, &(eng_rec_page){.dbid = 7, .pgno = 9, .base = ENG_LSN(3, 4096)});
    eng_st32(want, 7);
    eng_st32(want + 4, 9);
    eng_st64(want + 8, ENG_LSN(3, 4096));
    ck_assert_int_eq(ENG_REC_DIFF_HDR, 16);
    ck_assert(!memcmp(got, want, 24));

    memset(got, 0xEE, sizeof got);
    memset(want, 0xEE, sizeof want);
    eng_rec_commit_encode(got, &(eng_rec_time){0x0102030405060708ull});
    eng_st64(want, 0x0102030405060708ull);
    ck_assert(!memcmp(got, want, 16));
    eng_rec_marker_encode(got, &(eng_rec_time){42});
    eng_st64(want, 42);
    ck_assert(!memcmp(got, want, 16));

    memset(got, 0xEE, sizeof got);
    memset(want, 0xEE, sizeof want);
    eng_rec_attach at = {5, true, 8192, sig, "/db/a.edb", 9};
    ck_assert_uint_eq(eng_rec_attach_encode(got, &at), 41);
    eng_st32(want, 5);
    eng_st32(want + 4, 1);
    eng_st32(want + 8, 8192);
    eng_st32(want + 12, 9);
    eng_st64(want + 16, sig.random);
    eng_st64(want + 24, sig.create_time_usec);
    memcpy(want + 32, "/db/a.edb", 9);
    ck_assert(!memcmp(got, want, 48));
    at.create = false;
    eng_rec_attach_encode(got, &at);
    ck_assert_uint_eq(eng_ld32(got + 4), 0);

    memset(got, 0xEE, sizeof got);
    memset(want, 0xEE, sizeof want);
    eng_rec_detach_encode(got, &(eng_rec_detach){31});
    eng_st32(want, 31);
    ck_assert(!memcmp(got, want, 8));

    memset(got, 0xEE, sizeof got);
    memset(want, 0xEE, sizeof want);
    size_t o = ENG_REC_BACKUP_HDR;
    o += eng_rec_bkdb_encode(got + o, &(eng_rec_bkdb){2, sig, "x.edb", 5});
    o += eng_rec_bkdb_encode(got + o, &(eng_rec_bkdb){4, sig, "", 0});
    eng_rec_backup_encode(got, &(eng_rec_backup){.kind = ENG_REC_BACKUP_BEGIN, .count = 2});
    ck_assert_uint_eq(o, 8 + 29 + 24);
    eng_st32(want, 1);
    eng_st32(want + 4, 2);
    eng_st32(want + 8, 2);
    eng_st32(want + 12, 5);
    eng_st64(want + 16, sig.random);
    eng_st64(want + 24, sig.create_time_usec);
    memcpy(want + 32, "x.edb", 5);
    eng_st32(want + 37, 4);
    eng_st32(want + 41, 0);
    eng_st64(want + 45, sig.random);
    eng_st64(want + 53, sig.create_time_usec);
    ck_assert(!memcmp(got, want, 80));
}
END_TEST

static eng_rec_trailer sample_trailer(void)
{
    return (eng_rec_trailer){.npages = 77,
                             .sig = {1, 2},
                             .logsig = {3, 4},
                             .gen_low = 5,
                             .gen_high = 6,
                             .mark = ENG_LSN(5, 4096),
                             .mark_usec = 8,
                             .dbid = 9,
                             .path = "/var/db/x.edb",
                             .path_len = 13};
}

START_TEST(records_trailer_documented_bytes)
{
    const uint32_t ps = 4096;
    uint8_t *got = malloc(ps), *want = calloc(1, ps);
    memset(got, 0xEE, ps);
    eng_rec_trailer t = sample_trailer();
    eng_rec_trailer_encode(got, ps, &t);
    memcpy(want + 4, "JSNAPTRL", 8);
    eng_st32(want + 12, 1);
    eng_st32(want + 16, ps);
    eng_st32(want + 20, 77);
    eng_st64(want + 24, 1);
    eng_st64(want + 32, 2);
    eng_st64(want + 40, 3);
    eng_st64(want + 48, 4);
    eng_st32(want + 56, 5);
    eng_st32(want + 60, 6);
    eng_st64(want + 64, ENG_LSN(5, 4096));
    eng_st64(want + 72, 8);
    eng_st32(want + 80, 9);
    eng_st32(want + 84, 13);
    memcpy(want + 88, "/var/db/x.edb", 13);
    eng_st32(want, eng_crc32c(0, want + 4, ps - 4));
    ck_assert(!memcmp(got, want, ps));

    /* A path the page cannot hold is written as unknown (length 0, no bytes). */
    char *longp = malloc(ps);
    memset(longp, 'p', ps);
    t.path = longp;
    t.path_len = ps - ENG_TRL_PATH + 1;
    eng_rec_trailer_encode(got, ps, &t);
    ck_assert_uint_eq(eng_ld32(got + 84), 0);
    ck_assert_uint_eq(got[ENG_TRL_PATH], 0);
    t.path_len = ps - ENG_TRL_PATH; /* exactly fits */
    eng_rec_trailer_encode(got, ps, &t);
    eng_rec_trailer d;
    OK(eng_rec_trailer_decode(got, ps, &d));
    ck_assert_uint_eq(d.path_len, ps - ENG_TRL_PATH);
    ck_assert(!memcmp(d.path, longp, d.path_len));
    free(longp);
    free(got);
    free(want);
}
END_TEST

START_TEST(records_round_trip)
{
    const uint32_t ps = 4096;
    uint8_t *buf = calloc(1, ENG_REC_ATTACH_FIXED + ENG_PATH_MAX + ps);

    eng_rec_page p;
    eng_rec_page_encode(buf, &(eng_rec_page){.dbid = 3, .pgno = 44});
    memset(buf + ENG_REC_PAGE_HDR, 0x5A, ps);
    OK(eng_rec_page_decode(buf, ENG_REC_PAGE_HDR + ps, ps, &p));
    ck_assert_uint_eq(p.dbid, 3);
    ck_assert_uint_eq(p.pgno, 44);
    ck_assert(p.body == buf + ENG_REC_PAGE_HDR);
    ck_assert_uint_eq(p.body_len, ps);

    uint8_t runs[12];
    eng_st16(runs, 96);
    eng_st16(runs + 2, 8);
    memset(runs + 4, 0xAB, 8);
    eng_rec_pagediff_encode(buf, &(eng_rec_page){.dbid = 2, .pgno = 8, .base = ENG_LSN(9, 123456)});
    memcpy(buf + ENG_REC_DIFF_HDR, runs, sizeof runs);
    OK(eng_rec_pagediff_decode(buf, ENG_REC_DIFF_HDR + sizeof runs, ps, &p));
    ck_assert_uint_eq(p.dbid, 2);
    ck_assert_uint_eq(p.pgno, 8);
    ck_assert_uint_eq(p.base, ENG_LSN(9, 123456));
    ck_assert_uint_eq(p.body_len, sizeof runs);
    ck_assert(!memcmp(p.body, runs, sizeof runs));

    eng_rec_time t = {0};
    eng_rec_commit_encode(buf, &(eng_rec_time){0xFEDCBA9876543210ull});
    OK(eng_rec_commit_decode(buf, ENG_REC_TIME_LEN, &t));
    ck_assert_uint_eq(t.usec, 0xFEDCBA9876543210ull);
    eng_rec_marker_encode(buf, &(eng_rec_time){17});
    OK(eng_rec_marker_decode(buf, ENG_REC_TIME_LEN, &t));
    ck_assert_uint_eq(t.usec, 17);

    char path[ENG_PATH_MAX];
    memset(path, 'q', sizeof path);
    eng_rec_attach a = {ENG_MAX_DB, true, 32768, {~0ull, 1}, path, ENG_PATH_MAX - 1}, ad;
    size_t n = eng_rec_attach_encode(buf, &a);
    OK(eng_rec_attach_decode(buf, n, &ad));
    ck_assert_uint_eq(ad.dbid, ENG_MAX_DB);
    ck_assert(ad.create);
    ck_assert_uint_eq(ad.page_size, 32768);
    ck_assert_uint_eq(ad.sig.random, ~0ull);
    ck_assert_uint_eq(ad.sig.create_time_usec, 1);
    ck_assert_uint_eq(ad.path_len, ENG_PATH_MAX - 1);
    ck_assert(!memcmp(ad.path, path, ad.path_len));

    eng_rec_detach dt = {0};
    eng_rec_detach_encode(buf, &(eng_rec_detach){12});
    OK(eng_rec_detach_decode(buf, ENG_REC_DETACH_LEN, &dt));
    ck_assert_uint_eq(dt.dbid, 12);

    size_t o = ENG_REC_BACKUP_HDR;
    for (uint32_t i = 1; i <= 3; i++)
        o += eng_rec_bkdb_encode(buf + o, &(eng_rec_bkdb){i, {i, i * 10}, path, i});
    eng_rec_backup_encode(buf, &(eng_rec_backup){.kind = ENG_REC_BACKUP_BEGIN, .count = 3});
    eng_rec_backup b;
    OK(eng_rec_backup_decode(buf, o, &b));
    ck_assert_uint_eq(b.kind, ENG_REC_BACKUP_BEGIN);
    ck_assert_uint_eq(b.count, 3);
    eng_rec_bkdb d;
    for (uint32_t i = 1; i <= 3; i++) {
        ck_assert_int_eq(eng_rec_backup_next(&b, &d), 1);
        ck_assert_uint_eq(d.dbid, i);
        ck_assert_uint_eq(d.sig.random, i);
        ck_assert_uint_eq(d.sig.create_time_usec, i * 10);
        ck_assert_uint_eq(d.path_len, i);
        ck_assert(!memcmp(d.path, path, i));
    }
    ck_assert_int_eq(eng_rec_backup_next(&b, &d), 0);

    eng_rec_trailer tr = sample_trailer(), td;
    eng_rec_trailer_encode(buf, ps, &tr);
    OK(eng_rec_trailer_decode(buf, ps, &td));
    ck_assert_uint_eq(td.npages, tr.npages);
    ck_assert_uint_eq(td.sig.random, tr.sig.random);
    ck_assert_uint_eq(td.sig.create_time_usec, tr.sig.create_time_usec);
    ck_assert_uint_eq(td.logsig.random, tr.logsig.random);
    ck_assert_uint_eq(td.logsig.create_time_usec, tr.logsig.create_time_usec);
    ck_assert_uint_eq(td.gen_low, tr.gen_low);
    ck_assert_uint_eq(td.gen_high, tr.gen_high);
    ck_assert_uint_eq(td.mark, tr.mark);
    ck_assert_uint_eq(td.mark_usec, tr.mark_usec);
    ck_assert_uint_eq(td.dbid, tr.dbid);
    ck_assert_uint_eq(td.path_len, tr.path_len);
    ck_assert(!memcmp(td.path, tr.path, tr.path_len));
    free(buf);
}
END_TEST

START_TEST(records_refuse_wrong_lengths)
{
    const uint32_t ps = 4096;
    uint8_t *buf = calloc(1, 2 * ps);
    eng_rec_page p;
    eng_rec_page_encode(buf, &(eng_rec_page){.dbid = 1, .pgno = 2});
    ck_assert_int_eq(eng_rec_page_decode(buf, ENG_REC_PAGE_HDR + ps - 1, ps, &p), JET_errLogCorrupted);
    ck_assert_int_eq(eng_rec_page_decode(buf, ENG_REC_PAGE_HDR + ps + 1, ps, &p), JET_errLogCorrupted);
    ck_assert_int_eq(eng_rec_page_decode(buf, 0, ps, &p), JET_errLogCorrupted);
    /* A PAGEDIFF shorter than its header, or whose runs are cut mid-run. */
    ck_assert_int_eq(eng_rec_pagediff_decode(buf, ENG_REC_DIFF_HDR - 1, ps, &p), JET_errLogCorrupted);
    OK(eng_rec_pagediff_decode(buf, ENG_REC_DIFF_HDR, ps, &p)); /* no runs: an unchanged page */
    eng_st16(buf + ENG_REC_DIFF_HDR, 96);
    eng_st16(buf + ENG_REC_DIFF_HDR + 2, 8);
    ck_assert_int_eq(eng_rec_pagediff_decode(buf, ENG_REC_DIFF_HDR + 4 + 7, ps, &p), JET_errLogCorrupted);
    OK(eng_rec_pagediff_decode(buf, ENG_REC_DIFF_HDR + 4 + 8, ps, &p));

    eng_rec_time t;
    ck_assert_int_eq(eng_rec_commit_decode(buf, ENG_REC_TIME_LEN - 1, &t), JET_errLogCorrupted);
    ck_assert_int_eq(eng_rec_commit_decode(buf, ENG_REC_TIME_LEN + 1, &t), JET_errLogCorrupted);
    ck_assert_int_eq(eng_rec_marker_decode(buf, 0, &t), JET_errLogCorrupted);
    ck_assert_int_eq(eng_rec_marker_decode(buf, 16, &t), JET_errLogCorrupted);

    eng_rec_attach a;
    size_t n = eng_rec_attach_encode(buf, &(eng_rec_attach){1, false, ps, {1, 2}, "ab.edb", 6});
    ck_assert_int_eq(eng_rec_attach_decode(buf, ENG_REC_ATTACH_FIXED - 1, &a), JET_errLogCorrupted);
    ck_assert_int_eq(eng_rec_attach_decode(buf, n - 1, &a), JET_errLogCorrupted); /* path cut */
    ck_assert_int_eq(eng_rec_attach_decode(buf, n + 1, &a), JET_errLogCorrupted); /* bytes past it */
    eng_st32(buf + 12, UINT32_MAX); /* a length that would wrap */
    ck_assert_int_eq(eng_rec_attach_decode(buf, n, &a), JET_errLogCorrupted);

    eng_rec_detach dt;
    ck_assert_int_eq(eng_rec_detach_decode(buf, ENG_REC_DETACH_LEN - 1, &dt), JET_errLogCorrupted);
    ck_assert_int_eq(eng_rec_detach_decode(buf, ENG_REC_DETACH_LEN + 1, &dt), JET_errLogCorrupted);

    eng_rec_backup b;
    eng_rec_bkdb d;
    ck_assert_int_eq(eng_rec_backup_decode(buf, ENG_REC_BACKUP_HDR - 1, &b), JET_errLogCorrupted);
    size_t o = ENG_REC_BACKUP_HDR + eng_rec_bkdb_encode(buf + ENG_REC_BACKUP_HDR, &(eng_rec_bkdb){1, {1, 2}, "abc", 3});
    eng_rec_backup_encode(buf, &(eng_rec_backup){.kind = ENG_REC_BACKUP_BEGIN, .count = 2}); /* claims two */
    OK(eng_rec_backup_decode(buf, o, &b));
    ck_assert_int_eq(eng_rec_backup_next(&b, &d), 1);
    ck_assert_int_eq(eng_rec_backup_next(&b, &d), JET_errLogCorrupted);
    OK(eng_rec_backup_decode(buf, o - 1, &b)); /* the first one's path cut */
    ck_assert_int_eq(eng_rec_backup_next(&b, &d), JET_errLogCorrupted);

    /* The trailer: damaged, of another version, of another page size, or too short a page. */
    eng_rec_trailer tr = sample_trailer(), td;
    eng_rec_trailer_encode(buf, ps, &tr);
    OK(eng_rec_trailer_decode(buf, ps, &td));
    ck_assert_int_eq(eng_rec_trailer_decode(buf, ps - 8, &td), JET_errDatabaseCorrupted);
    ck_assert_int_eq(eng_rec_trailer_decode(buf, ENG_TRL_PATH - 1, &td), JET_errDatabaseCorrupted);
    buf[200] ^= 1;
    ck_assert_int_eq(eng_rec_trailer_decode(buf, ps, &td), JET_errDatabaseCorrupted);
    buf[200] ^= 1;
    eng_st32(buf + 12, 2);
    eng_st32(buf, eng_crc32c(0, buf + 4, ps - 4)); /* a version 2 with a valid checksum */
    ck_assert_int_eq(eng_rec_trailer_decode(buf, ps, &td), JET_errDatabaseCorrupted);
    eng_st32(buf + 12, 1);
    eng_st32(buf + 16, 8192);
    eng_st32(buf, eng_crc32c(0, buf + 4, ps - 4));
    ck_assert_int_eq(eng_rec_trailer_decode(buf, ps, &td), JET_errDatabaseCorrupted);
    eng_st32(buf + 16, ps);
    buf[5] = 'X';
    eng_st32(buf, eng_crc32c(0, buf + 4, ps - 4));
    ck_assert_int_eq(eng_rec_trailer_decode(buf, ps, &td), JET_errDatabaseCorrupted);
    /* A path length past the page (only a crafted page has one) reads as unknown. */
    buf[5] = 'S';
    eng_st32(buf + 84, ps);
    eng_st32(buf, eng_crc32c(0, buf + 4, ps - 4));
    OK(eng_rec_trailer_decode(buf, ps, &td));
    ck_assert_uint_eq(td.path_len, 0);
    ck_assert_ptr_null(td.path);
    free(buf);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("pages");
    TCase *tf = tcase_create("format");
    tcase_add_checked_fixture(tf, setup, teardown);
    tcase_set_timeout(tf, 60);
    tcase_add_test(tf, page_seal_and_verify);
    tcase_add_test(tf, header_roundtrip);
    tcase_add_test(tf, header_one_copy_is_enough);
    tcase_add_test(tf, header_both_copies_damaged);
    tcase_add_test(tf, header_newer_copy_wins);
    tcase_add_test(tf, header_not_a_database);
    tcase_add_test(tf, header_other_version);
    suite_add_tcase(s, tf);
    TCase *td = tcase_create("diffs");
    tcase_add_checked_fixture(td, setup, teardown);
    tcase_add_test(td, diff_roundtrip);
    tcase_add_test(td, diff_malformed);
    tcase_add_test(td, redo_applies_diffs_in_order);
    suite_add_tcase(s, td);
    TCase *tr = tcase_create("records");
    tcase_add_test(tr, records_encode_the_documented_bytes);
    tcase_add_test(tr, records_trailer_documented_bytes);
    tcase_add_test(tr, records_round_trip);
    tcase_add_test(tr, records_refuse_wrong_lengths);
    suite_add_tcase(s, tr);

    TCase *ta = tcase_create("pages-api");
    tcase_add_checked_fixture(ta, setup, api_teardown);
    tcase_set_timeout(ta, 120);
    tcase_add_test(ta, free_space_is_reused);
    tcase_add_test(ta, damaged_overflow_page);
    tcase_add_test(ta, misplaced_page);
    tcase_add_test(ta, damaged_free_page);
    tcase_add_test(ta, damaged_meta_page);
    tcase_add_test(ta, header_damage_through_the_api);
    tcase_add_test(ta, truncated_and_empty_files_through_the_api);
    TCase *tl = tcase_create("lying");
    tcase_add_checked_fixture(tl, setup, api_teardown);
    tcase_set_timeout(tl, 30); /* a scan that never ends fails here instead of hanging */
    tcase_add_test(tl, page_count_smaller_than_file);
    tcase_add_test(tl, page_count_absurdly_large);
    tcase_add_test(tl, file_cut_mid_page_or_at_boundary);
    tcase_add_test(tl, rotated_slots_scan_ends);
    tcase_add_test(tl, child_pointer_out_of_range);
    tcase_add_test(tl, cut_during_create_then_retry);
    tcase_add_test(tl, create_rules_kept);
    suite_add_tcase(s, ta);
    suite_add_tcase(s, tl);
    return s;
}

TU_CHECK_MAIN(suite)
