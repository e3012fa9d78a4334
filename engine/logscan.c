/*
 * logscan.c — reading the write-ahead log (the scanner used by recovery and restore) and the
 * helpers that work on log files as a whole: naming, listing, sealing a crashed current log,
 * deleting old generations, creating a new generation file. The format is documented at the top
 * of log.c; the interface is log-int.h.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>

#include "io-int.h"
#include "jet.h"
#include "log-int.h"
#include "logfmt-int.h"

/* Reads go through a window of at least this size, so a scan makes few large preads. */
#define LOG_SCAN_CHUNK (1024u * 1024u)

/* ---------------------------------------------------------------------------------------------
 * Format helpers (shared with log.c through logfmt-int.h)
 * ------------------------------------------------------------------------------------------- */

void log_fhdr_encode(const log_fhdr *h, uint8_t *out)
{
    memset(out, 0, LOG_HDR_SIZE);
    memcpy(out, LOG_MAGIC, 8);
    log_st32(out + 8, LOG_VERSION);
    log_st32(out + 12, LOG_HDR_SIZE);
    log_st32(out + 16, h->gen);
    log_st32(out + 20, h->file_size);
    log_st64(out + 24, h->sig.random);
    log_st64(out + 32, h->sig.create_time_usec);
    log_st64(out + 40, h->create_usec);
    log_st32(out + LOG_HDR_CRC_OFF, eng_crc32c(0, out, LOG_HDR_CRC_OFF));
}

static bool log_file_size_ok(uint64_t sz)
{
    return sz % 4096 == 0 && sz >= LOG_MIN_FILE && sz <= LOG_MAX_FILE;
}

int log_fhdr_decode(const uint8_t *b, size_t n, log_fhdr *h)
{
    if (n < LOG_HDR_USED || memcmp(b, LOG_MAGIC, 8) != 0)
        return JET_errLogFileCorrupt;
    /* The version decides how to read the rest, so it is checked before the CRC. */
    if (log_ld32(b + 8) != LOG_VERSION)
        return JET_errBadLogVersion;
    if (log_ld32(b + LOG_HDR_CRC_OFF) != eng_crc32c(0, b, LOG_HDR_CRC_OFF) ||
        log_ld32(b + 12) != LOG_HDR_SIZE || !log_file_size_ok(log_ld32(b + 20)) || log_ld32(b + 16) == 0)
        return JET_errLogFileCorrupt;
    h->version = LOG_VERSION;
    h->gen = log_ld32(b + 16);
    h->file_size = log_ld32(b + 20);
    h->sig.random = log_ld64(b + 24);
    h->sig.create_time_usec = log_ld64(b + 32);
    h->create_usec = log_ld64(b + 40);
    return 0;
}

uint32_t log_rec_crc(uint32_t payload_crc, const uint8_t *hdr, uint32_t off)
{
    uint8_t o[4];
    log_st32(o, off);
    return eng_crc32c(eng_crc32c(payload_crc, hdr + 4, LOG_REC_HDR - 4), o, 4);
}

void log_rec_encode(uint8_t *hdr, uint32_t payload_crc, uint32_t len, uint16_t type, uint32_t gen,
                    uint32_t off)
{
    log_st32(hdr + 4, len);
    log_st16(hdr + 8, type);
    log_st16(hdr + 10, 0);
    log_st32(hdr + 12, gen);
    log_st32(hdr, log_rec_crc(payload_crc, hdr, off));
}

int log_cfg_check(const eng_log_config *cfg, bool need_size)
{
    if (!cfg || !cfg->dir || !cfg->dir[0] || strnlen(cfg->base, sizeof cfg->base) != 3 ||
        strchr(cfg->base, '/'))
        return JET_errInvalidParameter;
    if ((need_size || cfg->file_size) && !log_file_size_ok(cfg->file_size))
        return JET_errInvalidParameter;
    return 0;
}

int log_name_path(const eng_log_config *cfg, const char *suffix, char *buf, size_t n)
{
    int k = snprintf(buf, n, "%s/%.3s%s", cfg->dir, cfg->base, suffix);
    return k < 0 || (size_t)k >= n ? JET_errInvalidPath : 0;
}

int log_io_jet(int neg_errno)
{
    /* Errors that name their cause keep it: a full disk, no descriptor left (an open), a path
     * that is no regular file; anything else is a failed log write. */
    long e = eng_io_errno_to_jet(neg_errno, 1);
    return e == JET_errLogDiskFull || e == JET_errOutOfFileHandles || e == JET_errInvalidPath ? (int)e
                                                                                            : JET_errLogWriteFail;
}

