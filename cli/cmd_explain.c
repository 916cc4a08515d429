/* cmd_explain.c — `molcache explain`: why the next ensure would hit or miss, diffed against the nearest cached key. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../fleet/fleet.h"
#include "../store/key.h"
#include "cli.h"
#include "format.h"

static const char usage_text[] =
	"usage: molcache explain RUNTIME [options]\n"
	"\n"
	"Says whether the next 'molcache ensure RUNTIME' with the same options would\n"
	"be a cache hit or a miss, and why: the key inputs it would use (one remote\n"
	"ref lookup; a new commit's Dockerfile may be fetched once), and on a miss the\n"
	"fields that differ from the nearest cached entry of the runtime (new commit?\n"
	"Dockerfile changed? other platform or build args?). Builds nothing.\n"
	"\n"
	"  --ref REF              branch, tag or full commit sha (default: the remote's HEAD)\n"
	"  --repo-prefix URL      template repository prefix (MOLCACHE_REPO_PREFIX)\n"
	"  --dockerfile PATH      Dockerfile path inside the template (default: Dockerfile)\n"
	"  --platform P           os/arch[/variant] (MOLCACHE_PLATFORM; default: the engine's)\n"
	"  --build-arg K=V        a build argument; repeatable\n"
	"  --json                 print JSON on stdout (docs/json.md, \"explain\")\n"
	"  -h, --help             this help\n"
	"\n"
	"Exit status: 0 for a hit and for a miss; the codes of ensure when the inputs\n"
	"cannot be worked out (3 remote, 4 engine, 5 no Dockerfile).\n";

/* One field that differs between the nearest entry and the next inputs. */
struct diff {
	const char *field; /* "repo_prefix", "commit", "dockerfile_path", "dockerfile_hash", "platform", "build_arg" */
	char *name;        /* the build arg's name, else NULL */
	char *old, *new_;  /* NULL = unset; a build arg's value is its sha256, never the value */
	char *why;
};

struct diffs {
	struct diff *v;
	size_t n, cap;
};

static void diff_add(struct diffs *d, const char *field, const char *name, const char *old, const char *new_,
		     const char *why)
{
	if (d->n == d->cap) {
		d->cap = d->cap ? d->cap * 2 : 8;
		d->v = mc_realloc(d->v, d->cap * sizeof(*d->v));
	}
	d->v[d->n++] = (struct diff){ field, name ? mc_strdup(name) : NULL, old ? mc_strdup(old) : NULL,
				      new_ ? mc_strdup(new_) : NULL, mc_strdup(why) };
}

static void diffs_release(struct diffs *d)
{
	for (size_t i = 0; i < d->n; i++) {
		free(d->v[i].name);
		free(d->v[i].old);
		free(d->v[i].new_);
		free(d->v[i].why);
	}
	free(d->v);
	memset(d, 0, sizeof(*d));
}

static int same(const char *a, const char *b) { return !strcmp(a ? a : "", b ? b : ""); }

/* The value of build arg name in canonical "K=V\n…" text, malloc'd, or NULL. */
static char *arg_value(const char *canonical, const char *name)
{
	size_t nl = strlen(name);
	for (const char *p = canonical; p && *p;) {
		const char *end = strchr(p, '\n');
		size_t len = end ? (size_t)(end - p) : strlen(p);
		if (len > nl && !strncmp(p, name, nl) && p[nl] == '=')
			return mc_strndup(p + nl + 1, len - nl - 1);
		p += len + (end ? 1 : 0);
	}
	return NULL;
}

/* Appends every build arg name of canonical to names (no duplicates). */
static void arg_names(struct mc_strv *names, const char *canonical)
{
	for (const char *p = canonical; p && *p;) {
		const char *end = strchr(p, '\n');
		size_t len = end ? (size_t)(end - p) : strlen(p);
		const char *eq = memchr(p, '=', len);
		if (eq) {
			char *k = mc_strndup(p, (size_t)(eq - p));
			if (mc_strv_find(names, k) < 0)
				mc_strv_push(names, k);
			free(k);
		}
		p += len + (end ? 1 : 0);
	}
}

/* How many key inputs of e equal those of in (0..5). */
static int score(const struct mc_entry *e, const struct mc_entry *in)
{
	return same(e->repo_prefix, in->repo_prefix) + same(e->head_sha, in->head_sha) +
	       same(e->dockerfile_hash, in->dockerfile_hash) + same(e->platform, in->platform) +
	       same(e->build_args, in->build_args);
}

