/*
 * fleet.h — sharing builds between hosts through an OCI registry
 * (docs/fleet.md), and the image labels that make a row of an image anywhere.
 * ensure calls these on a local miss; they talk to the registry (registry.h)
 * to look, and to the engine (engine.h) to pull and push, so that BuildKit and
 * the engine's auth stay where they are. fleet knows nothing of cache/: the
 * caller lends its handles and settings in a struct mc_fleet.
 *
 * Remote name: <registry>/<runtime>:<key>, the full 64-hex key as the tag.
 * A pulled image is served only if its labels name this key and every key
 * input (runtime, repo prefix, commit, Dockerfile path and hash, platform,
 * build args) and its platform is the one asked for; else it is removed by
 * name and the key is built here. A registry that fails never fails ensure
 * (one warning, a local build) unless required is set: then MC_EUNREACHABLE
 * (exit 3) with a hint. Hosts that miss one key at once build it once: a
 * marker tag in the registry says who builds, the others wait (marker.c,
 * mc_fleet_claim below).
 *
 * Counters (index): registry_hits, registry_misses, registry_errors,
 * registry_refused, pushes, push_failures, compat_pulls, fleet_waits,
 * fleet_wait_hits. Where an entry came
 * from is kept in meta "origin:<key>" (built, pulled, adopted): mc_fleet_origin().
 */
#ifndef MC_FLEET_H
#define MC_FLEET_H

#include "../engine/engine.h"
#include "../store/names.h"
#include "../store/store.h"
#include "../util/events.h"
#include "registry.h"

/*
 * What the sharing calls work with, filled by the caller (cache/ensure.c):
 * handles it owns and lends, and plain settings. Nothing here is freed by
 * fleet.
 */
struct mc_fleet {
	struct mc_index *ix;
	struct mc_engine *eng;
	struct mc_registry *reg;     /* NULL: no registry (mc_fleet_cache_from looks locally only) */
	int required;                /* registry_required: a registry failure is an error (exit 3) */
	int down;                    /* set by mc_fleet_pull when the registry failed (warned): push and
				      * registry seeds are then skipped, so a lost registry costs one warning */
	int refused;                 /* set by mc_fleet_pull when the key's tag held an image it refused
				      * (warned): mc_fleet_claim then puts no marker and builds */
	const struct mc_emitter *ev; /* progress and warnings; may be NULL */
};

/* "<registry name>/<runtime>" inside the registry, e.g. "team/mc/claude-code"
 * (malloc'd), and the full reference "<host>/<that>:<key>". */
char *mc_fleet_repo(const struct mc_registry *reg, const char *runtime);
/* A registry that failed lately (remembered in the index) is skipped for a
 * backoff, 30 s doubling to 10 min: 1 with one warning and f->down set, else
 * 0. Never with --registry-required. */
int mc_fleet_backoff(struct mc_fleet *f);
char *mc_fleet_ref(const struct mc_registry *reg, const char *runtime, const char *key);

/*
 * On a local miss: is e's key in f->reg? If so, pull it through the engine
 * (X-Registry-Auth, e->platform), check its labels and platform (root_id
 * aside: another host's root built it), tag it as e->image_tag and drop the
 * remote name. 1 with image_id (80 bytes) set: the image is local and
 * trusted. 0: not there, refused (warned) or the registry failed (warned,
 * f->down set, unless required). < 0: an error (registry required, engine
 * error).
 */
int mc_fleet_pull(struct mc_fleet *f, const struct mc_entry *e, char image_id[80]);

/* After a build: tag e->image_id as the remote name, push it to f->reg
 * (progress and outcome as events), drop the remote name. A failure is a
 * warning (0), unless required. Counts pushes / push_failures. */
int mc_fleet_push(struct mc_fleet *f, const struct mc_entry *e);

/*
 * Partial sharing: a ready image of the same runtime, repo prefix, Dockerfile
 * path and platform but another commit, offered to BuildKit as cachefrom.
 * The newest such local entry whose image is alive; else (f->reg set and not
 * down) the newest such image in the registry (by its config's created time),
 * pulled first (BuildKit without a session cannot authenticate). Appends refs
 * to out; *pulled_ref (malloc'd, may stay NULL) names a pulled copy to untag
 * after the build. Never fails the build: problems are warnings.
 */
void mc_fleet_cache_from(struct mc_fleet *f, const struct mc_entry *e, struct mc_strv *out, char **pulled_ref);

/*
 * MOLECULE_IMAGE_REGISTRY compatibility, f->reg opened on that registry: pull
 * <registry>/workspace-template-<runtime>:latest (for platform, may be NULL),
 * tag it molcache/<runtime>:latest, build nothing. *tag and *image_id
 * (malloc'd) are set on success. Errors: MC_EUNREACHABLE (pull failed),
 * MC_EENGINE.
 */
