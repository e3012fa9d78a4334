/*
 * ctl-int.h — jetsnapctl, the command-line snapshot coordinator (docs/jetsnapctl.md): a D-Bus
 * client of the writer's org.jetsnap.Writer1 interface (plugin/org.jetsnap.Writer1.xml).
 *
 * Files: ctl-main.c (options, commands, usage), ctl-status.c (status, text and JSON),
 * ctl-snapshot.c (snapshot: freeze around a command of the user's, or around a snapper
 * snapshot), ctl-snapper.c (the client of snapperd for snapshot --snapper), ctl-freeze.c (the
 * two-phase freeze and thaw commands), ctl-holder.c (the process that owns a two-phase freeze), ctl-bus.c
 * (connecting, calls, replies, errors and the exit codes they map to).
 *
 * Streaming backups (docs/jetsnapctl.md, "backup", "verify", "restore"): ctl-backup.c (the
 * ExternalBackup client loop), ctl-backup-stream.c (one file from its fd into the destination),
 * ctl-dest.c (the destination: a directory, or a tar stream on stdout through libarchive),
 * ctl-fwrite.c (writing one file with paced writeback), ctl-manifest.c (backup_manifest with
 * json-c), ctl-unpack.c (zstd decompression and CRC-32C of a stored file), ctl-progress.c (the progress line), ctl-verify.c, ctl-restore.c (through libjet), ctl-time.c
 * (--until TIME), ctl-errname.c (errno and JET_err names).
 *
 * Everything is single-threaded and uses blocking libdbus calls. The holder is forked before any
 * bus connection exists: libdbus connections do not survive a fork.
 */
#ifndef JETSNAP_CTL_INT_H
#define JETSNAP_CTL_INT_H

#include <dbus/dbus.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Exit codes (docs/jetsnapctl.md, "Exit codes"); 128 + N when ended by signal N. */
#define CTL_EXIT_OK 0
#define CTL_EXIT_FAILURE 1    /* anything not below: a bad reply, no memory, fork failed */
#define CTL_EXIT_USAGE 2      /* bad command line */
#define CTL_EXIT_UNREACHABLE 3 /* no bus, no writer on the bus name, or no reply in time */
#define CTL_EXIT_NOT_FROZEN 4 /* the writer refused to prepare or freeze: nothing is frozen */
#define CTL_EXIT_COMMAND 5    /* snapshot: COMMAND failed; the session was aborted */
#define CTL_EXIT_DISCARD 6    /* the freeze ended before thaw (time-out, owner gone): discard */
#define CTL_EXIT_THAW 7       /* thaw or completion failed otherwise: discard the snapshot */
#define CTL_EXIT_NOTHING 8    /* thaw: nothing is frozen (a second thaw, or never frozen) */
#define CTL_EXIT_NOT_HOLDER 9 /* thaw: the freeze belongs to a coordinator that is no holder */
#define CTL_EXIT_BACKUP 10    /* backup: the writer refused or failed it; ended invalid, nothing truncated */
#define CTL_EXIT_DEST 11      /* backup: the destination could not be written; ended invalid */
#define CTL_EXIT_TRUNCATE 12  /* backup: valid and stored, but TruncateLogs failed */
#define CTL_EXIT_DAMAGED 13   /* verify, restore: a backup set is damaged, missing or not a chain */
#define CTL_EXIT_RESTORE 14   /* restore: writing the files or the engine's restore failed */
#define CTL_EXIT_NO_INSTANCE 15 /* freeze --mount: no instance has a file there; nothing frozen */
#define CTL_EXIT_SNAPPER 16   /* snapshot --snapper: snapper unreachable, refused or failed; nothing kept */

#define CTL_DEFAULT_BUS_NAME "org.jetsnap.Writer1"
#define CTL_ROOT "/org/jetsnap/Writer1"
#define CTL_IFACE_WRITER "org.jetsnap.Writer1.Writer"
#define CTL_IFACE_SESSION "org.jetsnap.Writer1.Session"
#define CTL_IFACE_BACKUP "org.jetsnap.Writer1.ExternalBackup"
#define CTL_ERR_PREFIX "org.jetsnap.Writer1.Error."
#define CTL_ERR_TIMEOUT CTL_ERR_PREFIX "Timeout"
#define CTL_HOLDER_PATH CTL_ROOT "/Holder"
#define CTL_IFACE_HOLDER "org.jetsnap.Writer1.Holder"
#define CTL_DEFAULT_TIMEOUT_MS 25000
/* Freeze may legitimately take the writer's whole quiesce time-out: never give up before it. */
#define CTL_FREEZE_MARGIN_MS 5000

