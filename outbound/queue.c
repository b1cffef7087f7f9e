/*
 * queue: the outbound queue on disk -- queue/<id>.msg (the message, written
 * once) and queue/<id>.env (its state as key=value text, replaced whole).
 *
 * The .env format, one "key=value" per LF-terminated line, "version=1"
 * first, then id, sender, created, next_attempt, size, attempts,
 * delay_warned, bounced, last_reply, and one "rcpt=<state> <addr>" per
 * recipient, each optionally followed by "rcpt_reply=<text>".  Values are
 * escaped: backslash, CR, LF and other control bytes become \\, \r, \n,
 * \xHH.  An empty last_reply / missing rcpt_reply is NULL.
 *
 * This module knows nothing about SMTP, scheduling or the daemon: it only
 * reads and writes the files and applies retry/delete requests.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include "fsutil.h"
#include "id.h"
#include "queue.h"
#include "smtp_addr.h"
#include "strbuf.h"
#include "util.h"

#define ENV_MAX		(8u << 20)	/* whole .env file */
#define ENV_LINE_MAX	16384		/* one line, escaped */
#define ENV_RCPT_MAX	100000		/* recipients per message */
#define ENV_REPLY_MAX	2000		/* stored reply text, raw bytes */

/* Append s escaped for a .env value (at most max raw bytes). */
static void
ob_escaped(struct strbuf *b, const char *s, size_t max)
{
	char hex[5];
	size_t i;

	for (i = 0; s != NULL && s[i] != '\0' && i < max; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '\\')
			strbuf_add(b, "\\\\", 2);
		else if (c == '\n')
			strbuf_add(b, "\\n", 2);
		else if (c == '\r')
			strbuf_add(b, "\\r", 2);
		else if (c < 0x20 || c == 0x7f) {
			snprintf(hex, sizeof(hex), "\\x%02x", c);
			strbuf_add(b, hex, 4);
		} else
			strbuf_add(b, (const char *)&s[i], 1);
	}
}

/* The .env spelling of a recipient state. */
static const char *
rcpt_state_name(enum queue_rcpt_state st)
{
	switch (st) {
	case QUEUE_RCPT_DELIVERED:
		return "delivered";
	case QUEUE_RCPT_FAILED:
		return "failed";
	default:
		return "pending";
	}
}

/* Format e as .env text (malloc'd, NUL-terminated). */
char *
queue_env_format(const struct queue_entry *e, size_t *lenp)
{
	struct strbuf b = { NULL, 0, 0 };
	size_t i;

	strbuf_printf(&b, "version=1\nid=%s\nsender=", e->id);
	ob_escaped(&b, e->sender, SIZE_MAX);
	strbuf_printf(&b, "\ncreated=%" PRId64 "\nnext_attempt=%" PRId64
	    "\nsize=%" PRIu64 "\nattempts=%u\ndelay_warned=%d\nbounced=%d\nlast_reply=",
	    e->created, e->next_attempt, e->size, e->attempts,
	    e->delay_warned ? 1 : 0, e->bounced ? 1 : 0);
	ob_escaped(&b, e->last_reply, ENV_REPLY_MAX);
	strbuf_add(&b, "\n", 1);
	if (e->offset > 0)
		strbuf_printf(&b, "offset=%" PRIu64 "\n", e->offset);
	for (i = 0; i < e->nrcpts; i++) {
		const struct queue_rcpt *r = &e->rcpts[i];
		strbuf_printf(&b, "rcpt=%s ", rcpt_state_name(r->state));
		ob_escaped(&b, r->addr, SIZE_MAX);
		strbuf_add(&b, "\n", 1);
		if (r->reply != NULL && r->reply[0] != '\0') {
			strbuf_add(&b, "rcpt_reply=", 11);
			ob_escaped(&b, r->reply, ENV_REPLY_MAX);
			strbuf_add(&b, "\n", 1);
		}
	}
	if (lenp != NULL)
		*lenp = b.len;
	return b.p;
}

/* Free what e owns and zero it. */
void
queue_entry_free(struct queue_entry *e)
{
	size_t i;

	if (e == NULL)
		return;
	for (i = 0; i < e->nrcpts; i++) {
		free(e->rcpts[i].addr);
		free(e->rcpts[i].reply);
	}
	free(e->rcpts);
	free(e->sender);
	free(e->last_reply);
	memset(e, 0, sizeof(*e));
}

/* "queued" (never tried), "deferred" (tried, some pending), "done". */
const char *
queue_entry_state(const struct queue_entry *e)
{
	size_t i;

	for (i = 0; i < e->nrcpts; i++)
		if (e->rcpts[i].state == QUEUE_RCPT_PENDING)
			return e->attempts == 0 ? "queued" : "deferred";
	return "done";
}

