/*
 * ctl-restore.c — jetsnapctl restore: a chain of backup sets (a full or copy, then each
 * incremental or differential that builds on the one before) brought back through the engine.
 * Every set is verified first and the chain's links checked (each set's base is the previous
 * set's manifest, by its checksum), so a damaged or mismatched set is refused before a byte is
 * written. Then the database streams of the first set are decompressed to --to DIR (or to the
 * --map NEW path of the database whose original path is OLD), the logs of the whole chain to a
 * scratch directory beside them, and JetExternalRestoreUntil replays them (RSTMAP: original path
 * -> restored file); --until-generation bounds the replay at a generation, --until TIME stops it
 * before the first transaction committed at or after TIME (the commit times the log records).
 * The restored files are never written over existing ones.
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jet.h>

#include "ctl-int.h"

struct restore {
    const struct ctl_opts *o;
    struct ctl_manifest *m; /* one per --from */
    size_t n;
    char scratch[4200];
    JET_RSTMAP *map;
    size_t n_map;
    uint32_t gen_low, gen_high;
    size_t logs;
    JET_RSTSTOP stop; /* what the replay did */
};

static int check_chain(struct restore *r);
static int restore_databases(struct restore *r);
static int restore_logs(struct restore *r);
static int replay(struct restore *r);
static bool unpack_to(const char *src, const struct ctl_mfile *f, const char *dst, char *err, size_t n);
static bool sink_fw(void *ctx, const void *buf, size_t len, char *err, size_t n);
static const char *mapped(const struct ctl_opts *o, const char *path);
static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw);
static bool mkdirs(const char *dir, bool parent_only);
static void report(const struct restore *r);

