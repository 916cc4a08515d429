/* ctest_git.c — cache/git.c against real repositories over file://, git:// (git daemon) and smart HTTP (lighttpd + git-http-backend). */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <dirent.h>
#include <unistd.h>

#include "../../git/git.h"
#include "../unit/t.h"

static char root[PATH_MAX];
static char srv[PATH_MAX + 16];
static char *gitserve;
static int served;
static const char *token;

/* Runs a shell command built printf-style; returns its exit status. */
static int sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int sh(const char *fmt, ...)
{
	va_list ap;
	struct mc_buf b = MC_BUF_INIT;
	int st;

	va_start(ap, fmt);
	mc_buf_vaddf(&b, fmt, ap);
	va_end(ap);
	st = system(mc_buf_cstr(&b));
	if (st != 0)
		fprintf(stderr, "command failed (%d): %s\n", st, mc_buf_cstr(&b));
	mc_buf_release(&b);
	return st;
}

/* First line of a shell command's output (built printf-style), malloc'd ("" on failure). */
static char *sh_out(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *sh_out(const char *fmt, ...)
{
	char line[512] = "";
	struct mc_buf cmd = MC_BUF_INIT;
	va_list ap;
	FILE *f;

	va_start(ap, fmt);
	mc_buf_vaddf(&cmd, fmt, ap);
	va_end(ap);
	f = popen(mc_buf_cstr(&cmd), "r");
	mc_buf_release(&cmd);

	if (f) {
		if (!fgets(line, sizeof(line), f))
			line[0] = '\0';
		pclose(f);
	}
	line[strcspn(line, "\n")] = '\0';
	return mc_strdup(line);
}

static char *read_text(const char *path)
{
	struct mc_buf b = MC_BUF_INIT;
	char chunk[4096];
	size_t n;
	FILE *f = fopen(path, "rb");

	if (!f)
		return NULL;
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		mc_buf_add(&b, chunk, n);
	fclose(f);
	mc_buf_adds(&b, "");
	return mc_buf_detach(&b);
}

static int bytes_contain(const char *hay, size_t n, const char *needle)
{
	size_t i, k = strlen(needle);

	for (i = 0; k && i + k <= n; i++)
		if (!memcmp(hay + i, needle, k))
			return 1;
	return 0;
}

/* 1 when any regular file under dir (config, refs, logs…) contains needle. */
static int tree_contains(const char *dir, const char *needle)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	int found = 0;

	if (!d)
		return 0;
	while (!found && (de = readdir(d))) {
		char *p;
		struct stat st;

		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		p = mc_asprintf("%s/%s", dir, de->d_name);
		if (lstat(p, &st) == 0) {
			if (S_ISDIR(st.st_mode)) {
				found = tree_contains(p, needle);
			} else if (S_ISREG(st.st_mode)) {
				char *text = read_text(p);

				/* Pack files are binary: search every byte, not up to the first NUL. */
				found = text && bytes_contain(text, (size_t)st.st_size, needle);
				free(text);
			}
		}
		free(p);
	}
	closedir(d);
	return found;
}

static void env_get(char *out, size_t n, const char *file, const char *key)
{
	char *text = read_text(file), *p;
	size_t klen = strlen(key);

	out[0] = '\0';
	for (p = text; p && *p; p += strcspn(p, "\n"), p += *p == '\n') {
		if (!strncmp(p, key, klen) && p[klen] == '=') {
			snprintf(out, n, "%.*s", (int)strcspn(p + klen + 1, "\n"), p + klen + 1);
			break;
		}
	}
	free(text);
}

static void stop_servers(void)
{
	if (served) {
		sh("bash '%s' stop '%s'", gitserve, srv);
		served = 0;
	}
}

/* A 127.0.0.1 port nothing listens on (bound, then closed). */
static int dead_port(void)
{
	struct sockaddr_in a;
	socklen_t len = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM, 0), port = 1;

	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0 &&
	    getsockname(fd, (struct sockaddr *)&a, &len) == 0)
		port = ntohs(a.sin_port);
	if (fd >= 0)
		close(fd);
	return port;
}

static int64_t t_start;

/* Where the time goes, on stderr: the suite must stay fast. */
static void lap(const char *what)
{
	fprintf(stderr, "[%6lld ms] %s\n", (long long)(mc_mono_ms() - t_start), what);
}

