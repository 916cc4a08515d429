/* test_key_ignore.c — pins the dockerfile_hash of a Dockerfile with its own ignore file (docs/key-format.md). */
#include <string.h>

#include "store/key.h"
#include "t.h"

/* sha256("FROM alpine:3.19\n") and sha256("node_modules\n") */
#define DFH "bb31b87c25bb1c4fd052ee37e99b450589c140bf65b028916376f0bea1eae960"
#define IGH "16d30e4462189fb14dd611bdb708c510630c576a1f35b9383e89a4352da36c97"

static void test_vector(void)
{
	char out[65];

	CHECK_INT(mc_key_dockerfile_hash(out, DFH, "Dockerfile.prod.dockerignore", IGH), 0);
	CHECK_STR(out, "b7c2964cc8bb2815c0433ebceea7963cc8e1efe61812dfe092bdfa2895378fd1");
}

/* Each input counts: the ignore file's path picks it, so it is hashed too. */
static void test_each_input_counts(void)
{
	char base[65], other[65];

	CHECK_INT(mc_key_dockerfile_hash(base, DFH, "x/Dockerfile.dockerignore", IGH), 0);
	CHECK_INT(mc_key_dockerfile_hash(other, DFH, "y/Dockerfile.dockerignore", IGH), 0);
	CHECK(strcmp(base, other) != 0);
	CHECK_INT(mc_key_dockerfile_hash(other, IGH, "x/Dockerfile.dockerignore", DFH), 0);
	CHECK(strcmp(base, other) != 0);
	CHECK(strcmp(base, DFH) != 0);
	/* length prefixes: moving a byte between fields changes the hash */
	CHECK_INT(mc_key_dockerfile_hash(base, "ab", "c", ""), 0);
	CHECK_INT(mc_key_dockerfile_hash(other, "a", "bc", ""), 0);
	CHECK(strcmp(base, other) != 0);
}

int main(void)
{
	test_vector();
	test_each_input_counts();
	return t_done();
}