/* Parser state: which scalar keys were seen, for duplicates and misses. */
enum env_key {
	K_VERSION, K_ID, K_SENDER, K_CREATED, K_NEXT, K_SIZE, K_ATTEMPTS,
	K_DWARNED, K_BOUNCED, K_LASTREPLY, K_OFFSET, K_NKEYS
};

static const char *const env_key_names[K_NKEYS] = {
	"version", "id", "sender", "created", "next_attempt", "size",
	"attempts", "delay_warned", "bounced", "last_reply", "offset",
};

struct env_parse {
	struct queue_entry *e;
	unsigned lineno;
	bool seen[K_NKEYS];
	bool last_had_reply;	/* the last rcpt already has its rcpt_reply */
	size_t rcap;
	char *err;
	size_t errlen;
};

/* Fill the error message, prefixed by the line number; returns -1. */
static int __attribute__((format(printf, 2, 3)))
perr(struct env_parse *p, const char *fmt, ...)
{
	char msg[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (p->lineno > 0)
		snprintf(p->err, p->errlen, "line %u: %s", p->lineno, msg);
	else
		snprintf(p->err, p->errlen, "%s", msg);
	return -1;
}

/* Value of one hex digit, or -1. */
static int
hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Unescape v[0..n) into a malloc'd string; NULL with the error set. */
static char *
unescape(struct env_parse *p, const char *v, size_t n)
{
	char *out = xmalloc(n + 1);
	size_t i, o = 0;

	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)v[i];
		if (c < 0x20 || c == 0x7f) {
			perr(p, "raw control byte 0x%02x in value", c);
			goto fail;
		}
		if (c != '\\') {
			out[o++] = (char)c;
			continue;
		}
		if (i + 1 >= n)
			goto bad;
		c = (unsigned char)v[++i];
		if (c == '\\')
			out[o++] = '\\';
		else if (c == 'n')
			out[o++] = '\n';
		else if (c == 'r')
			out[o++] = '\r';
		else if (c == 'x' && i + 2 < n && hexval(v[i + 1]) >= 0 &&
		    hexval(v[i + 2]) >= 0 && hexval(v[i + 1]) * 16 + hexval(v[i + 2]) != 0) {
			out[o++] = (char)(hexval(v[i + 1]) * 16 + hexval(v[i + 2]));
			i += 2;
		} else
			goto bad;
	}
	out[o] = '\0';
	return out;
bad:
	perr(p, "bad escape sequence in value");
fail:
	free(out);
	return NULL;
}

/* Parse a decimal number (no sign, no leading junk) <= max. */
static int
parse_num(struct env_parse *p, const char *v, size_t n, uint64_t max, uint64_t *out)
{
	uint64_t x = 0;
	size_t i;

	if (n == 0 || n > 20)
		return perr(p, "bad number");
	for (i = 0; i < n; i++) {
		if (v[i] < '0' || v[i] > '9')
			return perr(p, "bad number \"%.*s\"", (int)n, v);
		if (x > (max - (uint64_t)(v[i] - '0')) / 10)
			return perr(p, "number out of range");
		x = x * 10 + (uint64_t)(v[i] - '0');
	}
	*out = x;
	return 0;
}

/* Parse "0" or "1". */
static int
parse_bool(struct env_parse *p, const char *v, size_t n, bool *out)
{
	if (n != 1 || (v[0] != '0' && v[0] != '1'))
		return perr(p, "expected 0 or 1");
	*out = v[0] == '1';
	return 0;
}

/*
 * Parse a text value that must fit an address.  An address never holds a
 * control byte (smtp_addr refuses them where addresses come in), so an
 * escaped one (\r, \n, \xHH) means a damaged file; taken as it is, it
 * would end the relay's MAIL or RCPT command early (found by fuzz_env).
 */
static int
parse_addr(struct env_parse *p, const char *v, size_t n, char **out)
{
	char *s = unescape(p, v, n);

	if (s == NULL)
		return -1;
	if (strlen(s) > SMTP_ADDR_MAX) {
		free(s);
		return perr(p, "address too long");
	}
	for (size_t i = 0; s[i] != '\0'; i++) {
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f) {
			perr(p, "control byte 0x%02x in address", (unsigned char)s[i]);
			free(s);
			return -1;
		}
	}
	*out = s;
	return 0;
}

