/*
 * Unit tests for smtp_addr: a table of paths with the flags, the expected
 * result, the mailbox text and the bytes consumed.  Each case is parsed
 * from an exact-size heap copy (so ASan sees any over-read), and every
 * proper prefix of each input is parsed too: a prefix must never succeed
 * with more bytes consumed than it has.
 */
#include <check.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check_main.h"
#include "smtp_addr.h"

struct acase {
	const char *in;
	size_t in_len;			/* 0: strlen(in) */
	unsigned flags;
	enum smtp_addr_err want;
	const char *out;		/* for SMTP_ADDR_OK */
	size_t consumed;		/* for SMTP_ADDR_OK; 0: whole input */
};

#define NUL_OK SMTP_ADDR_ALLOW_NULL
#define U8 SMTP_ADDR_UTF8
#define BARE SMTP_ADDR_NO_BRACKETS_OK
#define PM SMTP_ADDR_POSTMASTER_OK

static const struct acase cases[] = {
	{ "<a@b.example>", 0, 0, SMTP_ADDR_OK, "a@b.example", 0 },
	{ "<a@b.example> SIZE=10", 0, 0, SMTP_ADDR_OK, "a@b.example", 13 },
	{ "<First.Last+tag@Example.COM>", 0, 0, SMTP_ADDR_OK, "First.Last+tag@Example.COM", 0 },
	{ "<!#$%&'*+-/=?^_`{|}~@x.test>", 0, 0, SMTP_ADDR_OK, "!#$%&'*+-/=?^_`{|}~@x.test", 0 },
	{ "<>", 0, NUL_OK, SMTP_ADDR_OK, "", 0 },
	{ "<>", 0, 0, SMTP_ADDR_NULL, NULL, 0 },
	{ "<\"john doe\"@x.test>", 0, 0, SMTP_ADDR_OK, "\"john doe\"@x.test", 0 },
	{ "<\"a\\\"b\"@x.test>", 0, 0, SMTP_ADDR_OK, "\"a\\\"b\"@x.test", 0 },
	{ "<\"a@b\"@x.test>", 0, 0, SMTP_ADDR_OK, "\"a@b\"@x.test", 0 },
	{ "<\"\"@x.test>", 0, 0, SMTP_ADDR_OK, "\"\"@x.test", 0 },
	{ "<\"abc@x.test>", 0, 0, SMTP_ADDR_SYNTAX, NULL, 0 },
	{ "<\"a\x01\"@x.test>", 0, 0, SMTP_ADDR_SYNTAX, NULL, 0 },
	{ "<\"a\\\x01\"@x.test>", 0, 0, SMTP_ADDR_SYNTAX, NULL, 0 },
	{ "<@r1.test,@r2.test:u@x.test>", 0, 0, SMTP_ADDR_OK, "u@x.test", 0 },
	{ "<@r1.test:u@x.test>", 0, 0, SMTP_ADDR_OK, "u@x.test", 0 },
	{ "<@r1.test u@x.test>", 0, 0, SMTP_ADDR_SYNTAX, NULL, 0 },
	{ "<@:u@x.test>", 0, 0, SMTP_ADDR_SYNTAX, NULL, 0 },
	{ "<u@[192.0.2.1]>", 0, 0, SMTP_ADDR_OK, "u@[192.0.2.1]", 0 },
	{ "<u@[IPv6:::1]>", 0, 0, SMTP_ADDR_OK, "u@[IPv6:::1]", 0 },
	{ "<u@[ipv6:2001:db8::1]>", 0, 0, SMTP_ADDR_OK, "u@[ipv6:2001:db8::1]", 0 },
	{ "<u@[IPv6:::ffff:192.0.2.1]>", 0, 0, SMTP_ADDR_OK, "u@[IPv6:::ffff:192.0.2.1]", 0 },
	{ "<u@[192.0.2]>", 0, 0, SMTP_ADDR_SYNTAX, NULL, 0 },
	{ "<u@[256.0.0.1]>", 0, 0, SMTP_ADDR_SYNTAX, NULL, 0 },
	{ "<u@[IPv6:1.2.3.4]>", 0, 0, SMTP_ADDR_SYNTAX, NULL, 0 },
	{ "<u@[tag:content]>", 0, 0, SMTP_ADDR_SYNTAX, NULL, 0 },
	{ "<u@[192.0.2.1>", 0, 0, SMTP_ADDR_SYNTAX, NULL, 0 },
	{ "<a..b@x.test>", 0, 0, SMTP_ADDR_SYNTAX, NULL, 0 },
	{ "<.a@x.test>", 0, 0, SMTP_ADDR_SYNTAX, NULL, 0 },
	{ "<a.@x.test>", 0, 0, SMTP_ADDR_SYNTAX, NULL, 0 },
	{ "<a b@x.test>", 0, 0, SMTP_ADDR_SYNTAX, NULL, 0 },
	{ "<a(c)@x.test>", 0, 0, SMTP_ADDR_SYNTAX, NULL, 0 },
	{ "<a@-x.test>", 0, 0, SMTP_ADDR_SYNTAX, NULL, 0 },
	{ "<a@x-.test>", 0, 0, SMTP_ADDR_SYNTAX, NULL, 0 },
	{ "<a@x..test>", 0, 0, SMTP_ADDR_SYNTAX, NULL, 0 },
	{ "<a@x.test.>", 0, 0, SMTP_ADDR_SYNTAX, NULL, 0 },
	{ "<a@x_y.test>", 0, 0, SMTP_ADDR_SYNTAX, NULL, 0 },
	{ "<a@x-y.test>", 0, 0, SMTP_ADDR_OK, "a@x-y.test", 0 },
	{ "<a@>", 0, 0, SMTP_ADDR_SYNTAX, NULL, 0 },
	{ "<@x.test>", 0, 0, SMTP_ADDR_SYNTAX, NULL, 0 },
	{ "<a>", 0, 0, SMTP_ADDR_SYNTAX, NULL, 0 },
	{ "<a@x.test", 0, 0, SMTP_ADDR_SYNTAX, NULL, 0 },
	{ "<a@x.test>", 0, BARE, SMTP_ADDR_OK, "a@x.test", 0 },
	{ "a@x.test", 0, 0, SMTP_ADDR_SYNTAX, NULL, 0 },
	{ "a@x.test", 0, BARE, SMTP_ADDR_OK, "a@x.test", 0 },
	{ "a@x.test rest", 0, BARE, SMTP_ADDR_OK, "a@x.test", 8 },
	{ "", 0, BARE | NUL_OK, SMTP_ADDR_SYNTAX, NULL, 0 },
	{ "<Postmaster>", 0, PM, SMTP_ADDR_OK, "postmaster", 0 },
	{ "<POSTMASTER> x", 0, PM, SMTP_ADDR_OK, "postmaster", 12 },
	{ "<Postmaster>", 0, 0, SMTP_ADDR_SYNTAX, NULL, 0 },
	{ "<postmaster@x.test>", 0, PM, SMTP_ADDR_OK, "postmaster@x.test", 0 },
	/* UTF-8 (RFC 6531) */
	{ "<j\xc3\xbcrgen@x.test>", 0, 0, SMTP_ADDR_NEED_UTF8, NULL, 0 },
	{ "<j\xc3\xbcrgen@x.test>", 0, U8, SMTP_ADDR_OK, "j\xc3\xbcrgen@x.test", 0 },
	{ "<a@b\xc3\xbc" "cher.test>", 0, 0, SMTP_ADDR_NEED_UTF8, NULL, 0 },
	{ "<a@b\xc3\xbc" "cher.test>", 0, U8, SMTP_ADDR_OK, "a@b\xc3\xbc" "cher.test", 0 },
	{ "<\"\xc3\xbc x\"@x.test>", 0, U8, SMTP_ADDR_OK, "\"\xc3\xbc x\"@x.test", 0 },
	{ "<\xf0\x9f\x98\x80@x.test>", 0, U8, SMTP_ADDR_OK, "\xf0\x9f\x98\x80@x.test", 0 },
	{ "<\xe2\x82\xac@x.test>", 0, U8, SMTP_ADDR_OK, "\xe2\x82\xac@x.test", 0 },
	{ "<\xc0\xaf@x.test>", 0, U8, SMTP_ADDR_SYNTAX, NULL, 0 },		/* overlong */
	{ "<\xe0\x80\xaf@x.test>", 0, U8, SMTP_ADDR_SYNTAX, NULL, 0 },	/* overlong */
	{ "<\xf0\x80\x80\xaf@x.test>", 0, U8, SMTP_ADDR_SYNTAX, NULL, 0 },	/* overlong */
	{ "<\xed\xa0\x80@x.test>", 0, U8, SMTP_ADDR_SYNTAX, NULL, 0 },	/* surrogate */
	{ "<\xf4\x90\x80\x80@x.test>", 0, U8, SMTP_ADDR_SYNTAX, NULL, 0 },	/* > U+10FFFF */
	{ "<\xf5\x80\x80\x80@x.test>", 0, U8, SMTP_ADDR_SYNTAX, NULL, 0 },
	{ "<a\xc3@x.test>", 0, U8, SMTP_ADDR_SYNTAX, NULL, 0 },		/* truncated */
	{ "<a\x80@x.test>", 0, U8, SMTP_ADDR_SYNTAX, NULL, 0 },		/* stray continuation */
	{ "<a\xff@x.test>", 0, U8, SMTP_ADDR_SYNTAX, NULL, 0 },
	/* NUL and control bytes */
	{ "<a\0b@x.test>", 12, 0, SMTP_ADDR_SYNTAX, NULL, 0 },
	{ "<ab@x.te\0st>", 12, 0, SMTP_ADDR_SYNTAX, NULL, 0 },
	{ "<a\x01@x.test>", 0, 0, SMTP_ADDR_SYNTAX, NULL, 0 },
	{ "<a@x.test\r>", 0, 0, SMTP_ADDR_SYNTAX, NULL, 0 },
	{ "<u@[192.0.2.1\0]>", 16, 0, SMTP_ADDR_SYNTAX, NULL, 0 },
	{ "<u@[192.0.2.1 ]>", 0, 0, SMTP_ADDR_SYNTAX, NULL, 0 },
	{ "u@[192.0.2.1\0\0]", 15, BARE, SMTP_ADDR_SYNTAX, NULL, 0 },
	{ "<a\x7f@x.test>", 0, 0, SMTP_ADDR_SYNTAX, NULL, 0 },
};

