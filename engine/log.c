/*
 * log.c — the write-ahead log writer: fixed-size generation files, rolling, group commit.
 * (The scanner and the file helpers live in logscan.c; the interface is log-int.h.)
 *
 * ON-DISK FORMAT, version 2. All integers little-endian.
 *
 * Every generation file is exactly file_size bytes (a multiple of 4096, 64 KiB .. 1 GiB):
 *
 *   [0, 4096)            file header
 *   [4096, file_size)    records, each 8-byte aligned, one after the other; then zeros
 *
 * File header (bytes 64..4095 are zero):
 *   off size
 *    0   8   magic "JSNAPLOG"
 *    8   4   format version (2; version 1 had no ENG_LR_PAGEDIFF records). Checked before
 *            anything else, so that another layout is refused with JET_errBadLogVersion rather
 *            than misread.
 *   12   4   header size = offset of the first record (4096)
 *   16   4   generation
 *   20   4   file size in bytes
 *   24   8   log signature: random
 *   32   8   log signature: creation time (usec, CLOCK_REALTIME) of the log set
 *   40   8   creation time of this file (usec), informational
 *   48  12   reserved, zero
 *   60   4   CRC-32C of bytes [0, 60)
 *
 * Record (16-byte header, then the payload, then zero padding to a multiple of 8 bytes):
 *   off size
 *    0   4   crc: CRC-32C over the payload, then bytes [4, 16) of this header, then the record's
 *            file offset as 4 bytes. With the generation in the header, the CRC binds the record
 *            to its exact position: a stale or misplaced copy never validates.
 *    4   4   payload length in bytes
 *    8   2   type (enum eng_logrec_type; 0 is invalid)
 *   10   2   reserved, zero
 *   12   4   generation
 *   16   n   payload, then padding up to 16 + round_up(n, 8)
 *
 * Seal: a record of type ENG_LR_SEAL (0xFFFF) with an empty payload (16 bytes). It ends a
 * generation; everything after it is zero. The writer always keeps room for it, so a normal
 * record at offset o with size s is written only if o + s + 16 <= file_size, and a record never
 * straddles two files. A 16-byte header of all zeros is "no record" (the unwritten rest of a file).
 *
 * Files: <base>.log is the current generation, <base>XXXXX.log (5 upper-case hex digits, 8 past
 * 0xFFFFF) an archived one, <base>tmp.log the next generation made ahead of time. New files are
 * allocated, filled with zeros (so later overwrites never need an extent conversion at fdatasync
 * time) and get their header while still named <base>tmp.log: <base>.log always has a valid
 * header, whatever moment a crash hits.
 *
 * GROUP COMMIT. log_append copies records into the active one of two buffers under `mu`. A
 * flusher that finds its LSN not yet durable either waits (someone is leading) or becomes the
 * leader: it swaps the buffers, drops `mu`, writes the buffer it took with one pwritev, fdatasyncs,
 * and publishes `durable` = the tip at the moment it took the buffer, waking everyone. Appends
 * meanwhile go into the other buffer and are picked up by the next leader, so one sync covers all
 * that arrived during the previous one. Only one thread does log I/O at a time (`leader`), which
 * keeps writes and syncs in LSN order across generations.
 *
 * WHAT A CRASH LEAVES. Every write is fdatasync'ed before the next one is issued, and none is
 * larger than LOG_WRITE_MAX (a bigger buffer goes out in pieces, each synced; so does the write
 * that a buffer past LOG_BUF_HIGH forces without a commit asking for it). With the files
 * zero-filled in advance and no byte ever rewritten, a crash leaves: correct records, then at most
 * one write's worth of partly written data, then zeros. The scanner relies on that to tell a torn
 * tail (ends the log) from damage followed by acknowledged records (JET_errLogFileCorrupt): see
 * log_rd_tail in logscan.c. A file shorter than its header says is damage too: files are
 * allocated whole before they get their header.
 *
 * LOCKS. The writer holds an exclusive flock on <base>.log and <base>tmp.log for as long as it
 * has them open (log_create_file), like the engine does for database files and the checkpoint:
 * another writer, a recovery (log_seal_current) or JetCreateDatabase cannot take them over.
 * Archived generations are not held open (there may be thousands); log_file_in_use finds out
 * whether one belongs to a live log set by probing the locks of its set's current files.
 *
 * ROLLING. When a record does not fit, the appender writes a seal into the buffer and, as leader,
 * writes and syncs the generation to its end, renames <base>.log to its archived name, the
 * pre-created <base>tmp.log to <base>.log (syncing the directory after each rename), and goes on
 * in the new generation. Other appenders wait meanwhile (`excl`), so an append run is contiguous
 * even across a roll. The next <base>tmp.log is then created by the same thread after it has let
 * the others go on; cfg.on_roll is called last, with no lock held.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "io-int.h"
#include "jet.h"
#include "log-int.h"
#include "logfmt-int.h"

/* Past this much buffered data an appender writes it out without waiting for a flush. */
#define LOG_BUF_HIGH (1024u * 1024u)
#define LOG_BUF_INIT (64u * 1024u)

