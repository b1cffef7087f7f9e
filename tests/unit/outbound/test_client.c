/*
 * Unit tests for outbound/client.c: scripted server transcripts, each run
 * through a simulated edge that answers the client's events, fed whole
 * and one byte at a time.  The trace (commands the client wrote, events,
 * per-recipient results, failures) must be the expected one in both modes.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check_main.h"
#include "client.h"

#define TLS_MARK "\x01TLS\x01"	/* splits the server script at the handshake */

/* A message in a case: recipients separated by ','. */
struct tmsg {
	const char *rcpts;
	uint64_t size;
	bool eightbit;
	bool smtputf8;
};

struct ccase {
	const char *name;
	enum smarthost_tls tls;
	bool implicit;
	const char *user;
	const char *pass;
	size_t max_reply;
	struct tmsg msgs[2];
	const char *server;
	const char *trace;
};

struct trace {
	char buf[8192];
	size_t n;
};

/* Append text to the trace. */
static void
tr_add(struct trace *t, const char *s, size_t n)
{
	ck_assert_uint_lt(t->n + n, sizeof(t->buf));
	memcpy(t->buf + t->n, s, n);
	t->n += n;
	t->buf[t->n] = '\0';
}

/* Move the client's pending output into the trace. */
static void
tr_output(struct trace *t, struct client *c)
{
	size_t n;
	const char *p = client_output(c, &n);

	tr_add(t, p, n);
	client_output_drain(c, n);
	client_output(c, &n);
	ck_assert_uint_eq(n, 0);
}

/* Record the per-recipient results: DONE[D250,T451,...]. */
static void
tr_results(struct trace *t, struct client *c, const char *secret)
{
	static const char st[] = { 'D', 'T', 'P' };
	const struct client_rcpt_result *r;
	char item[32];
	size_t n, i;

	r = client_results(c, &n);
	tr_add(t, "DONE[", 5);
	for (i = 0; i < n; i++) {
		snprintf(item, sizeof(item), "%s%c%d", i ? "," : "", st[r[i].status], r[i].code);
		tr_add(t, item, strlen(item));
		if (secret != NULL)
			ck_assert_ptr_null(strstr(r[i].reply, secret));
		ck_assert_uint_lt(strlen(r[i].reply), CLIENT_REPLY_MAX);
	}
	tr_add(t, "]", 1);
}

/* Record a failure: FAILED[T421 rcpt]. */
static void
tr_failure(struct trace *t, struct client *c, const char *secret)
{
	const struct client_failure *f = client_failure(c);
	char item[64];

	snprintf(item, sizeof(item), "FAILED[%c%d %s]", f->temporary ? 'T' : 'P', f->code, f->stage);
	tr_add(t, item, strlen(item));
	ck_assert_uint_gt(strlen(f->reply), 0);
	if (secret != NULL)
		ck_assert_ptr_null(strstr(f->reply, secret));
}

/* Start message k of a case: split its recipient list. */
static int
send_msg(struct client *c, const struct tmsg *tm)
{
	static char rbuf[256];
	static const char *rcpts[8];
	struct client_message m = { "a@x", rcpts, 0, tm->size, tm->smtputf8, tm->eightbit };
	char *save = NULL, *tok;

	snprintf(rbuf, sizeof(rbuf), "%s", tm->rcpts);
	for (tok = strtok_r(rbuf, ",", &save); tok != NULL && m.nrcpts < 8;
	    tok = strtok_r(NULL, ",", &save))
		rcpts[m.nrcpts++] = tok;
	return client_send_message(c, &m);
}

/* The simulated edge: one input script, one chunking. */
struct edge {
	const struct ccase *cc;
	struct client *c;
	const char *in;		/* current segment */
	size_t len, pos;
	size_t step;		/* 0 = whole */
	int nextmsg;
	struct trace t;
};

/* Point the edge at the script segment after `from` (NULL: the first). */
static void
edge_segment(struct edge *e, const char *from)
{
	const char *end;

	e->in = from == NULL ? e->cc->server : from;
	end = strstr(e->in, TLS_MARK);
	e->len = end != NULL ? (size_t)(end - e->in) : strlen(e->in);
	e->pos = 0;
}

