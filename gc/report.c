/* report.c — a finished gc report: outcome names, its JSON (docs/json.md, "gc") for --json and gc_runs, its release. */
#include "gc.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

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

static json_t *opt_int(int64_t v) { return v < 0 ? json_null() : json_integer(v); }

static json_t *str_or_null(const char *s) { return s ? json_string(s) : json_null(); }

static json_t *policy_json(const struct mc_gc_policy *p)
{
	return json_pack("{s:o, s:o, s:o, s:b, s:b, s:s, s:o, s:I, s:b, s:b}", "max_age_ms", opt_int(p->max_age_ms),
			 "max_size_bytes", opt_int(p->max_size_bytes), "keep", opt_int(p->keep_n), "trees_only", p->trees_only,
			 "include_latest", p->include_latest, "order", p->order == MC_GC_ORDER_COST ? "cost" : "lru",
			 "max_runtime_ms", p->max_runtime_ms > 0 ? json_integer(p->max_runtime_ms) : json_null(),
			 "grace_ms", (json_int_t)p->grace_ms, "orphans", p->orphans, "prune_mirrors", p->prune_mirrors);
}

char *mc_gc_report_json(const struct mc_gc_report *r, const struct mc_gc_policy *pol)
{
	json_t *plan = json_array(), *kept = json_array(), *stale = json_array();
	char *s;

	for (size_t i = 0; i < r->plan.n; i++) {
		const struct mc_gc_item *it = &r->plan.items[i];
		const struct mc_gc_result *res = r->results ? &r->results[i] : NULL;
		json_t *shares = json_array();
		for (size_t k = 0; k < it->n_shares; k++)
			json_array_append_new(shares, json_string(mc_gc_share_key(&r->plan, it, k)));
		json_array_append_new(
			plan, json_pack("{s:s, s:o, s:o, s:s, s:s, s:I, s:I, s:I, s:o, s:b, s:s, s:I, s:o, s:o}", "key", it->key,
					"runtime", str_or_null(it->runtime), "image_id", str_or_null(it->image_id),
					"action", it->action == MC_GC_EVICT ? "evict" : "drop-tree", "reason", it->reason,
					"last_used_ms", (json_int_t)it->last_used_ms, "tree_bytes",
					(json_int_t)it->tree_bytes, "image_bytes", (json_int_t)it->image_bytes,
					"shares_layers_with", shares, "shares_truncated", it->shares_truncated, "outcome",
					mc_gc_outcome_name(res ? res->outcome : MC_GC_PLANNED), "bytes_freed",
					(json_int_t)(res ? res->bytes_freed : 0), "error",
					str_or_null(res ? res->msg : NULL), "note", str_or_null(res ? res->note : NULL)));
	}
	for (size_t i = 0; i < r->plan.n_kept; i++)
		json_array_append_new(kept, json_pack("{s:s, s:s}", "key", r->plan.kept[i].key, "why",
						      r->plan.kept[i].why));
	for (size_t i = 0; i < r->n_stale; i++) {
		const struct mc_gc_stale *st = &r->stale[i];
		json_array_append_new(stale, json_pack("{s:s, s:s, s:b, s:I, s:o}", "kind", st->kind, "what", st->what,
						       "done", st->done, "bytes", (json_int_t)st->bytes, "note",
						       str_or_null(st->msg)));
	}
	json_t *root = json_pack(
		"{s:i, s:b, s:I, s:I, s:o, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:b, s:I, s:o, s:o, s:o}", "schema_version", 1,
		"dry_run", r->dry_run, "started_ms", (json_int_t)r->started_ms, "duration_ms",
		(json_int_t)r->duration_ms, "policy", policy_json(pol), "bytes_before", (json_int_t)r->plan.bytes_before,
		"bytes_after_plan", (json_int_t)r->plan.bytes_after, "evicted", (json_int_t)r->evicted,
		"trees_dropped", (json_int_t)r->trees_dropped, "bytes_freed", (json_int_t)r->bytes_freed, "errors",
		(json_int_t)r->errors, "run_id", (json_int_t)r->run_id, "budget_exhausted", r->budget_exhausted,
		"layer_lookups", (json_int_t)r->layer_lookups, "plan", plan, "protected", kept, "stale", stale);
	if (root) /* the run's record could not be written (see record_warning) */
		json_object_set_new(root, "warning", str_or_null(r->record_warning));
	s = root ? json_dumps(root, JSON_COMPACT) : NULL;
	json_decref(root);
	return s ? s : mc_strdup("{}");
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
	free(r->record_warning);
	memset(r, 0, sizeof(*r));
}
