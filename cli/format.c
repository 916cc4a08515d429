/* format.c — human sizes, times, aligned tables, terminal colour and JSON helpers for the views. */
#include "format.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void mc_fmt_size(char out[32], int64_t bytes)
{
	static const char *const unit[] = { "B", "KiB", "MiB", "GiB", "TiB", "PiB" };
	double v = bytes > 0 ? (double)bytes : 0;
	int i = 0;
	while (v >= 1024 && i < 5) {
		v /= 1024;
		i++;
	}
	/* 1023.96 KiB would print "1024.0 KiB": carry into the next unit */
	if (i && i < 5 && v >= 1023.95) {
		v /= 1024;
		i++;
	}
	if (i)
		snprintf(out, 32, "%.1f %s", v, unit[i]);
	else
		snprintf(out, 32, "%lld B", (long long)(bytes > 0 ? bytes : 0));
}

void mc_fmt_ago(char out[32], int64_t then_ms, int64_t now_ms)
{
	int64_t d, s;
	const char *pre = "", *post = " ago";
	if (then_ms == 0) {
		snprintf(out, 32, "never");
		return;
	}
	d = now_ms - then_ms;
	if (d < 0) {
		d = -d;
		pre = "in ";
		post = "";
	}
	s = d / 1000;
	if (s < 5)
		snprintf(out, 32, "just now");
	else if (s < 60)
		snprintf(out, 32, "%s%lld s%s", pre, (long long)s, post);
	else if (s < 3600)
		snprintf(out, 32, "%s%lld min%s", pre, (long long)(s / 60), post);
	else if (s < 86400)
		snprintf(out, 32, "%s%lld h%s", pre, (long long)(s / 3600), post);
	else
		snprintf(out, 32, "%s%lld d%s", pre, (long long)(s / 86400), post);
}

void mc_fmt_duration(char out[32], int64_t ms)
{
	long long s;
	if (ms < 0)
		ms = 0;
	s = (long long)(ms / 1000);
	if (ms < 1000)
		snprintf(out, 32, "%lld ms", (long long)ms);
	else if (ms < 60000)
		snprintf(out, 32, "%.1f s", (double)ms / 1000.0);
	else if (s < 3600)
		snprintf(out, 32, "%lld min %02lld s", s / 60, s % 60);
	else if (s < 86400)
		snprintf(out, 32, "%lld h %02lld min", s / 3600, (s % 3600) / 60);
	else
		snprintf(out, 32, "%lld d %02lld h", s / 86400, (s % 86400) / 3600);
}

int mc_fmt_color_wanted(int is_tty, const char *no_color, const char *term)
{
	if (!is_tty)
		return 0;
	if (no_color && *no_color)
		return 0;
	if (term && !strcmp(term, "dumb"))
		return 0;
	return 1;
}

int mc_fmt_color(FILE *f)
{
	return mc_fmt_color_wanted(isatty(fileno(f)), getenv("NO_COLOR"), getenv("TERM"));
}

static const char *sgr(enum mc_color c)
{
	switch (c) {
	case MC_COLOR_RED: return "\033[31m";
	case MC_COLOR_GREEN: return "\033[32m";
	case MC_COLOR_YELLOW: return "\033[33m";
	case MC_COLOR_BOLD: return "\033[1m";
	case MC_COLOR_DIM: return "\033[2m";
	default: return NULL;
	}
}

void mc_fmt_paint(FILE *f, int color, enum mc_color c, const char *s)
{
	const char *on = color ? sgr(c) : NULL;
	if (on)
		fprintf(f, "%s%s\033[0m", on, s);
	else
		fputs(s, f);
}

size_t mc_fmt_width(const char *s)
{
	size_t w = 0;
	for (; s && *s; s++)
		if (((unsigned char)*s & 0xc0) != 0x80)
			w++;
	return w;
}

void mc_table_init(struct mc_table *t, size_t ncols, unsigned right, int color)
{
	memset(t, 0, sizeof(*t));
	t->ncols = ncols ? ncols : 1;
	t->right = right;
	t->color = color;
}

