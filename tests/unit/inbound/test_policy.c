/*
 * Unit tests for policy: mailbox lookups (exact beats catch-all,
 * case-insensitive, unknown -> -1) from a hand-built config, and the
 * relay_hosts allowlist through config_parse_cidr / config_cidr_match.
 */
#include <arpa/inet.h>
#include <check.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check_main.h"
#include "policy.h"

static char *alice_addrs[] = { (char[]){ "alice@example.com" },
	(char[]){ "a.smith@example.com" } };
static char *sales_addrs[] = { (char[]){ "sales@example.com" },
	(char[]){ "\"sales team\"@example.com" } };
static char *po2_addrs[] = { (char[]){ "@branch.example.com" } };
static char *all_addrs[] = { (char[]){ "@example.com" }, (char[]){ "alice@example.com" } };

static struct inbound_mailbox mailboxes[] = {
	{ (char[]){ "alice" }, alice_addrs, 2 },
	{ (char[]){ "sales" }, sales_addrs, 2 },
	{ (char[]){ "po2" }, po2_addrs, 1 },
	{ (char[]){ "everyone" }, all_addrs, 2 },	/* alice@ here loses: first claim wins */
};

/* A config with the mailboxes above and the given relay_hosts. */
static struct inbound_config
make_config(struct config_cidr *relay, size_t nrelay)
{
	struct inbound_config c;

	memset(&c, 0, sizeof(c));
	c.mailboxes = mailboxes;
	c.nmailboxes = sizeof(mailboxes) / sizeof(mailboxes[0]);
	c.relay_hosts = relay;
	c.nrelay_hosts = nrelay;
	return c;
}

struct lcase {
	const char *addr;
	int want;
};

static const struct lcase lookups[] = {
	{ "alice@example.com", 0 },
	{ "ALICE@Example.COM", 0 },
	{ "a.smith@example.com", 0 },
	{ "sales@EXAMPLE.com", 1 },
	{ "\"Sales Team\"@example.com", 1 },
	{ "bob@example.com", 3 },		/* catch-all */
	{ "Bob@Example.Com", 3 },
	{ "x@branch.example.com", 2 },
	{ "x@BRANCH.example.com", 2 },
	{ "x@sub.branch.example.com", -1 },	/* a catch-all covers its domain only */
	{ "x@other.test", -1 },
	{ "postmaster", 0 },			/* cfg.postmaster: 0 */
	{ "", -1 },
	{ "@example.com", 3 },
	{ "alice@example.co", -1 },
};

START_TEST(test_lookup)
{
	struct inbound_config c = make_config(NULL, 0);
	struct policy *p = policy_new(&c);
	size_t i;

	for (i = 0; i < sizeof(lookups) / sizeof(lookups[0]); i++)
		ck_assert_msg(policy_lookup(p, lookups[i].addr) == lookups[i].want,
		    "%s: got %d want %d", lookups[i].addr,
		    policy_lookup(p, lookups[i].addr), lookups[i].want);
	ck_assert_uint_eq(policy_mailbox_count(p), 4);
	ck_assert_str_eq(policy_mailbox_name(p, 2), "po2");
	ck_assert_ptr_null(policy_mailbox_name(p, -1));
	ck_assert_ptr_null(policy_mailbox_name(p, 4));
	policy_free(p);
}
END_TEST

/* Issue 19: postmaster, extensions, quoting, and their order. */
static char *pm_addrs[] = { (char[]){ "postmaster@example.org" }, (char[]){ "abuse@example.org" } };
static char *user_addrs[] = { (char[]){ "user@example.org" }, (char[]){ "user+list@example.org" }, (char[]){ "u-v@example.org" } };
static char *other_addrs[] = { (char[]){ "@other.test" }, (char[]){ "postmaster@third.test" } };
static struct inbound_mailbox conv_mailboxes[] = {
	{ (char[]){ "pm" }, pm_addrs, 2 },
	{ (char[]){ "user" }, user_addrs, 3 },
	{ (char[]){ "other" }, other_addrs, 2 },
	{ (char[]){ "list" }, (char *[]){ (char[]){ "list@example.org" } }, 1 },
};

static const struct lcase conv_lookups[] = {
	{ "postmaster", 0 },
	{ "user@example.org", 1 },
	{ "User@Example.ORG", 1 },			/* local parts: any case */
	{ "\"user\"@example.org", 1 },		/* quotes that change nothing */
	{ "\"us\\er\"@example.org", 1 },
	{ "\"user \"@example.org", -1 },		/* quotes that do */
	{ "user+tag@example.org", 1 },		/* the extension stripped */
	{ "USER+Tag@example.org", 1 },
	{ "\"user+tag\"@example.org", 1 },
	{ "user+list@example.org", 1 },		/* listed itself */
	{ "user-x@example.org", 1 },		/* "-" is a delimiter too */
	{ "u-v@example.org", 1 },			/* exact first */
	{ "u-w@example.org", -1 },			/* u@ is nobody */
	{ "list+x@example.org", 3 },
	{ "+tag@example.org", -1 },
	{ "nobody+user@example.org", -1 },
	{ "postmaster@example.org", 0 },
	{ "PostMaster@EXAMPLE.org", 0 },
	{ "postmaster+x@example.org", 0 },
	{ "postmaster@other.test", 0 },		/* a served domain: before its catch-all */
	{ "postmaster@third.test", 2 },		/* listed itself */
	{ "postmaster@unknown.test", -1 },
	{ "x@other.test", 2 },
	{ "x+y@other.test", 2 },
};

