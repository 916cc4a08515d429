/* ctx.c — the handles a command works with: paths, config, the index, the engine and the root's id. */
#include "ctx.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../git/git.h"
#include "../store/names.h"

/* The key-named directories under trees/, sorted. */
static int tree_keys(struct mc_strv *out, const char *trees_dir)
{
	DIR *d = opendir(trees_dir);
	struct dirent *de;

	if (!d)
		return errno == ENOENT ? 0 : mc_error_errno(trees_dir);
	while ((de = readdir(d)))
		if (mc_is_key(de->d_name))
			mc_strv_push(out, de->d_name);
	closedir(d);
	mc_strv_sort(out);
	return 0;
}

int mc_ctx_recover_root_id(struct mc_ctx *ctx, char out[65])
{
	struct mc_strv keys = MC_STRV_INIT, want = MC_STRV_INIT, ids = MC_STRV_INIT;
	struct mc_engine *eng;
	struct mc_image *list = NULL;
	int64_t *count = NULL;
	size_t i, n = 0, best = 0;
	int ret, tie = 0;

	out[0] = 0;
	if ((ret = tree_keys(&keys, ctx->paths.trees)))
		goto done;
	if (!keys.n) {
		ret = mc_error_set(MC_ENOTFOUND, "root '%s': no trees to recognise its images by", ctx->paths.root);
		goto done;
	}
	mc_strv_push(&want, "molcache.root");
	mc_strv_push(&want, "molcache.key");
	if ((ret = mc_ctx_engine(ctx, &eng)) || (ret = mc_engine_image_list(&list, &n, eng, &want, 0)))
		goto done;
	count = mc_calloc(n + 1, sizeof(*count));
	for (i = 0; i < n; i++) {
		const char *k = mc_image_label(&list[i], "molcache.key");
		const char *r = mc_image_label(&list[i], "molcache.root");
		long at;
		if (!k || !r || !*r || strlen(r) > 64 || !mc_strv_has_sorted(&keys, k))
			continue;
		if ((at = mc_strv_find(&ids, r)) < 0) {
			at = (long)ids.n;
			mc_strv_push(&ids, r);
		}
		count[at]++;
	}
	if (!ids.n) {
		ret = mc_error_set(MC_ENOTFOUND, "root '%s': no labelled image matches a tree of it", ctx->paths.root);
		goto done;
	}
	for (i = 1; i < ids.n; i++) {
		if (count[i] > count[best]) {
			best = i;
			tie = 0;
		} else if (count[i] == count[best]) {
			tie = 1;
		}
	}
	if (tie) {
		struct mc_buf b = MC_BUF_INIT;
		for (i = 0; i < ids.n; i++)
			mc_buf_addf(&b, "%s%s (%lld)", i ? ", " : "", ids.v[i], (long long)count[i]);
		ret = mc_error_set(MC_EINVAL, "root '%s': images of several root ids match its trees equally: %s",
				   ctx->paths.root, mc_buf_cstr(&b));
		mc_error_hint("name the right one: 'molcache doctor --repair --root-id ID'");
		mc_buf_release(&b);
		goto done;
	}
	snprintf(out, 65, "%s", ids.v[best]);
done:
	mc_images_free(list, n);
	free(count);
	mc_strv_release(&keys);
	mc_strv_release(&want);
	mc_strv_release(&ids);
	return ret;
}

static const char *env_get(const char *name) { return getenv(name); }

int mc_ctx_init(struct mc_ctx *ctx)
{
	int ret;
	char *cfg_path = NULL;

	memset(ctx, 0, sizeof(*ctx));
	mc_config_init(&ctx->cfg);
	if ((ret = mc_paths_resolve(&ctx->paths)))
		goto done;
	cfg_path = mc_config_default_path(env_get);
	if (cfg_path && (ret = mc_config_load_file(&ctx->cfg, cfg_path))) {
		if (ret == MC_EINVAL)
			mc_error_hint("fix that line; molcache(1) FILES lists the keys");
		goto done;
	}
	if ((ret = mc_config_apply_env(&ctx->cfg, env_get)) == MC_EINVAL)
		mc_error_hint("fix or unset that environment variable; molcache(1) ENVIRONMENT lists them");
	if (!ret)
		ret = mc_tag_namespace_set(ctx->cfg.tag_namespace ? ctx->cfg.tag_namespace : "molcache");
	if (!ret) {
		int idle_ms = ctx->cfg.remote_timeout_s * 1000;
		mc_git_set_ca_file(ctx->cfg.ca_file);
		mc_git_set_timeouts(idle_ms < MC_GIT_CONNECT_TIMEOUT_MS ? idle_ms : MC_GIT_CONNECT_TIMEOUT_MS, idle_ms);
	}
done:
	free(cfg_path);
	return ret;
}

#define ROOT_WAIT_MS 10000
#define REPAIR_WAIT_MS 3000

static int lock_root(struct mc_ctx *ctx, enum mc_lock_mode mode, int timeout_ms)
{
	char *path = mc_lock_path_root(&ctx->paths);
	int ret = mc_lock_take(&ctx->root_lock, path, mode, timeout_ms);

	if (!ret) {
		ctx->root_locked = mode == MC_LOCK_EXCLUSIVE ? 2 : 1;
	} else if (ret == MC_ELOCKED && mode == MC_LOCK_EXCLUSIVE) {
		mc_error_set(ret, "cache root '%s': another molcache process has the index open (it holds '%s')",
			     ctx->paths.root, path);
		mc_error_hint("let it finish (an ensure or a gc) or stop it, then run 'molcache doctor --repair' again");
	} else if (ret == MC_ELOCKED) {
		mc_error_set(ret, "cache root '%s': doctor --repair is rebuilding the index (it holds '%s')",
			     ctx->paths.root, path);
		mc_error_hint("try again when the repair is done");
	}
	free(path);
	return ret;
}

