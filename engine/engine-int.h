/*
 * engine-int.h — how one engine instance is put together (internal to engine/).
 *
 * Concurrency and durability in one paragraph: a transaction that updates a database first takes
 * that database's writer lock (one writer per database) and then works on *private copies* of the
 * pages it changes; readers, and every other session, keep reading the committed page images in
 * the cache. Commit appends every changed page (whole, or as a diff against the committed image
 * when the page was logged whole since the newest checkpoint began) plus a COMMIT record to the log
 * as one contiguous run, copies the private pages into the cache (marking them dirty with the
 * commit's LSN) under the database's view lock, releases the writer lock and only then waits for
 * the log flush, so concurrent committers share one fsync. Rollback drops the private copies.
 * So no uncommitted change ever reaches the cache, a database file or the log, recovery is redo
 * only, and replaying the committed pages from a checkpoint onto *any* older image of a database
 * (a crash, or a fuzzy backup copy) brings it to the committed state: each page's first record
 * after a checkpoint is whole (redo.c).
 * Dirty cache pages are written by the checkpoint thread after the log is durable past their LSN
 * (write-ahead rule); the checkpoint file then records the log position from which recovery
 * must start.
 *
 * Lock order, outer to inner: a thread that holds a lock takes only locks below it in this list.
 * A condition variable is waited on only with its own mutex, named beside it.
 *   1. database writer lock (eng_db.writer; wmu/wcv guard only its handover): a transaction holds
 *      it across API calls, from its first update to its end, so it is taken (eng_txn_lock_db)
 *      with no other lock held, and everything below may be taken while it is held.
 *   2. OS snapshot session lock (s_mu, instancemgr/snapshot-api.c; s_cv and each session's cv
 *      wait with it). No eng_freeze runs under it: a freeze may wait on a disk that never
 *      answers, and s_mu is what Abort, the time-out and a term take to end it.
 *   3. instance table lock (g_mu, instancemgr/instances.c).
 *   4. handle lock (hmu, handle.c): eng_enter_session enters the instance under it, so no handle
 *      may be made or freed while an instance mutex is held.
 *   5. backup mutex (eng_inst.bk.mu).
 *   6. checkpoint run mutex (eng_inst.ckpt_run).
 *   7. instance mutex (eng_inst.mu, cv: the active-call drain). eng_inst_term takes wmu inside it
 *      only to wake writer-lock waiters.
 *   8. instance checkpoint rwlock (eng_inst.ckpt_lock; read side in commit).
 *   9. database flush mutex (eng_db.fmu): one flush of a database at a time.
 *  10. freeze gate (freeze.c; eng_inst.frz_mu/frz_cv): a writer of a database or checkpoint file
 *      holds a place in the gate (frz_io) across its write; frz_mu itself is held only inside
 *      freeze.c. A place in the gate must never wait for a lock above it, or a freeze would wait
 *      forever for it to leave.
 *  11. database view rwlock (eng_db.view_lock; write side in commit's copy-in).
 *  12. database cache mutex (eng_db.cmu, ccv: dirty pages written).
 *  13. page-write mutex (eng_db.pwmu): a flush holds it only while it writes pages, a backup while
 *      it reads them.
 *  14. checkpoint file mutex (eng_inst.ckpt_mu): edb.chk's writes and last_ckpt.
 *  15. log mutex (eng_log.mu, cv, log.c): the log's leader does its I/O with mu released, and
 *      cfg.on_roll is called with no log lock held.
 * Leaves, held for a few instructions with no other lock taken inside: the checkpoint thread's
 * wake-up mutex (eng_inst.ckpt_wake_mu, ckpt_wake_cv), the registry of attached files (reg_mu,
 * db.c) and the event callback's mutex (cb_mu, events.c; the callback itself runs without it).
 */
#ifndef ENG_ENGINE_INT_H
#define ENG_ENGINE_INT_H

#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "btree-int.h"
#include "io-int.h"
#include "jet.h"
#include "log-int.h"

#define ENG_MAX_DB 32          /* attached databases per instance; dbid 1..ENG_MAX_DB */
#define ENG_MAX_LEVELS 7       /* nested transaction levels, as ESE */
#define ENG_TXN_MAX_PAGES 262144
#define ENG_PATH_MAX 4096

/* Load/store little-endian integers at any alignment. */
static inline uint16_t eng_ld16(const uint8_t *p) { return (uint16_t)(p[0] | (p[1] << 8)); }
static inline uint32_t eng_ld32(const uint8_t *p)
{
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}
static inline uint64_t eng_ld64(const uint8_t *p) { return eng_ld32(p) | ((uint64_t)eng_ld32(p + 4) << 32); }
static inline void eng_st16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}
static inline void eng_st32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}
static inline void eng_st64(uint8_t *p, uint64_t v)
{
    eng_st32(p, (uint32_t)v);
    eng_st32(p + 4, (uint32_t)(v >> 32));
}

