/*
 * ctl-manifest.c — backup_manifest, the description of a backup set that verify and restore trust
 * (docs/jetsnapctl.md, "The manifest"). JSON through json-c. Like pg_verifybackup's
 * "Manifest-Checksum", the last member "manifest_checksum" holds the CRC-32C of every byte of the
 * file before the line that carries it, so any change to the text — not only to the files it
 * describes — is caught.
 */
#include <errno.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <jet.h>

#include "ctl-int.h"

#define CHECKSUM_KEY "\n  \"manifest_checksum\": "

static json_object *to_json(const struct ctl_manifest *m);
static json_object *file_to_json(const struct ctl_mfile *f);
static json_object *jtime(uint64_t usec);
static bool from_json(json_object *j, struct ctl_manifest *m, const char *what, char *err, size_t n);
static bool file_from_json(json_object *j, struct ctl_mfile *f, const char *what, size_t i, char *err, size_t n);
static bool get_str(json_object *j, const char *key, char **out);
static bool get_u64(json_object *j, const char *key, uint64_t *out);
static bool parse_crc(const char *s, uint32_t *crc);

char *ctl_manifest_format(struct ctl_manifest *m)
{
    json_object *j = to_json(m);
    if (!j)
        return NULL;
    const char *text = json_object_to_json_string_ext(j, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED |
                                                             JSON_C_TO_STRING_NOSLASHESCAPE);
    /* Reopen the object's closing brace to append the checksum as its last member. */
    const char *close = text ? strrchr(text, '}') : NULL;
    size_t len = close ? (size_t)(close - text) : 0;
    while (len > 0 && (text[len - 1] == '\n' || text[len - 1] == ' '))
        len--;
    char *out = close ? malloc(len + 64) : NULL;
    if (out) {
        memcpy(out, text, len);
        out[len++] = ',';
        /* The checksum covers everything up to and including the newline that starts its line. */
        out[len] = '\n';
        uint32_t crc = JetCrc32c(0, out, len + 1);
        char c[16];
        ctl_crc_format(crc, c);
        snprintf(out + len, 64, "%s\"%s\"\n}\n", CHECKSUM_KEY, c);
        free(m->checksum);
        m->checksum = strdup(c);
    }
    json_object_put(j);
    return out;
}

bool ctl_manifest_load(const char *path, struct ctl_manifest *m, char *err, size_t n)
{
    memset(m, 0, sizeof *m);
    FILE *f = fopen(path, "re");
    if (!f) {
        char b[32];
        snprintf(err, n, "%s: cannot open the manifest: %s (%s)", path, strerror(errno),
                 ctl_errno_name(errno, b, sizeof b));
        return false;
    }
    struct stat st;
    char *text = NULL;
    bool ok = fstat(fileno(f), &st) == 0 && st.st_size < (64 << 20) && (text = malloc((size_t)st.st_size + 1)) &&
         fread(text, 1, (size_t)st.st_size, f) == (size_t)st.st_size;
    fclose(f);
    if (!ok) {
        free(text);
        snprintf(err, n, "%s: cannot read the manifest (too large, or a read error)", path);
        return false;
    }
    text[st.st_size] = '\0';
    ok = ctl_manifest_parse(text, (size_t)st.st_size, path, m, err, n);
    free(text);
    return ok;
}

bool ctl_manifest_parse(const char *text, size_t len, const char *what, struct ctl_manifest *m, char *err,
                        size_t n)
{
    memset(m, 0, sizeof *m);
    if (strlen(text) != len) {
        snprintf(err, n, "%s: the manifest holds a NUL byte", what);
        return false;
    }
    /* The last checksum line: a manifest edited by hand to add a second one must not pass. */
    const char *key = NULL;
    for (const char *p = text; (p = strstr(p, CHECKSUM_KEY)); p++)
        key = p;
    if (!key) {
        snprintf(err, n, "%s: the manifest has no manifest_checksum line", what);
        return false;
    }
    uint32_t crc = JetCrc32c(0, text, (size_t)(key - text) + 1);
    json_tokener *tok = json_tokener_new();
    json_object *j = tok ? json_tokener_parse_ex(tok, text, (int)len) : NULL;
    bool complete = tok && json_tokener_get_error(tok) == json_tokener_success &&
                    strspn(text + json_tokener_get_parse_end(tok), " \t\r\n") == len - json_tokener_get_parse_end(tok);
    if (tok)
        json_tokener_free(tok);
    if (!j || !complete || !json_object_is_type(j, json_type_object)) {
        json_object_put(j);
        snprintf(err, n, "%s: the manifest is not one JSON object", what);
        return false;
    }
    bool ok = from_json(j, m, what, err, n);
    json_object_put(j);
    uint32_t want = 0;
    if (ok && (!m->checksum || !parse_crc(m->checksum, &want))) {
        snprintf(err, n, "%s: the manifest's manifest_checksum is not crc32c:XXXXXXXX", what);
        ok = false;
    }
    if (ok && want != crc) {
        char c[16];
        ctl_crc_format(crc, c);
        snprintf(err, n, "%s: the manifest is damaged: its text has checksum %s, its manifest_checksum says %s",
                 what, c, m->checksum);
        ok = false;
    }
    if (!ok)
        ctl_manifest_free(m);
    return ok;
}