static uint64_t log_now_usec(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

int log_create_file(const eng_log_config *cfg, const char *path, uint32_t gen, int *fd_out)
{
    /* Not O_TRUNC: a file another writer holds (its lock) must be refused before anything of it
     * is changed, and must not be removed either. */
    int fd = eng_io_open(path, O_RDWR | O_CREAT, 0644);
    if (fd < 0)
        return log_io_jet(fd);
    int e = log_lock_fd(fd);
    if (e) {
        eng_io_close(fd);
        return e;
    }
    int64_t old = eng_io_size(fd);
    int r = old < 0 ? (int)old : old > 0 ? eng_io_truncate(fd, 0) : 0;
    uint8_t *z = r ? NULL : calloc(1, LOG_SCAN_CHUNK);
    if (!r && !z)
        r = -ENOMEM;
    if (!r)
        r = eng_io_allocate(fd, cfg->file_size);
    /* Real zeros rather than only allocated extents: overwriting unwritten extents makes every
     * fdatasync of the hot path commit extent conversions too. */
    for (uint64_t o = LOG_HDR_SIZE; !r && o < cfg->file_size; o += LOG_SCAN_CHUNK) {
        uint64_t n = cfg->file_size - o < LOG_SCAN_CHUNK ? cfg->file_size - o : LOG_SCAN_CHUNK;
        r = eng_io_pwrite(fd, z, (size_t)n, o);
    }
    if (!r) {
        log_fhdr h = {LOG_VERSION, gen, cfg->file_size, cfg->sig, log_now_usec()};
        log_fhdr_encode(&h, z);
        r = eng_io_pwrite(fd, z, LOG_HDR_SIZE, 0);
    }
    if (!r)
        r = eng_io_fsync(fd);
    free(z);
    if (r) {
        eng_io_close(fd);
        eng_io_unlink(path);
        return log_io_jet(r);
    }
    *fd_out = fd;
    return 0;
}

int log_lock_fd(int fd)
{
    if (flock(fd, LOCK_EX | LOCK_NB) == 0)
        return 0;
    return errno == EWOULDBLOCK ? JET_errFileAccessDenied : JET_errDiskIO;
}

/* ---------------------------------------------------------------------------------------------
 * Files
 * ------------------------------------------------------------------------------------------- */

int log_file_path(const eng_log_config *cfg, uint32_t gen, char *buf, size_t n)
{
    if (!cfg || !cfg->dir || !buf)
        return JET_errInvalidParameter;
    int k = snprintf(buf, n, gen > 0xFFFFFu ? "%s/%.3s%08X.log" : "%s/%.3s%05X.log", cfg->dir, cfg->base,
                     (unsigned)gen);
    return k < 0 || (size_t)k >= n ? JET_errInvalidPath : 0;
}

/* The generation an archived file name stands for, or 0 if the name is not one. Only the names
 * log_file_path makes count (5 digits up to 0xFFFFF, 8 beyond), so listing and opening agree. */
static uint32_t log_parse_name(const eng_log_config *cfg, const char *name)
{
    size_t n = strlen(name);
    if ((n != 3 + 5 + 4 && n != 3 + 8 + 4) || memcmp(name, cfg->base, 3) != 0 ||
        strcmp(name + n - 4, ".log") != 0)
        return 0;
    uint32_t g = 0;
    for (size_t i = 3; i < n - 4; i++) {
        char c = name[i];
        unsigned d = c >= '0' && c <= '9' ? (unsigned)(c - '0') : c >= 'A' && c <= 'F' ? (unsigned)(c - 'A' + 10) : 16;
        if (d == 16)
            return 0;
        g = g << 4 | d;
    }
    if ((n == 3 + 8 + 4) != (g > 0xFFFFFu))
        return 0;
    return g;
}

/* Archived generations in [lo, hi) found in the directory, sorted; *out malloc'ed (NULL if none). */
static int log_scan_dir(const eng_log_config *cfg, uint32_t lo, uint32_t hi, uint32_t **out, size_t *cnt)
{
    DIR *d = opendir(cfg->dir);
    if (!d) /* out of descriptors or memory says nothing about the directory */
        return errno == EMFILE || errno == ENFILE || errno == ENOMEM ? (int)eng_io_errno_to_jet(-errno, 0)
                                                                      : JET_errInvalidLogDirectory;
    uint32_t *v = NULL;
    size_t k = 0, cap = 0;
    int e = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        uint32_t g = log_parse_name(cfg, de->d_name);
        if (!g || g < lo || g >= hi)
            continue;
        if (k == cap) {
            size_t nc = cap ? cap * 2 : 64;
            uint32_t *nv = realloc(v, nc * sizeof *v);
            if (!nv) {
                e = JET_errOutOfMemory;
                break;
            }
            v = nv;
            cap = nc;
        }
        v[k++] = g;
    }
    closedir(d);
    if (e) {
        free(v);
        return e;
    }
    for (size_t i = 1; i < k; i++) /* insertion sort: readdir order is nearly sorted or tiny */
        for (size_t j = i; j > 0 && v[j - 1] > v[j]; j--) {
            uint32_t t = v[j];
            v[j] = v[j - 1];
            v[j - 1] = t;
        }
    *out = v;
    *cnt = k;
    return 0;
}

/* Open a log file read-only (or read-write) and check its header. *fd_out = -1 when the file does
 * not exist (returns 0). The signature is checked against *sig unless it is all zero. */
