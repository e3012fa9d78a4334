/*
 * jet.h — the public C API of jetsnap's storage engine (libjet.so).
 *
 * jetsnap implements a subset of Microsoft's Extensible Storage Engine ("JET") API on Linux:
 * the same function names, grbits, parameter ids and JET_err numbers, with narrow (char) strings
 * only — there are no A/W variants. Where ESE's column/index model would apply, jetsnap instead
 * offers a table as an ordered map from a binary key to a binary value (JetPutRecord & friends).
 *
 * Conventions that hold for every function below:
 *  - The return value is JET_errSuccess (0), a warning (> 0) or an error (< 0).
 *  - Out-parameters are written only on success (or on a warning), never on error.
 *  - Handles (JET_INSTANCE, JET_SESID, JET_TABLEID) are opaque numbers, validated on every call:
 *    an unknown or stale handle gives an error, never a crash.
 *  - Every function may also return JET_errOutOfMemory (-1011) and, after a fatal I/O error in
 *    the instance, JET_errInstanceUnavailable (-1090) — or JET_errDiskFull (-1808) when it was a
 *    database's disk that filled up (the call whose update hit it gets -1808 too; committed work is
 *    in the log, and JetTerm then JetInit with space again recovers it); every call on a session, and
 *    JetBeginSession, returns JET_errTermInProgress (-1000) while its instance is terminating and
 *    JET_errClientRequestToStopJetService (-1329) after JetStopServiceInstance(2); these are not
 *    repeated in each entry.
 *  - Every function that opens a file (database, log, checkpoint, backup stream) refuses one that
 *    is not a regular file — a FIFO, socket, device or directory — with JET_errInvalidPath (-1023)
 *    at once, instead of blocking in open(); and returns JET_errOutOfFileHandles (-1020) when the
 *    process has no file descriptor left.
 *  - With no instance left there is no mode (docs/jet-semantics.md, “Mode errors”): an old instance handle
 *    then gives JET_errNotInitialized; while other instances exist it gives InvalidParameter.
 *  - A session (JET_SESID) may be used by one thread at a time; different sessions may be used
 *    from different threads at once. A session may move to another thread between calls, but a
 *    call on a session (or on one of its JET_TABLEIDs) while another thread's call is on it fails
 *    at once with JET_errSessionSharingViolation (-1112), touching nothing; so does that of a
 *    JetEndSession or JetCloseTable racing another call. Every session call may return it.
 *
 * Departures from ESE that exist because this is Linux (docs/jet-semantics.md, “Departures from ESE”):
 *  - Paths are byte strings; no 8.3 names, no alignment rules for buffers.
 *  - One writer per database at a time: a session's first update in a transaction takes the
 *    database's write lock until the transaction ends. Another session that wants to write the same
 *    database waits for it (up to 10 seconds, then JET_errWriteConflict); a session of the same
 *    thread gets JET_errWriteConflict at once instead of deadlocking. Readers never wait for
 *    writers and only ever see committed data.
 *  - A transaction's changes are held in memory until commit (at most 262144 changed pages, about
 *    2 GiB with 8 KiB pages; beyond that JET_errVersionStoreOutOfMemory).
 */
#ifndef JET_H
#define JET_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#ifndef JET_API
#define JET_API
#endif

/* ---------------------------------------------------------------------------------------------
 * Types
 * ------------------------------------------------------------------------------------------- */
typedef long JET_ERR;
typedef uintptr_t JET_API_PTR;
typedef JET_API_PTR JET_INSTANCE;
typedef JET_API_PTR JET_SESID;
typedef JET_API_PTR JET_TABLEID;
typedef JET_API_PTR JET_HANDLE;
typedef JET_API_PTR JET_OSSNAPID;
typedef unsigned long JET_DBID;
typedef unsigned long JET_GRBIT;
typedef const char *JET_PCSTR;
typedef char *JET_PSTR;

#define JET_instanceNil (~(JET_INSTANCE)0)
#define JET_sesidNil (~(JET_SESID)0)
#define JET_tableidNil (~(JET_TABLEID)0)
#define JET_dbidNil ((JET_DBID)0xFFFFFFFF)
#define JET_bitNil ((JET_GRBIT)0)

#define JET_BASE_NAME_LENGTH 3
#define JET_MAX_COMPUTERNAME_LENGTH 15
#define JET_cbNameMost 64      /* longest table or instance name, in bytes, without the NUL */
#define JET_cbFullNameMost 255 /* longest path jetsnap accepts is PATH_MAX; see JetCreateDatabase */
#define JET_cbKeyMost 255
#define JET_cbKeyMost4KBytePage 1000
#define JET_cbKeyMost8KBytePage 2000
#define JET_cbKeyMostMost 2000

typedef struct _JET_LGPOS {
    unsigned short ib;
    unsigned short isec;
    long lGeneration;
} JET_LGPOS;

typedef struct _JET_LOGTIME {
    char bSeconds;
    char bMinutes;
    char bHours;
    char bDay;
    char bMonth;
    char bYear; /* years since 1900 */
    char bFiller1;
    char bFiller2;
} JET_LOGTIME;

typedef struct _JET_SIGNATURE {
    unsigned long ulRandom;
    JET_LOGTIME logtimeCreate;
    char szComputerName[JET_MAX_COMPUTERNAME_LENGTH + 1];
} JET_SIGNATURE;

typedef struct _JET_BKINFO {
    JET_LGPOS lgposMark;
    JET_LOGTIME logtimeMark;
    unsigned long genLow;
    unsigned long genHigh;
} JET_BKINFO;

typedef struct _JET_RSTMAP {
    char *szDatabaseName;
    char *szNewDatabaseName;
} JET_RSTMAP;

typedef enum _JET_SNP {
    JET_snpRepair = 2,
    JET_snpCompact = 4,
    JET_snpRestore = 8,
    JET_snpBackup = 9,
    JET_snpUpgrade = 10,
    JET_snpScrub = 11,
    JET_snpUpgradeRecordFormat = 12
} JET_SNP;

typedef enum _JET_SNT {
    JET_sntProgress = 0,
    JET_sntFail = 3,
    JET_sntBegin = 5,
    JET_sntComplete = 6,
    JET_sntRequirements = 7
} JET_SNT;

typedef JET_ERR(JET_API *JET_PFNSTATUS)(JET_SESID sesid, JET_SNP snp, JET_SNT snt, void *pv);

/* One running instance and its attached databases (JetGetInstanceInfo, JetOSSnapshotFreeze).
 * Layout as ESE's narrow JET_INSTANCE_INFO_A. */
typedef struct _JET_INSTANCE_INFO {
    JET_INSTANCE hInstanceId;
    char *szInstanceName;            /* NULL for an unnamed instance */
    JET_API_PTR cDatabases;
    char **szDatabaseFileName;       /* cDatabases full paths */
    char **szDatabaseDisplayName;    /* cDatabases names (jetsnap: the same paths) */
    char **szDatabaseSLVFileName_Obsolete; /* always NULL */
} JET_INSTANCE_INFO;

/* The log range of a backup (JetGetLogInfoInstance2). ulGenHigh is inclusive. */
typedef struct _JET_LOGINFO {
    unsigned long cbSize; /* must be sizeof(JET_LOGINFO) */
    unsigned long ulGenLow;
    unsigned long ulGenHigh;
    char szBaseName[JET_BASE_NAME_LENGTH + 1];
} JET_LOGINFO;

/* Database header information (JetGetDatabaseFileInfo with JET_DbInfoMisc), laid out as ESE's
 * JET_DBINFOMISC4; JET_DBINFOMISC, ...2 and ...3 are its prefixes as in ESE. A JET_BKINFO's
 * logtimeMark is ESE's JET_BKLOGTIME: bFiller1 bit 0 = time is UTC (always, here), bits 1..7 the
 * low bits of the milliseconds; bFiller2 bit 0 = fOSSnapshot (the backup was an OS snapshot),
 * bits 2..4 the high bits of the milliseconds. lgposMark encodes jetsnap's log position as
 * lGeneration = generation, isec = byte offset / 512, ib = byte offset % 512. */
typedef struct _JET_DBINFOMISC4 {
    unsigned long ulVersion;
    unsigned long ulUpdate;
    JET_SIGNATURE signDb;
    unsigned long dbstate; /* JET_dbstate* below */
    JET_LGPOS lgposConsistent;
    JET_LOGTIME logtimeConsistent;
    JET_LOGTIME logtimeAttach;
    JET_LGPOS lgposAttach;
    JET_LOGTIME logtimeDetach;
    JET_LGPOS lgposDetach;
    JET_SIGNATURE signLog;
    JET_BKINFO bkinfoFullPrev; /* last full backup (streaming or OS snapshot) */
    JET_BKINFO bkinfoIncPrev;  /* last incremental since that full */
    JET_BKINFO bkinfoFullCur;  /* non-zero only in a database restored from a stream */
    unsigned long fShadowingDisabled;
    unsigned long fUpgradeDb;
    unsigned long dwMajorVersion;
    unsigned long dwMinorVersion;
    unsigned long dwBuildNumber;
    long lSPNumber;
    unsigned long cbPageSize;
    /* JET_DBINFOMISC2 */
    unsigned long genMinRequired;
    unsigned long genMaxRequired;
    JET_LOGTIME logtimeGenMaxCreate;
    unsigned long ulRepairCount;
    JET_LOGTIME logtimeRepair;
    unsigned long ulRepairCountOld;
    unsigned long ulECCFixSuccess;
    JET_LOGTIME logtimeECCFixSuccess;
    unsigned long ulECCFixSuccessOld;
    unsigned long ulECCFixFail;
    JET_LOGTIME logtimeECCFixFail;
    unsigned long ulECCFixFailOld;
    unsigned long ulBadChecksum;
    JET_LOGTIME logtimeBadChecksum;
    unsigned long ulBadChecksumOld;
    /* JET_DBINFOMISC3 */
    unsigned long genCommitted;
    /* JET_DBINFOMISC4 */
    JET_BKINFO bkinfoCopyPrev; /* last copy backup */
    JET_BKINFO bkinfoDiffPrev; /* last differential since the last full */
} JET_DBINFOMISC4;
typedef JET_DBINFOMISC4 JET_DBINFOMISC;
#define JET_DbInfoMisc 14
/* JET_DBINFOMISC4.dbstate: created and not yet detached or shut down once; in use or left by a
 * crash (needs recovery with its logs: JET_errDatabaseDirtyShutdown on attach); shut down clean. */
#define JET_dbstateJustCreated 1
#define JET_dbstateDirtyShutdown 2
#define JET_dbstateCleanShutdown 3

/* The event callback (jetsnap's own; ESE writes to the Windows event log instead): level 1 error,
 * 2 warning, 3 information, 4 verbose; event_id is ESE's id where ESE has one (210 "full backup
 * starting", 213 "backup completed", ...). instance_name is NULL for an unnamed instance. Called
 * from engine threads, never with an engine lock held that the callback could need. */
typedef void (*JET_PFNEVENT)(void *ctx, JET_INSTANCE instance, const char *instance_name, int level,
                             long event_id, const char *message);

