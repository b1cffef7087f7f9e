/*
 * pubthread: the publisher thread (inbound/README.md "The commit log").
 * The log writers hand it each batch right after the batch's records are
 * durable and its 250s have gone to the loop; it writes every file into
 * tmp/, renames it into its Maildir's new/ (publish.h), removes the
 * batch's spill files and then moves the writer's published number on,
 * which is what the checkpoint makes durable.  Batches are taken in the
 * order they came, so each writer's published number only grows.
 *
 * A publish that fails does not touch the 250 already given: the record
 * is durable, the log stops acknowledging (clog_fail) and the next
 * checkpoint writes the file again.
 *
 * Must not know about SMTP, sessions or the event loop.
 */
#ifndef SMTPGATE_PUBTHREAD_H
#define SMTPGATE_PUBTHREAD_H

#include <stddef.h>
#include <stdint.h>

struct clog;
struct clog_writer;
struct delivery_job;
struct publisher;
struct pubthread;

/* Start the thread for pub's spool and log c; NULL with err on failure. */
struct pubthread *pubthread_start(struct publisher *pub, struct clog *c, char *err,
    size_t errlen);

/*
 * Queue the logged jobs of one batch of writer w (linked by pub_next,
 * each holding a reference for the publisher); last is the sequence
 * number of the batch's last record.
 */
void pubthread_put(struct pubthread *t, struct delivery_job *jobs, struct clog_writer *w,
    uint64_t last);

/* Messages answered 250 whose files are not yet in their new/. */
size_t pubthread_backlog(struct pubthread *t);

/* Publish everything queued, then stop the thread and free it. */
void pubthread_stop(struct pubthread *t);

#endif
