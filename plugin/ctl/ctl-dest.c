/*
 * ctl-dest.c — where a backup goes. A directory: created if missing, refused unless empty (a
 * backup never mixes with older files), each file written through ctl-fwrite.c and the directory
 * fsynced at the end. Or "-": one tar stream (pax) on stdout written by libarchive, with the same
 * file names and the manifest last, so `jetsnapctl backup --output - | tar -x` gives the directory
 * backup. A tar header needs the entry's size first: a stream whose stored size is not known in
 * advance (zstd) is spooled to an unlinked temporary file and added when complete.
 */
#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "ctl-int.h"

struct ctl_dest {
    bool tar;
    /* directory */
    char dir[4096];
    bool created_dir;
    bool page_cache; /* ctl_dest_page_cache */
    char **names; /* files created, for removal after a failure */
    size_t n_names;
    struct ctl_fw fw;
    /* tar */
    struct archive *a;
    char name[256];
    int64_t size, written;
    int spool; /* >= 0 while spooling the current entry */
};

static bool dir_prepare(struct ctl_dest *d, const char *output, char *err, size_t n);
static bool tar_header(struct ctl_dest *d, const char *name, int64_t size, char *err, size_t n);
static bool tar_data(struct ctl_dest *d, const void *buf, size_t len, char *err, size_t n);
static bool spool_copy(struct ctl_dest *d, char *err, size_t n);
static bool tar_fail(struct ctl_dest *d, char *err, size_t n);

struct ctl_dest *ctl_dest_open(const char *output, char *err, size_t n)
{
    struct ctl_dest *d = calloc(1, sizeof *d);
    if (!d) {
        snprintf(err, n, "out of memory");
        return NULL;
    }
    d->fw.fd = -1;
    d->spool = -1;
    if (strcmp(output, "-") != 0) {
        if (!dir_prepare(d, output, err, n)) {
            free(d);
            return NULL;
        }
        return d;
    }
    d->tar = true;
    if (isatty(STDOUT_FILENO)) {
        snprintf(err, n, "--output - writes a tar stream: redirect stdout to a file or a pipe, not a terminal");
        free(d);
        return NULL;
    }
    d->a = archive_write_new();
    if (!d->a || archive_write_set_format_pax_restricted(d->a) != ARCHIVE_OK ||
        archive_write_set_bytes_in_last_block(d->a, 1) != ARCHIVE_OK ||
        archive_write_open_fd(d->a, STDOUT_FILENO) != ARCHIVE_OK) {
        tar_fail(d, err, n);
        if (d->a)
            archive_write_free(d->a);
        free(d);
        return NULL;
    }
    return d;
}

void ctl_dest_page_cache(struct ctl_dest *d)
{
    d->page_cache = true;
}

bool ctl_dest_is_tar(const struct ctl_dest *d)
{
    return d->tar;
}

bool ctl_dest_begin(struct ctl_dest *d, const char *name, int64_t size, char *err, size_t n)
{
    if (d->tar) {
        snprintf(d->name, sizeof d->name, "%s", name);
        d->size = size;
        d->written = 0;
        if (size >= 0)
            return tar_header(d, name, size, err, n);
        const char *tmp = getenv("TMPDIR");
        d->spool = open(tmp && tmp[0] ? tmp : "/tmp", O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
        if (d->spool < 0) {
            char b[32];
            snprintf(err, n, "%s: cannot create a temporary file to spool %s for the tar stream: %s (%s)",
                     tmp && tmp[0] ? tmp : "/tmp", name, strerror(errno), ctl_errno_name(errno, b, sizeof b));
            return false;
        }
        return true;
    }
    char path[4096 + 256];
    snprintf(path, sizeof path, "%s/%s", d->dir, name);
    char **v = realloc(d->names, (d->n_names + 1) * sizeof *v);
    if (!v || !(v[d->n_names] = strdup(path))) {
        if (v)
            d->names = v;
        snprintf(err, n, "out of memory");
        return false;
    }
    d->names = v;
    if (!ctl_fw_open(&d->fw, path, err, n))
        return false;
    if (d->page_cache)
        ctl_fw_use_page_cache(&d->fw);
    d->n_names++;
    return true;
}

bool ctl_dest_write(struct ctl_dest *d, const void *buf, size_t len, char *err, size_t n)
{
    if (!d->tar)
        return ctl_fw_write(&d->fw, buf, len, err, n);
    if (d->spool < 0)
        return tar_data(d, buf, len, err, n);
    for (const char *p = buf; len > 0;) {
        ssize_t w = write(d->spool, p, len);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            char b[32];
            int e = w < 0 ? errno : ENOSPC;
            snprintf(err, n, "the temporary file spooling %s: %s (%s)", d->name, strerror(e),
                     ctl_errno_name(e, b, sizeof b));
            return false;
        }
        p += w;
        len -= (size_t)w;
    }
    return true;
}

bool ctl_dest_end(struct ctl_dest *d, char *err, size_t n)
{
    if (!d->tar)
        return ctl_fw_close(&d->fw, err, n);
    if (d->spool >= 0) {
        bool ok = spool_copy(d, err, n);
        close(d->spool);
        d->spool = -1;
        return ok;
    }
    if (d->written != d->size) {
        snprintf(err, n, "%s: the stream gave %lld bytes, not the %lld its tar header announced", d->name,
                 (long long)d->written, (long long)d->size);
        return false;
    }
    return true;
}

