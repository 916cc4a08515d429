/* ensure.c — the ensure pipeline: resolve, key, verify a hit, or fetch, check out and build a miss. */
#include "ensure.h"
#include "run.h"

#include <ctype.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../context/context.h"
#include "../context/dockerfile.h"
#include "../git/git.h"
#include "../git/url.h"
#include "../store/key.h"
#include "../store/names.h"

void mc_ensure_result_release(struct mc_ensure_result *r)
{
	if (!r)
		return;
	free(r->tag);
	free(r->image_id);
	free(r->commit);
	free(r->log_path);
	free(r->failed_step);
	mc_strv_release(&r->failed_output);
	memset(r, 0, sizeof(*r));
}

static void on_fetch_progress(void *ud, const struct mc_git_progress *p)
{
	struct run *r = ud;
	r->fetched_objects = p->received_objects;
	if (!r->fetch_begun) {
		r->fetch_begun = 1;
		mc_emit_phase_begin(r->ev, "fetch");
	}
	mc_emit(r->ev, &(struct mc_event){ .kind = MC_EV_FETCH, .phase = "fetch", .git = p });
}

/* Takes the mirror's lock and makes sure the mirror holds the commit. The lock
 * stays held (the caller reads the mirror under it, then releases it): one
 * fetch into a mirror at a time, and gc --prune-mirrors never removes a mirror
 * being read. */
int run_lock_and_fetch(struct run *r, struct mc_lock *lock)
{
	int64_t t0 = mc_mono_ms();
	int fetched = 0, ret;

	if ((ret = mc_lock_take(lock, r->repo_lock, MC_LOCK_EXCLUSIVE, r->ctx->cfg.lock_timeout_s * 1000)))
		return ret == MC_ELOCKED ? mc_error_set(MC_ELOCKED, "mirror of '%s': still locked after %d s",
							r->clean_url, r->ctx->cfg.lock_timeout_s)
					 : ret;
	/* the phase is announced only when a fetch really happens (the mirror
	 * often holds the commit already), and each begin gets its end */
	ret = mc_git_mirror_fetch(r->mirror, r->url, r->resolved_ref, r->sha, r->ctx->cfg.git_token,
				  on_fetch_progress, r, &fetched);
	if (ret == MC_ENOTFOUND)
		ret = MC_EUNREACHABLE; /* the remote advertised a commit it did not send */
	else if (ret && run_out_of_space(r, ret))
		ret = MC_ENOSPC;
	if (fetched && !r->fetch_begun)
		mc_emit_phase_begin(r->ev, "fetch");
	if (fetched || r->fetch_begun)
		mc_emit_phase_end(r->ev, "fetch", t0);
	r->fetch_begun = 0;
	if (!ret && fetched) {
		/* counters prove a hit fetched nothing and a new commit fetched little */
		mc_index_counter_add(r->ix, "fetches", 1);
		mc_index_counter_add(r->ix, "fetched_objects", r->fetched_objects);
	}
	if (ret)
		mc_lock_release(lock);
	return ret;
}

/* Is the entry's image still in the engine? 1 usable, 0 gone, < 0 engine
 * error. img (an initialised mc_image) receives what the engine said about
 * the image. retag: put the key's tag back if only the tag was removed (the
 * ensure path); without it nothing is sent but GETs (explain). A row without
 * a usable "repo:tag" (NULL, no colon: a damaged row) counts as gone, so that
 * ensure rebuilds it and writes a whole row. */
