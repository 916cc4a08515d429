/*
 * context.h — a build context directory as a deterministic, streamed tar.
 *
 * The stream is pulled (mc_context_read), so it plugs straight into libcurl's
 * read callback; memory stays bounded whatever the tree's size (one file
 * chunk plus libarchive's small state). Entries are sorted by path (bytewise),
 * mtime fixed at 0, uid/gid 0, empty user/group names, no atime/ctime,
 * pax-restricted format (extended headers only when needed: long paths and
 * link targets). Symlinks keep their targets, hard links inside the tree are
 * written as hard links. Modes are git's, not the disk's (which follow the
 * umask of whoever checked the tree out): 0644 files, 0755 for a file with
 * any x bit and for directories, 0777 symlinks. .dockerignore at the root is applied
 * with Docker's rules (ignore.h); the Dockerfile and .dockerignore are
 * always sent (see mc_context_open_ignore for a Dockerfile's own ignore file).
 */
#ifndef MC_CONTEXT_H
#define MC_CONTEXT_H

#include <stddef.h>
#include <sys/types.h>
#include "../util/mc_util.h"

struct mc_context;

/* Loads libarchive with dlopen (soname NULL: the one CMake found,
 * mc_context_archive_soname()); mc_context_open() does on first use, doctor
 * does to check the host. 0 once loaded; MC_ERR with dlerror()'s words, or
 * naming a missing function (the handle is closed again), and a hint. */
int mc_context_load_archive(const char *soname);
const char *mc_context_archive_soname(void);

/* Walks dir (lstat, no symlink following) and prepares the stream.
 * dockerfile is the Dockerfile path relative to dir (never excluded). */
int mc_context_open(struct mc_context **out, const char *dir, const char *dockerfile);
/* As mc_context_open, with the ignore rules given (read from the commit;
 * ignore NULL = none) instead of read from dir/.dockerignore. ignore_for is
 * NULL when they are .dockerignore's; else the Dockerfile path (as asked)
 * whose own "<path>.dockerignore" they are, BuildKit's rule: that file and
 * .dockerignore are then files like any other, sent only if the rules keep them. *drops (may be NULL)
 * is set to 1 when .dockerignore's rules exclude the Dockerfile or
 * .dockerignore: both are still sent (the engine must read them), and
 * docker's daemon drops them from the context only under the classic builder. */
int mc_context_open_ignore(struct mc_context **out, const char *dir, const char *dockerfile, const char *ignore_for,
			   const char *ignore, size_t ignore_len, int *drops);
/* Fills up to n bytes; returns the count, 0 at the end, < 0 on error
 * (an MC_E… code with the message set). */
ssize_t mc_context_read(struct mc_context *c, void *buf, size_t n);
/* Bytes produced so far. */
size_t mc_context_bytes(const struct mc_context *c);
void mc_context_free(struct mc_context *c);

#endif
