/* template.c — the files molcache itself reads from a template, from the commit in the mirror, never through the checkout. */
#include "ensure.h"
#include "run.h"

#include <stdlib.h>
#include <string.h>

#include "../git/git.h"

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

/* What the build reads besides the tree: the Dockerfile's real path (in-tree
 * symlinks followed, as docker's CLI sends it) and .dockerignore's text (from
 * the commit, in-tree links followed; *has_ignore 0 when there is none). */
int run_build_inputs(struct run *r, char **df_path, struct mc_buf *ignore, int *has_ignore)
{
	struct mc_lock lock = MC_LOCK_INIT;
	int ret = run_lock_and_fetch(r, &lock);

	*has_ignore = 0;
	if (!ret && (ret = mc_git_resolve_path(df_path, r->mirror, r->sha, r->ctx->cfg.dockerfile)) == MC_EINVAL) {
		ret = mc_error_wrap(MC_EBUILD, "template '%s' at %.12s", r->clean_url, r->sha);
		mc_error_hint("a Dockerfile may be a symbolic link only to a file inside the template");
	}
	if (!ret) {
		ret = read_in_mirror(r, ".dockerignore", MAX_DOCKERFILE, 1, ignore);
		*has_ignore = ret == 0;
		if (ret == MC_ENOTFOUND)
			ret = 0;
	}
	mc_lock_release(&lock);
	return ret;
}

/* sha256 of the Dockerfile of the commit: remembered per (repo, commit, path),
 * so a hit never fetches. */
int run_dockerfile_hash(struct run *r)
{
	struct mc_buf df = MC_BUF_INIT;
	struct mc_lock lock = MC_LOCK_INIT;
	const char *path = r->ctx->cfg.dockerfile;
	int ret = mc_index_dfhash_get(r->ix, r->dfhash, r->clean_url, r->sha, path);
	if (ret != MC_ENOTFOUND)
		return ret;
	if ((ret = run_lock_and_fetch(r, &lock)))
		goto done;
	ret = read_in_mirror(r, path, MAX_DOCKERFILE, 1, &df);
	if (ret == MC_ENOTFOUND) {
		ret = mc_error_set(MC_EBUILD, "template '%s' at %.12s: no '%s' in the tree", r->clean_url, r->sha,
				   path);
		mc_error_hint("add a Dockerfile to the template or pass --dockerfile PATH");
		goto done;
	}
	if (ret)
		goto done;
	mc_sha256_hex(r->dfhash, df.ptr ? df.ptr : "", df.len);
	ret = mc_index_dfhash_put(r->ix, r->clean_url, r->sha, path, r->dfhash);
done:
	mc_lock_release(&lock);
	mc_buf_release(&df);
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
