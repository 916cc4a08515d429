/* cmd_gc.c — `molcache gc`: evict by age, size and count, sweep stale state, report. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../gc/gc.h"
#include "../fleet/fleet.h"
#include "cli.h"

static const char usage_text[] =
	"usage: molcache gc [options]\n"
	"\n"
	"Evicts cached images and build trees by policy and sweeps stale state\n"
	"(tmp/ leftovers, trees without a row, rows stuck in building or evicting,\n"
	"orphaned images, unused mirrors). With no policy only the sweep runs.\n"
	"Never evicts an entry in use (key lock held), under a lease, or behind\n"
	"its runtime's :latest (unless --include-latest).\n"
	"\n"
	"  --max-age DUR          evict entries last used longer ago than DUR (30s, 15m, 12h, 7d, 2w)\n"
	"  --max-size SIZE        evict least recently used until trees + images fit (500M, 20G, 1T)\n"
	"  --keep N               the N most recently used entries per runtime stay; alone, evicts the rest\n"
	"  --trees-only           drop build trees, keep images and entries\n"
	"  --include-latest       the entry behind :latest may be evicted too\n"
	"  --order lru|cost       eviction order: least recently used (default), or least\n"
	"                         rebuild time per byte first\n"
	"  --max-runtime DUR      stop evicting after DUR (for cron windows)\n"
	"  --grace DUR            leave tmp/ entries and mirrors younger than DUR (default 1h)\n"
	"  --orphans              remove images labelled by molcache that the index does not know\n"
	"  --prune-mirrors        remove repository mirrors no entry uses\n"
	"  --registry             instead: delete the remote tags molcache pushed to the configured\n"
	"                         registry (MOLCACHE_REGISTRY, config registry) whose image is older\n"
	"                         than --max-age, by DELETE /v2/<name>/manifests/<digest>; local gc\n"
	"                         never touches the registry (docs/fleet.md)\n"
	"  --dry-run              print the plan (what, why, bytes) and change nothing\n"
	"  --json                 print a JSON report on stdout (docs/json.md, \"gc\")\n"
	"  -q, --quiet            print only errors\n"
	"  -h, --help             this help\n"
	"\n"
	"Exit status: 0 all went well, 6 another gc is running or the index stayed busy\n"
	"(\"index '…' is busy\": another process held its write lock), 7 something could not be removed.\n";

static void human(char out[32], int64_t b)
{
	static const char *const u[] = { "B", "KiB", "MiB", "GiB", "TiB" };
	double v = (double)b;
	int i = 0;
	while (v >= 1024 && i < 4) {
		v /= 1024;
		i++;
	}
	snprintf(out, 32, i ? "%.1f %s" : "%.0f %s", v, u[i]);
}

static void print_text(const struct mc_gc_report *r, int quiet)
{
	char b[32];
	for (size_t i = 0; i < r->plan.n; i++) {
		const struct mc_gc_item *it = &r->plan.items[i];
		const struct mc_gc_result *res = &r->results[i];
		const char *verb = it->action == MC_GC_EVICT ? "evict" : "drop tree of";
		if (res->outcome == MC_GC_FAILED) {
			fprintf(stderr, "molcache: gc: %s %.12s: %s\n", verb, it->key, res->msg ? res->msg : "failed");
			continue;
		}
		if (quiet)
			continue;
		human(b, it->tree_bytes + it->image_bytes);
		if (res->outcome == MC_GC_PLANNED)
			printf("would %s %.12s (%s): %s, %s", verb, it->key, it->runtime ? it->runtime : "?", it->reason, b);
		else if (res->outcome == MC_GC_DONE)
			printf("%s %.12s (%s): %s, %s", it->action == MC_GC_EVICT ? "evicted" : "dropped tree of", it->key,
			       it->runtime ? it->runtime : "?", it->reason, b);
		else
			printf("skipped %.12s (%s): %s", it->key, it->runtime ? it->runtime : "?",
			       mc_gc_outcome_name(res->outcome));
		if (it->n_shares) {
			printf("; shares layers with");
			for (size_t k = 0; k < it->n_shares; k++)
				printf(" %.12s", mc_gc_share_key(&r->plan, it, k));
			if (it->shares_truncated)
				printf(" and more");
		}
		if (res->note) /* the entry went, its image stayed: say why */
			printf("; image %s", res->note);
		printf("\n");
	}
	for (size_t i = 0; i < r->n_stale; i++) {
		const struct mc_gc_stale *s = &r->stale[i];
		if (!s->done && s->msg && !r->dry_run && strncmp(s->msg, "kept", 4)) {
			fprintf(stderr, "molcache: gc: %s '%s': %s\n", s->kind, s->what, s->msg);
			continue;
		}
		if (quiet)
			continue;
		human(b, s->bytes);
		printf("%s %s '%s'%s%s%s\n", s->done ? "removed" : r->dry_run ? "would remove" : "found", s->kind, s->what,
		       s->msg ? " (" : "", s->msg ? s->msg : "", s->msg ? ")" : "");
	}
	if (quiet)
		return;
	if (!r->dry_run) {
		human(b, r->bytes_freed);
		printf("gc: evicted %lld, dropped %lld trees, freed %s in %lld ms; %lld errors%s\n", (long long)r->evicted,
		       (long long)r->trees_dropped, b, (long long)r->duration_ms, (long long)r->errors,
		       r->budget_exhausted ? "; stopped at --max-runtime" : "");
	} else {
		char a[32];
		human(b, r->plan.bytes_before);
		human(a, r->plan.bytes_after);
		printf("gc (dry run): %zu planned; cache %s, after the plan %s\n", r->plan.n, b, a);
	}
	for (size_t i = 0; i < r->plan.n_kept; i++)
		printf("kept %.12s: %s\n", r->plan.kept[i].key, r->plan.kept[i].why);
}

