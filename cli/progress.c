/* progress.c — ensure's progress on stderr: live on a terminal, one line per phase otherwise, or JSON. */
#include "progress.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../engine/trace.h"
#include "../git/git.h"
#include "format.h"

void mc_progress_init(struct mc_progress *p, int forced_mode)
{
	memset(p, 0, sizeof(*p));
	p->out = stderr;
	p->mode = forced_mode >= 0 ? (enum mc_progress_mode)forced_mode
				   : isatty(STDERR_FILENO) ? MC_PROGRESS_TTY : MC_PROGRESS_PLAIN;
	const char *nc = getenv("NO_COLOR");
	p->color = p->mode == MC_PROGRESS_TTY && !(nc && *nc) && getenv("TERM") && strcmp(getenv("TERM"), "dumb");
}

static const char *kind_name(enum mc_event_kind k)
{
	switch (k) {
	case MC_EV_PHASE_BEGIN: return "phase_begin";
	case MC_EV_PHASE_END: return "phase_end";
	case MC_EV_FETCH: return "fetch";
	case MC_EV_BUILD: return "build_output";
	case MC_EV_PULL: return "pull";
	case MC_EV_WARN: return "warning";
	case MC_EV_STEP: return "step";
	case MC_EV_STEP_LOG: return "step_output";
	case MC_EV_PUSH: return "push";
	case MC_EV_WAIT: return "wait";
	}
	return "unknown";
}

static void emit_json(struct mc_progress *p, const struct mc_event *ev)
{
	json_t *o = json_object();
	json_object_set_new(o, "ts_ms", json_integer((json_int_t)mc_now_ms()));
	json_object_set_new(o, "level", json_string(ev->kind == MC_EV_WARN ? "warning" : "info"));
	json_object_set_new(o, "event", json_string(kind_name(ev->kind)));
	if (ev->phase)
		json_object_set_new(o, "phase", mc_json_str(ev->phase));
	if (ev->kind == MC_EV_PHASE_END)
		json_object_set_new(o, "ms", json_integer(ev->ms));
	if (ev->text)
		json_object_set_new(o, "text", mc_json_str(ev->text));
	if (ev->git) {
		json_object_set_new(o, "objects", json_integer(ev->git->received_objects));
		json_object_set_new(o, "total_objects", json_integer(ev->git->total_objects));
		json_object_set_new(o, "bytes", json_integer((json_int_t)ev->git->received_bytes));
	}
	if (ev->step) {
		json_object_set_new(o, "step", mc_json_str(ev->step->name));
		json_object_set_new(o, "state", json_string(mc_trace_state_name(ev->step->state)));
		if (ev->step->error[0])
			json_object_set_new(o, "error", mc_json_str(ev->step->error));
	}
	char *s = json_dumps(o, JSON_COMPACT | JSON_ENSURE_ASCII);
	if (s) {
		fprintf(p->out, "%s\n", s);
		fflush(p->out); /* a stream: a reader (or a signal) sees each event as it happens */
	}
	free(s);
	json_decref(o);
}

static void end_fetch_line(struct mc_progress *p)
{
	if (p->fetch_line_open) {
		fputc('\n', p->out);
		p->fetch_line_open = 0;
	}
}

static const char *paint(const struct mc_progress *p, const char *code) { return p->color ? code : ""; }

static void tty_step(struct mc_progress *p, const struct mc_trace_vertex *v)
{
	double secs = v->completed_ns && v->started_ns ? (double)(v->completed_ns - v->started_ns) / 1e9 : 0;
	switch (v->state) {
	case MC_TRACE_RUNNING:
		fprintf(p->out, "%s=> %s%s\n", paint(p, "\033[34m"), v->name, paint(p, "\033[0m"));
		break;
	case MC_TRACE_CACHED:
		fprintf(p->out, "=> %s %sCACHED%s\n", v->name, paint(p, "\033[36m"), paint(p, "\033[0m"));
		break;
	case MC_TRACE_DONE:
		fprintf(p->out, "=> %s %sDONE %.1fs%s\n", v->name, paint(p, "\033[32m"), secs, paint(p, "\033[0m"));
		break;
	case MC_TRACE_FAILED:
		fprintf(p->out, "=> %s %sERROR%s: %s\n", v->name, paint(p, "\033[31m"), paint(p, "\033[0m"), v->error);
		break;
	default:
		break;
	}
}

