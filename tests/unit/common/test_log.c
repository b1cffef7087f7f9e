/*
 * Unit tests of common/log.c (line format, errno suffix, verbosity, one
 * intact line per call from many threads, log_printable) and of the string
 * helpers of common/util.c.
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check_main.h"
#include "log.h"
#include "util.h"

struct printable_case {
	const char *in;
	size_t len;
	size_t bufsz;
	const char *out;
};

#define S(x) x, sizeof(x) - 1

static const struct printable_case printable_cases[] = {
	{ S("hello world"), 64, "hello world" },
	{ S(""), 8, "" },
	{ S("a\r\nb"), 64, "a\\x0d\\x0ab" },
	{ S("tab\there"), 64, "tab\\x09here" },
	{ S("nul\0x"), 64, "nul\\x00x" },
	{ S("back\\slash"), 64, "back\\x5cslash" },
	{ S("quote\"d"), 64, "quote\\x22d" },
	{ S("key=value"), 64, "key\\x3dvalue" },
	{ S("del\x7f"), 64, "del\\x7f" },
	{ S("caf\xc3\xa9"), 64, "caf\\xc3\\xa9" },
	{ S("\xff"), 64, "\\xff" },
	{ S("~ !#$%&'()*+,-./:;<>?@[]^_`{|}"), 64, "~ !#$%&'()*+,-./:;<>?@[]^_`{|}" },
	/* exactly fits (10 chars + NUL) */
	{ S("0123456789"), 11, "0123456789" },
	/* one too long: 4 chars kept + "..." + NUL = 8 */
	{ S("abcdefghij"), 8, "abcd..." },
	{ S("abcdefgh"), 8, "abcd..." },
	{ S("abcdefg"), 8, "abcdefg" },
	/* an escape is never cut in half */
	{ S("ab\ncdef"), 8, "ab..." },
	{ S("\n\n"), 9, "\\x0a\\x0a" },
	{ S("\n\n\n"), 9, "\\x0a..." },
	/* tiny buffers */
	{ S("abc"), 1, "" },
	{ S("abc"), 2, "." },
	{ S("abc"), 3, ".." },
	{ S("abcd"), 4, "..." },
	{ S("abc"), 4, "abc" },
};

START_TEST(printable)
{
	const struct printable_case *tc = &printable_cases[_i];
	char buf[128];

	memset(buf, 'Z', sizeof(buf));
	ck_assert_ptr_eq(log_printable(tc->in, tc->len, buf, tc->bufsz), buf);
	ck_assert_msg(strcmp(buf, tc->out) == 0, "case %d: got \"%s\" want \"%s\"",
	    _i, buf, tc->out);
	ck_assert_uint_lt(strlen(buf), tc->bufsz);
	ck_assert_msg(buf[tc->bufsz] == 'Z', "case %d wrote past bufsz", _i);
}
END_TEST

START_TEST(printable_zero_buffer)
{
	char buf[4] = "XYZ";

	log_printable("abc", 3, buf, 0);
	ck_assert_str_eq(buf, "XYZ");
}
END_TEST

/* Redirect stderr into a fresh temp file; returns the saved stderr fd. */
static int
capture_start(char *path, size_t pathsz)
{
	int fd, saved;

	snprintf(path, pathsz, "/tmp/smtpgate-test-log-XXXXXX");
	fd = mkstemp(path);
	ck_assert_int_ge(fd, 0);
	saved = dup(STDERR_FILENO);
	ck_assert_int_ge(saved, 0);
	ck_assert_int_ge(dup2(fd, STDERR_FILENO), 0);
	close(fd);
	return saved;
}

/* Restore stderr and return what was written (malloc'ed). */
static char *
capture_end(int saved, const char *path)
{
	static const size_t max = 1 << 23;
	char *buf = malloc(max);
	FILE *f;
	size_t n;

	ck_assert_int_ge(dup2(saved, STDERR_FILENO), 0);
	close(saved);
	f = fopen(path, "r");
	ck_assert_ptr_nonnull(f);
	n = fread(buf, 1, max - 1, f);
	buf[n] = '\0';
	fclose(f);
	unlink(path);
	return buf;
}

