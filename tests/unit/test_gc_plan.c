/* test_gc_plan.c — the gc planner as a table: rows × facts × policy → the exact ordered plan. */
#include "gc/gc.h"
#include "t.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DAY 86400000LL
#define NOW (1000 * DAY)
#define MAXR 8

/* A row in a table: key = its letter repeated 64 times. */
struct trow {
	char k;
	const char *runtime;
	int state;         /* MC_STATE_* */
	int days;          /* last used this many days before NOW (negative: hours) */
	int64_t tree, img; /* tree_bytes, image_bytes; tree < 0: no tree */
	int64_t build_ms;
	const char *flags; /* "L" locked, "S" leased, "T" latest, "N" no image */
	const char *layers; /* "a:100,b:50": chain name:bytes; NULL = unknown */
};

struct tcase {
	const char *name;
	struct trow rows[MAXR];
	const char *policy;  /* "age=7d size=300 keep=1 trees latest cost" */
	const char *pinned;  /* "a,b" */
	const char *want;    /* "k:action:reason:bytes ..." in order */
	const char *kept;    /* "k:why ..." */
	int64_t before, after;
};

#define R(...) { __VA_ARGS__ }
#define READY MC_STATE_READY
#define FAILED MC_STATE_FAILED
#define BUILDING MC_STATE_BUILDING
#define EVICTING MC_STATE_EVICTING

