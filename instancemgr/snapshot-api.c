/*
 * snapshot-api.c — JetOSSnapshot*: snapshot sessions that span instances, their state machine
 * (docs/jet-semantics.md, “OS snapshot sessions” and “Snapshot ordering errors”) and the freeze
 * time-out. The per-instance work (freeze, thaw, header stamps, truncation) is engine/snapshot.c.
 *
 * One mutex (s_mu) guards every session, every instance's membership and every freeze's progress.
 * It is held through each call, thaws included, so a Thaw and the time-out can never both thaw:
 * the timer thread looks at the session's state under the same mutex and acts only if it is still
 * freezing or frozen. The one exception is the freezing itself (see "Freezing" below): an
 * instance's eng_freeze waits for its disk, which may never answer, so it runs without s_mu.
 * Each session in Freezing or Freeze has a timer thread that sleeps until the deadline or a state
 * change; the session is freed when the list, the timer and a Freeze call in progress have all
 * let go of it (refs).
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "imgr-int.h"

/* SS_FREEZING: a Freeze call is freezing the instances (s->job). Calls that need another state get
 * OSSnapshotInvalidSequence, as in Freeze; Abort, the time-out and a term end it at once. */
enum snap_state { SS_PREPARE, SS_FREEZING, SS_FREEZE, SS_TIMEOUT, SS_ALLOW_TRUNCATE, SS_LOG_TRUNCATED };

struct snap_inst {
    eng_inst *in;     /* pinned */
    eng_bkinfo bk;    /* what End records: mark, generations [checkpoint, current] at freeze */
    bool truncated;
};

struct snap_sess {
    JET_OSSNAPID id;
    enum snap_state state;
    JET_GRBIT grbit;
    struct snap_inst *v;
    size_t n, cap;
    int refs;            /* the list, the timer thread while it runs, a Freeze call while it runs */
    bool listed;
    pthread_cond_t cv;   /* the timer waits on it; signalled on every state change */
    struct timespec deadline;
    uint32_t timeout_ms;
    bool timer;          /* its timer thread runs */
    struct freeze_job *job; /* while a Freeze call of this session runs */
    struct snap_sess *next;
};

static pthread_mutex_t s_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t s_cv = PTHREAD_COND_INITIALIZER; /* with s_mu: an instance's eng_freeze returned */
static struct snap_sess *s_list;
static struct freeze_job *s_jobs; /* every Freeze call in progress, also of sessions already ended */
static JET_OSSNAPID s_next_id = 1;

/* A Freeze call's progress (see "Freezing" below). Where one instance's freeze is, under s_mu: */
enum frz_step {
    FZ_WAITING, /* no worker has taken it yet */
    FZ_RUNNING, /* a worker is in its eng_freeze (without s_mu); only that worker may thaw it */
    FZ_FROZEN,  /* frozen: whoever ends the freeze, or Freeze on a failure, thaws it */
    FZ_FAILED,  /* its eng_freeze failed and undid itself */
    FZ_OVER,    /* the freeze was ended: never begun, or thawed again; its backup slot is free */
};

/* Why a freeze was ended while it was being made. */
enum frz_end { FE_NONE, FE_ABORT, FE_TIMEOUT, FE_TERM };

struct frz_slot {
    eng_inst *in;
    enum frz_step step;
    long err;
    eng_bkinfo bk; /* what End records, taken by the worker once frozen */
};

struct freeze_job {
    struct frz_slot *v; /* the session's instances, in its order, when Freeze began */
    size_t n, next;     /* next: the first slot no worker has taken */
    enum frz_end ended;
    struct freeze_job *next_job; /* s_jobs */
};

/* Is a worker in this instance's eng_freeze now, for whichever session? Under s_mu. */
static bool freezing_now(eng_inst *in)
{
    for (struct freeze_job *j = s_jobs; j; j = j->next_job)
        for (size_t i = 0; i < j->n; i++)
            if (j->v[i].in == in && j->v[i].step == FZ_RUNNING)
                return true;
    return false;
}

static struct snap_sess *find(JET_OSSNAPID id)
{
    for (struct snap_sess *s = s_list; s; s = s->next)
        if (s->id == id)
            return s;
    return NULL;
}