/* Parse the value of a scalar key k. */
static int
parse_scalar(struct env_parse *p, enum env_key k, const char *v, size_t n)
{
	struct queue_entry *e = p->e;
	uint64_t x = 0;

	switch (k) {
	case K_VERSION:
		return n == 1 && v[0] == '1' ? 0 : perr(p, "unsupported version");
	case K_ID:
		if (n != ID_LEN)
			return perr(p, "bad id");
		memcpy(e->id, v, ID_LEN);
		e->id[ID_LEN] = '\0';
		return id_valid(e->id) ? 0 : perr(p, "bad id");
	case K_SENDER:
		return parse_addr(p, v, n, &e->sender);
	case K_CREATED:
	case K_NEXT:
		if (parse_num(p, v, n, INT64_MAX, &x) < 0)
			return -1;
		*(k == K_CREATED ? &e->created : &e->next_attempt) = (int64_t)x;
		return 0;
	case K_SIZE:
		return parse_num(p, v, n, UINT64_MAX, &e->size);
	case K_ATTEMPTS:
		if (parse_num(p, v, n, UINT_MAX, &x) < 0)
			return -1;
		e->attempts = (unsigned)x;
		return 0;
	case K_OFFSET:
		return parse_num(p, v, n, UINT64_MAX, &e->offset);
	case K_DWARNED:
		return parse_bool(p, v, n, &e->delay_warned);
	case K_BOUNCED:
		return parse_bool(p, v, n, &e->bounced);
	default:
		if (n == 0)
			return 0;
		e->last_reply = unescape(p, v, n);
		return e->last_reply == NULL ? -1 : 0;
	}
}

/* Parse "rcpt=<state> <addr>". */
static int
parse_rcpt(struct env_parse *p, const char *v, size_t n)
{
	static const char *const names[] = { "pending", "delivered", "failed" };
	struct queue_entry *e = p->e;
	struct queue_rcpt r = { NULL, QUEUE_RCPT_PENDING, NULL };
	const char *sp = memchr(v, ' ', n);
	size_t i, sl;

	if (sp == NULL)
		return perr(p, "rcpt: expected \"<state> <address>\"");
	sl = (size_t)(sp - v);
	for (i = 0; i < 3; i++)
		if (strlen(names[i]) == sl && memcmp(names[i], v, sl) == 0)
			break;
	if (i == 3)
		return perr(p, "rcpt: unknown state \"%.*s\"", (int)sl, v);
	r.state = (enum queue_rcpt_state)i;
	if (sl + 1 == n)
		return perr(p, "rcpt: empty address");
	if (e->nrcpts >= ENV_RCPT_MAX)
		return perr(p, "too many recipients");
	if (parse_addr(p, sp + 1, n - sl - 1, &r.addr) < 0)
		return -1;
	if (e->nrcpts == p->rcap) {
		p->rcap = p->rcap ? p->rcap * 2 : 8;
		e->rcpts = xrealloc(e->rcpts, p->rcap * sizeof(*e->rcpts));
	}
	e->rcpts[e->nrcpts++] = r;
	p->last_had_reply = false;
	return 0;
}

/* Parse "rcpt_reply=<text>" for the recipient just before it. */
static int
parse_rcpt_reply(struct env_parse *p, const char *v, size_t n)
{
	struct queue_rcpt *r;

	if (p->e->nrcpts == 0 || p->last_had_reply)
		return perr(p, "rcpt_reply without its rcpt line");
	r = &p->e->rcpts[p->e->nrcpts - 1];
	p->last_had_reply = true;
	if (n == 0)
		return 0;
	r->reply = unescape(p, v, n);
	return r->reply == NULL ? -1 : 0;
}

/* Parse one line (without its LF). */
static int
parse_line(struct env_parse *p, const char *line, size_t n)
{
	const char *eq = memchr(line, '=', n);
	size_t kl, vl;
	const char *v;
	int k;

	if (n > ENV_LINE_MAX)
		return perr(p, "line too long");
	if (eq == NULL)
		return perr(p, "expected key=value");
	kl = (size_t)(eq - line);
	v = eq + 1;
	vl = n - kl - 1;
	if (p->lineno == 1 && !(kl == 7 && memcmp(line, "version", 7) == 0))
		return perr(p, "the first line must be version=1");
	if (kl == 4 && memcmp(line, "rcpt", 4) == 0)
		return parse_rcpt(p, v, vl);
	if (kl == 10 && memcmp(line, "rcpt_reply", 10) == 0)
		return parse_rcpt_reply(p, v, vl);
	for (k = 0; k < K_NKEYS; k++)
		if (strlen(env_key_names[k]) == kl && memcmp(env_key_names[k], line, kl) == 0)
			break;
	if (k == K_NKEYS)
		return perr(p, "unknown key \"%.*s\"", (int)(kl > 64 ? 64 : kl), line);
	if (p->seen[k])
		return perr(p, "duplicate key \"%s\"", env_key_names[k]);
	p->seen[k] = true;
	return parse_scalar(p, (enum env_key)k, v, vl);
}

