/*
 * Unit tests for outbound/submit_bs.c (the -bs dialogue): golden
 * transcripts, each fed whole and one byte at a time, with the messages
 * handed out recorded as "sender|rcpt,rcpt|data" and answered "250 ...";
 * the limits (size, recipients, line length, error count); the address
 * list splitter that -f and -bv use.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check_main.h"
#include "addrlist.h"
#include "submit.h"
#include "submit_bs.h"

#define HOST "gw.test"
#define GREET "220 gw.test ESMTP smtpgate-sendmail\r\n"
#define EHLO_REPLY "250-gw.test\r\n250-PIPELINING\r\n250-SIZE 1000\r\n250-VRFY\r\n" \
	"250-ENHANCEDSTATUSCODES\r\n250 8BITMIME\r\n"
#define QUEUED "250 2.0.0 Ok: queued as T\r\n"

struct run {
	struct strbuf out;		/* every reply */
	struct strbuf msgs;		/* "sender|rcpts|data\n" per message */
	int closed;
};

/* Record the handed-out message and answer it. */
static void
take_message(struct submit_bs *s, struct run *r)
{
	const struct addrset *rc = submit_bs_rcpts(s);
	const char *sender = submit_bs_sender(s), *data;
	size_t len;

	strbuf_add(&r->msgs, sender, strlen(sender));
	strbuf_add(&r->msgs, "|", 1);
	for (size_t i = 0; i < rc->list.n; i++) {
		if (i > 0)
			strbuf_add(&r->msgs, ",", 1);
		strbuf_add(&r->msgs, rc->list.addrs[i], strlen(rc->list.addrs[i]));
	}
	strbuf_add(&r->msgs, "|", 1);
	data = submit_bs_data(s, &len);
	strbuf_add(&r->msgs, data, len);
	strbuf_add(&r->msgs, "\n", 1);
	submit_bs_done(s, "250 2.0.0 Ok: queued as T");
}

/*
 * Feed in[0..len) in pieces of `step` bytes (0: whole), keeping unused
 * bytes as the real driver does; collect replies and messages.
 */
static void
run_session(const char *in, size_t len, size_t step, size_t max_size, size_t max_rcpts,
    struct run *r)
{
	struct submit_bs *s = submit_bs_new(&(struct submit_bs_params){ .hostname = HOST,
	    .max_size = max_size, .max_rcpts = max_rcpts });
	struct strbuf pend = { 0 };
	size_t off = 0, olen;
	const char *o;

	memset(r, 0, sizeof(*r));
	submit_bs_greet(s);
	while (off < len && !r->closed) {
		size_t n = step == 0 || len - off < step ? len - off : step, used, pos = 0;

		strbuf_add(&pend, in + off, n);
		off += n;
		for (;;) {
			enum submit_bs_event ev = submit_bs_feed(s, pend.p + pos, pend.len - pos,
			    &used);
			pos += used;
			if (ev == SUBMIT_BS_MESSAGE) {
				take_message(s, r);
				continue;
			}
			r->closed = ev == SUBMIT_BS_CLOSE;
			break;
		}
		memmove(pend.p, pend.p + pos, pend.len - pos);
		pend.len -= pos;
	}
	o = submit_bs_output(s, &olen);
	strbuf_add(&r->out, o, olen);
	if (r->out.p == NULL)
		strbuf_add(&r->out, "", 0);
	if (r->msgs.p == NULL)
		strbuf_add(&r->msgs, "", 0);
	strbuf_free(&pend);
	submit_bs_free(s);
}

