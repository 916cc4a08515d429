/* git.c — remote ref resolution, incremental bare-mirror fetches, blob reads and tree checkouts through libgit2. */
#include "git.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <git2.h>

#include "url.h"

/* libgit2 asks again after the server rejects credentials; stop the loop here. */
#define MC_GIT_MAX_AUTH_ATTEMPTS 3

/* The callbacks' payload: what the credentials callback hands out, what every
 * message must hide, and where fetch progress goes. */
struct mc_git_creds {
	char *remote; /* the remote's URL without credentials: the only place they go */
	char *user, *pass;
	char *secrets[4]; /* strings to mask in messages; NULL-terminated */
	int attempts;
	mc_git_progress_fn progress;
	void *progress_ud;
};


/* libgit2 is initialised on the first call that needs git, not at every process start. */
static int initialised;

int mc_git_init(void)
{
	int ret = 0;

	if (initialised)
		return 0;
	if (mc_git_cas_libgit2_init() < 0) {
		const git_error *e = git_error_last();
		ret = mc_error_set(MC_ERR, "libgit2: initialisation failed: %s",
				   e && e->message ? e->message : "unknown error");
	}
	/* Pack files are read through mmap windows that stay resident until a
	 * limit (by default 8 GiB on 64-bit): reading a 200 MiB blob kept the
	 * pack's 200 MiB mapped beside the blob itself. Small windows, a small
	 * limit: what is left is the blob being written. */
	if (!ret && (git_libgit2_opts(GIT_OPT_SET_MWINDOW_SIZE, (size_t)4 << 20) < 0 ||
		     git_libgit2_opts(GIT_OPT_SET_MWINDOW_MAPPED_LIMIT, (size_t)16 << 20) < 0))
		ret = mc_error_set(MC_ERR, "libgit2: cannot limit pack windows: %s", mc_git_errmsg());
	if (!ret)
		ret = mc_git_stream_register();
	initialised = !ret;
	return ret;
}

void mc_git_shutdown(void)
{
	/* the deferred CA locations die with libgit2's global state, not before:
	 * someone else may still hold an initialisation */
	if (initialised && git_libgit2_shutdown() == 0)
		mc_git_cas_shutdown();
	initialised = 0;
}

const char *mc_git_errmsg(void)
{
	const git_error *e = git_error_last();

	return e && e->message ? e->message : "unknown error";
}

static void creds_add_secret(struct mc_git_creds *c, const char *s)
{
	size_t i;

	if (!s || !*s)
		return;
	for (i = 0; i < 3; i++) {
		if (!c->secrets[i]) {
			c->secrets[i] = mc_strdup(s);
			return;
		}
	}
}

/*
 * Picks the credentials by the rule: userinfo "u:p" → (u, p); userinfo "t"
 * → (t, "x-oauth-basic"); none and a token → ("molcache", token); else none.
 */
static void creds_init(struct mc_git_creds *c, const char *url, const char *token)
{
	struct mc_url_cred uc;

	memset(c, 0, sizeof(*c));
	c->remote = mc_url_strip_credentials(url);
	/* scp-like userinfo is ssh's user name, which libgit2 reads from the URL itself */
	if (mc_url_credentials(&uc, url) && !uc.scp) {
		c->user = uc.user;
		c->pass = uc.pass ? uc.pass : mc_strdup("x-oauth-basic");
		creds_add_secret(c, uc.pass ? uc.pass : uc.user);
		uc.user = uc.pass = NULL;
	} else if (token && *token) {
		c->user = mc_strdup("molcache");
		c->pass = mc_strdup(token);
	}
	/* The secret as written in the URL too, percent-encoding and all: messages may quote either form. */
	creds_add_secret(c, uc.raw);
	creds_add_secret(c, token);
	mc_url_cred_release(&uc);
}

static void creds_release(struct mc_git_creds *c)
{
	size_t i;

	free(c->remote);
	free(c->user);
	free(c->pass);
	for (i = 0; i < 4; i++)
		free(c->secrets[i]);
	memset(c, 0, sizeof(*c));
}

/* A copy of s with every credential masked. */
static char *creds_redact(const struct mc_git_creds *c, const char *s)
{
	char *cur = mc_strdup(s), *next;
	size_t i;

	for (i = 0; c && c->secrets[i]; i++) {
		next = mc_redact_secret(cur, c->secrets[i]);
		free(cur);
		cur = next;
	}
	return cur;
}