static int image_check(struct run *r, const struct mc_entry *e, struct mc_image *img, int retag)
{
	const char *colon = e->image_tag ? strrchr(e->image_tag, ':') : NULL;
	int ret;

	if (!colon || colon == e->image_tag || !colon[1] || strchr(colon, '/'))
		return 0;
	ret = mc_engine_image_inspect(r->eng, e->image_tag, img);
	if (!ret && e->image_id && !strcmp(img->id, e->image_id))
		return 1;
	/* the key's tag names another image of this key (another cache root on
	 * this engine built or pulled the same inputs): that is the key's image
	 * too, and taking the tag back would take it from that root */
	const char *k = ret ? NULL : mc_image_label(img, "molcache.key");
	if (k && !strcmp(k, e->key))
		return 1;
	if (ret && ret != MC_ENOTFOUND)
		return ret;
	if (!e->image_id)
		return 0;
	ret = mc_engine_image_inspect(r->eng, e->image_id, img);
	if (ret == MC_ENOTFOUND)
		return 0;
	if (ret || !retag)
		return ret ? ret : 1;
	char *repo = mc_strndup(e->image_tag, (size_t)(colon - e->image_tag));
	ret = mc_engine_image_tag(r->eng, e->image_id, repo, colon + 1);
	free(repo);
	return ret ? ret : 1;
}

/* image_check for the ensure path: retags a key tag that was removed. */
int run_image_alive(struct run *r, const struct mc_entry *e, struct mc_image *img)
{
	return image_check(r, e, img, 1);
}

/* How long a hit's bookkeeping waits for another process's write lock before
 * it is skipped: the hit is served either way. */
#define ACCOUNT_WAIT_MS 1000

/* The hit's bookkeeping (latest pointer, last use, counter, lease) in one
 * transaction, so gc never sees a served entry without its lease. Best
 * effort: a full disk, a busy or read-only index costs a warning, never the
 * hit (the image is there). */
static void account(struct run *r, const struct mc_entry *e, const char *counter)
{
	int64_t lease_ms = r->opts->lease_ms;
	int ret;

	mc_index_busy_wait(r->ix, ACCOUNT_WAIT_MS);
	if ((ret = mc_index_begin(r->ix)) || (ret = mc_index_latest_set(r->ix, e->runtime, e->key)) ||
	    (ret = mc_index_touch(r->ix, e->key, mc_now_ms())) ||
	    (counter && (ret = mc_index_counter_add(r->ix, counter, 1))) ||
	    (lease_ms > 0 && (ret = mc_index_lease_put(r->ix, e->key, mc_now_ms() + lease_ms))) ||
	    (ret = mc_index_commit(r->ix))) {
		mc_index_rollback(r->ix);
		mc_emit_warn(r->ev, "served %s, but its last use%s was not recorded: %s", e->image_tag,
			     lease_ms > 0 ? " and lease" : "", mc_error_msg());
		mc_error_clear();
	}
	mc_index_busy_wait(r->ix, -1);
}

/* Before :latest moves: if it names an image another cache root built on
 * this engine, say so once (both roots' views name their own image as
 * :latest; tag_namespace keeps two roots apart, docs/operations.md). */
static void warn_latest_of_other_root(struct run *r, const char *latest)
{
	struct mc_image cur = MC_IMAGE_INIT;
	const char *mine = NULL, *theirs;

	if (!mc_engine_image_inspect(r->eng, latest, &cur) && (theirs = mc_image_label(&cur, "molcache.root")) &&
	    !mc_ctx_root_id(r->ctx, &mine) && strcmp(theirs, mine))
		mc_emit_warn(r->ev, "%s named an image of cache root %s; it now names one of this root (%s): two "
				    "cache roots share this engine, set tag_namespace to keep them apart",
			     latest, theirs, mine);
	mc_error_clear();
	mc_image_release(&cur);
}

/* Serves a ready entry, under its key lock: the :latest alias, then the
 * bookkeeping (account). img (may be NULL) is the engine's word on the image:
 * if :latest is already on it, the common repeated hit, the tag request is
 * saved. */
int run_serve(struct run *r, const struct mc_entry *e, const struct mc_image *img, const char *counter,
	      struct mc_ensure_result *out)
{
	int64_t t0 = mc_mono_ms();
	char *repo = mc_image_repo(e->runtime);
	char *latest = mc_asprintf("%s:latest", repo);
	/* the image the engine showed (the key's tag may name another root's copy) */
	const char *id = img && img->id[0] ? img->id : e->image_id;
	int ret = 0;

