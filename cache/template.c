/* template.c — the files molcache itself reads from a template, from the commit in the mirror, never through the checkout. */
#include "ensure.h"
#include "run.h"

#include <stdlib.h>
#include <string.h>

#include "../git/git.h"
#include "../store/key.h"

/* A file molcache itself reads from the template (Dockerfile,
 * .runtime-version): from the commit's tree in the mirror (the caller holds
 * the repo lock and the mirror holds the commit), never from the checkout on
 * disk, where a symlink could point anywhere on the host. A symlink in the
 * commit is refused as the template's fault (exit 5), naming the template and
 * the commit. MC_ENOTFOUND when the commit has no such file. */
static int read_in_mirror(struct run *r, const char *path, size_t max, int follow, struct mc_buf *out)
{
	int ret = mc_git_read_file(out, r->mirror, r->sha, path, max, follow);
	if (ret == MC_EINVAL) {
		ret = mc_error_wrap(MC_EBUILD, "template '%s' at %.12s", r->clean_url, r->sha);
		if (follow)
			mc_error_hint("a template file may be a symbolic link only to a file inside the template; "
				      "molcache reads at most %zu bytes of '%s'", max, path);
		else
			mc_error_hint("make '%s' a regular file of the template: molcache never reads it through a "
				      "symbolic link, and reads at most %zu bytes", path, max);
	} else if (ret == MC_ETOOBIG) {
		ret = mc_error_wrap(MC_EBUILD, "template '%s' at %.12s", r->clean_url, r->sha);
		mc_error_hint("molcache reads at most %zu bytes of '%s': make the template's file smaller", max, path);
	}
	return ret;
}

/* read_in_mirror under the repo lock (gc --prune-mirrors waits while we
 * read). The miss fetched already, so lock_and_fetch fetches (and shows a
 * fetch phase) only if a tree left from an earlier run outlived a pruned mirror. */
int run_read_template_file(struct run *r, const char *path, size_t max, int follow, struct mc_buf *out)
{
	struct mc_lock lock = MC_LOCK_INIT;
	int ret = run_lock_and_fetch(r, &lock);

	if (!ret)
		ret = read_in_mirror(r, path, max, follow, out);
	mc_lock_release(&lock);
	return ret;
}

/* BuildKit's fallback (and docker's CLI's, for its default): a Dockerfile
 * path whose base name is "Dockerfile" that the tree lacks is read as
 * "dockerfile" beside it. NULL when path has no fallback; else malloc'd. */
static char *lower_dockerfile(const char *path)
{
	const char *base = strrchr(path, '/');
	char *lower;

	base = base ? base + 1 : path;
	if (strcmp(base, "Dockerfile"))
		return NULL;
	lower = mc_strdup(path);
	lower[base - path] = 'd';
	return lower;
}

/* The name of the Dockerfile read (r->df_found set); malloc'd. */
static char *dockerfile_name(const struct run *r)
{
	char *lower = r->df_found == DF_LOWER ? lower_dockerfile(r->ctx->cfg.dockerfile) : NULL;
	return lower ? lower : mc_strdup(r->ctx->cfg.dockerfile);
}

/* run_read_dockerfile with the repo lock held. */
static int read_dockerfile_locked(struct run *r, struct mc_buf *out)
{
	const char *path = r->ctx->cfg.dockerfile;
	char *lower = NULL;
	int ret = read_in_mirror(r, path, MAX_DOCKERFILE, 1, out);

	r->df_found = ret ? 0 : DF_ASKED;
	if (ret == MC_ENOTFOUND && (lower = lower_dockerfile(path))) {
		mc_buf_reset(out);
		ret = read_in_mirror(r, lower, MAX_DOCKERFILE, 1, out);
		r->df_found = ret ? 0 : DF_LOWER;
	}
	if (ret == MC_ENOTFOUND) {
		ret = mc_error_set(MC_EBUILD, "template '%s' at %.12s: no '%s' in the tree", r->clean_url, r->sha,
				   path);
		mc_error_hint("add a Dockerfile to the template or pass --dockerfile PATH");
	}
	free(lower);
	return ret;
}

int run_read_dockerfile(struct run *r, struct mc_buf *out)
{
	struct mc_lock lock = MC_LOCK_INIT;
	int ret = run_lock_and_fetch(r, &lock);

	if (!ret)
		ret = read_dockerfile_locked(r, out);
	mc_lock_release(&lock);
	return ret;
}

/* BuildKit reads "<Dockerfile>.dockerignore" (the path as asked, before any
 * fallback) in preference to .dockerignore; malloc'd. */
static char *own_ignore_name(const struct run *r)
{
	return mc_asprintf("%s.dockerignore", r->ctx->cfg.dockerfile);
}

/* The ignore rules' text with the repo lock held: the Dockerfile's own
 * ignore file (r->ignore_for set), else .dockerignore. *has 0 when neither. */
static int read_ignore_locked(struct run *r, struct mc_buf *out, int *has)
{
	char *own = own_ignore_name(r);
	int ret = read_in_mirror(r, own, MAX_DOCKERFILE, 1, out);

	r->ignore_for = ret ? NULL : r->ctx->cfg.dockerfile;
	if (ret == MC_ENOTFOUND) {
		mc_buf_reset(out);
		ret = read_in_mirror(r, ".dockerignore", MAX_DOCKERFILE, 1, out);
	}
	*has = ret == 0;
	if (ret == MC_ENOTFOUND)
		ret = 0;
	free(own);
	return ret;
}

