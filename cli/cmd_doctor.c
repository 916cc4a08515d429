/* cmd_doctor.c — `molcache doctor`: pre-flight checks of the capabilities ensure needs, each PASS / WARN / FAIL with a fix. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "../context/context.h"
#include "../git/git.h"
#include "../git/url.h"
#include "../cache/recover.h"
#include "cli.h"
#include "format.h"

static const char usage_text[] =
	"usage: molcache doctor [--json] [--no-build] [--no-remotes] [--repair [--root-id ID]]\n"
	"\n"
	"Checks what ensure needs, by doing it: the cache root (exists, mode 0700,\n"
	"writable), the index's integrity, that the Docker engine answers (and its\n"
	"API version), that libarchive loads (only a miss needs it), when the CA\n"
	"certificates are parsed (deferred or eager), a real BuildKit\n"
	"build of a tiny FROM scratch image (removed afterwards), that each configured\n"
	"runtime's template repository resolves, and the free disk space at the root.\n"
	"Each check prints PASS, WARN, FAIL (or SKIP when an earlier failure makes\n"
	"it moot) with a hint for fixing it.\n"
	"\n"
	"  --repair               rebuild the index from the engine's image labels and trees/\n"
	"                         first: a damaged index is moved aside (index.db.corrupt-TIME),\n"
	"                         every image labelled with this root gets its row back, and\n"
	"                         each runtime its :latest (docs/operations.md, \"Recovering a cache\")\n"
	"  --root-id ID           with --repair: this root's id, when the labels cannot tell it\n"
	"  --no-build             skip the test build\n"
	"  --no-remotes           skip resolving the template repositories\n"
	"  --json                 print JSON on stdout (docs/json.md, \"doctor\")\n"
	"  -h, --help             this help\n"
	"\n"
	"Exit status: 0 when nothing FAILed (WARNs allowed), 1 when a check FAILed.\n";

#define GIB (1024LL * 1024 * 1024)
#define DISK_WARN (5 * GIB)
#define DISK_FAIL (1 * GIB)

enum verdict { PASS, WARN, FAIL, SKIP };
static const char *const verdict_name[] = { "pass", "warn", "fail", "skip" };
static const char *const verdict_upper[] = { "PASS", "WARN", "FAIL", "SKIP" };

struct check {
	const char *name;
	enum verdict v;
	char *message;
	char *hint; /* may be NULL */
};

struct report {
	struct check *v;
	size_t n, cap;
};

static void add(struct report *r, const char *name, enum verdict v, char *message, char *hint)
{
	if (r->n == r->cap) {
		r->cap = r->cap ? r->cap * 2 : 16;
		r->v = mc_realloc(r->v, r->cap * sizeof(*r->v));
	}
	r->v[r->n++] = (struct check){ name, v, message, hint };
}

/* A check that failed on an MC_E… error: its message and hint, secrets masked. */
static void add_error(struct report *r, struct mc_ctx *ctx, const char *name, enum verdict v, const char *what,
		      const char *fallback_hint)
{
	const char *hint = mc_error_hint_msg();
	char *msg = mc_asprintf("%s%s%s", what ? what : "", what ? ": " : "", mc_error_msg());
	char *clean = mc_cli_scrub(ctx, msg);
	add(r, name, v, clean, mc_cli_scrub(ctx, *hint ? hint : fallback_hint));
	free(msg);
}

static void report_release(struct report *r)
{
	for (size_t i = 0; i < r->n; i++) {
		free(r->v[i].message);
		free(r->v[i].hint);
	}
	free(r->v);
}

/* The nearest existing directory at or above path (for a root not made yet). */
static char *existing_ancestor(const char *path)
{
	char *p = mc_strdup(path);
	struct stat st;
	while (stat(p, &st) != 0) {
		char *slash = strrchr(p, '/');
		if (!slash || slash == p) {
			free(p);
			return mc_strdup("/");
		}
		*slash = 0;
	}
	return p;
}

