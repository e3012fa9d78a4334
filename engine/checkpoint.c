/*
 * checkpoint.c — the checkpoint file edb.chk and the checkpoint thread.
 *
 * A checkpoint writes every dirty page (after the log is durable past it), syncs the database
 * files, and then records in edb.chk the log position from which recovery must start and the
 * databases attached at that moment. With circular logging, generations wholly before that
 * position are deleted. The thread sleeps on a condition variable and wakes only when asked (a
 * log roll, a full cache, shutdown): an idle instance uses no CPU.
 *
 * edb.chk holds two copies, at offsets 0 and COPY_SPAN, each (little-endian):
 *   0  u32 CRC-32C of bytes 4..len-1     4  8B magic "JSNAPCHK"   12 u32 format version (1)
 *   16 u32 len                            20 u32 number of databases
 *   24 u64 sequence (newer valid copy wins)
 *   32 u64 log signature random           40 u64 log signature time
 *   48 u64 checkpoint LSN
 *   56 per database: u32 dbid, u32 path length, u64 sig random, u64 sig time, path bytes
 * Copy A is written and synced before copy B, so one valid copy always survives a torn write.
 */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>

#include "engine-int.h"

#define CKPT_VERSION 1
#define COPY_SPAN (256 * 1024)
static const char ckpt_magic[8] = {'J', 'S', 'N', 'A', 'P', 'C', 'H', 'K'};
/* Monotonic per process is enough (only the instance owning a file writes it), but the counter is
 * shared by every instance's JetInit, checkpoint thread and JetTerm at once: atomic increments. */
static uint64_t ckpt_seq;

struct ckpt_entry {
    uint32_t dbid;
    eng_dbsig sig;
    char path[ENG_PATH_MAX];
};

long eng_ckpt_write(eng_inst *in, eng_lsn lsn)
{
    struct ckpt_entry *ents = calloc(ENG_MAX_DB, sizeof *ents);
    ENG_RETURN_IF(!ents, JET_errOutOfMemory, "no memory for the checkpoint's list of databases");
    uint32_t n = 0;
    pthread_mutex_lock(&in->mu);
    for (uint32_t id = 1; id <= ENG_MAX_DB; id++) {
        eng_db *db = in->dbs[id];
        /* A database half-way through attach or detach is covered by its log records. */
        /* Only databases whose ATTACH record is logged: one half-way through a create that then
         * fails would otherwise be listed, and recovery would demand a file that never became
         * a database. */
        if (!db || db->fd < 0 || !db->logged)
            continue;
        ents[n].dbid = id;
        ents[n].sig = db->hdr.sig;
        strcpy(ents[n].path, db->path);
        n++;
    }
    pthread_mutex_unlock(&in->mu);

    uint8_t *b = calloc(1, COPY_SPAN);
    if (!b) {
        free(ents);
        return JET_errOutOfMemory;
    }
    size_t off = 56;
    for (uint32_t i = 0; i < n; i++) {
        size_t pl = strlen(ents[i].path);
        eng_st32(b + off, ents[i].dbid);
        eng_st32(b + off + 4, (uint32_t)pl);
        eng_st64(b + off + 8, ents[i].sig.random);
        eng_st64(b + off + 16, ents[i].sig.create_time_usec);
        memcpy(b + off + 24, ents[i].path, pl);
        off += 24 + pl;
    }
    free(ents);
    memcpy(b + 4, ckpt_magic, 8);
    eng_st32(b + 12, CKPT_VERSION);
    eng_st32(b + 16, (uint32_t)off);
    eng_st32(b + 20, n);
    eng_st64(b + 24, __atomic_add_fetch(&ckpt_seq, 1, __ATOMIC_RELAXED) + eng_now_usec());
    eng_st64(b + 32, in->logsig.random);
    eng_st64(b + 40, in->logsig.create_time_usec);
    eng_st64(b + 48, lsn);
    eng_st32(b, eng_crc32c(0, b + 4, off - 4));
    eng_frz_enter(in); /* edb.chk is not written while the instance is frozen */
    /* ckpt_mu makes the file and last_ckpt change together: whoever asks for the checkpoint
     * generation (log truncation) sees exactly what edb.chk says, never a newer one that is not
     * durable yet (it could delete logs recovery still needs) nor an older one. Taken inside the
     * gate, so a freeze never leaves it held. */
    pthread_mutex_lock(&in->ckpt_mu);
    /* JetInit creates edb.chk empty; its first write makes it something recovery and log
     * truncation rely on, so its directory entry must be durable too, not just its data. */
    int64_t was = eng_io_size(in->ckpt_fd);
    int r = was < 0 ? (int)was : eng_io_pwrite(in->ckpt_fd, b, off, 0);
    if (!r)
        r = eng_io_fdatasync(in->ckpt_fd);
    if (!r)
        r = eng_io_pwrite(in->ckpt_fd, b, off, COPY_SPAN);
    if (!r)
        r = eng_io_fdatasync(in->ckpt_fd);
    if (!r && was == 0)
        r = eng_io_fsync_dir(in->p.system_path);
    if (!r)
        in->last_ckpt = lsn;
    pthread_mutex_unlock(&in->ckpt_mu);
    eng_frz_exit(in);
    free(b);
    ENG_RETURN_IF(r < 0, eng_io_errno_to_jet(r, 0),
                  "the checkpoint file cannot be written and synced");
    return JET_errSuccess;
}

