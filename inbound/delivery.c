/*
 * delivery: durable Maildir delivery on a worker pool with a commit log
 * (see delivery.h and inbound/README.md "The commit log").  Threads: the
 * loop thread submits and receives results; each worker takes a batch,
 * appends it to its own log segments with one fdatasync, reports the
 * results (one eventfd wake-up), then hands the batch to the publisher
 * thread (pubthread.c), which puts the files into the Maildirs; the
 * checkpoint thread (checkpoint.c) makes them durable.
 *
 * Must not know about SMTP replies, sessions or sockets.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include <event2/event.h>

#include "bgthread.h"
#include "checkpoint.h"
#include "clog.h"
#include "config.h"
#include "delivery.h"
#include "delivery_int.h"
#include "fsutil.h"
#include "id.h"
#include "log.h"
#include "maildir.h"
#include "mailfile.h"
#include "publish.h"
#include "pubthread.h"
#include "recover.h"
#include "spill.h"
#include "util.h"

#define DELIVERY_MAX_THREADS CLOG_MAX_WORKERS

/*
 * One worker thread and its log writer: its segments are open file
 * descriptions of its own, so a write-back error the kernel reports once
 * per description reaches the worker whose fdatasync it concerns.
 */
struct delivery_worker {
	struct delivery *d;
	pthread_t thread;
	struct clog_writer *log;
	uint64_t last_seq;	/* of its last record logged (0: none yet) */
};

struct delivery {
	struct event_base *base;
	char *spool;
	int tmpfd;
	int rootfd;		/* <spool>/mailboxes (O_PATH) */
	mode_t umask;		/* the process's, read once before the workers */
	struct fsutil_perm perm;	/* loop thread: copied into each job */
	int wakefd;
	struct event *wake_ev;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct delivery_job *todo, **todo_tail;
	struct delivery_job *done, **done_tail;
	bool stopping;
	size_t pending;		/* loop thread only */
	struct publisher pub;
	struct clog *log;
	struct checkpoint *ckpt;
	struct pubthread *pubt;
	struct delivery_worker workers[DELIVERY_MAX_THREADS];
	unsigned nworkers;
};

/* Free one job and everything it owns. */
static void
job_free(struct delivery_job *j)
{
	for (size_t i = 0; i < j->nfiles; i++) {
		free(j->files[i].mailbox);
		free(j->files[i].header);
		if (j->files[i].newfd >= 0)
			close(j->files[i].newfd);
	}
	free(j->files);
	free(j->body);
	if (j->spill_fd >= 0)
		close(j->spill_fd);
	free(j);
}

/* One owner is done with j (see delivery_int.h). */
void
delivery_job_release(struct delivery_job *j)
{
	if (atomic_fetch_sub(&j->refs, 1) == 1)
		job_free(j);
}

/* Fail job j with errno e and a message (first failure wins). */
static void
job_fail_msg(struct delivery_job *j, int e, const char *err)
{
	if (j->failed)
		return;
	j->failed = true;
	j->err_no = e;
	util_strlcpy(j->err, err, sizeof(j->err));
}

/* Fail job j with errno e and "<what>: strerror(e)". */
static void
job_fail(struct delivery_job *j, int e, const char *what)
{
	char err[sizeof(j->err)];

	if (snprintf(err, sizeof(err), "%s: %s", what, strerror(e)) >= (int)sizeof(err))
		memcpy(err + sizeof(err) - 4, "...", 4);	/* truncated */
	job_fail_msg(j, e, err);
}

/* The spilled body as job_write_spill learnt it: its length with LF line
 * ends, and the copy buffer the files share. */
struct spill_pass {
	size_t lf_len;
	char *buf;
};

/*
 * The tmp/ file of mailbox file f of a spilled job: made with the header
 * alone (fsutil_write_new: exclusive, no symlink, mode and group),
 * then opened again in our private tmp/ to append the body converted to
 * LF, piece by piece, and fdatasync'ed, since its record refers to it.
 * 0, or -1 with errno and err (the file removed).
 */
