/*
 * git.h — the template repositories, through libgit2 (never the git binary).
 * Works over file://, git:// and http(s)://.
 *
 * Credentials: url may carry "user:pass@" or "token@"; token (may be NULL) is
 * used when it carries none. Either is handed to libgit2 only through a
 * credentials callback: remotes are always created from the credential-free
 * URL (mc_url_strip_credentials), so nothing secret reaches a mirror's config,
 * and every error message is built from the redacted URL.
 *
 * Call sequence for a miss: mc_git_resolve() → mc_git_mirror_fetch() →
 * mc_git_read_file() (Dockerfile) → mc_git_checkout().
 * Call once per process: mc_git_init() / mc_git_shutdown().
 */
#ifndef MC_GIT_H
#define MC_GIT_H

#include "../util/mc_util.h"

int mc_git_init(void);
void mc_git_shutdown(void);
/* The PEM bundle that http(s) remotes are verified against instead of the
 * system's, under every TLS backend (NULL or "": the system's). Set it before
 * mc_git_init(). Loaded before the first http(s) connection. It is net/'s one
 * CA setting (mc_net_set_ca_file): https registries are verified against it too. */
void mc_git_set_ca_file(const char *path);
/* When the CA certificates are parsed, after mc_git_init(): "deferred" (only
 * before an http(s) remote: libgit2 on mbedTLS with MC_DEFER_CAS) or "eager"
 * (by git_libgit2_init(), for every remote, git:// and file:// too). */
const char *mc_git_ca_loading(void);

/* Every git:// and http(s):// connection is bounded: connecting by the
 * connect timeout, every later wait for the remote to send or take a byte by
 * the idle timeout (remote_timeout). ms <= 0 keeps the default. */
#define MC_GIT_CONNECT_TIMEOUT_MS 30000
#define MC_GIT_IDLE_TIMEOUT_MS 60000
void mc_git_set_timeouts(int connect_timeout_ms, int idle_timeout_ms);
/* 1 when a connection of this process was given up on a timeout. */
int mc_git_timed_out(void);
/* Module-private (git_stream.c): installs the bounded socket stream in libgit2;
 * the host and port of the last connection it made ("" before the first). */
int mc_git_stream_register(void);
void mc_git_stream_peer(const char **host, const char **port);
/* Module-private (git_cas.c): git_libgit2_init() with the CA bundle's parse
 * deferred when it can be; the CA certificates handed to libgit2 before a
 * connection to url (a no-op unless http(s), and after the first); forgetting
 * them after the last git_libgit2_shutdown(). */
int mc_git_cas_libgit2_init(void);
/* Module-private (git.c): libgit2's last error message ("unknown error" when none). */
const char *mc_git_errmsg(void);
struct git_tree;
struct git_repository;
/* Module-private (git.c): commit sha's tree in the mirror (git_checkout.c walks it). */
int mc_git_commit_tree(struct git_tree **out, struct git_repository **repo_out, const char *mirror_path,
		       const char *sha);
/* Module-private (git_auth.c). 1 when credentials configured for remote (a
 * URL without credentials) may answer a challenge that libgit2 says came from
 * asked: same scheme, host and port, and the connection it came on was to
 * that host and port (not a redirect's target). Else 0, with libgit2's
 * error set to "authentication asked by HOST:PORT, …: credentials withheld". */
int mc_git_cred_target_ok(const char *remote, const char *asked);
/* Module-private (git_auth.c): GIT_EAUTH, libgit2's error set to
 * "authentication required by HOST:PORT but no credentials were given". */
int mc_git_cred_missing(void);
/* Module-private (git_auth.c). After libgit2 failed on an http(s) remote with
 * words that say nothing (its parser gave up on an answer the server cut
 * short), asks the remote once itself (clean: without credentials; no
 * redirects; user/pass may be NULL): a 401 or 403 sets MC_EUNREACHABLE
 * "authentication required by HOST:PORT" or "HOST:PORT refused our
 * credentials" with a hint, and returns it; else 0 and no error. */
int mc_git_auth_explain(const char *clean, const char *redacted, const char *user, const char *pass);
int mc_git_cas_load(const char *url);
void mc_git_cas_shutdown(void);

/* url as git clone finds a local repository: a file:// URL or a plain path
 * that does not exist but whose "<path>.git" does names the latter (bare repos
 * are usually named X.git). Any other URL is returned as it is. malloc'd. */
char *mc_git_local_url(const char *url);

/* Progress of a fetch, for the CLI. */
struct mc_git_progress {
	unsigned received_objects, total_objects, indexed_objects;
	size_t received_bytes;
};
typedef void (*mc_git_progress_fn)(void *ud, const struct mc_git_progress *p);

/*
 * Resolves ref on the remote in one round trip (ls-remote) and writes the
 * commit's 40-hex sha to out. ref NULL or "" = the remote's default branch
 * (HEAD); otherwise a branch name, a tag name (annotated tags are peeled to
 * their commit), a full ref ("refs/heads/x") or a full 40-hex sha (returned
 * as is, no I/O). If *resolved_ref is non-NULL it receives the full ref name
 * that matched (malloc'd; the sha itself for a sha).
 * MC_EUNREACHABLE: cannot connect/authenticate (message names the redacted URL).
 * MC_ENOTFOUND: the ref does not exist (message names it).
 */
int mc_git_resolve(char out[41], char **resolved_ref, const char *url, const char *ref, const char *token);

/*
 * Makes sure the bare mirror at mirror_path (created if missing) holds commit
 * sha, fetching from url only what it lacks: if sha is already present no
 * network I/O happens. The fetch asks for resolved_ref only (e.g.
 * "refs/heads/main"; NULL or a sha = all branches and tags) and stores it under
 * refs/molcache/… so incremental fetches negotiate against what is there.
 * *fetched (may be NULL) is set to 1 when a network fetch happened.
 * Takes no lock: callers serialise fetches into one mirror.
 */
int mc_git_mirror_fetch(const char *mirror_path, const char *url, const char *resolved_ref,
			const char *sha, const char *token, mc_git_progress_fn progress, void *ud,
			int *fetched);

/* Symlinks followed on the way to a file, at most (docker's resolution of a
 * symlinked Dockerfile; the kernel allows 40). */
#define MC_GIT_MAX_LINKS 16

/* Reads the blob at path inside commit sha of the mirror into out (capped at
 * max_bytes). follow: symlinks on the way are followed while they stay inside
 * the tree (MC_GIT_MAX_LINKS at most); else any symlink is refused. MC_ENOTFOUND
 * when the commit has no such file; MC_EINVAL for a refused or escaping link
 * (the message names the path and its target); MC_ETOOBIG for a file over the
 * cap (the message gives its size and the cap). */
int mc_git_read_file(struct mc_buf *out, const char *mirror_path, const char *sha, const char *path,
		     size_t max_bytes, int follow);
/* The path of the file that path names inside commit sha, every in-tree
 * symlink on the way followed (malloc'd into *out): what docker's CLI sends as
 * the Dockerfile's path. Errors as mc_git_read_file's. */
int mc_git_resolve_path(char **out, const char *mirror_path, const char *sha, const char *path);

/* Writes the tree of commit sha into target_dir (which must not exist yet, or
 * be empty): files 0644 or 0755 as git records them (whatever the umask),
 * symlinks as symlinks, a submodule (gitlink) as an empty directory, no .git.
 * One blob at a time is held in memory. MC_EBUILD for a tree entry that
 * cannot be created safely ("..", ".git", an unknown mode). */
int mc_git_checkout(const char *mirror_path, const char *sha, const char *target_dir);

#endif
