/* context.c — a build-context directory streamed, on demand, as a deterministic tar (libarchive). */
#include "context.h"
#include "ignore.h"

#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>


/*
 * libarchive is loaded on first use (dlopen): only a miss streams a context,
 * and loading it with what it pulls in (libxml2, ICU, nettle, …) at every
 * process start cost each cache hit ~5 ms. la holds every function used. The
 * soname is read from the library at configure time (CMakeLists.txt).
 */
#ifndef MC_LIBARCHIVE_SONAME
#error "MC_LIBARCHIVE_SONAME comes from CMake: the SONAME of the libarchive found by pkg-config"
#endif
#define LA_FUNCS(X) \
	X(archive_write_new) X(archive_write_set_format_pax_restricted) X(archive_write_open) \
	X(archive_write_header) X(archive_write_data) X(archive_write_close) \
	X(archive_write_free) X(archive_error_string) X(archive_entry_new) X(archive_entry_free) \
	X(archive_entry_clear) X(archive_entry_copy_pathname) X(archive_entry_set_perm) \
	X(archive_entry_set_mtime) X(archive_entry_set_uid) X(archive_entry_set_gid) \
	X(archive_entry_copy_uname) X(archive_entry_copy_gname) X(archive_entry_set_filetype) \
	X(archive_entry_copy_hardlink) X(archive_entry_set_size) X(archive_entry_copy_symlink) \
	X(archive_entry_set_rdevmajor) X(archive_entry_set_rdevminor)

static struct {
#define X(f) __typeof__(f) *f;
	LA_FUNCS(X)
#undef X
} la;

const char *mc_context_archive_soname(void) { return MC_LIBARCHIVE_SONAME; }