/* After the last line: every key present, at least one recipient. */
static int
parse_finish(struct env_parse *p)
{
	int k;

	p->lineno = 0;
	for (k = 0; k < K_NKEYS; k++)
		if (!p->seen[k] && k != K_OFFSET)	/* offset: optional, 0 */
			return perr(p, "missing key \"%s\"", env_key_names[k]);
	if (p->e->nrcpts == 0)
		return perr(p, "no recipients");
	return 0;
}

/* Parse .env text into e (zeroed first; freed again on error). */
int
queue_env_parse(const char *buf, size_t len, struct queue_entry *e,
    char *err, size_t errlen)
{
	struct env_parse p;
	size_t off = 0;

	memset(e, 0, sizeof(*e));
	memset(&p, 0, sizeof(p));
	p.e = e;
	p.err = err;
	p.errlen = errlen;
	if (len > ENV_MAX) {
		perr(&p, "file too large (%zu bytes)", len);
		goto fail;
	}
	while (off < len) {
		const char *nl = memchr(buf + off, '\n', len - off);
		p.lineno++;
		if (nl == NULL) {
			perr(&p, "no line end (truncated file?)");
			goto fail;
		}
		if (parse_line(&p, buf + off, (size_t)(nl - buf - off)) < 0)
			goto fail;
		off = (size_t)(nl - buf) + 1;
	}
	if (parse_finish(&p) < 0)
		goto fail;
	return 0;
fail:
	queue_entry_free(e);
	return -1;
}

/* Write "<id>.<ext>" into name. */
static void
id_name(char *name, size_t sz, const char *id, const char *ext)
{
	snprintf(name, sz, "%s.%s", id, ext);
}

/* Read a whole regular file dirfd/name (<= max bytes); errno preserved. */
static char *
read_whole(int dirfd, const char *name, size_t max, size_t *lenp, char *err, size_t errlen)
{
	struct stat st;
	char *buf;
	size_t off = 0;
	ssize_t n;
	int fd, saved;

	if ((fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) < 0) {
		saved = errno;
		snprintf(err, errlen, "%s: open: %s", name, strerror(errno));
		errno = saved;
		return NULL;
	}
	if (fstat(fd, &st) < 0) {
		saved = errno;
		snprintf(err, errlen, "%s: fstat: %s", name, strerror(errno));
		close(fd);
		errno = saved;
		return NULL;
	}
	if (!S_ISREG(st.st_mode) || (uint64_t)st.st_size > max) {
		snprintf(err, errlen, "%s: %s", name,
		    S_ISREG(st.st_mode) ? "file too large" : "not a regular file");
		close(fd);
		errno = S_ISREG(st.st_mode) ? EFBIG : EINVAL;
		return NULL;
	}
	buf = xmalloc((size_t)st.st_size + 1);
	while (off < (size_t)st.st_size &&
	    (n = read(fd, buf + off, (size_t)st.st_size - off)) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			saved = errno;
			snprintf(err, errlen, "%s: read: %s", name, strerror(errno));
			free(buf);
			close(fd);
			errno = saved;
			return NULL;
		}
		off += (size_t)n;
	}
	close(fd);
	buf[off] = '\0';
	*lenp = off;
	return buf;
}

/* Read queue/<id>.env; 0, or -1 with err (ENOENT: errno preserved). */
int
queue_entry_load(int queuedirfd, const char *id, struct queue_entry *e,
    char *err, size_t errlen)
{
	char name[ID_LEN + 8], perrbuf[200];
	size_t len;
	char *buf;
	int rc;

	memset(e, 0, sizeof(*e));
	if (!id_valid(id)) {
		snprintf(err, errlen, "bad queue id \"%.40s\"", id);
		errno = EINVAL;
		return -1;
	}
	id_name(name, sizeof(name), id, "env");
	if ((buf = read_whole(queuedirfd, name, ENV_MAX, &len, err, errlen)) == NULL)
		return -1;
	rc = queue_env_parse(buf, len, e, perrbuf, sizeof(perrbuf));
	free(buf);
	if (rc < 0) {
		snprintf(err, errlen, "%s: %s", name, perrbuf);
		errno = EINVAL;
		return -1;
	}
	if (strcmp(e->id, id) != 0) {
		snprintf(err, errlen, "%s: holds id %s", name, e->id);
		queue_entry_free(e);
		errno = EINVAL;
		return -1;
	}
	return 0;
}

