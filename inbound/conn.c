/*
 * conn: the libevent edge of one inbound SMTP connection (see conn.h).
 * Bytes read from the socket go to the pure session; its replies go back
 * out; its events (message, STARTTLS, close) are acted on here.  Reading is
 * bounded by a read high-watermark, and a client that does not read its
 * replies stops being read once OUT_HIGH bytes are queued.
 *
 * This file is the connection's life (new, process, close, drop, free),
 * the functions that hide whether the socket is plaintext or TLS, the
 * memory budget's edge, the deadlines and the session/delivery glue.  The
 * plaintext socket I/O is in conn_plain.c, STARTTLS and the OpenSSL
 * bufferevent in conn_tls.c; struct conn is shared through conn_int.h.
 *
 * Must not know SMTP syntax (session does) or how files are written
 * (delivery does).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "admit.h"
#include "config.h"
#include "conn.h"
#include "conn_int.h"
#include "conn_deadline.h"
#include "conn_mem.h"
#include "delivery.h"
#include "gen.h"
#include "id.h"
#include "log.h"
#include "policy.h"
#include "reject.h"
#include "spill.h"
#include "util.h"

#define OUT_HIGH	(64 * 1024)	/* stop feeding past this much output */
#define LINGER_MS	20		/* poll interval while the last bytes go out */
#define LINGER_MAX	250		/* polls before giving up (5 s) */

static void conn_close(struct conn *c);
static void conn_deadline_update(struct conn *c);
static void conn_budget_leave(struct conn *c);

/* Numeric peer address text (IPv4-mapped shown as IPv4) and port. */
void
conn_addr_text(const struct sockaddr *sa, char *ip, size_t iplen, unsigned *port)
{
	if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)sa;

		*port = ntohs(s6->sin6_port);
		if (IN6_IS_ADDR_V4MAPPED(&s6->sin6_addr))
			inet_ntop(AF_INET, &s6->sin6_addr.s6_addr[12], ip, iplen);
		else
			inet_ntop(AF_INET6, &s6->sin6_addr, ip, iplen);
	} else if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *s4 = (const struct sockaddr_in *)sa;

		*port = ntohs(s4->sin_port);
		inet_ntop(AF_INET, &s4->sin_addr, ip, iplen);
	} else {
		*port = 0;
		util_strlcpy(ip, "unknown", iplen);
	}
}

/* What admission looks at for c (admit.h). */
static struct admit
conn_admit(const struct conn *c)
{
	return (struct admit){ c->gen->cfg, c->gen->policy, c->env->space, c->env->sizes };
}

/* Session callback: is addr one of our mailboxes, with room for the mail? */
static int
conn_rcpt_check(void *arg, const char *addr)
{
	struct conn *c = arg;
	struct admit a = conn_admit(c);

	return admit_rcpt(&a, addr, session_size_hint(c->sess));
}

/* Session callback: MAIL, is the spool above its free-space reserve? */
static int
conn_mail_check(void *arg)
{
	struct conn *c = arg;
	struct admit a = conn_admit(c);

	return admit_mail(&a, session_size_hint(c->sess));
}

/* true for a note that rejects a whole message (not just a command). */
static bool
conn_message_reject(const char *kv)
{
	static const char *const msg[] = { "-in-data", "message-too-big", "bdat-syntax" };

	if (strncmp(kv, "reject=", 7) != 0)
		return false;
	for (size_t i = 0; i < sizeof(msg) / sizeof(msg[0]); i++)
		if (strstr(kv, msg[i]))
			return true;
	return false;
}

