/*
 * pickup: producers' pickup files -> queue entries.
 *
 * pickup_parse() is pure: it splits the optional X-Sender:/X-Receiver:
 * envelope lines from the RFC 5322 message, checks that the rest is a
 * message (header fields, blank line, body; no NUL, no bare CR), takes
 * the envelope from the headers when the envelope lines are missing, and
 * returns the message to store with CRLF line ends, without the envelope
 * lines, Bcc: and Return-Path: (RFC 5321 4.4: a sender must not send one).
 *
 * pickup_claim() and friends do the crash-safe hand-over described in
 * pickup.h.  This module knows nothing about inotify, scanning, SMTP or
 * the scheduler: the daemon decides when to claim and what to do next.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "addrlist.h"
#include "fsutil.h"
#include "id.h"
#include "pickup.h"
#include "queue.h"
#include "smtp_addr.h"
#include "util.h"

#define CLAIM_PREFIX		"claim."

/* What pickup_parse() builds up. */
struct pparse {
	const char *buf;
	size_t len, off;
	size_t start;		/* where the message starts (after envelope lines) */
	unsigned lineno;
	char *out;		/* the message to store */
	size_t olen, ocap;
	bool have_xsender;
	char *sender;		/* from X-Sender:, Return-Path: or From: */
	bool sender_from_rp;
	char *from;		/* first From: address */
	struct addrlist xrcpts;	/* X-Receiver: */
	struct addrlist hrcpts;	/* To:, Cc:, Bcc: */
	char *reason;
	size_t reasonlen;
};

/* One line of the input, without its LF or CRLF. */
struct pline {
	const char *p;
	size_t n;
};

/* Fill the reason; returns -1. */
static int __attribute__((format(printf, 2, 3)))
pfail(struct pparse *pp, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(pp->reason, pp->reasonlen, fmt, ap);
	va_end(ap);
	return -1;
}

/* The next line at pp->off (not consumed); false at the end. */
static bool
peek_line(const struct pparse *pp, struct pline *l, size_t *next)
{
	const char *nl;

	if (pp->off >= pp->len)
		return false;
	l->p = pp->buf + pp->off;
	nl = memchr(l->p, '\n', pp->len - pp->off);
	l->n = nl != NULL ? (size_t)(nl - l->p) : pp->len - pp->off;
	*next = pp->off + l->n + (nl != NULL);
	if (l->n > 0 && l->p[l->n - 1] == '\r')
		l->n--;
	return true;
}

/* Append bytes to the stored message. */
static void
out_add(struct pparse *pp, const char *s, size_t n)
{
	if (pp->olen + n > pp->ocap) {
		pp->ocap = (pp->olen + n) * 2 + 256;
		pp->out = xrealloc(pp->out, pp->ocap);
	}
	memcpy(pp->out + pp->olen, s, n);
	pp->olen += n;
}

/* Append a line and CRLF to the stored message. */
static void
out_line(struct pparse *pp, const struct pline *l)
{
	out_add(pp, l->p, l->n);
	out_add(pp, "\r\n", 2);
}

/* Length of "Name:" when l starts with that header name (any case), else 0. */
static size_t
has_name(const struct pline *l, const char *name)
{
	size_t k = strlen(name);

	if (l->n < k + 1 || strncasecmp(l->p, name, k) != 0)
		return 0;
	while (k < l->n && (l->p[k] == ' ' || l->p[k] == '\t'))
		k++;
	return k < l->n && l->p[k] == ':' ? k + 1 : 0;
}

/* Parse one envelope address (with or without <>) from s[0..n). */
static int
env_addr(struct pparse *pp, const char *what, const char *s, size_t n,
    unsigned flags, char *out)
{
	enum smtp_addr_err r;
	size_t used;

	while (n > 0 && (s[0] == ' ' || s[0] == '\t'))
		s++, n--;
	while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t'))
		n--;
	r = smtp_addr_parse_path(s, n, flags | SMTP_ADDR_NO_BRACKETS_OK | SMTP_ADDR_UTF8,
	    out, SMTP_ADDR_MAX + 1, &used);
	if (r == SMTP_ADDR_OK && used != n)
		r = SMTP_ADDR_SYNTAX;
	if (r != SMTP_ADDR_OK)
		return pfail(pp, "line %u: bad %s address \"%.*s\": %s", pp->lineno, what,
		    (int)(n > 80 ? 80 : n), s, smtp_addr_strerror(r));
	return 0;
}

/* The leading X-Sender:/X-Receiver: lines. */
static int
parse_envelope_lines(struct pparse *pp)
{
	char addr[SMTP_ADDR_MAX + 1];
	struct pline l;
	size_t next, k;

	while (peek_line(pp, &l, &next)) {
		bool snd = (k = has_name(&l, "X-Sender")) != 0;
		if (!snd && (k = has_name(&l, "X-Receiver")) == 0)
			return 0;
		pp->lineno++;
		if (snd && pp->have_xsender)
			return pfail(pp, "line %u: X-Sender given twice", pp->lineno);
		if (env_addr(pp, snd ? "X-Sender" : "X-Receiver", l.p + k, l.n - k,
		    snd ? SMTP_ADDR_ALLOW_NULL : 0, addr) < 0)
			return -1;
		if (snd) {
			pp->have_xsender = true;
			pp->sender = xstrdup(addr);
		} else
			addrlist_add_unique(&pp->xrcpts, addr);
		pp->off = next;
	}
	return 0;
}

/* 1 when l begins a header field ("Name:" with a printable name). */
static bool
is_field_start(const struct pline *l)
{
	size_t i;

	for (i = 0; i < l->n && l->p[i] != ':'; i++) {
		unsigned char c = (unsigned char)l->p[i];
		if (c == ' ' || c == '\t') {
			/* obsolete: white space before the colon only */
			while (i < l->n && (l->p[i] == ' ' || l->p[i] == '\t'))
				i++;
			return i > 0 && i < l->n && l->p[i] == ':' && l->p[0] != ' ' &&
			    l->p[0] != '\t';
		}
		if (c < 33 || c > 126)
			return false;
	}
	return i > 0 && i < l->n;
}

/* The addresses of an address field value, added to l without duplicates
 * (up to one past the limit, so that it is noticed). */
static int
field_addrs(struct pparse *pp, unsigned line, const char *name, const char *v,
    size_t n, unsigned flags, struct addrlist *l)
{
	struct addrlist tmp = { NULL, 0, 0 };
	char err[200];
	size_t i;

	if (addrlist_parse(v, n, flags | ADDRLIST_UTF8, &tmp, err, sizeof(err)) < 0) {
		addrlist_free(&tmp);
		return pfail(pp, "line %u: %s: header: %s", line, name, err);
	}
	for (i = 0; i < tmp.n && l->n <= PICKUP_MAX_RCPTS; i++)
		addrlist_add_unique(l, tmp.addrs[i]);
	addrlist_free(&tmp);
	return 0;
}