/* Parse from an exact-size heap copy of in[0..len). */
static enum smtp_addr_err
parse_copy(const char *in, size_t len, unsigned flags, char *out, size_t *used)
{
	char *buf = malloc(len ? len : 1);
	enum smtp_addr_err e;

	memcpy(buf, in, len);
	e = smtp_addr_parse_path(buf, len, flags, out, SMTP_ADDR_MAX + 1, used);
	free(buf);
	return e;
}

START_TEST(test_table)
{
	const struct acase *c = &cases[_i];
	size_t len = c->in_len ? c->in_len : strlen(c->in);
	char out[SMTP_ADDR_MAX + 1];
	size_t used = 99, k;
	enum smtp_addr_err e = parse_copy(c->in, len, c->flags, out, &used);

	ck_assert_msg(e == c->want, "case %d \"%s\": got %d (%s), want %d", _i,
	    c->in, e, smtp_addr_strerror(e), c->want);
	if (e == SMTP_ADDR_OK) {
		ck_assert_str_eq(out, c->out);
		ck_assert_uint_eq(used, c->consumed ? c->consumed : len);
	} else
		ck_assert_uint_eq(used, 0);
	for (k = 0; k < len; k++) {
		e = parse_copy(c->in, k, c->flags, out, &used);
		if (e == SMTP_ADDR_OK)
			ck_assert_uint_le(used, k);
	}
}
END_TEST

