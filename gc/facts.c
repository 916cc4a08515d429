/* facts.c — what the engine knows that the planner needs: each image's layers and their sizes. */
#include "gc.h"

#include "../engine/engine.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>


/* History entries that never make a layer (classic builder "#(nop)" steps,
 * BuildKit metadata instructions). Only asked about entries of 0 bytes. */
static int metadata_step(const char *created_by)
{
	static const char *const words[] = { "ENV ",	"LABEL ",  "CMD ",	  "ENTRYPOINT ",  "EXPOSE ",
					     "USER ",	"ARG ",	   "ONBUILD ",	  "STOPSIGNAL ",  "HEALTHCHECK ",
					     "SHELL ",	"VOLUME ", "MAINTAINER ", "WORKDIR " };
	if (!created_by)
		return 0;
	if (strstr(created_by, "#(nop)") && !strstr(created_by, "#(nop) ADD") && !strstr(created_by, "#(nop) COPY"))
		return 1;
	for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++)
		if (!strncmp(created_by, words[i], strlen(words[i])))
			return 1;
	return 0;
}

/*
 * Matches history sizes to the layers. /history lists one entry per build
 * step, newest first, with 0 bytes for steps that made no layer; a layer can
 * also be 0 bytes. Exact when the entries count the layers, or the sized
 * entries do; else metadata steps are set aside. 0 when matched.
 */
static int match_sizes(int64_t *sizes, size_t n_layers, const struct mc_image_step *hist, size_t h)
{
	size_t sized = 0, real = 0, k = 0;

	for (size_t i = 0; i < h; i++) {
		sized += hist[i].size > 0;
		real += hist[i].size > 0 || !metadata_step(hist[i].created_by);
	}
	int mode = h == n_layers ? 0 : sized == n_layers ? 1 : real == n_layers ? 2 : -1;
	if (mode < 0)
		return -1;
	for (size_t i = h; i-- > 0;) {
		int64_t sz = hist[i].size;
		int is_layer = mode == 0 || (mode == 1 && sz > 0) ||
			       (mode == 2 && (sz > 0 || !metadata_step(hist[i].created_by)));
		if (!is_layer)
			continue;
		if (k >= n_layers)
			return -1;
		sizes[k++] = sz > 0 ? sz : 0;
	}
	return k == n_layers ? 0 : -1;
}

int mc_gc_image_layers(struct mc_gc_layer **out, size_t *n, struct mc_engine *e, const char *image_id)
{
	struct mc_image img = MC_IMAGE_INIT;
	struct mc_image_step *hist = NULL;
	int64_t *sizes = NULL;
	struct mc_gc_layer *v = NULL;
	size_t len = 0, nh = 0, nl;
	int ret;

	*out = NULL;
	*n = 0;
	if ((ret = mc_engine_image_inspect(e, image_id, &img)))
		goto done;
	nl = img.layers.n;
	if ((ret = mc_engine_image_history(&hist, &nh, e, image_id)))
		goto done;
	sizes = mc_calloc(nl ? nl : 1, sizeof(*sizes));
	if (!nl || match_sizes(sizes, nl, hist, nh)) {
		/* unmatched: the whole image as one layer of its own */
		v = mc_calloc(1, sizeof(*v));
		snprintf(v[0].chain, sizeof(v[0].chain), "%s", image_id);
		v[0].bytes = img.size;
		len = 1;
		goto found;
	}
	v = mc_calloc(nl, sizeof(*v));
	/* chain ids as the engine's layer store names them:
	 * chain(0) = diff(0), chain(i) = sha256(chain(i-1) + " " + diff(i)) */
	for (size_t i = 0; i < nl; i++) {
		const char *diff = img.layers.v[i];
		if (i == 0) {
			snprintf(v[i].chain, sizeof(v[i].chain), "%s", diff);
		} else {
			char hex[65];
			char *in = mc_asprintf("%s %s", v[i - 1].chain, diff);
			mc_sha256_hex(hex, in, strlen(in));
			free(in);
			snprintf(v[i].chain, sizeof(v[i].chain), "sha256:%s", hex);
		}
		v[i].bytes = sizes[i];
	}
	len = nl;
found:
	*out = v;
	*n = len;
	v = NULL;
done:
	free(v);
	free(sizes);
	mc_image_steps_free(hist, nh);
	mc_image_release(&img);
	return ret;
}

char *mc_gc_layers_encode(const struct mc_gc_layer *v, size_t n)
{
	json_t *a = json_array();
	char *s;

	for (size_t i = 0; i < n; i++)
		json_array_append_new(a, json_pack("[s, I]", v[i].chain, (json_int_t)v[i].bytes));
	s = json_dumps(a, JSON_COMPACT);
	json_decref(a);
	return s ? s : mc_strdup("[]");
}

int mc_gc_layers_decode(struct mc_gc_layer **out, size_t *n, const char *text)
{
	json_t *a = text ? json_loads(text, 0, NULL) : NULL;
	struct mc_gc_layer *v = NULL;
	size_t len = json_array_size(a);
	int ret = 0;

	*out = NULL;
	*n = 0;
	if (!json_is_array(a) || !len) {
		ret = mc_error_set(MC_EINVAL, "remembered image layers: not a non-empty JSON array");
		goto done;
	}
	v = mc_calloc(len, sizeof(*v));
	for (size_t i = 0; i < len; i++) {
		json_t *l = json_array_get(a, i);
		const char *chain = json_string_value(json_array_get(l, 0));
		json_t *bytes = json_array_get(l, 1);
		if (json_array_size(l) != 2 || !chain || strlen(chain) >= sizeof(v[i].chain) || !json_is_integer(bytes) ||
		    json_integer_value(bytes) < 0) {
			ret = mc_error_set(MC_EINVAL, "remembered image layers: entry %zu is not [chain, bytes]", i);
			goto done;
		}
		snprintf(v[i].chain, sizeof(v[i].chain), "%s", chain);
		v[i].bytes = json_integer_value(bytes);
	}
	*out = v;
	*n = len;
	v = NULL;
done:
	free(v);
	json_decref(a);
	return ret;
}
