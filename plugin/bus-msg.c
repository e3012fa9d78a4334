/*
 * bus-msg.c — small helpers to build the writer's D-Bus messages (bus-int.h). Every string that
 * reaches libdbus passes through wr_bus_append_str or wr_bus_reply_error: libdbus treats invalid
 * UTF-8 in a string as a programming error and aborts the process, and a message may quote a
 * caller's argument or a path that is not UTF-8.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bus-int.h"

static void make_utf8(const char *s, char *out, size_t n);

void wr_bus_reply_error(DBusConnection *c, DBusMessage *m, const char *name, const char *fmt, ...)
{
    if (dbus_message_get_no_reply(m))
        return;
    char raw[1024], text[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(raw, sizeof raw, fmt, ap);
    va_end(ap);
    make_utf8(raw, text, sizeof text);
    DBusMessage *r = dbus_message_new_error(m, name, text);
    if (r)
        wr_bus_send(c, r);
}

void wr_bus_send(DBusConnection *c, DBusMessage *reply)
{
    /* Out of memory here loses one reply; the caller then sees its own time-out, which is the
     * most a D-Bus service can offer without memory. */
    dbus_connection_send(c, reply, NULL);
    dbus_message_unref(reply);
}

void wr_bus_reply(DBusConnection *c, DBusMessage *m, DBusMessage *reply, bool ok)
{
    if (ok) {
        wr_bus_send(c, reply);
        return;
    }
    if (reply)
        dbus_message_unref(reply);
    wr_bus_reply_error(c, m, DBUS_ERROR_NO_MEMORY, "out of memory building the reply");
}

bool wr_bus_append_str(DBusMessageIter *it, const char *s)
{
    if (!s)
        s = "";
    if (dbus_validate_utf8(s, NULL))
        return dbus_message_iter_append_basic(it, DBUS_TYPE_STRING, &s);
    size_t n = strlen(s) + 1;
    char *fixed = malloc(n);
    if (!fixed)
        return false;
    make_utf8(s, fixed, n);
    const char *p = fixed;
    bool ok = dbus_message_iter_append_basic(it, DBUS_TYPE_STRING, &p);
    free(fixed);
    return ok;
}

bool wr_bus_append_results(DBusMessageIter *it, const struct jetsnap_result *r, size_t n)
{
    DBusMessageIter arr, st;
    if (!dbus_message_iter_open_container(it, DBUS_TYPE_ARRAY, "(sss)", &arr))
        return false;
    bool ok = true;
    for (size_t i = 0; ok && i < n; i++) {
        ok = dbus_message_iter_open_container(&arr, DBUS_TYPE_STRUCT, NULL, &st) &&
             wr_bus_append_str(&st, r[i].instance) && wr_bus_append_str(&st, r[i].state) &&
             wr_bus_append_str(&st, r[i].message) && dbus_message_iter_close_container(&arr, &st);
    }
    return dbus_message_iter_close_container(it, &arr) && ok;
}

/* Open one dict entry {key: variant of sig}; the caller appends the value to *var. */
static bool entry_open(DBusMessageIter *dict, const char *key, const char *sig, DBusMessageIter *ent,
                       DBusMessageIter *var)
{
    return dbus_message_iter_open_container(dict, DBUS_TYPE_DICT_ENTRY, NULL, ent) &&
           dbus_message_iter_append_basic(ent, DBUS_TYPE_STRING, &key) &&
           dbus_message_iter_open_container(ent, DBUS_TYPE_VARIANT, sig, var);
}

static bool entry_close(DBusMessageIter *dict, DBusMessageIter *ent, DBusMessageIter *var, bool ok)
{
    ok = dbus_message_iter_close_container(ent, var) && ok;
    return dbus_message_iter_close_container(dict, ent) && ok;
}

bool wr_bus_dict_str(DBusMessageIter *dict, const char *key, const char *val)
{
    DBusMessageIter ent, var;
    if (!entry_open(dict, key, "s", &ent, &var))
        return false;
    return entry_close(dict, &ent, &var, wr_bus_append_str(&var, val));
}

bool wr_bus_dict_u32(DBusMessageIter *dict, const char *key, uint32_t val)
{
    DBusMessageIter ent, var;
    dbus_uint32_t v = val;
    if (!entry_open(dict, key, "u", &ent, &var))
        return false;
    return entry_close(dict, &ent, &var, dbus_message_iter_append_basic(&var, DBUS_TYPE_UINT32, &v));
}

bool wr_bus_dict_u64(DBusMessageIter *dict, const char *key, uint64_t val)
{
    DBusMessageIter ent, var;
    dbus_uint64_t v = val;
    if (!entry_open(dict, key, "t", &ent, &var))
        return false;
    return entry_close(dict, &ent, &var, dbus_message_iter_append_basic(&var, DBUS_TYPE_UINT64, &v));
}

bool wr_bus_dict_path(DBusMessageIter *dict, const char *key, const char *path)
{
    DBusMessageIter ent, var;
    if (!entry_open(dict, key, "o", &ent, &var))
        return false;
    return entry_close(dict, &ent, &var, dbus_message_iter_append_basic(&var, DBUS_TYPE_OBJECT_PATH, &path));
}

