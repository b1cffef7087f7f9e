/*
 * submit_bs: the pure SMTP dialogue of `smtpgate-sendmail -bs` (see
 * submit_bs.h): a command table, a capped line splitter with a skip mode
 * (linebuf), a streaming DATA decoder, replies queued in one buffer so a
 * pipelined group is answered with one write.
 *
 * Must not know: files, descriptors, ids, the clock, the spool.
 */
#include <ctype.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "linebuf.h"
#include "submit_bs.h"
#include "util.h"

enum bs_state {
	ST_IDLE = 0x01,		/* no transaction */
	ST_MAIL = 0x02,		/* after MAIL, no recipient yet */
	ST_RCPT = 0x04,		/* at least one recipient */
	ST_DATA = 0x08,		/* reading the message */
	ST_WAIT = 0x10,		/* message handed out, waiting for submit_bs_done */
	ST_DONE = 0x20,		/* QUIT said or too many errors */
};

/* Where the DATA decoder is within a line. */
enum bs_dstate { D_BOL, D_DOT, D_DOTCR, D_MID };

struct submit_bs {
	struct submit_bs_params p;
	char *hostname;
	enum bs_state state;
	struct linebuf lb;
	unsigned errors;
	struct strbuf out;		/* queued replies */
	char cmd[SUBMIT_BS_MAX_LINE + 1];
	/* the transaction */
	char sender[SMTP_ADDR_MAX + 1];
	struct addrset rcpts;
	struct strbuf data;
	size_t data_bytes;		/* decoded so far, also past max_size */
	enum bs_dstate dstate;
};

struct bs_command {
	const char *verb;
	unsigned states;		/* where it is legal */
	void (*fn)(struct submit_bs *s, char *args);
};

/* Queue one reply line from fmt and ap (at most 1023 bytes; CRLF added). */
static void __attribute__((format(printf, 2, 0)))
bs_vreply(struct submit_bs *s, const char *fmt, va_list ap)
{
	char line[1024];
	int n = vsnprintf(line, sizeof(line), fmt, ap);

	if (n < 0)
		n = 0;
	strbuf_add(&s->out, line, (size_t)n < sizeof(line) ? (size_t)n : sizeof(line) - 1);
	strbuf_add(&s->out, "\r\n", 2);
}

/* Queue one reply line (CRLF added). */
static void __attribute__((format(printf, 2, 3)))
bs_reply(struct submit_bs *s, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	bs_vreply(s, fmt, ap);
	va_end(ap);
}

/* Queue an error reply and count it; past the limit, "421" ends the session. */
static void __attribute__((format(printf, 2, 3)))
bs_error(struct submit_bs *s, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	bs_vreply(s, fmt, ap);
	va_end(ap);
	if (++s->errors >= SUBMIT_BS_MAX_ERRORS) {
		bs_reply(s, "421 4.7.0 %s Error: too many errors", s->hostname);
		s->state = ST_DONE;
	}
}

/* Forget the transaction (sender, recipients, data). */
static void
bs_txn_reset(struct submit_bs *s)
{
	s->sender[0] = '\0';
	addrset_free(&s->rcpts);
	strbuf_free(&s->data);
	s->data_bytes = 0;
	s->dstate = D_BOL;
	if (s->state != ST_DONE)
		s->state = ST_IDLE;
}

/* Skip spaces. */
static char *
skip_sp(char *p)
{
	while (*p == ' ' || *p == '\t')
		p++;
	return p;
}

/* Cut the next space-separated word off *p; NULL when none is left. */
static char *
next_word(char **p)
{
	char *w = skip_sp(*p), *e;

	if (*w == '\0')
		return NULL;
	e = w + strcspn(w, " \t");
	if (*e != '\0')
		*e++ = '\0';
	*p = e;
	return w;
}

/*
 * Cut the path off p (after "FROM:" or "TO:"): "<...>" (quotes respected)
 * or a bare word.  Returns the path text without brackets (NUL-terminated
 * in place) and sets *rest to what follows; NULL on a missing '>'.
 */