/* Where an error starts (docs/architecture.md, "Conventions"): return it, and with JETSNAP_DEBUG set
 * print "jetsnap: error N (JET_errName) at FILE:LINE: why" on stderr, as zstd's RETURN_ERROR_IF
 * does. `why` is a string literal saying what was wrong, in the words a user reading the trace
 * needs (not the error's name again). ENG_ERR is the same for an error computed elsewhere. */
#define ENG_RETURN_IF(cond, err, why)                                                              \
    do {                                                                                           \
        if (cond)                                                                                  \
            return eng_trace_err((err), __FILE__, __LINE__, "" why);                               \
    } while (0)
#define ENG_ERR(err, why) eng_trace_err((err), __FILE__, __LINE__, "" why)
long eng_trace_err(long err, const char *file, int line, const char *why);

/* ---------------------------------------------------------------------------------------------
 * Parameters (params.c)
 * ------------------------------------------------------------------------------------------- */
typedef struct eng_params {
    char system_path[ENG_PATH_MAX];
    char temp_path[ENG_PATH_MAX];
    char log_path[ENG_PATH_MAX];
    char base_name[4];
    uint32_t log_file_kb;
    uint32_t circular_log;
    uint32_t cache_pages;
    uint32_t recovery; /* 1 = on */
    uint32_t page_size;
    uint32_t ossnapshot_timeout_ms;
    uint32_t max_instances;
    uint32_t max_sessions;
} eng_params;

/* Read a parameter that may change while the instance runs (eng_param_settable_running:
 * circular_log, cache_pages, ossnapshot_timeout_ms). JetSetSystemParameter writes it under the
 * instance table lock, which engine threads do not hold, so both sides access it atomically. */
#define ENG_PARAM_LOAD(in, field) __atomic_load_n(&(in)->p.field, __ATOMIC_RELAXED)

void eng_params_default(eng_params *p);
/* JET_errInvalidParameter for an unknown id or a bad value. */
long eng_param_set(eng_params *p, unsigned long id, JET_API_PTR lparam, const char *sz);
/* Copies numbers to *pl and strings to sz (cbmax bytes). */
long eng_param_get(const eng_params *p, unsigned long id, JET_API_PTR *pl, char *sz, unsigned long cbmax);
bool eng_param_known(unsigned long id);
bool eng_param_is_global(unsigned long id);   /* one value for the whole process */
bool eng_param_settable_running(unsigned long id);

/* ---------------------------------------------------------------------------------------------
 * Handles (handle.c): opaque numbers for instances, sessions and cursors.
 * ------------------------------------------------------------------------------------------- */
enum eng_htype { ENG_H_INSTANCE = 1, ENG_H_SESSION = 2, ENG_H_TABLE = 3 };
JET_API_PTR eng_handle_new(enum eng_htype type, void *obj);   /* 0 on OOM */
void *eng_handle_get(JET_API_PTR h, enum eng_htype type);       /* NULL if unknown/stale */
void eng_handle_free(JET_API_PTR h);
/* For lookups that must also pin the object's owner before it can be freed. */
void eng_handle_lock(void);
void eng_handle_unlock(void);
void *eng_handle_get_locked(JET_API_PTR h, enum eng_htype type);

/* ---------------------------------------------------------------------------------------------
 * Database files (dbfile.c)
 * File layout: header copy A at offset 0 and copy B at offset page_size, then page p (p >= 1) at
 * offset (p + 1) * page_size. Page 1 is the meta page, page 2 the catalog root.
 * ------------------------------------------------------------------------------------------- */
#define ENG_PGNO_META 1
#define ENG_PGNO_CATALOG 2

/* Meta page (pgno 1) body, after the 16 pager bytes and the type byte at 16. */
#define ENG_META_NPAGES 20   /* u32: first never-used pgno (file holds pages 1..npages-1) */
#define ENG_META_FREEHEAD 24 /* u32: first page of the free list, 0 if none */
#define ENG_META_CATALOG 28  /* u32: catalog B+tree root */
#define ENG_META_NFREE 32    /* u32: pages on the free list */
#define ENG_FREE_NEXT 20     /* u32 in a free page: next free page */

typedef struct eng_dbsig {
    uint64_t random;
    uint64_t create_time_usec;
} eng_dbsig;

