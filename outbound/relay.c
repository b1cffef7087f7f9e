/*
 * relay: one SMTP client connection to a smart host, on libevent: the
 * session once connected (relay_connect.c finds the smart host and
 * connects, relay_profile.c holds the configuration snapshot).
 *
 * Runs the pure client state machine over a bufferevent.  STARTTLS wraps
 * the socket bufferevent in an OpenSSL filter (unread input is discarded
 * first); implicit TLS starts with an OpenSSL socket bufferevent.  Every
 * wait has the RFC 5321 4.5.3.2 timeout of its stage.  A failure before a
 * usable session (connect, TLS, 421 or 5xx greeting, TLS not offered)
 * moves on to the next smart host; when all failed the first job is
 * reported with the last failure.  A session with nothing to send idles
 * up to timeout_idle for the next job (the connection cache); a job sent
 * over such a reused session that the server had closed meanwhile goes
 * out again over a new connection (relay_retry_fresh).
 *
 * It must not know about the queue or the spool: jobs come from and go
 * back to the caller through relay_ops.  Passwords are never logged.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <event2/util.h>
#include <openssl/ssl.h>

#include "dotstuff.h"
#include "log.h"
#include "relay.h"
#include "relay_int.h"
#include "tls.h"
#include "util.h"

#define RELAY_CHUNK		65536
#define RELAY_OUT_HIGH		(256 * 1024)

struct relay_job relay_wait_marker;

/* Record why the current host or message failed (our own words). */
void
relay_set_fail(struct relay_conn *c, const char *stage, const char *fmt, ...)
{
	va_list ap;

	memset(&c->fail, 0, sizeof(c->fail));
	c->fail.temporary = true;
	c->fail.stage = stage;
	va_start(ap, fmt);
	vsnprintf(c->fail.reply, sizeof(c->fail.reply), fmt, ap);
	va_end(ap);
}

/* Seconds allowed for a stage. */
static unsigned
relay_stage_timeout(const struct relay_conn *c, enum client_stage st)
{
	switch (st) {
	case CLIENT_STAGE_GREETING:
		return c->prof->t_greeting;
	case CLIENT_STAGE_DATA_INIT:
		return c->prof->t_data_init;
	case CLIENT_STAGE_DATA_BLOCK:
		return c->prof->t_data_block;
	case CLIENT_STAGE_DATA_END:
		return c->prof->t_data_end;
	default:
		return c->prof->t_command;
	}
}

/* Name of a stage for log lines. */
static const char *
relay_stage_name(enum client_stage st)
{
	static const char *names[] = { "greeting", "command", "data-init",
	    "data-block", "data-end", "idle" };

	return (unsigned)st < sizeof(names) / sizeof(names[0]) ? names[st] : "?";
}

/* (Re)start the timeout timer for secs seconds. */
void
relay_arm(struct relay_conn *c, unsigned secs)
{
	struct timeval tv = { secs, 0 };

	evtimer_add(c->timer, &tv);
}

/* Re-arm when the stage changed or a command went out. */
static void
relay_rearm(struct relay_conn *c)
{
	enum client_stage st;

	if (c->client == NULL || c->dead)
		return;
	st = client_stage(c->client);
	if (st != c->stage || c->wrote) {
		c->stage = st;
		c->wrote = false;
		relay_arm(c, relay_stage_timeout(c, st));
	}
}

/* Free the connection's bufferevent and client, ready for another try. */
void
relay_drop_bev(struct relay_conn *c)
{
	if (c->bev != NULL) {
		bufferevent_free(c->bev);
		c->bev = NULL;
	}
	if (c->client != NULL) {
		client_free(c->client);
		c->client = NULL;
	}
	c->connected = c->in_handshake = c->streaming = c->quitting = false;
	c->plain = false;
	util_strlcpy(c->tls, "none", sizeof(c->tls));
}

/* The section name of the smart host being (or last) tried. */
static const char *
relay_smarthost(const struct relay_conn *c)
{
	size_t i = c->host < c->prof->nhosts ? c->host : c->prof->nhosts - 1;

	return c->prof->nhosts > 0 ? c->prof->hosts[i].name : NULL;
}

