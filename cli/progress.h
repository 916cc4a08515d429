/*
 * progress.h — how `ensure` shows its work on stderr. Three forms:
 *   tty    live fetch counts, one line per BuildKit step as it starts and ends,
 *          the step's output lines, the classic builder's lines as they come;
 *   plain  (stderr is not a terminal) one line per phase with its duration;
 *   json   (--log-format json) one JSON object per event, for log collectors.
 * quiet drops everything but warnings (and errors, which cli/main.c prints).
 */
#ifndef MC_PROGRESS_H
#define MC_PROGRESS_H

#include <stdio.h>
#include "../cache/ensure.h"

enum mc_progress_mode { MC_PROGRESS_PLAIN, MC_PROGRESS_TTY, MC_PROGRESS_JSON, MC_PROGRESS_QUIET };

struct mc_progress {
	enum mc_progress_mode mode;
	FILE *out;
	int fetch_line_open; /* tty: a "\r"-updated fetch line is on screen */
	int color;
};

/* Picks tty or plain from isatty(stderr) unless mode is forced (>= 0). */
void mc_progress_init(struct mc_progress *p, int forced_mode);
/* The mc_event_fn for mc_ensure_opts (ud = struct mc_progress *). */
void mc_progress_event(void *ud, const struct mc_event *ev);
/* The result line ("built"/"hit" …) or, for a failed build, the failing step and its last output lines. */
void mc_progress_result(struct mc_progress *p, const struct mc_ensure_result *res, int err);

#endif
