/* marker.c — one build per key across the fleet: a "<key>.building" tag in the registry that others wait on. */
#include "fleet.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#define OCI_MANIFEST "application/vnd.oci.image.manifest.v1+json"
#define POLL_MIN_MS 1000
#define POLL_MAX_MS 10000
/* A marker that vanishes or is replaced sends us round again; past this many
 * rounds the key is built here (every round waited or put a marker). */
#define ROUNDS_MAX 4

/* ---- the marker's bytes (pure) --------------------------------------------- */

void mc_marker_release(struct mc_marker *m)
{
	if (!m)
		return;
	free(m->key);
	free(m->host);
	free(m->nonce);
	memset(m, 0, sizeof(*m));
}

/* Every field, as strings (annotations take only strings). */
static json_t *marker_fields(const struct mc_marker *m)
{
	char started[32], expires[32], ttl[32];

	mc_format_rfc3339(started, m->started_ms);
	mc_format_rfc3339(expires, m->expires_ms);
	snprintf(ttl, sizeof(ttl), "%lld", (long long)m->ttl_ms);
	return json_pack("{s:s,s:s,s:s,s:s,s:s,s:s}", "molcache.marker.key", m->key ? m->key : "",
			 "molcache.marker.host", m->host ? m->host : "", "molcache.marker.nonce", m->nonce ? m->nonce : "",
			 "molcache.marker.started", started, "molcache.marker.expires", expires, "molcache.marker.ttl-ms",
			 ttl);
}

static char *dump(json_t *o)
{
	char *text = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);

	if (!text)
		MC_BUG("json_dumps failed");
	json_decref(o);
	return text;
}

char *mc_marker_config_json(const struct mc_marker *m) { return dump(marker_fields(m)); }

char *mc_marker_manifest_json(const struct mc_marker *m, const char *config_digest, size_t config_size)
{
	json_t *o = json_pack("{s:i,s:s,s:{s:s,s:s,s:I},s:[],s:o}", "schemaVersion", 2, "mediaType", OCI_MANIFEST,
			      "config", "mediaType", MC_MARKER_CONFIG_TYPE, "digest", config_digest, "size",
			      (json_int_t)config_size, "layers", "annotations", marker_fields(m));
	if (!o)
		MC_BUG("json_pack failed");
	return dump(o);
}

/* Printable ASCII, 1 to max bytes. */
static int plain(const char *s, size_t max)
{
	size_t n = strlen(s);

	if (!n || n > max)
		return 0;
	for (; *s; s++)
		if (*s < 0x20 || *s > 0x7e)
			return 0;
	return 1;
}

int mc_marker_parse(struct mc_marker *out, json_t *manifest)
{
	json_t *a = json_object_get(manifest, "annotations");
	const char *key = json_string_value(json_object_get(a, "molcache.marker.key"));
	const char *host = json_string_value(json_object_get(a, "molcache.marker.host"));
	const char *nonce = json_string_value(json_object_get(a, "molcache.marker.nonce"));
	const char *ttl = json_string_value(json_object_get(a, "molcache.marker.ttl-ms"));
	char *end = NULL;
	long long t;

	memset(out, 0, sizeof(*out));
	if (!key || !host || !nonce || !*nonce || !ttl)
		return mc_error_set(MC_EINVAL, "not a build marker (no molcache.marker annotations)");
	/* anyone with push rights writes these: what is printed must be plain text */
	if (!mc_is_key(key) || !plain(host, 200) || !plain(nonce, 64))
		return mc_error_set(MC_EINVAL, "a build marker with a bad key, host or nonce");
	errno = 0;
	t = strtoll(ttl, &end, 10);
	out->started_ms = mc_rfc3339_ms(json_string_value(json_object_get(a, "molcache.marker.started")));
	out->expires_ms = mc_rfc3339_ms(json_string_value(json_object_get(a, "molcache.marker.expires")));
	if (errno || end == ttl || *end || t <= 0 || !out->started_ms || !out->expires_ms)
		return mc_error_set(MC_EINVAL, "a build marker with unreadable times");
	out->ttl_ms = t;
	out->key = mc_strdup(key);
	out->host = mc_strdup(host);
	out->nonce = mc_strdup(nonce);
	return 0;
}

