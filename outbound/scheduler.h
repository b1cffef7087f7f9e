/*
 * scheduler: the outbound daemon's queue runner.  Watches maildrop/,
 * pickup/ and control/ (inotify plus a periodic scan), keeps every queued message in
 * memory as a small heap item (id, next attempt, creation time), hands due
 * messages to relay connections, and applies the per-recipient results:
 * delivered, deferred with exponential backoff, bounced (RFC 3464 DSN
 * from <>), expired, delay-warned.  State updates are written without
 * fsync and made durable in groups.
 *
 * It must not know about sockets, TLS or SMTP syntax (relay.c does).
 */
#ifndef SMTPGATE_SCHEDULER_H
#define SMTPGATE_SCHEDULER_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "relay.h"

struct event_base;
struct metrics;
struct sched;
struct spool;

/* What the scheduler runs on (sched_new). */
struct sched_setup {
	struct event_base *base;
	struct spool *spool;			/* the open outbound spool */
	const struct outbound_config *cfg;
	struct relay_profile *prof;
	struct metrics *metrics;		/* NULL: nothing exported */
};

/*
 * Create the scheduler on an open outbound spool: creates and checks its
 * directories (spooldirs.h: modes, groups, owner), recovers interrupted
 * pickups and loads the queue.  cfg and prof must stay valid until
 * sched_reload or sched_free; the caller's reference to prof passes to the
 * scheduler (also on failure).  NULL with err and *excode, the exit code
 * (EX_NOPERM: a directory owned by someone else, or a group the daemon
 * cannot give; EX_CONFIG: no such submit_group; else EX_CANTCREAT).
 */
struct sched *sched_new(const struct sched_setup *su, int *excode, char *err,
    size_t errlen);

/* Start watching and delivering. 0, or -1 with err. */
int sched_start(struct sched *s, char *err, size_t errlen);

/* New configuration (smart hosts, limits, timers); takes prof's reference. */
void sched_reload(struct sched *s, const struct outbound_config *cfg,
    struct relay_profile *prof);

/*
 * Graceful stop: no new work; connections finish their current message
 * within grace seconds, then are abandoned (the messages stay queued).
 * done(arg) is called once nothing is running any more.
 */
void sched_stop(struct sched *s, unsigned grace, void (*done)(void *), void *arg);

/* Messages queued (in memory and in flight) and the age of the oldest. */
size_t sched_queue_size(const struct sched *s);
int64_t sched_oldest_age(const struct sched *s);

void sched_free(struct sched *s);

#endif
