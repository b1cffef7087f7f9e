/*
 * delivery_int: what delivery.c (the loop side and the log writers) and
 * pubthread.c (the publisher) share of a job.  Private to those two.
 *
 * A job has two owners once it is logged: the loop thread, until its
 * result has been handed to the submitter, and the publisher, until its
 * files are in their Maildirs.  Whoever finishes last frees it
 * (delivery_job_release); neither reads what the other one writes.
 */
#ifndef SMTPGATE_DELIVERY_INT_H
#define SMTPGATE_DELIVERY_INT_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

#include "delivery.h"
#include "fsutil.h"
#include "id.h"
#include "spill.h"

/* One file: the copy for one mailbox. */
struct dfile {
	char *mailbox;
	char *header;
	size_t header_len;
	char name[256];		/* Maildir name, also the tmp/ name */
	int newfd;		/* its new/ (O_PATH, maildir_open_new) or -1 */
	bool ref;		/* logged by reference: tmp/name written and synced */
	uint32_t crc;		/* ... and its CRC32 */
};

struct delivery_job {
	struct delivery_job *next;	/* the todo or done list */
	struct delivery_job *pub_next;	/* the publisher's batch */
	atomic_int refs;	/* owners left: 1, or 2 while also the publisher's */
	char *body;		/* CRLF lines until job_prepare makes them LF */
	size_t body_len;
	int spill_fd;		/* a spilled body (CRLF) or -1 */
	char spill_name[SPILL_NAME_MAX];	/* its tmp/ name */
	struct fsutil_perm perm;	/* mode and group of its files */
	struct dfile *files;
	size_t nfiles;
	bool failed;
	int err_no;
	char err[256];
	delivery_done_fn done;
	void *arg;
	bool cancelled;		/* loop thread only */
	char qid[ID_LEN + 1];	/* the queue id, for log lines */
};

/* One owner is done with j; the last one frees it and all it owns. */
void delivery_job_release(struct delivery_job *j);

#endif
