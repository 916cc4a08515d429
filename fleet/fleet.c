/* fleet.c — sharing builds through a registry: look, pull and check, push, cache seeds, the seeds' compat mode, remote gc. */
#include "fleet.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Registry tags looked at for a partial-sharing seed: each costs two GETs. */
#define SEED_TAGS_MAX 50

char *mc_fleet_repo(const struct mc_registry *reg, const char *runtime)
{
	const char *prefix = mc_registry_prefix(reg), *host = mc_registry_host(reg);
	size_t hl = strlen(host);

	return prefix[hl] == '/' ? mc_asprintf("%s/%s", prefix + hl + 1, runtime) : mc_strdup(runtime);
}

char *mc_fleet_ref(const struct mc_registry *reg, const char *runtime, const char *key)
{
	return mc_asprintf("%s/%s:%s", mc_registry_prefix(reg), runtime, key);
}

char *mc_fleet_origin(struct mc_index *ix, const char *key)
{
	char *name = mc_asprintf("%s%s", MC_META_ORIGIN_PREFIX, key), *v = NULL;
	if (mc_index_meta_get(ix, &v, name)) {
		mc_error_clear();
		v = mc_strdup("built");
	}
	free(name);
	return v;
}

int mc_fleet_origin_set(struct mc_index *ix, const char *key, const char *origin)
{
	char *name = mc_asprintf("%s%s", MC_META_ORIGIN_PREFIX, key);
	int ret = mc_index_meta_put(ix, name, origin);
	free(name);
	return ret;
}

/* Registry failure memory, per registry host, in the index's meta table
 * ("registry-down:<host>" = "<failures in a row> <next try ms>"): after a
 * slow failure ensures skip the registry for BACKOFF_MIN doubling to
 * BACKOFF_MAX, so a dead registry costs one warning, not 50-80 s of engine
 * retries each. A failure faster than SLOW_MS (refused, 401, a TLS error) is
 * not remembered: it costs little, and its cause is often the config the next
 * call fixes. */
#define SLOW_MS (5 * 1000)
#define BACKOFF_MIN_MS (30 * 1000)
#define BACKOFF_MAX_MS (10 * 60 * 1000)

static char *down_name(const struct mc_fleet *f) { return mc_asprintf("registry-down:%s", mc_registry_host(f->reg)); }

/* The record: failures in a row and the next try (0 0 when none). */
static void down_read(const struct mc_fleet *f, const char *name, long long *n, long long *next)
{
	char *v = NULL;

	*n = *next = 0;
	if (!mc_index_meta_get(f->ix, &v, name) && v && sscanf(v, "%lld %lld", n, next) != 2)
		*n = *next = 0;
	mc_error_clear();
	free(v);
}

/* 0 when the registry may be asked; else the failure count and *next_ms. */
static int64_t down_since(const struct mc_fleet *f, int64_t *next_ms)
{
	char *name = down_name(f);
	long long n, next;

	down_read(f, name, &n, &next);
	free(name);
	*next_ms = next > mc_now_ms() ? next : 0;
	return *next_ms ? n : 0;
}

/* Best effort: a failure lengthens the backoff, a success ends it. */
static void remember(const struct mc_fleet *f, int failed)
{
	char *name = down_name(f), buf[64];
	long long n, next;

	down_read(f, name, &n, &next);
	if (failed || n) {
		int64_t wait = mc_backoff_ms(BACKOFF_MIN_MS, n + 1, BACKOFF_MAX_MS);
		snprintf(buf, sizeof(buf), "%lld %lld", failed ? n + 1 : 0LL,
			 failed ? (long long)(mc_now_ms() + wait) : 0LL);
		mc_index_meta_put(f->ix, name, buf);
		mc_error_clear();
	}
	free(name);
}

int mc_fleet_backoff(struct mc_fleet *f)
{
	char when[32];
	int64_t next_ms, n;

	if (!f->reg || f->required || !(n = down_since(f, &next_ms)))
		return 0;
	f->down = 1;
	mc_format_utc(when, next_ms);
	mc_emit_warn(f->ev, "registry %s failed %lld time%s in a row: not asked again before %s; building locally",
		     mc_registry_host(f->reg), (long long)n, n == 1 ? "" : "s", when);
	if (f->ix)
		mc_index_counter_add(f->ix, "registry_skipped", 1);
	mc_error_clear();
	return 1;
}

