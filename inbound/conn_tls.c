/*
 * conn_tls: STARTTLS on an inbound connection (beside conn.c).  Once the
 * session's 220 has left, the socket is handed to an OpenSSL bufferevent
 * (server side); its callbacks feed conn.c's processing afterwards, and a
 * finished handshake restarts the session with the version and cipher
 * noted.
 *
 * Must not know SMTP (the session does), SSL_CTX set-up (common/tls.c
 * does), delivery or the disk.
 */
#include <openssl/ssl.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>

#include "conn_deadline.h"
#include "conn_int.h"
#include "gen.h"
#include "log.h"
#include "tls.h"

static void conn_read_cb(struct bufferevent *bev, void *arg);
static void conn_write_cb(struct bufferevent *bev, void *arg);
static void conn_event_cb(struct bufferevent *bev, short what, void *arg);

/* The 220 is out: hand the socket to an OpenSSL bufferevent (server side). */
void
conn_starttls_wrap(struct conn *c)
{
	SSL *ssl = SSL_new(c->gen->ssl_ctx);
	struct bufferevent *b;

	if (ssl == NULL) {
		log_warnx("tls id=%s client=%s status=failed reason=SSL_new", c->id, c->client);
		conn_drop(c);
		return;
	}
	b = bufferevent_openssl_socket_new(c->env->base, c->fd, ssl,
	    BUFFEREVENT_SSL_ACCEPTING, BEV_OPT_CLOSE_ON_FREE);
	if (b == NULL) {
		SSL_free(ssl);
		log_warnx("tls id=%s client=%s status=failed reason=bufferevent", c->id, c->client);
		conn_drop(c);
		return;
	}
	conn_plain_free(c);
	bufferevent_openssl_set_allow_dirty_shutdown(b, 1);
	c->bev = b;
	c->state = CONN_TLS_HANDSHAKE;
	bufferevent_setcb(b, conn_read_cb, conn_write_cb, conn_event_cb, c);
	bufferevent_setwatermark(b, EV_READ, 0, READ_HIGH);
	conn_set_timeouts(c, false);
	bufferevent_enable(b, EV_READ | EV_WRITE);
}

/* SESSION_EV_STARTTLS: drop unread plaintext, stop reading, send the 220;
 * the handshake starts once it has left. */
void
conn_starttls_begin(struct conn *c)
{
	struct evbuffer *in = conn_input(c);

	conn_flush(c);
	evbuffer_drain(in, evbuffer_get_length(in));
	conn_read_enable(c, false);
	c->state = CONN_TLS_FLUSH;
	conn_deadline_phase(c->dl, DEADLINE_PHASE_TLS, false);
	if (conn_unsent(c) == 0 && c->wr_ev)	/* wrap from the write callback, never here */
		event_active(c->wr_ev, EV_WRITE, 0);
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

/* TLS: input arrived. */
static void
conn_read_cb(struct bufferevent *bev, void *arg)
{
	struct conn *c = arg;

	if (c->state == CONN_OPEN)
		conn_process(c);
	conn_budget_check(c);
}

/* TLS: output drained to the low-watermark (empty). */
static void
conn_write_cb(struct bufferevent *bev, void *arg)
{
	struct conn *c = arg;

	if (conn_unsent(c) == 0)
		conn_output_drained(c);
}

/* TLS connection events: handshake done, EOF, error, timeout. */
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
		conn_timeout(c, (what & BEV_EVENT_READING) != 0);
		return;
	}
	if (c->state == CONN_TLS_HANDSHAKE) {
		(*c->env->stats->tls_failures)++;
		log_info("tls id=%s client=%s status=failed reason=%s", c->id, c->client,
		    (what & BEV_EVENT_EOF) ? "eof" : tls_error_string(err, sizeof(err)));
		conn_drop(c);
		return;
	}
	if ((what & BEV_EVENT_EOF) && !(what & BEV_EVENT_ERROR)) {
		conn_eof(c);
		return;
	}
	conn_io_error(c, (what & BEV_EVENT_ERROR) ? EVUTIL_SOCKET_ERROR() : 0);
}
