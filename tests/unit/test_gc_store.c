/* test_gc_store.c — the index additions gc and ensure share (schema v2): latest, leases, gc runs, tree refs, migration from v1. */
#include "store/store.h"
#include "t.h"

#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char tmp[] = "/tmp/mc-test-gc-store.XXXXXX";

static void key_of(char out[65], char c)
{
	memset(out, c, 64);
	out[64] = 0;
}

static void put(struct mc_index *ix, const char *key)
{
	struct mc_entry e = { 0 };
	e.key = (char *)key;
	e.runtime = "codex";
	e.tree_path = "/somewhere/trees/x";
	e.tree_bytes = 42;
	e.state = MC_STATE_READY;
	CHECK_INT(mc_index_put(ix, &e), 0);
}

/* A database as schema v1 wrote it, with a row: opening migrates it in place. */
static void test_migrate_v1(void)
{
	char *path = mc_asprintf("%s/v1.db", tmp);
	sqlite3 *db = NULL;
	struct mc_index *ix = NULL;
	struct mc_entry e = { 0 };
	char k[65], out[65];

	key_of(k, 'a');
	CHECK(sqlite3_open(path, &db) == SQLITE_OK);
	char *sql = mc_asprintf(
		"CREATE TABLE entries (key TEXT PRIMARY KEY NOT NULL, runtime TEXT, repo_prefix TEXT, ref TEXT,"
		" head_sha TEXT, dockerfile_path TEXT, dockerfile_hash TEXT, platform TEXT, build_args TEXT,"
		" image_tag TEXT, image_id TEXT, tree_path TEXT, state INTEGER NOT NULL DEFAULT 0,"
		" tree_bytes INTEGER NOT NULL DEFAULT 0, image_bytes INTEGER NOT NULL DEFAULT 0,"
		" created_ms INTEGER NOT NULL DEFAULT 0, last_used_ms INTEGER NOT NULL DEFAULT 0,"
		" build_ms INTEGER NOT NULL DEFAULT 0, use_count INTEGER NOT NULL DEFAULT 0);"
		"CREATE TABLE counters (name TEXT PRIMARY KEY NOT NULL, value INTEGER NOT NULL DEFAULT 0);"
		"CREATE TABLE gc_runs (id INTEGER PRIMARY KEY, started_ms INTEGER NOT NULL,"
		" duration_ms INTEGER NOT NULL DEFAULT 0, evicted INTEGER NOT NULL DEFAULT 0,"
		" bytes_freed INTEGER NOT NULL DEFAULT 0, errors INTEGER NOT NULL DEFAULT 0, detail TEXT);"
		"INSERT INTO entries (key, runtime, state) VALUES ('%s', 'codex', 1);"
		"PRAGMA user_version = 1;",
		k);
	CHECK(sqlite3_exec(db, sql, NULL, NULL, NULL) == SQLITE_OK);
	free(sql);
	sqlite3_close(db);

	CHECK_INT(mc_index_schema_version(), 6);
	CHECK_INT(mc_index_open(&ix, path), 0);
	CHECK_INT(mc_index_get(ix, &e, k), 0);
	CHECK_STR(e.runtime, "codex");
	mc_entry_release(&e);
	CHECK_INT(mc_index_latest_set(ix, "codex", k), 0);
	CHECK_INT(mc_index_latest_get(ix, out, "codex"), 0);
	CHECK_STR(out, k);
	mc_index_free(ix);
	free(path);
}

