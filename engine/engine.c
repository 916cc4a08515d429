/* engine.c — a Docker Engine API client over one reused libcurl handle, JSON with jansson. */
#include "engine.h"
#include "../net/curl_opt.h"

#include <curl/curl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <strings.h>
#include <time.h>

#define API_OURS_MAJOR 1
#define API_OURS_MINOR 41
#define API_MIN_MINOR 39
#define SUN_PATH_MAX 107
#define LOG_LINES 40
#define ERRBODY_MAX (64 * 1024)
/* A streamed line, or a whole answer, longer than this is no engine's: the transfer is aborted. */
#define BODY_MAX ((size_t)64 << 20)
#define HINT_START "start dockerd or set DOCKER_HOST"

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
};

/* One request's state, shared by the curl callbacks. */
struct xfer {
	struct mc_engine *e;
	/* A non-2xx answer, or any answer when not streaming: the raw body. */
	struct mc_buf body;
	/* Streaming: 2xx bodies are JSON lines handed one by one to on_line. */
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
	enum { GATE_NONE, GATE_STALL, GATE_CEILING } gate;
};

static void xfer_release(struct xfer *x)
{
	mc_buf_release(&x->body);
	mc_buf_release(&x->pending);
	free(x->read_msg);
}

const char *mc_engine_api_version(const struct mc_engine *e)
{
	return e->api;
}

static int fetch_platform(struct mc_engine *e);

const char *mc_engine_platform(struct mc_engine *e)
{
	/* GET /version costs dockerd ~20 ms (it asks containerd and runc): only on demand */
	if (!e->platform[0] && fetch_platform(e))
		return NULL;
	return e->platform;
}

const char *mc_engine_where(const struct mc_engine *e)
{
	return e->where;
}

int mc_engine_buildkit(const struct mc_engine *e)
{
	return e->buildkit;
}

void mc_engine_set_buildkit(struct mc_engine *e, int on)
{
	e->buildkit = on ? 1 : 0;
}

void mc_engine_free(struct mc_engine *e)
{
	if (!e)
		return;
	if (e->curl)
		curl_easy_cleanup(e->curl);
	free(e->root);
	free(e->base);
	free(e->where);
	free(e->sock);
	free(e);
}

/* A URL-escaped copy (path segment or query value); never NULL. */
static char *esc(struct mc_engine *e, const char *s)
{
	char *t = curl_easy_escape(e->curl, s, 0);
	char *r;

	if (!t)
		MC_BUG("curl_easy_escape failed");
	r = mc_strdup(t);
	curl_free(t);
	return r;
}

static void add_query(struct mc_engine *e, struct mc_buf *url, const char *key, const char *val)
{
	char *v = esc(e, val);

	mc_buf_addf(url, "%c%s=%s", strchr(mc_buf_cstr(url), '?') ? '&' : '?', key, v);
	free(v);
}

static int transport_error(struct mc_engine *e, CURLcode rc)
{
	struct stat st;
	/* curl's words for a unix socket speak of "localhost port 80": say what is wrong */
	if (e->sock && rc == CURLE_COULDNT_CONNECT && stat(e->sock, &st))
		mc_error_set(MC_EENGINE, "docker engine at '%s': %s", e->where, strerror(errno));
	else if (e->sock && rc == CURLE_COULDNT_CONNECT)
		mc_error_set(MC_EENGINE, "docker engine at '%s': nothing listens on the socket", e->where);
	else
		mc_error_set(MC_EENGINE, "docker engine at '%s': %s", e->where,
			     e->errbuf[0] ? e->errbuf : curl_easy_strerror(rc));
	mc_error_hint(HINT_START);
	return MC_EENGINE;
}

/* The engine's own words for a failed request: {"message": …} or the raw text. */
static char *answer_message(const struct xfer *x, long status)
{
	json_t *root = NULL, *m;
	char *r = NULL;
	size_t n;

	if (x->body.len) {
		root = json_loadb(x->body.ptr, x->body.len, 0, NULL);
		m = json_object_get(root, "message");
		if (json_is_string(m)) {
			r = mc_strdup(json_string_value(m));
		} else {
			n = x->body.len;
			while (n && (x->body.ptr[n - 1] == '\n' || x->body.ptr[n - 1] == '\r'))
				n--;
			if (n)
				r = mc_strndup(x->body.ptr, n > 400 ? 400 : n);
		}
		json_decref(root);
	}
	if (!r)
		r = mc_asprintf("HTTP %ld", status);
	return r;
}

/* Hands every complete line of pending to on_line. */
static void drain_lines(struct xfer *x, int final)
{
	char *p = x->pending.ptr, *nl;
	size_t off = 0, n;
	json_t *obj;

	if (!p)
		return;
	for (;;) {
		nl = memchr(p + off, '\n', x->pending.len - off);
		if (!nl && !final)
			break;
		n = nl ? (size_t)(nl - (p + off)) : x->pending.len - off;
		if (!nl && !n)
			break;
		while (n && (p[off + n - 1] == '\r'))
			n--;
		if (n) {
			x->progress_ms = mc_mono_ms();
			obj = json_loadb(p + off, n, 0, NULL);
			if (!x->line_err) {
				int r = x->on_line(x, obj, p + off, n);
				if (r)
					x->line_err = r;
			}
			json_decref(obj);
		}
		if (!nl) {
			off = x->pending.len;
			break;
		}
		off = (size_t)(nl - p) + 1;
	}
	if (off) {
		memmove(p, p + off, x->pending.len - off);
		x->pending.len -= off;
		p[x->pending.len] = 0;
	}
}

