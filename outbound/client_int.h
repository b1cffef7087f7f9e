/*
 * client_int: what client.c (the connection: greeting, EHLO, STARTTLS,
 * AUTH, failures) and client_txn.c (the transaction: MAIL, RCPT, DATA,
 * the results) share.  Private to these two files; pure like them.
 */
#ifndef SMTPGATE_CLIENT_INT_H
#define SMTPGATE_CLIENT_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "client.h"
#include "reply.h"
#include "strbuf.h"

enum cstate {
	ST_GREETING,
	ST_EHLO,
	ST_HELO,
	ST_STARTTLS,
	ST_TLS_WAIT,		/* EV_STARTTLS raised; handshake at the edge */
	ST_AUTH_PLAIN,
	ST_AUTH_LOGIN_USER,	/* "AUTH LOGIN" sent, wants 334 */
	ST_AUTH_LOGIN_PASS,	/* user name sent, wants 334 */
	ST_AUTH_LOGIN_DONE,	/* password sent, wants 235 */
	ST_READY,
	ST_TXN,			/* RSET/MAIL/RCPT/DATA replies outstanding */
	ST_BODY,		/* EV_BODY raised; the edge streams the body */
	ST_DATA_END,		/* waiting for the reply to "." */
	ST_DONE,		/* EV_DONE raised; waiting for client_ack_done */
	ST_QUIT,
	ST_FAILED,
	ST_CLOSED,
};

enum cmd_kind { CMD_RSET, CMD_MAIL, CMD_RCPT, CMD_DATA };

/* One command of a transaction, built up front so it can be pipelined. */
struct txcmd {
	enum cmd_kind kind;
	size_t rcpt;		/* for CMD_RCPT: index into the results */
	char *line;		/* with CRLF */
};

enum rcpt_state { RS_UNDECIDED, RS_ACCEPTED, RS_FINAL };

/* What the last EHLO offered. */
struct caps {
	bool pipelining;
	bool starttls;
	bool eightbitmime;
	bool smtputf8;
	bool enhanced;
	bool size;		/* SIZE offered (maybe without a limit) */
	uint64_t size_limit;	/* 0: none */
	bool auth_plain;
	bool auth_login;
};

struct client {
	char *helo_name;
	char *auth_user;
	char *auth_password;
	enum smarthost_tls tls;
	struct reply_parser *rp;

	struct strbuf out;		/* commands to send (may hold AUTH secrets) */

	enum cstate st;
	enum client_event ev;
	bool tls_active;
	struct caps caps;

	/* the current transaction */
	struct txcmd *cmds;
	size_t ncmds;
	size_t next_send;
	size_t next_reply;
	struct client_rcpt_result *res;
	enum rcpt_state *rs;
	size_t nrcpts;
	size_t naccepted;
	bool mail_failed;	/* MAIL refused: later replies change nothing */
	bool lone_dot;		/* 354 with nobody accepted: "." sent alone */
	unsigned ntxn;		/* transactions started on this connection */
	bool fail_after_done;

	struct client_failure fail;
};

/* client_txn.c: true while a transaction's recipients are still open. */
bool client_in_txn(const struct client *c);
/* Decide every recipient not yet final (accepted ones too when accepted_too). */
void client_rcpt_decide_open(struct client *c, bool accepted_too,
    enum client_rcpt_status status, int code, const char *text);
/* End the transaction: raise EV_DONE. */
void client_txn_finish(struct client *c);
/* Free the transaction's commands and results. */
void client_txn_free(struct client *c);
/* One reply inside a transaction (RSET, MAIL, RCPT, DATA). */
void client_on_txn(struct client *c, int code);
/* The reply to the final "." (or to the lone dot). */
void client_on_data_end(struct client *c, int code);

/* client.c: fail with the current reply; 5xx is permanent unless forced
 * temporary; a polite QUIT queued when quit. */
void client_fail_reply(struct client *c, bool force_temporary, bool quit);
/* The current reply, printable and capped (buf holds CLIENT_REPLY_MAX). */
const char *client_cur_reply(const struct client *c, char *buf);
/* Become READY. */
void client_go_ready(struct client *c);

#endif
