/*
 * backup-dir.c — JetBackupInstance: the whole external backup sequence into a directory, and
 * JetRestoreInstance's counterpart: put the databases of such a directory back where they were
 * and run hard recovery.
 *
 * A backup directory holds each database stream as <its file name> (a database file with the
 * trailer page appended, see backup.c), the log generations as edbXXXXX.log, and the marker
 * .jetsnap-backup: the line "jetsnap backup 1", then the name of every file the backup wrote,
 * each listed (and synced) before the file is created. The marker is how a later atomic backup
 * knows that everything in the directory is a backup of ours that it may delete; a directory with
 * anything else in it (an instance's live files, a user's files, a subdirectory or a symbolic
 * link, a file some instance holds locked) is refused with BackupDirectoryNotEmpty, untouched.
 *
 * A full backup needs an empty (or new) directory, unless it is atomic: then it is built in the
 * sibling directory .<name>.jetsnap-tmp and, once whole and synced, swapped with <name> by one
 * renameat2(RENAME_EXCHANGE) (the previous backup then sits under the staging name and is
 * deleted). A crash at any point leaves <name> either the previous backup or the new one, whole;
 * the leftover staging directory is deleted by the next backup. Where the file system cannot
 * exchange, <name> is renamed to .<name>.jetsnap-old and the new one renamed in: a crash between
 * the two renames leaves no <name>, and the next backup or restore renames the previous backup
 * back. The logs are truncated only once the new backup is in place. An incremental backup adds
 * the logs since the last one to a directory that holds a backup (with its marker) already; a gap
 * between the logs there and the first log to add is refused (InvalidLogSequence).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "engine-int.h"

#define CHUNK (4u << 20)
#define MARKER ".jetsnap-backup"
#define MARKER_HEAD "jetsnap backup 1\n"
#define MARKER_MAX (1 << 20)

/* Where a backup directory is: its parent, held open, and its last name there. */
typedef struct bkloc {
    int pfd;                 /* the parent directory, -1 if it cannot be opened */
    int tfd;                 /* the staging directory while this backup builds it, flock'ed */
    char parent[ENG_PATH_MAX];
    char name[NAME_MAX + 1]; /* "" when the path names no entry that could be swapped ("/", "..") */
    char tmp[NAME_MAX + 32]; /* .<name>.jetsnap-tmp: where an atomic backup is built */
    char old[NAME_MAX + 32]; /* .<name>.jetsnap-old: the previous backup, when exchange is missing */
} bkloc;

static void status(JET_PFNSTATUS pfn, JET_SNP snp, JET_SNT snt)
{
    if (pfn)
        pfn(0, snp, snt, NULL);
}

/* A directory stream over a duplicate of dfd, from its start (a duplicate shares the offset an
 * earlier scan left at the end); NULL with errno set on failure. */
static DIR *dir_stream(int dfd)
{
    int fd = dup(dfd);
    if (fd < 0)
        return NULL;
    DIR *d = fdopendir(fd);
    if (!d) {
        int e = errno;
        close(fd);
        errno = e;
        return NULL;
    }
    rewinddir(d);
    return d;
}

/* Entries of dir whose names do not start with '.', 0 if none; -errno if it cannot be read. */
static int count_files(int dfd)
{
    DIR *d = dir_stream(dfd);
    if (!d)
        return -errno;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        if (e->d_name[0] != '.')
            n++;
    closedir(d);
    return n;
}

/* Highest edbXXXXX.log generation in dir (0 if none). */
static uint32_t top_log(const char *dir, const char *base)
{
    DIR *d = opendir(dir);
    if (!d)
        return 0;
    uint32_t top = 0;
    size_t bl = strlen(base);
    struct dirent *e;
    while ((e = readdir(d))) {
        size_t l = strlen(e->d_name);
        if ((l == bl + 9 || l == bl + 12) && !strncmp(e->d_name, base, bl) && !strcmp(e->d_name + l - 4, ".log")) {
            char *end;
            unsigned long g = strtoul(e->d_name + bl, &end, 16);
            if (end == e->d_name + l - 4 && g > top && g <= UINT32_MAX)
                top = (uint32_t)g;
        }
    }
    closedir(d);
    return top;
}

static long sync_dir(const char *dir)
{
    int r = eng_io_fsync_dir(dir);
    return r < 0 ? eng_io_errno_to_jet(r, 0) : JET_errSuccess;
}