int ctl_restore(const struct ctl_opts *o)
{
    struct restore r = {.o = o, .n = o->n_from};
    r.m = calloc(o->n_from, sizeof *r.m);
    if (!r.m) {
        ctl_err("out of memory");
        return CTL_EXIT_FAILURE;
    }
    int rc = CTL_EXIT_OK;
    for (size_t i = 0; i < r.n; i++)
        if (ctl_verify_set(o->from[i], &r.m[i], true) != CTL_EXIT_OK)
            rc = CTL_EXIT_DAMAGED;
    if (rc != CTL_EXIT_OK)
        ctl_err("restore: refused: a backup set is damaged; nothing was restored");
    if (rc == CTL_EXIT_OK)
        rc = check_chain(&r);
    if (rc == CTL_EXIT_OK)
        rc = restore_databases(&r);
    if (rc == CTL_EXIT_OK)
        rc = restore_logs(&r);
    if (rc == CTL_EXIT_OK)
        rc = replay(&r);
    if (r.scratch[0])
        nftw(r.scratch, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    if (rc == CTL_EXIT_OK)
        report(&r);
    for (size_t i = 0; i < r.n_map; i++) {
        free(r.map[i].szDatabaseName);
        free(r.map[i].szNewDatabaseName);
    }
    free(r.map);
    for (size_t i = 0; i < r.n; i++)
        ctl_manifest_free(&r.m[i]);
    free(r.m);
    return rc;
}

static int check_chain(struct restore *r)
{
    const struct ctl_manifest *first = &r->m[0];
    if (strcmp(first->type, "full") != 0 && strcmp(first->type, "copy") != 0) {
        ctl_err("restore: %s: the first --from must be a full or copy backup (it holds the databases), not %s",
                r->o->from[0], first->type);
        return CTL_EXIT_DAMAGED;
    }
    for (size_t i = 1; i < r->n; i++) {
        const struct ctl_manifest *m = &r->m[i], *prev = &r->m[i - 1];
        if (strcmp(m->type, "incremental") != 0 && strcmp(m->type, "differential") != 0) {
            ctl_err("restore: %s: a later --from must be an incremental or differential backup, not %s",
                    r->o->from[i], m->type);
            return CTL_EXIT_DAMAGED;
        }
        if (!m->has_base || strcmp(m->base_checksum, prev->checksum) != 0 || strcmp(m->instance, prev->instance)) {
            ctl_err("restore: %s: does not build on %s (its base is the backup whose manifest has checksum %s; "
                    "%s's is %s)", r->o->from[i], r->o->from[i - 1], m->has_base ? m->base_checksum : "none",
                    r->o->from[i - 1], prev->checksum);
            return CTL_EXIT_DAMAGED;
        }
    }
    r->gen_low = first->first_gen;
    r->gen_high = r->m[r->n - 1].last_gen;
    if (r->o->until_gen) {
        if (r->o->until_gen < r->gen_low || r->o->until_gen > r->gen_high) {
            ctl_err("restore: --until-generation %u is outside the chain's logs, generations %u-%u", r->o->until_gen,
                    r->gen_low, r->gen_high);
            return CTL_EXIT_USAGE;
        }
        r->gen_high = r->o->until_gen;
    }
    return CTL_EXIT_OK;
}

static int restore_databases(struct restore *r)
{
    const struct ctl_manifest *m = &r->m[0];
    char err[4600];
    if (!mkdirs(r->o->to, false))
        return CTL_EXIT_RESTORE;
    for (size_t i = 0; i < m->n_files; i++) {
        const struct ctl_mfile *f = &m->files[i];
        if (f->log)
            continue;
        char dst[4400];
        const char *to = mapped(r->o, f->path);
        if (to) {
            snprintf(dst, sizeof dst, "%s", to);
            if (!mkdirs(dst, true))
                return CTL_EXIT_RESTORE;
        } else
            snprintf(dst, sizeof dst, "%s/%s", r->o->to, f->name);
        JET_RSTMAP *v = realloc(r->map, (r->n_map + 1) * sizeof *v);
        if (!v) {
            ctl_err("out of memory");
            return CTL_EXIT_FAILURE;
        }
        r->map = v;
        v[r->n_map] = (JET_RSTMAP){strdup(f->path), strdup(dst)};
        r->n_map++;
        if (!unpack_to(r->o->from[0], f, dst, err, sizeof err)) {
            ctl_err("restore: %s", err);
            return CTL_EXIT_RESTORE;
        }
    }
    if (r->n_map == 0) {
        ctl_err("restore: %s: the backup holds no database", r->o->from[0]);
        return CTL_EXIT_DAMAGED;
    }
    return CTL_EXIT_OK;
}

static int restore_logs(struct restore *r)
{
    snprintf(r->scratch, sizeof r->scratch, "%s/.jetsnap-restore-logs.XXXXXX", r->o->to);
    if (!mkdtemp(r->scratch)) {
        ctl_err("restore: %s: cannot create a scratch directory for the logs: %s", r->o->to, strerror(errno));
        r->scratch[0] = '\0';
        return CTL_EXIT_RESTORE;
    }
    char err[4600];
    for (size_t s = 0; s < r->n; s++) {
        const struct ctl_manifest *m = &r->m[s];
        for (size_t i = 0; i < m->n_files; i++) {
            const struct ctl_mfile *f = &m->files[i];
            if (!f->log || f->generation > r->gen_high)
                continue;
            char dst[4600];
            snprintf(dst, sizeof dst, "%s/%s", r->scratch, f->name);
            /* A generation in two sets of the chain is the same closed file: keep the first copy,
             * but only if it is the same bytes. */
            bool dup = false;
            for (size_t p = 0; p < s && !dup; p++)
                for (size_t k = 0; k < r->m[p].n_files && !dup; k++)
                    if (r->m[p].files[k].log && !strcmp(r->m[p].files[k].name, f->name)) {
                        dup = true;
                        if (r->m[p].files[k].crc != f->crc) {
                            ctl_err("restore: %s/%s and %s/%s are the same log generation with different contents",
                                    r->o->from[p], r->m[p].files[k].stored_as, r->o->from[s], f->stored_as);
                            return CTL_EXIT_DAMAGED;
                        }
                    }
            if (dup)
                continue;
            if (!unpack_to(r->o->from[s], f, dst, err, sizeof err)) {
                ctl_err("restore: %s", err);
                return CTL_EXIT_RESTORE;
            }
            r->logs++;
        }
    }
    return ctl_fsync_dir(r->scratch, err, sizeof err) ? CTL_EXIT_OK : (ctl_err("restore: %s", err), CTL_EXIT_RESTORE);
}

static int replay(struct restore *r)
{
    JET_LOGINFO li = {.cbSize = sizeof li, .ulGenLow = r->gen_low, .ulGenHigh = r->gen_high};
    snprintf(li.szBaseName, sizeof li.szBaseName, "%s", r->m[0].log_base_name);
    r->stop = (JET_RSTSTOP){.cbStruct = sizeof r->stop, .usecStopBefore = r->o->until_usec};
    JET_ERR e = JetExternalRestoreUntil(NULL, NULL, r->map, (long)r->n_map, r->scratch, &li, NULL, NULL, NULL, NULL,
                                        &r->stop);
    if (e != JET_errSuccess) {
        char name[128];
        if (e == JET_errEndingRestoreLogTooLow && (r->o->until_usec || r->o->until_gen))
            ctl_err("restore: the point asked for (--until%s) is before the backup of %s is consistent: a backup "
                    "taken while the database changed needs its logs replayed at least to its end (%s)",
                    r->o->until_usec ? "" : "-generation", r->m[0].instance, ctl_jet_err_name(e, name, sizeof name));
        else
            ctl_err("restore: JetExternalRestoreUntil of %s (logs %u-%u of %s) failed: %s", r->map[0].szNewDatabaseName,
                    r->gen_low, r->gen_high, r->o->from[r->n - 1], ctl_jet_err_name(e, name, sizeof name));
        /* The restored files are still marked as backups (the engine's rule): remove them, so
         * nobody attaches a half-restored database by mistake. */
        for (size_t i = 0; i < r->n_map; i++)
            unlink(r->map[i].szNewDatabaseName);
        return CTL_EXIT_RESTORE;
    }
    return CTL_EXIT_OK;
}

static bool unpack_to(const char *src, const struct ctl_mfile *f, const char *dst, char *err, size_t n)
{
    char path[4400];
    snprintf(path, sizeof path, "%s/%s", src, f->stored_as);
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) {
        char b[32];
        snprintf(err, n, "%s: cannot open: %s (%s)", path, strerror(errno), ctl_errno_name(errno, b, sizeof b));
        return false;
    }
    struct ctl_fw fw;
    if (!ctl_fw_open(&fw, dst, err, n)) {
        close(fd);
        return false;
    }
    struct ctl_unpack u;
    void *buf = NULL;
    bool ok = posix_memalign(&buf, 4096, CTL_IO_BUF) == 0 && ctl_unpack_init(&u, f->zstd, sink_fw, &fw, err, n);
    if (!ok) {
        free(buf);
        close(fd);
        ctl_fw_abort(&fw);
        snprintf(err, n, "out of memory");
        return false;
    }
    char uerr[4800] = "";
    for (;;) {
        ssize_t got = read(fd, buf, CTL_IO_BUF);
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0) {
            snprintf(uerr, sizeof uerr, "%s: read error: %s", path, strerror(errno));
            ok = false;
        }
        if (got <= 0)
            break;
        if (!(ok = ctl_unpack_feed(&u, buf, (size_t)got, uerr, sizeof uerr)))
            break;
    }
    ok = ok && ctl_unpack_end(&u, uerr, sizeof uerr);
    /* Verified a moment ago, but the bytes written are what count. */
    if (ok && (u.crc != f->crc || u.size != f->size)) {
        snprintf(uerr, sizeof uerr, "%s: changed since it was verified (checksum or size differ)", path);
        ok = false;
    }
    ctl_unpack_free(&u);
    free(buf);
    close(fd);
    if (ok)
        return ctl_fw_close(&fw, err, n);
    /* A sink failure already put its sentence (naming the destination) in uerr. */
    snprintf(err, n, "%s", uerr);
    ctl_fw_abort(&fw);
    return false;
}

