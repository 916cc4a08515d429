/* ensure.c — the ensure pipeline: resolve, key, verify a hit, or fetch, check out and build a miss. */
#include "ensure.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "../context/context.h"
#include "../context/dockerfile.h"
#include "../fleet/fleet.h"
#include "../store/key.h"
#include "../store/names.h"
#include "../git/url.h"
#include "recover.h"
#include "../engine/trace.h"

#define MAX_DOCKERFILE (1u << 20)
#define MAX_RUNTIME_VERSION 4096

/* ---- ctx ---------------------------------------------------------------- */

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
	if (!ret) {
		int idle_ms = ctx->cfg.remote_timeout_s * 1000;
		mc_git_set_ca_file(ctx->cfg.ca_file);
		mc_git_set_timeouts(idle_ms < MC_GIT_CONNECT_TIMEOUT_MS ? idle_ms : MC_GIT_CONNECT_TIMEOUT_MS, idle_ms);
	}
done:
	free(cfg_path);
	return ret;
}

int mc_ctx_index(struct mc_ctx *ctx, struct mc_index **out)
{
	int ret = 0;
	if (!ctx->index) {
		if ((ret = mc_paths_create(&ctx->paths)))
			return ret;
		ret = mc_index_open(&ctx->index, ctx->paths.index);
	}
	*out = ctx->index;
	return ret;
}

int mc_ctx_engine(struct mc_ctx *ctx, struct mc_engine **out)
{
	int ret = 0;
	if (!ctx->engine && !(ret = mc_engine_open(&ctx->engine, ctx->cfg.docker_host)))
		mc_engine_set_transfer_idle(ctx->engine, (int64_t)ctx->cfg.remote_timeout_s * 1000);
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
	ret = mc_recover_root_id(ctx, found);
	if (ret == MC_ENOTFOUND || ret == MC_EINVAL) {
		/* no match, or a tie that only doctor --repair --root-id can settle */
		found[0] = 0;
		mc_error_clear();
		ret = 0;
	}
	return ret;
}

