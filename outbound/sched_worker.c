/*
 * sched_worker: the outbound daemon's disk worker (see sched_worker.h):
 * the claimer, the committer and the reapers, their lock and condition
 * variables.  The only file of the scheduler that calls pthread_* (the
 * spare pools and the policies the scheduler owns keep a mutex each, see
 * outbound/README.md); the
 * event loop reaches the worker's fields only through the functions at
 * the end of this file.
 *
 * Who owns what: everything in struct sched_worker is under w->lock.  A
 * thread that works on a batch, a group of loads or of updates takes it
 * out of the shared lists first (and notes that it holds it: busy,
 * loading, committing, storing), works without the lock, then puts the
 * result on done/stored and writes the eventfd.
 *
 * It must not know about the heap's order, relay connections or SMTP.
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>
#ifndef NDEBUG
#include <assert.h>
#endif

#include "backoff.h"
#include "header.h"
#include "log.h"
#include "pickup.h"
#include "sched_int.h"
#include "sched_worker.h"
#include "util.h"

struct sched_worker {
	pthread_t claimer, committer, reapers[SCHED_REAPERS];
	size_t nreapers;		/* removal threads running */
	bool claimer_up, committer_up;	/* those threads were started */
	bool claimer_done;		/* the claimer has ended */
	pthread_mutex_t lock;
	pthread_cond_t cond;		/* the claimer waits on it */
	pthread_cond_t ccond;		/* the committer waits on it */
	pthread_cond_t rmcond;		/* the reapers wait on it */
	int wakefd;			/* eventfd: results are waiting */
	const struct pickup_dirs *dirs;
	const struct pickup_ctx *pk;	/* dirs, spares, policies (the scheduler's) */
	bool started, quit, busy;
	bool noclaim;			/* stopping: claim nothing more */
	char **names;			/* names to take: 'p' (pickup/) or
					   'm' (maildrop/), then the name */
	struct backoff *nameback;	/* names that could not be taken */
	size_t hnames, nnames, capnames;	/* names[hnames..nnames) */
	char (*rm)[ID_LEN + 1];		/* ids to remove */
	size_t nrm, caprm;
	struct sched_delivery *tocommit;	/* claimed, waiting for the committer */
	struct pickup_batch *batch;	/* its claims */
	bool committing;		/* the committer holds a batch */
	size_t ncommitting;		/* ... of that many deliveries */
	struct sched_delivery *done, *done_tail;	/* claimed and durable */
	struct sched_store *stores, *stores_tail;	/* updates to store */
	struct sched_store *stored, *stored_tail;	/* stored, for the loop */
	bool storing;			/* the committer holds updates */
	size_t nstoring;		/* ... that many */
	pthread_cond_t scond;		/* signalled when updates are stored
					   or due messages loaded */
	struct dueheap_item *loads;	/* due messages to load: loads[hloads..nloads) */
	size_t hloads, nloads, caploads;
	bool loading;			/* the claimer holds loads */
	size_t nround;			/* ... that many */
	size_t outstanding;		/* claimed, not yet taken for sending */
	size_t outbytes;		/* their bodies held in memory */
};

/* The backoff key of a dropped name: its source letter, then the name. */
static char *
sched_name_key(char src, const char *name)
{
	size_t n = strlen(name);
	char *k = xmalloc(n + 2);

	k[0] = src;
	memcpy(k + 1, name, n + 1);
	return k;
}

/* Hand a dropped name (src 'p': pickup/, 'm': maildrop/) to the worker,
 * unless it is backing off.  A full scan marks it as still there. */
