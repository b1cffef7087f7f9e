/*
 * scheduler: the outbound queue runner.
 *
 * Every queued message lives in memory only as a heap item (id, next
 * attempt, creation time: 40 bytes); its entry (.env) and body (.msg,
 * mapped read-only) are loaded only while it is being delivered.  Due
 * messages go to relay connections (at most max_connections, each reused
 * for up to messages_per_connection messages).  Results update the entry:
 * delivered / pending (4xx) / failed (5xx); a message with nothing pending
 * is bounced (DSN from <> to its sender, for the failed recipients) and
 * removed; otherwise it is retried with exponential backoff until
 * max_queue_lifetime, with one "delayed" DSN after delay_warning.
 *
 * Dropped files (maildrop/, pickup/) and control requests are noticed by
 * spoolwatch.c (inotify and a periodic scan).  A name that cannot be
 * taken, not even moved to bad/, waits in a backoff table (1 s doubling to
 * 1 h) consulted whenever it is handed over, so nothing is ever tried on
 * every event or scan; so do queue entries that cannot be loaded.
 * Names from disk are escaped (log_printable) in every log line.  Dropped
 * files are taken (copied into the queue) in batches without fsync and made
 * durable by one group commit per batch (pickup_batch_commit, in a thread
 * of its own while the next batch is claimed) before any delivery.  State
 * updates (a deferred message's new .env, a DSN to queue) go to that
 * thread too, and all those waiting are stored with one sync
 * (queue_put_group); removals go to the reaper threads.  The event loop
 * waits for the disk only for a control request (which reads the spool
 * after every update handed over is stored) or when the worker is not
 * running (start-up, shutdown).
 *
 * It must not know about sockets, TLS or SMTP syntax (relay.c does).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <sysexits.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <event2/dns.h>
#include <event2/event.h>

#include "backoff.h"
#include "daemon.h"
#include "dsn.h"
#include "fsutil.h"
#include "id.h"
#include "header.h"
#include "log.h"
#include "metrics.h"
#include "outmetrics.h"
#include "pickup.h"
#include "queue.h"
#include "rewrite.h"
#include "scheduler.h"
#include "spool.h"
#include "spooldirs.h"
#include "spoolwatch.h"
#include "util.h"

#define SCHED_PICKUP_BATCH	128
#define SCHED_REAP_PAUSE_NS	10000000	/* 10 ms between removal groups */
/*
 * Removal threads.  Unlinking a .msg frees its blocks, and on a file
 * system mounted with -o discard and no journal the discard is issued and
 * waited for inside unlink(2) (about 0.2-0.5 ms here, device time, not
 * CPU), so one thread removes at most ~2,000-4,000 messages/s however idle
 * the machine is.  Several threads overlap those waits (measured on this
 * VM, 4,000 unlinks of 8 KiB files: 1 thread 4,850/s, 4 threads 8,350/s).
 */
#define SCHED_REAPERS		4
#define SCHED_REAP_GROUP	32	/* ids one removal thread takes at a time */
#ifndef SCHED_READY_BYTES
#define SCHED_READY_BYTES	(32u << 20)	/* bodies held in memory */
#endif
#define SCHED_READY_MAX		384	/* claimed messages held in memory */
#define SCHED_FRESH_KEEP	256	/* picked-up messages kept in memory
					   when the relay does not take them */
#define SCHED_STALL_MS		1000	/* ... once no delivery ended for that long */
#define SCHED_HEADERS_MAX	65536
#define SCHED_STATUS_SECS	60
#define SCHED_EXPIRED_REPLY	"4.4.7 delivery time expired"	/* ours: no reply code */
#define SCHED_ESC		300	/* an escaped name in a log line */

/* One queued message as the scheduler keeps it. */
struct sched_item {
	int64_t next;		/* next attempt, unix time */
	int64_t created;
	char id[ID_LEN + 1];
	bool retry;		/* a "retry all" has yet to reach it */
};

/* One message being delivered. */
struct sched_delivery {
	struct relay_job job;		/* first: relay hands it back */
	struct sched *s;
	struct queue_entry e;
	size_t *idx;			/* job rcpt k is e.rcpts[idx[k]] */
	const char **rcpts;
	void *map;			/* the mapped (or malloc'd) .msg */
	size_t maplen;
	bool owned;			/* map is malloc'd: the message itself */
	bool postponed;			/* its pickup commit (or load) failed */
	bool loaded;			/* a due message the worker loaded */
	bool gone;			/* ... found removed meanwhile */
	bool unreadable;		/* ... whose .msg could not be read */
	bool deleted;			/* a delete request came in meanwhile */
	char *loaderr;			/* why the worker could not load it */
	struct sched_delivery *prev, *next;
};

/* One relay connection. */
struct sched_conn {
	struct sched *s;
	struct relay_conn *rc;
	bool waiting;			/* got RELAY_WAIT */
	struct sched_conn *prev, *next;
};

/*
 * A state update for the disk worker (one queue_put_group() for all the
 * updates waiting): a deferred message's new .env, a DSN to queue, or
 * both (a "delayed" notice, then the .env that says it went out).  The
 * message is out of the heap while its update is on the way; once the
 * update is durable the loop schedules it again, or removes it (bounced:
 * its DSN is queued).  If the DSN could not be stored, the fallback .env
 * (the state without that DSN) is stored instead and the message is
 * retried: nothing is lost and the notice is tried again.
 */
struct sched_store {
	struct sched_store *next;
	char id[ID_LEN + 1];		/* the message */
	int64_t next_attempt, created;	/* its heap item once stored */
	bool remove;			/* remove it once the DSN is stored */
	size_t ndelivered, nfailed;	/* for the "done" line */
	const char *dsn_kind;		/* "failed", "delayed", or NULL: no DSN */
	char dsn_id[ID_LEN + 1];
	int64_t dsn_created;
	char *dsn_to;
	char *fallback;			/* the .env to store when the DSN fails */
	size_t fallback_len;
	struct queue_put put[3];	/* [DSN .msg, DSN .env,] the message's .env */
	char *text[3];			/* owned texts of put[] */
	size_t nput;
};

