/*
 * trace.h — BuildKit build progress: a small protobuf reader for the
 * moby.buildkit.trace records of POST /build?version=2 (the "aux" field of a
 * JSON line is base64 of a moby.buildkit.v1.StatusResponse) and a progress
 * model that merges them into per-step state for a front end. Pure: no I/O,
 * never prints. Hand-written because no packaged library fits (see DESIGN.md);
 * base64 is util's (mc_base64_decode, OpenSSL underneath).
 *
 * Call sequence for a front end:
 *
 *	struct mc_trace_cb cb = { .on_vertex = show_step, .on_log = show_line, .ud = tty };
 *	struct mc_trace *t = mc_trace_new(&cb);
 *	… in the mc_build_progress_fn of mc_engine_build():
 *	if (kind == 't') mc_trace_feed_b64(t, data);   (a bad record is skipped, the model unchanged)
 *	… when the build failed:
 *	const struct mc_trace_vertex *v = mc_trace_first_failed(t);
 *	v->name, v->error, mc_trace_vertex_line(v, 0 … v->nlines - 1)
 *	mc_trace_free(t);
 *
 * Memory stays bounded whatever the engine sends: at most MC_TRACE_MAX_VERTEXES
 * vertexes (the oldest finished ones are dropped first), MC_TRACE_LOG_LINES
 * lines of at most MC_TRACE_LINE_MAX bytes each per vertex, MC_TRACE_LOG_BUDGET
 * bytes of log lines in all (the rings of the oldest finished vertexes are
 * emptied first), and capped lengths for names, errors and digests.
 */
#ifndef MC_TRACE_H
#define MC_TRACE_H

#include <stddef.h>
#include <stdint.h>
#include "../util/mc_util.h"

/* ---- The wire reader ------------------------------------------------------ */

/* A cursor over one protobuf message: [p, end). */
struct mc_pb {
	const uint8_t *p, *end;
};

enum { MC_PB_VARINT = 0, MC_PB_I64 = 1, MC_PB_LEN = 2, MC_PB_I32 = 5 };

/* One field as read from the wire. */
struct mc_pb_field {
	uint32_t num;        /* field number, 1 … 2^29-1 */
	int type;            /* MC_PB_VARINT, MC_PB_I64, MC_PB_LEN or MC_PB_I32 */
	uint64_t v;          /* the value of a varint, fixed64 or fixed32 field */
	const uint8_t *data; /* MC_PB_LEN: the bytes, inside the reader's buffer */
	size_t len;
};

/*
 * Reads one base-128 varint into out. MC_EINVAL (message set) when it is
 * truncated or longer than 10 bytes or overflows 64 bits; r is then unchanged.
 */
int mc_pb_varint(uint64_t *out, struct mc_pb *r);

/*
 * Reads the next field. Returns 1 with the field in out, 0 at the end of the
 * message, MC_EINVAL (message set) for a malformed one: a bad tag (field 0,
 * number ≥ 2^29), a group (types 3/4) or a reserved type (6/7), a fixed or
 * length-delimited value that runs past the end. Never reads outside [p, end).
 */
int mc_pb_next(struct mc_pb_field *out, struct mc_pb *r);

/* ---- Decoding StatusResponse ---------------------------------------------- */

/* Bytes inside the decoded buffer: not NUL-terminated, ptr is NULL when len is 0. */
struct mc_pb_bytes {
	const char *ptr;
	size_t len;
};

/* google.protobuf.Timestamp; set is 1 when the field was present. */
struct mc_trace_ts {
	int set;
	int64_t seconds;
	int32_t nanos;
};

/* Nanoseconds since the epoch, saturating at INT64_MIN/INT64_MAX; 0 when !ts->set. */
int64_t mc_trace_ts_ns(const struct mc_trace_ts *ts);

struct mc_trace_rec_vertex {
	struct mc_pb_bytes digest, name, error;
	size_t ninputs;
	int cached;
	struct mc_trace_ts started, completed;
};

struct mc_trace_rec_status {
	struct mc_pb_bytes id, vertex, name;
	int64_t current, total;
	struct mc_trace_ts timestamp, started, completed;
};

struct mc_trace_rec_log {
	struct mc_pb_bytes vertex, msg;
	struct mc_trace_ts timestamp;
	int64_t stream; /* 1 stdout, 2 stderr */
};

struct mc_trace_rec_warning {
	struct mc_pb_bytes vertex, short_msg;
	int64_t level;
};

/* Called once per repeated entry, in wire order; any may be NULL. A non-zero
 * return stops the decoding and is returned by mc_trace_decode(). */
struct mc_trace_visitor {
	int (*vertex)(void *ud, const struct mc_trace_rec_vertex *r);
	int (*status)(void *ud, const struct mc_trace_rec_status *r);
	int (*log)(void *ud, const struct mc_trace_rec_log *r);
	int (*warning)(void *ud, const struct mc_trace_rec_warning *r);
};

/*
 * Decodes one StatusResponse from buf and calls vis for each entry (vis may be
 * NULL to only validate). Unknown fields are skipped, and so is a known field
 * sent with another wire type than the schema's (schema drift, not damage).
 * MC_EINVAL (message set) when the record is malformed at any depth; entries
 * before the damage have been visited by then, so validate first (vis = NULL)
 * when that matters.
 */
