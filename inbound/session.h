/*
 * session: the inbound SMTP server state machine, pure.  Bytes from the
 * client go in (session_feed), reply bytes and events come out.  No
 * sockets, no libevent, no disk, no clock: the connection code (conn.c)
 * owns those and drives this module; unit tests and the fuzzer drive it
 * directly.
 *
 * Covers EHLO/HELO, MAIL, RCPT, DATA, BDAT (RFC 3030), RSET, NOOP, QUIT,
 * VRFY (252), HELP, STARTTLS (RFC 3207), PIPELINING (RFC 2920), SIZE,
 * 8BITMIME, SMTPUTF8, ENHANCEDSTATUSCODES (every reply carries an RFC 3463
 * code).  Command lines are split by linebuf (hard cap, one 500 5.5.2 per
 * overlong line, then resync); DATA is decoded by dotstuff (only
 * <CRLF>.<CRLF> ends it; bare CR/LF or NUL => 550 5.5.2 after the end).
 */
#ifndef SMTPGATE_SESSION_H
#define SMTPGATE_SESSION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct session;

struct session_params {
	const char *hostname;		/* greeting / EHLO name */
	size_t max_line;		/* command line cap incl. CRLF (2048) */
	uint64_t max_message_size;	/* SIZE and body cap (552 5.3.4) */
	unsigned max_recipients;	/* 452 4.5.3 past it */
	unsigned max_errors;		/* then 421 4.7.0 and close */
	bool tls_available;		/* advertise STARTTLS */
	bool tls_required;		/* MAIL before STARTTLS: 530 5.7.0 */
	/*
	 * Recipient lookup (pure, e.g. a hash map): SESSION_RCPT_OK (0),
	 * _UNKNOWN (-1: 550 5.1.1), _FULL (452 4.2.2: that mailbox is over
	 * its size limit), _NOSPACE (452 4.3.1: the spool's free-space
	 * reserve).  addr is "local@domain" as parsed, quotes dropped where
	 * they change nothing (smtp_addr_unquote); session_size_hint() gives
	 * the transaction's SIZE=.
	 */
	int (*rcpt_check)(void *arg, const char *addr);
	/* Optional: may a transaction start (MAIL)?  0 yes, SESSION_RCPT_NOSPACE
	 * (452 4.3.1: below the spool's free-space reserve); may be NULL. */
	int (*mail_check)(void *arg);
	/* A DATA or BDAT body line longer than this (octets with its CRLF)
	 * fails the message at its end: 554 5.6.0 (0: no limit). */
	size_t max_data_line;
	/* Optional: one key=value note per protocol event worth logging
	 * (e.g. "reject=bare-lf"); may be NULL. */
	void (*note)(void *arg, const char *kv);
	/* Optional: every 4xx/5xx reply line queued (no CRLF), for counting
	 * refusals; may be NULL. */
	void (*refused)(void *arg, const char *reply, size_t len);
	/*
	 * Optional body sink (both or neither).  A body is held in memory up
	 * to body_memory_limit bytes (0: no limit); past it, what was held
	 * and then every further decoded byte go to body_write instead
	 * (the caller streams them to a file), and the memory is freed.
	 * body_drop: a spilled body is no longer wanted (transaction reset,
	 * message refused, session freed); never called for a body handed
	 * over by session_take_body.
	 */
	size_t body_memory_limit;
	void (*body_write)(void *arg, const char *p, size_t n);
	void (*body_drop)(void *arg);
	void *arg;
};

/* rcpt_check's and mail_check's answers. */
enum {
	SESSION_RCPT_OK = 0,
	SESSION_RCPT_UNKNOWN = -1,
	SESSION_RCPT_FULL = -2,
	SESSION_RCPT_NOSPACE = -3,
};

enum session_event {
	SESSION_EV_NONE,	/* wants more input */
	SESSION_EV_MESSAGE,	/* a message awaits delivery (session_message);
				   input is not consumed until session_delivered() */
	SESSION_EV_STARTTLS,	/* "220 2.0.0 Ready to start TLS" is queued: flush
				   it, DISCARD any unread input, handshake, then
				   session_tls_started() (or close on failure) */
	SESSION_EV_CLOSE,	/* flush the output, then close */
};

enum session_greeting {
	SESSION_GREET_OK,	/* 220 <host> ESMTP smtpgate */
	SESSION_GREET_DENIED,	/* 554 5.7.1 (relay_hosts), then close */
	SESSION_GREET_BUSY,	/* 421 4.7.0 too many connections, then close */
	SESSION_GREET_EARLY,	/* 554 5.5.1 input before greeting, then close */
	SESSION_GREET_NOMEM,	/* 421 4.3.2 memory budget reached, then close */
};