static const struct tcase cases[] = {
	{ "no policy plans nothing",
	  { R('a', "x", READY, 30, 10, 100, 1000, "", NULL) },
	  "", NULL, "", "", 110, 110 },
	{ "age: only rows older than max, oldest first",
	  { R('a', "x", READY, 10, 10, 100, 0, "", NULL), R('b', "x", READY, 3, 10, 100, 0, "", NULL),
	    R('c', "x", READY, 8, 10, 100, 0, "", NULL), R('d', "y", FAILED, 9, 5, 0, 0, "N", NULL) },
	  "age=7d", NULL, "a:evict:age>7d:110 d:evict:age>7d:5 c:evict:age>7d:110", "", 335, 110 },
	{ "age boundary: exactly max is not older",
	  { R('a', "x", READY, 7, 1, 1, 0, "", NULL), R('b', "x", READY, 8, 1, 1, 0, "", NULL) },
	  "age=7d", NULL, "b:evict:age>7d:2", "", 4, 2 },
	{ "size: lru until under",
	  { R('a', "x", READY, 1, 0, 100, 0, "", NULL), R('b', "x", READY, 4, 0, 100, 0, "", NULL),
	    R('c', "x", READY, 3, 0, 100, 0, "", NULL), R('d', "x", READY, 2, 0, 100, 0, "", NULL) },
	  "size=250", NULL, "b:evict:size:100 c:evict:size:100", "", 400, 200 },
	{ "size already under: nothing",
	  { R('a', "x", READY, 1, 0, 100, 0, "", NULL) }, "size=100", NULL, "", "", 100, 100 },
	{ "size 0 empties what may go",
	  { R('a', "x", READY, 1, 1, 1, 0, "", NULL), R('b', "x", READY, 2, 1, 1, 0, "T", NULL) },
	  "size=0", NULL, "a:evict:size:2", "b:latest", 4, 2 },
	{ "age then size, age items first",
	  { R('a', "x", READY, 1, 0, 100, 0, "", NULL), R('b', "x", READY, 9, 0, 100, 0, "", NULL),
	    R('c', "x", READY, 2, 0, 100, 0, "", NULL), R('d', "x", READY, 3, 0, 100, 0, "", NULL) },
	  "age=7d size=150", NULL, "b:evict:age>7d:100 d:evict:size:100 c:evict:size:100", "", 400, 100 },
	{ "keep N per runtime protects the newest ready rows",
	  { R('a', "x", READY, 1, 0, 10, 0, "", NULL), R('b', "x", READY, 20, 0, 10, 0, "", NULL),
	    R('c', "x", READY, 30, 0, 10, 0, "", NULL), R('d', "y", READY, 40, 0, 10, 0, "", NULL),
	    R('e', "y", FAILED, 50, 0, 10, 0, "", NULL) },
	  "age=7d keep=2", NULL, "e:evict:age>7d:10 c:evict:age>7d:10", "a:keep b:keep d:keep", 50, 30 },
	{ "keep alone evicts beyond N per runtime",
	  { R('a', "x", READY, 1, 0, 10, 0, "", NULL), R('b', "x", READY, 2, 0, 10, 0, "", NULL),
	    R('c', "x", READY, 3, 0, 10, 0, "", NULL), R('d', "y", READY, 4, 0, 10, 0, "", NULL) },
	  "keep=1", NULL, "c:evict:keep>1:10 b:evict:keep>1:10", "a:keep d:keep", 40, 20 },
	{ "keep=0 alone evicts every entry no other rule protects (the man page's promise)",
	  { R('a', "x", READY, 1, 0, 10, 0, "", NULL), R('b', "x", READY, 2, 0, 10, 0, "", NULL),
	    R('c', "x", READY, 3, 0, 10, 0, "T", NULL), R('d', "y", READY, 4, 0, 10, 0, "", NULL) },
	  "keep=0", NULL, "d:evict:keep>0:10 b:evict:keep>0:10 a:evict:keep>0:10", "c:latest", 40, 10 },
	{ "keep: on a tie in last use, the :latest entry is the newest (not both kept)",
	  { R('a', "x", READY, 2, 0, 10, 0, "", NULL), R('b', "x", READY, 2, 0, 10, 0, "T", NULL) },
	  "keep=1", NULL, "a:evict:keep>1:10", "b:latest", 20, 10 },
	{ "latest protected",
	  { R('a', "x", READY, 30, 0, 10, 0, "T", NULL), R('b', "x", READY, 40, 0, 10, 0, "", NULL) },
	  "age=7d", NULL, "b:evict:age>7d:10", "a:latest", 20, 10 },
	{ "latest evicted with include-latest",
	  { R('a', "x", READY, 30, 0, 10, 0, "T", NULL), R('b', "x", READY, 40, 0, 10, 0, "", NULL) },
	  "age=7d latest", NULL, "b:evict:age>7d:10 a:evict:age>7d:10", "", 20, 0 },
	{ "locked and leased skipped, even with include-latest",
	  { R('a', "x", READY, 30, 0, 10, 0, "L", NULL), R('b', "x", READY, 40, 0, 10, 0, "S", NULL),
	    R('c', "x", READY, 50, 0, 10, 0, "LT", NULL), R('d', "x", READY, 60, 0, 10, 0, "", NULL) },
	  "age=1d latest", NULL, "d:evict:age>1d:10", "a:locked b:leased c:locked", 40, 30 },
	{ "building and evicting rows are never planned",
	  { R('a', "x", BUILDING, 30, 5, 0, 0, "N", NULL), R('b', "x", EVICTING, 30, 5, 10, 0, "", NULL),
	    R('c', "x", READY, 30, 5, 10, 0, "", NULL) },
	  "size=0", NULL, "c:evict:size:15", "", 35, 20 },
	{ "ties broken by key",
	  { R('c', "x", READY, 9, 0, 1, 0, "", NULL), R('a', "x", READY, 9, 0, 1, 0, "", NULL),
	    R('b', "x", READY, 9, 0, 1, 0, "", NULL) },
	  "age=1d", NULL, "a:evict:age>1d:1 b:evict:age>1d:1 c:evict:age>1d:1", "", 3, 0 },
	{ "cost: least rebuild time per byte first, age breaks ties, empty rows last",
	  { R('a', "x", READY, 1, 0, 100, 10000, "", NULL),  /* 100 ms/B */
	    R('b', "x", READY, 2, 0, 1000, 1000, "", NULL),  /* 1 ms/B */
	    R('c', "x", READY, 3, 0, 100, 1000, "", NULL),   /* 10 ms/B */
	    R('d', "x", READY, 5, 0, 200, 2000, "", NULL),   /* 10 ms/B, older than c */
	    R('e', "x", READY, 9, -1, 0, 0, "N", NULL) },    /* nothing to save */
	  "size=0 cost", NULL, "b:evict:size:1000 d:evict:size:200 c:evict:size:100 a:evict:size:100", "", 1400, 0 },
	{ "cost with age: the same set, cost order",
	  { R('a', "x", READY, 9, 0, 100, 10000, "", NULL), R('b', "x", READY, 8, 0, 100, 10, "", NULL) },
	  "age=7d cost", NULL, "b:evict:age>7d:100 a:evict:age>7d:100", "", 200, 0 },
	{ "cost ranks by bytes eviction frees: a row whose layers are all shared frees nothing, goes last",
	  { R('a', "x", READY, 9, 0, 1000, 1000, "", "base:900,s:100"),        /* 1 ms/recorded B, frees 0 */
	    R('b', "x", READY, 1, 0, 1050, 1050000, "", "base:900,s:100,b1:50"), /* frees 50: 21000 ms/B */
	    R('c', "y", READY, 5, 0, 200, 1000, "", "c1:200") },                /* 5 ms/B */
	  "size=0 cost", NULL, "c:evict:size:200 b:evict:size:50 a:evict:size:1000", "", 1250, 0 },
	{ "shared layer: first of two frees only its own layers, the second frees the shared one",
	  { R('a', "x", READY, 9, 0, 1100, 0, "", "base:1000,a1:100"),
	    R('b', "x", READY, 5, 0, 1050, 0, "", "base:1000,b1:50"),
	    R('c', "y", READY, 1, 0, 20, 0, "", "c1:20") },
	  "size=100", NULL, "a:evict:size:100 b:evict:size:1050", "", 1170, 20 },
	{ "shared layer kept by a kept row: size stops short, never evicts for nothing",
	  { R('a', "x", READY, 9, 0, 1100, 0, "", "base:1000,a1:100"),
	    R('b', "x", READY, 1, 0, 1050, 0, "T", "base:1000,b1:50"),
	    R('c', "x", READY, 5, 0, 1000, 0, "", "base:1000") },
	  "size=100", NULL, "a:evict:size:100", "b:latest", 1150, 1050 },
	{ "pinned layers (base image) never count",
	  { R('a', "x", READY, 9, 0, 1100, 0, "", "base:1000,a1:100"),
	    R('b', "x", READY, 5, 0, 1050, 0, "", "base:1000,b1:50") },
	  "size=0", "base", "a:evict:size:100 b:evict:size:50", "", 150, 0 },
	{ "trees-only drops trees, keeps images",
	  { R('a', "x", READY, 9, 30, 100, 0, "", NULL), R('b', "x", READY, 1, 20, 100, 0, "", NULL),
	    R('c', "x", READY, 10, -1, 100, 0, "", NULL) },
	  "age=7d trees", NULL, "a:drop-tree:age>7d:30", "", 350, 320 },
	{ "trees-only alone drops every unprotected tree",
	  { R('a', "x", READY, 9, 30, 100, 0, "", NULL), R('b', "x", READY, 1, 20, 100, 0, "T", NULL),
	    R('c', "x", READY, 2, 10, 100, 0, "", NULL) },
	  "trees", NULL, "a:drop-tree:trees-only:30 c:drop-tree:trees-only:10", "b:latest", 360, 320 },
	{ "trees-only with size: until under",
	  { R('a', "x", READY, 9, 30, 100, 0, "", NULL), R('b', "x", READY, 8, 20, 100, 0, "", NULL),
	    R('c', "x", READY, 2, 10, 100, 0, "", NULL) },
	  "size=330 trees", NULL, "a:drop-tree:size:30", "", 360, 330 },
};

