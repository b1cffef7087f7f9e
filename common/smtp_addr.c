/*
 * smtp_addr: RFC 5321 4.1.2 Path / Mailbox parsing, pure (no I/O, no
 * allocation).  Local parts are dot-strings or quoted strings (kept exactly
 * as written); domains are host names or address literals ([IPv4] and
 * [IPv6:...]; the general "tag:content" literal form is refused since no
 * tag besides IPv6 is registered).  Source routes are parsed and dropped.
 * With SMTP_ADDR_UTF8 (RFC 6531) non-ASCII UTF-8 may appear in atoms,
 * quoted strings and domain labels; sequences are validated (no overlongs,
 * no surrogates, nothing past U+10FFFF).  Control bytes and NUL are never
 * accepted.  This module knows nothing about sessions, maps or policy.
 */
#include <arpa/inet.h>
#include <string.h>
#include <strings.h>

#include "smtp_addr.h"

#define LOCAL_MAX 64
#define DOMAIN_MAX 255
#define LABEL_MAX 63

/* A cursor over the caller's bytes. */
struct cur {
	const unsigned char *p;
	size_t len;
	size_t i;
	unsigned flags;
	enum smtp_addr_err err;	/* the first error seen */
};

/* Remember the first error; always returns false for convenience. */
static bool
cur_fail(struct cur *c, enum smtp_addr_err e)
{
	if (c->err == SMTP_ADDR_OK)
		c->err = e;
	return false;
}

/* true when the part read since start is at most max octets, else the
 * SMTP_ADDR_TOO_LONG error (false). */
static bool
cur_within(struct cur *c, size_t start, size_t max)
{
	return c->i - start <= max ? true : cur_fail(c, SMTP_ADDR_TOO_LONG);
}

/* The byte under the cursor, or -1 at the end. */
static int
cur_peek(const struct cur *c)
{
	return c->i < c->len ? c->p[c->i] : -1;
}

/* Consume ch if it is next. */
static bool
cur_accept(struct cur *c, int ch)
{
	if (cur_peek(c) != ch)
		return false;
	c->i++;
	return true;
}

/* Length of a valid non-ASCII UTF-8 sequence at p[0..n), or 0 (see
 * smtp_addr.h). */
size_t
smtp_addr_utf8_seq(const unsigned char *p, size_t n)
{
	unsigned char b = p[0];
	size_t need, k;
	unsigned char lo = 0x80, hi = 0xbf;

	if (b >= 0xc2 && b <= 0xdf)
		need = 1;
	else if (b >= 0xe0 && b <= 0xef) {
		need = 2;
		if (b == 0xe0)
			lo = 0xa0;	/* overlong */
		else if (b == 0xed)
			hi = 0x9f;	/* surrogates */
	} else if (b >= 0xf0 && b <= 0xf4) {
		need = 3;
		if (b == 0xf0)
			lo = 0x90;	/* overlong */
		else if (b == 0xf4)
			hi = 0x8f;	/* past U+10FFFF */
	} else
		return 0;
	if (n < need + 1 || p[1] < lo || p[1] > hi)
		return 0;
	for (k = 2; k <= need; k++)
		if (p[k] < 0x80 || p[k] > 0xbf)
			return 0;
	return need + 1;
}

/* Consume one non-ASCII UTF-8 character if allowed; false (with the error
 * noted) when the byte is non-ASCII but not acceptable here. */
static bool
cur_utf8(struct cur *c)
{
	size_t n;

	if (!(c->flags & SMTP_ADDR_UTF8))
		return cur_fail(c, SMTP_ADDR_NEED_UTF8);
	n = smtp_addr_utf8_seq(c->p + c->i, c->len - c->i);
	if (n == 0)
		return cur_fail(c, SMTP_ADDR_SYNTAX);
	c->i += n;
	return true;
}

/* RFC 5322 atext, ASCII part. */
static bool
is_atext(int ch)
{
	if (ch < 0 || ch >= 0x80)
		return false;
	if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
	    (ch >= '0' && ch <= '9'))
		return true;
	return ch != 0 && strchr("!#$%&'*+-/=?^_`{|}~", ch) != NULL;
}

