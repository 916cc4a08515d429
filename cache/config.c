/* config.c — settings: built-in defaults, the "key = value" config file, then the environment. */
#include "config.h"
#include "../store/names.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Keeps timeout_s * 1000 inside an int for the millisecond lock code. */
#define LOCK_TIMEOUT_MAX 2147483
/* A config file is a few lines; anything bigger is a mistake. */
#define FILE_MAX (1 << 20)

static const char *sys_getenv(const char *name) { return getenv(name); }
static int registry_ok(const char *s);

void mc_config_set(char **field, const char *value)
{
	char *old = *field;

	*field = value ? mc_strdup(value) : NULL;
	free(old);
}

void mc_config_init(struct mc_config *c)
{
	memset(c, 0, sizeof(*c));
	c->dockerfile = mc_strdup("Dockerfile");
	c->networkmode = mc_strdup("default");
	for (const char *const *r = mc_default_runtimes; *r; r++)
		mc_strv_push(&c->runtimes, *r);
	c->lock_timeout_s = 1800;
	c->remote_timeout_s = 60;
	c->registry_stall_ms = 20 * 1000;
	c->build_stall_ms = c->build_timeout_ms = -1;
	c->failure_backoff_ms = MC_FAILURE_BACKOFF_DEFAULT_MS;
	c->gc_max_age_ms = c->gc_max_size_bytes = -1;
	c->gc_keep = -1;
}

void mc_config_release(struct mc_config *c)
{
	if (!c)
		return;
	free(c->repo_prefix);
	free(c->ref);
	free(c->dockerfile);
	free(c->platform);
	free(c->docker_host);
	free(c->networkmode);
	free(c->ca_file);
	free(c->git_token);
	free(c->registry);
	free(c->registry_user);
	free(c->tag_namespace);
	if (c->registry_password)
		memset(c->registry_password, 0, strlen(c->registry_password));
	free(c->registry_password);
	free(c->compat_registry);
	mc_strv_release(&c->runtimes);
	mc_strv_release(&c->build_args);
	memset(c, 0, sizeof(*c));
}

char *mc_config_default_path(mc_getenv_fn env)
{
	const char *xdg, *home;

	if (!env)
		env = sys_getenv;
	xdg = env("XDG_CONFIG_HOME");
	/* the XDG spec says to ignore a relative XDG_CONFIG_HOME */
	if (xdg && xdg[0] == '/')
		return mc_asprintf("%s/molcache/config", xdg);
	home = env("HOME");
	if (home && *home)
		return mc_asprintf("%s/.config/molcache/config", home);
	return NULL;
}

/*
 * Parses a comma list of runtime names into a new allowlist. On error
 * (a bad name, or no name at all) sets the message and leaves out untouched.
 */
static int parse_runtimes(struct mc_strv *out, const char *list, const char *where)
{
	struct mc_strv rt = MC_STRV_INIT;
	const char *p = list;
	int ret = 0;

	while (*p) {
		size_t n = strcspn(p, ",");
		const char *s = p, *e = p + n;
		while (s < e && (*s == ' ' || *s == '\t'))
			s++;
		while (e > s && (e[-1] == ' ' || e[-1] == '\t'))
			e--;
		if (e > s) {
			mc_strv_pushn(&rt, s, (size_t)(e - s));
			if (mc_runtime_check(rt.v[rt.n - 1], NULL)) {
				ret = mc_error_wrap(MC_EINVAL, "%s", where);
				goto done;
			}
		}
		p += n + (p[n] == ',');
	}
	if (!rt.n) {
		ret = mc_error_set(MC_EINVAL, "%s: runtimes lists no runtime", where);
		goto done;
	}
	mc_strv_release(out);
	*out = rt;
	rt = (struct mc_strv)MC_STRV_INIT;
done:
	mc_strv_release(&rt);
	return ret;
}

