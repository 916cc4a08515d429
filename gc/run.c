/* run.c — one gc run: the gc lock, stale-state fixes, facts, the plan carried out, the sweeps, the record. */
#include "gc.h"

#include <dirent.h>
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../cache/key.h"

struct run {
	const struct mc_gc_env *env;
	const struct mc_gc_policy *pol;
	struct mc_gc_report *rep;
	size_t cap_stale;
	int64_t deadline; /* monotonic ms; 0 = none */
	struct mc_entry *rows;
	size_t n_rows;
	/* names in trees/ and locks/, listed once (sorted): per-row stat and open
	 * calls cost 100 000-row indexes seconds; every action re-checks anyway */
	struct mc_strv trees, locks;
};

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

/* The key lock is held by someone (an ensure in flight); a missing lock file has no holder. */
static int key_busy(struct run *g, const char *key)
{
	char *lp = mc_lock_path_key(g->env->paths, key);
	int busy = mc_strv_has_sorted(&g->locks, strrchr(lp, '/') + 1) && mc_lock_busy(lp) != 0;
	free(lp);
	return busy;
}

const char *mc_gc_outcome_name(enum mc_gc_outcome o)
{
	switch (o) {
	case MC_GC_DONE: return "done";
	case MC_GC_PLANNED: return "planned";
	case MC_GC_SKIP_BUSY: return "skipped-in-use";
	case MC_GC_SKIP_CHANGED: return "skipped-changed";
	case MC_GC_SKIP_BUDGET: return "skipped-budget";
	case MC_GC_FAILED: return "failed";
	default: return "unknown";
	}
}