static void key_of(char out[65], char k)
{
	memset(out, k, 64);
	out[64] = 0;
}

/* Parses "name:bytes,…" into layers with chain ids "sha256:<name…>". */
static size_t parse_layers(struct mc_gc_layer *out, const char *s)
{
	size_t n = 0;
	while (s && *s) {
		size_t len = strcspn(s, ":");
		snprintf(out[n].chain, sizeof(out[n].chain), "sha256:%.*s", (int)len, s);
		out[n].bytes = strtoll(s + len + 1, NULL, 10);
		n++;
		s += strcspn(s, ",");
		if (*s)
			s++;
	}
	return n;
}

static void parse_policy(struct mc_gc_policy *p, const char *s)
{
	char buf[256];
	mc_gc_policy_init(p);
	snprintf(buf, sizeof(buf), "%s", s);
	for (char *w = buf; *w;) {
		size_t n = strcspn(w, " ");
		char save = w[n];
		w[n] = 0;
		if (!strncmp(w, "age=", 4))
			CHECK_INT(mc_gc_parse_duration(&p->max_age_ms, w + 4), 0);
		else if (!strncmp(w, "size=", 5))
			CHECK_INT(mc_gc_parse_size(&p->max_size_bytes, w + 5), 0);
		else if (!strncmp(w, "keep=", 5))
			p->keep_n = atoi(w + 5);
		else if (!strcmp(w, "trees"))
			p->trees_only = 1;
		else if (!strcmp(w, "latest"))
			p->include_latest = 1;
		else if (!strcmp(w, "cost"))
			p->order = MC_GC_ORDER_COST;
		w += n + (save != 0);
	}
}

