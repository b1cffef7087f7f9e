/*
 * config_scan: a pass over a config file's text before libconfuse sees it.
 *
 * Debian's libconfuse 3.3 counts every comment line three times, so its
 * line numbers are wrong in any commented file.  This pass follows the
 * tokens of libconfuse's lexer (strings, "#" and "//" comments, C comments,
 * ${VAR}, bare words) and gives back a copy with every comment blanked to
 * spaces, newlines kept: libconfuse then counts lines right.  On the way it
 * notes what the error messages need: the key words with their lines and
 * depth, the { } blocks (section or list) with the lines that open and
 * close them, and the first commented-out smarthost.  It refuses, with the
 * line and key, what libconfuse reports badly or not at all: a string
 * whose closing quote is missing, a C comment never closed, a bad escape.
 * Pure: no libconfuse, no files.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config_scan.h"
#include "util.h"

#define SCAN_STOP " #\"'\t\n\r={}()+,*"

/* Length of the bare libconfuse word at p (0 when p starts none). */
static size_t
scan_word_len(const char *p)
{
	return strcspn(p, SCAN_STOP);
}

/* Record a structural error at line (the first one wins). */
static void
scan_fail(struct config_scan *s, int line, const char *key, const char *why)
{
	if (s->err[0] != '\0')
		return;
	s->err_line = line;
	snprintf(s->err, sizeof(s->err), "%s: %s", key, why);
}

/* The last key word seen, as a message's key ("" quoted when none). */
static const char *
scan_last_key(const struct config_scan *s)
{
	return s->nwords > 0 ? s->words[s->nwords - 1].name : "value";
}

/* Note a key word: name (n bytes) at line, depth, commented or not. */
static void
scan_add_word(struct config_scan *s, const char *name, size_t n, int line, int commented)
{
	struct config_word *w;

	if (commented) {
		if (n == 9 && strncmp(name, "smarthost", 9) == 0 && s->commented_smarthost == 0)
			s->commented_smarthost = line;
		return;
	}
	s->words = xrealloc(s->words, (s->nwords + 1) * sizeof(*s->words));
	w = &s->words[s->nwords++];
	memset(w, 0, sizeof(*w));
	if (n >= sizeof(w->name))
		n = sizeof(w->name) - 1;
	memcpy(w->name, name, n);
	w->line = line;
	w->depth = s->depth;
	w->block = -1;
	for (size_t i = s->nblocks; i > 0; i--) {	/* blocks close last-opened first */
		if (s->blocks[i - 1].close_line == 0) {
			w->block = (int)(i - 1);
			break;
		}
	}
}

/* Skip a quoted string opened at p; blanks nothing.  Returns the char after
 * it, or NULL after recording an error. */
static const char *
scan_string(struct config_scan *s, const char *p, int *line)
{
	char q = *p++;
	int open = *line;

	for (;;) {
		if (*p == '\0' || *p == '\n') {
			scan_fail(s, open, scan_last_key(s), "missing closing quote "
			    "(the string opened on this line runs past its end)");
			return NULL;
		}
		if (*p == q)
			return p + 1;
		if (*p == '\\' && p[1] != '\0') {
			size_t d = strspn(p + 1, "0123456789"), o = strspn(p + 1, "01234567");

			if (q == '"' && d > 0 && (d > (o < 3 ? o : 3) ||
			    strtoul((char[4]){ p[1], d > 1 ? p[2] : 0, d > 2 ? p[3] : 0, 0 },
			    NULL, 8) > 0xff)) {
				scan_fail(s, *line, scan_last_key(s), "bad escape "
				    "sequence in a quoted string (write \\\\ for a backslash)");
				return NULL;
			}
			if (p[1] == '\n')
				(*line)++;
			p += 2;
			continue;
		}
		if (q == '"' && p[0] == '$' && p[1] == '{' && strchr(p, '}') != NULL) {
			const char *end = strchr(p, '}');

			for (; p < end; p++)
				*line += *p == '\n';
			p = end + 1;
			continue;
		}
		p++;
	}
}

