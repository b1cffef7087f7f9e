/*
 * Unit tests for the inbound session state machine: golden transcripts.
 * Each case is input bytes -> the expected transcript (reply lines with
 * CRLF shown as "\n", plus [MSG ...], [STARTTLS left=N] and [CLOSE]
 * markers for events).  Every case is fed whole, one byte at a time and in
 * 7-byte pieces, and all three must give exactly the expected transcript.
 * The driver behaves like conn.c: it keeps unconsumed bytes and feeds them
 * again after handling an event.
 */
#include <check.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "check_main.h"
#include "session.h"

#define HOST "mx.test"
#define G "220 " HOST " ESMTP smtpgate\n"
#define EHLO_HEAD_SIZE(sz) "250-" HOST "\n250-PIPELINING\n250-SIZE " sz "\n250-8BITMIME\n" \
	"250-ENHANCEDSTATUSCODES\n"
#define EHLO_HEAD EHLO_HEAD_SIZE("1000")
#define EHLO_TAIL "250-SMTPUTF8\n250 CHUNKING\n"
#define EHLO_R EHLO_HEAD "250-STARTTLS\n" EHLO_TAIL	/* TLS available */
#define EHLO_NOTLS EHLO_HEAD EHLO_TAIL
#define OK "250 2.0.0 Ok\n"
#define MAIL_OK "250 2.1.0 Ok\n"
#define RCPT_OK "250 2.1.5 Ok\n"
#define GO "354 End data with <CR><LF>.<CR><LF>\n"
#define QUEUED "250 2.0.0 Ok: queued as Q1\n"
#define BYE "221 2.0.0 Bye\n[CLOSE]\n"
#define SEQ(why) "503 5.5.1 Error: " why "\n"
#define TXN "EHLO c.test\r\nMAIL FROM:<a@x.test>\r\nRCPT TO:<b@y.test>\r\n"
#define TXN_R G EHLO_R MAIL_OK RCPT_OK
#define TXN_R_SIZE(sz) G EHLO_HEAD_SIZE(sz) "250-STARTTLS\n" EHLO_TAIL MAIL_OK RCPT_OK
#define MSG(from, to, flags, body) "[MSG helo=c.test esmtp=1 from=<" from "> to=<" to \
	"> " flags " body=" body "]\n"
#define PLAIN "utf8=0 8bit=0 chunk=0"

enum greet { GREET_OK, GREET_NONE, GREET_DENIED, GREET_BUSY };

struct opts {
	unsigned max_size;		/* 0: 1000 */
	unsigned max_rcpt;		/* 0: 50 */
	unsigned max_err;		/* 0: 50 */
	bool no_tls;
	bool tls_req;
	int deliver;			/* enum session_delivery for every message */
	unsigned max_dline;		/* max_data_line; 0: none */
	bool no_space;			/* mail_check says the spool is short */
	enum greet greet;
};

struct tcase {
	const char *name;
	const char *in;
	size_t in_len;			/* 0: strlen */
	const char *want;
	struct opts o;
};

/* A growing transcript. */
struct tr {
	char *s;
	size_t len, cap;
};

/* Append n bytes to the transcript. */
static void
tr_add(struct tr *t, const char *p, size_t n)
{
	if (t->len + n + 1 > t->cap) {
		t->cap = (t->len + n + 1) * 2;
		t->s = realloc(t->s, t->cap);
	}
	memcpy(t->s + t->len, p, n);
	t->len += n;
	t->s[t->len] = '\0';
}

/* Append formatted text. */
static void __attribute__((format(printf, 2, 3)))
tr_printf(struct tr *t, const char *fmt, ...)
{
	char buf[4096];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	tr_add(t, buf, (size_t)n < sizeof(buf) ? (size_t)n : sizeof(buf) - 1);
}

/* Append reply bytes, CRLF shown as "\n"; a lone CR or LF is a bug. */
static void
tr_output(struct tr *t, const char *p, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (p[i] == '\r' && i + 1 < n && p[i + 1] == '\n') {
			tr_add(t, "\n", 1);
			i++;
		} else if (p[i] == '\r' || p[i] == '\n')
			tr_add(t, "<BAD-EOL>", 9);
		else
			tr_add(t, p + i, 1);
	}
}

/* Append a body with CR, LF and other control bytes escaped. */
static void
tr_body(struct tr *t, const char *p, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (p[i] == '\r')
			tr_add(t, "\\r", 2);
		else if (p[i] == '\n')
			tr_add(t, "\\n", 2);
		else if ((unsigned char)p[i] < 0x20)
			tr_printf(t, "\\x%02x", (unsigned char)p[i]);
		else
			tr_add(t, p + i, 1);
	}
}

/* Recipients are accepted unless the local part starts with "nobody"
 * (unknown), "full" (mailbox over its limit) or "nospace" (spool short). */
