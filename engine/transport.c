/* transport.c — the engine handle (DOCKER_HOST, /_ping, /version) and each request on its libcurl handle. */
#include "engine_int.h"

#include <errno.h>
#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#define API_OURS_MAJOR 1
#define API_OURS_MINOR 41
#define API_MIN_MINOR 39
#define SUN_PATH_MAX 107
#define CONNECT_MS 5000L
#define ERRBODY_MAX (64 * 1024)
/* A streamed line, or a whole answer, longer than this is no engine's: the transfer is aborted. */
#define BODY_MAX ((size_t)64 << 20)

void engine_xfer_release(struct xfer *x)
{
	mc_buf_release(&x->body);
	mc_buf_release(&x->pending);
	free(x->read_msg);
}

char *engine_esc(struct mc_engine *e, const char *s)
{
	char *t = curl_easy_escape(e->curl, s, 0);
	char *r;

	if (!t)
		MC_BUG("curl_easy_escape failed");
	r = mc_strdup(t);
	curl_free(t);
	return r;
}

void engine_add_query(struct mc_engine *e, struct mc_buf *url, const char *key, const char *val)
{
	char *v = engine_esc(e, val);

	mc_buf_addf(url, "%c%s=%s", strchr(mc_buf_cstr(url), '?') ? '&' : '?', key, v);
	free(v);
}

/* connect(2) on a unix socket needs write permission on it: a user outside
 * the socket's group (root:docker 0660) gets EACCES, which libcurl keeps as
 * the OS errno of the failed connect. */
static int socket_denied(struct mc_engine *e)
{
	long oserr = 0;
	curl_easy_getinfo(e->curl, CURLINFO_OS_ERRNO, &oserr);
	if (oserr == EACCES || oserr == EPERM)
		return 1;
	return access(e->sock, R_OK | W_OK) != 0 && (errno == EACCES || errno == EPERM);
}

static void socket_denied_error(struct mc_engine *e, const struct stat *st)
{
	struct group *g = getgrgid(st->st_gid);
	char gid[24];

	snprintf(gid, sizeof(gid), "%lu", (unsigned long)st->st_gid);
	mc_error_set(MC_EENGINE, "docker engine at '%s': permission denied: this user may not open the socket "
		     "(group '%s', mode %04o)", e->where, g ? g->gr_name : gid, (unsigned)(st->st_mode & 07777));
}

static int transport_error(struct mc_engine *e, CURLcode rc)
{
	struct stat st;
	const char *hint = HINT_START;
	/* curl's words for a unix socket speak of "localhost port 80": say what is wrong */
	if (e->sock && rc == CURLE_COULDNT_CONNECT && stat(e->sock, &st)) {
		if (errno == EACCES)
			hint = HINT_DENIED;
		mc_error_set(MC_EENGINE, "docker engine at '%s': %s", e->where, strerror(errno));
	} else if (e->sock && rc == CURLE_COULDNT_CONNECT && socket_denied(e)) {
		socket_denied_error(e, &st);
		hint = HINT_DENIED;
	} else if (e->sock && rc == CURLE_COULDNT_CONNECT) {
		mc_error_set(MC_EENGINE, "docker engine at '%s': nothing listens on the socket", e->where);
	} else {
		mc_error_set(MC_EENGINE, "docker engine at '%s': %s", e->where,
			     e->errbuf[0] ? e->errbuf : curl_easy_strerror(rc));
		if (rc == CURLE_PEER_FAILED_VERIFICATION || rc == CURLE_SSL_CONNECT_ERROR ||
		    rc == CURLE_SSL_CERTPROBLEM || rc == CURLE_SSL_CACERT_BADFILE || rc == CURLE_RECV_ERROR)
			hint = e->ep.tls ? "the engine's certificate must be signed by ca.pem, and it must accept "
					   "cert.pem and key.pem (DOCKER_CERT_PATH, or the context's TLS files; "
					   "docs/operations.md, Remote engines)"
					 : HINT_TLS;
	}
	mc_error_hint(hint);
	return MC_EENGINE;
}

