/*
 * sched_control: control requests to the outbound scheduler, posted by
 * smtpgate-queue as empty files named <verb>.<target>.<unique> in
 * control/ (only the name is read): retry or delete one message, or
 * "retry all", which rewrites the waiting messages' entries a group at a
 * time (SCHED_RETRY_GROUP per turn of the loop) so the loop keeps serving.
 *
 * Runs on the event loop.  A request first lets the worker settle
 * (sched_worker_settle), so that it sees every update on disk and finds
 * every message in the heap, in flight or in the fresh list.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "log.h"
#include "queue.h"
#include "sched_int.h"
#include "util.h"

#define SCHED_RETRY_GROUP 256	/* entries rewritten per turn of the loop */

/* Log the end of a "retry all" and forget it. */
void
sched_retry_all_end(struct sched *s, const char *why)
{
	if (s->retry_failed > 0 || why != NULL)
		log_warnx("control verb=retry target=all status=partial messages=%zu "
		    "failed=%zu left=%zu reason=\"%s\"", s->retry_done, s->retry_failed,
		    s->retry_left, why != NULL ? why : s->retry_err);
	else
		log_info("control verb=retry target=all status=ok messages=%zu", s->retry_done);
	s->retry_left = s->retry_done = s->retry_failed = 0;
	s->retry_err[0] = '\0';
}

/* Run the next group of a "retry all" after the loop has polled again (an
 * event made active from its own callback would run before any I/O). */
static void
sched_retry_next(struct sched *s)
{
	struct timeval now = { 0, 0 };

	evtimer_add(s->ev_retry, &now);
}

/*
 * One group of a "retry all": up to SCHED_RETRY_GROUP messages of the heap
 * still marked have their entries rewritten as due now (sharing one sync)
 * and become due; then the loop serves everything else before the next
 * group, so that a large queue does not hold the loop past the systemd
 * watchdog (scripts/bench.md, "Outbound scheduler").  The messages are the
 * heap's only: one in flight, being stored or removed is not in it, and is
 * not touched.  A rewrite that fails is counted and logged at the end, and
 * the message is retried anyway.
 */
void
sched_retry_cb(evutil_socket_t fd, short what, void *arg)
{
	struct sched *s = arg;
	char (*ids)[ID_LEN + 1] = xcalloc(SCHED_RETRY_GROUP, sizeof(*ids));
	char err[512];
	size_t i, n = 0;
	int rc;

	(void)fd;
	(void)what;
	for (i = 0; i < s->nheap && n < SCHED_RETRY_GROUP; i++) {
		if (!s->heap[i].retry)
			continue;
		memcpy(ids[n++], s->heap[i].id, sizeof(ids[0]));
		s->heap[i].retry = false;
		s->heap[i].next = 0;
	}
	s->retry_left = n < SCHED_RETRY_GROUP ? 0 : s->retry_left - n;
	rc = n ? queue_retry_ids(s->tmpfd, s->dirs.queue, (const char (*)[ID_LEN + 1])ids, n,
	    err, sizeof(err)) : 0;
	free(ids);
	s->retry_done += n;
	if (rc == -1) {
		s->retry_failed++;
		if (s->retry_err[0] == '\0')
			util_strlcpy(s->retry_err, err, sizeof(s->retry_err));
	}
	dueheap_heapify(&s->due);
	sched_kick(s);
	if (s->retry_left > 0)
		sched_retry_next(s);
	else
		sched_retry_all_end(s, NULL);
}

/* "retry all": mark every message waiting in the heap; sched_retry_cb()
 * makes them due a group at a time.  A request during one starts over. */
static void
sched_retry_all(struct sched *s)
{
	size_t i;

	for (i = 0; i < s->nheap; i++)
		s->heap[i].retry = true;
	s->retry_left = s->nheap;
	if (s->nheap == 0)
		sched_retry_all_end(s, NULL);
	else
		sched_retry_next(s);
}

/* Apply one control request named <verb>.<target>.<unique> (only the
 * name is read; the file itself is never opened). */
void
sched_control_one(struct sched *s, const char *name)
{
	char verb[32], target[64], err[512], ename[SCHED_ESC], eerr[SCHED_ESC * 2];
	struct sched_delivery *d;
	long i;

	if (sscanf(name, "%31[a-z].%63[a-z0-9].", verb, target) != 2) {
		log_warnx("control name=%s status=bad reason=\"malformed name\"",
		    sched_esc(name, ename));
		return;
	}
	sched_worker_settle(s);
	d = sched_inflight_find(s, target);
	if (d == NULL)
		d = sched_fresh_find(s, target);
	if (d != NULL && strcmp(verb, "delete") == 0) {
		d->deleted = true;
		log_info("control verb=delete target=%s status=pending (in flight)", target);
		return;
	}
	if (d != NULL && strcmp(verb, "retry") == 0) {	/* being sent already */
		log_info("control verb=retry target=%s status=ok (in flight)", target);
		return;
	}
	if (strcmp(verb, "retry") == 0 && strcmp(target, "all") == 0) {
		sched_retry_all(s);
		return;
	}
	if (queue_apply(s->tmpfd, s->dirs.queue, verb, target, err, sizeof(err)) == -1) {
		log_warnx("control verb=%s target=%s status=error reason=\"%s\"", verb, target,
		    log_printable(err, strlen(err), eerr, sizeof(eerr)));
		return;
	}
	log_info("control verb=%s target=%s status=ok", verb, target);
	if (strcmp(verb, "delete") == 0) {
		if ((i = dueheap_find(&s->due, target)) >= 0)
			dueheap_remove(&s->due, (size_t)i);
	} else if ((i = dueheap_find(&s->due, target)) >= 0) {
		s->heap[i].next = 0;
		dueheap_sift_up(&s->due, (size_t)i);
	}
	sched_kick(s);
}

