/*
 * db.c — attaching, creating and detaching database files.
 *
 * Ordering that keeps a crash at any point recoverable: the ATTACH record is durable in the log
 * before the header says "dirty", and every dirty page is written and synced before the header
 * says "clean" again (detach, term). A database whose header is dirty is therefore always one the
 * log knows about.
 *
 * ATTACH record payload: u32 dbid, u32 flags (1 = created), u32 page size, u32 path length,
 *   u64 signature random, u64 signature time, path bytes.
 * DETACH record payload: u32 dbid.
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "engine-int.h"
#include "records-int.h"

/* Suffix of the temporary file a new database is built in, next to its final path. */
#define ENG_DB_CREATING ".creating"

/* Every database file attached by any instance of this process: two instances must never share
 * one (JET_errDatabaseSharingViolation); other processes are kept out by flock. */
static pthread_mutex_t reg_mu = PTHREAD_MUTEX_INITIALIZER;
struct reg {
    char path[ENG_PATH_MAX];
    struct reg *next;
};
static struct reg *registry;

static bool reg_add(const char *path)
{
    pthread_mutex_lock(&reg_mu);
    for (struct reg *r = registry; r; r = r->next)
        if (!strcmp(r->path, path)) {
            pthread_mutex_unlock(&reg_mu);
            return false;
        }
    struct reg *r = malloc(sizeof *r);
    if (r) {
        strcpy(r->path, path);
        r->next = registry;
        registry = r;
    }
    pthread_mutex_unlock(&reg_mu);
    return r != NULL;
}

static void reg_del(const char *path)
{
    pthread_mutex_lock(&reg_mu);
    for (struct reg **pp = &registry; *pp; pp = &(*pp)->next)
        if (!strcmp((*pp)->path, path)) {
            struct reg *r = *pp;
            *pp = r->next;
            free(r);
            break;
        }
    pthread_mutex_unlock(&reg_mu);
}

long eng_db_canon(const char *path, char out[ENG_PATH_MAX])
{
    ENG_RETURN_IF(!path || !*path, JET_errInvalidParameter, "no database path given");
    ENG_RETURN_IF(strlen(path) >= ENG_PATH_MAX - 1, JET_errInvalidPath,
                  "the database path is longer than the engine stores");
    char tmp1[ENG_PATH_MAX], tmp2[ENG_PATH_MAX], dir[PATH_MAX];
    strcpy(tmp1, path);
    strcpy(tmp2, path);
    const char *base = basename(tmp2);
    ENG_RETURN_IF(!*base || !strcmp(base, "/") || !strcmp(base, ".") || !strcmp(base, ".."),
                  JET_errInvalidPath,
                  "the path ends in \"/\", \".\" or \"..\", not in a file name");
    ENG_RETURN_IF(!realpath(dirname(tmp1), dir), JET_errDatabaseInvalidPath,
                  "the database's directory does not exist or cannot be resolved");
    ENG_RETURN_IF(strlen(dir) + strlen(base) + 2 > ENG_PATH_MAX, JET_errInvalidPath,
                  "the absolute path is longer than the engine stores");
    strcpy(out, dir);
    if (strcmp(dir, "/"))
        strcat(out, "/");
    strcat(out, base);
    return JET_errSuccess;
}

eng_db *eng_db_find(eng_inst *in, const char *path)
{
    char c[ENG_PATH_MAX];
    if (eng_db_canon(path, c))
        return NULL;
    for (uint32_t id = 1; id <= ENG_MAX_DB; id++)
        if (in->dbs[id] && !in->dbs[id]->detaching && !strcmp(in->dbs[id]->path, c))
            return in->dbs[id];
    return NULL;
}