/* Return-Path: (one address or <>) as the sender. */
static int
use_return_path(struct pparse *pp, unsigned line, const char *v, size_t n)
{
	struct addrlist tmp = { NULL, 0, 0 };
	int rc;

	rc = field_addrs(pp, line, "Return-Path", v, n, ADDRLIST_ALLOW_NULL, &tmp);
	if (rc == 0 && tmp.n != 1)
		rc = pfail(pp, "line %u: Return-Path: must hold one address", line);
	if (rc == 0) {
		pp->sender = xstrdup(tmp.addrs[0]);
		pp->sender_from_rp = true;
	}
	addrlist_free(&tmp);
	return rc;
}

/* The first From: address, the sender when there is no Return-Path:. */
static int
use_from(struct pparse *pp, unsigned line, const char *v, size_t n)
{
	struct addrlist tmp = { NULL, 0, 0 };
	int rc;

	rc = field_addrs(pp, line, "From", v, n, 0, &tmp);
	if (rc == 0 && tmp.n > 0)
		pp->from = xstrdup(tmp.addrs[0]);
	addrlist_free(&tmp);
	return rc;
}

/* Take what the envelope needs from one field (name of length k + value). */
static int
use_field(struct pparse *pp, const struct pline *first, size_t k, unsigned line,
    const char *v, size_t n)
{
	static const char *const rcpt_fields[] = { "To", "Cc", "Bcc" };
	size_t i;

	for (i = 0; i < 3; i++)
		if (has_name(first, rcpt_fields[i]) == k)
			return pp->xrcpts.n > 0 ? 0 :
			    field_addrs(pp, line, rcpt_fields[i], v, n, 0, &pp->hrcpts);
	if (pp->have_xsender)
		return 0;
	if (has_name(first, "Return-Path") == k && !pp->sender_from_rp)
		return use_return_path(pp, line, v, n);
	if (has_name(first, "From") == k && pp->from == NULL)
		return use_from(pp, line, v, n);
	return 0;
}

/* One header field: its first line and continuation lines. */
static int
parse_field(struct pparse *pp, const struct pline *first, size_t next)
{
	const char *colon = memchr(first->p, ':', first->n);
	size_t k = (size_t)(colon - first->p) + 1;
	const char *v = first->p + k, *vend = first->p + first->n;
	bool drop = has_name(first, "Bcc") == k || has_name(first, "Return-Path") == k;
	unsigned line0 = pp->lineno;
	struct pline l;

	if (!drop)
		out_line(pp, first);
	pp->off = next;
	while (peek_line(pp, &l, &next) && l.n > 0 && (l.p[0] == ' ' || l.p[0] == '\t')) {
		pp->lineno++;
		if (!drop)
			out_line(pp, &l);
		vend = l.p + l.n;
		pp->off = next;
	}
	return use_field(pp, first, k, line0, v, (size_t)(vend - v));
}

/* The header section, up to and including the blank line. */
static int
parse_headers(struct pparse *pp)
{
	struct pline l;
	size_t next;
	unsigned nfields = 0;

	while (peek_line(pp, &l, &next)) {
		pp->lineno++;
		if (l.n == 0) {
			if (nfields == 0)
				return pfail(pp, "not a message: no header fields");
			out_add(pp, "\r\n", 2);
			pp->off = next;
			return 0;
		}
		if (l.p[0] == ' ' || l.p[0] == '\t')
			return pfail(pp, "not a message: line %u: continuation line "
			    "before any header field", pp->lineno);
		if (!is_field_start(&l))
			return pfail(pp, "not a message: line %u is not a header field "
			    "(no \"Name:\")", pp->lineno);
		if (parse_field(pp, &l, next) < 0)
			return -1;
		nfields++;
	}
	if (nfields == 0)
		return pfail(pp, "not a message: no header fields");
	return 0;	/* headers only, no body: allowed */
}

/* The body, line by line, CRLF-normalised. */
static void
copy_body(struct pparse *pp)
{
	struct pline l;
	size_t next;

	while (peek_line(pp, &l, &next)) {
		out_line(pp, &l);
		pp->off = next;
	}
}

/* Whole-file checks before any parsing. */
static int
check_bytes(struct pparse *pp)
{
	const char *p;
	size_t i;

	if (pp->len == 0)
		return pfail(pp, "empty file");
	if (pp->len > PICKUP_MAX_SIZE)
		return pfail(pp, "message too large (%zu bytes, limit %u)", pp->len,
		    PICKUP_MAX_SIZE);
	if ((p = memchr(pp->buf, '\0', pp->len)) != NULL)
		return pfail(pp, "not a message: NUL byte at offset %zu",
		    (size_t)(p - pp->buf));
	for (p = pp->buf; (p = memchr(p, '\r', pp->len - (size_t)(p - pp->buf))) != NULL; p++) {
		i = (size_t)(p - pp->buf);
		if (i + 1 >= pp->len || pp->buf[i + 1] != '\n')
			return pfail(pp, "not a message: bare CR at offset %zu", i);
	}
	return 0;
}

/* Decide the envelope once the headers are read. */
static int
choose_envelope(struct pparse *pp, struct queue_entry *e)
{
	const struct addrlist *r = pp->xrcpts.n > 0 ? &pp->xrcpts : &pp->hrcpts;
	size_t i;

	if (pp->sender == NULL && pp->from != NULL) {
		pp->sender = pp->from;
		pp->from = NULL;
	}
	if (pp->sender == NULL)
		return pfail(pp, "no sender (no X-Sender:, Return-Path: or From:)");
	if (r->n == 0)
		return pfail(pp, "no recipient (no X-Receiver:, To:, Cc: or Bcc:)");
	if (r->n > PICKUP_MAX_RCPTS)
		return pfail(pp, "too many recipients (%zu, limit %d)", r->n, PICKUP_MAX_RCPTS);
	e->sender = pp->sender;
	pp->sender = NULL;
	e->rcpts = xcalloc(r->n, sizeof(*e->rcpts));
	e->nrcpts = r->n;
	for (i = 0; i < r->n; i++) {
		e->rcpts[i].addr = xstrdup(r->addrs[i]);
		e->rcpts[i].state = QUEUE_RCPT_PENDING;
	}
	return 0;
}

