/* fuzz_trace.c — fuzzes the BuildKit trace reader and progress model: the input as one record, as a
 * sequence of records ("<u16 big-endian length><record>…", every third one through base64), and as base64 text. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "engine/trace.h"

static void check_text(const char *s, size_t max)
{
	size_t n;

	if (!s)
		abort();
	n = strlen(s);
	if (n > max)
		abort();
	for (size_t i = 0; i < n; i++)
		if (((unsigned char)s[i] < 0x20 && s[i] != '\t') || s[i] == 0x7f)
			abort();
}

static void on_vertex(void *ud, const struct mc_trace_vertex *v, int changed_state)
{
	if (!v || (changed_state != 0 && changed_state != 1))
		abort();
	check_text(v->name, MC_TRACE_TEXT_MAX);
}

static void on_log(void *ud, const struct mc_trace_vertex *v, const char *line)
{
	check_text(line, MC_TRACE_LINE_MAX);
	(*(size_t *)ud)++;
}

static void on_warning(void *ud, const struct mc_trace_vertex *v, int64_t level, const char *msg)
{
	check_text(msg, MC_TRACE_TEXT_MAX);
}

/* Whatever was fed, the model keeps its promises. */
static void check_model(const struct mc_trace *t)
{
	size_t n = mc_trace_count(t);
	const struct mc_trace_vertex *ff = mc_trace_first_failed(t);

	if (n > MC_TRACE_MAX_VERTEXES)
		abort();
	for (size_t i = 0; i < n; i++) {
		const struct mc_trace_vertex *v = mc_trace_at(t, i);
		if (!v || mc_trace_find(t, v->digest) != v)
			abort();
		if (i && v->seq <= mc_trace_at(t, i - 1)->seq)
			abort();
		check_text(v->name, MC_TRACE_TEXT_MAX);
		check_text(v->error, MC_TRACE_TEXT_MAX);
		check_text(v->status, MC_TRACE_TEXT_MAX);
		if ((v->state == MC_TRACE_FAILED) != (*v->error != 0))
			abort();
		if (v->nlines > MC_TRACE_LOG_LINES || v->nlines > v->lines_seen)
			abort();
		for (size_t k = 0; k < v->nlines; k++)
			check_text(mc_trace_vertex_line(v, k), MC_TRACE_LINE_MAX);
		if (mc_trace_vertex_line(v, v->nlines))
			abort();
	}
	if (ff && ff->state != MC_TRACE_FAILED)
		abort();
	if (mc_trace_at(t, n))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t lines = 0;
	struct mc_trace_cb cb = { on_vertex, on_log, on_warning, &lines };
	struct mc_trace *t = mc_trace_new(&cb);
	char *text, *enc;
	int rc, rc2;

	/* The input as one record, directly and through base64: the same answer. */
	rc = mc_trace_feed(t, data, size);
	if (rc != 0 && rc != MC_EINVAL)
		abort();
	if (rc == MC_EINVAL && mc_trace_count(t))
		abort();
	check_model(t);
	mc_trace_free(t);
	t = mc_trace_new(&cb);
	enc = mc_base64_encode(data, size, 0);
	rc2 = mc_trace_feed_b64(t, enc);
	free(enc);
	if (rc2 != rc)
		abort();
	check_model(t);
	mc_trace_free(t);

	/* A build's worth of records. */
	t = mc_trace_new(&cb);
	for (size_t i = 0, k = 0; i + 2 <= size; k++) {
		size_t n = (size_t)data[i] << 8 | data[i + 1];
		i += 2;
		if (n > size - i)
			n = size - i;
		if (k % 3 == 2) {
			enc = mc_base64_encode(data + i, n, 0);
			rc = mc_trace_feed_b64(t, enc);
			free(enc);
		} else {
			rc = mc_trace_feed(t, data + i, n);
		}
		if (rc != 0 && rc != MC_EINVAL)
			abort();
		i += n;
	}
	check_model(t);
	mc_trace_free(t);

	/* The input as base64 text (an "aux" string from a hostile engine). */
	t = mc_trace_new(&cb);
	text = mc_strndup((const char *)data, size);
	rc = mc_trace_feed_b64(t, text);
	if (rc != 0 && rc != MC_EINVAL)
		abort();
	check_model(t);
	free(text);
	mc_trace_free(t);
	return 0;
}