	mc_emit_phase_begin(r->ev, "tag");
	if (!(img && mc_strv_find(&img->tags, latest) >= 0)) {
		warn_latest_of_other_root(r, latest);
		if ((ret = mc_engine_image_tag(r->eng, id, repo, "latest")))
			goto done;
	}
	account(r, e, counter);
	mc_emit_phase_end(r->ev, "tag", t0);
	memcpy(out->key, e->key, 65);
	free(out->commit);
	out->tag = mc_strdup(e->image_tag);
	out->image_id = mc_strdup(id);
	out->commit = mc_strdup(e->head_sha ? e->head_sha : "");
done:
	free(latest);
	free(repo);
	return ret;
}

/* Under a key lock: the ready entry of key if its image is alive. 1 served, 0 not. */
static int try_serve_key(struct run *r, const char *key, struct mc_ensure_result *out)
{
	struct mc_entry e = { 0 };
	struct mc_image img = MC_IMAGE_INIT;
	int ret = mc_index_get(r->ix, &e, key);
	if (ret == MC_ENOTFOUND)
		return 0;
	if (ret)
		return ret;
	if (e.state == MC_STATE_READY && (ret = run_image_alive(r, &e, &img)) == 1)
		ret = run_serve(r, &e, &img, "hits", out) ? mc_error_code() : 1;
	mc_image_release(&img);
	mc_entry_release(&e);
	return ret;
}

static int try_serve(struct run *r, struct mc_ensure_result *out) { return try_serve_key(r, r->key, out); }

/* trees/<key> from the mirror: checked out under tmp/ and renamed into place. */
static int make_tree(struct run *r, const char *tree)
{
	struct stat st;
	struct mc_lock lock = MC_LOCK_INIT;
	char *tmp = NULL;
	int64_t t0;
	int ret = 0;

	if (lstat(tree, &st) == 0 && S_ISDIR(st.st_mode))
		return 0; /* a tree appears only by rename(): if it is there, it is whole */
	if ((ret = run_lock_and_fetch(r, &lock)))
		return ret;
	t0 = mc_emit_phase_begin(r->ev, "checkout");
	tmp = mc_asprintf("%s/%s.%ld", r->ctx->paths.tmp, r->key, (long)getpid());
	if ((ret = mc_rm_rf(tmp)))
		goto done;
	if ((ret = mc_git_checkout(r->mirror, r->sha, tmp)))
		goto done;
	if (rename(tmp, tree)) {
		ret = mc_error_errno(tree);
		goto done;
	}
	mc_emit_phase_end(r->ev, "checkout", t0);
done:
	mc_lock_release(&lock);
	if (ret)
		mc_rm_rf(tmp);
	free(tmp);
	return ret;
}

/* BuildKit without a session cannot pull: every external FROM image is pulled
 * first. The Dockerfile is read from the commit, as for its hash (the
 * checkout is not read: see run_read_template_file). */
static int prepull(struct run *r, const struct mc_strv *args)
{
	struct mc_strv images = MC_STRV_INIT;
	struct mc_buf df = MC_BUF_INIT;
	int64_t t0 = mc_mono_ms();
	int ret = 0;

	if ((ret = run_read_dockerfile(r, &df)))
		goto done;
	if ((ret = mc_dockerfile_from_images(&images, mc_buf_cstr(&df), df.len, args))) {
		ret = run_template_error(r, ret);
		goto done;
	}
	mc_emit_phase_begin(r->ev, "pull");
	for (size_t i = 0; i < images.n; i++) {
		ret = mc_engine_image_inspect(r->eng, images.v[i], NULL);
		if (ret != MC_ENOTFOUND)
			goto check;
		mc_emit_text(r->ev, MC_EV_PULL, "pull", images.v[i]);
		ret = mc_engine_image_pull(r->eng, images.v[i], r->platform);
	check:
		if (ret) {
			/* the engine's words already name the image ("pull of 'x': …") */
			mc_error_wrap(MC_EBUILD, "base image");
			mc_error_hint("is the registry reachable? pull it yourself (the image must be in the engine), "
				      "or point the FROM line elsewhere with --build-arg BASE=…");
			ret = MC_EBUILD;
			goto done;
		}
	}
	mc_emit_phase_end(r->ev, "pull", t0);
done:
	mc_buf_release(&df);
	mc_strv_release(&images);
	return ret;
}

