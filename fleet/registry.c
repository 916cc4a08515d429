/* registry.c — the OCI distribution API with libcurl: tag lookups, token and basic auth, listing, deletes. */
#include "registry.h"
#include "../net/net.h"

#include <ctype.h>
#include <curl/curl.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#define BODY_MAX (8u << 20)
#define TOTAL_TIMEOUT_S 300L
#define PAGES_MAX 1000

static const char *const ACCEPT_MANIFESTS =
	"Accept: application/vnd.oci.image.index.v1+json, application/vnd.oci.image.manifest.v1+json, "
	"application/vnd.docker.distribution.manifest.list.v2+json, "
	"application/vnd.docker.distribution.manifest.v2+json";

/* ---- WWW-Authenticate ------------------------------------------------------ */

void mc_challenge_release(struct mc_challenge *c)
{
	if (!c)
		return;
	free(c->realm);
	free(c->service);
	free(c->scope);
	free(c->error);
	free(c->error_description);
	memset(c, 0, sizeof(*c));
}

static int is_token_char(int c) { return c > 0x20 && c < 0x7f && !strchr("\",;=\\", c); }

int mc_registry_parse_challenge(struct mc_challenge *out, const char *h, size_t len)
{
	size_t i = 0, n;
	int ret = 0;

	memset(out, 0, sizeof(*out));
	while (i < len && (h[i] == ' ' || h[i] == '\t'))
		i++;
	for (n = 0; i + n < len && isalpha((unsigned char)h[i + n]);)
		n++;
	if (!n || n >= sizeof(out->scheme) || (i + n < len && h[i + n] != ' ' && h[i + n] != '\t'))
		return mc_error_set(MC_EINVAL, "WWW-Authenticate: no auth scheme");
	memcpy(out->scheme, h + i, n);
	out->scheme[n] = 0;
	i += n;
	for (;;) {
		struct mc_buf val = MC_BUF_INIT;
		const char *name;
		size_t nlen;

		while (i < len && (h[i] == ' ' || h[i] == '\t' || h[i] == ','))
			i++;
		if (i >= len)
			break;
		name = h + i;
		for (nlen = 0; i < len && is_token_char((unsigned char)h[i]); i++)
			nlen++;
		while (i < len && (h[i] == ' ' || h[i] == '\t'))
			i++;
		if (!nlen || i >= len || h[i] != '=') {
			ret = mc_error_set(MC_EINVAL, "WWW-Authenticate: want name=value at offset %zu", i);
			goto fail;
		}
		i++;
		while (i < len && (h[i] == ' ' || h[i] == '\t'))
			i++;
		if (i < len && h[i] == '"') {
			for (i++; i < len && h[i] != '"'; i++) {
				if (h[i] == '\\' && i + 1 < len)
					i++;
				if (!h[i]) {
					mc_buf_release(&val);
					ret = mc_error_set(MC_EINVAL, "WWW-Authenticate: NUL in a value");
					goto fail;
				}
				mc_buf_add(&val, h + i, 1);
			}
			if (i >= len) {
				mc_buf_release(&val);
				ret = mc_error_set(MC_EINVAL, "WWW-Authenticate: unterminated quoted value");
				goto fail;
			}
			i++;
		} else {
			for (; i < len && is_token_char((unsigned char)h[i]); i++)
				mc_buf_add(&val, h + i, 1);
		}
		if (i < len && h[i] != ',' && h[i] != ' ' && h[i] != '\t') {
			mc_buf_release(&val);
			ret = mc_error_set(MC_EINVAL, "WWW-Authenticate: junk after a value at offset %zu", i);
			goto fail;
		}
		mc_buf_adds(&val, "");
		char **slot = nlen == 5 && !strncasecmp(name, "realm", 5)     ? &out->realm
			      : nlen == 7 && !strncasecmp(name, "service", 7) ? &out->service
			      : nlen == 5 && !strncasecmp(name, "scope", 5)   ? &out->scope
			      : nlen == 5 && !strncasecmp(name, "error", 5)   ? &out->error
			      : nlen == 17 && !strncasecmp(name, "error_description", 17) ? &out->error_description
											  : NULL;
		if (slot) {
			free(*slot);
			*slot = mc_buf_detach(&val);
		}
		mc_buf_release(&val);
	}
	if (!strcasecmp(out->scheme, "bearer") && (!out->realm || !*out->realm))
		ret = mc_error_set(MC_EINVAL, "WWW-Authenticate: a Bearer challenge without a realm");
fail:
	if (ret)
		mc_challenge_release(out);
	return ret;
}