static size_t on_write(char *data, size_t size, size_t nmemb, void *ud)
{
	struct xfer *x = ud;
	size_t n = size * nmemb;
	long status = 0;

	curl_easy_getinfo(x->e->curl, CURLINFO_RESPONSE_CODE, &status);
	if (x->on_line && status >= 200 && status < 300) {
		if (n > BODY_MAX - x->pending.len)
			return 0; /* a line over the cap: abort */
		mc_buf_add(&x->pending, data, n);
		drain_lines(x, 0);
		return n;
	}
	if (x->on_line && x->body.len + n > ERRBODY_MAX)
		return n; /* error text beyond this is noise */
	if (n > BODY_MAX - x->body.len)
		return 0;
	mc_buf_add(&x->body, data, n);
	return n;
}

static void header_value(char *dst, size_t cap, const char *v, size_t n)
{
	while (n && (*v == ' ' || *v == '\t')) {
		v++;
		n--;
	}
	while (n && (v[n - 1] == '\r' || v[n - 1] == '\n' || v[n - 1] == ' '))
		n--;
	if (n >= cap)
		n = cap - 1;
	memcpy(dst, v, n);
	dst[n] = 0;
}

/* Go canonicalises header names ("Api-Version", "Ostype"): compare without case. */
static size_t on_header(char *data, size_t size, size_t nmemb, void *ud)
{
	struct xfer *x = ud;
	size_t n = size * nmemb;
	const char *colon = memchr(data, ':', n);
	size_t klen;

	if (!colon)
		return n;
	klen = (size_t)(colon - data);
	if (klen == 11 && !strncasecmp(data, "Api-Version", 11))
		header_value(x->api_version, sizeof(x->api_version), colon + 1, n - klen - 1);
	else if (klen == 15 && !strncasecmp(data, "Builder-Version", 15))
		header_value(x->builder_version, sizeof(x->builder_version), colon + 1, n - klen - 1);
	else if (klen == 18 && !strncasecmp(data, "Libpod-Api-Version", 18))
		x->libpod = 1;
	return n;
}

static size_t on_read(char *buf, size_t size, size_t nitems, void *ud)
{
	struct xfer *x = ud;
	ssize_t r = mc_context_read(x->ctx, buf, size * nitems);

	x->progress_ms = mc_mono_ms(); /* a large context uploading is progress too */
	if (r < 0) {
		x->read_err = (int)r;
		free(x->read_msg);
		x->read_msg = mc_strdup(mc_error_msg());
		return CURL_READFUNC_ABORT;
	}
	return (size_t)r;
}

/* libcurl calls this about once a second even when nothing moves. */
static int on_xferinfo(void *ud, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal, curl_off_t ulnow)
{
	struct xfer *x = ud;
	int64_t now = mc_mono_ms();

	(void)dltotal, (void)dlnow, (void)ultotal, (void)ulnow;
	if (x->stall_ms > 0 && now - x->progress_ms >= x->stall_ms)
		x->gate = GATE_STALL;
	else if (x->ceiling_ms > 0 && now - x->started_ms >= x->ceiling_ms)
		x->gate = GATE_CEILING;
	return x->gate != GATE_NONE;
}

enum { T_SHORT, T_PING, T_STREAM };


/*
 * One request on the shared handle. method: "GET", "POST", "DELETE". The body
 * is x->ctx when set (chunked), else empty. Transport failures are MC_EENGINE;
 * any HTTP status is success here and lands in *status.
 */
static int perform(struct mc_engine *e, struct xfer *x, const char *method, const char *url,
		   struct curl_slist *headers, int timeout, long *status)
{
	CURL *c = e->curl;
	CURLcode rc;
	struct curl_slist *own = NULL;
	struct mc_setopts so = MC_SETOPTS_INIT;
	int ret = 0;

	*status = 0;
	x->e = e;
	curl_easy_reset(c);
	e->errbuf[0] = 0;
	SETOPT(&so, c, CURLOPT_ERRORBUFFER, e->errbuf);
	SETOPT(&so, c, CURLOPT_URL, url);
	if (e->sock)
		SETOPT(&so, c, CURLOPT_UNIX_SOCKET_PATH, e->sock);
	SETOPT(&so, c, CURLOPT_NOSIGNAL, 1L);
	SETOPT(&so, c, CURLOPT_CONNECTTIMEOUT_MS, 5000L);
	if (timeout == T_PING)
		SETOPT(&so, c, CURLOPT_TIMEOUT, 30L);
	else if (timeout == T_SHORT)
		SETOPT(&so, c, CURLOPT_TIMEOUT, 600L);
	/* Builds and pulls: no total timeout, but a dead peer still ends them. */
	SETOPT(&so, c, CURLOPT_TCP_KEEPALIVE, 1L);
	SETOPT(&so, c, CURLOPT_WRITEFUNCTION, on_write);
	SETOPT(&so, c, CURLOPT_WRITEDATA, x);
	SETOPT(&so, c, CURLOPT_HEADERFUNCTION, on_header);
	SETOPT(&so, c, CURLOPT_HEADERDATA, x);

	if (!strcmp(method, "POST")) {
		SETOPT(&so, c, CURLOPT_POST, 1L);
		if (x->ctx) {
			SETOPT(&so, c, CURLOPT_READFUNCTION, on_read);
			SETOPT(&so, c, CURLOPT_READDATA, x);
		} else {
			SETOPT(&so, c, CURLOPT_POSTFIELDS, "");
			SETOPT(&so, c, CURLOPT_POSTFIELDSIZE, 0L);
			/* Else libcurl labels the empty body a form. */
			if (!headers) {
				own = curl_slist_append(own, "Content-Type:");
				headers = own;
			}
		}
	} else if (strcmp(method, "GET")) {
		SETOPT(&so, c, CURLOPT_CUSTOMREQUEST, method);
	}
	if (headers)
		SETOPT(&so, c, CURLOPT_HTTPHEADER, headers);
	if (x->stall_ms > 0 || x->ceiling_ms > 0) {
		x->started_ms = x->progress_ms = mc_mono_ms();
		SETOPT(&so, c, CURLOPT_XFERINFOFUNCTION, on_xferinfo);
		SETOPT(&so, c, CURLOPT_XFERINFODATA, x);
		SETOPT(&so, c, CURLOPT_NOPROGRESS, 0L);
	}
	/* a request on a half-configured handle could go anywhere, or wait forever */
	if (so.rc != CURLE_OK) {
		ret = mc_error_set(MC_ERR, "docker engine at '%s': libcurl refused %s: %s", e->where, so.opt,
				   curl_easy_strerror(so.rc));
		goto done;
	}

