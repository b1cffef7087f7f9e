/*
 * fsutil: durable file operations with every step checked (STYLE.md habit
 * 8): exclusive create, full write, fsync, checked close, rename, fsync of
 * the directory.  On failure the helper removes what it created, keeps
 * errno for the caller (ENOSPC/EDQUOT become 452 upstream) and writes
 * "path: step: strerror" into err.
 *
 * It knows nothing about spools, roles, queues or SMTP; callers pass
 * directory fds and names.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include "fsutil.h"
#include "util.h"

#define FSUTIL_FILE_MODE 0640

static atomic_uint_fast64_t fsutil_counter;

/* Best-effort path of dirfd/name for messages (via /proc/self/fd). */
static const char *
fsutil_label(int dirfd, const char *name, char *buf, size_t bufsz)
{
	char link[64], dir[PATH_MAX];
	ssize_t n;

	if (dirfd == AT_FDCWD || (name != NULL && name[0] == '/')) {
		snprintf(buf, bufsz, "%s", name != NULL ? name : ".");
		return buf;
	}
	snprintf(link, sizeof(link), "/proc/self/fd/%d", dirfd);
	n = readlink(link, dir, sizeof(dir) - 1);
	if (n < 0)
		snprintf(dir, sizeof(dir), "<fd %d>", dirfd);
	else
		dir[n] = '\0';
	if (name == NULL)
		snprintf(buf, bufsz, "%s", dir);
	else
		snprintf(buf, bufsz, "%s/%s", dir, name);
	return buf;
}

/* Fill err with "dirfd/name: step: strerror(errno)", keeping errno. */
static void
fsutil_err(int dirfd, const char *name, const char *step, char *err,
    size_t errlen)
{
	int saved = errno;
	char path[PATH_MAX + 64];

	if (err != NULL && errlen > 0)
		snprintf(err, errlen, "%s: %s: %s",
		    fsutil_label(dirfd, name, path, sizeof(path)), step,
		    strerror(saved));
	errno = saved;
}

/* Write all of iov to fd (see fsutil.h). */
int
fsutil_writev_all(int fd, const struct iovec *iov, int iovcnt)
{
	struct iovec v[FSUTIL_IOV_MAX];
	int n = 0;

	if (iovcnt > FSUTIL_IOV_MAX) {
		errno = EINVAL;
		return -1;
	}
	for (int i = 0; i < iovcnt; i++)
		if (iov[i].iov_len > 0)
			v[n++] = iov[i];
	for (int first = 0; first < n;) {
		ssize_t w = writev(fd, v + first, n - first);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -1;
		while (first < n && (size_t)w >= v[first].iov_len)
			w -= (ssize_t)v[first++].iov_len;
		if (first < n) {
			v[first].iov_base = (char *)v[first].iov_base + w;
			v[first].iov_len -= (size_t)w;
		}
	}
	return 0;
}

/* Undo a failed create: close fd (if open) and unlink, keeping errno. */
static void
fsutil_undo(int fd, int dirfd, const char *name)
{
	int saved = errno;

	if (fd >= 0)
		(void)close(fd);
	(void)unlinkat(dirfd, name, 0);
	errno = saved;
}

/* Give the new file fd its group and mode (see struct fsutil_perm). */
static int
fsutil_set_perm(int fd, int dirfd, const char *name, const struct fsutil_perm *perm,
    char *err, size_t errlen)
{
	if (perm->gid != (gid_t)-1 && fchown(fd, (uid_t)-1, perm->gid) < 0) {
		fsutil_err(dirfd, name, "fchown", err, errlen);
		return -1;
	}
	if (perm->fix_mode && fchmod(fd, perm->mode) < 0) {
		fsutil_err(dirfd, name, "fchmod", err, errlen);
		return -1;
	}
	return 0;
}

/* Write all of buf to fd (see fsutil.h). */
int
fsutil_write_all(int fd, const void *buf, size_t len)
{
	struct iovec iov = { (void *)buf, len };

	return fsutil_writev_all(fd, &iov, 1);
}

