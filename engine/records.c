/*
 * records.c — the payloads of the engine's log records and the trailer page of a backup stream:
 * their formats, and the one encoder and one decoder of each (interface: records-int.h).
 *
 * All integers little-endian. The log's own framing (file header, 16-byte record header, seal)
 * is log.c's and is documented there; a payload below is what follows a record header. Payloads
 * carry no version of their own: the log file's format version (log.c, now 2) covers them, and a
 * layout change here is a new log version.
 *
 * ENG_LR_PAGE (1): the whole after-image of one page, logged by a commit (txn.c).
 *   off size
 *    0   4   dbid
 *    4   4   page number
 *    8   ps  the page image (exactly the instance's page size)
 *
 * ENG_LR_PAGEDIFF (8, log version 2): the byte ranges a commit changed in one page (txn.c).
 *    0   4   dbid
 *    4   4   page number
 *    8   8   base: the LSN stamped in the page image the runs apply to
 *   16   n   runs, as pagediff.c encodes them
 *
 * ENG_LR_COMMIT (2): ends a committed transaction's page records. Its position, not its payload,
 * is what redo uses (pages are stamped with the LSN just past it).
 *    0   8   time of the commit (µs since the epoch, CLOCK_REALTIME)
 *
 * ENG_LR_INIT (5), ENG_LR_TERM (6): the instance started logging / shut down cleanly.
 *    0   8   time (µs since the epoch)
 *
 * ENG_LR_ATTACH (3): a database attached or created (db.c).
 *    0   4   dbid
 *    4   4   flags: bit 0 set when the database was created
 *    8   4   page size
 *   12   4   length L of the path
 *   16   8   database signature: random
 *   24   8   database signature: creation time (µs)
 *   32   L   the path (no NUL); the payload is exactly 32 + L bytes
 *
 * ENG_LR_DETACH (4): a database detached (db.c).
 *    0   4   dbid
 *
 * ENG_LR_BACKUP (7): a backup milestone (backup.c). So far only kind 1, JetBeginExternalBackup,
 * which lists the databases attached then, so a restore that is not told where databases go
 * finds them at the paths they had.
 *    0   4   kind (1 = begin)
 *    4   4   count N of databases
 *    8       N times: u32 dbid, u32 path length L, u64 signature random, u64 signature time,
 *            L bytes of path (no NUL)
 *
 * BACKUP STREAM TRAILER, version 1: the last page (page size ps) of the stream of a database that
 * JetReadFile hands out (backup.c); a stream written to a file is a database file with this page
 * appended.
 *    0   4   CRC-32C of bytes 4..ps-1
 *    4   8   magic "JSNAPTRL"
 *   12   4   version (1)
 *   16   4   page size
 *   20   4   N: pages 1..N-1 precede the trailer
 *   24   8   database signature: random
 *   32   8   database signature: creation time
 *   40   8   log signature: random
 *   48   8   log signature: creation time
 *   56   4   first log generation the copy needs (the checkpoint at Begin)
 *   60   4   last generation when the pages were done
 *   64   8   mark LSN
 *   72   8   mark time (µs)
 *   80   4   dbid the database had at Begin
 *   84   4   length L of its path (0 if it did not fit the page)
 *   88   L   the path the database had (no NUL); the rest of the page is zero
 */
#include <string.h>

#include "records-int.h"

#define TRL_MAGIC "JSNAPTRL" /* 8 bytes, no NUL */
#define TRL_VERSION 1

void eng_rec_page_encode(uint8_t *buf, const eng_rec_page *p)
{
    eng_st32(buf, p->dbid);
    eng_st32(buf + 4, p->pgno);
}

long eng_rec_page_decode(const uint8_t *buf, size_t len, uint32_t ps, eng_rec_page *p)
{
    ENG_RETURN_IF(len != ENG_REC_PAGE_HDR + (size_t)ps, JET_errLogCorrupted,
                  "a page record's length is not its header plus one page");
    *p = (eng_rec_page){eng_ld32(buf), eng_ld32(buf + 4), 0, buf + ENG_REC_PAGE_HDR, ps};
    return JET_errSuccess;
}

void eng_rec_pagediff_encode(uint8_t *buf, const eng_rec_page *p)
{
    eng_st32(buf, p->dbid);
    eng_st32(buf + 4, p->pgno);
    eng_st64(buf + 8, p->base);
}

