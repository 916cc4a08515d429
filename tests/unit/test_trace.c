/* test_trace.c — the protobuf reader on hand-built wire bytes, and the progress model on records captured from a real BuildKit. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "engine/trace.h"
#include "t.h"

/* ---- A tiny encoder for building test records ------------------------------ */

static void put_varint(struct mc_buf *b, uint64_t v)
{
	uint8_t c;

	do {
		c = (uint8_t)(v & 0x7f);
		v >>= 7;
		if (v)
			c |= 0x80;
		mc_buf_add(b, &c, 1);
	} while (v);
}

static void put_tag(struct mc_buf *b, uint32_t num, int type) { put_varint(b, (uint64_t)num << 3 | (unsigned)type); }

static void put_uint(struct mc_buf *b, uint32_t num, uint64_t v)
{
	put_tag(b, num, MC_PB_VARINT);
	put_varint(b, v);
}

static void put_bytes(struct mc_buf *b, uint32_t num, const void *p, size_t n)
{
	put_tag(b, num, MC_PB_LEN);
	put_varint(b, n);
	mc_buf_add(b, p, n);
}

static void put_str(struct mc_buf *b, uint32_t num, const char *s) { put_bytes(b, num, s, strlen(s)); }

/* Appends msg as a length-delimited field and empties msg. */
static void put_msg(struct mc_buf *b, uint32_t num, struct mc_buf *msg)
{
	put_bytes(b, num, msg->ptr ? msg->ptr : "", msg->len);
	mc_buf_reset(msg);
}

static void put_ts(struct mc_buf *b, uint32_t num, int64_t sec, int32_t nanos)
{
	struct mc_buf m = MC_BUF_INIT;

	put_uint(&m, 1, (uint64_t)sec);
	put_uint(&m, 2, (uint64_t)(int64_t)nanos);
	put_msg(b, num, &m);
	mc_buf_release(&m);
}

/* One StatusResponse holding one Vertex. started/completed: seconds, 0 = absent. */
static void rec_vertex(struct mc_buf *out, const char *digest, const char *name, int cached,
		       int64_t started, int64_t completed, const char *error)
{
	struct mc_buf v = MC_BUF_INIT;

	mc_buf_reset(out);
	put_str(&v, 1, digest);
	if (name)
		put_str(&v, 3, name);
	if (cached)
		put_uint(&v, 4, 1);
	if (started)
		put_ts(&v, 5, started, 0);
	if (completed)
		put_ts(&v, 6, completed, 0);
	if (error)
		put_str(&v, 7, error);
	put_msg(out, 1, &v);
	mc_buf_release(&v);
}

static void rec_log(struct mc_buf *out, const char *digest, int stream, const char *msg, size_t n)
{
	struct mc_buf l = MC_BUF_INIT;

	mc_buf_reset(out);
	put_str(&l, 1, digest);
	put_uint(&l, 3, (uint64_t)stream);
	put_bytes(&l, 4, msg, n);
	put_msg(out, 3, &l);
	mc_buf_release(&l);
}

static int feed(struct mc_trace *t, const struct mc_buf *b)
{
	return mc_trace_feed(t, (const uint8_t *)b->ptr, b->len);
}

/* ---- The wire reader ------------------------------------------------------ */

static void test_varint(void)
{
	static const struct {
		const char *what;
		const char *in;
		size_t len;
		int rc;
		uint64_t v;
		size_t used;
	} cases[] = {
		{ "zero", "\x00", 1, 0, 0, 1 },
		{ "one byte max", "\x7f", 1, 0, 127, 1 },
		{ "two bytes", "\x80\x01", 2, 0, 128, 2 },
		{ "300", "\xac\x02", 2, 0, 300, 2 },
		{ "stops at the end bit", "\x01\xff", 2, 0, 1, 1 },
		{ "uint64 max in 10 bytes", "\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01", 10, 0, UINT64_MAX, 10 },
		{ "redundant zero continuation", "\x80\x80\x00", 3, 0, 0, 3 },
		{ "empty", "", 0, MC_EINVAL, 0, 0 },
		{ "truncated", "\x80", 1, MC_EINVAL, 0, 0 },
		{ "truncated after 9", "\xff\xff\xff\xff\xff\xff\xff\xff\xff", 9, MC_EINVAL, 0, 0 },
		{ "overflows 64 bits", "\xff\xff\xff\xff\xff\xff\xff\xff\xff\x02", 10, MC_EINVAL, 0, 0 },
		{ "11 bytes", "\xff\xff\xff\xff\xff\xff\xff\xff\xff\x81\x00", 11, MC_EINVAL, 0, 0 },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const uint8_t *in = (const uint8_t *)cases[i].in;
		struct mc_pb r = { in, in + cases[i].len };
		uint64_t v = 12345;
		int rc = mc_pb_varint(&v, &r);
		if (rc != cases[i].rc)
			fprintf(stderr, "varint case \"%s\"\n", cases[i].what);
		CHECK_INT(rc, cases[i].rc);
		CHECK_INT(r.p - in, cases[i].used);
		if (!rc)
			CHECK(v == cases[i].v);
		else
			CHECK(*mc_error_msg());
	}
}

struct want_field {
	uint32_t num;
	int type;
	uint64_t v;
	const char *data; /* MC_PB_LEN */
	size_t len;
};