static void diff_entries(struct diffs *d, const struct mc_entry *old, const struct mc_entry *in)
{
	struct mc_strv names = MC_STRV_INIT;

	if (!same(old->repo_prefix, in->repo_prefix))
		diff_add(d, "repo_prefix", NULL, old->repo_prefix, in->repo_prefix, "another template repository");
	if (!same(old->head_sha, in->head_sha))
		diff_add(d, "commit", NULL, old->head_sha, in->head_sha, "the template has another commit");
	if (!same(old->dockerfile_path, in->dockerfile_path))
		diff_add(d, "dockerfile_path", NULL, old->dockerfile_path, in->dockerfile_path, "another Dockerfile path");
	if (!same(old->dockerfile_hash, in->dockerfile_hash))
		diff_add(d, "dockerfile_hash", NULL, old->dockerfile_hash, in->dockerfile_hash,
			 "the Dockerfile's content differs");
	if (!same(old->platform, in->platform))
		diff_add(d, "platform", NULL, old->platform, in->platform, "another target platform");
	arg_names(&names, old->build_args);
	arg_names(&names, in->build_args);
	mc_strv_sort(&names);
	for (size_t i = 0; i < names.n; i++) {
		char *a = arg_value(old->build_args, names.v[i]);
		char *b = arg_value(in->build_args, names.v[i]);
		if (!a || !b || strcmp(a, b)) {
			char *why = !a ? mc_asprintf("new build arg %s", names.v[i])
				    : !b ? mc_asprintf("build arg %s dropped", names.v[i])
					 : mc_asprintf("value of %s changed", names.v[i]);
			diff_add(d, "build_arg", names.v[i], a, b, why);
			free(why);
		}
		free(a);
		free(b);
	}
	mc_strv_release(&names);
}

/* The nearest entry: most key inputs equal, then ready ones, then the one
 * :latest points at, then the most recently used (the list's order). */
static const struct mc_entry *nearest(const struct mc_entry *v, size_t n, const struct mc_entry *in,
				      const char *latest_key)
{
	const struct mc_entry *best = NULL;
	int best_rank = -1;
	for (size_t i = 0; i < n; i++) {
		int rank;
		if (!strcmp(v[i].key, in->key))
			continue;
		rank = score(&v[i], in) * 4 + (v[i].state == MC_STATE_READY) * 2 + (latest_key && !strcmp(v[i].key, latest_key));
		if (rank > best_rank) {
			best = &v[i];
			best_rank = rank;
		}
	}
	return best;
}

struct explanation {
	struct mc_entry in;  /* what the next ensure would use */
	int cached;
	int indexed_state;   /* the key's row state, -1 when no row */
	const char *reason;
	const struct mc_entry *near;
	int near_latest;
	char *near_origin; /* built, pulled, adopted (meta origin:<key>) */
	struct diffs d;
	struct mc_failure fail; /* fail.count == 0: none on record */
	char *fail_reason;
};

static const char *miss_reason(int indexed_state)
{
	switch (indexed_state) {
	case -1: return "no entry has this key";
	case MC_STATE_READY: return "the entry's image is gone from the engine; ensure rebuilds it";
	case MC_STATE_FAILED: return "the last build of this key failed; ensure retries it";
	case MC_STATE_BUILDING: return "a build of this key is running (or died; ensure takes it over)";
	case MC_STATE_EVICTING: return "gc is evicting this key; ensure rebuilds it";
	default: return "the entry is in an unknown state";
	}
}

static json_t *inputs_json(const struct mc_entry *e)
{
	json_t *o = json_object();
	json_object_set_new(o, "runtime", mc_json_str(e->runtime));
	mc_json_key_inputs(o, e);
	return o;
}

