/*
 * plugin.c — the one symbol jetsnap-writer.so exports: the table of jetsnap-plugin.h.
 */
#include "writer-int.h"

static const struct jetsnap_plugin table = {
    .abi_version = JETSNAP_PLUGIN_ABI_VERSION,
    .struct_size = sizeof(struct jetsnap_plugin),
    .open = wr_open,
    .close = wr_close,
    .status = wr_status,
    .status_free = wr_status_free,
    .prepare = wr_prepare,
    .freeze = wr_freeze,
    .thaw = wr_thaw,
    .backup_complete = wr_backup_complete,
    .abort = wr_abort,
    .release_owner = wr_release_owner,
    .results_free = wr_results_free,
    .error_name = wr_error_name,
    .bus_fd = wr_bus_fd,
    .bus_dispatch = wr_bus_dispatch,
};

__attribute__((visibility("default"))) const struct jetsnap_plugin *jetsnap_plugin_v1(uint32_t abi_version)
{
    /* Minor versions only append members: any 1.x host can use this table. */
    return abi_version >= 1 && abi_version <= JETSNAP_PLUGIN_ABI_VERSION ? &table : NULL;
}