/* Act on one event; false when the run is over. */
static bool
edge_event(struct edge *e)
{
	char item[64];
	const struct tmsg *tm;

	switch (client_event(e->c)) {
	case CLIENT_EV_READY:
		tm = e->nextmsg < 2 ? &e->cc->msgs[e->nextmsg] : NULL;
		if (tm != NULL && tm->rcpts != NULL) {
			e->nextmsg++;
			if (send_msg(e->c, tm) < 0)
				tr_add(&e->t, "SEND-1 ", 7);
		} else
			client_quit(e->c);
		return true;
	case CLIENT_EV_BODY:
		ck_assert_int_eq(client_stage(e->c), CLIENT_STAGE_DATA_BLOCK);
		tr_add(&e->t, "<BODY>", 6);
		client_body_sent(e->c);
		ck_assert_int_eq(client_stage(e->c), CLIENT_STAGE_DATA_END);
		return true;
	case CLIENT_EV_STARTTLS:
		snprintf(item, sizeof(item), "<TLS discard=%zu>", e->len - e->pos);
		tr_add(&e->t, item, strlen(item));
		ck_assert_ptr_nonnull(strstr(e->in, TLS_MARK));
		edge_segment(e, strstr(e->in, TLS_MARK) + strlen(TLS_MARK));
		client_tls_started(e->c);
		ck_assert(client_tls_active(e->c));
		return true;
	case CLIENT_EV_DONE:
		tr_results(&e->t, e->c, e->cc->pass);
		client_ack_done(e->c);
		return true;
	case CLIENT_EV_FAILED:
		tr_failure(&e->t, e->c, e->cc->pass);
		return false;
	case CLIENT_EV_CLOSED:
		tr_add(&e->t, "CLOSED", 6);
		return false;
	case CLIENT_EV_NONE:
		break;
	}
	return true;
}

/* Feed the next chunk; false when input ran out or the client is stuck. */
static bool
edge_feed(struct edge *e)
{
	size_t n, used;

	if (e->pos == e->len) {
		tr_add(&e->t, "EOF", 3);
		return false;
	}
	n = e->step == 0 || e->len - e->pos < e->step ? e->len - e->pos : e->step;
	used = client_feed(e->c, e->in + e->pos, n);
	ck_assert_uint_le(used, n);
	e->pos += used;
	if (used == 0 && client_event(e->c) == CLIENT_EV_NONE) {
		tr_add(&e->t, "STUCK", 5);
		return false;
	}
	return true;
}

/* Run a case with a chunk size; the trace ends up in e->t. */
static void
run_case(const struct ccase *cc, size_t step, struct edge *e)
{
	struct client_params p = { "gw.test", cc->tls, cc->user, cc->pass, cc->max_reply };
	bool go = true;

	memset(e, 0, sizeof(*e));
	e->cc = cc;
	e->step = step;
	e->c = client_new(&p, cc->implicit);
	edge_segment(e, NULL);
	ck_assert_int_eq(client_stage(e->c), CLIENT_STAGE_GREETING);
	while (go) {
		if (client_event(e->c) == CLIENT_EV_NONE)
			go = edge_feed(e);
		tr_output(&e->t, e->c);
		if (go)
			go = edge_event(e);
		tr_output(&e->t, e->c);
	}
	if (cc->pass != NULL)
		ck_assert_ptr_null(strstr(e->t.buf, cc->pass));
	client_free(e->c);
}

#define G "220 mx.test ESMTP\r\n"
#define EHLO_PLAIN "250-mx.test\r\n250 8BITMIME\r\n"
#define EHLO_PIPE "250-mx.test\r\n250-PIPELINING\r\n250-SIZE 10000\r\n250 8BITMIME\r\n"
#define M1 { "r1@y", 100, false, false }
#define M3 { "r1@y,r2@y,r3@y", 100, false, false }
#define NOMSG { NULL, 0, false, false }
#define EH "EHLO gw.test\r\n"
#define BIG_LINE "250-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\r\n"

