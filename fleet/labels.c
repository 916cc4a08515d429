/* labels.c — molcache's image labels: a row's key inputs and the root id, written at build, read back. */
#include "fleet.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "../store/key.h"


static void label(struct mc_strv *out, const char *name, const char *value)
{
	char *s = mc_asprintf("%s=%s", name, value ? value : "");
	mc_strv_push(out, s);
	free(s);
}

void mc_labels_of_entry(struct mc_strv *out, const struct mc_entry *e, const char *root_id)
{
	char fmt[16];

	snprintf(fmt, sizeof(fmt), "%d", MC_KEY_FORMAT_VERSION);
	label(out, "molcache.key", e->key);
	label(out, "molcache.key-format", fmt);
	label(out, "molcache.root", root_id);
	label(out, "molcache.runtime", e->runtime);
	label(out, "molcache.repo-prefix", e->repo_prefix);
	label(out, "molcache.ref", e->ref);
	label(out, "molcache.commit", e->head_sha);
	label(out, "molcache.dockerfile", e->dockerfile_path);
	label(out, "molcache.dockerfile-hash", e->dockerfile_hash);
	label(out, "molcache.platform", e->platform);
	label(out, "molcache.build-args", e->build_args);
}

int mc_entry_from_image(struct mc_entry *out, const struct mc_image *image, const char *trees_dir, int64_t now_ms)
{
	static const char *const need[] = { "molcache.key",	   "molcache.key-format",      "molcache.runtime",
					    "molcache.repo-prefix", "molcache.ref",	       "molcache.commit",
					    "molcache.dockerfile",  "molcache.dockerfile-hash", "molcache.platform",
					    "molcache.build-args" };
	const char *v[sizeof(need) / sizeof(need[0])];
	const char *id = image->id[0] ? image->id : NULL;
	struct mc_strv args = MC_STRV_INIT;
	char fmt[16], key[65], *tree = NULL;
	struct stat st;
	int ret = 0;

	memset(out, 0, sizeof(*out));
	if (!id) {
		ret = mc_error_set(MC_EINVAL, "image without an id");
		goto done;
	}
	for (size_t i = 0; i < sizeof(need) / sizeof(need[0]); i++)
		if (!(v[i] = mc_image_label(image, need[i]))) {
			ret = mc_error_set(MC_EINVAL, "no label %s (built before labels carried every input)", need[i]);
			goto done;
		}
	snprintf(fmt, sizeof(fmt), "%d", MC_KEY_FORMAT_VERSION);
	if (strcmp(v[1], fmt)) {
		ret = mc_error_set(MC_EINVAL, "key format %.16s, not %s", v[1], fmt);
		goto done;
	}
	/* canonical build args: "K=V" lines */
	for (const char *p = v[9]; *p;) {
		size_t n = strcspn(p, "\n");
		if (n)
			mc_strv_pushn(&args, p, n);
		p += n + (p[n] ? 1 : 0);
	}
	{
		/* hashed values (docs/key-format.md), or an image labelled before
		 * they were: its values and the key of that time */
		struct mc_key_inputs in = { v[2], v[3], v[5], v[7], v[8], &args, 1 };
		int ok = mc_is_key(v[0]) && !mc_key_derive(key, &in) && !strcmp(key, v[0]);
		in.args_hashed = 0;
		if (!ok && args.n)
			ok = mc_is_key(v[0]) && !mc_key_derive_legacy(key, &in) && !strcmp(key, v[0]);
		mc_error_clear();
		if (!ok) {
			ret = mc_error_set(MC_EINVAL, "its labelled inputs do not give its key %.12s", v[0]);
			goto done;
		}
	}
	out->key = mc_strdup(v[0]);
	out->runtime = mc_strdup(v[2]);
	out->repo_prefix = mc_strdup(v[3]);
	out->ref = mc_strdup(v[4]);
	out->head_sha = mc_strdup(v[5]);
	out->dockerfile_path = mc_strdup(v[6]);
	out->dockerfile_hash = mc_strdup(v[7]);
	out->platform = mc_strdup(v[8]);
	out->build_args = mc_key_build_args_rehash(v[9]);
	out->image_tag = mc_asprintf("%s/%s:%.12s", mc_tag_namespace(), v[2], v[0]);
	out->image_id = mc_strdup(id);
	tree = mc_asprintf("%s/%s", trees_dir, v[0]);
	if (lstat(tree, &st) == 0 && S_ISDIR(st.st_mode)) {
		out->tree_path = tree;
		out->tree_bytes = mc_du(tree);
		tree = NULL;
	}
	out->state = MC_STATE_READY;
	out->image_bytes = image->size;
	out->created_ms = image->created * 1000;
	/* when it was last used is not in the engine: now keeps gc's age policy
	 * from evicting everything at once right after a repair */
	out->last_used_ms = now_ms;
done:
	if (ret)
		mc_entry_release(out);
	mc_strv_release(&args);
	free(tree);
	return ret;
}
