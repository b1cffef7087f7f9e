/*
 * Unit tests for outbound/retry.c, the retry policy, as tables: the wait
 * doubles from retry_min to retry_max, the jitter adds less than a tenth,
 * a message expires at max_queue_lifetime exactly, one "delayed" notice
 * and only one, <> is never sent a notice (its failure goes to the
 * postmaster: a bounce decision, see dsn.c), only the failed recipients
 * are reported in a bounce.
 */
#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check_main.h"
#include "retry.h"

#define LIFE	432000		/* max_queue_lifetime: 5 days */
#define WARN	14400		/* delay_warning: 4 hours */

/* The configuration of the tables (the defaults of outbound.conf). */
static struct outbound_config
cfg_make(unsigned rmin, unsigned rmax, unsigned life, unsigned warn)
{
	struct outbound_config c;

	memset(&c, 0, sizeof(c));
	c.retry_min = rmin;
	c.retry_max = rmax;
	c.max_queue_lifetime = life;
	c.delay_warning = warn;
	return c;
}

/* An entry from a state string, one letter a recipient: P pending,
 * D delivered, F failed. */
static void
entry_make(struct queue_entry *e, const char *sender, const char *states, int64_t created,
    unsigned attempts)
{
	size_t i;

	memset(e, 0, sizeof(*e));
	snprintf(e->id, sizeof(e->id), "0123456789abcdef");
	e->sender = strdup(sender);
	e->created = created;
	e->attempts = attempts;
	e->nrcpts = strlen(states);
	e->rcpts = calloc(e->nrcpts, sizeof(*e->rcpts));
	for (i = 0; i < e->nrcpts; i++) {
		char addr[48];

		snprintf(addr, sizeof(addr), "r%zu@example.org", i);
		e->rcpts[i].addr = strdup(addr);
		e->rcpts[i].state = states[i] == 'D' ? QUEUE_RCPT_DELIVERED :
		    states[i] == 'F' ? QUEUE_RCPT_FAILED : QUEUE_RCPT_PENDING;
	}
}

/* retry_backoff without jitter: attempts -> seconds. */
static const struct {
	unsigned rmin, rmax, attempts;
	int64_t want;
} backoff_rows[] = {
	{ 60, 3600, 0, 60 }, { 60, 3600, 1, 60 }, { 60, 3600, 2, 120 },
	{ 60, 3600, 3, 240 }, { 60, 3600, 4, 480 }, { 60, 3600, 5, 960 },
	{ 60, 3600, 6, 1920 }, { 60, 3600, 7, 3600 }, { 60, 3600, 8, 3600 },
	{ 60, 3600, 1000, 3600 },			/* capped, no overflow */
	{ 1, 3600, 1, 1 }, { 1, 3600, 4, 8 }, { 1, 3600, 13, 3600 },
	{ 0, 3600, 1, 1 }, { 0, 3600, 3, 4 },		/* retry_min 0: 1 s */
	{ 100, 50, 1, 50 }, { 100, 50, 5, 50 },		/* retry_min over the cap */
	{ 7, 7, 9, 7 },
};

START_TEST(backoff_doubling_and_cap)
{
	struct outbound_config c = cfg_make(backoff_rows[_i].rmin, backoff_rows[_i].rmax,
	    LIFE, WARN);

	ck_assert_int_eq(retry_backoff(&c, backoff_rows[_i].attempts, 0),
	    backoff_rows[_i].want);
}
END_TEST

/* The jitter: under a tenth of the wait, reached; none below 10 s. */
START_TEST(backoff_jitter_bound)
{
	static const uint64_t rnds[] = { 0, 1, 5, 9, 10, 11, 359, 360, 361, 12345,
	    (uint64_t)RAND_MAX, UINT64_MAX };
	struct outbound_config c = cfg_make(backoff_rows[_i].rmin, backoff_rows[_i].rmax,
	    LIFE, WARN);
	int64_t base = backoff_rows[_i].want, got, top = base;
	size_t k;

	for (k = 0; k < sizeof(rnds) / sizeof(rnds[0]); k++) {
		got = retry_backoff(&c, backoff_rows[_i].attempts, rnds[k]);
		ck_assert_int_ge(got, base);
		if (base < 10)
			ck_assert_int_eq(got, base);
		else
			ck_assert_int_lt(got, base + base / 10);
		if (got > top)
			top = got;
	}
	if (base >= 10) {	/* the bound itself is reached */
		ck_assert_int_eq(retry_backoff(&c, backoff_rows[_i].attempts,
		    (uint64_t)(base / 10 - 1)), base + base / 10 - 1);
		ck_assert_int_eq(retry_backoff(&c, backoff_rows[_i].attempts,
		    (uint64_t)(base / 10)), base);	/* modulo, not a cap */
	}
}
END_TEST

