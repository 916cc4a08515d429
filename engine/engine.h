/*
 * engine.h — the Docker Engine API client: molcache's only way to a Docker
 * engine (images, builds, pulls and pushes), over the engine's socket with
 * libcurl and JSON with jansson. Never runs the docker CLI or buildx. Only
 * engine/ knows the API's paths and JSON shapes; the rest of molcache sees
 * the structs and calls below.
 *
 * Call sequence:
 *
 *	struct mc_engine *e;
 *	if (mc_engine_open(&e, getenv("DOCKER_HOST")))   pings, negotiates the version
 *		… report mc_error_msg() and mc_error_hint_msg()
 *	mc_engine_image_inspect(e, "repo:tag", &img) / _list / _tag / _remove …
 *	mc_engine_build(e, &req, id, &log)               a miss: build from a context
 *	mc_engine_image_pull / _push                     fleet sharing
 *	mc_engine_free(e);
 *
 * mc_engine_open() pings and negotiates the API version once per process
 * (min(ours=1.41, theirs), refusing below 1.39) and learns whether BuildKit
 * can be used; the native platform is asked for on first use. Every call then
 * reuses one curl handle (keep-alive). A handle is for one thread at a time.
 *
 * Ownership: the handle owns everything it hands out as const char * (valid
 * until mc_engine_free); the struct mc_image / mc_image_step vectors and JSON
 * the calls fill belong to the caller, with the release function named beside
 * each. Strings passed in are copied or used only during the call.
 *
 * Errors: every function returns 0 or a negative MC_E… code with the message
 * set (mc_error_set), the engine's own words kept. The codes to branch on:
 * MC_EENGINE (the engine does not answer, or the transport failed: socket or
 * address in the message, and a hint), MC_ENOTFOUND (404: no such image),
 * MC_ELOCKED (409 on remove: a container uses the image), MC_EBUILD (the build
 * itself failed, or a gate stopped it), MC_EINVAL (bad input: a DOCKER_HOST, a
 * reference, a build arg). Anything else is MC_ERR.
 */
#ifndef MC_ENGINE_H
#define MC_ENGINE_H

#include <stdint.h>
#include "../util/mc_util.h"
#include "../context/context.h"

struct mc_engine;

/*
 * host: "unix:///path", "tcp://host:port" or NULL/"" for
 * unix:///var/run/docker.sock. MC_EENGINE when it does not answer /_ping (or
 * speaks an API older than 1.39), with the socket or address in the message
 * and a hint; MC_EINVAL for a host it cannot use (another scheme, a socket
 * path over 107 bytes). *out is NULL on failure.
 */
int mc_engine_open(struct mc_engine **out, const char *host);
/* Frees the handle and its curl handle; NULL is fine. */
void mc_engine_free(struct mc_engine *e);
const char *mc_engine_api_version(const struct mc_engine *e); /* "1.41" */
/* "linux/amd64" (with "/variant" when the engine reports one), from GET
 * /version on first use (dockerd takes ~20 ms to answer it); NULL with the
 * error set when the engine does not say. */
const char *mc_engine_platform(struct mc_engine *e);
/* The socket path or host:port, for messages and as the engine's identity. */
const char *mc_engine_where(const struct mc_engine *e);
/* The docker context the engine was found through (DOCKER_CONTEXT or
 * currentContext), NULL for DOCKER_HOST or the default socket. */
const char *mc_engine_context(const struct mc_engine *e);
/* 1 when builds use BuildKit (version=2). Every engine since 18.09 honours it
 * except Podman (Libpod-Api-Version header, or Builder-Version: 1). */
int mc_engine_buildkit(const struct mc_engine *e);
/* Forces the builder for tests and doctor: 1 BuildKit, 0 classic. */
void mc_engine_set_buildkit(struct mc_engine *e, int on);

/* Image facts: the rest of molcache reads images through this struct. */
struct mc_image {
	char id[80];   /* "sha256:…" */
	int64_t size;
	int64_t created;       /* seconds since the epoch */
	struct mc_strv tags;   /* RepoTags: "repo:tag" */
	struct mc_strv labels; /* "name=value", sorted */
	struct mc_strv layers; /* RootFS.Layers diff ids, base first (inspect only) */
};
#define MC_IMAGE_INIT { "", 0, 0, MC_STRV_INIT, MC_STRV_INIT, MC_STRV_INIT }
/* GET /images/{name}/json: MC_ENOTFOUND on 404 (branch on status, never text).
 * out may be NULL; if not, it must be initialised (MC_IMAGE_INIT) and is
 * replaced; release it with mc_image_release(). */
int mc_engine_image_inspect(struct mc_engine *e, const char *name, struct mc_image *out);
void mc_image_release(struct mc_image *img);
/* The value of label name, or NULL when the image has none by that name. */
const char *mc_image_label(const struct mc_image *img, const char *name);

/* GET /images/json[?all=1][&filters={"label":[…]}]: the images carrying every
 * label of labels ("name" or "name=value"; NULL or empty: every image), with
 * all != 0 untagged parents too. *out: n images (no layers: a list does not
 * say them); free with mc_images_free(). The filter is written by jansson and
 * escaped by curl, so label values may hold anything. */
int mc_engine_image_list(struct mc_image **out, size_t *n, struct mc_engine *e, const struct mc_strv *labels, int all);
void mc_images_free(struct mc_image *v, size_t n);

