/* cmd_ensure.c — `molcache ensure RUNTIME`: print a local image tag, building on a miss. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../store/key.h"
#include "../fleet/registry.h"
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
	"  --offline              do not ask the remote; use the newest entry built from the same\n"
	"                         inputs (but the commit), with a warning; exit 8 if there is none\n"
	"  --retry                build now even if this key's last build failed moments ago\n"
	"  --lease DUR            keep gc off the returned image for DUR (e.g. 30m, 2h; at most 7d) while it\n"
	"                         is used; 'molcache lease --release' ends it sooner\n"
	"  --lock-timeout SECS    how long to wait for another build of the same key (default 1800)\n"
	"  --build-stall-grace DUR  cancel a build with no progress for DUR (default 4m; 0: off)\n"
	"  --build-timeout DUR    cancel a build running longer than DUR (default 12m; 0: off)\n"
	"  --registry HOST[:PORT]/PATH  share builds through this OCI registry (MOLCACHE_REGISTRY):\n"
	"                         on a local miss pull <registry>/RUNTIME:<key> if it is there,\n"
	"                         else build and push it (docs/fleet.md)\n"
	"  --registry-mode MODE   pull-push (default with a registry), pull, or off\n"
	"  --registry-required    a registry that fails is an error (exit 3), not a warning\n"
	"  --log-format FMT       progress as text (default) or json (one object per line)\n"
	"  -q, --quiet            no progress on stderr (warnings and errors still show)\n"
	"  -h, --help             this help\n";

int cmd_ensure(struct mc_ctx *ctx, int argc, char **argv)
{
	enum { O_NETWORK = MC_OPT_NEXT, O_OFFLINE, O_LOCK, O_LOGFMT, O_LEASE, O_STALL, O_CEILING, O_RETRY, O_REGISTRY,
	       O_REGMODE, O_REGREQ };
	static const struct option opts[] = {
		MC_KEY_FLAG_OPTIONS,
		{ "network", required_argument, NULL, O_NETWORK },
		{ "offline", no_argument, NULL, O_OFFLINE },
		{ "retry", no_argument, NULL, O_RETRY },
		{ "lock-timeout", required_argument, NULL, O_LOCK },
		{ "log-format", required_argument, NULL, O_LOGFMT },
		{ "lease", required_argument, NULL, O_LEASE },
		{ "build-stall-grace", required_argument, NULL, O_STALL },
		{ "build-timeout", required_argument, NULL, O_CEILING },
		{ "registry", required_argument, NULL, O_REGISTRY },
		{ "registry-mode", required_argument, NULL, O_REGMODE },
		{ "registry-required", no_argument, NULL, O_REGREQ },
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *network = NULL, *registry = NULL;
	int reg_mode = -1, reg_required = 0;
	struct mc_key_flags kf = { 0 };
	struct mc_progress prog;
	int mode = -1;
	struct mc_ensure_opts eo = { 0 };
	struct mc_ensure_result res = { 0 };
	long lock_timeout = -1;
	int64_t stall_ms = -1, ceiling_ms = -1;
	int c, err, ret = MC_EXIT_OK;

	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "qh", opts, NULL)) != -1) {
		if ((err = mc_key_flags_opt(&kf, c, optarg, "ensure"))) {
			if (err != 1) {
				ret = err;
				goto done;
			}
			continue;
		}
		switch (c) {
		case O_NETWORK: network = optarg; break;
		case O_STALL:
		case O_CEILING:
			if (mc_parse_duration(c == O_STALL ? &stall_ms : &ceiling_ms, optarg)) {
				ret = mc_cli_usage_error("ensure", "--%s '%s': want a duration like 90s, 4m or 1h (0: off)",
							 c == O_STALL ? "build-stall-grace" : "build-timeout", optarg);
				goto done;
			}
			break;
		case O_OFFLINE: eo.offline = 1; break;
		case O_REGISTRY: registry = optarg; break;
		case O_REGMODE:
			if ((reg_mode = mc_config_registry_mode(optarg)) < 0) {
				ret = mc_cli_usage_error("ensure", "--registry-mode '%s': want pull, pull-push or off", optarg);
				goto done;
			}
			break;
		case O_REGREQ: reg_required = 1; break;
		case O_RETRY: eo.retry = 1; break;
		case 'q': mode = MC_PROGRESS_QUIET; break;
		case O_LEASE:
			if (mc_gc_parse_duration(&eo.lease_ms, optarg) || eo.lease_ms <= 0) {
				ret = mc_cli_usage_error("ensure", "--lease '%s': want a duration like 30m, 2h or 1d", optarg);
				goto done;
			}
			if (eo.lease_ms > MC_LEASE_MAX_MS) {
				ret = mc_cli_usage_error("ensure", "--lease '%s': a lease lasts at most %s (7 days)", optarg,
							 MC_LEASE_MAX);
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
			ret = mc_cli_bad_option("ensure", "qh", argv);
			goto done;
		}
	}
	if ((ret = mc_cli_runtime_operand(ctx, &eo.runtime, "ensure", argc, argv)))
		goto done;
	/* flags win over env and file */
	if ((err = mc_key_flags_apply(&kf, &ctx->cfg))) {
		ret = mc_cli_fail(ctx, err);
		goto done;
	}
	if (network && !mc_config_network_ok(network)) {
		ret = mc_cli_usage_error("ensure", "--network '%s': want default, host or none", network);
		goto done;
	}
	if (network)
		mc_config_set(&ctx->cfg.networkmode, network);
	if (lock_timeout >= 0)
		ctx->cfg.lock_timeout_s = (int)lock_timeout;
	if (stall_ms >= 0)
		ctx->cfg.build_stall_ms = stall_ms;
	if (ceiling_ms >= 0)
		ctx->cfg.build_timeout_ms = ceiling_ms;
	if (registry) {
		char *h = NULL, *p = NULL;
		int plain;
		if (mc_registry_split(&h, &p, &plain, registry)) {
			free(h);
			free(p);
			ret = mc_cli_usage_error("ensure", "--registry '%s': want HOST[:PORT][/PATH]", registry);
			goto done;
		}
		free(h);
		free(p);
		mc_config_set(&ctx->cfg.registry, registry);
	}
	if (reg_mode >= 0)
		ctx->cfg.registry_mode = reg_mode;
	if (reg_required)
		ctx->cfg.registry_required = 1;

	mc_progress_init(&prog, mode);
	eo.events = (struct mc_emitter){ mc_progress_event, &prog };
	/* SIGINT/SIGTERM set a flag: the pipeline ends cleanly at its next step */
	mc_interrupt_install();
	err = mc_ensure(ctx, &eo, &res);
	if (err && prog.mode == MC_PROGRESS_JSON) {
		char *msg = mc_cli_scrub(ctx, mc_error_msg()[0] ? mc_error_msg() : "unknown error");
		char *hint = mc_cli_scrub(ctx, mc_error_hint_msg());
		ret = mc_cli_exit_code(err);
		mc_progress_fail(&prog, &res, ret, msg, hint);
		free(msg);
		free(hint);
		goto done;
	}
	mc_progress_result(&prog, &res, err);
	if (err) {
		ret = mc_cli_fail(ctx, err);
		goto done;
	}
	printf("%s\n", res.tag);
done:
	mc_ensure_result_release(&res);
	mc_key_flags_release(&kf);
	return ret;
}