/* One parameter for JetEnableMultiInstance; err receives that parameter's result. */
typedef struct _JET_SETSYSPARAM {
    unsigned long paramid;
    JET_API_PTR lParam;
    const char *sz;
    JET_ERR err;
} JET_SETSYSPARAM;

/* JetInit3's recovery options: cbStruct is sizeof(JET_RSTINFO); rgrstmap/crstmap the restore map
 * (see JetInit3); lgposStop, logtimeStop and pfnStatus are not used. */
typedef struct _JET_RSTINFO {
    unsigned long cbStruct;
    JET_RSTMAP *rgrstmap;
    long crstmap;
    JET_LGPOS lgposStop;
    JET_LOGTIME logtimeStop;
    JET_PFNSTATUS pfnStatus;
} JET_RSTINFO;

/* ---------------------------------------------------------------------------------------------
 * Errors and warnings (ESE's numbers)
 * ------------------------------------------------------------------------------------------- */
#define JET_errSuccess 0
#define JET_wrnNyi (-1)
#define JET_errOSSnapshotInvalidSequence (-2401)
#define JET_errOSSnapshotTimeOut (-2402)
#define JET_errOSSnapshotNotAllowed (-2403)
#define JET_errOSSnapshotInvalidSnapId (-2404)

#define JET_errInternalError (-107)
#define JET_errKeyTruncated (-346)
#define JET_errKeyTooBig (-408)
#define JET_errInvalidLoggedOperation (-500)
#define JET_errLogFileCorrupt (-501)
#define JET_errNoBackupDirectory (-503)
#define JET_errBackupDirectoryNotEmpty (-504)
#define JET_errBackupInProgress (-505)
#define JET_errRestoreInProgress (-506)
#define JET_errMakeBackupDirectoryFail (-525)
#define JET_errMissingPreviousLogFile (-509)
#define JET_errLogWriteFail (-510)
#define JET_errLogGenerationMismatch (-513)
#define JET_errBadLogVersion (-514)
#define JET_errInvalidLogSequence (-515)
#define JET_errLoggingDisabled (-516)
#define JET_errLogSequenceEnd (-519)
#define JET_errNoBackup (-520)
#define JET_errInvalidBackupSequence (-521)
#define JET_errMissingRestoreLogFiles (-557)
#define JET_errMissingFullBackup (-560)
#define JET_errEndingRestoreLogTooLow (-553)
#define JET_errStartingRestoreLogTooHigh (-554)
#define JET_errRestoreOfNonBackupDatabase (-615)
#define JET_errLogFileNotCopied (-616)
#define JET_errBadRestoreTargetInstance (-577)
/* ESE keeps this one internal (errBackupAbortByCaller); jetsnap returns it from JetEndExternalBackup*
 * when a backup was ended normally too early (docs/jet-semantics.md, “End and its result”). */
#define JET_errBackupAbortByCaller (-800)
#define JET_errBackupAbortByServer (-801)
#define JET_errBackupNotAllowedYet (-523)
#define JET_errInvalidBackup (-526)
#define JET_errRecoveredWithErrors (-527)
#define JET_errMissingLogFile (-528)
#define JET_errLogDiskFull (-529)
#define JET_errBadLogSignature (-530)
#define JET_errBadDbSignature (-531)
#define JET_errBadCheckpointSignature (-532)
#define JET_errCheckpointCorrupt (-533)
#define JET_errDatabaseLogSetMismatch (-539)
#define JET_errLogFileSizeMismatch (-541)
#define JET_errCheckpointFileNotFound (-542)
#define JET_errRequiredLogFilesMissing (-543)
#define JET_errSoftRecoveryOnBackupDatabase (-544)
#define JET_errDatabaseDirtyShutdown (-550)
#define JET_errDatabaseInconsistent JET_errDatabaseDirtyShutdown
#define JET_errConsistentTimeMismatch (-551)
#define JET_errMissingFileToBackup (-569)
#define JET_errLogReadVerifyFailure (-612)
#define JET_errInvalidGrbit (-900)
#define JET_errTermInProgress (-1000)
#define JET_errFeatureNotAvailable (-1001)
#define JET_errInvalidName (-1002)
#define JET_errInvalidParameter (-1003)
#define JET_wrnColumnNull 1004
#define JET_wrnBufferTruncated 1006
#define JET_wrnDatabaseAttached 1007
#define JET_errDatabaseFileReadOnly (-1008)
#define JET_errInvalidDatabaseId (-1010)
#define JET_errOutOfMemory (-1011)
#define JET_errOutOfDatabaseSpace (-1012)
#define JET_errOutOfCursors (-1013)
#define JET_errOutOfBuffers (-1014)
#define JET_errReadVerifyFailure (-1018)
#define JET_errPageNotInitialized (-1019)
#define JET_errOutOfFileHandles (-1020)
#define JET_errDiskIO (-1022)
#define JET_errInvalidPath (-1023)
#define JET_errInvalidSystemPath (-1024)
#define JET_errInvalidLogDirectory (-1025)
#define JET_errRecordTooBig (-1026)
#define JET_errTooManyOpenDatabases (-1027)
#define JET_errInvalidDatabase (-1028)
#define JET_errNotInitialized (-1029)
#define JET_errAlreadyInitialized (-1030)
#define JET_errInitInProgress (-1031)
#define JET_errFileAccessDenied (-1032)
#define JET_errBufferTooSmall (-1038)
#define JET_wrnSeekNotEqual 1039
#define JET_wrnRecordFoundGreater JET_wrnSeekNotEqual
#define JET_wrnRecordFoundLess JET_wrnSeekNotEqual
#define JET_errInvalidBufferSize (-1047)
#define JET_errNotInTransaction (-1054)
#define JET_errTooManyActiveUsers (-1059)
#define JET_errVersionStoreOutOfMemory (-1069)
#define JET_errRunningInOneInstanceMode (-1080)
#define JET_errRunningInMultiInstanceMode (-1081)
#define JET_errSystemParamsAlreadySet (-1082)
#define JET_errSystemPathInUse (-1083)
#define JET_errLogFilePathInUse (-1084)
#define JET_errTempPathInUse (-1085)
#define JET_errInstanceNameInUse (-1086)
#define JET_errSystemParameterConflict (-1087)
#define JET_errInstanceUnavailable (-1090)
#define JET_errDatabaseUnavailable (-1091)
#define JET_errInstanceUnavailableDueToFatalLogDiskFull (-1092)
#define JET_errOutOfSessions (-1101)
#define JET_errWriteConflict (-1102)
#define JET_errTransTooDeep (-1103)
#define JET_errInvalidSesid (-1104)
#define JET_errInTransaction (-1108)
#define JET_errRollbackRequired (-1109)
#define JET_errSessionSharingViolation (-1112)
#define JET_errSesidTableIdMismatch (-1114)
#define JET_errInvalidInstance (-1115)
#define JET_errDirtyShutdown (-1116)
#define JET_errReadPgnoVerifyFailure (-1118)
#define JET_errDatabaseDuplicate (-1201)
#define JET_errDatabaseInUse (-1202)
#define JET_errDatabaseNotFound (-1203)
#define JET_errDatabaseInvalidName (-1204)
#define JET_errDatabaseCorrupted (-1206)
#define JET_errInvalidDatabaseVersion (-1209)
#define JET_errPageSizeMismatch (-1213)
#define JET_errTooManyInstances (-1214)
#define JET_errDatabaseSharingViolation (-1215)
#define JET_errAttachedDatabaseMismatch (-1216)
#define JET_errDatabaseInvalidPath (-1217)
#define JET_errTableLocked (-1302)
#define JET_errTableDuplicate (-1303)
#define JET_errTableInUse (-1304)
#define JET_errObjectNotFound (-1305)
#define JET_errDensityInvalid (-1307)
#define JET_errInvalidTableId (-1310)
#define JET_errTooManyOpenTables (-1311)
#define JET_errIllegalOperation (-1312)
#define JET_errClientRequestToStopJetService (-1329)
#define JET_errRecordNotFound (-1601)
#define JET_errNoCurrentRecord (-1603)
#define JET_errKeyDuplicate (-1605)
#define JET_errTooManyAttachedDatabases (-1805)
#define JET_errDiskFull (-1808)
#define JET_errPermissionDenied (-1809)
#define JET_errFileNotFound (-1811)
#define JET_errFileInvalidType (-1812)
#define JET_errFileAlreadyExists (-1814)
#define JET_errAfterInitialization (-1850)
#define JET_errLogCorrupted (-1852)

/* ---------------------------------------------------------------------------------------------
 * System parameters (ESE's ids). Set with JetSetSystemParameter before JetInit unless noted.
 *   id  name                     type    default          notes
 *    0  SystemPath               string  "."              holds the checkpoint file edb.chk
 *    1  TempPath                 string  "."              accepted and stored; jetsnap has no temp db
 *    2  LogFilePath              string  "."              holds edb.log and edbXXXXX.log
 *    3  BaseName                 string  "edb"            exactly 3 characters
 *    5  MaxSessions              number  1024             sessions per instance, 1..30000
 *   11  LogFileSize              number  5120             KiB per log generation, 64..32768
 *   17  CircularLog              bool    0                delete logs behind the checkpoint
 *   23  CacheSizeMax             number  8192             pages cached per database
 *   34  Recovery                 string  "On"             "On" or "Off" (no log, no recovery)
 *   64  DatabasePageSize         number  8192             4096, 8192, 16384 or 32768; global
 *   70  ErrorToString            special  -               read only; see JetGetSystemParameter
 *   82  OSSnapshotTimeout        number  70000            ms a freeze may last
 *  104  MaxInstances             number  16               global; see JetCreateInstance
 * ------------------------------------------------------------------------------------------- */
#define JET_paramSystemPath 0
#define JET_paramTempPath 1
#define JET_paramLogFilePath 2
#define JET_paramBaseName 3
#define JET_paramMaxSessions 5
#define JET_paramLogFileSize 11
#define JET_paramCircularLog 17
#define JET_paramCacheSizeMax 23
#define JET_paramRecovery 34
#define JET_paramDatabasePageSize 64
#define JET_paramErrorToString 70
#define JET_paramOSSnapshotTimeout 82
#define JET_paramMaxInstances 104

/* ---------------------------------------------------------------------------------------------
 * Grbits (ESE's values)
 * ------------------------------------------------------------------------------------------- */
