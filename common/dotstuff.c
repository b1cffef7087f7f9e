/*
 * dotstuff: the SMTP DATA codec (RFC 5321 4.5.2), both directions.
 *
 * The decoder is the one place that decides where DATA ends: only
 * <CRLF>.<CRLF>, where the start of the data counts as following a CRLF.
 * Bare LF, bare CR and NUL are flagged (SMTP smuggling) and passed through,
 * and never end the data.  The encoder turns any line ending into CRLF and
 * doubles leading dots.  Both are pure byte transformers: they know nothing
 * of sockets, spools or SMTP sessions, and emit spans into the input
 * wherever they can.
 */
#include <string.h>

#include "dotstuff.h"

enum dec_state {
	DEC_BOL,	/* just after CRLF (or at the very start) */
	DEC_BOL_DOT,	/* "." at the start of a line, held back */
	DEC_BOL_DOT_CR,	/* ".\r" at the start of a line, held back */
	DEC_MID,	/* inside a line (or after a bare LF) */
	DEC_CR,		/* after a CR that was emitted; LF makes it a CRLF */
	DEC_DONE,	/* the end marker was consumed */
};

enum enc_state {
	ENC_BOL,	/* at the start of a line */
	ENC_MID,	/* inside a line */
	ENC_AFTER_CR,	/* a CR became CRLF; a following LF is swallowed */
};

/* A span being collected: in[start..i) is still to be emitted. */
struct span {
	const char *in;
	size_t start;
	dot_emit_fn emit;
	void *arg;
	size_t *count;
};

/* Emit the pending part of the input up to (not including) `end`. */
static void
span_flush(struct span *sp, size_t end)
{
	if (end > sp->start) {
		sp->emit(sp->arg, sp->in + sp->start, end - sp->start);
		if (sp->count != NULL)
			*sp->count += end - sp->start;
	}
	sp->start = end;
}

/* Emit bytes that are not (or no longer) in the input. */
static void
span_extra(struct span *sp, const char *p, size_t n)
{
	sp->emit(sp->arg, p, n);
	if (sp->count != NULL)
		*sp->count += n;
}

/* Start a decoder at the beginning of DATA. */
void
dot_decoder_init(struct dot_decoder *d)
{
	d->state = DEC_BOL;
	d->flags = 0;
	d->decoded = 0;
}

/* One byte inside a line (or after a bare CR/LF): flag and pass through. */
static int
dec_mid(struct dot_decoder *d, char c)
{
	switch (c) {
	case '\r':
		return DEC_CR;
	case '\n':
		d->flags |= DOT_BARE_LF;
		return DEC_MID;
	case '\0':
		d->flags |= DOT_NUL;
		return DEC_MID;
	default:
		return DEC_MID;
	}
}

/* One byte after an emitted CR: LF completes a CRLF, anything else makes
 * the CR bare. */
static int
dec_after_cr(struct dot_decoder *d, char c)
{
	if (c == '\n')
		return DEC_BOL;
	d->flags |= DOT_BARE_CR;
	return dec_mid(d, c);
}

/* Decode one byte at index i; returns true when the end marker is done. */
static bool
dec_byte(struct dot_decoder *d, struct span *sp, size_t i)
{
	char c = sp->in[i];

	switch (d->state) {
	case DEC_BOL:
		if (c == '.') {
			span_flush(sp, i);
			sp->start = i + 1;	/* hold the dot back */
			d->state = DEC_BOL_DOT;
		} else
			d->state = dec_mid(d, c);
		return false;
	case DEC_BOL_DOT:
		if (c == '\r') {
			sp->start = i + 1;	/* hold ".\r" back */
			d->state = DEC_BOL_DOT_CR;
		} else
			d->state = dec_mid(d, c);	/* stuffing dot dropped */
		return false;
	case DEC_BOL_DOT_CR:
		if (c == '\n') {
			sp->start = i + 1;
			d->state = DEC_DONE;
			return true;
		}
		span_extra(sp, "\r", 1);	/* ".\r" then not LF: bare CR */
		d->state = dec_after_cr(d, c);
		return false;
	case DEC_CR:
		d->state = dec_after_cr(d, c);
		return false;
	default:
		d->state = dec_mid(d, c);
		return false;
	}
}

