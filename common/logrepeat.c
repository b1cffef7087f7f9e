/*
 * logrepeat: hold back repeated log lines and summarise them (see
 * logrepeat.h).  A fixed table searched linearly: LOGREP_SLOTS is small,
 * and a line is compared only against texts of the same length first.
 *
 * Pure: no clock, no I/O, no lock (common/log.c holds its own).
 */
#include <stdio.h>
#include <string.h>

#include "logrepeat.h"

/* Empty table with the given window. */
void
logrep_init(struct logrep *r, uint64_t window_ms)
{
	memset(r, 0, sizeof(*r));
	r->window_ms = window_ms;
}

/* Emit slot's summary when it held anything back, then free the slot. */
static void
logrep_close(struct logrep_slot *sl, uint64_t now_ms, logrep_emit_fn emit, void *arg)
{
	char line[LOGREP_TEXT + 96];
	uint64_t secs = (now_ms - sl->first_ms + 999) / 1000;

	if (sl->repeats > 0) {
		snprintf(line, sizeof(line), "message repeated %llu more times in %llu s: %s",
		    (unsigned long long)sl->repeats,
		    (unsigned long long)(secs ? secs : 1), sl->text);
		emit(arg, sl->prio, line);
	}
	sl->used = false;
	sl->repeats = 0;
}

/* Summaries whose window is over (every one when all). */
void
logrep_flush(struct logrep *r, uint64_t now_ms, bool all, logrep_emit_fn emit, void *arg)
{
	for (size_t i = 0; i < LOGREP_SLOTS; i++) {
		struct logrep_slot *sl = &r->slot[i];

		if (sl->used && (all || now_ms - sl->first_ms >= r->window_ms))
			logrep_close(sl, now_ms, emit, arg);
	}
}

/* The slot holding text at prio, or NULL. */
static struct logrep_slot *
logrep_find(struct logrep *r, int prio, const char *text, size_t len)
{
	for (size_t i = 0; i < LOGREP_SLOTS; i++)
		if (r->slot[i].used && r->slot[i].prio == prio && r->slot[i].len == len &&
		    memcmp(r->slot[i].text, text, len) == 0)
			return &r->slot[i];
	return NULL;
}

/* A free slot, or the one repeated least recently (its summary emitted). */
static struct logrep_slot *
logrep_take(struct logrep *r, uint64_t now_ms, logrep_emit_fn emit, void *arg)
{
	struct logrep_slot *old = &r->slot[0];

	for (size_t i = 0; i < LOGREP_SLOTS; i++) {
		if (!r->slot[i].used)
			return &r->slot[i];
		if (r->slot[i].last_ms < old->last_ms)
			old = &r->slot[i];
	}
	logrep_close(old, now_ms, emit, arg);
	return old;
}

/* One line: true to write it now, false for a repeat held back. */
bool
logrep_line(struct logrep *r, int prio, const char *text, uint64_t now_ms,
    logrep_emit_fn emit, void *arg)
{
	struct logrep_slot *sl;
	size_t len;

	if (r->window_ms == 0)
		return true;
	logrep_flush(r, now_ms, false, emit, arg);
	len = strlen(text);
	if ((sl = logrep_find(r, prio, text, len)) != NULL) {
		sl->repeats++;
		sl->last_ms = now_ms;
		return false;
	}
	sl = logrep_take(r, now_ms, emit, arg);
	sl->len = len < sizeof(sl->text) ? len : sizeof(sl->text) - 1;
	memcpy(sl->text, text, sl->len);
	sl->text[sl->len] = '\0';
	sl->prio = prio;
	sl->first_ms = sl->last_ms = now_ms;
	sl->repeats = 0;
	sl->used = true;
	return true;
}
