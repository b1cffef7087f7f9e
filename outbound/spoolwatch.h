/*
 * spoolwatch: notices what producers and operators put in the outbound
 * spool -- names in maildrop/ and pickup/ (files to take) and in control/
 * (requests) -- by inotify and by a periodic scan, and hands each name to
 * the scheduler.  It never opens a file: it reads directories only.
 *
 * Names from disk are anybody's text: they are escaped (log_printable) in
 * every log line.  A control file that cannot be removed (a directory, a
 * file of a user's in a sticky directory we cannot touch) is not applied
 * again until its backoff (backoff.h) is over.  Unfinished injector writes
 * (maildrop/.w.*) older than a day are removed, one log line each.
 *
 * It must not know about the queue, taking files or SMTP.
 */
#ifndef SMTPGATE_SPOOLWATCH_H
#define SMTPGATE_SPOOLWATCH_H

#include <stdbool.h>
#include <stddef.h>

struct event_base;
struct spoolwatch;

/* What the watcher calls (arg: the scheduler). */
struct spoolwatch_ops {
	/* a name to take: src 'm' (maildrop/) or 'p' (pickup/); never a
	 * dot name */
	void (*name)(void *arg, char src, const char *name);
	/* a control request (the caller removes nothing: the watcher does) */
	void (*control)(void *arg, const char *name);
	/* true while names handed over are still waiting: a periodic scan
	 * then skips maildrop/ and pickup/ (no duplicates) */
	bool (*busy)(void *arg);
	/* a scan of maildrop/ and pickup/ has ended (names not seen since the
	 * last one may be forgotten) */
	void (*scanned)(void *arg);
};

/* The directories watched (O_DIRECTORY fds, still the caller's) and the
 * spool's path (for inotify and messages). */
struct spoolwatch_dirs {
	const char *spoolpath;
	int maildrop, pickup, control;
};

/* Watch (not yet started).  NULL with err. */
struct spoolwatch *spoolwatch_new(struct event_base *base, const struct spoolwatch_dirs *d,
    const struct spoolwatch_ops *ops, void *arg, char *err, size_t errlen);

/* Start inotify and the scan every interval seconds, and scan once now.
 * 0, or -1 with err. */
int spoolwatch_start(struct spoolwatch *w, unsigned interval, char *err, size_t errlen);

/* A new scan interval (SIGHUP). */
void spoolwatch_set_interval(struct spoolwatch *w, unsigned interval);

/* Scan now (also what an inotify overflow does). */
void spoolwatch_scan(struct spoolwatch *w);

/* No more events (stopping). */
void spoolwatch_stop(struct spoolwatch *w);

void spoolwatch_free(struct spoolwatch *w);

#endif
