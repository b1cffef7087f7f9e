/*
 * submit: the pure part of smtpgate-sendmail (see submit.h): the message's
 * lines and header fields, the envelope recipients, the maildrop file.
 *
 * Must not know: files, ids, the spool, the clock, the process (no exit).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>

#include "submit.h"
#include "base64.h"
#include "header.h"
#include "util.h"

/* Append one line and CRLF. */
static void
buf_addline(struct strbuf *b, const char *p, size_t n)
{
	strbuf_add(b, p, n);
	strbuf_add(b, "\r\n", 2);
}

/* Refuse what SMTP cannot carry (the daemon would set it aside in bad/). */
static int
check_line(const char *p, size_t len, size_t lineno, char *err, size_t errlen)
{
	if (memchr(p, '\0', len) != NULL)
		return util_fail(EX_DATAERR, err, errlen, "line %zu of the message: NUL byte",
		    lineno);
	if (memchr(p, '\r', len) != NULL)
		return util_fail(EX_DATAERR, err, errlen,
		    "line %zu of the message: CR not followed by LF", lineno);
	return 0;
}

/* Append one line to m. */
static void
msg_push(struct submit_msg *m, size_t *cap, const char *p, size_t len)
{
	if (m->nlines == *cap) {
		*cap = *cap ? *cap * 2 : 256;
		m->lines = xrealloc(m->lines, *cap * sizeof(*m->lines));
	}
	m->lines[m->nlines].p = p;
	m->lines[m->nlines].len = len;
	m->nlines++;
}

/* true when l continues a folded header field. */
static bool
is_continuation(const struct submit_line *l)
{
	return l->len > 0 && (l->p[0] == ' ' || l->p[0] == '\t');
}

/* Find where the header ends and the body starts. */
static void
msg_split(struct submit_msg *m)
{
	size_t i = 0;

	while (i < m->nlines) {
		if (header_name_len(m->lines[i].p, m->lines[i].len) > 0 ||
		    (i > 0 && is_continuation(&m->lines[i])))
			i++;
		else
			break;
	}
	m->nheader = i;
	m->body = i;
	if (i < m->nlines && m->lines[i].len == 0)
		m->body = i + 1;	/* skip the separator; we write our own */
}

/* Split raw input into lines and header/body (see submit.h). */
int
submit_parse(const char *raw, size_t len, bool dot_ok, struct submit_msg *m,
    char *err, size_t errlen)
{
	size_t cap = 0, pos = 0, lineno = 0;

	memset(m, 0, sizeof(*m));
	while (pos < len) {
		const char *p = raw + pos;
		const char *nl = memchr(p, '\n', len - pos);
		size_t n = nl ? (size_t)(nl - p) : len - pos;
		int rc;

		pos += n + (nl ? 1 : 0);
		lineno++;
		if (n > 0 && p[n - 1] == '\r')
			n--;
		if ((rc = check_line(p, n, lineno, err, errlen)) != 0) {
			submit_msg_free(m);
			return rc;
		}
		if (!dot_ok && n == 1 && p[0] == '.')
			break;
		if (m->nlines == 0 && n >= 5 && memcmp(p, "From ", 5) == 0)
			continue;
		msg_push(m, &cap, p, n);
	}
	msg_split(m);
	return 0;
}

/* Free the line index of m. */
void
submit_msg_free(struct submit_msg *m)
{
	free(m->lines);
	memset(m, 0, sizeof(*m));
}

/* true when the field starting at l is named name (case-insensitive). */
static bool
field_is(const struct submit_line *l, const char *name)
{
	return header_is(l->p, l->len, name) != 0;
}

/* Index just past the field starting at header line i. */
static size_t
field_end(const struct submit_msg *m, size_t i)
{
	i++;
	while (i < m->nheader && is_continuation(&m->lines[i]))
		i++;
	return i;
}

/* true when the header has a field named name. */
static bool
msg_has(const struct submit_msg *m, const char *name)
{
	for (size_t i = 0; i < m->nheader; i = field_end(m, i))
		if (field_is(&m->lines[i], name))
			return true;
	return false;
}

/* The unfolded value of the field at line i (malloc'd). */
static char *
field_value(const struct submit_msg *m, size_t i)
{
	struct strbuf b = { 0 };
	const struct submit_line *l = &m->lines[i];
	const char *colon = memchr(l->p, ':', l->len);
	size_t end = field_end(m, i);

	strbuf_add(&b, colon + 1, l->len - (size_t)(colon + 1 - l->p));
	for (size_t j = i + 1; j < end; j++)
		strbuf_add(&b, m->lines[j].p, m->lines[j].len);
	return b.p;
}

