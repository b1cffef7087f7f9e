/*
 * conn_deadline: the timers of one connection's deadlines (the rules are
 * in deadline.c).  Two libevent timers: one for the current phase
 * (command line, DATA/BDAT, TLS handshake), one for the whole session.
 * Activity does not reset them: only entering a new phase does.  The
 * connection says which phase it is in; expired(arg, kind) runs once when
 * a deadline passes (the phase is NONE afterwards).
 */
#ifndef SMTPGATE_CONN_DEADLINE_H
#define SMTPGATE_CONN_DEADLINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "deadline.h"

struct event_base;
struct conn_deadline;

/* Timers on base with limits l (copied); the session deadline starts now. */
struct conn_deadline *conn_deadline_new(struct event_base *base,
    const struct deadline_limits *l, void (*expired)(void *arg, enum deadline_kind k),
    void *arg);

void conn_deadline_free(struct conn_deadline *d);

/*
 * Enter phase p: its clock starts now when p differs from the current
 * phase or restart is true (the next command line); otherwise nothing.
 */
void conn_deadline_phase(struct conn_deadline *d, enum deadline_phase p, bool restart);

/* n more bytes taken in the current phase (the DATA rate rule). */
void conn_deadline_bytes(struct conn_deadline *d, size_t n);

/* Bytes taken and milliseconds spent in the current phase (for the log). */
uint64_t conn_deadline_phase_bytes(const struct conn_deadline *d);
uint64_t conn_deadline_phase_ms(const struct conn_deadline *d);

/* The configured limits. */
const struct deadline_limits *conn_deadline_limits(const struct conn_deadline *d);

#endif
