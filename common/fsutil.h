/*
 * fsutil: durable file operations, every step checked.
 *
 * The pattern (STYLE.md habit 8): create with O_CREAT|O_EXCL|O_CLOEXEC in a
 * tmp directory, write everything, fsync, close (checked), then link or
 * rename into place and fsync the destination directory.  On failure every
 * helper removes what it created and reports errno with the path.
 * Maildir names live here too because both sides write uniquely named
 * files (inbound: Maildir new/, outbound: pickup/ via smtpgate-sendmail).
 */
#ifndef SMTPGATE_FSUTIL_H
#define SMTPGATE_FSUTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include <sys/uio.h>

#define FSUTIL_IOV_MAX 16	/* most iovecs fsutil_write_new takes */

/* The mode and group a new file gets. */
struct fsutil_perm {
	mode_t mode;		/* e.g. 0640 */
	gid_t gid;		/* (gid_t)-1: the creator's (or the directory's) */
	bool fix_mode;		/* fchmod too: the umask would take bits of mode */
};

/* What a new file holds and how it is made (fsutil_write_new()). */
struct fsutil_new {
	const struct iovec *iov;	/* at most FSUTIL_IOV_MAX */
	int iovcnt;
	bool sync;			/* fsync before the close */
	const struct fsutil_perm *perm;	/* NULL: mode 0640, the creator's group */
};

/*
 * Create dirfd/name exclusively, write f->iov, fsync when f->sync, close.
 * With f->perm the group is set with fchown(2) (the caller must be a
 * member), the mode with fchmod(2) when perm->fix_mode, both through the
 * descriptor before anything is written.
 * 0 on success; -1 with errno preserved and "path: what: strerror" in err,
 * and the partial file unlinked.
 */
/* Write all of iov (at most FSUTIL_IOV_MAX entries) to fd in as few
 * writev(2) calls as the kernel allows, resuming after short writes and
 * EINTR; 0, or -1 with errno. */
int fsutil_writev_all(int fd, const struct iovec *iov, int iovcnt);

/* The same for one buffer. */
int fsutil_write_all(int fd, const void *buf, size_t len);

int fsutil_write_new(int dirfd, const char *name, const struct fsutil_new *f,
    char *err, size_t errlen);

/* Where fsutil_write_atomic() writes: the file is made in tmpdirfd and
 * renamed into dstdirfd, which is fsynced after when sync. */
struct fsutil_atomic {
	int tmpdirfd;
	int dstdirfd;
	bool sync;
};

/*
 * The whole atomic replace: write a->tmpdirfd/<unique> (always fsynced, so
 * a crash leaves the old or the new content, never a torn file), rename it
 * to a->dstdirfd/name, fsync a->dstdirfd when a->sync (otherwise the caller
 * makes the rename durable, e.g. with one directory fsync for many files).
 * Replaces an existing name.
 */
int fsutil_write_atomic(const struct fsutil_atomic *a, const char *name,
    const void *buf, size_t len, char *err, size_t errlen);

/* fsync a directory fd / path; -1 with err filled. */
int fsutil_fsync_dirfd(int dirfd, const char *label, char *err, size_t errlen);
int fsutil_fsync_path(const char *path, char *err, size_t errlen);

/* mkdir -p with mode; 0 if it exists already as a directory. */
int fsutil_mkdir_p(const char *path, mode_t mode, char *err, size_t errlen);

/* What fsutil_dir_at did. */
enum fsutil_dir_done {
	FSUTIL_DIR_KEPT,	/* there already, mode and group right */
	FSUTIL_DIR_CREATED,
	FSUTIL_DIR_FIXED,	/* there already; mode or group changed */
};

/*
 * Open the directory parentfd/name without following a symlink
 * (O_DIRECTORY|O_NOFOLLOW), making it first when it is missing, and give
 * it exactly perm->mode (07777 bits) and group perm->gid ((gid_t)-1: leave
 * it; perm->fix_mode is not used: the mode is always made exact) with
 * fchown and fchmod through that descriptor, never by path.  A
 * directory it makes is fsynced with its parent.  Returns the directory's
 * descriptor (the caller closes it) and *done; -1 with errno (ENOTDIR: a
 * symlink or something else stands there) and "path: step: reason" in err.
 */
int fsutil_dir_at(int parentfd, const char *name, const struct fsutil_perm *perm,
    enum fsutil_dir_done *done, char *err, size_t errlen);

/* How many directories fsutil_maildir_at() made and changed. */
struct fsutil_dir_count {
	unsigned created;
	unsigned fixed;
};

/*
 * The Maildir parentfd/name and its tmp/ new/ cur/, each by fsutil_dir_at
 * with perm.  count (when not NULL) grows by the directories made and
 * changed.  0, or -1 with errno and err.
 */
int fsutil_maildir_at(int parentfd, const char *name, const struct fsutil_perm *perm,
    struct fsutil_dir_count *count, char *err, size_t errlen);

/*
 * A unique Maildir file name "<sec>.M<usec>P<pid>Q<n>.<host>,S=<size>"
 * (host with '/' and ':' escaped as Maildir asks).  Thread-safe.
 * Returns the length written (truncation is a bug: bufsz >= 256 suffices).
 */
size_t fsutil_maildir_name(char *buf, size_t bufsz, const char *host, size_t size);

/*
 * The one whole-file reader: fd read from where it stands to its end into
 * a NUL-terminated malloc'd buffer (hint: the expected size, e.g. from
 * fstat, sizes the first allocation; 0 when unknown), *lenp its length.
 * NULL with errno on a read error, EFBIG when there are more than maxlen
 * bytes.  fd is left open.
 */
char *fsutil_read_fd(int fd, size_t hint, size_t maxlen, size_t *lenp);

/*
 * pread() len bytes at off, again after EINTR and short reads, until len
 * or the end of the file: the bytes read (fewer at the end), or -1 with
 * errno.
 */
ssize_t fsutil_pread_full(int fd, void *buf, size_t len, off_t off);

/*
 * The one way to open a folder of a spool: name below dirfd as a
 * directory, never through a symlink, close-on-exec; flags O_RDONLY (to
 * list it or fsync it) or O_PATH (only to work relative to it).  The fd,
 * or -1 with errno kept and err "dirpath/name: strerror(errno)".
 */
int fsutil_open_dir(int dirfd, const char *dirpath, const char *name, int flags,
    char *err, size_t errlen);

/*
 * The entries of the folder dirfd/name (name "." for dirfd itself, read
 * through a descriptor of its own) that are not dot files and do not end
 * in skip (NULL: none); -1 with errno (ENOENT: no such folder).
 */
long fsutil_count_dir(int dirfd, const char *name, const char *skip);

/*
 * A whole small file dirfd/name (not through a symlink, <= maxlen) read
 * into a NUL-terminated malloc'd buffer (fsutil_read_fd); NULL with errno
 * and err naming the file.
 */
char *fsutil_read_file(int dirfd, const char *name, size_t maxlen, size_t *lenp,
    char *err, size_t errlen);

#endif
