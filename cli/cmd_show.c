/* cmd_show.c — `molcache show`: one entry in full: key inputs, image, labels, build history, log. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "../store/query.h"
#include "../fleet/fleet.h"
#include "cli.h"
#include "format.h"

static const char usage_text[] =
	"usage: molcache show KEY-PREFIX|TAG|RUNTIME [--json] [-n LINES]\n"
	"\n"
	"Shows one entry: every input of its key (so two builds can be told apart),\n"
	"tree path, image id and labels (asked from the engine when it answers), the\n"
	"build history with durations, and the saved build log with its last lines.\n"
	"\n"
	"The entry is named by a runtime (its :latest entry, else its newest), an\n"
	"image tag (molcache/RUNTIME:KEY12 or RUNTIME:latest) or a key prefix.\n"
	"\n"
	"  -n, --lines N          how many lines of the build log to show (default 10)\n"
	"  --json                 print JSON on stdout (docs/json.md, \"show\")\n"
	"  -h, --help             this help\n"
	"\n"
	"Exit status: 0 shown, 2 the prefix names several entries, 8 nothing matches.\n";

#define MAX_CANDIDATES 20
#define TAIL_BYTES 65536

/* The last n lines of the file at path (up to TAIL_BYTES from the end).
 * 0, or an MC_E… code when the file cannot be read. */
static int log_tail(struct mc_strv *out, const char *path, long n)
{
	FILE *f = fopen(path, "rb");
	struct mc_buf b = MC_BUF_INIT;
	char chunk[8192];
	size_t got, start = 0;
	long lines = 0;
	int ret = 0;

	if (!f)
		return mc_error_errno(path);
	if (fseek(f, 0, SEEK_END) == 0) {
		long size = ftell(f);
		if (size > TAIL_BYTES)
			fseek(f, size - TAIL_BYTES, SEEK_SET);
		else
			rewind(f);
	}
	while ((got = fread(chunk, 1, sizeof(chunk), f)) > 0)
		mc_buf_add(&b, chunk, got);
	if (ferror(f)) {
		ret = mc_error_errno(path);
		goto done;
	}
	/* walk back over n line ends (a final newline ends the last line) */
	if (b.len) {
		size_t i = b.len;
		if (b.ptr[i - 1] == '\n')
			i--;
		while (i > 0 && lines < n) {
			i--;
			if (b.ptr[i] == '\n') {
				lines++;
				if (lines == n) {
					start = i + 1;
					break;
				}
			}
		}
		if (lines < n)
			start = 0;
		for (size_t p = start; p < b.len;) {
			char *nl = memchr(b.ptr + p, '\n', b.len - p);
			size_t e = nl ? (size_t)(nl - b.ptr) : b.len;
			if (n > 0)
				mc_strv_pushn(out, b.ptr + p, e - p);
			p = e + 1;
		}
	}
done:
	fclose(f);
	mc_buf_release(&b);
	return ret;
}

/* What the engine says about the image: present, size and labels; or why it
 * could not say. */
struct engine_view {
	int asked;      /* 1 when the engine answered */
	int present;
	char *error;    /* the engine could not be asked */
	struct mc_image img;
};

static void engine_view(struct mc_ctx *ctx, const struct mc_entry *e, struct engine_view *out)
{
	struct mc_engine *eng;
	int err;

	memset(out, 0, sizeof(*out));
	if (!e->image_id && !e->image_tag)
		return;
	if ((err = mc_ctx_engine(ctx, &eng)) ||
	    ((err = mc_engine_image_inspect(eng, e->image_id ? e->image_id : e->image_tag, &out->img)) &&
	     err != MC_ENOTFOUND)) {
		out->error = mc_strdup(mc_error_msg());
		mc_error_clear();
		return;
	}
	mc_error_clear();
	out->asked = 1;
	out->present = !err;
}

static void engine_view_release(struct engine_view *v)
{
	free(v->error);
	mc_image_release(&v->img);
}

/* Everything show prints, gathered first. */
struct view {
	struct mc_entry e;
	int latest;
	int64_t lease_until;
	struct mc_query_build *builds;
	size_t n_builds;
	const char *log_path; /* the newest build's log */
	struct mc_strv tail;
	char *log_error;
	struct engine_view img;
	int64_t now_ms;
	struct mc_failure fail; /* fail.count == 0: no failure on record */
	char *origin; /* built, pulled, adopted */
};