static const struct ccase cases[] = {
	{ "plain", SMARTHOST_TLS_NONE, false, NULL, NULL, 0, { M1, NOMSG },
	  G EHLO_PLAIN "250 2.1.0 ok\r\n250 2.1.5 ok\r\n354 go\r\n250 2.0.0 queued as X\r\n221 bye\r\n",
	  EH "MAIL FROM:<a@x>\r\n" "RCPT TO:<r1@y>\r\n" "DATA\r\n" "<BODY>DONE[D250]" "QUIT\r\n" "CLOSED" },
	{ "pipelined", SMARTHOST_TLS_NONE, false, NULL, NULL, 0,
	  { { "r1@y,r2@y", 100, true, false }, NOMSG },
	  G EHLO_PIPE "250 ok\r\n250 ok\r\n250 ok\r\n354 go\r\n250 queued\r\n221 bye\r\n",
	  EH "MAIL FROM:<a@x> SIZE=100 BODY=8BITMIME\r\nRCPT TO:<r1@y>\r\nRCPT TO:<r2@y>\r\nDATA\r\n"
	  "<BODY>DONE[D250,D250]QUIT\r\nCLOSED" },
	{ "partial", SMARTHOST_TLS_NONE, false, NULL, NULL, 0, { M3, NOMSG },
	  G EHLO_PIPE "250 ok\r\n250 ok\r\n550 5.1.1 no such user\r\n451 4.7.1 greylisted\r\n"
	  "354 go\r\n250 queued\r\n221 bye\r\n",
	  EH "MAIL FROM:<a@x> SIZE=100\r\nRCPT TO:<r1@y>\r\nRCPT TO:<r2@y>\r\nRCPT TO:<r3@y>\r\nDATA\r\n"
	  "<BODY>DONE[D250,P550,T451]QUIT\r\nCLOSED" },
	{ "partial-unpipelined", SMARTHOST_TLS_NONE, false, NULL, NULL, 0, { M3, NOMSG },
	  G EHLO_PLAIN "250 ok\r\n550 5.1.1 no\r\n250 ok\r\n451 4.7.1 later\r\n354 go\r\n554 5.7.1 spam\r\n221 bye\r\n",
	  EH "MAIL FROM:<a@x>\r\nRCPT TO:<r1@y>\r\nRCPT TO:<r2@y>\r\nRCPT TO:<r3@y>\r\nDATA\r\n"
	  "<BODY>DONE[P550,P554,T451]QUIT\r\nCLOSED" },
	{ "greylisted", SMARTHOST_TLS_NONE, false, NULL, NULL, 0, { M1, NOMSG },
	  G EHLO_PLAIN "250 ok\r\n451 4.7.1 greylisted, come back later\r\n221 bye\r\n",
	  EH "MAIL FROM:<a@x>\r\nRCPT TO:<r1@y>\r\nDONE[T451]QUIT\r\nCLOSED" },
	{ "mail-5xx", SMARTHOST_TLS_NONE, false, NULL, NULL, 0, { M3, NOMSG },
	  G EHLO_PLAIN "553 5.7.1 sender rejected\r\n221 bye\r\n",
	  EH "MAIL FROM:<a@x>\r\nDONE[P553,P553,P553]QUIT\r\nCLOSED" },
	{ "mail-4xx-pipelined", SMARTHOST_TLS_NONE, false, NULL, NULL, 0, { M3, NOMSG },
	  G EHLO_PIPE "452 4.3.1 full\r\n503 no\r\n503 no\r\n503 no\r\n503 no\r\n221 bye\r\n",
	  EH "MAIL FROM:<a@x> SIZE=100\r\nRCPT TO:<r1@y>\r\nRCPT TO:<r2@y>\r\nRCPT TO:<r3@y>\r\nDATA\r\n"
	  "DONE[T452,T452,T452]QUIT\r\nCLOSED" },
	{ "dot-5xx", SMARTHOST_TLS_NONE, false, NULL, NULL, 0, { M1, NOMSG },
	  G EHLO_PIPE "250 ok\r\n250 ok\r\n354 go\r\n554 5.7.1 rejected as spam\r\n221 bye\r\n",
	  EH "MAIL FROM:<a@x> SIZE=100\r\nRCPT TO:<r1@y>\r\nDATA\r\n<BODY>DONE[P554]QUIT\r\nCLOSED" },
	{ "dot-4xx", SMARTHOST_TLS_NONE, false, NULL, NULL, 0, { M1, NOMSG },
	  G EHLO_PIPE "250 ok\r\n250 ok\r\n354 go\r\n451 4.3.0 try later\r\n221 bye\r\n",
	  EH "MAIL FROM:<a@x> SIZE=100\r\nRCPT TO:<r1@y>\r\nDATA\r\n<BODY>DONE[T451]QUIT\r\nCLOSED" },
	{ "data-5xx", SMARTHOST_TLS_NONE, false, NULL, NULL, 0, { M1, NOMSG },
	  G EHLO_PLAIN "250 ok\r\n250 ok\r\n554 5.5.0 no data today\r\n221 bye\r\n",
	  EH "MAIL FROM:<a@x>\r\nRCPT TO:<r1@y>\r\nDATA\r\nDONE[P554]QUIT\r\nCLOSED" },
	/* every RCPT refused, DATA still gets 354: the body is never asked
	 * for; a lone dot ends the empty DATA (RFC 2920 3.1) */
	{ "all-refused-354", SMARTHOST_TLS_NONE, false, NULL, NULL, 0,
	  { { "r1@y,r2@y", 100, false, false }, M1 },
	  G EHLO_PIPE "250 ok\r\n550 5.1.1 no\r\n550 5.1.1 no\r\n354 go\r\n554 5.5.1 no valid recipients\r\n"
	  "250 reset\r\n250 ok\r\n250 ok\r\n354 go\r\n250 queued\r\n221 bye\r\n",
	  EH "MAIL FROM:<a@x> SIZE=100\r\nRCPT TO:<r1@y>\r\nRCPT TO:<r2@y>\r\nDATA\r\n"
	  ".\r\nDONE[P550,P550]"
	  "RSET\r\nMAIL FROM:<a@x> SIZE=100\r\nRCPT TO:<r1@y>\r\nDATA\r\n<BODY>DONE[D250]QUIT\r\nCLOSED" },
	{ "all-refused-unpipelined", SMARTHOST_TLS_NONE, false, NULL, NULL, 0, { M3, NOMSG },
	  G EHLO_PLAIN "250 ok\r\n550 no\r\n450 no\r\n550 no\r\n221 bye\r\n",
	  EH "MAIL FROM:<a@x>\r\nRCPT TO:<r1@y>\r\nRCPT TO:<r2@y>\r\nRCPT TO:<r3@y>\r\n"
	  "DONE[P550,T450,P550]QUIT\r\nCLOSED" },
	{ "421-mid-rcpt", SMARTHOST_TLS_NONE, false, NULL, NULL, 0, { M3, NOMSG },
	  G EHLO_PIPE "250 ok\r\n550 5.1.1 no\r\n250 ok\r\n421 4.3.2 shutting down\r\n",
	  EH "MAIL FROM:<a@x> SIZE=100\r\nRCPT TO:<r1@y>\r\nRCPT TO:<r2@y>\r\nRCPT TO:<r3@y>\r\nDATA\r\n"
	  "DONE[P550,T421,T421]FAILED[T421 rcpt]" },
	{ "421-after-dot", SMARTHOST_TLS_NONE, false, NULL, NULL, 0, { M1, NOMSG },
	  G EHLO_PIPE "250 ok\r\n250 ok\r\n354 go\r\n421 4.4.2 timeout\r\n",
	  EH "MAIL FROM:<a@x> SIZE=100\r\nRCPT TO:<r1@y>\r\nDATA\r\n<BODY>DONE[T421]FAILED[T421 data]" },
	{ "421-idle", SMARTHOST_TLS_NONE, false, NULL, NULL, 0, { NOMSG, NOMSG },
	  G "421 4.3.2 bye\r\n", EH "FAILED[T421 ehlo]" },
	{ "greeting-554", SMARTHOST_TLS_NONE, false, NULL, NULL, 0, { M1, NOMSG },
	  "554 5.7.1 go away\r\n", "QUIT\r\nFAILED[T554 greeting]" },
	{ "greeting-421", SMARTHOST_TLS_NONE, false, NULL, NULL, 0, { M1, NOMSG },
	  "421 4.3.2 busy\r\n", "QUIT\r\nFAILED[T421 greeting]" },
	{ "ehlo-5xx-helo", SMARTHOST_TLS_NONE, false, NULL, NULL, 0, { M1, NOMSG },
	  G "502 5.5.1 what\r\n250 hi\r\n250 ok\r\n250 ok\r\n354 go\r\n250 ok\r\n221 bye\r\n",
	  EH "HELO gw.test\r\nMAIL FROM:<a@x>\r\nRCPT TO:<r1@y>\r\nDATA\r\n<BODY>DONE[D250]QUIT\r\nCLOSED" },
	{ "ehlo-5xx-starttls-required", SMARTHOST_TLS_STARTTLS, false, NULL, NULL, 0, { M1, NOMSG },
	  G "502 5.5.1 what\r\n", EH "QUIT\r\nFAILED[P502 ehlo]" },
	{ "starttls-not-offered", SMARTHOST_TLS_STARTTLS, false, NULL, NULL, 0, { M1, NOMSG },
	  G EHLO_PIPE, EH "QUIT\r\nFAILED[T0 starttls]" },
	{ "starttls-refused", SMARTHOST_TLS_STARTTLS, false, NULL, NULL, 0, { M1, NOMSG },
	  G "250-mx\r\n250 STARTTLS\r\n454 4.7.0 no TLS now\r\n",
	  EH "STARTTLS\r\nQUIT\r\nFAILED[T454 starttls]" },
	{ "opportunistic-refused", SMARTHOST_TLS_OPPORTUNISTIC, false, NULL, NULL, 0, { M1, NOMSG },
	  G "250-mx\r\n250 STARTTLS\r\n454 4.7.0 no TLS now\r\n250 ok\r\n250 ok\r\n354 go\r\n250 ok\r\n221 bye\r\n",
	  EH "STARTTLS\r\nMAIL FROM:<a@x>\r\nRCPT TO:<r1@y>\r\nDATA\r\n<BODY>DONE[D250]QUIT\r\nCLOSED" },
	{ "opportunistic-not-offered", SMARTHOST_TLS_OPPORTUNISTIC, false, NULL, NULL, 0, { NOMSG, NOMSG },
	  G EHLO_PLAIN "221 bye\r\n", EH "QUIT\r\nCLOSED" },
	{ "none-ignores-starttls", SMARTHOST_TLS_NONE, false, NULL, NULL, 0, { NOMSG, NOMSG },
	  G "250-mx\r\n250 STARTTLS\r\n221 bye\r\n", EH "QUIT\r\nCLOSED" },
	/* PIPELINING and AUTH offered in clear (and injected after the 220)
	 * are forgotten: only the EHLO inside TLS counts */
	{ "starttls-caps-reset", SMARTHOST_TLS_STARTTLS, false, NULL, NULL, 0, { M1, NOMSG },
	  G "250-mx\r\n250-PIPELINING\r\n250-SIZE 50\r\n250-AUTH PLAIN\r\n250 STARTTLS\r\n"
	  "220 2.0.0 go ahead\r\n250-mx\r\n250 PIPELINING\r\n" TLS_MARK
	  "250-mx\r\n250 8BITMIME\r\n250 ok\r\n250 ok\r\n354 go\r\n250 ok\r\n221 bye\r\n",
	  EH "STARTTLS\r\n<TLS discard=24>" EH
	  "MAIL FROM:<a@x>\r\nRCPT TO:<r1@y>\r\nDATA\r\n<BODY>DONE[D250]QUIT\r\nCLOSED" },
	{ "starttls-auth-gone", SMARTHOST_TLS_STARTTLS, false, "alice", "secret", 0, { M1, NOMSG },
	  G "250-mx\r\n250-AUTH PLAIN LOGIN\r\n250 STARTTLS\r\n220 go\r\n" TLS_MARK
	  "250-mx\r\n250 PIPELINING\r\n",
	  EH "STARTTLS\r\n<TLS discard=0>" EH "QUIT\r\nFAILED[T0 auth]" },
	{ "starttls-auth-plain", SMARTHOST_TLS_STARTTLS, false, "alice", "secret", 0, { M1, NOMSG },
	  G "250-mx\r\n250 STARTTLS\r\n220 go\r\n" TLS_MARK
	  "250-mx\r\n250-PIPELINING\r\n250 AUTH LOGIN PLAIN\r\n235 2.7.0 ok\r\n"
	  "250 ok\r\n250 ok\r\n354 go\r\n250 ok\r\n221 bye\r\n",
	  EH "STARTTLS\r\n<TLS discard=0>" EH "AUTH PLAIN AGFsaWNlAHNlY3JldA==\r\n"
	  "MAIL FROM:<a@x>\r\nRCPT TO:<r1@y>\r\nDATA\r\n<BODY>DONE[D250]QUIT\r\nCLOSED" },
	{ "implicit-auth-login", SMARTHOST_TLS_IMPLICIT, true, "alice", "secret", 0, { NOMSG, NOMSG },
	  G "250-mx\r\n250 AUTH=LOGIN\r\n334 VXNlcm5hbWU6\r\n334 UGFzc3dvcmQ6\r\n235 ok\r\n221 bye\r\n",
	  EH "AUTH LOGIN\r\nYWxpY2U=\r\nc2VjcmV0\r\nQUIT\r\nCLOSED" },
	{ "auth-535", SMARTHOST_TLS_IMPLICIT, true, "alice", "secret", 0, { M1, NOMSG },
	  G "250-mx\r\n250 AUTH PLAIN\r\n535 5.7.8 bad credentials\r\n",
	  EH "AUTH PLAIN AGFsaWNlAHNlY3JldA==\r\nQUIT\r\nFAILED[P535 auth]" },
	{ "auth-without-tls", SMARTHOST_TLS_NONE, false, "alice", "secret", 0, { M1, NOMSG },
	  G "250-mx\r\n250 AUTH PLAIN LOGIN\r\n", EH "QUIT\r\nFAILED[T0 auth]" },
	{ "auth-without-tls-opportunistic", SMARTHOST_TLS_OPPORTUNISTIC, false, "alice", "secret", 0,
	  { M1, NOMSG }, G "250-mx\r\n250 AUTH PLAIN LOGIN\r\n", EH "QUIT\r\nFAILED[T0 auth]" },
	{ "size-too-big", SMARTHOST_TLS_NONE, false, NULL, NULL, 0,
	  { { "r1@y,r2@y", 20000, false, false }, M1 },
	  G EHLO_PIPE "250 ok\r\n250 ok\r\n354 go\r\n250 ok\r\n221 bye\r\n",
	  EH "SEND-1 DONE[P552,P552]MAIL FROM:<a@x> SIZE=100\r\nRCPT TO:<r1@y>\r\nDATA\r\n"
	  "<BODY>DONE[D250]QUIT\r\nCLOSED" },
	{ "smtputf8-missing", SMARTHOST_TLS_NONE, false, NULL, NULL, 0,
	  { { "r1@y", 10, false, true }, NOMSG },
	  G EHLO_PIPE "221 bye\r\n", EH "SEND-1 DONE[P553]QUIT\r\nCLOSED" },
	{ "smtputf8", SMARTHOST_TLS_NONE, false, NULL, NULL, 0,
	  { { "r1@y", 10, false, true }, NOMSG },
	  G "250-mx\r\n250 SMTPUTF8\r\n250 ok\r\n250 ok\r\n354 go\r\n250 ok\r\n221 bye\r\n",
	  EH "MAIL FROM:<a@x> SMTPUTF8\r\nRCPT TO:<r1@y>\r\nDATA\r\n<BODY>DONE[D250]QUIT\r\nCLOSED" },
	{ "second-message-rset", SMARTHOST_TLS_NONE, false, NULL, NULL, 0, { M1, M1 },
	  G EHLO_PLAIN "250 ok\r\n250 ok\r\n354 go\r\n250 ok\r\n250 reset\r\n250 ok\r\n250 ok\r\n354 go\r\n"
	  "451 later\r\n221 bye\r\n",
	  EH "MAIL FROM:<a@x>\r\nRCPT TO:<r1@y>\r\nDATA\r\n<BODY>DONE[D250]"
	  "RSET\r\nMAIL FROM:<a@x>\r\nRCPT TO:<r1@y>\r\nDATA\r\n<BODY>DONE[T451]QUIT\r\nCLOSED" },
	{ "rset-refused", SMARTHOST_TLS_NONE, false, NULL, NULL, 0, { M1, M1 },
	  G EHLO_PIPE "250 ok\r\n250 ok\r\n354 go\r\n250 ok\r\n500 what\r\n250 ok\r\n250 ok\r\n354 go\r\n",
	  EH "MAIL FROM:<a@x> SIZE=100\r\nRCPT TO:<r1@y>\r\nDATA\r\n<BODY>DONE[D250]"
	  "RSET\r\nMAIL FROM:<a@x> SIZE=100\r\nRCPT TO:<r1@y>\r\nDATA\r\nQUIT\r\nDONE[T500]FAILED[T500 rset]" },
	/* malformed replies: a temporary failure of the connection */
	{ "malformed-abc", SMARTHOST_TLS_NONE, false, NULL, NULL, 0, { M1, NOMSG },
	  "abc\r\n", "FAILED[T0 greeting]" },
	{ "malformed-600", SMARTHOST_TLS_NONE, false, NULL, NULL, 0, { M1, NOMSG },
	  G "600 x\r\n", EH "FAILED[T0 ehlo]" },
	{ "malformed-short", SMARTHOST_TLS_NONE, false, NULL, NULL, 0, { M1, NOMSG },
	  G "25\r\n", EH "FAILED[T0 ehlo]" },
	{ "malformed-mismatch", SMARTHOST_TLS_NONE, false, NULL, NULL, 0, { M1, NOMSG },
	  G "250-mx\r\n251 PIPELINING\r\n", EH "FAILED[T0 ehlo]" },
	{ "malformed-in-txn", SMARTHOST_TLS_NONE, false, NULL, NULL, 0, { M3, NOMSG },
	  G EHLO_PIPE "250 ok\r\n550 no\r\n2x0 ok\r\n",
	  EH "MAIL FROM:<a@x> SIZE=100\r\nRCPT TO:<r1@y>\r\nRCPT TO:<r2@y>\r\nRCPT TO:<r3@y>\r\nDATA\r\n"
	  "DONE[P550,T0,T0]FAILED[T0 rcpt]" },
	{ "malformed-quit", SMARTHOST_TLS_NONE, false, NULL, NULL, 0, { NOMSG, NOMSG },
	  G EHLO_PLAIN "bye\r\n", EH "QUIT\r\nCLOSED" },
	{ "reply-too-large", SMARTHOST_TLS_NONE, false, NULL, NULL, 1000, { M1, NOMSG },
	  G "250-mx\r\n" BIG_LINE BIG_LINE BIG_LINE BIG_LINE BIG_LINE BIG_LINE BIG_LINE BIG_LINE
	  BIG_LINE BIG_LINE "250 END\r\n", EH "FAILED[T0 ehlo]" },
	{ "bad-rcpt-address", SMARTHOST_TLS_NONE, false, NULL, NULL, 0,
	  { { "r1@y,bad\r\nRSET", 10, false, false }, NOMSG },
	  G EHLO_PLAIN "250 ok\r\n250 ok\r\n354 go\r\n250 ok\r\n221 bye\r\n",
	  EH "MAIL FROM:<a@x>\r\nRCPT TO:<r1@y>\r\nDATA\r\n<BODY>DONE[D250,P553]QUIT\r\nCLOSED" },
};

