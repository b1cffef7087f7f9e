/*
 * addrlist: RFC 5322 3.4 address lists from header field bodies, pure.
 *
 * Two passes: first the body is cleaned (comments removed, folding and
 * other white space made single spaces, quoted strings kept as written),
 * then split at top-level commas and group delimiters into elements; each
 * element is "display-name <addr>" or a bare addr-spec.  White space the
 * obsolete syntax allows around '.' and '@' is dropped; anything else goes
 * to smtp_addr_parse_path() for the real check.
 *
 * This module knows nothing about envelopes, pickup files or the queue.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "addrlist.h"
#include "smtp_addr.h"
#include "util.h"

/* Cap on one element (display name and address) after cleaning. */
#define ELEM_MAX 2048

/* Fill err with a reason about text[0..n); returns -1. */
static int
fail(char *err, size_t errlen, const char *why, const char *text, size_t n)
{
	if (text != NULL)
		snprintf(err, errlen, "%s in \"%.*s\"", why, (int)(n > 80 ? 80 : n), text);
	else
		snprintf(err, errlen, "%s", why);
	return -1;
}

/* Copy a quoted string starting at v[*i] == '"' to out; false if unterminated. */
static bool
copy_quoted(const char *v, size_t len, size_t *i, char *out, size_t *o)
{
	out[(*o)++] = v[(*i)++];
	while (*i < len) {
		char c = v[(*i)++];
		if (c == '\r' || c == '\n')
			c = ' ';
		out[(*o)++] = c;
		if (c == '\\' && *i < len)
			out[(*o)++] = v[(*i)++];
		else if (c == '"')
			return true;
	}
	return false;
}

/* Skip a (nested) comment starting at v[*i] == '('; false if unterminated. */
static bool
skip_comment(const char *v, size_t len, size_t *i)
{
	int depth = 0;

	while (*i < len) {
		char c = v[(*i)++];
		if (c == '\\')
			(*i)++;
		else if (c == '(')
			depth++;
		else if (c == ')' && --depth == 0)
			return true;
	}
	return false;
}

/* Comments out, white space to single spaces; malloc'd, NULL with err. */
static char *
clean(const char *v, size_t len, size_t *outlen, char *err, size_t errlen)
{
	char *out = xmalloc(len + 1);
	size_t i = 0, o = 0;

	while (i < len) {
		char c = v[i];
		if (c == '"') {
			if (!copy_quoted(v, len, &i, out, &o))
				goto unterminated;
		} else if (c == '(') {
			if (!skip_comment(v, len, &i))
				goto unterminated;
			out[o++] = ' ';
		} else {
			if (c == '\r' || c == '\n' || c == '\t')
				c = ' ';
			if (c == '\0')
				break;
			if (!(c == ' ' && o > 0 && out[o - 1] == ' '))
				out[o++] = c;
			i++;
		}
	}
	if (i < len) {
		free(out);
		fail(err, errlen, "NUL byte in address list", NULL, 0);
		return NULL;
	}
	out[o] = '\0';
	*outlen = o;
	return out;
unterminated:
	free(out);
	fail(err, errlen, "unterminated quoted string or comment", v, len);
	return NULL;
}

/* Characters next to which white space may be dropped from an address. */
static bool
is_addr_special(char c)
{
	return c == '.' || c == '@' || c == '<' || c == '>' || c == ',' || c == ':';
}

/*
 * Copy the address a[0..n) to out without the white space the obsolete
 * syntax allows (around specials); false when white space separates two
 * words ("john doe@x").
 */
static bool
compact(const char *a, size_t n, char *out, size_t *outlen)
{
	size_t i = 0, o = 0;
	bool space = false;

	while (i < n) {
		if (a[i] == ' ') {
			space = true;
			i++;
			continue;
		}
		if (space && o > 0 && !is_addr_special(out[o - 1]) && !is_addr_special(a[i]))
			return false;
		space = false;
		if (a[i] == '"') {
			if (!copy_quoted(a, n, &i, out, &o))
				return false;
		} else
			out[o++] = a[i++];
	}
	out[o] = '\0';
	*outlen = o;
	return true;
}

/* Index of the top-level '<' in e[0..n) (outside quotes), or n. */
static size_t
find_angle(const char *e, size_t n)
{
	bool q = false;
	size_t i;

	for (i = 0; i < n; i++) {
		if (q && e[i] == '\\')
			i++;
		else if (e[i] == '"')
			q = !q;
		else if (!q && e[i] == '<')
			return i;
	}
	return n;
}

/* Append a copy of s[0..n) to l. */
static void
addrlist_push(struct addrlist *l, const char *s, size_t n)
{
	if (l->n == l->cap) {
		l->cap = l->cap ? l->cap * 2 : 8;
		l->addrs = xrealloc(l->addrs, l->cap * sizeof(*l->addrs));
	}
	l->addrs[l->n++] = xstrndup(s, n);
}