/* pickup_parse(), also giving where the message starts in buf. */
static int
parse_at(const char *buf, size_t len, struct queue_entry *e, char **msg,
    size_t *msglen, size_t *start, char *reason, size_t reasonlen)
{
	struct pparse pp;
	int rc;

	memset(&pp, 0, sizeof(pp));
	pp.buf = buf;
	pp.len = len;
	pp.reason = reason;
	pp.reasonlen = reasonlen;
	rc = check_bytes(&pp);
	if (rc == 0)
		rc = parse_envelope_lines(&pp);
	pp.start = pp.off;
	if (rc == 0)
		rc = parse_headers(&pp);
	if (rc == 0) {
		copy_body(&pp);
		rc = choose_envelope(&pp, e);
	}
	free(pp.sender);
	free(pp.from);
	addrlist_free(&pp.xrcpts);
	addrlist_free(&pp.hrcpts);
	if (rc < 0) {
		free(pp.out);
		return -1;
	}
	*msg = pp.out != NULL ? pp.out : xstrdup("");
	*msglen = pp.olen;
	*start = pp.start;
	return 0;
}

/* Pure: parse a pickup file (see pickup.h). */
int
pickup_parse(const char *buf, size_t len, struct queue_entry *e,
    char **msg, size_t *msglen, char *reason, size_t reasonlen)
{
	size_t start;

	return parse_at(buf, len, e, msg, msglen, &start, reason, reasonlen);
}

/* 1 when out is raw with every line end made CRLF (nothing else changed). */
static int
same_but_line_ends(const char *raw, size_t rawlen, const char *out, size_t olen)
{
	size_t i = 0, j = 0;

	while (i < rawlen && j < olen) {
		if (raw[i] == '\n' && (i == 0 || raw[i - 1] != '\r')) {
			if (out[j] != '\r' || j + 1 >= olen || out[j + 1] != '\n')
				return 0;
			i++;
			j += 2;
			continue;
		}
		if (raw[i++] != out[j++])
			return 0;
	}
	return i == rawlen && j == olen;
}

/*
 * Claims queued with sync=false, waiting for pickup_commit().  A mutex
 * because nothing in pickup.h says claims come from one thread.
 */
struct pending_claim {
	char id[ID_LEN + 1];
	bool in_tmp;		/* tmp/claim.<id> (dropped by the commit), or
				   else queue/<id>.new (renamed to .msg) */
};

static pthread_mutex_t pending_lock = PTHREAD_MUTEX_INITIALIZER;
static struct pending_claim *pending;
static size_t npending, pending_cap;

/* Remember a claim for the next pickup_commit(). */
static void
pending_add(const char *id, bool in_tmp)
{
	pthread_mutex_lock(&pending_lock);
	if (npending == pending_cap) {
		pending_cap = pending_cap ? pending_cap * 2 : 64;
		pending = xrealloc(pending, pending_cap * sizeof(*pending));
	}
	memcpy(pending[npending].id, id, ID_LEN + 1);
	pending[npending++].in_tmp = in_tmp;
	pthread_mutex_unlock(&pending_lock);
}

/* Take the pending list (the caller frees it). */
static size_t
pending_take(struct pending_claim **out)
{
	size_t n;

	pthread_mutex_lock(&pending_lock);
	*out = pending;
	n = npending;
	pending = NULL;
	npending = pending_cap = 0;
	pthread_mutex_unlock(&pending_lock);
	return n;
}

/* 1 when name may be a pickup file: no '/', not hidden, not too long. */
static int
valid_name(const char *name)
{
	size_t n = strlen(name);

	return n > 0 && n <= 200 && name[0] != '.' && strchr(name, '/') == NULL;
}

/* The claim file name for id. */
static void
claim_name(char *buf, size_t sz, const char *id)
{
	snprintf(buf, sz, CLAIM_PREFIX "%s", id);
}

/*
 * Read <label>/<cname> (in dirfd) whole.  0 with *buf; 1 when it is not
 * acceptable (reason set: not a regular file, too large); -1 on I/O error
 * (err).
 */
static int
read_claim(int dirfd, const char *label, const char *cname, char **buf, size_t *lenp,
    char *reason, size_t reasonlen, char *err, size_t errlen)
{
	struct stat st;
	size_t off = 0;
	ssize_t n;
	int fd;

	if ((fd = openat(dirfd, cname, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK)) < 0) {
		if (errno == ELOOP) {
			snprintf(reason, reasonlen, "not a regular file (symbolic link)");
			return 1;
		}
		snprintf(err, errlen, "%s/%s: open: %s", label, cname, strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) < 0) {
		snprintf(err, errlen, "%s/%s: fstat: %s", label, cname, strerror(errno));
		close(fd);
		return -1;
	}
	if (!S_ISREG(st.st_mode) || st.st_size > PICKUP_MAX_SIZE) {
		if (S_ISREG(st.st_mode))
			snprintf(reason, reasonlen, "message too large (%jd bytes, limit %u)",
			    (intmax_t)st.st_size, PICKUP_MAX_SIZE);
		else
			snprintf(reason, reasonlen, "not a regular file");
		close(fd);
		return 1;
	}
	*buf = xmalloc((size_t)st.st_size + 1);
	while (off < (size_t)st.st_size &&
	    (n = read(fd, *buf + off, (size_t)st.st_size - off)) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			snprintf(err, errlen, "%s/%s: read: %s", label, cname, strerror(errno));
			free(*buf);
			close(fd);
			return -1;
		}
		off += (size_t)n;
	}
	close(fd);
	*lenp = off;
	return 0;
}

/* Write bad/<bname>.reason: the reason as one printable line. */
static int
write_reason(const struct pickup_dirs *d, const char *bname, const char *reason,
    bool sync, char *err, size_t errlen)
{
	char rname[NAME_MAX + 16], line[600];
	size_t i;

	snprintf(rname, sizeof(rname), "%s.reason", bname);
	for (i = 0; reason[i] != '\0' && i < sizeof(line) - 2; i++)
		line[i] = (reason[i] >= 0x20 && reason[i] < 0x7f) ? reason[i] : '?';
	line[i++] = '\n';
	return fsutil_write_atomic(d->tmp, d->bad, rname, line, i, sync, err, errlen);
}

/* Move the claim to bad/<name> (or bad/<name>.<id> if taken) with its reason. */
static int
move_to_bad(const struct pickup_dirs *d, const char *id, const char *name,
    const char *reason, bool sync, char *err, size_t errlen)
{
	char cname[64], bname[NAME_MAX + 1];
	int rc;

	claim_name(cname, sizeof(cname), id);
	util_strlcpy(bname, name, sizeof(bname));
	rc = renameat2(d->tmp, cname, d->bad, bname, RENAME_NOREPLACE);
	if (rc < 0 && errno == EEXIST) {
		snprintf(bname, sizeof(bname), "%s.%s", name, id);
		rc = renameat2(d->tmp, cname, d->bad, bname, RENAME_NOREPLACE);
	}
	if (rc < 0) {
		snprintf(err, errlen, "tmp/%s -> bad/%s: rename: %s", cname, bname,
		    strerror(errno));
		return -1;
	}
	return write_reason(d, bname, reason, sync, err, errlen);
}

