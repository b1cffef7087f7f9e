/*
 * conn_mem: spill files and the budget share of one connection (see
 * conn_mem.h).  Loop thread only.  Must not know about sockets, libevent
 * or SMTP syntax.
 */
#include <errno.h>

#include "conn_mem.h"
#include "delivery.h"
#include "log.h"
#include "spill.h"

/* Join the budget; a full one turns an OK greeting into 421 4.3.2. */
enum session_greeting
conn_mem_start(struct conn_mem *m, struct budget *b, int tmpfd, const char *id,
    const char *client, enum session_greeting how, void (*wake)(void *), void *arg)
{
	*m = (struct conn_mem){ .budget = b, .tmpfd = tmpfd, .id = id, .client = client };
	if (b == NULL)
		return how;
	if (how == SESSION_GREET_OK && budget_full(b)) {
		budget_refused(b);
		m->quiet = true;
		how = SESSION_GREET_NOMEM;
	}
	budget_join(b, &m->share, wake, arg);
	return how;
}

/* Body bytes past body_memory_limit go to a spill file, made at the first
 * of them (buffered writes on the loop, no fsync). */
void
conn_mem_body_write(struct conn_mem *m, const char *p, size_t n)
{
	char err[256];

	if (m->spill == NULL && m->spill_err == 0) {
		m->spill = spill_open(m->tmpfd, m->id, ++m->spills, err, sizeof(err));
		if (m->spill == NULL) {
			m->spill_err = errno;
			log_warnx("session id=%s client=%s spill: %s", m->id, m->client, err);
		}
	}
	if (m->spill)
		spill_write(m->spill, p, n);
}

/* The spilled body is not wanted any more: remove its file. */
void
conn_mem_body_drop(struct conn_mem *m)
{
	spill_discard(m->spill);
	m->spill = NULL;
	m->spill_err = 0;
}

/* A spilled message: its file (or the reason there is none) goes with r. */
void
conn_mem_hand_over(struct conn_mem *m, struct session *sess, struct delivery_request *r,
    char *name)
{
	int e = m->spill ? spill_error(m->spill) : m->spill_err;

	(void)session_take_body(sess, &r->body_len);	/* ours now */
	if (m->spill == NULL && e == 0)
		e = EIO;
	if (e != 0) {
		spill_discard(m->spill);
		r->body_err = e;
	} else {
		spill_release(m->spill, &r->body_fd, name);
		r->body_name = name;
	}
	m->spill = NULL;
	m->spill_err = 0;
}

/* Report what the connection holds; true when it must stop reading. */
bool
conn_mem_check(struct conn_mem *m, struct session *sess, size_t held, bool can_read)
{
	size_t freed;

	if (m->budget == NULL || !m->share.joined)
		return false;
	budget_update(m->budget, &m->share, held);
	if (m->paused || !can_read || !budget_over_share(m->budget, &m->share))
		return false;
	if ((freed = session_spill_now(sess)) > 0) {
		budget_update(m->budget, &m->share, freed < held ? held - freed : 0);
		if (!budget_over_share(m->budget, &m->share))
			return false;
	}
	return true;
}

/* Reading stopped: wait for memory. */
void
conn_mem_pause(struct conn_mem *m)
{
	m->paused = true;
	budget_wait(m->budget, &m->share);
}

/* Nothing held, nothing awaited any more. */
void
conn_mem_leave(struct conn_mem *m)
{
	if (m->budget)
		budget_leave(m->budget, &m->share);
}
