/* util.c — errors, buffers, string vectors, allocation and file-tree helpers. */
#define _GNU_SOURCE
/* SHA256_Init/Update/Final: see mc_sha256_hex */
#define OPENSSL_SUPPRESS_DEPRECATED
#include "mc_util.h"

#include <openssl/evp.h>
#include <openssl/sha.h>

#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

static _Thread_local struct mc_error_saved err;

void mc_error_save(struct mc_error_saved *out) { *out = err; }
void mc_error_restore(const struct mc_error_saved *in) { err = *in; }

/* Both format into a copy first: a caller may pass mc_error_msg() itself as
 * an argument (wrapping the lower layer's words), and vsnprintf into the
 * buffer it reads from garbles the text (a repeated prefix). */
int mc_error_set(int code, const char *fmt, ...)
{
	char tmp[sizeof(err.msg)];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	memcpy(err.msg, tmp, sizeof(tmp));
	err.code = code;
	err.hint[0] = 0;
	return code;
}

int mc_error_wrap(int code, const char *fmt, ...)
{
	char tmp[sizeof(err.msg)];
	int n;
	va_list ap;
	va_start(ap, fmt);
	n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	/* truncated: the new subject alone */
	if (n >= 0 && (size_t)n + 2 < sizeof(tmp)) {
		size_t at = (size_t)n, room = sizeof(tmp) - at;
		memcpy(tmp + at, ": ", 2);
		at += 2;
		room -= 2;
		memcpy(tmp + at, err.msg, strnlen(err.msg, room - 1));
		tmp[at + strnlen(err.msg, room - 1)] = 0;
	}
	memcpy(err.msg, tmp, sizeof(tmp));
	err.code = code;
	err.hint[0] = 0;
	return code;
}

void mc_error_hint(const char *fmt, ...)
{
	char tmp[sizeof(err.hint)];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	memcpy(err.hint, tmp, sizeof(tmp));
}

int mc_error_errno(const char *what)
{
	int e = errno;
	int code = e == ENOENT			? MC_ENOTFOUND
		   : e == ENOSPC || e == EDQUOT ? MC_ENOSPC
		   : e == EACCES || e == EPERM	? MC_EACCES
						: MC_ERR;
	return mc_error_set(code, "%s: %s", what, strerror(e));
}

static volatile sig_atomic_t interrupted;

static void on_signal(int sig) { interrupted = sig; }

void mc_interrupt_install(void)
{
	struct sigaction sa = { .sa_handler = on_signal };
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = SA_RESTART;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
}

int mc_interrupted(void) { return interrupted; }

int mc_interrupt_check(void)
{
	if (!interrupted)
		return 0;
	return mc_error_set(MC_EINTR, "interrupted (%s)", interrupted == SIGINT ? "SIGINT" : "SIGTERM");
}

const char *mc_error_msg(void) { return err.msg; }
const char *mc_error_hint_msg(void) { return err.hint; }
int mc_error_code(void) { return err.code; }
void mc_error_clear(void) { err.code = 0; err.msg[0] = 0; err.hint[0] = 0; }

_Noreturn void mc_bug(const char *file, int line, const char *msg)
{
	fprintf(stderr, "molcache: BUG at %s:%d: %s\n", file, line, msg);
	abort();
}

void *mc_malloc(size_t n)
{
	void *p = malloc(n ? n : 1);
	if (!p)
		MC_BUG("out of memory");
	return p;
}

void *mc_calloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size ? size : 1);
	if (!p)
		MC_BUG("out of memory");
	return p;
}

void *mc_realloc(void *p, size_t n)
{
	p = realloc(p, n ? n : 1);
	if (!p)
		MC_BUG("out of memory");
	return p;
}

char *mc_strdup(const char *s) { return mc_strndup(s, strlen(s)); }

char *mc_strndup(const char *s, size_t n)
{
	size_t len = strnlen(s, n);
	char *p = mc_malloc(len + 1);
	memcpy(p, s, len);
	p[len] = 0;
	return p;
}

