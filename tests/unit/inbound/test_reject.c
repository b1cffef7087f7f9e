/*
 * Unit tests for inbound/reject.c: each refusal the session makes, from
 * its reply line, gets its reason; and a real session driven through
 * refusals hands every 4xx/5xx line to the refused callback, none of them
 * left as "other".
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "check_main.h"
#include "reject.h"
#include "session.h"

static const struct {
	const char *line;
	int reason;
} cases[] = {
	{ "550 5.1.1 Recipient address rejected: User unknown", REJECT_UNKNOWN_USER },
	{ "552 5.3.4 Message size exceeds fixed limit", REJECT_SIZE },
	{ "552 5.3.4 Error: message too big", REJECT_SIZE },
	{ "554 5.7.1 gw.test Access denied", REJECT_RELAY_DENIED },
	{ "421 4.7.0 gw.test Too many connections, try again later", REJECT_OVER_CAP },
	{ "421 4.7.0 gw.test Error: too many errors", REJECT_TOO_MANY_ERRORS },
	{ "421 4.3.2 gw.test Insufficient resources, try again later", REJECT_BUDGET },
	{ "421 4.3.2 gw.test Service shutting down", REJECT_SHUTDOWN },
	{ "421 4.4.2 gw.test Error: timeout exceeded", REJECT_TIMEOUT },
	{ "554 5.5.1 gw.test Protocol error: input before greeting", REJECT_EARLY_TALKER },
	{ "554 5.5.1 Error: no valid recipients", REJECT_NO_RECIPIENTS },
	{ "452 4.5.3 Error: too many recipients", REJECT_TOO_MANY_RECIPIENTS },
	{ "553 5.6.7 Non-ASCII address needs SMTPUTF8", REJECT_SMTPUTF8 },
	{ "530 5.7.0 Must issue a STARTTLS command first", REJECT_TLS_REQUIRED },
	{ "454 4.7.0 TLS not available", REJECT_TLS_UNAVAILABLE },
	{ "550 5.5.2 Error: bare <CR>, <LF> or NUL in message data", REJECT_BAD_DATA },
	{ "500 5.5.2 Error: bare LF not allowed", REJECT_BARE_LF },
	{ "500 5.5.2 Error: line too long", REJECT_LINE_TOO_LONG },
	{ "500 5.5.2 Error: command not recognized", REJECT_SYNTAX },
	{ "501 5.5.4 Syntax: MAIL FROM:<address>", REJECT_SYNTAX },
	{ "555 5.5.4 Unsupported parameter", REJECT_SYNTAX },
	{ "503 5.5.1 Error: need MAIL command", REJECT_SEQUENCE },
	{ "452 4.3.1 Insufficient system storage", REJECT_DISK_FULL },
	{ "451 4.3.0 Error: local error in processing, try again later", REJECT_LOCAL_ERROR },
	{ "452 4.2.2 Mailbox full", REJECT_MAILBOX_FULL },
	{ "554 5.6.0 Error: message has a line longer than 65536 octets", REJECT_DATA_LINE },
	{ "599 9.9.9 something new", REJECT_OTHER },
	{ "250 2.0.0 Ok", -1 },
	{ "354 End data with <CR><LF>.<CR><LF>", -1 },
	{ "", -1 },
};

/* Every known reply line gets its reason; other lines none. */
START_TEST(test_classify_table)
{
	const char *l = cases[_i].line;

	ck_assert_int_eq(reject_classify(l, strlen(l)), cases[_i].reason);
}
END_TEST

/* Every reason has a distinct label value made of [a-z_]. */
START_TEST(test_names)
{
	int i, j;

	for (i = 0; i < REJECT_NREASONS; i++) {
		const char *n = reject_name(i);

		ck_assert_ptr_nonnull(n);
		ck_assert_uint_eq(strspn(n, "abcdefghijklmnopqrstuvwxyz0123456789_"), strlen(n));
		for (j = 0; j < i; j++)
			ck_assert_str_ne(n, reject_name(j));
	}
	ck_assert_str_eq(reject_name(REJECT_NREASONS), "other");
}
END_TEST

