/* ctest_engine.c — the engine client against the fixture's real dockerd and registry. */
#include "../unit/t.h"
#include "../../engine/engine.h"
#include "../../context/context.h"

#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

static char tmp_root[256];

struct progress {
	int s, t, e;
	struct mc_buf text;
};

static void on_progress(void *ud, char kind, const char *data)
{
	struct progress *p = ud;

	CHECK(data != NULL);
	if (kind == 's')
		p->s++;
	else if (kind == 't')
		p->t++;
	else if (kind == 'e')
		p->e++;
	else
		CHECK(!"unknown progress kind");
	if (kind != 't')
		mc_buf_adds(&p->text, data);
}

static void write_file(const char *dir, const char *name, const char *text)
{
	char *path = mc_asprintf("%s/%s", dir, name);
	FILE *f = fopen(path, "w");

	CHECK(f != NULL);
	if (f) {
		fputs(text, f);
		fclose(f);
	}
	free(path);
}

/* A fresh context directory holding only a Dockerfile. */
static char *make_ctx(const char *name, const char *dockerfile)
{
	char *dir = mc_asprintf("%s/%s", tmp_root, name);

	CHECK_INT(mc_mkdir_p(dir, 0755), 0);
	write_file(dir, "Dockerfile", dockerfile);
	return dir;
}

/* Runs one build of dir; returns the engine's result, id in out_id. */
static int build(struct mc_engine *e, const char *dir, const char *tag, const struct mc_strv *args,
		 const struct mc_strv *labels, struct progress *p, char out_id[80], struct mc_buf *log)
{
	struct mc_context *ctx = NULL;
	const char *tags[] = { tag, NULL };
	struct mc_build_req req = { 0 };
	int ret;

	ret = mc_context_open(&ctx, dir, "Dockerfile");
	CHECK_INT(ret, 0);
	if (ret) {
		fprintf(stderr, "context: %s\n", mc_error_msg());
		return ret;
	}
	req.context = ctx;
	req.dockerfile = "Dockerfile";
	req.tags = tag ? tags : NULL;
	req.networkmode = "none";
	req.build_args = args;
	req.labels = labels;
	req.progress = on_progress;
	req.ud = p;
	ret = mc_engine_build(e, &req, out_id, log);
	CHECK(mc_context_bytes(ctx) > 0);
	mc_context_free(ctx);
	return ret;
}

/* Config.Labels[key] of image id, "" when absent. */
static char *image_label(struct mc_engine *e, const char *id, const char *key)
{
	struct mc_image img = MC_IMAGE_INIT;
	const char *v;
	char *r;

	CHECK_INT(mc_engine_image_inspect(e, id, &img), 0);
	v = mc_image_label(&img, key);
	r = mc_strdup(v ? v : "");
	mc_image_release(&img);
	return r;
}

static void check_label(struct mc_engine *e, const char *id, const char *key, const char *want)
{
	char *v = image_label(e, id, key);

	CHECK_STR(v, want);
	free(v);
}

/*
 * A fake engine on a unix socket, for what the real dockerd here never does:
 * Podman and old/new API versions, lower-case header names, JSON lines split
 * into tiny writes, error lines after progress, a stream cut short. Every
 * request head is appended to <tmp>/fake.log.
 */
struct fake {
	const char *ping_headers; /* after the status line */
	const char *version_body;
	int status;               /* for /build and /images/create */
	const char *headers;      /* extra response headers for them */
	const char *body;         /* sent in 5-byte pieces */
};

static void fake_send(int c, int status, const char *headers, const char *body, int slow)
{
	char head[512];
	size_t i, n = strlen(body);

	snprintf(head, sizeof(head), "HTTP/1.1 %d X\r\nConnection: close\r\n%s\r\n", status, headers);
	if (write(c, head, strlen(head)) < 0)
		return;
	for (i = 0; i < n; i += slow ? 5 : n) {
		size_t k = n - i < (slow ? 5 : n) ? n - i : (slow ? 5 : n);
		if (write(c, body + i, k) < 0)
			return;
		if (slow)
			usleep(300);
	}
}

