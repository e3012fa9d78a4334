/*
 * dbinfo.c — JetGetDatabaseFileInfo: a database file's header as ESE's JET_DBINFOMISC4, so that
 * backup applications can see the database state and the backups recorded in it.
 */
#include <fcntl.h>
#include <string.h>
#include <time.h>

#include "engine-int.h"

/* Our LSN (generation << 32 | byte offset) as ESE's JET_LGPOS. */
static JET_LGPOS lgpos(eng_lsn l)
{
    JET_LGPOS p;
    p.lGeneration = (long)ENG_LSN_GEN(l);
    p.isec = (unsigned short)(ENG_LSN_OFF(l) / 512);
    p.ib = (unsigned short)(ENG_LSN_OFF(l) % 512);
    return p;
}

/* µs since the epoch as JET_LOGTIME in UTC, with ESE's JET_BKLOGTIME bits in the fillers. */
static JET_LOGTIME logtime(uint64_t usec, bool os_snapshot)
{
    JET_LOGTIME t;
    memset(&t, 0, sizeof t);
    if (!usec)
        return t;
    time_t sec = (time_t)(usec / 1000000u);
    unsigned ms = (unsigned)(usec / 1000u % 1000u);
    struct tm tm;
    gmtime_r(&sec, &tm);
    t.bSeconds = (char)tm.tm_sec;
    t.bMinutes = (char)tm.tm_min;
    t.bHours = (char)tm.tm_hour;
    t.bDay = (char)tm.tm_mday;
    t.bMonth = (char)(tm.tm_mon + 1);
    t.bYear = (char)tm.tm_year;
    t.bFiller1 = (char)(1u | ((ms & 0x7Fu) << 1));                   /* fTimeIsUTC, ms low */
    t.bFiller2 = (char)((os_snapshot ? 1u : 0u) | (((ms >> 7) & 0x7u) << 2)); /* fOSSnapshot, ms high */
    return t;
}

static JET_BKINFO bkinfo(const eng_bkinfo *b)
{
    JET_BKINFO o;
    memset(&o, 0, sizeof o);
    if (!b->type)
        return o;
    o.lgposMark = lgpos(b->mark);
    o.logtimeMark = logtime(b->mark_usec, b->type == ENG_BKTYPE_SNAPSHOT);
    o.genLow = b->gen_low;
    o.genHigh = b->gen_high;
    return o;
}

static JET_SIGNATURE signature(uint64_t random, uint64_t usec)
{
    JET_SIGNATURE s;
    memset(&s, 0, sizeof s);
    s.ulRandom = (unsigned long)(uint32_t)(random ^ (random >> 32));
    s.logtimeCreate = logtime(usec, false);
    return s;
}

JET_ERR JET_API JetGetDatabaseFileInfo(const char *szDatabaseName, void *pvResult, unsigned long cbMax,
                                       unsigned long InfoLevel)
{
    ENG_RETURN_IF(!szDatabaseName || !*szDatabaseName || !pvResult, JET_errInvalidParameter,
                  "the database name or the result buffer is missing");
    ENG_RETURN_IF(InfoLevel != JET_DbInfoMisc, JET_errInvalidParameter,
                  "only the JET_DbInfoMisc level is supported");
    /* ESE's JET_DBINFOMISC (version 1) ends at cbPageSize. */
    const size_t v1 = offsetof(JET_DBINFOMISC4, cbPageSize) + sizeof(unsigned long);
    ENG_RETURN_IF(cbMax < v1, JET_errBufferTooSmall, "the buffer is smaller than a version 1 JET_DBINFOMISC");
    int fd = eng_io_open(szDatabaseName, O_RDONLY, 0);
    ENG_RETURN_IF(fd < 0, eng_io_errno_to_jet(fd, 0), "the database file cannot be opened");
    eng_dbhdr h;
    long err = eng_dbhdr_read(fd, 0, &h);
    eng_io_close(fd);
    if (err)
        return err;
    JET_DBINFOMISC4 m;
    memset(&m, 0, sizeof m);
    m.ulVersion = 0x620; /* ESE's database format family; jetsnap's own is h.version */
    m.ulUpdate = h.version;
    m.signDb = signature(h.sig.random, h.sig.create_time_usec);
    m.dbstate = h.state;
    m.lgposConsistent = lgpos(h.lsn_consistent);
    m.logtimeConsistent = logtime(h.time_consistent_usec, false);
    m.lgposAttach = lgpos(h.lsn_attach);
    m.lgposDetach = lgpos(h.lsn_detach);
    m.signLog = signature(h.log_sig.random, h.log_sig.create_time_usec);
    m.bkinfoFullPrev = bkinfo(&h.bk_full);
    m.bkinfoIncPrev = bkinfo(&h.bk_inc);
    m.bkinfoFullCur = bkinfo(&h.bk_cur);
    m.bkinfoCopyPrev = bkinfo(&h.bk_copy);
    m.bkinfoDiffPrev = bkinfo(&h.bk_diff);
    m.cbPageSize = h.page_size;
    m.genMinRequired = h.bk_cur.type ? h.bk_cur.gen_low : 0;
    m.genMaxRequired = h.bk_cur.type ? h.bk_cur.gen_high : 0;
    memcpy(pvResult, &m, cbMax < sizeof m ? cbMax : sizeof m);
    return JET_errSuccess;
}
