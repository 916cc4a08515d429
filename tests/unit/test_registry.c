/* test_registry.c — registry auth helpers: WWW-Authenticate challenges, docker config.json credentials,
 * X-Registry-Auth, registry names, and the registry config settings. */
#include <jansson.h>
#include <openssl/evp.h>

#include "../../cache/config.h"
#include "../../fleet/registry.h"
#include "t.h"

static void test_challenges(void)
{
	static const struct {
		const char *in;
		int ret;
		const char *scheme, *realm, *service, *scope;
	} cases[] = {
		{ "Bearer realm=\"https://auth.docker.io/token\",service=\"registry.docker.io\",scope=\"repository:library/x:pull\"",
		  0, "Bearer", "https://auth.docker.io/token", "registry.docker.io", "repository:library/x:pull" },
		/* any order, spaces after commas, a param we do not know */
		{ "Bearer scope=\"repository:a/b:pull,push\", error=\"invalid_token\", realm=\"http://127.0.0.1:5001/auth\"",
		  0, "Bearer", "http://127.0.0.1:5001/auth", NULL, "repository:a/b:pull,push" },
		{ "Basic realm=\"molcache-test\"", 0, "Basic", "molcache-test", NULL, NULL },
		/* token (unquoted) values, case-insensitive names */
		{ "bearer Realm=http://h/t,Service=reg", 0, "bearer", "http://h/t", "reg", NULL },
		/* an escaped quote inside a quoted value */
		{ "Bearer realm=\"http://h/t\",service=\"a\\\"b\"", 0, "Bearer", "http://h/t", "a\"b", NULL },
		{ "Basic", 0, "Basic", NULL, NULL, NULL },
		{ "  Basic   realm=\"x\"  ", 0, "Basic", "x", NULL, NULL },
		/* refused */
		{ "", MC_EINVAL, NULL, NULL, NULL, NULL },
		{ "Bearer service=\"x\"", MC_EINVAL, NULL, NULL, NULL, NULL }, /* a bearer without a realm */
		{ "Bearer realm=\"http://h/t", MC_EINVAL, NULL, NULL, NULL, NULL }, /* unterminated */
		{ "Bearer realm", MC_EINVAL, NULL, NULL, NULL, NULL },
		{ "Bearer =x", MC_EINVAL, NULL, NULL, NULL, NULL },
		{ "Bearer realm=\"a\"junk", MC_EINVAL, NULL, NULL, NULL, NULL },
		{ "Be@rer realm=x", MC_EINVAL, NULL, NULL, NULL, NULL },
		{ "Averyveryverylongscheme realm=x", MC_EINVAL, NULL, NULL, NULL, NULL },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
		struct mc_challenge c;
		int ret = mc_registry_parse_challenge(&c, cases[i].in, strlen(cases[i].in));
		CHECK_INT(ret, cases[i].ret);
		if (ret) {
			CHECK(!c.realm && !c.service && !c.scope);
			continue;
		}
		CHECK_STR(c.scheme, cases[i].scheme);
		CHECK(cases[i].realm ? c.realm && !strcmp(c.realm, cases[i].realm) : !c.realm);
		CHECK(cases[i].service ? c.service && !strcmp(c.service, cases[i].service) : !c.service);
		CHECK(cases[i].scope ? c.scope && !strcmp(c.scope, cases[i].scope) : !c.scope);
		mc_challenge_release(&c);
	}
	/* RFC 6750's error and error_description: an expired token says so */
	struct mc_challenge e;
	const char *h = "Bearer realm=\"https://a/t\",error=\"invalid_token\",error_description=\"token expired\"";
	CHECK_INT(mc_registry_parse_challenge(&e, h, strlen(h)), 0);
	CHECK_STR(e.error, "invalid_token");
	CHECK_STR(e.error_description, "token expired");
	mc_challenge_release(&e);
	CHECK(!e.error && !e.error_description);
	/* the length bounds the parse: no NUL needed, nothing read beyond */
	struct mc_challenge c;
	CHECK_INT(mc_registry_parse_challenge(&c, "Basic realm=\"x\"GARBAGE", 15), 0);
	CHECK_STR(c.realm, "x");
	mc_challenge_release(&c);
	mc_challenge_release(NULL);
}

