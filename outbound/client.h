/*
 * client: the outbound SMTP client state machine, pure.  Server replies
 * go in (client_feed), commands come out (client_output), events tell the
 * connection code (relay.c) what to do.  No sockets, no libevent, no disk,
 * no clock.  The message body is not seen here: on CLIENT_EV_BODY the
 * edge streams it through dot_encode() and calls client_body_sent().
 *
 * Trust nothing from the server (STYLE.md habit 10): replies are parsed
 * by reply.c (3 digits 2-5xx, space or dash, total size capped; anything
 * else is a temporary failure); reply text is made printable and capped
 * before it is stored; after STARTTLS only the capabilities of the EHLO
 * sent inside TLS count (CVE-2021-38371); if every RCPT was refused the
 * body is never sent, even after a 354.  AUTH PLAIN/LOGIN only over TLS.
 */
#ifndef SMTPGATE_CLIENT_H
#define SMTPGATE_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"		/* enum smarthost_tls */

#define CLIENT_REPLY_MAX 512	/* stored reply text, printable, capped */

struct client;

struct client_params {
	const char *helo_name;
	enum smarthost_tls tls;		/* what the smart host must offer */
	const char *auth_user;		/* NULL: no AUTH */
	const char *auth_password;
	size_t max_reply;		/* cap on one whole reply (64 KiB) */
};

enum client_event {
	CLIENT_EV_NONE,		/* wants more input (or output to flush) */
	CLIENT_EV_READY,	/* session up; give it a message or quit */
	CLIENT_EV_STARTTLS,	/* 220 to STARTTLS: DISCARD unread input,
				   handshake, then client_tls_started() */
	CLIENT_EV_BODY,		/* 354: stream the dot-encoded body, then
				   client_body_sent() */
	CLIENT_EV_DONE,		/* message finished: client_results() */
	CLIENT_EV_FAILED,	/* the connection is unusable: client_failure() */
	CLIENT_EV_CLOSED,	/* QUIT answered (or not needed): close */
};

/* Which RFC 5321 4.5.3.2 timeout applies now. */
enum client_stage {
	CLIENT_STAGE_GREETING,	/* timeout_greeting */
	CLIENT_STAGE_COMMAND,	/* EHLO, STARTTLS, AUTH, MAIL, RCPT, RSET, QUIT: timeout_command */
	CLIENT_STAGE_DATA_INIT,	/* waiting for 354: timeout_data_init */
	CLIENT_STAGE_DATA_BLOCK,/* sending the body: timeout_data_block */
	CLIENT_STAGE_DATA_END,	/* waiting for the reply to ".": timeout_data_end */
	CLIENT_STAGE_IDLE,	/* READY, nothing outstanding */
};

struct client_message {
	const char *sender;		/* "" for the null sender */
	const char *const *rcpts;
	size_t nrcpts;
	uint64_t size;			/* for SIZE= */
	bool smtputf8;			/* needs SMTPUTF8 */
	bool eightbit;			/* BODY=8BITMIME */
};

enum client_rcpt_status {
	CLIENT_RCPT_DELIVERED,
	CLIENT_RCPT_TEMPFAIL,
	CLIENT_RCPT_PERMFAIL,
};

struct client_rcpt_result {
	enum client_rcpt_status status;
	int code;				/* the deciding reply's code */
	char reply[CLIENT_REPLY_MAX];		/* that reply, printable */
};

struct client_failure {
	bool temporary;				/* defer (4xx, 421, malformed, TLS missing) vs 5xx */
	int code;				/* 0 when no reply (e.g. TLS not offered) */
	char reply[CLIENT_REPLY_MAX];		/* printable */
	const char *stage;			/* "greeting", "ehlo", "starttls", "auth", "mail", ... */
};

/* implicit_tls: the connection is already TLS (port 465). */
struct client *client_new(const struct client_params *p, bool implicit_tls);
void client_free(struct client *c);

/* Feed server bytes; returns bytes consumed (stops when an event is raised). */
size_t client_feed(struct client *c, const char *buf, size_t len);
enum client_event client_event(const struct client *c);
enum client_stage client_stage(const struct client *c);

/* Command bytes to send. */
const char *client_output(const struct client *c, size_t *len);
void client_output_drain(struct client *c, size_t n);

/*
 * In READY: start a transaction (RSET first if one ran before).  MAIL,
 * RCPTs and DATA are pipelined when the server offers PIPELINING.
 * Returns -1 (and raises CLIENT_EV_DONE with every recipient PERMFAIL
 * 552 5.3.4) when the server's SIZE limit is below m->size, or
 * TEMPFAIL/PERMFAIL when SMTPUTF8 is needed and not offered.
 */
int client_send_message(struct client *c, const struct client_message *m);

/* After CLIENT_EV_BODY: the whole encoded body and ".\r\n" were queued. */
void client_body_sent(struct client *c);
/* After CLIENT_EV_STARTTLS: the handshake succeeded; EHLO is sent again. */
void client_tls_started(struct client *c);
/* In READY: send QUIT. */
void client_quit(struct client *c);

/* Per-recipient outcome of the last message (valid after CLIENT_EV_DONE);
 * client_ack_done() returns the client to READY. */
const struct client_rcpt_result *client_results(const struct client *c, size_t *n);
void client_ack_done(struct client *c);
const struct client_failure *client_failure(const struct client *c);
/* The current transaction ended, or stopped, before the server answered
 * any of its commands (the RSET or MAIL that opens it): on a reused
 * connection that means the server had closed it while it was idle. */
bool client_txn_unanswered(const struct client *c);

/* Server capabilities seen in the last EHLO (inside TLS when TLS is up). */
bool client_has_pipelining(const struct client *c);
uint64_t client_size_limit(const struct client *c);	/* 0 = none announced */
bool client_tls_active(const struct client *c);

#endif
