/*
 * session: the inbound SMTP server state machine (RFC 5321, 1870, 2920,
 * 3030, 3207, 3463, 6152, 6531), pure.  Client bytes go in, reply bytes
 * and events come out; conn.c does the sockets, TLS, timers and delivery.
 * This module must not know about libevent, OpenSSL, the spool or the
 * clock.
 *
 * Structure (STYLE.md habits 1-5): one row per verb in `commands`, with the
 * states where it is legal; a session (HELO, TLS, error count) separate
 * from the transaction (sender, recipients, body).  This file holds the
 * command table, the replies, the transaction and the command verbs; the
 * body (DATA, BDAT, memory or spill to the caller's sink) is in
 * session_body.c; the structs are shared through session_int.h.  Command lines come from
 * linebuf with a hard cap: an over-long line gets one "500 5.5.2" and is
 * skipped to its LF.  Policy on line ends is strict (RFC 5321 2.3.8): a
 * command line ending in a bare LF is refused with "500 5.5.2" and a CR or
 * other control byte inside a command line likewise, so nothing a relay in
 * front might read differently is ever executed.  DATA is decoded by
 * dotstuff: only <CRLF>.<CRLF> ends it; bare CR/LF or NUL anywhere in the
 * data make the message fail with "550 5.5.2" once the real end is read.
 * A too-big message is read to its end, then refused with "552 5.3.4".
 *
 * Choices where the RFCs leave room (documented for operators):
 *  - "MAIL FROM: <a@b>" (spaces after the colon) is accepted, a bare
 *    address without <> is not; parameters after HELO get 555.
 *  - A recipient given twice in one transaction is accepted once.
 *  - Every 4xx/5xx the client causes counts toward max_errors; then
 *    "421 4.7.0" and close.  Delivery failures do not count.
 *  - BDAT with an unparseable size gets 501 and the session closes, since
 *    the chunk length (and so the next command) is unknown.  A refused
 *    BDAT (no MAIL/RCPT yet, or after HELO) still consumes its chunk.
 *  - A chunk that takes the message past max_message_size gets 552 5.3.4
 *    and ends the transaction; later chunks get 503 (still consumed).
 *  - Bytes fed before session_greet() are treated as an early talker.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "dotstuff.h"
#include "linebuf.h"
#include "session.h"
#include "session_int.h"
#include "smtp_addr.h"
#include "util.h"

typedef void (*cmd_fn)(struct session *s, char *args);

struct command {
	const char *verb;
	unsigned states;	/* where the verb is legal; else 503 5.5.1 */
	cmd_fn fn;
};

static void cmd_ehlo(struct session *, char *);
static void cmd_helo(struct session *, char *);
static void cmd_mail(struct session *, char *);
static void cmd_rcpt(struct session *, char *);
static void cmd_rset(struct session *, char *);
static void cmd_noop(struct session *, char *);
static void cmd_quit(struct session *, char *);
static void cmd_vrfy(struct session *, char *);
static void cmd_help(struct session *, char *);
static void cmd_starttls(struct session *, char *);

/* BDAT checks its own state: its chunk must be consumed even when refused. */
static const struct command commands[] = {
	{ "EHLO",	ST_ANY,				cmd_ehlo },
	{ "HELO",	ST_ANY,				cmd_helo },
	{ "MAIL",	ST_READY,			cmd_mail },
	{ "RCPT",	ST_MAIL | ST_RCPT,		cmd_rcpt },
	{ "DATA",	ST_MAIL | ST_RCPT,		session_cmd_data },
	{ "BDAT",	ST_ANY,				session_cmd_bdat },
	{ "RSET",	ST_ANY,				cmd_rset },
	{ "NOOP",	ST_ANY,				cmd_noop },
	{ "QUIT",	ST_ANY,				cmd_quit },
	{ "VRFY",	ST_ANY,				cmd_vrfy },
	{ "HELP",	ST_ANY,				cmd_help },
	{ "STARTTLS",	ST_GREET | ST_READY,		cmd_starttls },
};

/* ---- output ---- */

/* Append raw bytes to the reply buffer. */
static void
out_append(struct session *s, const char *p, size_t n)
{
	strbuf_add(&s->out, p, n);
}