static void test_next(void)
{
	static const struct {
		const char *what;
		const char *in;
		size_t len;
		int nfields;  /* fields read before the end or the error */
		int rc;       /* 0 = clean end, else the error */
		struct want_field f[3];
	} cases[] = {
		{ "empty message", "", 0, 0, 0, { { 0 } } },
		{ "varint", "\x08\x96\x01", 3, 1, 0, { { 1, MC_PB_VARINT, 150, NULL, 0 } } },
		{ "fixed64", "\x11\x01\x02\x03\x04\x05\x06\x07\x08", 9, 1, 0,
		  { { 2, MC_PB_I64, 0x0807060504030201ull, NULL, 0 } } },
		{ "fixed32", "\x1d\xff\xff\xff\xff", 5, 1, 0, { { 3, MC_PB_I32, 0xffffffffu, NULL, 0 } } },
		{ "length-delimited", "\x22\x03" "abc", 5, 1, 0, { { 4, MC_PB_LEN, 0, "abc", 3 } } },
		{ "empty bytes", "\x22\x00", 2, 1, 0, { { 4, MC_PB_LEN, 0, "", 0 } } },
		{ "three in a row", "\x08\x01\x12\x01x\x1d\x00\x00\x00\x00", 10, 3, 0,
		  { { 1, MC_PB_VARINT, 1, NULL, 0 }, { 2, MC_PB_LEN, 0, "x", 1 }, { 3, MC_PB_I32, 0, NULL, 0 } } },
		{ "largest field number", "\xf8\xff\xff\xff\x0f\x00", 6, 1, 0,
		  { { (1u << 29) - 1, MC_PB_VARINT, 0, NULL, 0 } } },
		{ "field number 2^29", "\x80\x80\x80\x80\x10\x00", 6, 0, MC_EINVAL, { { 0 } } },
		{ "field number 0", "\x02\x00", 2, 0, MC_EINVAL, { { 0 } } },
		{ "start group", "\x0b\x0c", 2, 0, MC_EINVAL, { { 0 } } },
		{ "end group", "\x0c", 1, 0, MC_EINVAL, { { 0 } } },
		{ "wire type 6", "\x0e\x00", 2, 0, MC_EINVAL, { { 0 } } },
		{ "wire type 7", "\x0f\x00", 2, 0, MC_EINVAL, { { 0 } } },
		{ "truncated tag", "\x80", 1, 0, MC_EINVAL, { { 0 } } },
		{ "truncated varint value", "\x08\x80", 2, 0, MC_EINVAL, { { 0 } } },
		{ "fixed64 short by one", "\x09\x01\x02\x03\x04\x05\x06\x07", 8, 0, MC_EINVAL, { { 0 } } },
		{ "fixed32 short by one", "\x0d\x01\x02\x03", 4, 0, MC_EINVAL, { { 0 } } },
		{ "length past the end", "\x0a\x05" "ab", 4, 0, MC_EINVAL, { { 0 } } },
		{ "length one past the end", "\x0a\x03" "ab", 4, 0, MC_EINVAL, { { 0 } } },
		{ "truncated length", "\x0a\x80", 2, 0, MC_EINVAL, { { 0 } } },
		{ "huge length 2^64-1", "\x0a\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01", 12, 0, MC_EINVAL, { { 0 } } },
		{ "length 2^32+1", "\x0a\x81\x80\x80\x80\x10" "x", 7, 0, MC_EINVAL, { { 0 } } },
		{ "good field then damage", "\x08\x01\x0a\x09", 4, 1, MC_EINVAL,
		  { { 1, MC_PB_VARINT, 1, NULL, 0 } } },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const uint8_t *in = (const uint8_t *)cases[i].in;
		struct mc_pb r = { in, in + cases[i].len };
		struct mc_pb_field f;
		int n = 0, rc;
		int fails = t_failures;

		while ((rc = mc_pb_next(&f, &r)) == 1 && n < 3) {
			const struct want_field *w = &cases[i].f[n++];
			CHECK_INT(f.num, w->num);
			CHECK_INT(f.type, w->type);
			if (w->type == MC_PB_LEN) {
				CHECK_INT(f.len, w->len);
				CHECK(f.data >= in && f.data + f.len <= in + cases[i].len);
				CHECK(!memcmp(f.data, w->data, w->len));
			} else {
				CHECK(f.v == w->v);
			}
		}
		CHECK_INT(n, cases[i].nfields);
		CHECK_INT(rc, cases[i].rc);
		/* A failed read leaves the cursor at the damaged field. */
		if (rc)
			CHECK(r.p < in + cases[i].len || cases[i].len == 0);
		if (t_failures != fails)
			fprintf(stderr, "  in next case \"%s\"\n", cases[i].what);
	}
}

/* ---- Decoding StatusResponse ---------------------------------------------- */

struct seen {
	int vertexes, statuses, logs, warnings;
	struct mc_trace_rec_vertex v;
	struct mc_trace_rec_status s;
	struct mc_trace_rec_log l;
	struct mc_trace_rec_warning w;
};

static int see_vertex(void *ud, const struct mc_trace_rec_vertex *r)
{
	struct seen *s = ud;
	s->vertexes++;
	s->v = *r;
	return 0;
}

static int see_status(void *ud, const struct mc_trace_rec_status *r)
{
	struct seen *s = ud;
	s->statuses++;
	s->s = *r;
	return 0;
}

static int see_log(void *ud, const struct mc_trace_rec_log *r)
{
	struct seen *s = ud;
	s->logs++;
	s->l = *r;
	return 0;
}

static int see_warning(void *ud, const struct mc_trace_rec_warning *r)
{
	struct seen *s = ud;
	s->warnings++;
	s->w = *r;
	return 0;
}

static int stop_vertex(void *ud, const struct mc_trace_rec_vertex *r)
{
	struct seen *s = ud;
	s->vertexes++;
	return 7;
}

static const struct mc_trace_visitor see = { see_vertex, see_status, see_log, see_warning };

static int bytes_eq(struct mc_pb_bytes b, const char *s)
{
	return b.len == strlen(s) && (!b.len || !memcmp(b.ptr, s, b.len));
}

