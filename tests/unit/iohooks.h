/* iohooks.h — fault-hook helpers shared by the Check suites that drive the engine's I/O layer
 * (engine/io-int.h). They link the internal library, so only the suites built from it use them. */
#ifndef JETSNAP_IOHOOKS_H
#define JETSNAP_IOHOOKS_H

#include <stddef.h>

/* A sync gate: arm installs a fault hook that holds the first fsync/fdatasync after it until
 * release, so an init or a term is visibly "under way" for another thread. wait_holding returns
 * once a sync is being held; release lets it go and removes the hook. */
void tu_sync_gate_arm(void);
void tu_sync_gate_wait_holding(void);
void tu_sync_gate_release(void);

/* The file a fault hook's (fd, path) pair names: path if given, else the fd resolved through
 * /proc/self/fd. Returns 0, or -1 if it cannot be resolved (out is then ""). */
int tu_hook_path(int fd, const char *path, char *out, size_t n);

#endif