/* Letter or digit. */
static bool
is_letdig(int ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
	    (ch >= '0' && ch <= '9');
}

/* Advance over the bytes ok() takes (first: at the part's start) and
 * UTF-8 sequences; *last is the last byte taken.  false on bad UTF-8,
 * and SMTP_ADDR_SYNTAX when nothing was taken. */
static bool
cur_span(struct cur *c, bool (*ok)(int ch, bool first), int *last)
{
	size_t start = c->i;
	int ch;

	*last = -1;
	while ((ch = cur_peek(c)) >= 0) {
		if (ok(ch, c->i == start))
			c->i++;
		else if (ch >= 0x80) {
			if (!cur_utf8(c))
				return false;
		} else
			break;
		*last = ch;
	}
	return c->i > start ? true : cur_fail(c, SMTP_ADDR_SYNTAX);
}

/* A byte of an Atom: atext. */
static bool
atom_byte(int ch, bool first)
{
	(void)first;
	return is_atext(ch);
}

/* Atom: 1*atext (UTF-8 allowed with SMTP_ADDR_UTF8). */
static bool
parse_atom(struct cur *c)
{
	int last;

	return cur_span(c, atom_byte, &last);
}

/* part *("." part): a Dot-string of atoms, a Domain of labels. */
static bool
parse_dotted(struct cur *c, bool (*part)(struct cur *))
{
	if (!part(c))
		return false;
	while (cur_accept(c, '.'))
		if (!part(c))
			return false;
	return true;
}

/* Quoted-string: DQUOTE *(qtextSMTP / quoted-pairSMTP) DQUOTE. */
static bool
parse_quoted(struct cur *c)
{
	int ch;

	c->i++;		/* the opening quote */
	while ((ch = cur_peek(c)) >= 0) {
		if (ch == '"') {
			c->i++;
			return true;
		}
		if (ch == '\\') {
			c->i++;
			ch = cur_peek(c);
			if (ch < 32 || ch > 126)
				return cur_fail(c, SMTP_ADDR_SYNTAX);
			c->i++;
		} else if (ch >= 32 && ch <= 126)
			c->i++;
		else if (ch >= 0x80) {
			if (!cur_utf8(c))
				return false;
		} else
			return cur_fail(c, SMTP_ADDR_SYNTAX);
	}
	return cur_fail(c, SMTP_ADDR_SYNTAX);
}

/* One side of the "@", at most max octets: bracketed() when the next byte
 * is open (a Quoted-string, an address literal), else dotted parts
 * (Dot-string: Atom *("." Atom); Domain: sub-domain *("." sub-domain)). */
static bool
parse_side(struct cur *c, int open, bool (*bracketed)(struct cur *),
    bool (*part)(struct cur *), size_t max)
{
	size_t start = c->i;
	bool ok = cur_peek(c) == open ? bracketed(c) : parse_dotted(c, part);

	return ok && cur_within(c, start, max);
}

/* A byte of a sub-domain: Let-dig, or "-" after the first. */
static bool
label_byte(int ch, bool first)
{
	return is_letdig(ch) || (ch == '-' && !first);
}

/* sub-domain: Let-dig [Ldh-str] (a U-label may hold UTF-8). */
static bool
parse_label(struct cur *c)
{
	size_t start = c->i;
	int last;

	if (!cur_span(c, label_byte, &last))
		return false;
	if (last == '-')
		return cur_fail(c, SMTP_ADDR_SYNTAX);
	return cur_within(c, start, LABEL_MAX);
}

