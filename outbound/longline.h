/*
 * longline: keep a message within SMTP's line limit (RFC 5321 4.5.3.1.6:
 * at most 998 characters before each CRLF) by re-encoding its body, pure.
 *
 * Done once, when a dropped file is queued, so every delivery attempt
 * sends the same bytes.  A body line over 998 characters in
 *   - a single-part message sent as is (no Content-Transfer-Encoding, or
 *     7bit, 8bit, binary): text (or no Content-Type) becomes
 *     quoted-printable, any other type base64;
 *   - a quoted-printable body (a broken encoder): decoded and encoded again;
 *   - a base64 body: the same characters in lines of 76;
 * the Content-Transfer-Encoding field is replaced, MIME-Version: 1.0 added
 * when missing, and a Content-Type (text/plain, charset utf-8 or
 * unknown-8bit) added when there was none and the body has 8-bit bytes.
 * The decoded content is unchanged.  A multipart or message (message/rfc822...) body, or
 * an unknown encoding, is refused (the caller bounces it to the sender).
 * Header lines are not touched.
 *
 * Must not know: files, the queue, SMTP sessions.
 */
#ifndef SMTPGATE_LONGLINE_H
#define SMTPGATE_LONGLINE_H

#include <stdbool.h>
#include <stddef.h>

#include "strbuf.h"

#define LONGLINE_MAX	998	/* characters before CRLF (RFC 5321 4.5.3.1.6) */
#define LONGLINE_QP_MAX	76	/* a quoted-printable line (RFC 2045 6.7) */

enum longline_verdict {
	LONGLINE_OK,		/* no body line over LONGLINE_MAX: unchanged */
	LONGLINE_FIXED,		/* re-encoded: the new message is in *out */
	LONGLINE_REFUSE,	/* cannot be re-encoded here: r->why */
};

/* What longline_fix() found and did. */
struct longline_result {
	enum longline_verdict verdict;
	size_t longest;		/* the longest body line, bytes without CRLF */
	size_t line;		/* its number in the body, from 1 */
	const char *encoding;	/* FIXED: "quoted-printable" or "base64" */
	char why[240];		/* REFUSE: a sentence for the bounce and the log */
};

/*
 * Check msg[0..len) (a stored message: CRLF line ends, header, blank line,
 * body) and re-encode its body when a line is too long (see above).
 * Returns r->verdict; with LONGLINE_FIXED *out (malloc'd) and *outlen hold
 * the new message, else *out is NULL.
 */
enum longline_verdict longline_fix(const char *msg, size_t len, char **out,
    size_t *outlen, struct longline_result *r);

/*
 * A quoted-printable encoder fed in pieces of any size (the same output
 * whatever the pieces): CRLF in the input is a line break, lines are cut
 * with soft breaks before LONGLINE_QP_MAX, white space at a line end and
 * every byte outside 33..126 (and "=") is encoded.
 */
struct qp_enc {
	size_t col;		/* characters on the current output line */
	int ws;			/* a held space or tab (-1: none) */
	bool cr;		/* a held CR */
};

void qp_enc_init(struct qp_enc *q);
void qp_enc_feed(struct qp_enc *q, const char *p, size_t n, struct strbuf *out);
/* Flush what is held (the end of the input counts as a line end). */
void qp_enc_finish(struct qp_enc *q, struct strbuf *out);

/* Decode quoted-printable leniently: soft breaks and =XX; trailing white
 * space of a line dropped; a malformed "=" kept as it is. */
void qp_decode(const char *p, size_t n, struct strbuf *out);

#endif