/* ---- docker config.json, X-Registry-Auth -------------------------------------- */

/* "https://host/v1/" → "host": the auths key's host part. */
static int auths_key_is(const char *key, const char *host)
{
	size_t n;
	if (!strncmp(key, "https://", 8))
		key += 8;
	else if (!strncmp(key, "http://", 7))
		key += 7;
	n = strcspn(key, "/");
	return n == strlen(host) && !strncmp(key, host, n);
}

int mc_registry_docker_auth(char **user, char **password, const char *text, size_t len, const char *host)
{
	json_t *root = json_loadb(text, len, 0, NULL), *auths, *v;
	struct mc_buf plain = MC_BUF_INIT;
	const char *k, *auth = NULL;
	char *colon;
	int ret = MC_ENOTFOUND;

	*user = *password = NULL;
	if (!json_is_object(root)) {
		ret = mc_error_set(MC_EINVAL, "docker config: not a JSON object");
		goto done;
	}
	auths = json_object_get(root, "auths");
	json_object_foreach(auths, k, v)
		if (auths_key_is(k, host) && json_is_string(json_object_get(v, "auth")))
			auth = json_string_value(json_object_get(v, "auth"));
	if (!auth || !*auth) {
		mc_error_set(MC_ENOTFOUND, "docker config: no credentials for '%s'", host);
		goto done;
	}
	if (mc_base64_decode(&plain, auth, strlen(auth)) || !plain.len || memchr(plain.ptr, 0, plain.len) ||
	    !(colon = strchr(plain.ptr, ':')) || colon == plain.ptr) {
		/* never quote the value: it is the secret */
		ret = mc_error_set(MC_EINVAL, "docker config: the auth of '%s' is not base64 of user:password", host);
		goto done;
	}
	*user = mc_strndup(plain.ptr, (size_t)(colon - plain.ptr));
	*password = mc_strdup(colon + 1);
	ret = 0;
done:
	if (plain.ptr)
		memset(plain.ptr, 0, plain.len);
	mc_buf_release(&plain);
	json_decref(root);
	return ret;
}

char *mc_registry_xauth(const char *user, const char *password, const char *host)
{
	json_t *o;
	char *text, *out;

	if (!user || !*user)
		return mc_strdup("e30=");
	o = json_object();
	json_object_set_new(o, "username", json_string(user));
	json_object_set_new(o, "password", json_string(password ? password : ""));
	json_object_set_new(o, "serveraddress", json_string(host));
	text = json_dumps(o, JSON_COMPACT);
	if (!text)
		MC_BUG("json_dumps failed");
	out = mc_base64_encode(text, strlen(text), 1);
	memset(text, 0, strlen(text));
	free(text);
	json_decref(o);
	return out;
}

static int is_loopback(const char *host)
{
	size_t n = host[0] == '[' ? strcspn(host, "]") + 1 : strcspn(host, ":");
	return (n == 9 && !strncmp(host, "localhost", 9)) || !strncmp(host, "127.", 4) ||
	       (n == 5 && !strncmp(host, "[::1]", 5));
}

int mc_registry_split(char **host, char **path, int *plain_http, const char *registry)
{
	const char *p = registry;
	int scheme = 0; /* 1 http, 2 https */
	size_t n;

	*host = *path = NULL;
	if (!strncmp(p, "http://", 7)) {
		p += 7;
		scheme = 1;
	} else if (!strncmp(p, "https://", 8)) {
		p += 8;
		scheme = 2;
	}
	n = strcspn(p, "/");
	if (!n || strpbrk(registry, " \t@?#"))
		return mc_error_set(MC_EINVAL, "registry '%.80s': want HOST[:PORT][/PATH]", registry);
	*host = mc_strndup(p, n);
	p += n;
	while (*p == '/')
		p++;
	n = strlen(p);
	while (n && p[n - 1] == '/')
		n--;
	*path = mc_strndup(p, n);
	*plain_http = scheme ? scheme == 1 : is_loopback(*host);
	return 0;
}

/* ---- the handle ---------------------------------------------------------------- */

struct mc_registry {
	CURL *curl;
	char *host, *path, *prefix, *base;
	char *user, *password;
	char *xauth;
	char *token; /* the last bearer token, and the scope it was asked for */
	char *token_scope;
	int basic;   /* the registry asked for basic auth */
	char errbuf[CURL_ERROR_SIZE];
	const char *send; /* a request body for the next call (marker uploads), NULL: none */
	size_t send_len;
};

