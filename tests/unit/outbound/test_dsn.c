/*
 * Unit tests for outbound/dsn.c: the notification is parsed back (line
 * ends and lengths, top-level fields, MIME structure, the delivery-status
 * fields of every named recipient, the original headers) for failed,
 * partial and delayed cases; NULL when there is nothing to report.
 */
#include <check.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "check_main.h"
#include "dsn.h"
#include "queue.h"

#define T0 1700000000	/* Tue, 14 Nov 2023 22:13:20 +0000 */
#define ORIG_HDRS "From: Alice <alice@example.com>\r\nTo: x@remote.example\r\n" \
	"Subject: hello\r\nMessage-ID: <m1@example.com>\r\n\r\n"

/* A parsed MIME entity: unfolded header fields and a body. */
struct entity {
	char *names[32], *values[32];
	int nfields;
	const char *body;
	size_t bodylen;
};

/* Parse header fields at s (CRLF, folded) up to the blank line. */
static void
parse_entity(const char *s, size_t len, struct entity *e)
{
	const char *end = NULL, *p = s, *colon, *eol;
	size_t i;

	memset(e, 0, sizeof(*e));
	for (i = 0; i + 4 <= len; i++)
		if (memcmp(s + i, "\r\n\r\n", 4) == 0) {
			end = s + i + 2;
			break;
		}
	ck_assert_ptr_nonnull(end);
	while (p < end) {
		char *v;
		size_t vl = 0;
		colon = memchr(p, ':', (size_t)(end - p));
		ck_assert_ptr_nonnull(colon);
		ck_assert_int_lt(e->nfields, 32);
		e->names[e->nfields] = strndup(p, (size_t)(colon - p));
		v = malloc((size_t)(end - colon) + 1);
		p = colon + 1;
		for (;;) {	/* the value and its continuation lines */
			eol = strstr(p, "\r\n");
			memcpy(v + vl, p, (size_t)(eol - p));
			vl += (size_t)(eol - p);
			p = eol + 2;
			if (p >= end || (*p != ' ' && *p != '\t'))
				break;
		}
		v[vl] = '\0';
		e->values[e->nfields++] = v;
	}
	e->body = end + 2;
	e->bodylen = len - (size_t)(e->body - s);
}

/* The value of field name (trimmed), or NULL; asserts it occurs at most once. */
static const char *
field(const struct entity *e, const char *name)
{
	const char *found = NULL;
	int i;

	for (i = 0; i < e->nfields; i++)
		if (strcasecmp(e->names[i], name) == 0) {
			ck_assert_msg(found == NULL, "field %s twice", name);
			found = e->values[i];
			while (*found == ' ' || *found == '\t')
				found++;
		}
	return found;
}

/* Free an entity. */
static void
free_entity(struct entity *e)
{
	int i;

	for (i = 0; i < e->nfields; i++) {
		free(e->names[i]);
		free(e->values[i]);
	}
}

/* Every line ends in CRLF and is shorter than 998 characters. */
static void
check_lines(const char *m, size_t len)
{
	size_t i, col = 0;

	ck_assert(len >= 2 && m[len - 2] == '\r' && m[len - 1] == '\n');
	for (i = 0; i < len; i++) {
		if (m[i] == '\n') {
			ck_assert_msg(i > 0 && m[i - 1] == '\r', "bare LF at %zu", i);
			col = 0;
			continue;
		}
		ck_assert_msg(m[i] != '\r' || (i + 1 < len && m[i + 1] == '\n'), "bare CR");
		ck_assert_msg(++col < 998, "line too long at %zu", i);
	}
}

/* Split the multipart body into parts at boundary b. */
static int
split_parts(const char *body, size_t len, const char *b, const char *parts[4], size_t plen[4])
{
	char open[160], close[160];
	const char *p = body, *next, *end = body + len;
	int n = 0;

	snprintf(open, sizeof(open), "--%s\r\n", b);
	snprintf(close, sizeof(close), "\r\n--%s--\r\n", b);
	ck_assert_ptr_nonnull(strstr(body, close));
	ck_assert_ptr_null(strstr(strstr(body, close) + strlen(close), "--"));
	p = strstr(p, open);
	while (p != NULL && p < end && n < 4) {
		p += strlen(open);
		next = strstr(p, open);
		if (next == NULL)
			next = strstr(p, close) + 2;
		parts[n] = p;
		plen[n++] = (size_t)(next - p) - 2;	/* the CRLF before the delimiter */
		p = strstr(p, open);
	}
	return n;
}

