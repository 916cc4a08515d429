/* test_archive_load.c — libarchive by dlopen: the configured soname loads; a
 * library without libarchive's functions is refused and closed again. Not
 * linked with libarchive, so what is loaded is only what the test loads. */
#include <dlfcn.h>

#include "../../context/context.h"
#include "t.h"

int main(void)
{
	const char *other = "libbz2.so.1.0"; /* a real library, not linked into this test */
	void *h;

	/* configure time read the soname from the library itself */
	CHECK(!strncmp(mc_context_archive_soname(), "libarchive.so.", 14));

	/* nothing there */
	CHECK_INT(mc_context_load_archive("libmc-no-such-library.so.1"), MC_ERR);
	CHECK(strstr(mc_error_msg(), "cannot load libarchive") != NULL);
	CHECK(strstr(mc_error_hint_msg(), "libarchive") != NULL);
	mc_error_clear();

	/* a library that loads but is not libarchive: refused, and let go */
	CHECK((h = dlopen(other, RTLD_NOW | RTLD_NOLOAD)) == NULL);
	CHECK_INT(mc_context_load_archive(other), MC_ERR);
	CHECK(strstr(mc_error_msg(), "has no archive_write_new") != NULL);
	CHECK((h = dlopen(other, RTLD_NOW | RTLD_NOLOAD)) == NULL);
	if (h)
		dlclose(h);
	mc_error_clear();

	/* the real one, then again at once */
	CHECK_INT(mc_context_load_archive(NULL), 0);
	CHECK((h = dlopen(mc_context_archive_soname(), RTLD_NOW | RTLD_NOLOAD)) != NULL);
	if (h)
		dlclose(h);
	CHECK_INT(mc_context_load_archive(other), 0);
	return t_done();
}
