/*
 * pickup_parse: the pure parser of dropped files (see pickup.h for the
 * format).  It splits the envelope lines (X-Sender:, X-Receiver:, and the
 * "X-Smtpgate-Envelope: end" line that ends them) from the RFC 5322
 * message, checks that the rest is a message (header fields, blank line,
 * body; no NUL, no bare CR), takes the envelope from the headers when the
 * envelope lines are missing (pickup/ only), and returns the message to
 * store with CRLF line ends, without the envelope lines, Bcc: and
 * Return-Path: (RFC 5321 4.4: a sender must not send one).
 *
 * Strict (maildrop/, PICKUP_STRICT): X-Sender: exactly once as the first
 * line, one or more X-Receiver:, then the end line, all required.  Once the
 * envelope has ended, whatever the message starts with (X-Receiver: ...)
 * is message header, never envelope.
 *
 * No I/O, no globals: fuzzed directly (tests/fuzz/fuzz_pickup.c).
 */
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "addrlist.h"
#include "header.h"
#include "pickup.h"
#include "queue.h"
#include "smtp_addr.h"
#include "strbuf.h"
#include "util.h"

/* What pickup_parse() builds up. */
struct pparse {
	const char *buf;
	size_t len, off;
	unsigned flags;		/* PICKUP_STRICT */
	unsigned lineno;
	struct strbuf out;	/* the message to store */
	bool have_xsender;
	bool have_end;		/* the envelope ended with the end line */
	char *sender;		/* from X-Sender:, Return-Path: or From: */
	bool sender_from_rp;
	char *from;		/* first From: address */
	struct addrset xrcpts;	/* X-Receiver: (hashed: up to 10,000 lines) */
	struct addrlist hrcpts;	/* To:, Cc:, Bcc: */
	char *reason;
	size_t reasonlen;
};

/* One line of the input, without its LF or CRLF. */
struct pline {
	const char *p;
	size_t n;
};

/* Fill the reason; returns -1. */
static int __attribute__((format(printf, 2, 3)))
pfail(struct pparse *pp, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(pp->reason, pp->reasonlen, fmt, ap);
	va_end(ap);
	return -1;
}

/* The next line at pp->off (not consumed); false at the end. */
static bool
peek_line(const struct pparse *pp, struct pline *l, size_t *next)
{
	const char *nl;

	if (pp->off >= pp->len)
		return false;
	l->p = pp->buf + pp->off;
	nl = memchr(l->p, '\n', pp->len - pp->off);
	l->n = nl != NULL ? (size_t)(nl - l->p) : pp->len - pp->off;
	*next = pp->off + l->n + (nl != NULL);
	if (l->n > 0 && l->p[l->n - 1] == '\r')
		l->n--;
	return true;
}

/* Append a line and CRLF to the stored message. */
static void
out_line(struct pparse *pp, const struct pline *l)
{
	strbuf_add(&pp->out, l->p, l->n);
	strbuf_add(&pp->out, "\r\n", 2);
}

/* Length of "Name:" when l starts with that header name (any case), else
 * 0 (header.h's scanner). */
static size_t
has_name(const struct pline *l, const char *name)
{
	return header_is(l->p, l->n, name);
}

/* Parse one envelope address (with or without <>) from s[0..n). */
static int
env_addr(struct pparse *pp, const char *what, const char *s, size_t n,
    unsigned flags, char *out)
{
	enum smtp_addr_err r;
	size_t used;

	while (n > 0 && (s[0] == ' ' || s[0] == '\t'))
		s++, n--;
	while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t'))
		n--;
	r = smtp_addr_parse_path(s, n, flags | SMTP_ADDR_NO_BRACKETS_OK | SMTP_ADDR_UTF8,
	    out, SMTP_ADDR_MAX + 1, &used);
	if (r == SMTP_ADDR_OK && used != n)
		r = SMTP_ADDR_SYNTAX;
	if (r != SMTP_ADDR_OK)
		return pfail(pp, "line %u: bad %s address \"%.*s\": %s", pp->lineno, what,
		    (int)(n > 80 ? 80 : n), s, smtp_addr_strerror(r));
	return 0;
}

/* true when l is the "X-Smtpgate-Envelope:" line (any value). */
static bool
is_end_field(const struct pline *l, size_t *k)
{
	return (*k = has_name(l, "X-Smtpgate-Envelope")) != 0;
}

