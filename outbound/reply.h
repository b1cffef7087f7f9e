/*
 * reply: a pure, streaming SMTP reply parser (RFC 5321 4.2, STYLE.md
 * habit 10).  Bytes from the server go in; complete replies come out.
 *
 * A reply line is three digits (first 2-5, second 0-5, third 0-9) then
 * '-' (more lines follow), ' ' or the end of the line (last line).  Every
 * line of a multi-line reply must carry the same code.  A line longer than
 * max_line or a reply longer than max_reply (terminators counted) is an
 * error, and so is anything else malformed: the caller treats every error
 * as a temporary failure of the connection and stops reading.  Line ends
 * may be CRLF or a bare LF (the CR is removed).
 *
 * reply_feed() never consumes past the end of a complete reply, so the
 * caller can stop exactly after a "220" to STARTTLS.  The results of a
 * reply stay valid until the next reply_feed() call.
 */
#ifndef SMTPGATE_REPLY_H
#define SMTPGATE_REPLY_H

#include <stdbool.h>
#include <stddef.h>

#define REPLY_MAX_DEFAULT	(64 * 1024)	/* one whole reply */
#define REPLY_LINE_MAX_DEFAULT	4096		/* one line, CRLF included */

enum reply_status {
	REPLY_NEED_MORE,	/* everything consumed, no complete reply yet */
	REPLY_DONE,		/* a reply is complete; see reply_code() etc. */
	REPLY_ERROR,		/* malformed; sticky until reply_parser_reset() */
};

enum reply_error {
	REPLY_ERR_NONE,
	REPLY_ERR_SYNTAX,	/* not "ddd", "ddd " or "ddd-" + text */
	REPLY_ERR_CODE,		/* a digit out of range */
	REPLY_ERR_MISMATCH,	/* lines of one reply with different codes */
	REPLY_ERR_LINE_TOO_LONG,
	REPLY_ERR_TOO_LARGE,	/* the whole reply exceeded max_reply */
};

struct reply_parser;

/* 0 for either limit means the default above. */
struct reply_parser *reply_parser_new(size_t max_reply, size_t max_line);
void reply_parser_free(struct reply_parser *p);
/* Forget everything (e.g. after STARTTLS), errors included. */
void reply_parser_reset(struct reply_parser *p);

/*
 * Feed buf[0..len).  *consumed is set to the bytes used: all of them for
 * REPLY_NEED_MORE, up to and including the last line's LF for REPLY_DONE,
 * and unspecified for REPLY_ERROR.  Feeding the same bytes whole or one
 * byte at a time gives the same replies.
 */
enum reply_status reply_feed(struct reply_parser *p, const char *buf, size_t len,
    size_t *consumed);

/* After REPLY_DONE: the code (e.g. 250). */
int reply_code(const struct reply_parser *p);
/* After REPLY_DONE: the RFC 3463 code of the first line ("5.1.1"), or ""
 * when absent or when its class does not match the reply's first digit. */
const char *reply_enhanced(const struct reply_parser *p);
/* After REPLY_DONE: the number of lines and the raw text of line i (after
 * the code and separator, line end removed; may hold any byte). */
size_t reply_nlines(const struct reply_parser *p);
const char *reply_line(const struct reply_parser *p, size_t i, size_t *len);
/*
 * After REPLY_DONE: "CODE text1 text2 ..." made printable (bytes outside
 * 0x20-0x7e and '\\' become \xHH) into buf, truncated to bufsz-1 with a
 * trailing "..." when it does not fit.  Returns buf.
 */
const char *reply_printable(const struct reply_parser *p, char *buf, size_t bufsz);

/* After REPLY_ERROR: why. */
enum reply_error reply_error(const struct reply_parser *p);
const char *reply_error_string(enum reply_error e);

/* Make peer bytes printable as reply_printable() does; returns buf. */
const char *reply_escape(const char *s, size_t len, char *buf, size_t bufsz);

#endif
