/* parse.c — the DUR and SIZE arguments of gc, and durations back to text. */
#include "gc.h"

#include <stdio.h>
#include <string.h>

/* Leading decimal digits into *out; the number of digits, or -1 on overflow. */
static int digits(int64_t *out, const char *s)
{
	int64_t v = 0;
	int n = 0;
	while (s[n] >= '0' && s[n] <= '9') {
		int d = s[n] - '0';
		if (v > (INT64_MAX - d) / 10)
			return -1;
		v = v * 10 + d;
		n++;
	}
	*out = v;
	return n;
}

static int mul(int64_t *out, int64_t v, int64_t unit)
{
	if (v > INT64_MAX / unit)
		return -1;
	*out = v * unit;
	return 0;
}

int mc_gc_parse_duration(int64_t *out_ms, const char *s) { return mc_parse_duration(out_ms, s); }

int mc_gc_parse_size(int64_t *out_bytes, const char *s)
{
	static const char units[] = "BKMGTPE";
	int64_t v, unit = 1;
	int n;

	*out_bytes = 0;
	if (!s || (n = digits(&v, s)) <= 0)
		goto bad;
	const char *u = s + n;
	if (*u) {
		const char *p = strchr(units, *u >= 'a' && *u <= 'z' ? *u - 32 : *u);
		if (!p)
			goto bad;
		for (const char *q = units; q < p; q++)
			unit *= 1024;
		u++;
		/* "20G", "20GB", "20GiB"; "B" alone is bytes */
		if (unit > 1 && (!strcmp(u, "B") || !strcmp(u, "iB") || !strcmp(u, "b")))
			u += strlen(u);
		if (*u)
			goto bad;
	}
	if (mul(out_bytes, v, unit))
		goto bad;
	return 0;
bad:
	*out_bytes = 0;
	return mc_error_set(MC_EINVAL, "size '%.64s': expected bytes or a number with K, M, G or T (e.g. 20G)",
			    s ? s : "");
}

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