/* Blank a comment of n bytes at out (newlines kept), counting its lines. */
static void
scan_blank(char *out, size_t n, int *line)
{
	for (size_t i = 0; i < n; i++) {
		if (out[i] == '\n')
			(*line)++;
		else
			out[i] = ' ';
	}
}

/* A "#" or "//" comment of n bytes at p: note a commented-out key. */
static void
scan_comment_word(struct config_scan *s, const char *p, size_t n, int line)
{
	size_t skip = strspn(p, "#/ \t"), w;

	if (skip >= n)
		return;
	w = scan_word_len(p + skip);
	if (w > 0 && skip + w <= n)
		scan_add_word(s, p + skip, w, line, 1);
}

/* Open a { } block at line: a list after "=", else a section. */
static void
scan_open(struct config_scan *s, int line, int list)
{
	struct config_block *b;

	s->blocks = xrealloc(s->blocks, (s->nblocks + 1) * sizeof(*s->blocks));
	b = &s->blocks[s->nblocks++];
	memset(b, 0, sizeof(*b));
	b->open_line = line;
	b->list = list;
	b->depth = s->depth++;
	if (s->nwords > 0)
		util_strlcpy(b->word, s->words[s->nwords - 1].name, sizeof(b->word));
	if (!list && s->nwords > 0)
		s->words[s->nwords - 1].section = 1;
	util_strlcpy(b->title, s->title, sizeof(b->title));
}

/* Close the innermost open block at line; 0, or -1 when none is open. */
static int
scan_close(struct config_scan *s, int line)
{
	for (size_t i = s->nblocks; i > 0; i--) {
		if (s->blocks[i - 1].close_line == 0) {
			s->blocks[i - 1].close_line = line;
			s->depth--;
			return 0;
		}
	}
	return -1;
}

/* One token at p (not whitespace); returns the char after it or NULL. */
static const char *
scan_token(struct config_scan *s, const char *text, const char *p, int *line)
{
	size_t w = scan_word_len(p), n;
	const char *end;

	if (*p == '#' || (p[0] == '/' && p[1] == '/' && w == strspn(p, "/"))) {
		n = strcspn(p, "\n");
		scan_comment_word(s, p, n, *line);
		scan_blank(s->clean + (p - text), n, line);
		return p + n;
	}
	if (p[0] == '/' && p[1] == '*') {
		end = strstr(p + 2, "*/");
		if (end == NULL) {
			scan_fail(s, *line, "/*", "comment never closed (no */ after it)");
			return NULL;
		}
		scan_blank(s->clean + (p - text), (size_t)(end + 2 - p), line);
		return end + 2;
	}
	if (*p == '"' || *p == '\'') {
		if (s->expect == SCAN_AFTER_KEY)
			util_strlcpy(s->title, "", sizeof(s->title));
		end = scan_string(s, p, line);
		if (end != NULL && s->expect == SCAN_AFTER_KEY) {
			n = (size_t)(end - p - 2) < sizeof(s->title) ? (size_t)(end - p - 2) :
			    sizeof(s->title) - 1;
			memcpy(s->title, p + 1, n);
			s->title[n] = '\0';
		}
		s->expect = s->expect == SCAN_LIST ? SCAN_LIST : s->expect ==
		    SCAN_AFTER_KEY ? SCAN_AFTER_KEY : SCAN_KEY;
		return end;
	}
	if (p[0] == '$' && p[1] == '{' && strchr(p, '}') != NULL) {
		end = strchr(p, '}');
		for (const char *c = p; c < end; c++)
			*line += *c == '\n';
		s->expect = s->expect == SCAN_LIST ? SCAN_LIST : SCAN_KEY;
		return end + 1;
	}
	switch (*p) {
	case '{':
		scan_open(s, *line, s->expect == SCAN_VALUE);
		s->expect = s->expect == SCAN_VALUE ? SCAN_LIST : SCAN_KEY;
		s->title[0] = '\0';
		return p + 1;
	case '}':
		if (scan_close(s, *line) != 0)
			s->stray_close = s->stray_close != 0 ? s->stray_close : *line;
		s->expect = SCAN_KEY;
		return p + 1;
	case '=':
		s->expect = SCAN_VALUE;
		return p + 1;
	case '+':
		if (p[1] == '=' && s->expect == SCAN_AFTER_KEY && s->nwords > 0)
			s->words[s->nwords - 1].append = 1;
		break;
	}
	if (w == 0)
		return p + 1;
	if (s->expect == SCAN_KEY) {
		scan_add_word(s, p, w, *line, 0);
		s->title[0] = '\0';
		s->expect = SCAN_AFTER_KEY;
	} else if (s->expect == SCAN_AFTER_KEY) {
		n = w < sizeof(s->title) ? w : sizeof(s->title) - 1;
		memcpy(s->title, p, n);
		s->title[n] = '\0';
	} else if (s->expect == SCAN_VALUE) {
		s->expect = SCAN_KEY;
	}
	return p + w;
}

