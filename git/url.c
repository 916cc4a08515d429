/* url.c — the one reader of a remote URL's credentials: what the key strips, what libgit2 is given and what messages mask all come from mc_url_userinfo(). */
#include "url.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = tolower(c);
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* URL userinfo is percent-encoded ("p%40ss" for "p@ss"); libgit2 wants the plain bytes. */
static char *pct_decode(const char *s, size_t n)
{
	char *out = mc_malloc(n + 1);
	size_t i, j = 0;

	for (i = 0; i < n; i++) {
		if (s[i] == '%' && i + 2 < n && hexval(s[i + 1]) >= 0 && hexval(s[i + 2]) >= 0) {
			out[j++] = (char)(hexval(s[i + 1]) * 16 + hexval(s[i + 2]));
			i += 2;
		} else {
			out[j++] = s[i];
		}
	}
	out[j] = '\0';
	return out;
}

/*
 * The rules (url.h has the contract):
 *  scheme://[userinfo@]host[:port][/path|?|#]  the authority ends at the first
 *      '/', '?' or '#', so an '@' in the path is not userinfo (RFC 3986);
 *      inside the authority the last '@' counts, passwords seen in the wild
 *      carry unencoded '@'.
 *  [userinfo@]host:path  scp-like git syntax (no "://", ':' before any '/'):
 *      the '@' is the last one before the first '/' that is followed by a
 *      host and the ':' ending it.
 */
int mc_url_userinfo(const char *url, size_t *start, size_t *end)
{
	const char *sep = strstr(url, "://");

	/* any "x://" before the first '/' counts as a scheme, even a malformed
	 * one: stripping too much is safer than leaking a token */
	if (sep && sep > url && strcspn(url, "/") == (size_t)(sep - url) + 1) {
		const char *auth = sep + 3;
		size_t alen = strcspn(auth, "/?#");
		const char *at = NULL;
		for (size_t i = 0; i < alen; i++)
			if (auth[i] == '@')
				at = auth + i;
		if (!at)
			return 0;
		*start = (size_t)(auth - url);
		*end = (size_t)(at - url) + 1;
		return 1;
	}
	/* scp-like */
	size_t rlen = strcspn(url, "/");
	for (size_t i = rlen; i-- > 0;) {
		if (url[i] != '@')
			continue;
		size_t h = i + 1;
		if (url[h] == '[') {
			while (h < rlen && url[h] != ']')
				h++;
			if (h < rlen)
				h++;
		} else {
			while (h < rlen && url[h] != ':' && url[h] != '@')
				h++;
		}
		if (h < rlen && url[h] == ':' && h > i + 1) {
			*start = 0;
			*end = i + 1;
			return 1;
		}
	}
	return 0;
}

int mc_url_credentials(struct mc_url_cred *out, const char *url)
{
	size_t start, end;

	memset(out, 0, sizeof(*out));
	if (!url || !mc_url_userinfo(url, &start, &end))
		return 0;
	const char *ui = url + start, *colon = memchr(ui, ':', end - 1 - start);
	size_t n = end - 1 - start;
	out->scp = start == 0;
	if (colon) {
		out->user = pct_decode(ui, (size_t)(colon - ui));
		out->pass = pct_decode(colon + 1, (size_t)(ui + n - colon - 1));
		out->raw = mc_strndup(colon + 1, (size_t)(ui + n - colon - 1));
	} else {
		out->user = pct_decode(ui, n);
		/* a lone name over http(s) is a token; in scp-like syntax, ssh's user name */
		out->raw = out->scp ? NULL : mc_strndup(ui, n);
	}
	return 1;
}

void mc_url_cred_release(struct mc_url_cred *c)
{
	if (!c)
		return;
	free(c->user);
	free(c->pass);
	free(c->raw);
	memset(c, 0, sizeof(*c));
}

static char *url_replace_userinfo(const char *url, const char *with)
{
	size_t start, end;
	struct mc_buf b = MC_BUF_INIT;

	if (!url)
		return NULL;
	if (!mc_url_userinfo(url, &start, &end))
		return mc_strdup(url);
	mc_buf_add(&b, url, start);
	mc_buf_adds(&b, with);
	mc_buf_adds(&b, url + end);
	return mc_buf_detach(&b);
}