static int log_open_checked(const char *path, int flags, const eng_logsig *sig, int *fd_out, log_fhdr *h)
{
    *fd_out = -1;
    int fd = eng_io_open(path, flags, 0);
    if (fd == -ENOENT)
        return 0;
    if (fd < 0)
        return (int)eng_io_errno_to_jet(fd, 0);
    uint8_t b[LOG_HDR_USED];
    ssize_t n = eng_io_pread(fd, b, sizeof b, 0);
    int e = n < 0 ? (int)eng_io_errno_to_jet((int)n, 0) : log_fhdr_decode(b, (size_t)n, h);
    if (!e && sig && !log_sig_is_zero(sig) && !log_sig_eq(sig, &h->sig))
        e = JET_errBadLogSignature;
    if (e) {
        eng_io_close(fd);
        return e;
    }
    *fd_out = fd;
    return 0;
}

int log_list(const eng_log_config *cfg, uint32_t *lo, uint32_t *hi, uint32_t *current_gen)
{
    if (log_cfg_check(cfg, false))
        return JET_errInvalidParameter;
    uint32_t *v = NULL;
    size_t k = 0;
    int e = log_scan_dir(cfg, 1, UINT32_MAX, &v, &k);
    if (e)
        return e;
    uint32_t l = k ? v[0] : 0, h = k ? v[k - 1] : 0;
    free(v);
    char path[LOG_PATH_MAX];
    if (log_name_path(cfg, ".log", path, sizeof path))
        return JET_errInvalidPath;
    int fd;
    log_fhdr fh;
    if ((e = log_open_checked(path, O_RDONLY, &cfg->sig, &fd, &fh)))
        return e;
    eng_io_close(fd);
    if (lo)
        *lo = l;
    if (hi)
        *hi = h;
    if (current_gen)
        *current_gen = fd >= 0 ? fh.gen : 0;
    return 0;
}

int log_file_in_use(int fd, const char *path)
{
    uint8_t b[LOG_HDR_USED];
    log_fhdr fh, ch;
    struct stat me, st;
    ssize_t n = eng_io_pread(fd, b, sizeof b, 0);
    if (n < 0 || log_fhdr_decode(b, (size_t)n, &fh) || fstat(fd, &me) < 0)
        return 0; /* not a log file */
    const char *name = strrchr(path, '/');
    size_t dlen = name ? (size_t)(name - path) : 1;
    name = name ? name + 1 : path;
    if (strlen(name) < 3 + 4 || dlen >= LOG_PATH_MAX - 16)
        return 0;
    static const char *const live[] = {".log", "tmp.log"};
    for (size_t i = 0; i < 2; i++) {
        char p[LOG_PATH_MAX];
        snprintf(p, sizeof p, "%.*s/%.3s%s", (int)dlen, name == path ? "." : path, name, live[i]);
        int cfd = eng_io_open(p, O_RDONLY, 0);
        if (cfd < 0)
            continue;
        bool busy = false;
        /* The file itself is locked by the caller already; only the set's other files tell. */
        if (fstat(cfd, &st) == 0 && (st.st_dev != me.st_dev || st.st_ino != me.st_ino)) {
            n = eng_io_pread(cfd, b, sizeof b, 0);
            if (n > 0 && !log_fhdr_decode(b, (size_t)n, &ch) && log_sig_eq(&ch.sig, &fh.sig) &&
                flock(cfd, LOCK_SH | LOCK_NB) < 0 && errno == EWOULDBLOCK)
                busy = true;
        }
        eng_io_close(cfd);
        if (busy)
            return JET_errFileAccessDenied;
    }
    return 0;
}

int log_delete_range(const eng_log_config *cfg, uint32_t lo, uint32_t hi)
{
    if (log_cfg_check(cfg, false))
        return JET_errInvalidParameter;
    if (lo >= hi)
        return 0;
    /* One directory listing instead of one unlink attempt per generation number: a circular log
     * calls this at every checkpoint with lo = 1. */
    uint32_t *v = NULL;
    size_t k = 0;
    int e = log_scan_dir(cfg, lo, hi, &v, &k);
    /* Oldest first, so that an interruption never leaves a hole in the middle of the set. */
    for (size_t i = 0; !e && i < k; i++) {
        char path[LOG_PATH_MAX];
        if (log_file_path(cfg, v[i], path, sizeof path)) {
            e = JET_errInvalidPath;
            break;
        }
        int r = eng_io_unlink(path);
        if (r && r != -ENOENT)
            e = (int)eng_io_errno_to_jet(r, 0);
    }
    free(v);
    return e;
}

/* ---------------------------------------------------------------------------------------------
 * Reading one generation file
 * ------------------------------------------------------------------------------------------- */

enum log_rk { LOG_RK_REC, LOG_RK_SEAL, LOG_RK_END };

struct log_rd {
    int fd;
    uint32_t gen;
    uint32_t fsize;
    uint8_t *win; /* file bytes [woff, woff + wlen); past the end of a short file: zeros */
    size_t wcap, wlen;
    uint64_t woff;
};

