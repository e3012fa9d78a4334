/*
 * backup.c — the external (streaming, non-VSS) backup of one instance: ESE's sequence Begin →
 * GetAttachInfo → OpenFile/ReadFile/CloseFile per database → GetLogInfo → the same per log →
 * TruncateLog → End, with ESE's order errors and header bookkeeping (docs/jet-semantics.md,
 * “Ordering errors” and “Backup types and header bookkeeping”).
 *
 * Why a copy taken while the engine writes is still good: the log holds every page change of a
 * committed transaction (whole images, and diffs against an image stamped with their base, see
 * redo.c), so a database copy that is "fuzzy" (pages from different moments) plus every log
 * generation from the checkpoint at Begin (copy_mic) up to the one rolled at GetLogInfo replays to
 * the committed state: a page read after a change was flushed skips that change's diff, and a page
 * changed after the checkpoint meets a whole image first. What must hold for that:
 *  - each page in the stream is whole: it is read while no cache flush of that database is
 *    writing pages (the flush's write mutex, pwmu, is ESE's range lock, taken per chunk), and its
 *    checksum is verified, with retries, before it is handed out;
 *  - pages written after copy_mic are covered by logs >= copy_mic, so growth during the copy does
 *    not need copying, and logs from copy_mic on are never deleted while the backup runs (circular
 *    logging holds them back through bk.hold_gen).
 *
 * The stream of a database is (page size units): the header snapshot taken at OpenFile, twice
 * (with bkinfoFullCur = {mark, copy_mic}, which marks a restored file as a backup that needs hard
 * recovery), pages 1..N-1 exactly where the file has them, and one trailer page naming the
 * database, its signatures, the log generations it needs and the path it had (format in
 * records.c). So the stream written to a file is a database file with the trailer page appended.
 * Begin also logs an ENG_LR_BACKUP record listing the attached databases (dbid, signature, path), so
 * a restore that is not told where the databases go finds them at the paths they had (format in
 * records.c).
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "engine-int.h"
#include "records-int.h"
#include "testhooks-int.h"


/* Retries of a page that fails its checksum: ESE's 16, backing off (i+1) x base ms. Tests lower
 * the base to keep a "page stays bad" case short. */
unsigned eng_bk_retry_base_ms = 100;
#define BK_RETRIES 16

void eng_bk_init(eng_inst *in)
{
    memset(&in->bk, 0, sizeof in->bk);
    pthread_mutex_init(&in->bk.mu, NULL);
    for (int i = 0; i < ENG_BK_MAX_FILES; i++)
        in->bk.files[i].fd = -1;
}

void eng_bk_destroy(eng_inst *in)
{
    free(in->bk.gen_read);
    pthread_mutex_destroy(&in->bk.mu);
}

static uint32_t bit(uint32_t dbid) { return 1u << (dbid - 1); }
static uint32_t backed_up_through(eng_inst *in, bool *none, char missing[ENG_PATH_MAX]);

static void file_close(eng_bkfile *f)
{
    if (f->fd >= 0)
        eng_io_close(f->fd);
    free(f->hdr);
    free(f->trailer);
    memset(f, 0, sizeof *f);
    f->fd = -1;
}

/* Back to "no backup". Under bk.mu. */
static void reset(eng_inst *in)
{
    eng_backup *b = &in->bk;
    for (int i = 0; i < ENG_BK_MAX_FILES; i++)
        if (b->files[i].used)
            file_close(&b->files[i]);
    b->state = BKS_NONE;
    b->incremental = false;
    b->failed = 0;
    b->mark = 0;
    b->mark_usec = 0;
    b->copy_mic = b->copy_mac = b->delete_mic = b->delete_mac = 0;
    b->truncated = false;
    atomic_store(&b->in_session, 0);
    b->copy_done = 0;
    free(b->gen_read);
    b->gen_read = NULL;
    b->ngen_read = 0;
    atomic_store(&b->stop, false);
    atomic_store(&b->hold_gen, 0);
}

/* The errors every call after Begin shares: NoBackup, BackupAbortByServer after a stop, and the
 * sticky failure of a cancelled backup. Under bk.mu. */
static long usable(eng_inst *in)
{
    if (in->bk.state == BKS_NONE)
        return JET_errNoBackup;
    if (atomic_load(&in->bk.stop))
        return JET_errBackupAbortByServer;
    return in->bk.failed;
}

static bool any_open(const eng_backup *b)
{
    for (int i = 0; i < ENG_BK_MAX_FILES; i++)
        if (b->files[i].used)
            return true;
    return false;
}

static uint32_t ckpt_gen(eng_inst *in) { return eng_ckpt_gen(in); }

/* Copy a multi-sz list into the caller's buffer by ESE's convention (NULL buffer: size only;
 * otherwise at most cbMax bytes, and *pcb = min(cbMax, needed)). */
static void give_multisz(const char *list, size_t need, char *szz, unsigned long cbMax,
                         unsigned long *pcb)
{
    if (szz && cbMax) {
        size_t n = need < cbMax ? need : cbMax;
        memcpy(szz, list, n);
        if (n < need && n > 0) { /* keep it a terminated list the caller can walk */
            szz[n - 1] = 0;
            if (n > 1)
                szz[n - 2] = 0;
        }
    }
    if (pcb)
        *pcb = (unsigned long)(szz ? (need < cbMax ? need : cbMax) : need);
}