static int parse_timeout(int *out, const char *s, const char *where)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (s[0] < '0' || s[0] > '9' || *end || errno || v > LOCK_TIMEOUT_MAX)
		return mc_error_set(MC_EINVAL, "%s: lock timeout '%.32s' is not a number of seconds (0..%d)",
				    where, s, LOCK_TIMEOUT_MAX);
	*out = (int)v;
	return 0;
}

/* Seconds, 1 or more: a remote that sends nothing for that long is given up. */
static int parse_remote_timeout(int *out, const char *s, const char *where)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (s[0] < '0' || s[0] > '9' || *end || errno || v < 1 || v > LOCK_TIMEOUT_MAX)
		return mc_error_set(MC_EINVAL, "%s: remote timeout '%.32s' is not a number of seconds (1..%d)",
				    where, s, LOCK_TIMEOUT_MAX);
	*out = (int)v;
	return 0;
}

/* registry_stall: a duration of 1 s or more. No "off": every wait on a
 * registry is bounded. */
static int parse_stall(int64_t *out, const char *s, const char *where, const char *name)
{
	int64_t ms;

	if (mc_parse_duration(&ms, s) || ms < 1000)
		return mc_error_set(MC_EINVAL, "%s: %s '%.32s': want a duration of 1s or more, like 20s or 2m", where,
				    name, s);
	*out = ms;
	return 0;
}

/* A build gate: a duration ("4m", "90s"; a plain number is seconds), 0 = off. */
static int parse_gate(int64_t *out, const char *s, const char *where, const char *name)
{
	int64_t ms;

	if (mc_parse_duration(&ms, s))
		return mc_error_set(MC_EINVAL, "%s: %s '%.32s': want a duration like 90s, 4m or 1h (0: off)", where,
				    name, s);
	*out = ms;
	return 0;
}

int64_t mc_config_build_stall_ms(const struct mc_config *c)
{
	return c->build_stall_ms >= 0 ? c->build_stall_ms : MC_BUILD_STALL_DEFAULT_MS;
}

int64_t mc_config_build_timeout_ms(const struct mc_config *c)
{
	return c->build_timeout_ms >= 0 ? c->build_timeout_ms : MC_BUILD_TIMEOUT_DEFAULT_MS;
}

int mc_config_network_ok(const char *mode)
{
	/* the modes BuildKit accepts on the build API; anything else fails only inside a build */
	return mode && (!strcmp(mode, "default") || !strcmp(mode, "host") || !strcmp(mode, "none"));
}

/* failure_backoff: a duration (0 turns failure memory off), at most a day. */
static int parse_backoff(int64_t *out, const char *s, const char *where)
{
	int64_t ms;

	if (mc_parse_duration(&ms, s) || ms > MC_FAILURE_BACKOFF_MAX_MS)
		return mc_error_set(MC_EINVAL, "%s: failure backoff '%.32s': want a duration like 30s, 1m or 1h (0: off)",
				    where, s);
	*out = ms;
	return 0;
}

/* gc_max_age (a duration), gc_max_size (a size), gc_keep (a count); an empty
 * value unsets the default. */
static int parse_gc(struct mc_config *c, const char *key, const char *s, const char *where)
{
	char *end;
	long n;

	if (!strncmp(key, "gc_max_age", 10)) {
		if (*s && mc_parse_duration(&c->gc_max_age_ms, s))
			return mc_error_set(MC_EINVAL, "%s: gc_max_age '%.32s': want a duration like 12h, 7d or 2w", where, s);
		if (!*s)
			c->gc_max_age_ms = -1;
	} else if (!strncmp(key, "gc_max_size", 11)) {
		if (*s && mc_parse_size(&c->gc_max_size_bytes, s))
			return mc_error_set(MC_EINVAL, "%s: gc_max_size '%.32s': want a size like 500M or 20G", where, s);
		if (!*s)
			c->gc_max_size_bytes = -1;
	} else {
		n = strtol(s, &end, 10);
		if (*s && (*end || n < 0 || n > MC_GC_KEEP_MAX))
			return mc_error_set(MC_EINVAL, "%s: gc_keep '%.32s': want a count (0..%d)", where, s, MC_GC_KEEP_MAX);
		c->gc_keep = *s ? (int)n : -1;
	}
	return 0;
}