static json_t *to_json(const struct explanation *x)
{
	json_t *doc = mc_json_doc(), *n = json_null();
	json_object_set_new(doc, "runtime", mc_json_str(x->in.runtime));
	json_object_set_new(doc, "inputs", inputs_json(&x->in));
	json_object_set_new(doc, "key", mc_json_str(x->in.key));
	json_object_set_new(doc, "tag", mc_json_str(x->in.image_tag));
	json_object_set_new(doc, "result", json_string(x->cached ? "hit" : "miss"));
	json_object_set_new(doc, "reason", mc_json_str(x->reason));
	json_object_set_new(doc, "failure", mc_json_failure(&x->fail));
	json_object_set_new(doc, "indexed_state", x->indexed_state >= 0 ? mc_json_str(mc_state_name(x->indexed_state))
								       : json_null());
	if (x->near) {
		json_t *a = json_array();
		n = json_object();
		json_object_set_new(n, "entry", mc_json_entry(x->near, x->near_latest));
		json_object_set_new(json_object_get(n, "entry"), "origin", mc_json_str(x->near_origin));
		for (size_t i = 0; i < x->d.n; i++) {
			json_t *o = json_object();
			json_object_set_new(o, "field", json_string(x->d.v[i].field));
			if (x->d.v[i].name)
				json_object_set_new(o, "name", mc_json_str(x->d.v[i].name));
			json_object_set_new(o, "old", mc_json_str(x->d.v[i].old));
			json_object_set_new(o, "new", mc_json_str(x->d.v[i].new_));
			json_object_set_new(o, "why", mc_json_str(x->d.v[i].why));
			json_array_append_new(a, o);
		}
		json_object_set_new(n, "differences", a);
	}
	json_object_set_new(doc, "nearest", n);
	return doc;
}

/* Hashes and shas are long: 12 digits are enough to tell them apart here. */
static void short_value(char *out, size_t n, const char *field, const char *v)
{
	if (!v)
		snprintf(out, n, "(unset)");
	else if (!strcmp(field, "commit") || !strcmp(field, "dockerfile_hash"))
		snprintf(out, n, "%.12s", v);
	else
		snprintf(out, n, "%s", v);
}

static void print_text(const struct explanation *x, FILE *f)
{
	const struct mc_entry *e = &x->in;
	int color = mc_fmt_color(f);
	int64_t now = mc_now_ms();

	fprintf(f, "%-16s%s\n", "runtime:", e->runtime);
	fprintf(f, "%-16s%s\n", "repo prefix:", e->repo_prefix);
	fprintf(f, "%-16s%s\n", "ref:", e->ref && *e->ref ? e->ref : "(the remote's default branch)");
	fprintf(f, "%-16s%s\n", "commit:", e->head_sha);
	fprintf(f, "%-16s%s (sha256 %.12s)\n", "dockerfile:", e->dockerfile_path, e->dockerfile_hash);
	fprintf(f, "%-16s%s\n", "platform:", e->platform);
	if (e->build_args && *e->build_args) {
		int first = 1;
		for (const char *p = e->build_args; *p;) {
			const char *nl = strchr(p, '\n');
			int len = nl ? (int)(nl - p) : (int)strlen(p);
			fprintf(f, "%-16s%.*s\n", first ? "build args:" : "", len, p);
			first = 0;
			p += len + (nl ? 1 : 0);
		}
	} else {
		fprintf(f, "%-16s(none)\n", "build args:");
	}
	fprintf(f, "%-16s%s\n", "key:", e->key);
	fprintf(f, "%-16s%s\n\n", "tag:", e->image_tag);
	fprintf(f, "%-16s", "result:");
	mc_fmt_paint(f, color, x->cached ? MC_COLOR_GREEN : MC_COLOR_YELLOW, x->cached ? "hit" : "miss");
	fprintf(f, ": %s\n", x->reason);
	if (x->fail.count && !x->cached) {
		char *text = mc_fmt_failure(&x->fail, now);
		fprintf(f, "%-16s%s%s%s\n", "failures:", text, x->fail.step ? ": " : "", x->fail.step ? x->fail.step : "");
		free(text);
	}
	if (x->cached)
		return;
	if (!x->near) {
		fprintf(f, "\nnothing else of runtime '%s' is cached to compare with\n", e->runtime);
		return;
	}
	{
		char ago[32];
		mc_fmt_ago(ago, x->near->created_ms, now);
		fprintf(f, "\nnearest cached entry: %.12s (%s%s, built %s)\n", x->near->key, mc_state_name(x->near->state),
			x->near_latest ? ", :latest" : "", ago);
	}
	if (!x->d.n)
		fprintf(f, "  every input is the same: the key format changed (key-format version %d)\n",
			MC_KEY_FORMAT_VERSION);
	for (size_t i = 0; i < x->d.n; i++) {
		const struct diff *d = &x->d.v[i];
		char label[64], a[256], b[256];
		if (d->name)
			snprintf(label, sizeof(label), "build arg %s:", d->name);
		else
			snprintf(label, sizeof(label), "%s:", d->field);
		short_value(a, sizeof(a), d->field, d->old);
		short_value(b, sizeof(b), d->field, d->new_);
		fprintf(f, "  %-18s%s → %s  (%s)\n", label, a, b, d->why);
	}
}

