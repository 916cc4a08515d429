/* test_util.c — the string-vector helpers the gc relies on for its one-pass
 * listings (sorted membership instead of a stat or a request per row). */
#include "util/mc_util.h"
#include "t.h"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

/*
 * The buffer contract (git's strbuf): adding cannot fail, so there is no
 * result to check. The old buffer returned an error past 64 MiB that most
 * callers ignored, silently dropping the bytes; now it grows, and only a size
 * that overflows size_t stops the process (abort, never a short buffer).
 */
static void test_buf_contract(void)
{
	/* the signatures are the contract: this does not compile if adds can fail */
	void (*add)(struct mc_buf *, const void *, size_t) = mc_buf_add;
	void (*adds)(struct mc_buf *, const char *) = mc_buf_adds;
	void (*addf)(struct mc_buf *, const char *, ...) = mc_buf_addf;
	struct mc_buf b = MC_BUF_INIT;
	size_t chunk = (size_t)1 << 20, i;
	char *block = mc_calloc(1, chunk);
	pid_t pid;
	int status = 0;

	CHECK_STR(mc_buf_cstr(&b), "");
	CHECK(b.ptr == NULL);
	adds(&b, "");
	CHECK(b.ptr != NULL && b.ptr[0] == 0 && b.len == 0);
	addf(&b, "%s-%d", "x", 42);
	add(&b, "\0y", 2);
	CHECK_INT(b.len, 6);
	CHECK(!memcmp(b.ptr, "x-42\0y", 7)); /* NULs counted, NUL-terminated after */
	mc_buf_reset(&b);
	for (i = 0; i < 65; i++)
		add(&b, block, chunk);
	CHECK_INT(b.len, 65 * chunk); /* past the old 64 MiB cap, nothing dropped */
	CHECK(b.len < b.cap && b.ptr[b.len] == 0);
	mc_buf_release(&b);
	CHECK(b.ptr == NULL && b.len == 0 && b.cap == 0);

	/* a size that would overflow is a programmer error: the process aborts */
	fflush(NULL);
	pid = fork();
	if (pid == 0) {
		struct mc_buf c = MC_BUF_INIT;
		mc_buf_adds(&c, "x");
		mc_buf_add(&c, block, SIZE_MAX);
		_exit(0);
	}
	CHECK(pid > 0 && waitpid(pid, &status, 0) == pid);
	CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT);
	free(block);
}

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

static int collect(const char *dir, void *ud)
{
	mc_strv_push(ud, dir);
	return 0;
}

static int stop_at_b(const char *dir, void *ud)
{
	mc_strv_push(ud, dir);
	return strcmp(dir, "a/b") ? 0 : -7;
}

/* mc_mkdir_p("") once read past its buffer (ASan reports it); the walk that
 * mc_mkdir_p and the cache root's creation share names each directory once. */
static void test_path_each_dir(void)
{
	static const struct {
		const char *path, *dirs;
	} t[] = {
		{ "", "" },
		{ "/", "" },
		{ "a", "a" },
		{ "a/b/c", "a,a/b,a/b/c" },
		{ "/x/y", "/x,/x/y" },
		{ "a/b/", "a,a/b,a/b/" },
	};
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		struct mc_strv v = MC_STRV_INIT;
		struct mc_buf b = MC_BUF_INIT;
		CHECK_INT(mc_path_each_dir(t[i].path, collect, &v), 0);
		for (size_t k = 0; k < v.n; k++)
			mc_buf_addf(&b, "%s%s", k ? "," : "", v.v[k]);
		CHECK_STR(mc_buf_cstr(&b), t[i].dirs);
		mc_buf_release(&b);
		mc_strv_release(&v);
	}
	struct mc_strv v = MC_STRV_INIT;
	CHECK_INT(mc_path_each_dir("a/b/c", stop_at_b, &v), -7);
	CHECK_INT(v.n, 2);
	mc_strv_release(&v);
	CHECK_INT(mc_mkdir_p("", 0700), 0);
}

int main(void)
{
	test_strv();
	test_path_each_dir();
	test_buf_contract();
	return t_done();
}
