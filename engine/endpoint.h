/*
 * endpoint.h — where the engine is, as the docker CLI finds it: DOCKER_HOST
 * (or the config's docker_host) with DOCKER_TLS_VERIFY, DOCKER_TLS and
 * DOCKER_CERT_PATH; else the current context (DOCKER_CONTEXT, else
 * currentContext in $DOCKER_CONFIG/config.json) resolved through
 * contexts/meta/<sha256(name)>/meta.json and its TLS material under
 * contexts/tls/<sha256(name)>/docker/; else the default socket. No network.
 */
#ifndef MC_ENDPOINT_H
#define MC_ENDPOINT_H

struct mc_endpoint {
	char *host;    /* unix:///path, tcp://host:port, …; never NULL after resolve */
	char *context; /* the docker context it came from, NULL for DOCKER_HOST or the default */
	int tls;       /* speak https to a tcp:// host */
	int verify;    /* check the engine's certificate (against ca) */
	char *ca, *cert, *key; /* PEM files, NULL when absent */
};

/*
 * Resolves the endpoint. host: the configured host (DOCKER_HOST or the
 * config's docker_host), NULL for none. Reads the environment and the docker
 * CLI's files (no network). MC_EINVAL, with a hint, for an ssh:// host (not
 * supported) or a context that cannot be read.
 */
int mc_endpoint_resolve(struct mc_endpoint *out, const char *host);
void mc_endpoint_release(struct mc_endpoint *ep);

#endif
