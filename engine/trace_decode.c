/* trace_decode.c — the protobuf wire reader and the StatusResponse decoder for BuildKit's trace records (and their base64). */
#include "trace.h"

#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* ---- The wire reader ------------------------------------------------------ */

int mc_pb_varint(uint64_t *out, struct mc_pb *r)
{
	uint64_t v = 0;
	const uint8_t *p = r->p;
	int i;

	for (i = 0; i < 10; i++) {
		if (p >= r->end)
			return mc_error_set(MC_EINVAL, "protobuf: truncated varint");
		uint8_t c = *p++;
		/* The 10th byte holds bit 63 only. */
		if (i == 9 && c > 1)
			return mc_error_set(MC_EINVAL, "protobuf: varint overflows 64 bits");
		v |= (uint64_t)(c & 0x7f) << (7 * i);
		if (!(c & 0x80)) {
			*out = v;
			r->p = p;
			return 0;
		}
	}
	return mc_error_set(MC_EINVAL, "protobuf: varint longer than 10 bytes");
}

static uint64_t load_le(const uint8_t *p, int n)
{
	uint64_t v = 0;

	for (int i = n - 1; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

int mc_pb_next(struct mc_pb_field *out, struct mc_pb *r)
{
	struct mc_pb c = *r;
	uint64_t tag = 0, len = 0;
	size_t left;

	if (c.p >= c.end)
		return 0;
	if (mc_pb_varint(&tag, &c))
		return MC_EINVAL;
	if ((tag >> 3) == 0 || (tag >> 3) >= (1u << 29))
		return mc_error_set(MC_EINVAL, "protobuf: bad field number %llu",
				    (unsigned long long)(tag >> 3));
	memset(out, 0, sizeof(*out));
	out->num = (uint32_t)(tag >> 3);
	out->type = (int)(tag & 7);
	switch (out->type) {
	case MC_PB_VARINT:
		if (mc_pb_varint(&out->v, &c))
			return MC_EINVAL;
		break;
	case MC_PB_I64:
	case MC_PB_I32:
		len = out->type == MC_PB_I64 ? 8 : 4;
		if ((size_t)(c.end - c.p) < len)
			return mc_error_set(MC_EINVAL, "protobuf: field %u: fixed value past the end",
					    out->num);
		out->v = load_le(c.p, (int)len);
		c.p += len;
		break;
	case MC_PB_LEN:
		if (mc_pb_varint(&len, &c))
			return MC_EINVAL;
		left = (size_t)(c.end - c.p);
		if (len > left)
			return mc_error_set(MC_EINVAL,
					    "protobuf: field %u: length %llu past the end (%zu left)",
					    out->num, (unsigned long long)len, left);
		out->data = c.p;
		out->len = (size_t)len;
		c.p += len;
		break;
	default:
		return mc_error_set(MC_EINVAL, "protobuf: field %u: unsupported wire type %d",
				    out->num, out->type);
	}
	*r = c;
	return 1;
}

/* ---- Decoding StatusResponse ---------------------------------------------- */

/* Two's complement without implementation-defined conversions. */
static int64_t as_i64(uint64_t v)
{
	int64_t r;

	memcpy(&r, &v, sizeof(r));
	return r;
}

static int32_t as_i32(uint64_t v)
{
	uint32_t u = (uint32_t)v;
	int32_t r;

	memcpy(&r, &u, sizeof(r));
	return r;
}

int64_t mc_trace_ts_ns(const struct mc_trace_ts *ts)
{
	const int64_t g = 1000000000;
	int64_t s, n;

	if (!ts || !ts->set)
		return 0;
	s = ts->seconds;
	n = ts->nanos;
	if (s > INT64_MAX / g)
		return INT64_MAX;
	if (s < INT64_MIN / g)
		return INT64_MIN;
	s *= g;
	if (n > 0 && s > INT64_MAX - n)
		return INT64_MAX;
	if (n < 0 && s < INT64_MIN - n)
		return INT64_MIN;
	return s + n;
}

static struct mc_pb_bytes bytes_of(const struct mc_pb_field *f)
{
	struct mc_pb_bytes b = { f->len ? (const char *)f->data : NULL, f->len };
	return b;
}

/* What a known field becomes in its record; the kind fixes the wire type. */
enum fkind {
	F_BYTES, /* LEN → struct mc_pb_bytes, the last one wins */
	F_COUNT, /* LEN → size_t, counted (a repeated field only counted) */
	F_TS,    /* LEN → struct mc_trace_ts, merged into what came before */
	F_BOOL,  /* VARINT → int, 0 or 1 */
	F_I64,   /* VARINT → int64_t */
	F_I32,   /* VARINT → int32_t */
};

struct field {
	uint32_t num;
	enum fkind kind;
	size_t off;
};

#define NFIELDS(tab) (sizeof(tab) / sizeof((tab)[0]))
#define F(num, kind, type, member) { num, kind, offsetof(struct type, member) }

/* google.protobuf.Timestamp */
static const struct field ts_fields[] = {
	F(1, F_I64, mc_trace_ts, seconds),
	F(2, F_I32, mc_trace_ts, nanos),
};

/* moby.buildkit.v1.Vertex */
static const struct field vertex_fields[] = {
	F(1, F_BYTES, mc_trace_rec_vertex, digest),
	F(2, F_COUNT, mc_trace_rec_vertex, ninputs),
	F(3, F_BYTES, mc_trace_rec_vertex, name),
	F(4, F_BOOL, mc_trace_rec_vertex, cached),
	F(5, F_TS, mc_trace_rec_vertex, started),
	F(6, F_TS, mc_trace_rec_vertex, completed),
	F(7, F_BYTES, mc_trace_rec_vertex, error),
};

/* VertexStatus */
static const struct field status_fields[] = {
	F(1, F_BYTES, mc_trace_rec_status, id),
	F(2, F_BYTES, mc_trace_rec_status, vertex),
	F(3, F_BYTES, mc_trace_rec_status, name),
	F(4, F_I64, mc_trace_rec_status, current),
	F(5, F_I64, mc_trace_rec_status, total),
	F(6, F_TS, mc_trace_rec_status, timestamp),
	F(7, F_TS, mc_trace_rec_status, started),
	F(8, F_TS, mc_trace_rec_status, completed),
};

/* VertexLog */
static const struct field log_fields[] = {
	F(1, F_BYTES, mc_trace_rec_log, vertex),
	F(2, F_TS, mc_trace_rec_log, timestamp),
	F(3, F_I64, mc_trace_rec_log, stream),
	F(4, F_BYTES, mc_trace_rec_log, msg),
};

/* VertexWarning (level, short; detail, url, source info and range skipped) */
static const struct field warning_fields[] = {
	F(1, F_BYTES, mc_trace_rec_warning, vertex),
	F(2, F_I64, mc_trace_rec_warning, level),
	F(3, F_BYTES, mc_trace_rec_warning, short_msg),
};

#undef F

/* StatusResponse: field number → the record of its repeated entries. */
static const struct {
	const struct field *fields;
	size_t n;
} records[] = {
	[1] = { vertex_fields, NFIELDS(vertex_fields) },
	[2] = { status_fields, NFIELDS(status_fields) },
	[3] = { log_fields, NFIELDS(log_fields) },
	[4] = { warning_fields, NFIELDS(warning_fields) },
};

union rec {
	struct mc_trace_rec_vertex vertex;
	struct mc_trace_rec_status status;
	struct mc_trace_rec_log log;
	struct mc_trace_rec_warning warning;
};

/*
 * Decodes the message data[0..len) into rec by its field table. rec is not
 * cleared first: a repeated singular message (a timestamp) merges into what
 * came before, as protobuf says. Unknown fields are skipped, and so is a known
 * one sent with another wire type than the schema's (drift, not damage).
 */
static int dec_fields(void *rec, const struct field *tab, size_t n, const uint8_t *data, size_t len)
{
	struct mc_pb r = { data, data + len };
	struct mc_pb_field g;
	int rc;

	while ((rc = mc_pb_next(&g, &r)) == 1) {
		const struct field *d = NULL;
		void *p;

		for (size_t i = 0; i < n && !d; i++)
			if (tab[i].num == g.num)
				d = &tab[i];
		if (!d || g.type != (d->kind <= F_TS ? MC_PB_LEN : MC_PB_VARINT))
			continue;
		p = (char *)rec + d->off;
		switch (d->kind) {
		case F_BYTES: *(struct mc_pb_bytes *)p = bytes_of(&g); break;
		case F_COUNT: (*(size_t *)p)++; break;
		case F_TS:
			((struct mc_trace_ts *)p)->set = 1;
			rc = dec_fields(p, ts_fields, NFIELDS(ts_fields), g.data, g.len);
			break;
		case F_BOOL: *(int *)p = g.v != 0; break;
		case F_I64: *(int64_t *)p = as_i64(g.v); break;
		case F_I32: *(int32_t *)p = as_i32(g.v); break;
		}
		if (rc < 0)
			break;
	}
	return rc;
}

static int visit(const struct mc_trace_visitor *vis, void *ud, uint32_t num, const union rec *r)
{
	switch (num) {
	case 1: return vis->vertex ? vis->vertex(ud, &r->vertex) : 0;
	case 2: return vis->status ? vis->status(ud, &r->status) : 0;
	case 3: return vis->log ? vis->log(ud, &r->log) : 0;
	default: return vis->warning ? vis->warning(ud, &r->warning) : 0;
	}
}

int mc_trace_decode(const uint8_t *buf, size_t len, const struct mc_trace_visitor *vis, void *ud)
{
	static const struct mc_trace_visitor none;
	struct mc_pb r = { buf, buf ? buf + len : buf };
	struct mc_pb_field f;
	union rec rec;
	int rc;

	if (!vis)
		vis = &none;
	while ((rc = mc_pb_next(&f, &r)) == 1) {
		if (f.type != MC_PB_LEN || f.num >= NFIELDS(records) || !records[f.num].fields)
			continue;
		memset(&rec, 0, sizeof(rec));
		rc = dec_fields(&rec, records[f.num].fields, records[f.num].n, f.data, f.len);
		if (!rc)
			rc = visit(vis, ud, f.num, &rec);
		if (rc)
			break;
	}
	return rc;
}

int mc_trace_b64_decode(struct mc_buf *out, const char *b64)
{
	int ret = mc_base64_decode(out, b64, b64 ? strlen(b64) : 0);

	return ret ? mc_error_wrap(ret, "trace record") : 0;
}
