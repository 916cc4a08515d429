/* index.c — the SQLite index: schema migrations and the cached prepared queries on it. */
#include "store.h"

#include <errno.h>
#include <sqlite3.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

/*
 * Forward migrations: migrations[i] brings user_version i to i + 1. Never edit
 * one that has shipped; append a new one instead.
 */
static const char *const migrations[] = {
	/* 0 → 1 */
	"CREATE TABLE entries ("
	" key TEXT PRIMARY KEY NOT NULL,"
	" runtime TEXT, repo_prefix TEXT, ref TEXT, head_sha TEXT,"
	" dockerfile_path TEXT, dockerfile_hash TEXT, platform TEXT, build_args TEXT,"
	" image_tag TEXT, image_id TEXT, tree_path TEXT,"
	" state INTEGER NOT NULL DEFAULT 0,"
	" tree_bytes INTEGER NOT NULL DEFAULT 0, image_bytes INTEGER NOT NULL DEFAULT 0,"
	" created_ms INTEGER NOT NULL DEFAULT 0, last_used_ms INTEGER NOT NULL DEFAULT 0,"
	" build_ms INTEGER NOT NULL DEFAULT 0, use_count INTEGER NOT NULL DEFAULT 0);"
	"CREATE INDEX entries_runtime_used ON entries(runtime, last_used_ms);"
	"CREATE INDEX entries_used ON entries(last_used_ms);"
	"CREATE TABLE counters (name TEXT PRIMARY KEY NOT NULL, value INTEGER NOT NULL DEFAULT 0);"
	"CREATE TABLE dfhash (repo_url TEXT NOT NULL, commit_sha TEXT NOT NULL, path TEXT NOT NULL,"
	" hash TEXT NOT NULL, PRIMARY KEY (repo_url, commit_sha, path)) WITHOUT ROWID;"
	/* History outlives the entry it describes, so no foreign key to entries. */
	"CREATE TABLE builds (id INTEGER PRIMARY KEY, key TEXT NOT NULL, started_ms INTEGER NOT NULL,"
	" duration_ms INTEGER NOT NULL, ok INTEGER NOT NULL, log_path TEXT);"
	"CREATE INDEX builds_key ON builds(key, started_ms);"
	"CREATE TABLE gc_runs (id INTEGER PRIMARY KEY, started_ms INTEGER NOT NULL,"
	" duration_ms INTEGER NOT NULL DEFAULT 0, evicted INTEGER NOT NULL DEFAULT 0,"
	" bytes_freed INTEGER NOT NULL DEFAULT 0, errors INTEGER NOT NULL DEFAULT 0, detail TEXT);",
	/* 1 → 2: what :latest points at, leases (ensure --lease) that gc honours. No
	 * foreign keys: a pointer or lease to a vanished key is harmless and gc tidies it. */
	"CREATE TABLE latest (runtime TEXT PRIMARY KEY NOT NULL, key TEXT NOT NULL) WITHOUT ROWID;"
	"CREATE TABLE leases (key TEXT PRIMARY KEY NOT NULL, until_ms INTEGER NOT NULL) WITHOUT ROWID;"
	"CREATE INDEX gc_runs_started ON gc_runs(started_ms);",
	/* 2 → 3: small facts worth remembering between runs (e.g. the engine's native
	 * platform, so a hit needs no GET /version). */
	"CREATE TABLE meta (name TEXT PRIMARY KEY NOT NULL, value TEXT NOT NULL) WITHOUT ROWID;",
	/* 3 → 4: status aggregates entries by runtime and state from this covering
	 * index alone (12 ms instead of ~100 ms on 100 000 rows). */
	"CREATE INDEX entries_summary ON entries(runtime, state, tree_bytes, image_bytes);",
	/* 4 → 5: an image's layers never change, so gc remembers them by image id
	 * (layers: JSON [[chain, bytes], …]); a failed build per key, so a broken
	 * commit is not rebuilt on every call (ensure's backoff). */
	"CREATE TABLE image_layers (image_id TEXT PRIMARY KEY NOT NULL, layers TEXT NOT NULL) WITHOUT ROWID;"
	"CREATE TABLE failures (key TEXT PRIMARY KEY NOT NULL, count INTEGER NOT NULL,"
	" last_ms INTEGER NOT NULL, next_ms INTEGER NOT NULL, step TEXT, output TEXT, log_path TEXT)"
	" WITHOUT ROWID;"
	/* an index upgraded with rows keeps its path-derived root id (mc_index_root_id) */
	"INSERT INTO meta (name, value) SELECT 'root-id-legacy', '1' WHERE EXISTS (SELECT 1 FROM entries);",
};
#define SCHEMA_VERSION ((int)(sizeof(migrations) / sizeof(migrations[0])))

#define ENTRY_COLS                                                                              \
	"key, runtime, repo_prefix, ref, head_sha, dockerfile_path, dockerfile_hash, platform, " \
	"build_args, image_tag, image_id, tree_path, state, tree_bytes, image_bytes, created_ms, " \
	"last_used_ms, build_ms, use_count"

/* Column order of ENTRY_COLS: the strings first, then state, then the int64s. */
static const size_t entry_str[] = {
	offsetof(struct mc_entry, key),		    offsetof(struct mc_entry, runtime),
	offsetof(struct mc_entry, repo_prefix),	    offsetof(struct mc_entry, ref),
	offsetof(struct mc_entry, head_sha),	    offsetof(struct mc_entry, dockerfile_path),
	offsetof(struct mc_entry, dockerfile_hash), offsetof(struct mc_entry, platform),
	offsetof(struct mc_entry, build_args),	    offsetof(struct mc_entry, image_tag),
	offsetof(struct mc_entry, image_id),	    offsetof(struct mc_entry, tree_path),
};
#define N_STR ((int)(sizeof(entry_str) / sizeof(entry_str[0])))
static const size_t entry_i64[] = {
	offsetof(struct mc_entry, tree_bytes),	 offsetof(struct mc_entry, image_bytes),
	offsetof(struct mc_entry, created_ms),	 offsetof(struct mc_entry, last_used_ms),
	offsetof(struct mc_entry, build_ms),	 offsetof(struct mc_entry, use_count),
};
#define N_I64 ((int)(sizeof(entry_i64) / sizeof(entry_i64[0])))

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

