/*
 * strbuf: a growing, NUL-terminated byte buffer for text the outbound
 * builds in memory (queue .env files, delivery status notifications).
 * Allocation failure is fatal (util.h); nothing is ever truncated.
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

#endif
