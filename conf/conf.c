/*
 * conf.c — reading a configuration file with inih and checking it against the table of keys.
 *
 * How inih is used. The distribution's libinih is built with inih's default options, so this file
 * relies on nothing else: no INI_HANDLER_LINENO (the handler is not told the line), a line buffer
 * of INI_MAX_LINE (200) bytes in which fgets-style reading would silently split a longer line,
 * section names cut at 49 bytes, no call of the handler on a section header, multi-line values
 * (an indented line continues the previous value) and only the first syntax error returned.
 * Therefore the text reaches inih through our own reader (ini_parse_stream), which
 *  - counts lines, so the handler knows the line of the pair it is given (inih handles each line
 *    completely before it asks for the next one);
 *  - hands over whole lines only: a line longer than CONF_LINE_MAX is reported and replaced by an
 *    empty line, never split;
 *  - strips leading whitespace, so inih never sees a continuation line;
 *  - handles section headers itself (full length, with their line numbers, even for empty sections)
 *    and reports the lines inih would reject (no '=', no ']'), so every error is reported, each
 *    with its line. inih then splits "key = value" lines and strips blanks and inline comments.
 *
 * Errors are collected, never printed, and sorted into file order at the end.
 */
#include <errno.h>
#include <fcntl.h>
#include <ini.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "conf-int.h"

#define NKEYS_MAX 32
#define ESC_MAX (4 * CONF_LINE_MAX + 8)

_Static_assert(sizeof(enum conf_compression) == sizeof(int), "enum fields are stored as int");
_Static_assert(sizeof(enum conf_bus_kind) == sizeof(int), "enum fields are stored as int");

/* Per-section bookkeeping: where each key was first set and how often. */
struct seen {
    unsigned line[NKEYS_MAX];
    unsigned count[NKEYS_MAX];
    unsigned *db_lines; /* line of each entry of databases (instances only) */
};

enum sec_kind {
    SEC_NONE,     /* before the first section header */
    SEC_WRITER,   /* [writer] */
    SEC_INSTANCE, /* [instance NAME] */
    SEC_SKIP,     /* an unknown or unreadable header: its keys are ignored (one error suffices) */
};

struct diag_entry {
    unsigned line;
    unsigned seq;
    enum conf_diag_code code;
    char *message;
};

struct ctx {
    const char *file;
    struct conf_config *cfg;
    struct seen *inst_seen; /* parallel to cfg->instances */
    size_t inst_cap;
    struct seen writer_seen;
    unsigned writer_line;
    size_t instance_headers;

    /* the section being read */
    enum sec_kind kind;
    bool discard;            /* a duplicate or badly named section: checked, then dropped */
    unsigned sec_line;
    char sec_title[CONF_NAME_MAX + 16]; /* "[writer]", "[instance NAME]" for messages */
    size_t sec_index;        /* index in cfg->instances when SEC_INSTANCE and !discard */
    struct conf_writer scratch_writer;
    struct conf_instance scratch_inst;
    struct seen scratch_seen;

    /* instance names -> index + 1 (open addressing) */
    size_t *names;
    size_t names_cap;

    /* input */
    const char *data;
    size_t len, pos;
    unsigned lineno;

    struct diag_entry *diags;
    size_t ndiags, diags_cap;
    bool oom;
};

/* ---------------------------------------------------------------------------------------------
 * Small helpers
 * ------------------------------------------------------------------------------------------- */

static char *xstrdup(struct ctx *c, const char *s)
{
    char *d = strdup(s);
    if (!d)
        c->oom = true;
    return d;
}

/* The length (1..4) of the well-formed UTF-8 sequence s starts with (RFC 3629: no overlong forms,
 * no UTF-16 surrogates, nothing above U+10FFFF, the rules libdbus checks strings with), or 0. */
