/*
 * listener: listening sockets and admission of new connections (see
 * listener.h).  Counts open connections in total and per client network
 * (fairshare.c: the address masked to client_prefix_ipv4/ipv6, a relay
 * host under its own entry); the refusal reply itself is sent by
 * conn/session, and refusals are logged summarised (logflood.c).
 *
 * Must not know SMTP syntax or anything about delivery.
 */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/listener.h>

#include "config.h"
#include "fairshare.h"
#include "gen.h"
#include "listener.h"
#include "log.h"
#include "logflood.h"
#include "policy.h"
#include "util.h"

#define LISTEN_BACKLOG	1024
#define CLIENT_BUCKETS	1024
#define ACCEPT_PAUSE_MS	100	/* after EMFILE/ENFILE */
#define REFUSAL_PAIRS	256	/* (network, reason) pairs summarised apart */
#define REFUSAL_SLACK_US 100000	/* the sweep runs this late, so an interval
				 * read on the loop's cached clock is over */

/* Open connections from one client network (or one relay host). */
struct client {
	struct client *next;
	unsigned n;
	bool relay;
	char ip[FAIRSHARE_KEY_LEN];	/* the fairshare key */
};

/* One open connection, as the listener tracks it. */
struct slot {
	struct slot *prev, *next;
	struct listener *l;
	struct client *cl;
	struct conn *c;
};

struct listener {
	const struct conn_env *env;
	struct inbound_gen *gen;
	struct evconnlistener **socks;
	size_t nsocks;
	int *bound;			/* bound, not yet listening (-1: handed on) */
	const char **bound_text;
	size_t nbound;
	struct event *resume_ev;
	struct slot *slots;
	size_t nopen;
	struct client *buckets[CLIENT_BUCKETS];
	struct logflood *refusals;
	struct event *refusal_ev;	/* summary sweep, armed while refusals are held */
	bool stopping;
	void (*drained)(void *arg);
	void *drained_arg;
};

/* FNV-1a of an address string. */
static unsigned
client_hash(const char *ip)
{
	unsigned h = 2166136261u;

	for (; *ip; ip++)
		h = (h ^ (unsigned char)*ip) * 16777619u;
	return h % CLIENT_BUCKETS;
}

/* Find or add the counter of ip. */
static struct client *
client_get(struct listener *l, const char *ip)
{
	unsigned h = client_hash(ip);
	struct client *cl;

	for (cl = l->buckets[h]; cl; cl = cl->next)
		if (strcmp(cl->ip, ip) == 0)
			return cl;
	cl = xcalloc(1, sizeof(*cl));
	util_strlcpy(cl->ip, ip, sizeof(cl->ip));
	cl->next = l->buckets[h];
	l->buckets[h] = cl;
	return cl;
}

/* Drop one connection of cl; forget cl at zero. */
static void
client_put(struct listener *l, struct client *cl)
{
	struct client **pp = &l->buckets[client_hash(cl->ip)];

	if (--cl->n > 0)
		return;
	while (*pp != cl)
		pp = &(*pp)->next;
	*pp = cl->next;
	free(cl);
}

/* conn callback: a connection is gone. */
static void
slot_closed(void *arg)
{
	struct slot *s = arg;
	struct listener *l = s->l;

	if (s->prev)
		s->prev->next = s->next;
	else
		l->slots = s->next;
	if (s->next)
		s->next->prev = s->prev;
	client_put(l, s->cl);
	free(s);
	l->nopen--;
	if (l->stopping && l->nopen == 0 && l->drained)
		l->drained(l->drained_arg);
}

/* How to greet a new client, by the allowlist and the connection caps;
 * *reason names a refusal for the log. */
static enum session_greeting
admit(const struct listener *l, const struct sockaddr *sa, const struct client *cl,
    const char **reason)
{
	const struct inbound_config *cfg = l->gen->cfg;

	*reason = NULL;
	if (!policy_client_allowed(l->gen->policy, sa)) {
		*reason = "denied";
		return SESSION_GREET_DENIED;
	}
	if (l->nopen >= cfg->max_connections) {
		*reason = "busy";
		return SESSION_GREET_BUSY;
	}
	if (cl->n >= (cl->relay ? cfg->max_connections_per_relay_host :
	    cfg->max_connections_per_client)) {
		*reason = cl->relay ? "over-relay-cap" : "over-cap";
		return SESSION_GREET_BUSY;
	}
	return SESSION_GREET_OK;
}

/* logflood callback: one summary line. */
static void
refusal_emit(void *arg, const struct logflood_line *line)
{
	(void)arg;
	log_info("refused client=%s reason=%s count=%llu seconds=%llu", line->client,
	    line->reason, (unsigned long long)line->count,
	    (unsigned long long)((line->ms + 500) / 1000));
}

