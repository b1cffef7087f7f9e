/*
 * smtpgate-inbound: the receive-only ESMTP daemon.  Start-up (config,
 * spool ownership, Maildirs, listening sockets, metrics), the event loop,
 * signals (SIGTERM/SIGINT graceful stop, SIGHUP reload) and the periodic
 * status line.  Everything per connection lives in conn.c, everything on
 * disk in delivery.c.
 *
 * Must not speak SMTP or write mail files itself.
 */
#include <errno.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sysexits.h>
#include <unistd.h>

#include <event2/event.h>

#include "config.h"
#include "budget.h"
#include "conn.h"
#include "daemon.h"
#include "delivery.h"
#include "diskspace.h"
#include "gen.h"
#include "listener.h"
#include "log.h"
#include "maildir.h"
#include "mboxsize.h"
#include "metrics.h"
#include "preflight.h"
#include "privs.h"
#include "spool.h"
#include "util.h"

#define PROGNAME	"smtpgate-inbound"
#define STALE_TMP_AGE	(36 * 3600)	/* seconds */
#define GRACE_SECONDS	10		/* DATA may finish after SIGTERM */
#define STATUS_SECONDS	60
#define DELIVERY_THREADS 2

struct inbound {
	struct daemon_opts opts;
	struct event_base *base;
	struct spool *spool;
	struct delivery *delivery;
	struct listener *listener;
	struct inbound_gen *gen;	/* the current generation */
	struct metrics *metrics;
	struct inbound_stats stats;
	struct conn_env env;
	struct event *sig_term, *sig_int, *sig_hup;
	struct event *status_ev, *grace_ev, *hard_ev;
	bool stopping;
};

/* With mailbox_size_limit: a first look at every mailbox's size now. */
static void
sizes_watch(struct mboxsize *sizes, const struct inbound_config *cfg)
{
	if (cfg->mailbox_size_limit == 0)
		return;
	for (size_t i = 0; i < cfg->nmailboxes; i++)
		mboxsize_watch(sizes, cfg->mailboxes[i].name);
}

/* Raise the soft descriptor limit to the hard one (thousands of sessions). */
static void
raise_nofile(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == -1)
		return;
	if (rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl) == -1)
			log_warn("setrlimit RLIMIT_NOFILE");
	}
}

/* Gauge: open connections. */
static double
gauge_open(void *arg)
{
	struct inbound *in = arg;

	return in->listener ? (double)listener_open_count(in->listener) : 0;
}

/* Gauge: messages answered 250 and not yet in their new/. */
static double
gauge_unpublished(void *arg)
{
	struct inbound *in = arg;

	return in->delivery ? (double)delivery_unpublished(in->delivery) : 0;
}

/* Gauge: 1 while the commit log acknowledges, 0 while it waits for a
 * checkpoint after a failure. */
static double
gauge_log_ok(void *arg)
{
	struct inbound *in = arg;

	return in->delivery && delivery_log_error(in->delivery) != 0 ? 0 : 1;
}

/* The inbound counters in the order /metrics shows them: where each
 * lives in struct inbound_stats, its name and help; by_reason: one
 * counter per reject reason (an array of REJECT_NREASONS). */
static const struct inbound_counter {
	size_t off;
	const char *name, *help;
	bool by_reason;
} inbound_counters[] = {
	{ offsetof(struct inbound_stats, connections_total), "connections_total",
	    "Connections accepted (refused ones included)", false },
	{ offsetof(struct inbound_stats, messages_accepted), "messages_delivered_total",
	    "Messages stored in every recipient's mailbox and answered 250", false },
	{ offsetof(struct inbound_stats, messages_rejected), "messages_rejected_total",
	    "Messages refused after their data (bad bytes, too big, bad BDAT)", false },
	{ offsetof(struct inbound_stats, rejections), "rejections_total",
	    "Refusals (4xx/5xx replies) by reason", true },
	{ offsetof(struct inbound_stats, bytes_received), "received_bytes_total",
	    "Bytes read from clients", false },
	{ offsetof(struct inbound_stats, tls_handshakes), "tls_handshakes_total",
	    "STARTTLS handshakes completed", false },
	{ offsetof(struct inbound_stats, tls_failures), "tls_handshake_failures_total",
	    "STARTTLS handshakes failed", false },
};