int mc_ctx_root_id(struct mc_ctx *ctx, const char **out)
{
	struct mc_index *ix;
	char legacy[17], found[65];
	int ret = 0;

	if (!ctx->root_id[0]) {
		if ((ret = mc_ctx_index(ctx, &ix)) || (ret = root_id_from_labels(ctx, ix, found)))
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
	mc_engine_free(ctx->engine);
	mc_config_release(&ctx->cfg);
	mc_paths_release(&ctx->paths);
	memset(ctx, 0, sizeof(*ctx));
}

char *mc_image_repo(const char *runtime) { return mc_asprintf("molcache/%s", runtime); }

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

/* ---- one run ------------------------------------------------------------ */

/* Everything one ensure call derives, in one place so the steps stay small. */
struct run {
	struct mc_ctx *ctx;
	const struct mc_ensure_opts *opts;
	struct mc_index *ix;
	struct mc_engine *eng;
	const char *runtime;
	char *url;         /* prefix + runtime, may carry credentials: only for libgit2 */
	char *clean_url;   /* credential-free */
	char *clean_prefix;
	char *mirror;      /* repos/<sha256(clean_url)>.git */
	char *repo_lock;
	char *resolved_ref;
	const char *platform;
	char *platform_buf; /* owns platform when it came from the index or engine */
	char sha[41];
	char dfhash[65];
	char key[65];
	char *tag;         /* molcache/<runtime>:<key12> */
	char *build_args;  /* canonical */
	unsigned fetched_objects;
	int fetch_begun;   /* a "fetch" phase_begin is out and wants its end */
	struct mc_registry *reg; /* fleet sharing: opened on a miss when configured */
	int reg_down;      /* the registry failed once (warned): not asked again */
};

static void emit(struct run *r, struct mc_event ev)
{
	if (r->opts->event)
		r->opts->event(r->opts->ud, &ev);
}

static void phase_begin(struct run *r, const char *phase)
{
	emit(r, (struct mc_event){ .kind = MC_EV_PHASE_BEGIN, .phase = phase });
}

static void phase_end(struct run *r, const char *phase, int64_t t0)
{
	emit(r, (struct mc_event){ .kind = MC_EV_PHASE_END, .phase = phase, .ms = mc_mono_ms() - t0 });
}

static void on_fetch_progress(void *ud, const struct mc_git_progress *p)
{
	struct run *r = ud;
	r->fetched_objects = p->received_objects;
	if (!r->fetch_begun) {
		r->fetch_begun = 1;
		phase_begin(r, "fetch");
	}
	emit(r, (struct mc_event){ .kind = MC_EV_FETCH, .phase = "fetch", .git = p });
}

/* Takes the mirror's lock and makes sure the mirror holds the commit. The lock
 * stays held (the caller reads the mirror under it, then releases it): one
 * fetch into a mirror at a time, and gc --prune-mirrors never removes a mirror
 * being read. */
static int lock_and_fetch(struct run *r, struct mc_lock *lock)
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
	if (fetched && !r->fetch_begun)
		phase_begin(r, "fetch");
	if (fetched || r->fetch_begun)
		phase_end(r, "fetch", t0);
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

/* A file molcache itself reads from the template (Dockerfile,
 * .runtime-version): from the commit's tree in the mirror (the caller holds
 * the repo lock and the mirror holds the commit), never from the checkout on
 * disk, where a symlink could point anywhere on the host. A symlink in the
 * commit is refused as the template's fault (exit 5), naming the template and
 * the commit. MC_ENOTFOUND when the commit has no such file. */
static int read_in_mirror(struct run *r, const char *path, size_t max, int follow, struct mc_buf *out)
{
	int ret = mc_git_read_file(out, r->mirror, r->sha, path, max, follow);
	if (ret == MC_EINVAL) {
		char *msg = mc_strdup(mc_error_msg());
		ret = mc_error_set(MC_EBUILD, "template '%s' at %.12s: %s", r->clean_url, r->sha, msg);
		if (follow)
			mc_error_hint("a template file may be a symbolic link only to a file inside the template; "
				      "molcache reads at most %zu bytes of '%s'", max, path);
		else
			mc_error_hint("make '%s' a regular file of the template: molcache never reads it through a "
				      "symbolic link, and reads at most %zu bytes", path, max);
		free(msg);
	}
	return ret;
}

/* read_in_mirror under the repo lock (gc --prune-mirrors waits while we
 * read). The miss fetched already, so lock_and_fetch fetches (and shows a
 * fetch phase) only if a tree left from an earlier run outlived a pruned mirror. */
static int read_template_file(struct run *r, const char *path, size_t max, int follow, struct mc_buf *out)
{
	struct mc_lock lock = MC_LOCK_INIT;
	int ret = lock_and_fetch(r, &lock);

	if (!ret)
		ret = read_in_mirror(r, path, max, follow, out);
	mc_lock_release(&lock);
	return ret;
}

/* What the build reads besides the tree: the Dockerfile's real path (in-tree
 * symlinks followed, as docker's CLI sends it) and .dockerignore's text (from
 * the commit, in-tree links followed; *has_ignore 0 when there is none). */
static int build_inputs(struct run *r, char **df_path, struct mc_buf *ignore, int *has_ignore)
{
	struct mc_lock lock = MC_LOCK_INIT;
	int ret = lock_and_fetch(r, &lock);

	*has_ignore = 0;
	if (!ret && (ret = mc_git_resolve_path(df_path, r->mirror, r->sha, r->ctx->cfg.dockerfile)) == MC_EINVAL) {
		char *msg = mc_strdup(mc_error_msg());
		ret = mc_error_set(MC_EBUILD, "template '%s' at %.12s: %s", r->clean_url, r->sha, msg);
		mc_error_hint("a Dockerfile may be a symbolic link only to a file inside the template");
		free(msg);
	}
	if (!ret) {
		ret = read_in_mirror(r, ".dockerignore", MAX_DOCKERFILE, 1, ignore);
		*has_ignore = ret == 0;
		if (ret == MC_ENOTFOUND)
			ret = 0;
	}
	mc_lock_release(&lock);
	return ret;
}

/* sha256 of the Dockerfile of the commit: remembered per (repo, commit, path),
 * so a hit never fetches. */
static int dockerfile_hash(struct run *r)
{
	struct mc_buf df = MC_BUF_INIT;
	struct mc_lock lock = MC_LOCK_INIT;
	const char *path = r->ctx->cfg.dockerfile;
	int ret = mc_index_dfhash_get(r->ix, r->dfhash, r->clean_url, r->sha, path);
	if (ret != MC_ENOTFOUND)
		return ret;
	if ((ret = lock_and_fetch(r, &lock)))
		goto done;
	ret = read_in_mirror(r, path, MAX_DOCKERFILE, 1, &df);
	if (ret == MC_ENOTFOUND) {
		ret = mc_error_set(MC_EBUILD, "template '%s' at %.12s: no '%s' in the tree", r->clean_url, r->sha,
				   path);
		mc_error_hint("add a Dockerfile to the template or pass --dockerfile PATH");
		goto done;
	}
	if (ret)
		goto done;
	mc_sha256_hex(r->dfhash, df.ptr ? df.ptr : "", df.len);
	ret = mc_index_dfhash_put(r->ix, r->clean_url, r->sha, path, r->dfhash);
done:
	mc_lock_release(&lock);
	mc_buf_release(&df);
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
static int image_alive(struct run *r, const struct mc_entry *e, struct mc_image *img)
{
	return image_check(r, e, img, 1);
}

/* Serves a ready entry, under its key lock: :latest alias, then last use, the
 * latest pointer, the counter (if any) and the lease (if asked) in one index
 * transaction, so gc never sees a served entry without its lease. img (may be
 * NULL) is the engine's word on the image: if :latest is already on it, the
 * common repeated hit, the tag request is saved. */
static int serve(struct run *r, const struct mc_entry *e, const struct mc_image *img, const char *counter,
		 struct mc_ensure_result *out)
{
	int64_t t0 = mc_mono_ms();
	char *repo = mc_image_repo(e->runtime);
	char *latest = mc_asprintf("%s:latest", repo);
	int ret = 0;

	phase_begin(r, "tag");
	if (!(img && !strcmp(img->id, e->image_id) && mc_strv_find(&img->tags, latest) >= 0) &&
	    (ret = mc_engine_image_tag(r->eng, e->image_id, repo, "latest")))
		goto done;
	if ((ret = mc_index_begin(r->ix)))
		goto done;
	if ((ret = mc_index_latest_set(r->ix, e->runtime, e->key)) ||
	    (ret = mc_index_touch(r->ix, e->key, mc_now_ms())) ||
	    (counter && (ret = mc_index_counter_add(r->ix, counter, 1))) ||
	    (r->opts->lease_ms > 0 && (ret = mc_index_lease_put(r->ix, e->key, mc_now_ms() + r->opts->lease_ms))) ||
	    (ret = mc_index_commit(r->ix))) {
		mc_index_rollback(r->ix);
		goto done;
	}
	phase_end(r, "tag", t0);
	memcpy(out->key, e->key, 65);
	free(out->commit);
	out->tag = mc_strdup(e->image_tag);
	out->image_id = mc_strdup(e->image_id);
	out->commit = mc_strdup(e->head_sha ? e->head_sha : "");
done:
	free(latest);
	free(repo);
	return ret;
}

/* Under a key lock: the ready entry if its image is alive. 1 served, 0 not. */
static int try_serve(struct run *r, struct mc_ensure_result *out)
{
	struct mc_entry e = { 0 };
	struct mc_image img = MC_IMAGE_INIT;
	int ret = mc_index_get(r->ix, &e, r->key);
	if (ret == MC_ENOTFOUND)
		return 0;
	if (ret)
		return ret;
	if (e.state == MC_STATE_READY && (ret = image_alive(r, &e, &img)) == 1)
		ret = serve(r, &e, &img, "hits", out) ? mc_error_code() : 1;
	mc_image_release(&img);
	mc_entry_release(&e);
	return ret;
}

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
	if ((ret = lock_and_fetch(r, &lock)))
		return ret;
	t0 = mc_mono_ms();
	phase_begin(r, "checkout");
	tmp = mc_asprintf("%s/%s.%ld", r->ctx->paths.tmp, r->key, (long)getpid());
	if ((ret = mc_rm_rf(tmp)))
		goto done;
	if ((ret = mc_git_checkout(r->mirror, r->sha, tmp)))
		goto done;
	if (rename(tmp, tree)) {
		ret = mc_error_errno(tree);
		goto done;
	}
	phase_end(r, "checkout", t0);
done:
	mc_lock_release(&lock);
	if (ret)
		mc_rm_rf(tmp);
	free(tmp);
	return ret;
}

/* The build args sent to the engine: the user's, plus RUNTIME_VERSION from the
 * first line of the template's .runtime-version, read from the commit (the
 * commit is in the key, so it needs no key field). tree (the checkout) is not
 * read: see read_template_file. */
static int engine_build_args(struct run *r, const char *tree, struct mc_strv *out)
{
	const struct mc_strv *user = &r->ctx->cfg.build_args;
	struct mc_buf rv = MC_BUF_INIT;
	int have_rv = 0, ret = 0;

	(void)tree;
	for (size_t i = 0; i < user->n; i++) {
		mc_strv_push(out, user->v[i]);
		have_rv |= !strncmp(user->v[i], "RUNTIME_VERSION=", 16);
	}
	if (have_rv)
		goto done;
	ret = read_template_file(r, ".runtime-version", MAX_RUNTIME_VERSION, 0, &rv);
	if (ret == MC_ENOTFOUND) {
		ret = 0; /* no file (or not a file: a directory, a submodule): no arg */
		goto done;
	}
	if (ret)
		goto done;
	const char *line = mc_buf_cstr(&rv);
	size_t n = strcspn(line, "\r\n");
	while (n && (line[n - 1] == ' ' || line[n - 1] == '\t'))
		n--;
	if (n && !memchr(line, 0, n)) {
		char *arg = mc_asprintf("RUNTIME_VERSION=%.*s", (int)n, line);
		mc_strv_push(out, arg);
		free(arg);
	}
done:
	mc_buf_release(&rv);
	return ret;
}

/* Bad template content (a FROM line, a .dockerignore pattern) is the
 * template's failure to build (exit 5), not the user's bad input (exit 2). */
static int template_error(struct run *r, int ret)
{
	if (ret != MC_EINVAL)
		return ret;
	char *msg = mc_strdup(mc_error_msg());
	ret = mc_error_set(MC_EBUILD, "template '%s' at %.12s: %s", r->clean_url, r->sha, msg);
	mc_error_hint("fix the template's Dockerfile or .dockerignore");
	free(msg);
	return ret;
}

/* BuildKit without a session cannot pull: every external FROM image is pulled
 * first. The Dockerfile is read from the commit, as for its hash (tree, the
 * checkout, is not read: see read_template_file). */
static int prepull(struct run *r, const char *tree, const struct mc_strv *args)
{
	struct mc_strv images = MC_STRV_INIT;
	struct mc_buf df = MC_BUF_INIT;
	int64_t t0 = mc_mono_ms();
	int ret = 0;

	(void)tree;
	if ((ret = read_template_file(r, r->ctx->cfg.dockerfile, MAX_DOCKERFILE, 1, &df))) {
		if (ret == MC_ENOTFOUND) {
			ret = mc_error_set(MC_EBUILD, "template '%s' at %.12s: no '%s' in the tree", r->clean_url,
					   r->sha, r->ctx->cfg.dockerfile);
			mc_error_hint("add a Dockerfile to the template or pass --dockerfile PATH");
		}
		goto done;
	}
	if ((ret = mc_dockerfile_from_images(&images, mc_buf_cstr(&df), df.len, args))) {
		ret = template_error(r, ret);
		goto done;
	}
	phase_begin(r, "pull");
	for (size_t i = 0; i < images.n; i++) {
		ret = mc_engine_image_inspect(r->eng, images.v[i], NULL);
		if (ret != MC_ENOTFOUND)
			goto check;
		emit(r, (struct mc_event){ .kind = MC_EV_PULL, .phase = "pull", .text = images.v[i] });
		ret = mc_engine_image_pull(r->eng, images.v[i], r->platform);
	check:
		if (ret) {
			/* the engine's words already name the image ("pull of 'x': …") */
			mc_error_set(MC_EBUILD, "base image: %s", mc_error_msg());
			mc_error_hint("is the registry reachable? pull it yourself (the image must be in the engine), "
				      "or point the FROM line elsewhere with --build-arg BASE=…");
			ret = MC_EBUILD;
			goto done;
		}
	}
	phase_end(r, "pull", t0);
done:
	mc_buf_release(&df);
	mc_strv_release(&images);
	return ret;
}

/* The build's output: the classic builder's stream lines as they are, BuildKit's
 * trace records decoded into steps and their output lines; all of it goes to
 * the log file under the cache root and to the front end. */
struct build_log {
	struct run *r;
	FILE *f;
	struct mc_trace *trace;
};

static void on_build_line(void *ud, char kind, const char *data)
{
	struct build_log *bl = ud;
	if (kind == 't') {
		mc_trace_feed_b64(bl->trace, data); /* a damaged record is skipped */
		return;
	}
	if (bl->f)
		fprintf(bl->f, "%s%s", data, data[0] && data[strlen(data) - 1] == '\n' ? "" : "\n");
	emit(bl->r, (struct mc_event){ .kind = MC_EV_BUILD, .phase = "build", .build_kind = kind, .text = data });
}

static void on_step(void *ud, const struct mc_trace_vertex *v, int changed_state)
{
	struct build_log *bl = ud;
	if (!changed_state || !v->name[0])
		return;
	if (bl->f && v->state != MC_TRACE_QUEUED && v->state != MC_TRACE_RUNNING)
		fprintf(bl->f, "#%llu %s %s%s%s\n", (unsigned long long)v->seq + 1, v->name,
			mc_trace_state_name(v->state), v->error[0] ? ": " : "", v->error);
	emit(bl->r, (struct mc_event){ .kind = MC_EV_STEP, .phase = "build", .step = v });
}

static void on_step_log(void *ud, const struct mc_trace_vertex *v, const char *line)
{
	struct build_log *bl = ud;
	if (bl->f)
		fprintf(bl->f, "#%llu %s\n", (unsigned long long)v->seq + 1, line);
	emit(bl->r, (struct mc_event){ .kind = MC_EV_STEP_LOG, .phase = "build", .step = v, .text = line });
}

/* The failing step and its last output lines, for the error report. */
static void record_failure(struct build_log *bl, struct mc_ensure_result *out)
{
	const struct mc_trace_vertex *v = mc_trace_first_failed(bl->trace);
	if (!v)
		return;
	out->failed_step = mc_strdup(v->name);
	for (size_t i = 0; i < v->nlines; i++)
		mc_strv_push(&out->failed_output, mc_trace_vertex_line(v, i));
}

/* ---- failure memory and per-attempt logs ---------------------------------- */

#define LOGS_KEPT 5
#define FAILURE_LINES 10

/* UTC, as the views print times. */
static void fmt_time(char out[32], int64_t ms)
{
	struct tm tm;
	time_t t = (time_t)(ms / 1000);
	if (!gmtime_r(&t, &tm) || !strftime(out, 32, "%Y-%m-%d %H:%M:%SZ", &tm))
		snprintf(out, 32, "-");
}

/* logs/<key>.<n>.log for attempt n (the key's builds so far + 1): each attempt
 * keeps its own log, and only the last LOGS_KEPT attempts' logs stay. */
static char *attempt_log(struct run *r)
{
	const char *logs = r->ctx->paths.logs;
	int64_t n = 0;

	if (mc_index_build_count(r->ix, r->key, &n))
		mc_error_clear(); /* a log name is no reason to fail a build */
	n++;
	for (int64_t m = n - LOGS_KEPT; m > 0; m--) {
		char *old = mc_asprintf("%s/%s.%lld.log", logs, r->key, (long long)m);
		int gone = unlink(old) != 0 && errno == ENOENT;
		free(old);
		if (gone)
			break; /* older ones went with earlier attempts */
	}
	return mc_asprintf("%s/%s.%lld.log", logs, r->key, (long long)n);
}

/* The wait after the count-th failure in a row: the base, doubled per repeat,
 * up to an hour (or the base, when that is longer). */
static int64_t backoff_ms(int64_t base, int64_t count)
{
	int64_t cap = base > MC_FAILURE_BACKOFF_CAP_MS ? base : MC_FAILURE_BACKOFF_CAP_MS, wait = base;
	for (int64_t i = 1; i < count && wait < cap; i++)
		wait *= 2;
	return wait < cap ? wait : cap;
}

/* After a failed build of the key: count it and save what the next calls
 * report instead of building again. Keeps the caller's error message. */
static void remember_failure(struct run *r, const struct mc_ensure_result *out, const char *msg,
			     const struct mc_buf *tail, const char *log_path, int64_t *next_ms)
{
	struct mc_failure old = { 0 };
	struct mc_buf text = MC_BUF_INIT;
	int64_t now = mc_now_ms();
	int ret;

	*next_ms = 0;
	if (r->ctx->cfg.failure_backoff_ms <= 0)
		return;
	ret = mc_index_failure_get(r->ix, &old, r->key);
	if (ret && ret != MC_ENOTFOUND)
		goto done;
	if (out->failed_output.n) {
		size_t from = out->failed_output.n > FAILURE_LINES ? out->failed_output.n - FAILURE_LINES : 0;
		for (size_t i = from; i < out->failed_output.n; i++)
			mc_buf_addf(&text, "%s%s", i > from ? "\n" : "", out->failed_output.v[i]);
	} else if (tail && tail->len) {
		/* no BuildKit step to name: the engine's last lines */
		const char *s = mc_buf_cstr(tail), *p = s + tail->len;
		for (int lines = 0; p > s && lines <= FAILURE_LINES;)
			if (*--p == '\n' && p + 1 < s + tail->len)
				lines++;
		mc_buf_adds(&text, p == s ? p : p + 1);
		while (text.len && text.ptr[text.len - 1] == '\n')
			text.ptr[--text.len] = 0;
	}
	struct mc_failure f = {
		.key = r->key,
		.count = old.count + 1,
		.last_ms = now,
		.next_ms = now + backoff_ms(r->ctx->cfg.failure_backoff_ms, old.count + 1),
		.step = out->failed_step ? out->failed_step : (char *)msg,
		.output = text.len ? (char *)mc_buf_cstr(&text) : NULL,
		.log_path = (char *)log_path,
	};
	if (!mc_index_failure_put(r->ix, &f))
		*next_ms = f.next_ms;
done:
	mc_error_clear();
	mc_failure_release(&old);
	mc_buf_release(&text);
}

/* Under the exclusive key lock, before building: a key whose last build failed
 * fails at once until its next try, with what that build said (no rebuild
 * storm from a restart loop). 0 to go on, else MC_EBUILD. */
static int failure_gate(struct run *r, struct mc_ensure_result *out)
{
	struct mc_failure f = { 0 };
	char when[32], last[32];
	int ret = mc_index_failure_get(r->ix, &f, r->key);

	if (ret == MC_ENOTFOUND) {
		ret = 0;
		goto done;
	}
	if (ret || r->opts->retry || r->ctx->cfg.failure_backoff_ms <= 0 || mc_now_ms() >= f.next_ms)
		goto done;
	for (const char *p = f.output; p && *p;) {
		size_t n = strcspn(p, "\n");
		mc_strv_pushn(&out->failed_output, p, n);
		p += n + (p[n] ? 1 : 0);
	}
	out->failed_step = f.step ? mc_strdup(f.step) : NULL;
	out->log_path = f.log_path ? mc_strdup(f.log_path) : NULL;
	mc_index_counter_add(r->ix, "failed_fast", 1);
	fmt_time(when, f.next_ms);
	fmt_time(last, f.last_ms);
	ret = mc_error_set(MC_EBUILD, "template '%s' at %.12s: the build of key %.12s failed %lld time%s (last at %s)%s%s",
			   r->clean_url, r->sha, r->key, (long long)f.count, f.count == 1 ? "" : "s", last,
			   f.step ? ": " : "", f.step ? f.step : "");
	mc_error_hint("not built again before %s; 'molcache ensure %s --retry' builds now, a new commit builds at once%s%s",
		      when, r->runtime, f.log_path ? "; the build log is at " : "", f.log_path ? f.log_path : "");
done:
	mc_failure_release(&f);
	return ret;
}

/* The row this run's inputs describe; its strings are borrowed from r (never
 * mc_entry_release it). */
static void entry_of_run(struct mc_entry *e, const struct run *r)
{
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
	entry_of_run(&e, r);
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
	    (ret = mc_index_failure_clear(r->ix, r->key)) || (ret = serve(r, &e, NULL, "adopted", out)))
		goto done;
	ret = 1;
done:
	mc_images_free(list, n);
	mc_strv_release(&want);
	free(tree);
	free(repo);
	return ret;
}