const char *mc_registry_host(const struct mc_registry *r) { return r->host; }
const char *mc_registry_prefix(const struct mc_registry *r) { return r->prefix; }
const char *mc_registry_engine_auth(const struct mc_registry *r) { return r->xauth; }
int mc_registry_has_credentials(const struct mc_registry *r) { return r->user != NULL; }

static void wipe_free(char *s)
{
	if (s)
		memset(s, 0, strlen(s));
	free(s);
}

void mc_registry_free(struct mc_registry *r)
{
	if (!r)
		return;
	if (r->curl)
		curl_easy_cleanup(r->curl);
	free(r->host);
	free(r->path);
	free(r->prefix);
	free(r->base);
	free(r->user);
	wipe_free(r->password);
	wipe_free(r->xauth);
	wipe_free(r->token);
	free(r->token_scope);
	free(r);
}

/* ~/.docker/config.json ($DOCKER_CONFIG/config.json): the host's auths entry. */
static void docker_config_credentials(struct mc_registry *r)
{
	const char *dir = getenv("DOCKER_CONFIG"), *home = getenv("HOME");
	char *path = dir && *dir ? mc_asprintf("%s/config.json", dir)
				 : home && *home ? mc_asprintf("%s/.docker/config.json", home) : NULL;
	struct mc_buf text = MC_BUF_INIT;
	FILE *f = path ? fopen(path, "r") : NULL;
	char chunk[4096];
	size_t n;

	if (!f)
		goto done;
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0 && text.len < (1u << 20))
		mc_buf_add(&text, chunk, n);
	fclose(f);
	if (text.len && mc_registry_docker_auth(&r->user, &r->password, text.ptr, text.len, r->host))
		mc_error_clear(); /* none there, or unreadable: go without */
done:
	if (text.ptr)
		memset(text.ptr, 0, text.len);
	mc_buf_release(&text);
	free(path);
}

int mc_registry_open(struct mc_registry **out, const char *registry, const char *user, const char *password)
{
	struct mc_registry *r = mc_calloc(1, sizeof(*r));
	int plain = 0, ret;

	*out = NULL;
	if ((ret = mc_registry_split(&r->host, &r->path, &plain, registry)))
		goto done;
	r->prefix = *r->path ? mc_asprintf("%s/%s", r->host, r->path) : mc_strdup(r->host);
	r->base = mc_asprintf("%s://%s", plain ? "http" : "https", r->host);
	if (user && *user) {
		r->user = mc_strdup(user);
		r->password = mc_strdup(password ? password : "");
	} else {
		docker_config_credentials(r);
	}
	r->xauth = mc_registry_xauth(r->user, r->password, r->host);
	if (!(r->curl = curl_easy_init()))
		MC_BUG("curl_easy_init failed");
	*out = r;
	r = NULL;
done:
	mc_registry_free(r);
	return ret;
}

/* ---- one request ------------------------------------------------------------- */

struct resp {
	long status; /* the final HTTP status (0: none) */
	struct mc_buf body;
	char digest[80];
	char *www_auth;
	char *link;
	char *location; /* an upload's Location */
	int too_big;
};

static size_t on_body(char *data, size_t size, size_t nmemb, void *ud)
{
	struct resp *rs = ud;
	size_t n = size * nmemb;
	if (mc_buf_put(&rs->body, data, n)) {
		rs->too_big = 1;
		return 0;
	}
	return n;
}

static char *trimmed(const char *v, size_t n)
{
	while (n && (*v == ' ' || *v == '\t')) {
		v++;
		n--;
	}
	while (n && (v[n - 1] == '\r' || v[n - 1] == '\n' || v[n - 1] == ' '))
		n--;
	return mc_strndup(v, n);
}

static size_t on_head(char *data, size_t size, size_t nmemb, void *ud)
{
	struct resp *rs = ud;
	size_t n = size * nmemb, k;
	const char *colon = memchr(data, ':', n);

	if (n >= 5 && !strncmp(data, "HTTP/", 5)) {
		/* a new response (after a redirect): forget the last one's headers */
		rs->digest[0] = 0;
		free(rs->www_auth);
		free(rs->link);
		free(rs->location);
		rs->www_auth = rs->link = rs->location = NULL;
		return n;
	}
	if (!colon)
		return n;
	k = (size_t)(colon - data);
	if (k == 21 && !strncasecmp(data, "Docker-Content-Digest", 21)) {
		char *v = trimmed(colon + 1, n - k - 1);
		snprintf(rs->digest, sizeof(rs->digest), "%s", v);
		free(v);
	} else if (k == 16 && !strncasecmp(data, "WWW-Authenticate", 16) && !rs->www_auth) {
		rs->www_auth = trimmed(colon + 1, n - k - 1);
	} else if (k == 4 && !strncasecmp(data, "Link", 4)) {
		free(rs->link);
		rs->link = trimmed(colon + 1, n - k - 1);
	} else if (k == 8 && !strncasecmp(data, "Location", 8)) {
		free(rs->location);
		rs->location = trimmed(colon + 1, n - k - 1);
	}
	return n;
}

