/*
 * replay.c — the corpus replay driver of the fuzz targets (see replay.h).
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "replay.h"

static int run_dir(const char *dir, size_t *files);
static int run_file(const char *path);

int fuzz_replay(const char *name, int npaths, char **paths)
{
    size_t files = 0;
    int bad = 0;
    for (int a = 0; a < npaths; a++) {
        struct stat st;
        if (stat(paths[a], &st)) {
            perror(paths[a]);
            return 1;
        }
        if (S_ISDIR(st.st_mode)) {
            bad |= run_dir(paths[a], &files);
        } else {
            bad |= run_file(paths[a]);
            files++;
        }
    }
    printf("%s: %zu inputs, no crash\n", name, files);
    return bad || !files;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int run_dir(const char *dir, size_t *files)
{
    DIR *d = opendir(dir);
    if (!d) {
        perror(dir);
        return 1;
    }
    char **names = NULL;
    size_t nn = 0;
    int bad = 0;
    for (struct dirent *e; (e = readdir(d));) {
        if (e->d_name[0] == '.')
            continue;
        char **nv = realloc(names, (nn + 1) * sizeof *nv);
        if (nv)
            names = nv;
        if (!nv || asprintf(&names[nn], "%s/%s", dir, e->d_name) < 0) {
            fputs("fuzz_replay: out of memory\n", stderr);
            bad = 1;
            break;
        }
        nn++;
    }
    closedir(d);
    qsort(names, nn, sizeof *names, cmp_str);
    for (size_t i = 0; i < nn; i++) {
        bad |= run_file(names[i]);
        (*files)++;
        free(names[i]);
    }
    free(names);
    return bad;
}

static int run_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        perror(path);
        return 1;
    }
    size_t cap = 1 << 16, n = 0, got;
    uint8_t *buf = malloc(cap);
    while (buf && (got = fread(buf + n, 1, cap - n, f)) > 0) {
        n += got;
        if (n == cap) {
            uint8_t *nb = realloc(buf, cap *= 2);
            if (!nb)
                free(buf);
            buf = nb;
        }
    }
    fclose(f);
    if (!buf) {
        fprintf(stderr, "%s: out of memory\n", path);
        return 1;
    }
    LLVMFuzzerTestOneInput(buf, n);
    free(buf);
    return 0;
}