/* One "K=V" whose '=' is at eq (after a name): its value under the cap. A value
 * may be a secret: the message names the argument, never quotes the value. */
static int build_arg_value_check(const char *s, const char *eq)
{
	size_t name = (size_t)(eq - s), n = strlen(eq + 1);
	if (n <= MC_BUILD_ARG_VALUE_MAX)
		return 0;
	mc_error_set(MC_EINVAL, "build arg '%.*s': value of %zu bytes, over the limit of %d",
		     (int)(name < 64 ? name : 64), s, n, MC_BUILD_ARG_VALUE_MAX);
	mc_error_hint("pass a large value another way (a file in the template, or a secret mount)");
	return MC_EINVAL;
}

int mc_config_build_args_check(const struct mc_strv *args)
{
	size_t total = 0;

	for (size_t i = 0; i < args->n; i++) {
		const char *s = args->v[i], *eq = strchr(s, '=');
		if (!eq || eq == s)
			return mc_error_set(MC_EINVAL, "build arg %zu: want KEY=VALUE", i + 1);
		if (build_arg_value_check(s, eq))
			return MC_EINVAL;
		total += strlen(s);
	}
	if (total > MC_BUILD_ARGS_MAX) {
		mc_error_set(MC_EINVAL, "build args: %zu bytes together, over the limit of %d", total, MC_BUILD_ARGS_MAX);
		mc_error_hint("pass large values another way (a file in the template, or a secret mount)");
		return MC_EINVAL;
	}
	return 0;
}

static int parse_build_arg(struct mc_strv *out, const char *s, const char *where)
{
	const char *eq = strchr(s, '=');

	/* the value may be a secret: never quote it */
	if (!eq || eq == s)
		return mc_error_set(MC_EINVAL, "%s: build_arg needs the form K=V", where);
	if (build_arg_value_check(s, eq))
		return mc_error_wrap(MC_EINVAL, "%s", where);
	mc_strv_push(out, s);
	return 0;
}

/* Key text for a message: printable, cut short, since a confused line may hold anything. */
static char *shown_key(const char *s, size_t n)
{
	char *p = mc_strndup(s, n < 40 ? n : 40);
	for (char *q = p; *q; q++)
		if ((unsigned char)*q < 0x20 || *q == 0x7f)
			*q = '?';
	return p;
}

int mc_config_platform_ok(const char *p)
{
	int parts = 1;
	size_t len = 0;

	for (; *p; p++) {
		if (*p == '/') {
			if (!len || ++parts > 3)
				return 0;
			len = 0;
		} else if (strchr("abcdefghijklmnopqrstuvwxyz0123456789_.-", *p)) {
			len++;
		} else {
			return 0;
		}
	}
	return len && parts >= 2;
}

int mc_config_dockerfile_ok(const char *p)
{
	char *clean = mc_path_clean(p);
	free(clean);
	return clean != NULL;
}

/* An empty value puts a string setting back to its built-in default. */
static void set_or_default(char **field, const char *value, const char *dflt)
{
	mc_config_set(field, *value ? value : dflt);
}