	rc = curl_easy_perform(c);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, status);
	if (x->on_line && *status >= 200 && *status < 300)
		drain_lines(x, 1);
	if (rc == CURLE_ABORTED_BY_CALLBACK && x->gate != GATE_NONE) {
		char d[32];
		mc_format_duration_go(d, x->gate == GATE_STALL ? x->stall_ms : x->ceiling_ms);
		if (x->ctx || x->ceiling_ms) /* a build */
			ret = mc_error_set(MC_EBUILD, x->gate == GATE_STALL ? "no build progress for %s" : "build exceeded %s",
					   d);
		else /* a pull or a push the engine runs for us: its registry went silent */
			ret = mc_error_set(MC_EENGINE, "no progress for %s", d);
		goto done;
	}
	if (rc == CURLE_ABORTED_BY_CALLBACK && x->read_err) {
		ret = mc_error_set(x->read_err, "%s", x->read_msg ? x->read_msg : "build context: read failed");
		goto done;
	}
	/* The engine may answer an error before it has read the whole body. */
	if (rc != CURLE_OK && !(*status >= 400 && x->body.len)) {
		ret = transport_error(e, rc);
		goto done;
	}
done:
	curl_slist_free_all(own);
	return ret;
}

static int parse_version(const char *s, int *major, int *minor)
{
	char *end;
	long a, b;

	a = strtol(s, &end, 10);
	if (end == s || *end != '.')
		return -1;
	s = end + 1;
	b = strtol(s, &end, 10);
	if (end == s || a < 0 || b < 0 || a > 1000 || b > 100000)
		return -1;
	*major = (int)a;
	*minor = (int)b;
	return 0;
}

/* Splits host into the curl target: socket path or http://host:port. */
static int parse_host(struct mc_engine *e, const char *host)
{
	int ret = 0;

	if (!host || !*host)
		host = "unix:///var/run/docker.sock";
	if (!strncmp(host, "unix://", 7)) {
		const char *p = host + 7;
		if (!*p) {
			ret = mc_error_set(MC_EINVAL, "docker host '%s': no socket path", host);
			goto done;
		}
		if (strlen(p) > SUN_PATH_MAX) {
			ret = mc_error_set(MC_EINVAL,
					   "docker engine at '%s': socket path is longer than %d bytes", p,
					   SUN_PATH_MAX);
			mc_error_hint("use a shorter path or a symlink to the socket");
			goto done;
		}
		e->sock = mc_strdup(p);
		e->where = mc_strdup(p);
		e->root = mc_strdup("http://localhost");
	} else if (!strncmp(host, "tcp://", 6) || !strncmp(host, "http://", 7)) {
		const char *p = strstr(host, "://") + 3;
		size_t n = strcspn(p, "/");
		const char *rb = memchr(p, ']', n);
		const char *colon;
		if (!n) {
			ret = mc_error_set(MC_EINVAL, "docker host '%s': no address", host);
			goto done;
		}
		/* The port follows the last ':' outside an IPv6 "[…]". */
		colon = rb ? memchr(rb, ':', n - (size_t)(rb - p)) : memchr(p, ':', n);
		if (colon)
			e->where = mc_strndup(p, n);
		else
			e->where = mc_asprintf("%.*s:2375", (int)n, p);
		e->root = mc_asprintf("http://%s", e->where);
	} else {
		ret = mc_error_set(MC_EINVAL, "docker host '%s': unsupported scheme", host);
		mc_error_hint("use unix:///path or tcp://host:port (for ssh, forward the socket with ssh -L)");
		goto done;
	}
done:
	return ret;
}

static int fetch_platform(struct mc_engine *e)
{
	struct xfer x = { 0 };
	struct mc_buf url = MC_BUF_INIT;
	json_t *root = NULL;
	const char *os, *arch, *variant;
	long status;
	int ret;

	mc_buf_addf(&url, "%s/version", e->base);
	ret = perform(e, &x, "GET", url.ptr, NULL, T_PING, &status);
	if (ret)
		goto done;
	root = json_loadb(mc_buf_cstr(&x.body), x.body.len, 0, NULL);
	os = json_string_value(json_object_get(root, "Os"));
	arch = json_string_value(json_object_get(root, "Arch"));
	variant = json_string_value(json_object_get(root, "Variant"));
	if (status != 200 || !os || !arch || !*os || !*arch) {
		char *m = answer_message(&x, status);
		ret = mc_error_set(MC_EENGINE, "docker engine at '%s': /version: %s", e->where,
				   status == 200 ? "no Os/Arch in the answer" : m);
		free(m);
		goto done;
	}
	if (variant && *variant)
		snprintf(e->platform, sizeof(e->platform), "%s/%s/%s", os, arch, variant);
	else
		snprintf(e->platform, sizeof(e->platform), "%s/%s", os, arch);
done:
	json_decref(root);
	mc_buf_release(&url);
	xfer_release(&x);
	return ret;
}

void mc_engine_set_transfer_idle(struct mc_engine *e, int64_t ms)
{
	e->transfer_idle_ms = ms > 0 ? ms : MC_ENGINE_TRANSFER_IDLE_MS;
}

/*
 * curl_global_init, explicitly and once per process, before the first handle
 * (curl_easy_init would otherwise do it implicitly, unchecked). Here rather
 * than at start: it loads OpenSSL's configuration, which commands that never
 * reach the engine (version, --help) need not pay for. molcache opens engines
 * from one thread.
 */
static int global_init(void)
{
	static CURLcode rc = CURLE_OK;
	static int tried;

	if (!tried) {
		rc = curl_global_init(CURL_GLOBAL_DEFAULT);
		tried = 1;
	}
	if (rc != CURLE_OK)
		return mc_error_set(MC_ERR, "libcurl: initialisation failed: %s", curl_easy_strerror(rc));
	return 0;
}