static const char *const stmt_sql[ST_COUNT] = {
	[ST_GET] = "SELECT " ENTRY_COLS " FROM entries WHERE key = ?1",
	[ST_PUT] = "INSERT INTO entries (" ENTRY_COLS ") VALUES"
		   " (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19)"
		   " ON CONFLICT (key) DO UPDATE SET runtime = excluded.runtime,"
		   " repo_prefix = excluded.repo_prefix, ref = excluded.ref, head_sha = excluded.head_sha,"
		   " dockerfile_path = excluded.dockerfile_path, dockerfile_hash = excluded.dockerfile_hash,"
		   " platform = excluded.platform, build_args = excluded.build_args,"
		   " image_tag = excluded.image_tag, image_id = excluded.image_id,"
		   " tree_path = excluded.tree_path, state = excluded.state,"
		   " tree_bytes = excluded.tree_bytes, image_bytes = excluded.image_bytes,"
		   " created_ms = excluded.created_ms, last_used_ms = excluded.last_used_ms,"
		   " build_ms = excluded.build_ms, use_count = excluded.use_count",
	[ST_SET_STATE] = "UPDATE entries SET state = ?2 WHERE key = ?1",
	[ST_TOUCH] = "UPDATE entries SET last_used_ms = ?2, use_count = use_count + 1 WHERE key = ?1",
	[ST_DELETE] = "DELETE FROM entries WHERE key = ?1",
	[ST_NEWEST] = "SELECT " ENTRY_COLS " FROM entries WHERE runtime = ?1 AND state = 1"
		      " ORDER BY last_used_ms DESC, created_ms DESC, key LIMIT 1",
	[ST_LIST_ALL] = "SELECT " ENTRY_COLS " FROM entries ORDER BY last_used_ms DESC, key",
	[ST_LIST_RUNTIME] = "SELECT " ENTRY_COLS " FROM entries WHERE runtime = ?1"
			    " ORDER BY last_used_ms DESC, key",
	[ST_COUNTER_ADD] = "INSERT INTO counters (name, value) VALUES (?1, ?2)"
			   " ON CONFLICT (name) DO UPDATE SET value = value + excluded.value",
	[ST_COUNTER_GET] = "SELECT value FROM counters WHERE name = ?1",
	[ST_META_GET] = "SELECT value FROM meta WHERE name = ?1",
	[ST_META_ADD] = "INSERT OR IGNORE INTO meta (name, value) VALUES (?1, ?2)",
	[ST_LEGACY_ROOT] = "SELECT 1 FROM meta WHERE name = 'root-id-legacy'",
	[ST_ANY_ENTRY] = "SELECT 1 FROM entries LIMIT 1",
	[ST_META_PUT] = "INSERT INTO meta (name, value) VALUES (?1, ?2)"
			" ON CONFLICT (name) DO UPDATE SET value = excluded.value",
	[ST_DFHASH_GET] = "SELECT hash FROM dfhash WHERE repo_url = ?1 AND commit_sha = ?2 AND path = ?3",
	[ST_DFHASH_PUT] = "INSERT INTO dfhash (repo_url, commit_sha, path, hash) VALUES (?1, ?2, ?3, ?4)"
			  " ON CONFLICT (repo_url, commit_sha, path) DO UPDATE SET hash = excluded.hash",
	[ST_BUILD_RECORD] = "INSERT INTO builds (key, started_ms, duration_ms, ok, log_path)"
			    " VALUES (?1, ?2, ?3, ?4, ?5)",
	[ST_LATEST_SET] = "INSERT INTO latest (runtime, key) VALUES (?1, ?2)"
			  " ON CONFLICT (runtime) DO UPDATE SET key = excluded.key",
	[ST_LATEST_GET] = "SELECT key FROM latest WHERE runtime = ?1",
	[ST_LATEST_ALL] = "SELECT DISTINCT key FROM latest ORDER BY key",
	[ST_LEASE_PUT] = "INSERT INTO leases (key, until_ms) VALUES (?1, ?2)"
			 " ON CONFLICT (key) DO UPDATE SET until_ms = max(until_ms, excluded.until_ms)",
	[ST_LEASE_GET] = "SELECT until_ms FROM leases WHERE key = ?1",
	[ST_LEASES_ACTIVE] = "SELECT key, until_ms FROM leases WHERE until_ms > ?1 ORDER BY key",
	[ST_LEASES_EXPIRE] = "DELETE FROM leases WHERE until_ms <= ?1",
	[ST_GC_RECORD] = "INSERT INTO gc_runs (started_ms, duration_ms, evicted, bytes_freed, errors, detail)"
			 " VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
	[ST_GC_LAST] = "SELECT id, started_ms, duration_ms, evicted, bytes_freed, errors, detail FROM gc_runs"
		       " ORDER BY started_ms DESC, id DESC LIMIT 1",
	[ST_DROP_TREE] = "UPDATE entries SET tree_path = NULL, tree_bytes = 0 WHERE key = ?1",
	[ST_BEGIN] = "BEGIN IMMEDIATE",
	[ST_COMMIT] = "COMMIT",
};

struct mc_index {
	sqlite3 *db;
	char *path;
	/* Prepared on first use and kept: a cache hit must not pay for parsing. */
	sqlite3_stmt *stmt[ST_COUNT];
};

/* The one adapter from SQLite errors: BUSY/LOCKED means the busy timeout ran out. */
static int ix_err(struct mc_index *ix, int rc, const char *what)
{
	int prim = rc & 0xff;
	int code = prim == SQLITE_BUSY || prim == SQLITE_LOCKED ? MC_ELOCKED : MC_ERR;
	int sys = sqlite3_system_errno(ix->db);
	/* "database or disk is full": SQLite keeps no errno for ENOSPC, and the
	 * index sets no page limit, so it is the disk */
	if (prim == SQLITE_FULL || (prim == SQLITE_IOERR && sys))
		mc_error_set(code, "index '%s': %s: %s (%s)", ix->path, what, sqlite3_errmsg(ix->db),
			     strerror(prim == SQLITE_FULL ? ENOSPC : sys));
	else
		mc_error_set(code, "index '%s': %s: %s", ix->path, what, sqlite3_errmsg(ix->db));
	if (code == MC_ELOCKED)
		mc_error_hint("another molcache process kept the index busy; try again");
	else if (mc_index_rc_corrupt(rc))
		mc_error_hint(MC_INDEX_REPAIR_HINT);
	return code;
}

