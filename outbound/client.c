/*
 * client: the outbound SMTP client state machine (see client.h).  Server
 * bytes in, commands and events out; it never touches sockets, TLS
 * libraries, the clock or the spool, and it never sees the message body.
 *
 * How the edge (relay.c) drives it:
 *  - client_feed() consumes server bytes and stops right after the reply
 *    that raised an event; after the edge acts on an event (send_message,
 *    ack_done, body_sent, tls_started) it should feed the still-unread
 *    input again.  While an event waits for the edge (STARTTLS, BODY,
 *    DONE) client_feed() consumes nothing; after FAILED or CLOSED it
 *    discards everything.
 *  - After every call, client_output() may hold commands to send.  On
 *    CLIENT_EV_FAILED the output may still hold a polite QUIT: flush it,
 *    then close.
 *  - A connection failure in the middle of a transaction (421, malformed
 *    reply, a refused RSET) first raises CLIENT_EV_DONE with every
 *    undecided recipient TEMPFAIL, and client_ack_done() then raises
 *    CLIENT_EV_FAILED.  So after client_ack_done() look at client_event().
 *
 * Every recipient refused but DATA answered 354 (possible when pipelining):
 * RFC 2920 section 3.1 says the client SHOULD then send a single dot.  We
 * do exactly that: the body is never sent, the server sees an empty DATA
 * with no valid recipients (which it must refuse), its reply is read and
 * otherwise ignored (each recipient keeps its RCPT reply), and the
 * connection stays usable.  We do not send the body and do not drop the
 * connection mid-DATA.
 *
 * The transaction (MAIL, RCPT, DATA, the results) is client_txn.c; what
 * the two share is client_int.h.
 *
 * The password is only ever written into the AUTH command bytes; it never
 * appears in a failure or result text, and drained output is wiped.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base64.h"
#include "client.h"
#include "client_int.h"
#include "reply.h"
#include "strbuf.h"
#include "log.h"
#include "util.h"

/* Append the base64 encoding of s[0..n) to the output (the scratch copy
 * of the credentials is wiped). */
static void
out_base64(struct client *c, const unsigned char *s, size_t n)
{
	size_t cap = BASE64_LEN(n) + 1;
	char *b64 = xmalloc(cap);
	size_t len = base64_encode(s, n, b64);

	strbuf_add(&c->out, b64, len);
	explicit_bzero(b64, cap);
	free(b64);
}

/* The name of the current step, for failure reports. */
static const char *
stage_name(const struct client *c)
{
	static const char *const cmd_names[] = { "rset", "mail", "rcpt", "data" };

	switch (c->st) {
	case ST_GREETING:
		return "greeting";
	case ST_EHLO:
		return "ehlo";
	case ST_HELO:
		return "helo";
	case ST_STARTTLS:
	case ST_TLS_WAIT:
		return "starttls";
	case ST_AUTH_PLAIN:
	case ST_AUTH_LOGIN_USER:
	case ST_AUTH_LOGIN_PASS:
	case ST_AUTH_LOGIN_DONE:
		return "auth";
	case ST_TXN:
		if (c->next_reply < c->ncmds)
			return cmd_names[c->cmds[c->next_reply].kind];
		return "data";
	case ST_BODY:
	case ST_DATA_END:
		return "data";
	case ST_QUIT:
		return "quit";
	default:
		return "idle";
	}
}

/* The current reply, printable and capped. */
const char *
client_cur_reply(const struct client *c, char *buf)
{
	return reply_printable(c->rp, buf, CLIENT_REPLY_MAX);
}

/*
 * The connection is unusable.  Record why, optionally queue a polite QUIT,
 * and raise EV_FAILED, or EV_DONE first when a transaction is open.
 */
static void
fail(struct client *c, bool temporary, int code, const char *text, bool quit)
{
	c->fail.temporary = temporary;
	c->fail.code = code;
	c->fail.stage = stage_name(c);
	util_strlcpy(c->fail.reply, text, sizeof(c->fail.reply));
	if (quit)
		strbuf_printf(&c->out, "QUIT\r\n");
	if (client_in_txn(c)) {
		client_rcpt_decide_open(c, true, CLIENT_RCPT_TEMPFAIL, code, text);
		c->fail_after_done = true;
		client_txn_finish(c);
		return;
	}
	c->st = ST_FAILED;
	c->ev = CLIENT_EV_FAILED;
}

/* Fail with the current reply; 5xx is permanent unless forced temporary. */
void
client_fail_reply(struct client *c, bool force_temporary, bool quit)
{
	char buf[CLIENT_REPLY_MAX];
	int code = reply_code(c->rp);

	fail(c, force_temporary || code / 100 != 5, code, client_cur_reply(c, buf), quit);
}

