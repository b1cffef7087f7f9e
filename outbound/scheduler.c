/*
 * scheduler: the outbound queue runner.
 *
 * Every queued message lives in memory only as a heap item (id, next
 * attempt, creation time: 40 bytes, dueheap.c); its entry (.env) and body
 * (.msg, sched_body.c) are loaded only while it is being delivered.  Due
 * messages go to relay connections (at most max_connections, each reused
 * for up to messages_per_connection messages).  Results update the entry:
 * delivered / pending (4xx) / failed (5xx); what then becomes of the
 * message is the retry policy's decision (retry.c): bounced (DSN from <>
 * to its sender, for the failed recipients) and removed, or retried with
 * exponential backoff until max_queue_lifetime, with one "delayed" DSN
 * after delay_warning.
 *
 * Dropped files (maildrop/, pickup/) and control requests are noticed by
 * spoolwatch.c (inotify and a periodic scan, sched_watch.c).  A name that
 * cannot be taken, not even moved to bad/, waits in a backoff table (1 s
 * doubling to 1 h) consulted whenever it is handed over, so nothing is
 * ever tried on every event or scan; so do queue entries that cannot be
 * loaded.  Names from disk are escaped (log_printable) in every log line.
 * Dropped files are taken (copied into the queue) in batches without
 * fsync and made durable by one group commit per batch before any
 * delivery; state updates (sched_store.c) are stored in groups and
 * removals made in groups, all by the disk worker's threads
 * (sched_worker.c).  Due messages are made ready by sched_due.c.  The
 * event loop waits for the disk only for a control request
 * (sched_control.c: it reads the spool after every update handed over is
 * stored) or when the worker is not running (start-up, shutdown).
 *
 * This file keeps the scheduler's life (new, start, reload, stop, free),
 * dispatch to connections, the results of attempts, metrics and status.
 * It must not know about sockets, TLS or SMTP syntax (relay.c does).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <sys/mman.h>
#include <unistd.h>

#include <event2/dns.h>
#include <event2/event.h>

#include "backoff.h"
#include "daemon.h"
#include "fsutil.h"
#include "log.h"
#include "metrics.h"
#include "outmetrics.h"
#include "pickup.h"
#include "queue.h"
#include "retry.h"
#include "rewrite.h"
#include "sched_int.h"
#include "sched_worker.h"
#include "scheduler.h"
#include "spool.h"
#include "spooldirs.h"
#include "spoolwatch.h"
#include "util.h"

/* Note a change of queue/ itself (a removal, a replaced .env) for the next
 * commit. */
void
sched_note_dirty(struct sched *s)
{
	s->dirty = true;
	event_active(s->ev_commit, 0, 0);
}

/* Group commit: one fsync of queue/ for every removal and replaced .env
 * since the last one (each .env's data was fsynced before its rename). */
static void
sched_commit(struct sched *s)
{
	char err[512];

	if (s->dirty && fsutil_fsync_dirfd(s->dirs.queue, "queue", err, sizeof(err)) == -1)
		log_warnx("commit: %s", err);
	s->dirty = false;
}

/* Commit event callback. */
static void
sched_commit_cb(evutil_socket_t fd, short what, void *arg)
{
	sched_commit(arg);
}

/* Replace a malloc'd string. */
void
sched_set_str(char **dst, const char *src)
{
	free(*dst);
	*dst = src ? xstrdup(src) : NULL;
}

/* One log line per recipient and attempt; o is the attempt's outcome
 * (its relay and TLS version), NULL when none was made (expiry). */
static void
sched_log_out(const struct queue_entry *e, const char *rcpt, const struct relay_outcome *o,
    const char *status, const char *reply, int64_t now)
{
	const char *relay = o != NULL ? o->relay : NULL, *tls = o != NULL ? o->tls : NULL;

	log_info("out id=%s to=<%s> relay=%s status=%s reply=\"%s\" attempts=%u "
	    "delay=%llds tls=%s", e->id, rcpt, relay ? relay : "none", status,
	    reply ? reply : "", e->attempts, (long long)(now - e->created),
	    tls ? tls : "none");
}

/* What sched_expired_one needs. */
struct sched_expiry {
	struct sched *s;
	int64_t now;
};

/* retry_expire: a recipient failed past max_queue_lifetime is logged and
 * counted. */
