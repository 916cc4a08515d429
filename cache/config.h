/*
 * config.h — molcache settings: built-in defaults < config file < environment
 * < command-line flags. The file is $XDG_CONFIG_HOME/molcache/config (else
 * ~/.config/molcache/config), lines "key = value", '#' comments (a whole line, or after a value
 * following a blank: "A=1 # why"; a leading UTF-8 byte order mark is skipped):
 *   repo_prefix, ref, dockerfile, platform, docker_host, networkmode, ca_file,
 *   runtimes (comma-separated allowlist), build_arg (repeatable K=V),
 *   lock_timeout (seconds), remote_timeout (seconds), build_stall_grace and
 *   build_timeout (durations; MOLECULE_BUILD_STALL_GRACE_S and
 *   MOLECULE_BUILD_CEILING_S apply only where the file sets none),
 *   failure_backoff (30s, 1m, 1h; 0 = off), gc_max_age, gc_max_size, gc_keep (defaults for
 *   gc's --max-age, --max-size and --keep; parsed here, at load, so a typo fails
 *   every command and doctor at once rather than the nightly gc),
 *   registry, registry_mode (pull, pull-push, off), registry_required (0/1),
 *   registry_user, registry_password, registry_stall (a duration: an engine pull or
 *   push with no real progress this long is cancelled; default 20s, 1s at least),
 *   fleet_marker_ttl (a duration: the lifetime of this host's build marker in
 *   the registry; default 0 = 2 x the runtime's last recorded build)
 * Environment: MOLCACHE_REPO_PREFIX (or MOLECULE_LOCAL_TEMPLATE_REPO_PREFIX),
 * MOLCACHE_REF, MOLCACHE_PLATFORM (or MOLECULE_IMAGE_PLATFORM), DOCKER_HOST,
 * MOLCACHE_CA_FILE (or GIT_SSL_CAINFO),
 * MOLCACHE_GIT_TOKEN (or MOLECULE_GITEA_TOKEN), MOLCACHE_RUNTIMES,
 * MOLCACHE_LOCK_TIMEOUT, MOLCACHE_REMOTE_TIMEOUT, MOLCACHE_NETWORK,
 * MOLCACHE_FAILURE_BACKOFF, MOLCACHE_REGISTRY, MOLCACHE_REGISTRY_MODE,
 * MOLCACHE_REGISTRY_USER, MOLCACHE_REGISTRY_PASSWORD, MOLCACHE_REGISTRY_STALL,
 * MOLCACHE_FLEET_MARKER_TTL,
 * MOLECULE_IMAGE_REGISTRY.
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
	int remote_timeout_s; /* a remote silent this long is given up; default 60 (connect: at most 30) */
	int64_t build_stall_ms;   /* cancel a build with no output this long; -1 = unset (default), 0 = off */
	int64_t build_timeout_ms; /* cancel a build running this long; -1 = unset (default), 0 = off */
	/* after a failed build, ensure of that key fails at once for this long,
	 * doubling per repeated failure up to MC_FAILURE_BACKOFF_CAP_MS; 0 = off */
	int64_t failure_backoff_ms;
	/* gc policy defaults; -1 = unset (gc's own default applies) */
	int64_t gc_max_age_ms;
	int64_t gc_max_size_bytes;
	int gc_keep;
	/* fleet sharing (docs/fleet.md): HOST[:PORT][/PATH], NULL = none */
	char *registry;
	int registry_mode;          /* MC_REGISTRY_* */
	int registry_required;      /* a registry failure is an error (exit 3), not a warning */
	char *registry_user;        /* secret-adjacent: never printed */
	char *registry_password;    /* secret: never printed, logged or stored */
	int64_t registry_stall_ms;  /* an engine pull or push reporting no progress this long is cancelled */
	int64_t fleet_marker_ttl_ms; /* the build marker's lifetime; 0 = from the recorded build times */
	char *compat_registry;      /* MOLECULE_IMAGE_REGISTRY: prebuilt templates, pull only */
	char *tag_namespace;        /* NULL = "molcache": <ns>/<runtime>:<key12> (store/names.h) */
};

/* --registry-mode: what ensure does with the registry. */
enum { MC_REGISTRY_PULL_PUSH = 0, MC_REGISTRY_PULL = 1, MC_REGISTRY_OFF = 2 };
/* "pull", "pull-push", "off" → MC_REGISTRY_*, or -1. */
int mc_config_registry_mode(const char *s);

#define MC_FAILURE_BACKOFF_DEFAULT_MS 60000LL
/* gc_keep and gc --keep: at most this many entries per runtime */
#define MC_GC_KEEP_MAX 1000000
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
#define MC_BUILD_STALL_DEFAULT_MS (4 * 60 * 1000)
#define MC_BUILD_TIMEOUT_DEFAULT_MS (12 * 60 * 1000)
/* The build gates in force: the setting, else the default. 0 = off. */
int64_t mc_config_build_stall_ms(const struct mc_config *c);
int64_t mc_config_build_timeout_ms(const struct mc_config *c);
/* A build network mode BuildKit accepts: default, host or none. */
int mc_config_network_ok(const char *mode);
/* Build args travel in the build request's URL, which the engine reads with
 * limits of its own (a 120 KB value failed there as "invalid byte in chunk
 * length"): molcache refuses more before any I/O. */
#define MC_BUILD_ARG_VALUE_MAX (32 * 1024)
#define MC_BUILD_ARGS_MAX (64 * 1024)
/* 0, or MC_EINVAL naming the argument (never its value, which may be a secret)
 * and the limit: a "K=V" without a name or '=', a value over
 * MC_BUILD_ARG_VALUE_MAX, or all "K=V" together over MC_BUILD_ARGS_MAX. */
int mc_config_build_args_check(const struct mc_strv *args);
/* mc_path_clean(path) would give a path. */
int mc_config_dockerfile_ok(const char *path);
/* Replaces a string field (frees the old value). */
void mc_config_set(char **field, const char *value);
void mc_config_release(struct mc_config *c);

#endif