void
sched_worker_add_name(struct sched_worker *w, char src, const char *name)
{
	char *key;

	if (name[0] == '.' || name[0] == '\0' || w == NULL)
		return;
	key = sched_name_key(src, name);
	pthread_mutex_lock(&w->lock);
	backoff_mark(w->nameback, key);
	if (!backoff_ready(w->nameback, key, sched_now())) {
		pthread_mutex_unlock(&w->lock);
		free(key);
		return;
	}
	if (w->hnames > 0 && w->hnames == w->nnames)
		w->hnames = w->nnames = 0;
	if (w->nnames == w->capnames) {
		w->capnames = w->capnames ? w->capnames * 2 : 256;
		w->names = xrealloc(w->names, w->capnames * sizeof(*w->names));
	}
	w->names[w->nnames++] = key;
	pthread_cond_broadcast(&w->cond);
	pthread_mutex_unlock(&w->lock);
}

/* Queue a removal for the worker. */
void
sched_worker_remove(struct sched_worker *w, const char *id)
{
	pthread_mutex_lock(&w->lock);
	if (w->nrm == w->caprm) {
		w->caprm = w->caprm ? w->caprm * 2 : 256;
		w->rm = xrealloc(w->rm, w->caprm * sizeof(*w->rm));
	}
	util_strlcpy(w->rm[w->nrm++], id, ID_LEN + 1);
	if (w->nrm % SCHED_REAP_GROUP == 1)	/* a new group: one more reaper */
		pthread_cond_signal(&w->rmcond);
	pthread_mutex_unlock(&w->lock);
}

/* Worker: a name that could not be taken backs off; its first failure
 * in a row is logged, the others are not. */
static void
sched_worker_backoff(struct sched_worker *w, const char *key, const char *ename,
    const struct pickup_taken *t)
{
	char eerr[SCHED_ESC * 2];
	int64_t wait;
	unsigned n;

	pthread_mutex_lock(&w->lock);
	n = backoff_fail(w->nameback, key, sched_now(), &wait);
	pthread_mutex_unlock(&w->lock);
	if (n == 1)
		log_warnx("pickup source=%s name=%s status=error retry=backoff: %s",
		    key[0] == 'm' ? "maildrop" : "pickup", ename,
		    log_printable(t->err, strlen(t->err), eerr, sizeof(eerr)));
}

/* Worker: log a taken file. */
static void
sched_worker_taken_log(const struct pickup_taken *t, const char *src, const char *ename)
{
	char esender[SCHED_ESC], emsgid[SCHED_ESC];

	log_info("pickup id=%s source=%s uid=%jd name=%s from=<%s> nrcpt=%zu size=%" PRIu64
	    " message-id=%s", t->e.id, src, t->have_uid ? (intmax_t)t->uid : (intmax_t)-1, ename,
	    sched_esc(t->e.sender, esender), t->e.nrcpts, t->e.size,
	    header_msgid_for_log(t->msg ? t->msg : "", t->msg ? t->msglen : 0, emsgid,
	    sizeof(emsgid)));
}

/* Worker: take one dropped file (key: source letter and name) in c's
 * batch; a delivery holding it, or NULL. */
