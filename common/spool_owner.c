/*
 * spool_owner: a daemon refuses a spool that holds something of another
 * user (SPEC.md: a daemon started once by hand as root must not leave the
 * service user a spool it cannot use; issue 16).
 *
 * After the drop to the service user, and before anything else touches the
 * spool, every directory the daemon keeps and every file it keeps in them
 * is checked with one fstatat(AT_SYMLINK_NOFOLLOW) each: the spool, its
 * marker and lock, tmp/ and its files, and the dirs / filedirs the daemon
 * names.  Files other users may put in a directory (producers' drops,
 * operators' requests, readers' files in a Maildir) are not looked at, and
 * what a Maildir's readers may replace (its tmp, new, cur) is refused only
 * when root's: a reader must not be able to stop the gateway; the delivery
 * refuses that one mailbox.
 * The first one owned by another uid gives exit 77 with the fixing command.
 *
 * Knows nothing about queues or Maildirs: the caller lists the names.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sysexits.h>
#include <unistd.h>

#include "escape.h"
#include "privs.h"
#include "spool.h"

/* The names are compared and reported; what is needed to word a refusal. */
struct spool_owner_ctx {
	const char *path;		/* the spool */
	int dirfd;
	uid_t uid;
	gid_t gid;
	char *err;
	size_t errlen;
};

/* Copy name into buf with bytes a terminal would act on shown as '?'. */
static const char *
spool_owner_printable(const char *name, char *buf, size_t buflen)
{
	return escape_text(ESCAPE_CONTROLS, name, strlen(name), buf, buflen);
}

/* "root (uid 0)" when the uid has a name, else "uid 0"; with paren,
 * "root (uid 0)" or "(uid 0)". */
static const char *
spool_owner_who(uid_t uid, int paren, char *buf, size_t buflen)
{
	char name[PRIVS_NAME_MAX];
	char num[32];

	snprintf(num, sizeof(num), "%lu", (unsigned long)uid);
	privs_uid_name(uid, name, sizeof(name));
	if (strcmp(name, num) != 0)
		snprintf(buf, buflen, "%s (uid %s)", name, num);
	else
		snprintf(buf, buflen, paren ? "(uid %s)" : "uid %s", num);
	return buf;
}

/*
 * Word the refusal of rel (a path below the spool, "" for the spool
 * itself) owned by owner; fix is what `chown -R` must be run on.
 */
static int
spool_owner_refuse(struct spool_owner_ctx *c, const char *rel, uid_t owner,
    const char *fixrel)
{
	char shown[NAME_MAX + 64], who[PRIVS_NAME_MAX + 64], me[PRIVS_NAME_MAX + 64];
	char uname[PRIVS_NAME_MAX], gname[PRIVS_NAME_MAX];

	spool_owner_printable(rel[0] != '\0' ? rel : ".", shown, sizeof(shown));
	snprintf(c->err, c->errlen, "spool %s: %s is owned by %s, not by the service "
	    "user %s: run chown -R %s:%s %s%s%s", c->path,
	    rel[0] != '\0' ? shown : "the spool directory",
	    spool_owner_who(owner, 0, who, sizeof(who)),
	    spool_owner_who(c->uid, 1, me, sizeof(me)),
	    privs_uid_name(c->uid, uname, sizeof(uname)),
	    privs_gid_name(c->gid, gname, sizeof(gname)), c->path,
	    fixrel[0] != '\0' ? "/" : "", fixrel);
	return EX_NOPERM;
}

/* Check one name below the spool (missing is fine); fixrel as above;
 * with rootonly, only an owner of uid 0 is refused. */
static int
spool_owner_one(struct spool_owner_ctx *c, const char *rel, const char *fixrel,
    int rootonly)
{
	struct stat st;

	if (fstatat(c->dirfd, rel, &st, AT_SYMLINK_NOFOLLOW) < 0) {
		if (errno == ENOENT || (rootonly && (errno == ENOTDIR || errno == ELOOP)))
			return EX_OK;
		snprintf(c->err, c->errlen, "spool %s: %s: %s", c->path, rel,
		    strerror(errno));
		return EX_NOPERM;
	}
	if (st.st_uid != c->uid && (!rootonly || st.st_uid == 0))
		return spool_owner_refuse(c, rel, st.st_uid, fixrel);
	return EX_OK;
}

