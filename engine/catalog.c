/*
 * catalog.c — the catalog: one B+tree per database, rooted at page ENG_PGNO_CATALOG (2), that maps
 * each table's name to the root page of the table's own B+tree.
 *
 * Format (version 1 of the database file; a change here changes the file format, see dbfile.c):
 *   key    the table name folded to ASCII lower case (ESE's table names are case-insensitive;
 *          bytes >= 0x80 are kept as they are), 1 .. JET_cbNameMost bytes, no terminator
 *   value  bytes 0..3   u32 little-endian: root page number of the table's B+tree
 *          bytes 4..    the name as the table was created (case kept), same length as the key
 * So two names that differ only in case name one table. verify.c walks the same entries (it reads
 * only the root).
 */
#include <string.h>

#include "catalog-int.h"

/* Catalog key: the table name folded to lower case. */
static size_t catalog_key(const char *name, uint8_t *key)
{
    size_t n = strlen(name);
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)name[i];
        key[i] = (uint8_t)(ch >= 'A' && ch <= 'Z' ? ch + 32 : ch);
    }
    return n;
}

long eng_catalog_find(eng_view *v, const char *name, uint32_t *root)
{
    uint8_t key[JET_cbNameMost], val[4 + JET_cbNameMost];
    size_t klen = catalog_key(name, key), vlen = 0;
    long err = bt_get(&v->io, ENG_PGNO_CATALOG, key, klen, val, sizeof val, &vlen);
    if (err)
        return err == JET_errRecordNotFound ? JET_errObjectNotFound : err;
    ENG_RETURN_IF(vlen < 4, JET_errDatabaseCorrupted,
                  "a catalog entry is too short to hold its table's root page");
    *root = eng_ld32(val);
    return JET_errSuccess;
}

long eng_catalog_put(eng_view *v, const char *name, uint32_t root)
{
    uint8_t key[JET_cbNameMost], val[4 + JET_cbNameMost];
    size_t klen = catalog_key(name, key);
    eng_st32(val, root);
    memcpy(val + 4, name, klen);
    long err = bt_put(&v->io, ENG_PGNO_CATALOG, key, klen, val, 4 + klen, 1);
    return err == JET_errKeyDuplicate ? JET_errTableDuplicate : err;
}

long eng_catalog_del(eng_view *v, const char *name)
{
    uint8_t key[JET_cbNameMost];
    size_t klen = catalog_key(name, key);
    return bt_delete(&v->io, ENG_PGNO_CATALOG, key, klen);
}
