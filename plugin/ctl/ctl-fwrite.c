/*
 * ctl-fwrite.c — writing one backup or restore file the way fast copiers do: large writes, and
 * writeback paced with sync_file_range so that dirty pages never pile up behind a slow disk (a
 * multi-GiB file otherwise sits in the page cache and the final fdatasync stalls for minutes, while
 * everything else on the machine fights for memory). Every CTL_WB_CHUNK bytes the new chunk is
 * started (SYNC_FILE_RANGE_WRITE) and the one before is waited for and dropped from the cache.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "ctl-int.h"

static bool fail_errno(const char *path, const char *what, int e, char *err, size_t n);

bool ctl_fw_open(struct ctl_fw *f, const char *path, char *err, size_t n)
{
    memset(f, 0, sizeof *f);
    snprintf(f->path, sizeof f->path, "%s", path);
    f->fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0640);
    if (f->fd < 0)
        return fail_errno(path, "cannot create", errno, err, n);
    return true;
}

bool ctl_fw_write(struct ctl_fw *f, const void *buf, size_t len, char *err, size_t n)
{
    const char *p = buf;
    while (len > 0) {
        ssize_t w = write(f->fd, p, len);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0)
            return fail_errno(f->path, "cannot write", errno, err, n);
        if (w == 0)
            return fail_errno(f->path, "cannot write", ENOSPC, err, n);
        p += w;
        len -= (size_t)w;
        f->off += (uint64_t)w;
    }
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

static bool fail_errno(const char *path, const char *what, int e, char *err, size_t n)
{
    char b[32];
    snprintf(err, n, "%s: %s: %s (%s)", path, what, strerror(e), ctl_errno_name(e, b, sizeof b));
    return false;
}