/* ---- fleet sharing (docs/fleet.md) ----------------------------------------- */

/* This run's inputs as a row without an image (pointers into r). */
static void fleet_entry(struct run *r, struct mc_entry *e)
{
	*e = (struct mc_entry){ 0 };
	e->key = r->key;
	e->runtime = (char *)r->runtime;
	e->repo_prefix = r->clean_prefix;
	e->ref = r->ctx->cfg.ref ? r->ctx->cfg.ref : "";
	e->head_sha = r->sha;
	e->dockerfile_path = r->ctx->cfg.dockerfile;
	e->dockerfile_hash = r->dfhash;
	e->platform = (char *)r->platform;
	e->build_args = r->build_args;
	e->image_tag = r->tag;
}

/* Under the exclusive key lock, on a local miss: the key's image from the
 * registry, checked, recorded and served. 1 served, 0 not there (or the
 * registry failed: warned), < 0 error. */
static int fleet_fetch(struct run *r, struct mc_ensure_result *out)
{
	struct mc_entry e;
	struct mc_image img = MC_IMAGE_INIT;
	char id[80];
	int ret;

	if (!r->reg && (ret = mc_fleet_registry(&r->reg, &r->ctx->cfg)))
		return ret;
	if (!r->reg)
		return 0;
	fleet_entry(r, &e);
	if ((ret = mc_fleet_pull(r->ctx, r->reg, &e, r->opts, id, &r->reg_down)) <= 0)
		return ret;
	if ((ret = mc_engine_image_inspect(r->eng, id, &img)))
		goto done;
	e.image_id = id;
	e.image_bytes = img.size;
	e.state = MC_STATE_READY;
	e.created_ms = e.last_used_ms = mc_now_ms();
	if ((ret = mc_index_put(r->ix, &e)) || (ret = mc_index_failure_clear(r->ix, r->key)) ||
	    (ret = mc_fleet_origin_set(r->ix, r->key, "pulled")) || (ret = serve(r, &e, &img, NULL, out)))
		goto done;
	ret = 1;
done:
	mc_image_release(&img);
	return ret;
}