static int
job_write_spilled(struct delivery *d, struct delivery_job *j, struct dfile *f,
    const struct spill_pass *sp, char *err, size_t errlen)
{
	struct iovec iov = { f->header, f->header_len };
	size_t lf_len = sp->lf_len;
	char *buf = sp->buf;
	size_t len;
	int fd, e;

	fsutil_maildir_name(f->name, sizeof(f->name), util_hostname(), f->header_len + lf_len);
	if (fsutil_write_new(d->tmpfd, f->name, &(struct fsutil_new){ &iov, 1, false, &j->perm },
	    err, errlen) == -1)
		return -1;
	fd = openat(d->tmpfd, f->name, O_WRONLY | O_APPEND | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		snprintf(err, errlen, "%s/tmp/%s: open: %s", d->spool, f->name, strerror(errno));
		goto fail;
	}
	f->crc = clog_crc(0, f->header, f->header_len);
	if (spill_copy_lf(j->spill_fd, fd, buf, &len, &f->crc) == -1 ||
	    (CLOG_DURABLE && fdatasync(fd) == -1)) {
		e = errno;
		snprintf(err, errlen, "%s/tmp/%s: copy from %s: %s", d->spool, f->name,
		    j->spill_name, strerror(e));
		close(fd);
		errno = e;
		goto fail;
	}
	if (close(fd) == -1) {
		snprintf(err, errlen, "%s/tmp/%s: close: %s", d->spool, f->name, strerror(errno));
		goto fail;
	}
	f->ref = true;
	return 0;
fail:
	e = errno;
	unlinkat(d->tmpfd, f->name, 0);
	errno = e;
	return -1;
}

/* A spilled job: one pass to learn the LF length (the ,S= of the names),
 * then per mailbox its tmp/ file, synced: logged by reference. */
static void
job_write_spill(struct delivery *d, struct delivery_job *j)
{
	char *buf = xmalloc(SPILL_COPY_BUF), err[512];
	size_t lf_len;

	if (spill_copy_lf(j->spill_fd, -1, buf, &lf_len, NULL) == -1) {
		snprintf(err, sizeof(err), "%s/tmp/%s: read: %s", d->spool, j->spill_name,
		    strerror(errno));
		job_fail_msg(j, errno, err);
		free(buf);
		return;
	}
	for (size_t i = 0; i < j->nfiles && !j->failed; i++)
		if (job_write_spilled(d, j, &j->files[i], &(struct spill_pass){ lf_len, buf },
		    err, sizeof(err)) == -1)
			job_fail_msg(j, errno, err);
	free(buf);
}

/* An in-memory file too large for an inline record: its tmp/ file,
 * written and fdatasync'ed, logged by reference. */
static void
job_write_big(struct delivery *d, struct delivery_job *j, struct dfile *f)
{
	struct iovec iov[2] = { { f->header, f->header_len }, { j->body, j->body_len } };
	char err[512];
	int fd;

	if (fsutil_write_new(d->tmpfd, f->name, &(struct fsutil_new){ iov, 2, false, &j->perm },
	    err, sizeof(err)) == -1) {
		job_fail_msg(j, errno, err);
		return;
	}
	fd = openat(d->tmpfd, f->name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 || (CLOG_DURABLE && fdatasync(fd) == -1)) {
		snprintf(err, sizeof(err), "%s/tmp/%s: fdatasync", d->spool, f->name);
		job_fail(j, errno, err);
		unlinkat(d->tmpfd, f->name, 0);
	} else {
		f->crc = clog_crc_iov(iov, 2);
		f->ref = true;
	}
	if (fd >= 0)
		close(fd);
}

/* Remove the tmp/ files a job wrote for its by-reference records. */
static void
job_unlink_refs(struct delivery *d, struct delivery_job *j)
{
	for (size_t i = 0; i < j->nfiles; i++) {
		if (j->files[i].ref && unlinkat(d->tmpfd, j->files[i].name, 0) == -1 &&
		    errno != ENOENT)
			log_warn("delivery id=%s: unlink %s/tmp/%s", j->qid, d->spool,
			    j->files[i].name);
		j->files[i].ref = false;
	}
}

