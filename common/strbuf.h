/*
 * strbuf: the one growing, NUL-terminated byte buffer of both gateways
 * (queue .env files, delivery status notifications, the inbound session's
 * replies, the trace header lines of a mailbox file, the SMTP client's
 * commands).  Allocation failure is fatal (util.h); nothing is ever
 * truncated.  Pure: no I/O.  A zeroed struct is an empty buffer.
 */
#ifndef SMTPGATE_STRBUF_H
#define SMTPGATE_STRBUF_H

#include <stddef.h>

struct strbuf {
	char *p;		/* NULL until the first append */
	size_t len, cap;
};

/* Append n bytes. */
void strbuf_add(struct strbuf *b, const char *s, size_t n);
/* Append a C string. */
void strbuf_str(struct strbuf *b, const char *s);
/* Append formatted text, whatever its length. */
void strbuf_printf(struct strbuf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Empty the buffer, keeping its memory for the next text. */
void strbuf_reset(struct strbuf *b);
/* Free the memory; b is an empty buffer again. */
void strbuf_free(struct strbuf *b);

#endif
