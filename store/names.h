/*
 * names.h — runtime names: 1..64 chars of [a-z0-9._-], not starting with '.'
 * or '-', no "..", and in the allowlist. A runtime names a repository, an
 * image repository and directories, so the shape is checked before any use.
 */
#ifndef MC_NAMES_H
#define MC_NAMES_H

#include "../util/mc_util.h"

/* MC_EINVAL with a message naming the problem when name is malformed or not
 * in allow (when allow is non-NULL and non-empty). */
int mc_runtime_check(const char *name, const struct mc_strv *allow);
/* The default allowlist. */
extern const char *const mc_default_runtimes[];

/*
 * The tag namespace: molcache's images are <ns>/<runtime>:<key12> and
 * <ns>/<runtime>:latest, ns "molcache" unless tag_namespace says otherwise
 * (two cache roots on one engine keep apart with two namespaces). Set once
 * at start (mc_ctx_init); MC_EINVAL for a name that is not one lowercase
 * repository path component ([a-z0-9]+ joined by single '.', '_', '__' or '-').
 */
int mc_tag_namespace_set(const char *ns);
const char *mc_tag_namespace(void);
/* Is tag one of ours: "<ns>/…"? */
int mc_tag_is_ours(const char *tag);
/* "<ns>/<runtime>" (malloc'd). */
char *mc_image_repo(const char *runtime);

#endif