static struct sched_delivery *
sched_worker_claim(struct sched_worker *w, const struct pickup_ctx *c, const char *key)
{
	struct pickup_taken *t = xcalloc(1, sizeof(*t));
	struct sched_delivery *d = NULL;
	enum pickup_source src = key[0] == 'm' ? PICKUP_SRC_MAILDROP : PICKUP_SRC_PICKUP;
	const char *label = key[0] == 'm' ? "maildrop" : "pickup";
	char ename[SCHED_ESC], ereason[SCHED_ESC * 2], eerr[SCHED_ESC * 2];
	bool ready;

	/* handed over again (by the inotify event of its own put-back, say)
	 * before its failure was recorded: still backing off */
	pthread_mutex_lock(&w->lock);
	ready = backoff_ready(w->nameback, key, sched_now());
	pthread_mutex_unlock(&w->lock);
	if (!ready) {
		free(t);
		return NULL;
	}
	sched_esc(key + 1, ename);
	switch (pickup_take(c, src, key + 1, t)) {
	case PICKUP_QUEUED:
		d = xcalloc(1, sizeof(*d));
		d->e = t->e;
		d->map = t->msg;
		d->maplen = t->msglen;
		d->owned = true;
		sched_worker_taken_log(t, label, ename);
		break;
	case PICKUP_BAD:
		log_warnx("pickup source=%s uid=%jd name=%s status=bad bad=%s reason=\"%s\"%s%s",
		    label, t->have_uid ? (intmax_t)t->uid : (intmax_t)-1, ename, t->bname,
		    log_printable(t->reason, strlen(t->reason), ereason, sizeof(ereason)),
		    t->err[0] ? " warning=" : "",
		    t->err[0] ? log_printable(t->err, strlen(t->err), eerr, sizeof(eerr)) : "");
		break;
	case PICKUP_GONE:
		break;
	case PICKUP_ERROR:
	default:
		sched_worker_backoff(w, key, ename, t);
		free(t);
		return NULL;
	}
	pthread_mutex_lock(&w->lock);
	backoff_forget(w->nameback, key);
	pthread_mutex_unlock(&w->lock);
	free(t);
	return d;
}

/* Worker: remove finished messages as one group (one fsync of queue/;
 * their inodes become spares for later copies). */
static void
sched_worker_unlink(struct sched_worker *w, char (*ids)[ID_LEN + 1], size_t n)
{
	char (*errs)[PICKUP_ERR_MAX] = xcalloc(n ? n : 1, sizeof(*errs)), err[512];
	size_t i;

	if (pickup_release_group(w->pk, (const char (*)[ID_LEN + 1])ids, n, errs, err,
	    sizeof(err)) == -1)
		log_warnx("commit: %s", err);
	for (i = 0; i < n; i++)
		if (errs[i][0] != '\0')
			log_warnx("queue id=%s: remove: %s", ids[i], errs[i]);
	free(errs);
}

/* What one claim round took. */
struct sched_claimed {
	struct sched_delivery *got;	/* the claimed list, not yet durable */
	struct pickup_batch *pb;	/* their claims, for the committer */
	size_t n, bytes;		/* deliveries, their bodies in memory */
};

/* Worker: claim names into a new batch (out).  Bodies beyond budget bytes
 * are not kept in memory (mapped once committed). */
static void
sched_worker_batch(struct sched_worker *w, char **names, size_t n, size_t budget,
    struct sched_claimed *out)
{
	struct sched_delivery **tail = &out->got, *d;
	struct pickup_ctx c = *w->pk;
	size_t i;

	memset(out, 0, sizeof(*out));
	out->pb = pickup_batch_new();
	c.batch = out->pb;		/* the batched mode: durable at the commit */
	c.now = sched_now();
	c.want_body = true;
	for (i = 0; i < n; i++) {
		if ((d = sched_worker_claim(w, &c, names[i])) != NULL) {
			if (out->bytes + d->maplen > budget) {
				free(d->map);
				d->map = NULL;
				d->maplen = 0;
				d->owned = false;
			}
			out->bytes += d->maplen;
			*tail = d;
			tail = &d->next;
			out->n++;
		}
		free(names[i]);
	}
}

/* Append a list of deliveries to the durable ones for the loop and wake
 * it (w->lock held). */
static void
sched_worker_deliver(struct sched_worker *w, struct sched_delivery *got)
{
	uint64_t one = 1;

	if (got != NULL) {
		if (w->done_tail != NULL)
			w->done_tail->next = got;
		else
			w->done = got;
		while (got->next != NULL)
			got = got->next;
		w->done_tail = got;
	}
	if (write(w->wakefd, &one, sizeof(one)) == -1 && errno != EAGAIN)
		log_warn("scheduler: eventfd write");
}

