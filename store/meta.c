/* meta.c — small named facts in the index: counters, Dockerfile hashes, meta, the root id, :latest pointers. */
#include "index_impl.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

/* ---- counters, Dockerfile hashes, meta --------------------------------------- */

int mc_index_counter_add(struct mc_index *ix, const char *name, int64_t delta)
{
	sqlite3_stmt *st = NULL;
	int ret;

	if ((ret = ix_prepare(&st, ix, ST_COUNTER_ADD)) < 0)
		goto done;
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, delta);
	ret = ix_step_done(ix, st, "add to counter");
done:
	ix_finish(st);
	return ret;
}

int mc_index_counter_get(struct mc_index *ix, const char *name, int64_t *out)
{
	sqlite3_stmt *st = NULL;
	int ret, rc;

	*out = 0;
	if ((ret = ix_prepare(&st, ix, ST_COUNTER_GET)) < 0)
		goto done;
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		*out = sqlite3_column_int64(st, 0);
	else if (rc != SQLITE_DONE)
		ret = ix_err(ix, rc, "read counter");
done:
	ix_finish(st);
	return ret;
}

int mc_index_dfhash_get(struct mc_index *ix, char out[65], const char *repo_url, const char *commit,
			const char *path)
{
	sqlite3_stmt *st = NULL;
	int ret, rc;

	out[0] = 0;
	if ((ret = ix_prepare(&st, ix, ST_DFHASH_GET)) < 0)
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
	ix_finish(st);
	return ret;
}

int mc_index_dfhash_put(struct mc_index *ix, const char *repo_url, const char *commit, const char *path,
			const char *hash)
{
	sqlite3_stmt *st = NULL;
	int ret;

	if ((ret = ix_prepare(&st, ix, ST_DFHASH_PUT)) < 0)
		goto done;
	sqlite3_bind_text(st, 1, repo_url, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, commit, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, path, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 4, hash, -1, SQLITE_STATIC);
	ret = ix_step_done(ix, st, "store dockerfile hash");
done:
	ix_finish(st);
	return ret;
}

int mc_index_meta_get(struct mc_index *ix, char **out, const char *name)
{
	sqlite3_stmt *st = NULL;
	int ret, rc;

	*out = NULL;
	if ((ret = ix_prepare(&st, ix, ST_META_GET)) < 0)
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
	ix_finish(st);
	return ret;
}

int mc_index_meta_put(struct mc_index *ix, const char *name, const char *value)
{
	sqlite3_stmt *st = NULL;
	int ret;

	if ((ret = ix_prepare(&st, ix, ST_META_PUT)) < 0)
		goto done;
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, value, -1, SQLITE_STATIC);
	ret = ix_step_done(ix, st, "store meta");
done:
	ix_finish(st);
	return ret;
}

/* ---- the root id --------------------------------------------------------------- */

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
	if ((ret = ix_prepare(&st, ix, ST_LEGACY_ROOT)) < 0)
		goto done;
	rc = sqlite3_step(st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
		ret = ix_err(ix, rc, "read meta");
		goto done;
	}
	upgraded = rc == SQLITE_ROW;
	ix_finish(st);
	st = NULL;
	if ((ret = random_hex(fresh)))
		goto done;
	/* a root from before ids existed keeps the id its images already carry */
	const char *id = upgraded && legacy && *legacy ? legacy : fresh;
	if ((ret = ix_prepare(&st, ix, ST_META_ADD)) < 0)
		goto done;
	sqlite3_bind_text(st, 1, MC_META_ROOT_ID, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, id, -1, SQLITE_STATIC);
	if ((ret = ix_step_done(ix, st, "store the root id")))
		goto done;
	/* another process may have made it first: its id wins */
	ret = mc_index_meta_get(ix, &known, MC_META_ROOT_ID);
done:
	ix_finish(st);
	if (!ret)
		snprintf(out, 65, "%s", known);
	free(known);
	return ret;
}

int mc_index_root_id_claim(struct mc_index *ix, char out[65], const char *id, int force)
{
	sqlite3_stmt *st = NULL;
	char *known = NULL;
	int ret;

	out[0] = 0;
	if ((ret = ix_prepare(&st, ix, force ? ST_META_PUT : ST_META_ADD)) < 0)
		goto done;
	sqlite3_bind_text(st, 1, MC_META_ROOT_ID, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, id, -1, SQLITE_STATIC);
	if ((ret = ix_step_done(ix, st, "store the root id")))
		goto done;
	if (!(ret = mc_index_meta_get(ix, &known, MC_META_ROOT_ID)))
		snprintf(out, 65, "%s", known);
done:
	ix_finish(st);
	free(known);
	return ret;
}

/* ---- :latest pointers (schema v2) --------------------------------------------- */

int mc_index_latest_set(struct mc_index *ix, const char *runtime, const char *key)
{
	sqlite3_stmt *st = NULL;
	int ret;

	if ((ret = ix_prepare(&st, ix, ST_LATEST_SET)) < 0)
		goto done;
	sqlite3_bind_text(st, 1, runtime, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, key, -1, SQLITE_STATIC);
	ret = ix_step_done(ix, st, "set latest");
done:
	ix_finish(st);
	return ret;
}

int mc_index_latest_get(struct mc_index *ix, char out[65], const char *runtime)
{
	sqlite3_stmt *st = NULL;
	int ret, rc;

	out[0] = 0;
	if ((ret = ix_prepare(&st, ix, ST_LATEST_GET)) < 0)
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
	ix_finish(st);
	return ret;
}

int mc_index_latest_all(struct mc_index *ix, struct mc_strv *out)
{
	sqlite3_stmt *st = NULL;
	int ret, rc;

	if ((ret = ix_prepare(&st, ix, ST_LATEST_ALL)) < 0)
		goto done;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		const unsigned char *k = sqlite3_column_text(st, 0);
		if (k)
			mc_strv_push(out, (const char *)k);
	}
	if (rc != SQLITE_DONE)
		ret = ix_err(ix, rc, "list latest");
done:
	ix_finish(st);
	return ret;
}