static bool sink_fw(void *ctx, const void *buf, size_t len, char *err, size_t n)
{
    return ctl_fw_write(ctx, buf, len, err, n);
}

/* The NEW of the --map OLD=NEW whose OLD is path, or NULL. */
static const char *mapped(const struct ctl_opts *o, const char *path)
{
    for (size_t i = 0; i < o->n_maps; i++) {
        const char *eq = strchr(o->maps[i], '=');
        if (eq && (size_t)(eq - o->maps[i]) == strlen(path) && !strncmp(o->maps[i], path, strlen(path)))
            return eq + 1;
    }
    return NULL;
}

/* mkdir -p of dir (of its parent with parent_only); says what failed. */
static bool mkdirs(const char *dir, bool parent_only)
{
    char p[4400];
    snprintf(p, sizeof p, "%s", dir);
    if (parent_only) {
        char *slash = strrchr(p, '/');
        if (!slash || slash == p)
            return true;
        *slash = '\0';
    }
    for (char *s = p + 1;; s++) {
        if (*s != '/' && *s != '\0')
            continue;
        char c = *s;
        *s = '\0';
        if (mkdir(p, 0750) != 0 && errno != EEXIST) {
            char b[32];
            ctl_err("restore: %s: cannot create the directory: %s (%s)", p, strerror(errno),
                    ctl_errno_name(errno, b, sizeof b));
            return false;
        }
        *s = c;
        if (!c)
            return true;
    }
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)ftw;
    if (flag == FTW_DP)
        rmdir(path);
    else
        unlink(path);
    return 0;
}