/* Normalise one address (see submit.h). */
int
submit_addr_normalize(const char *raw, const char *host, bool allow_null,
    char out[SMTP_ADDR_MAX + 1], const char **why)
{
	unsigned flags = SMTP_ADDR_NO_BRACKETS_OK | SMTP_ADDR_UTF8;
	char *text;
	size_t consumed = 0;
	enum smtp_addr_err e;

	if (allow_null)
		flags |= SMTP_ADDR_ALLOW_NULL;
	if (allow_null && (raw[0] == '\0' || strcmp(raw, "<>") == 0)) {
		out[0] = '\0';
		return 0;
	}
	if (strchr(raw, '@') == NULL && raw[0] != '\0' && raw[0] != '<')
		text = xasprintf("%s@%s", raw, host);
	else
		text = xstrdup(raw);
	e = smtp_addr_parse_path(text, strlen(text), flags, out, SMTP_ADDR_MAX + 1, &consumed);
	if (e == SMTP_ADDR_OK && consumed != strlen(text))
		e = SMTP_ADDR_SYNTAX;
	free(text);
	if (e != SMTP_ADDR_OK) {
		*why = smtp_addr_strerror(e);
		return -1;
	}
	smtp_addr_normalize_domain(out);
	return 0;
}

/* Add every address of an address list; 0 or a sysexits code with err. */
static int
add_list(const char *list, const char *host, size_t max, struct addrset *r,
    char *err, size_t errlen)
{
	struct addrlist raw = { 0 };
	char addr[SMTP_ADDR_MAX + 1];
	const char *why;
	int rc = 0;

	addrlist_split(list, strlen(list), &raw);
	for (size_t i = 0; i < raw.n && rc == 0; i++) {
		if (submit_addr_normalize(raw.addrs[i], host, false, addr, &why) < 0)
			rc = util_fail(EX_DATAERR, err, errlen, "bad recipient address \"%s\": %s",
			    raw.addrs[i], why);
		else if (addrset_has(r, addr))
			continue;
		else if (r->list.n >= max)
			rc = util_fail(EX_DATAERR, err, errlen, "too many recipients (more than "
			    "%zu, the limit)", max);
		else
			addrset_add(r, addr);
	}
	addrlist_free(&raw);
	return rc;
}

/* Is field l one of the recipient fields: To/Cc/Bcc, or their Resent- form? */
static bool
field_is_rcpt(const struct submit_line *l, bool resent)
{
	if (resent)
		return field_is(l, "Resent-To") || field_is(l, "Resent-Cc") ||
		    field_is(l, "Resent-Bcc");
	return field_is(l, "To") || field_is(l, "Cc") || field_is(l, "Bcc");
}

/* With -t: the recipients of the header fields; 0 or a sysexits code. */
static int
header_recipients(const struct submit_msg *m, const char *host, size_t max,
    struct addrset *r, char *err, size_t errlen)
{
	bool resent = false;
	int rc = 0;

	for (size_t i = 0; i < m->nheader && !resent; i = field_end(m, i))
		resent = field_is_rcpt(&m->lines[i], true);
	for (size_t i = 0; i < m->nheader && rc == 0; i = field_end(m, i)) {
		if (field_is_rcpt(&m->lines[i], resent)) {
			char *v = field_value(m, i);
			rc = add_list(v, host, max, r, err, errlen);
			free(v);
		}
	}
	if (rc == 0 && r->list.n == 0)
		rc = util_fail(EX_USAGE, err, errlen, "No recipient addresses found in header");
	return rc;
}

/* Collect the recipients (see submit.h). */
int
submit_recipients(const struct submit_msg *m, const struct submit_rcpt_args *a,
    struct addrset *r, char *err, size_t errlen)
{
	int rc = 0;

	for (size_t i = 0; i < a->nargs && rc == 0; i++)
		rc = add_list(a->args[i], a->host, a->max, r, err, errlen);
	if (rc == 0 && a->from_headers)
		rc = header_recipients(m, a->host, a->max, r, err, errlen);
	if (rc == 0 && r->list.n == 0)
		rc = util_fail(EX_USAGE, err, errlen,
		    "no recipients: give addresses as arguments or use -t");
	return rc;
}

#define EW_CHUNK 45	/* bytes per encoded-word: 60 base64 + 12 = 72 <= 75 */

/* Does a phrase need RFC 2047 encoding (a byte outside printable ASCII)? */
static bool
phrase_needs_encoding(const char *s)
{
	for (const unsigned char *p = (const unsigned char *)s; *p; p++)
		if (*p < 0x20 || *p > 0x7e)
			return true;
	return false;
}

/*
 * Append name as RFC 2047 "B" encoded-words in UTF-8, at most EW_CHUNK
 * bytes each (never splitting a UTF-8 sequence), separated by folding
 * whitespace, which a reader drops between adjacent encoded-words.
 */
