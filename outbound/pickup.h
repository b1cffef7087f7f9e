/*
 * pickup: turn a producer's pickup file into a queue entry.
 *
 * A pickup file is an RFC 5322 message, optionally preceded by envelope
 * lines "X-Sender: <addr>" (once) and "X-Receiver: <addr>" (one or more),
 * as in the IIS/Exchange pickup directory.  Without them the envelope
 * comes from Return-Path:/From: and To:/Cc:/Bcc: (like sendmail -t).  The
 * envelope lines and Bcc: are removed from what is sent.
 *
 * Claiming is crash-safe.  With sync=false (the daemon: durable later,
 * by a group commit) pickup/<name> is renamed straight to queue/<id>.new
 * and, when only envelope lines must go, queue/<id>.env gets the
 * message's offset in it (no copy); the commit renames the .new to .msg.
 * Otherwise (sync=true, or the message must be rewritten, or it is bad)
 * pickup/<name> becomes tmp/claim.<id>, then queue/<id>.msg and .env are
 * written, then the claim is removed.  pickup_recover() finishes or redoes
 * half-done claims at start-up, so a crash never loses or duplicates a
 * message.
 */
#ifndef SMTPGATE_PICKUP_H
#define SMTPGATE_PICKUP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "queue.h"

/* Limits shared by the daemon and smtpgate-sendmail, which enforces them
 * itself so that a submission over them fails at once instead of in bad/. */
#define PICKUP_MAX_SIZE		(50u << 20)	/* bytes of a pickup or maildrop file */
#define PICKUP_MAX_RCPTS	10000		/* envelope recipients of one file */

/* The directory fds a pickup needs (all under one spool). */
struct pickup_dirs {
	int tmp, pickup, queue, bad;
};

/*
 * Pure: parse a pickup file.  On success (0) e->sender and e->rcpts are
 * set (other fields untouched) and *msg, *msglen is the malloc'd message to
 * store.  On failure (-1) reason says why (for the bad/ log line).
 */
int pickup_parse(const char *buf, size_t len, struct queue_entry *e,
    char **msg, size_t *msglen, char *reason, size_t reasonlen);

enum pickup_outcome {
	PICKUP_QUEUED,		/* e is the new queue entry */
	PICKUP_BAD,		/* moved to bad/ with <name>.reason; reason set */
	PICKUP_GONE,		/* someone else claimed it first */
	PICKUP_ERROR,		/* I/O error; left for the next scan; err set */
};

/*
 * Claim pickup/<name> and queue it.  With sync=false the caller must make
 * the queue durable itself (group commit: pickup_commit() after a batch)
 * before acting on the entry.
 */
enum pickup_outcome pickup_claim(const struct pickup_dirs *d, const char *name,
    int64_t now, bool sync, struct queue_entry *e, char *reason, size_t reasonlen,
    char *err, size_t errlen);

/* The same; on PICKUP_QUEUED also *msg, *msglen: the message as stored in
 * queue/<id>.msg (malloc'd, the caller frees it), so a caller can send it
 * without reading it back. */
enum pickup_outcome pickup_claim_body(const struct pickup_dirs *d, const char *name,
    int64_t now, bool sync, struct queue_entry *e, char **msg, size_t *msglen,
    char *reason, size_t reasonlen, char *err, size_t errlen);

/* Make a batch of sync=false claims durable (fsync files and directories),
 * then remove their claim files.  0, or -1 with err. */
int pickup_commit(const struct pickup_dirs *d, char *err, size_t errlen);

/*
 * pickup_commit() in two steps, so that claiming can go on while a batch
 * is being made durable: pickup_batch_take() takes the sync=false claims
 * made so far (none may be half-done: call it from the claiming thread,
 * between claims); pickup_batch_commit() makes exactly those durable and
 * drops their claims (0, or -1 with err: the claims stay for
 * pickup_recover()), from any thread.  A later batch never depends on an
 * earlier one having succeeded.
 */
struct pickup_batch;
struct pickup_batch *pickup_batch_take(void);
size_t pickup_batch_size(const struct pickup_batch *b);
int pickup_batch_commit(const struct pickup_dirs *d, const struct pickup_batch *b,
    char *err, size_t errlen);
/* Move the claims of from into into (from is freed): one commit for both. */
void pickup_batch_merge(struct pickup_batch *into, struct pickup_batch *from);
void pickup_batch_free(struct pickup_batch *b);

/*
 * Remove a finished message like queue_entry_remove() (.env first, then
 * .msg), keeping the .env's inode as a spare in tmp/ for a later claim.
 * 0, or -1 with err (ENOENT: errno preserved).
 */
int pickup_release(const struct pickup_dirs *d, const char *id, char *err, size_t errlen);

/* At start-up: finish or redo claims and removals a crash interrupted.
 * Returns the number recovered, or -1 with err. */
int pickup_recover(const struct pickup_dirs *d, int64_t now, char *err, size_t errlen);

#endif
