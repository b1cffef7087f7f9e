/*
 * reply: the streaming SMTP reply parser of the outbound client.  Bytes
 * in, complete validated replies out (see reply.h for the rules).  Pure:
 * no sockets, no clock, no logging; it does not know which command a
 * reply answers; that is client.c's business.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "escape.h"
#include "reply.h"
#include "util.h"

struct reply_parser {
	size_t max_reply;
	size_t max_line;
	char *line;		/* the line being collected, LF included */
	size_t linelen;
	size_t total;		/* bytes of the current reply so far */
	int code;		/* of the first line; 0 before it */
	bool done;		/* a reply completed; start afresh on next feed */
	enum reply_error err;
	char *text;		/* the lines' texts, back to back */
	size_t textlen;
	size_t *off;		/* line i's text is text[off[i]..off[i]+len[i]) */
	size_t *len;
	size_t nlines;
	size_t linecap;
	char enh[12];
};

/* Allocate a parser with the given limits (0: defaults). */
struct reply_parser *
reply_parser_new(size_t max_reply, size_t max_line)
{
	struct reply_parser *p = xcalloc(1, sizeof(*p));

	p->max_reply = max_reply != 0 ? max_reply : REPLY_MAX_DEFAULT;
	p->max_line = max_line != 0 ? max_line : REPLY_LINE_MAX_DEFAULT;
	p->line = xmalloc(p->max_line);
	return p;
}

/* Free a parser and everything it holds. */
void
reply_parser_free(struct reply_parser *p)
{
	if (p == NULL)
		return;
	free(p->line);
	free(p->text);
	free(p->off);
	free(p->len);
	free(p);
}

/* Clear the per-reply state for the next reply. */
static void
reply_start(struct reply_parser *p)
{
	p->linelen = 0;
	p->total = 0;
	p->code = 0;
	p->done = false;
	p->textlen = 0;
	p->nlines = 0;
	p->enh[0] = '\0';
}

/* Forget everything, errors included. */
void
reply_parser_reset(struct reply_parser *p)
{
	reply_start(p);
	p->err = REPLY_ERR_NONE;
}

/* Record an error and return REPLY_ERROR. */
static enum reply_status
reply_fail(struct reply_parser *p, enum reply_error e)
{
	p->err = e;
	return REPLY_ERROR;
}

/* Append one line's text to the reply. */
static void
reply_store(struct reply_parser *p, const char *s, size_t n)
{
	if (p->nlines == p->linecap) {
		p->linecap = p->linecap == 0 ? 8 : p->linecap * 2;
		p->off = xrealloc(p->off, p->linecap * sizeof(*p->off));
		p->len = xrealloc(p->len, p->linecap * sizeof(*p->len));
	}
	/* text never exceeds max_reply: each line counted in total first */
	if (p->text == NULL)
		p->text = xmalloc(p->max_reply);
	memcpy(p->text + p->textlen, s, n);
	p->off[p->nlines] = p->textlen;
	p->len[p->nlines] = n;
	p->textlen += n;
	p->nlines++;
}

/* Length of a run of 1-3 digits at s[0..n), or 0. */
static size_t
digits(const char *s, size_t n)
{
	size_t i = 0;

	while (i < n && i < 3 && s[i] >= '0' && s[i] <= '9')
		i++;
	if (i < n && s[i] >= '0' && s[i] <= '9')
		return 0;
	return i;
}

/* Find "c.sss.ddd" at the start of the first line's text (RFC 3463). */
static void
reply_parse_enhanced(struct reply_parser *p, const char *s, size_t n)
{
	size_t a, b;

	if (n < 5 || s[0] - '0' != p->code / 100 || s[1] != '.')
		return;
	a = digits(s + 2, n - 2);
	if (a == 0 || 2 + a >= n || s[2 + a] != '.')
		return;
	b = digits(s + 3 + a, n - 3 - a);
	if (b == 0 || (3 + a + b < n && s[3 + a + b] != ' '))
		return;
	memcpy(p->enh, s, 3 + a + b);
	p->enh[3 + a + b] = '\0';
}

