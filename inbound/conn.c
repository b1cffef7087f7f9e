/*
 * conn: the libevent edge of one inbound SMTP connection (see conn.h).
 * Bytes read from the bufferevent go to the pure session; its replies go
 * back out; its events (message, STARTTLS, close) are acted on here.
 * Reading is bounded by a read high-watermark, and a client that does not
 * read its replies stops being read once OUT_HIGH bytes are queued.
 *
 * Must not know SMTP syntax (session does) or how files are written
 * (delivery does).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>

#include "conn.h"
#include "delivery.h"
#include "id.h"
#include "log.h"
#include "tls.h"
#include "util.h"

#define READ_HIGH	(256 * 1024)	/* read high-watermark */
#define OUT_HIGH	(64 * 1024)	/* stop feeding past this much output */
#define LINGER_MS	20		/* poll interval while the last bytes go out */
#define LINGER_MAX	250		/* polls before giving up (5 s) */

enum conn_state {
	CONN_OPEN,
	CONN_TLS_FLUSH,		/* STARTTLS: 220 going out, reading paused */
	CONN_TLS_HANDSHAKE,
	CONN_CLOSING,		/* last replies going out */
	CONN_DEAD,		/* socket gone, waiting for a delivery result */
};

struct conn {
	const struct conn_env *env;
	struct inbound_gen *gen;
	struct session *sess;
	struct bufferevent *bev;	/* the top: socket or TLS filter */
	struct bufferevent *under;	/* the socket under a TLS filter */
	struct event *linger_ev;
	unsigned linger_n;
	enum conn_state state;
	bool in_data;			/* timeouts currently set for DATA */
	bool stopping;
	char id[ID_LEN + 1];
	char ip[64];
	char client[80];		/* ip:port */
	char tls_version[32];
	char tls_cipher[96];
	struct delivery_job *job;	/* message being delivered */
	char queue_id[ID_LEN + 1];
	char from[300];			/* log copy of the pending message */
	size_t msg_size, msg_nrcpt;
	unsigned messages;
	void (*closed)(void *arg);
	void *closed_arg;
};

static void conn_process(struct conn *c);
static void conn_close(struct conn *c);

/* One more holder of generation g. */
struct inbound_gen *
conn_gen_ref(struct inbound_gen *g)
{
	g->refs++;
	return g;
}

/* One holder less; the last one frees policy, TLS context and config. */
void
conn_gen_unref(struct inbound_gen *g)
{
	if (g == NULL || --g->refs > 0)
		return;
	policy_free(g->policy);
	if (g->ssl_ctx)
		SSL_CTX_free(g->ssl_ctx);
	config_free_inbound(g->cfg);
	free(g);
}

/* Numeric peer address text (IPv4-mapped shown as IPv4) and port. */
void
conn_addr_text(const struct sockaddr *sa, char *ip, size_t iplen, unsigned *port)
{
	if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)sa;

		*port = ntohs(s6->sin6_port);
		if (IN6_IS_ADDR_V4MAPPED(&s6->sin6_addr))
			inet_ntop(AF_INET, &s6->sin6_addr.s6_addr[12], ip, iplen);
		else
			inet_ntop(AF_INET6, &s6->sin6_addr, ip, iplen);
	} else if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *s4 = (const struct sockaddr_in *)sa;

		*port = ntohs(s4->sin_port);
		inet_ntop(AF_INET, &s4->sin_addr, ip, iplen);
	} else {
		*port = 0;
		util_strlcpy(ip, "unknown", iplen);
	}
}

/* Session callback: is addr one of our mailboxes? */
static int
conn_rcpt_check(void *arg, const char *addr)
{
	struct conn *c = arg;

	return policy_lookup(c->gen->policy, addr) >= 0 ? 0 : -1;
}

/* true for a note that rejects a whole message (not just a command). */
static bool
conn_message_reject(const char *kv)
{
	static const char *const msg[] = { "-in-data", "message-too-big", "bdat-syntax" };

	if (strncmp(kv, "reject=", 7) != 0)
		return false;
	for (size_t i = 0; i < sizeof(msg) / sizeof(msg[0]); i++)
		if (strstr(kv, msg[i]))
			return true;
	return false;
}

