/*
 * maildrop: the injector's privilege discipline and its maildrop/ file
 * (see maildrop.h).
 *
 * Trust boundary: the caller is any local user, who controls the command
 * line, the environment, stdin, signals and resource limits.  The group is
 * raised only for openat(O_CREAT|O_EXCL|O_NOFOLLOW), renameat2, unlinkat
 * and the probe's mkdirat/unlinkat inside maildrop/, all relative to a
 * descriptor of maildrop/ opened O_NOFOLLOW; the role marker is read with
 * the user's own ids, so no message can show a byte of a file the user
 * could not read himself.
 *
 * The file: maildrop/.w.<unique> (a dot name the daemon skips) created
 * O_EXCL, written, fchmod 0644, fsynced, renamed to maildrop/<unique> (no
 * replace), fsynced again (maildrop/ cannot be opened for reading by the
 * group, and on a journalling file system this commits the rename, which
 * touched the file's inode; maildrop/ itself is fsynced too when we may
 * open it, e.g. as root), then the commit probe.
 *
 * Must not know: the message format, the command line, SMTP.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sysexits.h>
#include <unistd.h>

#include "fsutil.h"
#include "maildrop.h"
#include "spool.h"
#include "util.h"

#define NAME_TRIES 5		/* fresh names tried when one exists already */
#define SETGID_HINT " (smtpgate-sendmail must be installed set-group-id to the " \
	"submission group that owns maildrop/)"

struct maildrop {
	char *spool;
	int spoolfd;		/* O_PATH */
	int dropfd;		/* O_PATH, maildrop/ */
};

/* The real group and the saved set-group-id (see maildrop_priv_init). */
static gid_t priv_rgid, priv_sgid;
static bool priv_setgid;

/* A privilege step failed: never go on with the wrong group. */
static _Noreturn void
priv_fatal(const char *what)
{
	fprintf(stderr, "smtpgate-sendmail: %s: %s\n", what, strerror(errno));
	exit(EX_OSERR);
}

/* Set the effective group; a failure is fatal. */
static void
priv_set_egid(gid_t g)
{
	if (setresgid((gid_t)-1, g, (gid_t)-1) < 0 || getegid() != g)
		priv_fatal("cannot set the effective group");
}

/* At start: the real group from now on, the saved set-group-id kept. */
void
maildrop_priv_init(void)
{
	priv_rgid = getgid();
	priv_sgid = getegid();
	priv_setgid = priv_sgid != priv_rgid;
	if (priv_setgid)
		priv_set_egid(priv_rgid);
}

/* Take the submission group as the effective group (for maildrop/ only). */
static void
priv_raise(void)
{
	if (priv_setgid)
		priv_set_egid(priv_sgid);
}

/* Back to the user's own group, keeping errno. */
static void
priv_lower(void)
{
	int e = errno;

	if (priv_setgid)
		priv_set_egid(priv_rgid);
	errno = e;
}

/* Give the submission group up for good: real, effective and saved. */
void
maildrop_priv_drop(void)
{
	gid_t r, e, s;

	if (setresgid(priv_rgid, priv_rgid, priv_rgid) < 0 ||
	    getresgid(&r, &e, &s) < 0 || r != priv_rgid || e != priv_rgid || s != priv_rgid)
		priv_fatal("cannot give up the submission group");
	priv_setgid = false;
}

/* The exit code for a failed call: 77 when permission was denied, else 75. */
static int
errno_code(int e)
{
	return (e == EACCES || e == EPERM) ? EX_NOPERM : EX_TEMPFAIL;
}

/* Refuse a spool whose role marker is not outbound (78); the user's own ids. */
static int
check_role(int spoolfd, const char *spool, char *err, size_t errlen)
{
	char role[33];		/* at most 32 bytes of a wrong role are shown */

	if (spool_read_role(spoolfd, role, sizeof(role), err, errlen) < 0)
		return errno == ENOENT ? 0 : errno_code(errno);	/* ENOENT: maildrop/ decides */
	if (strcmp(role, spool_role_name(SPOOL_ROLE_OUTBOUND)) != 0)
		return util_fail(EX_CONFIG, err, errlen,
		    "%s/.smtpgate: the spool's role is "
		    "\"%s\", not outbound; smtpgate-sendmail writes only into an outbound "
		    "spool", spool, role);
	return 0;
}