static size_t utf8_seq_len(const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t n;
    uint32_t cp;
    if (p[0] < 0x80)
        return 1;
    if (p[0] >= 0xc2 && p[0] <= 0xdf) {
        n = 2;
        cp = p[0] & 0x1f;
    } else if (p[0] >= 0xe0 && p[0] <= 0xef) {
        n = 3;
        cp = p[0] & 0x0f;
    } else if (p[0] >= 0xf0 && p[0] <= 0xf4) {
        n = 4;
        cp = p[0] & 0x07;
    } else {
        return 0;
    }
    for (size_t i = 1; i < n; i++) {
        if ((p[i] & 0xc0) != 0x80) /* also stops at the terminating NUL */
            return 0;
        cp = (cp << 6) | (p[i] & 0x3f);
    }
    if ((n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
        (cp >= 0xd800 && cp <= 0xdfff))
        return 0;
    return n;
}

/* The offset of the first byte of s that does not start a well-formed UTF-8 sequence, or -1. */
static ptrdiff_t utf8_invalid_at(const char *s)
{
    for (const char *p = s; *p;) {
        size_t n = utf8_seq_len(p);
        if (!n)
            return p - s;
        p += n;
    }
    return -1;
}

/* Copy s into out (ESC_MAX bytes) with control bytes and bytes that are not part of valid UTF-8
 * escaped as \xNN, so that messages stay one printable line whatever the input holds, and stay
 * valid UTF-8: they may be sent over D-Bus, whose libdbus aborts the process on invalid UTF-8 in a
 * string. A sequence is copied whole or not at all. */
static const char *esc(char *out, const char *s)
{
    size_t o = 0;
    while (*s) {
        unsigned char ch = (unsigned char)*s;
        size_t n = utf8_seq_len(s);
        if (ch >= 0x20 && ch != 0x7f && n > 0) {
            if (o + n + 1 > ESC_MAX)
                break;
            memcpy(out + o, s, n);
            o += n;
            s += n;
            continue;
        }
        if (o + 5 > ESC_MAX)
            break;
        o += (size_t)snprintf(out + o, ESC_MAX - o, "\\x%02x", ch);
        s++;
    }
    out[o] = '\0';
    return out;
}

#if defined(__GNUC__)
__attribute__((format(printf, 4, 5)))
#endif
static void diag(struct ctx *c, unsigned line, enum conf_diag_code code, const char *fmt, ...)
{
    if (c->ndiags == c->diags_cap) {
        size_t ncap = c->diags_cap ? 2 * c->diags_cap : 16;
        struct diag_entry *n = realloc(c->diags, ncap * sizeof *n);
        if (!n) {
            c->oom = true;
            return;
        }
        c->diags = n;
        c->diags_cap = ncap;
    }
    va_list ap;
    va_start(ap, fmt);
    char *msg = NULL;
    int r = vasprintf(&msg, fmt, ap);
    va_end(ap);
    if (r < 0) {
        c->oom = true;
        return;
    }
    c->diags[c->ndiags] = (struct diag_entry){line, (unsigned)c->ndiags, code, msg};
    c->ndiags++;
}

static bool strv_push(struct ctx *c, struct conf_strv *sv, char *s)
{
    if (!s)
        return false;
    char **n = realloc(sv->v, (sv->n + 1) * sizeof *n);
    if (!n) {
        free(s);
        c->oom = true;
        return false;
    }
    sv->v = n;
    sv->v[sv->n++] = s;
    return true;
}

static void strv_clear(struct conf_strv *sv)
{
    for (size_t i = 0; i < sv->n; i++)
        free(sv->v[i]);
    free(sv->v);
    sv->v = NULL;
    sv->n = 0;
}

static void writer_clear(struct conf_writer *w)
{
    free(w->bus.address);
    free(w->bus_name);
    strv_clear(&w->allow_users);
    memset(w, 0, sizeof *w);
}

static void instance_clear(struct conf_instance *in)
{
    free(in->name);
    free(in->display_name);
    free(in->system_path);
    free(in->log_path);
    strv_clear(&in->databases);
    memset(in, 0, sizeof *in);
}

static void seen_clear(struct seen *s)
{
    free(s->db_lines);
    memset(s, 0, sizeof *s);
}

/* inih trims with isspace() in the C locale; so do we (the line end is already gone). */
static bool is_blank(char ch)
{
    return ch == ' ' || ch == '\t' || ch == '\v' || ch == '\f' || ch == '\r' || ch == '\n';
}
static bool is_alnum(char ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9');
}

/* ---------------------------------------------------------------------------------------------
 * Value syntax
 * ------------------------------------------------------------------------------------------- */

/* Instance names: 1..64 of [A-Za-z0-9._-], starting with a letter or digit. Such a name is a JET
 * instance name and, escaped, one element of a D-Bus object path. */
static bool valid_instance_name(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > CONF_NAME_MAX || !is_alnum(s[0]))
        return false;
    for (size_t i = 0; i < n; i++)
        if (!is_alnum(s[i]) && s[i] != '.' && s[i] != '_' && s[i] != '-')
            return false;
    return true;
}

/* A well-known bus name (D-Bus specification, "Bus names"): at most 255 bytes, two or more
 * non-empty elements separated by '.', each of [A-Za-z0-9_-] not starting with a digit. */
static bool valid_bus_name(const char *s)
{
    size_t n = strlen(s), elems = 0;
    if (n == 0 || n > 255)
        return false;
    const char *p = s;
    for (;;) {
        const char *e = p;
        while (*e && *e != '.')
            e++;
        if (e == p || (*p >= '0' && *p <= '9'))
            return false;
        for (const char *q = p; q < e; q++)
            if (!is_alnum(*q) && *q != '_' && *q != '-')
                return false;
        elems++;
        if (!*e)
            break;
        p = e + 1;
    }
    return elems >= 2;
}