/* Attached databases whose file is open (not mid-attach or mid-detach). Under in->mu. */
static bool db_live(eng_db *db) { return db && db->fd >= 0 && !db->detaching; }

/* Log which databases are attached, with their paths (the format is in records.c). */
static long log_begin_record(eng_inst *in)
{
    size_t cap = ENG_REC_BACKUP_HDR, n = 0;
    pthread_mutex_lock(&in->mu);
    for (uint32_t id = 1; id <= ENG_MAX_DB; id++)
        if (db_live(in->dbs[id]))
            cap += eng_rec_bkdb_size((uint32_t)strlen(in->dbs[id]->path));
    uint8_t *b = malloc(cap);
    if (b) {
        size_t o = ENG_REC_BACKUP_HDR;
        for (uint32_t id = 1; id <= ENG_MAX_DB; id++) {
            eng_db *db = in->dbs[id];
            if (!db_live(db))
                continue;
            eng_rec_bkdb d = {id, db->hdr.sig, db->path, (uint32_t)strlen(db->path)};
            o += eng_rec_bkdb_encode(b + o, &d);
            n++;
        }
        eng_rec_backup_encode(b, &(eng_rec_backup){.kind = ENG_REC_BACKUP_BEGIN, .count = (uint32_t)n});
        cap = o;
    }
    pthread_mutex_unlock(&in->mu);
    ENG_RETURN_IF(!b, JET_errOutOfMemory, "no memory for the log record naming the attached databases");
    struct iovec iov = {b, cap};
    eng_logrec rec = {ENG_LR_BACKUP, &iov, 1};
    long err = log_append(in->log, &rec, 1, NULL, NULL);
    free(b);
    return err;
}

long eng_bk_begin(eng_inst *in, JET_GRBIT grbit)
{
    eng_backup *b = &in->bk;
    ENG_RETURN_IF(!in->p.recovery || !in->log, JET_errLoggingDisabled, "the instance runs without a log");
    ENG_RETURN_IF(log_error(in->log), JET_errLogWriteFail, "an earlier write to the log failed");
    /* Only 0 and Incremental: ESE's internal Surrogate and InternalCopy kinds are not offered, and
     * Atomic/Snapshot are refused by ESE itself. */
    ENG_RETURN_IF(grbit & ~(JET_GRBIT)JET_bitBackupIncremental, JET_errInvalidGrbit,
                  "a backup takes only the Incremental bit");
    bool inc = grbit & JET_bitBackupIncremental;
    /* circular_log may change while the instance runs: read atomically (ENG_PARAM_LOAD). */
    ENG_RETURN_IF(inc && ENG_PARAM_LOAD(in, circular_log), JET_errInvalidBackup,
                  "circular logging deletes the logs an incremental backup needs");
    pthread_mutex_lock(&b->mu);
    /* An OS snapshot between Freeze and End holds the instance's backup slot too (ESE). */
    long err = b->state != BKS_NONE || atomic_load(&in->snap_hold) ? JET_errBackupInProgress : JET_errSuccess;
    if (!err && inc) {
        /* An incremental needs a streaming full backup of every attached database to follow. */
        pthread_mutex_lock(&in->mu);
        for (uint32_t id = 1; id <= ENG_MAX_DB; id++) {
            eng_db *db = in->dbs[id];
            if (db_live(db) && (db->hdr.bk_full.gen_low == 0 || db->hdr.bk_full.type != ENG_BKTYPE_STREAM)) {
                err = JET_errMissingFullBackup;
                eng_event(in, 2, 206, "database %s cannot be incrementally backed up: no full backup first",
                          db->path);
            }
        }
        pthread_mutex_unlock(&in->mu);
    }
    if (!err)
        err = log_begin_record(in);
    if (!err) {
        reset(in); /* also clears a stop that came while no backup ran */
        b->incremental = inc;
        b->state = inc ? BKS_LOGS : BKS_DATABASES;
        b->mark = log_tip(in->log);
        b->mark_usec = eng_now_usec();
        b->copy_mic = ckpt_gen(in);
        /* From here on circular logging must keep every generation the copy may need. */
        atomic_store(&b->hold_gen, inc ? 1 : b->copy_mic);
        if (inc)
            eng_event(in, 3, 211, "an incremental backup is starting");
        else
            eng_event(in, 3, 210, "a full backup is starting (logs from generation %u)", b->copy_mic);
    }
    pthread_mutex_unlock(&b->mu);
    return err;
}