static void resp_release(struct resp *rs)
{
	mc_buf_release(&rs->body);
	free(rs->www_auth);
	free(rs->link);
	free(rs->location);
	memset(rs, 0, sizeof(*rs));
}

/* Transport: every failure is "unreachable", in curl's words (which never
 * carry our credentials: they travel in headers). */
static int perform(struct mc_registry *r, const char *method, const char *url, struct curl_slist *h,
		   const char *basic_user, const char *basic_pass, struct resp *rs, long *status)
{
	CURL *c = r->curl;
	CURLcode rc;
	struct mc_setopts so = MC_SETOPTS_INIT;
	struct mc_net_opts o = { url, r->errbuf, MC_REGISTRY_CONNECT_MS, TOTAL_TIMEOUT_S, MC_REGISTRY_IDLE_S };

	*status = 0;
	mc_buf_set_max(&rs->body, BODY_MAX);
	mc_net_setup(&so, c, &o);
	SETOPT(&so, c, CURLOPT_PROTOCOLS_STR, "http,https");
	SETOPT(&so, c, CURLOPT_WRITEFUNCTION, on_body);
	SETOPT(&so, c, CURLOPT_WRITEDATA, rs);
	SETOPT(&so, c, CURLOPT_HEADERFUNCTION, on_head);
	SETOPT(&so, c, CURLOPT_HEADERDATA, rs);
	SETOPT(&so, c, CURLOPT_USERAGENT, "molcache/" MC_VERSION);
	/* blobs may live behind a redirect; credentials set here are not sent on */
	SETOPT(&so, c, CURLOPT_FOLLOWLOCATION, 1L);
	SETOPT(&so, c, CURLOPT_MAXREDIRS, 5L);
	if (!strcmp(method, "HEAD"))
		SETOPT(&so, c, CURLOPT_NOBODY, 1L);
	else if (strcmp(method, "GET"))
		SETOPT(&so, c, CURLOPT_CUSTOMREQUEST, method);
	if (r->send && strcmp(method, "GET") && strcmp(method, "HEAD")) { /* not the token realm's GET */
		SETOPT(&so, c, CURLOPT_POSTFIELDS, r->send);
		SETOPT(&so, c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)r->send_len);
	}
	if (basic_user) {
		SETOPT(&so, c, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
		SETOPT(&so, c, CURLOPT_USERNAME, basic_user);
		SETOPT(&so, c, CURLOPT_PASSWORD, basic_pass ? basic_pass : "");
	}
	if (h)
		SETOPT(&so, c, CURLOPT_HTTPHEADER, h);
	if (so.rc != CURLE_OK)
		return mc_error_set(MC_ERR, "registry '%s': libcurl refused %s: %s", r->host, so.opt,
				    curl_easy_strerror(so.rc));
	rc = curl_easy_perform(c);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, status);
	if (rc != CURLE_OK) {
		int ret = mc_error_set(MC_EUNREACHABLE, "registry '%s': %s", r->host,
				       rs->too_big ? "answer too large" : r->errbuf[0] ? r->errbuf : curl_easy_strerror(rc));
		if (rc == CURLE_PEER_FAILED_VERIFICATION || rc == CURLE_SSL_CACERT_BADFILE || rc == CURLE_SSL_CONNECT_ERROR)
			mc_error_hint("TLS failed; if the registry's certificate comes from a private CA, set MOLCACHE_CA_FILE "
				      "to that CA's PEM bundle (the engine needs it too: /etc/docker/certs.d/%s/ca.crt)",
				      r->host);
		return ret;
	}
	return 0;
}

/* Whether the realm may have our basic credentials: an https realm, or the
 * registry's own host and port when the registry itself is plain http on
 * loopback (a test or a local mirror). Anything else asks anonymously. */
