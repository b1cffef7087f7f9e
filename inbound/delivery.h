/*
 * delivery: durable Maildir delivery of accepted messages, off the event
 * loop (inbound/README.md "The commit log").  The loop thread submits a
 * message (envelope + body); a small pool of log writers appends every
 * pending job to its commit log at once with one fdatasync (GROUP COMMIT)
 * and posts all results back to the loop with one wake-up; then the
 * publisher thread puts the files into the Maildirs and the checkpoint
 * thread makes them durable.
 *
 * Per recipient mailbox one file holds Return-Path, one Delivered-To per
 * recipient of that mailbox, Received and the body, with LF line ends
 * (mailfile.h), in mailbox_file_mode and mailbox_group; it is written in
 * <spool>/tmp/ and renamed (never replacing) into
 * <spool>/mailboxes/<name>/new/, reached by descriptors with no symlink
 * followed (maildir.h).  A result is OK once the message is durable in the
 * log; it reaches new/ moments later.  On a failure nothing of the message
 * is logged or published.  Knows nothing about SMTP sessions or sockets.
 */
#ifndef SMTPGATE_DELIVERY_H
#define SMTPGATE_DELIVERY_H

#include <stddef.h>
#include <time.h>

struct event_base;
struct inbound_config;
struct delivery;
struct delivery_job;

enum delivery_result {
	DELIVERY_OK,
	DELIVERY_TEMPFAIL,	/* 451 4.3.0 */
	DELIVERY_DISKFULL,	/* 452 4.3.1 (ENOSPC, EDQUOT) */
};

struct delivery_rcpt {
	const char *addr;	/* "local@domain" */
	const char *mailbox;	/* Maildir name under <spool>/mailboxes/ */
};

struct delivery_request {
	const char *queue_id;
	const char *helo;		/* as given by the client */
	const char *client_ip;		/* numeric */
	const char *hostname;		/* our name for the Received header */
	const char *mail_from;		/* "" for <> */
	const struct delivery_rcpt *rcpts;
	size_t nrcpts;
	const char *protocol;		/* "ESMTP", "ESMTPS", "SMTP", "UTF8SMTPS", ... */
	const char *tls_version;	/* NULL without TLS */
	const char *tls_cipher;
	char *body;			/* CRLF lines; ownership passes to delivery
					 * (which stores them with LF) */
	size_t body_len;
	/* or a spilled body (spill.h): with body_name set, body_fd is its
	 * file in tmp/ (CRLF lines, body_len bytes); both pass to delivery,
	 * which removes the file once the message is published or refused */
	const char *body_name;
	int body_fd;
	int body_err;			/* non-zero: the body could not be kept
					 * (errno of the spill write): refuse */
};

/* Called on the loop thread; err is a one-line reason ("" on success). */
typedef void (*delivery_done_fn)(void *arg, enum delivery_result result, const char *err);

/* The spool the workers deliver into: its path and its open tmp/. */
struct delivery_spool {
	const char *path;
	int tmpfd;
};

/*
 * Start nthreads workers for spool, whose Maildirs maildir_prepare made;
 * files get the mode and group of cfg.  Call before any other thread
 * makes files (it reads the umask).  NULL with err on failure.
 */
struct delivery *delivery_new(struct event_base *base, const struct delivery_spool *spool,
    const struct inbound_config *cfg, unsigned nthreads, char *err, size_t errlen);

/* Files of messages submitted from now on get the mode and group of cfg
 * (loop thread; after a reload). */
void delivery_set_perms(struct delivery *d, const struct inbound_config *cfg);

/* Finish every queued job, stop the workers and free (loop thread). */
void delivery_free(struct delivery *d);

/*
 * Queue a message.  The headers are built now, the disk work happens on a
 * worker; done(arg, ...) runs later on the loop thread unless the job was
 * cancelled.  The returned handle is valid until done runs or cancel.
 */
struct delivery_job *delivery_submit(struct delivery *d, const struct delivery_request *r,
    delivery_done_fn done, void *arg);

/* The submitter goes away: the job still completes, done is not called. */
void delivery_cancel(struct delivery_job *j);

/* Jobs submitted and not yet reported back. */
size_t delivery_pending(const struct delivery *d);

/* Messages answered 250 (durable in the log) and not yet in their new/. */
size_t delivery_unpublished(const struct delivery *d);

/* 0 while the commit log acknowledges; else the error number of the
 * failed flush, publish or checkpoint that stopped it (every message is
 * answered 451/452 until a checkpoint succeeds). */
int delivery_log_error(const struct delivery *d);

/* The spool's tmp/ descriptor (spill files are made there). */
int delivery_tmpfd(const struct delivery *d);

/* Remove regular files in tmpfd older than max_age seconds, and every
 * spill file whatever its age (a crash cut its session); returns how many. */
unsigned delivery_clean_tmp(int tmpfd, time_t max_age);

#endif
