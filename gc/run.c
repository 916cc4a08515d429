/* run.c — one gc run: the gc lock, stale-state fixes, facts, the plan carried out, the sweeps, the record. */
#include "gc.h"

#include "../engine/engine.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>


struct run {
	const struct mc_gc_env *env;
	const struct mc_gc_policy *pol;
	struct mc_gc_report *rep;
	size_t cap_stale;
	int64_t deadline; /* monotonic ms; 0 = none */
	struct mc_entry *rows;
	size_t n_rows;
	/* rows sorted by key and by image id (load_rows): every lookup a bsearch,
	 * so no sweep is rows × something */
	const struct mc_entry **bykey, **byimage;
	size_t n_byimage;
	/* every image id the engine holds (all=1), sorted: one request per run */
	struct mc_strv engine_ids;
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
static const struct mc_entry *row_of(struct run *g, const char *key)
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
static int image_shared(struct run *g, const char *key, const char *image_id)
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
static void index_rows(struct run *g)
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
static int remove_image(int *out_removed, char **out_note, struct run *g, const char *id, const char *key)
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
		if (strncmp(t, "molcache/", 9))
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
		if (strncmp(after.tags.v[i], "molcache/", 9))
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

/*
 * Under the key lock, on a re-read row: evict (image, tree, row) or drop its
 * tree. A crash anywhere leaves a state the next run finishes: the row says
 * evicting, or the tree sits in tmp/gc-*. *out_image: 1 when an image went.
 */
static int act(struct run *g, const struct mc_entry *e, enum mc_gc_action action, int64_t *out_tree_bytes,
	       int *out_image, char **out_note)
{
	struct mc_index *ix = g->env->index;
	char *stashed = NULL;
	int ret = 0, rm, removed = 0;

	*out_tree_bytes = 0;
	*out_image = 0;
	*out_note = NULL;
	if (action == MC_GC_EVICT) {
		if (e->state != MC_STATE_EVICTING && (ret = mc_index_set_state(ix, e->key, MC_STATE_EVICTING)))
			goto done;
		/* a row without an image id names its image by a tag: only a molcache/ one goes, by name */
		const char *tag = e->image_tag && !strncmp(e->image_tag, "molcache/", 9) ? e->image_tag : NULL;
		rm = e->image_id ? (image_shared(g, e->key, e->image_id)
					    ? MC_ENOTFOUND
					    : remove_image(&removed, out_note, g, e->image_id, e->key))
		     : tag ? mc_engine_image_remove(g->env->engine, tag, 0)
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
	if (ret || (ret = act(g, &e, it->action, &tree_bytes, &image, &res->note)))
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
			char *note = NULL;
			if ((ret = act(g, &e, MC_GC_EVICT, &tb, &image, &note)))
				stale_fail(g, "evicting", e.key);
			else
				stale_add(g, "evicting", e.key, 1, note ? note : "eviction finished", tb);
			free(note);
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

/* ---- rows whose image is gone ------------------------------------------------ */

/* Every image id the engine holds (all=1: untagged parents too), once per run:
 * a row whose image is gone then costs no request (100 000 rows must not mean
 * as many). */
static int list_engine(struct run *g)
{
	struct mc_image *all = NULL;
	size_t n = 0;
	int ret = mc_engine_image_list(&all, &n, g->env->engine, NULL, 1);

	for (size_t i = 0; !ret && i < n; i++)
		mc_strv_push(&g->engine_ids, all[i].id);
	mc_strv_sort(&g->engine_ids);
	mc_images_free(all, n);
	return ret;
}

/* Keeps only the rows whose key is not in drop (sorted). */
static void forget_rows(struct run *g, const struct mc_strv *drop)
{
	size_t kept = 0;
	for (size_t i = 0; i < g->n_rows; i++) {
		if (!mc_strv_has_sorted(drop, g->rows[i].key))
			g->rows[kept++] = g->rows[i];
		else
			mc_entry_release(&g->rows[i]);
	}
	g->n_rows = kept;
	index_rows(g);
}

/*
 * Ready and failed rows whose image the engine no longer holds (a `docker rmi`
 * behind molcache's back) are dropped as an eviction drops them (tree too), so
 * status stops counting bytes that are not there and the next ensure of the key
 * builds again. A row being built has no image to lose and is left alone, and
 * so is any row whose key lock is held; under the lock the row is read again
 * and the engine asked about that one image (the list is older than the lock).
 * A dry run reports them and leaves them out of the plan, as a real run would.
 */
static void sweep_gone(struct run *g)
{
	struct mc_strv gone = MC_STRV_INIT;

	for (size_t i = 0; i < g->n_rows; i++) {
		const struct mc_entry *r = &g->rows[i];
		struct mc_lock lock = MC_LOCK_INIT;
		struct mc_entry e = { 0 };
		int64_t tb = 0;
		int image = 0, ret;
		char *note = NULL;

		if ((r->state != MC_STATE_READY && r->state != MC_STATE_FAILED) || !r->image_id ||
		    mc_strv_has_sorted(&g->engine_ids, r->image_id))
			continue;
		if (g->pol->dry_run) {
			if (!key_busy(g, r->key)) {
				stale_add(g, "image-gone", r->key, 0, "dry run", r->tree_path ? r->tree_bytes : 0);
				mc_strv_push(&gone, r->key);
			}
			continue;
		}
		if ((ret = try_lock_key(&lock, g, r->key)) == MC_ELOCKED)
			continue;
		if (ret) {
			stale_fail(g, "image-gone", r->key);
			continue;
		}
		if ((ret = mc_index_get(g->env->index, &e, r->key)) == MC_ENOTFOUND)
			goto next;
		if (ret) {
			stale_fail(g, "image-gone", r->key);
			goto next;
		}
		if ((e.state != MC_STATE_READY && e.state != MC_STATE_FAILED) || !e.image_id ||
		    strcmp(e.image_id, r->image_id))
			goto next; /* rebuilt or taken meanwhile */
		ret = mc_engine_image_inspect(g->env->engine, e.image_id, NULL);
		if (!ret)
			goto next; /* there after all (built between the list and the lock) */
		if (ret != MC_ENOTFOUND) {
			stale_fail(g, "image-gone", e.key);
			goto next;
		}
		mc_error_clear();
		if ((ret = act(g, &e, MC_GC_EVICT, &tb, &image, &note)))
			stale_fail(g, "image-gone", e.key);
		else
			stale_add(g, "image-gone", e.key, 1, "image gone; entry dropped", tb);
	next:
		free(note);
		mc_entry_release(&e);
		mc_lock_release(&lock);
	}
	if (g->pol->dry_run && gone.n) {
		mc_strv_sort(&gone);
		forget_rows(g, &gone);
	}
	mc_strv_release(&gone);
}

/* ---- facts and plan --------------------------------------------------------- */

struct facts {
	struct mc_gc_facts *f;
	struct mc_gc_layer **layers;
	struct mc_strv pinned;
	struct mc_strv latest;
	struct mc_lease *leases;
	size_t n_leases;
	struct mc_image *images; /* this root's images labelled molcache.key */
	size_t n_images;
	/* image_layers as the index remembers them (sorted by id), and what this
	 * run learnt (parallel vectors) */
	struct mc_image_layers *known;
	size_t n_known;
	struct mc_strv new_ids, new_layers;
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
	mc_images_free(fa->images, fa->n_images);
	mc_image_layers_free(fa->known, fa->n_known);
	mc_strv_release(&fa->new_ids);
	mc_strv_release(&fa->new_layers);
}

static int cmp_known(const void *a, const void *b)
{
	return strcmp(((const struct mc_image_layers *)a)->image_id, ((const struct mc_image_layers *)b)->image_id);
}

static int cmp_lease(const void *a, const void *b)
{
	return strcmp(((const struct mc_lease *)a)->key, ((const struct mc_lease *)b)->key);
}

/*
 * The layers of image id: remembered in the index when gc saw the id before
 * (an image's layers never change), else asked of the engine (inspect +
 * history, counted in layer_lookups) and remembered at the end of the run.
 */
static int layers_of(struct mc_gc_layer **out, size_t *n, struct facts *fa, struct run *g, const char *id)
{
	struct mc_image_layers probe = { .image_id = (char *)id };
	const struct mc_image_layers *k =
		fa->n_known ? bsearch(&probe, fa->known, fa->n_known, sizeof(*fa->known), cmp_known) : NULL;
	int ret;

	if (k && !mc_gc_layers_decode(out, n, k->layers))
		return 0;
	mc_error_clear(); /* unreadable: ask again, and the answer replaces it */
	g->rep->layer_lookups++;
	if ((ret = mc_gc_image_layers(out, n, g->env->engine, id)))
		return ret;
	char *text = mc_gc_layers_encode(*out, *n);
	mc_strv_push(&fa->new_ids, id);
	mc_strv_push(&fa->new_layers, text);
	free(text);
	return 0;
}

/* Writes what this run learnt and forgets ids the engine no longer holds, in
 * one transaction. The table is a cache: on failure the next run asks again. */
static void layers_remember(struct facts *fa, struct run *g)
{
	struct mc_index *ix = g->env->index;
	int ret;

	if (g->pol->dry_run)
		return;
	if ((ret = mc_index_begin(ix)))
		goto done;
	for (size_t i = 0; !ret && i < fa->new_ids.n; i++)
		ret = mc_index_image_layers_put(ix, fa->new_ids.v[i], fa->new_layers.v[i]);
	for (size_t i = 0; !ret && i < fa->n_known; i++)
		if (!mc_strv_has_sorted(&g->engine_ids, fa->known[i].image_id))
			ret = mc_index_image_layers_delete(ix, fa->known[i].image_id);
	if (!ret)
		ret = mc_index_commit(ix);
done:
	if (ret) {
		mc_index_rollback(ix);
		mc_error_clear();
	}
}

/*
 * Protections of every row (key lock, lease, :latest) and, only when a size
 * policy needs to know what eviction frees, the layers of every row image and
 * of every other image (those are pinned: removing a row image never frees
 * them). Linear in rows (each lookup a bsearch) plus one engine list; layer
 * lookups only for image ids the index never saw.
 */
static int gather(struct facts *fa, struct run *g)
{
	static const struct mc_gc_layer none[1];
	struct mc_index *ix = g->env->index;
	struct mc_strv runtimes = MC_STRV_INIT, want = MC_STRV_INIT;
	struct mc_image *all = NULL;
	size_t n_all = 0;
	int need_layers = g->pol->max_size_bytes >= 0;
	int ret;

	fa->f = mc_calloc(g->n_rows ? g->n_rows : 1, sizeof(*fa->f));
	fa->layers = mc_calloc(g->n_rows ? g->n_rows : 1, sizeof(*fa->layers));
	if ((ret = mc_index_latest_all(ix, &fa->latest)))
		goto done;
	if ((ret = mc_index_leases_active(ix, &fa->leases, &fa->n_leases, g->rep->started_ms)))
		goto done;
	if (need_layers && (ret = mc_index_image_layers_all(ix, &fa->known, &fa->n_known)))
		goto done;
	/* Without a recorded :latest, the newest ready row of a runtime is what
	 * ensure served last, so it stands in (one lookup per runtime). */
	for (size_t i = 0; i < g->n_rows; i++)
		if (g->rows[i].state == MC_STATE_READY && g->rows[i].runtime)
			mc_strv_push(&runtimes, g->rows[i].runtime);
	mc_strv_sort(&runtimes);
	mc_strv_sort(&fa->latest);
	size_t n_latest = fa->latest.n;
	for (size_t i = 0; i < runtimes.n; i++) {
		char k[65];
		if (i && !strcmp(runtimes.v[i - 1], runtimes.v[i]))
			continue;
		if (mc_index_latest_get(ix, k, runtimes.v[i]) == MC_ENOTFOUND) {
			struct mc_entry nw = { 0 };
			if (!mc_index_newest_ready(ix, &nw, runtimes.v[i]))
				mc_strv_push(&fa->latest, nw.key);
			mc_entry_release(&nw);
		}
	}
	if (fa->latest.n != n_latest)
		mc_strv_sort(&fa->latest);
	mc_error_clear();
	for (size_t i = 0; i < g->n_rows; i++) {
		const struct mc_entry *e = &g->rows[i];
		struct mc_gc_facts *f = &fa->f[i];
		struct mc_lease probe = { .key = e->key };
		size_t n = 0;
		f->locked = key_busy(g, e->key);
		f->latest = mc_strv_has_sorted(&fa->latest, e->key);
		f->leased = fa->n_leases &&
			    bsearch(&probe, fa->leases, fa->n_leases, sizeof(*fa->leases), cmp_lease) != NULL;
		if (!e->image_id)
			continue;
		if (!mc_strv_has_sorted(&g->engine_ids, e->image_id)) {
			f->layers = none; /* gone already: removing it frees nothing */
			continue;
		}
		if (!need_layers)
			continue;
		ret = layers_of(&fa->layers[i], &n, fa, g, e->image_id);
		if (ret == MC_ENOTFOUND) {
			f->layers = none;
			ret = 0;
			continue;
		}
		if (ret)
			goto done;
		f->layers = fa->layers[i];
		f->n_layers = n;
	}
	if (need_layers) {
		/* Layers of every other image are pinned: removing a row image never frees them. */
		if ((ret = mc_engine_image_list(&all, &n_all, g->env->engine, NULL, 0)))
			goto done;
		for (size_t i = 0; i < n_all; i++) {
			const char *id = all[i].id;
			struct mc_gc_layer *ls = NULL;
			size_t n = 0;
			if (image_shared(g, "", id)) /* a row's image ("" is no row's key) */
				continue;
			ret = layers_of(&ls, &n, fa, g, id);
			for (size_t k = 0; !ret && k < n; k++)
				mc_strv_push(&fa->pinned, ls[k].chain);
			free(ls);
			if (ret && ret != MC_ENOTFOUND)
				goto done;
			ret = 0;
		}
		mc_strv_sort(&fa->pinned);
		layers_remember(fa, g);
	}
	/* only this root's images: another root may share the engine */
	char *root = mc_asprintf("molcache.root=%s", g->env->root_id);
	mc_strv_push(&want, "molcache.key");
	mc_strv_push(&want, root);
	free(root);
	ret = mc_engine_image_list(&fa->images, &fa->n_images, g->env->engine, &want, 0);
done:
	mc_images_free(all, n_all);
	mc_strv_release(&runtimes);
	mc_strv_release(&want);
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
static void sweep_images(struct run *g, const struct mc_image *images, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		const struct mc_image *im = &images[i];
		const char *id = im->id;
		const char *key = mc_image_label(im, "molcache.key");
		int64_t size = im->size;
		struct mc_lock lock = MC_LOCK_INIT;
		struct mc_entry e = { 0 };
		int ret;

		if (!key)
			continue;
		/* only a user's tags left (gc took its own before): the user's image now */
		int ours = 0, theirs = 0;
		for (size_t t = 0; t < im->tags.n; t++) {
			const char *tag = im->tags.v[t];
			if (strcmp(tag, "<none>:<none>"))
				*(strncmp(tag, "molcache/", 9) ? &theirs : &ours) += 1;
		}
		if (theirs && !ours)
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
			int removed = 0;
			char *note = NULL;
			ret = remove_image(&removed, &note, g, id, key);
			if (ret && ret != MC_ENOTFOUND)
				stale_fail(g, "orphan-image", id);
			else /* kept (a user's tag, a container): reported, not an error */
				stale_add(g, "orphan-image", id, !note, note, removed ? size : 0);
			free(note);
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
	mc_strv_sort(&used);
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
		if (!is_key(hex) || (!debris && mc_strv_has_sorted(&used, hex)))
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
	index_rows(g);
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
	if ((ret = list_engine(&g)))
		goto done;
	sweep_gone(&g);
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
	sweep_images(&g, fa.images, fa.n_images);
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
	mc_strv_release(&g.engine_ids);
	free(g.bykey);
	free(g.byimage);
	mc_lock_release(&gc_lock);
	free(lp);
	return ret;
}

void mc_gc_report_release(struct mc_gc_report *r)
{
	if (!r)
		return;
	for (size_t i = 0; r->results && i < r->plan.n; i++) {
		free(r->results[i].msg);
		free(r->results[i].note);
	}
	free(r->results);
	mc_gc_plan_release(&r->plan);
	for (size_t i = 0; i < r->n_stale; i++) {
		free(r->stale[i].what);
		free(r->stale[i].msg);
	}
	free(r->stale);
	memset(r, 0, sizeof(*r));
}
