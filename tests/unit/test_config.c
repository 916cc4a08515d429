/* test_config.c — config defaults, the file parser on real temp files, environment precedence. */
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "cache/config.h"
#include "t.h"

/* The fake environment: NULL-terminated name/value pairs. */
static const char *const *fake_env;

static const char *env_get(const char *name)
{
	for (const char *const *e = fake_env; e && *e; e += 2)
		if (!strcmp(e[0], name))
			return e[1];
	return NULL;
}

static char dir[4096];

static char *write_file(const char *name, const char *text, size_t len)
{
	char *path = mc_asprintf("%s/%s", dir, name);
	FILE *f = fopen(path, "wb");

	CHECK(f != NULL);
	if (f) {
		CHECK_INT(fwrite(text, 1, len, f), len);
		fclose(f);
	}
	return path;
}

static void test_defaults(void)
{
	struct mc_config c;

	mc_config_init(&c);
	CHECK_STR(c.dockerfile, "Dockerfile");
	CHECK_STR(c.networkmode, "default");
	CHECK(!c.repo_prefix && !c.ref && !c.platform && !c.docker_host && !c.git_token);
	CHECK_INT(c.runtimes.n, 9);
	CHECK_STR(c.runtimes.v[0], "autogen");
	CHECK_INT(c.build_args.n, 0);
	CHECK_INT(c.lock_timeout_s, 1800);
	CHECK_INT(c.failure_backoff_ms, 60000);
	CHECK_INT(c.registry_stall_ms, 20000);
	mc_config_release(&c);
	CHECK(c.dockerfile == NULL);
	mc_config_release(&c);
	mc_config_release(NULL);
}

static const char good[] =
	"# molcache settings\n"
	"\n"
	"repo_prefix = https://git.example.com/molecule/template-\n"
	"   ref=main   \n"
	"\tdockerfile =\tbuild/Dockerfile\t\n"
	"platform = linux/arm64\n"
	"docker_host = unix:///run/user/1000/docker.sock\n"
	"networkmode = none\n"
	"  # indented comment\n"
	"runtimes = codex, claude-code ,my-rt,,\n"
	"build_arg = HTTP_PROXY=http://127.0.0.1:3128\n"
	"build_arg = EMPTY=\n"
	"build_arg=A=b=c\n"
	"lock_timeout = 60\r\n"
	"failure_backoff = 30s\n"
	"registry_stall = 1m\n"
	"fleet_marker_ttl = 20m\n"
	"ref = feat#1\n";

static void test_file(void)
{
	struct mc_config c;
	char *path = write_file("good", good, sizeof(good) - 1);

	mc_config_init(&c);
	CHECK_INT(mc_config_load_file(&c, path), 0);
	CHECK_STR(c.repo_prefix, "https://git.example.com/molecule/template-");
	CHECK_STR(c.ref, "feat#1"); /* later line wins; '#' inside a value is kept */
	CHECK_STR(c.dockerfile, "build/Dockerfile");
	CHECK_STR(c.platform, "linux/arm64");
	CHECK_STR(c.docker_host, "unix:///run/user/1000/docker.sock");
	CHECK_STR(c.networkmode, "none");
	CHECK_INT(c.runtimes.n, 3);
	CHECK_STR(c.runtimes.v[0], "codex");
	CHECK_STR(c.runtimes.v[1], "claude-code");
	CHECK_STR(c.runtimes.v[2], "my-rt");
	CHECK_INT(c.build_args.n, 3);
	CHECK_STR(c.build_args.v[0], "HTTP_PROXY=http://127.0.0.1:3128");
	CHECK_STR(c.build_args.v[1], "EMPTY=");
	CHECK_STR(c.build_args.v[2], "A=b=c");
	CHECK_INT(c.lock_timeout_s, 60);
	CHECK_INT(c.failure_backoff_ms, 30000);
	CHECK_INT(c.registry_stall_ms, 60000);
	CHECK_INT(c.fleet_marker_ttl_ms, 1200000);
	CHECK(c.git_token == NULL);
	mc_config_release(&c);
	free(path);
}

