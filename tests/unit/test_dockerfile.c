/* test_dockerfile.c — the FROM/ARG reader against a table of Dockerfiles, following BuildKit's rules. */
#include <string.h>

#include "context/dockerfile.h"
#include "t.h"

struct tcase {
	const char *name;
	const char *text;
	const char *args[6]; /* build args, NULL-terminated */
	const char *want;    /* images joined by '\n' */
	int ret;
	const char *msg;     /* substring of the error message */
};

static const struct tcase cases[] = {
	{ "single", "FROM alpine:3.19\nRUN true\n", { NULL }, "alpine:3.19", 0, NULL },
	{ "no FROM at all", "# just a comment\nRUN true\n", { NULL }, "", 0, NULL },
	{ "empty file", "", { NULL }, "", 0, NULL },
	{ "multi-stage with stage reference",
	  "FROM golang:1.22 AS build\nRUN go build\nFROM debian:12-slim\nCOPY --from=build /x /x\n"
	  "FROM build AS test\n",
	  { NULL }, "golang:1.22\ndebian:12-slim", 0, NULL },
	{ "stage names are case-insensitive", "FROM node:20 as Builder\nFROM BUILDER\nFROM builder AS x\n",
	  { NULL }, "node:20", 0, NULL },
	{ "a stage named later is still an image before it",
	  "FROM base\nFROM alpine AS base\nFROM base\n", { NULL }, "base\nalpine", 0, NULL },
	{ "FROM x AS x names the image x", "FROM x AS x\n", { NULL }, "x", 0, NULL },
	{ "ARG default with braces", "ARG BASE=ubuntu:22.04\nFROM ${BASE}\n", { NULL }, "ubuntu:22.04", 0, NULL },
	{ "ARG default plain $X", "ARG BASE=ubuntu\nARG TAG=22.04\nFROM $BASE:$TAG\n", { NULL },
	  "ubuntu:22.04", 0, NULL },
	{ "quoted default", "ARG BASE=\"python:3.12-slim\"\nFROM $BASE\n", { NULL }, "python:3.12-slim", 0, NULL },
	{ "single-quoted default keeps $", "ARG A=x\nARG B='$A'\nFROM img-${B}\n", { NULL }, "img-$A", 0, NULL },
	{ "default refers to an earlier ARG", "ARG REG=registry.local:5000\nARG IMG=${REG}/base:1\nFROM ${IMG}\n",
	  { NULL }, "registry.local:5000/base:1", 0, NULL },
	{ "build arg overrides a declared ARG", "ARG BASE=ubuntu:22.04\nFROM ${BASE}\n", { "BASE=debian:12", NULL },
	  "debian:12", 0, NULL },
	{ "build arg overrides a declaration without default", "ARG BASE\nFROM ${BASE:-alpine}\n",
	  { "BASE=busybox", NULL }, "busybox", 0, NULL },
	{ "last build arg wins", "ARG BASE=a\nFROM $BASE\n", { "BASE=b", "BASE=c", NULL }, "c", 0, NULL },
	{ "undeclared build arg is not visible", "FROM ${BASE:-alpine}\n", { "BASE=debian", NULL }, "alpine", 0,
	  NULL },
	{ "ARG after the first FROM is out of scope for FROM",
	  "FROM alpine AS a\nARG BASE=debian\nFROM ${BASE:-busybox}\n", { "BASE=ubuntu", NULL },
	  "alpine\nbusybox", 0, NULL },
	{ "build arg value is used raw, not expanded", "ARG BASE\nFROM $BASE\n", { "BASE=$OTHER", "OTHER=x", NULL },
	  "$OTHER", 0, NULL },
	{ "${X:-word} unset and empty", "ARG E=\nFROM ${E:-a}\nFROM ${U:-b}\nFROM ${E-c}x\nFROM ${U-d}\n", { NULL },
	  "a\nb\nx\nd", 0, NULL },
	{ "${X:+word}", "ARG V=1\nARG E=\nFROM img${V:+-v$V}\nFROM img${E:+bad}\nFROM img${E+-set}\n", { NULL },
	  "img-v1\nimg\nimg-set", 0, NULL },
	{ "nested default", "ARG A\nFROM ${A:-${B:-deep}}:1\n", { NULL }, "deep:1", 0, NULL },
	{ "--platform flag skipped", "FROM --platform=$BUILDPLATFORM golang:1.22 AS b\nFROM --platform=linux/arm64 alpine\n",
	  { NULL }, "golang:1.22\nalpine", 0, NULL },
	{ "platform args visible when passed", "FROM base-${TARGETARCH:-none}\n", { "TARGETARCH=arm64", NULL },
	  "base-arm64", 0, NULL },
	{ "comments and blank lines", "# syntax=docker/dockerfile:1\n\n  # indented comment\nFROM alpine # not a comment\n",
	  { NULL }, "alpine", 0, NULL },
	{ "line continuation", "FROM \\\n  alpine:3.19 \\\n  AS base\nFROM base\n", { NULL }, "alpine:3.19", 0, NULL },
	{ "continuation skips comment and blank lines", "FROM \\\n# comment\n\n   alpine\n", { NULL }, "alpine", 0, NULL },
	{ "continuation with trailing blanks", "FROM \\  \t\nalpine\n", { NULL }, "alpine", 0, NULL },
	{ "escape directive", "# escape=`\nFROM `\n  alpine\nRUN dir c:\\\nFROM c:\\x\n", { NULL }, "alpine\nc:\\x", 0,
	  NULL },
	{ "escape directive after a comment is ignored", "# hello\n# escape=`\nFROM \\\n alpine\n", { NULL }, "alpine", 0,
	  NULL },
	{ "directive with spaces and case", "#  Escape = ` \nARG X=a\nFROM `\n$X\n", { NULL }, "a", 0, NULL },
	{ "lowercase from and arg", "arg base=alpine\nfrom ${base}\n", { NULL }, "alpine", 0, NULL },
	{ "CRLF line ends", "ARG B=alpine\r\nFROM $B AS x\r\nFROM x\r\n", { NULL }, "alpine", 0, NULL },
	{ "digest reference", "FROM alpine@sha256:4bcff63911fcb4448bd4fdacec207030997caf25e9bea4045fa6c8c44de311d1\n",
	  { NULL }, "alpine@sha256:4bcff63911fcb4448bd4fdacec207030997caf25e9bea4045fa6c8c44de311d1", 0, NULL },
	{ "scratch skipped", "FROM scratch\nFROM scratch AS s\nFROM s\n", { NULL }, "", 0, NULL },
	{ "duplicates dropped, order kept", "FROM b\nFROM a\nFROM b\nARG X\nFROM a\n", { NULL }, "b\na", 0, NULL },
	{ "several ARGs on one line", "ARG A=x B=\"y z\" C\nFROM $A-${B}-${C:-c}\n", { NULL }, "x-y z-c", 0, NULL },
	{ "escaped dollar is literal", "ARG A=x\nFROM \\$A\n", { NULL }, "$A", 0, NULL },
	{ "stage reached through a variable", "ARG S=build\nFROM alpine AS build\nFROM ${S}\n", { NULL }, "alpine", 0,
	  NULL },
	{ "UTF-8 BOM", "\xef\xbb\xbf" "FROM alpine\n", { NULL }, "alpine", 0, NULL },
	{ "no trailing newline", "FROM alpine", { NULL }, "alpine", 0, NULL },
	{ "empty variable", "FROM ${BASE}\n", { NULL }, "", MC_EINVAL, "dockerfile line 1: FROM '${BASE}': image is empty" },
	{ "empty after override", "ARG BASE=alpine\n\nFROM $BASE\n", { "BASE=", NULL }, "", MC_EINVAL, "line 3" },
	{ "FROM with only flags", "FROM alpine\nFROM --platform=x\n", { NULL }, "alpine", MC_EINVAL,
	  "dockerfile line 2: FROM names no image" },
	{ "bare FROM", "FROM\n", { NULL }, "", MC_EINVAL, "FROM names no image" },
};