static int prepare(sqlite3_stmt **out, struct mc_index *ix, int id)
{
	if (!ix->stmt[id]) {
		int rc = sqlite3_prepare_v3(ix->db, stmt_sql[id], -1, SQLITE_PREPARE_PERSISTENT, &ix->stmt[id],
					    NULL);
		if (rc != SQLITE_OK) {
			*out = NULL;
			return ix_err(ix, rc, "prepare");
		}
	}
	*out = ix->stmt[id];
	return 0;
}

/* Makes a cached statement ready for its next use; NULL is fine. */
static void finish(sqlite3_stmt *st)
{
	if (st) {
		sqlite3_reset(st);
		sqlite3_clear_bindings(st);
	}
}

/* Steps a statement that returns no row. */
static int step_done(struct mc_index *ix, sqlite3_stmt *st, const char *what)
{
	int rc = sqlite3_step(st);
	return rc == SQLITE_DONE ? 0 : ix_err(ix, rc, what);
}

/* Runs one statement with no values and no cache (open, migrations). */
static int exec(struct mc_index *ix, const char *sql, const char *what)
{
	int rc = sqlite3_exec(ix->db, sql, NULL, NULL, NULL);
	return rc == SQLITE_OK ? 0 : ix_err(ix, rc, what);
}

static int user_version(struct mc_index *ix, int *out)
{
	sqlite3_stmt *st = NULL;
	int ret = 0, rc;

	*out = 0;
	rc = sqlite3_prepare_v2(ix->db, "PRAGMA user_version", -1, &st, NULL);
	if (rc != SQLITE_OK) {
		ret = ix_err(ix, rc, "read schema version");
		goto done;
	}
	rc = sqlite3_step(st);
	if (rc != SQLITE_ROW) {
		ret = ix_err(ix, rc, "read schema version");
		goto done;
	}
	*out = sqlite3_column_int(st, 0);
done:
	sqlite3_finalize(st);
	return ret;
}

static int too_new(struct mc_index *ix, int v)
{
	mc_error_set(MC_EINVAL, "index '%s': schema version %d is newer than this molcache (%d)", ix->path, v,
		     SCHEMA_VERSION);
	mc_error_hint("a newer molcache wrote this cache; upgrade molcache, or set MOLCACHE_HOME to another directory");
	return MC_EINVAL;
}

#define BUSY_MS 10000

static int migrate(struct mc_index *ix)
{
	char *set_version = NULL;
	int ret = 0, v;

	/* Persistent in the file, so only done when creating or upgrading. A file
	 * system without shared memory keeps the old mode; that is slower under
	 * contention but still correct, so it is not an error. Switching needs
	 * the file to itself, and SQLite answers BUSY at once (no busy handler)
	 * while another process creating the index holds it: 32 ensures on a
	 * fresh root printed "database is locked". So: retry, bounded. */
	for (int64_t t0 = mc_mono_ms();;) {
		int rc = sqlite3_exec(ix->db, "PRAGMA journal_mode = WAL", NULL, NULL, NULL);
		if (rc == SQLITE_OK)
			break;
		if ((rc & 0xff) != SQLITE_BUSY && (rc & 0xff) != SQLITE_LOCKED) {
			ret = ix_err(ix, rc, "set journal mode");
			goto done;
		}
		if (mc_mono_ms() - t0 > BUSY_MS)
			break; /* still another's: it is setting WAL itself, or we stay correct without */
		struct timespec ts = { 0, 20 * 1000 * 1000 };
		nanosleep(&ts, NULL);
	}
	if ((ret = exec(ix, "BEGIN IMMEDIATE", "begin migration")) < 0)
		goto done;
	/* Another process may have migrated while we waited for the lock. */
	if ((ret = user_version(ix, &v)) < 0)
		goto done;
	if (v > SCHEMA_VERSION) {
		ret = too_new(ix, v);
		goto done;
	}
	for (int i = v; i < SCHEMA_VERSION; i++) {
		char what[64];
		snprintf(what, sizeof(what), "migrate schema %d to %d", i, i + 1);
		if ((ret = exec(ix, migrations[i], what)) < 0)
			goto done;
	}
	/* PRAGMA takes no bound parameters; the value is our own constant. */
	set_version = mc_asprintf("PRAGMA user_version = %d", SCHEMA_VERSION);
	if ((ret = exec(ix, set_version, "set schema version")) < 0)
		goto done;
	ret = exec(ix, "COMMIT", "commit migration");
done:
	if (ret < 0 && !sqlite3_get_autocommit(ix->db))
		sqlite3_exec(ix->db, "ROLLBACK", NULL, NULL, NULL);
	free(set_version);
	return ret;
}

#define WAL_PAGES 64

/*
 * After each commit (replacing SQLite's auto-checkpoint): once the WAL holds
 * WAL_PAGES pages (256 KiB, ~16 hits), checkpoint it and truncate it to
 * nothing. Every process start rebuilds the WAL index by reading the whole
 * WAL, and a WAL left to SQLite's passive checkpoints never restarts across
 * short-lived processes: it grew without bound (5 MiB after 300 hits, 6 ms
 * of every later command). Never waits: with a reader elsewhere the truncate
 * degrades to a passive checkpoint and a later commit tries again.
 */
static int wal_hook(void *ud, sqlite3 *db, const char *name, int pages)
{
	(void)ud;
	if (pages < WAL_PAGES)
		return SQLITE_OK;
	sqlite3_busy_timeout(db, 0);
	sqlite3_wal_checkpoint_v2(db, name, SQLITE_CHECKPOINT_TRUNCATE, NULL, NULL);
	sqlite3_busy_timeout(db, BUSY_MS);
	return SQLITE_OK;
}

