/* dockerfile.c — reads a Dockerfile's directives, global ARGs and FROM lines to list the external base images. */
#include "dockerfile.h"

#include <stdlib.h>
#include <string.h>

/* A FROM image or ARG value longer than this is not a real reference. */
#define VALUE_MAX (64 * 1024)
/* All global ARG values together; many ARGs of VALUE_MAX each would otherwise eat gigabytes. */
#define VARS_MAX (1024 * 1024)
/* ${A:-${B:-...}} nesting beyond this is cut off instead of recursing deeper. */
#define NEST_MAX 32

/* BuildKit puts these in the global scope without an ARG line. */
static const char *const auto_args[] = {
	"BUILDPLATFORM", "BUILDOS", "BUILDARCH", "BUILDVARIANT",
	"TARGETPLATFORM", "TARGETOS", "TARGETARCH", "TARGETVARIANT", NULL,
};

struct var {
	char *name, *value;
};

struct vars {
	struct var *v;
	size_t n, cap;
	size_t bytes; /* sum of value lengths */
};

static const char *vars_get(const struct vars *vs, const char *name, size_t n)
{
	for (size_t i = 0; i < vs->n; i++)
		if (strlen(vs->v[i].name) == n && !memcmp(vs->v[i].name, name, n))
			return vs->v[i].value;
	return NULL;
}

/* A later declaration replaces an earlier one, as in BuildKit's meta-arg map. MC_EINVAL past VARS_MAX. */
static int vars_set(struct vars *vs, const char *name, const char *value)
{
	size_t n = strlen(value);

	for (size_t i = 0; i < vs->n; i++) {
		if (!strcmp(vs->v[i].name, name)) {
			size_t old = strlen(vs->v[i].value);
			if (vs->bytes - old + n > VARS_MAX)
				return MC_EINVAL;
			vs->bytes = vs->bytes - old + n;
			free(vs->v[i].value);
			vs->v[i].value = mc_strdup(value);
			return 0;
		}
	}
	if (vs->bytes + n > VARS_MAX)
		return MC_EINVAL;
	vs->bytes += n;
	if (vs->n == vs->cap) {
		vs->cap = vs->cap ? vs->cap * 2 : 16;
		vs->v = mc_realloc(vs->v, vs->cap * sizeof(*vs->v));
	}
	vs->v[vs->n].name = mc_strdup(name);
	vs->v[vs->n].value = mc_strdup(value);
	vs->n++;
	return 0;
}

static void vars_release(struct vars *vs)
{
	for (size_t i = 0; i < vs->n; i++) {
		free(vs->v[i].name);
		free(vs->v[i].value);
	}
	free(vs->v);
}

/* The value of the last "name=…" in build_args, or NULL. */
static const char *build_arg(const struct mc_strv *build_args, const char *name)
{
	size_t n = strlen(name);
	const char *found = NULL;

	for (size_t i = 0; build_args && i < build_args->n; i++) {
		const char *a = build_args->v[i];
		if (!strncmp(a, name, n) && a[n] == '=')
			found = a + n + 1;
	}
	return found;
}