long eng_rec_pagediff_decode(const uint8_t *buf, size_t len, uint32_t ps, eng_rec_page *p)
{
    ENG_RETURN_IF(len < ENG_REC_DIFF_HDR, JET_errLogCorrupted,
                  "a page diff record is shorter than its header");
    long err = eng_pagediff_check(buf + ENG_REC_DIFF_HDR, len - ENG_REC_DIFF_HDR, ps);
    ENG_RETURN_IF(err, err, "a page diff record's runs are malformed");
    *p = (eng_rec_page){eng_ld32(buf), eng_ld32(buf + 4), eng_ld64(buf + 8), buf + ENG_REC_DIFF_HDR,
                        len - ENG_REC_DIFF_HDR};
    return JET_errSuccess;
}

static void time_encode(uint8_t *buf, const eng_rec_time *t) { eng_st64(buf, t->usec); }

static long time_decode(const uint8_t *buf, size_t len, eng_rec_time *t)
{
    ENG_RETURN_IF(len != ENG_REC_TIME_LEN, JET_errLogCorrupted,
                  "a COMMIT, INIT or TERM record's payload is not one 8-byte time");
    t->usec = eng_ld64(buf);
    return JET_errSuccess;
}

void eng_rec_commit_encode(uint8_t *buf, const eng_rec_time *t) { time_encode(buf, t); }

long eng_rec_commit_decode(const uint8_t *buf, size_t len, eng_rec_time *t) { return time_decode(buf, len, t); }

void eng_rec_marker_encode(uint8_t *buf, const eng_rec_time *t) { time_encode(buf, t); }

long eng_rec_marker_decode(const uint8_t *buf, size_t len, eng_rec_time *t) { return time_decode(buf, len, t); }

size_t eng_rec_attach_encode(uint8_t *buf, const eng_rec_attach *a)
{
    eng_st32(buf, a->dbid);
    eng_st32(buf + 4, a->create ? 1 : 0);
    eng_st32(buf + 8, a->page_size);
    eng_st32(buf + 12, a->path_len);
    eng_st64(buf + 16, a->sig.random);
    eng_st64(buf + 24, a->sig.create_time_usec);
    memcpy(buf + ENG_REC_ATTACH_FIXED, a->path, a->path_len);
    return ENG_REC_ATTACH_FIXED + (size_t)a->path_len;
}

long eng_rec_attach_decode(const uint8_t *buf, size_t len, eng_rec_attach *a)
{
    ENG_RETURN_IF(len < ENG_REC_ATTACH_FIXED, JET_errLogCorrupted,
                  "an ATTACH record is shorter than its fixed part");
    uint32_t pl = eng_ld32(buf + 12);
    ENG_RETURN_IF(ENG_REC_ATTACH_FIXED + (size_t)pl != len, JET_errLogCorrupted,
                  "an ATTACH record's length does not match its path length");
    *a = (eng_rec_attach){eng_ld32(buf),
                          eng_ld32(buf + 4) & 1,
                          eng_ld32(buf + 8),
                          {eng_ld64(buf + 16), eng_ld64(buf + 24)},
                          (const char *)buf + ENG_REC_ATTACH_FIXED,
                          pl};
    return JET_errSuccess;
}

void eng_rec_detach_encode(uint8_t *buf, const eng_rec_detach *d) { eng_st32(buf, d->dbid); }

long eng_rec_detach_decode(const uint8_t *buf, size_t len, eng_rec_detach *d)
{
    ENG_RETURN_IF(len != ENG_REC_DETACH_LEN, JET_errLogCorrupted,
                  "a DETACH record's payload is not one 4-byte database id");
    d->dbid = eng_ld32(buf);
    return JET_errSuccess;
}

#define BKDB_FIXED 24 /* bytes of one database of a BACKUP list before its path */

size_t eng_rec_bkdb_size(uint32_t path_len) { return BKDB_FIXED + (size_t)path_len; }

void eng_rec_backup_encode(uint8_t *buf, const eng_rec_backup *b)
{
    eng_st32(buf, b->kind);
    eng_st32(buf + 4, b->count);
}