/* Permission denied under the root: another user's, or a mode that keeps this one out. */
static int not_ours(int ret)
{
	if (ret == MC_EACCES)
		mc_error_hint("run molcache as the cache root's owner, or set MOLCACHE_HOME to a directory of this user's");
	return ret;
}

int mc_ctx_index(struct mc_ctx *ctx, struct mc_index **out)
{
	int ret = 0;
	if (!ctx->index) {
		if ((ret = mc_paths_create(&ctx->paths)))
			return not_ours(ret);
		if (!ctx->root_locked && (ret = lock_root(ctx, MC_LOCK_SHARED, ROOT_WAIT_MS)))
			return ret;
		ret = mc_index_open(&ctx->index, ctx->paths.index);
	}
	*out = ctx->index;
	return ret;
}

int mc_ctx_index_view(struct mc_ctx *ctx, struct mc_index **out)
{
	int ret = 0;
	if (!ctx->index) {
		ret = mc_index_open_readonly(&ctx->index, ctx->paths.index);
		if (ret == MC_ENOTFOUND) {
			mc_error_clear();
			return mc_ctx_index(ctx, out);
		}
		ctx->index_readonly = !ret;
	}
	*out = ctx->index;
	return not_ours(ret);
}

int mc_ctx_lock_root(struct mc_ctx *ctx)
{
	int ret;
	if (ctx->root_locked == 2)
		return 0;
	if (ctx->root_locked) {
		mc_lock_release(&ctx->root_lock);
		ctx->root_locked = 0;
	}
	if ((ret = mc_paths_create(&ctx->paths)))
		return ret;
	return lock_root(ctx, MC_LOCK_EXCLUSIVE, REPAIR_WAIT_MS);
}

int mc_ctx_engine(struct mc_ctx *ctx, struct mc_engine **out)
{
	int ret = 0;
	if (!ctx->engine && !(ret = mc_engine_open(&ctx->engine, ctx->cfg.docker_host)))
		mc_engine_set_transfer_idle(ctx->engine, ctx->cfg.registry_stall_ms);
	*out = ctx->engine;
	return ret;
}

/* A new index (no root id, no rows) in a root whose trees/ is not empty lost
 * its predecessor: the id comes back from the labels of the images whose keys
 * have trees here, so those images stay this root's (docs/operations.md,
 * "Recovering a cache"). 0 with found[0] == 0 when there is nothing to recover
 * or the labels do not name one id. */
static int root_id_from_labels(struct mc_ctx *ctx, struct mc_index *ix, char found[65])
{
	char *known = NULL;
	int ret, rows = 0;

	found[0] = 0;
	ret = mc_index_meta_get(ix, &known, MC_META_ROOT_ID);
	free(known);
	if (ret != MC_ENOTFOUND || (ret = mc_index_has_entries(ix, &rows)) || rows)
		return ret;
	ret = mc_ctx_recover_root_id(ctx, found);
	if (ret == MC_ENOTFOUND || ret == MC_EINVAL) {
		/* no match, or a tie that only doctor --repair --root-id can settle */
		found[0] = 0;
		mc_error_clear();
		ret = 0;
	}
	return ret;
}

/* A view's read-only index gives the root id it holds; one that holds none is
 * reopened writable, for the id is made and stored once (a read-only file
 * system then says so). */
static int writable_unless_known(struct mc_ctx *ctx, struct mc_index **ix)
{
	char *known = NULL;
	int ret;

	if (!ctx->index_readonly)
		return 0;
	ret = mc_index_meta_get(*ix, &known, MC_META_ROOT_ID);
	if (!ret)
		snprintf(ctx->root_id, sizeof(ctx->root_id), "%.64s", known);
	free(known);
	if (ret != MC_ENOTFOUND)
		return ret;
	mc_error_clear();
	mc_index_free(ctx->index);
	ctx->index = NULL;
	ctx->index_readonly = 0;
	return mc_ctx_index(ctx, ix);
}

int mc_ctx_root_id(struct mc_ctx *ctx, const char **out)
{
	struct mc_index *ix;
	char legacy[17], found[65];
	int ret = 0;

	if (!ctx->root_id[0]) {
		if ((ret = mc_ctx_index(ctx, &ix)) || (ret = writable_unless_known(ctx, &ix)) ||
		    (ret = root_id_from_labels(ctx, ix, found)))
			return ret;
		mc_root_id_legacy(legacy, ctx->paths.root);
		if (found[0])
			ret = mc_index_root_id_claim(ix, ctx->root_id, found, 0);
		else
			ret = mc_index_root_id(ix, ctx->root_id, legacy);
	}
	*out = ctx->root_id;
	return ret;
}

void mc_ctx_release(struct mc_ctx *ctx)
{
	mc_index_free(ctx->index);
	if (ctx->root_locked)
		mc_lock_release(&ctx->root_lock);
	mc_engine_free(ctx->engine);
	mc_config_release(&ctx->cfg);
	mc_paths_release(&ctx->paths);
	memset(ctx, 0, sizeof(*ctx));
}