/* Timer: summarise the intervals that are over; re-arm while pairs are held. */
static void
refusal_sweep_cb(evutil_socket_t fd, short what, void *arg)
{
	struct listener *l = arg;
	struct timeval tv = { l->gen->cfg->refusal_log_interval, REFUSAL_SLACK_US };

	(void)fd;
	(void)what;
	if (logflood_sweep(l->refusals, util_monotonic_ms(), refusal_emit, l) > 0)
		evtimer_add(l->refusal_ev, &tv);
}

/* A refused client: the first refusal of its network and reason is logged
 * in full (the connection's reject line with our fields), the rest only
 * counted into a summary line per interval. */
static void
refusal_log(struct listener *l, const struct conn *c, const struct client *cl,
    const char *reason)
{
	struct timeval tv = { l->gen->cfg->refusal_log_interval, REFUSAL_SLACK_US };
	char extra[256];

	if (!logflood_refused(l->refusals, cl->ip, reason, util_monotonic_ms()))
		return;
	snprintf(extra, sizeof(extra), "reason=%s net=%s open=%zu from_client=%u first=yes",
	    reason, cl->ip, l->nopen - 1, cl->n - 1);
	conn_log_connect_refusal(c, extra);
	if (!evtimer_pending(l->refusal_ev, NULL))
		evtimer_add(l->refusal_ev, &tv);
}

/* Input already waiting before the greeting: an early talker (refused
 * with 554 by the session, and logged here like every refusal). */
static bool
listener_early_talker(int fd)
{
	char b;

	return recv(fd, &b, 1, MSG_PEEK | MSG_DONTWAIT) > 0;
}

/* The fair-share key of sa under the current generation; true: a relay host. */
static bool
listener_key(const struct listener *l, const struct sockaddr *sa, char *key, size_t keylen)
{
	const struct inbound_config *cfg = l->gen->cfg;
	struct fairshare_prefix p = { cfg->client_prefix_ipv4, cfg->client_prefix_ipv6 };

	return fairshare_key(sa, &p, cfg->relay_hosts, cfg->nrelay_hosts, key, keylen);
}

/* evconnlistener: a new connection. */
static void
accept_cb(struct evconnlistener *el, evutil_socket_t fd, struct sockaddr *sa,
    int salen, void *arg)
{
	struct listener *l = arg;
	struct slot *s = xcalloc(1, sizeof(*s));
	char key[FAIRSHARE_KEY_LEN];
	const char *reason;
	bool relay;
	enum session_greeting how;

	relay = listener_key(l, sa, key, sizeof(key));
	s->l = l;
	s->cl = client_get(l, key);
	s->cl->relay = relay;
	how = admit(l, sa, s->cl, &reason);
	if (how == SESSION_GREET_OK && listener_early_talker(fd)) {
		how = SESSION_GREET_EARLY;
		reason = "early-talker";
	}
	s->cl->n++;
	l->nopen++;
	s->next = l->slots;
	if (l->slots)
		l->slots->prev = s;
	l->slots = s;
	s->c = conn_new(l->env, l->gen, fd, sa, how, slot_closed, s);
	if (s->c == NULL)
		slot_closed(s);
	else if (reason != NULL)
		refusal_log(l, s->c, s->cl, reason);
}

/* Timer: accept again after running out of descriptors. */
static void
resume_cb(evutil_socket_t fd, short what, void *arg)
{
	struct listener *l = arg;

	for (size_t i = 0; i < l->nsocks && !l->stopping; i++)
		evconnlistener_enable(l->socks[i]);
}

/* evconnlistener: accept(2) failed. */
static void
accept_error_cb(struct evconnlistener *el, void *arg)
{
	struct listener *l = arg;
	struct timeval tv = { 0, ACCEPT_PAUSE_MS * 1000 };
	int e = EVUTIL_SOCKET_ERROR();

	if (e != EMFILE && e != ENFILE && e != ENOBUFS && e != ENOMEM) {
		log_warnx("listener: accept: %s", strerror(e));
		return;
	}
	log_warnx("listener: accept: %s; pausing %d ms", strerror(e), ACCEPT_PAUSE_MS);
	for (size_t i = 0; i < l->nsocks; i++)
		evconnlistener_disable(l->socks[i]);
	evtimer_add(l->resume_ev, &tv);
}

/* A listener with no sockets yet, handing out generation gen. */
struct listener *
listener_new(const struct conn_env *env, struct inbound_gen *gen)
{
	struct listener *l = xcalloc(1, sizeof(*l));

	l->env = env;
	l->gen = gen_ref(gen);
	l->resume_ev = evtimer_new(env->base, resume_cb, l);
	l->refusal_ev = evtimer_new(env->base, refusal_sweep_cb, l);
	l->refusals = logflood_new((uint64_t)gen->cfg->refusal_log_interval * 1000,
	    REFUSAL_PAIRS);
	return l;
}