/* The registry failed (the error is set): one warning and a local build, or,
 * when it is required, the error (exit 3) with a hint. A failure that took
 * SLOW_MS or more starts or lengthens the backoff. */
static int degrade(struct mc_fleet *f, struct mc_index *ix, const char *doing, int64_t t0)
{
	if (f->required) {
		int ret = mc_error_set(MC_EUNREACHABLE, "%s", mc_error_msg());
		mc_error_hint("--registry-required (registry_required = 1) makes a registry failure an error; make the "
			      "registry reachable, or drop it to build locally");
		return ret;
	}
	if (ix)
		mc_index_counter_add(ix, "registry_errors", 1);
	if (mc_mono_ms() - t0 >= SLOW_MS) {
		struct mc_error_saved why;
		mc_error_save(&why);
		remember(f, 1);
		mc_error_restore(&why);
	}
	const char *hint = mc_error_hint_msg();
	/* a push comes after the build: the image is served from the engine either way */
	mc_emit_warn(f->ev, "%s: %s; %s%s%s%s", doing, mc_error_msg(),
		     strstr(doing, "push") ? "serving the local build" : "building locally", *hint ? " (hint: " : "",
		     hint, *hint ? ")" : "");
	mc_error_clear();
	return 0;
}

int mc_fleet_degrade(struct mc_fleet *f, const char *doing, int64_t t0)
{
	f->down = 1;
	return degrade(f, f->ix, doing, t0);
}

/* "linux/amd64[/v8]" from an image's Os, Architecture and Variant. */
static char *image_platform(json_t *img)
{
	const char *os = json_string_value(json_object_get(img, "Os"));
	const char *arch = json_string_value(json_object_get(img, "Architecture"));
	const char *var = json_string_value(json_object_get(img, "Variant"));
	return mc_asprintf("%s/%s%s%s", os ? os : "?", arch ? arch : "?", var && *var ? "/" : "", var && *var ? var : "");
}

/* NULL when the labels say the image is e's (the key, its format and every
 * key input: runtime, repo prefix, commit, Dockerfile hash, platform, build
 * args) and its platform is e's; else why not (malloc'd); *carried
 * (malloc'd) the key it claims. */
static char *untrusted(json_t *img, const struct mc_entry *e, char **carried)
{
	json_t *labels = json_object_get(json_object_get(img, "Config"), "Labels");
	struct mc_strv want = MC_STRV_INIT;
	const char *k = json_string_value(json_object_get(labels, "molcache.key"));
	char *why = NULL, *plat = image_platform(img);

	*carried = mc_strdup(k && *k ? k : "none");
	mc_labels_of_entry(&want, e, "");
	for (size_t i = 0; i < want.n && !why; i++) {
		const char *eq = strchr(want.v[i], '=');
		char *name = mc_strndup(want.v[i], (size_t)(eq - want.v[i]));
		const char *have = json_string_value(json_object_get(labels, name));
		/* not key inputs: the root (another host built it), the ref as asked
		 * and the Dockerfile's path (its hash is in the key) */
		int skip = !strcmp(name, "molcache.root") || !strcmp(name, "molcache.ref") ||
			   !strcmp(name, "molcache.dockerfile");
		if (!skip && (!have || strcmp(have, eq + 1)))
			why = mc_asprintf("label %s %s", name, have ? "differs" : "missing");
		free(name);
	}
	if (!why && e->platform && strcmp(plat, e->platform) &&
	    !(strncmp(e->platform, plat, strlen(plat)) == 0 && e->platform[strlen(plat)] == '/'))
		why = mc_asprintf("platform %s, not %s", plat, e->platform);
	mc_strv_release(&want);
	free(plat);
	return why;
}

