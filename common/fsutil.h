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

/*
 * Create dirfd/name exclusively, write iov (at most FSUTIL_IOV_MAX), fsync
 * when `sync`, close.
 * 0 on success; -1 with errno preserved and "path: what: strerror" in err,
 * and the partial file unlinked.
 */
int fsutil_write_new(int dirfd, const char *name, const struct iovec *iov,
    int iovcnt, bool sync, char *err, size_t errlen);

/*
 * The whole atomic replace: write tmpdirfd/<unique> (always fsynced, so a
 * crash leaves the old or the new content, never a torn file), rename it
 * to dstdirfd/name, fsync dstdirfd when `sync` (otherwise the caller makes
 * the rename durable, e.g. with one directory fsync for many files).
 * Replaces an existing name.
 */
int fsutil_write_atomic(int tmpdirfd, int dstdirfd, const char *name,
    const void *buf, size_t len, bool sync, char *err, size_t errlen);

/* fsync a directory fd / path; -1 with err filled. */
int fsutil_fsync_dirfd(int dirfd, const char *label, char *err, size_t errlen);
int fsutil_fsync_path(const char *path, char *err, size_t errlen);

/* mkdir -p with mode; 0 if it exists already as a directory. */
int fsutil_mkdir_p(const char *path, mode_t mode, char *err, size_t errlen);

/* Make <path>/{tmp,new,cur} (and path itself); fsyncs what it creates. */
int fsutil_maildir_create(const char *path, char *err, size_t errlen);

/*
 * A unique Maildir file name "<sec>.M<usec>P<pid>Q<n>.<host>,S=<size>"
 * (host with '/' and ':' escaped as Maildir asks).  Thread-safe.
 * Returns the length written (truncation is a bug: bufsz >= 256 suffices).
 */
size_t fsutil_maildir_name(char *buf, size_t bufsz, const char *host, size_t size);

/* Read a whole small file (<= maxlen) into a NUL-terminated malloc'd buffer. */
char *fsutil_read_file(int dirfd, const char *name, size_t maxlen, size_t *lenp,
    char *err, size_t errlen);

#endif
