/*
 * relay: one SMTP client connection to a smart host, on libevent.
 *
 * Resolves the smart host (evdns_getaddrinfo: /etc/hosts and literals
 * never block), connects to each address in turn, sets TCP_NODELAY, and
 * runs the pure client state machine over a bufferevent.  STARTTLS wraps
 * the socket bufferevent in an OpenSSL filter (unread input is discarded
 * first); implicit TLS starts with an OpenSSL socket bufferevent.  Every
 * wait has the RFC 5321 4.5.3.2 timeout of its stage.  A failure before a
 * usable session (connect, TLS, 421 or 5xx greeting, TLS not offered)
 * moves on to the next smart host; when all failed the first job is
 * reported with the last failure.
 *
 * It must not know about the queue or the spool: jobs come from and go
 * back to the caller through relay_ops.  Passwords are never logged.
 */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/dns.h>
#include <event2/event.h>
#include <event2/util.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "dotstuff.h"
#include "fsutil.h"
#include "log.h"
#include "relay.h"
#include "tls.h"
#include "util.h"

#define RELAY_MAX_REPLY		65536
#define RELAY_CHUNK		65536
#define RELAY_OUT_HIGH		(256 * 1024)
#define RELAY_PASSWORD_MAX	4096

struct relay_host {
	char *name;
	char *host;
	unsigned port;
	enum smarthost_tls tls;
	bool verify;
	SSL_CTX *ctx;			/* NULL for tls = none */
	char *auth_user;
	char *password;
};

struct relay_profile {
	int refs;
	char *helo;
	struct relay_host *hosts;
	size_t nhosts;
	unsigned per_conn;
	unsigned t_connect, t_greeting, t_command;
	unsigned t_data_init, t_data_block, t_data_end;
	unsigned t_idle;			/* an idle session waits this long */
};

struct relay_conn {
	struct event_base *base;
	struct evdns_base *dns;
	struct relay_profile *prof;
	struct relay_counters counters;
	const struct relay_ops *ops;
	void *arg;
	struct event *timer;
	struct event *reaper;
	struct evdns_getaddrinfo_request *dnsreq;
	unsigned dnsgen;
	struct evutil_addrinfo *ai_list, *ai_cur;
	size_t host;			/* index of the smart host being tried */
	struct bufferevent *bev;
	struct client *client;
	bool connected;			/* TCP (and implicit TLS) up */
	bool plain;			/* bev is the socket itself (no TLS) */
	bool in_handshake;		/* STARTTLS handshake running */
	bool session;			/* READY reached: no more failover */
	bool quitting, draining, abandon, dead;
	bool wrote;			/* commands sent since the timer was armed */
	bool waiting;			/* ops->next said RELAY_WAIT */
	bool reused;			/* c->job went out after an earlier one */
	enum client_stage stage;	/* stage the timer was armed for */
	struct relay_job *first, *job;
	unsigned sent;
	bool streaming;
	bool clean;			/* the body goes out as it is */
	struct dot_encoder enc;
	size_t body_off;
	char relay[320];
	char tls[32];
	struct client_failure fail;
};

struct relay_job relay_wait_marker;

static void relay_host_start(struct relay_conn *c);
static void relay_process(struct relay_conn *c);
static void relay_close(struct relay_conn *c);
static void relay_read_cb(struct bufferevent *bev, void *arg);
static void relay_write_cb(struct bufferevent *bev, void *arg);
static void relay_event_cb(struct bufferevent *bev, short what, void *arg);

/* Read the first line of a password file into *out. */
static int
relay_read_password(const char *path, char **out, char *err, size_t errlen)
{
	size_t len;
	char *buf;

	buf = fsutil_read_file(AT_FDCWD, path, RELAY_PASSWORD_MAX, &len, err, errlen);
	if (buf == NULL)
		return -1;
	buf[strcspn(buf, "\r\n")] = '\0';
	*out = xstrdup(buf);
	explicit_bzero(buf, len);
	free(buf);
	return 0;
}

/* Fill one relay_host from its configuration section. */
static int
relay_host_init(struct relay_host *h, const struct outbound_smarthost *sh,
    char *err, size_t errlen)
{
	char e[512];

	h->name = xstrdup(sh->name);
	h->host = xstrdup(sh->host);
	h->port = sh->port;
	h->tls = sh->tls;
	h->verify = sh->tls_verify;
	if (sh->tls != SMARTHOST_TLS_NONE) {
		h->ctx = tls_client_ctx_new(sh->ca_file, sh->tls_verify, e, sizeof(e));
		if (h->ctx == NULL) {
			snprintf(err, errlen, "smarthost %s: %s", sh->name, e);
			return -1;
		}
	}
	if (sh->auth_user != NULL) {
		h->auth_user = xstrdup(sh->auth_user);
		if (relay_read_password(sh->auth_password_file, &h->password,
		    e, sizeof(e)) == -1) {
			snprintf(err, errlen, "smarthost %s: auth_password_file: %s",
			    sh->name, e);
			return -1;
		}
	}
	return 0;
}

