/* test_index.c — the SQLite index on real files: schema, queries, migrations guard, concurrency, timing. */
#include "store/store.h"
#include "t.h"

#include <errno.h>
#include <fcntl.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static char tmp[4096];

static char *tmp_file(const char *name) { return mc_asprintf("%s/%s", tmp, name); }

/* Runs sql on a separate raw connection and returns the first column of the first row as an int (-1 on error). */
static long long raw_int(const char *path, const char *sql)
{
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	long long v = -1;
	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL) == SQLITE_OK &&
	    sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	sqlite3_close(db);
	return v;
}

static char *raw_text_col(const char *path, const char *sql, int col)
{
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	char *v = NULL;
	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL) == SQLITE_OK &&
	    sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW &&
	    sqlite3_column_text(st, col))
		v = mc_strdup((const char *)sqlite3_column_text(st, col));
	sqlite3_finalize(st);
	sqlite3_close(db);
	return v;
}

static char *raw_text(const char *path, const char *sql) { return raw_text_col(path, sql, 0); }

static void raw_exec(const char *path, const char *sql)
{
	sqlite3 *db = NULL;
	CHECK(sqlite3_open(path, &db) == SQLITE_OK);
	CHECK(sqlite3_exec(db, sql, NULL, NULL, NULL) == SQLITE_OK);
	sqlite3_close(db);
}

/* A key of 64 hex digits from n. */
static void key_of(char out[65], unsigned n, char tag)
{
	snprintf(out, 65, "%c%063x", tag, n);
}

/* An entry with every field set to something distinct, owned strings. */
static void full_entry(struct mc_entry *e, const char *key, const char *runtime, int state, int64_t last_used)
{
	memset(e, 0, sizeof(*e));
	e->key = mc_strdup(key);
	e->runtime = mc_strdup(runtime);
	e->repo_prefix = mc_strdup("https://forge.example/templates/");
	e->ref = mc_strdup("main");
	e->head_sha = mc_strdup("0123456789abcdef0123456789abcdef01234567");
	e->dockerfile_path = mc_strdup("docker/Dockerfile");
	e->dockerfile_hash = mc_strdup("ffeeddccbbaa99887766554433221100ffeeddccbbaa99887766554433221100");
	e->platform = mc_strdup("linux/amd64");
	e->build_args = mc_strdup("A=1\nB=two words\nC=");
	e->image_tag = mc_asprintf("molcache/%s:%.12s", runtime, key);
	e->image_id = mc_strdup("sha256:aaaabbbbccccddddeeeeffff0000111122223333444455556666777788889999");
	e->tree_path = mc_asprintf("/cache/trees/%s", key);
	e->state = state;
	e->tree_bytes = 123456789012LL;
	e->image_bytes = INT64_MAX;
	e->created_ms = 1700000000000LL;
	e->last_used_ms = last_used;
	e->build_ms = -5; /* negative survives too */
	e->use_count = 7;
}

#define CHECK_OPT_STR(a, b)                                  \
	do {                                                 \
		if ((a) == NULL || (b) == NULL)              \
			CHECK((a) == NULL && (b) == NULL);   \
		else                                         \
			CHECK_STR((a), (b));                 \
	} while (0)

static void check_same(const struct mc_entry *a, const struct mc_entry *b)
{
	CHECK_OPT_STR(a->key, b->key);
	CHECK_OPT_STR(a->runtime, b->runtime);
	CHECK_OPT_STR(a->repo_prefix, b->repo_prefix);
	CHECK_OPT_STR(a->ref, b->ref);
	CHECK_OPT_STR(a->head_sha, b->head_sha);
	CHECK_OPT_STR(a->dockerfile_path, b->dockerfile_path);
	CHECK_OPT_STR(a->dockerfile_hash, b->dockerfile_hash);
	CHECK_OPT_STR(a->platform, b->platform);
	CHECK_OPT_STR(a->build_args, b->build_args);
	CHECK_OPT_STR(a->image_tag, b->image_tag);
	CHECK_OPT_STR(a->image_id, b->image_id);
	CHECK_OPT_STR(a->tree_path, b->tree_path);
	CHECK_INT(a->state, b->state);
	CHECK_INT(a->tree_bytes, b->tree_bytes);
	CHECK_INT(a->image_bytes, b->image_bytes);
	CHECK_INT(a->created_ms, b->created_ms);
	CHECK_INT(a->last_used_ms, b->last_used_ms);
	CHECK_INT(a->build_ms, b->build_ms);
	CHECK_INT(a->use_count, b->use_count);
}

static void put_simple(struct mc_index *ix, const char *key, const char *runtime, int state, int64_t last_used)
{
	struct mc_entry e;
	full_entry(&e, key, runtime, state, last_used);
	CHECK_INT(mc_index_put(ix, &e), 0);
	mc_entry_release(&e);
}