/* Become READY. */
void
client_go_ready(struct client *c)
{
	c->st = ST_READY;
	c->ev = CLIENT_EV_READY;
}

/* Send EHLO with a clean slate of capabilities. */
static void
send_ehlo(struct client *c)
{
	memset(&c->caps, 0, sizeof(c->caps));
	strbuf_printf(&c->out, "EHLO %s\r\n", c->helo_name);
	c->st = ST_EHLO;
}

/* Parse "SIZE [n]": n in decimal, 0 when absent or unreadable. */
static uint64_t
parse_size(const char *s)
{
	uint64_t v = 0;

	while (*s == ' ')
		s++;
	for (; *s >= '0' && *s <= '9'; s++) {
		if (v > (UINT64_MAX - 9) / 10)
			return 0;
		v = v * 10 + (uint64_t)(*s - '0');
	}
	return *s == '\0' || *s == ' ' ? v : 0;
}

/* Parse the mechanisms after "AUTH" or "AUTH=". */
static void
parse_auth(struct client *c, char *s)
{
	char *tok, *save = NULL;

	for (tok = strtok_r(s, " ", &save); tok != NULL; tok = strtok_r(NULL, " ", &save)) {
		if (strcasecmp(tok, "PLAIN") == 0)
			c->caps.auth_plain = true;
		else if (strcasecmp(tok, "LOGIN") == 0)
			c->caps.auth_login = true;
	}
}

/* Parse one EHLO capability line. */
static void
parse_cap(struct client *c, const char *text, size_t len)
{
	char line[512];
	size_t kw;

	if (len >= sizeof(line))
		len = sizeof(line) - 1;
	memcpy(line, text, len);
	line[len] = '\0';
	kw = strcspn(line, " =");
	if (kw == 4 && strncasecmp(line, "AUTH", 4) == 0)
		parse_auth(c, line + 4 + (line[4] != '\0'));
	else if (kw == 4 && strncasecmp(line, "SIZE", 4) == 0) {
		c->caps.size = true;
		c->caps.size_limit = parse_size(line + 4);
	} else if (strcasecmp(line, "PIPELINING") == 0)
		c->caps.pipelining = true;
	else if (strcasecmp(line, "STARTTLS") == 0)
		c->caps.starttls = true;
	else if (strcasecmp(line, "8BITMIME") == 0)
		c->caps.eightbitmime = true;
	else if (strcasecmp(line, "SMTPUTF8") == 0)
		c->caps.smtputf8 = true;
	else if (strcasecmp(line, "ENHANCEDSTATUSCODES") == 0)
		c->caps.enhanced = true;
}

/* Start AUTH when configured: never without TLS. */
static void
start_auth(struct client *c)
{
	size_t ul, pl;
	unsigned char *blob;

	if (c->auth_user == NULL) {
		client_go_ready(c);
		return;
	}
	if (!c->tls_active) {
		c->st = ST_AUTH_PLAIN;	/* for the stage name */
		fail(c, true, 0, "AUTH configured but TLS is not active; credentials not sent", true);
		return;
	}
	if (c->caps.auth_plain) {
		ul = strlen(c->auth_user);
		pl = strlen(c->auth_password);
		blob = xmalloc(ul + pl + 2);
		blob[0] = '\0';
		memcpy(blob + 1, c->auth_user, ul);
		blob[ul + 1] = '\0';
		memcpy(blob + ul + 2, c->auth_password, pl);
		strbuf_printf(&c->out, "AUTH PLAIN ");
		out_base64(c, blob, ul + pl + 2);
		strbuf_add(&c->out, "\r\n", 2);
		explicit_bzero(blob, ul + pl + 2);
		free(blob);
		c->st = ST_AUTH_PLAIN;
	} else if (c->caps.auth_login) {
		strbuf_printf(&c->out, "AUTH LOGIN\r\n");
		c->st = ST_AUTH_LOGIN_USER;
	} else {
		c->st = ST_AUTH_PLAIN;
		fail(c, true, 0, "the server offers neither AUTH PLAIN nor AUTH LOGIN", true);
	}
}

/* After EHLO/HELO succeeded: STARTTLS per the TLS mode, then AUTH. */
static void
after_hello(struct client *c)
{
	bool required = c->tls == SMARTHOST_TLS_STARTTLS || c->tls == SMARTHOST_TLS_IMPLICIT;

	if (!c->tls_active && required) {
		if (!c->caps.starttls || c->tls == SMARTHOST_TLS_IMPLICIT) {
			c->st = ST_STARTTLS;
			fail(c, true, 0, "TLS required but not offered by the server", true);
			return;
		}
	}
	if (!c->tls_active && c->caps.starttls && c->tls != SMARTHOST_TLS_NONE) {
		strbuf_printf(&c->out, "STARTTLS\r\n");
		c->st = ST_STARTTLS;
		return;
	}
	start_auth(c);
}

