/*
 * ctl-backup.c — jetsnapctl backup: one streaming backup of one instance through the writer's
 * org.jetsnap.Writer1.ExternalBackup (docs/writer.md, "Streaming backups"):
 *   BeginBackup → ListFiles → each file not yet streamed: OpenFile, read the fd to EOF into the
 *   destination, GetFileResult (complete, no error, the same CRC-32C as ours) → ListFiles again
 *   until it holds logs and every file is streamed → GetLogInfo → EndBackup(true), whose stop_info
 *   must say valid → the manifest, durably → TruncateLogs (full, incremental).
 * Any failure after BeginBackup ends the backup with EndBackup(false): nothing is recorded in the
 * databases and nothing is truncated; the files written so far are removed, so that what remains
 * never looks like a backup. Logs are truncated only once the manifest is on disk: a backup that a
 * crash could still lose must not cost the logs that replace it.
 */
#include <errno.h>
#include <json-c/json.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ctl-int.h"

struct file {
    char *path, *name;
    bool log, streamed;
    uint32_t generation;
    uint64_t size;
};

struct backup {
    const struct ctl_opts *o;
    DBusConnection *c;
    DBusError err;
    char session[256];
    bool began, aborted;
    struct ctl_dest *dest;
    struct ctl_streamer bufs;
    struct ctl_manifest m;
    struct ctl_manifest base;
    struct ctl_progress prog;
    char msg[8192];
    uint64_t t0;
    uint64_t stored_bytes;
    char truncated[64];
    char ename[128]; /* the error_name of the last GetFileResult */
};

static int run(struct backup *b);
static int begin(struct backup *b);
static int stream_all(struct backup *b);
static int list_files(struct backup *b, struct file **pv, size_t *pn);
static DBusMessage *session_call(struct backup *b, const char *member, int type, const void *arg, DBusError *err);
static int stream_one(struct backup *b, const struct file *f);
static int file_result(struct backup *b, uint32_t id, const char *name, const struct ctl_stream_result *r,
                       bool stream_ok);
static int log_info(struct backup *b);
static int end_backup(struct backup *b);
static int truncate_logs(struct backup *b);
static void abort_backup(struct backup *b);
static int bus_fail(struct backup *b, const char *what);
static void on_progress(void *ctx, uint64_t bytes);
static bool mfile_fill(struct ctl_mfile *mf, const struct file *f, const char *stored_as, bool zstd,
                       const struct ctl_stream_result *r);
static void free_files(struct file *v, size_t n);
static void summary(struct backup *b);

int ctl_backup(const struct ctl_opts *o)
{
    struct backup b = {.o = o};
    dbus_error_init(&b.err);
    b.t0 = ctl_mono_usec();
    /* A reader of the tar stream that goes away must give EPIPE, named, not kill us silently
     * with the backup left to the writer's clean-up. */
    signal(SIGPIPE, SIG_IGN);
    int rc = run(&b);
    ctl_progress_clear(&b.prog);
    if (rc != CTL_EXIT_OK && b.msg[0])
        fprintf(stderr, "jetsnapctl: backup: %s\n", b.msg);
    if (b.aborted)
        fprintf(stderr, "jetsnapctl: backup: the backup was ended as failed (EndBackup(false)): nothing was "
                "recorded or truncated%s\n", ctl_dest_is_tar(b.dest) ? "" : ", and the files written were removed");
    if (rc == CTL_EXIT_OK || rc == CTL_EXIT_TRUNCATE)
        summary(&b);
    ctl_dest_close(b.dest, rc != CTL_EXIT_OK && rc != CTL_EXIT_TRUNCATE);
    if (b.c)
        ctl_disconnect(b.c);
    dbus_error_free(&b.err);
    ctl_manifest_free(&b.m);
    ctl_manifest_free(&b.base);
    ctl_streamer_free(&b.bufs);
    return rc;
}