struct progress_rec {
	unsigned calls, received;
};

static void on_progress(void *ud, const struct mc_git_progress *p)
{
	struct progress_rec *r = ud;

	r->calls++;
	r->received = p->received_objects;
}

/* A long path: 150 bytes in all, with one 100-byte component. */
static char long_path[151];

static void make_long_path(void)
{
	size_t len;

	snprintf(long_path, sizeof(long_path), "deep/nested/%0100d/", 0);
	len = strlen(long_path);
	memset(long_path + len, 'f', 150 - len - 4);
	memcpy(long_path + 150 - 4, ".txt", 5);
}

static char c_main[41], c_feature[41], tag_obj[41];

/* work/ → srv/tpl.git: main (Dockerfile, symlink, executable, long path, ident file),
 * tags v1 (annotated) and lw (lightweight), branch feature one commit ahead. */
static void make_template_repo(void)
{
	char *out;

	CHECK(sh("set -e; cd '%s'; git init -q -b main work; cd work;"
		 "printf 'FROM scratch\\nCOPY . /app\\n' > Dockerfile;"
		 "ln -s Dockerfile link; printf '#!/bin/sh\\necho hi\\n' > run.sh; chmod 755 run.sh;"
		 "mkdir -p \"$(dirname '%s')\"; echo long > '%s';"
		 "printf '*.txt ident\\n' > .gitattributes; printf '$Id$\\n' > id.txt;"
		 "git add -A; git commit -q -m one;"
		 "git tag -a v1 -m 'version 1'; git tag lw;"
		 "git checkout -q -b feature; echo f > feature.txt; git add feature.txt; git commit -q -m two;"
		 "git checkout -q main; git clone -q --bare . '%s/tpl.git'",
		 root, long_path, long_path, srv) == 0);
	out = sh_out("git -C '%s/work' rev-parse main", root);
	snprintf(c_main, sizeof(c_main), "%s", out);
	free(out);
	out = sh_out("git -C '%s/work' rev-parse feature", root);
	snprintf(c_feature, sizeof(c_feature), "%s", out);
	free(out);
	out = sh_out("git -C '%s/work' rev-parse v1", root);
	snprintf(tag_obj, sizeof(tag_obj), "%s", out);
	free(out);
	CHECK_INT(strlen(c_main), 40);
	CHECK(strcmp(tag_obj, c_main) != 0); /* v1 really is an annotated tag object */
}

static void test_resolve_table(const char *base, const char *label)
{
	struct {
		const char *ref;
		const char *want_sha; /* NULL = c_main / c_feature picked below */
		int feature;
		const char *want_ref;
		int want_ret;
	} cases[] = {
		{ NULL, NULL, 0, "refs/heads/main", 0 },
		{ "", NULL, 0, "refs/heads/main", 0 },
		{ "main", NULL, 0, "refs/heads/main", 0 },
		{ "feature", NULL, 1, "refs/heads/feature", 0 },
		{ "v1", NULL, 0, "refs/tags/v1", 0 },
		{ "lw", NULL, 0, "refs/tags/lw", 0 },
		{ "refs/heads/feature", NULL, 1, "refs/heads/feature", 0 },
		{ "refs/tags/v1", NULL, 0, "refs/tags/v1", 0 },
		{ "no-such-ref", NULL, 0, NULL, MC_ENOTFOUND },
		{ "refs/heads/nope", NULL, 0, NULL, MC_ENOTFOUND },
	};
	char *url = mc_asprintf("%s/tpl.git", base);
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char sha[41] = "", *rref = NULL;
		int ret = mc_git_resolve(sha, &rref, url, cases[i].ref, token);

		if (ret != cases[i].want_ret)
			fprintf(stderr, "[%s] ref '%s': %d %s\n", label, cases[i].ref ? cases[i].ref : "(null)",
				ret, mc_error_msg());
		CHECK_INT(ret, cases[i].want_ret);
		if (cases[i].want_ret == 0) {
			CHECK_STR(sha, cases[i].feature ? c_feature : c_main);
			CHECK_STR(rref, cases[i].want_ref);
		} else {
			char *want = mc_asprintf("ref '%s' not found", cases[i].ref);

			CHECK(strstr(mc_error_msg(), want) != NULL);
			CHECK(rref == NULL);
			free(want);
		}
		free(rref);
	}
	free(url);
}

