/* test_context.c — the build-context tar: entries, ignore rules, determinism, bounded pull reads, failures. */
#include "context/context.h"
#include "tests/unit/t.h"

#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#define BIG_SIZE (200 * 1000 + 3) /* several chunks, not a multiple of anything */

static char *tmp_root;

static void die(const char *what)
{
	perror(what);
	exit(2);
}

static void write_file(const char *dir, const char *name, const void *data, size_t n, mode_t mode)
{
	char *p = mc_asprintf("%s/%s", dir, name);
	int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (fd < 0 || write(fd, data, n) != (ssize_t)n || close(fd))
		die(p);
	if (chmod(p, mode))
		die(p);
	free(p);
}

static void make_dir(const char *dir, const char *name, mode_t mode)
{
	char *p = mc_asprintf("%s/%s", dir, name);
	if (mkdir(p, 0700) || chmod(p, mode))
		die(p);
	free(p);
}

static void make_link(const char *dir, const char *name, const char *target)
{
	char *p = mc_asprintf("%s/%s", dir, name);
	if (symlink(target, p))
		die(p);
	free(p);
}

static unsigned char *big_data(void)
{
	unsigned char *b = mc_malloc(BIG_SIZE);
	uint32_t x = 12345;
	for (size_t i = 0; i < BIG_SIZE; i++) {
		x = x * 1103515245u + 12345u;
		b[i] = (unsigned char)(x >> 16);
	}
	return b;
}

static char *repeat(char c, size_t n)
{
	char *s = mc_malloc(n + 1);
	memset(s, c, n);
	s[n] = 0;
	return s;
}

/* The 150-byte path: long/<60 a>/<60 b>/<rest c> */
static char *long_path(void)
{
	char *a = repeat('a', 60), *b = repeat('b', 60), *c = repeat('c', 150 - 5 - 61 - 61);
	char *p = mc_asprintf("long/%s/%s/%s", a, b, c);
	free(a);
	free(b);
	free(c);
	return p;
}

static const char *ignore_text =
	"# Dockerfile and .dockerignore are listed to prove they are still sent\n"
	"Dockerfile\n"
	".dockerignore\n"
	"secret*\n"
	"logs\n"
	"!logs/keep.log\n"
	"**/*.tmp\n"
	"node_modules\n";

/* Builds the sample tree; reverse creates it in another order (other inode
 * and directory order) to prove order does not leak into the tar. */
static char *build_tree(const char *name, int reverse)
{
	char *dir = mc_asprintf("%s/%s", tmp_root, name);
	char *lp = long_path(), *target = repeat('t', 120), *longname = repeat('n', 120);
	unsigned char *big = big_data();
	const char *df = "FROM scratch\nCOPY . /\n";

	mc_rm_rf(dir);
	if (mc_mkdir_p(dir, 0755))
		die(dir);
	for (int step = 0; step < 2; step++) {
		int part = reverse ? 1 - step : step;
		if (part == 0) {
			write_file(dir, "Dockerfile", df, strlen(df), 0644);
			write_file(dir, ".dockerignore", ignore_text, strlen(ignore_text), 0644);
			write_file(dir, "file.txt", "hello\n", 6, 0644);
			write_file(dir, "run.sh", "#!/bin/sh\necho hi\n", 18, 0755);
			make_link(dir, "link", "file.txt");
			make_link(dir, "dangling", "does/not/exist");
			make_link(dir, "longlink", target);
			write_file(dir, "big.bin", big, BIG_SIZE, 0640);
			write_file(dir, "hard_a", "same inode\n", 11, 0600);
			/* Three names for one inode: both later ones point at the first. */
			char *a = mc_asprintf("%s/hard_a", dir), *b = mc_asprintf("%s/hard_b", dir);
			char *c3 = mc_asprintf("%s/hard_c", dir);
			if (link(a, c3) || link(a, b))
				die(b);
			free(a);
			free(b);
			free(c3);
			write_file(dir, longname, "long name\n", 10, 0644);
		} else {
			make_dir(dir, "empty", 0750);
			make_dir(dir, "sub", 0755);
			write_file(dir, "sub/inner.txt", "inner\n", 6, 0644);
			write_file(dir, "sub/scratch.tmp", "tmp\n", 4, 0644);
			write_file(dir, "secret.txt", "password\n", 9, 0600);
			make_dir(dir, "logs", 0755);
			write_file(dir, "logs/keep.log", "keep\n", 5, 0644);
			write_file(dir, "logs/drop.log", "drop\n", 5, 0644);
			make_dir(dir, "node_modules", 0755);
			make_dir(dir, "node_modules/.bin", 0755);
			make_link(dir, "node_modules/.bin/tool", "../tool/cli.js");
			char *p = mc_strdup(lp);
			for (char *s = strchr(p, '/'); s; s = strchr(s + 1, '/')) {
				*s = 0;
				char *d = mc_asprintf("%s/%s", dir, p);
				if ((mkdir(d, 0755) && errno != EEXIST) || chmod(d, 0755))
					die(d);
				free(d);
				*s = '/';
			}
			write_file(dir, lp, "deep\n", 5, 0644);
			free(p);
		}
	}
	free(lp);
	free(target);
	free(longname);
	free(big);
	return dir;
}