/* Start a backup's marker in dir (replacing a stale one), synced with its directory entry. */
static long marker_create(const char *dir)
{
    char path[ENG_PATH_MAX + 32];
    if (snprintf(path, sizeof path, "%s/%s", dir, MARKER) >= (int)sizeof path)
        return JET_errInvalidPath;
    int fd = eng_io_open(path, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW, 0644);
    if (fd < 0)
        return eng_io_errno_to_jet(fd, 0);
    int r = eng_io_pwrite(fd, MARKER_HEAD, strlen(MARKER_HEAD), 0);
    if (!r)
        r = eng_io_fsync(fd);
    eng_io_close(fd);
    return r < 0 ? eng_io_errno_to_jet(r, 0) : sync_dir(dir);
}

/* List name in dir's marker before the file is created, so that a backup cut short leaves no
 * file the next atomic backup would not know as its own. */
static long marker_add(const char *dir, const char *name)
{
    char path[ENG_PATH_MAX + 32], line[NAME_MAX + 2];
    if (snprintf(path, sizeof path, "%s/%s", dir, MARKER) >= (int)sizeof path ||
        snprintf(line, sizeof line, "%s\n", name) >= (int)sizeof line)
        return JET_errInvalidPath;
    int fd = eng_io_open(path, O_WRONLY | O_NOFOLLOW, 0);
    if (fd < 0)
        return eng_io_errno_to_jet(fd, 0);
    int64_t size = eng_io_size(fd);
    int r = size < 0 ? (int)size : eng_io_pwrite(fd, line, strlen(line), (uint64_t)size);
    if (!r)
        r = eng_io_fsync(fd);
    eng_io_close(fd);
    return r < 0 ? eng_io_errno_to_jet(r, 0) : JET_errSuccess;
}

/* Stream backup file h into dir/<base name of name>, fsync'ed. */
static long copy_out(eng_inst *in, JET_HANDLE h, const char *name, const char *dir, uint8_t *buf)
{
    const char *base = strrchr(name, '/');
    base = base ? base + 1 : name;
    char path[ENG_PATH_MAX + 256];
    if (snprintf(path, sizeof path, "%s/%s", dir, base) >= (int)sizeof path)
        return JET_errInvalidPath;
    long err = marker_add(dir, base);
    if (err)
        return err;
    /* O_NOFOLLOW: a symbolic link planted under a backup's name must not aim the copy elsewhere. */
    int fd = eng_io_open(path, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW, 0644);
    if (fd < 0)
        return eng_io_errno_to_jet(fd, 0);
    uint64_t off = 0;
    for (;;) {
        unsigned long got = 0;
        if ((err = eng_bk_read(in, h, buf, CHUNK, &got)) || !got)
            break;
        int w = eng_io_pwrite(fd, buf, got, off);
        if (w < 0) {
            err = eng_io_errno_to_jet(w, 0);
            break;
        }
        off += got;
    }
    if (!err) {
        int w = eng_io_fsync(fd);
        if (w < 0)
            err = eng_io_errno_to_jet(w, 0);
    }
    eng_io_close(fd);
    return err;
}

/* Open, copy and close every file of a multi-sz list. */
static long copy_list(eng_inst *in, const char *list, const char *dir, uint8_t *buf)
{
    long err = JET_errSuccess;
    for (const char *p = list; *p && !err; p += strlen(p) + 1) {
        JET_HANDLE h;
        if ((err = eng_bk_open(in, p, &h, NULL, NULL)))
            break;
        err = copy_out(in, h, p, dir, buf);
        long e2 = eng_bk_close(in, h);
        if (!err)
            err = e2;
    }
    return err;
}

typedef long (*list_fn)(eng_inst *in, char *szz, unsigned long cb, unsigned long *pcb);

static long attach_list(eng_inst *in, char *szz, unsigned long cb, unsigned long *pcb)
{
    return eng_bk_attach_info(in, szz, cb, pcb);
}

static long log_list_fn(eng_inst *in, char *szz, unsigned long cb, unsigned long *pcb)
{
    return eng_bk_log_info(in, false, szz, cb, pcb, NULL);
}