static int run(struct backup *b)
{
    const struct ctl_opts *o = b->o;
    struct ctl_manifest *m = &b->m;
    bool chained = !strcmp(o->type, "incremental") || !strcmp(o->type, "differential");
    if (chained) {
        char path[4200];
        snprintf(path, sizeof path, "%s/%s", o->base, CTL_MANIFEST_NAME);
        if (!ctl_manifest_load(path, &b->base, b->msg, sizeof b->msg))
            return CTL_EXIT_DAMAGED;
        if (strcmp(b->base.instance, o->instances[0]) != 0) {
            snprintf(b->msg, sizeof b->msg, "%s: the base is a backup of instance '%s', not '%s'", path,
                     b->base.instance, o->instances[0]);
            return CTL_EXIT_DAMAGED;
        }
    }
    m->version = CTL_MANIFEST_VERSION;
    m->instance = strdup(o->instances[0]);
    m->type = strdup(o->type);
    m->label = strdup(o->label ? o->label : "");
    m->bus_name = strdup(o->bus_name);
    if (chained) {
        m->has_base = true;
        m->base_label = strdup(b->base.label);
        m->base_type = strdup(b->base.type);
        m->base_checksum = strdup(b->base.checksum);
        m->base_start_usec = b->base.start_usec;
        m->base_last_gen = b->base.last_gen;
    }
    if (!ctl_streamer_init(&b->bufs, o->max_rate, b->msg, sizeof b->msg))
        return CTL_EXIT_FAILURE;
    if (!(b->dest = ctl_dest_open(o->output, b->msg, sizeof b->msg)))
        return CTL_EXIT_DEST;
    if (o->max_rate)
        ctl_dest_page_cache(b->dest);
    if (!(b->c = ctl_connect(o, &b->err)))
        return bus_fail(b, "connecting to the bus");
    if (!dbus_connection_can_send_type(b->c, DBUS_TYPE_UNIX_FD)) {
        snprintf(b->msg, sizeof b->msg,
                 "this bus connection cannot pass file descriptors (streaming backups need a Unix socket "
                 "bus that allows them)");
        return CTL_EXIT_UNREACHABLE;
    }
    DBusMessageIter v;
    DBusMessage *r = ctl_get(b->c, o, CTL_ROOT, CTL_IFACE_WRITER, "WriterId", &v, &b->err);
    if (!r)
        return bus_fail(b, "reading WriterId");
    const char *id = "";
    if (dbus_message_iter_get_arg_type(&v) == DBUS_TYPE_STRING)
        dbus_message_iter_get_basic(&v, &id);
    m->writer_id = strdup(id);
    dbus_message_unref(r);
    ctl_progress_init(&b->prog, o->progress);
    int rc = begin(b);
    if (rc == CTL_EXIT_OK)
        rc = stream_all(b);
    if (rc == CTL_EXIT_OK)
        rc = log_info(b);
    if (rc != CTL_EXIT_OK) {
        abort_backup(b);
        return rc;
    }
    if ((rc = end_backup(b)) != CTL_EXIT_OK)
        return rc;
    char *text = ctl_manifest_format(m);
    if (!text) {
        snprintf(b->msg, sizeof b->msg, "out of memory formatting the manifest");
        return CTL_EXIT_FAILURE;
    }
    char ferr[4096];
    bool ok = ctl_dest_finish(b->dest, text, ferr, sizeof ferr);
    free(text);
    if (!ok) {
        /* The backup was recorded in the databases, but it is not stored: say so, truncate nothing. */
        snprintf(b->msg, sizeof b->msg, "%s; the writer recorded the backup as valid, but it was not stored: "
                 "nothing was truncated, take it again", ferr);
        return CTL_EXIT_DEST;
    }
    if (!strcmp(o->type, "full") || !strcmp(o->type, "incremental"))
        return truncate_logs(b);
    return CTL_EXIT_OK;
}

