/*
 * longline: re-encode a message body whose lines exceed SMTP's limit
 * (see longline.h for the rules), pure: bytes in, bytes out.
 *
 * Must not know: files, the queue, SMTP sessions, the clock.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "longline.h"
#include "base64.h"
#include "header.h"
#include "smtp_addr.h"
#include "strbuf.h"
#include "util.h"

#define B64_LINE	76

/* Reset an encoder. */
void
qp_enc_init(struct qp_enc *q)
{
	q->col = 0;
	q->ws = -1;
	q->cr = false;
}

/* true for a byte that stands for itself anywhere on a line. */
static bool
qp_literal(unsigned char c)
{
	return c >= 33 && c <= 126 && c != '=';
}

/* Emit one output token of w characters, with a soft break before it when
 * the line would reach LONGLINE_QP_MAX with its "=". */
static void
qp_token(struct qp_enc *q, const char *tok, size_t w, struct strbuf *out)
{
	if (q->col + w > LONGLINE_QP_MAX - 1) {
		strbuf_add(out, "=\r\n", 3);
		q->col = 0;
	}
	strbuf_add(out, tok, w);
	q->col += w;
}

/* Emit byte c encoded as =XX. */
static void
qp_hex(struct qp_enc *q, unsigned char c, struct strbuf *out)
{
	char tok[4];

	snprintf(tok, sizeof(tok), "=%02X", c);
	qp_token(q, tok, 3, out);
}

/* Emit the held white space: encoded at a line end, else as it is. */
static void
qp_flush_ws(struct qp_enc *q, bool at_eol, struct strbuf *out)
{
	char c;

	if (q->ws < 0)
		return;
	c = (char)q->ws;
	q->ws = -1;
	if (at_eol)
		qp_hex(q, (unsigned char)c, out);
	else
		qp_token(q, &c, 1, out);
}

/* One input byte. */
static void
qp_byte(struct qp_enc *q, unsigned char c, struct strbuf *out)
{
	if (q->cr) {
		q->cr = false;
		if (c == '\n') {
			qp_flush_ws(q, true, out);
			strbuf_add(out, "\r\n", 2);
			q->col = 0;
			return;
		}
		qp_flush_ws(q, false, out);
		qp_hex(q, '\r', out);
	}
	if (c == '\r') {
		q->cr = true;
		return;
	}
	qp_flush_ws(q, false, out);
	if (c == ' ' || c == '\t')
		q->ws = c;
	else if (qp_literal(c))
		qp_token(q, (const char *)&c, 1, out);
	else
		qp_hex(q, c, out);
}

/* Feed n bytes: runs of literal bytes that fit the line in one append
 * (the same output as one byte at a time, 10x faster), the rest byte by
 * byte. */
void
qp_enc_feed(struct qp_enc *q, const char *p, size_t n, struct strbuf *out)
{
	size_t i = 0, k, room;

	while (i < n) {
		room = LONGLINE_QP_MAX - 1 - q->col;
		for (k = 0; !q->cr && q->ws < 0 && i + k < n && k < room &&
		    qp_literal((unsigned char)p[i + k]); k++)
			;
		if (k > 0) {
			strbuf_add(out, p + i, k);
			q->col += k;
			i += k;
		} else
			qp_byte(q, (unsigned char)p[i++], out);
	}
}

/* Flush the held CR and white space. */
void
qp_enc_finish(struct qp_enc *q, struct strbuf *out)
{
	if (q->cr) {
		q->cr = false;
		qp_flush_ws(q, false, out);
		qp_hex(q, '\r', out);
	}
	qp_flush_ws(q, true, out);
}

/* Value of a hex digit, or -1. */
static int
hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* Decode one line (without its CRLF); true when it ended in a soft break. */
static bool
qp_decode_line(const char *p, size_t n, struct strbuf *out)
{
	size_t i;
	char c;

	while (n > 0 && (p[n - 1] == ' ' || p[n - 1] == '\t'))
		n--;
	for (i = 0; i < n; i++) {
		if (p[i] != '=') {
			const char *eq = memchr(p + i, '=', n - i);
			size_t k = eq != NULL ? (size_t)(eq - (p + i)) : n - i;

			strbuf_add(out, p + i, k);	/* the run up to the next '=' */
			i += k - 1;
			continue;
		}
		if (i + 1 == n)
			return true;
		if (i + 2 < n && hexval(p[i + 1]) >= 0 && hexval(p[i + 2]) >= 0) {
			c = (char)(hexval(p[i + 1]) * 16 + hexval(p[i + 2]));
			strbuf_add(out, &c, 1);
			i += 2;
		} else
			strbuf_add(out, "=", 1);
	}
	return false;
}