int mc_fleet_pull(struct mc_fleet *f, const struct mc_entry *e, char image_id[80])
{
	struct mc_registry *reg = f->reg;
	struct mc_engine *eng = f->eng;
	struct mc_index *ix = f->ix;
	json_t *img = NULL;
	char *repo = mc_fleet_repo(reg, e->runtime), *ref = mc_fleet_ref(reg, e->runtime, e->key);
	char *local = mc_image_repo(e->runtime), *why = NULL, *carried = NULL, digest[80] = "";
	const char *id;
	int64_t t0;
	int ret;

	image_id[0] = 0;
	f->down = f->refused = 0;
	t0 = mc_mono_ms();
	ret = mc_registry_manifest_head(reg, repo, e->key, digest);
	if (ret == MC_ENOTFOUND) {
		mc_error_clear();
		mc_index_counter_add(ix, "registry_misses", 1);
		ret = 0;
		goto done;
	}
	if (ret) {
		ret = mc_fleet_degrade(f, "registry lookup", t0);
		goto done;
	}
	remember(f, 0);
	/* by the digest just looked up: the tag may move between HEAD and pull */
	if (digest[0]) {
		free(ref);
		ref = mc_asprintf("%s/%s@%s", mc_registry_host(reg), repo, digest);
	}
	t0 = mc_emit_phase_begin(f->ev, "pull");
	mc_emit_text(f->ev, MC_EV_PULL, "pull", ref);
	ret = mc_engine_image_pull_auth(eng, ref, e->platform, mc_registry_engine_auth(reg));
	mc_emit_phase_end(f->ev, "pull", t0);
	/* the engine, or a signal: not the registry's failure */
	if (ret == MC_EENGINE || ret == MC_EINTR)
		goto done;
	if (ret) {
		ret = mc_fleet_degrade(f, "registry pull", t0);
		goto done;
	}
	if ((ret = mc_engine_image_json(&img, eng, ref)))
		goto done;
	if ((why = untrusted(img, e, &carried))) {
		/* by name: the id may carry other tags, a user's among them */
		if (mc_engine_image_remove(eng, ref, 0))
			mc_error_clear();
		mc_index_counter_add(ix, "registry_refused", 1);
		f->refused = 1;
		mc_emit_warn(f->ev, "registry image for key %s carries key %s, ignored (%s); building locally", e->key, carried, why);
		goto done;
	}
	id = json_string_value(json_object_get(img, "Id"));
	if (!id || strlen(id) >= 80) {
		ret = mc_error_set(MC_EENGINE, "image '%s': no id", ref);
		goto done;
	}
	if ((ret = mc_engine_image_tag(eng, id, local, e->image_tag + strlen(local) + 1)))
		goto done;
	/* the remote name is not ours to keep: local gc owns only molcache/ tags */
	if (mc_engine_image_remove(eng, ref, 0))
		mc_error_clear();
	snprintf(image_id, 80, "%s", id);
	mc_index_counter_add(ix, "registry_hits", 1);
	ret = 1;
done:
	json_decref(img);
	free(why);
	free(carried);
	free(repo);
	free(ref);
	free(local);
	return ret;
}

static void on_push(void *ud, const char *text)
{
	const struct mc_fleet *f = ud;
	mc_emit_text(f->ev, MC_EV_PUSH, "push", text);
}

int mc_fleet_push(struct mc_fleet *f, const struct mc_entry *e)
{
	struct mc_registry *reg = f->reg;
	struct mc_engine *eng = f->eng;
	struct mc_index *ix = f->ix;
	char *repo = mc_fleet_repo(reg, e->runtime);
	char *name = mc_asprintf("%s/%s", mc_registry_host(reg), repo), *ref = mc_fleet_ref(reg, e->runtime, e->key);
	char digest[80] = "", *msg;
	int64_t t0 = mc_mono_ms();
	int ret;

	if ((ret = mc_engine_image_tag(eng, e->image_id, name, e->key)))
		goto done;
	mc_emit_phase_begin(f->ev, "push");
	msg = mc_asprintf("pushing %s", ref);
	mc_emit_text(f->ev, MC_EV_PUSH, "push", msg);
	free(msg);
	ret = mc_engine_image_push(eng, name, e->key, mc_registry_engine_auth(reg), on_push, f, digest);
	mc_emit_phase_end(f->ev, "push", t0);
	if (mc_engine_image_remove(eng, ref, 0) && !ret)
		mc_error_clear();
	/* the engine, or a signal: not the registry's failure */
	if (ret == MC_EENGINE || ret == MC_EINTR)
		goto done;
	if (ret) {
		mc_index_counter_add(ix, "push_failures", 1);
		ret = degrade(f, NULL, "registry push", t0);
		goto done;
	}
	mc_index_counter_add(ix, "pushes", 1);
	msg = mc_asprintf("pushed %s%s%s", ref, digest[0] ? " " : "", digest);
	mc_emit_text(f->ev, MC_EV_PUSH, "push", msg);
	free(msg);
done:
	free(repo);
	free(name);
	free(ref);
	return ret;
}

static int same(const char *a, const char *b) { return !strcmp(a ? a : "", b ? b : ""); }

