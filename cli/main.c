/* main.c — the molcache entry point: global options, the command table, error printing. */
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../git/git.h"
#include "../store/key.h"
#include "../store/names.h"
#include "../git/url.h"
#include "cli.h"

const struct mc_cmd mc_commands[] = {
	{ "ensure", cmd_ensure, "print a local image tag for a runtime, building it on a miss" },
	{ "status", cmd_status, "summarise the cache: entries, bytes, hit rate, last gc" },
	{ "ls", cmd_ls, "list cached entries" },
	{ "show", cmd_show, "show one entry: its key inputs, image, build history and log" },
	{ "explain", cmd_explain, "say why the next ensure would hit or miss" },
	{ "doctor", cmd_doctor, "check the cache root, index, engine, BuildKit and remotes" },
	{ "gc", cmd_gc, "remove old images and trees" },
	{ "lease", cmd_lease, "release the lease ensure --lease put on an entry" },
	{ "help", cmd_help, "show help for molcache or a command" },
	{ "version", cmd_version, "print the version" },
	{ NULL, NULL, NULL },
};

int mc_cli_exit_code(int err)
{
	switch (err) {
	case MC_OK: return MC_EXIT_OK;
	case MC_EINVAL: return MC_EXIT_USAGE;
	case MC_EUNREACHABLE: return MC_EXIT_REMOTE;
	case MC_EENGINE: return MC_EXIT_ENGINE;
	case MC_EBUILD: return MC_EXIT_BUILD;
	case MC_ELOCKED: return MC_EXIT_BUSY;
	case MC_ENOTFOUND: return MC_EXIT_NOTFOUND;
	case MC_ENOSPC: return MC_EXIT_PARTIAL;
	case MC_EINTR: return mc_interrupted() == 2 ? MC_EXIT_SIGINT : MC_EXIT_SIGTERM;
	default: return MC_EXIT_ERROR;
	}
}

/* Defence in depth: whatever a lower layer put in a message, no secret leaves. */
char *mc_cli_scrub(struct mc_ctx *ctx, const char *s)
{
	char *out = mc_strdup(s);
	char *span = mc_url_secret_span(ctx ? ctx->cfg.repo_prefix : NULL);
	const char *secrets[] = { ctx ? ctx->cfg.git_token : NULL, getenv("MOLCACHE_GIT_TOKEN"),
				  getenv("MOLECULE_GITEA_TOKEN"), span, ctx ? ctx->cfg.registry_password : NULL,
				  getenv("MOLCACHE_REGISTRY_PASSWORD") };
	for (size_t i = 0; i < sizeof(secrets) / sizeof(*secrets); i++) {
		if (!secrets[i] || !*secrets[i])
			continue;
		char *next = mc_redact_secret(out, secrets[i]);
		free(out);
		out = next;
	}
	free(span);
	return out;
}

int mc_cli_fail(struct mc_ctx *ctx, int err)
{
	char *msg = mc_cli_scrub(ctx, mc_error_msg()[0] ? mc_error_msg() : "unknown error");
	char *hint = mc_cli_scrub(ctx, mc_error_hint_msg());
	fprintf(stderr, "molcache: %s\n", msg);
	if (*hint)
		fprintf(stderr, "hint: %s\n", hint);
	free(msg);
	free(hint);
	return mc_cli_exit_code(err ? err : MC_ERR);
}