/* A bound, non-blocking listening socket for a; -1 with err. */
static int
bind_one(const struct config_sockaddr *a, char *err, size_t errlen)
{
	int one = 1;
	int fd = socket(a->ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	if (fd == -1) {
		snprintf(err, errlen, "listen %s: socket: %s", a->text, strerror(errno));
		return -1;
	}
	(void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	/* Replies must not wait for an ACK (Nagle) behind a pipelined one.
	 * Linux copies TCP_NODELAY from the listener to every accepted
	 * socket, which saves a setsockopt per connection. */
	if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) == -1)
		log_warnx("listen %s: TCP_NODELAY: %s", a->text, strerror(errno));
	if (a->ss.ss_family == AF_INET6 &&
	    setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one)) == -1) {
		snprintf(err, errlen, "listen %s: IPV6_V6ONLY: %s", a->text, strerror(errno));
		close(fd);
		return -1;
	}
	if (bind(fd, (const struct sockaddr *)&a->ss, a->len) == -1) {
		snprintf(err, errlen, "listen %s: bind: %s", a->text, strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

/* Bind every listen address of cfg (no listen yet: see listener.h). */
int
listener_bind(struct listener *l, const struct inbound_config *cfg, char *err, size_t errlen)
{
	size_t n = cfg->nlisten ? cfg->nlisten : 1;

	l->socks = xcalloc(n, sizeof(*l->socks));
	l->bound = xcalloc(n, sizeof(*l->bound));
	l->bound_text = xcalloc(n, sizeof(*l->bound_text));
	for (size_t i = 0; i < cfg->nlisten; i++) {
		int fd = bind_one(&cfg->listen[i], err, errlen);

		if (fd == -1)
			return -1;
		l->bound[l->nbound] = fd;
		l->bound_text[l->nbound++] = cfg->listen[i].text;
	}
	return 0;
}

/* Listen on the bound sockets, accepting from the event loop. */
int
listener_listen(struct listener *l, char *err, size_t errlen)
{
	for (size_t i = 0; i < l->nbound; i++) {
		struct evconnlistener *el = evconnlistener_new(l->env->base, accept_cb, l,
		    LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC, LISTEN_BACKLOG, l->bound[i]);

		if (el == NULL) {
			snprintf(err, errlen, "listen %s: listen: %s", l->bound_text[i],
			    strerror(errno));
			return -1;
		}
		l->bound[i] = -1;
		evconnlistener_set_error_cb(el, accept_error_cb);
		l->socks[l->nsocks++] = el;
		log_info("listening on %s", l->bound_text[i]);
	}
	return 0;
}

/* Swap the generation given to new connections. */
void
listener_set_gen(struct listener *l, struct inbound_gen *gen)
{
	gen_ref(gen);
	gen_unref(l->gen);
	l->gen = gen;
}

/* Close every listening (or only bound) socket. */
static void
close_socks(struct listener *l)
{
	for (size_t i = 0; i < l->nsocks; i++)
		evconnlistener_free(l->socks[i]);
	l->nsocks = 0;
	for (size_t i = 0; i < l->nbound; i++)
		if (l->bound[i] >= 0)
			(void)close(l->bound[i]);
	l->nbound = 0;
	evtimer_del(l->resume_ev);
}

/* Close the listening sockets and stop every connection. */
void
listener_stop(struct listener *l, void (*drained)(void *arg), void *arg)
{
	struct slot *s, *next;

	l->stopping = true;
	l->drained = drained;
	l->drained_arg = arg;
	close_socks(l);
	if (l->nopen == 0) {
		drained(arg);
		return;
	}
	for (s = l->slots; s; s = next) {
		next = s->next;
		conn_stop(s->c);
	}
}

/* Force every remaining connection closed. */
void
listener_kill(struct listener *l)
{
	struct slot *s, *next;

	for (s = l->slots; s; s = next) {
		next = s->next;
		conn_kill(s->c);
	}
}

/* Connections currently open (including refused ones still closing). */
size_t
listener_open_count(const struct listener *l)
{
	return l->nopen;
}

/* Close the sockets and free (connections must be gone). */
void
listener_free(struct listener *l)
{
	if (l == NULL)
		return;
	close_socks(l);
	if (evtimer_pending(l->refusal_ev, NULL))	/* the last summaries */
		logflood_sweep(l->refusals, UINT64_MAX / 2, refusal_emit, l);
	event_free(l->resume_ev);
	event_free(l->refusal_ev);
	logflood_free(l->refusals);
	gen_unref(l->gen);
	free(l->socks);
	free(l->bound);
	free(l->bound_text);
	free(l);
}