/* One backup record of the header (ESE's JET_BKINFO plus the kind of backup). */
typedef struct eng_bkinfo {
    uint64_t mark;       /* eng_lsn where the backup began (lgposMark) */
    uint64_t mark_usec;  /* when it began (logtimeMark) */
    uint32_t gen_low;    /* first log generation needed */
    uint32_t gen_high;   /* last log generation in the backup */
    uint32_t type;       /* ENG_BKTYPE_*; 0: the slot is empty */
} eng_bkinfo;
#define ENG_BKTYPE_STREAM 1   /* external (streaming) backup: ESE's backupNormal */
#define ENG_BKTYPE_SNAPSHOT 2 /* OS snapshot: ESE's backupOSSnapshot */

/* The database header, kept twice. Its byte layout is documented in dbfile.c. */
typedef struct eng_dbhdr {
    uint32_t version;
    uint32_t page_size;
    uint32_t state; /* JET_dbstate* */
    uint64_t seq;   /* incremented on every header write; the newer valid copy wins */
    eng_dbsig sig;
    eng_logsig log_sig;       /* the log set it was last attached with */
    eng_lsn lsn_attach;       /* ATTACH record of the current attachment */
    eng_lsn lsn_consistent;   /* log position at which it was last made consistent */
    eng_lsn lsn_detach;
    uint64_t time_consistent_usec;
    uint32_t backup_restored; /* 1: a restored backup image that still needs hard recovery */
    eng_bkinfo bk_full;       /* last full backup (bkinfoFullPrev) */
    eng_bkinfo bk_inc;        /* last incremental since it (bkinfoIncPrev) */
    eng_bkinfo bk_copy;       /* last copy backup (bkinfoCopyPrev) */
    eng_bkinfo bk_diff;       /* last differential (bkinfoDiffPrev) */
    eng_bkinfo bk_cur;        /* set only in the header copy a backup streams (bkinfoFullCur) */
    eng_bkinfo bk_snap;       /* the OS snapshot in progress (bkinfoSnapshotCur) */
} eng_dbhdr;

long eng_dbhdr_read(int fd, uint32_t expect_page_size, eng_dbhdr *out); /* any page size if 0 */
long eng_dbhdr_write(int fd, eng_dbhdr *h);                              /* bumps seq, writes A, fsync, B, fsync */
/* One header block of len bytes as eng_dbhdr_encode makes it (a backup stream's header pages):
 * magic, checksum, version, a known page size, and zeros past the used bytes. Errors:
 * DatabaseCorrupted, InvalidDatabaseVersion. */
long eng_dbhdr_decode(const uint8_t *block, size_t len, eng_dbhdr *out);
/* Encode h (version set, CRC computed) into a zeroed block of h->page_size bytes: what a header
 * copy looks like on disk. Does not change h->seq. */
void eng_dbhdr_encode(const eng_dbhdr *h, uint8_t *block);
/* Checksum and page-number check of a page read from disk; 0 or JET_errReadVerifyFailure. */
long eng_page_verify(const uint8_t *page, uint32_t pgno, uint32_t page_size);
void eng_page_seal(uint8_t *page, uint32_t pgno, uint32_t page_size); /* sets pgno + checksum */
static inline uint64_t eng_page_off(uint32_t pgno, uint32_t ps) { return ((uint64_t)pgno + 1) * ps; }
uint64_t eng_now_usec(void);
eng_dbsig eng_new_sig(void);

/* ---------------------------------------------------------------------------------------------
 * Cache and pages (cache.c)
 * ------------------------------------------------------------------------------------------- */
typedef struct eng_page {
    uint32_t pgno;
    bool dirty;
    int pins;           /* under cache mutex */
    eng_lsn lsn;        /* LSN of the commit that last changed it */
    eng_lsn rec_lsn;    /* first commit that dirtied it since it was last written */
    eng_lsn full_lsn;   /* commit that last logged its whole image (0: none known), see txn.c */
    uint8_t *data;
    struct eng_page *hnext;
    struct eng_page *prev, *next; /* LRU list of clean pages, or dirty list */
} eng_page;

typedef struct eng_inst eng_inst;

typedef struct eng_db {
    eng_inst *inst;
    uint32_t dbid;
    char path[ENG_PATH_MAX];
    int fd;
    uint32_t page_size;
    eng_dbhdr hdr;
    int opened_by;   /* sessions that have it open (JetOpenDatabase/Create), under inst->mu */
    int open_tables; /* cursors open on its tables, under inst->mu */
    bool detaching;
    bool logged;     /* its ATTACH record is in the log: a checkpoint may list it (under inst->mu) */

    /* Committed state. */
    pthread_rwlock_t view_lock; /* readers: any page read; writer: commit's copy-in */
    atomic_uint_fast64_t version; /* bumped by every commit (cursor position caches) */
    uint32_t npages;          /* committed meta npages, under view_lock */

    /* Writer lock: one updating transaction at a time. */
    pthread_mutex_t wmu;
    pthread_cond_t wcv;
    void *writer;             /* eng_txn holding it, or NULL */
    pthread_t writer_thread;

    /* Cache. */
    pthread_mutex_t cmu;
    pthread_cond_t ccv;       /* signalled when dirty pages are written */
    eng_page **hash;
    size_t hash_size;
    size_t npages_cached;
    size_t ndirty;
    eng_page lru;             /* sentinel: clean pages, most recent at next */
    eng_page dirtyq;          /* sentinel: dirty pages */
    long io_err;              /* sticky write error: the database is unavailable */
    pthread_mutex_t fmu;      /* one flush at a time, so an older image never overwrites a newer */
    pthread_mutex_t pwmu;     /* inside fmu, only while a flush writes pages (not across its fdatasync):
                               * backup reads take it, so no page is read while its write is in flight */
} eng_db;

