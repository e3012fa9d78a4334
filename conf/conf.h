/*
 * conf.h — the public header of jetsnap's configuration component (libjetsnap-conf.a).
 *
 * conf/ reads one ini file that declares a snapshot writer ([writer]) and the engine instances it
 * hosts ([instance NAME]), checks every key against one table of keys (conf-keys.c: type, default,
 * bounds, help text; the same table generates docs/jetsnap.conf.5), and hands back typed structs.
 * It depends on nothing else of jetsnap: it knows neither the engine nor D-Bus, and it never
 * touches the files a configuration names (paths are checked as text only).
 *
 * The file syntax (read with the system's libinih, relying on its default build options only):
 *  - "[writer]" and "[instance NAME]" section headers, "key = value" lines (inih also accepts
 *    "key: value"), comment lines starting with ';' or '#', and inline comments after " ;"
 *    (a ';' preceded by whitespace). Keys, section words and instance names are case-sensitive.
 *  - Leading whitespace is ignored; continuation lines are NOT supported (every value is on the
 *    line of its key). Values are taken literally: quotes are not removed.
 *  - A line may be at most CONF_LINE_MAX bytes long (not counting its line end). A longer line is
 *    an error; it is never silently truncated or split.
 *
 * Diagnostics. conf_load_file() and conf_parse_buffer() report every problem in the file, not just
 * the first, as a list of diagnostics in file order. Each has a ready-made text of the form
 * "FILE:LINE: problem" (GNU compiler style), or "FILE: problem" for problems of the file as a
 * whole (it cannot be read, it declares no instance). Every text is valid UTF-8, whatever bytes
 * the file holds (others are written \xNN), and so is every value but a path: a value that is not
 * UTF-8 is refused with its line, because names and messages travel over D-Bus as strings.
 *
 * Conventions: functions return CONF_OK (0) or a negative CONF_E* code; the configuration
 * out-parameter is written only on success; everything returned is owned by the caller and freed
 * with the matching _free function; every _free function accepts NULL. The component keeps no
 * global state: calls on different objects may run in different threads at once.
 */
#ifndef JETSNAP_CONF_H
#define JETSNAP_CONF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---------------------------------------------------------------------------------------------
 * Return codes
 * ------------------------------------------------------------------------------------------- */
#define CONF_OK 0
#define CONF_EINVALID (-1) /* the file has at least one error; the diagnostics list them all */
#define CONF_EIO (-2)      /* the file cannot be opened or read; one diagnostic says why */
#define CONF_ENOMEM (-3)   /* out of memory; the diagnostics may be incomplete or absent */
#define CONF_EARG (-4)     /* a required argument is NULL */

/* Longest line, in bytes without its line end, that a configuration file may contain (inih's
 * default buffer of 200 bytes holds 197 bytes plus "\r\n" and the terminating NUL). */
#define CONF_LINE_MAX 197
/* Largest configuration file conf_load_file() reads; larger files are refused (CONF_EIO). */
#define CONF_FILE_MAX (1024 * 1024)
/* Longest instance name and display name, in bytes (JET_cbNameMost of jet.h). */
#define CONF_NAME_MAX 64
/* Most databases one instance may list (the engine attaches at most 32 per instance). */
#define CONF_DATABASES_MAX 32

/* ---------------------------------------------------------------------------------------------
 * The typed configuration. All strings are NUL-terminated and owned by the struct conf_config
 * they belong to; treat everything as read-only.
 * ------------------------------------------------------------------------------------------- */

/* Which message bus the writer connects to (key "bus"). */
enum conf_bus_kind {
    CONF_BUS_SYSTEM = 0,  /* "system": the system bus */
    CONF_BUS_SESSION = 1, /* "session": the caller's session bus */
    CONF_BUS_ADDRESS = 2, /* an explicit D-Bus address, e.g. "unix:path=/run/jetsnap/bus" */
};

