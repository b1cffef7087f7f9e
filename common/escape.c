/*
 * escape: text made safe to show under a named policy (see escape.h).
 * One writer for every policy: a byte is kept, replaced by one byte, or
 * written as \xHH; a piece that does not fit stops the writer, and the
 * policies that mark a cut end the text in "..." without splitting an
 * escape.
 *
 * Must not know: where the text goes (log, reply, header), files, SMTP.
 */
#include <string.h>

#include "escape.h"

/* 1 when byte c stays as it is under policy p. */
static bool
escape_keeps(enum escape_policy p, unsigned char c)
{
	switch (p) {
	case ESCAPE_LOG:
		return c >= 0x20 && c < 0x7f && c != '\\' && c != '"' && c != '=';
	case ESCAPE_REPLY:
		return c >= 0x20 && c < 0x7f && c != '\\';
	case ESCAPE_HEADER:
		return c >= 0x20 && c < 0x7f;
	case ESCAPE_WORD:
		return c > 0x20 && c < 0x7f && c != '(' && c != ')';
	case ESCAPE_CONTROLS:
		return c >= 0x20 && c != 0x7f;
	}
	return false;
}

/* The byte that stands for c under p, or 0 when c is written as \xHH. */
static char
escape_replacement(enum escape_policy p, unsigned char c)
{
	switch (p) {
	case ESCAPE_HEADER:
		return c < 0x20 || c == 0x7f ? ' ' : '?';
	case ESCAPE_WORD:
	case ESCAPE_CONTROLS:
		return '?';
	default:
		return 0;
	}
}

/* true when a cut text under p ends in "...". */
static bool
escape_marks_cut(enum escape_policy p)
{
	return p == ESCAPE_LOG || p == ESCAPE_REPLY;
}

/* Start a writer (see escape.h). */
void
escape_start(struct escape_out *e, enum escape_policy policy, char *buf, size_t bufsz)
{
	e->buf = buf;
	e->size = bufsz;
	e->n = e->safe = 0;
	e->full = bufsz == 0;
	e->policy = policy;
}

/* Append one unit (a byte or an escape) whole, or stop the writer. */
static void
escape_put(struct escape_out *e, const char *s, size_t n)
{
	if (e->full)
		return;
	if (e->n + n + 1 > e->size) {
		e->full = true;
		return;
	}
	memmove(e->buf + e->n, s, n);
	e->n += n;
	if (e->n + 4 <= e->size)
		e->safe = e->n;
}

/* Append our own text as it is (see escape.h). */
void
escape_raw(struct escape_out *e, const char *s, size_t n)
{
	escape_put(e, s, n);
}

/* Append foreign bytes under the writer's policy (see escape.h). */
void
escape_bytes(struct escape_out *e, const char *s, size_t n)
{
	static const char hex[] = "0123456789abcdef";

	for (size_t i = 0; i < n && !e->full; i++) {
		unsigned char c = (unsigned char)s[i];
		char u[4] = { (char)c, 0, 0, 0 };

		if (escape_keeps(e->policy, c))
			escape_put(e, u, 1);
		else if ((u[0] = escape_replacement(e->policy, c)) != 0)
			escape_put(e, u, 1);
		else {
			u[0] = '\\';
			u[1] = 'x';
			u[2] = hex[c >> 4];
			u[3] = hex[c & 0xf];
			escape_put(e, u, 4);
		}
	}
}

/* Terminate, marking a cut where the policy wants it (see escape.h). */
const char *
escape_finish(struct escape_out *e)
{
	size_t dots;

	if (e->size == 0)
		return e->buf;
	if (e->full && escape_marks_cut(e->policy)) {
		dots = e->size - 1 < 3 ? e->size - 1 : 3;
		e->n = e->safe;
		memcpy(e->buf + e->n, "...", dots);
		e->n += dots;
	}
	e->buf[e->n] = '\0';
	return e->buf;
}

/* s made safe under policy into buf (see escape.h). */
const char *
escape_text(enum escape_policy policy, const char *s, size_t len, char *buf,
    size_t bufsz)
{
	struct escape_out e;

	escape_start(&e, policy, buf, bufsz);
	escape_bytes(&e, s, len);
	return escape_finish(&e);
}