static long get_list(eng_inst *in, list_fn fn, char **out)
{
    unsigned long need = 0;
    long err = fn(in, NULL, 0, &need);
    if (err)
        return err;
    char *l = malloc(need ? need : 1);
    ENG_RETURN_IF(!l, JET_errOutOfMemory, "no memory for the list of files to back up");
    if ((err = fn(in, l, need, &need))) {
        free(l);
        return err;
    }
    *out = l;
    return JET_errSuccess;
}

/* Split path into its parent (opened; symbolic links on the way there are the caller's) and its
 * last name, and derive the staging names. */
static long loc_open(const char *path, bkloc *l)
{
    memset(l, 0, sizeof *l);
    l->pfd = l->tfd = -1;
    char p[ENG_PATH_MAX];
    size_t n = strlen(path);
    ENG_RETURN_IF(n >= sizeof p, JET_errInvalidPath,
                  "the backup directory's path is longer than the engine stores");
    memcpy(p, path, n + 1);
    while (n > 1 && p[n - 1] == '/')
        p[--n] = 0;
    char *slash = strrchr(p, '/');
    const char *name = slash ? slash + 1 : p;
    if (!slash)
        strcpy(l->parent, ".");
    else if (slash == p)
        strcpy(l->parent, "/");
    else {
        *slash = 0;
        strcpy(l->parent, p);
    }
    if (*name && strcmp(name, ".") && strcmp(name, "..") && strlen(name) < sizeof l->name) {
        strcpy(l->name, name);
        snprintf(l->tmp, sizeof l->tmp, ".%s.jetsnap-tmp", name);
        snprintf(l->old, sizeof l->old, ".%s.jetsnap-old", name);
    }
    l->pfd = open(l->parent, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    return JET_errSuccess;
}

static void loc_close(bkloc *l)
{
    if (l->pfd >= 0)
        close(l->pfd);
    if (l->tfd >= 0)
        close(l->tfd);
    l->pfd = l->tfd = -1;
}

static bool same_file(const struct stat *a, const struct stat *b)
{
    return a->st_dev == b->st_dev && a->st_ino == b->st_ino;
}

static bool same_dir_as(const char *path, const struct stat *st)
{
    struct stat s;
    return path[0] && !stat(path, &s) && same_file(&s, st);
}

/* Is st a directory the instance keeps live files in: its log or system directory, or the
 * directory of one of its attached databases? (in may be NULL: only p's paths are known.) The
 * temp path is not one: jetsnap keeps no temporary database. */
static bool instance_dir(eng_inst *in, const eng_params *p, const struct stat *st)
{
    if (same_dir_as(p->log_path, st) || same_dir_as(p->system_path, st))
        return true;
    if (!in)
        return false;
    bool hit = false;
    char d[ENG_PATH_MAX];
    pthread_mutex_lock(&in->mu);
    for (uint32_t id = 1; id <= ENG_MAX_DB && !hit; id++) {
        eng_db *db = in->dbs[id];
        if (!db || db->fd < 0)
            continue;
        snprintf(d, sizeof d, "%s", db->path);
        char *slash = strrchr(d, '/');
        if (!slash)
            strcpy(d, ".");
        else if (slash == d)
            d[1] = 0;
        else
            *slash = 0;
        hit = same_dir_as(d, st);
    }
    pthread_mutex_unlock(&in->mu);
    return hit;
}

/* A name only an instance's live files have (current and next log, checkpoint, reserve logs),
 * for this base name or the default one. A backup never holds such a file. */
static bool live_name(const char *base, const char *n)
{
    static const char *const sfx[] = {".log", "tmp.log", ".chk", ".jtx", ".jcp"};
    const char *bases[] = {base, "edb"};
    for (int b = 0; b < 2; b++) {
        size_t bl = strlen(bases[b]);
        if (!strncmp(n, bases[b], bl))
            for (size_t i = 0; i < sizeof sfx / sizeof *sfx; i++)
                if (!strcmp(n + bl, sfx[i]))
                    return true;
    }
    size_t l = strlen(n);
    return l > 4 && !strcmp(n + l - 4, ".jrs");
}

/* Does some instance (of any process) hold name's lock? A database and a checkpoint are held
 * with flock while attached / in use; a file that cannot be opened counts as held. */
static bool held(int dfd, const char *name)
{
    int fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0)
        return errno != ENOENT;
    bool busy = flock(fd, LOCK_SH | LOCK_NB) < 0;
    close(fd); /* drops our shared lock */
    return busy;
}