static void fake_serve(int lfd, const struct fake *f, const char *logpath)
{
	static char req[1 << 20];

	signal(SIGPIPE, SIG_IGN);
	for (;;) {
		int c = accept(lfd, NULL, NULL);
		size_t len = 0;
		char *end = NULL;
		FILE *log;

		if (c < 0)
			continue;
		/* the head, then a chunked body up to its last chunk */
		while (len < sizeof(req) - 1) {
			ssize_t r = read(c, req + len, sizeof(req) - 1 - len);
			if (r <= 0)
				break;
			len += (size_t)r;
			req[len] = 0;
			end = strstr(req, "\r\n\r\n");
			if (end && (!strstr(req, "chunked") || (len >= 5 && !memcmp(req + len - 5, "0\r\n\r\n", 5))))
				break;
		}
		if (end) {
			log = fopen(logpath, "a");
			if (log) {
				fwrite(req, 1, (size_t)(end - req) + 4, log);
				fclose(log);
			}
			if (!strncmp(req, "GET /_ping ", 11))
				fake_send(c, 200, f->ping_headers, "OK", 0);
			else if (strstr(req, "/version HTTP/1.1"))
				fake_send(c, 200, "", f->version_body, 0);
			else
				fake_send(c, f->status, f->headers, f->body, 1);
		}
		close(c);
	}
}

