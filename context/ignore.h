/*
 * ignore.h — .dockerignore, as Docker's patternmatcher reads it. Pure: text in,
 * answers out (table-tested and fuzzed).
 */
#ifndef MC_IGNORE_H
#define MC_IGNORE_H

#include <stddef.h>
#include "../util/mc_util.h"

/* .dockerignore (Docker's patternmatcher rules): '#' comments, blank lines,
 * leading '/' and "./" dropped, paths cleaned, '*', '?', '[…]', '**' (any
 * number of path segments), '!' exceptions (last match wins), and a pattern
 * that matches a directory excludes everything under it. */
struct mc_ignore;
int mc_ignore_parse(struct mc_ignore **out, const char *text, size_t len);
/* 1 when the relative path (no leading "./") is excluded. */
int mc_ignore_match(const struct mc_ignore *ig, const char *path);
void mc_ignore_free(struct mc_ignore *ig);

/* For the context walk (context.c): 1 when the walk must go into the excluded
 * directory dir because an exception names a path below it by its text,
 * Docker's rule: the exception's cleaned pattern plus "/" begins with
 * dir + "/" ("!dir/keep" and "!dir/x*.go" reach dir, not dir/sub). An
 * exception that reaches below dir only through a wildcard ("!**" + "/keep")
 * does not count, as in docker: what it names there stays out. */
int mc_ignore_may_reinclude_(const struct mc_ignore *ig, const char *dir);

#endif