static void
sched_expired_one(void *arg, const struct queue_entry *e, const struct queue_rcpt *r)
{
	struct sched_expiry *x = arg;

	sched_log_out(e, r->addr, NULL, "bounced", r->reply, x->now);
	outmetrics_expired(x->s->om);
}

/* Past max_queue_lifetime: every pending recipient fails. */
static void
sched_expire(struct sched *s, struct sched_delivery *d, int64_t now)
{
	struct sched_expiry x = { s, now };

	(void)retry_expire(&d->e, s->cfg, now, sched_expired_one, &x);
}

/*
 * After an attempt (or instead of one): bounce, warn, remove or requeue.
 * Every change of the spool goes to the worker as one update (see struct
 * sched_store); the loop does not wait for the disk.
 */
void
sched_finalize(struct sched *s, struct sched_delivery *d, int64_t now)
{
	struct queue_entry *e = &d->e;
	struct sched_store *st = sched_store_new(e);
	struct retry_decision dec;

	sched_expire(s, d, now);
	retry_decide(e, s->cfg, now, (uint64_t)random(), &dec);
	st->next_attempt = dec.next;
	st->ndelivered = dec.ndelivered;
	st->nfailed = dec.nfailed;
	if (dec.action == RETRY_BOUNCE && sched_store_dsn(s, st, d, DSN_FAILED, now) == 0) {
		sched_store_fallback(st, e);
		st->remove = true;
		sched_store_submit(s, st);
		return;
	}
	if (dec.action == RETRY_BOUNCE || dec.action == RETRY_REMOVE) {
		log_info("done id=%s delivered=%zu failed=%zu", e->id, st->ndelivered,
		    st->nfailed);
		sched_store_free(st);
		sched_remove(s, e->id);
		return;
	}
	if (dec.action == RETRY_WARN) {
		if (sched_store_dsn(s, st, d, DSN_DELAYED, now) == 0)
			sched_store_fallback(st, e);
		e->delay_warned = true;	/* only one "delayed" notice */
	}
	sched_store_env(st, e);
	sched_store_submit(s, st);
}

/* Free a delivery (unlinked from the in-flight list). */
void
sched_delivery_free(struct sched_delivery *d)
{
	if (d->owned)
		free(d->map);
	else if (d->map != NULL)
		munmap(d->map, d->maplen);
	queue_entry_free(&d->e);
	free(d->loaderr);
	free(d->idx);
	free(d->rcpts);
	free(d);
}

/* Unlink a delivery from the in-flight list. */
static void
sched_inflight_del(struct sched *s, struct sched_delivery *d)
{
	if (d->prev)
		d->prev->next = d->next;
	else
		s->inflight = d->next;
	if (d->next)
		d->next->prev = d->prev;
	d->prev = d->next = NULL;
	s->ninflight--;
}

/* Link a delivery into the in-flight list. */
void
sched_inflight_add(struct sched *s, struct sched_delivery *d)
{
	d->next = s->inflight;
	d->prev = NULL;
	if (s->inflight)
		s->inflight->prev = d;
	s->inflight = d;
	s->ninflight++;
}

/* The in-flight delivery of id, or NULL. */
struct sched_delivery *
sched_inflight_find(const struct sched *s, const char *id)
{
	struct sched_delivery *d;

	for (d = s->inflight; d != NULL; d = d->next)
		if (strcmp(d->e.id, id) == 0)
			return d;
	return NULL;
}

/* The picked-up (not yet sent) delivery of id, or NULL. */
struct sched_delivery *
sched_fresh_find(const struct sched *s, const char *id)
{
	struct sched_delivery *d;

	for (d = s->fresh; d != NULL; d = d->next)
		if (strcmp(d->e.id, id) == 0)
			return d;
	return NULL;
}

/* Apply the outcome for one recipient of the job. */
static void
sched_apply_rcpt(struct sched *s, struct sched_delivery *d, size_t k,
    const struct relay_outcome *o, int64_t now)
{
	struct queue_rcpt *r = &d->e.rcpts[d->idx[k]];
	enum client_rcpt_status st = CLIENT_RCPT_TEMPFAIL;
	const char *reply = o->failure ? o->failure->reply : "";
	const char *status = "deferred";

	if (o->results != NULL && k < o->nresults) {
		st = o->results[k].status;
		reply = o->results[k].reply;
	}
	sched_set_str(&r->reply, reply);
	sched_set_str(&d->e.last_reply, reply);
	if (st == CLIENT_RCPT_DELIVERED) {
		r->state = QUEUE_RCPT_DELIVERED;
		status = "sent";
		outmetrics_rcpt(s->om, o->smarthost, OUTMETRICS_DELIVERED);
	} else if (st == CLIENT_RCPT_PERMFAIL) {
		r->state = QUEUE_RCPT_FAILED;
		status = "bounced";
		outmetrics_rcpt(s->om, o->smarthost, OUTMETRICS_BOUNCED);
	} else
		outmetrics_rcpt(s->om, o->smarthost, OUTMETRICS_DEFERRED);
	sched_log_out(&d->e, r->addr, o, status, reply, now);
}