static char *
cut_path(char *p, char **rest)
{
	bool quoted = false;
	char *q;

	if (*p != '<') {
		char *w = next_word(&p);
		*rest = p;
		return w;
	}
	for (q = p + 1; *q != '\0'; q++) {
		if (*q == '\\' && q[1] != '\0')
			q++;
		else if (*q == '"')
			quoted = !quoted;
		else if (*q == '>' && !quoted)
			break;
	}
	if (*q != '>')
		return NULL;
	*q = '\0';
	*rest = q + 1;
	return p + 1;
}

/* true when s has a byte outside ASCII. */
static bool
has_8bit(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s >= 0x80)
			return true;
	return false;
}

/*
 * Parse the path after keyword kw ("FROM:" / "TO:") into out (qualified);
 * *rest gets the parameters.  0, or -1 after an error reply.
 */
static int
bs_path(struct submit_bs *s, char *args, const char *kw, bool sender,
    char out[SMTP_ADDR_MAX + 1], char **rest)
{
	size_t n = strlen(kw);
	const char *why;
	char *path;

	if (strncasecmp(args, kw, n) != 0 ||
	    (path = cut_path(skip_sp(args + n), rest)) == NULL ||
	    (**rest != '\0' && **rest != ' ' && **rest != '\t')) {
		bs_error(s, "501 5.5.4 Syntax: %s", sender ? "MAIL FROM:<address>" :
		    "RCPT TO:<address>");
		return -1;
	}
	if (has_8bit(path)) {
		bs_error(s, "553 5.6.7 Non-ASCII address needs SMTPUTF8");
		return -1;
	}
	if ((!sender && path[0] == '\0') ||
	    submit_addr_normalize(path, s->hostname, sender, out, &why) < 0) {
		bs_error(s, sender ? "501 5.1.7 Bad sender address syntax" :
		    "501 5.1.3 Bad recipient address syntax");
		return -1;
	}
	return 0;
}

/* Parse a SIZE value; false when it is not a decimal number. */
static bool
parse_size(const char *v, uintmax_t *n)
{
	*n = 0;
	if (*v == '\0')
		return false;
	for (; *v; v++) {
		if (!isdigit((unsigned char)*v))
			return false;
		if (*n > (UINTMAX_MAX - 9) / 10)
			*n = UINTMAX_MAX - 9;	/* saturate: only "too big" matters */
		*n = *n * 10 + (uintmax_t)(*v - '0');
	}
	return true;
}

/* One MAIL parameter (SIZE, BODY); false after an error reply. */
static bool
mail_param(struct submit_bs *s, char *kv)
{
	char *val = strchr(kv, '=');
	uintmax_t size;

	if (val != NULL)
		*val++ = '\0';
	if (strcasecmp(kv, "SIZE") == 0) {
		if (val == NULL || !parse_size(val, &size)) {
			bs_error(s, "501 5.5.4 Bad message size syntax");
			return false;
		}
		if (size > s->p.max_size) {
			bs_error(s, "552 5.3.4 Message size exceeds fixed limit");
			return false;
		}
		return true;
	}
	if (strcasecmp(kv, "BODY") == 0 && val != NULL &&
	    (strcasecmp(val, "7BIT") == 0 || strcasecmp(val, "8BITMIME") == 0))
		return true;
	bs_error(s, "555 5.5.4 Unsupported option: %.64s", kv);
	return false;
}

/* HELO and EHLO: a name is required; the transaction is reset. */
static void
cmd_hello(struct submit_bs *s, char *args, bool esmtp)
{
	if (*args == '\0') {
		bs_error(s, "501 5.5.4 Syntax: %s hostname", esmtp ? "EHLO" : "HELO");
		return;
	}
	bs_txn_reset(s);
	if (!esmtp) {
		bs_reply(s, "250 %s", s->hostname);
		return;
	}
	bs_reply(s, "250-%s", s->hostname);
	bs_reply(s, "250-PIPELINING");
	bs_reply(s, "250-SIZE %zu", s->p.max_size);
	bs_reply(s, "250-VRFY");
	bs_reply(s, "250-ENHANCEDSTATUSCODES");
	bs_reply(s, "250 8BITMIME");
}

