/*
 * spooldirs: create the outbound spool's sub-directories and enforce their
 * owner, group and mode (see spooldirs.h).  Who may do what there:
 *
 *   <spool>/   0751  others may only pass through, to reach maildrop/
 *   tmp/       0700  the daemon's private files (claims, spares, new files)
 *   queue/     0750  operators (the service group) may read the queue
 *   bad/       0750  files that could not be taken, with <name>.reason
 *   control/   1730  operators post requests; only their names are read
 *   maildrop/  1730  group submit_group: smtpgate-sendmail drops files
 *   pickup/    1730  trusted producers rename finished files in
 *   staging/   1770  trusted producers write here first (same file system)
 *
 * The sticky bit lets a producer rename or remove only its own files;
 * write-and-search without read lets it drop a file without listing the
 * others'.  The daemon owns every one of these, so it may take, rename and
 * remove anything in them.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sysexits.h>
#include <unistd.h>

#include "fsutil.h"
#include "log.h"
#include "privs.h"
#include "spooldirs.h"

/* Whose group a directory gets. */
enum sd_group { SD_OWN, SD_SUBMIT };

/* One directory of the layout. */
struct sd_rule {
	const char *name;
	mode_t mode;
	enum sd_group group;
};

static const struct sd_rule sd_rules[] = {
	{ "queue", 0750, SD_OWN },
	{ "bad", 0750, SD_OWN },
	{ "control", 01730, SD_OWN },
	{ "maildrop", 01730, SD_SUBMIT },
	{ "pickup", 01730, SD_OWN },
	{ "staging", 01770, SD_OWN },
};

/* The gid of submit_group ("" = the daemon's own); 0, or EX_CONFIG. */
static int
sd_submit_gid(const char *name, gid_t *gid, char *err, size_t errlen)
{
	if (name == NULL || name[0] == '\0') {
		*gid = getegid();
		return 0;
	}
	if (!privs_group_id(name, gid)) {
		snprintf(err, errlen, "submit_group \"%.64s\": no such group", name);
		return EX_CONFIG;
	}
	return 0;
}

/* What a directory must be. */
struct sd_want {
	gid_t gid;
	mode_t mode;
	bool created;		/* we just made it (its mode is then not
				   "fixed", just set) */
};

/*
 * Give the open directory fd (path for messages) the daemon's ownership
 * check, the group and the mode of w.  0 or a sysexits code.
 */
static int
sd_enforce(int fd, const char *path, const struct sd_want *w, char *err, size_t errlen)
{
	gid_t gid = w->gid;
	mode_t mode = w->mode;
	struct stat st;

	if (fstat(fd, &st) < 0) {
		snprintf(err, errlen, "%s: fstat: %s", path, strerror(errno));
		return EX_CANTCREAT;
	}
	if (st.st_uid != geteuid()) {
		snprintf(err, errlen, "%s: owned by uid %ju, not by the daemon's uid %ju "
		    "(fix: chown -R <user>:<group> %s)", path, (uintmax_t)st.st_uid,
		    (uintmax_t)geteuid(), path);
		return EX_NOPERM;
	}
	if (st.st_gid != gid && fchown(fd, (uid_t)-1, gid) < 0) {
		snprintf(err, errlen, "%s: cannot give it to group %ju: %s (the daemon must "
		    "be a member of that group, e.g. SupplementaryGroups=, or run: "
		    "chgrp %ju %s)", path, (uintmax_t)gid, strerror(errno), (uintmax_t)gid,
		    path);
		return EX_NOPERM;
	}
	if ((st.st_mode & 07777) != mode) {
		if (fchmod(fd, mode) < 0) {
			snprintf(err, errlen, "%s: chmod %04o: %s", path, (unsigned)mode,
			    strerror(errno));
			return EX_NOPERM;
		}
		if (!w->created)
			log_info("spool dir=%s mode=%04o was=%04o status=fixed", path,
			    (unsigned)mode, (unsigned)(st.st_mode & 07777));
	}
	return 0;
}

/* Open (creating) one sub-directory and enforce its rule; the fd or -1
 * with *rc set. */
static int
sd_open(const struct spooldirs_at *at, const struct sd_rule *r, gid_t gid, int *rc,
    char *err, size_t errlen)
{
	struct sd_want w = { gid, r->mode, false };
	char path[4096];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", at->spoolpath, r->name);
	if (mkdirat(at->spoolfd, r->name, 0700) == 0)
		w.created = true;
	else if (errno != EEXIST) {
		snprintf(err, errlen, "%s: mkdir: %s", path, strerror(errno));
		*rc = errno == EACCES || errno == EPERM ? EX_NOPERM : EX_CANTCREAT;
		return -1;
	}
	fd = fsutil_open_dir(at->spoolfd, at->spoolpath, r->name, O_RDONLY, err, errlen);
	if (fd < 0) {
		snprintf(err, errlen, "%s: open: %s (it must be a directory of the daemon's)",
		    path, strerror(errno));
		*rc = errno == EACCES ? EX_NOPERM : EX_CANTCREAT;
		return -1;
	}
	if ((*rc = sd_enforce(fd, path, &w, err, errlen)) != 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* The fd slot of a rule in d (staging: none, it is closed again). */
static int *
sd_slot(struct spooldirs *d, const char *name)
{
	if (strcmp(name, "pickup") == 0)
		return &d->pickup;
	if (strcmp(name, "maildrop") == 0)
		return &d->maildrop;
	if (strcmp(name, "queue") == 0)
		return &d->queue;
	if (strcmp(name, "bad") == 0)
		return &d->bad;
	if (strcmp(name, "control") == 0)
		return &d->control;
	return NULL;
}

/* Create and enforce the layout (see spooldirs.h). */
int
spooldirs_open(const struct spooldirs_at *at, struct spooldirs *d, char *err, size_t errlen)
{
	char path[4096];
	gid_t own = getegid(), submit;
	struct sd_want w = { own, 0751, false };
	struct stat st;
	size_t i;
	int rc, fd, *slot;

	d->pickup = d->maildrop = d->queue = d->bad = d->control = -1;
	if ((rc = sd_submit_gid(at->submit_group, &submit, err, errlen)) != 0)
		return rc;
	/* a spool without queue/ is new: its modes are set, not "fixed" */
	w.created = fstatat(at->spoolfd, "queue", &st, AT_SYMLINK_NOFOLLOW) < 0;
	if ((rc = sd_enforce(at->spoolfd, at->spoolpath, &w, err, errlen)) != 0)
		return rc;
	snprintf(path, sizeof(path), "%s/tmp", at->spoolpath);
	w.mode = 0700;
	if ((rc = sd_enforce(at->tmpfd, path, &w, err, errlen)) != 0)
		return rc;
	for (i = 0; i < sizeof(sd_rules) / sizeof(sd_rules[0]); i++) {
		fd = sd_open(at, &sd_rules[i], sd_rules[i].group == SD_SUBMIT ? submit : own,
		    &rc, err, errlen);
		if (fd < 0) {
			spooldirs_close(d);
			return rc;
		}
		if ((slot = sd_slot(d, sd_rules[i].name)) != NULL)
			*slot = fd;
		else
			close(fd);
	}
	return 0;
}

/* Close the sub-directories. */
void
spooldirs_close(struct spooldirs *d)
{
	int *fds[] = { &d->pickup, &d->maildrop, &d->queue, &d->bad, &d->control };
	size_t i;

	for (i = 0; i < sizeof(fds) / sizeof(fds[0]); i++)
		if (*fds[i] >= 0) {
			close(*fds[i]);
			*fds[i] = -1;
		}
}
