/*
 * restore.c — hard recovery of databases restored from external backup streams (ESE's
 * JetExternalRestore): replay the backed-up log generations [genLow, genHigh] onto them, then,
 * when given, roll forward through later contiguous logs, and leave each database clean.
 *
 * A restored database file is a backup stream written to disk: the header snapshot with
 * bkinfoFullCur set (so plain attach refuses it: SoftRecoveryOnBackupDatabase), the pages as
 * they were read, and the trailer page (format at the top of backup.c) naming the database's
 * dbid, signature and path at Begin, the backup's mark and the log range it needs.
 *
 * Which log records belong to which restored file: PAGE records carry only a dbid. A restored
 * file F (dbid d at Begin, signature S, mark M) owns dbid d from the start of the range unless the
 * range holds an ATTACH of S before M (then F was attached inside the range, and d meant another
 * database before that). Later ATTACH records give a dbid to F when they carry S, and to "not
 * restored" otherwise; DETACH takes it away. Records of databases that are not restored are
 * skipped. Only committed transactions are applied (a transaction without its COMMIT record in
 * the logs is dropped), so nothing uncommitted reaches a restored database.
 *
 * A point in time (JetExternalRestoreUntil's JET_RSTSTOP) stops the replay before the first COMMIT
 * whose time is at or after usecStopBefore, or at the end of generation genStop: page records are
 * held until their COMMIT anyway, so what follows the stop is simply never applied. The survey
 * keeps the latest commit time of each generation of the range, so a stop before a database's
 * fuzzy copy is consistent (the end of its trailer's genHigh) is refused before anything is written.
 *
 * Nothing is written to a restored file before everything the restore needs has been checked:
 * each stream whole (its size what its trailer says, every page intact or never written), every
 * generation of the range present, intact and of the streams' log set, and the later logs to roll
 * forward through readable. A bad backup is refused with the files as they were.
 *
 * JetRestoreInstance (eng_restore_backup_dir, called by backup-dir.c's eng_restore_dir) puts a
 * backup directory's databases back at the paths they had. The live file there is replaced only once the restore is complete: each stream is copied
 * to <path>.restoring beside it, recovered there, and renamed over <path> when every database of
 * the directory has been recovered. The directory is fsync'ed after the renames, so a power cut
 * leaves either the old file or the new one at <path>. Each live file is kept as a hard link,
 * <path>.restore-prev, until the renames and that sync are done, so a failure among them puts
 * every one back.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "engine-int.h"
#include "records-int.h"
#include "logfmt-int.h"

struct rfile {
    char path[ENG_PATH_MAX];   /* where the restored file is */
    char orig[ENG_PATH_MAX];   /* the path it had (trailer), "" if unknown */
    int fd;
    eng_dbhdr hdr;
    eng_dbsig sig;
    eng_logsig logsig;
    uint32_t dbid0;            /* dbid at Begin */
    eng_lsn mark;
    uint32_t gen_low, gen_high;
    bool attached_in_range;    /* an ATTACH of it before the mark is in the range */
};

#define MAXF (ENG_MAX_DB * 2)
#define MAP_NONE (-1)

struct rst {
    uint32_t ps;
    struct rfile f[MAXF];
    int nf;
    int map[ENG_MAX_DB + 1];   /* dbid -> index in f, or MAP_NONE */
    eng_redo redo;
    uint64_t applied;
    /* Point in time (JET_RSTSTOP): stop before the first COMMIT at or after usec_stop (0: none). */
    uint64_t usec_stop;
    bool stopped;              /* the scan met that COMMIT; stop_lsn is where it starts */
    eng_lsn stop_lsn;
    uint64_t commits, last_commit_usec;
    uint32_t last_gen;         /* generation of the last record replayed */
    /* Per generation glo.. of the backup range: the latest commit time in it (survey). */
    uint64_t *gen_max_usec;
    uint32_t gen_base, ngen;
};

static bool stops_here(const struct rst *r, const eng_logrec_view *v);
static long check_stop(const struct rst *r, const eng_restore_args *a, uint32_t glo);
static void give_stop(const struct rst *r, const eng_restore_args *a, uint32_t glo);

static void clear_pending(struct rst *r) { eng_redo_clear(&r->redo); }

static int find_sig(struct rst *r, eng_dbsig s)
{
    for (int i = 0; i < r->nf; i++)
        if (r->f[i].sig.random == s.random && r->f[i].sig.create_time_usec == s.create_time_usec)
            return i;
    return MAP_NONE;
}

static bool all_zero(const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i])
            return false;
    return true;
}

/* Is the stream in fd (named path) whole? Its header marked as a backup, whole pages, a valid
 * trailer that agrees with the header and counts exactly the pages the file holds, and, with
 * pages, every page intact or never written (zeros: the backup hands those out for pages the logs
 * bring). Fills *hdr, reads the trailer page into t (ps bytes) and decodes it into *tr (whose path
 * points into t). Errors: RestoreOfNonBackupDatabase (an ordinary database), DatabaseCorrupted
 * (cut short, or header or trailer damaged), ReadVerifyFailure (a damaged page), PageSizeMismatch,
 * InvalidDatabaseVersion, disk errors; damage gets event 909 naming the file and where. */
