/* build.c — POST /build: the context streamed up, JSON lines read back (stream text, BuildKit trace records, the image id), gates, cancel. */
#include "engine_int.h"

#include <stdlib.h>
#include <string.h>

#define LOG_LINES 40

/* Build output: the last LOG_LINES text lines, a ring of owned strings. */
struct build_state {
	const struct mc_build_req *req;
	char id[80];
	char *error;
	char *ring[LOG_LINES];
	size_t head, count;
};

static void ring_push(struct build_state *bs, const char *s, size_t n)
{
	size_t slot;

	while (n && (s[n - 1] == '\r' || s[n - 1] == '\n'))
		n--;
	if (!n)
		return;
	slot = (bs->head + bs->count) % LOG_LINES;
	if (bs->count == LOG_LINES) {
		free(bs->ring[bs->head]);
		bs->head = (bs->head + 1) % LOG_LINES;
		slot = (bs->head + LOG_LINES - 1) % LOG_LINES;
	} else {
		bs->count++;
	}
	bs->ring[slot] = mc_strndup(s, n);
}

static void ring_text(struct build_state *bs, const char *text)
{
	const char *p = text, *nl;

	while ((nl = strchr(p, '\n'))) {
		ring_push(bs, p, (size_t)(nl - p));
		p = nl + 1;
	}
	ring_push(bs, p, strlen(p));
}

static int build_line(struct xfer *x, json_t *obj, const char *raw, size_t n)
{
	struct build_state *bs = x->ud;
	const struct mc_build_req *req = bs->req;
	const char *m, *s, *id;
	json_t *aux;

	if (!obj) {
		ring_push(bs, raw, n);
		return 0;
	}
	m = engine_line_error(obj);
	if (m) {
		if (!bs->error)
			bs->error = mc_strdup(m);
		ring_text(bs, m);
		if (req->progress)
			req->progress(req->ud, 'e', m);
		return 0;
	}
	s = json_string_value(json_object_get(obj, "stream"));
	if (s) {
		ring_text(bs, s);
		if (req->progress)
			req->progress(req->ud, 's', s);
	}
	aux = json_object_get(obj, "aux");
	id = json_string_value(json_object_get(obj, "id"));
	if (json_is_string(aux) && id && !strcmp(id, "moby.buildkit.trace")) {
		if (req->progress)
			req->progress(req->ud, 't', json_string_value(aux));
	} else if (json_is_object(aux)) {
		const char *img = json_string_value(json_object_get(aux, "ID"));
		if (img && *img && strlen(img) < sizeof(bs->id))
			memcpy(bs->id, img, strlen(img) + 1);
	}
	return 0;
}

/* POST /build/cancel?id=: 0 when the engine answered 200. */
static int build_cancel(struct mc_engine *e, const char *id)
{
	struct xfer x = { .finish = 1 };
	struct mc_buf url = MC_BUF_INIT;
	long status = 0;
	int ret;

	mc_buf_addf(&url, "%s/build/cancel", e->base);
	engine_add_query(e, &url, "id", id);
	ret = engine_perform(e, &x, "POST", url.ptr, NULL, T_SHORT, &status);
	if (!ret && status != 200)
		ret = MC_EENGINE;
	mc_buf_release(&url);
	engine_xfer_release(&x);
	return ret;
}

/* "K=V" strings as a compact JSON object, for buildargs and labels. */
static int kv_json(char **out, const struct mc_strv *kv, const char *what)
{
	json_t *o = json_object();
	size_t i;
	int ret = 0;

	*out = NULL;
	for (i = 0; i < kv->n; i++) {
		const char *eq = strchr(kv->v[i], '=');
		char *k;
		if (!eq || eq == kv->v[i]) {
			ret = mc_error_set(MC_EINVAL, "%s '%s': not KEY=VALUE", what, kv->v[i]);
			goto done;
		}
		k = mc_strndup(kv->v[i], (size_t)(eq - kv->v[i]));
		json_object_set_new(o, k, json_string(eq + 1));
		free(k);
	}
	*out = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
	if (!*out)
		ret = mc_error_set(MC_EINVAL, "%s: not valid UTF-8", what);
done:
	json_decref(o);
	return ret;
}

