/*
 * Unit tests of privs: the user/group syntax (numbers and names), and
 * resolving them (numbers need no account; root and unknown names are
 * refused with the sysexits codes the daemons exit with).  The drop itself
 * needs root and is tested by tests/integration/deploy/test_root.py.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>

#include "check_main.h"
#include "privs.h"

struct number_case {
	const char *text;
	int ok;
	unsigned long value;
};

static const struct number_case number_cases[] = {
	{ "0", 1, 0 },
	{ "64101", 1, 64101 },
	{ "00012", 1, 12 },
	{ "4294967294", 1, 4294967294UL },
	{ "4294967295", 0, 0 },		/* (uid_t)-1: "unchanged" to setresuid */
	{ "99999999999", 0, 0 },
	{ "", 0, 0 },
	{ "-1", 0, 0 },
	{ "+1", 0, 0 },
	{ "12a", 0, 0 },
	{ " 1", 0, 0 },
};

START_TEST(parse_number)
{
	const struct number_case *tc = &number_cases[_i];
	unsigned long v = 777;
	int ok = privs_parse_number(tc->text, &v);

	ck_assert_msg(ok == tc->ok, "case \"%s\": %d", tc->text, ok);
	if (ok)
		ck_assert_uint_eq(v, tc->value);
}
END_TEST

struct name_case {
	const char *text;
	int ok;
};

static const struct name_case name_cases[] = {
	{ "smtpgate", 1 },
	{ "_smtpgate", 1 },
	{ "gw.out-1", 1 },
	{ "host$", 1 },
	{ "64101", 1 },
	{ "abcdefghijklmnopqrstuvwxyz012345", 1 },	/* 32 */
	{ "abcdefghijklmnopqrstuvwxyz0123456", 0 },	/* 33 */
	{ "", 0 },
	{ "-x", 0 },
	{ "$", 0 },
	{ "a b", 0 },
	{ "a:b", 0 },
	{ "a/b", 0 },
	{ "a$b", 0 },
	{ "\xc3\xa9t\xc3\xa9", 0 },
};

START_TEST(name_ok)
{
	const struct name_case *tc = &name_cases[_i];

	ck_assert_msg(privs_name_ok(tc->text) == tc->ok, "case \"%s\"", tc->text);
}
END_TEST

START_TEST(user_is_root)
{
	ck_assert(privs_user_is_root("0"));
	ck_assert(privs_user_is_root("root"));
	ck_assert(!privs_user_is_root("64101"));
	ck_assert(!privs_user_is_root("smtpgate-no-such-user-x"));
}
END_TEST

/* A number needs no account; its group is the same number or the key. */
START_TEST(resolve_numbers)
{
	struct privs_ids ids;
	char err[256];

	ck_assert_int_eq(privs_resolve("4000000001", "", &ids, err, sizeof(err)), EX_OK);
	ck_assert_uint_eq(ids.uid, 4000000001U);
	ck_assert_uint_eq(ids.gid, 4000000001U);
	ck_assert(!ids.account);
	ck_assert_str_eq(ids.user, "4000000001");
	ck_assert_int_eq(privs_resolve("4000000001", "64103", &ids, err, sizeof(err)), EX_OK);
	ck_assert_uint_eq(ids.gid, 64103);
	ck_assert_int_eq(privs_resolve("4000000001", "0", &ids, err, sizeof(err)), EX_OK);
	ck_assert_uint_eq(ids.gid, 0);
}
END_TEST

/* Root is a config error; unknown names are EX_NOUSER, each one line. */
START_TEST(resolve_refusals)
{
	struct privs_ids ids;
	char err[256];

	ck_assert_int_eq(privs_resolve("0", "", &ids, err, sizeof(err)), EX_CONFIG);
	ck_assert_ptr_nonnull(strstr(err, "uid 0"));
	ck_assert_int_eq(privs_resolve("root", "", &ids, err, sizeof(err)), EX_CONFIG);
	ck_assert_int_eq(privs_resolve("smtpgate-no-such-user-x", "", &ids, err,
	    sizeof(err)), EX_NOUSER);
	ck_assert_ptr_nonnull(strstr(err, "\"smtpgate-no-such-user-x\": no such user"));
	ck_assert_int_eq(privs_resolve("4000000001", "smtpgate-no-such-group-x", &ids, err,
	    sizeof(err)), EX_NOUSER);
	ck_assert_ptr_nonnull(strstr(err, "no such group"));
	ck_assert_ptr_null(strchr(err, '\n'));
}
END_TEST

/* An account's primary group is the default group. */
START_TEST(resolve_account)
{
	struct privs_ids ids;
	char err[256], buf[64];

	/* "root" is refused; any other account will do: take uid 0's group name */
	ck_assert_str_eq(privs_gid_name(0, buf, sizeof(buf)), "root");
	ck_assert_str_eq(privs_uid_name(0, buf, sizeof(buf)), "root");
	ck_assert_str_eq(privs_uid_name(4000000001U, buf, sizeof(buf)), "4000000001");
	ck_assert_int_eq(privs_resolve("4000000001", "root", &ids, err, sizeof(err)), EX_OK);
	ck_assert_uint_eq(ids.gid, 0);
}
END_TEST

Suite *
unit_suite(void)
{
	Suite *s = suite_create("privs");
	TCase *tc = tcase_create("privs");

	tcase_add_loop_test(tc, parse_number, 0, sizeof(number_cases) / sizeof(number_cases[0]));
	tcase_add_loop_test(tc, name_ok, 0, sizeof(name_cases) / sizeof(name_cases[0]));
	tcase_add_test(tc, user_is_root);
	tcase_add_test(tc, resolve_numbers);
	tcase_add_test(tc, resolve_refusals);
	tcase_add_test(tc, resolve_account);
	suite_add_tcase(s, tc);
	return s;
}