/* JetInit2 / JetInit3 */
#define JET_bitReplayIgnoreMissingDB 0x00000004
#define JET_bitRecoveryWithoutUndo 0x00000008
/* OS snapshots (JetOSSnapshot*) */
#define JET_bitIncrementalSnapshot 0x00000001
#define JET_bitCopySnapshot 0x00000002
#define JET_bitContinueAfterThaw 0x00000004
#define JET_bitExplicitPrepare 0x00000008
#define JET_bitAllDatabasesSnapshot 0x00000001
#define JET_bitAbortSnapshot 0x00000001
/* External backup (JetBeginExternalBackup*, JetBackup*, JetEndExternalBackupInstance2) */
#define JET_bitBackupIncremental 0x00000001
#define JET_bitBackupAtomic 0x00000004
#define JET_bitBackupSnapshot 0x00000010
#define JET_bitBackupEndNormal 0x00000001
#define JET_bitBackupEndAbort 0x00000002
#define JET_bitBackupTruncateDone 0x00000100
/* JetTerm2 */
#define JET_bitTermComplete 0x00000001
#define JET_bitTermAbrupt 0x00000002
#define JET_bitTermStopBackup 0x00000004
#define JET_bitTermDirty 0x00000008
/* JetStopServiceInstance2 */
#define JET_bitStopServiceAll 0x00000000
#define JET_bitStopServiceBackgroundUserTasks 0x00000002
#define JET_bitStopServiceQuiesceCaches 0x00000004
#define JET_bitStopServiceStopAndEmitLog 0x00000008
#define JET_bitStopServiceResume 0x80000000
/* JetAttachDatabase / JetOpenDatabase / JetCreateDatabase */
#define JET_bitDbReadOnly 0x00000001
#define JET_bitDbExclusive 0x00000002
#define JET_bitDbOverwriteExisting 0x00000200
/* JetCommitTransaction / JetRollback */
#define JET_bitCommitLazyFlush 0x00000001
#define JET_bitWaitLastLevel0Commit 0x00000002
#define JET_bitWaitAllLevel0Commit 0x00000008
#define JET_bitRollbackAll 0x00000001
/* JetMove */
#define JET_MoveFirst ((long)0x80000000)
#define JET_MovePrevious (-1)
#define JET_MoveNext (+1)
#define JET_MoveLast (0x7fffffff)
#define JET_bitMoveKeyNE 0x00000001
/* JetSeekRecord */
#define JET_bitSeekEQ 0x00000001
#define JET_bitSeekLT 0x00000002
#define JET_bitSeekLE 0x00000004
#define JET_bitSeekGE 0x00000008
#define JET_bitSeekGT 0x00000010
/* JetOpenTable */
#define JET_bitTableDenyWrite 0x00000001
#define JET_bitTableDenyRead 0x00000002
#define JET_bitTableReadOnly 0x00000004
#define JET_bitTableUpdatable 0x00000008
#define JET_bitTableNoCache 0x00000020
#define JET_bitTablePreread 0x00000040
#define JET_bitTableSequential 0x00008000
/* JetRetrieveKey / JetRetrieveRecord */
#define JET_bitRetrieveCopy 0x00000001
/* JetPutRecord (jetsnap) */
#define JET_bitPutNoOverwrite 0x00000001

/* Everything declared from here on is exported from libjet.so; the rest of the library is hidden. */
#if defined(__GNUC__)
#pragma GCC visibility push(default)
#endif

/* ---------------------------------------------------------------------------------------------
 * Instances and system parameters
 * ------------------------------------------------------------------------------------------- */

/* JetCreateInstance: allocate a named instance (not yet initialized) and switch the process to
 * multi-instance mode.
 *   pinstance     receives the handle.
 *   szInstanceName unique name, or NULL (only one unnamed instance may exist at a time).
 * Errors: InvalidParameter (NULL pinstance, name longer than JET_cbNameMost),
 *   RunningInOneInstanceMode (JetInit(NULL) selected legacy mode), InstanceNameInUse,
 *   TooManyInstances (JET_paramMaxInstances reached; created-but-not-initialized instances count). */
JET_ERR JET_API JetCreateInstance(JET_INSTANCE *pinstance, const char *szInstanceName);

/* JetCreateInstance2: as JetCreateInstance, with a display name used in events (falls back to the
 * instance name). grbit is reserved and must be 0 (InvalidGrbit otherwise). */
JET_ERR JET_API JetCreateInstance2(JET_INSTANCE *pinstance, const char *szInstanceName,
                                   const char *szDisplayName, JET_GRBIT grbit);

/* JetSetSystemParameter: set parameter paramid for *pinstance, or the process-wide default for
 * instances created later when pinstance is NULL or points to JET_instanceNil / 0.
 * Numbers go in lParam, strings in szParam. sesid is ignored.
 * Errors: InvalidParameter (unknown id, value out of range, bad string), AlreadyInitialized
 *   (instance already initialized and the parameter cannot change at run time), InvalidInstance
 *   (unknown handle), SystemParamsAlreadySet (a global parameter once an instance exists). */
JET_ERR JET_API JetSetSystemParameter(JET_INSTANCE *pinstance, JET_SESID sesid, unsigned long paramid,
                                      JET_API_PTR lParam, JET_PCSTR szParam);

/* JetGetSystemParameter: read parameter paramid of instance (or the process default when instance
 * is 0 / JET_instanceNil). Numbers are written to *plParam, strings to szParam (at most cbMax
 * bytes, always NUL-terminated when cbMax > 0).
 * JET_paramErrorToString (70) is not a setting but ESE's way to name an error: *plParam holds a
 * JET_err/JET_wrn number on input (as a JET_API_PTR: (JET_API_PTR)(long)err) and szParam receives
 * "<name>, <description>", e.g. "JET_errFileNotFound, File not found", or "Unknown Error, Unknown
 * Error" for a number this header does not define (still JET_errSuccess). instance and sesid are
 * ignored (it works before any JetInit); *plParam is left as it was.
 * Errors: InvalidParameter (unknown id; no output buffer for the parameter's type), BufferTooSmall
 *   (string longer than cbMax-1; nothing is written), InvalidInstance. */
JET_ERR JET_API JetGetSystemParameter(JET_INSTANCE instance, JET_SESID sesid, unsigned long paramid,
                                      JET_API_PTR *plParam, JET_PSTR szParam, unsigned long cbMax);

/* JetInit / JetInit2 / JetInit3: initialize an instance: open (and if needed create) its log and
 * checkpoint, run crash recovery (redo of committed transactions from the checkpoint onwards;
 * uncommitted work never reaches a database page), then accept sessions.
 *   JetInit(NULL) or JetInit(&nil) with no mode set selects legacy one-instance mode.
 *   With a created instance it initializes that instance.
 *   prstinfo (JetInit3) may be NULL: recovery then writes each database at the path the log and
 *   the checkpoint name it by (the absolute path it was attached at). Otherwise prstinfo->cbStruct
 *   must be sizeof(JET_RSTINFO), and its restore map, rgrstmap with crstmap entries (crstmap >= 0;
 *   rgrstmap may be NULL only when crstmap is 0; a map of 0 entries is no map, as in ESE), says
 *   where each database is now, to recover a copy of an instance taken elsewhere (its log
 *   directory, edb.chk and databases copied, e.g. by `cp -a` of a snapshot): point
 *   JET_paramSystemPath and JET_paramLogFilePath at the copy, and map each database:
 *     szDatabaseName: the path as the log names it (the original path). It is compared in the
 *       form the engine stores paths in: if its directory exists here, it is resolved as
 *       JetAttachDatabase does (realpath of the directory, so a symlink, "." or a relative path
 *       reaching the same directory matches); if not (the originals are on another machine), it
 *       is compared exactly as written, which must then be the absolute path the log holds.
 *     szNewDatabaseName: where the file is now (resolved the same way). Redo goes there, and
 *       the file there must be that database (its signature is checked against the one the log
 *       or the checkpoint records: BadDbSignature otherwise, before anything is written to it).
 *   With a map, a database the log names that is NOT in the map is skipped, with event 307: its
 *   changes are not replayed anywhere, and no file at its original path is opened. That is ESE's
 *   rule (its JET_bitReplayMissingMapEntryDB, 0x20, which replays such databases at their original
 *   paths, is not offered — InvalidGrbit: for a copy that would write into the live databases it
 *   was taken from). The skipped database's copy keeps its dirty state and, once this recovery has moved
 *   the checkpoint past its logs, can no longer be recovered from this copy: copy the instance
 *   again and recover it with a map that names it. Event 308 names each mapped database's old
 *   and new path.
 *   Nothing of the map is kept: after recovery the databases are detached, the new checkpoint
 *   names none, and the application attaches them at their new paths, so a later JetInit of the
 *   copy never writes at the original paths. Until a JetInit3 with the map has succeeded, the
 *   copy's edb.chk and logs still name the original paths: always recover the copy with the map
 *   (a plain JetInit of it would replay into the originals).
 *   lgposStop, logtimeStop and pfnStatus are not used: recovery always replays to the end of the
 *   log. With JET_paramRecovery off no recovery runs and the map is not used.
 *   grbit (JetInit2/3): 0, or any of JET_bitReplayIgnoreMissingDB (a database the log names that
 *   is no longer on disk — with a map: not at its new path — is skipped, with event 300, instead
 *   of failing the init with FileNotFound) and JET_bitRecoveryWithoutUndo (accepted; jetsnap's
 *   recovery never undoes anything anyway).
 * Databases that were attached at the time of a crash are recovered and left detached (clean);
 * the application attaches them again, as with ESE.
 * Errors: InvalidParameter (prstinfo: cbStruct not sizeof(JET_RSTINFO), crstmap < 0, rgrstmap
 *   NULL with entries, an entry's szDatabaseName or szNewDatabaseName NULL, empty, longer than
 *   the engine stores (4094 bytes) or not ending in a file name, two entries naming the same
 *   database or the same new file; checked before anything else, with nothing created or
 *   changed), BadDbSignature (a mapped file, or the file at a database's path, is another
 *   database), FileNotFound (a database recovery must write is missing, at its path or at its new
 *   one, without JET_bitReplayIgnoreMissingDB), AlreadyInitialized, RunningInMultiInstanceMode (NULL pinstance in multi-instance mode),
 *   InvalidInstance/InvalidParameter (unknown handle), InvalidGrbit, InvalidPath/InvalidLogDirectory
 *   /InvalidSystemPath (a directory that does not exist or cannot be written; InvalidPath also for
 *   a checkpoint or log that is not a regular file), OutOfFileHandles,
 *   FileAccessDenied (another process or instance uses the checkpoint or the log files: a
 *   running writer holds edb.log and edbtmp.log locked), BadLogSignature,
 *   LogFileCorrupt (damage before the end of the log: a damaged record with intact ones behind
 *   it, or a log file shorter than its header says — only a torn tail left by a crash ends the
 *   log; an event names the file and offset, and nothing on disk is changed), BadLogVersion,
 *   LogGenerationMismatch, MissingLogFile (also: without edb.chk, the oldest generation on disk
 *   continues one that is missing), MissingPreviousLogFile (the generation edb.chk needs is
 *   gone), CheckpointCorrupt (edb.chk unreadable, or its position is not the start of a record of
 *   the log: inside a record or past the end of the log; an event says which), LogFileSizeMismatch,
 *   SoftRecoveryOnBackupDatabase,
 *   DatabaseCorrupted/ReadVerifyFailure (a database page that recovery needs is damaged),
 *   DiskIO/DiskFull/LogDiskFull. On any error the instance stays created but not initialized. */
JET_ERR JET_API JetInit(JET_INSTANCE *pinstance);
JET_ERR JET_API JetInit2(JET_INSTANCE *pinstance, JET_GRBIT grbit);
JET_ERR JET_API JetInit3(JET_INSTANCE *pinstance, JET_RSTINFO *prstinfo, JET_GRBIT grbit);