static int realm_trusted(const struct mc_registry *r, const char *realm)
{
	CURLU *u = curl_url();
	char *scheme = NULL, *host = NULL, *port = NULL, *hp = NULL;
	int ok = 0;

	if (!u || curl_url_set(u, CURLUPART_URL, realm, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK)
		goto done;
	if (!strcasecmp(scheme, "https")) {
		ok = 1;
	} else if (!strcasecmp(scheme, "http") && !strncmp(r->base, "http://", 7) && is_loopback(r->host)) {
		if (curl_url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT) != CURLUE_OK)
			goto done;
		hp = mc_asprintf("%s:%s", host, port);
		ok = !strcasecmp(hp, r->host) || (!strcmp(port, "80") && !strcasecmp(host, r->host));
	}
done:
	curl_free(scheme);
	curl_free(host);
	curl_free(port);
	free(hp);
	curl_url_cleanup(u);
	return ok;
}

/* Asks the realm for a token for the challenge's scope (with our basic
 * credentials, if any, and if the realm may have them). */
static int fetch_token(struct mc_registry *r, const struct mc_challenge *ch)
{
	struct resp rs = { 0 };
	struct mc_buf url = MC_BUF_INIT;
	json_t *doc = NULL;
	const char *tok;
	long status;
	int ret, withheld;

	mc_buf_adds(&url, ch->realm);
	if (ch->service) {
		char *e = curl_easy_escape(r->curl, ch->service, 0);
		mc_buf_addf(&url, "%cservice=%s", strchr(ch->realm, '?') ? '&' : '?', e);
		curl_free(e);
	}
	if (ch->scope) {
		char *e = curl_easy_escape(r->curl, ch->scope, 0);
		mc_buf_addf(&url, "%cscope=%s", strchr(mc_buf_cstr(&url), '?') ? '&' : '?', e);
		curl_free(e);
	}
	withheld = r->user && !realm_trusted(r, ch->realm);
	if ((ret = perform(r, "GET", mc_buf_cstr(&url), NULL, withheld ? NULL : r->user, r->password, &rs, &status)))
		goto done;
	if (status != 200 && withheld) {
		ret = mc_error_set(MC_EUNREACHABLE, "registry '%s': credentials withheld from the token realm '%s' (not "
				   "https), and it refused an anonymous token (HTTP %ld)", r->host, ch->realm, status);
		mc_error_hint("a token realm gets credentials only over https (or as the registry's own plain-http "
			      "loopback address); fix the registry's auth.token.realm");
		goto done;
	} else if (status != 200) {
		ret = mc_error_set(MC_EUNREACHABLE, "registry '%s': the token service refused %s (HTTP %ld)", r->host,
				   r->user ? "our credentials" : "an anonymous token", status);
		mc_error_hint("set MOLCACHE_REGISTRY_USER and MOLCACHE_REGISTRY_PASSWORD (or docker login)");
		goto done;
	}
	doc = json_loadb(rs.body.ptr ? rs.body.ptr : "", rs.body.len, 0, NULL);
	tok = json_string_value(json_object_get(doc, "token"));
	if (!tok || !*tok)
		tok = json_string_value(json_object_get(doc, "access_token"));
	if (!tok || !*tok) {
		ret = mc_error_set(MC_EUNREACHABLE, "registry '%s': the token service gave no token", r->host);
		goto done;
	}
	wipe_free(r->token);
	free(r->token_scope);
	r->token = mc_strdup(tok);
	r->token_scope = mc_strdup(ch->scope ? ch->scope : "");
done:
	json_decref(doc);
	if (rs.body.ptr)
		memset(rs.body.ptr, 0, rs.body.len);
	resp_release(&rs);
	mc_buf_release(&url);
	return ret;
}

/* The words for a final 401 or 403: the challenge's RFC 6750 error when it
 * names one (an expired or revoked token is not refused credentials). */
static int refused(struct mc_registry *r, long status, const char *www_auth)
{
	struct mc_challenge ch = { 0 };
	int ret;

	if (status == 401 && www_auth && !mc_registry_parse_challenge(&ch, www_auth, strlen(www_auth)) && ch.error &&
	    !strcasecmp(ch.error, "invalid_token")) {
		ret = mc_error_set(MC_EUNREACHABLE, "registry '%s': it refused the token its token service gave, twice "
				   "(invalid_token%s%.200s)", r->host, ch.error_description ? ": " : "",
				   ch.error_description ? ch.error_description : "");
		mc_error_hint("the registry and its token service disagree: check their clocks (a token must not "
			      "expire at once) and the registry's auth.token issuer and rootcertbundle");
	} else {
		mc_error_clear();
		ret = mc_error_set(MC_EUNREACHABLE, "registry '%s': %s (HTTP %ld)", r->host,
				   r->user ? "our credentials were refused" : "it wants credentials", status);
		mc_error_hint("set MOLCACHE_REGISTRY_USER and MOLCACHE_REGISTRY_PASSWORD (or docker login)");
	}
	mc_challenge_release(&ch);
	return ret;
}

