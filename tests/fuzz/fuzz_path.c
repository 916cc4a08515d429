/* fuzz_path.c — libFuzzer target for the template path normaliser (--dockerfile, the config's dockerfile). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "util/mc_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *in = malloc(size + 1), *out, *again;

	memcpy(in, data, size);
	in[size] = 0;
	out = mc_path_clean(in);
	if (out) {
		/* a clean path stays inside the tree: relative, no empty, "." or ".." part */
		size_t n = strlen(out);
		if (!n || out[0] == '/' || out[n - 1] == '/' || strstr(out, "//") || !strcmp(out, ".") ||
		    !strcmp(out, "..") || !strncmp(out, "./", 2) || !strncmp(out, "../", 3) || strstr(out, "/./") ||
		    strstr(out, "/../") || (n >= 2 && !strcmp(out + n - 2, "/.")) ||
		    (n >= 3 && !strcmp(out + n - 3, "/..")))
			abort();
		/* and is a fixed point */
		again = mc_path_clean(out);
		if (!again || strcmp(again, out))
			abort();
		free(again);
	}
	free(out);
	free(in);
	return 0;
}
