/*
 * bus-objects.c — the writer's object tree on D-Bus (bus-int.h), answered on the loop thread:
 *
 *   /org/jetsnap/Writer1                    Writer, ObjectManager, Properties, Introspectable
 *   /org/jetsnap/Writer1/instance/<escaped> Instance, Properties, Introspectable
 *   /org/jetsnap/Writer1/session/<n>        Session, Properties, Introspectable
 *
 * plus Introspect on every ancestor so that `busctl tree` and `gdbus introspect --recurse` find
 * them (org.freedesktop.DBus.Peer is answered by libdbus itself). Every method's signature is
 * checked here; the state-changing ones then go to the workers (bus-calls.c). Introspect returns
 * the interfaces of org.jetsnap.Writer1.xml, the installed contract, as they are in that file.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bus-int.h"

enum obj_kind { OBJ_NONE, OBJ_ANCESTOR, OBJ_ROOT, OBJ_INSTANCES, OBJ_INSTANCE, OBJ_SESSIONS, OBJ_SESSION };

struct obj {
    enum obj_kind kind;
    size_t inst;      /* OBJ_INSTANCE: index into the writer's instances */
    uint32_t session; /* OBJ_SESSION */
};

static struct obj resolve(struct wr_bus *b, const char *path);
static void introspect(struct wr_bus *b, DBusConnection *c, DBusMessage *m, const char *path, struct obj o);
static void props_call(struct wr_bus *b, DBusConnection *c, DBusMessage *m, const char *path);
static void managed_objects(struct wr_bus *b, DBusConnection *c, DBusMessage *m);
static void get_metadata(struct wr_bus *b, DBusConnection *c, DBusMessage *m);
static void get_status(struct wr_bus *b, DBusConnection *c, DBusMessage *m);
static void instance_status(struct wr_bus *b, DBusConnection *c, DBusMessage *m, const char *path);
static bool bad_signature(DBusConnection *c, DBusMessage *m, const char *want);
static const char *iface_of(struct obj o);
static bool append_instance_props(struct wr_bus *b, size_t i, DBusMessageIter *dict);
static bool append_session_props(struct wr_bus *b, uint32_t id, DBusMessageIter *dict);
static bool append_writer_props(struct wr_bus *b, DBusMessageIter *dict);
static bool copy_value(DBusMessageIter *from, DBusMessageIter *to);

/* The Writer methods that change state, with their signatures. */
static const struct {
    const char *member, *sig;
} changing[] = {
    {"PrepareForBackup", "sasa{sv}"}, {"Freeze", "oa{sv}"}, {"Thaw", "oa{sv}"},
    {"Abort", "os"},                  {"BackupComplete", "oba{sv}"},
};