/* Replace queue/<id>.env atomically (via tmpdirfd); fsync when sync. */
int
queue_entry_store(int tmpdirfd, int queuedirfd, const struct queue_entry *e,
    bool sync, char *err, size_t errlen)
{
	char name[ID_LEN + 8];
	size_t len;
	char *text;
	int rc;

	if (!id_valid(e->id)) {
		snprintf(err, errlen, "bad queue id \"%.40s\"", e->id);
		return -1;
	}
	id_name(name, sizeof(name), e->id, "env");
	text = queue_env_format(e, &len);
	rc = fsutil_write_atomic(tmpdirfd, queuedirfd, name, text, len, sync, err, errlen);
	free(text);
	return rc;
}

/* Remove a message: .env first, then .msg. */
int
queue_entry_remove(int queuedirfd, const char *id, char *err, size_t errlen)
{
	char name[ID_LEN + 8];
	int rc = 0, saved;

	if (!id_valid(id)) {
		snprintf(err, errlen, "bad queue id \"%.40s\"", id);
		errno = EINVAL;
		return -1;
	}
	id_name(name, sizeof(name), id, "env");
	if (unlinkat(queuedirfd, name, 0) < 0) {
		saved = errno;
		snprintf(err, errlen, "queue/%s: unlink: %s", name, strerror(errno));
		if (saved != ENOENT) {
			errno = saved;
			return -1;
		}
		rc = -1;
	}
	id_name(name, sizeof(name), id, "msg");
	if (unlinkat(queuedirfd, name, 0) < 0 && errno != ENOENT) {
		saved = errno;
		snprintf(err, errlen, "queue/%s: unlink: %s", name, strerror(errno));
		errno = saved;
		return -1;
	}
	if (rc < 0)
		errno = ENOENT;
	return rc;
}

/* Fill e as a new entry: every recipient pending, created = now. */
static void
entry_init(struct queue_entry *e, const char *id, const char *sender,
    const char *const *rcpts, size_t nrcpts, size_t msglen, int64_t now)
{
	size_t i;

	memset(e, 0, sizeof(*e));
	util_strlcpy(e->id, id, sizeof(e->id));
	e->sender = xstrdup(sender != NULL ? sender : "");
	e->created = e->next_attempt = now;
	e->size = msglen;
	e->rcpts = xcalloc(nrcpts, sizeof(*e->rcpts));
	e->nrcpts = nrcpts;
	for (i = 0; i < nrcpts; i++)
		e->rcpts[i].addr = xstrdup(rcpts[i]);
}

/* Write e's .env as a new file (tmp/ then rename, never replacing). */
static int
create_env(int tmpdirfd, int queuedirfd, const struct queue_entry *e, bool sync,
    char *err, size_t errlen)
{
	char name[ID_LEN + 8], tname[ID_LEN + 16];
	struct iovec iov;
	size_t len;
	char *text;
	int rc;

	id_name(name, sizeof(name), e->id, "env");
	snprintf(tname, sizeof(tname), "env.%s", e->id);
	text = queue_env_format(e, &len);
	iov.iov_base = text;
	iov.iov_len = len;
	(void)unlinkat(tmpdirfd, tname, 0);
	rc = fsutil_write_new(tmpdirfd, tname, &iov, 1, sync, err, errlen);
	free(text);
	if (rc < 0)
		return -1;
	if (renameat(tmpdirfd, tname, queuedirfd, name) < 0) {
		snprintf(err, errlen, "tmp/%s -> queue/%s: rename: %s", tname, name,
		    strerror(errno));
		(void)unlinkat(tmpdirfd, tname, 0);
		return -1;
	}
	return 0;
}

/* Queue a new message under the given id (see queue.h). */
int
queue_entry_create_id(int tmpdirfd, int queuedirfd, const char *id,
    const char *sender, const char *const *rcpts, size_t nrcpts,
    const char *msg, size_t msglen, int64_t now, bool sync,
    struct queue_entry *e, char *err, size_t errlen)
{
	char name[ID_LEN + 8];
	struct iovec iov;
	int saved;

	if (!id_valid(id) || nrcpts == 0) {
		snprintf(err, errlen, "queue: %s", nrcpts ? "bad id" : "no recipients");
		memset(e, 0, sizeof(*e));
		return -1;
	}
	entry_init(e, id, sender, rcpts, nrcpts, msglen, now);
	id_name(name, sizeof(name), id, "msg");
	iov.iov_base = (void *)msg;
	iov.iov_len = msglen;
	if (fsutil_write_new(queuedirfd, name, &iov, 1, sync, err, errlen) < 0)
		goto fail;
	/* the .msg must be durable in queue/ before the .env makes it live */
	if (sync && fsutil_fsync_dirfd(queuedirfd, "queue", err, errlen) < 0)
		goto fail_msg;
	if (create_env(tmpdirfd, queuedirfd, e, sync, err, errlen) < 0)
		goto fail_msg;
	if (sync && fsutil_fsync_dirfd(queuedirfd, "queue", err, errlen) < 0) {
		saved = errno;
		(void)queue_entry_remove(queuedirfd, id, NULL, 0);
		errno = saved;
		goto fail;
	}
	return 0;
fail_msg:
	saved = errno;
	(void)unlinkat(queuedirfd, name, 0);
	errno = saved;
fail:
	saved = errno;
	queue_entry_free(e);
	errno = saved;
	return -1;
}