/* HELO name. */
static void
cmd_helo(struct submit_bs *s, char *args)
{
	cmd_hello(s, args, false);
}

/* EHLO name. */
static void
cmd_ehlo(struct submit_bs *s, char *args)
{
	cmd_hello(s, args, true);
}

/* MAIL FROM:<path> [SIZE=n] [BODY=...]. */
static void
cmd_mail(struct submit_bs *s, char *args)
{
	char *rest, *w;

	if (bs_path(s, args, "FROM:", true, s->sender, &rest) < 0)
		return;
	while ((w = next_word(&rest)) != NULL)
		if (!mail_param(s, w)) {
			bs_txn_reset(s);
			return;
		}
	s->state = ST_MAIL;
	bs_reply(s, "250 2.1.0 Ok");
}

/* RCPT TO:<path>: qualified, duplicates taken once, at most max_rcpts. */
static void
cmd_rcpt(struct submit_bs *s, char *args)
{
	char addr[SMTP_ADDR_MAX + 1], *rest, *w;

	if (bs_path(s, args, "TO:", false, addr, &rest) < 0)
		return;
	if ((w = next_word(&rest)) != NULL) {
		bs_error(s, "555 5.5.4 Unsupported option: %.64s", w);
		return;
	}
	if (!addrset_has(&s->rcpts, addr) && s->rcpts.list.n >= s->p.max_rcpts) {
		bs_error(s, "452 4.5.3 Error: too many recipients");
		return;
	}
	addrset_add(&s->rcpts, addr);
	s->state = ST_RCPT;
	bs_reply(s, "250 2.1.5 Ok");
}

/* DATA: "354", then the decoder takes the bytes. */
static void
cmd_data(struct submit_bs *s, char *args)
{
	if (*args != '\0') {
		bs_error(s, "501 5.5.4 Syntax: DATA");
		return;
	}
	if (s->state == ST_MAIL) {
		bs_error(s, "554 5.5.1 Error: no valid recipients");
		return;
	}
	s->state = ST_DATA;
	s->dstate = D_BOL;
	bs_reply(s, "354 End data with <CR><LF>.<CR><LF>");
}

/* RSET. */
static void
cmd_rset(struct submit_bs *s, char *args)
{
	if (*args != '\0') {
		bs_error(s, "501 5.5.4 Syntax: RSET");
		return;
	}
	bs_txn_reset(s);
	bs_reply(s, "250 2.0.0 Ok");
}

/* NOOP (arguments allowed, RFC 5321 4.1.1.9). */
static void
cmd_noop(struct submit_bs *s, char *args)
{
	bs_reply(s, "250 2.0.0 Ok");
}

/* QUIT: "221", then the session is over. */
static void
cmd_quit(struct submit_bs *s, char *args)
{
	bs_reply(s, "221 2.0.0 Bye");
	bs_txn_reset(s);
	s->state = ST_DONE;
}

/* VRFY address: 252 with the qualified address (we relay everything). */
static void
cmd_vrfy(struct submit_bs *s, char *args)
{
	char addr[SMTP_ADDR_MAX + 1], *rest;
	const char *why;
	char *path;

	if (*args == '\0') {
		bs_error(s, "501 5.5.4 Syntax: VRFY address");
		return;
	}
	path = cut_path(args, &rest);
	if (path == NULL || path[0] == '\0' || has_8bit(path) ||
	    submit_addr_normalize(path, s->hostname, false, addr, &why) < 0) {
		bs_error(s, "501 5.1.3 Bad recipient address syntax");
		return;
	}
	bs_reply(s, "252 2.0.0 %s", addr);
}

#define ANY (ST_IDLE | ST_MAIL | ST_RCPT)

static const struct bs_command commands[] = {
	{ "HELO", ANY, cmd_helo },
	{ "EHLO", ANY, cmd_ehlo },
	{ "MAIL", ST_IDLE, cmd_mail },
	{ "RCPT", ST_MAIL | ST_RCPT, cmd_rcpt },
	{ "DATA", ST_MAIL | ST_RCPT, cmd_data },
	{ "RSET", ANY, cmd_rset },
	{ "NOOP", ANY, cmd_noop },
	{ "QUIT", ANY, cmd_quit },
	{ "VRFY", ANY, cmd_vrfy },
};