struct log_buf {
    uint8_t *p;
    size_t len, cap;
    uint32_t start; /* file offset of p[0] */
};

enum log_tmp_state { LOG_TMP_NONE, LOG_TMP_CREATING, LOG_TMP_READY };

struct eng_log {
    eng_log_config cfg; /* cfg.dir points at dir below */
    char dir[LOG_PATH_MAX];
    char cur_path[LOG_PATH_MAX];
    char tmp_path[LOG_PATH_MAX];

    pthread_mutex_t mu;
    pthread_cond_t cv; /* any change of leader, excl, tmp, durable or err */

    /* All below under mu. */
    int fd;       /* <base>.log, generation gen */
    uint32_t gen;
    uint32_t off; /* where the next record goes */
    eng_lsn tip;  /* next record boundary a scan can start from (a pending seal's position) */
    eng_lsn durable;
    struct log_buf buf[2];
    int active;  /* buf[active] receives appends */
    bool leader; /* a thread is doing log I/O; it owns buf[!active] */
    bool excl;   /* an append run released mu half-way: other appends wait */
    int err;     /* sticky */
    bool paused; /* log_pause: no log I/O until log_resume (an OS snapshot is being taken) */
    enum log_tmp_state tmp;
    int tmp_fd; /* <base>tmp.log for generation gen + 1 when tmp == LOG_TMP_READY */
};

static void log_fail(eng_log *lg, int jet_err)
{
    if (!lg->err)
        lg->err = jet_err;
    pthread_cond_broadcast(&lg->cv);
}

static int log_buf_reserve(struct log_buf *b, size_t more)
{
    if (b->len + more <= b->cap)
        return 0;
    size_t cap = b->cap ? b->cap : LOG_BUF_INIT;
    while (cap < b->len + more)
        cap *= 2;
    uint8_t *p = realloc(b->p, cap);
    if (!p)
        return JET_errOutOfMemory;
    b->p = p;
    b->cap = cap;
    return 0;
}

/* Write len bytes at off as writes of at most LOG_WRITE_MAX bytes, each fdatasync'ed before the
 * next is issued (also when len is 0: a flush is asked for). A crash then leaves at most one
 * write half done, with nothing but zeros behind it — what tells a torn tail from damage in the
 * middle of the log (log_rd_tail in logscan.c). Returns 0 or -errno. */
static int log_write_out(int fd, const uint8_t *p, size_t len, uint64_t off)
{
    size_t done = 0;
    do {
        size_t n = len - done < LOG_WRITE_MAX ? len - done : LOG_WRITE_MAX;
        int r = n ? eng_io_pwrite(fd, p + done, n, off + done) : 0;
        if (!r)
            r = eng_io_fdatasync(fd);
        if (r)
            return r;
        done += n;
    } while (done < len);
    return 0;
}

/* Become the leader (mu held, no leader): take the active buffer, write it out (synced: see
 * log_write_out; `sync` only says whether an empty buffer is synced too) and publish the result.
 * Returns with mu held. */
static void log_lead(eng_log *lg, bool sync)
{
    struct log_buf *b = &lg->buf[lg->active];
    lg->active ^= 1;
    lg->buf[lg->active].len = 0;
    lg->buf[lg->active].start = lg->off;
    lg->leader = true;
    int fd = lg->fd;
    eng_lsn upto = lg->tip;
    pthread_mutex_unlock(&lg->mu);

    int r = b->len || sync ? log_write_out(fd, b->p, b->len, b->start) : 0;

    pthread_mutex_lock(&lg->mu);
    b->len = 0;
    lg->leader = false;
    if (r)
        log_fail(lg, log_io_jet(r));
    else if (upto > lg->durable)
        lg->durable = upto;
    pthread_cond_broadcast(&lg->cv);
}

