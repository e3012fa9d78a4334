/*
 * jetsnap-check-config — check a jetsnap configuration file (until the daemon has --check-config).
 *
 *   jetsnap-check-config FILE
 *
 * Prints every problem as "FILE:LINE: problem" to stderr, in file order, and exits 1; prints a
 * one-line summary to stdout and exits 0 when the file is valid. Exit 2: bad usage or out of memory.
 */
#include <stdio.h>
#include <string.h>

#include "conf.h"

int main(int argc, char **argv)
{
    if (argc == 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
        printf("usage: %s FILE\nCheck a jetsnap configuration file (see jetsnap.conf(5)).\n", argv[0]);
        return 0;
    }
    if (argc != 2) {
        fprintf(stderr, "usage: %s FILE\n", argv[0]);
        return 2;
    }
    struct conf_config *cfg = NULL;
    struct conf_diags *diags = NULL;
    int r = conf_load_file(argv[1], &cfg, &diags);
    for (size_t i = 0; diags && i < diags->count; i++)
        fprintf(stderr, "%s\n", diags->items[i].text);
    if (r == CONF_OK) {
        size_t ndb = 0;
        for (size_t i = 0; i < cfg->n_instances; i++)
            ndb += cfg->instances[i].databases.n;
        printf("%s: OK: %zu instance%s, %zu database%s, bus %s, bus name %s\n", argv[1],
               cfg->n_instances, cfg->n_instances == 1 ? "" : "s", ndb, ndb == 1 ? "" : "s",
               cfg->writer.bus.kind == CONF_BUS_ADDRESS ? cfg->writer.bus.address
                                                        : conf_bus_kind_name(cfg->writer.bus.kind),
               cfg->writer.bus_name);
    } else if (r == CONF_EINVALID) {
        fprintf(stderr, "%s: %zu error%s\n", argv[1], diags ? diags->count : 0,
                diags && diags->count == 1 ? "" : "s");
    } else if (r != CONF_EIO) {
        fprintf(stderr, "%s: %s\n", argv[1], conf_strerror(r));
    }
    conf_free(cfg);
    conf_diags_free(diags);
    return r == CONF_OK ? 0 : r == CONF_EINVALID || r == CONF_EIO ? 1 : 2;
}
