/*
 * imgr-int.h — the instance table's services for the other files of instancemgr/ (internal).
 *
 * Every entry point that takes a JET_INSTANCE, or that acts on "the" instance of legacy
 * one-instance mode, goes through imgr_pin / imgr_legacy_pin, so the mode rules of
 * docs/jet-semantics.md (“Instance modes”) live in one place. A pinned instance stays allocated (a
 * concurrent JetTerm may shut it down and drop it from the table, but frees it only when the last
 * pin is released), so callers may use it without holding the table lock; they still enter the
 * engine (eng_enter) to learn whether it is running.
 */
#ifndef IMGR_INT_H
#define IMGR_INT_H

#include <stddef.h>

#include "engine-int.h"

/* Resolve an instance argument and pin it. In one-instance mode the argument is ignored and the
 * single instance is used. Errors: InvalidParameter (unknown or stale handle; ESE's answer in
 * multi-instance mode), NotInitialized (no instance exists at all). */
long imgr_pin(JET_INSTANCE h, eng_inst **out);

/* For the legacy instance-less entry points (JetStopService, JetBackup, JetBeginExternalBackup,
 * ...): pins the one instance of one-instance mode. Errors: RunningInMultiInstanceMode in
 * multi-instance mode, whose debug trace names `instead`, the per-instance call to use
 * ("JetBackupInstance"); InvalidParameter with no mode set (ESE's ErrRUNINSTCheckOneInstMode). */
long imgr_legacy_pin(eng_inst **out, const char *instead);

/* Release a pin; frees the instance if it was dropped from the table meanwhile. NULL: no-op. */
void imgr_unpin(eng_inst *in);

/* Pin every instance in the table; *out (malloc'ed, caller frees after unpinning each) gets
 * them, *n their number. Errors: OutOfMemory. */
long imgr_pin_all(eng_inst ***out, size_t *n);

/* The JET_INSTANCE_INFO block (one allocation, freed with JetFreeBuffer) for the running ones
 * among n pinned instances (JetGetInstanceInfo, JetOSSnapshotFreeze). Errors: OutOfMemory. */
long imgr_instance_info(eng_inst **v, size_t n, unsigned long *pc, JET_INSTANCE_INFO **pa);

/* JetTerm2: end the freeze of the instance's snapshot session if it is being frozen or is frozen
 * (the other instances are thawed at once), wait for a freeze of this instance that is still under
 * way (its worker thaws it when its I/O returns), then take the instance out of its session. Call
 * without the table lock. */
void imgr_snap_leave(eng_inst *in);

/* The process defaults (parameters for instances created later). */
void imgr_defaults(eng_params *out);

/* Pin the instance named name. Errors: InvalidParameter (none by that name). */
long imgr_pin_name(const char *name, eng_inst **out);

/* JetRestoreInstance on a created instance: claim it (JetInit, JetTerm and another restore get
 * RestoreInProgress meanwhile). Errors: InvalidParameter (unknown handle), AfterInitialization
 * (it is initialized), RestoreInProgress, InitInProgress/TermInProgress. */
long imgr_claim_restore(JET_INSTANCE h, eng_inst **out);
void imgr_release_restore(eng_inst *in);

/* JetRestore(2): RunningInMultiInstanceMode in multi-instance mode (its debug trace names
 * JetRestoreInstance), AfterInitialization while the one instance of one-instance mode runs. */
long imgr_check_legacy_restore(void);

/* Refuse calls that need multi-instance semantics in legacy one-instance mode:
 * RunningInOneInstanceMode then, JET_errSuccess otherwise. */
long imgr_check_not_one_instance(void);

#endif
