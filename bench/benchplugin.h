/*
 * benchplugin.h — loading the built writer plugin the way a third-party host does (dlopen,
 * jetsnap-plugin.h only), for bench-writer and bench-xbackup.
 */
#ifndef JETSNAP_BENCHPLUGIN_H
#define JETSNAP_BENCHPLUGIN_H

#include "jetsnap-plugin.h"

/* dlopen path and return its function table of ABI JETSNAP_PLUGIN_ABI_VERSION; bu_fail when it
 * cannot be loaded or is not such a plugin. It stays loaded until exit: the engine keeps
 * process-wide state (examples/demo-app.c). */
const struct jetsnap_plugin *bp_load_writer(const char *path);

#endif