/* Session callback: a protocol event worth a log line. */
static void
conn_note(void *arg, const char *kv)
{
	struct conn *c = arg;
	const char *eq = strchr(kv, '=');
	char key[64], val[256];

	if (eq == NULL)
		eq = kv + strlen(kv);
	log_printable(kv, (size_t)(eq - kv), key, sizeof(key));
	log_printable(*eq ? eq + 1 : eq, strlen(*eq ? eq + 1 : eq), val, sizeof(val));
	if (conn_message_reject(kv)) {
		(*c->env->stats->messages_rejected)++;
		log_info("in id=- session=%s client=%s tls=%s status=rejected reason=%s",
		    c->id, c->client, c->tls_version[0] ? c->tls_version : "no", val);
	} else
		log_info("session id=%s client=%s %s=%s", c->id, c->client, key, val);
}

/* Move the session's pending replies into the output buffer. */
static void
conn_flush(struct conn *c)
{
	size_t len;
	const char *out = session_output(c->sess, &len);

	if (len == 0 || c->bev == NULL)
		return;
	bufferevent_write(c->bev, out, len);
	session_output_drain(c->sess, len);
}

/* Set read/write timeouts for the command or the DATA phase. */
static void
conn_set_timeouts(struct conn *c, bool data)
{
	const struct inbound_config *cfg = c->gen->cfg;
	struct timeval rtv = { data ? cfg->timeout_data : cfg->timeout_command, 0 };
	struct timeval wtv = { cfg->timeout_command, 0 };

	c->in_data = data;
	bufferevent_set_timeouts(c->bev, &rtv, &wtv);
}

/* The last step: free everything and tell the listener. */
static void
conn_free(struct conn *c)
{
	log_info("disconnect id=%s client=%s messages=%u errors=%u tls=%s",
	    c->id, c->client, c->messages, session_errors(c->sess),
	    c->tls_version[0] ? c->tls_version : "no");
	if (c->linger_ev)
		event_free(c->linger_ev);
	if (c->bev)
		bufferevent_free(c->bev);
	session_free(c->sess);
	conn_gen_unref(c->gen);
	if (c->closed)
		c->closed(c->closed_arg);
	free(c);
}

/* Drop the socket now; the conn itself waits for a pending delivery. */
static void
conn_drop(struct conn *c)
{
	if (c->job == NULL) {
		conn_free(c);
		return;
	}
	if (c->linger_ev)
		event_del(c->linger_ev);
	if (c->bev)
		bufferevent_free(c->bev);
	c->bev = c->under = NULL;
	c->state = CONN_DEAD;
}

/* Bytes still queued for the client (both layers under TLS). */
static size_t
conn_unsent(const struct conn *c)
{
	size_t n = evbuffer_get_length(bufferevent_get_output(c->bev));

	if (c->under)
		n += evbuffer_get_length(bufferevent_get_output(c->under));
	return n;
}

/* Timer while closing: free once every byte has left (or give up). */
static void
conn_linger_cb(evutil_socket_t fd, short what, void *arg)
{
	struct conn *c = arg;
	struct timeval tv = { 0, LINGER_MS * 1000 };

	if (conn_unsent(c) == 0 || ++c->linger_n > LINGER_MAX) {
		conn_drop(c);
		return;
	}
	evtimer_add(c->linger_ev, &tv);
}

/* Stop reading, send what is queued, then close. */
static void
conn_close(struct conn *c)
{
	if (c->state == CONN_CLOSING || c->state == CONN_DEAD)
		return;
	c->state = CONN_CLOSING;
	conn_flush(c);
	bufferevent_disable(c->bev, EV_READ);
	if (c->linger_ev == NULL)
		c->linger_ev = evtimer_new(c->env->base, conn_linger_cb, c);
	event_active(c->linger_ev, EV_TIMEOUT, 0);	/* never frees c here */
}

/* Log line for a message once its delivery outcome is known. */
static void
conn_log_message(struct conn *c, enum delivery_result r, const char *err)
{
	char reason[300];

	log_printable(err, strlen(err), reason, sizeof(reason));
	log_info("in id=%s session=%s client=%s from=<%s> size=%zu nrcpt=%zu tls=%s status=%s%s%s",
	    c->queue_id, c->id, c->client, c->from, c->msg_size, c->msg_nrcpt,
	    c->tls_version[0] ? c->tls_version : "no",
	    r == DELIVERY_OK ? "delivered" : "deferred",
	    r == DELIVERY_OK ? "" : " reason=", r == DELIVERY_OK ? "" : reason);
}

