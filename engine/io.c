/*
 * io.c — the engine's one file I/O layer (see io-int.h): EINTR and short-transfer loops, errno to
 * JET_err mapping, and a fault hook for tests.
 */
#include "io-int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include "jet.h"

/* The hook and its context are read on every call, so they are published together. */
struct hook {
    eng_io_fault_fn fn;
    void *ctx;
};
static struct hook hooks[2];
static _Atomic(struct hook *) cur_hook;
static atomic_int hook_slot;

void eng_io_set_fault_hook(eng_io_fault_fn fn, void *ctx)
{
    if (!fn) {
        atomic_store(&cur_hook, NULL);
        return;
    }
    int s = atomic_fetch_add(&hook_slot, 1) & 1;
    hooks[s].fn = fn;
    hooks[s].ctx = ctx;
    atomic_store(&cur_hook, &hooks[s]);
}

static int fault(enum eng_io_op op, int fd, const char *path, uint64_t off, size_t len)
{
    struct hook *h = atomic_load_explicit(&cur_hook, memory_order_acquire);
    return h ? h->fn(h->ctx, op, fd, path, off, len) : 0;
}

int eng_io_open(const char *path, int flags, int mode)
{
    int f = fault(ENG_IO_OPEN, -1, path, 0, 0);
    if (f < 0)
        return f;
    /* O_NONBLOCK so that a FIFO where a file belongs is refused instead of blocking the open until
     * a writer (or reader) comes; a FIFO opened for writing without a reader fails with ENXIO. */
    int fd;
    do
        fd = open(path, flags | O_CLOEXEC | O_NONBLOCK, mode);
    while (fd < 0 && errno == EINTR);
    if (fd < 0)
        return errno == ENXIO ? -ENG_IO_ENOTREG : -errno;
    struct stat st;
    int r = fstat(fd, &st) < 0 ? -errno : 0;
    /* Only regular files hold a database, log, checkpoint or stream (a directory is opened with
     * O_DIRECTORY, which open() itself checks). A device or socket is no file of ours either. */
    if (!r && !(flags & O_DIRECTORY) && !S_ISREG(st.st_mode))
        r = -ENG_IO_ENOTREG;
    if (!r && !(flags & O_NONBLOCK)) {
        int fl = fcntl(fd, F_GETFL);
        r = fl < 0 || fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) < 0 ? -errno : 0;
    }
    if (r) {
        close(fd);
        return r;
    }
    return fd;
}

int eng_io_close(int fd)
{
    if (fd < 0)
        return 0;
    /* Linux closes the descriptor even when close() reports EINTR: never retry. */
    return close(fd) < 0 && errno != EINTR ? -errno : 0;
}

ssize_t eng_io_pread(int fd, void *buf, size_t len, uint64_t off)
{
    int f = fault(ENG_IO_READ, fd, NULL, off, len);
    if (f < 0)
        return f;
    size_t done = 0;
    while (done < len) {
        ssize_t n = pread(fd, (char *)buf + done, len - done, (off_t)(off + done));
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        if (n == 0)
            break;
        done += (size_t)n;
    }
    return (ssize_t)done;
}

int eng_io_pwrite(int fd, const void *buf, size_t len, uint64_t off)
{
    struct iovec iov = {(void *)buf, len};
    return eng_io_pwritev(fd, &iov, 1, off);
}

int eng_io_pwritev(int fd, const struct iovec *iov_in, int iovcnt, uint64_t off)
{
    size_t total = 0;
    for (int i = 0; i < iovcnt; i++)
        total += iov_in[i].iov_len;
    int f = fault(ENG_IO_WRITE, fd, NULL, off, total);
    size_t limit = total;
    if (f < 0)
        return f;
    if (f > 0 && (size_t)f < total)
        limit = (size_t)f; /* torn write: write this much, then fail */

    /* Copy the vector so partial progress can be tracked without touching the caller's. */
    struct iovec local[64];
    const struct iovec *src = iov_in;
    int cnt = iovcnt;
    if (cnt > 64) {
        /* Rare: fall back to one write per element. */
        uint64_t pos = off;
        size_t left = limit;
        for (int i = 0; i < iovcnt && left > 0; i++) {
            size_t n = iov_in[i].iov_len < left ? iov_in[i].iov_len : left;
            struct iovec one = {iov_in[i].iov_base, n};
            int r = eng_io_pwritev(fd, &one, 1, pos);
            if (r < 0)
                return r;
            pos += n;
            left -= n;
        }
        return limit < total ? -EIO : 0;
    }
    size_t left = limit;
    int n = 0;
    for (int i = 0; i < cnt && left > 0; i++) {
        local[n].iov_base = src[i].iov_base;
        local[n].iov_len = src[i].iov_len < left ? src[i].iov_len : left;
        left -= local[n].iov_len;
        n++;
    }
    struct iovec *v = local;
    uint64_t pos = off;
    while (n > 0) {
        ssize_t w = pwritev(fd, v, n, (off_t)pos);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        if (w == 0)
            return -EIO;
        pos += (uint64_t)w;
        size_t ww = (size_t)w;
        while (n > 0 && ww >= v->iov_len) {
            ww -= v->iov_len;
            v++;
            n--;
        }
        if (n > 0 && ww) {
            v->iov_base = (char *)v->iov_base + ww;
            v->iov_len -= ww;
        }
    }
    return limit < total ? -EIO : 0;
}