/* Each case: the expected trace, whole and one byte at a time. */
START_TEST(test_transcript)
{
	const struct ccase *cc = &cases[_i];
	size_t steps[] = { 0, 1, 3 };
	struct edge e;
	size_t s;

	for (s = 0; s < sizeof(steps) / sizeof(steps[0]); s++) {
		run_case(cc, steps[s], &e);
		if (strcmp(e.t.buf, cc->trace) != 0)
			ck_abort_msg("case %s step %zu:\n got: %s\nwant: %s", cc->name, steps[s],
			    e.t.buf, cc->trace);
	}
}
END_TEST

/* Build a client past EHLO with the given capabilities. */
static struct client *
client_up(const char *ehlo)
{
	struct client_params p = { "gw.test", SMARTHOST_TLS_NONE, NULL, NULL, 0 };
	struct client *c = client_new(&p, false);
	char in[512];
	size_t n;

	snprintf(in, sizeof(in), G "%s", ehlo);
	ck_assert_uint_eq(client_feed(c, in, strlen(in)), strlen(in));
	ck_assert_int_eq(client_event(c), CLIENT_EV_READY);
	ck_assert_int_eq(client_stage(c), CLIENT_STAGE_IDLE);
	client_output(c, &n);
	client_output_drain(c, n);
	return c;
}

