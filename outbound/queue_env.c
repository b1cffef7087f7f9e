/*
 * queue_env: the .env text of a queue entry, pure (no files): format,
 * parse, free, and the entry of a new message.  Split from queue.c so the
 * parser's tests and a fuzz target link only this.
 *
 * The .env format, one "key=value" per LF-terminated line, "version=1"
 * first, then id, sender, created, next_attempt, size, attempts,
 * delay_warned, bounced, last_reply, and one "rcpt=<state> <addr>" per
 * recipient, each optionally followed by "rcpt_reply=<text>".  Values are
 * escaped: backslash, CR, LF and other control bytes become \\, \r, \n,
 * \xHH.  An empty last_reply / missing rcpt_reply is NULL.
 */
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "id.h"
#include "queue.h"
#include "smtp_addr.h"
#include "strbuf.h"
#include "util.h"

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
	if (len > QUEUE_ENV_MAX) {
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

/* Fill e as the entry of the new message n (see queue.h). */
void
queue_entry_init(struct queue_entry *e, const struct queue_new *n)
{
	size_t i;

	memset(e, 0, sizeof(*e));
	util_strlcpy(e->id, n->id, sizeof(e->id));
	e->sender = xstrdup(n->sender != NULL ? n->sender : "");
	e->created = e->next_attempt = n->now;
	e->size = n->msglen;
	e->rcpts = xcalloc(n->nrcpts, sizeof(*e->rcpts));
	e->nrcpts = n->nrcpts;
	for (i = 0; i < n->nrcpts; i++)
		e->rcpts[i].addr = xstrdup(n->rcpts[i]);
}

/* The .env text of a new message (see queue.h). */
char *
queue_env_new(const struct queue_new *n, size_t *lenp)
{
	struct queue_entry e;
	char *text;

	queue_entry_init(&e, n);
	text = queue_env_format(&e, lenp);
	queue_entry_free(&e);
	return text;
}
