/* test_endpoint.c — the engine endpoint as the docker CLI finds it: DOCKER_HOST + DOCKER_TLS*, contexts, ssh refused. */
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "engine/endpoint.h"
#include "t.h"
#include "util/mc_util.h"

static char root[] = "/tmp/mc-test-endpoint-XXXXXX";

static void put(const char *rel, const char *text)
{
	char *path = mc_asprintf("%s/%s", root, rel);
	char *dir = mc_strdup(path);
	*strrchr(dir, '/') = 0;
	CHECK_INT(mc_mkdir_p(dir, 0755), 0);
	FILE *f = fopen(path, "w");
	CHECK(f != NULL);
	if (f) {
		fputs(text, f);
		fclose(f);
	}
	free(dir);
	free(path);
}

static void clear_env(void)
{
	unsetenv("DOCKER_HOST");
	unsetenv("DOCKER_CONTEXT");
	unsetenv("DOCKER_TLS_VERIFY");
	unsetenv("DOCKER_TLS");
	unsetenv("DOCKER_CERT_PATH");
	unsetenv("DOCKER_CONFIG");
}

static void test_default(void)
{
	struct mc_endpoint ep;
	clear_env();
	CHECK_INT(mc_endpoint_resolve(&ep, NULL), 0);
	CHECK_STR(ep.host, "unix:///var/run/docker.sock");
	CHECK(!ep.tls && !ep.context);
	mc_endpoint_release(&ep);
}

static void test_host_and_tls_env(void)
{
	struct mc_endpoint ep;
	char *certs = mc_asprintf("%s/certs", root);

	clear_env();
	put("certs/ca.pem", "x");
	put("certs/cert.pem", "x");
	put("certs/key.pem", "x");
	/* a plain tcp host: no TLS, the files are not even looked at */
	CHECK_INT(mc_endpoint_resolve(&ep, "tcp://127.0.0.1:2375"), 0);
	CHECK_STR(ep.host, "tcp://127.0.0.1:2375");
	CHECK(!ep.tls && !ep.verify && !ep.ca);
	mc_endpoint_release(&ep);
	/* DOCKER_TLS_VERIFY: TLS, verified, with the three files of DOCKER_CERT_PATH */
	setenv("DOCKER_TLS_VERIFY", "1", 1);
	setenv("DOCKER_CERT_PATH", certs, 1);
	CHECK_INT(mc_endpoint_resolve(&ep, "tcp://127.0.0.1:2376"), 0);
	CHECK(ep.tls && ep.verify);
	CHECK(ep.ca && strstr(ep.ca, "/certs/ca.pem") && ep.cert && ep.key);
	mc_endpoint_release(&ep);
	/* DOCKER_TLS alone: TLS without verifying the engine */
	unsetenv("DOCKER_TLS_VERIFY");
	setenv("DOCKER_TLS", "1", 1);
	CHECK_INT(mc_endpoint_resolve(&ep, "tcp://127.0.0.1:2376"), 0);
	CHECK(ep.tls && !ep.verify);
	mc_endpoint_release(&ep);
	/* a configured host wins over a context */
	setenv("DOCKER_CONTEXT", "nosuch", 1);
	CHECK_INT(mc_endpoint_resolve(&ep, "unix:///x.sock"), 0);
	CHECK_STR(ep.host, "unix:///x.sock");
	mc_endpoint_release(&ep);
	free(certs);
}

static void test_contexts(void)
{
	struct mc_endpoint ep;
	char id[65], *rel, *cfg = mc_asprintf("%s/dockercfg", root);

	clear_env();
	setenv("DOCKER_CONFIG", cfg, 1);
	mc_sha256_hex(id, "remote", 6);
	rel = mc_asprintf("dockercfg/contexts/meta/%s/meta.json", id);
	put(rel, "{\"Name\":\"remote\",\"Metadata\":{},\"Endpoints\":{\"docker\":{\"Host\":\"tcp://127.0.0.1:2376\","
		 "\"SkipTLSVerify\":false}}}");
	free(rel);
	rel = mc_asprintf("dockercfg/contexts/tls/%s/docker/ca.pem", id);
	put(rel, "x");
	free(rel);
	rel = mc_asprintf("dockercfg/contexts/tls/%s/docker/cert.pem", id);
	put(rel, "x");
	free(rel);
	/* no config.json: the default */
	CHECK_INT(mc_endpoint_resolve(&ep, NULL), 0);
	CHECK_STR(ep.host, "unix:///var/run/docker.sock");
	mc_endpoint_release(&ep);
	/* currentContext */
	put("dockercfg/config.json", "{\"auths\":{},\"currentContext\":\"remote\"}");
	CHECK_INT(mc_endpoint_resolve(&ep, NULL), 0);
	CHECK_STR(ep.host, "tcp://127.0.0.1:2376");
	CHECK_STR(ep.context, "remote");
	CHECK(ep.tls && ep.verify && ep.ca && ep.cert && !ep.key);
	mc_endpoint_release(&ep);
	/* DOCKER_CONTEXT=default wins over currentContext */
	setenv("DOCKER_CONTEXT", "default", 1);
	CHECK_INT(mc_endpoint_resolve(&ep, NULL), 0);
	CHECK_STR(ep.host, "unix:///var/run/docker.sock");
	mc_endpoint_release(&ep);
	/* an unknown context */
	setenv("DOCKER_CONTEXT", "nosuch", 1);
	CHECK_INT(mc_endpoint_resolve(&ep, NULL), MC_EINVAL);
	CHECK(strstr(mc_error_msg(), "docker context 'nosuch': no such context") != NULL);
	CHECK(ep.host == NULL);
	/* an ssh context */
	mc_sha256_hex(id, "viassh", 6);
	rel = mc_asprintf("dockercfg/contexts/meta/%s/meta.json", id);
	put(rel, "{\"Name\":\"viassh\",\"Endpoints\":{\"docker\":{\"Host\":\"ssh://me@host\"}}}");
	free(rel);
	setenv("DOCKER_CONTEXT", "viassh", 1);
	CHECK_INT(mc_endpoint_resolve(&ep, NULL), MC_EINVAL);
	CHECK(strstr(mc_error_msg(), "ssh is not supported; use tcp+TLS") != NULL);
	CHECK(strstr(mc_error_hint_msg(), "docs/operations.md") != NULL);
	/* a damaged config.json */
	unsetenv("DOCKER_CONTEXT");
	put("dockercfg/config.json", "{\"currentContext\":");
	CHECK_INT(mc_endpoint_resolve(&ep, NULL), MC_EINVAL);
	free(cfg);
}

static void test_ssh_host(void)
{
	struct mc_endpoint ep;
	clear_env();
	CHECK_INT(mc_endpoint_resolve(&ep, "ssh://user@build-host"), MC_EINVAL);
	CHECK(strstr(mc_error_msg(), "ssh is not supported") != NULL);
}

int main(void)
{
	CHECK(mkdtemp(root) != NULL);
	setenv("HOME", root, 1);
	test_default();
	test_host_and_tls_env();
	test_contexts();
	test_ssh_host();
	mc_rm_rf(root);
	return t_done();
}
