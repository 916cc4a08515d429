/* index.c — the SQLite index: opening it, schema migrations, the cached prepared statements, transactions. */
#include "index_impl.h"
#include "key.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

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
	/* 5 → 6: a build arg's value may be a secret: the index keeps its sha256
	 * (mc_key_build_args_rehash, registered as mc_rehash_args), and the
	 * freed pages that held the values are zeroed */
	"PRAGMA secure_delete = ON;"
	"UPDATE entries SET build_args = mc_rehash_args(build_args) WHERE build_args <> '';",
};
#define SCHEMA_VERSION ((int)(sizeof(migrations) / sizeof(migrations[0])))

/* The SQL of every cached statement, by id (index_impl.h). */
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

/* ---- the helpers of index_impl.h -------------------------------------------- */

/* BUSY/LOCKED means the busy timeout ran out. */
int ix_err(struct mc_index *ix, int rc, const char *what)
{
	int prim = rc & 0xff;
	int code = prim == SQLITE_BUSY || prim == SQLITE_LOCKED ? MC_ELOCKED : MC_ERR;
	int sys = sqlite3_system_errno(ix->db);
	if (prim == SQLITE_CANTOPEN && (sys == EACCES || sys == EPERM))
		code = MC_EACCES;
	/* "database or disk is full": SQLite keeps no errno for ENOSPC, and the
	 * index sets no page limit, so it is the disk */
	if (code == MC_ELOCKED)
		mc_error_set(code, "index '%s' is busy: %s: %s", ix->path, what, sqlite3_errmsg(ix->db));
	else if (prim == SQLITE_FULL || ((prim == SQLITE_IOERR || prim == SQLITE_CANTOPEN) && sys))
		mc_error_set(code, "index '%s': %s: %s (%s)", ix->path, what, sqlite3_errmsg(ix->db),
			     strerror(prim == SQLITE_FULL ? ENOSPC : sys));
	else
		mc_error_set(code, "index '%s': %s: %s", ix->path, what, sqlite3_errmsg(ix->db));
	if (code == MC_ELOCKED)
		mc_error_hint("another process held the index's write lock longer than molcache waits (a long "
			      "transaction of another molcache, or an open sqlite3 shell); try again when it ends");
	else if (code == MC_EACCES)
		mc_error_hint("run molcache as the cache root's owner, or set MOLCACHE_HOME to a directory of this user");
	else if (mc_index_rc_corrupt(rc))
		mc_error_hint(MC_INDEX_REPAIR_HINT);
	return code;
}

int ix_prepare(sqlite3_stmt **out, struct mc_index *ix, int id)
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

void ix_finish(sqlite3_stmt *st)
{
	if (st) {
		sqlite3_reset(st);
		sqlite3_clear_bindings(st);
	}
}

int ix_step_done(struct mc_index *ix, sqlite3_stmt *st, const char *what)
{
	int rc = sqlite3_step(st);
	return rc == SQLITE_DONE ? 0 : ix_err(ix, rc, what);
}

char *ix_column_str(sqlite3_stmt *st, int col)
{
	const unsigned char *s = sqlite3_column_text(st, col);
	return s ? mc_strndup((const char *)s, (size_t)sqlite3_column_bytes(st, col)) : NULL;
}