void mc_fleet_cache_from(struct mc_fleet *f, const struct mc_entry *e, struct mc_strv *out, char **pulled_ref)
{
	struct mc_entry *v = NULL;
	struct mc_strv tags = MC_STRV_INIT;
	struct mc_registry *reg = f->down ? NULL : f->reg;
	struct mc_engine *eng = f->eng;
	struct mc_index *ix = f->ix;
	char *repo = NULL, *best = NULL, *ref = NULL;
	int64_t best_ms = -1;
	size_t n = 0, looked = 0;
	int listed;

	*pulled_ref = NULL;
	/* the previous commit built or pulled here */
	if (!mc_index_list_ready(ix, &v, &n, e->runtime))
		for (size_t i = 0; i < n; i++)
			if (strcmp(v[i].key, e->key) && same(v[i].repo_prefix, e->repo_prefix) &&
			    same(v[i].dockerfile_path, e->dockerfile_path) && same(v[i].platform, e->platform) &&
			    v[i].image_tag && !mc_engine_image_inspect(eng, v[i].image_tag, NULL)) {
				mc_strv_push(out, v[i].image_tag);
				goto done;
			}
	mc_error_clear();
	if (!reg)
		goto done;
	/* else the registry's newest image of the same inputs but the commit */
	repo = mc_fleet_repo(reg, e->runtime);
	listed = mc_registry_tags(reg, &tags, repo);
	if (listed == MC_ENOTFOUND) { /* nothing pushed yet: nothing to seed from */
		mc_error_clear();
		goto done;
	}
	if (listed)
		goto quiet;
	for (size_t i = 0; i < tags.n && looked < SEED_TAGS_MAX; i++) {
		json_t *cfg = NULL, *labels;
		if (!mc_is_key(tags.v[i]) || !strcmp(tags.v[i], e->key))
			continue;
		looked++;
		if (mc_registry_image_config(reg, &cfg, NULL, repo, tags.v[i], e->platform)) {
			mc_error_clear();
			continue;
		}
		labels = json_object_get(json_object_get(cfg, "config"), "Labels");
		int64_t ms = mc_rfc3339_ms(json_string_value(json_object_get(cfg, "created")));
		if (same(json_string_value(json_object_get(labels, "molcache.key")), tags.v[i]) &&
		    same(json_string_value(json_object_get(labels, "molcache.repo-prefix")), e->repo_prefix) &&
		    same(json_string_value(json_object_get(labels, "molcache.dockerfile")), e->dockerfile_path) &&
		    same(json_string_value(json_object_get(labels, "molcache.platform")), e->platform) && ms > best_ms) {
			best_ms = ms;
			free(best);
			best = mc_strdup(tags.v[i]);
		}
		json_decref(cfg);
	}
	if (!best)
		goto done;
	ref = mc_fleet_ref(reg, e->runtime, best);
	mc_emit_text(f->ev, MC_EV_PULL, "pull", ref);
	if (mc_engine_image_pull_auth(eng, ref, e->platform, mc_registry_engine_auth(reg)))
		goto quiet;
	mc_strv_push(out, ref);
	*pulled_ref = ref;
	ref = NULL;
	goto done;
quiet:
	/* a seed is an optimisation: say so, build anyway */
	mc_emit_warn(f->ev, "no build cache from the registry: %s", mc_error_msg());
	mc_error_clear();
done:
	mc_entries_free(v, n);
	mc_strv_release(&tags);
	free(repo);
	free(best);
	free(ref);
}

int mc_fleet_compat(struct mc_fleet *f, const char *runtime, const char *platform, char **tag, char **image_id)
{
	struct mc_registry *reg = f->reg;
	struct mc_image img = MC_IMAGE_INIT;
	char *ref = NULL, *local = mc_image_repo(runtime);
	int ret;

	ref = mc_asprintf("%s/workspace-template-%s:latest", mc_registry_prefix(reg), runtime);
	mc_emit_text(f->ev, MC_EV_PULL, "pull", ref);
	if ((ret = mc_engine_image_pull_auth(f->eng, ref, platform, mc_registry_engine_auth(reg)))) {
		if (ret != MC_EENGINE) {
			ret = mc_error_set(MC_EUNREACHABLE, "%s", mc_error_msg());
			mc_error_hint("MOLECULE_IMAGE_REGISTRY names a registry of prebuilt templates (compatibility mode: "
				      "nothing is built); unset it to build from the template repositories");
		}
		goto done;
	}
	if ((ret = mc_engine_image_inspect(f->eng, ref, &img)) ||
	    (ret = mc_engine_image_tag(f->eng, img.id, local, "latest")))
		goto done;
	mc_index_counter_add(f->ix, "compat_pulls", 1);
	*tag = mc_asprintf("%s:latest", local);
	*image_id = mc_strdup(img.id);
done:
	mc_image_release(&img);
	free(ref);
	free(local);
	return ret;
}