char *mc_asprintf(const char *fmt, ...)
{
	struct mc_buf b = MC_BUF_INIT;
	va_list ap;
	va_start(ap, fmt);
	mc_buf_vaddf(&b, fmt, ap);
	va_end(ap);
	return mc_buf_detach(&b);
}

/* Room for extra more bytes and the NUL. Overflowing size_t is a programmer error (git's strbuf does the same). */
static void buf_grow(struct mc_buf *b, size_t extra)
{
	if (extra > SIZE_MAX - 1 - b->len)
		MC_BUG("mc_buf: size overflow");
	if (b->len + extra + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 64;
		while (cap < b->len + extra + 1)
			cap = cap > SIZE_MAX / 2 ? b->len + extra + 1 : cap * 2;
		b->ptr = mc_realloc(b->ptr, cap);
		b->cap = cap;
	}
}

void mc_buf_set_max(struct mc_buf *b, size_t max) { b->max = max; }

int mc_buf_put(struct mc_buf *b, const void *data, size_t n)
{
	if (b->max && n > b->max - (b->len < b->max ? b->len : b->max))
		return MC_ETOOBIG;
	mc_buf_add(b, data, n);
	return 0;
}

void mc_buf_add(struct mc_buf *b, const void *data, size_t n)
{
	if (b->max && (b->len > b->max || n > b->max - b->len))
		MC_BUG("mc_buf: past its cap (feed a capped buffer through mc_buf_put)");
	buf_grow(b, n);
	if (n)
		memcpy(b->ptr + b->len, data, n);
	b->len += n;
	b->ptr[b->len] = 0;
}

void mc_buf_adds(struct mc_buf *b, const char *s) { mc_buf_add(b, s, strlen(s)); }

void mc_buf_vaddf(struct mc_buf *b, const char *fmt, va_list ap)
{
	va_list cp;
	va_copy(cp, ap);
	int n = vsnprintf(NULL, 0, fmt, cp);
	va_end(cp);
	if (n < 0)
		MC_BUG("mc_buf_vaddf: vsnprintf failed (a bad format or a string over INT_MAX)");
	buf_grow(b, (size_t)n);
	vsnprintf(b->ptr + b->len, (size_t)n + 1, fmt, ap);
	b->len += (size_t)n;
}

void mc_buf_addf(struct mc_buf *b, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	mc_buf_vaddf(b, fmt, ap);
	va_end(ap);
}

const char *mc_buf_cstr(const struct mc_buf *b) { return b->ptr ? b->ptr : ""; }

void mc_buf_reset(struct mc_buf *b)
{
	b->len = 0;
	if (b->ptr)
		b->ptr[0] = 0;
}

void mc_buf_release(struct mc_buf *b)
{
	free(b->ptr);
	b->ptr = NULL;
	b->len = b->cap = 0;
}

char *mc_buf_detach(struct mc_buf *b)
{
	char *p = b->ptr ? b->ptr : mc_strdup("");
	b->ptr = NULL;
	b->len = b->cap = 0;
	return p;
}

void mc_strv_pushn(struct mc_strv *sv, const char *s, size_t n)
{
	if (sv->n + 2 > sv->cap) {
		sv->cap = sv->cap ? sv->cap * 2 : 8;
		sv->v = mc_realloc(sv->v, sv->cap * sizeof(*sv->v));
	}
	sv->v[sv->n++] = mc_strndup(s, n);
	sv->v[sv->n] = NULL;
}

void mc_strv_push(struct mc_strv *sv, const char *s) { mc_strv_pushn(sv, s, strlen(s)); }

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

void mc_strv_sort(struct mc_strv *sv)
{
	if (sv->n > 1)
		qsort(sv->v, sv->n, sizeof(*sv->v), cmp_str);
}