/* Streams the whole context with reads of at most chunk bytes. */
static int stream_all(struct mc_buf *out, const char *dir, const char *dockerfile, size_t chunk)
{
	struct mc_context *c = NULL;
	unsigned char *buf = mc_malloc(chunk);
	int ret = mc_context_open(&c, dir, dockerfile), short_read = 0, over = 0;

	while (!ret) {
		ssize_t n = mc_context_read(c, buf, chunk);
		if (n < 0) {
			ret = (int)n;
			break;
		}
		if (n == 0)
			break;
		/* Only the last read may come back short: curl sends what it gets. */
		over |= (size_t)n > chunk;
		short_read += (size_t)n < chunk;
		mc_buf_add(out, buf, (size_t)n);
	}
	if (!ret) {
		CHECK(!over);
		CHECK(short_read <= 1);
		CHECK_INT(mc_context_bytes(c), out->len);
		CHECK_INT(mc_context_read(c, buf, chunk), 0); /* the end stays the end */
	}
	mc_context_free(c);
	free(buf);
	return ret;
}

struct want {
	const char *path;
	int type;
	mode_t perm;
	int64_t size;
	const char *symlink, *hardlink;
	const char *content;
};

static void check_entries(const struct mc_buf *tar)
{
	char *lp = long_path(), *target = repeat('t', 120), *longname = repeat('n', 120);
	unsigned char *big = big_data();
	const char *df = "FROM scratch\nCOPY . /\n";
	/* Sorted bytewise; ignored paths are absent. */
	struct want want[] = {
		{ ".dockerignore", AE_IFREG, 0644, (int64_t)strlen(ignore_text), NULL, NULL, ignore_text },
		{ "Dockerfile", AE_IFREG, 0644, (int64_t)strlen(df), NULL, NULL, df },
		{ "big.bin", AE_IFREG, 0644, BIG_SIZE, NULL, NULL, NULL }, /* 0640 on disk */
		{ "dangling", AE_IFLNK, 0777, 0, "does/not/exist", NULL, NULL },
		{ "empty", AE_IFDIR, 0755, 0, NULL, NULL, NULL },     /* 0750 on disk */
		{ "file.txt", AE_IFREG, 0644, 6, NULL, NULL, "hello\n" },
		{ "hard_a", AE_IFREG, 0644, 11, NULL, NULL, "same inode\n" }, /* 0600 on disk */
		{ "hard_b", AE_IFREG, 0644, 0, NULL, "hard_a", NULL },
		{ "hard_c", AE_IFREG, 0644, 0, NULL, "hard_a", NULL },
		{ "link", AE_IFLNK, 0777, 0, "file.txt", NULL, NULL },
		{ "logs", AE_IFDIR, 0755, 0, NULL, NULL, NULL },
		{ "logs/keep.log", AE_IFREG, 0644, 5, NULL, NULL, "keep\n" },
		{ "long", AE_IFDIR, 0755, 0, NULL, NULL, NULL },
		{ NULL, AE_IFDIR, 0755, 0, NULL, NULL, NULL },  /* long/aaa */
		{ NULL, AE_IFDIR, 0755, 0, NULL, NULL, NULL },  /* long/aaa/bbb */
		{ lp, AE_IFREG, 0644, 5, NULL, NULL, "deep\n" },
		{ "longlink", AE_IFLNK, 0777, 0, target, NULL, NULL },
		{ longname, AE_IFREG, 0644, 10, NULL, NULL, "long name\n" },
		{ "run.sh", AE_IFREG, 0755, 18, NULL, NULL, "#!/bin/sh\necho hi\n" },
		{ "sub", AE_IFDIR, 0755, 0, NULL, NULL, NULL },
		{ "sub/inner.txt", AE_IFREG, 0644, 6, NULL, NULL, "inner\n" },
	};
	size_t nwant = sizeof(want) / sizeof(want[0]), i = 0;
	char *d1 = mc_strndup(lp, 5 + 60), *d2 = mc_strndup(lp, 5 + 60 + 1 + 60);
	want[13].path = d1;
	want[14].path = d2;

	struct archive *a = archive_read_new();
	struct archive_entry *ae;
	archive_read_support_format_tar(a);
	CHECK_INT(archive_read_open_memory(a, tar->ptr, tar->len), ARCHIVE_OK);
	int r;
	while ((r = archive_read_next_header(a, &ae)) == ARCHIVE_OK) {
		char *name = mc_strdup(archive_entry_pathname(ae));
		size_t nl = strlen(name);
		if (nl > 1 && name[nl - 1] == '/')
			name[nl - 1] = 0;
		if (i >= nwant) {
			fprintf(stderr, "  unexpected entry '%s'\n", name);
			CHECK(i < nwant);
			free(name);
			break;
		}
		const struct want *w = &want[i++];
		CHECK_STR(name, w->path);
		if (w->hardlink) {
			CHECK_STR(archive_entry_hardlink(ae), w->hardlink);
		} else {
			CHECK(archive_entry_hardlink(ae) == NULL);
			CHECK_INT(archive_entry_filetype(ae), w->type);
		}
		CHECK_INT(archive_entry_perm(ae), w->perm);
		CHECK_INT(archive_entry_size(ae), w->size);
		if (w->symlink)
			CHECK_STR(archive_entry_symlink(ae), w->symlink);
		else
			CHECK(archive_entry_symlink(ae) == NULL);
		CHECK_INT(archive_entry_uid(ae), 0);
		CHECK_INT(archive_entry_gid(ae), 0);
		CHECK_INT(archive_entry_mtime(ae), 0);
		CHECK(!archive_entry_atime_is_set(ae));
		CHECK(!archive_entry_ctime_is_set(ae));
		CHECK(!archive_entry_birthtime_is_set(ae));
		const char *u = archive_entry_uname(ae), *g = archive_entry_gname(ae);
		CHECK(!u || !*u);
		CHECK(!g || !*g);
		if (w->size > 0) {
			char *data = mc_malloc((size_t)w->size + 1);
			CHECK_INT(archive_read_data(a, data, (size_t)w->size + 1), w->size);
			if (w->content)
				CHECK(memcmp(data, w->content, (size_t)w->size) == 0);
			else
				CHECK(memcmp(data, big, BIG_SIZE) == 0);
			free(data);
		}
		free(name);
	}
	CHECK_INT(r, ARCHIVE_EOF);
	CHECK_INT(i, nwant);
	archive_read_free(a);
	free(d1);
	free(d2);
	free(lp);
	free(target);
	free(longname);
	free(big);
}

