/* fuzz_gc_parse.c — libFuzzer target for gc's DUR and SIZE parsers: never crash, never negative, round-trip. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "gc/gc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* an exact-size NUL-terminated copy, so ASan sees any read past the end */
	char *s = malloc(size + 1);
	int64_t v = -1, back = -1;
	char txt[32];

	if (size)
		memcpy(s, data, size);
	s[size] = 0;
	if (!mc_gc_parse_duration(&v, s)) {
		if (v < 0)
			abort();
		/* what gc prints as a reason parses back to the same duration */
		mc_gc_format_duration(txt, v);
		if (mc_gc_parse_duration(&back, txt) || back != v)
			abort();
	} else if (v != 0) {
		abort();
	}
	v = -1;
	if (!mc_gc_parse_size(&v, s)) {
		if (v < 0)
			abort();
	} else if (v != 0) {
		abort();
	}
	free(s);
	return 0;
}
