/*
 * backup-api.c — the public external-backup functions (docs/jet-semantics.md, “External backup”):
 * each "Instance" form resolves its instance, each legacy instance-less form goes through the one
 * mode check of imgr_legacy_pin (RunningInMultiInstanceMode in multi-instance mode,
 * InvalidParameter with no mode), and both enter the engine before calling the instance's backup
 * state machine.
 */
#include "imgr-int.h"

/* Pin and enter an instance: by handle, or (legacy) the one instance of one-instance mode. */
static long enter(const char *legacy, JET_INSTANCE inst, eng_inst **out)
{
    eng_inst *in;
    long err = legacy ? imgr_legacy_pin(&in, legacy) : imgr_pin(inst, &in);
    if (err)
        return err;
    err = eng_enter(in);
    if (err) {
        imgr_unpin(in);
        return err;
    }
    *out = in;
    return JET_errSuccess;
}

static void leave(eng_inst *in)
{
    eng_leave(in);
    imgr_unpin(in);
}

static long begin(const char *legacy, JET_INSTANCE inst, JET_GRBIT grbit)
{
    eng_inst *in;
    long err = enter(legacy, inst, &in);
    if (err == JET_errNotInitialized && !imgr_pin(inst, &in)) {
        /* ESE: an instance still recovering is not yet backup-capable. */
        pthread_mutex_lock(&in->mu);
        if (in->state == INST_INITIALIZING)
            err = JET_errBackupNotAllowedYet;
        pthread_mutex_unlock(&in->mu);
        imgr_unpin(in);
    }
    if (err)
        return err;
    err = eng_bk_begin(in, grbit);
    leave(in);
    return err;
}

JET_ERR JET_API JetBeginExternalBackupInstance(JET_INSTANCE instance, JET_GRBIT grbit)
{
    return begin(NULL, instance, grbit);
}

JET_ERR JET_API JetBeginExternalBackup(JET_GRBIT grbit) { return begin("JetBeginExternalBackupInstance", 0, grbit); }

static long attach_info(const char *legacy, JET_INSTANCE inst, void *pv, unsigned long cbMax, unsigned long *pcb)
{
    eng_inst *in;
    long err = enter(legacy, inst, &in);
    if (err)
        return err;
    err = eng_bk_attach_info(in, pv, cbMax, pcb);
    leave(in);
    return err;
}

JET_ERR JET_API JetGetAttachInfoInstance(JET_INSTANCE instance, void *pv, unsigned long cbMax,
                                         unsigned long *pcbActual)
{
    return attach_info(NULL, instance, pv, cbMax, pcbActual);
}

JET_ERR JET_API JetGetAttachInfo(void *pv, unsigned long cbMax, unsigned long *pcbActual)
{
    return attach_info("JetGetAttachInfoInstance", 0, pv, cbMax, pcbActual);
}

static long open_file(const char *legacy, JET_INSTANCE inst, const char *name, JET_HANDLE *ph, unsigned long *lo,
                      unsigned long *hi)
{
    eng_inst *in;
    long err = enter(legacy, inst, &in);
    if (err)
        return err;
    err = eng_bk_open(in, name, ph, lo, hi);
    leave(in);
    return err;
}

JET_ERR JET_API JetOpenFileInstance(JET_INSTANCE instance, const char *szFileName, JET_HANDLE *phfFile,
                                    unsigned long *pulFileSizeLow, unsigned long *pulFileSizeHigh)
{
    return open_file(NULL, instance, szFileName, phfFile, pulFileSizeLow, pulFileSizeHigh);
}

JET_ERR JET_API JetOpenFile(const char *szFileName, JET_HANDLE *phfFile, unsigned long *pulFileSizeLow,
                            unsigned long *pulFileSizeHigh)
{
    return open_file("JetOpenFileInstance", 0, szFileName, phfFile, pulFileSizeLow, pulFileSizeHigh);
}