static void test_read_sizes(const char *dir)
{
	static const size_t sizes[] = { 1, 7, 4096, 65536 };
	struct mc_buf first = MC_BUF_INIT;

	for (size_t k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++) {
		struct mc_buf tar = MC_BUF_INIT;
		int ret = stream_all(&tar, dir, "Dockerfile", sizes[k]);
		CHECK_INT(ret, 0);
		if (ret)
			fprintf(stderr, "  stream: %s\n", mc_error_msg());
		/* tar's end: two zero blocks, then padding to whole 10240-byte records. */
		CHECK(tar.len > 1024 && tar.len % 10240 == 0);
		if (k == 0) {
			check_entries(&tar);
			first = tar;
		} else {
			CHECK(tar.len == first.len && memcmp(tar.ptr, first.ptr, tar.len) == 0);
			mc_buf_release(&tar);
		}
	}

	/* A second reader: GNU tar lists it cleanly and sees the links. */
	char *file = mc_asprintf("%s/ctx.tar", tmp_root);
	FILE *f = fopen(file, "wb");
	CHECK(f && fwrite(first.ptr, 1, first.len, f) == first.len);
	if (f)
		fclose(f);
	char *cmd = mc_asprintf("tar -tvf '%s' > '%s.list' 2>&1 && grep -q 'hard_b link to hard_a' '%s.list' && "
		"grep -q 'link -> file.txt' '%s.list' && grep -q 'longlink -> tttttttttttttttttttttttttttttttttt' '%s.list' && "
		"! grep -q secret '%s.list'", file, file, file, file, file, file);
	CHECK_INT(system(cmd), 0);
	free(cmd);
	/* Extracting with GNU tar gives the same content back. */
	char *x = mc_asprintf("%s/extract", tmp_root);
	mc_rm_rf(x);
	mc_mkdir_p(x, 0755);
	cmd = mc_asprintf("tar -xf '%s' -C '%s' && cmp '%s/big.bin' '%s/big.bin' && test \"$(readlink '%s/dangling')\" = does/not/exist "
		"&& test \"$(stat -c %%i '%s/hard_a')\" = \"$(stat -c %%i '%s/hard_b')\" && test -x '%s/run.sh' && test ! -e '%s/secret.txt'",
		file, x, dir, x, x, x, x, x, x);
	CHECK_INT(system(cmd), 0);
	free(cmd);
	mc_rm_rf(x);
	free(x);
	unlink(file);
	free(file);
	mc_buf_release(&first);
}