/* The boundary parameter of a Content-Type value (static buffer). */
static const char *
boundary_of(const char *ct)
{
	static char b[128];
	const char *p = strstr(ct, "boundary=\"");

	ck_assert_ptr_nonnull(p);
	p += 10;
	snprintf(b, sizeof(b), "%.*s", (int)(strchr(p, '"') - p), p);
	return b;
}

/* Parse the delivery-status body into blocks. */
static int
ds_blocks(const char *body, size_t len, struct entity *blocks, int max)
{
	const char *p = body, *end = body + len;
	int n = 0;

	while (p < end && n < max) {
		const char *b = strstr(p, "\r\n\r\n");
		size_t bl = b != NULL && b < end ? (size_t)(b - p) + 4 : (size_t)(end - p);
		char *copy = strndup(p, bl);
		if (b == NULL || b >= end) {
			free(copy);
			break;
		}
		parse_entity(copy, bl, &blocks[n]);
		/* keep values, drop the copy's body pointer */
		blocks[n].body = NULL;
		free(copy);
		n++;
		p += bl;
	}
	return n;
}

/* An entry from sender with rcpts in the given states and replies. */
static void
make_entry(struct queue_entry *e, const char *sender, int n,
    const enum queue_rcpt_state *st, const char *const *replies)
{
	int i;

	memset(e, 0, sizeof(*e));
	strcpy(e->id, "0123456789abcdef");
	e->sender = strdup(sender);
	e->created = T0;
	e->next_attempt = T0 + 600;
	e->attempts = 2;
	e->rcpts = calloc((size_t)n, sizeof(*e->rcpts));
	e->nrcpts = (size_t)n;
	for (i = 0; i < n; i++) {
		char a[64];
		snprintf(a, sizeof(a), "r%d@remote.example", i);
		e->rcpts[i].addr = strdup(a);
		e->rcpts[i].state = st[i];
		e->rcpts[i].reply = replies[i] ? strdup(replies[i]) : NULL;
	}
}

struct parsed {
	struct entity top, part[3];
	struct entity blocks[8];
	int nparts, nblocks;
	char *msg;
};

/* Build and parse a notice; checks what every notice must have. */
static void
build_and_parse(const struct queue_entry *e, enum dsn_kind kind, int64_t until,
    const char *hdrs, struct parsed *p)
{
	const char *parts[4];
	size_t plen[4], len;
	int i;

	memset(p, 0, sizeof(*p));
	p->msg = dsn_build_until(e, kind, &(struct dsn_report){ "gw-out.example.com",
	    { hdrs, hdrs ? strlen(hdrs) : 0 }, T0 + 3600, until }, &len);
	ck_assert_ptr_nonnull(p->msg);
	ck_assert_uint_eq(strlen(p->msg), len);
	check_lines(p->msg, len);
	parse_entity(p->msg, len, &p->top);
	ck_assert_str_eq(field(&p->top, "From"), "Mail Delivery System <MAILER-DAEMON@gw-out.example.com>");
	ck_assert_str_eq(field(&p->top, "To"), "<alice@example.com>");
	ck_assert_str_eq(field(&p->top, "Subject"), kind == DSN_FAILED ?
	    "Undelivered Mail Returned to Sender" : "Delayed Mail (still being retried)");
	ck_assert_str_eq(field(&p->top, "Date"), "Tue, 14 Nov 2023 23:13:20 +0000");
	ck_assert_ptr_nonnull(strstr(field(&p->top, "Message-ID"), "@gw-out.example.com>"));
	ck_assert_int_eq(field(&p->top, "Message-ID")[0], '<');
	ck_assert_str_eq(field(&p->top, "MIME-Version"), "1.0");
	ck_assert_str_eq(field(&p->top, "Auto-Submitted"), "auto-replied");
	ck_assert(strncmp(field(&p->top, "Content-Type"),
	    "multipart/report; report-type=delivery-status;", 46) == 0);
	p->nparts = split_parts(p->top.body, p->top.bodylen,
	    boundary_of(field(&p->top, "Content-Type")), parts, plen);
	ck_assert_int_eq(p->nparts, hdrs ? 3 : 2);
	for (i = 0; i < p->nparts; i++)
		parse_entity(parts[i], plen[i] + 2, &p->part[i]);
	ck_assert_str_eq(field(&p->part[0], "Content-Type"), "text/plain; charset=us-ascii");
	ck_assert_str_eq(field(&p->part[1], "Content-Type"), "message/delivery-status");
	p->nblocks = ds_blocks(p->part[1].body, p->part[1].bodylen, p->blocks, 8);
	ck_assert_int_ge(p->nblocks, 2);
	ck_assert_str_eq(field(&p->blocks[0], "Reporting-MTA"), "dns; gw-out.example.com");
	ck_assert_str_eq(field(&p->blocks[0], "Arrival-Date"), "Tue, 14 Nov 2023 22:13:20 +0000");
	ck_assert_ptr_null(field(&p->blocks[0], "Final-Recipient"));
	if (hdrs != NULL)
		ck_assert_str_eq(field(&p->part[2], "Content-Type"), "text/rfc822-headers");
}