static void run_case(const struct tcase *c)
{
	struct mc_entry rows[MAXR];
	struct mc_gc_facts facts[MAXR];
	struct mc_gc_layer layers[MAXR][8];
	char keys[MAXR][65], names[8][80];
	const char *pinned[8];
	size_t n = 0, n_pinned = 0;
	struct mc_gc_policy pol;
	struct mc_gc_plan plan;
	struct mc_buf got = MC_BUF_INIT, kept = MC_BUF_INIT;

	memset(rows, 0, sizeof(rows));
	memset(facts, 0, sizeof(facts));
	for (; n < MAXR && c->rows[n].k; n++) {
		const struct trow *r = &c->rows[n];
		key_of(keys[n], r->k);
		rows[n].key = keys[n];
		rows[n].runtime = (char *)r->runtime;
		rows[n].state = r->state;
		rows[n].last_used_ms = NOW - r->days * DAY;
		rows[n].tree_path = r->tree >= 0 ? "/x" : NULL;
		rows[n].tree_bytes = r->tree >= 0 ? r->tree : 0;
		rows[n].image_id = strchr(r->flags, 'N') ? NULL : "sha256:i";
		rows[n].image_bytes = r->img;
		rows[n].build_ms = r->build_ms;
		facts[n].locked = strchr(r->flags, 'L') != NULL;
		facts[n].leased = strchr(r->flags, 'S') != NULL;
		facts[n].latest = strchr(r->flags, 'T') != NULL;
		if (r->layers) {
			facts[n].n_layers = parse_layers(layers[n], r->layers);
			facts[n].layers = layers[n];
		}
	}
	for (const char *s = c->pinned; s && *s;) {
		size_t len = strcspn(s, ",");
		snprintf(names[n_pinned], sizeof(names[0]), "sha256:%.*s", (int)len, s);
		pinned[n_pinned] = names[n_pinned];
		n_pinned++;
		s += len + (s[len] != 0);
	}
	parse_policy(&pol, c->policy);
	struct mc_gc_input in = { rows, facts, n, pinned, n_pinned, NOW };
	mc_gc_plan_make(&plan, &in, &pol);
	for (size_t i = 0; i < plan.n; i++)
		mc_buf_addf(&got, "%s%c:%s:%s:%lld", i ? " " : "", plan.items[i].key[0],
			    plan.items[i].action == MC_GC_EVICT ? "evict" : "drop-tree", plan.items[i].reason,
			    (long long)(plan.items[i].tree_bytes + plan.items[i].image_bytes));
	for (size_t i = 0; i < plan.n_kept; i++)
		mc_buf_addf(&kept, "%s%c:%s", i ? " " : "", plan.kept[i].key[0], plan.kept[i].why);
	int ok = !strcmp(mc_buf_cstr(&got), c->want) && !strcmp(mc_buf_cstr(&kept), c->kept) &&
		 plan.bytes_before == c->before && plan.bytes_after == c->after &&
		 plan.bytes_after == plan.bytes_before - plan.bytes_freed;
	CHECK(ok);
	if (!ok)
		fprintf(stderr, "case '%s':\n  plan %s (want %s)\n  kept %s (want %s)\n  bytes %lld -> %lld (want %lld -> %lld)\n",
			c->name, mc_buf_cstr(&got), c->want, mc_buf_cstr(&kept), c->kept, (long long)plan.bytes_before,
			(long long)plan.bytes_after, (long long)c->before, (long long)c->after);
	mc_gc_plan_release(&plan);
	mc_gc_plan_release(NULL);
	mc_buf_release(&got);
	mc_buf_release(&kept);
}