static int
rcpt_check(void *arg, const char *addr)
{
	if (strncasecmp(addr, "nobody", 6) == 0)
		return SESSION_RCPT_UNKNOWN;
	if (strncasecmp(addr, "full", 4) == 0)
		return SESSION_RCPT_FULL;
	if (strncasecmp(addr, "nospace", 7) == 0)
		return SESSION_RCPT_NOSPACE;
	return SESSION_RCPT_OK;
}

/* MAIL: the spool is below its reserve. */
static int
mail_check_short(void *arg)
{
	return SESSION_RCPT_NOSPACE;
}

/* Session parameters from the case's options. */
static struct session_params
make_params(const struct opts *o)
{
	struct session_params p = {
		.hostname = HOST,
		.max_line = 512,
		.max_message_size = o->max_size ? o->max_size : 1000,
		.max_recipients = o->max_rcpt ? o->max_rcpt : 50,
		.max_errors = o->max_err ? o->max_err : 50,
		.tls_available = !o->no_tls,
		.tls_required = o->tls_req,
		.rcpt_check = rcpt_check,
		.mail_check = o->no_space ? mail_check_short : NULL,
		.max_data_line = o->max_dline,
	};
	return p;
}

/* Record the pending message, take its body, check the body pointer. */
static void
record_message(struct session *s, struct tr *t)
{
	const struct session_message *m = session_message(s);
	const char *body_ptr;
	size_t i, blen;
	char *body;

	ck_assert_ptr_nonnull(m);
	ck_assert(session_in_data(s));
	tr_printf(t, "[MSG helo=%s esmtp=%d from=<%s> to=<", m->helo, m->esmtp, m->mail_from);
	for (i = 0; i < m->nrcpts; i++)
		tr_printf(t, "%s%s", i ? "," : "", m->rcpts[i]);
	tr_printf(t, "> utf8=%d 8bit=%d chunk=%d body=", m->smtputf8, m->body_8bitmime,
	    m->chunking);
	body_ptr = m->body;
	ck_assert_ptr_nonnull(body_ptr);
	body = session_take_body(s, &blen);
	ck_assert_ptr_eq(body, body_ptr);
	ck_assert_uint_eq(blen, m->body_len);
	ck_assert_ptr_null(session_message(s)->body);
	ck_assert_ptr_null(session_take_body(s, &blen));
	tr_body(t, body, m->body_len);
	tr_add(t, "]\n", 2);
	free(body);
}

/* Move the session's output into the transcript. */
static void
drain(struct session *s, struct tr *t)
{
	size_t n;
	const char *p = session_output(s, &n);

	tr_output(t, p, n);
	session_output_drain(s, n);
}

/* Handle a raised event; false when the session is closed. */
static bool
handle_event(struct session *s, struct tr *t, const struct opts *o,
    const char *pend, size_t plen, size_t rest)
{
	switch (session_event(s)) {
	case SESSION_EV_NONE:
		return true;
	case SESSION_EV_CLOSE:
		tr_add(t, "[CLOSE]\n", 8);
		ck_assert_uint_eq(session_feed(s, "NOOP\r\n", 6), 0);
		return false;
	case SESSION_EV_MESSAGE:
		record_message(s, t);
		if (plen > 0)
			ck_assert_uint_eq(session_feed(s, pend, plen), 0);
		session_delivered(s, (enum session_delivery)o->deliver, "Q1");
		ck_assert(!session_in_data(s));
		return true;
	case SESSION_EV_STARTTLS:
		tr_printf(t, "[STARTTLS left=%zu]\n", plen + rest);
		if (plen > 0)
			ck_assert_uint_eq(session_feed(s, pend, plen), 0);
		session_tls_started(s);
		ck_assert(session_tls_active(s));
		return true;
	}
	return false;
}

/* Run one case, feeding `step` bytes at a time; returns the transcript. */
static char *
run(const char *in, size_t len, size_t step, const struct opts *o)
{
	struct session_params p = make_params(o);
	struct session *s = session_new(&p);
	struct tr t = { NULL, 0, 0 };
	char *pend = malloc(len + 1);
	size_t plen = 0, pos = 0, n;
	bool closed = false;

	tr_add(&t, "", 0);
	if (o->greet != GREET_NONE)
		session_greet(s, o->greet == GREET_OK ? SESSION_GREET_OK :
		    o->greet == GREET_DENIED ? SESSION_GREET_DENIED : SESSION_GREET_BUSY);
	for (;;) {
		drain(s, &t);
		if (!handle_event(s, &t, o, pend, plen, len - pos)) {
			closed = true;
			break;
		}
		drain(s, &t);
		if (pos < len) {
			size_t k = len - pos < step ? len - pos : step;

			memcpy(pend + plen, in + pos, k);
			plen += k;
			pos += k;
		}
		n = session_feed(s, pend, plen);
		ck_assert_uint_le(n, plen);
		memmove(pend, pend + n, plen - n);
		plen -= n;
		if (pos == len && n == 0 && session_event(s) == SESSION_EV_NONE)
			break;
	}
	drain(s, &t);
	if (plen > 0 && !closed)
		tr_printf(&t, "[LEFT %zu]\n", plen);
	free(pend);
	session_free(s);
	return t.s;
}

