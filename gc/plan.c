/* plan.c — the pure gc planner: rows, facts and a policy in, an ordered eviction plan out. */
#include "gc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void mc_gc_policy_init(struct mc_gc_policy *p)
{
	memset(p, 0, sizeof(*p));
	p->max_age_ms = -1;
	p->max_size_bytes = -1;
	p->keep_n = -1;
	p->grace_ms = 3600000;
	p->order = MC_GC_ORDER_LRU;
}

int mc_gc_policy_evicts(const struct mc_gc_policy *p)
{
	return p->max_age_ms >= 0 || p->max_size_bytes >= 0 || p->keep_n >= 0 || p->trees_only;
}

/* A layer shared by rows: how many kept rows still use it. */
struct chain {
	const char *id;
	int64_t bytes;
	int refs;
	int fixed; /* used by a row that no policy may take */
	int pinned;
	size_t last_row; /* row index + 1 that last counted it: a layer listed twice counts once */
};

/* Per row: the indexes of its distinct chains in the chain table. */
struct rowinfo {
	size_t *chains; /* points into one slab shared by all rows */
	size_t n_chains;
	int known;          /* layers came from the engine */
	int has_image;
	int has_tree;
	const char *protect; /* why it may not go, or NULL */
	int candidate;
	int taken;
};

struct order_key {
	size_t idx;
	const char *key;
	const char *runtime;
	int64_t last_used, build_ms, bytes;
	int latest; /* keep-N: on a tie in last use, the entry :latest names counts as newer */
};

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Equal keys never happen in the index; the row index still makes the order total. */
static int cmp_key_idx(const struct order_key *x, const struct order_key *y)
{
	int c = strcmp(x->key, y->key);
	if (c)
		return c;
	return x->idx < y->idx ? -1 : x->idx > y->idx;
}

static int cmp_lru(const void *a, const void *b)
{
	const struct order_key *x = a, *y = b;
	if (x->last_used != y->last_used)
		return x->last_used < y->last_used ? -1 : 1;
	return cmp_key_idx(x, y);
}

/* Fewest rebuild-milliseconds per byte first; a row of 0 bytes saves nothing, so it goes last. */
static int cmp_cost(const void *a, const void *b)
{
	const struct order_key *x = a, *y = b;
	if (!x->bytes != !y->bytes)
		return x->bytes ? -1 : 1;
	if (x->bytes && y->bytes) {
		long double cx = (long double)x->build_ms * (long double)y->bytes;
		long double cy = (long double)y->build_ms * (long double)x->bytes;
		if (cx != cy)
			return cx < cy ? -1 : 1;
	}
	return cmp_lru(a, b);
}

/* Per runtime (no runtime is a runtime of its own), the newest ready rows first,
 * by last use, then :latest (two hits in one millisecond must not keep both
 * the newest and, through :latest, another), then key. */
static int cmp_runtime_newest(const void *a, const void *b)
{
	const struct order_key *x = a, *y = b;
	if (!x->runtime != !y->runtime)
		return x->runtime ? 1 : -1;
	if (x->runtime) {
		int c = strcmp(x->runtime, y->runtime);
		if (c)
			return c;
	}
	if (x->last_used != y->last_used)
		return x->last_used > y->last_used ? -1 : 1;
	if (x->latest != y->latest)
		return x->latest ? -1 : 1;
	return cmp_key_idx(x, y);
}

static int cmp_by_key(const void *a, const void *b)
{
	return cmp_key_idx(a, b);
}

static int same_str(const char *a, const char *b)
{
	return a && b ? !strcmp(a, b) : a == b;
}

/* One sort groups the ready rows by runtime, newest first; the first keep_n of each group stay. */
static void mark_keep(struct rowinfo *ri, const struct mc_gc_input *in, int keep_n)
{
	struct order_key *ready = mc_calloc(in->n ? in->n : 1, sizeof(*ready));
	size_t n = 0;
	for (size_t i = 0; i < in->n; i++)
		if (in->rows[i].state == MC_STATE_READY)
			ready[n++] = (struct order_key){ i, in->rows[i].key, in->rows[i].runtime,
							 in->rows[i].last_used_ms, 0, 0, in->facts[i].latest };
	qsort(ready, n, sizeof(*ready), cmp_runtime_newest);
	size_t rank = 0;
	for (size_t i = 0; i < n; i++) {
		rank = i && same_str(ready[i - 1].runtime, ready[i].runtime) ? rank + 1 : 0;
		if (rank < (size_t)keep_n && !ri[ready[i].idx].protect)
			ri[ready[i].idx].protect = "keep";
	}
	free(ready);
}

/* FNV-1a: chain ids are hex digests but the table must not rely on it. */
static uint64_t hash_str(const char *s)
{
	uint64_t h = 14695981039346656037ULL;
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	return h;
}

