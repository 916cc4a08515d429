/* cmd_status.c — `molcache status`: the cache at a glance, as text, JSON or a Prometheus textfile. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../store/query.h"
#include "cli.h"
#include "format.h"

static const char usage_text[] =
	"usage: molcache status [--json | --format text|json|prometheus] [-o FILE]\n"
	"\n"
	"Summarises the cache: its root, entries by state, bytes in build trees and\n"
	"images, each runtime's current (:latest) entry with its commit and age,\n"
	"hits, misses, builds and the hit rate, registry hits, misses and pushes\n"
	"(fleet sharing), the last gc run and active leases.\n"
	"Reads only the index: no engine or network round trip.\n"
	"\n"
	"  --json                 the same as --format json (docs/json.md, \"status\")\n"
	"  --format FMT           text (default), json, or prometheus: a node_exporter\n"
	"                         textfile (molcache_entries, molcache_bytes, …)\n"
	"  -o, --output FILE      write to FILE by temp file + rename (for the textfile\n"
	"                         collector) instead of stdout\n"
	"  -h, --help             this help\n";

enum fmt { F_TEXT, F_JSON, F_PROM };

/* Everything status shows, gathered before anything is printed. */
struct status {
	const char *root;
	const char *index;
	struct mc_query_totals t;
	struct mc_query_runtime *rt;
	size_t n_rt;
	int64_t hits, misses, builds, build_failures, fetches;
	/* fleet sharing */
	int64_t reg_hits, reg_misses, reg_errors, reg_refused, pushes, push_failures, fleet_waits, fleet_wait_hits;
	struct mc_gc_run gc;
	int have_gc;
	struct mc_lease *leases;
	size_t n_leases;
	int64_t now_ms;
};

static void status_release(struct status *s)
{
	mc_query_runtimes_free(s->rt, s->n_rt);
	mc_gc_run_release(&s->gc);
	mc_leases_free(s->leases, s->n_leases);
}

static int gather(struct mc_ctx *ctx, struct status *s)
{
	struct mc_index *ix;
	int ret;

	s->root = ctx->paths.root;
	s->index = ctx->paths.index;
	s->now_ms = mc_now_ms();
	if ((ret = mc_ctx_index_view(ctx, &ix)))
		return ret;
	if ((ret = mc_query_summary(&s->t, &s->rt, &s->n_rt, ix)))
		return ret;
	if ((ret = mc_index_counter_get(ix, "hits", &s->hits)) ||
	    (ret = mc_index_counter_get(ix, "misses", &s->misses)) ||
	    (ret = mc_index_counter_get(ix, "builds", &s->builds)) ||
	    (ret = mc_index_counter_get(ix, "build_failures", &s->build_failures)) ||
	    (ret = mc_index_counter_get(ix, "fetches", &s->fetches)) ||
	    (ret = mc_index_counter_get(ix, "registry_hits", &s->reg_hits)) ||
	    (ret = mc_index_counter_get(ix, "registry_misses", &s->reg_misses)) ||
	    (ret = mc_index_counter_get(ix, "registry_errors", &s->reg_errors)) ||
	    (ret = mc_index_counter_get(ix, "registry_refused", &s->reg_refused)) ||
	    (ret = mc_index_counter_get(ix, "pushes", &s->pushes)) ||
	    (ret = mc_index_counter_get(ix, "push_failures", &s->push_failures)) ||
	    (ret = mc_index_counter_get(ix, "fleet_waits", &s->fleet_waits)) ||
	    (ret = mc_index_counter_get(ix, "fleet_wait_hits", &s->fleet_wait_hits)))
		return ret;
	ret = mc_index_last_gc(ix, &s->gc);
	if (ret == MC_ENOTFOUND)
		ret = 0;
	else if (!ret)
		s->have_gc = 1;
	if (ret)
		return ret;
	return mc_index_leases_active(ix, &s->leases, &s->n_leases, s->now_ms);
}

/* hits / (hits + misses), or -1 before the first lookup. */
static double hit_rate(const struct status *s)
{
	int64_t total = s->hits + s->misses;
	return total ? (double)s->hits / (double)total : -1;
}