static int creds_cb(git_credential **out, const char *url, const char *username_from_url,
		    unsigned int allowed_types, void *payload)
{
	struct mc_git_creds *c = payload;

	if (!(allowed_types & GIT_CREDENTIAL_USERPASS_PLAINTEXT))
		return GIT_PASSTHROUGH;
	if (!c->user)
		return mc_git_cred_missing();
	if (!mc_git_cred_target_ok(c->remote, url))
		return GIT_EAUTH;
	if (++c->attempts > MC_GIT_MAX_AUTH_ATTEMPTS) {
		git_error_set_str(GIT_ERROR_NET, "authentication failed: the credentials were rejected");
		return GIT_EAUTH;
	}
	return git_credential_userpass_plaintext_new(out, c->user, c->pass);
}

static int transfer_cb(const git_indexer_progress *stats, void *payload)
{
	struct mc_git_creds *c = payload;
	struct mc_git_progress p;

	if (c->progress) {
		p.received_objects = stats->received_objects;
		p.total_objects = stats->total_objects;
		p.indexed_objects = stats->indexed_objects;
		p.received_bytes = stats->received_bytes;
		c->progress(c->progress_ud, &p);
	}
	return mc_interrupted() ? -1 : 0; /* SIGINT/SIGTERM: libgit2 stops the fetch */
}

char *mc_git_local_url(const char *url)
{
	struct stat st;
	const char *path = NULL;
	char *with_git;

	if (!strncasecmp(url, "file://", 7))
		path = url + 7;
	else if (!strstr(url, "://") && (url[0] == '/' || url[0] == '.'))
		path = url;
	if (!path || !*path || stat(path, &st) == 0)
		return mc_strdup(url);
	with_git = mc_asprintf("%s.git", path);
	int found = stat(with_git, &st) == 0 && S_ISDIR(st.st_mode);
	free(with_git);
	return found ? mc_asprintf("%s.git", url) : mc_strdup(url);
}

/* Records "remote '<redacted url>': <libgit2 words, credentials masked>" under code. */
static int remote_fail(int code, const char *url, const struct mc_git_creds *c)
{
	char *red = mc_url_redact(url), *msg = creds_redact(c, mc_git_errmsg());
	int ret;

	/* a 401 the server cut short reaches libgit2's parser, not its credentials callback */
	if (code == MC_EUNREACHABLE && c && c->remote && strstr(msg, "http parser error") && !mc_git_timed_out() &&
	    (ret = mc_git_auth_explain(c->remote, red, c->user, c->pass)))
		goto done;
	ret = mc_error_set(code, "remote '%s': %s", red, msg);
	if (strstr(msg, "no credentials were given"))
		mc_error_hint("the remote wants credentials: set MOLCACHE_GIT_TOKEN (or put user:token@ in the repo prefix)");
	else if (strstr(msg, "credentials withheld") || (c && c->user && strstr(msg, "cannot redirect from")))
		mc_error_hint("molcache gives a remote's credentials only to its own host and port; if it moved, set the "
			      "repo prefix to where it redirects");
	else if (code == MC_EUNREACHABLE && git_error_last() && git_error_last()->klass == GIT_ERROR_SSL)
		mc_error_hint("TLS failed; if the server's certificate comes from a private CA, set MOLCACHE_CA_FILE "
			      "to that CA's PEM bundle");
	else if (code == MC_EUNREACHABLE && mc_git_timed_out())
		mc_error_hint("the remote did not answer in time; check the server, or raise remote_timeout "
			      "(MOLCACHE_REMOTE_TIMEOUT)");
	else if (code == MC_EUNREACHABLE)
		mc_error_hint("check the repository URL, the network, and that the token is valid");
done:
	free(red);
	free(msg);
	return ret;
}

static void connect_opts_init(git_remote_callbacks *cb, struct mc_git_creds *c)
{
	git_remote_init_callbacks(cb, GIT_REMOTE_CALLBACKS_VERSION);
	cb->credentials = creds_cb;
	cb->payload = c;
}

/* With credentials, no redirect to another host at any stage: libgit2 1.5
 * sends the credentials of an authenticated request on to where it redirects
 * without asking creds_cb. Without, an off-site redirect of the first request
 * is followed, as git does. */
static git_remote_redirect_t redirects(const struct mc_git_creds *c)
{
	return c->user ? GIT_REMOTE_REDIRECT_NONE : GIT_REMOTE_REDIRECT_INITIAL;
}