/* Queue one reply line from fmt and ap (at most 509 bytes); CRLF is added. */
static void __attribute__((format(printf, 2, 0)))
session_vreply(struct session *s, const char *fmt, va_list ap)
{
	char line[512];
	int n = vsnprintf(line, sizeof(line) - 2, fmt, ap);

	if (n < 0)
		n = 0;
	if ((size_t)n > sizeof(line) - 3)
		n = (int)sizeof(line) - 3;
	if (s->p.refused != NULL && (line[0] == '4' || line[0] == '5'))
		s->p.refused(s->p.arg, line, (size_t)n);
	memcpy(line + n, "\r\n", 2);
	out_append(s, line, (size_t)n + 2);
}

/* Queue one reply line ("250 2.0.0 Ok"); CRLF is added. */
void __attribute__((format(printf, 2, 3)))
session_reply(struct session *s, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	session_vreply(s, fmt, ap);
	va_end(ap);
}

/* Pass a key=value note to the caller's logger. */
void
session_note(struct session *s, const char *kv)
{
	if (s->p.note != NULL)
		s->p.note(s->p.arg, kv);
}

/* Stop consuming and ask the caller to close after flushing. */
void
session_close(struct session *s)
{
	s->phase = PH_DONE;
	s->ev = SESSION_EV_CLOSE;
}

/* Count a client error; past max_errors say 421 and close. */
static void
count_error(struct session *s)
{
	s->errors++;
	if (s->p.max_errors != 0 && s->errors >= s->p.max_errors &&
	    s->phase != PH_DONE) {
		session_note(s, "reject=too-many-errors");
		session_reply(s, "421 4.7.0 %s Error: too many errors", s->hostname);
		session_close(s);
	}
}

/* Queue a 4xx/5xx reply caused by the client and count it. */
void __attribute__((format(printf, 2, 3)))
session_reply_error(struct session *s, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	session_vreply(s, fmt, ap);
	va_end(ap);
	count_error(s);
}

/* ---- transaction ---- */

/* Forget the transaction (RFC 5321 4.1.1.5); HELO and TLS stay. */
void
session_txn_reset(struct session *s)
{
	size_t i;

	for (i = 0; i < s->t.nrcpts; i++)
		free(s->t.rcpts[i]);
	free(s->t.rcpts);
	free(s->t.body);
	if (s->t.spilled && s->p.body_drop != NULL)
		s->p.body_drop(s->p.arg);
	memset(&s->t, 0, sizeof(s->t));
	memset(&s->msg, 0, sizeof(s->msg));
	s->from_set = false;
	if (s->state != ST_GREET)
		s->state = ST_READY;
}

/* ---- argument helpers ---- */

/* Skip spaces. */
static char *
skip_sp(char *p)
{
	while (*p == ' ')
		p++;
	return p;
}

/* Parse 1-20 decimal digits into *v without overflow; false otherwise. */
bool
session_parse_u64(const char *p, size_t n, uint64_t *v)
{
	uint64_t x = 0;
	size_t i;

	if (n == 0 || n > 20)
		return false;
	for (i = 0; i < n; i++) {
		unsigned d;

		if (p[i] < '0' || p[i] > '9')
			return false;
		d = (unsigned)(p[i] - '0');
		if (x > (UINT64_MAX - d) / 10)
			return false;
		x = x * 10 + d;
	}
	*v = x;
	return true;
}

/* Split the next space-separated word off *pp (NUL-terminated in place). */
char *
session_next_word(char **pp)
{
	char *w = skip_sp(*pp), *e;

	if (*w == '\0')
		return NULL;
	e = strchr(w, ' ');
	if (e != NULL) {
		*e = '\0';
		*pp = e + 1;
	} else
		*pp = w + strlen(w);
	return w;
}

/* True when the string holds a byte >= 0x80. */
static bool
has_8bit(const char *p)
{
	for (; *p != '\0'; p++)
		if ((unsigned char)*p >= 0x80)
			return true;
	return false;
}

/* ---- HELO / EHLO ---- */

