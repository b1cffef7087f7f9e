/*
 * conn_log: the log lines about what a connection's client asked and got,
 * beside conn.c: one "reject" line per refused command (Postfix's
 * "reject: RCPT from ..." as key=value), the message line with its
 * Message-ID, and one line per delivered recipient naming its mailbox.
 * Every line carries the session id (id= or session=) and, for a message,
 * its queue id.  The fields are listed in smtpgate-inbound(8), LOG LINES.
 *
 * Must not know SMTP syntax (session.c tells what a refusal was about),
 * sockets or how files are written.
 */
#include <stdio.h>
#include <string.h>

#include "conn.h"
#include "conn_int.h"
#include "header.h"
#include "log.h"
#include "session.h"
#include "util.h"

/* " key=<escaped addr>" into buf, or "" for no address. */
static const char *
conn_log_addr(const char *key, const char *addr, char *buf, size_t bufsz)
{
	char esc[300];

	if (addr == NULL) {
		buf[0] = '\0';
		return buf;
	}
	snprintf(buf, bufsz, " %s=<%s>", key, log_printable(addr, strlen(addr), esc,
	    sizeof(esc)));
	return buf;
}

/* One refused command: its reply line (no CRLF) and what it was about. */
void
conn_log_reject(struct conn *c, const char *reply, size_t len)
{
	struct session_refusal r;
	char from[320], to[320], ereply[400];

	log_printable(reply, len, ereply, sizeof(ereply));
	if (c->quiet) {
		/* refused at connect: the listener decides (summarised) */
		util_strlcpy(c->greet_reply, ereply, sizeof(c->greet_reply));
		return;
	}
	session_refusal_context(c->sess, &r);
	log_info("reject id=%s client=%s cmd=%s%s%s reply=\"%s\"", c->id, c->client, r.cmd,
	    conn_log_addr("from", r.from, from, sizeof(from)),
	    conn_log_addr("to", r.to, to, sizeof(to)), ereply);
}

/* The refusal at connect of c, with the listener's fields (extra). */
void
conn_log_connect_refusal(const struct conn *c, const char *extra)
{
	if (c->greet_reply[0] == '\0')
		return;		/* the memory budget's: budget.c summarises */
	log_info("reject id=%s client=%s cmd=connect reply=\"%s\" %s", c->id, c->client,
	    c->greet_reply, extra);
}

/* Remember the Message-ID of the body being taken (its header block is
 * at its start: held in memory, or the first bytes spilled). */
void
conn_log_msgid(struct conn *c, const char *body, size_t len)
{
	if (c->msgid_seen)
		return;
	header_msgid_for_log(body, len, c->msgid, sizeof(c->msgid));
	c->msgid_seen = true;
}

/* The message line once its delivery outcome is known, then one line per
 * delivered recipient with the mailbox it went to. */
void
conn_log_message(struct conn *c, enum delivery_result r, const char *err)
{
	const struct session_message *m = session_message(c->sess);
	char reason[300], to[300];

	log_printable(err, strlen(err), reason, sizeof(reason));
	log_info("in id=%s session=%s client=%s message-id=%s from=<%s> size=%zu nrcpt=%zu "
	    "tls=%s status=%s%s%s", c->queue_id, c->id, c->client,
	    c->msgid_seen ? c->msgid : "none", c->from, c->msg_size, c->msg_nrcpt,
	    c->tls_version[0] ? c->tls_version : "no",
	    r == DELIVERY_OK ? "delivered" : "deferred",
	    r == DELIVERY_OK ? "" : " reason=", r == DELIVERY_OK ? "" : reason);
	c->msgid_seen = false;
	if (r != DELIVERY_OK || m == NULL || c->rcpt_boxes == NULL)
		return;
	for (size_t i = 0; i < m->nrcpts; i++)	/* the mailboxes conn_submit resolved */
		log_info("in id=%s to=<%s> mailbox=%s status=delivered", c->queue_id,
		    log_printable(m->rcpts[i], strlen(m->rcpts[i]), to, sizeof(to)),
		    c->rcpt_boxes[i][0] != '\0' ? c->rcpt_boxes[i] : "-");
}
