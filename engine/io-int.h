/*
 * io-int.h — every file operation of the engine goes through these wrappers, so tests can inject
 * ENOSPC, EIO, short and torn writes and fsync failures (in the spirit of SQLite's test VFS), and
 * can see every write that reaches a file (test-snapshot.c: none while an instance is frozen).
 *
 * All functions return 0 (or a byte count) on success and -errno on failure; they retry EINTR and
 * loop over short reads/writes. eng_io_errno_to_jet maps an errno to the matching JET_err.
 */
#ifndef ENG_IO_INT_H
#define ENG_IO_INT_H

#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

enum eng_io_op {
    ENG_IO_OPEN,
    ENG_IO_READ,
    ENG_IO_WRITE,
    ENG_IO_SYNC,
    ENG_IO_ALLOCATE,
    ENG_IO_TRUNCATE,
    ENG_IO_RENAME,
    ENG_IO_UNLINK,
};

/* A fault hook sees every operation before it is done. It returns 0 to let it happen, a negative
 * errno to fail it, or (for ENG_IO_WRITE only) a positive byte count smaller than len to write
 * only that prefix and then fail with -EIO (a torn write). fd is -1 for path operations. */
typedef int (*eng_io_fault_fn)(void *ctx, enum eng_io_op op, int fd, const char *path, uint64_t off,
                               size_t len);
void eng_io_set_fault_hook(eng_io_fault_fn fn, void *ctx);

/* Returns fd or -errno; O_CLOEXEC added. Anything but a regular file (a directory with O_DIRECTORY)
 * is refused with -ENG_IO_ENOTREG, without blocking: a FIFO, socket, device or directory. */
#define ENG_IO_ENOTREG ENODEV
int eng_io_open(const char *path, int flags, int mode);
int eng_io_close(int fd);
ssize_t eng_io_pread(int fd, void *buf, size_t len, uint64_t off);        /* bytes read (short at EOF) */
int eng_io_pwrite(int fd, const void *buf, size_t len, uint64_t off);     /* all or -errno */
int eng_io_pwritev(int fd, const struct iovec *iov, int iovcnt, uint64_t off);
int eng_io_fsync(int fd);
int eng_io_fdatasync(int fd);
int eng_io_fsync_dir(const char *dir);
int eng_io_allocate(int fd, uint64_t len); /* reserve len bytes (posix_fallocate, falling back to ftruncate) */
int eng_io_truncate(int fd, uint64_t len);
int eng_io_rename(const char *from, const char *to);
/* renameat2 (flags 0: renameat); the fault hook sees ENG_IO_RENAME with path = from. */
int eng_io_rename_at(int fromdir, const char *from, int todir, const char *to, unsigned flags);
int eng_io_unlink(const char *path);
int64_t eng_io_size(int fd); /* file size or -errno */

/* ENOSPC -> JET_errDiskFull (or JET_errLogDiskFull when for_log), ENOENT -> JET_errFileNotFound,
 * EACCES/EPERM/EROFS -> JET_errFileAccessDenied, EEXIST -> JET_errFileAlreadyExists,
 * EMFILE/ENFILE -> JET_errOutOfFileHandles, ENOMEM -> JET_errOutOfMemory, ENAMETOOLONG and
 * ENG_IO_ENOTREG/EISDIR (not a regular file) -> JET_errInvalidPath, as ESE does for a name that is
 * not a file's, else JET_errDiskIO (JET_errLogWriteFail when for_log). */
long eng_io_errno_to_jet(int neg_errno, int for_log);

/* CRC-32C (Castagnoli), hardware-accelerated where the CPU has it. */
uint32_t eng_crc32c(uint32_t crc, const void *buf, size_t len);

#endif