/* Check and keep the HELO/EHLO argument; false after replying 501. */
static bool
take_helo(struct session *s, char *args, const char *verb)
{
	char *w = session_next_word(&args);
	size_t i, n;

	if (w == NULL) {
		session_reply_error(s, "501 5.5.4 Syntax: %s hostname", verb);
		return false;
	}
	n = strlen(w);
	for (i = 0; i < n; i++)
		if ((unsigned char)w[i] < 0x21 || (unsigned char)w[i] > 0x7e)
			break;
	if (i < n || n > HELO_MAX) {
		session_reply_error(s, "501 5.5.4 Syntax: %s hostname", verb);
		return false;
	}
	memcpy(s->helo, w, n + 1);
	return true;
}

/* EHLO: the extension list (no DSN, no AUTH: see SPEC.md). */
static void
cmd_ehlo(struct session *s, char *args)
{
	if (!take_helo(s, args, "EHLO"))
		return;
	s->state = ST_READY;
	session_txn_reset(s);
	s->esmtp = true;
	session_reply(s, "250-%s", s->hostname);
	session_reply(s, "250-PIPELINING");
	session_reply(s, "250-SIZE %llu", (unsigned long long)s->p.max_message_size);
	session_reply(s, "250-8BITMIME");
	session_reply(s, "250-ENHANCEDSTATUSCODES");
	if (s->p.tls_available && !s->tls_active)
		session_reply(s, "250-STARTTLS");
	session_reply(s, "250-SMTPUTF8");
	session_reply(s, "250 CHUNKING");
}

/* HELO: plain SMTP, no extensions. */
static void
cmd_helo(struct session *s, char *args)
{
	if (!take_helo(s, args, "HELO"))
		return;
	s->state = ST_READY;
	session_txn_reset(s);
	s->esmtp = false;
	session_reply(s, "250 %s", s->hostname);
}

/* ---- MAIL ---- */

/* One MAIL parameter; false after replying. */
static bool
mail_param(struct session *s, char *kv)
{
	char *val = strchr(kv, '=');
	size_t klen = val != NULL ? (size_t)(val - kv) : strlen(kv);

	if (val != NULL)
		val++;
	if (klen == 4 && strncasecmp(kv, "SIZE", 4) == 0) {
		if (val == NULL || !session_parse_u64(val, strlen(val), &s->t.size_hint)) {
			session_reply_error(s, "501 5.5.4 Bad SIZE parameter");
			return false;
		}
		if (s->p.max_message_size != 0 && s->t.size_hint > s->p.max_message_size) {
			session_reply_error(s,
			    "552 5.3.4 Message size exceeds fixed limit");
			return false;
		}
		return true;
	}
	if (klen == 4 && strncasecmp(kv, "BODY", 4) == 0) {
		if (val != NULL && strcasecmp(val, "8BITMIME") == 0)
			s->t.body_8bitmime = true;
		else if (val == NULL || strcasecmp(val, "7BIT") != 0) {
			session_reply_error(s, "501 5.5.4 Bad BODY parameter");
			return false;
		}
		return true;
	}
	if (klen == 8 && strncasecmp(kv, "SMTPUTF8", 8) == 0 && val == NULL) {
		s->t.smtputf8 = true;
		return true;
	}
	session_reply_error(s, "555 5.5.4 Unsupported parameter");
	return false;
}

/* All MAIL parameters after the path; false after replying. */
static bool
mail_params(struct session *s, char *p)
{
	char *w;

	if (*skip_sp(p) != '\0' && !s->esmtp) {
		session_reply_error(s, "555 5.5.4 Parameters need EHLO");
		return false;
	}
	while ((w = session_next_word(&p)) != NULL)
		if (!mail_param(s, w))
			return false;
	return true;
}

/* Reply to an address error; `what` is "sender" or "recipient". */
static void
addr_error(struct session *s, enum smtp_addr_err e, bool sender)
{
	if (e == SMTP_ADDR_NEED_UTF8)
		session_reply_error(s, "553 5.6.7 Non-ASCII address needs SMTPUTF8");
	else if (sender)
		session_reply_error(s, "501 5.1.7 Bad sender address syntax");
	else
		session_reply_error(s, "501 5.1.3 Bad recipient address syntax");
}

