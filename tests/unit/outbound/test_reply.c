/*
 * Unit tests for outbound/reply.c: valid single and multi-line replies,
 * enhanced codes, every kind of malformed reply, the size caps, and the
 * printable text.  Every case is fed whole and one byte at a time.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check_main.h"
#include "reply.h"

/* What one run over an input gives. */
struct got {
	enum reply_status st;
	size_t consumed;
	int code;
	char enh[16];
	size_t nlines;
	char text[600];
	enum reply_error err;
};

/* Feed `in` in `step`-byte pieces (0 = whole) until a reply or an error. */
static void
run(const char *in, size_t len, size_t step, size_t max_reply, size_t max_line, struct got *g)
{
	struct reply_parser *p = reply_parser_new(max_reply, max_line);
	size_t off = 0, n, used;

	memset(g, 0, sizeof(*g));
	g->st = REPLY_NEED_MORE;
	while (off < len && g->st == REPLY_NEED_MORE) {
		n = step == 0 || len - off < step ? len - off : step;
		g->st = reply_feed(p, in + off, n, &used);
		if (g->st != REPLY_ERROR)
			ck_assert(used == n || g->st == REPLY_DONE);
		off += used;
	}
	g->consumed = off;
	if (g->st == REPLY_DONE) {
		g->code = reply_code(p);
		snprintf(g->enh, sizeof(g->enh), "%s", reply_enhanced(p));
		g->nlines = reply_nlines(p);
		reply_printable(p, g->text, sizeof(g->text));
	}
	g->err = reply_error(p);
	reply_parser_free(p);
}

struct rcase {
	const char *in;
	enum reply_status st;
	size_t consumed;	/* for DONE */
	int code;
	const char *enh;
	size_t nlines;
	const char *text;
	enum reply_error err;
};

#define DONE(in, used, code, enh, nl, text) { in, REPLY_DONE, used, code, enh, nl, text, REPLY_ERR_NONE }
#define ERR(in, e) { in, REPLY_ERROR, 0, 0, "", 0, "", e }
#define MORE(in) { in, REPLY_NEED_MORE, 0, 0, "", 0, "", REPLY_ERR_NONE }

static const struct rcase cases[] = {
	DONE("220 mx.example.com ESMTP\r\n", 26, 220, "", 1, "220 mx.example.com ESMTP"),
	DONE("250 2.1.0 Ok\r\n", 14, 250, "2.1.0", 1, "250 2.1.0 Ok"),
	DONE("550 5.1.1 <bob@x>: unknown\r\n250 ok\r\n", 28, 550, "5.1.1", 1, "550 5.1.1 <bob@x>: unknown"),
	DONE("250\r\n", 5, 250, "", 1, "250"),
	DONE("250 \r\n", 6, 250, "", 1, "250"),
	DONE("250\n", 4, 250, "", 1, "250"),
	DONE("250-mx\r\n250-PIPELINING\r\n250-SIZE 1000\r\n250 8BITMIME\r\n", 53, 250, "", 4,
	     "250 mx PIPELINING SIZE 1000 8BITMIME"),
	DONE("250-first\r\n250\r\n", 16, 250, "", 2, "250 first"),
	DONE("451 4.7.1 greylisted, try later\r\n", 33, 451, "4.7.1", 1, "451 4.7.1 greylisted, try later"),
	/* an enhanced code of the wrong class is not an enhanced code */
	DONE("250 5.1.1 odd\r\n", 15, 250, "", 1, "250 5.1.1 odd"),
	DONE("550 5.1.10 x\r\n", 14, 550, "5.1.10", 1, "550 5.1.10 x"),
	DONE("550 5.1\r\n", 9, 550, "", 1, "550 5.1"),
	DONE("550 5.1.1000 x\r\n", 16, 550, "", 1, "550 5.1.1000 x"),
	DONE("554 5.7.1\r\n", 11, 554, "5.7.1", 1, "554 5.7.1"),
	/* peer bytes are escaped */
	DONE("550 a\tb\\c\x01\xff\r\n", 13, 550, "", 1, "550 a\\x09b\\x5cc\\x01\\xff"),
	MORE("250-more to come\r\n"),
	MORE("250 no line end"),
	MORE(""),
	ERR("abc\r\n", REPLY_ERR_SYNTAX),
	ERR("25\r\n", REPLY_ERR_SYNTAX),
	ERR("\r\n", REPLY_ERR_SYNTAX),
	ERR("250x\r\n", REPLY_ERR_SYNTAX),
	ERR("2500 ok\r\n", REPLY_ERR_SYNTAX),
	ERR(" 250 ok\r\n", REPLY_ERR_SYNTAX),
	ERR("600 x\r\n", REPLY_ERR_CODE),
	ERR("100 x\r\n", REPLY_ERR_CODE),
	ERR("199 x\r\n", REPLY_ERR_CODE),
	ERR("260 x\r\n", REPLY_ERR_CODE),
	ERR("250-a\r\n251 b\r\n", REPLY_ERR_MISMATCH),
	ERR("250-a\r\n550-b\r\n250 c\r\n", REPLY_ERR_MISMATCH),
	ERR("250-a\r\nxyz\r\n", REPLY_ERR_SYNTAX),
};