static void test_open(void)
{
	char *path = tmp_file("open.db");
	struct mc_index *ix = NULL;

	CHECK_INT(mc_index_schema_version(), 6);
	CHECK_INT(mc_index_open(&ix, path), 0);
	CHECK(ix != NULL);
	CHECK(access(path, F_OK) == 0);
	mc_index_free(ix);
	mc_index_free(NULL);

	CHECK_INT(raw_int(path, "PRAGMA user_version"), mc_index_schema_version());
	char *mode = raw_text(path, "PRAGMA journal_mode");
	CHECK_STR(mode, "wal");
	free(mode);
	static const char *const tables[] = { "entries", "counters", "dfhash", "builds", "gc_runs" };
	for (size_t i = 0; i < sizeof(tables) / sizeof(tables[0]); i++) {
		char *q = mc_asprintf("SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name = '%s'",
				      tables[i]);
		CHECK_INT(raw_int(path, q), 1);
		free(q);
	}
	CHECK_INT(raw_int(path, "SELECT count(*) FROM sqlite_schema WHERE type = 'index' AND name IN "
				"('entries_runtime_used', 'entries_used')"),
		  2);
	/* The hot queries use the indexes, not a scan. */
	char *plan = raw_text_col(path,
				  "EXPLAIN QUERY PLAN SELECT key FROM entries WHERE runtime = 'x' AND state = 1"
				  " ORDER BY last_used_ms DESC LIMIT 1",
				  3);
	CHECK(plan && strstr(plan, "entries_runtime_used"));
	free(plan);

	/* A file in a directory that does not exist. */
	char *bad = tmp_file("no/such/dir/index.db");
	ix = (struct mc_index *)1;
	CHECK_INT(mc_index_open(&ix, bad), MC_ERR);
	CHECK(ix == NULL);
	CHECK(strstr(mc_error_msg(), bad) != NULL);
	free(bad);

	/* Not a database. */
	char *junk = tmp_file("junk.db");
	int fd = open(junk, O_CREAT | O_WRONLY | O_TRUNC, 0600);
	for (int i = 0; i < 64; i++)
		CHECK(write(fd, "this is not an sqlite database, just some text\n", 47) == 47);
	close(fd);
	CHECK_INT(mc_index_open(&ix, junk), MC_ERR);
	CHECK(ix == NULL);
	CHECK(strstr(mc_error_msg(), junk) != NULL);
	CHECK(strstr(mc_error_msg(), "not a database") != NULL);
	/* a damaged index names the way out */
	CHECK(strstr(mc_error_hint_msg(), "molcache doctor --repair") != NULL);
	free(junk);
	free(path);
}

static void test_future_schema(void)
{
	char *path = tmp_file("future.db");
	struct mc_index *ix = NULL;

	raw_exec(path, "CREATE TABLE entries (key TEXT PRIMARY KEY); PRAGMA user_version = 7");
	mc_error_clear();
	CHECK_INT(mc_index_open(&ix, path), MC_EINVAL);
	CHECK(ix == NULL);
	char *want = mc_asprintf("index '%s': schema version 7 is newer than this molcache (6)", path);
	CHECK_STR(mc_error_msg(), want);
	CHECK(strlen(mc_error_hint_msg()) > 0);
	free(want);
	/* Refused without touching it. */
	CHECK_INT(raw_int(path, "PRAGMA user_version"), 7);
	CHECK_INT(raw_int(path, "SELECT count(*) FROM sqlite_schema WHERE name = 'counters'"), 0);

	/* A far-future one too. */
	raw_exec(path, "PRAGMA user_version = 9999");
	CHECK_INT(mc_index_open(&ix, path), MC_EINVAL);
	CHECK(strstr(mc_error_msg(), "schema version 9999") != NULL);
	free(path);
}

static void test_entries(void)
{
	char *path = tmp_file("entries.db");
	struct mc_index *ix = NULL;
	struct mc_entry e, got;
	char k1[65], k2[65];

	CHECK_INT(mc_index_open(&ix, path), 0);
	key_of(k1, 1, 'a');
	key_of(k2, 2, 'a');

	/* Absent. */
	got.key = (char *)"garbage";
	CHECK_INT(mc_index_get(ix, &got, k1), MC_ENOTFOUND);
	CHECK(got.key == NULL);
	CHECK(strstr(mc_error_msg(), k1) != NULL);

	/* Every field round-trips. */
	full_entry(&e, k1, "claude-code", MC_STATE_READY, 1700000001000LL);
	CHECK_INT(mc_index_put(ix, &e), 0);
	CHECK_INT(mc_index_get(ix, &got, k1), 0);
	check_same(&got, &e);
	mc_entry_release(&got);
	CHECK(got.key == NULL && got.runtime == NULL);
	mc_entry_release(NULL);

	/* NULLs stay NULL, "" stays "" (ref "" = default branch). */
	struct mc_entry n = { 0 };
	n.key = k2;
	n.ref = (char *)"";
	n.state = MC_STATE_BUILDING;
	CHECK_INT(mc_index_put(ix, &n), 0);
	CHECK_INT(mc_index_get(ix, &got, k2), 0);
	check_same(&got, &n);
	CHECK(got.runtime == NULL && got.image_id == NULL && got.tree_path == NULL);
	CHECK(got.ref != NULL && got.ref[0] == 0);
	mc_entry_release(&got);

	/* Upsert replaces every column, including back to NULL. */
	free(e.image_id);
	e.image_id = NULL;
	free(e.platform);
	e.platform = mc_strdup("linux/arm64");
	e.state = MC_STATE_FAILED;
	e.use_count = 0;
	e.tree_bytes = 1;
	CHECK_INT(mc_index_put(ix, &e), 0);
	CHECK_INT(mc_index_get(ix, &got, k1), 0);
	check_same(&got, &e);
	mc_entry_release(&got);
	struct mc_entry *all = NULL;
	size_t cnt = 99;
	CHECK_INT(mc_index_list(ix, &all, &cnt, NULL), 0);
	CHECK_INT(cnt, 2);
	mc_entries_free(all, cnt);

	/* touch: last_used = now, use_count + 1, nothing else. */
	CHECK_INT(mc_index_touch(ix, k1, 1800000000000LL), 0);
	CHECK_INT(mc_index_touch(ix, k1, 1800000000500LL), 0);
	CHECK_INT(mc_index_get(ix, &got, k1), 0);
	CHECK_INT(got.use_count, 2);
	CHECK_INT(got.last_used_ms, 1800000000500LL);
	CHECK_INT(got.created_ms, e.created_ms);
	CHECK_STR(got.platform, "linux/arm64");
	mc_entry_release(&got);
	CHECK_INT(mc_index_touch(ix, "nope", 1), MC_ENOTFOUND);

	/* set_state. */
	static const int states[] = { MC_STATE_READY, MC_STATE_EVICTING, MC_STATE_BUILDING, MC_STATE_FAILED };
	for (size_t i = 0; i < sizeof(states) / sizeof(states[0]); i++) {
		CHECK_INT(mc_index_set_state(ix, k1, states[i]), 0);
		CHECK_INT(mc_index_get(ix, &got, k1), 0);
		CHECK_INT(got.state, states[i]);
		CHECK_INT(got.use_count, 2);
		mc_entry_release(&got);
	}
	CHECK_INT(mc_index_set_state(ix, "nope", MC_STATE_READY), MC_ENOTFOUND);

	/* Values are bound, never spliced into SQL. */
	const char *evil = "x'); DROP TABLE entries; --";
	put_simple(ix, evil, "it's \"quoted\"", MC_STATE_READY, 5);
	CHECK_INT(mc_index_get(ix, &got, evil), 0);
	CHECK_STR(got.key, evil);
	CHECK_STR(got.runtime, "it's \"quoted\"");
	mc_entry_release(&got);
	CHECK_INT(mc_index_newest_ready(ix, &got, "it's \"quoted\""), 0);
	CHECK_STR(got.key, evil);
	mc_entry_release(&got);

	/* delete; deleting what is gone is fine. */
	CHECK_INT(mc_index_delete(ix, k1), 0);
	CHECK_INT(mc_index_get(ix, &got, k1), MC_ENOTFOUND);
	CHECK_INT(mc_index_delete(ix, k1), 0);
	CHECK_INT(mc_index_get(ix, &got, k2), 0);
	mc_entry_release(&got);

	/* Reopen keeps data. */
	mc_index_free(ix);
	CHECK_INT(mc_index_open(&ix, path), 0);
	CHECK_INT(mc_index_get(ix, &got, k2), 0);
	check_same(&got, &n);
	mc_entry_release(&got);
	CHECK_INT(mc_index_get(ix, &got, evil), 0);
	mc_entry_release(&got);
	CHECK_INT(mc_index_check(ix), 0);

	mc_entry_release(&e);
	mc_index_free(ix);
	free(path);
}