static void test_empty_value_resets(void)
{
	static const char text[] = "dockerfile = x\nref = y\ndockerfile =\nref=\nnetworkmode =  \n";
	struct mc_config c;

	mc_config_init(&c);
	CHECK_INT(mc_config_load_buffer(&c, "mem", text, sizeof(text) - 1), 0);
	CHECK_STR(c.dockerfile, "Dockerfile");
	CHECK(c.ref == NULL);
	CHECK_STR(c.networkmode, "default");
	mc_config_release(&c);
}

/* Config files as editors write them: a UTF-8 byte order mark, a comment after a value. */
static void test_bom_and_inline_comments(void)
{
	static const char text[] = "\xef\xbb\xbfref = main\n"
				   "build_arg = A=1 # the comment goes\n"
				   "build_arg = B=x#y\n"
				   "dockerfile = \"ci/Dockerfile # quoted\"   # and a comment\n"
				   "networkmode = none\t# tab before it\n";
	struct mc_config c;

	mc_config_init(&c);
	CHECK_INT(mc_config_load_buffer(&c, "mem", text, sizeof(text) - 1), 0);
	CHECK_STR(c.ref, "main");
	CHECK_INT((int)c.build_args.n, 2);
	CHECK_STR(c.build_args.v[0], "A=1");
	CHECK_STR(c.build_args.v[1], "B=x#y");
	CHECK_STR(c.dockerfile, "ci/Dockerfile # quoted");
	CHECK_STR(c.networkmode, "none");
	mc_config_release(&c);
}

static void test_gc_defaults(void)
{
	static const char text[] = "gc_max_age = 7d\ngc_max_size = 20G\ngc_keep = 3\n";
	static const char unset[] = "gc_max_age =\ngc_keep =\n";
	struct mc_config c;

	mc_config_init(&c);
	CHECK_INT(c.gc_max_age_ms, -1);
	CHECK_INT(c.gc_max_size_bytes, -1);
	CHECK_INT(c.gc_keep, -1);
	CHECK_INT(mc_config_load_buffer(&c, "mem", text, sizeof(text) - 1), 0);
	CHECK_INT(c.gc_max_age_ms, 7LL * 86400000);
	CHECK_INT(c.gc_max_size_bytes, 20LL << 30);
	CHECK_INT(c.gc_keep, 3);
	CHECK_INT(mc_config_load_buffer(&c, "mem", unset, sizeof(unset) - 1), 0);
	CHECK_INT(c.gc_max_age_ms, -1);
	CHECK_INT(c.gc_max_size_bytes, 20LL << 30);
	CHECK_INT(c.gc_keep, -1);
	mc_config_release(&c);
}

static void test_quoted_values(void)
{
	static const char text[] = "repo_prefix = \"https://h/p/t-\"\nref = 'main'\n"
				   "dockerfile = \"a\ndocker_host = \"unix:///x'\nnetworkmode = \"\"\n";
	struct mc_config c;

	mc_config_init(&c);
	CHECK_INT(mc_config_load_buffer(&c, "mem", text, sizeof(text) - 1), 0);
	CHECK_STR(c.repo_prefix, "https://h/p/t-");
	CHECK_STR(c.ref, "main");
	CHECK_STR(c.dockerfile, "\"a"); /* unmatched quotes are kept */
	CHECK_STR(c.docker_host, "\"unix:///x'");
	CHECK_STR(c.networkmode, "default"); /* "" is empty: the default */
	mc_config_release(&c);
}

static void test_missing_and_unreadable(void)
{
	struct mc_config c;
	char *path = mc_asprintf("%s/absent", dir);
	char *sub = mc_asprintf("%s/adir", dir);

	mc_config_init(&c);
	CHECK_INT(mc_config_load_file(&c, path), 0);
	CHECK_STR(c.dockerfile, "Dockerfile");
	CHECK_INT(c.runtimes.n, 9);
	CHECK_INT(mkdir(sub, 0700), 0);
	/* a directory or a FIFO in the file's place: a usage error, never a blocked read */
	CHECK_INT(mc_config_load_file(&c, sub), MC_EINVAL);
	CHECK(strstr(mc_error_msg(), "config '") != NULL);
	CHECK(strstr(mc_error_msg(), "not a regular file (a directory)") != NULL);
	char *fifo = mc_asprintf("%s/afifo", dir);
	CHECK_INT(mkfifo(fifo, 0600), 0);
	CHECK_INT(mc_config_load_file(&c, fifo), MC_EINVAL);
	CHECK(strstr(mc_error_msg(), "not a regular file (a fifo)") != NULL);
	free(fifo);
	mc_config_release(&c);
	free(path);
	free(sub);
}

