/*
 * spoolwatch: inotify and periodic scans of maildrop/, pickup/ and
 * control/ (see spoolwatch.h).
 *
 * Who writes there: maildrop/ any local user through smtpgate-sendmail
 * (set-group-id to the submission group), pickup/ the trusted producers
 * of the service group, control/ operators.  All three are 1730 and ours:
 * a user can put any name there, of any length and bytes (newlines,
 * escape sequences), and any kind of file.  So names are only read here,
 * escaped before they are logged, and handed on; what is taken is decided
 * and checked by pickup.c.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "backoff.h"
#include "log.h"
#include "spoolwatch.h"
#include "util.h"

#define SW_STALE_WRITE	86400	/* a maildrop/.w.* older than this is removed */
#define SW_ESC		300	/* an escaped name in a log line */

struct spoolwatch {
	struct event_base *base;
	struct spoolwatch_dirs d;
	struct spoolwatch_ops ops;
	void *arg;
	int inofd, wd_maildrop, wd_pickup, wd_control;
	struct event *ev_ino, *ev_scan;
	struct backoff *ctlback;	/* control names that could not be removed */
};

/* Wall clock, seconds. */
static int64_t
sw_now(void)
{
	return (int64_t)time(NULL);
}

/* name made printable for a log line (buf: SW_ESC bytes). */
static const char *
sw_esc(const char *name, char *buf)
{
	return log_printable(name, strlen(name), buf, SW_ESC);
}

/* Read every name of a directory (fd), calling fn for each but . and ..
 * (dot names too: fn decides). */
static void
sw_readdir(struct spoolwatch *w, int dirfd, const char *label,
    void (*fn)(struct spoolwatch *, const char *))
{
	struct dirent *de;
	DIR *dir;
	int fd;

	if ((fd = dup(dirfd)) == -1 || (dir = fdopendir(fd)) == NULL) {
		log_warn("scan %s/%s", w->d.spoolpath, label);
		if (fd != -1)
			close(fd);
		return;
	}
	rewinddir(dir);
	while ((de = readdir(dir)) != NULL)
		if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
			fn(w, de->d_name);
	closedir(dir);
}

/* Apply and remove one control file; one that cannot be removed is not
 * applied again until its backoff is over. */
static void
sw_control_file(struct spoolwatch *w, const char *name)
{
	char ename[SW_ESC];

	if (name[0] == '.')
		return;
	backoff_mark(w->ctlback, name);
	if (!backoff_ready(w->ctlback, name, sw_now()))
		return;
	w->ops.control(w->arg, name);
	if (unlinkat(w->d.control, name, 0) == 0 || errno == ENOENT ||
	    (errno == EISDIR && unlinkat(w->d.control, name, AT_REMOVEDIR) == 0))
		backoff_forget(w->ctlback, name);
	else if (backoff_fail(w->ctlback, name, sw_now(), NULL) == 1)
		log_warn("control %s/control/%s: unlink (not tried again for a while)",
		    w->d.spoolpath, sw_esc(name, ename));
}

/* Scan control/ for requests. */
static void
sw_control_scan(struct spoolwatch *w)
{
	sw_readdir(w, w->d.control, "control", sw_control_file);
	(void)backoff_sweep(w->ctlback);
}

/* A name seen in pickup/ by a scan. */
static void
sw_scan_pickup(struct spoolwatch *w, const char *name)
{
	if (name[0] != '.')
		w->ops.name(w->arg, 'p', name);
}

/* A name seen in maildrop/ by a scan: a file to take, or an injector's
 * write in progress (.w.*), removed once older than SW_STALE_WRITE. */
static void
sw_scan_maildrop(struct spoolwatch *w, const char *name)
{
	char ename[SW_ESC];
	struct stat st;

	if (name[0] != '.') {
		w->ops.name(w->arg, 'm', name);
		return;
	}
	if (strncmp(name, ".w.", 3) != 0 ||
	    fstatat(w->d.maildrop, name, &st, AT_SYMLINK_NOFOLLOW) == -1 ||
	    st.st_mtime > sw_now() - SW_STALE_WRITE)
		return;
	if (unlinkat(w->d.maildrop, name, S_ISDIR(st.st_mode) ? AT_REMOVEDIR : 0) == 0)
		log_info("maildrop name=%s uid=%ju status=removed reason=\"unfinished write "
		    "older than %ds\"", sw_esc(name, ename), (uintmax_t)st.st_uid,
		    SW_STALE_WRITE);
}

/* Scan maildrop/, pickup/ and control/ (see spoolwatch.h). */
void
spoolwatch_scan(struct spoolwatch *w)
{
	if (!w->ops.busy(w->arg)) {
		sw_readdir(w, w->d.maildrop, "maildrop", sw_scan_maildrop);
		sw_readdir(w, w->d.pickup, "pickup", sw_scan_pickup);
		w->ops.scanned(w->arg);
	}
	sw_control_scan(w);
}