static int connect_remote(git_remote *remote, const git_remote_callbacks *cb, const struct mc_git_creds *c)
{
	git_remote_connect_options co;

	git_remote_connect_options_init(&co, GIT_REMOTE_CONNECT_OPTIONS_VERSION);
	co.callbacks = *cb;
	co.follow_redirects = redirects(c);
	return git_remote_connect_ext(remote, GIT_DIRECTION_FETCH, &co);
}

/*
 * Every remote is made here, so none connects before the CA certificates are
 * loaded (mc_git_cas_load). repo NULL: detached (ls-remote); else an anonymous
 * remote of the mirror, in memory only, without insteadOf, so both talk to
 * the same URL (this also avoids the regexp leak of libgit2 1.5's insteadOf
 * lookup, fixed upstream in #6382). clean: the credential-free URL.
 */
static int remote_new(git_remote **out, git_repository *repo, const char *clean, const char *url,
		      const struct mc_git_creds *c)
{
	git_remote_create_options ro;
	int ret, err;

	*out = NULL;
	if ((ret = mc_git_cas_load(clean)))
		goto done;
	if (repo) {
		git_remote_create_options_init(&ro, GIT_REMOTE_CREATE_OPTIONS_VERSION);
		ro.repository = repo;
		ro.flags = GIT_REMOTE_CREATE_SKIP_INSTEADOF | GIT_REMOTE_CREATE_SKIP_DEFAULT_FETCHSPEC;
		err = git_remote_create_with_opts(out, clean, &ro);
	} else {
		err = git_remote_create_detached(out, clean);
	}
	if (err < 0)
		ret = remote_fail(MC_EUNREACHABLE, url, c);
done:
	return ret;
}

/* The advertised head named name, preferring the peeled "name^{}" entry of an annotated tag. */
static const git_remote_head *find_head(const git_remote_head **heads, size_t n, const char *name)
{
	const git_remote_head *found = NULL;
	size_t i, len = strlen(name);

	for (i = 0; i < n; i++) {
		const char *hn = heads[i]->name;

		if (!strncmp(hn, name, len) && !strcmp(hn + len, "^{}"))
			return heads[i];
		if (!strcmp(hn, name))
			found = heads[i];
	}
	return found;
}

int mc_git_resolve(char out[41], char **resolved_ref, const char *url, const char *ref, const char *token)
{
	int ret = mc_git_init();
	struct mc_git_creds creds;
	git_remote *remote = NULL;
	git_remote_callbacks cb;
	const git_remote_head **heads = NULL, *hit = NULL;
	size_t nheads = 0, i;
	char *clean = NULL, *red = NULL, *match = NULL;

	if (ret)
		return ret;
	memset(&creds, 0, sizeof(creds));
	if (resolved_ref)
		*resolved_ref = NULL;
	if (mc_is_hex(ref, 40)) {
		for (i = 0; i < 40; i++)
			out[i] = (char)tolower((unsigned char)ref[i]);
		out[40] = '\0';
		if (resolved_ref)
			*resolved_ref = mc_strdup(out);
		goto done;
	}
	if (!url || !*url) {
		ret = mc_error_set(MC_EINVAL, "remote: no repository URL given");
		goto done;
	}
	creds_init(&creds, url, token);
	clean = mc_url_strip_credentials(url);
	red = mc_url_redact(url);
	git_error_clear();
	if ((ret = remote_new(&remote, NULL, clean, url, &creds)))
		goto done;
	connect_opts_init(&cb, &creds);
	if (connect_remote(remote, &cb, &creds) < 0 ||
	    git_remote_ls(&heads, &nheads, remote) < 0) {
		ret = remote_fail(MC_EUNREACHABLE, url, &creds);
		goto done;
	}
	if (!ref || !*ref) {
		/*
		 * The symref the server advertised for HEAD, read straight from the
		 * listing: git_remote_default_branch() of libgit2 1.5 guesses when
		 * there is none and crashes on a detached HEAD over file://.
		 */
		hit = find_head(heads, nheads, "HEAD");
		if (hit)
			match = mc_strdup(hit->symref_target && !strncmp(hit->symref_target, "refs/", 5)
						  ? hit->symref_target
						  : "HEAD");
	} else {
		static const char *const prefixes[] = { "refs/heads/", "refs/tags/", "" };

		for (i = 0; !hit && i < sizeof(prefixes) / sizeof(prefixes[0]); i++) {
			char *name = mc_asprintf("%s%s", prefixes[i], ref);

			hit = find_head(heads, nheads, name);
			if (hit)
				match = name;
			else
				free(name);
		}
	}
	if (!hit) {
		ret = mc_error_set(MC_ENOTFOUND, "remote '%s': ref '%s' not found", red,
				   ref && *ref ? ref : "HEAD");
		if (ref && strlen(ref) >= 4 && strlen(ref) < 40 && mc_is_hex(ref, strlen(ref)))
			mc_error_hint("'%s' looks like an abbreviated commit: --ref takes a branch, a tag or a "
				      "full 40-digit commit sha (a remote is asked for names, not prefixes)", ref);
		goto done;
	}
	git_oid_tostr(out, 41, &hit->oid);
	if (resolved_ref) {
		*resolved_ref = match;
		match = NULL;
	}

done:
	if (remote) {
		git_remote_disconnect(remote);
		git_remote_free(remote);
	}
	creds_release(&creds);
	free(clean);
	free(red);
	free(match);
	return ret;
}

