/*
 * conf-report.c — the report of a configuration check (conf-report.h).
 */
#include "conf-report.h"

int conf_report_check(const char *path, FILE *out, FILE *errs)
{
    if (!path || !out || !errs)
        return CONF_EARG;
    struct conf_config *cfg = NULL;
    struct conf_diags *diags = NULL;
    int r = conf_load_file(path, &cfg, &diags);
    for (size_t i = 0; diags && i < diags->count; i++)
        fprintf(errs, "%s\n", diags->items[i].text);
    if (r == CONF_OK) {
        size_t ndb = 0;
        for (size_t i = 0; i < cfg->n_instances; i++)
            ndb += cfg->instances[i].databases.n;
        fprintf(out, "%s: OK: %zu instance%s, %zu database%s, bus %s, bus name %s\n", path,
                cfg->n_instances, cfg->n_instances == 1 ? "" : "s", ndb, ndb == 1 ? "" : "s",
                cfg->writer.bus.kind == CONF_BUS_ADDRESS ? cfg->writer.bus.address
                                                         : conf_bus_kind_name(cfg->writer.bus.kind),
                cfg->writer.bus_name);
    } else if (r == CONF_EINVALID) {
        fprintf(errs, "%s: %zu error%s\n", path, diags ? diags->count : 0,
                diags && diags->count == 1 ? "" : "s");
    } else if (r != CONF_EIO) {
        /* CONF_EIO already has its diagnostic, printed above. */
        fprintf(errs, "%s: %s\n", path, conf_strerror(r));
    }
    conf_free(cfg);
    conf_diags_free(diags);
    return r;
}
