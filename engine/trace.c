/* trace.c — the build progress model: BuildKit's trace records (trace_decode.c) merged into per-step state. */
#include "trace.h"

#include <limits.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#define DIGEST_MAX 256
#define STATUS_MAX 256
#define HASH_SLOTS 8192 /* a power of two, twice MC_TRACE_MAX_VERTEXES: probes stay short */
#define NSTREAMS 2      /* stdout (and anything unknown), stderr */

/* ---- The progress model --------------------------------------------------- */

struct vtx {
	struct mc_trace_vertex pub; /* first: the public pointer is the record's */
	char *digest, *name, *error, *status;
	char *lines[MC_TRACE_LOG_LINES];
	size_t first;     /* ring index of the oldest line */
	size_t log_bytes; /* sum of the kept lines' allocations */
	char *part[NSTREAMS]; /* partial line per stream, MC_TRACE_LINE_MAX + 1 bytes */
	size_t part_len[NSTREAMS];
	int part_cut[NSTREAMS], part_cr[NSTREAMS];
	uint64_t fail_seq;
};

struct mc_trace {
	struct mc_trace_cb cb;
	struct vtx **v; /* first-seen order */
	size_t n, cap;
	uint32_t *slot;   /* HASH_SLOTS: index into v + 1, 0 = empty */
	uint64_t next_seq, next_fail;
	size_t log_bytes;
	struct mc_buf scratch; /* base64 decoding */
};

const char *mc_trace_state_name(enum mc_trace_state s)
{
	switch (s) {
	case MC_TRACE_QUEUED: return "queued";
	case MC_TRACE_RUNNING: return "running";
	case MC_TRACE_CACHED: return "cached";
	case MC_TRACE_DONE: return "done";
	case MC_TRACE_FAILED: return "failed";
	}
	return "unknown";
}

/* n, less a UTF-8 sequence left incomplete at the end of p[0..n). */
static size_t utf8_trim(const char *p, size_t n)
{
	const unsigned char *u = (const unsigned char *)p;
	size_t i, start, want;

	/* Walk back over continuation bytes to the lead byte of the last sequence. */
	for (i = 0; i < 3 && i < n && (u[n - 1 - i] & 0xc0) == 0x80; i++)
		;
	if (i == n)
		return n;
	start = n - 1 - i;
	if (u[start] >= 0xf0)
		want = 4;
	else if (u[start] >= 0xe0)
		want = 3;
	else if (u[start] >= 0xc0)
		want = 2;
	else
		return n;
	return n - start < want ? start : n;
}

/* Length of p[0..n) cut to at most max bytes without splitting a UTF-8 sequence. */
static size_t utf8_cut(const char *p, size_t n, size_t max)
{
	return n <= max ? n : utf8_trim(p, max);
}

/* Shown on a terminal as is: control characters other than tab become '?'. */
static void scrub(char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if ((c < 0x20 && c != '\t') || c == 0x7f)
			s[i] = '?';
	}
}

static char *text_dup(const char *p, size_t n, size_t max)
{
	char *s;

	n = utf8_cut(p, n, max);
	s = mc_malloc(n + 1);
	if (n)
		memcpy(s, p, n);
	s[n] = 0;
	scrub(s, n);
	return s;
}

/* Replaces *dst when the text differs; 1 when it changed. */
static int set_text(char **dst, const char *p, size_t n, size_t max)
{
	char *s = text_dup(p, n, max);

	if (*dst && !strcmp(*dst, s)) {
		free(s);
		return 0;
	}
	free(*dst);
	*dst = s;
	return 1;
}

static uint32_t hash_bytes(const char *p, size_t n)
{
	uint32_t h = 2166136261u;

	for (size_t i = 0; i < n; i++)
		h = (h ^ (unsigned char)p[i]) * 16777619u;
	return h;
}

/* The slot holding digest p[0..n), or the empty slot where it would go. */
static size_t slot_of(const struct mc_trace *t, const char *p, size_t n)
{
	size_t i = hash_bytes(p, n) & (HASH_SLOTS - 1);

	while (t->slot[i]) {
		const char *d = t->v[t->slot[i] - 1]->digest;
		if (strlen(d) == n && !memcmp(d, p, n))
			break;
		i = (i + 1) & (HASH_SLOTS - 1);
	}
	return i;
}

static void rehash(struct mc_trace *t)
{
	memset(t->slot, 0, HASH_SLOTS * sizeof(*t->slot));
	for (size_t i = 0; i < t->n; i++) {
		const char *d = t->v[i]->digest;
		t->slot[slot_of(t, d, strlen(d))] = (uint32_t)(i + 1);
	}
}

