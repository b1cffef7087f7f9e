/*
 * Unit tests for outbound/submit.c, table-driven: the message's lines,
 * the recipients (with the PICKUP_MAX_RCPTS limit), the maildrop file
 * (envelope end line first, the message's own X-Receiver: lines after it).
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <time.h>

#include "check_main.h"
#include "pickup.h"
#include "submit.h"

#define HOST "gw.test"

static const struct {
	const char *in;
	bool dot_ok;
	size_t nlines, nheader, body;
	int rc;
	const char *err;	/* substring of the error */
} parse_cases[] = {
	{ "Subject: x\n\nb\n", false, 3, 1, 2, 0, NULL },
	{ "Subject: x\r\n\r\nline1\r\nline2", false, 4, 1, 2, 0, NULL },
	{ "From someone Tue Jan  1 00:00:00 2030\nSubject: x\n\nb\n", false, 3, 1, 2, 0, NULL },
	{ "a\n.\nb\n", false, 1, 0, 0, 0, NULL },
	{ "a\n.\nb\n", true, 3, 0, 0, 0, NULL },
	{ "To: a@x\n continued\nSubject: s\n\nbody", false, 5, 3, 4, 0, NULL },
	{ "just a body line\nsecond\n", false, 2, 0, 0, 0, NULL },
	{ "", false, 0, 0, 0, 0, NULL },
	{ "Subject: x\n\nnul\0byte\n", false, 0, 0, 0, EX_DATAERR,
	  "line 3 of the message: NUL byte" },
	{ "ok\nbare\rcr\n", false, 0, 0, 0, EX_DATAERR,
	  "line 2 of the message: CR not followed by LF" },
	{ "Subject: x\r\r\n\r\nb\r\n", false, 0, 0, 0, EX_DATAERR, "line 1" },
};

/* The length of a case's input: up to the last "\n" or end of the literal
 * (so the NUL case keeps its NUL). */
static size_t
case_len(const char *s)
{
	size_t n = strlen(s);

	if (strstr(s, "nul") != NULL)
		n += 1 + strlen(s + n + 1);
	return n;
}

START_TEST(parse_table)
{
	struct submit_msg m;
	char err[256] = "";
	int rc = submit_parse(parse_cases[_i].in, case_len(parse_cases[_i].in),
	    parse_cases[_i].dot_ok, &m, err, sizeof(err));

	ck_assert_msg(rc == parse_cases[_i].rc, "case %d: rc %d (%s)", _i, rc, err);
	if (rc != 0) {
		ck_assert_msg(strstr(err, parse_cases[_i].err) != NULL, "case %d: %s", _i, err);
		ck_assert_ptr_null(m.lines);
		return;
	}
	ck_assert_uint_eq(m.nlines, parse_cases[_i].nlines);
	ck_assert_uint_eq(m.nheader, parse_cases[_i].nheader);
	ck_assert_uint_eq(m.body, parse_cases[_i].body);
	for (size_t i = 0; i < m.nlines; i++)
		ck_assert_ptr_null(memchr(m.lines[i].p, '\n', m.lines[i].len));
	submit_msg_free(&m);
}
END_TEST