struct sched {
	struct event_base *base;
	struct evdns_base *dns;
	const struct outbound_config *cfg;
	struct relay_profile *prof;
	struct outmetrics *om;		/* what /metrics shows */
	char *spoolpath;
	int tmpfd, controlfd;
	struct pickup_dirs dirs;
	struct backoff *loadback;	/* loop: queue ids that failed to load */
	struct spoolwatch *watch;	/* maildrop/, pickup/, control/ */
	struct sched_item *heap;
	size_t nheap, capheap;
	struct sched_delivery *inflight;
	size_t ninflight;
	struct sched_conn *conns;
	size_t nconns;
	struct sched_worker *w;
	struct sched_delivery *fresh, *fresh_tail;	/* picked up, not yet sent */
	size_t nfresh;
	bool dirty;			/* queue/ changed since the last commit */
	size_t nstoring;		/* messages whose update is with the worker */
	size_t nloading;		/* due messages the worker is loading */
	size_t nloaded;			/* loaded ones waiting in the fresh list */
	struct event *ev_timer, *ev_dispatch, *ev_worker;
	struct event *ev_commit, *ev_status, *ev_grace, *ev_stopped, *ev_spill;
	struct event *ev_retry;		/* the next group of a "retry all" */
	size_t retry_left;		/* heap items still marked retry */
	size_t retry_done, retry_failed;	/* this "retry all" so far */
	char retry_err[256];		/* its first failure */
	int64_t last_done_ms;		/* monotonic: when a job last finished */
	bool stopping;
	void (*stop_done)(void *);
	void *stop_arg;
};

/*
 * The disk worker: a claimer thread that claims batches of pickup files,
 * a committer thread that makes each batch durable (pickup_batch_commit:
 * one syncfs) while the claimer goes on with the next one and then hands
 * the new entries (with their message in memory) back through an
 * eventfd, and that also stores state updates in groups (struct
 * sched_store); and reaper threads that remove finished messages,
 * keeping their inodes as spares (pickup_release_group).  The
 * event loop itself does only network and scheduling.
 */
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
	int64_t retry_min;
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
	struct sched_delivery *done, *done_tail;	/* claimed and durable */
	struct sched_store *stores, *stores_tail;	/* updates to store */
	struct sched_store *stored, *stored_tail;	/* stored, for the loop */
	bool storing;			/* the committer holds updates */
	pthread_cond_t scond;		/* signalled when updates are stored
					   or due messages loaded */
	struct sched_item *loads;	/* due messages to load: loads[hloads..nloads) */
	size_t hloads, nloads, caploads;
	bool loading;			/* the claimer holds loads */
	size_t outstanding;		/* claimed, not yet taken for sending */
	size_t outbytes;		/* their bodies held in memory */
};

static void sched_kick(struct sched *s);
static void sched_commit(struct sched *s);
static const char *sched_body(const struct sched_delivery *d, size_t *lenp);
static void sched_worker_remove(struct sched_worker *w, const char *id);
static void sched_worker_collect(struct sched *s);

/* Wall clock, seconds. */
static int64_t
sched_now(void)
{
	return (int64_t)time(NULL);
}

/* Monotonic clock, milliseconds. */
static int64_t
sched_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Heap order: earlier next attempt first, then older message first. */
static bool
sched_before(const struct sched_item *a, const struct sched_item *b)
{
	if (a->next != b->next)
		return a->next < b->next;
	return a->created < b->created;
}

/* Swap two heap slots. */
static void
sched_swap(struct sched *s, size_t i, size_t j)
{
	struct sched_item t = s->heap[i];

	s->heap[i] = s->heap[j];
	s->heap[j] = t;
}

/* Move heap item i up to its place. */
static void
sched_sift_up(struct sched *s, size_t i)
{
	while (i > 0 && sched_before(&s->heap[i], &s->heap[(i - 1) / 2])) {
		sched_swap(s, i, (i - 1) / 2);
		i = (i - 1) / 2;
	}
}

/* Move heap item i down to its place. */
static void
sched_sift_down(struct sched *s, size_t i)
{
	size_t l, r, m;

	for (;;) {
		l = 2 * i + 1;
		r = l + 1;
		m = i;
		if (l < s->nheap && sched_before(&s->heap[l], &s->heap[m]))
			m = l;
		if (r < s->nheap && sched_before(&s->heap[r], &s->heap[m]))
			m = r;
		if (m == i)
			return;
		sched_swap(s, i, m);
		i = m;
	}
}

/* Add a message to the heap. */
static void
sched_push(struct sched *s, const char *id, int64_t next, int64_t created)
{
	struct sched_item *it;

	if (s->nheap == s->capheap) {
		s->capheap = s->capheap ? s->capheap * 2 : 1024;
		s->heap = xrealloc(s->heap, s->capheap * sizeof(*s->heap));
	}
	it = &s->heap[s->nheap];
	it->next = next;
	it->created = created;
	it->retry = false;
	util_strlcpy(it->id, id, sizeof(it->id));
	sched_sift_up(s, s->nheap++);
}

/* Remove heap item i. */
static void
sched_heap_remove(struct sched *s, size_t i)
{
	s->heap[i] = s->heap[--s->nheap];
	if (i < s->nheap) {
		sched_sift_up(s, i);
		sched_sift_down(s, i);
	}
}

/* Index of id in the heap, or -1 (linear: only for control requests). */
static long
sched_heap_find(const struct sched *s, const char *id)
{
	size_t i;

	for (i = 0; i < s->nheap; i++)
		if (strcmp(s->heap[i].id, id) == 0)
			return (long)i;
	return -1;
}

/* Rebuild the heap order after many keys changed. */
static void
sched_heapify(struct sched *s)
{
	size_t i;

	for (i = s->nheap / 2; i-- > 0;)
		sched_sift_down(s, i);
}

/* Note a change of queue/ itself (a removal, a replaced .env) for the next
 * commit. */
static void
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

/* Count recipients in a state. */
static size_t
sched_count(const struct queue_entry *e, enum queue_rcpt_state st)
{
	size_t i, n = 0;

	for (i = 0; i < e->nrcpts; i++)
		n += e->rcpts[i].state == st;
	return n;
}

/* Replace a malloc'd string. */
static void
sched_set_str(char **dst, const char *src)
{
	free(*dst);
	*dst = src ? xstrdup(src) : NULL;
}

/* One log line per recipient and attempt. */
static void
sched_log_out(const struct queue_entry *e, const char *rcpt, const char *relay,
    const char *status, const char *reply, const char *tls, int64_t now)
{
	log_info("out id=%s to=<%s> relay=%s status=%s reply=\"%s\" attempts=%u "
	    "delay=%llds tls=%s", e->id, rcpt, relay ? relay : "none", status,
	    reply ? reply : "", e->attempts, (long long)(now - e->created),
	    tls ? tls : "none");
}

/* The header block of a message (up to the blank line). */
static size_t
sched_header_len(const char *p, size_t n)
{
	size_t i;

	for (i = 0; i + 1 < n; i++) {
		if (p[i] != '\n')
			continue;
		if (p[i + 1] == '\n')
			return i + 1;
		if (p[i + 1] == '\r' && i + 2 < n && p[i + 2] == '\n')
			return i + 1;
	}
	return n;
}