static void line_drop_all(struct mc_trace *t, struct vtx *x)
{
	for (size_t i = 0; i < x->pub.nlines; i++) {
		size_t k = (x->first + i) % MC_TRACE_LOG_LINES;
		free(x->lines[k]);
		x->lines[k] = NULL;
	}
	t->log_bytes -= x->log_bytes;
	x->log_bytes = 0;
	x->first = 0;
	x->pub.nlines = 0;
}

static void vtx_free(struct mc_trace *t, struct vtx *x)
{
	if (!x)
		return;
	line_drop_all(t, x);
	for (int s = 0; s < NSTREAMS; s++)
		free(x->part[s]);
	free(x->digest);
	free(x->name);
	free(x->error);
	free(x->status);
	free(x);
}

static int is_finished(const struct vtx *x)
{
	return x->pub.state != MC_TRACE_QUEUED && x->pub.state != MC_TRACE_RUNNING;
}

static size_t first_failed_index(const struct mc_trace *t)
{
	size_t best = SIZE_MAX, any = SIZE_MAX;

	for (size_t i = 0; i < t->n; i++) {
		const struct vtx *x = t->v[i];
		if (x->pub.state != MC_TRACE_FAILED)
			continue;
		if (any == SIZE_MAX || x->fail_seq < t->v[any]->fail_seq)
			any = i;
		if (!strstr(x->error, "context canceled") &&
		    (best == SIZE_MAX || x->fail_seq < t->v[best]->fail_seq))
			best = i;
	}
	return best != SIZE_MAX ? best : any;
}

/* Makes room for one more vertex: the oldest finished one goes, else the oldest;
 * never the culprit of mc_trace_first_failed(). */
static void evict_one(struct mc_trace *t)
{
	size_t keep = first_failed_index(t), victim = SIZE_MAX;

	for (size_t i = 0; i < t->n && victim == SIZE_MAX; i++)
		if (i != keep && is_finished(t->v[i]))
			victim = i;
	for (size_t i = 0; i < t->n && victim == SIZE_MAX; i++)
		if (i != keep)
			victim = i;
	vtx_free(t, t->v[victim]);
	memmove(t->v + victim, t->v + victim + 1, (t->n - victim - 1) * sizeof(*t->v));
	t->n--;
	rehash(t);
}

/* The vertex for digest p[0..n), created queued when unknown; *created says which. */
static struct vtx *vtx_get(struct mc_trace *t, const char *p, size_t n, int *created)
{
	const char *nul = p ? memchr(p, 0, n) : NULL;
	struct vtx *x;
	size_t i;

	/* Digests are compared as C strings. */
	if (nul)
		n = (size_t)(nul - p);
	n = utf8_cut(p ? p : "", n, DIGEST_MAX);
	i = slot_of(t, p ? p : "", n);
	*created = 0;
	if (t->slot[i])
		return t->v[t->slot[i] - 1];
	if (t->n == MC_TRACE_MAX_VERTEXES) {
		evict_one(t);
		i = slot_of(t, p ? p : "", n);
	}
	if (t->n == t->cap) {
		t->cap = t->cap ? t->cap * 2 : 16;
		t->v = mc_realloc(t->v, t->cap * sizeof(*t->v));
	}
	x = mc_calloc(1, sizeof(*x));
	/* Lookups compare raw bytes; the copy shown to people is scrubbed separately. */
	x->digest = mc_malloc(n + 1);
	if (n)
		memcpy(x->digest, p, n);
	x->digest[n] = 0;
	x->name = mc_strdup("");
	x->error = mc_strdup("");
	x->status = mc_strdup("");
	x->pub.seq = t->next_seq++;
	x->pub.state = MC_TRACE_QUEUED;
	t->v[t->n++] = x;
	t->slot[i] = (uint32_t)t->n;
	*created = 1;
	return x;
}

/* Publishes the owned strings through the read-only view. */
static void vtx_sync(struct vtx *x)
{
	x->pub.digest = x->digest;
	x->pub.name = x->name;
	x->pub.error = x->error;
	x->pub.status = x->status;
}

/* Keeps the log within MC_TRACE_LOG_BUDGET: empties the rings of the oldest finished
 * vertexes first, then of the oldest others; never cur's or the culprit's. */
static void enforce_budget(struct mc_trace *t, const struct vtx *cur)
{
	size_t keep;

	if (t->log_bytes <= MC_TRACE_LOG_BUDGET)
		return;
	keep = first_failed_index(t);
	for (int pass = 0; pass < 2; pass++)
		for (size_t i = 0; i < t->n && t->log_bytes > MC_TRACE_LOG_BUDGET; i++)
			if (t->v[i]->pub.nlines && t->v[i] != cur && i != keep &&
			    (pass || is_finished(t->v[i])))
				line_drop_all(t, t->v[i]);
}