/* ---- gc --registry ---- */

void mc_fleet_gc_report_release(struct mc_fleet_gc_report *r)
{
	if (!r)
		return;
	for (size_t i = 0; i < r->n; i++) {
		free(r->items[i].repo);
		free(r->items[i].tag);
		free(r->items[i].digest);
		mc_strv_release(&r->items[i].also_tagged);
		free(r->items[i].error);
		free(r->items[i].hint);
	}
	free(r->items);
	memset(r, 0, sizeof(*r));
}

/* One repository's tags and, once asked for, the manifest digest each names. */
struct repo_tags {
	struct mc_registry *reg;
	const char *repo;
	struct mc_strv tags;
	char **digests; /* per tag; NULL: not read yet; "": gone or unreadable */
	int all_read;
};

static void repo_tags_release(struct repo_tags *rt)
{
	for (size_t i = 0; rt->digests && i < rt->tags.n; i++)
		free(rt->digests[i]);
	free(rt->digests);
	mc_strv_release(&rt->tags);
}

/* Every other tag of the repository that names digest (HEAD each tag not yet
 * read, once). A tag that cannot be read counts, as "<tag> (unreadable)": keep
 * rather than guess. */
static void tags_naming(struct repo_tags *rt, const char *self, const char *digest, struct mc_strv *out)
{
	for (size_t i = 0; i < rt->tags.n; i++) {
		char d[80] = "";
		if (!rt->digests[i] && !rt->all_read) {
			if (mc_registry_manifest_head(rt->reg, rt->repo, rt->tags.v[i], d)) {
				snprintf(d, sizeof(d), "%s", mc_error_code() == MC_ENOTFOUND ? "" : "?");
				mc_error_clear();
			}
			rt->digests[i] = mc_strdup(d);
		}
	}
	rt->all_read = 1;
	for (size_t i = 0; i < rt->tags.n; i++) {
		if (!strcmp(rt->tags.v[i], self) || !rt->digests[i])
			continue;
		if (!strcmp(rt->digests[i], digest))
			mc_strv_push(out, rt->tags.v[i]);
		else if (!strcmp(rt->digests[i], "?")) {
			char *t = mc_asprintf("%s (unreadable)", rt->tags.v[i]);
			mc_strv_push(out, t);
			free(t);
		}
	}
}

/* A digest delete removed every tag naming it. */
static void forget_digest(struct repo_tags *rt, const char *digest)
{
	for (size_t i = 0; i < rt->tags.n; i++)
		if (rt->digests[i] && !strcmp(rt->digests[i], digest))
			rt->digests[i][0] = 0;
}

/*
 * Deletes it->tag and nothing else: the tag alone where the registry can
 * (distribution-spec 1.1); else the digest, only when no other tag of the
 * repository names it; else keeps it (it->also_tagged says why). *no_tag_delete
 * remembers a registry that cannot delete a tag alone.
 */
static void delete_tag(struct repo_tags *rt, struct mc_fleet_gc_item *it, int dry_run, int *no_tag_delete)
{
	int rc = 1;

	if (dry_run) {
		tags_naming(rt, it->tag, it->digest, &it->also_tagged);
		return;
	}
	if (!*no_tag_delete && (rc = mc_registry_tag_delete(rt->reg, rt->repo, it->tag)) == 1)
		*no_tag_delete = 1;
	if (rc == 0) {
		it->by_tag = 1;
		return;
	}
	if (rc == 1) {
		tags_naming(rt, it->tag, it->digest, &it->also_tagged);
		if (it->also_tagged.n) {
			it->deleted = 0;
			return;
		}
		if (!(rc = mc_registry_manifest_delete(rt->reg, rt->repo, it->digest)))
			forget_digest(rt, it->digest);
	}
	if (rc) {
		it->deleted = 0;
		it->error = mc_strdup(mc_error_msg());
		it->hint = *mc_error_hint_msg() ? mc_strdup(mc_error_hint_msg()) : NULL;
		mc_error_clear();
	}
}

/* A build marker that expired longer ago than its lifetime: 1 when it went
 * (or would, dry run), 0 when kept (fresh, not a marker, or not deletable). */
