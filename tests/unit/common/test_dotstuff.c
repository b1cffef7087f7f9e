/*
 * Unit tests for common/dotstuff.c: the end-of-data rule (smuggling cases),
 * dot unstuffing, the flags, the encoder, and a property test
 * decode(encode(x)) == x with normalised line ends.  Every decode case is
 * fed whole, one byte at a time and in random chunks.
 */
#include <check.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check_main.h"
#include "dotstuff.h"

struct sink {
	char *buf;
	size_t len, cap;
	const char *lo, *hi;	/* input range; count spans pointing into it */
	size_t inside;
};

/* Collect emitted bytes. */
static void
sink_emit(void *arg, const char *p, size_t n)
{
	struct sink *s = arg;

	if (s->len + n + 1 > s->cap) {
		s->cap = (s->len + n + 1) * 2;
		s->buf = realloc(s->buf, s->cap);
		ck_assert_ptr_nonnull(s->buf);
	}
	memcpy(s->buf + s->len, p, n);
	s->len += n;
	s->buf[s->len] = '\0';
	if (s->lo != NULL && p >= s->lo && p + n <= s->hi)
		s->inside += n;
}

/* Decode `in` in chunks of `step` (0 = whole, SIZE_MAX = random). */
static size_t
decode(const char *in, size_t len, size_t step, struct sink *out, unsigned *flags, bool *done)
{
	struct dot_decoder d;
	size_t off = 0, n, used = 0;

	memset(out, 0, sizeof(*out));
	out->lo = in;
	out->hi = in + len;
	dot_decoder_init(&d);
	*done = false;
	while (off < len && !*done) {
		if (step == 0)
			n = len - off;
		else if (step == SIZE_MAX)
			n = 1 + (size_t)rand() % 9;
		else
			n = step;
		if (n > len - off)
			n = len - off;
		used = dot_decode(&d, in + off, n, sink_emit, out, done);
		ck_assert(used == n || *done);
		off += used;
	}
	*flags = d.flags;
	ck_assert_uint_eq(d.decoded, out->len);
	return off;
}

struct dec_case {
	const char *in;
	size_t inlen;		/* 0: strlen */
	bool done;
	size_t consumed;	/* when done */
	const char *out;
	size_t outlen;
	unsigned flags;
};

#define S(x) x, sizeof(x) - 1

static const struct dec_case dec_cases[] = {
	{ S(".\r\n"), true, 3, S(""), 0 },
	{ S(".\r\nMAIL FROM:<>\r\n"), true, 3, S(""), 0 },
	{ S("hello\r\n.\r\n"), true, 10, S("hello\r\n"), 0 },
	{ S("a\r\nb\r\n.\r\nQUIT\r\n"), true, 9, S("a\r\nb\r\n"), 0 },
	{ S("..\r\n.\r\n"), true, 7, S(".\r\n"), 0 },
	{ S("...x\r\n..\r\n.\r\n"), true, 13, S("..x\r\n.\r\n"), 0 },
	{ S("a.\r\n.b\r\n.\r\n"), true, 11, S("a.\r\nb\r\n"), 0 },
	/* smuggling attempts never end the data */
	{ S("a\n.\nb\r\n.\r\n"), true, 10, S("a\n.\nb\r\n"), DOT_BARE_LF },
	{ S("a\r\n.\nb\r\n.\r\n"), true, 11, S("a\r\n\nb\r\n"), DOT_BARE_LF },
	{ S("a\n.\r\nb\r\n.\r\n"), true, 11, S("a\n.\r\nb\r\n"), DOT_BARE_LF },
	{ S("a\r.\rb\r\n.\r\n"), true, 10, S("a\r.\rb\r\n"), DOT_BARE_CR },
	{ S("a\r\n.\rb\r\n.\r\n"), true, 11, S("a\r\n\rb\r\n"), DOT_BARE_CR },
	{ S("a\r\r\n.\r\n"), true, 7, S("a\r\r\n"), DOT_BARE_CR },
	{ S("a\0b\r\n.\r\n"), true, 8, S("a\0b\r\n"), DOT_NUL },
	{ S("a\nb\rc\0\r\n.\r\n"), true, 11, S("a\nb\rc\0\r\n"), DOT_BARE_LF | DOT_BARE_CR | DOT_NUL },
	/* not finished yet */
	{ S("hello\r\n."), false, 0, S("hello\r\n"), 0 },
	{ S("hello\r\n.\r"), false, 0, S("hello\r\n"), 0 },
	{ S("hello\r\n"), false, 0, S("hello\r\n"), 0 },
	{ S(""), false, 0, S(""), 0 },
};

