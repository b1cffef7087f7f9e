/*
 * smtpgate-outbound: the send-only relay daemon.  Reads the configuration,
 * takes the outbound spool (role marker and lock), and runs the scheduler
 * (scheduler.c) and its smart-host connections (relay.c) on one libevent
 * loop, with sd_notify, the watchdog, metrics and the signals of SPEC.md:
 * SIGTERM/SIGINT stop gracefully (in-flight transactions get a grace
 * period, then stay queued), SIGHUP reloads (never exits).
 *
 * It must not know about SMTP, the queue format or pickup files.
 */
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>

#include <event2/event.h>

#include "config.h"
#include "daemon.h"
#include "log.h"
#include "metrics.h"
#include "preflight.h"
#include "privs.h"
#include "relay.h"
#include "scheduler.h"
#include "spool.h"
#include "util.h"

#define MAIN_PROG		"smtpgate-outbound"
#define MAIN_GRACE_SECS		10

struct main_ctx {
	struct event_base *base;
	const char *path;
	struct outbound_config *cfg;
	struct sched *sched;
	bool stopping;
};

/* SIGTERM / SIGINT: graceful stop. */
static void
main_sigterm(evutil_socket_t sig, short what, void *arg)
{
	struct main_ctx *m = arg;

	if (m->stopping)
		return;
	m->stopping = true;
	log_info("stop signal=%d grace=%ds", (int)sig, MAIN_GRACE_SECS);
	daemon_notify_stopping();
	sched_stop(m->sched, MAIN_GRACE_SECS, daemon_loop_exit, m->base);
}

/* SIGHUP: reload the configuration; keep the old one on any error. */
static void
main_sighup(evutil_socket_t sig, short what, void *arg)
{
	struct main_ctx *m = arg;
	struct outbound_config *cfg;
	struct relay_profile *p;
	char err[1024];

	if (m->stopping)
		return;
	daemon_notify_reloading();
	if ((cfg = config_load_outbound(m->path, err, sizeof(err))) == NULL ||
	    (p = relay_profile_new(cfg, err, sizeof(err))) == NULL) {
		log_warnx("reload status=failed reason=\"%s\"; keeping the running configuration",
		    err);
		config_free_outbound(cfg);
		daemon_notify_ready();
		return;
	}
	if (strcmp(cfg->spool, m->cfg->spool) != 0)
		log_warnx("reload: the spool path cannot change without a restart; still using %s",
		    m->cfg->spool);
	if (strcmp(cfg->user, m->cfg->user) != 0 || strcmp(cfg->group, m->cfg->group) != 0)
		log_warnx("reload: user/group changed; they apply after a restart as root");
	log_set_target(cfg->log);
	preflight_log_warnings(cfg->warnings, cfg->nwarnings);
	sched_reload(m->sched, cfg, p);
	config_free_outbound(m->cfg);
	m->cfg = cfg;
	log_info("reload status=ok smarthosts=%zu max_connections=%u",
	    cfg->nsmarthosts, cfg->max_connections);
	daemon_notify_ready();
}

/* Add a signal event (kept until exit). */
static struct event *
main_signal(struct main_ctx *m, int sig, event_callback_fn fn)
{
	struct event *ev = evsignal_new(m->base, sig, fn, m);

	if (ev == NULL || event_add(ev, NULL) == -1)
		fatalx("cannot watch signal %d", sig);
	return ev;
}

/* Set up the scheduler and run the loop until stopped. */
static int
main_run(struct main_ctx *m, struct spool *spool, struct relay_profile *p,
    struct metrics *metrics)
{
	struct sched_setup su = { m->base, spool, m->cfg, p, metrics };
	struct event *sigs[3];
	char err[1024];
	size_t i;
	int excode = EX_CANTCREAT;

