/*
 * log-int.h — the write-ahead log: numbered generations of fixed-size files, group commit, and a
 * scanner for recovery and restore.
 *
 * Files, in the log directory (ESE's names, base name "edb" by default):
 *   edb.log            the current generation (its number is in its header)
 *   edbXXXXX.log       archived generation XXXXX (5 upper-case hex digits; 8 once past 0xFFFFF)
 *   edbtmp.log         the next generation, created ahead of time (not yet part of the log)
 * Every file is exactly cfg.file_size bytes. The format of the file header and of records is
 * documented at the top of log.c. The log module treats record payloads as opaque bytes; the
 * record types below belong to the engine, except ENG_LR_SEAL which log.c writes itself to end a
 * generation.
 *
 * LSNs: (generation << 32) | byte offset inside that generation's file. They grow with every
 * record, so comparing two LSNs compares log positions.
 */
#ifndef ENG_LOG_INT_H
#define ENG_LOG_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

typedef uint64_t eng_lsn;
#define ENG_LSN(gen, off) (((uint64_t)(gen) << 32) | (uint32_t)(off))
#define ENG_LSN_GEN(l) ((uint32_t)((l) >> 32))
#define ENG_LSN_OFF(l) ((uint32_t)(l))

/* Record types. 1..0xFFFE are the engine's; the log module does not interpret them. */
enum eng_logrec_type {
    ENG_LR_PAGE = 1,      /* whole after-image of one database page (engine: txn.c) */
    ENG_LR_COMMIT = 2,    /* end of a committed transaction's records */
    ENG_LR_ATTACH = 3,    /* database attached/created: dbid, path, signature */
    ENG_LR_DETACH = 4,    /* database detached */
    ENG_LR_INIT = 5,      /* instance initialized (first record of a session of the instance) */
    ENG_LR_TERM = 6,      /* clean shutdown */
    ENG_LR_BACKUP = 7,    /* backup Begin: the attached databases (backup.c) */
    ENG_LR_PAGEDIFF = 8,  /* changed byte ranges of one page (engine: txn.c, pagediff.c) */
    ENG_LR_SEAL = 0xFFFF, /* written by log.c: nothing follows in this generation */
};

/* Identity of a log set: every file header carries it; files of another log set are refused. */
typedef struct eng_logsig {
    uint64_t random;
    uint64_t create_time_usec; /* CLOCK_REALTIME at creation */
} eng_logsig;

typedef struct eng_log_config {
    const char *dir;    /* log directory, must exist */
    char base[4];       /* 3-character base name + NUL, e.g. "edb" */
    uint32_t file_size; /* bytes per generation: a multiple of 4096, at least 64 KiB */
    eng_logsig sig;     /* the log set's signature */
    /* Called (from the thread that rolled the log, without log locks held) after generation
     * `archived_gen` was closed and renamed to its archived name. May be NULL. */
    void (*on_roll)(void *ctx, uint32_t archived_gen);
    void *on_roll_ctx;
    /* Called by the scanner and log_seal_current when they find a log file damaged (before they
     * return JET_errLogFileCorrupt): the file, the byte offset of the damage, and what is wrong.
     * May be NULL. */
    void (*on_corrupt)(void *ctx, const char *path, uint64_t off, const char *why);
    void *on_corrupt_ctx;
} eng_log_config;

/* One record to append: its type and its payload as a gather list. */
typedef struct eng_logrec {
    uint16_t type;
    const struct iovec *iov;
    int iovcnt;
} eng_logrec;

/* ---------------------------------------------------------------------------------------------
 * Writer
 * ------------------------------------------------------------------------------------------- */
typedef struct eng_log eng_log;

/* Start writing generation `gen` as the current file <base>.log. There must be no <base>.log in
 * the directory (the caller seals and archives an old one first with log_seal_current).
 * cfg is copied. Errors: JET_errInvalidParameter, JET_errLogDiskFull, JET_errLogWriteFail,
 * JET_errInvalidLogDirectory, JET_errFileAlreadyExists (a current log exists). */
int log_writer_open(const eng_log_config *cfg, uint32_t gen, eng_log **out);

/* Append n records as one contiguous run (no other append interleaves; the run may cross into
 * the next generation, which the writer creates as needed). Records are buffered in memory;
 * nothing is written before log_flush (or a buffer that grew past 1 MiB, or a roll).
 * *first_lsn (optional) is the LSN of the first record, *end_lsn (optional) the LSN just past the
 * last one. A record payload may be at most file_size - 8192 bytes (JET_errInvalidParameter).
 * Errors: the writer's sticky error once a write has failed. */
int log_append(eng_log *lg, const eng_logrec *recs, size_t n, eng_lsn *first_lsn, eng_lsn *end_lsn);

/* Make everything before `upto` durable (written and fdatasync'ed). Concurrent callers share one
 * write+sync (group commit): one caller writes for all that are waiting. Returns 0 once
 * log_durable() >= upto, or the sticky error (JET_errLogDiskFull on ENOSPC, JET_errLogWriteFail on
 * any other failure) — after a failure every later append or flush fails with the same error. */
int log_flush(eng_log *lg, eng_lsn upto);

/* Next append position, and the position before which everything is durable. */
eng_lsn log_tip(eng_log *lg);
eng_lsn log_durable(eng_log *lg);

/* Close the current generation and start the next one now (flushes first). *new_gen (optional)
 * gets the new current generation. */
int log_roll(eng_log *lg, uint32_t *new_gen);

/* Flush, write nothing more, close files and free. The current generation stays <base>.log.
 * Returns the flush result. NULL is a no-op returning 0. */
int log_writer_close(eng_log *lg);