int eng_io_fsync(int fd)
{
    int f = fault(ENG_IO_SYNC, fd, NULL, 0, 0);
    if (f < 0)
        return f;
    return fsync(fd) < 0 ? -errno : 0;
}

int eng_io_fdatasync(int fd)
{
    int f = fault(ENG_IO_SYNC, fd, NULL, 0, 0);
    if (f < 0)
        return f;
    return fdatasync(fd) < 0 ? -errno : 0;
}

int eng_io_fsync_dir(const char *dir)
{
    int f = fault(ENG_IO_SYNC, -1, dir, 0, 0);
    if (f < 0)
        return f;
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    int r = fsync(fd) < 0 ? -errno : 0;
    close(fd);
    /* Some file systems cannot sync a directory; that is not a failure of ours. */
    return (r == -EINVAL || r == -EBADF) ? 0 : r;
}

int eng_io_allocate(int fd, uint64_t len)
{
    int f = fault(ENG_IO_ALLOCATE, fd, NULL, 0, len);
    if (f < 0)
        return f;
    int r = posix_fallocate(fd, 0, (off_t)len);
    if (r == 0)
        return 0;
    if (r != EOPNOTSUPP && r != EINVAL)
        return -r;
    return ftruncate(fd, (off_t)len) < 0 ? -errno : 0;
}

int eng_io_truncate(int fd, uint64_t len)
{
    int f = fault(ENG_IO_TRUNCATE, fd, NULL, 0, len);
    if (f < 0)
        return f;
    int r;
    do
        r = ftruncate(fd, (off_t)len);
    while (r < 0 && errno == EINTR);
    return r < 0 ? -errno : 0;
}

int eng_io_rename(const char *from, const char *to)
{
    int f = fault(ENG_IO_RENAME, -1, from, 0, 0);
    if (f < 0)
        return f;
    return rename(from, to) < 0 ? -errno : 0;
}

int eng_io_rename_at(int fromdir, const char *from, int todir, const char *to, unsigned flags)
{
    int f = fault(ENG_IO_RENAME, -1, from, 0, 0);
    if (f < 0)
        return f;
    int r = flags ? renameat2(fromdir, from, todir, to, flags) : renameat(fromdir, from, todir, to);
    return r < 0 ? -errno : 0;
}

int eng_io_unlink(const char *path)
{
    int f = fault(ENG_IO_UNLINK, -1, path, 0, 0);
    if (f < 0)
        return f;
    return unlink(path) < 0 ? -errno : 0;
}

int64_t eng_io_size(int fd)
{
    struct stat st;
    if (fstat(fd, &st) < 0)
        return -errno;
    return (int64_t)st.st_size;
}

long eng_io_errno_to_jet(int neg_errno, int for_log)
{
    switch (-neg_errno) {
    case 0:
        return JET_errSuccess;
    case ENOSPC:
    case EDQUOT:
        return for_log ? JET_errLogDiskFull : JET_errDiskFull;
    case ENOENT:
        return JET_errFileNotFound;
    case EACCES:
    case EPERM:
    case EROFS:
        return JET_errFileAccessDenied;
    case EEXIST:
        return JET_errFileAlreadyExists;
    case EMFILE:
    case ENFILE:
        return JET_errOutOfFileHandles;
    case ENOMEM:
        return JET_errOutOfMemory;
    case ENAMETOOLONG:
    case ENG_IO_ENOTREG:
    case EISDIR:
        return JET_errInvalidPath;
    default:
        return for_log ? JET_errLogWriteFail : JET_errDiskIO;
    }
}