/* Delivery finished (loop thread): reply, log, carry on with the input. */
static void
conn_delivered(void *arg, enum delivery_result r, const char *err)
{
	struct conn *c = arg;
	static const enum session_delivery map[] = {
		[DELIVERY_OK] = SESSION_DELIVERED,
		[DELIVERY_TEMPFAIL] = SESSION_TEMPFAIL,
		[DELIVERY_DISKFULL] = SESSION_DISKFULL,
	};

	c->job = NULL;
	conn_log_message(c, r, err);
	if (r == DELIVERY_OK) {
		(*c->env->stats->messages_accepted)++;
		c->messages++;
	}
	session_delivered(c->sess, map[r], c->queue_id);
	if (c->state == CONN_DEAD) {
		conn_free(c);
		return;
	}
	conn_flush(c);
	if (c->state == CONN_OPEN)
		conn_process(c);
}

/* The protocol name for the Received header (RFC 3848, RFC 6531). */
static const char *
conn_protocol(const struct conn *c, const struct session_message *m)
{
	bool tls = c->tls_version[0] != '\0';

	if (m->smtputf8)
		return tls ? "UTF8SMTPS" : "UTF8SMTP";
	if (m->esmtp)
		return tls ? "ESMTPS" : "ESMTP";
	return tls ? "SMTPS" : "SMTP";
}

/* SESSION_EV_MESSAGE: hand the message to the delivery workers. */
static void
conn_submit(struct conn *c)
{
	const struct session_message *m = session_message(c->sess);
	struct delivery_rcpt *rc = xcalloc(m->nrcpts ? m->nrcpts : 1, sizeof(*rc));
	struct delivery_request r = { 0 };

	id_generate(c->queue_id);
	for (size_t i = 0; i < m->nrcpts; i++) {
		int idx = policy_lookup(c->gen->policy, m->rcpts[i]);

		rc[i].addr = m->rcpts[i];
		rc[i].mailbox = idx >= 0 ? policy_mailbox_name(c->gen->policy, idx) : "";
	}
	log_printable(m->mail_from, strlen(m->mail_from), c->from, sizeof(c->from));
	c->msg_nrcpt = m->nrcpts;
	r.queue_id = c->queue_id;
	r.helo = m->helo;
	r.client_ip = c->ip;
	r.hostname = c->gen->cfg->hostname;
	r.mail_from = m->mail_from;
	r.rcpts = rc;
	r.nrcpts = m->nrcpts;
	r.protocol = conn_protocol(c, m);
	r.tls_version = c->tls_version[0] ? c->tls_version : NULL;
	r.tls_cipher = c->tls_cipher;
	r.body = session_take_body(c->sess, &r.body_len);
	c->msg_size = r.body_len;
	c->job = delivery_submit(c->env->delivery, &r, conn_delivered, c);
	free(rc);
}

/* SESSION_EV_STARTTLS: drop unread plaintext, pause reading, flush the 220. */
static void
conn_starttls_begin(struct conn *c)
{
	struct evbuffer *in = bufferevent_get_input(c->bev);

	conn_flush(c);
	evbuffer_drain(in, evbuffer_get_length(in));
	bufferevent_disable(c->bev, EV_READ);
	c->state = CONN_TLS_FLUSH;
}

static void conn_read_cb(struct bufferevent *bev, void *arg);
static void conn_write_cb(struct bufferevent *bev, void *arg);
static void conn_event_cb(struct bufferevent *bev, short what, void *arg);

/* The 220 is out: wrap the socket in a TLS filter (server side). */
static void
conn_starttls_wrap(struct conn *c)
{
	SSL *ssl = SSL_new(c->gen->ssl_ctx);
	struct bufferevent *f;

	if (ssl == NULL) {
		log_warnx("tls id=%s client=%s status=failed reason=SSL_new", c->id, c->client);
		conn_drop(c);
		return;
	}
	f = bufferevent_openssl_filter_new(c->env->base, c->bev, ssl,
	    BUFFEREVENT_SSL_ACCEPTING, BEV_OPT_CLOSE_ON_FREE);
	if (f == NULL) {
		SSL_free(ssl);
		log_warnx("tls id=%s client=%s status=failed reason=filter", c->id, c->client);
		conn_drop(c);
		return;
	}
	bufferevent_openssl_set_allow_dirty_shutdown(f, 1);
	c->under = c->bev;
	c->bev = f;
	c->state = CONN_TLS_HANDSHAKE;
	bufferevent_setcb(f, conn_read_cb, conn_write_cb, conn_event_cb, c);
	bufferevent_setwatermark(f, EV_READ, 0, READ_HIGH);
	conn_set_timeouts(c, false);
	bufferevent_enable(f, EV_READ | EV_WRITE);
	bufferevent_enable(c->under, EV_READ | EV_WRITE);
}

