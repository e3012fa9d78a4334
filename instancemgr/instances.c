/*
 * instances.c — the process-wide instance table and ESE's instance modes (docs/jet-semantics.md,
 * “Instance modes”).
 *
 * The mode is NoSet until the first call that needs one: JetInit(NULL or &nil) picks legacy
 * one-instance mode, JetCreateInstance(2) picks multi-instance mode, and the mode returns to
 * NoSet when the last instance is freed. In one-instance mode instance arguments are ignored and
 * the single instance is used. Every entry point that takes a JET_INSTANCE resolves it here and
 * enters the engine instance while still holding the table lock, so a concurrent JetTerm cannot
 * free it in between.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "errnames-int.h"
#include "imgr-int.h"

enum imgr_mode { MODE_NOSET, MODE_ONE, MODE_MULTI };

static pthread_mutex_t g_mu = PTHREAD_MUTEX_INITIALIZER;
static enum imgr_mode g_mode = MODE_NOSET;
static eng_params g_defaults;
static bool g_defaults_ready;
static eng_inst **g_list;
static size_t g_count, g_cap;

static void defaults_ready(void)
{
    if (!g_defaults_ready) {
        eng_params_default(&g_defaults);
        g_defaults_ready = true;
    }
}

static bool is_nil(JET_INSTANCE h) { return h == 0 || h == JET_instanceNil; }

static long list_add(eng_inst *in)
{
    if (g_count == g_cap) {
        size_t nc = g_cap ? g_cap * 2 : 16;
        eng_inst **nl = realloc(g_list, nc * sizeof *nl);
        ENG_RETURN_IF(!nl, JET_errOutOfMemory, "no memory to grow the instance table");
        g_list = nl;
        g_cap = nc;
    }
    g_list[g_count++] = in;
    return JET_errSuccess;
}

static void list_del(eng_inst *in)
{
    for (size_t i = 0; i < g_count; i++)
        if (g_list[i] == in) {
            g_list[i] = g_list[--g_count];
            break;
        }
    if (!g_count) {
        g_mode = MODE_NOSET;
        free(g_list);
        g_list = NULL;
        g_cap = 0;
    }
}

/* Allocate an instance with the current process defaults. Under g_mu. */
static long inst_alloc(const char *name, const char *display, eng_inst **out)
{
    ENG_RETURN_IF(name && strlen(name) > JET_cbNameMost, JET_errInvalidParameter,
                  "the instance name is longer than JET_cbNameMost");
    ENG_RETURN_IF(display && strlen(display) > JET_cbNameMost, JET_errInvalidParameter,
                  "the display name is longer than JET_cbNameMost");
    for (size_t i = 0; i < g_count; i++) {
        eng_inst *o = g_list[i];
        bool same = name ? (o->has_name && !strcmp(o->name, name)) : !o->has_name;
        ENG_RETURN_IF(same, JET_errInstanceNameInUse,
                      "another instance has this name, or is unnamed as this one is");
    }
    size_t limit = g_mode == MODE_ONE ? 1 : g_defaults.max_instances;
    ENG_RETURN_IF(g_count >= limit, JET_errTooManyInstances,
                  "the instance limit is reached (JET_paramMaxInstances, or one in one-instance mode)");
    eng_inst *in = eng_inst_new();
    ENG_RETURN_IF(!in, JET_errOutOfMemory, "no memory for a new instance");
    in->p = g_defaults;
    if (name) {
        strcpy(in->name, name);
        in->has_name = true;
    }
    strcpy(in->display, display ? display : name ? name : "");
    in->handle = eng_handle_new(ENG_H_INSTANCE, in);
    long err = in->handle ? list_add(in) : JET_errOutOfMemory;
    if (err) {
        if (in->handle)
            eng_handle_free(in->handle);
        eng_inst_free(in);
        return err;
    }
    *out = in;
    return JET_errSuccess;
}

/* Drop an instance from the table and its handle; the memory goes with the last pin. Under g_mu. */
static void inst_release(eng_inst *in)
{
    list_del(in);
    eng_handle_free(in->handle);
    in->mgr_gone = true;
    if (!in->mgr_pins)
        eng_inst_free(in);
}

/* Resolve an instance argument. Under g_mu. Unknown handles: JET_errInvalidParameter (ESE's
 * ErrFindPinst answer in multi-instance mode). */
