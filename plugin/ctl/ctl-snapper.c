/*
 * ctl-snapper.c — jetsnapctl snapshot --snapper: the client of snapperd, org.opensuse.Snapper on
 * the system bus. Snapper 0.10.4 runs its plugins only after a snapshot is taken, so it cannot
 * quiesce an application itself; ctl-snapshot.c freezes the writer around CreateSingleSnapshot
 * instead, and this file records the freeze in the snapshot's userdata.
 *
 * The connection is to the system bus whatever bus the writer is on (--address, --session):
 * snapperd only serves the system bus, and libdbus honours DBUS_SYSTEM_BUS_ADDRESS for it.
 */
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl-int.h"

#define SNAPPER_NAME "org.opensuse.Snapper"
#define SNAPPER_PATH "/org/opensuse/Snapper"
#define SNAPPER_IFACE "org.opensuse.Snapper"

static DBusMessage *call(struct ctl_snapper *sn, DBusMessage *m, const char *step);
static DBusMessage *new_call(const char *method);
static bool append_userdata(DBusMessageIter *it, const struct ctl_snapper *sn, const struct ctl_session *s,
                            bool with_frozen);
static void instance_list(const struct ctl_session *s, char *out, size_t n);
static const char *sentence(const char *name);

int ctl_snapper_open(struct ctl_snapper *sn, const struct ctl_opts *o)
{
    memset(sn, 0, sizeof *sn);
    sn->o = o;
    dbus_error_init(&sn->err);
    sn->c = dbus_bus_get_private(DBUS_BUS_SYSTEM, &sn->err);
    if (!sn->c) {
        sn->step = "connecting to the system bus";
        return CTL_EXIT_SNAPPER;
    }
    dbus_connection_set_exit_on_disconnect(sn->c, FALSE);
    /* Before any freeze: a missing config or snapperd costs nothing, and a bus-activated snapperd
     * starts now rather than while the instances wait. */
    DBusMessage *m = new_call("GetConfig");
    if (m && !dbus_message_append_args(m, DBUS_TYPE_STRING, &o->snapper_config, DBUS_TYPE_INVALID)) {
        dbus_message_unref(m);
        m = NULL;
    }
    DBusMessage *r = call(sn, m, "GetConfig");
    if (!r)
        return CTL_EXIT_SNAPPER;
    DBusMessageIter it, st;
    const char *subvol = NULL;
    if (dbus_message_iter_init(r, &it) && dbus_message_iter_get_arg_type(&it) == DBUS_TYPE_STRUCT) {
        dbus_message_iter_recurse(&it, &st);
        if (dbus_message_iter_next(&st) && dbus_message_iter_get_arg_type(&st) == DBUS_TYPE_STRING)
            dbus_message_iter_get_basic(&st, &subvol);
    }
    if (!subvol) {
        dbus_set_error(&sn->err, DBUS_ERROR_INVALID_SIGNATURE, "GetConfig answered %s, not (ssa{ss})",
                       dbus_message_get_signature(r));
        sn->step = "GetConfig";
        dbus_message_unref(r);
        return CTL_EXIT_SNAPPER;
    }
    snprintf(sn->subvolume, sizeof sn->subvolume, "%s", subvol);
    dbus_message_unref(r);
    return CTL_EXIT_OK;
}

bool ctl_snapper_create(struct ctl_snapper *sn, const struct ctl_session *s)
{
    const struct ctl_opts *o = sn->o;
    DBusMessage *m = new_call("CreateSingleSnapshot");
    DBusMessageIter it;
    if (m) {
        dbus_message_iter_init_append(m, &it);
        if (!dbus_message_iter_append_basic(&it, DBUS_TYPE_STRING, &o->snapper_config) ||
            !dbus_message_iter_append_basic(&it, DBUS_TYPE_STRING, &o->description) ||
            !dbus_message_iter_append_basic(&it, DBUS_TYPE_STRING, &o->cleanup) ||
            !append_userdata(&it, sn, s, false)) {
            dbus_message_unref(m);
            m = NULL;
        }
    }
    DBusMessage *r = call(sn, m, "CreateSingleSnapshot");
    if (!r)
        return false;
    dbus_uint32_t n = 0;
    if (!dbus_message_get_args(r, &sn->err, DBUS_TYPE_UINT32, &n, DBUS_TYPE_INVALID) || n == 0) {
        if (!dbus_error_is_set(&sn->err))
            dbus_set_error(&sn->err, DBUS_ERROR_INVALID_ARGS, "CreateSingleSnapshot answered snapshot 0");
        sn->step = "CreateSingleSnapshot's reply";
        dbus_message_unref(r);
        return false;
    }
    sn->number = n;
    dbus_message_unref(r);
    return true;
}

