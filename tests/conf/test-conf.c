/*
 * test-conf.c — the configuration component (conf.h): golden files and the API's edges.
 *
 *  - every tests/conf/good/NAME.ini parses with no diagnostic, and the typed values are checked;
 *  - every tests/conf/bad/NAME.ini fails with exactly the messages of its .expected file (all of
 *    them, in file order), and each kind of error carries its diagnostic code;
 *  - defaults, the line-length limit at its boundary, NUL bytes, unreadable and oversized files,
 *    NULL arguments, and the table of keys against the documented bounds.
 */
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <dbus/dbus.h>

#include "conf-int.h"
#include "conf.h"
#include "testutil.h"

#ifndef CONF_TEST_DIR
#error "CONF_TEST_DIR must name tests/conf"
#endif

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    ck_assert_msg(f != NULL, "cannot open %s: %s", path, strerror(errno));
    char *buf = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&buf, &len);
    int ch;
    while ((ch = fgetc(f)) != EOF)
        fputc(ch, m);
    fclose(f);
    fclose(m);
    return buf;
}

/* Load dir/name with the working directory in dir, so diagnostics start with "name:". */
static int load_in(const char *sub, const char *name, struct conf_config **cfg, struct conf_diags **d)
{
    char old[4096], dir[4096];
    ck_assert_ptr_nonnull(getcwd(old, sizeof old));
    snprintf(dir, sizeof dir, "%s/%s", CONF_TEST_DIR, sub);
    ck_assert_int_eq(chdir(dir), 0);
    int r = conf_load_file(name, cfg, d);
    ck_assert_int_eq(chdir(old), 0);
    return r;
}

static char *join(const struct conf_diags *d)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&buf, &len);
    for (size_t i = 0; d && i < d->count; i++)
        fprintf(m, "%s\n", d->items[i].text);
    fclose(m);
    return buf;
}

static size_t list_dir(const char *sub, const char *suffix, char ***out)
{
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/%s", CONF_TEST_DIR, sub);
    DIR *dp = opendir(dir);
    ck_assert_ptr_nonnull(dp);
    char **v = NULL;
    size_t n = 0;
    struct dirent *e;
    size_t sl = strlen(suffix);
    while ((e = readdir(dp))) {
        size_t l = strlen(e->d_name);
        if (l <= sl || strcmp(e->d_name + l - sl, suffix))
            continue;
        v = realloc(v, (n + 1) * sizeof *v);
        v[n++] = strdup(e->d_name);
    }
    closedir(dp);
    *out = v;
    return n;
}