/* Unlink the claim of id; with sync, make that durable. */
static int
drop_claim(const struct pickup_dirs *d, const char *id, bool sync, char *err, size_t errlen)
{
	char cname[64];

	claim_name(cname, sizeof(cname), id);
	if (unlinkat(d->tmp, cname, 0) < 0 && errno != ENOENT) {
		snprintf(err, errlen, "tmp/%s: unlink: %s", cname, strerror(errno));
		return -1;
	}
	return sync ? fsutil_fsync_dirfd(d->tmp, "tmp", err, errlen) : 0;
}

/* Queue the parsed message p under id. */
static int
queue_parsed(const struct pickup_dirs *d, const char *id, const struct queue_entry *p,
    const char *msg, size_t msglen, int64_t now, bool sync, struct queue_entry *e,
    char *err, size_t errlen)
{
	const char **rcpts = xcalloc(p->nrcpts, sizeof(*rcpts));
	size_t i;
	int rc;

	for (i = 0; i < p->nrcpts; i++)
		rcpts[i] = p->rcpts[i].addr;
	rc = queue_entry_create_id(d->tmp, d->queue, id, p->sender, rcpts, p->nrcpts,
	    msg, msglen, now, sync, e, err, errlen);
	free(rcpts);
	return rc;
}

/*
 * Spare inodes: on this kind of file system creating a file (allocating an
 * inode and its first block) costs far more than renaming or overwriting
 * one.  A finished message's .env is kept as tmp/spare.<n> and the next
 * .env is written over it (pwrite + ftruncate within its block) and
 * renamed into queue/.  A spare is never part of the queue, so a crash
 * with one half-written loses nothing; pickup_recover() collects them.
 */
#define SPARE_PREFIX		"spare."
#define SPARE_MAX		4096

static pthread_mutex_t spare_lock = PTHREAD_MUTEX_INITIALIZER;
static unsigned *spares;	/* numbers of the tmp/spare.<n> files */
static size_t nspares, spare_cap;
static unsigned spare_next;	/* the next free number */

/* Add spare number n to the pool. */
static void
spare_push(unsigned n)
{
	pthread_mutex_lock(&spare_lock);
	if (nspares == spare_cap) {
		spare_cap = spare_cap ? spare_cap * 2 : 256;
		spares = xrealloc(spares, spare_cap * sizeof(*spares));
	}
	spares[nspares++] = n;
	if (n >= spare_next)
		spare_next = n + 1;
	pthread_mutex_unlock(&spare_lock);
}

/* Take a spare number (1), or reserve a new number when the pool is full
 * enough to keep another (0), or neither (-1). */
static int
spare_take(unsigned *n, bool want_new)
{
	int rc = -1;

	pthread_mutex_lock(&spare_lock);
	if (!want_new && nspares > 0) {
		*n = spares[--nspares];
		rc = 1;
	} else if (want_new && nspares < SPARE_MAX) {
		*n = spare_next++;
		rc = 0;
	}
	pthread_mutex_unlock(&spare_lock);
	return rc;
}

/* The name of spare n. */
static void
spare_name(char *buf, size_t sz, unsigned n)
{
	snprintf(buf, sz, SPARE_PREFIX "%u", n);
}

/* Write text over spare n; 0, or -1 (the spare is then removed). */
static int
spare_write(const struct pickup_dirs *d, unsigned n, const char *text, size_t len,
    char *err, size_t errlen)
{
	char sname[32];
	ssize_t w;
	int fd;

	spare_name(sname, sizeof(sname), n);
	fd = openat(d->tmp, sname, O_WRONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd >= 0 && (w = pwrite(fd, text, len, 0)) == (ssize_t)len &&
	    ftruncate(fd, (off_t)len) == 0 && close(fd) == 0)
		return 0;
	snprintf(err, errlen, "tmp/%s: write: %s", sname, fd < 0 ? strerror(errno) :
	    "short write or truncate failure");
	if (fd >= 0)
		close(fd);
	(void)unlinkat(d->tmp, sname, 0);
	return -1;
}

/* Write queue/<id>.env (new) from text: over a spare when there is one. */
static int
write_env(const struct pickup_dirs *d, const char *id, const char *text, size_t len,
    char *err, size_t errlen)
{
	char tname[64], name[ID_LEN + 8];
	struct iovec iov = { (void *)text, len };
	unsigned n;

	snprintf(name, sizeof(name), "%s.env", id);
	if (spare_take(&n, false) == 1 && spare_write(d, n, text, len, err, errlen) == 0) {
		spare_name(tname, sizeof(tname), n);
	} else {	/* no spare (or it is gone): a new file */
		snprintf(tname, sizeof(tname), "env.%s", id);
		(void)unlinkat(d->tmp, tname, 0);
		if (fsutil_write_new(d->tmp, tname, &iov, 1, false, err, errlen) < 0)
			return -1;
	}
	if (renameat2(d->tmp, tname, d->queue, name, RENAME_NOREPLACE) < 0) {
		snprintf(err, errlen, "tmp/%s -> queue/%s: rename: %s", tname, name,
		    strerror(errno));
		(void)unlinkat(d->tmp, tname, 0);
		return -1;
	}
	return 0;
}

/*
 * Queue/<id>.msg is the pickup file itself (sync=false only): write
 * queue/<id>.env with the message's offset in it.  p's envelope moves
 * to e.
 */
static int
queue_raw_env(const struct pickup_dirs *d, const char *id, struct queue_entry *p,
    size_t start, size_t msglen, int64_t now, struct queue_entry *e,
    char *err, size_t errlen)
{
	char *text;
	size_t len;
	int rc;

	*e = *p;
	memset(p, 0, sizeof(*p));
	util_strlcpy(e->id, id, sizeof(e->id));
	e->created = e->next_attempt = now;
	e->size = msglen;
	e->offset = start;
	text = queue_env_format(e, &len);
	rc = write_env(d, id, text, len, err, errlen);
	free(text);
	if (rc < 0)
		queue_entry_free(e);
	return rc;
}

