/*
 * delivery: durable Maildir delivery on a worker pool with group commit
 * (see delivery.h).  Threads: the loop thread submits and receives
 * results; workers only touch the jobs they took and the file system.
 * Results go back through one eventfd wake-up per batch.
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

#include "config.h"
#include "delivery.h"
#include "fsutil.h"
#include "id.h"
#include "log.h"
#include "maildir.h"
#include "mailfile.h"
#include "spill.h"
#include "util.h"

#define DELIVERY_MAX_THREADS 16
#define BATCH_EXTEND 8		/* rounds of late arrivals joining a batch */

/* One file: the copy for one mailbox. */
struct dfile {
	char *mailbox;
	char *header;
	size_t header_len;
	char name[256];		/* Maildir name, also the tmp/ name */
	int newfd;		/* its new/ (O_PATH, maildir_open_new) or -1 */
	bool written;
	bool linked;
};

struct delivery_job {
	struct delivery_job *next;
	char *body;		/* CRLF lines until job_write makes them LF */
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

/*
 * One worker thread and the descriptor its syncfs(2) calls go through: an
 * open of tmp/ of its own, because the kernel reports a file system's
 * write-back error once per open file description.  Through a shared one,
 * another worker's syncfs could take the report and the worker whose data
 * was lost be told all is well.
 */
struct delivery_worker {
	struct delivery *d;
	pthread_t thread;
	int syncfd;
	char probe[32];		/* tmp/ name of its journal probe (spool_probe) */
	bool probe_moved;	/* ... now named probe.1 */
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
	struct delivery_worker workers[DELIVERY_MAX_THREADS];
	unsigned nworkers;
	_Atomic bool link_only;	/* no RENAME_NOREPLACE on this file system */
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

/* Mark a job failed with errno e: "path: what: strerror" ("path: strerror"
 * when what is NULL); the first failure wins. */
static void
job_fail(struct delivery_job *j, int e, const char *path, const char *what)
{
	int n;

	if (j->failed)
		return;
	j->failed = true;
	j->err_no = e;
	if (what != NULL)
		n = snprintf(j->err, sizeof(j->err), "%s: %s: %s", path, what, strerror(e));
	else
		n = snprintf(j->err, sizeof(j->err), "%s: %s", path, strerror(e));
	if (n >= (int)sizeof(j->err))
		memcpy(j->err + sizeof(j->err) - 4, "...", 4);	/* truncated */
}

/* Fail job j with the tool's message err and errno e. */
static void
job_fail_msg(struct delivery_job *j, int e, const char *err)
{
	if (j->failed)
		return;
	j->failed = true;
	j->err_no = e;
	util_strlcpy(j->err, err, sizeof(j->err));
}

/*
 * The tmp/ file of mailbox file f of a spilled job: made with the header
 * alone (fsutil_write_new_perm: exclusive, no symlink, mode and group),
 * then opened again in our private tmp/ to append the body converted to
 * LF, piece by piece.  Made durable by spool_sync like the others.
 * 0, or -1 with errno and err (the partial file removed).
 */
static int
job_write_spilled(struct delivery *d, struct delivery_job *j, struct dfile *f,
    size_t lf_len, char *buf, char *err, size_t errlen)
{
	struct iovec iov = { f->header, f->header_len };
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
	if (spill_copy_lf(j->spill_fd, fd, buf, &len) == -1) {
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
	return 0;
fail:
	e = errno;
	unlinkat(d->tmpfd, f->name, 0);
	errno = e;
	return -1;
}

/* Write the tmp/ files of a job whose body was spilled: one pass to learn
 * the LF length (the ,S= of the names), then one copy per mailbox. */
static void
job_write_spill(struct delivery *d, struct delivery_job *j)
{
	char *buf = xmalloc(SPILL_COPY_BUF), err[512];
	size_t lf_len;

	if (spill_copy_lf(j->spill_fd, -1, buf, &lf_len) == -1) {
		snprintf(err, sizeof(err), "%s/tmp/%s: read: %s", d->spool, j->spill_name,
		    strerror(errno));
		job_fail_msg(j, errno, err);
		free(buf);
		return;
	}
	for (size_t i = 0; i < j->nfiles && !j->failed; i++) {
		if (job_write_spilled(d, j, &j->files[i], lf_len, buf, err, sizeof(err)) == -1)
			job_fail_msg(j, errno, err);
		else
			j->files[i].written = true;
	}
	free(buf);
}

/*
 * Write the tmp/ file of every mailbox of job j (made durable by
 * spool_sync), LF line ends: the body's CRLFs are turned into LFs here,
 * once per message, on the worker (a 50 MB body must not hold up the
 * event loop), so ,S= is the size of the stored file.  A spilled body is
 * copied from its file instead: the trace block goes first, so a mailbox
 * file is always a new file, even for a single mailbox (converting the
 * spill file in place would still leave the header to prepend).
 */
static void
job_write(struct delivery *d, struct delivery_job *j)
{
	if (j->failed)		/* e.g. its spilled body could not be kept */
		return;
	if (j->spill_fd >= 0) {
		job_write_spill(d, j);
		return;
	}
	j->body_len = mailfile_to_lf(j->body, j->body_len);
	for (size_t i = 0; i < j->nfiles && !j->failed; i++) {
		struct dfile *f = &j->files[i];
		struct iovec iov[2] = {
			{ f->header, f->header_len },
			{ j->body, j->body_len },
		};
		char err[256];

		fsutil_maildir_name(f->name, sizeof(f->name), util_hostname(),
		    f->header_len + j->body_len);
		if (fsutil_write_new(d->tmpfd, f->name, &(struct fsutil_new){ iov, 2, false,
		    &j->perm }, err, sizeof(err)) == -1) {
			job_fail_msg(j, errno, err);
			return;
		}
		f->written = true;
	}
}

/* Remove the names made in new/ for job j (through new/'s descriptor). */
static void
job_unlink_new(struct delivery *d, struct delivery_job *j)
{
	for (size_t i = 0; i < j->nfiles; i++) {
		struct dfile *f = &j->files[i];

		if (!f->linked)
			continue;
		if (unlinkat(f->newfd, f->name, 0) == -1 && errno != ENOENT)
			log_warn("delivery id=%s: unlink %s/mailboxes/%s/new/%s", j->qid,
			    d->spool, f->mailbox, f->name);
		f->linked = false;
	}
}

/* Publish one tmp file as new/name by link and unlink (file systems
 * without RENAME_NOREPLACE); 0 or -1 with errno. */
static int
job_link_unlink(struct delivery *d, const char *qid, const char *name, int newfd)
{
	if (linkat(d->tmpfd, name, newfd, name, 0) == -1)
		return -1;
	if (unlinkat(d->tmpfd, name, 0) == -1 && errno != ENOENT)
		log_warn("delivery id=%s: unlink %s/tmp/%s", qid, d->spool, name);
	return 0;
}

/* Move one written tmp file into new/ (already open as f->newfd) by a
 * rename that never replaces; 0 or -1 with errno. */
static int
job_publish_one(struct delivery *d, const char *qid, struct dfile *f)
{
	int rc;

	if (atomic_load(&d->link_only))
		return job_link_unlink(d, qid, f->name, f->newfd);
	rc = renameat2(d->tmpfd, f->name, f->newfd, f->name, RENAME_NOREPLACE);
	if (rc == -1 && errno == EINVAL) {
		if (!atomic_exchange(&d->link_only, true))
			log_warnx("delivery: %s: rename without replacing is not "
			    "supported here; publishing by link and unlink", d->spool);
		rc = job_link_unlink(d, qid, f->name, f->newfd);
	}
	return rc;
}

/*
 * Move every written tmp file of j into its mailbox's new/, by a rename
 * that never replaces: a Maildir name is unique, so meeting an existing
 * one is an error, never an overwrite.  One directory operation per
 * mailbox instead of a link and an unlink.  new/ is reached by
 * descriptors from <spool>/mailboxes with no symlink followed
 * (maildir_open_new): readers can write in the mailbox and could have put
 * a symlink to anywhere in place of new/.  Such a mailbox fails the
 * message (451), its reason naming the mailbox; nothing is published
 * outside the spool.
 */
static void
job_link(struct delivery *d, struct delivery_job *j)
{
	char err[sizeof(j->files[0].name) + 300];

	for (size_t i = 0; i < j->nfiles && !j->failed; i++) {
		struct dfile *f = &j->files[i];

		if ((f->newfd = maildir_open_new(d->rootfd, f->mailbox, err, sizeof(err))) < 0) {
			j->failed = true;
			j->err_no = errno;
			util_strlcpy(j->err, err, sizeof(j->err));
			break;
		}
		if (job_publish_one(d, j->qid, f) == -1) {
			snprintf(err, sizeof(err), "mailbox %s: new/%s: publish", f->mailbox,
			    f->name);
			job_fail(j, errno, err, NULL);
			break;
		}
		f->written = false;	/* the tmp/ name is gone */
		f->linked = true;
	}
	if (j->failed)
		job_unlink_new(d, j);
}

/* Remove the tmp/ files of job j that were not published (after a failure). */
static void
job_unlink_tmp(struct delivery *d, struct delivery_job *j)
{
	for (size_t i = 0; i < j->nfiles; i++) {
		if (j->files[i].written && unlinkat(d->tmpfd, j->files[i].name, 0) == -1 &&
		    errno != ENOENT)
			log_warn("delivery id=%s: unlink %s/tmp/%s", j->qid, d->spool,
			    j->files[i].name);
		j->files[i].written = false;
	}
}

/*
 * One syncfs(2) of the spool's file system: every file's data and inode
 * and every directory entry made so far, in one journal commit instead of
 * one per file and one per directory.  This is the group commit.  The
 * spool should sit on a file system that other busy writers do not share,
 * since their dirty data is flushed too.  On failure every job of both
 * lists fails: published links are undone, written files removed below.
 */
static bool
spool_sync(struct delivery_worker *w, struct delivery_job *published,
    struct delivery_job *written)
{
	struct delivery *d = w->d;

	if (syncfs(w->syncfd) == 0)
		return true;
	int e = errno;
	log_warnx("delivery: syncfs %s: %s", d->spool, strerror(e));
	for (struct delivery_job *j = published; j; j = j->next) {
		job_fail(j, e, d->spool, "syncfs");
		job_unlink_new(d, j);
	}
	for (struct delivery_job *j = written; j; j = j->next)
		job_fail(j, e, d->spool, "syncfs");
	return false;
}

/* Make worker w's probe file (spool_probe) afresh; 0 or -1 with errno. */
static int
spool_probe_create(struct delivery_worker *w)
{
	char moved[sizeof(w->probe) + 2];
	int fd;

	snprintf(moved, sizeof(moved), "%s.1", w->probe);
	if (unlinkat(w->d->tmpfd, moved, 0) == -1 && errno != ENOENT)
		return -1;
	fd = openat(w->d->tmpfd, w->probe, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC |
	    O_NOFOLLOW, 0600);
	if (fd == -1)
		return -1;
	w->probe_moved = false;
	return close(fd);
}

/*
 * After the last syncfs of a batch: prove that the file system still
 * commits, by renaming this worker's probe file in tmp/ to its other name.
 * A syncfs that finds nothing left to commit returns 0 even when the
 * journal commit that carried this batch's renames failed: ext4 aborts
 * the journal then, and the failure is reported to the one thread that
 * waited for that commit (another worker's syncfs, or the kernel's
 * flusher), not to this one.  Every journal operation fails from then on,
 * so one made now shows whether everything before it was committed.
 * Seen in the write-back error test: a message acknowledged with 250 and
 * missing once the file system was mounted again.  On failure every job
 * of published fails and its links are undone (they may not be on disk).
 */
static bool
spool_probe(struct delivery_worker *w, struct delivery_job *published)
{
	struct delivery *d = w->d;
	char from[sizeof(w->probe) + 2], to[sizeof(w->probe) + 2];
	int e;

	snprintf(from, sizeof(from), "%s%s", w->probe, w->probe_moved ? ".1" : "");
	snprintf(to, sizeof(to), "%s%s", w->probe, w->probe_moved ? "" : ".1");
	if (renameat(d->tmpfd, from, d->tmpfd, to) == 0) {
		w->probe_moved = !w->probe_moved;
		return true;
	}
	e = errno;
	if (e == ENOENT) {	/* removed by hand: making it again proves as much */
		log_warnx("delivery: %s/tmp/%s: missing; made again", d->spool, from);
		if (spool_probe_create(w) == 0)
			return true;
		e = errno;
	}
	log_warnx("delivery: %s/tmp/%s: the file system takes no more changes: %s",
	    d->spool, from, strerror(e));
	for (struct delivery_job *j = published; j; j = j->next) {
		job_fail(j, e, d->spool, "journal");
		job_unlink_new(d, j);
	}
	return false;
}

/* Append list b to list a; the joined list. */
static struct delivery_job *
job_list_join(struct delivery_job *a, struct delivery_job *b)
{
	struct delivery_job **tail = &a;

	while (*tail)
		tail = &(*tail)->next;
	*tail = b;
	return a;
}

/*
 * Publish every job of written whose files are durable: rename them into
 * new/.  A job that failed (to write, sync or publish) loses its tmp/
 * files and goes to *failed; the others are returned, published.
 */
static struct delivery_job *
batch_publish(struct delivery *d, struct delivery_job *written,
    struct delivery_job **failed)
{
	struct delivery_job *published = NULL, **ptail = &published, *j;

	while ((j = written) != NULL) {
		written = j->next;
		j->next = NULL;
		if (!j->failed)
			job_link(d, j);
		if (j->failed) {
			job_unlink_tmp(d, j);
			*failed = job_list_join(*failed, j);
		} else {
			*ptail = j;
			ptail = &j->next;
		}
	}
	return published;
}

/* Close the new/ descriptors of every job of batch (the undo is past). */
static void
batch_close_dirs(struct delivery_job *batch)
{
	for (struct delivery_job *j = batch; j; j = j->next)
		for (size_t i = 0; i < j->nfiles; i++)
			if (j->files[i].newfd >= 0) {
				close(j->files[i].newfd);
				j->files[i].newfd = -1;
			}
}

/*
 * Remove the spill files of every job of batch: each message is published
 * (its mailbox files durable) or refused by now.  Worker thread, so the
 * loop never waits for the unlink of a large file.
 */
static void
batch_remove_spills(struct delivery *d, struct delivery_job *batch)
{
	for (struct delivery_job *j = batch; j; j = j->next) {
		if (j->spill_fd < 0)
			continue;
		close(j->spill_fd);
		j->spill_fd = -1;
		if (unlinkat(d->tmpfd, j->spill_name, 0) == -1 && errno != ENOENT)
			log_warn("delivery id=%s: unlink %s/tmp/%s", j->qid, d->spool,
			    j->spill_name);
	}
}

/* Append finished jobs to the done list and wake the loop once. */
static void
batch_post(struct delivery *d, struct delivery_job *batch)
{
	struct delivery_job *last = batch;
	bool wake;
	uint64_t one = 1;

	if (batch == NULL)
		return;
	batch_close_dirs(batch);
	batch_remove_spills(d, batch);
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

/* Take every pending job (NULL when none); with wait, block for one. */
static struct delivery_job *
take_pending(struct delivery *d, bool wait)
{
	struct delivery_job *list;

	pthread_mutex_lock(&d->lock);
	while (wait && d->todo == NULL && !d->stopping)
		pthread_cond_wait(&d->cond, &d->lock);
	list = d->todo;
	d->todo = NULL;
	d->todo_tail = &d->todo;
	pthread_mutex_unlock(&d->lock);
	return list;
}

/* Take the pending jobs and write their tmp/ files, then whatever arrived
 * meanwhile too (up to BATCH_EXTEND rounds), so busy batches grow. */
static struct delivery_job *
batch_write(struct delivery *d, bool wait)
{
	struct delivery_job *batch = take_pending(d, wait), *more;

	for (struct delivery_job *j = batch; j; j = j->next)
		job_write(d, j);
	for (int round = 0; batch && round < BATCH_EXTEND; round++) {
		if ((more = take_pending(d, false)) == NULL)
			break;
		for (struct delivery_job *j = more; j; j = j->next)
			job_write(d, j);
		batch = job_list_join(batch, more);
	}
	return batch;
}

/*
 * Worker thread.  A file appears in new/ only once its data is durable,
 * and its message is reported only once that name is durable too:
 *
 *     write tmp/ files --syncfs--> rename into new/ --syncfs--> probe
 *     --> report
 *
 * Otherwise a crash could leave an empty or torn file in a mailbox: a
 * journal commit (another thread's, or the periodic one) may carry the
 * rename before the data is written.  The second syncfs is the cheaper
 * one (directory entries only); while one worker waits for it, another
 * writes and syncs the next batch.
 */
static void *
worker_main(void *arg)
{
	struct delivery_worker *w = arg;
	struct delivery *d = w->d;
	struct delivery_job *written, *published, *finished;

	while ((written = batch_write(d, true)) != NULL) {
		finished = NULL;
		published = NULL;
		if (spool_sync(w, NULL, written))
			published = batch_publish(d, written, &finished);
		else {
			for (struct delivery_job *j = written; j; j = j->next)
				job_unlink_tmp(d, j);
			finished = written;
		}
		if (published != NULL && spool_sync(w, published, NULL))
			(void)spool_probe(w, published);
		batch_post(d, job_list_join(finished, published));
	}
	return NULL;
}

/*
 * Start worker w as a SCHED_BATCH thread: woken by a new job or a
 * finished sync, it does not preempt the event loop (or the clients on
 * this machine) in the middle of a dialogue, and waits for the next
 * scheduling point instead.  Measured here with 20 sessions: 5-10% more
 * messages a second, and no change at one session.  Set here, by the
 * starting thread, so it holds before the daemon listens (glibc takes no
 * SCHED_BATCH in thread attributes).  Only a hint: when refused, it is
 * logged and the worker runs as the other threads do.  0, or an error
 * number from pthread_create.
 */
static int
worker_start(struct delivery_worker *w)
{
	struct sched_param sp = { .sched_priority = 0 };
	int e;

	if ((e = pthread_create(&w->thread, NULL, worker_main, w)) != 0)
		return e;
	if ((e = pthread_setschedparam(w->thread, SCHED_BATCH, &sp)) != 0)
		log_warnx("delivery: worker thread: SCHED_BATCH: %s", strerror(e));
	return 0;
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
		job_free(j);
	}
}

/* eventfd readable: results are waiting. */
static void
wake_cb(int fd, short what, void *arg)
{
	uint64_t n;

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

/* Start the worker pool and the loop-side wake-up event. */
struct delivery *
delivery_new(struct event_base *base, const char *spool_path, int tmpfd,
    const struct inbound_config *cfg, unsigned nthreads, char *err, size_t errlen)
{
	struct delivery *d = xcalloc(1, sizeof(*d));

	d->base = base;
	d->spool = xstrdup(spool_path);
	d->tmpfd = tmpfd;
	d->umask = umask_read();
	delivery_set_perms(d, cfg);
	if ((d->rootfd = maildir_open_root(spool_path, err, errlen)) < 0) {
		free(d->spool);
		free(d);
		return NULL;
	}
	d->todo_tail = &d->todo;
	d->done_tail = &d->done;
	pthread_mutex_init(&d->lock, NULL);
	pthread_cond_init(&d->cond, NULL);
	d->wakefd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (d->wakefd == -1) {
		snprintf(err, errlen, "eventfd: %s", strerror(errno));
		close(d->rootfd);
		free(d->spool);
		free(d);
		return NULL;
	}
	d->wake_ev = event_new(base, d->wakefd, EV_READ | EV_PERSIST, wake_cb, d);
	event_add(d->wake_ev, NULL);
	if (nthreads == 0 || nthreads > DELIVERY_MAX_THREADS)
		nthreads = 2;
	for (d->nworkers = 0; d->nworkers < nthreads; d->nworkers++) {
		struct delivery_worker *w = &d->workers[d->nworkers];
		int e;

		w->d = d;
		snprintf(w->probe, sizeof(w->probe), ".journal-probe.%u", d->nworkers);
		w->syncfd = openat(tmpfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (w->syncfd == -1 || spool_probe_create(w) == -1) {
			snprintf(err, errlen, "%s/tmp/%s: %s", spool_path,
			    w->syncfd == -1 ? "." : w->probe, strerror(errno));
			if (w->syncfd != -1)
				close(w->syncfd);
			delivery_free(d);
			return NULL;
		}
		if ((e = worker_start(w)) != 0) {
			snprintf(err, errlen, "pthread_create: %s", strerror(e));
			close(w->syncfd);
			delivery_free(d);
			return NULL;
		}
	}
	return d;
}

/* Let the workers finish every queued job, join them, report, free. */
void
delivery_free(struct delivery *d)
{
	if (d == NULL)
		return;
	pthread_mutex_lock(&d->lock);
	d->stopping = true;
	pthread_cond_broadcast(&d->cond);
	pthread_mutex_unlock(&d->lock);
	for (unsigned i = 0; i < d->nworkers; i++) {
		pthread_join(d->workers[i].thread, NULL);
		close(d->workers[i].syncfd);
	}
	drain_done(d);
	event_free(d->wake_ev);
	close(d->wakefd);
	close(d->rootfd);
	pthread_mutex_destroy(&d->lock);
	pthread_cond_destroy(&d->cond);
	free(d->spool);
	free(d);
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
		job_fail(j, r->body_err, "tmp/" SPILL_PREFIX "*", "message body not kept");
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
