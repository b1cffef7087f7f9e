/*
 * budget: the daemon-wide memory budget (see budget.h).  Loop thread
 * only.  Must not know about SMTP, sockets or files.
 */
#include <malloc.h>
#include <stdlib.h>
#include <time.h>

#include "budget.h"
#include "log.h"
#include "util.h"

static void budget_log_refused(struct budget *b);

#define REFUSE_LOG_INTERVAL 10	/* seconds between summary lines */
/*
 * glibc raises its mmap threshold (up to 32 MB) and its trim threshold
 * each time a mapped chunk is freed, after which large buffers live in
 * the heap and stay there; giving both thresholds fixes them (the trim
 * threshold at glibc's own default).  malloc_trim after a peak gives back
 * the free pages inside the heap too, which trimming its top cannot.
 * Measured with scripts/hostile-load --short --sessions 1000 --mbytes 1
 * (2026-12-04, two runs each): RSS with every session parked / after they
 * closed: 15.2, 16.8 / 10.7, 10.8 MB as kept; 30.8, 41.4 / 30.8, 16.4
 * without malloc_trim; 15.8, 15.2 / 15.8, 15.2 with neither (with a 1 MB
 * trim threshold and no malloc_trim: 57.4 / 12.9).  Peak (VmHWM) 59-78 MB
 * in every variant: the budget bounds it.
 */
#define MMAP_THRESHOLD	(256 * 1024)
#define TRIM_THRESHOLD	(128 * 1024)

struct budget {
	size_t limit;
	size_t used;
	size_t peak;		/* highest used since the last trim */
	unsigned members;
	struct budget_share *waiting;
	unsigned long refused;	/* since the last summary line */
	time_t refused_logged;
};

/* A budget of limit bytes; the allocator's thresholds fixed. */
struct budget *
budget_new(size_t limit)
{
	struct budget *b = xcalloc(1, sizeof(*b));

	b->limit = limit;
	mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD);
	mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD);
	return b;
}

/* Free b (every connection has left). */
void
budget_free(struct budget *b)
{
	free(b);
}

/* New limit after a reload; waiting connections may go on. */
void
budget_set_limit(struct budget *b, size_t limit)
{
	b->limit = limit;
	if (b->waiting)
		budget_update(b, b->waiting, b->waiting->held);
}

/* Start counting for one connection. */
void
budget_join(struct budget *b, struct budget_share *sh, void (*wake)(void *), void *arg)
{
	*sh = (struct budget_share){ .joined = true, .wake = wake, .arg = arg };
	b->members++;
}

/* Take sh off the waiting list. */
static void
budget_unwait(struct budget *b, struct budget_share *sh)
{
	if (!sh->waiting)
		return;
	if (sh->prev)
		sh->prev->next = sh->next;
	else
		b->waiting = sh->next;
	if (sh->next)
		sh->next->prev = sh->prev;
	sh->next = sh->prev = NULL;
	sh->waiting = false;
}

/* Wake every waiting connection (each wake may update the budget). */
static void
budget_wake_all(struct budget *b)
{
	struct budget_share *sh;

	while ((sh = b->waiting) != NULL) {
		budget_unwait(b, sh);
		sh->wake(sh->arg);
	}
}

/* After the sum fell: give pages back to the kernel after a peak. */
static void
budget_trim(struct budget *b)
{
	if (b->used > b->limit / 8 || b->peak < b->limit / 4)
		return;
	b->peak = b->used;
	malloc_trim(0);
}

/* The connection holds held bytes now. */
void
budget_update(struct budget *b, struct budget_share *sh, size_t held)
{
	if (!sh->joined)
		return;
	b->used = b->used - sh->held + held;
	sh->held = held;
	if (b->used > b->peak)
		b->peak = b->used;
	if (b->waiting && b->used < b->limit / 4 * 3)
		budget_wake_all(b);
	budget_trim(b);
	budget_log_refused(b);
}

/* Stop counting for one connection. */
void
budget_leave(struct budget *b, struct budget_share *sh)
{
	if (!sh->joined)
		return;
	budget_unwait(b, sh);
	budget_update(b, sh, 0);
	sh->joined = false;
	b->members--;
	if (b->members == 0)
		budget_wake_all(b);
}

/* The sum has reached the limit. */
bool
budget_full(const struct budget *b)
{
	return b->used >= b->limit;
}

/* Full, and sh holds more than limit / members. */
bool
budget_over_share(const struct budget *b, const struct budget_share *sh)
{
	return budget_full(b) && sh->held > b->limit / (b->members ? b->members : 1);
}

/* Put sh on the waiting list. */
void
budget_wait(struct budget *b, struct budget_share *sh)
{
	if (sh->waiting || !sh->joined)
		return;
	sh->waiting = true;
	sh->prev = NULL;
	sh->next = b->waiting;
	if (b->waiting)
		b->waiting->prev = sh;
	b->waiting = sh;
}

/* Log the refusals counted since the last line, once the interval is
 * over (from budget_refused and from every update, so the count of a
 * burst that ended is logged too). */
static void
budget_log_refused(struct budget *b)
{
	time_t now;

	if (b->refused == 0 || (now = time(NULL)) - b->refused_logged < REFUSE_LOG_INTERVAL)
		return;
	log_info("conn status=refused reason=memory-budget count=%lu interval=%ds "
	    "used=%zu limit=%zu", b->refused, REFUSE_LOG_INTERVAL, b->used, b->limit);
	b->refused = 0;
	b->refused_logged = now;
}

/* Count a refused connection; one line per interval. */
void
budget_refused(struct budget *b)
{
	b->refused++;
	budget_log_refused(b);
}

/* Bytes held by all connections. */
size_t
budget_used(const struct budget *b)
{
	return b->used;
}

/* The limit. */
size_t
budget_limit(const struct budget *b)
{
	return b->limit;
}
