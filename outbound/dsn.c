/*
 * dsn: RFC 3464 delivery status notifications as text, pure (no I/O, no
 * clock: the caller passes the time).
 *
 * The message is a multipart/report; report-type=delivery-status (RFC
 * 6522) with three parts: a short human text, the message/delivery-status
 * fields (per message: Reporting-MTA, Arrival-Date; per recipient:
 * Final-Recipient, Action, Status, Diagnostic-Code, Last-Attempt-Date,
 * Will-Retry-Until), and the original header block as text/rfc822-headers.
 * Status comes from the enhanced code of the reply (RFC 3463) when there is
 * one, else 5.0.0 / 4.0.0.  Diagnostic-Code is "smtp;" for a reply the
 * remote server sent and "X-Unix;" for our own words (a refused connect,
 * a lost connection, a timeout, expiry): texts of our own never start
 * with a 3-digit reply code, only (some) with an enhanced status code.  CRLF line ends; long fields are folded so no
 * line reaches 998 characters; reply text is made 7-bit printable.
 *
 * A failed message from <> (a bounce: a double bounce) is reported to the
 * postmaster instead (dsn_build_postmaster), unless the postmaster's own
 * notice is what failed (dsn_failure_recipient): never a loop.
 *
 * This module knows nothing about the queue files, SMTP sessions or when a
 * notification is due: the scheduler decides that and queues the result.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "dsn.h"
#include "escape.h"
#include "strbuf.h"
#include "util.h"

#define FOLD_AT		76	/* preferred line length */
#define HARD_AT		900	/* split a word longer than this (< 998) */

/* s made 7-bit printable: controls become spaces, non-ASCII '?' (malloc'd). */
static char *
printable(const char *s)
{
	char *o = xstrdup(s != NULL ? s : "");
	size_t n = strlen(o);

	escape_text(ESCAPE_HEADER, o, n, o, n + 1);
	return o;
}

/*
 * Append text word by word after first (already on the line, col wide),
 * breaking lines before FOLD_AT with CRLF + indent, and splitting words
 * longer than HARD_AT.  Ends with CRLF.
 */
static void
ob_wrap(struct strbuf *b, size_t col, const char *text, const char *indent)
{
	const char *p = text;
	size_t w, il = strlen(indent);

	while (*p == ' ')
		p++;
	while (*p != '\0') {
		for (w = 0; p[w] != '\0' && p[w] != ' '; w++)
			;
		if (w > HARD_AT)
			w = HARD_AT;
		if (col > il && col + 1 + w > FOLD_AT) {
			strbuf_str(b, "\r\n");
			strbuf_str(b, indent);
			col = il;
		} else if (col > il || (col > 0 && il == 0)) {
			strbuf_add(b, " ", 1);
			col++;
		}
		strbuf_add(b, p, w);
		col += w;
		p += w;
		while (*p == ' ')
			p++;
	}
	strbuf_str(b, "\r\n");
}

/* A header field "Name: value", folded; the value made printable. */
static void
ob_field(struct strbuf *b, const char *name, const char *value)
{
	char *v = printable(value);

	strbuf_str(b, name);
	strbuf_str(b, ":");
	ob_wrap(b, strlen(name) + 1, v, " ");
	free(v);
}

/* RFC 5322 date-time in UTC, locale-independent. */
static void
fmt_date(int64_t t, char *buf, size_t sz)
{
	static const char *const days[] = { "Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat" };
	static const char *const months[] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun",
	    "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
	time_t tt = (time_t)t;
	struct tm tm;

	if (gmtime_r(&tt, &tm) == NULL)
		memset(&tm, 0, sizeof(tm));
	snprintf(buf, sz, "%s, %d %s %d %02d:%02d:%02d +0000", days[tm.tm_wday % 7],
	    tm.tm_mday, months[tm.tm_mon % 12], tm.tm_year + 1900, tm.tm_hour,
	    tm.tm_min, tm.tm_sec);
}

/* Length of 1-3 digits at s, or 0. */
static size_t
digits13(const char *s)
{
	size_t n = 0;

	while (n < 4 && s[n] >= '0' && s[n] <= '9')
		n++;
	return n >= 1 && n <= 3 ? n : 0;
}

/* 1 when s starts with an SMTP reply code: 3 digits, the first 2-5, the
 * second 0-5, then a space, a dash or the end (RFC 5321 4.2). */
