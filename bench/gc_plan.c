/* gc_plan.c — times the gc planner on N synthetic rows (default 100 000) over 9
 * runtimes, each image with 4 layers of which 2 are shared by groups of 100
 * rows, under --max-age, --max-size with --keep, and cost order; prints the
 * median of RUNS (default 3) plans per policy. Target: planning < 500 ms.
 * "shares" counts the keys the plan names as sharing a layer: each is a string
 * the planner allocates, so it bounds how fast a plan can be made. Where page
 * faults are slow (VMs) most of a cold plan is first-touching that memory;
 * GLIBC_TUNABLES=glibc.malloc.trim_threshold=4294967296:glibc.malloc.mmap_threshold=4294967295
 * keeps the heap between runs, so runs after the first time the planner alone.
 *   cmake --build BUILD --target gc_plan && BUILD/gc_plan [N [RUNS]] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gc/gc.h"

int main(int argc, char **argv)
{
	size_t n = argc > 1 ? strtoul(argv[1], NULL, 10) : 100000;
	int runs = argc > 2 ? atoi(argv[2]) : 3;
	static const char *rts[] = { "autogen", "claude-code", "codex", "crewai", "deepagents",
				     "gemini-cli", "hermes", "langgraph", "openclaw" };
	struct mc_entry *rows = mc_calloc(n, sizeof(*rows));
	struct mc_gc_facts *facts = mc_calloc(n, sizeof(*facts));
	struct mc_gc_layer *layers = mc_calloc(n * 4, sizeof(*layers));
	int64_t now = mc_now_ms();

	for (size_t i = 0; i < n; i++) {
		char hex[65];
		char seed[32];
		snprintf(seed, sizeof(seed), "%zu", i);
		mc_sha256_hex(hex, seed, strlen(seed));
		rows[i].key = mc_strdup(hex);
		rows[i].runtime = (char *)rts[i % 9];
		rows[i].state = MC_STATE_READY;
		rows[i].image_tag = mc_asprintf("molcache/%s:%.12s", rts[i % 9], hex);
		rows[i].image_id = mc_asprintf("sha256:%s", hex);
		rows[i].tree_bytes = 1 << 20;
		rows[i].image_bytes = 200 << 20;
		rows[i].last_used_ms = now - (int64_t)(i * 7919 % 86400000) * 30;
		rows[i].created_ms = rows[i].last_used_ms - 1000;
		rows[i].build_ms = 1000 + (int64_t)(i % 600) * 1000;
		for (int l = 0; l < 4; l++) {
			/* layers 0-1 shared by every 100 rows, 2-3 the image's own */
			snprintf(layers[i * 4 + l].chain, sizeof(layers[i * 4 + l].chain), "sha256:%zu-%d",
				 l < 2 ? i / 100 : i, l);
			layers[i * 4 + l].bytes = 50 << 20;
		}
		facts[i].layers = &layers[i * 4];
		facts[i].n_layers = 4;
	}
	struct mc_gc_input in = { rows, facts, n, NULL, 0, now };
	const char *names[] = { "--max-age 7d", "--max-size 1T --keep 3", "--max-size 1T --order cost" };
	if (runs < 1 || runs > 99)
		runs = 3;
	for (size_t c = 0; c < 3; c++) {
		struct mc_gc_plan plan;
		struct mc_gc_policy pol;
		int64_t ms[99];
		size_t shares = 0;
		mc_gc_policy_init(&pol);
		if (c == 0)
			pol.max_age_ms = 7LL * 86400000;
		else
			pol.max_size_bytes = 1LL << 40;
		pol.keep_n = c == 1 ? 3 : -1;
		pol.order = c == 2 ? MC_GC_ORDER_COST : MC_GC_ORDER_LRU;
		for (int r = 0; r < runs; r++) {
			int64_t t0 = mc_mono_ms();
			mc_gc_plan_make(&plan, &in, &pol);
			ms[r] = mc_mono_ms() - t0;
			if (r < runs - 1)
				mc_gc_plan_release(&plan);
		}
		/* a handful of runs: insertion sort for the median */
		for (int a = 1; a < runs; a++)
			for (int b = a; b > 0 && ms[b - 1] > ms[b]; b--) {
				int64_t t = ms[b];
				ms[b] = ms[b - 1];
				ms[b - 1] = t;
			}
		for (size_t i = 0; i < plan.n; i++)
			shares += plan.items[i].n_shares;
		printf("%-28s %zu rows → %zu items, %zu shares, %.1f GiB freed: %lld ms (median of %d, %lld–%lld)\n",
		       names[c], n, plan.n, shares, (double)plan.bytes_freed / (1 << 30), (long long)ms[runs / 2],
		       runs, (long long)ms[0], (long long)ms[runs - 1]);
		mc_gc_plan_release(&plan);
	}
	for (size_t i = 0; i < n; i++) {
		free(rows[i].key);
		free(rows[i].image_tag);
		free(rows[i].image_id);
	}
	free(rows);
	free(facts);
	free(layers);
	return 0;
}
