/*
 * curl_opt.h — private to the libcurl users (net/, engine/, fleet/registry.c):
 * every curl_easy_setopt goes through SETOPT, as curl's own tool checks each of
 * its my_setopt calls. The first option libcurl refuses (an unknown one, out of
 * memory, a feature this libcurl lacks) is kept with its name, and the caller
 * does not send the request: check so.rc after the last SETOPT.
 */
#ifndef MC_CURL_OPT_H
#define MC_CURL_OPT_H

#include <curl/curl.h>

struct mc_setopts {
	CURLcode rc;
	const char *opt;
};
#define MC_SETOPTS_INIT { CURLE_OK, NULL }

static inline void mc_setopt_note(struct mc_setopts *so, CURLcode rc, const char *opt)
{
	if (rc != CURLE_OK && so->rc == CURLE_OK) {
		so->rc = rc;
		so->opt = opt;
	}
}
#define SETOPT(so, c, opt, val) mc_setopt_note((so), curl_easy_setopt((c), (opt), (val)), #opt)

#endif
