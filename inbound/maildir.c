/*
 * maildir: the inbound spool's directories, their modes and group, and
 * the descriptor walk to a mailbox's new/ (see maildir.h for the table).
 *
 * Trust boundary: everything below mailboxes/<name>/ is writable by the
 * readers (mailbox_group).  Here that means: every step below <spool> is
 * an openat with O_NOFOLLOW|O_DIRECTORY (a symlink or FIFO fails it, a
 * FIFO is never opened for reading), and modes and groups are set through
 * the descriptor so they never land on what a symlink points to.
 * Must not know about SMTP, sessions or the delivery threads.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "log.h"
#include "maildir.h"
#include "privs.h"
#include "util.h"

#define MAILDIR_SPOOL_MODE	0711
#define MAILDIR_TMP_MODE	0700
#define MAILDIR_ROOT_MODE	0750
#define MAILDIR_OPEN_FLAGS	(O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)

/* One maildir_prepare run: the mailboxes folder, what it works from, and
 * the changes it made (logged once). */
struct maildir_prep {
	int rootfd;			/* <spool>/mailboxes */
	const char *spool_path;
	const struct inbound_config *cfg;
	struct fsutil_dir_count t;
};

/* The group of mailbox files and directories (see maildir.h). */
gid_t
maildir_gid(const struct inbound_config *cfg)
{
	return cfg->mailbox_gid == (gid_t)-1 ? getegid() : cfg->mailbox_gid;
}

/* The perm of a new message file (see maildir.h). */
struct fsutil_perm
maildir_file_perm(const struct inbound_config *cfg, mode_t umask)
{
	gid_t gid = maildir_gid(cfg);
	struct fsutil_perm p = {
		.mode = cfg->mailbox_file_mode,
		/* a file made in <spool>/tmp gets the daemon's group */
		.gid = gid == getegid() ? (gid_t)-1 : gid,
		.fix_mode = (cfg->mailbox_file_mode & umask) != 0,
	};

	return p;
}

/* fsutil_dir_at, counted in t; the descriptor is closed; 0 or -1. */
static int
maildir_dir(int parentfd, const char *name, const struct fsutil_perm *perm,
    struct fsutil_dir_count *t, char *err, size_t errlen)
{
	enum fsutil_dir_done done;
	int fd = fsutil_dir_at(parentfd, name, perm, &done, err, errlen);

	if (fd < 0)
		return -1;
	t->created += done == FSUTIL_DIR_CREATED;
	t->fixed += done == FSUTIL_DIR_FIXED;
	return close(fd);
}

/* The spool itself 0711 (through its descriptor), tmp/ 0700. */
static int
maildir_spool_modes(int spoolfd, const char *spool_path, struct fsutil_dir_count *t,
    char *err, size_t errlen)
{
	struct stat st;

	if (fstat(spoolfd, &st) < 0) {
		snprintf(err, errlen, "%s: fstat: %s", spool_path, strerror(errno));
		return -1;
	}
	if ((st.st_mode & 07777) != MAILDIR_SPOOL_MODE) {
		if (fchmod(spoolfd, MAILDIR_SPOOL_MODE) < 0) {
			snprintf(err, errlen, "%s: fchmod: %s", spool_path, strerror(errno));
			return -1;
		}
		t->fixed++;
	}
	return maildir_dir(spoolfd, "tmp", &(struct fsutil_perm){ MAILDIR_TMP_MODE, (gid_t)-1,
	    false }, t, err, errlen);
}

/* One mailbox; a reader-made problem (a symlink or another file standing
 * in, a directory the daemon may not change) is logged, not fatal. */
static int
maildir_mailbox(struct maildir_prep *p, const char *name, char *err, size_t errlen)
{
	struct fsutil_perm perm = { p->cfg->mailbox_dir_mode, maildir_gid(p->cfg), false };

	if (fsutil_maildir_at(p->rootfd, name, &perm, &p->t, err, errlen) == 0)
		return 0;
	if (errno != ENOTDIR && errno != EPERM)
		return -1;
	log_warnx("maildir: spool=%s mailbox=%s: %s; its mail is deferred until this is "
	    "repaired", p->spool_path, name, err);
	err[0] = '\0';
	return 0;
}

/* Make and fix the spool's layout (see maildir.h). */
int
maildir_prepare(const char *spool_path, const struct inbound_config *cfg,
    char *err, size_t errlen)
{
	struct maildir_prep p = { -1, spool_path, cfg, { 0, 0 } };
	int spoolfd, rc = -1;

	char why[512];

	if (privs_check_member(maildir_gid(cfg), "mailbox_group", "the Maildirs", why, sizeof(why)) != 0) {
		snprintf(err, errlen, "%s: %s", cfg->path, why);
		return -1;
	}
	spoolfd = open(spool_path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (spoolfd < 0) {
		snprintf(err, errlen, "%s: open: %s", spool_path, strerror(errno));
		return -1;
	}
	if (maildir_spool_modes(spoolfd, spool_path, &p.t, err, errlen) < 0 ||
	    (p.rootfd = fsutil_dir_at(spoolfd, "mailboxes", &(struct fsutil_perm){
	    MAILDIR_ROOT_MODE, maildir_gid(cfg), false }, &(enum fsutil_dir_done){ 0 },
	    err, errlen)) < 0)
		goto out;
	for (size_t i = 0; i < cfg->nmailboxes; i++)
		if (maildir_mailbox(&p, cfg->mailboxes[i].name, err, errlen) < 0)
			goto out;
	rc = 0;
	if (p.t.fixed > 0)
		log_info("maildir: spool=%s fixed=%u created=%u: modes and group set "
		    "(mailboxes %04o, files %04o, group %lu)", spool_path, p.t.fixed, p.t.created,
		    (unsigned)cfg->mailbox_dir_mode, (unsigned)cfg->mailbox_file_mode,
		    (unsigned long)maildir_gid(cfg));
out:
	if (p.rootfd >= 0)
		close(p.rootfd);
	close(spoolfd);
	return rc;
}

/* Open <spool>/mailboxes for the publishers. */
int
maildir_open_root(const char *spool_path, char *err, size_t errlen)
{
	char path[4096];
	int fd;

	snprintf(path, sizeof(path), "%s/mailboxes", spool_path);
	fd = open(path, MAILDIR_OPEN_FLAGS);
	if (fd < 0)
		snprintf(err, errlen, "%s: open: %s", path, strerror(errno));
	return fd;
}

/* One step of the walk: dirfd/name as a directory, no symlink followed. */
static int
maildir_step(int dirfd, const char *mailbox, const char *name, char *err, size_t errlen)
{
	int fd = openat(dirfd, name, MAILDIR_OPEN_FLAGS);

	if (fd < 0) {
		int e = errno == ELOOP ? ENOTDIR : errno;

		snprintf(err, errlen, "mailbox %s: %s: %s", mailbox, name, e == ENOTDIR ?
		    "not a directory (a symlink is not followed)" : strerror(e));
		errno = e;
	}
	return fd;
}

/* mailboxes/<mailbox>/new by descriptors (see maildir.h). */
int
maildir_open_new(int rootfd, const char *mailbox, char *err, size_t errlen)
{
	int mbfd = maildir_step(rootfd, mailbox, mailbox, err, errlen), newfd, e;

	if (mbfd < 0)
		return -1;
	newfd = maildir_step(mbfd, mailbox, "new", err, errlen);
	e = errno;
	close(mbfd);
	errno = e;
	return newfd;
}