/*
 * Open new/ of every mailbox of job j and check that the daemon may
 * write there, before anything is logged: what fails now is answered 451
 * and never acknowledged.  new/ is reached by descriptors from
 * <spool>/mailboxes with no symlink followed (maildir_open_new): readers
 * can write in the mailbox and could have put a symlink to anywhere in
 * place of new/.  Such a mailbox fails the message, its reason naming
 * the mailbox; nothing is published outside the spool.
 */
static void
job_open_dirs(struct delivery *d, struct delivery_job *j)
{
	char err[sizeof(j->files[0].name) + 300];

	for (size_t i = 0; i < j->nfiles && !j->failed; i++) {
		struct dfile *f = &j->files[i];

		if ((f->newfd = maildir_open_new(d->rootfd, f->mailbox, err, sizeof(err))) < 0) {
			job_fail_msg(j, errno, err);
			return;
		}
		if (faccessat(f->newfd, "", W_OK | X_OK, AT_EMPTY_PATH | AT_EACCESS) == -1) {
			snprintf(err, sizeof(err), "mailbox %s: new/", f->mailbox);
			job_fail(j, errno, err);
			return;
		}
	}
}

/* The largest record logged inline in segments of segsize bytes. */
static size_t
inline_max(size_t segsize)
{
	return segsize / 4 < CLOG_INLINE_MAX ? segsize / 4 : CLOG_INLINE_MAX;
}

/*
 * Get job j ready for the log: new/ of each mailbox checked, the body
 * turned from CRLF into LF (once per message, on the worker: a 50 MB body
 * must not hold up the event loop), the file names chosen (,S= is the
 * stored size).  A spilled body, or a file past inline_max, is written
 * to tmp/ and synced now: logged by reference.
 * *refs is set when a tmp/ file was made (tmp/ must then be synced).
 */
static void
job_prepare(struct delivery *d, struct delivery_job *j, bool *refs)
{
	size_t big = inline_max(clog_segment_size(d->log));

	if (j->failed)		/* e.g. its spilled body could not be kept */
		return;
	job_open_dirs(d, j);
	if (j->failed)
		return;
	if (j->spill_fd >= 0) {
		job_write_spill(d, j);
		*refs = true;
		return;
	}
	j->body_len = mailfile_to_lf(j->body, j->body_len);
	for (size_t i = 0; i < j->nfiles && !j->failed; i++) {
		struct dfile *f = &j->files[i];

		fsutil_maildir_name(f->name, sizeof(f->name), util_hostname(),
		    f->header_len + j->body_len);
		if (f->header_len + j->body_len + CLOG_HDR + 600 > big) {
			job_write_big(d, j, f);
			*refs = true;
		}
	}
}

/* Append the records of job j to the worker's log; 0 or -1 with err.
 * The body's CRC is taken once, each inline file's joined from it. */
static int
job_log(struct delivery_worker *w, struct delivery_job *j, char *err, size_t errlen)
{
	uint32_t body_crc = 0;
	bool body_crc_set = false;

	for (size_t i = 0; i < j->nfiles; i++) {
		struct dfile *f = &j->files[i];
		struct iovec msg[2] = { { f->header, f->header_len }, { j->body, j->body_len } };
		struct clog_rec r = {
			.kind = f->ref ? CLOG_REF : CLOG_INLINE,
			.mailbox = f->mailbox, .mailbox_len = strlen(f->mailbox),
			.name = f->name, .name_len = strlen(f->name),
			.msg_len = f->ref ? 0 : f->header_len + j->body_len,
		};

		if (f->ref) {
			r.msg_crc = f->crc;
			r.msg_len = strtoull(strstr(f->name, ",S=") + 3, NULL, 10);
		} else {
			if (!body_crc_set) {
				body_crc = clog_crc(0, j->body, j->body_len);
				body_crc_set = true;
			}
			r.msg_crc = clog_crc_join(clog_crc(0, f->header, f->header_len),
			    body_crc, j->body_len);
		}
		if (clog_add(w->log, &r, msg, 2, err, errlen) == -1)
			return -1;
		w->last_seq = r.seq;
	}
	return 0;
}

/* Fail every job of batch not failed yet with errno e and err. */
static void
batch_fail(struct delivery_job *batch, int e, const char *err)
{
	for (struct delivery_job *j = batch; j; j = j->next)
		job_fail_msg(j, e, err);
}