long eng_bk_attach_info(eng_inst *in, char *szz, unsigned long cbMax, unsigned long *pcbActual)
{
    eng_backup *b = &in->bk;
    pthread_mutex_lock(&b->mu);
    long err = usable(in);
    if (!err && b->incremental)
        err = JET_errInvalidBackupSequence; /* attach info exists only for a full backup */
    char *list = NULL;
    size_t need = 0;
    if (!err) {
        pthread_mutex_lock(&in->mu);
        for (uint32_t id = 1; id <= ENG_MAX_DB; id++)
            if (db_live(in->dbs[id]))
                need += strlen(in->dbs[id]->path) + 1;
        need += 1;
        list = malloc(need);
        if (list) {
            size_t o = 0;
            for (uint32_t id = 1; id <= ENG_MAX_DB; id++)
                if (db_live(in->dbs[id])) {
                    size_t l = strlen(in->dbs[id]->path) + 1;
                    memcpy(list + o, in->dbs[id]->path, l);
                    o += l;
                }
            list[o] = 0;
        } else {
            err = JET_errOutOfMemory;
        }
        pthread_mutex_unlock(&in->mu);
    }
    if (!err)
        give_multisz(list, need, szz, cbMax, pcbActual);
    free(list);
    pthread_mutex_unlock(&b->mu);
    return err;
}

/* Cancel the whole backup because a log could not be copied (ESE: event 218 and cleanup); every
 * later call but End and CloseFile gets err. Under bk.mu. */
static long fail_backup(eng_inst *in, long err, const char *what)
{
    in->bk.failed = err;
    eng_event(in, 1, 218, "error %ld copying %s: the backup is cancelled", err, what);
    return err;
}

/* The generation a log file name stands for, if it names a log of this instance:
 * <log dir>/<base>XXXXX.log (or 8 hex digits). 0 otherwise. */
static uint32_t log_gen_of(eng_inst *in, const char *name)
{
    char dir_real[PATH_MAX], name_dir[PATH_MAX];
    char *copy = strdup(name);
    if (!copy)
        return 0;
    char *slash = strrchr(copy, '/');
    const char *base = slash ? slash + 1 : copy;
    if (slash)
        *slash = 0;
    bool same_dir = realpath(in->p.log_path, dir_real) && realpath(slash ? (*copy ? copy : "/") : ".", name_dir) &&
                    !strcmp(dir_real, name_dir);
    uint32_t gen = 0;
    size_t bl = strlen(in->p.base_name), l = strlen(base);
    if (same_dir && l > bl + 4 && !strncmp(base, in->p.base_name, bl) && !strcmp(base + l - 4, ".log")) {
        size_t nd = l - bl - 4;
        if (nd == 5 || nd == 8) {
            char hex[9];
            memcpy(hex, base + bl, nd);
            hex[nd] = 0;
            char *end;
            unsigned long v = strtoul(hex, &end, 16);
            if (*end == 0 && v > 0 && v <= UINT32_MAX)
                gen = (uint32_t)v;
            for (size_t i = 0; i < nd; i++)
                if (hex[i] >= 'a' && hex[i] <= 'f')
                    gen = 0; /* the engine writes upper case; anything else is another file */
        }
    }
    free(copy);
    return gen;
}

/* Is generation gen whole and sealed? JET_errLogReadVerifyFailure if not. */
static long verify_log(eng_inst *in, uint32_t gen)
{
    eng_log_config cfg = in->logcfg;
    cfg.sig = in->logsig;
    eng_logscan *sc = NULL;
    int r = logscan_open(&cfg, ENG_LSN(gen, 0), &sc);
    if (!r) {
        logscan_set_stop_gen(sc, gen);
        eng_logrec_view v;
        while ((r = logscan_next(sc, &v)) == 0)
            ;
        /* 1: the seal was reached. The generation is not the newest on disk, so a damaged or
         * missing record before the seal came back as an error instead. */
        if (r == 1)
            r = 0;
    }
    logscan_close(sc);
    return r ? JET_errLogReadVerifyFailure : JET_errSuccess;
}

