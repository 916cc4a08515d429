/*
 * events.h — what the core reports while it works (phases, fetch counts,
 * build output, pulls, pushes, warnings), and the one emitter every room uses
 * to report it. The front end (cli/progress.c) decides how an event is shown;
 * the core never prints.
 *
 * A room gets a struct mc_emitter from its caller (plain data: a function and
 * its argument) and sends through it; an emitter that is NULL or has no fn
 * drops everything, so callers without a front end pass none.
 *
 *   int64_t t0 = mc_emit_phase_begin(em, "pull");
 *   mc_emit_text(em, MC_EV_PULL, "pull", ref);
 *   mc_emit_phase_end(em, "pull", t0);   (ms = now - t0, monotonic)
 *
 * Only util/ headers here: the git and trace payloads are named, not included.
 */
#ifndef MC_EVENTS_H
#define MC_EVENTS_H

#include <stdint.h>

enum mc_event_kind {
	MC_EV_PHASE_BEGIN, /* phase */
	MC_EV_PHASE_END,   /* phase, ms */
	MC_EV_FETCH,       /* git */
	MC_EV_BUILD,       /* build_kind ('s' stream, 't' trace, 'e' error), text */
	MC_EV_PULL,        /* text: the image being pulled */
	MC_EV_WARN,        /* text */
	MC_EV_STEP,        /* step: a BuildKit step changed state */
	MC_EV_STEP_LOG,    /* step, text: one output line of a BuildKit step */
	MC_EV_PUSH,        /* text: push progress or outcome (fleet sharing) */
	MC_EV_WAIT,        /* text: waiting for another host's build of the key (fleet sharing) */
};

struct mc_git_progress;  /* git/git.h */
struct mc_trace_vertex;  /* engine/trace.h */

struct mc_event {
	enum mc_event_kind kind;
	const char *phase; /* "resolve", "fetch", "checkout", "pull", "build", "tag", "push", "wait" */
	int64_t ms;
	char build_kind;
	const char *text;
	const struct mc_git_progress *git;
	const struct mc_trace_vertex *step;
};

typedef void (*mc_event_fn)(void *ud, const struct mc_event *ev);

/* Where events go: fn(ud, ev); fn NULL drops them. */
struct mc_emitter {
	mc_event_fn fn;
	void *ud;
};

/* Sends ev (em may be NULL). */
void mc_emit(const struct mc_emitter *em, const struct mc_event *ev);
/* An event of kind with only a phase (may be NULL) and a text (may be NULL). */
void mc_emit_text(const struct mc_emitter *em, enum mc_event_kind kind, const char *phase, const char *text);
/* MC_EV_WARN, printf-style, without a phase. */
void mc_emit_warn(const struct mc_emitter *em, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* MC_EV_PHASE_BEGIN; returns mc_mono_ms() taken just before, the t0 for the matching end. */
int64_t mc_emit_phase_begin(const struct mc_emitter *em, const char *phase);
/* MC_EV_PHASE_END with ms = mc_mono_ms() - t0. */
void mc_emit_phase_end(const struct mc_emitter *em, const char *phase, int64_t t0);

#endif