static void touch_and_chown(const char *dir, int depth)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	if (!d)
		die(dir);
	while ((de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		char *p = mc_asprintf("%s/%s", dir, de->d_name);
		struct stat st;
		if (lstat(p, &st))
			die(p);
		if (S_ISDIR(st.st_mode))
			touch_and_chown(p, depth + 1);
		struct timespec ts[2] = { { 1000000 + depth, 5 }, { 2000000 + depth, 7 } };
		utimensat(AT_FDCWD, p, ts, AT_SYMLINK_NOFOLLOW);
		if (geteuid() == 0)
			lchown(p, 1234, 5678);
		free(p);
	}
	closedir(d);
}

static void test_deterministic(const char *dir)
{
	struct mc_buf a = MC_BUF_INIT, b = MC_BUF_INIT, c = MC_BUF_INIT;
	char *other = build_tree("other", 1);

	CHECK_INT(stream_all(&a, dir, "Dockerfile", 65536), 0);
	touch_and_chown(dir, 0);
	CHECK_INT(stream_all(&b, dir, "Dockerfile", 4096), 0);
	CHECK(a.len == b.len && memcmp(a.ptr, b.ptr, a.len) == 0);
	/* Same content built in the opposite order, different inodes and times. */
	CHECK_INT(stream_all(&c, other, "./Dockerfile", 65536), 0);
	CHECK(a.len == c.len && memcmp(a.ptr, c.ptr, a.len) == 0);
	mc_rm_rf(other);
	free(other);
	mc_buf_release(&a);
	mc_buf_release(&b);
	mc_buf_release(&c);
}

/* Creates a small tree the way a checkout does (open 0666 / 0777, mkdir 0777),
 * so the process umask decides the modes on disk. */