static const struct {
	const char *msg;
	const char *args;	/* '|'-separated arguments, NULL: none */
	bool t;
	size_t max;
	const char *want;	/* '|'-joined; NULL: error */
	int rc;
	const char *err;
} rcpt_cases[] = {
	{ "Subject: x\n\nb\n", "alice@example.com|Bob@Example.COM", false, 10,
	  "alice@example.com|Bob@example.com", 0, NULL },
	{ "Subject: x\n\nb\n", "root", false, 10, "root@" HOST, 0, NULL },
	{ "Subject: x\n\nb\n", "a@x.org, B <b@y.org>|a@x.org", false, 10, "a@x.org|b@y.org",
	  0, NULL },
	{ "To: a@x.org\nCc: b@y.org (B),\n c@y.org\nBcc: d@z.org\n\nb\n", NULL, true, 10,
	  "a@x.org|b@y.org|c@y.org|d@z.org", 0, NULL },
	{ "To: old@x.org\nResent-To: new@x.org\nResent-Bcc: h@z.org\n\nb\n", "arg@x.org", true,
	  10, "arg@x.org|new@x.org|h@z.org", 0, NULL },
	/* the message's own envelope-looking lines are never recipients */
	{ "X-Receiver: <x@evil>\nX-Sender: <y@evil>\nTo: a@x.org\n\nb\n", NULL, true, 10,
	  "a@x.org", 0, NULL },
	{ "X-Receiver: <x@evil>\n\nb\n", "a@x.org", false, 10, "a@x.org", 0, NULL },
	{ "Subject: none\n\nb\n", NULL, true, 10, NULL, EX_USAGE,
	  "No recipient addresses found in header" },
	{ "Subject: none\n\nb\n", NULL, false, 10, NULL, EX_USAGE, "no recipients" },
	{ "Subject: x\n\nb\n", "a@@example.com", false, 10, NULL, EX_DATAERR,
	  "bad recipient address \"a@@example.com\"" },
	{ "To: good@x.org, bad@@x.org\n\nb\n", NULL, true, 10, NULL, EX_DATAERR,
	  "bad recipient address" },
	{ "Subject: x\n\nb\n", "a@x.org, b@x.org, c@x.org", false, 2, NULL, EX_DATAERR,
	  "too many recipients (more than 2, the limit)" },
	{ "To: a@x.org, b@x.org, a@x.org\n\nb\n", "b@x.org|a@x.org", true, 2, "b@x.org|a@x.org",
	  0, NULL },
};

/* Split a '|'-separated string into a NULL-terminated vector (malloc'd). */
static char **
split_args(const char *s, size_t *n)
{
	char **v = calloc(64, sizeof(*v));
	char *copy, *tok, *save;

	*n = 0;
	if (s == NULL)
		return v;
	copy = strdup(s);
	for (tok = strtok_r(copy, "|", &save); tok; tok = strtok_r(NULL, "|", &save))
		v[(*n)++] = strdup(tok);
	free(copy);
	return v;
}

/* Join the recipients with '|'. */
static void
join(const struct addrset *r, char *buf, size_t sz)
{
	buf[0] = '\0';
	for (size_t i = 0; i < r->list.n; i++) {
		if (i > 0)
			strncat(buf, "|", sz - strlen(buf) - 1);
		strncat(buf, r->list.addrs[i], sz - strlen(buf) - 1);
	}
}

START_TEST(rcpt_table)
{
	struct submit_msg m;
	struct addrset r = { 0 };
	char err[256] = "", got[1024];
	size_t nargs;
	char **args = split_args(rcpt_cases[_i].args, &nargs);
	int rc;

	ck_assert_int_eq(submit_parse(rcpt_cases[_i].msg, strlen(rcpt_cases[_i].msg), false,
	    &m, err, sizeof(err)), 0);
	rc = submit_recipients(&m, &(struct submit_rcpt_args){ .args = args, .nargs = nargs,
	    .from_headers = rcpt_cases[_i].t, .host = HOST, .max = rcpt_cases[_i].max },
	    &r, err, sizeof(err));
	ck_assert_msg(rc == rcpt_cases[_i].rc, "case %d: rc %d (%s)", _i, rc, err);
	if (rc == 0) {
		join(&r, got, sizeof(got));
		ck_assert_str_eq(got, rcpt_cases[_i].want);
	} else {
		ck_assert_msg(strstr(err, rcpt_cases[_i].err) != NULL, "case %d: %s", _i, err);
	}
	addrset_free(&r);
	submit_msg_free(&m);
	for (size_t i = 0; i < nargs; i++)
		free(args[i]);
	free(args);
}
END_TEST