static int begin(struct backup *b)
{
    const struct ctl_opts *o = b->o;
    DBusMessage *q = ctl_writer_call(o, CTL_ROOT, CTL_IFACE_BACKUP, "BeginBackup");
    DBusMessageIter it, d, e, var;
    const char *key = "label", *label = o->label ? o->label : "";
    if (q) {
        dbus_message_iter_init_append(q, &it);
        if (!dbus_message_iter_append_basic(&it, DBUS_TYPE_STRING, &o->instances[0]) ||
            !dbus_message_iter_append_basic(&it, DBUS_TYPE_STRING, &o->type) ||
            !dbus_message_iter_open_container(&it, DBUS_TYPE_ARRAY, "{sv}", &d) ||
            !dbus_message_iter_open_container(&d, DBUS_TYPE_DICT_ENTRY, NULL, &e) ||
            !dbus_message_iter_append_basic(&e, DBUS_TYPE_STRING, &key) ||
            !dbus_message_iter_open_container(&e, DBUS_TYPE_VARIANT, "s", &var) ||
            !dbus_message_iter_append_basic(&var, DBUS_TYPE_STRING, &label) ||
            !dbus_message_iter_close_container(&e, &var) || !dbus_message_iter_close_container(&d, &e) ||
            !dbus_message_iter_close_container(&it, &d)) {
            dbus_message_unref(q);
            q = NULL;
        }
    }
    DBusMessage *r = ctl_send(b->c, q, o->timeout_ms, &b->err);
    if (!r)
        return bus_fail(b, "BeginBackup");
    const char *path = NULL;
    if (!dbus_message_iter_init(r, &it) || dbus_message_iter_get_arg_type(&it) != DBUS_TYPE_OBJECT_PATH) {
        dbus_message_unref(r);
        snprintf(b->msg, sizeof b->msg, "BeginBackup answered %s, not (oa{sv})", dbus_message_get_signature(r));
        return CTL_EXIT_FAILURE;
    }
    dbus_message_iter_get_basic(&it, &path);
    snprintf(b->session, sizeof b->session, "%s", path);
    b->began = true;
    dbus_message_iter_next(&it);
    b->m.start_usec = ctl_dict_u64(&it, "start_time_usec", ctl_now_usec());
    b->m.page_size = ctl_dict_u32(&it, "page_size", 0);
    b->m.log_base_name = strdup(ctl_dict_str(&it, "log_base_name", "edb"));
    dbus_message_unref(r);
    return CTL_EXIT_OK;
}

static int stream_all(struct backup *b)
{
    for (int round = 0;; round++) {
        struct file *v = NULL;
        size_t nv = 0;
        int rc = list_files(b, &v, &nv);
        if (rc != CTL_EXIT_OK)
            return rc;
        bool logs = false, all = true;
        size_t opened = 0;
        b->prog.total = b->prog.done;
        for (size_t i = 0; i < nv; i++) {
            logs |= v[i].log;
            if (!v[i].streamed)
                b->prog.total += v[i].size;
        }
        for (size_t i = 0; i < nv && rc == CTL_EXIT_OK; i++) {
            if (v[i].streamed)
                continue;
            all = false;
            /* A file we streamed whose flag lags in this list is not offered twice. */
            bool done = false;
            for (size_t k = 0; k < b->m.n_files && !done; k++)
                done = !strcmp(b->m.files[k].path, v[i].path);
            if (done)
                continue;
            rc = stream_one(b, &v[i]);
            opened++;
        }
        free_files(v, nv);
        if (rc != CTL_EXIT_OK)
            return rc;
        if (logs && all)
            return CTL_EXIT_OK;
        /* Streaming what was listed changes the list (the log range is fixed after the last
         * database); a round that streamed nothing and changed nothing would repeat for ever. */
        if (opened == 0 && round > 0) {
            snprintf(b->msg, sizeof b->msg,
                     "ListFiles offers nothing more to stream, but the backup set is not complete (%s)",
                     logs ? "a file is not marked streamed" : "no log files");
            return CTL_EXIT_BACKUP;
        }
    }
}