/* The 503 text for a verb used out of sequence. */
static const char *
sequence_text(const struct bs_command *c)
{
	if (strcmp(c->verb, "MAIL") == 0)
		return "nested MAIL command";
	if (strcmp(c->verb, "DATA") == 0)
		return "need RCPT command";
	return "need MAIL command";
}

/* Find a verb's row (case-insensitive), or NULL. */
static const struct bs_command *
command_find(const char *verb, size_t n)
{
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (strlen(commands[i].verb) == n && strncasecmp(commands[i].verb, verb, n) == 0)
			return &commands[i];
	return NULL;
}

/* true when a command holds a control byte (NUL, a CR inside, ...). */
static bool
line_has_ctl(const char *line, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (((unsigned char)line[i] < 0x20 && line[i] != '\t') || line[i] == 0x7f)
			return true;
	return false;
}

/* Run one command line (terminator removed). */
static void
command_line(struct submit_bs *s, const char *line, size_t len)
{
	const struct bs_command *c;
	size_t vlen;

	if (line_has_ctl(line, len)) {
		bs_error(s, "500 5.5.2 Error: bad syntax");
		return;
	}
	memcpy(s->cmd, line, len);
	s->cmd[len] = '\0';
	while (len > 0 && (s->cmd[len - 1] == ' ' || s->cmd[len - 1] == '\t'))
		s->cmd[--len] = '\0';
	vlen = strcspn(s->cmd, " \t");
	if (vlen == 0) {
		bs_error(s, "500 5.5.2 Error: bad syntax");
		return;
	}
	c = command_find(s->cmd, vlen);
	if (c == NULL)
		bs_error(s, "502 5.5.2 Error: command not recognized");
	else if (!(c->states & s->state))
		bs_error(s, "503 5.5.1 Error: %s", sequence_text(c));
	else
		c->fn(s, skip_sp(s->cmd + vlen));
}

/* Keep n decoded bytes (only up to max_size + 1; the rest is counted). */
static void
data_emit(struct submit_bs *s, const char *p, size_t n)
{
	size_t room = s->data_bytes <= s->p.max_size ? s->p.max_size + 1 - s->data_bytes : 0;

	strbuf_add(&s->data, p, n < room ? n : room);
	s->data_bytes += n;
}

/*
 * Decode DATA bytes: a leading dot is removed, a line of a single dot
 * (LF or CRLF) ends the data.  Returns the bytes used; *done at the end.
 */
static size_t
data_feed(struct submit_bs *s, const char *buf, size_t len, bool *done)
{
	size_t i = 0;

	*done = false;
	while (i < len && !*done) {
		char c = buf[i];

		switch (s->dstate) {
		case D_BOL:
			s->dstate = c == '.' ? D_DOT : D_MID;
			i += c == '.';
			break;
		case D_DOT:
			*done = c == '\n';
			s->dstate = c == '\r' ? D_DOTCR : D_MID;
			i += c == '\r' || c == '\n';
			break;
		case D_DOTCR:
			*done = c == '\n';
			if (!*done)
				data_emit(s, "\r", 1);
			s->dstate = D_MID;
			i += *done;
			break;
		case D_MID: {
			const char *lf = memchr(buf + i, '\n', len - i);
			size_t n = lf != NULL ? (size_t)(lf - (buf + i)) + 1 : len - i;
			data_emit(s, buf + i, n);
			i += n;
			if (lf != NULL)
				s->dstate = D_BOL;
			break;
		}
		}
	}
	return i;
}

/* The end of the data: hand the message out, or refuse it when too big. */
static enum submit_bs_event
data_end(struct submit_bs *s)
{
	if (s->data_bytes > s->p.max_size) {
		bs_error(s, "552 5.3.4 Message size exceeds fixed limit");
		bs_txn_reset(s);
		return SUBMIT_BS_MORE;
	}
	if (s->data.p == NULL)
		strbuf_add(&s->data, "", 0);
	s->state = ST_WAIT;
	return SUBMIT_BS_MESSAGE;
}