/* Check a transcript fed whole, byte by byte and in 7-byte pieces. */
static void
check_case(const char *name, const char *in, size_t len, const char *want,
    const struct opts *o)
{
	static const size_t steps[] = { SIZE_MAX, 1, 7 };
	size_t i;

	for (i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
		char *got = run(in, len, steps[i], o);

		ck_assert_msg(strcmp(got, want) == 0,
		    "%s (step %zu):\n--- got ---\n%s--- want ---\n%s", name,
		    steps[i] == SIZE_MAX ? 0 : steps[i], got, want);
		free(got);
	}
}

static const struct tcase cases[] = {
	/* issue 19: the receiving host's conventions */
	{ "quotes that change nothing are dropped, others kept; postmaster bare",
	  "EHLO c.test\r\nMAIL FROM:<a@x.test>\r\nRCPT TO:<\"demo\"@y.test>\r\n"
	  "RCPT TO:<demo@y.test>\r\nRCPT TO:<\"john doe\"@y.test>\r\n"
	  "RCPT TO:<PostMaster>\r\nRCPT TO:<user+tag@y.test>\r\nDATA\r\nx\r\n.\r\n", 0,
	  G EHLO_R MAIL_OK RCPT_OK RCPT_OK RCPT_OK RCPT_OK RCPT_OK GO
	  MSG("a@x.test", "demo@y.test,\"john doe\"@y.test,postmaster,user+tag@y.test",
	  PLAIN, "x\\r\\n") QUEUED, {0} },
	{ "a full mailbox and a short spool refuse that recipient only",
	  "EHLO c.test\r\nMAIL FROM:<a@x.test>\r\nRCPT TO:<full@y.test>\r\n"
	  "RCPT TO:<b@y.test>\r\nRCPT TO:<nospace@y.test>\r\nDATA\r\nx\r\n.\r\n", 0,
	  G EHLO_R MAIL_OK "452 4.2.2 Mailbox full\n" RCPT_OK
	  "452 4.3.1 Insufficient system storage\n" GO
	  MSG("a@x.test", "b@y.test", PLAIN, "x\\r\\n") QUEUED, {0} },
	{ "below the spool's reserve MAIL gets 452 4.3.1",
	  "EHLO c.test\r\nMAIL FROM:<a@x.test> SIZE=10\r\nRCPT TO:<b@y.test>\r\nQUIT\r\n", 0,
	  G EHLO_R "452 4.3.1 Insufficient system storage\n" SEQ("need MAIL command") BYE,
	  { .no_space = true } },
	{ "a body line at the bound is kept whole, one past it refuses the message",
	  TXN "DATA\r\n123456789012345678\r\n.\r\n"
	  "MAIL FROM:<a@x.test>\r\nRCPT TO:<b@y.test>\r\nDATA\r\nshort\r\n"
	  "1234567890123456789\r\nafter\r\n.\r\nNOOP\r\n", 0,
	  TXN_R GO MSG("a@x.test", "b@y.test", PLAIN, "123456789012345678\\r\\n") QUEUED
	  MAIL_OK RCPT_OK GO "554 5.6.0 Error: message has a line longer than 20 octets\n" OK,
	  { .max_dline = 20 } },
	{ "a long line across BDAT chunks refuses at that chunk",
	  TXN "BDAT 12\r\n123456789012BDAT 10 LAST\r\n345678901\n", 0,
	  TXN_R "250 2.0.0 Ok: chunk received\n"
	  "554 5.6.0 Error: message has a line longer than 20 octets\n", { .max_dline = 20 } },
	{ "full transaction",
	  TXN "DATA\r\nSubject: hi\r\n\r\nbody\r\n.\r\nQUIT\r\n", 0,
	  TXN_R GO MSG("a@x.test", "b@y.test", PLAIN, "Subject: hi\\r\\n\\r\\nbody\\r\\n")
	  QUEUED BYE, {0} },
	{ "pipelined group, second transaction without a new EHLO",
	  "EHLO c.test\r\nMAIL FROM:<a@x.test>\r\nRCPT TO:<b@y.test>\r\n"
	  "RCPT TO:<nobody@y.test>\r\nRCPT TO:<c@y.test>\r\nDATA\r\nx\r\n.\r\n"
	  "MAIL FROM:<>\r\nRCPT TO:<d@y.test>\r\nDATA\r\ny\r\n.\r\nRSET\r\nNOOP\r\nQUIT\r\n", 0,
	  G EHLO_R MAIL_OK RCPT_OK "550 5.1.1 Recipient address rejected: User unknown\n"
	  RCPT_OK GO MSG("a@x.test", "b@y.test,c@y.test", PLAIN, "x\\r\\n") QUEUED
	  MAIL_OK RCPT_OK GO MSG("", "d@y.test", PLAIN, "y\\r\\n") QUEUED OK OK BYE, {0} },
	{ "HELO: no extensions, parameters refused",
	  "HELO c.test\r\nMAIL FROM:<a@x.test> SIZE=10\r\nMAIL FROM:<a@x.test>\r\n"
	  "RCPT TO:<b@y.test>\r\nBDAT 1 LAST\r\nzDATA\r\nm\r\n.\r\n", 0,
	  G "250 " HOST "\n555 5.5.4 Parameters need EHLO\n" MAIL_OK RCPT_OK
	  SEQ("BDAT needs EHLO") GO
	  "[MSG helo=c.test esmtp=0 from=<a@x.test> to=<b@y.test> " PLAIN " body=m\\r\\n]\n"
	  QUEUED, {0} },
	{ "EHLO without TLS available; duplicate recipient kept once",
	  "EHLO c.test\r\nMAIL FROM:<a@x.test> SIZE=1000 BODY=8BITMIME\r\n"
	  "RCPT TO:<b@y.test>\r\nRCPT TO:<B@y.test>\r\nDATA\r\n\xc3\xa9\r\n.\r\n", 0,
	  G EHLO_NOTLS MAIL_OK RCPT_OK RCPT_OK GO
	  MSG("a@x.test", "b@y.test", "utf8=0 8bit=1 chunk=0", "\xc3\xa9\\r\\n") QUEUED,
	  { .no_tls = true } },
	{ "sequence errors",
	  "MAIL FROM:<a@x.test>\r\nRCPT TO:<b@y.test>\r\nEHLO c.test\r\nRCPT TO:<b@y.test>\r\n"
	  "DATA\r\nMAIL FROM:<a@x.test>\r\nMAIL FROM:<a@x.test>\r\nDATA\r\nSTARTTLS\r\n"
	  "RCPT TO:<b@y.test>\r\nMAIL FROM:<a@x.test>\r\nRSET\r\nRCPT TO:<b@y.test>\r\n", 0,
	  G SEQ("send HELO/EHLO first") SEQ("send HELO/EHLO first") EHLO_R
	  SEQ("need MAIL command") SEQ("need MAIL command") MAIL_OK
	  SEQ("nested MAIL command") "554 5.5.1 Error: no valid recipients\n"
	  SEQ("MAIL transaction in progress") RCPT_OK SEQ("nested MAIL command") OK
	  SEQ("need MAIL command"), {0} },
	{ "MAIL errors",
	  "EHLO c.test\r\nMAIL FROM <a@x.test>\r\nMAIL TO:<a@x.test>\r\nMAIL FROM:<a@@x.test>\r\n"
	  "MAIL FROM:<a@x.test>junk\r\nMAIL FROM:<a@x.test> SIZE=1001\r\n"
	  "MAIL FROM:<a@x.test> SIZE=abc\r\nMAIL FROM:<a@x.test> SIZE=\r\n"
	  "MAIL FROM:<a@x.test> FOO=bar\r\nMAIL FROM:<a@x.test> BODY=BINARYMIME\r\n"
	  "MAIL FROM:<a@x.test> SMTPUTF8=yes\r\nMAIL FROM:<>\r\n", 0,
	  G EHLO_R "501 5.5.4 Syntax: MAIL FROM:<address>\n"
	  "501 5.5.4 Syntax: MAIL FROM:<address>\n501 5.1.7 Bad sender address syntax\n"
	  "501 5.5.4 Syntax: MAIL FROM:<address>\n552 5.3.4 Message size exceeds fixed limit\n"
	  "501 5.5.4 Bad SIZE parameter\n501 5.5.4 Bad SIZE parameter\n"
	  "555 5.5.4 Unsupported parameter\n501 5.5.4 Bad BODY parameter\n"
	  "555 5.5.4 Unsupported parameter\n" MAIL_OK, {0} },
	{ "RCPT errors",
	  "EHLO c.test\r\nMAIL FROM:<a@x.test>\r\nRCPT TO <b@y.test>\r\nRCPT TO:<b y@y.test>\r\n"
	  "RCPT TO:<>\r\nRCPT TO:<b@y.test> NOTIFY=NEVER\r\nRCPT TO:<NoBody@y.test>\r\n"
	  "RCPT TO:<b@y.test>x\r\nrcpt to: <Postmaster>\r\n", 0,
	  G EHLO_R MAIL_OK "501 5.5.4 Syntax: RCPT TO:<address>\n"
	  "501 5.1.3 Bad recipient address syntax\n501 5.1.3 Bad recipient address syntax\n"
	  "555 5.5.4 Unsupported parameter\n550 5.1.1 Recipient address rejected: User unknown\n"
	  "501 5.5.4 Syntax: RCPT TO:<address>\n" RCPT_OK, {0} },
	{ "small commands",
	  "NOOP\r\nnoop anything\r\nVRFY bob\r\nVRFY\r\nHELP\r\nEXPN staff\r\nFOO\r\n"
	  "RSET\r\nRSET now\r\nEHLO\r\nHELO\r\nEHLO bad\x01host\r\nDATA x\r\nQUIT\r\nNOOP\r\n", 0,
	  G OK OK "252 2.5.0 Cannot VRFY user, but will accept message for valid recipients\n"
	  "501 5.5.4 Syntax: VRFY address\n"
	  "214 2.0.0 Commands: EHLO HELO MAIL RCPT DATA BDAT RSET NOOP QUIT VRFY HELP STARTTLS\n"
	  "500 5.5.2 Error: command not recognized\n500 5.5.2 Error: command not recognized\n"
	  OK "501 5.5.4 Syntax: RSET\n501 5.5.4 Syntax: EHLO hostname\n"
	  "501 5.5.4 Syntax: HELO hostname\n500 5.5.2 Error: invalid characters in command\n"
	  SEQ("send HELO/EHLO first") BYE, {0} },
	{ "STARTTLS unavailable, with argument",
	  "EHLO c.test\r\nSTARTTLS now\r\nSTARTTLS\r\nNOOP\r\n", 0,
	  G EHLO_NOTLS "501 5.5.4 Syntax: STARTTLS\n454 4.7.0 TLS not available\n" OK,
	  { .no_tls = true } },
	{ "quoted local parts",
	  "EHLO c.test\r\nMAIL FROM:<\"john doe\"@x.test>\r\nRCPT TO:<\"b\\\"c\"@y.test>\r\n"
	  "DATA\r\nq\r\n.\r\n", 0,
	  G EHLO_R MAIL_OK RCPT_OK GO
	  MSG("\"john doe\"@x.test", "\"b\\\"c\"@y.test", PLAIN, "q\\r\\n") QUEUED, {0} },
	{ "SMTPUTF8 addresses with and without the parameter",
	  "EHLO c.test\r\nMAIL FROM:<j\xc3\xbcrgen@x.test>\r\nMAIL FROM:<a@x.test>\r\n"
	  "RCPT TO:<\xc3\xa9@y.test>\r\nRSET\r\n"
	  "MAIL FROM:<j\xc3\xbcrgen@x.test> SMTPUTF8\r\nRCPT TO:<\xc3\xa9@y.test>\r\n"
	  "RCPT TO:<a\xc0\xaf@y.test>\r\nDATA\r\nu\r\n.\r\n", 0,
	  G EHLO_R "553 5.6.7 Non-ASCII address needs SMTPUTF8\n" MAIL_OK
	  "553 5.6.7 Non-ASCII address needs SMTPUTF8\n" OK MAIL_OK RCPT_OK
	  "501 5.1.3 Bad recipient address syntax\n" GO
	  MSG("j\xc3\xbcrgen@x.test", "\xc3\xa9@y.test", "utf8=1 8bit=0 chunk=0", "u\\r\\n")
	  QUEUED, {0} },
	{ "null sender",
	  TXN "RSET\r\nMAIL FROM:<>\r\nRCPT TO:<b@y.test>\r\nDATA\r\n.\r\n", 0,
	  TXN_R OK MAIL_OK RCPT_OK GO MSG("", "b@y.test", PLAIN, "") QUEUED, {0} },
	{ "bare LF command line is refused",
	  "NOOP\nNOOP\r\nNO\rOP\r\nNOOP\r\n", 0,
	  G "500 5.5.2 Error: bare LF not allowed\n" OK
	  "500 5.5.2 Error: invalid characters in command\n" OK, {0} },
	{ "bare LF in DATA: 550 and no message",
	  TXN "DATA\r\nfoo\nbar\r\n.\r\nNOOP\r\nMAIL FROM:<a@x.test>\r\n", 0,
	  TXN_R GO "550 5.5.2 Error: bare <CR>, <LF> or NUL in message data\n" OK MAIL_OK,
	  {0} },
	{ "bare CR in DATA: 550 and no message",
	  TXN "DATA\r\nfoo\rbar\r\n.\r\nNOOP\r\n", 0,
	  TXN_R GO "550 5.5.2 Error: bare <CR>, <LF> or NUL in message data\n" OK, {0} },
	{ "NUL in DATA: 550 and no message",
	  TXN "DATA\r\nfoo\0bar\r\n.\r\nNOOP\r\n", sizeof(TXN "DATA\r\nfoo\0bar\r\n.\r\nNOOP\r\n") - 1,
	  TXN_R GO "550 5.5.2 Error: bare <CR>, <LF> or NUL in message data\n" OK, {0} },
	{ "LF.LF does not end DATA (smuggling)",
	  TXN "DATA\r\nfoo\n.\nMAIL FROM:<evil@x.test>\r\n.\r\nNOOP\r\n", 0,
	  TXN_R GO "550 5.5.2 Error: bare <CR>, <LF> or NUL in message data\n" OK, {0} },
	{ "CR.CR does not end DATA (smuggling)",
	  TXN "DATA\r\nfoo\r.\rNOOP\r\n.\r\nNOOP\r\n", 0,
	  TXN_R GO "550 5.5.2 Error: bare <CR>, <LF> or NUL in message data\n" OK, {0} },
	{ "dot-unstuffing",
	  TXN "DATA\r\n..foo\r\n..\r\n.bar\r\n...\r\na.b\r\n.\r\n", 0,
	  TXN_R GO MSG("a@x.test", "b@y.test", PLAIN, ".foo\\r\\n.\\r\\nbar\\r\\n..\\r\\na.b\\r\\n")
	  QUEUED, {0} },
	{ "BDAT chunks, then a command",
	  TXN "BDAT 5\r\nhelloBDAT 6 LAST\r\n worldNOOP\r\n", 0,
	  TXN_R "250 2.0.0 Ok: chunk received\n"
	  MSG("a@x.test", "b@y.test", "utf8=0 8bit=0 chunk=1", "hello world") QUEUED OK, {0} },
	{ "BDAT 0 LAST ends the message; BDAT bytes are raw",
	  TXN "BDAT 8\r\na\r\n.\r\nb\nBDAT 0 LAST\r\nNOOP\r\n", 0,
	  TXN_R "250 2.0.0 Ok: chunk received\n"
	  MSG("a@x.test", "b@y.test", "utf8=0 8bit=0 chunk=1", "a\\r\\n.\\r\\nb\\n") QUEUED OK,
	  {0} },
	{ "BDAT 0 LAST alone",
	  TXN "BDAT 0 LAST\r\n", 0,
	  TXN_R MSG("a@x.test", "b@y.test", "utf8=0 8bit=0 chunk=1", "") QUEUED, {0} },
	{ "BDAT without MAIL/RCPT: 503 and the chunk is consumed",
	  "EHLO c.test\r\nBDAT 6\r\nQUIT\r\nBDAT 4 LAST\r\nQUITMAIL FROM:<a@x.test>\r\n"
	  "BDAT 6 LAST\r\nRSET\r\nNOOP\r\n", 0,
	  G EHLO_R SEQ("need MAIL command") SEQ("need MAIL command") MAIL_OK
	  SEQ("need RCPT command") OK, {0} },
	{ "DATA after BDAT: 503",
	  TXN "BDAT 2\r\nabDATA\r\nBDAT 1 LAST\r\nc", 0,
	  TXN_R "250 2.0.0 Ok: chunk received\n" SEQ("BDAT sequence in progress")
	  MSG("a@x.test", "b@y.test", "utf8=0 8bit=0 chunk=1", "abc") QUEUED, {0} },
	{ "BDAT with a bad size closes (cannot stay in sync)",
	  TXN "BDAT x\r\nNOOP\r\n", 0,
	  TXN_R "501 5.5.4 Syntax: BDAT size [LAST]\n[CLOSE]\n", {0} },
	{ "BDAT too big: 552 after the chunk, then in sync",
	  TXN "BDAT 6\r\n123456BDAT 5 LAST\r\n7890aNOOP\r\n", 0,
	  TXN_R_SIZE("10") "250 2.0.0 Ok: chunk received\n552 5.3.4 Error: message too big\n" OK,
	  { .max_size = 10 } },
	{ "STARTTLS consumes nothing past its line; EHLO needed again",
	  "EHLO c.test\r\nSTARTTLS\r\nMAIL FROM:<a@x.test>\r\nEHLO c.test\r\nSTARTTLS\r\nQUIT\r\n", 0,
	  G EHLO_R "220 2.0.0 Ready to start TLS\n[STARTTLS left=51]\n"
	  SEQ("send HELO/EHLO first") EHLO_NOTLS "503 5.5.1 Error: TLS already active\n" BYE,
	  {0} },
	{ "tls_required: MAIL refused before STARTTLS",
	  "EHLO c.test\r\nMAIL FROM:<a@x.test>\r\nSTARTTLS\r\n"
	  "EHLO c.test\r\nMAIL FROM:<a@x.test>\r\n", 0,
	  G EHLO_R "530 5.7.0 Must issue a STARTTLS command first\n"
	  "220 2.0.0 Ready to start TLS\n[STARTTLS left=35]\n" EHLO_NOTLS MAIL_OK,
	  { .tls_req = true } },
	{ "max_errors: 421 and close",
	  "FOO\r\nNOOP\r\nBAR\r\nBAZ\r\nNOOP\r\n", 0,
	  G "500 5.5.2 Error: command not recognized\n" OK
	  "500 5.5.2 Error: command not recognized\n500 5.5.2 Error: command not recognized\n"
	  "421 4.7.0 " HOST " Error: too many errors\n[CLOSE]\n", { .max_err = 3 } },
	{ "max_recipients",
	  TXN "RCPT TO:<c@y.test>\r\nRCPT TO:<d@y.test>\r\nRCPT TO:<b@y.test>\r\n"
	  "DATA\r\nr\r\n.\r\n", 0,
	  TXN_R RCPT_OK "452 4.5.3 Error: too many recipients\n" RCPT_OK GO
	  MSG("a@x.test", "b@y.test,c@y.test", PLAIN, "r\\r\\n") QUEUED, { .max_rcpt = 2 } },
	{ "delivery tempfail, then the next transaction",
	  TXN "DATA\r\nt\r\n.\r\nMAIL FROM:<a@x.test>\r\n", 0,
	  TXN_R GO MSG("a@x.test", "b@y.test", PLAIN, "t\\r\\n")
	  "451 4.3.0 Error: local error in processing, try again later\n" MAIL_OK,
	  { .deliver = SESSION_TEMPFAIL } },
	{ "delivery disk full",
	  TXN "DATA\r\nt\r\n.\r\n", 0,
	  TXN_R GO MSG("a@x.test", "b@y.test", PLAIN, "t\\r\\n")
	  "452 4.3.1 Insufficient system storage\n", { .deliver = SESSION_DISKFULL } },
	{ "early talker",
	  "EHLO c.test\r\n", 0,
	  "554 5.5.1 " HOST " Protocol error: input before greeting\n[CLOSE]\n",
	  { .greet = GREET_NONE } },
	{ "denied client",
	  "EHLO c.test\r\n", 0,
	  "554 5.7.1 " HOST " Access denied\n[CLOSE]\n", { .greet = GREET_DENIED } },
	{ "busy",
	  "", 0, "421 4.7.0 " HOST " Too many connections, try again later\n[CLOSE]\n",
	  { .greet = GREET_BUSY } },
	{ "partial line waits",
	  "NOOP\r\nNOO", 0, G OK "[LEFT 3]\n", {0} },
};