static void test_malformed(void)
{
	static const struct {
		const char *text;
		const char *msg; /* after "config '<path>' " */
	} t[] = {
		{ "ref = main\njust words\n", "line 2: expected 'key = value'" },
		{ "\n\n# c\ncolour = blue\n", "line 4: unknown key 'colour'" },
		{ "Ref = main\n", "line 1: unknown key 'Ref'" },
		{ "= value\n", "line 1: no key before '='" },
		{ "lock_timeout = abc\n", "line 1: lock timeout 'abc' is not a number of seconds" },
		{ "lock_timeout = -1\n", "line 1: lock timeout '-1'" },
		{ "lock_timeout = 10s\n", "line 1: lock timeout '10s'" },
		{ "lock_timeout = 99999999999999999999\n", "line 1: lock timeout '99999999999999999999' is not a number" },
		{ "lock_timeout = 2147484\n", "line 1: lock timeout '2147484' is not a number of seconds (0..2147483)" },
		{ "lock_timeout =\n", "line 1: lock timeout ''" },
		{ "failure_backoff = 10x\n", "line 1: failure backoff '10x': want a duration like 30s, 1m or 1h (0: off)" },
		{ "failure_backoff = 2d\n", "line 1: failure backoff '2d'" },
		{ "failure_backoff = -1m\n", "line 1: failure backoff '-1m'" },
		{ "failure_backoff = 25h\n", "line 1: failure backoff '25h'" },
		{ "failure_backoff =\n", "line 1: failure backoff ''" },
		{ "fleet_marker_ttl = x\n", "line 1: fleet_marker_ttl 'x': want a duration" },
		{ "registry_stall = soon\n", "line 1: registry_stall 'soon': want a duration of 1s or more" },
		{ "registry_stall = 0\n", "line 1: registry_stall '0': want a duration of 1s or more" },
		{ "runtimes = codex, a/b\n", "line 1: runtime 'a/b': must not contain '/'" },
		{ "runtimes = ,,\n", "line 1: runtimes lists no runtime" },
		{ "runtimes =\n", "line 1: runtimes lists no runtime" },
		{ "build_arg = NOVALUE\n", "line 1: build_arg needs the form K=V" },
		{ "build_arg = =v\n", "line 1: build_arg needs the form K=V" },
		{ "# ok\nrepo_prefix = x\n\n  \t\nsecret-token-123\n", "line 5: expected 'key = value'" },
		{ "a\x1b[2J = 1\n", "line 1: unknown key 'a?[2J'" },
		{ "platform = linux\n", "line 1: platform 'linux': want os/arch" },
		{ "platform = Linux/AMD64\n", "line 1: platform 'Linux/AMD64'" },
		{ "platform = linux/arm/v7/x\n", "line 1: platform 'linux/arm/v7/x'" },
		{ "dockerfile = ../Dockerfile\n", "line 1: dockerfile '../Dockerfile': want a relative path" },
		{ "dockerfile = /etc/passwd\n", "line 1: dockerfile '/etc/passwd'" },
		{ "dockerfile = a/../../b\n", "line 1: dockerfile 'a/../../b'" },
		/* gc's defaults are parsed at load: a typo shows now, not in tonight's cron gc */
		{ "gc_max_age = soon\n", "line 1: gc_max_age 'soon': want a duration like 12h, 7d or 2w" },
		{ "gc_max_size = 20Q\n", "line 1: gc_max_size '20Q': want a size like 500M or 20G" },
		{ "gc_keep = -1\n", "line 1: gc_keep '-1': want a count (0..1000000)" },
		{ "gc_keep = 3x\n", "line 1: gc_keep '3x'" },
	};

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		struct mc_config c;
		char *name = mc_asprintf("bad%zu", i);
		char *path = write_file(name, t[i].text, strlen(t[i].text));
		char *want = mc_asprintf("config '%s' %s", path, t[i].msg);
		int r;

		mc_config_init(&c);
		r = mc_config_load_file(&c, path);
		CHECK_INT(r, MC_EINVAL);
		if (!strstr(mc_error_msg(), want))
			fprintf(stderr, "case %zu: message \"%s\" lacks \"%s\"\n", i, mc_error_msg(), want);
		CHECK(strstr(mc_error_msg(), want) != NULL);
		CHECK(strstr(mc_error_msg(), "secret") == NULL);
		mc_config_release(&c);
		free(name);
		free(path);
		free(want);
	}
}