void mc_progress_event(void *ud, const struct mc_event *ev)
{
	struct mc_progress *p = ud;

	if (ev->kind == MC_EV_WARN) {
		end_fetch_line(p);
		if (p->mode == MC_PROGRESS_JSON)
			emit_json(p, ev);
		else
			fprintf(p->out, "molcache: warning: %s\n", ev->text);
		return;
	}
	switch (p->mode) {
	case MC_PROGRESS_QUIET:
		return;
	case MC_PROGRESS_JSON:
		if (ev->kind == MC_EV_PHASE_BEGIN) {
			p->fetch_done_sent = 0;
			if (p->n_open < 8) {
				p->open_phase[p->n_open] = ev->phase;
				p->open_t0[p->n_open++] = mc_mono_ms();
			}
		}
		if (ev->kind == MC_EV_PHASE_END)
			for (int i = p->n_open; i-- > 0;)
				if (!strcmp(p->open_phase[i], ev->phase)) {
					p->open_phase[i] = p->open_phase[--p->n_open];
					p->open_t0[i] = p->open_t0[p->n_open];
					break;
				}
		if (ev->kind == MC_EV_FETCH) {
			if (p->fetch_done_sent || ev->git->received_objects != ev->git->total_objects)
				return;
			p->fetch_done_sent = 1;
		}
		emit_json(p, ev);
		return;
	case MC_PROGRESS_PLAIN:
		if (ev->kind == MC_EV_PHASE_END)
			fprintf(p->out, "molcache: %-8s %6lld ms\n", ev->phase, (long long)ev->ms);
		else if (ev->kind == MC_EV_PULL)
			fprintf(p->out, "molcache: pulling %s\n", ev->text);
		else if (ev->kind == MC_EV_PUSH)
			fprintf(p->out, "molcache: push: %s\n", ev->text);
		else if (ev->kind == MC_EV_WAIT)
			fprintf(p->out, "molcache: %s\n", ev->text);
		return;
	case MC_PROGRESS_TTY:
		break;
	}
	switch (ev->kind) {
	case MC_EV_FETCH:
		fprintf(p->out, "\rfetch: %u/%u objects, %.1f MiB", ev->git->received_objects, ev->git->total_objects,
			(double)ev->git->received_bytes / (1 << 20));
		p->fetch_line_open = 1;
		break;
	case MC_EV_PHASE_END:
		end_fetch_line(p);
		fprintf(p->out, "%s%-8s %lld ms%s\n", paint(p, "\033[2m"), ev->phase, (long long)ev->ms,
			paint(p, "\033[0m"));
		break;
	case MC_EV_PULL:
		fprintf(p->out, "pulling %s\n", ev->text);
		break;
	case MC_EV_PUSH:
		fprintf(p->out, "push: %s\n", ev->text);
		break;
	case MC_EV_WAIT:
		fprintf(p->out, "%s\n", ev->text);
		break;
	case MC_EV_STEP:
		tty_step(p, ev->step);
		break;
	case MC_EV_STEP_LOG:
		fprintf(p->out, "%s   | %s%s\n", paint(p, "\033[2m"), ev->text, paint(p, "\033[0m"));
		break;
	case MC_EV_BUILD: {
		size_t n = strlen(ev->text);
		while (n && ev->text[n - 1] == '\n')
			n--;
		if (n)
			fprintf(p->out, "   | %.*s\n", (int)n, ev->text);
		break;
	}
	default:
		break;
	}
}

void mc_progress_fail(struct mc_progress *p, const struct mc_ensure_result *res, int exit_code, const char *msg,
		      const char *hint)
{
	json_t *o = json_pack("{s:I,s:s,s:s,s:i,s:s}", "ts_ms", (json_int_t)mc_now_ms(), "level", "error", "event",
			      "error", "exit_code", exit_code, "message", msg);
	json_t *lines = json_array();
	char *s;

	/* the phase that failed ends too: each begin has its end */
	while (p->n_open > 0) {
		int i = --p->n_open;
		json_t *e = json_pack("{s:I,s:s,s:s,s:s,s:I,s:b}", "ts_ms", (json_int_t)mc_now_ms(), "level", "error",
				      "event", "phase_end", "phase", p->open_phase[i], "ms",
				      (json_int_t)(mc_mono_ms() - p->open_t0[i]), "ok", 0);
		s = e ? json_dumps(e, JSON_COMPACT) : NULL;
		if (s)
			fprintf(p->out, "%s\n", s);
		free(s);
		json_decref(e);
	}
	if (hint && *hint)
		json_object_set_new(o, "hint", mc_json_str(hint));
	if (res->failed_step)
		json_object_set_new(o, "failed_step", mc_json_str(res->failed_step));
	for (size_t i = 0; i < res->failed_output.n; i++)
		json_array_append_new(lines, mc_json_str(res->failed_output.v[i]));
	if (res->failed_output.n)
		json_object_set(o, "failed_output", lines);
	if (res->log_path)
		json_object_set_new(o, "log", mc_json_str(res->log_path));
	s = json_dumps(o, JSON_COMPACT | JSON_ENSURE_ASCII);
	if (s)
		fprintf(p->out, "%s\n", s);
	free(s);
	json_decref(o);
	json_decref(lines);
	o = json_pack("{s:I,s:s,s:s,s:b,s:i}", "ts_ms", (json_int_t)mc_now_ms(), "level", "error", "event", "result",
		      "ok", 0, "exit_code", exit_code);
	s = json_dumps(o, JSON_COMPACT);
	if (s)
		fprintf(p->out, "%s\n", s);
	free(s);
	json_decref(o);
}

void mc_progress_result(struct mc_progress *p, const struct mc_ensure_result *res, int err)
{
	end_fetch_line(p);
	if (err) {
		if (res->failed_step) {
			fprintf(p->out, "molcache: failed step: %s\n", res->failed_step);
			if (res->failed_output.n)
				fprintf(p->out, "molcache: its last %zu output lines:\n", res->failed_output.n);
			for (size_t i = 0; i < res->failed_output.n; i++)
				fprintf(p->out, "  | %s\n", res->failed_output.v[i]);
		}
		return;
	}
	if (p->mode == MC_PROGRESS_QUIET)
		return;
	if (p->mode == MC_PROGRESS_JSON) {
		json_t *o = json_pack("{s:I,s:s,s:s,s:b,s:s,s:s,s:s,s:b}", "ts_ms", (json_int_t)mc_now_ms(), "level",
				      "info", "event", "result", "ok", 1, "tag", res->tag, "key", res->key, "commit",
				      res->commit ? res->commit : "", "built", res->built);
		char *s = o ? json_dumps(o, JSON_COMPACT) : NULL;
		if (s)
			fprintf(p->out, "%s\n", s);
		free(s);
		json_decref(o);
		return;
	}
	fprintf(p->out, "molcache: %s %s (commit %.12s, key %.12s)\n", res->built ? "built" : "hit", res->tag,
		res->commit ? res->commit : "", res->key);
}
