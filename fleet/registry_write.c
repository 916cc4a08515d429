/* registry_write.c — the registry writes of the build marker: a monolithic blob upload and a manifest PUT. */
#include "registry.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* An upload's Location as a path on the registry itself: relative, or
 * absolute naming the registry's own host (never another: credentials). */
static char *location_path(const struct mc_registry *r, const char *loc)
{
	const char *p = loc, *host = mc_registry_host(r);
	size_t hl = strlen(host);

	if (*p == '/')
		return mc_strdup(p);
	if (!strncmp(p, "https://", 8))
		p += 8;
	else if (!strncmp(p, "http://", 7))
		p += 7;
	else
		return NULL;
	if (strncasecmp(p, host, hl) || p[hl] != '/')
		return NULL;
	return mc_strdup(p + hl);
}

int mc_registry_blob_put(struct mc_registry *r, char *digest, const char *name, const void *data, size_t n)
{
	char hex[65], *path, *loc = NULL, *where = NULL, *put = NULL;
	int ret;

	digest[0] = 0;
	if (!mc_registry_path_ok(name, ""))
		return mc_error_set(MC_EINVAL, "registry: bad name '%.80s'", name ? name : "");
	mc_sha256_hex(hex, data, n);
	path = mc_asprintf("/v2/%s/blobs/uploads/", name);
	if ((ret = mc_registry_send(r, "POST", path, NULL, NULL, 0, &loc)))
		goto done;
	if (!loc || !(where = location_path(r, loc))) {
		ret = mc_error_set(MC_EINVAL, "registry '%s': an upload whose Location is %s", mc_registry_host(r),
				   loc ? "not on the registry" : "missing");
		goto done;
	}
	/* the digest's ':' escaped, as the query wants it */
	put = mc_asprintf("%s%cdigest=sha256%%3A%s", where, strchr(where, '?') ? '&' : '?', hex);
	if (!(ret = mc_registry_send(r, "PUT", put, "application/octet-stream", data, n, NULL)))
		snprintf(digest, 80, "sha256:%s", hex);
done:
	free(path);
	free(loc);
	free(where);
	free(put);
	return ret;
}

int mc_registry_manifest_put(struct mc_registry *r, const char *name, const char *ref, const char *media_type,
			     const char *body, size_t n)
{
	char *path;
	int ret;

	if (!mc_registry_path_ok(name, "") || !mc_registry_path_ok(ref, "") || strchr(ref, '/'))
		return mc_error_set(MC_EINVAL, "registry: bad name '%.80s:%.80s'", name ? name : "", ref ? ref : "");
	path = mc_asprintf("/v2/%s/manifests/%s", name, ref);
	ret = mc_registry_send(r, "PUT", path, media_type, body, n, NULL);
	free(path);
	return ret;
}