/*
 * The chain table (every distinct layer of every row image, with how many rows
 * use it, its bytes those of its first occurrence) and each row's distinct
 * chains, in one pass through an open-addressing table of chain numbers.
 * Returns the slab the rows' chain lists live in.
 */
static size_t *build_chains(struct chain **out, size_t *out_n, struct rowinfo *ri, const struct mc_gc_input *in)
{
	size_t total = 0, n_ch = 0, off = 0, cap = 16;
	for (size_t i = 0; i < in->n; i++)
		total += in->facts[i].n_layers;
	while (cap < 2 * total)
		cap *= 2;
	size_t *slot = mc_calloc(cap, sizeof(*slot)); /* chain number + 1; 0 = free */
	size_t *slab = mc_calloc(total ? total : 1, sizeof(*slab));
	struct chain *ch = mc_calloc(total ? total : 1, sizeof(*ch));

	for (size_t i = 0; i < in->n; i++) {
		const struct mc_gc_facts *f = &in->facts[i];
		ri[i].chains = slab + off;
		off += f->n_layers;
		for (size_t k = 0; k < f->n_layers; k++) {
			const struct mc_gc_layer *l = &f->layers[k];
			size_t h = (size_t)hash_str(l->chain) & (cap - 1);
			while (slot[h] && strcmp(ch[slot[h] - 1].id, l->chain))
				h = (h + 1) & (cap - 1);
			if (!slot[h]) {
				ch[n_ch] = (struct chain){ l->chain, l->bytes, 0, 0, 0, 0 };
				slot[h] = ++n_ch;
			}
			struct chain *c = &ch[slot[h] - 1];
			if (c->last_row != i + 1) {
				c->last_row = i + 1;
				c->refs++;
				ri[i].chains[ri[i].n_chains++] = slot[h] - 1;
			}
		}
	}
	for (size_t k = 0; k < n_ch; k++)
		ch[k].pinned = in->n_pinned &&
			       bsearch(&ch[k].id, in->pinned, in->n_pinned, sizeof(*in->pinned), cmp_str) != NULL;
	free(slot);
	*out = ch;
	*out_n = n_ch;
	return slab;
}

/* Bytes row i frees when it goes now, and drops its layer references when commit. */
static int64_t freed_by(struct rowinfo *ri, struct chain *ch, const struct mc_gc_input *in, size_t i,
			enum mc_gc_action act, int commit)
{
	const struct mc_entry *e = &in->rows[i];
	int64_t b = ri[i].has_tree ? e->tree_bytes : 0;
	if (act == MC_GC_DROP_TREE)
		return b;
	if (ri[i].has_image && !ri[i].known)
		b += e->image_bytes;
	for (size_t k = 0; k < ri[i].n_chains; k++) {
		struct chain *c = &ch[ri[i].chains[k]];
		if (c->refs == 1 && !c->pinned)
			b += c->bytes;
		if (commit)
			c->refs--;
	}
	return b;
}

/* Would evicting row i never free a byte, whatever else goes? (every layer
 * also held by a row no policy may take, no tree) Then --max-size leaves it. */
static int useless(const struct rowinfo *ri, const struct chain *ch, const struct mc_gc_input *in, size_t i,
		   enum mc_gc_action act)
{
	if (ri[i].has_tree && in->rows[i].tree_bytes > 0)
		return 0;
	if (act == MC_GC_DROP_TREE)
		return 1;
	if (ri[i].has_image && !ri[i].known && in->rows[i].image_bytes > 0)
		return 0;
	for (size_t k = 0; k < ri[i].n_chains; k++) {
		const struct chain *c = &ch[ri[i].chains[k]];
		if (!c->fixed && !c->pinned && c->bytes > 0)
			return 0;
	}
	return 1;
}

static void take(struct mc_gc_plan *out, size_t *item_row, struct rowinfo *ri, struct chain *ch,
		 const struct mc_gc_input *in, size_t i, enum mc_gc_action act, const char *reason)
{
	const struct mc_entry *e = &in->rows[i];
	struct mc_gc_item *it = &out->items[out->n];
	int64_t tree = ri[i].has_tree ? e->tree_bytes : 0;
	int64_t all = freed_by(ri, ch, in, i, act, 1);

	item_row[out->n++] = i;
	memset(it, 0, sizeof(*it));
	snprintf(it->key, sizeof(it->key), "%s", e->key);
	it->runtime = e->runtime ? mc_strdup(e->runtime) : NULL;
	it->image_id = e->image_id ? mc_strdup(e->image_id) : NULL;
	it->action = act;
	snprintf(it->reason, sizeof(it->reason), "%s", reason);
	it->last_used_ms = e->last_used_ms;
	it->tree_bytes = tree;
	it->image_bytes = all - tree;
	ri[i].taken = 1;
	out->bytes_freed += all;
	if (act == MC_GC_DROP_TREE)
		ri[i].has_tree = 0;
}