/* The report names the keys an evicted image shares layers with. */
static void test_shares(void)
{
	struct mc_entry rows[3] = { 0 };
	struct mc_gc_facts facts[3] = { 0 };
	struct mc_gc_layer la[2], lb[2], lc[1];
	char ka[65], kb[65], kc[65];
	const char *pinned[] = { "sha256:pin" };
	struct mc_gc_policy pol;
	struct mc_gc_plan plan;

	key_of(ka, 'a');
	key_of(kb, 'b');
	key_of(kc, 'c');
	parse_layers(la, "s:10,a:1");
	parse_layers(lb, "s:10,b:1");
	parse_layers(lc, "pin:5");
	char *keys[] = { ka, kb, kc };
	struct mc_gc_layer *ls[] = { la, lb, lc };
	size_t nl[] = { 2, 2, 1 };
	for (int i = 0; i < 3; i++) {
		rows[i].key = keys[i];
		rows[i].state = MC_STATE_READY;
		rows[i].runtime = "x";
		rows[i].image_id = "sha256:i";
		rows[i].last_used_ms = i;
		facts[i].layers = ls[i];
		facts[i].n_layers = nl[i];
	}
	mc_gc_policy_init(&pol);
	pol.max_size_bytes = 0;
	struct mc_gc_input in = { rows, facts, 3, pinned, 1, NOW };
	mc_gc_plan_make(&plan, &in, &pol);
	/* c would free nothing (its one layer is pinned): --max-size leaves it */
	CHECK_INT(plan.n, 2);
	CHECK_INT(plan.n >= 1 ? plan.items[0].n_shares : 0, 1);
	CHECK_STR(plan.n >= 1 && plan.items[0].n_shares ? mc_gc_share_key(&plan, &plan.items[0], 0) : "", kb);
	CHECK_STR(plan.n >= 2 && plan.items[1].n_shares ? mc_gc_share_key(&plan, &plan.items[1], 0) : "", ka);
	CHECK_INT(plan.n >= 2 ? plan.items[1].image_bytes : 0, 11);
	CHECK_INT(plan.n >= 1 ? plan.items[0].shares_truncated : 1, 0);
	mc_gc_plan_release(&plan);
}

/* A layer every image uses (its base image deleted) lists MC_GC_SHARES_MAX
 * sharers and says there are more, in key order: never n² keys. */
static void test_shares_cap(void)
{
	enum { N = MC_GC_SHARES_MAX + 4 };
	struct mc_entry rows[N] = { 0 };
	struct mc_gc_facts facts[N] = { 0 };
	struct mc_gc_layer layers[N][2];
	char keys[N][65];
	struct mc_gc_policy pol;
	struct mc_gc_plan plan;

	for (int i = 0; i < N; i++) {
		key_of(keys[i], (char)('a' + i));
		char spec[32];
		snprintf(spec, sizeof(spec), "base:100,own%d:1", i);
		parse_layers(layers[i], spec);
		rows[i].key = keys[i];
		rows[i].state = MC_STATE_READY;
		rows[i].runtime = "x";
		rows[i].image_id = "sha256:i";
		rows[i].last_used_ms = i;
		facts[i].layers = layers[i];
		facts[i].n_layers = 2;
	}
	mc_gc_policy_init(&pol);
	pol.max_age_ms = 0;
	pol.include_latest = 1;
	struct mc_gc_input in = { rows, facts, N, NULL, 0, NOW };
	mc_gc_plan_make(&plan, &in, &pol);
	CHECK_INT(plan.n, N);
	for (size_t t = 0; t < plan.n; t++) {
		CHECK_INT(plan.items[t].n_shares, MC_GC_SHARES_MAX);
		CHECK_INT(plan.items[t].shares_truncated, 1);
		for (size_t k = 1; k < plan.items[t].n_shares; k++)
			CHECK(strcmp(mc_gc_share_key(&plan, &plan.items[t], k - 1),
				     mc_gc_share_key(&plan, &plan.items[t], k)) < 0);
	}
	mc_gc_plan_release(&plan);
}

