/*
 * store.h — where molcache keeps its state: the cache root (XDG), the SQLite
 * index, and per-key flock(2) locks. Knows nothing about Docker or git.
 *
 * Call sequence: mc_paths_resolve() → mc_paths_create() → mc_index_open() →
 * queries … → mc_index_free(); mc_paths_release().
 *
 * Where it lives: paths.c, lock.c; the index in index.c (open, schema,
 * migrations, transactions), entries.c (entry rows, states, lists), meta.c
 * (counters, Dockerfile hashes, meta, the root id, :latest), records.c (build
 * attempts, failures, leases, gc runs, image layers), sharing the store-internal
 * index_impl.h; read-only views in query.h; keys and names in key.h, names.h.
 */
#ifndef MC_STORE_H
#define MC_STORE_H

#include <stdint.h>
#include "../util/mc_util.h"

/* ---- paths -------------------------------------------------------------- */

struct mc_paths {
	char *root;  /* the cache root, absolute */
	char *index; /* root/index.db */
	char *repos; /* root/repos */
	char *trees; /* root/trees */
	char *locks; /* root/locks */
	char *tmp;   /* root/tmp */
	char *logs;  /* root/logs */
};

/*
 * Resolves the root: $MOLCACHE_HOME, else $MOLECULE_LOCAL_BUILD_CACHE, else
 * $XDG_CACHE_HOME/molcache, else $HOME/.cache/molcache. Relative values are
 * made absolute against the working directory. Fails (MC_EINVAL) when none of
 * them is set. Touches no file.
 */
int mc_paths_resolve(struct mc_paths *out);
/* Creates the root and its subdirectories with mode 0700 (the root is chmod'ed
 * to 0700 when molcache created it). */
int mc_paths_create(const struct mc_paths *p);
void mc_paths_release(struct mc_paths *p);

/* ---- locks -------------------------------------------------------------- */

enum mc_lock_mode { MC_LOCK_SHARED, MC_LOCK_EXCLUSIVE };

struct mc_lock {
	int fd; /* -1 when not held */
};
#define MC_LOCK_INIT { -1 }

/*
 * Takes flock(2) on path (created 0600 if missing). timeout_ms: 0 = try once,
 * < 0 = wait forever, > 0 = wait up to that long. MC_ELOCKED when not taken.
 * The kernel drops the lock when the process dies.
 */
int mc_lock_take(struct mc_lock *out, const char *path, enum mc_lock_mode mode, int timeout_ms);
/* Is anybody holding path (any mode)? 1 yes, 0 no (also when the file is
 * missing); never blocks. < 0 only when the file exists but cannot be opened. */
int mc_lock_busy(const char *path);
void mc_lock_release(struct mc_lock *l);
/* locks/<key>.lock — malloc'd. */
char *mc_lock_path_key(const struct mc_paths *p, const char *key);
/* locks/root.lock — malloc'd: every process with the index open holds it
 * shared; doctor --repair takes it exclusive before it moves the index aside,
 * so no live process is cut off from the index it writes. */
char *mc_lock_path_root(const struct mc_paths *p);
/* locks/gc.lock — malloc'd: one gc at a time. */
char *mc_lock_path_gc(const struct mc_paths *p);
/* The lock serialising fetches into one mirror: locks/repo-<sha256 of the clean URL>.lock. */
char *mc_lock_path_repo(const struct mc_paths *p, const char *url_hash);

/* ---- index -------------------------------------------------------------- */

enum mc_state { MC_STATE_BUILDING = 0, MC_STATE_READY = 1, MC_STATE_FAILED = 2, MC_STATE_EVICTING = 3 };
const char *mc_state_name(int state);

/* One cached key. Strings are owned (mc_entry_release frees them); NULL = unset. */
struct mc_entry {
	char *key;             /* 64 hex */
	char *runtime;
	char *repo_prefix;     /* never with a credential */
	char *ref;             /* as asked ("" = default branch) */
	char *head_sha;
	char *dockerfile_path;
	char *dockerfile_hash;
	char *platform;
	char *build_args;      /* canonical: sorted "K=V" lines joined by '\n' */
	char *image_tag;       /* e.g. molcache/claude-code:<key12> */
	char *image_id;        /* sha256:… */
	char *tree_path;       /* absolute, under root/trees */
	int state;
	int64_t tree_bytes, image_bytes;
	int64_t created_ms, last_used_ms, build_ms;
	int64_t use_count;
};