/* Only a 64-hex name is ever turned into a path under trees/. */
static int is_key(const char *s)
{
	size_t i = 0;
	for (; s && i < 64; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return 0;
	return s && s[64] == 0;
}

static int over_budget(struct run *g)
{
	if (g->deadline && mc_mono_ms() >= g->deadline)
		g->rep->budget_exhausted = 1;
	return g->rep->budget_exhausted;
}

static void stale_add(struct run *g, const char *kind, const char *what, int done, const char *msg, int64_t bytes)
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
static void stale_fail(struct run *g, const char *kind, const char *what)
{
	stale_add(g, kind, what, 0, mc_error_msg(), 0);
	g->rep->errors++;
}

/* Key lock, exclusive, never waiting: held means in use, so leave it be. */
static int try_lock_key(struct mc_lock *out, struct run *g, const char *key)
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
static int stash(char **out, struct run *g, const char *dir, const char *name)
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
static int purge(int64_t *out_bytes, const char *stashed)
{
	struct stat st;
	*out_bytes = 0;
	if (!stashed)
		return 0;
	if (lstat(stashed, &st) == 0)
		*out_bytes = S_ISDIR(st.st_mode) ? mc_du(stashed) : S_ISREG(st.st_mode) ? st.st_size : 0;
	return mc_rm_rf(stashed);
}

/* Does another row than key hold image_id? Then the image stays. */
static int image_shared(struct run *g, const char *key, const char *image_id)
{
	for (size_t i = 0; i < g->n_rows; i++)
		if (g->rows[i].image_id && strcmp(g->rows[i].key, key) && !strcmp(g->rows[i].image_id, image_id))
			return 1;
	return 0;
}

/*
 * Removes an image by id. The engine refuses (409) an id with more than one
 * tag unless forced, and force would also take an image a stopped container
 * uses; so molcache's own tags (molcache/…) go first, and come back if the
 * image itself must stay (a container uses it). MC_ENOTFOUND when gone.
 */
/*
 * Removes the image id if it is this root's build of key (its molcache.key and
 * molcache.root labels say so): whatever a row holds, gc never removes an image
 * molcache did not build here. Someone else's image counts as gone (MC_ENOTFOUND).
 */
static int remove_image(struct run *g, const char *id, const char *key)
{
	struct mc_engine *eng = g->env->engine;
	struct mc_strv untagged = MC_STRV_INIT;
	json_t *img = NULL;
	char *path = mc_asprintf("/images/%s/json", id);
	int ret;

	if ((ret = mc_engine_get_json(&img, eng, path)))
		goto done;
	json_t *labels = json_object_get(json_object_get(img, "Config"), "Labels");
	const char *lkey = json_string_value(json_object_get(labels, "molcache.key"));
	const char *lroot = json_string_value(json_object_get(labels, "molcache.root"));
	if (!key || !lkey || strcmp(lkey, key) || !lroot || strcmp(lroot, g->env->root_id)) {
		ret = MC_ENOTFOUND;
		goto done;
	}
	json_t *tags = json_object_get(img, "RepoTags");
	for (size_t i = 0; i + 1 < json_array_size(tags); i++) {
		const char *t = json_string_value(json_array_get(tags, i));
		if (!t || strncmp(t, "molcache/", 9))
			continue;
		if ((ret = mc_engine_image_remove(eng, t, 0)) && ret != MC_ENOTFOUND)
			goto done;
		mc_strv_push(&untagged, t);
	}
	ret = mc_engine_image_remove(eng, id, 0);
	if (ret && ret != MC_ENOTFOUND) {
		char msg[1024];
		snprintf(msg, sizeof(msg), "%s", mc_error_msg());
		for (size_t i = 0; i < untagged.n; i++) {
			const char *colon = strrchr(untagged.v[i], ':');
			char *repo = mc_strndup(untagged.v[i], (size_t)(colon - untagged.v[i]));
			mc_engine_image_tag(eng, id, repo, colon + 1);
			free(repo);
		}
		mc_error_set(ret, "%s", msg);
	}
done:
	json_decref(img);
	mc_strv_release(&untagged);
	free(path);
	return ret;
}

/*
 * Under the key lock, on a re-read row: evict (image, tree, row) or drop its
 * tree. A crash anywhere leaves a state the next run finishes: the row says
 * evicting, or the tree sits in tmp/gc-*. *out_image: 1 when an image went.
 */
static int act(struct run *g, const struct mc_entry *e, enum mc_gc_action action, int64_t *out_tree_bytes,
	       int *out_image)
{
	struct mc_index *ix = g->env->index;
	char *stashed = NULL;
	int ret = 0, rm;

	*out_tree_bytes = 0;
	*out_image = 0;
	if (action == MC_GC_EVICT) {
		if (e->state != MC_STATE_EVICTING && (ret = mc_index_set_state(ix, e->key, MC_STATE_EVICTING)))
			goto done;
		const char *name = e->image_id ? e->image_id : e->image_tag;
		rm = !name || (e->image_id && image_shared(g, e->key, e->image_id)) ? MC_ENOTFOUND
		     : e->image_id ? remove_image(g, e->image_id, e->key)
				   : mc_engine_image_remove(g->env->engine, name, 0);
		if (rm && rm != MC_ENOTFOUND) {
			/* 409: a container uses it; keep the entry whole and usable */
			char msg[1024];
			snprintf(msg, sizeof(msg), "%s", mc_error_msg());
			mc_index_set_state(ix, e->key, e->state == MC_STATE_EVICTING ? MC_STATE_READY : e->state);
			ret = mc_error_set(rm, "%s", msg);
			goto done;
		}
		*out_image = rm == 0;
	}
	if ((ret = stash(&stashed, g, g->env->paths->trees, e->key)))
		goto done;
	if (action == MC_GC_EVICT)
		ret = mc_index_delete(ix, e->key);
	else if (e->tree_path)
		ret = mc_index_drop_tree(ix, e->key);
	if (ret)
		goto done;
	ret = purge(out_tree_bytes, stashed);
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
	if (over_budget(g)) {
		res->outcome = MC_GC_SKIP_BUDGET;
		return;
	}
	ret = try_lock_key(&lock, g, it->key);
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
	if (ret || (ret = act(g, &e, it->action, &tree_bytes, &image)))
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

/* ---- stale states, before planning ---------------------------------------- */

/*
 * Rows a dead process left: building (→ failed: ensure rebuilds it), evicting
 * (→ the eviction is finished), and ready/failed rows whose tree vanished (the
 * reference goes, the image stays).
 */
static void fix_rows(struct run *g)
{
	for (size_t i = 0; i < g->n_rows; i++) {
		const struct mc_entry *r = &g->rows[i];
		struct mc_lock lock = MC_LOCK_INIT;
		struct mc_entry e = { 0 };
		struct stat st;
		int ret;

		if (!is_key(r->key))
			continue;
		char *tree;
		int tree_gone = r->tree_path && !mc_strv_has_sorted(&g->trees, r->key);
		int stuck = r->state == MC_STATE_BUILDING || r->state == MC_STATE_EVICTING;
		if (!stuck && !tree_gone)
			continue;
		const char *kind = r->state == MC_STATE_BUILDING ? "building"
				   : r->state == MC_STATE_EVICTING ? "evicting"
								   : "tree-ref";
		if (g->pol->dry_run) {
			/* a dry run takes no lock (that would create lock files) */
			if (!key_busy(g, r->key))
				stale_add(g, kind, r->key, 0, "dry run", 0);
			continue;
		}
		if ((ret = try_lock_key(&lock, g, r->key)) == MC_ELOCKED)
			continue; /* alive: an ensure or a hit holds it */
		if (ret) {
			stale_fail(g, kind, r->key);
			continue;
		}
		if ((ret = mc_index_get(g->env->index, &e, r->key)) == MC_ENOTFOUND)
			goto next;
		if (ret) {
			stale_fail(g, kind, r->key);
			goto next;
		}
		if (e.state == MC_STATE_BUILDING) {
			if ((ret = mc_index_set_state(g->env->index, e.key, MC_STATE_FAILED)))
				stale_fail(g, "building", e.key);
			else
				stale_add(g, "building", e.key, 1, "marked failed", 0);
		} else if (e.state == MC_STATE_EVICTING) {
			int64_t tb = 0;
			int image = 0;
			if ((ret = act(g, &e, MC_GC_EVICT, &tb, &image)))
				stale_fail(g, "evicting", e.key);
			else
				stale_add(g, "evicting", e.key, 1, "eviction finished", tb);
		} else {
			tree = mc_asprintf("%s/%s", g->env->paths->trees, e.key);
			if (e.tree_path && lstat(tree, &st) && errno == ENOENT) {
				if ((ret = mc_index_drop_tree(g->env->index, e.key)))
					stale_fail(g, "tree-ref", e.key);
				else
					stale_add(g, "tree-ref", e.key, 1, "tree gone; reference dropped", 0);
			}
			free(tree);
		}
	next:
		mc_entry_release(&e);
		mc_lock_release(&lock);
	}
}

/* ---- facts and plan --------------------------------------------------------- */

struct facts {
	struct mc_gc_facts *f;
	struct mc_gc_layer **layers;
	struct mc_strv pinned;
	struct mc_strv latest;
	struct mc_lease *leases;
	size_t n_leases;
	json_t *images; /* GET /images/json?filters=… with molcache.key label */
};

static void facts_release(struct facts *fa, size_t n)
{
	for (size_t i = 0; fa->layers && i < n; i++)
		free(fa->layers[i]);
	free(fa->layers);
	free(fa->f);
	mc_strv_release(&fa->pinned);
	mc_strv_release(&fa->latest);
	mc_leases_free(fa->leases, fa->n_leases);
	json_decref(fa->images);
}

static const struct mc_entry *row_of(struct run *g, const char *key)
{
	for (size_t i = 0; key && i < g->n_rows; i++)
		if (!strcmp(g->rows[i].key, key))
			return &g->rows[i];
	return NULL;
}

/* An image that is some row's image. */
static int gather(struct facts *fa, struct run *g)
{
	static const struct mc_gc_layer none[1];
	struct mc_index *ix = g->env->index;
	struct mc_strv engine_ids = MC_STRV_INIT, row_ids = MC_STRV_INIT, runtimes = MC_STRV_INIT;
	json_t *all = NULL;
	int ret;

	fa->f = mc_calloc(g->n_rows ? g->n_rows : 1, sizeof(*fa->f));
	fa->layers = mc_calloc(g->n_rows ? g->n_rows : 1, sizeof(*fa->layers));
	if ((ret = mc_index_latest_all(ix, &fa->latest)))
		goto done;
	if ((ret = mc_index_leases_active(ix, &fa->leases, &fa->n_leases, g->rep->started_ms)))
		goto done;
	/* Without a recorded :latest, the newest ready row of a runtime is what
	 * ensure served last, so it stands in (one lookup per runtime). */
	for (size_t i = 0; i < g->n_rows; i++) {
		const struct mc_entry *e = &g->rows[i];
		char k[65];
		if (e->state != MC_STATE_READY || !e->runtime || mc_strv_find(&runtimes, e->runtime) >= 0)
			continue;
		mc_strv_push(&runtimes, e->runtime);
		if (mc_index_latest_get(ix, k, e->runtime) == MC_ENOTFOUND) {
			struct mc_entry nw = { 0 };
			if (!mc_index_newest_ready(ix, &nw, e->runtime) && mc_strv_find(&fa->latest, nw.key) < 0)
				mc_strv_push(&fa->latest, nw.key);
			mc_entry_release(&nw);
		}
	}
	mc_error_clear();
	/* Every image the engine holds (all=1: untagged parents too), once: a row
	 * whose image is gone costs no request (100 000 rows must not mean as many). */
	if ((ret = mc_engine_get_json(&all, g->env->engine, "/images/json?all=1")))
		goto done;
	for (size_t i = 0; i < json_array_size(all); i++) {
		const char *id = json_string_value(json_object_get(json_array_get(all, i), "Id"));
		if (id)
			mc_strv_push(&engine_ids, id);
	}
	mc_strv_sort(&engine_ids);
	json_decref(all);
	all = NULL;
	for (size_t i = 0; i < g->n_rows; i++) {
		const struct mc_entry *e = &g->rows[i];
		struct mc_gc_facts *f = &fa->f[i];
		f->locked = key_busy(g, e->key);
		f->latest = mc_strv_find(&fa->latest, e->key) >= 0;
		for (size_t k = 0; k < fa->n_leases; k++)
			f->leased |= !strcmp(fa->leases[k].key, e->key);
		if (!e->image_id)
			continue;
		mc_strv_push(&row_ids, e->image_id);
		size_t n = 0;
		ret = mc_strv_has_sorted(&engine_ids, e->image_id)
			      ? mc_gc_image_layers(&fa->layers[i], &n, g->env->engine, e->image_id)
			      : MC_ENOTFOUND;
		if (ret == MC_ENOTFOUND) {
			f->layers = none; /* gone already: removing it frees nothing */
			ret = 0;
			continue;
		}
		if (ret)
			goto done;
		f->layers = fa->layers[i];
		f->n_layers = n;
	}
	mc_strv_sort(&row_ids);
	/* Layers of every other image are pinned: removing a row image never frees them. */
	if ((ret = mc_engine_get_json(&all, g->env->engine, "/images/json")))
		goto done;
	for (size_t i = 0; i < json_array_size(all); i++) {
		const char *id = json_string_value(json_object_get(json_array_get(all, i), "Id"));
		struct mc_gc_layer *ls = NULL;
		size_t n = 0;
		if (!id || mc_strv_has_sorted(&row_ids, id))
			continue;
		ret = mc_gc_image_layers(&ls, &n, g->env->engine, id);
		for (size_t k = 0; !ret && k < n; k++)
			mc_strv_push(&fa->pinned, ls[k].chain);
		free(ls);
		if (ret && ret != MC_ENOTFOUND)
			goto done;
		ret = 0;
	}
	mc_strv_sort(&fa->pinned);
	/* only this root's images: another root may share the engine */
	char *path = mc_asprintf("/images/json?filters=%%7B%%22label%%22%%3A%%5B%%22molcache.key%%22%%2C"
			   "%%22molcache.root%%3D%s%%22%%5D%%7D", g->env->root_id);
	ret = mc_engine_get_json(&fa->images, g->env->engine, path);
	free(path);
done:
	json_decref(all);
	mc_strv_release(&engine_ids);
	mc_strv_release(&row_ids);
	mc_strv_release(&runtimes);
	return ret;
}

/* ---- sweeps, after the plan --------------------------------------------- */

static int64_t age_ms(const struct stat *st, int64_t now_ms)
{
	return now_ms - ((int64_t)st->st_mtim.tv_sec * 1000 + st->st_mtim.tv_nsec / 1000000);
}

/* tmp/: gc's own leftovers at once; an ensure's checkout ("<key>.<pid>") when
 * its key lock is free and it is older than the grace; anything else when older. */
static void sweep_tmp(struct run *g)
{
	const char *dir = g->env->paths->tmp;
	DIR *d = opendir(dir);
	struct dirent *de;

	if (!d)
		return;
	while ((de = readdir(d))) {
		struct mc_lock lock = MC_LOCK_INIT;
		struct stat st;
		const char *n = de->d_name;
		char key[65] = "";
		if (!strcmp(n, ".") || !strcmp(n, ".."))
			continue;
		char *path = mc_asprintf("%s/%s", dir, n);
		int mine = !strncmp(n, "gc-", 3);
		if (lstat(path, &st))
			goto next;
		if (!mine && age_ms(&st, g->rep->started_ms) < g->pol->grace_ms)
			goto next;
		if (!mine && strlen(n) > 65 && n[64] == '.') {
			memcpy(key, n, 64);
			if (!is_key(key))
				key[0] = 0;
		}
		if (g->pol->dry_run) {
			stale_add(g, "tmp", path, 0, "dry run", S_ISDIR(st.st_mode) ? mc_du(path) : st.st_size);
			goto next;
		}
		if (key[0] && try_lock_key(&lock, g, key))
			goto next; /* its ensure is still alive */
		int64_t bytes = S_ISDIR(st.st_mode) ? mc_du(path) : S_ISREG(st.st_mode) ? st.st_size : 0;
		if (mc_rm_rf(path))
			stale_fail(g, "tmp", path);
		else
			stale_add(g, "tmp", path, 1, NULL, bytes);
	next:
		mc_lock_release(&lock);
		free(path);
	}
	closedir(d);
}

/* trees/ entries no row refers to. A key name is checked again under its lock:
 * ensure writes the row before the tree appears. */
static void sweep_trees(struct run *g)
{
	const char *dir = g->env->paths->trees;
	DIR *d = opendir(dir);
	struct dirent *de;
	struct mc_strv names = MC_STRV_INIT;

	if (!d)
		return;
	while ((de = readdir(d)))
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
			mc_strv_push(&names, de->d_name);
	closedir(d);
	mc_strv_sort(&names);
	for (size_t i = 0; i < names.n; i++) {
		struct mc_lock lock = MC_LOCK_INIT;
		struct mc_entry e = { 0 };
		const char *n = names.v[i];
		char *stashed = NULL, *path = mc_asprintf("%s/%s", dir, n);
		int64_t bytes = 0;
		int ret;

		if (is_key(n) && row_of(g, n))
			goto next;
		if (g->pol->dry_run) {
			stale_add(g, "tree", path, 0, "dry run", mc_du(path));
			goto next;
		}
		if (over_budget(g))
			goto next;
		if (is_key(n)) {
			if (try_lock_key(&lock, g, n))
				goto next;
			ret = mc_index_get(g->env->index, &e, n);
			if (ret != MC_ENOTFOUND) {
				if (ret)
					stale_fail(g, "tree", path);
				goto next;
			}
		}
		if ((ret = stash(&stashed, g, dir, n)) || (ret = purge(&bytes, stashed)))
			stale_fail(g, "tree", path);
		else if (stashed)
			stale_add(g, "tree", path, 1, NULL, bytes);
	next:
		mc_entry_release(&e);
		mc_lock_release(&lock);
		free(stashed);
		free(path);
	}
	mc_strv_release(&names);
}

/* Images labelled molcache.key that no row owns: reported; removed with --orphans. */
static void sweep_images(struct run *g, json_t *images)
{
	for (size_t i = 0; i < json_array_size(images); i++) {
		json_t *im = json_array_get(images, i);
		const char *id = json_string_value(json_object_get(im, "Id"));
		const char *key = json_string_value(json_object_get(json_object_get(im, "Labels"), "molcache.key"));
		json_int_t size = json_integer_value(json_object_get(im, "Size"));
		struct mc_lock lock = MC_LOCK_INIT;
		struct mc_entry e = { 0 };
		int ret;

		if (!id || !key)
			continue;
		const struct mc_entry *r = row_of(g, key);
		/* a building row has no image id yet: its image is on its way */
		if (r && (r->state == MC_STATE_BUILDING || (r->image_id && !strcmp(r->image_id, id))))
			continue;
		if (!g->pol->orphans || g->pol->dry_run) {
			stale_add(g, "orphan-image", id, 0, g->pol->dry_run ? "dry run" : "kept; --orphans removes it",
				  size);
			continue;
		}
		if (over_budget(g))
			continue;
		if (is_key(key) && try_lock_key(&lock, g, key))
			continue;
		ret = mc_index_get(g->env->index, &e, key);
		if (ret && ret != MC_ENOTFOUND) {
			stale_fail(g, "orphan-image", id);
		} else if (ret == MC_ENOTFOUND || !e.image_id || strcmp(e.image_id, id)) {
			ret = remove_image(g, id, key);
			if (ret && ret != MC_ENOTFOUND)
				stale_fail(g, "orphan-image", id);
			else
				stale_add(g, "orphan-image", id, 1, NULL, ret ? 0 : size);
		}
		mc_entry_release(&e);
		mc_lock_release(&lock);
	}
}

/* repos/<sha256(url)>.git that no row's url (repo_prefix + runtime) names,
 * and any repos/<sha256(url)>.git.tmp a crashed mirror creation left. */
static void sweep_mirrors(struct run *g)
{
	const char *dir = g->env->paths->repos;
	struct mc_strv used = MC_STRV_INIT;
	DIR *d = opendir(dir);
	struct dirent *de;

	if (!d)
		return;
	for (size_t i = 0; i < g->n_rows; i++) {
		char hex[65], *url = mc_asprintf("%s%s", g->rows[i].repo_prefix ? g->rows[i].repo_prefix : "",
						  g->rows[i].runtime ? g->rows[i].runtime : "");
		mc_sha256_hex(hex, url, strlen(url));
		mc_strv_push(&used, hex);
		free(url);
	}
	while ((de = readdir(d))) {
		const char *n = de->d_name;
		struct mc_lock lock = MC_LOCK_INIT;
		struct stat st;
		char hex[65];

		/* <hex>.git.tmp: a mirror creation that crashed; debris, whoever uses the repo */
		int debris = strlen(n) == 72 && !strcmp(n + 64, ".git.tmp");
		const char *kind = debris ? "mirror-tmp" : "mirror";

		if (!debris && (strlen(n) != 68 || strcmp(n + 64, ".git")))
			continue;
		memcpy(hex, n, 64);
		hex[64] = 0;
		if (!is_key(hex) || (!debris && mc_strv_find(&used, hex) >= 0))
			continue;
		char *path = mc_asprintf("%s/%s", dir, n);
		char *lp = mc_lock_path_repo(g->env->paths, hex);
		if (lstat(path, &st) || age_ms(&st, g->rep->started_ms) < g->pol->grace_ms)
			goto next; /* an ensure may have fetched it a moment before writing its row */
		if (g->pol->dry_run || (!debris && !g->pol->prune_mirrors)) {
			stale_add(g, kind, path, 0, g->pol->dry_run ? "dry run" : "kept; --prune-mirrors removes it",
				  mc_du(path));
			goto next;
		}
		if (over_budget(g) || mc_lock_take(&lock, lp, MC_LOCK_EXCLUSIVE, 0))
			goto next;
		int64_t bytes = mc_du(path);
		if (mc_rm_rf(path))
			stale_fail(g, kind, path);
		else
			stale_add(g, kind, path, 1, NULL, bytes);
	next:
		mc_lock_release(&lock);
		free(path);
		free(lp);
	}
	closedir(d);
	mc_strv_release(&used);
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
		if (is_key(g->rows[i].key))
			g->rows[kept++] = g->rows[i];
		else
			mc_entry_release(&g->rows[i]);
	}
	g->n_rows = kept;
	return 0;
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
	if (!pol->dry_run && (ret = mc_index_leases_expire(env->index, out->started_ms)))
		goto done;
	if ((ret = load_rows(&g)))
		goto done;
	list_names(&g.trees, env->paths->trees);
	list_names(&g.locks, env->paths->locks);
	fix_rows(&g);
	if (!pol->dry_run && (ret = load_rows(&g)))
		goto done;

	n_facts = g.n_rows;
	if ((ret = gather(&fa, &g)))
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
	sweep_tmp(&g);
	sweep_trees(&g);
	sweep_images(&g, fa.images);
	sweep_mirrors(&g);
	out->duration_ms = mc_mono_ms() - t0;
	if (!pol->dry_run) {
		struct mc_gc_run rec = { 0, out->started_ms, out->duration_ms, out->evicted, out->bytes_freed,
					 out->errors, NULL };
		rec.detail = mc_gc_report_json(out, pol);
		ret = mc_index_gc_record(env->index, &out->run_id, &rec);
		free(rec.detail);
	}
done:
	facts_release(&fa, n_facts);
	mc_entries_free(g.rows, g.n_rows);
	mc_strv_release(&g.trees);
	mc_strv_release(&g.locks);
	mc_lock_release(&gc_lock);
	free(lp);
	return ret;
}

void mc_gc_report_release(struct mc_gc_report *r)
{
	if (!r)
		return;
	for (size_t i = 0; r->results && i < r->plan.n; i++)
		free(r->results[i].msg);
	free(r->results);
	mc_gc_plan_release(&r->plan);
	for (size_t i = 0; i < r->n_stale; i++) {
		free(r->stale[i].what);
		free(r->stale[i].msg);
	}
	free(r->stale);
	memset(r, 0, sizeof(*r));
}