long eng_bk_open(eng_inst *in, const char *name, JET_HANDLE *ph, unsigned long *lo, unsigned long *hi)
{
    eng_backup *b = &in->bk;
    ENG_RETURN_IF(!ph, JET_errInvalidParameter, "no place was given for the file handle");
    pthread_mutex_lock(&b->mu);
    long err = usable(in);
    if (!err && (!name || !*name))
        err = JET_errInvalidParameter;
    int slot = -1;
    for (int i = 0; !err && i < ENG_BK_MAX_FILES && slot < 0; i++)
        if (!b->files[i].used)
            slot = i;
    if (!err && slot < 0)
        err = JET_errOutOfMemory; /* ESE: more than crhfMax handles */
    if (err) {
        pthread_mutex_unlock(&b->mu);
        return err;
    }
    eng_bkfile *f = &b->files[slot];

    pthread_mutex_lock(&in->mu);
    eng_db *db = eng_db_find(in, name);
    if (db && !db_live(db))
        db = NULL;
    if (db) {
        if (b->incremental || b->state == BKS_LOGS) {
            err = JET_errInvalidBackupSequence;
        } else if (atomic_load(&b->in_session) & bit(db->dbid)) {
            err = JET_errInvalidBackupSequence; /* each database is streamed once per backup */
        } else {
            uint32_t ps = db->page_size;
            f->hdr = calloc(1, ps);
            if (!f->hdr) {
                err = JET_errOutOfMemory;
            } else {
                pthread_rwlock_rdlock(&db->view_lock);
                f->npages = db->npages;
                pthread_rwlock_unlock(&db->view_lock);
                eng_dbhdr h = db->hdr;
                h.bk_cur = (eng_bkinfo){b->mark, b->mark_usec, b->copy_mic, 0, ENG_BKTYPE_STREAM};
                eng_dbhdr_encode(&h, f->hdr);
                f->used = true;
                f->is_db = true;
                f->dbid = db->dbid;
                f->fd = -1;
                f->size = ((uint64_t)f->npages + 2) * ps;
                snprintf(f->path, sizeof f->path, "%s", db->path);
                atomic_fetch_or(&b->in_session, bit(db->dbid));
            }
        }
    }
    pthread_mutex_unlock(&in->mu);

    if (!err && !db) {
        if (b->state == BKS_DATABASES) {
            err = JET_errDatabaseNotFound;
            eng_event(in, 1, 217, "%s is not an attached database: it cannot be backed up", name);
        } else {
            uint32_t gen = log_gen_of(in, name);
            if (!gen) {
                err = JET_errInvalidParameter; /* not a file of this backup set */
            } else {
                int fd = eng_io_open(name, O_RDONLY, 0);
                int64_t sz = fd >= 0 ? eng_io_size(fd) : fd;
                if (fd == -ENOENT) {
                    eng_event(in, 1, 219, "file %s is missing and could not be backed up", name);
                    err = fail_backup(in, JET_errMissingFileToBackup, name);
                } else if (fd < 0 || sz < 0) {
                    err = fail_backup(in, eng_io_errno_to_jet(fd < 0 ? fd : (int)sz, 0), name);
                } else if ((err = verify_log(in, gen))) {
                    fail_backup(in, err, name);
                }
                if (err) {
                    if (fd >= 0)
                        eng_io_close(fd);
                } else {
                    f->used = true;
                    f->is_db = false;
                    f->fd = fd;
                    f->gen = gen;
                    f->size = (uint64_t)sz;
                    snprintf(f->path, sizeof f->path, "%s", name);
                }
            }
        }
    }
    if (!err) {
        *ph = (JET_HANDLE)(slot + 1);
        if (lo)
            *lo = (unsigned long)(f->size & 0xFFFFFFFFu);
        if (hi)
            *hi = (unsigned long)(f->size >> 32);
        if (f->is_db)
            eng_event(in, 4, 220, "starting the copy of the file %s (%llu bytes)", f->path,
                      (unsigned long long)f->size);
    }
    pthread_mutex_unlock(&b->mu);
    return err;
}

static bool all_zero(const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i])
            return false;
    return true;
}

static void sleep_ms(unsigned ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
        ;
}

/* Read pages [first, first+n) into buf with no flush of this database in flight, so none is torn.
 * A page the file does not have yet (past its end: created after the last checkpoint, so the
 * logs carry it) or has never written (all zero) comes back as zeros. Returns the number of the
 * first page that failed its check in *bad (0 if none). */
static long read_pages_locked(eng_db *db, uint32_t first, uint32_t n, uint8_t *buf, uint32_t *bad)
{
    uint32_t ps = db->page_size;
    *bad = 0;
    /* Not fmu: a flush holds that across its fdatasync too, which cannot tear a page. */
    pthread_mutex_lock(&db->pwmu);
    ssize_t got = eng_io_pread(db->fd, buf, (size_t)n * ps, eng_page_off(first, ps));
    pthread_mutex_unlock(&db->pwmu);
    if (got < 0)
        return eng_io_errno_to_jet((int)got, 0);
    if ((size_t)got < (size_t)n * ps)
        memset(buf + got, 0, (size_t)n * ps - (size_t)got);
    for (uint32_t i = 0; i < n; i++) {
        const uint8_t *p = buf + (size_t)i * ps;
        if (!all_zero(p, ps) && eng_page_verify(p, first + i, ps)) {
            *bad = first + i;
            break;
        }
    }
    return JET_errSuccess;
}

long eng_bk_read_page(eng_db *db, uint32_t pgno, uint8_t *buf, bool *retried)
{
    for (int i = 0;; i++) {
        uint32_t bad;
        long err = read_pages_locked(db, pgno, 1, buf, &bad);
        if (err)
            return err;
        if (!bad) {
            if (retried)
                *retried = i > 0;
            return JET_errSuccess;
        }
        if (i == BK_RETRIES)
            return JET_errReadVerifyFailure;
        sleep_ms((unsigned)(i + 1) * eng_bk_retry_base_ms);
    }
}

static void make_trailer(eng_inst *in, eng_db *db, eng_bkfile *f, uint8_t *t)
{
    eng_rec_trailer tr = {f->npages,
                          db->hdr.sig,
                          in->logsig,
                          in->bk.copy_mic,
                          ENG_LSN_GEN(log_tip(in->log)),
                          in->bk.mark,
                          in->bk.mark_usec,
                          db->dbid,
                          db->path,
                          (uint32_t)strlen(db->path)};
    eng_rec_trailer_encode(t, db->page_size, &tr);
}

