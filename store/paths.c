/* paths.c — resolves the cache root from the environment and creates its directories. */
#include "store.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* An empty variable counts as unset, as the XDG base directory spec asks. */
static const char *env(const char *name)
{
	const char *v = getenv(name);
	return v && *v ? v : NULL;
}

/*
 * Makes dir absolute against the working directory and cleans it lexically:
 * no empty or "." components, no trailing '/'. ".." is kept as is because
 * resolving it without the file system would be wrong across symlinks.
 */
static int absolute(char **out, const char *dir)
{
	struct mc_buf raw = MC_BUF_INIT, clean = MC_BUF_INIT;
	char *cwd = NULL;
	int ret = 0;

	*out = NULL;
	if (dir[0] != '/') {
		cwd = getcwd(NULL, 0);
		if (!cwd) {
			ret = mc_error_errno("cache root: working directory");
			goto done;
		}
		mc_buf_adds(&raw, cwd);
		mc_buf_adds(&raw, "/");
	}
	mc_buf_adds(&raw, dir);

	const char *s = mc_buf_cstr(&raw);
	while (*s) {
		while (*s == '/')
			s++;
		size_t n = strcspn(s, "/");
		if (n && !(n == 1 && s[0] == '.')) {
			mc_buf_adds(&clean, "/");
			mc_buf_add(&clean, s, n);
		}
		s += n;
	}
	if (!clean.len)
		mc_buf_adds(&clean, "/");
	*out = mc_buf_detach(&clean);
done:
	free(cwd);
	mc_buf_release(&raw);
	return ret;
}

int mc_paths_resolve(struct mc_paths *out)
{
	const char *v;
	char *dir = NULL;
	int ret = 0;

	memset(out, 0, sizeof(*out));
	if ((v = env("MOLCACHE_HOME")) || (v = env("MOLECULE_LOCAL_BUILD_CACHE")))
		dir = mc_strdup(v);
	else if ((v = env("XDG_CACHE_HOME")))
		dir = mc_asprintf("%s/molcache", v);
	else if ((v = env("HOME")))
		dir = mc_asprintf("%s/.cache/molcache", v);
	else {
		ret = mc_error_set(MC_EINVAL, "cache root: none of MOLCACHE_HOME, XDG_CACHE_HOME, HOME is set");
		mc_error_hint("set MOLCACHE_HOME to the directory molcache should use");
		goto done;
	}

	if ((ret = absolute(&out->root, dir)) < 0)
		goto done;
	/* "/" as root would give "//index.db"; harmless, but keep paths tidy. */
	const char *r = strcmp(out->root, "/") ? out->root : "";
	out->index = mc_asprintf("%s/index.db", r);
	out->repos = mc_asprintf("%s/repos", r);
	out->trees = mc_asprintf("%s/trees", r);
	out->locks = mc_asprintf("%s/locks", r);
	out->tmp = mc_asprintf("%s/tmp", r);
	out->logs = mc_asprintf("%s/logs", r);
done:
	free(dir);
	return ret;
}

/* mkdir with 0700; chmod after because the umask may have taken bits away
 * (0700 is what we want exactly, not 0700 & ~umask). An existing directory is
 * left as its owner set it. */
static int make_dir(const char *dir, void *ud)
{
	struct stat st;
	int ret = 0;
	char *what = mc_asprintf("cache directory '%s'", dir);

	if (mkdir(dir, 0700) == 0) {
		if (chmod(dir, 0700))
			ret = mc_error_errno(what);
	} else if (errno != EEXIST) {
		ret = mc_error_errno(what);
	} else if (stat(dir, &st)) {
		ret = mc_error_errno(what);
	} else if (!S_ISDIR(st.st_mode)) {
		ret = mc_error_set(MC_ERR, "%s: not a directory", what);
	}
	free(what);
	return ret;
}

int mc_paths_create(const struct mc_paths *p)
{
	int ret;

	/* Missing parents (e.g. ~/.cache) get 0700 too, as XDG asks; make_dir
	 * rather than mc_mkdir_p so a strict umask cannot leave one unwritable. */
	if ((ret = mc_path_each_dir(p->root, make_dir, NULL)) < 0)
		goto done;
	const char *dirs[] = { p->root, p->repos, p->trees, p->locks, p->tmp, p->logs };
	for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++)
		if ((ret = make_dir(dirs[i], NULL)) < 0)
			goto done;
done:
	return ret;
}

void mc_paths_release(struct mc_paths *p)
{
	if (!p)
		return;
	free(p->root);
	free(p->index);
	free(p->repos);
	free(p->trees);
	free(p->locks);
	free(p->tmp);
	free(p->logs);
	memset(p, 0, sizeof(*p));
}

void mc_root_id_legacy(char out[17], const char *root)
{
	char hex[65];
	mc_sha256_hex(hex, root, strlen(root));
	memcpy(out, hex, 16);
	out[16] = 0;
}
