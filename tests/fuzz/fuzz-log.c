/*
 * fuzz-log.c — fuzz target for log-record decoding: the scanner (logscan_open/logscan_next, with
 * its torn-tail rule and its check of a start position) and log_seal_current, in engine/logscan.c.
 *
 * Built two ways (tests/fuzz/meson.build):
 *  - with -Dfuzz=true and clang: a libFuzzer binary "fuzz-log" (-fsanitize=fuzzer);
 *  - always: "fuzz-log-replay" (FUZZ_REPLAY_MAIN), which runs every file of the directories or
 *    files named on its command line through the same target; the unit test fuzz-log-corpus
 *    replays tests/fuzz/corpus-log/ so every build exercises the corpus.
 *
 * An input becomes a log directory of one or two generations of the smallest size (64 KiB):
 *   byte 0      flags: bit 0 two generations (an archived one, then edb.log), bit 1 recompute
 *               the record CRCs, bit 2 scan from a position inside the file (bytes 1..2), bit 3
 *               strict scan, bit 4 the last generation is archived (no edb.log), bit 5 truncate
 *               the last file to (bytes 3..4) * 8 bytes, bit 6 take the file header from the
 *               input (bytes 5.., its CRC recomputed), bit 7 with bit 1: record number
 *               (byte 3) keeps its CRC
 *   bytes 1..4  start offset / truncation length
 *   then        the record area of the files, split evenly between the generations, zero-padded.
 * With bit 1 the CRC of every record a scanner would meet (walking headers from the first
 * record, and on past spots where none can start) is recomputed after the mutation, so lengths, types, generations, alignment and the
 * torn-tail rule are what gets exercised rather than the checksum.
 *
 * Besides "no crash, no leak, no undefined behaviour" the target checks what log-int.h promises:
 * records come back in LSN order, inside their file, with type != 0 and != SEAL; the scan ends
 * with 1 or a documented error; log_seal_current either fails with the scan's verdict and
 * leaves the file byte for byte as it was, or seals at exactly the end the scan found, after
 * which a second scan returns the same records and ends at the same place.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "io-int.h"
#include "jet.h"
#include "log-int.h"
#include "logfmt-int.h"
#include "replay.h"


#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "fuzz-log: check failed: %s (line %d)\n", #cond, __LINE__);             \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

#define FSIZE LOG_MIN_FILE
#define MAX_RECS 4096

static char dir[256];
static const eng_logsig sig = {0x1122334455667788ull, 1700000000000000ull};

static void remove_dir(void)
{
    rmdir(dir); /* empty: every input cleans up behind itself */
}

static void make_dir(void)
{
    if (dir[0])
        return;
    const char *base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
    snprintf(dir, sizeof dir, "%s/fuzz-log-XXXXXX", base);
    CHECK(mkdtemp(dir) != NULL);
    atexit(remove_dir);
}

static void path_of(const char *name, char *out, size_t n)
{
    snprintf(out, n, "%s/%s", dir, name);
}

static void clean(void)
{
    static const char *names[] = {"edb.log", "edbtmp.log", "edb00001.log", "edb00002.log"};
    char p[320];
    for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
        path_of(names[i], p, sizeof p);
        unlink(p);
    }
}

/* Recompute the CRC of each record a scanner would meet, walking from the first record; where no
 * record can start (type 0, a length past the end) step 8 bytes and go on, so intact records can
 * follow damage. Record number `skip` keeps the input's CRC (a damaged record among intact ones). */
static void fix_crcs(uint8_t *f, int skip)
{
    uint32_t off = LOG_HDR_SIZE;
    int idx = 0;
    while (off + LOG_REC_HDR <= FSIZE) {
        uint8_t *h = f + off;
        uint32_t len = log_ld32(h + 4);
        uint16_t type = log_ld16(h + 8);
        if (type == 0 || (uint64_t)off + LOG_REC_HDR + len > FSIZE) {
            off += LOG_ALIGN;
            continue;
        }
        /* The generation field stays the input's: a wrong one must still be refused. */
        if (idx++ != skip) {
            uint32_t pc = eng_crc32c(0, h + LOG_REC_HDR, len);
            log_st32(h, log_rec_crc(pc, h, off));
        }
        uint64_t sz = log_rec_size(len);
        if ((uint64_t)off + sz > FSIZE)
            break;
        off += (uint32_t)sz;
    }
}

static void write_file(const char *name, const uint8_t *f, size_t n)
{
    char p[320];
    path_of(name, p, sizeof p);
    int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    CHECK(fd >= 0);
    CHECK(pwrite(fd, f, n, 0) == (ssize_t)n);
    close(fd);
}

static uint8_t *read_whole(const char *name, size_t *n)
{
    char p[320];
    path_of(name, p, sizeof p);
    int fd = open(p, O_RDONLY);
    if (fd < 0) {
        *n = 0;
        return NULL;
    }
    struct stat st;
    CHECK(fstat(fd, &st) == 0);
    uint8_t *b = malloc((size_t)st.st_size + 1);
    CHECK(b);
    CHECK(pread(fd, b, (size_t)st.st_size, 0) == st.st_size);
    close(fd);
    *n = (size_t)st.st_size;
    return b;
}

struct rec {
    uint16_t type;
    eng_lsn lsn, end;
    size_t len;
};