int mc_context_load_archive(const char *soname)
{
	static int loaded;
	void *h;
	int ret = 0;

	if (loaded)
		return 0;
#ifdef MC_LIBARCHIVE_LINKED /* the static build links libarchive in: nothing to load */
#define X(f) la.f = f;
	LA_FUNCS(X)
#undef X
	loaded = 1;
	return 0;
#endif
	if (!soname)
		soname = MC_LIBARCHIVE_SONAME;
	if (!(h = dlopen(soname, RTLD_NOW | RTLD_LOCAL))) {
		ret = mc_error_set(MC_ERR, "cannot load libarchive: %s", dlerror());
		mc_error_hint("install libarchive (Debian package: libarchive13)");
		return ret;
	}
#define X(f)                                                                                             \
	if (!ret && !(*(void **)&la.f = dlsym(h, #f)))                                                   \
		ret = mc_error_set(MC_ERR, "cannot load libarchive: '%s' has no %s", soname, #f);
	LA_FUNCS(X)
#undef X
	if (ret) {
		/* a library without every function is no libarchive we can use: let it go */
		dlclose(h);
		memset(&la, 0, sizeof(la));
		mc_error_hint("install libarchive 3 (Debian package: libarchive13)");
		return ret;
	}
	loaded = 1;
	return 0;
}

#define CHUNK (32 * 1024)
#define OUT_CAP (64 * 1024)
#define IGNORE_MAX (1 << 20)
#define NO_LINK SIZE_MAX

struct ent {
	char *path;     /* relative, "a/b/c" */
	char *target;   /* symlink target */
	mode_t mode;
	off_t size;
	dev_t dev, rdev;
	ino_t ino;
	nlink_t nlink;
	size_t link;    /* earlier entry this one is a hard link to, or NO_LINK */
};

enum state { S_RUN, S_DONE, S_FREEING };

struct mc_context {
	int rootfd;
	struct ent *e;
	size_t n, cap, next;

	/* the regular file being copied */
	int fd;
	size_t cur;
	off_t left;

	/* files come sorted, so siblings share one open parent directory */
	char *dirpath;
	int dirfd;

	struct archive *a;
	struct archive_entry *ae;
	unsigned char *out, *chunk;
	size_t out_len, out_pos, out_cap;

	enum state state;
	int err;        /* sticky error code, reported again on every later read */
	char *errmsg;
	size_t bytes;
};

/* Walk-time state. */
struct walk {
	struct mc_context *c;
	const struct mc_ignore *ig;
	const char *dockerfile;
	const char *root_ignore; /* ".dockerignore" when it holds the rules (always sent), else NULL */
};

static void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

static int sys_err(const char *verb, const char *path)
{
	int e = errno;
	return mc_error_set(e == ENOENT ? MC_ENOTFOUND : MC_ERR, "%s '%s': %s", verb, path, strerror(e));
}

static void push_ent(struct mc_context *c, const char *path, const struct stat *st, char *target)
{
	if (c->n == c->cap) {
		c->cap = c->cap ? 2 * c->cap : 256;
		c->e = mc_realloc(c->e, c->cap * sizeof(*c->e));
	}
	struct ent *e = &c->e[c->n++];
	e->path = mc_strdup(path);
	e->target = target;
	e->mode = st->st_mode;
	e->size = S_ISREG(st->st_mode) ? st->st_size : 0;
	e->dev = st->st_dev;
	e->rdev = st->st_rdev;
	e->ino = st->st_ino;
	e->nlink = st->st_nlink;
	e->link = NO_LINK;
}

static void drop_last_ent(struct mc_context *c)
{
	struct ent *e = &c->e[--c->n];
	free(e->path);
	free(e->target);
}

static int read_link(char **out, int dfd, const char *name, const char *rel, off_t hint)
{
	size_t cap = hint > 0 ? (size_t)hint + 1 : 256;
	char *buf = NULL;
	int ret = 0;

	for (;;) {
		buf = mc_realloc(buf, cap);
		ssize_t n = readlinkat(dfd, name, buf, cap);
		if (n < 0) {
			ret = sys_err("cannot read symlink", rel);
			goto done;
		}
		if ((size_t)n < cap) {
			buf[n] = 0;
			break;
		}
		cap *= 2;
	}
	/* Some tar readers abort on an empty link target; Linux never makes one. */
	if (!buf[0]) {
		ret = mc_error_set(MC_ERR, "cannot read symlink '%s': empty target", rel);
		goto done;
	}
	*out = buf;
	buf = NULL;
done:
	free(buf);
	return ret;
}

/* 1 when rel is a directory above the Dockerfile: the walk must reach it. */
static int holds_dockerfile(const char *rel, const char *dockerfile)
{
	size_t n = strlen(rel);
	return strncmp(dockerfile, rel, n) == 0 && dockerfile[n] == '/';
}

/* Collects the entries under the open directory dfd (path prefix rel, "" at the root). */
static int walk_dir(struct walk *w, int dfd, const char *rel)
{
	struct mc_context *c = w->c;
	DIR *d = NULL;
	struct dirent *de;
	struct mc_buf path = MC_BUF_INIT;
	int ret = 0;

	if (!(d = fdopendir(dfd))) {
		ret = sys_err("cannot list", *rel ? rel : ".");
		close(dfd);
		goto done;
	}
	for (;;) {
		struct stat st;
		errno = 0;
		if (!(de = readdir(d))) {
			if (errno)
				ret = sys_err("cannot list", *rel ? rel : ".");
			break;
		}
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		mc_buf_reset(&path);
		if (*rel)
			mc_buf_addf(&path, "%s/", rel);
		mc_buf_adds(&path, de->d_name);
		const char *p = path.ptr;

		if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW)) {
			ret = sys_err("cannot stat", p);
			break;
		}
		int always = !strcmp(p, w->dockerfile) || (w->root_ignore && !strcmp(p, w->root_ignore));
		int excluded = !always && mc_ignore_match(w->ig, p);

		if (S_ISDIR(st.st_mode)) {
			if (excluded && !mc_ignore_may_reinclude_(w->ig, p) && !holds_dockerfile(p, w->dockerfile))
				continue;
			int sub = openat(dirfd(d), de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			if (sub < 0) {
				ret = sys_err("cannot open", p);
				break;
			}
			size_t mark = c->n;
			push_ent(c, p, &st, NULL);
			if ((ret = walk_dir(w, sub, p)))
				break;
			/* An excluded directory is sent only to hold what an exception re-included. */
			if (excluded && c->n == mark + 1)
				drop_last_ent(c);
		} else if (!excluded) {
			char *target = NULL;
			if (S_ISSOCK(st.st_mode))
				continue; /* tar cannot hold a socket; Docker skips them too */
			if (S_ISLNK(st.st_mode) && (ret = read_link(&target, dirfd(d), de->d_name, p, st.st_size)))
				break;
			push_ent(c, p, &st, target);
		}
	}
done:
	if (d)
		closedir(d);
	mc_buf_release(&path);
	return ret;
}

static int cmp_ent(const void *a, const void *b)
{
	return strcmp(((const struct ent *)a)->path, ((const struct ent *)b)->path);
}

struct inode_ref {
	dev_t dev;
	ino_t ino;
	size_t idx;
};

static int cmp_inode(const void *a, const void *b)
{
	const struct inode_ref *x = a, *y = b;
	if (x->dev != y->dev)
		return x->dev < y->dev ? -1 : 1;
	if (x->ino != y->ino)
		return x->ino < y->ino ? -1 : 1;
	return x->idx < y->idx ? -1 : x->idx > y->idx;
}

/* Points every later path of a multiply-linked file at the first one in stream order. */
static void find_hardlinks(struct mc_context *c)
{
	struct inode_ref *r = mc_malloc((c->n ? c->n : 1) * sizeof(*r));
	size_t m = 0;

	for (size_t i = 0; i < c->n; i++) {
		if (S_ISREG(c->e[i].mode) && c->e[i].nlink > 1)
			r[m++] = (struct inode_ref){ c->e[i].dev, c->e[i].ino, i };
	}
	qsort(r, m, sizeof(*r), cmp_inode);
	for (size_t i = 1, first = 0; i < m; i++) {
		if (r[i].dev == r[first].dev && r[i].ino == r[first].ino)
			c->e[r[i].idx].link = r[first].idx;
		else
			first = i;
	}
	free(r);
}

/* Cleans the Dockerfile path the way the entries are spelt: no "./", no "//". */
static char *clean_rel(const char *p)
{
	struct mc_buf b = MC_BUF_INIT;

	while (*p) {
		const char *end = strchr(p, '/');
		size_t n = end ? (size_t)(end - p) : strlen(p);
		if (n && !(n == 1 && p[0] == '.')) {
			if (b.len)
				mc_buf_add(&b, "/", 1);
			mc_buf_add(&b, p, n);
		}
		p += n + (end != NULL);
	}
	return mc_buf_detach(&b);
}

static int read_ignore(struct mc_ignore **out, int rootfd)
{
	struct mc_buf text = MC_BUF_INIT;
	char buf[8192];
	int fd, ret = 0;

	*out = NULL;
	mc_buf_set_max(&text, IGNORE_MAX);
	fd = openat(rootfd, ".dockerignore", O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0) {
		if (errno == ENOENT)
			goto done;
		/* never read through a link (it could name any file of the host): the
		 * template's fault, like a bad pattern */
		if (errno == ELOOP)
			ret = mc_error_set(MC_EINVAL, "'.dockerignore' is a symbolic link; molcache reads it only "
					   "as a regular file");
		else
			ret = sys_err("cannot open", ".dockerignore");
		goto done;
	}
	for (;;) {
		ssize_t n = read(fd, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			ret = sys_err("cannot read", ".dockerignore");
			goto done;
		}
		if (n == 0)
			break;
		if (mc_buf_put(&text, buf, (size_t)n)) {
			ret = mc_error_set(MC_EINVAL, "cannot read '.dockerignore': larger than %d bytes", IGNORE_MAX);
			goto done;
		}
	}
	ret = mc_ignore_parse(out, mc_buf_cstr(&text), text.len);
done:
	if (fd >= 0)
		close(fd);
	mc_buf_release(&text);
	return ret;
}

static la_ssize_t tar_out(struct archive *a, void *data, const void *buf, size_t n)
{
	struct mc_context *c = data;

	(void)a;
	/* archive_write_free() pads an unfinished entry; nobody reads that. */
	if (c->state == S_FREEING)
		return (la_ssize_t)n;
	if (c->out_len + n > c->out_cap) {
		/* Only a header with a long pax record can outgrow one chunk plus a block. */
		while (c->out_len + n > c->out_cap)
			c->out_cap *= 2;
		c->out = mc_realloc(c->out, c->out_cap);
	}
	memcpy(c->out + c->out_len, buf, n);
	c->out_len += n;
	return (la_ssize_t)n;
}

/* ignore_text NULL with from_disk: read dir/.dockerignore (never through a link).
 * ignore_for: NULL when the rules are .dockerignore's, else the Dockerfile
 * path whose own "<path>.dockerignore" they came from. */
static int open_context(struct mc_context **out, const char *dir, const char *dockerfile, int from_disk,
			const char *ignore_for, const char *ignore_text, size_t ignore_len, int *drops)
{
	struct mc_context *c = mc_calloc(1, sizeof(*c));
	struct mc_ignore *ig = NULL;
	struct walk w = { 0 };
	char *df = clean_rel(dockerfile && *dockerfile ? dockerfile : "Dockerfile");
	/* BuildKit's own "<Dockerfile>.dockerignore" is a file like any other:
	 * the engine never reads it, and docker sends it only if its rules keep it */
	int root = !ignore_for;
	int ret = 0, fd;

	*out = NULL;
	if (drops)
		*drops = 0;
	c->rootfd = c->fd = c->dirfd = -1;
	if ((ret = mc_context_load_archive(NULL)))
		goto done;
	if ((c->rootfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0) {
		ret = sys_err("cannot open build context", dir);
		goto done;
	}
	if (from_disk)
		ret = read_ignore(&ig, c->rootfd);
	else if (ignore_text)
		ret = mc_ignore_parse(&ig, ignore_text, ignore_len);
	if (ret)
		goto done;
	if (drops && ig && root)
		*drops = mc_ignore_match(ig, df) || mc_ignore_match(ig, ".dockerignore");
	w.c = c;
	w.ig = ig;
	w.dockerfile = df;
	w.root_ignore = root ? ".dockerignore" : NULL;
	if ((fd = dup(c->rootfd)) < 0) {
		ret = sys_err("cannot open build context", dir);
		goto done;
	}
	if ((ret = walk_dir(&w, fd, "")))
		goto done;
	qsort(c->e, c->n, sizeof(*c->e), cmp_ent);
	find_hardlinks(c);

	c->out_cap = OUT_CAP;
	c->out = mc_malloc(c->out_cap);
	c->chunk = mc_malloc(CHUNK);
	c->ae = la.archive_entry_new();
	c->a = la.archive_write_new();
	if (!c->a || !c->ae) {
		ret = mc_error_set(MC_ERR, "cannot start tar stream for '%s': out of memory", dir);
		goto done;
	}
	if (la.archive_write_set_format_pax_restricted(c->a) != ARCHIVE_OK ||
		la.archive_write_open(c->a, c, NULL, tar_out, NULL) != ARCHIVE_OK) {
		ret = mc_error_set(MC_ERR, "cannot start tar stream for '%s': %s", dir,
			la.archive_error_string(c->a));
		goto done;
	}
	*out = c;
	c = NULL;
done:
	mc_context_free(c);
	mc_ignore_free(ig);
	free(df);
	return ret;
}

int mc_context_open(struct mc_context **out, const char *dir, const char *dockerfile)
{
	return open_context(out, dir, dockerfile, 1, NULL, NULL, 0, NULL);
}

int mc_context_open_ignore(struct mc_context **out, const char *dir, const char *dockerfile, const char *ignore_for,
			   const char *ignore, size_t ignore_len, int *drops)
{
	return open_context(out, dir, dockerfile, 0, ignore_for, ignore, ignore_len, drops);
}

static void release_fds(struct mc_context *c)
{
	close_fd(&c->fd);
	close_fd(&c->dirfd);
	close_fd(&c->rootfd);
	free(c->dirpath);
	c->dirpath = NULL;
}

/* Opens a file of the tree by its relative path without following a symlink
 * anywhere on the way (the tree may have changed since the walk). */
static int open_in_tree(struct mc_context *c, const char *path)
{
	const char *slash = strrchr(path, '/');
	size_t plen = slash ? (size_t)(slash - path) : 0;
	int dfd = c->rootfd, fd;

	if (plen) {
		if (!c->dirpath || strlen(c->dirpath) != plen || memcmp(c->dirpath, path, plen)) {
			close_fd(&c->dirfd);
			free(c->dirpath);
			c->dirpath = NULL;
			const char *p = path;
			int cur = c->rootfd;
			while (p < slash) {
				const char *end = memchr(p, '/', (size_t)(slash - p) + 1);
				char *name = mc_strndup(p, (size_t)(end - p));
				int next = openat(cur, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
				int e = errno;
				free(name);
				if (cur != c->rootfd)
					close(cur);
				errno = e;
				if (next < 0)
					return -1;
				cur = next;
				p = end + 1;
			}
			c->dirfd = cur;
			c->dirpath = mc_strndup(path, plen);
		}
		dfd = c->dirfd;
	}
	/* O_NONBLOCK: if a FIFO took the file's place, fail later instead of hanging here. */
	fd = openat(dfd, slash ? slash + 1 : path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	return fd;
}

static int fail(struct mc_context *c, int code)
{
	c->err = code;
	free(c->errmsg);
	c->errmsg = mc_strdup(mc_error_msg());
	release_fds(c);
	return code;
}

/* The mode a git checkout means, whatever the umask of whoever checked it out
 * made on disk: git records only "executable or not", so the same key gives
 * byte-identical tars across users and machines. Set-id and sticky bits never
 * come from git either. */
static unsigned git_mode(mode_t mode)
{
	if (S_ISLNK(mode))
		return 0777;
	if (S_ISDIR(mode) || (S_ISREG(mode) && (mode & 0111)))
		return 0755;
	return 0644;
}

static int write_header(struct mc_context *c, const struct ent *e)
{
	struct archive_entry *ae = c->ae;
	int r;

	la.archive_entry_clear(ae);
	la.archive_entry_copy_pathname(ae, e->path);
	la.archive_entry_set_perm(ae, git_mode(e->mode));
	la.archive_entry_set_mtime(ae, 0, 0);
	la.archive_entry_set_uid(ae, 0);
	la.archive_entry_set_gid(ae, 0);
	la.archive_entry_copy_uname(ae, "");
	la.archive_entry_copy_gname(ae, "");
	if (e->link != NO_LINK) {
		la.archive_entry_set_filetype(ae, AE_IFREG);
		la.archive_entry_copy_hardlink(ae, c->e[e->link].path);
		la.archive_entry_set_size(ae, 0);
	} else if (S_ISREG(e->mode)) {
		la.archive_entry_set_filetype(ae, AE_IFREG);
		la.archive_entry_set_size(ae, e->size);
	} else if (S_ISDIR(e->mode)) {
		la.archive_entry_set_filetype(ae, AE_IFDIR);
	} else if (S_ISLNK(e->mode)) {
		la.archive_entry_set_filetype(ae, AE_IFLNK);
		la.archive_entry_copy_symlink(ae, e->target);
	} else if (S_ISFIFO(e->mode)) {
		la.archive_entry_set_filetype(ae, AE_IFIFO);
	} else if (S_ISCHR(e->mode) || S_ISBLK(e->mode)) {
		la.archive_entry_set_filetype(ae, S_ISCHR(e->mode) ? AE_IFCHR : AE_IFBLK);
		la.archive_entry_set_rdevmajor(ae, major(e->rdev));
		la.archive_entry_set_rdevminor(ae, minor(e->rdev));
	}
	/* ARCHIVE_WARN (a name not in the locale's charset) still writes a valid header. */
	r = la.archive_write_header(c->a, ae);
	if (r < ARCHIVE_WARN)
		return mc_error_set(MC_ERR, "cannot write tar header for '%s': %s", e->path,
			la.archive_error_string(c->a));
	return 0;
}

/* Starts the next entry: opens and checks a regular file first, so a file
 * that vanished or changed fails before its header is out. */
static int start_entry(struct mc_context *c)
{
	const struct ent *e = &c->e[c->next];
	struct stat st;
	int ret = 0;

	if (S_ISREG(e->mode) && e->link == NO_LINK) {
		if ((c->fd = open_in_tree(c, e->path)) < 0)
			return sys_err("cannot open", e->path);
		if (fstat(c->fd, &st))
			return sys_err("cannot stat", e->path);
		if (!S_ISREG(st.st_mode) || st.st_ino != e->ino || st.st_dev != e->dev || st.st_size != e->size)
			return mc_error_set(MC_ERR, "cannot stream '%s': file changed while the build context was sent",
				e->path);
		c->cur = c->next;
		c->left = e->size;
	}
	if ((ret = write_header(c, e)))
		return ret;
	c->next++;
	return 0;
}

static int copy_chunk(struct mc_context *c)
{
	const struct ent *e = &c->e[c->cur];
	size_t want = c->left < CHUNK ? (size_t)c->left : CHUNK;
	ssize_t n;

	if (c->left == 0) {
		/* The header promised e->size bytes: more now means the tar would lie. */
		while ((n = read(c->fd, c->chunk, 1)) < 0 && errno == EINTR)
			;
		if (n < 0)
			return sys_err("cannot read", e->path);
		if (n > 0)
			return mc_error_set(MC_ERR, "cannot stream '%s': file grew while the build context was sent",
				e->path);
		close_fd(&c->fd);
		return 0;
	}
	while ((n = read(c->fd, c->chunk, want)) < 0 && errno == EINTR)
		;
	if (n < 0)
		return sys_err("cannot read", e->path);
	if (n == 0)
		return mc_error_set(MC_ERR, "cannot stream '%s': file shrank while the build context was sent",
			e->path);
	if (la.archive_write_data(c->a, c->chunk, (size_t)n) < 0)
		return mc_error_set(MC_ERR, "cannot write tar data for '%s': %s", e->path,
			la.archive_error_string(c->a));
	c->left -= n;
	return 0;
}

/* One step of the generator: some data, one header, or the end. */
static int step(struct mc_context *c)
{
	if (c->fd >= 0)
		return copy_chunk(c);
	if (c->next < c->n)
		return start_entry(c);
	if (la.archive_write_close(c->a) != ARCHIVE_OK)
		return mc_error_set(MC_ERR, "cannot finish tar stream: %s", la.archive_error_string(c->a));
	c->state = S_DONE;
	release_fds(c);
	return 0;
}

ssize_t mc_context_read(struct mc_context *c, void *buf, size_t n)
{
	size_t got = 0;
	int ret;

	if (c->err) {
		mc_error_set(c->err, "%s", c->errmsg);
		return c->err;
	}
	while (got < n) {
		if (c->out_pos < c->out_len) {
			size_t k = c->out_len - c->out_pos;
			if (k > n - got)
				k = n - got;
			memcpy((char *)buf + got, c->out + c->out_pos, k);
			c->out_pos += k;
			got += k;
			continue;
		}
		if (c->state == S_DONE)
			break;
		c->out_pos = c->out_len = 0;
		if ((ret = step(c)))
			return fail(c, ret);
	}
	c->bytes += got;
	return (ssize_t)got;
}

size_t mc_context_bytes(const struct mc_context *c)
{
	return c ? c->bytes : 0;
}

void mc_context_free(struct mc_context *c)
{
	if (!c)
		return;
	release_fds(c);
	c->state = S_FREEING;
	if (c->a)
		la.archive_write_free(c->a);
	if (c->ae)
		la.archive_entry_free(c->ae);
	for (size_t i = 0; i < c->n; i++) {
		free(c->e[i].path);
		free(c->e[i].target);
	}
	free(c->e);
	free(c->out);
	free(c->chunk);
	free(c->errmsg);
	free(c);
}
