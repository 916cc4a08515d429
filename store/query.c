/* query.c — read-only aggregates and lookups on the index for the status, ls, show and explain views. */
#include "query.h"
#include "names.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

/* SQLite's words, under the same message shape as the rest of the index. */
static int q_err(sqlite3 *db, int rc, const char *what)
{
	int prim = rc & 0xff;
	int code = prim == SQLITE_BUSY || prim == SQLITE_LOCKED ? MC_ELOCKED : MC_ERR;
	const char *path = sqlite3_db_filename(db, "main");
	mc_error_set(code, "index '%s': %s: %s", path ? path : "?", what, sqlite3_errmsg(db));
	if (code == MC_ELOCKED)
		mc_error_hint("another molcache process kept the index busy; try again");
	else if (mc_index_rc_corrupt(rc))
		mc_error_hint(MC_INDEX_REPAIR_HINT);
	return code;
}

static int q_prepare(sqlite3_stmt **out, sqlite3 *db, const char *sql, const char *what)
{
	int rc = sqlite3_prepare_v2(db, sql, -1, out, NULL);
	return rc == SQLITE_OK ? 0 : q_err(db, rc, what);
}

/* NULL for an SQL NULL. */
static char *col_str(sqlite3_stmt *st, int i)
{
	const unsigned char *s = sqlite3_column_text(st, i);
	return s ? mc_strdup((const char *)s) : NULL;
}

/* Is there an index that covers the summary (runtime, state first; both byte
 * columns in it)? Then SQLite reads only that index. */
static int covering_index(sqlite3 *db, int *out)
{
	static const char sql[] =
		"SELECT count(*) FROM pragma_index_list('entries') il"
		" WHERE (SELECT name FROM pragma_index_info(il.name) WHERE seqno = 0) = 'runtime'"
		" AND (SELECT name FROM pragma_index_info(il.name) WHERE seqno = 1) = 'state'"
		" AND EXISTS (SELECT 1 FROM pragma_index_info(il.name) WHERE name = 'tree_bytes')"
		" AND EXISTS (SELECT 1 FROM pragma_index_info(il.name) WHERE name = 'image_bytes')";
	sqlite3_stmt *st = NULL;
	int rc, ret;

	*out = 0;
	if ((ret = q_prepare(&st, db, sql, "summary plan")))
		return ret;
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		*out = sqlite3_column_int(st, 0) > 0;
	else
		ret = q_err(db, rc, "summary plan");
	sqlite3_finalize(st);
	return ret;
}

/* The runtime's slot in *v (appended, zeroed, when new). */
static struct mc_query_runtime *slot(struct mc_query_runtime **v, size_t *n, size_t *cap, const char *runtime)
{
	for (size_t i = 0; i < *n; i++)
		if (!strcmp((*v)[i].runtime, runtime))
			return &(*v)[i];
	if (*n == *cap) {
		*cap = *cap ? *cap * 2 : 8;
		*v = mc_realloc(*v, *cap * sizeof(**v));
	}
	memset(&(*v)[*n], 0, sizeof(**v));
	(*v)[*n].runtime = mc_strdup(runtime);
	(*v)[*n].latest_state = -1;
	return &(*v)[(*n)++];
}

static int cmp_runtime(const void *a, const void *b)
{
	return strcmp(((const struct mc_query_runtime *)a)->runtime, ((const struct mc_query_runtime *)b)->runtime);
}

