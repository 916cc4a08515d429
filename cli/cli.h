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
	MC_EXIT_BUSY = 6,     /* a lock wait timed out; another gc is running */
	MC_EXIT_PARTIAL = 7,  /* gc: something could not be removed */
	MC_EXIT_NOTFOUND = 8, /* nothing cached (--offline), unknown key */
};

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
int cmd_help(struct mc_ctx *ctx, int argc, char **argv);
int cmd_version(struct mc_ctx *ctx, int argc, char **argv);

/* The command table, NULL-terminated. */
extern const struct mc_cmd mc_commands[];

/* Prints "molcache: <current error>" and its hint to stderr, with every secret
 * known to ctx (may be NULL) masked, and returns the exit code for err. */
int mc_cli_fail(struct mc_ctx *ctx, int err);
/* Prints "molcache: <msg>" (+ hint) for a usage error and returns MC_EXIT_USAGE. */
int mc_cli_usage_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Maps an MC_E… code to an exit code. */
int mc_cli_exit_code(int err);

#endif