struct seen {
	unsigned n[REJECT_NREASONS];
	unsigned total;
};

/* refused callback: classify and count. */
static void
on_refused(void *arg, const char *reply, size_t len)
{
	struct seen *s = arg;
	int r = reject_classify(reply, len);

	ck_assert_int_ge(r, 0);
	ck_assert_msg(r != REJECT_OTHER, "unclassified: %.*s", (int)len, reply);
	s->n[r]++;
	s->total++;
}

/* Recipients starting with "nobody" are unknown. */
static int
rcpt_check(void *arg, const char *addr)
{
	(void)arg;
	return strncasecmp(addr, "nobody", 6) == 0 ? -1 : 0;
}

/* Feed all of in (no message is ever completed here). */
static void
feed(struct session *sess, const char *in)
{
	size_t len = strlen(in), off = 0, n;

	while (off < len && session_event(sess) == SESSION_EV_NONE) {
		n = session_feed(sess, in + off, len - off);
		if (n == 0)
			break;
		off += n;
	}
}

/* A session refusing many ways: each refusal reaches the callback once. */
START_TEST(test_session_refusals)
{
	struct seen seen = { 0 };
	struct session_params p = {
		.hostname = "gw.test", .max_line = 2048, .max_message_size = 1000,
		.max_recipients = 2, .max_errors = 50, .tls_available = false,
		.rcpt_check = rcpt_check, .refused = on_refused, .arg = &seen,
	};
	struct session *sess = session_new(&p);
	size_t len;

	session_greet(sess, SESSION_GREET_OK);
	feed(sess, "MAIL FROM:<a@x.test>\r\n"		/* 503 */
	    "EHLO c.test\r\n"
	    "MAIL FROM:<a@x.test> SIZE=5000\r\n"	/* 552 */
	    "MAIL FROM:<a@x.test>\r\n"
	    "RCPT TO:<nobody@y.test>\r\n"		/* 550 5.1.1 */
	    "DATA\r\n"					/* 554 no valid recipients */
	    "RCPT TO:<b@y.test>\r\n"
	    "RCPT TO:<c@y.test>\r\n"
	    "RCPT TO:<d@y.test>\r\n"			/* 452 4.5.3 */
	    "STARTTLS\r\n"				/* 503: inside a transaction */
	    "BOGUS\r\n"					/* 500 */
	    "RSET x\r\n");				/* 501 */
	ck_assert_uint_eq(seen.n[REJECT_SEQUENCE], 2);
	ck_assert_uint_eq(seen.n[REJECT_NO_RECIPIENTS], 1);
	ck_assert_uint_eq(seen.n[REJECT_SIZE], 1);
	ck_assert_uint_eq(seen.n[REJECT_UNKNOWN_USER], 1);
	ck_assert_uint_eq(seen.n[REJECT_TOO_MANY_RECIPIENTS], 1);
	ck_assert_uint_eq(seen.n[REJECT_SYNTAX], 2);
	ck_assert_uint_eq(seen.total, 8);
	session_timeout(sess);
	ck_assert_uint_eq(seen.n[REJECT_TIMEOUT], 1);
	(void)session_output(sess, &len);
	ck_assert_uint_gt(len, 0);
	session_free(sess);
}
END_TEST

/* Refusals at connect reach the callback too. */
START_TEST(test_greeting_refusals)
{
	static const struct {
		enum session_greeting how;
		int reason;
	} g[] = {
		{ SESSION_GREET_DENIED, REJECT_RELAY_DENIED },
		{ SESSION_GREET_BUSY, REJECT_OVER_CAP },
		{ SESSION_GREET_EARLY, REJECT_EARLY_TALKER },
		{ SESSION_GREET_NOMEM, REJECT_BUDGET },
	};
	size_t i;

	for (i = 0; i < sizeof(g) / sizeof(g[0]); i++) {
		struct seen seen = { 0 };
		struct session_params p = { .hostname = "gw.test", .max_line = 2048,
		    .max_message_size = 1000, .rcpt_check = rcpt_check,
		    .refused = on_refused, .arg = &seen };
		struct session *sess = session_new(&p);

		session_greet(sess, g[i].how);
		ck_assert_uint_eq(seen.n[g[i].reason], 1);
		ck_assert_uint_eq(seen.total, 1);
		session_free(sess);
	}
}
END_TEST

