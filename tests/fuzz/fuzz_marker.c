/* fuzz_marker.c — the fleet build marker parser on any manifest text (anyone with push rights to the
 * registry writes it): no crash, and a success always has a 64-hex key, a printable host and nonce, and
 * times; a waiter never waits past MC_MARKER_TTL_MAX_MS whatever the marker says. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../fleet/fleet.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	json_t *doc = json_loadb((const char *)data, size, 0, NULL);
	struct mc_marker m;

	if (!doc)
		return 0;
	if (!mc_marker_parse(&m, doc)) {
		if (!mc_is_key(m.key) || !m.host || !*m.host || !m.nonce || !*m.nonce || m.ttl_ms <= 0)
			abort();
		for (const char *p = m.host; *p; p++)
			if (*p < 0x20 || *p > 0x7e)
				abort();
		int64_t w = mc_marker_wait_ms(&m, m.started_ms);
		if (w < 0 || w > MC_MARKER_TTL_MAX_MS)
			abort();
		mc_marker_release(&m);
	}
	json_decref(doc);
	return 0;
}