static long check_stream(int fd, const char *path, uint32_t ps, bool pages, eng_dbhdr *hdr, uint8_t *t,
                         eng_rec_trailer *tr)
{
    long err = eng_dbhdr_read(fd, ps, hdr);
    if (err == JET_errDatabaseCorrupted)
        eng_event(NULL, 1, 909, "restore: the header of the backup stream %s is damaged or cut short", path);
    if (err)
        return err;
    if (!hdr->bk_cur.type)
        return JET_errRestoreOfNonBackupDatabase;
    int64_t size = eng_io_size(fd);
    if (size < 0)
        return eng_io_errno_to_jet((int)size, 0);
    if (size % ps || size < 4 * (int64_t)ps) {
        eng_event(NULL, 1, 909, "restore: the backup stream %s is %lld bytes, not whole pages with a trailer: it is cut short",
                  path, (long long)size);
        return JET_errDatabaseCorrupted;
    }
    ssize_t got = eng_io_pread(fd, t, ps, (uint64_t)size - ps);
    if (got < 0)
        return eng_io_errno_to_jet((int)got, 0);
    if (got != (ssize_t)ps || eng_rec_trailer_decode(t, ps, tr)) {
        eng_event(NULL, 1, 909, "restore: the backup stream %s has no valid trailer at offset %lld: it is cut short or damaged",
                  path, (long long)size - ps);
        return JET_errDatabaseCorrupted;
    }
    uint32_t npages = tr->npages, dbid = tr->dbid;
    if (((uint64_t)npages + 2) * ps != (uint64_t)size || tr->sig.random != hdr->sig.random ||
        tr->sig.create_time_usec != hdr->sig.create_time_usec || dbid == 0 || dbid > ENG_MAX_DB || tr->gen_low == 0 ||
        tr->gen_high < tr->gen_low) {
        eng_event(NULL, 1, 909, "restore: the trailer of the backup stream %s does not match the %lld bytes and the header before it",
                  path, (long long)size);
        return JET_errDatabaseCorrupted;
    }
    if (!pages)
        return JET_errSuccess;
    enum { RUN = 64 };
    uint8_t *buf = malloc((size_t)RUN * ps);
    ENG_RETURN_IF(!buf, JET_errOutOfMemory, "no memory to read the stream's pages");
    for (uint32_t p = ENG_PGNO_META; !err && p < npages; p += RUN) {
        uint32_t n = npages - p < RUN ? npages - p : RUN;
        got = eng_io_pread(fd, buf, (size_t)n * ps, eng_page_off(p, ps));
        if (got < 0) {
            err = eng_io_errno_to_jet((int)got, 0);
            break;
        }
        for (uint32_t i = 0; i < n && !err; i++) {
            const uint8_t *pg = buf + (size_t)i * ps;
            if ((size_t)got < (size_t)(i + 1) * ps || (!all_zero(pg, ps) && eng_page_verify(pg, p + i, ps))) {
                eng_event(NULL, 1, 909, "restore: page %u (offset %llu) of the backup stream %s is damaged", p + i,
                          (unsigned long long)eng_page_off(p + i, ps), path);
                err = JET_errReadVerifyFailure;
            }
        }
    }
    free(buf);
    return err;
}

/* Open path as a restored backup stream, check it whole (check_stream) and read its trailer.
 * Returns RestoreOfNonBackupDatabase if it is a database but not one written from a stream,
 * FileNotFound if it is not there. */
static long open_candidate(struct rst *r, const char *path, struct rfile *out)
{
    memset(out, 0, sizeof *out);
    out->fd = -1;
    ENG_RETURN_IF(strlen(path) >= sizeof out->path, JET_errInvalidPath,
                  "the restored file's path is longer than the engine stores");
    int fd = eng_io_open(path, O_RDWR | O_NONBLOCK, 0);
    ENG_RETURN_IF(fd < 0, eng_io_errno_to_jet(fd, 0), "the restored file cannot be opened");
    if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
        eng_io_close(fd);
        return ENG_ERR(JET_errFileAccessDenied, "the restored file is in use by an instance");
    }
    uint8_t *t = malloc(r->ps);
    eng_rec_trailer tr = {0};
    long err = t ? check_stream(fd, path, r->ps, true, &out->hdr, t, &tr) : JET_errOutOfMemory;
    if (!err) {
        out->sig = tr.sig;
        out->logsig = tr.logsig;
        out->gen_low = tr.gen_low;
        out->gen_high = tr.gen_high;
        out->mark = tr.mark;
        out->dbid0 = tr.dbid;
        if (tr.path_len && tr.path_len < sizeof out->orig)
            memcpy(out->orig, tr.path, tr.path_len);
    }
    free(t);
    if (err) {
        eng_io_close(fd);
        return ENG_ERR(err, "the file is not a whole backup stream, or could not be checked");
    }
    snprintf(out->path, sizeof out->path, "%s", path);
    out->fd = fd;
    return JET_errSuccess;
}

static long add_candidate(struct rst *r, const char *path, bool required)
{
    ENG_RETURN_IF(r->nf >= MAXF, JET_errTooManyAttachedDatabases,
                  "the restore already has as many database files as it can take");
    struct rfile *f = &r->f[r->nf];
    long err = open_candidate(r, path, f);
    if (err) {
        /* A path from the logs whose file is not part of this restore: gone, an ordinary database,
         * or one an instance has attached. */
        if (!required && (err == JET_errFileNotFound || err == JET_errRestoreOfNonBackupDatabase ||
                          err == JET_errFileAccessDenied))
            return JET_errSuccess;
        eng_event(NULL, 1, 906, "%s cannot be restored (error %ld)", path, err);
        return err;
    }
    if (find_sig(r, f->sig) != MAP_NONE) {
        eng_io_close(f->fd);
        return required ? ENG_ERR(JET_errDatabaseDuplicate, "two files of the restore are the same database")
                        : JET_errSuccess;
    }
    r->nf++;
    return JET_errSuccess;
}

static long map_log_err(long e)
{
    switch (e) {
    case JET_errMissingLogFile:
        return JET_errMissingRestoreLogFiles;
    case JET_errBadLogSignature:
        return JET_errInvalidLogSequence; /* a log of another log set sits in the sequence */
    default:
        return e;
    }
}

/* A scan of dir that failed at (or, opening the next file, just after) LSN at: the event names
 * where, the caller gets the restore's error for it. */