/* The session an instance belongs to, if any. Under s_mu. */
static struct snap_sess *session_of(eng_inst *in, size_t *idx)
{
    for (struct snap_sess *s = s_list; s; s = s->next)
        for (size_t i = 0; i < s->n; i++)
            if (s->v[i].in == in) {
                if (idx)
                    *idx = i;
                return s;
            }
    return NULL;
}

static void sess_unref(struct snap_sess *s)
{
    if (--s->refs == 0) {
        pthread_cond_destroy(&s->cv);
        free(s->v);
        free(s);
    }
}

/* Take a session out of the list and let go of its instances. Under s_mu. */
static void sess_remove(struct snap_sess *s)
{
    for (struct snap_sess **pp = &s_list; *pp; pp = &(*pp)->next)
        if (*pp == s) {
            *pp = s->next;
            break;
        }
    for (size_t i = 0; i < s->n; i++) {
        if (!freezing_now(s->v[i].in)) /* else its worker releases it once it has thawed it */
            atomic_store(&s->v[i].in->snap_hold, false);
        imgr_unpin(s->v[i].in);
    }
    s->n = 0;
    s->listed = false;
    pthread_cond_broadcast(&s->cv);
    sess_unref(s);
}

/* The session's instances and databases as JET_INSTANCE_INFO (Freeze, GetFreezeInfo). */
static long session_info(struct snap_sess *s, unsigned long *pc, JET_INSTANCE_INFO **pa)
{
    eng_inst **v = malloc((s->n ? s->n : 1) * sizeof *v);
    ENG_RETURN_IF(!v, JET_errOutOfMemory, "no memory to list the snapshot's instances");
    for (size_t i = 0; i < s->n; i++)
        v[i] = s->v[i].in;
    long err = imgr_instance_info(v, s->n, pc, pa);
    free(v);
    return err;
}

static long add_instance(struct snap_sess *s, eng_inst *in)
{
    if (s->n == s->cap) {
        size_t nc = s->cap ? s->cap * 2 : 8;
        struct snap_inst *nv = realloc(s->v, nc * sizeof *nv);
        ENG_RETURN_IF(!nv, JET_errOutOfMemory, "no memory to add an instance to the snapshot");
        s->v = nv;
        s->cap = nc;
    }
    memset(&s->v[s->n], 0, sizeof s->v[s->n]);
    s->v[s->n++].in = in;
    return JET_errSuccess;
}

/* Can this instance take part in a snapshot now? */
static long allowed(eng_inst *in)
{
    pthread_mutex_lock(&in->mu);
    bool running = in->state == INST_RUNNING && !in->fatal;
    pthread_mutex_unlock(&in->mu);
    if (!running || eng_bk_running(in))
        return JET_errOSSnapshotNotAllowed; /* not backup-capable, or a streaming backup runs */
    return JET_errSuccess;
}

/* Has JetInit finished, and JetTerm not begun? (Whether it can be frozen now is allowed()'s.) */
static bool initialized(eng_inst *in)
{
    pthread_mutex_lock(&in->mu);
    bool running = in->state == INST_RUNNING;
    pthread_mutex_unlock(&in->mu);
    return running;
}

static const char *kind_name(JET_GRBIT g)
{
    bool inc = g & JET_bitIncrementalSnapshot, copy = g & JET_bitCopySnapshot;
    return inc ? (copy ? "Differential" : "Incremental") : (copy ? "Copy" : "Full");
}

static int kind_event(JET_GRBIT g)
{
    bool inc = g & JET_bitIncrementalSnapshot, copy = g & JET_bitCopySnapshot;
    return inc ? (copy ? 2010 : 2008) : (copy ? 2009 : 2005);
}

