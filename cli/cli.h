/*
 * cli.h — the front end: the command table, exit codes and the printing
 * helpers every subcommand shares. Only cli/ prints or picks exit codes.
 */
#ifndef MC_CLI_H
#define MC_CLI_H

#include "../cache/ensure.h"

/* Exit codes (docs/molcache.1, EXIT STATUS). */
enum {
	MC_EXIT_OK = 0,
	MC_EXIT_ERROR = 1,    /* anything else */
	MC_EXIT_USAGE = 2,    /* bad flag, bad runtime name, bad config */
	MC_EXIT_REMOTE = 3,   /* git remote unreachable, auth failed, ref not found */
	MC_EXIT_ENGINE = 4,   /* docker engine unreachable or refused a request */
	MC_EXIT_BUILD = 5,    /* no Dockerfile, base image unavailable, build failed */
	MC_EXIT_BUSY = 6,     /* a lock wait timed out: another gc is running, or the index stayed busy
			       * ("index '…' is busy": another process held its write lock too long) */
	MC_EXIT_PARTIAL = 7,  /* gc: something could not be removed; no space left for a miss */
	MC_EXIT_NOTFOUND = 8, /* nothing cached (--offline), unknown key */
	MC_EXIT_SIGINT = 130, /* interrupted by SIGINT (128 + 2) */
	MC_EXIT_SIGTERM = 143, /* interrupted by SIGTERM (128 + 15) */
};

/* ensure --lease: a lease keeps gc off an entry at most this long (renewed by each ensure --lease). */
#define MC_LEASE_MAX "7d"
#define MC_LEASE_MAX_MS (7LL * 24 * 3600 * 1000)

struct mc_cmd {
	const char *name;
	int (*fn)(struct mc_ctx *ctx, int argc, char **argv);
	const char *summary;
};

int cmd_ensure(struct mc_ctx *ctx, int argc, char **argv);
int cmd_gc(struct mc_ctx *ctx, int argc, char **argv);
int cmd_status(struct mc_ctx *ctx, int argc, char **argv);
int cmd_ls(struct mc_ctx *ctx, int argc, char **argv);
int cmd_show(struct mc_ctx *ctx, int argc, char **argv);
int cmd_explain(struct mc_ctx *ctx, int argc, char **argv);
int cmd_doctor(struct mc_ctx *ctx, int argc, char **argv);
int cmd_lease(struct mc_ctx *ctx, int argc, char **argv);
int cmd_help(struct mc_ctx *ctx, int argc, char **argv);
int cmd_version(struct mc_ctx *ctx, int argc, char **argv);

/* The command table, NULL-terminated. */
extern const struct mc_cmd mc_commands[];

/* Prints "molcache: <current error>" and its hint to stderr, with every secret
 * known to ctx (may be NULL) masked, and returns the exit code for err. */
int mc_cli_fail(struct mc_ctx *ctx, int err);
/* Prints "molcache: <msg>" (+ hint) for a usage error and returns MC_EXIT_USAGE. */
int mc_cli_usage_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/*
 * The flags that change the cache key, shared by ensure and explain so both
 * read them alike: MC_KEY_FLAG_OPTIONS goes first in a command's option table,
 * mc_key_flags_opt() takes each getopt_long() result, mc_key_flags_apply()
 * lays them over the config after mc_ctx_init() (flags win over env and file).
 */
enum { MC_OPT_REF = 256, MC_OPT_PREFIX, MC_OPT_DOCKERFILE, MC_OPT_PLATFORM, MC_OPT_BUILD_ARG, MC_OPT_NEXT };
#define MC_KEY_FLAG_OPTIONS                                                   \
	{ "ref", required_argument, NULL, MC_OPT_REF },                      \
	{ "repo-prefix", required_argument, NULL, MC_OPT_PREFIX },           \
	{ "dockerfile", required_argument, NULL, MC_OPT_DOCKERFILE },        \
	{ "platform", required_argument, NULL, MC_OPT_PLATFORM },            \
	{ "build-arg", required_argument, NULL, MC_OPT_BUILD_ARG }
struct mc_key_flags {
	const char *ref, *prefix, *dockerfile, *platform;
	struct mc_strv build_args;
};
/* 1: c was a key flag and is taken; 0: not a key flag; MC_EXIT_USAGE: a bad value (printed). */
int mc_key_flags_opt(struct mc_key_flags *f, int c, const char *arg, const char *cmd);
/* Applies the flags over cfg; MC_EINVAL (message set) for build args over their limits. */
int mc_key_flags_apply(const struct mc_key_flags *f, struct mc_config *cfg);
void mc_key_flags_release(struct mc_key_flags *f);

/* After option parsing: exactly one RUNTIME operand, its shape checked before
 * any I/O, then mc_ctx_init(). 0 with *out set, else the exit code (printed). */
int mc_cli_runtime_operand(struct mc_ctx *ctx, const char **out, const char *cmd, int argc, char **argv);

/* A copy of s (malloc'd) with every secret known to ctx masked: the token and
 * the credential part of the repo prefix. Every message that may quote a lower
 * layer goes through it. */
char *mc_cli_scrub(struct mc_ctx *ctx, const char *s);

/* Maps an MC_E… code to an exit code. */
int mc_cli_exit_code(int err);
/* After getopt_long returned '?': names the option that was wrong (an unknown
 * one, or one missing its value) as a usage error; returns MC_EXIT_USAGE. */
int mc_cli_bad_option(const char *cmd, const char *optstring, char **argv);

#endif
