/*
 * run.h — inside cache/ only: the state of one ensure call (struct run) and
 * the steps its files share. ensure.c holds the pipeline (resolve → key →
 * index → fetch → context → engine) and defines the run_* steps below it;
 * template.c reads the template's files from the commit; failures.c keeps the
 * failure memory and the per-attempt build logs; share.c asks and feeds the
 * registry (fleet/); offline.c serves --offline.
 * The public surface stays ensure.h.
 */
#ifndef MC_RUN_H
#define MC_RUN_H

#include <stdio.h>

#include "../fleet/fleet.h"
#include "../util/events.h"
#include "ctx.h"

#define MAX_DOCKERFILE (1u << 20)
#define MAX_RUNTIME_VERSION 4096
#define DF_ASKED 1 /* cfg.dockerfile itself */
#define DF_LOWER 2 /* docker's fallback: "dockerfile" for a missing "Dockerfile" */

struct mc_ensure_opts;
struct mc_ensure_result;
struct mc_trace;

/* Everything one ensure call derives, in one place so the steps stay small. */
struct run {
	struct mc_ctx *ctx;
	const struct mc_ensure_opts *opts;
	const struct mc_emitter *ev; /* &opts->events */
	struct mc_index *ix;
	struct mc_engine *eng;
	const char *runtime;
	char *url;         /* prefix + runtime, may carry credentials: only for libgit2 */
	char *clean_url;   /* credential-free */
	char *clean_prefix;
	char *mirror;      /* repos/<sha256(clean_url)>.git */
	char *repo_lock;
	char *resolved_ref;
	const char *platform;
	char *platform_buf; /* owns platform when it came from the index or engine */
	char sha[41];
	char dfhash[65];
	int df_found;      /* the Dockerfile read (template.c): 0 not yet, DF_ASKED, DF_LOWER */
	const char *ignore_for; /* NULL: .dockerignore rules; else cfg.dockerfile, whose "<path>.dockerignore" does */
	char key[65];
	char legacy_key[65]; /* the key before build-arg values were hashed; "" without build args */
	char *tag;         /* molcache/<runtime>:<key12> */
	char *build_args;  /* canonical */
	unsigned fetched_objects;
	int fetch_begun;   /* a "fetch" phase_begin is out and wants its end */
	struct mc_fleet fleet; /* fleet sharing: .reg opened on a miss when configured */
	struct mc_fleet_claim claim; /* our build marker in the registry, while it stands */
};

/* ---- ensure.c ---- */

/* The row this run's inputs describe, without an image; its strings are
 * borrowed from r (never mc_entry_release it). */
void run_entry(struct mc_entry *e, const struct run *r);
/* Takes the mirror's lock and makes sure the mirror holds the commit; the lock
 * stays held on success (the caller reads the mirror, then releases it). */
int run_lock_and_fetch(struct run *r, struct mc_lock *lock);
/* Is e's image still in the engine (its key tag put back if only that was
 * removed)? 1 usable, 0 gone, < 0 engine error. */
int run_image_alive(struct run *r, const struct mc_entry *e, struct mc_image *img);
/* Serves a ready entry under its key lock: :latest, last use, latest pointer,
 * counter (may be NULL) and lease in one index transaction; fills out. */
int run_serve(struct run *r, const struct mc_entry *e, const struct mc_image *img, const char *counter,
	      struct mc_ensure_result *out);

/* ---- template.c: files molcache reads from the template's commit ---- */

/* path from the commit's tree under the repo lock (fetching if the mirror lost
 * the commit); MC_ENOTFOUND when the commit has no such file; a symlink or
 * oversized file is the template's fault (MC_EBUILD). */
int run_read_template_file(struct run *r, const char *path, size_t max, int follow, struct mc_buf *out);
/* The Dockerfile's real path in the tree and the ignore rules' text
 * (BuildKit's "<Dockerfile>.dockerignore", else .dockerignore; *has_ignore 0
 * when there is none; r->ignore_for says which), read under one repo lock. */
int run_build_inputs(struct run *r, char **df_path, struct mc_buf *ignore, int *has_ignore);
/* r->dfhash: sha256 of the commit's Dockerfile (with its own ignore file, if
 * it has one: mc_key_dockerfile_hash), remembered in the index. */