static long read_file(const char *legacy, JET_INSTANCE inst, JET_HANDLE h, void *pv, unsigned long cb,
                      unsigned long *pcb)
{
    eng_inst *in;
    long err = enter(legacy, inst, &in);
    if (err)
        return err;
    err = eng_bk_read(in, h, pv, cb, pcb);
    leave(in);
    return err;
}

JET_ERR JET_API JetReadFileInstance(JET_INSTANCE instance, JET_HANDLE hfFile, void *pv, unsigned long cb,
                                    unsigned long *pcbActual)
{
    return read_file(NULL, instance, hfFile, pv, cb, pcbActual);
}

JET_ERR JET_API JetReadFile(JET_HANDLE hfFile, void *pv, unsigned long cb, unsigned long *pcbActual)
{
    return read_file("JetReadFileInstance", 0, hfFile, pv, cb, pcbActual);
}

static long close_file(const char *legacy, JET_INSTANCE inst, JET_HANDLE h)
{
    eng_inst *in;
    long err = enter(legacy, inst, &in);
    if (err)
        return err;
    err = eng_bk_close(in, h);
    leave(in);
    return err;
}

JET_ERR JET_API JetCloseFileInstance(JET_INSTANCE instance, JET_HANDLE hfFile)
{
    return close_file(NULL, instance, hfFile);
}

JET_ERR JET_API JetCloseFile(JET_HANDLE hfFile) { return close_file("JetCloseFileInstance", 0, hfFile); }

static long log_info(const char *legacy, JET_INSTANCE inst, bool truncate_list, void *pv, unsigned long cbMax,
                     unsigned long *pcb, JET_LOGINFO *info)
{
    eng_inst *in;
    long err = enter(legacy, inst, &in);
    if (err)
        return err;
    err = eng_bk_log_info(in, truncate_list, pv, cbMax, pcb, info);
    leave(in);
    return err;
}

JET_ERR JET_API JetGetLogInfoInstance2(JET_INSTANCE instance, void *pv, unsigned long cbMax,
                                       unsigned long *pcbActual, JET_LOGINFO *pLogInfo)
{
    return log_info(NULL, instance, false, pv, cbMax, pcbActual, pLogInfo);
}

JET_ERR JET_API JetGetLogInfoInstance(JET_INSTANCE instance, void *pv, unsigned long cbMax,
                                      unsigned long *pcbActual)
{
    return log_info(NULL, instance, false, pv, cbMax, pcbActual, NULL);
}

JET_ERR JET_API JetGetLogInfo(void *pv, unsigned long cbMax, unsigned long *pcbActual)
{
    return log_info("JetGetLogInfoInstance", 0, false, pv, cbMax, pcbActual, NULL);
}

JET_ERR JET_API JetGetTruncateLogInfoInstance(JET_INSTANCE instance, void *pv, unsigned long cbMax,
                                              unsigned long *pcbActual)
{
    return log_info(NULL, instance, true, pv, cbMax, pcbActual, NULL);
}

static long truncate_log(const char *legacy, JET_INSTANCE inst)
{
    eng_inst *in;
    long err = enter(legacy, inst, &in);
    if (err)
        return err;
    err = eng_bk_truncate(in);
    leave(in);
    return err;
}

JET_ERR JET_API JetTruncateLogInstance(JET_INSTANCE instance) { return truncate_log(NULL, instance); }
JET_ERR JET_API JetTruncateLog(void) { return truncate_log("JetTruncateLogInstance", 0); }

JET_ERR JET_API JetTruncateLogUpToInstance(JET_INSTANCE instance, unsigned long genUpTo, unsigned long *pgenFirstKept)
{
    ENG_RETURN_IF(genUpTo > UINT32_MAX, JET_errInvalidParameter, "a log generation is a 32-bit number");
    eng_inst *in;
    long err = enter(NULL, instance, &in);
    if (err)
        return err;
    uint32_t first = 0;
    err = eng_bk_truncate_upto(in, (uint32_t)genUpTo, &first);
    leave(in);
    if (!err && pgenFirstKept)
        *pgenFirstKept = first;
    return err;
}