/* Free a parsed notice. */
static void
free_parsed(struct parsed *p)
{
	int i;

	free_entity(&p->top);
	for (i = 0; i < p->nparts; i++)
		free_entity(&p->part[i]);
	for (i = 0; i < p->nblocks; i++)
		free_entity(&p->blocks[i]);
	free(p->msg);
}

START_TEST(failed_partial)
{
	static const enum queue_rcpt_state st[] = {
		QUEUE_RCPT_DELIVERED, QUEUE_RCPT_FAILED, QUEUE_RCPT_PENDING, QUEUE_RCPT_FAILED };
	static const char *const rep[] = { "250 2.0.0 ok", "550 5.1.1 <r1@remote.example>: no such user",
		"451 4.3.0 later", NULL };
	struct queue_entry e;
	struct parsed p;
	struct entity orig;

	make_entry(&e, "alice@example.com", 4, st, rep);
	e.last_reply = strdup("554 Transaction failed");
	build_and_parse(&e, DSN_FAILED, T0 + 432000, ORIG_HDRS, &p);
	ck_assert_int_eq(p.nblocks, 3);		/* per-message + the two failed */
	ck_assert_str_eq(field(&p.blocks[1], "Final-Recipient"), "rfc822; r1@remote.example");
	ck_assert_str_eq(field(&p.blocks[1], "Action"), "failed");
	ck_assert_str_eq(field(&p.blocks[1], "Status"), "5.1.1");
	ck_assert_str_eq(field(&p.blocks[1], "Diagnostic-Code"),
	    "smtp; 550 5.1.1 <r1@remote.example>: no such user");
	ck_assert_str_eq(field(&p.blocks[1], "Last-Attempt-Date"), "Tue, 14 Nov 2023 23:13:20 +0000");
	ck_assert_ptr_null(field(&p.blocks[1], "Will-Retry-Until"));
	ck_assert_str_eq(field(&p.blocks[2], "Final-Recipient"), "rfc822; r3@remote.example");
	ck_assert_str_eq(field(&p.blocks[2], "Status"), "5.0.0");
	ck_assert_str_eq(field(&p.blocks[2], "Diagnostic-Code"), "smtp; 554 Transaction failed");
	/* the human part names exactly the failed ones */
	ck_assert_ptr_nonnull(strstr(p.part[0].body, "<r1@remote.example>:"));
	ck_assert_ptr_nonnull(strstr(p.part[0].body, "<r3@remote.example>:"));
	ck_assert_ptr_null(strstr(p.msg, "r0@remote.example"));
	ck_assert_ptr_null(strstr(p.msg, "r2@remote.example"));
	/* the original headers, without their blank line */
	parse_entity(p.part[2].body, p.part[2].bodylen, &orig);
	ck_assert_int_eq(orig.nfields, 4);
	ck_assert_uint_eq(orig.bodylen, 0);
	ck_assert_str_eq(field(&orig, "Subject"), "hello");
	ck_assert_str_eq(field(&orig, "Message-ID"), "<m1@example.com>");
	free_entity(&orig);
	ck_assert_ptr_nonnull(strstr(p.msg, "\r\n\r\nFrom: Alice <alice@example.com>\r\nTo: x@remote.example"
	    "\r\nSubject: hello\r\nMessage-ID: <m1@example.com>\r\n\r\n--"));
	free_parsed(&p);
	queue_entry_free(&e);
}
END_TEST