enum ctl_bus { CTL_BUS_SYSTEM, CTL_BUS_SESSION, CTL_BUS_ADDRESS };

struct ctl_opts {
    enum ctl_bus bus;
    const char *address;  /* CTL_BUS_ADDRESS */
    const char *bus_name; /* the writer's well-known name */
    int timeout_ms;       /* each D-Bus call */
    bool json;            /* status --json */
    const char *type;     /* snapshot, freeze: the backup type */
    const char **instances; /* snapshot, freeze: --instance, in order; none = every instance */
    size_t n_instances;
    uint32_t hold_ms;         /* freeze --hold-timeout: the holder aborts a freeze held this long
                                 without a thaw (0: only the writer's FreezeTimeoutMsec ends it) */
    const char **mounts;      /* freeze --mount: the instances with a file on these filesystems */
    size_t n_mounts;
    DBusMessage *metadata;    /* GetMetadata's reply that --mount's instance names point into */
    bool abort;              /* thaw --abort */
    const char *session_path; /* thaw SESSION: the path freeze printed, or NULL */
    char **command;           /* snapshot: COMMAND [ARG]..., NULL-terminated */
    const char *snapper_config; /* snapshot --snapper: a snapper config instead of COMMAND */
    const char *description;  /* snapshot --description: the snapper snapshot's */
    const char *cleanup;      /* snapshot --cleanup: its cleanup algorithm ("" none) */
    /* backup */
    const char *output;       /* a directory, or "-": a tar stream on stdout */
    const char *base;         /* --base: the backup an incremental or differential builds on */
    const char *label;
    bool zstd;                /* --compress zstd[:LEVEL] */
    int zstd_level;           /* 0: the writer's default */
    uint64_t max_rate;        /* --max-rate: bytes per second of the stored streams, 0: no limit */
    enum { CTL_PROGRESS_AUTO, CTL_PROGRESS_ALWAYS, CTL_PROGRESS_NEVER } progress;
    /* verify DIR; restore --from DIR... */
    const char **from;
    size_t n_from;
    const char *to;           /* restore --to */
    const char **maps;        /* restore --map OLD=NEW */
    size_t n_maps;
    uint64_t until_usec;      /* restore --until: 0 none */
    uint32_t until_gen;       /* restore --until-generation: 0 none */
};

/* (instance, state, message): one instance's outcome, pointing into the reply it came from. */
struct ctl_result {
    const char *instance;
    const char *state;
    const char *message;
};

/* A coordinator's session with the writer, as snapshot and the holder run it (ctl-session.c). */
struct ctl_session {
    DBusConnection *c;
    const struct ctl_opts *o;
    const char *step;  /* the call that failed last, for messages */
    DBusError err;     /* its error */
    uint32_t freeze_timeout_ms, quiesce_timeout_ms;
    char path[256];    /* the session's object path, "" before prepare */
    DBusMessage *freeze_reply; /* owns frozen[] */
    struct ctl_result *frozen;
    size_t n_frozen;
    DBusMessage *thaw_reply; /* owns thawed[] */
    struct ctl_result *thawed;
    size_t n_thawed;
    uint64_t frozen_usec;
    /* Wall-clock times (CLOCK_REALTIME µs) around the freeze, for a caller that wants to tell
     * which acknowledged commits a snapshot holds: the Freeze reply came, the Thaw was asked. */
    uint64_t frozen_at_usec, thaw_at_usec;
};

/* ctl-status.c, ctl-snapshot.c, ctl-freeze.c: the commands; each returns the exit code. */
int ctl_status(const struct ctl_opts *o);
int ctl_snapshot(const struct ctl_opts *o);
int ctl_freeze(const struct ctl_opts *o);
int ctl_thaw(const struct ctl_opts *o);

/* ctl-snapper.c: snapperd (org.opensuse.Snapper) on the system bus, whatever bus the writer is
 * on. Snapper's own errors are names like "error.unknown_config" with an uninformative message:
 * describe() turns the known ones into sentences and keeps the name. */