static long scan_failed(const char *dir, eng_lsn at, long e)
{
    eng_event(NULL, 1, 910, "restore: the logs in %s are missing, damaged or of another log set at generation %u offset %u (error %ld)",
              dir, ENG_LSN_GEN(at), ENG_LSN_OFF(at), e);
    return map_log_err(e);
}

/* What replay would refuse in a record, found before anything is written: the payload checks of
 * on_record and eng_redo_add. */
static long check_record(const struct rst *r, const eng_logrec_view *v)
{
    eng_rec_page pr;
    eng_rec_attach a;
    eng_rec_detach dt;
    switch (v->type) {
    case ENG_LR_PAGE:
        return eng_rec_page_decode(v->data, v->len, r->ps, &pr);
    case ENG_LR_PAGEDIFF:
        return eng_rec_pagediff_decode(v->data, v->len, r->ps, &pr);
    case ENG_LR_ATTACH: {
        long err = eng_rec_attach_decode(v->data, v->len, &a);
        return err ? err : a.dbid == 0 || a.dbid > ENG_MAX_DB ? JET_errLogCorrupted : JET_errSuccess;
    }
    case ENG_LR_DETACH:
        return eng_rec_detach_decode(v->data, v->len, &dt);
    case ENG_LR_COMMIT: {
        eng_rec_time t;
        return eng_rec_commit_decode(v->data, v->len, &t);
    }
    default:
        return JET_errSuccess;
    }
}

/* The first pass, which writes nothing: every record of the range must be intact and replayable,
 * and the logs of the streams' log set. It also finds which paths the range names (for a restore
 * without a map), and which restored files were attached inside the range before their mark. */
static long survey(struct rst *r, const eng_log_config *cfg, uint32_t lo, uint32_t hi, bool collect)
{
    eng_logscan *sc = NULL;
    long err = logscan_open(cfg, ENG_LSN(lo, 0), &sc);
    if (err)
        return scan_failed(cfg->dir, ENG_LSN(lo, 0), err);
    logscan_set_stop_gen(sc, hi);
    logscan_set_strict(sc, true);
    eng_logrec_view v;
    int rc;
    char path[ENG_PATH_MAX];
    while ((rc = logscan_next(sc, &v)) == 0 && !err) {
        if ((err = check_record(r, &v))) {
            eng_event(NULL, 1, 910, "restore: the record at generation %u offset %u in %s cannot be replayed",
                      ENG_LSN_GEN(v.lsn), ENG_LSN_OFF(v.lsn), cfg->dir);
            break;
        }
        eng_rec_attach a;
        eng_rec_backup b;
        eng_rec_time t;
        uint32_t g = ENG_LSN_GEN(v.lsn);
        if (v.type == ENG_LR_COMMIT && !eng_rec_commit_decode(v.data, v.len, &t) && g >= r->gen_base &&
            g - r->gen_base < r->ngen && t.usec > r->gen_max_usec[g - r->gen_base])
            r->gen_max_usec[g - r->gen_base] = t.usec;
        if (v.type == ENG_LR_ATTACH && !eng_rec_attach_decode(v.data, v.len, &a)) {
            if (collect && a.path_len && a.path_len < sizeof path) {
                memcpy(path, a.path, a.path_len);
                path[a.path_len] = 0;
                err = add_candidate(r, path, false);
            }
            int i = find_sig(r, a.sig);
            if (i != MAP_NONE && v.lsn < r->f[i].mark)
                r->f[i].attached_in_range = true;
        } else if (v.type == ENG_LR_BACKUP && collect && !eng_rec_backup_decode(v.data, v.len, &b) &&
                   b.kind == ENG_REC_BACKUP_BEGIN) {
            /* Only a hint where databases are: a list cut short ends the hint, not the restore. */
            eng_rec_bkdb d;
            while (!err && eng_rec_backup_next(&b, &d) == 1 && d.path_len < sizeof path) {
                memcpy(path, d.path, d.path_len);
                path[d.path_len] = 0;
                err = add_candidate(r, path, false);
            }
        }
    }
    eng_logsig sig = logscan_sig(sc);
    if (!err && rc < 0)
        err = scan_failed(cfg->dir, logscan_end(sc), rc);
    logscan_close(sc);
    /* Logs of one set only, and that of the streams: a foreign set whole in the range would
     * otherwise pass (the scan adopts the signature of the first file it reads). */
    for (int i = 0; i < r->nf && !err; i++)
        if (r->f[i].logsig.random != sig.random || r->f[i].logsig.create_time_usec != sig.create_time_usec) {
            eng_event(NULL, 1, 908, "restore: the logs in %s are not of the log set %s was backed up with", cfg->dir,
                      r->f[i].path);
            err = JET_errInvalidLogSequence;
        }
    return err;
}

static long apply_commit(struct rst *r, eng_lsn lsn)
{
    for (size_t i = 0; i < r->redo.n; i++) {
        eng_redo_page *p = &r->redo.pages[i];
        int fi = p->dbid <= ENG_MAX_DB ? r->map[p->dbid] : MAP_NONE;
        if (fi == MAP_NONE)
            continue; /* a database that is not being restored */
        long err = eng_redo_write(&r->redo, r->f[fi].fd, p, lsn);
        if (err)
            return err;
        r->applied++;
    }
    return JET_errSuccess;
}

