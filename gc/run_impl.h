/*
 * run_impl.h — gc-internal: what the stages of one gc run share. run.c (the
 * executor and mc_gc_run()), sweep.c (the sweeps) and gather.c (the planner's
 * facts) include it; nothing outside gc/ does. The public surface is gc.h.
 *
 * Order of a run (mc_gc_run): gc_fix_rows → gc_list_engine → gc_sweep_gone →
 * gc_gather → mc_gc_plan_make → each item carried out (gc_act under its key
 * lock) → gc_sweep_tmp, gc_sweep_trees, gc_sweep_images, gc_sweep_mirrors →
 * the record (mc_gc_report_json, report.c). Nothing here calls back into
 * mc_gc_run, and report.c only renders what the run filled in.
 */
#ifndef MC_GC_RUN_IMPL_H
#define MC_GC_RUN_IMPL_H

#include <stddef.h>
#include <stdint.h>

#include "../engine/engine.h"
#include "../store/names.h"
#include "gc.h"

/* One run's state. */
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

/* What gc_gather() learnt for the planner (rows[i] ↔ f[i], layers[i]). */
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

/* ---- run.c: helpers every stage uses ------------------------------------- */

/* The key lock is held by someone (an ensure in flight); never blocks, takes nothing. */
int gc_key_busy(struct run *g, const char *key);
/* 1 once max_runtime has run out (and from then on: budget_exhausted). */
int gc_over_budget(struct run *g);
/* Appends one thing a sweep found to the report; done adds bytes to bytes_freed. */
void gc_stale_add(struct run *g, const char *kind, const char *what, int done, const char *msg, int64_t bytes);
/* An error on a sweep item (the current message): counted, reported, the run goes on. */
void gc_stale_fail(struct run *g, const char *kind, const char *what);
/* The key lock, exclusive, never waiting: MC_ELOCKED means in use. */
int gc_try_lock_key(struct mc_lock *out, struct run *g, const char *key);
/* Moves root/<dir>/<name> into tmp/ with one rename; *out NULL when there was nothing. */
int gc_stash(char **out, struct run *g, const char *dir, const char *name);
/* Deletes what gc_stash() moved; *out_bytes its size. */
int gc_purge(int64_t *out_bytes, const char *stashed);
/* The row of key, or NULL. */
const struct mc_entry *gc_row_of(struct run *g, const char *key);
/* Does a row other than key hold image_id? */
int gc_image_shared(struct run *g, const char *key, const char *image_id);
/* Rebuilds the lookup tables over g->rows (after the rows change). */
void gc_index_rows(struct run *g);
/* Removes image id by its molcache tags when it is this root's build of key;
 * MC_ENOTFOUND when gone or not ours. */
int gc_remove_image(int *out_removed, char **out_note, struct run *g, const char *id, const char *key);
/* Under the key lock, on a re-read row: evicts it (image, tree, row) or drops its tree. */
int gc_act(struct run *g, const struct mc_entry *e, enum mc_gc_action action, int64_t *out_tree_bytes,
	   int *out_image, char **out_note);

/* ---- sweep.c ------------------------------------------------------------- */

/* Before planning: rows a dead process left (building, evicting, a vanished tree). */
void gc_fix_rows(struct run *g);
/* Fills g->engine_ids: every image id the engine holds, one request. */
int gc_list_engine(struct run *g);
/* Ready and failed rows whose image the engine no longer holds. */
void gc_sweep_gone(struct run *g);
/* After the plan: tmp/, trees/ no row refers to, orphan images, unused mirrors. */
void gc_sweep_tmp(struct run *g);
void gc_sweep_trees(struct run *g);
void gc_sweep_images(struct run *g, const struct mc_image *images, size_t n);
void gc_sweep_mirrors(struct run *g);

/* ---- gather.c ------------------------------------------------------------ */

/* Protections and (with a size policy) layers of every row, this root's
 * labelled images; fa is released with gc_facts_release(fa, rows at the call). */
int gc_gather(struct facts *fa, struct run *g);
void gc_facts_release(struct facts *fa, size_t n);

#endif
