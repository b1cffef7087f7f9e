/*
 * queue: the outbound queue's on-disk form, shared by the daemon and the
 * tools (smtpgate-queue, smtpgate-sendmail -bp).  The spool layout (modes:
 * outbound/README.md, enforced by spooldirs.c):
 *
 *   <spool>/maildrop/<name>    files of smtpgate-sendmail (any local user)
 *   <spool>/pickup/<name>      files of trusted producers (staging/ + rename)
 *   <spool>/queue/<id>.msg     the message as it will be sent (envelope
 *                              lines and Bcc: removed), written once by the
 *                              daemon: a copy, never a producer's file
 *   <spool>/queue/<id>.env     its state, key=value text, only ever
 *                              replaced whole (tmp/ + rename)
 *   <spool>/control/<verb>.<target>.<unique>
 *                              requests from smtpgate-queue to the
 *                              running daemon (retry, delete); only the
 *                              names are read
 *   <spool>/bad/<name> and <name>.reason   files that could not be taken
 *   <spool>/tmp/               the daemon's private files
 *
 * A message is queued when its .env exists (the .msg is written first);
 * it is gone when its .env is gone (the .env is removed first).  An
 * entry's offset (where the message starts in its .msg) is 0 for every
 * message queued now; older versions queued pickup files in place with a
 * non-zero offset, and such entries are still sent.
 */
#ifndef SMTPGATE_QUEUE_H
#define SMTPGATE_QUEUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "id.h"

enum queue_rcpt_state {
	QUEUE_RCPT_PENDING,
	QUEUE_RCPT_DELIVERED,
	QUEUE_RCPT_FAILED,	/* permanently; bounced (or to be bounced) */
};

struct queue_rcpt {
	char *addr;
	enum queue_rcpt_state state;
	char *reply;		/* last reply for it, printable; may be NULL */
};

struct queue_entry {
	char id[ID_LEN + 1];
	char *sender;		/* "" for the null sender */
	int64_t created;	/* unix time first queued */
	int64_t next_attempt;	/* unix time; 0 = now */
	uint64_t size;		/* bytes of the message as sent (CRLF) */
	uint64_t offset;	/* where the message starts in .msg (0 normally) */
	unsigned attempts;
	bool delay_warned;	/* the "delayed" DSN was sent */
	bool bounced;		/* the DSN for FAILED recipients was queued */
	char *last_reply;	/* printable; may be NULL */
	struct queue_rcpt *rcpts;
	size_t nrcpts;
};

/* The largest .env file read or parsed. */
#define QUEUE_ENV_MAX	(8u << 20)

/* Pure (queue_env.c): entry <-> text.  Parse errors name the line. */
char *queue_env_format(const struct queue_entry *e, size_t *lenp);
int queue_env_parse(const char *buf, size_t len, struct queue_entry *e,
    char *err, size_t errlen);
void queue_entry_free(struct queue_entry *e);

/* "queued" (never tried), "deferred" (tried, some pending), "done". */
const char *queue_entry_state(const struct queue_entry *e);

/* Read queue/<id>.env; 0, or -1 with err (ENOENT: errno preserved). */
int queue_entry_load(int queuedirfd, const char *id, struct queue_entry *e,
    char *err, size_t errlen);
/* Replace queue/<id>.env atomically (via tmpdirfd); fsync when sync. */
int queue_entry_store(int tmpdirfd, int queuedirfd, const struct queue_entry *e,
    bool sync, char *err, size_t errlen);
/* Remove a message: .env first, then .msg. */
int queue_entry_remove(int queuedirfd, const char *id, char *err, size_t errlen);

/*
 * A new message to queue: its envelope, the message as sent (msg[0..msglen),
 * its size is the entry's size), the time it is queued (created =
 * next_attempt = now), and whether to fsync (sync).  id names it for
 * queue_entry_create_id() and queue_env_new(); queue_entry_create() makes
 * a fresh one.  msg and sync are not used by queue_env_new().
 */
struct queue_new {
	const char *id;
	const char *sender;		/* "" or NULL: the null sender */
	const char *const *rcpts;
	size_t nrcpts;
	const char *msg;
	size_t msglen;
	int64_t now;
	bool sync;
};

/* Fill e as the entry of n (every recipient pending); pure. */
void queue_entry_init(struct queue_entry *e, const struct queue_new *n);

/*
 * Queue a new message: write queue/<id>.msg from n->msg, then its .env (all
 * recipients pending, created = next_attempt = n->now), fsync both and the
 * queue directory when n->sync.  Fills e (a fresh id; n->id is not used).
 * 0, or -1 with err.
 */
int queue_entry_create(int tmpdirfd, int queuedirfd, const struct queue_new *n,
    struct queue_entry *e, char *err, size_t errlen);

/*
 * The same under the id n->id (pickup: the id of its claim, so a crash can
 * be recovered).  queue/<id>.msg must not exist yet (EEXIST otherwise).
 */
int queue_entry_create_id(int tmpdirfd, int queuedirfd, const struct queue_new *n,
    struct queue_entry *e, char *err, size_t errlen);

/* The .env text of the new message n (every recipient pending, created =
 * next_attempt = now), for a queue_put of a new entry. */
char *queue_env_new(const struct queue_new *n, size_t *lenp);

/*
 * A group store, for the daemon's disk worker: each put's text becomes
 * queue/<name> (a new .msg, a new .env, or with replace a .env replacing
 * the old one).  Every text is written under tmp/ with no sync of its
 * own; one syncfs(2) makes them all durable; then the .msg files are
 * renamed into queue/ and queue/ fsynced, then the .env files likewise,
 * so a .env never reaches the disk before its .msg.  A put with
 * after_prev is dropped when the put before it failed (a new entry's
 * .env after its .msg; a deferred message's .env after its DSN).  Each
 * put's ok and err tell its fate.  The names in one group must differ.
 * 0, or -1 with err when the group itself could not be made durable
 * (then no put is ok).
 */
struct queue_put {
	char name[ID_LEN + 8];	/* "<id>.msg" or "<id>.env" */
	const char *text;
	size_t len;
	bool replace;		/* may replace an existing file */
	bool after_prev;
	bool ok;
	char err[256];
};
int queue_put_group(int tmpdirfd, int queuedirfd, struct queue_put *v, size_t n,
    char *err, size_t errlen);
/* 1 when name (in tmp/) is a temporary file of queue_put_group(). */
int queue_put_is_temp(const char *name);

/* Call fn for every queued id (every *.env), in no particular order; a
 * non-zero return from fn stops the walk and is returned. */
int queue_foreach(int queuedirfd, int (*fn)(void *arg, const char *id),
    void *arg, char *err, size_t errlen);

/*
 * Make the given messages due now (next_attempt = 0), their entries
 * rewritten in groups that share one sync.  A message gone meanwhile is
 * skipped; one that cannot be read or rewritten does not stop the others.
 * 0, or -1 with err naming the first failure and how many there were.
 */
int queue_retry_ids(int tmpdirfd, int queuedirfd, const char (*ids)[ID_LEN + 1],
    size_t n, char *err, size_t errlen);

/*
 * Apply a request directly (the daemon, or a tool holding the spool lock):
 * verb "retry" (next_attempt = 0) or "delete"; target an id or "all"
 * (retry only).  0, or -1 with err.
 */
int queue_apply(int tmpdirfd, int queuedirfd, const char *verb,
    const char *target, char *err, size_t errlen);

/* Post a request to the running daemon through <spool>/control/. */
int queue_control_post(int tmpdirfd, int controldirfd, const char *verb,
    const char *target, char *err, size_t errlen);

#endif