static void report(const struct restore *r)
{
    const struct ctl_manifest *last = &r->m[r->n - 1];
    const JET_RSTSTOP *st = &r->stop;
    char when[64] = "none";
    if (st->usecLastCommit)
        ctl_format_time(st->usecLastCommit, when, sizeof when);
    if (r->o->json) {
        json_object *j = json_object_new_object(), *dbs = json_object_new_array();
        for (size_t i = 0; i < r->n_map; i++) {
            json_object *d = json_object_new_object();
            json_object_object_add(d, "original_path", json_object_new_string(r->map[i].szDatabaseName));
            json_object_object_add(d, "path", json_object_new_string(r->map[i].szNewDatabaseName));
            json_object_array_add(dbs, d);
        }
        uint64_t nlogs = st->genHighReplayed ? st->genHighReplayed - st->genLowReplayed + 1 : 0;
        json_object_object_add(j, "instance", json_object_new_string(last->instance));
        json_object_object_add(j, "sets", json_object_new_uint64(r->n));
        json_object_object_add(j, "databases", dbs);
        json_object_object_add(j, "first_generation", json_object_new_uint64(st->genLowReplayed));
        json_object_object_add(j, "last_generation", json_object_new_uint64(st->genHighReplayed));
        json_object_object_add(j, "logs_replayed", json_object_new_uint64(nlogs));
        json_object_object_add(j, "commits_replayed", json_object_new_uint64(st->cCommitsReplayed));
        json_object_object_add(j, "last_commit_time_usec",
                               st->usecLastCommit ? json_object_new_uint64(st->usecLastCommit) : NULL);
        json_object_object_add(j, "last_commit_time", st->usecLastCommit ? json_object_new_string(when) : NULL);
        puts(json_object_to_json_string_ext(j, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE));
        json_object_put(j);
        return;
    }
    fprintf(stderr, "jetsnapctl: restore completed: instance %s, %zu backup set%s, %zu database%s, log generations "
            "%lu-%lu replayed, %llu commits, the last at %s\n", last->instance, r->n, r->n == 1 ? "" : "s", r->n_map,
            r->n_map == 1 ? "" : "s", st->genLowReplayed, st->genHighReplayed, st->cCommitsReplayed, when);
    for (size_t i = 0; i < r->n_map; i++)
        fprintf(stderr, "jetsnapctl:   %s (was %s)\n", r->map[i].szNewDatabaseName, r->map[i].szDatabaseName);
}
