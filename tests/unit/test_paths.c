/* test_paths.c — cache root precedence, relative roots, and the modes mc_paths_create leaves. */
#include "store/store.h"
#include "t.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char tmp[4096];
static char cwd[4096];

static void set(const char *name, const char *value)
{
	if (value)
		setenv(name, value, 1);
	else
		unsetenv(name);
}

static void test_precedence(void)
{
	/* want: absolute, or "~/…" for a path under the working directory. */
	static const struct {
		const char *mh, *mol, *xdg, *home;
		const char *want;
		int ret;
	} cases[] = {
		{ "/a/mh", "/b/mol", "/c/xdg", "/d/home", "/a/mh", 0 },
		{ NULL, "/b/mol", "/c/xdg", "/d/home", "/b/mol", 0 },
		{ NULL, NULL, "/c/xdg", "/d/home", "/c/xdg/molcache", 0 },
		{ NULL, NULL, NULL, "/d/home", "/d/home/.cache/molcache", 0 },
		{ NULL, NULL, NULL, NULL, NULL, MC_EINVAL },
		/* Empty means unset (XDG base directory spec). */
		{ "", "/b/mol", "/c/xdg", "/d/home", "/b/mol", 0 },
		{ "", "", "", "/d/home", "/d/home/.cache/molcache", 0 },
		{ "", "", "", "", NULL, MC_EINVAL },
		{ "/a/mh", NULL, NULL, NULL, "/a/mh", 0 },
		/* Relative values are taken against the working directory. */
		{ "rel/cache", NULL, NULL, "/d/home", "~/rel/cache", 0 },
		{ NULL, "./m", NULL, "/d/home", "~/m", 0 },
		{ NULL, NULL, "xdg", "/d/home", "~/xdg/molcache", 0 },
		{ NULL, NULL, NULL, "h", "~/h/.cache/molcache", 0 },
		{ ".", NULL, NULL, NULL, "~", 0 },
		/* Lexical cleanup; ".." is kept (symlinks make it unsafe to fold). */
		{ "/x//y/./z/", NULL, NULL, NULL, "/x/y/z", 0 },
		{ "/x/../y", NULL, NULL, NULL, "/x/../y", 0 },
		{ NULL, NULL, "/c/xdg/", NULL, "/c/xdg/molcache", 0 },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct mc_paths p;
		set("MOLCACHE_HOME", cases[i].mh);
		set("MOLECULE_LOCAL_BUILD_CACHE", cases[i].mol);
		set("XDG_CACHE_HOME", cases[i].xdg);
		set("HOME", cases[i].home);
		mc_error_clear();
		int ret = mc_paths_resolve(&p);
		if (ret != cases[i].ret)
			fprintf(stderr, "case %zu: ret %d (%s)\n", i, ret, mc_error_msg());
		CHECK_INT(ret, cases[i].ret);
		if (ret < 0) {
			CHECK(p.root == NULL);
			CHECK(strstr(mc_error_msg(), "MOLCACHE_HOME") != NULL);
			CHECK(strstr(mc_error_hint_msg(), "MOLCACHE_HOME") != NULL);
			mc_paths_release(&p);
			continue;
		}
		char *want = cases[i].want[0] == '~' ? mc_asprintf("%s%s", cwd, cases[i].want + 1)
						     : mc_strdup(cases[i].want);
		if (!p.root || strcmp(p.root, want))
			fprintf(stderr, "case %zu:\n", i);
		CHECK_STR(p.root, want);
		char *w;
		CHECK_STR(p.index, (w = mc_asprintf("%s/index.db", want)));
		free(w);
		CHECK_STR(p.repos, (w = mc_asprintf("%s/repos", want)));
		free(w);
		CHECK_STR(p.trees, (w = mc_asprintf("%s/trees", want)));
		free(w);
		CHECK_STR(p.locks, (w = mc_asprintf("%s/locks", want)));
		free(w);
		CHECK_STR(p.tmp, (w = mc_asprintf("%s/tmp", want)));
		free(w);
		CHECK_STR(p.logs, (w = mc_asprintf("%s/logs", want)));
		free(w);
		free(want);
		mc_paths_release(&p);
		CHECK(p.root == NULL && p.logs == NULL);
	}
	mc_paths_release(NULL);

	/* "/" as the root does not give "//index.db". */
	set("MOLCACHE_HOME", "/");
	struct mc_paths p;
	CHECK_INT(mc_paths_resolve(&p), 0);
	CHECK_STR(p.root, "/");
	CHECK_STR(p.index, "/index.db");
	mc_paths_release(&p);
}