/* After a build: the image goes to the registry (mode pull-push). */
static int fleet_share(struct run *r, const struct mc_ensure_result *out)
{
	struct mc_entry e;

	mc_fleet_origin_set(r->ix, r->key, "built");
	mc_error_clear();
	if (!r->reg || r->reg_down || r->ctx->cfg.registry_mode != MC_REGISTRY_PULL_PUSH)
		return 0;
	fleet_entry(r, &e);
	e.image_id = out->image_id;
	return mc_fleet_push(r->ctx, r->reg, &e, r->opts);
}

/* Partial sharing: with a registry, images carry BuildKit's inline cache, and
 * the previous commit's image (local, else pulled) is offered as cachefrom. */
static void fleet_seed(struct run *r, const struct mc_entry *e, struct mc_strv *args, struct mc_strv *seeds,
		       char **seed_ref)
{
	if (!r->reg || !mc_engine_buildkit(r->eng))
		return;
	if (r->ctx->cfg.registry_mode == MC_REGISTRY_PULL_PUSH)
		mc_strv_push(args, "BUILDKIT_INLINE_CACHE=1");
	mc_fleet_cache_from(r->ctx, r->reg_down ? NULL : r->reg, e, r->opts, seeds, seed_ref);
}

/* The pulled seed's remote name goes (by name): local gc owns only its own tags. */
static void fleet_seed_release(struct run *r, struct mc_strv *seeds, char *seed_ref)
{
	if (seed_ref && mc_engine_image_remove(r->eng, seed_ref, 0))
		mc_error_clear();
	free(seed_ref);
	mc_strv_release(seeds);
}