/* Writing is what ensure does: create and remove a file, not access(2). */
static int try_write(const char *dir)
{
	char *tmpl = mc_asprintf("%s/.doctor.XXXXXX", dir);
	int fd = mkstemp(tmpl), ret = 0;
	if (fd < 0) {
		ret = mc_error_errno(dir);
	} else {
		close(fd);
		unlink(tmpl);
	}
	free(tmpl);
	return ret;
}

#define HINT_READ_ONLY                                                                                   \
	"the file system is mounted read-only: status, ls, show and gc --dry-run still work; ensure and gc " \
	"need it writable (remount it read-write, or set MOLCACHE_HOME elsewhere)"
#define HINT_NOT_OURS                                                                                  \
	"the cache root belongs to another user or keeps this one out: run molcache as its owner, or set " \
	"MOLCACHE_HOME to a directory of this user's"

static int read_only_fs(const char *path)
{
	struct statvfs sv;
	return statvfs(path, &sv) == 0 && (sv.f_flag & ST_RDONLY);
}

static void check_root(struct report *r, struct mc_ctx *ctx)
{
	const char *root = ctx->paths.root;
	struct stat st;

	if (stat(root, &st) != 0) {
		int missing = errno == ENOENT;
		char *up;
		mc_error_errno(root);
		up = existing_ancestor(root);
		if (missing && !try_write(up))
			add(r, "cache root", WARN, mc_asprintf("'%s' does not exist yet", root),
			    mc_strdup("the first ensure creates it (mode 0700)"));
		else
			add_error(r, ctx, "cache root", FAIL, NULL,
				  "set MOLCACHE_HOME to a directory this user can write");
		free(up);
		return;
	}
	if (!S_ISDIR(st.st_mode)) {
		add(r, "cache root", FAIL, mc_asprintf("'%s' is not a directory", root),
		    mc_strdup("move it away or set MOLCACHE_HOME elsewhere"));
		return;
	}
	if (try_write(root)) {
		add_error(r, ctx, "cache root", FAIL, "not writable",
			  read_only_fs(root) ? HINT_READ_ONLY
					     : "fix the owner (chown) or set MOLCACHE_HOME to a directory this user can write");
		return;
	}
	if ((st.st_mode & 0777) != 0700) {
		add(r, "cache root", WARN, mc_asprintf("'%s' has mode %04o, not 0700", root, st.st_mode & 0777),
		    mc_asprintf("chmod 700 '%s' (build trees and logs are private to this user)", root));
		return;
	}
	add(r, "cache root", PASS, mc_asprintf("'%s' (0700, writable)", root), NULL);
}

/* Read-only, as the views open it: doctor works on a read-only root too, and
 * calls the index damaged only when SQLite or its integrity check says so. */
static void check_index(struct report *r, struct mc_ctx *ctx)
{
	struct mc_index *ix;
	struct stat st;

	if (stat(ctx->paths.index, &st) != 0) {
		int denied = errno == EACCES;
		if (errno == ENOENT) {
			add(r, "index", PASS,
			    mc_asprintf("no index yet at '%s' (the first ensure creates it)", ctx->paths.index), NULL);
			return;
		}
		char *what = mc_asprintf("'%s'", ctx->paths.index);
		mc_error_errno(what);
		free(what);
		add_error(r, ctx, "index", FAIL, NULL, denied ? HINT_NOT_OURS : "check the cache root's permissions");
		return;
	}
	if (mc_ctx_index_view(ctx, &ix)) {
		add_error(r, ctx, "index", FAIL, NULL, "check the index file and the cache root's permissions");
		return;
	}
	if (mc_index_check(ix)) {
		add_error(r, ctx, "index", FAIL, NULL, "check the index file and the cache root's permissions");
		return;
	}
	add(r, "index", PASS,
	    mc_asprintf("'%s': integrity ok, schema version %d%s", ctx->paths.index, mc_index_schema_version(),
			read_only_fs(ctx->paths.root) ? " (read-only file system: opened read-only)" : ""),
	    NULL);
}