/* Check one address (bracketed or bare) and append it to l. */
static int
add_addr(const char *a, size_t n, unsigned flags, struct addrlist *l,
    char *err, size_t errlen)
{
	char buf[ELEM_MAX + 1], out[SMTP_ADDR_MAX + 1];
	unsigned f = SMTP_ADDR_NO_BRACKETS_OK;
	enum smtp_addr_err r;
	size_t bl, used;

	if (n > ELEM_MAX || !compact(a, n, buf, &bl))
		return fail(err, errlen, "bad address", a, n);
	if (flags & ADDRLIST_ALLOW_NULL)
		f |= SMTP_ADDR_ALLOW_NULL;
	if (flags & ADDRLIST_UTF8)
		f |= SMTP_ADDR_UTF8;
	if (bl == 2 && memcmp(buf, "<>", 2) == 0 && !(flags & ADDRLIST_ALLOW_NULL))
		return fail(err, errlen, "null address not allowed", a, n);
	r = smtp_addr_parse_path(buf, bl, f, out, sizeof(out), &used);
	if (r != SMTP_ADDR_OK || used != bl) {
		snprintf(err, errlen, "bad address \"%.*s\": %s", (int)(bl > 80 ? 80 : bl),
		    buf, r != SMTP_ADDR_OK ? smtp_addr_strerror(r) : "trailing text");
		return -1;
	}
	addrlist_push(l, out, strlen(out));
	return 0;
}

/* One list element: "[display name] <addr>" or a bare addr-spec. */
static int
element(const char *e, size_t n, unsigned flags, struct addrlist *l,
    char *err, size_t errlen)
{
	size_t a, close;

	while (n > 0 && e[0] == ' ')
		e++, n--;
	while (n > 0 && e[n - 1] == ' ')
		n--;
	if (n == 0)
		return 0;	/* empty element: allowed by the obsolete syntax */
	a = find_angle(e, n);
	if (a == n) {
		if (memchr(e, '@', n) == NULL)
			return fail(err, errlen, "not an address (no '@')", e, n);
		return add_addr(e, n, flags, l, err, errlen);
	}
	close = n - 1;
	if (e[close] != '>')
		return fail(err, errlen, "text after the angle-addr", e, n);
	return add_addr(e + a, close - a + 1, flags, l, err, errlen);
}

struct splitter {
	bool quote, group;
	int angle, bracket;
};

/* Update the quoting state for c (at c[0], c[1] next); true when top level. */
static bool
top_level(struct splitter *s, const char *c, size_t *i)
{
	if (s->quote) {
		if (c[0] == '\\')
			(*i)++;
		else if (c[0] == '"')
			s->quote = false;
		return false;
	}
	switch (c[0]) {
	case '"':
		s->quote = true;
		return false;
	case '<':
		s->angle++;
		return false;
	case '>':
		s->angle -= s->angle > 0;
		return false;
	case '[':
		s->bracket++;
		return false;
	case ']':
		s->bracket -= s->bracket > 0;
		return false;
	}
	return s->angle == 0 && s->bracket == 0;
}

/* Split the cleaned body into elements and groups. */
static int
split(const char *c, size_t n, unsigned flags, struct addrlist *l,
    char *err, size_t errlen)
{
	struct splitter s = { false, false, 0, 0 };
	size_t i, start = 0;

	for (i = 0; i < n; i++) {
		if (!top_level(&s, c + i, &i))
			continue;
		if (c[i] == ':' && !s.group) {
			s.group = true;		/* the group's name is dropped */
			start = i + 1;
		} else if (c[i] == ',' || (c[i] == ';' && s.group)) {
			if (element(c + start, i - start, flags, l, err, errlen) < 0)
				return -1;
			if (c[i] == ';')
				s.group = false;
			start = i + 1;
		} else if (c[i] == ';' || c[i] == ':')
			return fail(err, errlen, "misplaced group delimiter", c, n);
	}
	if (s.angle != 0)
		return fail(err, errlen, "unbalanced '<'", c, n);
	/* a group without its ';' is taken as ended (common in the wild) */
	return element(c + start, n - start, flags, l, err, errlen);
}

/* Parse an address header body and append its addresses to l. */
int
addrlist_parse(const char *value, size_t len, unsigned flags,
    struct addrlist *l, char *err, size_t errlen)
{
	size_t n0 = l->n, cl;
	char *c;
	int rc;

	if ((c = clean(value, len, &cl, err, errlen)) == NULL)
		return -1;
	rc = split(c, cl, flags, l, err, errlen);
	free(c);
	if (rc < 0) {
		while (l->n > n0)
			free(l->addrs[--l->n]);
	}
	return rc;
}

/* The bare texts being collected by addrlist_split(). */
struct rawsplit {
	char *plain, *angle;	/* the text outside and inside <> */
	size_t np, na;
	bool in_angle, had_angle;
};

/* Emit the mailbox collected so far (the angle address preferred). */
static void
rawsplit_flush(struct rawsplit *r, struct addrlist *l)
{
	const char *use = r->had_angle ? r->angle : r->plain;
	size_t n = r->had_angle ? r->na : r->np;

	if (n > 0)
		addrlist_push(l, use, n);
	r->np = r->na = 0;
	r->had_angle = false;
}

