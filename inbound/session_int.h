/*
 * session_int: private to session.c and session_body.c (the pure inbound
 * SMTP state machine, split in two files): the session and transaction
 * structs, the state and phase enums, and the calls between the files.
 * Nobody else includes it; the rest of the daemon sees session.h's opaque
 * struct session.
 */
#ifndef SMTPGATE_SESSION_INT_H
#define SMTPGATE_SESSION_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dotstuff.h"
#include "linebuf.h"
#include "session.h"
#include "smtp_addr.h"
#include "strbuf.h"

/* Where the dialogue is, as a bit so the command table can list sets. */
enum state {
	ST_GREET = 0x01,	/* greeted, no HELO/EHLO yet */
	ST_READY = 0x02,	/* HELO/EHLO done, no transaction */
	ST_MAIL  = 0x04,	/* MAIL accepted, no recipient yet */
	ST_RCPT  = 0x08,	/* at least one recipient */
	ST_BDAT  = 0x10,	/* inside a BDAT sequence (a chunk without LAST done) */
};
#define ST_ANY (ST_GREET | ST_READY | ST_MAIL | ST_RCPT | ST_BDAT)

/* What kind of bytes we are reading. */
enum phase {
	PH_NEW,		/* not greeted yet */
	PH_CMD,		/* command lines */
	PH_DATA,	/* DATA body, dot-stuffed */
	PH_BDAT,	/* BDAT chunk bytes */
	PH_DONE,	/* closing: consume nothing more */
};

#define HELO_MAX 255

/* One mail transaction (RFC 5321 3.3). */
struct txn {
	char mail_from[SMTP_ADDR_MAX + 1];
	char **rcpts;
	size_t nrcpts;
	uint64_t size_hint;		/* MAIL ... SIZE= */
	bool smtputf8;
	bool body_8bitmime;
	bool chunking;
	char *body;			/* in memory, up to body_memory_limit */
	size_t body_len;
	size_t body_cap;
	uint64_t body_total;		/* every byte of the body, spilled or not */
	bool spilled;			/* the body goes to body_write */
	bool too_big;			/* over max_message_size: read on, drop */
	size_t line_len;		/* octets of the body's current line so far */
	bool line_too_long;		/* a line past max_data_line: read on, drop */
};

struct session {
	struct session_params p;
	char *hostname;
	enum state state;
	enum phase phase;
	enum session_event ev;
	struct linebuf lb;
	char *cmd;			/* the current command line, max_line + 1 */
	struct dot_decoder dot;
	char helo[HELO_MAX + 1];
	bool esmtp;
	bool tls_active;
	unsigned errors;
	unsigned long lines;		/* command lines completed (deadlines) */
	/* what a refusal is about (session_refusal_context) */
	char verb[16];			/* the current command, see session.h */
	bool from_set;			/* t.mail_from holds this transaction's sender */
	char cmd_addr[SMTP_ADDR_MAX + 1];	/* the current MAIL/RCPT's address, or "" */
	struct txn t;
	/* BDAT chunk in progress */
	uint64_t bdat_left;
	bool bdat_last;
	bool bdat_refused;		/* sequence error: consume, then 503 */
	/* reply bytes not yet sent */
	struct strbuf out;
	size_t out_off;			/* bytes of out already sent */
	struct session_message msg;
};

/* session.c: replies, notes, the transaction, argument helpers. */
void session_reply(struct session *s, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void session_reply_error(struct session *s, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void session_note(struct session *s, const char *kv);
void session_close(struct session *s);
void session_txn_reset(struct session *s);
bool session_parse_u64(const char *p, size_t n, uint64_t *v);
char *session_next_word(char **pp);

/* session_refusal.c: what a refusal is about, for its log line. */
void session_refusal_verb(struct session *s, const char *verb, size_t n, bool unknown);
void session_refusal_path(struct session *s, const char *arg);

/* session_body.c: DATA and BDAT, their bodies; feeders return bytes consumed. */
void session_cmd_data(struct session *s, char *args);
void session_cmd_bdat(struct session *s, char *args);
size_t session_feed_data(struct session *s, const char *buf, size_t len);
size_t session_feed_bdat(struct session *s, const char *buf, size_t len);

#endif