/* Queue a new message under a fresh id (see queue.h). */
int
queue_entry_create(int tmpdirfd, int queuedirfd, const char *sender,
    const char *const *rcpts, size_t nrcpts, const char *msg, size_t msglen,
    int64_t now, bool sync, struct queue_entry *e, char *err, size_t errlen)
{
	char id[ID_LEN + 1];
	int tries;

	for (tries = 0; tries < 5; tries++) {
		id_generate(id);
		errno = 0;
		if (queue_entry_create_id(tmpdirfd, queuedirfd, id, sender, rcpts,
		    nrcpts, msg, msglen, now, sync, e, err, errlen) == 0)
			return 0;
		if (errno != EEXIST)
			return -1;
	}
	return -1;
}

/* The .env text of a new message (see queue.h). */
char *
queue_env_new(const char *id, const char *sender, const char *const *rcpts,
    size_t nrcpts, size_t msglen, int64_t now, size_t *lenp)
{
	struct queue_entry e;
	char *text;

	entry_init(&e, id, sender, rcpts, nrcpts, msglen, now);
	text = queue_env_format(&e, lenp);
	queue_entry_free(&e);
	return text;
}

#define PUT_PREFIX	"put."

/* 1 when name is "put.<id>.msg" or "put.<id>.env". */
int
queue_put_is_temp(const char *name)
{
	size_t k = strlen(PUT_PREFIX);
	char id[ID_LEN + 1];

	if (strncmp(name, PUT_PREFIX, k) != 0 || strlen(name) != k + ID_LEN + 4 ||
	    (strcmp(name + k + ID_LEN, ".msg") != 0 && strcmp(name + k + ID_LEN, ".env") != 0))
		return 0;
	memcpy(id, name + k, ID_LEN);
	id[ID_LEN] = '\0';
	return id_valid(id);
}

/* tmp/ name of put p. */
static void
put_temp(char *buf, size_t sz, const struct queue_put *p)
{
	snprintf(buf, sz, PUT_PREFIX "%s", p->name);
}

/* Mark put p failed with reason (printf-style), removing its temp file. */
static void __attribute__((format(printf, 3, 4)))
put_fail(int tmpdirfd, struct queue_put *p, const char *fmt, ...)
{
	char tname[ID_LEN + 16];
	va_list ap;

	if (p->ok) {
		put_temp(tname, sizeof(tname), p);
		(void)unlinkat(tmpdirfd, tname, 0);
	}
	p->ok = false;
	va_start(ap, fmt);
	vsnprintf(p->err, sizeof(p->err), fmt, ap);
	va_end(ap);
}

/* Rename the written puts whose name ends in ext into queue/, then fsync
 * queue/ once; -1 (err) when that fsync fails. */
static int
put_publish(int tmpdirfd, int queuedirfd, struct queue_put *v, size_t n,
    const char *ext, char *err, size_t errlen)
{
	char tname[ID_LEN + 16];
	size_t i, moved = 0;
	int rc;

	for (i = 0; i < n; i++) {
		size_t nl = strlen(v[i].name);

		if (nl < 4 || strcmp(v[i].name + nl - 4, ext) != 0 || !v[i].ok)
			continue;
		if (v[i].after_prev && (i == 0 || !v[i - 1].ok)) {
			put_fail(tmpdirfd, &v[i], "not stored: %.200s",
			    i == 0 ? "nothing before it" : v[i - 1].err);
			continue;
		}
		put_temp(tname, sizeof(tname), &v[i]);
		rc = v[i].replace ? renameat(tmpdirfd, tname, queuedirfd, v[i].name) :
		    renameat2(tmpdirfd, tname, queuedirfd, v[i].name, RENAME_NOREPLACE);
		if (rc == -1) {
			put_fail(tmpdirfd, &v[i], "tmp/%s -> queue/%s: rename: %s", tname,
			    v[i].name, strerror(errno));
			continue;
		}
		moved++;
	}
	return moved > 0 ? fsutil_fsync_dirfd(queuedirfd, "queue", err, errlen) : 0;
}