/* Each decode case gives the same result whole, bytewise and chunked. */
START_TEST(test_decode_table)
{
	const struct dec_case *c = &dec_cases[_i];
	size_t steps[] = { 0, 1, 2, 3, SIZE_MAX, SIZE_MAX, SIZE_MAX };
	struct sink out;
	unsigned flags;
	bool done;
	size_t s, used;

	for (s = 0; s < sizeof(steps) / sizeof(steps[0]); s++) {
		used = decode(c->in, c->inlen, steps[s], &out, &flags, &done);
		ck_assert_int_eq(done, c->done);
		if (c->done)
			ck_assert_uint_eq(used, c->consumed);
		ck_assert_uint_eq(out.len, c->outlen);
		ck_assert(out.len == 0 || memcmp(out.buf, c->out, out.len) == 0);
		ck_assert_uint_eq(flags, c->flags);
		free(out.buf);
	}
}
END_TEST

/* Whole input: the decoder emits spans into the input, not copies. */
START_TEST(test_decode_spans)
{
	static const char in[] = "line one\r\n..line two\r\nline three\r\n.\r\n";
	struct sink out;
	unsigned flags;
	bool done;

	decode(in, sizeof(in) - 1, 0, &out, &flags, &done);
	ck_assert(done);
	ck_assert_uint_eq(out.inside, out.len);
	free(out.buf);
}
END_TEST

/* After the end marker, the decoder consumes nothing more. */
START_TEST(test_decode_after_done)
{
	struct dot_decoder d;
	struct sink out;
	bool done;

	memset(&out, 0, sizeof(out));
	dot_decoder_init(&d);
	ck_assert_uint_eq(dot_decode(&d, ".\r\nX", 4, sink_emit, &out, &done), 3);
	ck_assert(done);
	ck_assert_uint_eq(dot_decode(&d, "X", 1, sink_emit, &out, &done), 0);
	ck_assert(done);
	ck_assert_uint_eq(out.len, 0);
	free(out.buf);
}
END_TEST

/* Encode `in` in chunks of `step` (0 = whole, SIZE_MAX = random), finish. */
static void
encode(const char *in, size_t len, size_t step, struct sink *out)
{
	struct dot_encoder e;
	size_t off = 0, n;

	memset(out, 0, sizeof(*out));
	out->lo = in;
	out->hi = in + len;
	dot_encoder_init(&e);
	while (off < len) {
		n = step == 0 ? len - off : step == SIZE_MAX ? 1 + (size_t)rand() % 9 : step;
		if (n > len - off)
			n = len - off;
		dot_encode(&e, in + off, n, sink_emit, out);
		off += n;
	}
	dot_encode_finish(&e, sink_emit, out);
}

struct enc_case {
	const char *in;
	const char *out;
};

static const struct enc_case enc_cases[] = {
	{ "", ".\r\n" },
	{ "a", "a\r\n.\r\n" },
	{ "a\r\n", "a\r\n.\r\n" },
	{ "a\n", "a\r\n.\r\n" },
	{ "a\r", "a\r\n.\r\n" },
	{ "a\nb\rc\r\nd", "a\r\nb\r\nc\r\nd\r\n.\r\n" },
	{ "\r\r\n\n", "\r\n\r\n\r\n.\r\n" },
	{ ".", "..\r\n.\r\n" },
	{ ".\n.\r..x\r\na.b\n", "..\r\n..\r\n...x\r\na.b\r\n.\r\n" },
	{ "x\r.y", "x\r\n..y\r\n.\r\n" },
};

/* Each encode case gives the same bytes whole, bytewise and chunked. */
START_TEST(test_encode_table)
{
	const struct enc_case *c = &enc_cases[_i];
	size_t steps[] = { 0, 1, 2, SIZE_MAX, SIZE_MAX };
	struct sink out;
	size_t s;

	for (s = 0; s < sizeof(steps) / sizeof(steps[0]); s++) {
		encode(c->in, strlen(c->in), steps[s], &out);
		ck_assert_str_eq(out.buf, c->out);
		free(out.buf);
	}
}
END_TEST

/* Whole CRLF input without leading dots is emitted as spans of the input. */
START_TEST(test_encode_spans)
{
	static const char in[] = "one\r\ntwo\r\nthree\r\n";
	struct sink out;

	encode(in, sizeof(in) - 1, 0, &out);
	ck_assert_uint_eq(out.inside, sizeof(in) - 1);
	free(out.buf);
}
END_TEST