/* doctor --repair: its outcome is one more line of the report. */
static void do_repair(struct report *r, struct mc_ctx *ctx, const char *root_id)
{
	struct mc_repair_opts o = { .root_id = root_id };
	struct mc_repair_report rep = { 0 };
	struct mc_buf b = MC_BUF_INIT;

	if (mc_repair(ctx, &o, &rep)) {
		add_error(r, ctx, "repair", FAIL, NULL, "see molcache(1), doctor --repair");
		goto done;
	}
	if (rep.moved_to)
		mc_buf_addf(&b, "damaged index moved to '%s' (%s); ", rep.moved_to, rep.damage ? rep.damage : "?");
	mc_buf_addf(&b, "root id %s (from %s); %lld labelled image%s: %lld row%s restored, %lld already right, "
			"%lld :latest set",
		    rep.root_id, rep.root_from, (long long)rep.images, rep.images == 1 ? "" : "s",
		    (long long)rep.restored, rep.restored == 1 ? "" : "s", (long long)rep.kept, (long long)rep.latest_set);
	if (rep.skipped.n) {
		mc_buf_addf(&b, "; %zu skipped: ", rep.skipped.n);
		for (size_t i = 0; i < rep.skipped.n; i++)
			mc_buf_addf(&b, "%s%s", i ? "; " : "", rep.skipped.v[i]);
		add(r, "repair", WARN, mc_cli_scrub(ctx, mc_buf_cstr(&b)),
		    mc_strdup("a skipped image has no row: 'molcache gc --orphans' removes it, or ensure adopts it "
			      "when its key is asked for"));
	} else {
		add(r, "repair", PASS, mc_cli_scrub(ctx, mc_buf_cstr(&b)), NULL);
	}
done:
	mc_buf_release(&b);
	mc_repair_report_release(&rep);
}

static int check_engine(struct report *r, struct mc_ctx *ctx, struct mc_engine **out)
{
	*out = NULL;
	if (mc_ctx_engine(ctx, out)) {
		add_error(r, ctx, "engine", FAIL, NULL,
			  "start the Docker engine, or point DOCKER_HOST (or docker_host in the config) at its socket");
		*out = NULL;
		return -1;
	}
	const char *cx = mc_engine_context(*out);
	add(r, "engine", PASS,
	    mc_asprintf("'%s'%s%s%s answers: API %s, platform %s", mc_engine_where(*out), cx ? " (docker context '" : "",
			cx ? cx : "", cx ? "')" : "", mc_engine_api_version(*out),
			mc_engine_platform(*out) ? mc_engine_platform(*out) : "unknown"),
	    NULL);
	return 0;
}

static int write_file(const char *dir, const char *name, const char *text)
{
	char *path = mc_asprintf("%s/%s", dir, name);
	FILE *f = fopen(path, "w");
	int ret = 0;
	if (!f || fputs(text, f) == EOF)
		ret = mc_error_errno(path);
	if (f && fclose(f) && !ret)
		ret = mc_error_errno(path);
	free(path);
	return ret;
}

/* libarchive is loaded only by a miss (a hit must not pay for it), so a host
 * without it would pass every hit and fail on its first build: load it here. */
static int check_archive(struct report *r, struct mc_ctx *ctx)
{
	if (mc_context_load_archive(NULL)) {
		add_error(r, ctx, "libarchive", FAIL, NULL, "install libarchive (Debian package: libarchive13)");
		mc_error_clear();
		return -1;
	}
	add(r, "libarchive", PASS, mc_asprintf("%s loads (a miss streams build contexts with it)",
					       mc_context_archive_soname()),
	    NULL);
	return 0;
}

/* When libgit2's CA certificates are parsed: at every start ("eager", a
 * git:// hit pays for it) or only before an http(s) remote ("deferred"). */
