/*
 * slowfsync: an LD_PRELOAD shim for the fault tests that makes fsync(2),
 * fdatasync(2) and syncfs(2) sleep first, like a slow or overloaded disk (the old
 * gateway hung on slow file I/O).  The delay in milliseconds is read from
 * the file named by SMTPGATE_SLOW_FSYNC_FILE at every call, so a test can
 * start the daemon at full speed and slow the disk down afterwards.
 *
 * With SMTPGATE_NO_RENAME_NOREPLACE set, renameat2(RENAME_NOREPLACE) fails
 * with EINVAL, as on a file system that lacks it.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

int fsync(int fd);
int fdatasync(int fd);
int syncfs(int fd);
int renameat2(int olddirfd, const char *oldpath, int newdirfd, const char *newpath,
    unsigned int flags);

/* Sleep for the configured delay. */
static void
slowfsync_delay(void)
{
	const char *path = getenv("SMTPGATE_SLOW_FSYNC_FILE");
	long v = 0;
	FILE *f = path ? fopen(path, "r") : NULL;
	if (f != NULL) {
		if (fscanf(f, "%ld", &v) != 1)
			v = 0;
		fclose(f);
	}
	if (v <= 0)
		return;
	struct timespec ts = { v / 1000, (v % 1000) * 1000000L };
	while (nanosleep(&ts, &ts) == -1)
		;
}

int
fsync(int fd)
{
	static int (*real)(int);
	if (real == NULL)
		real = (int (*)(int))dlsym(RTLD_NEXT, "fsync");
	slowfsync_delay();
	return real(fd);
}

int
fdatasync(int fd)
{
	static int (*real)(int);
	if (real == NULL)
		real = (int (*)(int))dlsym(RTLD_NEXT, "fdatasync");
	slowfsync_delay();
	return real(fd);
}

int
syncfs(int fd)
{
	static int (*real)(int);
	if (real == NULL)
		real = (int (*)(int))dlsym(RTLD_NEXT, "syncfs");
	slowfsync_delay();
	return real(fd);
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
	return real(olddirfd, oldpath, newdirfd, newpath, flags);
}