int mc_cli_usage_error(const char *cmd, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fputs("molcache: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	fprintf(stderr, "hint: see 'molcache %s --help'\n", cmd ? cmd : "");
	return MC_EXIT_USAGE;
}

int mc_cli_bad_option(const char *cmd, const char *optstring, char **argv)
{
	/* getopt_long sets optopt to the short option's letter, to a long option's
	 * value when its argument is missing, and to 0 for an unknown long option */
	if (optopt > 0 && optopt < 256 && strchr(optstring, optopt))
		return mc_cli_usage_error(cmd, "option '-%c' needs a value", optopt);
	if (optopt > 0 && optopt < 256)
		return mc_cli_usage_error(cmd, "unknown option '-%c'", optopt);
	if (optopt)
		return mc_cli_usage_error(cmd, "option '%s' needs a value", argv[optind - 1]);
	return mc_cli_usage_error(cmd, "unknown option '%s'", argv[optind - 1]);
}

int mc_key_flags_opt(struct mc_key_flags *f, int c, const char *arg, const char *cmd)
{
	switch (c) {
	case MC_OPT_REF: f->ref = arg; return 1;
	case MC_OPT_PREFIX: f->prefix = arg; return 1;
	case MC_OPT_DOCKERFILE:
		if (!mc_config_dockerfile_ok(arg))
			return mc_cli_usage_error(cmd, "--dockerfile '%s': want a relative path inside the template", arg);
		f->dockerfile = arg;
		return 1;
	case MC_OPT_PLATFORM:
		if (!mc_config_platform_ok(arg))
			return mc_cli_usage_error(cmd, "--platform '%s': want os/arch or os/arch/variant, e.g. linux/arm64", arg);
		f->platform = arg;
		return 1;
	case MC_OPT_BUILD_ARG:
		if (!strchr(arg, '=') || arg[0] == '=') /* no value to hide: there is no '=' or no name */
			return mc_cli_usage_error(cmd, "--build-arg '%.64s': want KEY=VALUE", arg);
		mc_strv_push(&f->build_args, arg);
		return 1;
	default: return 0;
	}
}

int mc_key_flags_apply(const struct mc_key_flags *f, struct mc_config *cfg)
{
	if (f->ref)
		mc_config_set(&cfg->ref, f->ref);
	if (f->prefix)
		mc_config_set(&cfg->repo_prefix, f->prefix);
	if (f->dockerfile) {
		char *clean = mc_path_clean(f->dockerfile);
		mc_config_set(&cfg->dockerfile, clean);
		free(clean);
	}
	if (f->platform)
		mc_config_set(&cfg->platform, f->platform);
	/* appended: for a repeated KEY the last one wins, in the key and the build */
	for (size_t i = 0; i < f->build_args.n; i++)
		mc_strv_push(&cfg->build_args, f->build_args.v[i]);
	return mc_config_build_args_check(&cfg->build_args);
}

void mc_key_flags_release(struct mc_key_flags *f) { mc_strv_release(&f->build_args); }

int mc_cli_runtime_operand(struct mc_ctx *ctx, const char **out, const char *cmd, int argc, char **argv)
{
	int err;

	if (argc - optind != 1)
		return mc_cli_usage_error(cmd, "want exactly one RUNTIME");
	*out = argv[optind];
	/* the name's shape before any I/O; the allowlist once the config is read */
	if ((err = mc_runtime_check(*out, NULL)) || (err = mc_ctx_init(ctx)))
		return mc_cli_fail(ctx, err);
	return 0;
}

static void usage(FILE *f)
{
	fprintf(f, "usage: molcache [--version] [--help] COMMAND [ARGS]\n\ncommands:\n");
	for (const struct mc_cmd *c = mc_commands; c->name; c++)
		fprintf(f, "  %-10s %s\n", c->name, c->summary);
	fprintf(f, "\nSee 'molcache help COMMAND' or man molcache.\n");
}

int cmd_help(struct mc_ctx *ctx, int argc, char **argv)
{
	if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		usage(stdout);
		return MC_EXIT_OK;
	}
	for (const struct mc_cmd *c = mc_commands; c->name; c++)
		if (!strcmp(c->name, argv[1])) {
			char *args[] = { argv[1], "--help", NULL };
			return c->fn(ctx, 2, args);
		}
	return mc_cli_usage_error("help", "unknown command '%s'", argv[1]);
}

int cmd_version(struct mc_ctx *ctx, int argc, char **argv)
{
	printf("molcache %s\n", MC_VERSION);
	return MC_EXIT_OK;
}

int main(int argc, char **argv)
{
	struct mc_ctx ctx;
	const struct mc_cmd *cmd = NULL;
	int ret;

	if (argc < 2) {
		usage(stderr);
		return MC_EXIT_USAGE;
	}
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))
		argv[1] = "help";
	if (!strcmp(argv[1], "--version"))
		argv[1] = "version";
	for (const struct mc_cmd *c = mc_commands; c->name; c++)
		if (!strcmp(c->name, argv[1]))
			cmd = c;
	if (!cmd) {
		fprintf(stderr, "molcache: '%s' is not a molcache command\n", argv[1]);
		fprintf(stderr, "hint: see 'molcache --help'\n");
		return MC_EXIT_USAGE;
	}
	/* commands call mc_ctx_init() after their own argument checks: a bad
	 * argument is refused before any I/O, and help works with a broken config */
	memset(&ctx, 0, sizeof(ctx));
	ret = cmd->fn(&ctx, argc - 1, argv + 1);
	mc_ctx_release(&ctx);
	mc_git_shutdown();
	return ret;
}