/* Claimer: wait for names to claim; false when told to quit. */
static bool
sched_claimer_wait(struct sched_worker *w)
{
	while (!w->quit && w->nloads == w->hloads &&
	    (w->nnames == w->hnames || w->noclaim || w->outstanding >= SCHED_READY_MAX ||
	    w->outbytes >= SCHED_READY_BYTES))
		pthread_cond_wait(&w->cond, &w->lock);
	return !w->quit;
}

/* Worker: load one due message (entry, and body when it fits). */
static struct sched_delivery *
sched_loader_one(struct sched_worker *w, const struct dueheap_item *it, size_t budget,
    size_t *bytes)
{
	struct sched_delivery *d = xcalloc(1, sizeof(*d));
	char err[512];

	d->loaded = true;
	*bytes = 0;
	if (queue_entry_load(w->dirs->queue, it->id, &d->e, err, sizeof(err)) == -1) {
		if (errno == ENOENT)
			d->gone = true;
		else {
			d->loaderr = xstrdup(err);	/* the loop logs it, or not */
			d->postponed = true;
		}
		util_strlcpy(d->e.id, it->id, sizeof(d->e.id));	/* e is empty */
		d->e.created = it->created;
		return d;
	}
	d->unreadable = !sched_body_read(w->dirs->queue, d, budget, bytes);
	return d;
}

/* Claimer: load every due message handed over, off the event loop, and
 * pass them to the loop like claimed ones. */
static void
sched_loader_round(struct sched_worker *w)
{
	struct dueheap_item *items;
	struct sched_delivery *head = NULL, **tail = &head;
	size_t n = w->nloads - w->hloads, i, bytes, budget;

	items = xmalloc(n * sizeof(*items));
	memcpy(items, w->loads + w->hloads, n * sizeof(*items));
	w->hloads = w->nloads = 0;
	w->loading = true;
	w->nround = n;
	budget = w->outbytes < SCHED_READY_BYTES ? SCHED_READY_BYTES - w->outbytes : 0;
	pthread_mutex_unlock(&w->lock);
	for (i = 0; i < n; i++) {
		*tail = sched_loader_one(w, &items[i], budget, &bytes);
		tail = &(*tail)->next;
		budget -= bytes < budget ? bytes : budget;
		pthread_mutex_lock(&w->lock);
		w->outbytes += bytes;
		pthread_mutex_unlock(&w->lock);
	}
	free(items);
	pthread_mutex_lock(&w->lock);
	w->loading = false;
	w->nround = 0;
	pthread_cond_broadcast(&w->scond);
	sched_worker_deliver(w, head);
}

/* Append list to the list at *head. */
static void
sched_delivery_append(struct sched_delivery **head, struct sched_delivery *list)
{
	while (*head != NULL)
		head = &(*head)->next;
	*head = list;
}

/* Claimer: claim up to batch names and pass them to the committer; while
 * it is busy, batches gather into one, so commits grow with their cost
 * and claiming never waits for them. */
static void
sched_claimer_round(struct sched_worker *w, size_t batch)
{
	char *names[SCHED_PICKUP_BATCH];
	struct sched_claimed cl;
	size_t n = 0, budget;

	budget = w->outbytes < SCHED_READY_BYTES ? SCHED_READY_BYTES - w->outbytes : 0;
	while (n < batch && w->hnames < w->nnames && w->outstanding + n < SCHED_READY_MAX)
		names[n++] = w->names[w->hnames++];
	if (w->hnames == w->nnames)
		w->hnames = w->nnames = 0;
	w->busy = true;
	pthread_mutex_unlock(&w->lock);
	sched_worker_batch(w, names, n, budget, &cl);
	pthread_mutex_lock(&w->lock);
	w->outstanding += cl.n;
	w->outbytes += cl.bytes;
	if (pickup_batch_size(cl.pb) == 0 && cl.got == NULL) {
		pickup_batch_free(cl.pb);	/* nothing claimed: just let the loop look */
		w->busy = false;
		sched_worker_deliver(w, NULL);
		return;
	}
	w->busy = false;
	if (w->batch != NULL) {	/* the committer is busy: join the waiting batch */
		sched_delivery_append(&w->tocommit, cl.got);
		pickup_batch_merge(w->batch, cl.pb);
		return;
	}
	w->tocommit = cl.got;
	w->batch = cl.pb;
	pthread_cond_signal(&w->ccond);
}