/* Under the exclusive key lock: tree, pre-pull, build, record. */
static int build(struct run *r, struct mc_ensure_result *out)
{
	struct mc_entry e = { 0 };
	struct mc_strv args = MC_STRV_INIT, labels = MC_STRV_INIT, seeds = MC_STRV_INIT;
	char *seed_ref = NULL;
	struct mc_context *tar = NULL;
	struct mc_trace_cb tcb = { .on_vertex = on_step, .on_log = on_step_log };
	struct build_log bl = { r, NULL, NULL };
	struct mc_buf tail = MC_BUF_INIT, ignore = MC_BUF_INIT;
	struct mc_image img = MC_IMAGE_INIT;
	char *tree = mc_asprintf("%s/%s", r->ctx->paths.trees, r->key);
	char *log_path = attempt_log(r), *df_path = NULL;
	char id[80] = "";
	int64_t started = mc_now_ms(), t0, next_ms;
	int has_ignore = 0, drops = 0, ret;

	entry_of_run(&e, r);
	e.tree_path = tree;
	e.state = MC_STATE_BUILDING;
	e.created_ms = e.last_used_ms = started;
	if ((ret = mc_index_put(r->ix, &e)))
		goto done;
	if ((ret = make_tree(r, tree)))
		goto done;
	if ((ret = engine_build_args(r, tree, &args)))
		goto done;
	if ((ret = prepull(r, tree, &args)))
		goto done;

	/* every input of the row, so that a lost index is rebuilt from the engine */
	const char *root_id;
	if ((ret = mc_ctx_root_id(r->ctx, &root_id)))
		goto done;
	mc_labels_of_entry(&labels, &e, root_id);
	if ((ret = build_inputs(r, &df_path, &ignore, &has_ignore)))
		goto done;
	if ((ret = mc_context_open_ignore(&tar, tree, df_path, has_ignore ? mc_buf_cstr(&ignore) : NULL, ignore.len,
					  &drops))) {
		ret = template_error(r, ret);
		goto done;
	}
	bl.f = fopen(log_path, "w");
	tcb.ud = &bl;
	bl.trace = mc_trace_new(&tcb);
	const char *tags[] = { r->tag, NULL };
	fleet_seed(r, &e, &args, &seeds, &seed_ref);
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
		.progress = on_build_line,
		.ud = &bl,
		.cache_from = &seeds,
	};
	t0 = mc_mono_ms();
	phase_begin(r, "build");
	ret = mc_engine_build(r->eng, &req, id, &tail);
	if (bl.f) {
		fclose(bl.f);
		bl.f = NULL;
	}
	out->log_path = mc_strdup(log_path);
	if (ret) {
		record_failure(&bl, out);
		goto done;
	}
	phase_end(r, "build", t0);
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
	ret = serve(r, &e, NULL, "builds", out);
	out->built = 1;