/* relay_ops.done: a job finished. */
static void
sched_job_done(void *arg, struct relay_job *job, const struct relay_outcome *o)
{
	struct sched_conn *sc = arg;
	struct sched *s = sc->s;
	struct sched_delivery *d = (struct sched_delivery *)job;
	int64_t now = sched_now();
	size_t k;

	s->last_done_ms = sched_now_ms();
	sched_inflight_del(s, d);
	if (o->abandoned && d->deleted) {	/* the delete request still holds */
		log_info("out id=%s status=abandoned (shutdown)", d->e.id);
		log_info("queue id=%s status=deleted", d->e.id);
		sched_remove(s, d->e.id);
		sched_delivery_free(d);
		return;
	}
	if (o->abandoned) {
		log_info("out id=%s status=abandoned (shutdown); stays queued", d->e.id);
		sched_delivery_free(d);
		return;
	}
	d->e.attempts++;
	for (k = 0; k < d->job.msg.nrcpts; k++)
		sched_apply_rcpt(s, d, k, o, now);
	for (k = 0; k < o->nresults && o->results != NULL; k++)
		if (o->results[k].status == CLIENT_RCPT_DELIVERED) {
			/* one transaction sent */
			outmetrics_bytes(s->om, o->smarthost, d->job.msg.size);
			break;
		}
	if (d->deleted) {
		log_info("queue id=%s status=deleted", d->e.id);
		sched_remove(s, d->e.id);
	} else
		sched_finalize(s, d, now);
	sched_delivery_free(d);
	sched_kick(s);
}

/* relay_ops.next: another message for a connection.  With nothing due
 * the session stays open, idle (the relay QUITs after timeout_idle), for
 * the next message: sched_wake_conns hands it over before any new
 * connection is opened (Postfix's connection cache).  A connection of
 * the profile before a reload gets nothing more: it QUITs. */
static struct relay_job *
sched_job_next(void *arg)
{
	struct sched_conn *sc = arg;
	struct sched_delivery *d;

	if (sc->s->stopping || (sc->rc != NULL && !relay_conn_uses(sc->rc, sc->s->prof)))
		return NULL;
	if ((d = sched_take_due(sc->s)) != NULL)
		return &d->job;
	sc->waiting = true;
	return RELAY_WAIT;
}

/* relay_ops.closed: a connection is gone. */
static void
sched_conn_closed(void *arg)
{
	struct sched_conn *sc = arg;
	struct sched *s = sc->s;

	if (sc->prev)
		sc->prev->next = sc->next;
	else
		s->conns = sc->next;
	if (sc->next)
		sc->next->prev = sc->prev;
	s->nconns--;
	free(sc);
	if (s->stopping && s->nconns == 0)
		event_active(s->ev_stopped, 0, 0);
	sched_kick(s);
}

static const struct relay_ops sched_relay_ops = {
	.next = sched_job_next,
	.done = sched_job_done,
	.closed = sched_conn_closed,
};

/* Open a connection for a first message. */
static void
sched_spawn(struct sched *s, struct sched_delivery *d)
{
	struct sched_conn *sc = xcalloc(1, sizeof(*sc));

	sc->s = s;
	sc->next = s->conns;
	if (s->conns)
		s->conns->prev = sc;
	s->conns = sc;
	s->nconns++;
	sc->rc = relay_conn_new(&(struct relay_loop){ s->base, s->dns }, s->prof,
	    outmetrics_relay(s->om), &d->job, &sched_relay_ops, sc);
}

/* Let idle (RELAY_WAIT) connections ask for work again. */
static void
sched_wake_conns(struct sched *s)
{
	struct sched_conn *sc;

	for (sc = s->conns; sc != NULL; sc = sc->next) {
		if (!sc->waiting)
			continue;
		sc->waiting = false;
		relay_conn_wake(sc->rc);	/* may set waiting again */
		if (sc->waiting)
			return;		/* nothing more to hand out */
	}
}