int ix_step_rows(struct mc_index *ix, sqlite3_stmt *st, void **v, size_t *len, size_t size,
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

int ix_prepare_once(sqlite3_stmt **out, struct mc_index *ix, const char *sql)
{
	int rc = sqlite3_prepare_v2(ix->db, sql, -1, out, NULL);
	return rc == SQLITE_OK ? 0 : ix_err(ix, rc, "prepare");
}

/* ---- open and migrate ---------------------------------------------------------- */

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

static void rehash_args(sqlite3_context *c, int argc, sqlite3_value **argv)
{
	char *s = mc_key_build_args_rehash(argc == 1 ? (const char *)sqlite3_value_text(argv[0]) : NULL);
	sqlite3_result_text(c, s, -1, free);
}

static int migrate(struct mc_index *ix)
{
	char *set_version = NULL;
	int ret = 0, v;

	sqlite3_create_function(ix->db, "mc_rehash_args", 1, SQLITE_UTF8 | SQLITE_DETERMINISTIC, NULL, rehash_args,
				NULL, NULL);

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
	if ((ret = exec(ix, "COMMIT", "commit migration")) < 0)
		goto done;
	/* pages written before the upgrade leave the WAL (best effort) */
	sqlite3_wal_checkpoint_v2(ix->db, NULL, SQLITE_CHECKPOINT_TRUNCATE, NULL, NULL);
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

/* "file:<path>?mode=ro&immutable=1", the bytes a URI gives meaning to escaped. */
static char *immutable_uri(const char *path)
{
	struct mc_buf b = MC_BUF_INIT;

	mc_buf_adds(&b, "file:");
	for (const char *p = path; *p; p++) {
		if (*p == '%' || *p == '?' || *p == '#')
			mc_buf_addf(&b, "%%%02X", (unsigned char)*p);
		else
			mc_buf_add(&b, p, 1);
	}
	mc_buf_adds(&b, "?mode=ro&immutable=1");
	return mc_buf_detach(&b);
}

/* One read-only connection to name and its schema version: SQLite's result code. */
static int open_ro(struct mc_index *ix, const char *name, int flags, int *v)
{
	sqlite3_stmt *st = NULL;
	int rc;

	sqlite3_close(ix->db);
	ix->db = NULL;
	rc = sqlite3_open_v2(name, &ix->db, SQLITE_OPEN_READONLY | flags, NULL);
	if (rc != SQLITE_OK)
		return rc;
	sqlite3_busy_timeout(ix->db, BUSY_MS);
	rc = sqlite3_prepare_v2(ix->db, "PRAGMA user_version", -1, &st, NULL);
	if (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		*v = sqlite3_column_int(st, 0);
		rc = SQLITE_OK;
	}
	sqlite3_finalize(st);
	return rc;
}

int mc_index_open_readonly(struct mc_index **out, const char *path)
{
	struct mc_index *ix = mc_calloc(1, sizeof(*ix));
	char *uri = NULL;
	int ret = 0, rc, v = 0;

	*out = NULL;
	ix->path = mc_strdup(path);
	if (access(path, F_OK)) {
		char *what = mc_asprintf("index '%s'", path);
		ret = errno == ENOENT ? mc_error_set(MC_ENOTFOUND, "%s: not made yet", what) : mc_error_errno(what);
		free(what);
		goto done;
	}
	rc = open_ro(ix, path, 0, &v);
	/* A WAL index is read through its -shm file, which a read-only file
	 * system may not let SQLite make or map: then read the main file alone
	 * (immutable: no locks, no -wal, no -shm). */
	if (rc != SQLITE_OK && !mc_index_rc_corrupt(rc) && (rc & 0xff) != SQLITE_BUSY) {
		uri = immutable_uri(path);
		rc = open_ro(ix, uri, SQLITE_OPEN_URI, &v);
	}
	if (rc != SQLITE_OK) {
		ret = ix->db ? ix_err(ix, rc, "open read-only")
			     : mc_error_set(MC_ERR, "index '%s': open read-only: %s", path, sqlite3_errstr(rc));
		goto done;
	}
	if (v > SCHEMA_VERSION) {
		ret = too_new(ix, v);
		goto done;
	}
	if (v < SCHEMA_VERSION) {
		ret = mc_error_set(MC_ENOTFOUND, "index '%s': schema version %d needs migrating to %d", path, v,
				   SCHEMA_VERSION);
		mc_error_hint("any molcache command that writes (ensure, gc) migrates it where the root is writable");
		goto done;
	}
	*out = ix;
	ix = NULL;
done:
	free(uri);
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

void mc_index_busy_wait(struct mc_index *ix, int ms) { sqlite3_busy_timeout(ix->db, ms < 0 ? BUSY_MS : ms); }

int mc_index_schema_version(void) { return SCHEMA_VERSION; }

sqlite3 *mc_index_db(struct mc_index *ix) { return ix->db; }

/* ---- transactions and checks --------------------------------------------------- */

static int tx(struct mc_index *ix, int id, const char *what)
{
	sqlite3_stmt *st = NULL;
	int ret;

	if ((ret = ix_prepare(&st, ix, id)) < 0)
		goto done;
	ret = ix_step_done(ix, st, what);
done:
	ix_finish(st);
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

int mc_index_rc_corrupt(int sqlite_rc)
{
	int prim = sqlite_rc & 0xff;
	return prim == SQLITE_CORRUPT || prim == SQLITE_NOTADB;
}

/* PRAGMA integrity_check; *damaged = 1 when it found problems or SQLite
 * called the file corrupt (ret < 0 either way, message set). */
static int integrity(struct mc_index *ix, int *damaged)
{
	sqlite3_stmt *st = NULL;
	int ret = 0, rc;

	*damaged = 0;
	rc = sqlite3_prepare_v2(ix->db, "PRAGMA integrity_check", -1, &st, NULL);
	if (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW)
		rc = SQLITE_OK;
	if (rc != SQLITE_OK) {
		*damaged = mc_index_rc_corrupt(rc);
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
		mc_error_hint(MC_INDEX_REPAIR_HINT);
		mc_buf_release(&b);
		*damaged = 1;
	}
done:
	sqlite3_finalize(st);
	return ret;
}

int mc_index_check(struct mc_index *ix)
{
	int damaged;
	return integrity(ix, &damaged);
}

int mc_index_damaged(const char *path)
{
	struct mc_index *ix = mc_calloc(1, sizeof(*ix));
	int ret, rc, v = 0, damaged = 0;

	ix->path = mc_strdup(path);
	rc = open_ro(ix, path, 0, &v);
	if (rc == SQLITE_OK) {
		ret = integrity(ix, &damaged);
	} else if (ix->db) {
		damaged = mc_index_rc_corrupt(rc);
		ret = ix_err(ix, rc, "open");
	} else {
		ret = mc_error_set(MC_ERR, "index '%s': open: %s", path, sqlite3_errstr(rc));
	}
	mc_index_free(ix);
	return damaged ? 1 : ret;
}
