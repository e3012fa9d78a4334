/*
 * ctl-bus.c — jetsnapctl's D-Bus plumbing: the connection, calls with a bounded wait, reading
 * replies, and turning errors into messages and exit codes.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl-int.h"

DBusConnection *ctl_connect(const struct ctl_opts *o, DBusError *err)
{
    DBusConnection *c;
    /* Private connections: the holder must own the one that owns the freeze, and nothing else in
     * the process may close a shared one behind our back. */
    if (o->bus == CTL_BUS_ADDRESS) {
        c = dbus_connection_open_private(o->address, err);
        if (c && !dbus_bus_register(c, err)) {
            ctl_disconnect(c);
            c = NULL;
        }
    } else {
        c = dbus_bus_get_private(o->bus == CTL_BUS_SESSION ? DBUS_BUS_SESSION : DBUS_BUS_SYSTEM, err);
    }
    if (c)
        dbus_connection_set_exit_on_disconnect(c, FALSE);
    return c;
}

void ctl_disconnect(DBusConnection *c)
{
    if (!c)
        return;
    dbus_connection_flush(c);
    dbus_connection_close(c);
    dbus_connection_unref(c);
}

DBusMessage *ctl_writer_call(const struct ctl_opts *o, const char *path, const char *iface, const char *method)
{
    DBusMessage *m = dbus_message_new_method_call(o->bus_name, path, iface, method);
    if (!m)
        ctl_err("out of memory");
    return m;
}

DBusMessage *ctl_send(DBusConnection *c, DBusMessage *m, int timeout_ms, DBusError *err)
{
    if (!m) {
        dbus_set_error_const(err, DBUS_ERROR_NO_MEMORY, "out of memory");
        return NULL;
    }
    DBusMessage *r = dbus_connection_send_with_reply_and_block(c, m, timeout_ms, err);
    dbus_message_unref(m);
    return r;
}

bool ctl_append_empty_dict(DBusMessageIter *it)
{
    DBusMessageIter d;
    return dbus_message_iter_open_container(it, DBUS_TYPE_ARRAY, "{sv}", &d) &&
           dbus_message_iter_close_container(it, &d);
}

bool ctl_append_strv(DBusMessageIter *it, const char *const *v, size_t n)
{
    DBusMessageIter a;
    if (!dbus_message_iter_open_container(it, DBUS_TYPE_ARRAY, "s", &a))
        return false;
    for (size_t i = 0; i < n; i++)
        if (!dbus_message_iter_append_basic(&a, DBUS_TYPE_STRING, &v[i])) {
            dbus_message_iter_abandon_container(it, &a);
            return false;
        }
    return dbus_message_iter_close_container(it, &a);
}

bool ctl_read_results(DBusMessageIter *it, struct ctl_result **pv, size_t *pn)
{
    *pv = NULL;
    *pn = 0;
    if (dbus_message_iter_get_arg_type(it) != DBUS_TYPE_ARRAY ||
        dbus_message_iter_get_element_type(it) != DBUS_TYPE_STRUCT)
        return false;
    DBusMessageIter a;
    dbus_message_iter_recurse(it, &a);
    size_t cap = 0;
    while (dbus_message_iter_get_arg_type(&a) == DBUS_TYPE_STRUCT) {
        DBusMessageIter s;
        const char *f[3];
        dbus_message_iter_recurse(&a, &s);
        for (int i = 0; i < 3; i++) {
            if (dbus_message_iter_get_arg_type(&s) != DBUS_TYPE_STRING) {
                free(*pv);
                *pv = NULL;
                *pn = 0;
                return false;
            }
            dbus_message_iter_get_basic(&s, &f[i]);
            dbus_message_iter_next(&s);
        }
        if (*pn == cap) {
            cap = cap ? cap * 2 : 8;
            struct ctl_result *v = realloc(*pv, cap * sizeof *v);
            if (!v) {
                free(*pv);
                *pv = NULL;
                *pn = 0;
                return false;
            }
            *pv = v;
        }
        (*pv)[(*pn)++] = (struct ctl_result){f[0], f[1], f[2]};
        dbus_message_iter_next(&a);
    }
    return true;
}