struct ctl_snapper {
    DBusConnection *c;
    const struct ctl_opts *o;
    char subvolume[4096]; /* the config's, from GetConfig */
    uint32_t number;      /* the snapshot created; 0 (snapper's "current") before */
    const char *step;     /* the call that failed last */
    DBusError err;
};
/* Connect and read the config (which starts snapperd if the bus activates it, outside the
 * freeze). CTL_EXIT_OK, or CTL_EXIT_SNAPPER with step and err set. */
int ctl_snapper_open(struct ctl_snapper *sn, const struct ctl_opts *o);
/* CreateSingleSnapshot with the session's facts as userdata; false with step and err set. */
bool ctl_snapper_create(struct ctl_snapper *sn, const struct ctl_session *s);
/* SetSnapshot: the same userdata plus how long the freeze lasted (known only after the thaw). */
bool ctl_snapper_record(struct ctl_snapper *sn, const struct ctl_session *s);
/* DeleteSnapshots of the snapshot created, if any: a snapshot not known consistent is not left
 * looking like one. Says on stderr what became of it. */
void ctl_snapper_discard(struct ctl_snapper *sn);
/* The number on stdout, or with o->json the whole record as JSON; false if stdout failed. */
bool ctl_snapper_report(const struct ctl_snapper *sn, const struct ctl_session *s);
/* "CreateSingleSnapshot of config 'x': snapper has no config 'x' (error.unknown_config: ...)" */
void ctl_snapper_describe(const struct ctl_snapper *sn, char *out, size_t n);
void ctl_snapper_close(struct ctl_snapper *sn);

/* ctl-holder.c: the holder's life after the double fork; reports CODE\tTEXT on report_fd (a
 * stream socket), then on success waits for CTL_REPORT_ACK from the freeze command; never returns. */
#define CTL_REPORT_ACK '!'
void ctl_holder_main(const struct ctl_opts *o, int report_fd) __attribute__((noreturn));

/* ctl-mounts.c: add to o->instances every instance with a file (GetMetadata's system_path,
 * log_path, data_files) on the filesystem mounted at one of o->mounts; keeps the reply in
 * o->metadata. CTL_EXIT_NO_INSTANCE when none has, CTL_EXIT_USAGE for a path that is not a mount
 * point; text says why. */
int ctl_select_mounts(DBusConnection *c, struct ctl_opts *o, char *text, size_t n);

/* ctl-session.c: each returns an exit code; on failure step and err say what went wrong. */
void ctl_session_init(struct ctl_session *s, DBusConnection *c, const struct ctl_opts *o);
/* Read the time-outs, prepare, freeze. A failed freeze is aborted: nothing stays frozen. */
int ctl_session_freeze(struct ctl_session *s);
/* Thaw: CTL_EXIT_DISCARD when the freeze had already ended (Timeout), CTL_EXIT_THAW otherwise. */
int ctl_session_thaw(struct ctl_session *s);
int ctl_session_complete(struct ctl_session *s);
/* Abort (legal in every state, idempotent); keeps an earlier failure's step and err. */
void ctl_session_abort(struct ctl_session *s, const char *reason);
/* "step: Name: message" of the last failure, with a hint when the writer was unreachable. */
void ctl_session_describe(const struct ctl_session *s, char *out, size_t n);
void ctl_session_free(struct ctl_session *s);

/* ctl-bus.c */
/* A private connection to the bus of o, registered; NULL with err set. */
DBusConnection *ctl_connect(const struct ctl_opts *o, DBusError *err);
void ctl_disconnect(DBusConnection *c);
/* A method call to the writer (o->bus_name). */
DBusMessage *ctl_writer_call(const struct ctl_opts *o, const char *path, const char *iface, const char *method);
/* Send and wait at most timeout_ms for the reply; NULL with err set on an error reply or none. */
DBusMessage *ctl_send(DBusConnection *c, DBusMessage *m, int timeout_ms, DBusError *err);
/* Append an empty a{sv} (the options every writer call takes). */
bool ctl_append_empty_dict(DBusMessageIter *it);
/* Append an array of strings; the strings must be valid UTF-8. */
bool ctl_append_strv(DBusMessageIter *it, const char *const *v, size_t n);
/* Read an a(sss) at it into a malloc'd array of pointers into the message; false if malformed. */
bool ctl_read_results(DBusMessageIter *it, struct ctl_result **pv, size_t *pn);
/* Properties.GetAll of iface at path: the reply, its a{sv} at *dict. */
DBusMessage *ctl_get_all(DBusConnection *c, const struct ctl_opts *o, const char *path, const char *iface,
                         DBusMessageIter *dict, DBusError *err);
