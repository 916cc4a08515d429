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
};

/* out: 64 lowercase hex + NUL. MC_EINVAL when an input is NULL or a build arg has no '='. */
int mc_key_derive(char out[65], const struct mc_key_inputs *in);
/* The dockerfile_hash input when the Dockerfile has its own ignore file
 * (BuildKit's "<Dockerfile>.dockerignore", used instead of .dockerignore):
 * sha256 over "molcache-dockerfile+ignore" and the length-prefixed Dockerfile
 * sha256, ignore file path and ignore file sha256 (docs/key-format.md).
 * The path is not in the key otherwise, and it picks the file. */
int mc_key_dockerfile_hash(char out[65], const char *dockerfile_sha, const char *ignore_path, const char *ignore_sha);
/* Sorted build args joined by '\n' (the canonical form stored in the index); malloc'd. */
char *mc_key_build_args_canonical(const struct mc_strv *build_args);

#endif
