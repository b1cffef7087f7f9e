/*
 * Unit tests for common/daemon.c: the command line (with exit codes), the
 * systemd notifications (received on a real NOTIFY_SOCKET datagram socket)
 * and the loop-lag measurement of the watchdog timer.
 */
#include <check.h>
#include <limits.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "check_main.h"
#include "daemon.h"
#include "smtpgate_build.h"

/* Parse a NULL-terminated argument list. */
static void
parse(struct daemon_opts *o, const char *first, ...)
{
	char *argv[16];
	int argc = 0;
	va_list ap;
	const char *a;

	argv[argc++] = (char *)"smtpgate-inbound";
	va_start(ap, first);
	for (a = first; a != NULL && argc < 15; a = va_arg(ap, const char *))
		argv[argc++] = (char *)a;
	va_end(ap);
	argv[argc] = NULL;
	daemon_parse_args(argc, argv, "/etc/smtpgate/inbound.conf", o);
}

static void
clear_env(void)
{
	unsetenv("NOTIFY_SOCKET");
	unsetenv("INVOCATION_ID");
	unsetenv("WATCHDOG_USEC");
	unsetenv("WATCHDOG_PID");
}

START_TEST(test_args_defaults)
{
	struct daemon_opts o;

	clear_env();
	parse(&o, NULL);
	ck_assert_str_eq(o.config, "/etc/smtpgate/inbound.conf");
	ck_assert(!o.test_only && !o.foreground && !o.verbose);
}
END_TEST

START_TEST(test_args_all)
{
	struct daemon_opts o;

	clear_env();
	parse(&o, "-c", "/tmp/x.conf", "-t", "-f", "-v", NULL);
	ck_assert_str_eq(o.config, "/tmp/x.conf");
	ck_assert(o.test_only && o.foreground && o.verbose);
	parse(&o, "-tfv", "-c/tmp/y.conf", NULL);
	ck_assert_str_eq(o.config, "/tmp/y.conf");
	ck_assert(o.test_only && o.foreground && o.verbose);
}
END_TEST

/* Under systemd the foreground is implied. */
START_TEST(test_args_systemd_foreground)
{
	struct daemon_opts o;

	clear_env();
	setenv("INVOCATION_ID", "0123456789abcdef", 1);
	parse(&o, NULL);
	ck_assert(o.foreground);
	clear_env();
	setenv("NOTIFY_SOCKET", "/nonexistent", 1);
	parse(&o, NULL);
	ck_assert(o.foreground);
}
END_TEST

START_TEST(test_args_version_exits_0)
{
	struct daemon_opts o;

	parse(&o, "-V", NULL);
}
END_TEST

START_TEST(test_args_unknown_exits_64)
{
	struct daemon_opts o;

	freopen("/dev/null", "w", stderr);
	parse(&o, "-x", NULL);
}
END_TEST

START_TEST(test_args_missing_value_exits_64)
{
	struct daemon_opts o;

	freopen("/dev/null", "w", stderr);
	parse(&o, "-c", NULL);
}
END_TEST

START_TEST(test_args_extra_exits_64)
{
	struct daemon_opts o;

	freopen("/dev/null", "w", stderr);
	parse(&o, "-f", "stray", NULL);
}
END_TEST

/* A bound datagram socket standing in for systemd's notify socket. */
static char notify_dir[PATH_MAX];

static int
notify_socket(char *path, size_t pathsz)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	const char *dir = notify_dir;
	int fd;

	testdir_make(notify_dir, sizeof(notify_dir));
	snprintf(path, pathsz, "%s/notify", dir);
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&sun, sizeof(sun)), 0);
	setenv("NOTIFY_SOCKET", path, 1);
	return fd;
}

/* The next datagram on fd (within 5 s) into buf; "" on timeout. */
static const char *
next_msg(int fd, char *buf, size_t bufsz)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	ssize_t n;

	buf[0] = '\0';
	if (poll(&p, 1, 5000) != 1)
		return buf;
	n = recv(fd, buf, bufsz - 1, 0);
	buf[n > 0 ? n : 0] = '\0';
	return buf;
}

