/*
 * outmetrics: what smtpgate-outbound exports on /metrics -- recipients by
 * result per smart host, bytes sent, connections and TLS, the queue, the
 * pickup backlog (maildrop/ and pickup/ entries waiting) and bad/.  The
 * scheduler reports results here; the gauges are read at scrape time.
 *
 * It must not know about SMTP or the queue's insides (it asks scheduler.h).
 */
#ifndef SMTPGATE_OUTMETRICS_H
#define SMTPGATE_OUTMETRICS_H

#include <stddef.h>
#include <stdint.h>

#include "relay.h"

struct metrics;
struct sched;
struct pickup_dirs;
struct outmetrics;

enum outmetrics_result {
	OUTMETRICS_DELIVERED,		/* 2xx from the smart host */
	OUTMETRICS_DEFERRED,		/* 4xx or no session: tried again */
	OUTMETRICS_BOUNCED,		/* 5xx: failed for good */
	OUTMETRICS_NRESULTS
};

/* Register everything on m (NULL: count into private cells, export
 * nothing); s and dirs are read at scrape time. */
struct outmetrics *outmetrics_new(struct metrics *m, const struct sched *s,
    const struct pickup_dirs *dirs);
void outmetrics_free(struct outmetrics *om);

/* Make the series of every smart host of cfg (at 0 until used). */
void outmetrics_hosts(struct outmetrics *om, const struct outbound_config *cfg);

/* The cells relay connections bump. */
const struct relay_counters *outmetrics_relay(struct outmetrics *om);

/* One recipient's result from smarthost (its section name; NULL: "none"). */
void outmetrics_rcpt(struct outmetrics *om, const char *smarthost,
    enum outmetrics_result r);
/* A transaction's bytes accepted by smarthost. */
void outmetrics_bytes(struct outmetrics *om, const char *smarthost, uint64_t n);
/* A recipient failed for good past max_queue_lifetime. */
void outmetrics_expired(struct outmetrics *om);

#endif
