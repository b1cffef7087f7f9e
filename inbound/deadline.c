/*
 * deadline: pure deadline arithmetic for the inbound edge (see deadline.h).
 *
 * Must not know clocks, sockets or libevent.
 */
#include <stddef.h>

#include "deadline.h"

/* Milliseconds left of a whole-phase limit of sec seconds; UINT64_MAX when off. */
static uint64_t
deadline_left(unsigned sec, uint64_t elapsed_ms)
{
	uint64_t lim = (uint64_t)sec * 1000;

	if (sec == 0)
		return UINT64_MAX;
	return elapsed_ms >= lim ? 0 : lim - elapsed_ms;
}

/* The DATA rule: the whole phase, then the average rate after the grace. */
static enum deadline_kind
deadline_data(const struct deadline_limits *l, uint64_t elapsed_ms, uint64_t bytes,
    uint64_t *wait_ms)
{
	uint64_t left = deadline_left(l->data, elapsed_ms), due;
	uint64_t grace = (uint64_t)(l->data_rate_grace ? l->data_rate_grace : 1) * 1000;

	if (left == 0)
		return DEADLINE_DATA;
	*wait_ms = left;
	if (l->min_data_rate == 0)
		return DEADLINE_OK;
	/* the rate holds while bytes >= rate * elapsed, i.e. until
	 * bytes * 1000 / rate ms; never before the grace is over */
	due = bytes >= UINT64_MAX / 1000 ? UINT64_MAX : bytes * 1000 / l->min_data_rate;
	if (due < grace)
		due = grace;
	if (elapsed_ms >= due)
		return DEADLINE_DATA_RATE;
	if (due - elapsed_ms < *wait_ms)
		*wait_ms = due - elapsed_ms;
	return DEADLINE_OK;
}

/* Has a deadline of phase p passed?  Else when to look again. */
enum deadline_kind
deadline_check(const struct deadline_limits *l, enum deadline_phase p,
    uint64_t elapsed_ms, uint64_t bytes, uint64_t *wait_ms)
{
	uint64_t left;

	*wait_ms = UINT64_MAX;
	switch (p) {
	case DEADLINE_PHASE_NONE:
		return DEADLINE_OK;
	case DEADLINE_PHASE_COMMAND:
		left = deadline_left(l->command, elapsed_ms);
		if (left == 0)
			return DEADLINE_COMMAND;
		*wait_ms = left;
		return DEADLINE_OK;
	case DEADLINE_PHASE_DATA:
		return deadline_data(l, elapsed_ms, bytes, wait_ms);
	case DEADLINE_PHASE_TLS:
		left = deadline_left(l->tls_handshake, elapsed_ms);
		if (left == 0)
			return DEADLINE_TLS;
		*wait_ms = left;
		return DEADLINE_OK;
	}
	return DEADLINE_OK;
}

/* Log name of a deadline. */
const char *
deadline_name(enum deadline_kind k)
{
	static const char *const names[] = {
		[DEADLINE_OK] = "none", [DEADLINE_COMMAND] = "command",
		[DEADLINE_DATA] = "data", [DEADLINE_DATA_RATE] = "data-rate",
		[DEADLINE_TLS] = "tls-handshake", [DEADLINE_SESSION] = "session",
	};

	return (unsigned)k < sizeof(names) / sizeof(names[0]) ? names[k] : "?";
}

/* Configured seconds of a deadline (the grace for the rate rule). */
unsigned
deadline_seconds(const struct deadline_limits *l, enum deadline_kind k)
{
	switch (k) {
	case DEADLINE_COMMAND:
		return l->command;
	case DEADLINE_DATA:
		return l->data;
	case DEADLINE_DATA_RATE:
		return l->data_rate_grace;
	case DEADLINE_TLS:
		return l->tls_handshake;
	case DEADLINE_SESSION:
		return l->session;
	case DEADLINE_OK:
		break;
	}
	return 0;
}
