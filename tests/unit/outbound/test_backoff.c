/*
 * Unit tests for outbound/backoff.c: the wait doubles from 1 s to 1 h,
 * a key is ready again once its wait is over, forgetting and sweeping.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>

#include "check_main.h"
#include "backoff.h"

/* The waits after 1..15 failures in a row. */
static const int64_t waits[] = { 1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048,
    3600, 3600, 3600 };

START_TEST(doubling)
{
	struct backoff *b = backoff_new();
	int64_t now = 1000, w;
	size_t i;

	ck_assert(backoff_ready(b, "pname", now));
	for (i = 0; i < sizeof(waits) / sizeof(waits[0]); i++) {
		ck_assert_uint_eq(backoff_fail(b, "pname", now, &w), i + 1);
		ck_assert_int_eq(w, waits[i]);
		ck_assert(!backoff_ready(b, "pname", now));
		ck_assert(!backoff_ready(b, "pname", now + w - 1));
		ck_assert(backoff_ready(b, "pname", now + w));
		ck_assert(backoff_ready(b, "mname", now));	/* other keys untouched */
		now += w;
	}
	ck_assert_uint_eq(backoff_size(b), 1);
	backoff_forget(b, "pname");
	ck_assert(backoff_ready(b, "pname", 0));
	ck_assert_uint_eq(backoff_size(b), 0);
	backoff_free(b);
}
END_TEST

/* Many keys (collisions in the buckets); a sweep forgets what no scan saw. */
START_TEST(sweep)
{
	struct backoff *b = backoff_new();
	char key[32];
	int i;

	for (i = 0; i < 5000; i++) {
		snprintf(key, sizeof(key), "k%d", i);
		ck_assert_uint_eq(backoff_fail(b, key, 0, NULL), 1);
	}
	ck_assert_uint_eq(backoff_size(b), 5000);
	ck_assert_uint_eq(backoff_sweep(b), 0);		/* marked by the failure */
	for (i = 0; i < 5000; i += 2) {
		snprintf(key, sizeof(key), "k%d", i);
		backoff_mark(b, key);
	}
	ck_assert_uint_eq(backoff_sweep(b), 2500);
	ck_assert_uint_eq(backoff_size(b), 2500);
	ck_assert(!backoff_ready(b, "k0", 0));
	ck_assert(backoff_ready(b, "k1", 0));
	backoff_free(b);
}
END_TEST

/* The suite (run by check_main.c). */
Suite *
unit_suite(void)
{
	Suite *s = suite_create("backoff");
	TCase *tc = tcase_create("backoff");

	tcase_add_test(tc, doubling);
	tcase_add_test(tc, sweep);
	suite_add_tcase(s, tc);
	return s;
}