/* Split "FROM:" / "TO:" off a MAIL/RCPT argument; NULL when missing. */
static char *
after_keyword(char *args, const char *kw)
{
	size_t n = strlen(kw);

	if (strncasecmp(args, kw, n) != 0)
		return NULL;
	return skip_sp(args + n);
}

/* MAIL FROM:<path> [params]. */
static void
cmd_mail(struct session *s, char *args)
{
	char *p = after_keyword(args, "FROM:");
	enum smtp_addr_err e;
	size_t used;

	if (s->p.tls_required && !s->tls_active) {
		session_reply_error(s, "530 5.7.0 Must issue a STARTTLS command first");
		return;
	}
	if (p == NULL) {
		session_reply_error(s, "501 5.5.4 Syntax: MAIL FROM:<address>");
		return;
	}
	e = smtp_addr_parse_path(p, strlen(p), SMTP_ADDR_ALLOW_NULL | SMTP_ADDR_UTF8,
	    s->t.mail_from, sizeof(s->t.mail_from), &used);
	if (e != SMTP_ADDR_OK) {
		s->t.mail_from[0] = '\0';
		session_refusal_path(s, p);
		addr_error(s, e, true);
		return;
	}
	s->from_set = true;
	util_strlcpy(s->cmd_addr, s->t.mail_from, sizeof(s->cmd_addr));
	if (p[used] != '\0' && p[used] != ' ') {
		session_reply_error(s, "501 5.5.4 Syntax: MAIL FROM:<address>");
		return;
	}
	if (!mail_params(s, p + used)) {
		session_txn_reset(s);
		return;
	}
	if (!s->t.smtputf8 && has_8bit(s->t.mail_from)) {
		session_txn_reset(s);
		addr_error(s, SMTP_ADDR_NEED_UTF8, true);
		return;
	}
	if (s->p.mail_check != NULL && s->p.mail_check(s->p.arg) != SESSION_RCPT_OK) {
		session_txn_reset(s);
		session_reply_error(s, "452 4.3.1 Insufficient system storage");
		return;
	}
	s->state = ST_MAIL;
	session_reply(s, "250 2.1.0 Ok");
}

/* ---- RCPT ---- */

/* true when addr is already a recipient (compared case-insensitively). */
static bool
rcpt_known(const struct txn *t, const char *addr)
{
	size_t i;

	for (i = 0; i < t->nrcpts; i++)
		if (strcasecmp(t->rcpts[i], addr) == 0)
			return true;
	return false;
}

/* Add an accepted recipient. */
static void
rcpt_add(struct txn *t, const char *addr)
{
	t->rcpts = xrealloc(t->rcpts, (t->nrcpts + 1) * sizeof(*t->rcpts));
	t->rcpts[t->nrcpts++] = xstrdup(addr);
}

/* Reply to a refused recipient (rcpt_check's answer); false when none. */
static bool
rcpt_refused(struct session *s, int why)
{
	switch (why) {
	case SESSION_RCPT_OK:
		return false;
	case SESSION_RCPT_FULL:
		session_reply_error(s, "452 4.2.2 Mailbox full");
		break;
	case SESSION_RCPT_NOSPACE:
		session_reply_error(s, "452 4.3.1 Insufficient system storage");
		break;
	default:
		session_reply_error(s,
		    "550 5.1.1 Recipient address rejected: User unknown");
		break;
	}
	return true;
}

/* RCPT TO:<path>, checked against the map at once (never an open relay);
 * kept with its quotes dropped where they change nothing. */
