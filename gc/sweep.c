/* sweep.c — gc's sweeps: rows a dead process left or whose image is gone; tmp/, trees/, orphan images, mirrors. */
#include "run_impl.h"

#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* ---- stale states, before planning ---------------------------------------- */

/*
 * Rows a dead process left: building (→ failed: ensure rebuilds it), evicting
 * (→ the eviction is finished), and ready/failed rows whose tree vanished (the
 * reference goes, the image stays).
 */
void gc_fix_rows(struct run *g)
{
	for (size_t i = 0; i < g->n_rows; i++) {
		const struct mc_entry *r = &g->rows[i];
		struct mc_lock lock = MC_LOCK_INIT;
		struct mc_entry e = { 0 };
		struct stat st;
		int ret;

		if (!mc_is_key(r->key))
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
			if (!gc_key_busy(g, r->key))
				gc_stale_add(g, kind, r->key, 0, "dry run", 0);
			continue;
		}
		if ((ret = gc_try_lock_key(&lock, g, r->key)) == MC_ELOCKED)
			continue; /* alive: an ensure or a hit holds it */
		if (ret) {
			gc_stale_fail(g, kind, r->key);
			continue;
		}
		if ((ret = mc_index_get(g->env->index, &e, r->key)) == MC_ENOTFOUND)
			goto next;
		if (ret) {
			gc_stale_fail(g, kind, r->key);
			goto next;
		}
		if (e.state == MC_STATE_BUILDING) {
			if ((ret = mc_index_set_state(g->env->index, e.key, MC_STATE_FAILED)))
				gc_stale_fail(g, "building", e.key);
			else
				gc_stale_add(g, "building", e.key, 1, "marked failed", 0);
		} else if (e.state == MC_STATE_EVICTING) {
			int64_t tb = 0;
			int image = 0;
			char *note = NULL;
			if ((ret = gc_act(g, &e, MC_GC_EVICT, &tb, &image, &note)))
				gc_stale_fail(g, "evicting", e.key);
			else
				gc_stale_add(g, "evicting", e.key, 1, note ? note : "eviction finished", tb);
			free(note);
		} else {
			tree = mc_asprintf("%s/%s", g->env->paths->trees, e.key);
			if (e.tree_path && lstat(tree, &st) && errno == ENOENT) {
				if ((ret = mc_index_drop_tree(g->env->index, e.key)))
					gc_stale_fail(g, "tree-ref", e.key);
				else
					gc_stale_add(g, "tree-ref", e.key, 1, "tree gone; reference dropped", 0);
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
int gc_list_engine(struct run *g)
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
	gc_index_rows(g);
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
void gc_sweep_gone(struct run *g)
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
			if (!gc_key_busy(g, r->key)) {
				gc_stale_add(g, "image-gone", r->key, 0, "dry run", r->tree_path ? r->tree_bytes : 0);
				mc_strv_push(&gone, r->key);
			}
			continue;
		}
		if ((ret = gc_try_lock_key(&lock, g, r->key)) == MC_ELOCKED)
			continue;
		if (ret) {
			gc_stale_fail(g, "image-gone", r->key);
			continue;
		}
		if ((ret = mc_index_get(g->env->index, &e, r->key)) == MC_ENOTFOUND)
			goto next;
		if (ret) {
			gc_stale_fail(g, "image-gone", r->key);
			goto next;
		}
		if ((e.state != MC_STATE_READY && e.state != MC_STATE_FAILED) || !e.image_id ||
		    strcmp(e.image_id, r->image_id))
			goto next; /* rebuilt or taken meanwhile */
		ret = mc_engine_image_inspect(g->env->engine, e.image_id, NULL);
		if (!ret)
			goto next; /* there after all (built between the list and the lock) */
		if (ret != MC_ENOTFOUND) {
			gc_stale_fail(g, "image-gone", e.key);
			goto next;
		}
		mc_error_clear();
		if ((ret = gc_act(g, &e, MC_GC_EVICT, &tb, &image, &note)))
			gc_stale_fail(g, "image-gone", e.key);
		else
			gc_stale_add(g, "image-gone", e.key, 1, "image gone; entry dropped", tb);
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

/* ---- sweeps, after the plan --------------------------------------------- */

static int64_t age_ms(const struct stat *st, int64_t now_ms)
{
	return now_ms - ((int64_t)st->st_mtim.tv_sec * 1000 + st->st_mtim.tv_nsec / 1000000);
}

/* tmp/: gc's own leftovers at once; an ensure's checkout ("<key>.<pid>") when
 * its key lock is free and it is older than the grace; anything else when older. */
void gc_sweep_tmp(struct run *g)
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
			if (!mc_is_key(key))
				key[0] = 0;
		}
		if (g->pol->dry_run) {
			gc_stale_add(g, "tmp", path, 0, "dry run", S_ISDIR(st.st_mode) ? mc_du(path) : st.st_size);
			goto next;
		}
		if (key[0] && gc_try_lock_key(&lock, g, key))
			goto next; /* its ensure is still alive */
		int64_t bytes = S_ISDIR(st.st_mode) ? mc_du(path) : S_ISREG(st.st_mode) ? st.st_size : 0;
		if (mc_rm_rf(path))
			gc_stale_fail(g, "tmp", path);
		else
			gc_stale_add(g, "tmp", path, 1, NULL, bytes);
	next:
		mc_lock_release(&lock);
		free(path);
	}
	closedir(d);
}

