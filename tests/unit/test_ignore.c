/* test_ignore.c — .dockerignore matching against cases from Docker's docs and moby/patternmatcher's tests. */
#include "context/ignore.h"
#include "tests/unit/t.h"

struct match_case {
	const char *ignore; /* .dockerignore text */
	const char *path;
	int excluded;
};

static const struct match_case cases[] = {
	/* moby/patternmatcher TestMatches, one pattern each. */
	{ "**", "file", 1 },
	{ "**", "dir/file", 1 },
	{ "**/", "file", 1 },
	{ "**/**", "dir/file", 1 },
	{ "dir/**", "dir/file", 1 },
	{ "dir/**", "dir/dir2/file", 1 },
	{ "**/dir", "dir", 1 },
	{ "**/dir", "dir/file", 1 },
	{ "**/dir2/*", "dir/dir2/file", 1 },
	{ "**/dir2/**", "dir/dir2/dir3/file", 1 },
	{ "**file", "file", 1 },
	{ "**file", "dir/file", 1 },
	{ "**/file", "dir/file", 1 },
	{ "**file", "dir/dir/file", 1 },
	{ "**/file", "dir/dir/file", 1 },
	{ "**/file*", "dir/dir/file", 1 },
	{ "**/file*", "dir/dir/file.txt", 1 },
	{ "**/file*txt", "dir/dir/file.txt", 1 },
	{ "**/file*.txt", "dir/dir/file.txt", 1 },
	{ "**/file*.txt*", "dir/dir/file.txt", 1 },
	{ "**/**/*.txt", "dir/dir/file.txt", 1 },
	{ "**/**/*.txt2", "dir/dir/file.txt", 0 },
	{ "**/*.txt", "file.txt", 1 },
	{ "**/**/*.txt", "file.txt", 1 },
	{ "a**/*.txt", "a/file.txt", 1 },
	{ "a**/*.txt", "a/dir/file.txt", 1 },
	{ "a**/*.txt", "a/dir/dir/file.txt", 1 },
	{ "a/*.txt", "a/dir/file.txt", 0 },
	{ "a/*.txt", "a/file.txt", 1 },
	{ "a/*.txt**", "a/file.txt", 1 },
	{ "a[b-d]e", "ae", 0 },
	{ "a[b-d]e", "ace", 1 },
	{ "a[b-d]e", "aae", 0 },
	{ "a[^b-d]e", "aze", 1 },
	{ "a[^b-d]e", "ace", 0 },
	{ ".*", ".foo", 1 },
	{ ".*", "foo", 0 },
	{ "abc.def", "abcdef", 0 },
	{ "abc.def", "abc.def", 1 },
	{ "abc.def", "abcZdef", 0 },
	{ "abc?def", "abcZdef", 1 },
	{ "abc?def", "abcdef", 0 },
	{ "a\\\\", "a\\", 1 },
	{ "a\\*b", "a*b", 1 },
	{ "a\\*b", "axb", 0 },
	{ "**/foo/bar", "foo/bar", 1 },
	{ "**/foo/bar", "dir/foo/bar", 1 },
	{ "**/foo/bar", "dir/dir2/foo/bar", 1 },
	{ "abc/**", "abc", 0 },
	{ "abc/**", "abc/def", 1 },
	{ "abc/**", "abc/def/ghi", 1 },
	{ "**/.foo", ".foo", 1 },
	{ "**/.foo", "bar.foo", 0 },
	{ "a(b)c/def", "a(b)c/def", 1 },
	{ "a(b)c/def", "a(b)c/xyz", 0 },
	{ "a.|)$(}+{bc", "a.|)$(}+{bc", 1 },
	{ "dist/*.whl", "dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl", 1 },
	/* Docker's .dockerignore documentation. */
	{ "*/temp*", "somedir/temporary.txt", 1 },
	{ "*/temp*", "somedir/temp", 1 },
	{ "*/temp*", "temp", 0 },
	{ "*/temp*", "a/b/temp", 0 },
	{ "*/*/temp*", "somedir/subdir/temporary.txt", 1 },
	{ "*/*/temp*", "somedir/temporary.txt", 0 },
	{ "temp?", "tempa", 1 },
	{ "temp?", "temp", 0 },
	{ "temp?", "tempab", 0 },
	{ "temp?", "temp/", 0 },
	{ "**/*.go", "main.go", 1 },
	{ "**/*.go", "cmd/x/main.go", 1 },
	{ "**/*.go", "main.goo", 0 },
	{ "*.md\n!README.md\n", "README.md", 0 },
	{ "*.md\n!README.md\n", "CHANGES.md", 1 },
	{ "*.md\n!README*.md\nREADME-secret.md\n", "README-secret.md", 1 },
	{ "*.md\n!README*.md\nREADME-secret.md\n", "README-public.md", 0 },
	{ "*.md\nREADME-secret.md\n!README*.md\n", "README-secret.md", 0 },
	{ "*.md\n", "docs/x.md", 0 }, /* '*' stays in the root */
	/* A directory pattern excludes what is under it; exceptions re-include. */
	{ "docs", "docs/README.md", 1 },
	{ "docs\n!docs/README.md\n", "docs/README.md", 0 },
	{ "docs/\n!docs/README.md\n", "docs/README.md", 0 },
	{ "docs/*\n!docs/README.md\n", "docs/README.md", 0 },
	{ "docs/*\n!docs/README.md\n", "docs/other.md", 1 },
	{ "!docs/README.md\ndocs/README.md\n", "docs/README.md", 1 },
	{ "node_modules\n", "node_modules/.bin/tsc", 1 },
	{ "node_modules\n", "node_modules_x", 0 },
	{ "a/b\n!a\n", "a/b/c", 0 },
	{ "!a\na/b\n", "a/b/c", 1 },
	/* Cleaning: leading '/', "./", "//", trailing '/', "..", spaces, comments. */
	{ "/secret", "secret", 1 },
	{ "./secret", "secret", 1 },
	{ "a//b/", "a/b", 1 },
	{ "a/./b/../c", "a/c", 1 },
	{ "  spaced  \n", "spaced", 1 },
	{ "# secret\n", "# secret", 0 },
	{ "# secret\n", "secret", 0 },
	{ " #secret\n", "#secret", 1 },
	{ "x\r\ny\r\n", "y", 1 },
	{ "\xef\xbb\xbf" "bom", "bom", 1 },
	{ "! keep\n", "keep", 0 },
	{ "*\n! keep\n", "keep", 0 },
	{ "*\n!/keep/\n", "keep/x", 0 },
	{ "*\n!./keep\n", "keep", 0 },
	{ "!!bang\n", "!bang", 0 },
	{ "\n\n\n", "anything", 0 },
	/* Classes, escapes and runes. */
	{ "[!a]x", "!x", 1 }, /* Go has '^' for negation, '!' is a member */
	{ "[!a]x", "bx", 0 },
	{ "[a-c][0-9]", "b7", 1 },
	{ "[\\]]", "]", 1 },
	{ "caf?", "caf\xc3\xa9", 1 }, /* '?' takes a whole rune */
	{ "[\xc3\xa0-\xc3\xbf]", "\xc3\xa9", 1 },
	{ "\xff*", "\xff" "a", 1 },
	{ "\xff*", "\xfe" "a", 0 },
	{ "a]b", "a]b", 1 },
	{ "*", "x/y", 1 }, /* the parent matches */
};

