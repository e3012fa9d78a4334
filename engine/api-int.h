/* api-int.h — helpers shared by the api-*.c files (argument checks, views, implicit updates). */
#ifndef ENG_API_INT_H
#define ENG_API_INT_H

#include "engine-int.h"

/* The cursor behind tableid, which must belong to s. */
long api_cursor(eng_sess *s, JET_TABLEID tableid, eng_cursor **out);
/* The database behind dbid, which s must have open. */
long api_db(eng_sess *s, JET_DBID dbid, eng_db **out);

/* An update runs inside the session's transaction, or in an implicit one it opens and ends. */
long api_update_begin(eng_sess *s, eng_db *db, bool *implicit);
long api_update_end(eng_sess *s, bool implicit, size_t changes_before, long err);

/* A read view: the transaction's own when it holds db's writer lock, else the committed state
 * (with db's view lock held for reading until api_read_end). */
void api_read_begin(eng_sess *s, eng_db *db, eng_view *v);
void api_read_end(eng_view *v);

/* After a rollback, close cursors on tables that no longer exist for the session. */
void api_revalidate_cursors(eng_sess *s);
long api_check_name(const char *name);

#endif