/* Stream bytes [f->pos, f->pos + cb) of a database. Under bk.mu. */
static long read_db(eng_inst *in, eng_bkfile *f, uint8_t *out, unsigned long cb, unsigned long *pcb)
{
    pthread_mutex_lock(&in->mu);
    eng_db *db = in->dbs[f->dbid];
    pthread_mutex_unlock(&in->mu);
    if (!db)
        return JET_errDatabaseNotFound;
    uint32_t ps = db->page_size;
    uint64_t unit = f->pos / ps, units = f->size / ps;
    unsigned long done = 0;
    bool retried = false;
    while (done < cb && unit < units) {
        uint8_t *dst = out + done;
        if (unit < 2) {
            memcpy(dst, f->hdr, ps);
            unit++;
            done += ps;
        } else if (unit == units - 1) {
            if (!f->trailer) {
                f->trailer = malloc(ps);
                if (!f->trailer)
                    return JET_errOutOfMemory;
                make_trailer(in, db, f, f->trailer);
            }
            memcpy(dst, f->trailer, ps);
            unit++;
            done += ps;
        } else {
            /* A run of pages, read in one go; a page that fails its check is retried alone. */
            uint32_t first = (uint32_t)(unit - 1);
            uint64_t left_pages = (units - 1) - unit;
            uint64_t room = (cb - done) / ps;
            uint32_t n = (uint32_t)(left_pages < room ? left_pages : room);
            uint32_t bad = 0;
            long err = read_pages_locked(db, first, n, dst, &bad);
            while (!err && bad) {
                bool r = false;
                err = eng_bk_read_page(db, bad, dst + (size_t)(bad - first) * ps, &r);
                retried |= r;
                if (!err) {
                    uint32_t next = bad + 1, rest = first + n - next;
                    bad = 0;
                    if (rest) {
                        uint8_t *p = dst + (size_t)(next - first) * ps;
                        for (uint32_t i = 0; i < rest && !bad; i++)
                            if (!all_zero(p + (size_t)i * ps, ps) && eng_page_verify(p + (size_t)i * ps, next + i, ps))
                                bad = next + i;
                    }
                }
            }
            if (err)
                return err;
            unit += n;
            done += (unsigned long)n * ps;
        }
    }
    if (retried)
        eng_event(in, 2, 399, "pages of %s read correctly only after retries (transient read error)", f->path);
    f->pos = unit * ps;
    *pcb = done;
    return JET_errSuccess;
}

long eng_bk_read(eng_inst *in, JET_HANDLE h, void *pv, unsigned long cb, unsigned long *pcb)
{
    eng_backup *b = &in->bk;
    pthread_mutex_lock(&b->mu);
    long err = usable(in);
    eng_bkfile *f = NULL;
    if (!err) {
        if (h < 1 || h > ENG_BK_MAX_FILES || !b->files[h - 1].used)
            err = JET_errInvalidParameter;
        else
            f = &b->files[h - 1];
    }
    uint32_t ps = in->p.page_size;
    if (!err && (!pv || !pcb || cb == 0 || cb % ps))
        err = JET_errInvalidParameter; /* whole pages only */
    if (!err && f->pos == 0 && cb < (f->is_db ? 3u : 2u) * ps)
        err = JET_errInvalidParameter; /* ESE: first read of a database >= 3 pages, of a log >= 2 */
    if (!err && f->pos >= f->size) {
        *pcb = 0; /* past the end: success with nothing */
    } else if (!err && f->is_db) {
        err = read_db(in, f, pv, cb, pcb);
        if (err) {
            /* Only this database's backup fails; the handle goes (ESE: event 217). */
            eng_event(in, 1, 217, "error %ld reading %s: this database cannot be restored from this backup",
                      err, f->path);
            atomic_fetch_and(&b->in_session, ~bit(f->dbid));
            file_close(f);
        }
    } else if (!err) {
        uint64_t left = f->size - f->pos;
        size_t n = left < cb ? (size_t)left : cb;
        ssize_t got = eng_io_pread(f->fd, pv, n, f->pos);
        if (got < 0 || (size_t)got != n)
            err = fail_backup(in, got < 0 ? eng_io_errno_to_jet((int)got, 0) : JET_errLogReadVerifyFailure,
                              f->path);
        else {
            f->pos += n;
            *pcb = (unsigned long)n;
        }
    }
    pthread_mutex_unlock(&b->mu);
    return err;
}

long eng_bk_close(eng_inst *in, JET_HANDLE h)
{
    eng_backup *b = &in->bk;
    pthread_mutex_lock(&b->mu);
    /* ESE: CloseFile does not look at the stop flag, so a stopped backup can still clean up. */
    long err = b->state == BKS_NONE ? JET_errNoBackup : JET_errSuccess;
    if (!err && (h < 1 || h > ENG_BK_MAX_FILES || !b->files[h - 1].used))
        err = JET_errInvalidParameter;
    if (!err) {
        eng_bkfile *f = &b->files[h - 1];
        bool whole = f->pos >= f->size;
        if (f->is_db && whole) {
            b->copy_done |= bit(f->dbid);
            eng_event(in, 4, 221, "ending the copy of the file %s", f->path);
        } else if (!f->is_db && whole && b->gen_read && f->gen >= b->copy_mic && f->gen < b->copy_mac) {
            /* Each generation of the range counts once, however often it is read. */
            if (!b->gen_read[f->gen - b->copy_mic]) {
                b->gen_read[f->gen - b->copy_mic] = 1;
                b->ngen_read++;
            }
        } else if (!whole) {
            eng_event(in, 2, 222, "not all data in the file %s has been read", f->path);
        }
        file_close(f);
    }
    pthread_mutex_unlock(&b->mu);
    return err;
}