int mc_index_open(struct mc_index **out, const char *path)
{
	struct mc_index *ix = mc_calloc(1, sizeof(*ix));
	int ret = 0, rc, v;

	*out = NULL;
	ix->path = mc_strdup(path);
	rc = sqlite3_open_v2(path, &ix->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL);
	if (rc != SQLITE_OK) {
		if (ix->db)
			ret = ix_err(ix, rc, "open");
		else
			ret = mc_error_set(MC_ERR, "index '%s': open: %s", path, sqlite3_errstr(rc));
		goto done;
	}
	sqlite3_busy_timeout(ix->db, BUSY_MS);
	/* A hit must not pay for a checkpoint and the WAL's removal at every close
	 * (four fdatasyncs): the WAL stays, and wal_hook() bounds it. */
	sqlite3_db_config(ix->db, SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 1, NULL);
	int persist = 1;
	sqlite3_file_control(ix->db, "main", SQLITE_FCNTL_PERSIST_WAL, &persist);
	sqlite3_wal_hook(ix->db, wal_hook, NULL);
	if ((ret = exec(ix, "PRAGMA synchronous = NORMAL", "set pragmas")) < 0)
		goto done;
	/* The common case (a cache hit) ends here after one read. */
	if ((ret = user_version(ix, &v)) < 0)
		goto done;
	if (v > SCHEMA_VERSION)
		ret = too_new(ix, v);
	else if (v < SCHEMA_VERSION)
		ret = migrate(ix);
	if (ret < 0)
		goto done;
	*out = ix;
	ix = NULL;
done:
	mc_index_free(ix);
	return ret;
}

void mc_index_free(struct mc_index *ix)
{
	if (!ix)
		return;
	for (int i = 0; i < ST_COUNT; i++)
		sqlite3_finalize(ix->stmt[i]);
	sqlite3_close(ix->db);
	free(ix->path);
	free(ix);
}

int mc_index_schema_version(void) { return SCHEMA_VERSION; }

sqlite3 *mc_index_db(struct mc_index *ix) { return ix->db; }

const char *mc_state_name(int state)
{
	switch (state) {
	case MC_STATE_BUILDING: return "building";
	case MC_STATE_READY: return "ready";
	case MC_STATE_FAILED: return "failed";
	case MC_STATE_EVICTING: return "evicting";
	default: return "unknown";
	}
}

static char *column_str(sqlite3_stmt *st, int col)
{
	const unsigned char *s = sqlite3_column_text(st, col);
	return s ? mc_strndup((const char *)s, (size_t)sqlite3_column_bytes(st, col)) : NULL;
}

static void read_entry(void *elem, sqlite3_stmt *st)
{
	struct mc_entry *out = elem;

	memset(out, 0, sizeof(*out));
	for (int i = 0; i < N_STR; i++)
		*(char **)((char *)out + entry_str[i]) = column_str(st, i);
	out->state = sqlite3_column_int(st, N_STR);
	for (int i = 0; i < N_I64; i++)
		*(int64_t *)((char *)out + entry_i64[i]) = sqlite3_column_int64(st, N_STR + 1 + i);
}

/*
 * Steps st to its end, appending one element of size bytes to *v per row,
 * filled by read (which initialises the whole element). *v and *len hold the
 * rows read so far even on failure, for the caller's free; what names the
 * query in the error.
 */
static int step_rows(struct mc_index *ix, sqlite3_stmt *st, void **v, size_t *len, size_t size,
		     void (*read)(void *elem, sqlite3_stmt *st), const char *what)
{
	size_t cap = 0;
	int rc;

	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (*len == cap) {
			cap = cap ? cap * 2 : 16;
			*v = mc_realloc(*v, cap * size);
		}
		read((char *)*v + *len * size, st);
		(*len)++;
	}
	return rc == SQLITE_DONE ? 0 : ix_err(ix, rc, what);
}

/* Steps a query for at most one entry. */
static int one_entry(struct mc_index *ix, struct mc_entry *out, sqlite3_stmt *st, const char *what,
		     const char *subject)
{
	int rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		read_entry(out, st);
		return 0;
	}
	if (rc == SQLITE_DONE)
		return mc_error_set(MC_ENOTFOUND, "index '%s': %s '%s': not found", ix->path, what, subject);
	return ix_err(ix, rc, what);
}

int mc_index_get(struct mc_index *ix, struct mc_entry *out, const char *key)
{
	sqlite3_stmt *st = NULL;
	int ret;

	memset(out, 0, sizeof(*out));
	if ((ret = prepare(&st, ix, ST_GET)) < 0)
		goto done;
	sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
	ret = one_entry(ix, out, st, "entry", key);
done:
	finish(st);
	return ret;
}

int mc_index_put(struct mc_index *ix, const struct mc_entry *e)
{
	sqlite3_stmt *st = NULL;
	int ret;

	if (!e->key)
		MC_BUG("mc_index_put: entry without key");
	if ((ret = prepare(&st, ix, ST_PUT)) < 0)
		goto done;
	/* A NULL pointer binds SQL NULL. */
	for (int i = 0; i < N_STR; i++)
		sqlite3_bind_text(st, i + 1, *(char *const *)((const char *)e + entry_str[i]), -1, SQLITE_STATIC);
	sqlite3_bind_int(st, N_STR + 1, e->state);
	for (int i = 0; i < N_I64; i++)
		sqlite3_bind_int64(st, N_STR + 2 + i, *(const int64_t *)((const char *)e + entry_i64[i]));
	ret = step_done(ix, st, "store entry");
done:
	finish(st);
	return ret;
}

/* Runs an UPDATE/DELETE keyed on ?1 = key, ?2 = value; MC_ENOTFOUND when no row matched. */
static int update_key(struct mc_index *ix, int id, const char *key, int64_t value, const char *what,
		      int missing_ok)
{
	sqlite3_stmt *st = NULL;
	int ret;

	if ((ret = prepare(&st, ix, id)) < 0)
		goto done;
	sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
	if (sqlite3_bind_parameter_count(st) >= 2)
		sqlite3_bind_int64(st, 2, value);
	if ((ret = step_done(ix, st, what)) < 0)
		goto done;
	if (!missing_ok && sqlite3_changes(ix->db) == 0)
		ret = mc_error_set(MC_ENOTFOUND, "index '%s': %s '%s': not found", ix->path, what, key);
done:
	finish(st);
	return ret;
}

int mc_index_set_state(struct mc_index *ix, const char *key, int state)
{
	return update_key(ix, ST_SET_STATE, key, state, "set state of entry", 0);
}

int mc_index_touch(struct mc_index *ix, const char *key, int64_t now_ms)
{
	return update_key(ix, ST_TOUCH, key, now_ms, "touch entry", 0);
}