/* Free one relay_host, wiping the password. */
static void
relay_host_free(struct relay_host *h)
{
	free(h->name);
	free(h->host);
	free(h->auth_user);
	if (h->password != NULL) {
		explicit_bzero(h->password, strlen(h->password));
		free(h->password);
	}
	if (h->ctx != NULL)
		SSL_CTX_free(h->ctx);
}

/* Snapshot the configuration for new connections. */
struct relay_profile *
relay_profile_new(const struct outbound_config *cfg, char *err, size_t errlen)
{
	struct relay_profile *p;
	size_t i;

	p = xcalloc(1, sizeof(*p));
	p->refs = 1;
	p->helo = xstrdup(cfg->hostname);
	p->per_conn = cfg->messages_per_connection ? cfg->messages_per_connection : 1;
	p->t_connect = cfg->timeout_connect;
	p->t_greeting = cfg->timeout_greeting;
	p->t_command = cfg->timeout_command;
	p->t_data_init = cfg->timeout_data_init;
	p->t_data_block = cfg->timeout_data_block;
	p->t_data_end = cfg->timeout_data_end;
	p->t_idle = cfg->timeout_idle ? cfg->timeout_idle : RELAY_IDLE_SECS;
	p->hosts = xcalloc(cfg->nsmarthosts, sizeof(*p->hosts));
	p->nhosts = cfg->nsmarthosts;
	for (i = 0; i < cfg->nsmarthosts; i++) {
		if (relay_host_init(&p->hosts[i], &cfg->smarthosts[i], err, errlen) == -1) {
			relay_profile_unref(p);
			return NULL;
		}
	}
	return p;
}

/* Drop a reference; the last one frees. */
void
relay_profile_unref(struct relay_profile *p)
{
	size_t i;

	if (p == NULL || --p->refs > 0)
		return;
	for (i = 0; i < p->nhosts; i++)
		relay_host_free(&p->hosts[i]);
	free(p->hosts);
	free(p->helo);
	free(p);
}

/* Record why the current host or message failed (our own words). */
static void LOG_PRINTF(3, 4)
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
static void
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
static void
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
static void
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

/* Log a failed smart host and go on to the next one. */
static void
relay_next_host(struct relay_conn *c)
{
	log_info("relay relay=%s status=failed stage=%s reply=\"%s\"",
	    c->relay, c->fail.stage ? c->fail.stage : "connect", c->fail.reply);
	relay_drop_bev(c);
	if (c->dnsreq != NULL) {
		evdns_getaddrinfo_cancel(c->dnsreq);
		c->dnsreq = NULL;
	}
	if (c->ai_list != NULL) {
		evutil_freeaddrinfo(c->ai_list);
		c->ai_list = c->ai_cur = NULL;
	}
	c->host++;
	relay_host_start(c);
}