static char *umask_tree(mode_t mask)
{
	char *dir = mc_asprintf("%s/umask-%03o", tmp_root, (unsigned)mask);
	const char *files[][2] = {
		{ "Dockerfile", "FROM scratch\nCOPY . /\n" },
		{ "bin/tool", "#!/bin/sh\n" },
		{ "etc/conf/app.conf", "x=1\n" },
		{ "README", "hi\n" },
	};
	mode_t old = umask(mask);

	mc_rm_rf(dir);
	if (mkdir(dir, 0777))
		die(dir);
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		char *p = mc_asprintf("%s/%s", dir, files[i][0]);
		for (char *s = strchr(p + strlen(dir) + 1, '/'); s; s = strchr(s + 1, '/')) {
			*s = 0;
			if (mkdir(p, 0777) && errno != EEXIST)
				die(p);
			*s = '/';
		}
		int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, strncmp(files[i][0], "bin/", 4) ? 0666 : 0777);
		size_t n = strlen(files[i][1]);
		if (fd < 0 || write(fd, files[i][1], n) != (ssize_t)n || close(fd))
			die(p);
		free(p);
	}
	make_link(dir, "conf", "etc/conf");
	umask(old);
	return dir;
}

/* The umask of whoever checked the tree out never reaches the tar: the same
 * files give the same bytes, with git's modes (0644, 0755, 0755 dirs). */
static void test_umask_independent(void)
{
	static const mode_t masks[] = { 022, 077, 002, 027, 0 };
	struct mc_buf first = MC_BUF_INIT;
	char hex0[65] = "";

	for (size_t k = 0; k < sizeof(masks) / sizeof(masks[0]); k++) {
		struct mc_buf tar = MC_BUF_INIT;
		char *dir = umask_tree(masks[k]);
		struct stat st;
		char *tool = mc_asprintf("%s/bin/tool", dir), hex[65];
		/* the disk really differs: 0700 under 077, 0755 under 022 */
		CHECK(lstat(tool, &st) == 0 && (st.st_mode & 07777) == (0777 & ~masks[k]));
		CHECK_INT(stream_all(&tar, dir, "Dockerfile", 4096), 0);
		mc_sha256_hex(hex, tar.ptr, tar.len);
		if (!k) {
			mc_buf_add(&first, tar.ptr, tar.len);
			memcpy(hex0, hex, sizeof(hex));
		} else {
			CHECK_STR(hex, hex0);
		}
		mc_rm_rf(dir);
		free(dir);
		free(tool);
		mc_buf_release(&tar);
	}
	struct { const char *path; mode_t perm; } want[] = {
		{ "Dockerfile", 0644 }, { "README", 0644 }, { "bin", 0755 }, { "bin/tool", 0755 },
		{ "conf", 0777 }, { "etc", 0755 }, { "etc/conf", 0755 }, { "etc/conf/app.conf", 0644 },
	};
	struct archive *a = archive_read_new();
	struct archive_entry *ae;
	size_t i = 0;
	archive_read_support_format_tar(a);
	CHECK_INT(archive_read_open_memory(a, first.ptr, first.len), ARCHIVE_OK);
	while (archive_read_next_header(a, &ae) == ARCHIVE_OK && i < sizeof(want) / sizeof(want[0])) {
		char *name = mc_strdup(archive_entry_pathname(ae));
		size_t nl = strlen(name);
		if (nl > 1 && name[nl - 1] == '/')
			name[nl - 1] = 0;
		CHECK_STR(name, want[i].path);
		CHECK_INT(archive_entry_perm(ae), want[i].perm);
		free(name);
		i++;
	}
	CHECK_INT(i, sizeof(want) / sizeof(want[0]));
	archive_read_free(a);
	mc_buf_release(&first);
}

/* A .dockerignore that is a symlink is never read through (it could name any
 * host file): the template is refused instead. */
static void test_dockerignore_symlink(void)
{
	char *dir = mc_asprintf("%s/iglink", tmp_root);
	struct mc_context *c = NULL;

	mc_rm_rf(dir);
	mc_mkdir_p(dir, 0755);
	write_file(dir, "Dockerfile", "FROM scratch\n", 13, 0644);
	write_file(tmp_root, "host-ignore", "*\n", 2, 0644);
	char *target = mc_asprintf("%s/host-ignore", tmp_root);
	make_link(dir, ".dockerignore", target);
	CHECK_INT(mc_context_open(&c, dir, "Dockerfile"), MC_EINVAL);
	CHECK(strstr(mc_error_msg(), "symbolic link") != NULL);
	CHECK(c == NULL);
	mc_rm_rf(dir);
	free(target);
	free(dir);
}

