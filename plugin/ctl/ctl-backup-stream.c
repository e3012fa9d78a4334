/*
 * ctl-backup-stream.c — one file of a backup: the writer's socket read to EOF into the
 * destination in large page-aligned chunks, with the CRC-32C of the uncompressed bytes computed on
 * the way (a zstd stream is decompressed on the side) so that it can be held against the writer's
 * GetFileResult and recorded in the manifest. EOF proves nothing by itself: the caller asks.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ctl-int.h"

bool ctl_stream_file(int fd, struct ctl_dest *d, const char *stored_as, int64_t expected, bool zstd,
                     void (*progress)(void *ctx, uint64_t bytes), void *pctx, struct ctl_stream_result *r,
                     bool *dest_failed, char *err, size_t n)
{
    memset(r, 0, sizeof *r);
    *dest_failed = false;
    void *buf = NULL;
    if (posix_memalign(&buf, 4096, CTL_IO_BUF) != 0) {
        snprintf(err, n, "out of memory");
        return false;
    }
    struct ctl_unpack u;
    if (!ctl_unpack_init(&u, zstd, NULL, NULL, err, n)) {
        free(buf);
        return false;
    }
    bool ok = ctl_dest_begin(d, stored_as, expected, err, n);
    *dest_failed = !ok;
    while (ok) {
        /* Fill the buffer before writing: the socket gives at most its buffer per read, and a
         * destination written in big chunks is what keeps the disk streaming. */
        size_t have = 0;
        bool eof = false;
        while (have < CTL_IO_BUF) {
            ssize_t got = read(fd, (char *)buf + have, CTL_IO_BUF - have);
            if (got < 0 && errno == EINTR)
                continue;
            if (got < 0) {
                char b[32];
                snprintf(err, n, "%s: reading the writer's stream: %s (%s)", stored_as, strerror(errno),
                         ctl_errno_name(errno, b, sizeof b));
                ok = false;
                break;
            }
            if (got == 0) {
                eof = true;
                break;
            }
            have += (size_t)got;
        }
        if (!ok || have == 0)
            break;
        if (!ctl_dest_write(d, buf, have, err, n)) {
            *dest_failed = true;
            ok = false;
            break;
        }
        char uerr[256];
        if (!ctl_unpack_feed(&u, buf, have, uerr, sizeof uerr)) {
            snprintf(err, n, "%s: the writer's stream: %s", stored_as, uerr);
            ok = false;
            break;
        }
        r->stored += have;
        if (progress)
            progress(pctx, have);
        if (eof)
            break;
    }
    char uerr[256];
    if (ok && !ctl_unpack_end(&u, uerr, sizeof uerr)) {
        snprintf(err, n, "%s: the writer's stream: %s", stored_as, uerr);
        ok = false;
    }
    if (ok && !ctl_dest_end(d, err, n)) {
        *dest_failed = true;
        ok = false;
    }
    r->uncompressed = u.size;
    r->crc = u.crc;
    ctl_unpack_free(&u);
    free(buf);
    return ok;
}
