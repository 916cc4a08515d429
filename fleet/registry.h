/*
 * registry.h — an OCI distribution registry (Docker Distribution, Harbor,
 * ECR, GHCR) spoken to directly with libcurl, for fleet sharing
 * (docs/fleet.md). The engine pulls and pushes images (engine.h); this module
 * only asks whether a tag exists, lists and reads what molcache pushed,
 * deletes a tag (or, where only that works, a digest) for `gc --registry`, and
 * writes the one thing the engine cannot: a build marker's tiny blob and
 * manifest (registry_write.c, for fleet/marker.c).
 *
 * Call sequence: mc_registry_open() → mc_registry_manifest_head() / … →
 * mc_registry_free(). Credentials (user, password) are copied into the
 * handle, sent only to the registry and its token realm, and never appear in
 * an error message.
 *
 * Errors: MC_ENOTFOUND (404: no such tag or repository), MC_EUNREACHABLE (the
 * registry is down, refuses, times out, answers 5xx or refuses our
 * credentials), MC_EINVAL (a bad registry name). Every request is bounded:
 * connect MC_REGISTRY_CONNECT_MS, and a transfer slower than 1 byte/s for
 * MC_REGISTRY_IDLE_S seconds is given up.
 */
#ifndef MC_REGISTRY_H
#define MC_REGISTRY_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include "../util/mc_util.h"

#define MC_REGISTRY_CONNECT_MS 5000
#define MC_REGISTRY_IDLE_S 20

/* ---- pure helpers (table-tested, fuzzed) --------------------------------- */

/* One WWW-Authenticate challenge: scheme "Bearer" or "Basic" and its params. */
struct mc_challenge {
	char scheme[16];
	char *realm, *service, *scope; /* malloc'd or NULL */
	char *error, *error_description; /* RFC 6750: "invalid_token", "insufficient_scope"; or NULL */
};
/*
 * Parses a WWW-Authenticate header value: `Bearer realm="…",service="…",
 * scope="…"[,error="…",error_description="…"]` (quoted or token values, backslash escapes inside quotes, any
 * order, unknown params skipped) or `Basic realm="…"`. MC_EINVAL for text
 * that is not one challenge. Release with mc_challenge_release().
 */
int mc_registry_parse_challenge(struct mc_challenge *out, const char *header, size_t len);
void mc_challenge_release(struct mc_challenge *c);

/*
 * The credentials for host (HOST[:PORT]) in a docker config.json text: the
 * "auths" entry whose key is host, https://host, http://host or those with a
 * path after the host (docker writes "https://index.docker.io/v1/"), and its
 * base64 "auth" ("user:password"). 0 with *user and *password malloc'd;
 * MC_ENOTFOUND when the file names no such registry or only a credential
 * helper (credsStore/credHelpers are not run: docs/fleet.md); MC_EINVAL when
 * the text is not JSON or the auth not base64 "user:password".
 */
int mc_registry_docker_auth(char **user, char **password, const char *json_text, size_t len,
			    const char *host);

/* The X-Registry-Auth header value for the engine: padded base64url of
 * {"username","password","serveraddress"}; "e30=" ({}) without a user.
 * malloc'd. */
char *mc_registry_xauth(const char *user, const char *password, const char *host);

/* Splits "[http[s]://]HOST[:PORT][/PATH]" into host ("HOST[:PORT]") and path
 * ("PATH" without slashes at either end, "" when none); the scheme is http
 * when asked for, or for a loopback host, else https. MC_EINVAL. */
int mc_registry_split(char **host, char **path, int *plain_http, const char *registry);

/* ---- the registry ------------------------------------------------------- */

struct mc_registry;

/* registry: as for mc_registry_split; user/password may be NULL (then
 * ~/.docker/config.json is read for the host, if it exists). Sends nothing. */
int mc_registry_open(struct mc_registry **out, const char *registry, const char *user, const char *password);
void mc_registry_free(struct mc_registry *r);
/* "HOST[:PORT]" and "HOST[:PORT]/PATH" (the image name prefix). */
const char *mc_registry_host(const struct mc_registry *r);
const char *mc_registry_prefix(const struct mc_registry *r);
/* The X-Registry-Auth value for the engine (owned by r). */
const char *mc_registry_engine_auth(const struct mc_registry *r);
/* 1 when credentials were found (flag, env, config or docker config). */
int mc_registry_has_credentials(const struct mc_registry *r);

