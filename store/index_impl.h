/*
 * index_impl.h — store-internal: what the files of the SQLite index (index.c,
 * entries.c, meta.c, records.c) share. Nothing outside store/ includes it; the
 * index's public surface is store.h.
 *
 * index.c owns the handle, the schema and the SQL of the cached statements
 * (stmt_sql, by the ids below); the other files bind, step and read through
 * the helpers declared here. Every helper reports SQLite's words through
 * ix_err(), the one adapter.
 */
#ifndef MC_STORE_INDEX_IMPL_H
#define MC_STORE_INDEX_IMPL_H

#include <sqlite3.h>
#include <stddef.h>

#include "store.h"

/* The columns of struct mc_entry, in the order entries.c reads and binds them. */
#define ENTRY_COLS                                                                              \
	"key, runtime, repo_prefix, ref, head_sha, dockerfile_path, dockerfile_hash, platform, " \
	"build_args, image_tag, image_id, tree_path, state, tree_bytes, image_bytes, created_ms, " \
	"last_used_ms, build_ms, use_count"

/* The cached statements: prepared on first use (ix_prepare), kept until mc_index_free(). */
enum {
	ST_GET,
	ST_PUT,
	ST_SET_STATE,
	ST_TOUCH,
	ST_DELETE,
	ST_NEWEST,
	ST_LIST_ALL,
	ST_LIST_RUNTIME,
	ST_COUNTER_ADD,
	ST_COUNTER_GET,
	ST_DFHASH_GET,
	ST_DFHASH_PUT,
	ST_BUILD_RECORD,
	ST_LATEST_SET,
	ST_LATEST_GET,
	ST_LATEST_ALL,
	ST_LEASE_PUT,
	ST_LEASE_GET,
	ST_LEASES_ACTIVE,
	ST_LEASES_EXPIRE,
	ST_GC_RECORD,
	ST_GC_LAST,
	ST_DROP_TREE,
	ST_BEGIN,
	ST_COMMIT,
	ST_META_GET,
	ST_META_PUT,
	ST_META_ADD,
	ST_LEGACY_ROOT,
	ST_ANY_ENTRY,
	ST_COUNT
};

struct mc_index {
	sqlite3 *db;
	char *path;
	/* Prepared on first use and kept: a cache hit must not pay for parsing. */
	sqlite3_stmt *stmt[ST_COUNT];
};

/* The one adapter from SQLite errors: records "index '<path>': <what>: <sqlite's
 * words>" and returns MC_ELOCKED (busy timeout ran out) or MC_ERR, with a hint. */
int ix_err(struct mc_index *ix, int rc, const char *what);
/* *out = the cached statement id, prepared on first use. */
int ix_prepare(sqlite3_stmt **out, struct mc_index *ix, int id);
/* Makes a cached statement ready for its next use; NULL is fine. */
void ix_finish(sqlite3_stmt *st);
/* Steps a statement that returns no row. */
int ix_step_done(struct mc_index *ix, sqlite3_stmt *st, const char *what);
/* A statement of the rare paths: prepared for one use, not cached; the caller
 * sqlite3_finalize()s it. */
int ix_prepare_once(sqlite3_stmt **out, struct mc_index *ix, const char *sql);
/* Column col as a malloc'd string (embedded NULs kept), NULL for SQL NULL. */
char *ix_column_str(sqlite3_stmt *st, int col);
/*
 * Steps st to its end, appending one element of size bytes to *v per row,
 * filled by read (which initialises the whole element). *v and *len hold the
 * rows read so far even on failure, for the caller's free; what names the
 * query in the error.
 */
int ix_step_rows(struct mc_index *ix, sqlite3_stmt *st, void **v, size_t *len, size_t size,
		 void (*read)(void *elem, sqlite3_stmt *st), const char *what);

#endif