/* Remove a finished message (see pickup.h). */
int
pickup_release(const struct pickup_dirs *d, const char *id, char *err, size_t errlen)
{
	char name[ID_LEN + 8], sname[32];
	unsigned n;

	if (!id_valid(id)) {
		snprintf(err, errlen, "bad queue id \"%.40s\"", id);
		errno = EINVAL;
		return -1;
	}
	snprintf(name, sizeof(name), "%s.env", id);
	if (spare_take(&n, true) == 0) {
		spare_name(sname, sizeof(sname), n);
		if (renameat(d->queue, name, d->tmp, sname) == 0) {
			spare_push(n);
			snprintf(name, sizeof(name), "%s.msg", id);
			if (unlinkat(d->queue, name, 0) == 0 || errno == ENOENT)
				return 0;
			snprintf(err, errlen, "queue/%s: unlink: %s", name, strerror(errno));
			return -1;
		}
	}
	return queue_entry_remove(d->queue, id, err, errlen);
}

/* Read and parse <label>/<fname> (in dirfd): 0 parsed, 1 bad (reason),
 * -1 error.  *rawstart is where the message starts in the file when the
 * stored message is the file from there on, up to line ends; else
 * SIZE_MAX. */
static int
load_file(int dirfd, const char *label, const char *fname, struct queue_entry *p,
    char **msg, size_t *msglen, size_t *rawstart, char *reason, size_t reasonlen,
    char *err, size_t errlen)
{
	char *buf = NULL;
	size_t len = 0, start = 0;
	int rc;

	memset(p, 0, sizeof(*p));
	*rawstart = SIZE_MAX;
	if ((rc = read_claim(dirfd, label, fname, &buf, &len, reason, reasonlen,
	    err, errlen)) != 0)
		return rc;
	rc = parse_at(buf, len, p, msg, msglen, &start, reason, reasonlen) < 0 ? 1 : 0;
	if (rc == 0 && same_but_line_ends(buf + start, len - start, *msg, *msglen))
		*rawstart = start;
	free(buf);
	return rc;
}

/* load_file() of tmp/claim.<id>. */
static int
load_claim(const struct pickup_dirs *d, const char *id, struct queue_entry *p,
    char **msg, size_t *msglen, size_t *rawstart, char *reason, size_t reasonlen,
    char *err, size_t errlen)
{
	char cname[64];

	claim_name(cname, sizeof(cname), id);
	return load_file(d->tmp, "tmp", cname, p, msg, msglen, rawstart, reason,
	    reasonlen, err, errlen);
}

/*
 * Queue the claim of id; a bad one goes to bad/<bname>.  On an I/O error
 * the claim goes back to pickup/<back> when back is not NULL.
 */
static enum pickup_outcome
process_claim(const struct pickup_dirs *d, const char *id, const char *bname,
    const char *back, int64_t now, bool sync, struct queue_entry *e,
    char **msgp, size_t *msglenp, char *reason, size_t reasonlen, char *err,
    size_t errlen)
{
	struct queue_entry p;
	char cname[64], *msg = NULL;
	size_t msglen = 0, rawstart;
	int rc;

	rc = load_claim(d, id, &p, &msg, &msglen, &rawstart, reason, reasonlen, err, errlen);
	if (rc == 1)
		return move_to_bad(d, id, bname, reason, sync, err, errlen) < 0 ?
		    PICKUP_ERROR : PICKUP_BAD;
	if (rc == 0)
		rc = queue_parsed(d, id, &p, msg, msglen, now, sync, e, err, errlen);
	queue_entry_free(&p);
	if (rc == 0 && msgp != NULL) {
		*msgp = msg;
		*msglenp = msglen;
		msg = NULL;
	}
	free(msg);
	if (rc < 0) {
		claim_name(cname, sizeof(cname), id);
		if (back != NULL)
			(void)renameat(d->tmp, cname, d->pickup, back);
		return PICKUP_ERROR;
	}
	if (!sync) {
		pending_add(id, true);
		return PICKUP_QUEUED;
	}
	/* queued and durable; a claim left behind is dropped by pickup_recover() */
	(void)drop_claim(d, id, true, err, errlen);
	return PICKUP_QUEUED;
}

/* Put queue/<id>.new back as pickup/<name> after a failed claim (when
 * that fails too, pickup_recover() finds it at the next start). */
static void
unclaim_direct(const struct pickup_dirs *d, const char *id, const char *name)
{
	char mname[ID_LEN + 8];

	snprintf(mname, sizeof(mname), "%s.new", id);
	(void)renameat2(d->queue, mname, d->pickup, name, RENAME_NOREPLACE);
}

/*
 * The sync=false claim: pickup/<name> becomes queue/<id>.new by one
 * rename, and when the file can be sent as it is (only envelope lines
 * and line ends to change) queue/<id>.env with the message's offset is
 * all there is to write; the commit renames the .new to .msg once both
 * are durable.  A .new is a claim in progress: pickup_recover() redoes
 * it.  Anything else (a copy must be made, or the file is bad) moves on
 * to tmp/claim.<id> and the ordinary claim.
 */
static enum pickup_outcome
claim_direct(const struct pickup_dirs *d, const char *name, const char *id,
    int64_t now, struct queue_entry *e, char **msgp, size_t *msglenp,
    char *reason, size_t reasonlen, char *err, size_t errlen)
{
	char mname[ID_LEN + 8], cname[64], *msg = NULL;
	struct queue_entry p;
	size_t msglen = 0, rawstart;
	int rc;

	snprintf(mname, sizeof(mname), "%s.new", id);
	if (renameat2(d->pickup, name, d->queue, mname, RENAME_NOREPLACE) < 0) {
		if (errno == ENOENT)
			return PICKUP_GONE;
		snprintf(err, errlen, "pickup/%s -> queue/%s: rename: %s", name, mname,
		    strerror(errno));
		return PICKUP_ERROR;
	}
	rc = load_file(d->queue, "queue", mname, &p, &msg, &msglen, &rawstart, reason,
	    reasonlen, err, errlen);
	if (rc == 0 && rawstart != SIZE_MAX) {
		rc = queue_raw_env(d, id, &p, rawstart, msglen, now, e, err, errlen);
		queue_entry_free(&p);
		if (rc < 0) {
			free(msg);
			unclaim_direct(d, id, name);
			return PICKUP_ERROR;
		}
		pending_add(id, false);
		if (msgp != NULL) {
			*msgp = msg;
			*msglenp = msglen;
		} else
			free(msg);
		return PICKUP_QUEUED;
	}
	queue_entry_free(&p);
	free(msg);
	if (rc < 0) {
		unclaim_direct(d, id, name);
		return PICKUP_ERROR;
	}
	claim_name(cname, sizeof(cname), id);
	if (renameat(d->queue, mname, d->tmp, cname) < 0) {
		snprintf(err, errlen, "queue/%s -> tmp/%s: rename: %s", mname, cname,
		    strerror(errno));
		unclaim_direct(d, id, name);
		return PICKUP_ERROR;
	}
	return process_claim(d, id, name, name, now, false, e, msgp, msglenp, reason,
	    reasonlen, err, errlen);
}