JET_ERR JET_API JetOSSnapshotPrepare(JET_OSSNAPID *psnapId, const JET_GRBIT grbit)
{
    const JET_GRBIT known = JET_bitIncrementalSnapshot | JET_bitCopySnapshot | JET_bitContinueAfterThaw |
                            JET_bitExplicitPrepare;
    ENG_RETURN_IF(grbit & ~known, JET_errInvalidGrbit,
                  "preparing a snapshot takes only Incremental, Copy, ContinueAfterThaw and ExplicitPrepare");
    ENG_RETURN_IF(!psnapId, JET_errInvalidParameter, "no place was given for the snapshot id");
    eng_inst **all = NULL;
    size_t n = 0;
    long err = imgr_pin_all(&all, &n);
    if (err)
        return err;
    if (!n) {
        free(all);
        return JET_errNotInitialized; /* no instance at all: the engine is not up */
    }
    struct snap_sess *s = calloc(1, sizeof *s);
    if (!s) {
        for (size_t i = 0; i < n; i++)
            imgr_unpin(all[i]);
        free(all);
        return JET_errOutOfMemory;
    }
    pthread_cond_init(&s->cv, NULL);
    s->grbit = grbit;
    s->state = SS_PREPARE;
    s->refs = 1;
    s->listed = true;
    pthread_mutex_lock(&s_mu);
    s->id = s_next_id++;
    for (size_t i = 0; i < n; i++) {
        eng_inst *in = all[i];
        /* Without ExplicitPrepare every initialized instance not in a session joins, also one that
         * cannot be frozen now (a streaming backup runs, it became unavailable, or the freeze of
         * a session aborted meanwhile is still waiting for its disk): Freeze then refuses the
         * whole set with OSSnapshotNotAllowed, as ESE's does. Leaving it out would let a Freeze
         * "succeed" without it, and the coordinator take a copy of a running one. */
        if (!err && !(grbit & JET_bitExplicitPrepare) && !session_of(in, NULL) && initialized(in)) {
            err = add_instance(s, in);
            if (!err) {
                eng_event(in, 3, kind_event(grbit), "the shadow copy will be a %s shadow copy", kind_name(grbit));
                continue; /* the session keeps the pin */
            }
        }
        imgr_unpin(in);
    }
    free(all);
    if (err) {
        for (size_t i = 0; i < s->n; i++)
            imgr_unpin(s->v[i].in);
        pthread_cond_destroy(&s->cv);
        free(s->v);
        free(s);
    } else {
        s->next = s_list;
        s_list = s;
        *psnapId = s->id;
    }
    pthread_mutex_unlock(&s_mu);
    return err;
}

JET_ERR JET_API JetOSSnapshotPrepareInstance(JET_OSSNAPID snapId, JET_INSTANCE instance, const JET_GRBIT grbit)
{
    pthread_mutex_lock(&s_mu);
    struct snap_sess *s = find(snapId);
    long err = !s ? JET_errOSSnapshotInvalidSnapId
               : grbit ? JET_errInvalidGrbit
               : s->state != SS_PREPARE ? JET_errOSSnapshotInvalidSequence
                                        : JET_errSuccess;
    eng_inst *in = NULL;
    if (!err)
        err = imgr_pin(instance, &in);
    if (!err && (session_of(in, NULL) || atomic_load(&in->snap_hold)))
        err = JET_errOSSnapshotNotAllowed; /* an instance is in at most one session */
    if (!err)
        err = allowed(in);
    if (!err)
        err = add_instance(s, in);
    if (!err)
        eng_event(in, 3, kind_event(s->grbit), "the shadow copy will be a %s shadow copy", kind_name(s->grbit));
    else if (in)
        imgr_unpin(in);
    pthread_mutex_unlock(&s_mu);
    return err;
}

/* Freezing.
 *
 * Freezing the instances one after another would add their waits up: an instance in the middle
 * of a log roll, of creating its next log file or of a cache flush batch holds the freeze up for
 * a few milliseconds, and meanwhile the instances not yet frozen keep starting new rolls and
 * batches. So the instances are frozen in parallel, by up to FREEZE_WORKERS threads (the caller
 * is one of them) that take them in turn; the freeze then lasts about as long as its slowest
 * instance. Each instance's freeze is the same eng_freeze as before and touches only that
 * instance.
 *
 * The slowest may never finish: an instance whose disk stops answering (its filesystem frozen by
 * someone else, a dead NFS server, a hung disk) waits in eng_freeze — for the writes in its gate,
 * for its log's write and fdatasync — as long as the kernel keeps it there, while the other
 * instances of the session are already frozen and their writers blocked. So the workers run
 * without s_mu, the session is in SS_FREEZING meanwhile, and whoever ends the freeze — Abort (or
 * End with AbortSnapshot), the time-out, the term of an instance of the session — ends it at once
 * under s_mu (end_freeze): every instance whose freeze is done is thawed and its backup slot
 * (snap_hold) released, every instance not yet begun is skipped, and the job is marked ended. An
 * instance still inside its eng_freeze belongs to its worker: when eng_freeze returns, the worker
 * sees the job ended and thaws it — without s_mu, since that instance's I/O is the slow one — and
 * only then releases its backup slot, so no other session and no streaming backup takes the
 * instance while this freeze could still undo theirs.
 *
 * The Freeze call joins its workers as before: it returns when its slowest instance is done, late
 * if that one is stuck (the kernel's doing, not ours), with the reason its freeze was ended:
 * OSSnapshotInvalidSnapId after an abort (the session is gone, as if Abort had come first),
 * OSSnapshotTimeOut after the time-out or a term (what Thaw reports after those).
 *
 * Lifetimes: the job belongs to the Freeze call and is on s_jobs until it returns; the session
 * stays allocated while the call runs (it holds a ref), also after Abort took it off the list;
 * and an instance stays allocated while a worker is in its eng_freeze, because JetTerm waits in
 * imgr_snap_leave until no worker is. So no worker outlives the call, and nothing a worker
 * touches is freed under it. */