/* Start connections for due messages; arm the timer for the next one. */
static void
sched_dispatch_cb(evutil_socket_t fd, short what, void *arg)
{
	struct sched *s = arg;
	struct sched_delivery *d;
	struct timeval tv = { 0, 0 };
	int64_t now;

	if (s->stopping)
		return;
	sched_wake_conns(s);
	while (s->nconns < s->cfg->max_connections && (d = sched_take_due(s)) != NULL)
		sched_spawn(s, d);
	evtimer_del(s->ev_timer);
	if (s->nheap == 0)
		return;
	now = sched_now();
	if (s->heap[0].next > now)
		tv.tv_sec = (time_t)(s->heap[0].next - now);
	else if (s->nconns >= s->cfg->max_connections)
		return;		/* a finishing connection kicks us */
	else
		tv.tv_usec = 200000;
	evtimer_add(s->ev_timer, &tv);
}

/* Run the dispatcher soon (from any callback). */
void
sched_kick(struct sched *s)
{
	if (!s->stopping)
		event_active(s->ev_dispatch, 0, 0);
}

/* Watch the worker's eventfd and start its threads. */
static int
sched_start_worker(struct sched *s, char *err, size_t errlen)
{
	s->ev_worker = event_new(s->base, sched_worker_fd(s->w), EV_READ | EV_PERSIST,
	    sched_worker_cb, s);
	if (s->ev_worker == NULL || event_add(s->ev_worker, NULL) == -1) {
		snprintf(err, errlen, "scheduler: cannot watch the worker");
		return -1;
	}
	return sched_worker_start(s->w, err, errlen);
}

/* Free a list of deliveries linked by next. */
void
sched_delivery_list_free(struct sched_delivery *d)
{
	struct sched_delivery *n;

	for (; d != NULL; d = n) {
		n = d->next;
		sched_delivery_free(d);
	}
}

/* Messages queued: in the heap and in flight. */
size_t
sched_queue_size(const struct sched *s)
{
	return s->nheap + s->ninflight + s->nfresh + s->nstoring + s->nloading;
}

/* Age in seconds of the oldest queued message (0 when empty). */
int64_t
sched_oldest_age(const struct sched *s)
{
	const struct sched_delivery *d;
	int64_t oldest = 0, now = sched_now();
	size_t i;

	for (i = 0; i < s->nheap; i++)
		if (oldest == 0 || s->heap[i].created < oldest)
			oldest = s->heap[i].created;
	for (d = s->inflight; d != NULL; d = d->next)
		if (oldest == 0 || d->e.created < oldest)
			oldest = d->e.created;
	for (d = s->fresh; d != NULL; d = d->next)
		if (oldest == 0 || d->e.created < oldest)
			oldest = d->e.created;
	return oldest ? now - oldest : 0;
}

/* Status line every minute. */
static void
sched_status_cb(evutil_socket_t fd, short what, void *arg)
{
	struct sched *s = arg;
	size_t q = sched_queue_size(s);
	long long age = (long long)sched_oldest_age(s);

	log_info("status queue=%zu inflight=%zu connections=%zu oldest=%llds",
	    q, s->ninflight, s->nconns, age);
	daemon_notify_status("queue=%zu oldest=%llds", q, age);
}

/* queue_foreach callback at start-up: put one message in the heap. */
static int
sched_load_one(void *arg, const char *id)
{
	struct sched *s = arg;
	struct queue_entry e;
	char err[512];

	if (queue_entry_load(s->dirs.queue, id, &e, err, sizeof(err)) == -1) {
		if (errno != ENOENT)	/* counted, and tried again with backoff */
			sched_load_failed(s, id, sched_now(), sched_now(), err);
		return 0;
	}
	dueheap_push(&s->due, e.id, e.next_attempt, e.created);
	queue_entry_free(&e);
	return 0;
}

/* Create and check the spool's directories, recover pickups, load the
 * queue.  0, or a sysexits code with err. */
