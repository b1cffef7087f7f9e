/*
 * budget: the daemon-wide memory budget of smtpgate-inbound (loop thread
 * only).  Every connection reports what it holds (buffered input, output
 * not yet sent, the body it keeps in memory); the budget keeps the sum.
 * When the sum reaches the limit, new connections are refused (421 4.3.2,
 * one summary log line per interval) and a connection holding more than
 * its fair share (limit / connections) stops being read: it waits here
 * and is woken once the sum falls back under three quarters of the limit.
 * Freed memory is given back to the kernel (malloc_trim) when the sum
 * falls low after a peak; the allocator's thresholds are fixed at start
 * (budget_new) so that glibc does not raise them after a large free.
 *
 * Must not know about SMTP, sockets or files.
 */
#ifndef SMTPGATE_BUDGET_H
#define SMTPGATE_BUDGET_H

#include <stdbool.h>
#include <stddef.h>

struct budget;

/* One connection's place in the budget (embedded in the connection). */
struct budget_share {
	struct budget_share *next, *prev;	/* waiting list */
	size_t held;		/* bytes this connection holds, as last reported */
	bool joined;
	bool waiting;
	void (*wake)(void *arg);	/* memory is back: read again */
	void *arg;
};

/* A budget of limit bytes; also sets the allocator's thresholds. */
struct budget *budget_new(size_t limit);
void budget_free(struct budget *b);

/* A new limit (reload). */
void budget_set_limit(struct budget *b, size_t limit);

/* A connection starts / ends counting (leave drops what it held and any wait). */
void budget_join(struct budget *b, struct budget_share *sh, void (*wake)(void *), void *arg);
void budget_leave(struct budget *b, struct budget_share *sh);

/* The connection now holds held bytes; may wake waiting connections. */
void budget_update(struct budget *b, struct budget_share *sh, size_t held);

/* true when the sum has reached the limit. */
bool budget_full(const struct budget *b);

/* true when the budget is full and sh holds more than its fair share. */
bool budget_over_share(const struct budget *b, const struct budget_share *sh);

/* Stop sh until memory is back (its wake runs then, once). */
void budget_wait(struct budget *b, struct budget_share *sh);

/*
 * A new connection was refused for memory: counted, and logged once per
 * interval with the count (never one line per connection).
 */
void budget_refused(struct budget *b);

/* Bytes held by every connection together, and the limit. */
size_t budget_used(const struct budget *b);
size_t budget_limit(const struct budget *b);

#endif
