/*
 * ctl-status.c — jetsnapctl status: the writer's state, its session and its instances.
 * The facts are gathered once into a json-c tree and both formats are printed from it, so the
 * text and --json never disagree about what they show.
 */
#include <errno.h>
#include <json-c/json.h>
#include <stdio.h>
#include <string.h>

#include "ctl-int.h"

static int gather(DBusConnection *c, const struct ctl_opts *o, json_object *top);
static int gather_writer_props(DBusConnection *c, const struct ctl_opts *o, json_object *top);
static void gather_session(DBusConnection *c, const struct ctl_opts *o, const char *path, json_object *top);
static json_object *strv_to_json(const DBusMessageIter *dict, const char *key);
static void print_text(json_object *top);
static const char *jstr(json_object *o, const char *key);
static uint64_t jnum(json_object *o, const char *key);
static int fail(const struct ctl_opts *o, const char *what, DBusError *err);

int ctl_status(const struct ctl_opts *o)
{
    DBusError err;
    dbus_error_init(&err);
    DBusConnection *c = ctl_connect(o, &err);
    if (!c) {
        ctl_print_error(o, "cannot connect to the bus", &err);
        dbus_error_free(&err);
        return CTL_EXIT_UNREACHABLE;
    }
    json_object *top = json_object_new_object();
    if (!top) {
        ctl_disconnect(c);
        ctl_err("out of memory");
        return CTL_EXIT_FAILURE;
    }
    int rc = gather(c, o, top);
    ctl_disconnect(c);
    if (rc == CTL_EXIT_OK) {
        if (o->json)
            puts(json_object_to_json_string_ext(top, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE));
        else
            print_text(top);
        if (fflush(stdout) != 0) {
            ctl_err("cannot write the status: %s", strerror(errno));
            rc = CTL_EXIT_FAILURE;
        }
    }
    json_object_put(top);
    return rc;
}

/* GetStatus first: its state and per-instance list are one consistent picture; the properties and
 * the session are read after it and may be a moment newer. */
static int gather(DBusConnection *c, const struct ctl_opts *o, json_object *top)
{
    DBusError err;
    dbus_error_init(&err);
    DBusMessage *r = ctl_send(c, ctl_writer_call(o, CTL_ROOT, CTL_IFACE_WRITER, "GetStatus"), o->timeout_ms, &err);
    if (!r)
        return fail(o, "GetStatus", &err);
    DBusMessageIter it, a, s;
    const char *state;
    if (!dbus_message_iter_init(r, &it) || dbus_message_iter_get_arg_type(&it) != DBUS_TYPE_STRING) {
        ctl_err("GetStatus answered %s, not (sa(ssss))", dbus_message_get_signature(r));
        dbus_message_unref(r);
        return CTL_EXIT_FAILURE;
    }
    dbus_message_iter_get_basic(&it, &state);
    json_object_object_add(top, "bus_name", json_object_new_string(o->bus_name));
    json_object_object_add(top, "state", json_object_new_string(state));
    json_object *inst = json_object_new_array();
    if (dbus_message_iter_next(&it) && dbus_message_iter_get_arg_type(&it) == DBUS_TYPE_ARRAY) {
        dbus_message_iter_recurse(&it, &a);
        for (; dbus_message_iter_get_arg_type(&a) == DBUS_TYPE_STRUCT; dbus_message_iter_next(&a)) {
            static const char *const keys[4] = {"id", "state", "last_error", "message"};
            json_object *e = json_object_new_object();
            dbus_message_iter_recurse(&a, &s);
            for (int i = 0; i < 4; i++) {
                const char *v = "";
                if (dbus_message_iter_get_arg_type(&s) == DBUS_TYPE_STRING)
                    dbus_message_iter_get_basic(&s, &v);
                json_object_object_add(e, keys[i], json_object_new_string(v));
                dbus_message_iter_next(&s);
            }
            json_object_array_add(inst, e);
        }
    }
    dbus_message_unref(r);
    int rc = gather_writer_props(c, o, top);
    json_object_object_add(top, "instances", inst);
    return rc;
}

static int gather_writer_props(DBusConnection *c, const struct ctl_opts *o, json_object *top)
{
    DBusError err;
    dbus_error_init(&err);
    DBusMessageIter d;
    DBusMessage *r = ctl_get_all(c, o, CTL_ROOT, CTL_IFACE_WRITER, &d, &err);
    if (!r)
        return fail(o, "reading the writer's properties", &err);
    json_object_object_add(top, "writer_id", json_object_new_string(ctl_dict_str(&d, "WriterId", "")));
    json_object_object_add(top, "interface_version", json_object_new_int64(ctl_dict_u32(&d, "InterfaceVersion", 0)));
    json_object_object_add(top, "freeze_owner", json_object_new_string(ctl_dict_str(&d, "FreezeOwner", "")));
    json_object_object_add(top, "freeze_timeout_msec",
                           json_object_new_int64(ctl_dict_u32(&d, "FreezeTimeoutMsec", 0)));
    json_object_object_add(top, "quiesce_timeout_msec",
                           json_object_new_int64(ctl_dict_u32(&d, "QuiesceTimeoutMsec", 0)));
    json_object_object_add(top, "supported_backup_types", strv_to_json(&d, "SupportedBackupTypes"));
    const char *session = ctl_dict_str(&d, "ActiveSession", "/");
    if (strcmp(session, "/") == 0)
        json_object_object_add(top, "session", NULL);
    else
        gather_session(c, o, session, top);
    dbus_message_unref(r);
    return CTL_EXIT_OK;
}