int cmd_explain(struct mc_ctx *ctx, int argc, char **argv)
{
	enum { O_JSON = MC_OPT_NEXT };
	static const struct option opts[] = {
		MC_KEY_FLAG_OPTIONS,
		{ "json", no_argument, NULL, O_JSON },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct mc_key_flags kf = { 0 };
	struct mc_ensure_opts eo = { 0 };
	struct explanation x = { .indexed_state = -1 };
	struct mc_entry row = { 0 };
	struct mc_entry *v = NULL;
	struct mc_index *ix;
	char latest_key[65] = "";
	size_t n = 0;
	int c, err, json = 0, ret = MC_EXIT_OK;

	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		if ((err = mc_key_flags_opt(&kf, c, optarg, "explain"))) {
			if (err != 1) {
				ret = err;
				goto done;
			}
			continue;
		}
		switch (c) {
		case O_JSON: json = 1; break;
		case 'h':
			fputs(usage_text, stdout);
			goto done;
		default:
			ret = mc_cli_bad_option("explain", "h", argv);
			goto done;
		}
	}
	if ((ret = mc_cli_runtime_operand(ctx, &eo.runtime, "explain", argc, argv)))
		goto done;
	if ((err = mc_key_flags_apply(&kf, &ctx->cfg))) {
		ret = mc_cli_fail(ctx, err);
		goto done;
	}

	if ((err = mc_ensure_inputs(ctx, &eo, &x.in, &x.cached)) || (err = mc_ctx_index(ctx, &ix))) {
		ret = mc_cli_fail(ctx, err);
		goto done;
	}
	err = mc_index_get(ix, &row, x.in.key);
	if (!err)
		x.indexed_state = row.state;
	else if (err != MC_ENOTFOUND) {
		ret = mc_cli_fail(ctx, err);
		goto done;
	}
	err = mc_index_latest_get(ix, latest_key, x.in.runtime);
	if (err && err != MC_ENOTFOUND) {
		ret = mc_cli_fail(ctx, err);
		goto done;
	}
	if (err)
		latest_key[0] = 0;
	x.reason = x.cached ? "the key is cached and its image is in the engine" : miss_reason(x.indexed_state);
	if ((err = mc_index_failure_get(ix, &x.fail, x.in.key)) && err != MC_ENOTFOUND) {
		ret = mc_cli_fail(ctx, err);
		goto done;
	}
	if (!x.cached && x.fail.count && x.fail.next_ms > mc_now_ms()) {
		/* what ensure would do is fail at once, not build */
		char *text = mc_fmt_failure(&x.fail, mc_now_ms());
		x.fail_reason = mc_asprintf("the last build of this key %s; ensure fails at once until then", text);
		x.reason = x.fail_reason;
		free(text);
	}
	if (!x.cached) {
		if ((err = mc_index_list(ix, &v, &n, x.in.runtime))) {
			ret = mc_cli_fail(ctx, err);
			goto done;
		}
		x.near = nearest(v, n, &x.in, latest_key[0] ? latest_key : NULL);
		if (x.near) {
			x.near_latest = latest_key[0] && !strcmp(x.near->key, latest_key);
			x.near_origin = mc_fleet_origin(ix, x.near->key);
			diff_entries(&x.d, x.near, &x.in);
		}
	}
	if (json) {
		if ((err = mc_json_print(to_json(&x), stdout)))
			ret = mc_cli_fail(ctx, err);
	} else {
		print_text(&x, stdout);
	}
done:
	diffs_release(&x.d);
	mc_failure_release(&x.fail);
	free(x.fail_reason);
	free(x.near_origin);
	mc_entry_release(&x.in);
	mc_entry_release(&row);
	mc_entries_free(v, n);
	mc_key_flags_release(&kf);
	return ret;
}
