/*
 * submit_bs: the SMTP dialogue of `smtpgate-sendmail -bs`, pure.  Bytes
 * of the client go in (submit_bs_feed), reply lines and events come out:
 * a complete message (its envelope and data) for the caller to drop into
 * maildrop/, or the end of the session.  The caller answers each message
 * with one reply line (submit_bs_done), so "250" means the file is there.
 *
 * The dialogue follows what Postfix's `sendmail -bs` (smtpd in stand-alone
 * mode) answers: no HELO needed before MAIL, PIPELINING, SIZE, VRFY (252),
 * ENHANCEDSTATUSCODES, 8BITMIME; HELP, AUTH, STARTTLS and other verbs get
 * "502 5.5.2".  A command line ends in LF or CRLF, and so does a data line;
 * a line with a single dot ends the data (the caller's own submission on a
 * pipe, as with -bm: no relaying, nothing to smuggle).  Addresses without
 * a domain are qualified with the hostname.
 *
 * Must not know: files, descriptors, ids, the clock or the spool; nothing
 * here does I/O or exits.
 */
#ifndef SMTPGATE_SUBMIT_BS_H
#define SMTPGATE_SUBMIT_BS_H

#include <stdbool.h>
#include <stddef.h>

#include "submit.h"

#define SUBMIT_BS_MAX_LINE	2048	/* a command line, its terminator included */
#define SUBMIT_BS_MAX_ERRORS	20	/* error replies before "421" and the end */

struct submit_bs_params {
	const char *hostname;	/* greeting, EHLO, qualification of bare names */
	size_t max_size;	/* message bytes (SIZE, and 552 beyond) */
	size_t max_rcpts;	/* distinct recipients of one message (452 beyond) */
};

enum submit_bs_event {
	SUBMIT_BS_MORE,		/* all usable bytes taken: feed more */
	SUBMIT_BS_MESSAGE,	/* a message is complete: take it, then submit_bs_done() */
	SUBMIT_BS_CLOSE,	/* QUIT or too many errors: write the output and stop */
};

struct submit_bs;

/* A new session (params copied, hostname too); nothing is queued yet. */
struct submit_bs *submit_bs_new(const struct submit_bs_params *p);
void submit_bs_free(struct submit_bs *s);

/* Queue the "220" greeting. */
void submit_bs_greet(struct submit_bs *s);

/*
 * Feed buf[0..len).  *consumed is set to the bytes used; the caller keeps
 * the rest (an incomplete command line) and feeds it again with more.
 * Stops right after an event: SUBMIT_BS_MESSAGE (the caller must call
 * submit_bs_done before feeding again) or SUBMIT_BS_CLOSE (the session is
 * over; further input is ignored).
 */
enum submit_bs_event submit_bs_feed(struct submit_bs *s, const char *buf, size_t len,
    size_t *consumed);

/* The complete message: its sender ("" for the null sender), recipients
 * (qualified, without duplicates), and data (dot-stuffing removed, line
 * ends as sent, without the final dot line). */
const char *submit_bs_sender(const struct submit_bs *s);
const struct addrset *submit_bs_rcpts(const struct submit_bs *s);
const char *submit_bs_data(const struct submit_bs *s, size_t *len);

/* Answer the message with reply (one line, no CRLF) and end its transaction. */
void submit_bs_done(struct submit_bs *s, const char *reply);

/* No input for too long: queue "421 4.4.2" (the caller then ends). */
void submit_bs_timeout(struct submit_bs *s);

/* true while inside DATA (the input ended there: the message is lost). */
bool submit_bs_in_data(const struct submit_bs *s);

/* The reply bytes queued so far, and forgetting them once written. */
const char *submit_bs_output(const struct submit_bs *s, size_t *len);
void submit_bs_output_clear(struct submit_bs *s);

#endif