done:
	if (ret && ret != MC_ELOCKED) {
		/* keep the engine's words; the row says failed so the next ensure retries */
		int code = ret;
		char msg[1024], hint[1024];
		snprintf(msg, sizeof(msg), "%s", mc_error_msg());
		snprintf(hint, sizeof(hint), "%s", mc_error_hint_msg());
		mc_index_set_state(r->ix, r->key, MC_STATE_FAILED);
		mc_index_counter_add(r->ix, "build_failures", 1);
		mc_index_build_record(r->ix, r->key, started, mc_now_ms() - started, 0, log_path);
		next_ms = 0;
		if (code == MC_EBUILD)
			remember_failure(r, out, msg, &tail, out->log_path, &next_ms);
		mc_error_set(code, "%s", msg);
		if (code == MC_EBUILD && out->log_path && next_ms) {
			char when[32];
			fmt_time(when, next_ms);
			/* the log's path ends the line, for scripts */
			mc_error_hint("not built again before %s; 'molcache ensure %s --retry' builds now; "
				      "the build log is at %s", when, r->runtime, out->log_path);
		} else if (code == MC_EBUILD && out->log_path) {
			mc_error_hint("the build log is at %s", out->log_path);
		} else if (next_ms) {
			/* failed before the build began (template content): its own hint, and the backoff */
			char when[32];
			fmt_time(when, next_ms);
			mc_error_hint("%s%snot built again before %s; 'molcache ensure %s --retry' tries now", hint,
				      hint[0] ? "; " : "", when, r->runtime);
		} else if (hint[0]) {
			mc_error_hint("%s", hint);
		}
		ret = code;
	}
	if (bl.f)
		fclose(bl.f);
	fleet_seed_release(r, &seeds, seed_ref);
	mc_context_free(tar);
	mc_trace_free(bl.trace);
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

