/*
 * pubthread: the publisher thread (see pubthread.h).  It alone touches a
 * logged job's files after the 250: their tmp/ copies, the rename into
 * new/, the spill file and the new/ descriptors.
 *
 * Must not know about SMTP, sessions or the event loop.
 */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bgthread.h"
#include "clog.h"
#include "delivery_int.h"
#include "log.h"
#include "publish.h"
#include "pubthread.h"
#include "util.h"

/* One batch waiting to be published. */
struct pubitem {
	struct pubitem *next;
	struct delivery_job *jobs;	/* linked by pub_next */
	struct clog_writer *w;
	uint64_t last;
	size_t nmsgs;
};

struct pubthread {
	struct publisher *pub;
	struct clog *log;
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct pubitem *head, **tail;	/* under lock */
	size_t backlog;			/* under lock: messages queued or being published */
	bool stopping;			/* under lock */
};

/*
 * Publish every file of logged job j: an inline one is written to tmp/
 * now, then each is renamed into new/ without replacing; no sync (the
 * checkpoint's).  A failure keeps the 250 (the record is durable): 0, or
 * the errno of the last failure, for item_publish to stop the log
 * acknowledging until the next checkpoint writes it again.
 */
static int
job_publish(struct pubthread *t, struct delivery_job *j)
{
	char err[600];
	int failed = 0;

	for (size_t i = 0; i < j->nfiles; i++) {
		struct dfile *f = &j->files[i];
		struct iovec iov[2] = { { f->header, f->header_len }, { j->body, j->body_len } };
		int rc;

		if (f->ref) {
			rc = publish_rename(t->pub, f->name, f->newfd);
			if (rc == -1)
				snprintf(err, sizeof(err), "new/%s: publish: %s", f->name,
				    strerror(errno));
		} else
			rc = publish_file(t->pub, f->newfd, f->name,
			    &(struct fsutil_new){ iov, 2, false, &j->perm }, err,
			    sizeof(err));
		if (rc == -1) {
			failed = errno ? errno : EIO;
			log_warnx("delivery id=%s: mailbox %s: %s (kept in the commit log; "
			    "written again at the next checkpoint)", j->qid, f->mailbox, err);
			continue;
		}
		f->ref = false;	/* the tmp/ name is gone */
	}
	return failed;
}

/* Close and remove job j's spill file (the loop never waits for the
 * unlink of a large file) and close its new/ descriptors. */
static void
job_close(struct pubthread *t, struct delivery_job *j)
{
	if (j->spill_fd >= 0) {
		close(j->spill_fd);
		j->spill_fd = -1;
		if (unlinkat(t->pub->tmpfd, j->spill_name, 0) == -1 && errno != ENOENT)
			log_warn("delivery id=%s: unlink %s/tmp/%s", j->qid, t->pub->spool,
			    j->spill_name);
	}
	for (size_t i = 0; i < j->nfiles; i++)
		if (j->files[i].newfd >= 0) {
			close(j->files[i].newfd);
			j->files[i].newfd = -1;
		}
}

/*
 * Publish one batch, then move its writer's published number on; after
 * a failure together with marking the log failed (clog_published_failed:
 * a checkpoint between the two would either cover the unpublished
 * record or call the failure repaired without writing it again), then
 * ask for the checkpoint that writes it again.
 */
static void
item_publish(struct pubthread *t, struct pubitem *it)
{
	struct delivery_job *j = it->jobs, *next;
	int failed = 0, e;

	for (; j != NULL; j = next) {
		next = j->pub_next;
		if ((e = job_publish(t, j)) != 0)
			failed = e;
		job_close(t, j);
		delivery_job_release(j);
	}
	if (failed == 0) {
		clog_published(it->w, it->last);
		return;
	}
	clog_published_failed(it->w, it->last, failed);
	clog_kick(t->log);
}

/* Take the next batch (NULL: stopping and nothing left). */
static struct pubitem *
item_take(struct pubthread *t)
{
	struct pubitem *it;

	pthread_mutex_lock(&t->lock);
	while (t->head == NULL && !t->stopping)
		pthread_cond_wait(&t->cond, &t->lock);
	if ((it = t->head) != NULL && (t->head = it->next) == NULL)
		t->tail = &t->head;
	pthread_mutex_unlock(&t->lock);
	return it;
}

/* The thread: batches in the order they came. */
static void *
pub_main(void *arg)
{
	struct pubthread *t = arg;
	struct pubitem *it;

	while ((it = item_take(t)) != NULL) {
		item_publish(t, it);
		pthread_mutex_lock(&t->lock);
		t->backlog -= it->nmsgs;
		pthread_mutex_unlock(&t->lock);
		free(it);
	}
	return NULL;
}

/* Start the thread (see pubthread.h). */
struct pubthread *
pubthread_start(struct publisher *pub, struct clog *c, char *err, size_t errlen)
{
	struct pubthread *t = xcalloc(1, sizeof(*t));
	int e;

	t->pub = pub;
	t->log = c;
	t->tail = &t->head;
	pthread_mutex_init(&t->lock, NULL);
	pthread_cond_init(&t->cond, NULL);
	if ((e = bgthread_start(&t->thread, pub_main, t, "publish")) != 0) {
		snprintf(err, errlen, "pthread_create: %s", strerror(e));
		pthread_mutex_destroy(&t->lock);
		pthread_cond_destroy(&t->cond);
		free(t);
		return NULL;
	}
	return t;
}

/* Queue a logged batch (see pubthread.h). */
void
pubthread_put(struct pubthread *t, struct delivery_job *jobs, struct clog_writer *w,
    uint64_t last)
{
	struct pubitem *it = xcalloc(1, sizeof(*it));

	it->jobs = jobs;
	it->w = w;
	it->last = last;
	for (struct delivery_job *j = jobs; j != NULL; j = j->pub_next)
		it->nmsgs++;
	pthread_mutex_lock(&t->lock);
	*t->tail = it;
	t->tail = &it->next;
	t->backlog += it->nmsgs;
	pthread_cond_signal(&t->cond);
	pthread_mutex_unlock(&t->lock);
}

/* Messages not yet published (see pubthread.h). */
size_t
pubthread_backlog(struct pubthread *t)
{
	size_t n;

	pthread_mutex_lock(&t->lock);
	n = t->backlog;
	pthread_mutex_unlock(&t->lock);
	return n;
}

/* Drain, stop, free (see pubthread.h). */
void
pubthread_stop(struct pubthread *t)
{
	if (t == NULL)
		return;
	pthread_mutex_lock(&t->lock);
	t->stopping = true;
	pthread_cond_signal(&t->cond);
	pthread_mutex_unlock(&t->lock);
	pthread_join(t->thread, NULL);
	pthread_mutex_destroy(&t->lock);
	pthread_cond_destroy(&t->cond);
	free(t);
}