/* Register the counters; serve them when metrics_listen is set. */
static int
metrics_setup(struct inbound *in, char *err, size_t errlen)
{
	struct metrics *m = metrics_new("smtpgate_inbound");

	in->metrics = m;
	for (size_t i = 0; i < sizeof(inbound_counters) / sizeof(inbound_counters[0]); i++) {
		const struct inbound_counter *c = &inbound_counters[i];
		uint64_t **slot = (uint64_t **)(void *)((char *)&in->stats + c->off);

		if (!c->by_reason)
			*slot = metrics_counter(m, c->name, c->help);
		for (int r = 0; c->by_reason && r < REJECT_NREASONS; r++)
			slot[r] = metrics_counter_label(m, c->name, c->help, "reason",
			    reject_name(r));
	}
	metrics_gauge(m, "connections_open", "Open connections", gauge_open, in);
	metrics_gauge(m, "unpublished_messages", "Messages answered 250 (durable in the "
	    "commit log) not yet in their Maildir's new/", gauge_unpublished, in);
	metrics_gauge(m, "commit_log_ok", "1 while the commit log acknowledges; 0 after a "
	    "failed flush, publish or checkpoint until a checkpoint succeeds", gauge_log_ok, in);
	daemon_metrics(m, PROGNAME);
	if (!in->gen->cfg->metrics_enabled)
		return 0;
	return metrics_listen(m, in->base, &in->gen->cfg->metrics_listen, err, errlen);
}

/* Every STATUS_SECONDS: one status line (and the service manager's STATUS). */
static void
status_cb(evutil_socket_t fd, short what, void *arg)
{
	struct inbound *in = arg;
	size_t open = listener_open_count(in->listener);
	unsigned long long msgs = *in->stats.messages_accepted;

	size_t unpub = in->delivery ? delivery_unpublished(in->delivery) : 0;
	int lerr = in->delivery ? delivery_log_error(in->delivery) : 0;

	log_info("status connections=%zu messages=%llu rejected=%llu loop_lag_ms=%llu "
	    "loop_lag_max_ms=%llu unpublished=%zu log=%s", open, msgs,
	    (unsigned long long)*in->stats.messages_rejected,
	    (unsigned long long)daemon_loop_lag_ms(), (unsigned long long)daemon_loop_lag_max_ms(),
	    unpub, lerr ? "failed" : "ok");
	daemon_notify_status("%zu connections, %llu messages%s", open, msgs,
	    lerr ? ", NOT acknowledging (commit log)" : "");
}

/* The grace period is over: cut the sessions still in DATA. */
static void
grace_cb(evutil_socket_t fd, short what, void *arg)
{
	struct inbound *in = arg;

	log_info("stop: grace period over, closing %zu connections",
	    listener_open_count(in->listener));
	listener_kill(in->listener);
}

/* Last resort: the loop is left even if a client never reads its 421. */
static void
hard_cb(evutil_socket_t fd, short what, void *arg)
{
	struct inbound *in = arg;

	event_base_loopexit(in->base, NULL);
}

/* SIGTERM / SIGINT: graceful stop. */
static void
stop_cb(evutil_socket_t sig, short what, void *arg)
{
	struct inbound *in = arg;
	struct timeval grace = { GRACE_SECONDS, 0 }, hard = { GRACE_SECONDS + 10, 0 };

	if (in->stopping)
		return;
	in->stopping = true;
	daemon_notify_stopping();
	log_info("stop: signal=%d connections=%zu", (int)sig, listener_open_count(in->listener));
	in->grace_ev = evtimer_new(in->base, grace_cb, in);
	in->hard_ev = evtimer_new(in->base, hard_cb, in);
	evtimer_add(in->grace_ev, &grace);
	evtimer_add(in->hard_ev, &hard);
	listener_stop(in->listener, daemon_loop_exit, in->base);	/* all gone */
}

/* Warn about reloaded keys that need a restart. */
static void
reload_warn(const struct inbound_config *old, const struct inbound_config *cfg)
{
	bool same = old->nlisten == cfg->nlisten;

	if (strcmp(old->spool, cfg->spool) != 0)
		log_warnx("reload: spool change %s -> %s refused; still using %s until restart",
		    old->spool, cfg->spool, old->spool);
	for (size_t i = 0; same && i < cfg->nlisten; i++)
		same = strcmp(old->listen[i].text, cfg->listen[i].text) == 0;
	if (!same)
		log_warnx("reload: listen addresses changed; they apply after a restart");
	if (strcmp(old->user, cfg->user) != 0 || strcmp(old->group, cfg->group) != 0)
		log_warnx("reload: user/group changed; they apply after a restart as root");
}

