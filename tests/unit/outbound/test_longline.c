/*
 * Unit tests for outbound/longline.c: the quoted-printable encoder fed
 * whole and one byte at a time gives the same bytes, lines of at most 76
 * characters, printable ASCII only, and decodes back to its input; and
 * longline_fix() on whole messages: unchanged at 998, re-encoded
 * (quoted-printable, base64, a broken quoted-printable again, base64
 * re-wrapped) with the MIME fields right and the decoded body unchanged,
 * refused for multipart, message and unknown encodings.
 */
#include <check.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "check_main.h"
#include "longline.h"
#include "strbuf.h"

/* A string of n copies of c followed by tail (malloc'd). */
static char *
run_of(char c, size_t n, const char *tail)
{
	char *s = malloc(n + strlen(tail) + 1);

	memset(s, c, n);
	strcpy(s + n, tail);
	return s;
}

/* Every line of s[0..n) (CRLF ends) is at most max characters. */
static void
assert_lines_within(const char *s, size_t n, size_t max)
{
	size_t i, col = 0;

	for (i = 0; i < n; i++) {
		if (s[i] == '\n') {
			ck_assert_msg(i > 0 && s[i - 1] == '\r', "bare LF at %zu", i);
			col = 0;
			continue;
		}
		if (s[i] != '\r')
			ck_assert_msg(++col <= max, "a line over %zu at %zu", max, i);
	}
}

/* The encoder's output is 7-bit printable text (tabs allowed) with CRLF ends. */
static void
assert_qp_clean(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '\r')
			ck_assert(i + 1 < n && s[i + 1] == '\n');
		else if (c != '\n' && c != '\t')
			ck_assert_msg(c >= 32 && c <= 126, "byte %u at %zu", c, i);
		if (c == '\n' && i >= 2)	/* no white space at a line end */
			ck_assert(s[i - 2] != ' ' && s[i - 2] != '\t');
	}
}

static const char *const qp_inputs[] = {
	"",
	"hello world\r\n",
	"trailing space \r\ntrailing tab\t\r\n",
	"a=b, 100% =\r\n",
	"caf\xc3\xa9 na\xc3\xafve \xff\x00 end\r\n",
	"lone CR\rhere and a bare LF\nthere\r\n",
	"no final line end ",
	"\r\n\r\n.\r\n..leading dots\r\n",
	"ends with CR\r",
	"  \t \r\n",
};

/* Encode s whole and one byte at a time. */
static void
qp_both(const char *s, size_t n, struct strbuf *whole, struct strbuf *bytes)
{
	struct qp_enc q;
	size_t i;

	qp_enc_init(&q);
	qp_enc_feed(&q, s, n, whole);
	qp_enc_finish(&q, whole);
	qp_enc_init(&q);
	for (i = 0; i < n; i++)
		qp_enc_feed(&q, s + i, 1, bytes);
	qp_enc_finish(&q, bytes);
}

/* Whole or byte by byte: the same bytes, clean, short lines, decodes back. */
static void
check_qp_roundtrip(const char *s, size_t n)
{
	struct strbuf w = { NULL, 0, 0 }, b = { NULL, 0, 0 }, d = { NULL, 0, 0 };

	qp_both(s, n, &w, &b);
	ck_assert_uint_eq(w.len, b.len);
	ck_assert(w.len == 0 || memcmp(w.p, b.p, w.len) == 0);
	assert_qp_clean(w.p, w.len);
	assert_lines_within(w.p, w.len, LONGLINE_QP_MAX);
	qp_decode(w.p != NULL ? w.p : "", w.len, &d);
	ck_assert_uint_eq(d.len, n);
	ck_assert(n == 0 || memcmp(d.p, s, n) == 0);
	free(w.p);
	free(b.p);
	free(d.p);
}

START_TEST(qp_table)
{
	const char *s = qp_inputs[_i];
	size_t n = _i == 4 ? 21 : strlen(s);	/* case 4 holds a NUL */

	check_qp_roundtrip(s, n);
}
END_TEST

