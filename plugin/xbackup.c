/*
 * xbackup.c — streaming backups of one instance (docs/writer.md, "Streaming backups"): the
 * engine's external backup sequence run for a coordinator, each file of the set handed out as the
 * read end of a socketpair that a producer thread fills (raw, or as one zstd frame).
 *
 * Why a socketpair and not a pipe: a producer whose reader went away must fail with EPIPE, never
 * raise SIGPIPE in a host whose signal disposition a plugin must not touch; send(MSG_NOSIGNAL)
 * gives that on a socket, write(2) on a pipe does not.
 *
 * EOF on the fd proves nothing, so every stream records its result (bytes, CRC-32C of the
 * uncompressed bytes, the error) before its socket is closed: a caller that saw EOF and then asks
 * GetFileResult always finds the stream complete.
 *
 * Locking: the writer's mu guards the session list, every session's state and files, and every
 * stream's fd and result. Each session's op mutex serializes its control calls (list, open, log
 * info, end), which call the engine without mu held; order op → mu. Producers take only mu, to
 * record their end. A session is found by id and held by a reference (refs, under mu) so that
 * trimming the ended ones never frees a session a call is using.
 */
#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zstd.h>

#include "writer-int.h"

#define XB_CHUNK (256u << 10) /* bytes per JetReadFileInstance: a multiple of every page size */
#define XB_SNDBUF (4 << 20)  /* socket send buffer asked for per stream */
#define XB_LIST_MAX (1u << 20) /* bytes of a file list the engine may give */

static const char *const xb_type_names[] = {"full", "incremental", "differential", "copy"};

static struct wr_xsess *get_session(jetsnap_writer *w, const char *owner, uint32_t id, struct jetsnap_error *err);
static void put_session(struct wr_xsess *s);
static struct wr_inst *find_inst(jetsnap_writer *w, const char *name, size_t *pidx);
static int begin_engine(struct wr_xsess *s, JET_INSTANCE inst, struct jetsnap_error *err);
static int add_databases(struct wr_xsess *s, JET_INSTANCE inst, struct jetsnap_error *err);
static int fix_range(struct wr_xsess *s, struct jetsnap_error *err);
static int add_file(struct wr_xsess *s, const char *path, bool is_log, uint32_t gen);
static size_t pending_databases(const struct wr_xsess *s);
static int copy_files(const struct wr_xsess *s, struct wr_xb_file **pf, size_t *pn);
static int check_path(const char *path, size_t len, struct jetsnap_error *err);
static struct wr_xfile *find_file(struct wr_xsess *s, const char *path);
static int open_options(jetsnap_writer *w, const struct wr_xb_open_opts *o, struct wr_xstream *st,
                        struct jetsnap_error *err);
static void *producer_main(void *arg);
static const char *pump(struct wr_xstream *st, JET_INSTANCE inst, uint32_t *pcrc);
static const char *send_all(struct wr_xstream *st, const void *p, size_t n);
static const char *compress_send(struct wr_xstream *st, ZSTD_CCtx *z, void *out, size_t outcap, const void *p,
                                 size_t n, ZSTD_EndDirective mode);