/* Every message kind, nested timestamps, and unknown fields of every wire type at every level. */
static void test_decode_full(void)
{
	struct mc_buf b = MC_BUF_INIT, m = MC_BUF_INIT, ts = MC_BUF_INIT;
	struct seen s = { 0 };
	static const char fixed8[8] = { 1, 2, 3, 4, 5, 6, 7, 8 };

	/* Unknown fields of each wire type before anything known. */
	put_uint(&b, 15, 7);
	put_tag(&b, 16, MC_PB_I64);
	mc_buf_add(&b, fixed8, 8);
	put_tag(&b, 17, MC_PB_I32);
	mc_buf_add(&b, fixed8, 4);
	put_str(&b, 18, "unknown bytes");

	put_str(&m, 1, "sha256:aaa");
	put_str(&m, 2, "sha256:in1");
	put_str(&m, 2, "sha256:in2");
	put_str(&m, 3, "[2/3] RUN make");
	put_uint(&m, 4, 1);
	put_uint(&ts, 1, 1700000000);
	put_uint(&ts, 2, 5);
	put_uint(&ts, 99, 1);           /* unknown inside a Timestamp */
	put_msg(&m, 5, &ts);
	put_ts(&m, 6, 1700000001, 999999999);
	put_str(&m, 7, "exit code: 3");
	put_str(&m, 8, "progress group"); /* ProgressGroup: skipped */
	put_tag(&m, 20, MC_PB_I32);
	mc_buf_add(&m, fixed8, 4);
	put_msg(&b, 1, &m);

	put_str(&m, 1, "extracting");
	put_str(&m, 2, "sha256:aaa");
	put_str(&m, 3, "layer");
	put_uint(&m, 4, 1024);
	put_uint(&m, 5, 4096);
	put_ts(&m, 6, 3, 0);
	put_ts(&m, 7, 4, 0);
	put_ts(&m, 8, 5, 0);
	put_msg(&b, 2, &m);

	put_str(&m, 1, "sha256:aaa");
	put_ts(&m, 2, 6, 7);
	put_uint(&m, 3, 2);
	put_bytes(&m, 4, "bin\0ary\n", 8);
	put_msg(&b, 3, &m);

	put_str(&m, 1, "sha256:aaa");
	put_uint(&m, 2, 1);
	put_str(&m, 3, "short text");
	put_str(&m, 4, "detail");
	put_str(&m, 5, "https://example.invalid/");
	put_msg(&b, 4, &m);

	CHECK_INT(mc_trace_decode((const uint8_t *)b.ptr, b.len, &see, &s), 0);
	CHECK_INT(s.vertexes, 1);
	CHECK(bytes_eq(s.v.digest, "sha256:aaa"));
	CHECK(bytes_eq(s.v.name, "[2/3] RUN make"));
	CHECK(bytes_eq(s.v.error, "exit code: 3"));
	CHECK_INT(s.v.ninputs, 2);
	CHECK_INT(s.v.cached, 1);
	CHECK_INT(s.v.started.set, 1);
	CHECK_INT(s.v.started.seconds, 1700000000);
	CHECK_INT(s.v.started.nanos, 5);
	CHECK_INT(mc_trace_ts_ns(&s.v.started), 1700000000000000005ll);
	CHECK_INT(mc_trace_ts_ns(&s.v.completed), 1700000001999999999ll);
	CHECK_INT(s.statuses, 1);
	CHECK(bytes_eq(s.s.id, "extracting"));
	CHECK(bytes_eq(s.s.vertex, "sha256:aaa"));
	CHECK(bytes_eq(s.s.name, "layer"));
	CHECK_INT(s.s.current, 1024);
	CHECK_INT(s.s.total, 4096);
	CHECK_INT(s.s.timestamp.seconds, 3);
	CHECK_INT(s.s.started.seconds, 4);
	CHECK_INT(s.s.completed.seconds, 5);
	CHECK_INT(s.logs, 1);
	CHECK(bytes_eq(s.l.vertex, "sha256:aaa"));
	CHECK_INT(s.l.stream, 2);
	CHECK_INT(s.l.msg.len, 8);
	CHECK(s.l.msg.ptr && !memcmp(s.l.msg.ptr, "bin\0ary\n", 8));
	CHECK_INT(s.l.timestamp.nanos, 7);
	CHECK_INT(s.warnings, 1);
	CHECK(bytes_eq(s.w.vertex, "sha256:aaa"));
	CHECK(bytes_eq(s.w.short_msg, "short text"));
	CHECK_INT(s.w.level, 1);

	/* Validation alone (no visitor) agrees. */
	CHECK_INT(mc_trace_decode((const uint8_t *)b.ptr, b.len, NULL, NULL), 0);

	/* Every truncation of the whole record is either clean (a field boundary) or rejected, never a crash. */
	for (size_t n = 0; n < b.len; n++) {
		uint8_t *copy = mc_malloc(n ? n : 1);
		memcpy(copy, b.ptr, n);
		int rc = mc_trace_decode(copy, n, &see, &s);
		CHECK(rc == 0 || rc == MC_EINVAL);
		free(copy);
	}
	mc_buf_release(&b);
	mc_buf_release(&m);
	mc_buf_release(&ts);
}

