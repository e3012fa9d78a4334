/*
 * snapshot-api.c — JetOSSnapshot*: snapshot sessions that span instances, their state machine
 * (docs/jet-semantics.md, “OS snapshot sessions” and “Snapshot ordering errors”) and the freeze
 * time-out. The per-instance work (freeze, thaw, header stamps, truncation) is engine/snapshot.c.
 *
 * One mutex (s_mu) guards every session and every instance's membership. It is held through each
 * call, engine freezes and thaws included, so a Thaw and the time-out can never both thaw: the
 * timer thread looks at the session's state under the same mutex and acts only if it is still
 * frozen. Each session in Freeze has a timer thread that sleeps until the deadline or a state
 * change; the session is freed when both the list and the timer have let go of it.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "imgr-int.h"

enum snap_state { SS_PREPARE, SS_FREEZE, SS_TIMEOUT, SS_ALLOW_TRUNCATE, SS_LOG_TRUNCATED };

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
    int refs;            /* the list, and the timer thread while it runs */
    bool listed;
    pthread_cond_t cv;   /* the timer waits on it; signalled on every state change */
    struct timespec deadline;
    uint32_t timeout_ms;
    struct snap_sess *next;
};

static pthread_mutex_t s_mu = PTHREAD_MUTEX_INITIALIZER;
static struct snap_sess *s_list;
static JET_OSSNAPID s_next_id = 1;

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
         * cannot be frozen now (a streaming backup runs, or it became unavailable): Freeze then
         * refuses the whole set with OSSnapshotNotAllowed, as ESE's does. Leaving it out would
         * let a Freeze "succeed" without it, and the coordinator take a copy of a running one. */
        if (!err && !(grbit & JET_bitExplicitPrepare) && !session_of(in, NULL) && initialized(in) &&
            !atomic_load(&in->snap_hold)) {
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

/* The timer of a frozen session: thaw by itself at the deadline. */
static void *timer_main(void *arg)
{
    struct snap_sess *s = arg;
    pthread_mutex_lock(&s_mu);
    while (s->state == SS_FREEZE && s->listed) {
        if (pthread_cond_timedwait(&s->cv, &s_mu, &s->deadline) != 0 && s->state == SS_FREEZE && s->listed) {
            /* Thawing and the state change happen under s_mu: a late Thaw sees TIMEOUT. */
            for (size_t i = 0; i < s->n; i++) {
                eng_thaw(s->v[i].in);
                atomic_store(&s->v[i].in->snap_hold, false);
                eng_event(s->v[i].in, 2, 2004, "the shadow copy freeze timed out (%u ms)", s->timeout_ms);
            }
            s->state = SS_TIMEOUT;
            break;
        }
    }
    sess_unref(s);
    pthread_mutex_unlock(&s_mu);
    return NULL;
}

/* Freezing the instances one after another would add their waits up: an instance in the middle
 * of a log roll, of creating its next log file or of a cache flush batch holds the freeze up for
 * a few milliseconds, and meanwhile the instances not yet frozen keep starting new rolls and
 * batches. So the instances are frozen in parallel, by up to FREEZE_WORKERS threads (the caller
 * is one of them) that take them in turn from a shared index; the freeze then lasts about as long
 * as its slowest instance. Each instance's freeze is the same eng_freeze as before and touches
 * only that instance; the caller holds s_mu throughout, as before, so a time-out or a Thaw of
 * this session cannot run meanwhile. */
#define FREEZE_WORKERS 8

struct freeze_job {
    struct snap_sess *s;
    long *errs; /* per instance of the session */
    atomic_size_t next;
};

static void *freeze_worker(void *arg)
{
    struct freeze_job *j = arg;
    size_t i;
    while ((i = atomic_fetch_add(&j->next, 1)) < j->s->n) {
        eng_inst *in = j->s->v[i].in;
        long err = eng_freeze(in);
        j->errs[i] = err;
        if (err)
            continue;
        /* Recorded frozen, so neither can move: the first log recovery of this copy needs, and
         * the generation holding the last commit in it. */
        eng_bkinfo *bk = &j->s->v[i].bk;
        bk->mark = in->log ? log_tip(in->log) : 0;
        bk->mark_usec = eng_now_usec();
        bk->gen_low = eng_ckpt_gen(in);
        bk->gen_high = ENG_LSN_GEN(bk->mark);
        bk->type = ENG_BKTYPE_SNAPSHOT;
    }
    return NULL;
}

/* Freeze every instance of s (snap_hold already set on each). All or nothing: if one fails, the
 * others are thawed again and every snap_hold is cleared; the error of the first failed instance
 * (in session order) is returned. Under s_mu. */
static long freeze_all(struct snap_sess *s)
{
    if (!s->n)
        return JET_errSuccess;
    long *errs = calloc(s->n, sizeof *errs);
    if (!errs) {
        for (size_t i = 0; i < s->n; i++)
            atomic_store(&s->v[i].in->snap_hold, false);
        return JET_errOutOfMemory;
    }
    struct freeze_job job = {.s = s, .errs = errs};
    atomic_init(&job.next, 0);
    for (size_t i = 0; i < s->n; i++)
        eng_event(s->v[i].in, 3, 2001, "the shadow copy freeze started");
    pthread_t th[FREEZE_WORKERS - 1];
    size_t nth = 0;
    size_t want = s->n < FREEZE_WORKERS ? s->n - 1 : FREEZE_WORKERS - 1;
    /* A worker that cannot be started is no error: the caller and the others take its share. */
    while (nth < want && pthread_create(&th[nth], NULL, freeze_worker, &job) == 0)
        nth++;
    freeze_worker(&job);
    for (size_t i = 0; i < nth; i++)
        pthread_join(th[i], NULL);
    long err = JET_errSuccess;
    for (size_t i = 0; i < s->n; i++)
        if (errs[i]) {
            eng_event(s->v[i].in, 1, 2002, "the shadow copy freeze failed with error %ld", errs[i]);
            if (!err)
                err = errs[i];
        }
    if (err)
        for (size_t i = 0; i < s->n; i++) {
            if (!errs[i])
                eng_thaw(s->v[i].in); /* eng_freeze undid its own failure already */
            atomic_store(&s->v[i].in->snap_hold, false);
        }
    free(errs);
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
        if (!err && inc && ENG_PARAM_LOAD(in, circular_log))
            err = JET_errInvalidBackup;
        if (!err && inc)
            err = eng_snap_check_incremental(in);
    }
    size_t held = 0;
    uint32_t timeout = UINT32_MAX;
    for (; !err && held < s->n; held++) {
        eng_inst *in = s->v[held].in;
        atomic_store(&in->snap_hold, true); /* a streaming backup is refused from here on */
        if (eng_bk_running(in)) {
            err = JET_errOSSnapshotNotAllowed; /* one started just now */
            atomic_store(&in->snap_hold, false);
            break;
        }
    }
    if (err) {
        for (size_t i = 0; s && i < held; i++)
            atomic_store(&s->v[i].in->snap_hold, false);
    } else {
        err = freeze_all(s); /* all or nothing: on failure nothing is frozen or held */
    }
    for (size_t i = 0; !err && i < s->n; i++) {
        uint32_t t = ENG_PARAM_LOAD(s->v[i].in, ossnapshot_timeout_ms);
        if (t < timeout)
            timeout = t;
    }
    JET_INSTANCE_INFO *info = NULL;
    unsigned long count = 0;
    if (!err) {
        err = session_info(s, &count, &info);
        if (err)
            for (size_t i = 0; i < s->n; i++) {
                eng_thaw(s->v[i].in);
                atomic_store(&s->v[i].in->snap_hold, false);
            }
    }
    if (!err) {
        s->timeout_ms = timeout == UINT32_MAX ? 70000 : timeout;
        clock_gettime(CLOCK_REALTIME, &s->deadline);
        s->deadline.tv_sec += s->timeout_ms / 1000;
        s->deadline.tv_nsec += (long)(s->timeout_ms % 1000) * 1000000L;
        if (s->deadline.tv_nsec >= 1000000000L) {
            s->deadline.tv_sec++;
            s->deadline.tv_nsec -= 1000000000L;
        }
        s->state = SS_FREEZE;
        pthread_t th;
        s->refs++;
        if (pthread_create(&th, NULL, timer_main, s) != 0) {
            /* Without a timer a freeze could outlive its caller: refuse it. */
            s->refs--;
            s->state = SS_PREPARE;
            for (size_t i = 0; i < s->n; i++) {
                eng_thaw(s->v[i].in);
                atomic_store(&s->v[i].in->snap_hold, false);
            }
            JetFreeBuffer((char *)info);
            err = JET_errOutOfMemory;
        } else {
            pthread_detach(th);
            *pcInstanceInfo = count;
            *paInstanceInfo = info;
        }
    }
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
    for (size_t i = 0; i < s->n; i++) {
        eng_inst *in = s->v[i].in;
        if (s->state == SS_FREEZE)
            eng_thaw(in);
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
        if (s->state == SS_FREEZE || s->state == SS_TIMEOUT)
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
    size_t idx;
    struct snap_sess *s = session_of(in, &idx);
    if (s && s->state == SS_FREEZE) {
        /* Waiting for Thaw or the time-out would hold the term up for as long as a minute, and
         * the copy cannot be whole anyway once this instance shuts down. So the term ends the
         * freeze of the whole session as the time-out does: every instance is thawed now, and
         * the service's Thaw reports JET_errOSSnapshotTimeOut so it discards the copy. */
        for (size_t i = 0; i < s->n; i++) {
            eng_thaw(s->v[i].in);
            atomic_store(&s->v[i].in->snap_hold, false);
            eng_event(s->v[i].in, 2, 2007, "the shadow copy freeze was ended by the termination of instance %s",
                      in->has_name ? in->name : "(unnamed)");
        }
        s->state = SS_TIMEOUT;
        pthread_cond_broadcast(&s->cv);
    }
    if (s) {
        atomic_store(&in->snap_hold, false);
        s->v[idx] = s->v[--s->n];
        imgr_unpin(in);
    }
    pthread_mutex_unlock(&s_mu);
}