/* Get a committed page, pinned (under the caller's view_lock read or write side). */
long eng_cache_get(eng_db *db, uint32_t pgno, eng_page **out);
void eng_cache_unpin(eng_db *db, eng_page *pg);
/* Install a committed image (commit); caller holds view_lock for writing. full_lsn: the commit
 * that last logged the page's whole image (lsn itself when this one did; 0 if unknown). */
long eng_cache_install(eng_db *db, uint32_t pgno, const uint8_t *img, eng_lsn lsn, eng_lsn full_lsn);
/* Write every dirty page first dirtied by a commit ending at or before upto (all if upto == 0) to
 * the file and fdatasync. */
long eng_cache_flush(eng_db *db, eng_lsn upto);
size_t eng_cache_dirty(eng_db *db);
void eng_cache_destroy(eng_db *db);
long eng_cache_init(eng_db *db);

/* ---------------------------------------------------------------------------------------------
 * Transactions (txn.c)
 * ------------------------------------------------------------------------------------------- */
typedef struct eng_tpage {
    uint64_t key;        /* (dbid << 32) | pgno, 0 = empty slot */
    uint8_t *buf;        /* the transaction's image (start of the allocation) */
    uint8_t *orig;       /* the committed image it was copied from (in buf's allocation); NULL: new */
    eng_lsn full_lsn;    /* the committed page's full_lsn when it was copied */
    uint8_t saved_level; /* highest nested level whose savepoint holds this page's prior image */
} eng_tpage;

typedef struct eng_tjournal {
    uint64_t key;
    uint8_t *prior; /* image before the level touched it; NULL: the page was not private before */
    uint8_t level;
    uint8_t prev_saved_level;
} eng_tjournal;

typedef struct eng_sess eng_sess;

typedef struct eng_txn {
    eng_sess *sess;
    int level;             /* 0 = no transaction */
    bool implicit;         /* opened by an update outside a transaction */
    bool doomed;           /* a failed update left partial changes: only rollback is allowed */
    eng_tpage *pages;      /* open-addressing map */
    size_t cap, count;
    eng_tjournal *jr;
    size_t jr_len, jr_cap;
    uint32_t locked_dbs;   /* bit dbid-1: writer locks held */
    uint32_t meta_dirty;   /* bit dbid-1 */
} eng_txn;

/* Page provider for the B+tree: the committed view, or the transaction's view of db. */
typedef struct eng_view {
    eng_pageio io;
    eng_db *db;
    eng_txn *txn;       /* NULL: committed, read-only */
    eng_page **pins;
    size_t npins, cappins;
    long err;
} eng_view;

void eng_view_begin(eng_view *v, eng_db *db, eng_txn *txn);
void eng_view_end(eng_view *v); /* unpin everything */

long eng_txn_begin(eng_txn *t);
long eng_txn_commit(eng_txn *t, JET_GRBIT grbit, eng_lsn *commit_lsn);
long eng_txn_rollback(eng_txn *t, bool all);
/* Take db's writer lock for t (idempotent). */
long eng_txn_lock_db(eng_txn *t, eng_db *db);
/* Savepoint around one update: mark returns the state, undo restores it if the update failed. */
size_t eng_txn_changes(const eng_txn *t);
void eng_txn_free(eng_txn *t);
/* Format the first pages (meta, catalog root) of a new database inside t (db.c calls it right
 * after creating the file). */
long eng_txn_format_db(eng_txn *t, eng_db *db);

/* ---------------------------------------------------------------------------------------------
 * Sessions and cursors
 * ------------------------------------------------------------------------------------------- */
enum eng_curpos { CUR_NONE, CUR_ON, CUR_BEFORE_FIRST, CUR_AFTER_LAST, CUR_DELETED };

typedef struct eng_cursor {
    JET_TABLEID handle;
    eng_sess *sess;
    eng_db *db;
    uint32_t root;
    char name[JET_cbNameMost + 1];
    enum eng_curpos pos;
    uint8_t *key; /* current key (bt_key_max bytes) */
    size_t klen;
    struct eng_cursor *next;
} eng_cursor;