#define FREEZE_WORKERS 8

/* End the freeze of a session that is freezing or frozen, without a Thaw: thaw what is frozen and
 * release the backup slots now; an instance still inside its eng_freeze is left to its worker.
 * Any other state: nothing to do. Under s_mu. */
static void end_freeze(struct snap_sess *s, enum frz_end why)
{
    if (s->state == SS_FREEZE) {
        for (size_t i = 0; i < s->n; i++) {
            eng_thaw(s->v[i].in);
            atomic_store(&s->v[i].in->snap_hold, false);
        }
    } else if (s->state == SS_FREEZING) {
        struct freeze_job *j = s->job;
        j->ended = why;
        for (size_t i = 0; i < j->n; i++) {
            struct frz_slot *sl = &j->v[i];
            if (sl->step == FZ_RUNNING || sl->step == FZ_OVER)
                continue;
            if (sl->step == FZ_FROZEN)
                eng_thaw(sl->in);
            atomic_store(&sl->in->snap_hold, false);
            sl->step = FZ_OVER;
        }
    }
}

static void set_deadline(struct snap_sess *s)
{
    clock_gettime(CLOCK_REALTIME, &s->deadline);
    s->deadline.tv_sec += s->timeout_ms / 1000;
    s->deadline.tv_nsec += (long)(s->timeout_ms % 1000) * 1000000L;
    if (s->deadline.tv_nsec >= 1000000000L) {
        s->deadline.tv_sec++;
        s->deadline.tv_nsec -= 1000000000L;
    }
}

static bool timer_due(const struct snap_sess *s)
{
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    return now.tv_sec > s->deadline.tv_sec ||
           (now.tv_sec == s->deadline.tv_sec && now.tv_nsec >= s->deadline.tv_nsec);
}

/* The timer of a freezing or frozen session: end the freeze by itself at the deadline. While
 * freezing the deadline counts from the start of Freeze, so a freeze that cannot finish does not
 * keep the instances already frozen waiting longer than the time-out; once frozen it counts anew
 * from the end of Freeze. A timer whose Freeze failed may go on serving the next Freeze. */
static void *timer_main(void *arg)
{
    struct snap_sess *s = arg;
    pthread_mutex_lock(&s_mu);
    while ((s->state == SS_FREEZING || s->state == SS_FREEZE) && s->listed) {
        if (!timer_due(s)) {
            pthread_cond_timedwait(&s->cv, &s_mu, &s->deadline);
            continue;
        }
        /* Thawing and the state change happen under s_mu: a late Thaw sees TIMEOUT. */
        end_freeze(s, FE_TIMEOUT);
        for (size_t i = 0; i < s->n; i++)
            eng_event(s->v[i].in, 2, 2004, "the shadow copy freeze timed out (%u ms)", s->timeout_ms);
        s->state = SS_TIMEOUT;
        break;
    }
    s->timer = false;
    sess_unref(s);
    pthread_mutex_unlock(&s_mu);
    return NULL;
}