DBusHandlerResult wr_bus_handle(DBusConnection *c, DBusMessage *m, void *data)
{
    struct wr_bus *b = data;
    if (dbus_message_get_type(m) != DBUS_MESSAGE_TYPE_METHOD_CALL)
        return DBUS_HANDLER_RESULT_NOT_YET_HANDLED;
    const char *path = dbus_message_get_path(m), *iface = dbus_message_get_interface(m);
    const char *member = dbus_message_get_member(m);
    struct obj o = resolve(b, path);
    if (o.kind == OBJ_NONE) {
        wr_bus_reply_error(c, m, DBUS_ERROR_UNKNOWN_OBJECT, "no object at %s", path);
        return DBUS_HANDLER_RESULT_HANDLED;
    }
    bool any = !iface;
    if ((any || !strcmp(iface, WR_BUS_IFACE_INTRO)) && !strcmp(member, "Introspect")) {
        if (!bad_signature(c, m, ""))
            introspect(b, c, m, path, o);
        return DBUS_HANDLER_RESULT_HANDLED;
    }
    if (o.kind == OBJ_ANCESTOR || o.kind == OBJ_INSTANCES || o.kind == OBJ_SESSIONS) {
        wr_bus_reply_error(c, m, DBUS_ERROR_UNKNOWN_METHOD, "%s has only org.freedesktop.DBus.Introspectable", path);
        return DBUS_HANDLER_RESULT_HANDLED;
    }
    if (iface && !strcmp(iface, WR_BUS_IFACE_PROPS)) {
        props_call(b, c, m, path);
        return DBUS_HANDLER_RESULT_HANDLED;
    }
    if (o.kind == OBJ_ROOT && (any || !strcmp(iface, WR_BUS_IFACE_OM)) && !strcmp(member, "GetManagedObjects")) {
        if (!bad_signature(c, m, ""))
            managed_objects(b, c, m);
        return DBUS_HANDLER_RESULT_HANDLED;
    }
    const char *sig;
    if (o.kind == OBJ_ROOT && wr_bus_backup_member(member, &sig) && (any || !strcmp(iface, WR_BUS_IFACE_BACKUP))) {
        if (bad_signature(c, m, sig))
            return DBUS_HANDLER_RESULT_HANDLED;
        if (!strcmp(member, "GetFileResult"))
            wr_bus_backup_result(b, c, m); /* reads counters only: never waits */
        else
            wr_bus_job_queue(b, c, m);
        return DBUS_HANDLER_RESULT_HANDLED;
    }
    if (o.kind == OBJ_ROOT && (any || !strcmp(iface, WR_BUS_IFACE_WRITER))) {
        for (size_t i = 0; i < sizeof changing / sizeof changing[0]; i++)
            if (!strcmp(member, changing[i].member)) {
                if (!bad_signature(c, m, changing[i].sig))
                    wr_bus_job_queue(b, c, m);
                return DBUS_HANDLER_RESULT_HANDLED;
            }
        if (!strcmp(member, "GetMetadata")) {
            if (!bad_signature(c, m, "a{sv}"))
                get_metadata(b, c, m);
            return DBUS_HANDLER_RESULT_HANDLED;
        }
        if (!strcmp(member, "GetStatus")) {
            if (!bad_signature(c, m, ""))
                get_status(b, c, m);
            return DBUS_HANDLER_RESULT_HANDLED;
        }
    }
    if (o.kind == OBJ_INSTANCE && (any || !strcmp(iface, WR_BUS_IFACE_INSTANCE)) && !strcmp(member, "GetStatus")) {
        if (!bad_signature(c, m, ""))
            instance_status(b, c, m, path);
        return DBUS_HANDLER_RESULT_HANDLED;
    }
    wr_bus_reply_error(c, m, DBUS_ERROR_UNKNOWN_METHOD, "%s has no method %s.%s", path, iface ? iface : "*",
                       member);
    return DBUS_HANDLER_RESULT_HANDLED;
}

void wr_bus_escape(const char *name, char *out, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    size_t o = 0;
    for (const unsigned char *p = (const unsigned char *)name; *p && o + 4 < n; p++) {
        if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9')) {
            out[o++] = (char)*p;
        } else {
            out[o++] = '_';
            out[o++] = hex[*p >> 4];
            out[o++] = hex[*p & 15];
        }
    }
    out[o] = '\0';
}

bool wr_bus_append_props(struct wr_bus *b, const char *path, const char *iface, DBusMessageIter *it)
{
    struct obj o = resolve(b, path);
    if (!iface_of(o) || strcmp(iface, iface_of(o)) != 0)
        return false;
    DBusMessageIter dict;
    if (!dbus_message_iter_open_container(it, DBUS_TYPE_ARRAY, "{sv}", &dict))
        return false;
    bool ok = o.kind == OBJ_ROOT       ? append_writer_props(b, &dict)
              : o.kind == OBJ_INSTANCE ? append_instance_props(b, o.inst, &dict)
                                       : append_session_props(b, o.session, &dict);
    return dbus_message_iter_close_container(it, &dict) && ok;
}

static struct obj resolve(struct wr_bus *b, const char *path)
{
    struct obj o = {OBJ_NONE, 0, 0};
    if (!strcmp(path, "/") || !strcmp(path, "/org") || !strcmp(path, "/org/jetsnap"))
        o.kind = OBJ_ANCESTOR;
    else if (!strcmp(path, WR_BUS_ROOT))
        o.kind = OBJ_ROOT;
    else if (!strcmp(path, WR_BUS_INSTANCES))
        o.kind = OBJ_INSTANCES;
    else if (!strcmp(path, WR_BUS_SESSIONS))
        o.kind = OBJ_SESSIONS;
    else if (!strncmp(path, WR_BUS_INSTANCES "/", sizeof WR_BUS_INSTANCES)) {
        const char *el = path + sizeof WR_BUS_INSTANCES;
        for (size_t i = 0; i < b->w->n_inst; i++) {
            char esc[256];
            wr_bus_escape(b->w->inst[i].name, esc, sizeof esc);
            if (!strcmp(esc, el)) {
                o.kind = OBJ_INSTANCE;
                o.inst = i;
                break;
            }
        }
    } else if ((o.session = wr_bus_session_id(path)) != 0) {
        struct wr_session_view v;
        if (wr_session_get(b->w, o.session, &v) == JETSNAP_OK) {
            free(v.instances);
            o.kind = OBJ_SESSION;
        }
    }
    return o;
}

