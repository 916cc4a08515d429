/* cmd_ls.c — `molcache ls`: a table (or JSON) of the cached entries. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../store/names.h"
#include "../fleet/fleet.h"
#include "cli.h"
#include "format.h"

static const char usage_text[] =
	"usage: molcache ls [--runtime R] [--sort FIELD] [--json]\n"
	"\n"
	"Lists the cached entries: key prefix, runtime, commit, tag, size (tree +\n"
	"image), last use, uses, state and origin (built here, pulled from the\n"
	"registry, adopted from a labelled image). The tag column marks with\n"
	"(latest) the entry its runtime's :latest points at.\n"
	"\n"
	"  --runtime R            only entries of runtime R\n"
	"  --sort FIELD           last-used (default, newest first), created (newest\n"
	"                         first), size (largest first), uses (most first),\n"
	"                         build-time (longest first), runtime, key, state\n"
	"  --json                 print JSON on stdout (docs/json.md, \"ls\")\n"
	"  -h, --help             this help\n";

enum sort_field { S_LAST_USED, S_CREATED, S_SIZE, S_USES, S_BUILD_TIME, S_RUNTIME, S_KEY, S_STATE };

static const struct {
	const char *name;
	enum sort_field f;
} sort_names[] = {
	{ "last-used", S_LAST_USED }, { "used", S_LAST_USED },	 { "created", S_CREATED }, { "size", S_SIZE },
	{ "uses", S_USES },	      { "build-time", S_BUILD_TIME }, { "runtime", S_RUNTIME }, { "key", S_KEY },
	{ "state", S_STATE },
};

static enum sort_field sort_by; /* qsort has no user pointer in C11 */

static int cmp_i64_desc(int64_t a, int64_t b) { return a < b ? 1 : a > b ? -1 : 0; }

static int cmp_str(const char *a, const char *b) { return strcmp(a ? a : "", b ? b : ""); }

static int cmp_entry(const void *pa, const void *pb)
{
	const struct mc_entry *a = pa, *b = pb;
	int c = 0;
	switch (sort_by) {
	case S_LAST_USED: break;
	case S_CREATED: c = cmp_i64_desc(a->created_ms, b->created_ms); break;
	case S_SIZE: c = cmp_i64_desc(a->tree_bytes + a->image_bytes, b->tree_bytes + b->image_bytes); break;
	case S_USES: c = cmp_i64_desc(a->use_count, b->use_count); break;
	case S_BUILD_TIME: c = cmp_i64_desc(a->build_ms, b->build_ms); break;
	case S_RUNTIME: c = cmp_str(a->runtime, b->runtime); break;
	case S_KEY: c = cmp_str(a->key, b->key); break;
	case S_STATE: c = cmp_str(mc_state_name(a->state), mc_state_name(b->state)); break;
	}
	/* ties: newest use first, then key, so the order is total and stable */
	if (!c)
		c = cmp_i64_desc(a->last_used_ms, b->last_used_ms);
	return c ? c : cmp_str(a->key, b->key);
}

static enum mc_color state_color(int state)
{
	switch (state) {
	case MC_STATE_READY: return MC_COLOR_GREEN;
	case MC_STATE_FAILED: return MC_COLOR_RED;
	default: return MC_COLOR_YELLOW;
	}
}

static void print_text(struct mc_index *ix, const struct mc_entry *v, size_t n, const struct mc_strv *latest, FILE *f)
{
	struct mc_table t;
	int64_t now = mc_now_ms();
	char buf[32];

	if (!n) {
		fprintf(f, "no entries\n");
		return;
	}
	mc_table_init(&t, 9, (1u << 4) | (1u << 6), mc_fmt_color(f));
	mc_table_cell(&t, "KEY");
	mc_table_cell(&t, "RUNTIME");
	mc_table_cell(&t, "COMMIT");
	mc_table_cell(&t, "TAG");
	mc_table_cell(&t, "SIZE");
	mc_table_cell(&t, "LAST USED");
	mc_table_cell(&t, "USES");
	mc_table_cell(&t, "STATE");
	mc_table_cell(&t, "ORIGIN");
	for (size_t i = 0; i < n; i++) {
		const struct mc_entry *e = &v[i];
		mc_table_cellf(&t, "%.12s", e->key);
		mc_table_cell(&t, e->runtime);
		mc_table_cellf(&t, "%.12s", e->head_sha ? e->head_sha : "-");
		mc_table_cellf(&t, "%s%s", e->image_tag ? e->image_tag : "-",
			       mc_strv_find(latest, e->key) >= 0 ? " (latest)" : "");
		mc_fmt_size(buf, e->tree_bytes + e->image_bytes);
		mc_table_cell(&t, buf);
		mc_fmt_ago(buf, e->last_used_ms, now);
		mc_table_cell(&t, buf);
		mc_table_cellf(&t, "%lld", (long long)e->use_count);
		mc_table_cellc(&t, mc_state_name(e->state), state_color(e->state));
		char *origin = mc_fleet_origin(ix, e->key);
		mc_table_cell(&t, origin);
		free(origin);
	}
	mc_table_print(&t, f, 1);
	mc_table_release(&t);
}

