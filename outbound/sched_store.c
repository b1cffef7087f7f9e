/*
 * sched_store: the outbound scheduler's state updates (struct
 * sched_store, see sched_int.h): what an attempt changes on disk -- a
 * deferred message's new .env, a DSN to queue, the .env to fall back to
 * should that DSN not be stored -- stored as one group per turn of the
 * worker's committer (sched_store_run), then applied by the loop
 * (sched_store_done: the message goes back into the heap, or is removed).
 * Also removals.
 *
 * sched_store_run runs on the committer thread and touches only the
 * updates it is given; everything else here runs on the event loop.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dsn.h"
#include "id.h"
#include "log.h"
#include "queue.h"
#include "rewrite.h"
#include "sched_int.h"
#include "sched_worker.h"
#include "util.h"

/* A new update for message e (its heap item: created, no time yet). */
struct sched_store *
sched_store_new(const struct queue_entry *e)
{
	struct sched_store *st = xcalloc(1, sizeof(*st));

	util_strlcpy(st->id, e->id, sizeof(st->id));
	st->created = e->created;
	return st;
}

/* Free an update and every text it owns. */
void
sched_store_free(struct sched_store *st)
{
	size_t i;

	for (i = 0; i < st->nput; i++)
		free(st->text[i]);
	free(st->fallback);
	free(st->dsn_to);
	free(st);
}

/* Free a list of updates (the worker stored them before it stopped). */
void
sched_store_list_free(struct sched_store *st)
{
	struct sched_store *n;

	for (; st != NULL; st = n) {
		n = st->next;
		sched_store_free(st);
	}
}

/* Add queue/<id>.<ext> with text (owned from now on) to an update. */
static void
sched_store_put(struct sched_store *st, const char *id, const char *ext, char *text,
    size_t len, bool replace)
{
	struct queue_put *p = &st->put[st->nput];

	snprintf(p->name, sizeof(p->name), "%s.%s", id, ext);
	p->text = st->text[st->nput] = text;
	p->len = len;
	p->replace = replace;
	p->after_prev = st->nput > 0;	/* nothing of an update without what precedes */
	st->nput++;
}

/* Add the message's .env, as e says now, to an update. */
void
sched_store_env(struct sched_store *st, const struct queue_entry *e)
{
	size_t len;
	char *text = queue_env_format(e, &len);

	sched_store_put(st, e->id, "env", text, len, true);
}

/* Keep e's state as the .env to store should the update's DSN fail. */
void
sched_store_fallback(struct sched_store *st, const struct queue_entry *e)
{
	st->fallback = queue_env_format(e, &st->fallback_len);
}

/* Add a DSN of kind for d to its sender, from <>, to an update: 0, or 1
 * when there is nothing to report. */
int
sched_store_dsn(struct sched *s, struct sched_store *st, struct sched_delivery *d,
    enum dsn_kind kind, int64_t now)
{
	const char *rcpt = rewrite_notice_recipient(s->cfg, d->e.sender);
	char *hdr, *msg, *env;
	size_t hlen, len, envlen;

	msg = NULL;
	hdr = sched_read_headers(s, d, &hlen);
	if (rcpt[0] != '\0')
		msg = dsn_build_until(&d->e, kind, &(struct dsn_report){ s->cfg->hostname,
		    { hdr, hlen }, now, d->e.created + (int64_t)s->cfg->max_queue_lifetime },
		    &len);
	else if ((rcpt = dsn_failure_recipient(&d->e, s->cfg->postmaster_address)) != NULL)
		msg = dsn_build_postmaster(&d->e, rcpt, s->cfg->hostname,
		    &(struct dsn_headers){ hdr, hlen }, now, &len);	/* a double bounce */
	else
		log_info("dsn orig=%s kind=failed status=dropped reason=\"%s\"", d->e.id,
		    s->cfg->postmaster_address == NULL ? "from <>, no postmaster_address" :
		    "from <>, to the postmaster_address itself");
	free(hdr);
	if (msg == NULL)
		return 1;
	id_generate(st->dsn_id);
	env = queue_env_new(&(struct queue_new){ .id = st->dsn_id, .sender = "",
	    .rcpts = &rcpt, .nrcpts = 1, .msglen = len, .now = now }, &envlen);
	sched_store_put(st, st->dsn_id, "msg", msg, len, false);
	sched_store_put(st, st->dsn_id, "env", env, envlen, false);
	st->dsn_kind = d->e.sender[0] == '\0' ? "postmaster" : kind == DSN_FAILED ? "failed" :
	    "delayed";
	st->dsn_created = now;
	st->dsn_to = xstrdup(rcpt);
	return 0;
}