/*
 * Make batch durable in the worker's log: tmp/ synced when it holds
 * by-reference files, every record appended, one fdatasync.  A job that
 * failed on the way is answered 451/452 and nothing of it is published;
 * a failed log write fails them all (the writer is rewound).  Returns
 * the last sequence number logged, 0 when none.
 */
static uint64_t
batch_log(struct delivery_worker *w, struct delivery_job *batch)
{
	struct delivery *d = w->d;
	uint64_t before = w->last_seq;
	char err[512];
	bool refs = false;
	int e;

	if ((e = clog_failed(d->log)) != 0) {
		snprintf(err, sizeof(err), "%s: published files are not durable (%s); "
		    "waiting for a checkpoint", d->spool, strerror(e));
		batch_fail(batch, e, err);
		return 0;
	}
	for (struct delivery_job *j = batch; j; j = j->next)
		job_prepare(d, j, &refs);
	if (refs && CLOG_DURABLE && fsync(d->tmpfd) == -1) {
		e = errno;
		snprintf(err, sizeof(err), "%s/tmp: fsync: %s", d->spool, strerror(e));
		batch_fail(batch, e, err);
		return 0;
	}
	for (struct delivery_job *j = batch; j; j = j->next) {
		if (!j->failed && job_log(w, j, err, sizeof(err)) == -1) {
			e = errno;
			clog_rewind(w->log);
			batch_fail(batch, e, err);
			w->last_seq = before;
			return 0;
		}
	}
	if (w->last_seq != before && clog_sync(w->log, err, sizeof(err)) == -1) {
		e = errno;
		log_warnx("delivery: %s", err);
		batch_fail(batch, e, err);
		w->last_seq = before;
		return 0;
	}
	return w->last_seq != before ? w->last_seq : 0;
}

/*
 * After the log's fdatasync: a job not logged (failed, answered 451/452)
 * is cleaned up now, before its result goes back (its tmp/ files, its
 * spill file, its descriptors); the logged ones are linked for the
 * publisher, each with a reference of its own.  The logged jobs, or
 * NULL.
 */
static struct delivery_job *
batch_split(struct delivery *d, struct delivery_job *batch, uint64_t last)
{
	struct delivery_job *logged = NULL, **tail = &logged;

	for (struct delivery_job *j = batch; j; j = j->next) {
		if (last != 0 && !j->failed) {
			atomic_store(&j->refs, 2);
			*tail = j;
			tail = &j->pub_next;
			continue;
		}
		job_unlink_refs(d, j);
		if (j->spill_fd >= 0) {
			close(j->spill_fd);
			j->spill_fd = -1;
			if (unlinkat(d->tmpfd, j->spill_name, 0) == -1 && errno != ENOENT)
				log_warn("delivery id=%s: unlink %s/tmp/%s", j->qid, d->spool,
				    j->spill_name);
		}
		for (size_t i = 0; i < j->nfiles; i++)
			if (j->files[i].newfd >= 0) {
				close(j->files[i].newfd);
				j->files[i].newfd = -1;
			}
	}
	*tail = NULL;
	return logged;
}

/* Append finished jobs to the done list and wake the loop once. */
static void
batch_post(struct delivery *d, struct delivery_job *batch)
{
	struct delivery_job *last = batch;
	bool wake;
	uint64_t one = 1;

	while (last->next)
		last = last->next;
	pthread_mutex_lock(&d->lock);
	wake = d->done == NULL;
	*d->done_tail = batch;
	d->done_tail = &last->next;
	pthread_mutex_unlock(&d->lock);
	if (wake && write(d->wakefd, &one, sizeof(one)) == -1 && errno != EAGAIN)
		log_warn("delivery: eventfd write");
}

/* What job j's records take in the log at most (a file past inline_max
 * is logged by reference: its name only). */
static size_t
job_log_bytes(const struct delivery_job *j, size_t segsize)
{
	size_t n = 0;

	for (size_t i = 0; i < j->nfiles; i++) {
		size_t one = j->files[i].header_len + j->body_len + CLOG_HDR + 600;

		n += j->spill_fd >= 0 || one > inline_max(segsize) ? CLOG_HDR + 600 : one;
	}
	return n;
}