void mc_table_cellc(struct mc_table *t, const char *s, enum mc_color c)
{
	if (t->cells.n == t->colors_cap) {
		t->colors_cap = t->colors_cap ? t->colors_cap * 2 : 64;
		t->colors = mc_realloc(t->colors, t->colors_cap);
	}
	t->colors[t->cells.n] = (unsigned char)c;
	mc_strv_push(&t->cells, s ? s : "-");
}

void mc_table_cell(struct mc_table *t, const char *s) { mc_table_cellc(t, s, MC_COLOR_NONE); }

void mc_table_cellf(struct mc_table *t, const char *fmt, ...)
{
	struct mc_buf b = MC_BUF_INIT;
	va_list ap;
	va_start(ap, fmt);
	mc_buf_vaddf(&b, fmt, ap);
	va_end(ap);
	mc_table_cell(t, mc_buf_cstr(&b));
	mc_buf_release(&b);
}

void mc_table_print(const struct mc_table *t, FILE *f, int header)
{
	size_t rows = t->cells.n / t->ncols;
	size_t *w = mc_calloc(t->ncols, sizeof(*w));

	for (size_t i = 0; i < rows * t->ncols; i++) {
		size_t cw = mc_fmt_width(t->cells.v[i]);
		if (cw > w[i % t->ncols])
			w[i % t->ncols] = cw;
	}
	for (size_t r = 0; r < rows; r++) {
		for (size_t c = 0; c < t->ncols; c++) {
			size_t i = r * t->ncols + c;
			const char *s = t->cells.v[i];
			size_t pad = w[c] - mc_fmt_width(s);
			int last = c + 1 == t->ncols;
			enum mc_color col = header && r == 0 ? MC_COLOR_BOLD : (enum mc_color)t->colors[i];
			if (c)
				fputs("  ", f);
			if (t->right & (1u << c))
				fprintf(f, "%*s", (int)pad, "");
			mc_fmt_paint(f, t->color, col, s);
			if (!(t->right & (1u << c)) && !last)
				fprintf(f, "%*s", (int)pad, "");
		}
		fputc('\n', f);
	}
	free(w);
}

void mc_table_release(struct mc_table *t)
{
	if (!t)
		return;
	mc_strv_release(&t->cells);
	free(t->colors);
	memset(t, 0, sizeof(*t));
}

json_t *mc_json_doc(void)
{
	json_t *o = json_object();
	json_object_set_new(o, "schema_version", json_integer(MC_JSON_SCHEMA_VERSION));
	return o;
}

/* Bytes of the UTF-8 sequence a lead byte starts; 0 for a byte no sequence starts with. */
static size_t utf8_len(unsigned char c)
{
	return c < 0x80 ? 1 : c >= 0xc2 && c <= 0xdf ? 2 : c >= 0xe0 && c <= 0xef ? 3 : c >= 0xf0 && c <= 0xf4 ? 4 : 0;
}

json_t *mc_json_str(const char *s)
{
	struct mc_buf b = MC_BUF_INIT;
	json_t *v = s ? json_string(s) : NULL;

	if (v || !s)
		return v ? v : json_null();
	/* Not UTF-8 (a build's output may be anything): every sequence jansson
	 * refuses becomes U+FFFD, so the event is written, never dropped. */
	for (const char *p = s; *p;) {
		size_t n = utf8_len((unsigned char)*p), k = 0;
		json_t *one = NULL;
		while (k < n && p[k])
			k++;
		if (n && k == n && (one = json_stringn(p, n))) {
			mc_buf_add(&b, p, n);
			p += n;
		} else {
			mc_buf_adds(&b, "\xef\xbf\xbd");
			p++;
		}
		json_decref(one);
	}
	v = json_string(mc_buf_cstr(&b));
	mc_buf_release(&b);
	return v ? v : json_null();
}

json_t *mc_json_time(int64_t ms) { return ms ? json_integer(ms) : json_null(); }

