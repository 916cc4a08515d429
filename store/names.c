/* names.c — runtime names: the shape a name must have and the allowlist. */
#include "names.h"

#include <stdlib.h>
#include <string.h>

#define RUNTIME_MAX 64
#define NAMESPACE_MAX 64

static char tag_ns[NAMESPACE_MAX + 1] = "molcache";

int mc_tag_namespace_set(const char *ns)
{
	size_t n = ns ? strlen(ns) : 0;
	int ok = n > 0 && n <= NAMESPACE_MAX;

	for (size_t i = 0; ok && i < n; i++) {
		char c = ns[i];
		int alnum = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
		int sep = c == '.' || c == '_' || c == '-';
		/* a separator sits between alphanumerics: not first, not last, not after '.' or '-' */
		ok = alnum || (sep && i > 0 && i + 1 < n && (ns[i - 1] != '.' && ns[i - 1] != '-') &&
			       !(ns[i - 1] == '_' && (c != '_' || (i > 1 && ns[i - 2] == '_'))));
	}
	if (!ok) {
		mc_error_set(MC_EINVAL, "tag_namespace '%.80s': want a lowercase repository name component "
					"([a-z0-9]+ joined by '.', '_', '__' or '-'), at most %d characters",
			     ns ? ns : "", NAMESPACE_MAX);
		mc_error_hint("e.g. tag_namespace = molcache-ci");
		return MC_EINVAL;
	}
	memcpy(tag_ns, ns, n + 1);
	return 0;
}

const char *mc_tag_namespace(void) { return tag_ns; }

int mc_tag_is_ours(const char *tag)
{
	size_t n = strlen(tag_ns);
	return tag && !strncmp(tag, tag_ns, n) && tag[n] == '/';
}

char *mc_image_repo(const char *runtime) { return mc_asprintf("%s/%s", tag_ns, runtime); }

const char *const mc_default_runtimes[] = {
	"autogen", "claude-code", "codex", "crewai", "deepagents",
	"gemini-cli", "hermes", "langgraph", "openclaw", NULL,
};

/* Copy of s for quoting in a message: control bytes become '?', long names are cut. */
static char *printable(const char *s, size_t max)
{
	struct mc_buf b = MC_BUF_INIT;
	size_t n = strlen(s);

	mc_buf_adds(&b, "");
	for (size_t i = 0; i < n && i < max; i++) {
		unsigned char c = (unsigned char)s[i];
		char o = (c < 0x20 || c == 0x7f) ? '?' : (char)c;
		mc_buf_add(&b, &o, 1);
	}
	if (n > max)
		mc_buf_adds(&b, "...");
	return mc_buf_detach(&b);
}

static const char *runtime_problem(const char *name)
{
	size_t n = strlen(name);

	if (!n)
		return "must not be empty";
	if (n > RUNTIME_MAX)
		return "longer than 64 characters";
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)name[i];
		if (c == '/')
			return "must not contain '/'";
		if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f')
			return "must not contain whitespace";
		if (c < 0x20 || c == 0x7f)
			return "must not contain control characters";
		if (c >= 'A' && c <= 'Z')
			return "must be lowercase";
		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
		      c == '-'))
			return "may only contain a-z, 0-9, '.', '_' and '-'";
	}
	if (name[0] == '.' || name[0] == '-')
		return "must not start with '.' or '-'";
	if (strstr(name, ".."))
		return "must not contain '..'";
	return NULL;
}

int mc_runtime_check(const char *name, const struct mc_strv *allow)
{
	const char *why;
	char *shown = NULL;
	int ret = 0;

	if (!name)
		name = "";
	shown = printable(name, RUNTIME_MAX);
	if ((why = runtime_problem(name))) {
		ret = mc_error_set(MC_EINVAL, "runtime '%s': %s", shown, why);
		goto done;
	}
	if (allow && allow->n && mc_strv_find(allow, name) < 0) {
		struct mc_buf list = MC_BUF_INIT;
		for (size_t i = 0; i < allow->n; i++) {
			if (list.len > 200) {
				mc_buf_adds(&list, ", ...");
				break;
			}
			char *p = printable(allow->v[i], RUNTIME_MAX);
			mc_buf_addf(&list, "%s%s", i ? ", " : "", p);
			free(p);
		}
		ret = mc_error_set(MC_EINVAL, "runtime '%s': not in the allowed list (%s)", shown,
				   mc_buf_cstr(&list));
		mc_error_hint("set runtimes in the config file or MOLCACHE_RUNTIMES to allow it");
		mc_buf_release(&list);
	}
done:
	free(shown);
	return ret;
}