/* This run's inputs as a row without an image (pointers into r). */
void run_entry(struct mc_entry *e, const struct run *r)
{
	*e = (struct mc_entry){ 0 };
	e->key = (char *)r->key;
	e->runtime = (char *)r->runtime;
	e->repo_prefix = r->clean_prefix;
	e->ref = r->ctx->cfg.ref ? r->ctx->cfg.ref : "";
	e->head_sha = (char *)r->sha;
	e->dockerfile_path = r->ctx->cfg.dockerfile;
	e->dockerfile_hash = (char *)r->dfhash;
	e->platform = (char *)r->platform;
	e->build_args = r->build_args;
	e->image_tag = r->tag;
}

/* Under the exclusive key lock, on a miss: an image of this root labelled with
 * this key (the index lost its row) is taken back instead of rebuilt. 1
 * served, 0 none. The row comes from this run's inputs, which give the key. */
static int adopt(struct run *r, struct mc_ensure_result *out)
{
	struct mc_strv want = MC_STRV_INIT;
	struct mc_entry e = { 0 };
	struct mc_image *list = NULL, *pick = NULL;
	const char *root_id, *id;
	char *tree = NULL, *repo = NULL, *lk, *lr;
	struct stat st;
	size_t i, n = 0;
	int ret;

	if ((ret = mc_ctx_root_id(r->ctx, &root_id)))
		goto done;
	mc_strv_push(&want, lk = mc_asprintf("molcache.key=%s", r->key));
	mc_strv_push(&want, lr = mc_asprintf("molcache.root=%s", root_id));
	free(lk);
	free(lr);
	if ((ret = mc_engine_image_list(&list, &n, r->eng, &want, 0)))
		goto done;
	/* the newest, should there be several */
	for (i = 0; i < n; i++)
		if (!pick || list[i].created > pick->created)
			pick = &list[i];
	if (!pick)
		goto done;
	id = pick->id;
	tree = mc_asprintf("%s/%s", r->ctx->paths.trees, r->key);
	run_entry(&e, r);
	e.image_id = (char *)id;
	if (lstat(tree, &st) == 0 && S_ISDIR(st.st_mode)) {
		e.tree_path = tree;
		e.tree_bytes = mc_du(tree);
	}
	e.state = MC_STATE_READY;
	e.image_bytes = pick->size;
	e.created_ms = pick->created * 1000;
	e.last_used_ms = mc_now_ms();
	repo = mc_image_repo(r->runtime);
	if ((ret = mc_engine_image_tag(r->eng, id, repo, r->tag + strlen(repo) + 1)) || (ret = mc_index_put(r->ix, &e)) ||
	    (ret = mc_index_failure_clear(r->ix, r->key)) || (ret = run_serve(r, &e, NULL, "adopted", out)))
		goto done;
	ret = 1;
done:
	mc_images_free(list, n);
	mc_strv_release(&want);
	free(tree);
	free(repo);
	return ret;
}

