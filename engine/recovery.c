/*
 * recovery.c — crash recovery (ESE's "soft recovery"), run by JetInit.
 *
 * Redo only: the log holds the pages committed transactions changed, as whole images or as diffs
 * (records of a transaction whose COMMIT never reached the log are buffered and dropped), so
 * recovery applies, in log order, each committed page to its database file, starting at the
 * checkpoint (redo.c). From the checkpoint on, the first record of every page is a whole image,
 * which replaces whatever older or torn version the file holds, which is why a database copied
 * while it was changing ("fuzzy") recovers just as well as one that crashed. Recovery is
 * idempotent: if it crashes itself, running it again gives the same result.
 * At the end every database the log knew as attached is synced and marked clean (detached), and
 * the crashed current log is sealed at the end of its valid records so no torn tail is ever read
 * as data; the caller then starts a fresh generation.
 *
 * The log and edb.chk name databases by absolute path. JetInit3's restore map redirects them, so
 * a copy of an instance (its logs, edb.chk and databases copied elsewhere) recovers where it now
 * is: each path the checkpoint or an ATTACH record names is looked up in the map and redo goes to
 * the new path. A database the map leaves out is skipped (ESE's rule without
 * JET_bitReplayMissingMapEntryDB): replaying it at its original path would write into the live
 * database the copy was taken from. Nothing of the map is stored: the checkpoint written after
 * recovery names no database, and the application attaches the copies at their new paths.
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>

#include "engine-int.h"
#include "records-int.h"

struct rdb {
    bool known;       /* attached according to the checkpoint or an ATTACH record */
    bool create;      /* the ATTACH record created it */
    bool missing;     /* file absent and JET_bitReplayIgnoreMissingDB given, or not in the map */
    eng_dbsig sig;
    bool sig_known;
    char path[ENG_PATH_MAX];
    int fd;
    eng_dbhdr hdr;
};

struct eng_rstmap {
    long n;
    struct rstmap_entry {
        char from[ENG_PATH_MAX]; /* the path as the log and edb.chk name it */
        char to[ENG_PATH_MAX];   /* where the file is now */
    } *e;
};

/* A map name in the form the engine stores paths in, so that a map may reach the directory through
 * a symlink or spell it with "." or "//". A name whose directory does not exist on this machine
 * (the originals may be elsewhere) cannot be resolved: it is kept as written. */
static long rstmap_name(const char *name, char out[ENG_PATH_MAX])
{
    long err = eng_db_canon(name, out);
    if (err == JET_errDatabaseInvalidPath) {
        strcpy(out, name); /* eng_db_canon checked its length */
        return JET_errSuccess;
    }
    ENG_RETURN_IF(err, JET_errInvalidParameter,
                  "a restore map name is missing, empty, too long or does not end in a file name");
    return JET_errSuccess;
}

void eng_rstmap_free(eng_rstmap *m)
{
    if (m) {
        free(m->e);
        free(m);
    }
}

long eng_rstmap_new(const JET_RSTMAP *map, long n, eng_rstmap **out)
{
    *out = NULL;
    ENG_RETURN_IF(n < 0 || (n && !map), JET_errInvalidParameter,
                  "the restore map's count is negative, or it has a count and no entries");
    if (!n)
        return JET_errSuccess; /* ESE: only a map with entries changes recovery */
    eng_rstmap *m = calloc(1, sizeof *m);
    struct rstmap_entry *e = m ? calloc((size_t)n, sizeof *e) : NULL;
    if (!e) {
        free(m);
        return ENG_ERR(JET_errOutOfMemory, "no memory for the restore map");
    }
    m->e = e;
    m->n = n;
    long err = JET_errSuccess;
    for (long i = 0; i < n && !err; i++) {
        err = rstmap_name(map[i].szDatabaseName, e[i].from);
        if (!err)
            err = rstmap_name(map[i].szNewDatabaseName, e[i].to);
        for (long j = 0; j < i && !err; j++) {
            /* Which of two new paths would get the database's pages is anyone's guess. */
            if (!strcmp(e[j].from, e[i].from))
                err = ENG_ERR(JET_errInvalidParameter, "two restore map entries name the same database");
            /* Two databases' pages in one file would destroy it. */
            else if (!strcmp(e[j].to, e[i].to))
                err = ENG_ERR(JET_errInvalidParameter, "two restore map entries send two databases to one file");
        }
    }
    if (err) {
        eng_rstmap_free(m);
        return err;
    }
    *out = m;
    return JET_errSuccess;
}

static const char *rstmap_find(const eng_rstmap *m, const char *logged)
{
    for (long i = 0; i < m->n; i++)
        if (!strcmp(m->e[i].from, logged))
            return m->e[i].to;
    return NULL;
}