/* 1 when name starts with one of the prefixes (NULL-terminated list). */
static int
spool_owner_foreign(const char *name, const char *const *prefixes)
{
	for (; prefixes != NULL && *prefixes != NULL; prefixes++)
		if (strncmp(name, *prefixes, strlen(*prefixes)) == 0)
			return 1;
	return 0;
}

/* Check every entry of the directory rel, but those named in foreign. */
static int
spool_owner_files(struct spool_owner_ctx *c, const char *rel,
    const char *const *foreign)
{
	char entry[PATH_MAX];
	struct dirent *de;
	DIR *d;
	int fd, rc = EX_OK;

	fd = openat(c->dirfd, rel, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return EX_OK;	/* missing, or not a directory: the daemon says so */
	if ((d = fdopendir(fd)) == NULL) {
		(void)close(fd);
		snprintf(c->err, c->errlen, "spool %s: %s: %s", c->path, rel, strerror(errno));
		return EX_NOPERM;
	}
	while (rc == EX_OK && (de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0 ||
		    spool_owner_foreign(de->d_name, foreign))
			continue;
		snprintf(entry, sizeof(entry), "%s/%s", rel, de->d_name);
		rc = spool_owner_one(c, entry, rel, 0);
	}
	closedir(d);
	return rc;
}

/* 1 when rel is one of the list (NULL-terminated). */
static int
spool_owner_listed(const char *rel, const char *const *list)
{
	for (; list != NULL && *list != NULL; list++)
		if (strcmp(rel, *list) == 0)
			return 1;
	return 0;
}

/* The spool directory itself; *opened 0 when it does not exist. */
static int
spool_owner_top(struct spool_owner_ctx *c, int *opened)
{
	struct stat st;

	*opened = 0;
	c->dirfd = open(c->path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (c->dirfd < 0 && errno == ENOENT)
		return EX_OK;	/* created by spool_open */
	if (c->dirfd < 0) {
		if (stat(c->path, &st) == 0 && st.st_uid != c->uid)
			return spool_owner_refuse(c, "", st.st_uid, "");
		snprintf(c->err, c->errlen, "spool %s: open: %s", c->path, strerror(errno));
		return errno == ENOTDIR ? EX_CONFIG : EX_NOPERM;
	}
	*opened = 1;
	if (fstat(c->dirfd, &st) < 0) {
		snprintf(c->err, c->errlen, "spool %s: fstat: %s", c->path, strerror(errno));
		return EX_NOPERM;
	}
	return st.st_uid == c->uid ? EX_OK : spool_owner_refuse(c, "", st.st_uid, "");
}

/* Refuse a spool holding something of another user (see spool.h). */
int
spool_check_owner(const char *path, uid_t uid, gid_t gid,
    const struct spool_owned *owned, char *err, size_t errlen)
{
	static const char *const top[] = { ".smtpgate", ".lock", "tmp", NULL };
	struct spool_owner_ctx c = { path, -1, uid, gid, err, errlen };
	const char *const *dirs = owned != NULL ? owned->dirs : NULL;
	const char *const *filedirs = owned != NULL ? owned->filedirs : NULL;
	const char *const *shared = owned != NULL ? owned->shared : NULL;
	int opened, rc;

	rc = spool_owner_top(&c, &opened);
	for (size_t i = 0; rc == EX_OK && opened && top[i] != NULL; i++)
		rc = spool_owner_one(&c, top[i], top[i][0] == '.' ? top[i] : "tmp", 0);
	if (rc == EX_OK && opened)
		rc = spool_owner_files(&c, "tmp", owned != NULL ? owned->foreign : NULL);
	for (; rc == EX_OK && opened && dirs != NULL && *dirs != NULL; dirs++) {
		rc = spool_owner_one(&c, *dirs, *dirs, 0);
		if (rc == EX_OK && spool_owner_listed(*dirs, filedirs))
			rc = spool_owner_files(&c, *dirs, NULL);
	}
	for (; rc == EX_OK && opened && shared != NULL && *shared != NULL; shared++)
		rc = spool_owner_one(&c, *shared, *shared, 1);
	if (c.dirfd >= 0)
		(void)close(c.dirfd);
	return rc;
}
