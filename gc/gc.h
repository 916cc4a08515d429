/*
 * gc.h — bounded disk use: eviction policies, a pure planner, the executor and
 * the stale-state sweeps behind `molcache gc`.
 *
 * Call sequence: mc_gc_policy_init() → set fields → mc_gc_run(), which takes
 * locks/gc.lock, fixes stale states, gathers facts (rows, key locks, leases,
 * :latest pointers, the engine's layer lists), calls mc_gc_plan_make(), carries
 * the plan out (unless dry_run), sweeps, records the run and fills a report →
 * mc_gc_report_json() → mc_gc_report_release().
 *
 * The planner is pure (data in, data out) so it is table-tested; the executor
 * re-checks everything under the key lock before it deletes, because the world
 * moves between planning and acting.
 *
 * Where it lives: parse.c, plan.c (pure); run.c (mc_gc_run, the executor),
 * sweep.c, gather.c (the facts), sharing the gc-internal run_impl.h; facts.c
 * (the engine's layer lists); report.c renders a finished report and depends on
 * nothing of the run.
 *
 * Safety: a tree is only ever removed as root/trees/<key> with key validated as
 * 64 lowercase hex; the stored tree_path is never used for deletion. Removal
 * renames the tree into tmp/ first (rename moves a symlink, never its target)
 * and deletes with mc_rm_rf, which follows no symlink.
 */
#ifndef MC_GC_H
#define MC_GC_H

#include <stddef.h>
#include <stdint.h>
#include "../store/store.h"

struct mc_engine; /* engine/engine.h */

/* ---- parsers (pure; fuzzed) --------------------------------------------- */

/* "30s", "15m", "12h", "7d", "2w", a plain number is seconds; "0" allowed.
 * MC_EINVAL on anything else or overflow. */
int mc_gc_parse_duration(int64_t *out_ms, const char *s);
/* "500M", "20G", "1T", "4K" (powers of 1024, optional trailing "B"/"iB"),
 * plain bytes. MC_EINVAL on anything else or overflow. */
int mc_gc_parse_size(int64_t *out_bytes, const char *s);
/* The largest exact unit up to days: 604800000 → "7d", 5400000 → "90m", 1500 → "1500ms". */
void mc_gc_format_duration(char out[32], int64_t ms);

/* ---- policy ------------------------------------------------------------- */

enum mc_gc_order { MC_GC_ORDER_LRU = 0, MC_GC_ORDER_COST = 1 };

struct mc_gc_policy {
	int64_t max_age_ms;     /* evict what was last used longer ago; -1 = off */
	int64_t max_size_bytes; /* evict until trees + images fit; -1 = off */
	int keep_n;             /* the N most recently used ready entries per runtime stay; -1 = off */
	int trees_only;         /* drop build trees, keep images and rows */
	int include_latest;     /* the entry behind :latest may go too */
	enum mc_gc_order order;
	int64_t max_runtime_ms; /* stop acting after this long; 0 = no budget */
	int64_t grace_ms;       /* tmp/ entries and mirrors younger than this stay */
	int orphans;            /* remove molcache-labelled images the index does not know */
	int prune_mirrors;      /* remove repos/ mirrors no row uses */
	int dry_run;            /* plan and report; change nothing */
};

/* Everything off, grace 1 h, order lru. */
void mc_gc_policy_init(struct mc_gc_policy *p);
/* 1 when some eviction policy is set (age, size, keep, trees-only). */
int mc_gc_policy_evicts(const struct mc_gc_policy *p);

/* ---- planner (pure) ----------------------------------------------------- */

/* One image layer, named by its chain id (the layer and everything below it),
 * with the bytes of its own diff. */
struct mc_gc_layer {
	char chain[72]; /* "sha256:<64 hex>" */
	int64_t bytes;
};

/* What the planner knows about rows[i] beyond the row itself. */
struct mc_gc_facts {
	int locked; /* key lock held: an ensure is in flight */
	int leased; /* an unexpired lease */
	int latest; /* :latest of its runtime points at it */
	/* The image's layers; NULL with n_layers 0 = unknown: the row's
	 * image_bytes count as the image's own. */
	const struct mc_gc_layer *layers;
	size_t n_layers;
};

struct mc_gc_input {
	const struct mc_entry *rows;
	const struct mc_gc_facts *facts; /* parallel to rows */
	size_t n;
	/* Chain ids used by images that are not rows (base images, foreign
	 * images, orphans): never freed, never counted as cache bytes. Sorted. */
	const char *const *pinned;
	size_t n_pinned;
	int64_t now_ms;
};

enum mc_gc_action { MC_GC_EVICT = 0, MC_GC_DROP_TREE = 1 };

#define MC_GC_SHARES_MAX 8

struct mc_gc_item {
	char key[65];
	char *runtime;
	char *image_id;        /* may be NULL */
	enum mc_gc_action action;
	char reason[48];       /* "age>7d", "size", "keep>3", "trees-only" */
	int64_t last_used_ms;  /* as planned: the executor skips the row if it changed */
	int64_t tree_bytes;    /* freed by dropping the tree */
	int64_t image_bytes;   /* freed by removing the image, given every item before it */
	/* up to MC_GC_SHARES_MAX other rows that share a layer with this image,
	 * in key order: mc_gc_share_key(plan, item, k) for k < n_shares */
	uint32_t shares[MC_GC_SHARES_MAX];
	unsigned n_shares;
	int shares_truncated;  /* 1 when more rows share layers than shares lists */
};