static void *freeze_worker(void *arg)
{
    struct freeze_job *j = arg;
    pthread_mutex_lock(&s_mu);
    while (j->ended == FE_NONE && j->next < j->n) {
        struct frz_slot *sl = &j->v[j->next++];
        sl->step = FZ_RUNNING;
        pthread_mutex_unlock(&s_mu);
        eng_inst *in = sl->in;
        long err = eng_freeze(in);
        eng_bkinfo bk = {0};
        if (!err) {
            /* Recorded frozen, so neither can move: the first log recovery of this copy needs, and
             * the generation holding the last commit in it. */
            bk.mark = in->log ? log_tip(in->log) : 0;
            bk.mark_usec = eng_now_usec();
            bk.gen_low = eng_ckpt_gen(in);
            bk.gen_high = ENG_LSN_GEN(bk.mark);
            bk.type = ENG_BKTYPE_SNAPSHOT;
        }
        pthread_mutex_lock(&s_mu);
        sl->err = err;
        sl->bk = bk;
        if (j->ended != FE_NONE) {
            /* Ended while this instance froze: undoing it is ours. */
            pthread_mutex_unlock(&s_mu);
            if (!err)
                eng_thaw(in);
            pthread_mutex_lock(&s_mu);
            atomic_store(&in->snap_hold, false);
            sl->step = FZ_OVER;
        } else {
            sl->step = err ? FZ_FAILED : FZ_FROZEN;
        }
        pthread_cond_broadcast(&s_cv);
    }
    pthread_mutex_unlock(&s_mu);
    return NULL;
}

/* Start freezing s (snap_hold already set on each instance): the job, the timer, SS_FREEZING.
 * Under s_mu. On failure nothing has changed. */
static long freeze_begin(struct snap_sess *s, struct freeze_job **pj)
{
    struct freeze_job *j = calloc(1, sizeof *j);
    struct frz_slot *v = calloc(s->n ? s->n : 1, sizeof *v);
    if (!j || !v) {
        free(j);
        free(v);
        ENG_RETURN_IF(true, JET_errOutOfMemory, "no memory to track the freeze of the snapshot's instances");
    }
    j->v = v;
    j->n = s->n;
    uint32_t timeout = UINT32_MAX;
    for (size_t i = 0; i < s->n; i++) {
        v[i].in = s->v[i].in;
        uint32_t t = ENG_PARAM_LOAD(s->v[i].in, ossnapshot_timeout_ms);
        if (t < timeout)
            timeout = t;
    }
    s->timeout_ms = timeout == UINT32_MAX ? 70000 : timeout;
    set_deadline(s);
    if (s->timer) {
        pthread_cond_broadcast(&s->cv); /* the timer of a failed Freeze serves this one */
    } else {
        pthread_t th;
        s->refs++;
        if (pthread_create(&th, NULL, timer_main, s) != 0) {
            /* Without a timer a freeze could outlive its caller: refuse it. */
            s->refs--;
            free(v);
            free(j);
            ENG_RETURN_IF(true, JET_errOutOfMemory, "no thread could be started for the freeze time-out");
        }
        pthread_detach(th);
        s->timer = true;
    }
    s->state = SS_FREEZING;
    s->job = j;
    s->refs++; /* the Freeze call's, until freeze_end */
    j->next_job = s_jobs;
    s_jobs = j;
    for (size_t i = 0; i < s->n; i++)
        eng_event(s->v[i].in, 3, 2001, "the shadow copy freeze started");
    *pj = j;
    return JET_errSuccess;
}

/* Freeze every instance of the job, in parallel. Without s_mu. */
static void freeze_run(struct freeze_job *j)
{
    pthread_t th[FREEZE_WORKERS - 1];
    size_t nth = 0;
    size_t want = j->n < FREEZE_WORKERS ? (j->n ? j->n - 1 : 0) : FREEZE_WORKERS - 1;
    /* A worker that cannot be started is no error: the caller and the others take its share. */
    while (nth < want && pthread_create(&th[nth], NULL, freeze_worker, j) == 0)
        nth++;
    freeze_worker(j);
    for (size_t i = 0; i < nth; i++)
        pthread_join(th[i], NULL);
}

/* Why Freeze fails when its freeze was ended before it returned. */
static long ended_error(enum frz_end why)
{
    ENG_RETURN_IF(why == FE_ABORT, JET_errOSSnapshotInvalidSnapId,
                  "the snapshot session was aborted while its instances were being frozen");
    ENG_RETURN_IF(why == FE_TIMEOUT, JET_errOSSnapshotTimeOut,
                  "the freeze time-out passed before every instance of the session was frozen");
    ENG_RETURN_IF(why == FE_TERM, JET_errOSSnapshotTimeOut,
                  "an instance of the session was terminated while the session was being frozen");
    return JET_errSuccess;
}