int mc_query_summary(struct mc_query_totals *out, struct mc_query_runtime **rt, size_t *n, struct mc_index *ix)
{
	/* Without a covering index SQLite would walk entries_runtime_used for the
	 * grouping and fetch every row from the table at random: a sequential
	 * scan is several times faster. */
	static const char agg_covered[] = "SELECT runtime, state, count(*), coalesce(sum(tree_bytes), 0),"
					  " coalesce(sum(image_bytes), 0) FROM entries GROUP BY runtime, state";
	static const char agg_scan[] = "SELECT runtime, state, count(*), coalesce(sum(tree_bytes), 0),"
				       " coalesce(sum(image_bytes), 0) FROM entries NOT INDEXED GROUP BY runtime, state";
	static const char latest_sql[] =
		"SELECT l.runtime, l.key, e.image_tag, e.head_sha, coalesce(e.state, -1), coalesce(e.created_ms, 0),"
		" coalesce(e.last_used_ms, 0) FROM latest l LEFT JOIN entries e ON e.key = l.key";
	sqlite3 *db = mc_index_db(ix);
	sqlite3_stmt *st = NULL;
	struct mc_query_runtime *v = NULL;
	size_t len = 0, cap = 0;
	int rc, ret, covered;

	memset(out, 0, sizeof(*out));
	*rt = NULL;
	*n = 0;
	if ((ret = covering_index(db, &covered)) ||
	    (ret = q_prepare(&st, db, covered ? agg_covered : agg_scan, "summary")))
		goto done;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		const char *name = (const char *)sqlite3_column_text(st, 0);
		int state = sqlite3_column_int(st, 1);
		int64_t cnt = sqlite3_column_int64(st, 2);
		int64_t tb = sqlite3_column_int64(st, 3), ib = sqlite3_column_int64(st, 4);
		out->entries += cnt;
		if (state >= 0 && state < 4)
			out->by_state[state] += cnt;
		out->tree_bytes += tb;
		out->image_bytes += ib;
		if (name) {
			struct mc_query_runtime *r = slot(&v, &len, &cap, name);
			r->entries += cnt;
			if (state == MC_STATE_READY)
				r->ready += cnt;
			r->tree_bytes += tb;
			r->image_bytes += ib;
		}
	}
	if (rc != SQLITE_DONE) {
		ret = q_err(db, rc, "summary");
		goto done;
	}
	sqlite3_finalize(st);
	st = NULL;

	if ((ret = q_prepare(&st, db, latest_sql, "latest pointers")))
		goto done;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct mc_query_runtime *r = slot(&v, &len, &cap, (const char *)sqlite3_column_text(st, 0));
		free(r->latest_key);
		free(r->latest_tag);
		free(r->latest_commit);
		r->latest_key = col_str(st, 1);
		r->latest_tag = col_str(st, 2);
		r->latest_commit = col_str(st, 3);
		r->latest_state = sqlite3_column_int(st, 4);
		r->latest_created_ms = sqlite3_column_int64(st, 5);
		r->latest_last_used_ms = sqlite3_column_int64(st, 6);
	}
	if (rc != SQLITE_DONE) {
		ret = q_err(db, rc, "latest pointers");
		goto done;
	}
	sqlite3_finalize(st);
	st = NULL;

	if ((ret = q_prepare(&st, db,
			     "SELECT count(*), coalesce(sum(ok = 0), 0), coalesce(sum(duration_ms), 0) FROM builds",
			     "build totals")))
		goto done;
	if ((rc = sqlite3_step(st)) != SQLITE_ROW) {
		ret = q_err(db, rc, "build totals");
		goto done;
	}
	out->builds = sqlite3_column_int64(st, 0);
	out->build_failures = sqlite3_column_int64(st, 1);
	out->build_ms = sqlite3_column_int64(st, 2);

	if (len)
		qsort(v, len, sizeof(*v), cmp_runtime);
	*rt = v;
	*n = len;
	v = NULL;
done:
	mc_query_runtimes_free(v, len);
	sqlite3_finalize(st);
	return ret;
}

void mc_query_runtimes_free(struct mc_query_runtime *v, size_t n)
{
	if (!v)
		return;
	for (size_t i = 0; i < n; i++) {
		free(v[i].runtime);
		free(v[i].latest_key);
		free(v[i].latest_tag);
		free(v[i].latest_commit);
	}
	free(v);
}

void mc_query_builds_free(struct mc_query_build *v, size_t n)
{
	if (!v)
		return;
	for (size_t i = 0; i < n; i++)
		free(v[i].log_path);
	free(v);
}

int mc_query_builds(struct mc_index *ix, struct mc_query_build **out, size_t *n, const char *key)
{
	sqlite3 *db = mc_index_db(ix);
	sqlite3_stmt *st = NULL;
	struct mc_query_build *v = NULL;
	size_t len = 0, cap = 0;
	int rc, ret;

	*out = NULL;
	*n = 0;
	if ((ret = q_prepare(&st, db,
			     "SELECT id, started_ms, duration_ms, ok, log_path FROM builds WHERE key = ?1"
			     " ORDER BY started_ms, id",
			     "build history")))
		goto done;
	sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (len == cap) {
			cap = cap ? cap * 2 : 8;
			v = mc_realloc(v, cap * sizeof(*v));
		}
		v[len].id = sqlite3_column_int64(st, 0);
		v[len].started_ms = sqlite3_column_int64(st, 1);
		v[len].duration_ms = sqlite3_column_int64(st, 2);
		v[len].ok = sqlite3_column_int(st, 3) != 0;
		v[len].log_path = col_str(st, 4);
		len++;
	}
	if (rc != SQLITE_DONE) {
		ret = q_err(db, rc, "build history");
		goto done;
	}
	*out = v;
	*n = len;
	v = NULL;
done:
	mc_query_builds_free(v, len);
	sqlite3_finalize(st);
	return ret;
}

/* Runs sql with up to two text parameters and appends column 0 of each row
 * (up to limit rows when limit > 0). */
