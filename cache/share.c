/* share.c — ensure's side of fleet sharing: the registry on a miss, the push after a build, cache seeds. */
#include "ensure.h"
#include "run.h"

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

/* The registry of the config, or none (r->fleet.reg NULL) when none is set
 * or the mode is off. */
static int open_registry(struct run *r)
{
	const struct mc_config *cfg = &r->ctx->cfg;

	if (!cfg->registry || !*cfg->registry || cfg->registry_mode == MC_REGISTRY_OFF)
		return 0;
	return mc_registry_open(&r->fleet.reg, cfg->registry, cfg->registry_user, cfg->registry_password);
}

/* A pulled image, checked by fleet: recorded (origin "pulled") and served. */
static int serve_pulled(struct run *r, char *id, struct mc_ensure_result *out)
{
	struct mc_entry e;
	struct mc_image img = MC_IMAGE_INIT;
	int ret;

	run_entry(&e, r);
	if ((ret = mc_engine_image_inspect(r->eng, id, &img)))
		goto done;
	e.image_id = id;
	e.image_bytes = img.size;
	e.state = MC_STATE_READY;
	e.created_ms = e.last_used_ms = mc_now_ms();
	if ((ret = mc_index_put(r->ix, &e)) || (ret = mc_index_failure_clear(r->ix, r->key)) ||
	    (ret = mc_fleet_origin_set(r->ix, r->key, "pulled")) || (ret = run_serve(r, &e, &img, NULL, out)))
		goto done;
	ret = 1;
done:
	mc_image_release(&img);
	return ret;
}

/* Under the exclusive key lock, on a local miss: the key's image from the
 * registry, checked, recorded and served. 1 served, 0 not there (or the
 * registry failed: warned), < 0 error. */
int run_share_fetch(struct run *r, struct mc_ensure_result *out)
{
	struct mc_entry e;
	char id[80];
	int ret;

	if (!r->fleet.reg && (ret = open_registry(r)))
		return ret;
	if (!r->fleet.reg || mc_fleet_backoff(&r->fleet))
		return 0;
	run_entry(&e, r);
	if ((ret = mc_fleet_pull(&r->fleet, &e, id)) <= 0)
		return ret;
	return serve_pulled(r, id, out);
}

/* This host as a build marker names it: "<hostname> (root <id12>, pid <pid>)". */
static char *who_am_i(struct run *r)
{
	char host[256] = "";
	const char *root = NULL;

	if (gethostname(host, sizeof(host) - 1) || !host[0])
		snprintf(host, sizeof(host), "unknown-host");
	/* a marker's host is printable ASCII (mc_marker_parse): others' hosts print it */
	host[120] = 0;
	for (char *p = host; *p; p++)
		if (*p < 0x20 || *p > 0x7e)
			*p = '?';
	if (mc_ctx_root_id(r->ctx, &root))
		mc_error_clear();
	return mc_asprintf("%s (root %.12s, pid %ld)", host, root ? root : "?", (long)getpid());
}

/* The marker's lifetime: fleet_marker_ttl (MOLCACHE_FLEET_MARKER_TTL: for
 * tests, and operators whose builds the recorded times mislead), else 2 x the
 * runtime's last recorded build, bounded (fleet.h, docs/fleet.md). */
static int64_t marker_ttl(struct run *r)
{
	int64_t ms = r->ctx->cfg.fleet_marker_ttl_ms;

	if (ms <= 0)
		return mc_fleet_marker_ttl(r->ix, r->runtime);
	return ms < MC_MARKER_TTL_MAX_MS ? ms : MC_MARKER_TTL_MAX_MS;
}

/* After the failure gate, before building: one build per key across the
 * fleet. Another host's fresh marker is waited on (its image served: 1);
 * else ours is put (pull-push only) and this host builds (0). */
int run_share_claim(struct run *r, struct mc_ensure_result *out)
{
	struct mc_entry e;
	char id[80], *who;
	int ret;

	if (!r->fleet.reg || r->fleet.down)
		return 0;
	run_entry(&e, r);
	who = who_am_i(r);
	ret = mc_fleet_claim(&r->fleet, &e, who, r->ctx->cfg.registry_mode == MC_REGISTRY_PULL_PUSH, marker_ttl(r),
			     &r->claim, id);
	free(who);
	return ret <= 0 ? ret : serve_pulled(r, id, out);
}

/* After the push or a failed build: our marker goes (fleet keeps the error). */
void run_share_unclaim(struct run *r) { mc_fleet_unclaim(&r->fleet, &r->claim); }

/* After a build: the image goes to the registry (mode pull-push). */
int run_share_push(struct run *r, const struct mc_ensure_result *out)
{
	struct mc_entry e;

	mc_fleet_origin_set(r->ix, r->key, "built");
	mc_error_clear();
	if (!r->fleet.reg || r->fleet.down || r->ctx->cfg.registry_mode != MC_REGISTRY_PULL_PUSH)
		return 0;
	run_entry(&e, r);
	e.image_id = out->image_id;
	return mc_fleet_push(&r->fleet, &e);
}

/* Partial sharing: with a registry, images carry BuildKit's inline cache, and
 * the previous commit's image (local, else pulled) is offered as cachefrom.
 * Without BuildKit (Podman) neither exists: said once, as the one build of an
 * ensure is the one call here. */
void run_share_seed(struct run *r, const struct mc_entry *e, struct mc_strv *args, struct mc_strv *seeds,
		    char **seed_ref)
{
	if (!r->fleet.reg)
		return;
	if (!mc_engine_buildkit(r->eng)) {
		mc_emit_warn(r->ev, "partial sharing is off: the engine has no BuildKit (no inline cache, no cache "
				    "seed from the registry); whole images are still pulled and pushed");
		return;
	}
	if (r->ctx->cfg.registry_mode == MC_REGISTRY_PULL_PUSH)
		mc_strv_push(args, "BUILDKIT_INLINE_CACHE=1");
	mc_fleet_cache_from(&r->fleet, e, seeds, seed_ref);
}

/* The pulled seed's remote name goes (by name): local gc owns only its own tags. */
void run_share_seed_release(struct run *r, struct mc_strv *seeds, char *seed_ref)
{
	if (seed_ref && mc_engine_image_remove(r->eng, seed_ref, 0))
		mc_error_clear();
	free(seed_ref);
	mc_strv_release(seeds);
}