struct conf_bus {
    enum conf_bus_kind kind;
    char *address; /* the D-Bus address when kind is CONF_BUS_ADDRESS, otherwise NULL */
};

/* Compression of external backup streams (key "stream_compression"). */
enum conf_compression {
    CONF_COMPRESSION_NONE = 0,
    CONF_COMPRESSION_ZSTD = 1,
};

/* A list of strings. */
struct conf_strv {
    char **v;
    size_t n;
};

/* The [writer] section. Every key has a default, so the section itself is optional; when it is
 * absent, line is 0 and every field holds its default. */
struct conf_writer {
    struct conf_bus bus;                      /* bus: default system */
    char *bus_name;                           /* bus_name: default "org.jetsnap.Writer1" */
    uint32_t freeze_timeout_ms;               /* freeze_timeout_ms: 100..600000, default 60000 */
    uint32_t quiesce_timeout_ms;              /* quiesce_timeout_ms: 100..600000, default 10000 */
    enum conf_compression stream_compression; /* stream_compression: default zstd */
    uint32_t zstd_level;                      /* zstd_level: 1..19, default 1 */
    uint32_t zstd_workers;                    /* zstd_workers: 0..16, default 0 */
    uint32_t stream_max;                      /* stream_max: 1..16, default 4 */
    struct conf_strv allow_users;             /* allow_users: user names or numeric uids, in file
                                                 order, at least one; default "root" */
    unsigned line;                            /* line of the [writer] header, 0 when absent */
};

/* One [instance NAME] section. Paths are absolute and normalized as text: repeated '/' are
 * collapsed, "." components and a trailing '/' are removed ("/var//lib/./x/" is "/var/lib/x");
 * ".." components are refused; symbolic links are not resolved. */
struct conf_instance {
    char *name;                  /* from the header: 1..64 bytes of [A-Za-z0-9._-], starting with
                                    a letter or digit */
    char *display_name;          /* display_name: 1..64 bytes of UTF-8; default: the
                                    instance name */
    char *system_path;           /* system_path (required): directory of the checkpoint file */
    char *log_path;              /* log_path (required): directory of the log files */
    struct conf_strv databases;  /* database (required, repeatable 1..32 times): database files */
    uint32_t log_file_size_kb;   /* log_file_size_kb: 64..32768, default 5120 */
    bool circular_logging;       /* circular_logging: default false */
    uint32_t cache_size_mb;      /* cache_size_mb: 1..65536, default 64 */
    unsigned line;               /* line of the [instance NAME] header */
};

/* A whole configuration file. */
struct conf_config {
    char *path;                      /* the file name as given to conf_load_file() */
    struct conf_writer writer;
    struct conf_instance *instances; /* in file order; at least one */
    size_t n_instances;
};

/* ---------------------------------------------------------------------------------------------
 * Diagnostics
 * ------------------------------------------------------------------------------------------- */

/* The kind of a problem, for programs (tests, a daemon that wants to react). Stable numbers. */
enum conf_diag_code {
    CONF_D_IO = 1,              /* cannot open or read the file, not a regular file, or larger than CONF_FILE_MAX */
    CONF_D_SYNTAX = 2,          /* a line that is not a section header, "key = value" or a comment;
                                   a NUL byte; a section header without ']' or with text after it */
    CONF_D_LINE_TOO_LONG = 3,   /* a line longer than CONF_LINE_MAX bytes */
    CONF_D_UNKNOWN_SECTION = 4, /* a section other than [writer] and [instance NAME] */
    CONF_D_BAD_NAME = 5,        /* [instance] without a name, or a name that is not allowed */
    CONF_D_DUP_SECTION = 6,     /* a second [writer], or a second [instance NAME] of the same name */
    CONF_D_UNKNOWN_KEY = 7,     /* a key the section does not have, or a key before any section */
    CONF_D_DUP_KEY = 8,         /* a key that may appear once appears again in the same section */
    CONF_D_BAD_VALUE = 9,       /* a value of the wrong form (not a number, not a boolean, ...) */
    CONF_D_RANGE = 10,          /* a number outside its bounds, a string too long, too many repeats */
    CONF_D_RELATIVE_PATH = 11,  /* a path that is not absolute, or that contains ".." */
    CONF_D_MISSING_KEY = 12,    /* a required key is absent (reported at the section header) */
    CONF_D_SHARED_PATH = 13,    /* two instances share a directory, or a database is listed twice */
    CONF_D_NO_INSTANCE = 14,    /* the file declares no [instance NAME] section */
};

