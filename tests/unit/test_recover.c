/* test_recover.c — image labels carry every input of a row: labels → row round trip, and refusals. */
#include "../../store/key.h"
#include "../../fleet/fleet.h" /* the labels (fleet/labels.c) that recover reads rows from */
#include "t.h"

/* An image as mc_engine_image_list() gives it, labelled like build() does. */
static struct mc_image image_of(const struct mc_entry *e, const char *root)
{
	struct mc_image im = MC_IMAGE_INIT;

	mc_labels_of_entry(&im.labels, e, root);
	mc_strv_sort(&im.labels);
	snprintf(im.id, sizeof(im.id), "sha256:1111");
	im.created = 1700000000;
	im.size = 4242;
	return im;
}

/* Replaces (value) or drops (NULL) label name. */
static void set_label(struct mc_image *im, const char *name, const char *value)
{
	struct mc_strv kept = MC_STRV_INIT;
	size_t n = strlen(name);

	for (size_t i = 0; i < im->labels.n; i++)
		if (strncmp(im->labels.v[i], name, n) || im->labels.v[i][n] != '=')
			mc_strv_push(&kept, im->labels.v[i]);
	if (value) {
		char *kv = mc_asprintf("%s=%s", name, value);
		mc_strv_push(&kept, kv);
		free(kv);
	}
	mc_strv_sort(&kept);
	mc_strv_release(&im->labels);
	im->labels = kept;
}

int main(void)
{
	struct mc_strv args = MC_STRV_INIT;
	struct mc_entry in = { 0 }, out = { 0 };
	char key[65];
	struct mc_image im;

	mc_strv_push(&args, "B=two words");
	mc_strv_push(&args, "A=1");
	struct mc_key_inputs ki = { "codex", "https://git.example/t-", "0123456789012345678901234567890123456789",
				    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "linux/arm64", &args };
	CHECK_INT(mc_key_derive(key, &ki), 0);
	in.key = key;
	in.runtime = "codex";
	in.repo_prefix = "https://git.example/t-";
	in.ref = "v2";
	in.head_sha = "0123456789012345678901234567890123456789";
	in.dockerfile_path = "build/Dockerfile";
	in.dockerfile_hash = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
	in.platform = "linux/arm64";
	in.build_args = mc_key_build_args_canonical(&args);

	/* the round trip: every input back, the key checked */
	im = image_of(&in, "feedbeef");
	CHECK_STR(mc_image_label(&im, "molcache.root"), "feedbeef");
	CHECK_INT(mc_entry_from_image(&out, &im, "/nonexistent/trees", 99), 0);
	CHECK_STR(out.key, key);
	CHECK_STR(out.runtime, "codex");
	CHECK_STR(out.repo_prefix, "https://git.example/t-");
	CHECK_STR(out.ref, "v2");
	CHECK_STR(out.head_sha, in.head_sha);
	CHECK_STR(out.dockerfile_path, "build/Dockerfile");
	CHECK_STR(out.dockerfile_hash, in.dockerfile_hash);
	CHECK_STR(out.platform, "linux/arm64");
	CHECK_STR(out.build_args, "A=sha256:6b86b273ff34fce19d6b804eff5a3f5747ada4eaa22f1d49c01e52ddb7875b4b\nB=sha256:a03f1d611645eb53ad16c1af546ca0792dc884505bab57ede80f4dad6b911d3a"); /* never the values */
	CHECK_STR(out.image_id, "sha256:1111");
	CHECK(!strncmp(out.image_tag, "molcache/codex:", 15) && !strncmp(out.image_tag + 15, key, 12));
	CHECK(out.tree_path == NULL);
	CHECK_INT(out.state, MC_STATE_READY);
	CHECK_INT(out.image_bytes, 4242);
	CHECK_INT(out.created_ms, 1700000000000LL);
	CHECK_INT(out.last_used_ms, 99);
	mc_entry_release(&out);

	/* an image labelled before values were hashed: the values and the key of
	 * that time; the row keeps only their hashes */
	char legacy[65];
	CHECK_INT(mc_key_derive_legacy(legacy, &ki), 0);
	mc_image_release(&im);
	in.key = legacy;
	im = image_of(&in, "feedbeef");
	set_label(&im, "molcache.build-args", "A=1\nB=two words");
	CHECK_INT(mc_entry_from_image(&out, &im, "/nonexistent", 1), 0);
	CHECK_STR(out.key, legacy);
	CHECK_STR(out.build_args, "A=sha256:6b86b273ff34fce19d6b804eff5a3f5747ada4eaa22f1d49c01e52ddb7875b4b\nB=sha256:a03f1d611645eb53ad16c1af546ca0792dc884505bab57ede80f4dad6b911d3a");
	mc_entry_release(&out);
	mc_image_release(&im);
	in.key = key;
	im = image_of(&in, "feedbeef");

	/* a label that does not give the key back */
	set_label(&im, "molcache.platform", "linux/amd64");
	CHECK_INT(mc_entry_from_image(&out, &im, "/nonexistent", 1), MC_EINVAL);
	CHECK(strstr(mc_error_msg(), "do not give its key") != NULL);
	CHECK(out.key == NULL);
	mc_image_release(&im);

	/* an image from before the labels carried every input */
	im = image_of(&in, "feedbeef");
	set_label(&im, "molcache.dockerfile-hash", NULL);
	CHECK_INT(mc_entry_from_image(&out, &im, "/nonexistent", 1), MC_EINVAL);
	CHECK(strstr(mc_error_msg(), "no label molcache.dockerfile-hash") != NULL);
	mc_image_release(&im);

	/* another key format */
	im = image_of(&in, "feedbeef");
	set_label(&im, "molcache.key-format", "0");
	CHECK_INT(mc_entry_from_image(&out, &im, "/nonexistent", 1), MC_EINVAL);
	CHECK(strstr(mc_error_msg(), "key format 0") != NULL);
	mc_image_release(&im);

	free(in.build_args);
	mc_strv_release(&args);
	return t_done();
}
