/*
 * mc_util.h — the small base every module shares: errors, a growable buffer,
 * a string vector, and the functions banned from the code base.
 *
 * Errors: a function returns 0 or a negative MC_E… code and records the message
 * with mc_error_set(). The message keeps the lower layer's words ("connection
 * refused", "no such file or directory"). Only the front end (cli/) prints it.
 * The record is thread-local; it holds the last error set on this thread.
 */
#ifndef MC_UTIL_H
#define MC_UTIL_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

enum {
	MC_OK = 0,
	MC_ERR = -1,          /* anything callers do not branch on */
	MC_ENOTFOUND = -2,    /* key, image, ref, file: not there */
	MC_ELOCKED = -3,      /* a lock is held by someone else (or timed out) */
	MC_EUNREACHABLE = -4, /* git remote could not be reached */
	MC_EENGINE = -5,      /* docker engine unreachable or refused */
	MC_EBUILD = -6,       /* the image build itself failed */
	MC_EINVAL = -7,       /* bad input from the user */
	MC_ETOOBIG = -8,      /* mc_buf_put past the buffer's cap: the caller names the limit */
	MC_ENOSPC = -9,       /* the cache root's file system is full */
	MC_EINTR = -10,       /* SIGINT or SIGTERM arrived (mc_interrupted()) */
	MC_EACCES = -11,      /* permission denied (index, socket, root) */
};

