/*
 * Golden output of the outbound trace fields, built by pure functions:
 * the injector's envelope lines and "Received: by <host>
 * (smtpgate-sendmail, from userid N)" (outbound/submit.c, submit_build)
 * and the top header section of a delivery status notification
 * (outbound/dsn.c, dsn_build / dsn_build_until).  Exact bytes for a table
 * of inputs: one and several recipients, the null sender, UTF-8
 * addresses, uids 0 to 2^32-2, time zones east and west of UTC, a long
 * host name that makes the DSN fold its fields.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check_main.h"
#include "dsn.h"
#include "pickup.h"
#include "queue.h"
#include "strbuf.h"
#include "submit.h"

/* 2030-01-01 00:00:00 UTC, a Tuesday */
#define T2030 ((time_t)1893456000)
/* 2026-12-04 10:20:30 UTC, a Friday */
#define NOW ((int64_t)1796379630)

/* A message whose header needs nothing added (so only our lines vary). */
#define MSG_IN "From: S <s@x.org>\nDate: Mon, 1 Jan 2029 00:00:00 +0000\n" \
	"Message-ID: <m@x.org>\nSubject: s\n\nb\n"
#define MSG_OUT "From: S <s@x.org>\r\nDate: Mon, 1 Jan 2029 00:00:00 +0000\r\n" \
	"Message-ID: <m@x.org>\r\nSubject: s\r\n\r\nb\r\n"

#define UTF8_SENDER "j\xc3\xb6rg@b\xc3\xbc" "cher.example"
#define UTF8_RCPT "\xe7\x94\xa8\xe6\x88\xb7@\xe4\xbe\x8b\xe5\xad\x90.example"

struct submit_case {
	const char *name;
	const char *tz;
	const char *host;
	unsigned long uid;
	const char *sender;
	const char *args[4];	/* recipient arguments, NULL-terminated */
	const char *want;	/* everything before MSG_OUT */
};

static const struct submit_case submit_cases[] = {
	{ "one recipient, UTC", "UTC0", "gw.test", 64111, "me@gw.test", { "a@x.org" },
	  "X-Sender: <me@gw.test>\r\n"
	  "X-Receiver: <a@x.org>\r\n"
	  "X-Smtpgate-Envelope: end\r\n"
	  "Received: by gw.test (smtpgate-sendmail, from userid 64111);\r\n"
	  "\tTue, 1 Jan 2030 00:00:00 +0000\r\n" },
	{ "root, null sender, several recipients (qualified, domain lower-cased, "
	  "duplicate dropped)", "UTC0", "gw.test", 0, "",
	  { "a@x.org", "alice", "Bob@Example.ORG", "a@x.org" },
	  "X-Sender: <>\r\n"
	  "X-Receiver: <a@x.org>\r\n"
	  "X-Receiver: <alice@gw.test>\r\n"
	  "X-Receiver: <Bob@example.org>\r\n"
	  "X-Smtpgate-Envelope: end\r\n"
	  "Received: by gw.test (smtpgate-sendmail, from userid 0);\r\n"
	  "\tTue, 1 Jan 2030 00:00:00 +0000\r\n" },
	{ "UTF-8 sender and recipient, east of UTC", "CET-1", "mail.example.org", 1000,
	  UTF8_SENDER, { UTF8_RCPT, "\"a b\"@x.org" },
	  "X-Sender: <" UTF8_SENDER ">\r\n"
	  "X-Receiver: <" UTF8_RCPT ">\r\n"
	  "X-Receiver: <\"a b\"@x.org>\r\n"
	  "X-Smtpgate-Envelope: end\r\n"
	  "Received: by mail.example.org (smtpgate-sendmail, from userid 1000);\r\n"
	  "\tTue, 1 Jan 2030 01:00:00 +0100\r\n" },
	{ "the largest uid, a half-hour zone west of UTC", "NST3:30", "h", 4294967294UL,
	  "u@h", { "r@x.org" },
	  "X-Sender: <u@h>\r\n"
	  "X-Receiver: <r@x.org>\r\n"
	  "X-Smtpgate-Envelope: end\r\n"
	  "Received: by h (smtpgate-sendmail, from userid 4294967294);\r\n"
	  "\tMon, 31 Dec 2029 20:30:00 -0330\r\n" },
};

