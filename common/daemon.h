/*
 * daemon: what both daemons do around their event loop.  The common
 * command line (-c FILE, -t, -f, -v, -V), service-manager integration
 * (libsystemd's sd_notify: READY, RELOADING, STOPPING, STATUS, WATCHDOG;
 * a no-op without NOTIFY_SOCKET or without libsystemd), the watchdog ping
 * sent from a timer on the event loop itself (so a stalled loop gets the
 * daemon restarted), and the event-loop lag that timer measures.
 */
#ifndef SMTPGATE_DAEMON_H
#define SMTPGATE_DAEMON_H

#include <stdbool.h>
#include <stdint.h>

struct event_base;

struct daemon_opts {
	const char *config;	/* -c, else the default */
	bool test_only;		/* -t */
	bool foreground;	/* -f, or implied under systemd */
	bool verbose;		/* -v */
};

/*
 * Parse argv.  -V prints "<progname> <version>" and exits 0; a usage error
 * prints usage to stderr and exits 64 (EX_USAGE).
 */
void daemon_parse_args(int argc, char **argv, const char *default_config,
    struct daemon_opts *o);

/* Detach (fork, setsid, stdio to /dev/null) unless foreground; 0 or -1. */
int daemon_detach(const struct daemon_opts *o);

void daemon_notify_ready(void);
void daemon_notify_reloading(void);
void daemon_notify_stopping(void);
void daemon_notify_status(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/*
 * Start the loop timer (every 250 ms, or half the systemd watchdog
 * interval if shorter) that pings the watchdog and measures lag.
 */
void daemon_watchdog_start(struct event_base *base);
/* A "stopped" callback for the daemons' stop steps: arg is the struct
 * event_base whose loop is left. */
void daemon_loop_exit(void *base);
/* Latest / worst-in-last-minute lag of that timer, in milliseconds. */
uint64_t daemon_loop_lag_ms(void);
uint64_t daemon_loop_lag_max_ms(void);

struct metrics;
/* Register <prefix>_loop_lag_seconds, _loop_lag_max_seconds and
 * smtpgate_build_info{program,version} (both daemons export them). */
void daemon_metrics(struct metrics *m, const char *program);

#endif