/* JetTerm / JetTerm2: shut an instance down and free it (also a created-but-not-initialized one).
 *   JetTerm(inst) is JetTerm2(inst, JET_bitTermAbrupt), as in ESE's source.
 *   Complete (or 0): fails with TooManyActiveUsers if a session has an open transaction.
 *   Abrupt / StopBackup: open transactions are rolled back.
 *   In all of these the databases are flushed and detached cleanly.
 *   Dirty: nothing is flushed; databases stay dirty and are recovered by the next JetInit; the
 *   result is JET_errDirtyShutdown (-1116), and the instance is freed all the same.
 * Calls that race the term get TermInProgress. A term of an instance frozen by an OS snapshot, or
 * in a session a JetOSSnapshotFreeze is freezing, does not wait for the freeze: it ends the freeze
 * of that snapshot session (every instance of it is thawed, event 2007) and leaves it; the
 * session's Thaw, or the Freeze in progress, then returns JET_errOSSnapshotTimeOut so the copy is
 * discarded. Only when this instance's own freeze is still under way (its I/O has not returned)
 * does the term wait, for that I/O. When the last instance is freed the process returns to "no
 * mode". Errors: InvalidParameter (unknown handle in multi-instance mode), InvalidGrbit,
 *   TooManyActiveUsers, DirtyShutdown. */
JET_ERR JET_API JetTerm(JET_INSTANCE instance);
JET_ERR JET_API JetTerm2(JET_INSTANCE instance, JET_GRBIT grbit);

/* JetEnableMultiInstance: set process-wide parameters and select multi-instance mode.
 *   psetsysparam  csetsysparam parameters; each element's err receives its own result.
 *   pcsetsucceed  optional: how many were set (or, in multi-instance mode, matched).
 * With no mode set the parameters become the defaults of instances created later. In
 * multi-instance mode nothing changes: each value is compared with the one in force.
 * Errors: RunningInOneInstanceMode, InvalidParameter (NULL array with a non-zero count; an unknown
 *   id or bad value, also stored in that element), SystemParameterConflict (multi-instance mode and
 *   a value differs from the one in force). */
JET_ERR JET_API JetEnableMultiInstance(JET_SETSYSPARAM *psetsysparam, unsigned long csetsysparam,
                                       unsigned long *pcsetsucceed);

/* JetGetInstanceInfo: every initialized instance with its attached databases.
 *   *pcInstanceInfo receives the count, *paInstanceInfo one block holding the array and every
 *   string it points to; the caller frees it with JetFreeBuffer. With no instance running the
 *   count is 0 and *paInstanceInfo is NULL.
 * Errors: InvalidParameter (a NULL pointer), OutOfMemory. */
JET_ERR JET_API JetGetInstanceInfo(unsigned long *pcInstanceInfo, JET_INSTANCE_INFO **paInstanceInfo);

/* JetFreeBuffer: free a buffer the engine allocated for the caller (JetGetInstanceInfo,
 * JetOSSnapshotFreeze). NULL is a no-op. Always JET_errSuccess. */
JET_ERR JET_API JetFreeBuffer(char *pbBuf);

/* JetStopServiceInstance2: prepare an instance for shutdown.
 *   JET_bitStopServiceAll (0) or JET_bitStopServiceStopAndEmitLog: flush every dirty page (quiesce),
 *     then refuse every later call on the instance — JetBeginSession and every session call — with
 *     JET_errClientRequestToStopJetService (-1329) until JetTerm, which still works. Final: a
 *     Resume after it also gets ClientRequestToStopJetService.
 *   JET_bitStopServiceBackgroundUserTasks (0x2): resumable; jetsnap runs no background user tasks
 *     (no online defragmentation or database scan), so the bit only records the state.
 *   JET_bitStopServiceQuiesceCaches (0x4): resumable; flushes every dirty page now.
 *   JET_bitStopServiceResume (0x80000000): alone, undoes every resumable stop; with the bits above,
 *     only those. Sessions keep working after a resumable stop.
 * Errors: InvalidParameter (unknown handle), InvalidGrbit, NotInitialized, TermInProgress,
 *   InstanceUnavailable, ClientRequestToStopJetService (already stopped for good), and the disk
 *   errors of the flush (the instance then becomes unavailable). */
JET_ERR JET_API JetStopServiceInstance2(JET_INSTANCE instance, JET_GRBIT grbit);

/* JetStopServiceInstance: JetStopServiceInstance2(instance, JET_bitStopServiceAll). */
JET_ERR JET_API JetStopServiceInstance(JET_INSTANCE instance);

/* JetStopService: the legacy instance-less form, for one-instance mode.
 * Errors: as JetStopServiceInstance, plus RunningInMultiInstanceMode (multi-instance mode) and
 *   InvalidParameter (no mode set, as ESE). */
JET_ERR JET_API JetStopService(void);

/* ---------------------------------------------------------------------------------------------
 * External (streaming) backup — docs/jet-semantics.md, “External backup”. The sequence is
 *   Begin → [full: GetAttachInfo → for each database OpenFile, ReadFile until 0 bytes, CloseFile]
 *   → GetLogInfo → for each log OpenFile, ReadFile, CloseFile → [TruncateLog] → End.
 * The engine keeps committing meanwhile; the databases are copied "fuzzy" and the logs from the
 * checkpoint at Begin to the generation rolled at GetLogInfo make the copy consistent on restore.
 * Every function has an "Instance" form (instance first) and a legacy form without one, which
 * works in one-instance mode only: RunningInMultiInstanceMode (-1081) in multi-instance mode,
 * InvalidParameter with no mode set. Both forms also give the usual entry errors
 * (NotInitialized, TermInProgress, ClientRequestToStopJetService, InstanceUnavailable).
 * Once JetStopBackup(Instance) (or a JetTerm2 that stops the backup) was called, every call but
 * CloseFile gives JET_errBackupAbortByServer (-801) until End. If a log cannot be copied (missing,
 * or damaged: JET_errLogReadVerifyFailure) the whole backup is cancelled and every call but
 * CloseFile gives that error until End.
 * ------------------------------------------------------------------------------------------- */

/* JetBeginExternalBackupInstance: start a backup. grbit: 0 (full) or JET_bitBackupIncremental
 * (logs only; needs a streaming full backup of every attached database and no circular logging).
 * Errors: BackupNotAllowedYet (the instance is still initializing), LoggingDisabled (Recovery
 *   "Off"), LogWriteFail, InvalidGrbit (any other bit, including Atomic and Snapshot; ESE's internal
 *   Surrogate and InternalCopy kinds are not offered), InvalidBackup (incremental with circular
 *   logging), MissingFullBackup (incremental without a full first), BackupInProgress. */
JET_ERR JET_API JetBeginExternalBackupInstance(JET_INSTANCE instance, JET_GRBIT grbit);
JET_ERR JET_API JetBeginExternalBackup(JET_GRBIT grbit);

/* JetGetAttachInfoInstance: the attached databases' full paths as a list of NUL-terminated strings
 * ended by an empty one. With pv NULL, *pcbActual gets the size needed; otherwise at most cbMax
 * bytes are copied and *pcbActual = min(cbMax, needed).
 * Errors: NoBackup, BackupAbortByServer, InvalidBackupSequence (incremental backup). */
JET_ERR JET_API JetGetAttachInfoInstance(JET_INSTANCE instance, void *pv, unsigned long cbMax,
                                         unsigned long *pcbActual);
JET_ERR JET_API JetGetAttachInfo(void *pv, unsigned long cbMax, unsigned long *pcbActual);

/* JetOpenFileInstance: open one file of the backup set for reading; *phfFile gets its handle and
 * the size in bytes is split over *pulFileSizeLow/High. A database's stream is
 * (pages in the file + 2 header pages + 1 trailer page) x page size: the header as it was at open
 * (twice), the pages, and a trailer with the log range it needs; written to a file, that stream
 * is the database file to restore. Logs are opened by the names JetGetLogInfo gave, after it.
 * At most 16 handles at once (OutOfMemory beyond).
 * Errors: NoBackup, BackupAbortByServer, InvalidParameter (empty name; a name that is neither an
 *   attached database nor a log of this instance), InvalidBackupSequence (a database in an
 *   incremental backup or after GetLogInfo, or one already opened in this backup),
 *   DatabaseNotFound (not attached; the rest of the backup goes on), MissingFileToBackup (a log
 *   that is not on disk: the backup is cancelled), LogReadVerifyFailure (a damaged log: the backup
 *   is cancelled). */
JET_ERR JET_API JetOpenFileInstance(JET_INSTANCE instance, const char *szFileName, JET_HANDLE *phfFile,
                                    unsigned long *pulFileSizeLow, unsigned long *pulFileSizeHigh);
JET_ERR JET_API JetOpenFile(const char *szFileName, JET_HANDLE *phfFile, unsigned long *pulFileSizeLow,
                            unsigned long *pulFileSizeHigh);

/* JetReadFileInstance: read the next cb bytes of an open backup file into pv; cb must be a
 * multiple of the page size, and the first read of a database at least 3 pages, of a log at least
 * 2. *pcbActual gets the bytes read; 0 at the end. Pages are verified (a damaged page is retried
 * up to 16 times) and never torn by a concurrent write.
 * Errors: NoBackup, BackupAbortByServer, InvalidParameter (bad handle, NULL pointers, cb not whole
 *   pages, a first read too small), ReadVerifyFailure (a page stays damaged: that database's
 *   handle is closed and it is left out of the backup; the rest goes on), disk errors. */
JET_ERR JET_API JetReadFileInstance(JET_INSTANCE instance, JET_HANDLE hfFile, void *pv, unsigned long cb,
                                    unsigned long *pcbActual);
JET_ERR JET_API JetReadFile(JET_HANDLE hfFile, void *pv, unsigned long cb, unsigned long *pcbActual);

/* JetCloseFileInstance: close a backup file handle. A database read to its end counts as copied;
 * a log read to its end counts toward TruncateLog's check. Works after a stop.
 * Errors: NoBackup, InvalidParameter (bad handle). */
JET_ERR JET_API JetCloseFileInstance(JET_INSTANCE instance, JET_HANDLE hfFile);
JET_ERR JET_API JetCloseFile(JET_HANDLE hfFile);

/* JetGetLogInfoInstance(2): the log files to copy, as full paths in a list like GetAttachInfo's.
 * The first call (of this and of GetTruncateLogInfo) rolls the log so every commit so far is in a
 * closed generation, and fixes the range: a full backup copies from the checkpoint generation at
 * Begin, an incremental from the oldest log on disk, both up to the generation just closed.
 * JetGetLogInfoInstance2 also fills *pLogInfo (cbSize must be sizeof(JET_LOGINFO); ulGenHigh is
 * inclusive). Errors: NoBackup, BackupAbortByServer, InvalidBackupSequence (a file is still open),
 *   MissingFileToBackup (incremental: a log after the last backup is gone, so the chain would have a
 *   gap), FileNotFound (no archived log), InvalidParameter. */
JET_ERR JET_API JetGetLogInfoInstance(JET_INSTANCE instance, void *pv, unsigned long cbMax,
                                      unsigned long *pcbActual);
JET_ERR JET_API JetGetLogInfoInstance2(JET_INSTANCE instance, void *pv, unsigned long cbMax,
                                       unsigned long *pcbActual, JET_LOGINFO *pLogInfo);
JET_ERR JET_API JetGetLogInfo(void *pv, unsigned long cbMax, unsigned long *pcbActual);

