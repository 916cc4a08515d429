/* key.c — cache key derivation (docs/key-format.md): a canonical, versioned encoding of every input, hashed. */
#include "key.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define KEY_MAGIC "molcache-key"
#define DFI_MAGIC "molcache-dockerfile+ignore"

static size_t arg_keylen(const char *arg)
{
	const char *eq = strchr(arg, '=');
	return eq ? (size_t)(eq - arg) : strlen(arg);
}

/*
 * Sorted copy of build_args with one entry per key; the last entry given for
 * a key wins, as with repeated --build-arg flags to docker.
 */
static void args_normalize(struct mc_strv *out, const struct mc_strv *build_args)
{
	if (!build_args)
		return;
	for (size_t i = 0; i < build_args->n; i++) {
		const char *a = build_args->v[i];
		size_t kl = arg_keylen(a);
		int later = 0;
		for (size_t j = i + 1; j < build_args->n && !later; j++) {
			const char *b = build_args->v[j];
			later = arg_keylen(b) == kl && !memcmp(a, b, kl);
		}
		if (!later)
			mc_strv_push(out, a);
	}
	mc_strv_sort(out);
}

char *mc_key_build_args_canonical(const struct mc_strv *build_args)
{
	struct mc_strv args = MC_STRV_INIT;
	struct mc_buf b = MC_BUF_INIT;

	args_normalize(&args, build_args);
	mc_buf_adds(&b, "");
	for (size_t i = 0; i < args.n; i++) {
		if (i)
			mc_buf_add(&b, "\n", 1);
		mc_buf_adds(&b, args.v[i]);
	}
	mc_strv_release(&args);
	return mc_buf_detach(&b);
}

static int add_field(struct mc_buf *b, const char *s)
{
	size_t n = strlen(s);
	unsigned char len[4];

	if (n > UINT32_MAX)
		return mc_error_set(MC_EINVAL, "cache key: field longer than 4 GiB");
	len[0] = (unsigned char)(n >> 24);
	len[1] = (unsigned char)(n >> 16);
	len[2] = (unsigned char)(n >> 8);
	len[3] = (unsigned char)n;
	mc_buf_add(b, len, sizeof(len));
	mc_buf_add(b, s, n);
	return 0;
}

int mc_key_dockerfile_hash(char out[65], const char *dockerfile_sha, const char *ignore_path, const char *ignore_sha)
{
	struct mc_buf b = MC_BUF_INIT;
	int ret;

	out[0] = 0;
	mc_buf_adds(&b, DFI_MAGIC);
	if (!(ret = add_field(&b, dockerfile_sha)) && !(ret = add_field(&b, ignore_path)) &&
	    !(ret = add_field(&b, ignore_sha)))
		mc_sha256_hex(out, b.ptr, b.len);
	mc_buf_release(&b);
	return ret;
}

int mc_key_derive(char out[65], const struct mc_key_inputs *in)
{
	struct mc_strv args = MC_STRV_INIT;
	struct mc_buf b = MC_BUF_INIT;
	char num[32];
	int ret = 0;

	out[0] = 0;
	if (!in || !in->runtime || !in->repo_prefix || !in->head_sha || !in->dockerfile_hash ||
	    !in->platform) {
		ret = mc_error_set(MC_EINVAL, "cache key: an input is missing");
		goto done;
	}
	if (in->build_args) {
		for (size_t i = 0; i < in->build_args->n; i++) {
			const char *eq = strchr(in->build_args->v[i], '=');
			/* a value may be a secret, so messages never quote past the '=' */
			if (!eq) {
				ret = mc_error_set(MC_EINVAL, "build arg '%.*s': expected K=V",
						   (int)strnlen(in->build_args->v[i], 64),
						   in->build_args->v[i]);
				goto done;
			}
			if (eq == in->build_args->v[i]) {
				ret = mc_error_set(MC_EINVAL, "build arg: empty name before '='");
				goto done;
			}
		}
	}
	args_normalize(&args, in->build_args);

	snprintf(num, sizeof(num), "%d", MC_KEY_FORMAT_VERSION);
	mc_buf_adds(&b, KEY_MAGIC);
	if ((ret = add_field(&b, num)) ||
	    (ret = add_field(&b, in->runtime)) || (ret = add_field(&b, in->repo_prefix)) ||
	    (ret = add_field(&b, in->head_sha)) || (ret = add_field(&b, in->dockerfile_hash)) ||
	    (ret = add_field(&b, in->platform)))
		goto done;
	snprintf(num, sizeof(num), "%zu", args.n);
	if ((ret = add_field(&b, num)))
		goto done;
	for (size_t i = 0; i < args.n; i++)
		if ((ret = add_field(&b, args.v[i])))
			goto done;
	mc_sha256_hex(out, b.ptr, b.len);
done:
	mc_strv_release(&args);
	mc_buf_release(&b);
	return ret;
}

