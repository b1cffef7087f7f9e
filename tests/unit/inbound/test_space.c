/*
 * Unit tests for the space checks of issue 19: diskspace_short (the
 * spool's reserve, bytes or percent, with the declared size), the size a
 * Maildir file name states, and mboxsize's scanner on a real Maildir
 * (a first look, our own additions, a reader's deletion seen, a file
 * without ",S=" counted by lstat, a symlink not followed).
 */
#include <check.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "check_main.h"
#include "diskspace.h"
#include "mboxsize.h"
#include "util.h"

static const struct {
	uint64_t avail, total, min;
	bool pct;
	uint64_t size;
	bool want;
} shorts[] = {
	{ 1000, 100000, 0, false, 0, false },		/* off */
	{ 0, 100000, 0, false, 0, false },		/* off, even when full */
	{ 0, 100000, 0, false, 1, true },		/* ... but SIZE= does not fit */
	{ 1000, 100000, 999, false, 0, false },
	{ 1000, 100000, 1000, false, 0, false },
	{ 1000, 100000, 1001, false, 0, true },
	{ 1000, 100000, 500, false, 500, false },
	{ 1000, 100000, 500, false, 501, true },
	{ 1000, 100000, 1, true, 0, false },		/* 1% of 100000 = 1000 */
	{ 999, 100000, 1, true, 0, true },
	{ 5000, 100000, 5, true, 0, false },
	{ 4999, 100000, 5, true, 0, true },
	{ 1ULL << 40, 1ULL << 42, 50, true, 0, true },	/* no overflow on big disks */
	{ UINT64_MAX / 2, UINT64_MAX - 5, 1, true, 0, false },
	{ 10, 1000, 1, true, UINT64_MAX, true },
};

START_TEST(test_short)
{
	ck_assert_msg(diskspace_short(shorts[_i].avail, shorts[_i].total, shorts[_i].min,
	    shorts[_i].pct, shorts[_i].size) == shorts[_i].want, "case %d", _i);
}
END_TEST

START_TEST(test_name_size)
{
	uint64_t v = 7;

	ck_assert(mboxsize_name_size("1733.M1P2Q3.gw,S=1234", &v));
	ck_assert_uint_eq(v, 1234);
	ck_assert(mboxsize_name_size("1733.M1P2Q3.gw,S=55:2,S", &v));
	ck_assert_uint_eq(v, 55);
	ck_assert(mboxsize_name_size("1733.x,S=9,W=10:2,", &v));
	ck_assert_uint_eq(v, 9);
	ck_assert(!mboxsize_name_size("1733.M1P2Q3.gw", &v));
	ck_assert(!mboxsize_name_size("1733.gw:2,S=5", &v));	/* in the flags */
	ck_assert(!mboxsize_name_size("1733.gw,S=", &v));
	ck_assert(!mboxsize_name_size("1733.gw,S=99999999999999999999999", &v));
}
END_TEST

/* Make path with n bytes. */
static void
make_file(const char *path, size_t n)
{
	FILE *f = fopen(path, "w");

	ck_assert_ptr_nonnull(f);
	for (size_t i = 0; i < n; i++)
		fputc('x', f);
	ck_assert_int_eq(fclose(f), 0);
}

/* Ask for the size until it equals want (the scanner runs on its thread). */
static bool
size_becomes(struct mboxsize *m, const char *name, uint64_t want)
{
	struct timespec ts = { 0, 20 * 1000000 };

	for (int i = 0; i < 300; i++) {
		if (mboxsize_get(m, name, util_monotonic_ms() + (uint64_t)i *
		    MBOXSIZE_FRESH_MS) == want)
			return true;
		nanosleep(&ts, NULL);
	}
	return false;
}

START_TEST(test_scanner)
{
	char dir[256], p[512], err[256];
	struct mboxsize *m;
	unsigned long scans;

	testdir_make(dir, sizeof(dir));
	snprintf(p, sizeof(p), "%s/mailboxes", dir);
	ck_assert_int_eq(mkdir(p, 0700), 0);
	snprintf(p, sizeof(p), "%s/mailboxes/a", dir);
	ck_assert_int_eq(mkdir(p, 0700), 0);
	snprintf(p, sizeof(p), "%s/mailboxes/a/new", dir);
	ck_assert_int_eq(mkdir(p, 0700), 0);
	snprintf(p, sizeof(p), "%s/mailboxes/a/cur", dir);
	ck_assert_int_eq(mkdir(p, 0700), 0);
	snprintf(p, sizeof(p), "%s/mailboxes/a/new/1.a,S=100", dir);
	make_file(p, 100);
	snprintf(p, sizeof(p), "%s/mailboxes/a/cur/2.a,S=50:2,S", dir);
	make_file(p, 50);
	snprintf(p, sizeof(p), "%s/mailboxes/a/cur/3.nosize:2,", dir);
	make_file(p, 7);			/* counted by its lstat size */
	snprintf(p, sizeof(p), "%s/mailboxes/a/cur/4.link,S=1000000", dir);
	ck_assert_int_eq(symlink("/etc/passwd", p), 0);	/* a name counts as stated */

	m = mboxsize_new(dir, err, sizeof(err));
	ck_assert_msg(m != NULL, "%s", err);
	mboxsize_watch(m, "a");
	ck_assert(size_becomes(m, "a", 1000157));
	snprintf(p, sizeof(p), "%s/mailboxes/a/cur/4.link,S=1000000", dir);
	ck_assert_int_eq(unlink(p), 0);		/* a reader deletes */
	ck_assert(size_becomes(m, "a", 157));
	nanosleep(&(struct timespec){ 0, 200 * 1000000 }, NULL);	/* the last look ends */
	ck_assert_uint_eq(mboxsize_get(m, "a", util_monotonic_ms()), 157);
	mboxsize_add(m, "a", 1000);		/* handed to delivery, not on disk */
	ck_assert_uint_eq(mboxsize_get(m, "a", util_monotonic_ms()), 1157);
	ck_assert(size_becomes(m, "a", 157));	/* the next scan forgets it */
	scans = mboxsize_scans(m);
	ck_assert_uint_ge(scans, 3);
	/* a mailbox not made yet: 0, no scan */
	ck_assert_uint_eq(mboxsize_get(m, "missing", util_monotonic_ms()), 0);
	mboxsize_free(m);
	ck_assert_int_eq(testdir_remove(dir), 0);
}
END_TEST

/* The suite (run by check_main.c). */
Suite *
unit_suite(void)
{
	Suite *s = suite_create("space");
	TCase *tc = tcase_create("core");

	tcase_set_timeout(tc, 60);
	tcase_add_loop_test(tc, test_short, 0, (int)(sizeof(shorts) / sizeof(shorts[0])));
	tcase_add_test(tc, test_name_size);
	tcase_add_test(tc, test_scanner);
	suite_add_tcase(s, tc);
	return s;
}