/* Check one complete line (terminator removed); true when it is the last. */
static enum reply_status
reply_line_done(struct reply_parser *p, const char *s, size_t n)
{
	int code;

	if (n < 3 || (n > 3 && s[3] != ' ' && s[3] != '-'))
		return reply_fail(p, REPLY_ERR_SYNTAX);
	if (s[0] < '0' || s[0] > '9' || s[1] < '0' || s[1] > '9' ||
	    s[2] < '0' || s[2] > '9')
		return reply_fail(p, REPLY_ERR_SYNTAX);
	if (s[0] < '2' || s[0] > '5' || s[1] > '5')
		return reply_fail(p, REPLY_ERR_CODE);
	code = (s[0] - '0') * 100 + (s[1] - '0') * 10 + (s[2] - '0');
	if (p->code != 0 && code != p->code)
		return reply_fail(p, REPLY_ERR_MISMATCH);
	p->code = code;
	reply_store(p, s + (n > 3 ? 4 : 3), n > 3 ? n - 4 : 0);
	if (p->nlines == 1)
		reply_parse_enhanced(p, s + (n > 3 ? 4 : 3), n > 3 ? n - 4 : 0);
	if (n > 3 && s[3] == '-')
		return REPLY_NEED_MORE;
	p->done = true;
	return REPLY_DONE;
}

/* Take up to one line's worth of bytes; returns bytes used via *used. */
static enum reply_status
reply_take(struct reply_parser *p, const char *buf, size_t len, size_t *used)
{
	const char *lf = memchr(buf, '\n', len);
	size_t n = lf != NULL ? (size_t)(lf - buf) + 1 : len;
	size_t room_line = p->max_line - p->linelen;
	size_t room_total = p->max_reply - p->total;
	size_t l;

	*used = n;
	/* whichever limit a byte-by-byte feed would hit first */
	if (n > room_line || n > room_total)
		return reply_fail(p, room_total < room_line ?
		    REPLY_ERR_TOO_LARGE : REPLY_ERR_LINE_TOO_LONG);
	memcpy(p->line + p->linelen, buf, n);
	p->linelen += n;
	p->total += n;
	if (lf == NULL)
		return REPLY_NEED_MORE;
	l = p->linelen - 1;
	if (l > 0 && p->line[l - 1] == '\r')
		l--;
	p->linelen = 0;
	return reply_line_done(p, p->line, l);
}

/* Feed bytes (see reply.h). */
enum reply_status
reply_feed(struct reply_parser *p, const char *buf, size_t len, size_t *consumed)
{
	enum reply_status st;
	size_t used;

	*consumed = 0;
	if (p->err != REPLY_ERR_NONE)
		return REPLY_ERROR;
	if (p->done)
		reply_start(p);
	while (*consumed < len) {
		st = reply_take(p, buf + *consumed, len - *consumed, &used);
		*consumed += used;
		if (st != REPLY_NEED_MORE)
			return st;
	}
	return REPLY_NEED_MORE;
}

/* The code of the completed reply. */
int
reply_code(const struct reply_parser *p)
{
	return p->code;
}

/* The RFC 3463 code of the completed reply, or "". */
const char *
reply_enhanced(const struct reply_parser *p)
{
	return p->enh;
}

/* The number of lines of the completed reply. */
size_t
reply_nlines(const struct reply_parser *p)
{
	return p->nlines;
}

/* The raw text of line i of the completed reply. */
const char *
reply_line(const struct reply_parser *p, size_t i, size_t *len)
{
	if (i >= p->nlines) {
		*len = 0;
		return "";
	}
	*len = p->len[i];
	return p->text + p->off[i];
}

/* Make peer bytes printable (see reply.h). */
const char *
reply_escape(const char *s, size_t len, char *buf, size_t bufsz)
{
	return escape_text(ESCAPE_REPLY, s, len, buf, bufsz);
}

/* "CODE text1 text2 ..." made printable and capped. */
const char *
reply_printable(const struct reply_parser *p, char *buf, size_t bufsz)
{
	struct escape_out e;
	char code[8];
	size_t i;

	escape_start(&e, ESCAPE_REPLY, buf, bufsz);
	snprintf(code, sizeof(code), "%03d", p->code);
	escape_raw(&e, code, 3);
	for (i = 0; i < p->nlines; i++) {
		if (p->len[i] == 0)
			continue;
		escape_raw(&e, " ", 1);
		escape_bytes(&e, p->text + p->off[i], p->len[i]);
	}
	return escape_finish(&e);
}

/* After REPLY_ERROR: why. */
enum reply_error
reply_error(const struct reply_parser *p)
{
	return p->err;
}

/* A short description of a parser error, for failure texts and logs. */
const char *
reply_error_string(enum reply_error e)
{
	switch (e) {
	case REPLY_ERR_NONE:
		return "no error";
	case REPLY_ERR_SYNTAX:
		return "malformed reply line";
	case REPLY_ERR_CODE:
		return "reply code out of range";
	case REPLY_ERR_MISMATCH:
		return "multi-line reply with different codes";
	case REPLY_ERR_LINE_TOO_LONG:
		return "reply line too long";
	case REPLY_ERR_TOO_LARGE:
		return "reply too large";
	}
	return "unknown reply error";
}
