/*
 * slowfsync: an LD_PRELOAD shim for the fault tests that makes fsync(2),
 * fdatasync(2) and syncfs(2) sleep first, like a slow or overloaded disk (the old
 * gateway hung on slow file I/O).  The delay in milliseconds is read from
 * the file named by SMTPGATE_SLOW_FSYNC_FILE at every call, so a test can
 * start the daemon at full speed and slow the disk down afterwards.
 *
 * SMTPGATE_SLOW_SYNCFS_FILE does the same for syncfs(2) alone (a slow
 * checkpoint of the inbound commit log).
 *
 * With SMTPGATE_NO_RENAME_NOREPLACE set, renameat2(RENAME_NOREPLACE) fails
 * with EINVAL, as on a file system that lacks it.
 *
 * With SMTPGATE_FSTRACE_FILE set, every fsync/fdatasync ("fsync PATH"),
 * syncfs ("syncfs PATH"), file creation by openat ("create PATH"),
 * rename ("rename OLD NEW") and hard link ("link OLD NEW") is appended to
 * that file, in call order (each line before the call), so a
 * test can check what was made durable before it was renamed.  With
 * SMTPGATE_FSTRACE_THREADS also set, a line for a call made by the main
 * thread (the event loop) ends in " main".  With SMTPGATE_FSTRACE_OPENS
 * set, every other openat is traced too ("open PATH").
 *
 * With SMTPGATE_FAIL_CREATE_FILE set, creating a file (openat with
 * O_CREAT) whose name matches the pattern in that file ("PREFIX*SUFFIX",
 * re-read at every call; no file, no failure) fails with ENOSPC.  With
 * SMTPGATE_FAIL_RENAME_FILE set, renameat of a name matching the pattern
 * in that file fails with EROFS, as once ext4 has aborted its journal; so
 * does mkdirat of a name matching the pattern in SMTPGATE_FAIL_MKDIR_FILE.
 * renameat2 (the publish into new/) fails the same way as renameat.
 * With SMTPGATE_FAIL_FSYNC_FILE, fsync/fdatasync of a file whose name
 * matches that file's pattern fails with EIO (a commit log segment, say);
 * with SMTPGATE_FAIL_SYNCFS_FILE, syncfs through a descriptor whose name
 * matches fails with EIO.
 *
 * With SMTPGATE_SLOW_PUBLISH_MS=N (read at every call; unset or 0: no
 * delay), renameat2 and linkat into a directory named "new" (the
 * inbound's publish into a Maildir) made by any thread but the main one
 * sleep N ms first, so that a test reading a Maildir right after its 250
 * races the publisher thread and loses (tests/integration:
 * SMTPGATE_TEST_SLOW_PUBLISH_MS preloads this into every inbound daemon
 * the suite starts).  The main thread's are not delayed: that is the
 * commit log's recovery at start, done before the daemon listens.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
/* openat and openat64 are both defined here under their own names */
#undef _FILE_OFFSET_BITS
#include <dlfcn.h>
#include <stdarg.h>
#include <fcntl.h>
#include <limits.h>
#include <string.h>
#include <unistd.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>

int fsync(int fd);
int fdatasync(int fd);
int syncfs(int fd);
int renameat(int olddirfd, const char *oldpath, int newdirfd, const char *newpath);
int renameat2(int olddirfd, const char *oldpath, int newdirfd, const char *newpath,
    unsigned int flags);
int linkat(int olddirfd, const char *oldpath, int newdirfd, const char *newpath, int flags);

/* Sleep for ms milliseconds. */
static void
sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
		;
}

/* Sleep for the delay configured in the file named by var. */
static void
slow_delay(const char *var)
{
	const char *path = getenv(var);
	long v = 0;
	FILE *f = path ? fopen(path, "r") : NULL;
	if (f != NULL) {
		if (fscanf(f, "%ld", &v) != 1)
			v = 0;
		fclose(f);
	}
	if (v > 0)
		sleep_ms(v);
}

/* Sleep for the configured delay of every sync call. */
static void
slowfsync_delay(void)
{
	slow_delay("SMTPGATE_SLOW_FSYNC_FILE");
}

/* The path of fd, or of name in directory dirfd (AT_FDCWD too). */
static void
fstrace_path(int dirfd, const char *name, char *out, size_t outlen)
{
	char link[64], dir[PATH_MAX];
	ssize_t n;
	int w;

	if (name != NULL && (name[0] == '/' || dirfd == AT_FDCWD))
		w = snprintf(out, outlen, "%s", name);
	else {
		snprintf(link, sizeof(link), "/proc/self/fd/%d", dirfd);
		n = readlink(link, dir, sizeof(dir) - 1);
		if (n < 0)
			n = 0;
		dir[n] = '\0';
		if (name != NULL)
			w = snprintf(out, outlen, "%s/%s", dir, name);
		else
			w = snprintf(out, outlen, "%s", dir);
	}
	if (w < 0 || (size_t)w >= outlen)
		out[0] = '\0';		/* too long: traced as an empty path */
}