static const char *iface_of(struct obj o)
{
    return o.kind == OBJ_ROOT       ? WR_BUS_IFACE_WRITER
           : o.kind == OBJ_INSTANCE ? WR_BUS_IFACE_INSTANCE
           : o.kind == OBJ_SESSION  ? WR_BUS_IFACE_SESSION
                                    : NULL;
}

static bool bad_signature(DBusConnection *c, DBusMessage *m, const char *want)
{
    if (dbus_message_has_signature(m, want))
        return false;
    wr_bus_reply_error(c, m, DBUS_ERROR_INVALID_ARGS, "%s takes (%s), not (%s)", dbus_message_get_member(m), want,
                       dbus_message_get_signature(m));
    return true;
}

/* ---- Introspect ---------------------------------------------------------------------------- */

static const char std_ifaces[] =
    "  <interface name=\"org.freedesktop.DBus.Properties\">\n"
    "    <method name=\"Get\">\n"
    "      <arg name=\"interface_name\" type=\"s\" direction=\"in\"/>\n"
    "      <arg name=\"property_name\" type=\"s\" direction=\"in\"/>\n"
    "      <arg name=\"value\" type=\"v\" direction=\"out\"/>\n"
    "    </method>\n"
    "    <method name=\"GetAll\">\n"
    "      <arg name=\"interface_name\" type=\"s\" direction=\"in\"/>\n"
    "      <arg name=\"props\" type=\"a{sv}\" direction=\"out\"/>\n"
    "    </method>\n"
    "    <method name=\"Set\">\n"
    "      <arg name=\"interface_name\" type=\"s\" direction=\"in\"/>\n"
    "      <arg name=\"property_name\" type=\"s\" direction=\"in\"/>\n"
    "      <arg name=\"value\" type=\"v\" direction=\"in\"/>\n"
    "    </method>\n"
    "    <signal name=\"PropertiesChanged\">\n"
    "      <arg name=\"interface_name\" type=\"s\"/>\n"
    "      <arg name=\"changed_properties\" type=\"a{sv}\"/>\n"
    "      <arg name=\"invalidated_properties\" type=\"as\"/>\n"
    "    </signal>\n"
    "  </interface>\n"
    "  <interface name=\"org.freedesktop.DBus.Introspectable\">\n"
    "    <method name=\"Introspect\">\n"
    "      <arg name=\"xml_data\" type=\"s\" direction=\"out\"/>\n"
    "    </method>\n"
    "  </interface>\n"
    "  <interface name=\"org.freedesktop.DBus.Peer\">\n"
    "    <method name=\"Ping\"/>\n"
    "    <method name=\"GetMachineId\">\n"
    "      <arg name=\"machine_uuid\" type=\"s\" direction=\"out\"/>\n"
    "    </method>\n"
    "  </interface>\n";

static const char om_iface[] =
    "  <interface name=\"org.freedesktop.DBus.ObjectManager\">\n"
    "    <method name=\"GetManagedObjects\">\n"
    "      <arg name=\"objects\" type=\"a{oa{sa{sv}}}\" direction=\"out\"/>\n"
    "    </method>\n"
    "    <signal name=\"InterfacesAdded\">\n"
    "      <arg name=\"object\" type=\"o\"/>\n"
    "      <arg name=\"interfaces\" type=\"a{sa{sv}}\"/>\n"
    "    </signal>\n"
    "    <signal name=\"InterfacesRemoved\">\n"
    "      <arg name=\"object\" type=\"o\"/>\n"
    "      <arg name=\"interfaces\" type=\"as\"/>\n"
    "    </signal>\n"
    "  </interface>\n";

/* A growing text buffer; on out of memory it stays NULL and the caller answers NoMemory. */
struct text {
    char *s;
    size_t len, cap;
    bool oom;
};