long eng_db_alloc_struct(eng_inst *in, const char *path, uint32_t dbid, eng_db **out)
{
    eng_db *db = calloc(1, sizeof *db);
    ENG_RETURN_IF(!db, JET_errOutOfMemory, "no memory for the database's state");
    db->inst = in;
    db->dbid = dbid;
    db->fd = -1;
    db->page_size = in->p.page_size;
    strncpy(db->path, path, ENG_PATH_MAX - 1);
    pthread_rwlock_init(&db->view_lock, NULL);
    pthread_mutex_init(&db->wmu, NULL);
    pthread_cond_init(&db->wcv, NULL);
    pthread_mutex_init(&db->cmu, NULL);
    pthread_cond_init(&db->ccv, NULL);
    pthread_mutex_init(&db->fmu, NULL);
    pthread_mutex_init(&db->pwmu, NULL);
    long err = eng_cache_init(db);
    if (err) {
        eng_db_free_struct(db);
        return err;
    }
    *out = db;
    return JET_errSuccess;
}

void eng_db_free_struct(eng_db *db)
{
    if (!db)
        return;
    eng_cache_destroy(db);
    if (db->fd >= 0)
        eng_io_close(db->fd);
    pthread_rwlock_destroy(&db->view_lock);
    pthread_mutex_destroy(&db->wmu);
    pthread_cond_destroy(&db->wcv);
    pthread_mutex_destroy(&db->cmu);
    pthread_cond_destroy(&db->ccv);
    pthread_mutex_destroy(&db->fmu);
    pthread_mutex_destroy(&db->pwmu);
    free(db);
}

long eng_db_log_attach(eng_inst *in, eng_db *db, bool create, eng_lsn *lsn)
{
    *lsn = 0;
    if (!in->log)
        return JET_errSuccess;
    uint8_t h[ENG_REC_ATTACH_FIXED + sizeof db->path];
    eng_rec_attach a = {db->dbid, create, db->page_size, db->hdr.sig, db->path, (uint32_t)strlen(db->path)};
    struct iovec iov = {h, eng_rec_attach_encode(h, &a)};
    eng_logrec rec = {ENG_LR_ATTACH, &iov, 1};
    eng_lsn end;
    long err = log_append(in->log, &rec, 1, lsn, &end);
    if (!err)
        err = log_flush(in->log, end);
    if (!err) {
        pthread_mutex_lock(&in->mu);
        db->logged = true;
        pthread_mutex_unlock(&in->mu);
    }
    return err;
}

static long log_detach(eng_inst *in, eng_db *db, eng_lsn *lsn)
{
    *lsn = 0;
    if (!in->log)
        return JET_errSuccess;
    uint8_t h[ENG_REC_DETACH_LEN];
    eng_rec_detach_encode(h, &(eng_rec_detach){db->dbid});
    struct iovec iov = {h, sizeof h};
    eng_logrec rec = {ENG_LR_DETACH, &iov, 1};
    eng_lsn end;
    long err = log_append(in->log, &rec, 1, lsn, &end);
    if (!err)
        err = log_flush(in->log, end);
    if (!err) {
        pthread_mutex_lock(&in->mu);
        db->logged = true;
        pthread_mutex_unlock(&in->mu);
    }
    return err;
}

static long lock_file(int fd)
{
    if (flock(fd, LOCK_EX | LOCK_NB) < 0)
        return errno == EWOULDBLOCK ? JET_errFileAccessDenied : JET_errDiskIO;
    return JET_errSuccess;
}

/* Reserve a dbid for path; JET_errDatabaseDuplicate if attached here already. Under in->mu. */
static long reserve_slot(eng_inst *in, const char *path, uint32_t *dbid)
{
    for (uint32_t id = 1; id <= ENG_MAX_DB; id++)
        ENG_RETURN_IF(in->dbs[id] && !strcmp(in->dbs[id]->path, path), JET_errDatabaseDuplicate,
                      "the database is attached here already, or being attached or detached");
    for (uint32_t id = 1; id <= ENG_MAX_DB; id++)
        if (!in->dbs[id]) {
            *dbid = id;
            return JET_errSuccess;
        }
    return ENG_ERR(JET_errTooManyAttachedDatabases, "every database slot of the instance is taken");
}