static int apply_line(struct mc_config *c, const char *key, size_t klen, const char *val, const char *where)
{
#define KEY_IS(k) (klen == sizeof(k) - 1 && !memcmp(key, k, klen))
	int ret = 0;

	if (KEY_IS("repo_prefix"))
		set_or_default(&c->repo_prefix, val, NULL);
	else if (KEY_IS("ref"))
		set_or_default(&c->ref, val, NULL);
	else if (KEY_IS("dockerfile") && *val && !mc_config_dockerfile_ok(val))
		ret = mc_error_set(MC_EINVAL, "%s: dockerfile '%.64s': want a relative path inside the template", where, val);
	else if (KEY_IS("dockerfile")) {
		char *clean = mc_path_clean(val);
		set_or_default(&c->dockerfile, clean ? clean : "", "Dockerfile");
		free(clean);
	}
	else if (KEY_IS("platform") && *val && !mc_config_platform_ok(val))
		ret = mc_error_set(MC_EINVAL, "%s: platform '%.64s': want os/arch or os/arch/variant", where, val);
	else if (KEY_IS("platform"))
		set_or_default(&c->platform, val, NULL);
	else if (KEY_IS("docker_host"))
		set_or_default(&c->docker_host, val, NULL);
	else if (KEY_IS("networkmode") && *val && !mc_config_network_ok(val))
		ret = mc_error_set(MC_EINVAL, "%s: networkmode '%.64s': want default, host or none", where, val);
	else if (KEY_IS("networkmode"))
		set_or_default(&c->networkmode, val, "default");
	else if (KEY_IS("ca_file"))
		set_or_default(&c->ca_file, val, NULL);
	else if (KEY_IS("runtimes"))
		ret = parse_runtimes(&c->runtimes, val, where);
	else if (KEY_IS("build_arg"))
		ret = parse_build_arg(&c->build_args, val, where);
	else if (KEY_IS("lock_timeout"))
		ret = parse_timeout(&c->lock_timeout_s, val, where);
	else if (KEY_IS("remote_timeout"))
		ret = parse_remote_timeout(&c->remote_timeout_s, val, where);
	else if (KEY_IS("build_stall_grace"))
		ret = parse_gate(&c->build_stall_ms, val, where, "build_stall_grace");
	else if (KEY_IS("build_timeout"))
		ret = parse_gate(&c->build_timeout_ms, val, where, "build_timeout");
	else if (KEY_IS("registry_stall"))
		ret = parse_stall(&c->registry_stall_ms, val, where, "registry_stall");
	else if (KEY_IS("fleet_marker_ttl"))
		ret = parse_gate(&c->fleet_marker_ttl_ms, val, where, "fleet_marker_ttl");
	else if (KEY_IS("failure_backoff"))
		ret = parse_backoff(&c->failure_backoff_ms, val, where);
	else if (KEY_IS("gc_max_age") || KEY_IS("gc_max_size") || KEY_IS("gc_keep"))
		ret = parse_gc(c, key, val, where);
	else if (KEY_IS("registry") && *val && !registry_ok(val))
		ret = mc_error_set(MC_EINVAL, "%s: registry '%.64s': want HOST[:PORT][/PATH]", where, val);
	else if (KEY_IS("registry"))
		set_or_default(&c->registry, val, NULL);
	else if (KEY_IS("registry_mode") && (c->registry_mode = mc_config_registry_mode(val)) < 0) {
		c->registry_mode = MC_REGISTRY_PULL_PUSH;
		ret = mc_error_set(MC_EINVAL, "%s: registry_mode '%.64s': want pull, pull-push or off", where, val);
	}
	else if (KEY_IS("registry_mode"))
		;
	else if (KEY_IS("registry_required") && strcmp(val, "0") && strcmp(val, "1"))
		ret = mc_error_set(MC_EINVAL, "%s: registry_required '%.64s': want 0 or 1", where, val);
	else if (KEY_IS("registry_required"))
		c->registry_required = val[0] == '1';
	else if (KEY_IS("registry_user"))
		set_or_default(&c->registry_user, val, NULL);
	else if (KEY_IS("tag_namespace"))
		set_or_default(&c->tag_namespace, val, NULL);
	else if (KEY_IS("registry_password"))
		set_or_default(&c->registry_password, val, NULL);
	else {
		char *k = shown_key(key, klen);
		ret = mc_error_set(MC_EINVAL, "%s: unknown key '%s'", where, k);
		free(k);
	}
	return ret;
#undef KEY_IS
}

