/*
 * conn_int: what the files of the conn module share (conn.c, conn_plain.c,
 * conn_tls.c) and nobody else may include: struct conn and the functions
 * one part calls in another.  The rest of the daemon sees only conn.h's
 * opaque struct conn.
 */
#ifndef SMTPGATE_CONN_INT_H
#define SMTPGATE_CONN_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/time.h>

#include "conn.h"
#include "conn_mem.h"
#include "delivery.h"
#include "deadline.h"
#include "id.h"

#define READ_HIGH	(256 * 1024)	/* read high-watermark */

struct event;
struct evbuffer;
struct bufferevent;
struct conn_deadline;
struct delivery_job;

enum conn_state {
	CONN_OPEN,
	CONN_TLS_FLUSH,		/* STARTTLS: 220 going out, reading paused */
	CONN_TLS_HANDSHAKE,
	CONN_CLOSING,		/* last replies going out */
	CONN_DEAD,		/* socket gone, waiting for a delivery result */
};

struct conn {
	const struct conn_env *env;
	struct inbound_gen *gen;
	struct session *sess;
	int fd;				/* -1 once dropped */
	/* plaintext I/O (NULL once TLS or dropped) */
	struct event *rd_ev, *wr_ev;
	struct evbuffer *in, *out;
	bool reading;			/* rd_ev wanted (not paused) */
	bool read_full;			/* rd_ev off: input at READ_HIGH */
	struct bufferevent *bev;	/* TLS: OpenSSL bufferevent on fd */
	struct event *linger_ev;
	unsigned linger_n;
	enum conn_state state;
	bool in_data;			/* timeouts currently set for DATA */
	bool stopping;
	bool eof;			/* the client sent its last byte */
	bool quiet;			/* refused at connect: the listener logs it */
	struct conn_deadline *dl;	/* deadlines activity does not reset */
	unsigned long lines;		/* session_lines() when last seen */
	enum deadline_kind deadline_due; /* passed during a delivery: cut after it */
	bool deadline_cut;		/* its line is logged: no reject=timeout note */
	char id[ID_LEN + 1];
	char ip[64];
	char client[80];		/* ip:port */
	char tls_version[32];
	char tls_cipher[96];
	struct delivery_job *job;	/* message being delivered */
	char queue_id[ID_LEN + 1];
	char from[300];			/* log copy of the pending message */
	char msgid[256];		/* its Message-ID, escaped (conn_log.c) */
	bool msgid_seen;		/* msgid is the current message's */
	const char **rcpt_boxes;	/* the mailbox of each recipient of the
					   message being delivered (names of c->gen) */
	char greet_reply[200];		/* a refusal at connect, for the listener */
	size_t msg_size, msg_nrcpt;
	unsigned messages;
	struct conn_mem mem;		/* spill files, budget share (conn_mem.h) */
	struct event *pause_ev;		/* the read timeout while paused for memory */
	void (*closed)(void *arg);
	void *closed_arg;
};

/* conn.c: the life of a connection and the plaintext/TLS switch. */
void conn_process(struct conn *c);
void conn_drop(struct conn *c);
void conn_timeout(struct conn *c, bool reading);
void conn_eof(struct conn *c);
void conn_io_error(struct conn *c, int err);
void conn_output_drained(struct conn *c);
void conn_budget_check(struct conn *c);
struct evbuffer *conn_input(const struct conn *c);
size_t conn_unsent(const struct conn *c);
void conn_timeouts(const struct conn *c, struct timeval *rtv, struct timeval *wtv);
void conn_read_enable(struct conn *c, bool on);
void conn_flush(struct conn *c);
void conn_set_timeouts(struct conn *c, bool data);

/* conn_log.c: the reject, message and recipient lines. */
void conn_log_reject(struct conn *c, const char *reply, size_t len);
void conn_log_msgid(struct conn *c, const char *body, size_t len);
void conn_log_message(struct conn *c, enum delivery_result r, const char *err);

/* conn_plain.c: plaintext socket I/O. */
void conn_plain_open(struct conn *c);
void conn_plain_arm_read(struct conn *c);
void conn_plain_send(struct conn *c, const char *buf, size_t len);
void conn_plain_free(struct conn *c);

/* conn_tls.c: STARTTLS and the OpenSSL bufferevent. */
void conn_starttls_begin(struct conn *c);
void conn_starttls_wrap(struct conn *c);

#endif
