/* test_format.c — the views' shared formatting: sizes, relative times, durations, colour rules, tables, JSON helpers. */
#include "../../cli/format.c" /* cli/ is not in mccore: compile the unit in */

#include <unistd.h>

#include "t.h"

static void test_size(void)
{
	static const struct {
		int64_t in;
		const char *want;
	} cases[] = {
		{ -5, "0 B" },
		{ 0, "0 B" },
		{ 1, "1 B" },
		{ 1023, "1023 B" },
		{ 1024, "1.0 KiB" },
		{ 1536, "1.5 KiB" },
		{ 1048575, "1.0 MiB" }, /* 1023.999 KiB carries into MiB */
		{ 1048576, "1.0 MiB" },
		{ 1288490189, "1.2 GiB" },
		{ 5368709120LL, "5.0 GiB" },
		{ 1099511627776LL, "1.0 TiB" },
		{ INT64_MAX, "8192.0 PiB" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
		char out[32];
		mc_fmt_size(out, cases[i].in);
		CHECK_STR(out, cases[i].want);
	}
}

static void test_ago(void)
{
	const int64_t now = 1700000000000LL;
	static const struct {
		int64_t delta_ms; /* now - then */
		const char *want;
	} cases[] = {
		{ 0, "just now" },
		{ 4999, "just now" },
		{ 5000, "5 s ago" },
		{ 59999, "59 s ago" },
		{ 60000, "1 min ago" },
		{ 3599999, "59 min ago" },
		{ 3600000, "1 h ago" },
		{ 3 * 3600000 + 1, "3 h ago" },
		{ 86399999, "23 h ago" },
		{ 86400000, "1 d ago" },
		{ 400 * 86400000LL, "400 d ago" },
		{ -3 * 3600000, "in 3 h" },
		{ -2000, "just now" },
		{ -90000, "in 1 min" },
	};
	char out[32];
	for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
		mc_fmt_ago(out, now - cases[i].delta_ms, now);
		CHECK_STR(out, cases[i].want);
	}
	mc_fmt_ago(out, 0, now);
	CHECK_STR(out, "never");
}