/* A string of n copies of ch. */
static char *
repeat(char ch, size_t n)
{
	char *s = malloc(n + 1);

	memset(s, ch, n);
	s[n] = '\0';
	return s;
}

/* "<local@domain>" from parts. */
static enum smtp_addr_err
parse_parts(const char *local, const char *domain, char *out)
{
	char buf[1024];
	size_t used;

	snprintf(buf, sizeof(buf), "<%s@%s>", local, domain);
	return smtp_addr_parse_path(buf, strlen(buf), 0, out, SMTP_ADDR_MAX + 1, &used);
}

START_TEST(test_length_limits)
{
	char out[SMTP_ADDR_MAX + 1];
	char *l64 = repeat('a', 64), *l65 = repeat('a', 65);
	char *lab63 = repeat('b', 63), *lab64 = repeat('b', 64);
	char d255[256], d257[258];

	snprintf(d255, sizeof(d255), "%s.%s.%s.%s", lab63, lab63, lab63, lab63);
	ck_assert_uint_eq(strlen(d255), 255);
	snprintf(d257, sizeof(d257), "%s.b", d255);
	ck_assert_int_eq(parse_parts(l64, "x.test", out), SMTP_ADDR_OK);
	ck_assert_int_eq(parse_parts(l65, "x.test", out), SMTP_ADDR_TOO_LONG);
	ck_assert_int_eq(parse_parts("a", lab63, out), SMTP_ADDR_OK);
	ck_assert_int_eq(parse_parts("a", lab64, out), SMTP_ADDR_TOO_LONG);
	ck_assert_int_eq(parse_parts(l64, d255, out), SMTP_ADDR_OK);
	ck_assert_uint_eq(strlen(out), SMTP_ADDR_MAX);
	ck_assert_int_eq(parse_parts("a", d257, out), SMTP_ADDR_TOO_LONG);
	free(l64);
	free(l65);
	free(lab63);
	free(lab64);
}
END_TEST

