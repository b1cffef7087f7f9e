/*
 * linebuf: find the next line in the caller's bytes, with a hard cap and a
 * skip mode for over-long lines (STYLE.md habit 3).  Pure: no I/O, no
 * allocation, no copies.  It knows nothing about SMTP commands or replies;
 * what a bare LF means is the caller's policy.
 *
 * Calling pattern: loop on linebuf_next(); drop *consumed bytes after every
 * call; stop when it returns LINEBUF_NEED_MORE with *consumed == 0.  (In
 * skip mode NEED_MORE may consume the tail of an over-long line and leave
 * a complete line behind, so call again while anything was consumed.)
 */
#include <string.h>

#include "linebuf.h"

/* Start with an empty state; `max` counts the terminator. */
void
linebuf_init(struct linebuf *lb, size_t max)
{
	lb->max = max;
	lb->skipping = false;
}

/* In skip mode: drop bytes up to and including the next LF. */
static enum linebuf_result
linebuf_skip(struct linebuf *lb, const char *buf, size_t len, size_t *consumed)
{
	const char *lf = memchr(buf, '\n', len);

	if (lf == NULL) {
		*consumed = len;
		return LINEBUF_NEED_MORE;
	}
	*consumed = (size_t)(lf - buf) + 1;
	lb->skipping = false;
	return LINEBUF_NEED_MORE;
}

/* Report an over-long line once and drop what we have of it. */
static enum linebuf_result
linebuf_too_long(struct linebuf *lb, const char *buf, size_t len, size_t *consumed)
{
	const char *lf = memchr(buf, '\n', len);

	if (lf != NULL) {
		*consumed = (size_t)(lf - buf) + 1;
	} else {
		*consumed = len;
		lb->skipping = true;
	}
	return LINEBUF_TOO_LONG;
}

/* Look at buf[0..len) and say where the next line ends (see linebuf.h). */
enum linebuf_result
linebuf_next(struct linebuf *lb, const char *buf, size_t len,
    size_t *line_len, size_t *consumed, bool *bare_lf)
{
	size_t scan = len < lb->max ? len : lb->max;
	const char *lf;
	size_t at;

	*consumed = 0;
	*line_len = 0;
	*bare_lf = false;
	if (lb->skipping)
		return linebuf_skip(lb, buf, len, consumed);
	lf = memchr(buf, '\n', scan);
	if (lf == NULL) {
		if (len >= lb->max)
			return linebuf_too_long(lb, buf, len, consumed);
		return LINEBUF_NEED_MORE;
	}
	at = (size_t)(lf - buf);
	*consumed = at + 1;
	if (at > 0 && buf[at - 1] == '\r')
		*line_len = at - 1;
	else {
		*line_len = at;
		*bare_lf = true;
	}
	return LINEBUF_LINE;
}
