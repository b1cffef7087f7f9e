/*
 * relay_connect: finding a session for a relay connection.  Resolves the
 * smart host (evdns_getaddrinfo: /etc/hosts and literals never block),
 * connects to each address in turn (implicit TLS starts here), sets
 * TCP_NODELAY, and fails over to the next smart host; and the words for
 * a connection that failed or ended: connect errors, TLS errors, EOF
 * (never errno 0's "Success").
 *
 * It must not know about the queue, nor drive the SMTP session: once TCP
 * (and implicit TLS) is up it hands over to relay.c.
 */
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include <event2/bufferevent_ssl.h>
#include <openssl/err.h>
#include <openssl/x509.h>

#include "relay_int.h"
#include "tls.h"
#include "util.h"

/* Log a failed smart host and go on to the next one. */
void
relay_next_host(struct relay_conn *c)
{
	log_info("relay relay=%s id=%s status=failed stage=%s reply=\"%s\"",
	    c->relay, relay_job_id(c), c->fail.stage ? c->fail.stage : "connect",
	    c->fail.reply);
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

/* Note the TLS version of the established session; count the handshake. */
void
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
	log_debug("relay relay=%s id=%s tls=%s cipher=%s", c->relay, relay_job_id(c),
	    version, cipher);
}

/* Describe a TLS failure on the current bufferevent into c->fail. */
void
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

/* TCP (or implicit TLS) connection established. */
void
relay_connected(struct relay_conn *c)
{
	evutil_socket_t fd = bufferevent_getfd(c->bev);
	int one = 1;

	c->connected = true;
	if (fd >= 0 && setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) == -1)
		log_warn("relay relay=%s id=%s: setsockopt TCP_NODELAY", c->relay,
		    relay_job_id(c));
	if (c->prof->hosts[c->host].tls == SMARTHOST_TLS_IMPLICIT)
		relay_tls_up(c);
	c->stage = CLIENT_STAGE_GREETING;
	c->wrote = false;
	relay_arm(c, c->prof->t_greeting);
	relay_process(c);
}

/* Connecting failed: describe it, move on. */
void
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
void
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
void
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
void
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
