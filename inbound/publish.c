/*
 * publish: files into Maildirs after the commit log made them durable
 * (see publish.h).  Worker threads and the checkpoint thread call it;
 * the only shared field is link_only (atomic).
 *
 * Must not know about SMTP, sessions, the commit log's files or threads.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "publish.h"
#include "util.h"

#define CMP_PIECE (64 * 1024)
#define DIR_FLAGS (O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)

/* Publish by link and unlink; 0 or -1 with errno. */
static int
link_unlink(struct publisher *p, const char *name, int newfd)
{
	if (linkat(p->tmpfd, name, newfd, name, 0) == -1)
		return -1;
	if (unlinkat(p->tmpfd, name, 0) == -1 && errno != ENOENT)
		log_warn("delivery: unlink %s/tmp/%s", p->spool, name);
	return 0;
}

/* tmp/name into new/ without replacing. */
int
publish_rename(struct publisher *p, const char *name, int newfd)
{
	int rc;

	if (atomic_load(&p->link_only))
		return link_unlink(p, name, newfd);
	rc = renameat2(p->tmpfd, name, newfd, name, RENAME_NOREPLACE);
	if (rc == -1 && errno == EINVAL) {
		if (!atomic_exchange(&p->link_only, true))
			log_warnx("delivery: %s: rename without replacing is not "
			    "supported here; publishing by link and unlink", p->spool);
		rc = link_unlink(p, name, newfd);
	}
	return rc;
}

/* Write tmp/name and publish it. */
int
publish_file(struct publisher *p, int newfd, const char *name,
    const struct fsutil_new *data, char *err, size_t errlen)
{
	int e;

	if (fsutil_write_new(p->tmpfd, name, &(struct fsutil_new){ data->iov, data->iovcnt,
	    false, data->perm }, err, errlen) == -1)
		return -1;
	if (publish_rename(p, name, newfd) == 0)
		return 0;
	e = errno;
	snprintf(err, errlen, "new/%s: publish: %s", name, strerror(e));
	unlinkat(p->tmpfd, name, 0);
	errno = e;
	return -1;
}

/* Where a record's file is now: its directory (new/ or cur/) and name. */
struct found {
	int dirfd;		/* -1: nowhere */
	char name[512];
	off_t size;
};

