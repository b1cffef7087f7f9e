/*
 * base64: the RFC 4648 encoding (standard alphabet, '=' padding, no line
 * breaks), for AUTH PLAIN/LOGIN and RFC 2047 encoded-words.  Pure: no
 * I/O, no allocation, no OpenSSL, so the pure SMTP client and the
 * injector's message code need no crypto library for it.
 */
#ifndef SMTPGATE_BASE64_H
#define SMTPGATE_BASE64_H

#include <stddef.h>

/* The encoded length of n bytes (without the NUL). */
#define BASE64_LEN(n)	(4 * (((n) + 2) / 3))

/*
 * Encode in[0..n) into out, which holds BASE64_LEN(n) + 1 bytes; out is
 * NUL-terminated.  Returns the length written (BASE64_LEN(n)).
 */
size_t base64_encode(const unsigned char *in, size_t n, char *out);

#endif
