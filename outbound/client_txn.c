/*
 * client_txn: the transaction half of the SMTP client state machine (see
 * client.h and client.c): RSET, MAIL, RCPT..., DATA built up front and
 * sent pipelined or one by one, their replies, the per-recipient results.
 * Pure like client.c: no sockets, no clock, never the message body.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client.h"
#include "client_int.h"
#include "strbuf.h"
#include "util.h"

/* True while a transaction's recipients are still open. */
bool
client_in_txn(const struct client *c)
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
void
client_rcpt_decide_open(struct client *c, bool accepted_too,
    enum client_rcpt_status status, int code, const char *text)
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

/* End the transaction: raise EV_DONE. */
void
client_txn_finish(struct client *c)
{
	client_rcpt_decide_open(c, true, CLIENT_RCPT_TEMPFAIL, 0, "no final reply from the server");
	c->st = ST_DONE;
	c->ev = CLIENT_EV_DONE;
}

/* Send the next command of a non-pipelined transaction, or finish. */
static void
txn_next(struct client *c)
{
	if (c->next_reply < c->next_send)
		return;		/* replies still outstanding */
	if (c->mail_failed || c->next_send == c->ncmds ||
	    (c->cmds[c->next_send].kind == CMD_DATA && c->naccepted == 0)) {
		client_txn_finish(c);
		return;
	}
	strbuf_str(&c->out, c->cmds[c->next_send].line);
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
		strbuf_str(&c->out, ".\r\n");	/* RFC 2920 3.1: a single dot */
		c->lone_dot = true;
		c->st = ST_DATA_END;
	} else if (code / 100 == 2 || code / 100 == 3) {
		client_fail_reply(c, true, false);	/* the server's state is unknown */
	} else {
		if (!c->mail_failed)
			client_rcpt_decide_open(c, true, status_of(code), code, client_cur_reply(c, buf));
		client_txn_finish(c);
	}
}

/* One reply inside a transaction (RSET, MAIL, RCPT, DATA). */
void
client_on_txn(struct client *c, int code)
{
	const struct txcmd *cmd = &c->cmds[c->next_reply];
	char buf[CLIENT_REPLY_MAX];

	if (cmd->kind == CMD_DATA) {
		c->next_reply++;
		on_data(c, code);
		return;
	}
	if (cmd->kind == CMD_RSET && code / 100 != 2) {
		client_fail_reply(c, true, true);
		return;
	}
	c->next_reply++;
	if (cmd->kind == CMD_MAIL && code / 100 != 2) {
		client_rcpt_decide_open(c, false, code / 100 == 5 ? CLIENT_RCPT_PERMFAIL :
		    CLIENT_RCPT_TEMPFAIL, code, client_cur_reply(c, buf));
		c->mail_failed = true;
	} else if (cmd->kind == CMD_RCPT && !c->mail_failed) {
		if (code / 100 == 2) {
			c->rs[cmd->rcpt] = RS_ACCEPTED;
			c->naccepted++;
		} else
			rcpt_decide(c, cmd->rcpt, code / 100 == 5 ? CLIENT_RCPT_PERMFAIL :
			    CLIENT_RCPT_TEMPFAIL, code, client_cur_reply(c, buf));
	}
	txn_next(c);
}

/* The reply to the final "." (or to the lone dot). */
void
client_on_data_end(struct client *c, int code)
{
	char buf[CLIENT_REPLY_MAX];

	if (c->lone_dot) {
		client_txn_finish(c);
		return;
	}
	if (code / 100 == 3) {
		client_fail_reply(c, true, false);
		return;
	}
	client_rcpt_decide_open(c, true, status_of(code), code, client_cur_reply(c, buf));
	client_txn_finish(c);
}

/* Free the transaction's commands and results. */
void
client_txn_free(struct client *c)
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

/* Add one command to the transaction (c->cmds has room: txn_build). */
static void
txn_add(struct client *c, enum cmd_kind kind, size_t rcpt, char *line)
{
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
	client_rcpt_decide_open(c, true, CLIENT_RCPT_PERMFAIL, code, why);
	return false;
}

/* Build RSET, MAIL, RCPT..., DATA for a message. */
static void
txn_build(struct client *c, const struct client_message *m)
{
	char size[32] = "";
	size_t i;

	/* RSET, MAIL, one RCPT per recipient, DATA: allocated once */
	c->cmds = xcalloc(m->nrcpts + 3, sizeof(*c->cmds));
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
	client_txn_free(c);
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
		strbuf_str(&c->out, c->cmds[i].line);
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
	client_go_ready(c);
}

/* No reply of the current transaction came (see client.h). */
bool
client_txn_unanswered(const struct client *c)
{
	if (c->ncmds == 0 || c->next_reply > 0)
		return false;
	return c->st == ST_TXN || (c->st == ST_DONE && c->fail_after_done);
}