char *engine_answer_message(const struct xfer *x, long status)
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
			if (!x->line_progress)
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
		if (mc_buf_put(&x->pending, data, n))
			return 0; /* a line over the cap: abort */
		drain_lines(x, 0);
		return n;
	}
	if (x->on_line && x->body.len + n > ERRBODY_MAX)
		return n; /* error text beyond this is noise */
	if (mc_buf_put(&x->body, data, n))
		return 0;
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
	if (mc_interrupted() && !x->finish)
		x->gate = GATE_INTR;
	else if (x->stall_ms > 0 && now - x->progress_ms >= x->stall_ms)
		x->gate = GATE_STALL;
	else if (x->ceiling_ms > 0 && now - x->started_ms >= x->ceiling_ms)
		x->gate = GATE_CEILING;
	return x->gate != GATE_NONE;
}

/* A tcp engine with TLS, as the docker CLI speaks to it: the client
 * certificate when there is one, the engine's checked against ca.pem unless
 * verification is off (DOCKER_TLS without DOCKER_TLS_VERIFY, SkipTLSVerify). */
static void tls_setup(struct mc_setopts *so, CURL *c, const struct mc_endpoint *ep)
{
	if (ep->ca)
		SETOPT(so, c, CURLOPT_CAINFO, ep->ca);
	if (ep->cert)
		SETOPT(so, c, CURLOPT_SSLCERT, ep->cert);
	if (ep->key)
		SETOPT(so, c, CURLOPT_SSLKEY, ep->key);
	SETOPT(so, c, CURLOPT_SSL_VERIFYPEER, ep->verify ? 1L : 0L);
	SETOPT(so, c, CURLOPT_SSL_VERIFYHOST, ep->verify ? 2L : 0L);
}

int engine_perform(struct mc_engine *e, struct xfer *x, const char *method, const char *url,
		   struct curl_slist *headers, int timeout, long *status)
{
	CURL *c = e->curl;
	CURLcode rc;
	struct curl_slist *own = NULL;
	struct mc_setopts so = MC_SETOPTS_INIT;
	struct mc_net_opts o = { url, e->errbuf, CONNECT_MS,
				 timeout == T_PING ? 30L : timeout == T_SHORT ? 600L : 0L, 0 };
	int ret = 0;