/*
 * HEAD /v2/<name>/manifests/<ref> with the OCI index, OCI manifest, Docker
 * manifest list and Docker manifest Accept types; name is the repository
 * inside the registry (e.g. "team/molcache/claude-code"). A 401 is answered
 * once: Bearer → token from the realm (basic credentials if any), Basic →
 * credentials. digest (80 bytes, may be NULL) gets Docker-Content-Digest.
 */
int mc_registry_manifest_head(struct mc_registry *r, const char *name, const char *ref, char *digest);
/* GET the manifest (JSON) and its digest. */
int mc_registry_manifest_get(struct mc_registry *r, json_t **out, char *digest, const char *name, const char *ref);
/* GET /v2/<name>/blobs/<digest> parsed as JSON (an image config). */
int mc_registry_blob_json(struct mc_registry *r, json_t **out, const char *name, const char *digest);
/* GET /v2/<name>/tags/list (following Link pages): every tag. */
int mc_registry_tags(struct mc_registry *r, struct mc_strv *out, const char *name);
/* GET /v2/_catalog (following Link pages): every repository whose name starts
 * with prefix (may be ""). */
int mc_registry_catalog(struct mc_registry *r, struct mc_strv *out, const char *prefix);
/* DELETE /v2/<name>/manifests/<digest>: 0 on 202/200, MC_ENOTFOUND on 404,
 * MC_EINVAL when the registry does not allow deletes (405). */
int mc_registry_manifest_delete(struct mc_registry *r, const char *name, const char *digest);

/* DELETE /v2/<name>/manifests/<tag>: the tag alone (OCI distribution-spec
 * 1.1; the manifest stays, untagged, for the registry's own gc). 0 on 2xx;
 * 1 (no error set) when the registry does not delete by tag (another 4xx:
 * Distribution 2.x reads the tag as a digest and answers 400 DIGEST_INVALID;
 * 404); MC_EINVAL with a hint when it allows no deletes (405);
 * MC_EUNREACHABLE as for any call. */
int mc_registry_tag_delete(struct mc_registry *r, const char *name, const char *tag);

/*
 * What molcache pushed under name: the config of the single-platform image
 * under tag (labels, created, os/architecture). *config: the caller
 * json_decref()s it; digest (80 bytes) the manifest digest. An index (multi-
 * platform) is followed to the entry for platform when platform is set.
 */
int mc_registry_image_config(struct mc_registry *r, json_t **config, char *digest, const char *name,
			     const char *tag, const char *platform);

/* ---- writes (the build marker: fleet/marker.c, docs/fleet.md) ---------------
 * Errors as above, and MC_EINVAL when the registry answered the write with an
 * HTTP error other than 401/403 (a manifest it does not take, a read-only
 * registry's 405, a failing write path's 5xx): it is up, and refused this. */

/* A monolithic blob upload: POST /v2/<name>/blobs/uploads/, then PUT
 * <Location>&digest=<digest> with data (for small blobs). The Location must
 * be on the registry itself. digest (80 bytes) gets "sha256:<hex>" of data. */
int mc_registry_blob_put(struct mc_registry *r, char *digest, const char *name, const void *data, size_t n);
/* PUT /v2/<name>/manifests/<ref> with body of media_type. The registry keeps
 * the bytes as sent: their digest is "sha256:<hex>" of body. */
int mc_registry_manifest_put(struct mc_registry *r, const char *name, const char *ref, const char *media_type,
			     const char *body, size_t n);

/* ---- inside fleet/ only: the raw call the writes (registry_write.c) are made of ---- */

/* The name rules of every path molcache sends: alphanumerics, "._-/" and the
 * characters of extra, no "..", 1-255 bytes. */
int mc_registry_path_ok(const char *s, const char *extra);
/*
 * method on path (under the registry's base URL) with body (n bytes; NULL: an
 * empty body) of content_type (may be NULL), a 401 answered once as for any
 * call. 0 on 2xx with *location (may be NULL; malloc'd or NULL) the answer's
 * Location; an HTTP error other than 401/403 (4xx, 5xx) is MC_EINVAL "… was
 * refused (HTTP 400: MANIFEST_INVALID)"; else as for any call
 * (MC_EUNREACHABLE: no answer, a timeout, credentials refused).
 */
int mc_registry_send(struct mc_registry *r, const char *method, const char *path, const char *content_type,
		     const void *body, size_t n, char **location);

#endif