static int is_space(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f'; }
static int is_name(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}
static int is_digit(char c) { return c >= '0' && c <= '9'; }
static char lower(char c) { return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c; }

/* s[0..n) equals the lowercase word lit, ignoring ASCII case. */
static int ci_eq(const char *s, size_t n, const char *lit)
{
	if (strlen(lit) != n)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (lower(s[i]) != lit[i])
			return 0;
	return 1;
}

/*
 * Word expansion as BuildKit's shell lexer does it for FROM and ARG: quote
 * removal, the escape char, $X, ${X}, ${X:-w}, ${X-w}, ${X:+w}, ${X+w}.
 * Other modifiers (${X%p}, ${X:?m}, …) yield the plain value.
 */
struct lex {
	const char *s;
	size_t len, pos;
	char esc;
	const struct vars *vars;
	int depth;
	int err; /* MC_EINVAL once an output (the value, or a ${X:-word}) would grow past VALUE_MAX */
};

/* out is capped at VALUE_MAX (the parser's value, a ${X:-word}'s word). */
static void lex_put(struct lex *lx, struct mc_buf *out, const char *p, size_t n)
{
	if (!lx->err && mc_buf_put(out, p, n))
		lx->err = MC_EINVAL;
}

static void lex_until(struct lex *lx, struct mc_buf *out, char stop);

static void lex_dollar(struct lex *lx, struct mc_buf *out)
{
	const char *name, *val;
	size_t st, nlen;
	char mod = 0;
	int colon = 0;

	lx->pos++;
	if (lx->pos >= lx->len || (lx->s[lx->pos] != '{' && !is_name(lx->s[lx->pos]))) {
		lex_put(lx, out, "$", 1);
		return;
	}
	if (lx->s[lx->pos] != '{') {
		st = lx->pos;
		if (is_digit(lx->s[lx->pos]))
			lx->pos++; /* $1 is one positional parameter, never set here */
		else
			while (lx->pos < lx->len && is_name(lx->s[lx->pos]))
				lx->pos++;
		val = vars_get(lx->vars, lx->s + st, lx->pos - st);
		if (val)
			lex_put(lx, out, val, strlen(val));
		return;
	}
	st = ++lx->pos;
	while (lx->pos < lx->len && is_name(lx->s[lx->pos]))
		lx->pos++;
	name = lx->s + st;
	nlen = lx->pos - st;
	val = vars_get(lx->vars, name, nlen);
	if (lx->pos < lx->len && lx->s[lx->pos] == '}') {
		lx->pos++;
	} else if (lx->pos < lx->len) {
		struct mc_buf word = MC_BUF_INIT;
		mc_buf_set_max(&word, VALUE_MAX);
		if (lx->s[lx->pos] == ':') {
			colon = 1;
			lx->pos++;
		}
		if (lx->pos < lx->len && lx->s[lx->pos] == '}') {
			lx->pos++;
			if (val)
				lex_put(lx, out, val, strlen(val));
			return;
		}
		if (lx->pos < lx->len)
			mod = lx->s[lx->pos++];
		if (lx->depth >= NEST_MAX) {
			lx->pos = lx->len;
			return;
		}
		lx->depth++;
		lex_until(lx, &word, '}');
		lx->depth--;
		if (mod == '-' && (colon ? !val || !*val : !val))
			val = mc_buf_cstr(&word);
		else if (mod == '+')
			val = (colon ? val && *val : val != NULL) ? mc_buf_cstr(&word) : NULL;
		if (val)
			lex_put(lx, out, val, strlen(val));
		mc_buf_release(&word);
		return;
	}
	if (val)
		lex_put(lx, out, val, strlen(val));
}

/* Expands until the end or an unquoted stop char (consumed; 0 = none). */
static void lex_until(struct lex *lx, struct mc_buf *out, char stop)
{
	while (lx->pos < lx->len && !lx->err) {
		char c = lx->s[lx->pos];
		if (stop && c == stop) {
			lx->pos++;
			return;
		}
		if (c == lx->esc) {
			lx->pos++;
			if (lx->pos < lx->len)
				lex_put(lx, out, lx->s + lx->pos++, 1);
			else
				lex_put(lx, out, &c, 1);
		} else if (c == '\'') {
			size_t st = ++lx->pos;
			while (lx->pos < lx->len && lx->s[lx->pos] != '\'')
				lx->pos++;
			lex_put(lx, out, lx->s + st, lx->pos - st);
			if (lx->pos < lx->len)
				lx->pos++;
		} else if (c == '"') {
			lx->pos++;
			while (lx->pos < lx->len && lx->s[lx->pos] != '"' && !lx->err) {
				char d = lx->s[lx->pos];
				char next = lx->pos + 1 < lx->len ? lx->s[lx->pos + 1] : 0;
				if (d == lx->esc && (next == '"' || next == '$' || next == lx->esc)) {
					lex_put(lx, out, &next, 1);
					lx->pos += 2;
				} else if (d == '$') {
					lex_dollar(lx, out);
				} else {
					lex_put(lx, out, &d, 1);
					lx->pos++;
				}
			}
			if (lx->pos < lx->len)
				lx->pos++;
		} else if (c == '$') {
			lex_dollar(lx, out);
		} else {
			lex_put(lx, out, &c, 1);
			lx->pos++;
		}
	}
}

static int expand(struct mc_buf *out, const char *word, char esc, const struct vars *vars)
{
	struct lex lx = { word, strlen(word), 0, esc, vars, 0, 0 };

	mc_buf_reset(out);
	mc_buf_adds(out, "");
	lex_until(&lx, out, 0);
	return lx.err;
}

/* Splits as BuildKit's parseWords does for ARG: whitespace outside quotes; quotes and escapes kept. */
static void split_quoted(struct mc_strv *out, const char *s, char esc)
{
	struct mc_buf w = MC_BUF_INIT;
	size_t n = strlen(s);
	char quote = 0;
	int inword = 0;

	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (!inword && !quote) {
			if (is_space(c))
				continue;
			inword = 1;
		}
		if (quote) {
			if (c == quote)
				quote = 0;
			else if (c == esc && quote != '\'' && i + 1 < n)
				mc_buf_add(&w, s + i++, 1);
			mc_buf_add(&w, s + i, 1);
			continue;
		}
		if (is_space(c)) {
			mc_strv_pushn(out, mc_buf_cstr(&w), w.len);
			mc_buf_reset(&w);
			inword = 0;
			continue;
		}
		if (c == '\'' || c == '"')
			quote = c;
		else if (c == esc && i + 1 < n)
			mc_buf_add(&w, s + i++, 1);
		mc_buf_add(&w, s + i, 1);
	}
	if (inword || quote)
		mc_strv_pushn(out, mc_buf_cstr(&w), w.len);
	mc_buf_release(&w);
}

