/*
 * testdir: a scratch directory per test (mkdtemp under $TMPDIR or /tmp),
 * removed recursively afterwards.  Shared by the common/ tests.
 */
#ifndef TESTDIR_H
#define TESTDIR_H

#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

/* nftw callback: remove one entry. */
static int
testdir_rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

/* Make a fresh scratch directory; its path goes into buf. */
static void
testdir_make(char *buf, size_t bufsz)
{
	const char *base = getenv("TMPDIR");

	snprintf(buf, bufsz, "%s/smtpgate-test.XXXXXX", base != NULL ? base : "/tmp");
	if (mkdtemp(buf) == NULL) {
		perror("mkdtemp");
		abort();
	}
}

/* Remove the scratch directory and everything below it. */
static void
testdir_remove(const char *path)
{
	(void)nftw(path, testdir_rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

#endif
