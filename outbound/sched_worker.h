/*
 * sched_worker: the outbound daemon's disk worker, private to the
 * scheduler.  Its threads: a claimer that takes dropped files in batches
 * (pickup_take, into a batch of its own) and loads due messages (entry
 * and body) for the loop; a
 * committer that makes each batch durable (pickup_batch_commit: one
 * syncfs) while the claimer goes on with the next, maps bodies too big to
 * hold, and stores state updates in groups (sched_store_run); reapers
 * (SCHED_REAPERS) that remove finished messages, keeping their inodes as
 * spares (pickup_release_group).  Finished work goes back to the loop
 * through a list it takes, and an eventfd wakes the loop.
 *
 * The worker is opaque: its fields, its mutex and its condition variables
 * live in sched_worker.c, the only file of the scheduler that calls
 * pthread_*.  The event loop calls these functions; each takes the lock
 * itself.  A delivery or an update handed over belongs to the worker
 * until sched_worker_take gives it back.
 */
#ifndef SMTPGATE_SCHED_WORKER_H
#define SMTPGATE_SCHED_WORKER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dueheap.h"
#include "pickup.h"

struct sched_delivery;
struct sched_store;
struct sched_worker;

/* What the loop holds of the worker's work at a sched_worker_take, for
 * the debug build's checks of the worker's counters. */
struct sched_worker_check {
	size_t held;		/* deliveries not yet given back (fresh list) */
	size_t loading;		/* due messages handed over, not yet back */
	size_t storing;		/* updates handed over, not yet back */
};

/* A worker on pk (kept, not copied: the directories, the spare pools and
 * the policies the scheduler owns), not started; NULL with err. */
struct sched_worker *sched_worker_new(const struct pickup_ctx *pk, char *err,
    size_t errlen);
/* The eventfd the loop watches: readable when there is work to take. */
int sched_worker_fd(const struct sched_worker *w);
/* Start the threads: 0, or -1 with err (none left running). */
int sched_worker_start(struct sched_worker *w, char *err, size_t errlen);
/* true while the threads run (false for NULL). */
bool sched_worker_started(const struct sched_worker *w);
/* Stop: pending removals are finished, nothing more is claimed; the
 * threads are joined (nothing for NULL or a worker not started). */
void sched_worker_stop(struct sched_worker *w);
/* Free a stopped worker and everything it still holds (NULL: nothing). */
void sched_worker_free(struct sched_worker *w);

/* Hand a dropped name over (src 'p': pickup/, 'm': maildrop/) unless it
 * is backing off; a full scan marks it as still there. */
void sched_worker_add_name(struct sched_worker *w, char src, const char *name);
/* true while names handed over wait to be taken. */
bool sched_worker_names_left(struct sched_worker *w);
/* A full scan ended: names not seen since the last one leave the
 * backoff table. */
void sched_worker_sweep(struct sched_worker *w);
/* Stopping: claim nothing more. */
void sched_worker_noclaim(struct sched_worker *w);

/* Load due messages (entry and body) off the loop; they come back as
 * deliveries with loaded set.  Their memory is reserved now. */
void sched_worker_load(struct sched_worker *w, const struct dueheap_item *items,
    size_t n);
/* Store an update (struct sched_store) with the next group. */
void sched_worker_store(struct sched_worker *w, struct sched_store *st);
/* Remove a finished message (a reaper's next group). */
void sched_worker_remove(struct sched_worker *w, const char *id);
/* A delivery given back has left the loop's fresh list: release its
 * share of the memory budget. */
void sched_worker_taken(struct sched_worker *w, const struct sched_delivery *d);

/* Wait until every update handed over is stored and every load done. */
void sched_worker_wait_settled(struct sched_worker *w);
/* Take what is finished: deliveries (claimed and durable, or loaded) and
 * stored updates, each list in order.  chk says what the loop holds (the
 * debug build checks the worker's counters against it). */
void sched_worker_take(struct sched_worker *w, const struct sched_worker_check *chk,
    struct sched_delivery **got, struct sched_store **stored);

#endif