int mc_engine_open(struct mc_engine **out, const char *host)
{
	struct mc_engine *e = mc_calloc(1, sizeof(*e));
	struct xfer x = { 0 };
	struct mc_buf url = MC_BUF_INIT;
	long status;
	int major, minor, ret;

	*out = NULL;
	ret = parse_host(e, host);
	if (ret)
		goto done;
	if ((ret = global_init()))
		goto done;
	e->transfer_idle_ms = MC_ENGINE_TRANSFER_IDLE_MS;
	e->curl = curl_easy_init();
	if (!e->curl) {
		ret = mc_error_set(MC_ERR, "docker engine at '%s': curl_easy_init failed", e->where);
		goto done;
	}

	mc_buf_addf(&url, "%s/_ping", e->root);
	ret = perform(e, &x, "GET", url.ptr, NULL, T_PING, &status);
	if (ret)
		goto done;
	if (status != 200) {
		char *m = answer_message(&x, status);
		ret = mc_error_set(MC_EENGINE, "docker engine at '%s': /_ping: %s", e->where, m);
		free(m);
		mc_error_hint(HINT_START);
		goto done;
	}
	if (!x.api_version[0] || parse_version(x.api_version, &major, &minor)) {
		ret = mc_error_set(MC_EENGINE, "docker engine at '%s': no usable Api-Version in /_ping ('%s')",
				   e->where, x.api_version);
		goto done;
	}
	if (major > API_OURS_MAJOR || (major == API_OURS_MAJOR && minor > API_OURS_MINOR)) {
		major = API_OURS_MAJOR;
		minor = API_OURS_MINOR;
	}
	if (major < 1 || (major == 1 && minor < API_MIN_MINOR)) {
		ret = mc_error_set(MC_EENGINE, "docker engine at '%s': API version %d.%d is older than 1.%d",
				   e->where, major, minor, API_MIN_MINOR);
		mc_error_hint("upgrade the engine to Docker 18.09 or newer");
		goto done;
	}
	snprintf(e->api, sizeof(e->api), "%d.%d", major, minor);
	e->base = mc_asprintf("%s/v%s", e->root, e->api);
	/* Podman ignores version=2; 20.10 sends no Builder-Version at all (unknown, not 1). */
	e->buildkit = !(x.libpod || !strcmp(x.builder_version, "1"));

done:
	mc_buf_release(&url);
	xfer_release(&x);
	if (ret)
		mc_engine_free(e);
	else
		*out = e;
	return ret;
}

/* GET path and parse the 200 answer as JSON (*out: the caller json_decref()s
 * it). MC_ENOTFOUND on 404, MC_EENGINE on any other status or bad JSON. */
static int get_json(json_t **out, struct mc_engine *e, const char *path)
{
	struct mc_buf body = MC_BUF_INIT;
	json_error_t jerr;
	long status = 0;
	int ret;

	*out = NULL;
	if ((ret = mc_engine_get(e, path, &status, &body)))
		goto done;
	if (status == 404) {
		ret = mc_error_set(MC_ENOTFOUND, "engine GET '%s': not found", path);
		goto done;
	}
	if (status != 200) {
		ret = mc_error_set(MC_EENGINE, "engine GET '%s': status %ld", path, status);
		goto done;
	}
	*out = json_loadb(mc_buf_cstr(&body), body.len, 0, &jerr);
	if (!*out)
		ret = mc_error_set(MC_EENGINE, "engine GET '%s': bad json: %s", path, jerr.text);
done:
	mc_buf_release(&body);
	return ret;
}

int mc_engine_get(struct mc_engine *e, const char *path, long *status, struct mc_buf *body)
{
	struct xfer x = { 0 };
	struct mc_buf url = MC_BUF_INIT;
	long st = 0;
	int ret;

	/* "/_ping" and explicit "/v1.xx/…" paths are not versioned again. */
	if (!strncmp(path, "/_ping", 6) || !strncmp(path, "/v1.", 4))
		mc_buf_addf(&url, "%s%s", e->root, path);
	else
		mc_buf_addf(&url, "%s%s", e->base, path);
	ret = perform(e, &x, "GET", url.ptr, NULL, T_SHORT, &st);
	if (status)
		*status = st;
	if (!ret && body)
		mc_buf_add(body, mc_buf_cstr(&x.body), x.body.len);
	mc_buf_release(&url);
	xfer_release(&x);
	return ret;
}

/* "2024-05-01T12:00:00.123Z" (inspect's Created) → seconds; 0 when unreadable. */
static int64_t rfc3339_seconds(const char *s)
{
	struct tm tm = { 0 };

	if (!s || sscanf(s, "%d-%d-%dT%d:%d:%d", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour, &tm.tm_min,
			 &tm.tm_sec) != 6)
		return 0;
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	return (int64_t)timegm(&tm);
}

/* An image object of inspect (Config.Labels, Created a string, RootFS) or of
 * a list (Labels, Created a number) into *out (zeroed first). -1 without a
 * usable Id. */
static int image_from_json(struct mc_image *out, json_t *o)
{
	const char *id = json_string_value(json_object_get(o, "Id"));
	json_t *labels = json_object_get(o, "Labels"), *created = json_object_get(o, "Created"), *v;
	const char *k;
	size_t i;

	memset(out, 0, sizeof(*out));
	if (!id || strlen(id) >= sizeof(out->id))
		return -1;
	memcpy(out->id, id, strlen(id) + 1);
	out->size = (int64_t)json_integer_value(json_object_get(o, "Size"));
	out->created = json_is_string(created) ? rfc3339_seconds(json_string_value(created))
					       : (int64_t)json_integer_value(created);
	json_array_foreach(json_object_get(o, "RepoTags"), i, v)
		if (json_is_string(v))
			mc_strv_push(&out->tags, json_string_value(v));
	if (!json_is_object(labels))
		labels = json_object_get(json_object_get(o, "Config"), "Labels");
	json_object_foreach(labels, k, v)
		if (json_is_string(v)) {
			char *kv = mc_asprintf("%s=%s", k, json_string_value(v));
			mc_strv_push(&out->labels, kv);
			free(kv);
		}
	mc_strv_sort(&out->labels);
	json_array_foreach(json_object_get(json_object_get(o, "RootFS"), "Layers"), i, v)
		if (json_is_string(v))
			mc_strv_push(&out->layers, json_string_value(v));
	return 0;
}

