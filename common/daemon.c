/*
 * daemon: what both daemons do around their event loop -- the common
 * command line, detaching, service-manager notifications (sd_notify when
 * built with libsystemd, a no-op otherwise), and the loop timer that pings
 * the systemd watchdog and measures event-loop lag.
 *
 * It knows nothing about SMTP, spools or configuration contents.
 */
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "smtpgate_build.h"
#if HAVE_LIBSYSTEMD
#include <systemd/sd-daemon.h>
#endif

#include "daemon.h"
#include "log.h"
#include "metrics.h"
#include "util.h"

#define DAEMON_TICK_US		250000	/* loop timer period at most */
#define DAEMON_LAG_WINDOW	60	/* seconds kept for the worst lag */

static struct event *daemon_tick_ev;
static uint64_t daemon_tick_us;		/* the timer's period */
static uint64_t daemon_tick_last;	/* monotonic us of the last tick */
static bool daemon_watchdog_on;
static _Atomic uint64_t daemon_lag_ms;
/* worst lag per second of the last minute: [sec % WINDOW] */
static _Atomic uint64_t daemon_lag_bucket[DAEMON_LAG_WINDOW];
static _Atomic uint64_t daemon_lag_stamp[DAEMON_LAG_WINDOW];

/* Print usage to f. */
static void
daemon_usage(FILE *f, const char *prog, const char *default_config)
{
	fprintf(f, "usage: %s [-ftvV] [-c FILE] | --help | --version\n"
	    "  -c FILE  configuration file (default %s)\n"
	    "  -t       check the configuration and the spool, print ok or the reason, exit\n"
	    "  -f       stay in the foreground (implied under systemd)\n"
	    "  -v       verbose (debug) logging\n"
	    "  -V, --version  print the version and exit\n"
	    "  -h, --help     print this usage and exit\n", prog, default_config);
}

/* Parse the common command line (see daemon.h). */
void
daemon_parse_args(int argc, char **argv, const char *default_config,
    struct daemon_opts *o)
{
	const char *prog = argc > 0 ? argv[0] : "smtpgate";
	int ch;

	if (strrchr(prog, '/') != NULL)
		prog = strrchr(prog, '/') + 1;

	memset(o, 0, sizeof(*o));
	o->config = default_config;
	/* the long forms, anywhere among the options (getopt knows no long ones) */
	for (int i = 1; i < argc && argv[i][0] == '-' && strcmp(argv[i], "--") != 0; i++) {
		if (strcmp(argv[i], "--help") == 0) {
			daemon_usage(stdout, prog, default_config);
			exit(EX_OK);
		}
		if (strcmp(argv[i], "--version") == 0) {
			printf("%s %s\n", prog, SMTPGATE_VERSION);
			exit(EX_OK);
		}
		if (strcmp(argv[i], "-c") == 0)
			i++;	/* skip the file name */
	}
	optind = 1;
	opterr = 1;
	while ((ch = getopt(argc, argv, "c:ftvVh")) != -1) {
		switch (ch) {
		case 'c':
			o->config = optarg;
			break;
		case 'f':
			o->foreground = true;
			break;
		case 't':
			o->test_only = true;
			break;
		case 'v':
			o->verbose = true;
			break;
		case 'V':
			printf("%s %s\n", prog, SMTPGATE_VERSION);
			exit(EX_OK);
		case 'h':
			daemon_usage(stdout, prog, default_config);
			exit(EX_OK);
		default:
			daemon_usage(stderr, prog, default_config);
			exit(EX_USAGE);
		}
	}
	if (optind < argc) {
		fprintf(stderr, "%s: unexpected argument: %s\n", prog, argv[optind]);
		daemon_usage(stderr, prog, default_config);
		exit(EX_USAGE);
	}
	/* systemd runs services in the foreground */
	if (getenv("NOTIFY_SOCKET") != NULL || getenv("INVOCATION_ID") != NULL)
		o->foreground = true;
}

/* Detach unless foreground; keeps the cwd so relative -c paths still work. */
int
daemon_detach(const struct daemon_opts *o)
{
	if (o->foreground)
		return 0;
	if (daemon(1, 0) < 0) {
		log_warn("daemon");
		return -1;
	}
	return 0;
}

/* Send one notification line; a no-op without libsystemd. */
static void
daemon_notify(const char *state)
{
#if HAVE_LIBSYSTEMD
	(void)sd_notify(0, state);
#else
	(void)state;
#endif
}

/* READY=1: start-up finished. */
void
daemon_notify_ready(void)
{
	daemon_notify("READY=1");
}

/* RELOADING=1 with the timestamp Type=notify-reload asks for. */
void
daemon_notify_reloading(void)
{
	struct timespec ts;
	char buf[64];

	clock_gettime(CLOCK_MONOTONIC, &ts);
	snprintf(buf, sizeof(buf), "RELOADING=1\nMONOTONIC_USEC=%llu",
	    (unsigned long long)ts.tv_sec * 1000000ULL +
	    (unsigned long long)ts.tv_nsec / 1000ULL);
	daemon_notify(buf);
}

/* STOPPING=1: graceful stop begun. */
void
daemon_notify_stopping(void)
{
	daemon_notify("STOPPING=1");
}

