/*
 * fuzz_dotstuff: the DATA codec.  Decoding must never read past its input;
 * for any body, decode(encode(body)) must give back the body with its line
 * ends normalised to CRLF (the round-trip property).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dotstuff.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct fuzz_buf {
	char *p;
	size_t len, cap;
};

/* Append emitted bytes. */
static void
fuzz_append(void *arg, const char *p, size_t n)
{
	struct fuzz_buf *b = arg;
	if (b->len + n > b->cap) {
		b->cap = (b->len + n) * 2 + 64;
		b->p = realloc(b->p, b->cap);
		if (b->p == NULL)
			abort();
	}
	memcpy(b->p + b->len, p, n);
	b->len += n;
}

/* The body with every LF, CR and CRLF turned into CRLF, plus a final CRLF. */
static void
fuzz_normalise(const uint8_t *d, size_t n, struct fuzz_buf *out)
{
	for (size_t i = 0; i < n; i++) {
		if (d[i] == '\r') {
			fuzz_append(out, "\r\n", 2);
			if (i + 1 < n && d[i + 1] == '\n')
				i++;
		} else if (d[i] == '\n') {
			fuzz_append(out, "\r\n", 2);
		} else {
			fuzz_append(out, (const char *)d + i, 1);
		}
	}
	if (out->len > 0 && !(out->len >= 2 && memcmp(out->p + out->len - 2, "\r\n", 2) == 0))
		fuzz_append(out, "\r\n", 2);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_buf raw = { 0 }, enc = { 0 }, dec = { 0 }, want = { 0 };
	struct dot_decoder d;
	bool done = false;

	/* 1. raw input straight into the decoder */
	dot_decoder_init(&d);
	size_t used = dot_decode(&d, (const char *)data, size, fuzz_append, &raw, &done);
	if (used > size || (!done && used != size))
		abort();

	/* 2. round trip (an empty body is left out: whether it encodes as
	 * ".\r\n" or "\r\n.\r\n" is the encoder's choice) */
	if (size == 0)
		goto out;
	struct dot_encoder e;
	dot_encoder_init(&e);
	dot_encode(&e, (const char *)data, size, fuzz_append, &enc);
	dot_encode_finish(&e, fuzz_append, &enc);
	dot_decoder_init(&d);
	done = false;
	used = dot_decode(&d, enc.p, enc.len, fuzz_append, &dec, &done);
	if (!done || used != enc.len || (d.flags & (DOT_BARE_LF | DOT_BARE_CR)))
		abort();
	fuzz_normalise(data, size, &want);
	if (dec.len != want.len || (want.len && memcmp(dec.p, want.p, want.len) != 0))
		abort();
out:
	free(raw.p), free(enc.p), free(dec.p), free(want.p);
	return 0;
}