static void put(struct text *t, const char *s, size_t n)
{
    if (t->oom)
        return;
    if (t->len + n + 1 > t->cap) {
        size_t cap = t->cap ? t->cap : 4096;
        while (cap < t->len + n + 1)
            cap *= 2;
        char *p = realloc(t->s, cap);
        if (!p) {
            t->oom = true;
            return;
        }
        t->s = p;
        t->cap = cap;
    }
    memcpy(t->s + t->len, s, n);
    t->len += n;
    t->s[t->len] = '\0';
}

static void puts_(struct text *t, const char *s)
{
    put(t, s, strlen(s));
}

/* The <interface name="iface"> element of the embedded contract, copied as it stands there. */
static void put_contract_iface(struct text *t, const char *iface)
{
    char open[160];
    snprintf(open, sizeof open, "<interface name=\"%s\">", iface);
    const char *start = strstr(wr_bus_interface_xml, open);
    const char *end = start ? strstr(start, "</interface>") : NULL;
    if (!end) {
        t->oom = true; /* cannot happen: the file is compiled in and tested */
        return;
    }
    puts_(t, "  ");
    put(t, start, (size_t)(end - start) + strlen("</interface>"));
    puts_(t, "\n");
}

static void put_child(struct text *t, const char *name)
{
    puts_(t, "  <node name=\"");
    puts_(t, name);
    puts_(t, "\"/>\n");
}

static void introspect(struct wr_bus *b, DBusConnection *c, DBusMessage *m, const char *path, struct obj o)
{
    struct text t = {0};
    puts_(&t, DBUS_INTROSPECT_1_0_XML_DOCTYPE_DECL_NODE "<node>\n");
    switch (o.kind) {
    case OBJ_ANCESTOR:
        put_child(&t, !strcmp(path, "/") ? "org" : !strcmp(path, "/org") ? "jetsnap" : "Writer1");
        break;
    case OBJ_ROOT:
        put_contract_iface(&t, WR_BUS_IFACE_WRITER);
        put_contract_iface(&t, WR_BUS_IFACE_BACKUP);
        puts_(&t, om_iface);
        puts_(&t, std_ifaces);
        put_child(&t, "instance");
        put_child(&t, "session");
        break;
    case OBJ_INSTANCES:
        for (size_t i = 0; i < b->w->n_inst; i++) {
            char esc[256];
            wr_bus_escape(b->w->inst[i].name, esc, sizeof esc);
            put_child(&t, esc);
        }
        break;
    case OBJ_SESSIONS: {
        /* The freeze session, the streaming ones (at most one per instance) and the ended ones kept. */
        size_t max = 2 * WR_ENDED_KEEP + 1 + b->w->n_inst;
        uint32_t *ids = calloc(max, sizeof *ids);
        size_t n = ids ? wr_session_ids(b->w, ids, max) : 0;
        t.oom |= !ids;
        for (size_t i = 0; i < n; i++) {
            char el[16];
            snprintf(el, sizeof el, "%u", ids[i]);
            put_child(&t, el);
        }
        free(ids);
        break;
    }
    case OBJ_INSTANCE:
    case OBJ_SESSION:
        put_contract_iface(&t, iface_of(o));
        puts_(&t, std_ifaces);
        break;
    case OBJ_NONE:
        break;
    }
    puts_(&t, "</node>\n");
    DBusMessage *r = t.oom ? NULL : dbus_message_new_method_return(m);
    const char *xml = t.s;
    wr_bus_reply(c, m, r, r && dbus_message_append_args(r, DBUS_TYPE_STRING, &xml, DBUS_TYPE_INVALID));
    free(t.s);
}

/* ---- Properties ---------------------------------------------------------------------------- */

/* Get, GetAll and Set of org.freedesktop.DBus.Properties. Get builds GetAll's dict and picks the
 * one entry: every property is cheap, and one code path cannot disagree with the other. */