static long resolve(JET_INSTANCE h, eng_inst **out)
{
    if (g_mode == MODE_ONE && g_count == 1) {
        *out = g_list[0];
        return JET_errSuccess;
    }
    eng_inst *in = eng_handle_get(h, ENG_H_INSTANCE);
    ENG_RETURN_IF(!in, JET_errInvalidParameter, "the instance handle names no instance");
    *out = in;
    return JET_errSuccess;
}

long imgr_pin(JET_INSTANCE h, eng_inst **out)
{
    pthread_mutex_lock(&g_mu);
    eng_inst *in = NULL;
    long err = g_mode == MODE_NOSET ? JET_errNotInitialized : resolve(h, &in);
    if (!err) {
        in->mgr_pins++;
        *out = in;
    }
    pthread_mutex_unlock(&g_mu);
    return err;
}

/* The conflict ESE's design asks to report by name: the process runs several instances, so an
 * instance-less call cannot know which one is meant. The trace names the call to use instead;
 * it is built at run time, so eng_trace_err is called directly rather than through ENG_ERR. */
static long multi_instance_refusal(const char *instead)
{
    char why[256];
    snprintf(why, sizeof why,
             "this process runs several instances (JetCreateInstance), so an instance-less call cannot "
             "tell which is meant: call %s with the instance's handle",
             instead);
    return eng_trace_err(JET_errRunningInMultiInstanceMode, __FILE__, __LINE__, why);
}

long imgr_legacy_pin(eng_inst **out, const char *instead)
{
    pthread_mutex_lock(&g_mu);
    long err = g_mode == MODE_MULTI  ? JET_errRunningInMultiInstanceMode
               : g_mode == MODE_NOSET ? JET_errInvalidParameter
               : g_count != 1         ? JET_errNotInitialized
                                      : JET_errSuccess;
    if (!err) {
        g_list[0]->mgr_pins++;
        *out = g_list[0];
    }
    pthread_mutex_unlock(&g_mu);
    if (err == JET_errRunningInMultiInstanceMode)
        return multi_instance_refusal(instead);
    return err;
}

/* Under g_mu. */
static void unpin_locked(eng_inst *in)
{
    if (--in->mgr_pins == 0 && in->mgr_gone)
        eng_inst_free(in);
}

void imgr_unpin(eng_inst *in)
{
    if (!in)
        return;
    pthread_mutex_lock(&g_mu);
    unpin_locked(in);
    pthread_mutex_unlock(&g_mu);
}

long imgr_pin_all(eng_inst ***out, size_t *n)
{
    pthread_mutex_lock(&g_mu);
    eng_inst **v = malloc((g_count ? g_count : 1) * sizeof *v);
    if (!v) {
        pthread_mutex_unlock(&g_mu);
        return JET_errOutOfMemory;
    }
    for (size_t i = 0; i < g_count; i++) {
        v[i] = g_list[i];
        v[i]->mgr_pins++;
    }
    *n = g_count;
    pthread_mutex_unlock(&g_mu);
    *out = v;
    return JET_errSuccess;
}

/* Two instances must never share a checkpoint or log directory: they would overwrite each
 * other's files. Under g_mu. */
static long check_paths(eng_inst *in)
{
    char mine_sys[PATH_MAX], mine_log[PATH_MAX], other[PATH_MAX];
    if (!realpath(in->p.system_path, mine_sys) || !realpath(in->p.log_path, mine_log))
        return JET_errSuccess; /* eng_inst_init reports the bad directory precisely */
    for (size_t i = 0; i < g_count; i++) {
        eng_inst *o = g_list[i];
        if (o == in || !(o->mgr_inited || o->mgr_busy))
            continue;
        if (realpath(o->p.system_path, other) && !strcmp(other, mine_sys))
            return ENG_ERR(JET_errSystemPathInUse, "another instance uses the same system directory");
        if (realpath(o->p.log_path, other) && !strcmp(other, mine_log))
            return ENG_ERR(JET_errLogFilePathInUse, "another instance uses the same log directory");
    }
    return JET_errSuccess;
}

JET_ERR JET_API JetCreateInstance2(JET_INSTANCE *pinstance, const char *szInstanceName,
                                   const char *szDisplayName, JET_GRBIT grbit)
{
    ENG_RETURN_IF(!pinstance, JET_errInvalidParameter, "no place was given for the instance handle");
    ENG_RETURN_IF(grbit, JET_errInvalidGrbit, "creating an instance takes no grbit");
    pthread_mutex_lock(&g_mu);
    defaults_ready();
    long err = g_mode == MODE_ONE ? JET_errRunningInOneInstanceMode : JET_errSuccess;
    eng_inst *in = NULL;
    if (!err) {
        enum imgr_mode old = g_mode;
        g_mode = MODE_MULTI;
        err = inst_alloc(szInstanceName, szDisplayName, &in);
        if (err && !g_count)
            g_mode = old;
    }
    if (!err)
        *pinstance = in->handle;
    pthread_mutex_unlock(&g_mu);
    return err;
}