static int is_blank(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f'; }

int mc_config_load_buffer(struct mc_config *c, const char *name, const char *text, size_t len)
{
	struct mc_buf val = MC_BUF_INIT;
	size_t pos = 0;
	int lineno = 0, ret = 0;

	/* editors on some systems start a UTF-8 file with a byte order mark */
	if (len >= 3 && !memcmp(text, "\xef\xbb\xbf", 3))
		pos = 3;
	while (pos < len) {
		const char *line = text + pos, *eq, *nl = memchr(line, '\n', len - pos);
		size_t n = nl ? (size_t)(nl - line) : len - pos, klen;
		char *where = NULL;

		pos += n + (nl ? 1 : 0);
		lineno++;
		while (n && is_blank(*line)) {
			line++;
			n--;
		}
		while (n && is_blank(line[n - 1]))
			n--;
		if (!n || line[0] == '#')
			continue;
		where = mc_asprintf("config '%s' line %d", name, lineno);
		if (memchr(line, 0, n)) {
			ret = mc_error_set(MC_EINVAL, "%s: contains a NUL byte", where);
		} else if (!(eq = memchr(line, '=', n))) {
			ret = mc_error_set(MC_EINVAL, "%s: expected 'key = value'", where);
		} else {
			const char *v = eq + 1;
			klen = (size_t)(eq - line);
			while (klen && is_blank(line[klen - 1]))
				klen--;
			while (v < line + n && is_blank(*v))
				v++;
			size_t vlen = (size_t)(line + n - v);
			const char *close = vlen >= 2 && (*v == '"' || *v == '\'') ? memchr(v + 1, *v, vlen - 1) : NULL;
			const char *rest = close ? close + 1 : NULL;
			while (rest && rest < v + vlen && is_blank(*rest))
				rest++;
			if (close && (rest == v + vlen || *rest == '#')) {
				/* value wrapped in matching quotes, as shell-minded users write it: the
				 * quotes go, and so does a comment after them */
				vlen = (size_t)(close - v) - 1;
				v++;
			} else {
				/* " # …" after a value is a comment, as in shell; a '#' inside a
				 * word (A=x#y) is the value's */
				for (size_t i = 1; i < vlen; i++)
					if (v[i] == '#' && is_blank(v[i - 1])) {
						vlen = i;
						break;
					}
				while (vlen && is_blank(v[vlen - 1]))
					vlen--;
			}
			mc_buf_reset(&val);
			mc_buf_add(&val, v, vlen);
			if (!klen)
				ret = mc_error_set(MC_EINVAL, "%s: no key before '='", where);
			else
				ret = apply_line(c, line, klen, mc_buf_cstr(&val), where);
		}
		free(where);
		if (ret)
			goto done;
	}
done:
	mc_buf_release(&val);
	return ret;
}

int mc_config_load_file(struct mc_config *c, const char *path)
{
	struct mc_buf text = MC_BUF_INIT;
	char chunk[8192];
	FILE *f = NULL;
	size_t n;
	int ret = 0;

	/* O_NONBLOCK: a FIFO in the file's place must not block every command */
	int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	struct stat st;
	if (fd < 0) {
		if (errno != ENOENT) {
			char *what = mc_asprintf("config '%s'", path);
			ret = mc_error_errno(what);
			free(what);
		}
		goto done;
	}
	if (fstat(fd, &st) || !S_ISREG(st.st_mode)) {
		close(fd);
		ret = mc_error_set(MC_EINVAL, "config '%s': not a regular file (%s)", path,
				   S_ISDIR(st.st_mode) ? "a directory" : S_ISFIFO(st.st_mode) ? "a fifo" : "a special file");
		mc_error_hint("the config file must be a regular file (or a symlink to one)");
		goto done;
	}
	if (!(f = fdopen(fd, "r"))) {
		close(fd);
		char *what = mc_asprintf("config '%s'", path);
		ret = mc_error_errno(what);
		free(what);
		goto done;
	}
	mc_buf_adds(&text, "");
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0) {
		if (n > FILE_MAX - text.len) {
			ret = mc_error_set(MC_EINVAL, "config '%s': larger than %d bytes", path, FILE_MAX);
			goto done;
		}
		mc_buf_add(&text, chunk, n);
	}
	if (ferror(f)) {
		char *what = mc_asprintf("config '%s'", path);
		ret = mc_error_errno(what);
		free(what);
		goto done;
	}
	ret = mc_config_load_buffer(c, path, text.ptr, text.len);
done:
	if (f)
		fclose(f);
	mc_buf_release(&text);
	return ret;
}