/* Deleting what is already gone succeeds: gc and ensure may race to it. */
int mc_index_delete(struct mc_index *ix, const char *key)
{
	return update_key(ix, ST_DELETE, key, 0, "delete entry", 1);
}

int mc_index_newest_ready(struct mc_index *ix, struct mc_entry *out, const char *runtime)
{
	sqlite3_stmt *st = NULL;
	int ret;

	memset(out, 0, sizeof(*out));
	if ((ret = prepare(&st, ix, ST_NEWEST)) < 0)
		goto done;
	sqlite3_bind_text(st, 1, runtime, -1, SQLITE_STATIC);
	ret = one_entry(ix, out, st, "ready entry for runtime", runtime);
done:
	finish(st);
	return ret;
}

int mc_index_list(struct mc_index *ix, struct mc_entry **out, size_t *n, const char *runtime)
{
	sqlite3_stmt *st = NULL;
	void *v = NULL; /* struct mc_entry[len] */
	size_t len = 0;
	int ret;

	*out = NULL;
	*n = 0;
	if ((ret = prepare(&st, ix, runtime ? ST_LIST_RUNTIME : ST_LIST_ALL)) < 0)
		goto done;
	if (runtime)
		sqlite3_bind_text(st, 1, runtime, -1, SQLITE_STATIC);
	if ((ret = step_rows(ix, st, &v, &len, sizeof(struct mc_entry), read_entry, "list entries")) < 0)
		goto done;
	*out = v;
	*n = len;
	v = NULL;
done:
	mc_entries_free(v, len);
	finish(st);
	return ret;
}

void mc_entry_release(struct mc_entry *e)
{
	if (!e)
		return;
	for (int i = 0; i < N_STR; i++)
		free(*(char **)((char *)e + entry_str[i]));
	memset(e, 0, sizeof(*e));
}

void mc_entries_free(struct mc_entry *v, size_t n)
{
	if (!v)
		return;
	for (size_t i = 0; i < n; i++)
		mc_entry_release(&v[i]);
	free(v);
}

int mc_index_counter_add(struct mc_index *ix, const char *name, int64_t delta)
{
	sqlite3_stmt *st = NULL;
	int ret;

	if ((ret = prepare(&st, ix, ST_COUNTER_ADD)) < 0)
		goto done;
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, delta);
	ret = step_done(ix, st, "add to counter");
done:
	finish(st);
	return ret;
}

int mc_index_counter_get(struct mc_index *ix, const char *name, int64_t *out)
{
	sqlite3_stmt *st = NULL;
	int ret, rc;

	*out = 0;
	if ((ret = prepare(&st, ix, ST_COUNTER_GET)) < 0)
		goto done;
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		*out = sqlite3_column_int64(st, 0);
	else if (rc != SQLITE_DONE)
		ret = ix_err(ix, rc, "read counter");
done:
	finish(st);
	return ret;
}

int mc_index_dfhash_get(struct mc_index *ix, char out[65], const char *repo_url, const char *commit,
			const char *path)
{
	sqlite3_stmt *st = NULL;
	int ret, rc;

	out[0] = 0;
	if ((ret = prepare(&st, ix, ST_DFHASH_GET)) < 0)
		goto done;
	sqlite3_bind_text(st, 1, repo_url, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, commit, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, path, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		const unsigned char *h = sqlite3_column_text(st, 0);
		int len = sqlite3_column_bytes(st, 0);
		if (!h || len > 64) {
			ret = mc_error_set(MC_ERR, "index '%s': dockerfile hash of '%s' at %s: malformed (%d bytes)",
					   ix->path, path, commit, len);
			goto done;
		}
		memcpy(out, h, (size_t)len);
		out[len] = 0;
	} else if (rc == SQLITE_DONE) {
		ret = mc_error_set(MC_ENOTFOUND, "index '%s': dockerfile hash of '%s' at %s: not found", ix->path,
				   path, commit);
	} else {
		ret = ix_err(ix, rc, "read dockerfile hash");
	}
done:
	finish(st);
	return ret;
}

int mc_index_dfhash_put(struct mc_index *ix, const char *repo_url, const char *commit, const char *path,
			const char *hash)
{
	sqlite3_stmt *st = NULL;
	int ret;

	if ((ret = prepare(&st, ix, ST_DFHASH_PUT)) < 0)
		goto done;
	sqlite3_bind_text(st, 1, repo_url, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, commit, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, path, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 4, hash, -1, SQLITE_STATIC);
	ret = step_done(ix, st, "store dockerfile hash");
done:
	finish(st);
	return ret;
}

int mc_index_meta_get(struct mc_index *ix, char **out, const char *name)
{
	sqlite3_stmt *st = NULL;
	int ret, rc;

	*out = NULL;
	if ((ret = prepare(&st, ix, ST_META_GET)) < 0)
		goto done;
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		*out = mc_strdup((const char *)sqlite3_column_text(st, 0));
	else if (rc == SQLITE_DONE)
		ret = MC_ENOTFOUND;
	else
		ret = ix_err(ix, rc, "read meta");
done:
	finish(st);
	return ret;
}

int mc_index_meta_put(struct mc_index *ix, const char *name, const char *value)
{
	sqlite3_stmt *st = NULL;
	int ret;

	if ((ret = prepare(&st, ix, ST_META_PUT)) < 0)
		goto done;
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, value, -1, SQLITE_STATIC);
	ret = step_done(ix, st, "store meta");
done:
	finish(st);
	return ret;
}