static void test_resolve_sha_no_io(void)
{
	char sha[41] = "", *rref = NULL;
	char upper[41];
	size_t i;

	/* The URL leads nowhere: a sha must come back without any I/O. */
	CHECK_INT(mc_git_resolve(sha, &rref, "file:///nonexistent/x.git", c_feature, NULL), 0);
	CHECK_STR(sha, c_feature);
	CHECK_STR(rref, c_feature);
	free(rref);
	for (i = 0; i < 41; i++)
		upper[i] = (char)toupper((unsigned char)c_feature[i]);
	CHECK_INT(mc_git_resolve(sha, NULL, "file:///nonexistent/x.git", upper, NULL), 0);
	CHECK_STR(sha, c_feature);
}

static void test_http_auth(const char *http)
{
	char sha[41], *url, *rref = NULL, *mirror, *p;
	const char *hostpart = http + strlen("http://");
	int ret, fetched = -1;
	char *cfg;

	url = mc_asprintf("%s/tpl.git", http);
	CHECK_INT(mc_git_resolve(sha, &rref, url, "main", token), 0);
	CHECK_STR(sha, c_main);
	free(rref);
	rref = NULL;

	ret = mc_git_resolve(sha, NULL, url, "main", NULL);
	CHECK_INT(ret, MC_EUNREACHABLE);
	CHECK(strstr(mc_error_msg(), "tpl.git") != NULL);
	CHECK(strstr(mc_error_msg(), token) == NULL);

	ret = mc_git_resolve(sha, NULL, url, "main", "wrong-token-456");
	CHECK_INT(ret, MC_EUNREACHABLE);
	CHECK(strstr(mc_error_msg(), "wrong-token-456") == NULL);
	CHECK(strstr(mc_error_hint_msg(), "token") != NULL);
	free(url);

	/* Credentials in the URL: they work, and never reach a message or the mirror. */
	url = mc_asprintf("http://molcache:%s@%s/tpl.git", token, hostpart);
	CHECK_INT(mc_git_resolve(sha, &rref, url, NULL, NULL), 0);
	CHECK_STR(sha, c_main);
	CHECK_STR(rref, "refs/heads/main");
	mirror = mc_asprintf("%s/mirror-http.git", root);
	ret = mc_git_mirror_fetch(mirror, url, rref, sha, NULL, NULL, NULL, &fetched);
	if (ret)
		fprintf(stderr, "fetch over http: %s\n", mc_error_msg());
	CHECK_INT(ret, 0);
	CHECK_INT(fetched, 1);
	p = mc_asprintf("%s/config", mirror);
	cfg = read_text(p);
	free(p);
	CHECK(cfg != NULL);
	CHECK(cfg && strstr(cfg, token) == NULL);
	CHECK(cfg && strstr(cfg, "symlinks = true") != NULL);
	free(cfg);
	CHECK(!tree_contains(mirror, token));
	free(rref);
	free(url);
	free(mirror);

	url = mc_asprintf("http://molcache:wrong-pass-789@%s/tpl.git", hostpart);
	ret = mc_git_resolve(sha, NULL, url, "main", token);
	CHECK_INT(ret, MC_EUNREACHABLE);
	CHECK(strstr(mc_error_msg(), "wrong-pass-789") == NULL);
	CHECK(strstr(mc_error_msg(), "***@") != NULL);
	free(url);

	/* A bare token as userinfo is the username (the server wants "molcache": rejected). */
	url = mc_asprintf("http://%s@%s/tpl.git", token, hostpart);
	ret = mc_git_resolve(sha, NULL, url, "main", NULL);
	CHECK_INT(ret, MC_EUNREACHABLE);
	CHECK(strstr(mc_error_msg(), token) == NULL);
	free(url);
}

