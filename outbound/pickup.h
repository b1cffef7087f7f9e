/*
 * pickup: turn a file a producer handed over into a queue entry of the
 * daemon's own.
 *
 * Two drop directories, one format with two strictnesses:
 *
 *   maildrop/  written only by smtpgate-sendmail (set-group-id to the
 *              submission group; the file is owned by the submitting
 *              user).  Strict: "X-Sender:" once as the first line, one or
 *              more "X-Receiver:", then the mandatory
 *              "X-Smtpgate-Envelope: end"; the message follows.
 *   pickup/    trusted producers (the service group): optional leading
 *              X-Sender:/X-Receiver: lines (as in the IIS/Exchange pickup
 *              directory), or none (the envelope then comes from
 *              Return-Path:/From: and To:/Cc:/Bcc:, like sendmail -t); an
 *              "X-Smtpgate-Envelope: end" line ends the envelope there too.
 *
 * Whatever follows the envelope is message, never envelope.  The envelope
 * lines and Bcc: are removed from what is sent.
 *
 * Taking a file (pickup_take): the name is checked with fstatat (regular,
 * one link), renamed to tmp/claim.<id> (pickup) or tmp/drop.<id>
 * (maildrop), opened O_NOFOLLOW|O_NONBLOCK|O_NOCTTY, checked again by
 * fstat (same inode, regular, one link, size), read through that
 * descriptor (too large once past PICKUP_MAX_SIZE), parsed, and COPIED into
 * queue/<id>.msg and .env: the daemon never keeps, maps or sends from an
 * inode a producer can still write.  Whatever cannot be taken goes to
 * bad/ with a .reason.  In the batched mode (struct pickup_ctx) the queue
 * files are made durable later by a group commit (pickup_batch_*); the
 * claim in tmp/ is dropped only then, and pickup_recover() finishes or
 * redoes any claim a crash interrupted, so a crash never loses or
 * duplicates a message.
 *
 * No process-wide state: the daemon owns the batch, the spare pools and
 * the policies, and passes them in (struct pickup_ctx).
 */
#ifndef SMTPGATE_PICKUP_H
#define SMTPGATE_PICKUP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "id.h"
#include "queue.h"

/* Limits shared by the daemon and the injector. */
#define PICKUP_MAX_SIZE		(50u << 20)	/* bytes of a dropped file */
#define PICKUP_MAX_RCPTS	10000		/* envelope recipients */
#define PICKUP_END_LINE		"X-Smtpgate-Envelope: end"

/* The directory fds a pickup needs (all under one spool). */
struct pickup_dirs {
	int tmp, pickup, maildrop, queue, bad;
};

/* Where a file was dropped. */
enum pickup_source {
	PICKUP_SRC_PICKUP,	/* trusted producers, the loose convention */
	PICKUP_SRC_MAILDROP,	/* smtpgate-sendmail, strict */
};

/* pickup_parse() flags. */
#define PICKUP_STRICT	0x1	/* the maildrop format: envelope and end line required */

/* A dropped file parsed: its envelope and the message to store. */
struct pickup_msg {
	struct queue_entry e;	/* sender and rcpts (pickup_parse sets no other field) */
	char *msg;		/* malloc'd: the message as it will be stored */
	size_t msglen;
};

/*
 * Pure: parse a dropped file.  On success (0) m->e.sender and m->e.rcpts
 * are set (other fields untouched) and m->msg, m->msglen is the malloc'd
 * message to store.  On failure (-1) reason says why (for the bad/ log
 * line) and m is untouched.
 */
int pickup_parse(const char *buf, size_t len, unsigned flags, struct pickup_msg *m,
    char *reason, size_t reasonlen);

/*
 * The spare-inode pools (pickup_recover.c, pickup_release.c): one object
 * the daemon owns (the scheduler creates it before recovery and frees it
 * once its worker threads are joined); its own mutex lets the claimer and
 * the reapers share it.
 */
struct pickup_spares;
struct pickup_spares *pickup_spares_new(void);
void pickup_spares_free(struct pickup_spares *sp);

/*
 * The rewriting policies (rewrite.h) set so far, the last one in force
 * for every file taken from then on (pickup_origin.c).  The daemon sets
 * one at start and one at each reload; each is owned from then on and
 * kept until pickup_policies_free(), so a claim under way on another
 * thread never sees the policy it uses freed.  Without a policy nothing
 * is rewritten; body lines over 998 characters are always dealt with
 * (longline.h).
 */
struct rewrite_policy;
struct pickup_policies;
struct pickup_policies *pickup_policies_new(void);
void pickup_policies_set(struct pickup_policies *pp, struct rewrite_policy *p);
/* Free every policy set (no claim may be under way). */
void pickup_policies_free(struct pickup_policies *pp);

/* Claims taken in the batched mode, waiting for one commit (below). */
struct pickup_batch;

