/* ctest_context_image.c — a context with a symlink, a 150-byte path, a hard link and
 * an executable, streamed by cache/context into a real BuildKit build, arrives intact:
 * RUN steps inside the image check each one, and the build fails if any is wrong. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../context/context.h"
#include "../../engine/engine.h"
#include "../unit/t.h"

static void write_file(const char *path, const char *text, int mode)
{
	FILE *f = fopen(path, "w");
	if (!f) {
		perror(path);
		exit(1);
	}
	fputs(text, f);
	fclose(f);
	chmod(path, mode);
}

static int build(struct mc_engine *e, const char *dir, int buildkit, char id[80], struct mc_buf *log)
{
	struct mc_context *c = NULL;
	const char *tags[] = { "mc-test/context-image:1", NULL };
	int ret = mc_context_open(&c, dir, "Dockerfile");
	if (ret)
		return ret;
	mc_engine_set_buildkit(e, buildkit);
	struct mc_build_req req = { .context = c, .dockerfile = "Dockerfile", .tags = tags, .networkmode = "none" };
	ret = mc_engine_build(e, &req, id, log);
	mc_context_free(c);
	return ret;
}

int main(void)
{
	char dir[] = "/tmp/mc-ctximg.XXXXXX", path[1024], longdir[512];
	struct mc_engine *e = NULL;
	struct mc_buf log = MC_BUF_INIT;
	char id[80] = "";

	if (!mkdtemp(dir))
		return 1;
	/* 150-byte relative path: d{40}/e{50}/f{54}.txt */
	snprintf(longdir, sizeof(longdir), "%s/%.*s", dir, 40, "dddddddddddddddddddddddddddddddddddddddddddddddddddddddddd");
	mkdir(longdir, 0755);
	snprintf(longdir + strlen(longdir), sizeof(longdir) - strlen(longdir), "/%.*s", 50,
		 "eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee");
	mkdir(longdir, 0755);
	snprintf(path, sizeof(path), "%s/%.*s.txt", longdir, 54,
		 "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff");
	write_file(path, "long\n", 0644);
	char rel[256];
	snprintf(rel, sizeof(rel), "%s", path + strlen(dir) + 1);
	CHECK_INT(strlen(rel), 150);

	snprintf(path, sizeof(path), "%s/target.txt", dir);
	write_file(path, "target\n", 0644);
	snprintf(path, sizeof(path), "%s/link", dir);
	CHECK(symlink("target.txt", path) == 0);
	snprintf(path, sizeof(path), "%s/exe.sh", dir);
	write_file(path, "#!/bin/sh\necho exec-ok\n", 0755);
	snprintf(path, sizeof(path), "%s/hard1", dir);
	write_file(path, "shared\n", 0644);
	char hard2[1024];
	snprintf(hard2, sizeof(hard2), "%s/hard2", dir);
	CHECK(link(path, hard2) == 0);

	struct mc_buf df = MC_BUF_INIT;
	mc_buf_addf(&df,
		    "FROM %s\n"
		    "COPY . /ctx\n"
		    "RUN cd /ctx && test -L link && test \"$(readlink link)\" = target.txt\n"
		    "RUN cd /ctx && test -x exe.sh && test \"$(./exe.sh)\" = exec-ok\n"
		    "RUN test \"$(cat /ctx/%s)\" = long\n"
		    "RUN cd /ctx && test \"$(stat -c %%i hard1)\" = \"$(stat -c %%i hard2)\" && test \"$(cat hard2)\" = shared\n",
		    getenv("MC_BASE_IMAGE") ? getenv("MC_BASE_IMAGE") : "mc-test/busybox:latest", rel);
	snprintf(path, sizeof(path), "%s/Dockerfile", dir);
	write_file(path, df.ptr, 0644);
	mc_buf_release(&df);

	if (mc_engine_open(&e, getenv("DOCKER_HOST"))) {
		fprintf(stderr, "engine: %s\n", mc_error_msg());
		return 1;
	}
	int ret = build(e, dir, 1, id, &log);
	if (ret)
		fprintf(stderr, "buildkit build: %s\n%s\n", mc_error_msg(), mc_buf_cstr(&log));
	CHECK_INT(ret, 0);
	CHECK(!strncmp(id, "sha256:", 7));
	mc_buf_reset(&log);
	ret = build(e, dir, 0, id, &log);
	if (ret)
		fprintf(stderr, "classic build: %s\n%s\n", mc_error_msg(), mc_buf_cstr(&log));
	CHECK_INT(ret, 0);
	mc_engine_image_remove(e, "mc-test/context-image:1", 1);
	mc_engine_free(e);
	mc_buf_release(&log);
	char *rm = mc_asprintf("rm -rf '%s'", dir);
	if (system(rm))
		t_failures++;
	free(rm);
	return t_done();
}
