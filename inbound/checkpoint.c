/*
 * checkpoint: the checkpoint thread (see checkpoint.h).  It alone uses
 * its syncfs descriptor and its probe file, so a write-back error that
 * the kernel reports once per open file description is reported here.
 *
 * Must not know about SMTP, sessions or the event loop.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bgthread.h"
#include "checkpoint.h"
#include "log.h"
#include "util.h"

#define PROBE ".journal-probe.c"

struct checkpoint {
	struct clog *c;
	struct publisher *p;
	struct fsutil_perm perm;
	int syncfd;		/* an open of tmp/ of its own */
	bool probe_moved;	/* PROBE is now named PROBE.1 */
	bool running;
	pthread_t thread;
	char last_err[256];	/* the last failure logged (not repeated) */
};

/* Log a failure unless it is the one logged last. */
static void
ckpt_log(struct checkpoint *k, const char *msg)
{
	if (strcmp(k->last_err, msg) == 0)
		return;
	util_strlcpy(k->last_err, msg, sizeof(k->last_err));
	log_warnx("delivery: checkpoint: %s; not acknowledging until it succeeds", msg);
}

/* Make the probe afresh; 0 or -1 with errno. */
static int
probe_create(struct checkpoint *k)
{
	int fd;

	if (unlinkat(k->p->tmpfd, PROBE ".1", 0) == -1 && errno != ENOENT)
		return -1;
	fd = openat(k->p->tmpfd, PROBE, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW,
	    0600);
	if (fd == -1)
		return -1;
	k->probe_moved = false;
	return close(fd);
}

/*
 * After the syncfs: prove the file system still commits by renaming the
 * probe.  ext4 reports an aborted journal to the one thread that waited
 * for the failed commit, and a later syncfs with nothing to commit
 * returns 0; a rename fails once the journal is aborted.  0 or -1 with
 * errno.
 */
static int
probe(struct checkpoint *k)
{
	const char *from = k->probe_moved ? PROBE ".1" : PROBE;
	const char *to = k->probe_moved ? PROBE : PROBE ".1";

	if (renameat(k->p->tmpfd, from, k->p->tmpfd, to) == 0) {
		k->probe_moved = !k->probe_moved;
		return 0;
	}
	if (errno == ENOENT) {
		log_warnx("delivery: %s/tmp/%s: missing; made again", k->p->spool, from);
		return probe_create(k);
	}
	return -1;
}

/* clog_replay callback of a repair: write the record's file again. */
static int
repair_one(void *arg, const struct clog_rec *r)
{
	struct checkpoint *k = arg;

	return publish_replay(k->p, r, true, &k->perm);
}

/* One checkpoint (see checkpoint.h). */
int
checkpoint_round(struct checkpoint *k)
{
	uint64_t target[CLOG_MAX_WORKERS], done[CLOG_MAX_WORKERS];
	unsigned gen;
	int failed, n, e;
	char err[512], msg[600];

	/* together: a failed publish and its published number (clog.h) */
	failed = clog_snapshot(k->c, target, &gen);
	clog_checkpointed(k->c, done);
	if (!failed && memcmp(target, done, sizeof(done)) == 0)
		return 0;
	if (failed && (n = clog_replay(k->c, target, repair_one, k, err, sizeof(err))) != 0) {
		if (n > 0)
			snprintf(err, sizeof(err), "%d messages could not be written again", n);
		ckpt_log(k, err);
		return -1;
	}
	if (CLOG_CHECKPOINT_SYNC && syncfs(k->syncfd) == -1) {
		e = errno;
		snprintf(msg, sizeof(msg), "syncfs %s: %s", k->p->spool, strerror(e));
		clog_fail(k->c, e);
		ckpt_log(k, msg);
		return -1;
	}
	if (probe(k) == -1) {
		e = errno;
		snprintf(msg, sizeof(msg), "%s/tmp/%s: the file system takes no more changes: %s",
		    k->p->spool, PROBE, strerror(e));
		clog_fail(k->c, e);
		ckpt_log(k, msg);
		return -1;
	}
	if (clog_checkpoint(k->c, target, err, sizeof(err)) == -1) {
		clog_fail(k->c, errno);
		ckpt_log(k, err);
		return -1;
	}
	if (failed) {
		clog_repaired(k->c, gen);
		log_info("delivery: checkpoint: published files durable again; acknowledging");
		k->last_err[0] = '\0';
	}
	return 0;
}

/* The thread: a round per kick or CHECKPOINT_MS. */
static void *
ckpt_main(void *arg)
{
	struct checkpoint *k = arg;

	while (clog_wait_kick(k->c, CHECKPOINT_MS))
		(void)checkpoint_round(k);
	return NULL;
}

/* Start the checkpoint thread. */
struct checkpoint *
checkpoint_start(struct clog *c, struct publisher *p, const struct fsutil_perm *perm,
    char *err, size_t errlen)
{
	struct checkpoint *k = xcalloc(1, sizeof(*k));
	int e;

	k->c = c;
	k->p = p;
	k->perm = *perm;
	k->syncfd = openat(p->tmpfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (k->syncfd == -1 || probe_create(k) == -1) {
		snprintf(err, errlen, "%s/tmp/%s: %s", p->spool, k->syncfd == -1 ? "." : PROBE,
		    strerror(errno));
		if (k->syncfd != -1)
			close(k->syncfd);
		free(k);
		return NULL;
	}
	if ((e = bgthread_start(&k->thread, ckpt_main, k, "checkpoint")) != 0) {
		snprintf(err, errlen, "pthread_create: %s", strerror(e));
		close(k->syncfd);
		free(k);
		return NULL;
	}
	k->running = true;
	return k;
}

/* Stop after a last round. */
void
checkpoint_stop(struct checkpoint *k)
{
	if (k == NULL)
		return;
	clog_stop(k->c);
	if (k->running)
		pthread_join(k->thread, NULL);
	if (checkpoint_round(k) == -1)
		log_warnx("delivery: checkpoint at stop failed; the log is replayed at the "
		    "next start");
	close(k->syncfd);
	free(k);
}