/*
 * Take the pending jobs (NULL when none; with wait, block for one), but
 * no more than one segment's worth of records (at least one job): a
 * batch then spans at most two of a writer's segments, and can never
 * wait for a checkpoint that only its own records could allow.  The rest
 * stays for the next batch (or the other worker, woken).
 */
static struct delivery_job *
take_pending(struct delivery *d, bool wait)
{
	size_t segsize = clog_segment_size(d->log), bytes = 0;
	struct delivery_job *list, **cut;

	pthread_mutex_lock(&d->lock);
	while (wait && d->todo == NULL && !d->stopping)
		pthread_cond_wait(&d->cond, &d->lock);
	list = d->todo;
	for (cut = &d->todo; *cut; cut = &(*cut)->next) {
		bytes += job_log_bytes(*cut, segsize);
		if (bytes > segsize && cut != &d->todo)
			break;
	}
	d->todo = *cut;
	*cut = NULL;
	if (d->todo == NULL)
		d->todo_tail = &d->todo;
	else
		pthread_cond_signal(&d->cond);
	pthread_mutex_unlock(&d->lock);
	return list;
}

/*
 * Worker thread:
 *
 *     take a batch --> log records --fdatasync--> hand the logged jobs
 *     to the publisher --> report (250s); the publisher: into new/ (no
 *     sync) --> published number (the checkpoint's)
 *
 * A 250 waits for the log's flush and nothing else: the publish is
 * page-cache work (a write and a rename per file) on a thread of its own,
 * so a writer is free for the next batch at once.  A reader may see a
 * message a moment after its client heard 250; it is durable in the log
 * by then.  While this worker waits for its fdatasync, the other one
 * takes the next batch.
 */
static void *
worker_main(void *arg)
{
	struct delivery_worker *w = arg;
	struct delivery *d = w->d;
	struct delivery_job *batch;

	while ((batch = take_pending(d, true)) != NULL) {
		uint64_t last = batch_log(w, batch);
		struct delivery_job *logged = batch_split(d, batch, last);

		if (logged != NULL)	/* first, so it counts as unpublished at its 250 */
			pubthread_put(d->pubt, logged, w->log, last);
		batch_post(d, batch);
	}
	return NULL;
}

/*
 * Start worker w (bgthread.h: SCHED_BATCH, signals blocked).  Measured
 * here with 20 sessions (two-syncfs design): SCHED_BATCH gave 5-10% more
 * messages a second, and no change at one session.  0, or an error
 * number from pthread_create.
 */
static int
worker_start(struct delivery_worker *w)
{
	return bgthread_start(&w->thread, worker_main, w, "delivery");
}

/* Loop side: hand every finished job's result to its submitter. */
static void
drain_done(struct delivery *d)
{
	struct delivery_job *list;

	pthread_mutex_lock(&d->lock);
	list = d->done;
	d->done = NULL;
	d->done_tail = &d->done;
	pthread_mutex_unlock(&d->lock);
	while (list) {
		struct delivery_job *j = list;
		enum delivery_result r = DELIVERY_OK;

		list = j->next;
		if (j->failed)
			r = (j->err_no == ENOSPC || j->err_no == EDQUOT) ?
			    DELIVERY_DISKFULL : DELIVERY_TEMPFAIL;
		d->pending--;
		if (!j->cancelled && j->done)
			j->done(j->arg, r, j->failed ? j->err : "");
		delivery_job_release(j);
	}
}

/* eventfd readable: results are waiting. */
static void
wake_cb(int fd, short what, void *arg)
{
	uint64_t n;

	(void)what;
	if (read(fd, &n, sizeof(n)) == -1 && errno != EAGAIN)
		log_warn("delivery: eventfd read");
	drain_done(arg);
}

/* The process's umask, read (and put back) before any worker runs. */
static mode_t
umask_read(void)
{
	mode_t m = umask(0);

	umask(m);
	return m;
}

