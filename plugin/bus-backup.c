/*
 * bus-backup.c — org.jetsnap.Writer1.ExternalBackup on D-Bus (docs/writer.md, "Streaming
 * backups"): argument parsing and replies around xbackup.c. Every call but GetFileResult runs on
 * a worker (bus-calls.c: the caller's uid was checked against allow_users first), because each may
 * wait on the disk: beginning rolls nothing but reads the attach list, listing may roll the log,
 * opening a file opens it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bus-int.h"

#define BUS_ERR_INVALID_ARGS DBUS_ERROR_INVALID_ARGS

static const struct {
    const char *member, *sig;
} members[] = {
    {"BeginBackup", "ssa{sv}"}, {"ListFiles", "o"},      {"OpenFile", "oaya{sv}"}, {"GetFileResult", "ou"},
    {"GetLogInfo", "o"},        {"EndBackup", "ob"},     {"TruncateLogs", "ssa{sv}"},
};

static void call_begin(struct wr_bus *b, DBusConnection *c, DBusMessage *m);
static void call_list(struct wr_bus *b, DBusConnection *c, DBusMessage *m);
static void call_open(struct wr_bus *b, DBusConnection *c, DBusMessage *m);
static void call_log_info(struct wr_bus *b, DBusConnection *c, DBusMessage *m);
static void call_end(struct wr_bus *b, DBusConnection *c, DBusMessage *m);
static void call_truncate(struct wr_bus *b, DBusConnection *c, DBusMessage *m);
static bool next_option(DBusMessageIter *arr, const char **key, DBusMessageIter *val);
static bool option_type(DBusConnection *c, DBusMessage *m, const char *key, DBusMessageIter *val, int type);
static bool append_files(DBusMessageIter *it, const struct wr_xb_file *f, size_t n);
static bool append_paths(DBusMessageIter *dict, const char *key, const struct wr_xb_file *f, size_t n,
                         const char *kind);

bool wr_bus_backup_member(const char *member, const char **psig)
{
    for (size_t i = 0; i < sizeof members / sizeof members[0]; i++)
        if (!strcmp(member, members[i].member)) {
            if (psig)
                *psig = members[i].sig;
            return true;
        }
    return false;
}

void wr_bus_backup_call(struct wr_bus *b, DBusConnection *c, DBusMessage *m)
{
    const char *member = dbus_message_get_member(m);
    if (!strcmp(member, "BeginBackup"))
        call_begin(b, c, m);
    else if (!strcmp(member, "ListFiles"))
        call_list(b, c, m);
    else if (!strcmp(member, "OpenFile"))
        call_open(b, c, m);
    else if (!strcmp(member, "GetLogInfo"))
        call_log_info(b, c, m);
    else if (!strcmp(member, "EndBackup"))
        call_end(b, c, m);
    else if (!strcmp(member, "TruncateLogs"))
        call_truncate(b, c, m);
    else
        wr_bus_backup_result(b, c, m);
}

/* GetFileResult(o session, u stream_id) -> (b complete, t read, t written, s checksum, s error_name) */
void wr_bus_backup_result(struct wr_bus *b, DBusConnection *c, DBusMessage *m)
{
    DBusMessageIter it;
    dbus_message_iter_init(m, &it);
    uint32_t id = wr_bus_session_arg(c, m, &it);
    if (!id)
        return;
    dbus_uint32_t stream = 0;
    dbus_message_iter_get_basic(&it, &stream);
    struct wr_xb_result r;
    struct jetsnap_error e = {0};
    if (wr_xb_result(b->w, dbus_message_get_sender(m), id, stream, &r, &e) != JETSNAP_OK) {
        wr_bus_reply_failure(c, m, &e);
        return;
    }
    dbus_bool_t complete = r.complete;
    dbus_uint64_t rd = r.bytes_read, wr = r.bytes_written;
    const char *sum = r.checksum, *err = r.error_name;
    DBusMessage *reply = dbus_message_new_method_return(m);
    wr_bus_reply(c, m, reply,
                 reply && dbus_message_append_args(reply, DBUS_TYPE_BOOLEAN, &complete, DBUS_TYPE_UINT64, &rd,
                                                   DBUS_TYPE_UINT64, &wr, DBUS_TYPE_STRING, &sum, DBUS_TYPE_STRING,
                                                   &err, DBUS_TYPE_INVALID));
}