DBusMessage *ctl_get_all(DBusConnection *c, const struct ctl_opts *o, const char *path, const char *iface,
                         DBusMessageIter *dict, DBusError *err)
{
    DBusMessage *m = ctl_writer_call(o, path, DBUS_INTERFACE_PROPERTIES, "GetAll");
    if (m && !dbus_message_append_args(m, DBUS_TYPE_STRING, &iface, DBUS_TYPE_INVALID)) {
        dbus_message_unref(m);
        m = NULL;
    }
    DBusMessage *r = ctl_send(c, m, o->timeout_ms, err);
    if (!r)
        return NULL;
    if (!dbus_message_iter_init(r, dict) || dbus_message_iter_get_arg_type(dict) != DBUS_TYPE_ARRAY) {
        dbus_set_error(err, DBUS_ERROR_INVALID_SIGNATURE, "GetAll of %s answered %s, not a{sv}", path,
                       dbus_message_get_signature(r));
        dbus_message_unref(r);
        return NULL;
    }
    return r;
}

DBusMessage *ctl_get(DBusConnection *c, const struct ctl_opts *o, const char *path, const char *iface,
                     const char *name, DBusMessageIter *val, DBusError *err)
{
    DBusMessage *m = ctl_writer_call(o, path, DBUS_INTERFACE_PROPERTIES, "Get");
    if (m && !dbus_message_append_args(m, DBUS_TYPE_STRING, &iface, DBUS_TYPE_STRING, &name, DBUS_TYPE_INVALID)) {
        dbus_message_unref(m);
        m = NULL;
    }
    DBusMessage *r = ctl_send(c, m, o->timeout_ms, err);
    if (!r)
        return NULL;
    DBusMessageIter it;
    if (!dbus_message_iter_init(r, &it) || dbus_message_iter_get_arg_type(&it) != DBUS_TYPE_VARIANT) {
        dbus_set_error(err, DBUS_ERROR_INVALID_SIGNATURE, "Get of %s answered %s, not v", name,
                       dbus_message_get_signature(r));
        dbus_message_unref(r);
        return NULL;
    }
    dbus_message_iter_recurse(&it, val);
    return r;
}

bool ctl_dict_lookup(const DBusMessageIter *dict, const char *key, int dbus_type, DBusMessageIter *val)
{
    DBusMessageIter a = *dict, e, k;
    if (dbus_message_iter_get_arg_type(&a) != DBUS_TYPE_ARRAY)
        return false;
    DBusMessageIter d;
    dbus_message_iter_recurse(&a, &d);
    for (; dbus_message_iter_get_arg_type(&d) == DBUS_TYPE_DICT_ENTRY; dbus_message_iter_next(&d)) {
        dbus_message_iter_recurse(&d, &e);
        k = e;
        if (dbus_message_iter_get_arg_type(&k) != DBUS_TYPE_STRING)
            continue;
        const char *name;
        dbus_message_iter_get_basic(&k, &name);
        if (strcmp(name, key) != 0 || !dbus_message_iter_next(&e) ||
            dbus_message_iter_get_arg_type(&e) != DBUS_TYPE_VARIANT)
            continue;
        dbus_message_iter_recurse(&e, val);
        return dbus_message_iter_get_arg_type(val) == dbus_type;
    }
    return false;
}

const char *ctl_dict_str(const DBusMessageIter *dict, const char *key, const char *dflt)
{
    DBusMessageIter v;
    const char *s = dflt;
    if (ctl_dict_lookup(dict, key, DBUS_TYPE_STRING, &v) || ctl_dict_lookup(dict, key, DBUS_TYPE_OBJECT_PATH, &v))
        dbus_message_iter_get_basic(&v, &s);
    return s;
}