/* The reply to the greeting: 220 or give up (with QUIT). */
static void
on_greeting(struct client *c, int code)
{
	if (code == 220)
		send_ehlo(c);
	else
		client_fail_reply(c, true, true);
}

/* The reply to EHLO: capabilities, or HELO when that cannot downgrade. */
static void
on_ehlo(struct client *c, int code)
{
	size_t i, len;
	const char *text;

	if (code / 100 == 2) {
		for (i = 1; i < reply_nlines(c->rp); i++) {
			text = reply_line(c->rp, i, &len);
			parse_cap(c, text, len);
		}
		after_hello(c);
	} else if (code / 100 == 5 &&
	    (c->tls_active || c->tls == SMARTHOST_TLS_NONE ||
	    c->tls == SMARTHOST_TLS_OPPORTUNISTIC)) {
		strbuf_printf(&c->out, "HELO %s\r\n", c->helo_name);
		c->st = ST_HELO;
	} else
		client_fail_reply(c, false, true);
}

/* The reply to HELO: no extensions at all. */
static void
on_helo(struct client *c, int code)
{
	if (code / 100 == 2)
		after_hello(c);
	else
		client_fail_reply(c, false, true);
}

/* The reply to STARTTLS: 220 hands over to the edge; no downgrade unless
 * TLS is merely opportunistic. */
static void
on_starttls(struct client *c, int code)
{
	if (code == 220) {
		c->st = ST_TLS_WAIT;
		c->ev = CLIENT_EV_STARTTLS;
	} else if (c->tls == SMARTHOST_TLS_OPPORTUNISTIC)
		start_auth(c);
	else
		client_fail_reply(c, true, true);
}

/* The replies of the AUTH exchange. */
static void
on_auth(struct client *c, int code)
{
	const char *s;

	if (code / 100 == 2) {
		client_go_ready(c);
	} else if (code == 334 && c->st == ST_AUTH_LOGIN_USER) {
		s = c->auth_user;
		out_base64(c, (const unsigned char *)s, strlen(s));
		strbuf_add(&c->out, "\r\n", 2);
		c->st = ST_AUTH_LOGIN_PASS;
	} else if (code == 334 && c->st == ST_AUTH_LOGIN_PASS) {
		s = c->auth_password;
		out_base64(c, (const unsigned char *)s, strlen(s));
		strbuf_add(&c->out, "\r\n", 2);
		c->st = ST_AUTH_LOGIN_DONE;
	} else if (code == 334) {
		/* more challenges than PLAIN/LOGIN have: a QUIT now would be
		 * read as a SASL response, so just go */
		client_fail_reply(c, true, false);
	} else
		client_fail_reply(c, false, true);
}

/* Dispatch one complete reply by state. */
static void
on_reply(struct client *c)
{
	int code = reply_code(c->rp);

	if (c->st == ST_GREETING) {
		on_greeting(c, code);
		return;
	}
	if (c->st == ST_QUIT) {
		c->st = ST_CLOSED;
		c->ev = CLIENT_EV_CLOSED;
		return;
	}
	if (code == 421) {		/* the server is closing: any state */
		client_fail_reply(c, true, false);
		return;
	}
	switch (c->st) {
	case ST_EHLO:
		on_ehlo(c, code);
		break;
	case ST_HELO:
		on_helo(c, code);
		break;
	case ST_STARTTLS:
		on_starttls(c, code);
		break;
	case ST_AUTH_PLAIN:
	case ST_AUTH_LOGIN_USER:
	case ST_AUTH_LOGIN_PASS:
	case ST_AUTH_LOGIN_DONE:
		on_auth(c, code);
		break;
	case ST_TXN:
		client_on_txn(c, code);
		break;
	case ST_DATA_END:
		client_on_data_end(c, code);
		break;
	default:			/* unsolicited (e.g. in READY) */
		client_fail_reply(c, true, true);
		break;
	}
}

/* A malformed reply: the stream cannot be trusted any more. */
static void
on_malformed(struct client *c)
{
	char text[CLIENT_REPLY_MAX];

	if (c->st == ST_QUIT) {
		c->st = ST_CLOSED;
		c->ev = CLIENT_EV_CLOSED;
		return;
	}
	snprintf(text, sizeof(text), "malformed reply from the server: %s",
	    reply_error_string(reply_error(c->rp)));
	fail(c, true, 0, text, false);
}

