/*
 * listener: the listening sockets of smtpgate-inbound and the admission
 * rules applied at accept time -- relay_hosts allowlist (554 5.7.1),
 * max_connections, and max_connections_per_client counted per network
 * (max_connections_per_relay_host for a relay host; 421 4.7.0).  Refusals
 * are logged summarised: the first of a network and reason, then a count
 * per refusal_log_interval.  Keeps the list of open connections for a
 * graceful stop.
 */
#ifndef SMTPGATE_LISTENER_H
#define SMTPGATE_LISTENER_H

#include <stddef.h>

#include "conn.h"

struct listener;

/* A listener handing connections the current generation gen. */
struct listener *listener_new(const struct conn_env *env, struct inbound_gen *gen);

/*
 * Bind every `listen` address of cfg (IPv6 sockets v6-only), without
 * listening yet: a daemon started as root binds, drops root, sets up its
 * spool, and only then listens, so that an open port means a ready daemon.
 * 0, or -1 with err naming the address.  cfg must live until listener_listen.
 */
int listener_bind(struct listener *l, const struct inbound_config *cfg,
    char *err, size_t errlen);

/* Listen (backlog 1024) on what listener_bind bound; 0, or -1 with err. */
int listener_listen(struct listener *l, char *err, size_t errlen);

/* New connections get gen from now on (SIGHUP reload). */
void listener_set_gen(struct listener *l, struct inbound_gen *gen);

/*
 * Graceful stop: close the listening sockets, stop every connection
 * (conn_stop); drained(arg) runs once no connection is left.
 */
void listener_stop(struct listener *l, void (*drained)(void *arg), void *arg);

/* The grace period is over: conn_kill every connection left. */
void listener_kill(struct listener *l);

size_t listener_open_count(const struct listener *l);

void listener_free(struct listener *l);

#endif