static int
is_smtp_reply(const char *s)
{
	return s != NULL && s[0] >= '2' && s[0] <= '5' && s[1] >= '0' && s[1] <= '5' &&
	    s[2] >= '0' && s[2] <= '9' && (s[3] == ' ' || s[3] == '-' || s[3] == '\0');
}

/* Copy an enhanced status code "c.s.d" (c 2, 4 or 5; s and d 1-3 digits)
 * at p, ended by a space or the end, into out; 0 when there is none. */
static int
enhanced_at(const char *p, char *out, size_t sz)
{
	size_t a, c;

	if ((*p != '2' && *p != '4' && *p != '5') || p[1] != '.')
		return 0;
	if ((a = digits13(p + 2)) == 0 || p[2 + a] != '.')
		return 0;
	if ((c = digits13(p + 3 + a)) == 0)
		return 0;
	if (p[3 + a + c] != '\0' && p[3 + a + c] != ' ')
		return 0;
	snprintf(out, sz, "%.*s", (int)(3 + a + c), p);
	return 1;
}

/*
 * Status (RFC 3463 "c.s.d") for a reply, or the kind's default: the
 * enhanced code after an SMTP reply code ("550 5.1.1 ..."), or the one a
 * text of our own starts with ("4.4.7 delivery time expired"), else the
 * class of the reply code, else 5.0.0 / 4.0.0.
 */
static void
status_of(const char *reply, enum dsn_kind kind, char *out, size_t sz)
{
	snprintf(out, sz, "%s", kind == DSN_FAILED ? "5.0.0" : "4.0.0");
	if (reply == NULL)
		return;
	if (!is_smtp_reply(reply)) {
		enhanced_at(reply, out, sz);
		return;
	}
	if (reply[0] == '4' || reply[0] == '5')
		snprintf(out, sz, "%c.0.0", reply[0]);
	if (reply[3] != '\0')
		enhanced_at(reply + 4, out, sz);
}

/*
 * The Diagnostic-Code field (RFC 3464 2.3.6): "smtp;" only for a reply
 * the remote server sent (it starts with a reply code); our own words
 * (connect errors, timeouts, a lost connection, TLS failures, expiry)
 * are "X-Unix;".
 */
static char *
diagnostic_of(const char *reply)
{
	return xasprintf("%s; %s", is_smtp_reply(reply) ? "smtp" : "X-Unix", reply);
}

/* 1 when r is a recipient this kind of notice reports. */
static int
reported(const struct queue_rcpt *r, enum dsn_kind kind)
{
	return kind == DSN_FAILED ? r->state == QUEUE_RCPT_FAILED :
	    r->state == QUEUE_RCPT_PENDING;
}

/* The reply to show for r: its own, else the message's last one. */
static const char *
reply_of(const struct queue_entry *e, const struct queue_rcpt *r)
{
	if (r->reply != NULL && r->reply[0] != '\0')
		return r->reply;
	if (e->last_reply != NULL && e->last_reply[0] != '\0')
		return e->last_reply;
	return NULL;
}

/* What the notice needs beyond the entry. */
struct dsn_ctx {
	const struct queue_entry *e;
	enum dsn_kind kind;
	const char *mta;
	int64_t now, retry_until;
	char boundary[80];
	const char *to;			/* e->sender, or the postmaster */
	bool postmaster;		/* a failed bounce, to the postmaster */
};

/* The top-level header section. */
static void
top_headers(struct strbuf *b, const struct dsn_ctx *c)
{
	char date[64], v[512];

	snprintf(v, sizeof(v), "Mail Delivery System <MAILER-DAEMON@%s>", c->mta);
	ob_field(b, "From", v);
	snprintf(v, sizeof(v), "<%s>", c->to);
	ob_field(b, "To", v);
	ob_field(b, "Subject", c->postmaster ? "Postmaster Notice: Undelivered Bounce" :
	    c->kind == DSN_FAILED ? "Undelivered Mail Returned to Sender" :
	    "Delayed Mail (still being retried)");
	fmt_date(c->now, date, sizeof(date));
	ob_field(b, "Date", date);
	snprintf(v, sizeof(v), "<%" PRId64 ".dsn-%s.%s@%s>", c->now,
	    c->kind == DSN_FAILED ? "failed" : "delayed", c->e->id, c->mta);
	ob_field(b, "Message-ID", v);
	ob_field(b, "MIME-Version", "1.0");
	strbuf_printf(b, "Content-Type: multipart/report; report-type=delivery-status;\r\n"
	    "\tboundary=\"%s\"\r\n", c->boundary);
	ob_field(b, "Auto-Submitted", "auto-replied");
	strbuf_str(b, "\r\nThis is a MIME-encapsulated message.\r\n\r\n");
}