/* Hand a job back to the caller with a failure (or abandoned). */
static void
relay_report_failure(struct relay_conn *c, struct relay_job *job)
{
	struct relay_outcome o = { 0 };

	if (job == NULL)
		return;
	o.failure = &c->fail;
	o.relay = c->relay;
	o.smarthost = relay_smarthost(c);
	o.tls = c->tls;
	o.abandoned = c->abandon;
	c->ops->done(c->arg, job, &o);
}

/* Deferred destruction, outside any bufferevent callback. */
static void
relay_reap_cb(evutil_socket_t fd, short what, void *arg)
{
	struct relay_conn *c = arg;

	if (c->ai_list != NULL)
		evutil_freeaddrinfo(c->ai_list);
	event_free(c->timer);
	event_free(c->reaper);
	c->ops->closed(c->arg);
	relay_profile_unref(c->prof);
	free(c);
}

/* Close for good: report jobs still held, free the connection later. */
void
relay_close(struct relay_conn *c)
{
	struct relay_job *first = c->first, *job = c->job;
	char tls[sizeof(c->tls)];

	if (c->dead)
		return;
	c->dead = true;
	c->first = c->job = NULL;
	util_strlcpy(tls, c->tls, sizeof(tls));
	relay_drop_bev(c);
	util_strlcpy(c->tls, tls, sizeof(c->tls));	/* the session that failed */
	evtimer_del(c->timer);
	if (c->dnsreq != NULL) {
		evdns_getaddrinfo_cancel(c->dnsreq);
		c->dnsreq = NULL;
	}
	relay_report_failure(c, job);
	relay_report_failure(c, first);
	event_active(c->reaper, 0, 0);
}

/* The queue id of the message c is about, for its log lines ("-" when it
 * holds none: an idle connection). */
const char *
relay_job_id(const struct relay_conn *c)
{
	const struct relay_job *j = c->job != NULL ? c->job : c->first;

	return j != NULL && j != RELAY_WAIT && j->id != NULL ? j->id : "-";
}

/* The connection broke: before a session fail over, after it give up. */
static void
relay_lost(struct relay_conn *c)
{
	if (!c->session) {
		relay_next_host(c);
		return;
	}
	log_info("relay relay=%s id=%s status=lost stage=%s reply=\"%s\"",
	    c->relay, relay_job_id(c), c->fail.stage ? c->fail.stage : "?", c->fail.reply);
	relay_close(c);
}

/*
 * Postfix's connection cache, our side: a session that sat idle may have
 * been closed by the server meanwhile (its own idle timeout).  When the
 * job that went out on such a reused session got no answer at all (EOF,
 * or a 421 to the RSET that opens it), the job is not a delivery attempt:
 * it goes out again over a new connection, found as for a first job.
 * Only once: a new connection is not a reused one.  false when the job
 * stays here (not reused, answered, or shutting down).
 */
static bool
relay_retry_fresh(struct relay_conn *c, const char *why)
{
	if (c->job == NULL || !c->reused || c->client == NULL || c->draining ||
	    c->abandon || !client_txn_unanswered(c->client))
		return false;
	log_info("relay relay=%s id=%s status=stale reply=\"%s\" retry=new-connection",
	    c->relay, relay_job_id(c), why);
	c->first = c->job;
	c->job = NULL;
	c->reused = c->session = c->waiting = false;
	c->sent = 0;
	c->host = 0;
	relay_drop_bev(c);
	evtimer_del(c->timer);
	if (c->ai_list != NULL) {
		evutil_freeaddrinfo(c->ai_list);
		c->ai_list = c->ai_cur = NULL;
	}
	relay_set_fail(c, "connect", "no smart host could be reached");
	relay_host_start(c);
	return true;
}

/*
 * Send iov[0..n) in order after what is buffered.  Over a plain socket
 * with nothing buffered it goes straight to the socket (one writev, no
 * buffering, no write event to enable and disable again); only what the
 * socket does not take is buffered.  Errors are left to the bufferevent,
 * which sees them on its next write.
 */
static void
relay_send(struct relay_conn *c, struct iovec *iov, int n)
{
	struct evbuffer *out = bufferevent_get_output(c->bev);
	evutil_socket_t fd = bufferevent_getfd(c->bev);
	ssize_t w = 0;
	int i;

	if (c->plain && fd >= 0 && evbuffer_get_length(out) == 0) {
		do
			w = writev(fd, iov, n);
		while (w < 0 && errno == EINTR);
	}
	for (i = 0; i < n; i++) {
		if (w > 0 && (size_t)w >= iov[i].iov_len) {
			w -= (ssize_t)iov[i].iov_len;
			continue;
		}
		if (w > 0) {
			bufferevent_write(c->bev, (const char *)iov[i].iov_base + w,
			    iov[i].iov_len - (size_t)w);
			w = 0;
		} else
			bufferevent_write(c->bev, iov[i].iov_base, iov[i].iov_len);
	}
}