/* Create <base>tmp.log for the generation after the current one (mu held, tmp == NONE). The file
 * work runs without mu; a roll that needs the file waits for it. Returns with mu held. */
static void log_precreate(eng_log *lg)
{
    if (lg->gen == UINT32_MAX) {
        log_fail(lg, JET_errLogSequenceEnd);
        return;
    }
    uint32_t gen = lg->gen + 1;
    lg->tmp = LOG_TMP_CREATING;
    pthread_mutex_unlock(&lg->mu);
    int fd = -1;
    int e = log_create_file(&lg->cfg, lg->tmp_path, gen, &fd);
    pthread_mutex_lock(&lg->mu);
    if (e) {
        lg->tmp = LOG_TMP_NONE;
        log_fail(lg, e);
    } else {
        lg->tmp_fd = fd;
        lg->tmp = LOG_TMP_READY;
    }
    pthread_cond_broadcast(&lg->cv);
}

/* Append a record header (and the payload) at lg->off of the active buffer; capacity reserved. */
static void log_put(eng_log *lg, uint16_t type, const struct iovec *iov, int iovcnt, uint32_t len,
                    uint32_t pcrc)
{
    struct log_buf *b = &lg->buf[lg->active];
    uint8_t *p = b->p + b->len;
    log_rec_encode(p, pcrc, len, type, lg->gen, lg->off);
    size_t at = LOG_REC_HDR;
    for (int i = 0; i < iovcnt; i++) {
        if (iov[i].iov_len)
            memcpy(p + at, iov[i].iov_base, iov[i].iov_len);
        at += iov[i].iov_len;
    }
    size_t size = (size_t)log_rec_size(len);
    memset(p + at, 0, size - at);
    b->len += size;
    lg->off += (uint32_t)size;
}

/* End the current generation and switch to the next (mu held, caller set excl). Appends the seal,
 * waits for the I/O slot and the pre-created file, then writes, syncs and renames as the leader.
 * Returns with mu held: 0, or the sticky error. */
static int log_roll_locked(eng_log *lg)
{
    if (log_buf_reserve(&lg->buf[lg->active], LOG_SEAL_SIZE)) {
        log_fail(lg, JET_errOutOfMemory);
        return lg->err;
    }
    static const uint8_t none[1];
    /* tip stays at the seal: a scan started there reads the seal and moves on to gen + 1. */
    log_put(lg, ENG_LR_SEAL, NULL, 0, 0, eng_crc32c(0, none, 0));
    for (;;) {
        if (lg->err)
            return lg->err;
        if (lg->leader || lg->tmp == LOG_TMP_CREATING || lg->paused) {
            pthread_cond_wait(&lg->cv, &lg->mu);
            continue;
        }
        if (lg->tmp == LOG_TMP_NONE) {
            log_precreate(lg); /* normally already done right after the previous roll */
            continue;
        }
        break;
    }
    struct log_buf *b = &lg->buf[lg->active];
    lg->active ^= 1;
    lg->buf[lg->active].len = 0;
    lg->leader = true;
    int fd = lg->fd, nfd = lg->tmp_fd;
    uint32_t gen = lg->gen;
    pthread_mutex_unlock(&lg->mu);

    char arch[LOG_PATH_MAX];
    int r = log_write_out(fd, b->p, b->len, b->start);
    if (!r && log_file_path(&lg->cfg, gen, arch, sizeof arch))
        r = -ENAMETOOLONG;
    /* Sync the directory between the renames: replacing <base>.log must never become durable
     * before the old one's new name is, or the generation would lose its last link. */
    if (!r)
        r = eng_io_rename(lg->cur_path, arch);
    if (!r)
        r = eng_io_fsync_dir(lg->dir);
    if (!r)
        r = eng_io_rename(lg->tmp_path, lg->cur_path);
    if (!r)
        r = eng_io_fsync_dir(lg->dir);

    pthread_mutex_lock(&lg->mu);
    b->len = 0;
    lg->leader = false;
    if (r) {
        log_fail(lg, log_io_jet(r));
        return lg->err;
    }
    lg->fd = nfd;
    lg->tmp_fd = -1;
    lg->tmp = LOG_TMP_NONE;
    lg->gen = gen + 1;
    lg->off = LOG_HDR_SIZE;
    lg->buf[lg->active].start = LOG_HDR_SIZE;
    lg->tip = lg->durable = ENG_LSN(lg->gen, LOG_HDR_SIZE);
    pthread_cond_broadcast(&lg->cv);
    eng_io_close(fd);
    return 0;
}