/* address-literal: "[" IPv4 / "IPv6:" IPv6 "]", checked by inet_pton. */
static bool
parse_literal(struct cur *c)
{
	const unsigned char *body = c->p + c->i + 1;
	const unsigned char *end;
	char text[64];
	unsigned char bin[16];
	size_t n;
	int af = AF_INET;

	end = memchr(body, ']', c->len - c->i - 1);
	if (end == NULL)
		return cur_fail(c, SMTP_ADDR_SYNTAX);
	n = (size_t)(end - body);
	if (n >= 5 && strncasecmp((const char *)body, "IPv6:", 5) == 0) {
		af = AF_INET6;
		body += 5;
		n -= 5;
	}
	if (n == 0 || n >= sizeof(text) || strspn((const char *)body,
	    "0123456789abcdefABCDEF:.") < n)	/* also stops at NUL */
		return cur_fail(c, SMTP_ADDR_SYNTAX);
	memcpy(text, body, n);
	text[n] = '\0';
	if (inet_pton(af, text, bin) != 1)
		return cur_fail(c, SMTP_ADDR_SYNTAX);
	c->i = (size_t)(end - c->p) + 1;
	return true;
}

/* Domain or address literal, at most 255 octets. */
static bool
parse_domain(struct cur *c)
{
	return parse_side(c, '[', parse_literal, parse_label, DOMAIN_MAX);
}

/* Mailbox: Local-part "@" ( Domain / address-literal ). */
static bool
parse_mailbox(struct cur *c)
{
	if (!parse_side(c, '"', parse_quoted, parse_atom, LOCAL_MAX))	/* Local-part */
		return false;
	if (!cur_accept(c, '@'))
		return cur_fail(c, SMTP_ADDR_SYNTAX);
	return parse_domain(c);
}

/* A-d-l: At-domain *( "," At-domain ) ":" -- parsed and dropped. */
static bool
parse_source_route(struct cur *c)
{
	do {
		if (!cur_accept(c, '@') || !parse_domain(c))
			return cur_fail(c, SMTP_ADDR_SYNTAX);
	} while (cur_accept(c, ','));
	return cur_accept(c, ':') ? true : cur_fail(c, SMTP_ADDR_SYNTAX);
}

/* Copy the mailbox text p[start..end) to out, enforcing the total cap. */
static enum smtp_addr_err
emit(const struct cur *c, size_t start, size_t end, char *out, size_t outsz)
{
	size_t n = end - start;

	if (n > SMTP_ADDR_MAX)
		return SMTP_ADDR_TOO_LONG;
	if (n + 1 > outsz)
		return SMTP_ADDR_TOO_LONG;
	memcpy(out, c->p + start, n);
	out[n] = '\0';
	return SMTP_ADDR_OK;
}

/* "<Postmaster>" (case-insensitive) when allowed. */
static bool
is_postmaster(const struct cur *c)
{
	static const char pm[] = "postmaster>";
	size_t n = sizeof(pm) - 1;

	return (c->flags & SMTP_ADDR_POSTMASTER_OK) && c->len - c->i >= n &&
	    strncasecmp((const char *)c->p + c->i, pm, n) == 0;
}

/* The bracketed form: "<>", "<Postmaster>", "<[route:]mailbox>". */
static enum smtp_addr_err
parse_bracketed(struct cur *c, char *out, size_t outsz)
{
	size_t start;

	c->i++;		/* '<' */
	if (cur_accept(c, '>')) {
		if (!(c->flags & SMTP_ADDR_ALLOW_NULL))
			return SMTP_ADDR_NULL;
		if (outsz > 0)
			out[0] = '\0';
		return outsz > 0 ? SMTP_ADDR_OK : SMTP_ADDR_TOO_LONG;
	}
	if (is_postmaster(c)) {
		c->i += sizeof("postmaster>") - 1;
		if (outsz < sizeof("postmaster"))
			return SMTP_ADDR_TOO_LONG;
		memcpy(out, "postmaster", sizeof("postmaster"));
		return SMTP_ADDR_OK;
	}
	if (cur_peek(c) == '@' && !parse_source_route(c))
		return c->err;
	start = c->i;
	if (!parse_mailbox(c))
		return c->err;
	if (!cur_accept(c, '>'))
		return SMTP_ADDR_SYNTAX;
	return emit(c, start, c->i - 1, out, outsz);
}

