/*
 * benchplugin.c — the writer plugin, loaded as any host loads it (benchplugin.h).
 */
#include <dlfcn.h>
#include <string.h>

#include "benchplugin.h"
#include "benchutil.h"

const struct jetsnap_plugin *bp_load_writer(const char *path)
{
    void *so = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!so)
        bu_fail("cannot load the writer plugin: %s", dlerror());
    void *sym = dlsym(so, JETSNAP_PLUGIN_ENTRY);
    jetsnap_plugin_entry_fn *entry = NULL;
    memcpy(&entry, &sym, sizeof entry); /* ISO C has no object-to-function pointer cast */
    const struct jetsnap_plugin *p = entry ? entry(JETSNAP_PLUGIN_ABI_VERSION) : NULL;
    if (!p || p->struct_size < sizeof *p)
        bu_fail("%s is not a jetsnap writer plugin of ABI %u", path, JETSNAP_PLUGIN_ABI_VERSION);
    return p;
}