/* HOST[:PORT][/PATH], with an optional http:// or https:// in front: no
 * spaces, no credentials (they go in registry_user/registry_password). */
static int registry_ok(const char *s)
{
	const char *p = !strncmp(s, "http://", 7) ? s + 7 : !strncmp(s, "https://", 8) ? s + 8 : s;
	size_t n = strcspn(p, "/");

	if (!n || n > 255 || strpbrk(s, " \t@?#") || strlen(s) > 512)
		return 0;
	for (const char *q = p; *q; q++)
		if ((unsigned char)*q < 0x21 || (unsigned char)*q > 0x7e)
			return 0;
	return 1;
}

int mc_config_registry_mode(const char *s)
{
	if (!strcmp(s, "pull-push"))
		return MC_REGISTRY_PULL_PUSH;
	if (!strcmp(s, "pull"))
		return MC_REGISTRY_PULL;
	if (!strcmp(s, "off"))
		return MC_REGISTRY_OFF;
	return -1;
}

static const char *env_first(mc_getenv_fn env, const char *a, const char *b);

/* The registry's settings from the environment (docs/fleet.md). */
static int apply_registry_env(struct mc_config *c, mc_getenv_fn env)
{
	const char *v;
	int mode;

	if ((v = env_first(env, "MOLCACHE_REGISTRY", NULL))) {
		if (!registry_ok(v))
			return mc_error_set(MC_EINVAL, "environment MOLCACHE_REGISTRY: '%.64s': want HOST[:PORT][/PATH]", v);
		mc_config_set(&c->registry, v);
	}
	if ((v = env_first(env, "MOLCACHE_REGISTRY_MODE", NULL))) {
		if ((mode = mc_config_registry_mode(v)) < 0)
			return mc_error_set(MC_EINVAL, "environment MOLCACHE_REGISTRY_MODE: '%.64s': want pull, pull-push or off", v);
		c->registry_mode = mode;
	}
	if ((v = env_first(env, "MOLCACHE_REGISTRY_USER", NULL)))
		mc_config_set(&c->registry_user, v);
	if ((v = env_first(env, "MOLCACHE_TAG_NAMESPACE", NULL)))
		mc_config_set(&c->tag_namespace, v);
	if ((v = env_first(env, "MOLCACHE_REGISTRY_PASSWORD", NULL)))
		mc_config_set(&c->registry_password, v);
	if ((v = env_first(env, "MOLECULE_IMAGE_REGISTRY", NULL))) {
		if (!registry_ok(v))
			return mc_error_set(MC_EINVAL, "environment MOLECULE_IMAGE_REGISTRY: '%.64s': want HOST[:PORT][/PATH]", v);
		mc_config_set(&c->compat_registry, v);
	}
	return 0;
}

/* The first of names set to a non-empty value, or NULL. */
static const char *env_first(mc_getenv_fn env, const char *a, const char *b)
{
	const char *v = env(a);

	if (v && *v)
		return v;
	v = b ? env(b) : NULL;
	return v && *v ? v : NULL;
}