static void
cmd_rcpt(struct session *s, char *args)
{
	char *p = after_keyword(args, "TO:");
	char addr[SMTP_ADDR_MAX + 1], parsed[SMTP_ADDR_MAX + 1];
	unsigned flags = SMTP_ADDR_POSTMASTER_OK;
	enum smtp_addr_err e;
	size_t used;

	if (p == NULL) {
		session_reply_error(s, "501 5.5.4 Syntax: RCPT TO:<address>");
		return;
	}
	if (s->t.smtputf8)
		flags |= SMTP_ADDR_UTF8;
	e = smtp_addr_parse_path(p, strlen(p), flags, parsed, sizeof(parsed), &used);
	if (e != SMTP_ADDR_OK) {
		session_refusal_path(s, p);
		addr_error(s, e, false);
		return;
	}
	smtp_addr_unquote(parsed, addr, sizeof(addr));
	util_strlcpy(s->cmd_addr, parsed, sizeof(s->cmd_addr));
	if (p[used] != '\0' && p[used] != ' ') {
		session_reply_error(s, "501 5.5.4 Syntax: RCPT TO:<address>");
		return;
	}
	if (*skip_sp(p + used) != '\0') {
		session_reply_error(s, "555 5.5.4 Unsupported parameter");
		return;
	}
	if (s->p.max_recipients != 0 && s->t.nrcpts >= s->p.max_recipients &&
	    !rcpt_known(&s->t, addr)) {
		session_reply_error(s, "452 4.5.3 Error: too many recipients");
		return;
	}
	if (s->p.rcpt_check != NULL && rcpt_refused(s, s->p.rcpt_check(s->p.arg, addr)))
		return;
	if (!rcpt_known(&s->t, addr))
		rcpt_add(&s->t, addr);
	s->state = ST_RCPT;
	session_reply(s, "250 2.1.5 Ok");
}

/* ---- the small commands ---- */

/* RSET: forget the transaction. */
static void
cmd_rset(struct session *s, char *args)
{
	if (*args != '\0') {
		session_reply_error(s, "501 5.5.4 Syntax: RSET");
		return;
	}
	session_txn_reset(s);
	session_reply(s, "250 2.0.0 Ok");
}

/* NOOP (an argument is allowed and ignored, RFC 5321 4.1.1.9). */
static void
cmd_noop(struct session *s, char *args)
{
	session_reply(s, "250 2.0.0 Ok");
}

/* QUIT: say goodbye and close. */
static void
cmd_quit(struct session *s, char *args)
{
	session_reply(s, "221 2.0.0 Bye");
	session_close(s);
}

/* VRFY: never reveals the map (252, RFC 5321 3.5.3). */
static void
cmd_vrfy(struct session *s, char *args)
{
	if (*args == '\0') {
		session_reply_error(s, "501 5.5.4 Syntax: VRFY address");
		return;
	}
	session_reply(s,
	    "252 2.5.0 Cannot VRFY user, but will accept message for valid recipients");
}

/* HELP: the verbs we know. */
static void
cmd_help(struct session *s, char *args)
{
	session_reply(s,
	    "214 2.0.0 Commands: EHLO HELO MAIL RCPT DATA BDAT RSET NOOP QUIT VRFY HELP STARTTLS");
}

/* STARTTLS: 220 and an event; nothing after this line is consumed. */
static void
cmd_starttls(struct session *s, char *args)
{
	if (*args != '\0') {
		session_reply_error(s, "501 5.5.4 Syntax: STARTTLS");
		return;
	}
	if (s->tls_active) {
		session_reply_error(s, "503 5.5.1 Error: TLS already active");
		return;
	}
	if (!s->p.tls_available) {
		session_reply_error(s, "454 4.7.0 TLS not available");
		return;
	}
	session_reply(s, "220 2.0.0 Ready to start TLS");
	s->ev = SESSION_EV_STARTTLS;
}

/* ---- command dispatch ---- */

/* The 503 text for a verb used in the wrong state. */
static const char *
sequence_text(const struct session *s, const struct command *c)
{
	if (s->state == ST_GREET)
		return "send HELO/EHLO first";
	if (s->state == ST_BDAT)
		return "BDAT sequence in progress";
	if (strcmp(c->verb, "MAIL") == 0)
		return "nested MAIL command";
	if (strcmp(c->verb, "STARTTLS") == 0)
		return "MAIL transaction in progress";
	return "need MAIL command";
}

/* Find a verb's table row (case-insensitive), or NULL. */
static const struct command *
command_find(const char *verb, size_t n)
{
	size_t i;

	for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (strlen(commands[i].verb) == n &&
		    strncasecmp(commands[i].verb, verb, n) == 0)
			return &commands[i];
	return NULL;
}