static void check_ca_loading(struct report *r, struct mc_ctx *ctx)
{
	if (mc_git_init()) {
		add_error(r, ctx, "CA loading", FAIL, NULL, "reinstall libgit2 (Debian package: libgit2-1.5)");
		mc_error_clear();
		return;
	}
	if (!strcmp(mc_git_ca_loading(), "deferred"))
		add(r, "CA loading", PASS, mc_strdup("deferred: certificates are parsed only before an http(s) remote"),
		    NULL);
	else
		add(r, "CA loading", PASS, mc_strdup("eager: libgit2 parses the certificates at start, for every remote"),
		    NULL);
}

/* A real build through the same API call ensure makes: the capability, not a
 * binary's presence, is what broke before. */
static void check_build(struct report *r, struct mc_ctx *ctx, struct mc_engine *eng)
{
	char dir[] = "/tmp/molcache-doctor.XXXXXX";
	char id[80] = "";
	char *tag = mc_asprintf("molcache-doctor:%ld", (long)getpid());
	const char *tags[] = { tag, NULL };
	struct mc_context *cx = NULL;
	struct mc_buf log = MC_BUF_INIT;
	int bk = mc_engine_buildkit(eng);
	int64_t t0;

	if (!mkdtemp(dir)) {
		mc_error_errno("/tmp");
		add_error(r, ctx, "build", FAIL, "temporary build context", "make /tmp (or TMPDIR) writable");
		dir[0] = 0;
		goto done;
	}
	if (write_file(dir, "Dockerfile", "FROM scratch\nCOPY x /x\n") || write_file(dir, "x", "molcache doctor\n") ||
	    mc_context_open(&cx, dir, "Dockerfile")) {
		add_error(r, ctx, "build", FAIL, "temporary build context", "make /tmp (or TMPDIR) writable");
		goto done;
	}
	t0 = mc_mono_ms();
	{
		struct mc_build_req req = {
			.context = cx, .dockerfile = "Dockerfile", .tags = tags, .networkmode = "none",
		};
		if (mc_engine_build(eng, &req, id, &log)) {
			add_error(r, ctx, "build", FAIL, bk ? "BuildKit cannot build" : "the classic builder cannot build",
				  bk ? "make BuildKit usable in the engine (dockerd 'features': {'buildkit': true}, "
				       "a working containerd snapshotter); see the engine's log"
				     : "see the engine's log");
			goto done;
		}
	}
	if (!bk) {
		/* a build ran, but the slow way: say what that costs */
		add(r, "build", WARN,
		    mc_asprintf("the engine offers only the classic builder (a test build took %lld ms)",
				(long long)(mc_mono_ms() - t0)),
		    mc_strdup("builds work but cost more: the classic builder runs steps one by one without "
			      "BuildKit's cache, and behind an authorization plugin every step is an authz round trip "
			      "(minutes for a sub-second build); use an engine with BuildKit (Docker 18.09+, not Podman)"));
	} else {
		add(r, "build", PASS,
		    mc_asprintf("BuildKit built a FROM scratch image in %lld ms", (long long)(mc_mono_ms() - t0)),
		    NULL);
	}
done:
	/* the test image must not linger, whatever happened */
	if (id[0])
		mc_engine_image_remove(eng, id, 1);
	else
		mc_engine_image_remove(eng, tag, 1);
	mc_error_clear();
	mc_context_free(cx);
	mc_buf_release(&log);
	if (dir[0])
		mc_rm_rf(dir);
	free(tag);
}