static void test_docker_config(void)
{
	/* "bob:pa:ss" and "amy:pw" */
	const char *cfg = "{\"auths\":{"
			  "\"https://index.docker.io/v1/\":{\"auth\":\"Ym9iOnBhOnNz\"},"
			  "\"127.0.0.1:5000\":{\"auth\":\"YW15OnB3\"},"
			  "\"http://reg.example:8080/v2/\":{\"auth\":\"YW15OnB3\"},"
			  "\"helper.example\":{}"
			  "},\"credsStore\":\"desktop\"}";
	char *u, *p;

	CHECK_INT(mc_registry_docker_auth(&u, &p, cfg, strlen(cfg), "index.docker.io"), 0);
	CHECK_STR(u, "bob");
	CHECK_STR(p, "pa:ss"); /* the first colon splits: passwords may hold colons */
	free(u), free(p);
	CHECK_INT(mc_registry_docker_auth(&u, &p, cfg, strlen(cfg), "127.0.0.1:5000"), 0);
	CHECK_STR(u, "amy");
	CHECK_STR(p, "pw");
	free(u), free(p);
	CHECK_INT(mc_registry_docker_auth(&u, &p, cfg, strlen(cfg), "reg.example:8080"), 0);
	free(u), free(p);
	/* the port is part of the name; a helper-only entry has no auth */
	CHECK_INT(mc_registry_docker_auth(&u, &p, cfg, strlen(cfg), "127.0.0.1"), MC_ENOTFOUND);
	CHECK(!u && !p);
	CHECK_INT(mc_registry_docker_auth(&u, &p, cfg, strlen(cfg), "helper.example"), MC_ENOTFOUND);
	CHECK_INT(mc_registry_docker_auth(&u, &p, "[]", 2, "x"), MC_EINVAL);
	CHECK_INT(mc_registry_docker_auth(&u, &p, "{", 1, "x"), MC_EINVAL);
	CHECK_INT(mc_registry_docker_auth(&u, &p, "{}", 2, "x"), MC_ENOTFOUND);
	const char *bad[] = {
		"{\"auths\":{\"x\":{\"auth\":\"!!!!\"}}}",     /* not base64 */
		"{\"auths\":{\"x\":{\"auth\":\"bm9jb2xvbg==\"}}}", /* "nocolon" */
		"{\"auths\":{\"x\":{\"auth\":\"OnB3\"}}}",       /* ":pw": no user */
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
		CHECK_INT(mc_registry_docker_auth(&u, &p, bad[i], strlen(bad[i]), "x"), MC_EINVAL);
		CHECK(!strstr(mc_error_msg(), "OnB3") && !strstr(mc_error_msg(), "bm9j")); /* the secret is never quoted */
	}
}

static void test_xauth(void)
{
	unsigned char out[512];
	char *x = mc_registry_xauth(NULL, NULL, "h");
	CHECK_STR(x, "e30="); /* {} */
	free(x);
	x = mc_registry_xauth("u", "p?>\"", "127.0.0.1:5000");
	CHECK(!strchr(x, '+') && !strchr(x, '/')); /* base64url, as the engine decodes it */
	CHECK(strlen(x) % 4 == 0);                 /* padded */
	for (char *c = x; *c; c++)
		*c = *c == '-' ? '+' : *c == '_' ? '/' : *c;
	int n = EVP_DecodeBlock(out, (const unsigned char *)x, (int)strlen(x));
	CHECK(n > 0);
	while (n > 0 && out[n - 1] == 0)
		n--;
	json_t *j = json_loadb((const char *)out, (size_t)n, 0, NULL);
	CHECK_STR(json_string_value(json_object_get(j, "username")), "u");
	CHECK_STR(json_string_value(json_object_get(j, "password")), "p?>\"");
	CHECK_STR(json_string_value(json_object_get(j, "serveraddress")), "127.0.0.1:5000");
	json_decref(j);
	free(x);
}

