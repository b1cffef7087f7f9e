/*
 * config_scan: the pass over a config file's text that blanks comments
 * (libconfuse 3.3 miscounts their lines) and notes keys and { } blocks for
 * the error messages.  Private to config*.c; pure, no libconfuse.
 */
#ifndef SMTPGATE_CONFIG_SCAN_H
#define SMTPGATE_CONFIG_SCAN_H

#include <stddef.h>

/* A key as written: "max_errors = ...", "smarthost "a" {", "tls {". */
struct config_word {
	char name[64];
	int line;
	int depth;			/* blocks open around it */
	int block;			/* index of the innermost open block, -1 at top */
	int append;			/* written "key += value" (a list grows) */
	int section;			/* it opens a section ("tls {", "mailbox \"a\" {") */
};

/* One { } block: a section (after a key and maybe a title) or a list. */
struct config_block {
	int open_line, close_line;	/* close_line 0: never closed */
	int list;
	int depth;
	char word[64];			/* the key before it */
	char title[64];			/* a section's title, or "" */
};

enum config_scan_expect { SCAN_KEY, SCAN_AFTER_KEY, SCAN_VALUE, SCAN_LIST };

struct config_scan {
	char *clean;			/* the text, comments blanked, lines kept */
	struct config_word *words;
	size_t nwords;
	struct config_block *blocks;
	size_t nblocks;
	int commented_smarthost;	/* line of the first "#smarthost", or 0 */
	int stray_close;		/* line of the first "}" closing nothing, or 0 */
	int last_line;
	int err_line;			/* the structural error, if any */
	char err[256];			/* "key: reason" */
	/* while scanning */
	int depth;
	enum config_scan_expect expect;
	char title[64];
};

/* Scan text; 0, or -1 with s->err ("key: reason") and s->err_line set.
 * config_scan_free() in both cases. */
int config_scan_text(struct config_scan *s, const char *text);
void config_scan_free(struct config_scan *s);

/* The innermost block open at line; the first never closed; NULL if none. */
const struct config_block *config_scan_block_at(const struct config_scan *s, int line);
const struct config_block *config_scan_unclosed(const struct config_scan *s);
/* The first top-level key word named one of names (NULL-terminated list). */
const struct config_word *config_scan_find(const struct config_scan *s,
    const char *const *names);
/* The last key word on or before line. */
const struct config_word *config_scan_word_before(const struct config_scan *s, int line);

/* A key set twice in one section (libconfuse keeps the last value): the
 * next such key word from *next on (0 at the start; moved past the word
 * returned) with, in *first, its earlier setting; NULL after the last.
 * "+=" (a list grows) and titled sections are not repeats. */
const struct config_word *config_scan_repeat(const struct config_scan *s, size_t *next,
    const struct config_word **first);

#endif
