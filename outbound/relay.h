/*
 * relay: the connection edge of smtpgate-outbound.  One relay_conn is one
 * SMTP client connection to a smart host (libevent bufferevents, STARTTLS
 * or implicit TLS through OpenSSL, RFC 5321 4.5.3.2 timeouts), driving the
 * pure client state machine (client.h) and streaming message bodies
 * through dot_encode().  Smart hosts are tried in order until one gives a
 * usable session (failover); the connection is then reused for further
 * messages the scheduler hands out.
 *
 * It must not know about the queue, the spool or retry policy: messages
 * come in as relay_job (addresses and a body in memory), per-recipient
 * results go out through relay_ops.
 */
#ifndef SMTPGATE_RELAY_H
#define SMTPGATE_RELAY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "client.h"
#include "config.h"

struct event_base;
struct evdns_base;
struct relay_conn;

/* A refcounted snapshot of what connections need from the configuration:
 * smart hosts (with TLS contexts and AUTH passwords), names, timeouts. */
struct relay_profile;

/* Counters (metrics cells) the connections update; any may be NULL. */
struct relay_counters {
	uint64_t *connections;
	uint64_t *tls_handshakes;
	uint64_t *tls_failures;
};

/* One message to send; owned by the caller until relay_ops.done. */
struct relay_job {
	const char *id;			/* the queue id, for log lines only */
	struct client_message msg;
	const char *body;		/* the message as stored (any line ends) */
	size_t bodylen;
};

/* What happened to a job.  results (n == msg.nrcpts, same order) when the
 * transaction ran; otherwise failure says why nothing was decided. */
struct relay_outcome {
	const struct client_rcpt_result *results;
	size_t nresults;
	const struct client_failure *failure;
	const char *relay;		/* "host[ip]:port", or "none" */
	const char *smarthost;		/* the section name of the smart host
					   that decided (the last one tried) */
	const char *tls;		/* "TLSv1.3" or "none" */
	bool abandoned;			/* shutdown: nothing is known, keep queued */
};

/* What ops->next returns for "nothing now, but more may come": the
 * connection idles (no command sent) until relay_conn_wake(), or QUITs
 * after timeout_idle (RELAY_IDLE_SECS when the configuration has none).
 * A job handed to a session that idled and got no answer at all (the
 * server had closed it) is sent again over a new connection, and is not
 * reported as a failure. */
extern struct relay_job relay_wait_marker;
#define RELAY_WAIT (&relay_wait_marker)
#define RELAY_IDLE_SECS 10

struct relay_ops {
	/* The connection can take another message: a job, RELAY_WAIT, or NULL
	 * to QUIT. */
	struct relay_job *(*next)(void *arg);
	/* A job finished (always called once per job handed over). */
	void (*done)(void *arg, struct relay_job *job, const struct relay_outcome *o);
	/* The connection is gone; arg is not used again. */
	void (*closed)(void *arg);
};

/* Build a profile from cfg (reads password files, creates TLS contexts);
 * NULL with err. */
struct relay_profile *relay_profile_new(const struct outbound_config *cfg,
    char *err, size_t errlen);
void relay_profile_unref(struct relay_profile *p);

/* The event loop a connection runs on and its resolver. */
struct relay_loop {
	struct event_base *base;
	struct evdns_base *dns;
};

/* Open a connection (to the first smart host that works) and send first,
 * then whatever ops->next hands out, up to messages_per_connection. */
struct relay_conn *relay_conn_new(const struct relay_loop *loop, struct relay_profile *p,
    const struct relay_counters *counters, struct relay_job *first,
    const struct relay_ops *ops, void *arg);

/* A connection that got RELAY_WAIT asks ops->next again (no-op otherwise). */
void relay_conn_wake(struct relay_conn *c);

/* true when c was opened with profile p (after a reload, connections of
 * the old profile are not given more messages). */
bool relay_conn_uses(const struct relay_conn *c, const struct relay_profile *p);

/* Finish the current message, then QUIT instead of asking for more. */
void relay_conn_drain(struct relay_conn *c);
/* Drop the connection now; the current job is reported abandoned. */
void relay_conn_abort(struct relay_conn *c);

#endif