static void check_remotes(struct report *r, struct mc_ctx *ctx)
{
	const char *prefix = ctx->cfg.repo_prefix;
	if (!prefix || !*prefix) {
		add(r, "remote", WARN, mc_strdup("no template repository prefix is configured"),
		    mc_strdup("set MOLCACHE_REPO_PREFIX (or repo_prefix in the config), or pass --repo-prefix to ensure"));
		return;
	}
	for (size_t i = 0; i < ctx->cfg.runtimes.n; i++) {
		char *url = mc_asprintf("%s%s", prefix, ctx->cfg.runtimes.v[i]);
		char *redacted = mc_url_redact(url);
		char *shown = mc_cli_scrub(ctx, redacted);
		char sha[41];
		char *resolved = NULL;
		int err = mc_git_resolve(sha, &resolved, url, ctx->cfg.ref, ctx->cfg.git_token);
		if (!err) {
			add(r, "remote", PASS,
			    mc_asprintf("%s: '%s' %s → %.12s", ctx->cfg.runtimes.v[i], shown,
					resolved ? resolved : "HEAD", sha),
			    NULL);
		} else {
			/* the lower layer's message names the (redacted) URL */
			add_error(r, ctx, "remote", FAIL, ctx->cfg.runtimes.v[i],
				  err == MC_ENOTFOUND ? "create the ref, or set MOLCACHE_REF / --ref"
						      : "check the URL, the network and MOLCACHE_GIT_TOKEN; or drop the "
							"runtime from the allowlist (MOLCACHE_RUNTIMES)");
		}
		free(resolved);
		free(redacted);
		free(shown);
		free(url);
	}
}

static void check_disk(struct report *r, struct mc_ctx *ctx)
{
	char *at = existing_ancestor(ctx->paths.root);
	struct statvfs sv;
	char size[32];
	int64_t avail;

	if (statvfs(at, &sv) != 0) {
		mc_error_errno(at);
		add_error(r, ctx, "disk", FAIL, "statvfs", "check the filesystem of the cache root");
		goto done;
	}
	avail = (int64_t)sv.f_bavail * (int64_t)sv.f_frsize;
	mc_fmt_size(size, avail);
	if (avail < DISK_FAIL)
		add(r, "disk", FAIL, mc_asprintf("%s free at '%s' (under 1 GiB)", size, at),
		    mc_strdup("free space, move MOLCACHE_HOME to a larger disk, or run 'molcache gc --max-size SIZE'"));
	else if (avail < DISK_WARN)
		add(r, "disk", WARN, mc_asprintf("%s free at '%s' (under 5 GiB)", size, at),
		    mc_strdup("run 'molcache gc --max-size SIZE' from cron (docs: operations)"));
	else
		add(r, "disk", PASS, mc_asprintf("%s free at '%s'", size, at), NULL);
done:
	free(at);
}

static enum mc_color verdict_color(enum verdict v)
{
	switch (v) {
	case PASS: return MC_COLOR_GREEN;
	case WARN: return MC_COLOR_YELLOW;
	case FAIL: return MC_COLOR_RED;
	default: return MC_COLOR_DIM;
	}
}

static void print_text(const struct report *r, FILE *f)
{
	int color = mc_fmt_color(f);
	size_t w = 0, count[4] = { 0 };
	for (size_t i = 0; i < r->n; i++)
		if (strlen(r->v[i].name) > w)
			w = strlen(r->v[i].name);
	for (size_t i = 0; i < r->n; i++) {
		const struct check *c = &r->v[i];
		count[c->v]++;
		mc_fmt_paint(f, color, verdict_color(c->v), verdict_upper[c->v]);
		fprintf(f, "  %-*s  %s\n", (int)w, c->name, c->message);
		if (c->hint && c->v != PASS)
			fprintf(f, "      %*s  hint: %s\n", (int)w, "", c->hint);
	}
	fprintf(f, "\n%zu passed, %zu warnings, %zu failed", count[PASS], count[WARN], count[FAIL]);
	if (count[SKIP])
		fprintf(f, ", %zu skipped", count[SKIP]);
	fputc('\n', f);
}