int mc_engine_image_inspect(struct mc_engine *e, const char *name, struct mc_image *out)
{
	struct xfer x = { 0 };
	struct mc_buf url = MC_BUF_INIT;
	struct mc_image img = MC_IMAGE_INIT;
	char *n = esc(e, name);
	json_t *root = NULL;
	long status;
	int ret;

	mc_buf_addf(&url, "%s/images/%s/json", e->base, n);
	ret = perform(e, &x, "GET", url.ptr, NULL, T_SHORT, &status);
	if (ret)
		goto done;
	if (status == 404) {
		ret = mc_error_set(MC_ENOTFOUND, "image '%s': not found", name);
		goto done;
	}
	if (status != 200) {
		char *m = answer_message(&x, status);
		ret = mc_error_set(MC_ERR, "inspect of image '%s': %s", name, m);
		free(m);
		goto done;
	}
	root = json_loadb(mc_buf_cstr(&x.body), x.body.len, 0, NULL);
	if (image_from_json(&img, root)) {
		ret = mc_error_set(MC_ERR, "inspect of image '%s': no image id in the answer", name);
		goto done;
	}
	if (out) {
		mc_image_release(out);
		*out = img;
		memset(&img, 0, sizeof(img));
	}
done:
	mc_image_release(&img);
	json_decref(root);
	free(n);
	mc_buf_release(&url);
	xfer_release(&x);
	return ret;
}

void mc_image_release(struct mc_image *img)
{
	if (!img)
		return;
	mc_strv_release(&img->tags);
	mc_strv_release(&img->labels);
	mc_strv_release(&img->layers);
	memset(img, 0, sizeof(*img));
}

const char *mc_image_label(const struct mc_image *img, const char *name)
{
	size_t n = strlen(name);

	for (size_t i = 0; i < img->labels.n; i++)
		if (!strncmp(img->labels.v[i], name, n) && img->labels.v[i][n] == '=')
			return img->labels.v[i] + n + 1;
	return NULL;
}

int mc_engine_image_tag(struct mc_engine *e, const char *src, const char *repo, const char *tag)
{
	struct xfer x = { 0 };
	struct mc_buf url = MC_BUF_INIT;
	char *n = esc(e, src);
	long status;
	int ret;

	mc_buf_addf(&url, "%s/images/%s/tag", e->base, n);
	add_query(e, &url, "repo", repo);
	if (tag && *tag)
		add_query(e, &url, "tag", tag);
	ret = perform(e, &x, "POST", url.ptr, NULL, T_SHORT, &status);
	if (ret)
		goto done;
	if (status == 404) {
		ret = mc_error_set(MC_ENOTFOUND, "tag of image '%s': not found", src);
	} else if (status != 201 && status != 200) {
		char *m = answer_message(&x, status);
		ret = mc_error_set(MC_ERR, "tag of image '%s' as '%s:%s': %s", src, repo,
				   tag && *tag ? tag : "latest", m);
		free(m);
	}
done:
	free(n);
	mc_buf_release(&url);
	xfer_release(&x);
	return ret;
}

int mc_engine_image_remove(struct mc_engine *e, const char *name, int force)
{
	struct xfer x = { 0 };
	struct mc_buf url = MC_BUF_INIT;
	char *n = esc(e, name);
	long status;
	int ret;

	mc_buf_addf(&url, "%s/images/%s", e->base, n);
	if (force)
		mc_buf_adds(&url, "?force=1");
	ret = perform(e, &x, "DELETE", url.ptr, NULL, T_SHORT, &status);
	if (ret)
		goto done;
	if (status == 404) {
		ret = mc_error_set(MC_ENOTFOUND, "image '%s': not found", name);
	} else if (status == 409) {
		char *m = answer_message(&x, status);
		ret = mc_error_set(MC_ELOCKED, "removal of image '%s': %s", name, m);
		free(m);
	} else if (status != 200) {
		char *m = answer_message(&x, status);
		ret = mc_error_set(MC_ERR, "removal of image '%s': %s", name, m);
		free(m);
	}
done:
	free(n);
	mc_buf_release(&url);
	xfer_release(&x);
	return ret;
}

/* The message of a streamed {"error":…,"errorDetail":{"message":…}} line, or NULL. */
static const char *line_error(json_t *obj)
{
	const char *m = json_string_value(json_object_get(json_object_get(obj, "errorDetail"), "message"));

	if (!m || !*m)
		m = json_string_value(json_object_get(obj, "error"));
	if (!m && json_object_get(obj, "error"))
		m = "unknown error";
	return m;
}

struct pull_state {
	const char *ref;
	char *error;
};

static int pull_line(struct xfer *x, json_t *obj, const char *raw, size_t n)
{
	struct pull_state *ps = x->ud;
	const char *m = obj ? line_error(obj) : NULL;

	if (m && !ps->error)
		ps->error = mc_strdup(m);
	return 0;
}

/* Splits ref for /images/create: the ':' of a registry port is not a tag. */
static void split_ref(const char *ref, char **name, char **tag)
{
	const char *slash = strrchr(ref, '/');
	const char *colon = strrchr(slash ? slash : ref, ':');

	if (strchr(ref, '@')) {
		*name = mc_strdup(ref);
		*tag = NULL;
	} else if (colon) {
		*name = mc_strndup(ref, (size_t)(colon - ref));
		*tag = mc_strdup(colon + 1);
	} else {
		*name = mc_strdup(ref);
		*tag = mc_strdup("latest");
	}
}

