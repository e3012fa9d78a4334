/*
 * bus.c — the writer on D-Bus. Not connected yet: the writer runs in-process only, and the host
 * loop hooks say there is nothing to poll.
 */
#include "writer-int.h"

int wr_bus_fd(jetsnap_writer *w)
{
    (void)w;
    return -1;
}

int wr_bus_dispatch(jetsnap_writer *w)
{
    (void)w;
    return -1;
}