/* gc --registry: the remote tags molcache made, older than max_age_ms. */
static int gc_registry(struct mc_ctx *ctx, int64_t max_age_ms, int dry_run, int json, int quiet)
{
	struct mc_registry *reg = NULL;
	struct mc_fleet_gc_report r = { 0 };
	int err, ret = MC_EXIT_OK;
	size_t deleted = 0, failed = 0, kept = 0;

	if (!ctx->cfg.registry || !*ctx->cfg.registry) {
		ret = mc_cli_usage_error("gc", "--registry: no registry configured (MOLCACHE_REGISTRY or config registry)");
		goto done;
	}
	if (max_age_ms < 0) {
		ret = mc_cli_usage_error("gc", "--registry needs --max-age (or config gc_max_age)");
		goto done;
	}
	if ((err = mc_registry_open(&reg, ctx->cfg.registry, ctx->cfg.registry_user, ctx->cfg.registry_password)) ||
	    (err = mc_fleet_gc(reg, max_age_ms, dry_run, mc_now_ms(), &r))) {
		ret = mc_cli_fail(ctx, err);
		goto done;
	}
	json_t *doc = json_object(), *a = json_array();
	for (size_t i = 0; i < r.n; i++) {
		const struct mc_fleet_gc_item *it = &r.items[i];
		struct mc_buf also = MC_BUF_INIT;
		json_t *also_a = json_array();
		for (size_t k = 0; k < it->also_tagged.n; k++) {
			mc_buf_addf(&also, "%s%s", k ? ", " : "", it->also_tagged.v[k]);
			json_array_append_new(also_a, json_string(it->also_tagged.v[k]));
		}
		int is_kept = !it->deleted && !it->error;
		deleted += it->deleted;
		failed += it->error != NULL;
		kept += is_kept;
		char *why = is_kept ? mc_asprintf("also tagged %s", mc_buf_cstr(&also)) : NULL;
		if (it->error) {
			fprintf(stderr, "molcache: gc: %s/%s:%.12s: %s\n", mc_registry_host(reg), it->repo, it->tag, it->error);
			if (it->hint)
				fprintf(stderr, "hint: %s\n", it->hint);
		} else if (!json && !quiet && is_kept) {
			printf("kept %s/%s:%s (%s): %s\n", mc_registry_host(reg), it->repo, it->tag, it->digest, why);
		} else if (!json && !quiet) {
			printf("%s %s/%s:%s (%s)", dry_run ? "would delete" : "deleted", mc_registry_host(reg), it->repo,
			       it->tag, it->digest);
			if (dry_run && also.len)
				printf(": also tagged %s, which stays (where the registry cannot delete a tag alone, kept)",
				       mc_buf_cstr(&also));
			printf("\n");
		}
		json_array_append_new(a, json_pack("{s:s,s:s,s:s,s:I,s:b,s:s?,s:o,s:s?,s:s?}", "repository", it->repo,
						   "tag", it->tag, "digest", it->digest, "created_ms",
						   (json_int_t)it->created_ms, "deleted", it->deleted && !dry_run,
						   "deleted_by", it->deleted && !dry_run ? (it->by_tag ? "tag" : "digest") : NULL,
						   "also_tagged", also_a, "kept", why, "error", it->error));
		free(why);
		mc_buf_release(&also);
	}
	if (json) {
		json_object_set_new(doc, "registry", json_string(mc_registry_prefix(reg)));
		json_object_set_new(doc, "dry_run", json_boolean(dry_run));
		json_object_set_new(doc, "scanned", json_integer(r.scanned));
		json_object_set_new(doc, "not_molcache", json_integer(r.skipped));
		json_object_set_new(doc, "undated", json_integer(r.undated));
		json_object_set_new(doc, "expired_markers", json_integer(r.markers));
		json_object_set_new(doc, "kept", json_integer((json_int_t)kept));
		json_object_set_new(doc, "tags", a);
		a = NULL;
		char *text = json_dumps(doc, JSON_INDENT(2));
		printf("%s\n", text);
		free(text);
	} else if (!quiet) {
		printf("gc --registry%s: %lld tags looked at, %lld not molcache's, %s %zu", dry_run ? " (dry run)" : "",
		       (long long)r.scanned, (long long)r.skipped, dry_run ? "would delete" : "deleted", deleted);
		if (kept)
			printf(", kept %zu (also tagged otherwise)", kept);
		if (r.undated)
			printf(", kept %lld with no build time (pushed before the molcache.built label)",
			       (long long)r.undated);
		if (r.markers)
			printf(", %s %lld expired build marker%s", dry_run ? "would delete" : "deleted",
			       (long long)r.markers, r.markers == 1 ? "" : "s");
		printf("\n");
	}
	json_decref(a);
	json_decref(doc);
	if (failed)
		ret = MC_EXIT_PARTIAL;
done:
	mc_fleet_gc_report_release(&r);
	mc_registry_free(reg);
	return ret;
}

