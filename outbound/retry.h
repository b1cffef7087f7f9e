/*
 * retry: the outbound retry policy as pure functions.  After an attempt
 * (or instead of one) it decides what becomes of a queued message:
 * requeue it at a time (exponential backoff from retry_min, doubling to
 * retry_max, plus up to a tenth of jitter, never past max_queue_lifetime),
 * send the one "delayed" notice first (after delay_warning), bounce the
 * failed recipients to the sender and remove it, or just remove it.  Past
 * max_queue_lifetime every pending recipient fails.  The null sender <>
 * is never sent a notice: a failed message from <> is "bounced" to the
 * postmaster_address instead (a double bounce, see dsn_failure_recipient;
 * dropped with a log line when there is none), never warned.
 *
 * No I/O, no clock, no random numbers of its own: the caller passes the
 * time and a random value in, and carries the decision out (scheduler.c).
 */
#ifndef SMTPGATE_RETRY_H
#define SMTPGATE_RETRY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "queue.h"

#define RETRY_EXPIRED_REPLY	"4.4.7 delivery time expired"	/* ours: no reply code */

/* What becomes of a message (see retry_decide). */
enum retry_action {
	RETRY_REQUEUE,		/* recipients pending: try again at next */
	RETRY_WARN,		/* the same, after the "delayed" notice to the sender */
	RETRY_BOUNCE,		/* nothing pending, some failed: notice (to the sender,
				   or for <> the postmaster), then remove */
	RETRY_REMOVE,		/* nothing pending and nobody to tell: remove */
};

struct retry_decision {
	enum retry_action action;
	int64_t next;			/* REQUEUE, WARN, BOUNCE: the next attempt
					   (BOUNCE: should the notice not be stored) */
	size_t ndelivered, nfailed;	/* BOUNCE, REMOVE: the final count */
};

/* Recipients of e in state st. */
size_t retry_count(const struct queue_entry *e, enum queue_rcpt_state st);

/* true when e has reached max_queue_lifetime at now. */
bool retry_expired(const struct queue_entry *e, const struct outbound_config *cfg,
    int64_t now);

/* Called by retry_expire for each recipient it fails. */
typedef void retry_expired_fn(void *arg, const struct queue_entry *e,
    const struct queue_rcpt *r);

/*
 * Past max_queue_lifetime: every pending recipient of e fails, its reply
 * saying so (with the last reply it had).  each(arg, e, r), when not NULL,
 * is called for every recipient failed here.  Their number.
 */
size_t retry_expire(struct queue_entry *e, const struct outbound_config *cfg, int64_t now,
    retry_expired_fn *each, void *arg);

/* Seconds to wait after `attempts` tries: retry_min doubled per try up to
 * retry_max, plus rnd modulo a tenth of that (waits of 10 s and more). */
int64_t retry_backoff(const struct outbound_config *cfg, unsigned attempts, uint64_t rnd);

/* When e, still pending, is tried next (also stored in e->next_attempt):
 * after the backoff, never past max_queue_lifetime, and not past the
 * time of the "delayed" notice while one is still due. */
int64_t retry_next_attempt(struct queue_entry *e, const struct outbound_config *cfg,
    int64_t now, uint64_t rnd);

/*
 * Decide what becomes of e at now (expiring it first, see retry_expire).
 * e->next_attempt is set when out->next is.  For RETRY_WARN the caller
 * sets e->delay_warned once the notice is on its way, so there is only
 * one; a notice goes only to a sender that is not <>, and for RETRY_BOUNCE
 * only the failed recipients are reported (e->bounced: already done).
 */
void retry_decide(struct queue_entry *e, const struct outbound_config *cfg, int64_t now,
    uint64_t rnd, struct retry_decision *out);

#endif