/* Paths go out as bytes (ay): a file name need not be UTF-8. No terminating NUL, as is usual. */
bool wr_bus_dict_bytes(DBusMessageIter *dict, const char *key, const char *bytes)
{
    DBusMessageIter ent, var, arr;
    if (!entry_open(dict, key, "ay", &ent, &var))
        return false;
    bool ok = dbus_message_iter_open_container(&var, DBUS_TYPE_ARRAY, "y", &arr);
    if (ok) {
        const char *p = bytes ? bytes : "";
        ok = dbus_message_iter_append_fixed_array(&arr, DBUS_TYPE_BYTE, &p, (int)strlen(p));
        ok = dbus_message_iter_close_container(&var, &arr) && ok;
    }
    return entry_close(dict, &ent, &var, ok);
}

bool wr_bus_dict_strv(DBusMessageIter *dict, const char *key, const char *const *v, size_t n)
{
    DBusMessageIter ent, var, arr;
    if (!entry_open(dict, key, "as", &ent, &var))
        return false;
    bool ok = dbus_message_iter_open_container(&var, DBUS_TYPE_ARRAY, "s", &arr);
    for (size_t i = 0; ok && i < n; i++)
        ok = wr_bus_append_str(&arr, v[i]);
    ok = dbus_message_iter_close_container(&var, &arr) && ok;
    return entry_close(dict, &ent, &var, ok);
}

bool wr_bus_dict_bool(DBusMessageIter *dict, const char *key, bool val)
{
    DBusMessageIter ent, var;
    dbus_bool_t v = val;
    if (!entry_open(dict, key, "b", &ent, &var))
        return false;
    return entry_close(dict, &ent, &var, dbus_message_iter_append_basic(&var, DBUS_TYPE_BOOLEAN, &v));
}

bool wr_bus_dict_i32(DBusMessageIter *dict, const char *key, int32_t val)
{
    DBusMessageIter ent, var;
    dbus_int32_t v = val;
    if (!entry_open(dict, key, "i", &ent, &var))
        return false;
    return entry_close(dict, &ent, &var, dbus_message_iter_append_basic(&var, DBUS_TYPE_INT32, &v));
}

/* A list of paths as aay. */
bool wr_bus_dict_bytesv(DBusMessageIter *dict, const char *key, const char *const *v, size_t n)
{
    DBusMessageIter ent, var, arr;
    if (!entry_open(dict, key, "aay", &ent, &var))
        return false;
    bool ok = dbus_message_iter_open_container(&var, DBUS_TYPE_ARRAY, "ay", &arr);
    for (size_t i = 0; ok && i < n; i++)
        ok = wr_bus_append_bytes(&arr, v[i]);
    ok = dbus_message_iter_close_container(&var, &arr) && ok;
    return entry_close(dict, &ent, &var, ok);
}

bool wr_bus_append_bytes(DBusMessageIter *it, const char *bytes)
{
    DBusMessageIter arr;
    const char *p = bytes ? bytes : "";
    if (!dbus_message_iter_open_container(it, DBUS_TYPE_ARRAY, "y", &arr))
        return false;
    bool ok = dbus_message_iter_append_fixed_array(&arr, DBUS_TYPE_BYTE, &p, (int)strlen(p));
    return dbus_message_iter_close_container(it, &arr) && ok;
}

void wr_bus_session_path(uint32_t id, char *out, size_t n)
{
    snprintf(out, n, "%s/%u", WR_BUS_SESSIONS, id);
}

uint32_t wr_bus_session_id(const char *path)
{
    static const char prefix[] = WR_BUS_SESSIONS "/";
    if (!path || strncmp(path, prefix, sizeof prefix - 1) != 0)
        return 0;
    const char *p = path + sizeof prefix - 1;
    if (*p < '1' || *p > '9') /* no leading zero: one path per session */
        return 0;
    uint64_t v = 0;
    for (; *p; p++) {
        if (*p < '0' || *p > '9')
            return 0;
        v = v * 10 + (uint64_t)(*p - '0');
        if (v > UINT32_MAX)
            return 0;
    }
    return (uint32_t)v;
}

const char *wr_bus_err_name(JET_ERR e)
{
    const char *n = e ? wr_jet_err_name(e) : NULL;
    return n ? n : e ? "JET_err" : "";
}

/* Copy s into out, replacing each byte that does not start valid UTF-8 with '?'. */
static void make_utf8(const char *s, char *out, size_t n)
{
    size_t o = 0;
    const unsigned char *p = (const unsigned char *)s;
    while (*p && o + 1 < n) {
        size_t len = *p < 0x80 ? 1 : (*p & 0xe0) == 0xc0 ? 2 : (*p & 0xf0) == 0xe0 ? 3 : (*p & 0xf8) == 0xf0 ? 4 : 0;
        char tmp[5] = {0};
        bool ok = len > 0 && o + len < n;
        for (size_t k = 0; ok && k < len; k++) {
            ok = p[k] != 0 && (k == 0 || (p[k] & 0xc0) == 0x80);
            tmp[k] = (char)p[k];
        }
        if (ok && len > 1)
            ok = dbus_validate_utf8(tmp, NULL); /* overlong forms, surrogates, > U+10FFFF */
        if (ok) {
            memcpy(out + o, p, len);
            o += len;
            p += len;
        } else {
            out[o++] = '?';
            p++;
        }
    }
    out[o] = '\0';
}