static void props_call(struct wr_bus *b, DBusConnection *c, DBusMessage *m, const char *path)
{
    const char *member = dbus_message_get_member(m), *iface = NULL, *prop = NULL;
    bool get = !strcmp(member, "Get"), all = !strcmp(member, "GetAll"), set = !strcmp(member, "Set");
    if (!get && !all && !set) {
        wr_bus_reply_error(c, m, DBUS_ERROR_UNKNOWN_METHOD, "org.freedesktop.DBus.Properties has no method %s",
                           member);
        return;
    }
    if (bad_signature(c, m, get ? "ss" : all ? "s" : "ssv"))
        return;
    dbus_message_get_args(m, NULL, DBUS_TYPE_STRING, &iface, DBUS_TYPE_INVALID);
    if (!all) {
        DBusMessageIter a;
        dbus_message_iter_init(m, &a);
        dbus_message_iter_next(&a);
        dbus_message_iter_get_basic(&a, &prop);
    }
    struct obj o = resolve(b, path);
    if (!iface_of(o) || strcmp(iface, iface_of(o)) != 0) {
        wr_bus_reply_error(c, m, DBUS_ERROR_UNKNOWN_INTERFACE, "%s has no interface %.128s with properties", path,
                           iface);
        return;
    }
    if (set) {
        wr_bus_reply_error(c, m, DBUS_ERROR_PROPERTY_READ_ONLY, "the properties of %s are read-only", iface);
        return;
    }
    DBusMessage *tmp = dbus_message_new_method_return(m);
    DBusMessageIter it;
    if (!tmp) {
        wr_bus_reply_error(c, m, DBUS_ERROR_NO_MEMORY, "out of memory");
        return;
    }
    dbus_message_iter_init_append(tmp, &it);
    if (!wr_bus_append_props(b, path, iface, &it)) {
        dbus_message_unref(tmp);
        wr_bus_reply_error(c, m, DBUS_ERROR_NO_MEMORY, "out of memory");
        return;
    }
    if (all) {
        wr_bus_send(c, tmp);
        return;
    }
    /* Get: copy the one value across into a reply of signature v. */
    DBusMessageIter rd, dict, ent, var;
    dbus_message_iter_init(tmp, &rd);
    dbus_message_iter_recurse(&rd, &dict);
    while (dbus_message_iter_get_arg_type(&dict) == DBUS_TYPE_DICT_ENTRY) {
        const char *k;
        dbus_message_iter_recurse(&dict, &ent);
        dbus_message_iter_get_basic(&ent, &k);
        if (!strcmp(k, prop)) {
            dbus_message_iter_next(&ent);
            var = ent; /* the variant: copied whole, as Get's v */
            DBusMessage *r = dbus_message_new_method_return(m);
            DBusMessageIter out;
            bool ok = r != NULL;
            if (ok) {
                dbus_message_iter_init_append(r, &out);
                ok = copy_value(&var, &out);
            }
            dbus_message_unref(tmp);
            wr_bus_reply(c, m, r, ok);
            return;
        }
        dbus_message_iter_next(&dict);
    }
    dbus_message_unref(tmp);
    wr_bus_reply_error(c, m, DBUS_ERROR_UNKNOWN_PROPERTY, "%s has no property %.128s", iface, prop);
}

static bool append_writer_props(struct wr_bus *b, DBusMessageIter *dict)
{
    jetsnap_writer *w = b->w;
    struct jetsnap_status *st = NULL;
    if (wr_status(w, &st, NULL) != JETSNAP_OK)
        return false;
    char active[128] = "/";
    if (st->session)
        wr_bus_session_path(st->session, active, sizeof active);
    static const char *const types[] = {"full", "incremental", "differential", "copy"};
    bool ok = wr_bus_dict_u32(dict, "InterfaceVersion", WR_BUS_IFACE_VERSION) &&
              wr_bus_dict_str(dict, "WriterId", WR_BUS_WRITER_ID) && wr_bus_dict_str(dict, "State", st->state) &&
              wr_bus_dict_str(dict, "FreezeOwner", st->owner) && wr_bus_dict_path(dict, "ActiveSession", active) &&
              wr_bus_dict_u32(dict, "FreezeTimeoutMsec", w->cfg->writer.freeze_timeout_ms) &&
              wr_bus_dict_u32(dict, "QuiesceTimeoutMsec", w->cfg->writer.quiesce_timeout_ms) &&
              wr_bus_dict_strv(dict, "SupportedBackupTypes", types, 4);
    wr_status_free(st);
    return ok;
}

static bool append_instance_props(struct wr_bus *b, size_t i, DBusMessageIter *dict)
{
    /* One instance's copy: this runs for every instance's PropertiesChanged of a freeze, and a
     * whole status each time made a freeze of N instances cost N² (bench-writer saw it). */
    struct wr_inst_view v;
    wr_inst_get(b->w, i, &v);
    const struct conf_instance *ci = &b->w->cfg->instances[i];
    return wr_bus_dict_str(dict, "Id", ci->name) && wr_bus_dict_str(dict, "Name", ci->display_name) &&
           wr_bus_dict_bytes(dict, "DataDirectory", ci->system_path) && wr_bus_dict_str(dict, "State", v.state) &&
           wr_bus_dict_str(dict, "LastError", wr_bus_err_name(v.last_error)) &&
           wr_bus_dict_str(dict, "LastErrorMessage", v.message) &&
           wr_bus_dict_u64(dict, "FrozenSinceUsec", v.frozen_since);
}