/* Look for cur/<name> or cur/<name>:<flags>. */
static void
find_in_cur(int curfd, const char *name, struct found *f)
{
	int fd = dup(curfd);
	DIR *dir = fd == -1 ? NULL : fdopendir(fd);
	struct dirent *de;
	size_t len = strlen(name);
	struct stat st;

	if (dir == NULL) {
		if (fd != -1)
			close(fd);
		return;
	}
	while ((de = readdir(dir)) != NULL) {
		if (strncmp(de->d_name, name, len) != 0 ||
		    (de->d_name[len] != '\0' && de->d_name[len] != ':'))
			continue;
		if (fstatat(curfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
		    S_ISREG(st.st_mode)) {
			f->dirfd = curfd;
			util_strlcpy(f->name, de->d_name, sizeof(f->name));
			f->size = st.st_size;
			break;
		}
	}
	closedir(dir);
}

/* Does dirfd/name hold exactly msg[0..len)?  (Its size was checked.) */
static bool
same_bytes(int dirfd, const char *name, const char *msg, size_t len)
{
	int fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	char *buf;
	size_t off = 0;
	bool same = fd >= 0;

	if (fd < 0)
		return false;
	buf = xmalloc(CMP_PIECE);
	while (same && off < len) {
		ssize_t n = read(fd, buf, len - off < CMP_PIECE ? len - off : CMP_PIECE);

		if (n < 0 && errno == EINTR)
			continue;
		same = n > 0 && memcmp(buf, msg + off, (size_t)n) == 0;
		off += n > 0 ? (size_t)n : 0;
	}
	free(buf);
	close(fd);
	return same;
}

/* Length and CRC32 of dirfd/name; 0, or -1 when it cannot be read. */
static int
file_crc(int dirfd, const char *name, uint64_t *len, uint32_t *crc)
{
	int fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	char *buf;
	ssize_t n;

	if (fd < 0)
		return -1;
	buf = xmalloc(CMP_PIECE);
	*len = 0;
	*crc = 0;
	while ((n = read(fd, buf, CMP_PIECE)) > 0 || (n < 0 && errno == EINTR)) {
		if (n < 0)
			continue;
		*crc = clog_crc(*crc, buf, (size_t)n);
		*len += (uint64_t)n;
	}
	free(buf);
	close(fd);
	return n < 0 ? -1 : 0;
}

/* Does the found file hold the record's bytes? */
static bool
found_same(const struct found *f, const struct clog_rec *r)
{
	uint64_t len;
	uint32_t crc;

	if ((uint64_t)f->size != r->msg_len)
		return false;
	if (r->kind == CLOG_INLINE)
		return same_bytes(f->dirfd, f->name, r->msg, (size_t)r->msg_len);
	return file_crc(f->dirfd, f->name, &len, &crc) == 0 && len == r->msg_len &&
	    crc == r->msg_crc;
}

/* Put tmp/name in place: over the found file, or new into new/. */
static int
put_in_place(struct publisher *p, const char *name, int newfd, const struct found *f)
{
	if (f->dirfd >= 0)
		return renameat(p->tmpfd, name, f->dirfd, f->name);
	return publish_rename(p, name, newfd);
}

/* The message of an inline record into tmp/name; 0 or -1 (logged). */
static int
write_tmp(struct publisher *p, const char *box, const char *name, const struct clog_rec *r,
    const struct fsutil_perm *perm)
{
	struct iovec iov = { (void *)r->msg, (size_t)r->msg_len };
	char err[512];

	if (unlinkat(p->tmpfd, name, 0) == -1 && errno != ENOENT)
		log_warn("delivery: recovery: unlink %s/tmp/%s", p->spool, name);
	if (fsutil_write_new(p->tmpfd, name, &(struct fsutil_new){ &iov, 1, false, perm }, err,
	    sizeof(err)) == 0)
		return 0;
	log_warnx("delivery: recovery: mailbox %s: %s", box, err);
	return -1;
}

/* The source of a by-reference record: tmp/<name> whole and right? */
static bool
ref_ok(struct publisher *p, const char *name, const struct clog_rec *r)
{
	uint64_t len;
	uint32_t crc;

	return file_crc(p->tmpfd, name, &len, &crc) == 0 && len == r->msg_len &&
	    crc == r->msg_crc;
}

/* Where a record goes: its mailbox, its file name, the mailbox's new/. */
struct place {
	const char *box;
	const char *name;
	int newfd;
};

/* Apply the decision for r; 0 or -1 (logged). */
static int
replay_apply(struct publisher *p, const struct clog_rec *r, const struct place *at,
    const struct found *f, bool force, const struct fsutil_perm *perm)
{
	const char *box = at->box, *name = at->name;
	int newfd = at->newfd;

	bool same = f->dirfd >= 0 && found_same(f, r);
	enum clog_action a = clog_decide(f->dirfd >= 0, (uint64_t)f->size, same, r->msg_len);

	if (a == CLOG_KEEP && !(force && r->kind == CLOG_INLINE))
		return 0;
	if (r->kind == CLOG_REF) {
		if (!ref_ok(p, name, r)) {
			/* its file was synced before its record and only ever
			 * renamed: gone from new/, cur/ and tmp/ means a reader
			 * took it (the bytes are not in the log to bring back) */
			if (f->dirfd < 0)
				log_info("delivery: recovery mailbox=%s file=%s action=none "
				    "(by reference, removed by a reader)", box, name);
			else
				log_warnx("delivery: recovery: mailbox %s: %s differs from its "
				    "record and tmp/%s is gone; kept as it is", box, f->name, name);
			return 0;
		}
	} else if (write_tmp(p, box, name, r, perm) == -1)
		return -1;
	if (put_in_place(p, name, newfd, f) == -1) {
		log_warn("delivery: recovery: mailbox %s: %s%s", box,
		    f->dirfd >= 0 ? "" : "new/", f->dirfd >= 0 ? f->name : name);
		unlinkat(p->tmpfd, name, 0);
		return -1;
	}
	log_info("delivery: recovery mailbox=%s file=%s action=%s", box, name,
	    a == CLOG_PUBLISH ? "published" : "replaced");
	return 0;
}

/* Recover one record (see publish.h). */
int
publish_replay(struct publisher *p, const struct clog_rec *r, bool force,
    const struct fsutil_perm *perm)
{
	char box[CLOG_NAME_MAX + 1], name[CLOG_NAME_MAX + 1];
	int mbfd, newfd = -1, curfd = -1, rc = -1;
	struct found f = { .dirfd = -1 };
	struct stat st;

	memcpy(box, r->mailbox, r->mailbox_len);
	box[r->mailbox_len] = '\0';
	memcpy(name, r->name, r->name_len);
	name[r->name_len] = '\0';
	if ((mbfd = openat(p->rootfd, box, DIR_FLAGS)) >= 0) {
		newfd = openat(mbfd, "new", DIR_FLAGS);
		curfd = openat(mbfd, "cur", DIR_FLAGS);
		close(mbfd);
	}
	if (newfd < 0) {
		log_warn("delivery: recovery: mailbox %s: new/ (%s kept in the log)", box, name);
		goto out;
	}
	if (fstatat(newfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode)) {
		f.dirfd = newfd;
		util_strlcpy(f.name, name, sizeof(f.name));
		f.size = st.st_size;
	} else if (curfd >= 0)
		find_in_cur(curfd, name, &f);
	rc = replay_apply(p, r, &(struct place){ box, name, newfd }, &f, force, perm);
out:
	if (newfd >= 0)
		close(newfd);
	if (curfd >= 0)
		close(curfd);
	return rc;
}