JET_ERR JET_API JetCreateInstance(JET_INSTANCE *pinstance, const char *szInstanceName)
{
    return JetCreateInstance2(pinstance, szInstanceName, NULL, 0);
}

JET_ERR JET_API JetInit3(JET_INSTANCE *pinstance, JET_RSTINFO *prstinfo, JET_GRBIT grbit)
{
    /* Checked before anything else, so a bad map neither selects a mode nor creates edb.chk. */
    ENG_RETURN_IF(prstinfo && prstinfo->cbStruct != sizeof *prstinfo, JET_errInvalidParameter,
                  "the JET_RSTINFO's cbStruct is not the size of the structure");
    eng_rstmap *map = NULL;
    if (prstinfo) {
        long e = eng_rstmap_new(prstinfo->rgrstmap, prstinfo->crstmap, &map);
        if (e)
            return e;
    }
    pthread_mutex_lock(&g_mu);
    defaults_ready();
    long err = JET_errSuccess;
    eng_inst *in = NULL;
    bool legacy_new = false;
    if (!pinstance || is_nil(*pinstance)) {
        if (g_mode == MODE_MULTI) {
            if (!pinstance)
                err = JET_errRunningInMultiInstanceMode;
            else
                err = inst_alloc(NULL, NULL, &in); /* ESE: &nil allocates an unnamed instance */
        } else if (g_mode == MODE_ONE) {
            err = JET_errAlreadyInitialized;
        } else {
            g_mode = MODE_ONE;
            err = inst_alloc(NULL, NULL, &in);
            if (err)
                g_mode = MODE_NOSET;
            legacy_new = true;
        }
    } else {
        err = resolve(*pinstance, &in);
    }
    if (!err && (in->mgr_inited || in->mgr_busy))
        err = in->mgr_inited ? JET_errAlreadyInitialized
              : in->mgr_restoring ? JET_errRestoreInProgress
                                  : JET_errInitInProgress;
    if (!err)
        err = check_paths(in);
    if (!err) {
        /* Claims the instance, its parameters and its paths while the table is unlocked. */
        in->mgr_busy = true;
        in->mgr_pins++;
    }
    pthread_mutex_unlock(&g_mu);
    if (err) {
        eng_rstmap_free(map);
        return err;
    }

    err = eng_inst_init(in, grbit, map);
    eng_rstmap_free(map);

    pthread_mutex_lock(&g_mu);
    in->mgr_busy = false;
    if (!err) {
        in->mgr_inited = true;
        if (pinstance)
            *pinstance = in->handle;
    } else if (legacy_new || g_mode == MODE_ONE) {
        inst_release(in); /* legacy mode has no created-but-not-initialized instance */
    }
    unpin_locked(in);
    pthread_mutex_unlock(&g_mu);
    return err;
}

JET_ERR JET_API JetInit2(JET_INSTANCE *pinstance, JET_GRBIT grbit) { return JetInit3(pinstance, NULL, grbit); }
JET_ERR JET_API JetInit(JET_INSTANCE *pinstance) { return JetInit3(pinstance, NULL, 0); }

JET_ERR JET_API JetTerm2(JET_INSTANCE instance, JET_GRBIT grbit)
{
    pthread_mutex_lock(&g_mu);
    eng_inst *in = NULL;
    long err = g_mode == MODE_NOSET ? JET_errInvalidParameter : resolve(instance, &in);
    if (!err && in->mgr_busy)
        err = in->mgr_restoring ? JET_errRestoreInProgress
              : in->mgr_inited  ? JET_errTermInProgress
                                : JET_errInitInProgress;
    if (!err) {
        in->mgr_busy = true;
        in->mgr_pins++;
    }
    pthread_mutex_unlock(&g_mu);
    if (err)
        return err;
    /* A term ends a snapshot freeze of the instance (for its whole session) and leaves it. */
    if (!(grbit & ~(JET_GRBIT)(JET_bitTermComplete | JET_bitTermAbrupt | JET_bitTermStopBackup | JET_bitTermDirty)))
        imgr_snap_leave(in);
    err = eng_inst_term(in, grbit);
    pthread_mutex_lock(&g_mu);
    in->mgr_busy = false;
    /* A refused term (BackupInProgress, TooManyActiveUsers, a bad grbit) leaves it running. */
    bool down = !err || err == JET_errDirtyShutdown || !in->mgr_inited;
    if (!down && in->mgr_inited) {
        pthread_mutex_lock(&in->mu);
        down = in->state == INST_CREATED;
        pthread_mutex_unlock(&in->mu);
    }
    if (down) {
        in->mgr_inited = false;
        inst_release(in);
    }
    unpin_locked(in);
    pthread_mutex_unlock(&g_mu);
    return err;
}