static int cmp_size(const void *a, const void *b)
{
	size_t x = *(const size_t *)a, y = *(const size_t *)b;
	return x < y ? -1 : x > y;
}

/*
 * Other rows whose image shares a layer no outside image pins. Rows are
 * numbered in key order and each chain lists its users in that order, so an
 * image's sharers are one walk over its chains and come out sorted unless
 * they came from more than one chain.
 */
static void fill_shares(struct mc_gc_plan *out, const size_t *item_row, const struct rowinfo *ri,
			const struct chain *ch, size_t n_ch, const struct mc_gc_input *in)
{
	size_t n = in->n, n_evict = 0, n_pairs = 0;
	for (size_t t = 0; t < out->n; t++)
		n_evict += out->items[t].action == MC_GC_EVICT;
	if (!n_evict)
		return;
	struct order_key *bykey = mc_calloc(n, sizeof(*bykey));
	size_t *rank = mc_calloc(n, sizeof(*rank));
	size_t *start = mc_calloc(n_ch + 1, sizeof(*start));
	size_t *next = mc_calloc(n_ch ? n_ch : 1, sizeof(*next));
	size_t *seen = mc_calloc(n, sizeof(*seen));
	size_t *got = mc_calloc(n, sizeof(*got));
	size_t *users;

	for (size_t i = 0; i < n; i++) {
		bykey[i] = (struct order_key){ .idx = i, .key = in->rows[i].key };
		n_pairs += ri[i].n_chains;
		for (size_t k = 0; k < ri[i].n_chains; k++)
			start[ri[i].chains[k] + 1]++;
	}
	qsort(bykey, n, sizeof(*bykey), cmp_by_key);
	for (size_t c = 0; c < n_ch; c++)
		start[c + 1] += start[c];
	users = mc_calloc(n_pairs ? n_pairs : 1, sizeof(*users));
	for (size_t r = 0; r < n; r++) {
		const struct rowinfo *x = &ri[bykey[r].idx];
		rank[bykey[r].idx] = r;
		for (size_t k = 0; k < x->n_chains; k++)
			users[start[x->chains[k]] + next[x->chains[k]]++] = r;
	}

	for (size_t t = 0; t < out->n; t++) {
		struct mc_gc_item *it = &out->items[t];
		const struct rowinfo *x = &ri[item_row[t]];
		size_t me = rank[item_row[t]], m = 0;
		int sorted = 1;
		if (it->action != MC_GC_EVICT)
			continue;
		/* MC_GC_SHARES_MAX + 1 sharers are enough to know the list is cut: a
		 * layer every row uses (its base image deleted) must not make this n² */
		for (size_t k = 0; k < x->n_chains && m <= MC_GC_SHARES_MAX; k++) {
			size_t c = x->chains[k];
			if (ch[c].pinned)
				continue;
			for (size_t u = start[c]; u < start[c + 1] && m <= MC_GC_SHARES_MAX; u++) {
				size_t r = users[u];
				/* seen holds the item number + 1 that last listed the row */
				if (r == me || seen[r] == t + 1)
					continue;
				seen[r] = t + 1;
				sorted &= !m || got[m - 1] < r;
				got[m++] = r;
			}
		}
		if (!sorted)
			qsort(got, m, sizeof(*got), cmp_size);
		it->shares_truncated = m > MC_GC_SHARES_MAX;
		if (it->shares_truncated)
			m = MC_GC_SHARES_MAX;
		for (size_t k = 0; k < m; k++)
			it->shares[k] = (uint32_t)got[k];
		it->n_shares = (unsigned)m;
	}
	out->share_keys = mc_malloc(n * sizeof(*out->share_keys));
	for (size_t r = 0; r < n; r++) {
		size_t len = strnlen(bykey[r].key, 64);
		memcpy(out->share_keys[r], bykey[r].key, len);
		out->share_keys[r][len] = '\0';
	}
	free(bykey);
	free(rank);
	free(start);
	free(next);
	free(seen);
	free(got);
	free(users);
}