START_TEST(line_format)
{
	char path[64], want[256];
	int saved = capture_start(path, sizeof(path));
	char *out;

	log_init("/usr/sbin/test-prog", LOG_TARGET_STDERR);
	log_info("in id=%s status=%s", "0123456789abcdef", "delivered");
	errno = ENOENT;
	log_warn("open %s", "/x");
	ck_assert_int_eq(errno, ENOENT);
	log_warnx("plain %d", 7);
	log_debug("hidden");
	log_set_verbose(1);
	log_debug("shown");
	log_set_verbose(0);
	log_debug("hidden again");
	out = capture_end(saved, path);
	snprintf(want, sizeof(want),
	    "test-prog[%ld]: in id=0123456789abcdef status=delivered\n"
	    "test-prog[%ld]: open /x: No such file or directory\n"
	    "test-prog[%ld]: plain 7\n"
	    "test-prog[%ld]: shown\n",
	    (long)getpid(), (long)getpid(), (long)getpid(), (long)getpid());
	ck_assert_str_eq(out, want);
	free(out);
}
END_TEST

START_TEST(long_line_truncated_keeps_newline)
{
	char path[64], *big, *out;
	int saved = capture_start(path, sizeof(path));

	big = malloc(10000);
	memset(big, 'x', 9999);
	big[9999] = '\0';
	log_init("t", LOG_TARGET_STDERR);
	log_info("%s", big);
	log_info("next");
	out = capture_end(saved, path);
	ck_assert_ptr_nonnull(strstr(out, "xxx\nt["));
	ck_assert_uint_lt(strlen(out), 5000);
	ck_assert_int_eq(out[strlen(out) - 1], '\n');
	free(big);
	free(out);
}
END_TEST

/* Under systemd (stderr is the file JOURNAL_STREAM names) a line carries
 * its priority as <N> and no program prefix; any other stderr keeps the
 * plain format even when JOURNAL_STREAM is set (a child of the service). */
START_TEST(journal_stream_gets_priorities)
{
	char path[64], js[64], *out;
	int saved = capture_start(path, sizeof(path));
	struct stat st;

	ck_assert_int_eq(fstat(STDERR_FILENO, &st), 0);
	snprintf(js, sizeof(js), "%llu:%llu", (unsigned long long)st.st_dev,
	    (unsigned long long)st.st_ino);
	setenv("JOURNAL_STREAM", js, 1);
	log_init("prog", LOG_TARGET_STDERR);
	log_info("in id=%s status=%s", "0123456789abcdef", "delivered");
	log_warnx("plain %d", 7);
	errno = ENOENT;
	log_warn("open %s", "/x");
	setenv("JOURNAL_STREAM", "1:2", 1);	/* not our stderr */
	log_init("prog", LOG_TARGET_STDERR);
	log_info("after");
	unsetenv("JOURNAL_STREAM");
	log_init("prog", LOG_TARGET_STDERR);
	out = capture_end(saved, path);
	char want[256];
	snprintf(want, sizeof(want),
	    "<6>in id=0123456789abcdef status=delivered\n"
	    "<4>plain 7\n"
	    "<4>open /x: No such file or directory\n"
	    "prog[%ld]: after\n", (long)getpid());
	ck_assert_str_eq(out, want);
	free(out);
}
END_TEST

/* A control byte that reaches a line unescaped cannot end it early or
 * forge another: one event stays one line. */
START_TEST(control_bytes_never_split_a_line)
{
	char path[64], want[256], *out;
	int saved = capture_start(path, sizeof(path));

	log_init("t", LOG_TARGET_STDERR);
	log_info("pickup name=%s", "a\nt[1]: out id=FAKE status=sent\x1b[31m\r\x7f");
	out = capture_end(saved, path);
	snprintf(want, sizeof(want),
	    "t[%ld]: pickup name=a?t[1]: out id=FAKE status=sent?[31m??\n", (long)getpid());
	ck_assert_str_eq(out, want);
	free(out);
}
END_TEST

START_TEST(fatal_exits_70)
{
	log_init("t", LOG_TARGET_STDERR);
	fatalx("impossible state %d", 1);
}
END_TEST

#define NTHREADS 8
#define NLINES 1000

/* Log NLINES long lines tagged with the thread number. */
static void *
log_thread(void *arg)
{
	int t = (int)(long)arg;
	char pad[300];

	memset(pad, 'a' + t, sizeof(pad) - 1);
	pad[sizeof(pad) - 1] = '\0';
	for (int i = 0; i < NLINES; i++)
		log_info("thread=%d n=%d pad=%s end", t, i, pad);
	return NULL;
}