START_TEST(test_transcripts)
{
	const struct tcase *c = &cases[_i];
	size_t len = c->in_len ? c->in_len : strlen(c->in);

	check_case(c->name, c->in, len, c->want, &c->o);
}
END_TEST

/* A string of n copies of ch appended to buf at *at. */
static void
put_repeat(char *buf, size_t *at, char ch, size_t n)
{
	memset(buf + *at, ch, n);
	*at += n;
}

/* Append a C string to buf at *at. */
static void
put(char *buf, size_t *at, const char *s)
{
	memcpy(buf + *at, s, strlen(s));
	*at += strlen(s);
}

START_TEST(test_overlong_line_resyncs)
{
	static const struct opts o = {0};
	char in[4096];
	size_t at = 0;

	put(in, &at, "NOOP ");
	put_repeat(in, &at, 'x', 1500);		/* nearly three times max_line */
	put(in, &at, "\r\nNOOP\r\nHELP ");
	put_repeat(in, &at, 'y', 505);		/* 512 bytes with CRLF: just fits */
	put(in, &at, "\r\nNOOP\r\n");
	check_case("over-long line", in, at,
	    G "500 5.5.2 Error: line too long\n" OK
	    "214 2.0.0 Commands: EHLO HELO MAIL RCPT DATA BDAT RSET NOOP QUIT VRFY HELP STARTTLS\n"
	    OK, &o);
}
END_TEST