static pid_t fake_start(const struct fake *f, char **host)
{
	char *sock = mc_asprintf("%s/fake.sock", tmp_root);
	char *logpath = mc_asprintf("%s/fake.log", tmp_root);
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int lfd = socket(AF_UNIX, SOCK_STREAM, 0);
	pid_t pid;

	unlink(sock);
	unlink(logpath);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", sock);
	CHECK(lfd >= 0);
	CHECK_INT(bind(lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	CHECK_INT(listen(lfd, 16), 0);
	fflush(NULL);
	pid = fork();
	if (pid == 0) {
		fake_serve(lfd, f, logpath);
		_exit(0);
	}
	close(lfd);
	*host = mc_asprintf("unix://%s", sock);
	free(sock);
	free(logpath);
	return pid;
}

static void fake_stop(pid_t pid, char *host)
{
	int st;

	if (pid > 0) {
		kill(pid, SIGTERM);
		waitpid(pid, &st, 0);
	}
	free(host);
}

/* The request heads the fake saw, "" when none. */
static char *fake_log(void)
{
	char *path = mc_asprintf("%s/fake.log", tmp_root);
	struct mc_buf b = MC_BUF_INIT;
	char chunk[4096];
	size_t n;
	FILE *f = fopen(path, "r");

	while (f && (n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		mc_buf_add(&b, chunk, n);
	if (f)
		fclose(f);
	free(path);
	return mc_buf_detach(&b);
}

#define PING_OK "Api-Version: 1.41\r\nOstype: linux\r\n"
#define VERSION_OK "{\"Os\":\"linux\",\"Arch\":\"amd64\"}"

static void test_fake_negotiation(void)
{
	static const struct {
		const char *ping, *version;
		int ret;
		const char *api, *platform;
		int buildkit;
	} cases[] = {
		/* Podman: classic builder even without Builder-Version */
		{ "Api-Version: 1.41\r\nLibpod-Api-Version: 4.4.0\r\n",
		  "{\"Os\":\"linux\",\"Arch\":\"arm64\",\"Variant\":\"v8\"}", 0, "1.41", "linux/arm64/v8", 0 },
		/* header names compared without case; Builder-Version 1 = classic */
		{ "api-version: 1.40\r\nbuilder-version: 1\r\n", VERSION_OK, 0, "1.40", "linux/amd64", 0 },
		/* newer engine: we stay at 1.41 */
		{ "API-VERSION: 1.45\r\nBuilder-Version: 2\r\n", VERSION_OK, 0, "1.41", "linux/amd64", 1 },
		/* 20.10: no Builder-Version means unknown, BuildKit on */
		{ "Api-Version:1.39\r\n", VERSION_OK, 0, "1.39", "linux/amd64", 1 },
		{ "Api-Version: 1.38\r\n", VERSION_OK, MC_EENGINE, NULL, NULL, 0 },
		{ "Server: not-docker\r\n", VERSION_OK, MC_EENGINE, NULL, NULL, 0 },
		{ PING_OK, "{\"Os\":\"linux\"}", MC_EENGINE, NULL, NULL, 0 },
	};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct fake f = { cases[i].ping, cases[i].version, 200, "", "" };
		struct mc_engine *e = NULL;
		char *host = NULL;
		pid_t pid = fake_start(&f, &host);
		int ret = mc_engine_open(&e, host);
		/* the platform (GET /version) is asked for on first use */
		if (!ret && !mc_engine_platform(e))
			ret = mc_error_code();

		CHECK_INT(ret, cases[i].ret);
		if (ret != cases[i].ret)
			fprintf(stderr, "negotiation case %zu: %s\n", i, mc_error_msg());
		if (!ret && e) {
			CHECK_STR(mc_engine_api_version(e), cases[i].api);
			CHECK_STR(mc_engine_platform(e), cases[i].platform);
			CHECK_INT(mc_engine_buildkit(e), cases[i].buildkit);
		}
		if (i == 4)
			CHECK(strstr(mc_error_msg(), "1.38 is older than 1.39") != NULL);
		mc_engine_free(e);
		fake_stop(pid, host);
	}
}

static void test_fake_build(void)
{
	static const struct {
		int status;
		const char *headers, *body;
		int ret;
		const char *id, *in_msg;
		int s, t, e;
	} cases[] = {
		/* BuildKit shape, CRLF, last line without a newline, split in 5-byte writes */
		{ 200, "",
		  "{\"id\":\"moby.buildkit.trace\",\"aux\":\"CgQKAmFi\"}\r\n"
		  "{\"id\":\"moby.buildkit.trace\",\"aux\":\"CgQKAmNk\"}\r\n"
		  "{\"id\":\"moby.image.id\",\"aux\":{\"ID\":\"sha256:1111111111111111111111111111111111111111111111111111111111111111\"}}\r\n"
		  "{\"stream\":\"Successfully tagged a/b:1\\n\"}",
		  0, "sha256:1111111111111111111111111111111111111111111111111111111111111111", NULL, 1, 2, 0 },
		/* classic shape: the last aux.ID wins */
		{ 200, "",
		  "{\"stream\":\"Step 1/2 : FROM x\\n\"}\n{\"aux\":{\"ID\":\"sha256:aa\"}}\n"
		  "{\"stream\":\"Step 2/2 : RUN y\\n\"}\n\n{\"aux\":{\"ID\":\"sha256:bb\"}}\n",
		  0, "sha256:bb", NULL, 2, 0, 0 },
		/* an error after progress, with HTTP 200 */
		{ 200, "",
		  "{\"stream\":\"Step 1/2 : FROM x\\n\"}\n"
		  "{\"errorDetail\":{\"message\":\"step 2 broke\"},\"error\":\"step 2 broke\"}\n"
		  "{\"aux\":{\"ID\":\"sha256:cc\"}}\n",
		  MC_EBUILD, "", "build of 'a/b:1': step 2 broke", 1, 0, 1 },
		/* "error" alone */
		{ 200, "", "{\"error\":\"only error\"}\n", MC_EBUILD, "", "only error", 0, 0, 1 },
		/* no image id at all */
		{ 200, "", "{\"stream\":\"hello\\n\"}\n", MC_EBUILD, "", "no image id", 1, 0, 0 },
		/* refused before any output */
		{ 400, "Content-Type: application/json\r\n", "{\"message\":\"bad things\"}\n", MC_EBUILD, "",
		  "build of 'a/b:1': bad things", 0, 0, 0 },
		{ 500, "", "plain text failure\n", MC_EBUILD, "", "plain text failure", 0, 0, 0 },
		/* the engine goes away mid-stream */
		{ 200, "Content-Length: 100000\r\n", "{\"stream\":\"Step 1/2 : FROM x\\n\"}\n", MC_EENGINE, "",
		  "docker engine at '", 1, 0, 0 },
	};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct fake f = { PING_OK, VERSION_OK, cases[i].status, cases[i].headers, cases[i].body };
		struct progress p = { 0, 0, 0, MC_BUF_INIT };
		struct mc_strv args = MC_STRV_INIT, labels = MC_STRV_INIT;
		struct mc_buf log = MC_BUF_INIT;
		struct mc_engine *e = NULL;
		char *host = NULL, *dir, *heads;
		char id[80] = "junk";
		pid_t pid = fake_start(&f, &host);
		int ret;

		CHECK_INT(mc_engine_open(&e, host), 0);
		if (!e) {
			fake_stop(pid, host);
			continue;
		}
		dir = make_ctx("fake-build", "FROM x\n");
		mc_strv_push(&args, "A=1 2");
		mc_strv_push(&labels, "L=v");
		ret = build(e, dir, "a/b:1", &args, &labels, &p, id, &log);
		CHECK_INT(ret, cases[i].ret);
		if (ret != cases[i].ret)
			fprintf(stderr, "fake build case %zu: %s\n", i, mc_error_msg());
		CHECK_STR(id, cases[i].id ? cases[i].id : "");
		if (cases[i].in_msg) {
			if (!strstr(mc_error_msg(), cases[i].in_msg))
				fprintf(stderr, "fake build case %zu: '%s' lacks '%s'\n", i, mc_error_msg(),
					cases[i].in_msg);
			CHECK(strstr(mc_error_msg(), cases[i].in_msg) != NULL);
		}
		CHECK_INT(p.s, cases[i].s);
		CHECK_INT(p.t, cases[i].t);
		CHECK_INT(p.e, cases[i].e);

		heads = fake_log();
		CHECK(strstr(heads, "POST /v1.41/build?t=a%2Fb%3A1&dockerfile=Dockerfile&version=2&pull=0&rm=1"
				    "&forcerm=1&networkmode=none&buildargs=%7B%22A%22%3A%221%202%22%7D"
				    "&labels=%7B%22L%22%3A%22v%22%7D HTTP/1.1\r\n") != NULL);
		CHECK(strstr(heads, "Content-Type: application/x-tar\r\n") != NULL);
		CHECK(strstr(heads, "Transfer-Encoding: chunked\r\n") != NULL);
		CHECK(strstr(heads, "Expect") == NULL);
		free(heads);

		mc_engine_free(e);
		fake_stop(pid, host);
		mc_rm_rf(dir);
		free(dir);
		mc_strv_release(&args);
		mc_strv_release(&labels);
		mc_buf_release(&p.text);
		mc_buf_release(&log);
	}
}

static void test_fake_pull(void)
{
	static const struct {
		const char *ref, *platform;
		const char *query; /* expected request line */
		const char *body;
		int ret;
		const char *in_msg;
	} cases[] = {
		{ "reg:5000/a/b:1.0", NULL, "POST /v1.41/images/create?fromImage=reg%3A5000%2Fa%2Fb&tag=1.0 HTTP",
		  "{\"status\":\"Pulling\"}\n{\"status\":\"Done\"}\n", 0, NULL },
		{ "reg:5000/a/b", NULL, "POST /v1.41/images/create?fromImage=reg%3A5000%2Fa%2Fb&tag=latest HTTP",
		  "{\"status\":\"Done\"}", 0, NULL },
		{ "a/b", "linux/arm64", "POST /v1.41/images/create?fromImage=a%2Fb&tag=latest&platform=linux%2Farm64 HTTP",
		  "{\"status\":\"Done\"}\n", 0, NULL },
		{ "a@sha256:abcd", NULL, "POST /v1.41/images/create?fromImage=a%40sha256%3Aabcd HTTP",
		  "{\"status\":\"Done\"}\n", 0, NULL },
		{ "busybox:1", NULL, "POST /v1.41/images/create?fromImage=busybox&tag=1 HTTP",
		  "{\"status\":\"Downloading\",\"progressDetail\":{\"current\":1,\"total\":9}}\n"
		  "{\"errorDetail\":{\"message\":\"unexpected EOF\"},\"error\":\"unexpected EOF\"}\n",
		  MC_ERR, "pull of 'busybox:1': unexpected EOF" },
	};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct fake f = { PING_OK, VERSION_OK, 200, "", cases[i].body };
		struct mc_engine *e = NULL;
		char *host = NULL, *heads;
		pid_t pid = fake_start(&f, &host);
		int ret;

		CHECK_INT(mc_engine_open(&e, host), 0);
		if (e) {
			ret = mc_engine_image_pull(e, cases[i].ref, cases[i].platform);
			CHECK_INT(ret, cases[i].ret);
			if (cases[i].in_msg)
				CHECK(strstr(mc_error_msg(), cases[i].in_msg) != NULL);
			heads = fake_log();
			if (!strstr(heads, cases[i].query))
				fprintf(stderr, "pull case %zu: no '%s' in\n%s\n", i, cases[i].query, heads);
			CHECK(strstr(heads, cases[i].query) != NULL);
			CHECK(strstr(heads, "X-Registry-Auth: e30=\r\n") != NULL);
			free(heads);
		}
		mc_engine_free(e);
		fake_stop(pid, host);
	}
}

static void test_open_and_facts(struct mc_engine *e)
{
	struct mc_buf body = MC_BUF_INIT;
	long status = 0;

	CHECK_STR(mc_engine_api_version(e), "1.41");
	CHECK_STR(mc_engine_platform(e), "linux/amd64");
	/* dockerd 20.10 sends no Builder-Version: that is not "classic". */
	CHECK_INT(mc_engine_buildkit(e), 1);

	CHECK_INT(mc_engine_get(e, "/_ping", &status, &body), 0);
	CHECK_INT(status, 200);
	CHECK_STR(mc_buf_cstr(&body), "OK");
	mc_buf_reset(&body);
	CHECK_INT(mc_engine_get(e, "/images/mc-test%2Fnope/json", &status, &body), 0);
	CHECK_INT(status, 404);
	mc_buf_release(&body);
}

static void test_unreachable(void)
{
	struct {
		const char *host;
		int code;
		const char *in_msg;
	} cases[] = {
		{ "unix:///nonexistent-mc-dir/docker.sock", MC_EENGINE, "/nonexistent-mc-dir/docker.sock" },
		{ "tcp://127.0.0.1:1", MC_EENGINE, "127.0.0.1:1" },
		{ "unix:///tmp/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
		  "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa/docker.sock",
		  MC_EINVAL, "longer than 107" },
		{ "ssh://user@host", MC_EINVAL, "ssh is not supported; use tcp+TLS" },
		{ "npipe:////./pipe/docker_engine", MC_EINVAL, "unsupported scheme" },
		{ "unix://", MC_EINVAL, "no socket path" },
	};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct mc_engine *e = (struct mc_engine *)1;
		int64_t t0 = mc_mono_ms();
		int ret = mc_engine_open(&e, cases[i].host);

		CHECK_INT(ret, cases[i].code);
		CHECK(e == NULL);
		CHECK(mc_mono_ms() - t0 < 3000);
		if (!strstr(mc_error_msg(), cases[i].in_msg))
			fprintf(stderr, "case %zu: message '%s' lacks '%s'\n", i, mc_error_msg(),
				cases[i].in_msg);
		CHECK(strstr(mc_error_msg(), cases[i].in_msg) != NULL);
		if (cases[i].code == MC_EENGINE) {
			CHECK(strstr(mc_error_msg(), "docker engine at '") == mc_error_msg());
			CHECK(strstr(mc_error_hint_msg(), "DOCKER_HOST") != NULL);
		}
	}
}

