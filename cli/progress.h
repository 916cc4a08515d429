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
	int fetch_done_sent; /* json: this fetch's final count is out (libgit2 repeats it) */
	/* json: phases begun and not yet ended, so a failure can end them */
	const char *open_phase[8];
	int64_t open_t0[8];
	int n_open;
	int color;
};

/* Picks tty or plain from isatty(stderr) unless mode is forced (>= 0). */
void mc_progress_init(struct mc_progress *p, int forced_mode);
/* The mc_event_fn for mc_ensure_opts (ud = struct mc_progress *). */
void mc_progress_event(void *ud, const struct mc_event *ev);
/* The result line ("built"/"hit" …) or, for a failed build, the failing step and its last output lines. */
void mc_progress_result(struct mc_progress *p, const struct mc_ensure_result *res, int err);
/* json: a failure as an "error" event (exit code, message, hint, failing step,
 * its last output lines, log path) then a "result" event with ok false, so
 * stderr stays one JSON object per line. msg and hint are already scrubbed. */
void mc_progress_fail(struct mc_progress *p, const struct mc_ensure_result *res, int exit_code, const char *msg,
		      const char *hint);

#endif