/* The handshake is done: note version and cipher, restart the session. */
static void
conn_tls_done(struct conn *c)
{
	SSL *ssl = bufferevent_openssl_get_ssl(c->bev);

	tls_describe(ssl, c->tls_version, sizeof(c->tls_version),
	    c->tls_cipher, sizeof(c->tls_cipher));
	(*c->env->stats->tls_handshakes)++;
	log_info("tls id=%s client=%s version=%s cipher=%s", c->id, c->client,
	    c->tls_version, c->tls_cipher);
	c->state = CONN_OPEN;
	session_tls_started(c->sess);
	conn_flush(c);
	conn_process(c);
}

/* Act on the session's pending event; true when feeding may go on. */
static bool
conn_handle_event(struct conn *c)
{
	switch (session_event(c->sess)) {
	case SESSION_EV_NONE:
		return true;
	case SESSION_EV_MESSAGE:
		if (c->job == NULL)
			conn_submit(c);
		return false;
	case SESSION_EV_STARTTLS:
		conn_starttls_begin(c);
		return false;
	case SESSION_EV_CLOSE:
		conn_close(c);
		return false;
	}
	return false;
}

/* Feed buffered input to the session until it waits, or output piles up. */
static void
conn_process(struct conn *c)
{
	struct evbuffer *in = bufferevent_get_input(c->bev);

	while (c->state == CONN_OPEN && conn_handle_event(c)) {
		struct evbuffer_iovec v;
		size_t used;

		if (c->stopping && !session_in_data(c->sess)) {
			session_shutdown(c->sess);
			conn_close(c);
			break;
		}
		if (evbuffer_get_length(bufferevent_get_output(c->bev)) > OUT_HIGH ||
		    evbuffer_peek(in, -1, NULL, &v, 1) < 1)
			break;
		used = session_feed(c->sess, v.iov_base, v.iov_len);
		evbuffer_drain(in, used);
		*c->env->stats->bytes_received += used;
		conn_flush(c);
		if (used == 0 && session_event(c->sess) == SESSION_EV_NONE) {
			/* A partial line: if it goes on in the next buffer
			 * segment, make it contiguous and feed again.  The
			 * session answers any line past max_line, so this
			 * never copies more than a line's worth. */
			size_t total = evbuffer_get_length(in);
			if (total <= v.iov_len)
				break;
			evbuffer_pullup(in, (ev_ssize_t)(total < v.iov_len + 4096 ?
			    total : v.iov_len + 4096));
		}
	}
	if (c->state == CONN_OPEN && session_in_data(c->sess) != c->in_data)
		conn_set_timeouts(c, !c->in_data);
}

/* Input arrived. */
static void
conn_read_cb(struct bufferevent *bev, void *arg)
{
	struct conn *c = arg;

	if (c->state == CONN_OPEN)
		conn_process(c);
}

/* Output drained to the low-watermark (empty). */
static void
conn_write_cb(struct bufferevent *bev, void *arg)
{
	struct conn *c = arg;

	if (c->state == CONN_TLS_FLUSH)
		conn_starttls_wrap(c);
	else if (c->state == CONN_OPEN)
		conn_process(c);
	else if (c->state == CONN_CLOSING && conn_unsent(c) == 0)
		conn_drop(c);	/* the last reply has left: free at once */
}

/* A read or write timeout. */
static void
conn_timeout(struct conn *c, short what)
{
	if (c->state == CONN_CLOSING || c->state == CONN_TLS_HANDSHAKE ||
	    c->state == CONN_TLS_FLUSH) {
		if (c->state == CONN_TLS_HANDSHAKE)
			(*c->env->stats->tls_failures)++;
		conn_drop(c);
		return;
	}
	if (c->job) {		/* waiting for the disk, not for the client */
		bufferevent_enable(c->bev, what & (EV_READ | EV_WRITE));
		return;
	}
	log_info("session id=%s client=%s timeout=%s", c->id, c->client,
	    (what & BEV_EVENT_READING) ? (c->in_data ? "data" : "command") : "write");
	session_timeout(c->sess);
	conn_close(c);
}