/* Each case: the whole maildrop file, byte for byte. */
START_TEST(test_submit_trace_golden)
{
	const struct submit_case *c = &submit_cases[_i];
	struct submit_msg m;
	struct addrset r = { 0 };
	struct strbuf out = { 0 };
	char err[256], *want;
	size_t nargs = 0;

	while (nargs < 4 && c->args[nargs] != NULL)
		nargs++;
	setenv("TZ", c->tz, 1);
	tzset();
	ck_assert_int_eq(submit_parse(MSG_IN, strlen(MSG_IN), false, &m, err, sizeof(err)), 0);
	ck_assert_msg(submit_recipients(&m, &(struct submit_rcpt_args){ (char *const *)c->args,
	    nargs, false, c->host, PICKUP_MAX_RCPTS }, &r, err, sizeof(err)) == 0,
	    "case %d: %s", _i, err);
	submit_build(&out, &m, &(struct submit_envelope){ .sender = c->sender, .rcpts = &r,
	    .from_addr = "unused@x", .host = c->host, .uid = c->uid, .now = T2030,
	    .msgid = "unused" });
	want = malloc(strlen(c->want) + strlen(MSG_OUT) + 1);
	strcpy(want, c->want);
	strcat(want, MSG_OUT);
	ck_assert_msg(strcmp(out.p, want) == 0, "case %d (%s):\n got: %s\nwant: %s", _i,
	    c->name, out.p, want);
	ck_assert_uint_eq(out.len, strlen(want));
	free(want);
	strbuf_free(&out);
	addrset_free(&r);
	submit_msg_free(&m);
}
END_TEST

#define ID1 "a243bf7568963b6e"
#define FIRST_PART "--=_smtpgate_" ID1 "_1796379630_0\r\nContent-Description: Notification\r\n"
#define LONG_MTA "mx-outbound-relay-01.datacenter-frankfurt.eu-central.example.com"

struct dsn_case {
	const char *name;
	enum dsn_kind kind;
	const char *mta;
	const char *sender;
	const char *want;	/* the top header section and the preamble */
};

static const struct dsn_case dsn_cases[] = {
	{ "failed", DSN_FAILED, "gw-out.example.com", "s@example.com",
	  "From: Mail Delivery System <MAILER-DAEMON@gw-out.example.com>\r\n"
	  "To: <s@example.com>\r\n"
	  "Subject: Undelivered Mail Returned to Sender\r\n"
	  "Date: Fri, 4 Dec 2026 10:20:30 +0000\r\n"
	  "Message-ID: <1796379630.dsn-failed." ID1 "@gw-out.example.com>\r\n"
	  "MIME-Version: 1.0\r\n"
	  "Content-Type: multipart/report; report-type=delivery-status;\r\n"
	  "\tboundary=\"=_smtpgate_" ID1 "_1796379630_0\"\r\n"
	  "Auto-Submitted: auto-replied\r\n"
	  "\r\n"
	  "This is a MIME-encapsulated message.\r\n"
	  "\r\n" },
	{ "delayed", DSN_DELAYED, "gw-out.example.com", "s@example.com",
	  "From: Mail Delivery System <MAILER-DAEMON@gw-out.example.com>\r\n"
	  "To: <s@example.com>\r\n"
	  "Subject: Delayed Mail (still being retried)\r\n"
	  "Date: Fri, 4 Dec 2026 10:20:30 +0000\r\n"
	  "Message-ID: <1796379630.dsn-delayed." ID1 "@gw-out.example.com>\r\n"
	  "MIME-Version: 1.0\r\n"
	  "Content-Type: multipart/report; report-type=delivery-status;\r\n"
	  "\tboundary=\"=_smtpgate_" ID1 "_1796379630_0\"\r\n"
	  "Auto-Submitted: auto-replied\r\n"
	  "\r\n"
	  "This is a MIME-encapsulated message.\r\n"
	  "\r\n" },
	{ "a long host name: From and Message-ID folded", DSN_FAILED, LONG_MTA, "s@example.com",
	  "From: Mail Delivery System\r\n"
	  " <MAILER-DAEMON@" LONG_MTA ">\r\n"
	  "To: <s@example.com>\r\n"
	  "Subject: Undelivered Mail Returned to Sender\r\n"
	  "Date: Fri, 4 Dec 2026 10:20:30 +0000\r\n"
	  "Message-ID:\r\n"
	  " <1796379630.dsn-failed." ID1 "@" LONG_MTA ">\r\n"
	  "MIME-Version: 1.0\r\n"
	  "Content-Type: multipart/report; report-type=delivery-status;\r\n"
	  "\tboundary=\"=_smtpgate_" ID1 "_1796379630_0\"\r\n"
	  "Auto-Submitted: auto-replied\r\n"
	  "\r\n"
	  "This is a MIME-encapsulated message.\r\n"
	  "\r\n" },
	{ "a UTF-8 sender: To: made 7-bit, one '?' a byte", DSN_FAILED, "gw-out.example.com",
	  UTF8_SENDER,
	  "From: Mail Delivery System <MAILER-DAEMON@gw-out.example.com>\r\n"
	  "To: <j??rg@b??cher.example>\r\n"
	  "Subject: Undelivered Mail Returned to Sender\r\n"
	  "Date: Fri, 4 Dec 2026 10:20:30 +0000\r\n"
	  "Message-ID: <1796379630.dsn-failed." ID1 "@gw-out.example.com>\r\n"
	  "MIME-Version: 1.0\r\n"
	  "Content-Type: multipart/report; report-type=delivery-status;\r\n"
	  "\tboundary=\"=_smtpgate_" ID1 "_1796379630_0\"\r\n"
	  "Auto-Submitted: auto-replied\r\n"
	  "\r\n"
	  "This is a MIME-encapsulated message.\r\n"
	  "\r\n" },
};