/* true when a command line holds a control byte (CR, NUL, ...). */
static bool
line_has_ctl(const char *line, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		if ((unsigned char)line[i] < 0x20 || line[i] == 0x7f)
			return true;
	return false;
}

/* Execute one complete command line (terminator removed). */
static void
command_line(struct session *s, const char *line, size_t len)
{
	char *buf = s->cmd;
	const struct command *c;
	size_t vlen;
	char *args;

	session_refusal_verb(s, "-", 1, false);
	if (line_has_ctl(line, len)) {
		session_note(s, "reject=control-char-in-command");
		session_reply_error(s, "500 5.5.2 Error: invalid characters in command");
		return;
	}
	memcpy(buf, line, len);
	buf[len] = '\0';
	while (len > 0 && buf[len - 1] == ' ')
		buf[--len] = '\0';
	vlen = strcspn(buf, " ");
	c = command_find(buf, vlen);
	session_refusal_verb(s, c != NULL ? c->verb : buf, c != NULL ? strlen(c->verb) : vlen,
	    c == NULL);
	if (c == NULL) {
		session_reply_error(s, "500 5.5.2 Error: command not recognized");
		return;
	}
	if (!(c->states & s->state)) {
		session_reply_error(s, "503 5.5.1 Error: %s", sequence_text(s, c));
		return;
	}
	args = skip_sp(buf + vlen);
	c->fn(s, args);
}

/* Split the next command line off buf; returns bytes consumed. */
static size_t
feed_command(struct session *s, const char *buf, size_t len)
{
	size_t line_len, used;
	bool bare_lf;

	switch (linebuf_next(&s->lb, buf, len, &line_len, &used, &bare_lf)) {
	case LINEBUF_TOO_LONG:
		session_refusal_verb(s, "-", 1, false);
		session_note(s, "reject=line-too-long");
		session_reply_error(s, "500 5.5.2 Error: line too long");
		break;
	case LINEBUF_LINE:
		s->lines++;
		if (bare_lf) {
			session_refusal_verb(s, "-", 1, false);
			session_note(s, "reject=bare-lf-in-command");
			session_reply_error(s, "500 5.5.2 Error: bare LF not allowed");
		} else
			command_line(s, buf, line_len);
		break;
	case LINEBUF_NEED_MORE:
		break;
	}
	return used;
}

/* ---- public interface ---- */

/* A new session; the params are copied (hostname too). */
struct session *
session_new(const struct session_params *p)
{
	struct session *s = xcalloc(1, sizeof(*s));

	s->p = *p;
	s->hostname = xstrdup(p->hostname != NULL ? p->hostname : util_hostname());
	s->p.hostname = s->hostname;
	if (s->p.max_line < 512)
		s->p.max_line = 512;	/* RFC 5321 4.5.3.1.4 minimum */
	linebuf_init(&s->lb, s->p.max_line);
	s->cmd = xmalloc(s->p.max_line + 1);
	s->state = ST_GREET;
	s->phase = PH_NEW;
	return s;
}

/* Free everything, including a body nobody took. */
void
session_free(struct session *s)
{
	if (s == NULL)
		return;
	session_txn_reset(s);
	strbuf_free(&s->out);
	free(s->cmd);
	free(s->hostname);
	free(s);
}

/* Queue the greeting or a refusal (which also closes). */
void
session_greet(struct session *s, enum session_greeting how)
{
	session_refusal_verb(s, "connect", 7, false);
	switch (how) {
	case SESSION_GREET_OK:
		session_reply(s, "220 %s ESMTP smtpgate", s->hostname);
		s->phase = PH_CMD;
		return;
	case SESSION_GREET_DENIED:
		session_reply(s, "554 5.7.1 %s Access denied", s->hostname);
		break;
	case SESSION_GREET_BUSY:
		session_reply(s, "421 4.7.0 %s Too many connections, try again later",
		    s->hostname);
		break;
	case SESSION_GREET_NOMEM:
		session_reply(s, "421 4.3.2 %s Insufficient resources, try again later",
		    s->hostname);
		break;
	case SESSION_GREET_EARLY:
		session_note(s, "reject=early-talker");
		session_reply(s, "554 5.5.1 %s Protocol error: input before greeting",
		    s->hostname);
		break;
	}
	session_close(s);
}

