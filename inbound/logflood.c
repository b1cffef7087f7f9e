/*
 * logflood: the refusal summariser (see logflood.h).  A short array
 * scanned linearly: it holds only the pairs refused in the last interval,
 * and max bounds it.  A lone refusal gives one line (its first); a burst
 * gives the first line and a summary whose count includes it.
 *
 * Must not know clocks, sockets or the log itself.
 */
#include <stdlib.h>
#include <string.h>

#include "logflood.h"
#include "util.h"

#define LOGFLOOD_KEY 72
#define LOGFLOOD_OTHER 8	/* slots past max for the "other" pairs */

struct logflood_pair {
	char client[LOGFLOOD_KEY];
	char reason[24];
	uint64_t start;		/* the interval's start */
	uint64_t count;		/* refusals in it */
	bool first;		/* still the interval whose first refusal was logged */
};

struct logflood {
	uint64_t interval;
	size_t max, n;
	struct logflood_pair *pairs;
};

/* A summariser; see logflood.h. */
struct logflood *
logflood_new(uint64_t interval_ms, size_t max)
{
	struct logflood *f = xcalloc(1, sizeof(*f));

	f->interval = interval_ms;
	f->max = max < 1 ? 1 : max;
	f->pairs = xcalloc(f->max + LOGFLOOD_OTHER, sizeof(*f->pairs));
	return f;
}

/* Free the table. */
void
logflood_free(struct logflood *f)
{
	if (f == NULL)
		return;
	free(f->pairs);
	free(f);
}

/* The pair of (client, reason), or NULL. */
static struct logflood_pair *
logflood_find(struct logflood *f, const char *client, const char *reason)
{
	for (size_t i = 0; i < f->n; i++)
		if (strcmp(f->pairs[i].client, client) == 0 &&
		    strcmp(f->pairs[i].reason, reason) == 0)
			return &f->pairs[i];
	return NULL;
}

/* Count one refusal; true for the first of its pair. */
bool
logflood_refused(struct logflood *f, const char *client, const char *reason,
    uint64_t now_ms)
{
	struct logflood_pair *p = logflood_find(f, client, reason);

	if (p == NULL && f->n >= f->max) {
		/* full: new pairs are counted together as "other" */
		client = "other";
		p = logflood_find(f, client, reason);
		if (p == NULL && f->n == f->max + LOGFLOOD_OTHER)
			return true;	/* more reasons than reserved: log */
	}
	if (p != NULL) {
		p->count++;
		return false;
	}
	p = &f->pairs[f->n++];
	util_strlcpy(p->client, client, sizeof(p->client));
	util_strlcpy(p->reason, reason, sizeof(p->reason));
	p->start = now_ms;
	p->count = 1;
	p->first = true;
	return true;
}

/* Summarise finished intervals; forget idle pairs (see logflood.h). */
size_t
logflood_sweep(struct logflood *f, uint64_t now_ms,
    void (*emit)(void *arg, const struct logflood_line *line), void *arg)
{
	size_t i = 0;

	while (i < f->n) {
		struct logflood_pair *p = &f->pairs[i];

		if (now_ms - p->start < f->interval) {
			i++;
			continue;
		}
		if (p->count == 0) {		/* a quiet interval: forget it */
			f->pairs[i] = f->pairs[--f->n];
			continue;
		}
		if (emit && !(p->first && p->count == 1)) {	/* one alone: logged already */
			struct logflood_line l = { p->client, p->reason, p->count,
			    now_ms - p->start };

			emit(arg, &l);
		}
		p->count = 0;
		p->first = false;
		p->start = now_ms;
		i++;
	}
	return f->n;
}
