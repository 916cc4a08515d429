/* records.c — what the index keeps beside the entries: build attempts, failures, leases, gc runs, image layers. */
#include "index_impl.h"

#include <stdlib.h>
#include <string.h>

/* ---- build attempts and failure memory ---------------------------------------- */

int mc_index_build_record(struct mc_index *ix, const char *key, int64_t started_ms, int64_t duration_ms,
			  int ok, const char *log_path)
{
	sqlite3_stmt *st = NULL;
	int ret;

	if ((ret = ix_prepare(&st, ix, ST_BUILD_RECORD)) < 0)
		goto done;
	sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, started_ms);
	sqlite3_bind_int64(st, 3, duration_ms);
	sqlite3_bind_int(st, 4, ok ? 1 : 0);
	sqlite3_bind_text(st, 5, log_path, -1, SQLITE_STATIC);
	ret = ix_step_done(ix, st, "record build");
done:
	ix_finish(st);
	return ret;
}

int mc_index_build_count(struct mc_index *ix, const char *key, int64_t *out)
{
	sqlite3_stmt *st = NULL;
	int ret, rc;

	*out = 0;
	if ((ret = ix_prepare_once(&st, ix, "SELECT count(*) FROM builds WHERE key = ?1")))
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
	if ((ret = ix_prepare_once(&st, ix, "SELECT key, count, last_ms, next_ms, step, output, log_path"
					    " FROM failures WHERE key = ?1")))
		goto done;
	sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		out->key = ix_column_str(st, 0);
		out->count = sqlite3_column_int64(st, 1);
		out->last_ms = sqlite3_column_int64(st, 2);
		out->next_ms = sqlite3_column_int64(st, 3);
		out->step = ix_column_str(st, 4);
		out->output = ix_column_str(st, 5);
		out->log_path = ix_column_str(st, 6);
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

	if ((ret = ix_prepare_once(&st, ix, "INSERT INTO failures (key, count, last_ms, next_ms, step, output, log_path)"
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
	ret = ix_step_done(ix, st, "record failure");
done:
	sqlite3_finalize(st);
	return ret;
}

int mc_index_failure_clear(struct mc_index *ix, const char *key)
{
	sqlite3_stmt *st = NULL;
	int ret;

	if ((ret = ix_prepare_once(&st, ix, "DELETE FROM failures WHERE key = ?1")))
		goto done;
	sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
	ret = ix_step_done(ix, st, "clear failure");
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

/* ---- leases (schema v2) ------------------------------------------------------- */

int mc_index_lease_put(struct mc_index *ix, const char *key, int64_t until_ms)
{
	sqlite3_stmt *st = NULL;
	int ret;

	if ((ret = ix_prepare(&st, ix, ST_LEASE_PUT)) < 0)
		goto done;
	sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, until_ms);
	ret = ix_step_done(ix, st, "store lease");
done:
	ix_finish(st);
	return ret;
}

int mc_index_lease_get(struct mc_index *ix, const char *key, int64_t *out_until_ms)
{
	sqlite3_stmt *st = NULL;
	int ret, rc;

	*out_until_ms = 0;
	if ((ret = ix_prepare(&st, ix, ST_LEASE_GET)) < 0)
		goto done;
	sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		*out_until_ms = sqlite3_column_int64(st, 0);
	else if (rc != SQLITE_DONE)
		ret = ix_err(ix, rc, "read lease");
done:
	ix_finish(st);
	return ret;
}

int mc_index_lease_delete(struct mc_index *ix, const char *key)
{
	sqlite3_stmt *st = NULL;
	int ret;

	if ((ret = ix_prepare_once(&st, ix, "DELETE FROM leases WHERE key = ?1")) < 0)
		goto done;
	sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
	if ((ret = ix_step_done(ix, st, "release lease")) < 0)
		goto done;
	if (!sqlite3_changes(ix->db))
		ret = mc_error_set(MC_ENOTFOUND, "key %.12s has no lease", key);
done:
	sqlite3_finalize(st);
	return ret;
}

static void read_lease(void *elem, sqlite3_stmt *st)
{
	struct mc_lease *l = elem;

	l->key = ix_column_str(st, 0);
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
	if ((ret = ix_prepare(&st, ix, ST_LEASES_ACTIVE)) < 0)
		goto done;
	sqlite3_bind_int64(st, 1, now_ms);
	if ((ret = ix_step_rows(ix, st, &v, &len, sizeof(struct mc_lease), read_lease, "list leases")) < 0)
		goto done;
	*out = v;
	*n = len;
	v = NULL;
done:
	mc_leases_free(v, len);
	ix_finish(st);
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

	if ((ret = ix_prepare(&st, ix, ST_LEASES_EXPIRE)) < 0)
		goto done;
	sqlite3_bind_int64(st, 1, now_ms);
	ret = ix_step_done(ix, st, "expire leases");
done:
	ix_finish(st);
	return ret;
}

/* ---- gc runs ------------------------------------------------------------------ */

int mc_index_gc_record(struct mc_index *ix, int64_t *out_id, const struct mc_gc_run *run)
{
	sqlite3_stmt *st = NULL;
	int ret;

	if (out_id)
		*out_id = 0;
	if ((ret = ix_prepare(&st, ix, ST_GC_RECORD)) < 0)
		goto done;
	sqlite3_bind_int64(st, 1, run->started_ms);
	sqlite3_bind_int64(st, 2, run->duration_ms);
	sqlite3_bind_int64(st, 3, run->evicted);
	sqlite3_bind_int64(st, 4, run->bytes_freed);
	sqlite3_bind_int64(st, 5, run->errors);
	sqlite3_bind_text(st, 6, run->detail, -1, SQLITE_STATIC);
	if ((ret = ix_step_done(ix, st, "record gc run")) < 0)
		goto done;
	if (out_id)
		*out_id = sqlite3_last_insert_rowid(ix->db);
done:
	ix_finish(st);
	return ret;
}

int mc_index_last_gc(struct mc_index *ix, struct mc_gc_run *out)
{
	sqlite3_stmt *st = NULL;
	int ret, rc;

	memset(out, 0, sizeof(*out));
	if ((ret = ix_prepare(&st, ix, ST_GC_LAST)) < 0)
		goto done;
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		out->id = sqlite3_column_int64(st, 0);
		out->started_ms = sqlite3_column_int64(st, 1);
		out->duration_ms = sqlite3_column_int64(st, 2);
		out->evicted = sqlite3_column_int64(st, 3);
		out->bytes_freed = sqlite3_column_int64(st, 4);
		out->errors = sqlite3_column_int64(st, 5);
		out->detail = ix_column_str(st, 6);
	} else if (rc == SQLITE_DONE) {
		ret = mc_error_set(MC_ENOTFOUND, "index '%s': last gc run: not found", ix->path);
	} else {
		ret = ix_err(ix, rc, "read last gc run");
	}
done:
	ix_finish(st);
	return ret;
}

void mc_gc_run_release(struct mc_gc_run *r)
{
	if (!r)
		return;
	free(r->detail);
	memset(r, 0, sizeof(*r));
}

/* ---- image layers (schema v5) ---------------------------------------------- */

static void read_image_layers(void *elem, sqlite3_stmt *st)
{
	struct mc_image_layers *l = elem;

	l->image_id = ix_column_str(st, 0);
	l->layers = ix_column_str(st, 1);
}

int mc_index_image_layers_all(struct mc_index *ix, struct mc_image_layers **out, size_t *n)
{
	sqlite3_stmt *st = NULL;
	void *v = NULL; /* struct mc_image_layers[len] */
	size_t len = 0;
	int ret;

	*out = NULL;
	*n = 0;
	if ((ret = ix_prepare_once(&st, ix, "SELECT image_id, layers FROM image_layers ORDER BY image_id")))
		goto done;
	if ((ret = ix_step_rows(ix, st, &v, &len, sizeof(struct mc_image_layers), read_image_layers, "read image layers")) < 0)
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

	if ((ret = ix_prepare_once(&st, ix, "INSERT INTO image_layers (image_id, layers) VALUES (?1, ?2)"
					    " ON CONFLICT (image_id) DO UPDATE SET layers = excluded.layers")))
		goto done;
	sqlite3_bind_text(st, 1, image_id, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, layers, -1, SQLITE_STATIC);
	ret = ix_step_done(ix, st, "store image layers");
done:
	sqlite3_finalize(st);
	return ret;
}

int mc_index_image_layers_delete(struct mc_index *ix, const char *image_id)
{
	sqlite3_stmt *st = NULL;
	int ret;

	if ((ret = ix_prepare_once(&st, ix, "DELETE FROM image_layers WHERE image_id = ?1")))
		goto done;
	sqlite3_bind_text(st, 1, image_id, -1, SQLITE_STATIC);
	ret = ix_step_done(ix, st, "forget image layers");
done:
	sqlite3_finalize(st);
	return ret;
}