int mc_config_apply_env(struct mc_config *c, mc_getenv_fn env)
{
	const char *v;
	int ret = 0;

	if (!env)
		env = sys_getenv;
	if ((v = env_first(env, "MOLCACHE_REPO_PREFIX", "MOLECULE_LOCAL_TEMPLATE_REPO_PREFIX")))
		mc_config_set(&c->repo_prefix, v);
	if ((v = env_first(env, "MOLCACHE_REF", NULL)))
		mc_config_set(&c->ref, v);
	if ((v = env_first(env, "MOLCACHE_PLATFORM", "MOLECULE_IMAGE_PLATFORM"))) {
		if (!mc_config_platform_ok(v)) {
			ret = mc_error_set(MC_EINVAL, "environment MOLCACHE_PLATFORM (or MOLECULE_IMAGE_PLATFORM): "
						      "'%.64s': want os/arch or os/arch/variant", v);
			goto done;
		}
		mc_config_set(&c->platform, v);
	}
	if ((v = env_first(env, "MOLCACHE_CA_FILE", "GIT_SSL_CAINFO")))
		mc_config_set(&c->ca_file, v);
	if ((v = env_first(env, "DOCKER_HOST", NULL)))
		mc_config_set(&c->docker_host, v);
	if ((v = env_first(env, "MOLCACHE_GIT_TOKEN", "MOLECULE_GITEA_TOKEN")))
		mc_config_set(&c->git_token, v);
	if ((v = env_first(env, "MOLCACHE_RUNTIMES", NULL)) &&
	    (ret = parse_runtimes(&c->runtimes, v, "environment MOLCACHE_RUNTIMES")))
		goto done;
	if ((v = env_first(env, "MOLCACHE_LOCK_TIMEOUT", NULL)) &&
	    (ret = parse_timeout(&c->lock_timeout_s, v, "environment MOLCACHE_LOCK_TIMEOUT")))
		goto done;
	if ((v = env_first(env, "MOLCACHE_REMOTE_TIMEOUT", NULL)) &&
	    (ret = parse_remote_timeout(&c->remote_timeout_s, v, "environment MOLCACHE_REMOTE_TIMEOUT")))
		goto done;
	if ((v = env_first(env, "MOLCACHE_REGISTRY_STALL", NULL)) &&
	    (ret = parse_stall(&c->registry_stall_ms, v, "environment", "MOLCACHE_REGISTRY_STALL")))
		goto done;
	if ((v = env_first(env, "MOLCACHE_FLEET_MARKER_TTL", NULL)) &&
	    (ret = parse_gate(&c->fleet_marker_ttl_ms, v, "environment", "MOLCACHE_FLEET_MARKER_TTL")))
		goto done;
	/* the provisioner's variables, in seconds; the config file comes first */
	if ((v = env_first(env, "MOLECULE_BUILD_STALL_GRACE_S", NULL)) && c->build_stall_ms < 0 &&
	    (ret = parse_gate(&c->build_stall_ms, v, "environment", "MOLECULE_BUILD_STALL_GRACE_S")))
		goto done;
	if ((v = env_first(env, "MOLECULE_BUILD_CEILING_S", NULL)) && c->build_timeout_ms < 0 &&
	    (ret = parse_gate(&c->build_timeout_ms, v, "environment", "MOLECULE_BUILD_CEILING_S")))
		goto done;
	if ((v = env_first(env, "MOLCACHE_NETWORK", NULL))) {
		if (!mc_config_network_ok(v)) {
			ret = mc_error_set(MC_EINVAL, "environment MOLCACHE_NETWORK: '%.64s': want default, host or none", v);
			goto done;
		}
		mc_config_set(&c->networkmode, v);
	}
	if ((v = env_first(env, "MOLCACHE_FAILURE_BACKOFF", NULL)) &&
	    (ret = parse_backoff(&c->failure_backoff_ms, v, "environment MOLCACHE_FAILURE_BACKOFF")))
		goto done;
	if ((ret = apply_registry_env(c, env)))
		goto done;
done:
	return ret;
}
