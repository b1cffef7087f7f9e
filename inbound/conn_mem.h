/*
 * conn_mem: the memory edge of one inbound connection, beside conn.c.
 * Where a body past body_memory_limit goes (its spill file: made at the
 * session's first body_write, handed to delivery with the message or
 * removed at body_drop), and the connection's place in the daemon-wide
 * budget (what it holds, spilling its body at once or asking conn.c to
 * stop reading when over its share, the quiet 421 of a refused one).
 * conn.c embeds one struct conn_mem per connection and does the
 * libevent part (pausing and resuming reads).
 *
 * Must not know about sockets, libevent or SMTP syntax.
 */
#ifndef SMTPGATE_CONN_MEM_H
#define SMTPGATE_CONN_MEM_H

#include <stdbool.h>
#include <stddef.h>

#include "budget.h"
#include "session.h"

struct delivery_request;
struct spill;

struct conn_mem {
	struct budget *budget;		/* NULL: no budget */
	struct budget_share share;
	bool paused;			/* not read: over its share of memory */
	bool quiet;			/* refused for memory: no log lines */
	int tmpfd;			/* the spool's tmp/ */
	const char *id, *client;	/* the connection's, for names and logs */
	struct spill *spill;		/* the body being spilled, or NULL */
	int spill_err;			/* its file could not be made */
	unsigned spills;		/* spill files made (their names' count) */
};

/*
 * Set up m for a new connection (id and client must outlive it) and
 * decide its greeting: an OK one becomes SESSION_GREET_NOMEM (counted,
 * no log line of its own: budget_refused summarises) while the budget is
 * full.  wake(arg) runs when a paused connection may read again.
 */
enum session_greeting conn_mem_start(struct conn_mem *m, struct budget *b, int tmpfd,
    const char *id, const char *client, enum session_greeting how,
    void (*wake)(void *), void *arg);

/* Session body_write / body_drop, for the connection's m. */
void conn_mem_body_write(struct conn_mem *m, const char *p, size_t n);
void conn_mem_body_drop(struct conn_mem *m);

/*
 * The message's body was spilled: take it from the session into r (its
 * file's descriptor and name, name: SPILL_NAME_MAX bytes), or the errno
 * that kept it from being kept (r->body_err).
 */
void conn_mem_hand_over(struct conn_mem *m, struct session *sess,
    struct delivery_request *r, char *name);

/*
 * The connection holds held bytes now (input, unsent output, the body in
 * memory).  Over its share of a full budget while it may read (can_read),
 * its body goes to a spill file at once; true when it still holds too
 * much and must stop reading (then conn_mem_pause).
 */
bool conn_mem_check(struct conn_mem *m, struct session *sess, size_t held, bool can_read);

/* Reading stopped: wait on the budget (its wake runs once memory is back). */
void conn_mem_pause(struct conn_mem *m);

/* The connection is going away: it holds nothing more, waits no more. */
void conn_mem_leave(struct conn_mem *m);

#endif