static int list_files(struct backup *b, struct file **pv, size_t *pn)
{
    *pv = NULL;
    *pn = 0;
    DBusMessage *r = session_call(b, "ListFiles", DBUS_TYPE_INVALID, NULL, &b->err);
    if (!r)
        return bus_fail(b, "ListFiles");
    DBusMessageIter it, a;
    if (strcmp(dbus_message_get_signature(r), "a(aysttua{sv})") != 0) {
        snprintf(b->msg, sizeof b->msg, "ListFiles answered %s, not a(aysttua{sv})", dbus_message_get_signature(r));
        dbus_message_unref(r);
        return CTL_EXIT_FAILURE;
    }
    dbus_message_iter_init(r, &it);
    dbus_message_iter_recurse(&it, &a);
    size_t cap = 0;
    int rc = CTL_EXIT_OK;
    for (; dbus_message_iter_get_arg_type(&a) == DBUS_TYPE_STRUCT; dbus_message_iter_next(&a)) {
        DBusMessageIter st, bytes;
        dbus_message_iter_recurse(&a, &st);
        const char *p;
        int len = 0;
        dbus_message_iter_recurse(&st, &bytes);
        dbus_message_iter_get_fixed_array(&bytes, &p, &len);
        dbus_message_iter_next(&st);
        const char *kind;
        dbus_uint64_t size;
        dbus_message_iter_get_basic(&st, &kind);
        dbus_message_iter_next(&st);
        dbus_message_iter_get_basic(&st, &size);
        dbus_message_iter_next(&st); /* mtime */
        dbus_message_iter_next(&st); /* mode */
        dbus_message_iter_next(&st); /* extra */
        const char *name = ctl_dict_str(&st, "name", "");
        DBusMessageIter bv;
        dbus_bool_t streamed = FALSE;
        if (ctl_dict_lookup(&st, "streamed", DBUS_TYPE_BOOLEAN, &bv))
            dbus_message_iter_get_basic(&bv, &streamed);
        if (*pn == cap) {
            cap = cap ? cap * 2 : 16;
            struct file *nv = realloc(*pv, cap * sizeof *nv);
            if (!nv) {
                rc = CTL_EXIT_FAILURE;
                snprintf(b->msg, sizeof b->msg, "out of memory");
                break;
            }
            *pv = nv;
        }
        struct file *f = &(*pv)[*pn];
        *f = (struct file){.log = !strcmp(kind, "log"), .streamed = streamed, .size = size,
                           .generation = ctl_dict_u32(&st, "generation", 0)};
        f->path = strndup(p, (size_t)len);
        f->name = strdup(name);
        (*pn)++;
        /* The name becomes a file in the backup directory: never a path, never the manifest. */
        if (!f->path || !f->name || memchr(p, '\0', (size_t)len) || !name[0] || strchr(name, '/') ||
            !strcmp(name, ".") || !strcmp(name, "..") || !strncmp(name, CTL_MANIFEST_NAME, strlen(CTL_MANIFEST_NAME))) {
            snprintf(b->msg, sizeof b->msg, "ListFiles gave a file whose name '%s' cannot be stored", name);
            rc = CTL_EXIT_FAILURE;
            break;
        }
    }
    dbus_message_unref(r);
    if (rc != CTL_EXIT_OK) {
        free_files(*pv, *pn);
        *pv = NULL;
        *pn = 0;
    }
    return rc;
}

