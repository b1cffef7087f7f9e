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
#include "reply.h"
#include "strbuf.h"
#include "log.h"
#include "util.h"

enum cstate {
	ST_GREETING,
	ST_EHLO,
	ST_HELO,
	ST_STARTTLS,
	ST_TLS_WAIT,		/* EV_STARTTLS raised; handshake at the edge */
	ST_AUTH_PLAIN,
	ST_AUTH_LOGIN_USER,	/* "AUTH LOGIN" sent, wants 334 */
	ST_AUTH_LOGIN_PASS,	/* user name sent, wants 334 */
	ST_AUTH_LOGIN_DONE,	/* password sent, wants 235 */
	ST_READY,
	ST_TXN,			/* RSET/MAIL/RCPT/DATA replies outstanding */
	ST_BODY,		/* EV_BODY raised; the edge streams the body */
	ST_DATA_END,		/* waiting for the reply to "." */
	ST_DONE,		/* EV_DONE raised; waiting for client_ack_done */
	ST_QUIT,
	ST_FAILED,
	ST_CLOSED,
};

enum cmd_kind { CMD_RSET, CMD_MAIL, CMD_RCPT, CMD_DATA };

/* One command of a transaction, built up front so it can be pipelined. */
struct txcmd {
	enum cmd_kind kind;
	size_t rcpt;		/* for CMD_RCPT: index into the results */
	char *line;		/* with CRLF */
};

enum rcpt_state { RS_UNDECIDED, RS_ACCEPTED, RS_FINAL };

/* What the last EHLO offered. */
struct caps {
	bool pipelining;
	bool starttls;
	bool eightbitmime;
	bool smtputf8;
	bool enhanced;
	bool size;		/* SIZE offered (maybe without a limit) */
	uint64_t size_limit;	/* 0: none */
	bool auth_plain;
	bool auth_login;
};

struct client {
	char *helo_name;
	char *auth_user;
	char *auth_password;
	enum smarthost_tls tls;
	struct reply_parser *rp;

	struct strbuf out;		/* commands to send (may hold AUTH secrets) */

	enum cstate st;
	enum client_event ev;
	bool tls_active;
	struct caps caps;

	/* the current transaction */
	struct txcmd *cmds;
	size_t ncmds;
	size_t next_send;
	size_t next_reply;
	struct client_rcpt_result *res;
	enum rcpt_state *rs;
	size_t nrcpts;
	size_t naccepted;
	bool mail_failed;	/* MAIL refused: later replies change nothing */
	bool lone_dot;		/* 354 with nobody accepted: "." sent alone */
	unsigned ntxn;		/* transactions started on this connection */
	bool fail_after_done;

	struct client_failure fail;
};

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

/* True while a transaction's recipients are still open. */
static bool
in_txn(const struct client *c)
{
	return c->st == ST_TXN || c->st == ST_BODY || c->st == ST_DATA_END;
}

/* Decide one recipient with a status, code and printable reply. */
static void
rcpt_decide(struct client *c, size_t i, enum client_rcpt_status status, int code,
    const char *text)
{
	c->res[i].status = status;
	c->res[i].code = code;
	util_strlcpy(c->res[i].reply, text, sizeof(c->res[i].reply));
	c->rs[i] = RS_FINAL;
}

/* Decide every recipient not yet final (accepted ones too when `all`). */
static void
rcpt_decide_open(struct client *c, bool accepted_too, enum client_rcpt_status status,
    int code, const char *text)
{
	size_t i;

	for (i = 0; i < c->nrcpts; i++) {
		if (c->rs[i] == RS_UNDECIDED ||
		    (accepted_too && c->rs[i] == RS_ACCEPTED))
			rcpt_decide(c, i, status, code, text);
	}
}

/* The status a reply code gives a recipient. */
static enum client_rcpt_status
status_of(int code)
{
	if (code / 100 == 2)
		return CLIENT_RCPT_DELIVERED;
	if (code / 100 == 5)
		return CLIENT_RCPT_PERMFAIL;
	return CLIENT_RCPT_TEMPFAIL;
}

/* The current reply, printable and capped. */
static const char *
cur_reply(const struct client *c, char *buf)
{
	return reply_printable(c->rp, buf, CLIENT_REPLY_MAX);
}

/* End the transaction: raise EV_DONE. */
static void
txn_finish(struct client *c)
{
	rcpt_decide_open(c, true, CLIENT_RCPT_TEMPFAIL, 0, "no final reply from the server");
	c->st = ST_DONE;
	c->ev = CLIENT_EV_DONE;
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
	if (in_txn(c)) {
		rcpt_decide_open(c, true, CLIENT_RCPT_TEMPFAIL, code, text);
		c->fail_after_done = true;
		txn_finish(c);
		return;
	}
	c->st = ST_FAILED;
	c->ev = CLIENT_EV_FAILED;
}