long mc_strv_find(const struct mc_strv *sv, const char *s)
{
	for (size_t i = 0; i < sv->n; i++)
		if (!strcmp(sv->v[i], s))
			return (long)i;
	return -1;
}

int mc_strv_has_sorted(const struct mc_strv *sv, const char *s)
{
	return s && sv->n && bsearch(&s, sv->v, sv->n, sizeof(*sv->v), cmp_str) != NULL;
}

void mc_strv_release(struct mc_strv *sv)
{
	for (size_t i = 0; i < sv->n; i++)
		free(sv->v[i]);
	free(sv->v);
	sv->v = NULL;
	sv->n = sv->cap = 0;
}

int64_t mc_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t mc_mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int mc_path_each_dir(const char *path, int (*fn)(const char *dir, void *ud), void *ud)
{
	char *p = mc_strdup(path);
	size_t n = strlen(p);
	int ret = 0;

	/* from 1: the leading '/' of an absolute path is no directory to make */
	for (size_t i = 1; i <= n && !ret; i++) {
		if ((p[i] != '/' && p[i] != 0) || (i == 1 && p[0] == '/'))
			continue;
		p[i] = 0;
		ret = fn(p, ud);
		p[i] = i < n ? '/' : 0;
	}
	free(p);
	return ret;
}

static int mkdir_one(const char *dir, void *ud)
{
	if (mkdir(dir, *(const unsigned *)ud) && errno != EEXIST)
		return mc_error_errno(dir);
	return 0;
}

int mc_mkdir_p(const char *path, unsigned mode)
{
	return mc_path_each_dir(path, mkdir_one, &mode);
}

/* Removes everything inside the directory open as dfd; never follows a symlink
 * (entries are unlinked, directories opened with O_NOFOLLOW relative to dfd). */