struct rctx {
    eng_inst *in;
    JET_GRBIT grbit;
    const eng_rstmap *map;
    struct rdb db[ENG_MAX_DB + 1];
    eng_redo redo;
    uint8_t *scratch;
    bool from_oldest;   /* no checkpoint: the scan starts at the oldest generation on disk */
    uint32_t first_gen; /* where the scan starts */
};

/* Open the file of a database recovery must write. A database the log says was created is
 * created here when a committed page must go into it (may_create); otherwise a missing file of
 * such a database is left missing: its creation never committed anything (JetCreateDatabase
 * failed, and removed the file), and making an empty file for it would leave a bogus database. */
static long rdb_open(struct rctx *c, uint32_t dbid, bool may_create)
{
    struct rdb *d = &c->db[dbid];
    if (d->fd >= 0 || d->missing)
        return JET_errSuccess;
    uint32_t ps = c->in->p.page_size;
    int fd = eng_io_open(d->path, O_RDWR, 0);
    if (fd == -ENOENT && d->create && !may_create) {
        d->missing = true;
        return JET_errSuccess;
    }
    if (fd == -ENOENT && d->create) {
        fd = eng_io_open(d->path, O_RDWR | O_CREAT, 0644);
        if (fd >= 0) {
            memset(&d->hdr, 0, sizeof d->hdr);
            d->hdr.page_size = ps;
            d->hdr.state = JET_dbstateDirtyShutdown;
            d->hdr.sig = d->sig;
            d->hdr.log_sig = c->in->logsig;
            long err = eng_dbhdr_write(fd, &d->hdr);
            if (err) {
                eng_io_close(fd);
                return err;
            }
            d->fd = fd;
            return JET_errSuccess;
        }
    }
    if (fd == -ENOENT && (c->grbit & JET_bitReplayIgnoreMissingDB)) {
        d->missing = true;
        eng_event(c->in, 2, 300, "database %s is missing; its changes are skipped", d->path);
        return JET_errSuccess;
    }
    if (fd < 0) {
        eng_event(c->in, 1, 300, "database %s needed by recovery cannot be opened (errno %d)", d->path, -fd);
        return ENG_ERR(eng_io_errno_to_jet(fd, 0), "a database recovery needs cannot be opened");
    }
    if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
        eng_io_close(fd);
        return ENG_ERR(JET_errFileAccessDenied,
                       "a database recovery needs is locked by another instance");
    }
    long err = eng_dbhdr_read(fd, ps, &d->hdr);
    /* A backup stream put back in place needs hard recovery (JetExternalRestore), not this. */
    if (!err && (d->hdr.bk_cur.type || d->hdr.backup_restored))
        err = JET_errSoftRecoveryOnBackupDatabase;
    if (!err && d->sig_known &&
        (d->hdr.sig.random != d->sig.random || d->hdr.sig.create_time_usec != d->sig.create_time_usec))
        err = JET_errBadDbSignature; /* another file now sits at this path */
    if (err) {
        eng_io_close(fd);
        return ENG_ERR(err,
                       "the database's header is bad, a restored backup's, or another database's");
    }
    d->fd = fd;
    return JET_errSuccess;
}

/* Where recovery writes the database the checkpoint or the log names by path `logged`: there,
 * without a map; with one, at its new path, or nowhere when the map leaves it out. */
static void rdb_place(struct rctx *c, uint32_t dbid, const char *logged)
{
    struct rdb *d = &c->db[dbid];
    const char *to = c->map ? rstmap_find(c->map, logged) : logged;
    if (!to) {
        d->missing = true;
        strcpy(d->path, logged); /* for the events only: never opened */
        eng_event(c->in, 2, 307,
                  "recovery: database %s is not in the restore map; its changes are skipped and the file is "
                  "not touched",
                  logged);
        return;
    }
    strcpy(d->path, to);
    if (c->map)
        eng_event(c->in, 4, 308, "recovery: database %s is recovered at %s", logged, to);
}

/* Sync and mark a database clean at log position lsn, then close it. */
static long rdb_finish(struct rctx *c, uint32_t dbid, eng_lsn lsn)
{
    struct rdb *d = &c->db[dbid];
    long err = JET_errSuccess;
    if (d->fd >= 0) {
        err = eng_redo_flush(&c->redo, d->fd); /* before the sync, and before the fd is reused */
        int r = err ? 0 : eng_io_fdatasync(d->fd);
        if (r < 0)
            err = eng_io_errno_to_jet(r, 0);
        if (!err && d->hdr.state != JET_dbstateCleanShutdown) {
            d->hdr.state = JET_dbstateCleanShutdown;
            d->hdr.lsn_consistent = lsn;
            d->hdr.time_consistent_usec = eng_now_usec();
            err = eng_dbhdr_write(d->fd, &d->hdr);
        }
        eng_io_close(d->fd);
        d->fd = -1;
    }
    d->known = false;
    d->missing = false;
    return err;
}

