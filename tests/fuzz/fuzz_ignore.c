/* fuzz_ignore.c — fuzzes .dockerignore parsing and matching: input is "<patterns>\0<path>\n<path>…". */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "context/ignore.h"

static struct mc_ignore *parse_with(const char *text, size_t len, const char *extra)
{
	size_t n = strlen(extra);
	char *buf = mc_malloc(len + n);
	struct mc_ignore *ig = NULL;

	memcpy(buf, text, len);
	memcpy(buf + len, extra, n);
	if (mc_ignore_parse(&ig, buf, len + n))
		ig = NULL;
	free(buf);
	return ig;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *text = (const char *)data;
	const char *nul = memchr(text, 0, size);
	size_t plen = nul ? (size_t)(nul - text) : size;
	struct mc_ignore *ig = NULL, *all = NULL, *none = NULL;
	int ret = mc_ignore_parse(&ig, text, plen);

	if (ret) {
		/* A rejected file yields no matcher and says why. */
		if (ret != MC_EINVAL || ig || !*mc_error_msg())
			abort();
		return 0;
	}
	/* The last matching pattern wins: a final "**" excludes everything, a final "!**" nothing. */
	all = parse_with(text, plen, "\n**\n");
	none = parse_with(text, plen, "\n**\n!**\n");
	if (!all || !none)
		abort();

	const char *p = nul ? nul + 1 : text + size, *end = text + size;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
		char *path = mc_strndup(p, n);
		int m = mc_ignore_match(ig, path);
		if (m != 0 && m != 1)
			abort();
		if (*path && mc_ignore_match(all, path) != 1)
			abort();
		if (mc_ignore_match(none, path) != 0)
			abort();
		/* A directory the matcher keeps can't need the walk-into check, but it must not crash either. */
		(void)mc_ignore_may_reinclude_(ig, path);
		free(path);
		p += n + 1;
	}
	mc_ignore_free(ig);
	mc_ignore_free(all);
	mc_ignore_free(none);
	return 0;
}