static const struct {
	const char *in;
	const char *out;	/* after the greeting */
	const char *msgs;
	int closed;
} cases[] = {
	/* a whole session, pipelined */
	{ "EHLO c\r\nMAIL FROM:<a@x.org> SIZE=10 BODY=8BITMIME\r\nRCPT TO:<b@y.org>\r\n"
	  "RCPT TO:<root>\r\nDATA\r\nSubject: s\r\n\r\nbody\r\n..dot\r\n.\r\nQUIT\r\n",
	  EHLO_REPLY "250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n250 2.1.5 Ok\r\n"
	  "354 End data with <CR><LF>.<CR><LF>\r\n" QUEUED "221 2.0.0 Bye\r\n",
	  "a@x.org|b@y.org,root@gw.test|Subject: s\r\n\r\nbody\r\n.dot\r\n\n", 1 },
	/* two messages, RSET between, null sender, LF line ends, no HELO */
	{ "MAIL FROM:<>\nRCPT TO:<b@y.org>\nDATA\nm1\n.\nMAIL FROM:<c@z.org>\nRSET\n"
	  "MAIL FROM:c@z.org\nRCPT TO:d@y.org\nRCPT TO:<d@Y.ORG>\nDATA\n.\n",
	  "250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n354 End data with <CR><LF>.<CR><LF>\r\n" QUEUED
	  "250 2.1.0 Ok\r\n250 2.0.0 Ok\r\n250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n250 2.1.5 Ok\r\n"
	  "354 End data with <CR><LF>.<CR><LF>\r\n" QUEUED,
	  "|b@y.org|m1\n\nc@z.org|d@y.org|\n", 0 },
	/* sequence errors */
	{ "RCPT TO:<a@b.c>\r\nDATA\r\nMAIL FROM:<a@b.c>\r\nMAIL FROM:<a@b.c>\r\nDATA\r\n",
	  "503 5.5.1 Error: need MAIL command\r\n503 5.5.1 Error: need RCPT command\r\n"
	  "250 2.1.0 Ok\r\n503 5.5.1 Error: nested MAIL command\r\n"
	  "554 5.5.1 Error: no valid recipients\r\n", "", 0 },
	/* syntax errors and what Postfix answers for HELP and unknown verbs */
	{ "HELO\r\nEHLO\r\nMAIL TO:<a@b.c>\r\nMAIL FROM:\r\nMAIL FROM:<a@b.c\r\n"
	  "MAIL FROM:<a@@b>\r\nMAIL FROM:<a@b.c> FOO=1\r\nMAIL FROM:<a@b.c>x\r\n"
	  "HELP\r\nSTARTTLS\r\nAUTH PLAIN x\r\n\r\nNOOP x\r\nVRFY\r\nVRFY <root>\r\n"
	  "HELO h\r\n",
	  "501 5.5.4 Syntax: HELO hostname\r\n501 5.5.4 Syntax: EHLO hostname\r\n"
	  "501 5.5.4 Syntax: MAIL FROM:<address>\r\n501 5.5.4 Syntax: MAIL FROM:<address>\r\n"
	  "501 5.5.4 Syntax: MAIL FROM:<address>\r\n501 5.1.7 Bad sender address syntax\r\n"
	  "555 5.5.4 Unsupported option: FOO\r\n501 5.5.4 Syntax: MAIL FROM:<address>\r\n"
	  "502 5.5.2 Error: command not recognized\r\n502 5.5.2 Error: command not recognized\r\n"
	  "502 5.5.2 Error: command not recognized\r\n500 5.5.2 Error: bad syntax\r\n"
	  "250 2.0.0 Ok\r\n501 5.5.4 Syntax: VRFY address\r\n252 2.0.0 root@gw.test\r\n"
	  "250 gw.test\r\n", "", 0 },
	/* recipients: null, bad, parameters, non-ASCII */
	{ "MAIL FROM:<a@b.c>\r\nRCPT TO:<>\r\nRCPT TO:<x@@y>\r\nRCPT TO:<x@y.z> NOTIFY=NEVER\r\n"
	  "RCPT TO:<\xc3\xa9@y.z>\r\nRSET x\r\nDATA x\r\n",
	  "250 2.1.0 Ok\r\n501 5.1.3 Bad recipient address syntax\r\n"
	  "501 5.1.3 Bad recipient address syntax\r\n555 5.5.4 Unsupported option: NOTIFY=NEVER\r\n"
	  "553 5.6.7 Non-ASCII address needs SMTPUTF8\r\n501 5.5.4 Syntax: RSET\r\n"
	  "501 5.5.4 Syntax: DATA\r\n", "", 0 },
	/* size: SIZE= too big, then data too big (read to its end, in sync after) */
	{ "MAIL FROM:<a@b.c> SIZE=1001\r\nMAIL FROM:<a@b.c> SIZE=x\r\nMAIL FROM:<a@b.c>\r\n"
	  "RCPT TO:<d@e.f>\r\nDATA\r\n", "552 5.3.4 Message size exceeds fixed limit\r\n"
	  "501 5.5.4 Bad message size syntax\r\n250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n"
	  "354 End data with <CR><LF>.<CR><LF>\r\n", "", 0 },
	/* control bytes in a command; QUIT ends everything after it */
	{ "NO\x01OP\r\nNOOP\rx\r\nQUIT\r\nNOOP\r\n",
	  "500 5.5.2 Error: bad syntax\r\n500 5.5.2 Error: bad syntax\r\n221 2.0.0 Bye\r\n",
	  "", 1 },
	/* a dot line with CR inside data, and a dot-CR not followed by LF */
	{ "MAIL FROM:<a@b.c>\r\nRCPT TO:<d@e.f>\r\nDATA\r\n.\rx\r\n.\r\n",
	  "250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n354 End data with <CR><LF>.<CR><LF>\r\n" QUEUED,
	  "a@b.c|d@e.f|\rx\r\n\n", 0 },
};