/*
 * One API call: method on path (under base), with extra header lines. A 401
 * is answered (bearer token or basic), and once more when the token it was
 * answered with is refused as invalid_token (expired, revoked): a fresh one is
 * asked for; at most 3 requests. Maps the final status: 2xx → 0, 404 →
 * MC_ENOTFOUND, 401/403 → MC_EUNREACHABLE (credentials, or the token), 5xx and
 * the rest → MC_EUNREACHABLE, 405 → MC_EINVAL.
 */
static int call(struct mc_registry *r, const char *method, const char *path, const char *accept, struct resp *rs)
{
	char *url = mc_asprintf("%s%s", r->base, path);
	struct mc_challenge ch = { 0 };
	long status = 0;
	int ret = 0;

	for (int attempt = 0; attempt < 3; attempt++) {
		struct curl_slist *h = NULL;
		char *bearer = NULL;
		if (accept)
			h = curl_slist_append(h, accept);
		if (r->token) {
			bearer = mc_asprintf("Authorization: Bearer %s", r->token);
			h = curl_slist_append(h, bearer);
		}
		resp_release(rs);
		ret = perform(r, method, url, h, !r->token && r->basic ? r->user : NULL, r->password, rs, &status);
		curl_slist_free_all(h);
		wipe_free(bearer);
		if (ret || status != 401 || attempt == 2)
			break;
		/* the challenge says how to authenticate */
		mc_challenge_release(&ch);
		if (!rs->www_auth || mc_registry_parse_challenge(&ch, rs->www_auth, strlen(rs->www_auth))) {
			mc_error_clear();
			break;
		}
		if (!strcasecmp(ch.scheme, "bearer")) {
			/* the token just fetched was refused: once more only if it is said to be invalid */
			if (attempt && !(ch.error && !strcasecmp(ch.error, "invalid_token")))
				break;
			if ((ret = fetch_token(r, &ch)))
				break;
		} else if (!strcasecmp(ch.scheme, "basic") && r->user && !r->basic) {
			r->basic = 1;
		} else {
			break;
		}
	}
	rs->status = status;
	if (ret)
		goto done;
	if (status >= 200 && status < 300)
		ret = 0;
	else if (status == 404)
		ret = mc_error_set(MC_ENOTFOUND, "registry '%s': %s %s: not found", r->host, method, path);
	else if (status == 401 || status == 403) {
		ret = refused(r, status, rs->www_auth);
	} else if (status == 405)
		ret = mc_error_set(MC_EINVAL, "registry '%s': %s %s is not allowed (HTTP 405)", r->host, method, path);
	else {
		ret = mc_error_set(MC_EUNREACHABLE, "registry '%s': %s %s answered HTTP %ld", r->host, method, path, status);
		/* Go's TLS server answers plain http with 400 */
		if (status == 400 && !strncmp(r->base, "http://", 7))
			mc_error_hint("if the registry speaks TLS, write it https://%s%s%s (a loopback registry is "
				      "spoken to over plain http unless written https://)", r->host, *r->path ? "/" : "",
				      r->path);
	}
done:
	mc_challenge_release(&ch);
	free(url);
	return ret;
}

/* Repository names and refs go into the path as they are: validate them. */
static int path_ok(const char *s, const char *extra)
{
	if (!s || !*s || strlen(s) > 255)
		return 0;
	for (const char *p = s; *p; p++)
		if (!isalnum((unsigned char)*p) && !strchr("._-/", *p) && !strchr(extra, *p))
			return 0;
	return !strstr(s, "..");
}

int mc_registry_manifest_head(struct mc_registry *r, const char *name, const char *ref, char *digest)
{
	struct resp rs = { 0 };
	char *path;
	int ret;

	if (!path_ok(name, "") || !path_ok(ref, ":"))
		return mc_error_set(MC_EINVAL, "registry: bad name '%.80s:%.80s'", name ? name : "", ref ? ref : "");
	path = mc_asprintf("/v2/%s/manifests/%s", name, ref);
	ret = call(r, "HEAD", path, ACCEPT_MANIFESTS, &rs);
	if (!ret && digest)
		snprintf(digest, 80, "%s", rs.digest);
	resp_release(&rs);
	free(path);
	return ret;
}