/* The first GetLogInfo / GetTruncateLogInfo: roll the log so every commit so far is in a closed
 * generation, then fix the ranges to copy and to delete (docs/jet-semantics.md, “Log files and
 * truncation”). Under bk.mu. */
static long fix_log_range(eng_inst *in)
{
    eng_backup *b = &in->bk;
    uint32_t now = 0;
    long err = log_roll(in->log, &now);
    if (err)
        return err;
    uint32_t lo = 0, hi = 0, cur = 0;
    eng_log_config cfg = in->logcfg;
    cfg.sig = in->logsig;
    if ((err = log_list(&cfg, &lo, &hi, &cur)))
        return err;
    if (!lo)
        return JET_errFileNotFound; /* no archived log at all (ESE's ErrBKIPrepareLogFiles) */
    b->copy_mac = now;
    if (b->incremental) {
        b->copy_mic = lo;
        /* No gap after what the last full or incremental backup of any database holds. */
        pthread_mutex_lock(&in->mu);
        for (uint32_t id = 1; id <= ENG_MAX_DB && !err; id++) {
            eng_db *db = in->dbs[id];
            if (!db_live(db))
                continue;
            uint32_t have = db->hdr.bk_full.gen_high;
            if (db->hdr.bk_inc.type && db->hdr.bk_inc.gen_high > have)
                have = db->hdr.bk_inc.gen_high;
            if (lo > have + 1) {
                eng_event(in, 1, 219, "log generation %u after the last backup of %s is missing", have + 1, db->path);
                err = JET_errMissingFileToBackup;
            }
        }
        pthread_mutex_unlock(&in->mu);
        if (err)
            return err;
    }
    if (b->copy_mic > b->copy_mac)
        b->copy_mic = b->copy_mac; /* nothing to copy */
    b->delete_mic = lo;
    uint32_t mac = ckpt_gen(in);
    if (b->copy_mac < mac)
        mac = b->copy_mac;
    if (!b->incremental) {
        /* A database left out of this full backup still needs its logs since its own last one. */
        pthread_mutex_lock(&in->mu);
        for (uint32_t id = 1; id <= ENG_MAX_DB; id++) {
            eng_db *db = in->dbs[id];
            if (db_live(db) && !(b->copy_done & bit(id)) && db->hdr.bk_full.gen_high + 1 < mac)
                mac = db->hdr.bk_full.gen_high + 1;
        }
        pthread_mutex_unlock(&in->mu);
    }
    b->delete_mac = mac > lo ? mac : lo;
    free(b->gen_read);
    b->ngen_read = 0;
    b->gen_read = calloc(b->copy_mac - b->copy_mic + 1, 1);
    if (!b->gen_read)
        return JET_errOutOfMemory;
    b->state = BKS_LOGS;
    eng_event(in, 3, 223, "starting the backup of log files (range %u - %u)", b->copy_mic, b->copy_mac - 1);
    return JET_errSuccess;
}

long eng_bk_log_info(eng_inst *in, bool truncate_list, char *szz, unsigned long cbMax,
                     unsigned long *pcbActual, JET_LOGINFO *info)
{
    eng_backup *b = &in->bk;
    ENG_RETURN_IF(info && info->cbSize != sizeof *info, JET_errInvalidParameter,
                  "the JET_LOGINFO's cbSize is not the size of the structure");
    pthread_mutex_lock(&b->mu);
    long err = usable(in);
    if (!err && any_open(b))
        err = JET_errInvalidBackupSequence;
    if (!err && !b->copy_mac)
        err = fix_log_range(in);
    uint32_t from = truncate_list ? b->delete_mic : b->copy_mic;
    uint32_t to = truncate_list ? b->delete_mac : b->copy_mac; /* exclusive */
    char *list = NULL;
    size_t need = 1;
    if (!err) {
        char path[ENG_PATH_MAX + 32];
        for (uint32_t g = from; g < to && !err; g++) {
            if (log_file_path(&in->logcfg, g, path, sizeof path))
                err = JET_errInvalidPath;
            need += strlen(path) + 1;
        }
        list = err ? NULL : malloc(need);
        if (!err && !list)
            err = JET_errOutOfMemory;
        size_t o = 0;
        for (uint32_t g = from; g < to && !err; g++) {
            log_file_path(&in->logcfg, g, path, sizeof path);
            size_t l = strlen(path) + 1;
            memcpy(list + o, path, l);
            o += l;
        }
        if (list)
            list[o] = 0;
    }
    if (!err) {
        give_multisz(list, need, szz, cbMax, pcbActual);
        if (info) {
            info->ulGenLow = from;
            info->ulGenHigh = to > from ? to - 1 : from;
            memcpy(info->szBaseName, in->p.base_name, JET_BASE_NAME_LENGTH);
            info->szBaseName[JET_BASE_NAME_LENGTH] = 0;
        }
    }
    free(list);
    pthread_mutex_unlock(&b->mu);
    return err;
}