/* Connection events: TLS handshake done, EOF, error, timeout. */
static void
conn_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct conn *c = arg;
	char err[256];

	if (what & BEV_EVENT_CONNECTED) {
		if (c->state == CONN_TLS_HANDSHAKE)
			conn_tls_done(c);
		return;
	}
	if (what & BEV_EVENT_TIMEOUT) {
		conn_timeout(c, what);
		return;
	}
	if (c->state == CONN_TLS_HANDSHAKE) {
		(*c->env->stats->tls_failures)++;
		log_info("tls id=%s client=%s status=failed reason=%s", c->id, c->client,
		    (what & BEV_EVENT_EOF) ? "eof" : tls_error_string(err, sizeof(err)));
	} else if ((what & BEV_EVENT_ERROR) && EVUTIL_SOCKET_ERROR() != 0 &&
	    c->state != CONN_CLOSING)
		log_info("session id=%s client=%s error=\"%s\"", c->id, c->client,
		    evutil_socket_error_to_string(EVUTIL_SOCKET_ERROR()));
	conn_drop(c);
}

/* Input already waiting before the greeting: an early talker. */
static bool
conn_early_talker(int fd)
{
	char b;

	return recv(fd, &b, 1, MSG_PEEK | MSG_DONTWAIT) > 0;
}

/* Create the session for c with its generation's limits. */
static struct session *
conn_session(struct conn *c)
{
	const struct inbound_config *cfg = c->gen->cfg;
	struct session_params p = {
		.hostname = cfg->hostname,
		.max_line = cfg->max_line_length ? cfg->max_line_length : 2048,
		.max_message_size = cfg->max_message_size,
		.max_recipients = cfg->max_recipients,
		.max_errors = cfg->max_errors,
		.tls_available = c->gen->ssl_ctx != NULL,
		.tls_required = cfg->tls_require && c->gen->ssl_ctx != NULL,
		.rcpt_check = conn_rcpt_check,
		.note = conn_note,
		.arg = c,
	};

	return session_new(&p);
}

/* Take over an accepted socket: session, bufferevent, greeting. */
struct conn *
conn_new(const struct conn_env *env, struct inbound_gen *gen, int fd,
    const struct sockaddr *sa, enum session_greeting how,
    void (*closed)(void *arg), void *arg)
{
	struct conn *c = xcalloc(1, sizeof(*c));
	unsigned port;

	c->env = env;
	c->gen = conn_gen_ref(gen);
	id_generate(c->id);
	conn_addr_text(sa, c->ip, sizeof(c->ip), &port);
	snprintf(c->client, sizeof(c->client), strchr(c->ip, ':') ? "[%s]:%u" : "%s:%u",
	    c->ip, port);
	c->bev = bufferevent_socket_new(env->base, fd, BEV_OPT_CLOSE_ON_FREE);
	if (c->bev == NULL) {
		log_warnx("conn client=%s: cannot create a bufferevent", c->client);
		close(fd);
		conn_gen_unref(c->gen);
		free(c);
		return NULL;
	}
	c->sess = conn_session(c);
	c->closed = closed;
	c->closed_arg = arg;
	(*env->stats->connections_total)++;
	bufferevent_setcb(c->bev, conn_read_cb, conn_write_cb, conn_event_cb, c);
	bufferevent_setwatermark(c->bev, EV_READ, 0, READ_HIGH);
	conn_set_timeouts(c, false);
	bufferevent_enable(c->bev, EV_READ | EV_WRITE);
	if (how == SESSION_GREET_OK && conn_early_talker(fd))
		how = SESSION_GREET_EARLY;
	log_info("conn id=%s client=%s tls=%s greeting=%s", c->id, c->client,
	    gen->ssl_ctx ? "available" : "none",
	    how == SESSION_GREET_OK ? "ok" : how == SESSION_GREET_DENIED ? "denied" :
	    how == SESSION_GREET_BUSY ? "busy" : "early-talker");
	session_greet(c->sess, how);
	conn_flush(c);
	if (session_event(c->sess) == SESSION_EV_CLOSE)
		conn_close(c);
	return c;
}

/* Graceful stop: 421 now, or after the message in DATA / delivery. */
void
conn_stop(struct conn *c)
{
	c->stopping = true;
	if (c->state == CONN_TLS_FLUSH || c->state == CONN_TLS_HANDSHAKE) {
		conn_drop(c);
		return;
	}
	if (c->state != CONN_OPEN || c->job || session_in_data(c->sess))
		return;
	session_shutdown(c->sess);
	conn_flush(c);
	conn_handle_event(c);
}

/* Grace over: 421 and close now (a delivery in flight still finishes). */
void
conn_kill(struct conn *c)
{
	c->stopping = true;
	if (c->job || c->state == CONN_DEAD || c->state == CONN_CLOSING)
		return;
	if (c->state != CONN_OPEN) {
		conn_drop(c);
		return;
	}
	session_shutdown(c->sess);
	conn_close(c);
}