/* BeginBackup(s instance, s type, a{sv} options) -> (o session, a{sv} start_info) */
static void call_begin(struct wr_bus *b, DBusConnection *c, DBusMessage *m)
{
    DBusMessageIter it, arr, val;
    const char *instance = "", *type = "", *label = "", *key;
    dbus_message_iter_init(m, &it);
    dbus_message_iter_get_basic(&it, &instance);
    dbus_message_iter_next(&it);
    dbus_message_iter_get_basic(&it, &type);
    dbus_message_iter_next(&it);
    dbus_message_iter_recurse(&it, &arr);
    while (next_option(&arr, &key, &val)) {
        if (strcmp(key, "label") != 0) {
            wr_bus_reply_error(c, m, BUS_ERR_INVALID_ARGS, "unknown option '%.64s' for BeginBackup", key);
            return;
        }
        if (!option_type(c, m, key, &val, DBUS_TYPE_STRING))
            return;
        dbus_message_iter_get_basic(&val, &label);
    }
    const char *owner = dbus_message_get_sender(m);
    uint32_t id = 0;
    struct wr_xb_start st;
    struct jetsnap_error e = {0};
    if (wr_xb_begin(b->w, owner, instance, type, label, &id, &st, &e) != JETSNAP_OK) {
        wr_bus_reply_failure(c, m, &e);
        return;
    }
    wr_bus_track_owner(b, c, owner);
    /* The databases, as ListFiles will list them first. */
    struct wr_xb_file *files = NULL;
    size_t n = 0;
    struct jetsnap_error le = {0};
    bool listed = wr_xb_list(b->w, owner, id, &files, &n, &le) == JETSNAP_OK;
    char path[128];
    wr_bus_session_path(id, path, sizeof path);
    const char *p = path;
    DBusMessage *reply = dbus_message_new_method_return(m);
    DBusMessageIter out, dict;
    bool ok = reply != NULL && listed;
    if (ok) {
        dbus_message_iter_init_append(reply, &out);
        ok = dbus_message_iter_append_basic(&out, DBUS_TYPE_OBJECT_PATH, &p) &&
             dbus_message_iter_open_container(&out, DBUS_TYPE_ARRAY, "{sv}", &dict);
    }
    if (ok) {
        ok = wr_bus_dict_str(&dict, "instance", instance) && wr_bus_dict_str(&dict, "backup_type", st.backup_type) &&
             wr_bus_dict_str(&dict, "label", label) && wr_bus_dict_u64(&dict, "start_time_usec", st.start_usec) &&
             wr_bus_dict_u32(&dict, "page_size", st.page_size) &&
             wr_bus_dict_str(&dict, "log_base_name", st.log_base) &&
             append_paths(&dict, "databases", files, n, "data");
        ok = dbus_message_iter_close_container(&out, &dict) && ok;
    }
    wr_xb_files_free(files, n);
    wr_bus_reply(c, m, reply, ok);
}

/* ListFiles(o session) -> a(aysttua{sv}) */
static void call_list(struct wr_bus *b, DBusConnection *c, DBusMessage *m)
{
    DBusMessageIter it;
    dbus_message_iter_init(m, &it);
    uint32_t id = wr_bus_session_arg(c, m, &it);
    if (!id)
        return;
    struct wr_xb_file *files = NULL;
    size_t n = 0;
    struct jetsnap_error e = {0};
    if (wr_xb_list(b->w, dbus_message_get_sender(m), id, &files, &n, &e) != JETSNAP_OK) {
        wr_bus_reply_failure(c, m, &e);
        return;
    }
    DBusMessage *reply = dbus_message_new_method_return(m);
    DBusMessageIter out;
    bool ok = reply != NULL;
    if (ok) {
        dbus_message_iter_init_append(reply, &out);
        ok = append_files(&out, files, n);
    }
    wr_xb_files_free(files, n);
    wr_bus_reply(c, m, reply, ok);
}

