/*
 * submit: the pure part of smtpgate-sendmail.  Splits the message read on
 * stdin into lines and header fields, collects the envelope recipients
 * (arguments, and with -t the To:/Cc:/Bcc: or Resent- fields), and builds
 * the maildrop file: envelope lines ended by "X-Smtpgate-Envelope: end",
 * a Received: line naming the submitting uid, the header completed with
 * From:, Date: and Message-ID: when missing, the body; CRLF line ends.
 *
 * Must not know: files, user or group ids, the spool, the clock (the caller
 * passes the time) or the process: nothing here exits; an error is returned
 * as a sysexits code with a one-line message.
 */
#ifndef SMTPGATE_SUBMIT_H
#define SMTPGATE_SUBMIT_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "addrlist.h"
#include "smtp_addr.h"
#include "strbuf.h"

/* The line that ends the envelope of a maildrop file (design of issue 16). */
#define SUBMIT_ENVELOPE_END "X-Smtpgate-Envelope: end"

struct submit_line {
	const char *p;		/* points into the caller's input */
	size_t len;		/* without the line end */
};

/* The message as lines: header fields lines[0..nheader), body from lines[body]. */
struct submit_msg {
	struct submit_line *lines;
	size_t nlines;
	size_t nheader;
	size_t body;
};

/*
 * Split raw[0..len) (LF or CRLF lines) into m, stopping at a lone "."
 * unless dot_ok; a leading mbox "From " line is dropped.  0, or EX_DATAERR
 * with err for a NUL byte or a CR not followed by LF (SMTP cannot carry
 * them).  m points into raw.
 */
int submit_parse(const char *raw, size_t len, bool dot_ok, struct submit_msg *m,
    char *err, size_t errlen);
void submit_msg_free(struct submit_msg *m);

/*
 * Turn a bare address into "local@domain" (qualified with host when it has
 * no '@'; "" for the null path when allow_null).  0, or -1 with *why.
 */
int submit_addr_normalize(const char *raw, const char *host, bool allow_null,
    char out[SMTP_ADDR_MAX + 1], const char **why);

/* Where the recipients come from (submit_recipients()). */
struct submit_rcpt_args {
	char *const *args;		/* address lists given as arguments */
	size_t nargs;
	bool from_headers;		/* -t: To:/Cc:/Bcc: (or Resent-) too */
	const char *host;		/* qualifies an address without '@' */
	size_t max;			/* at most this many distinct recipients */
};

/*
 * Collect the recipients into r (in order, without duplicates): each of
 * a->args (address lists, split by addrlist_split()), then with
 * a->from_headers the To:/Cc:/Bcc: fields, or the Resent- ones when the
 * message has any.  At most a->max distinct recipients.  0, or a sysexits
 * code with err: EX_DATAERR for a bad address or more than max,
 * EX_USAGE for -t finding none or no recipient at all.
 */
int submit_recipients(const struct submit_msg *m, const struct submit_rcpt_args *a,
    struct addrset *r, char *err, size_t errlen);

/* What submit_build() writes besides the message. */
struct submit_envelope {
	const char *sender;		/* envelope sender; "" is the null sender */
	const struct addrset *rcpts;
	const char *from_addr;		/* for a From: when the message has none */
	const char *fullname;		/* its display name, or NULL */
	const char *host;		/* Received: by, Message-ID's domain */
	unsigned long uid;		/* the submitting user */
	time_t now;			/* Received: and Date: (local time) */
	const char *msgid;		/* local part of a new Message-ID: */
};

/* Append the maildrop file for m and e to b (Bcc: and Resent-Bcc: removed). */
void submit_build(struct strbuf *b, const struct submit_msg *m,
    const struct submit_envelope *e);

/* "Tue, 1 Jan 2030 00:00:00 +0000" for t in local time; returns buf. */
char *submit_date(time_t t, char *buf, size_t bufsz);

#endif