static void test_latest_leases_runs(void)
{
	char *path = mc_asprintf("%s/v2.db", tmp);
	struct mc_index *ix = NULL;
	struct mc_strv all = MC_STRV_INIT;
	struct mc_lease *ls = NULL;
	struct mc_gc_run run = { 0 }, got = { 0 };
	struct mc_entry e = { 0 };
	char a[65], b[65], out[65];
	int64_t until = 0, id = 0;
	size_t n = 0;

	key_of(a, 'a');
	key_of(b, 'b');
	CHECK_INT(mc_index_open(&ix, path), 0);

	CHECK_INT(mc_index_latest_get(ix, out, "codex"), MC_ENOTFOUND);
	CHECK_STR(out, "");
	CHECK_INT(mc_index_latest_set(ix, "codex", a), 0);
	CHECK_INT(mc_index_latest_set(ix, "codex", b), 0); /* moves */
	CHECK_INT(mc_index_latest_set(ix, "crewai", b), 0);
	CHECK_INT(mc_index_latest_get(ix, out, "codex"), 0);
	CHECK_STR(out, b);
	CHECK_INT(mc_index_latest_all(ix, &all), 0);
	CHECK_INT(all.n, 1); /* distinct keys */
	CHECK_STR(all.n ? all.v[0] : "", b);
	mc_strv_release(&all);

	CHECK_INT(mc_index_lease_put(ix, a, 5000), 0);
	CHECK_INT(mc_index_lease_put(ix, a, 3000), 0); /* never shortens */
	CHECK_INT(mc_index_lease_get(ix, a, &until), 0);
	CHECK_INT(until, 5000);
	CHECK_INT(mc_index_lease_put(ix, a, 9000), 0); /* extends */
	CHECK_INT(mc_index_lease_put(ix, b, 2000), 0);
	CHECK_INT(mc_index_lease_get(ix, a, &until), 0);
	CHECK_INT(until, 9000);
	CHECK_INT(mc_index_leases_active(ix, &ls, &n, 2000), 0); /* b ends at 2000: not active */
	CHECK_INT(n, 1);
	CHECK_STR(n ? ls[0].key : "", a);
	mc_leases_free(ls, n);
	CHECK_INT(mc_index_leases_expire(ix, 2000), 0);
	CHECK_INT(mc_index_lease_get(ix, b, &until), 0);
	CHECK_INT(until, 0);
	mc_leases_free(NULL, 0);

	CHECK_INT(mc_index_last_gc(ix, &got), MC_ENOTFOUND);
	run.started_ms = 100;
	run.duration_ms = 7;
	run.evicted = 2;
	run.bytes_freed = 1234;
	run.errors = 1;
	run.detail = "{\"version\":1}";
	CHECK_INT(mc_index_gc_record(ix, &id, &run), 0);
	CHECK(id > 0);
	run.started_ms = 50; /* older, recorded later: not "last" */
	run.detail = NULL;
	CHECK_INT(mc_index_gc_record(ix, NULL, &run), 0);
	CHECK_INT(mc_index_last_gc(ix, &got), 0);
	CHECK_INT(got.id, id);
	CHECK_INT(got.started_ms, 100);
	CHECK_INT(got.evicted, 2);
	CHECK_INT(got.bytes_freed, 1234);
	CHECK_INT(got.errors, 1);
	CHECK_STR(got.detail, "{\"version\":1}");
	mc_gc_run_release(&got);
	mc_gc_run_release(NULL);

	put(ix, a);
	CHECK_INT(mc_index_drop_tree(ix, a), 0);
	CHECK_INT(mc_index_get(ix, &e, a), 0);
	CHECK(e.tree_path == NULL);
	CHECK_INT(e.tree_bytes, 0);
	CHECK_INT(e.state, MC_STATE_READY);
	mc_entry_release(&e);
	CHECK_INT(mc_index_drop_tree(ix, b), MC_ENOTFOUND);

	struct mc_paths p = { 0 };
	p.locks = "/r/locks";
	char *gl = mc_lock_path_gc(&p);
	CHECK_STR(gl, "/r/locks/gc.lock");
	free(gl);
	mc_index_free(ix);
	free(path);
}

/* image_layers: remembered per image id, listed in id order, replaced, forgotten. */
static void test_image_layers(void)
{
	struct mc_index *ix = NULL;
	struct mc_image_layers *v = NULL;
	size_t n = 0;
	char *path = mc_asprintf("%s/layers.db", tmp);

	CHECK_INT(mc_index_open(&ix, path), 0);
	CHECK_INT(mc_index_image_layers_all(ix, &v, &n), 0);
	CHECK(n == 0);
	mc_image_layers_free(v, n);
	CHECK_INT(mc_index_image_layers_put(ix, "sha256:bb", "[[\"sha256:1\",5]]"), 0);
	CHECK_INT(mc_index_image_layers_put(ix, "sha256:aa", "[[\"sha256:2\",7]]"), 0);
	CHECK_INT(mc_index_image_layers_put(ix, "sha256:bb", "[[\"sha256:3\",9]]"), 0);
	CHECK_INT(mc_index_image_layers_all(ix, &v, &n), 0);
	CHECK(n == 2);
	if (n == 2) {
		CHECK_STR(v[0].image_id, "sha256:aa");
		CHECK_STR(v[1].image_id, "sha256:bb");
		CHECK_STR(v[1].layers, "[[\"sha256:3\",9]]");
	}
	mc_image_layers_free(v, n);
	CHECK_INT(mc_index_image_layers_delete(ix, "sha256:aa"), 0);
	CHECK_INT(mc_index_image_layers_delete(ix, "sha256:never"), 0);
	CHECK_INT(mc_index_image_layers_all(ix, &v, &n), 0);
	CHECK(n == 1 && !strcmp(v[0].image_id, "sha256:bb"));
	mc_image_layers_free(v, n);
	mc_image_layers_free(NULL, 0);
	mc_index_free(ix);
	free(path);
}

int main(void)
{
	if (!mkdtemp(tmp))
		return 1;
	test_migrate_v1();
	test_latest_leases_runs();
	test_image_layers();
	char *cmd = mc_asprintf("rm -rf '%s'", tmp);
	if (system(cmd))
		fprintf(stderr, "could not remove %s\n", tmp);
	free(cmd);
	return t_done();
}