static int ckpt_decode(const uint8_t *b, size_t have, uint64_t *seq)
{
    if (have < 56 || memcmp(b + 4, ckpt_magic, 8))
        return -1;
    uint32_t len = eng_ld32(b + 16);
    if (len < 56 || len > have || eng_ld32(b) != eng_crc32c(0, b + 4, len - 4))
        return -1;
    if (eng_ld32(b + 12) != CKPT_VERSION)
        return -2;
    *seq = eng_ld64(b + 24);
    return 0;
}

/* Returns JET_errCheckpointFileNotFound when edb.chk is empty (never written). */
long eng_ckpt_read(eng_inst *in, eng_lsn *lsn, eng_logsig *sig, uint32_t *ndb, uint32_t *dbids,
                  eng_dbsig *dbsigs, char (*paths)[ENG_PATH_MAX])
{
    uint8_t *a = malloc(COPY_SPAN), *bb = malloc(COPY_SPAN);
    if (!a || !bb) {
        free(a);
        free(bb);
        return JET_errOutOfMemory;
    }
    ssize_t na = eng_io_pread(in->ckpt_fd, a, COPY_SPAN, 0);
    ssize_t nb = eng_io_pread(in->ckpt_fd, bb, COPY_SPAN, COPY_SPAN);
    long err = JET_errSuccess;
    if (na < 0 || nb < 0) {
        err = eng_io_errno_to_jet((int)(na < 0 ? na : nb), 0);
        goto out;
    }
    if (na == 0) {
        err = JET_errCheckpointFileNotFound;
        goto out;
    }
    uint64_t sa = 0, sb = 0;
    int ra = ckpt_decode(a, (size_t)na, &sa), rb = ckpt_decode(bb, (size_t)(nb > 0 ? nb : 0), &sb);
    if (ra && rb) {
        err = (ra == -2 || rb == -2) ? JET_errBadLogVersion : JET_errCheckpointCorrupt;
        goto out;
    }
    const uint8_t *b = ra ? bb : rb ? a : (sa >= sb ? a : bb);
    sig->random = eng_ld64(b + 32);
    sig->create_time_usec = eng_ld64(b + 40);
    *lsn = eng_ld64(b + 48);
    uint32_t n = eng_ld32(b + 20), len = eng_ld32(b + 16);
    size_t off = 56;
    *ndb = 0;
    for (uint32_t i = 0; i < n && i < ENG_MAX_DB; i++) {
        if (off + 24 > len) {
            err = JET_errCheckpointCorrupt;
            goto out;
        }
        uint32_t pl = eng_ld32(b + off + 4);
        if (pl == 0 || pl >= ENG_PATH_MAX || off + 24 + pl > len) {
            err = JET_errCheckpointCorrupt;
            goto out;
        }
        dbids[i] = eng_ld32(b + off);
        dbsigs[i].random = eng_ld64(b + off + 8);
        dbsigs[i].create_time_usec = eng_ld64(b + off + 16);
        memcpy(paths[i], b + off + 24, pl);
        paths[i][pl] = 0;
        off += 24 + pl;
        (*ndb)++;
    }
out:
    free(a);
    free(bb);
    return err;
}

