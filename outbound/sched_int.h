/*
 * sched_int: what the files of the outbound scheduler share, private to
 * them (scheduler.c: lifecycle, dispatch, results, metrics and status;
 * sched_due.c: due messages made ready and what the worker hands back;
 * sched_store.c: state updates; sched_body.c: message bodies;
 * sched_control.c: control requests; sched_watch.c: the spool watch;
 * sched_worker.c: the disk worker threads, behind sched_worker.h).
 *
 * Everything here belongs to the event loop, except a delivery or an
 * update while it is in the worker's hands (see sched_worker.h).
 */
#ifndef SMTPGATE_SCHED_INT_H
#define SMTPGATE_SCHED_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <event2/util.h>

#include "config.h"
#include "dsn.h"
#include "dueheap.h"
#include "id.h"
#include "log.h"
#include "pickup.h"
#include "queue.h"
#include "relay.h"
#include "util.h"

struct event;
struct event_base;
struct evdns_base;
struct outmetrics;
struct spoolwatch;
struct sched_worker;

#define SCHED_PICKUP_BATCH	128
#define SCHED_REAP_PAUSE_NS	10000000	/* 10 ms between removal groups */
/* Removal threads: unlink(2) can wait for the device (a discard), so
 * several overlap those waits (scripts/bench.md, "Outbound scheduler"). */
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
#define SCHED_ESC		300	/* an escaped name in a log line */

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
	struct pickup_ctx pk;		/* dirs, and the spare pools and rewriting
					   policies the scheduler owns (from
					   sched_new to sched_free) */
	struct backoff *loadback;	/* loop: queue ids that failed to load */
	struct spoolwatch *watch;	/* maildrop/, pickup/, control/ */
	union {				/* the messages waiting (dueheap.h), */
		struct dueheap due;	/* read as heap[i] and nheap too */
		struct {
			struct dueheap_item *heap;
			size_t nheap, capheap;
		};
	};
	struct sched_delivery *inflight;
	size_t ninflight;
	struct sched_conn *conns;
	size_t nconns;
	struct sched_worker *w;		/* the disk worker (sched_worker.h) */
	int64_t postpone;		/* seconds: a message whose commit failed */
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

/* Wall clock, seconds. */
static inline int64_t
sched_now(void)
{
	return (int64_t)time(NULL);
}

/* Monotonic clock, milliseconds. */
static inline int64_t
sched_now_ms(void)
{
	return (int64_t)util_monotonic_ms();
}

/* name made printable for a log line (buf: SCHED_ESC bytes). */
static inline const char *
sched_esc(const char *name, char *buf)
{
	return log_printable(name, strlen(name), buf, SCHED_ESC);
}

/* scheduler.c: the loop's own lists, results, dispatch. */
void sched_kick(struct sched *s);
void sched_note_dirty(struct sched *s);
void sched_set_str(char **dst, const char *src);
void sched_finalize(struct sched *s, struct sched_delivery *d, int64_t now);
void sched_delivery_free(struct sched_delivery *d);
void sched_delivery_list_free(struct sched_delivery *d);
void sched_inflight_add(struct sched *s, struct sched_delivery *d);
struct sched_delivery *sched_inflight_find(const struct sched *s, const char *id);
struct sched_delivery *sched_fresh_find(const struct sched *s, const char *id);

/* sched_due.c: due messages made ready; what the worker hands back. */
struct sched_delivery *sched_take_due(struct sched *s);
void sched_load_failed(struct sched *s, const char *id, int64_t created, int64_t now,
    const char *err);
void sched_spill_cb(evutil_socket_t fd, short what, void *arg);
void sched_worker_cb(evutil_socket_t fd, short what, void *arg);
void sched_worker_settle(struct sched *s);

/* sched_store.c: state updates and removals. */
void sched_remove(struct sched *s, const char *id);
struct sched_store *sched_store_new(const struct queue_entry *e);
void sched_store_free(struct sched_store *st);
void sched_store_list_free(struct sched_store *st);
void sched_store_env(struct sched_store *st, const struct queue_entry *e);
int sched_store_dsn(struct sched *s, struct sched_store *st, struct sched_delivery *d,
    enum dsn_kind kind, int64_t now);
void sched_store_fallback(struct sched_store *st, const struct queue_entry *e);
void sched_store_run(const struct pickup_dirs *dirs, struct sched_store *list);
void sched_store_submit(struct sched *s, struct sched_store *st);
void sched_store_done(struct sched *s, struct sched_store *st);

/* sched_body.c: message bodies. */
int sched_msg_open(int dirfd, const struct sched_delivery *d, struct stat *st, char *err,
    size_t errlen);
int sched_map_fd(int fd, const struct stat *st, struct sched_delivery *d, bool prefault,
    char *err, size_t errlen);
int sched_map(int dirfd, struct sched_delivery *d, bool prefault, char *err, size_t errlen);
bool sched_body_read(int dirfd, struct sched_delivery *d, size_t budget, size_t *bytes);
const char *sched_body(const struct sched_delivery *d, size_t *lenp);
char *sched_read_headers(struct sched *s, const struct sched_delivery *d, size_t *lenp);
void sched_build_job(struct sched_delivery *d);

/* sched_control.c: control requests, "retry all". */
void sched_control_one(struct sched *s, const char *name);
void sched_retry_cb(evutil_socket_t fd, short what, void *arg);
void sched_retry_all_end(struct sched *s, const char *why);

/* sched_watch.c: the spool watch (spoolwatch.h) wired to the scheduler. */
int sched_watch_start(struct sched *s, char *err, size_t errlen);

#endif