/* Store a group of files with one sync (see queue.h). */
int
queue_put_group(int tmpdirfd, int queuedirfd, struct queue_put *v, size_t n,
    char *err, size_t errlen)
{
	char tname[ID_LEN + 16];
	struct iovec iov;
	size_t i, written = 0;

	for (i = 0; i < n; i++) {
		v[i].ok = false;
		v[i].err[0] = '\0';
		if (v[i].after_prev && (i == 0 || !v[i - 1].ok)) {
			snprintf(v[i].err, sizeof(v[i].err), "not stored: %.200s",
			    i == 0 ? "nothing before it" : v[i - 1].err);
			continue;
		}
		put_temp(tname, sizeof(tname), &v[i]);
		(void)unlinkat(tmpdirfd, tname, 0);	/* left by a crash */
		iov.iov_base = (void *)(uintptr_t)v[i].text;
		iov.iov_len = v[i].len;
		if (fsutil_write_new(tmpdirfd, tname, &iov, 1, false, v[i].err,
		    sizeof(v[i].err)) == 0) {
			v[i].ok = true;
			written++;
		}
	}
	if (written == 0)
		return 0;
	if (syncfs(tmpdirfd) == -1) {
		snprintf(err, errlen, "tmp: syncfs: %s", strerror(errno));
		goto fail;
	}
	if (put_publish(tmpdirfd, queuedirfd, v, n, ".msg", err, errlen) == -1 ||
	    put_publish(tmpdirfd, queuedirfd, v, n, ".env", err, errlen) == -1)
		goto fail;
	return 0;
fail:
	for (i = 0; i < n; i++)
		put_fail(tmpdirfd, &v[i], "%s", err);
	return -1;
}

/* 1 when name is "<id>.env". */
static int
is_env_name(const char *name)
{
	char id[ID_LEN + 1];

	if (strlen(name) != ID_LEN + 4 || strcmp(name + ID_LEN, ".env") != 0)
		return 0;
	memcpy(id, name, ID_LEN);
	id[ID_LEN] = '\0';
	return id_valid(id);
}

