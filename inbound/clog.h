/*
 * clog: the inbound commit log on disk (issue 21; inbound/README.md "The
 * commit log").  Per delivery worker a few segment files under
 * <spool>/log/, pre-written to their full size and recycled; a batch is
 * appended and made durable with one fdatasync, and the 250s may go out.
 * A checkpoint (checkpoint.c) records per worker the sequence number up
 * to which every message is durable in its Maildir; only then is a
 * segment's space reused.  Recovery reads every record after the
 * checkpoint (clog_replay).
 *
 * Threads: each writer is used by its one worker; the shared part (the
 * published and checkpointed numbers, the failure state, the wake-ups)
 * is behind the log's own lock or atomic.  Must not know about SMTP,
 * Maildirs or the event loop.
 */
#ifndef SMTPGATE_CLOG_H
#define SMTPGATE_CLOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "clog_format.h"

/*
 * scripts/bench builds a reference daemon with -DSMTPGATE_BENCH_NOT_DURABLE:
 * no fdatasync, fsync or syncfs at all (the distance to the limit).  It
 * says so at start; never ship it.
 */
#ifdef SMTPGATE_BENCH_NOT_DURABLE
#define CLOG_DURABLE 0
#else
#define CLOG_DURABLE 1
#endif

/*
 * And with -DSMTPGATE_BENCH_LOG_ONLY: the log's fdatasync kept, the
 * checkpoint's syncfs left out (what the log's flush alone costs, apart
 * from making the Maildir files durable).  Not durable either: a crash
 * can lose published files whose log space was reused.  Never ship it.
 */
#ifdef SMTPGATE_BENCH_LOG_ONLY
#define CLOG_CHECKPOINT_SYNC 0
#else
#define CLOG_CHECKPOINT_SYNC CLOG_DURABLE
#endif

#define CLOG_SEGMENTS 4		/* segment files per worker */
#define CLOG_SEG_MIN (256u << 10)
#define CLOG_SEG_MAX (4u << 20)
#define CLOG_WAIT_MS 5000	/* a writer waits this long for space */
/* A record larger than this (or than a quarter of a segment) is logged by
 * reference: its file written and synced on its own.  Measured
 * (inbound/README.md "The commit log"): copied into the log, 100 KB
 * messages went faster; from 200 KB on, by reference took 15-20% less CPU
 * at the same rate. */
#define CLOG_INLINE_MAX (128u << 10)

struct clog;
struct clog_writer;

/*
 * Open (making it when missing) <spool>/log below spoolfd for nworkers
 * writers and read the checkpoint.  Segments are not touched yet: call
 * clog_replay, make the replayed files durable, clog_checkpoint, then
 * clog_prepare.  NULL with err.
 */
struct clog *clog_open(int spoolfd, const char *spool_path, unsigned nworkers,
    char *err, size_t errlen);

/* Close every file and free (no thread may use it any more). */
void clog_free(struct clog *c);

/* Called by clog_replay for a record to bring into its Maildir; 0, or
 * -1 (logged by the callee) to count a failure. */
typedef int (*clog_replay_fn)(void *arg, const struct clog_rec *r);

/*
 * Every record of every segment file in log/ (whatever its worker count
 * or size) with a sequence number above its worker's checkpoint and at
 * most upto[w] (NULL: no bound), in order per segment.  Remembers the
 * highest number seen per worker (the writers continue above it).
 * Returns how many records failed in fn, or -1 with err (a file could
 * not be read).
 */
int clog_replay(struct clog *c, const uint64_t *upto, clog_replay_fn fn, void *arg,
    char *err, size_t errlen);

/*
 * Make the segment files of every writer (pre-written with zeros,
 * synced, renamed into place; kept when they exist at the chosen size)
 * and set the writers at the start of their first segment.  Only once a
 * checkpoint covers every record they hold.  0, or -1 with errno and err.
 */
int clog_prepare(struct clog *c, char *err, size_t errlen);

/* Writer w (0..nworkers-1). */
struct clog_writer *clog_writer(struct clog *c, unsigned w);

/* The size of a segment (a record must fit in one). */
size_t clog_segment_size(const struct clog *c);

/*
 * Add record r (r->seq is set here) whose message is msg[0..n) (inline:
 * its bytes; the caller keeps them alive until clog_sync) to what the
 * next clog_sync writes.  Moves to the next segment when this one is
 * full; a segment still holding records the checkpoint does not cover is
 * waited for (a checkpoint asked for), at most CLOG_WAIT_MS.  0, or -1
 * with errno (EAGAIN: the log is full; EFBIG: larger than a segment) and
 * err; then call clog_rewind.
 */
int clog_add(struct clog_writer *w, struct clog_rec *r, const struct iovec *msg, int n,
    char *err, size_t errlen);

/*
 * Write what was added and make it durable: one pwritev per run of
 * records in a segment, one fdatasync per segment written.  0, or -1
 * with errno and err; on failure the writer is rewound (the records'
 * place and numbers are used again by the next batch, so a failed batch
 * can never be replayed after a later one).
 */
int clog_sync(struct clog_writer *w, char *err, size_t errlen);

/* Forget what was added since the last clog_sync that succeeded (what
 * of it was written already is overwritten with zeros). */
void clog_rewind(struct clog_writer *w);

/* Every record of writer w up to seq is in its Maildir (not yet durable). */
void clog_published(struct clog_writer *w, uint64_t seq);

/* Checkpoint thread: each writer's published number into seq[]. */
void clog_published_all(struct clog *c, uint64_t *seq);

/*
 * The publisher: every record of w up to seq was tried and a publish
 * failed with errno e.  The failure and the published number move
 * together, so a checkpoint never covers the failed record without
 * seeing the failure (and so writing it again), nor counts the failure
 * repaired by a repair that did not include the record.
 */
void clog_published_failed(struct clog_writer *w, uint64_t seq, int e);

/* Checkpoint thread: the published numbers into seq[], the failure
 * count into *gen, and clog_failed(), read together with
 * clog_published_failed's changes; returns clog_failed(). */
int clog_snapshot(struct clog *c, uint64_t *seq, unsigned *gen);

/* The checkpointed numbers of each writer into seq[]. */
void clog_checkpointed(struct clog *c, uint64_t *seq);

/*
 * Record a checkpoint: seq[] (per writer) are durable in their Maildirs.
 * Written to log/checkpoint (the other slot) and fdatasync'ed; then the
 * writers waiting for space are woken.  0, or -1 with errno and err.
 */
int clog_checkpoint(struct clog *c, const uint64_t *seq, char *err, size_t errlen);

/* At start, after recovery: a checkpoint covering every record
 * clog_replay saw.  0, or -1 with errno and err. */
int clog_checkpoint_seen(struct clog *c, char *err, size_t errlen);

/* Something published may not be durable (a failed publish, syncfs or
 * probe): stop acknowledging until a checkpoint repairs it. */
void clog_fail(struct clog *c, int e);

/* 0 when the log may acknowledge, else the errno of the failure. */
int clog_failed(struct clog *c);

/* The failure count now (clog_repaired takes it back). */
unsigned clog_fail_count(struct clog *c);

/* Every failure up to count gen was repaired. */
void clog_repaired(struct clog *c, unsigned gen);

/* Ask for a checkpoint soon. */
void clog_kick(struct clog *c);

/* Checkpoint thread: wait until kicked, stopping, or ms passed;
 * true while the log is not stopping. */
bool clog_wait_kick(struct clog *c, unsigned ms);

/* Wake the checkpoint thread to stop. */
void clog_stop(struct clog *c);

#endif