/* Claim pickup/<name> and queue it (see pickup.h). */
enum pickup_outcome
pickup_claim(const struct pickup_dirs *d, const char *name,
    int64_t now, bool sync, struct queue_entry *e, char *reason, size_t reasonlen,
    char *err, size_t errlen)
{
	return pickup_claim_body(d, name, now, sync, e, NULL, NULL, reason, reasonlen,
	    err, errlen);
}

/* pickup_claim(), also handing back the stored message (see pickup.h). */
enum pickup_outcome
pickup_claim_body(const struct pickup_dirs *d, const char *name,
    int64_t now, bool sync, struct queue_entry *e, char **msg, size_t *msglen,
    char *reason, size_t reasonlen, char *err, size_t errlen)
{
	char id[ID_LEN + 1], cname[64];

	memset(e, 0, sizeof(*e));
	if (reasonlen > 0)
		reason[0] = '\0';
	if (!valid_name(name)) {
		snprintf(err, errlen, "pickup/%.64s: not a pickup file name", name);
		return PICKUP_ERROR;
	}
	id_generate(id);
	if (!sync)
		return claim_direct(d, name, id, now, e, msg, msglen, reason, reasonlen,
		    err, errlen);
	claim_name(cname, sizeof(cname), id);
	if (renameat(d->pickup, name, d->tmp, cname) < 0) {
		if (errno == ENOENT)
			return PICKUP_GONE;
		snprintf(err, errlen, "pickup/%s -> tmp/%s: rename: %s", name, cname,
		    strerror(errno));
		return PICKUP_ERROR;
	}
	return process_claim(d, id, name, name, now, sync, e, msg, msglen, reason,
	    reasonlen, err, errlen);
}

/* fsync queue/<id>.<ext>. */
static int
fsync_queue_file(const struct pickup_dirs *d, const char *id, const char *ext,
    char *err, size_t errlen)
{
	char name[ID_LEN + 8];
	int fd, rc;

	snprintf(name, sizeof(name), "%s.%s", id, ext);
	if ((fd = openat(d->queue, name, O_RDONLY | O_CLOEXEC)) < 0) {
		snprintf(err, errlen, "queue/%s: open: %s", name, strerror(errno));
		return -1;
	}
	if ((rc = fsync(fd)) < 0)
		snprintf(err, errlen, "queue/%s: fsync: %s", name, strerror(errno));
	close(fd);
	return rc;
}

/*
 * How pickup_commit() makes a batch durable: syncfs(2) of the queue's file
 * system (one call; reports writeback errors since Linux 5.8), or an fsync
 * of every .msg and .env and then the directory.  Measured on ext4 (8 KiB
 * messages, batches of 10-500, loaded shared disk): syncfs took 2-4x less
 * time per commit (e.g. 50 messages: 13-30 ms against 33-275 ms), so it is
 * the default.  Its cost: it also flushes other dirty data on that file
 * system.  Build with -DPICKUP_COMMIT_SYNCFS=0 for the per-file variant.
 */
#ifndef PICKUP_COMMIT_SYNCFS
#define PICKUP_COMMIT_SYNCFS 1
#endif
static const bool commit_with_syncfs = PICKUP_COMMIT_SYNCFS;

/* Make the queue files of a batch durable (and its renames out of
 * pickup/). */
static int
sync_batch(const struct pickup_dirs *d, const struct pending_claim *c, size_t n,
    char *err, size_t errlen)
{
	size_t i;

	if (commit_with_syncfs) {
		if (syncfs(d->queue) < 0) {
			snprintf(err, errlen, "queue: syncfs: %s", strerror(errno));
			return -1;
		}
		return 0;
	}
	for (i = 0; i < n; i++)
		if (fsync_queue_file(d, c[i].id, c[i].in_tmp ? "msg" : "new", err, errlen) < 0 ||
		    fsync_queue_file(d, c[i].id, "env", err, errlen) < 0)
			return -1;
	if (fsutil_fsync_dirfd(d->queue, "queue", err, errlen) < 0)
		return -1;
	return fsutil_fsync_dirfd(d->pickup, "pickup", err, errlen);
}

/* After sync_batch(): queue/<id>.new becomes queue/<id>.msg, or the
 * claim tmp/claim.<id> is dropped.  *renamed, *dropped count them. */
static int
finish_claim(const struct pickup_dirs *d, const struct pending_claim *c,
    size_t *renamed, size_t *dropped, char *err, size_t errlen)
{
	char nname[ID_LEN + 8], mname[ID_LEN + 8];

	if (c->in_tmp) {
		(*dropped)++;
		return drop_claim(d, c->id, false, err, errlen);
	}
	snprintf(nname, sizeof(nname), "%s.new", c->id);
	snprintf(mname, sizeof(mname), "%s.msg", c->id);
	if (renameat(d->queue, nname, d->queue, mname) < 0) {
		snprintf(err, errlen, "queue/%s -> %s: rename: %s", nname, mname,
		    strerror(errno));
		return -1;
	}
	(*renamed)++;
	return 0;
}

/* The sync=false claims taken for one commit. */
struct pickup_batch {
	struct pending_claim *c;
	size_t n;
};

/* Take every sync=false claim made so far as one batch (see pickup.h). */
struct pickup_batch *
pickup_batch_take(void)
{
	struct pickup_batch *b = xcalloc(1, sizeof(*b));

	b->n = pending_take(&b->c);
	return b;
}

/* Number of claims in a batch. */
size_t
pickup_batch_size(const struct pickup_batch *b)
{
	return b != NULL ? b->n : 0;
}

/* Make a batch durable, then drop its claim files (see pickup.h). */
int
pickup_batch_commit(const struct pickup_dirs *d, const struct pickup_batch *b,
    char *err, size_t errlen)
{
	size_t i, renamed = 0, dropped = 0;

	if (b == NULL || b->n == 0)
		return 0;
	/* on failure the claims stay (in tmp/ or queue/) for pickup_recover() */
	if (sync_batch(d, b->c, b->n, err, errlen) < 0)
		return -1;
	for (i = 0; i < b->n; i++)
		if (finish_claim(d, &b->c[i], &renamed, &dropped, err, errlen) < 0)
			return -1;
	/*
	 * No fsync of queue/ for the .new -> .msg renames: until one is on
	 * disk a crash leaves .new and .env, redone from the .new (durable
	 * since sync_batch), so nothing is lost; and the fsync of queue/ that
	 * makes a removal durable takes the rename along (same directory), so
	 * a delivered message does not come back.  A dropped claim is in
	 * tmp/, which that fsync does not cover: tmp/ is fsynced here.
	 */
	return dropped > 0 ? fsutil_fsync_dirfd(d->tmp, "tmp", err, errlen) : 0;
}