/* The claimer thread: small first batches so sending starts at once. */
static void *
sched_claimer_main(void *arg)
{
	struct sched_worker *w = arg;
	size_t batch = 16;

	pthread_mutex_lock(&w->lock);
	while (sched_claimer_wait(w)) {
		if (w->nloads > w->hloads) {
			sched_loader_round(w);
			continue;
		}
		sched_claimer_round(w, batch);
		if (batch < SCHED_PICKUP_BATCH)
			batch *= 2;
	}
	w->claimer_done = true;
	pthread_cond_signal(&w->ccond);
	pthread_mutex_unlock(&w->lock);
	return NULL;
}

/* Committer: make one batch durable; on failure its messages are
 * postponed (they stay queued, their claims stay for recovery). */
static void
sched_committer_round(struct sched_worker *w)
{
	struct sched_delivery *got = w->tocommit, *d;
	struct pickup_batch *pb = w->batch;
	char err[512];

	w->tocommit = NULL;
	w->batch = NULL;
	w->committing = true;
	for (d = got; d != NULL; d = d->next)
		w->ncommitting++;
	pthread_mutex_unlock(&w->lock);
	if (pickup_batch_commit(w->dirs, pb, err, sizeof(err)) == -1) {
		log_warnx("pickup commit: %s (delivery postponed)", err);
		for (d = got; d != NULL; d = d->next) {
			d->postponed = true;
			log_warnx("queue id=%s status=postponed reason=\"pickup commit failed\"",
			    d->e.id);
		}
	}
	/* the messages too big to keep in memory: mapped now that they are
	 * queue/<id>.msg, their pages read in here, not by the loop */
	for (d = got; d != NULL; d = d->next)
		if (!d->postponed && !d->owned && d->map == NULL &&
		    sched_map(w->dirs->queue, d, true, err, sizeof(err)) == -1)
			log_warnx("queue id=%s: %s (the event loop tries again)", d->e.id, err);
	pickup_batch_free(pb);
	pthread_mutex_lock(&w->lock);
	w->committing = false;
	w->ncommitting = 0;
	sched_worker_deliver(w, got);
}

/* Committer: store every update waiting, as one group, and hand them
 * back to the loop. */
static void
sched_store_round(struct sched_worker *w)
{
	struct sched_store *list = w->stores, *last;

	w->stores = w->stores_tail = NULL;
	w->storing = true;
	for (last = list; last != NULL; last = last->next)
		w->nstoring++;
	pthread_mutex_unlock(&w->lock);
	sched_store_run(w->dirs, list);
	for (last = list; last->next != NULL; last = last->next)
		;
	pthread_mutex_lock(&w->lock);
	w->storing = false;
	w->nstoring = 0;
	if (w->stored_tail != NULL)
		w->stored_tail->next = list;
	else
		w->stored = list;
	w->stored_tail = last;
	pthread_cond_broadcast(&w->scond);
	sched_worker_deliver(w, NULL);
}

/* The committer thread: runs until the claimer has ended and nothing is
 * left to commit or store. */
static void *
sched_committer_main(void *arg)
{
	struct sched_worker *w = arg;

	pthread_mutex_lock(&w->lock);
	for (;;) {
		while (w->batch == NULL && w->stores == NULL && !(w->quit && w->claimer_done))
			pthread_cond_wait(&w->ccond, &w->lock);
		if (w->stores != NULL) {
			sched_store_round(w);
			continue;
		}
		if (w->batch == NULL)
			break;
		sched_committer_round(w);
	}
	pthread_mutex_unlock(&w->lock);
	return NULL;
}

