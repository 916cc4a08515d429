/* fuzz_config.c — libFuzzer target for the config file parser (through the buffer parser). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cache/config.h"
#include "store/names.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mc_config c;
	/* an exact-size copy, so ASan sees any read past len */
	char *text = malloc(size ? size : 1);

	if (size)
		memcpy(text, data, size);
	mc_config_init(&c);
	if (!mc_config_load_buffer(&c, "fuzz", text, size)) {
		/* whatever parsed must hold the file's promises */
		if (!c.dockerfile || !c.networkmode || !c.runtimes.n || c.lock_timeout_s < 0)
			abort();
		for (size_t i = 0; i < c.runtimes.n; i++)
			if (mc_runtime_check(c.runtimes.v[i], NULL))
				abort();
		for (size_t i = 0; i < c.build_args.n; i++)
			if (!strchr(c.build_args.v[i], '=') || c.build_args.v[i][0] == '=')
				abort();
	}
	mc_config_release(&c);
	free(text);
	return 0;
}
