/*
 * key.h — cache key derivation. No I/O. (URLs: url.h; runtime names:
 * names.h; SHA-256: util's mc_sha256_hex; the root id: store.h.)
 *
 * The key is sha256 over a canonical, versioned, length-prefixed encoding of
 * every input that changes the image; docs/key-format.md is the specification
 * and tests/unit/test_key.c pins its vectors.
 */
#ifndef MC_KEY_H
#define MC_KEY_H

#include <stddef.h>
#include "../util/mc_util.h"

#define MC_KEY_FORMAT_VERSION 1

struct mc_key_inputs {
	const char *runtime;
	const char *repo_prefix;     /* credential-free */
	const char *head_sha;        /* 40 hex */
	const char *dockerfile_hash; /* 64 hex: sha256 of the Dockerfile used */
	const char *platform;        /* os/arch[/variant] */
	const struct mc_strv *build_args; /* "K=V", any order; NULL = none */
	/* build_args are already "K=sha256:<64 hex>" (read back from the index or
	 * labels) rather than the values themselves */
	int args_hashed;
};

/* out: 64 lowercase hex + NUL. MC_EINVAL when an input is NULL or a build arg
 * has no '='. A build arg enters the key as its name and the sha256 of its
 * value, never the value: a value may be a secret (docs/key-format.md). */
int mc_key_derive(char out[65], const struct mc_key_inputs *in);
/* The key as molcache derived it before build-arg values were hashed (the
 * values themselves in the key): rows of that time are still served. Equal
 * to mc_key_derive for no build args. */
int mc_key_derive_legacy(char out[65], const struct mc_key_inputs *in);
/* The dockerfile_hash input when the Dockerfile has its own ignore file
 * (BuildKit's "<Dockerfile>.dockerignore", used instead of .dockerignore):
 * sha256 over "molcache-dockerfile+ignore" and the length-prefixed Dockerfile
 * sha256, ignore file path and ignore file sha256 (docs/key-format.md).
 * The path is not in the key otherwise, and it picks the file. */
int mc_key_dockerfile_hash(char out[65], const char *dockerfile_sha, const char *ignore_path, const char *ignore_sha);
/* The canonical form stored in the index and the labels: one "K=sha256:<64
 * hex of V>" per name (the last wins), sorted, joined by '\n'; malloc'd. */
char *mc_key_build_args_canonical(const struct mc_strv *build_args);
/* The same for "K=V" lines joined by '\n' (an index row or a label written
 * before values were hashed); lines already hashed stay as they are. */
char *mc_key_build_args_rehash(const char *lines);
/* Does the build-arg name look like it holds a secret? BuildKit's
 * SecretsUsedInArgOrEnv rule: a '_'-separated word, any case, is one of
 * apikey, auth, credential(s), key, password, pword, passwd, secret, token,
 * and none is "public". */
int mc_key_arg_looks_secret(const char *name, size_t len);

#endif