static void test_decode_edges(void)
{
	struct mc_buf b = MC_BUF_INIT, m = MC_BUF_INIT;
	struct seen s = { 0 };

	/* An empty record and a NULL buffer: nothing to see. */
	CHECK_INT(mc_trace_decode((const uint8_t *)"", 0, &see, &s), 0);
	CHECK_INT(mc_trace_decode(NULL, 0, &see, &s), 0);
	CHECK_INT(s.vertexes + s.statuses + s.logs + s.warnings, 0);

	/* Empty sub-messages are entries with default values. */
	memset(&s, 0, sizeof(s));
	CHECK_INT(mc_trace_decode((const uint8_t *)"\x0a\x00\x12\x00\x1a\x00\x22\x00", 8, &see, &s), 0);
	CHECK_INT(s.vertexes, 1);
	CHECK_INT(s.statuses, 1);
	CHECK_INT(s.logs, 1);
	CHECK_INT(s.warnings, 1);
	CHECK_INT(s.v.digest.len, 0);
	CHECK(s.v.digest.ptr == NULL);
	CHECK_INT(s.v.started.set, 0);

	/* A known field number with the wrong wire type is skipped, not trusted. */
	memset(&s, 0, sizeof(s));
	put_uint(&m, 1, 42);              /* digest as a varint */
	put_str(&m, 4, "yes");            /* cached as bytes */
	put_uint(&m, 5, 1);               /* started as a varint */
	put_str(&m, 3, "named");
	put_msg(&b, 1, &m);
	put_uint(&b, 3, 9);               /* logs as a varint */
	CHECK_INT(mc_trace_decode((const uint8_t *)b.ptr, b.len, &see, &s), 0);
	CHECK_INT(s.vertexes, 1);
	CHECK_INT(s.logs, 0);
	CHECK_INT(s.v.digest.len, 0);
	CHECK_INT(s.v.cached, 0);
	CHECK_INT(s.v.started.set, 0);
	CHECK(bytes_eq(s.v.name, "named"));

	/* Damage inside a nested message fails the whole record. */
	mc_buf_reset(&b);
	put_str(&m, 1, "sha256:x");
	put_bytes(&m, 5, "\x08\x80", 2); /* Timestamp with a truncated varint */
	put_msg(&b, 1, &m);
	CHECK_INT(mc_trace_decode((const uint8_t *)b.ptr, b.len, NULL, NULL), MC_EINVAL);
	mc_buf_reset(&b);
	put_bytes(&b, 3, "\x0a\x09sha", 5);  /* VertexLog whose vertex runs past its own end */
	CHECK_INT(mc_trace_decode((const uint8_t *)b.ptr, b.len, NULL, NULL), MC_EINVAL);
	mc_buf_reset(&b);
	put_bytes(&b, 2, "\x0b", 1);          /* a group inside a VertexStatus */
	CHECK_INT(mc_trace_decode((const uint8_t *)b.ptr, b.len, NULL, NULL), MC_EINVAL);
	mc_buf_reset(&b);
	put_bytes(&b, 4, "\x10\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01", 12); /* 11-byte varint */
	CHECK_INT(mc_trace_decode((const uint8_t *)b.ptr, b.len, NULL, NULL), MC_EINVAL);

	/* Negative int64 values (10-byte varints) and negative nanos. */
	mc_buf_reset(&b);
	memset(&s, 0, sizeof(s));
	put_str(&m, 1, "sha256:neg");
	put_uint(&m, 4, (uint64_t)-5);
	put_uint(&m, 5, (uint64_t)INT64_MIN);
	put_ts(&m, 6, -1, -1);
	put_msg(&b, 2, &m);
	CHECK_INT(mc_trace_decode((const uint8_t *)b.ptr, b.len, &see, &s), 0);
	CHECK_INT(s.s.current, -5);
	CHECK(s.s.total == INT64_MIN);
	CHECK_INT(s.s.timestamp.seconds, -1);
	CHECK_INT(s.s.timestamp.nanos, -1);
	CHECK_INT(mc_trace_ts_ns(&s.s.timestamp), -1000000001ll);

	/* A visitor's non-zero return stops the decoding and is returned. */
	mc_buf_reset(&b);
	memset(&s, 0, sizeof(s));
	put_msg(&b, 1, &m);
	put_msg(&b, 1, &m);
	{
		struct mc_trace_visitor stop = { stop_vertex, NULL, NULL, NULL };
		CHECK_INT(mc_trace_decode((const uint8_t *)b.ptr, b.len, &stop, &s), 7);
		CHECK_INT(s.vertexes, 1);
	}
	mc_buf_release(&b);
	mc_buf_release(&m);
}