static void test_fetch_idempotent(const char *base, const char *name)
{
	char *url = mc_asprintf("%s/tpl.git", base), *mirror = mc_asprintf("%s/%s", root, name), *out;
	struct progress_rec pr = { 0, 0 };
	int fetched = -1, ret;

	ret = mc_git_mirror_fetch(mirror, url, "refs/heads/main", c_main, token, on_progress, &pr, &fetched);
	if (ret)
		fprintf(stderr, "fetch %s: %s\n", url, mc_error_msg());
	CHECK_INT(ret, 0);
	CHECK_INT(fetched, 1);
	CHECK(pr.calls > 0);
	CHECK(pr.received > 0);
	out = sh_out("git --git-dir='%s' rev-parse refs/molcache/heads/main", mirror);
	CHECK_STR(out, c_main);
	free(out);
	/* Nothing else was stored: only the one ref asked for. */
	out = sh_out("git --git-dir='%s' for-each-ref | wc -l", mirror);
	CHECK_STR(out, "1");
	free(out);
	out = sh_out("git --git-dir='%s' remote | wc -l", mirror);
	CHECK_STR(out, "0");
	free(out);

	pr.calls = 0;
	fetched = -1;
	/* Same sha again, with a URL that would fail: present means no network at all. */
	CHECK_INT(mc_git_mirror_fetch(mirror, "git://127.0.0.1:1/none.git", "refs/heads/main", c_main, NULL,
				      on_progress, &pr, &fetched), 0);
	CHECK_INT(fetched, 0);
	CHECK_INT(pr.calls, 0);

	CHECK_INT(mc_git_mirror_fetch(mirror, url, "refs/heads/feature", c_feature, token, NULL, NULL, &fetched), 0);
	/* libgit2's file:// transport sends what every remote ref reaches, so feature came with main. */
	if (strncmp(url, "file://", 7)) {
		CHECK_INT(fetched, 1);
		out = sh_out("git --git-dir='%s' rev-parse refs/molcache/heads/feature", mirror);
		CHECK_STR(out, c_feature);
		free(out);
	}
	/* The annotated tag: fetching its ref brings the tag object and the commit it points at. */
	{
		char *m3 = mc_asprintf("%s-3", mirror);

		CHECK_INT(mc_git_mirror_fetch(m3, url, "refs/tags/v1", c_main, token, NULL, NULL, &fetched), 0);
		CHECK_INT(fetched, 1);
		out = sh_out("git --git-dir='%s' rev-parse refs/molcache/tags/v1", m3);
		CHECK_STR(out, tag_obj);
		free(out);
		free(m3);
	}
	/* A sha the branch no longer points at is still found through all branches and tags. */
	{
		char *m2 = mc_asprintf("%s-2", mirror);

		CHECK_INT(mc_git_mirror_fetch(m2, url, "refs/heads/main", c_feature, token, NULL, NULL, &fetched), 0);
		CHECK_INT(fetched, 1);
		ret = mc_git_mirror_fetch(m2, url, NULL, "0123456789012345678901234567890123456789", token, NULL,
					  NULL, &fetched);
		CHECK_INT(ret, MC_ENOTFOUND);
		CHECK(strstr(mc_error_msg(), "0123456789012345678901234567890123456789") != NULL);
		free(m2);
	}
	CHECK_INT(mc_git_mirror_fetch(mirror, url, NULL, "nothex", token, NULL, NULL, &fetched), MC_EINVAL);
	free(url);
	free(mirror);
}

/* 200 files, one fetch; change one file; the second fetch must negotiate and bring only a handful. */
static void test_incremental(const char *base, const char *label, const char *repo)
{
	char *url = mc_asprintf("%s/%s.git", base, repo), *mirror = mc_asprintf("%s/mirror-inc-%s.git", root, label);
	char sha[41], *rref = NULL;
	struct progress_rec pr = { 0, 0 };
	int fetched = -1, ret;

	CHECK_INT(mc_git_resolve(sha, &rref, url, "main", token), 0);
	ret = mc_git_mirror_fetch(mirror, url, rref, sha, token, on_progress, &pr, &fetched);
	if (ret)
		fprintf(stderr, "[%s] first fetch: %s\n", label, mc_error_msg());
	CHECK_INT(ret, 0);
	CHECK_INT(fetched, 1);
	CHECK(pr.received >= 202); /* 200 blobs + tree + commit */
	free(rref);
	rref = NULL;

	CHECK(sh("set -e; cd '%s/inc-%s'; echo changed >> f0042.txt; git commit -q -am change;"
		 "git push -q '%s/%s.git' main",
		 root, label, srv, repo) == 0);
	CHECK_INT(mc_git_resolve(sha, &rref, url, "main", token), 0);
	pr.calls = 0;
	pr.received = 99999;
	ret = mc_git_mirror_fetch(mirror, url, rref, sha, token, on_progress, &pr, &fetched);
	if (ret)
		fprintf(stderr, "[%s] second fetch: %s\n", label, mc_error_msg());
	CHECK_INT(ret, 0);
	CHECK_INT(fetched, 1);
	fprintf(stderr, "[%s] incremental fetch received %u objects\n", label, pr.received);
	CHECK(pr.received < 10);
	free(rref);
	free(url);
	free(mirror);
}