START_TEST(delayed)
{
	static const enum queue_rcpt_state st[] = {
		QUEUE_RCPT_DELIVERED, QUEUE_RCPT_FAILED, QUEUE_RCPT_PENDING };
	static const char *const rep[] = { NULL, "550 5.1.1 no", "451-4.7.1 greylisted" };
	struct queue_entry e;
	struct parsed p;
	size_t len;
	char *m;

	make_entry(&e, "alice@example.com", 3, st, rep);
	build_and_parse(&e, DSN_DELAYED, T0 + 432000, ORIG_HDRS, &p);
	ck_assert_int_eq(p.nblocks, 2);
	ck_assert_str_eq(field(&p.blocks[1], "Final-Recipient"), "rfc822; r2@remote.example");
	ck_assert_str_eq(field(&p.blocks[1], "Action"), "delayed");
	ck_assert_str_eq(field(&p.blocks[1], "Status"), "4.7.1");
	ck_assert_str_eq(field(&p.blocks[1], "Will-Retry-Until"), "Sun, 19 Nov 2023 22:13:20 +0000");
	ck_assert_ptr_null(strstr(p.msg, "r1@remote.example"));
	free_parsed(&p);
	/* dsn_build: the same without Will-Retry-Until */
	m = dsn_build(&e, DSN_DELAYED, "gw-out.example.com",
	    &(struct dsn_headers){ ORIG_HDRS, strlen(ORIG_HDRS) }, T0, &len);
	ck_assert_ptr_nonnull(m);
	ck_assert_ptr_null(strstr(m, "Will-Retry-Until"));
	ck_assert_ptr_nonnull(strstr(m, "\r\nAction: delayed\r\n"));
	free(m);
	queue_entry_free(&e);
}
END_TEST

START_TEST(nothing_to_report)
{
	static const enum queue_rcpt_state st[] = { QUEUE_RCPT_DELIVERED, QUEUE_RCPT_PENDING };
	static const enum queue_rcpt_state st2[] = { QUEUE_RCPT_DELIVERED, QUEUE_RCPT_FAILED };
	static const char *const rep[] = { NULL, NULL };
	struct queue_entry e;
	size_t len = 99;

	make_entry(&e, "alice@example.com", 2, st, rep);
	ck_assert_ptr_null(dsn_build(&e, DSN_FAILED, "h",
	    &(struct dsn_headers){ ORIG_HDRS, strlen(ORIG_HDRS) }, T0, &len));
	queue_entry_free(&e);
	make_entry(&e, "alice@example.com", 2, st2, rep);
	ck_assert_ptr_null(dsn_build(&e, DSN_DELAYED, "h",
	    &(struct dsn_headers){ ORIG_HDRS, strlen(ORIG_HDRS) }, T0, &len));
	free(e.sender);
	e.sender = strdup("");	/* never to the null sender */
	ck_assert_ptr_null(dsn_build(&e, DSN_FAILED, "h",
	    &(struct dsn_headers){ ORIG_HDRS, strlen(ORIG_HDRS) }, T0, &len));
	queue_entry_free(&e);
}
END_TEST

/* Who is told of a failure: the sender; for <> the postmaster, unless
 * none is set or the postmaster's own notice failed (no loop). */
START_TEST(failure_recipient)
{
	static const enum queue_rcpt_state st[] = { QUEUE_RCPT_DELIVERED, QUEUE_RCPT_FAILED };
	static const char *const rep[] = { NULL, "550 5.1.1 no" };
	struct queue_entry e;

	make_entry(&e, "alice@example.com", 2, st, rep);
	ck_assert_str_eq(dsn_failure_recipient(&e, "pm@example.org"), "alice@example.com");
	ck_assert_str_eq(dsn_failure_recipient(&e, NULL), "alice@example.com");
	free(e.sender);
	e.sender = strdup("");
	ck_assert_str_eq(dsn_failure_recipient(&e, "pm@example.org"), "pm@example.org");
	ck_assert_ptr_null(dsn_failure_recipient(&e, NULL));
	ck_assert_ptr_null(dsn_failure_recipient(&e, ""));
	/* the postmaster's notice itself failed: nobody */
	ck_assert_ptr_null(dsn_failure_recipient(&e, "R1@remote.example"));
	/* ... but a delivered postmaster among the recipients does not count */
	ck_assert_str_eq(dsn_failure_recipient(&e, "r0@remote.example"), "r0@remote.example");
	queue_entry_free(&e);
}
END_TEST

