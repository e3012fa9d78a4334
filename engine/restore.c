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
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "engine-int.h"

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
    const eng_restore_args *a;
    uint32_t ps;
    struct rfile f[MAXF];
    int nf;
    int map[ENG_MAX_DB + 1];   /* dbid -> index in f, or MAP_NONE */
    eng_redo redo;
    uint64_t applied;
};

static void clear_pending(struct rst *r) { eng_redo_clear(&r->redo); }

static int find_sig(struct rst *r, eng_dbsig s)
{
    for (int i = 0; i < r->nf; i++)
        if (r->f[i].sig.random == s.random && r->f[i].sig.create_time_usec == s.create_time_usec)
            return i;
    return MAP_NONE;
}

/* Open path as a restored backup stream and read its header and trailer. Returns
 * RestoreOfNonBackupDatabase if it is a database but not one written from a stream, FileNotFound if
 * it is not there. */
static long open_candidate(struct rst *r, const char *path, struct rfile *out)
{
    memset(out, 0, sizeof *out);
    out->fd = -1;
    ENG_RETURN_IF(strlen(path) >= sizeof out->path, JET_errInvalidPath);
    int fd = eng_io_open(path, O_RDWR, 0);
    ENG_RETURN_IF(fd < 0, eng_io_errno_to_jet(fd, 0));
    if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
        eng_io_close(fd);
        return eng_trace_err(JET_errFileAccessDenied, __FILE__, __LINE__); /* in use by an instance */
    }
    long err = eng_dbhdr_read(fd, r->ps, &out->hdr);
    if (!err && !out->hdr.bk_cur.type)
        err = JET_errRestoreOfNonBackupDatabase;
    int64_t size = err ? 0 : eng_io_size(fd);
    uint8_t *t = err ? NULL : malloc(r->ps);
    if (!err && !t)
        err = JET_errOutOfMemory;
    if (!err && (size < 0 || size % r->ps || size < 4 * (int64_t)r->ps))
        err = JET_errDatabaseCorrupted;
    if (!err && eng_io_pread(fd, t, r->ps, (uint64_t)size - r->ps) != (ssize_t)r->ps)
        err = JET_errDatabaseCorrupted;
    if (!err && (memcmp(t + 4, ENG_TRL_MAGIC, 8) || eng_ld32(t) != eng_crc32c(0, t + 4, r->ps - 4) ||
                 eng_ld32(t + 12) != ENG_TRL_VERSION || eng_ld32(t + 16) != r->ps))
        err = JET_errDatabaseCorrupted; /* the trailer is damaged or missing: the stream is incomplete */
    if (!err) {
        out->sig.random = eng_ld64(t + 24);
        out->sig.create_time_usec = eng_ld64(t + 32);
        out->logsig.random = eng_ld64(t + 40);
        out->logsig.create_time_usec = eng_ld64(t + 48);
        out->gen_low = eng_ld32(t + 56);
        out->gen_high = eng_ld32(t + 60);
        out->mark = eng_ld64(t + 64);
        out->dbid0 = eng_ld32(t + 80);
        uint32_t pl = eng_ld32(t + 84);
        if (pl && pl <= r->ps - ENG_TRL_PATH && pl < sizeof out->orig)
            memcpy(out->orig, t + ENG_TRL_PATH, pl);
        if (out->sig.random != out->hdr.sig.random || out->dbid0 == 0 || out->dbid0 > ENG_MAX_DB ||
            out->gen_low == 0 || out->gen_high < out->gen_low)
            err = JET_errDatabaseCorrupted;
    }
    free(t);
    if (err) {
        eng_io_close(fd);
        return eng_trace_err(err, __FILE__, __LINE__);
    }
    snprintf(out->path, sizeof out->path, "%s", path);
    out->fd = fd;
    return JET_errSuccess;
}