/* Start nthreads workers, each with its log writer; 0 or -1 with err. */
static int
delivery_start_workers(struct delivery *d, unsigned nthreads, char *err, size_t errlen)
{
	for (d->nworkers = 0; d->nworkers < nthreads; d->nworkers++) {
		struct delivery_worker *w = &d->workers[d->nworkers];
		int e;

		w->d = d;
		w->log = clog_writer(d->log, d->nworkers);
		if ((e = worker_start(w)) != 0) {
			snprintf(err, errlen, "pthread_create: %s", strerror(e));
			return -1;
		}
	}
	return 0;
}

/* Free what delivery_new made (a partial one too; the end of delivery_free). */
static void
delivery_abort(struct delivery *d)
{
	if (d->wake_ev)
		event_free(d->wake_ev);
	if (d->wakefd >= 0)
		close(d->wakefd);
	clog_free(d->log);
	close(d->rootfd);
	pthread_mutex_destroy(&d->lock);
	pthread_cond_destroy(&d->cond);
	free(d->spool);
	free(d);
}

/* Recover the log, then start the checkpoint thread, the worker pool and
 * the loop-side wake-up event. */
struct delivery *
delivery_new(struct event_base *base, const struct delivery_spool *spool,
    const struct inbound_config *cfg, unsigned nthreads, char *err, size_t errlen)
{
	struct delivery *d = xcalloc(1, sizeof(*d));
	const char *spool_path = spool->path;
	int tmpfd = spool->tmpfd;

	d->base = base;
	d->spool = xstrdup(spool_path);
	d->tmpfd = tmpfd;
	d->wakefd = -1;
	d->umask = umask_read();
	delivery_set_perms(d, cfg);
	if ((d->rootfd = maildir_open_root(spool_path, err, errlen)) < 0) {
		free(d->spool);
		free(d);
		return NULL;
	}
	d->pub = (struct publisher){ .tmpfd = tmpfd, .rootfd = d->rootfd, .spool = d->spool };
	d->todo_tail = &d->todo;
	d->done_tail = &d->done;
	pthread_mutex_init(&d->lock, NULL);
	pthread_cond_init(&d->cond, NULL);
	if (nthreads == 0 || nthreads > DELIVERY_MAX_THREADS)
		nthreads = 2;
	if (!CLOG_DURABLE)
		log_warnx("delivery: NOT DURABLE: a benchmark build that never syncs "
		    "(SMTPGATE_BENCH_NOT_DURABLE); a 250 here can be lost");
	else if (!CLOG_CHECKPOINT_SYNC)
		log_warnx("delivery: NOT DURABLE: a benchmark build whose checkpoint never "
		    "syncs (SMTPGATE_BENCH_LOG_ONLY); a 250 here can be lost");
	if ((d->log = recover_open(&d->pub, &d->perm, nthreads, err, errlen)) == NULL) {
		delivery_abort(d);
		return NULL;
	}
	d->wakefd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (d->wakefd == -1) {
		snprintf(err, errlen, "eventfd: %s", strerror(errno));
		delivery_abort(d);
		return NULL;
	}
	d->wake_ev = event_new(base, d->wakefd, EV_READ | EV_PERSIST, wake_cb, d);
	event_add(d->wake_ev, NULL);
	if ((d->ckpt = checkpoint_start(d->log, &d->pub, &d->perm, err, errlen)) == NULL) {
		delivery_abort(d);
		return NULL;
	}
	if ((d->pubt = pubthread_start(&d->pub, d->log, err, errlen)) == NULL) {
		checkpoint_stop(d->ckpt);
		delivery_abort(d);
		return NULL;
	}
	if (delivery_start_workers(d, nthreads, err, errlen) == -1) {
		delivery_free(d);
		return NULL;
	}
	return d;
}

/* Let the workers finish every queued job, join them, checkpoint, report,
 * free. */
void
delivery_free(struct delivery *d)
{
	if (d == NULL)
		return;
	pthread_mutex_lock(&d->lock);
	d->stopping = true;
	pthread_cond_broadcast(&d->cond);
	pthread_mutex_unlock(&d->lock);
	for (unsigned i = 0; i < d->nworkers; i++)
		pthread_join(d->workers[i].thread, NULL);
	pubthread_stop(d->pubt);
	checkpoint_stop(d->ckpt);
	drain_done(d);
	delivery_abort(d);
}

