/*
 * dsn: RFC 3464 delivery status notifications, built as text, pure.
 * A multipart/report; report-type=delivery-status message with a human
 * part, a message/delivery-status part (per-message fields, then one block
 * per named recipient with Action, Status and Diagnostic-Code: smtp; <the
 * smart host's reply>), and the original message's headers
 * (text/rfc822-headers).  The caller queues it from the null sender <>.
 */
#ifndef SMTPGATE_DSN_H
#define SMTPGATE_DSN_H

#include <stddef.h>
#include <stdint.h>

#include "queue.h"

enum dsn_kind {
	DSN_FAILED,	/* Action: failed, for every QUEUE_RCPT_FAILED recipient */
	DSN_DELAYED,	/* Action: delayed, for every QUEUE_RCPT_PENDING recipient */
};

/* The original message's header block (up to the blank line). */
struct dsn_headers {
	const char *p;
	size_t len;
};

/*
 * Build the notification for e (to e->sender, which must not be "").
 * reporting_mta: our host name; h: the original message's header block
 * (NULL: none).  Returns a malloc'd message with CRLF line ends, or NULL
 * when there is no recipient of that kind to report.
 */
char *dsn_build(const struct queue_entry *e, enum dsn_kind kind,
    const char *reporting_mta, const struct dsn_headers *h, int64_t now, size_t *lenp);

/* What a notice reports besides the entry: dsn_build()'s arguments and,
 * for DSN_DELAYED, "Will-Retry-Until: <retry_until>" (created +
 * max_queue_lifetime; 0 leaves the field out, as dsn_build does). */
struct dsn_report {
	const char *reporting_mta;
	struct dsn_headers headers;	/* { NULL, 0 }: none */
	int64_t now;
	int64_t retry_until;
};

/* The same as dsn_build(), as r says. */
char *dsn_build_until(const struct queue_entry *e, enum dsn_kind kind,
    const struct dsn_report *r, size_t *lenp);

/*
 * Who is told that e's failed recipients failed: its sender; for a
 * message from <> (a bounce that could not be delivered: a double bounce)
 * postmaster, unless postmaster is NULL or "" (the notice is dropped) or
 * is itself one of the failed recipients (the postmaster's own notice
 * failed: dropped, so there is never a loop).  NULL: nobody.
 */
const char *dsn_failure_recipient(const struct queue_entry *e, const char *postmaster);

/*
 * The notice to postmaster that e (from <>) failed: a DSN_FAILED report
 * whose To: is postmaster and whose text says why the postmaster gets it.
 * NULL when there is no failed recipient or no postmaster.
 */
char *dsn_build_postmaster(const struct queue_entry *e, const char *postmaster,
    const char *reporting_mta, const struct dsn_headers *h, int64_t now, size_t *lenp);

#endif