/* Properties.Get of one property: the reply, the value (inside the variant) at *val. */
DBusMessage *ctl_get(DBusConnection *c, const struct ctl_opts *o, const char *path, const char *iface,
                     const char *name, DBusMessageIter *val, DBusError *err);
/* The value of key in the a{sv} at dict, if there and of type dbus_type. */
bool ctl_dict_lookup(const DBusMessageIter *dict, const char *key, int dbus_type, DBusMessageIter *val);
const char *ctl_dict_str(const DBusMessageIter *dict, const char *key, const char *dflt);
uint64_t ctl_dict_u64(const DBusMessageIter *dict, const char *key, uint64_t dflt);
uint32_t ctl_dict_u32(const DBusMessageIter *dict, const char *key, uint32_t dflt);
/* The error said the bus or the writer cannot be reached (as opposed to a refusal). */
bool ctl_unreachable(const DBusError *err);
/* Print "jetsnapctl: what: Name: message" on stderr, with a hint for unreachable writers. */
void ctl_print_error(const struct ctl_opts *o, const char *what, const DBusError *err);
/* The same text, without the "jetsnapctl: " prefix of its first line, into out. */
void ctl_format_error(const struct ctl_opts *o, const char *what, const DBusError *err, char *out, size_t n);
/* The short name of a writer error ("Timeout"), or the full name of any other. */
const char *ctl_error_short(const char *name);
/* The time in milliseconds, as "12.3". */
void ctl_format_ms(uint64_t usec, char *out, size_t n);
/* Print the instances of results whose message is not empty, one a line, on stderr. */
void ctl_print_result_messages(const struct ctl_result *r, size_t n);
/* "a, b, c" of the results' instances, cut with "..." to fit cap. */
void ctl_join_instances(const struct ctl_result *r, size_t n, char *out, size_t cap);
void ctl_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* --- streaming backups -------------------------------------------------------------------- */

#define CTL_MANIFEST_NAME "backup_manifest"
#define CTL_MANIFEST_VERSION 1
/* Reads from a stream and writes to a destination go through buffers of this size, page
 * aligned (ctl_fw may be asked to write them with O_DIRECT-like alignment). */
#define CTL_IO_BUF (1u << 20)
/* A backup stream is written in writes of this size: an O_DIRECT write larger than the disk's
 * largest request (max_sectors_kb, 1-4 MiB) is split by the kernel into requests that are in flight
 * together, which is what makes a single-threaded direct copy as fast as the disk (mdb_copy writes
 * its whole file in one call for the same reason). */
#define CTL_STREAM_BUF (8u << 20)
/* A stream is read (and checksummed at once) in pieces of at most this: small enough to still be
 * in the CPU's cache when the checksum reads it. */
#define CTL_READ_PIECE (256u << 10)
/* Paced writeback: start writing every CTL_WB_CHUNK bytes, wait for the chunk before. */
#define CTL_WB_CHUNK (8u << 20)
/* The stream buffers' alignment: a huge page's (CTL_STREAM_BUF is a multiple of it). */
#define CTL_HUGE_ALIGN (2u << 20)
/* --max-rate's bounds, bytes per second (pg_basebackup's lower bound). */
#define CTL_RATE_MIN (32u << 10)
#define CTL_RATE_MAX (1ull << 40)
/* O_DIRECT writes need buffer, length and offset aligned to this (ctl-fwrite.c). */
#define CTL_DIRECT_ALIGN 4096u

/* ctl-backup.c, ctl-verify.c, ctl-restore.c: the commands; each returns the exit code. */
int ctl_backup(const struct ctl_opts *o);
int ctl_verify(const struct ctl_opts *o);
int ctl_restore(const struct ctl_opts *o);