struct eng_sess {
    JET_SESID handle;
    eng_inst *inst;
    eng_txn txn;
    uint32_t open_dbs[ENG_MAX_DB + 1]; /* JetOpenDatabase count per dbid */
    eng_cursor *cursors;
    eng_lsn last_commit;               /* for JET_bitWaitLastLevel0Commit */
    /* Set while a call runs on the session (eng_enter_session .. eng_leave_session): a second
     * thread's call meanwhile gets JET_errSessionSharingViolation instead of sharing txn state. */
    atomic_bool busy;
    struct eng_sess *next;
};

/* ---------------------------------------------------------------------------------------------
 * External (streaming) backup state of one instance (backup.c); docs/jet-semantics.md, “External backup”.
 * ------------------------------------------------------------------------------------------- */
#define ENG_BK_MAX_FILES 16 /* ESE's crhfMax: open backup file handles at once */
enum eng_bk_state { BKS_NONE, BKS_DATABASES, BKS_LOGS };

typedef struct eng_bkfile {
    bool used;
    bool is_db;
    uint32_t dbid;       /* database: its dbid (the db stays attached: detach is refused) */
    int fd;              /* log: our read-only fd; database: -1 (reads go through the db's fd) */
    uint64_t size;       /* bytes the stream has */
    uint64_t pos;        /* bytes handed out so far */
    uint32_t npages;     /* database: pages 1..npages-1 are streamed (fixed at open) */
    uint32_t gen;        /* log generation */
    uint8_t *hdr;        /* database: the header block snapshot taken at open (page size) */
    uint8_t *trailer;    /* database: the trailer page, made when the pages are done */
    char path[ENG_PATH_MAX];
} eng_bkfile;

typedef struct eng_backup {
    pthread_mutex_t mu;          /* everything below except stop and hold_gen */
    enum eng_bk_state state;
    bool incremental;
    atomic_bool stop;            /* JetStopBackup(Instance): sticky until End */
    long failed;                 /* a log could not be read: the whole backup is cancelled */
    eng_lsn mark;
    uint64_t mark_usec;
    uint32_t copy_mic, copy_mac; /* logs to copy: [copy_mic, copy_mac) */
    uint32_t delete_mic, delete_mac;
    bool truncated;
    atomic_uint in_session;      /* bit dbid-1: opened by this backup (atomic: detach reads it
                                  * under the instance mutex, which ranks above bk.mu) */
    uint32_t copy_done;          /* bit dbid-1: streamed to the end */
    uint8_t *gen_read;           /* [g - copy_mic]: generation g was read to the end */
    uint32_t ngen_read;          /* how many of [copy_mic, copy_mac) were */
    atomic_uint hold_gen;        /* circular logging keeps generations >= this (0: none held) */
    eng_bkfile files[ENG_BK_MAX_FILES];
} eng_backup;

/* ---------------------------------------------------------------------------------------------
 * Instance (inst.c)
 * ------------------------------------------------------------------------------------------- */
enum eng_inst_state { INST_CREATED, INST_INITIALIZING, INST_RUNNING, INST_TERMINATING };

struct eng_inst {
    JET_INSTANCE handle;
    char name[JET_cbNameMost + 1];
    bool has_name;
    char display[JET_cbNameMost + 1];
    eng_params p;

    pthread_mutex_t mu;          /* state, dbs[], sessions */
    pthread_cond_t cv;           /* active-call drain */
    enum eng_inst_state state;
    int active;                  /* API calls in flight */
    atomic_bool draining;        /* a term waits for the calls in flight: writer-lock waits give up */
    long fatal;                  /* sticky: JET_errInstanceUnavailable reason */
    JET_GRBIT stop_service;      /* JetStopServiceInstance2 bits in force; ENG_STOP_ALL: final */
    eng_db *dbs[ENG_MAX_DB + 1];
    eng_sess *sessions;
    int nsessions;

    eng_log *log;
    eng_log_config logcfg;
    eng_logsig logsig;
    int ckpt_fd;                 /* edb.chk, flock'ed while running */
    pthread_rwlock_t ckpt_lock;
    /* The LSN of the newest checkpoint begun (under ckpt_lock as writer): a commit after it logs
     * the whole image of a page whose last whole image is not newer (txn.c). */
    eng_lsn fpi_horizon;

    pthread_mutex_t ckpt_run;    /* held while a checkpoint runs; detach/term take it to drop a db */
    pthread_t ckpt_thread;
    bool ckpt_running;
    pthread_mutex_t ckpt_wake_mu;
    pthread_cond_t ckpt_wake_cv;
    bool ckpt_wanted, ckpt_stop;
    pthread_mutex_t ckpt_mu;     /* edb.chk's writes and last_ckpt, together */
    eng_lsn last_ckpt;           /* what edb.chk says, under ckpt_mu (eng_ckpt_gen) */

