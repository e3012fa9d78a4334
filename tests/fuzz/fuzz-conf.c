/*
 * fuzz-conf.c — fuzz target for the configuration parser (conf_parse_buffer).
 *
 * Built two ways (tests/fuzz/meson.build):
 *  - with -Dfuzz=true and clang: a libFuzzer binary "fuzz-conf" (-fsanitize=fuzzer), run as
 *      ./fuzz-conf -dict=tests/fuzz/conf.dict -max_total_time=300 CORPUS_DIR tests/fuzz/corpus
 *  - always: "fuzz-conf-replay" (FUZZ_REPLAY_MAIN), which runs every file of the directories or
 *    files named on its command line through the same target; the unit test fuzz-conf-corpus
 *    replays tests/fuzz/corpus/ so every build exercises the corpus.
 *
 * Besides "no crash, no leak, no undefined behaviour" the target checks what conf.h promises:
 * a valid result has at least one instance, absolute paths, 1..32 databases and every writer
 * field set; an invalid one has at least one diagnostic; diagnostics come in file order. Every
 * string that can reach D-Bus (names, display names, bus name, users, every diagnostic) must pass
 * libdbus's own UTF-8 check: libdbus aborts the process on a string that fails it.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <dbus/dbus.h>

#include "conf.h"
#include "replay.h"


#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "fuzz-conf: check failed: %s (line %d)\n", #cond, __LINE__);            \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct conf_config *cfg = NULL;
    struct conf_diags *diags = NULL;
    int r = conf_parse_buffer("fuzz.ini", data, size, &cfg, &diags);
    CHECK(r == CONF_OK || r == CONF_EINVALID || r == CONF_ENOMEM);
    if (r == CONF_OK) {
        CHECK(cfg && diags && diags->count == 0);
        CHECK(cfg->n_instances >= 1);
        CHECK(cfg->writer.bus_name && cfg->writer.allow_users.n >= 1);
        CHECK((cfg->writer.bus.kind == CONF_BUS_ADDRESS) == (cfg->writer.bus.address != NULL));
        CHECK(dbus_validate_utf8(cfg->writer.bus_name, NULL));
        for (size_t u = 0; u < cfg->writer.allow_users.n; u++)
            CHECK(dbus_validate_utf8(cfg->writer.allow_users.v[u], NULL));
        for (size_t i = 0; i < cfg->n_instances; i++) {
            const struct conf_instance *in = &cfg->instances[i];
            CHECK(in->name && strlen(in->name) <= CONF_NAME_MAX);
            CHECK(in->display_name && strlen(in->display_name) <= CONF_NAME_MAX);
            CHECK(dbus_validate_utf8(in->name, NULL) && dbus_validate_utf8(in->display_name, NULL));
            CHECK(in->system_path && in->system_path[0] == '/');
            CHECK(in->log_path && in->log_path[0] == '/');
            CHECK(in->databases.n >= 1 && in->databases.n <= CONF_DATABASES_MAX);
            for (size_t d = 0; d < in->databases.n; d++)
                CHECK(in->databases.v[d][0] == '/' && !strstr(in->databases.v[d], "//"));
            CHECK(conf_find_instance(cfg, in->name) == in);
        }
    } else if (r == CONF_EINVALID) {
        CHECK(!cfg && diags && diags->count >= 1);
        unsigned prev = 1;
        for (size_t i = 0; i < diags->count; i++) {
            const struct conf_diag *d = &diags->items[i];
            unsigned l = d->line ? d->line : UINT32_MAX;
            CHECK(l >= prev);
            prev = l;
            CHECK(!strncmp(d->text, "fuzz.ini:", 9) && d->message && *d->message);
            CHECK(!strchr(d->text, '\n'));
            CHECK(dbus_validate_utf8(d->text, NULL));
        }
    }
    conf_free(cfg);
    conf_diags_free(diags);
    return 0;
}

#ifdef FUZZ_REPLAY_MAIN
int main(int argc, char **argv)
{
    return fuzz_replay("fuzz-conf-replay", argc - 1, argv + 1);
}
#endif