static void free_list(char **v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

/* ---------------------------------------------------------------------------------------------
 * Good files
 * ------------------------------------------------------------------------------------------- */

START_TEST(all_good_files_parse)
{
    char **names;
    size_t n = list_dir("good", ".ini", &names);
    ck_assert_uint_ge(n, 4);
    for (size_t i = 0; i < n; i++) {
        struct conf_config *cfg = NULL;
        struct conf_diags *d = NULL;
        int r = load_in("good", names[i], &cfg, &d);
        char *text = join(d);
        ck_assert_msg(r == CONF_OK, "%s: %s\n%s", names[i], conf_strerror(r), text);
        ck_assert_uint_eq(d->count, 0);
        ck_assert_str_eq(cfg->path, names[i]);
        free(text);
        conf_free(cfg);
        conf_diags_free(d);
    }
    free_list(names, n);
}
END_TEST

START_TEST(minimal_has_defaults)
{
    struct conf_config *cfg = NULL;
    ck_assert_int_eq(load_in("good", "minimal.ini", &cfg, NULL), CONF_OK);
    const struct conf_writer *w = &cfg->writer;
    ck_assert_uint_eq(w->line, 0);
    ck_assert_int_eq(w->bus.kind, CONF_BUS_SYSTEM);
    ck_assert_ptr_null(w->bus.address);
    ck_assert_str_eq(w->bus_name, "org.jetsnap.Writer1");
    ck_assert_uint_eq(w->freeze_timeout_ms, 60000);
    ck_assert_uint_eq(w->quiesce_timeout_ms, 10000);
    ck_assert_int_eq(w->stream_compression, CONF_COMPRESSION_ZSTD);
    ck_assert_uint_eq(w->zstd_level, 1);
    ck_assert_uint_eq(w->zstd_workers, 0);
    ck_assert_uint_eq(w->stream_max, 4);
    ck_assert_uint_eq(w->allow_users.n, 1);
    ck_assert_str_eq(w->allow_users.v[0], "root");
    ck_assert_uint_eq(cfg->n_instances, 1);
    const struct conf_instance *in = &cfg->instances[0];
    ck_assert_str_eq(in->name, "db1");
    ck_assert_str_eq(in->display_name, "db1");
    ck_assert_str_eq(in->system_path, "/srv/db1");
    ck_assert_str_eq(in->log_path, "/srv/db1");
    ck_assert_uint_eq(in->databases.n, 1);
    ck_assert_str_eq(in->databases.v[0], "/srv/db1/db1.edb");
    ck_assert_uint_eq(in->log_file_size_kb, 5120);
    ck_assert(!in->circular_logging);
    ck_assert_uint_eq(in->cache_size_mb, 64);
    ck_assert_uint_eq(in->line, 2);
    ck_assert_ptr_eq(conf_find_instance(cfg, "db1"), in);
    ck_assert_ptr_null(conf_find_instance(cfg, "DB1"));
    ck_assert_ptr_null(conf_find_instance(NULL, "db1"));
    conf_free(cfg);
}
END_TEST

START_TEST(full_values)
{
    struct conf_config *cfg = NULL;
    ck_assert_int_eq(load_in("good", "full.ini", &cfg, NULL), CONF_OK);
    const struct conf_writer *w = &cfg->writer;
    ck_assert_uint_eq(w->line, 2);
    ck_assert_int_eq(w->bus.kind, CONF_BUS_ADDRESS);
    ck_assert_str_eq(w->bus.address, "unix:path=/run/jetsnap/bus");
    ck_assert_str_eq(w->bus_name, "org.example.Backup.Writer2");
    ck_assert_uint_eq(w->freeze_timeout_ms, 100);
    ck_assert_uint_eq(w->quiesce_timeout_ms, 600000);
    ck_assert_int_eq(w->stream_compression, CONF_COMPRESSION_NONE);
    ck_assert_uint_eq(w->zstd_level, 19);
    ck_assert_uint_eq(w->zstd_workers, 2);
    ck_assert_uint_eq(w->stream_max, 16);
    ck_assert_uint_eq(w->allow_users.n, 3);
    ck_assert_str_eq(w->allow_users.v[0], "root");
    ck_assert_str_eq(w->allow_users.v[1], "backup");
    ck_assert_str_eq(w->allow_users.v[2], "1000");
    ck_assert_uint_eq(cfg->n_instances, 2);
    const struct conf_instance *m = &cfg->instances[0], *c = &cfg->instances[1];
    ck_assert_str_eq(m->name, "mail");
    ck_assert_str_eq(m->display_name, "Mail store");
    ck_assert_str_eq(m->system_path, "/var/lib/jetsnap/mail");
    ck_assert_str_eq(m->log_path, "/var/lib/jetsnap/mail/logs");
    ck_assert_uint_eq(m->databases.n, 2);
    ck_assert_str_eq(m->databases.v[0], "/var/lib/jetsnap/mail/mail.edb");
    ck_assert_str_eq(m->databases.v[1], "/var/lib/jetsnap/mail/index.edb");
    ck_assert_uint_eq(m->log_file_size_kb, 64);
    ck_assert(m->circular_logging);
    ck_assert_uint_eq(m->cache_size_mb, 65536);
    ck_assert_uint_eq(m->line, 14);
    ck_assert_str_eq(c->name, "Cal.2_x-y");
    ck_assert_str_eq(c->display_name, "Cal.2_x-y");
    ck_assert_uint_eq(c->log_file_size_kb, 32768);
    ck_assert(!c->circular_logging);
    ck_assert_uint_eq(c->cache_size_mb, 1);
    conf_free(cfg);
}
END_TEST

START_TEST(variants_values)
{
    struct conf_config *cfg = NULL;
    ck_assert_int_eq(load_in("good", "variants.ini", &cfg, NULL), CONF_OK);
    ck_assert_int_eq(cfg->writer.bus.kind, CONF_BUS_SESSION);
    ck_assert_ptr_null(cfg->writer.bus.address);
    ck_assert_int_eq(cfg->writer.stream_compression, CONF_COMPRESSION_ZSTD);
    ck_assert_uint_eq(cfg->n_instances, 2);
    const struct conf_instance *a = &cfg->instances[0], *b = &cfg->instances[1];
    ck_assert_str_eq(a->name, "alpha"); /* "[ instance   alpha ]" */
    ck_assert_str_eq(a->system_path, "/a/b/c");
    ck_assert_str_eq(a->log_path, "/a/b/c/logs;not-a-comment"); /* ';' needs a blank before it */
    ck_assert_str_eq(a->databases.v[0], "/a/b/c/x.edb");
    ck_assert(a->circular_logging);
    ck_assert_str_eq(b->display_name, "Beta: the second one, with = and : inside");
    conf_free(cfg);

    ck_assert_int_eq(load_in("good", "bus-address.ini", &cfg, NULL), CONF_OK);
    ck_assert_int_eq(cfg->writer.bus.kind, CONF_BUS_ADDRESS);
    ck_assert_str_eq(cfg->writer.bus.address,
                     "unix:path=/run/a%20b;tcp:host=localhost,port=4711,family=ipv4;");
    conf_free(cfg);
}
END_TEST

START_TEST(example_config_is_valid)
{
    struct conf_config *cfg = NULL;
    struct conf_diags *d = NULL;
    int r = conf_load_file(CONF_TEST_DIR "/../../examples/jetsnap.conf", &cfg, &d);
    char *text = join(d);
    ck_assert_msg(r == CONF_OK, "%s", text);
    free(text);
    ck_assert_uint_ge(cfg->n_instances, 2);
    conf_free(cfg);
    conf_diags_free(d);
}
END_TEST

/* ---------------------------------------------------------------------------------------------
 * Bad files
 * ------------------------------------------------------------------------------------------- */

START_TEST(bad_files_match_expected)
{
    char **names;
    size_t n = list_dir("bad", ".ini", &names);
    ck_assert_uint_ge(n, 10);
    for (size_t i = 0; i < n; i++) {
        struct conf_config *cfg = (struct conf_config *)0x1;
        struct conf_diags *d = NULL;
        int r = load_in("bad", names[i], &cfg, &d);
        ck_assert_msg(r == CONF_EINVALID, "%s: %s", names[i], conf_strerror(r));
        ck_assert_ptr_eq(cfg, (struct conf_config *)0x1); /* not written on failure */
        char exp_path[4096];
        snprintf(exp_path, sizeof exp_path, "%s/bad/%.*s.expected", CONF_TEST_DIR,
                 (int)(strlen(names[i]) - 4), names[i]);
        char *want = slurp(exp_path);
        char *got = join(d);
        ck_assert_msg(!strcmp(want, got), "%s: messages differ\n--- expected\n%s--- got\n%s", names[i], want,
                      got);
        free(want);
        free(got);
        conf_diags_free(d);
    }
    free_list(names, n);
}
END_TEST

/* The code of the first diagnostic of each file: one file per kind of error. */
START_TEST(bad_files_codes)
{
    static const struct {
        const char *file;
        enum conf_diag_code code;
        size_t count;
    } cases[] = {
        {"unknown-section.ini", CONF_D_UNKNOWN_SECTION, 2},
        {"unknown-key.ini", CONF_D_UNKNOWN_KEY, 5},
        {"bad-value.ini", CONF_D_BAD_VALUE, 10},
        {"out-of-range.ini", CONF_D_RANGE, 7},
        {"duplicate-instance.ini", CONF_D_DUP_SECTION, 3},
        {"duplicate-key.ini", CONF_D_DUP_KEY, 2},
        {"missing-key.ini", CONF_D_MISSING_KEY, 4},
        {"shared-path.ini", CONF_D_SHARED_PATH, 2},
        {"duplicate-database.ini", CONF_D_SHARED_PATH, 2},
        {"relative-path.ini", CONF_D_RELATIVE_PATH, 4},
        {"long-line.ini", CONF_D_RANGE, 3}, /* line 3 is accepted as a line, its value is too long */
        {"syntax.ini", CONF_D_SYNTAX, 6},
        {"bad-name.ini", CONF_D_BAD_NAME, 4},
        {"no-instance.ini", CONF_D_NO_INSTANCE, 1},
        {"many-errors.ini", CONF_D_UNKNOWN_KEY, 11},
        {"bad-utf8.ini", CONF_D_BAD_VALUE, 10},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct conf_diags *d = NULL;
        ck_assert_int_eq(load_in("bad", cases[i].file, NULL, &d), CONF_EINVALID);
        ck_assert_msg(d->count == cases[i].count, "%s: %zu diagnostics", cases[i].file, d->count);
        ck_assert_msg(d->items[0].code == cases[i].code, "%s: code %d", cases[i].file, d->items[0].code);
        conf_diags_free(d);
    }
    struct conf_diags *d = NULL;
    ck_assert_int_eq(load_in("bad", "long-line.ini", NULL, &d), CONF_EINVALID);
    ck_assert_int_eq(d->items[1].code, CONF_D_LINE_TOO_LONG);
    ck_assert_uint_eq(d->items[1].line, 6);
    ck_assert_str_eq(d->items[1].file, "long-line.ini");
    ck_assert_str_eq(d->items[1].message, "line is 222 bytes long; the limit is 197 bytes");
    conf_diags_free(d);
}
END_TEST

/* ---------------------------------------------------------------------------------------------
 * Edges of the API
 * ------------------------------------------------------------------------------------------- */

static const char base[] = "[instance a]\nsystem_path = /a\nlog_path = /a\ndatabase = /a/a.edb\n";

static int parse_str(const char *s, size_t len, struct conf_diags **d)
{
    return conf_parse_buffer("mem.ini", s, len, NULL, d);
}

START_TEST(line_length_boundary)
{
    char buf[1024];
    /* a comment line of exactly CONF_LINE_MAX bytes, with CRLF: fine */
    int n = snprintf(buf, sizeof buf, "%s;", base);
    memset(buf + n, 'x', CONF_LINE_MAX - 1);
    n += CONF_LINE_MAX - 1;
    n += snprintf(buf + n, sizeof buf - (size_t)n, "\r\n");
    struct conf_diags *d = NULL;
    ck_assert_int_eq(parse_str(buf, (size_t)n, &d), CONF_OK);
    conf_diags_free(d);
    /* one byte more: an error on line 5, nothing else */
    n = snprintf(buf, sizeof buf, "%s;", base);
    memset(buf + n, 'x', CONF_LINE_MAX);
    n += CONF_LINE_MAX;
    ck_assert_int_eq(parse_str(buf, (size_t)n, &d), CONF_EINVALID);
    ck_assert_uint_eq(d->count, 1);
    ck_assert_str_eq(d->items[0].text, "mem.ini:5: line is 198 bytes long; the limit is 197 bytes");
    conf_diags_free(d);
}
END_TEST

START_TEST(nul_byte_and_empty_input)
{
    char buf[256];
    int n = snprintf(buf, sizeof buf, "%s", base);
    memcpy(buf + n, "x = \0y\n", 7);
    struct conf_diags *d = NULL;
    ck_assert_int_eq(parse_str(buf, (size_t)n + 7, &d), CONF_EINVALID);
    ck_assert_uint_eq(d->count, 1);
    ck_assert_str_eq(d->items[0].text, "mem.ini:5: line contains a NUL byte");
    conf_diags_free(d);

    ck_assert_int_eq(conf_parse_buffer("empty.ini", NULL, 0, NULL, &d), CONF_EINVALID);
    ck_assert_uint_eq(d->count, 1);
    ck_assert_int_eq(d->items[0].code, CONF_D_NO_INSTANCE);
    ck_assert_uint_eq(d->items[0].line, 0);
    ck_assert_str_eq(d->items[0].text, "empty.ini: no [instance NAME] section: the writer would host nothing");
    conf_diags_free(d);
}
END_TEST

START_TEST(file_errors)
{
    struct conf_config *cfg = NULL;
    struct conf_diags *d = NULL;
    ck_assert_int_eq(conf_load_file("/nonexistent/jetsnap.conf", &cfg, &d), CONF_EIO);
    ck_assert_ptr_null(cfg);
    ck_assert_uint_eq(d->count, 1);
    ck_assert_int_eq(d->items[0].code, CONF_D_IO);
    ck_assert_str_eq(d->items[0].text, "/nonexistent/jetsnap.conf: cannot open: No such file or directory");
    conf_diags_free(d);

    ck_assert_int_eq(conf_load_file(CONF_TEST_DIR, &cfg, &d), CONF_EIO);
    ck_assert_uint_eq(d->count, 1);
    ck_assert_ptr_nonnull(strstr(d->items[0].text, ": not a regular file"));
    conf_diags_free(d);

    /* larger than CONF_FILE_MAX: refused as a whole */
    char path[] = "/tmp/jetsnap-conf-big-XXXXXX";
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    FILE *f = fdopen(fd, "w");
    fputs(base, f);
    for (size_t i = 0; i < CONF_FILE_MAX / 64 + 1; i++)
        fprintf(f, "; %-61s\n", "padding");
    fclose(f);
    ck_assert_int_eq(conf_load_file(path, &cfg, &d), CONF_EIO);
    ck_assert_uint_eq(d->count, 1);
    ck_assert_ptr_nonnull(strstr(d->items[0].message, "larger than 1048576 bytes"));
    conf_diags_free(d);
    unlink(path);
}
END_TEST

START_TEST(fifo_is_refused_without_blocking)
{
    /* Nobody writes to the FIFO: an open that waits for a writer hangs until the tcase time-out. */
    char dir[] = "/tmp/jetsnap-conf-fifo-XXXXXX";
    ck_assert_ptr_nonnull(mkdtemp(dir));
    char path[64], want[96];
    snprintf(path, sizeof path, "%s/jetsnap.conf", dir);
    ck_assert_int_eq(mkfifo(path, 0600), 0);
    struct conf_config *cfg = NULL;
    struct conf_diags *d = NULL;
    ck_assert_int_eq(conf_load_file(path, &cfg, &d), CONF_EIO);
    ck_assert_ptr_null(cfg);
    ck_assert_uint_eq(d->count, 1);
    ck_assert_int_eq(d->items[0].code, CONF_D_IO);
    snprintf(want, sizeof want, "%s: not a regular file", path);
    ck_assert_str_eq(d->items[0].text, want);
    conf_diags_free(d);
    unlink(path);
    rmdir(dir);
}
END_TEST

START_TEST(arguments)
{
    struct conf_diags *d = (struct conf_diags *)0x1;
    struct conf_config *cfg = NULL;
    ck_assert_int_eq(conf_load_file(NULL, &cfg, &d), CONF_EARG);
    ck_assert_ptr_null(d);
    ck_assert_int_eq(conf_parse_buffer(NULL, "", 0, &cfg, NULL), CONF_EARG);
    ck_assert_int_eq(conf_parse_buffer("x", NULL, 3, &cfg, NULL), CONF_EARG);
    /* both outputs optional */
    ck_assert_int_eq(conf_parse_buffer("x", base, strlen(base), NULL, NULL), CONF_OK);
    ck_assert_int_eq(conf_parse_buffer("x", "junk", 4, NULL, NULL), CONF_EINVALID);
    conf_free(NULL);
    conf_diags_free(NULL);
    ck_assert_str_eq(conf_strerror(CONF_EINVALID), "the configuration has errors");
    ck_assert_str_eq(conf_strerror(12345), "unknown error");
    ck_assert_str_eq(conf_bus_kind_name(CONF_BUS_SESSION), "session");
    ck_assert_str_eq(conf_compression_name(CONF_COMPRESSION_ZSTD), "zstd");
}
END_TEST

/* Values at and beyond the bounds of each numeric key, straight from the table. */
START_TEST(table_bounds)
{
    for (size_t i = 0; i < conf_nkeys; i++) {
        const struct conf_key *k = &conf_keys[i];
        if (k->type != CONF_T_UINT)
            continue;
        unsigned long long vals[] = {k->min, k->max, k->min - 1, k->max + 1};
        for (int j = 0; j < 4; j++) {
            if (j == 2 && k->min == 0)
                continue;
            char buf[512];
            int n = k->section == CONF_SEC_WRITER
                        ? snprintf(buf, sizeof buf, "%s[writer]\n%s = %llu\n", base, k->name, vals[j])
                        : snprintf(buf, sizeof buf, "%s[instance b]\nsystem_path=/b\nlog_path=/b\n"
                                                    "database=/b/b\n%s = %llu\n",
                                   base, k->name, vals[j]);
            struct conf_diags *d = NULL;
            int r = parse_str(buf, (size_t)n, &d);
            ck_assert_msg(r == (j < 2 ? CONF_OK : CONF_EINVALID), "%s = %llu", k->name, vals[j]);
            if (j >= 2)
                ck_assert_int_eq(d->items[0].code, CONF_D_RANGE);
            conf_diags_free(d);
        }
    }
    /* every key has help text, and every optional key a default */
    for (size_t i = 0; i < conf_nkeys; i++) {
        ck_assert(conf_keys[i].help && *conf_keys[i].help);
        ck_assert((conf_keys[i].flags & CONF_KEY_REQUIRED) || conf_keys[i].def || conf_keys[i].def_doc);
    }
}
END_TEST

START_TEST(too_many_databases)
{
    char buf[8192];
    int n = snprintf(buf, sizeof buf, "[instance a]\nsystem_path=/a\nlog_path=/a\n");
    for (int i = 0; i <= CONF_DATABASES_MAX; i++)
        n += snprintf(buf + n, sizeof buf - (size_t)n, "database = /a/%d.edb\n", i);
    struct conf_diags *d = NULL;
    ck_assert_int_eq(parse_str(buf, (size_t)n, &d), CONF_EINVALID);
    ck_assert_uint_eq(d->count, 1);
    ck_assert_str_eq(d->items[0].text, "mem.ini:36: too many 'database' keys (at most 32)");
    conf_diags_free(d);
}
END_TEST

/* Names, display names and every diagnostic end up in D-Bus strings, and libdbus aborts the
 * process on a string that is not UTF-8: the parser must refuse such values with the line number,
 * keep valid non-ASCII text, and escape bad bytes in its messages. libdbus itself is the judge. */
START_TEST(strings_are_utf8_for_dbus)
{
    static const char *const bad[] = {
        "\x80", "ab\xc3", "\xc0\xaf", "\xe0\x80\xaf", "\xed\xa0\x80", "\xf4\x90\x80\x80", "\xf8\x88\x80\x80\x80",
        "\xfe", "ok \xe2\x82 then text",
    };
    char buf[512];
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int n = snprintf(buf, sizeof buf, "%sdisplay_name = %s\n", base, bad[i]);
        struct conf_diags *d = NULL;
        ck_assert_int_eq(parse_str(buf, (size_t)n, &d), CONF_EINVALID);
        ck_assert_msg(d->count == 1, "case %zu: %zu diagnostics", i, d->count);
        ck_assert_int_eq(d->items[0].code, CONF_D_BAD_VALUE);
        ck_assert_uint_eq(d->items[0].line, 5);
        ck_assert_msg(strstr(d->items[0].message, "is not valid UTF-8"), "case %zu: %s", i, d->items[0].text);
        ck_assert_msg(dbus_validate_utf8(d->items[0].text, NULL), "case %zu: message not UTF-8", i);
        conf_diags_free(d);
    }

    const char *good = "Caf\xc3\xa9 \xe2\x9c\x93 \xf0\x9f\x93\xa6 \xef\xbf\xbd";
    int n = snprintf(buf, sizeof buf, "%sdisplay_name = %s\n", base, good);
    struct conf_config *cfg = NULL;
    struct conf_diags *d = NULL;
    ck_assert_int_eq(conf_parse_buffer("mem.ini", buf, (size_t)n, &cfg, &d), CONF_OK);
    ck_assert_str_eq(cfg->instances[0].display_name, good);
    ck_assert(dbus_validate_utf8(cfg->instances[0].display_name, NULL));
    conf_free(cfg);
    conf_diags_free(d);

    /* every message of every bad file, whatever bytes the file holds */
    char dir[512];
    snprintf(dir, sizeof dir, "%s/bad", CONF_TEST_DIR);
    DIR *dp = opendir(dir);
    ck_assert_ptr_nonnull(dp);
    size_t files = 0;
    for (struct dirent *e; (e = readdir(dp));) {
        size_t len = strlen(e->d_name);
        if (len < 5 || strcmp(e->d_name + len - 4, ".ini"))
            continue;
        d = NULL;
        ck_assert_int_eq(load_in("bad", e->d_name, NULL, &d), CONF_EINVALID);
        for (size_t i = 0; i < d->count; i++)
            ck_assert_msg(dbus_validate_utf8(d->items[i].text, NULL), "%s: not UTF-8: %s", e->d_name,
                          d->items[i].text);
        conf_diags_free(d);
        files++;
    }
    closedir(dp);
    ck_assert_uint_ge(files, 16);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("conf");
    TCase *tc = tcase_create("conf");
    tcase_add_test(tc, all_good_files_parse);
    tcase_add_test(tc, minimal_has_defaults);
    tcase_add_test(tc, full_values);
    tcase_add_test(tc, variants_values);
    tcase_add_test(tc, example_config_is_valid);
    tcase_add_test(tc, bad_files_match_expected);
    tcase_add_test(tc, bad_files_codes);
    tcase_add_test(tc, line_length_boundary);
    tcase_add_test(tc, nul_byte_and_empty_input);
    tcase_add_test(tc, file_errors);
    tcase_add_test(tc, arguments);
    tcase_add_test(tc, table_bounds);
    tcase_add_test(tc, too_many_databases);
    tcase_add_test(tc, strings_are_utf8_for_dbus);
    suite_add_tcase(s, tc);
    TCase *tf = tcase_create("conf-fifo");
    tcase_set_timeout(tf, 5);
    tcase_add_test(tf, fifo_is_refused_without_blocking);
    suite_add_tcase(s, tf);
    return s;
}

TU_CHECK_MAIN(suite)