void mc_gc_plan_make(struct mc_gc_plan *out, const struct mc_gc_input *in, const struct mc_gc_policy *pol)
{
	size_t n = in->n, n_ch = 0, n_ord = 0;
	struct rowinfo *ri = mc_calloc(n ? n : 1, sizeof(*ri));
	struct chain *ch = NULL;
	struct order_key *ord = mc_calloc(n ? n : 1, sizeof(*ord));
	size_t *item_row = mc_calloc(n ? n : 1, sizeof(*item_row));
	enum mc_gc_action act = pol->trees_only ? MC_GC_DROP_TREE : MC_GC_EVICT;
	int evicts = mc_gc_policy_evicts(pol);

	memset(out, 0, sizeof(*out));
	out->items = mc_calloc(n ? n : 1, sizeof(*out->items));
	out->kept = mc_calloc(n ? n : 1, sizeof(*out->kept));

	size_t *slab = build_chains(&ch, &n_ch, ri, in);
	for (size_t i = 0; i < n; i++) {
		const struct mc_entry *e = &in->rows[i];
		const struct mc_gc_facts *f = &in->facts[i];
		ri[i].has_image = e->image_id != NULL;
		ri[i].has_tree = e->tree_path != NULL;
		ri[i].known = f->layers != NULL;
		if (f->locked)
			ri[i].protect = "locked";
		else if (f->leased)
			ri[i].protect = "leased";
		else if (f->latest && !pol->include_latest)
			ri[i].protect = "latest";
	}
	if (pol->keep_n > 0)
		mark_keep(ri, in, pol->keep_n); /* 0: none stays */

	/* What the cache holds now: every tree, every layer only rows use. */
	for (size_t i = 0; i < n; i++) {
		out->bytes_before += ri[i].has_tree ? in->rows[i].tree_bytes : 0;
		if (ri[i].has_image && !ri[i].known)
			out->bytes_before += in->rows[i].image_bytes;
	}
	for (size_t k = 0; k < n_ch; k++)
		out->bytes_before += ch[k].pinned ? 0 : ch[k].bytes;

	for (size_t i = 0; i < n; i++) {
		const struct mc_entry *e = &in->rows[i];
		int st_ok = e->state == MC_STATE_READY || e->state == MC_STATE_FAILED;
		if (!st_ok || (act == MC_GC_DROP_TREE && !ri[i].has_tree))
			continue;
		if (ri[i].protect) {
			if (evicts) {
				struct mc_gc_protect *k = &out->kept[out->n_kept++];
				snprintf(k->key, sizeof(k->key), "%s", e->key);
				k->why = ri[i].protect;
			}
			continue;
		}
		ri[i].candidate = 1;
		/* cost ranks by what eviction would free, not the recorded size: a
		 * row whose layers other rows share frees little however big it is */
		ord[n_ord++] = (struct order_key){ i, e->key, e->runtime, e->last_used_ms, e->build_ms,
						   pol->order == MC_GC_ORDER_COST ? freed_by(ri, ch, in, i, act, 0)
										  : e->tree_bytes + e->image_bytes };
	}
	qsort(ord, n_ord, sizeof(*ord), pol->order == MC_GC_ORDER_COST ? cmp_cost : cmp_lru);
	for (size_t i = 0; i < n; i++)
		for (size_t k = 0; k < ri[i].n_chains && !ri[i].candidate; k++)
			ch[ri[i].chains[k]].fixed = 1;

	if (pol->max_age_ms >= 0) {
		char why[48], dur[32];
		mc_gc_format_duration(dur, pol->max_age_ms);
		snprintf(why, sizeof(why), "age>%s", dur);
		for (size_t o = 0; o < n_ord; o++)
			if (in->now_ms - ord[o].last_used > pol->max_age_ms)
				take(out, item_row, ri, ch, in, ord[o].idx, act, why);
	}
	if (pol->max_age_ms < 0 && pol->max_size_bytes < 0 && (pol->keep_n >= 0 || pol->trees_only)) {
		char why[48];
		if (pol->keep_n >= 0)
			snprintf(why, sizeof(why), "keep>%d", pol->keep_n);
		else
			snprintf(why, sizeof(why), "trees-only");
		for (size_t o = 0; o < n_ord; o++)
			take(out, item_row, ri, ch, in, ord[o].idx, act, why);
	}
	if (pol->max_size_bytes >= 0) {
		for (size_t o = 0; o < n_ord; o++) {
			if (out->bytes_before - out->bytes_freed <= pol->max_size_bytes)
				break;
			if (ri[ord[o].idx].taken)
				continue;
			if (useless(ri, ch, in, ord[o].idx, act))
				continue;
			take(out, item_row, ri, ch, in, ord[o].idx, act, "size");
		}
	}
	out->bytes_after = out->bytes_before - out->bytes_freed;
	fill_shares(out, item_row, ri, ch, n_ch, in);

	free(slab);
	free(ri);
	free(ch);
	free(ord);
	free(item_row);
}

void mc_gc_plan_release(struct mc_gc_plan *p)
{
	if (!p)
		return;
	for (size_t i = 0; i < p->n; i++) {
		free(p->items[i].runtime);
		free(p->items[i].image_id);
	}
	free(p->items);
	free(p->kept);
	free(p->share_keys);
	memset(p, 0, sizeof(*p));
}
