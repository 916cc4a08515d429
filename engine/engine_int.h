/*
 * engine_int.h — private to engine/: nothing outside engine/ includes it;
 * engine.h is the module's whole public surface. The handle, one request's
 * state and the request machinery of transport.c, shared by images.c,
 * build.c and pull.c.
 */
#ifndef MC_ENGINE_INT_H
#define MC_ENGINE_INT_H

#include "engine.h"
#include "../net/net.h"

#include <curl/curl.h>
#include <jansson.h>

#include "endpoint.h"

#define HINT_START "start dockerd or set DOCKER_HOST"
#define HINT_TLS "the engine speaks TLS: set DOCKER_TLS_VERIFY=1 and DOCKER_CERT_PATH to the directory of ca.pem, cert.pem and key.pem, as for the docker CLI (docs/operations.md, Remote engines)"
#define HINT_DENIED                                                                                       \
	"add this user to the docker group, whose members may open the socket (sudo usermod -aG docker USER, " \
	"then log in again), or set DOCKER_HOST to a socket this user may open"

struct mc_engine {
	CURL *curl;
	char *root;  /* "http://localhost": unversioned endpoints (/_ping) */
	char *base;  /* root + "/v1.41" */
	char *where; /* the socket path or host:port, for messages */
	char *sock;  /* unix socket path, NULL for tcp */
	char api[16];
	char platform[96];
	int buildkit;
	char errbuf[CURL_ERROR_SIZE];
	int64_t transfer_idle_ms; /* pulls and pushes: see mc_engine_set_transfer_idle */
	struct mc_endpoint ep; /* where and how (TLS), as the docker CLI finds it */
};

/* One request's state, shared by the curl callbacks. Zero it ({ 0 }), set
 * what the request needs, pass it to one engine_perform(), then
 * engine_xfer_release() it. */
struct xfer {
	struct mc_engine *e;
	/* A non-2xx answer, or any answer when not streaming: the raw body. */
	struct mc_buf body;
	/* Streaming: 2xx bodies are JSON lines handed one by one to on_line
	 * (obj NULL when the line is not JSON); a nonzero return is kept in
	 * line_err and later lines are not handed on. */
	int (*on_line)(struct xfer *x, json_t *obj, const char *raw, size_t n);
	void *ud;
	struct mc_buf pending;
	int line_err; /* first error returned by on_line */
	/* Response headers of interest (only /_ping needs them). */
	char api_version[32];
	char builder_version[32];
	int libpod;
	/* Request body from a build context. */
	struct mc_context *ctx;
	int read_err;
	char *read_msg;
	/* Build gates (0 = off): no line and no body chunk for stall_ms, or
	 * longer than ceiling_ms in all, and the request is closed. */
	int64_t stall_ms, ceiling_ms, started_ms, progress_ms;
	int line_progress; /* set: only on_line moves progress_ms (it knows what is progress) */
	enum { GATE_NONE, GATE_STALL, GATE_CEILING, GATE_INTR } gate;
	int finish; /* runs after a SIGINT/SIGTERM (a build's cancel): not ended by it */
};

void engine_xfer_release(struct xfer *x);

/* Total timeouts: T_PING 30 s (/_ping, /version), T_SHORT 600 s (inspect,
 * tag, remove, lists), T_STREAM none (builds, pulls, pushes: they end when
 * the engine or a gate ends them). */
enum { T_SHORT, T_PING, T_STREAM };

/*
 * One request on the shared handle. method: "GET", "POST", "DELETE". The body
 * is x->ctx when set (chunked), else empty. Transport failures are MC_EENGINE
 * (with a hint), a gate that fired MC_EBUILD or MC_EENGINE, a context that
 * failed to read its own code; any HTTP status is success here and lands in
 * *status.
 */
int engine_perform(struct mc_engine *e, struct xfer *x, const char *method, const char *url,
		   struct curl_slist *headers, int timeout, long *status);

/* A URL-escaped copy (path segment or query value), malloc'd; never NULL. */
char *engine_esc(struct mc_engine *e, const char *s);
/* Appends "?key=value" or "&key=value", the value escaped. */
void engine_add_query(struct mc_engine *e, struct mc_buf *url, const char *key, const char *val);
/* The engine's own words for a failed request: {"message": …}, the raw text
 * (at most 400 bytes) or "HTTP <status>"; malloc'd. */
char *engine_answer_message(const struct xfer *x, long status);
/* The message of a streamed {"error":…,"errorDetail":{"message":…}} line, or NULL. */
const char *engine_line_error(json_t *obj);
/* GET path (under the versioned base) and parse the 200 answer as JSON (*out:
 * the caller json_decref()s it). MC_ENOTFOUND on 404, MC_EENGINE on any other
 * status or bad JSON. */
int engine_get_json(json_t **out, struct mc_engine *e, const char *path);

#endif