/* Decode quoted-printable (see longline.h). */
void
qp_decode(const char *p, size_t n, struct strbuf *out)
{
	const char *end = p + n, *nl;
	size_t ln;

	while (p < end) {
		nl = memchr(p, '\n', (size_t)(end - p));
		ln = nl != NULL ? (size_t)(nl - p) : (size_t)(end - p);
		if (nl != NULL && ln > 0 && p[ln - 1] == '\r')
			ln--;
		if (!qp_decode_line(p, ln, out) && nl != NULL)
			strbuf_add(out, "\r\n", 2);
		p = nl != NULL ? nl + 1 : end;
	}
}

/* base64 of n bytes in lines of B64_LINE, each ended by CRLF. */
static void
b64_encode(const unsigned char *p, size_t n, struct strbuf *out)
{
	char line[B64_LINE + 1];
	size_t i, k;

	for (i = 0; i < n; i += k) {
		k = n - i < B64_LINE / 4 * 3 ? n - i : B64_LINE / 4 * 3;
		strbuf_add(out, line, base64_encode(p + i, k, line));
		strbuf_add(out, "\r\n", 2);
	}
}

/* true for the white space dropped from base64 text. */
static bool
is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* base64 text again in lines of B64_LINE (white space dropped). */
static void
b64_rewrap(const char *p, size_t n, struct strbuf *out)
{
	size_t i = 0, k, col = 0;

	while (i < n) {
		if (is_space(p[i])) {
			i++;
			continue;
		}
		/* the run of non-space bytes that fits the line, in one append */
		for (k = 1; i + k < n && col + k < B64_LINE && !is_space(p[i + k]); k++)
			;
		strbuf_add(out, p + i, k);
		i += k;
		if ((col += k) == B64_LINE) {
			strbuf_add(out, "\r\n", 2);
			col = 0;
		}
	}
	if (col > 0)
		strbuf_add(out, "\r\n", 2);
}

/* The MIME fields of a header section that decide the encoding. */
struct mime_fields {
	char type[64];		/* "text/plain", lower case; "" when absent */
	char cte[32];		/* "7bit", lower case; "" when absent */
	bool have_version;
};

/* The first token of a field's value (after "Name:"), lower-cased:
 * comments, white space and line folds skipped, up to ";" or white space. */
static void
field_token(const char *f, size_t n, char *out, size_t sz)
{
	const char *p = memchr(f, ':', n), *end = f + n;
	size_t o = 0;
	int depth = 0;

	for (p = p + 1; p < end; p++) {
		if (*p == '(')
			depth++;
		else if (*p == ')' && depth > 0)
			depth--;
		else if (depth == 0 && !strchr(" \t\r\n", *p))
			break;
	}
	while (p < end && !strchr(" \t\r\n;(", *p) && o + 1 < sz)
		out[o++] = (char)(*p >= 'A' && *p <= 'Z' ? *p + 32 : *p), p++;
	out[o] = '\0';
}

/* Read the MIME fields of the header section h[0..n). */
static void
mime_read(const char *h, size_t n, struct mime_fields *m)
{
	size_t off = 0, fl;

	memset(m, 0, sizeof(*m));
	while (off < n) {
		fl = header_field_len(h + off, n - off);
		if (header_is(h + off, fl, "Content-Type") != 0)
			field_token(h + off, fl, m->type, sizeof(m->type));
		else if (header_is(h + off, fl, "Content-Transfer-Encoding") != 0)
			field_token(h + off, fl, m->cte, sizeof(m->cte));
		else if (header_is(h + off, fl, "MIME-Version") != 0)
			m->have_version = true;
		off += fl;
	}
}

/* The longest line of the body b[0..n) (CRLF ends) and its number. */
static void
longest_line(const char *b, size_t n, struct longline_result *r)
{
	const char *p = b, *end = b + n, *nl;
	size_t ln, no = 0;

	while (p < end) {
		nl = memchr(p, '\n', (size_t)(end - p));
		ln = nl != NULL ? (size_t)(nl - p) : (size_t)(end - p);
		if (nl != NULL && ln > 0 && p[ln - 1] == '\r')
			ln--;
		no++;
		if (ln > r->longest) {
			r->longest = ln;
			r->line = no;
		}
		p = nl != NULL ? nl + 1 : end;
	}
}

/* true when b[0..n) has a byte over 127. */
static bool
has_8bit(const char *b, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if ((unsigned char)b[i] >= 0x80)
			return true;
	return false;
}

/* true when b[0..n) is well-formed UTF-8 (no overlong forms, no surrogates). */
static bool
is_utf8(const unsigned char *b, size_t n)
{
	size_t i = 0, k;

	while (i < n) {
		if (b[i] < 0x80)
			i++;
		else if ((k = smtp_addr_utf8_seq(b + i, n - i)) != 0)
			i += k;
		else
			return false;
	}
	return true;
}

/* The charset of a Content-Type to add for body b[0..n) of fields m, or
 * NULL when none is needed (there is one, or the body is 7-bit). */
static const char *
charset_to_add(const struct mime_fields *m, const char *b, size_t n)
{
	if (m->type[0] != '\0' || !has_8bit(b, n))
		return NULL;
	return is_utf8((const unsigned char *)b, n) ? "utf-8" : "unknown-8bit";
}