/* Scan from start; record what comes back. Returns the final result (1 or an error). */
static int scan(const eng_log_config *cfg, eng_lsn start, bool strict, struct rec *r, size_t *n, eng_lsn *end)
{
    *n = 0;
    eng_logscan *sc = NULL;
    int e = logscan_open(cfg, start, &sc);
    if (e) {
        CHECK(e < 0 && !sc);
        return e;
    }
    logscan_set_strict(sc, strict);
    eng_logrec_view v;
    eng_lsn prev = start;
    int rc;
    while ((rc = logscan_next(sc, &v)) == 0) {
        CHECK(v.type != 0 && v.type != ENG_LR_SEAL);
        CHECK(v.lsn >= prev && v.end > v.lsn);
        CHECK(ENG_LSN_GEN(v.lsn) == ENG_LSN_GEN(v.end));
        CHECK(ENG_LSN_OFF(v.lsn) >= LOG_HDR_SIZE && ENG_LSN_OFF(v.end) <= FSIZE);
        CHECK(ENG_LSN_OFF(v.end) - ENG_LSN_OFF(v.lsn) == log_rec_size(v.len));
        if (v.len) {
            volatile uint8_t x = v.data[0] ^ v.data[v.len - 1]; /* readable (ASan) */
            (void)x;
        }
        CHECK(*n < MAX_RECS);
        r[*n].type = v.type;
        r[*n].lsn = v.lsn;
        r[*n].end = v.end;
        r[*n].len = v.len;
        (*n)++;
        prev = v.end;
    }
    CHECK(logscan_next(sc, &v) == rc); /* the end and errors are sticky */
    *end = logscan_end(sc);
    logscan_close(sc);
    CHECK(rc == 1 || rc == JET_errLogFileCorrupt || rc == JET_errMissingLogFile ||
          rc == JET_errLogGenerationMismatch || rc == JET_errBadLogSignature ||
          rc == JET_errLogFileSizeMismatch || rc == JET_errBadLogVersion);
    return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 5)
        return 0;
    make_dir();
    clean();
    uint8_t flags = data[0];
    uint32_t at = (uint32_t)(data[1] | data[2] << 8) * 8u, cut = (uint32_t)(data[3] | data[4] << 8) * 8u;
    data += 5;
    size -= 5;
    int ngen = flags & 1 ? 2 : 1;
    uint8_t *f = calloc(1, FSIZE);
    CHECK(f);
    size_t per = size / (size_t)ngen;
    for (int g = 1; g <= ngen; g++) {
        memset(f, 0, FSIZE);
        log_fhdr h = {LOG_VERSION, (uint32_t)g, FSIZE, sig, 1};
        log_fhdr_encode(&h, f);
        const uint8_t *src = data + per * (size_t)(g - 1);
        size_t n = per;
        if (flags & 64 && n >= LOG_HDR_CRC_OFF) {
            /* A header from the input: its own fields, a right CRC. */
            memcpy(f, src, LOG_HDR_CRC_OFF);
            log_st32(f + LOG_HDR_CRC_OFF, eng_crc32c(0, f, LOG_HDR_CRC_OFF));
            src += LOG_HDR_CRC_OFF;
            n -= LOG_HDR_CRC_OFF;
        }
        if (n > FSIZE - LOG_HDR_SIZE)
            n = FSIZE - LOG_HDR_SIZE;
        memcpy(f + LOG_HDR_SIZE, src, n);
        if (flags & 2)
            fix_crcs(f, flags & 128 ? data[-2] : -1);
        size_t len = FSIZE;
        if (g == ngen && flags & 32 && cut < FSIZE)
            len = cut;
        bool current = g == ngen && !(flags & 16);
        char name[32];
        snprintf(name, sizeof name, current ? "edb.log" : "edb%05X.log", (unsigned)g);
        write_file(name, f, len);
    }
    free(f);

    eng_log_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.dir = dir;
    memcpy(cfg.base, "edb", 4);
    eng_lsn start = ENG_LSN(1, flags & 4 ? at : 0);
    bool strict = flags & 8;
    struct rec *r1 = malloc(MAX_RECS * sizeof *r1), *r2 = malloc(MAX_RECS * sizeof *r2);
    CHECK(r1 && r2);
    size_t n1 = 0, n2 = 0;
    eng_lsn end1 = 0, end2 = 0;
    int rc = scan(&cfg, start, strict, r1, &n1, &end1);

    /* Sealing the current file: only a torn tail is sealed, and then exactly where the scan of
     * the whole log ended; anything refused is left as it was. */
    if (ngen == 1 || !(flags & 16)) {
        size_t before_n, after_n;
        uint8_t *before = read_whole("edb.log", &before_n);
        int full = scan(&cfg, ENG_LSN(1, 0), false, r2, &n2, &end2);
        uint32_t sg = 0;
        eng_lsn send = 0;
        int se = log_seal_current(&cfg, &sg, &send);
        if (se) {
            uint8_t *after = read_whole("edb.log", &after_n);
            CHECK(after && before && after_n == before_n && !memcmp(after, before, before_n));
            free(after);
            if (se == JET_errLogFileCorrupt && full == 1)
                CHECK(0); /* a log the scanner reads to its end is sealable */
        } else if (before) {
            CHECK(sg != 0);
            if (full == 1 && ENG_LSN_GEN(end2) == sg) {
                CHECK(send == end2);
                size_t n3 = 0;
                eng_lsn end3 = 0;
                struct rec *r3 = malloc(MAX_RECS * sizeof *r3);
                CHECK(r3);
                CHECK(scan(&cfg, ENG_LSN(1, 0), false, r3, &n3, &end3) == 1);
                CHECK(n3 == n2 && end3 == end2);
                for (size_t i = 0; i < n2; i++)
                    CHECK(r3[i].lsn == r2[i].lsn && r3[i].len == r2[i].len && r3[i].type == r2[i].type);
                free(r3);
            }
        }
        free(before);
    }
    (void)rc;
    free(r1);
    free(r2);
    clean();
    return 0;
}

#ifdef FUZZ_REPLAY_MAIN
int main(int argc, char **argv)
{
    return fuzz_replay("fuzz-log-replay", argc - 1, argv + 1);
}
#endif
