/* test_marker.c — the fleet build marker's pure parts: its bytes, its lifetime, a waiter's wait, the polls. */
#include <jansson.h>

#include "../../fleet/fleet.h"
#include "t.h"

static const char KEY[] = "3f9c000000000000000000000000000000000000000000000000000000000001";

static void test_round_trip(void)
{
	struct mc_marker m = { (char *)KEY, (char *)"h1 (root abcdef012345, pid 42)",
			       (char *)"00112233445566778899aabbccddeeff", 1796000000000, 1796000600000, 600000 };
	struct mc_marker back;
	char *cfg = mc_marker_config_json(&m), *man, hex[65], digest[80];
	json_t *doc;

	mc_sha256_hex(hex, cfg, strlen(cfg));
	snprintf(digest, sizeof(digest), "sha256:%s", hex);
	man = mc_marker_manifest_json(&m, digest, strlen(cfg));
	doc = json_loads(man, 0, NULL);
	CHECK(doc != NULL);
	/* what Distribution 2.8 takes: an OCI image manifest, a config of our
	 * own type, no layers; the fields where a GET of the manifest reads them */
	CHECK_INT(json_integer_value(json_object_get(doc, "schemaVersion")), 2);
	CHECK_STR(json_string_value(json_object_get(doc, "mediaType")), "application/vnd.oci.image.manifest.v1+json");
	CHECK_STR(json_string_value(json_object_get(json_object_get(doc, "config"), "mediaType")), MC_MARKER_CONFIG_TYPE);
	CHECK_STR(json_string_value(json_object_get(json_object_get(doc, "config"), "digest")), digest);
	CHECK_INT(json_integer_value(json_object_get(json_object_get(doc, "config"), "size")), strlen(cfg));
	CHECK_INT(json_array_size(json_object_get(doc, "layers")), 0);
	CHECK(json_is_array(json_object_get(doc, "layers")));
	CHECK_STR(json_string_value(json_object_get(json_object_get(doc, "annotations"), "molcache.marker.expires")),
		  "2026-11-30T01:03:20.000Z");
	CHECK_INT(mc_marker_parse(&back, doc), 0);
	CHECK_STR(back.key, KEY);
	CHECK_STR(back.host, m.host);
	CHECK_STR(back.nonce, m.nonce);
	CHECK_INT(back.started_ms, m.started_ms);
	CHECK_INT(back.expires_ms, m.expires_ms);
	CHECK_INT(back.ttl_ms, m.ttl_ms);
	mc_marker_release(&back);
	mc_marker_release(NULL);
	json_decref(doc);

	/* the nonce alone makes two markers' bytes, so their digests, differ */
	m.nonce = (char *)"ffeeddccbbaa99887766554433221100";
	char *cfg2 = mc_marker_config_json(&m);
	CHECK(strcmp(cfg, cfg2) != 0);
	free(cfg2);
	free(cfg);
	free(man);
}

static void test_parse_refuses(void)
{
	static const char *const bad[] = {
		"{}",
		"{\"annotations\":{}}",
		/* an image's manifest, not a marker */
		"{\"schemaVersion\":2,\"config\":{\"digest\":\"sha256:00\"},\"layers\":[]}",
		"{\"annotations\":{\"molcache.marker.key\":\"k\",\"molcache.marker.host\":\"h\",\"molcache.marker.nonce\":\"n\","
		"\"molcache.marker.ttl-ms\":\"x\",\"molcache.marker.started\":\"2026-12-01T08:00:00Z\","
		"\"molcache.marker.expires\":\"2026-12-01T08:10:00Z\"}}",
		"{\"annotations\":{\"molcache.marker.key\":\"k\",\"molcache.marker.host\":\"h\",\"molcache.marker.nonce\":\"n\","
		"\"molcache.marker.ttl-ms\":\"600000\",\"molcache.marker.started\":\"yesterday\","
		"\"molcache.marker.expires\":\"2026-12-01T08:10:00Z\"}}",
		"{\"annotations\":{\"molcache.marker.key\":\"k\",\"molcache.marker.host\":\"h\",\"molcache.marker.nonce\":\"\","
		"\"molcache.marker.ttl-ms\":\"600000\",\"molcache.marker.started\":\"2026-12-01T08:00:00Z\","
		"\"molcache.marker.expires\":\"2026-12-01T08:10:00Z\"}}",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
		struct mc_marker m;
		json_t *doc = json_loads(bad[i], 0, NULL);
		CHECK(doc != NULL);
		CHECK_INT(mc_marker_parse(&m, doc), MC_EINVAL);
		CHECK(m.key == NULL && m.host == NULL);
		json_decref(doc);
		mc_error_clear();
	}
}

static void test_ttl(void)
{
	static const struct {
		int64_t build_ms, ttl_ms;
	} cases[] = {
		{ 0, MC_MARKER_TTL_DEFAULT_MS },		    /* none recorded */
		{ -5, MC_MARKER_TTL_DEFAULT_MS },
		{ 3000, MC_MARKER_TTL_MIN_MS },			    /* a quick (cached) build: the floor */
		{ 29999, MC_MARKER_TTL_MIN_MS },
		{ 45000, 90000 },				    /* 2 x the build */
		{ 10 * 60 * 1000, 20 * 60 * 1000 },
		{ MC_MARKER_TTL_MAX_MS / 2, MC_MARKER_TTL_MAX_MS },
		{ 5LL * 60 * 60 * 1000, MC_MARKER_TTL_MAX_MS },	    /* the cap */
		{ INT64_MAX, MC_MARKER_TTL_MAX_MS },		    /* no overflow */
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++)
		CHECK_INT(mc_marker_ttl(cases[i].build_ms), cases[i].ttl_ms);
}

static void test_wait(void)
{
	struct mc_marker m = { NULL, NULL, NULL, 1000000, 1600000, 600000 };

	CHECK_INT(mc_marker_wait_ms(&m, 1000000), 600000);
	CHECK_INT(mc_marker_wait_ms(&m, 1300000), 300000);
	CHECK_INT(mc_marker_wait_ms(&m, 1600000), 0); /* expired */
	CHECK_INT(mc_marker_wait_ms(&m, 9999999), 0);
	/* the builder's clock ahead of ours by an hour: still no more than its ttl */
	CHECK_INT(mc_marker_wait_ms(&m, 1000000 - 3600000), 600000);
	CHECK_INT(mc_marker_poll_ms(1), 1000);
	CHECK_INT(mc_marker_poll_ms(2), 2000);
	CHECK_INT(mc_marker_poll_ms(3), 4000);
	CHECK_INT(mc_marker_poll_ms(4), 8000);
	CHECK_INT(mc_marker_poll_ms(5), 10000);
	CHECK_INT(mc_marker_poll_ms(60), 10000);
	CHECK_INT(mc_marker_poll_ms(0), 1000);
}

int main(void)
{
	test_round_trip();
	test_parse_refuses();
	test_ttl();
	test_wait();
	return t_done();
}