struct mc_index;

/* Opens (creating) the index: WAL, busy timeout 10 s (no foreign keys: rows
 * point at keys loosely, and gc tidies what dangles), forward
 * migrations to the current schema inside one transaction. A newer schema than
 * this binary knows is an error (MC_EINVAL) with a hint. Index errors say
 * "index '<path>': <what>: <SQLite's words>"; a busy timeout that ran out is
 * MC_ELOCKED, "index '<path>' is busy: …", permission denied MC_EACCES. */
int mc_index_open(struct mc_index **out, const char *path);
/*
 * Opens an existing index for reading only (SQLITE_OPEN_READONLY), so the
 * views work on a read-only file system or another user's readable root; when
 * SQLite cannot even map the WAL's -shm there, it reads the main file alone
 * (immutable=1: what sits in the WAL uncheckpointed is not seen). Nothing is
 * created or migrated: MC_ENOTFOUND when there is no file, or its schema is
 * older than this binary's (only a writable open migrates); a newer schema is
 * MC_EINVAL as for mc_index_open. Writes through it fail.
 */
int mc_index_open_readonly(struct mc_index **out, const char *path);
/*
 * Is the index file at path damaged? Opens it read-only (no migration) and
 * runs PRAGMA integrity_check. 1 when SQLite calls it corrupt or not a
 * database (SQLITE_CORRUPT, SQLITE_NOTADB) or the check finds problems, with
 * the damage as the error message; 0 when sound, whatever its schema version;
 * < 0 when that cannot be told (busy, permission, …: error set). What
 * doctor --repair moves aside is only what this calls damaged.
 */
int mc_index_damaged(const char *path);
void mc_index_free(struct mc_index *ix);
/* How long a statement waits for another process's write lock: ms, or < 0 for
 * the default (10 s). A hit's bookkeeping waits briefly and is then skipped. */
void mc_index_busy_wait(struct mc_index *ix, int ms);
/* The schema version this binary writes. */
int mc_index_schema_version(void);

/* MC_ENOTFOUND when absent. */
int mc_index_get(struct mc_index *ix, struct mc_entry *out, const char *key);
/* Inserts or replaces every column of e (by key). */
int mc_index_put(struct mc_index *ix, const struct mc_entry *e);
/* MC_ENOTFOUND when key is absent (also for touch). */
int mc_index_set_state(struct mc_index *ix, const char *key, int state);
/* last_used_ms = now_ms, use_count += 1. */
int mc_index_touch(struct mc_index *ix, const char *key, int64_t now_ms);
/* Deleting an absent key succeeds. */
int mc_index_delete(struct mc_index *ix, const char *key);
/* The ready entry of runtime with the greatest last_used_ms; MC_ENOTFOUND. */
int mc_index_newest_ready(struct mc_index *ix, struct mc_entry *out, const char *runtime);
/* Every entry (runtime NULL = all), ordered by last_used_ms descending.
 * *out is a malloc'd array of *n entries; free with mc_entries_free. */
int mc_index_list(struct mc_index *ix, struct mc_entry **out, size_t *n, const char *runtime);
void mc_entry_release(struct mc_entry *e);
void mc_entries_free(struct mc_entry *v, size_t n);
/* The ready entries of runtime, newest built first (created_ms descending,
 * then last use, then key): the candidates of ensure --offline, which serves
 * the first whose inputs match. Free with mc_entries_free. */
int mc_index_list_ready(struct mc_index *ix, struct mc_entry **out, size_t *n, const char *runtime);

/* Named counters: "hits", "misses", "builds", "build_failures", … */
int mc_index_counter_add(struct mc_index *ix, const char *name, int64_t delta);
/* 0 when never set. */
int mc_index_counter_get(struct mc_index *ix, const char *name, int64_t *out);