/* The marker of dfd (NUL-terminated, caller frees), NULL if it has none. */
static char *marker_read(int dfd)
{
    int fd = openat(dfd, MARKER, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0)
        return NULL;
    struct stat st;
    char *m = NULL;
    if (!fstat(fd, &st) && S_ISREG(st.st_mode) && st.st_size < MARKER_MAX &&
        (m = malloc((size_t)st.st_size + 1))) {
        ssize_t got = pread(fd, m, (size_t)st.st_size, 0);
        if (got != st.st_size || strncmp(m, MARKER_HEAD, strlen(MARKER_HEAD))) {
            free(m);
            m = NULL;
        } else {
            m[got] = 0;
        }
    }
    close(fd);
    return m;
}

static bool marker_lists(const char *m, const char *name)
{
    size_t n = strlen(name);
    for (const char *p = m + strlen(MARKER_HEAD);;) {
        const char *e = strchr(p, '\n');
        if (!e)
            return false; /* a torn last line lists nothing */
        if ((size_t)(e - p) == n && !memcmp(p, name, n))
            return true;
        p = e + 1;
    }
}

static long refuse(eng_inst *in, const char *path, const char *entry, const char *why)
{
    eng_event(in, 1, 214, "The backup directory %s is refused, nothing in it was changed: %s%s%s", path,
              entry ? entry : "", entry ? " " : "", why);
    return ENG_ERR(JET_errBackupDirectoryNotEmpty,
                   "the directory is not one a backup may write into or delete (see event 214)");
}

#define SCAN_OURS 1 /* every entry must be listed in the directory's marker */

/* May a backup write into (or, with SCAN_OURS, delete) what dfd, the directory at path, holds?
 * Only regular files that are no instance's live files, by name or by lock, and with SCAN_OURS
 * only files its marker lists. *nfiles gets the number of entries besides a valid marker,
 * *marked whether there is one. */