/* Read the start of queue/<id>.msg for the DSN's header part. */
static char *
sched_read_headers(struct sched *s, const struct sched_delivery *d, size_t *lenp)
{
	char name[ID_LEN + 8], *buf;
	const char *body;
	size_t n = 0, blen;
	ssize_t r;
	int fd;

	if (d->map != NULL) {
		body = sched_body(d, &blen);
		*lenp = sched_header_len(body, blen);
		return xstrndup(body, *lenp);
	}
	buf = xmalloc(SCHED_HEADERS_MAX + 1);
	snprintf(name, sizeof(name), "%s.msg", d->e.id);
	fd = openat(s->dirs.queue, name, O_RDONLY | O_CLOEXEC);
	while (fd != -1 && n < SCHED_HEADERS_MAX && (r = pread(fd, buf + n,
	    SCHED_HEADERS_MAX - n, (off_t)(d->e.offset + n))) > 0)
		n += (size_t)r;
	if (fd != -1)
		close(fd);
	*lenp = sched_header_len(buf, n);
	buf[*lenp] = '\0';
	return buf;
}

/* Past max_queue_lifetime: every pending recipient fails. */
static void
sched_expire(struct sched *s, struct sched_delivery *d, int64_t now)
{
	struct queue_entry *e = &d->e;
	char text[CLIENT_REPLY_MAX + 64];
	size_t i;

	if (now < e->created + (int64_t)s->cfg->max_queue_lifetime)
		return;
	for (i = 0; i < e->nrcpts; i++) {
		if (e->rcpts[i].state != QUEUE_RCPT_PENDING)
			continue;
		e->rcpts[i].state = QUEUE_RCPT_FAILED;
		if (e->rcpts[i].reply != NULL)
			snprintf(text, sizeof(text), "%s; last reply: %s", SCHED_EXPIRED_REPLY,
			    e->rcpts[i].reply);
		else
			util_strlcpy(text, SCHED_EXPIRED_REPLY, sizeof(text));
		sched_set_str(&e->rcpts[i].reply, text);
		sched_log_out(e, e->rcpts[i].addr, NULL, "bounced", text, NULL, now);
		outmetrics_expired(s->om);
	}
}

/* Seconds until the next attempt after `attempts` tries, with jitter. */
static int64_t
sched_backoff(const struct sched *s, unsigned attempts)
{
	uint64_t d = s->cfg->retry_min ? s->cfg->retry_min : 1;
	unsigned i;

	for (i = 1; i < attempts && d < s->cfg->retry_max; i++)
		d *= 2;
	if (d > s->cfg->retry_max)
		d = s->cfg->retry_max;
	if (d >= 10)
		d += (uint64_t)random() % (d / 10);
	return (int64_t)d;
}

/* Remove a finished message from the spool (by the worker, when running). */
static void
sched_remove(struct sched *s, const char *id)
{
	char err[512];

	if (s->w != NULL && s->w->started) {
		sched_worker_remove(s->w, id);
		return;
	}
	if (queue_entry_remove(s->dirs.queue, id, err, sizeof(err)) == -1 && errno != ENOENT)
		log_warnx("queue id=%s: remove: %s", id, err);
	sched_note_dirty(s);
}

/* A new update for message e (its heap item: created, no time yet). */
static struct sched_store *
sched_store_new(const struct queue_entry *e)
{
	struct sched_store *st = xcalloc(1, sizeof(*st));

	util_strlcpy(st->id, e->id, sizeof(st->id));
	st->created = e->created;
	return st;
}

/* Free an update and every text it owns. */
static void
sched_store_free(struct sched_store *st)
{
	size_t i;

	for (i = 0; i < st->nput; i++)
		free(st->text[i]);
	free(st->fallback);
	free(st->dsn_to);
	free(st);
}

/* Add queue/<id>.<ext> with text (owned from now on) to an update. */
static void
sched_store_put(struct sched_store *st, const char *id, const char *ext, char *text,
    size_t len, bool replace)
{
	struct queue_put *p = &st->put[st->nput];

	snprintf(p->name, sizeof(p->name), "%s.%s", id, ext);
	p->text = st->text[st->nput] = text;
	p->len = len;
	p->replace = replace;
	p->after_prev = st->nput > 0;	/* nothing of an update without what precedes */
	st->nput++;
}

/* Add the message's .env, as e says now, to an update. */
static void
sched_store_env(struct sched_store *st, const struct queue_entry *e)
{
	size_t len;
	char *text = queue_env_format(e, &len);

	sched_store_put(st, e->id, "env", text, len, true);
}

/* Add a DSN of kind for d to its sender, from <>, to an update: 0, or 1
 * when there is nothing to report. */
static int
sched_store_dsn(struct sched *s, struct sched_store *st, struct sched_delivery *d,
    enum dsn_kind kind, int64_t now)
{
	const char *rcpt = rewrite_notice_recipient(s->cfg, d->e.sender);
	char *hdr, *msg, *env;
	size_t hlen, len, envlen;

	msg = NULL;
	hdr = sched_read_headers(s, d, &hlen);
	if (rcpt[0] != '\0')
		msg = dsn_build_until(&d->e, kind, s->cfg->hostname, hdr, hlen, now,
		    d->e.created + (int64_t)s->cfg->max_queue_lifetime, &len);
	else if ((rcpt = dsn_failure_recipient(&d->e, s->cfg->postmaster_address)) != NULL)
		msg = dsn_build_postmaster(&d->e, rcpt, s->cfg->hostname,
		    &(struct dsn_headers){ hdr, hlen }, now, &len);	/* a double bounce */
	else
		log_info("dsn orig=%s kind=failed status=dropped reason=\"%s\"", d->e.id,
		    s->cfg->postmaster_address == NULL ? "from <>, no postmaster_address" :
		    "from <>, to the postmaster_address itself");
	free(hdr);
	if (msg == NULL)
		return 1;
	id_generate(st->dsn_id);
	env = queue_env_new(st->dsn_id, "", &rcpt, 1, len, now, &envlen);
	sched_store_put(st, st->dsn_id, "msg", msg, len, false);
	sched_store_put(st, st->dsn_id, "env", env, envlen, false);
	st->dsn_kind = d->e.sender[0] == '\0' ? "postmaster" : kind == DSN_FAILED ? "failed" :
	    "delayed";
	st->dsn_created = now;
	st->dsn_to = xstrdup(rcpt);
	return 0;
}

