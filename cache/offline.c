/* offline.c — ensure --offline: the newest ready entry built from the same inputs but the commit, never asking the remote. */
#include "ensure.h"
#include "run.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "../store/key.h"

static int same_text(const char *a, const char *b) { return !strcmp(a ? a : "", b ? b : ""); }

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
	if (!same_text(e->ref, ref) && !(mc_is_hex(ref, 40) && e->head_sha && !strcasecmp(e->head_sha, ref)))
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
	if (ret || (ret = run_image_alive(r, &e, &img)) <= 0)
		goto done;
	if ((ret = run_serve(r, &e, &img, "offline_hits", out)))
		goto done;
	out->stale = 1;
	mc_emit_warn(r->ev, "offline: using '%s' built from commit %.12s, not checked against the remote", e.image_tag,
		     e.head_sha ? e.head_sha : "?");
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
int run_offline(struct run *r, struct mc_ensure_result *out)
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
		mc_error_hint("'molcache ls --runtime %s' lists what is cached; run with the remote reachable to build it",
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
void run_offline_hint(struct run *r)
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
