/*
 * conn_deadline: libevent timers for one connection's deadlines (see
 * conn_deadline.h).  The monotonic clock is read here and nowhere in the
 * pure rules (deadline.c).
 *
 * Must not know SMTP, sockets or the connection's other state.
 */
#include <stdlib.h>
#include <time.h>

#include <event2/event.h>

#include "conn_deadline.h"
#include "util.h"

struct conn_deadline {
	struct deadline_limits lim;
	struct event *phase_ev, *session_ev;
	enum deadline_phase phase;
	uint64_t phase_start;		/* monotonic ms */
	uint64_t phase_bytes;
	void (*expired)(void *arg, enum deadline_kind k);
	void *arg;
};

/* Arm ev to fire in ms milliseconds (UINT64_MAX: disarm). */
static void
conn_deadline_arm(struct event *ev, uint64_t ms)
{
	struct timeval tv;

	if (ms == UINT64_MAX) {
		event_del(ev);
		return;
	}
	if (ms > 86400ULL * 1000 * 30)
		ms = 86400ULL * 1000 * 30;
	tv.tv_sec = (time_t)(ms / 1000);
	tv.tv_usec = (suseconds_t)(ms % 1000) * 1000;
	evtimer_add(ev, &tv);
}

/* Check the current phase now: report a passed deadline or re-arm. */
static void
conn_deadline_recheck(struct conn_deadline *d)
{
	uint64_t wait;
	enum deadline_kind k = deadline_check(&d->lim, d->phase,
	    util_monotonic_ms() - d->phase_start, d->phase_bytes, &wait);

	if (k == DEADLINE_OK) {
		conn_deadline_arm(d->phase_ev, wait);
		return;
	}
	d->phase = DEADLINE_PHASE_NONE;
	event_del(d->phase_ev);
	d->expired(d->arg, k);		/* may free d */
}

/* Phase timer. */
static void
conn_deadline_phase_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	conn_deadline_recheck(arg);
}

/* Session timer. */
static void
conn_deadline_session_cb(evutil_socket_t fd, short what, void *arg)
{
	struct conn_deadline *d = arg;

	(void)fd;
	(void)what;
	d->phase = DEADLINE_PHASE_NONE;
	event_del(d->phase_ev);
	d->expired(d->arg, DEADLINE_SESSION);
}

/* Timers for one connection; the session deadline starts now. */
struct conn_deadline *
conn_deadline_new(struct event_base *base, const struct deadline_limits *l,
    void (*expired)(void *arg, enum deadline_kind k), void *arg)
{
	struct conn_deadline *d = xcalloc(1, sizeof(*d));

	d->lim = *l;
	d->expired = expired;
	d->arg = arg;
	d->phase_ev = evtimer_new(base, conn_deadline_phase_cb, d);
	d->session_ev = evtimer_new(base, conn_deadline_session_cb, d);
	if (d->phase_ev == NULL || d->session_ev == NULL) {
		conn_deadline_free(d);
		return NULL;
	}
	d->phase_start = util_monotonic_ms();
	if (l->session)
		conn_deadline_arm(d->session_ev, (uint64_t)l->session * 1000);
	return d;
}

/* Stop and free both timers. */
void
conn_deadline_free(struct conn_deadline *d)
{
	if (d == NULL)
		return;
	if (d->phase_ev)
		event_free(d->phase_ev);
	if (d->session_ev)
		event_free(d->session_ev);
	free(d);
}

/* Enter phase p; a new phase (or restart) starts its clock. */
void
conn_deadline_phase(struct conn_deadline *d, enum deadline_phase p, bool restart)
{
	if (p == d->phase && !restart)
		return;
	d->phase = p;
	d->phase_start = util_monotonic_ms();
	d->phase_bytes = 0;
	conn_deadline_recheck(d);	/* a fresh phase never expires at once */
}

/* Count bytes for the rate rule. */
void
conn_deadline_bytes(struct conn_deadline *d, size_t n)
{
	d->phase_bytes += n;
}

/* Bytes of the current phase. */
uint64_t
conn_deadline_phase_bytes(const struct conn_deadline *d)
{
	return d->phase_bytes;
}

/* Milliseconds of the current phase. */
uint64_t
conn_deadline_phase_ms(const struct conn_deadline *d)
{
	return util_monotonic_ms() - d->phase_start;
}

/* The limits. */
const struct deadline_limits *
conn_deadline_limits(const struct conn_deadline *d)
{
	return &d->lim;
}