/* A commit's tree never changes, so (repo url, commit, dockerfile path) →
 * sha256 of the Dockerfile is remembered: a hit needs no fetch. repo_url is
 * credential-free. get: MC_ENOTFOUND when unknown; out is 65 bytes. */
int mc_index_dfhash_get(struct mc_index *ix, char out[65], const char *repo_url, const char *commit,
			const char *path);
int mc_index_dfhash_put(struct mc_index *ix, const char *repo_url, const char *commit, const char *path,
			const char *hash);

/* A named fact kept between runs (e.g. "engine-platform:<socket>"). get:
 * MC_ENOTFOUND when unset, else *out is malloc'd. */
int mc_index_meta_get(struct mc_index *ix, char **out, const char *name);
int mc_index_meta_put(struct mc_index *ix, const char *name, const char *value);

/*
 * The cache root's identity, the molcache.root label on every image it
 * builds: made once at random and kept in meta "root-id", never derived from
 * the path (one root is reachable by many paths). legacy (may be NULL) is used
 * instead of a random id when the index was upgraded to schema 5 with entries
 * in it (they predate ids), so that their images stay this root's. Concurrent
 * first calls agree.
 * out: the id (at most 64 chars) + NUL.
 */
int mc_index_root_id(struct mc_index *ix, char out[65], const char *legacy);
/* The identity a root had before ids were random (the first 16 hex digits of
 * sha256(root path)): an index upgraded from then keeps it, so the images it
 * labelled stay its own. New roots get a random id (mc_index_root_id). */
void mc_root_id_legacy(char out[17], const char *root);
/* The meta name that holds it (doctor --repair restores it from the labels). */
#define MC_META_ROOT_ID "root-id"
/* meta "origin:<key>": "built", "pulled" (from a registry) or "adopted"
 * (fleet/fleet.h); gc removes a pulled image's tags though another root's id
 * labels it. */
#define MC_META_ORIGIN_PREFIX "origin:"

/* Runs PRAGMA integrity_check; 0 when "ok", MC_ERR with the problems (and
 * MC_INDEX_REPAIR_HINT), MC_ELOCKED when busy. */
int mc_index_check(struct mc_index *ix);

/* Appends one build attempt to the history (ok: 1 built, 0 failed; log_path
 * may be NULL). */
int mc_index_build_record(struct mc_index *ix, const char *key, int64_t started_ms, int64_t duration_ms,
			  int ok, const char *log_path);

/* ---- latest pointers, leases, gc runs (schema v2) ------------------------ */

/* The entry that molcache/<runtime>:latest points at. */
int mc_index_latest_set(struct mc_index *ix, const char *runtime, const char *key);
int mc_index_latest_get(struct mc_index *ix, char out[65], const char *runtime); /* MC_ENOTFOUND */
/* Appends every runtime's latest key to out (sorted, no duplicates): what gc protects. */
int mc_index_latest_all(struct mc_index *ix, struct mc_strv *out);

/* A lease protects key from gc until until_ms (ensure --lease DUR). Extends, never shortens. */
int mc_index_lease_put(struct mc_index *ix, const char *key, int64_t until_ms);
/* *out_until_ms = the lease's end, 0 when key has none. Expired leases are returned as
 * they are: a lease is valid while until_ms > now, which the caller checks. */
int mc_index_lease_get(struct mc_index *ix, const char *key, int64_t *out_until_ms);
struct mc_lease {
	char *key;
	int64_t until_ms;
};
/* Leases with until_ms > now_ms, ordered by key. Free with mc_leases_free. */
int mc_index_leases_active(struct mc_index *ix, struct mc_lease **out, size_t *n, int64_t now_ms);
void mc_leases_free(struct mc_lease *v, size_t n);
/* Drops key's lease (molcache lease --release); MC_ENOTFOUND when it has none. */
int mc_index_lease_delete(struct mc_index *ix, const char *key);
/* Drops leases that ran out before now_ms (gc does this each run). */
int mc_index_leases_expire(struct mc_index *ix, int64_t now_ms);

