/*
 * spooltest: helpers shared by the outbound queue tests -- a throw-away
 * outbound spool (tmp, pickup, queue, bad, control) in a scratch directory
 * (check_main.h), and small file helpers.  Header-only (static functions)
 * so each test program stays one .c file.
 */
#ifndef SMTPGATE_SPOOLTEST_H
#define SMTPGATE_SPOOLTEST_H

#include <check.h>
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check_main.h"

struct tspool {
	char root[256];
	int rootfd, tmp, pickup, maildrop, queue, bad, control;
};

/* Open dir root/sub as an O_DIRECTORY fd, creating it. */
static int
tspool_dir(struct tspool *s, const char *sub)
{
	int fd;

	ck_assert_int_eq(mkdirat(s->rootfd, sub, 0700), 0);
	fd = openat(s->rootfd, sub, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	ck_assert_int_ge(fd, 0);
	return fd;
}

/* Make a fresh spool. */
static void
tspool_open(struct tspool *s)
{
	testdir_make(s->root, sizeof(s->root));
	s->rootfd = open(s->root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	ck_assert_int_ge(s->rootfd, 0);
	s->tmp = tspool_dir(s, "tmp");
	s->pickup = tspool_dir(s, "pickup");
	s->maildrop = tspool_dir(s, "maildrop");
	s->queue = tspool_dir(s, "queue");
	s->bad = tspool_dir(s, "bad");
	s->control = tspool_dir(s, "control");
}

/* Remove the spool and close its fds. */
static void
tspool_close(struct tspool *s)
{
	close(s->tmp); close(s->pickup); close(s->maildrop); close(s->queue);
	close(s->bad); close(s->control); close(s->rootfd);
	testdir_remove(s->root);
}

/* Write dirfd/name with the given bytes. */
static void
tspool_put(int dirfd, const char *name, const char *buf, size_t len)
{
	int fd = openat(dirfd, name, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, buf, len), (ssize_t)len);
	close(fd);
}

/* Read dirfd/name whole (malloc'd, NUL-terminated), or NULL. */
static char *
tspool_get(int dirfd, const char *name, size_t *lenp)
{
	char *buf;
	struct stat st;
	int fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return NULL;
	ck_assert_int_eq(fstat(fd, &st), 0);
	buf = malloc((size_t)st.st_size + 1);
	ck_assert_int_eq(read(fd, buf, (size_t)st.st_size), st.st_size);
	buf[st.st_size] = '\0';
	close(fd);
	if (lenp)
		*lenp = (size_t)st.st_size;
	return buf;
}

/* 1 when dirfd/name exists. */
static int
tspool_exists(int dirfd, const char *name)
{
	struct stat st;

	return fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0;
}

/* Number of directory entries (except . and ..), optionally with a prefix. */
static int
tspool_count(int dirfd, const char *prefix)
{
	int fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *d = fdopendir(fd);
	struct dirent *de;
	int n = 0;

	ck_assert_ptr_nonnull(d);
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		if (prefix == NULL || strncmp(de->d_name, prefix, strlen(prefix)) == 0)
			n++;
	}
	closedir(d);
	return n;
}

#endif