/* The postmaster notice: To: the postmaster, its own subject and text,
 * the failed recipients and the bounce's headers; NULL without one. */
START_TEST(postmaster_notice)
{
	static const enum queue_rcpt_state st[] = { QUEUE_RCPT_FAILED };
	static const char *const rep[] = { "550 5.1.1 <r0@remote.example>: no such user" };
	const char *hdrs = "From: MAILER-DAEMON@gw\r\nTo: <r0@remote.example>\r\n"
	    "Subject: Undelivered Mail Returned to Sender\r\n\r\n";
	struct dsn_headers h = { hdrs, strlen(hdrs) };
	struct queue_entry e;
	struct entity top;
	size_t len;
	char *m;

	make_entry(&e, "", 1, st, rep);
	ck_assert_ptr_null(dsn_build_postmaster(&e, NULL, "gw", &h, T0, &len));
	ck_assert_ptr_null(dsn_build_until(&e, DSN_FAILED,
	    &(struct dsn_report){ "gw", h, T0, 0 }, &len));
	m = dsn_build_postmaster(&e, "pm@example.org", "gw-out.example.com", &h, T0, &len);
	ck_assert_ptr_nonnull(m);
	ck_assert_uint_eq(strlen(m), len);
	check_lines(m, len);
	parse_entity(m, len, &top);
	ck_assert_str_eq(field(&top, "To"), "<pm@example.org>");
	ck_assert_str_eq(field(&top, "Subject"), "Postmaster Notice: Undelivered Bounce");
	ck_assert_str_eq(field(&top, "From"), "Mail Delivery System <MAILER-DAEMON@gw-out.example.com>");
	ck_assert_ptr_nonnull(strstr(m, "postmaster, once"));
	ck_assert_ptr_nonnull(strstr(m, "Final-Recipient: rfc822; r0@remote.example"));
	ck_assert_ptr_nonnull(strstr(m, "Status: 5.1.1"));
	ck_assert_ptr_nonnull(strstr(m, "\r\nSubject: Undelivered Mail Returned to Sender\r\n"));
	free_entity(&top);
	free(m);
	queue_entry_free(&e);
}
END_TEST

/* Status and Diagnostic-Code for each stored reply: "smtp;" only for a
 * reply the remote sent (a reply code first), "X-Unix;" for our words. */
static const struct {
	const char *reply;
	enum dsn_kind kind;
	const char *status;
	const char *dtype;		/* the Diagnostic-Code's type */
} statuses[] = {
	{ "550 5.1.1 user unknown", DSN_FAILED, "5.1.1", "smtp" },
	{ "550-5.7.1 policy", DSN_FAILED, "5.7.1", "smtp" },
	{ "552 5.3.4", DSN_FAILED, "5.3.4", "smtp" },
	{ "554 5.123.456 three digits", DSN_FAILED, "5.123.456", "smtp" },
	{ "554 Transaction failed", DSN_FAILED, "5.0.0", "smtp" },
	{ "554", DSN_FAILED, "5.0.0", "smtp" },
	{ "550 5.1 incomplete", DSN_FAILED, "5.0.0", "smtp" },
	{ "550 5.1.1x glued", DSN_FAILED, "5.0.0", "smtp" },
	{ "550 6.1.1 bad class", DSN_FAILED, "5.0.0", "smtp" },
	{ "451 4.4.1 expired", DSN_FAILED, "4.4.1", "smtp" },
	{ "421 service closing", DSN_FAILED, "4.0.0", "smtp" },
	{ "451 4.3.0 later", DSN_DELAYED, "4.3.0", "smtp" },
	/* our own words: enhanced code first at most, never a reply code */
	{ "5.1.1 no code", DSN_FAILED, "5.1.1", "X-Unix" },
	{ "5.3.4 message size exceeds the server's limit", DSN_FAILED, "5.3.4", "X-Unix" },
	{ "4.4.7 delivery time expired", DSN_FAILED, "4.4.7", "X-Unix" },
	{ "5.1.1x glued", DSN_FAILED, "5.0.0", "X-Unix" },
	{ "connect to relay[192.0.2.1]:25: Connection refused", DSN_FAILED, "5.0.0", "X-Unix" },
	{ "connection closed by relay[192.0.2.1]:25", DSN_DELAYED, "4.0.0", "X-Unix" },
	{ "timeout in stage data-end from relay[192.0.2.1]:25", DSN_DELAYED, "4.0.0", "X-Unix" },
	{ "TLS handshake failed: certificate: unable to get local issuer certificate",
	  DSN_DELAYED, "4.0.0", "X-Unix" },
	{ "2000 not a reply code", DSN_FAILED, "5.0.0", "X-Unix" },
	{ "650 bad first digit", DSN_FAILED, "5.0.0", "X-Unix" },
	{ "garbage", DSN_DELAYED, "4.0.0", "X-Unix" },
	{ NULL, DSN_FAILED, "5.0.0", NULL },
	{ NULL, DSN_DELAYED, "4.0.0", NULL },
};