/* Move the claims of from into into; from is freed. */
void
pickup_batch_merge(struct pickup_batch *into, struct pickup_batch *from)
{
	if (from == NULL)
		return;
	if (from->n > 0) {
		into->c = xrealloc(into->c, (into->n + from->n) * sizeof(*into->c));
		memcpy(into->c + into->n, from->c, from->n * sizeof(*from->c));
		into->n += from->n;
	}
	pickup_batch_free(from);
}

/* Free a batch. */
void
pickup_batch_free(struct pickup_batch *b)
{
	if (b == NULL)
		return;
	free(b->c);
	free(b);
}

/* Make the batch of sync=false claims durable, then drop the claims. */
int
pickup_commit(const struct pickup_dirs *d, char *err, size_t errlen)
{
	struct pickup_batch *b = pickup_batch_take();
	int rc;

	rc = pickup_batch_commit(d, b, err, errlen);
	pickup_batch_free(b);
	return rc;
}

/* 1 when queue/<id>.env parses and queue/<id>.msg holds exactly msg. */
static int
already_queued(const struct pickup_dirs *d, const char *id, const char *msg, size_t msglen)
{
	struct queue_entry q;
	char name[ID_LEN + 8], err[256];
	char *have;
	size_t hlen;
	int same;

	if (queue_entry_load(d->queue, id, &q, err, sizeof(err)) < 0)
		return 0;
	queue_entry_free(&q);
	snprintf(name, sizeof(name), "%s.msg", id);
	have = fsutil_read_file(d->queue, name, msglen, &hlen, err, sizeof(err));
	same = have != NULL && hlen == msglen && memcmp(have, msg, msglen) == 0;
	free(have);
	return same;
}

/* 1 when queue/<id>.env parses with the given offset and queue/<id>.msg
 * is the claim itself (queued by queue_raw()). */
static int
raw_queued(const struct pickup_dirs *d, const char *id, size_t rawstart)
{
	struct queue_entry q;
	char cname[64], name[ID_LEN + 8], err[256];
	struct stat a, b;
	int same;

	if (queue_entry_load(d->queue, id, &q, err, sizeof(err)) < 0)
		return 0;
	same = q.offset == rawstart;
	queue_entry_free(&q);
	claim_name(cname, sizeof(cname), id);
	snprintf(name, sizeof(name), "%s.msg", id);
	return same && fstatat(d->tmp, cname, &a, AT_SYMLINK_NOFOLLOW) == 0 &&
	    fstatat(d->queue, name, &b, AT_SYMLINK_NOFOLLOW) == 0 &&
	    a.st_ino == b.st_ino && a.st_dev == b.st_dev;
}

/* Finish or redo the claim of id; 0 done, -1 error. */
static int
recover_one(const struct pickup_dirs *d, const char *id, int64_t now, char *err, size_t errlen)
{
	char cname[64], name[ID_LEN + 8], reason[512];
	struct queue_entry p, e;
	char *msg = NULL;
	size_t msglen = 0, rawstart;
	int rc;

	claim_name(cname, sizeof(cname), id);
	rc = load_claim(d, id, &p, &msg, &msglen, &rawstart, reason, sizeof(reason),
	    err, errlen);
	if (rc < 0)
		return -1;
	if (rc == 0 && (already_queued(d, id, msg, msglen) ||
	    (rawstart != SIZE_MAX && raw_queued(d, id, rawstart)))) {
		queue_entry_free(&p);
		free(msg);
		return drop_claim(d, id, true, err, errlen);
	}
	if (rc == 0) {
		queue_entry_free(&p);
		free(msg);
	}
	/* half-written or never written: clear what is there and redo */
	snprintf(name, sizeof(name), "%s.env", id);
	(void)unlinkat(d->queue, name, 0);
	snprintf(name, sizeof(name), "%s.msg", id);
	(void)unlinkat(d->queue, name, 0);
	switch (process_claim(d, id, cname, NULL, now, true, &e, NULL, NULL, reason,
	    sizeof(reason), err, errlen)) {
	case PICKUP_QUEUED:
		queue_entry_free(&e);
		return 0;
	case PICKUP_BAD:
		return 0;
	default:
		return -1;
	}
}

/* 1 when name is "claim.<id>", with the id copied out. */
static int
is_claim(const char *name, char id[ID_LEN + 1])
{
	size_t k = strlen(CLAIM_PREFIX);

	if (strncmp(name, CLAIM_PREFIX, k) != 0 || strlen(name) != k + ID_LEN)
		return 0;
	memcpy(id, name + k, ID_LEN + 1);
	return id_valid(id);
}

/* 1 when name is "spare.<n>" (a number below 10^9), with n. */
static int
is_spare(const char *name, unsigned *n)
{
	size_t k = strlen(SPARE_PREFIX), i;
	unsigned long v = 0;

	if (strncmp(name, SPARE_PREFIX, k) != 0 || name[k] == '\0' || strlen(name + k) > 9)
		return 0;
	for (i = k; name[i] != '\0'; i++) {
		if (name[i] < '0' || name[i] > '9')
			return 0;
		v = v * 10 + (unsigned long)(name[i] - '0');
	}
	*n = (unsigned)v;
	return 1;
}