/* One command line off buf (or the part of an over-long one); bytes used. */
static size_t
feed_command(struct submit_bs *s, const char *buf, size_t len, bool *need_more)
{
	size_t line_len, used;
	bool bare_lf;

	*need_more = false;
	switch (linebuf_next(&s->lb, buf, len, &line_len, &used, &bare_lf)) {
	case LINEBUF_TOO_LONG:
		bs_error(s, "500 5.5.2 Error: line too long");
		break;
	case LINEBUF_LINE:
		command_line(s, buf, line_len);
		break;
	case LINEBUF_NEED_MORE:
		*need_more = true;
		break;
	}
	return used;
}

/* Feed bytes (see submit_bs.h). */
enum submit_bs_event
submit_bs_feed(struct submit_bs *s, const char *buf, size_t len, size_t *consumed)
{
	size_t off = 0;
	bool stop = false;

	while (off < len && !stop) {
		if (s->state == ST_DONE || s->state == ST_WAIT)
			break;
		if (s->state == ST_DATA) {
			bool done;
			off += data_feed(s, buf + off, len - off, &done);
			if (done && data_end(s) == SUBMIT_BS_MESSAGE) {
				*consumed = off;
				return SUBMIT_BS_MESSAGE;
			}
			continue;
		}
		off += feed_command(s, buf + off, len - off, &stop);
	}
	*consumed = s->state == ST_DONE ? len : off;
	return s->state == ST_DONE ? SUBMIT_BS_CLOSE : SUBMIT_BS_MORE;
}

/* A new session (see submit_bs.h). */
struct submit_bs *
submit_bs_new(const struct submit_bs_params *p)
{
	struct submit_bs *s = xcalloc(1, sizeof(*s));

	s->p = *p;
	s->hostname = xstrdup(p->hostname);
	s->p.hostname = s->hostname;
	linebuf_init(&s->lb, SUBMIT_BS_MAX_LINE);
	s->state = ST_IDLE;
	return s;
}

/* Free a session and whatever it holds. */
void
submit_bs_free(struct submit_bs *s)
{
	if (s == NULL)
		return;
	bs_txn_reset(s);
	strbuf_free(&s->out);
	free(s->hostname);
	free(s);
}

/* Queue the greeting. */
void
submit_bs_greet(struct submit_bs *s)
{
	bs_reply(s, "220 %s ESMTP smtpgate-sendmail", s->hostname);
}

/* The message's envelope sender. */
const char *
submit_bs_sender(const struct submit_bs *s)
{
	return s->sender;
}

/* The message's recipients. */
const struct addrset *
submit_bs_rcpts(const struct submit_bs *s)
{
	return &s->rcpts;
}

/* The message's data. */
const char *
submit_bs_data(const struct submit_bs *s, size_t *len)
{
	*len = s->data.len;
	return s->data.p != NULL ? s->data.p : "";
}

/* Answer the handed-out message and end its transaction. */
void
submit_bs_done(struct submit_bs *s, const char *reply)
{
	if (reply[0] == '4' || reply[0] == '5')
		bs_error(s, "%s", reply);
	else
		bs_reply(s, "%s", reply);
	bs_txn_reset(s);
}

/* The client said nothing for too long. */
void
submit_bs_timeout(struct submit_bs *s)
{
	bs_reply(s, "421 4.4.2 %s Error: timeout exceeded", s->hostname);
	s->state = ST_DONE;
}

/* Inside DATA (or a message not yet answered)? */
bool
submit_bs_in_data(const struct submit_bs *s)
{
	return s->state == ST_DATA || s->state == ST_WAIT;
}

/* The replies queued so far. */
const char *
submit_bs_output(const struct submit_bs *s, size_t *len)
{
	*len = s->out.len;
	return s->out.p != NULL ? s->out.p : "";
}

/* Forget the queued replies (they were written). */
void
submit_bs_output_clear(struct submit_bs *s)
{
	s->out.len = 0;
}