bool ctl_dest_finish(struct ctl_dest *d, const char *manifest, char *err, size_t n)
{
    size_t len = strlen(manifest);
    if (!ctl_dest_begin(d, CTL_MANIFEST_NAME, (int64_t)len, err, n) || !ctl_dest_write(d, manifest, len, err, n) ||
        !ctl_dest_end(d, err, n))
        return false;
    if (!d->tar)
        return ctl_fsync_dir(d->dir, err, n);
    if (archive_write_close(d->a) != ARCHIVE_OK)
        return tar_fail(d, err, n);
    return true;
}

void ctl_dest_close(struct ctl_dest *d, bool remove)
{
    if (!d)
        return;
    if (d->tar) {
        if (d->spool >= 0)
            close(d->spool);
        archive_write_free(d->a);
    } else {
        if (d->fw.fd >= 0)
            ctl_fw_abort(&d->fw);
        for (size_t i = 0; i < d->n_names; i++) {
            if (remove)
                unlink(d->names[i]);
            free(d->names[i]);
        }
        free(d->names);
        if (remove && d->created_dir)
            rmdir(d->dir);
    }
    free(d);
}

static bool dir_prepare(struct ctl_dest *d, const char *output, char *err, size_t n)
{
    char b[32];
    /* memcpy, not snprintf: a path cut short would name another directory. */
    size_t len = strlen(output);
    if (len >= sizeof d->dir) {
        snprintf(err, n, "the backup directory's path is %zu bytes long; at most %zu are accepted", len,
                 sizeof d->dir - 1);
        return false;
    }
    memcpy(d->dir, output, len + 1);
    if (mkdir(output, 0750) == 0) {
        d->created_dir = true;
        return true;
    }
    if (errno != EEXIST) {
        snprintf(err, n, "%s: cannot create the backup directory: %s (%s)", output, strerror(errno),
                 ctl_errno_name(errno, b, sizeof b));
        return false;
    }
    DIR *dir = opendir(output);
    if (!dir) {
        snprintf(err, n, "%s: cannot open the backup directory: %s (%s)", output, strerror(errno),
                 ctl_errno_name(errno, b, sizeof b));
        return false;
    }
    struct dirent *e;
    bool empty = true;
    while (empty && (e = readdir(dir)))
        empty = strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0;
    closedir(dir);
    if (!empty) {
        snprintf(err, n, "%s: the backup directory is not empty (a backup never mixes with other files)", output);
        return false;
    }
    return true;
}

static bool tar_header(struct ctl_dest *d, const char *name, int64_t size, char *err, size_t n)
{
    struct archive_entry *e = archive_entry_new();
    if (!e) {
        snprintf(err, n, "out of memory");
        return false;
    }
    archive_entry_set_pathname(e, name);
    archive_entry_set_filetype(e, AE_IFREG);
    archive_entry_set_perm(e, 0640);
    archive_entry_set_size(e, size);
    archive_entry_set_mtime(e, time(NULL), 0);
    int rc = archive_write_header(d->a, e);
    archive_entry_free(e);
    return rc == ARCHIVE_OK || tar_fail(d, err, n);
}

static bool tar_data(struct ctl_dest *d, const void *buf, size_t len, char *err, size_t n)
{
    if (d->written + (int64_t)len > d->size) {
        snprintf(err, n, "%s: the stream is longer than the %lld bytes its tar header announced", d->name,
                 (long long)d->size);
        return false;
    }
    la_ssize_t w = archive_write_data(d->a, buf, len);
    if (w < 0 || (size_t)w != len)
        return tar_fail(d, err, n);
    d->written += (int64_t)len;
    return true;
}

static bool spool_copy(struct ctl_dest *d, char *err, size_t n)
{
    struct stat st;
    if (fstat(d->spool, &st) != 0 || lseek(d->spool, 0, SEEK_SET) != 0) {
        snprintf(err, n, "the temporary file spooling %s: %s", d->name, strerror(errno));
        return false;
    }
    d->size = st.st_size;
    if (!tar_header(d, d->name, st.st_size, err, n))
        return false;
    char *buf = malloc(CTL_IO_BUF);
    if (!buf) {
        snprintf(err, n, "out of memory");
        return false;
    }
    bool ok = true;
    for (;;) {
        ssize_t r = read(d->spool, buf, CTL_IO_BUF);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            snprintf(err, n, "the temporary file spooling %s: %s", d->name, strerror(errno));
            ok = false;
        }
        if (r <= 0)
            break;
        if (!(ok = tar_data(d, buf, (size_t)r, err, n)))
            break;
    }
    free(buf);
    return ok && d->written == d->size;
}

static bool tar_fail(struct ctl_dest *d, char *err, size_t n)
{
    const char *m = d->a ? archive_error_string(d->a) : NULL;
    int e = d->a ? archive_errno(d->a) : ENOMEM;
    char b[32];
    snprintf(err, n, "the tar stream on stdout%s%s: %s (%s)", d->name[0] ? ", at " : "", d->name,
             m ? m : strerror(e), e > 0 ? ctl_errno_name(e, b, sizeof b) : "libarchive");
    return false;
}