static long on_record(struct rst *r, const eng_logrec_view *v)
{
    switch (v->type) {
    case ENG_LR_PAGE:
    case ENG_LR_PAGEDIFF:
        return eng_redo_add(&r->redo, v);
    case ENG_LR_COMMIT: {
        long err = apply_commit(r, v->end); /* stamped as the running engine does */
        clear_pending(r);
        eng_rec_time t;
        if (!err && !(err = eng_rec_commit_decode(v->data, v->len, &t))) {
            r->commits++;
            r->last_commit_usec = t.usec;
        }
        return err;
    }
    case ENG_LR_ATTACH: {
        eng_rec_attach a;
        long err = eng_rec_attach_decode(v->data, v->len, &a);
        ENG_RETURN_IF(err, err, "an ATTACH record in the log does not decode");
        uint32_t dbid = a.dbid;
        ENG_RETURN_IF(dbid == 0 || dbid > ENG_MAX_DB, JET_errLogCorrupted,
                      "an ATTACH record in the log names a database id out of range");
        r->map[dbid] = find_sig(r, a.sig);
        return JET_errSuccess;
    }
    case ENG_LR_DETACH: {
        eng_rec_detach dt;
        long err = eng_rec_detach_decode(v->data, v->len, &dt);
        ENG_RETURN_IF(err, err, "a DETACH record in the log does not decode");
        uint32_t dbid = dt.dbid;
        if (dbid && dbid <= ENG_MAX_DB)
            r->map[dbid] = MAP_NONE;
        return JET_errSuccess;
    }
    case ENG_LR_INIT:
    case ENG_LR_TERM:
        clear_pending(r); /* a transaction cut off by a crash never continues past a restart */
        return JET_errSuccess;
    default:
        return JET_errSuccess;
    }
}

/* Replay [from, stop] (stop 0: to the end) of the log set in cfg; without apply, only read it
 * through (every record intact and replayable). */
static long replay(struct rst *r, const eng_log_config *cfg, uint32_t from, uint32_t stop, bool strict, bool apply,
                   eng_lsn *end)
{
    eng_logscan *sc = NULL;
    long err = logscan_open(cfg, ENG_LSN(from, 0), &sc);
    if (err)
        return scan_failed(cfg->dir, ENG_LSN(from, 0), err);
    if (stop)
        logscan_set_stop_gen(sc, stop);
    logscan_set_strict(sc, strict);
    eng_logrec_view v;
    int rc;
    r->stopped = false;
    while ((rc = logscan_next(sc, &v)) == 0) {
        if (stops_here(r, &v)) {
            /* That transaction and everything after it stay out; what came before is whole. */
            r->stopped = true;
            r->stop_lsn = v.lsn;
            break;
        }
        if ((err = apply ? on_record(r, &v) : check_record(r, &v)))
            break;
        if (apply)
            r->last_gen = ENG_LSN_GEN(v.lsn);
    }
    if (!err && rc < 0)
        err = scan_failed(cfg->dir, logscan_end(sc), rc);
    *end = r->stopped ? r->stop_lsn : logscan_end(sc);
    logscan_close(sc);
    return err;
}

/* Is v the COMMIT the point in time stops before? */
static bool stops_here(const struct rst *r, const eng_logrec_view *v)
{
    eng_rec_time t;
    return r->usec_stop && v->type == ENG_LR_COMMIT && !eng_rec_commit_decode(v->data, v->len, &t) &&
           t.usec >= r->usec_stop;
}

/* Make a replayed file an ordinary clean database: drop what lies past its last page (the trailer
 * among it) and write a header without the backup marks. */
static long finish(struct rst *r, struct rfile *f, eng_lsn end)
{
    uint8_t *meta = malloc(r->ps);
    ENG_RETURN_IF(!meta, JET_errOutOfMemory, "no memory to read the restored file's meta page");
    ssize_t n = eng_io_pread(f->fd, meta, r->ps, eng_page_off(ENG_PGNO_META, r->ps));
    long err = n == (ssize_t)r->ps ? eng_page_verify(meta, ENG_PGNO_META, r->ps) : JET_errDatabaseCorrupted;
    uint32_t npages = err ? 0 : eng_ld32(meta + ENG_META_NPAGES);
    free(meta);
    if (!err && npages <= ENG_PGNO_CATALOG)
        err = JET_errDatabaseCorrupted;
    /* Every page must now be whole: one damaged in the stream and not rewritten by the logs would
     * otherwise surface later, far from its cause. */
    uint8_t *pg = err ? NULL : malloc(r->ps);
    if (!err && !pg)
        err = JET_errOutOfMemory;
    for (uint32_t p = ENG_PGNO_CATALOG; !err && p < npages; p++) {
        ssize_t got = eng_io_pread(f->fd, pg, r->ps, eng_page_off(p, r->ps));
        if (got != (ssize_t)r->ps || eng_page_verify(pg, p, r->ps)) {
            eng_event(NULL, 1, 905, "restore: page %u of %s is damaged", p, f->path);
            err = JET_errReadVerifyFailure;
        }
    }
    free(pg);
    int w = err ? 0 : eng_io_truncate(f->fd, eng_page_off(npages, r->ps));
    if (!err && w == 0)
        w = eng_io_fdatasync(f->fd);
    if (!err && w < 0)
        err = eng_io_errno_to_jet(w, 0);
    if (!err) {
        f->hdr.state = JET_dbstateCleanShutdown;
        f->hdr.lsn_consistent = end;
        f->hdr.time_consistent_usec = eng_now_usec();
        f->hdr.backup_restored = 0;
        memset(&f->hdr.bk_cur, 0, sizeof f->hdr.bk_cur);
        err = eng_dbhdr_write(f->fd, &f->hdr);
    }
    return err;
}

/* A generation file is preallocated to the size its header gives, so a shorter one was cut (a
 * copy that ran out of disk): its missing part would read as zeros, and a seal found before
 * the cut would make it pass for whole. Also refuses what is not a regular file (a FIFO would
 * block the scan). */