/* Session callback: a protocol event worth a log line. */
static void
conn_note(void *arg, const char *kv)
{
	struct conn *c = arg;
	const char *eq = strchr(kv, '=');
	char key[64], val[256];

	if (c->deadline_cut && strcmp(kv, "reject=timeout") == 0)
		return;		/* conn_deadline_cut logged which deadline */
	if (c->quiet)
		return;		/* refused at connect: the listener logged it, summarised */
	if (eq == NULL)
		eq = kv + strlen(kv);
	log_printable(kv, (size_t)(eq - kv), key, sizeof(key));
	log_printable(*eq ? eq + 1 : eq, strlen(*eq ? eq + 1 : eq), val, sizeof(val));
	if (conn_message_reject(kv)) {
		(*c->env->stats->messages_rejected)++;
		log_info("in id=- session=%s client=%s tls=%s status=rejected reason=%s",
		    c->id, c->client, c->tls_version[0] ? c->tls_version : "no", val);
	} else
		log_info("session id=%s client=%s %s=%s", c->id, c->client, key, val);
}

/* The buffer input is read into: plaintext or TLS. */
struct evbuffer *
conn_input(const struct conn *c)
{
	return c->bev ? bufferevent_get_input(c->bev) : c->in;
}

/* Bytes still queued for the client. */
size_t
conn_unsent(const struct conn *c)
{
	if (c->bev)
		return evbuffer_get_length(bufferevent_get_output(c->bev));
	return c->out ? evbuffer_get_length(c->out) : 0;
}

/* Timeouts for reading (command or DATA phase) and writing. */
void
conn_timeouts(const struct conn *c, struct timeval *rtv, struct timeval *wtv)
{
	const struct inbound_config *cfg = c->gen->cfg;

	rtv->tv_sec = c->in_data ? cfg->timeout_data : cfg->timeout_command;
	rtv->tv_usec = 0;
	wtv->tv_sec = cfg->timeout_command;
	wtv->tv_usec = 0;
}

/* Stop (or resume) reading from the client. */
void
conn_read_enable(struct conn *c, bool on)
{
	if (c->bev) {
		if (on)
			bufferevent_enable(c->bev, EV_READ);
		else
			bufferevent_disable(c->bev, EV_READ);
		return;
	}
	c->reading = on;
	conn_plain_arm_read(c);
}

/* Move the session's pending replies out to the client. */
void
conn_flush(struct conn *c)
{
	size_t len;
	const char *out = session_output(c->sess, &len);

	if (len == 0)
		return;
	if (c->bev)
		bufferevent_write(c->bev, out, len);
	else if (c->out)
		conn_plain_send(c, out, len);
	session_output_drain(c->sess, len);
}

/* Set read/write timeouts for the command or the DATA phase. */
void
conn_set_timeouts(struct conn *c, bool data)
{
	struct timeval rtv, wtv;

	c->in_data = data;
	if (c->bev) {
		conn_timeouts(c, &rtv, &wtv);
		bufferevent_set_timeouts(c->bev, &rtv, &wtv);
	} else
		conn_plain_arm_read(c);
}

/* Close the socket and everything reading or writing it. */
static void
conn_io_free(struct conn *c)
{
	if (c->bev) {
		bufferevent_free(c->bev);	/* closes fd */
		c->bev = NULL;
		c->fd = -1;
	}
	conn_plain_free(c);
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
}

/* The last step: free everything and tell the listener. */
static void
conn_free(struct conn *c)
{
	if (!c->quiet && !c->mem.quiet)
		log_info("disconnect id=%s client=%s messages=%u errors=%u tls=%s",
		    c->id, c->client, c->messages, session_errors(c->sess),
		    c->tls_version[0] ? c->tls_version : "no");
	conn_deadline_free(c->dl);
	if (c->linger_ev)
		event_free(c->linger_ev);
	conn_io_free(c);
	session_free(c->sess);		/* a spilled body left is dropped */
	free(c->rcpt_boxes);
	conn_budget_leave(c);
	gen_unref(c->gen);
	if (c->closed)
		c->closed(c->closed_arg);
	free(c);
}

/* Drop the socket now; the conn itself waits for a pending delivery. */
void
conn_drop(struct conn *c)
{
	if (c->job == NULL) {
		conn_free(c);
		return;
	}
	if (c->linger_ev)
		event_del(c->linger_ev);
	conn_io_free(c);
	c->state = CONN_DEAD;
}

