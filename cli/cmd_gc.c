/* cmd_gc.c — placeholder until the gc engineer's version lands (they own and overwrite this file). */
#include <stdio.h>
#include "cli.h"

int cmd_gc(struct mc_ctx *ctx, int argc, char **argv)
{
	fprintf(stderr, "molcache: gc: not implemented yet\n");
	return MC_EXIT_ERROR;
}