static long check_log_size(const char *path)
{
    int fd = eng_io_open(path, O_RDONLY | O_NONBLOCK, 0);
    ENG_RETURN_IF(fd < 0, eng_io_errno_to_jet(fd, 0), "a log generation of the backup cannot be opened");
    struct stat st;
    uint8_t *h = malloc(LOG_HDR_SIZE);
    log_fhdr fh;
    long err = !h ? JET_errOutOfMemory : fstat(fd, &st) < 0 ? eng_io_errno_to_jet(-errno, 0) : JET_errSuccess;
    if (!err && !S_ISREG(st.st_mode))
        err = JET_errLogFileCorrupt;
    if (!err) {
        ssize_t got = eng_io_pread(fd, h, LOG_HDR_SIZE, 0);
        err = got < 0 ? eng_io_errno_to_jet((int)got, 0) : log_fhdr_decode(h, (size_t)got, &fh);
    }
    if (!err && (uint64_t)st.st_size != fh.file_size)
        err = JET_errLogFileCorrupt;
    if (err == JET_errLogFileCorrupt)
        eng_event(NULL, 1, 907, "restore: the log %s is cut short or damaged (%lld bytes)", path,
                  S_ISREG(st.st_mode) ? (long long)st.st_size : -1LL);
    free(h);
    eng_io_close(fd);
    return err;
}

static void status(JET_PFNSTATUS pfn, JET_SNT snt)
{
    if (pfn)
        pfn(0, JET_snpRestore, snt, NULL);
}

/* Later logs of the same set in a->forward_log_dir that continue [.., ghi]: fills *fc and *top
 * (the last generation there). */
static bool forward_logs(const eng_restore_args *a, const eng_log_config *cfg, uint32_t ghi, eng_log_config *fc,
                         uint32_t *top)
{
    if (!a->forward_log_dir || !*a->forward_log_dir)
        return false;
    *fc = *cfg;
    fc->dir = a->forward_log_dir;
    uint32_t flo = 0, fhi = 0, fcur = 0;
    long e = log_list(fc, &flo, &fhi, &fcur);
    *top = fhi > fcur ? fhi : fcur;
    return !e && *top > ghi && (flo ? flo : fcur) <= ghi + 1;
}

/* The restore without its status calls and final events: r is filled and the files closed by
 * the caller. */
static long run(struct rst *r, const eng_restore_args *a)
{
    long err = JET_errSuccess;
    eng_log_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.dir = a->backup_log_dir;
    memcpy(cfg.base, a->p->base_name, 4);
    uint32_t lo = 0, hi = 0, cur = 0;

    /* The databases to restore: the mapped files, or the backup streams found at the paths the
     * logs name. */
    for (long i = 0; i < a->nmap && !err; i++) {
        const JET_RSTMAP *m = &a->map[i];
        const char *where = m->szNewDatabaseName && *m->szNewDatabaseName ? m->szNewDatabaseName
                                                                         : m->szDatabaseName;
        err = where ? add_candidate(r, where, true) : JET_errInvalidParameter;
    }
    if (!err)
        err = log_list(&cfg, &lo, &hi, &cur);
    if (err == JET_errInvalidLogDirectory)
        err = JET_errMissingRestoreLogFiles;
    uint32_t glo = a->gen_low ? a->gen_low : lo, ghi = a->gen_high ? a->gen_high : hi;
    if (!err && (!glo || !ghi || ghi < glo))
        err = JET_errMissingRestoreLogFiles;
    /* Every generation of the range must be there, as a closed (archived) file. */
    for (uint32_t g = glo; !err && g <= ghi; g++) {
        char p[ENG_PATH_MAX + 32];
        if (log_file_path(&cfg, g, p, sizeof p) || access(p, F_OK) != 0) {
            eng_event(NULL, 1, 907, "restore: log generation %u is missing from %s", g, a->backup_log_dir);
            err = JET_errMissingRestoreLogFiles;
        } else {
            err = check_log_size(p);
        }
    }
    if (!err && r->nf)
        cfg.sig = r->f[0].logsig; /* a log of another set in the range is an error */
    if (!err) {
        r->gen_base = glo;
        r->ngen = ghi - glo + 1;
        r->gen_max_usec = calloc(r->ngen, sizeof *r->gen_max_usec);
        if (!r->gen_max_usec)
            err = ENG_ERR(JET_errOutOfMemory, "no memory for the commit times of the backup's logs");
    }
    if (!err)
        err = survey(r, &cfg, glo, ghi, a->nmap == 0);
    if (!err && r->nf == 0) {
        eng_event(NULL, 1, 906, "restore: no database from a backup stream was found");
        err = JET_errRestoreOfNonBackupDatabase;
    }
    for (int i = 0; i < r->nf && !err; i++) {
        struct rfile *f = &r->f[i];
        if (f->gen_low < glo)
            err = JET_errStartingRestoreLogTooHigh; /* the logs start after what it needs */
        else if (f->gen_high > ghi)
            err = JET_errEndingRestoreLogTooLow; /* its pages are newer than the last log */
        else if (i && (f->logsig.random != r->f[0].logsig.random ||
                        f->logsig.create_time_usec != r->f[0].logsig.create_time_usec))
            err = JET_errInvalidLogSequence; /* databases of two log sets in one restore */
        if (err)
            eng_event(NULL, 1, 908, "restore: %s needs logs %u - %u, the restore has %u - %u (error %ld)", f->path,
                      f->gen_low, f->gen_high, glo, ghi, err);
        else if (!f->attached_in_range) {
            if (r->map[f->dbid0] != MAP_NONE)
                err = JET_errDatabaseDuplicate;
            r->map[f->dbid0] = i;
        }
    }
    if (!err)
        cfg.sig = r->f[0].logsig;
    /* A point in time before a database is consistent is refused before anything is written. */
    uint32_t gstop = a->stop ? (uint32_t)a->stop->genStop : 0;
    r->usec_stop = a->stop ? a->stop->usecStopBefore : 0;
    if (!err && (gstop || r->usec_stop))
        err = check_stop(r, a, glo);
    uint32_t rhi = gstop && gstop < ghi ? gstop : ghi; /* the last generation replayed from the backup */
    /* The later logs are read through before anything is written too: damage in them must not
     * stop a replay half done. */
    eng_log_config fc;
    uint32_t top = 0;
    bool forward = !err && (!gstop || gstop > ghi) && forward_logs(a, &cfg, ghi, &fc, &top);
    eng_lsn end = 0, fend = 0;
    if (forward)
        err = replay(r, &fc, ghi + 1, gstop, false, false, &fend);

    if (!err) {
        eng_event(NULL, 3, 901, "restore of %d database(s) from logs %u - %u in %s is starting", r->nf, glo, rhi,
                  a->backup_log_dir);
        err = replay(r, &cfg, glo, rhi, true, true, &end);
    }
    if (!err && forward && !r->stopped) {
        err = replay(r, &fc, ghi + 1, gstop, false, true, &fend);
        if (!err) {
            end = fend;
            eng_event(NULL, 3, 902, "restore rolled forward through logs %u - %u in %s", ghi + 1,
                      gstop && gstop < top ? gstop : top, a->forward_log_dir);
        }
    }
    if (!err && r->stopped)
        eng_event(NULL, 3, 913, "restore stopped at generation %u offset %u, before the first commit at or after %llu µs",
                  ENG_LSN_GEN(end), ENG_LSN_OFF(end), (unsigned long long)r->usec_stop);
    clear_pending(r); /* what never committed is not applied */
    if (!err)
        err = eng_redo_flush(&r->redo, -1);
    for (int i = 0; i < r->nf && !err; i++)
        err = finish(r, &r->f[i], end);
    if (!err && a->stop)
        give_stop(r, a, glo);
    return err;
}