/* Scan text (NUL-terminated); 0, or -1 with s->err / s->err_line set. */
int
config_scan_text(struct config_scan *s, const char *text)
{
	const char *p = text;
	int line = 1;

	memset(s, 0, sizeof(*s));
	s->clean = xstrdup(text);
	s->expect = SCAN_KEY;
	while (p != NULL && *p != '\0') {
		if (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n') {
			line += *p++ == '\n';
			continue;
		}
		p = scan_token(s, text, p, &line);
	}
	s->last_line = line;
	return s->err[0] != '\0' ? -1 : 0;
}

/* The innermost block open at line (opened at or before it, not closed
 * before it); NULL when none. */
const struct config_block *
config_scan_block_at(const struct config_scan *s, int line)
{
	for (size_t i = s->nblocks; i > 0; i--) {
		const struct config_block *b = &s->blocks[i - 1];

		if (b->open_line <= line && (b->close_line == 0 || b->close_line >= line))
			return b;
	}
	return NULL;
}

/* The first block never closed; NULL when all are. */
const struct config_block *
config_scan_unclosed(const struct config_scan *s)
{
	for (size_t i = 0; i < s->nblocks; i++)
		if (s->blocks[i].close_line == 0)
			return &s->blocks[i];
	return NULL;
}

/* The first top-level key word named one of names (NULL-terminated). */
const struct config_word *
config_scan_find(const struct config_scan *s, const char *const *names)
{
	for (size_t i = 0; i < s->nwords; i++)
		for (const char *const *n = names; *n != NULL; n++)
			if (s->words[i].depth == 0 && strcmp(s->words[i].name, *n) == 0)
				return &s->words[i];
	return NULL;
}

/* The last key word on or before line; NULL when none. */
const struct config_word *
config_scan_word_before(const struct config_scan *s, int line)
{
	for (size_t i = s->nwords; i > 0; i--)
		if (s->words[i - 1].line <= line)
			return &s->words[i - 1];
	return NULL;
}

/* 1 when w sets the same key of the same section as the earlier e, so
 * that libconfuse drops e's value. */
static int
scan_same_setting(const struct config_word *e, const struct config_word *w)
{
	return e->block == w->block && e->depth == w->depth &&
	    strcmp(e->name, w->name) == 0 && !w->append &&
	    !(w->section && e->section);	/* sections: libconfuse judges titles */
}

/* The next key word from *next on that sets again a key of its section;
 * *first: the earliest setting it overrides.  NULL after the last. */
const struct config_word *
config_scan_repeat(const struct config_scan *s, size_t *next, const struct config_word **first)
{
	for (size_t k = *next; k < s->nwords; k++) {
		for (size_t e = 0; e < k; e++) {
			if (scan_same_setting(&s->words[e], &s->words[k])) {
				*first = &s->words[e];
				*next = k + 1;
				return &s->words[k];
			}
		}
	}
	*next = s->nwords;
	return NULL;
}

/* Free what config_scan_text made. */
void
config_scan_free(struct config_scan *s)
{
	free(s->clean);
	free(s->words);
	free(s->blocks);
	memset(s, 0, sizeof(*s));
}