static void test_images(struct mc_engine *e, const char *base, const char *registry)
{
	struct mc_image img = MC_IMAGE_INIT, img2 = MC_IMAGE_INIT;
	struct mc_buf body = MC_BUF_INIT;
	char *ref, *missing, *latest, *path, *digest_ref = NULL;
	json_t *root;
	long status = 0;
	int ret;

	CHECK_INT(mc_engine_image_inspect(e, base, &img), 0);
	CHECK(!strncmp(img.id, "sha256:", 7));
	CHECK_INT(strlen(img.id), 71);
	CHECK(img.size > 1000000); /* busybox-static alone is ~2 MB */
	CHECK_INT(mc_engine_image_inspect(e, base, NULL), 0);

	CHECK_INT(mc_engine_image_inspect(e, "mc-test/does-not-exist:1", &img2), MC_ENOTFOUND);
	CHECK(strstr(mc_error_msg(), "mc-test/does-not-exist:1") != NULL);

	/* tag, then the new name resolves to the same image */
	CHECK_INT(mc_engine_image_tag(e, base, "mc-test/tagged", "t1"), 0);
	CHECK_INT(mc_engine_image_inspect(e, "mc-test/tagged:t1", &img2), 0);
	CHECK_STR(img2.id, img.id);
	CHECK(mc_strv_find(&img2.tags, "mc-test/tagged:t1") >= 0); /* RepoTags */
	CHECK(img2.tags.n >= 2); /* and the base's own name */
	CHECK_INT(mc_engine_image_tag(e, "mc-test/does-not-exist:1", "mc-test/x", "1"), MC_ENOTFOUND);
	CHECK(mc_engine_image_tag(e, base, "Bad Repo!", "1") < 0);

	/* pull from the fixture's registry: the ':' of the port is not a tag */
	ref = mc_asprintf("%s/mc/busybox:1.0", registry);
	mc_engine_image_remove(e, ref, 1); /* another test of this fixture may have pulled it */
	CHECK_INT(mc_engine_image_inspect(e, ref, NULL), MC_ENOTFOUND);
	ret = mc_engine_image_pull(e, ref, NULL);
	if (ret)
		fprintf(stderr, "pull: %s\n", mc_error_msg());
	CHECK_INT(ret, 0);
	CHECK_INT(mc_engine_image_inspect(e, ref, &img2), 0);
	CHECK_STR(img2.id, img.id);

	/* and by digest */
	path = mc_asprintf("/images/%s/json", img2.id);
	CHECK_INT(mc_engine_get(e, path, &status, &body), 0);
	root = json_loadb(mc_buf_cstr(&body), body.len, 0, NULL);
	if (json_is_string(json_array_get(json_object_get(root, "RepoDigests"), 0)))
		digest_ref = mc_strdup(json_string_value(json_array_get(json_object_get(root, "RepoDigests"), 0)));
	json_decref(root);
	CHECK(digest_ref != NULL && strstr(digest_ref, "@sha256:") != NULL);
	if (digest_ref) {
		CHECK_INT(mc_engine_image_pull(e, digest_ref, "linux/amd64"), 0);
		CHECK_INT(mc_engine_image_inspect(e, digest_ref, NULL), 0);
	}

	/* a missing tag fails clearly; no tag means latest (absent here), never all tags */
	missing = mc_asprintf("%s/mc/busybox:nope", registry);
	ret = mc_engine_image_pull(e, missing, NULL);
	CHECK_INT(ret, MC_ENOTFOUND);
	CHECK(strstr(mc_error_msg(), "pull of '") == mc_error_msg());
	CHECK(strstr(mc_error_msg(), "not found") != NULL || strstr(mc_error_msg(), "unknown") != NULL);
	fprintf(stderr, "missing tag: %s\n", mc_error_msg());
	latest = mc_asprintf("%s/mc/busybox", registry);
	CHECK(mc_engine_image_pull(e, latest, NULL) < 0);
	CHECK(strstr(mc_error_msg(), "latest") != NULL);
	CHECK(mc_engine_image_pull(e, "mc-test/busybox:", NULL) == MC_EINVAL);

	/* remove: ok, then gone (the digest first: untagging the repo's last tag drops it) */
	if (digest_ref)
		CHECK_INT(mc_engine_image_remove(e, digest_ref, 0), 0);
	CHECK_INT(mc_engine_image_remove(e, ref, 0), 0);
	CHECK_INT(mc_engine_image_inspect(e, ref, NULL), MC_ENOTFOUND);
	CHECK_INT(mc_engine_image_remove(e, ref, 0), MC_ENOTFOUND);
	CHECK_INT(mc_engine_image_remove(e, "mc-test/tagged:t1", 0), 0);
	CHECK_INT(mc_engine_image_inspect(e, base, NULL), 0);

	mc_buf_release(&body);
	free(path);
	free(digest_ref);
	free(ref);
	free(missing);
	free(latest);
	mc_image_release(&img);
	mc_image_release(&img2);
}