static int mode_of(const char *path)
{
	struct stat st;
	if (stat(path, &st) || !S_ISDIR(st.st_mode))
		return -1;
	return (int)(st.st_mode & 07777);
}

static void check_tree(const struct mc_paths *p)
{
	const char *dirs[] = { p->root, p->repos, p->trees, p->locks, p->tmp, p->logs };
	for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
		if (mode_of(dirs[i]) != 0700)
			fprintf(stderr, "dir %s\n", dirs[i]);
		CHECK_INT(mode_of(dirs[i]), 0700);
	}
}

static void test_create(void)
{
	struct mc_paths p;
	char *root, *parent;

	unsetenv("MOLECULE_LOCAL_BUILD_CACHE");
	unsetenv("XDG_CACHE_HOME");

	/* Resolve touches nothing. */
	root = mc_asprintf("%s/deep/er/root", tmp);
	parent = mc_asprintf("%s/deep", tmp);
	setenv("MOLCACHE_HOME", root, 1);
	CHECK_INT(mc_paths_resolve(&p), 0);
	CHECK(access(parent, F_OK) != 0 && errno == ENOENT);

	/* A umask that strips owner bits must not leak into the modes: 0700 exactly,
	 * missing parents included. */
	mode_t old = umask(0277);
	CHECK_INT(mc_paths_create(&p), 0);
	umask(old);
	check_tree(&p);
	CHECK_INT(mode_of(parent), 0700);
	/* Idempotent. */
	CHECK_INT(mc_paths_create(&p), 0);
	check_tree(&p);
	mc_paths_release(&p);
	free(root);
	free(parent);

	/* A root the user made keeps the mode they gave it; our subdirectories are 0700. */
	root = mc_asprintf("%s/mine", tmp);
	CHECK(mkdir(root, 0755) == 0 && chmod(root, 0755) == 0);
	setenv("MOLCACHE_HOME", root, 1);
	CHECK_INT(mc_paths_resolve(&p), 0);
	CHECK_INT(mc_paths_create(&p), 0);
	CHECK_INT(mode_of(root), 0755);
	CHECK_INT(mode_of(p.locks), 0700);
	CHECK_INT(mode_of(p.logs), 0700);
	mc_paths_release(&p);
	free(root);

	/* The root is a file: fails with the path in the message. */
	root = mc_asprintf("%s/afile", tmp);
	int fd = open(root, O_CREAT | O_WRONLY, 0600);
	CHECK(fd >= 0);
	close(fd);
	setenv("MOLCACHE_HOME", root, 1);
	CHECK_INT(mc_paths_resolve(&p), 0);
	CHECK(mc_paths_create(&p) < 0);
	CHECK(strstr(mc_error_msg(), root) != NULL);
	CHECK(strstr(mc_error_msg(), "not a directory") != NULL);
	mc_paths_release(&p);
	free(root);

	/* A parent is a file. */
	root = mc_asprintf("%s/afile/sub/root", tmp);
	setenv("MOLCACHE_HOME", root, 1);
	CHECK_INT(mc_paths_resolve(&p), 0);
	CHECK(mc_paths_create(&p) < 0);
	CHECK(strstr(mc_error_msg(), "afile") != NULL);
	mc_paths_release(&p);
	free(root);

	/* A relative root is created where resolve said. */
	CHECK(chdir(tmp) == 0);
	setenv("MOLCACHE_HOME", "relroot", 1);
	CHECK_INT(mc_paths_resolve(&p), 0);
	CHECK_INT(mc_paths_create(&p), 0);
	CHECK(p.root[0] == '/');
	CHECK_INT(mode_of("relroot/trees"), 0700);
	mc_paths_release(&p);
}

int main(void)
{
	const char *base = getenv("MC_TEST_TMP");
	if (!base || !*base)
		base = "/tmp";
	mc_mkdir_p(base, 0700);
	snprintf(tmp, sizeof(tmp), "%s/paths-XXXXXX", base);
	if (!mkdtemp(tmp)) {
		perror("mkdtemp");
		return 1;
	}
	CHECK(chdir(tmp) == 0);
	CHECK(getcwd(cwd, sizeof(cwd)) != NULL);

	test_precedence();
	test_create();

	CHECK_INT(mc_rm_rf(tmp), 0);
	return t_done();
}