static json_t *to_json(const struct report *r)
{
	json_t *doc = mc_json_doc(), *a = json_array(), *sum = json_object();
	int64_t count[4] = { 0 };
	for (size_t i = 0; i < r->n; i++) {
		const struct check *c = &r->v[i];
		json_t *o = json_object();
		count[c->v]++;
		json_object_set_new(o, "name", json_string(c->name));
		json_object_set_new(o, "status", json_string(verdict_name[c->v]));
		json_object_set_new(o, "message", mc_json_str(c->message));
		json_object_set_new(o, "hint", mc_json_str(c->v == PASS ? NULL : c->hint));
		json_array_append_new(a, o);
	}
	json_object_set_new(doc, "ok", json_boolean(count[FAIL] == 0));
	for (int v = 0; v < 4; v++)
		json_object_set_new(sum, verdict_name[v], json_integer(count[v]));
	json_object_set_new(doc, "summary", sum);
	json_object_set_new(doc, "checks", a);
	return doc;
}

int cmd_doctor(struct mc_ctx *ctx, int argc, char **argv)
{
	enum { O_JSON = 256, O_NO_BUILD, O_NO_REMOTES, O_REPAIR, O_ROOT_ID };
	static const struct option opts[] = {
		{ "json", no_argument, NULL, O_JSON },
		{ "no-build", no_argument, NULL, O_NO_BUILD },
		{ "no-remotes", no_argument, NULL, O_NO_REMOTES },
		{ "repair", no_argument, NULL, O_REPAIR },
		{ "root-id", required_argument, NULL, O_ROOT_ID },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct report r = { 0 };
	struct mc_engine *eng = NULL;
	const char *root_id = NULL;
	int c, err, json = 0, build = 1, remotes = 1, repair = 0, ret = MC_EXIT_OK;

	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case O_JSON: json = 1; break;
		case O_NO_BUILD: build = 0; break;
		case O_NO_REMOTES: remotes = 0; break;
		case O_REPAIR: repair = 1; break;
		case O_ROOT_ID:
			/* it goes into a label filter and the meta table: the shape ids have */
			if (!*optarg || strlen(optarg) > 64 || strspn(optarg, "0123456789abcdef") != strlen(optarg)) {
				ret = mc_cli_usage_error("doctor", "--root-id '%s': want up to 64 lowercase hex digits", optarg);
				goto done;
			}
			root_id = optarg;
			break;
		case 'h':
			fputs(usage_text, stdout);
			goto done;
		default:
			ret = mc_cli_bad_option("doctor", "h", argv);
			goto done;
		}
	}
	if (optind != argc) {
		ret = mc_cli_usage_error("doctor", "unexpected argument '%s'", argv[optind]);
		goto done;
	}
	if (root_id && !repair) {
		ret = mc_cli_usage_error("doctor", "--root-id goes with --repair");
		goto done;
	}
	/* without paths and config nothing can be checked: that is an error, not a report */
	if ((err = mc_ctx_init(ctx))) {
		ret = mc_cli_fail(ctx, err);
		goto done;
	}
	check_root(&r, ctx);
	if (repair)
		do_repair(&r, ctx, root_id);
	check_index(&r, ctx);
	int engine_err = check_engine(&r, ctx, &eng);
	int archive_err = check_archive(&r, ctx);
	check_ca_loading(&r, ctx);
	if (build && engine_err)
		add(&r, "build", SKIP, mc_strdup("no engine to build with"), NULL);
	else if (build && archive_err)
		add(&r, "build", SKIP, mc_strdup("no libarchive to send a build context with"), NULL);
	else if (build)
		check_build(&r, ctx, eng);
	if (remotes)
		check_remotes(&r, ctx);
	check_disk(&r, ctx);

	if (json) {
		if ((err = mc_json_print(to_json(&r), stdout))) {
			ret = mc_cli_fail(ctx, err);
			goto done;
		}
	} else {
		print_text(&r, stdout);
	}
	for (size_t i = 0; i < r.n; i++)
		if (r.v[i].v == FAIL)
			ret = MC_EXIT_ERROR;
done:
	report_release(&r);
	return ret;
}