/* Creates the bare mirror under a temp sibling, then renames it into place, so a crash never leaves half a mirror. */
static int mirror_create(const char *mirror_path)
{
	int ret = 0;
	/* A fixed name: fetches into one mirror are serialised, and the next try sweeps a crashed one's leftovers. */
	char *tmp = mc_asprintf("%s.tmp", mirror_path);
	git_repository_init_options io;
	git_repository *repo = NULL;
	git_config *cfg = NULL;

	if ((ret = mc_rm_rf(tmp)) < 0)
		goto done;
	/* The _init() calls instead of the INIT macros: those leave fields out and trip -Wmissing-field-initializers. */
	git_repository_init_options_init(&io, GIT_REPOSITORY_INIT_OPTIONS_VERSION);
	io.flags = GIT_REPOSITORY_INIT_BARE | GIT_REPOSITORY_INIT_MKPATH | GIT_REPOSITORY_INIT_NO_REINIT;
	/* A bare repository may probe the filesystem and leave core.symlinks unset or false; checkouts need it true. */
	if (git_repository_init_ext(&repo, tmp, &io) < 0 || git_repository_config(&cfg, repo) < 0 ||
	    git_config_set_bool(cfg, "core.symlinks", 1) < 0 || git_config_set_bool(cfg, "gc.auto", 0) < 0) {
		ret = mc_error_set(MC_ERR, "mirror '%s': cannot create: %s", mirror_path, mc_git_errmsg());
		goto done;
	}
	git_config_free(cfg);
	cfg = NULL;
	git_repository_free(repo);
	repo = NULL;
	if (rename(tmp, mirror_path) < 0) {
		/* Someone else created it meanwhile: theirs is as good as ours. */
		if (errno != EEXIST && errno != ENOTEMPTY) {
			char *what = mc_asprintf("mirror '%s': rename into place", mirror_path);

			ret = mc_error_errno(what);
			free(what);
		}
		mc_rm_rf(tmp);
	}

done:
	git_config_free(cfg);
	git_repository_free(repo);
	if (ret < 0)
		mc_rm_rf(tmp);
	free(tmp);
	return ret;
}

static int mirror_open(git_repository **out, const char *mirror_path)
{
	int ret = 0, err;

	*out = NULL;
	err = git_repository_open_bare(out, mirror_path);
	if (err == GIT_ENOTFOUND)
		ret = mc_error_set(MC_ENOTFOUND, "mirror '%s': %s", mirror_path, mc_git_errmsg());
	else if (err < 0)
		ret = mc_error_set(MC_ERR, "mirror '%s': %s", mirror_path, mc_git_errmsg());
	return ret;
}

static int has_commit(git_repository *repo, const git_oid *oid)
{
	git_commit *c = NULL;
	int ok = git_commit_lookup(&c, repo, oid) == 0;

	git_commit_free(c);
	git_error_clear();
	return ok;
}

/* One network fetch of specs (count n) through remote; hands the final counts to the progress callback.
 * Connect and download failures are the remote's (MC_EUNREACHABLE); updating local refs is ours (MC_ERR). */