/* OpenFile(o session, ay path, a{sv} options) -> (h fd, a{sv} info) */
static void call_open(struct wr_bus *b, DBusConnection *c, DBusMessage *m)
{
    DBusMessageIter it, arr, opts, val;
    dbus_message_iter_init(m, &it);
    uint32_t id = wr_bus_session_arg(c, m, &it);
    if (!id)
        return;
    if (!dbus_connection_can_send_type(c, DBUS_TYPE_UNIX_FD)) {
        wr_bus_reply_error(c, m, "org.jetsnap.Writer1.Error.NotSupported",
                           "this connection cannot pass file descriptors (a TCP bus?): streams need a Unix socket");
        return;
    }
    const char *bytes = NULL;
    int len = 0;
    dbus_message_iter_recurse(&it, &arr);
    dbus_message_iter_get_fixed_array(&arr, &bytes, &len);
    dbus_message_iter_next(&it);
    char *path = malloc((size_t)len + 1);
    if (!path) {
        wr_bus_reply_error(c, m, DBUS_ERROR_NO_MEMORY, "out of memory");
        return;
    }
    if (len)
        memcpy(path, bytes, (size_t)len);
    path[len] = '\0';
    struct wr_xb_open_opts o = {0};
    const char *key;
    dbus_message_iter_recurse(&it, &opts);
    bool ok = true;
    while (ok && next_option(&opts, &key, &val)) {
        if (!strcmp(key, "compression") && (ok = option_type(c, m, key, &val, DBUS_TYPE_STRING))) {
            dbus_message_iter_get_basic(&val, &o.compression);
        } else if (!strcmp(key, "zstd_level") && (ok = option_type(c, m, key, &val, DBUS_TYPE_INT32))) {
            dbus_int32_t v;
            dbus_message_iter_get_basic(&val, &v);
            o.level = v;
            o.has_level = true;
        } else if (!strcmp(key, "zstd_workers") && (ok = option_type(c, m, key, &val, DBUS_TYPE_UINT32))) {
            dbus_uint32_t v;
            dbus_message_iter_get_basic(&val, &v);
            o.workers = v;
            o.has_workers = true;
        } else if (!strcmp(key, "checksum") && (ok = option_type(c, m, key, &val, DBUS_TYPE_BOOLEAN))) {
            /* Always computed: the option is accepted so a caller asking for it is not refused. */
        } else if (ok && (!strcmp(key, "offset") || !strcmp(key, "length"))) {
            wr_bus_reply_error(c, m, "org.jetsnap.Writer1.Error.NotSupported",
                               "option '%s': streams are whole files (the engine reads a backup file from its start)",
                               key);
            ok = false;
        } else if (ok) {
            wr_bus_reply_error(c, m, BUS_ERR_INVALID_ARGS, "unknown option '%.64s' for OpenFile", key);
            ok = false;
        }
    }
    if (!ok) {
        free(path);
        return;
    }
    int fd = -1;
    struct wr_xb_open_info info;
    struct jetsnap_error e = {0};
    int rc = wr_xb_open(b->w, dbus_message_get_sender(m), id, path, (size_t)len, &o, &fd, &info, &e);
    free(path);
    if (rc != JETSNAP_OK) {
        wr_bus_reply_failure(c, m, &e);
        return;
    }
    DBusMessage *reply = dbus_message_new_method_return(m);
    DBusMessageIter out, dict;
    ok = reply != NULL;
    if (ok) {
        dbus_message_iter_init_append(reply, &out);
        /* Appending dups the fd; ours is closed below either way. */
        ok = dbus_message_iter_append_basic(&out, DBUS_TYPE_UNIX_FD, &fd) &&
             dbus_message_iter_open_container(&out, DBUS_TYPE_ARRAY, "{sv}", &dict);
    }
    if (ok) {
        ok = wr_bus_dict_u32(&dict, "stream_id", info.stream_id) && wr_bus_dict_str(&dict, "name", info.name) &&
             wr_bus_dict_str(&dict, "kind", info.kind) && wr_bus_dict_u64(&dict, "expected_size", info.expected) &&
             wr_bus_dict_str(&dict, "compression", info.zstd ? "zstd" : "none") &&
             wr_bus_dict_i32(&dict, "zstd_level", info.zstd ? info.level : 0);
        ok = dbus_message_iter_close_container(&out, &dict) && ok;
    }
    close(fd);
    /* Without the reply the caller never gets the fd: the producer then fails with EPIPE as soon
     * as the socket's last reference (ours, now closed) is gone. */
    wr_bus_reply(c, m, reply, ok);
}