static int
sched_open_spool(struct sched *s, struct spool *spool, char *err, size_t errlen)
{
	struct spooldirs_at at;
	struct spooldirs sd;
	struct pickup_ctx pk;
	char e2[512];
	int n, rc;

	at.spoolfd = spool_dirfd(spool);
	at.tmpfd = spool_tmpfd(spool);
	at.spoolpath = s->spoolpath;
	at.submit_group = s->cfg->submit_group;
	rc = spooldirs_open(&at, &sd, err, errlen);
	if (rc != 0)
		return rc;
	s->dirs.pickup = sd.pickup;
	s->dirs.maildrop = sd.maildrop;
	s->dirs.queue = sd.queue;
	s->dirs.bad = sd.bad;
	s->controlfd = sd.control;
	if (fsutil_fsync_dirfd(spool_dirfd(spool), s->spoolpath, e2, sizeof(e2)) == -1)
		log_warnx("%s", e2);
	pk = s->pk;
	pk.now = sched_now();
	if ((n = pickup_recover(&pk, e2, sizeof(e2))) == -1) {
		snprintf(err, errlen, "pickup recovery: %s", e2);
		return EX_CANTCREAT;
	}
	if (n > 0)
		log_info("pickup recovered=%d", n);
	if (queue_foreach(s->dirs.queue, sched_load_one, s, e2, sizeof(e2)) == -1) {
		snprintf(err, errlen, "loading the queue: %s", e2);
		return EX_CANTCREAT;
	}
	log_info("queue loaded=%zu", s->nheap);
	return 0;
}

/* Create every event of the scheduler. */
static void
sched_events(struct sched *s)
{
	s->ev_timer = evtimer_new(s->base, sched_dispatch_cb, s);
	s->ev_dispatch = event_new(s->base, -1, 0, sched_dispatch_cb, s);
	s->ev_commit = event_new(s->base, -1, 0, sched_commit_cb, s);
	s->ev_status = event_new(s->base, -1, EV_PERSIST, sched_status_cb, s);
	s->ev_spill = evtimer_new(s->base, sched_spill_cb, s);
	s->ev_retry = evtimer_new(s->base, sched_retry_cb, s);
	if (!s->ev_timer || !s->ev_dispatch || !s->ev_commit ||
	    !s->ev_status || !s->ev_spill || !s->ev_retry)
		fatalx("scheduler: cannot create events");
	/* commit after the work of an iteration: lowest priority is not
	 * available without event_base_priority_init, so it is just active */
}

/* Create the scheduler (see scheduler.h). */
struct sched *
sched_new(const struct sched_setup *su, int *excode, char *err, size_t errlen)
{
	struct sched *s = xcalloc(1, sizeof(*s));
	struct event_base *base = su->base;
	struct spool *spool = su->spool;
	const struct outbound_config *cfg = su->cfg;
	struct relay_profile *prof = su->prof;
	struct metrics *m = su->metrics;

	s->base = base;
	s->cfg = cfg;
	s->prof = prof;
	s->spoolpath = xstrdup(spool_path(spool));
	s->tmpfd = s->dirs.tmp = spool_tmpfd(spool);
	s->dirs.pickup = s->dirs.maildrop = s->dirs.queue = s->dirs.bad = s->controlfd = -1;
	s->loadback = backoff_new();
	s->pk.dirs = &s->dirs;
	s->pk.spares = pickup_spares_new();	/* filled by the recovery */
	s->pk.policies = pickup_policies_new();
	pickup_policies_set(s->pk.policies, rewrite_policy_new(cfg));
	s->postpone = (int64_t)cfg->retry_min;
	*excode = EX_CANTCREAT;
	s->om = outmetrics_new(m, s, &s->dirs);
	outmetrics_hosts(s->om, cfg);
	sched_events(s);
	s->dns = evdns_base_new(base, EVDNS_BASE_INITIALIZE_NAMESERVERS |
	    EVDNS_BASE_DISABLE_WHEN_INACTIVE);
	if (s->dns == NULL)
		s->dns = evdns_base_new(base, EVDNS_BASE_DISABLE_WHEN_INACTIVE);
	if (s->dns == NULL || (s->w = sched_worker_new(&s->pk, err, errlen)) == NULL ||
	    (*excode = sched_open_spool(s, spool, err, errlen)) != 0) {
		if (s->dns == NULL)
			snprintf(err, errlen, "cannot set up the resolver");
		if (*excode == 0)
			*excode = EX_CANTCREAT;
		sched_free(s);
		return NULL;
	}
	return s;
}