/* The header section without its Content-Transfer-Encoding fields, then
 * the fields the new encoding needs (a text/plain Content-Type with
 * charset when not NULL), then the blank line. */
static void
new_header(const char *h, size_t n, const struct mime_fields *m, const char *enc,
    const char *charset, struct strbuf *out)
{
	size_t off = 0, fl;

	while (off < n) {
		fl = header_field_len(h + off, n - off);
		if (header_is(h + off, fl, "Content-Transfer-Encoding") == 0)
			strbuf_add(out, h + off, fl);
		off += fl;
	}
	if (!m->have_version)
		strbuf_str(out, "MIME-Version: 1.0\r\n");
	if (charset != NULL)
		strbuf_printf(out, "Content-Type: text/plain; charset=%s\r\n", charset);
	strbuf_printf(out, "Content-Transfer-Encoding: %s\r\n\r\n", enc);
}

/* Decide how to encode a body of these MIME fields: "quoted-printable",
 * "base64", or NULL (refused, r->why set). */
static const char *
choose_encoding(const struct mime_fields *m, struct longline_result *r)
{
	bool identity = m->cte[0] == '\0' || strcmp(m->cte, "7bit") == 0 ||
	    strcmp(m->cte, "8bit") == 0 || strcmp(m->cte, "binary") == 0;

	if (strncmp(m->type, "multipart/", 10) == 0 || strncmp(m->type, "message/", 8) == 0) {
		snprintf(r->why, sizeof(r->why), "line %zu of the body has %zu characters "
		    "(SMTP allows %d) in a %s message, which is not re-encoded", r->line,
		    r->longest, LONGLINE_MAX, m->type);
		return NULL;
	}
	if (strcmp(m->cte, "quoted-printable") == 0 || strcmp(m->cte, "base64") == 0)
		return strcmp(m->cte, "base64") == 0 ? "base64" : "quoted-printable";
	if (!identity) {
		snprintf(r->why, sizeof(r->why), "line %zu of the body has %zu characters "
		    "(SMTP allows %d) in the unknown encoding \"%s\"", r->line, r->longest,
		    LONGLINE_MAX, m->cte);
		return NULL;
	}
	return m->type[0] == '\0' || strncmp(m->type, "text/", 5) == 0 ?
	    "quoted-printable" : "base64";
}

/* The body b[0..n) in encoding enc (from the fields' own encoding). */
static void
encode_body(const struct mime_fields *m, const char *enc, const char *b, size_t n,
    struct strbuf *out)
{
	struct strbuf dec = { NULL, 0, 0 };
	struct qp_enc q;

	if (strcmp(m->cte, "base64") == 0) {
		b64_rewrap(b, n, out);
		return;
	}
	if (strcmp(m->cte, "quoted-printable") == 0) {
		qp_decode(b, n, &dec);
		b = dec.p != NULL ? dec.p : "";
		n = dec.len;
	}
	if (strcmp(enc, "base64") == 0)
		b64_encode((const unsigned char *)b, n, out);
	else {
		qp_enc_init(&q);
		qp_enc_feed(&q, b, n, out);
		qp_enc_finish(&q, out);
		if (out->len < 2 || memcmp(out->p + out->len - 2, "\r\n", 2) != 0)
			strbuf_add(out, "\r\n", 2);
	}
	free(dec.p);
}

/* Check a stored message and re-encode its body if needed (longline.h). */
enum longline_verdict
longline_fix(const char *msg, size_t len, char **out, size_t *outlen,
    struct longline_result *r)
{
	struct strbuf b = { NULL, 0, 0 };
	struct mime_fields m;
	const char *sep, *body, *enc;
	size_t hlen, blen;

	memset(r, 0, sizeof(*r));
	*out = NULL;
	*outlen = 0;
	if (len >= 2 && memcmp(msg, "\r\n", 2) == 0) {
		hlen = 0;	/* no header fields: the body starts at once */
		body = msg + 2;
	} else if ((sep = memmem(msg, len, "\r\n\r\n", 4)) != NULL) {
		hlen = (size_t)(sep - msg) + 2;
		body = sep + 4;
	} else
		return r->verdict = LONGLINE_OK;	/* no body */
	blen = len - (size_t)(body - msg);
	longest_line(body, blen, r);
	if (r->longest <= LONGLINE_MAX)
		return r->verdict = LONGLINE_OK;
	mime_read(msg, hlen, &m);
	if ((enc = choose_encoding(&m, r)) == NULL)
		return r->verdict = LONGLINE_REFUSE;
	new_header(msg, hlen, &m, enc, charset_to_add(&m, body, blen), &b);
	encode_body(&m, enc, body, blen, &b);
	r->encoding = enc;
	*out = b.p;
	*outlen = b.len;
	return r->verdict = LONGLINE_FIXED;
}