/*
 * Store a list of updates as one group (one syncfs, one fsync of queue/
 * per kind of file): the worker's committer thread, or the loop itself
 * when the worker is not running.
 */
static void
sched_store_run(const struct pickup_dirs *dirs, struct sched_store *list)
{
	struct queue_put *v;
	struct sched_store *st;
	char err[512];
	size_t n = 0, i;

	for (st = list; st != NULL; st = st->next)
		n += st->nput;
	if (n == 0)
		return;
	v = xcalloc(n, sizeof(*v));
	n = 0;
	for (st = list; st != NULL; st = st->next)
		for (i = 0; i < st->nput; i++)
			v[n++] = st->put[i];
	if (queue_put_group(dirs->tmp, dirs->queue, v, n, err, sizeof(err)) == -1)
		log_warnx("queue: store: %s", err);
	n = 0;
	for (st = list; st != NULL; st = st->next)
		for (i = 0; i < st->nput; i++)
			st->put[i] = v[n++];
	free(v);
}

static void sched_store_done(struct sched *s, struct sched_store *st);

/* Hand an update to the worker (the loop stores it at once when the
 * worker is not running). */
static void
sched_store_submit(struct sched *s, struct sched_store *st)
{
	struct sched_worker *w = s->w;

	s->nstoring++;
	if (w == NULL || !w->started) {
		sched_store_run(&s->dirs, st);
		sched_store_done(s, st);
		return;
	}
	pthread_mutex_lock(&w->lock);
	if (w->stores_tail != NULL)
		w->stores_tail->next = st;
	else
		w->stores = st;
	w->stores_tail = st;
	pthread_cond_signal(&w->ccond);
	pthread_mutex_unlock(&w->lock);
}

/* Loop side: an update is stored (or failed): schedule, remove, retry. */
static void
sched_store_done(struct sched *s, struct sched_store *st)
{
	struct queue_put *last = &st->put[st->nput - 1];
	struct sched_store *again;

	s->nstoring--;
	if (st->dsn_kind != NULL && st->put[1].ok) {
		log_info("dsn id=%s orig=%s kind=%s to=<%s>", st->dsn_id, st->id,
		    st->dsn_kind, st->dsn_to);
		sched_push(s, st->dsn_id, st->dsn_created, st->dsn_created);
	} else if (st->dsn_kind != NULL) {
		log_warnx("dsn orig=%s kind=%s status=error: %s", st->id, st->dsn_kind,
		    st->put[0].ok ? st->put[1].err : st->put[0].err);
		/* store the state without that DSN instead; it is tried again */
		again = xcalloc(1, sizeof(*again));
		util_strlcpy(again->id, st->id, sizeof(again->id));
		again->created = st->created;
		again->next_attempt = st->next_attempt;
		sched_store_put(again, st->id, "env", st->fallback, st->fallback_len, true);
		st->fallback = NULL;
		sched_store_free(st);
		sched_store_submit(s, again);
		return;
	}
	if (st->remove) {
		log_info("done id=%s delivered=%zu failed=%zu", st->id, st->ndelivered,
		    st->nfailed);
		sched_remove(s, st->id);
	} else {
		if (!last->ok)
			log_warnx("queue id=%s: store: %s", st->id, last->err);
		sched_push(s, st->id, st->next_attempt, st->created);
	}
	sched_store_free(st);
	sched_kick(s);
}

/* When a message that is still pending is tried next (sets e's). */
static int64_t
sched_next_attempt(struct sched *s, struct queue_entry *e, int64_t now)
{
	const struct outbound_config *cfg = s->cfg;
	int64_t next, limit;

	next = now + sched_backoff(s, e->attempts ? e->attempts : 1);
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

/* Keep e's state as the .env to store should the update's DSN fail. */
static void
sched_store_fallback(struct sched_store *st, const struct queue_entry *e)
{
	st->fallback = queue_env_format(e, &st->fallback_len);
}

/*
 * After an attempt (or instead of one): bounce, warn, remove or requeue.
 * Every change of the spool goes to the worker as one update (see struct
 * sched_store); the loop does not wait for the disk.
 */
static void
sched_finalize(struct sched *s, struct sched_delivery *d, int64_t now)
{
	struct queue_entry *e = &d->e;
	struct sched_store *st = sched_store_new(e);
	bool warn;

	sched_expire(s, d, now);
	if (sched_count(e, QUEUE_RCPT_PENDING) == 0) {
		st->ndelivered = sched_count(e, QUEUE_RCPT_DELIVERED);
		st->nfailed = sched_count(e, QUEUE_RCPT_FAILED);
		if (st->nfailed && !e->bounced &&
		    sched_store_dsn(s, st, d, DSN_FAILED, now) == 0) {
			st->next_attempt = sched_next_attempt(s, e, now);
			sched_store_fallback(st, e);
			st->remove = true;
			sched_store_submit(s, st);
			return;
		}
		log_info("done id=%s delivered=%zu failed=%zu", e->id, st->ndelivered,
		    st->nfailed);
		sched_store_free(st);
		sched_remove(s, e->id);
		return;
	}
	st->next_attempt = sched_next_attempt(s, e, now);
	warn = s->cfg->delay_warning && !e->delay_warned && e->sender[0] &&
	    now - e->created >= (int64_t)s->cfg->delay_warning;
	if (warn) {
		if (sched_store_dsn(s, st, d, DSN_DELAYED, now) == 0)
			sched_store_fallback(st, e);
		e->delay_warned = true;
	}
	sched_store_env(st, e);
	sched_store_submit(s, st);
}

/* Free a delivery (unlinked from the in-flight list). */
static void
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
static void
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
static struct sched_delivery *
sched_inflight_find(const struct sched *s, const char *id)
{
	struct sched_delivery *d;

	for (d = s->inflight; d != NULL; d = d->next)
		if (strcmp(d->e.id, id) == 0)
			return d;
	return NULL;
}

/* The picked-up (not yet sent) delivery of id, or NULL. */
static struct sched_delivery *
sched_fresh_find(const struct sched *s, const char *id)
{
	struct sched_delivery *d;

	for (d = s->fresh; d != NULL; d = d->next)
		if (strcmp(d->e.id, id) == 0)
			return d;
	return NULL;
}

/* Open queue/<id>.msg of d (dirfd: queue/) and fill st; the descriptor,
 * or -1 with err set (also when it is shorter than the entry's offset). */
static int
sched_msg_open(int dirfd, const struct sched_delivery *d, struct stat *st, char *err,
    size_t errlen)
{
	char name[ID_LEN + 8];
	int fd;

	snprintf(name, sizeof(name), "%s.msg", d->e.id);
	fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC);
	if (fd == -1 || fstat(fd, st) == -1) {
		snprintf(err, errlen, "queue/%s: %s", name, strerror(errno));
		if (fd != -1)
			close(fd);
		return -1;
	}
	if ((uint64_t)st->st_size < d->e.offset) {
		snprintf(err, errlen, "queue/%s: shorter than its offset %" PRIu64, name,
		    d->e.offset);
		close(fd);
		return -1;
	}
	return fd;
}

