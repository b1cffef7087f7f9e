/*
 * Unit tests of common/header.c: one field found in a header block (case,
 * folding, CRLF or LF, the body not searched, the first of two) and the
 * Message-ID as it is logged (angle brackets, escaping, none); where a
 * field starts and what it is called, where the header block ends (fed
 * whole and cut at every length).
 */
#include <check.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "check_main.h"
#include "header.h"

struct msgid_case {
	const char *msg;
	const char *want;	/* header_msgid_for_log */
};

static const struct msgid_case cases[] = {
	{ "Message-ID: <a@b>\r\nSubject: x\r\n\r\nbody\r\n", "<a@b>" },
	{ "Subject: x\nmessage-id:<c.d@e>\n\nbody\n", "<c.d@e>" },
	{ "MESSAGE-ID:   <f@g>   \r\n\r\n", "<f@g>" },
	{ "Message-ID:\r\n <folded@x>\r\n\r\n", "<folded@x>" },
	{ "Message-ID: <a\r\n b@c>\r\n\r\n", "<a b@c>" },
	{ "Message-ID: (comment) <h@i> (more)\r\n\r\n", "<h@i>" },
	{ "Message-ID: no-brackets@x\r\n\r\n", "no-brackets@x" },
	{ "Message-ID: <q\"=\x01@x>\r\n\r\n", "<q\\x22\\x3d\\x01@x>" },
	{ "Subject: x\r\n\r\nMessage-ID: <in-body@x>\r\n", "none" },
	{ "Message-IDs: <no@x>\r\n\r\n", "none" },
	{ "X-Message-ID: <no@x>\r\n\r\n", "none" },
	{ "Message-ID:\r\n\r\n", "none" },
	{ "", "none" },
	{ "Message-ID: <first@x>\r\nMessage-ID: <second@x>\r\n\r\n", "<first@x>" },
	{ "Message-ID: <no-end-of-header@x>", "<no-end-of-header@x>" },
};

START_TEST(msgid)
{
	const struct msgid_case *c = &cases[_i];
	char out[128];

	header_msgid_for_log(c->msg, strlen(c->msg), out, sizeof(out));
	ck_assert_msg(strcmp(out, c->want) == 0, "case %d: got %s want %s", _i, out, c->want);
}
END_TEST

START_TEST(get_and_cut)
{
	const char *m = "Subject:  a long subject  \r\n\tgoes on\r\n\r\n";
	char out[8];
	char big[64];

	ck_assert_int_eq(header_get(m, strlen(m), "subject", big, sizeof(big)),
	    (long)strlen("a long subject  \tgoes on"));
	ck_assert_str_eq(big, "a long subject  \tgoes on");
	/* cut to 7 bytes, then trimmed */
	ck_assert_int_eq(header_get(m, strlen(m), "Subject", out, sizeof(out)), 6);
	ck_assert_str_eq(out, "a long");
	ck_assert_int_eq(header_get(m, strlen(m), "From", big, sizeof(big)), -1);
	ck_assert_str_eq(big, "");
	/* the length bounds the search: the field past len is not seen */
	ck_assert_int_eq(header_get("To: x\r\nFrom: y\r\n", 7, "From", big, sizeof(big)), -1);
}
END_TEST

static const struct {
	const char *line;
	size_t name;		/* header_name_len */
	const char *is;		/* a name header_is() finds ... */
	size_t body;		/* ... and where its body starts */
} names[] = {
	{ "Subject: hi", 7, "subject", 8 },
	{ "To:a@b", 2, "TO", 3 },
	{ "Resent-Cc \t: x", 9, "Resent-Cc", 12 },
	{ "X-Weird!#$: y", 10, "X-Weird!#$", 11 },
	{ " continued", 0, "continued", 0 },
	{ "\tfolded: no", 0, "folded", 0 },
	{ "", 0, "To", 0 },
	{ "no colon here", 0, "no", 0 },
	{ "Na me: x", 0, "Na", 0 },
	{ ": empty name", 0, "", 1 },
	{ "Tox: y", 3, "To", 0 },
	{ "To", 0, "To", 0 },
	{ "Bcc:", 3, "bcc", 4 },
};

/* Field names: header_name_len and header_is on one line. */
START_TEST(field_names)
{
	const char *l = names[_i].line;

	ck_assert_uint_eq(header_name_len(l, strlen(l)), names[_i].name);
	ck_assert_uint_eq(header_is(l, strlen(l), names[_i].is), names[_i].body);
}
END_TEST

static const struct {
	const char *msg;
	size_t want;		/* header_block_len of the whole text */
} blocks[] = {
	{ "A: 1\r\nB: 2\r\n\r\nbody\r\n", 12 },
	{ "A: 1\nB: 2\n\nbody\n", 10 },
	{ "A: 1\n\r\nbody", 5 },
	{ "A: 1\r\n", 6 },
	{ "A: 1", 4 },
	{ "", 0 },
	{ "\n\nbody", 1 },
	{ "A: 1\r\n\tcont\r\n\r\n", 13 },
};

/* The header block's length, of each text whole and of every prefix: a
 * prefix that stops before the empty line is all header, one that holds
 * the empty line has the whole text's block. */
START_TEST(block_len)
{
	const char *m = blocks[_i].msg;
	size_t n = strlen(m);

	ck_assert_uint_eq(header_block_len(m, n), blocks[_i].want);
	for (size_t k = 0; k <= n; k++) {
		size_t got = header_block_len(m, k), want = blocks[_i].want;
		bool ok = k <= want ? got == k : k > want + 1 ? got == want :
		    got == want || got == k;	/* "\r" of the empty line cut off */

		ck_assert_msg(ok, "case %d prefix %zu: %zu", _i, k, got);
	}
}
END_TEST

Suite *
unit_suite(void)
{
	Suite *s = suite_create("header");
	TCase *tc = tcase_create("core");

	tcase_add_loop_test(tc, msgid, 0, sizeof(cases) / sizeof(cases[0]));
	tcase_add_test(tc, get_and_cut);
	tcase_add_loop_test(tc, field_names, 0, sizeof(names) / sizeof(names[0]));
	tcase_add_loop_test(tc, block_len, 0, sizeof(blocks) / sizeof(blocks[0]));
	suite_add_tcase(s, tc);
	return s;
}
