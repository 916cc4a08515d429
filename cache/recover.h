/*
 * recover.h — the index is only a cache of facts held elsewhere: every image
 * molcache builds carries, in its labels, every input of its row (the label
 * schema is in docs/json.md, "Image labels"), so a lost or damaged index is
 * rebuilt from the engine and trees/ instead of rebuilding images.
 *
 * The labels themselves (mc_labels_of_entry, mc_entry_from_image) are
 * fleet's (fleet/fleet.h): build() writes them, fleet checks a pulled image by
 * them, ensure adopts a labelled image of its key on a miss, mc_ctx_root_id()
 * takes the root id back from them (mc_ctx_recover_root_id, ctx.h) when a new
 * index has none; `doctor --repair` runs mc_repair().
 */
#ifndef MC_RECOVER_H
#define MC_RECOVER_H

#include "../engine/engine.h"
#include "../fleet/fleet.h"
#include "ctx.h"

struct mc_repair_opts {
	const char *root_id; /* --root-id: use this id, whatever else says; may be NULL */
};

struct mc_repair_report {
	char *moved_to;       /* where the damaged index went (malloc'd), NULL when it was sound */
	char *damage;         /* what was wrong with it (malloc'd), NULL when sound */
	char root_id[65];
	const char *root_from; /* "--root-id", "index", "damaged index", "labels" or "new" */
	int64_t images;       /* labelled images of this root in the engine */
	int64_t restored;     /* rows written */
	int64_t kept;         /* rows that were already right */
	int64_t latest_set;   /* runtimes whose :latest was restored */
	struct mc_strv skipped; /* "<image id12>: why" for images that could not give a row */
};
void mc_repair_report_release(struct mc_repair_report *r);

/*
 * doctor --repair. ctx's index must not be open yet. First the engine must
 * answer (MC_EENGINE, nothing touched), then locks/root.lock is taken
 * exclusive (mc_ctx_lock_root: MC_ELOCKED while a live process has the index
 * open). A damaged index (mc_index_damaged: SQLite calls it corrupt or not a
 * database, or PRAGMA integrity_check finds problems; never a newer schema or
 * a busy or unreadable file, which fail as they are) is renamed to
 * index.db.corrupt-<UTC time> (its -wal beside it) after its root id is read
 * from it if it still can be; a new index is made. The root id: opts->root_id,
 * else the index's, else the damaged index's, else mc_ctx_recover_root_id().
 * Then every image labelled with this root gives its row (mc_entry_from_image;
 * rows already right are kept), its molcache/<runtime>:<key12> tag is put back
 * when missing, and each runtime without a live :latest gets the image that
 * carries molcache/<runtime>:latest, else its newest. Errors: MC_EINVAL
 * (ambiguous root id: hint names --root-id; a newer schema), MC_EENGINE,
 * MC_ELOCKED, index errors.
 */
int mc_repair(struct mc_ctx *ctx, const struct mc_repair_opts *opts, struct mc_repair_report *out);

#endif
