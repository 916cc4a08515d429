/*
 * ctx.h — the handles a command works with (struct mc_ctx): paths, config,
 * the index, the engine and the root's id. The front end makes one with
 * mc_ctx_init(), passes it explicitly, and ends it with mc_ctx_release(); the
 * index and the engine are opened on first use and owned by ctx.
 *
 * Rooms below cache/ never see a ctx: they get the one handle they need.
 */
#ifndef MC_CTX_H
#define MC_CTX_H

#include "../store/store.h"
#include "config.h"
#include "../engine/engine.h"

struct mc_ctx {
	struct mc_paths paths;
	struct mc_config cfg;
	struct mc_index *index;   /* opened by mc_ctx_index() */
	struct mc_engine *engine; /* opened by mc_ctx_engine() */
	char root_id[65];         /* filled by mc_ctx_root_id() */
};

/* Resolves paths and loads config (file, then env). Creates nothing. */
int mc_ctx_init(struct mc_ctx *ctx);
/* Creates the cache root if needed and opens the index once. */
int mc_ctx_index(struct mc_ctx *ctx, struct mc_index **out);
/* Connects to the engine once (DOCKER_HOST / config). */
int mc_ctx_engine(struct mc_ctx *ctx, struct mc_engine **out);
/* The root's identity (label molcache.root), made once and kept in the index.
 * A new index (no id, no rows) in a root whose trees/ is not empty takes the
 * id back from the labels (mc_ctx_recover_root_id). */
int mc_ctx_root_id(struct mc_ctx *ctx, const char **out);
void mc_ctx_release(struct mc_ctx *ctx);

/*
 * The root id of this cache root, from the engine: among images labelled
 * molcache.root and molcache.key, those whose key has a directory under
 * trees/; the root id that covers the most such keys wins. MC_ENOTFOUND when
 * trees/ is empty or no image matches (out empty); MC_EINVAL when two ids
 * cover equally many keys (the message lists them). Asks the engine only when
 * trees/ holds something.
 */
int mc_ctx_recover_root_id(struct mc_ctx *ctx, char out[65]);

#endif