static void test_ts_ns(void)
{
	static const struct {
		struct mc_trace_ts ts;
		int64_t ns;
	} cases[] = {
		{ { 0, 5, 5 }, 0 },
		{ { 1, 0, 0 }, 0 },
		{ { 1, 1, 1 }, 1000000001 },
		{ { 1, INT64_MAX, 0 }, INT64_MAX },
		{ { 1, INT64_MIN, 0 }, INT64_MIN },
		{ { 1, 9223372036, 854775807 }, INT64_MAX },
		{ { 1, 9223372036, 854775808 }, INT64_MAX },
		{ { 1, 9223372036, INT32_MAX }, INT64_MAX },
		{ { 1, -9223372036, -854775808 }, INT64_MIN },
		{ { 1, -9223372036, INT32_MIN }, INT64_MIN },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		CHECK(mc_trace_ts_ns(&cases[i].ts) == cases[i].ns);
	CHECK_INT(mc_trace_ts_ns(NULL), 0);
}

static void test_b64(void)
{
	static const struct {
		const char *in;
		int rc;
		const char *out;
		size_t len;
	} cases[] = {
		{ "", 0, "", 0 },
		{ "  \n", 0, "", 0 },
		{ "QQ==", 0, "A", 1 },
		{ "QQ", 0, "A", 1 },
		{ "QUI=", 0, "AB", 2 },
		{ "QUI", 0, "AB", 2 },
		{ "QUJD", 0, "ABC", 3 },
		{ " QUJD\r\n", 0, "ABC", 3 },
		{ "AAEC/w==", 0, "\x00\x01\x02\xff", 4 },
		{ "+/+/", 0, "\xfb\xff\xbf", 3 },
		{ "Q", MC_EINVAL, NULL, 0 },
		{ "QUJDQ", MC_EINVAL, NULL, 0 },
		{ "QQ=", MC_EINVAL, NULL, 0 },
		{ "Q===", MC_EINVAL, NULL, 0 },
		{ "====", MC_EINVAL, NULL, 0 },
		{ "QQ=A", MC_EINVAL, NULL, 0 },
		{ "Q=Q=", MC_EINVAL, NULL, 0 },
		{ "QUJ D", MC_EINVAL, NULL, 0 },
		{ "QUJD!", MC_EINVAL, NULL, 0 },
		{ "QU-_", MC_EINVAL, NULL, 0 }, /* base64url is not what BuildKit sends */
	};
	struct mc_buf out = MC_BUF_INIT;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int rc = mc_trace_b64_decode(&out, cases[i].in);
		if (rc != cases[i].rc)
			fprintf(stderr, "b64 case \"%s\"\n", cases[i].in);
		CHECK_INT(rc, cases[i].rc);
		if (!rc) {
			CHECK_INT(out.len, cases[i].len);
			CHECK(out.ptr && !memcmp(out.ptr, cases[i].out, cases[i].len));
		}
	}
	CHECK_INT(mc_trace_b64_decode(&out, NULL), 0);
	CHECK_INT(out.len, 0);

	/* Longer than one internal chunk, against a reference encoding. */
	{
		size_t n = 10000;
		uint8_t *bin = mc_malloc(n);
		struct mc_buf enc = MC_BUF_INIT;
		static const char al[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
		for (size_t i = 0; i < n; i++)
			bin[i] = (uint8_t)(i * 7 + 3);
		for (size_t i = 0; i < n; i += 3) {
			uint32_t v = (uint32_t)bin[i] << 16 | (i + 1 < n ? (uint32_t)bin[i + 1] << 8 : 0) |
				     (i + 2 < n ? bin[i + 2] : 0);
			char q[4] = { al[v >> 18 & 63], al[v >> 12 & 63], i + 1 < n ? al[v >> 6 & 63] : '=',
				      i + 2 < n ? al[v & 63] : '=' };
			mc_buf_add(&enc, q, 4);
		}
		CHECK_INT(mc_trace_b64_decode(&out, enc.ptr), 0);
		CHECK_INT(out.len, n);
		CHECK(out.ptr && !memcmp(out.ptr, bin, n));
		free(bin);
		mc_buf_release(&enc);
	}
	mc_buf_release(&out);
}

/* ---- The progress model --------------------------------------------------- */

struct events {
	int vertex_calls, state_changes, log_calls, warn_calls;
	char last_line[2048];
	char last_state[16];
	struct mc_strv lines;
};

static void ev_vertex(void *ud, const struct mc_trace_vertex *v, int changed_state)
{
	struct events *e = ud;
	e->vertex_calls++;
	e->state_changes += changed_state;
	snprintf(e->last_state, sizeof(e->last_state), "%s", mc_trace_state_name(v->state));
}

static void ev_log(void *ud, const struct mc_trace_vertex *v, const char *line)
{
	struct events *e = ud;
	e->log_calls++;
	snprintf(e->last_line, sizeof(e->last_line), "%s", line);
	mc_strv_push(&e->lines, line);
}

static void ev_warning(void *ud, const struct mc_trace_vertex *v, int64_t level, const char *msg)
{
	struct events *e = ud;
	e->warn_calls++;
	snprintf(e->last_line, sizeof(e->last_line), "warning %lld: %s", (long long)level, msg);
}

static struct mc_trace *new_trace(struct events *e)
{
	struct mc_trace_cb cb = { ev_vertex, ev_log, ev_warning, e };
	memset(e, 0, sizeof(*e));
	return mc_trace_new(&cb);
}

static void test_model_states(void)
{
	struct events e;
	struct mc_trace *t = new_trace(&e);
	struct mc_buf b = MC_BUF_INIT;
	const struct mc_trace_vertex *v;

	rec_vertex(&b, "sha256:a", "[1/2] RUN a", 0, 0, 0, NULL);
	CHECK_INT(feed(t, &b), 0);
	CHECK_INT(e.vertex_calls, 1);
	CHECK_INT(e.state_changes, 1);
	CHECK_STR(e.last_state, "queued");
	/* The same record again changes nothing and calls nothing. */
	CHECK_INT(feed(t, &b), 0);
	CHECK_INT(e.vertex_calls, 1);

	rec_vertex(&b, "sha256:a", NULL, 0, 100, 0, NULL);
	CHECK_INT(feed(t, &b), 0);
	CHECK_STR(e.last_state, "running");
	CHECK_INT(e.state_changes, 2);
	v = mc_trace_find(t, "sha256:a");
	CHECK(v != NULL);
	CHECK_STR(v->name, "[1/2] RUN a"); /* an empty name keeps the known one */
	CHECK_INT(v->started_ns, 100000000000ll);
	CHECK_INT(v->completed_ns, 0);

	rec_vertex(&b, "sha256:a", "[1/2] RUN a", 0, 100, 101, NULL);
	CHECK_INT(feed(t, &b), 0);
	CHECK_STR(e.last_state, "done");
	CHECK_INT(v->state, MC_TRACE_DONE);
	CHECK_INT(v->completed_ns, 101000000000ll);

	rec_vertex(&b, "sha256:b", "[2/2] COPY x", 1, 102, 102, NULL);
	CHECK_INT(feed(t, &b), 0);
	CHECK_STR(e.last_state, "cached");
	CHECK_INT(mc_trace_count(t), 2);
	CHECK_STR(mc_trace_at(t, 1)->name, "[2/2] COPY x");
	CHECK_INT(mc_trace_at(t, 1)->cached, 1);
	CHECK_INT(mc_trace_at(t, 0)->seq, 0);
	CHECK_INT(mc_trace_at(t, 1)->seq, 1);
	CHECK(mc_trace_at(t, 2) == NULL);
	CHECK(mc_trace_find(t, "sha256:zzz") == NULL);
	CHECK(mc_trace_first_failed(t) == NULL);

	/* Siblings cancelled after the real failure, and one cancelled before it. */
	rec_vertex(&b, "sha256:c", "[3/4] RUN sibling", 0, 103, 104, "context canceled");
	CHECK_INT(feed(t, &b), 0);
	CHECK_STR(mc_trace_first_failed(t)->name, "[3/4] RUN sibling");
	rec_vertex(&b, "sha256:d", "[4/4] RUN broken", 0, 103, 105, "exit code: 2");
	CHECK_INT(feed(t, &b), 0);
	rec_vertex(&b, "sha256:e", "[5/5] RUN later", 0, 103, 106, "exit code: 9");
	CHECK_INT(feed(t, &b), 0);
	v = mc_trace_first_failed(t);
	CHECK(v != NULL);
	CHECK_STR(v->name, "[4/4] RUN broken");
	CHECK_STR(v->error, "exit code: 2");
	CHECK_STR(mc_trace_state_name(v->state), "failed");

	/* A status names the sub-step, by name or else by ID. */
	{
		struct mc_buf m = MC_BUF_INIT;
		mc_buf_reset(&b);
		put_str(&m, 1, "exporting layers");
		put_str(&m, 2, "sha256:a");
		put_uint(&m, 4, 3);
		put_uint(&m, 5, 9);
		put_msg(&b, 2, &m);
		int before = e.state_changes;
		CHECK_INT(feed(t, &b), 0);
		v = mc_trace_find(t, "sha256:a");
		CHECK_STR(v->status, "exporting layers");
		CHECK_INT(v->current, 3);
		CHECK_INT(v->total, 9);
		CHECK_INT(e.state_changes, before);
		mc_buf_release(&m);
	}

	/* A warning for an unknown vertex creates it. */
	{
		struct mc_buf m = MC_BUF_INIT;
		mc_buf_reset(&b);
		put_str(&m, 1, "sha256:w");
		put_uint(&m, 2, 1);
		put_str(&m, 3, "legacy \x1b[31mkey\x1b[0m");
		put_msg(&b, 4, &m);
		CHECK_INT(feed(t, &b), 0);
		CHECK_INT(e.warn_calls, 1);
		CHECK_STR(e.last_line, "warning 1: legacy ?[31mkey?[0m");
		v = mc_trace_find(t, "sha256:w");
		CHECK(v != NULL);
		CHECK_INT(v->nwarnings, 1);
		CHECK_INT(v->state, MC_TRACE_QUEUED);
		mc_buf_release(&m);
	}

	/* A damaged record changes nothing and calls nothing, even after a good entry. */
	{
		int calls = e.vertex_calls;
		size_t count = mc_trace_count(t);
		rec_vertex(&b, "sha256:new", "[9/9] RUN new", 0, 0, 0, NULL);
		mc_buf_add(&b, "\x0a\x05xx", 4);
		CHECK_INT(feed(t, &b), MC_EINVAL);
		CHECK(*mc_error_msg());
		CHECK_INT(mc_trace_count(t), count);
		CHECK_INT(e.vertex_calls, calls);
		CHECK_INT(mc_trace_feed_b64(t, "not base64!"), MC_EINVAL);
		CHECK_INT(mc_trace_count(t), count);
	}

	/* The base64 path reaches the same model. */
	{
		rec_vertex(&b, "sha256:f", "[6/6] RUN f", 0, 0, 0, NULL);
		struct mc_buf enc = MC_BUF_INIT;
		static const char al[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
		const uint8_t *p = (const uint8_t *)b.ptr;
		for (size_t i = 0; i < b.len; i += 3) {
			uint32_t x = (uint32_t)p[i] << 16 | (i + 1 < b.len ? (uint32_t)p[i + 1] << 8 : 0) |
				     (i + 2 < b.len ? p[i + 2] : 0);
			char q[4] = { al[x >> 18 & 63], al[x >> 12 & 63], i + 1 < b.len ? al[x >> 6 & 63] : '=',
				      i + 2 < b.len ? al[x & 63] : '=' };
			mc_buf_add(&enc, q, 4);
		}
		CHECK_INT(mc_trace_feed_b64(t, enc.ptr), 0);
		CHECK(mc_trace_find(t, "sha256:f") != NULL);
		mc_buf_release(&enc);
	}

	mc_trace_free(t);
	mc_trace_free(NULL);
	mc_buf_release(&b);
}

static void test_model_logs(void)
{
	struct events e;
	struct mc_trace *t = new_trace(&e);
	struct mc_buf b = MC_BUF_INIT;
	const struct mc_trace_vertex *v;
	static const struct {
		int stream;
		const char *chunk;
	} chunks[] = {
		{ 1, "hel" },
		{ 1, "lo\nwor" },
		{ 2, "err-part" },      /* another stream keeps its own partial line */
		{ 1, "ld\n" },
		{ 1, "crlf\r\n" },
		{ 1, "split cr\r" },
		{ 1, "\n" },
		{ 1, " 10%\r 50%\r100%\n" },
		{ 1, "tab\there \x1b[1mbold\x1b[0m\n" },
		{ 1, "\n" },            /* empty lines are lines */
		{ 2, "-end\n" },
		{ 1, "no newline yet" },
	};
	static const char *want[] = {
		"hello", "world", "crlf", "split cr", "100%", "tab\there ?[1mbold?[0m", "", "err-part-end",
	};

	rec_vertex(&b, "sha256:a", "[1/1] RUN x", 0, 1, 0, NULL);
	CHECK_INT(feed(t, &b), 0);
	for (size_t i = 0; i < sizeof(chunks) / sizeof(chunks[0]); i++) {
		rec_log(&b, "sha256:a", chunks[i].stream, chunks[i].chunk, strlen(chunks[i].chunk));
		CHECK_INT(feed(t, &b), 0);
	}
	v = mc_trace_find(t, "sha256:a");
	CHECK_INT(v->nlines, sizeof(want) / sizeof(want[0]));
	CHECK_INT(e.lines.n, sizeof(want) / sizeof(want[0]));
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		CHECK_STR(mc_trace_vertex_line(v, i), want[i]);
		CHECK_STR(i < e.lines.n ? e.lines.v[i] : NULL, want[i]);
	}
	CHECK(mc_trace_vertex_line(v, v->nlines) == NULL);
	CHECK(mc_trace_vertex_line(NULL, 0) == NULL);

	/* Finishing flushes the partial line. */
	rec_vertex(&b, "sha256:a", NULL, 0, 1, 2, "boom");
	CHECK_INT(feed(t, &b), 0);
	CHECK_STR(mc_trace_vertex_line(v, v->nlines - 1), "no newline yet");
	CHECK_STR(e.last_line, "no newline yet");
	CHECK_STR(mc_trace_first_failed(t)->error, "boom");

	/* The ring keeps the last MC_TRACE_LOG_LINES lines; NULs and long lines are tamed. */
	rec_vertex(&b, "sha256:r", "[2/2] RUN ring", 0, 1, 0, NULL);
	CHECK_INT(feed(t, &b), 0);
	for (int i = 0; i < 25; i++) {
		char line[32];
		int n = snprintf(line, sizeof(line), "line %d\n", i);
		rec_log(&b, "sha256:r", 1, line, (size_t)n);
		CHECK_INT(feed(t, &b), 0);
	}
	v = mc_trace_find(t, "sha256:r");
	CHECK_INT(v->nlines, MC_TRACE_LOG_LINES);
	CHECK_INT(v->lines_seen, 25);
	CHECK_STR(mc_trace_vertex_line(v, 0), "line 5");
	CHECK_STR(mc_trace_vertex_line(v, MC_TRACE_LOG_LINES - 1), "line 24");

	rec_log(&b, "sha256:r", 1, "a\0b\n", 4);
	CHECK_INT(feed(t, &b), 0);
	CHECK_STR(mc_trace_vertex_line(v, v->nlines - 1), "a?b");

	{
		/* 1023 ASCII bytes then a 3-byte character straddling the cap, then more. */
		size_t n = MC_TRACE_LINE_MAX - 1;
		char *big = mc_malloc(n + 3 + 500 + 1);
		memset(big, 'x', n);
		memcpy(big + n, "\xe2\x82\xac", 3);
		memset(big + n + 3, 'y', 500);
		big[n + 503] = '\n';
		rec_log(&b, "sha256:r", 1, big, n + 504);
		CHECK_INT(feed(t, &b), 0);
		CHECK_INT(strlen(mc_trace_vertex_line(v, v->nlines - 1)), n);
		/* Exactly at the cap with a whole character: kept. */
		memset(big, 'x', MC_TRACE_LINE_MAX - 3);
		memcpy(big + MC_TRACE_LINE_MAX - 3, "\xe2\x82\xac\n", 4);
		rec_log(&b, "sha256:r", 1, big, MC_TRACE_LINE_MAX + 1);
		CHECK_INT(feed(t, &b), 0);
		CHECK_INT(strlen(mc_trace_vertex_line(v, v->nlines - 1)), MC_TRACE_LINE_MAX);
		free(big);
	}

	/* A log for an unknown vertex creates it (queued). */
	rec_log(&b, "sha256:orphan", 1, "early\n", 6);
	CHECK_INT(feed(t, &b), 0);
	v = mc_trace_find(t, "sha256:orphan");
	CHECK(v != NULL);
	CHECK_INT(v->state, MC_TRACE_QUEUED);
	CHECK_STR(v->name, "");
	CHECK_STR(mc_trace_vertex_line(v, 0), "early");

	mc_strv_release(&e.lines);
	mc_trace_free(t);
	mc_buf_release(&b);
}

/* Thousands of vertexes and megabytes of logs: memory stays bounded, the culprit stays. */
static void test_model_bounds(void)
{
	struct mc_trace *t = mc_trace_new(NULL);
	struct mc_buf b = MC_BUF_INIT;
	char digest[64], name[64];
	char *line = mc_malloc(MC_TRACE_LINE_MAX + 1);
	size_t total = 0;
	const struct mc_trace_vertex *v;

	memset(line, 'z', MC_TRACE_LINE_MAX);
	line[MC_TRACE_LINE_MAX] = '\n';
	/* The real failure comes early; later ones are cancellations. */
	rec_vertex(&b, "sha256:culprit", "[1/9999] RUN fail", 0, 1, 2, "exit code: 1");
	CHECK_INT(feed(t, &b), 0);
	rec_log(&b, "sha256:culprit", 2, "why it failed\n", 14);
	CHECK_INT(feed(t, &b), 0);
	for (int i = 0; i < 6000; i++) {
		snprintf(digest, sizeof(digest), "sha256:%d", i);
		snprintf(name, sizeof(name), "[%d/9999] RUN step", i + 2);
		rec_vertex(&b, digest, name, 0, 1, 0, NULL);
		CHECK_INT(feed(t, &b), 0);
		for (int k = 0; k < 3; k++) {
			rec_log(&b, digest, 1, line, MC_TRACE_LINE_MAX + 1);
			CHECK_INT(feed(t, &b), 0);
		}
		rec_vertex(&b, digest, name, 0, 1, 2, i % 2 ? NULL : "context canceled");
		CHECK_INT(feed(t, &b), 0);
	}
	CHECK_INT(mc_trace_count(t), MC_TRACE_MAX_VERTEXES);
	v = mc_trace_first_failed(t);
	CHECK(v != NULL);
	CHECK_STR(v ? v->name : NULL, "[1/9999] RUN fail");
	CHECK_STR(v ? mc_trace_vertex_line(v, 0) : NULL, "why it failed");
	CHECK_STR(mc_trace_at(t, MC_TRACE_MAX_VERTEXES - 1)->digest, "sha256:5999");
	for (size_t i = 0; i < mc_trace_count(t); i++) {
		v = mc_trace_at(t, i);
		for (size_t k = 0; k < v->nlines; k++)
			total += strlen(mc_trace_vertex_line(v, k)) + 1;
	}
	CHECK(total <= MC_TRACE_LOG_BUDGET);
	CHECK(total > MC_TRACE_LOG_BUDGET / 2);
	/* Evicted vertexes are gone from lookups; kept ones are found. */
	CHECK(mc_trace_find(t, "sha256:0") == NULL);
	CHECK(mc_trace_find(t, "sha256:5999") != NULL);
	CHECK(mc_trace_find(t, "sha256:culprit") != NULL);

	/* Digests, names and errors are capped. */
	{
		char *huge = mc_malloc(100000);
		memset(huge, 'n', 99999);
		huge[99999] = 0;
		rec_vertex(&b, huge, huge, 0, 1, 2, huge);
		CHECK_INT(feed(t, &b), 0);
		v = mc_trace_at(t, mc_trace_count(t) - 1);
		CHECK_INT(strlen(v->digest), 256);
		CHECK_INT(strlen(v->name), MC_TRACE_TEXT_MAX);
		CHECK_INT(strlen(v->error), MC_TRACE_TEXT_MAX);
		CHECK(mc_trace_find(t, huge) == v);
		free(huge);
	}
	CHECK_INT(mc_trace_count(t), MC_TRACE_MAX_VERTEXES);
	free(line);
	mc_buf_release(&b);
	mc_trace_free(t);
}

/* ---- Replays of records captured from a real BuildKit --------------------- */

struct replay {
	struct mc_trace *t;
	int records, bad, image_ids;
	char error[1024];
	struct events e;
};

static void replay_file(struct replay *r, const char *name)
{
	const char *src = getenv("MC_SRC");
	char path[4096], line[1 << 16];
	FILE *f;
	struct mc_trace_cb cb = { ev_vertex, ev_log, NULL, &r->e };

	memset(r, 0, sizeof(*r));
	r->t = mc_trace_new(&cb);
	snprintf(path, sizeof(path), "%s/tests/unit/trace_records/%s", src ? src : ".", name);
	f = fopen(path, "r");
	CHECK(f != NULL);
	if (!f) {
		fprintf(stderr, "cannot open %s (set MC_SRC to the source dir)\n", path);
		return;
	}
	while (fgets(line, sizeof(line), f)) {
		json_t *j = json_loads(line, 0, NULL);
		json_t *aux = json_object_get(j, "aux");
		const char *id = json_string_value(json_object_get(j, "id"));
		const char *err = json_string_value(json_object_get(j, "error"));
		CHECK(j != NULL);
		if (id && !strcmp(id, "moby.buildkit.trace") && json_is_string(aux)) {
			r->records++;
			if (mc_trace_feed_b64(r->t, json_string_value(aux)))
				r->bad++;
		} else if (id && !strcmp(id, "moby.image.id")) {
			r->image_ids++;
		}
		if (err)
			snprintf(r->error, sizeof(r->error), "%s", err);
		json_decref(j);
	}
	fclose(f);
}

/* The vertex whose name is exactly name, or NULL. */
static const struct mc_trace_vertex *by_name(const struct mc_trace *t, const char *name)
{
	for (size_t i = 0; i < mc_trace_count(t); i++)
		if (!strcmp(mc_trace_at(t, i)->name, name))
			return mc_trace_at(t, i);
	return NULL;
}

static int has_line(const struct mc_trace_vertex *v, const char *text)
{
	for (size_t i = 0; v && i < v->nlines; i++)
		if (!strcmp(mc_trace_vertex_line(v, i), text))
			return 1;
	return 0;
}

static void test_replay_two_step(void)
{
	struct replay r;
	const struct mc_trace_vertex *from, *run1, *run2;

	replay_file(&r, "two-step.jsonl");
	CHECK(r.records > 10);
	CHECK_INT(r.bad, 0);
	CHECK_INT(r.image_ids, 1);
	from = by_name(r.t, "[1/3] FROM docker.io/mc-test/busybox:latest");
	run1 = by_name(r.t, "[2/3] RUN echo to-stdout-1; echo to-stderr-1 >&2; echo to-stdout-2");
	run2 = by_name(r.t, "[3/3] RUN echo second-step >/second");
	CHECK(from && run1 && run2);
	CHECK(by_name(r.t, "[internal] load remote build context") != NULL);
	CHECK(by_name(r.t, "exporting to image") != NULL);
	if (from && run1 && run2) {
		CHECK_INT(run1->state, MC_TRACE_DONE);
		CHECK_INT(run2->state, MC_TRACE_DONE);
		CHECK_INT(run1->cached, 0);
		CHECK_INT(run2->cached, 0);
		CHECK(run1->started_ns > 1600000000000000000ll);
		CHECK(run1->completed_ns >= run1->started_ns);
		CHECK(run2->started_ns >= run1->completed_ns);
		/* BuildKit announces the RUN steps in order; FROM may come first or last. */
		CHECK(run1->seq < run2->seq);
		/* Both streams arrive as lines of their own. */
		CHECK(has_line(run1, "to-stdout-1"));
		CHECK(has_line(run1, "to-stdout-2"));
		CHECK(has_line(run1, "to-stderr-1"));
		CHECK_INT(run1->nlines, 3);
		CHECK_INT(run2->nlines, 0);
		CHECK_STR(run1->digest, mc_trace_find(r.t, run1->digest)->digest);
	}
	/* Every vertex ends finished, none failed. */
	for (size_t i = 0; i < mc_trace_count(r.t); i++) {
		enum mc_trace_state s = mc_trace_at(r.t, i)->state;
		CHECK(s == MC_TRACE_DONE || s == MC_TRACE_CACHED);
	}
	CHECK(mc_trace_first_failed(r.t) == NULL);
	/* The exporter reports its sub-steps as statuses. */
	{
		const struct mc_trace_vertex *ex = by_name(r.t, "exporting to image");
		CHECK(ex && !strncmp(ex->status, "naming to docker.io/library/mc-trace-test:two", 45));
	}
	CHECK_STR(r.error, "");
	mc_strv_release(&r.e.lines);
	mc_trace_free(r.t);
}

static void test_replay_cached(void)
{
	struct replay r;
	const struct mc_trace_vertex *run1, *run2;

	replay_file(&r, "cached.jsonl");
	CHECK(r.records > 5);
	CHECK_INT(r.bad, 0);
	run1 = by_name(r.t, "[2/3] RUN echo to-stdout-1; echo to-stderr-1 >&2; echo to-stdout-2");
	run2 = by_name(r.t, "[3/3] RUN echo second-step >/second");
	CHECK(run1 && run2);
	if (run1 && run2) {
		CHECK_INT(run1->cached, 1);
		CHECK_INT(run2->cached, 1);
		CHECK_INT(run1->state, MC_TRACE_CACHED);
		CHECK_INT(run2->state, MC_TRACE_CACHED);
		/* A cache hit runs nothing, so it prints nothing. */
		CHECK_INT(run1->nlines, 0);
	}
	CHECK_INT(r.e.log_calls, 0);
	CHECK(mc_trace_first_failed(r.t) == NULL);
	mc_strv_release(&r.e.lines);
	mc_trace_free(r.t);
}

static void test_replay_failing(void)
{
	struct replay r;
	const struct mc_trace_vertex *v;

	replay_file(&r, "failing.jsonl");
	CHECK(r.records > 5);
	CHECK_INT(r.bad, 0);
	CHECK_INT(r.image_ids, 0);
	CHECK(strstr(r.error, "exit code: 3") != NULL);
	v = mc_trace_first_failed(r.t);
	CHECK(v != NULL);
	if (v) {
		CHECK_STR(v->name, "[2/2] RUN sh -c 'echo to-stderr >&2; echo out; exit 3'");
		CHECK_INT(v->state, MC_TRACE_FAILED);
		CHECK(strstr(v->error, "exit code: 3") != NULL);
		CHECK(strstr(v->error, "executor failed running") != NULL);
		/* The last lines of its output, in the order they were written. */
		CHECK_INT(v->nlines, 2);
		CHECK_STR(mc_trace_vertex_line(v, 0), "to-stderr");
		CHECK_STR(mc_trace_vertex_line(v, 1), "out");
		CHECK(v->completed_ns >= v->started_ns && v->started_ns > 0);
	}
	/* The FROM before it, as this engine reported it: a hit. */
	v = by_name(r.t, "[1/2] FROM docker.io/mc-test/busybox:latest");
	CHECK(v && v->state == MC_TRACE_CACHED);
	CHECK_STR(r.e.last_state, "failed");
	mc_strv_release(&r.e.lines);
	mc_trace_free(r.t);
}

int main(void)
{
	test_varint();
	test_next();
	test_decode_full();
	test_decode_edges();
	test_ts_ns();
	test_b64();
	test_model_states();
	test_model_logs();
	test_model_bounds();
	test_replay_two_step();
	test_replay_cached();
	test_replay_failing();
	return t_done();
}