START_TEST(test_lookup_conventions)
{
	struct inbound_config c;
	struct policy *p;

	memset(&c, 0, sizeof(c));
	c.mailboxes = conv_mailboxes;
	c.nmailboxes = sizeof(conv_mailboxes) / sizeof(conv_mailboxes[0]);
	c.recipient_delimiter = (char[]){ "+-" };
	c.postmaster = 0;
	p = policy_new(&c);
	for (size_t i = 0; i < sizeof(conv_lookups) / sizeof(conv_lookups[0]); i++)
		ck_assert_msg(policy_lookup(p, conv_lookups[i].addr) == conv_lookups[i].want,
		    "%s: got %d want %d", conv_lookups[i].addr,
		    policy_lookup(p, conv_lookups[i].addr), conv_lookups[i].want);
	policy_free(p);
	/* without a delimiter, the extension is part of the address */
	c.recipient_delimiter = (char[]){ "" };
	c.postmaster = 1;
	p = policy_new(&c);
	ck_assert_int_eq(policy_lookup(p, "user+tag@example.org"), -1);
	ck_assert_int_eq(policy_lookup(p, "user+list@example.org"), 1);
	ck_assert_int_eq(policy_lookup(p, "POSTMASTER"), 1);
	ck_assert_int_eq(policy_lookup(p, "postmaster@example.org"), 0);
	ck_assert_int_eq(policy_lookup(p, "postmaster@other.test"), 1);
	policy_free(p);
}
END_TEST

START_TEST(test_lookup_many)
{
	enum { N = 5000 };
	struct inbound_mailbox *mb = calloc(N, sizeof(*mb));
	struct inbound_config c;
	struct policy *p;
	char buf[64];
	size_t i;

	memset(&c, 0, sizeof(c));
	for (i = 0; i < N; i++) {
		snprintf(buf, sizeof(buf), "user%zu@example.org", i);
		mb[i].name = strdup(buf);
		mb[i].addresses = malloc(sizeof(char *));
		mb[i].addresses[0] = strdup(buf);
		mb[i].naddresses = 1;
	}
	c.mailboxes = mb;
	c.nmailboxes = N;
	p = policy_new(&c);
	for (i = 0; i < N; i++) {
		snprintf(buf, sizeof(buf), "USER%zu@example.org", i);
		ck_assert_int_eq(policy_lookup(p, buf), (int)i);
	}
	ck_assert_int_eq(policy_lookup(p, "user5000@example.org"), -1);
	policy_free(p);
	for (i = 0; i < N; i++) {
		free(mb[i].name);
		free(mb[i].addresses[0]);
		free(mb[i].addresses);
	}
	free(mb);
}
END_TEST

/* A sockaddr for a numeric address. */
static struct sockaddr_storage
sa_of(const char *text)
{
	struct sockaddr_storage ss;

	memset(&ss, 0, sizeof(ss));
	if (strchr(text, ':') != NULL) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;

		s6->sin6_family = AF_INET6;
		ck_assert_int_eq(inet_pton(AF_INET6, text, &s6->sin6_addr), 1);
	} else {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;

		s4->sin_family = AF_INET;
		ck_assert_int_eq(inet_pton(AF_INET, text, &s4->sin_addr), 1);
	}
	return ss;
}

/* policy_client_allowed for a numeric address. */
static bool
allowed(const struct policy *p, const char *text)
{
	struct sockaddr_storage ss = sa_of(text);

	return policy_client_allowed(p, (struct sockaddr *)&ss);
}

START_TEST(test_relay_hosts)
{
	struct config_cidr relay[2];
	struct inbound_config c;
	struct policy *p;

	ck_assert_int_eq(config_parse_cidr("192.0.2.10/32", &relay[0]), 0);
	ck_assert_int_eq(config_parse_cidr("2001:db8::/32", &relay[1]), 0);
	c = make_config(relay, 2);
	p = policy_new(&c);
	memset(relay, 0, sizeof(relay));	/* the policy keeps its own copy */
	ck_assert(allowed(p, "192.0.2.10"));
	ck_assert(!allowed(p, "192.0.2.11"));
	ck_assert(allowed(p, "::ffff:192.0.2.10"));
	ck_assert(allowed(p, "2001:db8:1::5"));
	ck_assert(!allowed(p, "2001:db9::1"));
	ck_assert(!allowed(p, "127.0.0.1"));
	policy_free(p);

	c = make_config(NULL, 0);
	p = policy_new(&c);
	ck_assert(allowed(p, "198.51.100.7"));
	ck_assert(allowed(p, "::1"));
	policy_free(p);
}
END_TEST

/* The suite (run by check_main.c). */
Suite *
unit_suite(void)
{
	Suite *s = suite_create("policy");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_lookup);
	tcase_add_test(tc, test_lookup_many);
	tcase_add_test(tc, test_lookup_conventions);
	tcase_add_test(tc, test_relay_hosts);
	suite_add_tcase(s, tc);
	return s;
}