	/* watched before the (possibly long) queue load, handled after it */
	sigs[0] = main_signal(m, SIGTERM, main_sigterm);
	sigs[1] = main_signal(m, SIGINT, main_sigterm);
	sigs[2] = main_signal(m, SIGHUP, main_sighup);
	m->sched = sched_new(&su, &excode, err, sizeof(err));
	if (m->sched == NULL || sched_start(m->sched, err, sizeof(err)) == -1) {
		log_warnx("%s: %s", spool_path(spool), err);
		if (m->sched != NULL) {
			excode = EX_CANTCREAT;
			sched_free(m->sched);
		}
		for (i = 0; i < 3; i++)
			event_free(sigs[i]);
		return excode;
	}
	daemon_watchdog_start(m->base);
	daemon_notify_ready();
	log_info("start version=%s spool=%s smarthosts=%zu queue=%zu", SMTPGATE_VERSION,
	    spool_path(spool), m->cfg->nsmarthosts, sched_queue_size(m->sched));
	event_base_dispatch(m->base);
	log_info("stop status=done queue=%zu", sched_queue_size(m->sched));
	for (i = 0; i < 3; i++)
		event_free(sigs[i]);
	sched_free(m->sched);
	return EX_OK;
}

/*
 * Started as root: become the service user before anything is read or
 * touched (the smart host's files are read as the units read them).  Then
 * the start-time checks -t and smtpgate-check make (preflight.c): the
 * spool, what the daemon keeps in it belonging to it (tmp/ and queue/
 * files, its directories; not producers' files), and that it can write
 * there; the TLS contexts are built next, by relay_profile_new().
 */
static int
main_privs(const struct outbound_config *cfg)
{
	struct preflight pf;
	char err[1024];
	int rc;

	if ((rc = privs_daemon_start(cfg->user, cfg->group, err, sizeof(err))) != 0) {
		log_warnx("%s: %s", cfg->path, err);
		return rc;
	}
	if ((rc = preflight_outbound(cfg, PREFLIGHT_OWN_TLS, &pf)) != EX_OK)
		log_warnx("%s", pf.err);
	return rc;
}

/* Open the spool, metrics and the loop; returns the exit code. */
static int
main_daemon(struct main_ctx *m, const struct daemon_opts *o)
{
	struct metrics *metrics;
	struct relay_profile *p;
	struct spool *spool;
	char err[1024];
	int rc;

	if ((rc = main_privs(m->cfg)) != EX_OK)
		return rc;
	if ((p = relay_profile_new(m->cfg, err, sizeof(err))) == NULL) {
		log_warnx("%s: %s", o->config, err);
		return EX_CONFIG;
	}
	if (daemon_detach(o) == -1) {
		relay_profile_unref(p);
		return EX_OSERR;
	}
	if ((rc = spool_open(m->cfg->spool, SPOOL_ROLE_OUTBOUND, &spool, err, sizeof(err))) != EX_OK) {
		log_warnx("%s", err);
		relay_profile_unref(p);
		return rc;
	}
	if ((m->base = event_base_new()) == NULL)
		fatalx("cannot create the event loop");
	metrics = metrics_new("smtpgate_outbound");
	daemon_metrics(metrics, MAIN_PROG);
	if (m->cfg->metrics_enabled && metrics_listen(metrics, m->base,
	    &m->cfg->metrics_listen, err, sizeof(err)) == -1) {
		log_warnx("metrics_listen %s: %s", m->cfg->metrics_listen.text, err);
		rc = EX_UNAVAILABLE;
		relay_profile_unref(p);
	} else {
		rc = main_run(m, spool, p, metrics);
	}
	metrics_free(metrics);
	event_base_free(m->base);
	spool_close(spool);
	return rc;
}

int
main(int argc, char **argv)
{
	struct main_ctx m = { 0 };
	struct daemon_opts o;
	char err[1024];
	int rc;

	daemon_parse_args(argc, argv, CONFIG_DEFAULT_OUTBOUND, &o);
	if (o.test_only)
		return preflight_test(o.config, CONFIG_OUTBOUND);
	log_init(MAIN_PROG, LOG_TARGET_STDERR);
	log_set_verbose(o.verbose);
	signal(SIGPIPE, SIG_IGN);
	m.path = o.config;
	if ((m.cfg = config_load_outbound(o.config, err, sizeof(err))) == NULL) {
		log_warnx("%s", err);
		return EX_CONFIG;
	}
	log_set_target(m.cfg->log);
	preflight_log_warnings(m.cfg->warnings, m.cfg->nwarnings);
	rc = main_daemon(&m, &o);
	config_free_outbound(m.cfg);
	return rc;
}
