/* fuzz_dockerfile.c — libFuzzer target for the FROM/ARG reader, with a fixed set of build args. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "context/dockerfile.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const args[] = { "BASE=alpine:3.19", "TAG=1", "EMPTY=", "TARGETARCH=amd64",
					    "BASE=debian:12", NULL };
	struct mc_strv ba = MC_STRV_INIT, out = MC_STRV_INIT;
	/* an exact-size copy, so ASan sees any read past len */
	char *text = malloc(size ? size : 1);

	if (size)
		memcpy(text, data, size);
	for (const char *const *a = args; *a; a++)
		mc_strv_push(&ba, *a);
	if (!mc_dockerfile_from_images(&out, text, size, &ba)) {
		for (size_t i = 0; i < out.n; i++)
			if (!out.v[i][0] || !strcmp(out.v[i], "scratch"))
				abort();
	}
	mc_strv_release(&out);
	mc_strv_release(&ba);
	free(text);
	return 0;
}