/* Under the exclusive key lock: tree, pre-pull, build, record. */
static int build(struct run *r, struct mc_ensure_result *out)
{
	struct mc_entry e = { 0 };
	struct mc_strv args = MC_STRV_INIT, labels = MC_STRV_INIT, seeds = MC_STRV_INIT;
	char *seed_ref = NULL;
	struct mc_context *tar = NULL;
	struct run_build_log bl = { r, NULL, NULL };
	struct mc_buf tail = MC_BUF_INIT, ignore = MC_BUF_INIT;
	struct mc_image img = MC_IMAGE_INIT;
	char *tree = mc_asprintf("%s/%s", r->ctx->paths.trees, r->key);
	char *log_path = run_attempt_log(r), *df_path = NULL;
	char id[80] = "";
	int64_t started = mc_now_ms(), t0;
	int has_ignore = 0, drops = 0, ret;

	run_entry(&e, r);
	e.tree_path = tree;
	e.state = MC_STATE_BUILDING;
	e.created_ms = e.last_used_ms = started;
	if ((ret = mc_index_put(r->ix, &e)))
		goto done;
	if ((ret = make_tree(r, tree)))
		goto done;
	if ((ret = run_build_args(r, &args)))
		goto done;
	if ((ret = prepull(r, &args)))
		goto done;

	/* every input of the row, so that a lost index is rebuilt from the engine */
	const char *root_id;
	if ((ret = mc_ctx_root_id(r->ctx, &root_id)))
		goto done;
	mc_labels_of_entry(&labels, &e, root_id);
	char built[32];
	mc_format_rfc3339(built, started);
	char *bl_label = mc_asprintf(MC_LABEL_BUILT "=%s", built);
	mc_strv_push(&labels, bl_label);
	free(bl_label);
	if ((ret = run_build_inputs(r, &df_path, &ignore, &has_ignore)))
		goto done;
	if ((ret = mc_context_open_ignore(&tar, tree, df_path, r->ignore_for, has_ignore ? mc_buf_cstr(&ignore) : NULL,
					  ignore.len, &drops))) {
		ret = run_template_error(r, ret);
		goto done;
	}
	run_build_log_open(&bl, r, log_path);
	const char *tags[] = { r->tag, NULL };
	run_share_seed(r, &e, &args, &seeds, &seed_ref);
	struct mc_build_req req = {
		.context = tar,
		.dockerfile = df_path,
		/* over the API only the classic builder drops an excluded Dockerfile
		 * or .dockerignore from what COPY sees, as docker does */
		.classic = drops,
		.tags = tags,
		.platform = r->platform,
		.networkmode = r->ctx->cfg.networkmode,
		.build_args = &args,
		.labels = &labels,
		.build_id = r->key,
		.stall_ms = mc_config_build_stall_ms(&r->ctx->cfg),
		.ceiling_ms = mc_config_build_timeout_ms(&r->ctx->cfg),
		.progress = run_build_log_line,
		.ud = &bl,
		.cache_from = &seeds,
	};
	t0 = mc_emit_phase_begin(r->ev, "build");
	ret = mc_engine_build(r->eng, &req, id, &tail);
	run_build_log_close(&bl);
	out->log_path = mc_strdup(log_path);
	if (ret) {
		run_build_log_failed(&bl, out);
		goto done;
	}
	mc_emit_phase_end(r->ev, "build", t0);
	if ((ret = mc_engine_image_inspect(r->eng, id, &img)))
		goto done;

	e.image_id = id;
	e.image_bytes = img.size;
	e.tree_bytes = mc_du(tree);
	e.build_ms = mc_now_ms() - started;
	e.state = MC_STATE_READY;
	if ((ret = mc_index_put(r->ix, &e)) || (ret = mc_index_failure_clear(r->ix, r->key)))
		goto done;
	mc_index_build_record(r->ix, r->key, started, e.build_ms, 1, log_path);
	ret = run_serve(r, &e, NULL, "builds", out);
	out->built = 1;
done:
	if (ret && ret != MC_ELOCKED) {
		if (run_out_of_space(r, ret)) {
			struct mc_error_saved why;
			mc_error_save(&why); /* best effort on a full disk: a row left building is gc's */
			mc_index_set_state(r->ix, r->key, MC_STATE_FAILED);
			mc_error_restore(&why);
			ret = MC_ENOSPC;
		} else
			run_build_failed(r, out, ret, started, log_path, &tail);
	}
	run_build_log_release(&bl);
	run_share_seed_release(r, &seeds, seed_ref);
	mc_context_free(tar);
	mc_strv_release(&args);
	mc_strv_release(&labels);
	mc_buf_release(&tail);
	mc_buf_release(&ignore);
	free(df_path);
	mc_image_release(&img);
	free(tree);
	free(log_path);
	return ret;
}

/*
 * Under the key's exclusive lock, before anything of ours is made: removes the
 * checkouts tmp/<key>.<pid> that an ensure killed mid-checkout left (about
 * 40 MB each). Only an ensure holding this exclusive lock creates, renames or
 * removes them, so while we hold it every one is a leftover, whatever its pid
 * now names: kill(pid, 0) would say nothing useful for a pid reused since, or
 * from another pid namespace sharing the root, while the flock holds across
 * both. Failures are left for gc's sweep of tmp/.
 */
