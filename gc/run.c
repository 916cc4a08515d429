/* run.c — one gc run (mc_gc_run): the gc lock, the stages in order, the plan carried out under key locks, the record. */
#include "run_impl.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static void list_names(struct mc_strv *out, const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;

	while (d && (de = readdir(d)))
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
			mc_strv_push(out, de->d_name);
	if (d)
		closedir(d);
	mc_strv_sort(out);
}

/* ---- what the stages share (run_impl.h) -------------------------------------- */

/* The key lock is held by someone (an ensure in flight); a missing lock file has no holder. */
int gc_key_busy(struct run *g, const char *key)
{
	char *lp = mc_lock_path_key(g->env->paths, key);
	int busy = mc_strv_has_sorted(&g->locks, strrchr(lp, '/') + 1) && mc_lock_busy(lp) != 0;
	free(lp);
	return busy;
}

int gc_over_budget(struct run *g)
{
	if (g->deadline && mc_mono_ms() >= g->deadline)
		g->rep->budget_exhausted = 1;
	return g->rep->budget_exhausted;
}

void gc_stale_add(struct run *g, const char *kind, const char *what, int done, const char *msg, int64_t bytes)
{
	struct mc_gc_report *r = g->rep;
	if (r->n_stale == g->cap_stale) {
		g->cap_stale = g->cap_stale ? g->cap_stale * 2 : 16;
		r->stale = mc_realloc(r->stale, g->cap_stale * sizeof(*r->stale));
	}
	struct mc_gc_stale *s = &r->stale[r->n_stale++];
	s->kind = kind;
	s->what = mc_strdup(what);
	s->done = done;
	s->msg = msg ? mc_strdup(msg) : NULL;
	s->bytes = bytes;
	if (done)
		r->bytes_freed += bytes;
}

/* An error on a sweep item: counted, kept in the report, the run goes on. */
void gc_stale_fail(struct run *g, const char *kind, const char *what)
{
	gc_stale_add(g, kind, what, 0, mc_error_msg(), 0);
	g->rep->errors++;
}

/* Key lock, exclusive, never waiting: held means in use, so leave it be. */
int gc_try_lock_key(struct mc_lock *out, struct run *g, const char *key)
{
	char *path = mc_lock_path_key(g->env->paths, key);
	int ret = mc_lock_take(out, path, MC_LOCK_EXCLUSIVE, 0);
	free(path);
	return ret;
}

/*
 * Moves root/<dir>/<name> out of the way into tmp/gc-<name>.<pid> with one
 * rename (a symlink moves as a link; its target is never touched). *out is
 * the new path, or NULL when there was nothing. The caller purges it.
 */
int gc_stash(char **out, struct run *g, const char *dir, const char *name)
{
	char *src = mc_asprintf("%s/%s", dir, name);
	char *dst = mc_asprintf("%s/gc-%s.%ld", g->env->paths->tmp, name, (long)getpid());
	struct stat st;
	int ret = 0;

	*out = NULL;
	if (lstat(src, &st)) {
		if (errno != ENOENT)
			ret = mc_error_errno(src);
		goto done;
	}
	if ((ret = mc_rm_rf(dst)))
		goto done;
	if (rename(src, dst)) {
		ret = errno == ENOENT ? 0 : mc_error_errno(src);
		goto done;
	}
	*out = dst;
	dst = NULL;
done:
	free(src);
	free(dst);
	return ret;
}

/* Deletes a stashed path; its bytes (regular files, no symlink followed). */
int gc_purge(int64_t *out_bytes, const char *stashed)
{
	struct stat st;
	*out_bytes = 0;
	if (!stashed)
		return 0;
	if (lstat(stashed, &st) == 0)
		*out_bytes = S_ISDIR(st.st_mode) ? mc_du(stashed) : S_ISREG(st.st_mode) ? st.st_size : 0;
	return mc_rm_rf(stashed);
}

static int cmp_row_key(const void *a, const void *b)
{
	return strcmp((*(const struct mc_entry *const *)a)->key, (*(const struct mc_entry *const *)b)->key);
}

