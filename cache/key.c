/* key.c — cache key derivation (docs/key-format.md), SHA-256 helpers, runtime name checks and URL credential masking. */
#include "key.h"

#include <openssl/evp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define KEY_MAGIC "molcache-key"
#define RUNTIME_MAX 64

const char *const mc_default_runtimes[] = {
	"autogen", "claude-code", "codex", "crewai", "deepagents",
	"gemini-cli", "hermes", "langgraph", "openclaw", NULL,
};

void mc_sha256_hex(char out[65], const void *data, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;

	if (!EVP_Digest(data ? data : "", n, md, &mdlen, EVP_sha256(), NULL) || mdlen != 32)
		MC_BUG("EVP_Digest(sha256) failed");
	for (unsigned int i = 0; i < 32; i++) {
		out[2 * i] = hex[md[i] >> 4];
		out[2 * i + 1] = hex[md[i] & 0xf];
	}
	out[64] = 0;
}

/* Length of the K in "K=V" (the whole string when there is no '='). */
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
	int ret;

	if (n > UINT32_MAX)
		return mc_error_set(MC_EINVAL, "cache key: field longer than 4 GiB");
	len[0] = (unsigned char)(n >> 24);
	len[1] = (unsigned char)(n >> 16);
	len[2] = (unsigned char)(n >> 8);
	len[3] = (unsigned char)n;
	if ((ret = mc_buf_add(b, len, sizeof(len))) || (ret = mc_buf_add(b, s, n)))
		return ret;
	return 0;
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
	if ((ret = mc_buf_add(&b, KEY_MAGIC, strlen(KEY_MAGIC))) || (ret = add_field(&b, num)) ||
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

/* Copy of s for quoting in a message: control bytes become '?', long names are cut. */
static char *printable(const char *s, size_t max)
{
	struct mc_buf b = MC_BUF_INIT;
	size_t n = strlen(s);

	mc_buf_adds(&b, "");
	for (size_t i = 0; i < n && i < max; i++) {
		unsigned char c = (unsigned char)s[i];
		char o = (c < 0x20 || c == 0x7f) ? '?' : (char)c;
		mc_buf_add(&b, &o, 1);
	}
	if (n > max)
		mc_buf_adds(&b, "...");
	return mc_buf_detach(&b);
}

static const char *runtime_problem(const char *name)
{
	size_t n = strlen(name);

	if (!n)
		return "must not be empty";
	if (n > RUNTIME_MAX)
		return "longer than 64 characters";
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)name[i];
		if (c == '/')
			return "must not contain '/'";
		if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f')
			return "must not contain whitespace";
		if (c < 0x20 || c == 0x7f)
			return "must not contain control characters";
		if (c >= 'A' && c <= 'Z')
			return "must be lowercase";
		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
		      c == '-'))
			return "may only contain a-z, 0-9, '.', '_' and '-'";
	}
	if (name[0] == '.' || name[0] == '-')
		return "must not start with '.' or '-'";
	if (strstr(name, ".."))
		return "must not contain '..'";
	return NULL;
}

int mc_runtime_check(const char *name, const struct mc_strv *allow)
{
	const char *why;
	char *shown = NULL;
	int ret = 0;

	if (!name)
		name = "";
	shown = printable(name, RUNTIME_MAX);
	if ((why = runtime_problem(name))) {
		ret = mc_error_set(MC_EINVAL, "runtime '%s': %s", shown, why);
		goto done;
	}
	if (allow && allow->n && mc_strv_find(allow, name) < 0) {
		struct mc_buf list = MC_BUF_INIT;
		for (size_t i = 0; i < allow->n; i++) {
			if (list.len > 200) {
				mc_buf_adds(&list, ", ...");
				break;
			}
			char *p = printable(allow->v[i], RUNTIME_MAX);
			mc_buf_addf(&list, "%s%s", i ? ", " : "", p);
			free(p);
		}
		ret = mc_error_set(MC_EINVAL, "runtime '%s': not in the allowed list (%s)", shown,
				   mc_buf_cstr(&list));
		mc_error_hint("set runtimes in the config file or MOLCACHE_RUNTIMES to allow it");
		mc_buf_release(&list);
	}
done:
	free(shown);
	return ret;
}