struct ctl_mfile *ctl_manifest_add(struct ctl_manifest *m)
{
    struct ctl_mfile *v = realloc(m->files, (m->n_files + 1) * sizeof *v);
    if (!v)
        return NULL;
    m->files = v;
    memset(&v[m->n_files], 0, sizeof v[0]);
    return &v[m->n_files++];
}

void ctl_manifest_free(struct ctl_manifest *m)
{
    free(m->bus_name);
    free(m->writer_id);
    free(m->instance);
    free(m->type);
    free(m->label);
    free(m->log_base_name);
    free(m->base_label);
    free(m->base_type);
    free(m->base_checksum);
    free(m->checksum);
    for (size_t i = 0; i < m->n_files; i++) {
        free(m->files[i].name);
        free(m->files[i].path);
        free(m->files[i].stored_as);
    }
    free(m->files);
    memset(m, 0, sizeof *m);
}

void ctl_crc_format(uint32_t crc, char out[16])
{
    snprintf(out, 16, "crc32c:%08x", crc);
}

static json_object *to_json(const struct ctl_manifest *m)
{
    json_object *j = json_object_new_object();
    json_object *w = json_object_new_object();
    json_object *r = json_object_new_object();
    json_object *files = json_object_new_array();
    if (!j || !w || !r || !files) {
        json_object_put(j);
        json_object_put(w);
        json_object_put(r);
        json_object_put(files);
        return NULL;
    }
    json_object_object_add(j, "format_version", json_object_new_int(m->version));
    json_object_object_add(w, "bus_name", json_object_new_string(m->bus_name ? m->bus_name : ""));
    json_object_object_add(w, "writer_id", json_object_new_string(m->writer_id ? m->writer_id : ""));
    json_object_object_add(j, "writer", w);
    json_object_object_add(j, "instance", json_object_new_string(m->instance));
    json_object_object_add(j, "backup_type", json_object_new_string(m->type));
    json_object_object_add(j, "label", json_object_new_string(m->label ? m->label : ""));
    if (m->has_base) {
        json_object *b = json_object_new_object();
        json_object_object_add(b, "label", json_object_new_string(m->base_label));
        json_object_object_add(b, "backup_type", json_object_new_string(m->base_type));
        json_object_object_add(b, "start_time_usec", json_object_new_uint64(m->base_start_usec));
        json_object_object_add(b, "last_generation", json_object_new_uint64(m->base_last_gen));
        json_object_object_add(b, "manifest_checksum", json_object_new_string(m->base_checksum));
        json_object_object_add(j, "base", b);
    } else {
        json_object_object_add(j, "base", NULL);
    }
    json_object_object_add(j, "log_base_name", json_object_new_string(m->log_base_name ? m->log_base_name : ""));
    json_object_object_add(j, "page_size", json_object_new_uint64(m->page_size));
    json_object_object_add(r, "first_generation", json_object_new_uint64(m->first_gen));
    json_object_object_add(r, "last_generation", json_object_new_uint64(m->last_gen));
    json_object_object_add(j, "log_range", r);
    json_object_object_add(j, "start_time_usec", json_object_new_uint64(m->start_usec));
    json_object_object_add(j, "start_time", jtime(m->start_usec));
    json_object_object_add(j, "stop_time_usec", json_object_new_uint64(m->stop_usec));
    json_object_object_add(j, "stop_time", jtime(m->stop_usec));
    for (size_t i = 0; i < m->n_files; i++)
        json_object_array_add(files, file_to_json(&m->files[i]));
    json_object_object_add(j, "files", files);
    return j;
}

static json_object *file_to_json(const struct ctl_mfile *f)
{
    json_object *j = json_object_new_object();
    char c[16];
    ctl_crc_format(f->crc, c);
    json_object_object_add(j, "name", json_object_new_string(f->name));
    json_object_object_add(j, "path", json_object_new_string(f->path));
    json_object_object_add(j, "stored_as", json_object_new_string(f->stored_as));
    json_object_object_add(j, "kind", json_object_new_string(f->log ? "log" : "data"));
    if (f->log)
        json_object_object_add(j, "generation", json_object_new_uint64(f->generation));
    json_object_object_add(j, "size", json_object_new_uint64(f->size));
    json_object_object_add(j, "stored_size", json_object_new_uint64(f->stored_size));
    json_object_object_add(j, "compression", json_object_new_string(f->zstd ? "zstd" : "none"));
    json_object_object_add(j, "checksum", json_object_new_string(c));
    return j;
}

static json_object *jtime(uint64_t usec)
{
    char b[64];
    ctl_format_time(usec, b, sizeof b);
    return json_object_new_string(b);
}