static int cmp_row_image(const void *a, const void *b)
{
	int c = strcmp((*(const struct mc_entry *const *)a)->image_id, (*(const struct mc_entry *const *)b)->image_id);
	return c ? c : cmp_row_key(a, b);
}

/* The row of key, or NULL (a bsearch over bykey). */
const struct mc_entry *gc_row_of(struct run *g, const char *key)
{
	struct mc_entry probe = { .key = (char *)key };
	const struct mc_entry *pp = &probe, **hit;
	if (!key || !g->n_rows)
		return NULL;
	hit = bsearch(&pp, g->bykey, g->n_rows, sizeof(*g->bykey), cmp_row_key);
	return hit ? *hit : NULL;
}

/* Does another row than key hold image_id? Then the image stays. The rows of
 * one image are adjacent in byimage: find the first, walk the run. */
int gc_image_shared(struct run *g, const char *key, const char *image_id)
{
	size_t lo = 0, hi = g->n_byimage;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (strcmp(g->byimage[mid]->image_id, image_id) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	for (; lo < g->n_byimage && !strcmp(g->byimage[lo]->image_id, image_id); lo++)
		if (strcmp(g->byimage[lo]->key, key))
			return 1;
	return 0;
}

/* The lookup tables over g->rows (rebuilt whenever the rows change). */
void gc_index_rows(struct run *g)
{
	free(g->bykey);
	free(g->byimage);
	g->bykey = mc_calloc(g->n_rows ? g->n_rows : 1, sizeof(*g->bykey));
	g->byimage = mc_calloc(g->n_rows ? g->n_rows : 1, sizeof(*g->byimage));
	g->n_byimage = 0;
	for (size_t i = 0; i < g->n_rows; i++) {
		g->bykey[i] = &g->rows[i];
		if (g->rows[i].image_id)
			g->byimage[g->n_byimage++] = &g->rows[i];
	}
	qsort(g->bykey, g->n_rows, sizeof(*g->bykey), cmp_row_key);
	qsort(g->byimage, g->n_byimage, sizeof(*g->byimage), cmp_row_image);
}

/* ---- removing an image, evicting an entry ------------------------------------ */

/* The image id a name (a tag) points at now, or "" when it names none. */
static void id_of(char out[80], struct mc_engine *eng, const char *name)
{
	struct mc_image img = MC_IMAGE_INIT;
	out[0] = 0;
	if (!mc_engine_image_inspect(eng, name, &img))
		snprintf(out, 80, "%s", img.id);
	mc_image_release(&img);
	mc_error_clear();
}

/* An image pulled from a registry (docs/fleet.md) carries the root id of the
 * host that built it; this root's index says it pulled it, and its tags here
 * are this root's to remove like a build's. */
static int pulled_here(struct run *g, const char *key)
{
	char *name = mc_asprintf("%s%s", MC_META_ORIGIN_PREFIX, key), *v = NULL;
	int yes = !mc_index_meta_get(g->env->index, &v, name) && v && !strcmp(v, "pulled");

	mc_error_clear();
	free(v);
	free(name);
	return yes;
}

/*
 * Removes image id if it is this root's build of key (its molcache.key and
 * molcache.root labels say so): whatever a row holds, gc never removes an image
 * molcache did not build here (someone else's counts as gone: MC_ENOTFOUND).
 *
 * Only molcache's own tags go, each by name, never by force, and never the id:
 * the engine deletes the image with its last tag, and keeps it while another
 * tag (a user's `docker tag … myapp:prod`) or a container holds it. A tag is
 * looked up again right before its removal, in case an ensure moved it (a
 * :latest) to a newer image meanwhile. 0 when the image is gone or stays for a
 * reason; *out_removed 1 when it went now, else *out_note (malloc'd) says why
 * it stayed. MC_ENOTFOUND when it was gone already.
 */
int gc_remove_image(int *out_removed, char **out_note, struct run *g, const char *id, const char *key)
{
	struct mc_engine *eng = g->env->engine;
	struct mc_image img = MC_IMAGE_INIT, after = MC_IMAGE_INIT;
	int ret, in_use = 0, untagged = 0;

	*out_removed = 0;
	*out_note = NULL;
	if ((ret = mc_engine_image_inspect(eng, id, &img)))
		goto done;
	const char *lkey = mc_image_label(&img, "molcache.key");
	const char *lroot = mc_image_label(&img, "molcache.root");
	if (!key || !lkey || strcmp(lkey, key) || !lroot || (strcmp(lroot, g->env->root_id) && !pulled_here(g, key))) {
		ret = MC_ENOTFOUND;
		goto done;
	}
	for (size_t i = 0; i < img.tags.n; i++) {
		const char *t = img.tags.v[i];
		char now[80];
		if (!mc_tag_is_ours(t))
			continue;
		id_of(now, eng, t);
		if (strcmp(now, id))
			continue; /* moved on (or gone): not this image's any more */
		ret = mc_engine_image_remove(eng, t, 0);
		if (ret == MC_ELOCKED) /* 409: its last tag, and a container uses it */
			in_use = 1;
		else if (ret && ret != MC_ENOTFOUND)
			goto done;
		untagged += !ret;
		ret = 0;
	}
	/* what is left says whether the image went, and if not, why */
	ret = mc_engine_image_inspect(eng, id, &after);
	if (ret == MC_ENOTFOUND) {
		mc_error_clear();
		*out_removed = 1;
		ret = 0;
		goto done;
	}
	if (ret)
		goto done;
	const char *other = NULL;
	for (size_t i = 0; i < after.tags.n && !other; i++)
		if (!mc_tag_is_ours(after.tags.v[i]))
			other = after.tags.v[i];
	if (other)
		*out_note = mc_asprintf("kept: also tagged %s", other);
	else if (in_use)
		*out_note = mc_strdup("kept: used by a container");
	else if (after.tags.n)
		*out_note = mc_strdup("kept: still tagged");
	else if (untagged) /* the engine keeps an untagged parent */
		*out_note = mc_strdup("kept: another image is built on it");
	else /* nothing names it: `docker image prune` may take it; gc never deletes by id */
		*out_note = mc_strdup("kept: it has no molcache tag (gc never deletes by id)");
done:
	mc_image_release(&after);
	mc_image_release(&img);
	return ret;
}

/* A row without an image id names its image by tag only: the tag goes unless
 * it now names an image another cache root built (two roots on one engine). */
static int remove_tag_if_ours(struct run *g, const char *tag, char **out_note)
{
	struct mc_image img = MC_IMAGE_INIT;
	const char *root;
	int ret = mc_engine_image_inspect(g->env->engine, tag, &img);

	if (!ret && (root = mc_image_label(&img, "molcache.root")) && strcmp(root, g->env->root_id)) {
		*out_note = mc_asprintf("kept: %s names an image of cache root %s", tag, root);
		ret = MC_ENOTFOUND;
	} else if (!ret || ret == MC_ENOTFOUND) {
		ret = mc_engine_image_remove(g->env->engine, tag, 0);
	}
	mc_image_release(&img);
	return ret;
}

/*
 * Under the key lock, on a re-read row: evict (image, tree, row) or drop its
 * tree. Frees first, records afterwards: on a full disk the row's "evicting"
 * may not be writable, and the image and tree still go; the row goes last,
 * when their space is back. A crash anywhere leaves a state the next run
 * finishes: the row says evicting (or ready with its image or tree gone), or
 * the tree sits in tmp/gc-*. *out_image: 1 when an image went.
 */
int gc_act(struct run *g, const struct mc_entry *e, enum mc_gc_action action, int64_t *out_tree_bytes,
	   int *out_image, char **out_note)
{
	struct mc_index *ix = g->env->index;
	char *stashed = NULL;
	int ret = 0, rm, removed = 0;

	*out_tree_bytes = 0;
	*out_image = 0;
	*out_note = NULL;
	if (action == MC_GC_EVICT) {
		if (e->state != MC_STATE_EVICTING && mc_index_set_state(ix, e->key, MC_STATE_EVICTING))
			mc_error_clear(); /* only a hint for a crash: the eviction goes on */
		/* a row without an image id names its image by a tag: only one of ours goes, by name */
		const char *tag = e->image_tag && mc_tag_is_ours(e->image_tag) ? e->image_tag : NULL;
		rm = e->image_id ? (gc_image_shared(g, e->key, e->image_id)
					    ? MC_ENOTFOUND
					    : gc_remove_image(&removed, out_note, g, e->image_id, e->key))
		     : tag ? remove_tag_if_ours(g, tag, out_note)
			   : MC_ENOTFOUND;
		if (rm == MC_ELOCKED && !e->image_id) {
			*out_note = mc_strdup("kept: used by a container");
			rm = 0;
		} else if (!rm && !e->image_id) {
			removed = 1;
		}
		if (rm && rm != MC_ENOTFOUND) {
			/* the engine failed: keep the entry whole and usable */
			char msg[1024];
			snprintf(msg, sizeof(msg), "%s", mc_error_msg());
			mc_index_set_state(ix, e->key, e->state == MC_STATE_EVICTING ? MC_STATE_READY : e->state);
			ret = mc_error_set(rm, "%s", msg);
			goto done;
		}
		*out_image = rm == 0 && removed;
	}
	if ((ret = gc_stash(&stashed, g, g->env->paths->trees, e->key)) ||
	    (ret = gc_purge(out_tree_bytes, stashed)))
		goto done;
	if (action == MC_GC_EVICT)
		ret = mc_index_delete(ix, e->key);
	else if (e->tree_path)
		ret = mc_index_drop_tree(ix, e->key);
done:
	free(stashed);
	return ret;
}

static void do_item(struct run *g, size_t i)
{
	struct mc_gc_item *it = &g->rep->plan.items[i];
	struct mc_gc_result *res = &g->rep->results[i];
	struct mc_lock lock = MC_LOCK_INIT;
	struct mc_entry e = { 0 };
	int64_t tree_bytes = 0;
	int image = 0, ret;

	if (g->pol->dry_run) {
		res->outcome = MC_GC_PLANNED;
		return;
	}
	if (gc_over_budget(g)) {
		res->outcome = MC_GC_SKIP_BUDGET;
		return;
	}
	ret = gc_try_lock_key(&lock, g, it->key);
	if (ret == MC_ELOCKED) {
		res->outcome = MC_GC_SKIP_BUSY;
		return;
	}
	if (ret)
		goto fail;
	ret = mc_index_get(g->env->index, &e, it->key);
	if (ret == MC_ENOTFOUND || (!ret && (e.last_used_ms != it->last_used_ms ||
					     (e.state != MC_STATE_READY && e.state != MC_STATE_FAILED)))) {
		res->outcome = MC_GC_SKIP_CHANGED;
		goto done;
	}
	if (ret || (ret = gc_act(g, &e, it->action, &tree_bytes, &image, &res->note)))
		goto fail;
	res->outcome = MC_GC_DONE;
	res->bytes_freed = tree_bytes + (image ? it->image_bytes : 0);
	g->rep->bytes_freed += res->bytes_freed;
	if (it->action == MC_GC_EVICT)
		g->rep->evicted++;
	else
		g->rep->trees_dropped++;
	goto done;
fail:
	res->outcome = MC_GC_FAILED;
	res->msg = mc_strdup(mc_error_msg());
	g->rep->errors++;
done:
	mc_entry_release(&e);
	mc_lock_release(&lock);
}

/* ---- the run ---------------------------------------------------------------- */

/* The index's rows; a row whose key is not 64 hex is none of gc's business
 * (its lock path, tree path and image would be whatever it says): left alone. */
static int load_rows(struct run *g)
{
	size_t kept = 0;
	int ret;

	mc_entries_free(g->rows, g->n_rows);
	g->rows = NULL;
	g->n_rows = 0;
	if ((ret = mc_index_list(g->env->index, &g->rows, &g->n_rows, NULL)))
		return ret;
	for (size_t i = 0; i < g->n_rows; i++) {
		if (mc_is_key(g->rows[i].key))
			g->rows[kept++] = g->rows[i];
		else
			mc_entry_release(&g->rows[i]);
	}
	g->n_rows = kept;
	gc_index_rows(g);
	return 0;
}

/* After the freeing: expired leases go (the plan honoured only live ones) and
 * the run is recorded. Either failing is a warning in the report: what was
 * freed is freed, and on a full disk this is exactly when gc runs. */
static void record(struct mc_gc_report *out, struct run *g)
{
	struct mc_gc_run rec = { 0, out->started_ms, out->duration_ms, out->evicted, out->bytes_freed, out->errors,
				 NULL };

	rec.detail = mc_gc_report_json(out, g->pol);
	if (mc_index_leases_expire(g->env->index, out->started_ms) ||
	    mc_index_gc_record(g->env->index, &out->run_id, &rec)) {
		out->record_error = mc_error_code();
		out->record_warning = mc_strdup(mc_error_msg());
		mc_error_clear();
	}
	free(rec.detail);
}

int mc_gc_run(struct mc_gc_report *out, const struct mc_gc_env *env, const struct mc_gc_policy *pol)
{
	struct run g = { .env = env, .pol = pol, .rep = out };
	struct mc_lock gc_lock = MC_LOCK_INIT;
	struct facts fa = { 0 };
	char *lp = mc_lock_path_gc(env->paths);
	int64_t t0 = mc_mono_ms();
	size_t n_facts = 0;
	int ret;

	memset(out, 0, sizeof(*out));
	out->started_ms = mc_now_ms();
	out->dry_run = pol->dry_run;
	/* a dry run changes nothing, not even by creating the lock file */
	ret = pol->dry_run ? (mc_lock_busy(lp) > 0 ? MC_ELOCKED : 0) : mc_lock_take(&gc_lock, lp, MC_LOCK_EXCLUSIVE, 0);
	if (ret) {
		if (ret == MC_ELOCKED) {
			mc_error_set(MC_ELOCKED, "gc: another gc is running (it holds '%s')", lp);
			mc_error_hint("wait for it to finish; cron runs should not overlap");
		}
		goto done;
	}
	if (pol->max_runtime_ms > 0)
		g.deadline = t0 + pol->max_runtime_ms;
	/* free first: a crash's leftovers in tmp/ (a checkout is ~40 MB) give the
	 * index room to record the evictions on a full disk (a dry run lists
	 * them once, in the sweep after the plan) */
	if (!pol->dry_run)
		gc_sweep_tmp(&g);
	if ((ret = load_rows(&g)))
		goto done;
	list_names(&g.trees, env->paths->trees);
	list_names(&g.locks, env->paths->locks);
	gc_fix_rows(&g);
	if (!pol->dry_run && (ret = load_rows(&g)))
		goto done;
	if ((ret = gc_list_engine(&g)))
		goto done;
	gc_sweep_gone(&g);
	if (!pol->dry_run && (ret = load_rows(&g)))
		goto done;

	n_facts = g.n_rows;
	if ((ret = gc_gather(&fa, &g)))
		goto done;
	struct mc_gc_input in = { g.rows, fa.f, g.n_rows, (const char *const *)fa.pinned.v, fa.pinned.n,
				  out->started_ms };
	mc_gc_plan_make(&out->plan, &in, pol);
	out->results = mc_calloc(out->plan.n ? out->plan.n : 1, sizeof(*out->results));
	for (size_t i = 0; i < out->plan.n; i++)
		do_item(&g, i);

	/* the sweeps look at the world after the evictions */
	if (!pol->dry_run && (ret = load_rows(&g)))
		goto done;
	gc_sweep_tmp(&g);
	gc_sweep_trees(&g);
	gc_sweep_images(&g, fa.images, fa.n_images);
	gc_sweep_mirrors(&g);
	out->duration_ms = mc_mono_ms() - t0;
	if (!pol->dry_run)
		record(out, &g);
done:
	gc_facts_release(&fa, n_facts);
	mc_entries_free(g.rows, g.n_rows);
	mc_strv_release(&g.trees);
	mc_strv_release(&g.locks);
	mc_strv_release(&g.engine_ids);
	free(g.bykey);
	free(g.byimage);
	mc_lock_release(&gc_lock);
	free(lp);
	return ret;
}