static void line_emit(struct mc_trace *t, struct vtx *x, int s)
{
	size_t n = x->part_len[s], slot;
	char *line;

	/* A cut line may end inside a UTF-8 sequence: drop the partial character. */
	if (x->part_cut[s])
		n = utf8_trim(x->part[s], n);
	line = mc_malloc(n + 1);
	if (n)
		memcpy(line, x->part[s], n);
	line[n] = 0;
	x->part_len[s] = 0;
	x->part_cut[s] = 0;

	if (x->pub.nlines == MC_TRACE_LOG_LINES) {
		size_t old = strlen(x->lines[x->first]) + 1;
		free(x->lines[x->first]);
		x->lines[x->first] = NULL;
		x->log_bytes -= old;
		t->log_bytes -= old;
		x->first = (x->first + 1) % MC_TRACE_LOG_LINES;
		x->pub.nlines--;
	}
	slot = (x->first + x->pub.nlines) % MC_TRACE_LOG_LINES;
	x->lines[slot] = line;
	x->pub.nlines++;
	x->pub.lines_seen++;
	x->log_bytes += n + 1;
	t->log_bytes += n + 1;
	enforce_budget(t, x);
	if (t->cb.on_log)
		t->cb.on_log(t->cb.ud, &x->pub, line);
}

static void log_bytes(struct mc_trace *t, struct vtx *x, int s, const char *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)p[i];
		if (x->part_cr[s]) {
			x->part_cr[s] = 0;
			if (c == '\n') {
				line_emit(t, x, s);
				continue;
			}
			/* A lone '\r' redraws the line (progress bars): keep what follows. */
			x->part_len[s] = 0;
			x->part_cut[s] = 0;
		}
		if (c == '\n') {
			line_emit(t, x, s);
		} else if (c == '\r') {
			x->part_cr[s] = 1;
		} else if (x->part_len[s] < MC_TRACE_LINE_MAX) {
			if (!x->part[s])
				x->part[s] = mc_malloc(MC_TRACE_LINE_MAX + 1);
			x->part[s][x->part_len[s]++] = (char)((c < 0x20 && c != '\t') || c == 0x7f ? '?' : c);
		} else {
			x->part_cut[s] = 1;
		}
	}
}

/* A finished vertex prints no more: its partial lines become lines. */
static void log_flush(struct mc_trace *t, struct vtx *x)
{
	for (int s = 0; s < NSTREAMS; s++) {
		x->part_cr[s] = 0;
		if (x->part_len[s])
			line_emit(t, x, s);
		free(x->part[s]);
		x->part[s] = NULL;
	}
}

static enum mc_trace_state state_of(const struct mc_trace_rec_vertex *r)
{
	if (r->error.len)
		return MC_TRACE_FAILED;
	if (r->cached)
		return MC_TRACE_CACHED;
	if (r->completed.set)
		return MC_TRACE_DONE;
	if (r->started.set)
		return MC_TRACE_RUNNING;
	return MC_TRACE_QUEUED;
}

static int apply_vertex(void *ud, const struct mc_trace_rec_vertex *r)
{
	struct mc_trace *t = ud;
	int created, changed = 0;
	struct vtx *x = vtx_get(t, r->digest.ptr, r->digest.len, &created);
	enum mc_trace_state old = x->pub.state, now = state_of(r);
	int64_t started = mc_trace_ts_ns(&r->started), completed = mc_trace_ts_ns(&r->completed);

	if (r->name.len)
		changed |= set_text(&x->name, r->name.ptr, r->name.len, MC_TRACE_TEXT_MAX);
	changed |= set_text(&x->error, r->error.ptr, r->error.len, MC_TRACE_TEXT_MAX);
	changed |= x->pub.cached != r->cached || x->pub.started_ns != started ||
		   x->pub.completed_ns != completed || old != now;
	x->pub.cached = r->cached;
	x->pub.started_ns = started;
	x->pub.completed_ns = completed;
	x->pub.state = now;
	if (now == MC_TRACE_FAILED && old != MC_TRACE_FAILED)
		x->fail_seq = t->next_fail++;
	vtx_sync(x);
	if (now == MC_TRACE_FAILED || now == MC_TRACE_DONE || now == MC_TRACE_CACHED)
		log_flush(t, x);
	if ((changed || created) && t->cb.on_vertex)
		t->cb.on_vertex(t->cb.ud, &x->pub, created || old != now);
	return 0;
}