static int stream_one(struct backup *b, const struct file *f)
{
    const struct ctl_opts *o = b->o;
    DBusMessage *q = ctl_writer_call(o, CTL_ROOT, CTL_IFACE_BACKUP, "OpenFile");
    const char *s = b->session, *comp = o->zstd ? "zstd" : "none", *ck = "compression", *lk = "zstd_level";
    dbus_int32_t level = o->zstd_level;
    DBusMessageIter it, arr, d, e, var;
    if (q) {
        dbus_message_iter_init_append(q, &it);
        bool ok = dbus_message_iter_append_basic(&it, DBUS_TYPE_OBJECT_PATH, &s) &&
                  dbus_message_iter_open_container(&it, DBUS_TYPE_ARRAY, "y", &arr) &&
                  dbus_message_iter_append_fixed_array(&arr, DBUS_TYPE_BYTE, &f->path, (int)strlen(f->path)) &&
                  dbus_message_iter_close_container(&it, &arr) &&
                  dbus_message_iter_open_container(&it, DBUS_TYPE_ARRAY, "{sv}", &d) &&
                  dbus_message_iter_open_container(&d, DBUS_TYPE_DICT_ENTRY, NULL, &e) &&
                  dbus_message_iter_append_basic(&e, DBUS_TYPE_STRING, &ck) &&
                  dbus_message_iter_open_container(&e, DBUS_TYPE_VARIANT, "s", &var) &&
                  dbus_message_iter_append_basic(&var, DBUS_TYPE_STRING, &comp) &&
                  dbus_message_iter_close_container(&e, &var) && dbus_message_iter_close_container(&d, &e);
        if (ok && o->zstd && level > 0)
            ok = dbus_message_iter_open_container(&d, DBUS_TYPE_DICT_ENTRY, NULL, &e) &&
                 dbus_message_iter_append_basic(&e, DBUS_TYPE_STRING, &lk) &&
                 dbus_message_iter_open_container(&e, DBUS_TYPE_VARIANT, "i", &var) &&
                 dbus_message_iter_append_basic(&var, DBUS_TYPE_INT32, &level) &&
                 dbus_message_iter_close_container(&e, &var) && dbus_message_iter_close_container(&d, &e);
        if (!ok || !dbus_message_iter_close_container(&it, &d)) {
            dbus_message_unref(q);
            q = NULL;
        }
    }
    DBusMessage *r = ctl_send(b->c, q, o->timeout_ms, &b->err);
    if (!r) {
        char what[600];
        snprintf(what, sizeof what, "OpenFile %s", f->path);
        return bus_fail(b, what);
    }
    int fd = -1;
    if (!dbus_message_iter_init(r, &it) || dbus_message_iter_get_arg_type(&it) != DBUS_TYPE_UNIX_FD) {
        snprintf(b->msg, sizeof b->msg, "OpenFile answered %s, not (ha{sv})", dbus_message_get_signature(r));
        dbus_message_unref(r);
        return CTL_EXIT_FAILURE;
    }
    dbus_message_iter_get_basic(&it, &fd); /* a dup that is ours to close */
    dbus_message_iter_next(&it);
    uint32_t id = ctl_dict_u32(&it, "stream_id", 0);
    bool zstd = !strcmp(ctl_dict_str(&it, "compression", comp), "zstd");
    uint64_t expected = ctl_dict_u64(&it, "expected_size", 0);
    dbus_message_unref(r);
    char stored_as[300];
    snprintf(stored_as, sizeof stored_as, "%s%s", f->name, zstd ? ".zst" : "");
    struct ctl_stream_result res;
    bool dest_failed = false;
    char serr[2048] = "";
    bool ok = ctl_stream_file(fd, &b->bufs, b->dest, stored_as, zstd ? -1 : (int64_t)expected, zstd, on_progress,
                              b, &res, &dest_failed, serr, sizeof serr);
    close(fd);
    b->stored_bytes += res.stored;
    /* The writer's verdict comes first: a stream the engine cut short also leaves a short file or
     * an unfinished zstd frame here. Only when it has no error of its own is ours reported. */
    int rc = file_result(b, id, f->name, &res, ok);
    /* Except EPIPE: that is the writer seeing us stop reading after our own failure. */
    if (dest_failed && !strcmp(b->ename, "EPIPE"))
        rc = CTL_EXIT_DEST;
    if (rc == CTL_EXIT_DEST || (rc == CTL_EXIT_OK && !ok)) {
        snprintf(b->msg, sizeof b->msg, "%s", serr);
        return dest_failed ? CTL_EXIT_DEST : CTL_EXIT_BACKUP;
    }
    if (rc != CTL_EXIT_OK)
        return rc;
    struct ctl_mfile *mf = ctl_manifest_add(&b->m);
    if (!mf || !mfile_fill(mf, f, stored_as, zstd, &res)) {
        snprintf(b->msg, sizeof b->msg, "out of memory");
        return CTL_EXIT_FAILURE;
    }
    return CTL_EXIT_OK;
}

/* GetFileResult until complete: the producer may still be closing when we see EOF. With
 * stream_ok false only the writer's own error is reported (CTL_EXIT_DEST: it had none). */