static void test_build_ok(struct mc_engine *e, int buildkit)
{
	const char *tag = buildkit ? "mc-test/built:bk" : "mc-test/built:classic";
	struct mc_strv args = MC_STRV_INIT, labels = MC_STRV_INIT;
	struct progress p = { 0, 0, 0, MC_BUF_INIT };
	struct mc_buf log = MC_BUF_INIT;
	struct mc_image img = MC_IMAGE_INIT;
	char id[80] = "junk";
	char *dir;
	int ret;

	dir = make_ctx(buildkit ? "ok-bk" : "ok-classic",
		       "FROM mc-test/busybox\n"
		       "ARG GREETING=unset\n"
		       "RUN echo hi > /hi && test \"$GREETING\" = \"hello world\"\n"
		       "LABEL x=y greet=\"$GREETING\"\n");
	write_file(dir, "extra.txt", "not used\n");
	mc_strv_push(&args, "GREETING=hello world");
	mc_strv_push(&labels, "mc.test=1");
	mc_strv_push(&labels, "mc.key=a&b=c");
	mc_engine_set_buildkit(e, buildkit);
	CHECK_INT(mc_engine_buildkit(e), buildkit);

	ret = build(e, dir, tag, &args, &labels, &p, id, &log);
	if (ret)
		fprintf(stderr, "build (buildkit=%d): %s\nlog:\n%s", buildkit, mc_error_msg(), mc_buf_cstr(&log));
	CHECK_INT(ret, 0);
	CHECK(!strncmp(id, "sha256:", 7));
	CHECK_INT(strlen(id), 71);
	CHECK_INT(p.e, 0);
	if (buildkit) {
		CHECK(p.t > 0);
	} else {
		CHECK_INT(p.t, 0);
		CHECK(p.s > 0);
		CHECK(strstr(mc_buf_cstr(&p.text), "Step 1/") != NULL);
		CHECK(strstr(mc_buf_cstr(&log), "Step") != NULL);
	}

	CHECK_INT(mc_engine_image_inspect(e, id, &img), 0);
	CHECK_STR(img.id, id);
	CHECK_INT(mc_engine_image_inspect(e, tag, &img), 0);
	CHECK_STR(img.id, id);
	check_label(e, id, "x", "y");
	check_label(e, id, "greet", "hello world");
	check_label(e, id, "mc.test", "1");
	check_label(e, id, "mc.key", "a&b=c");

	/* the image as struct mc_image: labels, layers, creation time, history */
	CHECK(img.created > 1600000000);
	CHECK(img.layers.n >= 2); /* the base's and RUN's */
	CHECK(!strncmp(img.layers.v[0], "sha256:", 7));
	CHECK_STR(mc_image_label(&img, "mc.test"), "1");
	CHECK(mc_image_label(&img, "mc.none") == NULL);
	{
		struct mc_image_step *steps = NULL;
		size_t ns = 0;
		int64_t sized = 0;
		CHECK_INT(mc_engine_image_history(&steps, &ns, e, tag), 0);
		CHECK(ns >= img.layers.n);
		for (size_t i = 0; i < ns; i++)
			sized += steps[i].size;
		CHECK(sized > 0);
		mc_image_steps_free(steps, ns);
		CHECK_INT(mc_engine_image_history(&steps, &ns, e, "mc-test/does-not-exist:1"), MC_ENOTFOUND);
	}
	/* a label filter whose value needs escaping in a query ('&', '=') finds
	 * exactly this image; a prefix of the value finds nothing */
	{
		struct mc_strv want = MC_STRV_INIT;
		struct mc_image *list = NULL;
		size_t n = 0;
		mc_strv_push(&want, "mc.key=a&b=c");
		mc_strv_push(&want, "mc.test");
		CHECK_INT(mc_engine_image_list(&list, &n, e, &want, 0), 0);
		CHECK_INT(n, 1);
		if (n == 1) {
			CHECK_STR(list[0].id, id);
			CHECK_STR(mc_image_label(&list[0], "mc.key"), "a&b=c");
			CHECK(mc_strv_find(&list[0].tags, tag) >= 0);
			CHECK_INT(list[0].created, img.created);
		}
		mc_images_free(list, n);
		mc_strv_release(&want);
		mc_strv_push(&want, "mc.key=a");
		CHECK_INT(mc_engine_image_list(&list, &n, e, &want, 1), 0);
		CHECK_INT(n, 0);
		mc_images_free(list, n);
		mc_strv_release(&want);
		CHECK_INT(mc_engine_image_list(&list, &n, e, NULL, 1), 0);
		CHECK(n >= 2);
		mc_images_free(list, n);
	}

	CHECK_INT(mc_engine_image_remove(e, tag, 0), 0);
	CHECK_INT(mc_engine_image_inspect(e, id, NULL), MC_ENOTFOUND);
	mc_image_release(&img);
	mc_strv_release(&args);
	mc_strv_release(&labels);
	mc_buf_release(&p.text);
	mc_buf_release(&log);
	free(dir);
}