/* The connection broke: before a session fail over, after it give up. */
static void
relay_lost(struct relay_conn *c)
{
	if (!c->session) {
		relay_next_host(c);
		return;
	}
	log_info("relay relay=%s status=lost stage=%s reply=\"%s\"",
	    c->relay, c->fail.stage ? c->fail.stage : "?", c->fail.reply);
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
	log_info("relay relay=%s status=stale reply=\"%s\" retry=new-connection",
	    c->relay, why);
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

/* Note the TLS version of the established session; count the handshake. */
static void
relay_tls_up(struct relay_conn *c)
{
	char version[32], cipher[64];
	SSL *ssl = bufferevent_openssl_get_ssl(c->bev);

	if (ssl == NULL)
		return;
	tls_describe(ssl, version, sizeof(version), cipher, sizeof(cipher));
	util_strlcpy(c->tls, version, sizeof(c->tls));
	if (c->counters.tls_handshakes != NULL)
		(*c->counters.tls_handshakes)++;
	log_debug("relay relay=%s tls=%s cipher=%s", c->relay, version, cipher);
}

/* Describe a TLS failure on the current bufferevent into c->fail. */
static void
relay_tls_failed(struct relay_conn *c, const char *stage)
{
	char buf[256] = "";
	unsigned long e;
	SSL *ssl = bufferevent_openssl_get_ssl(c->bev);
	long vr = ssl ? SSL_get_verify_result(ssl) : X509_V_OK;

	while ((e = bufferevent_get_openssl_error(c->bev)) != 0)
		ERR_error_string_n(e, buf, sizeof(buf));
	if (vr != X509_V_OK)
		relay_set_fail(c, stage, "TLS handshake failed: certificate: %s",
		    X509_verify_cert_error_string(vr));
	else
		relay_set_fail(c, stage, "TLS handshake failed: %s",
		    buf[0] ? buf : "connection closed");
	if (c->counters.tls_failures != NULL)
		(*c->counters.tls_failures)++;
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
		log_debug("relay relay=%s status=ready tls=%s", c->relay, c->tls);
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
static void
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
static void
relay_read_cb(struct bufferevent *bev, void *arg)
{
	struct relay_conn *c = arg;

	if (c->waiting)
		relay_idle_input(c);
	else
		relay_process(c);
}

/* Bufferevent write callback: keep the body flowing. */
static void
relay_write_cb(struct bufferevent *bev, void *arg)
{
	struct relay_conn *c = arg;

	if (c->streaming) {
		relay_arm(c, c->prof->t_data_block);
		relay_body_more(c);
	}
}

/* TCP (or implicit TLS) connection established. */
static void
relay_connected(struct relay_conn *c)
{
	evutil_socket_t fd = bufferevent_getfd(c->bev);
	int one = 1;

	c->connected = true;
	if (fd >= 0 && setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) == -1)
		log_warn("relay relay=%s: setsockopt TCP_NODELAY", c->relay);
	if (c->prof->hosts[c->host].tls == SMARTHOST_TLS_IMPLICIT)
		relay_tls_up(c);
	c->stage = CLIENT_STAGE_GREETING;
	c->wrote = false;
	relay_arm(c, c->prof->t_greeting);
	relay_process(c);
}

/* Try the next address of this host, or the next host. */
static void relay_try_addr(struct relay_conn *c);

/* Connecting failed: describe it, move on. */
static void
relay_connect_failed(struct relay_conn *c, short what)
{
	int e = EVUTIL_SOCKET_ERROR();

	if (c->prof->hosts[c->host].tls == SMARTHOST_TLS_IMPLICIT &&
	    bufferevent_get_openssl_error(c->bev) != 0) {
		relay_tls_failed(c, "tls");
		relay_next_host(c);
		return;
	}
	relay_set_fail(c, "connect", "connect to %s: %s", c->relay,
	    (what & BEV_EVENT_EOF) ? "connection closed by peer" :
	    e ? evutil_socket_error_to_string(e) : "failed (no error reported)");
	relay_drop_bev(c);
	c->ai_cur = c->ai_cur ? c->ai_cur->ai_next : NULL;
	relay_try_addr(c);
}

/*
 * Why an established connection ended, in words, never errno 0's
 * "Success": a TLS error from OpenSSL, else the socket's error, else the
 * peer closed it (EOF, or a TLS peer that left without close_notify).
 */
static void
relay_io_reason(struct relay_conn *c, short what, char *buf, size_t len)
{
	unsigned long e, tls = 0;
	evutil_socket_t fd = bufferevent_getfd(c->bev);
	socklen_t elen = sizeof(int);
	int err = 0;
	char text[256];

	while ((e = bufferevent_get_openssl_error(c->bev)) != 0)
		if (ERR_GET_LIB(e) != 0 &&	/* not a bare SSL_ERROR_* code */
		    ERR_GET_REASON(e) != SSL_R_UNEXPECTED_EOF_WHILE_READING)
			tls = e;
	if (tls != 0) {
		ERR_error_string_n(tls, text, sizeof(text));
		snprintf(buf, len, "connection to %s failed: TLS error: %s", c->relay, text);
		return;
	}
	if (!(what & BEV_EVENT_EOF)) {
		if (fd < 0 || getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &elen) == -1)
			err = 0;
		if (err == 0)
			err = EVUTIL_SOCKET_ERROR();
	}
	if (err != 0 && err != EAGAIN && err != EINPROGRESS)
		snprintf(buf, len, "connection to %s failed: %s", c->relay,
		    evutil_socket_error_to_string(err));
	else
		snprintf(buf, len, "connection closed by %s", c->relay);
}

/* Bufferevent event callback: connected, handshake done, EOF, error. */
static void
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
		log_warnx("relay relay=%s timeout after end of data: possible duplicate",
		    c->relay);
	relay_set_fail(c, relay_stage_name(st), "timeout in stage %s from %s",
	    relay_stage_name(st), c->relay);
	relay_lost(c);
}

