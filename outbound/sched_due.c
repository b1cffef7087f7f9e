/*
 * sched_due: due messages made ready to send, on the event loop.  While
 * the worker runs, due messages leave the heap for the worker, which
 * loads their entry and body (sched_prefetch_due, at most
 * sched_prefetch_max at a time) and hands them back with the messages it
 * picked up; sched_worker_collect takes what it finished (also stored
 * updates) into the fresh list, from which connections take their next
 * message.  Without the worker (start-up, shutdown) a due message is
 * loaded here.  When the smart hosts do not keep up, picked-up messages
 * are spilled back to the on-disk schedule.
 *
 * Runs on the event loop only; the worker is reached through
 * sched_worker.h.  It must not know about connections or SMTP.
 */
#include <errno.h>
#include <stdlib.h>
#include <unistd.h>
#ifndef NDEBUG
#include <assert.h>
#endif

#include <event2/event.h>

#include "backoff.h"
#include "log.h"
#include "queue.h"
#include "retry.h"
#include "sched_int.h"
#include "sched_worker.h"
#include "util.h"

static void sched_worker_collect(struct sched *s);

#ifndef NDEBUG
/* Debug build: the loop's counters of the fresh list against the list. */
static void
sched_fresh_check(const struct sched *s)
{
	const struct sched_delivery *d;
	size_t n = 0, loaded = 0;

	for (d = s->fresh; d != NULL; d = d->next) {
		n++;
		loaded += d->loaded;
		assert(d->next != NULL || d == s->fresh_tail);
	}
	assert((s->fresh == NULL) == (s->fresh_tail == NULL));
	assert(n == s->nfresh && loaded == s->nloaded);
}
#else
#define sched_fresh_check(s)	((void)0)
#endif

/*
 * A due message (loaded by the worker, or by sched_prepare) about to be
 * sent: true when it was dealt with instead (expired, nothing pending,
 * its message unreadable) and freed.
 */
static bool
sched_due_settle(struct sched *s, struct sched_delivery *d)
{
	int64_t now = sched_now();

	if (d->unreadable) {
		d->e.attempts++;
		sched_set_str(&d->e.last_reply, "cannot read the queued message");
	} else if (!retry_expired(&d->e, s->cfg, now) &&
	    retry_count(&d->e, QUEUE_RCPT_PENDING) > 0)
		return false;
	sched_finalize(s, d, now);
	sched_delivery_free(d);
	return true;
}

/*
 * A queued message whose entry cannot be loaded (unreadable, corrupt): it
 * stays in the heap (so it is counted) and is tried again after a
 * backoff, 1 s doubling to 1 h; only its first failure in a row is
 * logged.  err may be NULL (the worker logged nothing).
 */
void
sched_load_failed(struct sched *s, const char *id, int64_t created, int64_t now,
    const char *err)
{
	char eerr[SCHED_ESC * 2];
	int64_t wait;

	if (backoff_fail(s->loadback, id, now, &wait) == 1)
		log_warnx("queue id=%s status=unreadable retry=backoff: %s", id,
		    err != NULL ? log_printable(err, strlen(err), eerr, sizeof(eerr)) :
		    "cannot load its entry");
	dueheap_push(&s->due, id, now + wait, created);
}

/* Load a due message for delivery; NULL when it needs none now. */
static struct sched_delivery *
sched_prepare(struct sched *s, const struct dueheap_item *it, int64_t now)
{
	struct sched_delivery *d;
	char err[512];

	d = xcalloc(1, sizeof(*d));
	d->s = s;
	if (queue_entry_load(s->dirs.queue, it->id, &d->e, err, sizeof(err)) == -1) {
		if (errno != ENOENT)
			sched_load_failed(s, it->id, it->created, now, err);
		free(d);
		return NULL;
	}
	backoff_forget(s->loadback, it->id);
	if (!retry_expired(&d->e, s->cfg, now) &&
	    retry_count(&d->e, QUEUE_RCPT_PENDING) > 0 &&
	    sched_map(s->dirs.queue, d, false, err, sizeof(err)) == -1) {
		log_warnx("queue id=%s: %s", d->e.id, err);
		d->unreadable = true;
	}
	if (sched_due_settle(s, d))
		return NULL;
	sched_build_job(d);
	sched_inflight_add(s, d);
	return d;
}