static int log_rd_fetch(struct log_rd *rd, uint64_t off, size_t len, const uint8_t **p)
{
    if (off >= rd->woff && off + len <= rd->woff + rd->wlen) {
        *p = rd->win + (off - rd->woff);
        return 0;
    }
    size_t want = len > LOG_SCAN_CHUNK ? len : LOG_SCAN_CHUNK;
    if (off + want > rd->fsize)
        want = (size_t)(rd->fsize - off); /* >= len: the caller checked */
    if (want > rd->wcap) {
        uint8_t *w = realloc(rd->win, want);
        if (!w)
            return JET_errOutOfMemory;
        rd->win = w;
        rd->wcap = want;
    }
    rd->wlen = 0;
    ssize_t n = eng_io_pread(rd->fd, rd->win, want, off);
    if (n < 0)
        return (int)eng_io_errno_to_jet((int)n, 0);
    memset(rd->win + n, 0, want - (size_t)n);
    rd->woff = off;
    rd->wlen = want;
    *p = rd->win;
    return 0;
}

/* Classify the record at off: an intact record (view filled, *size its length in the file), the
 * seal, or LOG_RK_END for anything else — zeros, a torn or damaged record, a misplaced one. */
static int log_rd_rec(struct log_rd *rd, uint32_t off, enum log_rk *kind, eng_logrec_view *v, uint32_t *size)
{
    *kind = LOG_RK_END;
    if ((uint64_t)off + LOG_REC_HDR > rd->fsize)
        return 0;
    const uint8_t *h = NULL;
    int e = log_rd_fetch(rd, off, LOG_REC_HDR, &h);
    if (e)
        return e;
    uint32_t crc = log_ld32(h), len = log_ld32(h + 4), gen = log_ld32(h + 12);
    uint16_t type = log_ld16(h + 8), rsv = log_ld16(h + 10);
    if (type == 0 || rsv != 0 || gen != rd->gen)
        return 0;
    uint64_t sz = log_rec_size(len);
    /* Ordinary records always leave room for the seal behind them. */
    if ((uint64_t)off + sz + (type == ENG_LR_SEAL ? 0 : LOG_SEAL_SIZE) > rd->fsize)
        return 0;
    if ((e = log_rd_fetch(rd, off, LOG_REC_HDR + (size_t)len, &h)))
        return e;
    static const uint8_t none[1];
    uint32_t pc = len ? eng_crc32c(0, h + LOG_REC_HDR, len) : eng_crc32c(0, none, 0);
    if (log_rec_crc(pc, h, off) != crc)
        return 0;
    *kind = type == ENG_LR_SEAL ? LOG_RK_SEAL : LOG_RK_REC;
    *size = (uint32_t)sz;
    if (v) {
        v->type = type;
        v->lsn = ENG_LSN(rd->gen, off);
        v->end = ENG_LSN(rd->gen, off + (uint32_t)sz);
        v->data = h + LOG_REC_HDR;
        v->len = len;
    }
    return 0;
}

/* Tell the owner where damage was found (cfg->on_corrupt), if it asked. */
static void log_report(const eng_log_config *cfg, const char *path, uint64_t off, const char *why)
{
    if (cfg->on_corrupt)
        cfg->on_corrupt(cfg->on_corrupt_ctx, path, off, why);
}

/* Header checks common to the scanner and log_seal_current, after log_open_checked: the file
 * size the header promises must be cfg's (when given), and the file must be exactly that long.
 * Every generation is allocated to its full size before it gets its header (log_create_file), so
 * no crash can leave one short: a shorter file lost data (JET_errLogFileCorrupt, reported at the
 * offset where it ends), and never reads as a torn tail. */
static int log_check_size(const eng_log_config *cfg, int fd, const log_fhdr *h, const char *path)
{
    if (cfg->file_size && h->file_size != cfg->file_size)
        return JET_errLogFileSizeMismatch;
    int64_t sz = eng_io_size(fd);
    if (sz < 0)
        return (int)eng_io_errno_to_jet((int)sz, 0);
    if ((uint64_t)sz < h->file_size) {
        log_report(cfg, path, (uint64_t)sz, "the file is shorter than its header says");
        return JET_errLogFileCorrupt;
    }
    return (uint64_t)sz > h->file_size ? JET_errLogFileSizeMismatch : 0;
}

/* Is there a 512-byte sector (aligned in the file) whose bytes from off on are all zero and lie
 * wholly in [off, end)? That is what a sector of a half-done write that never reached the disk
 * looks like, in a file that was zero before the write. */
static int log_rd_unwritten(struct log_rd *rd, uint32_t off, uint64_t end, bool *found)
{
    *found = false;
    for (uint64_t s = off & ~(uint64_t)(LOG_SECTOR - 1); s + LOG_SECTOR <= end; s += LOG_SECTOR) {
        uint64_t a = s > off ? s : off;
        const uint8_t *h;
        int e = log_rd_fetch(rd, a, (size_t)(s + LOG_SECTOR - a), &h);
        if (e)
            return e;
        bool zero = true;
        for (uint64_t i = 0; i < s + LOG_SECTOR - a && zero; i++)
            zero = h[i] == 0;
        if (zero) {
            *found = true;
            return 0;
        }
    }
    return 0;
}