/* Reaper: move up to SCHED_REAP_GROUP ids (oldest first) out of w->rm
 * into ids (w->lock held); their number. */
static size_t
sched_reaper_take(struct sched_worker *w, char (*ids)[ID_LEN + 1])
{
	size_t n = w->nrm < SCHED_REAP_GROUP ? w->nrm : SCHED_REAP_GROUP;

	memcpy(ids, w->rm, n * sizeof(*ids));
	memmove(w->rm, w->rm + n, (w->nrm - n) * sizeof(*w->rm));
	w->nrm -= n;
	return n;
}

/* A reaper thread (one of SCHED_REAPERS): removes finished messages, a
 * group at a time, each group made durable by one fsync of queue/ (in
 * pickup_release_group), until told to quit with none left. */
static void *
sched_reaper_main(void *arg)
{
	struct sched_worker *w = arg;
	const struct timespec pause = { 0, SCHED_REAP_PAUSE_NS };
	char ids[SCHED_REAP_GROUP][ID_LEN + 1];
	size_t n;

	pthread_mutex_lock(&w->lock);
	for (;;) {
		while (!w->quit && w->nrm == 0)
			pthread_cond_wait(&w->rmcond, &w->lock);
		if (w->nrm == 0)
			break;
		n = sched_reaper_take(w, ids);
		pthread_mutex_unlock(&w->lock);
		sched_worker_unlink(w, ids, n);
		if (n < SCHED_REAP_GROUP)
			nanosleep(&pause, NULL);	/* let the next group gather */
		pthread_mutex_lock(&w->lock);
	}
	pthread_mutex_unlock(&w->lock);
	return NULL;
}

/* Tell the worker threads to quit and wait for the claimer and the
 * reapers started so far. */
static void
sched_worker_join(struct sched_worker *w)
{
	pthread_mutex_lock(&w->lock);
	w->quit = true;
	pthread_cond_broadcast(&w->cond);
	pthread_cond_broadcast(&w->ccond);
	pthread_cond_broadcast(&w->rmcond);
	pthread_mutex_unlock(&w->lock);
	if (w->claimer_up)
		pthread_join(w->claimer, NULL);
	if (w->committer_up)
		pthread_join(w->committer, NULL);
	w->claimer_up = w->committer_up = false;
	while (w->nreapers > 0)
		pthread_join(w->reapers[--w->nreapers], NULL);
}


/* Create the worker (not started). */
struct sched_worker *
sched_worker_new(const struct pickup_ctx *pk, char *err, size_t errlen)
{
	struct sched_worker *w = xcalloc(1, sizeof(*w));

	w->pk = pk;
	w->dirs = pk->dirs;
	w->nameback = backoff_new();
	pthread_mutex_init(&w->lock, NULL);
	pthread_cond_init(&w->cond, NULL);
	pthread_cond_init(&w->ccond, NULL);
	pthread_cond_init(&w->rmcond, NULL);
	pthread_cond_init(&w->scond, NULL);
	w->wakefd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (w->wakefd == -1) {
		snprintf(err, errlen, "eventfd: %s", strerror(errno));
		free(w);
		return NULL;
	}
	return w;
}

/* The eventfd the loop watches. */
int
sched_worker_fd(const struct sched_worker *w)
{
	return w->wakefd;
}