/*
 * What a pickup call works with: the spool's directories and what the
 * daemon owns (the spares, the policies), plus this claim's mode.
 *
 * The mode is batch.  NULL: the durable protocol, each file queued with
 * every fsync before pickup_take() returns and its claim dropped at once
 * (recovery, tests, tools).  Not NULL: the batched protocol, the queue
 * files written without fsync and the claim added to batch; the caller
 * must make the batch durable (pickup_batch_commit) before acting on the
 * entry, and the claims stay in tmp/ for pickup_recover() until then.
 */
struct pickup_ctx {
	const struct pickup_dirs *dirs;
	struct pickup_spares *spares;	/* required */
	struct pickup_policies *policies;	/* NULL: nothing rewritten */
	struct pickup_batch *batch;	/* the mode (above) */
	int64_t now;			/* the new entries' creation time */
	bool want_body;			/* keep the stored message in t->msg */
};

enum pickup_outcome {
	PICKUP_QUEUED,		/* t->e is the new queue entry */
	PICKUP_BAD,		/* moved to bad/<t->bname> with .reason; t->reason */
	PICKUP_GONE,		/* someone else took it first */
	PICKUP_ERROR,		/* left where it was (or in tmp/ for recovery):
				   t->err; try again later, with backoff */
};

/* What pickup_take() found out. */
struct pickup_taken {
	struct queue_entry e;	/* PICKUP_QUEUED: the new entry (caller frees) */
	char *msg;		/* ... and the message as stored (with want_body) */
	size_t msglen;
	uid_t uid;		/* the file's owner, when it was looked at */
	bool have_uid;
	char bname[320];	/* PICKUP_BAD: its name in bad/ */
	char reason[512];
	char err[512];
};

/*
 * Take <source dir>/<name> and queue it (see above), in c's mode.  With
 * c->want_body the stored message is kept in t->msg (the caller frees
 * it) so it can be sent without reading it back.
 */
enum pickup_outcome pickup_take(const struct pickup_ctx *c, enum pickup_source src,
    const char *name, struct pickup_taken *t);

/* pickup_take() from pickup/, without the body (for tests and tools):
 * why is t->reason for PICKUP_BAD, t->err for PICKUP_ERROR, else "". */
enum pickup_outcome pickup_claim(const struct pickup_ctx *c, const char *name,
    struct queue_entry *e, char *why, size_t whylen);

/*
 * The batched mode's group commit, in two steps so that claiming can go
 * on while a batch is being made durable: the claiming thread makes a
 * batch (pickup_batch_new) and claims into it; pickup_batch_commit()
 * makes exactly its claims durable and drops them (0, or -1 with err: the
 * claims stay for pickup_recover()), from any thread.  A later batch
 * never depends on an earlier one having succeeded.
 */
struct pickup_batch *pickup_batch_new(void);
size_t pickup_batch_size(const struct pickup_batch *b);
int pickup_batch_commit(const struct pickup_dirs *d, const struct pickup_batch *b,
    char *err, size_t errlen);
/* pickup_batch_commit(), then b is emptied for the next claims. */
int pickup_commit(const struct pickup_dirs *d, struct pickup_batch *b, char *err,
    size_t errlen);
/* Move the claims of from into into (from is freed): one commit for both. */
void pickup_batch_merge(struct pickup_batch *into, struct pickup_batch *from);
void pickup_batch_free(struct pickup_batch *b);

#define PICKUP_ERR_MAX	512

/*
 * Remove finished messages as one group: each like queue_entry_remove()
 * (.env first, then .msg), but their inodes are kept as spares in tmp/
 * (while the pools have room) for later copies; then queue/ is fsynced,
 * and only then are the spares written over.  errs[i] is "" or why ids[i]
 * could not be removed (one already gone is not an error).  0, or -1 with
 * err when the fsync failed.
 */
int pickup_release_group(const struct pickup_ctx *c, const char (*ids)[ID_LEN + 1],
    size_t n, char (*errs)[PICKUP_ERR_MAX], char *err, size_t errlen);

/* pickup_release_group() of one id: 0, or -1 with err. */
int pickup_release(const struct pickup_ctx *c, const char *id, char *err, size_t errlen);

/*
 * At start-up: finish or redo claims and removals a crash interrupted
 * (tmp/claim.<id>, tmp/drop.<id>; an older version's queue/<id>.new),
 * and take stock of the spares (regular files of ours with one link; any
 * other tmp/spare.N or tmp/mspare.N is removed with one log line) into
 * c->spares.  Claims are redone in the durable mode whatever c->batch
 * says, new entries created at c->now.  A claim that cannot be recovered
 * is logged and left for the next start.  Returns the number recovered,
 * or -1 with err when tmp/ or queue/ cannot be read.
 */
int pickup_recover(const struct pickup_ctx *c, char *err, size_t errlen);

#endif
