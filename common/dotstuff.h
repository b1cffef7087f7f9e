/*
 * dotstuff: the SMTP DATA codec, both directions, streaming and pure.
 *
 * Decoder (server): removes dot-stuffing, finds the one end-of-data
 * marker <CRLF>.<CRLF> (the start of the data counts as following a CRLF),
 * and flags bare CR, bare LF and NUL bytes (SMTP smuggling: those never
 * end the data and make the message invalid, but decoding goes on to the
 * real end so the session stays in sync).  Decoded output keeps CRLF line
 * endings; the final CRLF before the dot belongs to the message.
 *
 * Encoder (client): normalises every line ending (LF, CR, CRLF) to CRLF,
 * doubles a leading dot, and finishes with CRLF (if needed) and ".\r\n".
 *
 * Output goes to an emit callback in spans, usually pointing into the
 * input, so the caller copies at most once.
 */
#ifndef SMTPGATE_DOTSTUFF_H
#define SMTPGATE_DOTSTUFF_H

#include <stdbool.h>
#include <stddef.h>

typedef void (*dot_emit_fn)(void *arg, const char *p, size_t n);

enum {
	DOT_BARE_LF = 0x01,
	DOT_BARE_CR = 0x02,
	DOT_NUL     = 0x04,
};

struct dot_decoder {
	int state;
	unsigned flags;		/* DOT_* seen so far */
	size_t decoded;		/* bytes emitted so far */
};

void dot_decoder_init(struct dot_decoder *d);

/*
 * Feed in[0..len).  Returns bytes consumed: all of them, or fewer when the
 * end marker was reached (then *done is true and the rest belongs to the
 * next command).
 */
size_t dot_decode(struct dot_decoder *d, const char *in, size_t len,
    dot_emit_fn emit, void *arg, bool *done);

struct dot_encoder {
	int state;
};

void dot_encoder_init(struct dot_encoder *e);
void dot_encode(struct dot_encoder *e, const char *in, size_t len,
    dot_emit_fn emit, void *arg);
/* Terminate: CRLF if the body did not end with one, then ".\r\n". */
void dot_encode_finish(struct dot_encoder *e, dot_emit_fn emit, void *arg);
/*
 * true when encoding the whole body p[0..n) from a fresh encoder would emit
 * it unchanged (and finish only ".\r\n"): every line ends in CRLF, the
 * last one too, no other CR, no line starts with '.'.  A memchr scan, much
 * faster than the encoder's byte loop, so such a body can be sent as is.
 */
bool dot_encode_is_identity(const char *p, size_t n);

#endif