    eng_backup bk;               /* the external backup, if one runs */

    /* OS snapshot freeze (freeze.c): while frozen, nothing is written to the instance's
     * database, checkpoint or log files. Writers of database and checkpoint files enter the gate
     * (eng_frz_enter/exit) around each write; the log has its own pause. */
    pthread_mutex_t frz_mu;
    pthread_cond_t frz_cv;
    bool frozen;                 /* under frz_mu */
    int frz_io;                  /* gated writes in flight, under frz_mu */
    atomic_bool snap_hold;       /* an OS snapshot session holds the backup slot (Freeze..End) */

    /* Owned by instancemgr/, only under its table lock: the engine never reads them. */
    int mgr_pins;                /* callers between resolve and unpin: the struct stays allocated */
    bool mgr_busy;               /* a JetInit or JetTerm of this instance is under way */
    bool mgr_inited;             /* JetInit succeeded and no JetTerm has finished since */
    bool mgr_restoring;          /* JetRestoreInstance runs on it (with mgr_busy) */
    bool mgr_gone;               /* removed from the table; freed when the last pin goes */
};

/* stop_service value after JetStopService / JetStopServiceInstance(2) with JET_bitStopServiceAll. */
#define ENG_STOP_ALL 0x1

eng_inst *eng_inst_new(void);
void eng_inst_free(eng_inst *in);
/* JetInit3's restore map (JET_RSTINFO): checked, with the names in the form the engine stores
 * database paths in (eng_db_canon). */
typedef struct eng_rstmap eng_rstmap;
/* JetInit3: open the log and checkpoint and recover (map: NULL, or a restore map for recovery). */
long eng_inst_init(eng_inst *in, JET_GRBIT grbit, const eng_rstmap *map);
long eng_inst_term(eng_inst *in, JET_GRBIT grbit);
/* JetStopServiceInstance2 on a running instance (grbits as jet.h documents them). */
long eng_inst_stop_service(eng_inst *in, JET_GRBIT grbit);

/* API entry/exit: fails with NotInitialized/TermInProgress/InstanceUnavailable. */
long eng_enter(eng_inst *in);
void eng_leave(eng_inst *in);
/* Resolve a session handle, claim the session (SessionSharingViolation if a call of another
 * thread is on it) and enter its instance; eng_leave_session undoes both. */
long eng_enter_session(JET_SESID sesid, eng_sess **out);
void eng_leave_session(eng_sess *s);
/* A new session of in (JetBeginSession, called by instancemgr/ once in is entered). */
long eng_session_begin(eng_inst *in, JET_SESID *psesid);
/* Close a session's cursors, roll back its transaction and free it. Caller holds no locks. */
void eng_session_destroy(eng_sess *s);
/* Make in unavailable after err (fatal.c): the first error is kept and reported by an event; every
 * later entry fails with eng_fatal_err(err). */
void eng_fatal(eng_inst *in, long err);
/* What a call on an instance (or database) made unavailable by cause returns: JET_errDiskFull for
 * a full database disk, else JET_errInstanceUnavailable. */
long eng_fatal_err(long cause);

/* Databases (db.c). */
long eng_db_create(eng_sess *s, const char *path, JET_GRBIT grbit, JET_DBID *pdbid);
long eng_db_attach(eng_sess *s, const char *path, JET_GRBIT grbit);
long eng_db_detach(eng_sess *s, const char *path);
long eng_db_close_file(eng_inst *in, eng_db *db, bool clean); /* flush, header, free */
/* A database's canonical absolute path, as the engine stores and logs it: realpath of the
 * directory plus the file name, so the file need not exist yet. JET_errDatabaseInvalidPath if
 * the directory does not exist; InvalidParameter (empty) or InvalidPath (no file name, too long). */
long eng_db_canon(const char *path, char out[ENG_PATH_MAX]);
eng_db *eng_db_find(eng_inst *in, const char *path);
long eng_db_open_file(eng_inst *in, const char *path, uint32_t dbid, bool for_recovery, eng_db **out);
long eng_db_alloc_struct(eng_inst *in, const char *path, uint32_t dbid, eng_db **out);
void eng_db_free_struct(eng_db *db);
long eng_db_log_attach(eng_inst *in, eng_db *db, bool create, eng_lsn *lsn);

/* Checkpoint (checkpoint.c). */
long eng_ckpt_write(eng_inst *in, eng_lsn lsn);
/* The checkpoint's position and log signature, and the databases attached then (their dbids,
 * signatures and paths, ndb of each). */