/* Part 1: the text for people. */
static void
human_part(struct strbuf *b, const struct dsn_ctx *c)
{
	char date[64], *v;
	size_t i;

	strbuf_printf(b, "--%s\r\nContent-Description: Notification\r\n"
	    "Content-Type: text/plain; charset=us-ascii\r\n\r\n", c->boundary);
	strbuf_printf(b, "This is the mail system at host %s.\r\n\r\n", c->mta);
	if (c->postmaster)
		ob_wrap(b, 0, "A message from the null sender <> (a delivery status "
		    "notification, or mail sent without a return address) could not be "
		    "delivered to the recipients below, and cannot be returned to anyone. "
		    "It is reported to you, the postmaster, once; its headers are attached.", "");
	else if (c->kind == DSN_FAILED)
		ob_wrap(b, 0, "I'm sorry to have to inform you that your message could not be "
		    "delivered to one or more recipients. The recipients and the replies "
		    "of the mail system are listed below; the headers of your message "
		    "are attached.", "");
	else {
		fmt_date(c->e->created, date, sizeof(date));
		v = xasprintf("Your message, queued since %s, could not be delivered yet to "
		    "the recipients below. This is only a warning: you do not need to "
		    "send it again. The mail system will keep trying and will tell you "
		    "if delivery finally fails.", date);
		ob_wrap(b, 0, v, "");
		free(v);
	}
	strbuf_str(b, "\r\n");
	for (i = 0; i < c->e->nrcpts; i++) {
		const struct queue_rcpt *r = &c->e->rcpts[i];
		if (!reported(r, c->kind))
			continue;
		v = printable(r->addr);
		strbuf_printf(b, "<%s>:", v);
		free(v);
		v = printable(reply_of(c->e, r) != NULL ? reply_of(c->e, r) :
		    c->kind == DSN_FAILED ? "delivery failed" : "delivery delayed");
		strbuf_str(b, "\r\n    ");
		ob_wrap(b, 4, v, "    ");
		free(v);
	}
	strbuf_str(b, "\r\n");
}

/* One per-recipient block of the delivery-status part. */
static void
rcpt_block(struct strbuf *b, const struct dsn_ctx *c, const struct queue_rcpt *r)
{
	char v[1024], st[32], *rep;
	const char *reply = reply_of(c->e, r);

	strbuf_str(b, "\r\n");
	snprintf(v, sizeof(v), "rfc822; %s", r->addr);
	ob_field(b, "Final-Recipient", v);
	ob_field(b, "Action", c->kind == DSN_FAILED ? "failed" : "delayed");
	status_of(reply, c->kind, st, sizeof(st));
	ob_field(b, "Status", st);
	if (reply != NULL) {
		rep = diagnostic_of(reply);
		ob_field(b, "Diagnostic-Code", rep);
		free(rep);
	}
	if (c->e->attempts > 0) {
		fmt_date(c->now, v, sizeof(v));
		ob_field(b, "Last-Attempt-Date", v);
	}
	if (c->kind == DSN_DELAYED && c->retry_until > 0) {
		fmt_date(c->retry_until, v, sizeof(v));
		ob_field(b, "Will-Retry-Until", v);
	}
}

/* Part 2: message/delivery-status. */
static void
status_part(struct strbuf *b, const struct dsn_ctx *c)
{
	char v[512];
	size_t i;

	strbuf_printf(b, "--%s\r\nContent-Description: Delivery report\r\n"
	    "Content-Type: message/delivery-status\r\n\r\n", c->boundary);
	snprintf(v, sizeof(v), "dns; %s", c->mta);
	ob_field(b, "Reporting-MTA", v);
	ob_field(b, "X-Smtpgate-Queue-ID", c->e->id);
	fmt_date(c->e->created, v, sizeof(v));
	ob_field(b, "Arrival-Date", v);
	for (i = 0; i < c->e->nrcpts; i++)
		if (reported(&c->e->rcpts[i], c->kind))
			rcpt_block(b, c, &c->e->rcpts[i]);
	strbuf_str(b, "\r\n");
}