static int lock_key(struct run *r, struct mc_lock *l, enum mc_lock_mode mode)
{
	char *path = mc_lock_path_key(&r->ctx->paths, r->key);
	int ret = mc_lock_take(l, path, mode, r->ctx->cfg.lock_timeout_s * 1000);
	free(path);
	if (ret == MC_ELOCKED) {
		mc_error_set(MC_ELOCKED, "key %.12s of '%s': still locked after %d s", r->key, r->runtime,
			     r->ctx->cfg.lock_timeout_s);
		mc_error_hint("another molcache is building it; raise lock_timeout or wait");
	}
	if (!ret && mode == MC_LOCK_EXCLUSIVE)
		remove_leftovers(r);
	return ret;
}

static int same_text(const char *a, const char *b) { return !strcmp(a ? a : "", b ? b : ""); }

static int is_sha(const char *s)
{
	size_t n = strspn(s, "0123456789abcdefABCDEF");
	return n == 40 && !s[n];
}

/*
 * Does entry e hold what this request asks for, as far as it can be told
 * without the remote? Every key input but the commit must be equal: the repo
 * prefix (when one is configured), the Dockerfile path, the platform and the
 * build args; and the ref as asked ("" = the default branch), or a full sha
 * that is the entry's commit. NULL when it does, else the first input that
 * differs, for the message.
 */
static const char *offline_mismatch(struct run *r, const struct mc_entry *e)
{
	const char *ref = r->ctx->cfg.ref ? r->ctx->cfg.ref : "";

	if (!r->build_args)
		r->build_args = mc_key_build_args_canonical(&r->ctx->cfg.build_args);
	if (r->clean_prefix && !same_text(e->repo_prefix, r->clean_prefix))
		return "repo prefix";
	if (!same_text(e->ref, ref) && !(is_sha(ref) && e->head_sha && !strcasecmp(e->head_sha, ref)))
		return "ref";
	if (!same_text(e->dockerfile_path, r->ctx->cfg.dockerfile))
		return "dockerfile path";
	if (!same_text(e->platform, r->platform))
		return "platform";
	if (!same_text(e->build_args, r->build_args))
		return "build args";
	return NULL;
}

/* "ref v9, dockerfile Dockerfile, platform linux/amd64, build args A, B": the
 * request in words (build args by name only: their values may be secrets). */
static char *offline_request_words(struct run *r)
{
	struct mc_buf b = MC_BUF_INIT;
	const struct mc_strv *args = &r->ctx->cfg.build_args;

	if (r->ctx->cfg.ref && *r->ctx->cfg.ref)
		mc_buf_addf(&b, "ref '%s'", r->ctx->cfg.ref);
	else
		mc_buf_adds(&b, "the default branch");
	mc_buf_addf(&b, ", dockerfile '%s', platform %s, ", r->ctx->cfg.dockerfile, r->platform);
	if (!args->n)
		mc_buf_adds(&b, "no build args");
	for (size_t i = 0; i < args->n; i++)
		mc_buf_addf(&b, "%s%.*s", i ? ", " : "build args ", (int)strcspn(args->v[i], "="), args->v[i]);
	return mc_buf_detach(&b);
}

/* Serves e if it is still ready and its image is alive, under its key lock
 * (shared, as for a hit). 1 served, 0 not usable, < 0 error. */
static int offline_serve(struct run *r, const struct mc_entry *cand, struct mc_ensure_result *out)
{
	struct mc_lock lock = MC_LOCK_INIT;
	struct mc_entry e = { 0 };
	struct mc_image img = MC_IMAGE_INIT;
	char *path = mc_lock_path_key(&r->ctx->paths, cand->key);
	int ret = mc_lock_take(&lock, path, MC_LOCK_SHARED, r->ctx->cfg.lock_timeout_s * 1000);

	if (ret == MC_ELOCKED) {
		mc_error_set(MC_ELOCKED, "key %.12s of '%s': still locked after %d s", cand->key, r->runtime,
			     r->ctx->cfg.lock_timeout_s);
		mc_error_hint("another molcache is rebuilding or evicting it; raise lock_timeout or wait");
	}
	if (ret)
		goto done;
	/* gc or a rebuild may have changed the row since the list was read */
	ret = mc_index_get(r->ix, &e, cand->key);
	if (ret == MC_ENOTFOUND || (!ret && (e.state != MC_STATE_READY || !same_text(e.image_id, cand->image_id)))) {
		ret = 0;
		goto done;
	}
	if (ret || (ret = image_alive(r, &e, &img)) <= 0)
		goto done;
	if ((ret = serve(r, &e, &img, "offline_hits", out)))
		goto done;
	out->stale = 1;
	char *w = mc_asprintf("offline: using '%s' built from commit %.12s, not checked against the remote",
			      e.image_tag, e.head_sha ? e.head_sha : "?");
	emit(r, (struct mc_event){ .kind = MC_EV_WARN, .text = w });
	free(w);
	ret = 1;
done:
	mc_lock_release(&lock);
	mc_image_release(&img);
	mc_entry_release(&e);
	free(path);
	return ret;
}

/* --offline: the newest ready entry built from this request's inputs (see
 * offline_mismatch) whose image is still there, never asking the remote.
 * MC_ENOTFOUND, saying why, when there is none. */