/* DUR and SIZE: table of accepted and refused strings. */
static void test_parsers(void)
{
	static const struct {
		const char *s;
		int64_t ms;
	} durs[] = { { "30s", 30000 }, { "15m", 900000 }, { "12h", 43200000 }, { "7d", 604800000 },
		     { "2w", 1209600000 }, { "0", 0 }, { "45", 45000 }, { "250ms", 250 }, { "0d", 0 } };
	static const char *bad_durs[] = { "", "d", "7x", "7 d", "-1d", "1.5h", "7dd", "99999999999999999999s",
					  "9223372036854775807w", " 7d", "7D" };
	static const struct {
		const char *s;
		int64_t b;
	} sizes[] = { { "500M", 500LL << 20 }, { "20G", 20LL << 30 }, { "1T", 1LL << 40 }, { "4096", 4096 },
		      { "4K", 4096 }, { "4k", 4096 }, { "20GB", 20LL << 30 }, { "20GiB", 20LL << 30 },
		      { "7B", 7 }, { "0", 0 } };
	static const char *bad_sizes[] = { "", "G", "1X", "1.5G", "-1", "1 G", "8E", "99999999999T", "1GG",
					   "1BB" };
	for (size_t i = 0; i < sizeof(durs) / sizeof(durs[0]); i++) {
		int64_t v = -1;
		CHECK_INT(mc_gc_parse_duration(&v, durs[i].s), 0);
		CHECK_INT(v, durs[i].ms);
	}
	for (size_t i = 0; i < sizeof(bad_durs) / sizeof(bad_durs[0]); i++) {
		int64_t v = -1;
		CHECK_INT(mc_gc_parse_duration(&v, bad_durs[i]), MC_EINVAL);
		CHECK_INT(v, 0);
	}
	CHECK(strstr(mc_error_msg(), "duration '7D'") != NULL);
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		int64_t v = -1;
		CHECK_INT(mc_gc_parse_size(&v, sizes[i].s), 0);
		CHECK_INT(v, sizes[i].b);
	}
	for (size_t i = 0; i < sizeof(bad_sizes) / sizeof(bad_sizes[0]); i++) {
		int64_t v = -1;
		CHECK_INT(mc_gc_parse_size(&v, bad_sizes[i]), MC_EINVAL);
		CHECK_INT(v, 0);
	}
	char buf[32];
	static const struct {
		int64_t ms;
		const char *s;
	} fmt[] = { { 604800000, "7d" }, { 1209600000, "14d" }, { 5400000, "90m" }, { 1500, "1500ms" },
		    { 30000, "30s" }, { 0, "0ms" } };
	for (size_t i = 0; i < sizeof(fmt) / sizeof(fmt[0]); i++) {
		mc_gc_format_duration(buf, fmt[i].ms);
		CHECK_STR(buf, fmt[i].s);
	}
}

/* The form image_layers remembers: round trip, and anything else refused. */
static void test_layers_codec(void)
{
	struct mc_gc_layer in[2] = { { "sha256:aaa", 10 }, { "sha256:bbb", 0 } }, *out = NULL;
	size_t n = 0;
	char *s = mc_gc_layers_encode(in, 2);

	CHECK_STR(s, "[[\"sha256:aaa\",10],[\"sha256:bbb\",0]]");
	CHECK_INT(mc_gc_layers_decode(&out, &n, s), 0);
	CHECK(n == 2 && out && !strcmp(out[1].chain, "sha256:bbb") && out[0].bytes == 10);
	free(out);
	free(s);
	static const char *const bad[] = { "", "[]", "{}", "[[1,2]]", "[[\"x\"]]", "[[\"x\",-1]]", "[[\"x\",\"1\"]]", "nope" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		CHECK_INT(mc_gc_layers_decode(&out, &n, bad[i]), MC_EINVAL);
		CHECK(out == NULL && n == 0);
	}
	CHECK_INT(mc_gc_layers_decode(&out, &n, NULL), MC_EINVAL);
}

int main(void)
{
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		run_case(&cases[i]);
	test_shares();
	test_shares_cap();
	test_parsers();
	test_layers_codec();
	return t_done();
}