static void remove_leftovers(struct run *r)
{
	DIR *d = opendir(r->ctx->paths.tmp);
	struct dirent *de;
	int64_t removed = 0;

	if (!d)
		return;
	while ((de = readdir(d))) {
		const char *n = de->d_name, *p = n + 65;
		if (strncmp(n, r->key, 64) || n[64] != '.' || !*p)
			continue;
		while (isdigit((unsigned char)*p))
			p++;
		if (*p)
			continue; /* not a name make_tree() gives */
		char *path = mc_asprintf("%s/%s", r->ctx->paths.tmp, n);
		removed += mc_rm_rf(path) == 0;
		free(path);
	}
	closedir(d);
	if (removed)
		mc_index_counter_add(r->ix, "leftovers_removed", removed);
}

static int lock_key_of(struct run *r, const char *key, struct mc_lock *l, enum mc_lock_mode mode)
{
	char *path = mc_lock_path_key(&r->ctx->paths, key);
	int ret = mc_lock_take(l, path, mode, r->ctx->cfg.lock_timeout_s * 1000);
	free(path);
	if (ret == MC_ELOCKED) {
		mc_error_set(MC_ELOCKED, "key %.12s of '%s': still locked after %d s", key, r->runtime,
			     r->ctx->cfg.lock_timeout_s);
		mc_error_hint("another molcache is building it; raise lock_timeout or wait");
	}
	return ret;
}

/* This run's key; under the exclusive lock, a killed ensure's checkouts go first. */
static int lock_key(struct run *r, struct mc_lock *l, enum mc_lock_mode mode)
{
	int ret = lock_key_of(r, r->key, l, mode);
	if (!ret && mode == MC_LOCK_EXCLUSIVE)
		remove_leftovers(r);
	return ret;
}

/* Resolve, Dockerfile hash, key: everything the key needs (fetches only for a
 * commit whose Dockerfile hash the index does not know yet). */
static int derive_key(struct run *r)
{
	struct mc_key_inputs in;
	char url_hash[65];
	int64_t t0 = mc_emit_phase_begin(r->ev, "resolve");
	int ret;

	ret = mc_git_resolve(r->sha, &r->resolved_ref, r->url, r->ctx->cfg.ref, r->ctx->cfg.git_token);
	if (ret == MC_ENOTFOUND)
		ret = MC_EUNREACHABLE;
	if (ret)
		return ret;
	mc_emit_phase_end(r->ev, "resolve", t0);

	mc_sha256_hex(url_hash, r->clean_url, strlen(r->clean_url));
	r->mirror = mc_asprintf("%s/%s.git", r->ctx->paths.repos, url_hash);
	r->repo_lock = mc_lock_path_repo(&r->ctx->paths, url_hash);
	if ((ret = run_dockerfile_hash(r)))
		return ret;

	in = (struct mc_key_inputs){ r->runtime, r->clean_prefix, r->sha, r->dfhash, r->platform,
				     &r->ctx->cfg.build_args };
	if ((ret = mc_key_derive(r->key, &in)))
		return ret;
	if (in.build_args->n && (ret = mc_key_derive_legacy(r->legacy_key, &in)))
		return ret;
	r->build_args = mc_key_build_args_canonical(&r->ctx->cfg.build_args);
	r->tag = mc_asprintf("%s/%s:%.12s", mc_tag_namespace(), r->runtime, r->key);
	return 0;
}

/* A row keyed before build-arg values were hashed into the key (its
 * build_args column was rehashed on upgrade) is still served: an upgrade
 * rebuilds nothing. 1 served, 0 none. */
static int serve_legacy(struct run *r, struct mc_ensure_result *out)
{
	struct mc_lock lock = MC_LOCK_INIT;
	int ret;

	if (!r->legacy_key[0] || (ret = lock_key_of(r, r->legacy_key, &lock, MC_LOCK_SHARED)))
		return 0;
	ret = try_serve_key(r, r->legacy_key, out);
	mc_lock_release(&lock);
	return ret;
}