/* Create dirfd/name exclusively and write f->iov into it (see fsutil.h). */
int
fsutil_write_new(int dirfd, const char *name, const struct fsutil_new *f,
    char *err, size_t errlen)
{
	static const struct fsutil_perm default_perm = { FSUTIL_FILE_MODE, (gid_t)-1, false };
	const struct fsutil_perm *perm = f->perm != NULL ? f->perm : &default_perm;
	int fd;

	fd = openat(dirfd, name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC |
	    O_NOFOLLOW, perm->mode);
	if (fd < 0) {
		/* Nothing of ours to remove: O_EXCL may have met another file. */
		fsutil_err(dirfd, name, "open", err, errlen);
		return -1;
	}
	if (fsutil_set_perm(fd, dirfd, name, perm, err, errlen) < 0) {
		fsutil_undo(fd, dirfd, name);
		return -1;
	}
	if (fsutil_writev_all(fd, f->iov, f->iovcnt) < 0) {
		fsutil_err(dirfd, name, "write", err, errlen);
		fsutil_undo(fd, dirfd, name);
		return -1;
	}
	if (f->sync && fsync(fd) < 0) {
		fsutil_err(dirfd, name, "fsync", err, errlen);
		fsutil_undo(fd, dirfd, name);
		return -1;
	}
	if (close(fd) < 0) {
		fsutil_err(dirfd, name, "close", err, errlen);
		fsutil_undo(-1, dirfd, name);
		return -1;
	}
	return 0;
}

/* Write a temporary file and rename it over dstdirfd/name (see fsutil.h). */
int
fsutil_write_atomic(const struct fsutil_atomic *a, const char *name,
    const void *buf, size_t len, char *err, size_t errlen)
{
	int tmpdirfd = a->tmpdirfd, dstdirfd = a->dstdirfd;
	char tmpname[NAME_MAX + 1];
	struct iovec iov;
	int n;

	n = snprintf(tmpname, sizeof(tmpname), ".%ld.%ju.%s.tmp", util_pid(),
	    (uintmax_t)atomic_fetch_add(&fsutil_counter, 1), name);
	if (n < 0 || (size_t)n >= sizeof(tmpname)) {
		errno = ENAMETOOLONG;
		fsutil_err(dstdirfd, name, "temporary name", err, errlen);
		return -1;
	}
	iov.iov_base = (void *)(uintptr_t)buf;
	iov.iov_len = len;
	/* always synced: a rename that reaches the disk before the data
	 * would replace a good file with a torn one */
	if (fsutil_write_new(tmpdirfd, tmpname, &(struct fsutil_new){ &iov, 1, true, NULL },
	    err, errlen) < 0)
		return -1;
	if (renameat(tmpdirfd, tmpname, dstdirfd, name) < 0) {
		fsutil_err(dstdirfd, name, "rename", err, errlen);
		fsutil_undo(-1, tmpdirfd, tmpname);
		return -1;
	}
	if (a->sync)
		return fsutil_fsync_dirfd(dstdirfd, NULL, err, errlen);
	return 0;
}

/* fsync an open directory; label names it in err (else found via /proc). */
int
fsutil_fsync_dirfd(int dirfd, const char *label, char *err, size_t errlen)
{
	if (fsync(dirfd) == 0)
		return 0;
	if (label != NULL)
		fsutil_err(AT_FDCWD, label, "fsync", err, errlen);
	else
		fsutil_err(dirfd, NULL, "fsync", err, errlen);
	return -1;
}

/* Open path read-only, fsync it, close it. */
int
fsutil_fsync_path(const char *path, char *err, size_t errlen)
{
	int fd, rc;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		fsutil_err(AT_FDCWD, path, "open", err, errlen);
		return -1;
	}
	rc = fsutil_fsync_dirfd(fd, path, err, errlen);
	if (rc < 0) {
		int saved = errno;

		(void)close(fd);
		errno = saved;
		return -1;
	}
	if (close(fd) < 0) {
		fsutil_err(AT_FDCWD, path, "close", err, errlen);
		return -1;
	}
	return 0;
}

/* mkdir one directory; an existing directory is fine. */
static int
fsutil_mkdir_one(const char *path, mode_t mode, char *err, size_t errlen)
{
	struct stat st;

	if (mkdir(path, mode) == 0)
		return 0;
	if (errno != EEXIST) {
		fsutil_err(AT_FDCWD, path, "mkdir", err, errlen);
		return -1;
	}
	if (stat(path, &st) < 0) {
		fsutil_err(AT_FDCWD, path, "stat", err, errlen);
		return -1;
	}
	if (!S_ISDIR(st.st_mode)) {
		errno = ENOTDIR;
		fsutil_err(AT_FDCWD, path, "mkdir", err, errlen);
		return -1;
	}
	return 0;
}