static int gc_marker(struct mc_registry *reg, const char *repo, const char *tag, int dry_run, int64_t now_ms)
{
	struct mc_marker m = { 0 };
	json_t *doc = NULL;
	char digest[80] = "";
	int gone = 0;

	if (mc_registry_manifest_get(reg, &doc, digest, repo, tag) || mc_marker_parse(&m, doc) || !digest[0])
		goto done;
	if (now_ms - m.expires_ms > (m.ttl_ms < MC_MARKER_TTL_MAX_MS ? m.ttl_ms : MC_MARKER_TTL_MAX_MS))
		gone = dry_run || !mc_registry_manifest_delete(reg, repo, digest);
done:
	mc_error_clear();
	mc_marker_release(&m);
	json_decref(doc);
	return gone;
}

/* One repository: its molcache tags older than max_age_ms, deleted as above. */
static int gc_repo(struct mc_registry *reg, const char *repo, int64_t max_age_ms, int dry_run, int64_t now_ms,
		   int *no_tag_delete, struct mc_fleet_gc_report *out)
{
	struct repo_tags rt = { reg, repo, MC_STRV_INIT, NULL, 0 };
	int ret;

	if ((ret = mc_registry_tags(reg, &rt.tags, repo))) {
		if (ret == MC_ENOTFOUND) { /* deleted since the catalog was read */
			mc_error_clear();
			ret = 0;
		}
		goto done;
	}
	rt.digests = mc_calloc(rt.tags.n + 1, sizeof(*rt.digests));
	for (size_t t = 0; t < rt.tags.n; t++) {
		json_t *cfg = NULL;
		char digest[80] = "";
		size_t tl = strlen(rt.tags.v[t]), sl = strlen(MC_MARKER_SUFFIX);
		if (tl == 64 + sl && !strcmp(rt.tags.v[t] + 64, MC_MARKER_SUFFIX)) {
			out->markers += gc_marker(reg, repo, rt.tags.v[t], dry_run, now_ms);
			continue;
		}
		if (!mc_is_key(rt.tags.v[t]))
			continue;
		out->scanned++;
		if (mc_registry_image_config(reg, &cfg, digest, repo, rt.tags.v[t], NULL)) {
			mc_error_clear();
			out->skipped++;
			continue;
		}
		free(rt.digests[t]);
		rt.digests[t] = mc_strdup(digest);
		json_t *labels = json_object_get(json_object_get(cfg, "config"), "Labels");
		/* when molcache built it: the config's "created" is BuildKit's,
		 * carried over from cached steps, minutes or months before */
		int64_t created = mc_rfc3339_ms(json_string_value(json_object_get(labels, MC_LABEL_BUILT)));
		int ours = same(json_string_value(json_object_get(labels, "molcache.key")), rt.tags.v[t]);
		json_decref(cfg);
		if (!ours || !digest[0]) {
			out->skipped++;
			continue;
		}
		if (!created) {
			out->undated++;
			continue;
		}
		if (now_ms - created < max_age_ms)
			continue;
		out->items = mc_realloc(out->items, (out->n + 1) * sizeof(*out->items));
		struct mc_fleet_gc_item *it = &out->items[out->n++];
		*it = (struct mc_fleet_gc_item){ mc_strdup(repo), mc_strdup(rt.tags.v[t]), mc_strdup(digest), created, 1,
						 0, MC_STRV_INIT, NULL, NULL };
		delete_tag(&rt, it, dry_run, no_tag_delete);
	}
done:
	repo_tags_release(&rt);
	return ret;
}

int mc_fleet_gc(struct mc_registry *reg, int64_t max_age_ms, int dry_run, int64_t now_ms,
		struct mc_fleet_gc_report *out)
{
	struct mc_strv repos = MC_STRV_INIT;
	const char *prefix = mc_registry_prefix(reg), *host = mc_registry_host(reg);
	char *under = prefix[strlen(host)] == '/' ? mc_asprintf("%s/", prefix + strlen(host) + 1) : mc_strdup("");
	int ret, no_tag_delete = 0;

	memset(out, 0, sizeof(*out));
	if ((ret = mc_registry_catalog(reg, &repos, under)))
		goto done;
	for (size_t i = 0; i < repos.n && !ret; i++)
		ret = gc_repo(reg, repos.v[i], max_age_ms, dry_run, now_ms, &no_tag_delete, out);
done:
	mc_strv_release(&repos);
	free(under);
	return ret;
}