/* SIGHUP: new limits, mailboxes and TLS context for new sessions. */
static void
reload_cb(evutil_socket_t sig, short what, void *arg)
{
	struct inbound *in = arg;
	char err[1024];
	struct inbound_config *cfg;
	struct inbound_gen *g;

	daemon_notify_reloading();
	cfg = config_load_inbound(in->opts.config, err, sizeof(err));
	if (cfg == NULL) {
		log_warnx("reload: %s; keeping the running configuration", err);
		daemon_notify_ready();
		return;
	}
	reload_warn(in->gen->cfg, cfg);
	preflight_log_warnings(cfg->warnings, cfg->nwarnings);
	free(cfg->spool);
	cfg->spool = xstrdup(spool_path(in->spool));
	if (maildir_prepare(cfg->spool, cfg, err, sizeof(err)) == -1 ||
	    (g = gen_new(cfg, err, sizeof(err))) == NULL) {
		log_warnx("reload: %s; keeping the running configuration", err);
		config_free_inbound(cfg);
		daemon_notify_ready();
		return;
	}
	log_set_target(cfg->log);
	delivery_set_perms(in->delivery, cfg);
	sizes_watch(in->env.sizes, cfg);
	budget_set_limit(in->env.budget, cfg->memory_budget);
	listener_set_gen(in->listener, g);
	gen_unref(in->gen);
	in->gen = g;
	log_info("reload: config=%s mailboxes=%zu", cfg->path, cfg->nmailboxes);
	daemon_notify_ready();
}

/* Signal events, the status timer and the watchdog. */
static void
loop_setup(struct inbound *in)
{
	struct timeval tv = { STATUS_SECONDS, 0 };

	in->sig_term = evsignal_new(in->base, SIGTERM, stop_cb, in);
	in->sig_int = evsignal_new(in->base, SIGINT, stop_cb, in);
	in->sig_hup = evsignal_new(in->base, SIGHUP, reload_cb, in);
	evsignal_add(in->sig_term, NULL);
	evsignal_add(in->sig_int, NULL);
	evsignal_add(in->sig_hup, NULL);
	in->status_ev = event_new(in->base, -1, EV_PERSIST, status_cb, in);
	evtimer_add(in->status_ev, &tv);
	daemon_watchdog_start(in->base);
}

/* Spool, Maildirs, stale tmp files; a sysexits code on failure. */
static int
spool_setup(struct inbound *in)
{
	const struct inbound_config *cfg = in->gen->cfg;
	struct preflight pf;
	char err[1024];
	int rc;

	/* the checks -t and smtpgate-check make (the TLS context is built) */
	if ((rc = preflight_inbound(cfg, PREFLIGHT_OWN_TLS, &pf)) != EX_OK) {
		log_warnx("%s", pf.err);
		return rc;
	}
	rc = spool_open(cfg->spool, SPOOL_ROLE_INBOUND, &in->spool, err, sizeof(err));
	if (rc != 0) {
		log_warnx("%s", err);
		return rc;
	}
	if (maildir_prepare(cfg->spool, cfg, err, sizeof(err)) == -1) {
		log_warnx("%s", err);
		return EX_CANTCREAT;
	}
	return 0;
}

/*
 * The event base: 3 priorities, 1 by default and 2 for the reads of
 * sessions whose body is being spilled (conn.c), and after 16 callbacks
 * or 2 ms of those the loop looks for other events again, so a flood of
 * large bodies delays another session's dialogue by a few ms, not by a
 * pass over every flooding session.
 */
static struct event_base *
loop_base(void)
{
	struct event_config *ec = event_config_new();
	struct timeval tv = { 0, 2000 };
	struct event_base *base;

	if (ec == NULL)
		return NULL;
	if (event_config_set_max_dispatch_interval(ec, &tv, 16, 2) == -1)
		log_warnx("event_config_set_max_dispatch_interval failed");
	base = event_base_new_with_config(ec);
	event_config_free(ec);
	if (base && event_base_priority_init(base, 3) == -1)
		log_warnx("event_base_priority_init failed; one priority for all events");
	return base;
}

/*
 * Everything between the config and the loop; a sysexits code on failure.
 * The sockets are bound first, so that a daemon started as root can take
 * port 25 and then drop to its user before it touches the spool; they
 * listen last, when the delivery is in place (an open port means ready).
 */