START_TEST(test_too_big_read_to_end)
{
	static const struct opts o = { .max_size = 1000 };
	char in[4096];
	size_t at = 0, i;

	put(in, &at, TXN "DATA\r\n");
	for (i = 0; i < 30; i++) {
		put_repeat(in, &at, 'z', 48);
		put(in, &at, "\r\n");			/* 1500 bytes of body */
	}
	put(in, &at, ".\r\nNOOP\r\nMAIL FROM:<a@x.test>\r\nRCPT TO:<b@y.test>\r\nDATA\r\nok\r\n.\r\n");
	check_case("too big", in, at,
	    TXN_R GO "552 5.3.4 Error: message too big\n" OK MAIL_OK RCPT_OK GO
	    MSG("a@x.test", "b@y.test", PLAIN, "ok\\r\\n") QUEUED, &o);
}
END_TEST

START_TEST(test_exact_max_size_fits)
{
	static const struct opts o = { .max_size = 10 };

	check_case("exact size", TXN "DATA\r\n12345678\r\n.\r\n",
	    strlen(TXN "DATA\r\n12345678\r\n.\r\n"),
	    TXN_R_SIZE("10") GO MSG("a@x.test", "b@y.test", PLAIN, "12345678\\r\\n") QUEUED, &o);
	check_case("one over", TXN "DATA\r\n123456789\r\n.\r\n",
	    strlen(TXN "DATA\r\n123456789\r\n.\r\n"),
	    TXN_R_SIZE("10") GO "552 5.3.4 Error: message too big\n", &o);
}
END_TEST