/* The workers are done: settle the session (all or nothing, as before) and let go of the job and
 * of the call's ref on s. Under s_mu; s must not be used after it. */
static long freeze_end(struct snap_sess *s, struct freeze_job *j, unsigned long *pcInstanceInfo,
                       JET_INSTANCE_INFO **paInstanceInfo)
{
    for (struct freeze_job **pp = &s_jobs; *pp; pp = &(*pp)->next_job)
        if (*pp == j) {
            *pp = j->next_job;
            break;
        }
    s->job = NULL;
    long err = ended_error(j->ended); /* then every slot is FZ_OVER, and s is settled already */
    if (j->ended == FE_NONE) {
        /* Nobody ended it, so the session's instances are still the job's, in the same order. */
        for (size_t i = 0; i < j->n; i++)
            if (j->v[i].err) {
                eng_event(j->v[i].in, 1, 2002, "the shadow copy freeze failed with error %ld", j->v[i].err);
                if (!err)
                    err = j->v[i].err;
            }
        JET_INSTANCE_INFO *info = NULL;
        unsigned long count = 0;
        if (!err) {
            for (size_t i = 0; i < j->n; i++)
                s->v[i].bk = j->v[i].bk;
            err = session_info(s, &count, &info);
        }
        if (err) {
            /* All or nothing: on failure nothing stays frozen or held, and the session is in
             * Prepare again. */
            for (size_t i = 0; i < j->n; i++) {
                if (j->v[i].step == FZ_FROZEN)
                    eng_thaw(j->v[i].in); /* eng_freeze undid its own failure already */
                atomic_store(&j->v[i].in->snap_hold, false);
            }
            s->state = SS_PREPARE;
        } else {
            s->state = SS_FREEZE;
            set_deadline(s);
            *pcInstanceInfo = count;
            *paInstanceInfo = info;
        }
        pthread_cond_broadcast(&s->cv);
    }
    free(j->v);
    free(j);
    sess_unref(s);
    return err;
}

JET_ERR JET_API JetOSSnapshotFreeze(const JET_OSSNAPID snapId, unsigned long *pcInstanceInfo,
                                    JET_INSTANCE_INFO **paInstanceInfo, const JET_GRBIT grbit)
{
    pthread_mutex_lock(&s_mu);
    struct snap_sess *s = find(snapId);
    long err = !s ? JET_errOSSnapshotInvalidSnapId
               : grbit ? JET_errInvalidGrbit
               : s->state != SS_PREPARE ? JET_errOSSnapshotInvalidSequence
               : !pcInstanceInfo || !paInstanceInfo ? JET_errInvalidParameter
                                                     : JET_errSuccess;
    bool inc = s && (s->grbit & JET_bitIncrementalSnapshot);
    for (size_t i = 0; s && !err && i < s->n; i++) {
        eng_inst *in = s->v[i].in;
        err = allowed(in);
        /* Two freezes of one instance at once would undo each other: the worker of an aborted
         * session's freeze thaws the instance when its eng_freeze returns. */
        if (!err && freezing_now(in))
            err = JET_errOSSnapshotNotAllowed;
        if (!err && inc && ENG_PARAM_LOAD(in, circular_log))
            err = JET_errInvalidBackup;
        if (!err && inc)
            err = eng_snap_check_incremental(in);
    }
    size_t held = 0;
    for (; !err && held < s->n; held++) {
        eng_inst *in = s->v[held].in;
        atomic_store(&in->snap_hold, true); /* a streaming backup is refused from here on */
        if (eng_bk_running(in)) {
            err = JET_errOSSnapshotNotAllowed; /* one started just now */
            atomic_store(&in->snap_hold, false);
            break;
        }
    }
    struct freeze_job *j = NULL;
    if (!err)
        err = freeze_begin(s, &j);
    if (err) {
        for (size_t i = 0; s && i < held; i++)
            atomic_store(&s->v[i].in->snap_hold, false);
        pthread_mutex_unlock(&s_mu);
        return err;
    }
    pthread_mutex_unlock(&s_mu);
    freeze_run(j);
    pthread_mutex_lock(&s_mu);
    err = freeze_end(s, j, pcInstanceInfo, paInstanceInfo);
    pthread_mutex_unlock(&s_mu);
    return err;
}