static int fetch_specs(git_remote *remote, const char *url, struct mc_git_creds *creds, char **specs, size_t n)
{
	int ret = 0;
	git_fetch_options fo;
	git_strarray arr = { specs, n };
	const git_indexer_progress *st;

	/* The _init() call instead of the INIT macro: that one leaves fields out and trips -Wmissing-field-initializers. */
	git_fetch_options_init(&fo, GIT_FETCH_OPTIONS_VERSION);
	connect_opts_init(&fo.callbacks, creds);
	fo.callbacks.transfer_progress = transfer_cb;
	fo.prune = GIT_FETCH_NO_PRUNE;
	fo.update_fetchhead = 0;
	fo.download_tags = GIT_REMOTE_DOWNLOAD_TAGS_NONE;
	fo.follow_redirects = redirects(creds);
	creds->attempts = 0;
	git_error_clear();
	if (connect_remote(remote, &fo.callbacks, creds) < 0 ||
	    git_remote_download(remote, &arr, &fo) < 0) {
		ret = mc_interrupted() ? mc_interrupt_check() : remote_fail(MC_EUNREACHABLE, url, creds);
		goto done;
	}
	st = git_remote_stats(remote);
	if (st)
		transfer_cb(st, creds);
	if (git_remote_update_tips(remote, &fo.callbacks, 0, GIT_REMOTE_DOWNLOAD_TAGS_NONE, "molcache: fetch") < 0)
		ret = remote_fail(MC_ERR, url, creds);

done:
	git_remote_disconnect(remote);
	return ret;
}

/* Unlinks libgit2's "<file>.lock" files (refs/…, packed-refs, config, HEAD)
 * under dir, without following symlinks. */
static void remove_stale_locks(const char *dir, int depth)
{
	DIR *d = depth > 16 ? NULL : opendir(dir);
	struct dirent *de;

	if (!d)
		return;
	while ((de = readdir(d))) {
		size_t n = strlen(de->d_name);
		int is_lock = n > 5 && !strcmp(de->d_name + n - 5, ".lock");
		struct stat st;
		char *path;

		/* at the top only refs/ and the lock files themselves; objects/ is never touched */
		if (de->d_name[0] == '.' || (depth == 0 && !is_lock && strcmp(de->d_name, "refs")))
			continue;
		path = mc_asprintf("%s/%s", dir, de->d_name);
		if (!lstat(path, &st)) {
			if (S_ISDIR(st.st_mode))
				remove_stale_locks(path, depth + 1);
			else if (S_ISREG(st.st_mode) && is_lock)
				unlink(path);
		}
		free(path);
	}
	closedir(d);
}

int mc_git_mirror_fetch(const char *mirror_path, const char *url, const char *resolved_ref,
			const char *sha, const char *token, mc_git_progress_fn progress, void *ud,
			int *fetched)
{
	int ret = mc_git_init();
	struct mc_git_creds creds;
	struct stat st;
	git_repository *repo = NULL;
	git_remote *remote = NULL;
	git_oid oid;
	char *clean = NULL, *red = NULL, *one = NULL;
	char *all[] = { "+refs/heads/*:refs/molcache/heads/*", "+refs/tags/*:refs/molcache/tags/*" };

	if (ret)
		return ret;
	memset(&creds, 0, sizeof(creds));
	if (fetched)
		*fetched = 0;
	if (!mc_is_hex(sha, 40) || git_oid_fromstr(&oid, sha) < 0) {
		ret = mc_error_set(MC_EINVAL, "mirror '%s': '%s' is not a 40-hex commit sha", mirror_path,
				   sha ? sha : "(null)");
		goto done;
	}
	if (lstat(mirror_path, &st) < 0) {
		if (errno != ENOENT) {
			ret = mc_error_errno(mirror_path);
			goto done;
		}
		if ((ret = mirror_create(mirror_path)) < 0)
			goto done;
	}
	if ((ret = mirror_open(&repo, mirror_path)) < 0) {
		/* It is there but no repository: that is not "commit not found". */
		if (ret == MC_ENOTFOUND) {
			char *msg = mc_strdup(mc_error_msg());

			ret = mc_error_set(MC_ERR, "%s", msg);
			free(msg);
		}
		goto done;
	}
	if (has_commit(repo, &oid))
		goto done;
	/* the caller serialises fetches into this mirror: any lock file left is a
	 * killed fetch's, and would make every ref update fail from now on */
	remove_stale_locks(mirror_path, 0);

	if (!url || !*url) {
		ret = mc_error_set(MC_EINVAL, "mirror '%s': no repository URL given", mirror_path);
		goto done;
	}
	creds_init(&creds, url, token);
	creds.progress = progress;
	creds.progress_ud = ud;
	clean = mc_url_strip_credentials(url);
	red = mc_url_redact(url);
	/* anonymous: nothing reaches the mirror's config */
	if ((ret = remote_new(&remote, repo, clean, url, &creds)))
		goto done;
	if (fetched)
		*fetched = 1;
	if (resolved_ref && *resolved_ref && !mc_is_hex(resolved_ref, 40)) {
		const char *rest = strncmp(resolved_ref, "refs/", 5) ? resolved_ref : resolved_ref + 5;

		one = mc_asprintf("+%s:refs/molcache/%s", resolved_ref, rest);
		if ((ret = fetch_specs(remote, url, &creds, &one, 1)) < 0)
			goto done;
		if (has_commit(repo, &oid))
			goto done;
		/* The ref moved past sha between resolve and fetch: sha may still be on another branch or tag. */
	}
	if ((ret = fetch_specs(remote, url, &creds, all, 2)) < 0)
		goto done;
	if (!has_commit(repo, &oid))
		ret = mc_error_set(MC_ENOTFOUND, "remote '%s': commit %s not found in any branch or tag", red, sha);

done:
	git_remote_free(remote);
	git_repository_free(repo);
	creds_release(&creds);
	free(clean);
	free(red);
	free(one);
	return ret;
}