/* Append one line to the trace file, when tracing. */
static void
fstrace(const char *what, const char *a, const char *b)
{
	const char *path = getenv("SMTPGATE_FSTRACE_FILE");
	char line[2 * PATH_MAX + 32];
	int fd, n;

	if (path == NULL)
		return;
	n = snprintf(line, sizeof(line), "%s %s%s%s%s\n", what, a, b ? " " : "", b ? b : "",
	    getenv("SMTPGATE_FSTRACE_THREADS") && gettid() == getpid() ? " main" : "");
	if (n <= 0 || (size_t)n >= sizeof(line))
		return;
	fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0)
		return;
	if (write(fd, line, (size_t)n) < 0) {
		/* a test reading the trace sees the line missing */
	}
	close(fd);
}

/* Trace an fsync of fd. */
static void
fstrace_fsync(int fd)
{
	char p[PATH_MAX];

	if (getenv("SMTPGATE_FSTRACE_FILE") == NULL)
		return;
	fstrace_path(fd, NULL, p, sizeof(p));
	fstrace("fsync", p, NULL);
}

/* Trace a call of kind what on fd, or on name in dirfd. */
static void
fstrace_one(const char *what, int dirfd, const char *name)
{
	char p[PATH_MAX];

	if (getenv("SMTPGATE_FSTRACE_FILE") == NULL)
		return;
	fstrace_path(dirfd, name, p, sizeof(p));
	fstrace(what, p, NULL);
}

/* Trace a rename or a link (what) from one name to another. */
static void
fstrace_rename(const char *what, int olddirfd, const char *oldpath, int newdirfd,
    const char *newpath)
{
	char a[PATH_MAX], b[PATH_MAX];

	if (getenv("SMTPGATE_FSTRACE_FILE") == NULL)
		return;
	fstrace_path(olddirfd, oldpath, a, sizeof(a));
	fstrace_path(newdirfd, newpath, b, sizeof(b));
	fstrace(what, a, b);
}

/* true when newpath (relative to newdirfd) lies in a directory named "new". */
static int
in_new_dir(int newdirfd, const char *newpath)
{
	char p[PATH_MAX], *slash;
	const char *dir;

	if (strchr(newpath, '/') == NULL && newdirfd == AT_FDCWD) {
		if (getcwd(p, sizeof(p)) == NULL)
			return 0;
		dir = p;
	} else {
		fstrace_path(newdirfd, newpath, p, sizeof(p));
		if ((slash = strrchr(p, '/')) == NULL)
			return 0;
		*slash = '\0';
		dir = p;
	}
	slash = strrchr(dir, '/');
	return strcmp(slash != NULL ? slash + 1 : dir, "new") == 0;
}

/* Sleep SMTPGATE_SLOW_PUBLISH_MS before a rename or link into new/ by a
 * thread other than the main one. */
static void
slow_publish(int newdirfd, const char *newpath)
{
	const char *v = getenv("SMTPGATE_SLOW_PUBLISH_MS");
	long ms = v != NULL ? strtol(v, NULL, 10) : 0;

	if (ms > 0 && gettid() != getpid() && in_new_dir(newdirfd, newpath))
		sleep_ms(ms);
}

static int fail_match(const char *var, const char *path);

/* true when fd's path matches the pattern in the file named by var. */
static int
fail_fd(const char *var, int fd)
{
	char p[PATH_MAX];

	if (getenv(var) == NULL)
		return 0;
	fstrace_path(fd, NULL, p, sizeof(p));
	return fail_match(var, p);
}

int
fsync(int fd)
{
	static int (*real)(int);
	if (real == NULL)
		real = (int (*)(int))dlsym(RTLD_NEXT, "fsync");
	slowfsync_delay();
	fstrace_fsync(fd);
	if (fail_fd("SMTPGATE_FAIL_FSYNC_FILE", fd)) {
		errno = EIO;
		return -1;
	}
	return real(fd);
}

int
fdatasync(int fd)
{
	static int (*real)(int);
	if (real == NULL)
		real = (int (*)(int))dlsym(RTLD_NEXT, "fdatasync");
	slowfsync_delay();
	fstrace_fsync(fd);
	if (fail_fd("SMTPGATE_FAIL_FSYNC_FILE", fd)) {
		errno = EIO;
		return -1;
	}
	return real(fd);
}

int
syncfs(int fd)
{
	static int (*real)(int);
	if (real == NULL)
		real = (int (*)(int))dlsym(RTLD_NEXT, "syncfs");
	slowfsync_delay();
	slow_delay("SMTPGATE_SLOW_SYNCFS_FILE");
	fstrace_one("syncfs", fd, NULL);
	if (fail_fd("SMTPGATE_FAIL_SYNCFS_FILE", fd)) {
		errno = EIO;
		return -1;
	}
	return real(fd);
}

/* true when the last component of path matches the pattern in the file
 * named by the environment variable var. */
