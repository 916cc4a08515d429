/*
 * fleet.h — sharing builds between hosts through an OCI registry
 * (docs/fleet.md). ensure calls these on a local miss; they talk to the
 * registry (registry.h) to look, and to the engine (engine.h) to pull and
 * push, so that BuildKit and the engine's auth stay where they are.
 *
 * Remote name: <registry>/<runtime>:<key>, the full 64-hex key as the tag.
 * A pulled image is served only if its labels name this key and every key
 * input (runtime, repo prefix, commit, Dockerfile path and hash, platform,
 * build args) and its platform is the one asked for; else it is removed by
 * name and the key is built here. A registry that fails never fails ensure
 * (one warning, a local build) unless registry_required is set: then
 * MC_EUNREACHABLE (exit 3) with a hint.
 *
 * Counters (index): registry_hits, registry_misses, registry_errors,
 * registry_refused, pushes, push_failures, compat_pulls. Where an entry came
 * from is kept in meta "origin:<key>" (built, pulled, adopted): mc_fleet_origin().
 */
#ifndef MC_FLEET_H
#define MC_FLEET_H

#include "../cache/ensure.h"
#include "registry.h"

/* The registry of ctx's config, or *out NULL when none is set or the mode is
 * off (0). Opens it once per ctx call; the caller frees it. */
int mc_fleet_registry(struct mc_registry **out, const struct mc_config *cfg);

/* "<registry name>/<runtime>" inside the registry, e.g. "team/mc/claude-code"
 * (malloc'd), and the full reference "<host>/<that>:<key>". */
char *mc_fleet_repo(const struct mc_registry *reg, const char *runtime);
char *mc_fleet_ref(const struct mc_registry *reg, const char *runtime, const char *key);

/*
 * On a local miss: is e's key in the registry? If so, pull it through the
 * engine (X-Registry-Auth, e->platform), check its labels and platform
 * (root_id aside: another host's root built it), tag it as e->image_tag and
 * drop the remote name. 1 with image_id (80 bytes) set: the image is local
 * and trusted. 0: not there, refused (warned) or the registry failed (warned,
 * unless required). < 0: an error (registry required, engine error).
 */
int mc_fleet_pull(struct mc_ctx *ctx, struct mc_registry *reg, const struct mc_entry *e,
		  const struct mc_ensure_opts *opts, char image_id[80], int *down);
/* *down is set to 1 when the registry failed (the warning is out): push and
 * cachefrom lookups are then skipped, so a lost registry costs one warning. */

/* After a build: tag e->image_id as the remote name, push it (progress and
 * outcome as events), drop the remote name. A failure is a warning (0),
 * unless required. Counts pushes / push_failures. */
int mc_fleet_push(struct mc_ctx *ctx, struct mc_registry *reg, const struct mc_entry *e,
		  const struct mc_ensure_opts *opts);

/*
 * Partial sharing: a ready image of the same runtime, repo prefix, Dockerfile
 * path and platform but another commit, offered to BuildKit as cachefrom.
 * The newest such local entry whose image is alive; else the newest such
 * image in the registry (by its config's created time), pulled first (BuildKit
 * without a session cannot authenticate). Appends refs to out; *pulled_ref
 * (malloc'd, may stay NULL) names a pulled copy to untag after the build.
 * Never fails the build: problems are warnings.
 */
void mc_fleet_cache_from(struct mc_ctx *ctx, struct mc_registry *reg, const struct mc_entry *e,
			 const struct mc_ensure_opts *opts, struct mc_strv *out, char **pulled_ref);

/*
 * MOLECULE_IMAGE_REGISTRY compatibility: pull
 * <registry>/workspace-template-<runtime>:latest, tag it molcache/<runtime>:latest,
 * build nothing. out gets tag and image_id. Errors: MC_EUNREACHABLE (pull failed).
 */
int mc_fleet_compat(struct mc_ctx *ctx, const struct mc_ensure_opts *opts, struct mc_ensure_result *out);

/* Where key's image came from: "built", "pulled" or "adopted" (malloc'd);
 * "built" when nothing was recorded (entries older than fleet sharing). */
char *mc_fleet_origin(struct mc_index *ix, const char *key);
int mc_fleet_origin_set(struct mc_index *ix, const char *key, const char *origin);

/* ---- gc --registry ---- */

struct mc_fleet_gc_item {
	char *repo;   /* in the registry */
	char *tag;    /* the key */
	char *digest;
	int64_t created_ms;
	int deleted;  /* 1 deleted (or would be, dry run) */
	char *error;  /* NULL or why it was not */
};
struct mc_fleet_gc_report {
	struct mc_fleet_gc_item *items; /* tags molcache made, older than max age */
	size_t n;
	int64_t scanned;  /* tags looked at */
	int64_t skipped;  /* tags that were not molcache's (no molcache.key label naming the tag) */
};
void mc_fleet_gc_report_release(struct mc_fleet_gc_report *r);
/* Every repository under the registry's path, every 64-hex tag whose image's
 * labels name it as molcache.key, created more than max_age_ms ago: DELETE
 * /v2/<name>/manifests/<digest> unless dry_run. */
int mc_fleet_gc(struct mc_registry *reg, int64_t max_age_ms, int dry_run, int64_t now_ms,
		struct mc_fleet_gc_report *out);

#endif
