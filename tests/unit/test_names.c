/* test_names.c — runtime name checks, and URL credentials (one parser for stripping, libgit2 and masking), table-driven. */
#include <string.h>

#include "store/names.h"
#include "git/url.h"
#include "t.h"

static void test_runtime_syntax(void)
{
	static const struct {
		const char *name;
		const char *why; /* NULL = accepted */
	} t[] = {
		{ "claude-code", NULL },
		{ "a", NULL },
		{ "gemini-cli", NULL },
		{ "x_1.2-b", NULL },
		{ "9lives", NULL },
		{ "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", NULL }, /* 64 */
		{ "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "longer than 64" },
		{ "", "must not be empty" },
		{ "a/b", "runtime 'a/b': must not contain '/'" },
		{ "../etc", "must not contain '/'" },
		{ "a..b", "runtime 'a..b': must not contain '..'" },
		{ "..", "must not start with '.' or '-'" },
		{ ".hidden", "must not start with '.' or '-'" },
		{ "-rf", "must not start with '.' or '-'" },
		{ "a b", "must not contain whitespace" },
		{ "a\tb", "must not contain whitespace" },
		{ "a\nb", "runtime 'a?b': must not contain whitespace" },
		{ "a\x1b[31mb", "runtime 'a?[31mb': must not contain control characters" },
		{ "a\x7f", "must not contain control characters" },
		{ "Claude", "must be lowercase" },
		{ "a@b", "may only contain" },
		{ "a:b", "may only contain" },
		{ "caf\xc3\xa9", "may only contain" },
	};

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		int r = mc_runtime_check(t[i].name, NULL);
		if (!t[i].why) {
			CHECK_INT(r, 0);
			continue;
		}
		CHECK_INT(r, MC_EINVAL);
		if (!strstr(mc_error_msg(), t[i].why))
			fprintf(stderr, "case %zu: message \"%s\" lacks \"%s\"\n", i, mc_error_msg(), t[i].why);
		CHECK(strstr(mc_error_msg(), t[i].why) != NULL);
	}
	CHECK_INT(mc_runtime_check(NULL, NULL), MC_EINVAL);
}

static void test_runtime_allowlist(void)
{
	struct mc_strv allow = MC_STRV_INIT, empty = MC_STRV_INIT;
	size_t n = 0;

	for (const char *const *r = mc_default_runtimes; *r; r++, n++)
		mc_strv_push(&allow, *r);
	CHECK_INT(n, 9);
	CHECK_STR(mc_default_runtimes[0], "autogen");
	CHECK_STR(mc_default_runtimes[8], "openclaw");
	CHECK(mc_default_runtimes[9] == NULL);
	for (size_t i = 0; i < allow.n; i++)
		CHECK_INT(mc_runtime_check(allow.v[i], &allow), 0);

	CHECK_INT(mc_runtime_check("x", &allow), MC_EINVAL);
	CHECK_STR(mc_error_msg(), "runtime 'x': not in the allowed list (autogen, claude-code, codex, crewai, "
				  "deepagents, gemini-cli, hermes, langgraph, openclaw)");
	CHECK_STR(mc_error_hint_msg(), "set runtimes in the config file or MOLCACHE_RUNTIMES to allow it");
	/* syntax is checked before the list, and without a hint */
	CHECK_INT(mc_runtime_check("a/b", &allow), MC_EINVAL);
	CHECK_STR(mc_error_msg(), "runtime 'a/b': must not contain '/'");
	CHECK_STR(mc_error_hint_msg(), "");
	/* an empty or absent list allows any well-formed name */
	CHECK_INT(mc_runtime_check("x", &empty), 0);
	CHECK_INT(mc_runtime_check("x", NULL), 0);
	mc_strv_release(&allow);
}

