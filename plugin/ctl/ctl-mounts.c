/*
 * ctl-mounts.c — freeze --mount MNT: the instances whose files live on the filesystems mounted at
 * the given mount points. A filesystem freezer (qemu-ga's guest-fsfreeze-freeze-list, fsfreeze,
 * an LVM snapshot of one volume) freezes whole filesystems; an instance needs freezing exactly
 * when one of its files is on one of them. The writer says where each instance's files are
 * (GetMetadata: system_path, log_path, data_files); a file is on a filesystem when stat() gives it
 * that filesystem's device number, which also holds for bind mounts and nested directories.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "ctl-int.h"

static bool is_mount_point(const char *real);
static bool on_mounts(const char *path, size_t len, const dev_t *devs, size_t n);
static bool bytes_on_mounts(DBusMessageIter *arr, const dev_t *devs, size_t n);
static bool instance_on_mounts(DBusMessageIter *idict, const dev_t *devs, size_t n);

int ctl_select_mounts(DBusConnection *c, struct ctl_opts *o, char *text, size_t n)
{
    dev_t *devs = calloc(o->n_mounts, sizeof *devs);
    if (!devs) {
        snprintf(text, n, "out of memory");
        return CTL_EXIT_FAILURE;
    }
    for (size_t i = 0; i < o->n_mounts; i++) {
        char real[PATH_MAX];
        struct stat st;
        /* A directory that is not a mount point would stand for the filesystem it is on (often
         * "/"), which is not what the caller meant to freeze: refuse it. */
        if (!realpath(o->mounts[i], real) || stat(real, &st) != 0) {
            snprintf(text, n, "--mount %s: %s", o->mounts[i], strerror(errno));
            free(devs);
            return CTL_EXIT_USAGE;
        }
        if (!is_mount_point(real)) {
            snprintf(text, n, "--mount %s: not a mount point (see /proc/self/mounts)", o->mounts[i]);
            free(devs);
            return CTL_EXIT_USAGE;
        }
        devs[i] = st.st_dev;
    }
    DBusError err;
    dbus_error_init(&err);
    DBusMessage *m = ctl_writer_call(o, CTL_ROOT, CTL_IFACE_WRITER, "GetMetadata");
    DBusMessageIter it;
    if (m) {
        dbus_message_iter_init_append(m, &it);
        if (!ctl_append_empty_dict(&it)) {
            dbus_message_unref(m);
            m = NULL;
        }
    }
    DBusMessage *r = ctl_send(c, m, o->timeout_ms, &err);
    if (!r) {
        ctl_format_error(o, "GetMetadata", &err, text, n);
        int rc = ctl_unreachable(&err) ? CTL_EXIT_UNREACHABLE : CTL_EXIT_FAILURE;
        dbus_error_free(&err);
        free(devs);
        return rc;
    }
    DBusMessageIter insts, st;
    bool ok = dbus_message_iter_init(r, &it) && dbus_message_iter_next(&it) &&
              dbus_message_iter_get_arg_type(&it) == DBUS_TYPE_ARRAY;
    if (ok)
        dbus_message_iter_recurse(&it, &insts);
    while (ok && dbus_message_iter_get_arg_type(&insts) == DBUS_TYPE_STRUCT) {
        dbus_message_iter_recurse(&insts, &st);
        const char *name;
        ok = dbus_message_iter_get_arg_type(&st) == DBUS_TYPE_STRING;
        if (!ok)
            break;
        dbus_message_iter_get_basic(&st, &name);
        ok = dbus_message_iter_next(&st) && dbus_message_iter_get_arg_type(&st) == DBUS_TYPE_ARRAY;
        if (!ok)
            break;
        /* st is at the instance's a{sv}, as ctl_dict_lookup wants it. */
        if (instance_on_mounts(&st, devs, o->n_mounts)) {
            const char **v = realloc(o->instances, (o->n_instances + 1) * sizeof *v);
            if (!v) {
                ok = false;
                break;
            }
            v[o->n_instances++] = name;
            o->instances = v;
        }
        dbus_message_iter_next(&insts);
    }
    free(devs);
    if (!ok) {
        snprintf(text, n, "GetMetadata: a malformed reply (or out of memory)");
        dbus_message_unref(r);
        return CTL_EXIT_FAILURE;
    }
    /* The names point into the reply: it lives as long as the options (freed by ctl-main.c). */
    o->metadata = r;
    if (o->n_instances == 0) {
        snprintf(text, n, "no instance has a file on the filesystem%s of --mount: nothing to freeze",
                 o->n_mounts == 1 ? "" : "s");
        return CTL_EXIT_NO_INSTANCE;
    }
    return CTL_EXIT_OK;
}