/* 1 when one captured line is whole: known thread, one pad letter
 * throughout, " end" after it.  Plain C: Check's asserts are too slow here. */
static int
line_whole(const char *line, int *thread)
{
	const char *colon = strchr(line, ':'), *pad = strstr(line, "pad=");
	int t = -1, n = -1;

	if (colon == NULL || pad == NULL ||
	    sscanf(colon + 2, "thread=%d n=%d", &t, &n) != 2 || t < 0 || t >= NTHREADS)
		return 0;
	for (int i = 0; i < 299; i++)
		if (pad[4 + i] != 'a' + t)
			return 0;
	*thread = t;
	return strcmp(pad + 4 + 299, " end") == 0;
}

START_TEST(threads_never_interleave)
{
	pthread_t th[NTHREADS];
	char path[64], *out, *p;
	int counts[NTHREADS] = { 0 };
	int saved = capture_start(path, sizeof(path));

	log_init("t", LOG_TARGET_STDERR);
	for (long i = 0; i < NTHREADS; i++)
		ck_assert_int_eq(pthread_create(&th[i], NULL, log_thread, (void *)i), 0);
	for (int i = 0; i < NTHREADS; i++)
		pthread_join(th[i], NULL);
	out = capture_end(saved, path);
	for (p = out; *p != '\0';) {
		char *nl = strchr(p, '\n');

		int t;

		ck_assert_ptr_nonnull(nl);
		*nl = '\0';
		if (!line_whole(p, &t))
			ck_abort_msg("garbled line: %s", p);
		counts[t]++;
		p = nl + 1;
	}
	for (int i = 0; i < NTHREADS; i++)
		ck_assert_int_eq(counts[i], NLINES);
	free(out);
}
END_TEST

START_TEST(util_strings)
{
	char buf[8], s[] = "MiXeD@Example.COM 123";
	char *p;

	ck_assert_uint_eq(util_strlcpy(buf, "abc", sizeof(buf)), 3);
	ck_assert_str_eq(buf, "abc");
	ck_assert_uint_eq(util_strlcpy(buf, "abcdefghij", sizeof(buf)), 10);
	ck_assert_str_eq(buf, "abcdefg");
	ck_assert_uint_eq(util_strlcpy(buf, "zz", 0), 2);
	ck_assert_str_eq(buf, "abcdefg");
	ck_assert_str_eq(util_lowercase(s), "mixed@example.com 123");
	p = xasprintf("%s-%d", "x", 42);
	ck_assert_str_eq(p, "x-42");
	free(p);
	p = xstrndup("abcdef", 3);
	ck_assert_str_eq(p, "abc");
	free(p);
	ck_assert_ptr_nonnull(util_hostname());
	ck_assert_uint_gt(strlen(util_hostname()), 0);
	ck_assert_ptr_eq(util_hostname(), util_hostname());
}
END_TEST

START_TEST(util_clocks)
{
	uint64_t a = util_monotonic_us(), ms = util_monotonic_ms();
	uint64_t b;

	usleep(2000);
	b = util_monotonic_us();
	ck_assert_uint_ge(b - a, 2000);
	ck_assert_uint_lt(b - a, 2000000);
	ck_assert_uint_ge(util_monotonic_ms(), ms + 2);
}
END_TEST

/* The suite. */
Suite *
unit_suite(void)
{
	Suite *s = suite_create("log");
	TCase *tc = tcase_create("log");

	tcase_set_timeout(tc, 60);
	tcase_add_loop_test(tc, printable, 0,
	    (int)(sizeof(printable_cases) / sizeof(printable_cases[0])));
	tcase_add_test(tc, printable_zero_buffer);
	tcase_add_test(tc, line_format);
	tcase_add_test(tc, long_line_truncated_keeps_newline);
	tcase_add_test(tc, control_bytes_never_split_a_line);
	tcase_add_test(tc, journal_stream_gets_priorities);
	tcase_add_exit_test(tc, fatal_exits_70, 70);
	tcase_add_test(tc, threads_never_interleave);
	tcase_add_test(tc, util_strings);
	tcase_add_test(tc, util_clocks);
	suite_add_tcase(s, tc);
	return s;
}