/* Publish (or withdraw on failure) a database in the instance's table. */
static long publish(eng_inst *in, eng_db *db, const char *path)
{
    pthread_mutex_lock(&in->mu);
    uint32_t id = 0;
    long err = reserve_slot(in, path, &id);
    if (!err) {
        db->dbid = id;
        db->detaching = true; /* invisible to JetOpenDatabase until fully attached */
        in->dbs[id] = db;
    }
    pthread_mutex_unlock(&in->mu);
    return err;
}

static void withdraw(eng_inst *in, eng_db *db)
{
    pthread_mutex_lock(&in->ckpt_run);
    pthread_mutex_lock(&in->mu);
    if (in->dbs[db->dbid] == db)
        in->dbs[db->dbid] = NULL;
    pthread_mutex_unlock(&in->mu);
    pthread_mutex_unlock(&in->ckpt_run);
}

static void go_live(eng_inst *in, eng_db *db)
{
    pthread_mutex_lock(&in->mu);
    db->detaching = false;
    pthread_mutex_unlock(&in->mu);
}

/* The checkpoint (eng_ckpt_write), JetGetInstanceInfo and backup read db->fd and db->hdr.sig of
 * published databases under in->mu, so the fd is stored under it too, and only once the
 * signature it vouches for is final. */
static void set_fd(eng_inst *in, eng_db *db, int fd)
{
    pthread_mutex_lock(&in->mu);
    db->fd = fd;
    pthread_mutex_unlock(&in->mu);
}

/* Is the file open on fd what a create cut short by a crash leaves at its path? Its header is
 * valid and either still says "just created" (the header leaves that state only once the
 * formatting commit is in the log, so nothing was ever committed into it), or says clean with not
 * even a meta page after it (recovery marks every database its log attached clean, this one too:
 * a real database is never clean without its pages). Either way the create never returned success,
 * so replacing the file loses nothing anyone was told was stored. */
static bool cut_create_leftover(int fd)
{
    eng_dbhdr h;
    if (eng_dbhdr_read(fd, 0, &h) != JET_errSuccess)
        return false;
    if (h.state == JET_dbstateJustCreated)
        return true;
    int64_t size = eng_io_size(fd);
    return h.state == JET_dbstateCleanShutdown && size >= 0 &&
           (uint64_t)size < eng_page_off(ENG_PGNO_META + 1, h.page_size);
}

/* Decide about what sits at the create's path. Nothing: *target stays -1. Something that is not
 * a regular file (a directory, FIFO, device, socket or symbolic link) is never replaced: with
 * JET_bitDbOverwriteExisting that is InvalidPath (the name is not a file's, as for every other
 * call), without it FileAlreadyExists. A regular file: with JET_bitDbOverwriteExisting, or when it
 * is the leftover of a create that a crash cut short (cut_create_leftover), it is opened and
 * locked, so a file an instance (of any process) has attached or is creating is refused
 * (FileAccessDenied) instead of replaced; the caller keeps the lock until the rename has replaced
 * it. Otherwise FileAlreadyExists. */