static int file_result(struct backup *b, uint32_t id, const char *name, const struct ctl_stream_result *res,
                       bool stream_ok)
{
    uint64_t deadline = ctl_mono_usec() + (uint64_t)b->o->timeout_ms * 1000u;
    for (unsigned wait_ms = 5;; wait_ms = wait_ms < 200 ? wait_ms * 2 : 200) {
        DBusMessage *r = session_call(b, "GetFileResult", DBUS_TYPE_UINT32, &id, &b->err);
        if (!r)
            return bus_fail(b, "GetFileResult");
        dbus_bool_t complete = FALSE;
        dbus_uint64_t from_source = 0, written = 0;
        const char *sum = "", *ename = "";
        if (!dbus_message_get_args(r, &b->err, DBUS_TYPE_BOOLEAN, &complete, DBUS_TYPE_UINT64, &from_source,
                                   DBUS_TYPE_UINT64, &written, DBUS_TYPE_STRING, &sum, DBUS_TYPE_STRING, &ename,
                                   DBUS_TYPE_INVALID)) {
            dbus_message_unref(r);
            return bus_fail(b, "GetFileResult");
        }
        if (!complete) {
            dbus_message_unref(r);
            if (ctl_mono_usec() > deadline) {
                snprintf(b->msg, sizeof b->msg, "%s: the writer's stream reached EOF but GetFileResult still "
                         "says incomplete after %d ms", name, b->o->timeout_ms);
                return CTL_EXIT_BACKUP;
            }
            struct timespec ts = {0, (long)wait_ms * 1000000L};
            nanosleep(&ts, NULL);
            continue;
        }
        int rc = CTL_EXIT_OK;
        snprintf(b->ename, sizeof b->ename, "%s", ename);
        char mine[16];
        ctl_crc_format(res->crc, mine);
        if (ename[0])
            snprintf(b->msg, sizeof b->msg, "%s: the writer's stream failed: %s (after %llu bytes)", name, ename,
                     (unsigned long long)from_source);
        else if (!stream_ok)
            rc = CTL_EXIT_DEST;
        else if (from_source != res->uncompressed)
            snprintf(b->msg, sizeof b->msg, "%s: the writer read %llu bytes, %llu arrived", name,
                     (unsigned long long)from_source, (unsigned long long)res->uncompressed);
        else if (strcmp(sum, mine) != 0)
            snprintf(b->msg, sizeof b->msg, "%s: checksum mismatch: the writer sent %s, %s arrived", name, sum, mine);
        if (rc == CTL_EXIT_OK && b->msg[0])
            rc = CTL_EXIT_BACKUP;
        dbus_message_unref(r);
        return rc;
    }
}

static int log_info(struct backup *b)
{
    DBusMessage *r = session_call(b, "GetLogInfo", DBUS_TYPE_INVALID, NULL, &b->err);
    if (!r)
        return bus_fail(b, "GetLogInfo");
    DBusMessageIter it;
    dbus_message_iter_init(r, &it);
    b->m.first_gen = ctl_dict_u32(&it, "first_generation", 0);
    b->m.last_gen = ctl_dict_u32(&it, "last_generation", 0);
    free(b->m.log_base_name);
    b->m.log_base_name = strdup(ctl_dict_str(&it, "log_base_name", "edb"));
    dbus_message_unref(r);
    /* Every generation of the range must be among the files streamed. */
    for (uint32_t g = b->m.first_gen; g && g <= b->m.last_gen; g++) {
        bool have = false;
        for (size_t i = 0; i < b->m.n_files && !have; i++)
            have = b->m.files[i].log && b->m.files[i].generation == g;
        if (!have) {
            snprintf(b->msg, sizeof b->msg, "GetLogInfo's range %u-%u includes generation %u, which was not streamed",
                     b->m.first_gen, b->m.last_gen, g);
            return CTL_EXIT_BACKUP;
        }
    }
    if (!b->m.first_gen) {
        snprintf(b->msg, sizeof b->msg, "GetLogInfo gave no log range");
        return CTL_EXIT_BACKUP;
    }
    return CTL_EXIT_OK;
}