/* Timer while closing: free once every byte has left (or give up). */
static void
conn_linger_cb(evutil_socket_t fd, short what, void *arg)
{
	struct conn *c = arg;
	struct timeval tv = { 0, LINGER_MS * 1000 };

	if (conn_unsent(c) == 0 || ++c->linger_n > LINGER_MAX) {
		conn_drop(c);
		return;
	}
	evtimer_add(c->linger_ev, &tv);
}

/* Stop reading, send what is queued, then close. */
static void
conn_close(struct conn *c)
{
	if (c->state == CONN_CLOSING || c->state == CONN_DEAD)
		return;
	c->state = CONN_CLOSING;
	conn_flush(c);
	conn_read_enable(c, false);
	if (c->linger_ev == NULL)
		c->linger_ev = evtimer_new(c->env->base, conn_linger_cb, c);
	event_active(c->linger_ev, EV_TIMEOUT, 0);	/* never frees c here */
}

/* Delivery finished (loop thread): reply, log, carry on with the input. */
static void
conn_delivered(void *arg, enum delivery_result r, const char *err)
{
	struct conn *c = arg;
	static const enum session_delivery map[] = {
		[DELIVERY_OK] = SESSION_DELIVERED,
		[DELIVERY_TEMPFAIL] = SESSION_TEMPFAIL,
		[DELIVERY_DISKFULL] = SESSION_DISKFULL,
	};

	c->job = NULL;
	conn_log_message(c, r, err);
	if (r == DELIVERY_OK) {
		(*c->env->stats->messages_accepted)++;
		c->messages++;
	}
	session_delivered(c->sess, map[r], c->queue_id);
	if (c->state == CONN_DEAD) {
		conn_free(c);
		return;
	}
	conn_flush(c);
	if (c->state == CONN_OPEN)
		conn_process(c);
	conn_budget_check(c);
}

/* The protocol name for the Received header (RFC 3848, RFC 6531). */
static const char *
conn_protocol(const struct conn *c, const struct session_message *m)
{
	bool tls = c->tls_version[0] != '\0';

	if (m->smtputf8)
		return tls ? "UTF8SMTPS" : "UTF8SMTP";
	if (m->esmtp)
		return tls ? "ESMTPS" : "ESMTP";
	return tls ? "SMTPS" : "SMTP";
}

/* ---- the memory edge (conn_mem.h does the rest) ---- */

/* Session body_write: to the connection's spill file. */
static void
conn_body_write(void *arg, const char *p, size_t n)
{
	struct conn *c = arg;

	conn_log_msgid(c, p, n);	/* the first bytes spilled hold the header */
	conn_mem_body_write(&c->mem, p, n);
}

/* Session body_drop: the spill file goes. */
static void
conn_body_drop(void *arg)
{
	struct conn *c = arg;

	c->msgid_seen = false;
	conn_mem_body_drop(&c->mem);
}

/* Bytes this connection holds: input, unsent output, the body in memory. */
static size_t
conn_held(const struct conn *c)
{
	size_t n = session_body_memory(c->sess) + conn_unsent(c);

	if (c->bev || c->in)
		n += evbuffer_get_length(conn_input(c));
	return n;
}

/* The budget has room again: read once more (loop thread, from another
 * connection's update; never processes input here). */
static void
conn_budget_wake(void *arg)
{
	struct conn *c = arg;

	c->mem.paused = false;
	if (c->pause_ev)
		event_del(c->pause_ev);
	if (c->bev && c->state == CONN_OPEN && !c->eof)
		bufferevent_enable(c->bev, EV_READ);
	else if (c->rd_ev)
		conn_plain_arm_read(c);
	/* the phase deadline starts afresh: never a cut from here (another
	 * connection's update is running) */
	if (c->job == NULL)
		conn_deadline_phase(c->dl, session_in_data(c->sess) ? DEADLINE_PHASE_DATA :
		    DEADLINE_PHASE_COMMAND, true);
}

/* The read timeout still runs while a connection is paused. */
static void
conn_pause_cb(evutil_socket_t fd, short what, void *arg)
{
	conn_timeout(arg, true);
}