static long claim_target(const char *cp, JET_GRBIT grbit, int *target)
{
    *target = -1;
    struct stat st;
    if (lstat(cp, &st) < 0)
        return errno == ENOENT ? JET_errSuccess : eng_io_errno_to_jet(-errno, 0);
    ENG_RETURN_IF(!S_ISREG(st.st_mode),
                  (grbit & JET_bitDbOverwriteExisting) ? JET_errInvalidPath
                                                       : JET_errFileAlreadyExists,
                  "something other than a regular file is at the database path");
    int fd = eng_io_open(cp, O_RDWR | O_NONBLOCK, 0);
    if (fd == -ENOENT) /* gone meanwhile */
        return JET_errSuccess;
    if (fd < 0)
        return ENG_ERR(eng_io_errno_to_jet(fd, 0),
                       "the file already at the database path cannot be opened");
    long err = JET_errSuccess;
    if (!(grbit & JET_bitDbOverwriteExisting) && !cut_create_leftover(fd))
        err = JET_errFileAlreadyExists;
    if (!err)
        err = lock_file(fd);
    /* A live log generation is refused too: its instance holds only the current ones locked. */
    if (!err)
        err = log_file_in_use(fd, cp);
    /* Looked at again under the lock: a creator in another process may have finished meanwhile. */
    if (!err && !(grbit & JET_bitDbOverwriteExisting) && !cut_create_leftover(fd))
        err = JET_errFileAlreadyExists;
    if (err) {
        eng_io_close(fd);
        return ENG_ERR(err, "the file at the database path exists, is in use or cannot be locked");
    }
    *target = fd;
    return JET_errSuccess;
}

/* Open (create, or take over the leftover of a cut create) the temporary file a new database is
 * built in, locked: another process creating the same database right now holds the lock. */
static long open_temp(const char *tmp, int *out)
{
    int fd = eng_io_open(tmp, O_RDWR | O_CREAT | O_NOFOLLOW | O_NONBLOCK, 0644);
    if (fd < 0)
        return ENG_ERR(eng_io_errno_to_jet(fd, 0),
                       "the temporary file to build the database in cannot be created");
    long err = lock_file(fd);
    if (!err) {
        int r = eng_io_truncate(fd, 0);
        if (r < 0)
            err = eng_io_errno_to_jet(r, 0);
    }
    if (err) {
        eng_io_close(fd);
        return ENG_ERR(err, "the temporary file to build the database in cannot be locked (another "
                            "create holds it) or emptied");
    }
    *out = fd;
    return JET_errSuccess;
}