/* Pulls and pushes carry X-Registry-Auth always ("{}" without credentials:
 * 20.10 answers 400 to a push without it) and no Content-Type. *auth owns the
 * credential's header line: the caller wipes and frees it. */
static struct curl_slist *registry_auth_headers(struct curl_slist *h, char **auth, const char *xauth)
{
	*auth = mc_asprintf("X-Registry-Auth: %s", xauth && *xauth ? xauth : "e30=");
	h = curl_slist_append(h, *auth);
	return curl_slist_append(h, "Content-Type:");
}

/* xauth: the X-Registry-Auth value (NULL: the empty "{}"), never logged. */
static int pull(struct mc_engine *e, const char *ref, const char *platform, const char *xauth)
{
	struct xfer x = { 0 };
	struct mc_buf url = MC_BUF_INIT;
	struct pull_state ps = { ref, NULL };
	struct curl_slist *h = NULL;
	char *name = NULL, *tag = NULL, *auth = NULL;
	long status;
	int ret;

	split_ref(ref, &name, &tag);
	if (!*name || (tag && !*tag)) {
		ret = mc_error_set(MC_EINVAL, "pull of '%s': not an image reference", ref);
		goto done;
	}
	mc_buf_addf(&url, "%s/images/create", e->base);
	add_query(e, &url, "fromImage", name);
	if (tag)
		add_query(e, &url, "tag", tag);
	if (platform && *platform)
		add_query(e, &url, "platform", platform);
	h = registry_auth_headers(h, &auth, xauth);
	x.on_line = pull_line;
	x.ud = &ps;
	x.stall_ms = e->transfer_idle_ms; /* the engine sends progress lines while bytes move */
	ret = perform(e, &x, "POST", url.ptr, h, T_STREAM, &status);
	if (ret)
		goto done;
	if (status != 200) {
		char *m = answer_message(&x, status);
		ret = mc_error_set(status == 404 ? MC_ENOTFOUND : MC_ERR, "pull of '%s': %s", ref, m);
		free(m);
		goto done;
	}
	if (ps.error) {
		ret = mc_error_set(MC_ERR, "pull of '%s': %s", ref, ps.error);
		goto done;
	}
done:
	curl_slist_free_all(h);
	if (auth)
		memset(auth, 0, strlen(auth));
	free(auth);
	free(ps.error);
	free(name);
	free(tag);
	mc_buf_release(&url);
	xfer_release(&x);
	return ret;
}

int mc_engine_image_pull(struct mc_engine *e, const char *ref, const char *platform)
{
	return pull(e, ref, platform, NULL);
}

/* Build output: the last LOG_LINES text lines, a ring of owned strings. */
struct build_state {
	const struct mc_build_req *req;
	char id[80];
	char *error;
	char *ring[LOG_LINES];
	size_t head, count;
};

static void ring_push(struct build_state *bs, const char *s, size_t n)
{
	size_t slot;

	while (n && (s[n - 1] == '\r' || s[n - 1] == '\n'))
		n--;
	if (!n)
		return;
	slot = (bs->head + bs->count) % LOG_LINES;
	if (bs->count == LOG_LINES) {
		free(bs->ring[bs->head]);
		bs->head = (bs->head + 1) % LOG_LINES;
		slot = (bs->head + LOG_LINES - 1) % LOG_LINES;
	} else {
		bs->count++;
	}
	bs->ring[slot] = mc_strndup(s, n);
}

static void ring_text(struct build_state *bs, const char *text)
{
	const char *p = text, *nl;

	while ((nl = strchr(p, '\n'))) {
		ring_push(bs, p, (size_t)(nl - p));
		p = nl + 1;
	}
	ring_push(bs, p, strlen(p));
}

static int build_line(struct xfer *x, json_t *obj, const char *raw, size_t n)
{
	struct build_state *bs = x->ud;
	const struct mc_build_req *req = bs->req;
	const char *m, *s, *id;
	json_t *aux;

	if (!obj) {
		ring_push(bs, raw, n);
		return 0;
	}
	m = line_error(obj);
	if (m) {
		if (!bs->error)
			bs->error = mc_strdup(m);
		ring_text(bs, m);
		if (req->progress)
			req->progress(req->ud, 'e', m);
		return 0;
	}
	s = json_string_value(json_object_get(obj, "stream"));
	if (s) {
		ring_text(bs, s);
		if (req->progress)
			req->progress(req->ud, 's', s);
	}
	aux = json_object_get(obj, "aux");
	id = json_string_value(json_object_get(obj, "id"));
	if (json_is_string(aux) && id && !strcmp(id, "moby.buildkit.trace")) {
		if (req->progress)
			req->progress(req->ud, 't', json_string_value(aux));
	} else if (json_is_object(aux)) {
		const char *img = json_string_value(json_object_get(aux, "ID"));
		if (img && *img && strlen(img) < sizeof(bs->id))
			memcpy(bs->id, img, strlen(img) + 1);
	}
	return 0;
}

/* POST /build/cancel?id=: 0 when the engine answered 200. */
static int build_cancel(struct mc_engine *e, const char *id)
{
	struct xfer x = { 0 };
	struct mc_buf url = MC_BUF_INIT;
	long status = 0;
	int ret;

	mc_buf_addf(&url, "%s/build/cancel", e->base);
	add_query(e, &url, "id", id);
	ret = perform(e, &x, "POST", url.ptr, NULL, T_SHORT, &status);
	if (!ret && status != 200)
		ret = MC_EENGINE;
	mc_buf_release(&url);
	xfer_release(&x);
	return ret;
}