static void split_space(struct mc_strv *out, const char *s)
{
	while (*s) {
		size_t n;
		while (is_space(*s))
			s++;
		for (n = 0; s[n] && !is_space(s[n]); n++)
			;
		if (n)
			mc_strv_pushn(out, s, n);
		s += n;
	}
}

/* Raw Dockerfile text quoted in a message: control bytes become '?', cut at 100. */
static char *shown(const char *s)
{
	char *p = mc_strndup(s, 100);
	for (char *q = p; *q; q++)
		if ((unsigned char)*q < 0x20 || *q == 0x7f)
			*q = '?';
	return p;
}

struct parser {
	struct mc_strv *out;
	const struct mc_strv *build_args;
	char esc;
	int seen_from;
	struct vars vars;      /* the global scope: ARGs before the first FROM */
	struct mc_strv stages; /* lowercase stage names seen so far */
	struct mc_buf val;
};

static int do_arg(struct parser *p, const char *rest, int lineno)
{
	struct mc_strv words = MC_STRV_INIT;
	int ret = 0;

	split_quoted(&words, rest, p->esc);
	for (size_t i = 0; i < words.n; i++) {
		char *name = words.v[i];
		char *eq = strchr(name, '=');
		const char *override;
		if (eq)
			*eq = 0;
		if (!*name)
			continue;
		override = build_arg(p->build_args, name);
		if (override)
			ret = vars_set(&p->vars, name, override);
		else if (!eq)
			ret = vars_set(&p->vars, name, "");
		else if (!(ret = expand(&p->val, eq + 1, p->esc, &p->vars)))
			ret = vars_set(&p->vars, name, mc_buf_cstr(&p->val));
		if (ret) {
			char *shown_name = shown(name);
			ret = mc_error_set(MC_EINVAL, "dockerfile line %d: ARG '%s': longer than %d bytes "
					   "or the ARGs together longer than %d", lineno, shown_name,
					   VALUE_MAX, VARS_MAX);
			free(shown_name);
			goto done;
		}
	}
done:
	mc_strv_release(&words);
	return ret;
}

static int do_from(struct parser *p, const char *rest, int lineno)
{
	struct mc_strv words = MC_STRV_INIT;
	char *raw = NULL, *low = NULL;
	size_t i = 0;
	int ret = 0;

	p->seen_from = 1;
	split_space(&words, rest);
	while (i < words.n && !strncmp(words.v[i], "--", 2))
		i++;
	if (i >= words.n) {
		ret = mc_error_set(MC_EINVAL, "dockerfile line %d: FROM names no image", lineno);
		goto done;
	}
	raw = shown(words.v[i]);
	if (expand(&p->val, words.v[i], p->esc, &p->vars)) {
		ret = mc_error_set(MC_EINVAL, "dockerfile line %d: FROM '%s': longer than %d bytes",
				   lineno, raw, VALUE_MAX);
		goto done;
	}
	if (!*mc_buf_cstr(&p->val)) {
		ret = mc_error_set(MC_EINVAL, "dockerfile line %d: FROM '%s': image is empty after substitution",
				   lineno, raw);
		goto done;
	}
	low = mc_strdup(mc_buf_cstr(&p->val));
	for (char *q = low; *q; q++)
		*q = lower(*q);
	if (mc_strv_find(&p->stages, low) < 0 && strcmp(p->val.ptr, "scratch") &&
	    mc_strv_find(p->out, p->val.ptr) < 0)
		mc_strv_push(p->out, p->val.ptr);
	if (i + 2 < words.n && ci_eq(words.v[i + 1], strlen(words.v[i + 1]), "as")) {
		char *stage = mc_strdup(words.v[i + 2]);
		for (char *q = stage; *q; q++)
			*q = lower(*q);
		mc_strv_push(&p->stages, stage);
		free(stage);
	}
done:
	free(raw);
	free(low);
	mc_strv_release(&words);
	return ret;
}

static int instruction(struct parser *p, const char *line, int lineno)
{
	size_t n;

	while (is_space(*line))
		line++;
	for (n = 0; line[n] && !is_space(line[n]); n++)
		;
	if (ci_eq(line, n, "from"))
		return do_from(p, line + n, lineno);
	if (ci_eq(line, n, "arg") && !p->seen_from)
		return do_arg(p, line + n, lineno);
	return 0;
}

