/*
 * checkpoint: the thread that makes published Maildir files durable and
 * lets the commit log reuse their space (inbound/README.md "The commit
 * log").  Every CHECKPOINT_MS, or at once when a log writer moves into
 * a segment whose successor is not free yet, or waits for one: syncfs of the spool through a
 * descriptor of its own, the journal probe, then the checkpoint record.
 * A failure stops acknowledging (clog_fail); the next round writes every
 * record after the last checkpoint again (publish_replay, forced) before
 * it tries again.
 *
 * Must not know about SMTP, sessions or the event loop.
 */
#ifndef SMTPGATE_CHECKPOINT_H
#define SMTPGATE_CHECKPOINT_H

#include <stddef.h>

#include "clog.h"
#include "fsutil.h"
#include "publish.h"

/* 500: measured against 25-200 ms (inbound/README.md): fewer syncfs, each
 * stalling the log's flushes behind its write-back, cut the p99 from 11
 * to 4-5 ms and raised throughput 5-8%; the duplicate window grows to it. */
#define CHECKPOINT_MS 500

struct checkpoint;

/*
 * Start the thread for log c, publishing repairs through p with the file
 * mode and group perm; syncfs through an open of tmpfd's directory of
 * its own, probe in tmpfd.  NULL with err.
 */
struct checkpoint *checkpoint_start(struct clog *c, struct publisher *p,
    const struct fsutil_perm *perm, char *err, size_t errlen);

/*
 * One round now, on the calling thread (start-up, after recovery, and the
 * last one at stop): 0 when everything published is durable and
 * checkpointed, -1 (logged) otherwise.
 */
int checkpoint_round(struct checkpoint *k);

/* Stop the thread after a last round (the writers must have stopped). */
void checkpoint_stop(struct checkpoint *k);

#endif