/* Capabilities are parsed, case-insensitively. */
START_TEST(test_capabilities)
{
	struct client *c = client_up("250-mx\r\n250-pipelining\r\n250 SIZE 52428800\r\n");

	ck_assert(client_has_pipelining(c));
	ck_assert_uint_eq(client_size_limit(c), 52428800);
	ck_assert(!client_tls_active(c));
	client_free(c);
	c = client_up("250-mx\r\n250 SIZE\r\n");
	ck_assert(!client_has_pipelining(c));
	ck_assert_uint_eq(client_size_limit(c), 0);
	client_free(c);
}
END_TEST

/* A reply while idle (READY): a 421 or anything else fails the connection. */
START_TEST(test_unsolicited)
{
	struct client *c = client_up(EHLO_PLAIN);
	size_t n;

	ck_assert_uint_eq(client_feed(c, "421 4.4.2 idle too long\r\nxx", 27), 25);
	ck_assert_int_eq(client_event(c), CLIENT_EV_FAILED);
	ck_assert(client_failure(c)->temporary);
	ck_assert_int_eq(client_failure(c)->code, 421);
	client_output(c, &n);
	ck_assert_uint_eq(n, 0);
	/* after a failure everything is discarded */
	ck_assert_uint_eq(client_feed(c, "250 x\r\n", 7), 7);
	client_free(c);
	c = client_up(EHLO_PLAIN);
	ck_assert_uint_eq(client_feed(c, "250 surprise\r\n", 14), 14);
	ck_assert_int_eq(client_event(c), CLIENT_EV_FAILED);
	ck_assert_str_eq(client_failure(c)->reply, "250 surprise");
	client_free(c);
}
END_TEST