/* Streamed, one entry per line: a large index never builds one big tree. */
static int print_json(struct mc_index *ix, const struct mc_entry *v, size_t n, const struct mc_strv *latest, FILE *f)
{
	int ret = 0;
	fprintf(f, "{\n  \"schema_version\": %d,\n  \"entries\": [", MC_JSON_SCHEMA_VERSION);
	for (size_t i = 0; i < n && !ret; i++) {
		json_t *o = mc_json_entry(&v[i], mc_strv_find(latest, v[i].key) >= 0);
		char *origin = mc_fleet_origin(ix, v[i].key);
		json_object_set_new(o, "origin", json_string(origin));
		free(origin);
		fprintf(f, "%s\n    ", i ? "," : "");
		if (json_dumpf(o, f, JSON_COMPACT))
			ret = mc_error_set(MC_ERR, "writing JSON: failed");
		json_decref(o);
	}
	fprintf(f, "%s]\n}\n", n ? "\n  " : "");
	if (!ret && ferror(f))
		ret = mc_error_set(MC_ERR, "writing JSON: failed");
	return ret;
}

int cmd_ls(struct mc_ctx *ctx, int argc, char **argv)
{
	enum { O_RUNTIME = 256, O_SORT, O_JSON };
	static const struct option opts[] = {
		{ "runtime", required_argument, NULL, O_RUNTIME },
		{ "sort", required_argument, NULL, O_SORT },
		{ "json", no_argument, NULL, O_JSON },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *runtime = NULL;
	struct mc_entry *v = NULL;
	struct mc_strv latest = MC_STRV_INIT;
	struct mc_index *ix;
	size_t n = 0;
	int c, err, json = 0, ret = MC_EXIT_OK;

	sort_by = S_LAST_USED;
	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case O_RUNTIME: runtime = optarg; break;
		case O_JSON: json = 1; break;
		case O_SORT: {
			size_t i;
			for (i = 0; i < sizeof(sort_names) / sizeof(*sort_names); i++)
				if (!strcmp(optarg, sort_names[i].name))
					break;
			if (i == sizeof(sort_names) / sizeof(*sort_names)) {
				ret = mc_cli_usage_error("ls",
							 "--sort '%s': want last-used, created, size, uses, build-time, "
							 "runtime, key or state",
							 optarg);
				goto done;
			}
			sort_by = sort_names[i].f;
			break;
		}
		case 'h':
			fputs(usage_text, stdout);
			goto done;
		default:
			ret = mc_cli_bad_option("ls", "h", argv);
			goto done;
		}
	}
	if (optind != argc) {
		ret = mc_cli_usage_error("ls", "unexpected argument '%s'", argv[optind]);
		goto done;
	}
	if ((runtime && (err = mc_runtime_check(runtime, NULL))) || (err = mc_ctx_init(ctx)) ||
	    (err = mc_ctx_index_view(ctx, &ix)) || (err = mc_index_list(ix, &v, &n, runtime)) ||
	    (err = mc_index_latest_all(ix, &latest))) {
		ret = mc_cli_fail(ctx, err);
		goto done;
	}
	/* the index already returns last-used order */
	if (sort_by != S_LAST_USED)
		qsort(v, n, sizeof(*v), cmp_entry);
	if (json) {
		if ((err = print_json(ix, v, n, &latest, stdout)))
			ret = mc_cli_fail(ctx, err);
	} else {
		print_text(ix, v, n, &latest, stdout);
	}
done:
	mc_entries_free(v, n);
	mc_strv_release(&latest);
	return ret;
}