long eng_db_create(eng_sess *s, const char *path, JET_GRBIT grbit, JET_DBID *pdbid)
{
    eng_inst *in = s->inst;
    ENG_RETURN_IF(!path || !pdbid, JET_errInvalidParameter,
                  "no database path, or nowhere to put its id");
    ENG_RETURN_IF(grbit & ~(JET_GRBIT)JET_bitDbOverwriteExisting, JET_errInvalidGrbit,
                  "the only create option is JET_bitDbOverwriteExisting");
    ENG_RETURN_IF(s->txn.level > 0, JET_errInTransaction,
                  "the session is in a transaction; a database is created outside one");
    char cp[ENG_PATH_MAX], tmp[ENG_PATH_MAX];
    long err = eng_db_canon(path, cp);
    if (err)
        return err;
    ENG_RETURN_IF(strlen(cp) + strlen(ENG_DB_CREATING) >= sizeof tmp, JET_errInvalidPath,
                  "the path with the temporary suffix is longer than the engine stores");
    strcpy(tmp, cp);
    strcat(tmp, ENG_DB_CREATING);
    eng_db *db;
    bool renamed = false, formatted = false;
    int fd = -1, target = -1;
    err = eng_db_alloc_struct(in, cp, 0, &db);
    if (err)
        return err;
    if ((err = publish(in, db, cp))) {
        eng_db_free_struct(db);
        return err;
    }
    if (!reg_add(cp)) {
        withdraw(in, db);
        eng_db_free_struct(db);
        return ENG_ERR(JET_errDatabaseSharingViolation,
                       "another instance of this process has the database file attached");
    }
    /* The header is filled in before the fd is published (set_fd). */
    memset(&db->hdr, 0, sizeof db->hdr);
    db->hdr.page_size = db->page_size;
    db->hdr.state = JET_dbstateJustCreated;
    db->hdr.sig = eng_new_sig();
    db->hdr.log_sig = in->logsig;
    /* What is at the path now: nothing, a file we may replace (held locked until it is replaced,
     * so a live database is never pulled from under its instance), or a refusal. */
    if ((err = claim_target(cp, grbit, &target)))
        goto fail;
    /* The file is made whole under a temporary name and renamed into place, so a power cut leaves
     * either no file at the path or one whose header is complete. */
    if ((err = open_temp(tmp, &fd)))
        goto fail;
    set_fd(in, db, fd);
    if ((err = eng_frz_dbhdr_write(db, &db->hdr)))
        goto fail;
    {
        /* rename() replaces silently: a file that appeared at the path since claim_target (another
         * process creating it too) is not ours to replace. The window left is the gap between this
         * check and the rename. */
        struct stat st;
        if (target < 0 && lstat(cp, &st) == 0) {
            err = ENG_ERR(JET_errFileAlreadyExists,
                          "a file appeared at the database path while the new one was built");
            goto fail;
        }
        eng_frz_enter(in);
        int r = eng_io_rename(tmp, cp);
        if (!r) {
            renamed = true;
            char dir[ENG_PATH_MAX];
            strcpy(dir, cp);
            r = eng_io_fsync_dir(dirname(dir));
        }
        eng_frz_exit(in);
        if (r < 0) {
            err = eng_io_errno_to_jet(r, 0);
            goto fail;
        }
    }
    if (target >= 0) { /* replaced: its lock can go */
        eng_io_close(target);
        target = -1;
    }
    eng_lsn lsn;
    if ((err = eng_db_log_attach(in, db, true, &lsn)))
        goto fail;
    db->hdr.lsn_attach = lsn;
    if ((err = eng_frz_dbhdr_write(db, &db->hdr)))
        goto fail;
    db->npages = 1; /* nothing committed yet: the formatting transaction creates pages 1 and 2 */

    /* The first pages are written by an ordinary transaction, so recovery rebuilds them too. */
    s->txn.level = 1;
    s->txn.implicit = true;
    err = eng_txn_lock_db(&s->txn, db);
    if (!err)
        err = eng_txn_format_db(&s->txn, db);
    eng_lsn clsn = 0;
    if (!err)
        err = eng_txn_commit(&s->txn, 0, &clsn);
    else
        eng_txn_rollback(&s->txn, true);
    if (!err && in->log)
        err = log_flush(in->log, clsn);
    formatted = clsn != 0;
    if (err)
        goto fail;
    /* Only now does the header stop saying "just created": until the formatting commit is in the
     * log, a cut leaves a file that claim_target knows as the leftover of a create, and a retried
     * create replaces it. (The ATTACH record is durable before the header says dirty, as always.) */
    db->hdr.state = JET_dbstateDirtyShutdown;
    if ((err = eng_frz_dbhdr_write(db, &db->hdr)))
        goto fail;
    s->open_dbs[db->dbid]++;
    db->opened_by++;
    go_live(in, db);
    eng_event(in, 4, 102, "database %s created", cp);
    *pdbid = db->dbid;
    return JET_errSuccess;
fail:
    /* Nothing was committed into a file this call made: remove it, so neither the caller nor a
     * later recovery (which skips a created database whose file is gone) finds a half-made
     * database there. */
    if (fd >= 0 && !renamed)
        eng_io_unlink(tmp);
    else if (renamed && !formatted)
        eng_io_unlink(cp);
    if (target >= 0)
        eng_io_close(target);
    reg_del(cp);
    withdraw(in, db);
    eng_db_free_struct(db);
    return err;
}

/* A cleanly shut down database file holds exactly its header blocks and pages 1..npages-1: every
 * page the meta page counts was written before the header said clean, and the file never holds
 * more. A file of any other size was cut (mid-page or at a page boundary) or its page count is
 * damaged; trusting the count would lose the pages past it (they would be handed out again as
 * new) or grow the file to wherever the count points. */
