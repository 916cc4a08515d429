/* cmd_ensure.c — `molcache ensure RUNTIME`: print a local image tag, building on a miss. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../cache/key.h"
#include "../gc/gc.h"
#include "cli.h"
#include "progress.h"

static const char usage_text[] =
	"usage: molcache ensure RUNTIME [options]\n"
	"\n"
	"Prints an image tag for RUNTIME that exists in the local Docker engine,\n"
	"built from the newest commit of <repo-prefix>RUNTIME. Progress goes to stderr.\n"
	"\n"
	"  --ref REF              branch, tag or full commit sha (default: the remote's HEAD)\n"
	"  --repo-prefix URL      template repository prefix (MOLCACHE_REPO_PREFIX)\n"
	"  --dockerfile PATH      Dockerfile path inside the template (default: Dockerfile)\n"
	"  --platform P           os/arch[/variant] (MOLCACHE_PLATFORM; default: the engine's)\n"
	"  --build-arg K=V        a build argument; repeatable; part of the cache key\n"
	"  --network MODE         build network mode: default, host or none\n"
	"  --offline              do not ask the remote; use the newest ready entry, with a warning\n"
	"  --lease DUR            keep gc off the returned image for DUR (e.g. 30m, 2h) while it is used\n"
	"  --lock-timeout SECS    how long to wait for another build of the same key (default 1800)\n"
	"  --log-format FMT       progress as text (default) or json (one object per line)\n"
	"  -q, --quiet            no progress on stderr (warnings and errors still show)\n"
	"  -h, --help             this help\n";

int cmd_ensure(struct mc_ctx *ctx, int argc, char **argv)
{
	enum { O_REF = 256, O_PREFIX, O_DOCKERFILE, O_PLATFORM, O_BUILD_ARG, O_NETWORK, O_OFFLINE, O_LOCK, O_LOGFMT, O_LEASE };
	static const struct option opts[] = {
		{ "ref", required_argument, NULL, O_REF },
		{ "repo-prefix", required_argument, NULL, O_PREFIX },
		{ "dockerfile", required_argument, NULL, O_DOCKERFILE },
		{ "platform", required_argument, NULL, O_PLATFORM },
		{ "build-arg", required_argument, NULL, O_BUILD_ARG },
		{ "network", required_argument, NULL, O_NETWORK },
		{ "offline", no_argument, NULL, O_OFFLINE },
		{ "lock-timeout", required_argument, NULL, O_LOCK },
		{ "log-format", required_argument, NULL, O_LOGFMT },
		{ "lease", required_argument, NULL, O_LEASE },
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *ref = NULL, *prefix = NULL, *dockerfile = NULL, *platform = NULL, *network = NULL;
	struct mc_strv build_args = MC_STRV_INIT;
	struct mc_progress prog;
	int mode = -1;
	struct mc_ensure_opts eo = { 0 };
	struct mc_ensure_result res = { 0 };
	long lock_timeout = -1;
	int c, err, ret = MC_EXIT_OK;

	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "qh", opts, NULL)) != -1) {
		switch (c) {
		case O_REF: ref = optarg; break;
		case O_PREFIX: prefix = optarg; break;
		case O_DOCKERFILE: dockerfile = optarg; break;
		case O_PLATFORM: platform = optarg; break;
		case O_NETWORK: network = optarg; break;
		case O_OFFLINE: eo.offline = 1; break;
		case 'q': mode = MC_PROGRESS_QUIET; break;
		case O_LEASE:
			if (mc_gc_parse_duration(&eo.lease_ms, optarg) || eo.lease_ms <= 0) {
				ret = mc_cli_usage_error("ensure", "--lease '%s': want a duration like 30m, 2h or 1d", optarg);
				goto done;
			}
			break;
		case O_LOGFMT:
			if (!strcmp(optarg, "json"))
				mode = mode == MC_PROGRESS_QUIET ? mode : MC_PROGRESS_JSON;
			else if (strcmp(optarg, "text")) {
				ret = mc_cli_usage_error("ensure", "--log-format '%s': want text or json", optarg);
				goto done;
			}
			break;
		case O_BUILD_ARG:
			if (!strchr(optarg, '=') || optarg[0] == '=') {
				ret = mc_cli_usage_error("ensure", "--build-arg '%s': want KEY=VALUE", optarg);
				goto done;
			}
			mc_strv_push(&build_args, optarg);
			break;
		case O_LOCK: {
			char *end;
			lock_timeout = strtol(optarg, &end, 10);
			if (*end || lock_timeout < 0 || lock_timeout > 86400) {
				ret = mc_cli_usage_error("ensure", "--lock-timeout '%s': want seconds (0..86400)", optarg);
				goto done;
			}
			break;
		}
		case 'h':
			fputs(usage_text, stdout);
			goto done;
		default:
			ret = mc_cli_usage_error("ensure", "unknown or incomplete option '%s'", argv[optind - 1]);
			goto done;
		}
	}
	if (argc - optind != 1) {
		ret = mc_cli_usage_error("ensure", "want exactly one RUNTIME");
		goto done;
	}
	eo.runtime = argv[optind];
	/* the name's shape is checked before any I/O; the allowlist after config */
	if ((err = mc_runtime_check(eo.runtime, NULL)) || (err = mc_ctx_init(ctx))) {
		ret = mc_cli_fail(ctx, err);
		goto done;
	}
	/* flags win over env and file */
	if (ref)
		mc_config_set(&ctx->cfg.ref, ref);
	if (prefix)
		mc_config_set(&ctx->cfg.repo_prefix, prefix);
	if (dockerfile)
		mc_config_set(&ctx->cfg.dockerfile, dockerfile);
	if (platform)
		mc_config_set(&ctx->cfg.platform, platform);
	if (network)
		mc_config_set(&ctx->cfg.networkmode, network);
	if (lock_timeout >= 0)
		ctx->cfg.lock_timeout_s = (int)lock_timeout;
	/* appended: for a repeated KEY the last one wins, in the key and the build */
	for (size_t i = 0; i < build_args.n; i++)
		mc_strv_push(&ctx->cfg.build_args, build_args.v[i]);

	mc_progress_init(&prog, mode);
	eo.event = mc_progress_event;
	eo.ud = &prog;
	err = mc_ensure(ctx, &eo, &res);
	mc_progress_result(&prog, &res, err);
	if (err) {
		ret = mc_cli_fail(ctx, err);
		goto done;
	}
	printf("%s\n", res.tag);
done:
	mc_ensure_result_release(&res);
	mc_strv_release(&build_args);
	return ret;
}