static int ensure_offline(struct run *r, struct mc_ensure_result *out)
{
	struct mc_entry *v = NULL;
	size_t n = 0, matched = 0;
	const char *why = NULL;
	char *words = NULL;
	int ret;

	if ((ret = mc_index_list_ready(r->ix, &v, &n, r->runtime)))
		goto done;
	for (size_t i = 0; i < n; i++) {
		const char *m = offline_mismatch(r, &v[i]);
		if (m) {
			why = why ? why : m;
			continue;
		}
		matched++;
		if ((ret = offline_serve(r, &v[i], out)) < 0)
			goto done;
		if (ret) {
			ret = 0;
			goto done;
		}
	}
	words = offline_request_words(r);
	if (!n) {
		ret = mc_error_set(MC_ENOTFOUND, "runtime '%s': nothing cached to use offline", r->runtime);
		mc_error_hint("run 'molcache ensure %s' once with the remote reachable", r->runtime);
	} else if (!matched) {
		ret = mc_error_set(MC_ENOTFOUND,
				   "runtime '%s': nothing cached to use offline for %s (%zu cached entr%s, the newest "
				   "with another %s)",
				   r->runtime, words, n, n == 1 ? "y" : "ies", why);
		mc_error_hint("'molcache ls %s' lists what is cached; run with the remote reachable to build it",
			      r->runtime);
	} else {
		ret = mc_error_set(MC_ENOTFOUND,
				   "runtime '%s': nothing cached to use offline for %s (the image%s of %zu matching "
				   "entr%s gone from the engine)",
				   r->runtime, words, matched == 1 ? "" : "s", matched, matched == 1 ? "y is" : "ies are");
		mc_error_hint("run 'molcache ensure %s' with the remote reachable to rebuild it", r->runtime);
	}
done:
	free(words);
	mc_entries_free(v, n);
	return ret;
}

/* The remote could not be reached: if --offline would serve something, the
 * hint says so (the error itself stays as it was). Reads only the index. */
static void offline_hint(struct run *r)
{
	struct mc_entry *v = NULL;
	size_t n = 0;
	int code = mc_error_code();
	char *msg = mc_strdup(mc_error_msg()), *hint = mc_strdup(mc_error_hint_msg());
	const struct mc_entry *hit = NULL;

	if (!mc_index_list_ready(r->ix, &v, &n, r->runtime))
		for (size_t i = 0; i < n && !hit; i++)
			if (!offline_mismatch(r, &v[i]))
				hit = &v[i];
	mc_error_set(code, "%s", msg);
	if (hit)
		mc_error_hint("%s%s'molcache ensure %s --offline' (same options) would use '%s', built from commit "
			      "%.12s",
			      hint, *hint ? "; or " : "", r->runtime, hit->image_tag ? hit->image_tag : "?",
			      hit->head_sha ? hit->head_sha : "?");
	else if (*hint)
		mc_error_hint("%s", hint);
	mc_entries_free(v, n);
	free(msg);
	free(hint);
}

/* Resolve, Dockerfile hash, key: everything the key needs (fetches only for a
 * commit whose Dockerfile hash the index does not know yet). */
static int derive_key(struct run *r)
{
	struct mc_key_inputs in;
	char url_hash[65];
	int64_t t0 = mc_mono_ms();
	int ret;

	phase_begin(r, "resolve");
	ret = mc_git_resolve(r->sha, &r->resolved_ref, r->url, r->ctx->cfg.ref, r->ctx->cfg.git_token);
	if (ret == MC_ENOTFOUND)
		ret = MC_EUNREACHABLE;
	if (ret)
		return ret;
	phase_end(r, "resolve", t0);

	mc_sha256_hex(url_hash, r->clean_url, strlen(r->clean_url));
	r->mirror = mc_asprintf("%s/%s.git", r->ctx->paths.repos, url_hash);
	r->repo_lock = mc_lock_path_repo(&r->ctx->paths, url_hash);
	if ((ret = dockerfile_hash(r)))
		return ret;

	in = (struct mc_key_inputs){ r->runtime, r->clean_prefix, r->sha, r->dfhash, r->platform,
				     &r->ctx->cfg.build_args };
	if ((ret = mc_key_derive(r->key, &in)))
		return ret;
	r->build_args = mc_key_build_args_canonical(&r->ctx->cfg.build_args);
	r->tag = mc_asprintf("molcache/%s:%.12s", r->runtime, r->key);
	return 0;
}

static int ensure_online(struct run *r, struct mc_ensure_result *out)
{
	struct mc_lock lock = MC_LOCK_INIT;
	int ret;

	if ((ret = derive_key(r)))
		goto done;
	out->commit = mc_strdup(r->sha);

	/* a hit runs under a shared lock, in parallel with other hits */
	if ((ret = lock_key(r, &lock, MC_LOCK_SHARED)))
		goto done;
	ret = try_serve(r, out);
	mc_lock_release(&lock);
	if (ret)
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
	if ((ret = fleet_fetch(r, out)) || (ret = failure_gate(r, out)))
		goto done;
	mc_index_counter_add(r->ix, "misses", 1);
	if (!(ret = build(r, out)))
		ret = fleet_share(r, out);
done:
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
		if (!(p = mc_engine_platform(r->eng)))
			ret = mc_error_code();
		else if (!(ret = mc_index_meta_put(r->ix, name, p)))
			r->platform = r->platform_buf = mc_strdup(p);
	}
	free(name);
	return ret;
}

static int run_init(struct run *r, struct mc_ctx *ctx, const struct mc_ensure_opts *opts)
{
	const char *prefix = ctx->cfg.repo_prefix;
	int ret;

	*r = (struct run){ .ctx = ctx, .opts = opts, .runtime = opts->runtime };
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
	mc_registry_free(r->reg);
}

int mc_ensure(struct mc_ctx *ctx, const struct mc_ensure_opts *opts, struct mc_ensure_result *out)
{
	struct run r;
	int ret;

	memset(out, 0, sizeof(*out));
	/* the seeds' variable: prebuilt templates, nothing built (docs/fleet.md) */
	if (ctx->cfg.compat_registry && !ctx->cfg.registry && !opts->offline)
		return mc_fleet_compat(ctx, opts, out);
	if (!(ret = run_init(&r, ctx, opts)))
		ret = opts->offline ? ensure_offline(&r, out) : ensure_online(&r, out);
	if (ret == MC_EUNREACHABLE && r.ix)
		offline_hint(&r);
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
