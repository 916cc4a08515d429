/*
 * config.h — molcache settings: built-in defaults < config file < environment
 * < command-line flags. The file is $XDG_CONFIG_HOME/molcache/config (else
 * ~/.config/molcache/config), lines "key = value", '#' comments:
 *   repo_prefix, ref, dockerfile, platform, docker_host, networkmode, ca_file,
 *   runtimes (comma-separated allowlist), build_arg (repeatable K=V),
 *   lock_timeout (seconds), failure_backoff (30s, 1m, 1h; 0 = off),
 *   gc_max_age, gc_max_size, gc_keep (defaults for
 *   gc's --max-age, --max-size and --keep; checked when gc runs)
 * Environment: MOLCACHE_REPO_PREFIX (or MOLECULE_LOCAL_TEMPLATE_REPO_PREFIX),
 * MOLCACHE_REF, MOLCACHE_PLATFORM (or MOLECULE_IMAGE_PLATFORM), DOCKER_HOST,
 * MOLCACHE_CA_FILE (or GIT_SSL_CAINFO),
 * MOLCACHE_GIT_TOKEN (or MOLECULE_GITEA_TOKEN), MOLCACHE_RUNTIMES,
 * MOLCACHE_LOCK_TIMEOUT, MOLCACHE_FAILURE_BACKOFF.
 */
#ifndef MC_CONFIG_H
#define MC_CONFIG_H

#include <stddef.h>
#include <stdint.h>
#include "../util/mc_util.h"

struct mc_config {
	char *repo_prefix;   /* may carry credentials: never print it, use mc_url_redact */
	char *ref;           /* NULL = the remote's default branch */
	char *dockerfile;    /* default "Dockerfile" */
	char *platform;      /* NULL = the engine's native platform */
	char *docker_host;   /* NULL = unix:///var/run/docker.sock */
	char *networkmode;   /* default "default" */
	char *ca_file;       /* PEM bundle for https remotes; NULL = the system's */
	char *git_token;     /* secret */
	struct mc_strv runtimes;   /* allowlist; defaults to mc_default_runtimes */
	struct mc_strv build_args; /* "K=V" */
	int lock_timeout_s;  /* default 1800 */
	/* after a failed build, ensure of that key fails at once for this long,
	 * doubling per repeated failure up to MC_FAILURE_BACKOFF_CAP_MS; 0 = off */
	int64_t failure_backoff_ms;
	char *gc_max_age, *gc_max_size, *gc_keep; /* gc policy defaults, as written */
};

#define MC_FAILURE_BACKOFF_DEFAULT_MS 60000LL
#define MC_FAILURE_BACKOFF_CAP_MS 3600000LL
/* a longer base than a day is a mistake */
#define MC_FAILURE_BACKOFF_MAX_MS 86400000LL

typedef const char *(*mc_getenv_fn)(const char *name);

/* Fills defaults. */
void mc_config_init(struct mc_config *c);
/* Reads the file at path (missing file: 0, nothing changes). MC_EINVAL names
 * file:line for a malformed line or unknown key. */
int mc_config_load_file(struct mc_config *c, const char *path);
/* The parser behind mc_config_load_file: text[0..len) as the file's content,
 * name used in messages. */
int mc_config_load_buffer(struct mc_config *c, const char *name, const char *text, size_t len);
/* The default file path from env ($XDG_CONFIG_HOME, $HOME); malloc'd or NULL.
 * env NULL means the process environment (getenv). */
char *mc_config_default_path(mc_getenv_fn env);
/* Applies the environment (through env; NULL = getenv). */
int mc_config_apply_env(struct mc_config *c, mc_getenv_fn env);
/* os/arch[/variant], each part of [a-z0-9_.-]. */
int mc_config_platform_ok(const char *platform);
/* A path inside the template: relative, no ".." component. */
int mc_config_dockerfile_ok(const char *path);
/* Replaces a string field (frees the old value). */
void mc_config_set(char **field, const char *value);
void mc_config_release(struct mc_config *c);

#endif