static void test_table(void)
{
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct match_case *c = &cases[i];
		struct mc_ignore *ig = NULL;
		int ret = mc_ignore_parse(&ig, c->ignore, strlen(c->ignore));
		CHECK_INT(ret, 0);
		if (ret) {
			fprintf(stderr, "  parse \"%s\": %s\n", c->ignore, mc_error_msg());
			continue;
		}
		int got = mc_ignore_match(ig, c->path);
		if (got != c->excluded)
			fprintf(stderr, "  case %zu: patterns \"%s\" path \"%s\": got %d want %d\n", i,
				c->ignore, c->path, got, c->excluded);
		CHECK_INT(got, c->excluded);
		mc_ignore_free(ig);
	}
}

static void test_bad_patterns(void)
{
	static const char *const bad[] = {
		"[", "a[", "[]", "[]a]", "[^]", "[a-]", "[-a]", "a\\", "[a\\", "!", "! ", "ok\n!\n",
		"[\xff]",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct mc_ignore *ig = (struct mc_ignore *)1;
		int ret = mc_ignore_parse(&ig, bad[i], strlen(bad[i]));
		if (ret != MC_EINVAL)
			fprintf(stderr, "  \"%s\" should be rejected\n", bad[i]);
		CHECK_INT(ret, MC_EINVAL);
		CHECK(ig == NULL);
		CHECK(strstr(mc_error_msg(), ".dockerignore") != NULL);
	}
}

