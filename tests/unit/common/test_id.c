/*
 * Unit tests of common/id.c: format, time prefix, id_valid, uniqueness
 * within a process (many threads) and across a fork.
 */
#include <check.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "check_main.h"
#include "id.h"

/* Wall clock in milliseconds. */
static uint64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

START_TEST(format_and_time)
{
	char id[ID_LEN + 1], prefix[11];
	uint64_t before = now_ms(), after, t;

	memset(id, 'Z', sizeof(id));
	id_generate(id);
	after = now_ms();
	ck_assert_uint_eq(strlen(id), ID_LEN);
	ck_assert_uint_eq(strspn(id, "0123456789abcdef"), ID_LEN);
	ck_assert(id_valid(id));
	memcpy(prefix, id, 10);
	prefix[10] = '\0';
	t = strtoull(prefix, NULL, 16);
	ck_assert_uint_ge(t, before & 0xffffffffffULL);
	ck_assert_uint_le(t, after & 0xffffffffffULL);
}
END_TEST

struct valid_case {
	const char *s;
	int valid;
};

static const struct valid_case valid_cases[] = {
	{ "0123456789abcdef", 1 },
	{ "ffffffffffffffff", 1 },
	{ "0123456789ABCDEF", 0 },
	{ "0123456789abcde", 0 },
	{ "0123456789abcdef0", 0 },
	{ "0123456789abcdeg", 0 },
	{ "../../etc/passwd", 0 },
	{ "0123456789abcd/f", 0 },
	{ "", 0 },
};

START_TEST(valid)
{
	ck_assert_int_eq(id_valid(valid_cases[_i].s), valid_cases[_i].valid);
}
END_TEST

START_TEST(valid_null)
{
	ck_assert_int_eq(id_valid(NULL), 0);
}
END_TEST

#define NTHREADS 4
#define PER_THREAD 50000

static char (*ids)[ID_LEN + 1];

/* Generate PER_THREAD ids into this thread's slice of ids. */
static void *
gen_thread(void *arg)
{
	long t = (long)arg;

	for (long i = 0; i < PER_THREAD; i++)
		id_generate(ids[t * PER_THREAD + i]);
	return NULL;
}

/* qsort comparator for ids. */
static int
cmp_id(const void *a, const void *b)
{
	return strcmp(a, b);
}

START_TEST(unique_across_threads)
{
	pthread_t th[NTHREADS];
	size_t n = (size_t)NTHREADS * PER_THREAD;

	ids = calloc(n, sizeof(*ids));
	ck_assert_ptr_nonnull(ids);
	for (long i = 0; i < NTHREADS; i++)
		ck_assert_int_eq(pthread_create(&th[i], NULL, gen_thread, (void *)i), 0);
	for (int i = 0; i < NTHREADS; i++)
		pthread_join(th[i], NULL);
	qsort(ids, n, sizeof(*ids), cmp_id);
	for (size_t i = 0; i < n; i++) {
		/* plain ifs: a Check assert per id would dominate the run time */
		if (!id_valid(ids[i]))
			ck_abort_msg("invalid id %s", ids[i]);
		if (i > 0 && strcmp(ids[i - 1], ids[i]) == 0)
			ck_abort_msg("duplicate id %s", ids[i]);
	}
	free(ids);
}
END_TEST

START_TEST(unique_across_fork)
{
	char mine[1000][ID_LEN + 1], theirs[1000][ID_LEN + 1];
	int fds[2], status;
	pid_t pid;
	size_t got = 0;
	int same = 0;

	id_generate(mine[0]);		/* seed the parent before forking */
	ck_assert_int_eq(pipe(fds), 0);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		for (int i = 0; i < 1000; i++) {
			char id[ID_LEN + 1];

			id_generate(id);
			if (write(fds[1], id, ID_LEN + 1) != ID_LEN + 1)
				_exit(1);
		}
		_exit(0);
	}
	close(fds[1]);
	for (int i = 1; i < 1000; i++)
		id_generate(mine[i]);
	while (got < sizeof(theirs)) {
		ssize_t r = read(fds[0], (char *)theirs + got, sizeof(theirs) - got);

		ck_assert_int_gt(r, 0);
		got += (size_t)r;
	}
	close(fds[0]);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	/* without a fresh random base the child would repeat the parent's
	 * sequence of low parts exactly, and clash within one millisecond */
	for (int i = 1; i < 1000; i++) {
		if (strncmp(mine[i] + 10, theirs[i - 1] + 10, 6) == 0)
			same++;
		for (int j = 0; j < 1000; j++)
			if (strcmp(mine[i], theirs[j]) == 0)
				ck_abort_msg("parent and child both made %s", mine[i]);
	}
	ck_assert_int_lt(same, 10);
}
END_TEST

/* The suite. */
Suite *
unit_suite(void)
{
	Suite *s = suite_create("id");
	TCase *tc = tcase_create("id");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, format_and_time);
	tcase_add_loop_test(tc, valid, 0, (int)(sizeof(valid_cases) / sizeof(valid_cases[0])));
	tcase_add_test(tc, valid_null);
	tcase_add_test(tc, unique_across_threads);
	tcase_add_test(tc, unique_across_fork);
	suite_add_tcase(s, tc);
	return s;
}