static json_t *to_json(const struct status *s)
{
	json_t *doc = mc_json_doc(), *o, *a;
	double rate = hit_rate(s);

	json_object_set_new(doc, "root", mc_json_str(s->root));
	json_object_set_new(doc, "index", mc_json_str(s->index));
	json_object_set_new(doc, "now_ms", json_integer(s->now_ms));

	o = json_object();
	json_object_set_new(o, "total", json_integer(s->t.entries));
	for (int st = 0; st < 4; st++)
		json_object_set_new(o, mc_state_name(st), json_integer(s->t.by_state[st]));
	json_object_set_new(doc, "entries", o);

	o = json_object();
	json_object_set_new(o, "trees", json_integer(s->t.tree_bytes));
	json_object_set_new(o, "images", json_integer(s->t.image_bytes));
	json_object_set_new(o, "total", json_integer(s->t.tree_bytes + s->t.image_bytes));
	json_object_set_new(doc, "bytes", o);

	a = json_array();
	for (size_t i = 0; i < s->n_rt; i++) {
		const struct mc_query_runtime *r = &s->rt[i];
		json_t *rj = json_object(), *l = json_null();
		json_object_set_new(rj, "runtime", mc_json_str(r->runtime));
		json_object_set_new(rj, "entries", json_integer(r->entries));
		json_object_set_new(rj, "ready", json_integer(r->ready));
		json_object_set_new(rj, "tree_bytes", json_integer(r->tree_bytes));
		json_object_set_new(rj, "image_bytes", json_integer(r->image_bytes));
		if (r->latest_key) {
			l = json_object();
			json_object_set_new(l, "key", mc_json_str(r->latest_key));
			json_object_set_new(l, "tag", mc_json_str(r->latest_tag));
			json_object_set_new(l, "commit", mc_json_str(r->latest_commit));
			json_object_set_new(l, "state",
					    r->latest_state >= 0 ? mc_json_str(mc_state_name(r->latest_state)) : json_null());
			json_object_set_new(l, "created_ms", mc_json_time(r->latest_created_ms));
			json_object_set_new(l, "last_used_ms", mc_json_time(r->latest_last_used_ms));
			json_object_set_new(l, "age_ms", r->latest_created_ms ? json_integer(s->now_ms - r->latest_created_ms)
									   : json_null());
		}
		json_object_set_new(rj, "latest", l);
		json_array_append_new(a, rj);
	}
	json_object_set_new(doc, "runtimes", a);

	o = json_object();
	json_object_set_new(o, "hits", json_integer(s->hits));
	json_object_set_new(o, "misses", json_integer(s->misses));
	json_object_set_new(o, "builds", json_integer(s->builds));
	json_object_set_new(o, "build_failures", json_integer(s->build_failures));
	json_object_set_new(o, "build_attempts", json_integer(s->t.builds));
	json_object_set_new(o, "build_ms", json_integer(s->t.build_ms));
	json_object_set_new(o, "fetches", json_integer(s->fetches));
	json_object_set_new(o, "registry_hits", json_integer(s->reg_hits));
	json_object_set_new(o, "registry_misses", json_integer(s->reg_misses));
	json_object_set_new(o, "registry_errors", json_integer(s->reg_errors));
	json_object_set_new(o, "registry_refused", json_integer(s->reg_refused));
	json_object_set_new(o, "pushes", json_integer(s->pushes));
	json_object_set_new(o, "push_failures", json_integer(s->push_failures));
	json_object_set_new(o, "fleet_waits", json_integer(s->fleet_waits));
	json_object_set_new(o, "fleet_wait_hits", json_integer(s->fleet_wait_hits));
	json_object_set_new(doc, "counters", o);
	json_object_set_new(doc, "hit_rate", rate < 0 ? json_null() : json_real(rate));

	o = json_null();
	if (s->have_gc) {
		json_t *detail = s->gc.detail ? json_loads(s->gc.detail, 0, NULL) : NULL;
		o = json_object();
		json_object_set_new(o, "started_ms", json_integer(s->gc.started_ms));
		json_object_set_new(o, "duration_ms", json_integer(s->gc.duration_ms));
		json_object_set_new(o, "evicted", json_integer(s->gc.evicted));
		json_object_set_new(o, "bytes_freed", json_integer(s->gc.bytes_freed));
		json_object_set_new(o, "errors", json_integer(s->gc.errors));
		json_object_set_new(o, "detail", detail ? detail : json_null());
	}
	json_object_set_new(doc, "last_gc", o);

	a = json_array();
	for (size_t i = 0; i < s->n_leases; i++) {
		json_t *l = json_object();
		json_object_set_new(l, "key", mc_json_str(s->leases[i].key));
		json_object_set_new(l, "until_ms", json_integer(s->leases[i].until_ms));
		json_array_append_new(a, l);
	}
	json_object_set_new(doc, "leases", a);
	return doc;
}