static void test_state_names(void)
{
	static const struct {
		int state;
		const char *name;
	} cases[] = {
		{ MC_STATE_BUILDING, "building" }, { MC_STATE_READY, "ready" },	 { MC_STATE_FAILED, "failed" },
		{ MC_STATE_EVICTING, "evicting" }, { 42, "unknown" },		 { -1, "unknown" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		CHECK_STR(mc_state_name(cases[i].state), cases[i].name);
}

static void test_newest_and_list(void)
{
	char *path = tmp_file("list.db");
	struct mc_index *ix = NULL;
	struct mc_entry got;
	struct mc_entry *v = NULL;
	size_t n = 0;
	char k[8][65];

	CHECK_INT(mc_index_open(&ix, path), 0);
	for (unsigned i = 0; i < 8; i++)
		key_of(k[i], i, 'b');

	/* Empty. */
	CHECK_INT(mc_index_newest_ready(ix, &got, "claude-code"), MC_ENOTFOUND);
	CHECK(got.key == NULL);
	CHECK_INT(mc_index_list(ix, &v, &n, NULL), 0);
	CHECK_INT(n, 0);
	mc_entries_free(v, n);

	static const struct {
		int k;
		const char *runtime;
		int state;
		int64_t last_used;
	} rows[] = {
		{ 0, "claude-code", MC_STATE_READY, 100 },
		{ 1, "claude-code", MC_STATE_READY, 300 },
		{ 2, "claude-code", MC_STATE_BUILDING, 500 }, /* newer but not ready */
		{ 3, "claude-code", MC_STATE_FAILED, 900 },
		{ 4, "claude-code", MC_STATE_EVICTING, 800 },
		{ 5, "codex", MC_STATE_READY, 1000 }, /* newer but another runtime */
		{ 6, "codex", MC_STATE_READY, 200 },
		{ 7, "claude-code-2", MC_STATE_READY, 2000 }, /* a runtime sharing a prefix */
	};
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
		put_simple(ix, k[rows[i].k], rows[i].runtime, rows[i].state, rows[i].last_used);

	static const struct {
		const char *runtime;
		int ret, want;
	} newest[] = {
		{ "claude-code", 0, 1 },
		{ "codex", 0, 5 },
		{ "claude-code-2", 0, 7 },
		{ "claude", MC_ENOTFOUND, -1 },
		{ "", MC_ENOTFOUND, -1 },
	};
	for (size_t i = 0; i < sizeof(newest) / sizeof(newest[0]); i++) {
		CHECK_INT(mc_index_newest_ready(ix, &got, newest[i].runtime), newest[i].ret);
		if (newest[i].want >= 0) {
			CHECK_STR(got.key, k[newest[i].want]);
			CHECK_STR(got.runtime, newest[i].runtime);
			CHECK_INT(got.state, MC_STATE_READY);
		}
		mc_entry_release(&got);
	}
	/* A touch moves the older ready entry in front. */
	CHECK_INT(mc_index_touch(ix, k[0], 400), 0);
	CHECK_INT(mc_index_newest_ready(ix, &got, "claude-code"), 0);
	CHECK_STR(got.key, k[0]);
	mc_entry_release(&got);

	/* List: last_used descending, optionally one runtime. */
	static const struct {
		const char *runtime;
		int want[8];
		size_t n;
	} lists[] = {
		{ NULL, { 7, 5, 3, 4, 2, 0, 1, 6 }, 8 },
		{ "claude-code", { 3, 4, 2, 0, 1 }, 5 },
		{ "codex", { 5, 6 }, 2 },
		{ "nothing", { 0 }, 0 },
	};
	for (size_t i = 0; i < sizeof(lists) / sizeof(lists[0]); i++) {
		CHECK_INT(mc_index_list(ix, &v, &n, lists[i].runtime), 0);
		CHECK_INT(n, lists[i].n);
		for (size_t j = 0; j < n && j < lists[i].n; j++) {
			CHECK_STR(v[j].key, k[lists[i].want[j]]);
			if (lists[i].runtime)
				CHECK_STR(v[j].runtime, lists[i].runtime);
		}
		if (n > 0) {
			CHECK_STR(v[0].build_args, "A=1\nB=two words\nC=");
			CHECK_INT(v[0].image_bytes, INT64_MAX);
		}
		mc_entries_free(v, n);
	}
	mc_entries_free(NULL, 0);

	mc_index_free(ix);
	free(path);
}

/* --offline's candidates: ready rows of one runtime, newest built first
 * (a later use of an older build does not put it in front). */
static void test_list_ready(void)
{
	char *path = tmp_file("ready.db");
	struct mc_index *ix = NULL;
	struct mc_entry *v = NULL;
	size_t n = 0;
	char k[6][65];
	static const struct {
		const char *runtime;
		int state;
		int64_t created, last_used;
	} rows[] = {
		{ "claude-code", MC_STATE_READY, 100, 900 },   /* oldest build, used last */
		{ "claude-code", MC_STATE_READY, 300, 300 },   /* newest ready build */
		{ "claude-code", MC_STATE_BUILDING, 500, 500 },
		{ "claude-code", MC_STATE_FAILED, 600, 600 },
		{ "claude-code", MC_STATE_READY, 200, 200 },
		{ "claude-code-2", MC_STATE_READY, 700, 700 },
	};

	CHECK_INT(mc_index_open(&ix, path), 0);
	CHECK_INT(mc_index_list_ready(ix, &v, &n, "claude-code"), 0);
	CHECK_INT(n, 0);
	mc_entries_free(v, n);
	for (unsigned i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		struct mc_entry e;
		key_of(k[i], i, 'r');
		full_entry(&e, k[i], rows[i].runtime, rows[i].state, rows[i].last_used);
		e.created_ms = rows[i].created;
		CHECK_INT(mc_index_put(ix, &e), 0);
		mc_entry_release(&e);
	}
	CHECK_INT(mc_index_list_ready(ix, &v, &n, "claude-code"), 0);
	CHECK_INT(n, 3);
	static const int want[] = { 1, 4, 0 };
	for (size_t i = 0; i < n && i < 3; i++) {
		CHECK_STR(v[i].key, k[want[i]]);
		CHECK_INT(v[i].state, MC_STATE_READY);
	}
	mc_entries_free(v, n);
	mc_index_free(ix);
	free(path);
}

static void test_counters_dfhash_builds(void)
{
	char *path = tmp_file("misc.db");
	struct mc_index *ix = NULL;
	int64_t v = -1;
	char h[65];

	CHECK_INT(mc_index_open(&ix, path), 0);

	CHECK_INT(mc_index_counter_get(ix, "hits", &v), 0);
	CHECK_INT(v, 0);
	static const struct {
		const char *name;
		int64_t delta, want;
	} steps[] = {
		{ "hits", 1, 1 },   { "hits", 5, 6 },	  { "misses", 1, 1 },
		{ "hits", -2, 4 },  { "builds", 0, 0 },	  { "misses", 1000000000000LL, 1000000000001LL },
	};
	for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
		CHECK_INT(mc_index_counter_add(ix, steps[i].name, steps[i].delta), 0);
		CHECK_INT(mc_index_counter_get(ix, steps[i].name, &v), 0);
		CHECK_INT(v, steps[i].want);
	}
	CHECK_INT(mc_index_counter_get(ix, "hits", &v), 0);
	CHECK_INT(v, 4);

	const char *url = "https://forge.example/templates/claude-code";
	const char *c1 = "0123456789abcdef0123456789abcdef01234567";
	const char *h1 = "1111111111111111111111111111111111111111111111111111111111111111";
	const char *h2 = "2222222222222222222222222222222222222222222222222222222222222222";
	memset(h, 'z', sizeof(h));
	CHECK_INT(mc_index_dfhash_get(ix, h, url, c1, "Dockerfile"), MC_ENOTFOUND);
	CHECK_STR(h, "");
	CHECK_INT(mc_index_dfhash_put(ix, url, c1, "Dockerfile", h1), 0);
	CHECK_INT(mc_index_dfhash_get(ix, h, url, c1, "Dockerfile"), 0);
	CHECK_STR(h, h1);
	/* Every part of the triple matters. */
	CHECK_INT(mc_index_dfhash_get(ix, h, url, c1, "docker/Dockerfile"), MC_ENOTFOUND);
	CHECK_INT(mc_index_dfhash_get(ix, h, url, "fedcba9876543210fedcba9876543210fedcba98", "Dockerfile"),
		  MC_ENOTFOUND);
	CHECK_INT(mc_index_dfhash_get(ix, h, "https://forge.example/templates/codex", c1, "Dockerfile"),
		  MC_ENOTFOUND);
	CHECK_INT(mc_index_dfhash_put(ix, url, c1, "docker/Dockerfile", h2), 0);
	CHECK_INT(mc_index_dfhash_get(ix, h, url, c1, "docker/Dockerfile"), 0);
	CHECK_STR(h, h2);
	CHECK_INT(mc_index_dfhash_get(ix, h, url, c1, "Dockerfile"), 0);
	CHECK_STR(h, h1);
	/* Put again overwrites rather than failing. */
	CHECK_INT(mc_index_dfhash_put(ix, url, c1, "Dockerfile", h2), 0);
	CHECK_INT(mc_index_dfhash_get(ix, h, url, c1, "Dockerfile"), 0);
	CHECK_STR(h, h2);

	CHECK_INT(mc_index_build_record(ix, "k1", 1000, 250, 1, "/cache/logs/k1.log"), 0);
	CHECK_INT(mc_index_build_record(ix, "k1", 2000, 50, 0, NULL), 0);
	mc_index_free(ix);
	CHECK_INT(raw_int(path, "SELECT count(*) FROM builds WHERE key = 'k1'"), 2);
	CHECK_INT(raw_int(path, "SELECT sum(duration_ms) FROM builds WHERE ok = 1"), 250);
	CHECK_INT(raw_int(path, "SELECT count(*) FROM builds WHERE log_path IS NULL AND ok = 0"), 1);
	free(path);
}

static void test_transactions(void)
{
	char *path = tmp_file("tx.db");
	struct mc_index *ix = NULL, *other = NULL;
	struct mc_entry got;

	CHECK_INT(mc_index_open(&ix, path), 0);
	CHECK_INT(mc_index_open(&other, path), 0);

	CHECK_INT(mc_index_begin(ix), 0);
	put_simple(ix, "rolled-back", "rt", MC_STATE_READY, 1);
	CHECK_INT(mc_index_counter_add(ix, "hits", 1), 0);
	/* Readers see the last commit while a writer works (WAL). */
	CHECK_INT(mc_index_get(other, &got, "rolled-back"), MC_ENOTFOUND);
	mc_error_set(MC_ENOTFOUND, "keep me");
	mc_index_rollback(ix);
	CHECK_STR(mc_error_msg(), "keep me");
	mc_index_rollback(ix); /* outside a transaction: no-op */
	mc_index_rollback(NULL);
	CHECK_INT(mc_index_get(ix, &got, "rolled-back"), MC_ENOTFOUND);

	CHECK_INT(mc_index_begin(ix), 0);
	put_simple(ix, "committed", "rt", MC_STATE_READY, 1);
	CHECK_INT(mc_index_commit(ix), 0);
	CHECK_INT(mc_index_get(other, &got, "committed"), 0);
	mc_entry_release(&got);
	/* commit without begin is an SQLite error, reported with its words. */
	CHECK_INT(mc_index_commit(ix), MC_ERR);
	CHECK(strstr(mc_error_msg(), "no transaction is active") != NULL);

	/* Two handles writing in turn both succeed and see each other. */
	for (int i = 0; i < 50; i++) {
		char key[32];
		snprintf(key, sizeof(key), "h%d-%d", i % 2, i);
		put_simple(i % 2 ? other : ix, key, "rt", MC_STATE_READY, i);
		CHECK_INT(mc_index_counter_add(i % 2 ? ix : other, "n", 1), 0);
	}
	struct mc_entry *v = NULL;
	size_t n = 0;
	CHECK_INT(mc_index_list(other, &v, &n, "rt"), 0);
	CHECK_INT(n, 51);
	mc_entries_free(v, n);
	int64_t c = 0;
	CHECK_INT(mc_index_counter_get(ix, "n", &c), 0);
	CHECK_INT(c, 50);

	mc_index_free(other);
	mc_index_free(ix);
	free(path);
}

/* Short-lived processes each commit a little, as hits do: the WAL, which
 * every process start reads whole, stays bounded; and a reader elsewhere
 * never makes a commit wait for the truncation. */
static void test_wal_bounded(void)
{
	char *path = tmp_file("wal.db");
	char *wal = mc_asprintf("%s-wal", path);
	struct mc_index *ix = NULL;
	struct stat st;
	off_t biggest = 0;

	for (int i = 0; i < 400; i++) {
		char key[32];

		CHECK_INT(mc_index_open(&ix, path), 0);
		snprintf(key, sizeof(key), "k%d", i);
		put_simple(ix, key, "rt", MC_STATE_READY, i);
		CHECK_INT(mc_index_counter_add(ix, "hits", 1), 0);
		mc_index_free(ix);
		ix = NULL;
		if (stat(wal, &st) == 0 && st.st_size > biggest)
			biggest = st.st_size;
	}
	/* 64 pages of 4 KiB and their frame headers, plus one commit's worth */
	CHECK(biggest > 0);
	CHECK(biggest < 80 * 4120);

	/* a reader holding a snapshot: commits go on, nothing waits */
	sqlite3 *reader = NULL;
	CHECK_INT(sqlite3_open(path, &reader), SQLITE_OK);
	CHECK_INT(sqlite3_exec(reader, "BEGIN; SELECT count(*) FROM entries", NULL, NULL, NULL), SQLITE_OK);
	CHECK_INT(mc_index_open(&ix, path), 0);
	int64_t t0 = mc_mono_ms();
	for (int i = 0; i < 200; i++)
		CHECK_INT(mc_index_counter_add(ix, "hits", 1), 0);
	CHECK(mc_mono_ms() - t0 < 5000); /* a 10 s busy wait per truncation would show */
	CHECK_INT(sqlite3_exec(reader, "COMMIT", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(reader);
	mc_index_free(ix);
	free(wal);
	free(path);
}

/* Processes writing at once through their own handles: no write is lost, nobody fails. */
static void test_concurrent_writers(void)
{
	char *path = tmp_file("conc.db");
	enum { PROCS = 3, PUTS = 150, ADDS = 300 };
	pid_t pids[PROCS];

	/* Children race to create the schema too. */
	for (int p = 0; p < PROCS; p++) {
		pids[p] = fork();
		if (pids[p] == 0) {
			struct mc_index *ix = NULL;
			int bad = 0;
			if (mc_index_open(&ix, path)) {
				fprintf(stderr, "child %d: %s\n", p, mc_error_msg());
				_exit(2);
			}
			for (int i = 0; i < PUTS + ADDS; i++) {
				int r;
				if (i % 3 == 0 && i / 3 < PUTS) {
					char key[32];
					struct mc_entry e;
					snprintf(key, sizeof(key), "p%d-%d", p, i / 3);
					full_entry(&e, key, "rt", MC_STATE_READY, i);
					r = mc_index_put(ix, &e);
					mc_entry_release(&e);
				} else {
					r = mc_index_counter_add(ix, "adds", 1);
				}
				if (r) {
					fprintf(stderr, "child %d: %s\n", p, mc_error_msg());
					bad = 1;
					break;
				}
			}
			mc_index_free(ix);
			_exit(bad);
		}
		CHECK(pids[p] > 0);
	}
	for (int p = 0; p < PROCS; p++) {
		int st = 0;
		while (waitpid(pids[p], &st, 0) < 0 && errno == EINTR)
			;
		CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	}
	struct mc_index *ix = NULL;
	CHECK_INT(mc_index_open(&ix, path), 0);
	struct mc_entry *v = NULL;
	size_t n = 0;
	int64_t adds = 0;
	CHECK_INT(mc_index_list(ix, &v, &n, NULL), 0);
	CHECK_INT(n, PROCS * PUTS);
	mc_entries_free(v, n);
	CHECK_INT(mc_index_counter_get(ix, "adds", &adds), 0);
	CHECK_INT(adds, PROCS * ADDS);
	CHECK_INT(mc_index_check(ix), 0);
	mc_index_free(ix);
	free(path);
}

static void test_corruption(void)
{
	char *path = tmp_file("corrupt.db");
	struct mc_index *ix = NULL;

	CHECK_INT(mc_index_open(&ix, path), 0);
	CHECK_INT(mc_index_begin(ix), 0);
	for (unsigned i = 0; i < 2000; i++) {
		char key[65];
		key_of(key, i, 'c');
		put_simple(ix, key, "rt", MC_STATE_READY, i);
	}
	CHECK_INT(mc_index_commit(ix), 0);
	CHECK_INT(mc_index_check(ix), 0);
	mc_index_free(ix); /* the last close checkpoints the WAL into the file */

	long long page = raw_int(path, "PRAGMA page_size");
	long long pages = raw_int(path, "PRAGMA page_count");
	CHECK(page > 0 && pages > 20);
	int fd = open(path, O_WRONLY);
	char junk[512];
	memset(junk, 0x5a, sizeof(junk));
	for (long long p = pages / 2; p < pages / 2 + 4; p++)
		CHECK(pwrite(fd, junk, sizeof(junk), (off_t)(p * page)) == (ssize_t)sizeof(junk));
	close(fd);

	int r = mc_index_open(&ix, path);
	if (r == 0) {
		r = mc_index_check(ix);
		mc_index_free(ix);
	}
	CHECK_INT(r, MC_ERR);
	CHECK(strstr(mc_error_msg(), path) != NULL);
	printf("corrupted index: %s\n", mc_error_msg());
	CHECK_INT(mc_index_rc_corrupt(11 /* SQLITE_CORRUPT */), 1);
	CHECK_INT(mc_index_rc_corrupt(26 /* SQLITE_NOTADB */), 1);
	CHECK_INT(mc_index_rc_corrupt(5 /* SQLITE_BUSY */), 0);
	free(path);
}

static double ms_since(int64_t t0) { return (double)(mc_mono_ms() - t0); }

static double now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

/* Prints, never asserts: timings depend on the machine and the sanitizers. */
static void test_perf(void)
{
	char *path = tmp_file("perf.db");
	struct mc_index *ix = NULL;
	struct mc_entry e, got;
	enum { N = 100000 };

	CHECK_INT(mc_index_open(&ix, path), 0);
	full_entry(&e, "0000000000000000000000000000000000000000000000000000000000000000", "claude-code",
		   MC_STATE_READY, 0);
	int64_t t0 = mc_mono_ms();
	CHECK_INT(mc_index_begin(ix), 0);
	int fails = 0;
	for (unsigned i = 0; i < N; i++) {
		key_of(e.key, i, 'd');
		e.last_used_ms = i;
		fails += mc_index_put(ix, &e) != 0;
	}
	CHECK_INT(mc_index_commit(ix), 0);
	CHECK_INT(fails, 0);
	printf("perf: %d puts in one transaction: %.0f ms\n", N, ms_since(t0));
	mc_entry_release(&e);
	mc_index_free(ix);

	char key[65];
	key_of(key, N / 2, 'd');
	enum { ROUNDS = 100 };
	double t_open = 0, t_get = 0, t_close = 0;
	for (int i = 0; i < ROUNDS; i++) {
		double a = now_us();
		CHECK_INT(mc_index_open(&ix, path), 0);
		double b = now_us();
		CHECK_INT(mc_index_get(ix, &got, key), 0);
		double c = now_us();
		mc_entry_release(&got);
		mc_index_free(ix);
		t_open += b - a;
		t_get += c - b;
		t_close += now_us() - c;
	}
	printf("perf: open %.0f us, first get %.0f us, close %.0f us (mean of %d)\n", t_open / ROUNDS,
	       t_get / ROUNDS, t_close / ROUNDS, ROUNDS);

	/* A second handle open meanwhile: the cost without the last-close checkpoint. */
	struct mc_index *keep = NULL;
	CHECK_INT(mc_index_open(&keep, path), 0);
	t_open = t_get = t_close = 0;
	for (int i = 0; i < ROUNDS; i++) {
		double a = now_us();
		CHECK_INT(mc_index_open(&ix, path), 0);
		double b = now_us();
		CHECK_INT(mc_index_get(ix, &got, key), 0);
		double c = now_us();
		mc_entry_release(&got);
		mc_index_free(ix);
		t_open += b - a;
		t_get += c - b;
		t_close += now_us() - c;
	}
	printf("perf: (not last) open %.0f us, first get %.0f us, close %.0f us\n", t_open / ROUNDS,
	       t_get / ROUNDS, t_close / ROUNDS);
	mc_index_free(keep);

	CHECK_INT(mc_index_open(&ix, path), 0);
	double t2 = now_us();
	for (int i = 0; i < ROUNDS; i++) {
		CHECK_INT(mc_index_get(ix, &got, key), 0);
		mc_entry_release(&got);
	}
	printf("perf: cached get %.1f us\n", (now_us() - t2) / ROUNDS);
	mc_index_free(ix);

	int64_t t1;
	CHECK_INT(mc_index_open(&ix, path), 0);
	t1 = mc_mono_ms();
	enum { HITS = 500 };
	for (int i = 0; i < HITS; i++) {
		CHECK_INT(mc_index_newest_ready(ix, &got, "claude-code"), 0);
		CHECK_INT(mc_index_touch(ix, got.key, N + i), 0);
		mc_entry_release(&got);
	}
	printf("perf: newest_ready + touch (autocommit): %.3f ms each\n", ms_since(t1) / HITS);
	CHECK_INT(mc_index_newest_ready(ix, &got, "claude-code"), 0);
	CHECK_INT(got.last_used_ms, N + HITS - 1);
	mc_entry_release(&got);
	mc_index_free(ix);
	free(path);
}

/* meta: set, overwrite, survive a reopen; unknown names are MC_ENOTFOUND */
static void test_meta(void)
{
	char *path = tmp_file("meta.db"), *v = NULL;
	struct mc_index *ix = NULL;

	CHECK_INT(mc_index_open(&ix, path), 0);
	CHECK_INT(mc_index_meta_get(ix, &v, "engine-platform:/x.sock"), MC_ENOTFOUND);
	CHECK(v == NULL);
	CHECK_INT(mc_index_meta_put(ix, "engine-platform:/x.sock", "linux/amd64"), 0);
	CHECK_INT(mc_index_meta_put(ix, "engine-platform:/x.sock", "linux/arm64/v8"), 0);
	mc_index_free(ix);
	CHECK_INT(mc_index_open(&ix, path), 0);
	CHECK_INT(mc_index_meta_get(ix, &v, "engine-platform:/x.sock"), 0);
	CHECK_STR(v, "linux/arm64/v8");
	free(v);
	mc_index_free(ix);
	free(path);
}

/* The root id: random, made once, kept; a legacy id only for an index that already had rows. */
static void test_root_id(void)
{
	char *path = tmp_file("rootid.db"), *path2 = tmp_file("rootid2.db"), *path3 = tmp_file("rootid3.db");
	struct mc_index *ix = NULL;
	struct mc_entry e = { 0 };
	char a[65], b[65], c[65];

	CHECK_INT(mc_index_open(&ix, path), 0);
	CHECK_INT(mc_index_root_id(ix, a, "0123456789abcdef"), 0);
	CHECK_INT((int)strlen(a), 32);
	CHECK(strcmp(a, "0123456789abcdef") != 0); /* no rows: a fresh root is random */
	CHECK_INT(mc_index_root_id(ix, b, NULL), 0);
	CHECK_STR(b, a);
	mc_index_free(ix);
	CHECK_INT(mc_index_open(&ix, path), 0);
	CHECK_INT(mc_index_root_id(ix, b, NULL), 0);
	CHECK_STR(b, a); /* kept across opens */
	mc_index_free(ix);

	CHECK_INT(mc_index_open(&ix, path2), 0);
	CHECK_INT(mc_index_root_id(ix, c, NULL), 0);
	CHECK(strcmp(c, a) != 0); /* another root, another id */
	mc_index_free(ix);

	/* rows written before the first id is asked for do not make it legacy */
	CHECK_INT(mc_index_open(&ix, path3), 0);
	e.key = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
	e.state = MC_STATE_READY;
	e.image_id = "sha256:0000000000000000000000000000000000000000000000000000000000000000";
	CHECK_INT(mc_index_put(ix, &e), 0);
	CHECK_INT(mc_index_root_id(ix, c, "0123456789abcdef"), 0);
	CHECK_INT((int)strlen(c), 32);
	mc_index_free(ix);
	free(path3);

	/* an index upgraded from schema 4 with rows keeps the id its images carry */
	path3 = tmp_file("rootid4.db");
	raw_exec(path3, "CREATE TABLE entries (key TEXT PRIMARY KEY NOT NULL, runtime TEXT, repo_prefix TEXT,"
			" ref TEXT, head_sha TEXT, dockerfile_path TEXT, dockerfile_hash TEXT, platform TEXT,"
			" build_args TEXT, image_tag TEXT, image_id TEXT, tree_path TEXT,"
			" state INTEGER NOT NULL DEFAULT 0, tree_bytes INTEGER NOT NULL DEFAULT 0,"
			" image_bytes INTEGER NOT NULL DEFAULT 0, created_ms INTEGER NOT NULL DEFAULT 0,"
			" last_used_ms INTEGER NOT NULL DEFAULT 0, build_ms INTEGER NOT NULL DEFAULT 0,"
			" use_count INTEGER NOT NULL DEFAULT 0);"
			"CREATE TABLE counters (name TEXT PRIMARY KEY NOT NULL, value INTEGER NOT NULL DEFAULT 0);"
			"CREATE TABLE gc_runs (id INTEGER PRIMARY KEY, started_ms INTEGER NOT NULL);"
			"CREATE TABLE meta (name TEXT PRIMARY KEY NOT NULL, value TEXT NOT NULL) WITHOUT ROWID;"
			"INSERT INTO entries (key, state) VALUES ('bb', 1);"
			"PRAGMA user_version = 4");
	CHECK_INT(mc_index_open(&ix, path3), 0);
	CHECK_INT(mc_index_root_id(ix, c, "0123456789abcdef"), 0);
	CHECK_STR(c, "0123456789abcdef");
	mc_index_free(ix);
	free(path);
	free(path2);
	free(path3);
}

/* failure memory: one row per key, replaced, cleared; the attempt count; the
 * root id claimed once (or forced by doctor --repair --root-id). */
static void test_failures_and_claim(void)
{
	char *path = tmp_file("failures.db");
	struct mc_index *ix = NULL;
	struct mc_failure f = { 0 };
	char key[65], id[65];
	int64_t n = -1;
	int rows = -1;

	key_of(key, 7, 'f');
	CHECK_INT(mc_index_open(&ix, path), 0);
	CHECK_INT(mc_index_failure_get(ix, &f, key), MC_ENOTFOUND);
	struct mc_failure in = { key, 1, 1000, 61000, "[2/2] RUN exit 3", "line one\nline two", "/l/k.1.log" };
	CHECK_INT(mc_index_failure_put(ix, &in), 0);
	CHECK_INT(mc_index_failure_get(ix, &f, key), 0);
	CHECK_STR(f.key, key);
	CHECK_INT(f.count, 1);
	CHECK_INT(f.last_ms, 1000);
	CHECK_INT(f.next_ms, 61000);
	CHECK_STR(f.step, "[2/2] RUN exit 3");
	CHECK_STR(f.output, "line one\nline two");
	CHECK_STR(f.log_path, "/l/k.1.log");
	mc_failure_release(&f);
	in = (struct mc_failure){ key, 2, 2000, 122000, NULL, NULL, NULL };
	CHECK_INT(mc_index_failure_put(ix, &in), 0);
	CHECK_INT(mc_index_failure_get(ix, &f, key), 0);
	CHECK_INT(f.count, 2);
	CHECK(f.step == NULL && f.output == NULL && f.log_path == NULL);
	mc_failure_release(&f);
	mc_failure_release(&f); /* twice, and NULL: fine */
	mc_failure_release(NULL);
	CHECK_INT(mc_index_failure_clear(ix, key), 0);
	CHECK_INT(mc_index_failure_get(ix, &f, key), MC_ENOTFOUND);
	CHECK_INT(mc_index_failure_clear(ix, key), 0);

	CHECK_INT(mc_index_build_count(ix, key, &n), 0);
	CHECK_INT(n, 0);
	CHECK_INT(mc_index_build_record(ix, key, 1, 2, 0, NULL), 0);
	CHECK_INT(mc_index_build_record(ix, key, 3, 2, 1, NULL), 0);
	CHECK_INT(mc_index_build_count(ix, key, &n), 0);
	CHECK_INT(n, 2);

	CHECK_INT(mc_index_has_entries(ix, &rows), 0);
	CHECK_INT(rows, 0);
	CHECK_INT(mc_index_root_id_claim(ix, id, "00aa", 0), 0);
	CHECK_STR(id, "00aa");
	CHECK_INT(mc_index_root_id_claim(ix, id, "11bb", 0), 0);
	CHECK_STR(id, "00aa"); /* the first claim wins */
	CHECK_INT(mc_index_root_id(ix, id, NULL), 0);
	CHECK_STR(id, "00aa");
	CHECK_INT(mc_index_root_id_claim(ix, id, "11bb", 1), 0);
	CHECK_STR(id, "11bb"); /* forced */
	put_simple(ix, key, "rt", MC_STATE_READY, 1);
	CHECK_INT(mc_index_has_entries(ix, &rows), 0);
	CHECK_INT(rows, 1);
	mc_index_free(ix);
	free(path);
}

/* Every list query grows its array past the first allocation and reads each
 * row whole, in the query's order (one step-rows helper serves them all). */
static void test_lists_grow(void)
{
	char *path = tmp_file("grow.db");
	struct mc_index *ix = NULL;
	struct mc_entry *v = NULL;
	struct mc_lease *l = NULL;
	struct mc_image_layers *il = NULL;
	size_t n = 0;
	char k[65], id[80], layers[80];
	const unsigned N = 100;

	CHECK_INT(mc_index_open(&ix, path), 0);
	for (unsigned i = 0; i < N; i++) {
		key_of(k, i, 'g');
		/* newest use first: key N-1 lists first */
		put_simple(ix, k, "rt", MC_STATE_READY, 1000 + i);
		if (i % 2 == 0)
			CHECK_INT(mc_index_lease_put(ix, k, 5000 + i), 0);
		snprintf(id, sizeof(id), "sha256:%03u", i);
		snprintf(layers, sizeof(layers), "sha256:l%u", i);
		CHECK_INT(mc_index_image_layers_put(ix, id, layers), 0);
	}

	CHECK_INT(mc_index_list(ix, &v, &n, NULL), 0);
	CHECK_INT(n, N);
	for (unsigned i = 0; i < n && i < N; i++) {
		key_of(k, N - 1 - i, 'g');
		CHECK_STR(v[i].key, k);
		CHECK_INT(v[i].last_used_ms, 1000 + (N - 1 - i));
		CHECK_STR(v[i].runtime, "rt");
	}
	mc_entries_free(v, n);

	CHECK_INT(mc_index_list_ready(ix, &v, &n, "rt"), 0);
	CHECK_INT(n, N);
	mc_entries_free(v, n);

	CHECK_INT(mc_index_leases_active(ix, &l, &n, 5000 + 19), 0);
	CHECK_INT(n, (N - 20) / 2); /* even i from 20 on */
	for (size_t i = 0; i < n; i++) {
		key_of(k, 20 + 2 * (unsigned)i, 'g');
		CHECK_STR(l[i].key, k);
		CHECK_INT(l[i].until_ms, 5000 + 20 + 2 * (int64_t)i);
	}
	mc_leases_free(l, n);

	CHECK_INT(mc_index_image_layers_all(ix, &il, &n), 0);
	CHECK_INT(n, N);
	for (unsigned i = 0; i < n && i < N; i++) {
		snprintf(id, sizeof(id), "sha256:%03u", i);
		snprintf(layers, sizeof(layers), "sha256:l%u", i);
		CHECK_STR(il[i].image_id, id);
		CHECK_STR(il[i].layers, layers);
	}
	mc_image_layers_free(il, n);

	mc_index_free(ix);
	free(path);
}

int main(void)
{
	const char *base = getenv("MC_TEST_TMP");
	if (!base || !*base)
		base = "/tmp";
	mc_mkdir_p(base, 0700);
	snprintf(tmp, sizeof(tmp), "%s/index-XXXXXX", base);
	if (!mkdtemp(tmp)) {
		perror("mkdtemp");
		return 1;
	}

	test_open();
	test_future_schema();
	test_state_names();
	test_entries();
	test_newest_and_list();
	test_list_ready();
	test_lists_grow();
	test_counters_dfhash_builds();
	test_transactions();
	test_wal_bounded();
	test_meta();
	test_root_id();
	test_failures_and_claim();
	test_concurrent_writers();
	test_corruption();
	test_perf();

	CHECK_INT(mc_rm_rf(tmp), 0);
	return t_done();
}