static void view_release(struct view *v)
{
	mc_entry_release(&v->e);
	mc_query_builds_free(v->builds, v->n_builds);
	mc_strv_release(&v->tail);
	free(v->log_error);
	engine_view_release(&v->img);
	mc_failure_release(&v->fail);
	free(v->origin);
}

static json_t *to_json(const struct view *v, const char *how)
{
	json_t *doc = mc_json_doc(), *a, *o;
	json_object_set_new(doc, "matched_by", mc_json_str(how));
	json_object_set_new(doc, "entry", mc_json_entry(&v->e, v->latest));
	json_object_set_new(json_object_get(doc, "entry"), "origin", mc_json_str(v->origin));
	json_object_set_new(doc, "lease_until_ms", mc_json_time(v->lease_until));
	json_object_set_new(doc, "failure", mc_json_failure(&v->fail));

	o = json_object();
	json_object_set_new(o, "asked", json_boolean(v->img.asked));
	json_object_set_new(o, "present", v->img.asked ? json_boolean(v->img.present) : json_null());
	json_object_set_new(o, "size", v->img.present ? json_integer(v->img.img.size) : json_null());
	json_object_set_new(o, "labels", v->img.present ? mc_json_labels(&v->img.img.labels) : json_null());
	json_object_set_new(o, "error", mc_json_str(v->img.error));
	json_object_set_new(doc, "engine", o);

	a = json_array();
	for (size_t i = 0; i < v->n_builds; i++) {
		const struct mc_query_build *b = &v->builds[i];
		json_t *bj = json_object();
		json_object_set_new(bj, "started_ms", json_integer(b->started_ms));
		json_object_set_new(bj, "duration_ms", json_integer(b->duration_ms));
		json_object_set_new(bj, "ok", json_boolean(b->ok));
		json_object_set_new(bj, "log_path", mc_json_str(b->log_path));
		json_array_append_new(a, bj);
	}
	json_object_set_new(doc, "builds", a);

	o = json_null();
	if (v->log_path) {
		o = json_object();
		json_object_set_new(o, "path", mc_json_str(v->log_path));
		a = json_array();
		for (size_t i = 0; i < v->tail.n; i++)
			json_array_append_new(a, mc_json_str(v->tail.v[i]));
		json_object_set_new(o, "tail", a);
		json_object_set_new(o, "error", mc_json_str(v->log_error));
	}
	json_object_set_new(doc, "log", o);
	return doc;
}

static void field(FILE *f, const char *name, const char *value)
{
	fprintf(f, "%-18s%s\n", name, value && *value ? value : "-");
}