/* Long runs: soft breaks land anywhere (before "=XX", after spaces). */
START_TEST(qp_long_runs)
{
	static const char fill[] = { 'a', ' ', '=', '\xe9', '\t' };
	size_t f, n;
	char *s;

	for (f = 0; f < sizeof(fill); f++)
		for (n = 70; n < 80; n++) {
			s = run_of(fill[f], n, "\r\nx\r\n");
			check_qp_roundtrip(s, strlen(s));
			free(s);
		}
	s = run_of('x', 5000, "\r\n");
	check_qp_roundtrip(s, strlen(s));
	free(s);
}
END_TEST

/* The body of a message (after the blank line). */
static const char *
body_of(const char *m, size_t n, size_t *blen)
{
	const char *sep = memmem(m, n, "\r\n\r\n", 4);

	ck_assert_ptr_nonnull(sep);
	*blen = n - (size_t)(sep + 4 - m);
	return sep + 4;
}

/* The number of header fields named name in the header of m. */
static int
count_fields(const char *m, size_t n, const char *name)
{
	const char *sep = memmem(m, n, "\r\n\r\n", 4), *p = m;
	size_t k = strlen(name);
	int c = 0;

	while (p < sep + 2) {
		if (strncasecmp(p, name, k) == 0 && p[k] == ':')
			c++;
		p = memchr(p, '\n', (size_t)(sep + 2 - p)) + 1;
	}
	return c;
}

/* true when the header of m has the line (whole, CRLF-ended). */
static bool
has_line(const char *m, size_t n, const char *line)
{
	const char *sep = memmem(m, n, "\r\n\r\n", 4);
	char *want;
	bool found;

	if (asprintf(&want, "\n%s\r\n", line) < 0)
		return false;
	found = memmem(m, (size_t)(sep + 2 - m), want, strlen(want)) != NULL ||
	    (strncmp(m, want + 1, strlen(want + 1)) == 0);
	free(want);
	return found;
}

