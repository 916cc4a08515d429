/* pull.c — pulls and pushes the engine runs against a registry: /images/create and /images/{name}/push with X-Registry-Auth. */
#include "engine_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/*
 * What counts as progress in a pull's or push's stream, for the stall bound
 * (mc_engine_set_transfer_idle): a status a layer had not reported yet, or more
 * bytes for a (layer, status) than it ever reported. The engine's own retries
 * are not progress: "Retrying in N seconds" counts down once a second, and a
 * retried upload sends again bytes it already reported.
 */
struct progress_seen {
	struct mc_strv keys; /* "<id>\t<status>" (or the raw line, without a status) */
	int64_t *most;       /* per key: the most bytes reported */
};

static int is_progress(struct progress_seen *s, json_t *obj, const char *raw, size_t n)
{
	const char *st = json_string_value(json_object_get(obj, "status"));
	const char *id = json_string_value(json_object_get(obj, "id"));
	json_int_t cur = json_integer_value(json_object_get(json_object_get(obj, "progressDetail"), "current"));
	char *key;
	long i;

	if (st && !strncmp(st, "Retrying in ", 12))
		return 0;
	key = st ? mc_asprintf("%s\t%s", id ? id : "", st) : mc_strndup(raw, n);
	i = mc_strv_find(&s->keys, key);
	if (i < 0) {
		mc_strv_push(&s->keys, key);
		s->most = mc_realloc(s->most, s->keys.n * sizeof(*s->most));
		s->most[s->keys.n - 1] = cur;
		free(key);
		return 1;
	}
	free(key);
	if (cur <= s->most[i])
		return 0;
	s->most[i] = cur;
	return 1;
}

static void progress_seen_release(struct progress_seen *s)
{
	mc_strv_release(&s->keys);
	free(s->most);
}

/* The stall clock restarts only on real progress (engine_perform leaves it to
 * on_line when x->line_progress is set). */
static void note_progress(struct xfer *x, struct progress_seen *s, json_t *obj, const char *raw, size_t n)
{
	if (is_progress(s, obj, raw, n))
		x->progress_ms = mc_mono_ms();
}

struct pull_state {
	const char *ref;
	char *error;
	struct progress_seen seen;
};

static int pull_line(struct xfer *x, json_t *obj, const char *raw, size_t n)
{
	struct pull_state *ps = x->ud;
	const char *m = obj ? engine_line_error(obj) : NULL;

	if (m && !ps->error)
		ps->error = mc_strdup(m);
	note_progress(x, &ps->seen, obj, raw, n);
	return 0;
}

/* Splits ref for /images/create: the ':' of a registry port is not a tag. */
static void split_ref(const char *ref, char **name, char **tag)
{
	const char *slash = strrchr(ref, '/');
	const char *colon = strrchr(slash ? slash : ref, ':');

	if (strchr(ref, '@')) {
		*name = mc_strdup(ref);
		*tag = NULL;
	} else if (colon) {
		*name = mc_strndup(ref, (size_t)(colon - ref));
		*tag = mc_strdup(colon + 1);
	} else {
		*name = mc_strdup(ref);
		*tag = mc_strdup("latest");
	}
}

/* Pulls and pushes carry X-Registry-Auth always ("{}" without credentials:
 * 20.10 answers 400 to a push without it) and no Content-Type. *auth owns the
 * credential's header line: the caller wipes and frees it. */
static struct curl_slist *registry_auth_headers(struct curl_slist *h, char **auth, const char *xauth)
{
	*auth = mc_asprintf("X-Registry-Auth: %s", xauth && *xauth ? xauth : "e30=");
	h = curl_slist_append(h, *auth);
	return curl_slist_append(h, "Content-Type:");
}

/* xauth: the X-Registry-Auth value (NULL: the empty "{}"), never logged. */
static int pull(struct mc_engine *e, const char *ref, const char *platform, const char *xauth)
{
	struct xfer x = { 0 };
	struct mc_buf url = MC_BUF_INIT;
	struct pull_state ps = { ref, NULL };
	struct curl_slist *h = NULL;
	char *name = NULL, *tag = NULL, *auth = NULL;
	long status;
	int ret;

	split_ref(ref, &name, &tag);
	if (!*name || (tag && !*tag)) {
		ret = mc_error_set(MC_EINVAL, "pull of '%s': not an image reference", ref);
		goto done;
	}
	mc_buf_addf(&url, "%s/images/create", e->base);
	engine_add_query(e, &url, "fromImage", name);
	if (tag)
		engine_add_query(e, &url, "tag", tag);
	if (platform && *platform)
		engine_add_query(e, &url, "platform", platform);
	h = registry_auth_headers(h, &auth, xauth);
	x.on_line = pull_line;
	x.ud = &ps;
	x.stall_ms = e->transfer_idle_ms; /* the engine sends progress lines while bytes move */
	x.line_progress = 1;
	ret = engine_perform(e, &x, "POST", url.ptr, h, T_STREAM, &status);
	if (ret)
		goto done;
	if (status != 200) {
		char *m = engine_answer_message(&x, status);
		ret = mc_error_set(status == 404 ? MC_ENOTFOUND : MC_ERR, "pull of '%s': %s", ref, m);
		free(m);
		goto done;
	}
	if (ps.error) {
		ret = mc_error_set(MC_ERR, "pull of '%s': %s", ref, ps.error);
		goto done;
	}
done:
	curl_slist_free_all(h);
	if (auth)
		memset(auth, 0, strlen(auth));
	free(auth);
	free(ps.error);
	progress_seen_release(&ps.seen);
	free(name);
	free(tag);
	mc_buf_release(&url);
	engine_xfer_release(&x);
	return ret;
}