/* One step of the reflected CRC-32C register over a zero bit, undone. The forward step is
 * c' = c >> 1 ^ (c & 1 ? poly : 0); the poly's top bit tells which case it was. */
static uint32_t log_crc_unstep(uint32_t c)
{
    return c & 0x80000000u ? (c ^ 0x82F63B78u) << 1 | 1u : c << 1;
}

/* Is the record (header h, payload len bytes behind it, at file offset off) wrong in exactly one
 * bit — of its CRC field or of the bytes the CRC covers? A CRC is linear: flipping bit j of
 * message byte b changes it by a value that depends only on j and on the bytes behind b, so the
 * difference between the stored and the computed CRC, walked back byte by byte, meets the
 * change a single bit makes exactly when one bit is wrong. A torn write (whole sectors of zeros
 * where data should be) matches that by chance with probability about bits / 2^32. */
static bool log_one_bit_off(const uint8_t *h, uint32_t len, uint32_t off)
{
    static const uint8_t none[1];
    uint32_t pc = len ? eng_crc32c(0, h + LOG_REC_HDR, len) : eng_crc32c(0, none, 0);
    uint32_t d = log_ld32(h) ^ log_rec_crc(pc, h, off);
    if (d == 0 || (d & (d - 1)) == 0)
        return d != 0; /* intact, or one bit of the stored CRC itself */
    uint32_t unit[8]; /* the change of bit j of the message's last byte */
    for (int j = 0; j < 8; j++) {
        uint32_t c = 1u << j;
        for (int k = 0; k < 8; k++)
            c = c >> 1 ^ (c & 1 ? 0x82F63B78u : 0);
        unit[j] = c;
    }
    /* The message is payload, header bytes 4..15, then the 4 offset bytes that are not in the
     * file: walk back past those first, then over every byte that is. */
    for (int k = 0; k < 32; k++)
        d = log_crc_unstep(d);
    for (uint64_t b = 0; b < (uint64_t)len + LOG_REC_HDR - 4; b++) {
        for (int j = 0; j < 8; j++)
            if (d == unit[j])
                return true;
        for (int k = 0; k < 8; k++)
            d = log_crc_unstep(d);
    }
    return false;
}

/* The record at off, in the newest generation, is not intact (zeros, a torn or damaged record, a
 * misplaced one): is that the torn tail a crash leaves, or damage in the middle of the log?
 * Returns 0 for a torn tail (the log ends at off) or JET_errLogFileCorrupt.
 *
 * What a crash can leave. The writer fills every generation with zeros before it is used and
 * never rewrites a byte it has written (log.c), and it issues no write of more than
 * LOG_WRITE_MAX bytes before the previous one is fdatasync'ed (log_write_out). So at a crash
 * everything up to some point is durable and correct; then comes at most one write that may be
 * half done; behind that write everything is still zero. A process that dies mid-write leaves a
 * prefix of it; a power cut may keep any subset of its sectors, in any order (a sector itself is
 * written whole or not at all: the assumption every log design makes).
 *
 * The criterion. Look ahead through the rest of the file for intact records (or a seal) of this
 * generation — the CRC binds each to this generation and to its offset, so an intact one is
 * exactly what the writer put there, never stale or shifted bytes:
 *  - none: nothing was written behind the bad record; a torn tail.
 *  - some: they were written after the bad record, which should then be whole. It can still be
 *    torn only if all of them and the bad record lie in the one half-done write, and that write
 *    visibly did not reach the disk everywhere: some sector between the bad record and the first
 *    intact one P is all zero from the bad record on, and every intact record starts before
 *    P + LOG_WRITE_MAX (the write holds a byte of the bad record, which ends at or before P).
 *    And the bad record's header, if it reached the disk (non-zero, within one sector), must
 *    be one the writer wrote: plausible, its record ending at or before P.
 *    Otherwise this is damage — a flipped bit, a lying header, a lost block with intact records
 *    further on — and the records behind it were acknowledged: JET_errLogFileCorrupt, never a
 *    silent loss.
 *  - whatever follows: a whole record whose CRC is exactly one bit off is a flipped bit
 *    (log_one_bit_off), never a torn write; refused too, even as the very last record.
 * What this cannot tell apart from a torn write: damage of more than one bit that comes with a
 * whole zero sector (a zeroed block, or damage in a record holding a zero sector of its own) and
 * has intact records only within one write's reach behind it. That costs at most one write's worth of records;
 * everything else is either a proven torn tail or refused. (A log written by an older writer,
 * which did not bound its unsynced writes, can only be refused more often, never less.) */
