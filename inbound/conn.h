/*
 * conn: one client connection of smtpgate-inbound -- the libevent edge
 * around the pure session.  Plain events on the socket with a read
 * high-watermark and replies sent at once, command/data timeouts, STARTTLS
 * by handing the socket to an OpenSSL bufferevent, and hand-off of
 * finished messages to delivery.  The listener decides the greeting; conn only speaks it.
 */
#ifndef SMTPGATE_CONN_H
#define SMTPGATE_CONN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "reject.h"
#include "session.h"

struct event_base;
struct delivery;
struct budget;
struct diskspace;
struct mboxsize;
struct conn;
struct inbound_gen;		/* gen.h: a connection keeps the one it started with */

/* Counter cells (metrics registry); updated on the loop thread only. */
struct inbound_stats {
	uint64_t *connections_total;
	uint64_t *messages_accepted;
	uint64_t *messages_rejected;
	uint64_t *bytes_received;
	uint64_t *tls_handshakes;
	uint64_t *tls_failures;
	uint64_t *rejections[REJECT_NREASONS];	/* by reject_classify() */
};

/* What every connection shares. */
struct conn_env {
	struct event_base *base;
	struct delivery *delivery;
	struct inbound_stats *stats;
	struct budget *budget;		/* memory budget (budget.h) */
	struct diskspace *space;	/* spool_min_free (diskspace.h) */
	struct mboxsize *sizes;		/* mailbox_size_limit (mboxsize.h) */
};

/*
 * Numeric text of a peer address (IPv4-mapped IPv6 shown as IPv4) into
 * ip (>= 64 bytes); *port gets the port.
 */
void conn_addr_text(const struct sockaddr *sa, char *ip, size_t iplen, unsigned *port);

/*
 * Take over the accepted socket fd and greet (how: decided by the
 * listener; an OK greeting becomes EARLY when input is already waiting).
 * closed(arg) runs once when the connection is gone.  NULL on failure
 * (fd closed, closed() not called).
 */
struct conn *conn_new(const struct conn_env *env, struct inbound_gen *gen, int fd,
    const struct sockaddr *sa, enum session_greeting how,
    void (*closed)(void *arg), void *arg);

/*
 * Log the refusal at connect of c (made by conn_new with a refusing how)
 * as a reject line, extra appended (the listener's reason and counts);
 * nothing for a refusal of the memory budget (budget.c summarises those).
 */
void conn_log_connect_refusal(const struct conn *c, const char *extra);

/*
 * The daemon is stopping: 421 and close now, unless a message is in DATA
 * or being delivered; then after that message.
 */
void conn_stop(struct conn *c);

/* The grace period is over: 421 and close even inside DATA. */
void conn_kill(struct conn *c);

#endif