/* Looks up commit sha in the mirror and hands back its tree. */
int mc_git_commit_tree(git_tree **out, git_repository **repo_out, const char *mirror_path, const char *sha)
{
	int ret = 0, err;
	git_oid oid;
	git_commit *commit = NULL;

	*out = NULL;
	*repo_out = NULL;
	if (!mc_is_hex(sha, 40) || git_oid_fromstr(&oid, sha) < 0) {
		ret = mc_error_set(MC_EINVAL, "mirror '%s': '%s' is not a 40-hex commit sha", mirror_path,
				   sha ? sha : "(null)");
		goto done;
	}
	if ((ret = mirror_open(repo_out, mirror_path)) < 0)
		goto done;
	err = git_commit_lookup(&commit, *repo_out, &oid);
	if (err < 0) {
		ret = mc_error_set(err == GIT_ENOTFOUND ? MC_ENOTFOUND : MC_ERR, "mirror '%s': commit %s: %s",
				   mirror_path, sha, mc_git_errmsg());
		goto done;
	}
	if (git_commit_tree(out, commit) < 0)
		ret = mc_error_set(MC_ERR, "mirror '%s': tree of commit %s: %s", mirror_path, sha, mc_git_errmsg());

done:
	git_commit_free(commit);
	return ret;
}

/* The blob's bytes as a string (a symlink's target); malloc'd, or NULL with the error set. */
static char *blob_text(git_repository *repo, const git_tree_entry *e, const char *sha, const char *path)
{
	git_blob *blob = NULL;
	char *s;

	if (git_blob_lookup(&blob, repo, git_tree_entry_id(e)) < 0) {
		mc_error_set(MC_ERR, "file '%s' in commit %s: %s", path, sha, mc_git_errmsg());
		return NULL;
	}
	s = mc_strndup(git_blob_rawcontent(blob), (size_t)git_blob_rawsize(blob));
	git_blob_free(blob);
	return s;
}

/*
 * path inside the tree, each symlink on the way (a directory's or the file's
 * own) replaced by its target as the kernel would inside a chroot of the
 * tree, at most MC_GIT_MAX_LINKS times. *out: the path of the regular file.
 * MC_ENOTFOUND when nothing is there; MC_EINVAL for a link that leaves the
 * tree (absolute, or ".." above the top) or a chain too long, naming both.
 */