/* Fill the per-mailbox files of a new job (one per distinct mailbox). */
static void
job_files(struct delivery *d, struct delivery_job *j, const struct delivery_request *r)
{
	time_t now = time(NULL);

	j->files = xcalloc(r->nrcpts ? r->nrcpts : 1, sizeof(*j->files));
	for (size_t i = 0; i < r->nrcpts; i++) {
		bool seen = false;

		for (size_t k = 0; k < j->nfiles && !seen; k++)
			seen = strcmp(j->files[k].mailbox, r->rcpts[i].mailbox) == 0;
		if (seen)
			continue;
		struct dfile *f = &j->files[j->nfiles++];
		f->mailbox = xstrdup(r->rcpts[i].mailbox);
		f->header = mailfile_header(r, f->mailbox, now, &f->header_len);
		f->newfd = -1;
	}
}

/* Build the per-mailbox files of a message and queue it for the workers. */
struct delivery_job *
delivery_submit(struct delivery *d, const struct delivery_request *r,
    delivery_done_fn done, void *arg)
{
	struct delivery_job *j = xcalloc(1, sizeof(*j));

	atomic_init(&j->refs, 1);
	j->body = r->body;
	j->body_len = r->body_len;
	j->spill_fd = -1;
	if (r->body_name != NULL) {
		j->spill_fd = r->body_fd;
		util_strlcpy(j->spill_name, r->body_name, sizeof(j->spill_name));
	}
	j->perm = d->perm;
	j->done = done;
	j->arg = arg;
	util_strlcpy(j->qid, r->queue_id != NULL ? r->queue_id : "-", sizeof(j->qid));
	job_files(d, j, r);
	if (j->nfiles == 0) {
		j->failed = true;
		j->err_no = EINVAL;
		util_strlcpy(j->err, "no recipients", sizeof(j->err));
	}
	if (r->body_err != 0)
		job_fail(j, r->body_err, "tmp/" SPILL_PREFIX "*: message body not kept");
	d->pending++;
	pthread_mutex_lock(&d->lock);
	*d->todo_tail = j;
	d->todo_tail = &j->next;
	pthread_cond_signal(&d->cond);
	pthread_mutex_unlock(&d->lock);
	return j;
}

/* New mode and group for the files of the jobs submitted from now on. */
void
delivery_set_perms(struct delivery *d, const struct inbound_config *cfg)
{
	d->perm = maildir_file_perm(cfg, d->umask);
}

/* Forget the submitter of j: its result is dropped. */
void
delivery_cancel(struct delivery_job *j)
{
	if (j)
		j->cancelled = true;
}

/* The spool's tmp/ descriptor. */
int
delivery_tmpfd(const struct delivery *d)
{
	return d->tmpfd;
}

/* Jobs submitted and not yet reported back. */
size_t
delivery_pending(const struct delivery *d)
{
	return d->pending;
}

/* Messages answered 250 and not yet in their new/. */
size_t
delivery_unpublished(const struct delivery *d)
{
	return d->pubt != NULL ? pubthread_backlog(d->pubt) : 0;
}

/* 0 while the log acknowledges, else the error number that stopped it. */
int
delivery_log_error(const struct delivery *d)
{
	return clog_failed(d->log);
}

/* Remove stale regular files left in the spool tmp/ by a crash. */
unsigned
delivery_clean_tmp(int tmpfd, time_t max_age)
{
	int fd = dup(tmpfd);
	DIR *dir;
	struct dirent *de;
	unsigned n = 0;
	time_t now = time(NULL);

	if (fd == -1 || (dir = fdopendir(fd)) == NULL) {
		log_warn("delivery: cannot scan the spool tmp directory");
		if (fd != -1)
			close(fd);
		return 0;
	}
	rewinddir(dir);
	while ((de = readdir(dir)) != NULL) {
		struct stat st;

		if (de->d_name[0] == '.' ||
		    fstatat(tmpfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) == -1 ||
		    !S_ISREG(st.st_mode) ||
		    (now - st.st_mtime <= max_age && !spill_is_name(de->d_name)))
			continue;
		if (unlinkat(tmpfd, de->d_name, 0) == 0)
			n++;
		else
			log_warn("delivery: unlink stale tmp/%s", de->d_name);
	}
	closedir(dir);
	return n;
}