/* "K=V" strings as a compact JSON object, for buildargs and labels. */
static int kv_json(char **out, const struct mc_strv *kv, const char *what)
{
	json_t *o = json_object();
	size_t i;
	int ret = 0;

	*out = NULL;
	for (i = 0; i < kv->n; i++) {
		const char *eq = strchr(kv->v[i], '=');
		char *k;
		if (!eq || eq == kv->v[i]) {
			ret = mc_error_set(MC_EINVAL, "%s '%s': not KEY=VALUE", what, kv->v[i]);
			goto done;
		}
		k = mc_strndup(kv->v[i], (size_t)(eq - kv->v[i]));
		json_object_set_new(o, k, json_string(eq + 1));
		free(k);
	}
	*out = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
	if (!*out)
		ret = mc_error_set(MC_EINVAL, "%s: not valid UTF-8", what);
done:
	json_decref(o);
	return ret;
}

int mc_engine_build(struct mc_engine *e, const struct mc_build_req *req, char out_id[80],
		    struct mc_buf *log)
{
	struct xfer x = { 0 };
	struct mc_buf url = MC_BUF_INIT;
	struct build_state bs = { 0 };
	struct curl_slist *h = NULL;
	char *args = NULL, *labels = NULL;
	const char *subject = req->tags && req->tags[0] ? req->tags[0] : req->dockerfile;
	long status;
	size_t i;
	int ret = 0;

	out_id[0] = 0;
	bs.req = req;
	if (!subject)
		subject = "Dockerfile";
	if (req->build_args && req->build_args->n && (ret = kv_json(&args, req->build_args, "build arg")))
		goto done;
	if (req->labels && req->labels->n && (ret = kv_json(&labels, req->labels, "label")))
		goto done;

	mc_buf_addf(&url, "%s/build", e->base);
	for (i = 0; req->tags && req->tags[i]; i++)
		add_query(e, &url, "t", req->tags[i]);
	if (req->dockerfile && *req->dockerfile)
		add_query(e, &url, "dockerfile", req->dockerfile);
	add_query(e, &url, "version", e->buildkit && !req->classic ? "2" : "1");
	add_query(e, &url, "pull", "0");
	add_query(e, &url, "rm", "1");
	add_query(e, &url, "forcerm", "1");
	if (req->networkmode && *req->networkmode)
		add_query(e, &url, "networkmode", req->networkmode);
	if (req->build_id && *req->build_id)
		add_query(e, &url, "buildid", req->build_id);
	if (req->platform && *req->platform)
		add_query(e, &url, "platform", req->platform);
	if (args)
		add_query(e, &url, "buildargs", args);
	if (labels)
		add_query(e, &url, "labels", labels);
	if (req->cache_from && req->cache_from->n) {
		json_t *a = json_array();
		char *text;
		for (i = 0; i < req->cache_from->n; i++)
			json_array_append_new(a, json_string(req->cache_from->v[i]));
		text = json_dumps(a, JSON_COMPACT);
		add_query(e, &url, "cachefrom", text);
		free(text);
		json_decref(a);
	}

	/* x-tar always (else Go parses the body as a form); no 100-continue stall. */
	h = curl_slist_append(h, "Content-Type: application/x-tar");
	h = curl_slist_append(h, "Transfer-Encoding: chunked");
	h = curl_slist_append(h, "Expect:");
	x.ctx = req->context;
	x.on_line = build_line;
	x.ud = &bs;
	x.stall_ms = req->stall_ms;
	x.ceiling_ms = req->ceiling_ms;
	ret = perform(e, &x, "POST", url.ptr, h, T_STREAM, &status);
	if (ret && x.gate != GATE_NONE) {
		/* the request is closed, which cancels the build's context in the
		 * engine; cancelling by id as well confirms the engine let it go */
		char *msg = mc_strdup(mc_error_msg());
		int cancelled = req->build_id && *req->build_id && !build_cancel(e, req->build_id);
		ret = mc_error_set(MC_EBUILD, "build of '%s': %s (%s; %s)", subject, msg,
				   x.gate == GATE_STALL ? "build_stall_grace" : "build_timeout",
				   cancelled ? "cancelled in the engine" : "request closed");
		free(msg);
		goto done;
	}
	if (ret)
		goto done;
	if (status != 200) {
		char *m = answer_message(&x, status);
		ring_text(&bs, m);
		ret = mc_error_set(MC_EBUILD, "build of '%s': %s", subject, m);
		free(m);
		goto done;
	}
	if (bs.error) {
		ret = mc_error_set(MC_EBUILD, "build of '%s': %s", subject, bs.error);
		goto done;
	}
	if (!bs.id[0]) {
		ret = mc_error_set(MC_EBUILD, "build of '%s': the engine reported no image id", subject);
		goto done;
	}
	memcpy(out_id, bs.id, sizeof(bs.id));
done:
	for (i = 0; i < bs.count; i++) {
		char *line = bs.ring[(bs.head + i) % LOG_LINES];
		if (log)
			mc_buf_addf(log, "%s\n", line);
		free(line);
	}
	curl_slist_free_all(h);
	free(bs.error);
	free(args);
	free(labels);
	mc_buf_release(&url);
	xfer_release(&x);
	return ret;
}

int mc_engine_image_list(struct mc_image **out, size_t *n, struct mc_engine *e, const struct mc_strv *labels, int all)
{
	struct mc_buf path = MC_BUF_INIT;
	struct mc_image *v = NULL;
	json_t *list = NULL, *o;
	size_t i, len = 0;
	int ret;

	*out = NULL;
	*n = 0;
	mc_buf_adds(&path, all ? "/images/json?all=1" : "/images/json");
	if (labels && labels->n) {
		json_t *filter = json_object(), *a = json_array();
		char *text, *q;
		for (i = 0; i < labels->n; i++)
			json_array_append_new(a, json_string(labels->v[i]));
		json_object_set_new(filter, "label", a);
		/* the label values (a prefix URL, build args) may hold anything:
		 * jansson writes the JSON, curl escapes it for the query */
		if (!(text = json_dumps(filter, JSON_COMPACT)))
			MC_BUG("json_dumps failed");
		q = esc(e, text);
		mc_buf_addf(&path, "%cfilters=%s", all ? '&' : '?', q);
		free(q);
		free(text);
		json_decref(filter);
	}
	if ((ret = get_json(&list, e, mc_buf_cstr(&path))))
		goto done;
	if (!json_is_array(list)) {
		ret = mc_error_set(MC_EENGINE, "engine GET /images/json: not a list");
		goto done;
	}
	v = mc_calloc(json_array_size(list) + 1, sizeof(*v));
	json_array_foreach(list, i, o)
		len += !image_from_json(&v[len], o);
	*out = v;
	*n = len;
	v = NULL;
done:
	mc_images_free(v, len);
	json_decref(list);
	mc_buf_release(&path);
	return ret;
}