/* Results keep the deciding reply's printable text; stages follow. */
START_TEST(test_reply_text_and_stages)
{
	struct client *c = client_up(EHLO_PIPE);
	const char *rcpts[] = { "r1@y", "r2@y" };
	struct client_message m = { "", rcpts, 2, 10, false, false };
	const struct client_rcpt_result *r;
	static const char in[] = "250 ok\r\n451 4.7.1 grey\tlisted\r\n250 ok\r\n";
	const char *out;
	size_t n;

	ck_assert_int_eq(client_send_message(c, &m), 0);
	out = client_output(c, &n);
	ck_assert(n > 15 && memcmp(out, "MAIL FROM:<> SIZE=10\r\n", 22) == 0);
	ck_assert_int_eq(client_stage(c), CLIENT_STAGE_COMMAND);
	ck_assert_uint_eq(client_feed(c, in, sizeof(in) - 1), sizeof(in) - 1);
	ck_assert_int_eq(client_stage(c), CLIENT_STAGE_DATA_INIT);
	ck_assert_uint_eq(client_feed(c, "354 go\r\n250 early\r\n", 19), 8);
	ck_assert_int_eq(client_event(c), CLIENT_EV_BODY);
	/* while the body is streamed the client reads nothing */
	ck_assert_uint_eq(client_feed(c, "250 early\r\n", 11), 0);
	client_body_sent(c);
	ck_assert_uint_eq(client_feed(c, "250 2.0.0 queued as ABC\r\n", 25), 25);
	ck_assert_int_eq(client_event(c), CLIENT_EV_DONE);
	r = client_results(c, &n);
	ck_assert_uint_eq(n, 2);
	ck_assert_str_eq(r[1].reply, "250 2.0.0 queued as ABC");
	ck_assert_int_eq(r[1].status, CLIENT_RCPT_DELIVERED);
	ck_assert_str_eq(r[0].reply, "451 4.7.1 grey\\x09listed");
	ck_assert_int_eq(r[0].status, CLIENT_RCPT_TEMPFAIL);
	ck_assert_int_eq(r[0].code, 451);
	client_ack_done(c);
	ck_assert_int_eq(client_event(c), CLIENT_EV_READY);
	client_free(c);
}
END_TEST

