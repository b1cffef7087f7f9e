/*
 * base64: RFC 4648 section 4 encoding (see base64.h).
 *
 * Must not know: what is encoded (credentials are wiped by the caller).
 */
#include "base64.h"

static const char base64_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* Encode three bytes (only `have` of them real) as four characters. */
static void
base64_quantum(const unsigned char *in, size_t have, char *out)
{
	unsigned long v = (unsigned long)in[0] << 16;

	if (have > 1)
		v |= (unsigned long)in[1] << 8;
	if (have > 2)
		v |= in[2];
	out[0] = base64_alphabet[(v >> 18) & 63];
	out[1] = base64_alphabet[(v >> 12) & 63];
	out[2] = have > 1 ? base64_alphabet[(v >> 6) & 63] : '=';
	out[3] = have > 2 ? base64_alphabet[v & 63] : '=';
}

/* Encode in[0..n) into out (see base64.h). */
size_t
base64_encode(const unsigned char *in, size_t n, char *out)
{
	size_t o = 0;

	for (size_t i = 0; i < n; i += 3, o += 4)
		base64_quantum(in + i, n - i < 3 ? n - i : 3, out + o);
	out[o] = '\0';
	return o;
}
