/* gather.c — what the planner is told beyond the rows: key locks, leases, :latest, and the layers of every image. */
#include "run_impl.h"

#include <stdlib.h>
#include <string.h>

void gc_facts_release(struct facts *fa, size_t n)
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
int gc_gather(struct facts *fa, struct run *g)
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
		f->locked = gc_key_busy(g, e->key);
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
			if (gc_image_shared(g, "", id)) /* a row's image ("" is no row's key) */
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