/* x with LF, CR, CRLF made CRLF and an open last line closed. */
static char *
normalise(const char *x, size_t len, size_t *olen)
{
	char *o = malloc(len * 2 + 3);
	size_t i, n = 0;

	for (i = 0; i < len; i++) {
		if (x[i] == '\r' || x[i] == '\n') {
			if (x[i] == '\r' && i + 1 < len && x[i + 1] == '\n')
				i++;
			o[n++] = '\r';
			o[n++] = '\n';
		} else
			o[n++] = x[i];
	}
	if (n > 0 && o[n - 1] != '\n') {
		o[n++] = '\r';
		o[n++] = '\n';
	}
	*olen = n;
	return o;
}

/* A random body biased towards dots and line-end mixes. */
static size_t
random_body(char *b, size_t cap)
{
	static const char alphabet[] = "..\r\n\r\n\n\rab. x";
	size_t len = (size_t)rand() % cap, i;

	for (i = 0; i < len; i++)
		b[i] = rand() % 8 == 0 ? (char)(rand() % 256) : alphabet[rand() % (sizeof(alphabet) - 1)];
	return len;
}

/* decode(encode(x)) == normalise(x), for many random x and chunkings. */
START_TEST(test_roundtrip_property)
{
	size_t steps[] = { 0, 1, SIZE_MAX };
	char body[300];
	struct sink enc, dec;
	size_t blen, nlen, s, used;
	unsigned flags;
	bool done;
	char *want;
	int iter;

	srand(12345);
	for (iter = 0; iter < 3000; iter++) {
		blen = random_body(body, sizeof(body));
		if (iter < 3)
			blen = 0;
		for (s = 0; s < 3; s++) {
			encode(body, blen, steps[s], &enc);
			used = decode(enc.buf, enc.len, steps[(s + iter) % 3], &dec, &flags, &done);
			want = normalise(body, blen, &nlen);
			ck_assert(done);
			ck_assert_uint_eq(used, enc.len);
			ck_assert_uint_eq(flags & (DOT_BARE_CR | DOT_BARE_LF), 0);
			ck_assert_uint_eq(dec.len, nlen);
			ck_assert(nlen == 0 || memcmp(dec.buf, want, nlen) == 0);
			free(want);
			free(enc.buf);
			free(dec.buf);
		}
	}
}
END_TEST

/* dot_encode_is_identity says true exactly when encoding adds nothing but
 * the final ".\r\n": the table, then random bodies over a small alphabet. */
START_TEST(test_encode_is_identity)
{
	static const struct { const char *in; bool same; } t[] = {
		{ "", true }, { "a\r\n", true }, { "a\r\nb.c\r\n", true },
		{ "a", false }, { "a\n", false }, { "a\r", false }, { ".\r\n", false },
		{ "a\r\n.b\r\n", false }, { "a\rb\r\n", false }, { "\r\n", true },
		{ "\n", false }, { "a\r\r\n", false },
	};
	const char alphabet[] = "ab.\r\n";
	char in[64], *want;
	struct sink out;
	size_t i, k, n;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		ck_assert_msg(dot_encode_is_identity(t[i].in, strlen(t[i].in)) == t[i].same,
		    "case %zu", i);
	srand(7);
	for (i = 0; i < 20000; i++) {
		n = (size_t)rand() % 12;
		for (k = 0; k < n; k++)
			in[k] = alphabet[rand() % 5];
		in[n] = '\0';
		encode(in, n, 0, &out);
		want = malloc(n + 4);
		ck_assert_ptr_nonnull(want);
		memcpy(want, in, n);
		memcpy(want + n, ".\r\n", 4);
		ck_assert_msg(dot_encode_is_identity(in, n) ==
		    (out.len == n + 3 && memcmp(out.buf, want, n + 3) == 0), "input %zu", i);
		free(want);
		free(out.buf);
	}
}
END_TEST

/* Build the suite. */
Suite *
unit_suite(void)
{
	Suite *s = suite_create("dotstuff");
	TCase *tc = tcase_create("core");

	tcase_set_timeout(tc, 120);
	tcase_add_loop_test(tc, test_decode_table, 0, sizeof(dec_cases) / sizeof(dec_cases[0]));
	tcase_add_test(tc, test_decode_spans);
	tcase_add_test(tc, test_decode_after_done);
	tcase_add_loop_test(tc, test_encode_table, 0, sizeof(enc_cases) / sizeof(enc_cases[0]));
	tcase_add_test(tc, test_encode_spans);
	tcase_add_test(tc, test_roundtrip_property);
	tcase_add_test(tc, test_encode_is_identity);
	suite_add_tcase(s, tc);
	return s;
}
