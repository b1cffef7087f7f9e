/*
 * Unit tests of config_parse_sockaddr, config_parse_cidr and
 * config_cidr_match (IPv4, IPv6, IPv4-mapped IPv6).
 */
#include <arpa/inet.h>
#include <check.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "check_main.h"
#include "config.h"

struct sockaddr_case {
	const char *text;
	int ok;
	int family;
	const char *addr;		/* as inet_ntop prints it */
	unsigned port;
};

static const struct sockaddr_case sockaddr_cases[] = {
	{ "127.0.0.1:25", 1, AF_INET, "127.0.0.1", 25 },
	{ "0.0.0.0:2525", 1, AF_INET, "0.0.0.0", 2525 },
	{ "192.0.2.1:65535", 1, AF_INET, "192.0.2.1", 65535 },
	{ "[::1]:25", 1, AF_INET6, "::1", 25 },
	{ "[::]:587", 1, AF_INET6, "::", 587 },
	{ "[2001:db8::10]:1", 1, AF_INET6, "2001:db8::10", 1 },
	{ "[::ffff:192.0.2.1]:25", 1, AF_INET6, "::ffff:192.0.2.1", 25 },
	{ "localhost:25", 0, 0, NULL, 0 },
	{ "127.0.0.1", 0, 0, NULL, 0 },
	{ "127.0.0.1:", 0, 0, NULL, 0 },
	{ "127.0.0.1:0", 0, 0, NULL, 0 },
	{ "127.0.0.1:65536", 0, 0, NULL, 0 },
	{ "127.0.0.1:+25", 0, 0, NULL, 0 },
	{ "127.0.0.1:25x", 0, 0, NULL, 0 },
	{ "127.0.0.1:000025", 0, 0, NULL, 0 },
	{ "256.0.0.1:25", 0, 0, NULL, 0 },
	{ ":25", 0, 0, NULL, 0 },
	{ "::1:25", 0, 0, NULL, 0 },
	{ "[::1]", 0, 0, NULL, 0 },
	{ "[::1]25", 0, 0, NULL, 0 },
	{ "[::1:25", 0, 0, NULL, 0 },
	{ "[]:25", 0, 0, NULL, 0 },
	{ "[127.0.0.1]:25", 0, 0, NULL, 0 },
	{ "", 0, 0, NULL, 0 },
	{ "[1111:2222:3333:4444:5555:6666:7777:8888]:65535/with/a/long/tail/too/long/text", 0, 0, NULL, 0 },
};

START_TEST(parse_sockaddr)
{
	const struct sockaddr_case *tc = &sockaddr_cases[_i];
	struct config_sockaddr sa;
	char buf[INET6_ADDRSTRLEN];
	int rc = config_parse_sockaddr(tc->text, &sa);

	ck_assert_msg((rc == 0) == tc->ok, "case %d \"%s\": rc %d", _i, tc->text, rc);
	if (!tc->ok)
		return;
	ck_assert_int_eq(sa.ss.ss_family, tc->family);
	ck_assert_str_eq(sa.text, tc->text);
	if (tc->family == AF_INET) {
		struct sockaddr_in *sin = (struct sockaddr_in *)&sa.ss;

		ck_assert_uint_eq(sa.len, sizeof(*sin));
		ck_assert_uint_eq(ntohs(sin->sin_port), tc->port);
		inet_ntop(AF_INET, &sin->sin_addr, buf, sizeof(buf));
	} else {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&sa.ss;

		ck_assert_uint_eq(sa.len, sizeof(*sin6));
		ck_assert_uint_eq(ntohs(sin6->sin6_port), tc->port);
		inet_ntop(AF_INET6, &sin6->sin6_addr, buf, sizeof(buf));
	}
	ck_assert_str_eq(buf, tc->addr);
}
END_TEST

struct cidr_case {
	const char *text;
	int ok;
	int family;
	unsigned prefix;
};

static const struct cidr_case cidr_cases[] = {
	{ "192.0.2.10/32", 1, AF_INET, 32 },
	{ "192.0.2.10", 1, AF_INET, 32 },
	{ "10.0.0.0/8", 1, AF_INET, 8 },
	{ "0.0.0.0/0", 1, AF_INET, 0 },
	{ "2001:db8::10/128", 1, AF_INET6, 128 },
	{ "2001:db8::/32", 1, AF_INET6, 32 },
	{ "::1", 1, AF_INET6, 128 },
	{ "::/0", 1, AF_INET6, 0 },
	{ "::ffff:0:0/96", 1, AF_INET6, 96 },
	{ "10.0.0.0/33", 0, 0, 0 },
	{ "::/129", 0, 0, 0 },
	{ "10.0.0.0/", 0, 0, 0 },
	{ "10.0.0.0/-1", 0, 0, 0 },
	{ "10.0.0.0/8/8", 0, 0, 0 },
	{ "10.0.0.0/ 8", 0, 0, 0 },
	{ "10.0.0", 0, 0, 0 },
	{ "/8", 0, 0, 0 },
	{ "host.example/24", 0, 0, 0 },
	{ "", 0, 0, 0 },
};