/* A long reply text is capped in the stored result. */
START_TEST(test_reply_capped)
{
	struct client *c = client_up(EHLO_PLAIN);
	const char *rcpts[] = { "r1@y" };
	struct client_message m = { "a@x", rcpts, 1, 10, false, false };
	const struct client_rcpt_result *r;
	char in[3000];
	size_t n;

	ck_assert_int_eq(client_send_message(c, &m), 0);
	client_feed(c, "250 ok\r\n", 8);
	memset(in, 'z', sizeof(in));
	memcpy(in, "550-", 4);
	memcpy(in + 1000, "\r\n550-", 6);
	memcpy(in + 2000, "\r\n550 ", 6);
	memcpy(in + sizeof(in) - 2, "\r\n", 2);
	ck_assert_uint_eq(client_feed(c, in, sizeof(in)), sizeof(in));
	r = client_results(c, &n);
	ck_assert_int_eq(r[0].status, CLIENT_RCPT_PERMFAIL);
	ck_assert_uint_eq(strlen(r[0].reply), CLIENT_REPLY_MAX - 1);
	client_free(c);
}
END_TEST

/* Deliver one message over a reused session: pipelined RSET .. DATA. */
static struct client *
client_second_txn(void)
{
	struct client *c = client_up(EHLO_PIPE);
	const char *rcpts[] = { "r1@y" };
	struct client_message m = { "a@x", rcpts, 1, 10, false, false };
	static const char first[] = "250 ok\r\n250 ok\r\n354 go\r\n";
	size_t n;

	ck_assert_int_eq(client_send_message(c, &m), 0);
	client_output(c, &n);
	client_output_drain(c, n);
	ck_assert_uint_eq(client_feed(c, first, sizeof(first) - 1), sizeof(first) - 1);
	client_body_sent(c);
	client_feed(c, "250 queued\r\n", 12);
	ck_assert_int_eq(client_event(c), CLIENT_EV_DONE);
	client_ack_done(c);
	ck_assert(!client_txn_unanswered(c));
	ck_assert_int_eq(client_send_message(c, &m), 0);
	ck_assert(memcmp(client_output(c, &n), "RSET\r\n", 6) == 0);
	client_output_drain(c, n);
	return c;
}