static long scan_dir(eng_inst *in, const eng_params *p, int dfd, const char *path, int flags, int *nfiles,
                     bool *marked)
{
    struct stat st;
    if (fstat(dfd, &st) < 0)
        return eng_io_errno_to_jet(-errno, 0);
    if (instance_dir(in, p, &st))
        return refuse(in, path, NULL, "is a directory an instance keeps its live files in");
    DIR *d = dir_stream(dfd);
    if (!d)
        return eng_io_errno_to_jet(-errno, 0);
    char *m = marker_read(dfd);
    *marked = m != NULL;
    *nfiles = 0;
    const char *why = NULL;
    char bad[NAME_MAX + 1] = "";
    struct dirent *e;
    while (!why && (e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        if (m && !strcmp(e->d_name, MARKER))
            continue;
        (*nfiles)++;
        if (fstatat(dfd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
            if (errno == ENOENT)
                continue; /* gone meanwhile */
            why = "cannot be examined";
        } else if (!S_ISREG(st.st_mode)) {
            why = "is not a regular file (subdirectories and symbolic links are never followed)";
        } else if (live_name(p->base_name, e->d_name)) {
            why = "is the live file of an instance";
        } else if (held(dfd, e->d_name)) {
            why = "is held by an instance";
        } else if ((flags & SCAN_OURS) && !(m && marker_lists(m, e->d_name))) {
            why = m ? "was not written by the backup there" : "is not part of a jetsnap backup";
        }
        if (why)
            snprintf(bad, sizeof bad, "%s", e->d_name);
    }
    closedir(d);
    free(m);
    return why ? refuse(in, path, bad, why) : JET_errSuccess;
}

/* Delete the regular files of dfd, then the directory name in pfd. Names are unlinked, never
 * followed; anything else in there keeps the directory (and is left alone). */
static int remove_dir(int pfd, const char *name, int dfd)
{
    DIR *d = dir_stream(dfd);
    if (!d)
        return -errno;
    struct dirent *e;
    struct stat st;
    while ((e = readdir(d)))
        if (!fstatat(dfd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) && S_ISREG(st.st_mode))
            unlinkat(dfd, e->d_name, 0);
    closedir(d);
    return unlinkat(pfd, name, AT_REMOVEDIR) < 0 ? -errno : 0;
}

/* Delete a staging directory beside the backup directory, that an earlier backup left or (ours)
 * this one made: only a real directory of regular files no instance holds; anything else under
 * that name is refused, and so is one that another backup is building. */
static long drop_staging(eng_inst *in, const eng_params *p, const bkloc *l, const char *name, bool ours)
{
    char path[ENG_PATH_MAX + NAME_MAX + 40];
    snprintf(path, sizeof path, "%s/%s", l->parent, name);
    struct stat st;
    if (fstatat(l->pfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
        return errno == ENOENT ? JET_errSuccess : eng_io_errno_to_jet(-errno, 0);
    if (!S_ISDIR(st.st_mode))
        return refuse(in, path, NULL, "is in the way of the backup's staging directory and not one");
    int dfd = openat(l->pfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (dfd < 0)
        return eng_io_errno_to_jet(-errno, 0);
    int n;
    bool marked;
    /* Another backup into the same directory is building it (and holds its lock). */
    long err = !ours && flock(dfd, LOCK_EX | LOCK_NB) < 0
                   ? ENG_ERR(JET_errBackupInProgress,
                             "another backup holds the staging directory locked")
                   : scan_dir(in, p, dfd, path, 0, &n, &marked);
    if (!err) {
        int r = remove_dir(l->pfd, name, dfd);
        if (!r)
            r = eng_io_fsync_dir(l->parent);
        if (r < 0)
            err = eng_io_errno_to_jet(r, 0);
    }
    close(dfd);
    return err;
}

/* Finish what a crash during an atomic swap left (see the top of this file): afterwards the
 * directory is a whole backup, the old or the new one (or absent, if there never was one), and,
 * with cleanup, no staging directory is left. */
static long recover_swap(eng_inst *in, const eng_params *p, const bkloc *l, bool cleanup)
{
    if (l->pfd < 0 || !l->name[0])
        return JET_errSuccess;
    struct stat st;
    if (fstatat(l->pfd, l->name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
        if (errno != ENOENT)
            return eng_io_errno_to_jet(-errno, 0);
        /* Cut between the two renames of a swap without exchange: the previous backup is whole. */
        if (!fstatat(l->pfd, l->old, &st, AT_SYMLINK_NOFOLLOW) && S_ISDIR(st.st_mode)) {
            int r = eng_io_rename_at(l->pfd, l->old, l->pfd, l->name, 0);
            if (!r)
                r = eng_io_fsync_dir(l->parent);
            if (r < 0)
                return eng_io_errno_to_jet(r, 0);
            eng_event(in, 2, 214, "An atomic backup into %s/%s was interrupted; the previous backup was put back",
                      l->parent, l->name);
        }
    }
    long err = cleanup ? drop_staging(in, p, l, l->tmp, false) : JET_errSuccess;
    if (!err && cleanup)
        err = drop_staging(in, p, l, l->old, false);
    return err;
}

/* Check the directory a full or incremental backup writes into in place (creating it for a
 * full one); *dfd gets it open. */
static long prepare_in_place(eng_inst *in, const char *dir, const bkloc *l, bool inc, int *dfd)
{
    if (!inc) {
        if (mkdir(dir, 0755) == 0) {
            long err = sync_dir(l->parent);
            if (err)
                return err;
        } else if (errno != EEXIST) {
            return ENG_ERR(JET_errInvalidPath, "the backup directory cannot be created");
        }
    }
    *dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (*dfd < 0)
        return inc && errno == ENOENT ? JET_errMissingFullBackup : eng_io_errno_to_jet(-errno, 0);
    if (!inc) {
        struct stat st;
        if (fstat(*dfd, &st) < 0)
            return eng_io_errno_to_jet(-errno, 0);
        if (instance_dir(in, &in->p, &st))
            return refuse(in, dir, NULL, "is a directory an instance keeps its live files in");
        int nfiles = count_files(*dfd);
        ENG_RETURN_IF(nfiles < 0, eng_io_errno_to_jet(nfiles, 0),
                      "the backup directory cannot be listed");
        ENG_RETURN_IF(nfiles > 0, JET_errBackupDirectoryNotEmpty,
                      "a full backup needs an empty directory, and this one holds files");
        return JET_errSuccess;
    }
    int n;
    bool marked;
    long err = scan_dir(in, &in->p, *dfd, dir, 0, &n, &marked);
    ENG_RETURN_IF(!err && !marked, JET_errMissingFullBackup,
                  "the directory holds no jetsnap backup for an incremental to add to");
    return err;
}

/* Check that the directory an atomic backup replaces holds nothing but an earlier backup (or
 * nothing, or does not exist), then make the staging directory beside it. */
static long prepare_atomic(eng_inst *in, const char *dir, bkloc *l, bool *had)
{
    if (l->pfd < 0 || !l->name[0])
        return ENG_ERR(JET_errInvalidPath,
                       "the backup path's parent cannot be opened or its last name is unusable");
    struct stat st;
    *had = !fstatat(l->pfd, l->name, &st, AT_SYMLINK_NOFOLLOW);
    if (!*had && errno != ENOENT)
        return eng_io_errno_to_jet(-errno, 0);
    if (*had) {
        /* The swap replaces the directory entry itself: a link to elsewhere is not followed. */
        if (!S_ISDIR(st.st_mode)) {
            eng_event(in, 1, 214, "The backup directory %s is refused: it is not a directory (%s)", dir,
                      S_ISLNK(st.st_mode) ? "a symbolic link" : "a file");
            return ENG_ERR(JET_errInvalidPath,
                           "the backup path is a file or a symbolic link, not a directory");
        }
        int dfd = openat(l->pfd, l->name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (dfd < 0)
            return eng_io_errno_to_jet(-errno, 0);
        int n;
        bool marked;
        long err = scan_dir(in, &in->p, dfd, dir, SCAN_OURS, &n, &marked);
        close(dfd);
        if (err)
            return err;
    }
    if (mkdirat(l->pfd, l->tmp, 0700) < 0)
        return ENG_ERR(JET_errMakeBackupDirectoryFail,
                       "the atomic backup's staging directory cannot be created");
    l->tfd = openat(l->pfd, l->tmp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (l->tfd < 0 || flock(l->tfd, LOCK_EX | LOCK_NB) < 0 ||
        fchmodat(l->pfd, l->tmp, *had ? st.st_mode & 07777 : 0755, 0) < 0 || eng_io_fsync_dir(l->parent) < 0) {
        unlinkat(l->pfd, l->tmp, AT_REMOVEDIR);
        return ENG_ERR(JET_errMakeBackupDirectoryFail,
                       "the staging directory cannot be opened, locked, given its mode or synced");
    }
    return JET_errSuccess;
}

/* Put the staged backup (whole and synced) in place of the directory, then delete the previous
 * one. *placed tells whether the new backup took the name (so the staging directory may hold
 * the previous backup now, and must not be deleted as the new one). */
static long swap_in(const bkloc *l, bool had, bool *placed)
{
    const char *gone = l->tmp;
    int r;
    *placed = false;
    if (!had) {
        r = eng_io_rename_at(l->pfd, l->tmp, l->pfd, l->name, RENAME_NOREPLACE);
        if (r == -EINVAL || r == -ENOSYS)
            r = eng_io_rename_at(l->pfd, l->tmp, l->pfd, l->name, 0); /* replaces at most an empty dir */
    } else {
        r = eng_io_rename_at(l->pfd, l->tmp, l->pfd, l->name, RENAME_EXCHANGE);
        if (r == -EINVAL || r == -ENOSYS || r == -EOPNOTSUPP) {
            /* No exchange here: two renames, which recover_swap can undo. */
            gone = l->old;
            r = eng_io_rename_at(l->pfd, l->name, l->pfd, l->old, 0);
            if (!r) {
                r = eng_io_fsync_dir(l->parent);
                if (!r)
                    r = eng_io_rename_at(l->pfd, l->tmp, l->pfd, l->name, 0);
                if (r < 0)
                    eng_io_rename_at(l->pfd, l->old, l->pfd, l->name, 0);
            }
        }
    }
    if (r < 0)
        return eng_io_errno_to_jet(r, 0);
    *placed = true;
    r = eng_io_fsync_dir(l->parent);
    if (r < 0)
        return eng_io_errno_to_jet(r, 0);
    if (had) {
        /* The previous backup is garbage now; a failure to delete it is left to the next backup. */
        int dfd = openat(l->pfd, gone, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (dfd >= 0) {
            if (!remove_dir(l->pfd, gone, dfd))
                eng_io_fsync_dir(l->parent);
            close(dfd);
        }
    }
    return JET_errSuccess;
}

long eng_bk_to_dir(eng_inst *in, const char *dir, JET_GRBIT grbit, JET_PFNSTATUS pfn)
{
    ENG_RETURN_IF(!dir || !*dir, JET_errNoBackupDirectory, "no backup directory given");
    ENG_RETURN_IF(grbit & ~(JET_GRBIT)(JET_bitBackupIncremental | JET_bitBackupAtomic),
                  JET_errInvalidGrbit,
                  "the only backup options are JET_bitBackupIncremental and JET_bitBackupAtomic");
    bool inc = grbit & JET_bitBackupIncremental, atomic = (grbit & JET_bitBackupAtomic) && !inc;
    bkloc *l = malloc(sizeof *l);
    ENG_RETURN_IF(!l, JET_errOutOfMemory, "no memory for the backup directory's location");
    long err = loc_open(dir, l);
    if (!err)
        err = recover_swap(in, &in->p, l, true);
    bool had = false, staged = false;
    int dfd = -1;
    if (!err && atomic)
        staged = !(err = prepare_atomic(in, dir, l, &had));
    else if (!err)
        err = prepare_in_place(in, dir, l, inc, &dfd);
    uint32_t have = !err && inc ? top_log(dir, in->p.base_name) : 0;
    if (!err && inc && !have)
        err = JET_errMissingFullBackup; /* nothing here to add to */
    if (dfd >= 0)
        close(dfd);
    char target[ENG_PATH_MAX + NAME_MAX + 40];
    if (!err && snprintf(target, sizeof target, "%s", dir) >= (int)sizeof target)
        err = JET_errInvalidPath;
    if (!err && atomic)
        snprintf(target, sizeof target, "%s/%s", l->parent, l->tmp);
    uint8_t *buf = err ? NULL : malloc(CHUNK);
    if (!err && !buf)
        err = JET_errOutOfMemory;
    if (err) {
        if (staged)
            drop_staging(in, &in->p, l, l->tmp, true);
        loc_close(l);
        free(l);
        return err;
    }
    status(pfn, JET_snpBackup, JET_sntBegin);
    err = eng_bk_begin(in, inc ? JET_bitBackupIncremental : 0);
    bool begun = !err;
    if (!err && !inc)
        err = marker_create(target);
    char *list = NULL;
    if (!err && !inc && !(err = get_list(in, attach_list, &list)))
        err = copy_list(in, list, target, buf);
    free(list);
    list = NULL;
    if (!err && !(err = get_list(in, log_list_fn, &list))) {
        /* An incremental must continue the logs already in the directory. */
        const char *slash = strrchr(list, '/'); /* the first name of the list ends at its NUL */
        uint32_t first = *list && slash ? (uint32_t)strtoul(slash + 1 + strlen(in->p.base_name), NULL, 16) : 0;
        if (inc && first > have + 1)
            err = JET_errInvalidLogSequence;
        if (!err)
            err = copy_list(in, list, target, buf);
    }
    free(list);
    if (!err)
        err = sync_dir(target); /* every file's entry, before anything relies on the backup */
    bool placed = false;
    if (!err && atomic)
        err = swap_in(l, had, &placed);
    if (atomic && !placed)
        drop_staging(in, &in->p, l, l->tmp, true); /* the new backup, unfinished or not swapped in */
    /* Only once the new backup is in place may the logs it holds go. */
    if (!err)
        err = eng_bk_truncate(in);
    if (begun) {
        long e2 = eng_bk_end(in, err ? JET_bitBackupEndAbort : JET_bitBackupEndNormal);
        if (!err)
            err = e2;
    }
    free(buf);
    loc_close(l);
    free(l);
    status(pfn, JET_snpBackup, err ? JET_sntFail : JET_sntComplete);
    return err;
}

long eng_restore_dir(const eng_params *p, const char *backup_dir, const char *dest, JET_PFNSTATUS pfn)
{
    ENG_RETURN_IF(!backup_dir || !*backup_dir, JET_errInvalidParameter,
                  "no backup directory given");
    /* An atomic backup cut between its renames leaves its previous backup aside: put it back. */
    bkloc *l = malloc(sizeof *l);
    ENG_RETURN_IF(!l, JET_errOutOfMemory, "no memory for the backup directory's location");
    long rerr = loc_open(backup_dir, l);
    if (!rerr)
        rerr = recover_swap(NULL, p, l, false);
    loc_close(l);
    free(l);
    if (rerr)
        return rerr;
    /* The restore itself, checked whole before any live file is replaced, is restore.c's. */
    return eng_restore_backup_dir(p, backup_dir, dest, pfn);
}