/* retry_decide: one row per situation (rnd 0: no jitter). */
static const struct {
	const char *what;
	const char *sender, *states;
	int64_t now;
	unsigned attempts;
	bool warned, bounced;
	unsigned warn;			/* delay_warning */
	enum retry_action action;
	int64_t next;			/* -1: not checked */
	size_t ndelivered, nfailed;
} decide_rows[] = {
	{ "first retry", "a@x", "P", 100, 1, false, false, WARN, RETRY_REQUEUE, 160, 0, 0 },
	{ "third retry", "a@x", "PD", 100, 3, false, false, WARN, RETRY_REQUEUE, 340, 0, 0 },
	{ "never tried", "a@x", "P", 100, 0, false, false, WARN, RETRY_REQUEUE, 160, 0, 0 },
	{ "capped by lifetime", "a@x", "P", LIFE - 10, 10, true, false, WARN,
	    RETRY_REQUEUE, LIFE, 0, 0 },
	{ "a second before expiry", "a@x", "P", LIFE - 1, 10, true, false, WARN,
	    RETRY_REQUEUE, LIFE, 0, 0 },
	{ "expired: bounced", "a@x", "P", LIFE, 10, true, false, WARN,
	    RETRY_BOUNCE, -1, 0, 1 },
	{ "expired long ago", "a@x", "PP", LIFE * 3, 10, true, false, WARN,
	    RETRY_BOUNCE, -1, 0, 2 },
	{ "expired, from <>: postmaster", "", "P", LIFE, 10, false, false, WARN, RETRY_BOUNCE, -1, 0, 1 },
	{ "all delivered", "a@x", "DD", 100, 1, false, false, WARN, RETRY_REMOVE, -1, 2, 0 },
	{ "one failed", "a@x", "DFD", 100, 1, false, false, WARN, RETRY_BOUNCE, -1, 2, 1 },
	{ "failed, from <>: postmaster", "", "F", 100, 1, false, false, WARN, RETRY_BOUNCE, -1, 0, 1 },
	{ "failed, from <>, told already", "", "F", 100, 1, false, true, WARN, RETRY_REMOVE, -1, 0, 1 },
	{ "failed, bounced already", "a@x", "F", 100, 1, false, true, WARN,
	    RETRY_REMOVE, -1, 0, 1 },
	{ "failed but one pending", "a@x", "FP", 100, 1, false, false, WARN,
	    RETRY_REQUEUE, 160, 0, 0 },
	{ "a second before the warning", "a@x", "P", WARN - 1, 1, false, false, WARN,
	    RETRY_REQUEUE, WARN, 0, 0 },
	{ "delay warning due", "a@x", "P", WARN, 1, false, false, WARN,
	    RETRY_WARN, WARN + 60, 0, 0 },
	{ "delay warning late", "a@x", "PF", WARN + 5000, 4, false, false, WARN,
	    RETRY_WARN, WARN + 5000 + 480, 0, 0 },
	{ "delay warning, from <>", "", "P", WARN, 1, false, false, WARN,
	    RETRY_REQUEUE, WARN + 60, 0, 0 },
	{ "delay warning sent", "a@x", "P", WARN, 1, true, false, WARN,
	    RETRY_REQUEUE, WARN + 60, 0, 0 },
	{ "delay warning off", "a@x", "P", WARN, 1, false, false, 0,
	    RETRY_REQUEUE, WARN + 60, 0, 0 },
	{ "next attempt at the warning", "a@x", "P", WARN - 100, 10, false, false, WARN,
	    RETRY_REQUEUE, WARN, 0, 0 },
	{ "... not for <>", "", "P", WARN - 100, 10, false, false, WARN,
	    RETRY_REQUEUE, WARN - 100 + 3600, 0, 0 },
	{ "... not once sent", "a@x", "P", WARN - 100, 10, true, false, WARN,
	    RETRY_REQUEUE, WARN - 100 + 3600, 0, 0 },
};