/* Were all generations [copy_mic, copy_mac) read to the end? Under bk.mu. */
static bool all_logs_copied(const eng_backup *b)
{
    return b->copy_mac && b->ngen_read == b->copy_mac - b->copy_mic;
}

long eng_bk_truncate(eng_inst *in)
{
    eng_backup *b = &in->bk;
    pthread_mutex_lock(&b->mu);
    long err = usable(in);
    if (!err && (any_open(b) || !b->copy_mac))
        err = JET_errInvalidBackupSequence;
    if (!err && !all_logs_copied(b)) {
        err = JET_errLogFileNotCopied;
        eng_event(in, 2, 520, "log truncation failed because not all log files required for recovery were "
                  "successfully copied");
    }
    if (!err) {
        if (b->delete_mac > b->delete_mic) {
            eng_log_config cfg = in->logcfg;
            cfg.sig = in->logsig;
            err = log_delete_range(&cfg, b->delete_mic, b->delete_mac);
            if (!err)
                eng_event(in, 3, 224, "deleting log files %u to %u", b->delete_mic, b->delete_mac - 1);
        } else {
            eng_event(in, 3, 225, "no log files can be truncated");
        }
        if (!err)
            b->truncated = true;
    }
    pthread_mutex_unlock(&b->mu);
    return err;
}

long eng_bk_truncate_upto(eng_inst *in, uint32_t gen_upto, uint32_t *first_kept)
{
    ENG_RETURN_IF(!in->p.recovery || !in->log, JET_errLoggingDisabled, "the instance runs without a log");
    eng_backup *b = &in->bk;
    eng_log_config cfg = in->logcfg;
    cfg.sig = in->logsig;
    pthread_mutex_lock(&b->mu);
    /* Held to the end: no backup may begin, fix its range or copy a log while logs go. An OS
     * snapshot between Freeze and End holds the backup slot too, and a frozen instance's files
     * must not change. */
    long err = b->state != BKS_NONE || atomic_load(&in->snap_hold) ? JET_errBackupInProgress : JET_errSuccess;
    uint32_t lo = 0, hi = 0, cur = 0;
    if (!err)
        err = log_list(&cfg, &lo, &hi, &cur);
    uint64_t upto = 0; /* exclusive */
    bool said = false;
    if (!err && !ENG_PARAM_LOAD(in, circular_log)) {
        /* (With circular logging the checkpoint already deletes every log it can.) */
        char missing[ENG_PATH_MAX];
        bool none = false;
        pthread_mutex_lock(&in->mu);
        uint32_t have = backed_up_through(in, &none, missing);
        pthread_mutex_unlock(&in->mu);
        if (none) {
            eng_event(in, 2, 225, "no log files can be truncated: no database has a streaming full or "
                      "incremental backup recorded");
            err = JET_errNoBackup;
        } else if (!have) {
            eng_event(in, 3, 225, "no log files can be truncated: %s has no streaming full or incremental "
                      "backup recorded", missing);
            said = true;
        }
        upto = have ? (uint64_t)have + 1 : 0;
        uint32_t need = eng_ckpt_gen(in); /* never what crash recovery needs */
        if (need < upto)
            upto = need;
        if (gen_upto && (uint64_t)gen_upto + 1 < upto)
            upto = (uint64_t)gen_upto + 1;
    }
    if (!err && lo && lo < upto) {
        eng_frz_enter(in);
        err = log_delete_range(&cfg, lo, (uint32_t)upto);
        eng_frz_exit(in);
        if (!err)
            eng_event(in, 3, 224, "deleting log files %u to %u", lo, (uint32_t)upto - 1);
    } else if (!err && !said) {
        eng_event(in, 3, 225, "no log files can be truncated");
    }
    if (!err && first_kept) {
        err = log_list(&cfg, &lo, &hi, &cur);
        *first_kept = lo ? lo : cur;
    }
    pthread_mutex_unlock(&b->mu);
    return err;
}

/* The last generation every attached database has in a recorded streaming Full or Incremental
 * backup: the lowest, over the databases, of the higher of bkinfoFullPrev's and bkinfoIncPrev's
 * genHigh. A Copy or Differential, or an OS snapshot, does not count: the logs since its full may
 * be all a later restore has. 0 when a database has none (its path goes to missing); *none is set
 * when no database has one. Under in->mu. */
static uint32_t backed_up_through(eng_inst *in, bool *none, char missing[ENG_PATH_MAX])
{
    uint32_t low = UINT32_MAX;
    bool any = false;
    missing[0] = 0;
    for (uint32_t id = 1; id <= ENG_MAX_DB; id++) {
        eng_db *db = in->dbs[id];
        if (!db_live(db))
            continue;
        uint32_t have = db->hdr.bk_full.type == ENG_BKTYPE_STREAM ? db->hdr.bk_full.gen_high : 0;
        if (db->hdr.bk_inc.type == ENG_BKTYPE_STREAM && db->hdr.bk_inc.gen_high > have)
            have = db->hdr.bk_inc.gen_high;
        if (!have && !missing[0])
            snprintf(missing, ENG_PATH_MAX, "%s", db->path);
        any |= have != 0;
        if (have < low)
            low = have;
    }
    *none = !any;
    return any ? low : 0;
}

