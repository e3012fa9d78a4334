/*
 * handle.c — opaque handles. A handle is (type << 56) | (generation << 24) | slot, so a stale or
 * made-up number is recognised and refused instead of being dereferenced. It is never 0 and never
 * ~0 (ESE's nil values).
 */
#include <stdlib.h>

#include "engine-int.h"

struct slot {
    void *obj;
    uint32_t gen;
    uint8_t type;
    uint32_t next_free;
};

static pthread_mutex_t hmu = PTHREAD_MUTEX_INITIALIZER;
static struct slot *slots;
static uint32_t nslots, capslots, free_head; /* free_head: slot index + 1, 0 = none */

#define SLOT_MAX (1u << 24)

JET_API_PTR eng_handle_new(enum eng_htype type, void *obj)
{
    pthread_mutex_lock(&hmu);
    uint32_t i;
    if (free_head) {
        i = free_head - 1;
        free_head = slots[i].next_free;
    } else {
        if (nslots == capslots) {
            uint32_t nc = capslots ? capslots * 2 : 256;
            struct slot *ns = nc <= SLOT_MAX ? realloc(slots, nc * sizeof *ns) : NULL;
            if (!ns) {
                pthread_mutex_unlock(&hmu);
                return 0;
            }
            slots = ns;
            capslots = nc;
        }
        i = nslots++;
        slots[i].gen = 0;
    }
    slots[i].gen = (slots[i].gen + 1) & 0xffffffffu;
    if (!slots[i].gen)
        slots[i].gen = 1;
    slots[i].obj = obj;
    slots[i].type = (uint8_t)type;
    JET_API_PTR h = ((JET_API_PTR)type << 56) | ((JET_API_PTR)slots[i].gen << 24) | i;
    pthread_mutex_unlock(&hmu);
    return h;
}

void eng_handle_lock(void) { pthread_mutex_lock(&hmu); }
void eng_handle_unlock(void) { pthread_mutex_unlock(&hmu); }

void *eng_handle_get_locked(JET_API_PTR h, enum eng_htype type)
{
    if ((h >> 56) != (JET_API_PTR)type)
        return NULL;
    uint32_t i = (uint32_t)(h & (SLOT_MAX - 1));
    uint32_t gen = (uint32_t)(h >> 24);
    if (i < nslots && slots[i].type == type && slots[i].gen == gen)
        return slots[i].obj;
    return NULL;
}

void *eng_handle_get(JET_API_PTR h, enum eng_htype type)
{
    pthread_mutex_lock(&hmu);
    void *obj = eng_handle_get_locked(h, type);
    pthread_mutex_unlock(&hmu);
    return obj;
}

void eng_handle_free(JET_API_PTR h)
{
    uint32_t i = (uint32_t)(h & (SLOT_MAX - 1));
    uint32_t gen = (uint32_t)(h >> 24);
    pthread_mutex_lock(&hmu);
    if (i < nslots && slots[i].type && slots[i].gen == gen) {
        slots[i].type = 0;
        slots[i].obj = NULL;
        slots[i].next_free = free_head;
        free_head = i + 1;
    }
    pthread_mutex_unlock(&hmu);
}