static int rm_in(int dfd, const char *what)
{
	DIR *d = fdopendir(dfd);
	if (!d) {
		close(dfd);
		return mc_error_errno(what);
	}
	int ret = 0;
	struct dirent *de;
	while ((de = readdir(d))) {
		const char *n = de->d_name;
		if (!strcmp(n, ".") || !strcmp(n, ".."))
			continue;
		if (!unlinkat(dirfd(d), n, 0))
			continue;
		if (errno != EISDIR && errno != EPERM) {
			ret = mc_error_errno(what);
			continue;
		}
		int sub = openat(dirfd(d), n, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (sub < 0) {
			ret = mc_error_errno(what);
			continue;
		}
		struct stat st;
		if (fstat(sub, &st) == 0 && (st.st_mode & 0700) != 0700)
			fchmod(sub, st.st_mode | 0700);
		if (rm_in(sub, what) < 0)
			ret = MC_ERR;
		if (unlinkat(dirfd(d), n, AT_REMOVEDIR) && errno != ENOENT)
			ret = mc_error_errno(what);
	}
	closedir(d);
	return ret;
}

int mc_rm_rf(const char *path)
{
	struct stat st;
	if (lstat(path, &st))
		return errno == ENOENT ? 0 : mc_error_errno(path);
	if (!S_ISDIR(st.st_mode))
		return unlink(path) && errno != ENOENT ? mc_error_errno(path) : 0;
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return mc_error_errno(path);
	int ret = rm_in(fd, path);
	if (rmdir(path) && errno != ENOENT)
		ret = mc_error_errno(path);
	return ret;
}

static int64_t du_in(int dfd)
{
	DIR *d = fdopendir(dfd);
	if (!d) {
		close(dfd);
		return 0;
	}
	int64_t total = 0;
	struct dirent *de;
	while ((de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		struct stat st;
		if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW))
			continue;
		if (S_ISREG(st.st_mode))
			total += st.st_size;
		else if (S_ISDIR(st.st_mode)) {
			int sub = openat(dirfd(d), de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			if (sub >= 0)
				total += du_in(sub);
		}
	}
	closedir(d);
	return total;
}

/* The mount point holding path: the last directory up from it on the same device. */
static char *mount_point(const char *path)
{
	char *cur = realpath(path, NULL);
	struct stat st, up;

	if (!cur)
		return mc_strdup(path);
	if (stat(cur, &st))
		return cur;
	for (char *slash; (slash = strrchr(cur, '/')) && slash != cur;) {
		*slash = 0;
		if (stat(cur, &up) || up.st_dev != st.st_dev) {
			*slash = '/';
			return cur;
		}
	}
	if (stat("/", &up) == 0 && up.st_dev == st.st_dev)
		cur[1] = 0; /* cur is "/<name>": the root itself */
	return cur;
}

#define FS_FULL_BYTES (512 * 1024)

int mc_fs_full(const char *path, char **mount)
{
	struct statvfs v;
	int full;

	if (mount)
		*mount = NULL;
	if (statvfs(path, &v))
		return 0;
	/* root may use the blocks reserved for it */
	uint64_t blocks = geteuid() == 0 ? v.f_bfree : v.f_bavail;
	uint64_t files = geteuid() == 0 ? v.f_ffree : v.f_favail;
	full = blocks * v.f_frsize < FS_FULL_BYTES || (v.f_files > 0 && files == 0);
	if (full && mount)
		*mount = mount_point(path);
	return full;
}

int64_t mc_du(const char *path)
{
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	return fd < 0 ? 0 : du_in(fd);
}

/* ---- durations and sizes -------------------------------------------------- */

/* Leading decimal digits into *out; the number of digits, or -1 on overflow. */
static int dur_digits(int64_t *out, const char *s)
{
	int64_t v = 0;
	int n = 0;
	while (s[n] >= '0' && s[n] <= '9') {
		int d = s[n] - '0';
		if (v > (INT64_MAX - d) / 10)
			return -1;
		v = v * 10 + d;
		n++;
	}
	*out = v;
	return n;
}

static int dur_mul(int64_t *out, int64_t v, int64_t unit)
{
	if (v > INT64_MAX / unit)
		return -1;
	*out = v * unit;
	return 0;
}

int mc_parse_duration(int64_t *out_ms, const char *s)
{
	static const struct {
		const char *suffix;
		int64_t ms;
	} units[] = {
		{ "", 1000 },	     { "ms", 1 },	     { "s", 1000 },	     { "m", 60000 },
		{ "h", 3600000 },    { "d", 86400000 },    { "w", 604800000 },
	};
	int64_t v;
	int n;

	*out_ms = 0;
	if (!s || (n = dur_digits(&v, s)) <= 0)
		goto bad;
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (strcmp(s + n, units[i].suffix))
			continue;
		if (dur_mul(out_ms, v, units[i].ms))
			goto bad;
		return 0;
	}
bad:
	*out_ms = 0;
	return mc_error_set(MC_EINVAL, "duration '%.64s': expected a number with s, m, h, d or w (e.g. 7d)",
			    s ? s : "");
}

int mc_parse_size(int64_t *out_bytes, const char *s)
{
	static const char units[] = "BKMGTPE";
	int64_t v, unit = 1;
	int n;

	*out_bytes = 0;
	if (!s || (n = dur_digits(&v, s)) <= 0)
		goto bad;
	const char *u = s + n;
	if (*u) {
		const char *p = strchr(units, *u >= 'a' && *u <= 'z' ? *u - 32 : *u);
		if (!p)
			goto bad;
		for (const char *q = units; q < p; q++)
			unit *= 1024;
		u++;
		/* "20G", "20GB", "20GiB"; "B" alone is bytes */
		if (unit > 1 && (!strcmp(u, "B") || !strcmp(u, "iB") || !strcmp(u, "b")))
			u += strlen(u);
		if (*u)
			goto bad;
	}
	if (dur_mul(out_bytes, v, unit))
		goto bad;
	return 0;
bad:
	*out_bytes = 0;
	return mc_error_set(MC_EINVAL, "size '%.64s': expected bytes or a number with K, M, G or T (e.g. 20G)",
			    s ? s : "");
}