JET_ERR JET_API JetOSSnapshotGetFreezeInfo(const JET_OSSNAPID snapId, unsigned long *pcInstanceInfo,
                                           JET_INSTANCE_INFO **paInstanceInfo, const JET_GRBIT grbit)
{
    pthread_mutex_lock(&s_mu);
    struct snap_sess *s = find(snapId);
    long err = !s ? JET_errOSSnapshotInvalidSnapId
               : grbit ? JET_errInvalidGrbit
               : !pcInstanceInfo || !paInstanceInfo ? JET_errInvalidParameter
                                                     : JET_errSuccess;
    if (!err) {
        err = session_info(s, pcInstanceInfo, paInstanceInfo);
    }
    pthread_mutex_unlock(&s_mu);
    return err;
}

/* End a session normally (stamp headers) or as aborted. Under s_mu; s is removed. */
static long finish(struct snap_sess *s, bool abort)
{
    long err = JET_errSuccess;
    bool stamp = !abort && (s->state == SS_ALLOW_TRUNCATE || s->state == SS_LOG_TRUNCATED);
    end_freeze(s, FE_ABORT); /* only an abort comes here freezing or frozen */
    for (size_t i = 0; i < s->n; i++) {
        eng_inst *in = s->v[i].in;
        if (stamp) {
            long e = eng_snap_stamp(in, s->grbit & JET_bitIncrementalSnapshot, s->grbit & JET_bitCopySnapshot,
                                    &s->v[i].bk);
            if (e && !err)
                err = e;
        }
        if (abort)
            eng_event(in, 2, 2007, "the shadow copy was aborted");
        else
            eng_event(in, 3, 2006, "the shadow copy completed successfully");
    }
    sess_remove(s);
    return err;
}

JET_ERR JET_API JetOSSnapshotThaw(const JET_OSSNAPID snapId, const JET_GRBIT grbit)
{
    pthread_mutex_lock(&s_mu);
    struct snap_sess *s = find(snapId);
    long err = !s ? JET_errOSSnapshotInvalidSnapId
               : grbit ? JET_errInvalidGrbit
               : s->state == SS_TIMEOUT ? JET_errOSSnapshotTimeOut
               : s->state != SS_FREEZE ? JET_errOSSnapshotInvalidSequence
                                       : JET_errSuccess;
    if (!err) {
        /* Under s_mu: the timer cannot fire in between. */
        s->state = SS_ALLOW_TRUNCATE;
        for (size_t i = 0; i < s->n; i++) {
            eng_thaw(s->v[i].in);
            eng_event(s->v[i].in, 3, 2003, "the shadow copy freeze ended");
        }
        pthread_cond_broadcast(&s->cv);
    }
    /* Without ContinueAfterThaw the session ends here: normally, or aborted after a time-out. */
    if (s && !(s->grbit & JET_bitContinueAfterThaw) && (err == JET_errSuccess || err == JET_errOSSnapshotTimeOut)) {
        long e = finish(s, err == JET_errOSSnapshotTimeOut);
        if (!err)
            err = e;
    }
    pthread_mutex_unlock(&s_mu);
    return err;
}

static long truncate_one(struct snap_sess *s, size_t i, JET_GRBIT grbit)
{
    struct snap_inst *si = &s->v[i];
    if (si->truncated)
        return JET_errSuccess;
    long err = JET_errSuccess;
    if ((grbit & JET_bitAllDatabasesSnapshot) && !ENG_PARAM_LOAD(si->in, circular_log))
        err = eng_snap_truncate(si->in, si->bk.gen_low < si->bk.gen_high ? si->bk.gen_low : si->bk.gen_high);
    else
        eng_event(si->in, 3, 225, "no log files are truncated for this shadow copy");
    if (!err)
        si->truncated = true;
    return err;
}

static long truncate_check(struct snap_sess *s, JET_GRBIT grbit)
{
    if (!s)
        return JET_errOSSnapshotInvalidSnapId;
    if (grbit & ~(JET_GRBIT)JET_bitAllDatabasesSnapshot)
        return JET_errInvalidGrbit;
    if ((s->state != SS_ALLOW_TRUNCATE && s->state != SS_LOG_TRUNCATED) || (s->grbit & JET_bitCopySnapshot))
        return JET_errOSSnapshotInvalidSequence; /* a copy snapshot never truncates */
    return JET_errSuccess;
}