/* A remote whose HEAD is detached on a commit no branch holds: the ref is "HEAD" itself. */
static void test_detached_head(const char *base, const char *label)
{
	char *url = mc_asprintf("%s/detached.git", base), *mirror = mc_asprintf("%s/mirror-detached-%s.git", root, label);
	char sha[41] = "", *rref = NULL, *want;
	int fetched = -1, ret;

	want = sh_out("git --git-dir='%s/detached.git' rev-parse HEAD", srv);
	CHECK_INT(mc_git_resolve(sha, &rref, url, NULL, token), 0);
	CHECK_STR(sha, want);
	CHECK_STR(rref, "HEAD");
	ret = mc_git_mirror_fetch(mirror, url, rref, sha, token, NULL, NULL, &fetched);
	if (ret)
		fprintf(stderr, "[%s] detached fetch: %s\n", label, mc_error_msg());
	CHECK_INT(ret, 0);
	CHECK_INT(fetched, 1);
	free(want);
	free(rref);
	free(url);
	free(mirror);
}

static void make_detached_repo(void)
{
	CHECK(sh("set -e; cd '%s'; git clone -q --bare work detached.git; cd detached.git;"
		 "c=$(git commit-tree -p main -m detached 'main^{tree}'); git update-ref --no-deref HEAD $c;"
		 "cd ..; mv detached.git '%s/'",
		 root, srv) == 0);
}

static void make_incremental_repo(const char *label)
{
	/* awk writes the 200 files in one process: a shell loop here costs seconds. */
	CHECK(sh("set -e; cd '%s'; git init -q -b main inc-%s; cd inc-%s;"
		 "awk 'BEGIN { for (i = 0; i < 200; i++) { f = sprintf(\"f%%04d.txt\", i);"
		 " printf \"file %%d of the %%s repository\\n\", i, \"%s\" > f; close(f) } }';"
		 "git add -A; git commit -q -m many; git clone -q --bare . '%s/inc-%s.git'",
		 root, label, label, label, srv, label) == 0);
}

static void test_read_file(const char *mirror)
{
	struct mc_buf b = MC_BUF_INIT;

	CHECK_INT(mc_git_read_file(&b, mirror, c_main, "Dockerfile", 1 << 20, 0), 0);
	CHECK_STR(mc_buf_cstr(&b), "FROM scratch\nCOPY . /app\n");
	CHECK_INT(b.len, 25);
	CHECK_INT(mc_git_read_file(&b, mirror, c_main, long_path, 100, 0), 0);
	CHECK_STR(mc_buf_cstr(&b), "long\n");
	CHECK_INT(mc_git_read_file(&b, mirror, c_main, "Dockerfile", 10, 0), MC_ETOOBIG);
	CHECK_INT(mc_git_read_file(&b, mirror, c_main, "Dockerfile", 25, 0), 0);
	CHECK_INT(mc_git_read_file(&b, mirror, c_main, "nope/Dockerfile", 100, 0), MC_ENOTFOUND);
	CHECK(strstr(mc_error_msg(), "nope/Dockerfile") != NULL);
	CHECK_INT(mc_git_read_file(&b, mirror, c_main, "feature.txt", 100, 0), MC_ENOTFOUND);
	CHECK_INT(mc_git_read_file(&b, mirror, c_feature, "feature.txt", 100, 0), 0);
	CHECK_STR(mc_buf_cstr(&b), "f\n");
	CHECK_INT(mc_git_read_file(&b, mirror, c_main, "deep", 100, 0), MC_ENOTFOUND);
	CHECK_INT(mc_git_read_file(&b, mirror, c_main, "link", 100, 0), MC_EINVAL);
	CHECK_INT(mc_git_read_file(&b, mirror, "0123456789012345678901234567890123456789", "Dockerfile", 100, 0),
		  MC_ENOTFOUND);
	/* followed: the in-tree link reads its target's bytes */
	CHECK_INT(mc_git_read_file(&b, mirror, c_main, "link", 100, 1), 0);
	CHECK_STR(mc_buf_cstr(&b), "FROM scratch\nCOPY . /app\n");
	mc_buf_release(&b);
}