static void test_secrets_stay_out_of_messages(void)
{
	static const char nul[] = "ref = a\0b\n";
	static const char arg[] = "build_arg = TOKENsecretvalue\n";
	struct mc_config c;

	mc_config_init(&c);
	CHECK_INT(mc_config_load_buffer(&c, "mem", arg, sizeof(arg) - 1), MC_EINVAL);
	CHECK(strstr(mc_error_msg(), "secretvalue") == NULL);
	CHECK_INT(mc_config_load_buffer(&c, "mem", nul, sizeof(nul) - 1), MC_EINVAL);
	CHECK_STR(mc_error_msg(), "config 'mem' line 1: contains a NUL byte");
	mc_config_release(&c);
}

static void test_precedence(void)
{
	static const char file[] =
		"repo_prefix = https://file.example/t-\n"
		"ref = file-ref\n"
		"platform = linux/arm64\n"
		"docker_host = unix:///file.sock\n"
		"runtimes = codex\n"
		"lock_timeout = 10\n"
		"dockerfile = File.docker\n";
	static const char *const env[] = {
		"MOLCACHE_REPO_PREFIX", "https://env.example/t-",
		"MOLECULE_LOCAL_TEMPLATE_REPO_PREFIX", "https://legacy.example/t-",
		"MOLCACHE_REF", "",                          /* empty: ignored */
		"MOLECULE_IMAGE_PLATFORM", "linux/amd64",    /* fallback name used */
		"DOCKER_HOST", "tcp://127.0.0.1:2375",
		"MOLCACHE_GIT_TOKEN", "",
		"MOLECULE_GITEA_TOKEN", "legacy-token",
		"MOLCACHE_RUNTIMES", " hermes , langgraph",
		"MOLCACHE_LOCK_TIMEOUT", "0",
		"MOLCACHE_FAILURE_BACKOFF", "2h",
		NULL,
	};
	static const char *const env2[] = {
		"MOLECULE_LOCAL_TEMPLATE_REPO_PREFIX", "https://legacy.example/t-",
		"MOLCACHE_PLATFORM", "linux/riscv64",
		"MOLECULE_IMAGE_PLATFORM", "linux/amd64",
		"MOLCACHE_GIT_TOKEN", "new-token",
		"MOLECULE_GITEA_TOKEN", "legacy-token",
		NULL,
	};
	struct mc_config c;
	char *path = write_file("prec", file, sizeof(file) - 1);

	/* defaults < file < env */
	mc_config_init(&c);
	CHECK_INT(mc_config_load_file(&c, path), 0);
	fake_env = env;
	CHECK_INT(mc_config_apply_env(&c, env_get), 0);
	CHECK_STR(c.repo_prefix, "https://env.example/t-");
	CHECK_STR(c.ref, "file-ref");
	CHECK_STR(c.platform, "linux/amd64");
	CHECK_STR(c.docker_host, "tcp://127.0.0.1:2375");
	CHECK_STR(c.git_token, "legacy-token");
	CHECK_INT(c.runtimes.n, 2);
	CHECK_STR(c.runtimes.v[0], "hermes");
	CHECK_STR(c.runtimes.v[1], "langgraph");
	CHECK_INT(c.lock_timeout_s, 0);
	CHECK_INT(c.failure_backoff_ms, 7200000);
	CHECK_STR(c.dockerfile, "File.docker");
	CHECK_STR(c.networkmode, "default");
	mc_config_release(&c);

	/* fallback names, and the MOLCACHE_ names winning over them */
	mc_config_init(&c);
	CHECK_INT(mc_config_load_file(&c, path), 0);
	fake_env = env2;
	CHECK_INT(mc_config_apply_env(&c, env_get), 0);
	CHECK_STR(c.repo_prefix, "https://legacy.example/t-");
	CHECK_STR(c.platform, "linux/riscv64");
	CHECK_STR(c.git_token, "new-token");
	CHECK_STR(c.docker_host, "unix:///file.sock");
	CHECK_INT(c.runtimes.n, 1);
	CHECK_INT(c.lock_timeout_s, 10);
	mc_config_release(&c);

	/* an empty environment changes nothing */
	mc_config_init(&c);
	fake_env = NULL;
	CHECK_INT(mc_config_apply_env(&c, env_get), 0);
	CHECK(c.repo_prefix == NULL);
	CHECK_INT(c.runtimes.n, 9);
	mc_config_release(&c);
	free(path);
}