START_TEST(test_large_body_grows)
{
	static const struct opts o = { .max_size = 1000000 };
	size_t n = 300000, at = 0, i;
	char *in = malloc(n + 256);
	struct session_params p = make_params(&o);
	struct session *s = session_new(&p);
	const struct session_message *m;

	put(in, &at, TXN "DATA\r\n");
	for (i = 0; i < n / 100; i++) {
		put_repeat(in, &at, 'a' + (char)(i % 26), 98);
		put(in, &at, "\r\n");
	}
	put(in, &at, ".\r\n");
	session_greet(s, SESSION_GREET_OK);
	ck_assert_uint_eq(session_feed(s, in, at), at);
	ck_assert_int_eq(session_event(s), SESSION_EV_MESSAGE);
	m = session_message(s);
	ck_assert_uint_eq(m->body_len, n);
	ck_assert_int_eq(memcmp(m->body, in + strlen(TXN "DATA\r\n"), n), 0);
	session_delivered(s, SESSION_DELIVERED, "Q1");	/* body not taken: freed here */
	ck_assert_int_eq(session_event(s), SESSION_EV_NONE);
	session_free(s);
	free(in);
}
END_TEST

START_TEST(test_timeout_and_shutdown)
{
	static const struct opts o = {0};
	struct session_params p = make_params(&o);
	struct session *s = session_new(&p);
	struct tr t = { NULL, 0, 0 };
	const char *in = TXN "DATA\r\npart";

	session_greet(s, SESSION_GREET_OK);
	ck_assert_uint_eq(session_feed(s, in, strlen(in)), strlen(in));
	ck_assert(session_in_data(s));
	session_timeout(s);
	ck_assert_int_eq(session_event(s), SESSION_EV_CLOSE);
	ck_assert_uint_eq(session_feed(s, "x\r\n", 3), 0);
	tr_add(&t, "", 0);
	drain(s, &t);
	ck_assert_str_eq(t.s, TXN_R GO "421 4.4.2 " HOST " Error: timeout exceeded\n");
	session_free(s);
	free(t.s);

	s = session_new(&p);
	t = (struct tr){ NULL, 0, 0 };
	tr_add(&t, "", 0);
	session_greet(s, SESSION_GREET_OK);
	session_shutdown(s);
	ck_assert_int_eq(session_event(s), SESSION_EV_CLOSE);
	drain(s, &t);
	ck_assert_str_eq(t.s, G "421 4.3.2 " HOST " Service shutting down\n");
	ck_assert_uint_eq(session_errors(s), 0);
	session_free(s);
	free(t.s);
}
END_TEST