int mc_fleet_compat(struct mc_fleet *f, const char *runtime, const char *platform, char **tag, char **image_id);

/* Where key's image came from: "built", "pulled" or "adopted" (malloc'd);
 * "built" when nothing was recorded (entries older than fleet sharing). */
char *mc_fleet_origin(struct mc_index *ix, const char *key);
int mc_fleet_origin_set(struct mc_index *ix, const char *key, const char *origin);

/* ---- one build per key across the fleet (marker.c; docs/fleet.md, "A fleet-wide single build") ----
 *
 * Before building a key that the registry lacks, a pull-push host puts a
 * marker, the tag "<key>.building" in the key's repository (a tiny OCI
 * manifest whose annotations say who builds and until when), re-reads it
 * after MC_MARKER_SETTLE_MS, and builds only if its own marker stands.
 * Another host that finds a fresh marker waits for the key's tag (polling 1 s
 * doubling to 10 s, at most until the marker expires, interruptible by
 * SIGINT/SIGTERM) and pulls it with mc_fleet_pull; a marker that expires or
 * goes without the tag is taken over. The builder removes its marker after
 * its push (or its failed build), only while the tag still names its digest.
 */

#define MC_MARKER_SUFFIX ".building"
#define MC_MARKER_CONFIG_TYPE "application/vnd.molcache.marker.v1+json"
#define MC_MARKER_SETTLE_MS 1000
/* The marker's lifetime: 2 × the last recorded build of the runtime, at least
 * MIN, at most MAX; DEFAULT when none is recorded. */
#define MC_MARKER_TTL_DEFAULT_MS (15 * 60 * 1000)
#define MC_MARKER_TTL_MIN_MS (60 * 1000)
#define MC_MARKER_TTL_MAX_MS (2 * 60 * 60 * 1000)

/* What a marker says (its annotations "molcache.marker.*"); times are the
 * builder's clock. */
struct mc_marker {
	char *key;
	char *host;        /* "<hostname> (root <id12>, pid <pid>)" */
	char *nonce;       /* 32 random hex: every marker's bytes, so its digest, differ */
	int64_t started_ms, expires_ms, ttl_ms;
};
void mc_marker_release(struct mc_marker *m);
/* Pure: the marker's config blob (JSON of every field) and its OCI image
 * manifest (application/vnd.oci.image.manifest.v1+json: config of
 * MC_MARKER_CONFIG_TYPE, no layers, the fields again as annotations, so that
 * a GET of the manifest alone reads them). malloc'd. */
char *mc_marker_config_json(const struct mc_marker *m);
char *mc_marker_manifest_json(const struct mc_marker *m, const char *config_digest, size_t config_size);
/* The marker in a manifest's annotations: 0, or MC_EINVAL when it is none
 * (a key that is no 64-hex key, a host or nonce that is not printable ASCII
 * of at most 200 and 64 bytes, unreadable times). */
int mc_marker_parse(struct mc_marker *out, json_t *manifest);
/* Pure: the lifetime for a runtime whose last build took last_build_ms (<= 0:
 * none recorded). */
int64_t mc_marker_ttl(int64_t last_build_ms);
/* Pure: how long a host that sees m at now_ms (its own clock) waits at most:
 * until m's expiry, never longer than m's ttl (a builder's clock ahead of ours
 * cannot make us wait longer than its lifetime), nor MC_MARKER_TTL_MAX_MS
 * whatever the marker says; 0 when expired. */
int64_t mc_marker_wait_ms(const struct mc_marker *m, int64_t now_ms);
/* Pure: the pause before poll n (n >= 1): 1 s doubling, at most 10 s. */
int64_t mc_marker_poll_ms(int64_t n);
/* 2 × the newest recorded build of runtime in the index, as mc_marker_ttl. */
int64_t mc_fleet_marker_ttl(struct mc_index *ix, const char *runtime);

/* A claim on a key's build: the marker this host put, while it stands. */
struct mc_fleet_claim {
	char *repo;
	char *tag;          /* "<key>.building" */
	char digest[80];    /* our marker's manifest digest; "" when we hold none */
	int64_t expires_ms; /* our marker's expiry (for the warning when it stays) */
};
/*
 * After mc_fleet_pull found no image for e and before building it (f->reg set,
 * not down): waits while another host's fresh marker stands, else puts ours
 * (only when may_mark: registry_mode pull-push) for ttl_ms, who naming this
 * host. 1 with image_id (80 bytes): the other host's image appeared and was
 * pulled and checked (counter fleet_wait_hits). 0: build here (c->digest set
 * when our marker stands). A registry fault degrades as in mc_fleet_pull (one
 * warning, f->down, a local build; the error when required); a marker write
 * the registry answers with an HTTP error other than 401/403 (MC_EINVAL: a
 * manifest it does not take, read-only, a failing write path) is one warning
 * and a build without a marker, pushed as usual. < 0: MC_EINTR, required, engine
 * errors. Counters: fleet_waits, fleet_wait_hits. Release c with
 * mc_fleet_unclaim in every case.
 */
