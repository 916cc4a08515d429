/* images.c — image facts from the engine: inspect, list, history, tag, remove, and the JSON of an image into struct mc_image. */
#include "engine_int.h"

#include <stdlib.h>
#include <string.h>

/* A RepoTags entry in dockerd's familiar form: Podman's compat API qualifies
 * names ("docker.io/molcache/x:k", "docker.io/library/busybox:latest") where
 * dockerd writes "molcache/x:k" and "busybox:latest". */
static const char *familiar(const char *t)
{
	if (!strncmp(t, "docker.io/", 10)) {
		t += 10;
		if (!strncmp(t, "library/", 8))
			t += 8;
	}
	return t;
}

/* An image object of inspect (Config.Labels, Created a string, RootFS) or of
 * a list (Labels, Created a number) into *out (zeroed first). -1 without a
 * usable Id. */
static int image_from_json(struct mc_image *out, json_t *o)
{
	const char *id = json_string_value(json_object_get(o, "Id"));
	json_t *labels = json_object_get(o, "Labels"), *created = json_object_get(o, "Created"), *v;
	const char *k;
	size_t i;

	memset(out, 0, sizeof(*out));
	if (!id || strlen(id) >= sizeof(out->id))
		return -1;
	memcpy(out->id, id, strlen(id) + 1);
	out->size = (int64_t)json_integer_value(json_object_get(o, "Size"));
	out->created = json_is_string(created) ? mc_rfc3339_ms(json_string_value(created)) / 1000
					       : (int64_t)json_integer_value(created);
	json_array_foreach(json_object_get(o, "RepoTags"), i, v)
		if (json_is_string(v))
			mc_strv_push(&out->tags, familiar(json_string_value(v)));
	if (!json_is_object(labels))
		labels = json_object_get(json_object_get(o, "Config"), "Labels");
	json_object_foreach(labels, k, v)
		if (json_is_string(v)) {
			char *kv = mc_asprintf("%s=%s", k, json_string_value(v));
			mc_strv_push(&out->labels, kv);
			free(kv);
		}
	mc_strv_sort(&out->labels);
	json_array_foreach(json_object_get(json_object_get(o, "RootFS"), "Layers"), i, v)
		if (json_is_string(v))
			mc_strv_push(&out->layers, json_string_value(v));
	return 0;
}

int mc_engine_image_inspect(struct mc_engine *e, const char *name, struct mc_image *out)
{
	struct xfer x = { 0 };
	struct mc_buf url = MC_BUF_INIT;
	struct mc_image img = MC_IMAGE_INIT;
	char *n = engine_esc(e, name);
	json_t *root = NULL;
	long status;
	int ret;

	mc_buf_addf(&url, "%s/images/%s/json", e->base, n);
	ret = engine_perform(e, &x, "GET", url.ptr, NULL, T_SHORT, &status);
	if (ret)
		goto done;
	if (status == 404) {
		ret = mc_error_set(MC_ENOTFOUND, "image '%s': not found", name);
		goto done;
	}
	if (status != 200) {
		char *m = engine_answer_message(&x, status);
		ret = mc_error_set(MC_ERR, "inspect of image '%s': %s", name, m);
		free(m);
		goto done;
	}
	root = json_loadb(mc_buf_cstr(&x.body), x.body.len, 0, NULL);
	if (image_from_json(&img, root)) {
		ret = mc_error_set(MC_ERR, "inspect of image '%s': no image id in the answer", name);
		goto done;
	}
	if (out) {
		mc_image_release(out);
		*out = img;
		memset(&img, 0, sizeof(img));
	}
done:
	mc_image_release(&img);
	json_decref(root);
	free(n);
	mc_buf_release(&url);
	engine_xfer_release(&x);
	return ret;
}

void mc_image_release(struct mc_image *img)
{
	if (!img)
		return;
	mc_strv_release(&img->tags);
	mc_strv_release(&img->labels);
	mc_strv_release(&img->layers);
	memset(img, 0, sizeof(*img));
}

const char *mc_image_label(const struct mc_image *img, const char *name)
{
	size_t n = strlen(name);

	for (size_t i = 0; i < img->labels.n; i++)
		if (!strncmp(img->labels.v[i], name, n) && img->labels.v[i][n] == '=')
			return img->labels.v[i] + n + 1;
	return NULL;
}

int mc_engine_image_tag(struct mc_engine *e, const char *src, const char *repo, const char *tag)
{
	struct xfer x = { 0 };
	struct mc_buf url = MC_BUF_INIT;
	char *n = engine_esc(e, src);
	long status;
	int ret;

	mc_buf_addf(&url, "%s/images/%s/tag", e->base, n);
	engine_add_query(e, &url, "repo", repo);
	if (tag && *tag)
		engine_add_query(e, &url, "tag", tag);
	ret = engine_perform(e, &x, "POST", url.ptr, NULL, T_SHORT, &status);
	if (ret)
		goto done;
	if (status == 404) {
		ret = mc_error_set(MC_ENOTFOUND, "tag of image '%s': not found", src);
	} else if (status != 201 && status != 200) {
		char *m = engine_answer_message(&x, status);
		ret = mc_error_set(MC_ERR, "tag of image '%s' as '%s:%s': %s", src, repo,
				   tag && *tag ? tag : "latest", m);
		free(m);
	}
done:
	free(n);
	mc_buf_release(&url);
	engine_xfer_release(&x);
	return ret;
}

