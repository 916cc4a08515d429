/* recover.c — doctor --repair: a sound index again, its rows and tags from the images' labels. */
#include "recover.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>


void mc_repair_report_release(struct mc_repair_report *r)
{
	if (!r)
		return;
	free(r->moved_to);
	free(r->damage);
	mc_strv_release(&r->skipped);
	memset(r, 0, sizeof(*r));
}

/* Is the index at path damaged? 1 yes, with the damage in *why (malloc'd)
 * and the root id it still gives, if any, in id; 0 sound; < 0 it cannot be
 * told (busy, permission denied, …): nothing may be moved then. A schema
 * newer than this binary is not damage. */
static int index_damage(const char *path, char **why, char id[65])
{
	struct mc_index *ix = NULL;
	char *known = NULL;
	int ret;

	*why = NULL;
	id[0] = 0;
	if ((ret = mc_index_damaged(path)) != 1)
		return ret;
	*why = mc_strdup(mc_error_msg());
	/* a damaged file may still answer for one small row */
	if (!mc_index_open_readonly(&ix, path) && !mc_index_meta_get(ix, &known, MC_META_ROOT_ID) &&
	    strlen(known) <= 64)
		snprintf(id, 65, "%s", known);
	mc_error_clear();
	free(known);
	mc_index_free(ix);
	return 1;
}

/* index.db → index.db.corrupt-<UTC time>, its WAL beside it; the shared
 * memory file describes the old WAL and goes. */
static int move_aside(const char *path, char **out)
{
	char stamp[32], *to = NULL, *wal = NULL, *wal_to = NULL, *shm = NULL;
	time_t now = time(NULL);
	struct tm tm;
	int ret = 0;

	gmtime_r(&now, &tm);
	strftime(stamp, sizeof(stamp), "%Y%m%dT%H%M%SZ", &tm);
	to = mc_asprintf("%s.corrupt-%s", path, stamp);
	for (int n = 2; access(to, F_OK) == 0; n++) {
		free(to);
		to = mc_asprintf("%s.corrupt-%s.%d", path, stamp, n);
	}
	if (rename(path, to)) {
		ret = mc_error_errno(path);
		goto done;
	}
	wal = mc_asprintf("%s-wal", path);
	wal_to = mc_asprintf("%s-wal", to);
	if (rename(wal, wal_to) && errno != ENOENT) {
		ret = mc_error_errno(wal);
		goto done;
	}
	shm = mc_asprintf("%s-shm", path);
	if (unlink(shm) && errno != ENOENT) {
		ret = mc_error_errno(shm);
		goto done;
	}
	*out = to;
	to = NULL;
done:
	free(to);
	free(wal);
	free(wal_to);
	free(shm);
	return ret;
}

/* The root id repair works for (see mc_repair). */
static int repair_root_id(struct mc_ctx *ctx, struct mc_index *ix, const struct mc_repair_opts *opts,
			  const char *old_id, struct mc_repair_report *out)
{
	char *known = NULL, found[65];
	int ret;

	if (opts->root_id) {
		out->root_from = "--root-id";
		ret = mc_index_root_id_claim(ix, out->root_id, opts->root_id, 1);
		goto done;
	}
	ret = mc_index_meta_get(ix, &known, MC_META_ROOT_ID);
	if (!ret) {
		out->root_from = "index";
		snprintf(out->root_id, 65, "%s", known);
		goto done;
	}
	if (ret != MC_ENOTFOUND)
		goto done;
	if (old_id[0]) {
		out->root_from = "damaged index";
		ret = mc_index_root_id_claim(ix, out->root_id, old_id, 0);
		goto done;
	}
	ret = mc_ctx_recover_root_id(ctx, found);
	if (!ret) {
		out->root_from = "labels";
		ret = mc_index_root_id_claim(ix, out->root_id, found, 0);
	} else if (ret == MC_ENOTFOUND) {
		/* nothing in the engine is this root's: a new root */
		mc_error_clear();
		out->root_from = "new";
		ret = mc_index_root_id(ix, out->root_id, NULL);
	}
done:
	if (!ret)
		snprintf(ctx->root_id, sizeof(ctx->root_id), "%s", out->root_id);
	free(known);
	return ret;
}

static int by_created(const void *a, const void *b)
{
	int64_t x = (*(const struct mc_image *const *)a)->created;
	int64_t y = (*(const struct mc_image *const *)b)->created;
	return x < y ? -1 : x > y;
}

static int has_tag(const struct mc_image *image, const char *tag)
{
	return mc_strv_find(&image->tags, tag) >= 0;
}

/* Each runtime whose :latest names no ready row gets the image carrying
 * molcache/<runtime>:latest, else its newest. rows[i] came from images[i]. */
static int repair_latest(struct mc_index *ix, struct mc_engine *eng, struct mc_entry *rows, const struct mc_image **images, size_t n,
			 struct mc_repair_report *out)
{
	struct mc_strv done_rt = MC_STRV_INIT;
	int ret = 0;