/* A reused session that never answers the new transaction (the server
 * had closed it) is "unanswered"; once anything of it is answered, or
 * for a transaction refused before anything was sent, it is not. */
START_TEST(test_txn_unanswered)
{
	const char *rcpts[] = { "r1@y" };
	struct client_message big = { "a@x", rcpts, 1, 99999999, false, false };
	struct client *c;

	c = client_second_txn();		/* EOF at the edge: still in the transaction */
	ck_assert(client_txn_unanswered(c));
	client_free(c);
	c = client_second_txn();		/* 421 to the RSET */
	client_feed(c, "421 4.4.2 closing\r\n", 19);
	ck_assert_int_eq(client_event(c), CLIENT_EV_DONE);
	ck_assert(client_txn_unanswered(c));
	client_ack_done(c);
	ck_assert_int_eq(client_event(c), CLIENT_EV_FAILED);
	client_free(c);
	c = client_second_txn();		/* RSET answered, then 421 to MAIL */
	client_feed(c, "250 ok\r\n421 4.3.2 busy\r\n", 24);
	ck_assert_int_eq(client_event(c), CLIENT_EV_DONE);
	ck_assert(!client_txn_unanswered(c));
	client_free(c);
	c = client_up("250-mx\r\n250 SIZE 1000\r\n");	/* refused before sending */
	ck_assert_int_eq(client_send_message(c, &big), -1);
	ck_assert_int_eq(client_event(c), CLIENT_EV_DONE);
	ck_assert(!client_txn_unanswered(c));
	ck_assert_str_eq(client_results(c, &(size_t){ 0 })[0].reply,
	    "5.3.4 message size exceeds the server's limit");
	client_free(c);
}
END_TEST

/* Build the suite. */
Suite *
unit_suite(void)
{
	Suite *s = suite_create("client");
	TCase *tc = tcase_create("core");

	tcase_add_loop_test(tc, test_transcript, 0, sizeof(cases) / sizeof(cases[0]));
	tcase_add_test(tc, test_capabilities);
	tcase_add_test(tc, test_unsolicited);
	tcase_add_test(tc, test_reply_text_and_stages);
	tcase_add_test(tc, test_reply_capped);
	tcase_add_test(tc, test_txn_unanswered);
	suite_add_tcase(s, tc);
	return s;
}