/* The session may end between reading ActiveSession and reading it: then only its path is shown. */
static void gather_session(DBusConnection *c, const struct ctl_opts *o, const char *path, json_object *top)
{
    json_object *s = json_object_new_object();
    json_object_object_add(top, "session", s);
    json_object_object_add(s, "path", json_object_new_string(path));
    DBusError err;
    dbus_error_init(&err);
    DBusMessageIter d;
    DBusMessage *r = ctl_get_all(c, o, path, CTL_IFACE_SESSION, &d, &err);
    if (!r) {
        dbus_error_free(&err);
        return;
    }
    json_object_object_add(s, "id", json_object_new_int64(ctl_dict_u32(&d, "Id", 0)));
    json_object_object_add(s, "state", json_object_new_string(ctl_dict_str(&d, "State", "")));
    json_object_object_add(s, "owner", json_object_new_string(ctl_dict_str(&d, "Owner", "")));
    json_object_object_add(s, "backup_type", json_object_new_string(ctl_dict_str(&d, "BackupType", "")));
    json_object_object_add(s, "instances", strv_to_json(&d, "Instances"));
    json_object_object_add(s, "frozen_usec", json_object_new_uint64(ctl_dict_u64(&d, "FrozenUsec", 0)));
    dbus_message_unref(r);
}

static json_object *strv_to_json(const DBusMessageIter *dict, const char *key)
{
    json_object *arr = json_object_new_array();
    DBusMessageIter v, e;
    if (!ctl_dict_lookup(dict, key, DBUS_TYPE_ARRAY, &v) || dbus_message_iter_get_element_type(&v) != DBUS_TYPE_STRING)
        return arr;
    dbus_message_iter_recurse(&v, &e);
    for (; dbus_message_iter_get_arg_type(&e) == DBUS_TYPE_STRING; dbus_message_iter_next(&e)) {
        const char *s;
        dbus_message_iter_get_basic(&e, &s);
        json_object_array_add(arr, json_object_new_string(s));
    }
    return arr;
}

static void print_text(json_object *top)
{
    printf("writer %s: %s\n", jstr(top, "bus_name"), jstr(top, "state"));
    const char *owner = jstr(top, "freeze_owner");
    printf("  owner: %s\n", owner[0] ? owner : "none");
    json_object *s;
    if (json_object_object_get_ex(top, "session", &s) && s) {
        printf("  session: %s", jstr(s, "path"));
        const char *st = jstr(s, "state");
        if (st[0]) {
            char ms[32];
            printf(" (%s, %s", st, jstr(s, "backup_type"));
            if (jnum(s, "frozen_usec")) {
                ctl_format_ms(jnum(s, "frozen_usec"), ms, sizeof ms);
                printf(", frozen for %s ms of at most %llu", ms, (unsigned long long)jnum(top, "freeze_timeout_msec"));
            }
            printf(")");
        }
        printf("\n");
    } else {
        printf("  session: none\n");
    }
    json_object *inst;
    json_object_object_get_ex(top, "instances", &inst);
    size_t n = json_object_array_length(inst);
    int wid = 8, wst = 5, werr = 10;
    for (size_t i = 0; i < n; i++) {
        json_object *e = json_object_array_get_idx(inst, i);
        int l;
        if ((l = (int)strlen(jstr(e, "id"))) > wid)
            wid = l;
        if ((l = (int)strlen(jstr(e, "state"))) > wst)
            wst = l;
        if ((l = (int)strlen(jstr(e, "last_error"))) > werr)
            werr = l;
    }
    printf("  %-*s  %-*s  %-*s  %s\n", wid, "INSTANCE", wst, "STATE", werr, "LAST ERROR", "MESSAGE");
    for (size_t i = 0; i < n; i++) {
        json_object *e = json_object_array_get_idx(inst, i);
        const char *le = jstr(e, "last_error");
        printf("  %-*s  %-*s  %-*s  %s\n", wid, jstr(e, "id"), wst, jstr(e, "state"), werr, le[0] ? le : "-",
               jstr(e, "message"));
    }
}

static const char *jstr(json_object *o, const char *key)
{
    json_object *v;
    return json_object_object_get_ex(o, key, &v) && json_object_is_type(v, json_type_string) ? json_object_get_string(v)
                                                                                             : "";
}

static uint64_t jnum(json_object *o, const char *key)
{
    json_object *v;
    return json_object_object_get_ex(o, key, &v) ? json_object_get_uint64(v) : 0;
}

static int fail(const struct ctl_opts *o, const char *what, DBusError *err)
{
    ctl_print_error(o, what, err);
    int rc = ctl_unreachable(err) ? CTL_EXIT_UNREACHABLE : CTL_EXIT_FAILURE;
    dbus_error_free(err);
    return rc;
}