/*
 * A connection whose body is being spilled is read at the base's lowest
 * priority: libevent runs those reads only when no other event is
 * active, so a flood of large bodies does not hold up the dialogue of the
 * other sessions (each of its loop passes would otherwise read 64 KB from
 * every flooding session first).
 */
static void
conn_read_priority(struct conn *c)
{
	int n = event_base_get_npriorities(c->env->base);
	int pri = c->mem.spill ? n - 1 : n / 2;

	if (n < 2)
		return;
	if (c->bev)
		bufferevent_priority_set(c->bev, pri);
	else if (c->rd_ev && event_get_priority(c->rd_ev) != pri)
		(void)event_priority_set(c->rd_ev, pri);	/* -1 while active: next time */
}

/* Report what c holds; over its share, stop reading it until the budget
 * wakes it (slowed, not killed). */
void
conn_budget_check(struct conn *c)
{
	struct timeval rtv, wtv;

	conn_read_priority(c);
	if (!conn_mem_check(&c->mem, c->sess, conn_held(c), c->state == CONN_OPEN))
		return;
	conn_mem_pause(&c->mem);
	if (c->bev)
		bufferevent_disable(c->bev, EV_READ);
	else
		conn_plain_arm_read(c);
	if (c->pause_ev == NULL)
		c->pause_ev = evtimer_new(c->env->base, conn_pause_cb, c);
	conn_timeouts(c, &rtv, &wtv);
	evtimer_add(c->pause_ev, &rtv);
	/* we slowed it: no phase deadline meanwhile (the session's still runs) */
	conn_deadline_phase(c->dl, DEADLINE_PHASE_NONE, false);
}

/* c is going away: it holds nothing more. */
static void
conn_budget_leave(struct conn *c)
{
	if (c->pause_ev)
		event_free(c->pause_ev);
	c->pause_ev = NULL;
	conn_mem_leave(&c->mem);
}

/* SESSION_EV_MESSAGE: hand the message to the delivery workers. */
static void
conn_submit(struct conn *c)
{
	const struct session_message *m = session_message(c->sess);
	struct delivery_rcpt *rc = xcalloc(m->nrcpts ? m->nrcpts : 1, sizeof(*rc));
	struct delivery_request r = { 0 };
	struct admit a = conn_admit(c);
	const char **names = xcalloc(m->nrcpts ? m->nrcpts : 1, sizeof(*names));
	char spill_name[SPILL_NAME_MAX];

	id_generate(c->queue_id);
	for (size_t i = 0; i < m->nrcpts; i++) {
		int idx = policy_lookup(c->gen->policy, m->rcpts[i]);

		rc[i].addr = m->rcpts[i];
		rc[i].mailbox = idx >= 0 ? policy_mailbox_name(c->gen->policy, idx) : "";
		names[i] = rc[i].mailbox;
	}
	log_printable(m->mail_from, strlen(m->mail_from), c->from, sizeof(c->from));
	c->msg_nrcpt = m->nrcpts;
	r.queue_id = c->queue_id;
	r.helo = m->helo;
	r.client_ip = c->ip;
	r.hostname = c->gen->cfg->hostname;
	r.mail_from = m->mail_from;
	r.rcpts = rc;
	r.nrcpts = m->nrcpts;
	r.protocol = conn_protocol(c, m);
	r.tls_version = c->tls_version[0] ? c->tls_version : NULL;
	r.tls_cipher = c->tls_cipher;
	r.body_fd = -1;
	if (m->body_spilled)
		conn_mem_hand_over(&c->mem, c->sess, &r, spill_name);
	else {
		r.body = session_take_body(c->sess, &r.body_len);
		conn_log_msgid(c, r.body, r.body_len);
	}
	c->msg_size = r.body_len;
	admit_delivering(&a, names, m->nrcpts, r.body_len);
	c->job = delivery_submit(c->env->delivery, &r, conn_delivered, c);
	free(c->rcpt_boxes);
	c->rcpt_boxes = names;		/* for the delivered lines (conn_log.c) */
	free(rc);
}