/* A stop (a->stop's generation or time) before the end of the logs a database's fuzzy copy needs
 * (its trailer's genHigh, which the range has: checked before) would leave it inconsistent.
 * Replay stops at the first COMMIT at or after the time, in log order, so the time must be later
 * than every commit of the range up to that generation. EndingRestoreLogTooLow, with event 912
 * naming the database and the earliest stop it allows, for the first database it fails. */
static long check_stop(const struct rst *r, const eng_restore_args *a, uint32_t glo)
{
    uint32_t gstop = (uint32_t)a->stop->genStop;
    for (int i = 0; i < r->nf; i++) {
        const struct rfile *f = &r->f[i];
        uint64_t latest = 0;
        for (uint32_t g = glo; g <= f->gen_high; g++)
            if (r->gen_max_usec[g - r->gen_base] > latest)
                latest = r->gen_max_usec[g - r->gen_base];
        if ((gstop && gstop < f->gen_high) || (r->usec_stop && r->usec_stop <= latest)) {
            char when[64] = "";
            time_t sec = (time_t)((latest + 1) / 1000000u);
            struct tm tm;
            if (gmtime_r(&sec, &tm))
                strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S UTC", &tm);
            eng_event(NULL, 1, 912, "restore: %s is consistent only after log generation %u: the earliest stop is "
                      "generation %u, or a time of %llu µs (%s.%06llu) for usecStopBefore",
                      f->path, f->gen_high, f->gen_high, (unsigned long long)latest + 1, when,
                      (unsigned long long)((latest + 1) % 1000000u));
            return ENG_ERR(JET_errEndingRestoreLogTooLow, "the point in time is before a database is consistent");
        }
    }
    return JET_errSuccess;
}

/* What a restore with a JET_RSTSTOP replayed, for the caller's report. */
static void give_stop(const struct rst *r, const eng_restore_args *a, uint32_t glo)
{
    JET_RSTSTOP *o = a->stop;
    o->usecLastCommit = r->last_commit_usec;
    o->cCommitsReplayed = r->commits;
    o->genLowReplayed = glo;
    o->genHighReplayed = r->last_gen ? r->last_gen : glo;
    o->cDatabases = (unsigned long)r->nf;
}

static struct rst *rst_new(const eng_params *p)
{
    struct rst *r = calloc(1, sizeof *r);
    if (!r)
        return NULL;
    r->ps = p->page_size;
    r->redo.ps = r->ps;
    for (int i = 0; i <= ENG_MAX_DB; i++)
        r->map[i] = MAP_NONE;
    return r;
}

static void rst_free(struct rst *r)
{
    free(r->gen_max_usec);
    for (int i = 0; i < r->nf; i++)
        eng_io_close(r->f[i].fd);
    eng_redo_free(&r->redo);
    free(r);
}

static void report(const struct rst *r, long err)
{
    if (!err)
        eng_event(NULL, 3, 903, "restore completed: %d database(s), %llu page changes applied", r->nf,
                  (unsigned long long)r->applied);
    else
        eng_event(NULL, 1, 904, "restore failed with error %ld", err);
}

long eng_restore(const eng_restore_args *a)
{
    struct rst *r = rst_new(a->p);
    ENG_RETURN_IF(!r, JET_errOutOfMemory, "no memory for the restore's state");
    status(a->pfn, JET_sntBegin);
    long err = run(r, a);
    report(r, err);
    status(a->pfn, err ? JET_sntFail : JET_sntComplete);
    rst_free(r);
    return err;
}

/* ---------------------------------------------------------------------------------------------
 * JetRestoreInstance: a backup directory's databases put back where they were.
 * ------------------------------------------------------------------------------------------- */

/* One database of the directory. */
struct target {
    char stream[ENG_PATH_MAX + 256]; /* in the backup directory */
    char orig[ENG_PATH_MAX];         /* where the database lives (the stream's trailer) */
    char tmp[ENG_PATH_MAX];          /* orig.restoring: the restore is built there */
    char prev[ENG_PATH_MAX];         /* orig.restore-prev: the live file while several are swapped */
    char dir[ENG_PATH_MAX];          /* orig's directory */
    int live_fd;                     /* the live file, flock'ed meanwhile; -1: there is none */
    bool made, linked, placed;
};

