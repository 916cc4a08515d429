/* entries.c — the entries table: one row per cached key, its state, lists of rows. */
#include "index_impl.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

/* Column order of ENTRY_COLS (index_impl.h): the strings first, then state, then the int64s. */
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

static void read_entry(void *elem, sqlite3_stmt *st)
{
	struct mc_entry *out = elem;

	memset(out, 0, sizeof(*out));
	for (int i = 0; i < N_STR; i++)
		*(char **)((char *)out + entry_str[i]) = ix_column_str(st, i);
	out->state = sqlite3_column_int(st, N_STR);
	for (int i = 0; i < N_I64; i++)
		*(int64_t *)((char *)out + entry_i64[i]) = sqlite3_column_int64(st, N_STR + 1 + i);
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
	if ((ret = ix_prepare(&st, ix, ST_GET)) < 0)
		goto done;
	sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
	ret = one_entry(ix, out, st, "entry", key);
done:
	ix_finish(st);
	return ret;
}

int mc_index_put(struct mc_index *ix, const struct mc_entry *e)
{
	sqlite3_stmt *st = NULL;
	int ret;

	if (!e->key)
		MC_BUG("mc_index_put: entry without key");
	if ((ret = ix_prepare(&st, ix, ST_PUT)) < 0)
		goto done;
	/* A NULL pointer binds SQL NULL. */
	for (int i = 0; i < N_STR; i++)
		sqlite3_bind_text(st, i + 1, *(char *const *)((const char *)e + entry_str[i]), -1, SQLITE_STATIC);
	sqlite3_bind_int(st, N_STR + 1, e->state);
	for (int i = 0; i < N_I64; i++)
		sqlite3_bind_int64(st, N_STR + 2 + i, *(const int64_t *)((const char *)e + entry_i64[i]));
	ret = ix_step_done(ix, st, "store entry");
done:
	ix_finish(st);
	return ret;
}

/* Runs an UPDATE/DELETE keyed on ?1 = key, ?2 = value; MC_ENOTFOUND when no row matched. */
static int update_key(struct mc_index *ix, int id, const char *key, int64_t value, const char *what,
		      int missing_ok)
{
	sqlite3_stmt *st = NULL;
	int ret;

	if ((ret = ix_prepare(&st, ix, id)) < 0)
		goto done;
	sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
	if (sqlite3_bind_parameter_count(st) >= 2)
		sqlite3_bind_int64(st, 2, value);
	if ((ret = ix_step_done(ix, st, what)) < 0)
		goto done;
	if (!missing_ok && sqlite3_changes(ix->db) == 0)
		ret = mc_error_set(MC_ENOTFOUND, "index '%s': %s '%s': not found", ix->path, what, key);
done:
	ix_finish(st);
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
	if ((ret = ix_prepare(&st, ix, ST_NEWEST)) < 0)
		goto done;
	sqlite3_bind_text(st, 1, runtime, -1, SQLITE_STATIC);
	ret = one_entry(ix, out, st, "ready entry for runtime", runtime);
done:
	ix_finish(st);
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
	if ((ret = ix_prepare(&st, ix, runtime ? ST_LIST_RUNTIME : ST_LIST_ALL)) < 0)
		goto done;
	if (runtime)
		sqlite3_bind_text(st, 1, runtime, -1, SQLITE_STATIC);
	if ((ret = ix_step_rows(ix, st, &v, &len, sizeof(struct mc_entry), read_entry, "list entries")) < 0)
		goto done;
	*out = v;
	*n = len;
	v = NULL;
done:
	mc_entries_free(v, len);
	ix_finish(st);
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

int mc_index_drop_tree(struct mc_index *ix, const char *key)
{
	return update_key(ix, ST_DROP_TREE, key, 0, "drop tree of entry", 0);
}

int mc_index_has_entries(struct mc_index *ix, int *out)
{
	sqlite3_stmt *st = NULL;
	int ret, rc;

	*out = 0;
	if ((ret = ix_prepare(&st, ix, ST_ANY_ENTRY)) < 0)
		goto done;
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		*out = 1;
	else if (rc != SQLITE_DONE)
		ret = ix_err(ix, rc, "read entries");
done:
	ix_finish(st);
	return ret;
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
	if ((ret = ix_prepare_once(&st, ix, sql)))
		goto done;
	sqlite3_bind_text(st, 1, runtime, -1, SQLITE_STATIC);
	if ((ret = ix_step_rows(ix, st, &v, &len, sizeof(struct mc_entry), read_entry, "list ready entries")) < 0)
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
