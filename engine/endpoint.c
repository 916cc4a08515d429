/* endpoint.c — the engine's address and TLS material, found as the docker CLI finds them (DOCKER_HOST, DOCKER_TLS*, contexts). */
#include "endpoint.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../util/mc_util.h"

#define DEFAULT_HOST "unix:///var/run/docker.sock"

/* $DOCKER_CONFIG, else ~/.docker (malloc'd). */
static char *config_dir(void)
{
	const char *d = getenv("DOCKER_CONFIG"), *home = getenv("HOME");
	if (d && *d)
		return mc_strdup(d);
	return mc_asprintf("%s/.docker", home && *home ? home : "/root");
}

/* dir/name when that file exists, else NULL (malloc'd). */
static char *pem(const char *dir, const char *name)
{
	char *p = mc_asprintf("%s/%s", dir, name);
	if (access(p, R_OK) == 0)
		return p;
	free(p);
	return NULL;
}

static void load_pems(struct mc_endpoint *ep, const char *dir)
{
	ep->ca = pem(dir, "ca.pem");
	ep->cert = pem(dir, "cert.pem");
	ep->key = pem(dir, "key.pem");
}

/* The JSON file at path; NULL with the error set (MC_ENOTFOUND when absent). */
static json_t *read_json(const char *path, const char *what)
{
	json_error_t je;
	json_t *j;

	if (access(path, F_OK)) {
		mc_error_errno(path);
		return NULL;
	}
	if (!(j = json_load_file(path, 0, &je)))
		mc_error_set(MC_EINVAL, "%s '%s': line %d: %s", what, path, je.line, je.text);
	return j;
}

/* The context to use: DOCKER_CONTEXT, else config.json's currentContext;
 * NULL for the default (malloc'd). MC_EINVAL for an unreadable config.json. */
static int current_context(char **out, const char *cfg)
{
	const char *env = getenv("DOCKER_CONTEXT");
	char *path;
	json_t *j;

	*out = NULL;
	if (env && *env) {
		*out = strcmp(env, "default") ? mc_strdup(env) : NULL;
		return 0;
	}
	path = mc_asprintf("%s/config.json", cfg);
	j = read_json(path, "docker CLI config");
	free(path);
	if (!j)
		return mc_error_code() == MC_ENOTFOUND ? (mc_error_clear(), 0) : MC_EINVAL;
	const char *name = json_string_value(json_object_get(j, "currentContext"));
	if (name && *name && strcmp(name, "default"))
		*out = mc_strdup(name);
	json_decref(j);
	return 0;
}

/* The context's host and TLS material, from its meta.json and tls/ directory. */
static int from_context(struct mc_endpoint *ep, const char *cfg, const char *name)
{
	char id[65], *meta, *tls;
	json_t *j;
	int ret = 0;

	mc_sha256_hex(id, name, strlen(name));
	meta = mc_asprintf("%s/contexts/meta/%s/meta.json", cfg, id);
	tls = mc_asprintf("%s/contexts/tls/%s/docker", cfg, id);
	if (!(j = read_json(meta, "docker context"))) {
		ret = mc_error_set(MC_EINVAL, "docker context '%s': %s", name,
				   mc_error_code() == MC_ENOTFOUND ? "no such context" : mc_error_msg());
		mc_error_hint("'docker context ls' lists the contexts; DOCKER_CONTEXT or config.json's currentContext "
			      "names this one");
		goto done;
	}
	json_t *docker = json_object_get(json_object_get(j, "Endpoints"), "docker");
	const char *host = json_string_value(json_object_get(docker, "Host"));
	if (!host || !*host) {
		ret = mc_error_set(MC_EINVAL, "docker context '%s': %s names no docker endpoint host", name, meta);
		goto done;
	}
	ep->host = mc_strdup(host);
	ep->context = mc_strdup(name);
	load_pems(ep, tls);
	ep->tls = ep->ca || ep->cert;
	ep->verify = ep->tls && !json_is_true(json_object_get(docker, "SkipTLSVerify"));
done:
	json_decref(j);
	free(meta);
	free(tls);
	return ret;
}

/* DOCKER_TLS_VERIFY and DOCKER_TLS for a configured host, as the CLI reads them. */
static void from_env(struct mc_endpoint *ep, const char *host, const char *cfg)
{
	const char *verify = getenv("DOCKER_TLS_VERIFY"), *tls = getenv("DOCKER_TLS");
	const char *certs = getenv("DOCKER_CERT_PATH");

	ep->host = mc_strdup(host);
	ep->verify = verify && *verify;
	ep->tls = ep->verify || (tls && *tls);
	if (ep->tls)
		load_pems(ep, certs && *certs ? certs : cfg);
}

int mc_endpoint_resolve(struct mc_endpoint *out, const char *host)
{
	char *cfg = config_dir(), *ctx = NULL;
	int ret = 0;

	memset(out, 0, sizeof(*out));
	if (host && *host)
		from_env(out, host, cfg);
	else if ((ret = current_context(&ctx, cfg)))
		goto done;
	else if (ctx)
		ret = from_context(out, cfg, ctx);
	else
		out->host = mc_strdup(DEFAULT_HOST);
	if (!ret && !strncmp(out->host, "ssh://", 6)) {
		ret = mc_error_set(MC_EINVAL, "docker host '%s'%s%s%s: ssh is not supported; use tcp+TLS", out->host,
				   ctx ? " (context '" : "", ctx ? ctx : "", ctx ? "')" : "");
		mc_error_hint("run dockerd with --tlsverify on a tcp port and set DOCKER_HOST=tcp://HOST:2376 "
			      "DOCKER_TLS_VERIFY=1 DOCKER_CERT_PATH=DIR (docs/operations.md, Remote engines)");
	}
done:
	if (ret)
		mc_endpoint_release(out);
	free(ctx);
	free(cfg);
	return ret;
}

void mc_endpoint_release(struct mc_endpoint *ep)
{
	if (!ep)
		return;
	free(ep->host);
	free(ep->context);
	free(ep->ca);
	free(ep->cert);
	free(ep->key);
	memset(ep, 0, sizeof(*ep));
}