static bool append_session_props(struct wr_bus *b, uint32_t id, DBusMessageIter *dict)
{
    struct wr_session_view v;
    if (wr_session_get(b->w, id, &v) != JETSNAP_OK)
        return false;
    bool ok = wr_bus_dict_u32(dict, "Id", v.id) && wr_bus_dict_str(dict, "Owner", v.owner) &&
              wr_bus_dict_str(dict, "BackupType", v.backup_type) && wr_bus_dict_str(dict, "State", v.state) &&
              wr_bus_dict_strv(dict, "Instances", v.instances, v.n_instances) &&
              wr_bus_dict_u64(dict, "FrozenUsec", v.frozen_usec);
    free(v.instances);
    return ok;
}

/* ---- ObjectManager and the read-only methods ------------------------------------------------ */

/* One a{sa{sv}} entry of path with its one interface. */
static bool append_object(struct wr_bus *b, DBusMessageIter *objs, const char *path, const char *iface)
{
    DBusMessageIter ent, ifaces, ient;
    bool ok = dbus_message_iter_open_container(objs, DBUS_TYPE_DICT_ENTRY, NULL, &ent) &&
              dbus_message_iter_append_basic(&ent, DBUS_TYPE_OBJECT_PATH, &path) &&
              dbus_message_iter_open_container(&ent, DBUS_TYPE_ARRAY, "{sa{sv}}", &ifaces) &&
              dbus_message_iter_open_container(&ifaces, DBUS_TYPE_DICT_ENTRY, NULL, &ient) &&
              dbus_message_iter_append_basic(&ient, DBUS_TYPE_STRING, &iface) &&
              wr_bus_append_props(b, path, iface, &ient);
    ok = dbus_message_iter_close_container(&ifaces, &ient) && ok;
    ok = dbus_message_iter_close_container(&ent, &ifaces) && ok;
    return dbus_message_iter_close_container(objs, &ent) && ok;
}

/* The instances, and the current session while there is one (an ended session's object still
 * answers for a while, but is no longer managed: InterfacesRemoved was sent when it ended). */
static void managed_objects(struct wr_bus *b, DBusConnection *c, DBusMessage *m)
{
    DBusMessage *r = dbus_message_new_method_return(m);
    DBusMessageIter it, objs;
    bool ok = r != NULL;
    if (ok) {
        dbus_message_iter_init_append(r, &it);
        ok = dbus_message_iter_open_container(&it, DBUS_TYPE_ARRAY, "{oa{sa{sv}}}", &objs);
        for (size_t i = 0; ok && i < b->w->n_inst; i++) {
            char esc[256], path[320];
            wr_bus_escape(b->w->inst[i].name, esc, sizeof esc);
            snprintf(path, sizeof path, "%s/%s", WR_BUS_INSTANCES, esc);
            ok = append_object(b, &objs, path, WR_BUS_IFACE_INSTANCE);
        }
        /* Sessions that have not ended: the freeze session and the streaming backups. */
        size_t max = 2 * WR_ENDED_KEEP + 1 + b->w->n_inst;
        uint32_t *ids = ok ? calloc(max, sizeof *ids) : NULL;
        size_t n = ids ? wr_session_ids(b->w, ids, max) : 0;
        ok = ok && ids;
        for (size_t i = 0; ok && i < n; i++) {
            struct wr_session_view v;
            if (wr_session_get(b->w, ids[i], &v) != JETSNAP_OK)
                continue;
            free(v.instances);
            if (!v.ended) {
                char path[128];
                wr_bus_session_path(ids[i], path, sizeof path);
                ok = append_object(b, &objs, path, WR_BUS_IFACE_SESSION);
            }
        }
        free(ids);
        ok = dbus_message_iter_close_container(&it, &objs) && ok;
    }
    wr_bus_reply(c, m, r, ok);
}