/* GetLogInfo(o session) -> a{sv} */
static void call_log_info(struct wr_bus *b, DBusConnection *c, DBusMessage *m)
{
    DBusMessageIter it;
    dbus_message_iter_init(m, &it);
    uint32_t id = wr_bus_session_arg(c, m, &it);
    if (!id)
        return;
    struct wr_xb_log_info li = {0};
    struct jetsnap_error e = {0};
    if (wr_xb_log_info(b->w, dbus_message_get_sender(m), id, &li, &e) != JETSNAP_OK) {
        wr_bus_reply_failure(c, m, &e);
        return;
    }
    DBusMessage *reply = dbus_message_new_method_return(m);
    DBusMessageIter out, dict;
    bool ok = reply != NULL;
    if (ok) {
        dbus_message_iter_init_append(reply, &out);
        ok = dbus_message_iter_open_container(&out, DBUS_TYPE_ARRAY, "{sv}", &dict);
    }
    if (ok) {
        ok = wr_bus_dict_u32(&dict, "first_generation", li.gen_low) &&
             wr_bus_dict_u32(&dict, "last_generation", li.gen_high) &&
             wr_bus_dict_str(&dict, "log_base_name", li.log_base) &&
             append_paths(&dict, "log_files", li.files, li.n_files, "log") &&
             wr_bus_dict_u32(&dict, "databases_pending", 0);
        ok = dbus_message_iter_close_container(&out, &dict) && ok;
    }
    wr_xb_files_free(li.files, li.n_files);
    wr_bus_reply(c, m, reply, ok);
}

/* EndBackup(o session, b success) -> a{sv} stop_info */
static void call_end(struct wr_bus *b, DBusConnection *c, DBusMessage *m)
{
    DBusMessageIter it;
    dbus_message_iter_init(m, &it);
    uint32_t id = wr_bus_session_arg(c, m, &it);
    if (!id)
        return;
    dbus_bool_t success = FALSE;
    dbus_message_iter_get_basic(&it, &success);
    struct wr_xb_stop st;
    struct jetsnap_error e = {0};
    if (wr_xb_end(b->w, dbus_message_get_sender(m), id, success, &st, &e) != JETSNAP_OK) {
        wr_bus_reply_failure(c, m, &e);
        return;
    }
    DBusMessage *reply = dbus_message_new_method_return(m);
    DBusMessageIter out, dict;
    bool ok = reply != NULL;
    if (ok) {
        dbus_message_iter_init_append(reply, &out);
        ok = dbus_message_iter_open_container(&out, DBUS_TYPE_ARRAY, "{sv}", &dict);
    }
    if (ok) {
        ok = wr_bus_dict_bool(&dict, "valid", st.valid) && wr_bus_dict_str(&dict, "error_name", st.error_name) &&
             wr_bus_dict_str(&dict, "message", st.message) && wr_bus_dict_str(&dict, "recorded_as", st.recorded_as) &&
             wr_bus_dict_u32(&dict, "first_generation", st.gen_low) &&
             wr_bus_dict_u32(&dict, "last_generation", st.gen_high) &&
             wr_bus_dict_u64(&dict, "start_time_usec", st.start_usec) &&
             wr_bus_dict_u64(&dict, "stop_time_usec", st.stop_usec) &&
             wr_bus_dict_str(&dict, "backup_type", st.backup_type) && wr_bus_dict_str(&dict, "instance", st.instance) &&
             wr_bus_dict_str(&dict, "label", st.label);
        ok = dbus_message_iter_close_container(&out, &dict) && ok;
    }
    wr_bus_reply(c, m, reply, ok);
}