static bool is_hex(char ch)
{
    return (ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f') || (ch >= 'A' && ch <= 'F');
}

/* A D-Bus server address (D-Bus specification, "Server Addresses"): one or more
 * "transport:key=value,key=value" separated by ';' (a trailing ';' is allowed); values are
 * [-0-9A-Za-z_/.*] or %XX escapes. */
static bool valid_bus_address(const char *s)
{
    const char *p = s;
    if (!*p)
        return false;
    while (*p) {
        const char *t = p;
        while (*p && (is_alnum(*p) || *p == '_' || *p == '-'))
            p++;
        if (p == t || *p != ':')
            return false;
        p++;
        while (*p && *p != ';') {
            const char *k = p;
            while (*p && (is_alnum(*p) || *p == '_' || *p == '-'))
                p++;
            if (p == k || *p != '=')
                return false;
            p++;
            const char *v = p;
            while (*p && *p != ',' && *p != ';') {
                if (*p == '%') {
                    if (!is_hex(p[1]) || !is_hex(p[2]))
                        return false;
                    p += 3;
                } else if (is_alnum(*p) || strchr("-_/.*", *p)) {
                    p++;
                } else {
                    return false;
                }
            }
            if (p == v)
                return false;
            if (*p == ',') {
                p++;
                if (!*p || *p == ';')
                    return false;
            }
        }
        if (*p == ';')
            p++;
    }
    return true;
}

/* A user name or numeric uid: [A-Za-z0-9_][A-Za-z0-9._-]* with an optional final '$', at most 32
 * bytes (the usual useradd rules, relaxed to allow upper case). */
static bool valid_user(const char *s, size_t n)
{
    if (n == 0 || n > 32 || !(is_alnum(s[0]) || s[0] == '_'))
        return false;
    for (size_t i = 1; i < n; i++) {
        if (s[i] == '$' && i == n - 1)
            break;
        if (!is_alnum(s[i]) && s[i] != '.' && s[i] != '_' && s[i] != '-')
            return false;
    }
    return true;
}

/* Normalize an absolute path as text. Returns 0 and a new string, 1 when a ".." component is
 * present, -1 when out of memory. *dir_form tells whether the path ends with '/' or "/." (names a
 * directory) or is "/". */
static int normalize_path(const char *s, char **out, bool *dir_form)
{
    size_t n = strlen(s);
    char *r = malloc(n + 2);
    if (!r)
        return -1;
    size_t o = 0;
    const char *p = s;
    bool last_dot = false;
    while (*p) {
        while (*p == '/')
            p++;
        const char *e = p;
        while (*e && *e != '/')
            e++;
        size_t len = (size_t)(e - p);
        last_dot = false;
        if (len == 0)
            break;
        if (len == 1 && p[0] == '.') {
            last_dot = true;
        } else if (len == 2 && p[0] == '.' && p[1] == '.') {
            free(r);
            return 1;
        } else {
            r[o++] = '/';
            memcpy(r + o, p, len);
            o += len;
        }
        p = e;
    }
    if (o == 0)
        r[o++] = '/';
    r[o] = '\0';
    *dir_form = s[n - 1] == '/' || last_dot || o == 1;
    *out = r;
    return 0;
}

static bool parse_bool(const char *v, bool *out)
{
    static const char *const yes[] = {"true", "yes", "on", "1"}, *const no[] = {"false", "no", "off", "0"};
    for (size_t i = 0; i < 4; i++) {
        if (!strcasecmp(v, yes[i])) {
            *out = true;
            return true;
        }
        if (!strcasecmp(v, no[i])) {
            *out = false;
            return true;
        }
    }
    return false;
}

/* ---------------------------------------------------------------------------------------------
 * Storing one value
 * ------------------------------------------------------------------------------------------- */

static const struct conf_key *find_key(enum conf_section sec, const char *name, size_t *idx)
{
    for (size_t i = 0; i < conf_nkeys; i++)
        if (conf_keys[i].section == sec && !strcmp(conf_keys[i].name, name)) {
            *idx = i;
            return &conf_keys[i];
        }
    return NULL;
}

static void enum_words_list(const struct conf_key *k, char *buf, size_t n)
{
    size_t o = 0;
    buf[0] = '\0';
    for (size_t i = 0; k->enum_words[i]; i++) {
        const char *sep = !i ? "" : k->enum_words[i + 1] ? ", " : " or ";
        int r = snprintf(buf + o, n - o, "%s%s", sep, k->enum_words[i]);
        if (r < 0 || (size_t)r >= n - o)
            break;
        o += (size_t)r;
    }
}

/* Parse value for key k into obj (a struct conf_writer or struct conf_instance). line is 0 for a
 * default, which must never fail (test-conf checks every default). */
static void store(struct ctx *c, const struct conf_key *k, void *obj, const char *value, unsigned line)
{
    char ev[ESC_MAX];
    char *field = (char *)obj + k->offset;

    if (!*value) {
        diag(c, line, CONF_D_BAD_VALUE, "key '%s' has an empty value", k->name);
        return;
    }
    for (const char *p = value; *p; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f) {
            diag(c, line, CONF_D_BAD_VALUE, "bad value for '%s': '%s' contains a control character",
                 k->name, esc(ev, value));
            return;
        }

    /* Paths may hold any bytes (they travel over D-Bus as byte arrays); every other value ends up
     * in a D-Bus string, which must be UTF-8. */
    ptrdiff_t bad = k->type == CONF_T_PATH ? -1 : utf8_invalid_at(value);
    if (bad >= 0) {
        diag(c, line, CONF_D_BAD_VALUE, "bad value for '%s': '%s' is not valid UTF-8 (byte 0x%02x at offset %td)",
             k->name, esc(ev, value), (unsigned char)value[bad], bad);
        return;
    }

    switch (k->type) {
    case CONF_T_STRING: {
        size_t n = strlen(value);
        if (n > k->max) {
            diag(c, line, CONF_D_RANGE, "'%s' is %zu bytes long; the limit is %llu bytes", k->name, n,
                 (unsigned long long)k->max);
            return;
        }
        char **dst = (char **)(void *)field;
        free(*dst);
        *dst = xstrdup(c, value);
        return;
    }
    case CONF_T_PATH: {
        if (value[0] != '/') {
            diag(c, line, CONF_D_RELATIVE_PATH, "'%s' must be an absolute path, not '%s'", k->name,
                 esc(ev, value));
            return;
        }
        char *norm = NULL;
        bool dir_form = false;
        int r = normalize_path(value, &norm, &dir_form);
        if (r < 0) {
            c->oom = true;
            return;
        }
        if (r > 0) {
            diag(c, line, CONF_D_RELATIVE_PATH, "'%s' must not contain '..' components: '%s'", k->name,
                 esc(ev, value));
            return;
        }
        if ((k->flags & CONF_KEY_REPEATABLE) && dir_form) {
            /* the only repeatable path is "database", a file */
            diag(c, line, CONF_D_BAD_VALUE, "'%s' must name a file, not a directory: '%s'", k->name,
                 esc(ev, value));
            free(norm);
            return;
        }
        if (k->flags & CONF_KEY_REPEATABLE) {
            strv_push(c, (struct conf_strv *)(void *)field, norm);
        } else {
            char **dst = (char **)(void *)field;
            free(*dst);
            *dst = norm;
        }
        return;
    }
    case CONF_T_BOOL: {
        bool b;
        if (!parse_bool(value, &b)) {
            diag(c, line, CONF_D_BAD_VALUE, "bad value for '%s': '%s' (expected true or false)", k->name,
                 esc(ev, value));
            return;
        }
        memcpy(field, &b, sizeof b);
        return;
    }
    case CONF_T_UINT: {
        uint64_t v = 0;
        bool big = false;
        for (const char *p = value; *p; p++) {
            if (*p < '0' || *p > '9') {
                diag(c, line, CONF_D_BAD_VALUE, "bad value for '%s': '%s' is not a whole number", k->name,
                     esc(ev, value));
                return;
            }
            v = v * 10 + (uint64_t)(*p - '0');
            if (v > UINT32_MAX)
                big = true, v = UINT32_MAX;
        }
        if (big || v < k->min || v > k->max) {
            diag(c, line, CONF_D_RANGE, "'%s' = %s is out of range (%llu..%llu)", k->name, esc(ev, value),
                 (unsigned long long)k->min, (unsigned long long)k->max);
            return;
        }
        uint32_t u = (uint32_t)v;
        memcpy(field, &u, sizeof u);
        return;
    }
    case CONF_T_ENUM: {
        for (int i = 0; k->enum_words[i]; i++)
            if (!strcasecmp(value, k->enum_words[i])) {
                memcpy(field, &i, sizeof i);
                return;
            }
        char words[128];
        enum_words_list(k, words, sizeof words);
        diag(c, line, CONF_D_BAD_VALUE, "bad value for '%s': '%s' (expected %s)", k->name, esc(ev, value),
             words);
        return;
    }
    case CONF_T_BUS: {
        struct conf_bus *b = (struct conf_bus *)(void *)field;
        if (!strcasecmp(value, "system") || !strcasecmp(value, "session")) {
            free(b->address);
            b->address = NULL;
            b->kind = !strcasecmp(value, "system") ? CONF_BUS_SYSTEM : CONF_BUS_SESSION;
            return;
        }
        if (!valid_bus_address(value)) {
            diag(c, line, CONF_D_BAD_VALUE,
                 "bad value for '%s': '%s' is not system, session or a D-Bus address "
                 "(like unix:path=/run/jetsnap/bus)",
                 k->name, esc(ev, value));
            return;
        }
        free(b->address);
        b->address = xstrdup(c, value);
        b->kind = CONF_BUS_ADDRESS;
        return;
    }
    case CONF_T_BUS_NAME: {
        if (!valid_bus_name(value)) {
            diag(c, line, CONF_D_BAD_VALUE,
                 "bad value for '%s': '%s' is not a well-known D-Bus name (like org.example.Name)",
                 k->name, esc(ev, value));
            return;
        }
        char **dst = (char **)(void *)field;
        free(*dst);
        *dst = xstrdup(c, value);
        return;
    }
    case CONF_T_USERS: {
        struct conf_strv *sv = (struct conf_strv *)(void *)field;
        const char *p = value;
        size_t tokens = 0;
        while (*p) {
            while (*p == ',' || is_blank(*p))
                p++;
            const char *e = p;
            while (*e && *e != ',' && !is_blank(*e))
                e++;
            if (e == p)
                break;
            tokens++;
            if (!valid_user(p, (size_t)(e - p))) {
                char tok[ESC_MAX];
                size_t n = (size_t)(e - p) < sizeof tok - 1 ? (size_t)(e - p) : sizeof tok - 1;
                memcpy(tok, p, n);
                tok[n] = '\0';
                diag(c, line, CONF_D_BAD_VALUE, "bad value for '%s': '%s' is not a user name or uid",
                     k->name, esc(ev, tok));
            } else {
                char *u = strndup(p, (size_t)(e - p));
                if (!u)
                    c->oom = true;
                strv_push(c, sv, u);
            }
            p = e;
        }
        if (!tokens)
            diag(c, line, CONF_D_BAD_VALUE, "bad value for '%s': no user given", k->name);
        return;
    }
    }
}

/* ---------------------------------------------------------------------------------------------
 * Sections
 * ------------------------------------------------------------------------------------------- */

static void *cur_obj(struct ctx *c, struct seen **s)
{
    switch (c->kind) {
    case SEC_WRITER:
        *s = c->discard ? &c->scratch_seen : &c->writer_seen;
        return c->discard ? (void *)&c->scratch_writer : (void *)&c->cfg->writer;
    case SEC_INSTANCE:
        *s = c->discard ? &c->scratch_seen : &c->inst_seen[c->sec_index];
        return c->discard ? (void *)&c->scratch_inst : (void *)&c->cfg->instances[c->sec_index];
    default:
        *s = NULL;
        return NULL;
    }
}

/* Give every key the section did not set its default; report missing required keys. */
static void apply_defaults(struct ctx *c, enum conf_section sec, void *obj, struct seen *s, unsigned line)
{
    for (size_t i = 0; i < conf_nkeys; i++) {
        const struct conf_key *k = &conf_keys[i];
        if (k->section != sec || s->count[i])
            continue;
        if (k->flags & CONF_KEY_REQUIRED) {
            const struct conf_instance *in = obj;
            diag(c, line, CONF_D_MISSING_KEY, "[instance %s] is missing the required key '%s'", in->name,
                 k->name);
        } else if (k->def) {
            store(c, k, obj, k->def, line);
        } else if (sec == CONF_SEC_INSTANCE && !strcmp(k->name, "display_name")) {
            struct conf_instance *in = obj;
            in->display_name = xstrdup(c, in->name);
        }
    }
}

static void end_section(struct ctx *c)
{
    if (c->discard) {
        writer_clear(&c->scratch_writer);
        instance_clear(&c->scratch_inst);
        seen_clear(&c->scratch_seen);
    } else if (c->kind == SEC_WRITER) {
        apply_defaults(c, CONF_SEC_WRITER, &c->cfg->writer, &c->writer_seen, c->sec_line);
    } else if (c->kind == SEC_INSTANCE) {
        apply_defaults(c, CONF_SEC_INSTANCE, &c->cfg->instances[c->sec_index],
                       &c->inst_seen[c->sec_index], c->sec_line);
    }
    c->kind = SEC_NONE;
    c->discard = false;
}

static uint64_t hash_name(const char *s)
{
    uint64_t h = 1469598103934665603ull;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}

/* The index of the instance called name, or SIZE_MAX. */
static size_t names_find(struct ctx *c, const char *name)
{
    if (!c->names_cap)
        return SIZE_MAX;
    for (size_t i = hash_name(name) & (c->names_cap - 1);; i = (i + 1) & (c->names_cap - 1)) {
        if (!c->names[i])
            return SIZE_MAX;
        if (!strcmp(c->cfg->instances[c->names[i] - 1].name, name))
            return c->names[i] - 1;
    }
}

static bool names_add(struct ctx *c, size_t idx)
{
    if (2 * (c->cfg->n_instances + 1) > c->names_cap) {
        size_t ncap = c->names_cap ? 2 * c->names_cap : 64;
        size_t *n = calloc(ncap, sizeof *n);
        if (!n) {
            c->oom = true;
            return false;
        }
        for (size_t j = 0; j < c->names_cap; j++) {
            if (!c->names[j])
                continue;
            size_t i = hash_name(c->cfg->instances[c->names[j] - 1].name) & (ncap - 1);
            while (n[i])
                i = (i + 1) & (ncap - 1);
            n[i] = c->names[j];
        }
        free(c->names);
        c->names = n;
        c->names_cap = ncap;
    }
    size_t i = hash_name(c->cfg->instances[idx].name) & (c->names_cap - 1);
    while (c->names[i])
        i = (i + 1) & (c->names_cap - 1);
    c->names[i] = idx + 1;
    return true;
}

/* Start the section whose header text (between '[' and ']') is inner. */
static void begin_section(struct ctx *c, char *inner)
{
    char ev[ESC_MAX];
    end_section(c);
    while (is_blank(*inner))
        inner++;
    size_t n = strlen(inner);
    while (n && is_blank(inner[n - 1]))
        inner[--n] = '\0';
    c->sec_line = c->lineno;

    snprintf(c->sec_title, sizeof c->sec_title, "[instance NAME]");
    if (!strcmp(inner, "writer")) {
        snprintf(c->sec_title, sizeof c->sec_title, "[writer]");
        c->kind = SEC_WRITER;
        if (c->writer_line) {
            diag(c, c->lineno, CONF_D_DUP_SECTION, "duplicate section [writer] (first at line %u)",
                 c->writer_line);
            c->discard = true;
        } else {
            c->writer_line = c->lineno;
            c->cfg->writer.line = c->lineno;
        }
        return;
    }
    if (!strncmp(inner, "instance", 8) && (!inner[8] || is_blank(inner[8]))) {
        c->instance_headers++;
        c->kind = SEC_INSTANCE;
        const char *name = inner + 8;
        while (is_blank(*name))
            name++;
        if (!*name) {
            diag(c, c->lineno, CONF_D_BAD_NAME, "section [instance] needs a name: [instance NAME]");
            c->discard = true;
            return;
        }
        if (!valid_instance_name(name)) {
            diag(c, c->lineno, CONF_D_BAD_NAME,
                 "invalid instance name '%s': use 1 to %d letters, digits, '.', '_' or '-', "
                 "starting with a letter or digit",
                 esc(ev, name), CONF_NAME_MAX);
            c->discard = true;
            return;
        }
        snprintf(c->sec_title, sizeof c->sec_title, "[instance %s]", name);
        size_t other = names_find(c, name);
        if (other != SIZE_MAX) {
            diag(c, c->lineno, CONF_D_DUP_SECTION, "duplicate section [instance %s] (first at line %u)", name,
                 c->cfg->instances[other].line);
            c->discard = true;
            return;
        }
        struct conf_config *cfg = c->cfg;
        if (cfg->n_instances == c->inst_cap) {
            size_t ncap = c->inst_cap ? 2 * c->inst_cap : 4;
            struct conf_instance *ni = realloc(cfg->instances, ncap * sizeof *ni);
            if (ni)
                cfg->instances = ni;
            struct seen *ns = ni ? realloc(c->inst_seen, ncap * sizeof *ns) : NULL;
            if (ns)
                c->inst_seen = ns;
            if (!ni || !ns) {
                c->oom = true;
                c->kind = SEC_SKIP;
                return;
            }
            c->inst_cap = ncap;
        }
        size_t idx = cfg->n_instances;
        memset(&cfg->instances[idx], 0, sizeof cfg->instances[idx]);
        memset(&c->inst_seen[idx], 0, sizeof c->inst_seen[idx]);
        cfg->instances[idx].name = xstrdup(c, name);
        cfg->instances[idx].line = c->lineno;
        if (!cfg->instances[idx].name) {
            c->kind = SEC_SKIP;
            return;
        }
        cfg->n_instances++;
        names_add(c, idx);
        c->sec_index = idx;
        return;
    }
    diag(c, c->lineno, CONF_D_UNKNOWN_SECTION, "unknown section [%s] (expected [writer] or [instance NAME])",
         esc(ev, inner));
    c->kind = SEC_SKIP;
}

/* ---------------------------------------------------------------------------------------------
 * inih callbacks
 * ------------------------------------------------------------------------------------------- */

static int on_pair(void *user, const char *section, const char *name, const char *value)
{
    struct ctx *c = user;
    char en[ESC_MAX];
    unsigned line = c->lineno;
    (void)section; /* inih cuts section names at 49 bytes; ours are tracked in begin_section */

    if (!*name) {
        diag(c, line, CONF_D_SYNTAX, "missing key name before '='");
        return 1;
    }
    if (c->kind == SEC_SKIP)
        return 1;
    if (c->kind == SEC_NONE) {
        diag(c, line, CONF_D_UNKNOWN_KEY,
             "key '%s' is outside any section (start with [writer] or [instance NAME])", esc(en, name));
        return 1;
    }
    enum conf_section sec = c->kind == SEC_WRITER ? CONF_SEC_WRITER : CONF_SEC_INSTANCE;
    size_t idx;
    const struct conf_key *k = find_key(sec, name, &idx);
    if (!k) {
        const char *where = c->sec_title;
        size_t other;
        const char *hint = "";
        char hintbuf[128];
        if (find_key(sec == CONF_SEC_WRITER ? CONF_SEC_INSTANCE : CONF_SEC_WRITER, name, &other)) {
            snprintf(hintbuf, sizeof hintbuf, " (it belongs in %s)",
                     sec == CONF_SEC_WRITER ? "[instance NAME]" : "[writer]");
            hint = hintbuf;
        } else {
            for (size_t i = 0; i < conf_nkeys; i++)
                if (conf_keys[i].section == sec && !strcasecmp(conf_keys[i].name, name)) {
                    snprintf(hintbuf, sizeof hintbuf, " (did you mean '%s'?)", conf_keys[i].name);
                    hint = hintbuf;
                    break;
                }
        }
        diag(c, line, CONF_D_UNKNOWN_KEY, "unknown key '%s' in %s%s", esc(en, name), where, hint);
        return 1;
    }
    struct seen *s;
    void *obj = cur_obj(c, &s);
    if (s->count[idx] && !(k->flags & CONF_KEY_REPEATABLE)) {
        diag(c, line, CONF_D_DUP_KEY, "duplicate key '%s' (first set at line %u)", k->name, s->line[idx]);
        return 1;
    }
    if ((k->flags & CONF_KEY_REPEATABLE) && s->count[idx] >= k->max) {
        diag(c, line, CONF_D_RANGE, "too many '%s' keys (at most %llu)", k->name, (unsigned long long)k->max);
        return 1;
    }
    if (!s->count[idx])
        s->line[idx] = line;
    s->count[idx]++;
    if (sec == CONF_SEC_INSTANCE && k->type == CONF_T_PATH && (k->flags & CONF_KEY_REPEATABLE)) {
        struct conf_strv *sv = (struct conf_strv *)(void *)((char *)obj + k->offset);
        size_t before = sv->n;
        store(c, k, obj, value, line);
        if (sv->n > before) {
            unsigned *nl = realloc(s->db_lines, sv->n * sizeof *nl);
            if (!nl) {
                c->oom = true;
                return 1;
            }
            s->db_lines = nl;
            nl[sv->n - 1] = line;
        }
        return 1;
    }
    store(c, k, obj, value, line);
    return 1;
}

/* The line reader given to ini_parse_stream (see the top of the file). Every physical line is
 * handed over, so inih's line count stays ours; lines inih must not act on (blank, comment,
 * section header, errors) are handed over as an empty line. */
static char *read_line(char *str, int num, void *stream)
{
    struct ctx *c = stream;
    size_t limit = num > 3 ? (size_t)num - 3 : 0;
    if (limit > CONF_LINE_MAX)
        limit = CONF_LINE_MAX;
    if (num < 2 || c->pos >= c->len)
        return NULL;

    const char *p = c->data + c->pos;
    const char *nl = memchr(p, '\n', c->len - c->pos);
    size_t n = nl ? (size_t)(nl - p) : c->len - c->pos;
    c->pos += n + (nl ? 1 : 0);
    c->lineno++;
    if (n && p[n - 1] == '\r')
        n--;
    if (c->lineno == 1 && n >= 3 && !memcmp(p, "\xEF\xBB\xBF", 3))
        p += 3, n -= 3;
    while (n && is_blank(*p))
        p++, n--;
    strcpy(str, "\n");

    bool header = n && *p == '[';
    if (n > limit || memchr(p, '\0', n)) {
        if (n > limit)
            diag(c, c->lineno, CONF_D_LINE_TOO_LONG, "line is %zu bytes long; the limit is %zu bytes", n, limit);
        else
            diag(c, c->lineno, CONF_D_SYNTAX, "line contains a NUL byte");
        if (header) { /* whatever section this was, do not read its keys into the previous one */
            end_section(c);
            c->kind = SEC_SKIP;
        }
        return str;
    }
    char line[CONF_LINE_MAX + 1];
    memcpy(line, p, n);
    line[n] = '\0';
    if (!n || line[0] == ';' || line[0] == '#')
        return str;
    if (header) {
        char *close = strchr(line, ']');
        if (!close) {
            diag(c, c->lineno, CONF_D_SYNTAX, "section header is missing ']'");
            end_section(c);
            c->kind = SEC_SKIP;
            return str;
        }
        const char *rest = close + 1;
        while (is_blank(*rest))
            rest++;
        if (*rest && *rest != ';' && *rest != '#') {
            char ev[ESC_MAX];
            diag(c, c->lineno, CONF_D_SYNTAX, "unexpected text after ']': '%s'", esc(ev, rest));
        }
        *close = '\0';
        begin_section(c, line + 1);
        return str;
    }
    /* "key = value": inih looks for '=' or ':' before any inline comment (";" after a blank). */
    const char *q = line;
    bool prev_blank = false;
    while (*q && *q != '=' && *q != ':' && !(prev_blank && *q == ';')) {
        prev_blank = is_blank(*q);
        q++;
    }
    if (*q != '=' && *q != ':') {
        diag(c, c->lineno, CONF_D_SYNTAX, "expected 'key = value', a [section] header or a comment");
        return str;
    }
    memcpy(str, line, n);
    str[n] = '\n';
    str[n + 1] = '\0';
    return str;
}

/* ---------------------------------------------------------------------------------------------
 * Checks across instances
 * ------------------------------------------------------------------------------------------- */

struct path_use {
    const char *path;
    size_t inst;
    const char *key;
    unsigned line;
};

static int cmp_use(const void *a, const void *b)
{
    const struct path_use *x = a, *y = b;
    int r = strcmp(x->path, y->path);
    if (r)
        return r;
    return x->line < y->line ? -1 : x->line > y->line;
}

/* Two instances must not share a directory (system_path or log_path); no database file may be
 * listed twice. Sorting keeps this O(n log n) whatever the file holds. */
static void check_sharing(struct ctx *c)
{
    struct conf_config *cfg = c->cfg;
    size_t ndirs = 0, ndbs = 0;
    for (size_t i = 0; i < cfg->n_instances; i++)
        ndbs += cfg->instances[i].databases.n;
    struct path_use *dirs = calloc(2 * cfg->n_instances + 1, sizeof *dirs);
    struct path_use *dbs = calloc(ndbs + 1, sizeof *dbs);
    if (!dirs || !dbs) {
        c->oom = true;
        free(dirs);
        free(dbs);
        return;
    }
    char ev[ESC_MAX];
    size_t isys = 0, ilog = 0, idb = 0;
    (void)find_key(CONF_SEC_INSTANCE, "system_path", &isys);
    (void)find_key(CONF_SEC_INSTANCE, "log_path", &ilog);
    (void)find_key(CONF_SEC_INSTANCE, "database", &idb);
    ndbs = 0;
    for (size_t i = 0; i < cfg->n_instances; i++) {
        const struct conf_instance *in = &cfg->instances[i];
        const struct seen *s = &c->inst_seen[i];
        if (in->system_path)
            dirs[ndirs++] = (struct path_use){in->system_path, i, "system_path", s->line[isys]};
        if (in->log_path)
            dirs[ndirs++] = (struct path_use){in->log_path, i, "log_path", s->line[ilog]};
        for (size_t d = 0; d < in->databases.n; d++)
            dbs[ndbs++] = (struct path_use){in->databases.v[d], i, "database", s->db_lines[d]};
    }
    qsort(dirs, ndirs, sizeof *dirs, cmp_use);
    qsort(dbs, ndbs, sizeof *dbs, cmp_use);
    for (size_t i = 1, first = 0; i < ndirs; i++) {
        if (strcmp(dirs[i].path, dirs[first].path)) {
            first = i;
            continue;
        }
        if (dirs[i].inst == dirs[first].inst)
            continue;
        diag(c, dirs[i].line, CONF_D_SHARED_PATH,
             "%s '%s' of instance '%s' is already used by instance '%s' (%s at line %u)", dirs[i].key,
             esc(ev, dirs[i].path), cfg->instances[dirs[i].inst].name, cfg->instances[dirs[first].inst].name,
             dirs[first].key, dirs[first].line);
    }
    for (size_t i = 1, first = 0; i < ndbs; i++) {
        if (strcmp(dbs[i].path, dbs[first].path)) {
            first = i;
            continue;
        }
        diag(c, dbs[i].line, CONF_D_SHARED_PATH, "database '%s' is already listed at line %u (instance '%s')",
             esc(ev, dbs[i].path), dbs[first].line, cfg->instances[dbs[first].inst].name);
    }
    free(dirs);
    free(dbs);
}

/* ---------------------------------------------------------------------------------------------
 * Public functions
 * ------------------------------------------------------------------------------------------- */

static int cmp_diag(const void *a, const void *b)
{
    const struct diag_entry *x = a, *y = b;
    unsigned lx = x->line ? x->line : UINT32_MAX, ly = y->line ? y->line : UINT32_MAX;
    if (lx != ly)
        return lx < ly ? -1 : 1;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* Turn the collected entries into a struct conf_diags (consumes c->diags). */
static struct conf_diags *make_diags(struct ctx *c)
{
    if (c->ndiags)
        qsort(c->diags, c->ndiags, sizeof *c->diags, cmp_diag);
    struct conf_diags *d = calloc(1, sizeof *d);
    char *file = d ? strdup(c->file) : NULL;
    struct conf_diag *items = file ? calloc(c->ndiags + 1, sizeof *items) : NULL;
    if (!items) {
        free(file);
        free(d);
        c->oom = true;
        return NULL;
    }
    d->items = items;
    for (size_t i = 0; i < c->ndiags; i++) {
        struct diag_entry *e = &c->diags[i];
        char *text = NULL;
        int r = e->line ? asprintf(&text, "%s:%u: %s", file, e->line, e->message)
                        : asprintf(&text, "%s: %s", file, e->message);
        if (r < 0) {
            c->oom = true;
            free(e->message);
            continue;
        }
        items[d->count++] = (struct conf_diag){file, e->line, e->code, e->message, text};
    }
    if (!d->count) /* keep the file name reachable for conf_diags_free */
        items[0].file = file;
    free(c->diags);
    c->diags = NULL;
    c->ndiags = 0;
    return d;
}

int conf_parse_buffer(const char *name, const void *data, size_t len, struct conf_config **pcfg,
                      struct conf_diags **pdiags)
{
    if (pdiags)
        *pdiags = NULL;
    if (!name || (!data && len))
        return CONF_EARG;
    struct ctx c;
    memset(&c, 0, sizeof c);
    c.file = name;
    c.data = data;
    c.len = len;
    c.cfg = calloc(1, sizeof *c.cfg);
    if (!c.cfg)
        return CONF_ENOMEM;
    c.cfg->path = xstrdup(&c, name);

    int r = ini_parse_stream(read_line, &c, on_pair, &c);
    end_section(&c);
    if (!c.writer_line)
        apply_defaults(&c, CONF_SEC_WRITER, &c.cfg->writer, &c.writer_seen, 0);
    if (!c.instance_headers)
        diag(&c, 0, CONF_D_NO_INSTANCE, "no [instance NAME] section: the writer would host nothing");
    check_sharing(&c);
    if (r > 0) { /* inih refused a line our reader let through: should not happen, but never hide it */
        bool known = false;
        for (size_t i = 0; i < c.ndiags && !known; i++)
            known = c.diags[i].line == (unsigned)r;
        if (!known)
            diag(&c, (unsigned)r, CONF_D_SYNTAX, "syntax error");
    } else if (r < 0) {
        c.oom = true;
    }

    bool failed = c.ndiags > 0;
    struct conf_diags *d = NULL;
    if (pdiags || c.ndiags)
        d = make_diags(&c);

    for (size_t i = 0; i < c.cfg->n_instances; i++)
        seen_clear(&c.inst_seen[i]);
    free(c.inst_seen);
    seen_clear(&c.writer_seen);
    free(c.names);

    int ret = c.oom ? CONF_ENOMEM : failed ? CONF_EINVALID : CONF_OK;
    if (ret == CONF_OK && pcfg)
        *pcfg = c.cfg;
    else
        conf_free(c.cfg);
    if (pdiags)
        *pdiags = d;
    else
        conf_diags_free(d);
    return ret;
}

/* A diagnostics list holding one problem of the whole file. */
static struct conf_diags *file_problem(const char *path, const char *what, int err)
{
    struct ctx c;
    memset(&c, 0, sizeof c);
    c.file = path;
    char buf[256];
    const char *s = err ? strerror_r(err, buf, sizeof buf) : "";
    diag(&c, 0, CONF_D_IO, "%s%s%s", what, err ? ": " : "", s);
    return make_diags(&c);
}

int conf_load_file(const char *path, struct conf_config **pcfg, struct conf_diags **pdiags)
{
    if (pdiags)
        *pdiags = NULL;
    if (!path)
        return CONF_EARG;
    /* O_NONBLOCK: a FIFO given as the config would block the open until a writer comes. */
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    struct stat st;
    int e = fd < 0 || fstat(fd, &st) < 0 ? errno : 0;
    if (e) {
        if (fd >= 0)
            close(fd);
        if (pdiags)
            *pdiags = file_problem(path, "cannot open", e);
        return CONF_EIO;
    }
    if (!S_ISREG(st.st_mode)) {
        close(fd);
        if (pdiags)
            *pdiags = file_problem(path, "not a regular file", 0);
        return CONF_EIO;
    }
    int fl = fcntl(fd, F_GETFL);
    FILE *f = fl >= 0 && fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) == 0 ? fdopen(fd, "rb") : NULL;
    if (!f) {
        e = errno;
        close(fd);
        if (pdiags)
            *pdiags = file_problem(path, "cannot open", e);
        return CONF_EIO;
    }
    char *buf = malloc(CONF_FILE_MAX + 1);
    if (!buf) {
        fclose(f);
        return CONF_ENOMEM;
    }
    size_t n = fread(buf, 1, CONF_FILE_MAX + 1, f);
    e = ferror(f) ? errno : 0;
    fclose(f);
    if (e || n > CONF_FILE_MAX) {
        free(buf);
        if (pdiags)
            *pdiags = e ? file_problem(path, "cannot read", e)
                        : file_problem(path, "file is larger than 1048576 bytes", 0);
        return CONF_EIO;
    }
    int r = conf_parse_buffer(path, buf, n, pcfg, pdiags);
    free(buf);
    return r;
}

void conf_free(struct conf_config *cfg)
{
    if (!cfg)
        return;
    free(cfg->path);
    writer_clear(&cfg->writer);
    for (size_t i = 0; i < cfg->n_instances; i++)
        instance_clear(&cfg->instances[i]);
    free(cfg->instances);
    free(cfg);
}

void conf_diags_free(struct conf_diags *diags)
{
    if (!diags)
        return;
    const char *file = diags->items ? diags->items[0].file : NULL;
    for (size_t i = 0; i < diags->count; i++) {
        free((char *)diags->items[i].message);
        free((char *)diags->items[i].text);
    }
    free((char *)file);
    free(diags->items);
    free(diags);
}

const struct conf_instance *conf_find_instance(const struct conf_config *cfg, const char *name)
{
    if (!cfg || !name)
        return NULL;
    for (size_t i = 0; i < cfg->n_instances; i++)
        if (!strcmp(cfg->instances[i].name, name))
            return &cfg->instances[i];
    return NULL;
}

const char *conf_strerror(int err)
{
    switch (err) {
    case CONF_OK: return "success";
    case CONF_EINVALID: return "the configuration has errors";
    case CONF_EIO: return "cannot read the configuration file";
    case CONF_ENOMEM: return "out of memory";
    case CONF_EARG: return "invalid argument";
    }
    return "unknown error";
}

const char *conf_bus_kind_name(enum conf_bus_kind kind)
{
    switch (kind) {
    case CONF_BUS_SYSTEM: return "system";
    case CONF_BUS_SESSION: return "session";
    case CONF_BUS_ADDRESS: return "address";
    }
    return "?";
}

const char *conf_compression_name(enum conf_compression comp)
{
    switch (comp) {
    case CONF_COMPRESSION_NONE: return "none";
    case CONF_COMPRESSION_ZSTD: return "zstd";
    }
    return "?";
}
