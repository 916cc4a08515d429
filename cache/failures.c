/* failures.c — each build attempt's log, and the memory of a key's failed builds that holds off a rebuild storm. */
#include "ensure.h"
#include "run.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../engine/trace.h"

/* ---- the build's log and events ----------------------------------------- */

void run_build_log_line(void *ud, char kind, const char *data)
{
	struct run_build_log *bl = ud;
	if (kind == 't') {
		mc_trace_feed_b64(bl->trace, data); /* a damaged record is skipped */
		return;
	}
	if (bl->f)
		fprintf(bl->f, "%s%s", data, data[0] && data[strlen(data) - 1] == '\n' ? "" : "\n");
	mc_emit(bl->r->ev, &(struct mc_event){ .kind = MC_EV_BUILD, .phase = "build", .build_kind = kind, .text = data });
}

static void on_step(void *ud, const struct mc_trace_vertex *v, int changed_state)
{
	struct run_build_log *bl = ud;
	if (!changed_state || !v->name[0])
		return;
	if (bl->f && v->state != MC_TRACE_QUEUED && v->state != MC_TRACE_RUNNING)
		fprintf(bl->f, "#%llu %s %s%s%s\n", (unsigned long long)v->seq + 1, v->name,
			mc_trace_state_name(v->state), v->error[0] ? ": " : "", v->error);
	mc_emit(bl->r->ev, &(struct mc_event){ .kind = MC_EV_STEP, .phase = "build", .step = v });
}

static void on_step_log(void *ud, const struct mc_trace_vertex *v, const char *line)
{
	struct run_build_log *bl = ud;
	if (bl->f)
		fprintf(bl->f, "#%llu %s\n", (unsigned long long)v->seq + 1, line);
	mc_emit(bl->r->ev, &(struct mc_event){ .kind = MC_EV_STEP_LOG, .phase = "build", .step = v, .text = line });
}

void run_build_log_open(struct run_build_log *bl, struct run *r, const char *path)
{
	struct mc_trace_cb tcb = { .on_vertex = on_step, .on_log = on_step_log, .ud = bl };

	bl->r = r;
	bl->f = fopen(path, "w");
	bl->trace = mc_trace_new(&tcb);
}

void run_build_log_close(struct run_build_log *bl)
{
	if (bl->f) {
		fclose(bl->f);
		bl->f = NULL;
	}
}

void run_build_log_release(struct run_build_log *bl)
{
	run_build_log_close(bl);
	mc_trace_free(bl->trace);
	bl->trace = NULL;
}

/* The failing step and its last output lines, for the error report. */
void run_build_log_failed(struct run_build_log *bl, struct mc_ensure_result *out)
{
	const struct mc_trace_vertex *v = mc_trace_first_failed(bl->trace);
	if (!v)
		return;
	out->failed_step = mc_strdup(v->name);
	for (size_t i = 0; i < v->nlines; i++)
		mc_strv_push(&out->failed_output, mc_trace_vertex_line(v, i));
}

/* ---- failure memory and per-attempt logs -------------------------------- */

#define LOGS_KEPT 5
#define FAILURE_LINES 10

/* logs/<key>.<n>.log for attempt n (the key's builds so far + 1): each attempt
 * keeps its own log, and only the last LOGS_KEPT attempts' logs stay. */
char *run_attempt_log(struct run *r)
{
	const char *logs = r->ctx->paths.logs;
	int64_t n = 0;

	if (mc_index_build_count(r->ix, r->key, &n))
		mc_error_clear(); /* a log name is no reason to fail a build */
	n++;
	for (int64_t m = n - LOGS_KEPT; m > 0; m--) {
		char *old = mc_asprintf("%s/%s.%lld.log", logs, r->key, (long long)m);
		int gone = unlink(old) != 0 && errno == ENOENT;
		free(old);
		if (gone)
			break; /* older ones went with earlier attempts */
	}
	return mc_asprintf("%s/%s.%lld.log", logs, r->key, (long long)n);
}

/* The wait after the count-th failure in a row: the base, doubled per repeat,
 * up to an hour (or the base, when that is longer). */
static int64_t backoff_ms(int64_t base, int64_t count)
{
	return mc_backoff_ms(base, count, base > MC_FAILURE_BACKOFF_CAP_MS ? base : MC_FAILURE_BACKOFF_CAP_MS);
}

/* After a failed build of the key: count it and save what the next calls
 * report instead of building again. Keeps the caller's error message. */
static void remember_failure(struct run *r, const struct mc_ensure_result *out, const char *msg,
			     const struct mc_buf *tail, const char *log_path, int64_t *next_ms)
{
	struct mc_failure old = { 0 };
	struct mc_buf text = MC_BUF_INIT;
	int64_t now = mc_now_ms();
	int ret;

	*next_ms = 0;
	if (r->ctx->cfg.failure_backoff_ms <= 0)
		return;
	ret = mc_index_failure_get(r->ix, &old, r->key);
	if (ret && ret != MC_ENOTFOUND)
		goto done;
	if (out->failed_output.n) {
		size_t from = out->failed_output.n > FAILURE_LINES ? out->failed_output.n - FAILURE_LINES : 0;
		for (size_t i = from; i < out->failed_output.n; i++)
			mc_buf_addf(&text, "%s%s", i > from ? "\n" : "", out->failed_output.v[i]);
	} else if (tail && tail->len) {
		/* no BuildKit step to name: the engine's last lines */
		const char *s = mc_buf_cstr(tail), *p = s + tail->len;
		for (int lines = 0; p > s && lines <= FAILURE_LINES;)
			if (*--p == '\n' && p + 1 < s + tail->len)
				lines++;
		mc_buf_adds(&text, p == s ? p : p + 1);
		while (text.len && text.ptr[text.len - 1] == '\n')
			text.ptr[--text.len] = 0;
	}
	struct mc_failure f = {
		.key = r->key,
		.count = old.count + 1,
		.last_ms = now,
		.next_ms = now + backoff_ms(r->ctx->cfg.failure_backoff_ms, old.count + 1),
		.step = out->failed_step ? out->failed_step : (char *)msg,
		.output = text.len ? (char *)mc_buf_cstr(&text) : NULL,
		.log_path = (char *)log_path,
	};
	if (!mc_index_failure_put(r->ix, &f))
		*next_ms = f.next_ms;
done:
	mc_error_clear();
	mc_failure_release(&old);
	mc_buf_release(&text);
}

