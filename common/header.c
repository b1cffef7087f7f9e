/*
 * header: look up one header field of a message in memory (see header.h).
 * Used by both daemons to log the Message-ID: inbound on the body it
 * received, outbound on the message it took from the spool.
 *
 * Must not know about files, the spool or SMTP.
 */
#include <string.h>
#include <strings.h>

#include "header.h"
#include "log.h"

/* Length of the line at p (without its LF or CRLF) within end. */
static size_t
header_line_len(const char *p, const char *end, const char **next)
{
	const char *nl = memchr(p, '\n', (size_t)(end - p));
	size_t n;

	if (nl == NULL) {
		*next = end;
		return (size_t)(end - p);
	}
	*next = nl + 1;
	n = (size_t)(nl - p);
	if (n > 0 && p[n - 1] == '\r')
		n--;
	return n;
}

/* Append src[0..n) to out at *o (leading white space dropped), as much
 * as fits in outsz - 1. */
static void
header_append(char *out, size_t outsz, size_t *o, const char *src, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (*o == 0 && (src[i] == ' ' || src[i] == '\t'))
			continue;
		if (*o + 1 < outsz)
			out[(*o)++] = src[i];
	}
}

/* The field name's length when l starts a field (see header.h). */
size_t
header_name_len(const char *l, size_t n)
{
	size_t i = 0, name;

	while (i < n && l[i] >= 33 && l[i] <= 126 && l[i] != ':')
		i++;
	if (i == 0)
		return 0;
	name = i;
	while (i < n && (l[i] == ' ' || l[i] == '\t'))
		i++;
	return (i < n && l[i] == ':') ? name : 0;
}

/* Where the body of field name starts on line l, or 0 (see header.h). */
size_t
header_is(const char *l, size_t n, const char *name)
{
	size_t k = strlen(name);

	if (n < k + 1 || strncasecmp(l, name, k) != 0)
		return 0;
	while (k < n && (l[k] == ' ' || l[k] == '\t'))
		k++;
	return k < n && l[k] == ':' ? k + 1 : 0;
}

/* The length of one field with its continuation lines (see header.h). */
size_t
header_field_len(const char *h, size_t n)
{
	size_t i = 0;
	const char *nl;

	do {
		nl = memchr(h + i, '\n', n - i);
		i = nl != NULL ? (size_t)(nl - h) + 1 : n;
	} while (i < n && (h[i] == ' ' || h[i] == '\t'));
	return i;
}

/* The length of the header block (see header.h). */
size_t
header_block_len(const char *msg, size_t n)
{
	for (size_t i = 0; i + 1 < n; i++) {
		if (msg[i] != '\n')
			continue;
		if (msg[i + 1] == '\n')
			return i + 1;
		if (msg[i + 1] == '\r' && i + 2 < n && msg[i + 2] == '\n')
			return i + 1;
	}
	return n;
}

/* The first field called name, unfolded and trimmed (see header.h). */
long
header_get(const char *msg, size_t len, const char *name, char *out, size_t outsz)
{
	const char *p = msg, *end = msg + len, *next;
	size_t nlen = strlen(name), n, o = 0;
	int in_field = 0;

	if (outsz > 0)
		out[0] = '\0';
	while (p < end) {
		n = header_line_len(p, end, &next);
		if (n == 0)
			break;				/* the end of the header */
		if (in_field && (p[0] == ' ' || p[0] == '\t'))
			header_append(out, outsz, &o, p, n);	/* a continuation */
		else if (in_field)
			break;
		else if (n > nlen && p[nlen] == ':' && strncasecmp(p, name, nlen) == 0) {
			in_field = 1;
			header_append(out, outsz, &o, p + nlen + 1, n - nlen - 1);
		}
		p = next;
	}
	if (!in_field)
		return -1;
	if (outsz > 0) {
		out[o] = '\0';
		while (o > 0 && (out[o - 1] == ' ' || out[o - 1] == '\t'))
			out[--o] = '\0';
	}
	return (long)o;
}

/* The Message-ID to log (see header.h). */
const char *
header_msgid_for_log(const char *msg, size_t len, char *out, size_t outsz)
{
	char v[1000];
	const char *lt, *gt, *s = v;
	size_t n;

	if (header_get(msg, len, "Message-ID", v, sizeof(v)) < 0 || v[0] == '\0')
		return log_printable("none", 4, out, outsz);
	n = strlen(v);
	if ((lt = strchr(v, '<')) != NULL && (gt = strchr(lt, '>')) != NULL) {
		s = lt;
		n = (size_t)(gt - lt) + 1;
	}
	return log_printable(s, n, out, outsz);
}