/* What each refusal was about, as its log line shows it. */
struct ctx_seen {
	struct session *sess;
	char got[2048];
};

/* refused callback: "cmd from to|" per refusal (- for none). */
static void
on_refused_ctx(void *arg, const char *reply, size_t len)
{
	struct ctx_seen *c = arg;
	struct session_refusal r;
	size_t n = strlen(c->got);

	(void)reply;
	(void)len;
	session_refusal_context(c->sess, &r);
	snprintf(c->got + n, sizeof(c->got) - n, "%s %s %s|", r.cmd,
	    r.from ? (r.from[0] ? r.from : "<>") : "-", r.to ? r.to : "-");
}

/* Each refusal is told with its command and the addresses it concerned. */
START_TEST(test_refusal_context)
{
	struct ctx_seen c = { 0 };
	struct session_params p = {
		.hostname = "gw.test", .max_line = 512, .max_message_size = 1000,
		.max_recipients = 1, .max_errors = 50,
		.rcpt_check = rcpt_check, .refused = on_refused_ctx, .arg = &c,
	};
	char longline[700];

	c.sess = session_new(&p);
	session_greet(c.sess, SESSION_GREET_OK);
	memset(longline, 'x', sizeof(longline) - 3);
	memcpy(longline + sizeof(longline) - 3, "\r\n", 3);
	feed(c.sess, "EHLO c.test\r\n"
	    "MAIL FROM:<a@x.test> SIZE=5000\r\n"	/* MAIL, its address */
	    "MAIL FROM:<bad@@x>\r\n"			/* the address as sent */
	    "MAIL FROM:<>\r\n"
	    "RCPT TO:<nobody@y.test>\r\n"		/* from and to */
	    "RCPT TO:<b@y.test>\r\n"
	    "RCPT TO:<c@y.test>\r\n"			/* 452 */
	    "RCPT TO:<\xc3\xa9@y.test>\r\n"		/* 553, as sent */
	    "auth login\r\n"				/* unknown verb, upper-cased */
	    "X-1 y\r\n"				/* not a word: unknown */
	    "NOOP\n");					/* bare LF: no command */
	feed(c.sess, longline);
	ck_assert_str_eq(c.got,
	    "MAIL a@x.test -|"
	    "MAIL bad@@x -|"
	    "RCPT <> nobody@y.test|"
	    "RCPT <> c@y.test|"
	    "RCPT <> \xc3\xa9@y.test|"
	    "AUTH <> -|"
	    "unknown <> -|"
	    "- <> -|"
	    "- <> -|");
	c.got[0] = '\0';
	session_timeout(c.sess);
	ck_assert_str_eq(c.got, "- <> -|");
	session_free(c.sess);
	memset(&c, 0, sizeof(c));
	c.sess = session_new(&p);
	session_greet(c.sess, SESSION_GREET_DENIED);
	ck_assert_str_eq(c.got, "connect - -|");
	session_free(c.sess);
}
END_TEST

Suite *
unit_suite(void)
{
	Suite *s = suite_create("reject");
	TCase *tc = tcase_create("reject");

	tcase_add_loop_test(tc, test_classify_table, 0, sizeof(cases) / sizeof(cases[0]));
	tcase_add_test(tc, test_names);
	tcase_add_test(tc, test_session_refusals);
	tcase_add_test(tc, test_greeting_refusals);
	tcase_add_test(tc, test_refusal_context);
	suite_add_tcase(s, tc);
	return s;
}