static void print_text(const struct view *v, FILE *f)
{
	const struct mc_entry *e = &v->e;
	int color = mc_fmt_color(f);
	char a[32], b[32];

	fprintf(f, "%-18s", "key:");
	mc_fmt_paint(f, color, MC_COLOR_BOLD, e->key);
	fputc('\n', f);
	field(f, "runtime:", e->runtime);
	fprintf(f, "%-18s", "state:");
	mc_fmt_paint(f, color, e->state == MC_STATE_READY ? MC_COLOR_GREEN : e->state == MC_STATE_FAILED ? MC_COLOR_RED
													     : MC_COLOR_YELLOW,
		     mc_state_name(e->state));
	fputc('\n', f);
	field(f, "tag:", e->image_tag);
	field(f, "origin:", v->origin);
	if (v->latest)
		fprintf(f, "%-18s%s/%s:latest\n", "", mc_tag_namespace(), e->runtime ? e->runtime : "?");
	mc_fmt_size(a, e->image_bytes);
	if (e->image_id)
		fprintf(f, "%-18s%s (%s)\n", "image:", e->image_id, a);
	else
		fprintf(f, "%-18s(none)\n", "image:");
	mc_fmt_size(a, e->tree_bytes);
	fprintf(f, "%-18s%s%s%s%s\n", "tree:", e->tree_path ? e->tree_path : "(none)", e->tree_path ? " (" : "",
		e->tree_path ? a : "", e->tree_path ? ")" : "");
	mc_format_utc(a, e->created_ms);
	mc_fmt_duration(b, e->build_ms);
	if (e->build_ms)
		fprintf(f, "%-18s%s, built in %s\n", "created:", a, b);
	else
		fprintf(f, "%-18s%s\n", "created:", a);
	mc_fmt_ago(a, e->last_used_ms, v->now_ms);
	fprintf(f, "%-18s%s, %lld use%s\n", "last used:", a, (long long)e->use_count, e->use_count == 1 ? "" : "s");
	if (v->lease_until) {
		mc_fmt_ago(a, v->lease_until, v->now_ms);
		fprintf(f, "%-18suntil %s\n", "lease:", a);
	}
	if (v->fail.count) {
		char *text = mc_fmt_failure(&v->fail, v->now_ms);
		fprintf(f, "%-18s", "failures:");
		mc_fmt_paint(f, color, MC_COLOR_RED, text);
		fputc('\n', f);
		if (v->fail.step)
			fprintf(f, "%-18s%s\n", "", v->fail.step);
		free(text);
	}

	fprintf(f, "\ninputs (the key is sha256 over these):\n");
	field(f, "  repo prefix:", e->repo_prefix);
	field(f, "  ref:", e->ref && *e->ref ? e->ref : "(the remote's default branch)");
	field(f, "  commit:", e->head_sha);
	field(f, "  dockerfile:", e->dockerfile_path);
	field(f, "  dockerfile sha:", e->dockerfile_hash);
	field(f, "  platform:", e->platform);
	if (e->build_args && *e->build_args) {
		const char *p = e->build_args;
		int first = 1;
		while (*p) {
			const char *nl = strchr(p, '\n');
			int len = nl ? (int)(nl - p) : (int)strlen(p);
			fprintf(f, "%-18s%.*s\n", first ? "  build args:" : "", len, p);
			first = 0;
			p += len + (nl ? 1 : 0);
		}
	} else {
		field(f, "  build args:", "(none)");
	}

	fprintf(f, "\nlabels:");
	if (v->img.error) {
		fprintf(f, " (the engine did not answer: %s)\n", v->img.error);
	} else if (!v->img.asked) {
		fprintf(f, " (no image recorded)\n");
	} else if (!v->img.present) {
		fprintf(f, " (the image is gone from the engine; the next ensure rebuilds it)\n");
	} else if (!v->img.img.labels.n) {
		fprintf(f, " (none)\n");
	} else {
		fputc('\n', f);
		for (size_t i = 0; i < v->img.img.labels.n; i++)
			fprintf(f, "  %s\n", v->img.img.labels.v[i]);
	}

	fprintf(f, "\nbuilds:");
	if (!v->n_builds) {
		fprintf(f, " (none recorded)\n");
	} else {
		struct mc_table t;
		fputc('\n', f);
		mc_table_init(&t, 5, 1u << 2, color);
		mc_table_cell(&t, "  STARTED");
		mc_table_cell(&t, "AGO");
		mc_table_cell(&t, "DURATION");
		mc_table_cell(&t, "RESULT");
		mc_table_cell(&t, "LOG");
		for (size_t i = 0; i < v->n_builds; i++) {
			const struct mc_query_build *bd = &v->builds[i];
			mc_format_utc(a, bd->started_ms);
			mc_table_cellf(&t, "  %s", a);
			mc_fmt_ago(a, bd->started_ms, v->now_ms);
			mc_table_cell(&t, a);
			mc_fmt_duration(a, bd->duration_ms);
			mc_table_cell(&t, a);
			mc_table_cellc(&t, bd->ok ? "ok" : "failed", bd->ok ? MC_COLOR_GREEN : MC_COLOR_RED);
			mc_table_cell(&t, bd->log_path);
		}
		mc_table_print(&t, f, 1);
		mc_table_release(&t);
	}

	if (v->log_path) {
		fprintf(f, "\nbuild log:        %s\n", v->log_path);
		if (v->log_error)
			fprintf(f, "  (cannot read it: %s)\n", v->log_error);
		for (size_t i = 0; i < v->tail.n; i++)
			fprintf(f, "  | %s\n", v->tail.v[i]);
	}
}