/* Fill c->relay as host[ip]:port for an address. */
static void
relay_name(struct relay_conn *c, const struct sockaddr *sa, socklen_t salen)
{
	const struct relay_host *h = &c->prof->hosts[c->host];
	char ip[INET6_ADDRSTRLEN + 16] = "?";	/* numeric, with a scope id */

	if (sa != NULL)
		getnameinfo(sa, salen, ip, sizeof(ip), NULL, 0, NI_NUMERICHOST);
	snprintf(c->relay, sizeof(c->relay), "%s[%s]:%u", h->host, ip, h->port);
}

/* Start connecting to one address; -1 when it cannot even start. */
static int
relay_connect(struct relay_conn *c, const struct evutil_addrinfo *ai)
{
	const struct relay_host *h = &c->prof->hosts[c->host];
	struct client_params cp = { 0 };
	char err[256];
	SSL *ssl;

	relay_name(c, ai->ai_addr, ai->ai_addrlen);
	cp.helo_name = c->prof->helo;
	cp.tls = h->tls;
	cp.auth_user = h->auth_user;
	cp.auth_password = h->password;
	cp.max_reply = RELAY_MAX_REPLY;
	if (h->tls == SMARTHOST_TLS_IMPLICIT) {
		ssl = tls_client_ssl_new(h->ctx, h->host, h->verify, err, sizeof(err));
		if (ssl == NULL) {
			relay_set_fail(c, "tls", "TLS set-up failed: %s", err);
			return -1;
		}
		c->bev = bufferevent_openssl_socket_new(c->base, -1, ssl,
		    BUFFEREVENT_SSL_CONNECTING, BEV_OPT_CLOSE_ON_FREE);
	} else {
		c->bev = bufferevent_socket_new(c->base, -1, BEV_OPT_CLOSE_ON_FREE);
		c->plain = c->bev != NULL;
	}
	if (c->bev == NULL) {
		relay_set_fail(c, "connect", "connect to %s: cannot create a socket", c->relay);
		return -1;
	}
	c->client = client_new(&cp, h->tls == SMARTHOST_TLS_IMPLICIT);
	bufferevent_setcb(c->bev, relay_read_cb, relay_write_cb, relay_event_cb, c);
	if (bufferevent_socket_connect(c->bev, ai->ai_addr, (int)ai->ai_addrlen) == -1) {
		relay_set_fail(c, "connect", "connect to %s: %s", c->relay, strerror(errno));
		relay_drop_bev(c);
		return -1;
	}
	bufferevent_enable(c->bev, EV_READ | EV_WRITE);
	if (c->counters.connections != NULL)
		(*c->counters.connections)++;
	relay_arm(c, c->prof->t_connect);
	return 0;
}

/* Try the remaining addresses of this host, then the next host. */
static void
relay_try_addr(struct relay_conn *c)
{
	for (; c->ai_cur != NULL; c->ai_cur = c->ai_cur->ai_next) {
		if (relay_connect(c, c->ai_cur) == 0)
			return;
	}
	relay_next_host(c);
}

/* evdns_getaddrinfo callback. */
static void
relay_dns_cb(int result, struct evutil_addrinfo *res, void *arg)
{
	struct relay_conn *c = arg;

	if (result == EVUTIL_EAI_CANCEL)
		return;		/* c may be gone */
	c->dnsgen++;
	c->dnsreq = NULL;
	if (result != 0) {
		relay_set_fail(c, "connect", "cannot resolve %s: %s",
		    c->prof->hosts[c->host].host, evutil_gai_strerror(result));
		relay_next_host(c);
		return;
	}
	c->ai_list = c->ai_cur = res;
	relay_try_addr(c);
}

/* Start on smart host c->host, or give up when none is left. */
static void
relay_host_start(struct relay_conn *c)
{
	struct evutil_addrinfo hints = { 0 };
	struct evdns_getaddrinfo_request *req;
	const struct relay_host *h;
	char port[16];
	unsigned gen;

	if (c->host >= c->prof->nhosts) {
		relay_close(c);
		return;
	}
	h = &c->prof->hosts[c->host];
	relay_name(c, NULL, 0);
	snprintf(port, sizeof(port), "%u", h->port);
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_protocol = IPPROTO_TCP;
	relay_arm(c, c->prof->t_connect);
	gen = c->dnsgen;
	req = evdns_getaddrinfo(c->dns, h->host, port, &hints, relay_dns_cb, c);
	if (c->dnsgen == gen)
		c->dnsreq = req;	/* still pending (no synchronous answer) */
}

/* Open a connection for first and then whatever ops->next gives. */
struct relay_conn *
relay_conn_new(struct event_base *base, struct evdns_base *dns, struct relay_profile *p,
    const struct relay_counters *counters, struct relay_job *first,
    const struct relay_ops *ops, void *arg)
{
	struct relay_conn *c = xcalloc(1, sizeof(*c));

	c->base = base;
	c->dns = dns;
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