size_t eng_rec_bkdb_encode(uint8_t *buf, const eng_rec_bkdb *d)
{
    eng_st32(buf, d->dbid);
    eng_st32(buf + 4, d->path_len);
    eng_st64(buf + 8, d->sig.random);
    eng_st64(buf + 16, d->sig.create_time_usec);
    memcpy(buf + BKDB_FIXED, d->path, d->path_len);
    return eng_rec_bkdb_size(d->path_len);
}

long eng_rec_backup_decode(const uint8_t *buf, size_t len, eng_rec_backup *b)
{
    ENG_RETURN_IF(len < ENG_REC_BACKUP_HDR, JET_errLogCorrupted,
                  "a BACKUP record is shorter than its header");
    uint32_t n = eng_ld32(buf + 4);
    *b = (eng_rec_backup){eng_ld32(buf), n, buf + ENG_REC_BACKUP_HDR, len - ENG_REC_BACKUP_HDR, n};
    return JET_errSuccess;
}

long eng_rec_backup_next(eng_rec_backup *b, eng_rec_bkdb *d)
{
    if (!b->left)
        return 0;
    ENG_RETURN_IF(b->rest_len < BKDB_FIXED, JET_errLogCorrupted,
                  "a BACKUP record's list of databases is cut short");
    uint32_t pl = eng_ld32(b->rest + 4);
    ENG_RETURN_IF(b->rest_len - BKDB_FIXED < pl, JET_errLogCorrupted,
                  "a database path in a BACKUP record runs past the record's end");
    *d = (eng_rec_bkdb){eng_ld32(b->rest),
                        {eng_ld64(b->rest + 8), eng_ld64(b->rest + 16)},
                        (const char *)b->rest + BKDB_FIXED,
                        pl};
    b->rest += eng_rec_bkdb_size(pl);
    b->rest_len -= eng_rec_bkdb_size(pl);
    b->left--;
    return 1;
}

void eng_rec_trailer_encode(uint8_t *buf, uint32_t ps, const eng_rec_trailer *t)
{
    memset(buf, 0, ps);
    memcpy(buf + 4, TRL_MAGIC, 8);
    eng_st32(buf + 12, TRL_VERSION);
    eng_st32(buf + 16, ps);
    eng_st32(buf + 20, t->npages);
    eng_st64(buf + 24, t->sig.random);
    eng_st64(buf + 32, t->sig.create_time_usec);
    eng_st64(buf + 40, t->logsig.random);
    eng_st64(buf + 48, t->logsig.create_time_usec);
    eng_st32(buf + 56, t->gen_low);
    eng_st32(buf + 60, t->gen_high);
    eng_st64(buf + 64, t->mark);
    eng_st64(buf + 72, t->mark_usec);
    eng_st32(buf + 80, t->dbid);
    if (t->path_len <= ps - ENG_TRL_PATH) {
        eng_st32(buf + 84, t->path_len);
        memcpy(buf + ENG_TRL_PATH, t->path, t->path_len);
    }
    eng_st32(buf, eng_crc32c(0, buf + 4, ps - 4));
}

long eng_rec_trailer_decode(const uint8_t *buf, size_t len, eng_rec_trailer *t)
{
    ENG_RETURN_IF(len < ENG_TRL_PATH || len > UINT32_MAX, JET_errDatabaseCorrupted,
                  "the backup stream's trailer page has an impossible size");
    ENG_RETURN_IF(memcmp(buf + 4, TRL_MAGIC, 8) ||
                      eng_ld32(buf) != eng_crc32c(0, buf + 4, len - 4) ||
                      eng_ld32(buf + 12) != TRL_VERSION || eng_ld32(buf + 16) != len,
                  JET_errDatabaseCorrupted,
                  "the backup stream's trailer has a bad magic, checksum, version or size");
    uint32_t pl = eng_ld32(buf + 84);
    if (pl > len - ENG_TRL_PATH)
        pl = 0;
    *t = (eng_rec_trailer){eng_ld32(buf + 20),
                           {eng_ld64(buf + 24), eng_ld64(buf + 32)},
                           {eng_ld64(buf + 40), eng_ld64(buf + 48)},
                           eng_ld32(buf + 56),
                           eng_ld32(buf + 60),
                           eng_ld64(buf + 64),
                           eng_ld64(buf + 72),
                           eng_ld32(buf + 80),
                           pl ? (const char *)buf + ENG_TRL_PATH : NULL,
                           pl};
    return JET_errSuccess;
}