/* One build step of an image, newest first as the engine lists them. */
struct mc_image_step {
	int64_t size;      /* bytes of the layer it made; 0 for none */
	char *created_by;  /* the instruction, or NULL */
};
/* GET /images/{name}/history. MC_ENOTFOUND when the image is gone. */
int mc_engine_image_history(struct mc_image_step **out, size_t *n, struct mc_engine *e, const char *name);
void mc_image_steps_free(struct mc_image_step *v, size_t n);
/* POST /images/{src}/tag?repo=&tag=. MC_ENOTFOUND when src is missing. */
int mc_engine_image_tag(struct mc_engine *e, const char *src, const char *repo, const char *tag);
/* DELETE /images/{name}[?force=1]. MC_ENOTFOUND on 404, MC_ELOCKED on 409
 * (a container uses it). */
int mc_engine_image_remove(struct mc_engine *e, const char *name, int force);
/* A pull or push the engine runs is given up when it reports no progress for
 * this long (the registry behind it went silent, or fails every attempt):
 * MC_EUNREACHABLE "no progress for 20s …" (the registry, not the engine,
 * failed). Progress is a status a layer had not
 * reported, or more bytes than it had reported; the engine's "Retrying in N
 * seconds" countdown and a retry resending bytes are not. <= 0: the default.
 * ensure sets it from registry_stall (1 s or more). */
#define MC_ENGINE_TRANSFER_IDLE_MS (120 * 1000)
void mc_engine_set_transfer_idle(struct mc_engine *e, int64_t ms);
/* POST /images/create?fromImage=&tag=[&platform=]: pulls one reference (a
 * missing tag means "latest", never every tag; a digest reference is kept).
 * Checks every streamed line for an error: MC_ERR with the engine's words;
 * MC_ENOTFOUND on 404, MC_EINVAL for a ref that is no image reference,
 * MC_EUNREACHABLE when the pull made no progress (mc_engine_set_transfer_idle). */
int mc_engine_image_pull(struct mc_engine *e, const char *ref, const char *platform);

/* One line of build output, for progress. kind: 's' stream text (classic),
 * 't' a BuildKit trace (data = the base64 "aux" string), 'e' an error
 * message. data is NUL-terminated. */
typedef void (*mc_build_progress_fn)(void *ud, char kind, const char *data);

struct mc_build_req {
	struct mc_context *context; /* the tar body, streamed chunked */
	const char *dockerfile;     /* path in the context */
	const char *const *tags;    /* NULL-terminated, "repo:tag" */
	const char *platform;       /* may be NULL */
	const char *networkmode;    /* may be NULL ("default") */
	const struct mc_strv *build_args; /* "K=V", may be NULL */
	const struct mc_strv *labels;     /* "K=V", may be NULL */
	const char *build_id;       /* may be NULL; lets a gated build be cancelled by id */
	int classic;                /* 1: the classic builder (version=1) even when BuildKit is there */
	int64_t stall_ms;           /* > 0: cancel when no output line arrives for this long */
	int64_t ceiling_ms;         /* > 0: cancel when the build takes longer in all */
	mc_build_progress_fn progress;
	void *ud;
	const struct mc_strv *cache_from; /* images offered as cachefrom (inline cache); may be NULL */
};

/*
 * POST /build (version=2 when BuildKit, else 1; pull=0, rm=1) with
 * Content-Type application/x-tar, chunked, empty Expect. Reads the JSON lines
 * (split across callbacks: buffered to '\n'), fails with MC_EBUILD on any
 * errorDetail/error line (message = the engine's message), and writes the last
 * aux.ID seen ("sha256:…") to out_id. The last ~40 lines of output are kept in
 * log (may be NULL) for the error report. A gate that fires (stall_ms,
 * ceiling_ms) closes the request and cancels the build by build_id: MC_EBUILD
 * "no build progress for 4m0s" / "build exceeded 12m0s".
 */
int mc_engine_build(struct mc_engine *e, const struct mc_build_req *req, char out_id[80],
		    struct mc_buf *log);

/* GET path (under /v<api> unless it starts with "/_ping" or "/v1.") and append
 * the body to body (may be NULL), the status to *status (may be NULL), for
 * tests and doctor. Any HTTP status is success; MC_EENGINE when the request
 * fails. */
int mc_engine_get(struct mc_engine *e, const char *path, long *status, struct mc_buf *body);

/* ---- registry transfers (fleet sharing, docs/fleet.md) ---- */

/* mc_engine_image_pull with X-Registry-Auth xauth (mc_registry_xauth(); NULL
 * sends "{}"). The credential is never part of a message. */
int mc_engine_image_pull_auth(struct mc_engine *e, const char *ref, const char *platform, const char *xauth);

/* One line of push progress ("<layer>: Pushing 1234/5678 bytes", "Pushed"). */
typedef void (*mc_push_progress_fn)(void *ud, const char *text);
/* POST /images/{name}/push?tag= with X-Registry-Auth (always sent; "{}"
 * without credentials). digest (may be NULL) gets the pushed manifest's
 * digest. Errors as for pull: the engine's words. */
int mc_engine_image_push(struct mc_engine *e, const char *name, const char *tag, const char *xauth,
			 mc_push_progress_fn progress, void *ud, char digest[80]);

/* GET /images/{name}/json as JSON (Config.Labels, Os, Architecture, Variant).
 * MC_ENOTFOUND on 404; the caller json_decref()s *out. */
typedef struct json_t json_t;
int mc_engine_image_json(json_t **out, struct mc_engine *e, const char *name);

#endif