static int dur_opt(int64_t *out, const char *opt, const char *arg)
{
	if (mc_gc_parse_duration(out, arg))
		return mc_cli_usage_error("gc", "%s: %s", opt, mc_error_msg());
	return 0;
}

static int keep_opt(int *out, const char *what, const char *s)
{
	char *end;
	long n = strtol(s, &end, 10);
	if (!*s || *end || n < 0 || n > MC_GC_KEEP_MAX)
		return mc_cli_usage_error("gc", "%s '%s': want a count (0..%d)", what, s, MC_GC_KEEP_MAX);
	*out = (int)n;
	return 0;
}

int cmd_gc(struct mc_ctx *ctx, int argc, char **argv)
{
	enum {
		O_AGE = 256, O_SIZE, O_KEEP, O_TREES, O_LATEST, O_ORDER, O_RUNTIME, O_GRACE, O_ORPHANS, O_MIRRORS,
		O_DRY, O_JSON, O_REGISTRY
	};
	static const struct option opts[] = {
		{ "max-age", required_argument, NULL, O_AGE },
		{ "max-size", required_argument, NULL, O_SIZE },
		{ "keep", required_argument, NULL, O_KEEP },
		{ "trees-only", no_argument, NULL, O_TREES },
		{ "include-latest", no_argument, NULL, O_LATEST },
		{ "order", required_argument, NULL, O_ORDER },
		{ "max-runtime", required_argument, NULL, O_RUNTIME },
		{ "grace", required_argument, NULL, O_GRACE },
		{ "orphans", no_argument, NULL, O_ORPHANS },
		{ "prune-mirrors", no_argument, NULL, O_MIRRORS },
		{ "dry-run", no_argument, NULL, O_DRY },
		{ "json", no_argument, NULL, O_JSON },
		{ "registry", no_argument, NULL, O_REGISTRY },
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct mc_gc_policy pol;
	struct mc_gc_report rep = { 0 };
	struct mc_gc_env env = { 0 };
	int c, err, ret = MC_EXIT_OK, json = 0, quiet = 0, have_age = 0, have_size = 0, have_keep = 0, registry = 0;
	char *js = NULL;

	mc_gc_policy_init(&pol);
	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "qh", opts, NULL)) != -1) {
		switch (c) {
		case O_AGE:
			if ((ret = dur_opt(&pol.max_age_ms, "--max-age", optarg)))
				goto done;
			have_age = 1;
			break;
		case O_SIZE:
			have_size = 1;
			if (mc_gc_parse_size(&pol.max_size_bytes, optarg)) {
				ret = mc_cli_usage_error("gc", "--max-size: %s", mc_error_msg());
				goto done;
			}
			break;
		case O_KEEP:
			if ((ret = keep_opt(&pol.keep_n, "--keep", optarg)))
				goto done;
			have_keep = 1;
			break;
		case O_TREES: pol.trees_only = 1; break;
		case O_LATEST: pol.include_latest = 1; break;
		case O_ORDER:
			if (!strcmp(optarg, "lru"))
				pol.order = MC_GC_ORDER_LRU;
			else if (!strcmp(optarg, "cost"))
				pol.order = MC_GC_ORDER_COST;
			else {
				ret = mc_cli_usage_error("gc", "--order '%s': want lru or cost", optarg);
				goto done;
			}
			break;
		case O_RUNTIME:
			if ((ret = dur_opt(&pol.max_runtime_ms, "--max-runtime", optarg)))
				goto done;
			break;
		case O_GRACE:
			if ((ret = dur_opt(&pol.grace_ms, "--grace", optarg)))
				goto done;
			break;
		case O_ORPHANS: pol.orphans = 1; break;
		case O_MIRRORS: pol.prune_mirrors = 1; break;
		case O_DRY: pol.dry_run = 1; break;
		case O_JSON: json = 1; break;
		case O_REGISTRY: registry = 1; break;
		case 'q': quiet = 1; break;
		case 'h':
			fputs(usage_text, stdout);
			goto done;
		default:
			ret = mc_cli_bad_option("gc", "qh", argv);
			goto done;
		}
	}
	if (optind < argc) {
		ret = mc_cli_usage_error("gc", "unexpected argument '%s'", argv[optind]);
		goto done;
	}
	if ((err = mc_ctx_init(ctx))) {
		ret = mc_cli_fail(ctx, err);
		goto done;
	}
	/* policy defaults from the config file; a flag wins */
	if (!have_age && ctx->cfg.gc_max_age_ms >= 0)
		pol.max_age_ms = ctx->cfg.gc_max_age_ms;
	if (!have_size && ctx->cfg.gc_max_size_bytes >= 0)
		pol.max_size_bytes = ctx->cfg.gc_max_size_bytes;
	if (!have_keep && ctx->cfg.gc_keep >= 0)
		pol.keep_n = ctx->cfg.gc_keep;
	if (registry) {
		ret = gc_registry(ctx, pol.max_age_ms, pol.dry_run, json, quiet);
		goto done;
	}
	/* a dry run only reads: it works on a read-only root */
	err = pol.dry_run ? mc_ctx_index_view(ctx, &env.index) : mc_ctx_index(ctx, &env.index);
	if (err || (err = mc_ctx_engine(ctx, &env.engine)) ||
	    (err = mc_ctx_root_id(ctx, &env.root_id))) {
		ret = mc_cli_fail(ctx, err);
		goto done;
	}
	env.index = ctx->index; /* the root id may have reopened a view's index writable, to store a first id */
	env.paths = &ctx->paths;
	if ((err = mc_gc_run(&rep, &env, &pol))) {
		ret = mc_cli_fail(ctx, err);
		goto done;
	}
	if (json) {
		js = mc_gc_report_json(&rep, &pol);
		printf("%s\n", js);
		/* errors still reach stderr, so cron mail shows them */
		for (size_t i = 0; i < rep.plan.n; i++)
			if (rep.results[i].outcome == MC_GC_FAILED)
				fprintf(stderr, "molcache: gc: %.12s: %s\n", rep.plan.items[i].key,
					rep.results[i].msg ? rep.results[i].msg : "failed");
	} else {
		print_text(&rep, quiet);
	}
	if (rep.record_error == MC_ELOCKED) {
		/* what was freed is freed, but cron should hear that the index was busy */
		fprintf(stderr, "molcache: %s\nhint: another process holds the index's write lock (a long sqlite3 "
				"session, a backup); gc's work is done, only its record is missing: run gc again later\n",
			rep.record_warning);
		ret = MC_EXIT_BUSY;
	} else if (rep.record_warning) { /* a full disk: what was freed is freed */
		fprintf(stderr, "molcache: warning: gc: record gc run: %s\n", rep.record_warning);
	}
	if (rep.errors)
		ret = MC_EXIT_PARTIAL;
done:
	free(js);
	mc_gc_report_release(&rep);
	return ret;
}