struct rdir {
    const eng_params *p;
    struct target t[ENG_MAX_DB + 1]; /* one more: the stream too many */
    int n;
};

/* A stream starts like a database file: the header's magic (dbfile.c) at offset 4. */
static bool looks_like_database(int fd)
{
    static const char magic[8] = {'J', 'S', 'N', 'A', 'P', 'D', 'B', 0};
    uint8_t b[12];
    return eng_io_pread(fd, b, sizeof b, 0) == (ssize_t)sizeof b && !memcmp(b + 4, magic, sizeof magic);
}

/* The restore needs the live file at orig left alone by instances until it is replaced:
 * FileAccessDenied if one has it attached. */
static long lock_live(struct target *t)
{
    int fd = eng_io_open(t->orig, O_RDONLY | O_NONBLOCK, 0);
    if (fd == -ENOENT)
        return JET_errSuccess; /* the database is gone: the restore brings it back */
    ENG_RETURN_IF(fd < 0, eng_io_errno_to_jet(fd, 0), "the live database file cannot be opened");
    struct stat st;
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || flock(fd, LOCK_EX | LOCK_NB) < 0) {
        eng_io_close(fd);
        eng_event(NULL, 1, 906, "restore: %s is in use by an instance, or not a file: it cannot be replaced", t->orig);
        return ENG_ERR(JET_errFileAccessDenied, "the live database is in use by an instance, or not a file");
    }
    t->live_fd = fd;
    return JET_errSuccess;
}

/* Take the stream at t->stream if it is one: check it (not its pages yet: the restore does that
 * on its copy) and where it goes. Sets *is_stream. */
static long add_target(struct rdir *d, struct target *t, bool *is_stream)
{
    *is_stream = false;
    int fd = eng_io_open(t->stream, O_RDONLY | O_NONBLOCK, 0);
    ENG_RETURN_IF(fd < 0, eng_io_errno_to_jet(fd, 0), "a file of the backup directory cannot be opened");
    uint32_t ps = d->p->page_size;
    uint8_t *tp = malloc(ps);
    eng_rec_trailer tr = {0};
    eng_dbhdr h;
    long err = tp ? JET_errSuccess : JET_errOutOfMemory;
    if (!err && looks_like_database(fd)) {
        err = check_stream(fd, t->stream, ps, false, &h, tp, &tr);
        if (err == JET_errRestoreOfNonBackupDatabase)
            err = JET_errSuccess; /* an ordinary database file: not part of the backup */
        else
            *is_stream = true;
    }
    uint32_t pl = *is_stream && !err ? tr.path_len : 0;
    if (*is_stream && !err) {
        /* The path must leave room for the temporary names beside it. */
        if (pl == 0 || pl + 16 > sizeof t->orig) {
            eng_event(NULL, 1, 906, "restore: the backup stream %s does not say where its database was", t->stream);
            err = JET_errInvalidPath;
        } else {
            memcpy(t->orig, tr.path, pl);
            t->orig[pl] = 0;
            memcpy(t->tmp, t->orig, pl);
            memcpy(t->tmp + pl, ".restoring", sizeof ".restoring");
            memcpy(t->prev, t->orig, pl);
            memcpy(t->prev + pl, ".restore-prev", sizeof ".restore-prev");
            memcpy(t->dir, t->orig, pl + 1);
            char *slash = strrchr(t->dir, '/');
            if (!slash)
                snprintf(t->dir, sizeof t->dir, "."); /* a path relative to the working directory */
            else
                slash[slash == t->dir ? 1 : 0] = 0;
        }
    }
    free(tp);
    eng_io_close(fd);
    for (int i = 0; *is_stream && !err && i < d->n; i++)
        if (!strcmp(d->t[i].orig, t->orig)) {
            eng_event(NULL, 1, 906, "restore: %s and %s are both backups of %s", d->t[i].stream, t->stream, t->orig);
            err = JET_errDatabaseDuplicate;
        }
    if (*is_stream && !err)
        err = lock_live(t);
    return err;
}

/* Every stream of the backup directory, checked, with its target locked. */
static long find_streams(struct rdir *d, const char *backup_dir)
{
    DIR *dd = opendir(backup_dir);
    int oe = dd ? 0 : errno;
    ENG_RETURN_IF(!dd, oe == ENOENT || oe == ENOTDIR ? JET_errFileNotFound : eng_io_errno_to_jet(-oe, 0),
                  "the backup directory cannot be opened");
    long err = JET_errSuccess;
    struct dirent *e;
    while (!err && (e = readdir(dd))) {
        if (e->d_name[0] == '.')
            continue;
        struct target *t = &d->t[d->n];
        memset(t, 0, sizeof *t);
        t->live_fd = -1;
        size_t bl = strlen(backup_dir), nl = strlen(e->d_name);
        if (bl + nl + 2 > sizeof t->stream)
            continue; /* no database path is that long */
        memcpy(t->stream, backup_dir, bl);
        t->stream[bl] = '/';
        memcpy(t->stream + bl + 1, e->d_name, nl + 1);
        struct stat st;
        if (stat(t->stream, &st) < 0 || !S_ISREG(st.st_mode))
            continue; /* a FIFO or a directory is no stream; opening a FIFO would block */
        bool is_stream;
        err = add_target(d, t, &is_stream);
        if (!err && is_stream && ++d->n > ENG_MAX_DB)
            err = JET_errTooManyAttachedDatabases;
    }
    closedir(dd);
    if (!err && !d->n) {
        eng_event(NULL, 1, 906, "restore: no database backup stream was found in %s", backup_dir);
        err = JET_errRestoreOfNonBackupDatabase;
    }
    return err;
}

#define COPY_CHUNK (4u << 20)