static void test_nul_in_pattern(void)
{
	/* "foo\0bar" must not shrink to "foo". */
	struct mc_ignore *ig = NULL;
	CHECK_INT(mc_ignore_parse(&ig, "foo\0bar", 7), 0);
	CHECK_INT(mc_ignore_match(ig, "foo"), 0);
	mc_ignore_free(ig);
	CHECK_INT(mc_ignore_match(NULL, "foo"), 0);
	mc_ignore_free(NULL);
}

static void test_may_reinclude(void)
{
	static const struct {
		const char *ignore, *dir;
		int want;
	} rc[] = {
		{ "node_modules\n", "node_modules", 0 },
		{ "node_modules\n!node_modules/keep\n", "node_modules", 1 },
		{ "node_modules\n!node_modules/keep\n", "other", 0 },
		{ "node_modules\n!node_modules/keep\n", "node", 0 },
		{ "node_modules\n!node_modules\nnode_modules\n", "node_modules", 1 },
		/* docker compares the exception's text: a wildcard does not reach below */
		{ "a\n!a/*/c\n", "a", 1 },
		{ "a\n!a/*/c\n", "a/b", 0 },
		{ "a\n!a/*/c\n", "a/b/c", 0 },
		{ "x\n!a/*/c\n", "x/b", 0 },
		{ "x\n!**/keep\n", "x", 0 },
		{ "x\n![xy]/keep\n", "x", 0 },
		{ "x\n!x?/keep\n", "x", 0 },
		{ "x*\n!x?/keep\n", "xy", 0 },
		{ "x*\n!x?/keep\n", "x?", 1 },
		/* issue 16 item 8: docker keeps src/main.c and drops src/lib/util.c */
		{ "*\n!src/**/*.c\n", "src", 1 },
		{ "*\n!src/**/*.c\n", "src/lib", 0 },
		{ "**/node_modules\n!**/node_modules/pkg/index.js\n", "node_modules", 0 },
		{ "**/node_modules\n!**/node_modules/pkg/index.js\n", "a/node_modules", 0 },
		{ "dir\n!dir/*.txt\n!dir/**/*.go\n", "dir", 1 },
		{ "dir\n!dir/*.txt\n!dir/**/*.go\n", "dir/sub", 0 },
		{ "dir\n!dir/sub/**\n", "dir/sub", 1 },
		{ "dir\n!./dir/sub/\n", "dir/sub", 1 },
		{ "dir\n!dir/sub/x\n", "dir/subway", 0 },
	};
	for (size_t i = 0; i < sizeof(rc) / sizeof(rc[0]); i++) {
		struct mc_ignore *ig = NULL;
		CHECK_INT(mc_ignore_parse(&ig, rc[i].ignore, strlen(rc[i].ignore)), 0);
		int got = mc_ignore_may_reinclude_(ig, rc[i].dir);
		if (got != rc[i].want)
			fprintf(stderr, "  reinclude case %zu: got %d\n", i, got);
		CHECK_INT(got, rc[i].want);
		mc_ignore_free(ig);
	}
}

static void test_long_inputs(void)
{
	/* Many stars against a long path: the NFA keeps this linear, a naive
	 * backtracking matcher would not finish. */
	struct mc_buf pat = MC_BUF_INIT, path = MC_BUF_INIT;
	for (int i = 0; i < 200; i++)
		mc_buf_adds(&pat, "a*");
	mc_buf_adds(&pat, "b");
	for (int i = 0; i < 3000; i++)
		mc_buf_adds(&path, "a");
	struct mc_ignore *ig = NULL;
	CHECK_INT(mc_ignore_parse(&ig, pat.ptr, pat.len), 0);
	CHECK_INT(mc_ignore_match(ig, path.ptr), 0);
	mc_buf_adds(&path, "b");
	CHECK_INT(mc_ignore_match(ig, path.ptr), 1);
	mc_ignore_free(ig);
	mc_buf_release(&pat);
	mc_buf_release(&path);
}

int main(void)
{
	test_table();
	test_bad_patterns();
	test_nul_in_pattern();
	test_may_reinclude();
	test_long_inputs();
	return t_done();
}