static void test_checkout(const char *mirror)
{
	char *dir = mc_asprintf("%s/tree", root), *p, *text;
	char target[64] = "";
	struct stat st;
	ssize_t n;

	CHECK_INT(mc_git_checkout(mirror, c_main, dir), 0);
	p = mc_asprintf("%s/link", dir);
	CHECK(lstat(p, &st) == 0 && S_ISLNK(st.st_mode));
	n = readlink(p, target, sizeof(target) - 1);
	CHECK(n == 10);
	CHECK_STR(target, "Dockerfile");
	free(p);
	p = mc_asprintf("%s/run.sh", dir);
	CHECK(stat(p, &st) == 0 && (st.st_mode & S_IXUSR));
	free(p);
	p = mc_asprintf("%s/Dockerfile", dir);
	CHECK(stat(p, &st) == 0 && !(st.st_mode & S_IXUSR));
	text = read_text(p);
	CHECK_STR(text, "FROM scratch\nCOPY . /app\n");
	free(text);
	free(p);
	p = mc_asprintf("%s/%s", dir, long_path);
	CHECK_INT(strlen(long_path), 150);
	text = read_text(p);
	CHECK_STR(text, "long\n");
	free(text);
	free(p);
	/* Filters are off: the ident attribute must not expand $Id$. */
	p = mc_asprintf("%s/id.txt", dir);
	text = read_text(p);
	CHECK_STR(text, "$Id$\n");
	free(text);
	free(p);
	p = mc_asprintf("%s/.git", dir);
	CHECK(lstat(p, &st) < 0 && errno == ENOENT);
	free(p);
	p = mc_asprintf("%s/feature.txt", dir);
	CHECK(lstat(p, &st) < 0);
	free(p);
	/* The mirror stays bare: no index written into it. */
	p = mc_asprintf("%s/index", mirror);
	CHECK(lstat(p, &st) < 0);
	free(p);
	CHECK_INT(mc_git_checkout(mirror, "0123456789012345678901234567890123456789", dir), MC_ENOTFOUND);
	free(dir);
}

/* A gitlink (submodule) checks out as an empty directory; under umask 077 the
 * files still get git's modes (0644, 0755) and directories 0755. */