static long apply_commit(struct rctx *c, eng_lsn lsn)
{
    for (size_t i = 0; i < c->redo.n; i++) {
        eng_redo_page *p = &c->redo.pages[i];
        if (p->dbid == 0 || p->dbid > ENG_MAX_DB)
            return ENG_ERR(JET_errLogCorrupted,
                           "a committed page record names a database id out of range");
        if (!c->db[p->dbid].known) {
            /* Without a checkpoint the scan starts at the oldest generation on disk; a database
             * it never saw attached was attached in generations that are gone. */
            if (c->from_oldest) {
                eng_event(c->in, 1, 303,
                          "recovery: log generation %u (the oldest on disk) changes database %u, "
                          "whose attach is in an earlier generation that is missing",
                          c->first_gen, p->dbid);
                return ENG_ERR(JET_errMissingLogFile,
                               "a database the oldest log changes was attached in a missing log");
            }
            return ENG_ERR(JET_errLogCorrupted,
                           "a committed page names a database not known to be attached");
        }
        long err = rdb_open(c, p->dbid, true);
        if (err)
            return err;
        struct rdb *d = &c->db[p->dbid];
        if (!d->missing && (err = eng_redo_write(&c->redo, d->fd, p, lsn)))
            return err;
    }
    return JET_errSuccess;
}

static void clear_pending(struct rctx *c) { eng_redo_clear(&c->redo); }

static long on_record(struct rctx *c, const eng_logrec_view *r)
{
    uint32_t ps = c->in->p.page_size;
    switch (r->type) {
    case ENG_LR_PAGE:
    case ENG_LR_PAGEDIFF:
        return eng_redo_add(&c->redo, r);
    case ENG_LR_COMMIT: {
        long err = apply_commit(c, r->end); /* stamped as the running engine does */
        clear_pending(c);
        return err;
    }
    case ENG_LR_ATTACH: {
        eng_rec_attach a;
        long err = eng_rec_attach_decode(r->data, r->len, &a);
        ENG_RETURN_IF(err, err, "an ATTACH record's payload is malformed");
        uint32_t dbid = a.dbid;
        ENG_RETURN_IF(dbid == 0 || dbid > ENG_MAX_DB || a.path_len == 0 ||
                          a.path_len >= ENG_PATH_MAX || a.page_size != ps,
                      JET_errLogCorrupted,
                      "an ATTACH record has a bad database id, path length or page size");
        struct rdb *d = &c->db[dbid];
        if (d->fd >= 0) {
            err = rdb_finish(c, dbid, r->lsn);
            if (err)
                return err;
        }
        memset(d, 0, sizeof *d);
        d->fd = -1;
        d->known = true;
        d->create = a.create;
        d->sig = a.sig;
        d->sig_known = true;
        char logged[ENG_PATH_MAX];
        memcpy(logged, a.path, a.path_len);
        logged[a.path_len] = 0;
        rdb_place(c, dbid, logged);
        return JET_errSuccess;
    }
    case ENG_LR_DETACH: {
        eng_rec_detach dt;
        long err = eng_rec_detach_decode(r->data, r->len, &dt);
        ENG_RETURN_IF(err, err, "a DETACH record's payload is malformed");
        uint32_t dbid = dt.dbid;
        ENG_RETURN_IF(dbid == 0 || dbid > ENG_MAX_DB, JET_errLogCorrupted,
                      "a DETACH record names a database id out of range");
        if (c->db[dbid].known) {
            err = rdb_open(c, dbid, false);
            if (!err)
                err = rdb_finish(c, dbid, r->lsn);
            return err;
        }
        return JET_errSuccess;
    }
    case ENG_LR_INIT:
    case ENG_LR_TERM:
        /* A transaction cut off by a crash never continues past a restart. */
        clear_pending(c);
        return JET_errSuccess;
    default:
        return JET_errSuccess; /* records of later format additions that redo does not need */
    }
}

/* Damage the scanner or the sealing found: an event naming the file and the offset. */
static void on_corrupt(void *ctx, const char *path, uint64_t off, const char *why)
{
    eng_event(ctx, 1, 302, "log file %s is corrupt at offset %llu: %s", path, (unsigned long long)off, why);
}

