/*
 * ensure.h — the ensure pipeline: runtime → head commit → key → a tag that
 * exists in the engine, building on a miss. The handles it works with are a
 * struct mc_ctx (ctx.h); what it reports while it works are events
 * (util/events.h) sent through opts->events.
 *
 * Hit:  resolve (1 remote round trip) → key → index row (shared key lock) →
 *       engine inspect → retag :latest → touch.
 * Miss: exclusive key lock → re-read → adopt an image labelled with this
 *       root and key (a lost row) → with a registry, pull the key's
 *       remote tag if it is there and its labels match (fleet/fleet.h) →
 *       a recent failure of the key fails at once (unless retry) → fetch
 *       into the mirror (repo lock) → checkout into tmp/ → rename to
 *       trees/<key> → pre-pull FROM images → build (with a registry: inline
 *       cache, the previous commit's image as cachefrom) → row ready → tag
 *       :latest → push (mode pull-push).
 *
 * MOLECULE_IMAGE_REGISTRY (and no registry): pull the prebuilt
 * workspace-template-<runtime>:latest, tag :latest, nothing else.
 */
#ifndef MC_ENSURE_H
#define MC_ENSURE_H

#include <stdint.h>
#include "../util/events.h"
#include "ctx.h"

struct mc_ensure_opts {
	const char *runtime;  /* checked with mc_runtime_check before any I/O */
	int offline;          /* no remote: newest ready entry built from the same inputs but the commit */
	int retry;            /* build now even if the key's last build failed recently */
	int64_t lease_ms;     /* > 0: protect the returned entry from gc for this long */
	struct mc_emitter events; /* progress and warnings; fn may be NULL */
};

struct mc_ensure_result {
	char key[65];
	char *tag;      /* "molcache/<runtime>:<key12>", malloc'd */
	char *image_id; /* malloc'd */
	char *commit;   /* malloc'd */
	char *log_path; /* the build log, when a build ran (or failed); malloc'd */
	char *failed_step;            /* a failed BuildKit build: the step's name */
	struct mc_strv failed_output; /* … and its last output lines */
	int built;      /* 1 when this call built the image */
	int stale;      /* 1 when --offline served an entry without asking the remote */
};

/*
 * Runs the pipeline with the settings in ctx->cfg. Returns 0 and fills out, or
 * a negative code: MC_EINVAL (bad runtime/input), MC_EUNREACHABLE (remote
 * unreachable, authentication failed or ref missing), MC_EENGINE, MC_EBUILD
 * (no Dockerfile, a FROM image could not be pulled, the build failed),
 * MC_ELOCKED (lock wait timed out), MC_ENOTFOUND (--offline: no ready entry
 * built from these inputs has its image). MC_EUNREACHABLE's hint names
 * --offline when that would serve an entry.
 */
int mc_ensure(struct mc_ctx *ctx, const struct mc_ensure_opts *opts, struct mc_ensure_result *out);
void mc_ensure_result_release(struct mc_ensure_result *r);

/*
 * What the next ensure with these settings would use, without building or
 * touching anything (it may fetch once to learn a new commit's Dockerfile
 * hash): out gets every key input, the key and the tag (image_id, state, sizes
 * unset; release with mc_entry_release). *cached is 1 when a ready entry with
 * a live image exists for the key. Errors as for mc_ensure.
 */
int mc_ensure_inputs(struct mc_ctx *ctx, const struct mc_ensure_opts *opts, struct mc_entry *out, int *cached);

#endif