/* Take the oldest message ready to send: just picked up or loaded (entry
 * and body in memory, or mapped by the worker when too big to keep; mapped
 * here only when the worker could not). */
static struct sched_delivery *
sched_take_fresh(struct sched *s)
{
	struct sched_delivery *d;
	char err[512];

	while ((d = s->fresh) != NULL) {
		s->fresh = d->next;
		if (s->fresh == NULL)
			s->fresh_tail = NULL;
		d->next = NULL;
		s->nfresh--;
		sched_worker_taken(s->w, d);
		if (d->loaded)
			s->nloaded--;
		/* a picked-up message refused at once (pickup_origin.c) is settled too */
		if ((d->loaded || retry_count(&d->e, QUEUE_RCPT_PENDING) == 0) && !d->deleted &&
		    sched_due_settle(s, d))
			continue;
		if (!d->deleted && d->map == NULL &&
		    sched_map(s->dirs.queue, d, false, err, sizeof(err)) == -1) {
			log_warnx("queue id=%s: %s (retried later)", d->e.id, err);
			dueheap_push(&s->due, d->e.id, sched_now() + (int64_t)s->cfg->retry_min,
			    d->e.created);
			sched_delivery_free(d);
			continue;
		}
		if (!d->deleted) {
			sched_build_job(d);
			sched_inflight_add(s, d);
			return d;
		}
		log_info("queue id=%s status=deleted", d->e.id);
		sched_remove(s, d->e.id);
		sched_delivery_free(d);
	}
	return NULL;
}

/* How many due messages may be loading or loaded and waiting at once:
 * enough to keep every connection busy, few enough that a stalled relay
 * does not pull the schedule into memory. */
static size_t
sched_prefetch_max(const struct sched *s)
{
	return 2 * (size_t)s->cfg->max_connections + 2;
}

/*
 * Hand due messages to the worker, which loads their entry and body off
 * the event loop and returns them through the fresh list.  Their memory
 * is reserved in the worker's budget now, so loading never waits for it.
 */
static void
sched_prefetch_due(struct sched *s, int64_t now)
{
	struct dueheap_item *items;
	size_t n = 0;

	if (s->stopping || s->nheap == 0 || s->heap[0].next > now ||
	    s->nloading + s->nloaded >= sched_prefetch_max(s))
		return;		/* nothing due (the common case): no lock */
	items = xmalloc((sched_prefetch_max(s) - s->nloading - s->nloaded) * sizeof(*items));
	while (!s->stopping && s->nheap > 0 && s->heap[0].next <= now &&
	    s->nloading + s->nloaded < sched_prefetch_max(s)) {
		(void)dueheap_pop(&s->due, &items[n++]);
		s->nloading++;
	}
	sched_worker_load(s->w, items, n);	/* all at once, as one batch */
	free(items);
}

/* Pop the next due message ready for delivery, or NULL. */
struct sched_delivery *
sched_take_due(struct sched *s)
{
	struct sched_delivery *d;
	struct dueheap_item it;
	int64_t now = sched_now();

	if (sched_worker_started(s->w)) {
		sched_prefetch_due(s, now);
		return !s->stopping && s->fresh != NULL ? sched_take_fresh(s) : NULL;
	}
	/* no worker (start-up, shutdown): load here */
	while (!s->stopping && s->nheap > 0 && s->heap[0].next <= now) {
		(void)dueheap_pop(&s->due, &it);
		if ((d = sched_prepare(s, &it, now)) != NULL)
			return d;
	}
	if (!s->stopping && s->fresh != NULL)
		return sched_take_fresh(s);
	return NULL;
}

/*
 * When the smart hosts do not take messages as fast as they are picked
 * up (down, slow, hanging), hand the oldest just-picked-up messages over
 * to the on-disk schedule: they are durable already, so only their memory
 * is released, and the claimer, which stops at SCHED_READY_MAX held
 * messages, keeps moving pickup/ into the queue.  Only while no delivery
 * has ended for SCHED_STALL_MS: a relay that is working through a burst
 * would otherwise have to read them back from disk.  While too many are
 * held, this runs again every 250 ms (ev_spill).
 */