static void test_build_fail(struct mc_engine *e, int buildkit)
{
	struct progress p = { 0, 0, 0, MC_BUF_INIT };
	struct mc_buf log = MC_BUF_INIT;
	char id[80];
	char *dir;
	int ret;

	mc_engine_set_buildkit(e, buildkit);
	dir = make_ctx(buildkit ? "fail-bk" : "fail-classic", "FROM mc-test/busybox\nRUN echo first\nRUN exit 3\n");
	ret = build(e, dir, "mc-test/fail:1", NULL, NULL, &p, id, &log);
	CHECK_INT(ret, MC_EBUILD);
	fprintf(stderr, "failing RUN (buildkit=%d): %s\n", buildkit, mc_error_msg());
	CHECK(strstr(mc_error_msg(), "build of 'mc-test/fail:1': ") == mc_error_msg());
	CHECK(strstr(mc_error_msg(), "exit 3") != NULL);
	CHECK_STR(id, "");
	CHECK(p.e > 0);
	CHECK(strstr(mc_buf_cstr(&log), "exit 3") != NULL);
	CHECK_INT(mc_engine_image_inspect(e, "mc-test/fail:1", NULL), MC_ENOTFOUND);
	mc_buf_release(&p.text);
	mc_buf_release(&log);
	free(dir);
}