/* Start the timers and watches, scan once. */
int
sched_start(struct sched *s, char *err, size_t errlen)
{
	struct timeval status = { SCHED_STATUS_SECS, 0 };

	s->last_done_ms = sched_now_ms();	/* give the first connections time */
	if (sched_start_worker(s, err, errlen) == -1 || sched_watch_start(s, err, errlen) == -1)
		return -1;
	event_add(s->ev_status, &status);
	sched_kick(s);
	event_active(s->ev_status, EV_TIMEOUT, 0);	/* the first status line at once */
	return 0;
}

/* Take a new configuration and relay profile. */
void
sched_reload(struct sched *s, const struct outbound_config *cfg, struct relay_profile *prof)
{
	s->cfg = cfg;
	relay_profile_unref(s->prof);
	s->prof = prof;
	pickup_policies_set(s->pk.policies, rewrite_policy_new(cfg));
	outmetrics_hosts(s->om, cfg);
	if (!s->stopping && s->watch != NULL)
		spoolwatch_set_interval(s->watch, cfg->scan_interval);
	sched_kick(s);
}

/* Grace period over: abandon what is still running. */
static void
sched_grace_cb(evutil_socket_t fd, short what, void *arg)
{
	struct sched *s = arg;
	struct sched_conn *sc;

	log_info("stop: grace period over, abandoning %zu connection(s)", s->nconns);
	for (sc = s->conns; sc != NULL; sc = sc->next)
		relay_conn_abort(sc->rc);
}

/* Everything stopped: commit and tell the caller. */
static void
sched_stopped_cb(evutil_socket_t fd, short what, void *arg)
{
	struct sched *s = arg;

	if (s->ev_grace != NULL)
		evtimer_del(s->ev_grace);
	sched_worker_stop(s->w);
	sched_commit(s);
	if (s->stop_done != NULL)
		s->stop_done(s->stop_arg);
	s->stop_done = NULL;
}

/* Graceful stop (see scheduler.h). */
void
sched_stop(struct sched *s, unsigned grace, void (*done)(void *), void *arg)
{
	struct timeval tv = { grace, 0 };
	struct sched_conn *sc;

	if (s->stopping)
		return;
	s->stopping = true;
	s->stop_done = done;
	s->stop_arg = arg;
	if (s->watch != NULL)
		spoolwatch_stop(s->watch);
	event_del(s->ev_timer);
	event_del(s->ev_status);
	event_del(s->ev_spill);
	if (s->retry_left > 0) {
		event_del(s->ev_retry);
		sched_retry_all_end(s, "stopped before it was done; the rest keep their times");
	}
	sched_worker_noclaim(s->w);
	for (sc = s->conns; sc != NULL; sc = sc->next)
		relay_conn_drain(sc->rc);
	s->ev_stopped = event_new(s->base, -1, 0, sched_stopped_cb, s);
	s->ev_grace = evtimer_new(s->base, sched_grace_cb, s);
	if (s->ev_stopped == NULL || s->ev_grace == NULL)
		fatalx("scheduler: cannot create events");
	if (s->nconns == 0)
		event_active(s->ev_stopped, 0, 0);
	else
		evtimer_add(s->ev_grace, &tv);
}

/* Free an event if it exists. */
static void
sched_event_free(struct event *ev)
{
	if (ev != NULL)
		event_free(ev);
}

/* Free everything (no connection may be running). */
void
sched_free(struct sched *s)
{
	struct event *evs[] = { s->ev_timer, s->ev_dispatch,
	    s->ev_worker, s->ev_commit, s->ev_status, s->ev_grace, s->ev_stopped,
	    s->ev_spill, s->ev_retry };
	int fds[] = { s->dirs.pickup, s->dirs.maildrop, s->dirs.queue, s->dirs.bad,
	    s->controlfd };
	size_t i;

	sched_worker_stop(s->w);
	spoolwatch_free(s->watch);
	for (i = 0; i < sizeof(evs) / sizeof(evs[0]); i++)
		sched_event_free(evs[i]);
	sched_worker_free(s->w);	/* its threads joined: no claim under way */
	pickup_spares_free(s->pk.spares);
	pickup_policies_free(s->pk.policies);
	sched_delivery_list_free(s->fresh);
	for (i = 0; i < sizeof(fds) / sizeof(fds[0]); i++)
		if (fds[i] != -1)
			close(fds[i]);
	if (s->dns != NULL)
		evdns_base_free(s->dns, 0);
	dueheap_free(&s->due);
	free(s->spoolpath);
	backoff_free(s->loadback);
	relay_profile_unref(s->prof);
	outmetrics_free(s->om);
	free(s);
}