/* GetMetadata(a{sv} options) -> (a{sv} writer_info, a(sa{sv}) instances) */
static void get_metadata(struct wr_bus *b, DBusConnection *c, DBusMessage *m)
{
    DBusMessageIter it, arr;
    dbus_message_iter_init(m, &it);
    dbus_message_iter_recurse(&it, &arr);
    if (dbus_message_iter_get_arg_type(&arr) == DBUS_TYPE_DICT_ENTRY) {
        wr_bus_reply_error(c, m, DBUS_ERROR_INVALID_ARGS, "GetMetadata takes no options yet");
        return;
    }
    jetsnap_writer *w = b->w;
    static const char *const types[] = {"full", "incremental", "differential", "copy"};
    DBusMessage *r = dbus_message_new_method_return(m);
    DBusMessageIter out, dict, insts, st, idict;
    bool ok = r != NULL;
    if (ok) {
        dbus_message_iter_init_append(r, &out);
        ok = dbus_message_iter_open_container(&out, DBUS_TYPE_ARRAY, "{sv}", &dict) &&
             wr_bus_dict_str(&dict, "name", b->name) && wr_bus_dict_str(&dict, "id", WR_BUS_WRITER_ID) &&
             wr_bus_dict_u32(&dict, "version", WR_BUS_IFACE_VERSION) &&
             wr_bus_dict_str(&dict, "usage", "jetsnap database instances (application-consistent freeze)") &&
             wr_bus_dict_bytes(&dict, "config", w->cfg->path);
        ok = dbus_message_iter_close_container(&out, &dict) && ok;
        ok = ok && dbus_message_iter_open_container(&out, DBUS_TYPE_ARRAY, "(sa{sv})", &insts);
        struct jetsnap_status *s = NULL;
        ok = ok && wr_status(w, &s, NULL) == JETSNAP_OK;
        for (size_t i = 0; ok && i < w->n_inst; i++) {
            const struct conf_instance *ci = &w->cfg->instances[i];
            char esc[256], path[320];
            wr_bus_escape(ci->name, esc, sizeof esc);
            snprintf(path, sizeof path, "%s/%s", WR_BUS_INSTANCES, esc);
            ok = dbus_message_iter_open_container(&insts, DBUS_TYPE_STRUCT, NULL, &st) &&
                 wr_bus_append_str(&st, ci->name) &&
                 dbus_message_iter_open_container(&st, DBUS_TYPE_ARRAY, "{sv}", &idict) &&
                 wr_bus_dict_path(&idict, "path", path) && wr_bus_dict_str(&idict, "name", ci->display_name) &&
                 wr_bus_dict_str(&idict, "state", s->instances[i].state) &&
                 wr_bus_dict_strv(&idict, "backup_types", types, 4) &&
                 wr_bus_dict_bytes(&idict, "system_path", ci->system_path) &&
                 wr_bus_dict_bytes(&idict, "log_path", ci->log_path);
            /* data_files: aay, one entry per database */
            DBusMessageIter ent, var, arr2, bytes;
            const char *key = "data_files";
            ok = ok && dbus_message_iter_open_container(&idict, DBUS_TYPE_DICT_ENTRY, NULL, &ent) &&
                 dbus_message_iter_append_basic(&ent, DBUS_TYPE_STRING, &key) &&
                 dbus_message_iter_open_container(&ent, DBUS_TYPE_VARIANT, "aay", &var) &&
                 dbus_message_iter_open_container(&var, DBUS_TYPE_ARRAY, "ay", &arr2);
            for (size_t d = 0; ok && d < ci->databases.n; d++) {
                const char *p = ci->databases.v[d];
                ok = dbus_message_iter_open_container(&arr2, DBUS_TYPE_ARRAY, "y", &bytes) &&
                     dbus_message_iter_append_fixed_array(&bytes, DBUS_TYPE_BYTE, &p, (int)strlen(p)) &&
                     dbus_message_iter_close_container(&arr2, &bytes);
            }
            ok = ok && dbus_message_iter_close_container(&var, &arr2) && dbus_message_iter_close_container(&ent, &var) &&
                 dbus_message_iter_close_container(&idict, &ent) && dbus_message_iter_close_container(&st, &idict) &&
                 dbus_message_iter_close_container(&insts, &st);
        }
        wr_status_free(s);
        ok = ok && dbus_message_iter_close_container(&out, &insts);
    }
    wr_bus_reply(c, m, r, ok);
}