	*status = 0;
	x->e = e;
	mc_buf_set_max(&x->body, BODY_MAX);
	mc_buf_set_max(&x->pending, BODY_MAX);
	mc_net_setup(&so, c, &o);
	if (e->sock)
		SETOPT(&so, c, CURLOPT_UNIX_SOCKET_PATH, e->sock);
	if (e->ep.tls)
		tls_setup(&so, c, &e->ep);
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
	/* the gates, and a SIGINT or SIGTERM (mc_interrupted) ends any request */
	x->started_ms = x->progress_ms = mc_mono_ms();
	SETOPT(&so, c, CURLOPT_XFERINFOFUNCTION, on_xferinfo);
	SETOPT(&so, c, CURLOPT_XFERINFODATA, x);
	SETOPT(&so, c, CURLOPT_NOPROGRESS, 0L);
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
	if (rc == CURLE_ABORTED_BY_CALLBACK && x->gate == GATE_INTR) {
		ret = mc_interrupt_check();
		goto done;
	}
	if (rc == CURLE_ABORTED_BY_CALLBACK && x->gate != GATE_NONE) {
		char d[32];
		mc_format_duration_go(d, x->gate == GATE_STALL ? x->stall_ms : x->ceiling_ms);
		if (x->ctx || x->ceiling_ms) /* a build */
			ret = mc_error_set(MC_EBUILD, x->gate == GATE_STALL ? "no build progress for %s" : "build exceeded %s",
					   d);
		else /* a pull or a push the engine runs for us: its registry went silent, or fails again and again */
			ret = mc_error_set(MC_EUNREACHABLE, "no progress for %s (registry_stall; the engine's retries do not count)",
					   d);
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

const char *engine_line_error(json_t *obj)
{
	const char *m = json_string_value(json_object_get(json_object_get(obj, "errorDetail"), "message"));

	if (!m || !*m)
		m = json_string_value(json_object_get(obj, "error"));
	if (!m && json_object_get(obj, "error"))
		m = "unknown error";
	return m;
}

/* ---- the handle ---------------------------------------------------------- */

static int fetch_platform(struct mc_engine *e)
{
	struct xfer x = { 0 };
	struct mc_buf url = MC_BUF_INIT;
	json_t *root = NULL;
	const char *os, *arch, *variant;
	long status;
	int ret;

	mc_buf_addf(&url, "%s/version", e->base);
	ret = engine_perform(e, &x, "GET", url.ptr, NULL, T_PING, &status);
	if (ret)
		goto done;
	root = json_loadb(mc_buf_cstr(&x.body), x.body.len, 0, NULL);
	os = json_string_value(json_object_get(root, "Os"));
	arch = json_string_value(json_object_get(root, "Arch"));
	variant = json_string_value(json_object_get(root, "Variant"));
	if (status != 200 || !os || !arch || !*os || !*arch) {
		char *m = engine_answer_message(&x, status);
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
	engine_xfer_release(&x);
	return ret;
}

const char *mc_engine_api_version(const struct mc_engine *e)
{
	return e->api;
}

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

const char *mc_engine_context(const struct mc_engine *e) { return e->ep.context; }

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
	mc_endpoint_release(&e->ep);
	free(e);
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
		e->root = mc_asprintf("%s://%s", e->ep.tls ? "https" : "http", e->where);
	} else {
		ret = mc_error_set(MC_EINVAL, "docker host '%s': unsupported scheme", host);
		mc_error_hint("use unix:///path or tcp://host:port (for ssh, forward the socket with ssh -L)");
		goto done;
	}
done:
	return ret;
}

void mc_engine_set_transfer_idle(struct mc_engine *e, int64_t ms)
{
	e->transfer_idle_ms = ms > 0 ? ms : MC_ENGINE_TRANSFER_IDLE_MS;
}

int mc_engine_open(struct mc_engine **out, const char *host)
{
	struct mc_engine *e = mc_calloc(1, sizeof(*e));
	struct xfer x = { 0 };
	struct mc_buf url = MC_BUF_INIT;
	long status;
	int major, minor, ret;

	*out = NULL;
	if ((ret = mc_endpoint_resolve(&e->ep, host)) || (ret = parse_host(e, e->ep.host)))
		goto done;
	if ((ret = mc_net_global_init()))
		goto done;
	e->transfer_idle_ms = MC_ENGINE_TRANSFER_IDLE_MS;
	e->curl = curl_easy_init();
	if (!e->curl) {
		ret = mc_error_set(MC_ERR, "docker engine at '%s': curl_easy_init failed", e->where);
		goto done;
	}

	mc_buf_addf(&url, "%s/_ping", e->root);
	ret = engine_perform(e, &x, "GET", url.ptr, NULL, T_PING, &status);
	if (ret)
		goto done;
	if (status != 200) {
		char *m = engine_answer_message(&x, status);
		ret = mc_error_set(MC_EENGINE, "docker engine at '%s': /_ping: %s", e->where, m);
		/* Go's answer to plain http on a TLS port */
		mc_error_hint("%s", status == 400 && !e->ep.tls && strstr(m, "HTTPS") ? HINT_TLS : HINT_START);
		free(m);
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
	engine_xfer_release(&x);
	if (ret)
		mc_engine_free(e);
	else
		*out = e;
	return ret;
}

int engine_get_json(json_t **out, struct mc_engine *e, const char *path)
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
	ret = engine_perform(e, &x, "GET", url.ptr, NULL, T_SHORT, &st);
	if (status)
		*status = st;
	if (!ret && body)
		mc_buf_add(body, mc_buf_cstr(&x.body), x.body.len);
	mc_buf_release(&url);
	engine_xfer_release(&x);
	return ret;
}
