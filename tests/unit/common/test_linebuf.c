/*
 * Unit tests for common/linebuf.c: line ends, bare LF, the length cap and
 * skip mode.  Every case is fed whole and one byte at a time (the bytes
 * accumulate in a buffer the way an evbuffer would).
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check_main.h"
#include "linebuf.h"

#define MAXEV 16

/* What a caller sees: lines (with a bare-LF mark) and TOO_LONG reports. */
struct outcome {
	char ev[MAXEV][64];
	int nev;
};

/* Run the documented calling loop over `have` and record events. */
static size_t
drain(struct linebuf *lb, char *have, size_t hlen, struct outcome *o)
{
	enum linebuf_result r;
	size_t ll, used;
	bool bare;

	for (;;) {
		r = linebuf_next(lb, have, hlen, &ll, &used, &bare);
		if (r == LINEBUF_LINE && o->nev < MAXEV)
			snprintf(o->ev[o->nev++], 64, "%s%.*s", bare ? "LF:" : "L:", (int)ll, have);
		if (r == LINEBUF_TOO_LONG && o->nev < MAXEV)
			snprintf(o->ev[o->nev++], 64, "TOOLONG");
		memmove(have, have + used, hlen - used);
		hlen -= used;
		if (r == LINEBUF_NEED_MORE && used == 0)
			return hlen;
	}
}

/* Feed `in` in chunks of `step` bytes (0 = whole). */
static void
run(const char *in, size_t max, size_t step, struct outcome *o)
{
	struct linebuf lb;
	size_t len = strlen(in), off = 0, hlen = 0, n;
	char *have = malloc(len + 1);

	memset(o, 0, sizeof(*o));
	linebuf_init(&lb, max);
	while (off < len) {
		n = step == 0 || len - off < step ? len - off : step;
		memcpy(have + hlen, in + off, n);
		hlen += n;
		off += n;
		hlen = drain(&lb, have, hlen, o);
	}
	free(have);
}

struct lb_case {
	const char *in;
	size_t max;
	const char *want[MAXEV];
};

static const struct lb_case cases[] = {
	{ "", 10, { NULL } },
	{ "abc", 10, { NULL } },
	{ "abc\r\n", 10, { "L:abc", NULL } },
	{ "abc\n", 10, { "LF:abc", NULL } },
	{ "\r\n\n", 10, { "L:", "LF:", NULL } },
	{ "a\rb\r\n", 10, { "L:a\rb", NULL } },
	{ "EHLO x\r\nMAIL\r\nQUIT\r\n", 10, { "L:EHLO x", "L:MAIL", "L:QUIT", NULL } },
	/* exactly max bytes including CRLF is accepted */
	{ "abcdefgh\r\nx\r\n", 10, { "L:abcdefgh", "L:x", NULL } },
	/* one more is too long: reported once, then skipped to LF, in sync */
	{ "abcdefghi\r\nx\r\n", 10, { "TOOLONG", "L:x", NULL } },
	{ "0123456789012345678901234567890123\r\nQUIT\r\n", 10, { "TOOLONG", "L:QUIT", NULL } },
	{ "0123456789012345678901234567890123\nA\r\n" "0123456789abcdef\r\nB\n", 10,
	  { "TOOLONG", "L:A", "TOOLONG", "LF:B", NULL } },
	/* max bytes with no LF yet is already too long */
	{ "abcdefghi\r", 10, { "TOOLONG", NULL } },
};

/* Each table case, whole and one byte at a time, gives the wanted events. */
START_TEST(test_table)
{
	const struct lb_case *c = &cases[_i];
	size_t steps[] = { 0, 1, 2, 3, 7 };
	struct outcome o;
	size_t s;
	int k;

	for (s = 0; s < sizeof(steps) / sizeof(steps[0]); s++) {
		run(c->in, c->max, steps[s], &o);
		for (k = 0; c->want[k] != NULL; k++) {
			ck_assert_int_lt(k, o.nev);
			ck_assert_str_eq(o.ev[k], c->want[k]);
		}
		ck_assert_int_eq(o.nev, k);
	}
}
END_TEST

/* A complete line reports its length and what to consume. */
START_TEST(test_consumed)
{
	struct linebuf lb;
	size_t ll, used;
	bool bare;

	linebuf_init(&lb, 100);
	ck_assert_int_eq(linebuf_next(&lb, "ab\r\ncd", 6, &ll, &used, &bare), LINEBUF_LINE);
	ck_assert_uint_eq(ll, 2);
	ck_assert_uint_eq(used, 4);
	ck_assert(!bare);
	ck_assert_int_eq(linebuf_next(&lb, "cd", 2, &ll, &used, &bare), LINEBUF_NEED_MORE);
	ck_assert_uint_eq(used, 0);
}
END_TEST

/* Build the suite. */
Suite *
unit_suite(void)
{
	Suite *s = suite_create("linebuf");
	TCase *tc = tcase_create("core");

	tcase_add_loop_test(tc, test_table, 0, sizeof(cases) / sizeof(cases[0]));
	tcase_add_test(tc, test_consumed);
	suite_add_tcase(s, tc);
	return s;
}
