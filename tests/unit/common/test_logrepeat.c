/*
 * Unit tests of common/logrepeat.c (the repeat table behind log.c) and of
 * log.c's use of it: the first occurrence is always written, repeats in
 * the window are counted, one summary follows when the window is over or
 * the slot is needed, the table never grows, and log.c is right with
 * threads logging the same line.
 */
#include <check.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check_main.h"
#include "log.h"
#include "logrepeat.h"

/* What the table emitted, one "prio|text" per line. */
static char emitted[1 << 16];

static void
collect(void *arg, int prio, const char *text)
{
	size_t n = strlen(emitted);

	(void)arg;
	snprintf(emitted + n, sizeof(emitted) - n, "%d|%s\n", prio, text);
}

/* One step of a case: a line at a time (text NULL: a flush, all or not). */
struct step {
	uint64_t ms;
	int prio;
	const char *text;
	bool want_written;	/* logrep_line's answer */
	bool flush_all;
};

struct repeat_case {
	const char *name;
	struct step steps[8];
	size_t nsteps;
	const char *want;	/* every summary emitted, in order */
};

static const struct repeat_case cases[] = {
	{ "different lines are all written",
	  { { 0, 6, "a", true, false }, { 1, 6, "b", true, false }, { 2, 6, "c", true, false } },
	  3, "" },
	{ "repeats counted, summary when the window is over (at the next line)",
	  { { 0, 6, "x id=1", true, false }, { 10, 6, "x id=1", false, false },
	    { 20, 6, "x id=1", false, false }, { 1000, 6, "other", true, false } },
	  4, "6|message repeated 2 more times in 1 s: x id=1\n" },
	{ "the same text at another priority is another line",
	  { { 0, 6, "x", true, false }, { 1, 4, "x", true, false } }, 2, "" },
	{ "after the window the text is written again and starts afresh",
	  { { 0, 6, "x", true, false }, { 5, 6, "x", false, false },
	    { 1000, 6, "x", true, false }, { 1001, 6, "x", false, false },
	    { 1002, 0, NULL, false, true } },
	  5, "6|message repeated 1 more times in 1 s: x\n"
	     "6|message repeated 1 more times in 1 s: x\n" },
	{ "a single occurrence leaves no summary",
	  { { 0, 6, "once", true, false }, { 5000, 0, NULL, false, true } }, 2, "" },
	{ "a flush that is not all keeps windows still open",
	  { { 0, 6, "x", true, false }, { 1, 6, "x", false, false },
	    { 500, 0, NULL, false, false }, { 999, 6, "x", false, false },
	    { 1000, 0, NULL, false, false } },
	  5, "6|message repeated 2 more times in 1 s: x\n" },
};

START_TEST(table)
{
	const struct repeat_case *c = &cases[_i];
	struct logrep r;

	logrep_init(&r, 1000);
	emitted[0] = '\0';
	for (size_t i = 0; i < c->nsteps; i++) {
		const struct step *st = &c->steps[i];

		if (st->text == NULL) {
			logrep_flush(&r, st->ms, st->flush_all, collect, NULL);
			continue;
		}
		ck_assert_msg(logrep_line(&r, st->prio, st->text, st->ms, collect, NULL) ==
		    st->want_written, "%s: step %zu", c->name, i);
	}
	ck_assert_msg(strcmp(emitted, c->want) == 0, "%s: got [%s] want [%s]", c->name,
	    emitted, c->want);
}
END_TEST

/* More distinct texts than slots: memory stays fixed, the least recently
 * repeated slot gives way and its count is not lost. */
START_TEST(bounded)
{
	struct logrep r;
	char text[32];

	logrep_init(&r, 60000);
	emitted[0] = '\0';
	ck_assert(logrep_line(&r, 6, "busy", 0, collect, NULL));
	ck_assert(!logrep_line(&r, 6, "busy", 1, collect, NULL));
	for (int i = 0; i < 1000; i++) {
		snprintf(text, sizeof(text), "line %d", i);
		ck_assert(logrep_line(&r, 6, text, 10 + (uint64_t)i, collect, NULL));
	}
	ck_assert_str_eq(emitted, "6|message repeated 1 more times in 1 s: busy\n");
	ck_assert_uint_eq(sizeof(r), sizeof(struct logrep));
	/* "busy" was forgotten: written again */
	ck_assert(logrep_line(&r, 6, "busy", 2000, collect, NULL));
}
END_TEST

