/* fuzz_url.c — the URL credential parsers: strip, redact and secret masking on any
 * input, checking that a stripped or redacted URL never still holds its userinfo. */
#include <ctype.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../git/url.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);
	memcpy(s, data, size);
	s[size] = 0;
	char *stripped = mc_url_strip_credentials(s);
	char *redacted = mc_url_redact(s);
	/* a "scheme://user:pass@host/" input: the password must be gone from both */
	const char *sep = strstr(s, "://"), *at = sep ? strchr(sep + 3, '@') : NULL, *colon;
	/* the contract covers URLs: a scheme [A-Za-z][A-Za-z0-9+.-]* before "://" */
	if (sep && (sep == s || !isalpha((unsigned char)s[0]) || strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+.-") != (size_t)(sep - s)))
		sep = NULL;
	if (sep && at && !memchr(sep + 3, '/', (size_t)(at - sep - 3)) && !memchr(sep + 3, '?', (size_t)(at - sep - 3)) &&
	    !memchr(sep + 3, '#', (size_t)(at - sep - 3)) && (colon = memchr(sep + 3, ':', (size_t)(at - sep - 3)))) {
		size_t n = (size_t)(at - colon - 1);
		if (n >= 6) {
			char *pw = strndup(colon + 1, n);
			if (strstr(stripped, pw) && !strstr(at, pw))
				abort();
			if (strstr(redacted, pw) && !strstr(at, pw))
				abort();
			char *masked = mc_redact_secret(s, pw);
			if (strstr(masked, pw))
				abort();
			free(masked);
			free(pw);
		}
	}
	free(stripped);
	free(redacted);
	free(s);
	return 0;
}