long eng_ckpt_read(eng_inst *in, eng_lsn *lsn, eng_logsig *sig, uint32_t *ndb, uint32_t *dbids,
                  eng_dbsig *dbsigs, char (*paths)[ENG_PATH_MAX]);
long eng_checkpoint(eng_inst *in);
/* Generation of the checkpoint in edb.chk: the first log crash recovery needs. Never waits for
 * a checkpoint held up by a freeze (ckpt_mu is taken only inside the freeze gate). */
uint32_t eng_ckpt_gen(eng_inst *in);
long eng_ckpt_start(eng_inst *in);
void eng_ckpt_stop(eng_inst *in);
void eng_ckpt_kick(eng_inst *in);

/* External backup (backup.c). Each is called between eng_enter and eng_leave and returns the
 * JET_err the public function documents. */
void eng_bk_init(eng_inst *in);
void eng_bk_destroy(eng_inst *in);
long eng_bk_begin(eng_inst *in, JET_GRBIT grbit);
long eng_bk_attach_info(eng_inst *in, char *szz, unsigned long cbMax, unsigned long *pcbActual);
long eng_bk_open(eng_inst *in, const char *name, JET_HANDLE *ph, unsigned long *lo, unsigned long *hi);
long eng_bk_read(eng_inst *in, JET_HANDLE h, void *pv, unsigned long cb, unsigned long *pcb);
long eng_bk_close(eng_inst *in, JET_HANDLE h);
long eng_bk_log_info(eng_inst *in, bool truncate_list, char *szz, unsigned long cbMax,
                     unsigned long *pcbActual, JET_LOGINFO *info);
long eng_bk_truncate(eng_inst *in);
/* JetTruncateLogUpToInstance: delete archived generations <= gen_upto (0: no limit), below the
 * checkpoint and within every attached database's last streaming Full/Incremental backup;
 * *first_kept (optional) gets the first generation left on disk. */
long eng_bk_truncate_upto(eng_inst *in, uint32_t gen_upto, uint32_t *first_kept);
long eng_bk_end(eng_inst *in, JET_GRBIT grbit);
void eng_bk_stop(eng_inst *in);
bool eng_bk_running(eng_inst *in);
/* JetTerm2 with StopBackup/Abrupt/Dirty: end a running backup as aborted by the server. */
void eng_bk_cancel(eng_inst *in);
/* May database dbid be detached now? JET_errDatabaseInUse while a backup streams it. */
long eng_bk_check_detach(eng_inst *in, uint32_t dbid);
/* Read and verify one database page from disk, retrying a damaged one (backup, snapshots). */
long eng_bk_read_page(eng_db *db, uint32_t pgno, uint8_t *buf, bool *retried);

/* Restore (restore.c): hard recovery of databases restored from backup streams. */
typedef struct eng_restore_args {
    const eng_params *p;           /* page size and log base name */
    const char *backup_log_dir;    /* the backed-up logs */
    uint32_t gen_low, gen_high;    /* range to replay; 0: what the directory holds */
    const JET_RSTMAP *map;         /* where the databases are; none: at the paths they had */
    long nmap;
    const char *forward_log_dir;   /* later logs of the same set to roll forward through, or NULL */
    JET_PFNSTATUS pfn;
    JET_RSTSTOP *stop;             /* a point in time to stop at (in) and what was replayed (out, on
                                    * success); NULL: to the end of the logs. Checked by the caller. */
} eng_restore_args;
long eng_restore(const eng_restore_args *a);
/* JetRestoreInstance's restore of a backup directory: every stream and log checked, each
 * database recovered in <path>.restoring and renamed over <path> only when all are done. */
long eng_restore_backup_dir(const eng_params *p, const char *backup_dir, const char *dest, JET_PFNSTATUS pfn);

/* JetBackupInstance and JetRestoreInstance's work (backup-dir.c): the whole sequence into a
 * directory, and a directory's databases put back where they were and recovered. */
long eng_bk_to_dir(eng_inst *in, const char *dir, JET_GRBIT grbit, JET_PFNSTATUS pfn);
long eng_restore_dir(const eng_params *p, const char *backup_dir, const char *dest, JET_PFNSTATUS pfn);

/* The freeze gate (freeze.c), below everything that writes a database or checkpoint file. */
void eng_frz_init(eng_inst *in);
void eng_frz_destroy(eng_inst *in);
/* Around every write to a database or checkpoint file: waits while the instance is frozen. */
void eng_frz_enter(eng_inst *in);
void eng_frz_exit(eng_inst *in);
/* Freeze: stop database and checkpoint writes (waiting for those in flight), then write and sync
 * the log and stop it too. Errors: the log's sticky error (then nothing stays frozen). */