bool ctl_snapper_record(struct ctl_snapper *sn, const struct ctl_session *s)
{
    const struct ctl_opts *o = sn->o;
    /* SetSnapshot replaces description, cleanup and userdata all at once: send them all again. */
    DBusMessage *m = new_call("SetSnapshot");
    DBusMessageIter it;
    dbus_uint32_t n = sn->number;
    if (m) {
        dbus_message_iter_init_append(m, &it);
        if (!dbus_message_iter_append_basic(&it, DBUS_TYPE_STRING, &o->snapper_config) ||
            !dbus_message_iter_append_basic(&it, DBUS_TYPE_UINT32, &n) ||
            !dbus_message_iter_append_basic(&it, DBUS_TYPE_STRING, &o->description) ||
            !dbus_message_iter_append_basic(&it, DBUS_TYPE_STRING, &o->cleanup) ||
            !append_userdata(&it, sn, s, true)) {
            dbus_message_unref(m);
            m = NULL;
        }
    }
    DBusMessage *r = call(sn, m, "SetSnapshot");
    if (!r)
        return false;
    dbus_message_unref(r);
    return true;
}

void ctl_snapper_discard(struct ctl_snapper *sn)
{
    if (!sn->number)
        return;
    const struct ctl_opts *o = sn->o;
    DBusMessage *m = new_call("DeleteSnapshots");
    DBusMessageIter it, a;
    dbus_uint32_t n = sn->number;
    if (m) {
        dbus_message_iter_init_append(m, &it);
        if (!dbus_message_iter_append_basic(&it, DBUS_TYPE_STRING, &o->snapper_config) ||
            !dbus_message_iter_open_container(&it, DBUS_TYPE_ARRAY, "u", &a) ||
            !dbus_message_iter_append_basic(&a, DBUS_TYPE_UINT32, &n) || !dbus_message_iter_close_container(&it, &a)) {
            dbus_message_unref(m);
            m = NULL;
        }
    }
    /* Its own error: the failure that led here stays the one reported first. */
    DBusError err;
    dbus_error_init(&err);
    DBusMessage *r = ctl_send(sn->c, m, o->timeout_ms, &err);
    if (r) {
        dbus_message_unref(r);
        ctl_err("snapper snapshot %u of config '%s' deleted: it is not known to be consistent", sn->number,
                o->snapper_config);
    } else {
        ctl_err("snapper snapshot %u of config '%s' is not known to be consistent, and deleting it failed "
                "(%s: %s): delete it (snapper -c %s delete %u)",
                sn->number, o->snapper_config, err.name, err.message ? err.message : "", o->snapper_config,
                sn->number);
        dbus_error_free(&err);
    }
    sn->number = 0;
}

bool ctl_snapper_report(const struct ctl_snapper *sn, const struct ctl_session *s)
{
    const struct ctl_opts *o = sn->o;
    if (!o->json) {
        printf("%u\n", sn->number);
        return fflush(stdout) == 0;
    }
    json_object *top = json_object_new_object(), *inst = json_object_new_array();
    if (!top || !inst) {
        json_object_put(top);
        json_object_put(inst);
        return false;
    }
    json_object_object_add(top, "snapper_config", json_object_new_string(o->snapper_config));
    json_object_object_add(top, "subvolume", json_object_new_string(sn->subvolume));
    json_object_object_add(top, "snapshot", json_object_new_int64(sn->number));
    json_object_object_add(top, "description", json_object_new_string(o->description));
    json_object_object_add(top, "cleanup", json_object_new_string(o->cleanup));
    json_object_object_add(top, "bus_name", json_object_new_string(o->bus_name));
    json_object_object_add(top, "session", json_object_new_string(s->path));
    json_object_object_add(top, "backup_type", json_object_new_string(o->type));
    for (size_t i = 0; i < s->n_frozen; i++)
        json_object_array_add(inst, json_object_new_string(s->frozen[i].instance));
    json_object_object_add(top, "instances", inst);
    json_object_object_add(top, "frozen_usec", json_object_new_int64((int64_t)s->frozen_usec));
    json_object_object_add(top, "frozen_at_usec", json_object_new_int64((int64_t)s->frozen_at_usec));
    json_object_object_add(top, "thaw_at_usec", json_object_new_int64((int64_t)s->thaw_at_usec));
    puts(json_object_to_json_string_ext(top, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE));
    json_object_put(top);
    return fflush(stdout) == 0;
}