/* Fail with the current reply; 5xx is permanent unless forced temporary. */
static void
fail_reply(struct client *c, bool force_temporary, bool quit)
{
	char buf[CLIENT_REPLY_MAX];
	int code = reply_code(c->rp);

	fail(c, force_temporary || code / 100 != 5, code, cur_reply(c, buf), quit);
}

/* Become READY. */
static void
go_ready(struct client *c)
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
		go_ready(c);
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
		fail_reply(c, true, true);
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
		fail_reply(c, false, true);
}

/* The reply to HELO: no extensions at all. */
static void
on_helo(struct client *c, int code)
{
	if (code / 100 == 2)
		after_hello(c);
	else
		fail_reply(c, false, true);
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
		fail_reply(c, true, true);
}

/* The replies of the AUTH exchange. */
static void
on_auth(struct client *c, int code)
{
	const char *s;

	if (code / 100 == 2) {
		go_ready(c);
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
		fail_reply(c, true, false);
	} else
		fail_reply(c, false, true);
}

/* Send the next command of a non-pipelined transaction, or finish. */
static void
txn_next(struct client *c)
{
	if (c->next_reply < c->next_send)
		return;		/* replies still outstanding */
	if (c->mail_failed || c->next_send == c->ncmds ||
	    (c->cmds[c->next_send].kind == CMD_DATA && c->naccepted == 0)) {
		txn_finish(c);
		return;
	}
	strbuf_printf(&c->out, "%s", c->cmds[c->next_send].line);
	c->next_send++;
}

/* The reply to DATA inside a transaction. */
static void
on_data(struct client *c, int code)
{
	char buf[CLIENT_REPLY_MAX];

	if (code == 354 && c->naccepted > 0 && !c->mail_failed) {
		c->st = ST_BODY;
		c->ev = CLIENT_EV_BODY;
	} else if (code == 354) {
		strbuf_printf(&c->out, ".\r\n");	/* RFC 2920 3.1: a single dot */
		c->lone_dot = true;
		c->st = ST_DATA_END;
	} else if (code / 100 == 2 || code / 100 == 3) {
		fail_reply(c, true, false);	/* the server's state is unknown */
	} else {
		if (!c->mail_failed)
			rcpt_decide_open(c, true, status_of(code), code, cur_reply(c, buf));
		txn_finish(c);
	}
}

/* One reply inside a transaction (RSET, MAIL, RCPT, DATA). */
static void
on_txn(struct client *c, int code)
{
	const struct txcmd *cmd = &c->cmds[c->next_reply];
	char buf[CLIENT_REPLY_MAX];

	if (cmd->kind == CMD_DATA) {
		c->next_reply++;
		on_data(c, code);
		return;
	}
	if (cmd->kind == CMD_RSET && code / 100 != 2) {
		fail_reply(c, true, true);
		return;
	}
	c->next_reply++;
	if (cmd->kind == CMD_MAIL && code / 100 != 2) {
		rcpt_decide_open(c, false, code / 100 == 5 ? CLIENT_RCPT_PERMFAIL :
		    CLIENT_RCPT_TEMPFAIL, code, cur_reply(c, buf));
		c->mail_failed = true;
	} else if (cmd->kind == CMD_RCPT && !c->mail_failed) {
		if (code / 100 == 2) {
			c->rs[cmd->rcpt] = RS_ACCEPTED;
			c->naccepted++;
		} else
			rcpt_decide(c, cmd->rcpt, code / 100 == 5 ? CLIENT_RCPT_PERMFAIL :
			    CLIENT_RCPT_TEMPFAIL, code, cur_reply(c, buf));
	}
	txn_next(c);
}

