/*
 * key.h — cache key derivation, SHA-256 helpers and the pure input checks
 * (runtime names, URL credential masking). No I/O.
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
/* Sorted build args joined by '\n' (the canonical form stored in the index); malloc'd. */
char *mc_key_build_args_canonical(const struct mc_strv *build_args);

/* The identity a root had before ids were random (the first 16 hex digits of
 * sha256(root path)): an index upgraded from then keeps it, so the images it
 * labelled stay its own. New roots get a random id (mc_index_root_id). */
void mc_root_id_legacy(char out[17], const char *root);

/* sha256 of data as 64 lowercase hex + NUL (OpenSSL EVP). */
void mc_sha256_hex(char out[65], const void *data, size_t n);

/* Runtime names: 1..64 chars of [a-z0-9._-], not starting with '.' or '-', no
 * "..", and present in allow (when allow is non-NULL and non-empty). MC_EINVAL
 * with a message naming the problem otherwise. */
int mc_runtime_check(const char *name, const struct mc_strv *allow);
/* The default allowlist. */
extern const char *const mc_default_runtimes[];

/* Copy of url with any "user:password@" / "token@" userinfo removed
 * (https://tok@host/x → https://host/x). For hashing, storing, labels. malloc'd. */
char *mc_url_strip_credentials(const char *url);
/* Copy of url with userinfo replaced by three asterisks, for messages. malloc'd. */
char *mc_url_redact(const char *url);
/* When url has no userinfo by the RFC but an '@' after "://" (a password with
 * an unencoded '/', '?' or '#'): the text between "://" and the last '@', a
 * secret for the front end to mask in every message (malloc'd); else NULL. */
char *mc_url_secret_span(const char *url);
/* Replaces each occurrence of secret in s with "***" in place-safe copy; malloc'd.
 * secret NULL or "" returns a plain copy. */
char *mc_redact_secret(const char *s, const char *secret);

#endif