int mc_engine_build(struct mc_engine *e, const struct mc_build_req *req, char out_id[80],
		    struct mc_buf *log)
{
	struct xfer x = { 0 };
	struct mc_buf url = MC_BUF_INIT;
	struct build_state bs = { 0 };
	struct curl_slist *h = NULL;
	char *args = NULL, *labels = NULL;
	const char *subject = req->tags && req->tags[0] ? req->tags[0] : req->dockerfile;
	long status;
	size_t i;
	int ret = 0;

	out_id[0] = 0;
	bs.req = req;
	if (!subject)
		subject = "Dockerfile";
	if (req->build_args && req->build_args->n && (ret = kv_json(&args, req->build_args, "build arg")))
		goto done;
	if (req->labels && req->labels->n && (ret = kv_json(&labels, req->labels, "label")))
		goto done;

	mc_buf_addf(&url, "%s/build", e->base);
	for (i = 0; req->tags && req->tags[i]; i++)
		engine_add_query(e, &url, "t", req->tags[i]);
	if (req->dockerfile && *req->dockerfile)
		engine_add_query(e, &url, "dockerfile", req->dockerfile);
	engine_add_query(e, &url, "version", e->buildkit && !req->classic ? "2" : "1");
	engine_add_query(e, &url, "pull", "0");
	engine_add_query(e, &url, "rm", "1");
	engine_add_query(e, &url, "forcerm", "1");
	if (req->networkmode && *req->networkmode)
		engine_add_query(e, &url, "networkmode", req->networkmode);
	if (req->build_id && *req->build_id)
		engine_add_query(e, &url, "buildid", req->build_id);
	if (req->platform && *req->platform)
		engine_add_query(e, &url, "platform", req->platform);
	if (args)
		engine_add_query(e, &url, "buildargs", args);
	if (labels)
		engine_add_query(e, &url, "labels", labels);
	if (req->cache_from && req->cache_from->n) {
		json_t *a = json_array();
		char *text;
		for (i = 0; i < req->cache_from->n; i++)
			json_array_append_new(a, json_string(req->cache_from->v[i]));
		text = json_dumps(a, JSON_COMPACT);
		engine_add_query(e, &url, "cachefrom", text);
		free(text);
		json_decref(a);
	}

	/* x-tar always (else Go parses the body as a form); no 100-continue stall. */
	h = curl_slist_append(h, "Content-Type: application/x-tar");
	h = curl_slist_append(h, "Transfer-Encoding: chunked");
	h = curl_slist_append(h, "Expect:");
	x.ctx = req->context;
	x.on_line = build_line;
	x.ud = &bs;
	x.stall_ms = req->stall_ms;
	x.ceiling_ms = req->ceiling_ms;
	ret = engine_perform(e, &x, "POST", url.ptr, h, T_STREAM, &status);
	if (ret && x.gate != GATE_NONE) {
		/* the request is closed, which cancels the build's context in the
		 * engine; cancelling by id as well confirms the engine let it go */
		char *msg = mc_strdup(mc_error_msg());
		int cancelled = req->build_id && *req->build_id && !build_cancel(e, req->build_id);
		if (x.gate == GATE_INTR)
			ret = mc_error_set(MC_EINTR, "build of '%s': %s (%s)", subject, msg,
					   cancelled ? "cancelled in the engine" : "request closed");
		else
			ret = mc_error_set(MC_EBUILD, "build of '%s': %s (%s; %s)", subject, msg,
					   x.gate == GATE_STALL ? "build_stall_grace" : "build_timeout",
					   cancelled ? "cancelled in the engine" : "request closed");
		free(msg);
		goto done;
	}
	if (ret)
		goto done;
	if (status != 200) {
		char *m = engine_answer_message(&x, status);
		ring_text(&bs, m);
		ret = mc_error_set(MC_EBUILD, "build of '%s': %s", subject, m);
		free(m);
		goto done;
	}
	if (bs.error) {
		ret = mc_error_set(MC_EBUILD, "build of '%s': %s", subject, bs.error);
		goto done;
	}
	if (!bs.id[0]) {
		ret = mc_error_set(MC_EBUILD, "build of '%s': the engine reported no image id", subject);
		goto done;
	}
	memcpy(out_id, bs.id, sizeof(bs.id));
done:
	for (i = 0; i < bs.count; i++) {
		char *line = bs.ring[(bs.head + i) % LOG_LINES];
		if (log)
			mc_buf_addf(log, "%s\n", line);
		free(line);
	}
	curl_slist_free_all(h);
	free(bs.error);
	free(args);
	free(labels);
	mc_buf_release(&url);
	engine_xfer_release(&x);
	return ret;
}