static void test_bad_env(void)
{
	static const char *const bad_timeout[] = { "MOLCACHE_LOCK_TIMEOUT", "5m", NULL };
	static const char *const bad_rt[] = { "MOLCACHE_RUNTIMES", " , ", NULL };
	static const char *const bad_rt2[] = { "MOLCACHE_RUNTIMES", "codex,Codex", NULL };
	struct mc_config c;

	mc_config_init(&c);
	fake_env = bad_timeout;
	CHECK_INT(mc_config_apply_env(&c, env_get), MC_EINVAL);
	CHECK_STR(mc_error_msg(), "environment MOLCACHE_LOCK_TIMEOUT: lock timeout '5m' is not a number of "
				  "seconds (0..2147483)");
	CHECK_INT(c.lock_timeout_s, 1800);
	static const char *const bad_backoff[] = { "MOLCACHE_FAILURE_BACKOFF", "soon", NULL };
	static const char *const off_backoff[] = { "MOLCACHE_FAILURE_BACKOFF", "0", NULL };
	fake_env = bad_backoff;
	CHECK_INT(mc_config_apply_env(&c, env_get), MC_EINVAL);
	CHECK_STR(mc_error_msg(), "environment MOLCACHE_FAILURE_BACKOFF: failure backoff 'soon': want a duration "
				  "like 30s, 1m or 1h (0: off)");
	CHECK_INT(c.failure_backoff_ms, 60000);
	fake_env = off_backoff;
	CHECK_INT(mc_config_apply_env(&c, env_get), 0);
	CHECK_INT(c.failure_backoff_ms, 0);
	fake_env = bad_rt;
	CHECK_INT(mc_config_apply_env(&c, env_get), MC_EINVAL);
	CHECK_STR(mc_error_msg(), "environment MOLCACHE_RUNTIMES: runtimes lists no runtime");
	fake_env = bad_rt2;
	CHECK_INT(mc_config_apply_env(&c, env_get), MC_EINVAL);
	CHECK_STR(mc_error_msg(), "environment MOLCACHE_RUNTIMES: runtime 'Codex': must be lowercase");
	CHECK_INT(c.runtimes.n, 9); /* a rejected list leaves the old one */
	static const char *const bad_platform[] = { "MOLECULE_IMAGE_PLATFORM", "amd64", NULL };
	fake_env = bad_platform;
	CHECK_INT(mc_config_apply_env(&c, env_get), MC_EINVAL);
	CHECK(strstr(mc_error_msg(), "'amd64': want os/arch") != NULL);
	CHECK(c.platform == NULL);
	mc_config_release(&c);
}