/* Part 3: the original headers, CRLF line ends, without the blank line. */
static void
headers_part(struct strbuf *b, const struct dsn_ctx *c, const char *h, size_t n)
{
	size_t i, start;
	bool eight = false;

	for (i = 0; i < n; i++)
		eight |= (unsigned char)h[i] >= 0x80;
	while (n > 0 && (h[n - 1] == '\n' || h[n - 1] == '\r'))
		n--;
	strbuf_printf(b, "--%s\r\nContent-Description: Undelivered Message Headers\r\n"
	    "Content-Type: text/rfc822-headers\r\n%s\r\n", c->boundary,
	    eight ? "Content-Transfer-Encoding: 8bit\r\n" : "");
	for (start = 0, i = 0; i <= n; i++) {
		if (i < n && h[i] != '\n')
			continue;
		strbuf_add(b, h + start, i - start - (i > start && h[i - 1] == '\r'));
		strbuf_str(b, "\r\n");
		start = i + 1;
	}
	strbuf_str(b, "\r\n");
}

/* A boundary that does not occur in the original headers. */
static void
make_boundary(struct dsn_ctx *c, const char *h, size_t n)
{
	unsigned k;

	for (k = 0; k < 1000; k++) {
		snprintf(c->boundary, sizeof(c->boundary), "=_smtpgate_%s_%" PRId64 "_%u",
		    c->e->id, c->now, k);
		if (h == NULL || memmem(h, n, c->boundary, strlen(c->boundary)) == NULL)
			return;
	}
}

static char *dsn_render(struct dsn_ctx *c, const char *headers, size_t headers_len,
    size_t *lenp);

/* Build the notification, with Will-Retry-Until for DSN_DELAYED. */
char *
dsn_build_until(const struct queue_entry *e, enum dsn_kind kind,
    const struct dsn_report *r, size_t *lenp)
{
	struct dsn_ctx c = { e, kind, r->reporting_mta, r->now, r->retry_until, "", e->sender,
	    false };

	if (e->sender == NULL || e->sender[0] == '\0')
		return NULL;	/* never notify the null sender */
	return dsn_render(&c, r->headers.p, r->headers.len, lenp);
}

/* Who is told that e failed (see dsn.h). */
const char *
dsn_failure_recipient(const struct queue_entry *e, const char *postmaster)
{
	size_t i;

	if (e->sender != NULL && e->sender[0] != '\0')
		return e->sender;
	if (postmaster == NULL || postmaster[0] == '\0')
		return NULL;
	for (i = 0; i < e->nrcpts; i++)
		if (e->rcpts[i].state == QUEUE_RCPT_FAILED &&
		    strcasecmp(e->rcpts[i].addr, postmaster) == 0)
			return NULL;	/* the postmaster's own notice failed: no loop */
	return postmaster;
}

/* The postmaster's notice of a failed message from <> (see dsn.h). */
char *
dsn_build_postmaster(const struct queue_entry *e, const char *postmaster,
    const char *reporting_mta, const struct dsn_headers *h, int64_t now, size_t *lenp)
{
	struct dsn_ctx c = { e, DSN_FAILED, reporting_mta, now, 0, "", postmaster, true };

	if (postmaster == NULL || postmaster[0] == '\0')
		return NULL;
	return dsn_render(&c, h != NULL ? h->p : NULL, h != NULL ? h->len : 0, lenp);
}

/* Render the notice c describes; NULL when no recipient is reported. */
static char *
dsn_render(struct dsn_ctx *c, const char *headers, size_t headers_len, size_t *lenp)
{
	struct strbuf b = { NULL, 0, 0 };
	size_t i;

	for (i = 0; i < c->e->nrcpts && !reported(&c->e->rcpts[i], c->kind); i++)
		;
	if (i == c->e->nrcpts)
		return NULL;
	make_boundary(c, headers, headers_len);
	top_headers(&b, c);
	human_part(&b, c);
	status_part(&b, c);
	if (headers != NULL && headers_len > 0)
		headers_part(&b, c, headers, headers_len);
	strbuf_printf(&b, "--%s--\r\n", c->boundary);
	if (lenp != NULL)
		*lenp = b.len;
	return b.p;
}

/* Build the notification (without Will-Retry-Until). */
char *
dsn_build(const struct queue_entry *e, enum dsn_kind kind,
    const char *reporting_mta, const struct dsn_headers *h, int64_t now, size_t *lenp)
{
	struct dsn_report r = { reporting_mta, { NULL, 0 }, now, 0 };

	if (h != NULL)
		r.headers = *h;
	return dsn_build_until(e, kind, &r, lenp);
}