static void test_url_masking(void)
{
	static const struct {
		const char *url, *stripped, *redacted;
	} t[] = {
		{ "https://tok@host/x", "https://host/x", "https://***@host/x" },
		{ "https://user:pa55@git.example.com/org/repo-", "https://git.example.com/org/repo-",
		  "https://***@git.example.com/org/repo-" },
		{ "https://oauth2:ghp_abc%3Adef%40x@host:8443/r", "https://host:8443/r", "https://***@host:8443/r" },
		{ "https://us%40er:p%2Fw@host/r", "https://host/r", "https://***@host/r" },
		/* an unencoded '@' inside the password: the last '@' of the authority ends it */
		{ "https://me@corp:p@ss@host/r", "https://host/r", "https://***@host/r" },
		{ "https://host/x", "https://host/x", "https://host/x" },
		{ "https://host", "https://host", "https://host" },
		{ "https://tok@host", "https://host", "https://***@host" },
		{ "http://127.0.0.1:8080/git/", "http://127.0.0.1:8080/git/", "http://127.0.0.1:8080/git/" },
		/* '@' only in the path, query or fragment is not userinfo */
		{ "https://host/org/repo@v1", "https://host/org/repo@v1", "https://host/org/repo@v1" },
		{ "https://host/a/b@c:d@e", "https://host/a/b@c:d@e", "https://host/a/b@c:d@e" },
		{ "https://host?u=a@b", "https://host?u=a@b", "https://host?u=a@b" },
		{ "https://host#a@b", "https://host#a@b", "https://host#a@b" },
		{ "https://t@host/p@q", "https://host/p@q", "https://***@host/p@q" },
		{ "git://127.0.0.1:9418/templates/", "git://127.0.0.1:9418/templates/",
		  "git://127.0.0.1:9418/templates/" },
		{ "ssh://git@host:22/r.git", "ssh://host:22/r.git", "ssh://***@host:22/r.git" },
		{ "https://u:p@[::1]:3000/r", "https://[::1]:3000/r", "https://***@[::1]:3000/r" },
		{ "file:///srv/git/tpl-", "file:///srv/git/tpl-", "file:///srv/git/tpl-" },
		{ "file:///srv/git@x/tpl-", "file:///srv/git@x/tpl-", "file:///srv/git@x/tpl-" },
		{ "file://user@localhost/srv/git/", "file://localhost/srv/git/", "file://***@localhost/srv/git/" },
		/* scp-like */
		{ "git@github.com:org/tpl-", "github.com:org/tpl-", "***@github.com:org/tpl-" },
		{ "user:tok@host:org/r", "host:org/r", "***@host:org/r" },
		{ "git@host:p@th/x", "host:p@th/x", "***@host:p@th/x" },
		{ "host:org/r", "host:org/r", "host:org/r" },
		{ "git@[::1]:org/r", "[::1]:org/r", "***@[::1]:org/r" },
		/* local paths */
		{ "/srv/git/a@b:c", "/srv/git/a@b:c", "/srv/git/a@b:c" },
		{ "./tpl@x", "./tpl@x", "./tpl@x" },
		{ "name@nohost", "name@nohost", "name@nohost" },
		{ "", "", "" },
		/* a malformed scheme still counts: over-stripping beats leaking */
		{ "1x://u:pw@h/q", "1x://h/q", "1x://***@h/q" },
		{ "a/b://u@h/q", "a/b://u@h/q", "a/b://u@h/q" },
	};

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		char *s = mc_url_strip_credentials(t[i].url);
		char *r = mc_url_redact(t[i].url);
		if (!s || !r || strcmp(s, t[i].stripped) || strcmp(r, t[i].redacted))
			fprintf(stderr, "case %zu: %s\n", i, t[i].url);
		CHECK_STR(s, t[i].stripped);
		CHECK_STR(r, t[i].redacted);
		free(s);
		free(r);
	}
	CHECK(mc_url_strip_credentials(NULL) == NULL);
	CHECK(mc_url_redact(NULL) == NULL);
}

/* What libgit2 is handed and what is masked come from the same span that is
 * stripped: user/pass decoded, the secret as written. */
static void test_url_credentials(void)
{
	static const struct {
		const char *url, *user, *pass, *raw;
		int scp;
	} t[] = {
		{ "https://tok@host/x", "tok", NULL, "tok", 0 },
		{ "https://user:pa55@git.example.com/org/repo-", "user", "pa55", "pa55", 0 },
		/* percent-encoding: decoded for libgit2, masked as written and decoded */
		{ "https://oauth2:ghp_abc%3Adef%40x@host:8443/r", "oauth2", "ghp_abc:def@x", "ghp_abc%3Adef%40x", 0 },
		{ "https://us%40er:p%2Fw@host/r", "us@er", "p/w", "p%2Fw", 0 },
		{ "https://u:p%zz@host/r", "u", "p%zz", "p%zz", 0 }, /* not an escape: kept */
		/* '@' in the password: the last '@' of the authority ends it */
		{ "https://me@corp:p@ss@host/r", "me@corp", "p@ss", "p@ss", 0 },
		{ "https://u:@host/r", "u", "", "", 0 },
		/* IPv6 hosts */
		{ "https://u:pw6@[::1]:3000/r", "u", "pw6", "pw6", 0 },
		{ "http://[fe80::1%25eth0]:80/r", NULL, NULL, NULL, 0 },
		/* no userinfo */
		{ "https://host/org/repo@v1", NULL, NULL, NULL, 0 },
		{ "https://host?u=a@b", NULL, NULL, NULL, 0 },
		{ "file:///srv/git@x/tpl-", NULL, NULL, NULL, 0 },
		/* no scheme: scp-like userinfo is ssh's user name, no secret */
		{ "git@github.com:org/tpl-", "git", NULL, NULL, 1 },
		{ "user:tok@host:org/r", "user", "tok", "tok", 1 },
		{ "git@[::1]:org/r", "git", NULL, NULL, 1 },
		{ "host:org/r", NULL, NULL, NULL, 0 },
		{ "name@nohost", NULL, NULL, NULL, 0 },
		{ "/srv/git/a@b:c", NULL, NULL, NULL, 0 },
		/* git.c once read creds from any "://": a path is not a scheme */
		{ "a/b://u@h/q", NULL, NULL, NULL, 0 },
		{ "1x://u:pw@h/q", "u", "pw", "pw", 0 },
	};

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		struct mc_url_cred c;
		size_t start = 0, end = 0;
		int has = mc_url_credentials(&c, t[i].url);
		if (has != (t[i].user != NULL) || (c.user == NULL) != (t[i].user == NULL) ||
		    (c.user && strcmp(c.user, t[i].user)))
			fprintf(stderr, "case %zu: %s\n", i, t[i].url);
		CHECK_INT(has, t[i].user != NULL);
		CHECK_INT(mc_url_userinfo(t[i].url, &start, &end), has);
		if (t[i].user)
			CHECK_STR(c.user, t[i].user);
		else
			CHECK(c.user == NULL);
		if (t[i].pass)
			CHECK_STR(c.pass, t[i].pass);
		else
			CHECK(c.pass == NULL);
		if (t[i].raw)
			CHECK_STR(c.raw, t[i].raw);
		else
			CHECK(c.raw == NULL);
		CHECK_INT(c.scp, t[i].scp);
		/* stripped is exactly the URL without that span; redacted masks the same span */
		char *s = mc_url_strip_credentials(t[i].url), *r = mc_url_redact(t[i].url);
		size_t ulen = strlen(t[i].url);
		CHECK_INT(strlen(s), ulen - (end - start));
		CHECK(!strncmp(s, t[i].url, start) && !strcmp(s + start, t[i].url + end));
		CHECK(!c.raw || !*c.raw || strstr(r, c.raw) == NULL);
		free(s);
		free(r);
		mc_url_cred_release(&c);
	}
	mc_url_cred_release(NULL);
}