/* JetGetTruncateLogInfoInstance: the log files JetTruncateLogInstance would delete: from the oldest
 * on disk up to (not including) the lower of the checkpoint generation and the end of the copied
 * range — and, for a full backup, never a log an attached database left out of it still needs.
 * Same convention and errors as JetGetLogInfoInstance. */
JET_ERR JET_API JetGetTruncateLogInfoInstance(JET_INSTANCE instance, void *pv, unsigned long cbMax,
                                              unsigned long *pcbActual);

/* JetTruncateLogInstance: delete the logs JetGetTruncateLogInfoInstance lists, once every log of
 * the backup was read to its end and closed. Never deletes a log crash recovery still needs.
 * Errors: NoBackup, BackupAbortByServer, InvalidBackupSequence (before GetLogInfo, or a file still
 *   open), LogFileNotCopied (a log of the range was not read to its end: nothing is deleted). */
JET_ERR JET_API JetTruncateLogInstance(JET_INSTANCE instance);
JET_ERR JET_API JetTruncateLog(void);

/* JetTruncateLogUpToInstance (jetsnap's own): delete archived logs after a backup has ended, for a
 * client that ended it with JET_bitBackupEndNormal | JET_bitBackupTruncateDone (so it is recorded
 * as Full or Incremental) and deletes the logs later, or only some of them. It deletes every
 * archived generation g on disk with all of:
 *   - g <= genUpTo (genUpTo 0: no limit of the caller's);
 *   - g below the current checkpoint generation (never a log crash recovery still needs);
 *   - g <= the last generation held by the last streaming Full or Incremental backup recorded in
 *     EVERY attached database (the higher genHigh of bkinfoFullPrev and bkinfoIncPrev, when their
 *     backup was a streaming one). A Copy or Differential backup, or an OS snapshot, does not
 *     count; while one attached database has no such backup recorded nothing is deleted (success,
 *     event 225 names it).
 * Event 224 names the generations deleted, 225 says none could be. With circular logging there is
 * nothing to do (the checkpoint deletes what it can): JET_errSuccess. *pgenFirstKept (optional)
 * gets the first generation still on disk afterwards (with no archived log left: the current
 * generation, edb.log's).
 * Errors: InvalidParameter (genUpTo above 0xFFFFFFFF; an unknown instance), BackupInProgress (an
 *   external backup is running, or an OS snapshot session holds the instance between Freeze and
 *   End; nothing deleted), NoBackup (no attached database records a streaming Full or Incremental
 *   backup, or none is attached; nothing deleted, event 225), LoggingDisabled (Recovery "Off"),
 *   the usual entry errors (NotInitialized, TermInProgress, ClientRequestToStopJetService,
 *   InstanceUnavailable), LogFileCorrupt / BadLogSignature (a log on disk cannot be read), and the
 *   disk errors of deleting (the generations deleted before the error stay deleted). */
JET_ERR JET_API JetTruncateLogUpToInstance(JET_INSTANCE instance, unsigned long genUpTo,
                                           unsigned long *pgenFirstKept);

/* JetEndExternalBackupInstance2: end the backup; the return code says whether it is valid.
 *   JET_bitBackupEndNormal: after a complete sequence, records it in every copied database's header
 *     (bkinfo, see JetGetDatabaseFileInfo) and returns JET_errSuccess: a full backup whose logs were
 *     truncated (or with JET_bitBackupTruncateDone) as Full — which clears Incremental and
 *     Differential — otherwise as Copy; an incremental as Incremental, or Differential if not
 *     truncated. Ended before the logs were fetched and read to the end: nothing is recorded and the
 *     result is JET_errBackupAbortByCaller (-800). After a stop: JET_errBackupAbortByServer (-801).
 *     After a cancelled backup: the error that cancelled it.
 *   JET_bitBackupEndAbort: abandon it; nothing is recorded; JET_errSuccess.
 * In every case the backup is over. Errors also: NoBackup, InvalidParameter (neither or both of
 *   Normal and Abort), InvalidGrbit. JetEndExternalBackup(Instance) is Instance2 with EndNormal. */
JET_ERR JET_API JetEndExternalBackupInstance2(JET_INSTANCE instance, JET_GRBIT grbit);
JET_ERR JET_API JetEndExternalBackupInstance(JET_INSTANCE instance);
JET_ERR JET_API JetEndExternalBackup(void);

/* JetStopBackupInstance: ask a running backup to stop (from any thread); always JET_errSuccess,
 * also with no backup running (then it has no effect). The backup's later calls get
 * JET_errBackupAbortByServer; End returns it too. */
JET_ERR JET_API JetStopBackupInstance(JET_INSTANCE instance);
JET_ERR JET_API JetStopBackup(void);

/* JetExternalRestore: bring databases restored from backup streams (each stream written to a
 * file) to the state at the end of the backed-up logs. Hard recovery replays the generations
 * [genLow, genHigh] in szBackupLogPath (0, 0: every generation there) onto them — only committed
 * transactions, so nothing uncommitted or torn reaches them — then, if szLogPath holds later logs
 * of the same log set that continue the sequence, rolls forward through those too. For an
 * incremental or differential chain, put the full backup's and every later backup's logs in
 * szBackupLogPath. The databases are then clean and detached: attach them to any instance.
 *   rgrstmap/crstfilemap: szDatabaseName (the path the database had) to szNewDatabaseName (where its
 *     restored file is). With crstfilemap 0 the restored files are looked for at the paths the
 *     databases had, as the logs name them; files there that are not backup streams are left alone.
 *   szCheckpointFilePath is accepted and not used: jetsnap writes no log or checkpoint for a restore.
 *   pfn (optional) is called with JET_snpRestore and JET_sntBegin, then JET_sntComplete or
 *     JET_sntFail.
 * Everything is checked before the first byte is written to a restored file: each stream whole
 * (its size what its trailer says, every page intact or never written), every generation of the
 * range present, of its full size, intact and of the streams' log set, and the later logs readable.
 * So a bad backup is refused with the files unchanged; only a disk error during the replay itself
 * can leave a file half replayed (still marked as a backup: restore it again).
 * Errors: RunningInOneInstanceMode, InvalidParameter (no backup log path, negative generations,
 *   NULL map with a count), RestoreOfNonBackupDatabase (a mapped file is not a backup stream; or no
 *   stream was found), DatabaseCorrupted (a stream cut short — no valid trailer, or not the size
 *   its trailer says — or its header damaged), ReadVerifyFailure (a damaged page in a stream),
 *   PageSizeMismatch / InvalidDatabaseVersion (a stream of another page size or format),
 *   MissingRestoreLogFiles (a generation of the range is missing), StartingRestoreLogTooHigh (the
 *   logs start after the generation a database needs), EndingRestoreLogTooLow (they end before the
 *   one it needs), InvalidLogSequence (a log of another log set in the range, or databases of two
 *   log sets), LogFileCorrupt (a damaged, cut short or incomplete log), LogCorrupted (a record that
 *   cannot be replayed), LogGenerationMismatch, LogFileSizeMismatch, BadLogVersion,
 *   DatabaseDuplicate (the same database twice), TooManyAttachedDatabases, InvalidPath,
 *   FileNotFound (a mapped file is missing), FileAccessDenied (a mapped file is in use by an
 *   instance), OutOfMemory, OutOfFileHandles, DiskFull, DiskIO. Events 904-910 name the file,
 *   generation, offset or page. A failed restore leaves the files marked as backups: attaching
 *   them gives SoftRecoveryOnBackupDatabase. */
JET_ERR JET_API JetExternalRestore(JET_PSTR szCheckpointFilePath, JET_PSTR szLogPath, JET_RSTMAP *rgrstmap,
                                   long crstfilemap, JET_PSTR szBackupLogPath, long genLow, long genHigh,
                                   JET_PFNSTATUS pfn);

/* JetExternalRestore2: as JetExternalRestore, with the range in *pLogInfo (NULL: every generation in
 * szBackupLogPath), and a target whose current logs to roll forward through: a running instance
 * by name (szTargetInstanceName), or a log directory (szTargetInstanceLogPath with
 * szTargetInstanceCheckpointPath). It is JetExternalRestoreUntil (below) with pStop NULL. Errors also: InvalidParameter (only one of the target paths, or a
 *   name and paths together), BadRestoreTargetInstance (no running instance by that name). */
JET_ERR JET_API JetExternalRestore2(JET_PSTR szCheckpointFilePath, JET_PSTR szLogPath, JET_RSTMAP *rgrstmap,
                                    long crstfilemap, JET_PSTR szBackupLogPath, JET_LOGINFO *pLogInfo,
                                    JET_PSTR szTargetInstanceName, JET_PSTR szTargetInstanceLogPath,
                                    JET_PSTR szTargetInstanceCheckpointPath, JET_PFNSTATUS pfn);

/* A point in time for JetExternalRestoreUntil (jetsnap's own): where the replay stops, and what it
 * replayed. Commit records carry the time of their commit (µs since the epoch, UTC, the
 * committing machine's CLOCK_REALTIME). */
typedef struct _JET_RSTSTOP {
    unsigned long cbStruct;              /* sizeof(JET_RSTSTOP) */
    unsigned long long usecStopBefore;   /* in: replay only transactions whose commit time (µs since the
                                          * epoch, UTC) is < this; 0: no time limit */
    unsigned long genStop;               /* in: replay no record of a generation > genStop; 0: no limit */
    unsigned long long usecLastCommit;   /* out: commit time of the last transaction replayed (0: none) */
    unsigned long long cCommitsReplayed; /* out: transactions replayed (of every database in the logs) */
    unsigned long genLowReplayed, genHighReplayed; /* out: generations replayed (backup logs and
                                          * roll-forward): the first, and that of the last record */
    unsigned long cDatabases;            /* out: databases restored */
} JET_RSTSTOP;

/* JetExternalRestoreUntil (jetsnap's own): JetExternalRestore2 stopped at a point in time. The
 * replay — of the backup's logs, then of the roll-forward logs — stops before the first commit
 * record (in log order) whose time is >= pStop->usecStopBefore, or at the end of generation
 * pStop->genStop, whichever comes first: that transaction and everything after it are not applied,
 * and since only committed transactions are ever applied, the databases are left exactly as they
 * were after the last transaction before the stop (clean, detached, consistent at that log
 * position). pStop NULL, or both limits 0: to the end of the logs, as JetExternalRestore2 (which
 * is this with pStop NULL).
 * A database's fuzzy copy is consistent only once its stream's logs are replayed to the end of the
 * generation its trailer names (JET_CHECKSUMINFO's genHigh): a stop before that (a genStop below
 * it, or a usecStopBefore not later than a commit of the range up to it) is refused before
 * anything is written, with JET_errEndingRestoreLogTooLow and event 912 naming the database and the
 * earliest generation and time it allows. Event 913 says where a time stop stopped.
 * On success the out fields of *pStop are filled (usecLastCommit, cCommitsReplayed,
 * genLowReplayed, genHighReplayed, cDatabases), so the caller can report what it restored.
 * Errors: those of JetExternalRestore2, and InvalidParameter (pStop's cbStruct not
 *   sizeof(JET_RSTSTOP), or genStop above 0xFFFFFFFF), EndingRestoreLogTooLow (also: the stop is
 *   before a database is consistent; the files are unchanged), LogCorrupted (a commit record whose
 *   time cannot be read). */