START_TEST(parse_cidr)
{
	const struct cidr_case *tc = &cidr_cases[_i];
	struct config_cidr c;
	int rc = config_parse_cidr(tc->text, &c);

	ck_assert_msg((rc == 0) == tc->ok, "case %d \"%s\": rc %d", _i, tc->text, rc);
	if (!tc->ok)
		return;
	ck_assert_int_eq(c.family, tc->family);
	ck_assert_uint_eq(c.prefix, tc->prefix);
}
END_TEST

/* A sockaddr for a numeric address (v4 or v6). */
static struct sockaddr_storage
peer(const char *addr)
{
	struct sockaddr_storage ss;

	memset(&ss, 0, sizeof(ss));
	if (strchr(addr, ':') != NULL) {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;

		sin6->sin6_family = AF_INET6;
		ck_assert_int_eq(inet_pton(AF_INET6, addr, &sin6->sin6_addr), 1);
	} else {
		struct sockaddr_in *sin = (struct sockaddr_in *)&ss;

		sin->sin_family = AF_INET;
		ck_assert_int_eq(inet_pton(AF_INET, addr, &sin->sin_addr), 1);
	}
	return ss;
}

struct match_case {
	const char *cidr;
	const char *peer;
	bool match;
};

static const struct match_case match_cases[] = {
	{ "192.0.2.10/32", "192.0.2.10", true },
	{ "192.0.2.10/32", "192.0.2.11", false },
	{ "192.0.2.10", "192.0.2.10", true },
	{ "192.0.2.0/24", "192.0.2.255", true },
	{ "192.0.2.0/24", "192.0.3.0", false },
	{ "192.0.2.77/24", "192.0.2.1", true },		/* host bits ignored */
	{ "10.0.0.0/8", "10.255.1.2", true },
	{ "10.0.0.0/8", "11.0.0.1", false },
	{ "172.16.0.0/12", "172.31.255.255", true },
	{ "172.16.0.0/12", "172.32.0.0", false },
	{ "0.0.0.0/0", "203.0.113.9", true },
	{ "0.0.0.0/0", "2001:db8::1", false },
	{ "127.0.0.1/32", "::1", false },
	{ "2001:db8::10/128", "2001:db8::10", true },
	{ "2001:db8::10/128", "2001:db8::11", false },
	{ "2001:db8::/32", "2001:db8:ffff::1", true },
	{ "2001:db8::/32", "2001:db9::1", false },
	{ "2001:db8::/33", "2001:db8:8000::1", false },
	{ "2001:db8::/33", "2001:db8:7fff::1", true },
	{ "::/0", "2001:db8::1", true },
	{ "::1/128", "::1", true },
	{ "::1/128", "127.0.0.1", false },
	/* IPv4-mapped IPv6 peers match IPv4 entries, and v4 peers mapped entries */
	{ "192.0.2.10/32", "::ffff:192.0.2.10", true },
	{ "192.0.2.0/24", "::ffff:192.0.2.99", true },
	{ "192.0.2.0/24", "::ffff:192.0.3.1", false },
	{ "127.0.0.1", "::ffff:127.0.0.1", true },
	{ "::ffff:192.0.2.0/120", "192.0.2.5", true },
	{ "::ffff:192.0.2.0/120", "192.0.3.5", false },
	{ "::ffff:192.0.2.0/120", "::ffff:192.0.2.5", true },
	{ "192.0.2.10/32", "::192.0.2.10", false },		/* v4-compatible is not mapped */
	{ "192.0.2.10/32", "2001:db8::c000:20a", false },
};

START_TEST(cidr_match)
{
	const struct match_case *tc = &match_cases[_i];
	struct config_cidr c;
	struct sockaddr_storage ss = peer(tc->peer);

	ck_assert_int_eq(config_parse_cidr(tc->cidr, &c), 0);
	ck_assert_msg(config_cidr_match(&c, (struct sockaddr *)&ss) == tc->match,
	    "case %d: %s in %s should be %d", _i, tc->peer, tc->cidr, tc->match);
}
END_TEST

START_TEST(cidr_match_other_family)
{
	struct config_cidr c;
	struct sockaddr sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_family = AF_UNIX;
	ck_assert_int_eq(config_parse_cidr("0.0.0.0/0", &c), 0);
	ck_assert(!config_cidr_match(&c, &sa));
	ck_assert_int_eq(config_parse_cidr("::/0", &c), 0);
	ck_assert(!config_cidr_match(&c, &sa));
}
END_TEST

/* The suite. */
Suite *
unit_suite(void)
{
	Suite *s = suite_create("cidr");
	TCase *tc = tcase_create("cidr");

	tcase_add_loop_test(tc, parse_sockaddr, 0,
	    (int)(sizeof(sockaddr_cases) / sizeof(sockaddr_cases[0])));
	tcase_add_loop_test(tc, parse_cidr, 0,
	    (int)(sizeof(cidr_cases) / sizeof(cidr_cases[0])));
	tcase_add_loop_test(tc, cidr_match, 0,
	    (int)(sizeof(match_cases) / sizeof(match_cases[0])));
	tcase_add_test(tc, cidr_match_other_family);
	suite_add_tcase(s, tc);
	return s;
}