struct mc_gc_protect {
	char key[65];
	const char *why; /* "locked", "leased", "latest", "keep", "state" (static) */
};

struct mc_gc_plan {
	struct mc_gc_item *items;
	size_t n;
	struct mc_gc_protect *kept; /* ready/failed rows no policy may take (when one is set) */
	size_t n_kept;
	int64_t bytes_before; /* trees + images only rows use */
	int64_t bytes_after;  /* when every item is carried out */
	int64_t bytes_freed;
	char (*share_keys)[65]; /* what items' shares[] index: one block, not a string per share */
};

static inline const char *mc_gc_share_key(const struct mc_gc_plan *p, const struct mc_gc_item *it, size_t k)
{
	return p->share_keys[it->shares[k]];
}

/*
 * Rows + facts + policy + now → an ordered plan. Candidates are ready and
 * failed rows that are not locked, leased, :latest (unless include_latest) or
 * among the keep_n newest ready rows of their runtime. Order: lru (last use,
 * then key) or cost (build_ms per byte that evicting the row alone would free:
 * its tree and the layers no other row and no pinned image uses; a row that
 * frees nothing goes last; then last use, then key).
 * Age evictions come first, then size evictions until bytes_after <= max;
 * keep_n alone evicts every unprotected row beyond the N; trees_only alone
 * drops every unprotected tree. An image's bytes count only layers no kept row
 * image and no pinned image uses. Deterministic; never fails.
 */
void mc_gc_plan_make(struct mc_gc_plan *out, const struct mc_gc_input *in, const struct mc_gc_policy *pol);
void mc_gc_plan_release(struct mc_gc_plan *p);

/* ---- executor ----------------------------------------------------------- */

enum mc_gc_outcome {
	MC_GC_DONE = 0,
	MC_GC_PLANNED,     /* dry run */
	MC_GC_SKIP_BUSY,   /* key lock held */
	MC_GC_SKIP_CHANGED,/* used (or gone, or rebuilt) since the plan */
	MC_GC_SKIP_BUDGET, /* max_runtime ran out */
	MC_GC_FAILED,      /* see msg; counted as an error */
};
const char *mc_gc_outcome_name(enum mc_gc_outcome o);

struct mc_gc_result {
	enum mc_gc_outcome outcome;
	int64_t bytes_freed;
	char *msg; /* why it failed, or NULL */
	/* why the image stayed although the entry went ("kept: also tagged
	 * myapp:prod", "kept: used by a container"), or NULL */
	char *note;
};

/* One thing the sweep found. kind: "tmp", "tree", "tree-ref", "building",
 * "evicting", "image-gone" (a row whose image the engine no longer holds),
 * "orphan-image", "mirror", "mirror-tmp". */
struct mc_gc_stale {
	const char *kind;
	char *what;    /* a path, key or image id */
	int done;      /* removed / fixed */
	char *msg;     /* error or note; may be NULL */
	int64_t bytes;
};

struct mc_gc_report {
	int64_t started_ms, duration_ms;
	int dry_run;
	int budget_exhausted;
	struct mc_gc_plan plan;
	struct mc_gc_result *results; /* parallel to plan.items */
	struct mc_gc_stale *stale;
	size_t n_stale;
	int64_t evicted, trees_dropped, bytes_freed, errors;
	int64_t run_id; /* gc_runs id; 0 on a dry run */
	/* images whose layers were asked of the engine (inspect + history):
	 * only ids the index never saw, and none without a size policy */
	int64_t layer_lookups;
	/* the run freed what it could, but its record could not be written (a
	 * full disk, a busy index): the CLI warns; malloc'd, NULL when recorded */
	char *record_warning;
	int record_error; /* its MC_E… code (MC_ELOCKED: the index was busy), 0 when recorded */
};

struct mc_gc_env {
	const struct mc_paths *paths;
	struct mc_index *index;
	struct mc_engine *engine;
	const char *root_id; /* this root's identity: only images labelled with it are gc's */
};

/*
 * The whole run. MC_ELOCKED at once when another gc holds locks/gc.lock;
 * other negative codes when the run could not start (index, engine). Failures
 * of single items do not fail the run: they are in the report (errors > 0).
 */
int mc_gc_run(struct mc_gc_report *out, const struct mc_gc_env *env, const struct mc_gc_policy *pol);
void mc_gc_report_release(struct mc_gc_report *r);
/* The report as JSON (docs/json.md, "gc"); malloc'd, never NULL. */
char *mc_gc_report_json(const struct mc_gc_report *r, const struct mc_gc_policy *pol);

/* ---- engine facts ------------------------------------------------------- */

/* The layers of image id (RootFS.Layers + /history sizes), malloc'd into *out.
 * MC_ENOTFOUND when the image is gone. When history cannot be matched to the
 * layers, one pseudo-layer named after the image holds its whole size. */
int mc_gc_image_layers(struct mc_gc_layer **out, size_t *n, struct mc_engine *e, const char *image_id);
/* The form the index remembers layers in (image_layers.layers): a JSON array
 * of [chain, bytes] pairs. encode: malloc'd, never NULL. decode: MC_EINVAL on
 * anything else (an empty array too), *out malloc'd. */
char *mc_gc_layers_encode(const struct mc_gc_layer *v, size_t n);
int mc_gc_layers_decode(struct mc_gc_layer **out, size_t *n, const char *text);

#endif
