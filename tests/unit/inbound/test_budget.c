/*
 * Unit tests for the inbound memory budget (budget.c): the sum of what
 * connections hold, when it is full, who is over its fair share, waking
 * paused connections once the sum falls under three quarters of the
 * limit, and leaving.
 */
#include <check.h>
#include <stdlib.h>

#include "check_main.h"
#include "budget.h"

/* A wake callback: counts its calls. */
static void
wake(void *arg)
{
	(*(int *)arg)++;
}

/* The sum follows updates and leaves; full at the limit. */
START_TEST(test_sum_and_full)
{
	struct budget *b = budget_new(1000);
	struct budget_share x, y;
	int wx = 0, wy = 0;

	budget_join(b, &x, wake, &wx);
	budget_join(b, &y, wake, &wy);
	budget_update(b, &x, 300);
	budget_update(b, &y, 600);
	ck_assert_uint_eq(budget_used(b), 900);
	ck_assert(!budget_full(b));
	budget_update(b, &x, 400);
	ck_assert_uint_eq(budget_used(b), 1000);
	ck_assert(budget_full(b));
	budget_leave(b, &y);
	ck_assert_uint_eq(budget_used(b), 400);
	ck_assert(!budget_full(b));
	budget_leave(b, &x);
	ck_assert_uint_eq(budget_used(b), 0);
	budget_free(b);
}
END_TEST

/* Over its share: only when full, and only the one above limit / members. */
START_TEST(test_fair_share)
{
	struct budget *b = budget_new(1000);
	struct budget_share s[4];
	int w = 0;

	for (int i = 0; i < 4; i++)
		budget_join(b, &s[i], wake, &w);
	budget_update(b, &s[0], 700);
	ck_assert(!budget_over_share(b, &s[0]));	/* not full */
	budget_update(b, &s[1], 100);
	budget_update(b, &s[2], 100);
	budget_update(b, &s[3], 100);
	ck_assert(budget_full(b));
	ck_assert(budget_over_share(b, &s[0]));		/* 700 > 1000 / 4 */
	ck_assert(!budget_over_share(b, &s[1]));
	for (int i = 0; i < 4; i++)
		budget_leave(b, &s[i]);
	budget_free(b);
}
END_TEST

/* A paused connection is woken once, when the sum falls under 3/4. */
START_TEST(test_wake_under_three_quarters)
{
	struct budget *b = budget_new(1000);
	struct budget_share x, y;
	int wx = 0, wy = 0;

	budget_join(b, &x, wake, &wx);
	budget_join(b, &y, wake, &wy);
	budget_update(b, &x, 900);
	budget_update(b, &y, 200);
	budget_wait(b, &x);
	budget_wait(b, &x);		/* twice: still one entry */
	budget_update(b, &y, 0);	/* 900: not under 750 */
	ck_assert_int_eq(wx, 0);
	budget_update(b, &x, 700);	/* 700 < 750 */
	ck_assert_int_eq(wx, 1);
	budget_update(b, &x, 100);
	ck_assert_int_eq(wx, 1);	/* off the list */
	ck_assert_int_eq(wy, 0);
	budget_leave(b, &x);
	budget_leave(b, &y);
	budget_free(b);
}
END_TEST

/* Leaving takes a waiting connection off the list; a new limit wakes. */
START_TEST(test_leave_and_new_limit)
{
	struct budget *b = budget_new(1000);
	struct budget_share x, y;
	int wx = 0, wy = 0;

	budget_join(b, &x, wake, &wx);
	budget_join(b, &y, wake, &wy);
	budget_update(b, &x, 600);
	budget_update(b, &y, 500);
	budget_wait(b, &x);
	budget_wait(b, &y);
	budget_leave(b, &x);		/* 500 < 750: y is woken, x is gone */
	ck_assert_int_eq(wx, 0);
	ck_assert_int_eq(wy, 1);
	budget_wait(b, &y);
	budget_set_limit(b, 2000);	/* 500 < 1500 */
	ck_assert_int_eq(wy, 2);
	ck_assert_uint_eq(budget_limit(b), 2000);
	budget_leave(b, &y);
	budget_free(b);
}
END_TEST

/* The suite (run by check_main.c). */
Suite *
unit_suite(void)
{
	Suite *s = suite_create("budget");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_sum_and_full);
	tcase_add_test(tc, test_fair_share);
	tcase_add_test(tc, test_wake_under_three_quarters);
	tcase_add_test(tc, test_leave_and_new_limit);
	suite_add_tcase(s, tc);
	return s;
}