static int apply_status(void *ud, const struct mc_trace_rec_status *r)
{
	struct mc_trace *t = ud;
	int created, changed;
	struct vtx *x = vtx_get(t, r->vertex.ptr, r->vertex.len, &created);
	/* BuildKit names most sub-steps by ID alone ("exporting layers"). */
	const struct mc_pb_bytes *text = r->name.len ? &r->name : &r->id;

	changed = set_text(&x->status, text->ptr, text->len, STATUS_MAX);
	changed |= x->pub.current != r->current || x->pub.total != r->total;
	x->pub.current = r->current;
	x->pub.total = r->total;
	vtx_sync(x);
	if ((changed || created) && t->cb.on_vertex)
		t->cb.on_vertex(t->cb.ud, &x->pub, created);
	return 0;
}

static int apply_log(void *ud, const struct mc_trace_rec_log *r)
{
	struct mc_trace *t = ud;
	int created;
	struct vtx *x = vtx_get(t, r->vertex.ptr, r->vertex.len, &created);

	vtx_sync(x);
	if (created && t->cb.on_vertex)
		t->cb.on_vertex(t->cb.ud, &x->pub, 1);
	log_bytes(t, x, r->stream == 2, r->msg.ptr, r->msg.len);
	return 0;
}

static int apply_warning(void *ud, const struct mc_trace_rec_warning *r)
{
	struct mc_trace *t = ud;
	int created;
	struct vtx *x = vtx_get(t, r->vertex.ptr, r->vertex.len, &created);
	char *msg;

	vtx_sync(x);
	x->pub.nwarnings++;
	if (created && t->cb.on_vertex)
		t->cb.on_vertex(t->cb.ud, &x->pub, 1);
	if (t->cb.on_warning) {
		msg = text_dup(r->short_msg.ptr ? r->short_msg.ptr : "", r->short_msg.len,
			       MC_TRACE_TEXT_MAX);
		t->cb.on_warning(t->cb.ud, &x->pub, r->level, msg);
		free(msg);
	}
	return 0;
}

struct mc_trace *mc_trace_new(const struct mc_trace_cb *cb)
{
	struct mc_trace *t = mc_calloc(1, sizeof(*t));

	if (cb)
		t->cb = *cb;
	t->slot = mc_calloc(HASH_SLOTS, sizeof(*t->slot));
	return t;
}

void mc_trace_free(struct mc_trace *t)
{
	if (!t)
		return;
	for (size_t i = 0; i < t->n; i++)
		vtx_free(t, t->v[i]);
	free(t->v);
	free(t->slot);
	mc_buf_release(&t->scratch);
	free(t);
}

int mc_trace_feed(struct mc_trace *t, const uint8_t *buf, size_t len)
{
	static const struct mc_trace_visitor apply = { apply_vertex, apply_status, apply_log,
						       apply_warning };
	int ret;

	/* Validate first so that a damaged record changes nothing. */
	if ((ret = mc_trace_decode(buf, len, NULL, NULL)))
		goto done;
	ret = mc_trace_decode(buf, len, &apply, t);
done:
	return ret;
}

int mc_trace_feed_b64(struct mc_trace *t, const char *b64)
{
	int ret;

	if ((ret = mc_trace_b64_decode(&t->scratch, b64)))
		goto done;
	ret = mc_trace_feed(t, (const uint8_t *)t->scratch.ptr, t->scratch.len);
done:
	/* Records come every few milliseconds; keep the buffer unless one was huge. */
	if (t->scratch.cap > (1u << 20))
		mc_buf_release(&t->scratch);
	return ret;
}

size_t mc_trace_count(const struct mc_trace *t) { return t ? t->n : 0; }

const struct mc_trace_vertex *mc_trace_at(const struct mc_trace *t, size_t i)
{
	return t && i < t->n ? &t->v[i]->pub : NULL;
}

const struct mc_trace_vertex *mc_trace_find(const struct mc_trace *t, const char *digest)
{
	size_t i;

	if (!t || !digest)
		return NULL;
	i = slot_of(t, digest, utf8_cut(digest, strlen(digest), DIGEST_MAX));
	return t->slot[i] ? &t->v[t->slot[i] - 1]->pub : NULL;
}

const struct mc_trace_vertex *mc_trace_first_failed(const struct mc_trace *t)
{
	size_t i = t ? first_failed_index(t) : SIZE_MAX;

	return i != SIZE_MAX ? &t->v[i]->pub : NULL;
}

const char *mc_trace_vertex_line(const struct mc_trace_vertex *v, size_t i)
{
	const struct vtx *x = (const struct vtx *)v;

	if (!v || i >= v->nlines)
		return NULL;
	return x->lines[(x->first + i) % MC_TRACE_LOG_LINES];
}