/* What the build reads besides the tree: the Dockerfile's real path (in-tree
 * symlinks followed, as docker's CLI sends it) and the ignore rules' text
 * (from the commit, in-tree links followed; *has_ignore 0 when there are none). */
int run_build_inputs(struct run *r, char **df_path, struct mc_buf *ignore, int *has_ignore)
{
	struct mc_lock lock = MC_LOCK_INIT;
	struct mc_buf df = MC_BUF_INIT;
	char *name = NULL;
	int ret = run_lock_and_fetch(r, &lock);

	*has_ignore = 0;
	if (!ret && !r->df_found)
		ret = read_dockerfile_locked(r, &df);
	if (!ret && (ret = mc_git_resolve_path(df_path, r->mirror, r->sha, name = dockerfile_name(r))) == MC_EINVAL) {
		ret = mc_error_wrap(MC_EBUILD, "template '%s' at %.12s", r->clean_url, r->sha);
		mc_error_hint("a Dockerfile may be a symbolic link only to a file inside the template");
	}
	if (!ret)
		ret = read_ignore_locked(r, ignore, has_ignore);
	mc_lock_release(&lock);
	mc_buf_release(&df);
	free(name);
	return ret;
}

/*
 * The key's dockerfile_hash for this request, from the commit: the
 * Dockerfile's sha256, or with BuildKit's "<Dockerfile>.dockerignore" in the
 * tree, mc_key_dockerfile_hash of both (the Dockerfile's path is not a key
 * input, and that file depends on it). With the repo lock held.
 */
static int dockerfile_hash_locked(struct run *r, char out[65])
{
	struct mc_buf df = MC_BUF_INIT, ig = MC_BUF_INIT;
	char *own = own_ignore_name(r);
	char dh[65], ih[65];
	int ret = read_dockerfile_locked(r, &df);

	if (ret)
		goto done;
	mc_sha256_hex(dh, df.ptr ? df.ptr : "", df.len);
	ret = read_in_mirror(r, own, MAX_DOCKERFILE, 1, &ig);
	if (ret == MC_ENOTFOUND) {
		memcpy(out, dh, 65);
		ret = 0;
	} else if (!ret) {
		mc_sha256_hex(ih, ig.ptr ? ig.ptr : "", ig.len);
		ret = mc_key_dockerfile_hash(out, dh, own, ih);
	}
done:
	mc_buf_release(&df);
	mc_buf_release(&ig);
	free(own);
	return ret;
}

/* sha256 of the Dockerfile of the commit (see dockerfile_hash_locked):
 * remembered per (repo, commit, path), so a hit never fetches. The memo's
 * path is "/2/<path>": no path in a template starts with '/', and rows under
 * the bare path hold the Dockerfile's sha256 alone, which a template with its
 * own ignore file must not reuse. */
int run_dockerfile_hash(struct run *r)
{
	struct mc_lock lock = MC_LOCK_INIT;
	char *memo = mc_asprintf("/2/%s", r->ctx->cfg.dockerfile);
	int ret = mc_index_dfhash_get(r->ix, r->dfhash, r->clean_url, r->sha, memo);

	if (ret != MC_ENOTFOUND)
		goto done;
	if ((ret = run_lock_and_fetch(r, &lock)) || (ret = dockerfile_hash_locked(r, r->dfhash)))
		goto done;
	ret = mc_index_dfhash_put(r->ix, r->clean_url, r->sha, memo, r->dfhash);
done:
	mc_lock_release(&lock);
	free(memo);
	return ret;
}

/* The build args sent to the engine: the user's, plus RUNTIME_VERSION from the
 * first line of the template's .runtime-version, read from the commit (the
 * commit is in the key, so it needs no key field). The checkout is not read:
 * see run_read_template_file. */
int run_build_args(struct run *r, struct mc_strv *out)
{
	const struct mc_strv *user = &r->ctx->cfg.build_args;
	struct mc_buf rv = MC_BUF_INIT;
	int have_rv = 0, ret = 0;

	for (size_t i = 0; i < user->n; i++) {
		mc_strv_push(out, user->v[i]);
		have_rv |= !strncmp(user->v[i], "RUNTIME_VERSION=", 16);
	}
	if (have_rv)
		goto done;
	ret = run_read_template_file(r, ".runtime-version", MAX_RUNTIME_VERSION, 0, &rv);
	if (ret == MC_ENOTFOUND) {
		ret = 0; /* no file (or not a file: a directory, a submodule): no arg */
		goto done;
	}
	if (ret)
		goto done;
	const char *line = mc_buf_cstr(&rv);
	size_t n = strcspn(line, "\r\n");
	while (n && (line[n - 1] == ' ' || line[n - 1] == '\t'))
		n--;
	if (n && !memchr(line, 0, n)) {
		char *arg = mc_asprintf("RUNTIME_VERSION=%.*s", (int)n, line);
		mc_strv_push(out, arg);
		free(arg);
	}
done:
	mc_buf_release(&rv);
	return ret;
}

/* Bad template content (a FROM line, a .dockerignore pattern) is the
 * template's failure to build (exit 5), not the user's bad input (exit 2). */
int run_template_error(struct run *r, int ret)
{
	if (ret != MC_EINVAL)
		return ret;
	ret = mc_error_wrap(MC_EBUILD, "template '%s' at %.12s", r->clean_url, r->sha);
	mc_error_hint("fix the template's Dockerfile or .dockerignore");
	return ret;
}