JET_ERR JET_API JetExternalRestoreUntil(JET_PSTR szCheckpointFilePath, JET_PSTR szLogPath, JET_RSTMAP *rgrstmap,
                                        long crstfilemap, JET_PSTR szBackupLogPath, JET_LOGINFO *pLogInfo,
                                        JET_PSTR szTargetInstanceName, JET_PSTR szTargetInstanceLogPath,
                                        JET_PSTR szTargetInstanceCheckpointPath, JET_PFNSTATUS pfn,
                                        JET_RSTSTOP *pStop);

/* JetBackupInstance: the whole backup sequence into the directory szBackupPath (created if
 * missing): each database stream as <its file name> and the logs as edbXXXXX.log; the logs are
 * then truncated and the backup recorded as Full (or Incremental). pfnStatus (optional) gets
 * JET_snpBackup with JET_sntBegin, then JET_sntComplete or JET_sntFail.
 * Each backup also writes the marker file .jetsnap-backup, listing the files it wrote.
 *   0: a full backup into an empty directory.
 *   JET_bitBackupAtomic: a full backup built beside the directory (.<name>.jetsnap-tmp in its
 *     parent, which must be writable) and swapped in by one rename only when complete and synced,
 *     replacing the backup the directory held; a failure or a crash leaves that one intact (a crash
 *     mid-swap leaves the old or the new backup whole; the next backup or restore tidies up). Only
 *     an empty or missing directory, or one holding nothing but files a jetsnap backup listed in
 *     its marker, is replaced; szBackupPath must not be a symbolic link. The logs are truncated
 *     only once the new backup is in place.
 *   JET_bitBackupIncremental: add the logs since the last backup to a directory that holds one.
 * Errors: NoBackupDirectory (no path), BackupDirectoryNotEmpty (a plain full backup into a directory
 *   with files; an atomic or incremental backup into a directory that holds anything but a jetsnap
 *   backup: an instance's log, system or database directory, a live log or checkpoint, a file an
 *   instance holds locked, a subdirectory, a symbolic link, a file the marker does not list; the
 *   directory is left untouched and event 214 names it and the entry), InvalidPath (atomic: the
 *   path is a symbolic link or a file, or ends in "." or ".."), MissingFullBackup (incremental: no
 *   jetsnap backup in the directory, or the databases have no full backup recorded),
 *   InvalidLogSequence (incremental: the logs to add do not continue those in the directory),
 *   BackupInProgress (another backup is building the same directory's staging directory),
 *   MakeBackupDirectoryFail (atomic: the staging directory cannot be made), DiskIO and the other
 *   I/O errors, InvalidGrbit, and every error of the external backup functions above. */
JET_ERR JET_API JetBackupInstance(JET_INSTANCE instance, const char *szBackupPath, JET_GRBIT grbit,
                                  JET_PFNSTATUS pfnStatus);
/* JetBackup: the legacy form of JetBackupInstance (one-instance mode; RunningInMultiInstanceMode
 * otherwise). */
JET_ERR JET_API JetBackup(const char *szBackupPath, JET_GRBIT grbit, JET_PFNSTATUS pfnStatus);

/* JetRestoreInstance: restore a JetBackupInstance directory: each database stream found in sz is
 * put back at the path the database had (never over a database an instance has attached:
 * FileAccessDenied) and brought forward by hard recovery through the directory's logs, then
 * through later logs of the same set in szDest when given (e.g. the instance's log directory, to
 * recover up to the last commit). instance: JET_instanceNil/0 uses the process defaults (page size,
 * log base name); a created, not yet initialized instance lends its parameters and is locked
 * meanwhile (its JetInit/JetTerm get RestoreInProgress). The databases end clean and detached.
 * A directory an atomic JetBackupInstance left mid-swap (sz missing, the previous backup beside it
 * as .<name>.jetsnap-old) is first put back, so the whole previous backup is restored.
 * A live database is replaced only by a complete restore: each stream is copied to
 * <path>.restoring, recovered there, and renamed over <path> (then the directory fsync'ed) once
 * every database of the directory is done; on any failure the .restoring files are removed and
 * the files at the original paths are as they were.
 * Errors: InvalidParameter, AfterInitialization (the instance is initialized), RestoreInProgress,
 *   RunningInOneInstanceMode (nil instance in one-instance mode), FileNotFound (no directory sz),
 *   RestoreOfNonBackupDatabase (no stream in the directory), DatabaseCorrupted (a stream cut short
 *   or damaged: event 909 names it), InvalidPath (a stream that does not say where its database
 *   was, or a path too long), DatabaseDuplicate (two streams of one database),
 *   TooManyAttachedDatabases, FileAccessDenied (a database is in use), DiskFull / DiskIO (also
 *   while copying or renaming: nothing replaced), and every error of JetExternalRestore. */
JET_ERR JET_API JetRestoreInstance(JET_INSTANCE instance, const char *sz, const char *szDest,
                                   JET_PFNSTATUS pfn);
/* JetRestore / JetRestore2: the legacy forms (RunningInMultiInstanceMode in multi-instance mode,
 * AfterInitialization while the one instance of one-instance mode is initialized). */
JET_ERR JET_API JetRestore(const char *sz, JET_PFNSTATUS pfn);
JET_ERR JET_API JetRestore2(const char *sz, const char *szDest, JET_PFNSTATUS pfn);

/* JetGetDatabaseFileInfo: read a database file's header (attached or not; the file is only read).
 * InfoLevel JET_DbInfoMisc (14) with cbMax >= sizeof(JET_DBINFOMISC) fills a JET_DBINFOMISC4
 * (state, signatures, consistency and attach positions, the backup records bkinfoFullPrev,
 * bkinfoIncPrev, bkinfoCopyPrev, bkinfoDiffPrev and, in a restored stream, bkinfoFullCur); a
 * smaller cbMax that still holds ESE's JET_DBINFOMISC gets that prefix.
 * Errors: InvalidParameter (NULL pointers, another InfoLevel), BufferTooSmall, FileNotFound,
 *   DatabaseCorrupted / InvalidDatabaseVersion (not a readable jetsnap database), InvalidPath (not
 *   a regular file: a FIFO, device, socket or directory), FileAccessDenied, OutOfFileHandles,
 *   DiskIO. */
JET_ERR JET_API JetGetDatabaseFileInfo(const char *szDatabaseName, void *pvResult, unsigned long cbMax,
                                       unsigned long InfoLevel);

/* ---------------------------------------------------------------------------------------------
 * Checking a database backup stream (jetsnap's own; esentutl /k for a stream) — docs/
 * jet-semantics.md, “Checking a backup stream”. A tool that reads a database's stream (what
 * JetReadFileInstance hands out for a database, or that stream written to a file, e.g. while it
 * decompresses a stored backup) feeds it in chunks of any size, from the first byte to the last,
 * and at the end learns whether every page-size unit of it is intact:
 *   - the two header copies: checksum, format, zeros in the unused part, and identical;
 *   - every page 1..N-1: checksum and page number (a page of all zeros, never written, is good:
 *     the logs of the backup bring it);
 *   - the trailer page that ends it: checksum and format, the page count N it gives equal to the
 *     stream's length ((N + 2) x page size), the database signature equal to the header's.
 * One flipped byte anywhere in the stream is found, and so is a stream cut short or run on. No
 * instance is needed and no file is touched; streams may be checked on several threads at once,
 * each JET_CHECKSUMSTREAM by one thread at a time.
 * ------------------------------------------------------------------------------------------- */

/* A check in progress (opaque): made by JetChecksumStreamBegin, freed by JetChecksumStreamEnd. It
 * is a pointer, not a validated handle: one already ended must not be passed again. */
typedef struct JET_CHECKSUMSTREAM JET_CHECKSUMSTREAM;

/* What JetChecksumStreamEnd found. cbStruct is the caller's (in); every other field is out. */
typedef struct _JET_CHECKSUMINFO {
    unsigned long cbStruct;         /* in: sizeof(JET_CHECKSUMINFO) */
    unsigned long cbPageSize;       /* the page size the header gives; 0: no header copy was readable
                                     * (nothing else could be checked) */
    unsigned long long cbStream;    /* bytes fed */
    unsigned long long cpgChecked;  /* database pages (1..N-1) checked, never-written ones included */
    unsigned long long cpgEmpty;    /* of those, never written (all zeros) */
    unsigned long long cpgBad;      /* damaged page-size units: header copies, pages and trailer */
    unsigned long pgnoFirstBad;     /* database page number of the first damaged page; 0: no page
                                     * was damaged (a header copy or the trailer may have been) */
    unsigned long long ibFirstBad;  /* stream offset of the first damaged unit; ~0ULL: none */
    unsigned long fHeaderValid;     /* 1: both header copies intact and identical */
    unsigned long fTrailerValid;    /* 1: the stream ended with an intact trailer that matches its
                                     * length and its header: the stream is whole */
    unsigned long genLow;           /* from the trailer (0 without one): the first log generation a */
    unsigned long genHigh;          /*   restore of this stream needs, and the last generation */
                                    /*   written while its pages were read: a restore must replay */
                                    /*   at least [genLow, genHigh] */
} JET_CHECKSUMINFO;

/* JetChecksumStreamBegin: start checking a stream; *pps gets the check, to feed and end.
 * Errors: InvalidParameter (pps NULL), OutOfMemory. */
JET_ERR JET_API JetChecksumStreamBegin(JET_CHECKSUMSTREAM **pps);

/* JetChecksumStreamFeed: the next cb bytes of the stream (any size, 0 included; chunks need not
 * be whole pages). Damage is not reported here but by End, which sees the whole stream: Feed
 * succeeds on any bytes. Errors: InvalidParameter (ps NULL, or pv NULL with cb > 0; the check
 * goes on as if the call had not been made). */
JET_ERR JET_API JetChecksumStreamFeed(JET_CHECKSUMSTREAM *ps, const void *pv, unsigned long cb);

/* JetChecksumStreamEnd: the stream is over; say whether it was whole and intact, fill *pinfo
 * (optional) and free ps — always, whatever it returns. Unlike other calls, *pinfo is filled on
 * the verification errors below too, so the caller can say where the damage is.
 * Returns JET_errSuccess when both header copies, every page and the trailer are intact and the
 *   trailer matches the stream's length and header.
 * Errors: DatabaseCorrupted (a header copy damaged or the copies differ; no valid trailer at the
 *   end — the stream was cut short, runs on past its trailer, or the trailer is damaged; or not a
 *   database stream at all), InvalidDatabaseVersion (the readable header is of another format
 *   version), ReadVerifyFailure (headers and trailer good, but a page is damaged: see pgnoFirstBad
 *   and cpgBad), InvalidParameter (ps NULL; or pinfo's cbStruct is not sizeof(JET_CHECKSUMINFO):
 *   ps is freed all the same and *pinfo is not written). */
JET_ERR JET_API JetChecksumStreamEnd(JET_CHECKSUMSTREAM *ps, JET_CHECKSUMINFO *pinfo);