/* Act on the session's pending event; true when feeding may go on. */
static bool
conn_handle_event(struct conn *c)
{
	switch (session_event(c->sess)) {
	case SESSION_EV_NONE:
		return true;
	case SESSION_EV_MESSAGE:
		if (c->job == NULL)
			conn_submit(c);
		return false;
	case SESSION_EV_STARTTLS:
		conn_starttls_begin(c);
		return false;
	case SESSION_EV_CLOSE:
		conn_close(c);
		return false;
	}
	return false;
}

/* Feed buffered input to the session until it waits, or output piles up. */
void
conn_process(struct conn *c)
{
	struct evbuffer *in = conn_input(c);

	while (c->state == CONN_OPEN && conn_handle_event(c)) {
		struct evbuffer_iovec v;
		size_t used;

		if (c->stopping && !session_in_data(c->sess)) {
			session_shutdown(c->sess);
			conn_close(c);
			break;
		}
		if (conn_unsent(c) > OUT_HIGH || evbuffer_peek(in, -1, NULL, &v, 1) < 1)
			break;
		used = session_feed(c->sess, v.iov_base, v.iov_len);
		conn_deadline_bytes(c->dl, used);
		evbuffer_drain(in, used);
		*c->env->stats->bytes_received += used;
		conn_flush(c);
		if (used == 0 && session_event(c->sess) == SESSION_EV_NONE) {
			/* A partial line: if it goes on in the next buffer
			 * segment, make it contiguous and feed again.  The
			 * session answers any line past max_line, so this
			 * never copies more than a line's worth. */
			size_t total = evbuffer_get_length(in);
			if (total <= v.iov_len)
				break;
			evbuffer_pullup(in, (ev_ssize_t)(total < v.iov_len + 4096 ?
			    total : v.iov_len + 4096));
		}
	}
	if (c->state != CONN_OPEN)
		return;
	if (c->eof && c->job == NULL && session_event(c->sess) == SESSION_EV_NONE &&
	    conn_unsent(c) <= OUT_HIGH) {
		conn_close(c);	/* waiting for input that cannot come */
		return;
	}
	if (c->read_full && evbuffer_get_length(in) < READ_HIGH) {
		c->read_full = false;
		conn_plain_arm_read(c);
	}
	if (session_in_data(c->sess) != c->in_data)
		conn_set_timeouts(c, !c->in_data);
	conn_deadline_update(c);
}

/* Every queued byte has left: go on with what waited for that. */
void
conn_output_drained(struct conn *c)
{
	if (c->state == CONN_TLS_FLUSH)
		conn_starttls_wrap(c);
	else if (c->state == CONN_OPEN)
		conn_process(c);
	else if (c->state == CONN_CLOSING)
		conn_drop(c);	/* the last reply has left: free at once */
}

/* A read or write timeout. */
void
conn_timeout(struct conn *c, bool reading)
{
	if (c->state == CONN_CLOSING || c->state == CONN_TLS_HANDSHAKE ||
	    c->state == CONN_TLS_FLUSH) {
		if (c->state == CONN_TLS_HANDSHAKE)
			(*c->env->stats->tls_failures)++;
		conn_drop(c);
		return;
	}
	if (c->job) {		/* waiting for the disk, not for the client */
		if (c->bev)	/* a bufferevent disables on timeout */
			bufferevent_enable(c->bev, reading ? EV_READ : EV_WRITE);
		return;
	}
	log_info("session id=%s client=%s timeout=%s", c->id, c->client,
	    reading ? (c->in_data ? "data" : "command") : "write");
	session_timeout(c->sess);
	conn_close(c);
}

/*
 * The client has shut down its sending side (or closed).  Whatever it sent
 * before is still answered: buffered commands are processed, a message in
 * delivery gets its reply, then the connection closes once the session
 * waits for input that cannot come (conn_process).  A client that closed
 * completely makes the next write fail, which drops the socket.
 */
void
conn_eof(struct conn *c)
{
	c->eof = true;
	conn_read_enable(c, false);
	if (c->state == CONN_OPEN)
		conn_process(c);
	else if (c->state != CONN_CLOSING)
		conn_drop(c);
}

