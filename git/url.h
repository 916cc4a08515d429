/*
 * url.h — a remote URL's credentials, read by one parser. No I/O.
 *
 * Three things must agree, so all come from mc_url_userinfo(): what is
 * stripped before the URL is hashed into the key, stored or labelled
 * (mc_url_strip_credentials), what libgit2 is handed through its credentials
 * callback (mc_url_credentials), and what messages mask (mc_url_redact, and
 * the secrets cache/git.c masks in libgit2's words).
 */
#ifndef MC_URL_H
#define MC_URL_H

#include <stddef.h>
#include "../util/mc_util.h"

/*
 * The userinfo of url: [*start, *end) is its text including the '@' that
 * ends it; 0 when there is none (start and end untouched).
 *  scheme://[userinfo@]host[:port][/path|?|#]  the authority ends at the first
 *      '/', '?' or '#', so an '@' in the path is not userinfo (RFC 3986);
 *      inside the authority the last '@' counts: passwords seen in the wild
 *      carry unencoded '@'. Any "x://" before the first '/' is a scheme.
 *  [userinfo@]host:path  scp-like git syntax (no scheme, ':' before any '/',
 *      an IPv6 host in brackets): *start is 0.
 */
int mc_url_userinfo(const char *url, size_t *start, size_t *end);

/* The credentials in a URL's userinfo. */
struct mc_url_cred {
	char *user; /* percent-decoded; NULL without userinfo */
	char *pass; /* percent-decoded text after the first ':'; NULL without one */
	char *raw;  /* the secret as written (the password, or a lone token over a
		     * scheme), for masking; NULL when there is none */
	int scp;    /* scp-like syntax: user is ssh's user name, no secret */
};
/* 1 and *out filled when url has userinfo, else 0 (*out zeroed). Release
 * with mc_url_cred_release() either way. */
int mc_url_credentials(struct mc_url_cred *out, const char *url);
void mc_url_cred_release(struct mc_url_cred *c);

/* Copy of url with the userinfo removed (https://tok@host/x → https://host/x).
 * For hashing, storing, labels. malloc'd. */
char *mc_url_strip_credentials(const char *url);
/* Copy of url with the userinfo replaced by three asterisks, for messages. malloc'd. */
char *mc_url_redact(const char *url);
/* When url has no userinfo by the RFC but an '@' after "://" (a password with
 * an unencoded '/', '?' or '#'): the text between "://" and the last '@', a
 * secret for the front end to mask in every message (malloc'd); else NULL. */
char *mc_url_secret_span(const char *url);
/* Where a URL points: scheme and host lowercased (an IPv6 host without its
 * brackets, as libgit2 and libcurl name it), the port as written or the
 * scheme's default ("443", "80", "9418", "22"; "" for others). Credentials go
 * only to the origin they were configured for (git.c's credentials
 * callback). MC_EINVAL for a URL without "scheme://host" (scp-like, a path).
 * Release with mc_url_origin_release() either way. */
struct mc_url_origin {
	char *scheme, *host, *port;
};
int mc_url_origin(struct mc_url_origin *out, const char *url);
void mc_url_origin_release(struct mc_url_origin *o);
/* 1 when a and b parse and have the same scheme, host and port. */
int mc_url_same_origin(const char *a, const char *b);

/* Replaces each occurrence of secret in s with "***"; malloc'd.
 * secret NULL or "" returns a plain copy. */
char *mc_redact_secret(const char *s, const char *secret);

#endif
