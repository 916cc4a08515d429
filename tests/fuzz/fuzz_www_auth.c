/* fuzz_www_auth.c — the WWW-Authenticate parser on any bytes (the registry, or whoever answers in its
 * place, writes them): no crash, no read beyond len, and a success always has a scheme, and a realm when
 * the scheme is Bearer. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "../../fleet/registry.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* an exact-size copy: ASan catches a read past len */
	char *s = malloc(size ? size : 1);
	struct mc_challenge c;

	memcpy(s, data, size);
	if (!mc_registry_parse_challenge(&c, s, size)) {
		if (!c.scheme[0])
			abort();
		if (!strcasecmp(c.scheme, "bearer") && (!c.realm || !*c.realm))
			abort();
		mc_challenge_release(&c);
	} else if (c.realm || c.service || c.scope) {
		abort();
	}
	free(s);
	return 0;
}