/* The end line "X-Smtpgate-Envelope: end" (its value checked). */
static int
envelope_end(struct pparse *pp, const struct pline *l, size_t k)
{
	const char *v = l->p + k;
	size_t n = l->n - k;

	while (n > 0 && (v[0] == ' ' || v[0] == '\t'))
		v++, n--;
	while (n > 0 && (v[n - 1] == ' ' || v[n - 1] == '\t'))
		n--;
	if (n != 3 || strncasecmp(v, "end", 3) != 0)
		return pfail(pp, "line %u: bad X-Smtpgate-Envelope line (want \"%s\")",
		    pp->lineno, PICKUP_END_LINE);
	pp->have_end = true;
	return 0;
}

/* One X-Sender: or X-Receiver: line (k: length of its name and colon). */
static int
envelope_addr(struct pparse *pp, const struct pline *l, size_t k, bool snd)
{
	char addr[SMTP_ADDR_MAX + 1];

	if (snd && pp->have_xsender)
		return pfail(pp, "line %u: X-Sender given twice", pp->lineno);
	if ((pp->flags & PICKUP_STRICT) && (snd != (pp->lineno == 1)))
		return pfail(pp, "line %u: %s", pp->lineno, snd ?
		    "X-Sender must be the first line" : "the first line must be X-Sender");
	if (env_addr(pp, snd ? "X-Sender" : "X-Receiver", l->p + k, l->n - k,
	    snd ? SMTP_ADDR_ALLOW_NULL : 0, addr) < 0)
		return -1;
	if (snd) {
		pp->have_xsender = true;
		pp->sender = xstrdup(addr);
	} else if (pp->xrcpts.list.n >= PICKUP_MAX_RCPTS)
		return pfail(pp, "too many recipients (more than %d)", PICKUP_MAX_RCPTS);
	else
		addrset_add(&pp->xrcpts, addr);
	return 0;
}

/* The strict envelope's rules once its lines are read. */
static int
envelope_strict(struct pparse *pp)
{
	if (!pp->have_xsender)
		return pfail(pp, "no envelope: the first line must be X-Sender");
	if (pp->xrcpts.list.n == 0)
		return pfail(pp, "no X-Receiver line before the end of the envelope");
	if (!pp->have_end)
		return pfail(pp, "no \"%s\" line after the envelope", PICKUP_END_LINE);
	return 0;
}

/* The leading X-Sender:/X-Receiver: lines, up to the end line if any. */
static int
parse_envelope_lines(struct pparse *pp)
{
	struct pline l;
	size_t next, k;
	bool snd;

	while (peek_line(pp, &l, &next)) {
		if (is_end_field(&l, &k)) {
			pp->lineno++;
			pp->off = next;
			if (envelope_end(pp, &l, k) < 0)
				return -1;
			break;
		}
		snd = (k = has_name(&l, "X-Sender")) != 0;
		if (!snd && (k = has_name(&l, "X-Receiver")) == 0)
			break;
		pp->lineno++;
		if (envelope_addr(pp, &l, k, snd) < 0)
			return -1;
		pp->off = next;
	}
	return (pp->flags & PICKUP_STRICT) ? envelope_strict(pp) : 0;
}

/* 1 when l begins a header field ("Name:" with a printable name). */
static bool
is_field_start(const struct pline *l)
{
	size_t i;

	for (i = 0; i < l->n && l->p[i] != ':'; i++) {
		unsigned char c = (unsigned char)l->p[i];
		if (c == ' ' || c == '\t') {
			/* obsolete: white space before the colon only */
			while (i < l->n && (l->p[i] == ' ' || l->p[i] == '\t'))
				i++;
			return i > 0 && i < l->n && l->p[i] == ':' && l->p[0] != ' ' &&
			    l->p[0] != '\t';
		}
		if (c < 33 || c > 126)
			return false;
	}
	return i > 0 && i < l->n;
}

/* An address field's value: its name, its first line, its text. */
struct pfield {
	const char *name;
	unsigned line;
	const char *v;
	size_t n;
};

/* The addresses of an address field value, added to l without duplicates
 * (up to one past the limit, so that it is noticed). */