int64_t mc_marker_ttl(int64_t last_build_ms)
{
	if (last_build_ms <= 0)
		return MC_MARKER_TTL_DEFAULT_MS;
	if (last_build_ms > MC_MARKER_TTL_MAX_MS / 2)
		return MC_MARKER_TTL_MAX_MS;
	return 2 * last_build_ms < MC_MARKER_TTL_MIN_MS ? MC_MARKER_TTL_MIN_MS : 2 * last_build_ms;
}

int64_t mc_marker_wait_ms(const struct mc_marker *m, int64_t now_ms)
{
	int64_t left = m->expires_ms - now_ms;

	int64_t most = m->ttl_ms < MC_MARKER_TTL_MAX_MS ? m->ttl_ms : MC_MARKER_TTL_MAX_MS;

	if (left <= 0)
		return 0;
	return left < most ? left : most;
}

int64_t mc_marker_poll_ms(int64_t n) { return mc_backoff_ms(POLL_MIN_MS, n < 1 ? 1 : n, POLL_MAX_MS); }

int64_t mc_fleet_marker_ttl(struct mc_index *ix, const char *runtime)
{
	struct mc_entry *v = NULL;
	size_t n = 0;
	int64_t newest = -1, build_ms = 0;

	if (mc_index_list_ready(ix, &v, &n, runtime))
		mc_error_clear();
	for (size_t i = 0; i < n; i++)
		if (v[i].build_ms > 0 && v[i].created_ms > newest) {
			newest = v[i].created_ms;
			build_ms = v[i].build_ms;
		}
	mc_entries_free(v, n);
	return mc_marker_ttl(build_ms);
}

/* ---- the protocol ------------------------------------------------------------- */

/* Sleeps ms in slices, ending early (MC_EINTR) on SIGINT/SIGTERM. */
static int nap(int64_t ms)
{
	int64_t end = mc_mono_ms() + ms, left;

	while ((left = end - mc_mono_ms()) > 0) {
		struct timespec ts = { 0, (long)(left < 100 ? left : 100) * 1000000L };
		if (mc_interrupted())
			break;
		nanosleep(&ts, NULL);
	}
	return mc_interrupt_check();
}

static void nonce_of(char out[33], const char *who)
{
	unsigned char b[16];
	char hex[65], *seed;

	if (getrandom(b, sizeof(b), GRND_NONBLOCK) == (ssize_t)sizeof(b)) {
		for (size_t i = 0; i < sizeof(b); i++)
			snprintf(out + 2 * i, 3, "%02x", b[i]);
		return;
	}
	/* no entropy yet: host, pid and both clocks still tell two markers apart */
	seed = mc_asprintf("%s %ld %lld %lld", who, (long)getpid(), (long long)mc_now_ms(), (long long)mc_mono_ms());
	mc_sha256_hex(hex, seed, strlen(seed));
	snprintf(out, 33, "%.32s", hex);
	free(seed);
}

/* The marker under c->tag: 1 (into m), 0 none (or not a marker: someone's
 * tag we may replace), < 0 the registry failed. */
static int read_marker(struct mc_fleet *f, const struct mc_fleet_claim *c, struct mc_marker *m)
{
	json_t *doc = NULL;
	int ret = mc_registry_manifest_get(f->reg, &doc, NULL, c->repo, c->tag);

	if (ret == MC_ENOTFOUND) {
		mc_error_clear();
		return 0;
	}
	if (!ret) {
		ret = mc_marker_parse(m, doc) ? 0 : 1;
		mc_error_clear();
	}
	json_decref(doc);
	return ret;
}

/* Our marker: config blob, then the manifest under the tag. */
static int put_marker(struct mc_fleet *f, const struct mc_entry *e, struct mc_fleet_claim *c, const char *who,
		      int64_t ttl_ms, struct mc_marker *m)
{
	char nonce[33], cfg_digest[80], hex[65];
	char *cfg = NULL, *man = NULL;
	int ret;

	nonce_of(nonce, who);
	*m = (struct mc_marker){ mc_strdup(e->key), mc_strdup(who), mc_strdup(nonce), mc_now_ms(), 0, ttl_ms };
	m->expires_ms = m->started_ms + ttl_ms;
	cfg = mc_marker_config_json(m);
	if ((ret = mc_registry_blob_put(f->reg, cfg_digest, c->repo, cfg, strlen(cfg))))
		goto done;
	man = mc_marker_manifest_json(m, cfg_digest, strlen(cfg));
	/* the digest before the PUT: a PUT that times out after the registry
	 * stored it leaves a marker that unclaim must still find as ours */
	mc_sha256_hex(hex, man, strlen(man));
	snprintf(c->digest, sizeof(c->digest), "sha256:%s", hex);
	c->expires_ms = m->expires_ms;
	ret = mc_registry_manifest_put(f->reg, c->repo, c->tag, OCI_MANIFEST, man, strlen(man));
done:
	free(cfg);
	free(man);
	return ret;
}