long eng_recover(eng_inst *in, JET_GRBIT grbit, const eng_rstmap *map, uint32_t *next_gen)
{
    struct rctx *c = calloc(1, sizeof *c);
    ENG_RETURN_IF(!c, JET_errOutOfMemory, "no memory for the recovery state");
    c->in = in;
    c->grbit = grbit;
    c->map = map;
    c->redo.ps = in->p.page_size;
    for (int i = 0; i <= ENG_MAX_DB; i++)
        c->db[i].fd = -1;

    eng_lsn start = 0;
    eng_logsig sig = {0, 0};
    uint32_t ndb = 0, dbids[ENG_MAX_DB];
    eng_dbsig dbsigs[ENG_MAX_DB];
    char(*paths)[ENG_PATH_MAX] = calloc(ENG_MAX_DB, ENG_PATH_MAX);
    long err = paths ? eng_ckpt_read(in, &start, &sig, &ndb, dbids, dbsigs, paths) : JET_errOutOfMemory;
    bool have_ckpt = !err;
    if (err == JET_errCheckpointFileNotFound)
        err = JET_errSuccess;
    uint32_t lo = 0, hi = 0, cur = 0;
    eng_log_config cfg = in->logcfg;
    cfg.sig = sig; /* zero without a checkpoint: adopt the first file's */
    if (!err)
        err = log_list(&cfg, &lo, &hi, &cur);
    if (err)
        goto out;

    if (!lo && !cur) {
        /* No log at all: a new log set. A checkpoint that still lists databases means their
         * logs were deleted: that is data loss we must not paper over. */
        if (have_ckpt && ndb) {
            err = ENG_ERR(JET_errMissingLogFile,
                          "the checkpoint lists attached databases but no log file is left");
            goto out;
        }
        in->logsig = (eng_logsig){eng_new_sig().random, eng_now_usec()};
        *next_gen = have_ckpt && ENG_LSN_GEN(start) ? ENG_LSN_GEN(start) + 1 : 1;
        goto out;
    }
    if (!have_ckpt)
        start = ENG_LSN(lo ? lo : cur, 0);
    for (uint32_t i = 0; i < ndb; i++) {
        if (dbids[i] == 0 || dbids[i] > ENG_MAX_DB) {
            err = JET_errCheckpointCorrupt;
            goto out;
        }
        struct rdb *d = &c->db[dbids[i]];
        d->known = true;
        /* As for an ATTACH record: another database now at that path must not get these pages. */
        d->sig = dbsigs[i];
        d->sig_known = true;
        rdb_place(c, dbids[i], paths[i]);
    }

    c->from_oldest = !have_ckpt;
    c->first_gen = ENG_LSN_GEN(start);
    cfg.on_corrupt = on_corrupt;
    cfg.on_corrupt_ctx = in;
    eng_logscan *sc = NULL;
    err = logscan_open(&cfg, start, &sc);
    if (err == JET_errMissingLogFile && have_ckpt)
        err = JET_errMissingPreviousLogFile; /* the generation the checkpoint needs is gone */
    if (err == JET_errInvalidParameter && have_ckpt) {
        /* edb.chk verified, yet its position is no record boundary of an intact log: inside a
         * record, or behind the end of what the log holds. Starting there would misread the log
         * or seal it short; the checkpoint cannot be trusted. */
        eng_event(in, 1, 304,
                  "checkpoint %s/%s.chk points to log position %u:%u, which is not the start of a "
                  "record in %s (inside a record or past the end of the log)",
                  in->p.system_path, in->p.base_name, ENG_LSN_GEN(start), ENG_LSN_OFF(start), cfg.dir);
        err = JET_errCheckpointCorrupt;
    }
    if (err)
        goto out;
    in->logsig = logscan_sig(sc);
    c->scratch = NULL;
    eng_logrec_view r;
    int rc;
    uint64_t nrec = 0;
    while ((rc = logscan_next(sc, &r)) == 0) {
        nrec++;
        if ((err = on_record(c, &r)))
            break;
    }
    if (!err && rc < 0)
        err = rc;
    eng_lsn end = logscan_end(sc);
    logscan_close(sc);
    clear_pending(c);
    if (err)
        goto out;
    for (uint32_t id = 1; id <= ENG_MAX_DB && !err; id++)
        if (c->db[id].known) {
            err = rdb_open(c, id, false);
            if (!err)
                err = rdb_finish(c, id, end);
        }
    if (err)
        goto out;
    uint32_t sealed = 0;
    err = log_seal_current(&cfg, &sealed, NULL);
    if (err)
        goto out;
    uint32_t top = sealed > hi ? sealed : hi;
    if (ENG_LSN_GEN(end) > top)
        top = ENG_LSN_GEN(end);
    *next_gen = top + 1;
    eng_event(in, 4, 301, "recovery replayed %llu log records up to generation %u",
              (unsigned long long)nrec, top);
out:
    for (int i = 0; i <= ENG_MAX_DB; i++)
        if (c->db[i].fd >= 0)
            eng_io_close(c->db[i].fd);
    eng_redo_free(&c->redo);
    free(c);
    free(paths);
    return err;
}
