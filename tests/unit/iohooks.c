/* iohooks.c — see iohooks.h. */
#include "iohooks.h"

#include <pthread.h>
#include <stdio.h>
#include <unistd.h>

#include "io-int.h"

static pthread_mutex_t gate_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t gate_cv = PTHREAD_COND_INITIALIZER;
static int gate_state; /* 0 off, 1 armed, 2 a sync is held, 3 released */

static int gate_hook(void *ctx, enum eng_io_op op, int fd, const char *path, uint64_t off, size_t len)
{
    (void)ctx, (void)fd, (void)path, (void)off, (void)len;
    if (op != ENG_IO_SYNC)
        return 0;
    pthread_mutex_lock(&gate_mu);
    if (gate_state == 1) {
        gate_state = 2;
        pthread_cond_broadcast(&gate_cv);
        while (gate_state != 3)
            pthread_cond_wait(&gate_cv, &gate_mu);
    }
    pthread_mutex_unlock(&gate_mu);
    return 0;
}

void tu_sync_gate_arm(void)
{
    pthread_mutex_lock(&gate_mu);
    gate_state = 1;
    pthread_mutex_unlock(&gate_mu);
    eng_io_set_fault_hook(gate_hook, NULL);
}

void tu_sync_gate_wait_holding(void)
{
    pthread_mutex_lock(&gate_mu);
    while (gate_state != 2)
        pthread_cond_wait(&gate_cv, &gate_mu);
    pthread_mutex_unlock(&gate_mu);
}

void tu_sync_gate_release(void)
{
    pthread_mutex_lock(&gate_mu);
    gate_state = 3;
    pthread_cond_broadcast(&gate_cv);
    pthread_mutex_unlock(&gate_mu);
    eng_io_set_fault_hook(NULL, NULL);
}

int tu_hook_path(int fd, const char *path, char *out, size_t n)
{
    if (!n)
        return -1;
    out[0] = 0;
    if (path) {
        snprintf(out, n, "%s", path);
        return 0;
    }
    char link[64];
    snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
    ssize_t got = readlink(link, out, n - 1);
    if (got <= 0) {
        out[0] = 0;
        return -1;
    }
    out[got] = 0;
    return 0;
}