static int
field_addrs(struct pparse *pp, const struct pfield *f, unsigned flags, struct addrlist *l)
{
	struct addrlist tmp = { NULL, 0, 0 };
	char err[200];
	size_t i;

	if (addrlist_parse(f->v, f->n, flags | ADDRLIST_UTF8, &tmp, err, sizeof(err)) < 0) {
		addrlist_free(&tmp);
		return pfail(pp, "line %u: %s: header: %s", f->line, f->name, err);
	}
	for (i = 0; i < tmp.n && l->n <= PICKUP_MAX_RCPTS; i++)
		addrlist_add_unique(l, tmp.addrs[i]);
	addrlist_free(&tmp);
	return 0;
}

/* Return-Path: (one address or <>) as the sender. */
static int
use_return_path(struct pparse *pp, unsigned line, const char *v, size_t n)
{
	struct addrlist tmp = { NULL, 0, 0 };
	struct pfield f = { "Return-Path", line, v, n };
	int rc;

	rc = field_addrs(pp, &f, ADDRLIST_ALLOW_NULL, &tmp);
	if (rc == 0 && tmp.n != 1)
		rc = pfail(pp, "line %u: Return-Path: must hold one address", line);
	if (rc == 0) {
		pp->sender = xstrdup(tmp.addrs[0]);
		pp->sender_from_rp = true;
	}
	addrlist_free(&tmp);
	return rc;
}

/* The first From: address, the sender when there is no Return-Path:. */
static int
use_from(struct pparse *pp, unsigned line, const char *v, size_t n)
{
	struct addrlist tmp = { NULL, 0, 0 };
	struct pfield f = { "From", line, v, n };
	int rc;

	rc = field_addrs(pp, &f, 0, &tmp);
	if (rc == 0 && tmp.n > 0)
		pp->from = xstrdup(tmp.addrs[0]);
	addrlist_free(&tmp);
	return rc;
}

/* Take what the envelope needs from one field (name of length k + value). */
static int
use_field(struct pparse *pp, const struct pline *first, size_t k, unsigned line,
    const char *v, size_t n)
{
	static const char *const rcpt_fields[] = { "To", "Cc", "Bcc" };
	struct pfield f = { NULL, line, v, n };
	size_t i;

	for (i = 0; i < 3; i++)
		if (has_name(first, rcpt_fields[i]) == k) {
			f.name = rcpt_fields[i];
			return pp->xrcpts.list.n > 0 ? 0 : field_addrs(pp, &f, 0, &pp->hrcpts);
		}
	if (pp->have_xsender)
		return 0;
	if (has_name(first, "Return-Path") == k && !pp->sender_from_rp)
		return use_return_path(pp, line, v, n);
	if (has_name(first, "From") == k && pp->from == NULL)
		return use_from(pp, line, v, n);
	return 0;
}

/* One header field: its first line and continuation lines. */
static int
parse_field(struct pparse *pp, const struct pline *first, size_t next)
{
	const char *colon = memchr(first->p, ':', first->n);
	size_t k = (size_t)(colon - first->p) + 1;
	const char *v = first->p + k, *vend = first->p + first->n;
	bool drop = has_name(first, "Bcc") == k || has_name(first, "Return-Path") == k;
	unsigned line0 = pp->lineno;
	struct pline l;

	if (!drop)
		out_line(pp, first);
	pp->off = next;
	while (peek_line(pp, &l, &next) && l.n > 0 && (l.p[0] == ' ' || l.p[0] == '\t')) {
		pp->lineno++;
		if (!drop)
			out_line(pp, &l);
		vend = l.p + l.n;
		pp->off = next;
	}
	return use_field(pp, first, k, line0, v, (size_t)(vend - v));
}

/* The header section, up to and including the blank line. */
static int
parse_headers(struct pparse *pp)
{
	struct pline l;
	size_t next;
	unsigned nfields = 0;

	while (peek_line(pp, &l, &next)) {
		pp->lineno++;
		if (l.n == 0) {
			if (nfields == 0)
				return pfail(pp, "not a message: no header fields");
			strbuf_add(&pp->out, "\r\n", 2);
			pp->off = next;
			return 0;
		}
		if (l.p[0] == ' ' || l.p[0] == '\t')
			return pfail(pp, "not a message: line %u: continuation line "
			    "before any header field", pp->lineno);
		if (!is_field_start(&l))
			return pfail(pp, "not a message: line %u is not a header field "
			    "(no \"Name:\")", pp->lineno);
		if (parse_field(pp, &l, next) < 0)
			return -1;
		nfields++;
	}
	if (nfields == 0)
		return pfail(pp, "not a message: no header fields");
	return 0;	/* headers only, no body: allowed */
}