/* Copy the stream to t->tmp and fsync it. */
static long copy_stream(struct target *t, uint8_t *buf)
{
    int in = eng_io_open(t->stream, O_RDONLY | O_NONBLOCK, 0);
    ENG_RETURN_IF(in < 0, eng_io_errno_to_jet(in, 0), "the backup stream cannot be opened to copy it");
    int out = eng_io_open(t->tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    long err = out < 0 ? eng_io_errno_to_jet(out, 0) : JET_errSuccess;
    t->made = out >= 0;
    uint64_t off = 0;
    while (!err) {
        ssize_t n = eng_io_pread(in, buf, COPY_CHUNK, off);
        if (n < 0)
            err = eng_io_errno_to_jet((int)n, 0);
        if (n <= 0)
            break;
        int w = eng_io_pwrite(out, buf, (size_t)n, off);
        if (w < 0)
            err = eng_io_errno_to_jet(w, 0);
        off += (uint64_t)n;
    }
    if (!err) {
        int w = eng_io_fsync(out);
        if (w < 0)
            err = eng_io_errno_to_jet(w, 0);
    }
    eng_io_close(in);
    if (out >= 0)
        eng_io_close(out);
    return err;
}

/* fsync each distinct directory of the targets; the first error. */
static long sync_dirs(const struct rdir *d)
{
    long err = JET_errSuccess;
    for (int i = 0; i < d->n; i++) {
        bool seen = false;
        for (int j = 0; j < i && !seen; j++)
            seen = !strcmp(d->t[j].dir, d->t[i].dir);
        int w = seen ? 0 : eng_io_fsync_dir(d->t[i].dir);
        if (w < 0 && !err)
            err = eng_io_errno_to_jet(w, 0);
    }
    return err;
}

/* Rename every restored file over its live one and make that durable, all or none. Each live
 * file is kept by a hard link first, so a failure (a rename, or the directory sync after them)
 * can put back those already replaced. Without hard links (a file system that has none) one
 * database is still swapped atomically; several are refused. */
static long put_in_place(struct rdir *d)
{
    long err = JET_errSuccess;
    for (int i = 0; i < d->n && !err; i++) {
        struct target *t = &d->t[i];
        if (t->live_fd < 0)
            continue;
        unlink(t->prev); /* a leftover of an earlier restore cut short */
        if (link(t->orig, t->prev) == 0)
            t->linked = true;
        else if (d->n > 1)
            err = eng_io_errno_to_jet(-errno, 0);
    }
    for (int i = 0; i < d->n && !err; i++) {
        struct target *t = &d->t[i];
        int w = eng_io_rename(t->tmp, t->orig);
        if (w < 0) {
            eng_event(NULL, 1, 911, "restore: %s could not be renamed to %s (error %d)", t->tmp, t->orig, w);
            err = eng_io_errno_to_jet(w, 0);
        } else {
            t->made = false;
            t->placed = true;
        }
    }
    if (!err)
        err = sync_dirs(d); /* the renames must survive a power cut before the restore reports them */
    bool undone = false;
    for (int i = 0; i < d->n && err; i++) {
        struct target *t = &d->t[i];
        if (!t->placed)
            continue;
        int w = t->linked ? eng_io_rename(t->prev, t->orig) : t->live_fd < 0 ? eng_io_unlink(t->orig) : -EEXIST;
        if (w < 0)
            eng_event(NULL, 1, 911, "restore: the file %s could not be put back (error %d)%s%s", t->orig, w,
                      t->linked ? ": it is at " : "", t->linked ? t->prev : "");
        t->linked = false; /* renamed back, or else kept where the event says */
        undone = true;
    }
    if (undone)
        sync_dirs(d);
    for (int i = 0; i < d->n; i++)
        if (d->t[i].linked)
            unlink(d->t[i].prev);
    return err;
}

long eng_restore_backup_dir(const eng_params *p, const char *backup_dir, const char *dest, JET_PFNSTATUS pfn)
{
    ENG_RETURN_IF(!backup_dir || !*backup_dir, JET_errInvalidParameter, "no backup directory was given");
    struct rdir *d = calloc(1, sizeof *d);
    uint8_t *buf = malloc(COPY_CHUNK);
    JET_RSTMAP *map = calloc(ENG_MAX_DB, sizeof *map);
    struct rst *r = rst_new(p);
    if (!d || !buf || !map || !r) {
        free(d);
        free(buf);
        free(map);
        free(r);
        return ENG_ERR(JET_errOutOfMemory, "no memory for the restore's state and copy buffer");
    }
    d->p = p;
    status(pfn, JET_sntBegin);
    /* Everything is checked and built aside first; the live files change only at the end. */
    long err = find_streams(d, backup_dir);
    for (int i = 0; i < d->n && !err; i++)
        err = copy_stream(&d->t[i], buf);
    if (!err) {
        for (int i = 0; i < d->n; i++) {
            map[i].szDatabaseName = d->t[i].orig;
            map[i].szNewDatabaseName = d->t[i].tmp;
        }
        eng_restore_args a = {p, backup_dir, 0, 0, map, d->n, dest, NULL, NULL};
        err = run(r, &a);
        for (int i = 0; i < r->nf; i++) {
            eng_io_close(r->f[i].fd); /* closed before the rename */
            r->f[i].fd = -1;
        }
    }
    if (!err)
        err = put_in_place(d);
    bool removed = false;
    for (int i = 0; i < d->n; i++) {
        if (d->t[i].made && eng_io_unlink(d->t[i].tmp) == 0)
            removed = true;
        if (d->t[i].live_fd >= 0)
            eng_io_close(d->t[i].live_fd);
    }
    if (removed)
        sync_dirs(d);
    report(r, err);
    status(pfn, err ? JET_sntFail : JET_sntComplete);
    rst_free(r);
    free(map);
    free(buf);
    free(d);
    return err;
}