/* base64 decoding for the checks (white space skipped). */
static void
b64_decode(const char *s, size_t n, struct strbuf *out)
{
	static const char tab[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	unsigned v = 0, bits = 0;
	size_t i;
	char c;

	for (i = 0; i < n; i++) {
		const char *p = s[i] != '\0' ? strchr(tab, s[i]) : NULL;
		if (p == NULL)
			continue;
		v = (v << 6) | (unsigned)(p - tab);
		if ((bits += 6) >= 8) {
			bits -= 8;
			c = (char)((v >> bits) & 0xff);
			strbuf_add(out, &c, 1);
		}
	}
}

/* A message: header text, then a body with a line of n x's in it. */
static char *
msg_with(const char *header, size_t n, size_t *len)
{
	char *line = run_of('x', n, ""), *m;

	if (asprintf(&m, "%s\r\nfirst line\r\n%s\r\nlast line \r\n", header, line) < 0)
		m = NULL;
	free(line);
	*len = strlen(m);
	return m;
}

START_TEST(limit_is_998)
{
	struct longline_result r;
	size_t len, outlen;
	char *m = msg_with("Subject: x\r\n", 998, &len), *out;

	ck_assert_int_eq(longline_fix(m, len, &out, &outlen, &r), LONGLINE_OK);
	ck_assert_ptr_null(out);
	ck_assert_uint_eq(r.longest, 998);
	free(m);
	m = msg_with("Subject: x\r\n", 999, &len);
	ck_assert_int_eq(longline_fix(m, len, &out, &outlen, &r), LONGLINE_FIXED);
	ck_assert_uint_eq(r.longest, 999);
	ck_assert_uint_eq(r.line, 2);
	free(out);
	free(m);
	/* headers only, and a header line that is long: untouched */
	m = strdup("Subject: x\r\nX-Long: aaaa\r\n");
	ck_assert_int_eq(longline_fix(m, strlen(m), &out, &outlen, &r), LONGLINE_OK);
	free(m);
}
END_TEST

/* Re-encoding cases: header given, encoding expected, extra header lines. */
static const struct {
	const char *header;
	const char *enc;
	const char *added;	/* a line the new header must have, or NULL */
	bool mime_added;
} fixes[] = {
	{ "Subject: plain\r\n", "quoted-printable", NULL, true },
	{ "Subject: t\r\nMIME-Version: 1.0\r\nContent-Type: text/html; charset=utf-8\r\n"
	    "Content-Transfer-Encoding: 8bit\r\n", "quoted-printable",
	    "Content-Type: text/html; charset=utf-8", false },
	{ "Content-Type: (a comment) TEXT/Plain\r\nContent-Transfer-Encoding:\r\n 7BIT\r\n",
	    "quoted-printable", NULL, true },
	{ "MIME-Version: 1.0\r\nContent-Type: application/json\r\n", "base64",
	    "Content-Type: application/json", false },
	{ "MIME-Version: 1.0\r\nContent-Type: image/png\r\nContent-Transfer-Encoding: binary\r\n",
	    "base64", NULL, false },
};

/* The decoded body of a fixed message equals the original body. */
START_TEST(fix_table)
{
	struct strbuf dec = { NULL, 0, 0 };
	struct longline_result r;
	size_t len, outlen, blen, oblen;
	char *m = msg_with(fixes[_i].header, 5000, &len), *out, *want;
	const char *body, *obody;

	ck_assert_int_eq(longline_fix(m, len, &out, &outlen, &r), LONGLINE_FIXED);
	ck_assert_str_eq(r.encoding, fixes[_i].enc);
	assert_lines_within(out, outlen, LONGLINE_MAX);
	ck_assert_int_eq(count_fields(out, outlen, "Content-Transfer-Encoding"), 1);
	ck_assert_int_eq(count_fields(out, outlen, "MIME-Version"), 1);
	if (asprintf(&want, "Content-Transfer-Encoding: %s", fixes[_i].enc) < 0)
		ck_abort();
	ck_assert(has_line(out, outlen, want));
	free(want);
	ck_assert(has_line(out, outlen, "MIME-Version: 1.0") == true);
	if (fixes[_i].added != NULL)
		ck_assert(has_line(out, outlen, fixes[_i].added));
	body = body_of(out, outlen, &blen);
	obody = body_of(m, len, &oblen);
	if (strcmp(fixes[_i].enc, "base64") == 0)
		b64_decode(body, blen, &dec);
	else
		qp_decode(body, blen, &dec);
	ck_assert_uint_eq(dec.len, oblen);
	ck_assert(memcmp(dec.p, obody, oblen) == 0);
	free(dec.p);
	free(out);
	free(m);
}
END_TEST

/* 8-bit text without Content-Type gets one: utf-8 when it is, else
 * unknown-8bit. */
START_TEST(charset_labels)
{
	struct longline_result r;
	size_t len, outlen;
	char *m, *out, *line = run_of('a', 1200, "");

	if (asprintf(&m, "Subject: x\r\n\r\ncaf\xc3\xa9 %s\r\n", line) < 0)
		ck_abort();
	len = strlen(m);
	ck_assert_int_eq(longline_fix(m, len, &out, &outlen, &r), LONGLINE_FIXED);
	ck_assert(has_line(out, outlen, "Content-Type: text/plain; charset=utf-8"));
	free(out);
	free(m);
	if (asprintf(&m, "Subject: x\r\n\r\ncaf\xe9 %s\r\n", line) < 0)
		ck_abort();
	len = strlen(m);
	ck_assert_int_eq(longline_fix(m, len, &out, &outlen, &r), LONGLINE_FIXED);
	ck_assert(has_line(out, outlen, "Content-Type: text/plain; charset=unknown-8bit"));
	free(out);
	free(m);
	free(line);
}
END_TEST

/* A broken quoted-printable body is decoded and encoded again; a base64
 * one is re-wrapped: the decoded content is the same. */
START_TEST(reencode_existing)
{
	struct strbuf d1 = { NULL, 0, 0 }, d2 = { NULL, 0, 0 };
	struct longline_result r;
	size_t len, outlen, blen, oblen;
	char *m, *out, *run = run_of('Q', 3000, "");
	const char *body, *obody;

	if (asprintf(&m, "Content-Transfer-Encoding: quoted-printable\r\n\r\n"
	    "%s=C3=A9=\r\nsoft\r\n", run) < 0)
		ck_abort();
	len = strlen(m);
	ck_assert_int_eq(longline_fix(m, len, &out, &outlen, &r), LONGLINE_FIXED);
	ck_assert_str_eq(r.encoding, "quoted-printable");
	assert_lines_within(out, outlen, LONGLINE_QP_MAX);
	body = body_of(out, outlen, &blen);
	obody = body_of(m, len, &oblen);
	qp_decode(body, blen, &d1);
	qp_decode(obody, oblen, &d2);
	ck_assert_uint_eq(d1.len, d2.len);
	ck_assert(memcmp(d1.p, d2.p, d1.len) == 0);
	free(d1.p), free(d2.p), free(out), free(m);
	d1.p = d2.p = NULL, d1.len = d2.len = d1.cap = d2.cap = 0;
	run[2999] = '=';	/* a base64 run with its padding */
	if (asprintf(&m, "Content-Type: application/pdf\r\nContent-Transfer-Encoding: base64"
	    "\r\n\r\n%s\r\n", run) < 0)
		ck_abort();
	len = strlen(m);
	ck_assert_int_eq(longline_fix(m, len, &out, &outlen, &r), LONGLINE_FIXED);
	ck_assert_str_eq(r.encoding, "base64");
	assert_lines_within(out, outlen, 76);
	body = body_of(out, outlen, &blen);
	obody = body_of(m, len, &oblen);
	b64_decode(body, blen, &d1);
	b64_decode(obody, oblen, &d2);
	ck_assert_uint_eq(d1.len, d2.len);
	ck_assert(memcmp(d1.p, d2.p, d1.len) == 0);
	free(d1.p), free(d2.p), free(out), free(m), free(run);
}
END_TEST

static const struct {
	const char *header;
	const char *why;	/* in r.why */
} refusals[] = {
	{ "MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"b\"\r\n",
	    "multipart/mixed message" },
	{ "Content-Type: message/rfc822\r\n", "message/rfc822 message" },
	{ "Content-Transfer-Encoding: x-uuencode\r\n", "unknown encoding \"x-uuencode\"" },
};

START_TEST(refuse_table)
{
	struct longline_result r;
	size_t len, outlen;
	char *m = msg_with(refusals[_i].header, 2000, &len), *out;

	ck_assert_int_eq(longline_fix(m, len, &out, &outlen, &r), LONGLINE_REFUSE);
	ck_assert_ptr_null(out);
	ck_assert_msg(strstr(r.why, refusals[_i].why) != NULL, "%s", r.why);
	ck_assert_msg(strstr(r.why, "2000 characters") != NULL, "%s", r.why);
	free(m);
}
END_TEST

Suite *
unit_suite(void)
{
	Suite *s = suite_create("longline");
	TCase *tc = tcase_create("core");

	tcase_add_loop_test(tc, qp_table, 0, (int)(sizeof(qp_inputs) / sizeof(qp_inputs[0])));
	tcase_add_test(tc, qp_long_runs);
	tcase_add_test(tc, limit_is_998);
	tcase_add_loop_test(tc, fix_table, 0, (int)(sizeof(fixes) / sizeof(fixes[0])));
	tcase_add_test(tc, charset_labels);
	tcase_add_test(tc, reencode_existing);
	tcase_add_loop_test(tc, refuse_table, 0, (int)(sizeof(refusals) / sizeof(refusals[0])));
	suite_add_tcase(s, tc);
	return s;
}