static int log_rd_tail(struct log_rd *rd, uint32_t off, const eng_log_config *cfg, const char *path)
{
    if ((uint64_t)off + LOG_REC_HDR > rd->fsize)
        return 0;
    const uint8_t *h = NULL;
    int e = log_rd_fetch(rd, off, LOG_REC_HDR, &h);
    if (e)
        return e;
    uint8_t hb[LOG_REC_HDR];
    memcpy(hb, h, sizeof hb);
    uint32_t len = log_ld32(hb + 4);
    bool plausible = log_ld16(hb + 8) != 0 && log_ld16(hb + 10) == 0 && log_ld32(hb + 12) == rd->gen &&
                     (uint64_t)off + LOG_REC_HDR + len <= rd->fsize;
    uint64_t claimed_end = plausible ? off + log_rec_size(len) : 0;
    bool hdr_written = false; /* non-zero, in one sector: it reached the disk whole */
    for (size_t i = 0; i < LOG_REC_HDR; i++)
        hdr_written |= hb[i] != 0;
    hdr_written &= off / LOG_SECTOR == (off + LOG_REC_HDR - 1) / LOG_SECTOR;
    /* A whole record one bit off its CRC is a flipped bit, not a write that stopped half-way. */
    if (plausible && len <= LOG_WRITE_MAX) {
        if ((e = log_rd_fetch(rd, off, LOG_REC_HDR + (size_t)len, &h)))
            return e;
        if (log_one_bit_off(h, len, off)) {
            log_report(cfg, path, off, "one bit of the record is wrong");
            return JET_errLogFileCorrupt;
        }
    }
    bool have = false, unwritten = false;
    uint64_t first = 0;
    for (uint64_t p = off + LOG_ALIGN; p + LOG_REC_HDR <= rd->fsize; p += LOG_ALIGN) {
        enum log_rk kind;
        uint32_t size = 0;
        if ((e = log_rd_rec(rd, (uint32_t)p, &kind, NULL, &size)))
            return e;
        if (kind == LOG_RK_END)
            continue;
        if (!have) {
            have = true;
            first = p;
            /* A header that reached the disk is the writer's, so it is plausible and its record
             * ends before the next intact one; one that is not lies (damage). */
            if (!(hdr_written && (!plausible || claimed_end > first)) &&
                (e = log_rd_unwritten(rd, off, first, &unwritten)))
                return e;
        }
        if (unwritten && p < first + LOG_WRITE_MAX) {
            p += size - LOG_ALIGN; /* the half-done last write, persisted out of order */
            continue;
        }
        char why[160];
        snprintf(why, sizeof why, "damaged record, followed by an intact one at offset %llu",
                 (unsigned long long)p);
        log_report(cfg, path, off, why);
        return JET_errLogFileCorrupt;
    }
    return 0;
}

int log_seal_current(const eng_log_config *cfg, uint32_t *sealed_gen, eng_lsn *end_lsn)
{
    if (log_cfg_check(cfg, false))
        return JET_errInvalidParameter;
    char cur[LOG_PATH_MAX], tmp[LOG_PATH_MAX], arch[LOG_PATH_MAX];
    if (log_name_path(cfg, ".log", cur, sizeof cur) || log_name_path(cfg, "tmp.log", tmp, sizeof tmp))
        return JET_errInvalidPath;
    int r = 0, tfd = -1;
    int fd;
    log_fhdr fh;
    int e = log_open_checked(cur, O_RDWR, &cfg->sig, &fd, &fh);
    if (e)
        return e;
    /* A writer that still runs on this log holds both files: touch neither. */
    if (fd >= 0 && (e = log_lock_fd(fd))) {
        eng_io_close(fd);
        return e;
    }
    if ((tfd = eng_io_open(tmp, O_RDONLY, 0)) >= 0 && (e = log_lock_fd(tfd))) {
        eng_io_close(tfd);
        eng_io_close(fd);
        return e;
    }
    eng_io_close(tfd);
    if (fd < 0) {
        r = eng_io_unlink(tmp);
        if (r && r != -ENOENT)
            return (int)eng_io_errno_to_jet(r, 0);
        if (sealed_gen)
            *sealed_gen = 0;
        if (end_lsn)
            *end_lsn = 0;
        return 0;
    }
    struct stat st;
    struct log_rd rd = {.fd = fd, .gen = fh.gen, .fsize = fh.file_size};
    if ((e = log_check_size(cfg, fd, &fh, cur)))
        goto out;
    if ((e = log_file_path(cfg, fh.gen, arch, sizeof arch)))
        goto out;
    if (stat(arch, &st) == 0) {
        /* Never overwrite an archived generation. */
        e = JET_errFileAlreadyExists;
        goto out;
    }

    uint32_t off = LOG_HDR_SIZE, size = 0;
    enum log_rk kind;
    for (;;) {
        if ((e = log_rd_rec(&rd, off, &kind, NULL, &size)))
            goto out;
        if (kind != LOG_RK_REC)
            break;
        off += size;
    }
    /* Only a torn tail may be sealed over: damage in the middle is refused before anything is
     * written (the records behind it were acknowledged). */
    if (kind == LOG_RK_END && (e = log_rd_tail(&rd, off, cfg, cur))) {
        if (end_lsn)
            *end_lsn = ENG_LSN(fh.gen, off);
        goto out;
    }
    r = eng_io_unlink(tmp);
    if (r && r != -ENOENT) {
        e = (int)eng_io_errno_to_jet(r, 0);
        goto out;
    }
    r = 0;
    if (kind == LOG_RK_END) {
        /* Zero everything behind the seal that is not zero yet: a torn tail must never be read as
         * records again, yet an already clean file costs only reads. */
        uint8_t seal[LOG_SEAL_SIZE];
        static const uint8_t none[1];
        log_rec_encode(seal, eng_crc32c(0, none, 0), 0, ENG_LR_SEAL, fh.gen, off);
        if ((r = eng_io_pwrite(fd, seal, sizeof seal, off)))
            goto io_fail;
        int64_t fsz = eng_io_size(fd);
        if (fsz < 0) {
            r = (int)fsz;
            goto io_fail;
        }
        if ((uint64_t)fsz < fh.file_size && (r = eng_io_allocate(fd, fh.file_size)))
            goto io_fail;
        uint8_t *z = calloc(1, LOG_SCAN_CHUNK);
        if (!z) {
            e = JET_errOutOfMemory;
            goto out;
        }
        for (uint64_t o = off + LOG_SEAL_SIZE; o < fh.file_size; o += LOG_SCAN_CHUNK) {
            size_t n = fh.file_size - o < LOG_SCAN_CHUNK ? (size_t)(fh.file_size - o) : LOG_SCAN_CHUNK;
            const uint8_t *p;
            if ((e = log_rd_fetch(&rd, o, n, &p)))
                break;
            if (memcmp(p, z, n) != 0 && (r = eng_io_pwrite(fd, z, n, o)))
                break;
        }
        free(z);
        if (e)
            goto out;
        if (r || (r = eng_io_fsync(fd)))
            goto io_fail;
    }
    eng_io_close(fd);
    fd = -1;
    if ((r = eng_io_rename(cur, arch)) || (r = eng_io_fsync_dir(cfg->dir)))
        goto io_fail;
    if (sealed_gen)
        *sealed_gen = fh.gen;
    if (end_lsn)
        *end_lsn = ENG_LSN(fh.gen, off);
    goto out;
io_fail:
    e = log_io_jet(r);
out:
    free(rd.win);
    eng_io_close(fd);
    return e;
}