/*
 * How many leading bytes of p[0..n) are plain (not CR, LF or NUL): inside
 * a line they need no decision, so they are skipped with memchr rather
 * than one state-machine step each (most of a body is such bytes).
 */
static size_t
dec_plain_run(const char *p, size_t n)
{
	const char *hit = memchr(p, '\r', n);
	size_t m = hit ? (size_t)(hit - p) : n;

	if ((hit = memchr(p, '\n', m)) != NULL)
		m = (size_t)(hit - p);
	if ((hit = memchr(p, '\0', m)) != NULL)
		m = (size_t)(hit - p);
	return m;
}

/* Decode in[0..len) until the end marker (see dotstuff.h). */
size_t
dot_decode(struct dot_decoder *d, const char *in, size_t len,
    dot_emit_fn emit, void *arg, bool *done)
{
	struct span sp = { in, 0, emit, arg, &d->decoded };
	size_t i;

	*done = d->state == DEC_DONE;
	if (*done)
		return 0;
	for (i = 0; i < len; i++) {
		if (d->state == DEC_MID && (i += dec_plain_run(in + i, len - i)) == len)
			break;
		if (dec_byte(d, &sp, i)) {
			*done = true;
			return i + 1;
		}
	}
	if (d->state != DEC_BOL_DOT && d->state != DEC_BOL_DOT_CR)
		span_flush(&sp, len);
	return len;
}

/* Start an encoder at the beginning of the body. */
void
dot_encoder_init(struct dot_encoder *e)
{
	e->state = ENC_BOL;
}

/* Encode a CR at index *ip: keep an input CRLF in the span, otherwise
 * replace the CR by CRLF. */
static int
enc_cr(struct span *sp, size_t *ip, size_t len)
{
	size_t i = *ip;

	if (i + 1 < len && sp->in[i + 1] == '\n') {
		*ip = i + 1;
		return ENC_BOL;
	}
	span_flush(sp, i);
	span_extra(sp, "\r\n", 2);
	sp->start = i + 1;
	return i + 1 < len ? ENC_BOL : ENC_AFTER_CR;
}

/* Encode one byte at index *ip (which may advance over a CRLF). */
static int
enc_byte(struct dot_encoder *e, struct span *sp, size_t *ip, size_t len)
{
	size_t i = *ip;
	char c = sp->in[i];

	if (e->state == ENC_AFTER_CR && c == '\n') {
		span_flush(sp, i);
		sp->start = i + 1;	/* already emitted as CRLF */
		return ENC_BOL;
	}
	if (c == '\r')
		return enc_cr(sp, ip, len);
	if (c == '\n') {
		span_flush(sp, i);
		span_extra(sp, "\r\n", 2);
		sp->start = i + 1;
		return ENC_BOL;
	}
	if (c == '.' && e->state != ENC_MID) {
		span_flush(sp, i);
		span_extra(sp, ".", 1);		/* the dot itself stays in the span */
	}
	return ENC_MID;
}

/* Encode in[0..len) (see dotstuff.h). */
void
dot_encode(struct dot_encoder *e, const char *in, size_t len,
    dot_emit_fn emit, void *arg)
{
	struct span sp = { in, 0, emit, arg, NULL };
	size_t i;

	for (i = 0; i < len; i++)
		e->state = enc_byte(e, &sp, &i, len);
	span_flush(&sp, len);
}

/* Finish the body: CRLF if the last line is open, then ".\r\n". */
void
dot_encode_finish(struct dot_encoder *e, dot_emit_fn emit, void *arg)
{
	if (e->state == ENC_MID)
		emit(arg, "\r\n.\r\n", 5);
	else
		emit(arg, ".\r\n", 3);
	e->state = ENC_BOL;
}

/* Would the encoder leave the whole body p[0..n) unchanged? (see dotstuff.h) */
bool
dot_encode_is_identity(const char *p, size_t n)
{
	const char *line = p, *end = p + n, *nl;

	while (line < end) {
		if (*line == '.')
			return false;
		nl = memchr(line, '\n', (size_t)(end - line));
		if (nl == NULL || nl == line || nl[-1] != '\r' ||
		    memchr(line, '\r', (size_t)(nl - 1 - line)) != NULL)
			return false;
		line = nl + 1;
	}
	return true;
}
