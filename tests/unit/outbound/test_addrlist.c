/*
 * Unit tests for outbound/addrlist.c: RFC 5322 address lists, table-driven;
 * the injector's lenient split into bare texts; the hashed address set.
 */
#include <check.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check_main.h"
#include "addrlist.h"

static const struct {
	const char *in;
	unsigned flags;
	const char *want;	/* addresses joined by '|'; NULL = error */
	const char *err;	/* substring of the error */
} cases[] = {
	{ "a@example.com", 0, "a@example.com", NULL },
	{ " a@example.com ", 0, "a@example.com", NULL },
	{ "<a@example.com>", 0, "a@example.com", NULL },
	{ "Alice <a@example.com>", 0, "a@example.com", NULL },
	{ "Alice Smith <a@example.com>, b@example.org", 0, "a@example.com|b@example.org", NULL },
	{ "\"Smith, Alice\" <a@example.com>, \"Bob <x>\" <b@example.org>", 0,
	  "a@example.com|b@example.org", NULL },
	{ "a@example.com (Alice, from sales), b@example.org", 0, "a@example.com|b@example.org", NULL },
	{ "(nested (comment) here) a@example.com", 0, "a@example.com", NULL },
	{ "Alice <a@example.com> (work)", 0, "a@example.com", NULL },
	{ "undisclosed-recipients:;", 0, "", NULL },
	{ "undisclosed-recipients:", 0, "", NULL },
	{ "team: a@x.org, Bob <b@y.org>;, c@z.org", 0, "a@x.org|b@y.org|c@z.org", NULL },
	{ "a@x.org,\r\n\tb@y.org,\r\n c@z.org", 0, "a@x.org|b@y.org|c@z.org", NULL },
	{ "a@x.org,\n b@y.org", 0, "a@x.org|b@y.org", NULL },
	{ "a@x.org, , ,b@y.org,", 0, "a@x.org|b@y.org", NULL },
	{ "", 0, "", NULL },
	{ "   ", 0, "", NULL },
	{ "\"john doe\"@example.com", 0, "\"john doe\"@example.com", NULL },
	{ "john . doe @ example.com", 0, "john.doe@example.com", NULL },
	{ "<@relay.example:a@example.com>", 0, "a@example.com", NULL },
	{ "x@[192.0.2.1]", 0, "x@[192.0.2.1]", NULL },
	{ "Name <x@[IPv6:2001:db8::1]>", 0, "x@[IPv6:2001:db8::1]", NULL },
	{ "<>", ADDRLIST_ALLOW_NULL, "", NULL },
	{ "<> (null)", ADDRLIST_ALLOW_NULL, "", NULL },
	{ "<>", 0, NULL, "null address not allowed" },
	{ "=?utf-8?q?J=C3=B6rg?= <j@example.de>", 0, "j@example.de", NULL },
	{ "J\xc3\xb6rg <j@example.de>", 0, "j@example.de", NULL },
	{ "<j\xc3\xb6rg@example.de>", ADDRLIST_UTF8, "j\xc3\xb6rg@example.de", NULL },
	{ "<j\xc3\xb6rg@example.de>", 0, NULL, "non-ASCII" },
	{ "Alice", 0, NULL, "no '@'" },
	{ "Smith, Alice <a@example.com>", 0, NULL, "no '@'" },
	{ "john doe@example.com", 0, NULL, "bad address" },
	{ "Alice <a@example.com", 0, NULL, "unbalanced" },
	{ "Alice <a@example.com> trailing", 0, NULL, "text after the angle-addr" },
	{ "\"unterminated@example.com", 0, NULL, "unterminated" },
	{ "(unterminated a@example.com", 0, NULL, "unterminated" },
	{ "a@@example.com", 0, NULL, "syntax error" },
	{ "<a@example.com>x@y", 0, NULL, "text after" },
	{ "a@example.com; b@example.com", 0, NULL, "misplaced group delimiter" },
	{ "g1: a@x.org; g2: b@y.org;", 0, "a@x.org|b@y.org", NULL },
	{ "a@-bad-.example", 0, NULL, "bad address" },
};

/* Join l's addresses with '|' into buf. */
static void
join(const struct addrlist *l, char *buf, size_t sz)
{
	size_t i;

	buf[0] = '\0';
	for (i = 0; i < l->n; i++) {
		if (i > 0)
			strncat(buf, "|", sz - strlen(buf) - 1);
		strncat(buf, l->addrs[i], sz - strlen(buf) - 1);
	}
}

START_TEST(addrlist_table)
{
	struct addrlist l = { NULL, 0, 0 };
	char err[256], got[1024];
	int rc;

	err[0] = '\0';
	/* a pre-existing entry must survive both success and failure */
	addrlist_add_unique(&l, "keep@example.com");
	rc = addrlist_parse(cases[_i].in, strlen(cases[_i].in), cases[_i].flags, &l,
	    err, sizeof(err));
	if (cases[_i].want == NULL) {
		ck_assert_msg(rc == -1, "case %d \"%s\" should fail", _i, cases[_i].in);
		ck_assert_msg(strstr(err, cases[_i].err) != NULL, "case %d: err \"%s\" want \"%s\"",
		    _i, err, cases[_i].err);
		ck_assert_uint_eq(l.n, 1);
	} else {
		ck_assert_msg(rc == 0, "case %d \"%s\": %s", _i, cases[_i].in, err);
		join(&l, got, sizeof(got));
		ck_assert_str_eq(got + strlen("keep@example.com") + (l.n > 1),
		    cases[_i].want);
	}
	ck_assert_str_eq(l.addrs[0], "keep@example.com");
	addrlist_free(&l);
	ck_assert_uint_eq(l.n, 0);
}
END_TEST