/*
 * Map the open queue/<id>.msg fd (its status st) read-only into d.  With
 * prefault, its pages are read in now by MADV_POPULATE_READ, so that a
 * worker pays the disk's time and the event loop later sends from memory;
 * a read error shows here, not as a SIGBUS when the loop sends.  A kernel
 * without it (before 5.14) is said once; its pages then come in as the
 * message is sent.  0, or -1 with err set.
 */
static int
sched_map_fd(int fd, const struct stat *st, struct sched_delivery *d, bool prefault,
    char *err, size_t errlen)
{
	static atomic_bool no_populate;

	d->owned = false;
	d->maplen = (size_t)st->st_size;
	if (d->maplen > 0)
		d->map = mmap(NULL, d->maplen, PROT_READ, MAP_PRIVATE, fd, 0);
	if (d->map == MAP_FAILED) {
		d->map = NULL;
		snprintf(err, errlen, "queue/%s.msg: mmap: %s", d->e.id, strerror(errno));
		return -1;
	}
	if (prefault && d->map != NULL && !atomic_load(&no_populate) &&
	    madvise(d->map, d->maplen, MADV_POPULATE_READ) == -1) {
		if (errno == EINVAL) {
			if (!atomic_exchange(&no_populate, true))
				log_warnx("scheduler: MADV_POPULATE_READ: %s (large messages "
				    "are read from the disk as they are sent)", strerror(errno));
			return 0;
		}
		snprintf(err, errlen, "queue/%s.msg: read: %s", d->e.id, strerror(errno));
		munmap(d->map, d->maplen);
		d->map = NULL;
		d->maplen = 0;
		return -1;
	}
	return 0;
}

/* Map queue/<id>.msg of d (dirfd: queue/), see sched_map_fd; 0 or -1. */
static int
sched_map(int dirfd, struct sched_delivery *d, bool prefault, char *err, size_t errlen)
{
	struct stat st;
	int fd, rc;

	if ((fd = sched_msg_open(dirfd, d, &st, err, errlen)) == -1)
		return -1;
	rc = sched_map_fd(fd, &st, d, prefault, err, errlen);
	close(fd);
	return rc;
}

/* true when s has a byte >= 0x80 (eight bytes at a time: bodies are
 * scanned once per delivery). */
static bool
sched_has_8bit(const char *p, size_t n)
{
	const uint64_t high = 0x8080808080808080ull;
	uint64_t acc = 0, w;
	size_t i = 0;

	for (; i + 8 <= n; i += 8) {
		memcpy(&w, p + i, 8);
		acc |= w;
		if ((i & 511) == 504 && (acc & high) != 0)
			return true;
	}
	for (; i < n; i++)
		acc |= (unsigned char)p[i];
	return (acc & high) != 0;
}

/* The message to send: a just-picked-up one in memory, else the mapped
 * .msg from the entry's offset on. */
static const char *
sched_body(const struct sched_delivery *d, size_t *lenp)
{
	size_t off = d->owned ? 0 : (size_t)d->e.offset;

	if (d->map == NULL || off > d->maplen) {
		*lenp = 0;
		return "";
	}
	*lenp = d->maplen - off;
	return (const char *)d->map + off;
}

/* Fill the relay job from the entry's pending recipients. */
static void
sched_build_job(struct sched_delivery *d)
{
	struct queue_entry *e = &d->e;
	struct client_message *m = &d->job.msg;
	size_t i, k = 0;

	d->idx = xcalloc(e->nrcpts, sizeof(*d->idx));
	d->rcpts = xcalloc(e->nrcpts, sizeof(*d->rcpts));
	m->smtputf8 = sched_has_8bit(e->sender, strlen(e->sender));
	for (i = 0; i < e->nrcpts; i++) {
		if (e->rcpts[i].state != QUEUE_RCPT_PENDING)
			continue;
		d->idx[k] = i;
		d->rcpts[k++] = e->rcpts[i].addr;
		if (sched_has_8bit(e->rcpts[i].addr, strlen(e->rcpts[i].addr)))
			m->smtputf8 = true;
	}
	d->job.id = e->id;
	m->sender = e->sender;
	m->rcpts = d->rcpts;
	m->nrcpts = k;
	d->job.body = sched_body(d, &d->job.bodylen);
	m->size = e->size ? e->size : d->job.bodylen;
	m->eightbit = sched_has_8bit(d->job.body, d->job.bodylen);
}

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
	} else if (now < d->e.created + (int64_t)s->cfg->max_queue_lifetime &&
	    sched_count(&d->e, QUEUE_RCPT_PENDING) > 0)
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
static void
sched_load_failed(struct sched *s, const char *id, int64_t created, int64_t now,
    const char *err)
{
	char eerr[SCHED_ESC * 2];
	int64_t wait;

	if (backoff_fail(s->loadback, id, now, &wait) == 1)
		log_warnx("queue id=%s status=unreadable retry=backoff: %s", id,
		    err != NULL ? log_printable(err, strlen(err), eerr, sizeof(eerr)) :
		    "cannot load its entry");
	sched_push(s, id, now + wait, created);
}