/*
 * Store a list of updates as one group (one syncfs, one fsync of queue/
 * per kind of file): the worker's committer thread, or the loop itself
 * when the worker is not running.
 */
void
sched_store_run(const struct pickup_dirs *dirs, struct sched_store *list)
{
	struct queue_put *v;
	struct sched_store *st;
	char err[512];
	size_t n = 0, i;

	for (st = list; st != NULL; st = st->next)
		n += st->nput;
	if (n == 0)
		return;
	v = xcalloc(n, sizeof(*v));
	n = 0;
	for (st = list; st != NULL; st = st->next)
		for (i = 0; i < st->nput; i++)
			v[n++] = st->put[i];
	if (queue_put_group(dirs->tmp, dirs->queue, v, n, err, sizeof(err)) == -1)
		log_warnx("queue: store: %s", err);
	n = 0;
	for (st = list; st != NULL; st = st->next)
		for (i = 0; i < st->nput; i++)
			st->put[i] = v[n++];
	free(v);
}

/* Hand an update to the worker (the loop stores it at once when the
 * worker is not running). */
void
sched_store_submit(struct sched *s, struct sched_store *st)
{
	s->nstoring++;
	if (!sched_worker_started(s->w)) {
		sched_store_run(&s->dirs, st);
		sched_store_done(s, st);
		return;
	}
	sched_worker_store(s->w, st);
}

/* Loop side: an update is stored (or failed): schedule, remove, retry. */
void
sched_store_done(struct sched *s, struct sched_store *st)
{
	struct queue_put *last = &st->put[st->nput - 1];
	struct sched_store *again;

	s->nstoring--;
	if (st->dsn_kind != NULL && st->put[1].ok) {
		log_info("dsn id=%s orig=%s kind=%s to=<%s>", st->dsn_id, st->id,
		    st->dsn_kind, st->dsn_to);
		dueheap_push(&s->due, st->dsn_id, st->dsn_created, st->dsn_created);
	} else if (st->dsn_kind != NULL) {
		log_warnx("dsn orig=%s kind=%s status=error: %s", st->id, st->dsn_kind,
		    st->put[0].ok ? st->put[1].err : st->put[0].err);
		/* store the state without that DSN instead; it is tried again */
		again = xcalloc(1, sizeof(*again));
		util_strlcpy(again->id, st->id, sizeof(again->id));
		again->created = st->created;
		again->next_attempt = st->next_attempt;
		sched_store_put(again, st->id, "env", st->fallback, st->fallback_len, true);
		st->fallback = NULL;
		sched_store_free(st);
		sched_store_submit(s, again);
		return;
	}
	if (st->remove) {
		log_info("done id=%s delivered=%zu failed=%zu", st->id, st->ndelivered,
		    st->nfailed);
		sched_remove(s, st->id);
	} else {
		if (!last->ok)
			log_warnx("queue id=%s: store: %s", st->id, last->err);
		dueheap_push(&s->due, st->id, st->next_attempt, st->created);
	}
	sched_store_free(st);
	sched_kick(s);
}

/* Remove a finished message from the spool (by the worker, when running). */
void
sched_remove(struct sched *s, const char *id)
{
	char err[512];

	if (sched_worker_started(s->w)) {
		sched_worker_remove(s->w, id);
		return;
	}
	if (queue_entry_remove(s->dirs.queue, id, err, sizeof(err)) == -1 && errno != ENOENT)
		log_warnx("queue id=%s: remove: %s", id, err);
	sched_note_dirty(s);
}