/* Create a client; it waits for the greeting. */
struct client *
client_new(const struct client_params *p, bool implicit_tls)
{
	struct client *c = xcalloc(1, sizeof(*c));

	c->helo_name = xstrdup(p->helo_name != NULL ? p->helo_name : util_hostname());
	if (p->auth_user != NULL) {
		c->auth_user = xstrdup(p->auth_user);
		c->auth_password = xstrdup(p->auth_password != NULL ? p->auth_password : "");
	}
	c->tls = p->tls;
	c->rp = reply_parser_new(p->max_reply, 0);
	c->tls_active = implicit_tls;
	c->st = ST_GREETING;
	c->ev = CLIENT_EV_NONE;
	return c;
}

/* Free a client, wiping the secrets. */
void
client_free(struct client *c)
{
	if (c == NULL)
		return;
	client_txn_free(c);
	if (c->auth_password != NULL)
		explicit_bzero(c->auth_password, strlen(c->auth_password));
	if (c->out.p != NULL)
		explicit_bzero(c->out.p, c->out.cap);
	free(c->auth_password);
	free(c->auth_user);
	free(c->helo_name);
	free(c->out.p);
	reply_parser_free(c->rp);
	free(c);
}

/* Feed server bytes (see the top of this file). */
size_t
client_feed(struct client *c, const char *buf, size_t len)
{
	enum reply_status r;
	size_t off = 0, used;

	if (c->st == ST_FAILED || c->st == ST_CLOSED)
		return len;
	if (c->st == ST_BODY || c->st == ST_TLS_WAIT || c->st == ST_DONE)
		return 0;
	while (off < len) {
		r = reply_feed(c->rp, buf + off, len - off, &used);
		if (r == REPLY_ERROR) {
			on_malformed(c);
			return len;
		}
		off += used;
		if (r == REPLY_NEED_MORE)
			break;
		if (c->ev == CLIENT_EV_READY)
			c->ev = CLIENT_EV_NONE;
		on_reply(c);
		if (c->ev != CLIENT_EV_NONE)
			break;
	}
	return off;
}

/* The pending event. */
enum client_event
client_event(const struct client *c)
{
	return c->ev;
}

/* Which RFC 5321 4.5.3.2 timeout applies now. */
enum client_stage
client_stage(const struct client *c)
{
	switch (c->st) {
	case ST_GREETING:
		return CLIENT_STAGE_GREETING;
	case ST_TXN:
		if (c->next_reply < c->ncmds && c->cmds[c->next_reply].kind == CMD_DATA)
			return CLIENT_STAGE_DATA_INIT;
		return CLIENT_STAGE_COMMAND;
	case ST_BODY:
		return CLIENT_STAGE_DATA_BLOCK;
	case ST_DATA_END:
		return CLIENT_STAGE_DATA_END;
	case ST_READY:
	case ST_DONE:
	case ST_FAILED:
	case ST_CLOSED:
		return CLIENT_STAGE_IDLE;
	default:
		return CLIENT_STAGE_COMMAND;
	}
}

/* Command bytes to send. */
const char *
client_output(const struct client *c, size_t *len)
{
	*len = c->out.len;
	return c->out.len > 0 ? c->out.p : "";
}

/* n output bytes were sent; wipe them (they may hold AUTH secrets). */
void
client_output_drain(struct client *c, size_t n)
{
	if (n > c->out.len)
		n = c->out.len;
	if (n == 0)
		return;
	memmove(c->out.p, c->out.p + n, c->out.len - n);
	c->out.len -= n;
	explicit_bzero(c->out.p + c->out.len, n);
}

/* TLS is up: forget everything learnt in clear and say EHLO again. */
void
client_tls_started(struct client *c)
{
	if (c->st != ST_TLS_WAIT)
		return;
	c->tls_active = true;
	c->ev = CLIENT_EV_NONE;
	reply_parser_reset(c->rp);
	send_ehlo(c);
}

/* Say goodbye. */
void
client_quit(struct client *c)
{
	if (c->st != ST_READY)
		return;
	strbuf_printf(&c->out, "QUIT\r\n");
	c->st = ST_QUIT;
	c->ev = CLIENT_EV_NONE;
}

/* Why the connection failed. */
const struct client_failure *
client_failure(const struct client *c)
{
	return &c->fail;
}

/* PIPELINING in the last EHLO. */
bool
client_has_pipelining(const struct client *c)
{
	return c->caps.pipelining;
}

/* SIZE limit in the last EHLO; 0 = none. */
uint64_t
client_size_limit(const struct client *c)
{
	return c->caps.size_limit;
}

/* Is the connection encrypted? */
bool
client_tls_active(const struct client *c)
{
	return c->tls_active;
}