/* trees/ entries no row refers to. A key name is checked again under its lock:
 * ensure writes the row before the tree appears. */
void gc_sweep_trees(struct run *g)
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

		if (mc_is_key(n) && gc_row_of(g, n))
			goto next;
		if (g->pol->dry_run) {
			gc_stale_add(g, "tree", path, 0, "dry run", mc_du(path));
			goto next;
		}
		if (gc_over_budget(g))
			goto next;
		if (mc_is_key(n)) {
			if (gc_try_lock_key(&lock, g, n))
				goto next;
			ret = mc_index_get(g->env->index, &e, n);
			if (ret != MC_ENOTFOUND) {
				if (ret)
					gc_stale_fail(g, "tree", path);
				goto next;
			}
		}
		if ((ret = gc_stash(&stashed, g, dir, n)) || (ret = gc_purge(&bytes, stashed)))
			gc_stale_fail(g, "tree", path);
		else if (stashed)
			gc_stale_add(g, "tree", path, 1, NULL, bytes);
	next:
		mc_entry_release(&e);
		mc_lock_release(&lock);
		free(stashed);
		free(path);
	}
	mc_strv_release(&names);
}

/* Images labelled molcache.key that no row owns: reported; removed with --orphans. */
void gc_sweep_images(struct run *g, const struct mc_image *images, size_t n)
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
				*(mc_tag_is_ours(tag) ? &ours : &theirs) += 1;
		}
		if (theirs && !ours)
			continue;
		const struct mc_entry *r = gc_row_of(g, key);
		/* a building row has no image id yet: its image is on its way */
		if (r && (r->state == MC_STATE_BUILDING || (r->image_id && !strcmp(r->image_id, id))))
			continue;
		if (!g->pol->orphans || g->pol->dry_run) {
			gc_stale_add(g, "orphan-image", id, 0, g->pol->dry_run ? "dry run" : "kept; --orphans removes it",
				  size);
			continue;
		}
		if (gc_over_budget(g))
			continue;
		if (mc_is_key(key) && gc_try_lock_key(&lock, g, key))
			continue;
		ret = mc_index_get(g->env->index, &e, key);
		if (ret && ret != MC_ENOTFOUND) {
			gc_stale_fail(g, "orphan-image", id);
		} else if (ret == MC_ENOTFOUND || !e.image_id || strcmp(e.image_id, id)) {
			int removed = 0;
			char *note = NULL;
			ret = gc_remove_image(&removed, &note, g, id, key);
			if (ret && ret != MC_ENOTFOUND)
				gc_stale_fail(g, "orphan-image", id);
			else /* kept (a user's tag, a container): reported, not an error */
				gc_stale_add(g, "orphan-image", id, !note, note, removed ? size : 0);
			free(note);
		}
		mc_entry_release(&e);
		mc_lock_release(&lock);
	}
}

/* repos/<sha256(url)>.git that no row's url names, and any
 * repos/<sha256(url)>.git.tmp a crashed mirror creation left. A row's url is
 * repo_prefix + runtime, or that + ".git" when ensure found the repository only
 * with git clone's fallback (file:// and plain paths): both names are in use. */
void gc_sweep_mirrors(struct run *g)
{
	const char *dir = g->env->paths->repos;
	struct mc_strv used = MC_STRV_INIT;
	DIR *d = opendir(dir);
	struct dirent *de;

	if (!d)
		return;
	for (size_t i = 0; i < g->n_rows; i++) {
		for (int git = 0; git < 2; git++) {
			char hex[65], *url = mc_asprintf("%s%s%s", g->rows[i].repo_prefix ? g->rows[i].repo_prefix : "",
							  g->rows[i].runtime ? g->rows[i].runtime : "", git ? ".git" : "");
			mc_sha256_hex(hex, url, strlen(url));
			mc_strv_push(&used, hex);
			free(url);
		}
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
		if (!mc_is_key(hex) || (!debris && mc_strv_has_sorted(&used, hex)))
			continue;
		char *path = mc_asprintf("%s/%s", dir, n);
		char *lp = mc_lock_path_repo(g->env->paths, hex);
		if (lstat(path, &st) || age_ms(&st, g->rep->started_ms) < g->pol->grace_ms)
			goto next; /* an ensure may have fetched it a moment before writing its row */
		if (g->pol->dry_run || (!debris && !g->pol->prune_mirrors)) {
			gc_stale_add(g, kind, path, 0, g->pol->dry_run ? "dry run" : "kept; --prune-mirrors removes it",
				  mc_du(path));
			goto next;
		}
		if (gc_over_budget(g) || mc_lock_take(&lock, lp, MC_LOCK_EXCLUSIVE, 0))
			goto next;
		int64_t bytes = mc_du(path);
		if (mc_rm_rf(path))
			gc_stale_fail(g, kind, path);
		else
			gc_stale_add(g, kind, path, 1, NULL, bytes);
	next:
		mc_lock_release(&lock);
		free(path);
		free(lp);
	}
	closedir(d);
	mc_strv_release(&used);
}