static void test_split(void)
{
	static const struct {
		const char *in;
		int ret;
		const char *host, *path;
		int plain;
	} cases[] = {
		{ "127.0.0.1:5000/mc", 0, "127.0.0.1:5000", "mc", 1 },
		{ "localhost:5000", 0, "localhost:5000", "", 1 },
		{ "harbor.example.com/team/molcache/", 0, "harbor.example.com", "team/molcache", 0 },
		{ "http://reg.lan:5000//x", 0, "reg.lan:5000", "x", 1 },
		{ "https://127.0.0.1:5000", 0, "127.0.0.1:5000", "", 0 },
		{ "", MC_EINVAL, NULL, NULL, 0 },
		{ "/path", MC_EINVAL, NULL, NULL, 0 },
		{ "user:pw@host/x", MC_EINVAL, NULL, NULL, 0 },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
		char *h, *p;
		int plain = -1;
		CHECK_INT(mc_registry_split(&h, &p, &plain, cases[i].in), cases[i].ret);
		if (!cases[i].ret) {
			CHECK_STR(h, cases[i].host);
			CHECK_STR(p, cases[i].path);
			CHECK_INT(plain, cases[i].plain);
		}
		free(h);
		free(p);
	}
}

static const char *env_vals[16][2];
static const char *fake_env(const char *name)
{
	for (int i = 0; i < 16 && env_vals[i][0]; i++)
		if (!strcmp(env_vals[i][0], name))
			return env_vals[i][1];
	return NULL;
}

static void test_config(void)
{
	struct mc_config c;
	const char *file = "registry = harbor.example.com/team\nregistry_mode = pull\nregistry_user = bob\n"
			   "registry_password = pw\nregistry_required = 1\n";

	mc_config_init(&c);
	CHECK_INT(mc_config_load_buffer(&c, "cfg", file, strlen(file)), 0);
	CHECK_STR(c.registry, "harbor.example.com/team");
	CHECK_INT(c.registry_mode, MC_REGISTRY_PULL);
	CHECK_INT(c.registry_required, 1);
	CHECK_STR(c.registry_user, "bob");
	env_vals[0][0] = "MOLCACHE_REGISTRY", env_vals[0][1] = "127.0.0.1:5000/mc";
	env_vals[1][0] = "MOLCACHE_REGISTRY_MODE", env_vals[1][1] = "off";
	env_vals[2][0] = "MOLCACHE_REGISTRY_PASSWORD", env_vals[2][1] = "pw2";
	env_vals[3][0] = "MOLECULE_IMAGE_REGISTRY", env_vals[3][1] = "ghcr.io/org";
	CHECK_INT(mc_config_apply_env(&c, fake_env), 0);
	CHECK_STR(c.registry, "127.0.0.1:5000/mc");
	CHECK_INT(c.registry_mode, MC_REGISTRY_OFF);
	CHECK_STR(c.registry_password, "pw2");
	CHECK_STR(c.compat_registry, "ghcr.io/org");
	mc_config_release(&c);

	const char *bad[] = { "registry_mode = sometimes\n", "registry = a b\n", "registry = u@h/x\n",
			      "registry_required = yes\n" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
		mc_config_init(&c);
		CHECK_INT(mc_config_load_buffer(&c, "cfg", bad[i], strlen(bad[i])), MC_EINVAL);
		mc_config_release(&c);
	}
	mc_config_init(&c);
	memset(env_vals, 0, sizeof(env_vals));
	env_vals[0][0] = "MOLCACHE_REGISTRY_MODE", env_vals[0][1] = "push";
	CHECK_INT(mc_config_apply_env(&c, fake_env), MC_EINVAL);
	mc_config_release(&c);
	CHECK_INT(mc_config_registry_mode("pull-push"), MC_REGISTRY_PULL_PUSH);
	CHECK_INT(mc_config_registry_mode(""), -1);
}

int main(void)
{
	test_challenges();
	test_docker_config();
	test_xauth();
	test_split();
	test_config();
	return t_done();
}
