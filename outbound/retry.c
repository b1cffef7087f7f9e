/*
 * retry: the outbound retry policy (see retry.h).  Knows nothing about
 * files, the clock, logging, libevent or threads; it changes only the
 * queue entry it is given.
 */
#include <stdio.h>
#include <stdlib.h>

#include "client.h"
#include "retry.h"
#include "util.h"

/* Count recipients in a state. */
size_t
retry_count(const struct queue_entry *e, enum queue_rcpt_state st)
{
	size_t i, n = 0;

	for (i = 0; i < e->nrcpts; i++)
		n += e->rcpts[i].state == st;
	return n;
}

/* Has e reached max_queue_lifetime? */
bool
retry_expired(const struct queue_entry *e, const struct outbound_config *cfg, int64_t now)
{
	return now >= e->created + (int64_t)cfg->max_queue_lifetime;
}

/* Past max_queue_lifetime: every pending recipient fails. */
size_t
retry_expire(struct queue_entry *e, const struct outbound_config *cfg, int64_t now,
    retry_expired_fn *each, void *arg)
{
	char text[CLIENT_REPLY_MAX + 64];
	size_t i, n = 0;

	if (!retry_expired(e, cfg, now))
		return 0;
	for (i = 0; i < e->nrcpts; i++) {
		if (e->rcpts[i].state != QUEUE_RCPT_PENDING)
			continue;
		e->rcpts[i].state = QUEUE_RCPT_FAILED;
		if (e->rcpts[i].reply != NULL)
			snprintf(text, sizeof(text), "%s; last reply: %s", RETRY_EXPIRED_REPLY,
			    e->rcpts[i].reply);
		else
			util_strlcpy(text, RETRY_EXPIRED_REPLY, sizeof(text));
		free(e->rcpts[i].reply);
		e->rcpts[i].reply = xstrdup(text);
		if (each != NULL)
			each(arg, e, &e->rcpts[i]);
		n++;
	}
	return n;
}

/* Seconds until the next attempt after `attempts` tries, with jitter. */
int64_t
retry_backoff(const struct outbound_config *cfg, unsigned attempts, uint64_t rnd)
{
	uint64_t d = cfg->retry_min ? cfg->retry_min : 1;
	unsigned i;

	for (i = 1; i < attempts && d < cfg->retry_max; i++)
		d *= 2;
	if (d > cfg->retry_max)
		d = cfg->retry_max;
	if (d >= 10)
		d += rnd % (d / 10);
	return (int64_t)d;
}

/* When a message that is still pending is tried next (sets e's). */
int64_t
retry_next_attempt(struct queue_entry *e, const struct outbound_config *cfg, int64_t now,
    uint64_t rnd)
{
	int64_t next, limit;

	next = now + retry_backoff(cfg, e->attempts ? e->attempts : 1, rnd);
	limit = e->created + (int64_t)cfg->max_queue_lifetime;
	if (next > limit)
		next = limit;
	limit = e->created + (int64_t)cfg->delay_warning;
	if (cfg->delay_warning && !e->delay_warned && e->sender[0] && limit > now &&
	    next > limit)
		next = limit;
	e->next_attempt = next;
	return next;
}

/* Bounce, warn, remove or requeue. */
void
retry_decide(struct queue_entry *e, const struct outbound_config *cfg, int64_t now,
    uint64_t rnd, struct retry_decision *out)
{
	out->next = 0;
	out->ndelivered = out->nfailed = 0;
	(void)retry_expire(e, cfg, now, NULL, NULL);
	if (retry_count(e, QUEUE_RCPT_PENDING) == 0) {
		out->ndelivered = retry_count(e, QUEUE_RCPT_DELIVERED);
		out->nfailed = retry_count(e, QUEUE_RCPT_FAILED);
		out->action = RETRY_REMOVE;
		if (out->nfailed && !e->bounced) {	/* <>: the postmaster's notice */
			out->action = RETRY_BOUNCE;
			out->next = retry_next_attempt(e, cfg, now, rnd);
		}
		return;
	}
	out->next = retry_next_attempt(e, cfg, now, rnd);
	out->action = cfg->delay_warning && !e->delay_warned && e->sender[0] &&
	    now - e->created >= (int64_t)cfg->delay_warning ? RETRY_WARN : RETRY_REQUEUE;
}