/* Collect every queued id into a malloc'd array of ID_LEN+1 slots. */
static int
collect_ids(int queuedirfd, char (**idsp)[ID_LEN + 1], size_t *np,
    char *err, size_t errlen)
{
	char (*ids)[ID_LEN + 1] = NULL;
	size_t n = 0, cap = 0;
	struct dirent *de;
	DIR *d;
	int fd;

	if ((fd = openat(queuedirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0 ||
	    (d = fdopendir(fd)) == NULL) {
		snprintf(err, errlen, "queue: opendir: %s", strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	while ((errno = 0, de = readdir(d)) != NULL) {
		if (!is_env_name(de->d_name))
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 64;
			ids = xrealloc(ids, cap * sizeof(*ids));
		}
		memcpy(ids[n], de->d_name, ID_LEN);
		ids[n++][ID_LEN] = '\0';
	}
	if (errno != 0) {
		snprintf(err, errlen, "queue: readdir: %s", strerror(errno));
		closedir(d);
		free(ids);
		return -1;
	}
	closedir(d);
	*idsp = ids;
	*np = n;
	return 0;
}

/* Call fn for every queued id; a non-zero return from fn stops and is returned. */
int
queue_foreach(int queuedirfd, int (*fn)(void *arg, const char *id),
    void *arg, char *err, size_t errlen)
{
	char (*ids)[ID_LEN + 1] = NULL;
	size_t i, n = 0;
	int rc = 0;

	if (collect_ids(queuedirfd, &ids, &n, err, errlen) < 0)
		return -1;
	for (i = 0; i < n && rc == 0; i++)
		rc = fn(arg, ids[i]);
	free(ids);
	return rc;
}

struct apply_ctx {
	int tmpfd, queuefd;
	char *err;
	size_t errlen;
};

/* Make one message due now. */
static int
apply_retry(int tmpfd, int queuefd, const char *id, char *err, size_t errlen)
{
	struct queue_entry e;
	int rc;

	if (queue_entry_load(queuefd, id, &e, err, errlen) < 0) {
		if (errno == ENOENT)
			snprintf(err, errlen, "%s: no such message", id);
		return -1;
	}
	e.next_attempt = 0;
	rc = queue_entry_store(tmpfd, queuefd, &e, true, err, errlen);
	queue_entry_free(&e);
	return rc;
}

#define RETRY_GROUP	256	/* entries rewritten per group store */

/* Store the group of rewritten entries v[0..n) (texts freed); the number
 * that could not be stored, the first reason in err when *failed was 0. */
static size_t
retry_group_store(int tmpdirfd, int queuedirfd, struct queue_put *v, size_t n,
    size_t *failed, char *err, size_t errlen)
{
	char gerr[256];
	size_t i, bad = 0;

	(void)queue_put_group(tmpdirfd, queuedirfd, v, n, gerr, sizeof(gerr));
	for (i = 0; i < n; i++) {
		if (!v[i].ok && *failed + bad++ == 0)
			snprintf(err, errlen, "%s", v[i].err);
		free((char *)(uintptr_t)v[i].text);
	}
	*failed += bad;
	return bad;
}

/* Make the given messages due now (see queue.h). */
int
queue_retry_ids(int tmpdirfd, int queuedirfd, const char (*ids)[ID_LEN + 1], size_t n,
    char *err, size_t errlen)
{
	struct queue_put *v = xcalloc(RETRY_GROUP, sizeof(*v));
	struct queue_entry e;
	char lerr[256];
	size_t i, k = 0, failed = 0;

	for (i = 0; i < n; i++) {
		if (queue_entry_load(queuedirfd, ids[i], &e, lerr, sizeof(lerr)) < 0) {
			if (errno != ENOENT && failed++ == 0)	/* gone meanwhile is fine */
				snprintf(err, errlen, "%s", lerr);
			continue;
		}
		e.next_attempt = 0;
		memset(&v[k], 0, sizeof(v[k]));
		id_name(v[k].name, sizeof(v[k].name), e.id, "env");
		v[k].text = queue_env_format(&e, &v[k].len);
		v[k].replace = true;
		queue_entry_free(&e);
		if (++k == RETRY_GROUP) {
			retry_group_store(tmpdirfd, queuedirfd, v, k, &failed, err, errlen);
			k = 0;
		}
	}
	if (k > 0)
		retry_group_store(tmpdirfd, queuedirfd, v, k, &failed, err, errlen);
	free(v);
	if (failed == 0)
		return 0;
	if (failed > 1) {
		size_t len = strlen(err);

		snprintf(err + len, errlen > len ? errlen - len : 0,
		    " (and %zu more not rewritten)", failed - 1);
	}
	return -1;
}

/* "retry all": every entry in queue/ (see queue_retry_ids). */
static int
apply_retry_all(struct apply_ctx *c)
{
	char (*ids)[ID_LEN + 1] = NULL;
	size_t n = 0;
	int rc;

	if (collect_ids(c->queuefd, &ids, &n, c->err, c->errlen) < 0)
		return -1;
	rc = queue_retry_ids(c->tmpfd, c->queuefd, (const char (*)[ID_LEN + 1])ids, n,
	    c->err, c->errlen);
	free(ids);
	return rc;
}

/* Check verb and target of a request. */
static int
check_request(const char *verb, const char *target, char *err, size_t errlen)
{
	bool retry = strcmp(verb, "retry") == 0;

	if (!retry && strcmp(verb, "delete") != 0) {
		snprintf(err, errlen, "unknown request \"%.32s\" (retry or delete)", verb);
		return -1;
	}
	if (retry && strcmp(target, "all") == 0)
		return 0;
	if (!id_valid(target)) {
		snprintf(err, errlen, "%s: bad queue id \"%.40s\"%s", verb, target,
		    retry ? "" : " (delete takes one id)");
		return -1;
	}
	return 0;
}

/* Apply retry/delete directly (see queue.h). */
int
queue_apply(int tmpdirfd, int queuedirfd, const char *verb,
    const char *target, char *err, size_t errlen)
{
	struct apply_ctx c = { tmpdirfd, queuedirfd, err, errlen };

	if (check_request(verb, target, err, errlen) < 0)
		return -1;
	if (strcmp(verb, "delete") == 0) {
		if (queue_entry_remove(queuedirfd, target, err, errlen) < 0) {
			if (errno == ENOENT)
				snprintf(err, errlen, "%s: no such message", target);
			return -1;
		}
		return 0;
	}
	if (strcmp(target, "all") == 0)
		return apply_retry_all(&c);
	return apply_retry(tmpdirfd, queuedirfd, target, err, errlen);
}

/* Post a request as control/<verb>.<target>.<unique> (tmp/ + rename). */
int
queue_control_post(int tmpdirfd, int controldirfd, const char *verb,
    const char *target, char *err, size_t errlen)
{
	char name[96], uniq[ID_LEN + 1], body[96];
	int n;

	if (check_request(verb, target, err, errlen) < 0)
		return -1;
	id_generate(uniq);
	snprintf(name, sizeof(name), "%s.%s.%s", verb, target, uniq);
	n = snprintf(body, sizeof(body), "%s %s\n", verb, target);
	return fsutil_write_atomic(tmpdirfd, controldirfd, name, body, (size_t)n, true,
	    err, errlen);
}
