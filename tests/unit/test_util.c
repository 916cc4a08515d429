/* test_util.c — the string-vector helpers the gc relies on for its one-pass
 * listings (sorted membership instead of a stat or a request per row). */
#include "util/mc_util.h"
#include "t.h"

static void test_strv(void)
{
	struct mc_strv v = MC_STRV_INIT;
	static const char *const in[] = { "sha256:ff", "b", "sha256:0a", "a.lock", "b", "" };

	CHECK(!mc_strv_has_sorted(&v, "x")); /* empty */
	CHECK(!mc_strv_has_sorted(&v, NULL));
	for (size_t i = 0; i < sizeof(in) / sizeof(in[0]); i++)
		mc_strv_push(&v, in[i]);
	mc_strv_pushn(&v, "trees/abc", 5);
	CHECK_INT(v.n, 7);
	CHECK_INT(mc_strv_find(&v, "b"), 1); /* the first of two */
	CHECK_INT(mc_strv_find(&v, "trees"), 6);
	CHECK_INT(mc_strv_find(&v, "zz"), -1);
	mc_strv_sort(&v);
	for (size_t i = 1; i < v.n; i++)
		CHECK(strcmp(v.v[i - 1], v.v[i]) <= 0);
	for (size_t i = 0; i < sizeof(in) / sizeof(in[0]); i++)
		CHECK(mc_strv_has_sorted(&v, in[i]));
	CHECK(mc_strv_has_sorted(&v, "trees"));
	CHECK(!mc_strv_has_sorted(&v, "trees/abc"));
	CHECK(!mc_strv_has_sorted(&v, "sha256:f"));
	CHECK(!mc_strv_has_sorted(&v, "sha256:fff"));
	CHECK(!mc_strv_has_sorted(&v, NULL));
	mc_strv_release(&v);
	CHECK_INT(v.n, 0);
	mc_strv_release(&v); /* twice: harmless */
}

int main(void)
{
	test_strv();
	return t_done();
}