/* End of input (err 0) or a socket error: log it and drop the socket. */
void
conn_io_error(struct conn *c, int err)
{
	if (err != 0 && c->state != CONN_CLOSING)
		log_info("session id=%s client=%s error=\"%s\"", c->id, c->client,
		    strerror(err));
	conn_drop(c);
}

/* A deadline has passed: one log line naming it, then 421 4.4.2 and close
 * (a TLS handshake cannot carry a reply: closed at once). */
static void
conn_deadline_cut(struct conn *c, enum deadline_kind k)
{
	const struct deadline_limits *l = conn_deadline_limits(c->dl);

	if (k == DEADLINE_DATA_RATE)
		log_info("session id=%s client=%s deadline=data-rate bytes=%llu seconds=%llu "
		    "min_data_rate=%u", c->id, c->client,
		    (unsigned long long)conn_deadline_phase_bytes(c->dl),
		    (unsigned long long)(conn_deadline_phase_ms(c->dl) / 1000), l->min_data_rate);
	else
		log_info("session id=%s client=%s deadline=%s seconds=%u", c->id, c->client,
		    deadline_name(k), deadline_seconds(l, k));
	if (c->state != CONN_OPEN) {		/* STARTTLS under way */
		if (c->state == CONN_TLS_HANDSHAKE)
			(*c->env->stats->tls_failures)++;
		conn_drop(c);
		return;
	}
	c->deadline_cut = true;
	session_timeout(c->sess);
	conn_close(c);
}

/* conn_deadline callback; a delivery in flight is answered first. */
static void
conn_deadline_expired(void *arg, enum deadline_kind k)
{
	struct conn *c = arg;

	if (c->state == CONN_CLOSING || c->state == CONN_DEAD)
		return;
	if (c->job) {
		c->deadline_due = k;	/* conn_deadline_update cuts after the reply */
		return;
	}
	conn_deadline_cut(c, k);
}

/* The deadline timers of c, from its generation's limits. */
static struct conn_deadline *
conn_deadline_start(struct conn *c)
{
	const struct inbound_config *cfg = c->gen->cfg;
	struct deadline_limits l = {
		.command = cfg->deadline_command,
		.data = cfg->deadline_data,
		.min_data_rate = cfg->min_data_rate,
		.data_rate_grace = cfg->data_rate_grace,
		.tls_handshake = cfg->deadline_tls_handshake,
		.session = cfg->deadline_session,
	};

	return conn_deadline_new(c->env->base, &l, conn_deadline_expired, c);
}

/* After input was processed: which deadline runs now.  A command line's
 * starts when it is awaited, DATA/BDAT's at 354 or the first BDAT;
 * none while a delivery (our side) is pending. */
static void
conn_deadline_update(struct conn *c)
{
	unsigned long lines = session_lines(c->sess);
	bool next_line = lines != c->lines;
	/* none while a message is written or while the budget keeps us from
	 * reading it (the session deadline still runs) */
	enum deadline_phase p = c->job != NULL || c->mem.paused ? DEADLINE_PHASE_NONE :
	    session_in_data(c->sess) ? DEADLINE_PHASE_DATA : DEADLINE_PHASE_COMMAND;
	enum deadline_kind due = c->deadline_due;

	c->lines = lines;
	conn_deadline_phase(c->dl, p, p == DEADLINE_PHASE_COMMAND && next_line);
	if (due != DEADLINE_OK && c->job == NULL) {
		c->deadline_due = DEADLINE_OK;
		conn_deadline_cut(c, due);
	}
}

/* Session callback: a 4xx/5xx reply, counted by its reason. */
static void
conn_refused(void *arg, const char *reply, size_t len)
{
	struct conn *c = arg;
	int r = reject_classify(reply, len);

	if (r == REJECT_TIMEOUT && c->deadline_cut)
		r = REJECT_DEADLINE;
	if (r >= 0 && c->env->stats->rejections[r] != NULL)
		(*c->env->stats->rejections[r])++;
	if (!c->mem.quiet)
		conn_log_reject(c, reply, len);
}