/* 16 random bytes as 32 hex digits (getrandom(2)). */
static int random_hex(char out[33])
{
	unsigned char b[16];
	size_t got = 0;

	while (got < sizeof(b)) {
		ssize_t n = getrandom(b + got, sizeof(b) - got, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return mc_error_errno("getrandom");
		got += (size_t)n;
	}
	for (size_t i = 0; i < sizeof(b); i++)
		snprintf(out + 2 * i, 3, "%02x", b[i]);
	return 0;
}

int mc_index_root_id(struct mc_index *ix, char out[65], const char *legacy)
{
	sqlite3_stmt *st = NULL;
	char fresh[33];
	char *known = NULL;
	int ret, rc, upgraded;

	out[0] = 0;
	ret = mc_index_meta_get(ix, &known, MC_META_ROOT_ID);
	if (ret != MC_ENOTFOUND)
		goto done;
	if ((ret = prepare(&st, ix, ST_LEGACY_ROOT)) < 0)
		goto done;
	rc = sqlite3_step(st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
		ret = ix_err(ix, rc, "read meta");
		goto done;
	}
	upgraded = rc == SQLITE_ROW;
	finish(st);
	st = NULL;
	if ((ret = random_hex(fresh)))
		goto done;
	/* a root from before ids existed keeps the id its images already carry */
	const char *id = upgraded && legacy && *legacy ? legacy : fresh;
	if ((ret = prepare(&st, ix, ST_META_ADD)) < 0)
		goto done;
	sqlite3_bind_text(st, 1, MC_META_ROOT_ID, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, id, -1, SQLITE_STATIC);
	if ((ret = step_done(ix, st, "store the root id")))
		goto done;
	/* another process may have made it first: its id wins */
	ret = mc_index_meta_get(ix, &known, MC_META_ROOT_ID);
done:
	finish(st);
	if (!ret)
		snprintf(out, 65, "%s", known);
	free(known);
	return ret;
}

int mc_index_check(struct mc_index *ix)
{
	sqlite3_stmt *st = NULL;
	int ret = 0, rc;

	rc = sqlite3_prepare_v2(ix->db, "PRAGMA integrity_check", -1, &st, NULL);
	if (rc != SQLITE_OK) {
		ret = ix_err(ix, rc, "integrity check");
		goto done;
	}
	rc = sqlite3_step(st);
	if (rc != SQLITE_ROW) {
		ret = ix_err(ix, rc, "integrity check");
		goto done;
	}
	const char *res = (const char *)sqlite3_column_text(st, 0);
	if (!res || strcmp(res, "ok")) {
		/* Problems come as lines; error messages are one line. */
		struct mc_buf b = MC_BUF_INIT;
		const char *s = res ? res : "no result";
		if (!strncmp(s, "*** in database main ***\n", 25))
			s += 25;
		for (;;) {
			size_t n = strcspn(s, "\n");
			mc_buf_add(&b, s, n);
			s += n;
			if (!*s || !*++s)
				break;
			mc_buf_adds(&b, "; ");
		}
		ret = mc_error_set(MC_ERR, "index '%s': integrity check: %s", ix->path, mc_buf_cstr(&b));
		mc_buf_release(&b);
	}
done:
	sqlite3_finalize(st);
	return ret;
}

int mc_index_build_record(struct mc_index *ix, const char *key, int64_t started_ms, int64_t duration_ms,
			  int ok, const char *log_path)
{
	sqlite3_stmt *st = NULL;
	int ret;

	if ((ret = prepare(&st, ix, ST_BUILD_RECORD)) < 0)
		goto done;
	sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, started_ms);
	sqlite3_bind_int64(st, 3, duration_ms);
	sqlite3_bind_int(st, 4, ok ? 1 : 0);
	sqlite3_bind_text(st, 5, log_path, -1, SQLITE_STATIC);
	ret = step_done(ix, st, "record build");
done:
	finish(st);
	return ret;
}

int mc_index_latest_set(struct mc_index *ix, const char *runtime, const char *key)
{
	sqlite3_stmt *st = NULL;
	int ret;

	if ((ret = prepare(&st, ix, ST_LATEST_SET)) < 0)
		goto done;
	sqlite3_bind_text(st, 1, runtime, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, key, -1, SQLITE_STATIC);
	ret = step_done(ix, st, "set latest");
done:
	finish(st);
	return ret;
}

int mc_index_latest_get(struct mc_index *ix, char out[65], const char *runtime)
{
	sqlite3_stmt *st = NULL;
	int ret, rc;

	out[0] = 0;
	if ((ret = prepare(&st, ix, ST_LATEST_GET)) < 0)
		goto done;
	sqlite3_bind_text(st, 1, runtime, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		const unsigned char *k = sqlite3_column_text(st, 0);
		int len = sqlite3_column_bytes(st, 0);
		if (!k || len > 64) {
			ret = mc_error_set(MC_ERR, "index '%s': latest of runtime '%s': malformed (%d bytes)", ix->path,
					   runtime, len);
			goto done;
		}
		memcpy(out, k, (size_t)len);
		out[len] = 0;
	} else if (rc == SQLITE_DONE) {
		ret = mc_error_set(MC_ENOTFOUND, "index '%s': latest of runtime '%s': not found", ix->path, runtime);
	} else {
		ret = ix_err(ix, rc, "read latest");
	}
done:
	finish(st);
	return ret;
}

int mc_index_latest_all(struct mc_index *ix, struct mc_strv *out)
{
	sqlite3_stmt *st = NULL;
	int ret, rc;

	if ((ret = prepare(&st, ix, ST_LATEST_ALL)) < 0)
		goto done;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		const unsigned char *k = sqlite3_column_text(st, 0);
		if (k)
			mc_strv_push(out, (const char *)k);
	}
	if (rc != SQLITE_DONE)
		ret = ix_err(ix, rc, "list latest");
done:
	finish(st);
	return ret;
}

int mc_index_lease_put(struct mc_index *ix, const char *key, int64_t until_ms)
{
	sqlite3_stmt *st = NULL;
	int ret;

	if ((ret = prepare(&st, ix, ST_LEASE_PUT)) < 0)
		goto done;
	sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, until_ms);
	ret = step_done(ix, st, "store lease");
done:
	finish(st);
	return ret;
}

int mc_index_lease_get(struct mc_index *ix, const char *key, int64_t *out_until_ms)
{
	sqlite3_stmt *st = NULL;
	int ret, rc;

	*out_until_ms = 0;
	if ((ret = prepare(&st, ix, ST_LEASE_GET)) < 0)
		goto done;
	sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		*out_until_ms = sqlite3_column_int64(st, 0);
	else if (rc != SQLITE_DONE)
		ret = ix_err(ix, rc, "read lease");
done:
	finish(st);
	return ret;
}

static void read_lease(void *elem, sqlite3_stmt *st)
{
	struct mc_lease *l = elem;

	l->key = column_str(st, 0);
	if (!l->key)
		l->key = mc_strdup("");
	l->until_ms = sqlite3_column_int64(st, 1);
}

