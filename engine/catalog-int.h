/*
 * catalog-int.h — the catalog of one database: which tables it holds and where each table's
 * B+tree starts (catalog.c; the format is documented at the top of that file).
 */
#ifndef ENG_CATALOG_INT_H
#define ENG_CATALOG_INT_H

#include <stdint.h>

#include "engine-int.h"

/* Root page of the table called name (case-insensitive), seen through v.
 * Errors: ObjectNotFound (no such table), DatabaseCorrupted (entry shorter than its root),
 * and the B+tree's read errors. */
long eng_catalog_find(eng_view *v, const char *name, uint32_t *root);
/* Add name -> root inside v (a transaction's view). Errors: TableDuplicate (a table of that
 * name, in any case, exists), and the B+tree's write errors. */
long eng_catalog_put(eng_view *v, const char *name, uint32_t root);
/* Remove name's entry inside v (a transaction's view). Errors: RecordNotFound, and the B+tree's
 * write errors. The table's own pages are the caller's to free. */
long eng_catalog_del(eng_view *v, const char *name);

#endif