/* One file of a backup set, as the manifest records it. */
struct ctl_mfile {
    char *name;      /* plain file name in the set ("db.edb", "edb00003.log") */
    char *path;      /* the path the instance knew it by (the restore map's original path) */
    char *stored_as; /* its file in the backup directory ("db.edb.zst" when compressed) */
    bool log;        /* kind log, else data */
    uint32_t generation; /* logs */
    uint64_t size;   /* uncompressed bytes */
    uint64_t stored_size;
    bool zstd;
    uint32_t crc;    /* CRC-32C of the uncompressed bytes */
};

/* A backup_manifest (ctl-manifest.c). Strings are malloc'd and freed by ctl_manifest_free. */
struct ctl_manifest {
    int version;
    char *bus_name, *writer_id, *instance, *type, *label, *log_base_name;
    uint64_t start_usec, stop_usec;
    uint32_t first_gen, last_gen;
    uint32_t page_size;
    bool has_base; /* the backup it builds on */
    char *base_label, *base_type, *base_checksum;
    uint64_t base_start_usec;
    uint32_t base_last_gen;
    struct ctl_mfile *files;
    size_t n_files;
    char *checksum; /* "crc32c:xxxxxxxx" of the manifest's text before its checksum line */
};

/* Write DIR's manifest text (with its checksum, set in m->checksum) into a malloc'd string. */
char *ctl_manifest_format(struct ctl_manifest *m);
/* Read and check the manifest at path: its checksum, its fields. false with a sentence in err. */
bool ctl_manifest_load(const char *path, struct ctl_manifest *m, char *err, size_t n);
/* Parse manifest text (len bytes); as ctl_manifest_load. */
bool ctl_manifest_parse(const char *text, size_t len, const char *what, struct ctl_manifest *m, char *err,
                        size_t n);
struct ctl_mfile *ctl_manifest_add(struct ctl_manifest *m);
void ctl_manifest_free(struct ctl_manifest *m);
/* "crc32c:%08x" */
void ctl_crc_format(uint32_t crc, char out[16]);

/* ctl-fwrite.c: one destination file, written with O_DIRECT while the writes are aligned, then in
 * large chunks with paced writeback (sync_file_range: start writing each CTL_WB_CHUNK, wait for
 * the one before), so that a big backup neither fills the page cache nor stalls at the final
 * fdatasync. */
struct ctl_fw {
    int fd;
    bool direct; /* O_DIRECT on: aligned writes go straight to the disk */
    char path[4096];
    uint64_t off, started, waited;
};
/* Create path (O_EXCL: never over an existing file). false with a sentence naming path in err. */
bool ctl_fw_open(struct ctl_fw *f, const char *path, char *err, size_t n);
bool ctl_fw_write(struct ctl_fw *f, const void *buf, size_t len, char *err, size_t n);
/* fdatasync and close. */
bool ctl_fw_close(struct ctl_fw *f, char *err, size_t n);
/* Close and unlink (a failed file). */
void ctl_fw_abort(struct ctl_fw *f);
/* From here on through the page cache with paced writeback, not O_DIRECT. */
void ctl_fw_use_page_cache(struct ctl_fw *f);
/* fsync a directory (after its entries were created). */
bool ctl_fsync_dir(const char *dir, char *err, size_t n);

/* ctl-dest.c: where a backup goes: a directory (created; empty or missing) or "-", a tar stream on
 * stdout (pax, written by libarchive) holding the same files and manifest. */
struct ctl_dest;
struct ctl_dest *ctl_dest_open(const char *output, char *err, size_t n);
/* Write the files that follow through the page cache with paced writeback instead of O_DIRECT:
 * for a rate-limited backup, whose O_DIRECT bursts would each hold the disk's queue (measured in
 * bench-xbackup: the application's commits keep more of their rate this way). */
void ctl_dest_page_cache(struct ctl_dest *d);
/* Start a file of the set; size is its exact stored size, or -1 when it is not known in advance
 * (a compressed stream: the tar writer spools it to a temporary file first). */
bool ctl_dest_begin(struct ctl_dest *d, const char *name, int64_t size, char *err, size_t n);
bool ctl_dest_write(struct ctl_dest *d, const void *buf, size_t len, char *err, size_t n);
bool ctl_dest_end(struct ctl_dest *d, char *err, size_t n);
/* Write the manifest (last) and make everything durable: fsync the directory, or close the tar. */
bool ctl_dest_finish(struct ctl_dest *d, const char *manifest, char *err, size_t n);
/* Free; with remove, delete what was written (a failed backup leaves nothing that looks usable). */
void ctl_dest_close(struct ctl_dest *d, bool remove);
bool ctl_dest_is_tar(const struct ctl_dest *d);