static void test_checks(void)
{
	static const char *const platform_good[] = { "linux/amd64", "linux/arm64/v8", "windows/amd64", "linux/arm/v7",
						     "linux/ppc64le", "a/b" };
	static const char *const platform_bad[] = { "", "linux", "/amd64", "linux/", "linux//amd64", "a/b/c/d",
						    "Linux/amd64", "linux/amd 64", "linux/amd64\n" };
	static const char *const df_good[] = { "Dockerfile", "build/Dockerfile", "a..b", "..a/Dockerfile", "x/..y", "./Dockerfile" };
	static const char *const df_bad[] = { "", "/Dockerfile", "..", "../Dockerfile", "a/../../b", "a/.." };

	for (size_t i = 0; i < sizeof(platform_good) / sizeof(*platform_good); i++)
		CHECK(mc_config_platform_ok(platform_good[i]));
	for (size_t i = 0; i < sizeof(platform_bad) / sizeof(*platform_bad); i++)
		CHECK(!mc_config_platform_ok(platform_bad[i]));
	for (size_t i = 0; i < sizeof(df_good) / sizeof(*df_good); i++)
		CHECK(mc_config_dockerfile_ok(df_good[i]));
	for (size_t i = 0; i < sizeof(df_bad) / sizeof(*df_bad); i++)
		CHECK(!mc_config_dockerfile_ok(df_bad[i]));

	/* normalised as docker reads -f: the path in the tree that is used */
	static const char *const df_clean[][2] = {
		{ "./Dockerfile", "Dockerfile" },	 { ".//Dockerfile", "Dockerfile" },
		{ "Dockerfile/", "Dockerfile" },	 { "lib/../Dockerfile", "Dockerfile" },
		{ "a//b/./c/", "a/b/c" },		 { "a/b/../../c/Dockerfile", "c/Dockerfile" },
		{ "..a/Dockerfile", "..a/Dockerfile" }, { "x/..y", "x/..y" },
		{ "build/Dockerfile.prod", "build/Dockerfile.prod" },
	};
	for (size_t i = 0; i < sizeof(df_clean) / sizeof(*df_clean); i++) {
		char *c = mc_path_clean(df_clean[i][0]);
		CHECK_STR(c, df_clean[i][1]);
		free(c);
	}
	CHECK(mc_path_clean(".") == NULL);
	CHECK(mc_path_clean("a/b/../..") == NULL);
	CHECK(mc_path_clean("a/../..") == NULL);
}

static void test_default_path(void)
{
	static const char *const xdg[] = { "XDG_CONFIG_HOME", "/x/cfg", "HOME", "/home/u", NULL };
	static const char *const rel[] = { "XDG_CONFIG_HOME", "cfg", "HOME", "/home/u", NULL };
	static const char *const empty[] = { "XDG_CONFIG_HOME", "", "HOME", "/home/u", NULL };
	static const char *const none[] = { "HOME", "", NULL };
	char *p;

	fake_env = xdg;
	p = mc_config_default_path(env_get);
	CHECK_STR(p, "/x/cfg/molcache/config");
	free(p);
	fake_env = rel;
	p = mc_config_default_path(env_get);
	CHECK_STR(p, "/home/u/.config/molcache/config");
	free(p);
	fake_env = empty;
	p = mc_config_default_path(env_get);
	CHECK_STR(p, "/home/u/.config/molcache/config");
	free(p);
	fake_env = none;
	CHECK(mc_config_default_path(env_get) == NULL);
}

static void test_set(void)
{
	char *f = NULL;

	mc_config_set(&f, "a");
	CHECK_STR(f, "a");
	mc_config_set(&f, f); /* setting a field to itself must not read freed memory */
	CHECK_STR(f, "a");
	mc_config_set(&f, NULL);
	CHECK(f == NULL);
}

int main(void)
{
	const char *base = getenv("MC_TEST_TMP");
	char *tmpl;

	test_bom_and_inline_comments();
	if (!base || !*base)
		base = "/tmp";
	if (mc_mkdir_p(base, 0700)) {
		fprintf(stderr, "%s\n", mc_error_msg());
		return 1;
	}
	tmpl = mc_asprintf("%s/test_config.XXXXXX", base);
	if (!mkdtemp(tmpl)) {
		perror(tmpl);
		return 1;
	}
	snprintf(dir, sizeof(dir), "%s", tmpl);
	free(tmpl);

	test_defaults();
	test_file();
	test_empty_value_resets();
	test_gc_defaults();
	test_quoted_values();
	test_checks();
	test_missing_and_unreadable();
	test_malformed();
	test_secrets_stay_out_of_messages();
	test_precedence();
	test_bad_env();
	test_default_path();
	test_set();
	mc_rm_rf(dir);
	return t_done();
}