static long check_file_size(eng_inst *in, eng_db *db, int fd)
{
    int64_t size = eng_io_size(fd);
    if (size < 0)
        return ENG_ERR(eng_io_errno_to_jet((int)size, 0),
                       "the size of the database file cannot be read");
    uint64_t want = eng_page_off(db->npages, db->page_size);
    if ((uint64_t)size == want)
        return JET_errSuccess;
    eng_event(in, 1, 1206,
              "database %s is corrupted: its meta page counts %u pages (%llu bytes) but the file "
              "holds %lld bytes%s",
              db->path, db->npages, (unsigned long long)want, (long long)size,
              size % db->page_size ? " (cut in the middle of a page)" : "");
    return ENG_ERR(JET_errDatabaseCorrupted,
                   "the file's size does not match its meta page's page count");
}

long eng_db_attach(eng_sess *s, const char *path, JET_GRBIT grbit)
{
    eng_inst *in = s->inst;
    ENG_RETURN_IF(!path, JET_errInvalidParameter, "no database path given");
    ENG_RETURN_IF(grbit & ~(JET_GRBIT)(JET_bitDbReadOnly | JET_bitDbExclusive), JET_errInvalidGrbit,
                  "the only attach options are JET_bitDbReadOnly and JET_bitDbExclusive");
    ENG_RETURN_IF(s->txn.level > 0, JET_errInTransaction,
                  "the session is in a transaction; a database is attached outside one");
    char cp[ENG_PATH_MAX];
    long err = eng_db_canon(path, cp);
    if (err)
        return err == JET_errDatabaseInvalidPath ? JET_errFileNotFound : err;
    pthread_mutex_lock(&in->mu);
    for (uint32_t id = 1; id <= ENG_MAX_DB; id++)
        if (in->dbs[id] && !strcmp(in->dbs[id]->path, cp)) {
            pthread_mutex_unlock(&in->mu);
            return JET_wrnDatabaseAttached;
        }
    pthread_mutex_unlock(&in->mu);

    eng_db *db;
    if ((err = eng_db_alloc_struct(in, cp, 0, &db)))
        return err;
    if ((err = publish(in, db, cp))) {
        eng_db_free_struct(db);
        return err == JET_errDatabaseDuplicate ? JET_wrnDatabaseAttached : err;
    }
    if (!reg_add(cp)) {
        withdraw(in, db);
        eng_db_free_struct(db);
        return ENG_ERR(JET_errDatabaseSharingViolation,
                       "another instance of this process has the database file attached");
    }
    int fd = eng_io_open(cp, O_RDWR, 0);
    if (fd < 0) {
        err = eng_io_errno_to_jet(fd, 0);
        goto fail;
    }
    set_fd(in, db, fd);
    if ((err = lock_file(fd)))
        goto fail;
    {
        /* Read aside and copied under in->mu: the checkpoint may already read db->hdr.sig. */
        eng_dbhdr h;
        if ((err = eng_dbhdr_read(fd, in->p.page_size, &h)))
            goto fail;
        pthread_mutex_lock(&in->mu);
        db->hdr = h;
        pthread_mutex_unlock(&in->mu);
    }
    /* A database written from a backup stream (bkinfoFullCur set) or restored but not yet
     * brought forward by hard recovery: attaching it as it is would lose the logs it needs. */
    if (db->hdr.backup_restored || db->hdr.bk_cur.type) {
        err = JET_errSoftRecoveryOnBackupDatabase;
        goto fail;
    }
    if (db->hdr.state != JET_dbstateCleanShutdown) {
        err = JET_errDatabaseDirtyShutdown;
        goto fail;
    }
    {
        /* The meta page tells how many pages the database has; it must verify. */
        uint8_t *meta = malloc(db->page_size);
        if (!meta) {
            err = JET_errOutOfMemory;
            goto fail;
        }
        ssize_t n = eng_io_pread(fd, meta, db->page_size, eng_page_off(ENG_PGNO_META, db->page_size));
        err = n < (ssize_t)db->page_size ? JET_errDatabaseCorrupted
                                         : eng_page_verify(meta, ENG_PGNO_META, db->page_size);
        if (!err && (meta[16] != ENG_PT_META || eng_ld32(meta + ENG_META_NPAGES) <= ENG_PGNO_CATALOG))
            err = JET_errDatabaseCorrupted;
        if (!err)
            db->npages = eng_ld32(meta + ENG_META_NPAGES);
        free(meta);
        if (err)
            goto fail;
        if ((err = check_file_size(in, db, fd)))
            goto fail;
    }
    eng_lsn lsn;
    if ((err = eng_db_log_attach(in, db, false, &lsn)))
        goto fail;
    db->hdr.state = JET_dbstateDirtyShutdown;
    db->hdr.lsn_attach = lsn;
    db->hdr.log_sig = in->logsig;
    if ((err = eng_frz_dbhdr_write(db, &db->hdr)))
        goto fail;
    go_live(in, db);
    eng_event(in, 4, 103, "database %s attached", cp);
    return JET_errSuccess;
fail:
    reg_del(cp);
    withdraw(in, db);
    eng_db_free_struct(db);
    return err;
}