uint64_t ctl_dict_u64(const DBusMessageIter *dict, const char *key, uint64_t dflt)
{
    DBusMessageIter v;
    dbus_uint64_t x = dflt;
    if (ctl_dict_lookup(dict, key, DBUS_TYPE_UINT64, &v))
        dbus_message_iter_get_basic(&v, &x);
    return x;
}

uint32_t ctl_dict_u32(const DBusMessageIter *dict, const char *key, uint32_t dflt)
{
    DBusMessageIter v;
    dbus_uint32_t x = dflt;
    if (ctl_dict_lookup(dict, key, DBUS_TYPE_UINT32, &v))
        dbus_message_iter_get_basic(&v, &x);
    return x;
}

bool ctl_unreachable(const DBusError *err)
{
    static const char *const names[] = {
        DBUS_ERROR_SERVICE_UNKNOWN, DBUS_ERROR_NAME_HAS_NO_OWNER, DBUS_ERROR_NO_REPLY,  DBUS_ERROR_TIMEOUT,
        DBUS_ERROR_NO_SERVER,       DBUS_ERROR_DISCONNECTED,      DBUS_ERROR_BAD_ADDRESS, DBUS_ERROR_FILE_NOT_FOUND,
        DBUS_ERROR_NO_NETWORK,      DBUS_ERROR_SPAWN_FAILED,      DBUS_ERROR_TIMED_OUT, DBUS_ERROR_IO_ERROR,
    };
    if (!dbus_error_is_set(err))
        return false;
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (strcmp(err->name, names[i]) == 0)
            return true;
    return false;
}

void ctl_print_error(const struct ctl_opts *o, const char *what, const DBusError *err)
{
    char text[2048];
    ctl_format_error(o, what, err, text, sizeof text);
    fprintf(stderr, "jetsnapctl: %s\n", text);
}

void ctl_format_error(const struct ctl_opts *o, const char *what, const DBusError *err, char *out, size_t n)
{
    int len = snprintf(out, n, "%s: %s: %s", what, ctl_error_short(err->name), err->message ? err->message : "");
    if (len < 0 || (size_t)len >= n)
        return;
    out += len;
    n -= (size_t)len;
    if (strcmp(err->name, DBUS_ERROR_SERVICE_UNKNOWN) == 0 || strcmp(err->name, DBUS_ERROR_NAME_HAS_NO_OWNER) == 0)
        snprintf(out, n, "\njetsnapctl: no writer runs as %s on %s%s (see --bus-name, --system, --session, --address)",
                 o->bus_name, o->bus == CTL_BUS_SYSTEM    ? "the system bus"
                              : o->bus == CTL_BUS_SESSION ? "the session bus"
                                                          : "the bus at ",
                 o->bus == CTL_BUS_ADDRESS ? o->address : "");
    else if (strcmp(err->name, DBUS_ERROR_NO_REPLY) == 0)
        snprintf(out, n, "\njetsnapctl: no answer within the time allowed (--timeout %d ms)", o->timeout_ms);
}

const char *ctl_error_short(const char *name)
{
    size_t n = strlen(CTL_ERR_PREFIX);
    return strncmp(name, CTL_ERR_PREFIX, n) == 0 ? name + n : name;
}

void ctl_format_ms(uint64_t usec, char *out, size_t n)
{
    snprintf(out, n, "%llu.%llu", (unsigned long long)(usec / 1000), (unsigned long long)(usec % 1000 / 100));
}

void ctl_print_result_messages(const struct ctl_result *r, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (r[i].message[0])
            fprintf(stderr, "jetsnapctl:   %s (%s): %s\n", r[i].instance, r[i].state, r[i].message);
}

void ctl_join_instances(const struct ctl_result *r, size_t n, char *out, size_t cap)
{
    size_t len = 0;
    out[0] = 0;
    for (size_t i = 0; i < n && len < cap; i++) {
        int w = snprintf(out + len, cap - len, "%s%s", i ? ", " : "", r[i].instance);
        if (w < 0)
            break;
        len += (size_t)w;
    }
    if (len >= cap && cap >= 4)
        strcpy(out + cap - 4, "...");
}

void ctl_err(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("jetsnapctl: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}
