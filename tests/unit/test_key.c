/* test_key.c — pins the cache key encoding (docs/key-format.md) with vectors and proves its properties. */
#include <string.h>

#include "store/key.h"
#include "t.h"

#define HEAD "0123456789abcdef0123456789abcdef01234567"
#define PREFIX "https://git.example.com/molecule/template-"
/* sha256("FROM alpine:3.19\n") */
#define DFH "bb31b87c25bb1c4fd052ee37e99b450589c140bf65b028916376f0bea1eae960"

static void strv_of(struct mc_strv *sv, const char *const *args)
{
	for (; args && *args; args++)
		mc_strv_push(sv, *args);
}

/* mc_key_derive over inputs with args given as a NULL-terminated list (NULL = no build_args at all). */
static int derive(char out[65], const char *rt, const char *prefix, const char *head, const char *dfh,
		  const char *platform, const char *const *args)
{
	struct mc_strv sv = MC_STRV_INIT;
	struct mc_key_inputs in = { rt, prefix, head, dfh, platform, args ? &sv : NULL };
	int r;

	strv_of(&sv, args);
	r = mc_key_derive(out, &in);
	mc_strv_release(&sv);
	return r;
}

static void test_sha256_hex(void)
{
	char h[65];

	/* FIPS 180-2 vectors */
	mc_sha256_hex(h, "", 0);
	CHECK_STR(h, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
	mc_sha256_hex(h, "abc", 3);
	CHECK_STR(h, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	mc_sha256_hex(h, "FROM alpine:3.19\n", 17);
	CHECK_STR(h, DFH);
}

/*
 * The vectors were computed by this implementation and, independently, by a
 * Python hashlib/struct encoder written from docs/key-format.md; both agree.
 */
static void test_vectors(void)
{
	static const char *const args2[] = { "B=2", "A=1", NULL };
	static const char *const args3[] = { "A=1", "B=2", "A=3", NULL };
	static const char *const args5[] = { "X=a=b", "HTTP_PROXY=", "A_B=\xc3\xa9", NULL };
	static const char *const none[] = { NULL };
	char k[65];

	CHECK_INT(derive(k, "claude-code", PREFIX, HEAD, DFH, "linux/amd64", NULL), 0);
	CHECK_STR(k, "09bcfc84192e6fc031950f926ccb24f6a3ff7a4053e1d2670bbeea15b19d71f6");
	/* an empty vector encodes exactly like no vector */
	CHECK_INT(derive(k, "claude-code", PREFIX, HEAD, DFH, "linux/amd64", none), 0);
	CHECK_STR(k, "09bcfc84192e6fc031950f926ccb24f6a3ff7a4053e1d2670bbeea15b19d71f6");
	CHECK_INT(derive(k, "claude-code", PREFIX, HEAD, DFH, "linux/amd64", args2), 0);
	CHECK_STR(k, "10def9177a563e713dc92a1c79fec2af91d485e45603d9d9eb80e9976471f510");
	CHECK_INT(derive(k, "claude-code", PREFIX, HEAD, DFH, "linux/amd64", args3), 0);
	CHECK_STR(k, "95b84aa757bd16115cbb252472195467a7c98c2963a1fd7a6a423afcefa1b70b");
	CHECK_INT(derive(k, "", "", "", "", "", NULL), 0);
	CHECK_STR(k, "99f370c781b307a2e6c7a86cf61c623bfc5d163b1beb865a10e2c0f401e0fb59");
	CHECK_INT(derive(k, "codex", "file:///srv/git/", "fedcba9876543210fedcba9876543210fedcba98",
			 "0000000000000000000000000000000000000000000000000000000000000000",
			 "linux/arm64/v8", args5), 0);
	CHECK_STR(k, "999298e71a6c128a319ffc56a821988e0e03b27fdfd32df869d5308f1837d1f8");
}

/* The key before build-arg values were hashed (rows of that time are still
 * served): the old vectors, unchanged. */
static void test_legacy_vectors(void)
{
	static const char *const args2[] = { "B=2", "A=1", NULL };
	static const char *const args5[] = { "X=a=b", "HTTP_PROXY=", "A_B=\xc3\xa9", NULL };
	struct mc_strv sv = MC_STRV_INIT;
	char k[65];

	strv_of(&sv, args2);
	struct mc_key_inputs in = { "claude-code", PREFIX, HEAD, DFH, "linux/amd64", &sv, 0 };
	CHECK_INT(mc_key_derive_legacy(k, &in), 0);
	CHECK_STR(k, "0485cddac3ff3bbe70e5c91b99c160a1228277b2aed37e7217e58e48c266c682");
	mc_strv_release(&sv);
	strv_of(&sv, args5);
	in = (struct mc_key_inputs){ "codex", "file:///srv/git/", "fedcba9876543210fedcba9876543210fedcba98",
				     "0000000000000000000000000000000000000000000000000000000000000000",
				     "linux/arm64/v8", &sv, 0 };
	CHECK_INT(mc_key_derive_legacy(k, &in), 0);
	CHECK_STR(k, "384a1fa70cc64837b6840c67af572e475de655b99a910d5fbd3b260191d63d6b");
	/* no build args: both derivations agree */
	in.build_args = NULL;
	char k2[65];
	CHECK_INT(mc_key_derive_legacy(k, &in), 0);
	CHECK_INT(mc_key_derive(k2, &in), 0);
	CHECK_STR(k, k2);
	mc_strv_release(&sv);
}

/* Hashed args read back (index, labels) give the same key as the values. */
static void test_hashed_inputs(void)
{
	static const char *const raw[] = { "B=2", "A=1", NULL };
	static const char *const hashed[] = { "A=sha256:6b86b273ff34fce19d6b804eff5a3f5747ada4eaa22f1d49c01e52ddb7875b4b", "B=sha256:d4735e3a265e16eee03f59718b9b5d03019c07d8b6c51f90da3a666eec13ab35", NULL };
	struct mc_strv a = MC_STRV_INIT, b = MC_STRV_INIT;
	char k1[65], k2[65];

	strv_of(&a, raw);
	strv_of(&b, hashed);
	struct mc_key_inputs in = { "claude-code", PREFIX, HEAD, DFH, "linux/amd64", &a, 0 };
	CHECK_INT(mc_key_derive(k1, &in), 0);
	in.build_args = &b;
	in.args_hashed = 1;
	CHECK_INT(mc_key_derive(k2, &in), 0);
	CHECK_STR(k1, k2);
	mc_strv_release(&a);
	mc_strv_release(&b);
}

static void test_rehash_and_secret_names(void)
{
	char *s = mc_key_build_args_rehash("B=2\nA=sha256:6b86b273ff34fce19d6b804eff5a3f5747ada4eaa22f1d49c01e52ddb7875b4b");
	CHECK_STR(s, "A=sha256:6b86b273ff34fce19d6b804eff5a3f5747ada4eaa22f1d49c01e52ddb7875b4b\nB=sha256:d4735e3a265e16eee03f59718b9b5d03019c07d8b6c51f90da3a666eec13ab35");
	free(s);
	s = mc_key_build_args_rehash("");
	CHECK_STR(s, "");
	free(s);
	static const char *const secret[] = { "NPM_TOKEN", "token", "AWS_SECRET_ACCESS_KEY", "db_password", "AUTH",
					      "GITHUB_APIKEY", "MY_CREDENTIALS", NULL };
	static const char *const plain[] = { "RUNTIME_VERSION", "MONKEY", "PUBLIC_KEY", "TOKENS", "HTTP_PROXY",
					     "KEYBOARD", "", NULL };
	for (const char *const *n = secret; *n; n++)
		CHECK(mc_key_arg_looks_secret(*n, strlen(*n)));
	for (const char *const *n = plain; *n; n++)
		CHECK(!mc_key_arg_looks_secret(*n, strlen(*n)));
}

/* Hashes the encoding written out byte by byte, so the encoder itself is checked, not only its hash. */
static void test_encoding_by_hand(void)
{
	static const char enc[] =
		"molcache-key"
		"\x00\x00\x00\x01" "1"
		"\x00\x00\x00\x0b" "claude-code"
		"\x00\x00\x00\x2a" PREFIX
		"\x00\x00\x00\x28" HEAD
		"\x00\x00\x00\x40" DFH
		"\x00\x00\x00\x0b" "linux/amd64"
		"\x00\x00\x00\x01" "2"
		"\x00\x00\x00\x49" "A=sha256:6b86b273ff34fce19d6b804eff5a3f5747ada4eaa22f1d49c01e52ddb7875b4b"
		"\x00\x00\x00\x49" "B=sha256:d4735e3a265e16eee03f59718b9b5d03019c07d8b6c51f90da3a666eec13ab35";
	static const char *const args[] = { "B=2", "A=1", NULL };
	char want[65], got[65];

	mc_sha256_hex(want, enc, sizeof(enc) - 1);
	CHECK_INT(derive(got, "claude-code", PREFIX, HEAD, DFH, "linux/amd64", args), 0);
	CHECK_STR(got, want);
	CHECK_STR(got, "10def9177a563e713dc92a1c79fec2af91d485e45603d9d9eb80e9976471f510");
}

static void test_every_field_matters(void)
{
	static const char *const a1[] = { "A=1", NULL };
	static const char *const a1b[] = { "A=2", NULL };
	static const char *const a1c[] = { "B=1", NULL };
	static const char *const a2[] = { "A=1", "B=1", NULL };
	struct {
		const char *rt, *prefix, *head, *dfh, *platform;
		const char *const *args;
	} t[] = {
		{ "claude-code", PREFIX, HEAD, DFH, "linux/amd64", a1 },
		{ "codex", PREFIX, HEAD, DFH, "linux/amd64", a1 },
		{ "claude-code", PREFIX "x", HEAD, DFH, "linux/amd64", a1 },
		{ "claude-code", PREFIX, "1123456789abcdef0123456789abcdef01234567", DFH, "linux/amd64", a1 },
		{ "claude-code", PREFIX, HEAD, "cb31b87c25bb1c4fd052ee37e99b450589c140bf65b028916376f0bea1eae960",
		  "linux/amd64", a1 },
		{ "claude-code", PREFIX, HEAD, DFH, "linux/arm64", a1 },
		{ "claude-code", PREFIX, HEAD, DFH, "linux/amd64", a1b },
		{ "claude-code", PREFIX, HEAD, DFH, "linux/amd64", a1c },
		{ "claude-code", PREFIX, HEAD, DFH, "linux/amd64", a2 },
		{ "claude-code", PREFIX, HEAD, DFH, "linux/amd64", NULL },
	};
	size_t n = sizeof(t) / sizeof(t[0]);
	char k[sizeof(t) / sizeof(t[0])][65];

	for (size_t i = 0; i < n; i++)
		CHECK_INT(derive(k[i], t[i].rt, t[i].prefix, t[i].head, t[i].dfh, t[i].platform, t[i].args), 0);
	for (size_t i = 0; i < n; i++)
		for (size_t j = i + 1; j < n; j++)
			CHECK(strcmp(k[i], k[j]) != 0);
}

static void test_arg_order_and_dedup(void)
{
	static const char *const x[] = { "A=1", "B=2", "C=3", NULL };
	static const char *const y[] = { "C=3", "A=1", "B=2", NULL };
	static const char *const z[] = { "B=2", "C=0", "A=9", "C=3", "A=1", NULL };
	char kx[65], ky[65], kz[65];

	CHECK_INT(derive(kx, "codex", PREFIX, HEAD, DFH, "linux/amd64", x), 0);
	CHECK_INT(derive(ky, "codex", PREFIX, HEAD, DFH, "linux/amd64", y), 0);
	CHECK_INT(derive(kz, "codex", PREFIX, HEAD, DFH, "linux/amd64", z), 0);
	CHECK_STR(kx, ky);
	CHECK_STR(kx, kz);
}

static void test_boundaries_do_not_collide(void)
{
	static const char *const ab[] = { "AB=1", NULL };
	static const char *const a_b[] = { "A=B1", NULL };
	static const char *const two[] = { "A=1", "B=2", NULL };
	static const char *const joined[] = { "A=1\nB=2", NULL };
	char k1[65], k2[65];

	CHECK_INT(derive(k1, "ab", "c", HEAD, DFH, "linux/amd64", NULL), 0);
	CHECK_INT(derive(k2, "a", "bc", HEAD, DFH, "linux/amd64", NULL), 0);
	CHECK(strcmp(k1, k2) != 0);
	CHECK_INT(derive(k1, "x", PREFIX, HEAD, DFH, "linux/amd64", NULL), 0);
	CHECK_INT(derive(k2, "x", PREFIX, HEAD, "", DFH "linux/amd64", NULL), 0);
	CHECK(strcmp(k1, k2) != 0);
	CHECK_INT(derive(k1, "x", PREFIX, HEAD, DFH, "p", ab), 0);
	CHECK_INT(derive(k2, "x", PREFIX, HEAD, DFH, "p", a_b), 0);
	CHECK(strcmp(k1, k2) != 0);
	/* a newline inside a value cannot fake a second argument */
	CHECK_INT(derive(k1, "x", PREFIX, HEAD, DFH, "p", two), 0);
	CHECK_INT(derive(k2, "x", PREFIX, HEAD, DFH, "p", joined), 0);
	CHECK(strcmp(k1, k2) != 0);
}

static void test_bad_inputs(void)
{
	static const char *const noeq[] = { "A=1", "JUSTNAME", NULL };
	static const char *const noname[] = { "=secretvalue", NULL };
	struct mc_key_inputs in = { "x", PREFIX, HEAD, DFH, NULL, NULL };
	char k[65];

	CHECK_INT(mc_key_derive(k, &in), MC_EINVAL);
	CHECK_INT(mc_key_derive(k, NULL), MC_EINVAL);
	CHECK_INT(derive(k, NULL, PREFIX, HEAD, DFH, "p", NULL), MC_EINVAL);
	CHECK_INT(derive(k, "x", NULL, HEAD, DFH, "p", NULL), MC_EINVAL);
	CHECK_INT(derive(k, "x", PREFIX, NULL, DFH, "p", NULL), MC_EINVAL);
	CHECK_INT(derive(k, "x", PREFIX, HEAD, NULL, "p", NULL), MC_EINVAL);
	CHECK_INT(derive(k, "x", PREFIX, HEAD, DFH, "p", noeq), MC_EINVAL);
	CHECK(strstr(mc_error_msg(), "JUSTNAME") != NULL);
	CHECK_INT(derive(k, "x", PREFIX, HEAD, DFH, "p", noname), MC_EINVAL);
	CHECK(strstr(mc_error_msg(), "secretvalue") == NULL);
}

static void test_canonical_args(void)
{
	static const char *const a[] = { "C=3", "A=1", "B=x=y", "A=2", "B=", NULL };
	struct mc_strv sv = MC_STRV_INIT;
	char *s;

	strv_of(&sv, a);
	s = mc_key_build_args_canonical(&sv);
	CHECK_STR(s, "A=sha256:d4735e3a265e16eee03f59718b9b5d03019c07d8b6c51f90da3a666eec13ab35\n"
		     "B=sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\n"
		     "C=sha256:4e07408562bedb8b60ce05c1decfe3ad16b72230967de01f640b7e4729b49fce");
	free(s);
	mc_strv_release(&sv);
	s = mc_key_build_args_canonical(NULL);
	CHECK_STR(s, "");
	free(s);
	s = mc_key_build_args_canonical(&sv);
	CHECK_STR(s, "");
	free(s);
}

int main(void)
{
	test_sha256_hex();
	test_vectors();
	test_legacy_vectors();
	test_hashed_inputs();
	test_rehash_and_secret_names();
	test_encoding_by_hand();
	test_every_field_matters();
	test_arg_order_and_dedup();
	test_boundaries_do_not_collide();
	test_bad_inputs();
	test_canonical_args();
	return t_done();
}