/* STATUS=<formatted text>. */
void
daemon_notify_status(const char *fmt, ...)
{
	char buf[512];
	va_list ap;
	int n;

	n = snprintf(buf, sizeof(buf), "STATUS=");
	va_start(ap, fmt);
	vsnprintf(buf + n, sizeof(buf) - (size_t)n, fmt, ap);
	va_end(ap);
	daemon_notify(buf);
}

/* Record one lag sample (ms) in the latest value and its second's bucket. */
static void
daemon_lag_record(uint64_t lag_ms, uint64_t now_us)
{
	uint64_t sec = now_us / 1000000, slot = sec % DAEMON_LAG_WINDOW;

	atomic_store(&daemon_lag_ms, lag_ms);
	if (atomic_load(&daemon_lag_stamp[slot]) != sec) {
		atomic_store(&daemon_lag_bucket[slot], 0);
		atomic_store(&daemon_lag_stamp[slot], sec);
	}
	if (lag_ms > atomic_load(&daemon_lag_bucket[slot]))
		atomic_store(&daemon_lag_bucket[slot], lag_ms);
}

/* Loop timer: ping the watchdog and measure how late this tick is. */
static void
daemon_tick(evutil_socket_t fd, short what, void *arg)
{
	uint64_t now = util_monotonic_us(), late = 0;

	(void)fd;
	(void)what;
	(void)arg;
	if (now - daemon_tick_last > daemon_tick_us)
		late = now - daemon_tick_last - daemon_tick_us;
	daemon_tick_last = now;
	daemon_lag_record(late / 1000, now);
	if (daemon_watchdog_on)
		daemon_notify("WATCHDOG=1");
}

/* The timer period: 250 ms, or half the watchdog interval if shorter. */
static uint64_t
daemon_tick_period(void)
{
	uint64_t period = DAEMON_TICK_US;
#if HAVE_LIBSYSTEMD
	uint64_t wd = 0;

	if (sd_watchdog_enabled(0, &wd) > 0 && wd > 0) {
		daemon_watchdog_on = true;
		if (wd / 2 < period)
			period = wd / 2 > 0 ? wd / 2 : 1;
	}
#endif
	return period;
}

/* A stop callback (arg: the struct event_base): everything has stopped,
 * leave the loop. */
void
daemon_loop_exit(void *base)
{
	event_base_loopexit(base, NULL);
}

/* Start the loop timer on base (see daemon.h); calling again restarts it. */
void
daemon_watchdog_start(struct event_base *base)
{
	struct timeval tv;

	if (daemon_tick_ev != NULL)
		event_free(daemon_tick_ev);
	daemon_tick_us = daemon_tick_period();
	tv.tv_sec = (time_t)(daemon_tick_us / 1000000);
	tv.tv_usec = (suseconds_t)(daemon_tick_us % 1000000);
	daemon_tick_ev = event_new(base, -1, EV_PERSIST, daemon_tick, NULL);
	if (daemon_tick_ev == NULL)
		fatalx("daemon: cannot create the loop timer");
	daemon_tick_last = util_monotonic_us();
	if (event_add(daemon_tick_ev, &tv) < 0)
		fatalx("daemon: cannot start the loop timer");
	if (daemon_watchdog_on)
		daemon_notify("WATCHDOG=1");
}

/* Lag of the latest tick, in milliseconds. */
uint64_t
daemon_loop_lag_ms(void)
{
	return atomic_load(&daemon_lag_ms);
}

/* Worst lag seen in the last minute, in milliseconds. */
uint64_t
daemon_loop_lag_max_ms(void)
{
	uint64_t sec = util_monotonic_us() / 1000000, worst = 0;
	size_t i;

	for (i = 0; i < DAEMON_LAG_WINDOW; i++) {
		uint64_t stamp = atomic_load(&daemon_lag_stamp[i]);
		uint64_t v = atomic_load(&daemon_lag_bucket[i]);

		if (stamp + DAEMON_LAG_WINDOW > sec && v > worst)
			worst = v;
	}
	return worst;
}

/* Gauge: the latest tick's lag, in seconds. */
static double
daemon_gauge_lag(void *arg)
{
	(void)arg;
	return (double)daemon_loop_lag_ms() / 1000.0;
}

/* Gauge: the worst lag of the last minute, in seconds. */
static double
daemon_gauge_lag_max(void *arg)
{
	(void)arg;
	return (double)daemon_loop_lag_max_ms() / 1000.0;
}

/* Register what both daemons export: loop lag and smtpgate_build_info. */
void
daemon_metrics(struct metrics *m, const char *program)
{
	const char *kv[] = { "program", program, "version", SMTPGATE_VERSION, NULL };

	metrics_gauge(m, "loop_lag_seconds", "Lag of the event loop's latest "
	    "250 ms tick, in seconds", daemon_gauge_lag, NULL);
	metrics_gauge(m, "loop_lag_max_seconds", "Worst event-loop lag of the last "
	    "minute, in seconds", daemon_gauge_lag_max, NULL);
	metrics_info(m, "smtpgate_build_info", "The program and its version; always 1", kv);
}