/* An entry from sender with one failed and one pending recipient. */
static void
dsn_entry(struct queue_entry *e, const char *sender)
{
	memset(e, 0, sizeof(*e));
	memcpy(e->id, ID1, sizeof(ID1));
	e->sender = strdup(sender);
	e->created = NOW - 3600;
	e->attempts = 2;
	e->nrcpts = 2;
	e->rcpts = calloc(2, sizeof(*e->rcpts));
	e->rcpts[0].addr = strdup("gone@example.net");
	e->rcpts[0].state = QUEUE_RCPT_FAILED;
	e->rcpts[0].reply = strdup("550 5.1.1 no such user");
	e->rcpts[1].addr = strdup("slow@example.net");
	e->rcpts[1].state = QUEUE_RCPT_PENDING;
	e->rcpts[1].reply = strdup("451 4.2.0 busy");
}

/* Each case: the header section and preamble exactly, then the first part. */
START_TEST(test_dsn_headers_golden)
{
	const struct dsn_case *c = &dsn_cases[_i];
	const char *hdrs = "Subject: hello\r\nMessage-ID: <m@x.org>\r\n\r\n";
	struct queue_entry e;
	size_t len, wl = strlen(c->want);
	char *m;

	dsn_entry(&e, c->sender);
	m = dsn_build_until(&e, c->kind, &(struct dsn_report){ c->mta, { hdrs, strlen(hdrs) },
	    NOW, NOW + 86400 }, &len);
	ck_assert_ptr_nonnull(m);
	ck_assert_uint_eq(len, strlen(m));
	ck_assert_msg(len > wl && memcmp(m, c->want, wl) == 0, "case %d (%s):\n got: %.*s\nwant: %s",
	    _i, c->name, (int)(len < wl ? len : wl), m, c->want);
	ck_assert_msg(strncmp(m + wl, FIRST_PART, strlen(FIRST_PART)) == 0,
	    "case %d: the first part does not follow", _i);
	free(m);
	queue_entry_free(&e);
}
END_TEST

/* The null sender is never sent a notification, of either kind. */
START_TEST(test_dsn_null_sender)
{
	struct queue_entry e;
	size_t len = 7;

	dsn_entry(&e, "");
	ck_assert_ptr_null(dsn_build(&e, DSN_FAILED, "h", &(struct dsn_headers){ NULL, 0 }, NOW,
	    &len));
	ck_assert_ptr_null(dsn_build_until(&e, DSN_DELAYED, &(struct dsn_report){ "h",
	    { NULL, 0 }, NOW, NOW + 1 }, &len));
	queue_entry_free(&e);
}
END_TEST

/* The suite. */
Suite *
unit_suite(void)
{
	Suite *s = suite_create("trace");
	TCase *tc = tcase_create("outbound");

	tcase_add_loop_test(tc, test_submit_trace_golden, 0,
	    sizeof(submit_cases) / sizeof(submit_cases[0]));
	tcase_add_loop_test(tc, test_dsn_headers_golden, 0,
	    sizeof(dsn_cases) / sizeof(dsn_cases[0]));
	tcase_add_test(tc, test_dsn_null_sender);
	suite_add_tcase(s, tc);
	return s;
}
