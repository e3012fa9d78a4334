/*
 * ctl-fwrite.c — writing one backup or restore file the way fast copiers do (mdb_copy, dd
 * oflag=direct): large page-aligned writes with O_DIRECT, so the data goes from our buffer to the
 * disk without a copy into the page cache, nothing of it is left dirty for the final fdatasync, and
 * the cache the application's own files live in is not pushed out by a backup it will never read.
 * A write O_DIRECT cannot take (a buffer, length or offset that is not aligned: the short tail of
 * a zstd stream, the manifest) turns O_DIRECT off for the rest of the file, which is then written
 * through the page cache with paced writeback: every CTL_WB_CHUNK bytes the new chunk is started
 * (SYNC_FILE_RANGE_WRITE) and the one before is waited for and dropped from the cache, so that
 * dirty pages never pile up behind a slow disk. A file system without O_DIRECT (tmpfs) gets the
 * paced path from the start.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "ctl-int.h"

static bool direct_ok(const struct ctl_fw *f, const void *buf, size_t len);
static void direct_off(struct ctl_fw *f);
static bool fail_errno(const char *path, const char *what, int e, char *err, size_t n);

bool ctl_fw_open(struct ctl_fw *f, const char *path, char *err, size_t n)
{
    memset(f, 0, sizeof *f);
    snprintf(f->path, sizeof f->path, "%s", path);
    f->fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0640);
    if (f->fd < 0)
        return fail_errno(path, "cannot create", errno, err, n);
    int fl = fcntl(f->fd, F_GETFL);
    f->direct = fl >= 0 && fcntl(f->fd, F_SETFL, fl | O_DIRECT) == 0;
    return true;
}

bool ctl_fw_write(struct ctl_fw *f, const void *buf, size_t len, char *err, size_t n)
{
    const char *p = buf;
    while (len > 0) {
        if (f->direct && !direct_ok(f, p, len))
            direct_off(f);
        ssize_t w = write(f->fd, p, len);
        if (w < 0 && errno == EINTR)
            continue;
        /* A file system may want a larger alignment than ours: it gets the page cache instead. */
        if (w < 0 && errno == EINVAL && f->direct) {
            direct_off(f);
            continue;
        }
        if (w < 0)
            return fail_errno(f->path, "cannot write", errno, err, n);
        if (w == 0)
            return fail_errno(f->path, "cannot write", ENOSPC, err, n);
        p += w;
        len -= (size_t)w;
        f->off += (uint64_t)w;
    }
    if (f->direct)
        return true;
    while (f->off - f->started >= CTL_WB_CHUNK) {
        uint64_t start = f->started;
        /* Errors of sync_file_range are only advice lost: fdatasync at close reports the disk's. */
        (void)sync_file_range(f->fd, (off_t)start, CTL_WB_CHUNK, SYNC_FILE_RANGE_WRITE);
        f->started += CTL_WB_CHUNK;
        if (start >= CTL_WB_CHUNK) {
            uint64_t prev = start - CTL_WB_CHUNK;
            (void)sync_file_range(f->fd, (off_t)prev, CTL_WB_CHUNK,
                                  SYNC_FILE_RANGE_WAIT_BEFORE | SYNC_FILE_RANGE_WRITE | SYNC_FILE_RANGE_WAIT_AFTER);
            (void)posix_fadvise(f->fd, (off_t)prev, CTL_WB_CHUNK, POSIX_FADV_DONTNEED);
            f->waited = start;
        }
    }
    return true;
}

bool ctl_fw_close(struct ctl_fw *f, char *err, size_t n)
{
    int fd = f->fd;
    f->fd = -1;
    if (fd < 0)
        return true;
    if (fdatasync(fd) != 0) {
        int e = errno;
        close(fd);
        return fail_errno(f->path, "cannot write to disk (fdatasync)", e, err, n);
    }
    if (close(fd) != 0)
        return fail_errno(f->path, "cannot close", errno, err, n);
    return true;
}

void ctl_fw_abort(struct ctl_fw *f)
{
    if (f->fd >= 0) {
        close(f->fd);
        f->fd = -1;
        unlink(f->path);
    }
}

void ctl_fw_use_page_cache(struct ctl_fw *f)
{
    if (f->direct)
        direct_off(f);
}

bool ctl_fsync_dir(const char *dir, char *err, size_t n)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return fail_errno(dir, "cannot open the directory", errno, err, n);
    int rc = fsync(fd);
    int e = errno;
    close(fd);
    return rc == 0 || fail_errno(dir, "cannot write the directory to disk (fsync)", e, err, n);
}

/* What O_DIRECT takes on every Linux file system: buffer, length and offset in whole 4 KiB. */
static bool direct_ok(const struct ctl_fw *f, const void *buf, size_t len)
{
    return ((uintptr_t)buf | len | f->off) % CTL_DIRECT_ALIGN == 0;
}

/* From here on through the page cache: paced writeback starts at the current offset, since
 * everything before it is already on the disk. */
static void direct_off(struct ctl_fw *f)
{
    int fl = fcntl(f->fd, F_GETFL);
    if (fl >= 0)
        (void)fcntl(f->fd, F_SETFL, fl & ~O_DIRECT);
    f->direct = false;
    f->started = f->waited = f->off;
}

static bool fail_errno(const char *path, const char *what, int e, char *err, size_t n)
{
    char b[32];
    snprintf(err, n, "%s: %s: %s (%s)", path, what, strerror(e), ctl_errno_name(e, b, sizeof b));
    return false;
}