char *mc_url_strip_credentials(const char *url) { return url_replace_userinfo(url, ""); }

char *mc_url_redact(const char *url) { return url_replace_userinfo(url, "***@"); }

/* A password may hold an unencoded '/', '?' or '#': by the RFC the authority
 * then ends early, the URL has no userinfo, and libgit2 calls it malformed and
 * quotes it whole. So when the RFC finds none, the text from "://" to the last
 * '@' is treated as a secret; masking a path that merely holds '@' is harmless. */
char *mc_url_secret_span(const char *url)
{
	size_t start, end;
	const char *sep = url ? strstr(url, "://") : NULL;
	const char *at = sep ? strrchr(sep + 3, '@') : NULL;
	if (!at || at - (sep + 3) < 4 || mc_url_userinfo(url, &start, &end))
		return NULL;
	return mc_strndup(sep + 3, (size_t)(at - sep - 3));
}

char *mc_redact_secret(const char *s, const char *secret)
{
	struct mc_buf b = MC_BUF_INIT;
	const char *p, *hit;
	size_t n;

	if (!s)
		return NULL;
	if (!secret || !*secret)
		return mc_strdup(s);
	n = strlen(secret);
	mc_buf_adds(&b, "");
	for (p = s; (hit = strstr(p, secret)); p = hit + n) {
		mc_buf_add(&b, p, (size_t)(hit - p));
		mc_buf_adds(&b, "***");
	}
	mc_buf_adds(&b, p);
	return mc_buf_detach(&b);
}


static const char *default_port(const char *scheme)
{
	return !strcmp(scheme, "https") ? "443" : !strcmp(scheme, "http") ? "80" : !strcmp(scheme, "git") ? "9418"
		: !strcmp(scheme, "ssh") ? "22" : "";
}

int mc_url_origin(struct mc_url_origin *out, const char *url)
{
	const char *sep = strstr(url, "://"), *auth, *host, *colon;
	size_t start, end, alen, hlen;

	memset(out, 0, sizeof(*out));
	if (!sep || sep == url || strcspn(url, "/") != (size_t)(sep - url) + 1)
		return mc_error_set(MC_EINVAL, "URL without a scheme");
	auth = sep + 3;
	alen = strcspn(auth, "/?#");
	if (mc_url_userinfo(url, &start, &end) && url + start == auth) {
		alen -= end - start;
		auth = url + end;
	}
	host = auth;
	if (*host == '[') { /* [v6]:port: libgit2 and libcurl name the host without brackets */
		hlen = strcspn(host, "]");
		if (hlen >= alen)
			return mc_error_set(MC_EINVAL, "URL with an unterminated IPv6 host");
		colon = host + hlen + 1;
		host++;
		hlen--;
	} else {
		colon = memchr(host, ':', alen);
		hlen = colon ? (size_t)(colon - host) : alen;
	}
	if (!hlen)
		return mc_error_set(MC_EINVAL, "URL without a host");
	out->scheme = mc_strndup(url, (size_t)(sep - url));
	for (char *p = out->scheme; *p; p++)
		*p = (char)tolower((unsigned char)*p);
	out->host = mc_strndup(host, hlen);
	for (char *p = out->host; *p; p++)
		*p = (char)tolower((unsigned char)*p);
	if (colon && colon < auth + alen && *colon == ':' && colon + 1 < auth + alen)
		out->port = mc_strndup(colon + 1, (size_t)(auth + alen - colon - 1));
	else
		out->port = mc_strdup(default_port(out->scheme));
	return 0;
}

void mc_url_origin_release(struct mc_url_origin *o)
{
	if (!o)
		return;
	free(o->scheme);
	free(o->host);
	free(o->port);
	memset(o, 0, sizeof(*o));
}

int mc_url_same_origin(const char *a, const char *b)
{
	struct mc_url_origin oa = { 0 }, ob = { 0 };
	int same = !mc_url_origin(&oa, a) && !mc_url_origin(&ob, b) && !strcmp(oa.scheme, ob.scheme) &&
		   !strcmp(oa.host, ob.host) && !strcmp(oa.port, ob.port);

	mc_error_clear();
	mc_url_origin_release(&oa);
	mc_url_origin_release(&ob);
	return same;
}
