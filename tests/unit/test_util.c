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

/* A capped buffer refuses what would pass its cap and keeps what it had. */
static void test_buf_cap(void)
{
	struct mc_buf b = MC_BUF_INIT;
	mc_buf_set_max(&b, 8);
	CHECK_INT(mc_buf_put(&b, "12345", 5), 0);
	CHECK_INT(mc_buf_put(&b, "678", 3), 0);
	CHECK_INT(mc_buf_put(&b, "9", 1), MC_ETOOBIG);
	CHECK_INT(mc_buf_put(&b, "", 0), 0);
	CHECK_STR(mc_buf_cstr(&b), "12345678");
	mc_buf_reset(&b);
	CHECK_INT(mc_buf_put(&b, "123456789", 9), MC_ETOOBIG);
	CHECK_INT((int)b.len, 0);
	mc_buf_release(&b);
}

/* The one error-wrapping helper keeps the lower layer's words after the new subject. */
static void test_error_wrap(void)
{
	mc_error_set(MC_ENOTFOUND, "no such file or directory");
	mc_error_hint("a hint of the lower layer");
	CHECK_INT(mc_error_wrap(MC_EBUILD, "template '%s'", "x"), MC_EBUILD);
	CHECK_STR(mc_error_msg(), "template 'x': no such file or directory");
	CHECK_STR(mc_error_hint_msg(), "");
	CHECK_INT(mc_error_code(), MC_EBUILD);
	mc_error_clear();
}

/* base64 both ways, RFC 3339, the hex checks: the one copy each module uses. */
static void test_codecs(void)
{
	static const struct { const char *bin, *std, *url; } b64[] = {
		{ "", "", "" }, { "f", "Zg==", "Zg==" }, { "fo", "Zm8=", "Zm8=" }, { "foo", "Zm9v", "Zm9v" },
		{ "\xfb\xff\xbf", "+/+/", "-_-_" }, { "user:pa ss", "dXNlcjpwYSBzcw==", "dXNlcjpwYSBzcw==" },
	};
	struct mc_buf b = MC_BUF_INIT;
	for (size_t i = 0; i < sizeof(b64) / sizeof(b64[0]); i++) {
		char *e = mc_base64_encode(b64[i].bin, strlen(b64[i].bin), 0), *u = mc_base64_encode(b64[i].bin, strlen(b64[i].bin), 1);
		CHECK_STR(e, b64[i].std);
		CHECK_STR(u, b64[i].url);
		CHECK_INT(mc_base64_decode(&b, e, strlen(e)), 0);
		CHECK_STR(mc_buf_cstr(&b), b64[i].bin);
		free(e);
		free(u);
	}
	CHECK_INT(mc_base64_decode(&b, " Zm8 ", 5), 0); /* padding optional, spaces around */
	CHECK_STR(mc_buf_cstr(&b), "fo");
	CHECK_INT(mc_base64_decode(&b, "Zm9v\n", 5), 0);
	CHECK_STR(mc_buf_cstr(&b), "foo");
	CHECK_INT(mc_base64_decode(&b, "Z", 1), MC_EINVAL);
	CHECK_INT(mc_base64_decode(&b, "Zm=v", 4), MC_EINVAL);
	CHECK_INT(mc_base64_decode(&b, "Zg===", 5), MC_EINVAL);
	mc_buf_release(&b);

	CHECK(mc_rfc3339_ms("1970-01-01T00:00:01Z") == 1000);
	CHECK(mc_rfc3339_ms("2024-05-01T12:00:00.123456789Z") == 1714564800123LL);
	CHECK(mc_rfc3339_ms("2024-05-01T14:00:00.5+02:00") == 1714564800500LL);
	CHECK(mc_rfc3339_ms("yesterday") == 0);
	CHECK(mc_rfc3339_ms(NULL) == 0);
	char t[32];
	mc_format_utc(t, 1714564800123LL);
	CHECK_STR(t, "2024-05-01 12:00:00Z");
	mc_format_utc(t, 0);
	CHECK_STR(t, "-");

	CHECK(mc_is_hex("abcDEF0123", 10));
	CHECK(!mc_is_hex("abcDEF0123", 9));
	CHECK(!mc_is_hex("abcg", 4));
	CHECK(!mc_is_hex(NULL, 0));
	char key[65];
	mc_sha256_hex(key, "x", 1);
	CHECK(mc_is_key(key));
	key[3] = 'A';
	CHECK(!mc_is_key(key));
	CHECK(!mc_is_key("abc"));
	CHECK(!mc_is_key(NULL));
}

int main(void)
{
	test_buf_cap();
	test_error_wrap();
	test_codecs();
	test_strv();
	test_path_each_dir();
	test_buf_contract();
	return t_done();
}