int mc_index_leases_active(struct mc_index *ix, struct mc_lease **out, size_t *n, int64_t now_ms)
{
	sqlite3_stmt *st = NULL;
	void *v = NULL; /* struct mc_lease[len] */
	size_t len = 0;
	int ret;

	*out = NULL;
	*n = 0;
	if ((ret = prepare(&st, ix, ST_LEASES_ACTIVE)) < 0)
		goto done;
	sqlite3_bind_int64(st, 1, now_ms);
	if ((ret = step_rows(ix, st, &v, &len, sizeof(struct mc_lease), read_lease, "list leases")) < 0)
		goto done;
	*out = v;
	*n = len;
	v = NULL;
done:
	mc_leases_free(v, len);
	finish(st);
	return ret;
}

void mc_leases_free(struct mc_lease *v, size_t n)
{
	if (!v)
		return;
	for (size_t i = 0; i < n; i++)
		free(v[i].key);
	free(v);
}

int mc_index_leases_expire(struct mc_index *ix, int64_t now_ms)
{
	sqlite3_stmt *st = NULL;
	int ret;

	if ((ret = prepare(&st, ix, ST_LEASES_EXPIRE)) < 0)
		goto done;
	sqlite3_bind_int64(st, 1, now_ms);
	ret = step_done(ix, st, "expire leases");
done:
	finish(st);
	return ret;
}

int mc_index_gc_record(struct mc_index *ix, int64_t *out_id, const struct mc_gc_run *run)
{
	sqlite3_stmt *st = NULL;
	int ret;

	if (out_id)
		*out_id = 0;
	if ((ret = prepare(&st, ix, ST_GC_RECORD)) < 0)
		goto done;
	sqlite3_bind_int64(st, 1, run->started_ms);
	sqlite3_bind_int64(st, 2, run->duration_ms);
	sqlite3_bind_int64(st, 3, run->evicted);
	sqlite3_bind_int64(st, 4, run->bytes_freed);
	sqlite3_bind_int64(st, 5, run->errors);
	sqlite3_bind_text(st, 6, run->detail, -1, SQLITE_STATIC);
	if ((ret = step_done(ix, st, "record gc run")) < 0)
		goto done;
	if (out_id)
		*out_id = sqlite3_last_insert_rowid(ix->db);
done:
	finish(st);
	return ret;
}

int mc_index_last_gc(struct mc_index *ix, struct mc_gc_run *out)
{
	sqlite3_stmt *st = NULL;
	int ret, rc;

	memset(out, 0, sizeof(*out));
	if ((ret = prepare(&st, ix, ST_GC_LAST)) < 0)
		goto done;
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		out->id = sqlite3_column_int64(st, 0);
		out->started_ms = sqlite3_column_int64(st, 1);
		out->duration_ms = sqlite3_column_int64(st, 2);
		out->evicted = sqlite3_column_int64(st, 3);
		out->bytes_freed = sqlite3_column_int64(st, 4);
		out->errors = sqlite3_column_int64(st, 5);
		out->detail = column_str(st, 6);
	} else if (rc == SQLITE_DONE) {
		ret = mc_error_set(MC_ENOTFOUND, "index '%s': last gc run: not found", ix->path);
	} else {
		ret = ix_err(ix, rc, "read last gc run");
	}
done:
	finish(st);
	return ret;
}

void mc_gc_run_release(struct mc_gc_run *r)
{
	if (!r)
		return;
	free(r->detail);
	memset(r, 0, sizeof(*r));
}

int mc_index_drop_tree(struct mc_index *ix, const char *key)
{
	return update_key(ix, ST_DROP_TREE, key, 0, "drop tree of entry", 0);
}

static int tx(struct mc_index *ix, int id, const char *what)
{
	sqlite3_stmt *st = NULL;
	int ret;

	if ((ret = prepare(&st, ix, id)) < 0)
		goto done;
	ret = step_done(ix, st, what);
done:
	finish(st);
	return ret;
}

int mc_index_begin(struct mc_index *ix) { return tx(ix, ST_BEGIN, "begin transaction"); }

int mc_index_commit(struct mc_index *ix) { return tx(ix, ST_COMMIT, "commit"); }

/* Runs on error paths: it must leave the caller's error message alone. */
void mc_index_rollback(struct mc_index *ix)
{
	if (ix && !sqlite3_get_autocommit(ix->db))
		sqlite3_exec(ix->db, "ROLLBACK", NULL, NULL, NULL);
}

/* ---- recovery and failure memory ------------------------------------------- */

int mc_index_rc_corrupt(int sqlite_rc)
{
	int prim = sqlite_rc & 0xff;
	return prim == SQLITE_CORRUPT || prim == SQLITE_NOTADB;
}

/* A statement of the rare paths below: prepared for one use, not cached. */
static int prepare_once(sqlite3_stmt **out, struct mc_index *ix, const char *sql)
{
	int rc = sqlite3_prepare_v2(ix->db, sql, -1, out, NULL);
	return rc == SQLITE_OK ? 0 : ix_err(ix, rc, "prepare");
}

int mc_index_has_entries(struct mc_index *ix, int *out)
{
	sqlite3_stmt *st = NULL;
	int ret, rc;

	*out = 0;
	if ((ret = prepare(&st, ix, ST_ANY_ENTRY)) < 0)
		goto done;
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		*out = 1;
	else if (rc != SQLITE_DONE)
		ret = ix_err(ix, rc, "read entries");
done:
	finish(st);
	return ret;
}

int mc_index_root_id_claim(struct mc_index *ix, char out[65], const char *id, int force)
{
	sqlite3_stmt *st = NULL;
	char *known = NULL;
	int ret;

	out[0] = 0;
	if ((ret = prepare(&st, ix, force ? ST_META_PUT : ST_META_ADD)) < 0)
		goto done;
	sqlite3_bind_text(st, 1, MC_META_ROOT_ID, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, id, -1, SQLITE_STATIC);
	if ((ret = step_done(ix, st, "store the root id")))
		goto done;
	if (!(ret = mc_index_meta_get(ix, &known, MC_META_ROOT_ID)))
		snprintf(out, 65, "%s", known);
done:
	finish(st);
	free(known);
	return ret;
}