static void test_build_missing_from(struct mc_engine *e)
{
	struct progress p = { 0, 0, 0, MC_BUF_INIT };
	char id[80];
	char *dir;
	int64_t t0;
	int ret;

	mc_engine_set_buildkit(e, 1);
	dir = make_ctx("missing-from", "FROM 127.0.0.1:1/mc-test/absent:1\nRUN true\n");
	t0 = mc_mono_ms();
	ret = build(e, dir, NULL, NULL, NULL, &p, id, NULL);
	CHECK_INT(ret, MC_EBUILD);
	fprintf(stderr, "missing FROM: %s (%lld ms)\n", mc_error_msg(), (long long)(mc_mono_ms() - t0));
	CHECK(strstr(mc_error_msg(), "absent") != NULL);
	CHECK(mc_mono_ms() - t0 < 120000);
	mc_buf_release(&p.text);
	free(dir);
}

/* A request the engine refuses (400 before any output) is a build error with its words. */
static void test_build_refused(struct mc_engine *e)
{
	struct mc_context *ctx = NULL;
	struct mc_build_req req = { 0 };
	struct mc_strv bad = MC_STRV_INIT;
	char id[80];
	char *dir = make_ctx("refused", "FROM mc-test/busybox\n");

	mc_engine_set_buildkit(e, 1);
	CHECK_INT(mc_context_open(&ctx, dir, "Dockerfile"), 0);
	req.context = ctx;
	req.dockerfile = "Dockerfile";
	req.networkmode = "bogus";
	CHECK_INT(mc_engine_build(e, &req, id, NULL), MC_EBUILD);
	CHECK(strstr(mc_error_msg(), "network mode \"bogus\" not supported") != NULL);
	mc_context_free(ctx);

	/* a build arg without '=' never reaches the engine */
	ctx = NULL;
	CHECK_INT(mc_context_open(&ctx, dir, "Dockerfile"), 0);
	mc_strv_push(&bad, "NOVALUE");
	req.context = ctx;
	req.networkmode = "none";
	req.build_args = &bad;
	CHECK_INT(mc_engine_build(e, &req, id, NULL), MC_EINVAL);
	mc_context_free(ctx);
	mc_strv_release(&bad);
	free(dir);
}