/* Start the worker threads. */
int
sched_worker_start(struct sched_worker *w, char *err, size_t errlen)
{
	int rc;

	if ((rc = pthread_create(&w->committer, NULL, sched_committer_main, w)) != 0) {
		snprintf(err, errlen, "pthread_create: %s", strerror(rc));
		return -1;
	}
	w->committer_up = true;
	if ((rc = pthread_create(&w->claimer, NULL, sched_claimer_main, w)) != 0) {
		snprintf(err, errlen, "pthread_create: %s", strerror(rc));
		pthread_mutex_lock(&w->lock);
		w->claimer_done = true;	/* lets the committer end */
		pthread_cond_signal(&w->ccond);
		pthread_mutex_unlock(&w->lock);
		sched_worker_join(w);
		return -1;
	}
	w->claimer_up = true;
	while (w->nreapers < SCHED_REAPERS) {
		rc = pthread_create(&w->reapers[w->nreapers], NULL, sched_reaper_main, w);
		if (rc != 0) {
			snprintf(err, errlen, "pthread_create: %s", strerror(rc));
			sched_worker_join(w);
			return -1;
		}
		w->nreapers++;
	}
	w->started = true;
	return 0;
}

/* true while the threads run. */
bool
sched_worker_started(const struct sched_worker *w)
{
	return w != NULL && w->started;
}

/* Stop the worker: it finishes pending removals, claims nothing more. */
void
sched_worker_stop(struct sched_worker *w)
{
	if (w == NULL || !w->started)
		return;
	sched_worker_join(w);
	w->started = false;
}

/* Free the (stopped) worker. */
void
sched_worker_free(struct sched_worker *w)
{
	size_t i;

	if (w == NULL)
		return;
	for (i = w->hnames; i < w->nnames; i++)
		free(w->names[i]);
	free(w->names);
	backoff_free(w->nameback);
	free(w->rm);
	free(w->loads);
	sched_delivery_list_free(w->done);
	sched_store_list_free(w->stores);
	sched_store_list_free(w->stored);
	sched_delivery_list_free(w->tocommit);
	pickup_batch_free(w->batch);
	close(w->wakefd);
	pthread_mutex_destroy(&w->lock);
	pthread_cond_destroy(&w->cond);
	pthread_cond_destroy(&w->ccond);
	pthread_cond_destroy(&w->rmcond);
	pthread_cond_destroy(&w->scond);
	free(w);
}

/* spoolwatch: true while names handed over are still waiting. */
bool
sched_worker_names_left(struct sched_worker *w)
{
	size_t left;

	pthread_mutex_lock(&w->lock);
	left = w->nnames - w->hnames;
	pthread_mutex_unlock(&w->lock);
	return left > 0;
}

/* A full scan ended; names not seen since the last one leave the backoff
 * table. */
void
sched_worker_sweep(struct sched_worker *w)
{
	pthread_mutex_lock(&w->lock);
	(void)backoff_sweep(w->nameback);
	pthread_mutex_unlock(&w->lock);
}

/* Stopping: claim nothing more. */
void
sched_worker_noclaim(struct sched_worker *w)
{
	pthread_mutex_lock(&w->lock);
	w->noclaim = true;
	pthread_mutex_unlock(&w->lock);
}

/* Hand due messages to the claimer, which loads their entry and body off
 * the event loop; their memory is reserved in the budget now, so loading
 * never waits for it. */
void
sched_worker_load(struct sched_worker *w, const struct dueheap_item *items, size_t n)
{
	size_t i;

	if (n == 0)
		return;
	pthread_mutex_lock(&w->lock);
	for (i = 0; i < n; i++) {
		if (w->hloads > 0 && w->hloads == w->nloads)
			w->hloads = w->nloads = 0;
		if (w->nloads == w->caploads) {
			w->caploads = w->caploads ? w->caploads * 2 : 64;
			w->loads = xrealloc(w->loads, w->caploads * sizeof(*w->loads));
		}
		w->loads[w->nloads++] = items[i];
		w->outstanding++;
	}
	pthread_cond_broadcast(&w->cond);
	pthread_mutex_unlock(&w->lock);
}

/* Hand an update to the committer. */
void
sched_worker_store(struct sched_worker *w, struct sched_store *st)
{
	pthread_mutex_lock(&w->lock);
	if (w->stores_tail != NULL)
		w->stores_tail->next = st;
	else
		w->stores = st;
	w->stores_tail = st;
	pthread_cond_signal(&w->ccond);
	pthread_mutex_unlock(&w->lock);
}