/* ctl-unpack.c: the bytes of a stored file as they come (zstd or not): counts the uncompressed
 * bytes, computes their CRC-32C and hands them to an optional sink. */
typedef bool ctl_sink_fn(void *ctx, const void *buf, size_t len, char *err, size_t n);
struct ctl_unpack {
    void *dctx; /* ZSTD_DCtx, when zstd */
    void *out;
    bool frame_open;
    uint32_t crc;
    uint64_t size;
    ctl_sink_fn *sink;
    void *sink_ctx;
};
bool ctl_unpack_init(struct ctl_unpack *u, bool zstd, ctl_sink_fn *sink, void *ctx, char *err, size_t n);
bool ctl_unpack_feed(struct ctl_unpack *u, const void *buf, size_t len, char *err, size_t n);
/* The stream ended: a zstd frame must be complete. */
bool ctl_unpack_end(struct ctl_unpack *u, char *err, size_t n);
void ctl_unpack_free(struct ctl_unpack *u);

/* ctl-backup-stream.c: one file of a backup from the writer's fd into the destination. */
struct ctl_stream_result {
    uint64_t uncompressed, stored;
    uint32_t crc;
};
/* What every file of one backup is streamed through: two CTL_STREAM_BUF buffers, made once, and
 * the pace: with max_rate (bytes per second, 0: none) the reads of the whole backup are held to
 * it, so the writer's producer is held to it too (the socket fills and blocks its send). */
struct ctl_streamer {
    void *buf[2];
    uint64_t max_rate, paced_bytes, t0_usec;
};
bool ctl_streamer_init(struct ctl_streamer *sb, uint64_t max_rate, char *err, size_t n);
void ctl_streamer_free(struct ctl_streamer *sb);
/* Read fd to EOF into d (name stored_as, stored size expected or -1) through sb's buffers,
 * decompressing a zstd stream on the side for the checksum; calls progress with each chunk's
 * stored bytes. */
bool ctl_stream_file(int fd, struct ctl_streamer *sb, struct ctl_dest *d, const char *stored_as,
                     int64_t expected, bool zstd, void (*progress)(void *ctx, uint64_t bytes), void *pctx,
                     struct ctl_stream_result *r, bool *dest_failed, char *err, size_t n);

/* ctl-progress.c: "12.3 MiB of 40.0 MiB  85.1 MB/s  ETA 0:03" on stderr, redrawn at most 5 times
 * a second; only when enabled (a terminal with --progress=auto, or always). */
struct ctl_progress {
    bool on;
    uint64_t done, total, t0_usec, last_usec;
};
void ctl_progress_init(struct ctl_progress *p, int mode);
void ctl_progress_add(struct ctl_progress *p, uint64_t bytes);
/* Erase the line (before any other message, and at the end). */
void ctl_progress_clear(struct ctl_progress *p);
uint64_t ctl_now_usec(void);
uint64_t ctl_mono_usec(void);

/* ctl-verify.c: check one backup directory (manifest checksum, every file's presence, size and
 * CRC-32C, no stray files); prints each problem naming the file. The manifest stays in m for the
 * caller (restore). Returns CTL_EXIT_OK or CTL_EXIT_DAMAGED. */
int ctl_verify_set(const char *dir, struct ctl_manifest *m, bool quiet_ok);

/* ctl-time.c: --until TIME: RFC 3339 ("2024-05-01T12:00:00.250+02:00"), "YYYY-MM-DD HH:MM:SS[.frac]"
 * (local time), or @EPOCH[.USEC]; false if it is none of these. */
bool ctl_parse_time(const char *s, uint64_t *usec);
/* "2024-05-01T10:00:00.250000Z" */
void ctl_format_time(uint64_t usec, char *out, size_t n);

/* ctl-errname.c */
/* "ENOSPC" for errno values (strerrorname_np), or the number. */
const char *ctl_errno_name(int e, char *buf, size_t n);
/* "JET_errFileNotFound (-1811)" for a JET_err number (libjet's JET_paramErrorToString). */
const char *ctl_jet_err_name(long e, char *buf, size_t n);

#endif /* JETSNAP_CTL_INT_H */