/* Wait until no append run is half-way (mu held). Returns the sticky error, if any. */
static int log_wait_excl(eng_log *lg)
{
    while (lg->excl && !lg->err)
        pthread_cond_wait(&lg->cv, &lg->mu);
    return lg->err;
}

static void log_end_excl(eng_log *lg)
{
    if (lg->excl) {
        lg->excl = false;
        pthread_cond_broadcast(&lg->cv);
    }
}

/* Tell the owner about archived generations first .. first + n - 1 (no lock held). */
static void log_notify(eng_log *lg, uint32_t first, uint32_t n)
{
    if (lg->cfg.on_roll)
        for (uint32_t i = 0; i < n; i++)
            lg->cfg.on_roll(lg->cfg.on_roll_ctx, first + i);
}

int log_append(eng_log *lg, const eng_logrec *recs, size_t n, eng_lsn *first_lsn, eng_lsn *end_lsn)
{
    if (!lg || (n && !recs))
        return JET_errInvalidParameter;

    /* Payload CRCs are computed before taking the lock; only the position-dependent tail of each
     * record's CRC is computed under it. */
    uint32_t crc_st[16], len_st[16];
    uint32_t *crc = crc_st, *len = len_st;
    if (n > 16) {
        crc = malloc(n * sizeof *crc);
        len = malloc(n * sizeof *len);
        if (!crc || !len) {
            free(crc);
            free(len);
            return JET_errOutOfMemory;
        }
    }
    int e = 0;
    uint64_t total = 0;
    const uint64_t max = LOG_MAX_PAYLOAD(lg->cfg.file_size);
    static const uint8_t none[1];
    for (size_t i = 0; i < n && !e; i++) {
        const eng_logrec *r = &recs[i];
        if (r->type == 0 || r->type == ENG_LR_SEAL || r->iovcnt < 0 || (r->iovcnt && !r->iov)) {
            e = JET_errInvalidParameter;
            break;
        }
        uint64_t l = 0;
        uint32_t c = eng_crc32c(0, none, 0);
        for (int k = 0; k < r->iovcnt; k++) {
            size_t il = r->iov[k].iov_len;
            /* Checked one element at a time so the sum cannot wrap. */
            if (il > max - l || (il && !r->iov[k].iov_base)) {
                e = JET_errInvalidParameter;
                break;
            }
            l += il;
            if (il)
                c = eng_crc32c(c, r->iov[k].iov_base, il);
        }
        len[i] = (uint32_t)l;
        crc[i] = c;
        total += log_rec_size(l);
    }
    if (e)
        goto out_free;

    uint32_t rolled_first = 0, nrolled = 0;
    bool copied = false;
    pthread_mutex_lock(&lg->mu);
    if ((e = log_wait_excl(lg)))
        goto out_unlock;
    /* Reserve the whole run up front when it stays in this generation, so running out of memory
     * half-way (which would leave a partial run in the log) can only happen across a roll. */
    if ((uint64_t)lg->off + total + LOG_SEAL_SIZE <= lg->cfg.file_size &&
        log_buf_reserve(&lg->buf[lg->active], (size_t)total)) {
        e = JET_errOutOfMemory;
        goto out_unlock;
    }
    eng_lsn first = 0;
    for (size_t i = 0; i < n; i++) {
        uint64_t size = log_rec_size(len[i]);
        if (lg->off + size + LOG_SEAL_SIZE > lg->cfg.file_size) {
            lg->excl = true;
            uint32_t g = lg->gen;
            if ((e = log_roll_locked(lg)))
                break;
            if (!nrolled++)
                rolled_first = g;
        }
        if (lg->err) {
            e = lg->err;
            break;
        }
        if (log_buf_reserve(&lg->buf[lg->active], (size_t)size)) {
            e = JET_errOutOfMemory;
            if (copied)
                log_fail(lg, e);
            break;
        }
        if (!copied)
            first = ENG_LSN(lg->gen, lg->off);
        copied = true;
        log_put(lg, recs[i].type, recs[i].iov, recs[i].iovcnt, len[i], crc[i]);
        lg->tip = ENG_LSN(lg->gen, lg->off);
        /* A long run writes out as it goes so memory stays bounded; if a leader is busy, the
         * check after the run catches up. */
        if (i + 1 < n && lg->buf[lg->active].len >= LOG_BUF_HIGH && !lg->leader && !lg->paused) {
            lg->excl = true;
            log_lead(lg, false);
        }
    }
    /* Where this run ends: the waits below may let other appends in, and a page stamped with a
     * later position than its own commit's end would not match the base of its next diff. */
    eng_lsn run_end = lg->tip;
    log_end_excl(lg);
    /* While paused the buffer just grows: only lazy commits get this far, and the pause ends. */
    if (!e && !lg->err)
        while (lg->buf[lg->active].len >= LOG_BUF_HIGH && !lg->err && !lg->paused) {
            if (lg->leader)
                pthread_cond_wait(&lg->cv, &lg->mu);
            else
                log_lead(lg, false);
        }
    if (!e && lg->tmp == LOG_TMP_NONE && !lg->err && !lg->paused)
        log_precreate(lg);
    if (!e)
        e = lg->err;
    if (!e) {
        if (first_lsn)
            *first_lsn = n ? first : run_end;
        if (end_lsn)
            *end_lsn = run_end;
    }
out_unlock:
    pthread_mutex_unlock(&lg->mu);
    log_notify(lg, rolled_first, nrolled);
out_free:
    if (crc != crc_st) {
        free(crc);
        free(len);
    }
    return e;
}