	for (size_t i = 0; i < n && !ret; i++) {
		const char *rt = rows[i].runtime;
		struct mc_entry cur = { 0 };
		char key[65], *latest = NULL, *repo = NULL;
		size_t pick = i;

		if (!rt || mc_strv_find(&done_rt, rt) >= 0)
			continue;
		mc_strv_push(&done_rt, rt);
		if (!mc_index_latest_get(ix, key, rt) && !mc_index_get(ix, &cur, key) && cur.state == MC_STATE_READY) {
			mc_entry_release(&cur);
			continue;
		}
		mc_entry_release(&cur);
		mc_error_clear();
		latest = mc_asprintf("%s/%s:latest", mc_tag_namespace(), rt);
		for (size_t j = 0; j < n; j++) {
			if (!rows[j].runtime || strcmp(rows[j].runtime, rt))
				continue;
			if (has_tag(images[j], latest)) {
				pick = j;
				break;
			}
			if (rows[j].created_ms >= rows[pick].created_ms)
				pick = j;
		}
		repo = mc_image_repo(rt);
		if (!has_tag(images[pick], latest))
			ret = mc_engine_image_tag(eng, rows[pick].image_id, repo, "latest");
		if (!ret && !(ret = mc_index_latest_set(ix, rt, rows[pick].key)))
			out->latest_set++;
		free(latest);
		free(repo);
	}
	mc_strv_release(&done_rt);
	return ret;
}

int mc_repair(struct mc_ctx *ctx, const struct mc_repair_opts *opts, struct mc_repair_report *out)
{
	struct mc_index *ix;
	struct mc_engine *eng;
	struct mc_strv want = MC_STRV_INIT;
	struct mc_entry *rows = NULL;
	struct mc_image *list = NULL;
	const struct mc_image **images = NULL;
	char old_id[65] = "", *root_label = NULL;
	size_t n = 0, nrows = 0;
	struct stat st;
	int ret;

	memset(out, 0, sizeof(*out));
	/* nothing is moved before the engine, which the rows come back from, answers */
	if ((ret = mc_ctx_engine(ctx, &eng)) || (ret = mc_ctx_lock_root(ctx)))
		goto done;
	if (stat(ctx->paths.index, &st) == 0) {
		if ((ret = index_damage(ctx->paths.index, &out->damage, old_id)) < 0)
			goto done;
		if (ret == 1 && (ret = move_aside(ctx->paths.index, &out->moved_to)))
			goto done;
	}
	if ((ret = mc_ctx_index(ctx, &ix)))
		goto done;
	if ((ret = repair_root_id(ctx, ix, opts, old_id, out)))
		goto done;

	root_label = mc_asprintf("molcache.root=%s", out->root_id);
	mc_strv_push(&want, root_label);
	mc_strv_push(&want, "molcache.key");
	if ((ret = mc_engine_image_list(&list, &n, eng, &want, 0)))
		goto done;
	images = mc_calloc(n + 1, sizeof(*images));
	for (size_t i = 0; i < n; i++)
		images[i] = &list[i];
	/* oldest first: for a key with two images, the newest one's row wins */
	qsort(images, n, sizeof(*images), by_created);
	rows = mc_calloc(n + 1, sizeof(*rows));
	out->images = (int64_t)n;
	if ((ret = mc_index_begin(ix)))
		goto done;
	for (size_t i = 0; i < n; i++) {
		struct mc_entry e, cur = { 0 };
		const char *id = images[i]->id;
		if (mc_entry_from_image(&e, images[i], ctx->paths.trees, mc_now_ms())) {
			char *why = mc_asprintf("%.19s: %s", id ? id : "?", mc_error_msg());
			mc_strv_push(&out->skipped, why);
			free(why);
			mc_error_clear();
			continue;
		}
		if (!mc_index_get(ix, &cur, e.key) && cur.state == MC_STATE_READY && cur.image_id &&
		    !strcmp(cur.image_id, e.image_id)) {
			out->kept++;
		} else if ((ret = mc_index_put(ix, &e))) {
			mc_entry_release(&cur);
			mc_entry_release(&e);
			goto rollback;
		} else {
			out->restored++;
		}
		mc_entry_release(&cur);
		mc_error_clear();
		/* the same key twice: the newer image replaces the older's row */
		size_t at = nrows;
		for (size_t j = 0; j < nrows; j++)
			if (!strcmp(rows[j].key, e.key))
				at = j;
		if (at < nrows)
			mc_entry_release(&rows[at]);
		else
			nrows++;
		rows[at] = e;
		images[at] = images[i];
	}
	if ((ret = mc_index_commit(ix)))
		goto rollback;
	/* the key tag ensure serves by */
	for (size_t i = 0; i < nrows; i++) {
		char *repo = mc_image_repo(rows[i].runtime);
		if (!has_tag(images[i], rows[i].image_tag))
			ret = mc_engine_image_tag(eng, rows[i].image_id, repo, rows[i].image_tag + strlen(repo) + 1);
		free(repo);
		if (ret)
			goto done;
	}
	ret = repair_latest(ix, eng, rows, images, nrows, out);
	goto done;
rollback:
	mc_index_rollback(ix);
done:
	mc_images_free(list, n);
	free(images);
	mc_entries_free(rows, nrows);
	mc_strv_release(&want);
	free(root_label);
	return ret;
}