/* "K=V" (n bytes) into o; skipped without a name. */
static void set_kv(json_t *o, const char *p, size_t n)
{
	const char *eq = memchr(p, '=', n);
	if (eq && eq > p) {
		char *k = mc_strndup(p, (size_t)(eq - p));
		char *v = mc_strndup(eq + 1, n - (size_t)(eq - p) - 1);
		json_object_set_new(o, k, mc_json_str(v));
		free(k);
		free(v);
	}
}

json_t *mc_json_build_args(const char *canonical)
{
	json_t *o = json_object();
	const char *p = canonical;
	while (p && *p) {
		const char *nl = strchr(p, '\n');
		size_t n = nl ? (size_t)(nl - p) : strlen(p);
		set_kv(o, p, n);
		p = nl ? nl + 1 : p + n;
	}
	return o;
}

json_t *mc_json_labels(const struct mc_strv *labels)
{
	json_t *o = json_object();
	for (size_t i = 0; i < labels->n; i++)
		set_kv(o, labels->v[i], strlen(labels->v[i]));
	return o;
}

void mc_json_key_inputs(json_t *o, const struct mc_entry *e)
{
	json_object_set_new(o, "repo_prefix", mc_json_str(e->repo_prefix));
	json_object_set_new(o, "ref", mc_json_str(e->ref));
	json_object_set_new(o, "commit", mc_json_str(e->head_sha));
	json_object_set_new(o, "dockerfile_path", mc_json_str(e->dockerfile_path));
	json_object_set_new(o, "dockerfile_hash", mc_json_str(e->dockerfile_hash));
	json_object_set_new(o, "platform", mc_json_str(e->platform));
	json_object_set_new(o, "build_args", mc_json_build_args(e->build_args));
}

json_t *mc_json_entry(const struct mc_entry *e, int latest)
{
	json_t *o = json_object();
	json_object_set_new(o, "key", mc_json_str(e->key));
	json_object_set_new(o, "runtime", mc_json_str(e->runtime));
	json_object_set_new(o, "state", mc_json_str(mc_state_name(e->state)));
	json_object_set_new(o, "latest", json_boolean(latest));
	mc_json_key_inputs(o, e);
	json_object_set_new(o, "tag", mc_json_str(e->image_tag));
	json_object_set_new(o, "image_id", mc_json_str(e->image_id));
	json_object_set_new(o, "tree_path", mc_json_str(e->tree_path));
	json_object_set_new(o, "tree_bytes", json_integer(e->tree_bytes));
	json_object_set_new(o, "image_bytes", json_integer(e->image_bytes));
	json_object_set_new(o, "created_ms", mc_json_time(e->created_ms));
	json_object_set_new(o, "last_used_ms", mc_json_time(e->last_used_ms));
	json_object_set_new(o, "build_ms", json_integer(e->build_ms));
	json_object_set_new(o, "use_count", json_integer(e->use_count));
	return o;
}

int mc_json_print(json_t *doc, FILE *f)
{
	int ret = 0;
	if (!doc || json_dumpf(doc, f, JSON_INDENT(2)) || fputc('\n', f) == EOF)
		ret = mc_error_set(MC_ERR, "writing JSON: failed");
	json_decref(doc);
	return ret;
}

char *mc_fmt_failure(const struct mc_failure *f, int64_t now_ms)
{
	char when[32];

	mc_format_utc(when, f->next_ms);
	if (f->next_ms > now_ms)
		return mc_asprintf("failed %lld time%s, next try after %s (or ensure --retry)", (long long)f->count,
				   f->count == 1 ? "" : "s", when);
	return mc_asprintf("failed %lld time%s, the next ensure tries again", (long long)f->count,
			   f->count == 1 ? "" : "s");
}

json_t *mc_json_failure(const struct mc_failure *f)
{
	json_t *o;

	if (!f->count)
		return json_null();
	o = json_object();
	json_object_set_new(o, "count", json_integer(f->count));
	json_object_set_new(o, "last_ms", mc_json_time(f->last_ms));
	json_object_set_new(o, "next_ms", mc_json_time(f->next_ms));
	json_object_set_new(o, "step", mc_json_str(f->step));
	json_object_set_new(o, "output", mc_json_str(f->output));
	json_object_set_new(o, "log_path", mc_json_str(f->log_path));
	return o;
}
