/*
 * relay_int: what the relay's files share, private to them (relay.c,
 * relay_connect.c, relay_profile.c): the profile and connection structs
 * and the functions one file calls in another.  Nothing outside the
 * relay includes it; the rest of the program sees relay.h only.
 */
#ifndef SMTPGATE_RELAY_INT_H
#define SMTPGATE_RELAY_INT_H

#include <stdbool.h>
#include <stddef.h>

#include <event2/bufferevent.h>
#include <event2/dns.h>
#include <event2/event.h>
#include <event2/util.h>
#include <openssl/ssl.h>

#include "client.h"
#include "dotstuff.h"
#include "log.h"
#include "relay.h"

#define RELAY_MAX_REPLY		65536	/* cap on one whole server reply */

/* One smart host of the profile, ready to connect to. */
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

/* See relay.h: shared by the connections opened with it. */
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

/* One connection; owned by relay.c, its setting-up by relay_connect.c. */
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

/* relay.c: the session. */
void relay_set_fail(struct relay_conn *c, const char *stage, const char *fmt, ...)
    LOG_PRINTF(3, 4);
void relay_arm(struct relay_conn *c, unsigned secs);
void relay_drop_bev(struct relay_conn *c);
void relay_close(struct relay_conn *c);
const char *relay_job_id(const struct relay_conn *c);
void relay_process(struct relay_conn *c);
void relay_read_cb(struct bufferevent *bev, void *arg);
void relay_write_cb(struct bufferevent *bev, void *arg);
void relay_event_cb(struct bufferevent *bev, short what, void *arg);

/* relay_connect.c: finding a session, and the words for a failed one. */
void relay_host_start(struct relay_conn *c);
void relay_next_host(struct relay_conn *c);
void relay_try_addr(struct relay_conn *c);
void relay_connected(struct relay_conn *c);
void relay_connect_failed(struct relay_conn *c, short what);
void relay_tls_up(struct relay_conn *c);
void relay_tls_failed(struct relay_conn *c, const char *stage);
void relay_io_reason(struct relay_conn *c, short what, char *buf, size_t len);

#endif