/* Under the exclusive key lock, before building: a key whose last build failed
 * fails at once until its next try, with what that build said (no rebuild
 * storm from a restart loop). 0 to go on, else MC_EBUILD. */
int run_failure_gate(struct run *r, struct mc_ensure_result *out)
{
	struct mc_failure f = { 0 };
	char when[32], last[32];
	int ret = mc_index_failure_get(r->ix, &f, r->key);

	if (ret == MC_ENOTFOUND) {
		ret = 0;
		goto done;
	}
	if (ret || r->opts->retry || r->ctx->cfg.failure_backoff_ms <= 0 || mc_now_ms() >= f.next_ms)
		goto done;
	for (const char *p = f.output; p && *p;) {
		size_t n = strcspn(p, "\n");
		mc_strv_pushn(&out->failed_output, p, n);
		p += n + (p[n] ? 1 : 0);
	}
	out->failed_step = f.step ? mc_strdup(f.step) : NULL;
	out->log_path = f.log_path ? mc_strdup(f.log_path) : NULL;
	mc_index_counter_add(r->ix, "failed_fast", 1);
	mc_format_utc(when, f.next_ms);
	mc_format_utc(last, f.last_ms);
	ret = mc_error_set(MC_EBUILD, "template '%s' at %.12s: the build of key %.12s failed %lld time%s (last at %s)%s%s",
			   r->clean_url, r->sha, r->key, (long long)f.count, f.count == 1 ? "" : "s", last,
			   f.step ? ": " : "", f.step ? f.step : "");
	mc_error_hint("not built again before %s; 'molcache ensure %s --retry' builds now, a new commit builds at once%s%s",
		      when, r->runtime, f.log_path ? "; the build log is at " : "", f.log_path ? f.log_path : "");
done:
	mc_failure_release(&f);
	return ret;
}

/* An interrupted build is on record (show says so) with no backoff: the next
 * ensure builds at once. The count of failures in a row stays (at least 1:
 * 0 reads as no failure on record). */
static void remember_interrupt(struct run *r, const char *msg, const char *log_path)
{
	struct mc_failure old = { 0 };
	int64_t now = mc_now_ms();
	int ret = mc_index_failure_get(r->ix, &old, r->key);

	if (ret && ret != MC_ENOTFOUND)
		goto done;
	struct mc_failure f = { .key = r->key, .count = old.count ? old.count : 1, .last_ms = now, .next_ms = now,
				.step = (char *)msg, .log_path = (char *)log_path };
	mc_index_failure_put(r->ix, &f);
done:
	mc_error_clear();
	mc_failure_release(&old);
}

int run_out_of_space(struct run *r, int code)
{
	char *fs = NULL;

	if (code == MC_EINTR || (code != MC_ENOSPC && !mc_fs_full(r->ctx->paths.root, &fs)))
		return 0;
	if (!fs)
		mc_fs_full(r->ctx->paths.root, &fs);
	mc_error_wrap(MC_ENOSPC, "'%s': no space left on '%s'", r->runtime, fs ? fs : r->ctx->paths.root);
	mc_error_hint("free space, e.g. 'molcache gc --max-size 5G' (docs/operations.md, when the host is in "
		      "trouble); nothing was recorded against the template, so the next ensure builds at once");
	free(fs);
	return 1;
}

void run_build_failed(struct run *r, struct mc_ensure_result *out, int code, int64_t started, const char *log_path,
		      const struct mc_buf *tail)
{
	/* keep the engine's words; the row says failed so the next ensure retries */
	char msg[1024], hint[1024], when[32];
	int64_t next_ms = 0;

	snprintf(msg, sizeof(msg), "%s", mc_error_msg());
	snprintf(hint, sizeof(hint), "%s", mc_error_hint_msg());
	mc_index_set_state(r->ix, r->key, MC_STATE_FAILED);
	mc_index_counter_add(r->ix, code == MC_EINTR ? "interrupted" : "build_failures", 1);
	mc_index_build_record(r->ix, r->key, started, mc_now_ms() - started, 0, log_path);
	if (code == MC_EBUILD)
		remember_failure(r, out, msg, tail, out->log_path, &next_ms);
	else if (code == MC_EINTR)
		remember_interrupt(r, msg, log_path);
	mc_error_set(code, "%s", msg);
	if (next_ms)
		mc_format_utc(when, next_ms);
	if (code == MC_EBUILD && out->log_path && next_ms) {
		/* the log's path ends the line, for scripts */
		mc_error_hint("not built again before %s; 'molcache ensure %s --retry' builds now; "
			      "the build log is at %s", when, r->runtime, out->log_path);
	} else if (code == MC_EBUILD && out->log_path) {
		mc_error_hint("the build log is at %s", out->log_path);
	} else if (next_ms) {
		/* failed before the build began (template content): its own hint, and the backoff */
		mc_error_hint("%s%snot built again before %s; 'molcache ensure %s --retry' tries now", hint,
			      hint[0] ? "; " : "", when, r->runtime);
	} else if (hint[0]) {
		mc_error_hint("%s", hint);
	}
}