static int resolve_in_tree(char **out, git_repository *repo, git_tree *root, const char *sha, const char *path,
			   int follow)
{
	char *cur = mc_path_clean(path);
	int hops = 0, ret = 0;

	*out = NULL;
	if (!cur)
		return mc_error_set(MC_EINVAL, "'%s' is not a path inside the template", path);
restart:
	for (size_t end = 0;;) {
		git_tree_entry *e = NULL;
		size_t next = end + strcspn(cur + end, "/");
		int last = cur[next] == 0;
		char *prefix = mc_strndup(cur, next);
		int err = git_tree_entry_bypath(&e, root, prefix);
		free(prefix);
		if (err < 0) {
			ret = mc_error_set(err == GIT_ENOTFOUND ? MC_ENOTFOUND : MC_ERR, "file '%s' in commit %s: %s", cur,
					   sha, mc_git_errmsg());
			goto done;
		}
		if (git_tree_entry_filemode(e) == GIT_FILEMODE_LINK) {
			char *target = follow ? blob_text(repo, e, sha, cur) : NULL, *joined, *clean = NULL;
			git_tree_entry_free(e);
			if (!follow) {
				ret = mc_error_set(MC_EINVAL, "'%s' in commit %.12s is a symbolic link", cur, sha);
				goto done;
			}
			if (!target) {
				ret = mc_error_code();
				goto done;
			}
			/* the link's directory (cur[0, end), with its '/') + its target + what followed */
			joined = mc_asprintf("%.*s%s%s%s", (int)end, cur, target, last ? "" : "/",
					     last ? "" : cur + next + 1);
			if (target[0] != '/')
				clean = mc_path_clean(joined);
			if (!clean || ++hops > MC_GIT_MAX_LINKS) {
				ret = mc_error_set(MC_EINVAL, "'%s' in commit %.12s is a symbolic link to '%s', %s", path,
						   sha, target,
						   clean ? "through too many links" : "outside the template");
				free(clean);
				clean = NULL;
			}
			free(target);
			free(joined);
			if (ret)
				goto done;
			free(cur);
			cur = clean;
			goto restart;
		}
		git_object_t type = git_tree_entry_type(e);
		int is_tree = type == GIT_OBJECT_TREE;
		git_tree_entry_free(e);
		if (last) {
			if (type != GIT_OBJECT_BLOB)
				ret = mc_error_set(MC_ENOTFOUND, "file '%s' in commit %s: a directory, not a file", cur,
						   sha);
			break;
		}
		if (!is_tree) {
			ret = mc_error_set(MC_ENOTFOUND, "file '%s' in commit %s: not a directory on the way", cur, sha);
			break;
		}
		end = next + 1;
	}
done:
	if (ret)
		free(cur);
	else
		*out = cur;
	return ret;
}

int mc_git_resolve_path(char **out, const char *mirror_path, const char *sha, const char *path)
{
	int ret = mc_git_init();
	git_repository *repo = NULL;
	git_tree *tree = NULL;

	*out = NULL;
	if (ret)
		return ret;
	if ((ret = mc_git_commit_tree(&tree, &repo, mirror_path, sha)) == 0)
		ret = resolve_in_tree(out, repo, tree, sha, path, 1);
	git_tree_free(tree);
	git_repository_free(repo);
	return ret;
}

int mc_git_read_file(struct mc_buf *out, const char *mirror_path, const char *sha, const char *path,
		     size_t max_bytes, int follow)
{
	int ret = mc_git_init();
	git_repository *repo = NULL;
	git_tree *tree = NULL;
	git_tree_entry *entry = NULL;
	git_blob *blob = NULL;
	git_object_size_t size;
	char *real = NULL;

	if (ret)
		return ret;
	mc_buf_reset(out);
	if ((ret = mc_git_commit_tree(&tree, &repo, mirror_path, sha)) < 0)
		goto done;
	if ((ret = resolve_in_tree(&real, repo, tree, sha, path, follow)))
		goto done;
	if (git_tree_entry_bypath(&entry, tree, real) < 0 || git_tree_entry_type(entry) != GIT_OBJECT_BLOB) {
		ret = mc_error_set(MC_ENOTFOUND, "file '%s' in commit %s: not a file", path, sha);
		goto done;
	}
	if (git_blob_lookup(&blob, repo, git_tree_entry_id(entry)) < 0) {
		ret = mc_error_set(MC_ERR, "file '%s' in commit %s: %s", path, sha, mc_git_errmsg());
		goto done;
	}
	size = git_blob_rawsize(blob);
	if (size > (git_object_size_t)max_bytes) {
		ret = mc_error_set(MC_ETOOBIG, "file '%s' in commit %s: %llu bytes, over the limit of %zu", path,
				   sha, (unsigned long long)size, max_bytes);
		goto done;
	}
	mc_buf_add(out, git_blob_rawcontent(blob), (size_t)size);

done:
	free(real);
	git_blob_free(blob);
	git_tree_entry_free(entry);
	git_tree_free(tree);
	git_repository_free(repo);
	return ret;
}
