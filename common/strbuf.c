/*
 * strbuf: growing text buffers (see strbuf.h).  Pure: no I/O.
 *
 * Must not know: files, sockets, what the text means.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "strbuf.h"
#include "log.h"
#include "util.h"

/* Make room for n more bytes and the NUL. */
static void
strbuf_reserve(struct strbuf *b, size_t n)
{
	if (b->len + n + 1 <= b->cap)
		return;
	b->cap = (b->len + n + 1) * 2;
	b->p = xrealloc(b->p, b->cap);
}

/* Append n bytes. */
void
strbuf_add(struct strbuf *b, const char *s, size_t n)
{
	strbuf_reserve(b, n);
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

/* Append a C string. */
void
strbuf_str(struct strbuf *b, const char *s)
{
	strbuf_add(b, s, strlen(s));
}

/* Append formatted text: measure, make room, format in place. */
void
strbuf_printf(struct strbuf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		fatalx("strbuf_printf: bad format \"%s\"", fmt);
	strbuf_reserve(b, (size_t)n);
	va_start(ap, fmt);
	vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
}

/* Empty the buffer, keeping its memory. */
void
strbuf_reset(struct strbuf *b)
{
	b->len = 0;
	if (b->p != NULL)
		b->p[0] = '\0';
}

/* Free the memory; the buffer is empty again. */
void
strbuf_free(struct strbuf *b)
{
	free(b->p);
	b->p = NULL;
	b->len = b->cap = 0;
}