/* Write whatever commands the client has queued. */
static void
relay_flush(struct relay_conn *c)
{
	struct iovec iov;
	size_t n;

	iov.iov_base = (void *)client_output(c->client, &n);
	iov.iov_len = n;
	if (n == 0)
		return;
	relay_send(c, &iov, 1);
	client_output_drain(c->client, n);
	c->wrote = true;
}

/* Feed buffered server input to the client; false when nothing happened. */
static bool
relay_feed(struct relay_conn *c)
{
	struct evbuffer *in = bufferevent_get_input(c->bev);
	struct evbuffer_iovec v;
	size_t n;

	if (evbuffer_get_length(in) == 0 || evbuffer_peek(in, -1, NULL, &v, 1) < 1)
		return false;
	n = client_feed(c->client, v.iov_base, v.iov_len);
	evbuffer_drain(in, n);
	return n > 0 || client_event(c->client) != CLIENT_EV_NONE;
}

/* Session ready: send the next message, or QUIT. */
static void
relay_ready(struct relay_conn *c)
{
	struct relay_job *job = NULL;

	if (c->quitting) {	/* QUIT needs no answer here */
		relay_close(c);
		return;
	}
	if (!c->session)
		log_debug("relay relay=%s id=%s status=ready tls=%s", c->relay,
		    relay_job_id(c), c->tls);
	c->session = true;
	c->reused = c->first == NULL;
	if (c->first != NULL) {
		job = c->first;
		c->first = NULL;
	} else if (!c->draining && c->sent < c->prof->per_conn)
		job = c->ops->next(c->arg);
	if (job == RELAY_WAIT) {
		if (!c->waiting)
			log_debug("relay relay=%s status=idle sent=%u", c->relay, c->sent);
		c->waiting = true;
		relay_arm(c, c->prof->t_idle);
		return;
	}
	if (job == NULL) {
		c->quitting = true;
		client_quit(c->client);
		return;
	}
	c->job = job;
	client_send_message(c->client, &job->msg);
}

/* A message finished: hand the results over, back to READY.  false when
 * the connection was a dead cached one and the job went to a new one. */
static bool
relay_done(struct relay_conn *c)
{
	struct relay_outcome o = { 0 };
	struct relay_job *job = c->job;

	if (relay_retry_fresh(c, client_failure(c->client)->reply))
		return false;
	o.results = client_results(c->client, &o.nresults);
	o.relay = c->relay;
	o.smarthost = relay_smarthost(c);
	o.tls = c->tls;
	c->job = NULL;
	c->sent++;
	if (job != NULL)
		c->ops->done(c->arg, job, &o);
	client_ack_done(c->client);
	return true;
}

/* The client gave up on the connection. */
static void
relay_failed(struct relay_conn *c)
{
	c->fail = *client_failure(c->client);
	relay_lost(c);
}

/* 220 to STARTTLS: discard unread input, start the handshake. */
static void
relay_starttls(struct relay_conn *c)
{
	const struct relay_host *h = &c->prof->hosts[c->host];
	struct bufferevent *tb;
	char err[256];
	SSL *ssl;

	evbuffer_drain(bufferevent_get_input(c->bev),
	    evbuffer_get_length(bufferevent_get_input(c->bev)));
	ssl = h->ctx ? tls_client_ssl_new(h->ctx, h->host, h->verify, err, sizeof(err)) : NULL;
	if (ssl == NULL) {
		relay_set_fail(c, "starttls", "TLS set-up failed: %s",
		    h->ctx ? err : "no TLS context");
		relay_lost(c);
		return;
	}
	tb = bufferevent_openssl_filter_new(c->base, c->bev, ssl,
	    BUFFEREVENT_SSL_CONNECTING, BEV_OPT_CLOSE_ON_FREE);
	if (tb == NULL) {
		SSL_free(ssl);
		relay_set_fail(c, "starttls", "TLS filter set-up failed");
		relay_lost(c);
		return;
	}
	c->bev = tb;
	c->plain = false;
	c->in_handshake = true;
	bufferevent_setcb(tb, relay_read_cb, relay_write_cb, relay_event_cb, c);
	relay_arm(c, c->prof->t_command);
	bufferevent_enable(c->bev, EV_READ | EV_WRITE);
}