START_TEST(status_codes)
{
	enum queue_rcpt_state st[1];
	const char *rep[1] = { statuses[_i].reply };
	struct queue_entry e;
	struct parsed p;
	char want[256];

	st[0] = statuses[_i].kind == DSN_FAILED ? QUEUE_RCPT_FAILED : QUEUE_RCPT_PENDING;
	make_entry(&e, "alice@example.com", 1, st, rep);
	build_and_parse(&e, statuses[_i].kind, 0, NULL, &p);
	ck_assert_str_eq(field(&p.blocks[1], "Status"), statuses[_i].status);
	if (statuses[_i].reply == NULL)
		ck_assert_ptr_null(field(&p.blocks[1], "Diagnostic-Code"));
	else {
		snprintf(want, sizeof(want), "%s; %s", statuses[_i].dtype, statuses[_i].reply);
		ck_assert_str_eq(field(&p.blocks[1], "Diagnostic-Code"), want);
	}
	free_parsed(&p);
	queue_entry_free(&e);
}
END_TEST

START_TEST(long_and_odd_replies)
{
	static const enum queue_rcpt_state st[] = { QUEUE_RCPT_FAILED, QUEUE_RCPT_FAILED };
	char words[4000], glued[2100], want[4100];
	const char *rep[2] = { words, glued };
	struct queue_entry e;
	struct parsed p;
	struct entity orig;
	size_t i;

	strcpy(words, "550 5.7.1");
	for (i = 0; strlen(words) < 3000; i++)
		strcat(words, i % 7 ? " word" : " longerword");
	memset(glued, 'x', 2000);
	memcpy(glued, "550 ", 4);
	glued[2000] = '\0';
	make_entry(&e, "alice@example.com", 2, st, rep);
	free(e.rcpts[1].addr);
	e.rcpts[1].addr = strdup("caf\xc3\xa9@remote.example");
	build_and_parse(&e, DSN_FAILED, 0, "Subject: caf\xc3\xa9\n", &p);
	/* folding only at spaces: unfolding gives the reply back */
	snprintf(want, sizeof(want), "smtp; %s", words);
	ck_assert_str_eq(field(&p.blocks[1], "Diagnostic-Code"), want);
	ck_assert_str_eq(field(&p.blocks[1], "Status"), "5.7.1");
	/* a 1996-character word is split, never longer than a line may be */
	ck_assert_uint_ge(strlen(field(&p.blocks[2], "Diagnostic-Code")), 2000);
	/* 7-bit in the report; the headers part declares 8bit */
	ck_assert_str_eq(field(&p.blocks[2], "Final-Recipient"), "rfc822; caf??@remote.example");
	ck_assert_str_eq(field(&p.part[2], "Content-Transfer-Encoding"), "8bit");
	parse_entity(p.part[2].body, p.part[2].bodylen, &orig);
	ck_assert_str_eq(field(&orig, "Subject"), "caf\xc3\xa9");
	free_entity(&orig);
	free_parsed(&p);
	queue_entry_free(&e);
}
END_TEST

/* The suite. */
Suite *
unit_suite(void)
{
	Suite *s = suite_create("dsn");
	TCase *tc = tcase_create("build");

	tcase_add_test(tc, failed_partial);
	tcase_add_test(tc, delayed);
	tcase_add_test(tc, nothing_to_report);
	tcase_add_test(tc, failure_recipient);
	tcase_add_test(tc, postmaster_notice);
	tcase_add_loop_test(tc, status_codes, 0, (int)(sizeof(statuses) / sizeof(statuses[0])));
	tcase_add_test(tc, long_and_odd_replies);
	suite_add_tcase(s, tc);
	return s;
}