struct conf_diag {
    const char *file;         /* the file name as given (owned by the list) */
    unsigned line;            /* 1-based line number; 0 for a problem of the whole file */
    enum conf_diag_code code;
    const char *message;      /* the problem alone, e.g. "unknown key 'bsu' in [writer]" */
    const char *text;         /* "FILE:LINE: message" (or "FILE: message" when line is 0) */
};

/* Diagnostics in file order (by line; problems of the whole file last). */
struct conf_diags {
    size_t count;
    struct conf_diag *items;
};

/* ---------------------------------------------------------------------------------------------
 * Functions
 * ------------------------------------------------------------------------------------------- */

/* conf_load_file: read and validate the configuration file at path.
 *   path     the file to read (at most CONF_FILE_MAX bytes); it is also the FILE part of every
 *            diagnostic, exactly as given.
 *   pcfg     on CONF_OK receives a new configuration, to be freed with conf_free(); never written
 *            otherwise. May be NULL to validate only.
 *   pdiags   may be NULL. Otherwise it always receives a list, to be freed with conf_diags_free():
 *            empty on CONF_OK, every problem found on CONF_EINVALID, the reason on CONF_EIO; on
 *            CONF_ENOMEM it receives what could be collected, or NULL.
 * Returns CONF_OK, CONF_EINVALID (the file has errors; no configuration is returned, there is no
 *   partial result), CONF_EIO (the file cannot be opened or read, or is too large), CONF_ENOMEM,
 *   CONF_EARG (path is NULL). */
int conf_load_file(const char *path, struct conf_config **pcfg, struct conf_diags **pdiags);

/* conf_parse_buffer: as conf_load_file(), but parse len bytes at data (which need not be
 * NUL-terminated and may contain anything); name is used as FILE in diagnostics and as the
 * configuration's path. Never returns CONF_EIO (inputs above CONF_FILE_MAX bytes are parsed all
 * the same). Returns CONF_OK, CONF_EINVALID, CONF_ENOMEM, CONF_EARG (name NULL, or data NULL with
 * len > 0). */
int conf_parse_buffer(const char *name, const void *data, size_t len, struct conf_config **pcfg,
                      struct conf_diags **pdiags);

/* conf_free: free a configuration returned by conf_load_file()/conf_parse_buffer() and every
 * string it holds. conf_free(NULL) does nothing. */
void conf_free(struct conf_config *cfg);

/* conf_diags_free: free a diagnostics list and everything it points to. NULL does nothing. */
void conf_diags_free(struct conf_diags *diags);

/* conf_find_instance: the instance called name in cfg, or NULL (also when cfg or name is NULL).
 * The result points into cfg and lives as long as cfg. */
const struct conf_instance *conf_find_instance(const struct conf_config *cfg, const char *name);

/* conf_strerror: a short English text for a CONF_* return code (never NULL; "unknown error" for
 * numbers this version does not know). The string is static. */
const char *conf_strerror(int err);

/* conf_bus_kind_name / conf_compression_name: the configuration word for a value ("system",
 * "session", "address"; "none", "zstd"), or "?" for a value out of the enumeration. Static. */
const char *conf_bus_kind_name(enum conf_bus_kind kind);
const char *conf_compression_name(enum conf_compression c);

#ifdef __cplusplus
}
#endif
#endif /* JETSNAP_CONF_H */