/* Load a due message for delivery; NULL when it needs none now. */
static struct sched_delivery *
sched_prepare(struct sched *s, const struct sched_item *it, int64_t now)
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
	if (now < d->e.created + (int64_t)s->cfg->max_queue_lifetime &&
	    sched_count(&d->e, QUEUE_RCPT_PENDING) > 0 &&
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

/* A claimed message left the worker's hands: release its budget. */
static void
sched_worker_taken(struct sched_worker *w, const struct sched_delivery *d)
{
	pthread_mutex_lock(&w->lock);
	w->outstanding--;
	if (d->owned)
		w->outbytes -= d->maplen;
	pthread_cond_broadcast(&w->cond);
	pthread_mutex_unlock(&w->lock);
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
		if ((d->loaded || sched_count(&d->e, QUEUE_RCPT_PENDING) == 0) && !d->deleted &&
		    sched_due_settle(s, d))
			continue;
		if (!d->deleted && d->map == NULL &&
		    sched_map(s->dirs.queue, d, false, err, sizeof(err)) == -1) {
			log_warnx("queue id=%s: %s (retried later)", d->e.id, err);
			sched_push(s, d->e.id, sched_now() + (int64_t)s->cfg->retry_min,
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
	struct sched_worker *w = s->w;
	size_t n = 0;

	if (s->stopping || s->nheap == 0 || s->heap[0].next > now ||
	    s->nloading + s->nloaded >= sched_prefetch_max(s))
		return;		/* nothing due (the common case): no lock */
	pthread_mutex_lock(&w->lock);
	while (!s->stopping && s->nheap > 0 && s->heap[0].next <= now &&
	    s->nloading + s->nloaded < sched_prefetch_max(s)) {
		if (w->hloads > 0 && w->hloads == w->nloads)
			w->hloads = w->nloads = 0;
		if (w->nloads == w->caploads) {
			w->caploads = w->caploads ? w->caploads * 2 : 64;
			w->loads = xrealloc(w->loads, w->caploads * sizeof(*w->loads));
		}
		w->loads[w->nloads++] = s->heap[0];
		sched_heap_remove(s, 0);
		w->outstanding++;
		s->nloading++;
		n++;
	}
	if (n > 0)
		pthread_cond_broadcast(&w->cond);
	pthread_mutex_unlock(&w->lock);
}

/* Pop the next due message ready for delivery, or NULL. */
static struct sched_delivery *
sched_take_due(struct sched *s)
{
	struct sched_delivery *d;
	struct sched_item it;
	int64_t now = sched_now();

	if (s->w != NULL && s->w->started) {
		sched_prefetch_due(s, now);
		return !s->stopping && s->fresh != NULL ? sched_take_fresh(s) : NULL;
	}
	/* no worker (start-up, shutdown): load here */
	while (!s->stopping && s->nheap > 0 && s->heap[0].next <= now) {
		it = s->heap[0];
		sched_heap_remove(s, 0);
		if ((d = sched_prepare(s, &it, now)) != NULL)
			return d;
	}
	if (!s->stopping && s->fresh != NULL)
		return sched_take_fresh(s);
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
	sched_log_out(&d->e, r->addr, o->relay, status, reply, o->tls, now);
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
	sc->rc = relay_conn_new(s->base, s->dns, s->prof, outmetrics_relay(s->om), &d->job,
	    &sched_relay_ops, sc);
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
static void
sched_kick(struct sched *s)
{
	if (!s->stopping)
		event_active(s->ev_dispatch, 0, 0);
}

/* name made printable for a log line (buf: SCHED_ESC bytes). */
static const char *
sched_esc(const char *name, char *buf)
{
	return log_printable(name, strlen(name), buf, SCHED_ESC);
}

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
static void
sched_backlog_add(struct sched *s, char src, const char *name)
{
	struct sched_worker *w = s->w;
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
static void
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
	char esender[SCHED_ESC];

	char emsgid[SCHED_ESC];

	log_info("pickup id=%s source=%s uid=%jd name=%s from=<%s> nrcpt=%zu size=%" PRIu64
	    " message-id=%s", t->e.id, src, t->have_uid ? (intmax_t)t->uid : (intmax_t)-1, ename,
	    sched_esc(t->e.sender, esender), t->e.nrcpts, t->e.size,
	    header_msgid_for_log(t->msg ? t->msg : "", t->msg ? t->msglen : 0, emsgid,
	    sizeof(emsgid)));
}

/* Worker: take one dropped file (key: source letter and name); a
 * delivery holding it, or NULL. */
static struct sched_delivery *
sched_worker_claim(struct sched_worker *w, const char *key, int64_t now)
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
	switch (pickup_take(w->dirs, src, key + 1, now, false, true, t)) {
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

	if (pickup_release_group(w->dirs, (const char (*)[ID_LEN + 1])ids, n, errs, err,
	    sizeof(err)) == -1)
		log_warnx("commit: %s", err);
	for (i = 0; i < n; i++)
		if (errs[i][0] != '\0')
			log_warnx("queue id=%s: remove: %s", ids[i], errs[i]);
	free(errs);
}

/* Worker: claim names; the claimed list (count in *np), not yet durable.
 * Bodies beyond budget bytes are not kept in memory (mapped once committed). */
static struct sched_delivery *
sched_worker_batch(struct sched_worker *w, char **names, size_t n, size_t budget,
    size_t *np, size_t *bytesp)
{
	struct sched_delivery *head = NULL, **tail = &head, *d;
	int64_t now = sched_now();
	size_t i;

	*np = *bytesp = 0;
	for (i = 0; i < n; i++) {
		if ((d = sched_worker_claim(w, names[i], now)) != NULL) {
			if (*bytesp + d->maplen > budget) {
				free(d->map);
				d->map = NULL;
				d->maplen = 0;
				d->owned = false;
			}
			*bytesp += d->maplen;
			*tail = d;
			tail = &d->next;
			(*np)++;
		}
		free(names[i]);
	}
	return head;
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

/* Worker: read queue/<id>.msg from the entry's offset into memory when it
 * fits in budget bytes, else map it; false when unreadable. */
static bool
sched_worker_read(struct sched_worker *w, struct sched_delivery *d, size_t budget,
    size_t *bytes)
{
	char err[512];
	struct stat st;
	size_t len, got = 0;
	ssize_t n;
	int fd;

	if ((fd = sched_msg_open(w->dirs->queue, d, &st, err, sizeof(err))) == -1) {
		log_warnx("queue id=%s: %s", d->e.id, err);
		return false;
	}
	if ((len = (size_t)st.st_size - (size_t)d->e.offset) > budget) {
		/* too big to hold: mapped, its pages read in here */
		bool ok = sched_map_fd(fd, &st, d, true, err, sizeof(err)) == 0;

		close(fd);
		if (!ok)
			log_warnx("queue id=%s: %s", d->e.id, err);
		return ok;
	}
	d->map = xmalloc(len ? len : 1);
	while (got < len && (n = pread(fd, (char *)d->map + got, len - got,
	    (off_t)(d->e.offset + got))) != 0) {
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			log_warn("queue id=%s: read queue/%s.msg", d->e.id, d->e.id);
			free(d->map);
			d->map = NULL;
			close(fd);
			return false;
		}
		got += (size_t)n;
	}
	close(fd);
	d->maplen = got;	/* a file that shrank meanwhile is sent as it is */
	d->owned = true;
	*bytes = got;
	return true;
}

/* Worker: load one due message (entry, and body when it fits). */
static struct sched_delivery *
sched_worker_load(struct sched_worker *w, const struct sched_item *it, size_t budget,
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
	d->unreadable = !sched_worker_read(w, d, budget, bytes);
	return d;
}

/* Claimer: load every due message handed over, off the event loop, and
 * pass them to the loop like claimed ones. */
static void
sched_loader_round(struct sched_worker *w)
{
	struct sched_item *items;
	struct sched_delivery *head = NULL, **tail = &head;
	size_t n = w->nloads - w->hloads, i, bytes, budget;

	items = xmalloc(n * sizeof(*items));
	memcpy(items, w->loads + w->hloads, n * sizeof(*items));
	w->hloads = w->nloads = 0;
	w->loading = true;
	budget = w->outbytes < SCHED_READY_BYTES ? SCHED_READY_BYTES - w->outbytes : 0;
	pthread_mutex_unlock(&w->lock);
	for (i = 0; i < n; i++) {
		*tail = sched_worker_load(w, &items[i], budget, &bytes);
		tail = &(*tail)->next;
		budget -= bytes < budget ? bytes : budget;
		pthread_mutex_lock(&w->lock);
		w->outbytes += bytes;
		pthread_mutex_unlock(&w->lock);
	}
	free(items);
	pthread_mutex_lock(&w->lock);
	w->loading = false;
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
	struct sched_delivery *got;
	struct pickup_batch *pb;
	size_t n = 0, ngot, bytes, budget;

	budget = w->outbytes < SCHED_READY_BYTES ? SCHED_READY_BYTES - w->outbytes : 0;
	while (n < batch && w->hnames < w->nnames && w->outstanding + n < SCHED_READY_MAX)
		names[n++] = w->names[w->hnames++];
	if (w->hnames == w->nnames)
		w->hnames = w->nnames = 0;
	w->busy = true;
	pthread_mutex_unlock(&w->lock);
	got = sched_worker_batch(w, names, n, budget, &ngot, &bytes);
	pb = pickup_batch_take();
	pthread_mutex_lock(&w->lock);
	w->outstanding += ngot;
	w->outbytes += bytes;
	if (pickup_batch_size(pb) == 0 && got == NULL) {
		pickup_batch_free(pb);	/* nothing claimed: just let the loop look */
		w->busy = false;
		sched_worker_deliver(w, NULL);
		return;
	}
	w->busy = false;
	if (w->batch != NULL) {	/* the committer is busy: join the waiting batch */
		sched_delivery_append(&w->tocommit, got);
		pickup_batch_merge(w->batch, pb);
		return;
	}
	w->tocommit = got;
	w->batch = pb;
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
	pthread_mutex_unlock(&w->lock);
	sched_store_run(w->dirs, list);
	for (last = list; last->next != NULL; last = last->next)
		;
	pthread_mutex_lock(&w->lock);
	w->storing = false;
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
		sched_push(s, d->e.id, now, d->e.created);
		sched_worker_taken(s->w, d);
		sched_delivery_free(d);
	}
	if (s->nfresh > SCHED_FRESH_KEEP && !s->stopping &&
	    !evtimer_pending(s->ev_spill, NULL))
		evtimer_add(s->ev_spill, &again);
}

/* Spill timer. */
static void
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

/*
 * Loop side: wait until the worker has stored every update and loaded
 * every due message handed to it, and take them.  Control requests read
 * and change the spool directly, so they must see every update on disk
 * and find every message in the heap, in flight or in the fresh list.
 */
static void
sched_worker_settle(struct sched *s)
{
	struct sched_worker *w = s->w;

	if (w == NULL || !w->started || (s->nstoring == 0 && s->nloading == 0))
		return;
	pthread_mutex_lock(&w->lock);
	while (w->stores != NULL || w->storing || w->nloads > w->hloads || w->loading)
		pthread_cond_wait(&w->scond, &w->lock);
	pthread_mutex_unlock(&w->lock);
	sched_worker_collect(s);
}

/* Loop side: take what the worker has finished (claimed or loaded
 * messages, stored updates) and schedule it. */
static void
sched_worker_collect(struct sched *s)
{
	struct sched_delivery *got, *d;
	struct sched_store *stored;
	int64_t now = sched_now();

	pthread_mutex_lock(&s->w->lock);
	got = s->w->done;
	s->w->done = s->w->done_tail = NULL;
	stored = s->w->stored;
	s->w->stored = s->w->stored_tail = NULL;
	pthread_mutex_unlock(&s->w->lock);
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
			sched_push(s, d->e.id, now + (d->postponed ? s->w->retry_min : 0),
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

/* eventfd readable: the worker has finished something. */
static void
sched_worker_cb(evutil_socket_t fd, short what, void *arg)
{
	uint64_t v;

	if (read(fd, &v, sizeof(v)) == -1 && errno != EAGAIN)
		log_warn("scheduler: eventfd read");
	sched_worker_collect(arg);
}

/* Create the worker (not started). */
static struct sched_worker *
sched_worker_new(struct sched *s, char *err, size_t errlen)
{
	struct sched_worker *w = xcalloc(1, sizeof(*w));

	w->dirs = &s->dirs;
	w->retry_min = (int64_t)s->cfg->retry_min;
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

/* Start the worker thread and watch its eventfd. */
static int
sched_worker_start(struct sched *s, char *err, size_t errlen)
{
	int rc;

	s->ev_worker = event_new(s->base, s->w->wakefd, EV_READ | EV_PERSIST,
	    sched_worker_cb, s);
	if (s->ev_worker == NULL || event_add(s->ev_worker, NULL) == -1) {
		snprintf(err, errlen, "scheduler: cannot watch the worker");
		return -1;
	}
	if ((rc = pthread_create(&s->w->committer, NULL, sched_committer_main, s->w)) != 0) {
		snprintf(err, errlen, "pthread_create: %s", strerror(rc));
		return -1;
	}
	s->w->committer_up = true;
	if ((rc = pthread_create(&s->w->claimer, NULL, sched_claimer_main, s->w)) != 0) {
		snprintf(err, errlen, "pthread_create: %s", strerror(rc));
		pthread_mutex_lock(&s->w->lock);
		s->w->claimer_done = true;	/* lets the committer end */
		pthread_cond_signal(&s->w->ccond);
		pthread_mutex_unlock(&s->w->lock);
		sched_worker_join(s->w);
		return -1;
	}
	s->w->claimer_up = true;
	while (s->w->nreapers < SCHED_REAPERS) {
		rc = pthread_create(&s->w->reapers[s->w->nreapers], NULL, sched_reaper_main,
		    s->w);
		if (rc != 0) {
			snprintf(err, errlen, "pthread_create: %s", strerror(rc));
			sched_worker_join(s->w);
			return -1;
		}
		s->w->nreapers++;
	}
	s->w->started = true;
	return 0;
}

/* Stop the worker: it finishes pending removals, claims nothing more. */
static void
sched_worker_stop(struct sched *s)
{
	struct sched_worker *w = s->w;

	if (w == NULL || !w->started)
		return;
	sched_worker_join(w);
	w->started = false;
}

/* Free a list of deliveries linked by next. */
static void
sched_delivery_list_free(struct sched_delivery *d)
{
	struct sched_delivery *n;

	for (; d != NULL; d = n) {
		n = d->next;
		sched_delivery_free(d);
	}
}

/* Free a list of updates (the worker stored them before it stopped). */
static void
sched_store_list_free(struct sched_store *st)
{
	struct sched_store *n;

	for (; st != NULL; st = n) {
		n = st->next;
		sched_store_free(st);
	}
}

/* Free the (stopped) worker. */
static void
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

#define SCHED_RETRY_GROUP 256	/* entries rewritten per turn of the loop */

/* Log the end of a "retry all" and forget it. */
static void
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
 * group.  Rewritten in one go, 100,000 entries held the loop for about 30
 * seconds, as long as the systemd watchdog allows.  The messages are the
 * heap's only: one in flight, being stored or removed is not in it, and is
 * not touched.  A rewrite that fails is counted and logged at the end, and
 * the message is retried anyway.
 */
static void
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
	sched_heapify(s);
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
static void
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
		if ((i = sched_heap_find(s, target)) >= 0)
			sched_heap_remove(s, (size_t)i);
	} else if ((i = sched_heap_find(s, target)) >= 0) {
		s->heap[i].next = 0;
		sched_sift_up(s, (size_t)i);
	}
	sched_kick(s);
}

/* spoolwatch: a name to take. */
static void
sched_watch_name(void *arg, char src, const char *name)
{
	sched_backlog_add(arg, src, name);
}

/* spoolwatch: a control request. */
static void
sched_watch_control(void *arg, const char *name)
{
	sched_control_one(arg, name);
}

/* spoolwatch: true while names handed over are still waiting. */
static bool
sched_watch_busy(void *arg)
{
	struct sched *s = arg;
	size_t left;

	pthread_mutex_lock(&s->w->lock);
	left = s->w->nnames - s->w->hnames;
	pthread_mutex_unlock(&s->w->lock);
	return left > 0;
}

/* spoolwatch: a full scan ended; names not seen since the last one leave
 * the backoff table. */
static void
sched_watch_scanned(void *arg)
{
	struct sched *s = arg;

	pthread_mutex_lock(&s->w->lock);
	(void)backoff_sweep(s->w->nameback);
	pthread_mutex_unlock(&s->w->lock);
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
	sched_push(s, e.id, e.next_attempt, e.created);
	queue_entry_free(&e);
	return 0;
}

/* Create and check the spool's directories, recover pickups, load the
 * queue.  0, or a sysexits code with err. */
static int
sched_open_spool(struct sched *s, struct spool *spool, char *err, size_t errlen)
{
	struct spooldirs sd;
	char e2[512];
	int n, rc;

	rc = spooldirs_open(spool_dirfd(spool), spool_tmpfd(spool), s->spoolpath,
	    s->cfg->submit_group, &sd, err, errlen);
	if (rc != 0)
		return rc;
	s->dirs.pickup = sd.pickup;
	s->dirs.maildrop = sd.maildrop;
	s->dirs.queue = sd.queue;
	s->dirs.bad = sd.bad;
	s->controlfd = sd.control;
	if (fsutil_fsync_dirfd(spool_dirfd(spool), s->spoolpath, e2, sizeof(e2)) == -1)
		log_warnx("%s", e2);
	if ((n = pickup_recover(&s->dirs, sched_now(), e2, sizeof(e2))) == -1) {
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
sched_new(struct event_base *base, struct spool *spool,
    const struct outbound_config *cfg, struct relay_profile *prof,
    struct metrics *m, int *excode, char *err, size_t errlen)
{
	struct sched *s = xcalloc(1, sizeof(*s));

	s->base = base;
	s->cfg = cfg;
	s->prof = prof;
	s->spoolpath = xstrdup(spool_path(spool));
	s->tmpfd = s->dirs.tmp = spool_tmpfd(spool);
	s->dirs.pickup = s->dirs.maildrop = s->dirs.queue = s->dirs.bad = s->controlfd = -1;
	s->loadback = backoff_new();
	*excode = EX_CANTCREAT;
	s->om = outmetrics_new(m, s, &s->dirs);
	outmetrics_hosts(s->om, cfg);
	sched_events(s);
	s->dns = evdns_base_new(base, EVDNS_BASE_INITIALIZE_NAMESERVERS |
	    EVDNS_BASE_DISABLE_WHEN_INACTIVE);
	if (s->dns == NULL)
		s->dns = evdns_base_new(base, EVDNS_BASE_DISABLE_WHEN_INACTIVE);
	if (s->dns == NULL || (s->w = sched_worker_new(s, err, errlen)) == NULL ||
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
	static const struct spoolwatch_ops ops = { sched_watch_name, sched_watch_control,
	    sched_watch_busy, sched_watch_scanned };
	struct spoolwatch_dirs wd = { s->spoolpath, s->dirs.maildrop, s->dirs.pickup,
	    s->controlfd };
	struct timeval status = { SCHED_STATUS_SECS, 0 };

	s->last_done_ms = sched_now_ms();	/* give the first connections time */
	if (sched_worker_start(s, err, errlen) == -1)
		return -1;
	if ((s->watch = spoolwatch_new(s->base, &wd, &ops, s, err, errlen)) == NULL ||
	    spoolwatch_start(s->watch, s->cfg->scan_interval, err, errlen) == -1)
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
	sched_worker_stop(s);
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
	pthread_mutex_lock(&s->w->lock);
	s->w->noclaim = true;
	pthread_mutex_unlock(&s->w->lock);
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

	sched_worker_stop(s);
	spoolwatch_free(s->watch);
	for (i = 0; i < sizeof(evs) / sizeof(evs[0]); i++)
		sched_event_free(evs[i]);
	sched_worker_free(s->w);
	sched_delivery_list_free(s->fresh);
	for (i = 0; i < sizeof(fds) / sizeof(fds[0]); i++)
		if (fds[i] != -1)
			close(fds[i]);
	if (s->dns != NULL)
		evdns_base_free(s->dns, 0);
	free(s->heap);
	free(s->spoolpath);
	backoff_free(s->loadback);
	relay_profile_unref(s->prof);
	outmetrics_free(s->om);
	free(s);
}