int mc_trace_decode(const uint8_t *buf, size_t len, const struct mc_trace_visitor *vis, void *ud);

/*
 * mc_base64_decode() of the NUL-terminated b64 (NULL reads as ""): standard
 * base64 (RFC 4648, with or without '=' padding, surrounding whitespace
 * ignored) into out (reset first; NUL-terminated, may hold NULs). MC_EINVAL
 * for anything else, its message under "trace record: ".
 */
int mc_trace_b64_decode(struct mc_buf *out, const char *b64);

/* ---- The progress model --------------------------------------------------- */

#define MC_TRACE_MAX_VERTEXES 4096
#define MC_TRACE_LOG_LINES 20
#define MC_TRACE_LINE_MAX 1024          /* bytes per line, longer ones are cut */
#define MC_TRACE_LOG_BUDGET (4u << 20) /* bytes of log lines over all vertexes */
#define MC_TRACE_TEXT_MAX 4096          /* name, error; digests are cut at 256 */

enum mc_trace_state {
	MC_TRACE_QUEUED,  /* known, not started */
	MC_TRACE_RUNNING, /* started, not completed */
	MC_TRACE_CACHED,  /* a cache hit */
	MC_TRACE_DONE,    /* completed without error */
	MC_TRACE_FAILED,  /* completed with an error */
};

/* "queued", "running", "cached", "done", "failed". */
const char *mc_trace_state_name(enum mc_trace_state s);

/*
 * One build step (a BuildKit vertex), owned by the trace. A pointer stays valid
 * until the next feed or mc_trace_free(). Read the public fields; never write.
 * Strings are NUL-terminated; but for the digest (the engine's bytes, up to a
 * NUL, for lookups), control characters other than tab are shown as '?' so
 * that a front end can print them to a terminal as they are.
 */
struct mc_trace_vertex {
	const char *digest;     /* "sha256:…" */
	const char *name;       /* "[2/3] RUN make", "" until known */
	const char *error;      /* "" unless state is MC_TRACE_FAILED */
	enum mc_trace_state state;
	int cached;
	int64_t started_ns;     /* ns since the epoch, 0 when not known */
	int64_t completed_ns;
	uint64_t seq;           /* 0, 1, … in the order vertexes were first seen */
	/* The latest VertexStatus: its name, else its ID ("exporting layers",
	 * "extracting sha256:…"), with current of total (units, often bytes). */
	const char *status;     /* "" when none */
	int64_t current, total;
	size_t nwarnings;
	size_t nlines;          /* lines kept, ≤ MC_TRACE_LOG_LINES: see mc_trace_vertex_line() */
	uint64_t lines_seen;    /* every line ever completed, kept or not */
	/* The trace allocates this inside a larger private record. */
};

/*
 * The front end's hooks, each may be NULL, all called from inside a feed.
 * on_vertex: after a vertex record or a status changed v; changed_state is 1
 * when v->state differs from before (a new vertex counts as a change).
 * on_log: for each completed output line of v (split on '\n', a trailing '\r'
 * dropped, text before a lone '\r' discarded as a progress-bar overwrite; a
 * partial line is held until its '\n' or until v finishes).
 * on_warning: a VertexWarning for v, its short text.
 */
struct mc_trace_cb {
	void (*on_vertex)(void *ud, const struct mc_trace_vertex *v, int changed_state);
	void (*on_log)(void *ud, const struct mc_trace_vertex *v, const char *line);
	void (*on_warning)(void *ud, const struct mc_trace_vertex *v, int64_t level, const char *msg);
	void *ud;
};

struct mc_trace;

/* A new, empty model; cb is copied and may be NULL. Never fails (allocation aborts). */
struct mc_trace *mc_trace_new(const struct mc_trace_cb *cb);
void mc_trace_free(struct mc_trace *t);

/*
 * Merges one StatusResponse. Vertexes merge by digest, the newest record
 * winning (an empty name keeps the known one); a log, status or warning for an
 * unknown digest creates a queued vertex. MC_EINVAL (message set) for a
 * malformed record, which changes nothing and calls no hook.
 */
int mc_trace_feed(struct mc_trace *t, const uint8_t *buf, size_t len);
/* mc_trace_feed() on the base64 "aux" string of a moby.buildkit.trace line. */
int mc_trace_feed_b64(struct mc_trace *t, const char *b64);

/* The number of vertexes kept, and the i-th in first-seen order (NULL past the end). */
size_t mc_trace_count(const struct mc_trace *t);
const struct mc_trace_vertex *mc_trace_at(const struct mc_trace *t, size_t i);
/* The vertex with this digest, NULL when unknown. */
const struct mc_trace_vertex *mc_trace_find(const struct mc_trace *t, const char *digest);
/*
 * The step that broke the build: the first vertex to fail whose error is not
 * a cancellation ("context canceled", the fate of its siblings), else the
 * first to fail; NULL when none failed.
 */
const struct mc_trace_vertex *mc_trace_first_failed(const struct mc_trace *t);
/* The i-th kept log line of v, oldest first (i < v->nlines), else NULL. A
 * partial line is not among them until v finishes. */
const char *mc_trace_vertex_line(const struct mc_trace_vertex *v, size_t i);

#endif