/* n distinct addresses (and each twice when dup) as one address list. */
static char *
many_addresses(size_t n, bool dup)
{
	size_t cap = n * 24 * (dup ? 2 : 1) + 1, len = 0;
	char *s = malloc(cap);

	s[0] = '\0';
	for (size_t k = 0; k < (dup ? 2 : 1); k++)
		for (size_t i = 0; i < n; i++)
			len += (size_t)snprintf(s + len, cap - len, "%su%zu@x.org",
			    len ? "," : "", i);
	return s;
}

/* The daemon's limit: PICKUP_MAX_RCPTS distinct recipients pass (each
 * given twice: duplicates do not count), one more does not. */
START_TEST(rcpt_limit)
{
	struct submit_msg m;
	struct addrset r = { 0 };
	char err[256];
	char *ok = many_addresses(PICKUP_MAX_RCPTS, true);
	char *over = many_addresses(PICKUP_MAX_RCPTS + 1, false);

	ck_assert_int_eq(submit_parse("", 0, false, &m, err, sizeof(err)), 0);
	ck_assert_int_eq(submit_recipients(&m, &(struct submit_rcpt_args){ .args = &ok,
	    .nargs = 1, .host = HOST, .max = PICKUP_MAX_RCPTS }, &r, err, sizeof(err)), 0);
	ck_assert_uint_eq(r.list.n, PICKUP_MAX_RCPTS);
	ck_assert_str_eq(r.list.addrs[PICKUP_MAX_RCPTS - 1], "u9999@x.org");
	addrset_free(&r);
	ck_assert_int_eq(submit_recipients(&m, &(struct submit_rcpt_args){ .args = &over,
	    .nargs = 1, .host = HOST, .max = PICKUP_MAX_RCPTS }, &r, err, sizeof(err)), EX_DATAERR);
	ck_assert_str_eq(err, "too many recipients (more than 10000, the limit)");
	addrset_free(&r);
	submit_msg_free(&m);
	free(ok);
	free(over);
}
END_TEST

/* Build a maildrop file for msg with fixed time (UTC) and ids. */
static void
build(const char *msg, const char *sender, const char *fullname, struct strbuf *out)
{
	struct submit_msg m;
	struct addrset r = { 0 };
	char err[256], *args[] = { (char[]){ "a@x.org" } };

	setenv("TZ", "UTC0", 1);
	tzset();
	ck_assert_int_eq(submit_parse(msg, strlen(msg), false, &m, err, sizeof(err)), 0);
	ck_assert_int_eq(submit_recipients(&m, &(struct submit_rcpt_args){ .args = args,
	    .nargs = 1, .from_headers = true, .host = HOST, .max = 10 }, &r, err, sizeof(err)), 0);
	submit_build(out, &m, &(struct submit_envelope){ .sender = sender, .rcpts = &r,
	    .from_addr = "me@" HOST, .fullname = fullname, .host = HOST, .uid = 64111,
	    .now = 1893456000, .msgid = "id.1" });
	addrset_free(&r);
	submit_msg_free(&m);
}

/* The whole file: envelope, end line, Received:, the message (its own
 * X-Receiver:/X-Sender: lines after the end line), completed header, no Bcc:. */
START_TEST(build_golden)
{
	struct strbuf out = { 0 };

	build("X-Receiver: <x@evil>\nX-Sender: <y@evil>\nSubject: s\nBcc: h@x.org\n"
	    "\nbody\n..dot\n", "me@" HOST, "Me", &out);
	ck_assert_str_eq(out.p,
	    "X-Sender: <me@gw.test>\r\n"
	    "X-Receiver: <a@x.org>\r\n"
	    "X-Receiver: <h@x.org>\r\n"
	    "X-Smtpgate-Envelope: end\r\n"
	    "Received: by gw.test (smtpgate-sendmail, from userid 64111);\r\n"
	    "\tTue, 1 Jan 2030 00:00:00 +0000\r\n"
	    "X-Receiver: <x@evil>\r\n"
	    "X-Sender: <y@evil>\r\n"
	    "Subject: s\r\n"
	    "From: \"Me\" <me@gw.test>\r\n"
	    "Date: Tue, 1 Jan 2030 00:00:00 +0000\r\n"
	    "Message-ID: <id.1@gw.test>\r\n"
	    "\r\n"
	    "body\r\n"
	    "..dot\r\n");
	ck_assert_uint_eq(out.len, strlen(out.p));
	strbuf_free(&out);
}
END_TEST