START_TEST(test_error_counter_and_partial_drain)
{
	static const struct opts o = {0};
	struct session_params p = make_params(&o);
	struct session *s = session_new(&p);
	const char *out;
	size_t n;

	session_greet(s, SESSION_GREET_OK);
	ck_assert_uint_eq(session_feed(s, "FOO\r\nRCPT TO:<a@b>\r\n", 20), 20);
	ck_assert_uint_eq(session_errors(s), 2);
	ck_assert(!session_tls_active(s));
	out = session_output(s, &n);
	ck_assert_uint_gt(n, 4);
	ck_assert_int_eq(memcmp(out, "220 ", 4), 0);
	session_output_drain(s, 4);
	out = session_output(s, &n);
	ck_assert_int_eq(memcmp(out, HOST, strlen(HOST)), 0);
	session_output_drain(s, n + 100);
	session_output(s, &n);
	ck_assert_uint_eq(n, 0);
	session_free(s);
}
END_TEST

/* A note callback that keeps the notes, space-separated. */
static void
collect_note(void *arg, const char *kv)
{
	struct tr *t = arg;

	tr_printf(t, "%s ", kv);
}

START_TEST(test_notes)
{
	static const struct opts o = {0};
	struct session_params p = make_params(&o);
	struct tr notes = { NULL, 0, 0 };
	struct session *s;
	const char *in = TXN "DATA\r\na\nb\r\n.\r\nNOOP\n";

	tr_add(&notes, "", 0);
	p.note = collect_note;
	p.arg = &notes;
	s = session_new(&p);
	session_greet(s, SESSION_GREET_OK);
	ck_assert_uint_eq(session_feed(s, in, strlen(in)), strlen(in));
	ck_assert_str_eq(notes.s, "reject=bare-lf-in-data reject=bare-lf-in-command ");
	ck_assert_uint_eq(session_errors(s), 2);
	session_free(s);
	free(notes.s);
}
END_TEST

/* The suite (run by check_main.c). */
Suite *
unit_suite(void)
{
	Suite *s = suite_create("session");
	TCase *tc = tcase_create("core");

	tcase_set_timeout(tc, 60);
	tcase_add_loop_test(tc, test_transcripts, 0, (int)(sizeof(cases) / sizeof(cases[0])));
	tcase_add_test(tc, test_overlong_line_resyncs);
	tcase_add_test(tc, test_too_big_read_to_end);
	tcase_add_test(tc, test_exact_max_size_fits);
	tcase_add_test(tc, test_large_body_grows);
	tcase_add_test(tc, test_timeout_and_shutdown);
	tcase_add_test(tc, test_error_counter_and_partial_drain);
	tcase_add_test(tc, test_notes);
	suite_add_tcase(s, tc);
	return s;
}
