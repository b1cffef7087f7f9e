/*
 * Unit tests of common/escape.c: each named policy on a table of inputs
 * (kept, replaced, \xHH, cut with or without "..."), each case also fed
 * to the writer one byte at a time, which must give the same text; the
 * writer mixing our own text with foreign bytes; in-place use.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "check_main.h"
#include "escape.h"

struct esc_case {
	enum escape_policy policy;
	const char *in;
	size_t len;		/* 0: strlen(in) */
	size_t bufsz;
	const char *want;
};

static const struct esc_case cases[] = {
	{ ESCAPE_LOG, "plain text", 0, 64, "plain text" },
	{ ESCAPE_LOG, "a\"b=c\\d", 0, 64, "a\\x22b\\x3dc\\x5cd" },
	{ ESCAPE_LOG, "cr\r\nlf\x7f\xc3\xa9", 0, 64, "cr\\x0d\\x0alf\\x7f\\xc3\\xa9" },
	{ ESCAPE_LOG, "nul\0x", 5, 64, "nul\\x00x" },
	{ ESCAPE_LOG, "abcdefghijk", 0, 10, "abcdef..." },
	{ ESCAPE_LOG, "abcdefghi", 0, 10, "abcdefghi" },
	{ ESCAPE_LOG, "abcde\x01xyz", 0, 10, "abcde..." },	/* no half escape */
	{ ESCAPE_LOG, "abc", 0, 3, ".." },
	{ ESCAPE_LOG, "abc", 0, 1, "" },
	{ ESCAPE_REPLY, "550 5.1.1 <x@y>: \"no\" = gone", 0, 64,
	  "550 5.1.1 <x@y>: \"no\" = gone" },
	{ ESCAPE_REPLY, "a\\b\tc\x80", 0, 64, "a\\x5cb\\x09c\\x80" },
	{ ESCAPE_REPLY, "0123456789", 0, 8, "0123..." },
	{ ESCAPE_REPLY, "01\x02", 0, 7, "01\\x02" },
	{ ESCAPE_REPLY, "012\x02", 0, 7, "012..." },
	{ ESCAPE_HEADER, "Subject\tline\r\nx\x7f\xc3\xa9", 0, 64, "Subject line  x ??" },
	{ ESCAPE_HEADER, "a\"b\\c=d", 0, 64, "a\"b\\c=d" },
	{ ESCAPE_HEADER, "abcdef", 0, 4, "abc" },
	{ ESCAPE_WORD, "mail.example.org", 0, 64, "mail.example.org" },
	{ ESCAPE_WORD, "a b(c)\x01\xff", 0, 64, "a?b?c???" },
	{ ESCAPE_WORD, "abcdef", 0, 4, "abc" },
	{ ESCAPE_CONTROLS, "x\x1b[31mred\x7f\n\xc3\xa9", 0, 64, "x?[31mred??\xc3\xa9" },
	{ ESCAPE_CONTROLS, "a\"=\\", 0, 64, "a\"=\\" },
	{ ESCAPE_CONTROLS, "abcdef", 0, 3, "ab" },
};

/* Each case, the input given whole. */
START_TEST(whole)
{
	const struct esc_case *c = &cases[_i];
	size_t len = c->len ? c->len : strlen(c->in);
	char buf[64];
	const char *r = escape_text(c->policy, c->in, len, buf, c->bufsz);

	ck_assert_ptr_eq(r, buf);
	ck_assert_msg(strcmp(buf, c->want) == 0, "case %d: got \"%s\" want \"%s\"", _i,
	    buf, c->want);
}
END_TEST

/* Each case, the input fed to the writer one byte at a time. */
START_TEST(bytewise)
{
	const struct esc_case *c = &cases[_i];
	size_t len = c->len ? c->len : strlen(c->in);
	struct escape_out e;
	char buf[64];

	escape_start(&e, c->policy, buf, c->bufsz);
	for (size_t i = 0; i < len; i++)
		escape_bytes(&e, c->in + i, 1);
	escape_finish(&e);
	ck_assert_msg(strcmp(buf, c->want) == 0, "case %d: got \"%s\" want \"%s\"", _i,
	    buf, c->want);
}
END_TEST

/* Our own text goes in as it is, all or nothing, and a cut after it
 * keeps it whole. */
START_TEST(raw_and_foreign)
{
	struct escape_out e;
	char buf[16];

	escape_start(&e, ESCAPE_REPLY, buf, sizeof(buf));
	escape_raw(&e, "250", 3);
	escape_raw(&e, " ", 1);
	escape_bytes(&e, "ok\\", 3);
	ck_assert_str_eq(escape_finish(&e), "250 ok\\x5c");
	escape_start(&e, ESCAPE_REPLY, buf, 8);
	escape_raw(&e, "421", 3);
	escape_raw(&e, " ", 1);
	escape_bytes(&e, "closing", 7);
	ck_assert_str_eq(escape_finish(&e), "421 ...");
	/* a zero-sized buffer is left alone */
	buf[0] = 'z';
	escape_text(ESCAPE_LOG, "x", 1, buf, 0);
	ck_assert_int_eq(buf[0], 'z');
}
END_TEST

/* The byte-for-byte policies may work in place. */
START_TEST(in_place)
{
	char s[] = "a\r\nb\x7f";

	escape_text(ESCAPE_CONTROLS, s, strlen(s), s, sizeof(s));
	ck_assert_str_eq(s, "a??b?");
}
END_TEST

Suite *
unit_suite(void)
{
	Suite *s = suite_create("escape");
	TCase *tc = tcase_create("core");
	int n = (int)(sizeof(cases) / sizeof(cases[0]));

	tcase_add_loop_test(tc, whole, 0, n);
	tcase_add_loop_test(tc, bytewise, 0, n);
	tcase_add_test(tc, raw_and_foreign);
	tcase_add_test(tc, in_place);
	suite_add_tcase(s, tc);
	return s;
}