static int get_json(struct mc_registry *r, json_t **out, char *digest, const char *path, const char *accept)
{
	struct resp rs = { 0 };
	int ret = call(r, "GET", path, accept, &rs);

	*out = NULL;
	if (!ret) {
		*out = json_loadb(rs.body.ptr ? rs.body.ptr : "", rs.body.len, 0, NULL);
		if (!*out)
			ret = mc_error_set(MC_EUNREACHABLE, "registry '%s': GET %s: not JSON", r->host, path);
		else if (digest)
			snprintf(digest, 80, "%s", rs.digest);
	}
	resp_release(&rs);
	return ret;
}

int mc_registry_manifest_get(struct mc_registry *r, json_t **out, char *digest, const char *name, const char *ref)
{
	char *path;
	int ret;

	*out = NULL;
	if (!path_ok(name, "") || !path_ok(ref, ":"))
		return mc_error_set(MC_EINVAL, "registry: bad name '%.80s'", name ? name : "");
	path = mc_asprintf("/v2/%s/manifests/%s", name, ref);
	ret = get_json(r, out, digest, path, ACCEPT_MANIFESTS);
	free(path);
	return ret;
}

int mc_registry_blob_json(struct mc_registry *r, json_t **out, const char *name, const char *digest)
{
	char *path;
	int ret;

	*out = NULL;
	if (!path_ok(name, "") || !path_ok(digest, ":"))
		return mc_error_set(MC_EINVAL, "registry: bad name '%.80s'", name ? name : "");
	path = mc_asprintf("/v2/%s/blobs/%s", name, digest);
	ret = get_json(r, out, NULL, path, NULL);
	free(path);
	return ret;
}

/* The next page from a Link header: `</v2/…?last=x&n=y>; rel="next"`. */
static char *next_page(const char *link)
{
	const char *a, *b;
	if (!link || !(a = strchr(link, '<')) || !(b = strchr(a, '>')) || !strstr(b, "next") || a[1] != '/')
		return NULL;
	return mc_strndup(a + 1, (size_t)(b - a - 1));
}

/* GETs path and every next page, appending the strings of array field. */
static int paged_list(struct mc_registry *r, struct mc_strv *out, const char *first, const char *field,
		      const char *prefix)
{
	char *path = mc_strdup(first);
	int ret = 0;

	for (int page = 0; path && page < PAGES_MAX; page++) {
		struct resp rs = { 0 };
		json_t *doc, *v;
		size_t i;
		if ((ret = call(r, "GET", path, NULL, &rs))) {
			resp_release(&rs);
			break;
		}
		doc = json_loadb(rs.body.ptr ? rs.body.ptr : "", rs.body.len, 0, NULL);
		json_array_foreach(json_object_get(doc, field), i, v)
			if (json_is_string(v) && (!prefix || !strncmp(json_string_value(v), prefix, strlen(prefix))))
				mc_strv_push(out, json_string_value(v));
		json_decref(doc);
		free(path);
		path = next_page(rs.link);
		resp_release(&rs);
	}
	free(path);
	return ret;
}

int mc_registry_tags(struct mc_registry *r, struct mc_strv *out, const char *name)
{
	char *path;
	int ret;

	if (!path_ok(name, ""))
		return mc_error_set(MC_EINVAL, "registry: bad name '%.80s'", name ? name : "");
	path = mc_asprintf("/v2/%s/tags/list", name);
	ret = paged_list(r, out, path, "tags", NULL);
	free(path);
	return ret;
}

int mc_registry_catalog(struct mc_registry *r, struct mc_strv *out, const char *prefix)
{
	return paged_list(r, out, "/v2/_catalog?n=1000", "repositories", prefix && *prefix ? prefix : NULL);
}

int mc_registry_manifest_delete(struct mc_registry *r, const char *name, const char *digest)
{
	struct resp rs = { 0 };
	char *path;
	int ret;

	if (!path_ok(name, "") || !path_ok(digest, ":") || strncmp(digest, "sha256:", 7))
		return mc_error_set(MC_EINVAL, "registry: bad name '%.80s@%.80s'", name ? name : "", digest ? digest : "");
	path = mc_asprintf("/v2/%s/manifests/%s", name, digest);
	ret = call(r, "DELETE", path, NULL, &rs);
	if (ret == MC_EINVAL)
		mc_error_hint("the registry does not allow deletes (Distribution: storage.delete.enabled: true)");
	resp_release(&rs);
	free(path);
	return ret;
}

