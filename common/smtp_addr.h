/*
 * smtp_addr: RFC 5321 paths and mailboxes, pure.  Used by the inbound
 * session (MAIL FROM / RCPT TO) and by the outbound pickup and injector
 * (X-Sender / X-Receiver / -f).  Local parts may be quoted strings (kept as
 * written); with SMTP_ADDR_UTF8 the local part and domain may hold UTF-8
 * (RFC 6531), which is validated.  Source routes "<@a,@b:user@dom>" are
 * accepted and dropped (RFC 5321 4.1.2).
 */
#ifndef SMTPGATE_SMTP_ADDR_H
#define SMTPGATE_SMTP_ADDR_H

#include <stdbool.h>
#include <stddef.h>

#define SMTP_ADDR_MAX 320	/* 64 local + '@' + 255 domain, NUL excluded */

enum smtp_addr_flags {
	SMTP_ADDR_ALLOW_NULL     = 0x01,	/* "<>" is fine (reverse-path) */
	SMTP_ADDR_UTF8           = 0x02,	/* SMTPUTF8 in effect */
	SMTP_ADDR_NO_BRACKETS_OK = 0x04,	/* accept a bare mailbox (pickup files, argv) */
	SMTP_ADDR_POSTMASTER_OK  = 0x08,	/* "<Postmaster>" without a domain */
};

enum smtp_addr_err {
	SMTP_ADDR_OK = 0,
	SMTP_ADDR_SYNTAX,	/* 501 5.1.3 / 553 5.1.3 */
	SMTP_ADDR_TOO_LONG,	/* 501 5.1.3 */
	SMTP_ADDR_NEED_UTF8,	/* non-ASCII without SMTPUTF8: 553 5.6.7 */
	SMTP_ADDR_NULL,		/* "<>" where not allowed */
};

/*
 * Parse a path at the start of s[0..len).  On SMTP_ADDR_OK, out (outsz >=
 * SMTP_ADDR_MAX+1) holds "local@domain" ("" for the null path, "postmaster"
 * alone when allowed) and *consumed the bytes used, so the caller can go on
 * to the ESMTP parameters after it.
 */
enum smtp_addr_err smtp_addr_parse_path(const char *s, size_t len, unsigned flags,
    char *out, size_t outsz, size_t *consumed);

/* Human text for an error, e.g. "syntax error in address". */
const char *smtp_addr_strerror(enum smtp_addr_err e);

/* Lower-case the domain part (ASCII only) in place; the local part is kept. */
void smtp_addr_normalize_domain(char *addr);

/* Pointer to the domain part after '@' (or NULL). */
const char *smtp_addr_domain(const char *addr);

/*
 * The canonical form of a parsed "local@domain" (or a bare "postmaster")
 * into out (outsz > strlen(addr)): a quoted local part whose content is a
 * plain dot-string loses its quotes and quoted-pairs ("demo"@x and
 * "d\\emo"@x become demo@x, RFC 5321 4.1.2: the same mailbox); a quoted
 * local part that needs them (spaces, "..", a leading dot, specials)
 * is kept as written, and so is everything else.  Case is kept.
 * Returns true when the text changed.
 */
bool smtp_addr_unquote(const char *addr, char *out, size_t outsz);

/*
 * Address extensions (Postfix's recipient_delimiter): the length of the
 * base of local part local[0..len) when it holds one of the characters of
 * delims ("" = none) after its first character: "user+tag" with "+" gives
 * 4.  Returns len when there is nothing to strip (no delimiter, or one
 * only at the start, or a quoted local part).  The first delimiter found
 * splits: "a-b+c" with "+-" gives 1.
 */
size_t smtp_addr_ext_base(const char *local, size_t len, const char *delims);

/* The length of the well-formed non-ASCII UTF-8 sequence at p[0..n)
 * (2-4 bytes: no overlong form, no surrogate, nothing past U+10FFFF), or
 * 0 when there is none. */
size_t smtp_addr_utf8_seq(const unsigned char *p, size_t n);

#endif
