/*
 * linebuf: a pure line splitter with a hard length cap and a skip mode
 * (STYLE.md habit 3).  It never copies and never allocates: it looks at
 * the caller's contiguous bytes and says where the next line ends.  An
 * over-long line is reported once, then its bytes are skipped up to and
 * including the next LF, so the protocol stays in sync.
 */
#ifndef SMTPGATE_LINEBUF_H
#define SMTPGATE_LINEBUF_H

#include <stdbool.h>
#include <stddef.h>

enum linebuf_result {
	LINEBUF_NEED_MORE,	/* no complete line; *consumed bytes may be dropped (skip mode) */
	LINEBUF_LINE,		/* a line of *line_len bytes at buf (terminator excluded) */
	LINEBUF_TOO_LONG,	/* a line exceeded max: reported once; *consumed dropped */
};

struct linebuf {
	size_t max;		/* longest line accepted, terminator included */
	bool skipping;		/* inside an over-long line */
};

void linebuf_init(struct linebuf *lb, size_t max);

/*
 * Look at buf[0..len).  Always sets *consumed (bytes the caller must drop
 * before the next call).  For LINEBUF_LINE, *line_len excludes the
 * terminator and *bare_lf is true when the line ended in LF without CR
 * (the caller decides the policy).  A line of max bytes or more without
 * an LF yields LINEBUF_TOO_LONG once, then skip mode until LF.
 */
enum linebuf_result linebuf_next(struct linebuf *lb, const char *buf, size_t len,
    size_t *line_len, size_t *consumed, bool *bare_lf);

#endif