void mc_format_duration_go(char out[32], int64_t ms)
{
	int64_t s = ms / 1000, h = s / 3600, m = s % 3600 / 60;

	if (h)
		snprintf(out, 32, "%lldh%lldm%llds", (long long)h, (long long)m, (long long)(s % 60));
	else if (m)
		snprintf(out, 32, "%lldm%llds", (long long)m, (long long)(s % 60));
	else if (ms % 1000)
		snprintf(out, 32, "%.3gs", (double)ms / 1000);
	else
		snprintf(out, 32, "%llds", (long long)s);
}

/*
 * OpenSSL's SHA-256 itself (the code its default provider runs), called
 * directly: EVP_Digest's first use fetches the algorithm, which builds
 * OpenSSL 3's whole name map (every legacy cipher and digest name), 35 % of
 * a hit's instructions (docs/benchmarks.md). Deprecated since 3.0, not gone.
 */
void mc_sha256_hex(char out[65], const void *data, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	unsigned char md[SHA256_DIGEST_LENGTH];
	SHA256_CTX c;

	if (!SHA256_Init(&c) || !SHA256_Update(&c, data ? data : "", n) || !SHA256_Final(md, &c))
		MC_BUG("SHA256 failed");
	for (unsigned int i = 0; i < 32; i++) {
		out[2 * i] = hex[md[i] >> 4];
		out[2 * i + 1] = hex[md[i] & 0xf];
	}
	out[64] = 0;
}

/* Length of the K in "K=V" (the whole string when there is no '='). */

char *mc_path_clean(const char *p)
{
	struct mc_buf b = MC_BUF_INIT;
	size_t *ends = NULL, depth = 0;

	if (!p || !*p || p[0] == '/')
		return NULL;
	ends = mc_calloc(strlen(p) + 1, sizeof(*ends));
	mc_buf_adds(&b, "");
	while (*p) {
		size_t n = strcspn(p, "/");
		if (n == 2 && !memcmp(p, "..", 2)) {
			if (!depth) { /* leaves the tree */
				mc_buf_release(&b);
				free(ends);
				return NULL;
			}
			b.len = --depth ? ends[depth - 1] : 0;
			b.ptr[b.len] = 0;
		} else if (n && !(n == 1 && *p == '.')) {
			if (depth)
				mc_buf_adds(&b, "/");
			mc_buf_add(&b, p, n);
			ends[depth++] = b.len;
		}
		p += n + (p[n] == '/');
	}
	free(ends);
	if (!depth) { /* "." or "lib/..": the directory itself */
		mc_buf_release(&b);
		return NULL;
	}
	return mc_buf_detach(&b);
}

char *mc_base64_encode(const void *data, size_t n, int url)
{
	const unsigned char *s = data;
	struct mc_buf b = MC_BUF_INIT;
	enum { CHUNK = 3 * 1024 };
	unsigned char out[CHUNK / 3 * 4 + 1];

	mc_buf_adds(&b, "");
	for (size_t i = 0; i < n; i += CHUNK) {
		size_t k = n - i < CHUNK ? n - i : CHUNK;
		int m = EVP_EncodeBlock(out, s + i, (int)k);
		for (int j = 0; j < m && url; j++)
			out[j] = out[j] == '+' ? '-' : out[j] == '/' ? '_' : out[j];
		mc_buf_add(&b, out, (size_t)m);
	}
	return mc_buf_detach(&b);
}

static int b64_char(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' ||
	       c == '/';
}