static void cut_streams(struct wr_xsess *s);
static void join_streams(jetsnap_writer *w, struct wr_xsess *s);
static void end_session(struct wr_xsess *s, bool success, const char *reason);
static void fill_stop(const struct wr_xsess *s, struct wr_xb_stop *st);
static void set_xstate(jetsnap_writer *w, struct wr_xsess *s, enum wr_xb_state st);
static void trim_ended(jetsnap_writer *w);
static void free_session(struct wr_xsess *s);
static int engine_fail(struct jetsnap_error *err, JET_ERR e, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static uint64_t realtime_usec(void);
static bool add_stream(struct wr_xsess *s, struct wr_xstream *st);

const char *wr_xb_state_name(enum wr_xb_state s)
{
    static const char *const names[] = {"streaming", "completed", "failed", "aborted"};
    return names[s];
}

int wr_xb_begin(jetsnap_writer *w, const char *owner, const char *instance, const char *type, const char *label,
                uint32_t *psession, struct wr_xb_start *info, struct jetsnap_error *err)
{
    enum wr_backup_type t;
    if (wr_parse_backup_type(type, &t) != 0)
        return wr_fail(err, JETSNAP_E_NOT_SUPPORTED, 0,
                       "backup type '%.64s' is not one of full, incremental, differential, copy", type);
    if (strlen(label) > 255)
        return wr_fail(err, JETSNAP_E_INVALID_ARGS, 0, "a label has at most 255 bytes");
    struct wr_xsess *s = calloc(1, sizeof *s);
    if (!s)
        return wr_fail(err, JETSNAP_E_NO_MEMORY, 0, "out of memory");
    pthread_mutex_init(&s->op, NULL);
    s->w = w;
    s->type = t;
    s->refs = 1;
    snprintf(s->owner, sizeof s->owner, "%s", owner);
    snprintf(s->label, sizeof s->label, "%s", label);

    pthread_mutex_lock(&w->mu);
    size_t idx = 0;
    struct wr_inst *in = find_inst(w, instance, &idx);
    int rc = JETSNAP_OK;
    if (w->stopping || w->xb_stopping)
        rc = wr_fail(err, JETSNAP_E_INVALID_STATE, 0, "the writer is shutting down");
    else if (!in)
        rc = wr_fail(err, JETSNAP_E_UNKNOWN_INSTANCE, 0, "no instance '%.128s' in this writer", instance);
    else if (in->xb_session)
        rc = wr_fail(err, JETSNAP_E_BUSY, 0, "instance %s is being streamed by session %u; retry when it has ended",
                     in->name, in->xb_session);
    else if (in->xb_truncating)
        rc = wr_fail(err, JETSNAP_E_BUSY, 0, "the logs of instance %s are being truncated; retry", in->name);
    else if (wr_freeze_holds(w, idx))
        rc = wr_fail(err, JETSNAP_E_BUSY, 0,
                     "instance %s is in freeze session %u of %s; a freeze and a streaming backup of one "
                     "instance exclude each other",
                     in->name, w->cur->id, w->cur->owner);
    else if (in->state != WR_IS_RUNNING || !in->inst)
        rc = wr_fail(err, JETSNAP_E_RETRYABLE, 0, "instance %s is %s, not running", in->name,
                     wr_inst_state_name(in->state));
    JET_INSTANCE inst = 0;
    if (rc == JETSNAP_OK) {
        s->id = w->next_id++;
        if (w->next_id == 0)
            w->next_id = 1;
        s->inst = idx;
        inst = in->inst;
        in->xb_session = s->id; /* reserved while the engine begins, without mu */
    }
    pthread_mutex_unlock(&w->mu);
    if (rc == JETSNAP_OK)
        rc = begin_engine(s, inst, err);
    pthread_mutex_lock(&w->mu);
    if (rc != JETSNAP_OK) {
        if (s->id)
            w->inst[idx].xb_session = 0;
        pthread_mutex_unlock(&w->mu);
        free_session(s);
        return rc;
    }
    s->state = WR_XB_STREAMING;
    s->next = w->xb;
    w->xb = s;
    *psession = s->id;
    info->start_usec = s->start_usec;
    info->page_size = s->page_size;
    snprintf(info->log_base, sizeof info->log_base, "%s", s->log_base);
    info->backup_type = xb_type_names[t];
    wr_queue_event(w, JETSNAP_EVENT_SESSION_STATE, s->id, NULL, "", "streaming", NULL, NULL, 0);
    wr_queue_log(w, JETSNAP_LOG_INFO, w->inst[idx].name, WR_EV_STREAM_BEGIN,
                 "streaming %s backup (session %u) started by %s%s%s", xb_type_names[t], s->id, s->owner,
                 s->label[0] ? ", label " : "", s->label);
    wr_unlock_flush(w);
    return JETSNAP_OK;
}

/* The files of the session (databases; then logs once the range is fixed), copied. */
int wr_xb_list(jetsnap_writer *w, const char *owner, uint32_t id, struct wr_xb_file **pf, size_t *pn,
               struct jetsnap_error *err)
{
    struct wr_xsess *s = get_session(w, owner, id, err);
    if (!s)
        return err->code;
    pthread_mutex_lock(&s->op);
    int rc = JETSNAP_OK;
    pthread_mutex_lock(&w->mu);
    bool fix = s->state == WR_XB_STREAMING && !s->range_fixed && pending_databases(s) == 0;
    pthread_mutex_unlock(&w->mu);
    if (fix)
        rc = fix_range(s, err);
    if (rc == JETSNAP_OK) {
        pthread_mutex_lock(&w->mu);
        rc = copy_files(s, pf, pn);
        pthread_mutex_unlock(&w->mu);
        if (rc != JETSNAP_OK)
            wr_fail(err, rc, 0, "out of memory");
    }
    pthread_mutex_unlock(&s->op);
    put_session(s);
    return rc;
}

void wr_xb_files_free(struct wr_xb_file *f, size_t n)
{
    for (size_t i = 0; f && i < n; i++)
        free(f[i].path);
    free(f);
}

int wr_xb_log_info(jetsnap_writer *w, const char *owner, uint32_t id, struct wr_xb_log_info *li,
                   struct jetsnap_error *err)
{
    struct wr_xsess *s = get_session(w, owner, id, err);
    if (!s)
        return err->code;
    pthread_mutex_lock(&s->op);
    int rc = JETSNAP_OK;
    pthread_mutex_lock(&w->mu);
    size_t pending = pending_databases(s);
    bool fix = !s->range_fixed && pending == 0 && s->state == WR_XB_STREAMING;
    if (!s->range_fixed && pending)
        rc = wr_fail(err, JETSNAP_E_INVALID_STATE, 0,
                     "%zu database(s) of session %u are not streamed yet; fixing the log range now would "
                     "leave them out of the backup",
                     pending, s->id);
    else if (!s->range_fixed && !fix)
        rc = wr_fail(err, JETSNAP_E_INVALID_STATE, 0, "session %u is %s and has no log range", s->id,
                     wr_xb_state_name(s->state));
    pthread_mutex_unlock(&w->mu);
    if (rc == JETSNAP_OK && fix)
        rc = fix_range(s, err);
    if (rc == JETSNAP_OK) {
        pthread_mutex_lock(&w->mu);
        li->gen_low = s->gen_low;
        li->gen_high = s->gen_high;
        snprintf(li->log_base, sizeof li->log_base, "%s", s->log_base);
        rc = copy_files(s, &li->files, &li->n_files);
        pthread_mutex_unlock(&w->mu);
        if (rc != JETSNAP_OK)
            wr_fail(err, rc, 0, "out of memory");
    }
    pthread_mutex_unlock(&s->op);
    put_session(s);
    return rc;
}

int wr_xb_open(jetsnap_writer *w, const char *owner, uint32_t id, const char *path, size_t path_len,
               const struct wr_xb_open_opts *o, int *pfd, struct wr_xb_open_info *info, struct jetsnap_error *err)
{
    if (check_path(path, path_len, err) != JETSNAP_OK)
        return err->code;
    struct wr_xsess *s = get_session(w, owner, id, err);
    if (!s)
        return err->code;
    pthread_mutex_lock(&s->op);
    struct wr_xstream *st = calloc(1, sizeof *st);
    int sv[2] = {-1, -1};
    int rc = st ? JETSNAP_OK : wr_fail(err, JETSNAP_E_NO_MEMORY, 0, "out of memory");
    if (rc == JETSNAP_OK) {
        st->s = s;
        st->wfd = -1;
        rc = open_options(w, o, st, err);
    }
    struct wr_xfile *f = NULL;
    JET_INSTANCE inst = 0;
    pthread_mutex_lock(&w->mu);
    if (rc == JETSNAP_OK && !(f = find_file(s, path)))
        rc = wr_fail(err, WR_E_ACCESS_DENIED, 0, "%.512s is not a file of backup session %u (ListFiles names them)",
                     path, s->id);
    else if (rc == JETSNAP_OK && s->state != WR_XB_STREAMING)
        rc = wr_fail(err, JETSNAP_E_INVALID_STATE, 0, "session %u is %s", s->id, wr_xb_state_name(s->state));
    else if (rc == JETSNAP_OK && f->opened)
        rc = wr_fail(err, JETSNAP_E_INVALID_STATE, 0, "%s was already streamed in session %u%s", f->name, s->id,
                     f->is_log ? "" : " (a database can be read once per backup)");
    else if (rc == JETSNAP_OK && !f->is_log && s->range_fixed)
        rc = wr_fail(err, JETSNAP_E_INVALID_STATE, 0, "the log range of session %u is fixed: no database can be "
                     "streamed after it", s->id);
    else if (rc == JETSNAP_OK && s->running >= w->cfg->writer.stream_max)
        rc = wr_fail(err, WR_E_LIMITS, 0, "session %u already has %u streams running (stream_max)", s->id,
                     s->running);
    bool claimed = rc == JETSNAP_OK;
    if (claimed) {
        f->opened = true; /* claimed: a concurrent open of the same file is refused */
        inst = w->inst[s->inst].inst;
    }
    pthread_mutex_unlock(&w->mu);

    struct stat sb;
    if (rc == JETSNAP_OK && (lstat(path, &sb) != 0 || !S_ISREG(sb.st_mode)))
        rc = wr_fail(err, WR_E_ACCESS_DENIED, 0, "%.512s is %s: only regular files are streamed", path,
                     errno == ENOENT ? "gone" : "not a regular file (a symbolic link?)");
    if (rc == JETSNAP_OK && socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0)
        rc = wr_fail(err, JETSNAP_E_RETRYABLE, 0, "socketpair: %s", strerror(errno));
    if (rc == JETSNAP_OK) {
        /* One direction only: the caller reads, the producer writes. */
        shutdown(sv[0], SHUT_WR);
        shutdown(sv[1], SHUT_RD);
        /* A producer that can run XB_SNDBUF ahead of its reader reads the next chunk while the
         * reader drains this one; with the default (~200 KiB) the two take turns. The kernel caps
         * it at net.core.wmem_max; failing is only slower. */
        int sndbuf = XB_SNDBUF;
        (void)setsockopt(sv[1], SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof sndbuf);
        unsigned long lo = 0, hi = 0;
        JET_ERR e = JetOpenFileInstance(inst, path, &st->h, &lo, &hi);
        if (e < 0)
            rc = engine_fail(err, e, "the engine cannot open %s for the backup", path);
        else
            st->expected = (uint64_t)lo | (uint64_t)hi << 32;
    }
    bool opened = rc == JETSNAP_OK;
    if (rc == JETSNAP_OK && st->zstd) {
        /* Made here so that a bad level or worker count is the caller's error, not a cut stream. */
        st->z = ZSTD_createCCtx();
        if (!st->z || ZSTD_isError(ZSTD_CCtx_setParameter(st->z, ZSTD_c_compressionLevel, st->level)) ||
            ZSTD_isError(ZSTD_CCtx_setParameter(st->z, ZSTD_c_checksumFlag, 1)) ||
            ZSTD_isError(ZSTD_CCtx_setParameter(st->z, ZSTD_c_contentSizeFlag, 1)) ||
            ZSTD_isError(ZSTD_CCtx_setPledgedSrcSize(st->z, st->expected)))
            rc = wr_fail(err, JETSNAP_E_NO_MEMORY, 0, "zstd cannot be set up for level %d", st->level);
        else if (st->workers && ZSTD_isError(ZSTD_CCtx_setParameter(st->z, ZSTD_c_nbWorkers, (int)st->workers)))
            rc = wr_fail(err, JETSNAP_E_NOT_SUPPORTED, 0, "this libzstd cannot compress with %u worker threads",
                         st->workers);
    }
    pthread_mutex_lock(&w->mu);
    if (rc == JETSNAP_OK && !add_stream(s, st))
        rc = wr_fail(err, JETSNAP_E_NO_MEMORY, 0, "out of memory");
    if (rc == JETSNAP_OK) {
        st->file = (size_t)(f - s->files);
        st->id = ++s->last_stream;
        st->wfd = sv[1];
        if (!f->is_log) {
            f->size = st->expected;
            f->size_exact = true;
        }
        s->running++;
        if (pthread_create(&st->thread, NULL, producer_main, st) != 0) {
            s->running--;
            s->n_streams--;
            st->wfd = -1;
            rc = wr_fail(err, JETSNAP_E_RETRYABLE, 0, "no thread for the stream: %s", strerror(errno));
        }
    }
    if (rc != JETSNAP_OK && claimed)
        f->opened = opened && !f->is_log; /* a database the engine opened cannot be opened again */
    if (rc == JETSNAP_OK) {
        info->stream_id = st->id;
        snprintf(info->name, sizeof info->name, "%s", f->name);
        info->kind = f->is_log ? "log" : "data";
        info->expected = st->expected;
        info->zstd = st->zstd;
        info->level = st->level;
    }
    pthread_mutex_unlock(&w->mu);
    if (rc != JETSNAP_OK) {
        if (opened)
            JetCloseFileInstance(inst, st->h);
        if (st && st->z)
            ZSTD_freeCCtx(st->z);
        free(st);
        if (sv[1] >= 0)
            close(sv[1]);
        if (sv[0] >= 0)
            close(sv[0]);
    } else {
        *pfd = sv[0];
    }
    pthread_mutex_unlock(&s->op);
    put_session(s);
    return rc;
}

int wr_xb_result(jetsnap_writer *w, const char *owner, uint32_t id, uint32_t stream, struct wr_xb_result *r,
                 struct jetsnap_error *err)
{
    struct wr_xsess *s = get_session(w, owner, id, err);
    if (!s)
        return err->code;
    int rc = JETSNAP_OK;
    pthread_mutex_lock(&w->mu);
    struct wr_xstream *st = NULL;
    for (size_t i = 0; i < s->n_streams && !st; i++)
        if (s->streams[i]->id == stream)
            st = s->streams[i];
    if (!st) {
        rc = wr_fail(err, JETSNAP_E_INVALID_ARGS, 0, "session %u has no stream %u", s->id, stream);
    } else {
        r->complete = st->done;
        r->bytes_read = atomic_load(&st->bytes_read);
        r->bytes_written = atomic_load(&st->bytes_written);
        /* The checksum is known once the stream is done. */
        if (st->done)
            snprintf(r->checksum, sizeof r->checksum, "crc32c:%08x", st->crc);
        else
            r->checksum[0] = '\0';
        snprintf(r->error_name, sizeof r->error_name, "%s", st->done ? st->error_name : "");
    }
    pthread_mutex_unlock(&w->mu);
    put_session(s);
    return rc;
}

int wr_xb_end(jetsnap_writer *w, const char *owner, uint32_t id, bool success, struct wr_xb_stop *stop,
              struct jetsnap_error *err)
{
    struct wr_xsess *s = get_session(w, owner, id, err);
    if (!s)
        return err->code;
    pthread_mutex_lock(&s->op);
    int rc = JETSNAP_OK;
    pthread_mutex_lock(&w->mu);
    bool live = s->state == WR_XB_STREAMING;
    if (live && success && s->running)
        rc = wr_fail(err, JETSNAP_E_INVALID_STATE, 0,
                     "%u stream(s) of session %u are still running; read them to their end first", s->running,
                     s->id);
    pthread_mutex_unlock(&w->mu);
    if (rc == JETSNAP_OK && live)
        end_session(s, success, success ? "ended" : "aborted by the owner");
    if (rc == JETSNAP_OK) {
        pthread_mutex_lock(&w->mu);
        fill_stop(s, stop);
        pthread_mutex_unlock(&w->mu);
    }
    pthread_mutex_unlock(&s->op);
    put_session(s);
    return rc;
}

int wr_xb_truncate(jetsnap_writer *w, const char *instance, uint32_t up_to, uint32_t *pfirst,
                   struct jetsnap_error *err)
{
    pthread_mutex_lock(&w->mu);
    size_t idx = 0;
    struct wr_inst *in = find_inst(w, instance, &idx);
    int rc = JETSNAP_OK;
    if (!in)
        rc = wr_fail(err, JETSNAP_E_UNKNOWN_INSTANCE, 0, "no instance '%.128s' in this writer", instance);
    else if (in->xb_session)
        rc = wr_fail(err, JETSNAP_E_INVALID_STATE, 0, "instance %s is being streamed by session %u; logs are "
                     "truncated only when no backup is active", in->name, in->xb_session);
    else if (in->xb_truncating)
        rc = wr_fail(err, JETSNAP_E_BUSY, 0, "the logs of instance %s are being truncated already", in->name);
    else if (wr_freeze_holds(w, idx))
        rc = wr_fail(err, JETSNAP_E_INVALID_STATE, 0, "instance %s is in freeze session %u; logs are truncated "
                     "only when no backup is active", in->name, w->cur->id);
    else if (!in->xb_trunc_gen)
        rc = wr_fail(err, JETSNAP_E_INVALID_STATE, 0, "no valid full or incremental streaming backup of %s has "
                     "ended through this writer since it started: nothing may be truncated", in->name);
    else if (up_to > in->xb_trunc_gen)
        rc = wr_fail(err, JETSNAP_E_INVALID_STATE, 0, "generation %u is past the last one (%u) the last backup "
                     "of %s holds", up_to, in->xb_trunc_gen, in->name);
    JET_INSTANCE inst = rc == JETSNAP_OK ? in->inst : 0;
    uint32_t limit = rc == JETSNAP_OK ? (up_to ? up_to : in->xb_trunc_gen) : 0;
    if (rc == JETSNAP_OK)
        in->xb_truncating = true; /* no backup or freeze may begin while the logs are being deleted */
    pthread_mutex_unlock(&w->mu);
    if (rc != JETSNAP_OK)
        return rc;
    unsigned long first = 0;
    JET_ERR e = JetTruncateLogUpToInstance(inst, limit, &first);
    pthread_mutex_lock(&w->mu);
    in->xb_truncating = false;
    if (e < 0) {
        rc = engine_fail(err, e, "the logs of %s cannot be truncated", in->name);
    } else {
        *pfirst = (uint32_t)first;
        wr_queue_log(w, JETSNAP_LOG_INFO, in->name, WR_EV_TRUNCATED,
                     "logs truncated up to generation %u; the first kept is %lu", limit, first);
    }
    wr_unlock_flush(w);
    return rc;
}

/* The owner left the bus (or the bus connection was lost): every session of it ends aborted. */
void wr_xb_release_owner(jetsnap_writer *w, const char *owner, const char *reason)
{
    for (;;) {
        pthread_mutex_lock(&w->mu);
        struct wr_xsess *s = w->xb;
        while (s && !(s->state == WR_XB_STREAMING && !strcmp(s->owner, owner)))
            s = s->next;
        if (s)
            s->refs++;
        pthread_mutex_unlock(&w->mu);
        if (!s)
            return;
        pthread_mutex_lock(&s->op);
        if (s->state == WR_XB_STREAMING)
            end_session(s, false, reason);
        pthread_mutex_unlock(&s->op);
        put_session(s);
    }
}

/* Writer close: every live session ends aborted, every ended one is freed. */
void wr_xb_close_all(jetsnap_writer *w)
{
    pthread_mutex_lock(&w->mu);
    w->xb_stopping = true;
    pthread_mutex_unlock(&w->mu);
    for (;;) {
        pthread_mutex_lock(&w->mu);
        struct wr_xsess *s = w->xb;
        while (s && s->state != WR_XB_STREAMING)
            s = s->next;
        if (s)
            s->refs++;
        pthread_mutex_unlock(&w->mu);
        if (!s)
            break;
        pthread_mutex_lock(&s->op);
        if (s->state == WR_XB_STREAMING)
            end_session(s, false, "shutdown");
        pthread_mutex_unlock(&s->op);
        put_session(s);
    }
}

/* After the bus has stopped (no call can hold a session any more): free every session. */
void wr_xb_free_all(jetsnap_writer *w)
{
    struct wr_xsess *s = w->xb;
    w->xb = NULL;
    while (s) {
        struct wr_xsess *next = s->next;
        free_session(s);
        s = next;
    }
}

/* Under mu. */
bool wr_xb_view(jetsnap_writer *w, uint32_t id, struct wr_session_view *v)
{
    struct wr_xsess *s = w->xb;
    while (s && s->id != id)
        s = s->next;
    if (!s)
        return false;
    v->id = s->id;
    snprintf(v->owner, sizeof v->owner, "%s", s->owner);
    v->backup_type = xb_type_names[s->type];
    v->state = wr_xb_state_name(s->state);
    v->ended = s->state != WR_XB_STREAMING;
    v->frozen_usec = 0;
    v->instances[0] = w->inst[s->inst].name;
    v->n_instances = 1;
    return true;
}

/* Under mu: the ids of the streaming sessions, live first. */
size_t wr_xb_ids(jetsnap_writer *w, uint32_t *ids, size_t max)
{
    size_t n = 0;
    for (int pass = 0; pass < 2; pass++)
        for (struct wr_xsess *s = w->xb; s && n < max; s = s->next)
            if ((s->state == WR_XB_STREAMING) == (pass == 0))
                ids[n++] = s->id;
    return n;
}

static struct wr_xsess *get_session(jetsnap_writer *w, const char *owner, uint32_t id, struct jetsnap_error *err)
{
    pthread_mutex_lock(&w->mu);
    struct wr_xsess *s = w->xb;
    while (s && s->id != id)
        s = s->next;
    if (!s)
        wr_fail(err, JETSNAP_E_UNKNOWN_SESSION, 0, "session %u is not a streaming backup of this writer", id);
    else if (strcmp(s->owner, owner) != 0)
        wr_fail(err, JETSNAP_E_INVALID_STATE, 0, "session %u belongs to %s", id, s->owner);
    else
        s->refs++;
    bool mine = s && !strcmp(s->owner, owner);
    pthread_mutex_unlock(&w->mu);
    return mine ? s : NULL;
}

static void put_session(struct wr_xsess *s)
{
    jetsnap_writer *w = s->w;
    pthread_mutex_lock(&w->mu);
    bool last = --s->refs == 0;
    pthread_mutex_unlock(&w->mu);
    if (last)
        free_session(s);
}

static struct wr_inst *find_inst(jetsnap_writer *w, const char *name, size_t *pidx)
{
    for (size_t i = 0; i < w->n_inst; i++)
        if (!strcmp(w->inst[i].name, name)) {
            *pidx = i;
            return &w->inst[i];
        }
    return NULL;
}

/* JetBeginExternalBackupInstance and what the caller needs to know at once: the databases (full,
 * copy), the page size and the log base name. On failure the engine's backup is abandoned. */
static int begin_engine(struct wr_xsess *s, JET_INSTANCE inst, struct jetsnap_error *err)
{
    bool inc = s->type == WR_BT_INCREMENTAL || s->type == WR_BT_DIFFERENTIAL;
    s->start_usec = realtime_usec();
    JET_ERR e = JetBeginExternalBackupInstance(inst, inc ? JET_bitBackupIncremental : 0);
    if (e == JET_errBackupInProgress)
        return wr_fail(err, JETSNAP_E_BUSY, e,
                       "the engine has a backup or snapshot of this instance running (another writer or the "
                       "application itself); retry when it has ended");
    if (e == JET_errMissingFullBackup || e == JET_errInvalidBackup || e == JET_errLoggingDisabled)
        return engine_fail(err, e, "%s", inc ? "an incremental or differential backup cannot start" : "no backup");
    if (e < 0)
        return engine_fail(err, e, "%s", "the engine refused to begin the backup");
    JET_API_PTR ps = 0;
    char base[16] = "";
    int rc = JETSNAP_OK;
    if (JetGetSystemParameter(inst, 0, JET_paramDatabasePageSize, &ps, NULL, 0) < 0 ||
        JetGetSystemParameter(inst, 0, JET_paramBaseName, NULL, base, sizeof base) < 0)
        rc = wr_fail(err, JETSNAP_E_NONRETRYABLE, 0, "the instance's page size or log base name cannot be read");
    s->page_size = (uint32_t)ps;
    snprintf(s->log_base, sizeof s->log_base, "%s", base);
    if (rc == JETSNAP_OK && !inc)
        rc = add_databases(s, inst, err);
    if (rc != JETSNAP_OK)
        JetEndExternalBackupInstance2(inst, JET_bitBackupEndAbort);
    return rc;
}

static int add_databases(struct wr_xsess *s, JET_INSTANCE inst, struct jetsnap_error *err)
{
    unsigned long need = 0;
    JET_ERR e = JetGetAttachInfoInstance(inst, NULL, 0, &need);
    char *list = e >= 0 && need > 0 && need <= XB_LIST_MAX ? calloc(1, need + 1) : NULL;
    if (e < 0)
        return engine_fail(err, e, "%s", "the engine cannot list the databases");
    if (!list)
        return wr_fail(err, JETSNAP_E_NO_MEMORY, 0, "out of memory for a list of %lu bytes", need);
    e = JetGetAttachInfoInstance(inst, list, need, &need);
    int rc = e < 0 ? engine_fail(err, e, "%s", "the engine cannot list the databases") : JETSNAP_OK;
    for (const char *p = list; rc == JETSNAP_OK && *p; p += strlen(p) + 1)
        if (add_file(s, p, false, 0) != 0)
            rc = wr_fail(err, JETSNAP_E_NO_MEMORY, 0, "out of memory");
    free(list);
    return rc;
}

/* The first GetLogInfo of the backup: the engine rolls the log and fixes the range. Called with
 * op held and no database pending. */
static int fix_range(struct wr_xsess *s, struct jetsnap_error *err)
{
    jetsnap_writer *w = s->w;
    pthread_mutex_lock(&w->mu);
    JET_INSTANCE inst = w->inst[s->inst].inst;
    pthread_mutex_unlock(&w->mu);
    JET_LOGINFO li = {.cbSize = sizeof li};
    unsigned long need = 0;
    JET_ERR e = JetGetLogInfoInstance2(inst, NULL, 0, &need, &li);
    char *list = e >= 0 && need > 0 && need <= XB_LIST_MAX ? calloc(1, need + 1) : NULL;
    if (e < 0)
        return engine_fail(err, e, "%s", "the engine cannot give the backup's logs");
    if (!list)
        return wr_fail(err, JETSNAP_E_NO_MEMORY, 0, "out of memory for a list of %lu bytes", need);
    e = JetGetLogInfoInstance2(inst, list, need, &need, &li);
    int rc = e < 0 ? engine_fail(err, e, "%s", "the engine cannot give the backup's logs") : JETSNAP_OK;
    uint32_t gen = (uint32_t)li.ulGenLow;
    pthread_mutex_lock(&w->mu);
    for (const char *p = list; rc == JETSNAP_OK && *p; p += strlen(p) + 1)
        if (add_file(s, p, true, gen++) != 0)
            rc = wr_fail(err, JETSNAP_E_NO_MEMORY, 0, "out of memory");
    if (rc == JETSNAP_OK) {
        s->range_fixed = true;
        s->gen_low = (uint32_t)li.ulGenLow;
        s->gen_high = (uint32_t)li.ulGenHigh;
    }
    pthread_mutex_unlock(&w->mu);
    free(list);
    return rc;
}

/* Under mu (or before the session is published). A name unique in the set: the base name, with
 * ".N" added when two databases share one. */
static int add_file(struct wr_xsess *s, const char *path, bool is_log, uint32_t gen)
{
    struct wr_xfile *v = realloc(s->files, (s->n_files + 1) * sizeof *v);
    if (!v)
        return -1;
    s->files = v;
    struct wr_xfile *f = &v[s->n_files];
    memset(f, 0, sizeof *f);
    if (!(f->path = strdup(path)))
        return -1;
    const char *slash = strrchr(path, '/');
    const char *base = slash ? slash + 1 : path;
    snprintf(f->name, sizeof f->name, "%s", base);
    for (unsigned k = 1;; k++) {
        bool clash = false;
        for (size_t i = 0; i < s->n_files && !clash; i++)
            clash = !strcmp(s->files[i].name, f->name);
        if (!clash)
            break;
        snprintf(f->name, sizeof f->name, "%.240s.%u", base, k);
    }
    f->is_log = is_log;
    f->gen = gen;
    struct stat sb;
    if (stat(path, &sb) == 0) {
        f->mtime_usec = (uint64_t)sb.st_mtim.tv_sec * 1000000u + (uint64_t)sb.st_mtim.tv_nsec / 1000u;
        f->mode = sb.st_mode & 07777;
        /* A database stream is the file plus two header copies and a trailer page. */
        f->size = (uint64_t)sb.st_size + (is_log ? 0 : 3u * s->page_size);
        f->size_exact = is_log;
    }
    s->n_files++;
    return 0;
}

/* Under mu. */
static size_t pending_databases(const struct wr_xsess *s)
{
    size_t n = 0;
    for (size_t i = 0; i < s->n_files; i++)
        n += !s->files[i].is_log && !s->files[i].streamed;
    return n;
}

/* Under mu. */
static int copy_files(const struct wr_xsess *s, struct wr_xb_file **pf, size_t *pn)
{
    struct wr_xb_file *v = calloc(s->n_files ? s->n_files : 1, sizeof *v);
    if (!v)
        return JETSNAP_E_NO_MEMORY;
    for (size_t i = 0; i < s->n_files; i++) {
        const struct wr_xfile *f = &s->files[i];
        if (!(v[i].path = strdup(f->path))) {
            wr_xb_files_free(v, i);
            return JETSNAP_E_NO_MEMORY;
        }
        snprintf(v[i].name, sizeof v[i].name, "%s", f->name);
        v[i].kind = f->is_log ? "log" : "data";
        v[i].size = f->size;
        v[i].mtime_usec = f->mtime_usec;
        v[i].mode = f->mode;
        v[i].streamed = f->streamed;
        v[i].gen = f->gen;
        v[i].size_exact = f->size_exact;
    }
    *pf = v;
    *pn = s->n_files;
    return JETSNAP_OK;
}

/* Refused before any lookup: the path must be absolute and free of "." and ".." components and NUL
 * bytes. The exact match against the set and the symbolic-link check come after. */
static int check_path(const char *path, size_t len, struct jetsnap_error *err)
{
    if (len == 0 || strlen(path) != len)
        return wr_fail(err, WR_E_ACCESS_DENIED, 0, "a path must be non-empty and free of NUL bytes");
    if (path[0] != '/')
        return wr_fail(err, WR_E_ACCESS_DENIED, 0, "%.512s is not an absolute path", path);
    for (const char *p = path; *p;) {
        while (*p == '/')
            p++;
        size_t n = strcspn(p, "/");
        if ((n == 1 && p[0] == '.') || (n == 2 && p[0] == '.' && p[1] == '.'))
            return wr_fail(err, WR_E_ACCESS_DENIED, 0, "%.512s has a '.' or '..' component", path);
        p += n;
    }
    return JETSNAP_OK;
}

/* Under mu: the file of the set whose path is exactly path. */
static struct wr_xfile *find_file(struct wr_xsess *s, const char *path)
{
    for (size_t i = 0; i < s->n_files; i++)
        if (!strcmp(s->files[i].path, path))
            return &s->files[i];
    return NULL;
}

static int open_options(jetsnap_writer *w, const struct wr_xb_open_opts *o, struct wr_xstream *st,
                        struct jetsnap_error *err)
{
    const struct conf_writer *c = &w->cfg->writer;
    st->zstd = c->stream_compression == CONF_COMPRESSION_ZSTD;
    if (o->compression && !strcmp(o->compression, "zstd"))
        st->zstd = true;
    else if (o->compression && !strcmp(o->compression, "none"))
        st->zstd = false;
    else if (o->compression)
        return wr_fail(err, JETSNAP_E_NOT_SUPPORTED, 0, "compression '%.64s' is not none or zstd", o->compression);
    st->level = o->has_level ? o->level : (int)c->zstd_level;
    if (st->level < 1 || st->level > 19)
        return wr_fail(err, JETSNAP_E_INVALID_ARGS, 0, "zstd_level %d is not 1..19", st->level);
    st->workers = o->has_workers ? o->workers : c->zstd_workers;
    if (st->workers > 16)
        return wr_fail(err, JETSNAP_E_INVALID_ARGS, 0, "zstd_workers %u is not 0..16", st->workers);
    return JETSNAP_OK;
}

/* Under mu: a new stream in the session's list. */
static bool add_stream(struct wr_xsess *s, struct wr_xstream *st)
{
    if (s->n_streams == s->cap_streams) {
        size_t cap = s->cap_streams ? 2 * s->cap_streams : 16;
        struct wr_xstream **v = realloc(s->streams, cap * sizeof *v);
        if (!v)
            return false;
        s->streams = v;
        s->cap_streams = cap;
    }
    s->streams[s->n_streams++] = st;
    return true;
}

static void *producer_main(void *arg)
{
    struct wr_xstream *st = arg;
    struct wr_xsess *s = st->s;
    jetsnap_writer *w = s->w;
    pthread_mutex_lock(&w->mu);
    JET_INSTANCE inst = w->inst[s->inst].inst;
    pthread_mutex_unlock(&w->mu);

    uint32_t crc = 0;
    const char *error = pump(st, inst, &crc);
    JET_ERR ce = JetCloseFileInstance(inst, st->h);
    if (!error && ce < 0)
        error = wr_jet_err_name(ce);

    pthread_mutex_lock(&w->mu);
    if (!error && st->cancel)
        error = "JET_errBackupAbortByCaller";
    snprintf(st->error_name, sizeof st->error_name, "%s", error ? error : "");
    st->crc = crc;
    st->done = true;
    if (!error)
        s->files[st->file].streamed = true;
    /* The result is in place before the caller can see EOF. */
    close(st->wfd);
    st->wfd = -1;
    s->running--;
    pthread_cond_broadcast(&w->cv);
    uint32_t sid = s->id, id = st->id;
    uint64_t bytes = atomic_load(&st->bytes_written);
    char name[64];
    snprintf(name, sizeof name, "%s", st->error_name);
    const char *inst_name = w->inst[s->inst].name, *file = s->files[st->file].name;
    if (error)
        wr_queue_log(w, JETSNAP_LOG_WARNING, inst_name, WR_EV_STREAM_FAILED,
                     "stream %u of session %u (%s) failed after %llu bytes: %s", id, sid, file,
                     (unsigned long long)atomic_load(&st->bytes_read), error);
    wr_unlock_flush(w);
    wr_bus_stream_finished(w, sid, id, error == NULL, bytes, name);
    return NULL;
}

/* Read the file through the engine into the socket; NULL on success, else the error's name. */
static const char *pump(struct wr_xstream *st, JET_INSTANCE inst, uint32_t *pcrc)
{
    void *buf = malloc(XB_CHUNK);
    size_t outcap = ZSTD_CStreamOutSize();
    void *out = st->zstd ? malloc(outcap) : NULL;
    const char *error = !buf || (st->zstd && !out) ? "ENOMEM" : NULL;
    uint32_t crc = 0;
    while (!error) {
        if (atomic_load(&st->cancel)) {
            error = "JET_errBackupAbortByCaller";
            break;
        }
        unsigned long got = 0;
        JET_ERR e = JetReadFileInstance(inst, st->h, buf, XB_CHUNK, &got);
        if (e < 0) {
            error = wr_jet_err_name(e);
            if (!error)
                error = "JET_err";
            break;
        }
        if (got == 0)
            break;
        crc = JetCrc32c(crc, buf, got);
        atomic_fetch_add(&st->bytes_read, got);
        error = st->zstd ? compress_send(st, st->z, out, outcap, buf, got, ZSTD_e_continue) : send_all(st, buf, got);
    }
    if (!error && st->zstd)
        error = compress_send(st, st->z, out, outcap, NULL, 0, ZSTD_e_end);
    *pcrc = crc;
    free(buf);
    free(out);
    return error;
}

static const char *compress_send(struct wr_xstream *st, ZSTD_CCtx *z, void *out, size_t outcap, const void *p,
                                 size_t n, ZSTD_EndDirective mode)
{
    ZSTD_inBuffer in = {p, n, 0};
    for (;;) {
        ZSTD_outBuffer ob = {out, outcap, 0};
        size_t left = ZSTD_compressStream2(z, &ob, &in, mode);
        if (ZSTD_isError(left))
            return "ZSTD_error"; /* e.g. the file did not have the size the frame promised */
        const char *e = ob.pos ? send_all(st, out, ob.pos) : NULL;
        if (e)
            return e;
        if (mode == ZSTD_e_end ? left == 0 : in.pos == in.size)
            return NULL;
    }
}

static const char *send_all(struct wr_xstream *st, const void *p, size_t n)
{
    const char *c = p;
    while (n) {
        ssize_t k = send(st->wfd, c, n, MSG_NOSIGNAL);
        if (k < 0 && errno == EINTR)
            continue;
        if (k < 0)
            return atomic_load(&st->cancel) ? "JET_errBackupAbortByCaller" : strerrorname_np(errno);
        c += k;
        n -= (size_t)k;
        atomic_fetch_add(&st->bytes_written, (uint64_t)k);
    }
    return NULL;
}

/* Under mu: stop every running producer (a blocked send returns at once). */
static void cut_streams(struct wr_xsess *s)
{
    for (size_t i = 0; i < s->n_streams; i++) {
        struct wr_xstream *st = s->streams[i];
        if (!st->done) {
            atomic_store(&st->cancel, true);
            if (st->wfd >= 0)
                shutdown(st->wfd, SHUT_RDWR);
        }
    }
}

/* Join every producer that has not been joined (they have finished or were cut). Without mu. */
static void join_streams(jetsnap_writer *w, struct wr_xsess *s)
{
    pthread_mutex_lock(&w->mu);
    while (s->running)
        pthread_cond_wait(&w->cv, &w->mu);
    size_t n = s->n_streams;
    pthread_mutex_unlock(&w->mu);
    for (size_t i = 0; i < n; i++) {
        struct wr_xstream *st = s->streams[i];
        if (!st->joined) {
            pthread_join(st->thread, NULL);
            st->joined = true;
        }
    }
}

/* With op held: end the engine's backup and the session. success false cuts running streams and
 * abandons the backup (nothing recorded, nothing truncated). */
static void end_session(struct wr_xsess *s, bool success, const char *reason)
{
    jetsnap_writer *w = s->w;
    pthread_mutex_lock(&w->mu);
    if (!success)
        cut_streams(s);
    JET_INSTANCE inst = w->inst[s->inst].inst;
    pthread_mutex_unlock(&w->mu);
    join_streams(w, s);
    JET_ERR e;
    if (success) {
        bool truncates = s->type == WR_BT_FULL || s->type == WR_BT_INCREMENTAL;
        e = JetEndExternalBackupInstance2(inst, JET_bitBackupEndNormal | (truncates ? JET_bitBackupTruncateDone : 0));
    } else {
        JetEndExternalBackupInstance2(inst, JET_bitBackupEndAbort);
        e = JET_errBackupAbortByCaller;
    }
    pthread_mutex_lock(&w->mu);
    struct wr_inst *in = &w->inst[s->inst];
    s->end_err = e;
    s->stop_usec = realtime_usec();
    snprintf(s->end_reason, sizeof s->end_reason, "%s", reason);
    in->xb_session = 0;
    if (e == JET_errSuccess && (s->type == WR_BT_FULL || s->type == WR_BT_INCREMENTAL))
        in->xb_trunc_gen = s->gen_high; /* what TruncateLogs may delete up to */
    set_xstate(w, s, e == JET_errSuccess ? WR_XB_COMPLETED : success ? WR_XB_FAILED : WR_XB_ABORTED);
    const char *name = e ? wr_jet_err_name(e) : NULL;
    wr_queue_log(w, e ? JETSNAP_LOG_WARNING : JETSNAP_LOG_INFO, in->name, WR_EV_STREAM_END,
                 "streaming backup session %u of %s ended %s (%s)%s%s", s->id, s->owner,
                 e ? "invalid" : "valid", reason, name ? ": " : "", name ? name : "");
    trim_ended(w);
    wr_unlock_flush(w);
}

/* Under mu. */
static void fill_stop(const struct wr_xsess *s, struct wr_xb_stop *st)
{
    static const char *const recorded[] = {"full", "incremental", "differential", "copy"};
    st->valid = s->state == WR_XB_COMPLETED;
    const char *name = s->end_err ? wr_jet_err_name(s->end_err) : NULL;
    snprintf(st->error_name, sizeof st->error_name, "%s", s->end_err ? (name ? name : "JET_err") : "");
    if (st->valid)
        snprintf(st->message, sizeof st->message, "the backup is valid");
    else if (s->end_err == JET_errBackupAbortByCaller && s->state == WR_XB_FAILED)
        snprintf(st->message, sizeof st->message, "the backup is not valid: a file of the set was not streamed to its end");
    else
        snprintf(st->message, sizeof st->message, "the backup is not valid: %s", s->end_reason);
    st->recorded_as = st->valid ? recorded[s->type] : "";
    st->gen_low = s->gen_low;
    st->gen_high = s->gen_high;
    st->start_usec = s->start_usec;
    st->stop_usec = s->stop_usec;
    st->backup_type = xb_type_names[s->type];
    st->instance = s->w->inst[s->inst].name;
    snprintf(st->label, sizeof st->label, "%s", s->label);
}

/* Under mu. */
static void set_xstate(jetsnap_writer *w, struct wr_xsess *s, enum wr_xb_state st)
{
    const char *old = wr_xb_state_name(s->state);
    s->state = st;
    wr_queue_event(w, JETSNAP_EVENT_SESSION_STATE, s->id, NULL, old, wr_xb_state_name(st), NULL, NULL, 0);
}

/* Under mu: keep the last WR_ENDED_KEEP ended sessions, so a late EndBackup or GetFileResult gets
 * its answer; older ones are freed once no call holds them. */
static void trim_ended(jetsnap_writer *w)
{
    size_t ended = 0;
    for (struct wr_xsess **pp = &w->xb; *pp;) {
        struct wr_xsess *s = *pp;
        if (s->state != WR_XB_STREAMING && ++ended > WR_ENDED_KEEP) {
            *pp = s->next;
            if (--s->refs == 0) {
                /* No call holds it; freeing only touches the session itself. */
                free_session(s);
            }
            continue;
        }
        pp = &s->next;
    }
}

static void free_session(struct wr_xsess *s)
{
    for (size_t i = 0; i < s->n_streams; i++) {
        if (s->streams[i]->z)
            ZSTD_freeCCtx(s->streams[i]->z);
        free(s->streams[i]);
    }
    free(s->streams);
    for (size_t i = 0; i < s->n_files; i++)
        free(s->files[i].path);
    free(s->files);
    pthread_mutex_destroy(&s->op);
    free(s);
}

/* An engine refusal as the writer reports it: Busy for a backup already running, InvalidState for
 * a sequence the engine will not do now, NonRetryable otherwise. */
static int engine_fail(struct jetsnap_error *err, JET_ERR e, const char *fmt, ...)
{
    int code = e == JET_errBackupInProgress ? JETSNAP_E_BUSY
               : e == JET_errMissingFullBackup || e == JET_errInvalidBackup || e == JET_errLoggingDisabled ||
                       e == JET_errInvalidBackupSequence || e == JET_errBackupAbortByServer ||
                       e == JET_errNoBackup
                   ? JETSNAP_E_INVALID_STATE
                   : e == JET_errOutOfMemory ? JETSNAP_E_NO_MEMORY
                                             : JETSNAP_E_NONRETRYABLE;
    char text[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    return wr_fail(err, code, e, "%s", text);
}

/* Backup start and stop times are wall-clock times, as a manifest records them. */
static uint64_t realtime_usec(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}