/* Records a message (printf-style) for code and returns code. Clears the hint. */
int mc_error_set(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Records "<fmt…>: <the current message>" for code and returns code: a lower
 * layer's words kept under a new subject. Clears the hint. */
int mc_error_wrap(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Adds a next-step hint to the current error ("hint: …" line in the CLI). */
void mc_error_hint(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Records "<what>: <strerror(errno)>" and returns MC_ERR (MC_ENOTFOUND for
 * ENOENT, MC_ENOSPC for ENOSPC and EDQUOT, MC_EACCES for EACCES and EPERM). */
int mc_error_errno(const char *what);
/* SIGINT and SIGTERM set a flag and do nothing else; long work polls
 * mc_interrupted() at its steps and progress callbacks and ends cleanly with
 * MC_EINTR. Installed by the commands that can be interrupted mid-work. */
void mc_interrupt_install(void);
/* 0, or the signal that arrived (SIGINT 2, SIGTERM 15). */
int mc_interrupted(void);
/* MC_EINTR with "interrupted (SIGTERM)" if a signal arrived, else 0. */
int mc_interrupt_check(void);
/* The last message, "" when none. */
const char *mc_error_msg(void);
/* The last hint, "" when none. */
const char *mc_error_hint_msg(void);
/* The code of the last mc_error_set(). */
int mc_error_code(void);
void mc_error_clear(void);
/* The current error, kept across a best-effort call that may set its own. */
struct mc_error_saved {
	int code;
	char msg[1024];
	char hint[512];
};
void mc_error_save(struct mc_error_saved *out);
void mc_error_restore(const struct mc_error_saved *in);

/*
 * struct mc_buf: a growable byte buffer, after git's strbuf.
 *
 * Invariants: ptr is NULL only before the first add (mc_buf_cstr() then
 * gives ""); after it, ptr[len] == 0 always and len < cap. Bytes may include
 * NULs; len counts them all.
 *
 * Contract: adding cannot fail. Out of memory aborts (mc_malloc), and so does
 * a size that overflows size_t (MC_BUG); there is nothing to check at a call
 * site.
 *
 * A buffer filled from the world (a file, a socket, a template) gets a cap once,
 * with mc_buf_set_max(), and is fed through mc_buf_put(), which refuses bytes
 * past the cap (MC_ETOOBIG, nothing added, no message: the caller says what was
 * too big), as curl's dynbuf does. mc_buf_add* past a cap is a bug.
 */
struct mc_buf {
	char *ptr;
	size_t len, cap;
	size_t max; /* 0: no cap */
};
#define MC_BUF_INIT { NULL, 0, 0, 0 }

void mc_buf_add(struct mc_buf *b, const void *data, size_t n);
/* Caps the buffer at max bytes (0: none); set once, before the first add. */
void mc_buf_set_max(struct mc_buf *b, size_t max);
/* Adds n bytes, or returns MC_ETOOBIG with nothing added when len + n > max. */
int mc_buf_put(struct mc_buf *b, const void *data, size_t n);
void mc_buf_adds(struct mc_buf *b, const char *s);
void mc_buf_addf(struct mc_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void mc_buf_vaddf(struct mc_buf *b, const char *fmt, va_list ap);
/* "" when empty, never NULL. */
const char *mc_buf_cstr(const struct mc_buf *b);
void mc_buf_reset(struct mc_buf *b);      /* len = 0, keeps memory */
void mc_buf_release(struct mc_buf *b);    /* frees, back to MC_BUF_INIT */
/* Hands the string to the caller (to free()), leaves b empty. Never NULL. */
char *mc_buf_detach(struct mc_buf *b);

/* struct mc_strv: an owned vector of owned strings; v[n] == NULL. */
struct mc_strv {
	char **v;
	size_t n, cap;
};
#define MC_STRV_INIT { NULL, 0, 0 }

void mc_strv_push(struct mc_strv *sv, const char *s);
void mc_strv_pushn(struct mc_strv *sv, const char *s, size_t n);
void mc_strv_sort(struct mc_strv *sv);
/* Index of s, or -1. */
long mc_strv_find(const struct mc_strv *sv, const char *s);
/* 1 when a vector sorted by mc_strv_sort() holds s (binary search; s may be NULL). */
int mc_strv_has_sorted(const struct mc_strv *sv, const char *s);
void mc_strv_release(struct mc_strv *sv);

/* Allocation that aborts on failure. */
void *mc_malloc(size_t n);
void *mc_calloc(size_t n, size_t size);
void *mc_realloc(void *p, size_t n);
char *mc_strdup(const char *s);
char *mc_strndup(const char *s, size_t n);
/* malloc'd printf. */
char *mc_asprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* sha256 of data as 64 lowercase hex + NUL (OpenSSL EVP). */
void mc_sha256_hex(char out[65], const void *data, size_t n);

/* Padded base64 of n bytes, malloc'd (OpenSSL EVP); url: the URL-safe
 * alphabet ('-' and '_'), as the engine's X-Registry-Auth decoder wants. */
char *mc_base64_encode(const void *data, size_t n, int url);
/* Decodes standard base64 into out (reset first; "" for an empty input).
 * Spaces around it are skipped, padding is optional. MC_EINVAL with a message
 * ("bad base64 …") on anything else. Works in fixed-size chunks: no allocation
 * sized by the input beyond out itself. */
int mc_base64_decode(struct mc_buf *out, const char *s, size_t n);
/* 1 when s is exactly len hex digits (either case); NULL gives 0. */
int mc_is_hex(const char *s, size_t len);
/* 1 when s is a cache key or an image id's hex: 64 lowercase hex digits. */
int mc_is_key(const char *s);

/* Milliseconds since the epoch / a monotonic clock. */
int64_t mc_now_ms(void);
int64_t mc_mono_ms(void);
/* "30s", "15m", "12h", "7d", "2w", "250ms"; a plain number is seconds; "0"
 * allowed. MC_EINVAL (with a message) on anything else or overflow. */
int mc_parse_duration(int64_t *out_ms, const char *s);
/* "500M", "20G", "1T", "4K" (powers of 1024, optional trailing "B"/"iB"),
 * plain bytes. MC_EINVAL (with a message) on anything else or overflow. */
int mc_parse_size(int64_t *out_bytes, const char *s);
/* As Go prints a time.Duration, the form docker users read: 240000 → "4m0s",
 * 720000 → "12m0s", 3000 → "3s", 1500 → "1.5s". */
void mc_format_duration_go(char out[32], int64_t ms);
/* RFC 3339 "2024-05-01T12:34:56.123Z" or "…+02:00" → ms since the epoch (UTC);
 * 0 when unreadable. */
int64_t mc_rfc3339_ms(const char *s);
/* ms since the epoch as the views print it, UTC: "2024-05-01 12:34:56Z";
 * "-" for 0 or a time gmtime cannot show. */
void mc_format_utc(char out[32], int64_t ms);
/* The wait after the count-th failure in a row (count >= 1): base, doubled
 * per repeat, never more than cap. */
int64_t mc_backoff_ms(int64_t base, int64_t count, int64_t cap);
/* ms as RFC 3339 UTC with milliseconds, "2026-12-05T01:02:03.456Z" (mc_rfc3339_ms reads it back). */
void mc_format_rfc3339(char out[32], int64_t ms);

/* mkdir -p with mode for every component created. */
int mc_mkdir_p(const char *path, unsigned mode);
/* Calls fn for each directory path names, outermost first ("a", "a/b", "a/b/c"
 * for "a/b/c"; "/x", "/x/y" for "/x/y"), stopping at the first nonzero return,
 * which it returns. "" and "/" name none: 0 without a call. */
int mc_path_each_dir(const char *path, int (*fn)(const char *dir, void *ud), void *ud);
/* Remove a directory tree without following symlinks; never crosses into
 * another filesystem object than the one named. ENOENT is success. */
int mc_rm_rf(const char *path);
/* Sum of st_size over regular files under path (lstat, no symlink following). */
int64_t mc_du(const char *path);
/* Is the file system holding path out of space (under 512 KiB, or no inode,
 * left to this user)? *mount (malloc'd, may be NULL) names its mount point. */
int mc_fs_full(const char *path, char **mount);
/* A path inside a tree as docker reads it: "./Dockerfile", ".//Dockerfile",
 * "Dockerfile/" and "lib/../Dockerfile" are all "Dockerfile" (malloc'd); NULL
 * for a path that is absolute, empty, names the top directory or leaves the tree. */
char *mc_path_clean(const char *path);

/* Programmer errors. */
#define MC_BUG(msg) mc_bug(__FILE__, __LINE__, (msg))
_Noreturn void mc_bug(const char *file, int line, const char *msg);

#include "mc_banned.h"
#endif