/* Create path and its missing parents with mode. */
int
fsutil_mkdir_p(const char *path, mode_t mode, char *err, size_t errlen)
{
	char buf[PATH_MAX];
	size_t len = strlen(path), i;

	if (len == 0 || len >= sizeof(buf)) {
		errno = len == 0 ? ENOENT : ENAMETOOLONG;
		fsutil_err(AT_FDCWD, path, "mkdir", err, errlen);
		return -1;
	}
	memcpy(buf, path, len + 1);
	for (i = 1; i < len; i++) {
		if (buf[i] != '/' || buf[i - 1] == '/')
			continue;
		buf[i] = '\0';
		if (fsutil_mkdir_one(buf, mode, err, errlen) < 0)
			return -1;
		buf[i] = '/';
	}
	return fsutil_mkdir_one(buf, mode, err, errlen);
}

/* Make parentfd/name (mode before the umask) and fsync parentfd; 1 when
 * made, 0 when it was there, -1 with err. */
static int
fsutil_mkdirat_synced(int parentfd, const char *name, mode_t mode, char *err,
    size_t errlen)
{
	if (mkdirat(parentfd, name, mode & 0777) < 0) {
		if (errno == EEXIST)
			return 0;
		fsutil_err(parentfd, name, "mkdir", err, errlen);
		return -1;
	}
	if (fsync(parentfd) < 0) {
		fsutil_err(parentfd, NULL, "fsync", err, errlen);
		return -1;
	}
	return 1;
}