START_TEST(transcripts)
{
	static const size_t steps[] = { 0, 1, 7 };

	for (size_t k = 0; k < sizeof(steps) / sizeof(steps[0]); k++) {
		struct run r;
		char want[4096];

		run_session(cases[_i].in, strlen(cases[_i].in), steps[k], 1000, 5, &r);
		snprintf(want, sizeof(want), GREET "%s", cases[_i].out);
		ck_assert_msg(strcmp(r.out.p, want) == 0, "case %d step %zu: replies\n%s\nwant\n%s",
		    _i, steps[k], r.out.p, want);
		ck_assert_msg(strcmp(r.msgs.p, cases[_i].msgs) == 0, "case %d step %zu: messages "
		    "\"%s\"", _i, steps[k], r.msgs.p);
		ck_assert_int_eq(r.closed, cases[_i].closed);
		strbuf_free(&r.out);
		strbuf_free(&r.msgs);
	}
}
END_TEST

/* A message over max_size is read to its end, refused with 552, and the
 * session goes on; one of exactly max_size bytes is handed out. */
START_TEST(size_limit)
{
	struct strbuf in = { 0 };
	struct run r;
	char line[101];
	const char *txn = "MAIL FROM:<a@b.c>\r\nRCPT TO:<d@e.f>\r\nDATA\r\n";

	memset(line, 'x', 98);
	memcpy(line + 98, "\r\n", 3);
	strbuf_add(&in, txn, strlen(txn));
	for (int i = 0; i < 11; i++)
		strbuf_add(&in, line, 100);
	strbuf_add(&in, ".\r\n", 3);
	strbuf_add(&in, txn, strlen(txn));
	for (int i = 0; i < 10; i++)
		strbuf_add(&in, line, 100);
	strbuf_add(&in, ".\r\nQUIT\r\n", 9);
	for (size_t step = 0; step <= 1; step++) {
		run_session(in.p, in.len, step, 1000, 5, &r);
		ck_assert_msg(strstr(r.out.p, "354 End data with <CR><LF>.<CR><LF>\r\n"
		    "552 5.3.4 Message size exceeds fixed limit\r\n250 2.1.0 Ok\r\n") != NULL,
		    "%s", r.out.p);
		ck_assert_msg(strstr(r.out.p, QUEUED "221 2.0.0 Bye\r\n") != NULL, "%s", r.out.p);
		ck_assert_uint_eq(strlen(r.msgs.p), strlen("a@b.c|d@e.f|\n") + 1000);
		strbuf_free(&r.out);
		strbuf_free(&r.msgs);
	}
	strbuf_free(&in);
}
END_TEST

/* More distinct recipients than max_rcpts: 452 for each extra one, a
 * duplicate still 250; the message keeps the first max_rcpts. */
START_TEST(rcpt_limit)
{
	const char *in = "MAIL FROM:<a@b.c>\r\nRCPT TO:<1@x.y>\r\nRCPT TO:<2@x.y>\r\n"
	    "RCPT TO:<3@x.y>\r\nRCPT TO:<1@x.y>\r\nDATA\r\nb\r\n.\r\n";
	struct run r;

	run_session(in, strlen(in), 0, 1000, 2, &r);
	ck_assert_str_eq(r.out.p, GREET "250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n250 2.1.5 Ok\r\n"
	    "452 4.5.3 Error: too many recipients\r\n250 2.1.5 Ok\r\n"
	    "354 End data with <CR><LF>.<CR><LF>\r\n" QUEUED);
	ck_assert_str_eq(r.msgs.p, "a@b.c|1@x.y,2@x.y|b\r\n\n");
	strbuf_free(&r.out);
	strbuf_free(&r.msgs);
}
END_TEST