START_TEST(decide_table)
{
	struct outbound_config c = cfg_make(60, 3600, LIFE, decide_rows[_i].warn);
	struct retry_decision d;
	struct queue_entry e;

	entry_make(&e, decide_rows[_i].sender, decide_rows[_i].states, 0,
	    decide_rows[_i].attempts);
	e.delay_warned = decide_rows[_i].warned;
	e.bounced = decide_rows[_i].bounced;
	retry_decide(&e, &c, decide_rows[_i].now, 0, &d);
	ck_assert_msg(d.action == decide_rows[_i].action, "%s: action %d", decide_rows[_i].what,
	    (int)d.action);
	if (decide_rows[_i].next >= 0) {
		ck_assert_int_eq(d.next, decide_rows[_i].next);
		ck_assert_int_eq(e.next_attempt, decide_rows[_i].next);
	}
	if (d.action == RETRY_BOUNCE || d.action == RETRY_REMOVE) {
		ck_assert_uint_eq(d.ndelivered, decide_rows[_i].ndelivered);
		ck_assert_uint_eq(d.nfailed, decide_rows[_i].nfailed);
	}
	ck_assert(e.delay_warned == decide_rows[_i].warned);	/* the caller's to set */
	queue_entry_free(&e);
}
END_TEST

/* Expiry fails the pending recipients only, saying why, with their last
 * reply; a delivered one keeps its state and reply. */
START_TEST(expiry_at_lifetime)
{
	struct outbound_config c = cfg_make(60, 3600, LIFE, WARN);
	struct queue_entry e;

	entry_make(&e, "a@x", "PDPF", 1000, 7);
	e.rcpts[0].reply = strdup("450 4.2.0 mailbox busy");
	e.rcpts[1].reply = strdup("250 ok");
	e.rcpts[3].reply = strdup("550 no such user");
	ck_assert(!retry_expired(&e, &c, 1000 + LIFE - 1));
	ck_assert_uint_eq(retry_expire(&e, &c, 1000 + LIFE - 1, NULL, NULL), 0);
	ck_assert_uint_eq(retry_count(&e, QUEUE_RCPT_PENDING), 2);
	ck_assert(retry_expired(&e, &c, 1000 + LIFE));
	ck_assert_uint_eq(retry_expire(&e, &c, 1000 + LIFE, NULL, NULL), 2);
	ck_assert_uint_eq(retry_count(&e, QUEUE_RCPT_PENDING), 0);
	ck_assert_uint_eq(retry_count(&e, QUEUE_RCPT_FAILED), 3);
	ck_assert_str_eq(e.rcpts[0].reply, RETRY_EXPIRED_REPLY "; last reply: 450 4.2.0 mailbox busy");
	ck_assert_int_eq(e.rcpts[1].state, QUEUE_RCPT_DELIVERED);
	ck_assert_str_eq(e.rcpts[1].reply, "250 ok");
	ck_assert_str_eq(e.rcpts[2].reply, RETRY_EXPIRED_REPLY);
	ck_assert_str_eq(e.rcpts[3].reply, "550 no such user");
	ck_assert_uint_eq(retry_expire(&e, &c, 1000 + LIFE + 1, NULL, NULL), 0);	/* once */
	queue_entry_free(&e);
}
END_TEST

/* retry_expire's callback sees exactly the recipients failed by it. */
static void
count_expired(void *arg, const struct queue_entry *e, const struct queue_rcpt *r)
{
	size_t *n = arg;

	ck_assert_int_eq(r->state, QUEUE_RCPT_FAILED);
	ck_assert(r >= e->rcpts && r < e->rcpts + e->nrcpts);
	ck_assert(strncmp(r->reply, RETRY_EXPIRED_REPLY, strlen(RETRY_EXPIRED_REPLY)) == 0);
	(*n)++;
}

START_TEST(expiry_callback)
{
	struct outbound_config c = cfg_make(60, 3600, LIFE, WARN);
	struct queue_entry e;
	size_t n = 0;

	entry_make(&e, "a@x", "FPDPP", 0, 3);
	ck_assert_uint_eq(retry_expire(&e, &c, LIFE, count_expired, &n), 3);
	ck_assert_uint_eq(n, 3);
	queue_entry_free(&e);
}
END_TEST