/* ---------------------------------------------------------------------------------------------
 * Scanner
 * ------------------------------------------------------------------------------------------- */

struct eng_logscan {
    eng_log_config cfg; /* cfg.dir points at dir */
    char dir[LOG_PATH_MAX];
    char cur_path[LOG_PATH_MAX];
    char path[LOG_PATH_MAX]; /* the file rd reads */
    eng_logsig sig;     /* required of every file (adopted from the first when cfg's is zero) */
    uint32_t cur_gen;   /* generation of <base>.log at open, 0 if none */
    uint32_t last_gen;  /* highest generation on disk at open */
    uint32_t stop_gen;
    bool strict;        /* every generation must end in a seal (restore: the set is complete) */
    struct log_rd rd;   /* the generation being read */
    uint32_t off;       /* next record in rd */
    eng_lsn end;
    int state;          /* 0 reading, 1 at the end, < 0 a sticky error */
};

/* Open generation g: its archived file, else <base>.log if that holds g. Returns 0 with
 * sc->rd.fd = -1 if neither exists. */
static int logscan_open_gen(eng_logscan *sc, uint32_t g)
{
    char path[LOG_PATH_MAX];
    if (log_file_path(&sc->cfg, g, path, sizeof path))
        return JET_errInvalidPath;
    int fd;
    log_fhdr fh;
    int e = log_open_checked(path, O_RDONLY, &sc->sig, &fd, &fh);
    if (!e && fd < 0 && g == sc->cur_gen) {
        e = log_open_checked(sc->cur_path, O_RDONLY, &sc->sig, &fd, &fh);
        memcpy(path, sc->cur_path, sizeof path);
    }
    if (e || fd < 0)
        return e;
    if (fh.gen != g)
        e = JET_errLogGenerationMismatch;
    else
        e = log_check_size(&sc->cfg, fd, &fh, path);
    if (e) {
        eng_io_close(fd);
        return e;
    }
    if (log_sig_is_zero(&sc->sig))
        sc->sig = fh.sig;
    eng_io_close(sc->rd.fd);
    sc->rd.fd = fd;
    sc->rd.gen = g;
    sc->rd.fsize = fh.file_size;
    sc->rd.woff = sc->rd.wlen = 0;
    memcpy(sc->path, path, sizeof path);
    sc->off = LOG_HDR_SIZE;
    if (g > sc->last_gen)
        sc->last_gen = g;
    return 0;
}

/* Move to off, a record boundary of the open generation, by reading every record before it: a
 * position handed in from outside (the checkpoint) is trusted only once the log confirms it.
 * Damage before off is reported as it would be by a scan; off inside a record, or behind the
 * end of the records, is JET_errInvalidParameter. */