/* Emit callback of the dot encoder: append to the output buffer. */
static void
relay_emit(void *arg, const char *p, size_t n)
{
	evbuffer_add(arg, p, n);
}

/* Queue more of the body while the output buffer is short. */
static void
relay_body_more(struct relay_conn *c)
{
	struct evbuffer *out = bufferevent_get_output(c->bev);
	const struct relay_job *job = c->job;
	struct iovec iov[2];
	size_t n;

	while (c->body_off < job->bodylen && evbuffer_get_length(out) < RELAY_OUT_HIGH) {
		n = job->bodylen - c->body_off;
		if (n > RELAY_CHUNK)
			n = RELAY_CHUNK;
		if (c->clean) {	/* the last piece goes with the final dot */
			iov[0].iov_base = (void *)(job->body + c->body_off);
			iov[0].iov_len = n;
			iov[1].iov_base = (void *)".\r\n";
			iov[1].iov_len = 3;
			relay_send(c, iov, c->body_off + n == job->bodylen ? 2 : 1);
		} else
			dot_encode(&c->enc, job->body + c->body_off, n, relay_emit, out);
		c->body_off += n;
	}
	if (c->body_off < job->bodylen)
		return;
	if (!c->clean || job->bodylen == 0)
		dot_encode_finish(&c->enc, relay_emit, out);
	c->streaming = false;
	bufferevent_setwatermark(c->bev, EV_WRITE, 0, 0);
	client_body_sent(c->client);
	c->wrote = true;
	relay_process(c);
}

/* 354: start streaming the body. */
static void
relay_body_start(struct relay_conn *c)
{
	if (c->job == NULL) {
		relay_set_fail(c, "data", "body requested without a message");
		relay_close(c);
		return;
	}
	c->streaming = true;
	c->body_off = 0;
	c->clean = dot_encode_is_identity(c->job->body, c->job->bodylen);
	dot_encoder_init(&c->enc);	/* its state stays "start of line" when clean */
	bufferevent_setwatermark(c->bev, EV_WRITE, RELAY_CHUNK, 0);
	c->stage = CLIENT_STAGE_DATA_BLOCK;
	relay_arm(c, c->prof->t_data_block);
	relay_body_more(c);
}

/* Run the client until it needs more input (or the connection ends). */
void
relay_process(struct relay_conn *c)
{
	for (;;) {
		if (c->dead || c->client == NULL || c->streaming || c->in_handshake)
			return;
		relay_flush(c);
		switch (client_event(c->client)) {
		case CLIENT_EV_NONE:
			if (!relay_feed(c)) {
				relay_rearm(c);
				return;
			}
			break;
		case CLIENT_EV_READY:
			relay_ready(c);
			if (c->waiting)
				return;
			break;
		case CLIENT_EV_STARTTLS:
			relay_starttls(c);
			return;
		case CLIENT_EV_BODY:
			relay_body_start(c);
			return;
		case CLIENT_EV_DONE:
			if (!relay_done(c))
				return;
			break;
		case CLIENT_EV_FAILED:
			relay_failed(c);
			return;
		case CLIENT_EV_CLOSED:
			relay_close(c);
			return;
		}
	}
}

/* Input while idle: a 421 before the server closes (or anything else
 * unasked) ends the session; a partial line waits for the rest. */
static void
relay_idle_input(struct relay_conn *c)
{
	relay_feed(c);
	if (client_event(c->client) == CLIENT_EV_READY)
		return;
	c->waiting = false;
	evtimer_del(c->timer);
	relay_process(c);
}

/* Bufferevent read callback. */
void
relay_read_cb(struct bufferevent *bev, void *arg)
{
	struct relay_conn *c = arg;

	if (c->waiting)
		relay_idle_input(c);
	else
		relay_process(c);
}

/* Bufferevent write callback: keep the body flowing. */
void
relay_write_cb(struct bufferevent *bev, void *arg)
{
	struct relay_conn *c = arg;

	if (c->streaming) {
		relay_arm(c, c->prof->t_data_block);
		relay_body_more(c);
	}
}

