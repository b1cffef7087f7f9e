/*
 * bgthread: how the inbound starts its background threads (delivery log
 * writers, publisher, checkpoint, mailbox size scanner), one way for all:
 * with every signal blocked (signals stay with the event loop), as
 * SCHED_BATCH (woken by a new job, it does not preempt the loop, or the
 * clients on this machine, in the middle of a dialogue; set by the
 * starting thread, so it holds before the daemon listens: glibc takes no
 * SCHED_BATCH in thread attributes) and named for ps and top.
 *
 * Must not know about what the threads do.
 */
#ifndef SMTPGATE_BGTHREAD_H
#define SMTPGATE_BGTHREAD_H

#include <pthread.h>

/*
 * Start fn(arg) as thread *t named name (at most 15 characters).  A
 * refused SCHED_BATCH is only a hint lost: logged, and the thread runs as
 * the others do.  0, or the error number of pthread_create.
 */
int bgthread_start(pthread_t *t, void *(*fn)(void *), void *arg, const char *name);

#endif