/* Periodic scan timer. */
static void
sw_scan_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	spoolwatch_scan(arg);
}

/* inotify readable: new dropped files, control requests. */
static void
sw_inotify_cb(evutil_socket_t fd, short what, void *arg)
{
	struct spoolwatch *w = arg;
	char buf[16384] __attribute__((aligned(__alignof__(struct inotify_event))));
	const struct inotify_event *ev;
	bool control = false, overflow = false;
	ssize_t n;
	char *p;

	(void)what;
	while ((n = read(fd, buf, sizeof(buf))) > 0) {
		for (p = buf; p < buf + n; p += sizeof(*ev) + ev->len) {
			ev = (const struct inotify_event *)p;
			if (ev->mask & IN_Q_OVERFLOW)
				overflow = true;
			else if (ev->wd == w->wd_control)
				control = true;
			else if (ev->len > 0 && ev->name[0] != '.' &&
			    (ev->wd == w->wd_pickup || ev->wd == w->wd_maildrop))
				w->ops.name(w->arg, ev->wd == w->wd_pickup ? 'p' : 'm', ev->name);
		}
	}
	if (n == -1 && errno != EAGAIN && errno != EINTR)
		log_warn("inotify read");
	if (overflow)
		spoolwatch_scan(w);
	else if (control)
		sw_control_scan(w);
}

/* A watcher, not started (see spoolwatch.h). */
struct spoolwatch *
spoolwatch_new(struct event_base *base, const struct spoolwatch_dirs *d,
    const struct spoolwatch_ops *ops, void *arg, char *err, size_t errlen)
{
	struct spoolwatch *w = xcalloc(1, sizeof(*w));

	w->base = base;
	w->d = *d;
	w->d.spoolpath = xstrdup(d->spoolpath);
	w->ops = *ops;
	w->arg = arg;
	w->inofd = w->wd_maildrop = w->wd_pickup = w->wd_control = -1;
	w->ctlback = backoff_new();
	w->ev_scan = event_new(base, -1, EV_PERSIST, sw_scan_cb, w);
	if (w->ev_scan == NULL) {
		snprintf(err, errlen, "spool watch: cannot create the scan timer");
		spoolwatch_free(w);
		return NULL;
	}
	return w;
}

/* Add an inotify watch on a spool sub-directory. */
static int
sw_watch(struct spoolwatch *w, const char *sub, char *err, size_t errlen)
{
	char path[4096];
	int wd;

	snprintf(path, sizeof(path), "%s/%s", w->d.spoolpath, sub);
	wd = inotify_add_watch(w->inofd, path, IN_MOVED_TO | IN_CLOSE_WRITE | IN_ONLYDIR |
	    IN_DONT_FOLLOW);
	if (wd == -1)
		snprintf(err, errlen, "%s: inotify_add_watch: %s", path, strerror(errno));
	return wd;
}

/* Start inotify and the periodic scan; scan once. */
int
spoolwatch_start(struct spoolwatch *w, unsigned interval, char *err, size_t errlen)
{
	w->inofd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (w->inofd == -1) {
		snprintf(err, errlen, "inotify_init1: %s", strerror(errno));
		return -1;
	}
	if ((w->wd_pickup = sw_watch(w, "pickup", err, errlen)) == -1 ||
	    (w->wd_maildrop = sw_watch(w, "maildrop", err, errlen)) == -1 ||
	    (w->wd_control = sw_watch(w, "control", err, errlen)) == -1)
		return -1;
	w->ev_ino = event_new(w->base, w->inofd, EV_READ | EV_PERSIST, sw_inotify_cb, w);
	if (w->ev_ino == NULL || event_add(w->ev_ino, NULL) == -1) {
		snprintf(err, errlen, "inotify: cannot watch the descriptor");
		return -1;
	}
	spoolwatch_set_interval(w, interval);
	spoolwatch_scan(w);
	return 0;
}

/* A new scan interval (0: the default, 30 s). */
void
spoolwatch_set_interval(struct spoolwatch *w, unsigned interval)
{
	struct timeval tv = { interval ? interval : 30, 0 };

	event_add(w->ev_scan, &tv);
}

/* No more events. */
void
spoolwatch_stop(struct spoolwatch *w)
{
	if (w->ev_ino != NULL)
		event_del(w->ev_ino);
	event_del(w->ev_scan);
}

/* Free the watcher (its events and inotify descriptor). */
void
spoolwatch_free(struct spoolwatch *w)
{
	if (w == NULL)
		return;
	if (w->ev_ino != NULL)
		event_free(w->ev_ino);
	if (w->ev_scan != NULL)
		event_free(w->ev_scan);
	if (w->inofd != -1)
		close(w->inofd);
	backoff_free(w->ctlback);
	free((char *)w->d.spoolpath);
	free(w);
}