/* Create the session for c with its generation's limits. */
static struct session *
conn_session(struct conn *c)
{
	const struct inbound_config *cfg = c->gen->cfg;
	struct session_params p = {
		.hostname = cfg->hostname,
		.max_line = cfg->max_line_length ? cfg->max_line_length : 2048,
		.max_message_size = cfg->max_message_size,
		.max_recipients = cfg->max_recipients,
		.max_errors = cfg->max_errors,
		.tls_available = c->gen->ssl_ctx != NULL,
		.tls_required = cfg->tls_require && c->gen->ssl_ctx != NULL,
		.rcpt_check = conn_rcpt_check,
		.mail_check = conn_mail_check,
		.max_data_line = cfg->max_data_line_length,
		.note = conn_note,
		.refused = conn_refused,
		.body_memory_limit = cfg->body_memory_limit,
		.body_write = conn_body_write,
		.body_drop = conn_body_drop,
		.arg = c,
	};

	return session_new(&p);
}

/* Take over an accepted socket: session, bufferevent, greeting. */
struct conn *
conn_new(const struct conn_env *env, struct inbound_gen *gen, int fd,
    const struct sockaddr *sa, enum session_greeting how,
    void (*closed)(void *arg), void *arg)
{
	struct conn *c = xcalloc(1, sizeof(*c));
	unsigned port;

	c->env = env;
	c->gen = gen_ref(gen);
	id_generate(c->id);
	conn_addr_text(sa, c->ip, sizeof(c->ip), &port);
	snprintf(c->client, sizeof(c->client), strchr(c->ip, ':') ? "[%s]:%u" : "%s:%u",
	    c->ip, port);
	c->fd = fd;
	conn_plain_open(c);
	c->dl = conn_deadline_start(c);
	if (c->in == NULL || c->out == NULL || c->rd_ev == NULL || c->wr_ev == NULL ||
	    c->dl == NULL) {
		log_warnx("conn id=%s client=%s: cannot create its events and buffers", c->id,
		    c->client);
		conn_deadline_free(c->dl);
		conn_io_free(c);
		gen_unref(c->gen);
		free(c);
		return NULL;
	}
	c->sess = conn_session(c);
	c->closed = closed;
	c->closed_arg = arg;
	(*env->stats->connections_total)++;
	c->reading = true;
	conn_set_timeouts(c, false);
	how = conn_mem_start(&c->mem, env->budget, delivery_tmpfd(env->delivery), c->id,
	    c->client, how, conn_budget_wake, c);
	/* refused at connect (the listener or the budget logs it, summarised) */
	c->quiet = how != SESSION_GREET_OK || c->mem.quiet;
	if (!c->quiet)
		log_info("conn id=%s client=%s tls=%s greeting=ok", c->id, c->client,
		    gen->ssl_ctx ? "available" : "none");
	session_greet(c->sess, how);
	conn_flush(c);
	if (session_event(c->sess) == SESSION_EV_CLOSE)
		conn_close(c);
	else
		conn_deadline_update(c);
	return c;
}

/* Graceful stop: 421 now, or after the message in DATA / delivery. */
void
conn_stop(struct conn *c)
{
	c->stopping = true;
	if (c->state == CONN_TLS_FLUSH || c->state == CONN_TLS_HANDSHAKE) {
		conn_drop(c);
		return;
	}
	if (c->state != CONN_OPEN || c->job || session_in_data(c->sess))
		return;
	session_shutdown(c->sess);
	conn_flush(c);
	conn_handle_event(c);
}

/* Grace over: 421 and close now (a delivery in flight still finishes). */
void
conn_kill(struct conn *c)
{
	c->stopping = true;
	if (c->job || c->state == CONN_DEAD || c->state == CONN_CLOSING)
		return;
	if (c->state != CONN_OPEN) {
		conn_drop(c);
		return;
	}
	session_shutdown(c->sess);
	conn_close(c);
}
