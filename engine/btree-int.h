/*
 * btree-int.h — the B+tree of one table (or of the catalog), over an abstract page provider.
 *
 * The B+tree knows nothing of files, caches, logs or transactions. It sees pages through
 * eng_pageio: it reads pages, asks for writable images of pages (the provider gives the
 * transaction's private copy), allocates and frees pages. Everything it writes becomes durable or
 * is discarded as a whole by the caller's transaction, so the B+tree needs no undo of its own: when
 * a modifying call fails after it has changed pages (a damaged page met half-way), the caller
 * discards every page change that call made. Errors that depend only on the arguments or on the
 * key's presence (KeyTooBig, RecordTooBig, InvalidParameter, KeyDuplicate, RecordNotFound) are
 * detected before the first change.
 *
 * Page layout shared with the pager (all integers little-endian):
 *   bytes 0..3   checksum (owned by the pager)
 *   bytes 4..7   page number (owned by the pager)
 *   bytes 8..15  LSN of the last change (owned by the pager)
 *   byte  16     page type: ENG_PT_* below (written by whoever formats the page)
 *   bytes 17..   the owner's layout (btree.c documents its own at the top of the file)
 * The B+tree must never write bytes 0..15.
 */
#ifndef ENG_BTREE_INT_H
#define ENG_BTREE_INT_H

#include <stddef.h>
#include <stdint.h>

#define ENG_PAGE_HDR_PAGER 16 /* bytes 0..15 belong to the pager */

enum eng_page_type {
    ENG_PT_FREE = 0,     /* on the free list (pager) */
    ENG_PT_META = 1,     /* database meta page, pgno 1 (pager) */
    ENG_PT_LEAF = 2,     /* B+tree leaf */
    ENG_PT_INTERNAL = 3, /* B+tree internal node */
    ENG_PT_OVERFLOW = 4, /* part of a long value */
};

/* Page access for the B+tree. Every function returns 0 or a negative JET_err.
 * Pointers handed out stay valid until the B+tree call that obtained them returns (the caller
 * releases them between calls). A page obtained with read() must not be modified; to modify it,
 * call write() for the same pgno, which may return a different pointer (a private copy) — after
 * that, use only the new pointer. */
typedef struct eng_pageio {
    void *ctx;
    uint32_t page_size; /* 4096, 8192, 16384 or 32768 */
    /* Read page pgno; JET_errReadVerifyFailure if it is damaged, JET_errDatabaseCorrupted if
     * pgno is out of range. */
    int (*read)(void *ctx, uint32_t pgno, const uint8_t **page);
    /* A writable image of page pgno, with the current contents. */
    int (*write)(void *ctx, uint32_t pgno, uint8_t **page);
    /* A new page: its image is zero-filled from byte 16 on; the B+tree formats it. */
    int (*alloc)(void *ctx, uint32_t *pgno, uint8_t **page);
    /* Give page pgno back to the database's free space (the B+tree no longer references it). */
    int (*free)(void *ctx, uint32_t pgno);
    /* Optional (NULL: none): told which page and why when the B+tree finds damage that no single
     * page shows (a child whose keys lie outside its parent's separators, a scan that would move
     * backwards). The call still returns JET_errDatabaseCorrupted. */
    void (*corrupt)(void *ctx, uint32_t pgno, const char *why);
} eng_pageio;

/* Longest key for a page size: 1000 bytes with 4 KiB pages, 2000 bytes otherwise (ESE's
 * JET_cbKeyMost4KBytePage / JET_cbKeyMost8KBytePage). */
size_t bt_key_max(uint32_t page_size);
/* Longest value: 64 MiB. Longer values give JET_errRecordTooBig. */
#define BT_VALUE_MAX ((size_t)64 << 20)

/* Seek operations for bt_seek. */
enum bt_seek_op { BT_SEEK_EQ, BT_SEEK_LT, BT_SEEK_LE, BT_SEEK_GE, BT_SEEK_GT };

/* Create an empty tree; *root receives its root page number, which never changes for the
 * life of the tree (a root split moves the root's contents down into new pages). */
int bt_create(const eng_pageio *io, uint32_t *root);

/* Free every page of the tree, including long-value pages and the root. */
int bt_destroy(const eng_pageio *io, uint32_t root);

/* Insert or replace. no_overwrite != 0: JET_errKeyDuplicate if the key exists (nothing changes).
 * Errors: JET_errKeyTooBig (klen > bt_key_max), JET_errInvalidParameter (klen == 0),
 * JET_errRecordTooBig (vlen > BT_VALUE_MAX), page errors. Values too large to sit in a leaf go to a
 * chain of ENG_PT_OVERFLOW pages; replacing or deleting a record frees its old chain. */
int bt_put(const eng_pageio *io, uint32_t root, const void *key, size_t klen, const void *val,
           size_t vlen, int no_overwrite);

/* Look a key up. Copies min(vlen, cbmax) bytes of the value to buf (buf may be NULL if cbmax is
 * 0) and stores the full length in *vlen_out (if not NULL).
 * Returns 0, or JET_errRecordNotFound. (The caller turns a short buffer into a warning.) */
int bt_get(const eng_pageio *io, uint32_t root, const void *key, size_t klen, void *buf, size_t cbmax,
           size_t *vlen_out);

/* Delete a key. JET_errRecordNotFound if absent. Pages that become empty are freed (a leaf that
 * empties is unlinked from its parent; the root stays, possibly as an empty leaf). */
int bt_delete(const eng_pageio *io, uint32_t root, const void *key, size_t klen);

/* Find the record nearest to key by op. On success copies the found key to keyout (which must hold
 * bt_key_max(page_size) bytes) and its length to *klen_out. key may be NULL/klen 0 only with
 * BT_SEEK_GE (first record) and BT_SEEK_LE (last record) meaning "from the very start/end".
 * The found key is checked to stand in op's relation to key (GT: greater, ...), so a scan that
 * seeks GT (LT) from the key it is on always moves forward (back) and ends, whatever the pages
 * hold: a damaged tree gives JET_errDatabaseCorrupted instead of a step backwards.
 * Returns 0 or JET_errRecordNotFound (or a page error). */
int bt_seek(const eng_pageio *io, uint32_t root, const void *key, size_t klen, enum bt_seek_op op,
            uint8_t *keyout, size_t *klen_out);

/* Structural check of one page as it comes from disk, before anything uses it, so the B+tree
 * never runs on a page whose structure lies: tree pages (format version, slot count and cell area
 * bounds, every cell inside the page, cells not overlapping, cell bytes plus dead bytes adding up,
 * keys strictly increasing, key and value lengths in range, leftmost/child and overflow page
 * numbers in [first, limit) and not the page itself, reserved bytes zero) and overflow pages
 * (length in range, a full page unless last, next page in range). Pages the pager owns
 * (ENG_PT_FREE, ENG_PT_META) pass; any other type is damage. Linear in the page size and cheap
 * next to the read and checksum it follows.
 * Returns 0, or JET_errDatabaseCorrupted with *why (if not NULL) set to a static reason. */
int bt_page_validate(const uint8_t *pg, uint32_t ps, uint32_t pgno, uint32_t first, uint32_t limit,
                     const char **why);

/* Structural check for tests and repair tools: key order inside and across pages, separator keys
 * bounding children, cell bounds inside pages, overflow chains of the stated length.
 * Counts records into *nrecords (if not NULL). Returns 0 or JET_errDatabaseCorrupted. */
int bt_check(const eng_pageio *io, uint32_t root, uint64_t *nrecords);

#endif