/* The body, CRLF-normalised: lines that end in CRLF already are copied
 * as runs, a bare LF (or the unterminated last line) ends one.  Every CR
 * is followed by LF (check_bytes). */
static void
copy_body(struct pparse *pp)
{
	const char *run = pp->buf + pp->off, *p = run, *end = pp->buf + pp->len, *nl;

	while (p < end) {
		if ((nl = memchr(p, '\n', (size_t)(end - p))) == NULL)
			nl = end;		/* the last line, unterminated */
		else if (nl > p && nl[-1] == '\r') {
			p = nl + 1;		/* CRLF already: part of the run */
			continue;
		}
		strbuf_add(&pp->out, run, (size_t)(nl - run));
		strbuf_add(&pp->out, "\r\n", 2);
		run = p = nl < end ? nl + 1 : end;
	}
	if (run < end)
		strbuf_add(&pp->out, run, (size_t)(end - run));
	pp->off = pp->len;
}

/* Whole-file checks before any parsing. */
static int
check_bytes(struct pparse *pp)
{
	const char *p;
	size_t i;

	if (pp->len == 0)
		return pfail(pp, "empty file");
	if (pp->len > PICKUP_MAX_SIZE)
		return pfail(pp, "message too large (%zu bytes, limit %u)", pp->len,
		    PICKUP_MAX_SIZE);
	if ((p = memchr(pp->buf, '\0', pp->len)) != NULL)
		return pfail(pp, "not a message: NUL byte at offset %zu",
		    (size_t)(p - pp->buf));
	for (p = pp->buf; (p = memchr(p, '\r', pp->len - (size_t)(p - pp->buf))) != NULL; p++) {
		i = (size_t)(p - pp->buf);
		if (i + 1 >= pp->len || pp->buf[i + 1] != '\n')
			return pfail(pp, "not a message: bare CR at offset %zu", i);
	}
	return 0;
}

/* Decide the envelope once the headers are read. */
static int
choose_envelope(struct pparse *pp, struct queue_entry *e)
{
	const struct addrlist *r = pp->xrcpts.list.n > 0 ? &pp->xrcpts.list : &pp->hrcpts;
	size_t i;

	if (pp->sender == NULL && pp->from != NULL) {
		pp->sender = pp->from;
		pp->from = NULL;
	}
	if (pp->sender == NULL)
		return pfail(pp, "no sender (no X-Sender:, Return-Path: or From:)");
	if (r->n == 0)
		return pfail(pp, "no recipient (no X-Receiver:, To:, Cc: or Bcc:)");
	if (r->n > PICKUP_MAX_RCPTS)
		return pfail(pp, "too many recipients (%zu, limit %d)", r->n, PICKUP_MAX_RCPTS);
	e->sender = pp->sender;
	pp->sender = NULL;
	e->rcpts = xcalloc(r->n, sizeof(*e->rcpts));
	e->nrcpts = r->n;
	for (i = 0; i < r->n; i++) {
		e->rcpts[i].addr = xstrdup(r->addrs[i]);
		e->rcpts[i].state = QUEUE_RCPT_PENDING;
	}
	return 0;
}

/* Pure: parse a dropped file (see pickup.h). */
int
pickup_parse(const char *buf, size_t len, unsigned flags, struct pickup_msg *m,
    char *reason, size_t reasonlen)
{
	struct pparse pp;
	int rc;

	memset(&pp, 0, sizeof(pp));
	pp.buf = buf;
	pp.len = len;
	pp.flags = flags;
	pp.reason = reason;
	pp.reasonlen = reasonlen;
	rc = check_bytes(&pp);
	if (rc == 0)
		rc = parse_envelope_lines(&pp);
	if (rc == 0)
		rc = parse_headers(&pp);
	if (rc == 0) {
		copy_body(&pp);
		rc = choose_envelope(&pp, &m->e);
	}
	free(pp.sender);
	free(pp.from);
	addrset_free(&pp.xrcpts);
	addrlist_free(&pp.hrcpts);
	if (rc < 0) {
		strbuf_free(&pp.out);
		return -1;
	}
	m->msg = pp.out.p != NULL ? pp.out.p : xstrdup("");
	m->msglen = pp.out.len;
	return 0;
}
