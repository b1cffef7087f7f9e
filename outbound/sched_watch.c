/*
 * sched_watch: the spool watch (spoolwatch.c: inotify on maildrop/,
 * pickup/ and control/, and a periodic scan) wired to the outbound
 * scheduler: names to take go to the disk worker, control requests to
 * sched_control.c.
 *
 * Runs on the event loop.  It must not know how names are taken.
 */
#include <stdbool.h>

#include "sched_int.h"
#include "sched_worker.h"
#include "spoolwatch.h"

/* spoolwatch: a name to take. */
static void
sched_watch_name(void *arg, char src, const char *name)
{
	struct sched *s = arg;

	sched_worker_add_name(s->w, src, name);
}

/* spoolwatch: a control request. */
static void
sched_watch_control(void *arg, const char *name)
{
	sched_control_one(arg, name);
}

/* spoolwatch: true while names handed over are still waiting. */
static bool
sched_watch_busy(void *arg)
{
	struct sched *s = arg;

	return sched_worker_names_left(s->w);
}

/* spoolwatch: a full scan ended; names not seen since the last one leave
 * the backoff table. */
static void
sched_watch_scanned(void *arg)
{
	struct sched *s = arg;

	sched_worker_sweep(s->w);
}

/* Watch maildrop/, pickup/ and control/ and scan them once; 0, or -1
 * with err. */
int
sched_watch_start(struct sched *s, char *err, size_t errlen)
{
	static const struct spoolwatch_ops ops = { sched_watch_name, sched_watch_control,
	    sched_watch_busy, sched_watch_scanned };
	struct spoolwatch_dirs wd = { s->spoolpath, s->dirs.maildrop, s->dirs.pickup,
	    s->controlfd };

	if ((s->watch = spoolwatch_new(s->base, &wd, &ops, s, err, errlen)) == NULL ||
	    spoolwatch_start(s->watch, s->cfg->scan_interval, err, errlen) == -1)
		return -1;
	return 0;
}