/* TruncateLogs(s instance, s up_to_position, a{sv} options) -> s new_first_position */
static void call_truncate(struct wr_bus *b, DBusConnection *c, DBusMessage *m)
{
    DBusMessageIter it, arr, val;
    const char *instance = "", *upto = "", *key;
    dbus_message_iter_init(m, &it);
    dbus_message_iter_get_basic(&it, &instance);
    dbus_message_iter_next(&it);
    dbus_message_iter_get_basic(&it, &upto);
    dbus_message_iter_next(&it);
    dbus_message_iter_recurse(&it, &arr);
    if (next_option(&arr, &key, &val)) {
        wr_bus_reply_error(c, m, BUS_ERR_INVALID_ARGS, "unknown option '%.64s' for TruncateLogs", key);
        return;
    }
    uint32_t gen = 0;
    if (upto[0]) {
        char *end;
        unsigned long long v = strtoull(upto, &end, 10);
        if (*end || upto[0] < '0' || upto[0] > '9' || v == 0 || v > UINT32_MAX) {
            wr_bus_reply_error(c, m, BUS_ERR_INVALID_ARGS,
                               "up_to_position '%.64s' is not a log generation (a decimal number) or \"\"", upto);
            return;
        }
        gen = (uint32_t)v;
    }
    uint32_t first = 0;
    struct jetsnap_error e = {0};
    if (wr_xb_truncate(b->w, instance, gen, &first, &e) != JETSNAP_OK) {
        wr_bus_reply_failure(c, m, &e);
        return;
    }
    char text[16];
    snprintf(text, sizeof text, "%u", first);
    const char *t = text;
    DBusMessage *reply = dbus_message_new_method_return(m);
    wr_bus_reply(c, m, reply, reply && dbus_message_append_args(reply, DBUS_TYPE_STRING, &t, DBUS_TYPE_INVALID));
}

/* The next entry of an a{sv}: its key and its value (the variant's content). */
static bool next_option(DBusMessageIter *arr, const char **key, DBusMessageIter *val)
{
    if (dbus_message_iter_get_arg_type(arr) != DBUS_TYPE_DICT_ENTRY)
        return false;
    DBusMessageIter ent, var;
    dbus_message_iter_recurse(arr, &ent);
    dbus_message_iter_get_basic(&ent, key);
    dbus_message_iter_next(&ent);
    dbus_message_iter_recurse(&ent, &var);
    *val = var;
    dbus_message_iter_next(arr);
    return true;
}

static bool option_type(DBusConnection *c, DBusMessage *m, const char *key, DBusMessageIter *val, int type)
{
    if (dbus_message_iter_get_arg_type(val) == type)
        return true;
    wr_bus_reply_error(c, m, BUS_ERR_INVALID_ARGS, "option '%.64s' of %s must be of type '%c'", key,
                       dbus_message_get_member(m), (char)type);
    return false;
}

/* a(aysttua{sv}): (path, kind, size, mtime_usec, mode, extra) */
static bool append_files(DBusMessageIter *it, const struct wr_xb_file *f, size_t n)
{
    DBusMessageIter arr, st, dict;
    bool ok = dbus_message_iter_open_container(it, DBUS_TYPE_ARRAY, "(aysttua{sv})", &arr);
    for (size_t i = 0; ok && i < n; i++) {
        dbus_uint64_t size = f[i].size, mtime = f[i].mtime_usec;
        dbus_uint32_t mode = f[i].mode;
        ok = dbus_message_iter_open_container(&arr, DBUS_TYPE_STRUCT, NULL, &st) && wr_bus_append_bytes(&st, f[i].path) &&
             wr_bus_append_str(&st, f[i].kind) && dbus_message_iter_append_basic(&st, DBUS_TYPE_UINT64, &size) &&
             dbus_message_iter_append_basic(&st, DBUS_TYPE_UINT64, &mtime) &&
             dbus_message_iter_append_basic(&st, DBUS_TYPE_UINT32, &mode) &&
             dbus_message_iter_open_container(&st, DBUS_TYPE_ARRAY, "{sv}", &dict);
        if (ok) {
            ok = wr_bus_dict_str(&dict, "name", f[i].name) && wr_bus_dict_bool(&dict, "streamed", f[i].streamed) &&
                 wr_bus_dict_bool(&dict, "size_exact", f[i].size_exact) &&
                 (strcmp(f[i].kind, "log") != 0 || wr_bus_dict_u32(&dict, "generation", f[i].gen));
            ok = dbus_message_iter_close_container(&st, &dict) && ok;
            ok = dbus_message_iter_close_container(&arr, &st) && ok;
        }
    }
    return dbus_message_iter_close_container(it, &arr) && ok;
}

/* The paths of the files of one kind, as aay. */
static bool append_paths(DBusMessageIter *dict, const char *key, const struct wr_xb_file *f, size_t n,
                         const char *kind)
{
    const char **v = calloc(n ? n : 1, sizeof *v);
    if (!v)
        return false;
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (!strcmp(f[i].kind, kind))
            v[k++] = f[i].path;
    bool ok = wr_bus_dict_bytesv(dict, key, v, k);
    free(v);
    return ok;
}
