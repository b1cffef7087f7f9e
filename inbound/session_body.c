/*
 * session_body: the message body in the pure inbound session (beside
 * session.c): DATA through the dot decoder (only <CRLF>.<CRLF> ends it;
 * bare CR/LF or NUL fail the message with 550 once the end is read), BDAT
 * chunks (always consumed, even refused), the size cap (read on, then
 * 552), the line length cap (read on, then 554 5.6.0), and where the bytes go: a buffer in memory up to
 * body_memory_limit, past it the caller's body_write sink (the spill).
 * It raises SESSION_EV_MESSAGE and hands the body over.
 *
 * Must not know sockets, libevent, files or the clock: the sink is a
 * callback, what it writes to is the caller's business.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "dotstuff.h"
#include "session_int.h"
#include "util.h"

#define BODY_MIN_ALLOC 8192
#define BODY_HINT_MAX (4u << 20)	/* preallocate at most this from SIZE= */

/* ---- the body in memory, or spilled to the caller's sink ---- */

/* true when bodies past body_memory_limit go to the caller's sink. */
static bool
body_can_spill(const struct session *s)
{
	return s->p.body_write != NULL && s->p.body_memory_limit != 0;
}

/* Make room for n more body bytes, doubling the buffer (never past the
 * memory limit when the body can be spilled). */
static void
body_reserve(struct session *s, size_t n)
{
	struct txn *t = &s->t;
	size_t cap;

	if (t->body_len + n <= t->body_cap)
		return;
	cap = t->body_cap ? t->body_cap : BODY_MIN_ALLOC;
	while (cap < t->body_len + n)
		cap *= 2;
	if (body_can_spill(s) && cap > s->p.body_memory_limit &&
	    t->body_len + n <= s->p.body_memory_limit)
		cap = s->p.body_memory_limit;
	t->body = xrealloc(t->body, cap);
	t->body_cap = cap;
}

/* Start a body buffer, sized from the SIZE= hint when there was one
 * (at most the memory limit: a bigger body is spilled anyway). */
static void
body_start(struct session *s)
{
	uint64_t hint = s->t.size_hint;

	if (hint > BODY_HINT_MAX)
		hint = BODY_HINT_MAX;
	if (body_can_spill(s) && hint > s->p.body_memory_limit)
		hint = s->p.body_memory_limit;
	body_reserve(s, hint > BODY_MIN_ALLOC ? (size_t)hint : BODY_MIN_ALLOC);
}

/* Send what memory holds to the sink and free it: the body is spilled. */
static size_t
body_spill(struct session *s)
{
	size_t freed = s->t.body_cap;

	if (s->t.body_len > 0)
		s->p.body_write(s->p.arg, s->t.body, s->t.body_len);
	free(s->t.body);
	s->t.body = NULL;
	s->t.body_len = s->t.body_cap = 0;
	s->t.spilled = true;
	return freed;
}

/* Count the octets of the body's current line (its CRLF included); a
 * line past max_data_line marks the message, which is refused at its end
 * (never cut: a long line is stored whole or not at all). */
static void
body_count_lines(struct session *s, const char *p, size_t n)
{
	size_t max = s->p.max_data_line, k;
	const char *nl;

	while (max != 0 && n > 0 && !s->t.line_too_long) {
		nl = memchr(p, '\n', n);
		k = nl != NULL ? (size_t)(nl - p) + 1 : n;
		if (s->t.line_len + k > max)
			s->t.line_too_long = true;
		s->t.line_len = nl != NULL ? 0 : s->t.line_len + k;
		p += k;
		n -= k;
	}
}

/* Append body bytes unless the message already went over a cap; past
 * the memory limit they go to the sink. */
static void
body_append(struct session *s, const char *p, size_t n)
{
	uint64_t max = s->p.max_message_size;

	if (s->t.too_big || s->t.line_too_long)
		return;
	if (max != 0 && s->t.body_total + n > max) {
		s->t.too_big = true;
		return;
	}
	body_count_lines(s, p, n);
	if (s->t.line_too_long)
		return;
	s->t.body_total += n;
	if (!s->t.spilled && body_can_spill(s) &&
	    s->t.body_len + n > s->p.body_memory_limit)
		body_spill(s);
	if (s->t.spilled) {
		s->p.body_write(s->p.arg, p, n);
		return;
	}
	body_reserve(s, n);
	memcpy(s->t.body + s->t.body_len, p, n);
	s->t.body_len += n;
}

/* Fill s->msg and raise SESSION_EV_MESSAGE. */
static void
raise_message(struct session *s)
{
	struct session_message *m = &s->msg;

	if (s->t.body == NULL && !s->t.spilled)
		body_reserve(s, 1);
	m->helo = s->helo;
	m->esmtp = s->esmtp;
	m->mail_from = s->t.mail_from;
	m->rcpts = (const char *const *)s->t.rcpts;
	m->nrcpts = s->t.nrcpts;
	m->smtputf8 = s->t.smtputf8;
	m->body_8bitmime = s->t.body_8bitmime;
	m->chunking = s->t.chunking;
	m->body = s->t.body;
	m->body_len = s->t.spilled ? (size_t)s->t.body_total : s->t.body_len;
	m->body_spilled = s->t.spilled;
	s->ev = SESSION_EV_MESSAGE;
}

/* ---- DATA ---- */

/* DATA: 354, then the body goes through the dot decoder. */
void
session_cmd_data(struct session *s, char *args)
{
	if (*args != '\0') {
		session_reply_error(s, "501 5.5.4 Syntax: DATA");
		return;
	}
	if (s->t.nrcpts == 0) {
		session_reply_error(s, "554 5.5.1 Error: no valid recipients");
		return;
	}
	body_start(s);
	dot_decoder_init(&s->dot);
	s->phase = PH_DATA;
	session_reply(s, "354 End data with <CR><LF>.<CR><LF>");
}