JET_ERR JET_API JetOSSnapshotTruncateLog(const JET_OSSNAPID snapId, const JET_GRBIT grbit)
{
    pthread_mutex_lock(&s_mu);
    struct snap_sess *s = find(snapId);
    long err = truncate_check(s, grbit);
    for (size_t i = 0; !err && i < s->n; i++)
        err = truncate_one(s, i, grbit);
    if (!err)
        s->state = SS_LOG_TRUNCATED;
    pthread_mutex_unlock(&s_mu);
    return err;
}

JET_ERR JET_API JetOSSnapshotTruncateLogInstance(const JET_OSSNAPID snapId, JET_INSTANCE instance,
                                                 const JET_GRBIT grbit)
{
    pthread_mutex_lock(&s_mu);
    struct snap_sess *s = find(snapId);
    long err = truncate_check(s, grbit);
    if (!err) {
        /* ESE looks the instance up in the session, not in the instance table. */
        eng_inst *in = NULL;
        size_t idx = 0;
        bool member = false;
        if (!imgr_pin(instance, &in)) {
            for (size_t i = 0; i < s->n; i++)
                if (s->v[i].in == in) {
                    idx = i;
                    member = true;
                }
            imgr_unpin(in);
        }
        if (!member)
            err = JET_wrnNyi;
        else if (!(err = truncate_one(s, idx, grbit)))
            s->state = SS_LOG_TRUNCATED;
    }
    pthread_mutex_unlock(&s_mu);
    return err;
}

JET_ERR JET_API JetOSSnapshotEnd(const JET_OSSNAPID snapId, const JET_GRBIT grbit)
{
    pthread_mutex_lock(&s_mu);
    struct snap_sess *s = find(snapId);
    long err = !s ? JET_errOSSnapshotInvalidSnapId
               : grbit & ~(JET_GRBIT)JET_bitAbortSnapshot ? JET_errInvalidGrbit
                                                          : JET_errSuccess;
    if (!err && (grbit & JET_bitAbortSnapshot)) {
        finish(s, true);
    } else if (!err) {
        if (s->state == SS_FREEZING || s->state == SS_FREEZE || s->state == SS_TIMEOUT)
            err = JET_errOSSnapshotInvalidSequence;
        else
            err = finish(s, false);
    }
    pthread_mutex_unlock(&s_mu);
    return err;
}

JET_ERR JET_API JetOSSnapshotAbort(const JET_OSSNAPID snapId, const JET_GRBIT grbit)
{
    pthread_mutex_lock(&s_mu);
    struct snap_sess *s = find(snapId);
    long err = !s ? JET_errOSSnapshotInvalidSnapId : grbit ? JET_errInvalidGrbit : JET_errSuccess;
    if (!err)
        finish(s, true);
    pthread_mutex_unlock(&s_mu);
    return err;
}

void imgr_snap_leave(eng_inst *in)
{
    pthread_mutex_lock(&s_mu);
    struct snap_sess *s = session_of(in, NULL);
    if (s && (s->state == SS_FREEZE || s->state == SS_FREEZING)) {
        /* Waiting for Thaw or the time-out would hold the term up for as long as a minute, and
         * the copy cannot be whole anyway once this instance shuts down. So the term ends the
         * freeze of the whole session as the time-out does: every instance is thawed now (one
         * still being frozen by its worker when that returns), and the service's Thaw or Freeze
         * reports JET_errOSSnapshotTimeOut so it discards the copy. */
        end_freeze(s, FE_TERM);
        for (size_t i = 0; i < s->n; i++)
            eng_event(s->v[i].in, 2, 2007, "the shadow copy freeze was ended by the termination of instance %s",
                      in->has_name ? in->name : "(unnamed)");
        s->state = SS_TIMEOUT;
        pthread_cond_broadcast(&s->cv);
    }
    /* A worker may still be in this instance's eng_freeze — of this session, or of one aborted
     * since — waiting for its disk. The term must not close the log that freeze is pausing, so
     * it waits for the worker, which thaws the instance first. This waits only for the term's
     * own instance: another's term went on above. */
    while (freezing_now(in))
        pthread_cond_wait(&s_cv, &s_mu);
    size_t idx;
    s = session_of(in, &idx); /* again: the session may have ended or changed meanwhile */
    if (s) {
        atomic_store(&in->snap_hold, false);
        s->v[idx] = s->v[--s->n];
        imgr_unpin(in);
    }
    pthread_mutex_unlock(&s_mu);
}