/* Record a successful backup in the header of database db (docs/jet-semantics.md, “Backup types
 * and header bookkeeping”). Under bk.mu. */
static long stamp(eng_inst *in, eng_db *db, bool truncated)
{
    eng_backup *b = &in->bk;
    eng_bkinfo nb = {b->mark, b->mark_usec, b->copy_mic, b->copy_mac - 1, ENG_BKTYPE_STREAM};
    eng_dbhdr h = db->hdr;
    eng_bkinfo *slot = b->incremental ? (truncated ? &h.bk_inc : &h.bk_diff) : (truncated ? &h.bk_full : &h.bk_copy);
    if (slot->type && slot->mark > nb.mark)
        return JET_errSuccess; /* a later backup is already recorded */
    *slot = nb;
    if (!b->incremental && truncated) {
        memset(&h.bk_inc, 0, sizeof h.bk_inc);
        memset(&h.bk_diff, 0, sizeof h.bk_diff);
        memset(&h.bk_snap, 0, sizeof h.bk_snap);
    }
    long err = eng_frz_dbhdr_write(db, &h);
    if (!err)
        db->hdr = h;
    else
        eng_event(in, 2, 219, "error %ld updating the header of %s with the backup information", err, db->path);
    return err;
}

long eng_bk_end(eng_inst *in, JET_GRBIT grbit)
{
    eng_backup *b = &in->bk;
    const JET_GRBIT known = JET_bitBackupEndNormal | JET_bitBackupEndAbort | JET_bitBackupTruncateDone;
    ENG_RETURN_IF(grbit & ~known, JET_errInvalidGrbit,
                  "ending a backup takes only the EndNormal, EndAbort and TruncateDone bits");
    bool normal = grbit & JET_bitBackupEndNormal, abort = grbit & JET_bitBackupEndAbort;
    ENG_RETURN_IF(normal == abort, JET_errInvalidParameter, "give exactly one of EndNormal and EndAbort");
    pthread_mutex_lock(&b->mu);
    long err = JET_errSuccess;
    if (b->state == BKS_NONE) {
        pthread_mutex_unlock(&b->mu);
        return JET_errNoBackup;
    }
    if (abort) {
        eng_event(in, 2, 215, "the backup was halted by the client");
    } else if (atomic_load(&b->stop)) {
        err = JET_errBackupAbortByServer;
        eng_event(in, 2, 226, "the backup was stopped prematurely (stopped by the engine or the instance "
                  "is terminating)");
    } else if (b->failed) {
        err = b->failed;
        eng_event(in, 1, 214, "the backup stopped with error %ld", err);
    } else if (b->state != BKS_LOGS || !all_logs_copied(b)) {
        /* Ended "normally" before the logs were fetched and read: the backup is not usable, and
         * the caller must be able to tell from the return code. */
        err = JET_errBackupAbortByCaller;
        eng_event(in, 2, 214, "the backup was ended before it was complete (error %ld)", err);
    } else {
        bool truncated = b->truncated || (grbit & JET_bitBackupTruncateDone);
        pthread_mutex_lock(&in->mu);
        for (uint32_t id = 1; id <= ENG_MAX_DB; id++) {
            eng_db *db = in->dbs[id];
            bool in_set = b->incremental ? db_live(db) : (db_live(db) && (b->copy_done & bit(id)));
            if (in_set)
                stamp(in, db, truncated); /* a failed stamp is a warning (219), as in ESE */
        }
        pthread_mutex_unlock(&in->mu);
        eng_event(in, 3, 213, "the backup procedure has been successfully completed (logs %u - %u, %s%s)",
                  b->copy_mic, b->copy_mac - 1, b->incremental ? "incremental" : "full",
                  truncated ? "" : ", not truncated");
    }
    reset(in);
    pthread_mutex_unlock(&b->mu);
    return err;
}

void eng_bk_stop(eng_inst *in)
{
    /* No lock: a stop must not wait behind a long read. The flag is sticky until End; with no
     * backup running it does nothing, because Begin clears it. */
    atomic_store(&in->bk.stop, true);
}

bool eng_bk_running(eng_inst *in)
{
    pthread_mutex_lock(&in->bk.mu);
    bool r = in->bk.state != BKS_NONE;
    pthread_mutex_unlock(&in->bk.mu);
    return r;
}

void eng_bk_cancel(eng_inst *in)
{
    pthread_mutex_lock(&in->bk.mu);
    if (in->bk.state != BKS_NONE) {
        eng_event(in, 2, 226, "the backup was stopped prematurely because the instance is terminating");
        reset(in);
    }
    pthread_mutex_unlock(&in->bk.mu);
}

long eng_bk_check_detach(eng_inst *in, uint32_t dbid)
{
    /* Lock-free: the caller holds the instance mutex. in_session is cleared when the backup ends. */
    return (atomic_load(&in->bk.in_session) & bit(dbid)) ? JET_errDatabaseInUse : JET_errSuccess;
}
