/*
 * backoff: a table of names that failed, each with the time it may be
 * tried again (1 s after the first failure, doubling up to 1 h), so that
 * nothing that keeps failing is tried on every event or scan.  Used for
 * dropped files that could not even be moved to bad/, queue entries that
 * cannot be loaded, control requests that cannot be removed.
 *
 * Pure data structure: the caller passes the time in and owns the table
 * (and its locking).  Keys are any NUL-terminated strings.
 */
#ifndef SMTPGATE_BACKOFF_H
#define SMTPGATE_BACKOFF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define BACKOFF_FIRST	1	/* seconds after the first failure */
#define BACKOFF_MAX	3600	/* the longest wait */

struct backoff;

struct backoff *backoff_new(void);
void backoff_free(struct backoff *b);

/* true when key may be tried at now: not in the table, or its wait is over. */
bool backoff_ready(const struct backoff *b, const char *key, int64_t now);

/* Record a failure of key at now; returns how many failures in a row it
 * has now (1: the first, the one to log).  *wait (when not NULL) is the
 * seconds until it may be tried again. */
unsigned backoff_fail(struct backoff *b, const char *key, int64_t now, int64_t *wait);

/* Forget key (it succeeded, or is gone). */
void backoff_forget(struct backoff *b, const char *key);

/* Forget every key not marked since the last sweep (backoff_mark: key was
 * seen in a full scan); the number forgotten. */
void backoff_mark(struct backoff *b, const char *key);
size_t backoff_sweep(struct backoff *b);

size_t backoff_size(const struct backoff *b);

#endif