int mc_fleet_claim(struct mc_fleet *f, const struct mc_entry *e, const char *who, int may_mark, int64_t ttl_ms,
		   struct mc_fleet_claim *c, char image_id[80]);
/* After the push (or a failed build): our marker goes, only if the tag still
 * names its digest (tag DELETE where the registry can, else DELETE by
 * digest); a failure is a warning (it expires). Keeps the current error. */
void mc_fleet_unclaim(struct mc_fleet *f, struct mc_fleet_claim *c);

/* Inside fleet/ only (marker.c): the registry failed while doing (the error
 * is set), t0 the mc_mono_ms() the request began: f->down set, one warning and
 * a local build (0), or the error (exit 3) when required; a slow failure
 * starts the backoff. */
int mc_fleet_degrade(struct mc_fleet *f, const char *doing, int64_t t0);

/* ---- image names and labels (labels.c; docs/json.md, "Image labels") ---- */

/* mc_image_repo ("<ns>/<runtime>") and the tag namespace: store/names.h. */

/* Appends "name=value" labels for every key input of e and the root id. */
void mc_labels_of_entry(struct mc_strv *out, const struct mc_entry *e, const char *root_id);
/* The label a build adds with its time (RFC 3339 UTC, ms): what gc --registry
 * ages by. Not a key input. */
#define MC_LABEL_BUILT "molcache.built"

/*
 * A ready row from one image of mc_engine_image_list() (id, created, size,
 * labels): its inputs from the labels, image id and size from the engine,
 * trees/<key> under trees_dir when that directory exists, last use now_ms.
 * The key is derived again from the labelled inputs and must equal the
 * molcache.key label: MC_EINVAL (message says why) for an image whose labels
 * are incomplete (built before they carried every input) or disagree.
 */
int mc_entry_from_image(struct mc_entry *out, const struct mc_image *image, const char *trees_dir, int64_t now_ms);

/* ---- gc --registry ---- */

struct mc_fleet_gc_item {
	char *repo;   /* in the registry */
	char *tag;    /* the key */
	char *digest;
	int64_t created_ms;
	int deleted;  /* 1 deleted (or would be, dry run) */
	int by_tag;   /* deleted as the tag alone (the registry deletes tags: distribution-spec 1.1) */
	struct mc_strv also_tagged; /* other tags naming the digest: kept when the registry
				     * deletes only by digest (deleted 0, no error) */
	char *error;  /* NULL or why it was not */
	char *hint;   /* NULL or the next step for error (405: storage.delete.enabled) */
};
struct mc_fleet_gc_report {
	struct mc_fleet_gc_item *items; /* tags molcache made, older than max age */
	size_t n;
	int64_t scanned;  /* tags looked at */
	int64_t skipped;  /* tags that were not molcache's (no molcache.key label naming the tag) */
	int64_t undated;  /* molcache's, but with no molcache.built label (pushed before it): kept */
	int64_t markers;  /* build markers ("<key>.building") expired twice over: deleted (or would be) */
};
void mc_fleet_gc_report_release(struct mc_fleet_gc_report *r);
/*
 * Every repository under the registry's path, every 64-hex tag whose image's
 * labels name it as molcache.key, built more than max_age_ms ago by its
 * molcache.built label (never the config's created time, which BuildKit
 * carries over from cached steps; a tag without the label is kept): unless
 * dry_run, the tag is deleted and nothing else. DELETE /v2/<name>/manifests/
 * <tag> where the registry deletes a tag alone; else (Distribution 2.x) DELETE
 * …/<digest>, but only when no other tag of the repository names that digest
 * (each tag's HEAD Docker-Content-Digest): otherwise the tag is kept and
 * also_tagged names the others. A dry run fills also_tagged for every item.
 * A build marker (marker.c) whose expiry lies further back than its lifetime
 * (so clock skew up to that lifetime cannot make it fresh anywhere) is deleted
 * by its digest, which names that marker alone; a marker that cannot be
 * deleted is left to the next run, not an error.
 */
int mc_fleet_gc(struct mc_registry *reg, int64_t max_age_ms, int dry_run, int64_t now_ms,
		struct mc_fleet_gc_report *out);

#endif