static int collect(sqlite3 *db, struct mc_strv *out, const char *sql, const char *a, const char *b,
		   size_t limit, const char *what)
{
	sqlite3_stmt *st = NULL;
	size_t got = 0;
	int rc, ret;

	if ((ret = q_prepare(&st, db, sql, what)))
		return ret;
	if (a)
		sqlite3_bind_text(st, 1, a, -1, SQLITE_STATIC);
	if (b)
		sqlite3_bind_text(st, 2, b, -1, SQLITE_STATIC);
	while ((!limit || got < limit) && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		const unsigned char *s = sqlite3_column_text(st, 0);
		if (s && mc_strv_find(out, (const char *)s) < 0) {
			mc_strv_push(out, (const char *)s);
			got++;
		}
	}
	if (limit && got >= limit)
		rc = SQLITE_DONE;
	if (rc != SQLITE_DONE)
		ret = q_err(db, rc, what);
	sqlite3_finalize(st);
	return ret;
}

/* 1 to 64 hex digits, any case: what may be a key's prefix. */
static int is_key_prefix(const char *s)
{
	size_t n = strlen(s);
	return n >= 1 && n <= 64 && mc_is_hex(s, n);
}

/* The key a runtime name stands for: its :latest pointer when the row is
 * there, else its newest row (ready before anything else). */
static int find_runtime(sqlite3 *db, struct mc_strv *out, const char *runtime)
{
	int ret = collect(db, out,
			  "SELECT l.key FROM latest l JOIN entries e ON e.key = l.key WHERE l.runtime = ?1", runtime,
			  NULL, 1, "find runtime");
	if (ret || out->n)
		return ret;
	return collect(db, out,
		       "SELECT key FROM entries WHERE runtime = ?1"
		       " ORDER BY state = 1 DESC, last_used_ms DESC, created_ms DESC, key LIMIT 1",
		       runtime, NULL, 1, "find runtime");
}

/* "<ns>/<rt>:<tag>" or "<rt>:<tag>". */
static int find_tag(sqlite3 *db, struct mc_strv *out, const char *what, size_t limit)
{
	const char *colon = strrchr(what, ':');
	const char *name = what;
	char *rt = NULL, *full = NULL;
	int ret = 0;

	if (!colon || colon == what || !colon[1] || strchr(colon, '/'))
		return 0;
	if (mc_tag_is_ours(name))
		name += strlen(mc_tag_namespace()) + 1;
	if (name >= colon)
		return 0;
	rt = mc_strndup(name, (size_t)(colon - name));
	if (!strcmp(colon + 1, "latest")) {
		ret = collect(db, out,
			      "SELECT l.key FROM latest l JOIN entries e ON e.key = l.key WHERE l.runtime = ?1", rt,
			      NULL, 1, "find tag");
		goto done;
	}
	full = mc_asprintf("%s/%s%s", mc_tag_namespace(), rt, colon);
	ret = collect(db, out, "SELECT key FROM entries WHERE image_tag = ?1 ORDER BY key", full, NULL, limit,
		      "find tag");
done:
	free(rt);
	free(full);
	return ret;
}

int mc_query_find(struct mc_index *ix, struct mc_strv *out, const char **how, const char *what, size_t limit)
{
	sqlite3 *db = mc_index_db(ix);
	struct mc_strv found = MC_STRV_INIT;
	const char *kind = NULL;
	char *lower = NULL, *upper = NULL;
	int ret = 0;

	if (how)
		*how = NULL;
	if (!what || !*what)
		goto done;
	if ((ret = find_runtime(db, &found, what)))
		goto done;
	if (found.n) {
		kind = "runtime";
		goto done;
	}
	if ((ret = find_tag(db, &found, what, limit)))
		goto done;
	if (found.n) {
		kind = "tag";
		goto done;
	}
	if (is_key_prefix(what)) {
		/* keys are lowercase hex: a range on the primary key, not a scan */
		lower = mc_strdup(what);
		for (char *p = lower; *p; p++)
			*p = (char)tolower((unsigned char)*p);
		upper = mc_asprintf("%s~", lower);
		if ((ret = collect(db, &found, "SELECT key FROM entries WHERE key >= ?1 AND key < ?2 ORDER BY key",
				   lower, upper, limit, "find key")))
			goto done;
		if (found.n)
			kind = "prefix";
	}
done:
	if (!ret) {
		mc_strv_sort(&found);
		for (size_t i = 0; i < found.n; i++)
			mc_strv_push(out, found.v[i]);
		if (how)
			*how = kind;
	}
	mc_strv_release(&found);
	free(lower);
	free(upper);
	return ret;
}