void ctl_snapper_describe(const struct ctl_snapper *sn, char *out, size_t n)
{
    const char *step = sn->step ? sn->step : "?";
    if (!dbus_error_is_set(&sn->err)) {
        snprintf(out, n, "snapper: %s failed", step);
        return;
    }
    const char *name = sn->err.name, *msg = sn->err.message ? sn->err.message : "";
    const char *what = sentence(name);
    if (what)
        snprintf(out, n, "snapper: %s of config '%s': %s (%s: %s)", step, sn->o->snapper_config, what, name, msg);
    else if (ctl_unreachable(&sn->err))
        snprintf(out, n, "snapper: %s: %s: %s\njetsnapctl: snapperd (%s) cannot be reached on the system bus%s%s "
                 "(is snapper installed?)",
                 step, name, msg, SNAPPER_NAME, getenv("DBUS_SYSTEM_BUS_ADDRESS") ? " at " : "",
                 getenv("DBUS_SYSTEM_BUS_ADDRESS") ? getenv("DBUS_SYSTEM_BUS_ADDRESS") : "");
    else
        snprintf(out, n, "snapper: %s of config '%s': %s: %s", step, sn->o->snapper_config, name, msg);
}

void ctl_snapper_close(struct ctl_snapper *sn)
{
    ctl_disconnect(sn->c);
    dbus_error_free(&sn->err);
    memset(sn, 0, sizeof *sn);
}

static DBusMessage *call(struct ctl_snapper *sn, DBusMessage *m, const char *step)
{
    dbus_error_free(&sn->err);
    DBusMessage *r = ctl_send(sn->c, m, sn->o->timeout_ms, &sn->err);
    if (!r)
        sn->step = step;
    return r;
}

static DBusMessage *new_call(const char *method)
{
    DBusMessage *m = dbus_message_new_method_call(SNAPPER_NAME, SNAPPER_PATH, SNAPPER_IFACE, method);
    if (!m)
        ctl_err("out of memory");
    return m;
}

/* Snapper refuses ',' and '=' in userdata values; session paths, bus names, types and the
 * instance names jetsnap.conf allows hold neither. */
static bool append_userdata(DBusMessageIter *it, const struct ctl_snapper *sn, const struct ctl_session *s,
                            bool with_frozen)
{
    char names[1024], usec[32];
    instance_list(s, names, sizeof names);
    snprintf(usec, sizeof usec, "%llu", (unsigned long long)s->frozen_usec);
    const char *kv[][2] = {
        {"jetsnap-writer", sn->o->bus_name}, {"jetsnap-session", s->path},      {"jetsnap-type", sn->o->type},
        {"jetsnap-instances", names},        {"jetsnap-frozen-usec", usec},
    };
    size_t n = sizeof kv / sizeof kv[0] - (with_frozen ? 0 : 1);
    DBusMessageIter a, e;
    if (!dbus_message_iter_open_container(it, DBUS_TYPE_ARRAY, "{ss}", &a))
        return false;
    for (size_t i = 0; i < n; i++) {
        const char *k = kv[i][0], *v = kv[i][1];
        if (!dbus_message_iter_open_container(&a, DBUS_TYPE_DICT_ENTRY, NULL, &e) ||
            !dbus_message_iter_append_basic(&e, DBUS_TYPE_STRING, &k) ||
            !dbus_message_iter_append_basic(&e, DBUS_TYPE_STRING, &v) || !dbus_message_iter_close_container(&a, &e)) {
            dbus_message_iter_abandon_container(it, &a);
            return false;
        }
    }
    return dbus_message_iter_close_container(it, &a);
}

/* "mail dir log": blanks, because snapper refuses commas in a value. */
static void instance_list(const struct ctl_session *s, char *out, size_t n)
{
    size_t len = 0;
    out[0] = 0;
    for (size_t i = 0; i < s->n_frozen && len < n; i++) {
        int w = snprintf(out + len, n - len, "%s%s", i ? " " : "", s->frozen[i].instance);
        if (w < 0 || (size_t)w >= n - len) {
            /* Cut at a whole name: a partial one would name an instance that does not exist. */
            out[len] = 0;
            break;
        }
        len += (size_t)w;
    }
}

/* Snapper's error names (its server code), whose messages are a bare DBus.Error.Failed. */
static const char *sentence(const char *name)
{
    static const char *const known[][2] = {
        {"error.unknown_config", "snapper has no such config (snapper list-configs)"},
        {"error.no_permissions", "this user may not use the config (its ALLOW_USERS and ALLOW_GROUPS)"},
        {"error.invalid_userdata", "snapper refused the userdata (no ',' or '=' in a value)"},
        {"error.invalid_configdata", "snapper refused the config's data"},
        {"error.illegal_snapshot", "snapper has no such snapshot"},
        {"error.create_snapshot_failed", "snapper could not create the snapshot"},
        {"error.delete_snapshot_failed", "snapper could not delete the snapshot"},
        {"error.config_locked", "the config is locked by another snapper client"},
        {"error.config_in_use", "the config is in use by another snapper client"},
        {"error.snapshot_in_use", "the snapshot is in use"},
        {"error.io_error", "snapper met an I/O error"},
    };
    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
        if (strcmp(name, known[i][0]) == 0)
            return known[i][1];
    return NULL;
}