void mc_images_free(struct mc_image *v, size_t n)
{
	for (size_t i = 0; v && i < n; i++)
		mc_image_release(&v[i]);
	free(v);
}

int mc_engine_image_history(struct mc_image_step **out, size_t *n, struct mc_engine *e, const char *name)
{
	struct mc_image_step *v = NULL;
	char *q = esc(e, name), *path = mc_asprintf("/images/%s/history", q);
	json_t *list = NULL, *o;
	size_t i, len = 0;
	int ret;

	*out = NULL;
	*n = 0;
	if ((ret = get_json(&list, e, path)))
		goto done;
	if (!json_is_array(list)) {
		ret = mc_error_set(MC_EENGINE, "history of image '%s': not a list", name);
		goto done;
	}
	len = json_array_size(list);
	v = mc_calloc(len + 1, sizeof(*v));
	json_array_foreach(list, i, o) {
		const char *by = json_string_value(json_object_get(o, "CreatedBy"));
		v[i].size = (int64_t)json_integer_value(json_object_get(o, "Size"));
		v[i].created_by = by ? mc_strdup(by) : NULL;
	}
	*out = v;
	*n = len;
	v = NULL;
done:
	mc_image_steps_free(v, len);
	json_decref(list);
	free(path);
	free(q);
	return ret;
}

void mc_image_steps_free(struct mc_image_step *v, size_t n)
{
	for (size_t i = 0; v && i < n; i++)
		free(v[i].created_by);
	free(v);
}

/* ---- registry transfers (fleet sharing) ------------------------------------- */

int mc_engine_image_pull_auth(struct mc_engine *e, const char *ref, const char *platform, const char *xauth)
{
	return pull(e, ref, platform, xauth);
}

struct push_state {
	char *error;
	char digest[80];
	mc_push_progress_fn progress;
	void *ud;
	int64_t last_ms;
};

static int push_line(struct xfer *x, json_t *obj, const char *raw, size_t n)
{
	struct push_state *ps = x->ud;
	const char *m = obj ? line_error(obj) : NULL, *st, *id;
	json_t *detail, *aux;

	if (m) {
		if (!ps->error)
			ps->error = mc_strdup(m);
		return 0;
	}
	aux = json_object_get(obj, "aux");
	if (json_is_string(json_object_get(aux, "Digest")))
		snprintf(ps->digest, sizeof(ps->digest), "%s", json_string_value(json_object_get(aux, "Digest")));
	st = json_string_value(json_object_get(obj, "status"));
	id = json_string_value(json_object_get(obj, "id"));
	detail = json_object_get(obj, "progressDetail");
	if (!st || !ps->progress)
		return 0;
	if (json_integer_value(json_object_get(detail, "total")) > 0) {
		/* byte counts arrive many times a second: one line a second is enough */
		int64_t now = mc_mono_ms();
		if (now - ps->last_ms < 1000)
			return 0;
		ps->last_ms = now;
		char *t = mc_asprintf("%s%s%s %lld/%lld bytes", id ? id : "", id ? ": " : "", st,
				      (long long)json_integer_value(json_object_get(detail, "current")),
				      (long long)json_integer_value(json_object_get(detail, "total")));
		ps->progress(ps->ud, t);
		free(t);
	} else {
		char *t = mc_asprintf("%s%s%s", id ? id : "", id ? ": " : "", st);
		ps->progress(ps->ud, t);
		free(t);
	}
	return 0;
}

int mc_engine_image_push(struct mc_engine *e, const char *name, const char *tag, const char *xauth,
			 mc_push_progress_fn progress, void *ud, char digest[80])
{
	struct xfer x = { 0 };
	struct mc_buf url = MC_BUF_INIT;
	struct push_state ps = { .progress = progress, .ud = ud };
	struct curl_slist *h = NULL;
	char *n = esc(e, name), *auth = NULL;
	long status;
	int ret;

	if (digest)
		digest[0] = 0;
	mc_buf_addf(&url, "%s/images/%s/push", e->base, n);
	add_query(e, &url, "tag", tag);
	h = registry_auth_headers(h, &auth, xauth);
	x.on_line = push_line;
	x.ud = &ps;
	x.stall_ms = e->transfer_idle_ms;
	if ((ret = perform(e, &x, "POST", url.ptr, h, T_STREAM, &status)))
		goto done;
	if (status != 200) {
		char *m = answer_message(&x, status);
		ret = mc_error_set(status == 404 ? MC_ENOTFOUND : MC_ERR, "push of '%s:%s': %s", name, tag, m);
		free(m);
		goto done;
	}
	if (ps.error) {
		ret = mc_error_set(MC_ERR, "push of '%s:%s': %s", name, tag, ps.error);
		goto done;
	}
	if (digest)
		memcpy(digest, ps.digest, sizeof(ps.digest));
done:
	curl_slist_free_all(h);
	if (auth)
		memset(auth, 0, strlen(auth));
	free(auth);
	free(ps.error);
	free(n);
	mc_buf_release(&url);
	xfer_release(&x);
	return ret;
}

int mc_engine_image_json(json_t **out, struct mc_engine *e, const char *name)
{
	char *n = esc(e, name), *path = mc_asprintf("/images/%s/json", n);
	int ret = get_json(out, e, path);

	free(path);
	free(n);
	return ret;
}