JET_ERR JET_API JetTerm(JET_INSTANCE instance) { return JetTerm2(instance, JET_bitTermAbrupt); }

JET_ERR JET_API JetSetSystemParameter(JET_INSTANCE *pinstance, JET_SESID sesid, unsigned long paramid,
                                      JET_API_PTR lParam, JET_PCSTR szParam)
{
    (void)sesid;
    pthread_mutex_lock(&g_mu);
    defaults_ready();
    long err = eng_param_known(paramid) ? JET_errSuccess
                                        : ENG_ERR(JET_errInvalidParameter, "no such system parameter id");
    bool global = !pinstance || is_nil(*pinstance) || eng_param_is_global(paramid);
    if (!err && global) {
        /* Process-wide values are read when instances are created (ESE reads MaxInstances when
         * the mode is set), so they cannot change under running instances. */
        if (eng_param_is_global(paramid))
            for (size_t i = 0; i < g_count && !err; i++)
                if (g_list[i]->mgr_inited || g_list[i]->mgr_busy)
                    err = JET_errAlreadyInitialized;
        if (!err)
            err = eng_param_set(&g_defaults, paramid, lParam, szParam);
        if (!err && eng_param_is_global(paramid))
            for (size_t i = 0; i < g_count; i++)
                eng_param_set(&g_list[i]->p, paramid, lParam, szParam);
    } else if (!err) {
        eng_inst *in = NULL;
        err = resolve(*pinstance, &in);
        /* An init under way reads the parameters without the table lock. */
        if (!err && (in->mgr_inited || in->mgr_busy) && !eng_param_settable_running(paramid))
            err = JET_errAlreadyInitialized;
        if (!err)
            err = eng_param_set(&in->p, paramid, lParam, szParam);
    }
    pthread_mutex_unlock(&g_mu);
    return err;
}

JET_ERR JET_API JetGetSystemParameter(JET_INSTANCE instance, JET_SESID sesid, unsigned long paramid,
                                      JET_API_PTR *plParam, JET_PSTR szParam, unsigned long cbMax)
{
    (void)sesid;
    /* Not a setting: a lookup, the same for every instance (ESE: global scope), so it needs no
     * instance and takes no lock. */
    if (paramid == JET_paramErrorToString)
        return eng_error_to_string(plParam, szParam, cbMax);
    pthread_mutex_lock(&g_mu);
    defaults_ready();
    long err;
    if (is_nil(instance) && !(g_mode == MODE_ONE && g_count == 1)) {
        err = eng_param_get(&g_defaults, paramid, plParam, szParam, cbMax);
    } else {
        eng_inst *in = NULL;
        err = resolve(instance, &in);
        if (!err)
            err = eng_param_get(&in->p, paramid, plParam, szParam, cbMax);
    }
    pthread_mutex_unlock(&g_mu);
    return err;
}

JET_ERR JET_API JetBeginSession(JET_INSTANCE instance, JET_SESID *psesid, JET_PCSTR szUserName,
                                JET_PCSTR szPassword)
{
    (void)szUserName;
    (void)szPassword;
    ENG_RETURN_IF(!psesid, JET_errInvalidParameter, "no place was given for the session id");
    pthread_mutex_lock(&g_mu);
    eng_inst *in = NULL;
    long err = g_mode == MODE_NOSET ? JET_errNotInitialized : resolve(instance, &in);
    if (!err)
        err = eng_enter(in);
    pthread_mutex_unlock(&g_mu);
    if (err)
        return err;
    err = eng_session_begin(in, psesid);
    eng_leave(in);
    return err;
}

/* In multi-instance mode: does the value in force equal the one asked for? */
static bool param_matches(unsigned long id, JET_API_PTR l, const char *sz)
{
    JET_API_PTR cur = 0;
    char buf[ENG_PATH_MAX];
    buf[0] = 0;
    if (eng_param_get(&g_defaults, id, &cur, buf, sizeof buf))
        return false;
    eng_params probe = g_defaults;
    if (eng_param_set(&probe, id, l, sz))
        return false;
    JET_API_PTR want = 0;
    char wbuf[ENG_PATH_MAX];
    wbuf[0] = 0;
    eng_param_get(&probe, id, &want, wbuf, sizeof wbuf);
    return cur == want && !strcmp(buf, wbuf);
}