int log_flush(eng_log *lg, eng_lsn upto)
{
    if (!lg)
        return JET_errInvalidParameter;
    pthread_mutex_lock(&lg->mu);
    for (;;) {
        if (lg->err)
            break;
        if (lg->durable >= (upto < lg->tip ? upto : lg->tip))
            break;
        if (lg->leader || lg->paused)
            pthread_cond_wait(&lg->cv, &lg->mu);
        else
            log_lead(lg, true);
    }
    int e = lg->err;
    pthread_mutex_unlock(&lg->mu);
    return e;
}

int log_pause(eng_log *lg)
{
    if (!lg)
        return JET_errInvalidParameter;
    pthread_mutex_lock(&lg->mu);
    /* No append run half-way, no I/O in flight, no next file being made; then everything appended
     * so far goes to disk, and nothing more until log_resume. */
    int e = log_wait_excl(lg);
    lg->paused = true;
    while (!e && (lg->leader || lg->tmp == LOG_TMP_CREATING) && !lg->err)
        pthread_cond_wait(&lg->cv, &lg->mu);
    if (!e && !lg->err && lg->durable < lg->tip) {
        /* excl may be held already: an appender that had to roll while we waited above set it,
         * put the seal in the buffer and now waits in log_roll_locked for log_resume. Our flush
         * writes that seal; the excl stays the roller's. Clearing it here let other appenders put
         * records after the seal — in a generation whose end is on disk and where recovery never
         * looks, yet their commits were acknowledged — or start a second roll over the first. */
        bool held = lg->excl;
        lg->paused = false; /* lead this one flush ourselves; nobody else can start one meanwhile */
        lg->excl = true;
        log_lead(lg, true);
        lg->paused = true;
        if (!held)
            log_end_excl(lg);
    }
    e = lg->err;
    if (e) {
        lg->paused = false;
        pthread_cond_broadcast(&lg->cv);
    }
    pthread_mutex_unlock(&lg->mu);
    return e;
}

void log_resume(eng_log *lg)
{
    if (!lg)
        return;
    pthread_mutex_lock(&lg->mu);
    lg->paused = false;
    pthread_cond_broadcast(&lg->cv);
    if (lg->tmp == LOG_TMP_NONE && !lg->err)
        log_precreate(lg);
    pthread_mutex_unlock(&lg->mu);
}

eng_lsn log_tip(eng_log *lg)
{
    pthread_mutex_lock(&lg->mu);
    eng_lsn t = lg->tip;
    pthread_mutex_unlock(&lg->mu);
    return t;
}

eng_lsn log_durable(eng_log *lg)
{
    pthread_mutex_lock(&lg->mu);
    eng_lsn d = lg->durable;
    pthread_mutex_unlock(&lg->mu);
    return d;
}

int log_error(eng_log *lg)
{
    pthread_mutex_lock(&lg->mu);
    int e = lg->err;
    pthread_mutex_unlock(&lg->mu);
    return e;
}