/* The ids of every claim in tmp/ (malloc'd array); spares go to the pool. */
static int
list_claims(const struct pickup_dirs *d, char (**idsp)[ID_LEN + 1], size_t *np,
    char *err, size_t errlen)
{
	char (*ids)[ID_LEN + 1] = NULL, id[ID_LEN + 1];
	size_t n = 0, cap = 0;
	unsigned sn;
	struct dirent *de;
	DIR *dir;
	int fd;

	if ((fd = openat(d->tmp, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0 ||
	    (dir = fdopendir(fd)) == NULL) {
		snprintf(err, errlen, "tmp: opendir: %s", strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	while ((de = readdir(dir)) != NULL) {
		if (strncmp(de->d_name, "env.", 4) == 0 && id_valid(de->d_name + 4))
			(void)unlinkat(d->tmp, de->d_name, 0);	/* queue.c's, half-written */
		if (queue_put_is_temp(de->d_name))
			(void)unlinkat(d->tmp, de->d_name, 0);	/* a group store cut short */
		if (is_spare(de->d_name, &sn))
			spare_push(sn);
		if (!is_claim(de->d_name, id))
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 16;
			ids = xrealloc(ids, cap * sizeof(*ids));
		}
		memcpy(ids[n++], id, ID_LEN + 1);
	}
	closedir(dir);
	*idsp = ids;
	*np = n;
	return 0;
}

/* qsort/bsearch order of ids. */
static int
id_cmp(const void *a, const void *b)
{
	return strcmp(a, b);
}

/* A growing array of ids. */
struct idlist {
	char (*ids)[ID_LEN + 1];
	size_t n, cap;
};

/* Add id to l. */
static void
idlist_add(struct idlist *l, const char *id)
{
	if (l->n == l->cap) {
		l->cap = l->cap ? l->cap * 2 : 64;
		l->ids = xrealloc(l->ids, l->cap * sizeof(*l->ids));
	}
	memcpy(l->ids[l->n++], id, ID_LEN + 1);
}

/* Sort l. */
static void
idlist_sort(struct idlist *l)
{
	if (l->n > 1)
		qsort(l->ids, l->n, sizeof(*l->ids), id_cmp);
}

/* true when the first n ids of l (sorted) hold id. */
static bool
idlist_has(const struct idlist *l, size_t n, const char *id)
{
	return n > 0 && bsearch(id, l->ids, n, sizeof(*l->ids), id_cmp) != NULL;
}

/* The ids of queue/<id>.msg, .env and .new, each list sorted. */
static int
list_queue(const struct pickup_dirs *d, struct idlist *msgs, struct idlist *envs,
    struct idlist *news, char *err, size_t errlen)
{
	char id[ID_LEN + 1];
	struct dirent *de;
	DIR *dir;
	int fd;

	if ((fd = openat(d->queue, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0 ||
	    (dir = fdopendir(fd)) == NULL) {
		snprintf(err, errlen, "queue: opendir: %s", strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	while ((de = readdir(dir)) != NULL) {
		if (strlen(de->d_name) != ID_LEN + 4)
			continue;
		memcpy(id, de->d_name, ID_LEN);
		id[ID_LEN] = '\0';
		if (!id_valid(id))
			continue;
		if (strcmp(de->d_name + ID_LEN, ".msg") == 0)
			idlist_add(msgs, id);
		else if (strcmp(de->d_name + ID_LEN, ".env") == 0)
			idlist_add(envs, id);
		else if (strcmp(de->d_name + ID_LEN, ".new") == 0)
			idlist_add(news, id);
	}
	closedir(dir);
	idlist_sort(msgs);
	idlist_sort(envs);
	idlist_sort(news);
	return 0;
}

/* Unlink queue/<id>.<ext> (gone already is fine). */
static int
unlink_queue_file(const struct pickup_dirs *d, const char *id, const char *ext,
    char *err, size_t errlen)
{
	char name[ID_LEN + 8];

	snprintf(name, sizeof(name), "%s.%s", id, ext);
	if (unlinkat(d->queue, name, 0) < 0 && errno != ENOENT) {
		snprintf(err, errlen, "queue/%s: unlink: %s", name, strerror(errno));
		return -1;
	}
	return 0;
}

/* A claim_direct() that was not committed: its .new becomes
 * tmp/claim.<id> (redone from there), its .env goes. */
static int
reclaim_new(const struct pickup_dirs *d, const char *id, char *err, size_t errlen)
{
	char nname[ID_LEN + 8], cname[64];

	if (unlink_queue_file(d, id, "env", err, errlen) < 0)
		return -1;
	snprintf(nname, sizeof(nname), "%s.new", id);
	claim_name(cname, sizeof(cname), id);
	if (renameat(d->queue, nname, d->tmp, cname) < 0) {
		snprintf(err, errlen, "queue/%s -> tmp/%s: rename: %s", nname, cname,
		    strerror(errno));
		return -1;
	}
	return 0;
}

/*
 * The queue's loose ends, for ids without a claim in tmp/ (those are
 * recover_one()'s): a .new is a claim_direct() that was not committed --
 * it becomes tmp/claim.<id> (added to claims) and is redone; a .msg
 * without its .env is a removal that did not finish (the .env goes
 * first), and so is a .env alone -- both are removed.  The number of
 * removals finished, or -1.
 */
static int
recover_queue(const struct pickup_dirs *d, struct idlist *claims, char *err,
    size_t errlen)
{
	struct idlist msgs = { NULL, 0, 0 }, envs = { NULL, 0, 0 }, news = { NULL, 0, 0 };
	size_t i, nclaims = claims->n;
	int done = 0, rc = 0;

	idlist_sort(claims);
	if (list_queue(d, &msgs, &envs, &news, err, errlen) < 0)
		rc = -1;
	for (i = 0; rc == 0 && i < news.n; i++) {
		if (idlist_has(claims, nclaims, news.ids[i]))
			continue;
		if ((rc = reclaim_new(d, news.ids[i], err, errlen)) == 0)
			idlist_add(claims, news.ids[i]);
	}
	for (i = 0; rc == 0 && i < msgs.n; i++) {
		if (idlist_has(&envs, envs.n, msgs.ids[i]) ||
		    idlist_has(claims, nclaims, msgs.ids[i]))
			continue;
		if ((rc = unlink_queue_file(d, msgs.ids[i], "msg", err, errlen)) == 0)
			done++;
	}
	for (i = 0; rc == 0 && i < envs.n; i++) {
		if (idlist_has(&msgs, msgs.n, envs.ids[i]) ||
		    idlist_has(&news, news.n, envs.ids[i]) ||
		    idlist_has(claims, nclaims, envs.ids[i]))
			continue;
		if ((rc = unlink_queue_file(d, envs.ids[i], "env", err, errlen)) == 0)
			done++;
	}
	if (rc == 0 && done > 0)
		rc = fsutil_fsync_dirfd(d->queue, "queue", err, errlen);
	free(msgs.ids);
	free(envs.ids);
	free(news.ids);
	return rc < 0 ? -1 : done;
}

/* At start-up: finish or redo interrupted claims (see pickup.h). */
int
pickup_recover(const struct pickup_dirs *d, int64_t now, char *err, size_t errlen)
{
	struct idlist claims = { NULL, 0, 0 };
	size_t i;
	int done;

	if (list_claims(d, &claims.ids, &claims.n, err, errlen) < 0)
		return -1;
	claims.cap = claims.n;
	if ((done = recover_queue(d, &claims, err, errlen)) < 0) {
		free(claims.ids);
		return -1;
	}
	for (i = 0; i < claims.n; i++) {
		if (recover_one(d, claims.ids[i], now, err, errlen) < 0) {
			free(claims.ids);
			return -1;
		}
		done++;
	}
	free(claims.ids);
	return done;
}