/* One byte of the list outside quotes and comments. */
static void
rawsplit_byte(struct rawsplit *r, char c, struct addrlist *l)
{
	if (c == '<' && !r->in_angle) {
		r->in_angle = r->had_angle = true;
		r->na = 0;
	} else if (c == '>' && r->in_angle)
		r->in_angle = false;
	else if (!r->in_angle && (c == ',' || c == ';'))
		rawsplit_flush(r, l);
	else if (!r->in_angle && c == ':')
		r->np = 0;		/* a group name */
	else if (c != ' ' && c != '\t' && c != '\r' && c != '\n') {
		if (r->in_angle)
			r->angle[r->na++] = c;
		else
			r->plain[r->np++] = c;
	}
}

/* Split an address list into bare, unchecked texts (see addrlist.h). */
void
addrlist_split(const char *value, size_t len, struct addrlist *l)
{
	struct rawsplit r = { xmalloc(len + 2), xmalloc(len + 2), 0, 0, false, false };
	size_t i = 0;

	while (i < len) {
		char *cur = r.in_angle ? r.angle : r.plain;
		size_t *o = r.in_angle ? &r.na : &r.np;

		if (value[i] == '(')
			(void)skip_comment(value, len, &i);
		else if (value[i] == '"') {
			if (!copy_quoted(value, len, &i, cur, o))
				cur[(*o)++] = '"';	/* closed for it */
		} else
			rawsplit_byte(&r, value[i++], l);
	}
	rawsplit_flush(&r, l);
	free(r.plain);
	free(r.angle);
}

/* Two addresses are equal when the local parts match exactly and the
 * domains match without case. */
static bool
same_addr(const char *a, const char *b)
{
	const char *da = strrchr(a, '@'), *db = strrchr(b, '@');

	if (da == NULL || db == NULL)
		return strcmp(a, b) == 0;
	return da - a == db - b && memcmp(a, b, (size_t)(da - a)) == 0 &&
	    strcasecmp(da, db) == 0;
}

/* Append addr unless already present. */
bool
addrlist_add_unique(struct addrlist *l, const char *addr)
{
	size_t i;

	for (i = 0; i < l->n; i++)
		if (same_addr(l->addrs[i], addr))
			return false;
	addrlist_push(l, addr, strlen(addr));
	return true;
}

/* FNV-1a of addr with its domain (after the last '@') in lower case, so
 * that addresses same_addr() calls equal hash alike. */
static size_t
addrset_hash(const char *addr)
{
	const char *at = strrchr(addr, '@');
	uint64_t h = 14695981039346656037ull;

	for (const char *p = addr; *p != '\0'; p++) {
		unsigned char c = (unsigned char)*p;

		if (at != NULL && p > at && c >= 'A' && c <= 'Z')
			c = (unsigned char)(c - 'A' + 'a');
		h = (h ^ c) * 1099511628211ull;
	}
	return (size_t)h;
}

/* The slot of addr: the one holding it or the empty one to put it in. */
static size_t *
addrset_slot(const struct addrset *s, const char *addr)
{
	size_t i = addrset_hash(addr) & (s->nslots - 1);

	while (s->slots[i] != 0 && !same_addr(s->list.addrs[s->slots[i] - 1], addr))
		i = (i + 1) & (s->nslots - 1);
	return &s->slots[i];
}

/* Double the index (kept at most half full). */
static void
addrset_grow(struct addrset *s)
{
	free(s->slots);
	s->nslots = s->nslots ? s->nslots * 2 : 64;
	s->slots = xcalloc(s->nslots, sizeof(*s->slots));
	for (size_t i = 0; i < s->list.n; i++)
		*addrset_slot(s, s->list.addrs[i]) = i + 1;
}

/* Is addr in the set (see addrlist.h)? */
bool
addrset_has(const struct addrset *s, const char *addr)
{
	return s->nslots > 0 && *addrset_slot(s, addr) != 0;
}

/* Add addr unless it is there (see addrlist.h). */
bool
addrset_add(struct addrset *s, const char *addr)
{
	size_t *slot;

	if (2 * (s->list.n + 1) > s->nslots)
		addrset_grow(s);
	slot = addrset_slot(s, addr);
	if (*slot != 0)
		return false;
	addrlist_push(&s->list, addr, strlen(addr));
	*slot = s->list.n;
	return true;
}

/* Free the set; it is empty again. */
void
addrset_free(struct addrset *s)
{
	addrlist_free(&s->list);
	free(s->slots);
	s->slots = NULL;
	s->nslots = 0;
}

/* Free everything in l. */
void
addrlist_free(struct addrlist *l)
{
	size_t i;

	for (i = 0; i < l->n; i++)
		free(l->addrs[i]);
	free(l->addrs);
	l->addrs = NULL;
	l->n = l->cap = 0;
}