static int
fail_match(const char *var, const char *path)
{
	const char *file = getenv(var);
	const char *base = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
	char pat[256], *star;
	size_t n, pl, sl;
	FILE *f;

	if (file == NULL || (f = fopen(file, "r")) == NULL)
		return 0;
	n = fread(pat, 1, sizeof(pat) - 1, f);
	fclose(f);
	pat[n] = '\0';
	pat[strcspn(pat, "\n")] = '\0';
	if ((star = strchr(pat, '*')) == NULL)
		return pat[0] != '\0' && strcmp(base, pat) == 0;
	*star = '\0';
	pl = strlen(pat);
	sl = strlen(star + 1);
	n = strlen(base);
	return n >= pl + sl && strncmp(base, pat, pl) == 0 &&
	    strcmp(base + n - sl, star + 1) == 0;
}

/* openat (and its 64-bit name): files created are traced. */
static int
openat_traced(const char *sym, int dirfd, const char *path, int flags, mode_t mode)
{
	int (*real)(int, const char *, int, ...);
	int fd;

	real = (int (*)(int, const char *, int, ...))dlsym(RTLD_NEXT, sym);
	if (real == NULL) {
		errno = ENOSYS;
		return -1;
	}
	if ((flags & O_CREAT) && fail_match("SMTPGATE_FAIL_CREATE_FILE", path)) {
		errno = ENOSPC;
		return -1;
	}
	fd = real(dirfd, path, flags, mode);
	if (fd >= 0 && (flags & O_CREAT))
		fstrace_one("create", dirfd, path);
	else if (fd >= 0 && getenv("SMTPGATE_FSTRACE_OPENS") != NULL)
		fstrace_one("open", dirfd, path);
	return fd;
}

/* mkdirat: fails with EROFS for a name matching SMTPGATE_FAIL_MKDIR_FILE. */
int
mkdirat(int dirfd, const char *path, mode_t mode)
{
	static int (*real)(int, const char *, mode_t);

	if (real == NULL)
		real = (int (*)(int, const char *, mode_t))dlsym(RTLD_NEXT, "mkdirat");
	if (fail_match("SMTPGATE_FAIL_MKDIR_FILE", path)) {
		errno = EROFS;
		return -1;
	}
	return real(dirfd, path, mode);
}

/* The mode argument of an openat call (only there with O_CREAT). */
#define OPEN_MODE(flags, mode) do {					\
	va_list ap;							\
	va_start(ap, flags);						\
	mode = (flags & O_CREAT) ? (mode_t)va_arg(ap, int) : 0;	\
	va_end(ap);							\
} while (0)

int
openat(int dirfd, const char *path, int flags, ...)
{
	mode_t mode;

	OPEN_MODE(flags, mode);
	return openat_traced("openat", dirfd, path, flags, mode);
}

int
openat64(int dirfd, const char *path, int flags, ...)
{
	mode_t mode;

	OPEN_MODE(flags, mode);
	return openat_traced("openat64", dirfd, path, flags, mode);
}

int
renameat2(int olddirfd, const char *oldpath, int newdirfd, const char *newpath,
    unsigned int flags)
{
	static int (*real)(int, const char *, int, const char *, unsigned int);
	if (real == NULL)
		real = (int (*)(int, const char *, int, const char *, unsigned int))
		    dlsym(RTLD_NEXT, "renameat2");
	if ((flags & RENAME_NOREPLACE) && getenv("SMTPGATE_NO_RENAME_NOREPLACE")) {
		errno = EINVAL;
		return -1;
	}
	if (fail_match("SMTPGATE_FAIL_RENAME_FILE", oldpath)) {
		errno = EROFS;
		return -1;
	}
	slow_publish(newdirfd, newpath);
	fstrace_rename("rename", olddirfd, oldpath, newdirfd, newpath);
	return real(olddirfd, oldpath, newdirfd, newpath, flags);
}

int
renameat(int olddirfd, const char *oldpath, int newdirfd, const char *newpath)
{
	static int (*real)(int, const char *, int, const char *);
	if (real == NULL)
		real = (int (*)(int, const char *, int, const char *))dlsym(RTLD_NEXT, "renameat");
	if (fail_match("SMTPGATE_FAIL_RENAME_FILE", oldpath)) {
		errno = EROFS;
		return -1;
	}
	fstrace_rename("rename", olddirfd, oldpath, newdirfd, newpath);
	return real(olddirfd, oldpath, newdirfd, newpath);
}

int
linkat(int olddirfd, const char *oldpath, int newdirfd, const char *newpath, int flags)
{
	static int (*real)(int, const char *, int, const char *, int);
	if (real == NULL)
		real = (int (*)(int, const char *, int, const char *, int))dlsym(RTLD_NEXT, "linkat");
	slow_publish(newdirfd, newpath);
	fstrace_rename("link", olddirfd, oldpath, newdirfd, newpath);
	return real(olddirfd, oldpath, newdirfd, newpath, flags);
}