/* READY, STATUS, RELOADING and STOPPING reach the notify socket. */
START_TEST(test_notify_messages)
{
	char path[PATH_MAX + 16], buf[512];
	int fd;

	if (!HAVE_LIBSYSTEMD)
		return;
	clear_env();
	fd = notify_socket(path, sizeof(path));
	daemon_notify_ready();
	ck_assert_str_eq(next_msg(fd, buf, sizeof(buf)), "READY=1");
	daemon_notify_status("queue=%d", 3);
	ck_assert_str_eq(next_msg(fd, buf, sizeof(buf)), "STATUS=queue=3");
	daemon_notify_reloading();
	ck_assert_ptr_nonnull(strstr(next_msg(fd, buf, sizeof(buf)), "RELOADING=1\nMONOTONIC_USEC="));
	daemon_notify_stopping();
	ck_assert_str_eq(next_msg(fd, buf, sizeof(buf)), "STOPPING=1");
	close(fd);
	testdir_remove(notify_dir);
}
END_TEST

/* Without NOTIFY_SOCKET the notifications are harmless no-ops. */
START_TEST(test_notify_without_socket)
{
	clear_env();
	daemon_notify_ready();
	daemon_notify_status("x");
	daemon_notify_stopping();
	ck_assert_uint_eq(daemon_loop_lag_ms(), 0);
}
END_TEST

/* With a watchdog the timer pings WATCHDOG=1 at half the interval. */
START_TEST(test_watchdog_pings)
{
	struct event_base *base = event_base_new();
	struct timeval tv = { 0, 450000 };
	char path[PATH_MAX + 16], buf[512], pid[32];
	int fd, pings = 0;

	if (!HAVE_LIBSYSTEMD)
		return;
	clear_env();
	fd = notify_socket(path, sizeof(path));
	snprintf(pid, sizeof(pid), "%ld", (long)getpid());
	setenv("WATCHDOG_USEC", "200000", 1);	/* 100 ms ticks */
	setenv("WATCHDOG_PID", pid, 1);
	daemon_watchdog_start(base);
	event_base_loopexit(base, &tv);
	event_base_dispatch(base);
	while (strcmp(next_msg(fd, buf, sizeof(buf)), "WATCHDOG=1") == 0 && pings < 100) {
		pings++;
		if (pings >= 4)
			break;
	}
	/* one at start plus one per 100 ms tick: 250 ms ticks would give 2 */
	ck_assert_int_ge(pings, 4);
	close(fd);
	testdir_remove(notify_dir);
	event_base_free(base);
}
END_TEST

/* One-shot timer: stall the loop for 600 ms. */
static void
stall(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	usleep(600000);
}

/* A stalled loop shows up as lag; a free-running loop shows little. */
START_TEST(test_loop_lag)
{
	struct event_base *base = event_base_new();
	struct timeval at = { 0, 50000 }, end = { 1, 200000 };
	struct event *ev;

	clear_env();
	daemon_watchdog_start(base);
	event_base_loopexit(base, &(struct timeval){ 0, 600000 });
	event_base_dispatch(base);
	ck_assert_uint_lt(daemon_loop_lag_max_ms(), 200);

	ev = evtimer_new(base, stall, NULL);
	evtimer_add(ev, &at);
	event_base_loopexit(base, &end);
	event_base_dispatch(base);
	ck_assert_uint_ge(daemon_loop_lag_max_ms(), 250);
	ck_assert_uint_lt(daemon_loop_lag_max_ms(), 2000);
	event_free(ev);
	event_base_free(base);
}
END_TEST

Suite *
unit_suite(void)
{
	Suite *s = suite_create("daemon");
	TCase *ta = tcase_create("args");
	TCase *tn = tcase_create("notify");

	tcase_add_test(ta, test_args_defaults);
	tcase_add_test(ta, test_args_all);
	tcase_add_test(ta, test_args_systemd_foreground);
	tcase_add_exit_test(ta, test_args_version_exits_0, EX_OK);
	tcase_add_exit_test(ta, test_args_unknown_exits_64, EX_USAGE);
	tcase_add_exit_test(ta, test_args_missing_value_exits_64, EX_USAGE);
	tcase_add_exit_test(ta, test_args_extra_exits_64, EX_USAGE);
	suite_add_tcase(s, ta);
	tcase_add_test(tn, test_notify_messages);
	tcase_add_test(tn, test_notify_without_socket);
	tcase_add_test(tn, test_watchdog_pings);
	tcase_add_test(tn, test_loop_lag);
	tcase_set_timeout(tn, 30);
	suite_add_tcase(s, tn);
	return s;
}