/*
 * A message that never gets through, tried whenever it is due, from a
 * sender (one "delayed" notice, at delay_warning exactly, then a bounce at
 * max_queue_lifetime) and from <> (no delay notice; at the end the
 * postmaster's notice).
 */
START_TEST(one_delay_warning)
{
	static const struct {
		const char *sender;
		unsigned warn;
		size_t warnings;
		enum retry_action last;
	} rows[] = {
		{ "a@x", WARN, 1, RETRY_BOUNCE },
		{ "", WARN, 0, RETRY_BOUNCE },	/* to the postmaster */
		{ "a@x", 0, 0, RETRY_BOUNCE },
		{ "a@x", LIFE + 1, 0, RETRY_BOUNCE },	/* never reached */
	};
	struct outbound_config c = cfg_make(60, 3600, LIFE, rows[_i].warn);
	struct retry_decision d;
	struct queue_entry e;
	size_t warnings = 0, steps = 0;
	int64_t now = 5000;

	entry_make(&e, rows[_i].sender, "PP", now, 0);
	for (;;) {
		e.attempts++;
		retry_decide(&e, &c, now, (uint64_t)steps * 7919, &d);
		if (d.action == RETRY_BOUNCE || d.action == RETRY_REMOVE)
			break;
		if (d.action == RETRY_WARN) {
			ck_assert_int_eq(now, e.created + (int64_t)rows[_i].warn);
			e.delay_warned = true;
			warnings++;
		}
		ck_assert_int_gt(d.next, now);
		ck_assert_int_le(d.next, e.created + LIFE);
		now = d.next;
		ck_assert_uint_lt(++steps, 1000);
	}
	ck_assert_int_eq(now, e.created + LIFE);	/* tried at the very end */
	ck_assert_uint_eq(warnings, rows[_i].warnings);
	ck_assert_int_eq(d.action, rows[_i].last);
	ck_assert_uint_eq(d.nfailed, 2);
	queue_entry_free(&e);
}
END_TEST

/* Only the failed recipients make a bounce, and only once nothing is
 * pending; delivered ones are counted apart. */
START_TEST(only_failed_bounced)
{
	static const struct {
		const char *states;
		enum retry_action action;
		size_t ndelivered, nfailed;
	} rows[] = {
		{ "D", RETRY_REMOVE, 1, 0 },
		{ "F", RETRY_BOUNCE, 0, 1 },
		{ "DDDF", RETRY_BOUNCE, 3, 1 },
		{ "FDFD", RETRY_BOUNCE, 2, 2 },
		{ "FP", RETRY_REQUEUE, 0, 0 },
		{ "DP", RETRY_REQUEUE, 0, 0 },
		{ "DDDD", RETRY_REMOVE, 4, 0 },
	};
	struct outbound_config c = cfg_make(60, 3600, LIFE, WARN);
	struct retry_decision d;
	struct queue_entry e;

	entry_make(&e, "a@x", rows[_i].states, 0, 1);
	retry_decide(&e, &c, 100, 0, &d);
	ck_assert_int_eq(d.action, rows[_i].action);
	ck_assert_uint_eq(d.ndelivered, rows[_i].ndelivered);
	ck_assert_uint_eq(d.nfailed, rows[_i].nfailed);
	queue_entry_free(&e);
}
END_TEST

#define ROWS(a)	((int)(sizeof(a) / sizeof((a)[0])))

/* The suite (run by check_main.c). */
Suite *
unit_suite(void)
{
	Suite *s = suite_create("retry");
	TCase *tc = tcase_create("retry");

	tcase_add_loop_test(tc, backoff_doubling_and_cap, 0, ROWS(backoff_rows));
	tcase_add_loop_test(tc, backoff_jitter_bound, 0, ROWS(backoff_rows));
	tcase_add_loop_test(tc, decide_table, 0, ROWS(decide_rows));
	tcase_add_test(tc, expiry_at_lifetime);
	tcase_add_test(tc, expiry_callback);
	tcase_add_loop_test(tc, one_delay_warning, 0, 4);
	tcase_add_loop_test(tc, only_failed_bounced, 0, 7);
	suite_add_tcase(s, tc);
	return s;
}