/* JetSetEventCallback: where the engine's events go (backup started, file copied, log range,
 * truncation, "backup completed", aborts, recovery ...), process-wide; NULL stops them. ctx is
 * passed back. Always JET_errSuccess. */
JET_ERR JET_API JetSetEventCallback(JET_PFNEVENT pfnEvent, void *ctx);

/* ---------------------------------------------------------------------------------------------
 * OS snapshots (VSS-style) — docs/jet-semantics.md, “OS snapshot sessions”.
 * A snapshot service makes its point-in-time copy
 * application-consistent by freezing the instances around it:
 *   Prepare → [PrepareInstance] → Freeze → (the service copies the disks) → Thaw
 *   → [TruncateLog(Instance)] → End   (or Abort at any point)
 * Between Freeze returning and Thaw, nothing is written to the database, checkpoint or log files of
 * a frozen instance; sessions keep running in memory, and a durable commit waits until thaw. What
 * is on disk at Freeze recovers (JetInit in place, or JetExternalRestore from the copy) to the
 * transactions committed before Freeze returned. A freeze always ends: by Thaw, or by itself after
 * JET_paramOSSnapshotTimeout ms (the lowest of the instances'; default 70000; counted from Freeze's
 * return, or from its start while it is still freezing), after which Thaw returns
 * JET_errOSSnapshotTimeOut so the caller discards the copy. Several sessions may exist at
 * once; an instance belongs to at most one. An unknown session id gives
 * JET_errOSSnapshotInvalidSnapId (-2404), a call in the wrong state
 * JET_errOSSnapshotInvalidSequence (-2401), a bad grbit JET_errInvalidGrbit (as ESE's code; its
 * documentation says InvalidParameter).
 * ------------------------------------------------------------------------------------------- */

/* JetOSSnapshotPrepare: start a session; *psnapId gets its id. grbit: JET_bitIncrementalSnapshot
 * (logs only: needs a previous full OS snapshot of every database and no circular logging),
 * JET_bitCopySnapshot (recorded as Copy/Differential; logs are never truncated),
 * JET_bitContinueAfterThaw (the session survives Thaw and needs End), JET_bitExplicitPrepare (no
 * instance joins by itself; add them with PrepareInstance). Without ExplicitPrepare every
 * initialized instance that is not in another session joins — also one that cannot be frozen now
 * (a streaming backup runs, or its freeze for a session aborted meanwhile has not returned yet):
 * Freeze then fails with OSSnapshotNotAllowed for the whole set.
 * Errors: InvalidGrbit, InvalidParameter (NULL psnapId), NotInitialized (no instance exists). */
JET_ERR JET_API JetOSSnapshotPrepare(JET_OSSNAPID *psnapId, const JET_GRBIT grbit);

/* JetOSSnapshotPrepareInstance: add an instance to a session in Prepare. grbit must be 0.
 * Errors: OSSnapshotInvalidSnapId, InvalidGrbit, OSSnapshotInvalidSequence (not in Prepare),
 *   InvalidParameter (unknown instance), OSSnapshotNotAllowed (in another session, a streaming
 *   backup runs, its freeze for a session aborted meanwhile has not returned yet, or not
 *   initialized, recovering or terminating). */
JET_ERR JET_API JetOSSnapshotPrepareInstance(JET_OSSNAPID snapId, JET_INSTANCE instance, const JET_GRBIT grbit);

/* JetOSSnapshotFreeze: freeze every instance of the session (in parallel), all or none: it forces
 * each log to disk and stops its I/O (it does not wait for the cache to be written).
 * *paInstanceInfo gets the frozen instances and their databases (free it with JetFreeBuffer).
 * grbit must be 0. If it fails nothing stays frozen, and unless said below the session stays in
 * Prepare.
 * While it runs the session is freezing: Thaw, End without JET_bitAbortSnapshot,
 * TruncateLog(Instance), PrepareInstance and another Freeze get OSSnapshotInvalidSequence,
 * GetFreezeInfo lists the session's instances, and none of them waits for the freeze.
 * JetOSSnapshotAbort, the time-out and JetTerm of an instance of the session end the freeze at
 * once, also when an instance's I/O does not return (its filesystem frozen by someone else, a dead
 * NFS server, a hung disk): the instances already frozen are thawed before they return; the one
 * still being frozen is thawed by Freeze's own thread when its I/O returns. Freeze itself returns
 * when each of its instances is done — late, if one is stuck.
 * Errors: OSSnapshotInvalidSnapId (unknown id, or the session was aborted while freezing: as if the
 *   abort had come first), InvalidGrbit, InvalidParameter (a NULL pointer), OSSnapshotInvalidSequence
 *   (not in Prepare), OSSnapshotNotAllowed (a streaming backup runs, an instance is not running, or
 *   its freeze for a session aborted earlier has not returned yet), OSSnapshotTimeOut (the time-out
 *   passed, or an instance of the session was terminated, while freezing: the session is then timed
 *   out, and only an abort ends it), InvalidBackup / MissingFullBackup (incremental: circular
 *   logging / no full OS snapshot first), OutOfMemory (also: no thread for the time-out), the log's
 *   write errors. */
JET_ERR JET_API JetOSSnapshotFreeze(const JET_OSSNAPID snapId, unsigned long *pcInstanceInfo,
                                    JET_INSTANCE_INFO **paInstanceInfo, const JET_GRBIT grbit);

/* JetOSSnapshotGetFreezeInfo: the session's instances and databases, as Freeze returns them; any
 * state. Errors: OSSnapshotInvalidSnapId, InvalidGrbit, InvalidParameter. */
JET_ERR JET_API JetOSSnapshotGetFreezeInfo(const JET_OSSNAPID snapId, unsigned long *pcInstanceInfo,
                                           JET_INSTANCE_INFO **paInstanceInfo, const JET_GRBIT grbit);

/* JetOSSnapshotThaw: end the freeze; writes resume. Without ContinueAfterThaw the session then ends
 * as End would (normally; aborted after a time-out). grbit must be 0.
 * Errors: OSSnapshotInvalidSnapId, InvalidGrbit, OSSnapshotInvalidSequence (not frozen, also while
 *   Freeze is still freezing), OSSnapshotTimeOut (the freeze had already ended by itself, or because
 *   one of the session's instances was terminated: discard the copy). */
JET_ERR JET_API JetOSSnapshotThaw(const JET_OSSNAPID snapId, const JET_GRBIT grbit);

/* JetOSSnapshotTruncateLog: after Thaw, with JET_bitAllDatabasesSnapshot (every database was in
 * the copy), delete each instance's logs older than the checkpoint at Freeze — never a log crash
 * recovery needs, and nothing with circular logging; with 0, delete nothing. Once per instance;
 * may be repeated. Errors: OSSnapshotInvalidSnapId, InvalidGrbit, OSSnapshotInvalidSequence (not
 *   thawed, timed out, or a copy snapshot), RequiredLogFilesMissing (the logs on disk already start
 *   after that checkpoint), disk errors. */
JET_ERR JET_API JetOSSnapshotTruncateLog(const JET_OSSNAPID snapId, const JET_GRBIT grbit);

/* JetOSSnapshotTruncateLogInstance: the same for one instance of the session; an instance that is
 * not in the session gives JET_wrnNyi (-1). */
JET_ERR JET_API JetOSSnapshotTruncateLogInstance(const JET_OSSNAPID snapId, JET_INSTANCE instance,
                                                 const JET_GRBIT grbit);

/* JetOSSnapshotEnd: end the session. After Thaw it records the snapshot in every attached database
 * of its instances (JetGetDatabaseFileInfo; the fOSSnapshot bit of logtimeMark is set): Full or
 * Incremental, or Copy or Differential for a copy snapshot. From Prepare it just ends.
 * JET_bitAbortSnapshot: as JetOSSnapshotAbort. Errors: OSSnapshotInvalidSnapId, InvalidGrbit,
 *   OSSnapshotInvalidSequence (freezing, frozen, or timed out without the abort bit), header write
 *   errors. */
JET_ERR JET_API JetOSSnapshotEnd(const JET_OSSNAPID snapId, const JET_GRBIT grbit);

/* JetOSSnapshotAbort: end the session from any state, thawing first if frozen; nothing is recorded.
 * grbit must be 0. It never waits for a freeze in progress: while a JetOSSnapshotFreeze of the
 * session runs on another thread, Abort thaws the instances already frozen, frees them for other
 * sessions and backups, and returns; that Freeze then returns OSSnapshotInvalidSnapId. An instance
 * whose freeze has not returned (its I/O is stuck) is thawed by that freeze when it returns, and
 * until then cannot join another freeze or backup (OSSnapshotNotAllowed, BackupInProgress).
 * Errors: OSSnapshotInvalidSnapId, InvalidGrbit. */
JET_ERR JET_API JetOSSnapshotAbort(const JET_OSSNAPID snapId, const JET_GRBIT grbit);

/* ---------------------------------------------------------------------------------------------
 * Sessions
 * ------------------------------------------------------------------------------------------- */

/* JetBeginSession: open a session on an initialized instance. szUserName and szPassword are
 * ignored (as in ESE). Errors: NotInitialized, TermInProgress, InvalidInstance/InvalidParameter,
 * OutOfSessions (JET_paramMaxSessions, default 1024). */
JET_ERR JET_API JetBeginSession(JET_INSTANCE instance, JET_SESID *psesid, JET_PCSTR szUserName,
                                JET_PCSTR szPassword);

/* JetEndSession: roll back any open transaction, close the session's tables and databases and free
 * the session. grbit must be 0. Errors: InvalidSesid, InvalidGrbit, SessionSharingViolation (a call
 * of another thread is on the session: it is not ended). */
JET_ERR JET_API JetEndSession(JET_SESID sesid, JET_GRBIT grbit);

/* ---------------------------------------------------------------------------------------------
 * Databases
 * ------------------------------------------------------------------------------------------- */

/* JetCreateDatabase: create a new database file, attach it to the instance and open it for the
 * session. szConnect is ignored. grbit: 0 or JET_bitDbOverwriteExisting.
 * The file is built as <name>.creating and renamed into place, so a crash leaves no half-made
 * database: a retried create replaces what a create cut short left (and its temporary file).
 * Errors: InvalidParameter (NULL name/pdbid), InvalidGrbit, DatabaseDuplicate (already attached),
 *   FileAlreadyExists (something exists at the path and no OverwriteExisting), DatabaseInvalidPath
 *   (the directory does not exist), FileAccessDenied/PermissionDenied (also, with
 *   OverwriteExisting, a file that is in use: a database or checkpoint of any instance, or a log
 *   file — edb.log, edbtmp.log, an archived generation — of a running instance; the file is left
 *   untouched), DatabaseSharingViolation (another instance of this process has it attached),
 *   TooManyAttachedDatabases (more than 32), DiskFull/DiskIO, InTransaction (the session has an
 *   open transaction), InvalidPath (with OverwriteExisting, the name is that of a directory, FIFO,
 *   device, socket or symbolic link: it is left as it is), OutOfFileHandles. */
JET_ERR JET_API JetCreateDatabase(JET_SESID sesid, const char *szFilename, const char *szConnect,
                                  JET_DBID *pdbid, JET_GRBIT grbit);

