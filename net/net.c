/* net.c — the libcurl setup every request of molcache starts from: global init once, then reset, URL, timeouts, no signals. */
#include "net.h"

#include <openssl/crypto.h>
#include <stdint.h>
#include <stdlib.h>

static char *ca_file;

void mc_net_set_ca_file(const char *path)
{
	free(ca_file);
	ca_file = path && *path ? mc_strdup(path) : NULL;
}

const char *mc_net_ca_file(void) { return ca_file; }

/*
 * Here rather than at start: curl_global_init loads OpenSSL's configuration,
 * which commands that never reach the network (version, --help) need not pay
 * for. molcache opens its handles from one thread.
 *
 * OpenSSL is set up first, with our flags (its first set-up wins): no
 * cleanup at exit (the process is ending: 0.8 M instructions for nothing on
 * every hit), and in the static binary no openssl.cnf: the host's belongs to
 * the host's OpenSSL build (its providers and engines cannot be loaded into a
 * static binary), and reading it costs 1.6 M instructions per run.
 */
int mc_net_global_init(void)
{
	static CURLcode rc = CURLE_OK;
	static int tried;

	if (!tried) {
		uint64_t opts = OPENSSL_INIT_NO_ATEXIT;
#ifdef MC_OPENSSL_NO_HOST_CONFIG
		opts |= OPENSSL_INIT_NO_LOAD_CONFIG;
#endif
		OPENSSL_init_crypto(opts, NULL);
		rc = curl_global_init(CURL_GLOBAL_DEFAULT);
		tried = 1;
	}
	if (rc != CURLE_OK)
		return mc_error_set(MC_ERR, "libcurl: initialisation failed: %s", curl_easy_strerror(rc));
	return 0;
}

void mc_net_setup(struct mc_setopts *so, CURL *c, const struct mc_net_opts *o)
{
	curl_easy_reset(c);
	o->errbuf[0] = 0;
	SETOPT(so, c, CURLOPT_ERRORBUFFER, o->errbuf);
	SETOPT(so, c, CURLOPT_URL, o->url);
	SETOPT(so, c, CURLOPT_NOSIGNAL, 1L);
	SETOPT(so, c, CURLOPT_CONNECTTIMEOUT_MS, o->connect_ms);
	if (o->timeout_s > 0)
		SETOPT(so, c, CURLOPT_TIMEOUT, o->timeout_s);
	if (o->low_speed_time_s > 0) {
		SETOPT(so, c, CURLOPT_LOW_SPEED_LIMIT, 1L);
		SETOPT(so, c, CURLOPT_LOW_SPEED_TIME, o->low_speed_time_s);
	}
	if (ca_file) {
		SETOPT(so, c, CURLOPT_CAINFO, ca_file);
		SETOPT(so, c, CURLOPT_CAPATH, (char *)NULL);
	}
}