long eng_freeze(eng_inst *in);
void eng_thaw(eng_inst *in);
/* eng_dbhdr_write (dbfile.c) through the freeze gate: what every header write of an attached
 * database must use, so that none reaches the file of a frozen instance. */
long eng_frz_dbhdr_write(eng_db *db, eng_dbhdr *h);

/* OS snapshots (snapshot.c): the per-instance half of JetOSSnapshot*; instancemgr/ runs the
 * sessions that span instances. */
/* Record a snapshot backup in every attached database's header: incremental picks Incremental
 * (or Differential for a copy), otherwise Full (or Copy). */
long eng_snap_stamp(eng_inst *in, bool incremental, bool copy, const eng_bkinfo *bk);
/* Is every attached database's last full backup an OS snapshot? MissingFullBackup if not. */
long eng_snap_check_incremental(eng_inst *in);
/* Delete archived logs below upto (never one crash recovery needs). RequiredLogFilesMissing if
 * the oldest log on disk is already past upto. */
long eng_snap_truncate(eng_inst *in, uint32_t upto);

/* Redo (redo.c): a transaction's page records, held until its COMMIT record is read. */
typedef struct eng_redo_page {
    uint32_t dbid, pgno;
    bool diff;     /* ENG_LR_PAGEDIFF: runs to apply onto the image stamped `base` */
    eng_lsn base;
    uint8_t *img;  /* the whole image, or the runs */
    size_t len;
} eng_redo_page;
typedef struct eng_redo_slot {
    int fd;         /* -1: empty */
    uint32_t pgno;
    bool dirty;     /* newer than the file */
    uint8_t *img;
} eng_redo_slot;
typedef struct eng_redo {
    uint32_t ps; /* page size: set before use */
    eng_redo_page *pages;
    size_t n, cap;
    eng_redo_slot *slots; /* pages written back lazily: a hot page's diffs do not each read and
                           * write the file */
    uint64_t skipped;     /* diffs the file already held */
} eng_redo;
/* Hold an ENG_LR_PAGE or ENG_LR_PAGEDIFF record. Errors: LogCorrupted (wrong size, bad runs),
 * OutOfMemory. */
long eng_redo_add(eng_redo *r, const eng_logrec_view *v);
/* Apply a held page to fd's file as of the commit ending at lsn: a whole image replaces the page;
 * a diff is applied onto the file's page if that page is stamped with the diff's base, skipped if
 * the page already holds this commit or a later one. The page is stamped with lsn and sealed. The
 * result may stay in memory until eng_redo_flush. Errors: ReadVerifyFailure (the page a diff
 * applies to is damaged), DatabaseCorrupted (it is older than the diff's base: a change is
 * missing), OutOfMemory, disk errors. */
long eng_redo_write(eng_redo *r, int fd, eng_redo_page *p, eng_lsn lsn);
/* Write back what eng_redo_write kept in memory for fd (-1: every file), and forget it: call it
 * before syncing or closing a file. Errors: disk errors. */
long eng_redo_flush(eng_redo *r, int fd);
void eng_redo_clear(eng_redo *r); /* drop what is held (a transaction that never committed) */
void eng_redo_free(eng_redo *r); /* drops unflushed pages too: call eng_redo_flush first */

/* Page diffs (pagediff.c), the payload of ENG_LR_PAGEDIFF after its header. */
#define ENG_DIFF_FIRST 16u /* bytes below belong to the pager and are never in a diff */
/* Encode the changes from old to cur into out (at most cap bytes). Returns the length (0: equal),
 * or -1 when it would not fit. */
long eng_pagediff_encode(const uint8_t *old, const uint8_t *cur, uint32_t ps, uint8_t *out, size_t cap);
/* JET_errLogCorrupted unless runs[0..len) is a well-formed diff of a page of ps bytes. */
long eng_pagediff_check(const uint8_t *runs, size_t len, uint32_t ps);
void eng_pagediff_apply(uint8_t *page, const uint8_t *runs, size_t len); /* runs must be checked */

/* Recovery (recovery.c). */
/* JET_errInvalidParameter for a bad map (jet.h, JetInit3); *out is NULL for an empty one, which
 * is no map. */
long eng_rstmap_new(const JET_RSTMAP *map, long n, eng_rstmap **out);
void eng_rstmap_free(eng_rstmap *m);
/* Crash recovery. With a map, every database the checkpoint or the log names is redone at its
 * new path, and one the map leaves out is skipped. */
long eng_recover(eng_inst *in, JET_GRBIT grbit, const eng_rstmap *map, uint32_t *next_gen);

/* Log record payloads and the backup stream trailer: records-int.h (records.c). */

/* Events (events.c): ESE-style event ids through an optional callback. */
void eng_event(eng_inst *in, int level, int id, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#endif