static bool from_json(json_object *j, struct ctl_manifest *m, const char *what, char *err, size_t n)
{
    json_object *w, *r, *files, *b;
    uint64_t v = 0, ps = 0, fg = 0, lg = 0;
    get_str(j, "manifest_checksum", &m->checksum);
    if (!get_u64(j, "format_version", &v) || v != CTL_MANIFEST_VERSION) {
        snprintf(err, n, "%s: not a jetsnapctl backup_manifest of format version %d", what, CTL_MANIFEST_VERSION);
        return false;
    }
    m->version = (int)v;
    if (!json_object_object_get_ex(j, "writer", &w) || !get_str(w, "bus_name", &m->bus_name) ||
        !get_str(w, "writer_id", &m->writer_id) || !get_str(j, "instance", &m->instance) ||
        !get_str(j, "backup_type", &m->type) || !get_str(j, "label", &m->label) ||
        !get_str(j, "log_base_name", &m->log_base_name) || !get_u64(j, "page_size", &ps) ||
        !json_object_object_get_ex(j, "log_range", &r) || !get_u64(r, "first_generation", &fg) ||
        !get_u64(r, "last_generation", &lg) || !get_u64(j, "start_time_usec", &m->start_usec) ||
        !get_u64(j, "stop_time_usec", &m->stop_usec) || !json_object_object_get_ex(j, "files", &files) ||
        !json_object_is_type(files, json_type_array) || !json_object_object_get_ex(j, "base", &b)) {
        snprintf(err, n, "%s: the manifest lacks a member or has one of the wrong type", what);
        return false;
    }
    m->page_size = (uint32_t)ps;
    m->first_gen = (uint32_t)fg;
    m->last_gen = (uint32_t)lg;
    if (b) {
        m->has_base = true;
        if (!get_str(b, "label", &m->base_label) || !get_str(b, "backup_type", &m->base_type) ||
            !get_str(b, "manifest_checksum", &m->base_checksum) || !get_u64(b, "start_time_usec", &m->base_start_usec) ||
            !get_u64(b, "last_generation", &v)) {
            snprintf(err, n, "%s: the manifest's base lacks a member", what);
            return false;
        }
        m->base_last_gen = (uint32_t)v;
    }
    size_t nf = json_object_array_length(files);
    for (size_t i = 0; i < nf; i++) {
        struct ctl_mfile *f = ctl_manifest_add(m);
        if (!f) {
            snprintf(err, n, "out of memory");
            return false;
        }
        if (!file_from_json(json_object_array_get_idx(files, i), f, what, i, err, n))
            return false;
    }
    return true;
}

static bool file_from_json(json_object *j, struct ctl_mfile *f, const char *what, size_t i, char *err, size_t n)
{
    char *kind = NULL, *comp = NULL, *sum = NULL;
    uint64_t gen = 0;
    bool ok = get_str(j, "name", &f->name) && get_str(j, "path", &f->path) &&
              get_str(j, "stored_as", &f->stored_as) && get_str(j, "kind", &kind) && get_u64(j, "size", &f->size) &&
              get_u64(j, "stored_size", &f->stored_size) && get_str(j, "compression", &comp) &&
              get_str(j, "checksum", &sum);
    ok = ok && (!strcmp(kind, "data") || !strcmp(kind, "log")) && (!strcmp(comp, "none") || !strcmp(comp, "zstd")) &&
         parse_crc(sum, &f->crc);
    if (ok) {
        f->log = !strcmp(kind, "log");
        f->zstd = !strcmp(comp, "zstd");
        ok = !f->log || get_u64(j, "generation", &gen);
        f->generation = (uint32_t)gen;
    }
    /* stored_as names a file inside the backup directory, never a path out of it. */
    ok = ok && f->stored_as[0] && !strchr(f->stored_as, '/') && strcmp(f->stored_as, ".") && strcmp(f->stored_as, "..");
    if (!ok)
        snprintf(err, n, "%s: the manifest's file entry %zu is malformed", what, i + 1);
    free(kind);
    free(comp);
    free(sum);
    return ok;
}

static bool get_str(json_object *j, const char *key, char **out)
{
    json_object *v;
    if (!json_object_object_get_ex(j, key, &v) || !json_object_is_type(v, json_type_string))
        return false;
    free(*out);
    *out = strdup(json_object_get_string(v));
    return *out != NULL;
}

static bool get_u64(json_object *j, const char *key, uint64_t *out)
{
    json_object *v;
    if (!json_object_object_get_ex(j, key, &v) || !json_object_is_type(v, json_type_int))
        return false;
    *out = json_object_get_uint64(v);
    return true;
}

static bool parse_crc(const char *s, uint32_t *crc)
{
    char *end;
    if (strncmp(s, "crc32c:", 7) != 0 || strlen(s) != 15)
        return false;
    unsigned long v = strtoul(s + 7, &end, 16);
    if (*end)
        return false;
    *crc = (uint32_t)v;
    return true;
}