START_TEST(test_small_output_buffer)
{
	char out[4];
	size_t used;

	ck_assert_int_eq(smtp_addr_parse_path("<a@b.c>", 7, 0, out, sizeof(out), &used),
	    SMTP_ADDR_TOO_LONG);
	ck_assert_int_eq(smtp_addr_parse_path("<a@b>", 5, 0, out, sizeof(out), &used),
	    SMTP_ADDR_OK);
	ck_assert_str_eq(out, "a@b");
}
END_TEST

/* Quotes dropped where they change nothing (issue 19): parsed from the
 * path, then unquoted into an exact-size buffer. */
static const struct { const char *path, *want; bool changed; } unquotes[] = {
	{ "<\"demo\"@example.com>", "demo@example.com", true },
	{ "<\"Demo\"@Example.com>", "Demo@Example.com", true },
	{ "<\"first.last\"@x.test>", "first.last@x.test", true },
	{ "<\"d\\emo\"@x.test>", "demo@x.test", true },
	{ "<\"a+tag\"@x.test>", "a+tag@x.test", true },
	{ "<\"john doe\"@x.test>", "\"john doe\"@x.test", false },
	{ "<\"a..b\"@x.test>", "\"a..b\"@x.test", false },
	{ "<\".a\"@x.test>", "\".a\"@x.test", false },
	{ "<\"a.\"@x.test>", "\"a.\"@x.test", false },
	{ "<\"\"@x.test>", "\"\"@x.test", false },
	{ "<\"a@b\"@x.test>", "\"a@b\"@x.test", false },
	{ "<\"a\\\"b\"@x.test>", "\"a\\\"b\"@x.test", false },
	{ "<\"a(b)\"@x.test>", "\"a(b)\"@x.test", false },
	{ "<demo@example.com>", "demo@example.com", false },
	{ "<Postmaster>", "postmaster", false },
};

START_TEST(test_unquote)
{
	const char *path = unquotes[_i].path;
	char parsed[SMTP_ADDR_MAX + 1], *out;
	size_t used, n;

	ck_assert_int_eq(smtp_addr_parse_path(path, strlen(path), PM, parsed,
	    sizeof(parsed), &used), SMTP_ADDR_OK);
	n = strlen(unquotes[_i].want) + 1;
	out = malloc(n);
	ck_assert(smtp_addr_unquote(parsed, out, n) == unquotes[_i].changed);
	ck_assert_str_eq(out, unquotes[_i].want);
	free(out);
}
END_TEST

/* Address extensions: the base length of a local part. */
static const struct { const char *local, *delims; size_t want; } extcases[] = {
	{ "user+tag", "+", 4 },
	{ "user+tag+more", "+", 4 },
	{ "user-tag", "+", 8 },
	{ "user-tag", "+-", 4 },
	{ "a-b+c", "+-", 1 },
	{ "user+", "+", 4 },
	{ "+tag", "+", 4 },
	{ "user+tag", "", 8 },
	{ "\"u+t\"", "+", 5 },
	{ "u", "+", 1 },
	{ "", "+", 0 },
};

START_TEST(test_ext_base)
{
	const char *l = extcases[_i].local;

	ck_assert_uint_eq(smtp_addr_ext_base(l, strlen(l), extcases[_i].delims),
	    extcases[_i].want);
}
END_TEST

START_TEST(test_normalize_and_domain)
{
	char a[] = "\"A@B\"@EXAMPLE.Com";
	char b[] = "NoDomain";

	smtp_addr_normalize_domain(a);
	ck_assert_str_eq(a, "\"A@B\"@example.com");
	ck_assert_str_eq(smtp_addr_domain(a), "example.com");
	smtp_addr_normalize_domain(b);
	ck_assert_str_eq(b, "NoDomain");
	ck_assert_ptr_null(smtp_addr_domain(b));
	ck_assert_str_eq(smtp_addr_strerror(SMTP_ADDR_SYNTAX), "syntax error in address");
}
END_TEST

/* The suite (run by check_main.c). */
Suite *
unit_suite(void)
{
	Suite *s = suite_create("smtp_addr");
	TCase *tc = tcase_create("core");

	tcase_add_loop_test(tc, test_table, 0, (int)(sizeof(cases) / sizeof(cases[0])));
	tcase_add_test(tc, test_length_limits);
	tcase_add_test(tc, test_small_output_buffer);
	tcase_add_test(tc, test_normalize_and_domain);
	tcase_add_loop_test(tc, test_unquote, 0, (int)(sizeof(unquotes) / sizeof(unquotes[0])));
	tcase_add_loop_test(tc, test_ext_base, 0, (int)(sizeof(extcases) / sizeof(extcases[0])));
	suite_add_tcase(s, tc);
	return s;
}