static char *join(const struct mc_strv *sv)
{
	struct mc_buf b = MC_BUF_INIT;

	mc_buf_adds(&b, "");
	for (size_t i = 0; i < sv->n; i++)
		mc_buf_addf(&b, "%s%s", i ? "\n" : "", sv->v[i]);
	return mc_buf_detach(&b);
}

static void test_table(void)
{
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct tcase *c = &cases[i];
		struct mc_strv args = MC_STRV_INIT, out = MC_STRV_INIT;
		char *got;
		int r;

		for (const char *const *a = c->args; *a; a++)
			mc_strv_push(&args, *a);
		mc_error_clear();
		r = mc_dockerfile_from_images(&out, c->text, strlen(c->text), &args);
		got = join(&out);
		if (r != c->ret || strcmp(got, c->want) || (c->msg && !strstr(mc_error_msg(), c->msg)))
			fprintf(stderr, "case '%s': ret %d, images \"%s\", message \"%s\"\n", c->name, r, got,
				mc_error_msg());
		CHECK_INT(r, c->ret);
		CHECK_STR(got, c->want);
		if (c->msg)
			CHECK(strstr(mc_error_msg(), c->msg) != NULL);
		free(got);
		mc_strv_release(&out);
		mc_strv_release(&args);
	}
}

