/*
 * net.h — the one way molcache readies a libcurl easy handle for a request,
 * shared by the Docker Engine client (engine/) and the OCI registry client
 * (fleet/registry.c), so that both bound their requests alike.
 *
 * Call sequence, per process and per request:
 *
 *	mc_net_global_init();                   once, before the first handle
 *	c = curl_easy_init();                   one handle, reused (keep-alive)
 *	for each request:
 *		struct mc_setopts so = MC_SETOPTS_INIT;
 *		struct mc_net_opts o = { url, errbuf, connect_ms, timeout_s, idle_s };
 *		mc_net_setup(&so, c, &o);       reset + the common options
 *		SETOPT(&so, c, …);              the caller's own: socket, headers, callbacks
 *		if (so.rc != CURLE_OK) …        refuse to send (see curl_opt.h)
 *		curl_easy_perform(c);
 *
 * Ownership: the handle and errbuf belong to the caller; libcurl keeps
 * pointers to url and errbuf until the next mc_net_setup on the handle, so
 * they must live that long. Nothing here prints or sets an error except
 * mc_net_global_init.
 */
#ifndef MC_NET_H
#define MC_NET_H

#include <curl/curl.h>
#include "curl_opt.h"
#include "../util/mc_util.h"

/* What differs between requests of the common setup. */
struct mc_net_opts {
	const char *url;
	char *errbuf;          /* CURL_ERROR_SIZE bytes: curl's words for a failure, emptied here */
	long connect_ms;       /* connect timeout, > 0 */
	long timeout_s;        /* the whole request; 0: none (a stream ends when its peer does) */
	long low_speed_time_s; /* > 0: give up below 1 byte/s for this long; 0: no such limit */
};

/*
 * curl_global_init(CURL_GLOBAL_DEFAULT), explicitly and once per process
 * (curl_easy_init would otherwise do it implicitly, unchecked). Later calls
 * return the first one's result. Not thread-safe: call it from the thread that
 * opens handles. MC_ERR "libcurl: initialisation failed: <curl's words>".
 */
int mc_net_global_init(void);

/*
 * The one CA setting (MOLCACHE_CA_FILE, config ca_file): a PEM bundle that
 * every TLS peer of molcache is verified against instead of the system's —
 * https registries here, https git remotes through git/git_cas.c, which reads
 * it back with mc_net_ca_file(). NULL or "": the system's. Copied.
 */
void mc_net_set_ca_file(const char *path);
const char *mc_net_ca_file(void); /* NULL when unset */

/*
 * curl_easy_reset(c), then: errbuf emptied and installed, the URL, no
 * signals (libcurl would otherwise time name lookups out with SIGALRM, which
 * is not safe beside other threads), the connect timeout, the total timeout
 * when timeout_s > 0 and the low-speed limit when low_speed_time_s > 0, the CA
 * bundle when one is set (it replaces the system's: no CA directory), each
 * through SETOPT into so. Never fails by itself: a refused option is in so.
 */
void mc_net_setup(struct mc_setopts *so, CURL *c, const struct mc_net_opts *o);

#endif
