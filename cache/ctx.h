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
	struct mc_lock root_lock; /* locks/root.lock, held while root_locked */
	int root_locked;          /* 1 shared (mc_ctx_index), 2 exclusive (mc_ctx_lock_root) */
	int index_readonly;       /* index opened by mc_ctx_index_view(), read-only */
};

/* Resolves paths and loads config (file, then env). Creates nothing. */
int mc_ctx_init(struct mc_ctx *ctx);
/* Creates the cache root if needed, takes locks/root.lock shared (waiting
 * up to 10 s while doctor --repair holds it: MC_ELOCKED) and opens the index
 * once. */
int mc_ctx_index(struct mc_ctx *ctx, struct mc_index **out);
/* For the views (status, ls, show, gc --dry-run): opens an existing index of
 * this schema read-only, creating nothing and taking no lock, so they work on
 * a read-only root (mc_index_open_readonly); with no index yet, or one to
 * migrate, it is mc_ctx_index(). Writes through it fail. */
int mc_ctx_index_view(struct mc_ctx *ctx, struct mc_index **out);
/* doctor --repair: locks/root.lock exclusive, before the index is opened, so
 * no live process is cut off from the index it has open. MC_ELOCKED (with a
 * hint) when another process keeps it past a short wait. */
int mc_ctx_lock_root(struct mc_ctx *ctx);
/* Connects to the engine once (DOCKER_HOST / config). */
int mc_ctx_engine(struct mc_ctx *ctx, struct mc_engine **out);
/* The root's identity (label molcache.root), made once and kept in the index
 * (a view's read-only index without one is reopened writable to store it:
 * ctx->index is then a new handle, and one taken before is stale).
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