/* Bufferevent event callback: connected, handshake done, EOF, error. */
void
relay_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct relay_conn *c = arg;
	char why[1024];		/* relay name and TLS text: over CLIENT_REPLY_MAX */

	if (what & BEV_EVENT_CONNECTED) {
		if (!c->connected) {
			relay_connected(c);
		} else if (c->in_handshake) {
			c->in_handshake = false;
			relay_tls_up(c);
			client_tls_started(c->client);
			relay_process(c);
		}
		return;
	}
	if (!c->connected) {
		relay_connect_failed(c, what);
		return;
	}
	if (c->quitting && c->job == NULL) {	/* closed before the 221: fine */
		relay_close(c);
		return;
	}
	if (c->in_handshake)
		relay_tls_failed(c, "starttls");
	else {
		relay_io_reason(c, what, why, sizeof(why));
		relay_set_fail(c, relay_stage_name(client_stage(c->client)), "%s", why);
		if (relay_retry_fresh(c, why))
			return;
	}
	relay_lost(c);
}

/* A stage timed out. */
static void
relay_timeout_cb(evutil_socket_t fd, short what, void *arg)
{
	struct relay_conn *c = arg;
	enum client_stage st;

	if (c->dead)
		return;
	if (c->bev == NULL || !c->connected) {
		relay_set_fail(c, "connect", "connect to %s: timed out", c->relay);
		if (c->bev == NULL) {	/* still resolving */
			relay_next_host(c);
			return;
		}
		relay_drop_bev(c);
		c->ai_cur = c->ai_cur ? c->ai_cur->ai_next : NULL;
		relay_try_addr(c);
		return;
	}
	if (c->waiting) {	/* idle too long: QUIT */
		log_debug("relay relay=%s status=idle-timeout seconds=%u", c->relay,
		    c->prof->t_idle);
		c->draining = true;
		relay_conn_wake(c);
		return;
	}
	if (c->in_handshake) {
		relay_set_fail(c, "starttls", "TLS handshake with %s timed out", c->relay);
		if (c->counters.tls_failures != NULL)
			(*c->counters.tls_failures)++;
		relay_lost(c);
		return;
	}
	st = c->streaming ? CLIENT_STAGE_DATA_BLOCK : client_stage(c->client);
	if (st == CLIENT_STAGE_DATA_END)
		log_warnx("relay relay=%s id=%s timeout after end of data: possible duplicate",
		    c->relay, relay_job_id(c));
	relay_set_fail(c, relay_stage_name(st), "timeout in stage %s from %s",
	    relay_stage_name(st), c->relay);
	relay_lost(c);
}

/* Open a connection for first and then whatever ops->next gives. */
struct relay_conn *
relay_conn_new(const struct relay_loop *loop, struct relay_profile *p,
    const struct relay_counters *counters, struct relay_job *first,
    const struct relay_ops *ops, void *arg)
{
	struct relay_conn *c = xcalloc(1, sizeof(*c));
	struct event_base *base = loop->base;

	c->base = base;
	c->dns = loop->dns;
	c->prof = p;
	p->refs++;
	if (counters != NULL)
		c->counters = *counters;
	c->ops = ops;
	c->arg = arg;
	c->first = first;
	c->timer = evtimer_new(base, relay_timeout_cb, c);
	c->reaper = event_new(base, -1, 0, relay_reap_cb, c);
	if (c->timer == NULL || c->reaper == NULL)
		fatalx("relay: cannot create events");
	util_strlcpy(c->tls, "none", sizeof(c->tls));
	relay_set_fail(c, "connect", "no smart host could be reached");
	relay_host_start(c);
	return c;
}

/* Ask ops->next again after RELAY_WAIT. */
void
relay_conn_wake(struct relay_conn *c)
{
	if (!c->waiting || c->dead)
		return;
	c->waiting = false;
	evtimer_del(c->timer);
	c->stage = CLIENT_STAGE_IDLE;
	c->wrote = true;
	relay_process(c);
}

/* Whether c runs on profile p. */
bool
relay_conn_uses(const struct relay_conn *c, const struct relay_profile *p)
{
	return c->prof == p;
}

/* Stop after the current message. */
void
relay_conn_drain(struct relay_conn *c)
{
	c->draining = true;
	relay_conn_wake(c);
}

/* Drop the connection now; jobs held are reported abandoned. */
void
relay_conn_abort(struct relay_conn *c)
{
	c->abandon = true;
	relay_close(c);
}