/* A manifest of ours that no tag names any more (we lost the race): best
 * effort, by its digest, which is ours alone (the nonce). */
static void drop_untagged(struct mc_fleet *f, struct mc_fleet_claim *c)
{
	if (c->digest[0] && mc_registry_manifest_delete(f->reg, c->repo, c->digest))
		mc_error_clear();
	c->digest[0] = 0;
}

/* The key's tag, if it is there now, pulled: 1 pulled, 2 absent, 0 build
 * here (refused or the pull failed: warned; a registry fault degrades, f->down
 * set), < 0 error (or required). */
static int pull_if_there(struct mc_fleet *f, const struct mc_fleet_claim *c, const struct mc_entry *e,
			 char image_id[80])
{
	int64_t t0 = mc_mono_ms();
	int ret = mc_registry_manifest_head(f->reg, c->repo, e->key, NULL);

	if (ret == MC_ENOTFOUND) {
		mc_error_clear();
		return 2;
	}
	if (ret)
		return mc_fleet_degrade(f, "registry lookup", t0);
	return mc_fleet_pull(f, e, image_id);
}

/* Polls for the key's tag while m stands (1 s doubling to 10 s, never past
 * its expiry). 1 pulled, 0 build here (the image was refused, the registry
 * failed), 2 the marker expired, went or was replaced (look again), < 0 error
 * (MC_EINTR). */
static int wait_on(struct mc_fleet *f, const struct mc_entry *e, const struct mc_fleet_claim *c,
		   const struct mc_marker *m, char image_id[80])
{
	int64_t left = mc_marker_wait_ms(m, mc_now_ms()), deadline = mc_mono_ms() + left, t0, pause;
	char dur[32], *msg;
	int ret = 2;

	mc_format_duration_go(dur, left);
	msg = mc_asprintf("waiting for %s's build of %s %.12s (marker expires in %s)", m->host, e->runtime, e->key, dur);
	t0 = mc_emit_phase_begin(f->ev, "wait");
	mc_emit_text(f->ev, MC_EV_WAIT, "wait", msg);
	free(msg);
	mc_index_counter_add(f->ix, "fleet_waits", 1);
	for (int64_t n = 1;; n++) {
		struct mc_marker now = { 0 };
		int64_t r0;

		pause = mc_marker_poll_ms(n);
		if (pause > deadline - mc_mono_ms())
			pause = deadline - mc_mono_ms();
		if (pause > 0 && (ret = nap(pause)))
			break;
		if ((ret = pull_if_there(f, c, e, image_id)) != 2) {
			if (ret == 1)
				mc_index_counter_add(f->ix, "fleet_wait_hits", 1);
			break;
		}
		if (mc_mono_ms() >= deadline) {
			msg = mc_asprintf("%s's marker expired without an image: building here", m->host);
			mc_emit_text(f->ev, MC_EV_WAIT, "wait", msg);
			free(msg);
			ret = 2;
			break;
		}
		r0 = mc_mono_ms();
		if ((ret = read_marker(f, c, &now)) < 0) {
			ret = mc_fleet_degrade(f, "build marker", r0);
			break;
		}
		ret = !ret || strcmp(now.nonce, m->nonce) ? 2 : 0;
		if (ret == 2) {
			msg = mc_asprintf("%s's marker %s without an image", m->host, now.nonce ? "was replaced" : "went");
			mc_emit_text(f->ev, MC_EV_WAIT, "wait", msg);
			free(msg);
		}
		mc_marker_release(&now);
		if (ret == 2)
			break;
	}
	mc_emit_phase_end(f->ev, "wait", t0);
	return ret;
}

int mc_fleet_claim(struct mc_fleet *f, const struct mc_entry *e, const char *who, int may_mark, int64_t ttl_ms,
		   struct mc_fleet_claim *c, char image_id[80])
{
	int ret = 0;