static void
add_encoded_words(struct strbuf *b, const char *name)
{
	size_t len = strlen(name);

	for (size_t i = 0; i < len;) {
		char enc[BASE64_LEN(EW_CHUNK) + 1];
		size_t n = len - i < EW_CHUNK ? len - i : EW_CHUNK;
		size_t keep = n;

		while (i + keep < len && keep > 0 &&
		    ((unsigned char)name[i + keep] & 0xc0) == 0x80)
			keep--;		/* back to the start of a character */
		if (keep > 0)
			n = keep;
		base64_encode((const unsigned char *)name + i, n, enc);
		if (i > 0)
			strbuf_str(b, "\r\n ");
		strbuf_str(b, "=?UTF-8?B?");
		strbuf_str(b, enc);
		strbuf_str(b, "?=");
		i += n;
	}
}

/* Append name as a quoted string (quotes and backslashes escaped). */
static void
add_quoted(struct strbuf *b, const char *name)
{
	strbuf_str(b, "\"");
	for (const char *p = name; *p; p++) {
		if (*p == '"' || *p == '\\')
			strbuf_add(b, "\\", 1);
		strbuf_add(b, p, 1);
	}
	strbuf_str(b, "\"");
}

/* Append a From: header for addr and an optional full name (quoted, or
 * encoded-words when it is not plain ASCII). */
static void
add_from(struct strbuf *b, const char *addr, const char *fullname)
{
	strbuf_str(b, "From: ");
	if (fullname != NULL && fullname[0] != '\0') {
		char *name = xmalloc(strlen(fullname) + 1);
		size_t n = 0;

		for (const char *p = fullname; *p; p++)
			if (*p != '\r' && *p != '\n')
				name[n++] = *p;
		name[n] = '\0';
		if (phrase_needs_encoding(name))
			add_encoded_words(b, name);
		else
			add_quoted(b, name);
		strbuf_str(b, " ");
		free(name);
	}
	strbuf_str(b, "<");
	strbuf_str(b, addr);
	strbuf_str(b, ">\r\n");
}

/* RFC 5322 date of t in local time with its offset (see submit.h). */
char *
submit_date(time_t t, char *buf, size_t bufsz)
{
	static const char *const days[] = { "Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat" };
	static const char *const months[] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun",
	    "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
	struct tm tm;
	long off;

	localtime_r(&t, &tm);
	off = tm.tm_gmtoff / 60;
	snprintf(buf, bufsz, "%s, %d %s %d %02d:%02d:%02d %c%02ld%02ld",
	    days[tm.tm_wday], tm.tm_mday, months[tm.tm_mon], tm.tm_year + 1900,
	    tm.tm_hour, tm.tm_min, tm.tm_sec, off < 0 ? '-' : '+',
	    labs(off) / 60, labs(off) % 60);
	return buf;
}

/* The envelope: X-Sender:, X-Receiver: lines, the end line. */
static void
add_envelope(struct strbuf *b, const struct submit_envelope *e)
{
	strbuf_str(b, "X-Sender: <");
	strbuf_str(b, e->sender);
	strbuf_str(b, ">\r\n");
	for (size_t i = 0; i < e->rcpts->list.n; i++) {
		strbuf_str(b, "X-Receiver: <");
		strbuf_str(b, e->rcpts->list.addrs[i]);
		strbuf_str(b, ">\r\n");
	}
	strbuf_str(b, SUBMIT_ENVELOPE_END "\r\n");
}

/* Our trace field: who handed the message over, and when. */
static void
add_received(struct strbuf *b, const struct submit_envelope *e)
{
	char date[64];

	strbuf_printf(b, "Received: by %s (smtpgate-sendmail, from userid %lu);\r\n\t%s\r\n",
	    e->host, e->uid, submit_date(e->now, date, sizeof(date)));
}

/* Build the maildrop file (see submit.h). */
void
submit_build(struct strbuf *b, const struct submit_msg *m,
    const struct submit_envelope *e)
{
	char date[64];

	add_envelope(b, e);
	add_received(b, e);
	for (size_t i = 0, end; i < m->nheader; i = end) {
		end = field_end(m, i);
		if (field_is(&m->lines[i], "Bcc") || field_is(&m->lines[i], "Resent-Bcc"))
			continue;
		for (size_t j = i; j < end; j++)
			buf_addline(b, m->lines[j].p, m->lines[j].len);
	}
	if (!msg_has(m, "From"))
		add_from(b, e->from_addr, e->fullname);
	if (!msg_has(m, "Date"))
		strbuf_printf(b, "Date: %s\r\n", submit_date(e->now, date, sizeof(date)));
	if (!msg_has(m, "Message-ID"))
		strbuf_printf(b, "Message-ID: <%s@%s>\r\n", e->msgid, e->host);
	strbuf_add(b, "\r\n", 2);
	for (size_t i = m->body; i < m->nlines; i++)
		buf_addline(b, m->lines[i].p, m->lines[i].len);
}