static long end_backup(const char *legacy, JET_INSTANCE inst, JET_GRBIT grbit)
{
    eng_inst *in;
    long err = enter(legacy, inst, &in);
    if (err)
        return err;
    err = eng_bk_end(in, grbit);
    leave(in);
    return err;
}

JET_ERR JET_API JetEndExternalBackupInstance2(JET_INSTANCE instance, JET_GRBIT grbit)
{
    return end_backup(NULL, instance, grbit);
}

JET_ERR JET_API JetEndExternalBackupInstance(JET_INSTANCE instance)
{
    return end_backup(NULL, instance, JET_bitBackupEndNormal);
}

JET_ERR JET_API JetEndExternalBackup(void) { return end_backup("JetEndExternalBackupInstance", 0, JET_bitBackupEndNormal); }

static long stop_backup(const char *legacy, JET_INSTANCE inst)
{
    /* Only a flag: no entry check beyond resolving the instance, so it works while a term runs. */
    eng_inst *in;
    long err = legacy ? imgr_legacy_pin(&in, legacy) : imgr_pin(inst, &in);
    if (err)
        return err;
    eng_bk_stop(in);
    imgr_unpin(in);
    return JET_errSuccess;
}

JET_ERR JET_API JetStopBackupInstance(JET_INSTANCE instance) { return stop_backup(NULL, instance); }
JET_ERR JET_API JetStopBackup(void) { return stop_backup("JetStopBackupInstance", 0); }

static long backup_to_dir(const char *legacy, JET_INSTANCE inst, const char *dir, JET_GRBIT grbit, JET_PFNSTATUS pfn)
{
    eng_inst *in;
    long err = enter(legacy, inst, &in);
    if (err)
        return err;
    err = eng_bk_to_dir(in, dir, grbit, pfn);
    leave(in);
    return err;
}

JET_ERR JET_API JetBackupInstance(JET_INSTANCE instance, const char *szBackupPath, JET_GRBIT grbit,
                                  JET_PFNSTATUS pfnStatus)
{
    return backup_to_dir(NULL, instance, szBackupPath, grbit, pfnStatus);
}

JET_ERR JET_API JetBackup(const char *szBackupPath, JET_GRBIT grbit, JET_PFNSTATUS pfnStatus)
{
    return backup_to_dir("JetBackupInstance", 0, szBackupPath, grbit, pfnStatus);
}

JET_ERR JET_API JetRestoreInstance(JET_INSTANCE instance, const char *sz, const char *szDest,
                                   JET_PFNSTATUS pfn)
{
    eng_params p;
    eng_inst *in = NULL;
    long err;
    if (instance == 0 || instance == JET_instanceNil) {
        /* ESE makes a temporary instance: the process defaults, no instance left behind. */
        if ((err = imgr_check_not_one_instance()))
            return err;
        imgr_defaults(&p);
    } else {
        if ((err = imgr_claim_restore(instance, &in)))
            return err;
        p = in->p;
    }
    err = eng_restore_dir(&p, sz, szDest, pfn);
    if (in)
        imgr_release_restore(in);
    return err;
}

static long legacy_restore(const char *sz, const char *dest, JET_PFNSTATUS pfn)
{
    /* ESE: the legacy forms belong to one-instance mode; jetsnap runs them without an instance. */
    long err = imgr_check_legacy_restore();
    if (err)
        return err;
    eng_params p;
    imgr_defaults(&p);
    return eng_restore_dir(&p, sz, dest, pfn);
}

JET_ERR JET_API JetRestore(const char *sz, JET_PFNSTATUS pfn) { return legacy_restore(sz, NULL, pfn); }

JET_ERR JET_API JetRestore2(const char *sz, const char *szDest, JET_PFNSTATUS pfn)
{
    return legacy_restore(sz, szDest, pfn);
}