/* GetStatus() -> (s state, a(ssss) per_instance: id, state, last error name, message) */
static void get_status(struct wr_bus *b, DBusConnection *c, DBusMessage *m)
{
    struct jetsnap_status *s = NULL;
    if (wr_status(b->w, &s, NULL) != JETSNAP_OK) {
        wr_bus_reply_error(c, m, DBUS_ERROR_NO_MEMORY, "out of memory");
        return;
    }
    DBusMessage *r = dbus_message_new_method_return(m);
    DBusMessageIter it, arr, st;
    bool ok = r != NULL;
    if (ok) {
        dbus_message_iter_init_append(r, &it);
        ok = wr_bus_append_str(&it, s->state) && dbus_message_iter_open_container(&it, DBUS_TYPE_ARRAY, "(ssss)", &arr);
        for (size_t i = 0; ok && i < s->n_instances; i++) {
            const struct jetsnap_instance *in = &s->instances[i];
            ok = dbus_message_iter_open_container(&arr, DBUS_TYPE_STRUCT, NULL, &st) &&
                 wr_bus_append_str(&st, in->name) && wr_bus_append_str(&st, in->state) &&
                 wr_bus_append_str(&st, wr_bus_err_name(in->last_error)) && wr_bus_append_str(&st, in->message) &&
                 dbus_message_iter_close_container(&arr, &st);
        }
        ok = ok && dbus_message_iter_close_container(&it, &arr);
    }
    wr_status_free(s);
    wr_bus_reply(c, m, r, ok);
}

/* Instance.GetStatus() -> (a{sv}): the properties, plus where its files are. */
static void instance_status(struct wr_bus *b, DBusConnection *c, DBusMessage *m, const char *path)
{
    struct obj o = resolve(b, path);
    const struct conf_instance *ci = &b->w->cfg->instances[o.inst];
    DBusMessage *r = dbus_message_new_method_return(m);
    DBusMessageIter it, dict;
    bool ok = r != NULL;
    if (ok) {
        dbus_message_iter_init_append(r, &it);
        ok = dbus_message_iter_open_container(&it, DBUS_TYPE_ARRAY, "{sv}", &dict) &&
             append_instance_props(b, o.inst, &dict) && wr_bus_dict_bytes(&dict, "LogPath", ci->log_path) &&
             wr_bus_dict_u32(&dict, "Databases", (uint32_t)ci->databases.n);
        ok = dbus_message_iter_close_container(&it, &dict) && ok;
    }
    wr_bus_reply(c, m, r, ok);
}

/* Copy one value (of any type) from a reading iterator to an appending one: libdbus has no call
 * for it. Only the types the writer's properties use occur. */
static bool copy_value(DBusMessageIter *from, DBusMessageIter *to)
{
    int type = dbus_message_iter_get_arg_type(from);
    if (dbus_type_is_basic(type)) {
        DBusBasicValue v;
        dbus_message_iter_get_basic(from, &v);
        return dbus_message_iter_append_basic(to, type, &v);
    }
    DBusMessageIter sub_from, sub_to;
    char *sig = type == DBUS_TYPE_VARIANT || type == DBUS_TYPE_ARRAY ? NULL : (char *)"";
    dbus_message_iter_recurse(from, &sub_from);
    if (type == DBUS_TYPE_VARIANT || type == DBUS_TYPE_ARRAY)
        sig = dbus_message_iter_get_signature(&sub_from);
    if (type == DBUS_TYPE_ARRAY) {
        /* an empty array has no element to take the signature from: ask the array itself */
        dbus_free(sig);
        char *full = dbus_message_iter_get_signature(from);
        sig = full ? strdup(full + 1) : NULL;
        dbus_free(full);
    }
    bool ok = sig && dbus_message_iter_open_container(to, type, type == DBUS_TYPE_STRUCT || type == DBUS_TYPE_DICT_ENTRY ? NULL : sig,
                                                      &sub_to);
    while (ok && dbus_message_iter_get_arg_type(&sub_from) != DBUS_TYPE_INVALID) {
        ok = copy_value(&sub_from, &sub_to);
        dbus_message_iter_next(&sub_from);
    }
    ok = ok && dbus_message_iter_close_container(to, &sub_to);
    if (type == DBUS_TYPE_VARIANT)
        dbus_free(sig);
    else if (type == DBUS_TYPE_ARRAY)
        free(sig);
    return ok;
}
