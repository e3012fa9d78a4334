/*
 * ctl-verify.c — jetsnapctl verify DIR, as pg_verifybackup: the manifest's own checksum, then every
 * file it lists — present, a regular file, of its stored size, and (decompressed when zstd, with
 * libzstd checking the frame's content checksum too) of its recorded size and CRC-32C — then no
 * file in DIR that the manifest does not list, and every log generation of the recorded range
 * present. Database streams are also checked page by page as they are read, by the engine's own
 * streaming verifier (JetChecksumStream*): each page's checksum, both header copies and the
 * trailer — so a stream damaged before the manifest recorded its CRC-32C is caught too — and the
 * log range its trailer says a restore needs must lie within the backup's.
 * Each problem is printed with the file it is about; all files are checked, not only up to the
 * first bad one, so one run tells everything that is wrong.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jet.h>

#include "ctl-int.h"

static bool check_file(const char *dir, const struct ctl_manifest *m, const struct ctl_mfile *f);
static bool check_pages(const char *dir, const struct ctl_manifest *m, const struct ctl_mfile *f,
                        JET_CHECKSUMSTREAM *cs);
static bool sink_pages(void *ctx, const void *buf, size_t len, char *err, size_t n);
static bool check_strays(const char *dir, const struct ctl_manifest *m);
static bool check_range(const char *dir, const struct ctl_manifest *m);
static void bad(const char *dir, const char *name, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

int ctl_verify(const struct ctl_opts *o)
{
    struct ctl_manifest m;
    int rc = ctl_verify_set(o->from[0], &m, false);
    ctl_manifest_free(&m);
    return rc;
}

int ctl_verify_set(const char *dir, struct ctl_manifest *m, bool quiet_ok)
{
    char path[4200], err[4400];
    snprintf(path, sizeof path, "%s/%s", dir, CTL_MANIFEST_NAME);
    if (!ctl_manifest_load(path, m, err, sizeof err)) {
        ctl_err("verify: %s", err);
        return CTL_EXIT_DAMAGED;
    }
    bool ok = true;
    for (size_t i = 0; i < m->n_files; i++) {
        for (size_t k = 0; k < i; k++)
            if (!strcmp(m->files[i].stored_as, m->files[k].stored_as)) {
                bad(dir, m->files[i].stored_as, "listed twice in the manifest");
                ok = false;
            }
        ok &= check_file(dir, m, &m->files[i]);
    }
    ok &= check_strays(dir, m);
    ok &= check_range(dir, m);
    if (!ok) {
        ctl_err("verify: %s: the backup is damaged (see above)", dir);
        return CTL_EXIT_DAMAGED;
    }
    if (!quiet_ok)
        fprintf(stderr, "jetsnapctl: verify: %s: backup_manifest and %zu file%s verified (%s backup of instance %s, "
                "generations %u-%u%s%s)\n", dir, m->n_files, m->n_files == 1 ? "" : "s", m->type, m->instance,
                m->first_gen, m->last_gen, m->label[0] ? ", label " : "", m->label);
    return CTL_EXIT_OK;
}

static bool check_file(const char *dir, const struct ctl_manifest *m, const struct ctl_mfile *f)
{
    char path[4400], err[512];
    snprintf(path, sizeof path, "%s/%s", dir, f->stored_as);
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
    struct stat st;
    if (fd < 0) {
        char b[32];
        bad(dir, f->stored_as, "%s (%s)", errno == ENOENT ? "missing" : strerror(errno),
            ctl_errno_name(errno, b, sizeof b));
        return false;
    }
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        bad(dir, f->stored_as, "not a regular file");
        close(fd);
        return false;
    }
    if ((uint64_t)st.st_size != f->stored_size) {
        bad(dir, f->stored_as, "%lld bytes, the manifest says %llu", (long long)st.st_size,
            (unsigned long long)f->stored_size);
        close(fd);
        return false;
    }
    struct ctl_unpack u;
    char *buf = malloc(CTL_IO_BUF);
    JET_CHECKSUMSTREAM *cs = NULL;
    bool ok = buf && (f->log || JetChecksumStreamBegin(&cs) == JET_errSuccess) &&
              ctl_unpack_init(&u, f->zstd, cs ? sink_pages : NULL, cs, err, sizeof err);
    if (!ok) {
        free(buf);
        close(fd);
        if (cs)
            JetChecksumStreamEnd(cs, NULL);
        bad(dir, f->stored_as, "out of memory");
        return false;
    }
    for (;;) {
        ssize_t r = read(fd, buf, CTL_IO_BUF);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            snprintf(err, sizeof err, "read error: %s", strerror(errno));
            ok = false;
        }
        if (r <= 0)
            break;
        if (!(ok = ctl_unpack_feed(&u, buf, (size_t)r, err, sizeof err)))
            break;
    }
    ok = ok && ctl_unpack_end(&u, err, sizeof err);
    char got[16], want[16];
    ctl_crc_format(u.crc, got);
    ctl_crc_format(f->crc, want);
    if (!ok)
        bad(dir, f->stored_as, "%s", err);
    else if (u.size != f->size)
        bad(dir, f->stored_as, "%llu bytes uncompressed, the manifest says %llu", (unsigned long long)u.size,
            (unsigned long long)f->size);
    else if (u.crc != f->crc)
        bad(dir, f->stored_as, "checksum mismatch: the manifest says %s, the file has %s", want, got);
    ok = ok && u.size == f->size && u.crc == f->crc;
    /* A stream that could not be read whole has nothing more to say page by page. */
    if (cs && ok)
        ok = check_pages(dir, m, f, cs);
    else if (cs)
        JetChecksumStreamEnd(cs, NULL);
    ctl_unpack_free(&u);
    free(buf);
    close(fd);
    return ok;
}

