/*
 * query.h — read-only questions on the index for the views (status, ls, show,
 * explain): aggregates by state and runtime, byte sums, the build history of a
 * key, and finding a key by prefix, tag or runtime. Every answer is computed
 * by SQL over the open index, so status stays fast on a large index.
 *
 * Nothing here writes. Results are owned by the caller; each has a free
 * function that accepts NULL. Errors: MC_ERR (or MC_ELOCKED when the index is
 * busy) with SQLite's message.
 */
#ifndef MC_QUERY_H
#define MC_QUERY_H

#include <sqlite3.h>
#include <stddef.h>
#include <stdint.h>
#include "store.h"

/* Whole-cache figures. */
struct mc_query_totals {
	int64_t entries;
	int64_t by_state[4];    /* indexed by enum mc_state */
	int64_t tree_bytes;     /* sum over rows */
	int64_t image_bytes;    /* sum over rows (images may share layers: an upper bound) */
	int64_t builds;         /* rows of the build history */
	int64_t build_failures; /* … that failed */
	int64_t build_ms;       /* summed duration of every attempt */
};

/* One runtime: its rows, and the entry its :latest points at (latest_key NULL
 * when there is no pointer; the other latest_ fields unset when the pointer
 * names a key that is gone). */
struct mc_query_runtime {
	char *runtime;
	int64_t entries, ready;
	int64_t tree_bytes, image_bytes;
	char *latest_key;
	char *latest_tag;
	char *latest_commit;
	int latest_state;         /* -1 when unknown */
	int64_t latest_created_ms, latest_last_used_ms;
};

/*
 * The cache at a glance, from one aggregate pass over entries (GROUP BY
 * runtime, state) plus one lookup per :latest pointer: totals, and every
 * runtime that has rows or a :latest pointer, sorted by name (*rt may be
 * NULL with *n 0). With an index covering (runtime, state, tree_bytes,
 * image_bytes) the pass reads only that index; without one it scans the
 * table rather than hop from the runtime index to every row.
 */
int mc_query_summary(struct mc_query_totals *out, struct mc_query_runtime **rt, size_t *n, struct mc_index *ix);
void mc_query_runtimes_free(struct mc_query_runtime *v, size_t n);

/* One build attempt of a key. */
struct mc_query_build {
	int64_t id;
	int64_t started_ms, duration_ms;
	int ok;
	char *log_path; /* may be NULL */
};
/* The build history of key, oldest first (empty when it never built). */
int mc_query_builds(struct mc_index *ix, struct mc_query_build **out, size_t *n, const char *key);
void mc_query_builds_free(struct mc_query_build *v, size_t n);

/*
 * Finds the keys that what names, appending them to out (sorted), and says how
 * it matched in *how (may be NULL; static string):
 *   "runtime"  — a runtime name: the key its :latest points at, else its
 *                newest ready row;
 *   "tag"      — an image tag: "molcache/<runtime>:<key12>" or ":latest",
 *                with or without the "molcache/" part;
 *   "prefix"   — a key prefix (1..64 hex digits; case-insensitive).
 * Tried in that order; the first kind that matches anything wins, so a runtime
 * named like hex digits shadows key prefixes. At most limit keys are appended
 * (limit 0 = no cap). Nothing found is not an error: out stays empty and *how
 * is NULL.
 */
int mc_query_find(struct mc_index *ix, struct mc_strv *out, const char **how, const char *what, size_t limit);

#endif
