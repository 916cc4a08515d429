/* cmd_lease.c — `molcache lease --release KEY|TAG`: end the lease ensure --lease put on an entry. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "../store/query.h"
#include "cli.h"

static const char usage_text[] =
	"usage: molcache lease --release KEY|TAG\n"
	"\n"
	"Ends the lease 'molcache ensure --lease DUR' put on an entry, so gc may take it\n"
	"again before the lease runs out (a lease lasts at most " MC_LEASE_MAX ").\n"
	"\n"
	"  --release KEY|TAG      the entry: its key, or a unique prefix of at least 12 hex\n"
	"                         digits, or its tag molcache/<runtime>:<key12>\n"
	"  -h, --help             this help\n"
	"\n"
	"Exit status: 0 released (or the entry had no lease), 2 bad usage or an ambiguous\n"
	"prefix, 8 no entry has that key or tag.\n";

#define KEY_MIN 12

static int all_hex(const char *s, size_t n)
{
	return n && strspn(s, "0123456789abcdefABCDEF") >= n;
}

/* The shape of KEY|TAG, before any I/O: a key prefix of 12..64 hex digits, or
 * a tag ending in ":<key12>" (not :latest, which moves). */
static int target_ok(const char *what)
{
	const char *colon = strrchr(what, ':');
	if (colon)
		return colon > what && strlen(colon + 1) == KEY_MIN && all_hex(colon + 1, KEY_MIN);
	return strlen(what) >= KEY_MIN && strlen(what) <= 64 && all_hex(what, strlen(what));
}

/* The one key what names: 0 with out set, else the exit code (printed). */
static int find_key(struct mc_ctx *ctx, struct mc_index *ix, char out[65], const char *what)
{
	struct mc_strv keys = MC_STRV_INIT;
	const char *how = NULL;
	int err, ret = 0;

	if ((err = mc_query_find(ix, &keys, &how, what, 2))) {
		ret = mc_cli_fail(ctx, err);
		goto done;
	}
	if (how && !strcmp(how, "runtime")) /* a runtime named like hex: not a key */
		mc_strv_release(&keys);
	if (!keys.n && strlen(what) == 64) {
		/* a lease may outlive its row (gc tidies it later): the full key still names it */
		snprintf(out, 65, "%s", what);
		goto done;
	}
	if (!keys.n) {
		fprintf(stderr, "molcache: '%s': no cached entry has this key or tag\n", what);
		fprintf(stderr, "hint: see 'molcache ls' for what is cached\n");
		ret = MC_EXIT_NOTFOUND;
	} else if (keys.n > 1) {
		fprintf(stderr, "molcache: '%s': ambiguous key prefix; it matches %s and more\n", what, keys.v[0]);
		fprintf(stderr, "hint: give more digits of the key\n");
		ret = MC_EXIT_USAGE;
	} else {
		snprintf(out, 65, "%s", keys.v[0]);
	}
done:
	mc_strv_release(&keys);
	return ret;
}

int cmd_lease(struct mc_ctx *ctx, int argc, char **argv)
{
	enum { O_RELEASE = 256 };
	static const struct option opts[] = {
		{ "release", required_argument, NULL, O_RELEASE },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct mc_index *ix;
	const char *what = NULL;
	char key[65];
	int c, err, ret = MC_EXIT_OK;

	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case O_RELEASE: what = optarg; break;
		case 'h':
			fputs(usage_text, stdout);
			goto done;
		default:
			ret = mc_cli_bad_option("lease", "h", argv);
			goto done;
		}
	}
	if (optind != argc) {
		ret = mc_cli_usage_error("lease", "unexpected argument '%s'", argv[optind]);
		goto done;
	}
	if (!what) {
		ret = mc_cli_usage_error("lease", "want --release KEY|TAG");
		goto done;
	}
	if (!target_ok(what)) {
		ret = mc_cli_usage_error("lease", "--release '%s': want a key (at least %d hex digits) or a tag "
					 "molcache/<runtime>:<key12>", what, KEY_MIN);
		goto done;
	}
	if ((err = mc_ctx_init(ctx)) || (err = mc_ctx_index(ctx, &ix))) {
		ret = mc_cli_fail(ctx, err);
		goto done;
	}
	if ((ret = find_key(ctx, ix, key, what)))
		goto done;
	err = mc_index_lease_delete(ix, key);
	if (err == MC_ENOTFOUND) {
		mc_error_clear();
		printf("no lease on %.12s: nothing to release\n", key);
	} else if (err) {
		ret = mc_cli_fail(ctx, err);
	} else {
		printf("released the lease on %.12s\n", key);
	}
done:
	return ret;
}