static void
sched_spill_fresh(struct sched *s, int64_t now)
{
	struct timeval again = { 0, 250000 };
	struct sched_delivery *d;
	bool stalled = sched_now_ms() - s->last_done_ms >= SCHED_STALL_MS;

	while (stalled && s->nfresh > SCHED_FRESH_KEEP && (d = s->fresh) != NULL) {
		s->fresh = d->next;
		if (s->fresh == NULL)
			s->fresh_tail = NULL;
		s->nfresh--;
		s->nloaded -= d->loaded;
		dueheap_push(&s->due, d->e.id, now, d->e.created);
		sched_worker_taken(s->w, d);
		sched_delivery_free(d);
	}
	if (s->nfresh > SCHED_FRESH_KEEP && !s->stopping &&
	    !evtimer_pending(s->ev_spill, NULL))
		evtimer_add(s->ev_spill, &again);
}

/* Spill timer. */
void
sched_spill_cb(evutil_socket_t fd, short what, void *arg)
{
	struct sched *s = arg;

	sched_spill_fresh(s, sched_now());
	sched_kick(s);
}

/* Loop side: finish a list of stored updates. */
static void
sched_stored_apply(struct sched *s, struct sched_store *list)
{
	struct sched_store *st;

	while ((st = list) != NULL) {
		list = st->next;
		st->next = NULL;
		sched_store_done(s, st);
	}
}

/* Loop side: take what the worker has finished (claimed or loaded
 * messages, stored updates) and schedule it. */
static void
sched_worker_collect(struct sched *s)
{
	struct sched_worker_check chk = { s->nfresh, s->nloading, s->nstoring };
	struct sched_delivery *got, *d;
	struct sched_store *stored;
	int64_t now = sched_now();

	sched_fresh_check(s);
	sched_worker_take(s->w, &chk, &got, &stored);
	sched_stored_apply(s, stored);
	while ((d = got) != NULL) {
		got = d->next;
		d->next = NULL;
		d->s = s;
		if (d->loaded)
			s->nloading--;
		if (d->gone) {		/* removed meanwhile (smtpgate-queue delete) */
			sched_worker_taken(s->w, d);
			sched_delivery_free(d);
			continue;
		}
		if (d->loaderr != NULL && !s->stopping) {	/* entry unloadable */
			sched_load_failed(s, d->e.id, d->e.created, now, d->loaderr);
			sched_worker_taken(s->w, d);
			sched_delivery_free(d);
			continue;
		}
		if (d->loaded)
			backoff_forget(s->loadback, d->e.id);
		if (d->postponed || s->stopping) {
			dueheap_push(&s->due, d->e.id, now + (d->postponed ? s->postpone : 0),
			    d->e.created);
			sched_worker_taken(s->w, d);
			sched_delivery_free(d);
			continue;
		}
		if (s->fresh_tail != NULL)
			s->fresh_tail->next = d;
		else
			s->fresh = d;
		s->fresh_tail = d;
		s->nfresh++;
		s->nloaded += d->loaded;
	}
	sched_spill_fresh(s, now);
	sched_kick(s);
}

/*
 * Loop side: wait until the worker has stored every update and loaded
 * every due message handed to it, and take them.  Control requests read
 * and change the spool directly, so they must see every update on disk
 * and find every message in the heap, in flight or in the fresh list.
 */
void
sched_worker_settle(struct sched *s)
{
	if (!sched_worker_started(s->w) || (s->nstoring == 0 && s->nloading == 0))
		return;
	sched_worker_wait_settled(s->w);
	sched_worker_collect(s);
}

/* eventfd readable: the worker has finished something. */
void
sched_worker_cb(evutil_socket_t fd, short what, void *arg)
{
	uint64_t v;

	if (read(fd, &v, sizeof(v)) == -1 && errno != EAGAIN)
		log_warn("scheduler: eventfd read");
	sched_worker_collect(arg);
}