int run_dockerfile_hash(struct run *r);
/* The Dockerfile asked for (cfg.dockerfile), or, when the tree lacks a
 * "Dockerfile", its lowercase "dockerfile" as docker reads it; sets
 * r->df_found. MC_EBUILD naming the path when neither is there. */
int run_read_dockerfile(struct run *r, struct mc_buf *out);
/* The build args sent to the engine: the user's plus RUNTIME_VERSION from the
 * template's .runtime-version. */
int run_build_args(struct run *r, struct mc_strv *out);
/* MC_EINVAL from template content (a FROM line, an ignore pattern) becomes
 * the template's failure, MC_EBUILD; other codes pass through. */
int run_template_error(struct run *r, int ret);

/* ---- failures.c: failure memory and per-attempt logs ---- */

/* The build's output: the classic builder's lines as they are, BuildKit's
 * trace decoded into steps; all of it to the attempt's log and as events. */
struct run_build_log {
	struct run *r;
	FILE *f;
	struct mc_trace *trace;
};
/* logs/<key>.<n>.log for this attempt (malloc'd); the older ones beyond the
 * last few attempts go. */
char *run_attempt_log(struct run *r);
/* Opens the log file at path (a failure to open only loses the log) and the
 * trace decoder. */
void run_build_log_open(struct run_build_log *bl, struct run *r, const char *path);
/* The mc_build_progress_fn for mc_engine_build (ud = the run_build_log). */
void run_build_log_line(void *ud, char kind, const char *data);
/* Closes the log file (the trace stays for run_build_log_failed). */
void run_build_log_close(struct run_build_log *bl);
/* The failing BuildKit step and its last output lines into out. */
void run_build_log_failed(struct run_build_log *bl, struct mc_ensure_result *out);
void run_build_log_release(struct run_build_log *bl);
/* Before building, under the exclusive key lock: a key whose last build failed
 * fails at once (MC_EBUILD) until its next try; 0 to go on. */
int run_failure_gate(struct run *r, struct mc_ensure_result *out);
/* After a failed build (code, the error set): the row says failed, the
 * failure is remembered, and the message is set again with its hint (the log,
 * the backoff). tail: the engine's last lines. */
void run_build_failed(struct run *r, struct mc_ensure_result *out, int code, int64_t started, const char *log_path,
		      const struct mc_buf *tail);
/* After a failed step of a miss (code, the error set): if the cache root's
 * file system is full (or code is MC_ENOSPC), the error becomes MC_ENOSPC
 * "no space left on '<fs>'" with a hint to run gc and 1 is returned: nothing
 * is to be recorded against the template (no backoff). Else 0, nothing changes. */
int run_out_of_space(struct run *r, int code);

/* ---- share.c: fleet sharing, with r->fleet ---- */

/* Under the exclusive key lock, on a local miss: the key's image from the
 * registry (opened on first use when configured), checked, recorded and
 * served. 1 served, 0 not there (or the registry failed: warned), < 0 error. */
int run_share_fetch(struct run *r, struct mc_ensure_result *out);
/* After the failure gate, before building: waits while another host builds
 * the key (its marker in the registry), serving its image (1); else puts this
 * host's marker (pull-push) and returns 0 to build. < 0 error (MC_EINTR). */
int run_share_claim(struct run *r, struct mc_ensure_result *out);
/* After the push or a failed build (every path): this host's marker goes. */
void run_share_unclaim(struct run *r);
/* After a build: origin "built", and the image to the registry (pull-push). */
int run_share_push(struct run *r, const struct mc_ensure_result *out);
/* Before a build, with a registry and BuildKit: the inline-cache arg, and the
 * previous commit's image as cachefrom (seeds); *seed_ref a pulled copy. */
void run_share_seed(struct run *r, const struct mc_entry *e, struct mc_strv *args, struct mc_strv *seeds,
		    char **seed_ref);
/* After the build: the pulled seed's remote name goes; seeds released. */
void run_share_seed_release(struct run *r, struct mc_strv *seeds, char *seed_ref);

/* ---- offline.c ---- */

/* --offline: the newest ready entry built from this request's inputs but the
 * commit, whose image is still there. MC_ENOTFOUND, saying why, when none. */
int run_offline(struct run *r, struct mc_ensure_result *out);
/* The remote could not be reached: names --offline in the hint when it would
 * serve something (the error itself stays). */
void run_offline_hint(struct run *r);

#endif