static int end_backup(struct backup *b)
{
    dbus_bool_t yes = TRUE;
    DBusMessage *r = session_call(b, "EndBackup", DBUS_TYPE_BOOLEAN, &yes, &b->err);
    b->began = false; /* whatever the answer: EndBackup ends it, and a second one would be refused */
    if (!r) {
        int rc = bus_fail(b, "EndBackup");
        return rc == CTL_EXIT_UNREACHABLE ? CTL_EXIT_BACKUP : rc;
    }
    DBusMessageIter it, v;
    dbus_message_iter_init(r, &it);
    dbus_bool_t valid = FALSE;
    if (ctl_dict_lookup(&it, "valid", DBUS_TYPE_BOOLEAN, &v))
        dbus_message_iter_get_basic(&v, &valid);
    b->m.stop_usec = ctl_dict_u64(&it, "stop_time_usec", ctl_now_usec());
    b->m.start_usec = ctl_dict_u64(&it, "start_time_usec", b->m.start_usec);
    uint32_t fg = ctl_dict_u32(&it, "first_generation", b->m.first_gen), lg = ctl_dict_u32(&it, "last_generation", b->m.last_gen);
    int rc = CTL_EXIT_OK;
    if (!valid) {
        snprintf(b->msg, sizeof b->msg, "EndBackup says the backup is not valid: %s: %s",
                 ctl_dict_str(&it, "error_name", "?"), ctl_dict_str(&it, "message", ""));
        rc = CTL_EXIT_BACKUP;
    } else if (fg != b->m.first_gen || lg != b->m.last_gen) {
        snprintf(b->msg, sizeof b->msg, "EndBackup's log range %u-%u is not GetLogInfo's %u-%u", fg, lg,
                 b->m.first_gen, b->m.last_gen);
        rc = CTL_EXIT_BACKUP;
    }
    dbus_message_unref(r);
    return rc;
}

static int truncate_logs(struct backup *b)
{
    DBusMessage *q = ctl_writer_call(b->o, CTL_ROOT, CTL_IFACE_BACKUP, "TruncateLogs");
    const char *inst = b->o->instances[0], *upto = "";
    DBusMessageIter it;
    if (q) {
        dbus_message_iter_init_append(q, &it);
        if (!dbus_message_iter_append_basic(&it, DBUS_TYPE_STRING, &inst) ||
            !dbus_message_iter_append_basic(&it, DBUS_TYPE_STRING, &upto) || !ctl_append_empty_dict(&it)) {
            dbus_message_unref(q);
            q = NULL;
        }
    }
    DBusMessage *r = ctl_send(b->c, q, b->o->timeout_ms, &b->err);
    const char *first = NULL;
    if (r && dbus_message_get_args(r, &b->err, DBUS_TYPE_STRING, &first, DBUS_TYPE_INVALID))
        snprintf(b->truncated, sizeof b->truncated, "%s", first);
    if (r)
        dbus_message_unref(r);
    if (!first) {
        ctl_format_error(b->o, "TruncateLogs", &b->err, b->msg, sizeof b->msg);
        size_t l = strlen(b->msg);
        snprintf(b->msg + l, sizeof b->msg - l, " (the backup is valid and stored; the logs were not truncated)");
        return CTL_EXIT_TRUNCATE;
    }
    return CTL_EXIT_OK;
}

static void abort_backup(struct backup *b)
{
    if (!b->began || !b->c)
        return;
    b->began = false;
    b->aborted = true;
    dbus_bool_t no = FALSE;
    DBusError e;
    dbus_error_init(&e);
    DBusMessage *r = session_call(b, "EndBackup", DBUS_TYPE_BOOLEAN, &no, &e);
    /* If even this fails, disconnecting ends it: the writer aborts the backups of an owner that
     * leaves the bus. */
    if (r)
        dbus_message_unref(r);
    dbus_error_free(&e);
}

static int bus_fail(struct backup *b, const char *what)
{
    ctl_format_error(b->o, what, &b->err, b->msg, sizeof b->msg);
    bool unreachable = ctl_unreachable(&b->err);
    dbus_error_free(&b->err);
    if (unreachable)
        return CTL_EXIT_UNREACHABLE;
    return strcmp(what, "BeginBackup") == 0 || strncmp(what, "OpenFile", 8) == 0 || !strcmp(what, "GetLogInfo") ||
                   !strcmp(what, "ListFiles") || !strcmp(what, "EndBackup")
               ? CTL_EXIT_BACKUP
               : CTL_EXIT_FAILURE;
}

static void on_progress(void *ctx, uint64_t bytes)
{
    struct backup *b = ctx;
    ctl_progress_add(&b->prog, bytes);
}