/* Feed client bytes; returns how many were consumed (see session.h). */
size_t
session_feed(struct session *s, const char *buf, size_t len)
{
	size_t used = 0, n;

	if (s->phase == PH_NEW && len > 0)
		session_greet(s, SESSION_GREET_EARLY);
	while (used < len && s->ev == SESSION_EV_NONE) {
		switch (s->phase) {
		case PH_CMD:
			n = feed_command(s, buf + used, len - used);
			break;
		case PH_DATA:
			n = session_feed_data(s, buf + used, len - used);
			break;
		case PH_BDAT:
			n = session_feed_bdat(s, buf + used, len - used);
			break;
		default:
			return used;
		}
		if (n == 0)
			break;
		used += n;
	}
	return used;
}

/* The pending event. */
enum session_event
session_event(const struct session *s)
{
	return s->ev;
}

/* Reply bytes waiting to be sent. */
const char *
session_output(const struct session *s, size_t *len)
{
	*len = s->out.len - s->out_off;
	return s->out.p != NULL ? s->out.p + s->out_off : "";
}

/* Mark n reply bytes as sent. */
void
session_output_drain(struct session *s, size_t n)
{
	if (n > s->out.len - s->out_off)
		n = s->out.len - s->out_off;
	s->out_off += n;
	if (s->out_off == s->out.len) {
		s->out_off = 0;
		strbuf_reset(&s->out);
	}
}

/* The pending message, or NULL. */
const struct session_message *
session_message(const struct session *s)
{
	return s->ev == SESSION_EV_MESSAGE ? &s->msg : NULL;
}

/* The delivery outcome: reply, end the transaction, resume input. */
void
session_delivered(struct session *s, enum session_delivery result, const char *queue_id)
{
	if (s->ev != SESSION_EV_MESSAGE)
		return;
	switch (result) {
	case SESSION_DELIVERED:
		session_reply(s, "250 2.0.0 Ok: queued as %s",
		    queue_id != NULL ? queue_id : "?");
		break;
	case SESSION_TEMPFAIL:
		session_reply(s,
		    "451 4.3.0 Error: local error in processing, try again later");
		break;
	case SESSION_DISKFULL:
		session_reply(s, "452 4.3.1 Insufficient system storage");
		break;
	}
	session_txn_reset(s);
	s->phase = PH_CMD;
	s->ev = SESSION_EV_NONE;
}

/* TLS is up: start over without HELO (RFC 3207 4.2). */
void
session_tls_started(struct session *s)
{
	session_txn_reset(s);
	s->state = ST_GREET;
	s->helo[0] = '\0';
	s->esmtp = false;
	s->tls_active = true;
	s->phase = PH_CMD;
	s->ev = SESSION_EV_NONE;
	linebuf_init(&s->lb, s->p.max_line);
}

/* The command/data timer fired. */
void
session_timeout(struct session *s)
{
	session_refusal_verb(s, "-", 1, false);
	session_note(s, "reject=timeout");
	session_reply(s, "421 4.4.2 %s Error: timeout exceeded", s->hostname);
	session_close(s);
}

/* The daemon is stopping. */
void
session_shutdown(struct session *s)
{
	session_refusal_verb(s, "-", 1, false);
	session_reply(s, "421 4.3.2 %s Service shutting down", s->hostname);
	session_close(s);
}

/* true inside DATA or a BDAT sequence. */
bool
session_in_data(const struct session *s)
{
	return s->phase == PH_DATA || s->phase == PH_BDAT || s->state == ST_BDAT ||
	    s->ev == SESSION_EV_MESSAGE;
}

/* The current transaction's SIZE= (0 when not given). */
uint64_t
session_size_hint(const struct session *s)
{
	return s->t.size_hint;
}

/* Client errors so far. */
unsigned
session_errors(const struct session *s)
{
	return s->errors;
}

/* true once STARTTLS succeeded. */
bool
session_tls_active(const struct session *s)
{
	return s->tls_active;
}

/* Command lines completed so far (the edge restarts its deadline on each). */
unsigned long
session_lines(const struct session *s)
{
	return s->lines;
}
