/*
 * recover: the commit log's recovery at start (see recover.h).
 * Must not know about SMTP, sessions or the event loop.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "recover.h"

struct recover_ctx {
	struct publisher *p;
	const struct fsutil_perm *perm;
	unsigned checked, failed;
};

/* clog_replay callback: the recovery rule for one record. */
static int
recover_one(void *arg, const struct clog_rec *r)
{
	struct recover_ctx *x = arg;

	x->checked++;
	if (publish_replay(x->p, r, false, x->perm) == 0)
		return 0;
	x->failed++;
	return -1;
}

/* Replay, sync, checkpoint; 0 or -1 with err. */
static int
recover_run(struct clog *c, int spoolfd, struct recover_ctx *x, char *err, size_t errlen)
{
	const char *spool = x->p->spool;

	if (clog_replay(c, NULL, recover_one, x, err, errlen) < 0)
		return -1;
	if (x->checked > 0)
		log_info("delivery: commit log %s/log: %u messages after the checkpoint "
		    "checked, %u could not be stored", spool, x->checked, x->failed);
	if (x->failed > 0) {
		snprintf(err, errlen, "%s/log: %u messages of the commit log could not be "
		    "stored (see above); the log is kept", spool, x->failed);
		return -1;
	}
	if (CLOG_DURABLE && syncfs(spoolfd) == -1) {
		snprintf(err, errlen, "%s: syncfs: %s", spool, strerror(errno));
		return -1;
	}
	if (clog_checkpoint_seen(c, err, errlen) == -1)
		return -1;
	return clog_prepare(c, err, errlen);
}

/* Open and recover the log (see recover.h). */
struct clog *
recover_open(struct publisher *p, const struct fsutil_perm *perm, unsigned nworkers,
    char *err, size_t errlen)
{
	int spoolfd = open(p->spool, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	struct recover_ctx x = { p, perm, 0, 0 };
	struct clog *c;

	if (spoolfd == -1) {
		snprintf(err, errlen, "%s: open: %s", p->spool, strerror(errno));
		return NULL;
	}
	if ((c = clog_open(spoolfd, p->spool, nworkers, err, errlen)) != NULL &&
	    recover_run(c, spoolfd, &x, err, errlen) == -1) {
		clog_free(c);
		c = NULL;
	}
	close(spoolfd);
	return c;
}