int mc_engine_image_pull(struct mc_engine *e, const char *ref, const char *platform)
{
	return pull(e, ref, platform, NULL);
}

int mc_engine_image_pull_auth(struct mc_engine *e, const char *ref, const char *platform, const char *xauth)
{
	return pull(e, ref, platform, xauth);
}

struct push_state {
	char *error;
	char digest[80];
	mc_push_progress_fn progress;
	void *ud;
	int64_t last_ms;
	struct progress_seen seen;
};

/* The digest in a push's closing status line, "<tag>: digest: sha256:<hex> size: <n>":
 * dockerd also sends it as aux.Digest, Podman (4.3's compat API) only this way. */
static void status_digest(char digest[80], const char *st)
{
	const char *d = st ? strstr(st, ": digest: ") : NULL;
	size_t n;

	if (!d)
		return;
	d += strlen(": digest: ");
	n = strcspn(d, " ");
	if (n == 7 + 64 && !strncmp(d, "sha256:", 7) && strspn(d + 7, "0123456789abcdef") == 64)
		snprintf(digest, 80, "%.*s", (int)n, d);
}

static int push_line(struct xfer *x, json_t *obj, const char *raw, size_t n)
{
	struct push_state *ps = x->ud;
	const char *m = obj ? engine_line_error(obj) : NULL, *st, *id;
	json_t *detail, *aux;

	note_progress(x, &ps->seen, obj, raw, n);
	if (m) {
		if (!ps->error)
			ps->error = mc_strdup(m);
		return 0;
	}
	aux = json_object_get(obj, "aux");
	if (json_is_string(json_object_get(aux, "Digest")))
		snprintf(ps->digest, sizeof(ps->digest), "%s", json_string_value(json_object_get(aux, "Digest")));
	st = json_string_value(json_object_get(obj, "status"));
	if (!ps->digest[0])
		status_digest(ps->digest, st);
	id = json_string_value(json_object_get(obj, "id"));
	detail = json_object_get(obj, "progressDetail");
	if (!st || !ps->progress)
		return 0;
	if (json_integer_value(json_object_get(detail, "total")) > 0) {
		/* byte counts arrive many times a second: one line a second is enough */
		int64_t now = mc_mono_ms();
		if (now - ps->last_ms < 1000)
			return 0;
		ps->last_ms = now;
		char *t = mc_asprintf("%s%s%s %lld/%lld bytes", id ? id : "", id ? ": " : "", st,
				      (long long)json_integer_value(json_object_get(detail, "current")),
				      (long long)json_integer_value(json_object_get(detail, "total")));
		ps->progress(ps->ud, t);
		free(t);
	} else {
		char *t = mc_asprintf("%s%s%s", id ? id : "", id ? ": " : "", st);
		ps->progress(ps->ud, t);
		free(t);
	}
	return 0;
}

int mc_engine_image_push(struct mc_engine *e, const char *name, const char *tag, const char *xauth,
			 mc_push_progress_fn progress, void *ud, char digest[80])
{
	struct xfer x = { 0 };
	struct mc_buf url = MC_BUF_INIT;
	struct push_state ps = { .progress = progress, .ud = ud };
	struct curl_slist *h = NULL;
	char *n = engine_esc(e, name), *auth = NULL;
	long status;
	int ret;

	if (digest)
		digest[0] = 0;
	mc_buf_addf(&url, "%s/images/%s/push", e->base, n);
	engine_add_query(e, &url, "tag", tag);
	h = registry_auth_headers(h, &auth, xauth);
	x.on_line = push_line;
	x.ud = &ps;
	x.stall_ms = e->transfer_idle_ms;
	x.line_progress = 1;
	if ((ret = engine_perform(e, &x, "POST", url.ptr, h, T_STREAM, &status)))
		goto done;
	if (status != 200) {
		char *m = engine_answer_message(&x, status);
		ret = mc_error_set(status == 404 ? MC_ENOTFOUND : MC_ERR, "push of '%s:%s': %s", name, tag, m);
		free(m);
		goto done;
	}
	if (ps.error) {
		ret = mc_error_set(MC_ERR, "push of '%s:%s': %s", name, tag, ps.error);
		goto done;
	}
	if (digest)
		memcpy(digest, ps.digest, sizeof(ps.digest));
done:
	curl_slist_free_all(h);
	if (auth)
		memset(auth, 0, strlen(auth));
	free(auth);
	free(ps.error);
	progress_seen_release(&ps.seen);
	free(n);
	mc_buf_release(&url);
	engine_xfer_release(&x);
	return ret;
}
