/* test_query.c — the views' read-only index queries on a real SQLite file: totals, per-runtime summary, build history, find. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../store/query.h"
#include "t.h"

static char *tmp_dir(void)
{
	const char *base = getenv("MC_TEST_TMP");
	char *tmpl;
	if (base)
		mc_mkdir_p(base, 0700);
	tmpl = mc_asprintf("%s/query.XXXXXX", base ? base : "/tmp");
	if (!mkdtemp(tmpl)) {
		perror("mkdtemp");
		exit(2);
	}
	return tmpl;
}

/* A key made of one repeated hex digit pattern: readable prefixes in tests. */
static void put(struct mc_index *ix, const char *key, const char *runtime, int state, int64_t tree, int64_t img,
		int64_t created, int64_t used, const char *sha)
{
	struct mc_entry e = { 0 };
	char tag[128];
	snprintf(tag, sizeof(tag), "molcache/%s:%.12s", runtime, key);
	e.key = (char *)key;
	e.runtime = (char *)runtime;
	e.head_sha = (char *)sha;
	e.image_tag = tag;
	e.state = state;
	e.tree_bytes = tree;
	e.image_bytes = img;
	e.created_ms = created;
	e.last_used_ms = used;
	CHECK_INT(mc_index_put(ix, &e), 0);
}


static const char *const KA1 = "aaaaaaaaaaaa0000000000000000000000000000000000000000000000000001";
static const char *const KA2 = "aaaaaaaaaaab0000000000000000000000000000000000000000000000000002";
static const char *const KB = "bbbbbbbbbbbb0000000000000000000000000000000000000000000000000003";
static const char *const KC = "cafe00000000000000000000000000000000000000000000000000000000004c";
static const char *const KGONE = "dddddddddddd00000000000000000000000000000000000000000000000000dd";

static void test_empty(struct mc_index *ix)
{
	struct mc_query_totals t;
	struct mc_query_runtime *rt = (void *)1;
	struct mc_query_build *b = (void *)1;
	size_t n = 99;
	struct mc_strv found = MC_STRV_INIT;
	const char *how = "x";

	CHECK_INT(mc_query_summary(&t, &rt, &n, ix), 0);
	CHECK_INT(t.entries, 0);
	CHECK_INT(t.tree_bytes + t.image_bytes + t.builds + t.build_ms, 0);
	CHECK_INT(n, 0);
	CHECK(rt == NULL);
	CHECK_INT(mc_query_builds(ix, &b, &n, KA1), 0);
	CHECK_INT(n, 0);
	CHECK_INT(mc_query_find(ix, &found, &how, "aaaa", 0), 0);
	CHECK_INT(found.n, 0);
	CHECK(how == NULL);
	mc_query_runtimes_free(NULL, 0);
	mc_query_builds_free(NULL, 0);
}

static void fill(struct mc_index *ix)
{
	put(ix, KA1, "claude-code", MC_STATE_READY, 10, 1000, 100, 500, "1111111111111111111111111111111111111111");
	put(ix, KA2, "claude-code", MC_STATE_READY, 20, 2000, 200, 400, "2222222222222222222222222222222222222222");
	put(ix, KB, "codex", MC_STATE_FAILED, 0, 0, 300, 300, "3333333333333333333333333333333333333333");
	/* a runtime whose name is all hex digits, and a key starting with the same digits */
	put(ix, KC, "cafe", MC_STATE_BUILDING, 5, 0, 400, 0, "4444444444444444444444444444444444444444");
	CHECK_INT(mc_index_latest_set(ix, "claude-code", KA2), 0);
	/* a pointer to a key that is gone, for a runtime with no rows */
	CHECK_INT(mc_index_latest_set(ix, "gemini-cli", KGONE), 0);
	CHECK_INT(mc_index_build_record(ix, KA1, 90, 1500, 1, "/logs/a1.log"), 0);
	CHECK_INT(mc_index_build_record(ix, KB, 290, 700, 0, "/logs/b.log"), 0);
	CHECK_INT(mc_index_build_record(ix, KB, 250, 300, 0, NULL), 0);
	CHECK_INT(mc_index_build_record(ix, KA2, 190, 2500, 1, "/logs/a2.log"), 0);
}