static void test_redact_secret(void)
{
	static const struct {
		const char *s, *secret, *want;
	} t[] = {
		{ "clone https://tok@h/x failed: tok rejected", "tok", "clone https://***@h/x failed: *** rejected" },
		{ "aaaa", "aa", "******" },
		{ "aaa", "aa", "***a" },
		{ "no secret here", "tok", "no secret here" },
		{ "tok", "tok", "***" },
		{ "x", NULL, "x" },
		{ "x", "", "x" },
		{ "", "tok", "" },
	};

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		char *r = mc_redact_secret(t[i].s, t[i].secret);
		CHECK_STR(r, t[i].want);
		free(r);
	}
	CHECK(mc_redact_secret(NULL, "x") == NULL);
}

/* Credentials go only to the origin they were configured for (git.c's callback). */
static void test_url_origin(void)
{
	static const struct {
		const char *url, *scheme, *host, *port; /* host NULL: MC_EINVAL */
	} t[] = {
		{ "http://127.0.0.1:8080/x-", "http", "127.0.0.1", "8080" },
		{ "https://Git.Example.COM/org/rt", "https", "git.example.com", "443" },
		{ "HTTP://h/x", "http", "h", "80" },
		{ "git://h/x", "git", "h", "9418" },
		{ "https://user:p@ss@h:444/x", "https", "h", "444" },
		{ "https://tok@[::1]:8443/x", "https", "::1", "8443" },
		{ "https://[::1]/x", "https", "::1", "443" },
		{ "http://h:/x", "http", "h", "80" },
		{ "https://h?q=a@b", "https", "h", "443" },
		{ "git@h:org/x", NULL, NULL, NULL },
		{ "/srv/git/x", NULL, NULL, NULL },
		{ "https:///x", NULL, NULL, NULL },
		{ "https://[::1/x", NULL, NULL, NULL },
	};

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		struct mc_url_origin o;
		int rc = mc_url_origin(&o, t[i].url);
		if (!t[i].host) {
			CHECK_INT(rc, MC_EINVAL);
		} else {
			CHECK_INT(rc, 0);
			CHECK_STR(o.scheme, t[i].scheme);
			CHECK_STR(o.host, t[i].host);
			CHECK_STR(o.port, t[i].port);
		}
		mc_url_origin_release(&o);
	}
	mc_error_clear();
	CHECK(mc_url_same_origin("https://tok@h/a", "https://h:443/b"));
	CHECK(!mc_url_same_origin("https://h/a", "http://h/a"));
	CHECK(!mc_url_same_origin("http://h:1/a", "http://h:2/a"));
	CHECK(!mc_url_same_origin("http://127.0.0.1/a", "http://127.0.0.2/a"));
	CHECK(!mc_url_same_origin("http://h.evil/a", "http://h/a"));
	mc_url_origin_release(NULL);
}

int main(void)
{
	test_runtime_syntax();
	test_runtime_allowlist();
	test_url_masking();
	test_url_credentials();
	test_redact_secret();
	test_url_origin();
	return t_done();
}
