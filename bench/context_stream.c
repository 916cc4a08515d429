/* context_stream.c — streams a build context to /dev/null through mc_context_read and reports speed and peak RSS.
 *
 * Built on demand: cmake --build BUILD --target context_stream; bench/context.sh
 * generates a 1 GiB tree and runs it warm and cold.
 *   context_stream DIR [DOCKERFILE]
 * Drop the page cache first (echo 3 > /proc/sys/vm/drop_caches) to measure a cold read.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <unistd.h>

#include "context/context.h"

int main(int argc, char **argv)
{
	static char buf[64 * 1024];
	struct mc_context *c = NULL;
	struct rusage ru;
	ssize_t n;
	int out, ret = 1;

	if (argc < 2 || argc > 3) {
		fprintf(stderr, "usage: %s DIR [DOCKERFILE]\n", argv[0]);
		return 2;
	}
	if ((out = open("/dev/null", O_WRONLY)) < 0) {
		perror("/dev/null");
		return 1;
	}
	int64_t t0 = mc_mono_ms();
	if (mc_context_open(&c, argv[1], argc > 2 ? argv[2] : "Dockerfile")) {
		fprintf(stderr, "context_stream: %s\n", mc_error_msg());
		goto done;
	}
	int64_t t1 = mc_mono_ms();
	while ((n = mc_context_read(c, buf, sizeof(buf))) > 0) {
		if (write(out, buf, (size_t)n) != n) {
			perror("write");
			goto done;
		}
	}
	if (n < 0) {
		fprintf(stderr, "context_stream: %s\n", mc_error_msg());
		goto done;
	}
	int64_t t2 = mc_mono_ms();
	double secs = (double)(t2 - t0) / 1000.0, mib = (double)mc_context_bytes(c) / (1024.0 * 1024.0);
	getrusage(RUSAGE_SELF, &ru);
	printf("bytes %zu\nwalk  %.3f s\ntotal %.3f s\nspeed %.1f MiB/s\npeak_rss %ld KiB\n", mc_context_bytes(c),
		(double)(t1 - t0) / 1000.0, secs, secs > 0 ? mib / secs : 0.0, ru.ru_maxrss);
	ret = 0;
done:
	mc_context_free(c);
	close(out);
	return ret;
}
