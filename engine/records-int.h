/*
 * records-int.h — the payloads of the engine's log records and the trailer page of a backup
 * stream: one encoder and one decoder each (records.c, where the byte tables are). Nothing else
 * in the engine knows these layouts; writers fill a struct and encode it, readers decode into one.
 *
 * Decoders check the payload's structure only (its length, the lengths it declares, a version
 * and checksum where it has them); what a field's value means to the reader (a dbid in range, a
 * page size that matches the instance) stays with the reader. Pointers a decoder fills point into
 * the buffer it was given.
 */
#ifndef ENG_RECORDS_INT_H
#define ENG_RECORDS_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "engine-int.h"

/* ENG_LR_PAGE and ENG_LR_PAGEDIFF: which page, then its image or its changed runs. */
#define ENG_REC_PAGE_HDR 8  /* bytes before a PAGE record's image */
#define ENG_REC_DIFF_HDR 16 /* bytes before a PAGEDIFF record's runs */
typedef struct eng_rec_page {
    uint32_t dbid;
    uint32_t pgno;
    eng_lsn base;        /* PAGEDIFF: the LSN the page image the runs apply to is stamped with */
    const uint8_t *body; /* decoded: the page image (PAGE) or the runs (PAGEDIFF) */
    size_t body_len;
} eng_rec_page;
/* The header only (ENG_REC_PAGE_HDR bytes); the image follows it in the record. */
void eng_rec_page_encode(uint8_t *buf, const eng_rec_page *p);
/* A PAGE payload of a page of ps bytes. JET_errLogCorrupted unless len is header + ps. */
long eng_rec_page_decode(const uint8_t *buf, size_t len, uint32_t ps, eng_rec_page *p);
/* The header only (ENG_REC_DIFF_HDR bytes); the runs (eng_pagediff_encode) follow it. */
void eng_rec_pagediff_encode(uint8_t *buf, const eng_rec_page *p);
/* A PAGEDIFF payload for a page of ps bytes: JET_errLogCorrupted when shorter than its header or
 * its runs are not a well-formed diff (eng_pagediff_check). */
long eng_rec_pagediff_decode(const uint8_t *buf, size_t len, uint32_t ps, eng_rec_page *p);

/* ENG_LR_COMMIT, ENG_LR_INIT and ENG_LR_TERM: when they were written. */
#define ENG_REC_TIME_LEN 8
typedef struct eng_rec_time {
    uint64_t usec; /* CLOCK_REALTIME, µs since the epoch */
} eng_rec_time;
void eng_rec_commit_encode(uint8_t *buf, const eng_rec_time *t); /* ENG_REC_TIME_LEN bytes */
long eng_rec_commit_decode(const uint8_t *buf, size_t len, eng_rec_time *t); /* LogCorrupted: length */
void eng_rec_marker_encode(uint8_t *buf, const eng_rec_time *t); /* INIT and TERM */
long eng_rec_marker_decode(const uint8_t *buf, size_t len, eng_rec_time *t);

/* ENG_LR_ATTACH: a database attached or created, and where. */
#define ENG_REC_ATTACH_FIXED 32 /* bytes before the path */
typedef struct eng_rec_attach {
    uint32_t dbid;
    bool create; /* JetCreateDatabase rather than JetAttachDatabase */
    uint32_t page_size;
    eng_dbsig sig;
    const char *path; /* path_len bytes, no NUL */
    uint32_t path_len;
} eng_rec_attach;
/* Writes ENG_REC_ATTACH_FIXED + path_len bytes and returns that length. */
size_t eng_rec_attach_encode(uint8_t *buf, const eng_rec_attach *a);
/* JET_errLogCorrupted when shorter than the fixed part or the path length it declares is not
 * what follows. */
long eng_rec_attach_decode(const uint8_t *buf, size_t len, eng_rec_attach *a);

/* ENG_LR_DETACH: a database detached. */
#define ENG_REC_DETACH_LEN 4
typedef struct eng_rec_detach {
    uint32_t dbid;
} eng_rec_detach;
void eng_rec_detach_encode(uint8_t *buf, const eng_rec_detach *d);
long eng_rec_detach_decode(const uint8_t *buf, size_t len, eng_rec_detach *d); /* LogCorrupted: length */

/* ENG_LR_BACKUP: a backup milestone; kind BEGIN lists the databases attached then. */
#define ENG_REC_BACKUP_BEGIN 1u
#define ENG_REC_BACKUP_HDR 8 /* bytes before the list */
typedef struct eng_rec_backup {
    uint32_t kind;
    uint32_t count; /* databases in the list */
    /* Decoded: the list not read yet (eng_rec_backup_next). */
    const uint8_t *rest;
    size_t rest_len;
    uint32_t left;
} eng_rec_backup;
typedef struct eng_rec_bkdb {
    uint32_t dbid;
    eng_dbsig sig;
    const char *path; /* path_len bytes, no NUL */
    uint32_t path_len;
} eng_rec_bkdb;
/* Bytes one database takes in the list. */
size_t eng_rec_bkdb_size(uint32_t path_len);
/* The header (ENG_REC_BACKUP_HDR bytes): kind and count; the list follows it. */
void eng_rec_backup_encode(uint8_t *buf, const eng_rec_backup *b);
/* One database of the list (eng_rec_bkdb_size bytes); returns its size. */
size_t eng_rec_bkdb_encode(uint8_t *buf, const eng_rec_bkdb *d);
/* The header; JET_errLogCorrupted when shorter than it. Then eng_rec_backup_next reads the list. */
long eng_rec_backup_decode(const uint8_t *buf, size_t len, eng_rec_backup *b);
/* The next database of a decoded list: 1 with *d filled, 0 after the last one, or
 * JET_errLogCorrupted when the payload ends before the count it declares. */
long eng_rec_backup_next(eng_rec_backup *b, eng_rec_bkdb *d);

/* The trailer page that ends the backup stream of a database. */
#define ENG_TRL_PATH 88 /* bytes before the path: a path longer than page size - this is not kept */
typedef struct eng_rec_trailer {
    uint32_t npages; /* pages 1..npages-1 precede the trailer */
    eng_dbsig sig;
    eng_logsig logsig;
    uint32_t gen_low;  /* first log generation the copy needs */
    uint32_t gen_high; /* last generation when the pages were done */
    eng_lsn mark;
    uint64_t mark_usec;
    uint32_t dbid; /* the database's dbid at JetBeginExternalBackup */
    const char *path; /* path_len bytes, no NUL; path_len 0: not known */
    uint32_t path_len;
} eng_rec_trailer;
/* Fill buf (ps bytes: one page) with the trailer, checksum included. A path that does not fit
 * the page is written as unknown. */
void eng_rec_trailer_encode(uint8_t *buf, uint32_t ps, const eng_rec_trailer *t);
/* A trailer page of len bytes (the page size). JET_errDatabaseCorrupted unless its magic,
 * checksum, version and page size are right. A path longer than the page can hold is read as
 * unknown, as the writer writes it. */
long eng_rec_trailer_decode(const uint8_t *buf, size_t len, eng_rec_trailer *t);

#endif