	memset(c, 0, sizeof(*c));
	image_id[0] = 0;
	/* a tag whose image was refused is replaced by this host's build, and
	 * another host refusing it too builds too: there is nothing to wait for */
	if (!f->reg || f->down || f->refused)
		return 0;
	c->repo = mc_fleet_repo(f->reg, e->runtime);
	c->tag = mc_asprintf("%s%s", e->key, MC_MARKER_SUFFIX);
	/* a marker waited out once is expired for us, whatever its own clock
	 * says: no host waits on one marker longer than its lifetime */
	char waited[65] = "";
	for (int round = 0; round < ROUNDS_MAX; round++) {
		struct mc_marker m = { 0 }, mine = { 0 };
		int64_t t0 = mc_mono_ms();
		int again = 0;

		if ((ret = read_marker(f, c, &m)) < 0) {
			ret = mc_fleet_degrade(f, "build marker", t0);
			break;
		}
		if (ret == 1 && strcmp(m.nonce, waited) && mc_marker_wait_ms(&m, mc_now_ms()) > 0) {
			/* another host builds it: wait for its image */
			ret = wait_on(f, e, c, &m, image_id);
			snprintf(waited, sizeof(waited), "%s", m.nonce);
			mc_marker_release(&m);
			if (ret != 2)
				break;
			ret = 0;
			continue;
		}
		mc_marker_release(&m);
		/* none, or expired: the image may have landed just now */
		if ((ret = pull_if_there(f, c, e, image_id)) != 2 || !may_mark) {
			ret = ret == 2 ? 0 : ret;
			break;
		}
		t0 = mc_mono_ms();
		ret = put_marker(f, e, c, who, ttl_ms, &mine);
		if (ret == MC_EINVAL) {
			mc_emit_warn(f->ev, "build marker %s:%s not put: %s; building without one", c->repo, c->tag,
				     mc_error_msg());
			mc_error_clear();
			ret = 0;
		} else if (ret) {
			ret = mc_fleet_degrade(f, "build marker", t0);
		} else if (!(ret = nap(MC_MARKER_SETTLE_MS))) {
			/* two hosts may have put theirs at once: the one whose marker stands builds */
			t0 = mc_mono_ms();
			if ((ret = read_marker(f, c, &m)) < 0) {
				ret = mc_fleet_degrade(f, "build marker", t0);
			} else {
				again = ret == 1 && strcmp(m.nonce, mine.nonce) && mc_marker_wait_ms(&m, mc_now_ms()) > 0;
				if (again)
					drop_untagged(f, c); /* theirs stands: wait on it */
				ret = 0;
			}
		}
		mc_marker_release(&m);
		mc_marker_release(&mine);
		if (!again)
			break;
	}
	return ret;
}

void mc_fleet_unclaim(struct mc_fleet *f, struct mc_fleet_claim *c)
{
	struct mc_error_saved why;
	char d[80] = "", when[32];
	int ret;

	/* even when the registry failed since (f->down): a marker left standing
	 * makes every other host wait its lifetime for nothing (each request is
	 * bounded) */
	if (!c->digest[0] || !f->reg)
		goto done;
	mc_error_save(&why);
	ret = mc_registry_manifest_head(f->reg, c->repo, c->tag, d);
	if (!ret && strcmp(d, c->digest)) {
		drop_untagged(f, c); /* the tag names another host's marker now: not ours to remove */
	} else if (!ret) {
		/* by digest, ours alone (the nonce): a tag delete could remove a
		 * marker another host put between our HEAD and it; the tag alone only
		 * where the registry deletes no digests */
		if ((ret = mc_registry_manifest_delete(f->reg, c->repo, c->digest)) && ret != MC_ENOTFOUND) {
			mc_error_clear();
			if ((ret = mc_registry_tag_delete(f->reg, c->repo, c->tag)) == 1)
				ret = mc_error_set(MC_EINVAL, "the registry deletes neither the digest nor the tag");
		}
	}
	if (ret && ret != MC_ENOTFOUND) {
		mc_format_utc(when, c->expires_ms);
		mc_emit_warn(f->ev, "build marker %s:%s not removed: %s; it expires at %s", c->repo, c->tag, mc_error_msg(),
			     when);
	}
	mc_error_restore(&why);
done:
	free(c->repo);
	free(c->tag);
	memset(c, 0, sizeof(*c));
}