int mc_registry_tag_delete(struct mc_registry *r, const char *name, const char *tag)
{
	struct resp rs = { 0 };
	char *path;
	int ret;

	if (!path_ok(name, "") || !path_ok(tag, "") || strchr(tag, '/'))
		return mc_error_set(MC_EINVAL, "registry: bad name '%.80s:%.80s'", name ? name : "", tag ? tag : "");
	path = mc_asprintf("/v2/%s/manifests/%s", name, tag);
	ret = call(r, "DELETE", path, NULL, &rs);
	if (ret == MC_EINVAL) {
		mc_error_hint("the registry does not allow deletes (Distribution: storage.delete.enabled: true)");
	} else if (ret && rs.status >= 400 && rs.status < 500 && rs.status != 401 && rs.status != 403) {
		/* Distribution 2.x reads the tag as a digest: 400 DIGEST_INVALID */
		mc_error_clear();
		ret = 1;
	}
	resp_release(&rs);
	free(path);
	return ret;
}

/* "linux/arm64/v8" against an index entry's platform object. */
static int platform_is(json_t *p, const char *want)
{
	const char *os = json_string_value(json_object_get(p, "os"));
	const char *arch = json_string_value(json_object_get(p, "architecture"));
	const char *var = json_string_value(json_object_get(p, "variant"));
	char *have = mc_asprintf("%s/%s%s%s", os ? os : "", arch ? arch : "", var && *var ? "/" : "", var ? var : "");
	int same = !strcmp(have, want) || (!var && !strncmp(want, have, strlen(have)) && want[strlen(have)] == '/');
	free(have);
	return same;
}

int mc_registry_image_config(struct mc_registry *r, json_t **config, char *digest, const char *name,
			     const char *tag, const char *platform)
{
	json_t *m = NULL, *sub = NULL, *e;
	const char *cfg;
	size_t i;
	int ret;

	*config = NULL;
	if ((ret = mc_registry_manifest_get(r, &m, digest, name, tag)))
		goto done;
	if (json_is_array(json_object_get(m, "manifests"))) {
		const char *pick = NULL;
		json_array_foreach(json_object_get(m, "manifests"), i, e)
			if (!pick && (!platform || platform_is(json_object_get(e, "platform"), platform)))
				pick = json_string_value(json_object_get(e, "digest"));
		if (!pick) {
			ret = mc_error_set(MC_ENOTFOUND, "registry '%s': %s:%s has no image for %s", r->host, name, tag,
					   platform ? platform : "any platform");
			goto done;
		}
		if ((ret = mc_registry_manifest_get(r, &sub, NULL, name, pick)))
			goto done;
		json_decref(m);
		m = sub;
		sub = NULL;
	}
	cfg = json_string_value(json_object_get(json_object_get(m, "config"), "digest"));
	if (!cfg) {
		ret = mc_error_set(MC_ERR, "registry '%s': %s:%s: a manifest without a config", r->host, name, tag);
		goto done;
	}
	ret = mc_registry_blob_json(r, config, name, cfg);
done:
	json_decref(m);
	json_decref(sub);
	return ret;
}

/* ---- a call with a body, for the writes (registry_write.c) ---- */

int mc_registry_path_ok(const char *s, const char *extra) { return path_ok(s, extra); }

int mc_registry_send(struct mc_registry *r, const char *method, const char *path, const char *content_type,
		     const void *body, size_t n, char **location)
{
	struct resp rs = { 0 };
	char *ct = content_type ? mc_asprintf("Content-Type: %s", content_type) : NULL;
	int ret;

	r->send = body ? body : "";
	r->send_len = body ? n : 0;
	ret = call(r, method, path, ct, &rs); /* its one extra header line: the content type */
	r->send = NULL;
	r->send_len = 0;
	/* the registry answered, and did not take it: not a registry that is down */
	if (ret && rs.status >= 400 && rs.status != 401 && rs.status != 403) {
		json_t *doc = json_loadb(rs.body.ptr ? rs.body.ptr : "", rs.body.len, 0, NULL);
		json_t *first = json_array_get(json_object_get(doc, "errors"), 0);
		const char *code = json_string_value(json_object_get(first, "code"));
		ret = mc_error_set(MC_EINVAL, "registry '%s': %s %s was refused (HTTP %ld%s%.40s)", r->host, method, path,
				   rs.status, code ? ": " : "", code ? code : "");
		json_decref(doc);
	}
	if (location)
		*location = !ret && rs.location ? mc_strdup(rs.location) : NULL;
	resp_release(&rs);
	free(ct);
	return ret;
}