/* The same answers whether SQLite reads a covering index or scans the table. */
static void test_summary(struct mc_index *ix)
{
	struct mc_query_totals t;
	struct mc_query_runtime *v = NULL;
	size_t n = 0;

	CHECK_INT(mc_query_summary(&t, &v, &n, ix), 0);
	CHECK_INT(t.entries, 4);
	CHECK_INT(t.by_state[MC_STATE_READY], 2);
	CHECK_INT(t.by_state[MC_STATE_FAILED], 1);
	CHECK_INT(t.by_state[MC_STATE_BUILDING], 1);
	CHECK_INT(t.by_state[MC_STATE_EVICTING], 0);
	CHECK_INT(t.tree_bytes, 35);
	CHECK_INT(t.image_bytes, 3000);
	CHECK_INT(t.builds, 4);
	CHECK_INT(t.build_failures, 2);
	CHECK_INT(t.build_ms, 5000);
	CHECK_INT(n, 4);
	if (n != 4)
		goto done;
	CHECK_STR(v[0].runtime, "cafe");
	CHECK_INT(v[0].entries, 1);
	CHECK_INT(v[0].ready, 0);
	CHECK_STR(v[1].runtime, "claude-code");
	CHECK_INT(v[1].entries, 2);
	CHECK_INT(v[1].ready, 2);
	CHECK_INT(v[1].tree_bytes, 30);
	CHECK_INT(v[1].image_bytes, 3000);
	CHECK_STR(v[1].latest_key, KA2);
	CHECK_STR(v[1].latest_commit, "2222222222222222222222222222222222222222");
	CHECK_STR(v[1].latest_tag, "molcache/claude-code:aaaaaaaaaaab");
	CHECK_INT(v[1].latest_state, MC_STATE_READY);
	CHECK_INT(v[1].latest_created_ms, 200);
	CHECK_INT(v[1].latest_last_used_ms, 400);
	CHECK_STR(v[2].runtime, "codex");
	CHECK_INT(v[2].ready, 0);
	CHECK(v[2].latest_key == NULL);
	CHECK_INT(v[2].latest_state, -1);
	CHECK_STR(v[3].runtime, "gemini-cli");
	CHECK_INT(v[3].entries, 0);
	CHECK_STR(v[3].latest_key, KGONE);
	CHECK(v[3].latest_commit == NULL);
	CHECK_INT(v[3].latest_state, -1);
done:
	mc_query_runtimes_free(v, n);
}

static void test_builds(struct mc_index *ix)
{
	struct mc_query_build *v = NULL;
	size_t n = 0;
	CHECK_INT(mc_query_builds(ix, &v, &n, KB), 0);
	CHECK_INT(n, 2);
	if (n == 2) {
		/* oldest first, whatever the insertion order */
		CHECK_INT(v[0].started_ms, 250);
		CHECK(v[0].log_path == NULL);
		CHECK_INT(v[1].started_ms, 290);
		CHECK_INT(v[1].duration_ms, 700);
		CHECK_INT(v[1].ok, 0);
		CHECK_STR(v[1].log_path, "/logs/b.log");
	}
	mc_query_builds_free(v, n);
}