/* JetAttachDatabase: attach an existing database file to the instance (for every session).
 * grbit: 0, JET_bitDbReadOnly or JET_bitDbExclusive (accepted, no effect: the database is still
 * opened read-write, and always exclusively to this process).
 * Returns JET_wrnDatabaseAttached if it is already attached to this instance.
 * Errors: FileNotFound, DatabaseCorrupted (not a jetsnap database, both headers damaged, or a
 *   file size that is not what the meta page's page count says: cut short or a damaged count),
 *   InvalidDatabaseVersion, PageSizeMismatch, DatabaseDirtyShutdown (needs recovery with the logs
 *   it was used with), SoftRecoveryOnBackupDatabase (a restored backup not yet recovered),
 *   DatabaseSharingViolation, FileAccessDenied (another process has it open), TooManyAttachedDatabases,
 *   InTransaction, InvalidGrbit, InvalidPath (not a regular file: a FIFO, device, socket or
 *   directory), OutOfFileHandles. */
JET_ERR JET_API JetAttachDatabase(JET_SESID sesid, const char *szFilename, JET_GRBIT grbit);

/* JetDetachDatabase: flush and detach a database (NULL or "" detaches all). The database header is
 * marked clean. Errors: DatabaseNotFound, DatabaseInUse (a session still has it open, or a table
 * of it is open), InTransaction. */
JET_ERR JET_API JetDetachDatabase(JET_SESID sesid, const char *szFilename);

/* JetOpenDatabase: open an attached database for the session; *pdbid is the database id (the same
 * for every session). grbit: 0, JET_bitDbReadOnly or JET_bitDbExclusive (accepted, no effect).
 * Errors: DatabaseNotFound (not attached), InvalidParameter, InvalidGrbit. */
JET_ERR JET_API JetOpenDatabase(JET_SESID sesid, const char *szFilename, const char *szConnect,
                                JET_DBID *pdbid, JET_GRBIT grbit);

/* JetCloseDatabase: close a database the session opened (grbit must be 0). The session's tables of
 * that database must be closed first (TableInUse). Errors: InvalidDatabaseId, InvalidGrbit. */
JET_ERR JET_API JetCloseDatabase(JET_SESID sesid, JET_DBID dbid, JET_GRBIT grbit);

/* ---------------------------------------------------------------------------------------------
 * Tables: each is an ordered map from a binary key (1..JET_cbKeyMost4KBytePage bytes with 4 KiB
 * pages, 1..JET_cbKeyMost8KBytePage with larger ones) to a binary value (0..64 MiB). Keys compare
 * as unsigned bytes (memcmp), a shorter key before its extensions.
 * ------------------------------------------------------------------------------------------- */

/* JetCreateTable: create a table and open a cursor on it. lPages and lDensity are hints (lDensity
 * must be 0 or 20..100: DensityInvalid). Transactional: rolled back with the transaction it is in.
 * Errors: TableDuplicate, InvalidName (empty, longer than JET_cbNameMost, or control characters),
 *   InvalidDatabaseId, WriteConflict. */
JET_ERR JET_API JetCreateTable(JET_SESID sesid, JET_DBID dbid, const char *szTableName,
                               unsigned long lPages, unsigned long lDensity, JET_TABLEID *ptableid);

/* JetOpenTable: open a cursor on an existing table. pvParameters/cbParameters are ignored.
 * grbit: any of TableDenyWrite/DenyRead/ReadOnly/Updatable (accepted, not enforced) and the
 * access hints TableNoCache/Preread/Sequential (accepted, no effect).
 * Errors: ObjectNotFound, InvalidDatabaseId, InvalidName, InvalidGrbit. */
JET_ERR JET_API JetOpenTable(JET_SESID sesid, JET_DBID dbid, const char *szTableName,
                             const void *pvParameters, unsigned long cbParameters, JET_GRBIT grbit,
                             JET_TABLEID *ptableid);

/* JetCloseTable: close a cursor. Errors: InvalidTableId, SesidTableIdMismatch. */
JET_ERR JET_API JetCloseTable(JET_SESID sesid, JET_TABLEID tableid);

/* JetDeleteTable: delete a table and free its pages (transactional). No cursor may be open on it
 * (TableInUse). Errors: ObjectNotFound, InvalidDatabaseId, WriteConflict. */
JET_ERR JET_API JetDeleteTable(JET_SESID sesid, JET_DBID dbid, const char *szTableName);

/* ---------------------------------------------------------------------------------------------
 * Transactions
 * ------------------------------------------------------------------------------------------- */

/* JetBeginTransaction: start a transaction, or a nested level (at most 7 levels: TransTooDeep).
 * Reads inside a transaction see the session's own changes and other sessions' committed data.
 * Errors: InvalidSesid, TransTooDeep, SessionSharingViolation, and the instance's fatal error once
 *   it is unavailable (InstanceUnavailable, or DiskFull when a database disk filled up). */
JET_ERR JET_API JetBeginTransaction(JET_SESID sesid);

/* JetCommitTransaction: commit the innermost level. Committing level 0 makes the changes visible
 * and, with grbit 0, durable before returning (the log is fsync'ed; concurrent committers share
 * one flush). JET_bitCommitLazyFlush returns before the flush; the commit becomes durable with the
 * next flush (any durable commit, or JetTerm). JET_bitWaitLastLevel0Commit waits for every earlier
 * commit of the session to be durable, JET_bitWaitAllLevel0Commit for every commit of the
 * instance so far; with either, nothing is committed (the call only waits).
 * Errors: NotInTransaction, InvalidGrbit, LogWriteFail / LogDiskFull (the commit is then rolled
 *   back and the instance becomes unavailable). */
JET_ERR JET_API JetCommitTransaction(JET_SESID sesid, JET_GRBIT grbit);

/* JetRollback: undo the innermost level (JET_bitRollbackAll: every level). Errors:
 * NotInTransaction, InvalidGrbit. */
JET_ERR JET_API JetRollback(JET_SESID sesid, JET_GRBIT grbit);

/* ---------------------------------------------------------------------------------------------
 * Records (jetsnap's own functions; ESE's column model is out of scope). Outside a transaction
 * every update is its own durable transaction.
 * Every function below that reads pages can also return ReadVerifyFailure (a page's checksum is
 * wrong) and DatabaseCorrupted (a page's structure is wrong, or pages do not fit together; an
 * event names the page and the reason). Scans end: a JetMove never returns a record it has
 * passed, it returns DatabaseCorrupted instead.
 * ------------------------------------------------------------------------------------------- */

/* JetPutRecord: insert or replace the value of pvKey (grbit 0), or insert only
 * (JET_bitPutNoOverwrite: KeyDuplicate if present). The cursor moves to the record.
 * Errors: InvalidParameter (NULL key, cbKey 0, NULL data with cbData > 0), KeyTooBig,
 *   RecordTooBig (> 64 MiB), KeyDuplicate, WriteConflict, VersionStoreOutOfMemory, InvalidGrbit. */
JET_ERR JET_API JetPutRecord(JET_SESID sesid, JET_TABLEID tableid, const void *pvKey,
                             unsigned long cbKey, const void *pvData, unsigned long cbData,
                             JET_GRBIT grbit);

/* JetGetRecord: copy the value of pvKey into pvData (at most cbMax bytes; pvData may be NULL when
 * cbMax is 0). *pcbActual (optional) receives the full size. A value larger than cbMax gives
 * JET_wrnBufferTruncated. The cursor does not move. grbit must be 0.
 * Errors: RecordNotFound, InvalidParameter, KeyTooBig, InvalidGrbit. */
JET_ERR JET_API JetGetRecord(JET_SESID sesid, JET_TABLEID tableid, const void *pvKey,
                             unsigned long cbKey, void *pvData, unsigned long cbMax,
                             unsigned long *pcbActual, JET_GRBIT grbit);

/* JetDeleteRecord: delete the record with key pvKey (grbit must be 0). If the cursor was on it, the
 * cursor keeps its position "between" records: JetMove Next/Previous continue from there and
 * JetRetrieveRecord gives NoCurrentRecord. Errors: RecordNotFound, WriteConflict, InvalidParameter. */
JET_ERR JET_API JetDeleteRecord(JET_SESID sesid, JET_TABLEID tableid, const void *pvKey,
                                unsigned long cbKey, JET_GRBIT grbit);

/* JetSeekRecord: position the cursor with exactly one of JET_bitSeekEQ/LT/LE/GE/GT relative to
 * pvKey. Returns JET_errSuccess on an exact match or any LT/GT hit, and JET_wrnSeekNotEqual when
 * LE/GE landed on another key (as ESE). Errors: RecordNotFound (no such record; the cursor is then not on a record),
 * InvalidGrbit (none or several seek bits), InvalidParameter, KeyTooBig. */
JET_ERR JET_API JetSeekRecord(JET_SESID sesid, JET_TABLEID tableid, const void *pvKey,
                              unsigned long cbKey, JET_GRBIT grbit);

/* JetMove: JET_MoveFirst, JET_MoveLast, JET_MoveNext, JET_MovePrevious, or a signed count of
 * records to move. grbit must be 0 (MoveKeyNE is accepted and has no effect: keys are unique).
 * Errors: NoCurrentRecord (moved past either end, or an empty table; the cursor is then before the
 * first / after the last record), InvalidGrbit. */
JET_ERR JET_API JetMove(JET_SESID sesid, JET_TABLEID tableid, long cRow, JET_GRBIT grbit);

/* JetRetrieveKey: copy the key of the current record (at most cbMax bytes; JET_wrnBufferTruncated
 * if longer). *pcbActual (optional) gets its full length. grbit: 0 or JET_bitRetrieveCopy (no
 * effect: jetsnap has no pending update to read from). Errors: NoCurrentRecord, InvalidGrbit. */
JET_ERR JET_API JetRetrieveKey(JET_SESID sesid, JET_TABLEID tableid, void *pvKey, unsigned long cbMax,
                               unsigned long *pcbActual, JET_GRBIT grbit);

/* JetRetrieveRecord: copy the value of the current record, as JetGetRecord does. grbit: as
 * JetRetrieveKey's.
 * Errors: NoCurrentRecord (not on a record, or the record was deleted meanwhile), InvalidGrbit. */
JET_ERR JET_API JetRetrieveRecord(JET_SESID sesid, JET_TABLEID tableid, void *pvData,
                                  unsigned long cbMax, unsigned long *pcbActual, JET_GRBIT grbit);

/* ---------------------------------------------------------------------------------------------
 * Utilities (jetsnap's own)
 * ------------------------------------------------------------------------------------------- */

/* JetCrc32c: CRC-32C (Castagnoli, as iSCSI and pg_verifybackup), the checksum jetsnap uses for
 * pages, log records and backup streams: continue crc (0 to start) over cb bytes at pv and return
 * the new value; JetCrc32c(0, "123456789", 9) is 0xE3069283. Uses the CPU's crc32 instruction when
 * it has one. Needs no instance and never fails; pv may be NULL when cb is 0. */
unsigned int JET_API JetCrc32c(unsigned int crc, const void *pv, size_t cb);

#if defined(__GNUC__)
#pragma GCC visibility pop
#endif

#ifdef __cplusplus
}
#endif
#endif /* JET_H */
