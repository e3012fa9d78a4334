/*
 * backup-dir.c — JetBackupInstance: the whole external backup sequence into a directory, and
 * JetRestoreInstance's counterpart: put the databases of such a directory back where they were
 * and run hard recovery.
 *
 * A backup directory holds each database stream as <its file name> (a database file with the
 * trailer page appended, see backup.c) and the log generations as edbXXXXX.log. A full backup
 * needs an empty (or new) directory, unless it is atomic: then it is written into <dir>/.new and,
 * only once complete, the previous backup in <dir> is moved to <dir>/.old, the new one moved in,
 * and .old removed — a failed backup leaves the previous one intact. An incremental backup adds
 * the logs since the last one to a directory that holds a backup already; a gap between the logs
 * there and the first log to add is refused (InvalidLogSequence).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "engine-int.h"

#define CHUNK (4u << 20)

static void status(JET_PFNSTATUS pfn, JET_SNP snp, JET_SNT snt)
{
    if (pfn)
        pfn(0, snp, snt, NULL);
}

/* Regular files in dir (not . entries), 0 if it is empty; -errno if it cannot be read. */
static int count_files(const char *dir)
{
    DIR *d = opendir(dir);
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

/* Stream backup file h into dir/<base name of name>, fsync'ed. */
static long copy_out(eng_inst *in, JET_HANDLE h, const char *name, const char *dir, uint8_t *buf)
{
    const char *base = strrchr(name, '/');
    base = base ? base + 1 : name;
    char path[ENG_PATH_MAX + 256];
    if (snprintf(path, sizeof path, "%s/%s", dir, base) >= (int)sizeof path)
        return JET_errInvalidPath;
    int fd = eng_io_open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0)
        return eng_io_errno_to_jet(fd, 0);
    uint64_t off = 0;
    long err;
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
    ENG_RETURN_IF(!l, JET_errOutOfMemory);
    if ((err = fn(in, l, need, &need))) {
        free(l);
        return err;
    }
    *out = l;
    return JET_errSuccess;
}

static int rm_tree(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return errno == ENOENT ? 0 : -errno;
    struct dirent *e;
    char p[ENG_PATH_MAX + 256];
    while ((e = readdir(d)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
            snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
            unlink(p);
        }
    closedir(d);
    return rmdir(dir) < 0 ? -errno : 0;
}

/* Move every plain file of from into to (same file system). */
static long move_files(const char *from, const char *to)
{
    DIR *d = opendir(from);
    if (!d)
        return eng_io_errno_to_jet(-errno, 0);
    struct dirent *e;
    long err = JET_errSuccess;
    char a[ENG_PATH_MAX + 256], b[ENG_PATH_MAX + 256];
    while ((e = readdir(d)) && !err) {
        if (e->d_name[0] == '.')
            continue;
        snprintf(a, sizeof a, "%s/%s", from, e->d_name);
        snprintf(b, sizeof b, "%s/%s", to, e->d_name);
        int r = eng_io_rename(a, b);
        if (r < 0)
            err = eng_io_errno_to_jet(r, 0);
    }
    closedir(d);
    return err;
}

long eng_bk_to_dir(eng_inst *in, const char *dir, JET_GRBIT grbit, JET_PFNSTATUS pfn)
{
    ENG_RETURN_IF(!dir || !*dir, JET_errNoBackupDirectory);
    ENG_RETURN_IF(grbit & ~(JET_GRBIT)(JET_bitBackupIncremental | JET_bitBackupAtomic), JET_errInvalidGrbit);
    bool inc = grbit & JET_bitBackupIncremental, atomic = grbit & JET_bitBackupAtomic;
    if (mkdir(dir, 0755) < 0 && errno != EEXIST)
        return eng_trace_err(JET_errInvalidPath, __FILE__, __LINE__);
    int nfiles = count_files(dir);
    ENG_RETURN_IF(nfiles < 0, eng_io_errno_to_jet(nfiles, 0));
    ENG_RETURN_IF(!inc && !atomic && nfiles > 0, JET_errBackupDirectoryNotEmpty);
    uint32_t have = inc ? top_log(dir, in->p.base_name) : 0;
    ENG_RETURN_IF(inc && !have, JET_errMissingFullBackup); /* nothing here to add to */

    char target[ENG_PATH_MAX + 16];
    snprintf(target, sizeof target, "%s%s", dir, atomic && !inc ? "/.new" : "");
    if (atomic && !inc) {
        rm_tree(target); /* a failed atomic backup's leftovers */
        if (mkdir(target, 0755) < 0)
            return eng_trace_err(JET_errMakeBackupDirectoryFail, __FILE__, __LINE__);
    }
    uint8_t *buf = malloc(CHUNK);
    ENG_RETURN_IF(!buf, JET_errOutOfMemory);
    status(pfn, JET_snpBackup, JET_sntBegin);
    long err = eng_bk_begin(in, inc ? JET_bitBackupIncremental : 0);
    bool begun = !err;
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
        err = eng_bk_truncate(in);
    if (begun) {
        long e2 = eng_bk_end(in, err ? JET_bitBackupEndAbort : JET_bitBackupEndNormal);
        if (!err)
            err = e2;
    }
    if (!err && atomic && !inc) {
        /* Promote: the previous backup aside, the new one in, the previous one gone. */
        char old[ENG_PATH_MAX + 16];
        snprintf(old, sizeof old, "%s/.old", dir);
        rm_tree(old);
        if (mkdir(old, 0755) < 0)
            err = JET_errMakeBackupDirectoryFail;
        if (!err)
            err = move_files(dir, old);
        if (!err)
            err = move_files(target, dir);
        if (!err) {
            rm_tree(old);
            rm_tree(target);
            eng_io_fsync_dir(dir);
        }
    }
    free(buf);
    status(pfn, JET_snpBackup, err ? JET_sntFail : JET_sntComplete);
    return err;
}

long eng_restore_dir(const eng_params *p, const char *backup_dir, const char *dest, JET_PFNSTATUS pfn)
{
    ENG_RETURN_IF(!backup_dir || !*backup_dir, JET_errInvalidParameter);
    /* The restore itself, checked whole before any live file is replaced, is restore.c's. */
    return eng_restore_backup_dir(p, backup_dir, dest, pfn);
}
