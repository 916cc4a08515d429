/* git_cas.c — the CA certificates libgit2's TLS verifies https remotes with: which bundle, and when it is parsed. */
#define _GNU_SOURCE /* RTLD_NEXT */
#include "git.h"
#include "../net/net.h"

#include <dlfcn.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <git2.h>

#ifdef MC_DEFER_CAS
#include <mbedtls/x509_crt.h>
#endif

static int cas_loaded; /* certificates handed to libgit2 for this process */

#ifdef MC_DEFER_CAS
/*
 * Deferred CA loading (CMake option MC_DEFER_CAS, on only when libgit2 reaches
 * mbedTLS through the dynamic linker). git_libgit2_init() parses the whole
 * system bundle there (~140 certificates, ~18 ms: a third of a cache hit) even
 * when the remote is git:// or file:// and never speaks TLS. The dynamic
 * linker finds these two definitions in the executable before mbedTLS's own:
 * while git_libgit2_init() runs they only remember the file or directory (the
 * chain stays empty, and an empty chain trusts nothing); before the first
 * http(s) connection mc_git_cas_load() hands it (or the user's bundle) to
 * GIT_OPT_SET_SSL_CERT_LOCATIONS, which calls them again, and they go on to
 * mbedTLS's parsers (found with dlsym(RTLD_NEXT)).
 */
typedef int (*parse_fn)(mbedtls_x509_crt *, const char *);
static int initialising;  /* inside git_libgit2_init() */
static int intercepted;   /* libgit2's own parse was deferred: the mode is really "deferred" */
static char *deferred[2]; /* what libgit2 asked for then: [0] a file, [1] a directory */

static int parse_or_defer(int which, const char *name, mbedtls_x509_crt *chain, const char *path)
{
	static parse_fn real[2];

	if (initialising && path) {
		free(deferred[which]);
		deferred[which] = mc_strdup(path);
		intercepted = 1;
		return 0;
	}
	if (!real[which])
		*(void **)&real[which] = dlsym(RTLD_NEXT, name);
	return real[which] ? real[which](chain, path) : -1;
}

int mbedtls_x509_crt_parse_file(mbedtls_x509_crt *chain, const char *path)
{
	return parse_or_defer(0, "mbedtls_x509_crt_parse_file", chain, path);
}

int mbedtls_x509_crt_parse_path(mbedtls_x509_crt *chain, const char *path)
{
	return parse_or_defer(1, "mbedtls_x509_crt_parse_path", chain, path);
}
#endif

/* The user's bundle (MOLCACHE_CA_FILE) lives in net/, the one setting the
 * registry's libcurl reads too: the only one trusted when set. */
void mc_git_set_ca_file(const char *path)
{
	mc_net_set_ca_file(path);
	cas_loaded = 0;
}

const char *mc_git_ca_loading(void)
{
#if defined(MC_DEFER_CAS)
	return intercepted ? "deferred" : "eager";
#elif defined(MC_GIT_OPENSSL_LAZY)
	return "deferred"; /* the static build's libgit2 sets OpenSSL up at its first TLS stream (scripts/static.sh) */
#else
	return "eager";
#endif
}

int mc_git_cas_libgit2_init(void)
{
	int ret;

#ifdef MC_GIT_TLS_OPENSSL
	/*
	 * MOLCACHE_CA_FILE replaces the system's CAs under every backend. libgit2
	 * on OpenSSL fills its store from OpenSSL's default paths (when it
	 * initialises OpenSSL: here, or at the first connection for a dlopen'ed
	 * OpenSSL) and GIT_OPT_SET_SSL_CERT_LOCATIONS only adds to it, so the
	 * defaults themselves are pointed at the bundle, through OpenSSL's own
	 * SSL_CERT_FILE / SSL_CERT_DIR (a file as the directory: no lookups). molcache
	 * runs no other program, so nothing else inherits them.
	 */
	const char *ca_file = mc_net_ca_file();
	if (ca_file && (setenv("SSL_CERT_FILE", ca_file, 1) || setenv("SSL_CERT_DIR", ca_file, 1)))
		return mc_error_errno("setenv SSL_CERT_FILE");
#endif
#ifdef MC_DEFER_CAS
	initialising = 1;
#endif
	ret = git_libgit2_init();
#ifdef MC_DEFER_CAS
	initialising = 0;
#endif
	return ret;
}

void mc_git_cas_shutdown(void)
{
#ifdef MC_DEFER_CAS
	for (int i = 0; i < 2; i++) {
		free(deferred[i]);
		deferred[i] = NULL;
	}
	intercepted = 0;
#endif
	cas_loaded = 0;
}

int mc_git_cas_load(const char *url)
{
	const char *ca_file = mc_net_ca_file(), *file = ca_file, *dir = NULL;
	const git_error *e;
	int ret = 0;

	if (cas_loaded || (strncasecmp(url, "https://", 8) && strncasecmp(url, "http://", 7)))
		return 0;
#ifdef MC_DEFER_CAS
	if (!ca_file) {
		file = deferred[0];
		dir = deferred[1];
	}
#endif
	/* neither: libgit2 loaded the system's CAs itself, and they stay */
	if ((file || dir) && git_libgit2_opts(GIT_OPT_SET_SSL_CERT_LOCATIONS, file, dir) < 0) {
		e = git_error_last();
		ret = mc_error_set(MC_ERR, "CA certificates '%s': %s", file ? file : dir,
				   e && e->message ? e->message : "unknown error");
		mc_error_hint(ca_file ? "MOLCACHE_CA_FILE (or config ca_file) must name a PEM bundle"
				      : "reinstall Debian's ca-certificates, or set MOLCACHE_CA_FILE");
		goto done;
	}
	cas_loaded = 1;
done:
	return ret;
}
