/* key.c — cache key derivation (docs/key-format.md): a canonical, versioned encoding of every input, hashed. */
#include "key.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

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

#define HASH_PREFIX "sha256:"

/* Is "K=…" already "K=sha256:<64 hex>"? */
static int arg_is_hashed(const char *arg)
{
	const char *eq = strchr(arg, '=');
	return eq && !strncmp(eq + 1, HASH_PREFIX, 7) && strlen(eq + 8) == 64 && mc_is_hex(eq + 8, 64);
}

/* "K=V" → "K=sha256:<hex of V>" appended to b. */
static void add_hashed(struct mc_buf *b, const char *arg)
{
	size_t kl = arg_keylen(arg);
	const char *v = arg[kl] ? arg + kl + 1 : "";
	char hex[65];

	mc_sha256_hex(hex, v, strlen(v));
	mc_buf_add(b, arg, kl);
	mc_buf_addf(b, "=" HASH_PREFIX "%s", hex);
}

/* Normalized args, each hashed unless already (hashed = 1 says they all are). */
static void args_hashed(struct mc_strv *out, const struct mc_strv *build_args, int hashed)
{
	struct mc_strv args = MC_STRV_INIT;
	struct mc_buf b = MC_BUF_INIT;

	args_normalize(&args, build_args);
	for (size_t i = 0; i < args.n; i++) {
		mc_buf_reset(&b);
		if (hashed)
			mc_buf_adds(&b, args.v[i]);
		else
			add_hashed(&b, args.v[i]);
		mc_strv_push(out, mc_buf_cstr(&b));
	}
	mc_buf_release(&b);
	mc_strv_release(&args);
}

static char *join_lines(const struct mc_strv *v)
{
	struct mc_buf b = MC_BUF_INIT;

	mc_buf_adds(&b, "");
	for (size_t i = 0; i < v->n; i++) {
		if (i)
			mc_buf_add(&b, "\n", 1);
		mc_buf_adds(&b, v->v[i]);
	}
	return mc_buf_detach(&b);
}

char *mc_key_build_args_canonical(const struct mc_strv *build_args)
{
	struct mc_strv args = MC_STRV_INIT;
	char *s;

	args_hashed(&args, build_args, 0);
	s = join_lines(&args);
	mc_strv_release(&args);
	return s;
}

char *mc_key_build_args_rehash(const char *lines)
{
	struct mc_strv raw = MC_STRV_INIT, out = MC_STRV_INIT;
	struct mc_buf b = MC_BUF_INIT;
	char *s;

	for (const char *p = lines ? lines : ""; *p;) {
		size_t n = strcspn(p, "\n");
		if (n)
			mc_strv_pushn(&raw, p, n);
		p += n + (p[n] ? 1 : 0);
	}
	for (size_t i = 0; i < raw.n; i++) {
		mc_buf_reset(&b);
		if (arg_is_hashed(raw.v[i]))
			mc_buf_adds(&b, raw.v[i]);
		else
			add_hashed(&b, raw.v[i]);
		mc_strv_push(&out, mc_buf_cstr(&b));
	}
	mc_strv_sort(&out);
	s = join_lines(&out);
	mc_buf_release(&b);
	mc_strv_release(&raw);
	mc_strv_release(&out);
	return s;
}

int mc_key_arg_looks_secret(const char *name, size_t len)
{
	static const char *const secret[] = { "apikey", "auth",	 "credential", "credentials", "key",
					      "password", "pword", "passwd",	 "secret",	"token" };
	int found = 0;

	for (size_t i = 0; i < len;) {
		size_t n = 0;
		while (i + n < len && name[i + n] != '_')
			n++;
		if (n == 6 && !strncasecmp(name + i, "public", 6))
			return 0;
		for (size_t k = 0; k < sizeof(secret) / sizeof(*secret) && !found; k++)
			found = strlen(secret[k]) == n && !strncasecmp(name + i, secret[k], n);
		i += n + 1;
	}
	return found;
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

static int derive(char out[65], const struct mc_key_inputs *in, int legacy)
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
	if (legacy)
		args_normalize(&args, in->build_args);
	else
		args_hashed(&args, in->build_args, in->args_hashed);

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

int mc_key_derive(char out[65], const struct mc_key_inputs *in) { return derive(out, in, 0); }

int mc_key_derive_legacy(char out[65], const struct mc_key_inputs *in) { return derive(out, in, 1); }