/* An over-long command line: one 500, the rest of it skipped, in sync after. */
START_TEST(long_line)
{
	struct strbuf in = { 0 };
	struct run r;

	strbuf_add(&in, "NOOP ", 5);
	for (int i = 0; i < 5000; i++)
		strbuf_add(&in, "a", 1);
	strbuf_add(&in, "\r\nNOOP\r\n", 8);
	for (size_t step = 0; step <= 1; step++) {
		run_session(in.p, in.len, step, 1000, 5, &r);
		ck_assert_str_eq(r.out.p, GREET "500 5.5.2 Error: line too long\r\n250 2.0.0 Ok\r\n");
		strbuf_free(&r.out);
		strbuf_free(&r.msgs);
	}
	strbuf_free(&in);
}
END_TEST

/* SUBMIT_BS_MAX_ERRORS error replies end the session with 421. */
START_TEST(error_limit)
{
	struct strbuf in = { 0 };
	struct run r;

	for (int i = 0; i < SUBMIT_BS_MAX_ERRORS + 5; i++)
		strbuf_add(&in, "BOGUS\r\n", 7);
	run_session(in.p, in.len, 0, 1000, 5, &r);
	ck_assert_int_eq(r.closed, 1);
	ck_assert_msg(strstr(r.out.p, "421 4.7.0 gw.test Error: too many errors\r\n") != NULL,
	    "%s", r.out.p);
	ck_assert_ptr_null(strstr(strstr(r.out.p, "421 "), "502 "));
	strbuf_free(&r.out);
	strbuf_free(&r.msgs);
	strbuf_free(&in);
}
END_TEST

/* A failed drop answered by the caller counts as an error reply. */
START_TEST(failed_drop_reply)
{
	struct submit_bs *s = submit_bs_new(&(struct submit_bs_params){ .hostname = HOST,
	    .max_size = 1000, .max_rcpts = 5 });
	const char *in = "MAIL FROM:<a@b.c>\r\nRCPT TO:<d@e.f>\r\nDATA\r\nx\r\n.\r\nNOOP\r\n";
	size_t used, len;
	const char *o;

	ck_assert_int_eq(submit_bs_feed(s, in, strlen(in), &used), SUBMIT_BS_MESSAGE);
	ck_assert(submit_bs_in_data(s));
	submit_bs_done(s, "451 4.3.0 Error: queue file write error");
	ck_assert(!submit_bs_in_data(s));
	ck_assert_int_eq(submit_bs_feed(s, in + used, strlen(in) - used, &used), SUBMIT_BS_MORE);
	o = submit_bs_output(s, &len);
	ck_assert_ptr_nonnull(strstr(o, "451 4.3.0 Error: queue file write error\r\n"
	    "250 2.0.0 Ok\r\n"));
	submit_bs_output_clear(s);
	submit_bs_timeout(s);
	o = submit_bs_output(s, &len);
	ck_assert_str_eq(o, "421 4.4.2 gw.test Error: timeout exceeded\r\n");
	submit_bs_free(s);
}
END_TEST

static const struct {
	const char *list;
	const char *first;	/* NULL: no address */
	size_t n;
} list_cases[] = {
	{ "App <x@example.org>", "x@example.org", 1 },
	{ "<x@example.org>", "x@example.org", 1 },
	{ "x@example.org (App)", "x@example.org", 1 },
	{ "\"App, Inc.\" <x@example.org>", "x@example.org", 1 },
	{ "x@example.org", "x@example.org", 1 },
	{ "<>", NULL, 0 },
	{ "", NULL, 0 },
	{ "a@b, C <c@d>", "a@b", 2 },
};

START_TEST(address_lists)
{
	struct addrlist l = { 0 };

	addrlist_split(list_cases[_i].list, strlen(list_cases[_i].list), &l);
	ck_assert_uint_eq(l.n, list_cases[_i].n);
	if (list_cases[_i].first != NULL)
		ck_assert_str_eq(l.addrs[0], list_cases[_i].first);
	addrlist_free(&l);
}
END_TEST

/* The suite. */
Suite *
unit_suite(void)
{
	Suite *s = suite_create("submit_bs");
	TCase *tc = tcase_create("submit_bs");

	tcase_add_loop_test(tc, transcripts, 0, (int)(sizeof(cases) / sizeof(cases[0])));
	tcase_add_test(tc, size_limit);
	tcase_add_test(tc, rcpt_limit);
	tcase_add_test(tc, long_line);
	tcase_add_test(tc, error_limit);
	tcase_add_test(tc, failed_drop_reply);
	tcase_add_loop_test(tc, address_lists, 0,
	    (int)(sizeof(list_cases) / sizeof(list_cases[0])));
	suite_add_tcase(s, tc);
	return s;
}
