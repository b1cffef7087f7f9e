/*
 * mailfile: trace headers and line ends of a stored message (see
 * mailfile.h).  Pure: no I/O, no clock (the caller passes the time), no
 * threads.  Must not know about sockets, sessions or the spool.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "delivery.h"
#include "escape.h"
#include "mailfile.h"
#include "strbuf.h"
#include "util.h"

/* Copy peer text for a header: printable ASCII without spaces, bounded. */
static void
header_safe(char *dst, size_t dstsz, const char *src)
{
	escape_text(ESCAPE_WORD, src ? src : "", src ? strlen(src) : 0, dst, dstsz);
	if (dst[0] == '\0')
		util_strlcpy(dst, "unknown", dstsz);
}

/* Print the address-literal of ip: [1.2.3.4] or [IPv6:...]. */
static void
addr_literal(char *dst, size_t dstsz, const char *ip)
{
	snprintf(dst, dstsz, strchr(ip, ':') ? "[IPv6:%s]" : "[%s]", ip);
}

/* The RFC 5322 date of now in local time (C locale names). */
static void
rfc5322_date(char *dst, size_t dstsz, time_t now)
{
	struct tm tm;

	localtime_r(&now, &tm);
	strftime(dst, dstsz, "%a, %d %b %Y %H:%M:%S %z", &tm);
}

/* Return-Path, Delivered-To lines and Received for one mailbox file. */
char *
mailfile_header(const struct delivery_request *r, const char *mailbox,
    time_t now, size_t *lenp)
{
	struct strbuf b = { 0 };
	char line[1024], helo[256], lit[80], date[64];
	size_t nmine = 0, one = 0;

	snprintf(line, sizeof(line), "Return-Path: <%s>\n", r->mail_from);
	strbuf_str(&b, line);
	for (size_t i = 0; i < r->nrcpts; i++) {
		if (strcmp(r->rcpts[i].mailbox, mailbox) != 0)
			continue;
		snprintf(line, sizeof(line), "Delivered-To: %s\n", r->rcpts[i].addr);
		strbuf_str(&b, line);
		nmine++;
		one = i;
	}
	header_safe(helo, sizeof(helo), r->helo);
	addr_literal(lit, sizeof(lit), r->client_ip);
	snprintf(line, sizeof(line), "Received: from %s (%s)\n\tby %s (smtpgate) with %s id %s\n",
	    helo, lit, r->hostname, r->protocol, r->queue_id);
	strbuf_str(&b, line);
	if (r->tls_version) {
		snprintf(line, sizeof(line), "\t(using %s with cipher %s)\n",
		    r->tls_version, r->tls_cipher ? r->tls_cipher : "unknown");
		strbuf_str(&b, line);
	}
	rfc5322_date(date, sizeof(date), now);
	if (nmine == 1)
		snprintf(line, sizeof(line), "\tfor <%s>; %s\n", r->rcpts[one].addr, date);
	else
		snprintf(line, sizeof(line), "\t; %s\n", date);
	strbuf_str(&b, line);
	*lenp = b.len;
	return b.p;
}

/* CRLF -> LF in place, one pass with memchr (see mailfile.h). */
size_t
mailfile_to_lf(char *buf, size_t len)
{
	char *end = buf + len, *out, *p;

	p = memchr(buf, '\r', len);
	if (p == NULL)
		return len;
	out = p;
	while (p < end) {
		char *cr = memchr(p, '\r', (size_t)(end - p));
		size_t n = (cr ? cr : end) - p;

		memmove(out, p, n);
		out += n;
		p += n;
		if (cr == NULL)
			break;
		if (cr + 1 < end && cr[1] == '\n') {
			*out++ = '\n';
			p = cr + 2;
		} else {
			*out++ = '\r';
			p = cr + 1;
		}
	}
	return (size_t)(out - buf);
}

/* CRLF -> LF of one piece of a body read in pieces (see mailfile.h). */
size_t
mailfile_to_lf_piece(struct mailfile_lf *st, const char *in, size_t len,
    char *out, int last)
{
	size_t o = 0;

	if (st->cr_held && len > 0) {
		st->cr_held = 0;
		if (in[0] == '\n') {
			out[o++] = '\n';
			in++;
			len--;
		} else
			out[o++] = '\r';
	}
	if (len > 0 && in[len - 1] == '\r') {
		st->cr_held = 1;
		len--;
	}
	memcpy(out + o, in, len);
	o += mailfile_to_lf(out + o, len);
	if (last && st->cr_held) {
		st->cr_held = 0;
		out[o++] = '\r';
	}
	return o;
}