/* Open the spool and maildrop/ (see maildrop.h). */
int
maildrop_open(const char *spool, struct maildrop **mdp, char *err, size_t errlen)
{
	struct maildrop *md = xcalloc(1, sizeof(*md));
	int rc;

	md->spoolfd = md->dropfd = -1;
	md->spool = xstrdup(spool);
	*mdp = NULL;
	md->spoolfd = open(spool, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (md->spoolfd < 0)
		rc = util_fail(errno_code(errno), err, errlen,
		    "%s: %s (is smtpgate-outbound set "
		    "up?)", spool, strerror(errno));
	else if ((rc = check_role(md->spoolfd, spool, err, errlen)) == 0) {
		char derr[1024];

		md->dropfd = fsutil_open_dir(md->spoolfd, spool, "maildrop", O_PATH, derr,
		    sizeof(derr));
		if (md->dropfd < 0)
			rc = util_fail(errno_code(errno), err, errlen,
			    "%s (is smtpgate-outbound "
			    "set up on this spool?)", derr);
	}
	if (rc != 0) {
		maildrop_close(md);
		return rc;
	}
	*mdp = md;
	return 0;
}

/* Close what maildrop_open() opened. */
void
maildrop_close(struct maildrop *md)
{
	if (md == NULL)
		return;
	if (md->dropfd >= 0)
		close(md->dropfd);
	if (md->spoolfd >= 0)
		close(md->spoolfd);
	free(md->spool);
	free(md);
}

/* Remove our maildrop/name (with the group); keeps errno. */
static void
drop_undo(struct maildrop *md, const char *name)
{
	int e = errno;

	priv_raise();
	(void)unlinkat(md->dropfd, name, 0);
	priv_lower();
	errno = e;
}

/* Undo, then "<spool>/maildrop/<name>: <what>: <error>" with its code. */
static int
drop_fail(struct maildrop *md, const char *name, const char *what, char *err, size_t errlen)
{
	int e = errno;

	drop_undo(md, name);
	return util_fail(errno_code(e), err, errlen,
	    "%s/maildrop/%s: %s: %s%s", md->spool, name,
	    what, strerror(e), (e == EACCES || e == EPERM) ? SETGID_HINT : "");
}

/*
 * Create maildrop/<wname> (with the group), write b, fchmod 0644, fsync.
 * *fd gets the open file; 0, -1 when the name exists already, or a code.
 */
static int
drop_write(struct maildrop *md, const char *wname, const struct strbuf *b, int *fd,
    char *err, size_t errlen)
{
	int rc;

	priv_raise();
	*fd = openat(md->dropfd, wname, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
	    0600);
	priv_lower();
	if (*fd < 0 && errno == EEXIST)
		return -1;
	if (*fd < 0) {
		int e = errno;
		return util_fail(errno_code(e), err, errlen,
		    "%s/maildrop/%s: create: %s%s", md->spool,
		    wname, strerror(e), (e == EACCES || e == EPERM) ? SETGID_HINT : "");
	}
	const char *what = fsutil_write_all(*fd, b->p, b->len) < 0 ? "write" : fchmod(*fd, 0644) < 0 ?
	    "fchmod" : fsync(*fd) < 0 ? "fsync" : NULL;

	if (what == NULL)
		return 0;
	rc = drop_fail(md, wname, what, err, errlen);
	close(*fd);
	*fd = -1;
	return rc;
}

/* Rename maildrop/<from> to maildrop/<to> without replacing; 0 or -1. */
static int
drop_rename(struct maildrop *md, const char *from, const char *to)
{
	int rc;

	priv_raise();
	rc = renameat2(md->dropfd, from, md->dropfd, to, RENAME_NOREPLACE);
	if (rc < 0 && errno == EINVAL)
		rc = renameat(md->dropfd, from, md->dropfd, to);	/* no RENAME_NOREPLACE */
	priv_lower();
	return rc;
}

/*
 * Prove that the file system still commits: a directory made and removed
 * in maildrop/.  When a journal commit fails, ext4 aborts the journal and
 * reports it to the one thread that waited for that commit (the daemon's,
 * say); an fsync that then finds the commit of our rename already over
 * returns 0.  Every journal operation fails from then on, so one made now
 * shows that the rename reached the disk.
 */
static int
commit_probe(struct maildrop *md, const char *name, char *err, size_t errlen)
{
	char probe[600];
	int rc;

	snprintf(probe, sizeof(probe), ".probe.%s", name);
	priv_raise();
	rc = mkdirat(md->dropfd, probe, 0700);
	if (rc == 0)
		rc = unlinkat(md->dropfd, probe, AT_REMOVEDIR);
	priv_lower();
	if (rc < 0)
		return util_fail(EX_TEMPFAIL, err, errlen,
		    "%s/maildrop/%s: the file system takes no "
		    "more changes: %s (the message may not be queued)", md->spool, probe,
		    strerror(errno));
	return 0;
}

/*
 * Make the rename durable: fsync the file again (its inode changed with
 * the rename, so a journalling file system commits the rename with it),
 * and maildrop/ itself when we may open it (root, the owner).
 */
static int
drop_sync(struct maildrop *md, int fd, const char *name, char *err, size_t errlen)
{
	char derr[1024];
	int dfd, rc, e;

	rc = fsync(fd);
	e = errno;
	if (close(fd) < 0 && rc == 0) {	/* closed even after a failed fsync: -bs goes on */
		rc = -1;
		e = errno;
	}
	if (rc < 0)
		return util_fail(EX_TEMPFAIL, err, errlen,
		    "%s/maildrop/%s: fsync after the rename: "
		    "%s (the message may not be queued)", md->spool, name, strerror(e));
	dfd = fsutil_open_dir(md->spoolfd, md->spool, "maildrop", O_RDONLY, derr,
	    sizeof(derr));
	if (dfd < 0)
		return 0;	/* the group may not read maildrop/: the file fsync did it */
	if (fsutil_fsync_dirfd(dfd, "maildrop", derr, sizeof(derr)) < 0) {
		close(dfd);
		return util_fail(EX_TEMPFAIL, err, errlen,
		    "%s/%s (the message may not be queued)",
		    md->spool, derr);
	}
	close(dfd);
	return 0;
}

/* Write one maildrop file (see maildrop.h). */
int
maildrop_put(struct maildrop *md, const char *host, const struct strbuf *b,
    char name[MAILDROP_NAME_MAX], char *err, size_t errlen)
{
	char wname[MAILDROP_NAME_MAX + 8];
	int fd = -1, rc;

	for (int tries = 0; fd < 0; tries++) {
		if (tries == NAME_TRIES)
			return util_fail(EX_TEMPFAIL, err, errlen,
			    "%s/maildrop: no free name after "
			    "%d tries", md->spool, tries);
		fsutil_maildir_name(name, MAILDROP_NAME_MAX, host, b->len);
		snprintf(wname, sizeof(wname), ".w.%s", name);
		rc = drop_write(md, wname, b, &fd, err, errlen);
		if (rc > 0)
			return rc;
		if (fd >= 0 && drop_rename(md, wname, name) < 0) {
			if (errno != EEXIST) {
				rc = drop_fail(md, wname, "rename", err, errlen);
				close(fd);
				return rc;
			}
			drop_undo(md, wname);
			close(fd);
			fd = -1;
		}
	}
	if ((rc = drop_sync(md, fd, name, err, errlen)) != 0)
		return rc;
	return commit_probe(md, name, err, errlen);
}