static long add_candidate(struct rst *r, const char *path, bool required)
{
    ENG_RETURN_IF(r->nf >= MAXF, JET_errTooManyAttachedDatabases);
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
        return required ? eng_trace_err(JET_errDatabaseDuplicate, __FILE__, __LINE__) : JET_errSuccess;
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

/* The first pass: which paths the range names (for a restore without a map), and which restored
 * files were attached inside the range before their mark. */
static long survey(struct rst *r, const eng_log_config *cfg, uint32_t lo, uint32_t hi, bool collect)
{
    eng_logscan *sc = NULL;
    long err = logscan_open(cfg, ENG_LSN(lo, 0), &sc);
    if (err)
        return map_log_err(err);
    logscan_set_stop_gen(sc, hi);
    logscan_set_strict(sc, true);
    eng_logrec_view v;
    int rc;
    char path[ENG_PATH_MAX];
    while ((rc = logscan_next(sc, &v)) == 0 && !err) {
        if (v.type == ENG_LR_ATTACH && v.len >= 32) {
            eng_dbsig s = {eng_ld64(v.data + 16), eng_ld64(v.data + 24)};
            uint32_t pl = eng_ld32(v.data + 12);
            if (collect && pl && pl < sizeof path && 32 + (size_t)pl == v.len) {
                memcpy(path, v.data + 32, pl);
                path[pl] = 0;
                err = add_candidate(r, path, false);
            }
            int i = find_sig(r, s);
            if (i != MAP_NONE && v.lsn < r->f[i].mark)
                r->f[i].attached_in_range = true;
        } else if (v.type == ENG_LR_BACKUP && collect && v.len >= 8 && eng_ld32(v.data) == 1) {
            size_t o = 8;
            for (uint32_t k = 0, n = eng_ld32(v.data + 4); k < n && o + 24 <= v.len && !err; k++) {
                uint32_t pl = eng_ld32(v.data + o + 4);
                if (o + 24 + pl > v.len || pl >= sizeof path)
                    break;
                memcpy(path, v.data + o + 24, pl);
                path[pl] = 0;
                err = add_candidate(r, path, false);
                o += 24 + pl;
            }
        }
    }
    logscan_close(sc);
    if (!err && rc < 0)
        err = map_log_err(rc);
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
        return err;
    }
    case ENG_LR_ATTACH: {
        ENG_RETURN_IF(v->len < 32, JET_errLogCorrupted);
        uint32_t dbid = eng_ld32(v->data);
        ENG_RETURN_IF(dbid == 0 || dbid > ENG_MAX_DB, JET_errLogCorrupted);
        eng_dbsig s = {eng_ld64(v->data + 16), eng_ld64(v->data + 24)};
        r->map[dbid] = find_sig(r, s);
        return JET_errSuccess;
    }
    case ENG_LR_DETACH: {
        ENG_RETURN_IF(v->len < 4, JET_errLogCorrupted);
        uint32_t dbid = eng_ld32(v->data);
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

/* Replay [from, stop] (stop 0: to the end) of the log set in cfg. */
static long replay(struct rst *r, const eng_log_config *cfg, uint32_t from, uint32_t stop, bool strict,
                   eng_lsn *end)
{
    eng_logscan *sc = NULL;
    long err = logscan_open(cfg, ENG_LSN(from, 0), &sc);
    if (err)
        return map_log_err(err);
    if (stop)
        logscan_set_stop_gen(sc, stop);
    logscan_set_strict(sc, strict);
    eng_logrec_view v;
    int rc;
    while ((rc = logscan_next(sc, &v)) == 0)
        if ((err = on_record(r, &v)))
            break;
    if (!err && rc < 0)
        err = map_log_err(rc);
    *end = logscan_end(sc);
    logscan_close(sc);
    return err;
}

/* Make a replayed file an ordinary clean database: drop what lies past its last page (the trailer
 * among it) and write a header without the backup marks. */
static long finish(struct rst *r, struct rfile *f, eng_lsn end)
{
    uint8_t *meta = malloc(r->ps);
    ENG_RETURN_IF(!meta, JET_errOutOfMemory);
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

static void status(const eng_restore_args *a, JET_SNT snt, void *pv)
{
    if (a->pfn)
        a->pfn(0, JET_snpRestore, snt, pv);
}

long eng_restore(const eng_restore_args *a)
{
    struct rst *r = calloc(1, sizeof *r);
    ENG_RETURN_IF(!r, JET_errOutOfMemory);
    r->a = a;
    r->ps = a->p->page_size;
    r->redo.ps = r->ps;
    for (int i = 0; i <= ENG_MAX_DB; i++)
        r->map[i] = MAP_NONE;
    long err = JET_errSuccess;
    eng_log_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.dir = a->backup_log_dir;
    memcpy(cfg.base, a->p->base_name, 4);
    uint32_t lo = 0, hi = 0, cur = 0;
    status(a, JET_sntBegin, NULL);

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
        }
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
    eng_lsn end = 0;
    if (!err) {
        cfg.sig = r->f[0].logsig; /* a log of another set in the range is an error */
        eng_event(NULL, 3, 901, "restore of %d database(s) from logs %u - %u in %s is starting", r->nf, glo, ghi,
                  a->backup_log_dir);
        err = replay(r, &cfg, glo, ghi, true, &end);
    }
    if (!err && a->forward_log_dir && *a->forward_log_dir) {
        /* Roll forward through later logs of the same set, if they continue the sequence. */
        eng_log_config fc = cfg;
        fc.dir = a->forward_log_dir;
        uint32_t flo = 0, fhi = 0, fcur = 0;
        long e = log_list(&fc, &flo, &fhi, &fcur);
        uint32_t top = fhi > fcur ? fhi : fcur;
        if (!e && top > ghi && (flo ? flo : fcur) <= ghi + 1) {
            eng_lsn fend = 0;
            err = replay(r, &fc, ghi + 1, 0, false, &fend);
            if (!err) {
                end = fend;
                eng_event(NULL, 3, 902, "restore rolled forward through logs %u - %u in %s", ghi + 1, top,
                          a->forward_log_dir);
            }
        }
    }
    clear_pending(r); /* what never committed is not applied */
    if (!err)
        err = eng_redo_flush(&r->redo, -1);
    for (int i = 0; i < r->nf && !err; i++)
        err = finish(r, &r->f[i], end);
    if (!err)
        eng_event(NULL, 3, 903, "restore completed: %d database(s), %llu page changes applied", r->nf,
                  (unsigned long long)r->applied);
    else
        eng_event(NULL, 1, 904, "restore failed with error %ld", err);
    status(a, err ? JET_sntFail : JET_sntComplete, NULL);
    for (int i = 0; i < r->nf; i++)
        eng_io_close(r->f[i].fd);
    eng_redo_free(&r->redo);
    free(r);
    return err;
}