/* One gc run as recorded for `status`. detail: a JSON object (owned; may be NULL). */
struct mc_gc_run {
	int64_t id;
	int64_t started_ms, duration_ms;
	int64_t evicted, bytes_freed, errors;
	char *detail;
};
/* Appends a run; out_id (may be NULL) gets its id. */
int mc_index_gc_record(struct mc_index *ix, int64_t *out_id, const struct mc_gc_run *run);
/* The most recent run (greatest started_ms, then id); MC_ENOTFOUND when gc never ran. */
int mc_index_last_gc(struct mc_index *ix, struct mc_gc_run *out);
void mc_gc_run_release(struct mc_gc_run *r);

/* Sets tree_path NULL and tree_bytes 0 (the tree vanished; the image stays).
 * MC_ENOTFOUND when key is absent. */
int mc_index_drop_tree(struct mc_index *ix, const char *key);

/* The SQLite handle (owned by ix) for read-only views (store/query.c); the
 * schema is the index's contract, so nothing outside store/ should write through it. */
struct sqlite3;
struct sqlite3 *mc_index_db(struct mc_index *ix);

/* ---- recovery and failure memory ------------------------------------------- */

/* The hint every command gives when the index file is damaged. */
#define MC_INDEX_REPAIR_HINT "run 'molcache doctor --repair': it moves the damaged index aside and rebuilds it from the engine's image labels"
/* 1 when an SQLite result code means the file is damaged or not a database
 * (SQLITE_CORRUPT, SQLITE_NOTADB): the error then carries MC_INDEX_REPAIR_HINT. */
int mc_index_rc_corrupt(int sqlite_rc);
/* *out = 1 when entries holds no row. */
int mc_index_has_entries(struct mc_index *ix, int *out);
/* Stores id as the root id unless one is there already (concurrent callers
 * agree: the first wins); out gets the id in force. force: replace any id. */
int mc_index_root_id_claim(struct mc_index *ix, char out[65], const char *id, int force);
/* How many build attempts of key the history holds (the next log's number - 1). */
int mc_index_build_count(struct mc_index *ix, const char *key, int64_t *out);

/* A key whose last build failed (table failures): until next_ms, ensure fails
 * at once with what is saved here instead of building again. */
struct mc_failure {
	char *key;
	int64_t count;   /* failed attempts in a row */
	int64_t last_ms; /* when the last one failed */
	int64_t next_ms; /* no new attempt before this, unless --retry */
	char *step;      /* the failing step (may be NULL) */
	char *output;    /* its last output lines, '\n'-joined (may be NULL) */
	char *log_path;  /* the attempt's log (may be NULL) */
};
/* MC_ENOTFOUND when key has no failure on record. */
int mc_index_failure_get(struct mc_index *ix, struct mc_failure *out, const char *key);
/* Inserts or replaces the row of f->key. */
int mc_index_failure_put(struct mc_index *ix, const struct mc_failure *f);
/* A success forgets the failures; clearing an absent key succeeds. */
int mc_index_failure_clear(struct mc_index *ix, const char *key);
void mc_failure_release(struct mc_failure *f);

/* Groups writes into one transaction. begin takes the write lock at once
 * (BEGIN IMMEDIATE, waiting up to the busy timeout: MC_ELOCKED); rollback is a
 * no-op outside a transaction. Without begin, every call commits by itself. */
int mc_index_begin(struct mc_index *ix);
int mc_index_commit(struct mc_index *ix);
void mc_index_rollback(struct mc_index *ix);

/* ---- image layers (schema v5) -------------------------------------------- */

/* An image's layers never change, so gc remembers them by image id (layers is
 * gc's text, opaque here) and asks the engine only about ids it never saw. */
struct mc_image_layers {
	char *image_id;
	char *layers;
};
/* Every remembered image, ordered by image_id (strcmp order). Free with mc_image_layers_free. */
int mc_index_image_layers_all(struct mc_index *ix, struct mc_image_layers **out, size_t *n);
void mc_image_layers_free(struct mc_image_layers *v, size_t n);
/* Inserts or replaces. */
int mc_index_image_layers_put(struct mc_index *ix, const char *image_id, const char *layers);
/* Forgetting an unknown id succeeds. */
int mc_index_image_layers_delete(struct mc_index *ix, const char *image_id);

#endif
