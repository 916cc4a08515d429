/* git_checkout.c — a commit's tree written out under a directory, entry by entry, with git's modes and no submodules. */
#include "git.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <git2.h>

/* What one checkout walk needs. */
struct checkout {
	git_repository *repo;
	const char *target, *sha;
	int ret;
};

/* A tree entry name that is safe to create: not empty, ".", "..", ".git", no '/'. */
static int entry_name_ok(const char *name)
{
	return *name && strcmp(name, ".") && strcmp(name, "..") && strcasecmp(name, ".git") && !strchr(name, '/');
}

/* Writes one blob to path with mode, whatever the umask (the tree's modes are git's: 644 or 755). */
static int write_blob(struct checkout *co, const git_tree_entry *e, const char *path, mode_t mode)
{
	git_blob *blob = NULL;
	int fd = -1, ret = 0;

	if (git_blob_lookup(&blob, co->repo, git_tree_entry_id(e)) < 0) {
		ret = mc_error_set(MC_ERR, "checkout of commit %s: blob of '%s': %s", co->sha, path, mc_git_errmsg());
		goto done;
	}
	const char *p = git_blob_rawcontent(blob);
	size_t left = (size_t)git_blob_rawsize(blob);
	if (git_tree_entry_filemode(e) == GIT_FILEMODE_LINK) {
		char *target = mc_strndup(p, left);
		if (symlink(target, path))
			ret = mc_error_errno(path);
		free(target);
		goto done;
	}
	if ((fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600)) < 0) {
		ret = mc_error_errno(path);
		goto done;
	}
	while (left > 0) {
		ssize_t n = write(fd, p, left);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			ret = mc_error_errno(path);
			goto done;
		}
		p += n;
		left -= (size_t)n;
	}
	if (fchmod(fd, mode))
		ret = mc_error_errno(path);
done:
	if (fd >= 0 && close(fd) && !ret)
		ret = mc_error_errno(path);
	git_blob_free(blob);
	return ret;
}

/* A tree path the file system cannot hold: the template's fault (MC_EBUILD),
 * named by its path in the template (its head and tail when long). */
static int path_too_long(const struct checkout *co, const char *root, const char *name, size_t len)
{
	char *rel = mc_asprintf("%s%s", root, name);
	size_t n = strlen(rel);
	int ret;

	if (n > 160)
		ret = mc_error_set(MC_EBUILD, "commit %s: path too long (%zu bytes checked out, PATH_MAX %d): '%.100s…%s'",
				   co->sha, len, PATH_MAX, rel, rel + n - 50);
	else
		ret = mc_error_set(MC_EBUILD, "commit %s: path too long (%zu bytes checked out, PATH_MAX %d, NAME_MAX %d): '%s'",
				   co->sha, len, PATH_MAX, NAME_MAX, rel);
	mc_error_hint("shorten the path in the template; the checkout lives under the cache root (MOLCACHE_HOME), "
		      "a shorter root leaves more room");
	free(rel);
	return ret;
}

static int checkout_entry(const char *root, const git_tree_entry *e, void *payload)
{
	struct checkout *co = payload;
	const char *name = git_tree_entry_name(e);
	git_filemode_t fm = git_tree_entry_filemode(e);
	char *path;
	int ret = 0;

	if ((co->ret = mc_interrupt_check()))
		return -1; /* SIGINT/SIGTERM: the caller removes the partial checkout */
	if (!entry_name_ok(name)) {
		co->ret = mc_error_set(MC_EBUILD, "commit %s: tree entry '%s%s' cannot be checked out", co->sha, root,
				       name);
		return -1;
	}
	path = mc_asprintf("%s/%s%s", co->target, root, name);
	if (strlen(path) >= PATH_MAX || strlen(name) > NAME_MAX) {
		co->ret = path_too_long(co, root, name, strlen(path));
		free(path);
		return -1;
	}
	switch (fm) {
	case GIT_FILEMODE_TREE:
	case GIT_FILEMODE_COMMIT: /* a submodule: an empty directory, as a non-recursive clone has */
		if (mkdir(path, 0755) || chmod(path, 0755))
			ret = mc_error_errno(path);
		break;
	case GIT_FILEMODE_BLOB:
	case GIT_FILEMODE_LINK:
		ret = write_blob(co, e, path, 0644);
		break;
	case GIT_FILEMODE_BLOB_EXECUTABLE:
		ret = write_blob(co, e, path, 0755);
		break;
	default:
		ret = mc_error_set(MC_EBUILD, "commit %s: tree entry '%s%s' has an unknown mode %o", co->sha, root,
				   name, (unsigned)fm);
	}
	free(path);
	if (ret) {
		co->ret = ret;
		return -1;
	}
	return 0;
}

/*
 * A walk of the commit's tree rather than git_checkout_tree: a gitlink
 * (submodule) becomes an empty directory instead of failing the checkout
 * ("cannot get submodules without a working tree"), modes are git's whatever
 * the umask, and one blob at a time is in memory.
 */
int mc_git_checkout(const char *mirror_path, const char *sha, const char *target_dir)
{
	int ret = mc_git_init();
	git_repository *repo = NULL;
	git_tree *tree = NULL;
	struct checkout co = { 0 };

	if (ret)
		return ret;
	if ((ret = mc_git_commit_tree(&tree, &repo, mirror_path, sha)) < 0)
		goto done;
	if ((ret = mc_mkdir_p(target_dir, 0755)) < 0)
		goto done;
	co = (struct checkout){ repo, target_dir, sha, 0 };
	if (git_tree_walk(tree, GIT_TREEWALK_PRE, checkout_entry, &co) < 0)
		ret = co.ret ? co.ret
			     : mc_error_set(MC_ERR, "checkout of commit %s into '%s': %s", sha, target_dir, mc_git_errmsg());
done:
	git_tree_free(tree);
	git_repository_free(repo);
	return ret;
}