static bool mfile_fill(struct ctl_mfile *mf, const struct file *f, const char *stored_as, bool zstd,
                       const struct ctl_stream_result *r)
{
    mf->name = strdup(f->name);
    mf->path = strdup(f->path);
    mf->stored_as = strdup(stored_as);
    mf->log = f->log;
    mf->generation = f->generation;
    mf->size = r->uncompressed;
    mf->stored_size = r->stored;
    mf->zstd = zstd;
    mf->crc = r->crc;
    return mf->name && mf->path && mf->stored_as;
}

static void free_files(struct file *v, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(v[i].path);
        free(v[i].name);
    }
    free(v);
}

static void summary(struct backup *b)
{
    const struct ctl_manifest *m = &b->m;
    size_t dbs = 0, logs = 0;
    uint64_t bytes = 0;
    for (size_t i = 0; i < m->n_files; i++) {
        bytes += m->files[i].size;
        if (m->files[i].log)
            logs++;
        else
            dbs++;
    }
    double secs = (double)(ctl_mono_usec() - b->t0) / 1e6;
    if (b->o->json) {
        json_object *j = json_object_new_object();
        json_object_object_add(j, "instance", json_object_new_string(m->instance));
        json_object_object_add(j, "backup_type", json_object_new_string(m->type));
        json_object_object_add(j, "label", json_object_new_string(m->label));
        json_object_object_add(j, "output", json_object_new_string(b->o->output));
        json_object_object_add(j, "databases", json_object_new_uint64(dbs));
        json_object_object_add(j, "logs", json_object_new_uint64(logs));
        json_object_object_add(j, "bytes", json_object_new_uint64(bytes));
        json_object_object_add(j, "stored_bytes", json_object_new_uint64(b->stored_bytes));
        json_object_object_add(j, "first_generation", json_object_new_uint64(m->first_gen));
        json_object_object_add(j, "last_generation", json_object_new_uint64(m->last_gen));
        json_object_object_add(j, "start_time_usec", json_object_new_uint64(m->start_usec));
        json_object_object_add(j, "stop_time_usec", json_object_new_uint64(m->stop_usec));
        json_object_object_add(j, "seconds", json_object_new_double(secs));
        json_object_object_add(j, "manifest_checksum", json_object_new_string(m->checksum ? m->checksum : ""));
        json_object_object_add(j, "truncated_to_generation",
                               b->truncated[0] ? json_object_new_string(b->truncated) : NULL);
        /* stdout is the tar stream with --output -: the summary goes to stderr then. */
        fprintf(ctl_dest_is_tar(b->dest) ? stderr : stdout, "%s\n",
                json_object_to_json_string_ext(j, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE));
        json_object_put(j);
        return;
    }
    char trunc[128] = "";
    if (b->truncated[0])
        snprintf(trunc, sizeof trunc, "; logs truncated, the first on disk is now generation %s", b->truncated);
    fprintf(stderr,
            "jetsnapctl: backup completed: instance %s, %s, %zu database%s and %zu log%s (generations %u-%u), "
            "%.1f MiB (%.1f MiB stored) in %.1f s into %s%s\n",
            m->instance, m->type, dbs, dbs == 1 ? "" : "s", logs, logs == 1 ? "" : "s", m->first_gen, m->last_gen,
            (double)bytes / 1048576.0, (double)b->stored_bytes / 1048576.0, secs,
            ctl_dest_is_tar(b->dest) ? "stdout (tar)" : b->o->output, trunc);
}

/* Call member of ExternalBackup with the session's path and, unless type is DBUS_TYPE_INVALID, one
 * more basic argument; the reply, or NULL with err set. */
static DBusMessage *session_call(struct backup *b, const char *member, int type, const void *arg, DBusError *err)
{
    DBusMessage *q = ctl_writer_call(b->o, CTL_ROOT, CTL_IFACE_BACKUP, member);
    const char *s = b->session;
    bool ok = q && (type == DBUS_TYPE_INVALID
                        ? dbus_message_append_args(q, DBUS_TYPE_OBJECT_PATH, &s, DBUS_TYPE_INVALID)
                        : dbus_message_append_args(q, DBUS_TYPE_OBJECT_PATH, &s, type, arg, DBUS_TYPE_INVALID));
    if (q && !ok) {
        dbus_message_unref(q);
        q = NULL;
    }
    return ctl_send(b->c, q, b->o->timeout_ms, err);
}