/* Every prefix of every case, in an exact-size buffer: parses or fails
 * with a reason, never reads past the end (ASan). */
START_TEST(addrlist_prefixes)
{
	struct addrlist l = { NULL, 0, 0 };
	size_t n, len = strlen(cases[_i].in);
	char err[256], *buf;

	for (n = 0; n <= len; n++) {
		buf = malloc(n ? n : 1);
		memcpy(buf, cases[_i].in, n);
		err[0] = '\0';
		if (addrlist_parse(buf, n, cases[_i].flags, &l, err, sizeof(err)) < 0)
			ck_assert_int_ne(err[0], '\0');
		addrlist_free(&l);
		free(buf);
	}
}
END_TEST

START_TEST(addrlist_unique)
{
	struct addrlist l = { NULL, 0, 0 };

	ck_assert(addrlist_add_unique(&l, "a@Example.COM"));
	ck_assert(!addrlist_add_unique(&l, "a@example.com"));
	ck_assert(addrlist_add_unique(&l, "A@example.com"));
	ck_assert(addrlist_add_unique(&l, "a@example.org"));
	ck_assert_uint_eq(l.n, 3);
	addrlist_free(&l);
}
END_TEST

static const struct {
	const char *in;
	const char *want;	/* bare texts joined by '|' */
} splits[] = {
	{ "App <x@example.org>", "x@example.org" },
	{ "x@example.org (App)", "x@example.org" },
	{ "\"App, Inc.\" <x@example.org>", "x@example.org" },
	{ "root", "root" },
	{ "root, Bob <bob>", "root|bob" },
	{ "<>", "" },
	{ "", "" },
	{ "grp: a@x, b@y;, c@z", "a@x|b@y|c@z" },
	{ "\"john doe\"@x (c (nested)) , y @ z", "\"john doe\"@x|y@z" },
	{ "\"open quote@x", "\"open quote@x\"" },
	{ "(unclosed comment a@x", "" },
	{ "a@x;b@y", "a@x|b@y" },
	{ "<a@x> trailing", "a@x" },
	{ "\"a\\\"b\"@x, \"c,d\"@y", "\"a\\\"b\"@x|\"c,d\"@y" },
};

/* The injector's lenient split: bare texts, whole and of every prefix
 * (which must not read past its end: ASan). */
START_TEST(addrlist_split_table)
{
	struct addrlist l = { NULL, 0, 0 };
	size_t len = strlen(splits[_i].in);
	char got[1024], *buf;

	addrlist_split(splits[_i].in, len, &l);
	join(&l, got, sizeof(got));
	ck_assert_msg(strcmp(got, splits[_i].want) == 0, "case %d: got \"%s\" want \"%s\"",
	    _i, got, splits[_i].want);
	addrlist_free(&l);
	for (size_t n = 0; n <= len; n++) {
		buf = malloc(n ? n : 1);
		memcpy(buf, splits[_i].in, n);
		addrlist_split(buf, n, &l);
		for (size_t i = 0; i < l.n; i++)
			ck_assert_uint_le(strlen(l.addrs[i]), n + 1);
		addrlist_free(&l);
		free(buf);
	}
}
END_TEST

/* The set: the same equality as addrlist_add_unique, the order kept,
 * and 20,000 members found again after the index grew. */
START_TEST(addrset_members)
{
	static const struct {
		const char *addr;
		bool added;
	} adds[] = {
		{ "a@Example.COM", true }, { "a@example.com", false }, { "A@example.com", true },
		{ "a@example.org", true }, { "root", true }, { "ROOT", true }, { "root", false },
		{ "\"x@y\"@Z.example", true }, { "\"x@y\"@z.EXAMPLE", false }, { "", true },
	};
	struct addrset s = { 0 };
	char a[64];

	for (size_t i = 0; i < sizeof(adds) / sizeof(adds[0]); i++) {
		ck_assert_msg(addrset_add(&s, adds[i].addr) == adds[i].added, "add %zu", i);
		ck_assert(addrset_has(&s, adds[i].addr));
	}
	ck_assert_uint_eq(s.list.n, 7);
	ck_assert_str_eq(s.list.addrs[0], "a@Example.COM");
	ck_assert_str_eq(s.list.addrs[6], "");
	ck_assert(!addrset_has(&s, "b@example.com"));
	addrset_free(&s);
	ck_assert(!addrset_has(&s, "a@example.com"));
	for (int i = 0; i < 20000; i++) {
		snprintf(a, sizeof(a), "user%d@Host%d.example", i, i % 7);
		ck_assert(addrset_add(&s, a));
	}
	for (int i = 0; i < 20000; i++) {
		snprintf(a, sizeof(a), "user%d@HOST%d.EXAMPLE", i, i % 7);
		ck_assert(!addrset_add(&s, a));
		ck_assert_str_eq(s.list.addrs[i] + strlen(s.list.addrs[i]) - 8, ".example");
	}
	ck_assert_uint_eq(s.list.n, 20000);
	addrset_free(&s);
	ck_assert_uint_eq(s.list.n + s.nslots, 0);
}
END_TEST

/* The suite. */
Suite *
unit_suite(void)
{
	Suite *s = suite_create("addrlist");
	TCase *tc = tcase_create("parse");

	tcase_add_loop_test(tc, addrlist_table, 0, (int)(sizeof(cases) / sizeof(cases[0])));
	tcase_add_loop_test(tc, addrlist_prefixes, 0, (int)(sizeof(cases) / sizeof(cases[0])));
	tcase_add_test(tc, addrlist_unique);
	tcase_add_test(tc, addrset_members);
	tcase_add_loop_test(tc, addrlist_split_table, 0,
	    (int)(sizeof(splits) / sizeof(splits[0])));
	suite_add_tcase(s, tc);
	return s;
}