static void test_checkout_submodule_and_modes(void)
{
	char *dir = mc_asprintf("%s/tree-sub", root), *mirror = mc_asprintf("%s/mirror-sub.git", root);
	char *url = mc_asprintf("file://%s/sub.git", srv), *p, *out;
	char sha[41];
	struct stat st;
	DIR *d;
	int fetched = 0, entries = 0;
	mode_t old;

	CHECK(sh("set -e; cd '%s'; git init -q -b main subwork; cd subwork; mkdir -p lib/deep;"
		 "echo a > lib/deep/a.txt; printf '#!/bin/sh\n' > lib/run.sh; chmod 755 lib/run.sh;"
		 "printf 'FROM scratch\n' > Dockerfile;"
		 "ln -s Dockerfile df-link; ln -s ../Dockerfile lib/df-up; ln -s lib via; ln -s df-link chain;"
		 "ln -s /etc/passwd abs-link; ln -s ../outside up-link; ln -s loop-b loop-a; ln -s loop-a loop-b;"
		 "ln -s nothing-here missing-link;"
		 "git add -A;"
		 "git update-index --add --cacheinfo 160000,0123456789abcdef0123456789abcdef01234567,vendor/mod;"
		 "git commit -q -m sub; git clone -q --bare . '%s/sub.git'",
		 root, srv) == 0);
	out = sh_out("git -C '%s/subwork' rev-parse main", root);
	snprintf(sha, sizeof(sha), "%s", out);
	free(out);
	CHECK_INT(mc_git_mirror_fetch(mirror, url, "refs/heads/main", sha, NULL, NULL, NULL, &fetched), 0);
	{
		/* in-tree links are followed (a directory's too), links out of the tree refused */
		static const char *const cases[][2] = {
			{ "Dockerfile", "Dockerfile" },		{ "df-link", "Dockerfile" },
			{ "lib/df-up", "Dockerfile" },		{ "via/deep/a.txt", "lib/deep/a.txt" },
			{ "chain", "Dockerfile" },		{ "./lib/../df-link", "Dockerfile" },
		};
		static const char *const bad[][2] = {
			{ "abs-link", "outside the template" }, { "up-link", "outside the template" },
			{ "loop-a", "too many links" },		{ "vendor/mod", "a directory" },
			{ "missing-link", "does not exist" },	{ "lib/deep", "a directory" },
		};
		for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
			char *real = NULL;
			CHECK_INT(mc_git_resolve_path(&real, mirror, sha, cases[i][0]), 0);
			CHECK_STR(real, cases[i][1]);
			free(real);
		}
		for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
			char *real = NULL;
			CHECK(mc_git_resolve_path(&real, mirror, sha, bad[i][0]) < 0);
			CHECK(real == NULL);
			if (!strstr(mc_error_msg(), bad[i][1]) && strcmp(bad[i][1], "does not exist"))
				fprintf(stderr, "case %s: '%s' lacks '%s'\n", bad[i][0], mc_error_msg(), bad[i][1]);
			CHECK(strstr(mc_error_msg(), bad[i][1]) || !strcmp(bad[i][1], "does not exist"));
		}
	}
	old = umask(077);
	CHECK_INT(mc_git_checkout(mirror, sha, dir), 0);
	umask(old);
	p = mc_asprintf("%s/vendor/mod", dir);
	CHECK(lstat(p, &st) == 0 && S_ISDIR(st.st_mode) && (st.st_mode & 07777) == 0755);
	if ((d = opendir(p))) {
		struct dirent *de;
		while ((de = readdir(d)))
			entries += strcmp(de->d_name, ".") && strcmp(de->d_name, "..");
		closedir(d);
	}
	CHECK_INT(entries, 0);
	free(p);
	p = mc_asprintf("%s/lib/deep/a.txt", dir);
	CHECK(lstat(p, &st) == 0 && (st.st_mode & 07777) == 0644);
	free(p);
	p = mc_asprintf("%s/lib/run.sh", dir);
	CHECK(lstat(p, &st) == 0 && (st.st_mode & 07777) == 0755);
	free(p);
	p = mc_asprintf("%s/lib/deep", dir);
	CHECK(lstat(p, &st) == 0 && (st.st_mode & 07777) == 0755);
	free(p);
	free(dir);
	free(mirror);
	free(url);
}

static void test_unreachable(void)
{
	int port = dead_port();
	const char *fmts[] = { "git://127.0.0.1:%d/tpl.git", "http://127.0.0.1:%d/tpl.git" };
	size_t i;

	for (i = 0; i < 2; i++) {
		char sha[41], *url = mc_asprintf(fmts[i], port), *mirror;
		int64_t t0 = mc_mono_ms();
		int ret = mc_git_resolve(sha, NULL, url, "main", token), fetched = -1;

		CHECK_INT(ret, MC_EUNREACHABLE);
		CHECK(mc_mono_ms() - t0 < 5000);
		CHECK(strstr(mc_error_msg(), "127.0.0.1") != NULL);
		CHECK(strstr(mc_error_msg(), token) == NULL);
		mirror = mc_asprintf("%s/mirror-dead-%zu.git", root, i);
		t0 = mc_mono_ms();
		ret = mc_git_mirror_fetch(mirror, url, "refs/heads/main", c_main, token, NULL, NULL, &fetched);
		CHECK_INT(ret, MC_EUNREACHABLE);
		CHECK(mc_mono_ms() - t0 < 5000);
		free(url);
		free(mirror);
	}
	{
		char sha[41];
		char *url = mc_asprintf("file://%s/no-such-repo.git", root);

		CHECK_INT(mc_git_resolve(sha, NULL, url, "main", NULL), MC_EUNREACHABLE);
		free(url);
	}
}