/* The sticky error (0 if none). */
int log_error(eng_log *lg);

/* Freeze the log for an OS snapshot: wait for the I/O in flight, write and fdatasync everything
 * appended so far, then do no log I/O at all (no write, sync, roll or file creation) until
 * log_resume. Meanwhile appends still go to the in-memory buffer and log_flush waits. Returns 0,
 * or the sticky error (then the log is not paused). */
int log_pause(eng_log *lg);
void log_resume(eng_log *lg);

/* ---------------------------------------------------------------------------------------------
 * Files
 * ------------------------------------------------------------------------------------------- */

/* Archived file name of generation gen: "<dir>/<base>XXXXX.log". Returns 0, or
 * JET_errInvalidPath if it does not fit in n bytes. */
int log_file_path(const eng_log_config *cfg, uint32_t gen, char *buf, size_t n);

/* What is on disk: the lowest and highest archived generation (0,0 if none), and the generation
 * of <base>.log (0 if there is none; its header is read). Errors: JET_errInvalidLogDirectory,
 * JET_errLogFileCorrupt (unreadable header of <base>.log), JET_errBadLogSignature (when cfg->sig is
 * not all zero and a header differs). */
int log_list(const eng_log_config *cfg, uint32_t *lo, uint32_t *hi, uint32_t *current_gen);

/* If <base>.log exists: find the end of its valid records, write ENG_LR_SEAL there (zeroing the
 * rest of the file, so a torn tail can never be read as records again), fsync, and rename it to
 * its archived name. *sealed_gen gets its generation (0 if there was no <base>.log); *end_lsn
 * (optional) the LSN of the seal. Also deletes a stale <base>tmp.log.
 * Only a torn tail is sealed over (the rule is in logscan.c, log_rd_tail): a file whose damage is
 * followed by intact records, or that is shorter than its header says, gives
 * JET_errLogFileCorrupt (reported through cfg->on_corrupt) and nothing on disk is changed. A
 * <base>.log or <base>tmp.log that a running writer holds gives JET_errFileAccessDenied. */
int log_seal_current(const eng_log_config *cfg, uint32_t *sealed_gen, eng_lsn *end_lsn);

/* Is the file open on fd (at path) a generation of a log set that a writer is running on? The
 * writer locks only its current files (<base>.log, <base>tmp.log); an archived generation is
 * recognised by its header and the lock held on its set's current file in the same directory.
 * Returns 0 (not a log file, or no writer), or JET_errFileAccessDenied. For callers about to
 * overwrite a file they have opened and locked (JetCreateDatabase). */
int log_file_in_use(int fd, const char *path);

/* Delete archived generations lo .. hi-1 that exist (missing ones are skipped). */
int log_delete_range(const eng_log_config *cfg, uint32_t lo, uint32_t hi);

/* ---------------------------------------------------------------------------------------------
 * Scanner (recovery, restore)
 * ------------------------------------------------------------------------------------------- */
typedef struct eng_logscan eng_logscan;

typedef struct eng_logrec_view {
    uint16_t type;
    eng_lsn lsn;         /* where the record starts */
    eng_lsn end;         /* just past it */
    const uint8_t *data; /* payload, valid until the next logscan_next/close */
    size_t len;
} eng_logrec_view;

/* Open a scan of the log set in cfg->dir starting at `start` (a record boundary, or the first
 * record of a generation when ENG_LSN_OFF(start) == 0). Generations are read in order: archived
 * files, then <base>.log. If cfg->sig is all zero, the signature of the first file read is
 * adopted (and then required of every later file); logscan_sig() returns it.
 * A start inside a generation is checked by reading the generation from its first record: a
 * start that is not a record boundary, or lies past the end of the generation's records, is
 * JET_errInvalidParameter (the caller's position is wrong: recovery reports its checkpoint).
 * Errors: JET_errMissingLogFile (the start generation is not on disk), JET_errBadLogSignature,
 * JET_errLogGenerationMismatch (header generation differs from the name), JET_errBadLogVersion,
 * JET_errLogFileSizeMismatch, JET_errLogFileCorrupt (also for a file shorter than its header
 * says), JET_errInvalidParameter. */
int logscan_open(const eng_log_config *cfg, eng_lsn start, eng_logscan **out);

/* Next record (ENG_LR_SEAL records are consumed internally, never returned).
 * Returns 0 with *rec filled, 1 at the end of the log, or an error:
 *  - in a generation that is followed by another one, every record up to the seal must be
 *    intact: a damaged record, or no seal, gives JET_errLogFileCorrupt;
 *  - in the last generation, the first damaged or empty record is the end of the log (a torn
 *    tail from a crash) only when nothing intact was written after it (the exact rule is at
 *    log_rd_tail in logscan.c); otherwise it is JET_errLogFileCorrupt. logscan_end() tells
 *    where valid data ended;
 *  - a generation missing between two present ones gives JET_errMissingLogFile.
 * `stop_gen` bounds the scan when non-zero: generations above it are not read (restore). */
int logscan_next(eng_logscan *sc, eng_logrec_view *rec);
void logscan_set_stop_gen(eng_logscan *sc, uint32_t stop_gen);
/* Strict: a generation that ends without a seal (torn, damaged or cut short) is
 * JET_errLogFileCorrupt even when it is the newest on disk. For restore, whose log set must be
 * complete. */
void logscan_set_strict(eng_logscan *sc, bool strict);
/* The generation being read. */
uint32_t logscan_gen(const eng_logscan *sc);
eng_lsn logscan_end(const eng_logscan *sc);
eng_logsig logscan_sig(const eng_logscan *sc);
void logscan_close(eng_logscan *sc);

#endif