/* Each case gives the wanted outcome whole and bytewise. */
START_TEST(test_table)
{
	const struct rcase *c = &cases[_i];
	size_t steps[] = { 0, 1, 2, 5 };
	struct got g;
	size_t s;

	for (s = 0; s < 4; s++) {
		run(c->in, strlen(c->in), steps[s], 0, 0, &g);
		ck_assert_int_eq(g.st, c->st);
		ck_assert_int_eq(g.err, c->err);
		if (c->st != REPLY_DONE)
			continue;
		ck_assert_uint_eq(g.consumed, c->consumed);
		ck_assert_int_eq(g.code, c->code);
		ck_assert_str_eq(g.enh, c->enh);
		ck_assert_uint_eq(g.nlines, c->nlines);
		ck_assert_str_eq(g.text, c->text);
	}
}
END_TEST

/* Build "250-xxxx\r\n" lines until `total` bytes, then a last line. */
static char *
big_reply(size_t total, size_t linelen)
{
	char *b = malloc(total + linelen + 16);
	size_t n = 0;

	ck_assert_ptr_nonnull(b);
	while (n + linelen < total) {
		memcpy(b + n, "250-", 4);
		memset(b + n + 4, 'x', linelen - 6);
		memcpy(b + n + linelen - 2, "\r\n", 2);
		n += linelen;
	}
	memcpy(b + n, "250 end\r\n", 10);
	return b;
}

/* A 100 KB reply is refused by the 64 KiB default cap, whole and bytewise. */
START_TEST(test_too_large)
{
	char *b = big_reply(100 * 1024, 100);
	struct got g;

	run(b, strlen(b), 0, 0, 0, &g);
	ck_assert_int_eq(g.st, REPLY_ERROR);
	ck_assert_int_eq(g.err, REPLY_ERR_TOO_LARGE);
	run(b, strlen(b), 1, 0, 0, &g);
	ck_assert_int_eq(g.st, REPLY_ERROR);
	ck_assert_int_eq(g.err, REPLY_ERR_TOO_LARGE);
	/* but with a larger cap it is a valid reply */
	run(b, strlen(b), 0, 200 * 1024, 0, &g);
	ck_assert_int_eq(g.st, REPLY_DONE);
	ck_assert_uint_eq(g.nlines, 1024);
	ck_assert_uint_eq(strlen(g.text), sizeof(g.text) - 1);
	ck_assert_str_eq(g.text + strlen(g.text) - 3, "...");
	free(b);
}
END_TEST