int main(void)
{
	const char *tmp = getenv("MC_TEST_TMP"), *src = getenv("MC_SRC");
	char envfile[PATH_MAX + 32], daemon[256], http[256];
	char *file_base, *mirror;

	token = getenv("GITSERVE_TOKEN");
	if (!token || !*token)
		token = "s3cret-token-123";
	setenv("GITSERVE_TOKEN", token, 1);
	/* Tests use the git CLI to build repositories: make it reproducible and quiet. */
	setenv("GIT_AUTHOR_NAME", "t", 1);
	setenv("GIT_AUTHOR_EMAIL", "t@example.invalid", 1);
	setenv("GIT_COMMITTER_NAME", "t", 1);
	setenv("GIT_COMMITTER_EMAIL", "t@example.invalid", 1);
	setenv("GIT_CONFIG_NOSYSTEM", "1", 1);
	setenv("GIT_TERMINAL_PROMPT", "0", 1);

	if (tmp && *tmp)
		mc_mkdir_p(tmp, 0755);
	snprintf(root, sizeof(root), "%s/molcache-git-XXXXXX", tmp && *tmp ? tmp : "/tmp");
	if (!mkdtemp(root)) {
		perror("mkdtemp");
		return 1;
	}
	snprintf(srv, sizeof(srv), "%s/srv", root);
	mc_mkdir_p(srv, 0755);
	if (src && *src) {
		gitserve = mc_asprintf("%s/tests/integration/gitserve.sh", src);
	} else {
		/* Default: the source tree this file was compiled from. */
		const char *f = __FILE__, *slash = strrchr(f, '/');

		gitserve = slash ? mc_asprintf("%.*s/gitserve.sh", (int)(slash - f), f) : mc_strdup("gitserve.sh");
	}

	t_start = mc_mono_ms();
	CHECK_INT(mc_git_init(), 0);
	make_long_path();
	make_template_repo();
	make_detached_repo();
	make_incremental_repo("file");
	make_incremental_repo("git");
	make_incremental_repo("http");
	lap("make_incremental_repo");

	file_base = mc_asprintf("file://%s", srv);
	test_resolve_table(file_base, "file");
	test_resolve_sha_no_io();
	test_detached_head(file_base, "file");
	lap("test_resolve_sha_no_io");
	test_fetch_idempotent(file_base, "mirror-file.git");
	lap("test_fetch_idempotent");
	test_incremental(file_base, "file", "inc-file");
	lap("test_incremental");
	mirror = mc_asprintf("%s/mirror-file.git", root);
	test_read_file(mirror);
	test_checkout(mirror);
	test_checkout_submodule_and_modes();
	lap("test_checkout");
	free(mirror);
	test_unreachable();
	lap("test_unreachable");

	snprintf(envfile, sizeof(envfile), "%s/.gitserve.env", srv);
	CHECK(sh("bash '%s' start '%s'", gitserve, srv) == 0);
	served = 1;
	atexit(stop_servers);
	lap("gitserve start");
	env_get(daemon, sizeof(daemon), envfile, "GIT_DAEMON_URL");
	env_get(http, sizeof(http), envfile, "GIT_HTTP_URL");
	CHECK(!strncmp(daemon, "git://127.0.0.1:", 16));
	CHECK(!strncmp(http, "http://127.0.0.1:", 17));
	if (daemon[0] && http[0]) {
		test_resolve_table(daemon, "git");
		test_resolve_table(http, "http");
		test_detached_head(daemon, "git");
		test_detached_head(http, "http");
		lap("test_resolve_table");
		test_fetch_idempotent(daemon, "mirror-git.git");
		test_fetch_idempotent(http, "mirror-http2.git");
		test_http_auth(http);
		lap("test_http_auth");
		test_incremental(daemon, "git", "inc-git");
		test_incremental(http, "http", "inc-http");
		lap("test_incremental");
	}
	stop_servers();
	{
		/* The servers are really gone. */
		char *pidfile_gone = mc_asprintf("test ! -e '%s'", envfile);

		CHECK(system(pidfile_gone) == 0);
		free(pidfile_gone);
	}

	mc_git_shutdown();
	if (!t_failures)
		mc_rm_rf(root);
	else
		fprintf(stderr, "kept %s for inspection\n", root);
	free(file_base);
	free(gitserve);
	return t_done();
}