long eng_db_close_file(eng_inst *in, eng_db *db, bool clean)
{
    long err = JET_errSuccess;
    if (clean) {
        err = eng_cache_flush(db, 0);
        eng_lsn lsn = 0;
        if (!err)
            err = log_detach(in, db, &lsn);
        if (!err) {
            db->hdr.state = JET_dbstateCleanShutdown;
            db->hdr.lsn_consistent = lsn;
            db->hdr.lsn_detach = lsn;
            db->hdr.time_consistent_usec = eng_now_usec();
            err = eng_frz_dbhdr_write(db, &db->hdr);
        }
    }
    withdraw(in, db);
    reg_del(db->path);
    eng_db_free_struct(db);
    return err;
}

long eng_db_detach(eng_sess *s, const char *path)
{
    eng_inst *in = s->inst;
    ENG_RETURN_IF(s->txn.level > 0, JET_errInTransaction,
                  "the session is in a transaction; a database is detached outside one");
    bool all = !path || !*path;
    eng_db *targets[ENG_MAX_DB];
    int nt = 0;
    pthread_mutex_lock(&in->mu);
    eng_db *one = all ? NULL : eng_db_find(in, path);
    if (!all && !one) {
        pthread_mutex_unlock(&in->mu);
        return ENG_ERR(JET_errDatabaseNotFound,
                       "no database at that path is attached to this instance");
    }
    for (uint32_t id = 1; id <= ENG_MAX_DB; id++) {
        eng_db *db = in->dbs[id];
        if (!db || db->detaching || (one && db != one))
            continue;
        /* Our own session's opens are closed implicitly; anyone else's use blocks the detach. */
        int others = db->opened_by - (int)s->open_dbs[id];
        if (others > 0 || db->open_tables > 0 || db->writer || eng_bk_check_detach(in, id)) {
            pthread_mutex_unlock(&in->mu);
            return ENG_ERR(JET_errDatabaseInUse,
                           "the database is open in another session, or has open tables, "
                           "a writing transaction or a backup");
        }
        targets[nt++] = db;
    }
    for (int i = 0; i < nt; i++) {
        targets[i]->detaching = true;
        targets[i]->opened_by -= (int)s->open_dbs[targets[i]->dbid];
        s->open_dbs[targets[i]->dbid] = 0;
    }
    pthread_mutex_unlock(&in->mu);
    long err = JET_errSuccess;
    for (int i = 0; i < nt; i++) {
        eng_event(in, 4, 104, "database %s detached", targets[i]->path);
        long e = eng_db_close_file(in, targets[i], true);
        if (e && !err)
            err = e;
    }
    if (err)
        eng_fatal(in, err);
    return err;
}