/*
 * Finds the userinfo of url: [*start, *end) is the text before and including
 * the '@' that ends it. Returns 0 when there is none.
 *  scheme://[userinfo@]host[:port][/path|?|#]  the authority ends at the first
 *      '/', '?' or '#', so an '@' in the path is not userinfo (RFC 3986);
 *      inside the authority the last '@' counts, passwords seen in the wild
 *      carry unencoded '@'.
 *  [userinfo@]host:path  scp-like git syntax (no "://", ':' before any '/'):
 *      the '@' is the last one before the first '/' that is followed by a
 *      host and the ':' ending it.
 */
static int find_userinfo(const char *url, size_t *start, size_t *end)
{
	const char *sep = strstr(url, "://");

	/* any "x://" before the first '/' counts as a scheme, even a malformed
	 * one: stripping too much is safer than leaking a token */
	if (sep && sep > url && strcspn(url, "/") == (size_t)(sep - url) + 1) {
		const char *auth = sep + 3;
		size_t alen = strcspn(auth, "/?#");
		const char *at = NULL;
		for (size_t i = 0; i < alen; i++)
			if (auth[i] == '@')
				at = auth + i;
		if (!at)
			return 0;
		*start = (size_t)(auth - url);
		*end = (size_t)(at - url) + 1;
		return 1;
	}
	/* scp-like */
	size_t rlen = strcspn(url, "/");
	for (size_t i = rlen; i-- > 0;) {
		if (url[i] != '@')
			continue;
		size_t h = i + 1;
		if (url[h] == '[') {
			while (h < rlen && url[h] != ']')
				h++;
			if (h < rlen)
				h++;
		} else {
			while (h < rlen && url[h] != ':' && url[h] != '@')
				h++;
		}
		if (h < rlen && url[h] == ':' && h > i + 1) {
			*start = 0;
			*end = i + 1;
			return 1;
		}
	}
	return 0;
}

static char *url_replace_userinfo(const char *url, const char *with)
{
	size_t start, end;
	struct mc_buf b = MC_BUF_INIT;

	if (!url)
		return NULL;
	if (!find_userinfo(url, &start, &end))
		return mc_strdup(url);
	mc_buf_add(&b, url, start);
	mc_buf_adds(&b, with);
	mc_buf_adds(&b, url + end);
	return mc_buf_detach(&b);
}

char *mc_url_strip_credentials(const char *url) { return url_replace_userinfo(url, ""); }

char *mc_url_redact(const char *url) { return url_replace_userinfo(url, "***@"); }

/* A password may hold an unencoded '/', '?' or '#': by the RFC the authority
 * then ends early, the URL has no userinfo, and libgit2 calls it malformed and
 * quotes it whole. So when the RFC finds none, the text from "://" to the last
 * '@' is treated as a secret; masking a path that merely holds '@' is harmless. */
char *mc_url_secret_span(const char *url)
{
	size_t start, end;
	const char *sep = url ? strstr(url, "://") : NULL;
	const char *at = sep ? strrchr(sep + 3, '@') : NULL;
	if (!at || at - (sep + 3) < 4 || find_userinfo(url, &start, &end))
		return NULL;
	return mc_strndup(sep + 3, (size_t)(at - sep - 3));
}

char *mc_redact_secret(const char *s, const char *secret)
{
	struct mc_buf b = MC_BUF_INIT;
	const char *p, *hit;
	size_t n;

	if (!s)
		return NULL;
	if (!secret || !*secret)
		return mc_strdup(s);
	n = strlen(secret);
	mc_buf_adds(&b, "");
	for (p = s; (hit = strstr(p, secret)); p = hit + n) {
		mc_buf_add(&b, p, (size_t)(hit - p));
		mc_buf_adds(&b, "***");
	}
	mc_buf_adds(&b, p);
	return mc_buf_detach(&b);
}

void mc_root_id_legacy(char out[17], const char *root)
{
	char hex[65];
	mc_sha256_hex(hex, root, strlen(root));
	memcpy(out, hex, 16);
	out[16] = 0;
}