static size_t count_names(const struct mc_buf *tar, const char *needle)
{
	size_t n = 0;
	struct archive *a = archive_read_new();
	struct archive_entry *ae;
	archive_read_support_format_tar(a);
	archive_read_open_memory(a, tar->ptr, tar->len);
	while (archive_read_next_header(a, &ae) == ARCHIVE_OK)
		n += strstr(archive_entry_pathname(ae), needle) != NULL;
	archive_read_free(a);
	return n;
}

static void test_dockerfile_in_excluded_dir(void)
{
	char *dir = mc_asprintf("%s/subdf", tmp_root);
	const char *ig = "build\n*.md\n";
	struct mc_buf tar = MC_BUF_INIT;

	mc_rm_rf(dir);
	mc_mkdir_p(dir, 0755);
	make_dir(dir, "build", 0755);
	write_file(dir, "build/Dockerfile", "FROM x\n", 7, 0644);
	write_file(dir, "build/other", "o\n", 2, 0644);
	write_file(dir, "README.md", "r\n", 2, 0644);
	write_file(dir, ".dockerignore", ig, strlen(ig), 0644);
	CHECK_INT(stream_all(&tar, dir, "./build//Dockerfile", 512), 0);
	CHECK_INT(count_names(&tar, "build/Dockerfile"), 1);
	CHECK_INT(count_names(&tar, "build"), 2); /* "build/" and its Dockerfile */
	CHECK_INT(count_names(&tar, "other"), 0);
	CHECK_INT(count_names(&tar, "README"), 0);
	mc_buf_release(&tar);
	mc_rm_rf(dir);
	free(dir);
}