enum session_delivery {
	SESSION_DELIVERED,	/* 250 2.0.0 Ok: queued as <id> */
	SESSION_TEMPFAIL,	/* 451 4.3.0 */
	SESSION_DISKFULL,	/* 452 4.3.1 */
};

struct session_message {
	const char *helo;		/* EHLO/HELO argument as given (printable) */
	bool esmtp;			/* EHLO was used */
	const char *mail_from;		/* "" for <> */
	const char *const *rcpts;	/* accepted recipients */
	size_t nrcpts;
	bool smtputf8;			/* MAIL ... SMTPUTF8 */
	bool body_8bitmime;		/* BODY=8BITMIME (or BDAT BINARYMIME n/a) */
	bool chunking;			/* received with BDAT */
	const char *body;		/* decoded message, CRLF line ends; NULL
					   when spilled */
	size_t body_len;		/* the whole body's length, spilled or not */
	bool body_spilled;		/* the body went to body_write */
};

struct session *session_new(const struct session_params *p);
void session_free(struct session *s);

/* Queue the greeting (or a refusal, which also raises SESSION_EV_CLOSE). */
void session_greet(struct session *s, enum session_greeting how);

/*
 * Feed client bytes; returns how many were consumed.  Consumes nothing
 * while an event is pending; the caller keeps unconsumed bytes and feeds
 * them again after handling the event.
 */
size_t session_feed(struct session *s, const char *buf, size_t len);

enum session_event session_event(const struct session *s);

/* Reply bytes waiting to be sent, and how to mark them sent. */
const char *session_output(const struct session *s, size_t *len);
void session_output_drain(struct session *s, size_t n);

/* The pending message (valid while SESSION_EV_MESSAGE is raised). */
const struct session_message *session_message(const struct session *s);

/*
 * Hand the body buffer to the caller (no copy); *len gets its length.
 * Valid once per message while SESSION_EV_MESSAGE is raised; the caller
 * frees it with free().  session_message()->body is NULL afterwards.
 * A spilled body: returns NULL with *len its length, and the caller owns
 * what body_write received (body_drop is not called for it).
 */
char *session_take_body(struct session *s, size_t *len);

/*
 * Spill the body held in memory now (memory is short): it goes to
 * body_write and is freed.  Returns the bytes of memory freed (0 when
 * no body is being received, it is spilled already, or there is no sink).
 */
size_t session_spill_now(struct session *s);

/* Bytes of memory the body being received holds now. */
size_t session_body_memory(const struct session *s);

/* The delivery outcome: queues the reply, clears the transaction and the event. */
void session_delivered(struct session *s, enum session_delivery result, const char *queue_id);

/* The TLS handshake succeeded: forget EHLO and the transaction (RFC 3207). */
void session_tls_started(struct session *s);

/* The command/data timer fired: 421 4.4.2, then close. */
void session_timeout(struct session *s);

/* The daemon is stopping: 421 4.3.2, then close. */
void session_shutdown(struct session *s);

/* true while inside DATA or a BDAT sequence (graceful stop waits for it). */
bool session_in_data(const struct session *s);

/*
 * Command lines completed so far: the edge's command deadline runs from
 * when a line is awaited until this grows (an overlong line skipped to
 * its end does not count).
 */
unsigned long session_lines(const struct session *s);

/* The current transaction's MAIL ... SIZE= (0 when not given). */
uint64_t session_size_hint(const struct session *s);

/*
 * What a refusal was about, for its log line: valid inside the refused
 * callback.  cmd is the verb as the table spells it ("RCPT"), an unknown
 * verb of 1-12 letters upper-cased ("AUTH"), "connect" for a refusal at
 * the greeting, "-" for a line that was no command (too long, bare LF,
 * control bytes) and for timeouts and shutdown; end-of-data replies keep
 * "DATA" or "BDAT".  from: the transaction's sender ("" for <>), NULL
 * when there is none yet; to: the address of a RCPT that parsed, else
 * NULL.  Both as the client sent them (escape before logging).
 */
struct session_refusal {
	const char *cmd;
	const char *from;
	const char *to;
};
void session_refusal_context(const struct session *s, struct session_refusal *r);

/* Counters for the log line. */
unsigned session_errors(const struct session *s);
bool session_tls_active(const struct session *s);

#endif