/* A claimed message left the worker's hands: release its budget. */
void
sched_worker_taken(struct sched_worker *w, const struct sched_delivery *d)
{
	pthread_mutex_lock(&w->lock);
	w->outstanding--;
	if (d->owned)
		w->outbytes -= d->maplen;
	pthread_cond_broadcast(&w->cond);
	pthread_mutex_unlock(&w->lock);
}


/* Wait until every update handed over is stored and every due message
 * handed over is loaded. */
void
sched_worker_wait_settled(struct sched_worker *w)
{
	pthread_mutex_lock(&w->lock);
	while (w->stores != NULL || w->storing || w->nloads > w->hloads || w->loading)
		pthread_cond_wait(&w->scond, &w->lock);
	pthread_mutex_unlock(&w->lock);
}

#ifndef NDEBUG
/* Debug build: the number of deliveries on a list, checking its tail. */
static size_t
sched_worker_check_list(const struct sched_delivery *d, const struct sched_delivery *tail,
    size_t *loaded)
{
	size_t n = 0;

	for (; d != NULL; d = d->next) {
		n++;
		*loaded += d->loaded;
		assert(d->next != NULL || tail == NULL || d == tail);
	}
	return n;
}

/* Debug build: the number of updates on a list, checking its tail. */
static size_t
sched_worker_check_stores(const struct sched_store *st, const struct sched_store *tail)
{
	size_t n = 0;

	assert((st == NULL) == (tail == NULL));
	for (; st != NULL; st = st->next) {
		n++;
		assert(st->next != NULL || st == tail);
	}
	return n;
}

/*
 * Debug build: the worker's counters against its lists and what the loop
 * holds (w->lock held).  Every delivery claimed or handed over for
 * loading, and not yet given back by sched_worker_taken, is counted once
 * in outstanding: waiting to be loaded, being loaded, waiting for or in a
 * commit, done, or in the loop's fresh list.
 */
static void
sched_worker_check(const struct sched_worker *w, const struct sched_worker_check *chk)
{
	size_t loaded = 0, skip = 0, done, tocommit, stores, stored;

	assert(w->hnames <= w->nnames && w->nnames <= w->capnames);
	assert(w->hloads <= w->nloads && w->nloads <= w->caploads);
	assert(w->nrm <= w->caprm);
	assert(w->loading || w->nround == 0);
	assert(w->committing || w->ncommitting == 0);
	assert(w->storing || w->nstoring == 0);
	assert((w->done == NULL) == (w->done_tail == NULL));
	done = sched_worker_check_list(w->done, w->done_tail, &loaded);
	tocommit = sched_worker_check_list(w->tocommit, NULL, &skip);
	stores = sched_worker_check_stores(w->stores, w->stores_tail);
	stored = sched_worker_check_stores(w->stored, w->stored_tail);
	assert(skip == 0);	/* claimed, never loaded */
	assert(w->outstanding == (w->nloads - w->hloads) + w->nround + tocommit +
	    w->ncommitting + done + chk->held);
	assert(chk->loading == (w->nloads - w->hloads) + w->nround + loaded);
	assert(chk->storing == stores + w->nstoring + stored);
}
#endif

/* Take what the worker has finished: deliveries and stored updates. */
void
sched_worker_take(struct sched_worker *w, const struct sched_worker_check *chk,
    struct sched_delivery **got, struct sched_store **stored)
{
	pthread_mutex_lock(&w->lock);
#ifndef NDEBUG
	sched_worker_check(w, chk);
#else
	(void)chk;
#endif
	*got = w->done;
	w->done = w->done_tail = NULL;
	*stored = w->stored;
	w->stored = w->stored_tail = NULL;
	pthread_mutex_unlock(&w->lock);
}