int cmd_show(struct mc_ctx *ctx, int argc, char **argv)
{
	enum { O_JSON = 256 };
	static const struct option opts[] = {
		{ "json", no_argument, NULL, O_JSON },
		{ "lines", required_argument, NULL, 'n' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct view v = { 0 };
	struct mc_strv keys = MC_STRV_INIT, latest = MC_STRV_INIT;
	struct mc_index *ix;
	const char *how = NULL, *what;
	long lines = 10;
	int c, err, json = 0, ret = MC_EXIT_OK;

	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "n:h", opts, NULL)) != -1) {
		switch (c) {
		case O_JSON: json = 1; break;
		case 'n': {
			char *end;
			lines = strtol(optarg, &end, 10);
			if (*end || !*optarg || lines < 0 || lines > 10000) {
				ret = mc_cli_usage_error("show", "--lines '%s': want 0..10000", optarg);
				goto done;
			}
			break;
		}
		case 'h':
			fputs(usage_text, stdout);
			goto done;
		default:
			ret = mc_cli_bad_option("show", "n:h", argv);
			goto done;
		}
	}
	if (argc - optind != 1 || !*argv[optind]) {
		ret = mc_cli_usage_error("show", "want exactly one KEY-PREFIX, TAG or RUNTIME");
		goto done;
	}
	what = argv[optind];
	if ((err = mc_ctx_init(ctx)) || (err = mc_ctx_index_view(ctx, &ix)) ||
	    (err = mc_query_find(ix, &keys, &how, what, MAX_CANDIDATES + 1))) {
		ret = mc_cli_fail(ctx, err);
		goto done;
	}
	if (!keys.n) {
		fprintf(stderr, "molcache: '%s': no cached entry has this key prefix, tag or runtime\n", what);
		fprintf(stderr, "hint: see 'molcache ls' for what is cached\n");
		ret = MC_EXIT_NOTFOUND;
		goto done;
	}
	if (keys.n > 1) {
		fprintf(stderr, "molcache: '%s': ambiguous key prefix; it matches %s%zu entries:\n", what,
			keys.n > MAX_CANDIDATES ? "more than " : "", keys.n > MAX_CANDIDATES ? (size_t)MAX_CANDIDATES : keys.n);
		for (size_t i = 0; i < keys.n && i < MAX_CANDIDATES; i++)
			fprintf(stderr, "  %s\n", keys.v[i]);
		fprintf(stderr, "hint: give more digits of the key\n");
		ret = MC_EXIT_USAGE;
		goto done;
	}
	v.now_ms = mc_now_ms();
	if ((err = mc_index_get(ix, &v.e, keys.v[0])) || (err = mc_index_latest_all(ix, &latest)) ||
	    (err = mc_index_lease_get(ix, v.e.key, &v.lease_until)) ||
	    (err = mc_query_builds(ix, &v.builds, &v.n_builds, v.e.key))) {
		ret = mc_cli_fail(ctx, err);
		goto done;
	}
	if (v.lease_until <= v.now_ms)
		v.lease_until = 0;
	v.origin = mc_fleet_origin(ix, v.e.key);
	if ((err = mc_index_failure_get(ix, &v.fail, v.e.key)) && err != MC_ENOTFOUND) {
		ret = mc_cli_fail(ctx, err);
		goto done;
	}
	v.latest = mc_strv_find(&latest, v.e.key) >= 0;
	/* the newest attempt's log; builds are oldest first */
	for (size_t i = v.n_builds; i-- > 0;)
		if (v.builds[i].log_path) {
			v.log_path = v.builds[i].log_path;
			break;
		}
	if (v.log_path && log_tail(&v.tail, v.log_path, lines))
		v.log_error = mc_strdup(mc_error_msg());
	engine_view(ctx, &v.e, &v.img);
	if (json) {
		if ((err = mc_json_print(to_json(&v, how), stdout)))
			ret = mc_cli_fail(ctx, err);
	} else {
		print_text(&v, stdout);
	}
done:
	view_release(&v);
	mc_strv_release(&keys);
	mc_strv_release(&latest);
	return ret;
}
