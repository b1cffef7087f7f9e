/*
 * logflood: summarise repeated refusals in the log (pure: the caller
 * passes the time).  The first refusal of a (client, reason) pair is
 * logged; the ones after it are only counted, and once per interval a
 * summary says how many there were in it (the first included; no summary
 * when the first was the only one).  A pair
 * with no refusal for a whole interval is forgotten.  The table is
 * bounded: past max pairs, new pairs share one "other" entry.
 */
#ifndef SMTPGATE_LOGFLOOD_H
#define SMTPGATE_LOGFLOOD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct logflood;

/* A summary to log: count refusals of client for reason over ms. */
struct logflood_line {
	const char *client;
	const char *reason;
	uint64_t count;
	uint64_t ms;
};

/* A table summarising per interval_ms, holding at most max pairs. */
struct logflood *logflood_new(uint64_t interval_ms, size_t max);
void logflood_free(struct logflood *f);

/*
 * One refusal of client for reason at now_ms.  true when it is the first
 * of its pair (log it now, in full); false when only counted.
 */
bool logflood_refused(struct logflood *f, const char *client, const char *reason,
    uint64_t now_ms);

/*
 * At now_ms: emit(arg, line) for every pair whose interval is over and
 * that was refused in it; forget pairs idle for a whole interval.
 * Returns the pairs still held (0: no need to call again until the next
 * refusal).
 */
size_t logflood_sweep(struct logflood *f, uint64_t now_ms,
    void (*emit)(void *arg, const struct logflood_line *line), void *arg);

#endif