static int logscan_seek(eng_logscan *sc, uint32_t off)
{
    for (;;) {
        if (sc->off == off)
            return 0;
        if (sc->off > off)
            return JET_errInvalidParameter; /* off is inside the record before sc->off */
        enum log_rk kind;
        uint32_t size = 0;
        int e = log_rd_rec(&sc->rd, sc->off, &kind, NULL, &size);
        if (e)
            return e;
        if (kind == LOG_RK_REC) {
            sc->off += size;
            continue;
        }
        if (kind == LOG_RK_SEAL)
            return JET_errInvalidParameter; /* behind the end of the generation */
        /* Not intact before off: damage, or the log simply ends before the position. */
        if (sc->strict || sc->rd.gen < sc->last_gen) {
            log_report(&sc->cfg, sc->path, sc->off, "damaged record");
            return JET_errLogFileCorrupt;
        }
        return (e = log_rd_tail(&sc->rd, sc->off, &sc->cfg, sc->path)) ? e : JET_errInvalidParameter;
    }
}

int logscan_open(const eng_log_config *cfg, eng_lsn start, eng_logscan **out)
{
    if (!out || log_cfg_check(cfg, false) || ENG_LSN_GEN(start) == 0)
        return JET_errInvalidParameter;
    eng_logscan *sc = calloc(1, sizeof *sc);
    if (!sc)
        return JET_errOutOfMemory;
    sc->rd.fd = -1;
    sc->cfg = *cfg;
    sc->cfg.base[3] = 0;
    sc->sig = cfg->sig;
    int e = 0;
    if (strlen(cfg->dir) >= sizeof sc->dir)
        e = JET_errInvalidPath;
    else {
        memcpy(sc->dir, cfg->dir, strlen(cfg->dir) + 1);
        sc->cfg.dir = sc->dir;
        if (log_name_path(&sc->cfg, ".log", sc->cur_path, sizeof sc->cur_path))
            e = JET_errInvalidPath;
    }
    uint32_t lo = 0, hi = 0;
    if (!e)
        e = log_list(&sc->cfg, &lo, &hi, &sc->cur_gen);
    sc->last_gen = hi > sc->cur_gen ? hi : sc->cur_gen;
    uint32_t g = ENG_LSN_GEN(start), off = ENG_LSN_OFF(start);
    if (!e)
        e = logscan_open_gen(sc, g);
    if (!e && sc->rd.fd < 0)
        e = JET_errMissingLogFile;
    if (!e && off) {
        if (off < LOG_HDR_SIZE || off % LOG_ALIGN || (uint64_t)off + LOG_REC_HDR > sc->rd.fsize)
            e = JET_errInvalidParameter;
        else
            e = logscan_seek(sc, off);
    }
    if (e) {
        logscan_close(sc);
        return e;
    }
    sc->end = ENG_LSN(g, sc->off);
    *out = sc;
    return 0;
}

void logscan_set_stop_gen(eng_logscan *sc, uint32_t stop_gen)
{
    sc->stop_gen = stop_gen;
}

void logscan_set_strict(eng_logscan *sc, bool strict)
{
    sc->strict = strict;
}

uint32_t logscan_gen(const eng_logscan *sc)
{
    return sc->rd.gen;
}

int logscan_next(eng_logscan *sc, eng_logrec_view *rec)
{
    if (!sc->state && sc->stop_gen && sc->rd.gen > sc->stop_gen)
        sc->state = 1;
    while (!sc->state) {
        enum log_rk kind;
        uint32_t size = 0;
        int e = log_rd_rec(&sc->rd, sc->off, &kind, rec, &size);
        if (e) {
            sc->state = e;
            break;
        }
        if (kind == LOG_RK_REC) {
            sc->off += size;
            sc->end = ENG_LSN(sc->rd.gen, sc->off);
            return 0;
        }
        if (kind == LOG_RK_END) {
            /* Only the newest generation may end early, and only in a torn tail after a crash. */
            if (sc->strict || sc->rd.gen < sc->last_gen) {
                log_report(&sc->cfg, sc->path, sc->off,
                           sc->rd.gen < sc->last_gen ? "damaged record, or no seal, in a generation "
                                                       "that is followed by another one"
                                                     : "damaged record, or no seal");
                sc->state = JET_errLogFileCorrupt;
            } else {
                e = log_rd_tail(&sc->rd, sc->off, &sc->cfg, sc->path);
                sc->state = e ? e : 1;
            }
            break;
        }
        uint32_t next = sc->rd.gen + 1;
        if (sc->rd.gen == UINT32_MAX || (sc->stop_gen && next > sc->stop_gen)) {
            sc->state = 1;
            break;
        }
        if ((e = logscan_open_gen(sc, next))) {
            sc->state = e;
            break;
        }
        if (sc->rd.gen != next) /* nothing on disk for next */
            sc->state = next <= sc->last_gen ? JET_errMissingLogFile : 1;
        else
            sc->end = ENG_LSN(next, sc->off);
    }
    return sc->state;
}

eng_lsn logscan_end(const eng_logscan *sc)
{
    return sc->end;
}

eng_logsig logscan_sig(const eng_logscan *sc)
{
    return sc->sig;
}

void logscan_close(eng_logscan *sc)
{
    if (!sc)
        return;
    eng_io_close(sc->rd.fd);
    free(sc->rd.win);
    free(sc);
}