JET_ERR JET_API JetEnableMultiInstance(JET_SETSYSPARAM *psetsysparam, unsigned long csetsysparam,
                                       unsigned long *pcsetsucceed)
{
    ENG_RETURN_IF(!psetsysparam && csetsysparam, JET_errInvalidParameter,
                  "a count of parameters was given without the array");
    pthread_mutex_lock(&g_mu);
    defaults_ready();
    long err = g_mode == MODE_ONE ? JET_errRunningInOneInstanceMode : JET_errSuccess;
    unsigned long ok = 0;
    if (!err && g_mode == MODE_NOSET) {
        /* All or nothing: a bad element leaves the defaults and the mode as they were. */
        eng_params trial = g_defaults;
        for (unsigned long i = 0; i < csetsysparam; i++) {
            JET_SETSYSPARAM *sp = &psetsysparam[i];
            sp->err = eng_param_set(&trial, sp->paramid, sp->lParam, sp->sz);
            if (sp->err && !err)
                err = sp->err;
            ok += !sp->err;
        }
        if (!err) {
            g_defaults = trial;
            g_mode = MODE_MULTI;
        }
    } else if (!err) {
        for (unsigned long i = 0; i < csetsysparam; i++) {
            JET_SETSYSPARAM *sp = &psetsysparam[i];
            sp->err = !eng_param_known(sp->paramid)                      ? JET_errInvalidParameter
                      : param_matches(sp->paramid, sp->lParam, sp->sz) ? JET_errSuccess
                                                                        : JET_errSystemParameterConflict;
            if (sp->err && !err)
                err = sp->err;
            ok += !sp->err;
        }
    }
    pthread_mutex_unlock(&g_mu);
    if (pcsetsucceed)
        *pcsetsucceed = ok;
    return err;
}

void imgr_defaults(eng_params *out)
{
    pthread_mutex_lock(&g_mu);
    defaults_ready();
    *out = g_defaults;
    pthread_mutex_unlock(&g_mu);
}

long imgr_pin_name(const char *name, eng_inst **out)
{
    long err = JET_errInvalidParameter;
    pthread_mutex_lock(&g_mu);
    for (size_t i = 0; i < g_count; i++)
        if (g_list[i]->has_name && !strcmp(g_list[i]->name, name)) {
            g_list[i]->mgr_pins++;
            *out = g_list[i];
            err = JET_errSuccess;
            break;
        }
    pthread_mutex_unlock(&g_mu);
    return err;
}

long imgr_check_not_one_instance(void)
{
    pthread_mutex_lock(&g_mu);
    long err = g_mode == MODE_ONE ? JET_errRunningInOneInstanceMode : JET_errSuccess;
    pthread_mutex_unlock(&g_mu);
    return err;
}

long imgr_claim_restore(JET_INSTANCE h, eng_inst **out)
{
    pthread_mutex_lock(&g_mu);
    eng_inst *in = NULL;
    long err = g_mode == MODE_NOSET ? JET_errInvalidParameter : resolve(h, &in);
    if (!err)
        err = in->mgr_restoring ? JET_errRestoreInProgress
              : in->mgr_inited  ? JET_errAfterInitialization
              : in->mgr_busy    ? JET_errInitInProgress
                                : JET_errSuccess;
    if (!err) {
        in->mgr_busy = in->mgr_restoring = true;
        in->mgr_pins++;
        *out = in;
    }
    pthread_mutex_unlock(&g_mu);
    return err;
}

void imgr_release_restore(eng_inst *in)
{
    pthread_mutex_lock(&g_mu);
    in->mgr_busy = in->mgr_restoring = false;
    unpin_locked(in);
    pthread_mutex_unlock(&g_mu);
}

long imgr_check_legacy_restore(void)
{
    pthread_mutex_lock(&g_mu);
    long err = g_mode == MODE_MULTI ? JET_errRunningInMultiInstanceMode
               : g_mode == MODE_ONE && g_count ? JET_errAfterInitialization
                                               : JET_errSuccess;
    pthread_mutex_unlock(&g_mu);
    if (err == JET_errRunningInMultiInstanceMode)
        return multi_instance_refusal("JetRestoreInstance");
    return err;
}
