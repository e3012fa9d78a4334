/*
 * conf-int.h — internals of conf/ shared by conf.c (the parser), conf-keys.c (the table of keys)
 * and conf-doc.c (the documentation generator). Not installed; not for other components.
 */
#ifndef JETSNAP_CONF_INT_H
#define JETSNAP_CONF_INT_H

#include <stddef.h>
#include <stdint.h>

#include "conf.h"

/* The sections a key can belong to. */
enum conf_section {
    CONF_SEC_WRITER,   /* [writer]        -> struct conf_writer */
    CONF_SEC_INSTANCE, /* [instance NAME] -> struct conf_instance */
};

/* Value types. The field each type is stored in is given in parentheses. */
enum conf_type {
    CONF_T_STRING,   /* printable text of 1..max bytes (char *) */
    CONF_T_PATH,     /* absolute path, normalized (char *; struct conf_strv when repeatable) */
    CONF_T_BOOL,     /* true/false, yes/no, on/off, 1/0, any case (bool) */
    CONF_T_UINT,     /* decimal digits, min..max (uint32_t) */
    CONF_T_ENUM,     /* one word of enum_words, any case; stored as its index (an enum field) */
    CONF_T_BUS,      /* "system", "session" or a D-Bus address (struct conf_bus) */
    CONF_T_BUS_NAME, /* a well-known D-Bus bus name (char *) */
    CONF_T_USERS,    /* user names or numeric uids separated by ',' or blanks (struct conf_strv) */
};

#define CONF_KEY_REQUIRED 0x1u   /* the section must set it (no default) */
#define CONF_KEY_REPEATABLE 0x2u /* may appear several times; the values are appended */

struct conf_key {
    enum conf_section section;
    const char *name;
    enum conf_type type;
    unsigned flags;
    const char *def;       /* default, written as in a file and parsed by the same code; NULL
                              when required or when def_doc describes a computed default */
    const char *def_doc;   /* default as documented when it is not a literal (or NULL) */
    uint64_t min, max;     /* CONF_T_UINT: bounds; CONF_T_STRING/CONF_T_BUS_NAME: max bytes;
                              repeatable keys: max = most occurrences (min unused) */
    const char *const *enum_words; /* CONF_T_ENUM: NULL-terminated, index = stored value */
    size_t offset;         /* of the field in struct conf_writer or struct conf_instance */
    const char *values;    /* the allowed values, for the documentation */
    const char *help;      /* what the key does, for the documentation (one paragraph) */
};

/* The table of keys, in documentation order (writer keys first). */
extern const struct conf_key conf_keys[];
extern const size_t conf_nkeys;

/* The name of a type as the documentation shows it ("path", "unsigned integer", ...). */
const char *conf_type_name(enum conf_type t);

#endif /* JETSNAP_CONF_INT_H */