static void test_duration(void)
{
	static const struct {
		int64_t ms;
		const char *want;
	} cases[] = {
		{ -1, "0 ms" },	       { 0, "0 ms" },	       { 999, "999 ms" },	  { 1000, "1.0 s" },
		{ 12345, "12.3 s" },   { 59999, "60.0 s" },    { 60000, "1 min 00 s" },	  { 245000, "4 min 05 s" },
		{ 3599999, "59 min 59 s" }, { 3600000, "1 h 00 min" }, { 7620000, "2 h 07 min" },
		{ 86400000, "1 d 00 h" }, { 273600000, "3 d 04 h" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
		char out[32];
		mc_fmt_duration(out, cases[i].ms);
		CHECK_STR(out, cases[i].want);
	}
}

static void test_time(void)
{
	char out[32];
	mc_format_utc(out, 0);
	CHECK_STR(out, "-");
	mc_format_utc(out, 1700000000123LL);
	CHECK_STR(out, "2023-11-14 22:13:20Z");
}

static void test_color_rules(void)
{
	static const struct {
		int tty;
		const char *no_color, *term;
		int want;
	} cases[] = {
		{ 1, NULL, "xterm-256color", 1 },
		{ 1, NULL, NULL, 1 },
		{ 1, "", "xterm", 1 }, /* no-color.org: an empty NO_COLOR does not count */
		{ 1, "1", "xterm", 0 },
		{ 1, "0", "xterm", 0 }, /* any non-empty value, even "0" */
		{ 1, NULL, "dumb", 0 },
		{ 0, NULL, "xterm", 0 },
		{ 0, "", NULL, 0 },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++)
		CHECK_INT(mc_fmt_color_wanted(cases[i].tty, cases[i].no_color, cases[i].term), cases[i].want);
}

/* Everything f received, as a string (malloc'd). */
static char *slurp(FILE *f)
{
	struct mc_buf b = MC_BUF_INIT;
	char chunk[512];
	size_t n;
	fflush(f);
	rewind(f);
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		mc_buf_add(&b, chunk, n);
	return mc_buf_detach(&b);
}

static void test_paint(void)
{
	FILE *f = tmpfile();
	char *s;
	mc_fmt_paint(f, 1, MC_COLOR_RED, "bad");
	mc_fmt_paint(f, 0, MC_COLOR_RED, "plain");
	mc_fmt_paint(f, 1, MC_COLOR_NONE, "none");
	s = slurp(f);
	CHECK_STR(s, "\033[31mbad\033[0mplainnone");
	free(s);
	fclose(f);
}

static void test_width(void)
{
	CHECK_INT(mc_fmt_width(""), 0);
	CHECK_INT(mc_fmt_width(NULL), 0);
	CHECK_INT(mc_fmt_width("abc"), 3);
	CHECK_INT(mc_fmt_width("a → b"), 5);
	CHECK_INT(mc_fmt_width("…"), 1);
}

static void test_table(void)
{
	struct mc_table t;
	FILE *f = tmpfile();
	char *s;

	mc_table_init(&t, 3, 1u << 1, 0);
	mc_table_cell(&t, "NAME");
	mc_table_cell(&t, "SIZE");
	mc_table_cell(&t, "STATE");
	mc_table_cell(&t, "claude-code");
	mc_table_cell(&t, "1.2 GiB");
	mc_table_cellc(&t, "ready", MC_COLOR_GREEN);
	mc_table_cell(&t, "x");
	mc_table_cellf(&t, "%d B", 7);
	mc_table_cell(&t, NULL);
	mc_table_cell(&t, "incomplete row: never printed");
	mc_table_print(&t, f, 1);
	s = slurp(f);
	CHECK_STR(s, "NAME            SIZE  STATE\n"
		     "claude-code  1.2 GiB  ready\n"
		     "x                7 B  -\n");
	free(s);
	fclose(f);
	mc_table_release(&t);

	/* colour: the header bold, coloured cells painted, padding outside the escapes */
	f = tmpfile();
	mc_table_init(&t, 2, 0, 1);
	mc_table_cell(&t, "A");
	mc_table_cell(&t, "B");
	mc_table_cellc(&t, "ok", MC_COLOR_GREEN);
	mc_table_cell(&t, "→x");
	mc_table_print(&t, f, 1);
	s = slurp(f);
	CHECK_STR(s, "\033[1mA\033[0m   \033[1mB\033[0m\n"
		     "\033[32mok\033[0m  →x\n");
	free(s);
	fclose(f);
	mc_table_release(&t);
	mc_table_release(NULL);
}

static char *dump(json_t *v)
{
	char *s = json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
	json_decref(v);
	return s;
}

static void test_json(void)
{
	char *s;
	FILE *f;
	struct mc_entry e = { 0 };

	s = dump(mc_json_doc());
	CHECK_STR(s, "{\"schema_version\":1}");
	free(s);
	s = dump(mc_json_str(NULL));
	CHECK_STR(s, "null");
	free(s);
	s = dump(mc_json_str("bad \xff utf-8"));
	CHECK_STR(s, "\"bad \xef\xbf\xbd utf-8\"");
	free(s);
	s = dump(mc_json_str("é"));
	CHECK_STR(s, "\"é\"");
	free(s);
	s = dump(mc_json_time(0));
	CHECK_STR(s, "null");
	free(s);
	s = dump(mc_json_time(1700000000000LL));
	CHECK_STR(s, "1700000000000");
	free(s);

	s = dump(mc_json_build_args(NULL));
	CHECK_STR(s, "{}");
	free(s);
	s = dump(mc_json_build_args("A=1\nB=x=y\nEMPTY=\n=novalue\nnoeq"));
	CHECK_STR(s, "{\"A\":\"1\",\"B\":\"x=y\",\"EMPTY\":\"\"}");
	free(s);

	e.key = "ab";
	e.runtime = "codex";
	e.state = MC_STATE_FAILED;
	e.build_args = "K=V";
	e.tree_bytes = 3;
	s = dump(mc_json_entry(&e, 1));
	CHECK(strstr(s, "\"state\":\"failed\"") != NULL);
	CHECK(strstr(s, "\"latest\":true") != NULL);
	CHECK(strstr(s, "\"image_id\":null") != NULL);
	CHECK(strstr(s, "\"created_ms\":null") != NULL);
	CHECK(strstr(s, "\"build_args\":{\"K\":\"V\"}") != NULL);
	CHECK(strstr(s, "\"tree_bytes\":3") != NULL);
	free(s);

	/* The key inputs: one list, in one order, inside every entry object too. */
	e.repo_prefix = "file:///t-";
	e.head_sha = "c0";
	e.dockerfile_path = "Dockerfile";
	e.platform = "linux/amd64";
	{
		json_t *o = json_object();
		char *entry, *body;
		json_t *eo = mc_json_entry(&e, 0);
		mc_json_key_inputs(o, &e);
		/* in insertion order, not dump()'s sorted one */
		s = json_dumps(o, JSON_COMPACT);
		json_decref(o);
		CHECK_STR(s, "{\"repo_prefix\":\"file:///t-\",\"ref\":null,\"commit\":\"c0\","
			     "\"dockerfile_path\":\"Dockerfile\",\"dockerfile_hash\":null,"
			     "\"platform\":\"linux/amd64\",\"build_args\":{\"K\":\"V\"}}");
		body = mc_strndup(s + 1, strlen(s) - 2); /* without the braces */
		entry = json_dumps(eo, JSON_COMPACT);
		json_decref(eo);
		CHECK(strstr(entry, body) != NULL);
		free(entry);
		free(body);
		free(s);
	}

	f = tmpfile();
	CHECK_INT(mc_json_print(json_pack("{s:i}", "a", 1), f), 0);
	s = slurp(f);
	CHECK_STR(s, "{\n  \"a\": 1\n}\n");
	free(s);
	fclose(f);
	CHECK_INT(mc_json_print(NULL, stdout), MC_ERR);
}

/* Text that is not UTF-8 (a build's output) is written with U+FFFD, never dropped or null. */
static void test_json_str_utf8(void)
{
	static const struct { const char *in, *out; } t[] = {
		{ "plain", "plain" },
		{ "caf\xc3\xa9", "caf\xc3\xa9" },
		{ "\xff\xfe bad", "\xef\xbf\xbd\xef\xbf\xbd bad" },
		{ "cut \xc3", "cut \xef\xbf\xbd" },
		{ "\xc3\xa9\xe2\x82", "\xc3\xa9\xef\xbf\xbd\xef\xbf\xbd" },
		{ "over\xc0\xaflong", "over\xef\xbf\xbd\xef\xbf\xbdlong" },
		{ "surrogate \xed\xa0\x80", "surrogate \xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd" },
	};
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		json_t *v = mc_json_str(t[i].in);
		CHECK(json_is_string(v));
		CHECK_STR(json_string_value(v), t[i].out);
		json_decref(v);
	}
	json_t *n = mc_json_str(NULL);
	CHECK(json_is_null(n));
	json_decref(n);
}

int main(void)
{
	test_json_str_utf8();
	test_size();
	test_ago();
	test_duration();
	test_time();
	test_color_rules();
	test_paint();
	test_width();
	test_table();
	test_json();
	return t_done();
}