/* dot_decode's emit callback. */
static void
data_emit(void *arg, const char *p, size_t n)
{
	body_append(arg, p, n);
}

/* A body line was too long: refuse the message (DATA end or a BDAT chunk). */
static void
refuse_long_line(struct session *s)
{
	session_note(s, "reject=line-too-long-in-data");
	session_txn_reset(s);
	session_reply_error(s, "554 5.6.0 Error: message has a line longer than "
	    "%zu octets", s->p.max_data_line);
}

/* A body too big or with a line too long: refuse it (true), else false. */
static bool
body_refused(struct session *s)
{
	if (s->t.too_big) {
		session_note(s, "reject=message-too-big");
		session_reply_error(s, "552 5.3.4 Error: message too big");
		session_txn_reset(s);
		return true;
	}
	if (s->t.line_too_long) {
		refuse_long_line(s);
		return true;
	}
	return false;
}

/* The end of DATA: refuse bad bytes, size or line length, else raise the message. */
static void
data_done(struct session *s)
{
	unsigned f = s->dot.flags;

	s->phase = PH_CMD;
	if (f & (DOT_BARE_LF | DOT_BARE_CR | DOT_NUL)) {
		session_note(s, (f & DOT_NUL) ? "reject=nul-in-data" :
		    (f & DOT_BARE_LF) ? "reject=bare-lf-in-data" : "reject=bare-cr-in-data");
		session_reply_error(s,	/* before the reset: its log line names the sender */
		    "550 5.5.2 Error: bare <CR>, <LF> or NUL in message data");
		session_txn_reset(s);
		return;
	}
	if (body_refused(s))
		return;
	raise_message(s);
}

/* Feed DATA bytes; returns bytes consumed. */
size_t
session_feed_data(struct session *s, const char *buf, size_t len)
{
	bool done = false;
	size_t n = dot_decode(&s->dot, buf, len, data_emit, s, &done);

	if (done)
		data_done(s);
	return n;
}

/* ---- BDAT (RFC 3030) ---- */

static void bdat_done(struct session *);

/* BDAT size [LAST]: the chunk is always consumed, even when refused. */
void
session_cmd_bdat(struct session *s, char *args)
{
	char *w = session_next_word(&args), *last = session_next_word(&args);
	uint64_t n;

	if (w == NULL || !session_parse_u64(w, strlen(w), &n) ||
	    session_next_word(&args) != NULL ||
	    (last != NULL && strcasecmp(last, "LAST") != 0)) {
		/* The chunk length is unknown: we cannot stay in sync. */
		session_note(s, "reject=bdat-syntax");
		session_reply(s, "501 5.5.4 Syntax: BDAT size [LAST]");
		session_close(s);
		return;
	}
	s->bdat_left = n;
	s->bdat_last = last != NULL;
	s->bdat_refused = !s->esmtp || !(s->state & (ST_RCPT | ST_BDAT));
	if (!s->bdat_refused && s->state == ST_RCPT) {
		s->t.chunking = true;
		body_start(s);
	}
	s->phase = PH_BDAT;
	if (n == 0)
		bdat_done(s);	/* "BDAT 0 [LAST]": nothing to read */
}

/* The chunk has been read: answer it. */
static void
bdat_done(struct session *s)
{
	s->phase = PH_CMD;
	if (s->bdat_refused) {
		session_reply_error(s, "503 5.5.1 Error: %s",
		    !s->esmtp ? "BDAT needs EHLO" : s->state & (ST_MAIL | ST_RCPT) ?
		    "need RCPT command" : s->state & ST_READY ? "need MAIL command" :
		    "send EHLO first");
		return;
	}
	if (body_refused(s))
		return;
	if (s->bdat_last) {
		raise_message(s);
		return;
	}
	s->state = ST_BDAT;
	session_reply(s, "250 2.0.0 Ok: chunk received");
}

/* Feed chunk bytes; returns bytes consumed. */
size_t
session_feed_bdat(struct session *s, const char *buf, size_t len)
{
	size_t n = len;

	if ((uint64_t)n > s->bdat_left)
		n = (size_t)s->bdat_left;
	if (!s->bdat_refused)
		body_append(s, buf, n);
	s->bdat_left -= n;
	if (s->bdat_left == 0)
		bdat_done(s);
	return n;
}

/* ---- public interface: the body ---- */

/* Hand the body to the caller (once per message). */
char *
session_take_body(struct session *s, size_t *len)
{
	char *b;

	if (s->ev == SESSION_EV_MESSAGE && s->t.spilled) {
		*len = (size_t)s->t.body_total;
		s->t.spilled = false;	/* the caller owns it now */
		return NULL;
	}
	if (s->ev != SESSION_EV_MESSAGE || s->t.body == NULL) {
		*len = 0;
		return NULL;
	}
	b = s->t.body;
	*len = s->t.body_len;
	s->t.body = NULL;
	s->t.body_len = s->t.body_cap = 0;
	s->msg.body = NULL;
	return b;
}

/* Spill the in-memory body now (memory is short); bytes freed. */
size_t
session_spill_now(struct session *s)
{
	if (!body_can_spill(s) || s->t.spilled || s->t.body == NULL ||
	    s->ev == SESSION_EV_MESSAGE || (s->phase != PH_DATA && s->phase != PH_BDAT &&
	    s->state != ST_BDAT))
		return 0;
	return body_spill(s);
}

/* Memory held by the body being received. */
size_t
session_body_memory(const struct session *s)
{
	return s->t.body_cap;
}
