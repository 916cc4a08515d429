/*
 * dockerfile.h — the pure FROM/ARG reader: which external images a Dockerfile
 * needs, so they can be pulled before a BuildKit build (BuildKit over the raw
 * API has no session and cannot pull them itself).
 */
#ifndef MC_DOCKERFILE_H
#define MC_DOCKERFILE_H

#include <stddef.h>
#include "../util/mc_util.h"

/*
 * Appends to out each distinct external image named by a FROM line, in order.
 * Handles: line continuations ('\' or the escape= directive's char), comments,
 * case-insensitive instructions, global ARGs before the first FROM with
 * defaults (ARG X=1, ARG X="1"), build args overriding those defaults, ${X},
 * $X, ${X:-default}; FROM --platform=… flags; "AS name" stage names (a later
 * FROM naming an earlier stage is not external); "scratch" is skipped.
 * An unresolvable variable leaves it empty, as docker does. Never fails on
 * bad input other than MC_EINVAL for an image reference that ends up empty.
 */
int mc_dockerfile_from_images(struct mc_strv *out, const char *text, size_t len,
			      const struct mc_strv *build_args);

#endif
