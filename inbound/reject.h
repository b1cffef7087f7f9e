/*
 * reject: why the inbound daemon refused something, told from the reply
 * line it sent (every refusal is a 4xx/5xx reply of the session), for the
 * smtpgate_inbound_rejections_total{reason=...} counter.  Pure: no I/O.
 */
#ifndef SMTPGATE_REJECT_H
#define SMTPGATE_REJECT_H

#include <stddef.h>

enum reject_reason {
	REJECT_UNKNOWN_USER,		/* 550 5.1.1 at RCPT */
	REJECT_SIZE,			/* 552 5.3.4: SIZE= or the body */
	REJECT_RELAY_DENIED,		/* 554 5.7.1: not in relay_hosts */
	REJECT_OVER_CAP,		/* 421 4.7.0: max_connections, per client or relay host */
	REJECT_BUDGET,			/* 421 4.3.2: the memory budget */
	REJECT_EARLY_TALKER,		/* 554 5.5.1: input before the greeting */
	REJECT_TIMEOUT,			/* 421 4.4.2: an idle timeout */
	REJECT_DEADLINE,		/* 421 4.4.2: a deadline (the caller tells) */
	REJECT_TOO_MANY_ERRORS,		/* 421 4.7.0: max_errors */
	REJECT_TOO_MANY_RECIPIENTS,	/* 452 4.5.3 */
	REJECT_NO_RECIPIENTS,		/* 554 5.5.1 at DATA */
	REJECT_SMTPUTF8,		/* 553 5.6.7 */
	REJECT_TLS_REQUIRED,		/* 530 5.7.0 */
	REJECT_TLS_UNAVAILABLE,		/* 454 4.7.0 */
	REJECT_BAD_DATA,		/* 550 5.5.2: bare CR/LF or NUL in the body */
	REJECT_BARE_LF,			/* 500 5.5.2: a command line ending in LF */
	REJECT_LINE_TOO_LONG,		/* 500 5.5.2 */
	REJECT_SYNTAX,			/* other 500, 501, 555 */
	REJECT_SEQUENCE,		/* 503 */
	REJECT_SHUTDOWN,		/* 421 4.3.2: the daemon is stopping */
	REJECT_DISK_FULL,		/* 452 4.3.1 after DATA, or spool_min_free */
	REJECT_LOCAL_ERROR,		/* 451 4.3.0 after DATA */
	REJECT_MAILBOX_FULL,		/* 452 4.2.2: mailbox_size_limit */
	REJECT_DATA_LINE,		/* 554 5.6.0: a body line past max_data_line_length */
	REJECT_OTHER,
	REJECT_NREASONS
};

/* The reason of a reply line (with or without CRLF); REJECT_OTHER for a
 * 4xx/5xx it does not know, -1 for any other line. */
int reject_classify(const char *line, size_t len);

/* The reason's label value ("unknown_user"). */
const char *reject_name(enum reject_reason r);

#endif
