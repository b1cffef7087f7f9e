/*
 * conn_plain: the plaintext socket I/O of an inbound connection (beside
 * conn.c, until STARTTLS hands the socket to conn_tls.c).  Two plain
 * events and two evbuffers: a reply is sent straight away with send(2) and
 * EV_WRITE is only armed for what the kernel did not take; a read takes up
 * to READ_CHUNK bytes in one call and stops at the read high-watermark.
 * (A socket bufferevent costs two epoll_ctl calls and a loop pass per
 * reply, and an ioctl per read of at most 4 KB.)
 *
 * Must not know SMTP (the session does), TLS, delivery or the disk; what
 * a read, an EOF or an error leads to is conn.c's business.
 */
#include <errno.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/event.h>

#include "conn_int.h"

#define READ_CHUNK	(64 * 1024)	/* one plaintext read */

static void conn_plain_read_cb(evutil_socket_t fd, short what, void *arg);
static void conn_plain_write_cb(evutil_socket_t fd, short what, void *arg);

/* Create c's buffers and events on c->fd; conn_new checks for NULLs. */
void
conn_plain_open(struct conn *c)
{
	c->in = evbuffer_new();
	c->out = evbuffer_new();
	c->rd_ev = event_new(c->env->base, c->fd, EV_READ | EV_PERSIST, conn_plain_read_cb, c);
	c->wr_ev = event_new(c->env->base, c->fd, EV_WRITE | EV_PERSIST, conn_plain_write_cb, c);
}

/* Plaintext: (re)arm the read event unless paused or full. */
void
conn_plain_arm_read(struct conn *c)
{
	struct timeval rtv, wtv;

	if (c->rd_ev == NULL)
		return;
	if (!c->reading || c->read_full || c->mem.paused) {
		event_del(c->rd_ev);
		return;
	}
	conn_timeouts(c, &rtv, &wtv);
	event_add(c->rd_ev, &rtv);
}

/* Plaintext: queue bytes, sending at once when nothing is queued ahead. */
void
conn_plain_send(struct conn *c, const char *buf, size_t len)
{
	struct timeval rtv, wtv;

	if (evbuffer_get_length(c->out) == 0) {
		ssize_t n = send(c->fd, buf, len, MSG_NOSIGNAL | MSG_DONTWAIT);

		if (n == (ssize_t)len)
			return;
		if (n > 0) {
			buf += n;
			len -= (size_t)n;
		}
		/* EAGAIN or an error: the write event sends the rest or
		 * reports the error from its callback, never from here */
	}
	evbuffer_add(c->out, buf, len);
	conn_timeouts(c, &rtv, &wtv);
	event_add(c->wr_ev, &wtv);
}

/* Plaintext: free the events and buffers, keep the socket open. */
void
conn_plain_free(struct conn *c)
{
	if (c->rd_ev)
		event_free(c->rd_ev);
	if (c->wr_ev)
		event_free(c->wr_ev);
	if (c->in)
		evbuffer_free(c->in);
	if (c->out)
		evbuffer_free(c->out);
	c->rd_ev = c->wr_ev = NULL;
	c->in = c->out = NULL;
}

/* Plaintext: the socket is readable (or the read timeout passed). */
static void
conn_plain_read_cb(evutil_socket_t fd, short what, void *arg)
{
	struct conn *c = arg;
	struct evbuffer_iovec v[2];
	int nv;
	ssize_t n;

	if (what & EV_TIMEOUT) {
		conn_timeout(c, true);
		return;
	}
	nv = evbuffer_reserve_space(c->in, READ_CHUNK, v, 2);
	if (nv < 1) {
		conn_io_error(c, ENOMEM);
		return;
	}
	n = readv(fd, (struct iovec *)v, nv);
	if (n < 0) {
		int err = errno;

		evbuffer_commit_space(c->in, v, 0);
		if (err != EAGAIN && err != EWOULDBLOCK && err != EINTR)
			conn_io_error(c, err);
		return;
	}
	if (n == 0) {
		evbuffer_commit_space(c->in, v, 0);
		conn_eof(c);
		return;
	}
	if ((size_t)n <= v[0].iov_len) {
		v[0].iov_len = (size_t)n;
		nv = 1;
	} else
		v[1].iov_len = (size_t)n - v[0].iov_len;
	evbuffer_commit_space(c->in, v, nv);
	if (evbuffer_get_length(c->in) >= READ_HIGH) {
		c->read_full = true;
		conn_plain_arm_read(c);
	}
	if (c->state == CONN_OPEN)
		conn_process(c);
	conn_budget_check(c);
}

/* Plaintext: the socket took more output (or the write timeout passed). */
static void
conn_plain_write_cb(evutil_socket_t fd, short what, void *arg)
{
	struct conn *c = arg;

	if (what & EV_TIMEOUT) {
		conn_timeout(c, false);
		return;
	}
	if (evbuffer_get_length(c->out) > 0 && evbuffer_write(c->out, fd) < 0 &&
	    errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
		conn_io_error(c, errno);
		return;
	}
	if (evbuffer_get_length(c->out) > 0)
		return;
	event_del(c->wr_ev);
	conn_output_drained(c);
	if (c->state == CONN_OPEN)
		conn_budget_check(c);
}