static void test_appends_and_len(void)
{
	struct mc_strv out = MC_STRV_INIT;
	static const char text[] = "FROM a\nFROM b\n";

	/* appends to what is there, without duplicating it */
	mc_strv_push(&out, "b");
	CHECK_INT(mc_dockerfile_from_images(&out, text, strlen(text), NULL), 0);
	CHECK_INT(out.n, 2);
	CHECK_STR(out.v[0], "b");
	CHECK_STR(out.v[1], "a");
	mc_strv_release(&out);
	/* len bounds the text: "FROM a\nFR" */
	CHECK_INT(mc_dockerfile_from_images(&out, text, 9, NULL), 0);
	CHECK_INT(out.n, 1);
	mc_strv_release(&out);
	CHECK_INT(mc_dockerfile_from_images(&out, NULL, 0, NULL), 0);
	CHECK_INT(out.n, 0);
}

static void test_exponential_args_are_bounded(void)
{
	struct mc_buf b = MC_BUF_INIT;
	struct mc_strv out = MC_STRV_INIT;

	/* each ARG doubles the last: 2^40 bytes if nothing stopped it */
	mc_buf_adds(&b, "ARG A0=xxxxxxxx\n");
	for (int i = 1; i <= 40; i++)
		mc_buf_addf(&b, "ARG A%d=${A%d}${A%d}\n", i, i - 1, i - 1);
	mc_buf_adds(&b, "FROM alpine\nFROM $A40\n");
	CHECK_INT(mc_dockerfile_from_images(&out, b.ptr, b.len, NULL), MC_EINVAL);
	CHECK(strstr(mc_error_msg(), "longer than") != NULL);
	mc_buf_reset(&b);
	mc_strv_release(&out);

	/* many ARGs, each under the per-value cap (32 KiB), past the 1 MiB total */
	mc_buf_adds(&b, "ARG A0=xxxxxxxx\n");
	for (int i = 1; i <= 12; i++)
		mc_buf_addf(&b, "ARG A%d=${A%d}${A%d}\n", i, i - 1, i - 1);
	for (int i = 0; i < 40; i++)
		mc_buf_addf(&b, "ARG C%d=$A12\n", i);
	mc_buf_adds(&b, "FROM alpine\n");
	CHECK_INT(mc_dockerfile_from_images(&out, b.ptr, b.len, NULL), MC_EINVAL);
	CHECK(strstr(mc_error_msg(), "ARGs together longer than") != NULL);
	mc_strv_release(&out);

	/* the same with 20 of them fits */
	mc_buf_reset(&b);
	mc_buf_adds(&b, "ARG A0=xxxxxxxx\n");
	for (int i = 1; i <= 12; i++)
		mc_buf_addf(&b, "ARG A%d=${A%d}${A%d}\n", i, i - 1, i - 1);
	for (int i = 0; i < 20; i++)
		mc_buf_addf(&b, "ARG C%d=$A12\n", i);
	mc_buf_adds(&b, "FROM alpine\n");
	CHECK_INT(mc_dockerfile_from_images(&out, b.ptr, b.len, NULL), 0);
	CHECK_INT(out.n, 1);
	mc_buf_release(&b);
	mc_strv_release(&out);
}

int main(void)
{
	test_table();
	test_appends_and_len();
	test_exponential_args_are_bounded();
	return t_done();
}