/* A context that fails mid-stream aborts the upload with the context's own error. */
static void test_build_context_error(struct mc_engine *e, const char *base)
{
	struct mc_context *ctx = NULL;
	struct mc_build_req req = { 0 };
	char *dir = make_ctx("ctx-error", "FROM mc-test/busybox\nCOPY big.bin /\n");
	char *big = mc_asprintf("%s/big.bin", dir);
	char id[80];
	FILE *f = fopen(big, "w");
	int ret, i;

	CHECK(f != NULL);
	for (i = 0; f && i < 4096; i++)
		fputs("0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\n", f);
	if (f)
		fclose(f);
	mc_engine_set_buildkit(e, 1);
	CHECK_INT(mc_context_open(&ctx, dir, "Dockerfile"), 0);
	CHECK_INT(truncate(big, 10), 0);
	req.context = ctx;
	req.dockerfile = "Dockerfile";
	req.networkmode = "none";
	ret = mc_engine_build(e, &req, id, NULL);
	fprintf(stderr, "context error: %d %s\n", ret, mc_error_msg());
	CHECK(ret < 0 && ret != MC_EBUILD && ret != MC_EENGINE);
	CHECK(strstr(mc_error_msg(), "big.bin") != NULL);
	mc_context_free(ctx);
	/* the handle still works after the aborted upload */
	CHECK_INT(mc_engine_image_inspect(e, base, NULL), 0);
	free(big);
	free(dir);
}

int main(void)
{
	const char *host = getenv("DOCKER_HOST");
	const char *registry = getenv("MC_REGISTRY");
	const char *base = getenv("MC_BASE_IMAGE");
	const char *tmpdir = getenv("TMPDIR");
	struct mc_engine *e = NULL;
	int ret;

	if (!host || !registry || !base) {
		fprintf(stderr, "DOCKER_HOST, MC_REGISTRY, MC_BASE_IMAGE must be set (run through run_c.sh)\n");
		return 1;
	}
	snprintf(tmp_root, sizeof(tmp_root), "%s/mc-ctest-engine-XXXXXX", tmpdir && *tmpdir ? tmpdir : "/tmp");
	if (!mkdtemp(tmp_root)) {
		perror("mkdtemp");
		return 1;
	}

	test_unreachable();
	test_fake_negotiation();
	test_fake_build();
	test_fake_pull();
	ret = mc_engine_open(&e, host);
	if (ret)
		fprintf(stderr, "open: %s\n", mc_error_msg());
	CHECK_INT(ret, 0);
	if (!ret) {
		test_open_and_facts(e);
		test_images(e, base, registry);
		test_build_ok(e, 1);
		test_build_ok(e, 0);
		test_build_fail(e, 1);
		test_build_fail(e, 0);
		test_build_missing_from(e);
		test_build_refused(e);
		test_build_context_error(e, base);
	}
	mc_engine_free(e);
	mc_engine_free(NULL);
	mc_rm_rf(tmp_root);
	return t_done();
}