int log_roll(eng_log *lg, uint32_t *new_gen)
{
    if (!lg)
        return JET_errInvalidParameter;
    pthread_mutex_lock(&lg->mu);
    int e = log_wait_excl(lg);
    uint32_t old = lg->gen, now = 0;
    if (!e) {
        lg->excl = true;
        e = log_roll_locked(lg);
        now = lg->gen;
        log_end_excl(lg);
    }
    if (!e && lg->tmp == LOG_TMP_NONE && !lg->paused)
        log_precreate(lg);
    if (!e)
        e = lg->err;
    pthread_mutex_unlock(&lg->mu);
    if (!e && new_gen)
        *new_gen = now;
    log_notify(lg, old, now > old ? 1 : 0);
    return e;
}

static void log_free(eng_log *lg)
{
    eng_io_close(lg->fd);
    eng_io_close(lg->tmp_fd);
    free(lg->buf[0].p);
    free(lg->buf[1].p);
    pthread_cond_destroy(&lg->cv);
    pthread_mutex_destroy(&lg->mu);
    free(lg);
}

int log_writer_close(eng_log *lg)
{
    if (!lg)
        return 0;
    int e = log_flush(lg, UINT64_MAX);
    pthread_mutex_lock(&lg->mu);
    /* Someone may still be inside (creating <base>tmp.log after a roll): let them finish. */
    while (lg->leader || lg->excl || lg->tmp == LOG_TMP_CREATING)
        pthread_cond_wait(&lg->cv, &lg->mu);
    if (!e)
        e = lg->err;
    pthread_mutex_unlock(&lg->mu);
    log_free(lg);
    return e;
}

int log_writer_open(const eng_log_config *cfg, uint32_t gen, eng_log **out)
{
    if (!out || !cfg || log_cfg_check(cfg, true) || gen == 0 || gen == UINT32_MAX)
        return JET_errInvalidParameter;
    struct stat st;
    if (stat(cfg->dir, &st) < 0 || !S_ISDIR(st.st_mode))
        return JET_errInvalidLogDirectory;

    eng_log *lg = calloc(1, sizeof *lg);
    if (!lg)
        return JET_errOutOfMemory;
    lg->fd = lg->tmp_fd = -1;
    if (pthread_mutex_init(&lg->mu, NULL)) {
        free(lg);
        return JET_errOutOfMemory;
    }
    if (pthread_cond_init(&lg->cv, NULL)) {
        pthread_mutex_destroy(&lg->mu);
        free(lg);
        return JET_errOutOfMemory;
    }
    lg->cfg = *cfg;
    lg->cfg.base[3] = 0;
    snprintf(lg->dir, sizeof lg->dir, "%s", cfg->dir);
    lg->cfg.dir = lg->dir;
    char arch[LOG_PATH_MAX];
    int e = 0;
    if (strlen(cfg->dir) >= sizeof lg->dir || log_name_path(&lg->cfg, ".log", lg->cur_path, LOG_PATH_MAX) ||
        log_name_path(&lg->cfg, "tmp.log", lg->tmp_path, LOG_PATH_MAX) ||
        log_file_path(&lg->cfg, gen, arch, sizeof arch))
        e = JET_errInvalidPath;
    else if (stat(lg->cur_path, &st) == 0 || stat(arch, &st) == 0)
        e = JET_errFileAlreadyExists;
    else if (log_buf_reserve(&lg->buf[0], LOG_BUF_INIT) || log_buf_reserve(&lg->buf[1], LOG_BUF_INIT))
        e = JET_errOutOfMemory;
    if (e) {
        log_free(lg);
        return e;
    }

    /* The first file is made under the temporary name too, so <base>.log never lacks a header. */
    int r;
    if ((e = log_create_file(&lg->cfg, lg->tmp_path, gen, &lg->fd)))
        goto fail;
    if ((r = eng_io_rename(lg->tmp_path, lg->cur_path)) || (r = eng_io_fsync_dir(lg->dir))) {
        e = log_io_jet(r);
        eng_io_unlink(lg->tmp_path);
        goto fail;
    }
    lg->gen = gen;
    lg->off = LOG_HDR_SIZE;
    lg->buf[0].start = lg->buf[1].start = LOG_HDR_SIZE;
    lg->tip = lg->durable = ENG_LSN(gen, LOG_HDR_SIZE);
    if ((e = log_create_file(&lg->cfg, lg->tmp_path, gen + 1, &lg->tmp_fd))) {
        /* Nothing was logged yet: take the empty generation back so a retry can start over. */
        eng_io_unlink(lg->cur_path);
        goto fail;
    }
    lg->tmp = LOG_TMP_READY;
    *out = lg;
    return 0;
fail:
    lg->tmp_fd = -1;
    log_free(lg);
    return e;
}
