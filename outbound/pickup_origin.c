/*
 * pickup_origin: what the daemon decides for a message as it is taken
 * from maildrop/ or pickup/, once, before it is queued (so every delivery
 * attempt sends the same bytes, and no producer can bypass it): the admin
 * address map and sender masquerading (rewrite.c), and body lines over
 * SMTP's limit (longline.c).  One log line per change.
 *
 * The policies are an object the daemon owns (struct pickup_policies, the
 * scheduler's): it sets one at start and one at each reload; the claimer
 * thread reads the last one.  Every policy ever set is kept until
 * pickup_policies_free() (a reload is rare and a policy small), so a
 * claim under way never sees one freed.
 *
 * Must not know: inotify, the scheduler, SMTP sessions.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "longline.h"
#include "pickup.h"
#include "pickup_int.h"
#include "rewrite.h"
#include "util.h"

#define ORIGIN_ESC	700	/* an escaped address or reason in a log line */

/* The policies set so far, the last one in force (pickup.h). */
struct pickup_policies {
	pthread_mutex_t lock;
	struct rewrite_policy **v;
	size_t n;
};

/* No policy yet. */
struct pickup_policies *
pickup_policies_new(void)
{
	struct pickup_policies *pp = xcalloc(1, sizeof(*pp));

	pthread_mutex_init(&pp->lock, NULL);
	return pp;
}

/* Put p in force for the files taken from now on (see pickup.h). */
void
pickup_policies_set(struct pickup_policies *pp, struct rewrite_policy *p)
{
	pthread_mutex_lock(&pp->lock);
	pp->v = xrealloc(pp->v, (pp->n + 1) * sizeof(*pp->v));
	pp->v[pp->n++] = p;
	pthread_mutex_unlock(&pp->lock);
}

/* Free every policy (no claim may be under way). */
void
pickup_policies_free(struct pickup_policies *pp)
{
	size_t i;

	if (pp == NULL)
		return;
	for (i = 0; i < pp->n; i++)
		rewrite_policy_free(pp->v[i]);
	free(pp->v);
	pthread_mutex_destroy(&pp->lock);
	free(pp);
}

/* The policy in force in pp, or NULL. */
static const struct rewrite_policy *
policy_now(struct pickup_policies *pp)
{
	const struct rewrite_policy *p;

	if (pp == NULL)
		return NULL;
	pthread_mutex_lock(&pp->lock);
	p = pp->n > 0 ? pp->v[pp->n - 1] : NULL;
	pthread_mutex_unlock(&pp->lock);
	return p;
}

/* One log line per rewritten address. */
static void
log_changes(const char *id, const struct rewrite_changes *ch)
{
	char a[ORIGIN_ESC], b[ORIGIN_ESC];
	size_t i;

	for (i = 0; i < ch->n; i++)
		log_info("rewrite id=%s %s=<%s> to=<%s>", id, ch->v[i].what,
		    log_printable(ch->v[i].from, strlen(ch->v[i].from), a, sizeof(a)),
		    log_printable(ch->v[i].to, strlen(ch->v[i].to), b, sizeof(b)));
}

/* A message that cannot be sent as it is: every recipient fails with
 * reply, so the daemon bounces it to its sender without trying. */
static void
refuse_all(struct queue_entry *e, const char *reply)
{
	size_t i;

	for (i = 0; i < e->nrcpts; i++) {
		e->rcpts[i].state = QUEUE_RCPT_FAILED;
		free(e->rcpts[i].reply);
		e->rcpts[i].reply = xstrdup(reply);
	}
	free(e->last_reply);
	e->last_reply = xstrdup(reply);
}

/* Body lines over the limit: re-encoded, or the message refused. */
static void
fix_long_lines(const char *id, struct queue_entry *e, char **msg, size_t *msglen)
{
	struct longline_result r;
	char *out, *reply, w[ORIGIN_ESC];
	size_t outlen;

	switch (longline_fix(*msg, *msglen, &out, &outlen, &r)) {
	case LONGLINE_OK:
		return;
	case LONGLINE_FIXED:
		log_info("longline id=%s line=%zu length=%zu action=%s size=%zu", id, r.line,
		    r.longest, r.encoding, outlen);
		free(*msg);
		*msg = out;
		*msglen = outlen;
		return;
	case LONGLINE_REFUSE:
		reply = xasprintf("554 5.6.0 %s", r.why);
		log_warnx("longline id=%s line=%zu length=%zu action=bounce reason=\"%s\"", id,
		    r.line, r.longest, log_printable(r.why, strlen(r.why), w, sizeof(w)));
		refuse_all(e, reply);
		free(reply);
		return;
	}
}

/* Apply the daemon's decisions to a message just parsed (see pickup_int.h). */
void
pickup_originate(struct pickup_policies *pp, enum pickup_source src, const char *id,
    struct pickup_msg *m)
{
	const struct rewrite_policy *p = policy_now(pp);
	struct rewrite_changes ch = { NULL, 0 };

	if (p != NULL) {
		rewrite_message(p, src == PICKUP_SRC_MAILDROP, &m->e, &m->msg, &m->msglen, &ch);
		log_changes(id, &ch);
		rewrite_changes_free(&ch);
	}
	fix_long_lines(id, &m->e, &m->msg, &m->msglen);
}
