/*
 * info.c — JetGetInstanceInfo and JetFreeBuffer: the list of running instances with their
 * attached databases, handed to the caller as one allocation so one JetFreeBuffer frees it all.
 */
#include <stdlib.h>
#include <string.h>

#include "imgr-int.h"

/* What one instance contributes, gathered under its mutex. */
struct snap {
    bool running;
    JET_INSTANCE handle;
    char *name; /* NULL for an unnamed instance */
    size_t ndb;
    char *paths[ENG_MAX_DB];
};

/* Copies, under the instance mutex, so a concurrent detach or term cannot free them under us. */
static long take(eng_inst *in, struct snap *sn)
{
    long err = JET_errSuccess;
    memset(sn, 0, sizeof *sn);
    pthread_mutex_lock(&in->mu);
    sn->running = in->state == INST_RUNNING;
    sn->handle = in->handle;
    if (sn->running && in->has_name && !(sn->name = strdup(in->name)))
        err = JET_errOutOfMemory;
    for (uint32_t id = 1; sn->running && !err && id <= ENG_MAX_DB; id++) {
        eng_db *db = in->dbs[id];
        if (db && db->fd >= 0 && !db->detaching && !(sn->paths[sn->ndb++] = strdup(db->path)))
            err = JET_errOutOfMemory;
    }
    pthread_mutex_unlock(&in->mu);
    return err;
}

static void snap_free(struct snap *sn)
{
    free(sn->name);
    for (size_t d = 0; d < sn->ndb; d++)
        free(sn->paths[d]);
}

JET_ERR JET_API JetGetInstanceInfo(unsigned long *pcInstanceInfo, JET_INSTANCE_INFO **paInstanceInfo)
{
    ENG_RETURN_IF(!pcInstanceInfo || !paInstanceInfo, JET_errInvalidParameter,
                  "no place was given for the count or the array");
    eng_inst **all;
    size_t n;
    long err = imgr_pin_all(&all, &n);
    if (err)
        return err;
    err = imgr_instance_info(all, n, pcInstanceInfo, paInstanceInfo);
    for (size_t i = 0; i < n; i++)
        imgr_unpin(all[i]);
    free(all);
    return err;
}

long imgr_instance_info(eng_inst **all, size_t n, unsigned long *pcInstanceInfo,
                        JET_INSTANCE_INFO **paInstanceInfo)
{
    long err = JET_errSuccess;
    struct snap *sn = calloc(n ? n : 1, sizeof *sn);
    size_t count = 0, bytes = 0;
    if (!sn)
        err = JET_errOutOfMemory;
    for (size_t i = 0; i < n && !err; i++) {
        err = take(all[i], &sn[i]);
        if (err || !sn[i].running)
            continue;
        count++;
        if (sn[i].name)
            bytes += strlen(sn[i].name) + 1;
        bytes += 2 * sn[i].ndb * sizeof(char *);
        for (size_t d = 0; d < sn[i].ndb; d++)
            bytes += strlen(sn[i].paths[d]) + 1;
    }
    JET_INSTANCE_INFO *out = NULL;
    if (!err && count) {
        /* Layout: the array, then every pointer array, then the strings. */
        size_t head = count * sizeof *out;
        out = malloc(head + bytes);
        if (!out)
            err = JET_errOutOfMemory;
    }
    if (!err && count) {
        char *p = (char *)(out + count);
        size_t k = 0;
        for (size_t i = 0; i < n; i++) {
            if (!sn[i].running)
                continue;
            JET_INSTANCE_INFO *ii = &out[k++];
            ii->hInstanceId = sn[i].handle;
            ii->cDatabases = sn[i].ndb;
            ii->szDatabaseFileName = (char **)p;
            p += sn[i].ndb * sizeof(char *);
            ii->szDatabaseDisplayName = (char **)p;
            p += sn[i].ndb * sizeof(char *);
            ii->szDatabaseSLVFileName_Obsolete = NULL;
        }
        k = 0;
        for (size_t i = 0; i < n; i++) {
            if (!sn[i].running)
                continue;
            JET_INSTANCE_INFO *ii = &out[k++];
            ii->szInstanceName = NULL;
            if (sn[i].name) {
                size_t l = strlen(sn[i].name) + 1;
                ii->szInstanceName = memcpy(p, sn[i].name, l);
                p += l;
            }
            for (size_t d = 0; d < sn[i].ndb; d++) {
                size_t l = strlen(sn[i].paths[d]) + 1;
                ii->szDatabaseFileName[d] = ii->szDatabaseDisplayName[d] = memcpy(p, sn[i].paths[d], l);
                p += l;
            }
        }
    }
    for (size_t i = 0; sn && i < n; i++)
        snap_free(&sn[i]);
    free(sn);
    if (err)
        return err;
    *pcInstanceInfo = (unsigned long)count;
    *paInstanceInfo = out;
    return JET_errSuccess;
}

JET_ERR JET_API JetFreeBuffer(char *pbBuf)
{
    free(pbBuf);
    return JET_errSuccess;
}
