/*
 * deadline: the pure rules of inbound's deadlines -- limits that activity
 * does not reset (a whole command line, a whole DATA/BDAT phase with a
 * minimum average rate after a grace period, the TLS handshake, the whole
 * session).  Given how long a phase has run and how many bytes it took,
 * says whether a deadline has passed or when to look again.  No clock, no
 * libevent: conn_deadline.c owns the timers.
 */
#ifndef SMTPGATE_DEADLINE_H
#define SMTPGATE_DEADLINE_H

#include <stdint.h>

/* What the connection is waiting for; each runs its own deadline. */
enum deadline_phase {
	DEADLINE_PHASE_NONE,	/* waiting on us (delivery) or closing: nothing runs */
	DEADLINE_PHASE_COMMAND,	/* one command line, from when it is awaited */
	DEADLINE_PHASE_DATA,	/* DATA or a BDAT sequence, from its start */
	DEADLINE_PHASE_TLS,	/* STARTTLS: 220 out and the handshake */
};

/* Which deadline passed (DEADLINE_OK: none). */
enum deadline_kind {
	DEADLINE_OK,
	DEADLINE_COMMAND,
	DEADLINE_DATA,
	DEADLINE_DATA_RATE,
	DEADLINE_TLS,
	DEADLINE_SESSION,
};

/* Limits in seconds (rate in bytes per second); 0 turns one off. */
struct deadline_limits {
	unsigned command;
	unsigned data;
	unsigned min_data_rate;
	unsigned data_rate_grace;
	unsigned tls_handshake;
	unsigned session;
};

/*
 * A phase p has run elapsed_ms and taken bytes: the deadline that has
 * passed, or DEADLINE_OK with *wait_ms set to when to check again
 * (UINT64_MAX: never).  The rate rule: once data_rate_grace has passed,
 * bytes / elapsed (the phase's average) must stay >= min_data_rate.
 */
enum deadline_kind deadline_check(const struct deadline_limits *l, enum deadline_phase p,
    uint64_t elapsed_ms, uint64_t bytes, uint64_t *wait_ms);

/* The log name of k: "command", "data", "data-rate", "tls-handshake", "session". */
const char *deadline_name(enum deadline_kind k);

/* The configured seconds of k (for the log line). */
unsigned deadline_seconds(const struct deadline_limits *l, enum deadline_kind k);

#endif