/* The reply to the final "." (or to the lone dot). */
static void
on_data_end(struct client *c, int code)
{
	char buf[CLIENT_REPLY_MAX];

	if (c->lone_dot) {
		txn_finish(c);
		return;
	}
	if (code / 100 == 3) {
		fail_reply(c, true, false);
		return;
	}
	rcpt_decide_open(c, true, status_of(code), code, cur_reply(c, buf));
	txn_finish(c);
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
		fail_reply(c, true, false);
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
		on_txn(c, code);
		break;
	case ST_DATA_END:
		on_data_end(c, code);
		break;
	default:			/* unsolicited (e.g. in READY) */
		fail_reply(c, true, true);
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

/* Free the transaction's commands and results. */
static void
txn_free(struct client *c)
{
	size_t i;

	for (i = 0; i < c->ncmds; i++)
		free(c->cmds[i].line);
	free(c->cmds);
	free(c->res);
	free(c->rs);
	c->cmds = NULL;
	c->res = NULL;
	c->rs = NULL;
	c->ncmds = c->nrcpts = 0;
}

/* Free a client, wiping the secrets. */
void
client_free(struct client *c)
{
	if (c == NULL)
		return;
	txn_free(c);
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

/* True when an address is safe to put in a command. */
static bool
addr_ok(const char *a)
{
	for (; *a != '\0'; a++) {
		if ((unsigned char)*a < 0x20 || *a == 0x7f || *a == '<' || *a == '>')
			return false;
	}
	return true;
}

/* Add one command to the transaction. */
static void
txn_add(struct client *c, enum cmd_kind kind, size_t rcpt, char *line)
{
	c->cmds = xrealloc(c->cmds, (c->ncmds + 1) * sizeof(*c->cmds));
	c->cmds[c->ncmds].kind = kind;
	c->cmds[c->ncmds].rcpt = rcpt;
	c->cmds[c->ncmds].line = line;
	c->ncmds++;
}

/* Check what can be refused before anything is sent; false: refused. */
static bool
txn_precheck(struct client *c, const struct client_message *m)
{
	const char *why = NULL;
	int code = 0;

	if (!addr_ok(m->sender)) {
		code = 553;
		why = "5.1.7 invalid sender address";
	} else if (c->caps.size_limit != 0 && m->size > c->caps.size_limit) {
		code = 552;
		why = "5.3.4 message size exceeds the server's limit";
	} else if (m->smtputf8 && !c->caps.smtputf8) {
		code = 553;
		why = "5.6.7 SMTPUTF8 needed but not offered by the server";
	}
	if (why == NULL)
		return true;
	rcpt_decide_open(c, true, CLIENT_RCPT_PERMFAIL, code, why);
	return false;
}

/* Build RSET, MAIL, RCPT..., DATA for a message. */
static void
txn_build(struct client *c, const struct client_message *m)
{
	char size[32] = "";
	size_t i;

	if (c->ntxn > 0)
		txn_add(c, CMD_RSET, 0, xstrdup("RSET\r\n"));
	if (c->caps.size)
		snprintf(size, sizeof(size), " SIZE=%llu", (unsigned long long)m->size);
	txn_add(c, CMD_MAIL, 0, xasprintf("MAIL FROM:<%s>%s%s%s\r\n", m->sender, size,
	    m->eightbit && c->caps.eightbitmime ? " BODY=8BITMIME" : "",
	    m->smtputf8 ? " SMTPUTF8" : ""));
	for (i = 0; i < m->nrcpts; i++) {
		if (addr_ok(m->rcpts[i]) && m->rcpts[i][0] != '\0')
			txn_add(c, CMD_RCPT, i, xasprintf("RCPT TO:<%s>\r\n", m->rcpts[i]));
		else
			rcpt_decide(c, i, CLIENT_RCPT_PERMFAIL, 553,
			    "5.1.3 invalid recipient address");
	}
	txn_add(c, CMD_DATA, 0, xstrdup("DATA\r\n"));
}

/* Start a transaction (see client.h). */
int
client_send_message(struct client *c, const struct client_message *m)
{
	size_t i;

	if (c->st != ST_READY)
		return -1;
	txn_free(c);
	c->nrcpts = m->nrcpts;
	c->res = xcalloc(m->nrcpts > 0 ? m->nrcpts : 1, sizeof(*c->res));
	c->rs = xcalloc(m->nrcpts > 0 ? m->nrcpts : 1, sizeof(*c->rs));
	c->next_send = c->next_reply = c->naccepted = 0;
	c->mail_failed = c->lone_dot = c->fail_after_done = false;
	c->ev = CLIENT_EV_NONE;
	c->st = ST_DONE;
	if (m->nrcpts == 0 || !txn_precheck(c, m)) {
		c->ev = CLIENT_EV_DONE;
		return -1;
	}
	txn_build(c, m);
	if (c->ncmds == (c->ntxn > 0 ? 3u : 2u)) {	/* every recipient refused here */
		c->ev = CLIENT_EV_DONE;
		return -1;
	}
	c->ntxn++;
	c->st = ST_TXN;
	if (!c->caps.pipelining) {
		txn_next(c);
		return 0;
	}
	for (i = 0; i < c->ncmds; i++)
		strbuf_printf(&c->out, "%s", c->cmds[i].line);
	c->next_send = c->ncmds;
	return 0;
}

/* The body and its final dot were queued: wait for the final reply. */
void
client_body_sent(struct client *c)
{
	if (c->st != ST_BODY)
		return;
	c->st = ST_DATA_END;
	c->ev = CLIENT_EV_NONE;
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

/* Per-recipient results of the last message. */
const struct client_rcpt_result *
client_results(const struct client *c, size_t *n)
{
	*n = c->nrcpts;
	return c->res;
}

/* The edge has taken the results: back to READY (or to a pending failure). */
void
client_ack_done(struct client *c)
{
	if (c->st != ST_DONE)
		return;
	if (c->fail_after_done) {
		c->st = ST_FAILED;
		c->ev = CLIENT_EV_FAILED;
		return;
	}
	go_ready(c);
}

/* Why the connection failed. */
const struct client_failure *
client_failure(const struct client *c)
{
	return &c->fail;
}

/* No reply of the current transaction came (see client.h). */
bool
client_txn_unanswered(const struct client *c)
{
	if (c->ncmds == 0 || c->next_reply > 0)
		return false;
	return c->st == ST_TXN || (c->st == ST_DONE && c->fail_after_done);
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