long eng_checkpoint(eng_inst *in)
{
    if (!in->log)
        return JET_errSuccess;
    pthread_mutex_lock(&in->ckpt_run);
    /* Every commit before this LSN has finished copying its pages into the cache. */
    pthread_rwlock_wrlock(&in->ckpt_lock);
    eng_lsn tip = log_tip(in->log);
    /* Commits from here on log a page whole unless it was logged whole after tip: recovery from
     * this checkpoint then meets a whole image first for every page it rewrites (txn.c). */
    in->fpi_horizon = tip;
    pthread_rwlock_unlock(&in->ckpt_lock);

    long err = JET_errSuccess;
    for (uint32_t id = 1; id <= ENG_MAX_DB && !err; id++) {
        pthread_mutex_lock(&in->mu);
        eng_db *db = in->dbs[id];
        pthread_mutex_unlock(&in->mu);
        /* Only what was committed before tip: the checkpoint ends even under constant load.
         * (Cannot be freed meanwhile: dropping a database takes ckpt_run.) */
        if (db)
            err = eng_cache_flush(db, tip);
    }
    if (!err)
        err = eng_ckpt_write(in, tip);
    if (!err) {
        /* Circular logging deletes what recovery no longer needs, but never what a running
         * backup still has to copy. */
        uint32_t upto = ENG_LSN_GEN(tip), hold = atomic_load(&in->bk.hold_gen);
        if (hold && hold < upto)
            upto = hold;
        if (ENG_PARAM_LOAD(in, circular_log) && upto > 1) {
            eng_frz_enter(in);
            log_delete_range(&in->logcfg, 1, upto);
            eng_frz_exit(in);
        }
    }
    pthread_mutex_unlock(&in->ckpt_run);
    if (err)
        eng_fatal(in, err);
    return err;
}

static void *ckpt_main(void *arg)
{
    eng_inst *in = arg;
    pthread_mutex_lock(&in->ckpt_wake_mu);
    for (;;) {
        while (!in->ckpt_wanted && !in->ckpt_stop)
            pthread_cond_wait(&in->ckpt_wake_cv, &in->ckpt_wake_mu);
        if (in->ckpt_stop)
            break;
        in->ckpt_wanted = false;
        pthread_mutex_unlock(&in->ckpt_wake_mu);
        eng_checkpoint(in);
        pthread_mutex_lock(&in->ckpt_wake_mu);
    }
    pthread_mutex_unlock(&in->ckpt_wake_mu);
    return NULL;
}

void eng_ckpt_kick(eng_inst *in)
{
    pthread_mutex_lock(&in->ckpt_wake_mu);
    in->ckpt_wanted = true;
    pthread_cond_signal(&in->ckpt_wake_cv);
    pthread_mutex_unlock(&in->ckpt_wake_mu);
}

long eng_ckpt_start(eng_inst *in)
{
    in->ckpt_stop = false;
    in->ckpt_wanted = false;
    ENG_RETURN_IF(pthread_create(&in->ckpt_thread, NULL, ckpt_main, in) != 0, JET_errOutOfMemory,
                  "the checkpoint thread cannot be started");
    in->ckpt_running = true;
    return JET_errSuccess;
}

void eng_ckpt_stop(eng_inst *in)
{
    if (!in->ckpt_running)
        return;
    pthread_mutex_lock(&in->ckpt_wake_mu);
    in->ckpt_stop = true;
    pthread_cond_signal(&in->ckpt_wake_cv);
    pthread_mutex_unlock(&in->ckpt_wake_mu);
    pthread_join(in->ckpt_thread, NULL);
    in->ckpt_running = false;
}

uint32_t eng_ckpt_gen(eng_inst *in)
{
    pthread_mutex_lock(&in->ckpt_mu);
    uint32_t g = ENG_LSN_GEN(in->last_ckpt);
    pthread_mutex_unlock(&in->ckpt_mu);
    return g ? g : 1;
}
