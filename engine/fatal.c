/*
 * fatal.c — an instance made unavailable by an error it cannot survive (a failed log or database
 * write whose outcome is unknown). Kept apart from inst.c because the low layers (txn.c, db.c,
 * checkpoint.c) report such errors: they call down into this leaf, not up into the instance.
 */
#include "engine-int.h"

void eng_fatal(eng_inst *in, long err)
{
    pthread_mutex_lock(&in->mu);
    if (!in->fatal) {
        in->fatal = err;
        eng_event(in, 1, 1090, "instance unavailable after error %ld", err);
    }
    pthread_mutex_unlock(&in->mu);
}

long eng_fatal_err(long cause)
{
    /* A full database disk is something the caller can act on (free space, then JetTerm and
     * JetInit again, which recovers from the log): say so instead of "unavailable". */
    return cause == JET_errDiskFull ? JET_errDiskFull : JET_errInstanceUnavailable;
}