static void test_find(struct mc_index *ix)
{
	static const struct {
		const char *what;
		size_t limit;
		const char *how; /* NULL = nothing found */
		size_t n;
		const char *first;
	} cases[] = {
		{ "claude-code", 0, "runtime", 1, "aaaaaaaaaaab0000000000000000000000000000000000000000000000000002" },
		{ "codex", 0, "runtime", 1, "bbbbbbbbbbbb0000000000000000000000000000000000000000000000000003" },
		/* the runtime "cafe" shadows the key prefix "cafe" */
		{ "cafe", 0, "runtime", 1, "cafe00000000000000000000000000000000000000000000000000000000004c" },
		{ "cafe0", 0, "prefix", 1, "cafe00000000000000000000000000000000000000000000000000000000004c" },
		/* the pointer names a vanished key and the runtime has no rows */
		{ "gemini-cli", 0, NULL, 0, NULL },
		{ "molcache/claude-code:latest", 0, "tag", 1, "aaaaaaaaaaab0000000000000000000000000000000000000000000000000002" },
		{ "claude-code:latest", 0, "tag", 1, "aaaaaaaaaaab0000000000000000000000000000000000000000000000000002" },
		{ "molcache/claude-code:aaaaaaaaaaaa", 0, "tag", 1, "aaaaaaaaaaaa0000000000000000000000000000000000000000000000000001" },
		{ "codex:bbbbbbbbbbbb", 0, "tag", 1, "bbbbbbbbbbbb0000000000000000000000000000000000000000000000000003" },
		{ "codex:latest", 0, NULL, 0, NULL },
		{ "molcache/codex:aaaaaaaaaaaa", 0, NULL, 0, NULL },
		{ "aaaa", 0, "prefix", 2, "aaaaaaaaaaaa0000000000000000000000000000000000000000000000000001" },
		{ "AAAAAAAAAAAB", 0, "prefix", 1, "aaaaaaaaaaab0000000000000000000000000000000000000000000000000002" },
		{ "a", 1, "prefix", 1, "aaaaaaaaaaaa0000000000000000000000000000000000000000000000000001" },
		{ "bbbbbbbbbbbb0000000000000000000000000000000000000000000000000003", 0, "prefix", 1,
		  "bbbbbbbbbbbb0000000000000000000000000000000000000000000000000003" },
		{ "bbbbbbbbbbbb00000000000000000000000000000000000000000000000000030", 0, NULL, 0, NULL },
		{ "e", 0, NULL, 0, NULL },
		{ "xyz", 0, NULL, 0, NULL },
		{ "", 0, NULL, 0, NULL },
		{ ":latest", 0, NULL, 0, NULL },
		{ "a'; DROP TABLE entries; --", 0, NULL, 0, NULL },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
		struct mc_strv found = MC_STRV_INIT;
		const char *how = "unset";
		CHECK_INT(mc_query_find(ix, &found, &how, cases[i].what, cases[i].limit), 0);
		CHECK_INT(found.n, cases[i].n);
		if (cases[i].how)
			CHECK_STR(how, cases[i].how);
		else if (how)
			CHECK_STR(how, "(null)");
		if (cases[i].first && found.n)
			CHECK_STR(found.v[0], cases[i].first);
		if (found.n != cases[i].n)
			fprintf(stderr, "  case '%s'\n", cases[i].what);
		mc_strv_release(&found);
	}
}

int main(void)
{
	char *dir = tmp_dir();
	char *path = mc_asprintf("%s/index.db", dir);
	struct mc_index *ix = NULL;

	CHECK_INT(mc_index_open(&ix, path), 0);
	if (!ix)
		return t_done();
	test_empty(ix);
	fill(ix);
	test_summary(ix); /* whichever plan the schema gives */
	CHECK_INT(sqlite3_exec(mc_index_db(ix),
			       "CREATE INDEX test_cover ON entries(runtime, state, tree_bytes, image_bytes)", NULL, NULL,
			       NULL),
		  SQLITE_OK);
	test_summary(ix);
	test_builds(ix);
	test_find(ix);
	/* the runtime falls back to its newest ready row when :latest is unset */
	{
		struct mc_strv found = MC_STRV_INIT;
		sqlite3_exec(mc_index_db(ix), "DELETE FROM latest", NULL, NULL, NULL);
		CHECK_INT(mc_query_find(ix, &found, NULL, "claude-code", 0), 0);
		CHECK(found.n == 1 && !strcmp(found.v[0], KA1));
		mc_strv_release(&found);
	}
	mc_index_free(ix);
	mc_rm_rf(dir);
	free(path);
	free(dir);
	return t_done();
}