int mc_index_build_count(struct mc_index *ix, const char *key, int64_t *out)
{
	sqlite3_stmt *st = NULL;
	int ret, rc;

	*out = 0;
	if ((ret = prepare_once(&st, ix, "SELECT count(*) FROM builds WHERE key = ?1")))
		goto done;
	sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		*out = sqlite3_column_int64(st, 0);
	else
		ret = ix_err(ix, rc, "count builds");
done:
	sqlite3_finalize(st);
	return ret;
}

int mc_index_failure_get(struct mc_index *ix, struct mc_failure *out, const char *key)
{
	sqlite3_stmt *st = NULL;
	int ret, rc;

	memset(out, 0, sizeof(*out));
	if ((ret = prepare_once(&st, ix, "SELECT key, count, last_ms, next_ms, step, output, log_path"
					 " FROM failures WHERE key = ?1")))
		goto done;
	sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		out->key = column_str(st, 0);
		out->count = sqlite3_column_int64(st, 1);
		out->last_ms = sqlite3_column_int64(st, 2);
		out->next_ms = sqlite3_column_int64(st, 3);
		out->step = column_str(st, 4);
		out->output = column_str(st, 5);
		out->log_path = column_str(st, 6);
	} else if (rc == SQLITE_DONE) {
		ret = MC_ENOTFOUND;
	} else {
		ret = ix_err(ix, rc, "read failure");
	}
done:
	sqlite3_finalize(st);
	return ret;
}

int mc_index_failure_put(struct mc_index *ix, const struct mc_failure *f)
{
	sqlite3_stmt *st = NULL;
	int ret;

	if ((ret = prepare_once(&st, ix, "INSERT INTO failures (key, count, last_ms, next_ms, step, output, log_path)"
					 " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT (key) DO UPDATE SET"
					 " count = excluded.count, last_ms = excluded.last_ms,"
					 " next_ms = excluded.next_ms, step = excluded.step,"
					 " output = excluded.output, log_path = excluded.log_path")))
		goto done;
	sqlite3_bind_text(st, 1, f->key, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, f->count);
	sqlite3_bind_int64(st, 3, f->last_ms);
	sqlite3_bind_int64(st, 4, f->next_ms);
	sqlite3_bind_text(st, 5, f->step, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 6, f->output, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 7, f->log_path, -1, SQLITE_STATIC);
	ret = step_done(ix, st, "record failure");
done:
	sqlite3_finalize(st);
	return ret;
}

int mc_index_failure_clear(struct mc_index *ix, const char *key)
{
	sqlite3_stmt *st = NULL;
	int ret;

	if ((ret = prepare_once(&st, ix, "DELETE FROM failures WHERE key = ?1")))
		goto done;
	sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
	ret = step_done(ix, st, "clear failure");
done:
	sqlite3_finalize(st);
	return ret;
}

void mc_failure_release(struct mc_failure *f)
{
	if (!f)
		return;
	free(f->key);
	free(f->step);
	free(f->output);
	free(f->log_path);
	memset(f, 0, sizeof(*f));
}

int mc_index_list_ready(struct mc_index *ix, struct mc_entry **out, size_t *n, const char *runtime)
{
	static const char sql[] = "SELECT " ENTRY_COLS " FROM entries WHERE runtime = ?1 AND state = 1"
				  " ORDER BY created_ms DESC, last_used_ms DESC, key";
	sqlite3_stmt *st = NULL;
	void *v = NULL; /* struct mc_entry[len] */
	size_t len = 0;
	int ret = 0;

	*out = NULL;
	*n = 0;
	/* not kept prepared: only --offline and its hint ask, never a hit */
	if ((ret = prepare_once(&st, ix, sql)))
		goto done;
	sqlite3_bind_text(st, 1, runtime, -1, SQLITE_STATIC);
	if ((ret = step_rows(ix, st, &v, &len, sizeof(struct mc_entry), read_entry, "list ready entries")) < 0)
		goto done;
	*out = v;
	*n = len;
	v = NULL;
	len = 0;
done:
	mc_entries_free(v, len);
	sqlite3_finalize(st);
	return ret;
}

/* ---- image layers (schema v5) ---------------------------------------------- */

static void read_image_layers(void *elem, sqlite3_stmt *st)
{
	struct mc_image_layers *l = elem;

	l->image_id = column_str(st, 0);
	l->layers = column_str(st, 1);
}

int mc_index_image_layers_all(struct mc_index *ix, struct mc_image_layers **out, size_t *n)
{
	sqlite3_stmt *st = NULL;
	void *v = NULL; /* struct mc_image_layers[len] */
	size_t len = 0;
	int ret;

	*out = NULL;
	*n = 0;
	if ((ret = prepare_once(&st, ix, "SELECT image_id, layers FROM image_layers ORDER BY image_id")))
		goto done;
	if ((ret = step_rows(ix, st, &v, &len, sizeof(struct mc_image_layers), read_image_layers, "read image layers")) < 0)
		goto done;
	*out = v;
	*n = len;
	v = NULL;
	len = 0;
done:
	mc_image_layers_free(v, len);
	sqlite3_finalize(st);
	return ret;
}

void mc_image_layers_free(struct mc_image_layers *v, size_t n)
{
	if (!v)
		return;
	for (size_t i = 0; i < n; i++) {
		free(v[i].image_id);
		free(v[i].layers);
	}
	free(v);
}

int mc_index_image_layers_put(struct mc_index *ix, const char *image_id, const char *layers)
{
	sqlite3_stmt *st = NULL;
	int ret;

	if ((ret = prepare_once(&st, ix, "INSERT INTO image_layers (image_id, layers) VALUES (?1, ?2)"
					  " ON CONFLICT (image_id) DO UPDATE SET layers = excluded.layers")))
		goto done;
	sqlite3_bind_text(st, 1, image_id, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, layers, -1, SQLITE_STATIC);
	ret = step_done(ix, st, "store image layers");
done:
	sqlite3_finalize(st);
	return ret;
}

int mc_index_image_layers_delete(struct mc_index *ix, const char *image_id)
{
	sqlite3_stmt *st = NULL;
	int ret;

	if ((ret = prepare_once(&st, ix, "DELETE FROM image_layers WHERE image_id = ?1")))
		goto done;
	sqlite3_bind_text(st, 1, image_id, -1, SQLITE_STATIC);
	ret = step_done(ix, st, "forget image layers");
done:
	sqlite3_finalize(st);
	return ret;
}