static void test_errors(const char *dir)
{
	struct mc_context *c = NULL;
	char buf[512];
	char *missing = mc_asprintf("%s/missing", tmp_root);

	CHECK_INT(mc_context_open(&c, missing, "Dockerfile"), MC_ENOTFOUND);
	CHECK(c == NULL);
	CHECK(strstr(mc_error_msg(), "missing") != NULL);
	free(missing);

	/* A bad .dockerignore stops the build rather than sending what it meant to hide. */
	char *bad = mc_asprintf("%s/bad", tmp_root);
	mc_rm_rf(bad);
	mc_mkdir_p(bad, 0755);
	write_file(bad, ".dockerignore", "[oops\n", 6, 0644);
	CHECK_INT(mc_context_open(&c, bad, "Dockerfile"), MC_EINVAL);
	CHECK(strstr(mc_error_msg(), "[oops") != NULL);
	/* A symlinked .dockerignore is not followed. */
	char *igp = mc_asprintf("%s/.dockerignore", bad);
	unlink(igp);
	CHECK_INT(symlink("/etc/hostname", igp), 0);
	CHECK(mc_context_open(&c, bad, "Dockerfile") < 0);
	free(igp);
	mc_rm_rf(bad);
	free(bad);

	/* A .dockerignore is read up to 1 MiB: exactly that is fine, a byte more is not. */
	char *huge = mc_asprintf("%s/huge", tmp_root);
	struct mc_buf ig = MC_BUF_INIT;
	for (int i = 0; i < 1024; i++) {
		mc_buf_adds(&ig, "#");
		for (int k = 0; k < 1022; k++)
			mc_buf_adds(&ig, "x");
		mc_buf_adds(&ig, "\n");
	}
	CHECK_INT((int)ig.len, 1 << 20);
	mc_rm_rf(huge);
	mc_mkdir_p(huge, 0755);
	write_file(huge, "Dockerfile", "FROM scratch\n", 13, 0644);
	write_file(huge, ".dockerignore", ig.ptr, ig.len, 0644);
	CHECK_INT(mc_context_open(&c, huge, "Dockerfile"), 0);
	mc_context_free(c);
	c = NULL;
	mc_buf_adds(&ig, "#");
	write_file(huge, ".dockerignore", ig.ptr, ig.len, 0644);
	CHECK_INT(mc_context_open(&c, huge, "Dockerfile"), MC_EINVAL);
	CHECK(c == NULL);
	CHECK(strstr(mc_error_msg(), "'.dockerignore': larger than 1048576 bytes") != NULL);
	mc_buf_release(&ig);
	mc_rm_rf(huge);
	free(huge);

	/* A file whose size changed between the walk and its turn. */
	char *fp = mc_asprintf("%s/file.txt", dir);
	CHECK_INT(mc_context_open(&c, dir, "Dockerfile"), 0);
	CHECK_INT(mc_context_read(c, buf, 1), 1);
	write_file(dir, "file.txt", "hello, longer\n", 14, 0644);
	ssize_t n;
	while ((n = mc_context_read(c, buf, sizeof(buf))) > 0)
		;
	CHECK_INT(n, MC_ERR);
	CHECK(strstr(mc_error_msg(), "file.txt") != NULL);
	mc_error_clear();
	CHECK_INT(mc_context_read(c, buf, sizeof(buf)), MC_ERR); /* sticky, message kept */
	CHECK(strstr(mc_error_msg(), "changed") != NULL);
	mc_context_free(c);
	write_file(dir, "file.txt", "hello\n", 6, 0644);

	/* big.bin shrinks, then grows, while it is being copied. */
	for (int grow = 0; grow < 2; grow++) {
		unsigned char *big = big_data();
		static char chunk[40000];
		CHECK_INT(mc_context_open(&c, dir, "Dockerfile"), 0);
		CHECK_INT(mc_context_read(c, chunk, sizeof(chunk)), (ssize_t)sizeof(chunk));
		char *bp = mc_asprintf("%s/big.bin", dir);
		if (grow) {
			int fd = open(bp, O_WRONLY | O_APPEND);
			CHECK(fd >= 0 && write(fd, "more", 4) == 4);
			close(fd);
		} else {
			CHECK_INT(truncate(bp, 100), 0);
		}
		while ((n = mc_context_read(c, chunk, sizeof(chunk))) > 0)
			;
		CHECK_INT(n, MC_ERR);
		CHECK(strstr(mc_error_msg(), grow ? "grew" : "shrank") != NULL);
		mc_context_free(c);
		write_file(dir, "big.bin", big, BIG_SIZE, 0640);
		free(bp);
		free(big);
	}

	/* A regular file replaced by a FIFO must not hang the stream. */
	CHECK_INT(mc_context_open(&c, dir, "Dockerfile"), 0);
	unlink(fp);
	CHECK_INT(mkfifo(fp, 0644), 0);
	while ((n = mc_context_read(c, buf, sizeof(buf))) > 0)
		;
	CHECK_INT(n, MC_ERR);
	mc_context_free(c);
	unlink(fp);
	write_file(dir, "file.txt", "hello\n", 6, 0644);
	free(fp);

	/* Freeing halfway through is fine. */
	CHECK_INT(mc_context_open(&c, dir, "Dockerfile"), 0);
	CHECK_INT(mc_context_read(c, buf, sizeof(buf)), (ssize_t)sizeof(buf));
	mc_context_free(c);
	mc_context_free(NULL);
	CHECK_INT(mc_context_bytes(NULL), 0);
}

static int count_fds(void)
{
	int n = 0;
	DIR *d = opendir("/proc/self/fd");
	if (!d)
		return -1;
	while (readdir(d))
		n++;
	closedir(d);
	return n;
}

int main(void)
{
	const char *base = getenv("MC_TEST_TMP");
	char *tmpl = mc_asprintf("%s/mc-ctx-XXXXXX", base && *base ? base : "/tmp");
	if (base && *base)
		mc_mkdir_p(base, 0755);
	if (!(tmp_root = mkdtemp(tmpl)))
		die(tmpl);
	int fds = count_fds();

	char *dir = build_tree("tree", 0);
	test_read_sizes(dir);
	test_deterministic(dir);
	test_umask_independent();
	test_dockerignore_symlink();
	test_dockerfile_in_excluded_dir();
	test_errors(dir);
	CHECK_INT(count_fds(), fds);

	mc_rm_rf(tmp_root);
	free(dir);
	free(tmpl);
	return t_done();
}