static int is_space(unsigned char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

int mc_base64_decode(struct mc_buf *out, const char *b64, size_t len)
{
	/* Whole quads at a time through a stack buffer. */
	enum { CHUNK = 4096 };
	unsigned char bin[CHUNK / 4 * 3 + 4], last[4];
	const unsigned char *s = (const unsigned char *)(b64 ? b64 : "");
	size_t body, pad = 0, i, full, tail;
	int n;

	if (!b64)
		len = 0;
	mc_buf_reset(out);
	mc_buf_add(out, "", 0); /* an empty payload still reads as "" */
	while (len && is_space(*s))
		s++, len--;
	while (len && is_space(s[len - 1]))
		len--;
	while (pad < len && s[len - 1 - pad] == '=')
		pad++;
	body = len - pad;
	if (pad > 2 || (pad && len % 4) || body % 4 == 1)
		return mc_error_set(MC_EINVAL, "bad base64 length or padding");
	for (i = 0; i < body; i++)
		if (!b64_char(s[i]))
			return mc_error_set(MC_EINVAL, "bad base64 character at offset %zu", i);
	full = body - body % 4;
	for (i = 0; i < full; i += CHUNK) {
		size_t k = full - i < CHUNK ? full - i : CHUNK;
		n = EVP_DecodeBlock(bin, s + i, (int)k);
		if (n < 0 || (size_t)n != k / 4 * 3)
			return mc_error_set(MC_EINVAL, "bad base64: rejected by openssl");
		mc_buf_add(out, bin, (size_t)n);
	}
	tail = body % 4;
	if (tail) {
		/* EVP_DecodeBlock wants whole quads and decodes padding as zero bytes. */
		memcpy(last, s + full, tail);
		memset(last + tail, '=', 4 - tail);
		if (EVP_DecodeBlock(bin, last, 4) != 3)
			return mc_error_set(MC_EINVAL, "bad base64: rejected by openssl");
		mc_buf_add(out, bin, tail - 1);
	}
	return 0;
}

int mc_is_hex(const char *s, size_t len)
{
	return s && strspn(s, "0123456789abcdefABCDEF") == len && !s[len];
}

int mc_is_key(const char *s) { return s && strspn(s, "0123456789abcdef") == 64 && !s[64]; }

int64_t mc_rfc3339_ms(const char *s)
{
	struct tm tm = { 0 };
	int n = 0, ms = 0, digits = 0;
	int64_t t;

	if (!s || sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d%n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour,
			 &tm.tm_min, &tm.tm_sec, &n) != 6)
		return 0;
	s += n;
	if (*s == '.')
		for (s++; *s >= '0' && *s <= '9'; s++)
			if (digits++ < 3)
				ms = ms * 10 + (*s - '0');
	while (digits > 0 && digits < 3)
		ms *= 10, digits++;
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	t = (int64_t)timegm(&tm);
	if (*s == '+' || *s == '-') {
		int hh = 0, mm = 0, sign = *s == '-' ? -1 : 1;
		if (sscanf(s + 1, "%2d:%2d", &hh, &mm) == 2)
			t -= sign * (hh * 3600 + mm * 60);
	}
	return t * 1000 + ms;
}

int64_t mc_backoff_ms(int64_t base, int64_t count, int64_t cap)
{
	int64_t wait = base;
	for (int64_t i = 1; i < count && wait < cap; i++)
		wait *= 2;
	return wait < cap ? wait : cap;
}

void mc_format_rfc3339(char out[32], int64_t ms)
{
	struct tm tm;
	time_t t = (time_t)(ms / 1000);
	char sec[24];
	if (!gmtime_r(&t, &tm) || !strftime(sec, sizeof(sec), "%Y-%m-%dT%H:%M:%S", &tm))
		snprintf(out, 32, "-");
	else
		snprintf(out, 32, "%s.%03dZ", sec, (int)(ms % 1000));
}

void mc_format_utc(char out[32], int64_t ms)
{
	struct tm tm;
	time_t t = (time_t)(ms / 1000);
	if (ms == 0 || !gmtime_r(&t, &tm) || !strftime(out, 32, "%Y-%m-%d %H:%M:%SZ", &tm))
		snprintf(out, 32, "-");
}