/* BuildKit's SecretsUsedInArgOrEnv, for the args of this call: a value sent
 * as a build arg is in the image's history for anyone who pulls it. */
static void warn_secret_args(struct run *r)
{
	const struct mc_strv *args = &r->ctx->cfg.build_args;

	for (size_t i = 0; i < args->n; i++) {
		size_t n = strcspn(args->v[i], "=");
		if (mc_key_arg_looks_secret(args->v[i], n))
			mc_emit_warn(r->ev, "build arg %.*s looks like a secret: the engine records build-arg values in "
					    "the image's history (docker history shows them); use a secret mount "
					    "(docs/key-format.md, Build args)", (int)n, args->v[i]);
	}
}

static int ensure_online(struct run *r, struct mc_ensure_result *out)
{
	struct mc_lock lock = MC_LOCK_INIT;
	int ret;

	warn_secret_args(r);
	if ((ret = derive_key(r)))
		goto done;
	out->commit = mc_strdup(r->sha);

	/* a hit runs under a shared lock, in parallel with other hits */
	if ((ret = lock_key(r, &lock, MC_LOCK_SHARED)))
		goto done;
	ret = try_serve(r, out);
	mc_lock_release(&lock);
	if (ret || (ret = serve_legacy(r, out)))
		goto done;

	/* a miss: one builder per key; whoever waited finds the build done */
	if ((ret = lock_key(r, &lock, MC_LOCK_EXCLUSIVE)))
		goto done;
	if ((ret = try_serve(r, out)))
		goto done;
	if ((ret = adopt(r, out))) {
		if (ret == 1 && mc_fleet_origin_set(r->ix, r->key, "adopted"))
			mc_error_clear();
		goto done;
	}
	if ((ret = run_share_fetch(r, out)) || (ret = run_failure_gate(r, out)) || (ret = run_share_claim(r, out)))
		goto done;
	mc_index_counter_add(r->ix, "misses", 1);
	if (!(ret = build(r, out)))
		ret = run_share_push(r, out);
done:
	run_share_unclaim(r);
	mc_lock_release(&lock);
	return ret == 1 ? 0 : ret;
}

/* The platform: asked for, else the engine's native one, remembered in the
 * index per engine so that a hit does not pay for GET /version. */
static int native_platform(struct run *r)
{
	char *name, *known = NULL;
	const char *p;
	int ret;

	if (r->ctx->cfg.platform) {
		r->platform = r->ctx->cfg.platform;
		return 0;
	}
	name = mc_asprintf("engine-platform:%s", mc_engine_where(r->eng));
	ret = mc_index_meta_get(r->ix, &known, name);
	if (!ret) {
		r->platform = r->platform_buf = known;
	} else if (ret == MC_ENOTFOUND) {
		if (!(p = mc_engine_platform(r->eng))) {
			ret = mc_error_code();
		} else {
			ret = 0;
			r->platform = r->platform_buf = mc_strdup(p);
			mc_index_busy_wait(r->ix, ACCOUNT_WAIT_MS);
			if (mc_index_meta_put(r->ix, name, p)) /* only saves the next run a GET /version */
				mc_error_clear();
			mc_index_busy_wait(r->ix, -1);
		}
	}
	free(name);
	return ret;
}

static int run_init(struct run *r, struct mc_ctx *ctx, const struct mc_ensure_opts *opts)
{
	const char *prefix = ctx->cfg.repo_prefix;
	int ret;

	*r = (struct run){ .ctx = ctx, .opts = opts, .ev = &opts->events, .runtime = opts->runtime };
	if ((ret = mc_runtime_check(opts->runtime, &ctx->cfg.runtimes)))
		return ret;
	/* --offline never asks the remote: without a prefix it matches any */
	if ((!prefix || !*prefix) && !opts->offline) {
		ret = mc_error_set(MC_EINVAL, "no template repository prefix");
		mc_error_hint("pass --repo-prefix URL or set MOLCACHE_REPO_PREFIX");
		return ret;
	}
	if ((ret = mc_ctx_index(ctx, &r->ix)) || (ret = mc_ctx_engine(ctx, &r->eng)))
		return ret;
	r->fleet = (struct mc_fleet){ .ix = r->ix, .eng = r->eng, .required = ctx->cfg.registry_required, .ev = r->ev };
	if ((ret = native_platform(r)))
		return ret;
	if (prefix && *prefix) {
		char *url = mc_asprintf("%s%s", prefix, opts->runtime);
		r->url = mc_git_local_url(url);
		free(url);
		r->clean_url = mc_url_strip_credentials(r->url);
		r->clean_prefix = mc_url_strip_credentials(prefix);
	}
	return 0;
}

