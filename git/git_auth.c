/* git_auth.c — which server a remote's credentials may go to, and what an http remote meant when libgit2 could not read its answer. */
#include "git.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <git2.h>

#include "../net/net.h"
#include "url.h"

#define PROBE_CONNECT_MS 5000
#define PROBE_TIMEOUT_S 15L

int mc_git_cred_target_ok(const char *remote, const char *asked)
{
	struct mc_url_origin o = { 0 };
	const char *host, *port;
	int ok;

	/* the URL libgit2 names, and the server it last connected to: libgit2 1.5
	 * names the remote's URL even when a redirect took it elsewhere */
	if (!mc_url_same_origin(remote, asked) || mc_url_origin(&o, remote)) {
		mc_error_clear();
		mc_url_origin_release(&o);
		git_error_set_str(GIT_ERROR_NET, "authentication asked for another URL than the configured remote's: "
				  "credentials withheld");
		return 0;
	}
	mc_git_stream_peer(&host, &port);
	ok = !strcasecmp(host, o.host) && !strcmp(port, o.port);
	mc_url_origin_release(&o);
	if (!ok) {
		char msg[400];
		snprintf(msg, sizeof(msg), "authentication asked by %s:%s, not by the configured remote: credentials "
			 "withheld", host, port);
		git_error_set_str(GIT_ERROR_NET, msg);
	}
	return ok;
}

int mc_git_cred_missing(void)
{
	const char *host, *port;
	char msg[400];

	mc_git_stream_peer(&host, &port);
	snprintf(msg, sizeof(msg), "authentication required by %s:%s but no credentials were given", host, port);
	git_error_set_str(GIT_ERROR_NET, msg);
	return GIT_EAUTH;
}

static size_t discard(char *data, size_t size, size_t nmemb, void *ud)
{
	(void)data;
	(void)ud;
	return size * nmemb;
}

/* GET <remote>/info/refs?service=git-upload-pack once, to the remote itself
 * (no redirects), with the credentials if any: the HTTP status, 0 when none
 * came. curl reads a status line that libgit2's parser gave up on. */
static long probe_status(const char *clean, const char *user, const char *pass)
{
	struct mc_setopts so = MC_SETOPTS_INIT;
	char errbuf[CURL_ERROR_SIZE];
	size_t n = strlen(clean);
	char *url = mc_asprintf("%.*s/info/refs?service=git-upload-pack", (int)(n && clean[n - 1] == '/' ? n - 1 : n),
				clean);
	struct mc_net_opts o = { url, errbuf, PROBE_CONNECT_MS, PROBE_TIMEOUT_S, PROBE_TIMEOUT_S };
	CURL *c = NULL;
	long status = 0;

	if (mc_net_global_init() || !(c = curl_easy_init()))
		goto done;
	mc_net_setup(&so, c, &o);
	SETOPT(&so, c, CURLOPT_PROTOCOLS_STR, "http,https");
	SETOPT(&so, c, CURLOPT_WRITEFUNCTION, discard);
	SETOPT(&so, c, CURLOPT_USERAGENT, "git/2.0 (molcache)");
	if (user) {
		SETOPT(&so, c, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
		SETOPT(&so, c, CURLOPT_USERNAME, user);
		SETOPT(&so, c, CURLOPT_PASSWORD, pass ? pass : "");
	}
	if (so.rc == CURLE_OK) {
		curl_easy_perform(c); /* a body cut short is an error here too: the status is what counts */
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	}
done:
	mc_error_clear();
	if (c)
		curl_easy_cleanup(c);
	free(url);
	return status;
}

int mc_git_auth_explain(const char *clean, const char *redacted, const char *user, const char *pass)
{
	struct mc_url_origin o = { 0 };
	long status;
	int ret = 0;

	if (mc_url_origin(&o, clean) || (strcmp(o.scheme, "http") && strcmp(o.scheme, "https")))
		goto done;
	status = probe_status(clean, user, pass);
	if (status != 401 && status != 403)
		goto done;
	if (user) {
		ret = mc_error_set(MC_EUNREACHABLE, "remote '%s': %s:%s refused our credentials (HTTP %ld)", redacted,
				   o.host, o.port, status);
		mc_error_hint("check MOLCACHE_GIT_TOKEN (or the credentials in the repo prefix): the server refused them");
	} else {
		ret = mc_error_set(MC_EUNREACHABLE, "remote '%s': authentication required by %s:%s (HTTP %ld)", redacted,
				   o.host, o.port, status);
		mc_error_hint("set MOLCACHE_GIT_TOKEN to a token the server accepts (or put user:token@ in the repo "
			      "prefix)");
	}
done:
	if (!ret)
		mc_error_clear(); /* nothing learnt: libgit2's words stand */
	mc_url_origin_release(&o);
	return ret;
}