/* Parse a path at the start of s[0..len) (see smtp_addr.h). */
enum smtp_addr_err
smtp_addr_parse_path(const char *s, size_t len, unsigned flags,
    char *out, size_t outsz, size_t *consumed)
{
	struct cur c = { (const unsigned char *)s, len, 0, flags, SMTP_ADDR_OK };
	enum smtp_addr_err e;

	*consumed = 0;
	if (len == 0)
		return SMTP_ADDR_SYNTAX;
	if (s[0] == '<')
		e = parse_bracketed(&c, out, outsz);
	else if (!(flags & SMTP_ADDR_NO_BRACKETS_OK))
		e = SMTP_ADDR_SYNTAX;
	else
		e = parse_mailbox(&c) ? emit(&c, 0, c.i, out, outsz) : c.err;
	if (e == SMTP_ADDR_OK)
		*consumed = c.i;
	return e;
}

/* Human text for an error. */
const char *
smtp_addr_strerror(enum smtp_addr_err e)
{
	switch (e) {
	case SMTP_ADDR_OK:
		return "ok";
	case SMTP_ADDR_SYNTAX:
		return "syntax error in address";
	case SMTP_ADDR_TOO_LONG:
		return "address too long";
	case SMTP_ADDR_NEED_UTF8:
		return "non-ASCII address without SMTPUTF8";
	case SMTP_ADDR_NULL:
		return "null address not allowed here";
	}
	return "unknown address error";
}

/* Lower-case the domain part (ASCII only) in place. */
void
smtp_addr_normalize_domain(char *addr)
{
	char *p = strrchr(addr, '@');

	if (p == NULL)
		return;
	for (p++; *p != '\0'; p++)
		if (*p >= 'A' && *p <= 'Z')
			*p = (char)(*p - 'A' + 'a');
}

/* Pointer to the domain part after the last '@' (or NULL). */
const char *
smtp_addr_domain(const char *addr)
{
	const char *p = strrchr(addr, '@');

	return p != NULL ? p + 1 : NULL;
}

/* true when p[0..n) is a dot-string: atoms of atext (or non-ASCII bytes,
 * already validated by the parser) joined by single dots. */
static bool
is_dot_string(const unsigned char *p, size_t n)
{
	bool atom = false;

	if (n == 0)
		return false;
	for (size_t i = 0; i < n; i++) {
		if (p[i] == '.') {
			if (!atom)
				return false;
			atom = false;
		} else if (is_atext(p[i]) || p[i] >= 0x80)
			atom = true;
		else
			return false;
	}
	return atom;
}

/* The canonical form of a parsed address (see smtp_addr.h). */
bool
smtp_addr_unquote(const char *addr, char *out, size_t outsz)
{
	const char *at = strrchr(addr, '@');
	unsigned char local[LOCAL_MAX + 1];
	size_t n = 0, i;

	if (outsz == 0)
		return false;
	if (addr[0] == '"' && at != NULL && at > addr + 1 && at[-1] == '"') {
		for (i = 1; addr + i < at - 1 && n < LOCAL_MAX; i++) {
			if (addr[i] == '\\' && addr + i + 1 < at - 1)
				i++;
			local[n++] = (unsigned char)addr[i];
		}
		if (addr + i == at - 1 && is_dot_string(local, n) &&
		    n + strlen(at) < outsz) {
			memcpy(out, local, n);
			memcpy(out + n, at, strlen(at) + 1);
			return true;
		}
	}
	n = strlen(addr);
	if (n >= outsz)
		n = outsz - 1;
	memcpy(out, addr, n);
	out[n] = '\0';
	return false;
}

/* The length of the base of an extended local part (see smtp_addr.h). */
size_t
smtp_addr_ext_base(const char *local, size_t len, const char *delims)
{
	if (delims == NULL || delims[0] == '\0' || len < 2 || local[0] == '"')
		return len;
	for (size_t i = 1; i < len; i++)
		if (local[i] != '\0' && strchr(delims, local[i]) != NULL)
			return i;
	return len;
}