/* A complete header is kept as it is; the null sender is "<>". */
START_TEST(build_keeps_header)
{
	struct strbuf out = { 0 };
	const char *msg = "From: S <s@x.org>\nDate: Mon, 1 Jan 2029 00:00:00 +0000\n"
	    "Message-ID: <m@x.org>\nTo: t@x.org\n\nb\n";

	build(msg, "", NULL, &out);
	ck_assert_str_eq(out.p,
	    "X-Sender: <>\r\n"
	    "X-Receiver: <a@x.org>\r\n"
	    "X-Receiver: <t@x.org>\r\n"
	    "X-Smtpgate-Envelope: end\r\n"
	    "Received: by gw.test (smtpgate-sendmail, from userid 64111);\r\n"
	    "\tTue, 1 Jan 2030 00:00:00 +0000\r\n"
	    "From: S <s@x.org>\r\n"
	    "Date: Mon, 1 Jan 2029 00:00:00 +0000\r\n"
	    "Message-ID: <m@x.org>\r\n"
	    "To: t@x.org\r\n"
	    "\r\n"
	    "b\r\n");
	strbuf_free(&out);
}
END_TEST

/* A full name outside ASCII becomes encoded-words; quotes are escaped. */
START_TEST(build_from_names)
{
	struct strbuf out = { 0 };

	build("Subject: s\n\nb\n", "me@" HOST, "J\xc3\xb6rg", &out);
	ck_assert_ptr_nonnull(strstr(out.p, "\r\nFrom: =?UTF-8?B?SsO2cmc=?= <me@gw.test>\r\n"));
	strbuf_free(&out);
	build("Subject: s\n\nb\n", "me@" HOST, "Jane \"JD\"\r\n Doe", &out);
	ck_assert_ptr_nonnull(strstr(out.p, "\r\nFrom: \"Jane \\\"JD\\\" Doe\" <me@gw.test>\r\n"));
	strbuf_free(&out);
}
END_TEST

/* Dates in local time with the zone's offset, whatever its sign. */
START_TEST(date_offsets)
{
	char buf[64];

	setenv("TZ", "UTC0", 1);
	tzset();
	ck_assert_str_eq(submit_date(1893456000, buf, sizeof(buf)),
	    "Tue, 1 Jan 2030 00:00:00 +0000");
	setenv("TZ", "XYZ-1:30", 1);
	tzset();
	ck_assert_str_eq(submit_date(1893456000, buf, sizeof(buf)),
	    "Tue, 1 Jan 2030 01:30:00 +0130");
	setenv("TZ", "XYZ5", 1);
	tzset();
	ck_assert_str_eq(submit_date(1893456000, buf, sizeof(buf)),
	    "Mon, 31 Dec 2029 19:00:00 -0500");
}
END_TEST

/* The suite. */
Suite *
unit_suite(void)
{
	Suite *s = suite_create("submit");
	TCase *tc = tcase_create("submit");

	tcase_add_loop_test(tc, parse_table, 0, (int)(sizeof(parse_cases) / sizeof(parse_cases[0])));
	tcase_add_loop_test(tc, rcpt_table, 0, (int)(sizeof(rcpt_cases) / sizeof(rcpt_cases[0])));
	tcase_add_test(tc, rcpt_limit);
	tcase_add_test(tc, build_golden);
	tcase_add_test(tc, build_keeps_header);
	tcase_add_test(tc, build_from_names);
	tcase_add_test(tc, date_offsets);
	suite_add_tcase(s, tc);
	return s;
}