/* A single 100 KB line hits the line cap first; the caps are exact. */
START_TEST(test_line_cap)
{
	char *b = malloc(100 * 1024 + 8);
	struct got g;

	ck_assert_ptr_nonnull(b);
	memcpy(b, "250 ", 4);
	memset(b + 4, 'y', 100 * 1024);
	memcpy(b + 4 + 100 * 1024, "\r\n", 3);
	run(b, strlen(b), 0, 0, 0, &g);
	ck_assert_int_eq(g.err, REPLY_ERR_LINE_TOO_LONG);
	run(b, strlen(b), 1, 0, 0, &g);
	ck_assert_int_eq(g.err, REPLY_ERR_LINE_TOO_LONG);
	/* "250 ab\r\n" is 8 bytes: fits a line cap of 8, not of 7 */
	run("250 ab\r\n", 8, 1, 0, 8, &g);
	ck_assert_int_eq(g.st, REPLY_DONE);
	run("250 ab\r\n", 8, 0, 0, 7, &g);
	ck_assert_int_eq(g.err, REPLY_ERR_LINE_TOO_LONG);
	run("250-ab\r\n250 c\r\n", 15, 1, 15, 0, &g);
	ck_assert_int_eq(g.st, REPLY_DONE);
	run("250-ab\r\n250 c\r\n", 15, 0, 14, 0, &g);
	ck_assert_int_eq(g.err, REPLY_ERR_TOO_LARGE);
	free(b);
}
END_TEST

/* Several replies back to back: each feed stops after one reply. */
START_TEST(test_sequence)
{
	static const char in[] = "250 a\r\n250-b\r\n250 c\r\n354 go\r\n";
	struct reply_parser *p = reply_parser_new(0, 0);
	int codes[3], k = 0;
	size_t off = 0, used, len;

	while (off < sizeof(in) - 1) {
		if (reply_feed(p, in + off, sizeof(in) - 1 - off, &used) == REPLY_DONE)
			codes[k++] = reply_code(p);
		off += used;
	}
	ck_assert_int_eq(k, 3);
	ck_assert_int_eq(codes[0], 250);
	ck_assert_int_eq(codes[2], 354);
	ck_assert(memcmp(reply_line(p, 0, &len), "go", 2) == 0);
	ck_assert_uint_eq(len, 2);
	/* errors are sticky until reset */
	ck_assert_int_eq(reply_feed(p, "xx\r\n", 4, &used), REPLY_ERROR);
	ck_assert_int_eq(reply_feed(p, "250 ok\r\n", 8, &used), REPLY_ERROR);
	reply_parser_reset(p);
	ck_assert_int_eq(reply_feed(p, "250 ok\r\n", 8, &used), REPLY_DONE);
	reply_parser_free(p);
}
END_TEST

/* The printable text is capped with "..." and never overflows. */
START_TEST(test_escape_cap)
{
	char buf[8];

	ck_assert_str_eq(reply_escape("abc", 3, buf, sizeof(buf)), "abc");
	ck_assert_str_eq(reply_escape("abcdefgh", 8, buf, sizeof(buf)), "abcd...");
	ck_assert_str_eq(reply_escape("ab\x01", 3, buf, sizeof(buf)), "ab\\x01");
	ck_assert_str_eq(reply_escape("abcd\x01", 5, buf, sizeof(buf)), "abcd...");
}
END_TEST

/* Build the suite. */
Suite *
unit_suite(void)
{
	Suite *s = suite_create("reply");
	TCase *tc = tcase_create("core");

	tcase_set_timeout(tc, 30);
	tcase_add_loop_test(tc, test_table, 0, sizeof(cases) / sizeof(cases[0]));
	tcase_add_test(tc, test_too_large);
	tcase_add_test(tc, test_line_cap);
	tcase_add_test(tc, test_sequence);
	tcase_add_test(tc, test_escape_cap);
	suite_add_tcase(s, tc);
	return s;
}
