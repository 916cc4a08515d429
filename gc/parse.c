/* parse.c — the DUR and SIZE arguments of gc, and durations back to text. */
#include "gc.h"

#include <stdio.h>
#include <string.h>

/* The parsers live in util (config reads the same settings at load time);
 * these names stay for gc's callers and its fuzz target. */
int mc_gc_parse_duration(int64_t *out_ms, const char *s) { return mc_parse_duration(out_ms, s); }

int mc_gc_parse_size(int64_t *out_bytes, const char *s) { return mc_parse_size(out_bytes, s); }

void mc_gc_format_duration(char out[32], int64_t ms)
{
	static const struct {
		const char *suffix;
		int64_t ms;
	} units[] = { { "d", 86400000 }, { "h", 3600000 }, { "m", 60000 }, { "s", 1000 } };

	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (ms > 0 && ms % units[i].ms == 0) {
			snprintf(out, 32, "%lld%s", (long long)(ms / units[i].ms), units[i].suffix);
			return;
		}
	}
	snprintf(out, 32, "%lldms", (long long)ms);
}