static void run_release(struct run *r)
{
	free(r->platform_buf);
	free(r->url);
	free(r->clean_url);
	free(r->clean_prefix);
	free(r->mirror);
	free(r->repo_lock);
	free(r->resolved_ref);
	free(r->tag);
	free(r->build_args);
	mc_registry_free(r->fleet.reg);
}

/* The seeds' variable, MOLECULE_IMAGE_REGISTRY: prebuilt templates, nothing
 * built (docs/fleet.md). */
static int ensure_compat(struct mc_ctx *ctx, const struct mc_ensure_opts *opts, struct mc_ensure_result *out)
{
	const struct mc_config *cfg = &ctx->cfg;
	struct mc_fleet f = { .required = cfg->registry_required, .ev = &opts->events };
	int ret;

	if (!(ret = mc_runtime_check(opts->runtime, &cfg->runtimes)) && !(ret = mc_ctx_index(ctx, &f.ix)) &&
	    !(ret = mc_ctx_engine(ctx, &f.eng)) &&
	    !(ret = mc_registry_open(&f.reg, cfg->compat_registry, cfg->registry_user, cfg->registry_password)) &&
	    !(ret = mc_fleet_compat(&f, opts->runtime, cfg->platform, &out->tag, &out->image_id)))
		out->commit = mc_strdup("");
	mc_registry_free(f.reg);
	return ret;
}

int mc_ensure(struct mc_ctx *ctx, const struct mc_ensure_opts *opts, struct mc_ensure_result *out)
{
	struct run r;
	int ret;

	memset(out, 0, sizeof(*out));
	if (ctx->cfg.compat_registry && !ctx->cfg.registry && !opts->offline)
		return ensure_compat(ctx, opts, out);
	if (!(ret = run_init(&r, ctx, opts)))
		ret = opts->offline ? run_offline(&r, out) : ensure_online(&r, out);
	if (ret == MC_EUNREACHABLE && r.ix)
		run_offline_hint(&r);
	run_release(&r);
	return ret;
}

int mc_ensure_inputs(struct mc_ctx *ctx, const struct mc_ensure_opts *opts, struct mc_entry *out, int *cached)
{
	struct mc_entry e = { 0 };
	struct mc_image img = MC_IMAGE_INIT;
	struct run r;
	int ret;

	memset(out, 0, sizeof(*out));
	*cached = 0;
	if ((ret = run_init(&r, ctx, opts)) || (ret = derive_key(&r)))
		goto done;
	out->key = mc_strdup(r.key);
	out->runtime = mc_strdup(r.runtime);
	out->repo_prefix = mc_strdup(r.clean_prefix);
	out->ref = mc_strdup(ctx->cfg.ref ? ctx->cfg.ref : "");
	out->head_sha = mc_strdup(r.sha);
	out->dockerfile_path = mc_strdup(ctx->cfg.dockerfile);
	out->dockerfile_hash = mc_strdup(r.dfhash);
	out->platform = mc_strdup(r.platform);
	out->build_args = mc_strdup(r.build_args);
	out->image_tag = mc_strdup(r.tag);
	ret = mc_index_get(r.ix, &e, r.key);
	if (ret == MC_ENOTFOUND)
		ret = 0;
	else if (!ret)
		*cached = e.state == MC_STATE_READY && image_check(&r, &e, &img, 0) == 1; /* explain never writes */
done:
	mc_image_release(&img);
	mc_entry_release(&e);
	run_release(&r);
	return ret;
}