START_TEST(off)
{
	struct logrep r;

	logrep_init(&r, 0);
	emitted[0] = '\0';
	for (int i = 0; i < 5; i++)
		ck_assert(logrep_line(&r, 6, "x", (uint64_t)i, collect, NULL));
	logrep_flush(&r, 10, true, collect, NULL);
	ck_assert_str_eq(emitted, "");
}
END_TEST

/* Redirect stderr to a temp file; returns the saved fd. */
static int
capture_start(char *path, size_t pathsz)
{
	int fd, saved;

	snprintf(path, pathsz, "/tmp/smtpgate-test-logrep-XXXXXX");
	fd = mkstemp(path);
	ck_assert_int_ge(fd, 0);
	saved = dup(STDERR_FILENO);
	ck_assert_int_ge(dup2(fd, STDERR_FILENO), 0);
	close(fd);
	return saved;
}

/* Restore stderr; what was written (malloc'd). */
static char *
capture_end(int saved, const char *path)
{
	char *buf = calloc(1, 1 << 20);
	FILE *f;

	ck_assert_int_ge(dup2(saved, STDERR_FILENO), 0);
	close(saved);
	f = fopen(path, "r");
	ck_assert_ptr_nonnull(f);
	(void)fread(buf, 1, (1 << 20) - 1, f);
	fclose(f);
	unlink(path);
	return buf;
}

/* log.c: the same line three times, another line, a flush. */
START_TEST(log_holds_back_repeats)
{
	char path[64], want[512], *out;
	int saved = capture_start(path, sizeof(path));
	long pid = (long)getpid();

	unsetenv("JOURNAL_STREAM");
	log_init("t", LOG_TARGET_STDERR);
	log_set_repeat_window(60000);
	for (int i = 0; i < 3; i++)
		log_warnx("listener: accept: %s", "Too many open files");
	log_info("other");
	log_flush_repeats();	/* the summary now; every text forgotten */
	log_info("other");
	log_info("other");	/* its window is open: held back... */
	log_set_repeat_window(0);	/* ...and summarised when turned off */
	log_info("other");
	out = capture_end(saved, path);
	snprintf(want, sizeof(want),
	    "t[%ld]: listener: accept: Too many open files\n"
	    "t[%ld]: other\n"
	    "t[%ld]: message repeated 2 more times in 1 s: listener: accept: Too many open files\n"
	    "t[%ld]: other\n"
	    "t[%ld]: message repeated 1 more times in 1 s: other\n"
	    "t[%ld]: other\n", pid, pid, pid, pid, pid, pid);
	ck_assert_str_eq(out, want);
	free(out);
}
END_TEST

#define NTHREADS 8
#define NLINES 2000

static void *
same_line(void *arg)
{
	(void)arg;
	for (int i = 0; i < NLINES; i++)
		log_info("queue id=%s status=%s", "ABC", "unreadable");
	return NULL;
}

/* Threads logging one text: written once, the rest counted exactly. */
START_TEST(log_repeats_from_threads)
{
	pthread_t th[NTHREADS];
	char path[64], first[128], *out, *p;
	unsigned long long n = 0;
	int saved = capture_start(path, sizeof(path));

	log_init("t", LOG_TARGET_STDERR);
	log_set_repeat_window(600000);
	for (long i = 0; i < NTHREADS; i++)
		ck_assert_int_eq(pthread_create(&th[i], NULL, same_line, NULL), 0);
	for (int i = 0; i < NTHREADS; i++)
		pthread_join(th[i], NULL);
	log_flush_repeats();
	out = capture_end(saved, path);
	p = strstr(out, "message repeated ");
	ck_assert_ptr_nonnull(p);
	ck_assert_int_eq(sscanf(p, "message repeated %llu more", &n), 1);
	ck_assert_uint_eq(n, NTHREADS * NLINES - 1);
	snprintf(first, sizeof(first), "t[%ld]: queue id=ABC status=unreadable\n", (long)getpid());
	ck_assert_int_eq(strncmp(out, first, strlen(first)), 0);
	ck_assert_ptr_eq(p, out + strlen(first) + strlen("t[]: ") + (size_t)snprintf(NULL, 0, "%ld", (long)getpid()));
	ck_assert_ptr_null(strstr(p + 1, "message repeated"));
	free(out);
}
END_TEST

Suite *
unit_suite(void)
{
	Suite *s = suite_create("logrepeat");
	TCase *tc = tcase_create("core");

	tcase_add_loop_test(tc, table, 0, sizeof(cases) / sizeof(cases[0]));
	tcase_add_test(tc, bounded);
	tcase_add_test(tc, off);
	tcase_add_test(tc, log_holds_back_repeats);
	tcase_add_test(tc, log_repeats_from_threads);
	suite_add_tcase(s, tc);
	return s;
}
