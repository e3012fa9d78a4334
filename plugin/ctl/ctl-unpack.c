/*
 * ctl-unpack.c — the uncompressed bytes of a stored file, whatever it was stored as: the checksum
 * the writer reports and the manifest records is of the uncompressed stream, so a zstd stream is
 * decompressed (libzstd's streaming API) as it passes, during the backup as during verify and
 * restore. An optional sink receives the uncompressed bytes (restore writes them to the database
 * file; verify feeds them to the engine's page verifier).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zstd.h>

#include <jet.h>

#include "ctl-int.h"

static bool deliver(struct ctl_unpack *u, const void *buf, size_t len, char *err, size_t n);

bool ctl_unpack_init(struct ctl_unpack *u, bool zstd, ctl_sink_fn *sink, void *ctx, char *err, size_t n)
{
    memset(u, 0, sizeof *u);
    u->sink = sink;
    u->sink_ctx = ctx;
    if (!zstd)
        return true;
    u->dctx = ZSTD_createDCtx();
    u->out = malloc(ZSTD_DStreamOutSize());
    if (!u->dctx || !u->out) {
        ctl_unpack_free(u);
        snprintf(err, n, "out of memory");
        return false;
    }
    return true;
}

bool ctl_unpack_feed(struct ctl_unpack *u, const void *buf, size_t len, char *err, size_t n)
{
    if (!u->dctx)
        return deliver(u, buf, len, err, n);
    ZSTD_inBuffer in = {buf, len, 0};
    while (in.pos < in.size) {
        ZSTD_outBuffer out = {u->out, ZSTD_DStreamOutSize(), 0};
        size_t r = ZSTD_decompressStream(u->dctx, &out, &in);
        if (ZSTD_isError(r)) {
            snprintf(err, n, "not a valid zstd stream: %s", ZSTD_getErrorName(r));
            return false;
        }
        /* r == 0: a frame just ended (its content checksum checked by libzstd). */
        u->frame_open = r != 0;
        if (!deliver(u, u->out, out.pos, err, n))
            return false;
    }
    /* Output may still be buffered inside the context with no input left. */
    for (;;) {
        ZSTD_outBuffer out = {u->out, ZSTD_DStreamOutSize(), 0};
        size_t r = ZSTD_decompressStream(u->dctx, &out, &in);
        if (ZSTD_isError(r)) {
            snprintf(err, n, "not a valid zstd stream: %s", ZSTD_getErrorName(r));
            return false;
        }
        if (out.pos == 0)
            break;
        u->frame_open = r != 0;
        if (!deliver(u, u->out, out.pos, err, n))
            return false;
    }
    return true;
}

bool ctl_unpack_end(struct ctl_unpack *u, char *err, size_t n)
{
    if (u->dctx && (u->frame_open || u->size == 0)) {
        snprintf(err, n, "the zstd stream is cut short (its frame does not end)");
        return false;
    }
    return true;
}

void ctl_unpack_free(struct ctl_unpack *u)
{
    ZSTD_freeDCtx(u->dctx);
    free(u->out);
    u->dctx = NULL;
    u->out = NULL;
}

static bool deliver(struct ctl_unpack *u, const void *buf, size_t len, char *err, size_t n)
{
    if (len == 0)
        return true;
    u->crc = JetCrc32c(u->crc, buf, len);
    u->size += len;
    return !u->sink || u->sink(u->sink_ctx, buf, len, err, n);
}
