/*
 * check_main: the main() of every unit test program and the scratch
 * directory helper (see check_main.h).  Knows nothing about what is
 * tested.
 */
#include <check.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "check_main.h"

/* nftw callback: remove one entry (files first, FTW_DEPTH). */
static int
rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	if (remove(path) == -1) {
		perror(path);
		return -1;
	}
	return 0;
}

/* A fresh scratch directory under $TMPDIR or /tmp. */
void
testdir_make(char *buf, size_t bufsz)
{
	const char *base = getenv("TMPDIR");
	int n = snprintf(buf, bufsz, "%s/smtpgate-test.XXXXXX",
	    base != NULL && base[0] != '\0' ? base : "/tmp");

	if (n < 0 || (size_t)n >= bufsz) {
		fprintf(stderr, "testdir_make: path too long for its buffer\n");
		abort();
	}
	if (mkdtemp(buf) == NULL) {
		perror(buf);
		abort();
	}
}

/* Remove path recursively, no symlink followed. */
int
testdir_remove(const char *path)
{
	return nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS) == 0 ? 0 : -1;
}

/* Run the suite in UTC (dates in expected texts are exact); the exit
 * status says whether every check passed. */
int
main(int argc, char **argv)
{
	SRunner *sr;
	int failed;

	setenv("TZ", "UTC", 1);
	tzset();
	if (unit_args != NULL)
		unit_args(argc, argv);
	sr = srunner_create(unit_suite());
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