int mc_engine_image_remove(struct mc_engine *e, const char *name, int force)
{
	struct xfer x = { 0 };
	struct mc_buf url = MC_BUF_INIT;
	char *n = engine_esc(e, name);
	long status;
	int ret;

	mc_buf_addf(&url, "%s/images/%s", e->base, n);
	if (force)
		mc_buf_adds(&url, "?force=1");
	ret = engine_perform(e, &x, "DELETE", url.ptr, NULL, T_SHORT, &status);
	if (ret)
		goto done;
	if (status == 404) {
		ret = mc_error_set(MC_ENOTFOUND, "image '%s': not found", name);
	} else if (status == 409) {
		char *m = engine_answer_message(&x, status);
		ret = mc_error_set(MC_ELOCKED, "removal of image '%s': %s", name, m);
		free(m);
	} else if (status != 200) {
		char *m = engine_answer_message(&x, status);
		ret = mc_error_set(MC_ERR, "removal of image '%s': %s", name, m);
		free(m);
	}
done:
	free(n);
	mc_buf_release(&url);
	engine_xfer_release(&x);
	return ret;
}

int mc_engine_image_list(struct mc_image **out, size_t *n, struct mc_engine *e, const struct mc_strv *labels, int all)
{
	struct mc_buf path = MC_BUF_INIT;
	struct mc_image *v = NULL;
	json_t *list = NULL, *o;
	size_t i, len = 0;
	int ret;

	*out = NULL;
	*n = 0;
	mc_buf_adds(&path, all ? "/images/json?all=1" : "/images/json");
	if (labels && labels->n) {
		json_t *filter = json_object(), *a = json_array();
		char *text, *q;
		for (i = 0; i < labels->n; i++)
			json_array_append_new(a, json_string(labels->v[i]));
		json_object_set_new(filter, "label", a);
		/* the label values (a prefix URL, build args) may hold anything:
		 * jansson writes the JSON, curl escapes it for the query */
		if (!(text = json_dumps(filter, JSON_COMPACT)))
			MC_BUG("json_dumps failed");
		q = engine_esc(e, text);
		mc_buf_addf(&path, "%cfilters=%s", all ? '&' : '?', q);
		free(q);
		free(text);
		json_decref(filter);
	}
	if ((ret = engine_get_json(&list, e, mc_buf_cstr(&path))))
		goto done;
	if (!json_is_array(list)) {
		ret = mc_error_set(MC_EENGINE, "engine GET /images/json: not a list");
		goto done;
	}
	v = mc_calloc(json_array_size(list) + 1, sizeof(*v));
	json_array_foreach(list, i, o)
		len += !image_from_json(&v[len], o);
	*out = v;
	*n = len;
	v = NULL;
done:
	mc_images_free(v, len);
	json_decref(list);
	mc_buf_release(&path);
	return ret;
}

void mc_images_free(struct mc_image *v, size_t n)
{
	for (size_t i = 0; v && i < n; i++)
		mc_image_release(&v[i]);
	free(v);
}

int mc_engine_image_history(struct mc_image_step **out, size_t *n, struct mc_engine *e, const char *name)
{
	struct mc_image_step *v = NULL;
	char *q = engine_esc(e, name), *path = mc_asprintf("/images/%s/history", q);
	json_t *list = NULL, *o;
	size_t i, len = 0;
	int ret;

	*out = NULL;
	*n = 0;
	if ((ret = engine_get_json(&list, e, path)))
		goto done;
	if (!json_is_array(list)) {
		ret = mc_error_set(MC_EENGINE, "history of image '%s': not a list", name);
		goto done;
	}
	len = json_array_size(list);
	v = mc_calloc(len + 1, sizeof(*v));
	json_array_foreach(list, i, o) {
		const char *by = json_string_value(json_object_get(o, "CreatedBy"));
		v[i].size = (int64_t)json_integer_value(json_object_get(o, "Size"));
		v[i].created_by = by ? mc_strdup(by) : NULL;
	}
	*out = v;
	*n = len;
	v = NULL;
done:
	mc_image_steps_free(v, len);
	json_decref(list);
	free(path);
	free(q);
	return ret;
}

void mc_image_steps_free(struct mc_image_step *v, size_t n)
{
	for (size_t i = 0; v && i < n; i++)
		free(v[i].created_by);
	free(v);
}

int mc_engine_image_json(json_t **out, struct mc_engine *e, const char *name)
{
	char *n = engine_esc(e, name), *path = mc_asprintf("/images/%s/json", n);
	int ret = engine_get_json(out, e, path);

	free(path);
	free(n);
	return ret;
}