/* Open parentfd/name as a directory, never through a symlink. */
static int
fsutil_open_dir_nofollow(int parentfd, const char *name, char *err, size_t errlen)
{
	int fd = openat(parentfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

	if (fd < 0) {
		if (errno == ELOOP)
			errno = ENOTDIR;
		fsutil_err(parentfd, name, errno == ENOTDIR ?
		    "open (not a directory, or a symlink: not followed)" : "open", err, errlen);
	}
	return fd;
}

/* Open, make if missing, and set mode and group of a directory (fsutil.h). */
int
fsutil_dir_at(int parentfd, const char *name, const struct fsutil_perm *perm,
    enum fsutil_dir_done *done, char *err, size_t errlen)
{
	mode_t mode = perm->mode;
	gid_t gid = perm->gid;
	struct stat st;
	int made, fd;

	if ((made = fsutil_mkdirat_synced(parentfd, name, mode, err, errlen)) < 0)
		return -1;
	if ((fd = fsutil_open_dir_nofollow(parentfd, name, err, errlen)) < 0)
		return -1;
	*done = made ? FSUTIL_DIR_CREATED : FSUTIL_DIR_KEPT;
	if (fstat(fd, &st) < 0) {
		fsutil_err(parentfd, name, "fstat", err, errlen);
		goto fail;
	}
	/* the group first: a chown may clear set-group-id, so the mode is
	 * set again after one (and a new directory's mode lost bits to the
	 * umask) */
	bool chown_it = gid != (gid_t)-1 && st.st_gid != gid;
	if (chown_it && fchown(fd, (uid_t)-1, gid) < 0) {
		fsutil_err(parentfd, name, "fchown", err, errlen);
		goto fail;
	}
	if (chown_it && !made)
		*done = FSUTIL_DIR_FIXED;
	if (chown_it || (st.st_mode & 07777) != mode) {
		if (fchmod(fd, mode) < 0) {
			fsutil_err(parentfd, name, "fchmod", err, errlen);
			goto fail;
		}
		if (!made)
			*done = FSUTIL_DIR_FIXED;
	}
	return fd;
fail:
	(void)close(fd);
	return -1;
}

/* Count what fsutil_dir_at did. */
static void
fsutil_count_done(enum fsutil_dir_done done, struct fsutil_dir_count *count)
{
	if (done == FSUTIL_DIR_CREATED && count != NULL)
		count->created++;
	if (done == FSUTIL_DIR_FIXED && count != NULL)
		count->fixed++;
}

/* Make or fix the Maildir parentfd/name/{tmp,new,cur} (see fsutil.h). */
int
fsutil_maildir_at(int parentfd, const char *name, const struct fsutil_perm *perm,
    struct fsutil_dir_count *count, char *err, size_t errlen)
{
	static const char *const subs[] = { "tmp", "new", "cur" };
	enum fsutil_dir_done done;
	int fd, subfd;

	if ((fd = fsutil_dir_at(parentfd, name, perm, &done, err, errlen)) < 0)
		return -1;
	fsutil_count_done(done, count);
	for (size_t i = 0; i < sizeof(subs) / sizeof(subs[0]); i++) {
		subfd = fsutil_dir_at(fd, subs[i], perm, &done, err, errlen);
		if (subfd < 0) {
			int saved = errno;

			(void)close(fd);
			errno = saved;
			return -1;
		}
		(void)close(subfd);
		fsutil_count_done(done, count);
	}
	return close(fd);
}

/* Copy host into out with '/' and ':' escaped as \057 and \072. */
static void
fsutil_maildir_host(const char *host, char *out, size_t outsz)
{
	size_t o = 0;

	for (; *host != '\0' && o + 5 < outsz; host++) {
		if (*host == '/' || *host == ':') {
			snprintf(out + o, outsz - o, "\\%03o", (unsigned char)*host);
			o += 4;
		} else {
			out[o++] = *host;
		}
	}
	out[o] = '\0';
}

/* A unique Maildir name (see fsutil.h); thread-safe via an atomic counter. */
size_t
fsutil_maildir_name(char *buf, size_t bufsz, const char *host, size_t size)
{
	char esc[128];
	struct timeval tv;
	uint_fast64_t q = atomic_fetch_add(&fsutil_counter, 1);
	int n;

	if (host == NULL)
		host = util_hostname();
	fsutil_maildir_host(host, esc, sizeof(esc));
	gettimeofday(&tv, NULL);
	n = snprintf(buf, bufsz, "%lld.M%ldP%ldQ%ju.%s,S=%zu",
	    (long long)tv.tv_sec, (long)tv.tv_usec, util_pid(),
	    (uintmax_t)q, esc, size);
	if (n < 0)
		return 0;
	return (size_t)n < bufsz ? (size_t)n : bufsz - 1;
}

/* Read fd from where it stands to its end (see fsutil.h). */
char *
fsutil_read_fd(int fd, size_t hint, size_t maxlen, size_t *lenp)
{
	size_t cap = hint < 4096 ? 4096 : hint, len = 0;
	char *buf;

	if (cap > maxlen)
		cap = maxlen;
	cap += 2;		/* a file of hint bytes fits, its EOF seen at once */
	buf = xmalloc(cap);
	for (;;) {
		ssize_t n;

		if (len + 1 >= cap) {
			cap *= 2;
			buf = xrealloc(buf, cap);
		}
		n = read(fd, buf + len, cap - len - 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			free(buf);
			return NULL;
		}
		if (n == 0)
			break;
		len += (size_t)n;
		if (len > maxlen) {
			free(buf);
			errno = EFBIG;
			return NULL;
		}
	}
	buf[len] = '\0';
	*lenp = len;
	return buf;
}

/* pread until len bytes or the end of the file (see fsutil.h). */
ssize_t
fsutil_pread_full(int fd, void *buf, size_t len, off_t off)
{
	size_t got = 0;
	ssize_t n;

	while (got < len && (n = pread(fd, (char *)buf + got, len - got,
	    off + (off_t)got)) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		got += (size_t)n;
	}
	return (ssize_t)got;
}

/* Entries of dirfd/name that are no dot files and do not end in skip
 * (see fsutil.h). */
long
fsutil_count_dir(int dirfd, const char *name, const char *skip)
{
	size_t sl = skip != NULL ? strlen(skip) : 0, len;
	int fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	struct dirent *de;
	long n = 0;
	DIR *d;

	if (fd < 0)
		return -1;
	if ((d = fdopendir(fd)) == NULL) {
		int e = errno;

		(void)close(fd);
		errno = e;
		return -1;
	}
	while ((de = readdir(d)) != NULL) {
		len = strlen(de->d_name);
		if (de->d_name[0] != '.' &&
		    !(sl > 0 && len >= sl && strcmp(de->d_name + len - sl, skip) == 0))
			n++;
	}
	(void)closedir(d);
	return n;
}

/* Open a directory below dirfd, never through a symlink (see fsutil.h). */
int
fsutil_open_dir(int dirfd, const char *dirpath, const char *name, int flags,
    char *err, size_t errlen)
{
	int fd = openat(dirfd, name, flags | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

	if (fd < 0) {
		int e = errno;

		snprintf(err, errlen, "%s/%s: %s", dirpath, name, strerror(e));
		errno = e;
	}
	return fd;
}

/* Read a whole small file into a NUL-terminated malloc'd buffer. */
char *
fsutil_read_file(int dirfd, const char *name, size_t maxlen, size_t *lenp,
    char *err, size_t errlen)
{
	size_t len = 0;
	char *buf;
	int fd;

	fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0) {
		fsutil_err(dirfd, name, "open", err, errlen);
		return NULL;
	}
	buf = fsutil_read_fd(fd, 0, maxlen, &len);
	if (buf == NULL) {
		int saved;

		fsutil_err(dirfd, name, "read", err, errlen);
		saved = errno;
		(void)close(fd);
		errno = saved;
		return NULL;
	}
	(void)close(fd);
	if (lenp != NULL)
		*lenp = len;
	return buf;
}