/* The next physical line [*line, *line + *n) without its "\r\n"; 0 at the end. */
static int next_line(const char *text, size_t len, size_t *pos, const char **line, size_t *n)
{
	const char *nl;

	if (*pos >= len)
		return 0;
	*line = text + *pos;
	nl = memchr(*line, '\n', len - *pos);
	*n = nl ? (size_t)(nl - *line) : len - *pos;
	*pos += *n + (nl ? 1 : 0);
	while (*n && (*line)[*n - 1] == '\r')
		(*n)--;
	return 1;
}

static void skip_space(const char **line, size_t *n)
{
	while (*n && is_space(**line)) {
		(*line)++;
		(*n)--;
	}
}

/* Strips a trailing escape char (and blanks after it); 1 when the line continues. */
static int continues(struct mc_buf *b, char esc)
{
	size_t n = b->len;

	while (n && (b->ptr[n - 1] == ' ' || b->ptr[n - 1] == '\t'))
		n--;
	if (!n || b->ptr[n - 1] != esc)
		return 0;
	b->len = n - 1;
	b->ptr[b->len] = 0;
	return 1;
}

/* Parser directives are "# name=value" lines at the very top; only escape matters here. */
static char escape_directive(const char *text, size_t len)
{
	size_t pos = 0, n;
	const char *line;
	char esc = '\\';
	int seen_escape = 0;

	while (next_line(text, len, &pos, &line, &n)) {
		size_t k = 0, kl, v, vl;
		skip_space(&line, &n);
		if (!n || line[0] != '#')
			break;
		line++;
		n--;
		skip_space(&line, &n);
		while (k < n && ((line[k] >= 'a' && line[k] <= 'z') || (line[k] >= 'A' && line[k] <= 'Z') ||
				 (k && is_digit(line[k]))))
			k++;
		kl = k;
		while (k < n && is_space(line[k]))
			k++;
		if (!kl || k >= n || line[k] != '=')
			break;
		v = k + 1;
		while (v < n && is_space(line[v]))
			v++;
		vl = n - v;
		while (vl && is_space(line[v + vl - 1]))
			vl--;
		if (!vl)
			break;
		if (ci_eq(line, kl, "escape")) {
			if (!seen_escape && vl == 1 && (line[v] == '\\' || line[v] == '`'))
				esc = line[v];
			seen_escape = 1;
		} else if (!ci_eq(line, kl, "syntax") && !ci_eq(line, kl, "check")) {
			break;
		}
	}
	return esc;
}

int mc_dockerfile_from_images(struct mc_strv *out, const char *text, size_t len,
			      const struct mc_strv *build_args)
{
	struct parser p = { out, build_args, '\\', 0, { NULL, 0, 0, 0 }, MC_STRV_INIT, MC_BUF_INIT };
	struct mc_buf logical = MC_BUF_INIT;
	size_t pos = 0, n;
	const char *line;
	int lineno = 0, ret = 0;

	mc_buf_set_max(&p.val, VALUE_MAX);
	if (!text)
		len = 0;
	if (len >= 3 && !memcmp(text, "\xef\xbb\xbf", 3)) {
		text += 3;
		len -= 3;
	}
	p.esc = escape_directive(text, len);
	for (const char *const *a = auto_args; *a; a++) {
		const char *v = build_arg(build_args, *a);
		if (v && vars_set(&p.vars, *a, v)) {
			ret = mc_error_set(MC_EINVAL, "dockerfile: build arg '%s' longer than %d bytes", *a, VARS_MAX);
			goto done;
		}
	}
	while (next_line(text, len, &pos, &line, &n)) {
		int start = ++lineno, more;
		skip_space(&line, &n);
		if (!n || line[0] == '#')
			continue;
		mc_buf_reset(&logical);
		mc_buf_add(&logical, line, n);
		more = continues(&logical, p.esc);
		while (more && next_line(text, len, &pos, &line, &n)) {
			const char *t = line;
			size_t tn = n;
			lineno++;
			skip_space(&t, &tn);
			/* BuildKit drops comment and blank lines inside a continued instruction */
			if (!tn || t[0] == '#')
				continue;
			mc_buf_add(&logical, line, n);
			more = continues(&logical, p.esc);
		}
		if ((ret = instruction(&p, mc_buf_cstr(&logical), start)))
			goto done;
	}
done:
	vars_release(&p.vars);
	mc_strv_release(&p.stages);
	mc_buf_release(&p.val);
	mc_buf_release(&logical);
	return ret;
}