static int
start(struct inbound *in)
{
	const struct inbound_config *cfg = in->gen->cfg;
	char err[1024];
	unsigned stale;
	int rc;

	if ((in->base = loop_base()) == NULL) {
		log_warnx("event_base_new failed");
		return EX_OSERR;
	}
	in->env = (struct conn_env){ in->base, NULL, &in->stats,
	    budget_new(cfg->memory_budget), NULL, NULL };
	in->listener = listener_new(&in->env, in->gen);
	loop_setup(in);		/* signals are handled before anyone can connect */
	if (metrics_setup(in, err, sizeof(err)) == -1 ||
	    listener_bind(in->listener, cfg, err, sizeof(err)) == -1) {
		log_warnx("%s", err);
		return EX_OSERR;
	}
	if ((rc = privs_daemon_start(cfg->user, cfg->group, err, sizeof(err))) != 0) {
		log_warnx("%s: %s", cfg->path, err);
		return rc;
	}
	if ((rc = spool_setup(in)) != 0)
		return rc;
	in->delivery = delivery_new(in->base, &(struct delivery_spool){ spool_path(in->spool),
	    spool_tmpfd(in->spool) }, in->gen->cfg, DELIVERY_THREADS, err, sizeof(err));
	if (in->delivery == NULL) {
		log_warnx("delivery: %s", err);
		return EX_OSERR;
	}
	in->env.delivery = in->delivery;
	in->env.space = diskspace_new(spool_tmpfd(in->spool));
	if ((in->env.sizes = mboxsize_new(spool_path(in->spool), err, sizeof(err))) == NULL) {
		log_warnx("%s", err);
		return EX_OSERR;
	}
	sizes_watch(in->env.sizes, cfg);
	/* after the commit log's recovery, which may need tmp/ files */
	stale = delivery_clean_tmp(spool_tmpfd(in->spool), STALE_TMP_AGE);
	if (stale)
		log_info("spool: removed %u stale files from %s/tmp", stale, cfg->spool);
	if (listener_listen(in->listener, err, sizeof(err)) == -1) {
		log_warnx("%s", err);
		return EX_OSERR;
	}
	return 0;
}

/* Free what start() and loop_setup() made. */
static void
finish(struct inbound *in)
{
	struct event *evs[] = { in->sig_term, in->sig_int, in->sig_hup,
	    in->status_ev, in->grace_ev, in->hard_ev };

	delivery_free(in->delivery);	/* first: results may still close conns */
	listener_free(in->listener);
	mboxsize_free(in->env.sizes);
	diskspace_free(in->env.space);
	for (size_t i = 0; i < sizeof(evs) / sizeof(evs[0]); i++)
		if (evs[i])
			event_free(evs[i]);
	if (in->metrics)
		metrics_free(in->metrics);
	if (in->base)
		event_base_free(in->base);
	if (in->spool)
		spool_close(in->spool);
	gen_unref(in->gen);
	budget_free(in->env.budget);
}

/* Parse arguments, load the config, start, run the loop, stop. */
int
main(int argc, char **argv)
{
	struct inbound in = { 0 };
	struct inbound_config *cfg;
	char err[1024];
	int rc;

	daemon_parse_args(argc, argv, CONFIG_DEFAULT_INBOUND, &in.opts);
	log_init(PROGNAME, LOG_TARGET_STDERR);
	log_set_verbose(in.opts.verbose);
	if (in.opts.test_only)
		return preflight_test(in.opts.config, CONFIG_INBOUND);
	if ((cfg = config_load_inbound(in.opts.config, err, sizeof(err))) == NULL) {
		fprintf(stderr, "%s: %s\n", PROGNAME, err);
		return EX_CONFIG;
	}
	signal(SIGPIPE, SIG_IGN);
	raise_nofile();
	if ((in.gen = gen_new(cfg, err, sizeof(err))) == NULL) {
		fprintf(stderr, "%s: %s: %s\n", PROGNAME, cfg->path, err);
		config_free_inbound(cfg);
		return EX_CONFIG;
	}
	log_set_target(cfg->log);
	preflight_log_warnings(cfg->warnings, cfg->nwarnings);
	if (daemon_detach(&in.opts) == -1) {
		log_warn("detach");
		return EX_OSERR;
	}
	if ((rc = start(&in)) != 0) {
		finish(&in);
		return rc;
	}
	log_info("start: version=%s spool=%s mailboxes=%zu", SMTPGATE_VERSION, cfg->spool,
	    cfg->nmailboxes);
	daemon_notify_ready();
	status_cb(-1, 0, &in);	/* the first status line (and STATUS=) at once */
	event_base_dispatch(in.base);
	log_info("stop: done");
	finish(&in);
	return 0;
}