static void metric(FILE *f, const char *name, const char *type, const char *help)
{
	fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* node_exporter textfile format (text exposition format 0.0.4). */
static void print_prom(const struct status *s, FILE *f)
{
	metric(f, "molcache_entries", "gauge", "Cache entries by state.");
	for (int st = 0; st < 4; st++)
		fprintf(f, "molcache_entries{state=\"%s\"} %lld\n", mc_state_name(st), (long long)s->t.by_state[st]);
	metric(f, "molcache_bytes", "gauge", "Bytes held by the cache (images may share layers: an upper bound).");
	fprintf(f, "molcache_bytes{kind=\"trees\"} %lld\n", (long long)s->t.tree_bytes);
	fprintf(f, "molcache_bytes{kind=\"images\"} %lld\n", (long long)s->t.image_bytes);
	metric(f, "molcache_hits_total", "counter", "Ensure calls served from the cache.");
	fprintf(f, "molcache_hits_total %lld\n", (long long)s->hits);
	metric(f, "molcache_misses_total", "counter", "Ensure calls that had to build.");
	fprintf(f, "molcache_misses_total %lld\n", (long long)s->misses);
	metric(f, "molcache_builds_total", "counter", "Successful image builds.");
	fprintf(f, "molcache_builds_total %lld\n", (long long)s->builds);
	metric(f, "molcache_build_failures_total", "counter", "Failed image builds.");
	fprintf(f, "molcache_build_failures_total %lld\n", (long long)s->build_failures);
	metric(f, "molcache_build_seconds_total", "counter", "Time spent in build attempts.");
	fprintf(f, "molcache_build_seconds_total %.3f\n", (double)s->t.build_ms / 1000.0);
	metric(f, "molcache_registry_hits_total", "counter", "Local misses served by a pull from the registry.");
	fprintf(f, "molcache_registry_hits_total %lld\n", (long long)s->reg_hits);
	metric(f, "molcache_registry_misses_total", "counter", "Local misses the registry did not have either.");
	fprintf(f, "molcache_registry_misses_total %lld\n", (long long)s->reg_misses);
	metric(f, "molcache_registry_errors_total", "counter", "Registry failures that fell back to a local build.");
	fprintf(f, "molcache_registry_errors_total %lld\n", (long long)s->reg_errors);
	metric(f, "molcache_registry_refused_total", "counter", "Pulled images refused: their labels did not match the key.");
	fprintf(f, "molcache_registry_refused_total %lld\n", (long long)s->reg_refused);
	metric(f, "molcache_pushes_total", "counter", "Images pushed to the registry.");
	fprintf(f, "molcache_pushes_total %lld\n", (long long)s->pushes);
	metric(f, "molcache_push_failures_total", "counter", "Pushes to the registry that failed.");
	fprintf(f, "molcache_push_failures_total %lld\n", (long long)s->push_failures);
	metric(f, "molcache_fleet_waits_total", "counter", "Waits for another host's build of a key (its marker).");
	fprintf(f, "molcache_fleet_waits_total %lld\n", (long long)s->fleet_waits);
	metric(f, "molcache_fleet_wait_hits_total", "counter", "Waits that ended in a pull of the other host's image.");
	fprintf(f, "molcache_fleet_wait_hits_total %lld\n", (long long)s->fleet_wait_hits);
	metric(f, "molcache_last_gc_timestamp_seconds", "gauge", "Start of the last gc run (0 = never ran).");
	fprintf(f, "molcache_last_gc_timestamp_seconds %.3f\n", s->have_gc ? (double)s->gc.started_ms / 1000.0 : 0.0);
	metric(f, "molcache_last_gc_freed_bytes", "gauge", "Bytes the last gc run freed.");
	fprintf(f, "molcache_last_gc_freed_bytes %lld\n", s->have_gc ? (long long)s->gc.bytes_freed : 0LL);
	metric(f, "molcache_leases_active", "gauge", "Entries protected from gc by a lease.");
	fprintf(f, "molcache_leases_active %zu\n", s->n_leases);
}

static void print_text(const struct status *s, FILE *f)
{
	int color = mc_fmt_color(f);
	char a[32], b[32], c[32];
	double rate = hit_rate(s);

	fprintf(f, "root:       %s\n", s->root);
	fprintf(f, "entries:    %lld", (long long)s->t.entries);
	if (s->t.entries) {
		const char *sep = " (";
		for (int st = 0; st < 4; st++) {
			static const int order[4] = { MC_STATE_READY, MC_STATE_BUILDING, MC_STATE_FAILED,
						      MC_STATE_EVICTING };
			if (!s->t.by_state[order[st]])
				continue;
			fprintf(f, "%s%lld %s", sep, (long long)s->t.by_state[order[st]], mc_state_name(order[st]));
			sep = ", ";
		}
		fputc(')', f);
	}
	fputc('\n', f);
	mc_fmt_size(a, s->t.tree_bytes);
	mc_fmt_size(b, s->t.image_bytes);
	mc_fmt_size(c, s->t.tree_bytes + s->t.image_bytes);
	fprintf(f, "bytes:      %s (trees %s, images %s)\n", c, a, b);
	mc_fmt_duration(a, s->t.build_ms);
	fprintf(f, "activity:   %lld hits, %lld misses, %lld builds (%lld failed, %s building)", (long long)s->hits,
		(long long)s->misses, (long long)s->builds, (long long)s->build_failures, a);
	if (rate >= 0)
		fprintf(f, ", hit rate %.1f%%", rate * 100);
	fputc('\n', f);
	if (s->reg_hits || s->reg_misses || s->reg_errors || s->pushes || s->push_failures || s->reg_refused) {
		fprintf(f, "registry:   %lld hits, %lld misses, %lld pushes", (long long)s->reg_hits, (long long)s->reg_misses,
			(long long)s->pushes);
		if (s->reg_errors || s->push_failures || s->reg_refused)
			fprintf(f, " (%lld errors, %lld failed pushes, %lld refused)", (long long)s->reg_errors,
				(long long)s->push_failures, (long long)s->reg_refused);
		if (s->fleet_waits)
			fprintf(f, ", %lld waits for another host's build (%lld ended in a pull)", (long long)s->fleet_waits,
				(long long)s->fleet_wait_hits);
		fputc('\n', f);
	}
	if (s->have_gc) {
		mc_fmt_ago(a, s->gc.started_ms, s->now_ms);
		mc_fmt_size(b, s->gc.bytes_freed);
		fprintf(f, "last gc:    %s: %lld evicted, %s freed", a, (long long)s->gc.evicted, b);
		if (s->gc.errors)
			fprintf(f, ", %lld errors", (long long)s->gc.errors);
		fputc('\n', f);
	} else {
		fprintf(f, "last gc:    never\n");
	}
	fprintf(f, "leases:     %zu active", s->n_leases);
	for (size_t i = 0; i < s->n_leases && i < 5; i++) {
		mc_fmt_ago(a, s->leases[i].until_ms, s->now_ms);
		fprintf(f, "%s%.12s until %s", i ? ", " : ": ", s->leases[i].key, a);
	}
	fprintf(f, "%s\n", s->n_leases > 5 ? ", …" : "");
	if (s->n_rt) {
		struct mc_table t;
		fputc('\n', f);
		mc_table_init(&t, 7, (1u << 3) | (1u << 4), color);
		mc_table_cell(&t, "RUNTIME");
		mc_table_cell(&t, "LATEST");
		mc_table_cell(&t, "COMMIT");
		mc_table_cell(&t, "ENTRIES");
		mc_table_cell(&t, "SIZE");
		mc_table_cell(&t, "BUILT");
		mc_table_cell(&t, "LAST USED");
		for (size_t i = 0; i < s->n_rt; i++) {
			const struct mc_query_runtime *r = &s->rt[i];
			mc_table_cell(&t, r->runtime);
			mc_table_cellf(&t, "%.12s", r->latest_key ? r->latest_key : "-");
			mc_table_cellf(&t, "%.12s", r->latest_commit ? r->latest_commit : "-");
			mc_table_cellf(&t, "%lld", (long long)r->entries);
			mc_fmt_size(a, r->tree_bytes + r->image_bytes);
			mc_table_cell(&t, a);
			mc_fmt_ago(a, r->latest_created_ms, s->now_ms);
			mc_table_cell(&t, r->latest_created_ms ? a : "-");
			mc_fmt_ago(a, r->latest_last_used_ms, s->now_ms);
			mc_table_cell(&t, r->latest_last_used_ms ? a : "-");
		}
		mc_table_print(&t, f, 1);
		mc_table_release(&t);
	}
}

/* Writes the textfile next to its final name and renames it into place, so
 * the collector never reads half a file. The temp name is mkstemp's: made with
 * O_EXCL, so a symlink planted at a guessable name is never followed. Errors
 * name the file asked for (exit 1), never the temp file. */
static int write_file(const struct status *s, const char *path, enum fmt fmt)
{
	char *tmp = mc_asprintf("%s.tmp.XXXXXX", path);
	FILE *f = NULL;
	int fd = mkstemp(tmp), ret = 0;

	if (fd < 0 || fchmod(fd, 0644) || !(f = fdopen(fd, "w"))) {
		ret = mc_error_set(MC_ERR, "status output '%s': %s", path, strerror(errno));
		if (fd >= 0) {
			close(fd);
			unlink(tmp);
		}
		goto done;
	}
	if (fmt == F_PROM)
		print_prom(s, f);
	else if (fmt == F_JSON)
		ret = mc_json_print(to_json(s), f);
	else
		print_text(s, f);
	if ((ferror(f) | fclose(f)) && !ret)
		ret = mc_error_set(MC_ERR, "status output '%s': %s", path, strerror(errno));
	if (!ret && rename(tmp, path))
		ret = mc_error_set(MC_ERR, "status output '%s': %s", path, strerror(errno));
	if (ret)
		unlink(tmp);
done:
	free(tmp);
	return ret;
}

int cmd_status(struct mc_ctx *ctx, int argc, char **argv)
{
	enum { O_JSON = 256, O_FORMAT };
	static const struct option opts[] = {
		{ "json", no_argument, NULL, O_JSON },
		{ "format", required_argument, NULL, O_FORMAT },
		{ "output", required_argument, NULL, 'o' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct status s = { 0 };
	enum fmt fmt = F_TEXT;
	const char *output = NULL;
	int c, err, ret = MC_EXIT_OK;

	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "o:h", opts, NULL)) != -1) {
		switch (c) {
		case O_JSON: fmt = F_JSON; break;
		case O_FORMAT:
			if (!strcmp(optarg, "text"))
				fmt = F_TEXT;
			else if (!strcmp(optarg, "json"))
				fmt = F_JSON;
			else if (!strcmp(optarg, "prometheus"))
				fmt = F_PROM;
			else {
				ret = mc_cli_usage_error("status", "--format '%s': want text, json or prometheus", optarg);
				goto done;
			}
			break;
		case 'o': output = optarg; break;
		case 'h':
			fputs(usage_text, stdout);
			goto done;
		default:
			ret = mc_cli_bad_option("status", "o:h", argv);
			goto done;
		}
	}
	if (optind != argc) {
		ret = mc_cli_usage_error("status", "unexpected argument '%s'", argv[optind]);
		goto done;
	}
	if ((err = mc_ctx_init(ctx)) || (err = gather(ctx, &s)) || (output && (err = write_file(&s, output, fmt)))) {
		ret = mc_cli_fail(ctx, err);
		goto done;
	}
	if (output)
		goto done;
	if (fmt == F_PROM)
		print_prom(&s, stdout);
	else if (fmt == F_JSON && (err = mc_json_print(to_json(&s), stdout)))
		ret = mc_cli_fail(ctx, err);
	else if (fmt == F_TEXT)
		print_text(&s, stdout);
done:
	status_release(&s);
	return ret;
}
