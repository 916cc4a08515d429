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

#endif
