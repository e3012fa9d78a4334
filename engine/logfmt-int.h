/*
 * logfmt-int.h — the on-disk format of the write-ahead log, shared by the writer (log.c) and the
 * scanner and file helpers (logscan.c). The format itself is documented byte by byte at the top
 * of log.c; this header only gives it names.
 */
#ifndef ENG_LOGFMT_INT_H
#define ENG_LOGFMT_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "log-int.h"

#define LOG_MAGIC "JSNAPLOG" /* 8 bytes, no NUL */
#define LOG_VERSION 2u /* 2: commits may log ENG_LR_PAGEDIFF records, which version 1 readers would skip */
#define LOG_HDR_SIZE 4096u    /* file header; the first record starts here */
#define LOG_HDR_USED 64u      /* bytes of the header that carry fields (the rest is zero) */
#define LOG_HDR_CRC_OFF 60u   /* CRC-32C of bytes [0, 60) */
#define LOG_REC_HDR 16u       /* record header */
#define LOG_SEAL_SIZE 16u     /* a seal is a bare record header */
#define LOG_ALIGN 8u
#define LOG_MIN_FILE (64u * 1024u)
#define LOG_MAX_FILE (1024u * 1024u * 1024u) /* offsets must fit the 32 bits of an LSN */
#define LOG_MAX_PAYLOAD(fsize) ((fsize) - 8192u)
#define LOG_PATH_MAX 4096
/* The writer never has more than this many bytes written but not yet fdatasync'ed: a crash can
 * leave at most one such write half done (the torn-tail rule in logscan.c relies on it). */
#define LOG_WRITE_MAX (1024u * 1024u)
#define LOG_SECTOR 512u /* the unit a disk writes atomically, as the torn-tail rule assumes */

/* Little-endian loads and stores through memcpy: no alignment or aliasing assumptions. */
static inline uint16_t log_ld16(const uint8_t *p)
{
    return (uint16_t)(p[0] | (p[1] << 8));
}
static inline uint32_t log_ld32(const uint8_t *p)
{
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}
static inline uint64_t log_ld64(const uint8_t *p)
{
    return log_ld32(p) | ((uint64_t)log_ld32(p + 4) << 32);
}
static inline void log_st16(uint8_t *p, uint16_t v)
{
    uint8_t b[2] = {(uint8_t)v, (uint8_t)(v >> 8)};
    memcpy(p, b, 2);
}
static inline void log_st32(uint8_t *p, uint32_t v)
{
    uint8_t b[4] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24)};
    memcpy(p, b, 4);
}
static inline void log_st64(uint8_t *p, uint64_t v)
{
    log_st32(p, (uint32_t)v);
    log_st32(p + 4, (uint32_t)(v >> 32));
}

/* Bytes a record with a payload of len bytes occupies in the file (header + payload + padding). */
static inline uint64_t log_rec_size(uint64_t len)
{
    return LOG_REC_HDR + ((len + LOG_ALIGN - 1) & ~(uint64_t)(LOG_ALIGN - 1));
}

/* The decoded file header. */
typedef struct log_fhdr {
    uint32_t version;
    uint32_t gen;
    uint32_t file_size;
    eng_logsig sig;
    uint64_t create_usec;
} log_fhdr;

/* Fill out[LOG_HDR_SIZE] with the header of a new generation file (version LOG_VERSION). */
void log_fhdr_encode(const log_fhdr *h, uint8_t *out);
/* Parse and check a header read from a file (n = bytes read). Returns 0, JET_errLogFileCorrupt
 * (short, bad magic, bad CRC, impossible file size) or JET_errBadLogVersion. */
int log_fhdr_decode(const uint8_t *buf, size_t n, log_fhdr *h);

/* The CRC stored in a record: over the payload (payload_crc = eng_crc32c(0, payload)), then the
 * record header after the crc field (hdr + 4, 12 bytes), then the record's file offset. */
uint32_t log_rec_crc(uint32_t payload_crc, const uint8_t *hdr, uint32_t off);
/* Encode the 16-byte record header, CRC included. */
void log_rec_encode(uint8_t *hdr, uint32_t payload_crc, uint32_t len, uint16_t type, uint32_t gen,
                    uint32_t off);

static inline bool log_sig_is_zero(const eng_logsig *s)
{
    return s->random == 0 && s->create_time_usec == 0;
}
static inline bool log_sig_eq(const eng_logsig *a, const eng_logsig *b)
{
    return a->random == b->random && a->create_time_usec == b->create_time_usec;
}

/* dir and base usable (and, when need_size, file_size valid)? 0 or JET_errInvalidParameter. */
int log_cfg_check(const eng_log_config *cfg, bool need_size);
/* "<dir>/<base><suffix>", e.g. suffix ".log" or "tmp.log". 0 or JET_errInvalidPath. */
int log_name_path(const eng_log_config *cfg, const char *suffix, char *buf, size_t n);
/* A failed open/write/sync/allocate/rename as the log reports it: LogDiskFull, OutOfFileHandles,
 * InvalidPath (not a regular file) or LogWriteFail. */
int log_io_jet(int neg_errno);
/* Create (or truncate) path as a complete, empty generation file for gen: allocated and zeroed to
 * cfg->file_size, header written, fsync'ed. Returns the open (O_RDWR), locked (log_lock_fd) fd in
 * *fd_out, or an error: JET_errFileAccessDenied when another writer holds path (left as it is),
 * else log_io_jet after removing the half-made file. */
int log_create_file(const eng_log_config *cfg, const char *path, uint32_t gen, int *fd_out);
/* Lock a log file for this writer or scan (flock LOCK_EX | LOCK_NB, held while the fd is open):
 * 0, JET_errFileAccessDenied (someone else holds it) or JET_errDiskIO. */
int log_lock_fd(int fd);

#endif