/* Ends the engine's check of a database stream (frees cs) and reports what it found. */
static bool check_pages(const char *dir, const struct ctl_manifest *m, const struct ctl_mfile *f,
                        JET_CHECKSUMSTREAM *cs)
{
    JET_CHECKSUMINFO info = {.cbStruct = sizeof info};
    JET_ERR e = JetChecksumStreamEnd(cs, &info);
    char name[128];
    if (e != JET_errSuccess) {
        ctl_jet_err_name(e, name, sizeof name);
        if (info.pgnoFirstBad)
            bad(dir, f->stored_as, "%s: %llu damaged page%s, the first is page %lu (stream offset %llu)", name,
                info.cpgBad, info.cpgBad == 1 ? "" : "s", info.pgnoFirstBad, info.ibFirstBad);
        else
            bad(dir, f->stored_as, "%s: not a whole database stream (header %s, trailer %s)", name,
                info.fHeaderValid ? "intact" : "damaged", info.fTrailerValid ? "intact" : "missing or damaged");
        return false;
    }
    /* A full or copy backup must hold every generation a restore of its databases replays. */
    if (info.genLow && (info.genLow < m->first_gen || info.genHigh > m->last_gen)) {
        bad(dir, f->stored_as, "a restore of it needs log generations %lu-%lu, the backup holds %u-%u", info.genLow,
            info.genHigh, m->first_gen, m->last_gen);
        return false;
    }
    return true;
}

static bool sink_pages(void *ctx, const void *buf, size_t len, char *err, size_t n)
{
    (void)err;
    (void)n;
    /* Feed takes an unsigned long count; the buffers here are at most ZSTD_DStreamOutSize or
     * CTL_IO_BUF bytes. Damage is reported by End, never by Feed. */
    JetChecksumStreamFeed(ctx, buf, (unsigned long)len);
    return true;
}

static bool check_strays(const char *dir, const struct ctl_manifest *m)
{
    DIR *d = opendir(dir);
    if (!d) {
        bad(dir, ".", "cannot list the directory: %s", strerror(errno));
        return false;
    }
    bool ok = true;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..") || !strcmp(e->d_name, CTL_MANIFEST_NAME))
            continue;
        bool listed = false;
        for (size_t i = 0; i < m->n_files && !listed; i++)
            listed = !strcmp(m->files[i].stored_as, e->d_name);
        if (!listed) {
            bad(dir, e->d_name, "present but not in the manifest");
            ok = false;
        }
    }
    closedir(d);
    return ok;
}

static bool check_range(const char *dir, const struct ctl_manifest *m)
{
    bool ok = m->first_gen > 0 && m->first_gen <= m->last_gen;
    if (!ok)
        bad(dir, CTL_MANIFEST_NAME, "the log range %u-%u is empty", m->first_gen, m->last_gen);
    for (uint32_t g = m->first_gen; ok && g <= m->last_gen; g++) {
        bool have = false;
        for (size_t i = 0; i < m->n_files && !have; i++)
            have = m->files[i].log && m->files[i].generation == g;
        if (!have) {
            bad(dir, CTL_MANIFEST_NAME, "log generation %u of the range %u-%u is not in the backup", g, m->first_gen,
                m->last_gen);
            ok = false;
        }
    }
    return ok;
}

static void bad(const char *dir, const char *name, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "jetsnapctl: verify: %s/%s: ", dir, name);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}