/* real is exactly a mount point in our mount namespace (as qemu-ga's freeze-list requires). */
static bool is_mount_point(const char *real)
{
    FILE *f = fopen("/proc/self/mounts", "re");
    if (!f)
        return false;
    char line[8192];
    bool found = false;
    while (!found && fgets(line, sizeof line, f)) {
        /* "DEVICE MOUNTPOINT TYPE ...", the mount point with spaces etc. as octal escapes. */
        char *p = strchr(line, ' ');
        if (!p)
            continue;
        p++;
        char mp[PATH_MAX];
        size_t k = 0;
        while (*p && *p != ' ' && k + 1 < sizeof mp) {
            if (p[0] == '\\' && p[1] >= '0' && p[1] <= '3' && p[2] >= '0' && p[2] <= '7' && p[3] >= '0' && p[3] <= '7') {
                mp[k++] = (char)((p[1] - '0') * 64 + (p[2] - '0') * 8 + (p[3] - '0'));
                p += 4;
            } else {
                mp[k++] = *p++;
            }
        }
        mp[k] = 0;
        found = strcmp(mp, real) == 0;
    }
    fclose(f);
    return found;
}

/* path (len bytes, not terminated; absolute, as conf/ requires) or, when it does not exist yet
 * (a database still to be created), its nearest existing parent is on one of the filesystems devs. */
static bool on_mounts(const char *path, size_t len, const dev_t *devs, size_t n)
{
    char p[PATH_MAX];
    if (len == 0 || len >= sizeof p)
        return false;
    memcpy(p, path, len);
    p[len] = 0;
    struct stat st;
    while (stat(p, &st) != 0) {
        char *slash = strrchr(p, '/');
        if (!slash)
            return false;
        if (slash == p) {
            p[1] = 0;
            if (stat(p, &st) != 0)
                return false;
            break;
        }
        *slash = 0;
    }
    for (size_t i = 0; i < n; i++)
        if (st.st_dev == devs[i])
            return true;
    return false;
}

static bool bytes_on_mounts(DBusMessageIter *arr, const dev_t *devs, size_t n)
{
    if (dbus_message_iter_get_arg_type(arr) != DBUS_TYPE_ARRAY ||
        dbus_message_iter_get_element_type(arr) != DBUS_TYPE_BYTE)
        return false;
    DBusMessageIter b;
    const char *p;
    int len;
    dbus_message_iter_recurse(arr, &b);
    dbus_message_iter_get_fixed_array(&b, &p, &len);
    return on_mounts(p, (size_t)len, devs, n);
}

static bool instance_on_mounts(DBusMessageIter *idict, const dev_t *devs, size_t n)
{
    DBusMessageIter v, files;
    if (ctl_dict_lookup(idict, "system_path", DBUS_TYPE_ARRAY, &v) && bytes_on_mounts(&v, devs, n))
        return true;
    if (ctl_dict_lookup(idict, "log_path", DBUS_TYPE_ARRAY, &v) && bytes_on_mounts(&v, devs, n))
        return true;
    if (ctl_dict_lookup(idict, "data_files", DBUS_TYPE_ARRAY, &v) &&
        dbus_message_iter_get_element_type(&v) == DBUS_TYPE_ARRAY) {
        dbus_message_iter_recurse(&v, &files);
        while (dbus_message_iter_get_arg_type(&files) == DBUS_TYPE_ARRAY) {
            if (bytes_on_mounts(&files, devs, n))
                return true;
            dbus_message_iter_next(&files);
        }
    }
    return false;
}
