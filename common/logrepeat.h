/*
 * logrepeat: which log lines are repeats to hold back, and the summary
 * that replaces them (pure: the caller passes the time and does the
 * writing; common/log.c calls it under its lock).
 *
 * A line is a repeat when the same priority and the same whole text
 * (ids included, so a summary never hides which session or message it
 * was about) was written less than window_ms ago.  The first occurrence
 * is always written; the repeats are counted, and when the window of
 * that first occurrence is over (noticed at the next line or flush), or
 * its slot is needed for another text, one summary is written:
 * "message repeated N more times in S s: <text>".  The next occurrence
 * after that is written again and starts a new window.  Memory is fixed:
 * LOGREP_SLOTS texts of at most LOGREP_TEXT bytes.
 */
#ifndef SMTPGATE_LOGREPEAT_H
#define SMTPGATE_LOGREPEAT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define LOGREP_SLOTS	16
#define LOGREP_TEXT	2048

struct logrep_slot {
	char text[LOGREP_TEXT];	/* the line as written (NUL-terminated) */
	size_t len;		/* strlen(text): compared before the text */
	int prio;
	uint64_t first_ms;	/* when it was written (the window's start) */
	uint64_t last_ms;	/* the last repeat (eviction order) */
	uint64_t repeats;	/* held back since */
	bool used;
};

struct logrep {
	struct logrep_slot slot[LOGREP_SLOTS];
	uint64_t window_ms;
};

/* Write one summary line at prio (text: the whole summary). */
typedef void (*logrep_emit_fn)(void *arg, int prio, const char *text);

/* Empty table; window_ms 0 turns the suppression off. */
void logrep_init(struct logrep *r, uint64_t window_ms);

/*
 * One line at now_ms.  First emits the summaries that are due (windows
 * over, a slot taken over), then returns true when the line is to be
 * written now, false when it is a repeat held back.
 */
bool logrep_line(struct logrep *r, int prio, const char *text, uint64_t now_ms,
    logrep_emit_fn emit, void *arg);

/* Emit the summaries whose window is over at now_ms (all of them when
 * all is true: at exit), and forget those texts. */
void logrep_flush(struct logrep *r, uint64_t now_ms, bool all, logrep_emit_fn emit,
    void *arg);

#endif
