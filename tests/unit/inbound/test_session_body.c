/*
 * Unit tests for the session's body emission (body_memory_limit,
 * body_write, body_drop; issue 17).  Each case is input bytes -> the
 * bodies of the messages raised (whether each was spilled) and the count
 * of body_drop calls; every case is fed whole, one byte at a time and in
 * 7-byte pieces, and after every feed the body the session holds in
 * memory must be within the limit.  The driver behaves like conn.c: what
 * body_write receives is the spill file, handed over with the message.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check_main.h"
#include "session.h"

#define TXN "EHLO c.test\r\nMAIL FROM:<a@x.test>\r\nRCPT TO:<b@y.test>\r\n"
#define LIMIT 16

/* What the conn side sees: the spill file, drops, the messages. */
struct sink {
	char spill[4096];
	size_t spill_len;
	unsigned drops;
	unsigned begun, handed;	/* spill files begun, handed over with a message */
	bool discard;		/* keep no copy (big bodies) */
	char got[8192];		/* "[S:body]" or "[M:body]" per message */
	size_t got_len;
};

/* body_write: append to the "spill file". */
static void
sink_write(void *arg, const char *p, size_t n)
{
	struct sink *k = arg;

	if (k->spill_len == 0)
		k->begun++;
	if (k->discard) {
		k->spill_len = n ? 1 : 0;
		return;
	}
	ck_assert_uint_le(k->spill_len + n, sizeof(k->spill));
	memcpy(k->spill + k->spill_len, p, n);
	k->spill_len += n;
}

/* body_drop: the spill file is removed. */
static void
sink_drop(void *arg)
{
	struct sink *k = arg;

	k->drops++;
	k->spill_len = 0;
}

/* Every recipient exists. */
static int
rcpt_ok(void *arg, const char *addr)
{
	return 0;
}

/* Append text to the record of messages. */
static void
got_add(struct sink *k, const char *p, size_t n)
{
	ck_assert_uint_lt(k->got_len + n, sizeof(k->got));
	memcpy(k->got + k->got_len, p, n);
	k->got_len += n;
	k->got[k->got_len] = '\0';
}

/* A message is raised: record its body from memory or the spill file. */
static void
take_message(struct session *s, struct sink *k)
{
	const struct session_message *m = session_message(s);
	size_t len;
	char *b;

	ck_assert_ptr_nonnull(m);
	if (m->body_spilled) {
		ck_assert_ptr_null(m->body);
		ck_assert_uint_eq(m->body_len, k->spill_len);
		ck_assert_ptr_null(session_take_body(s, &len));
		ck_assert_uint_eq(len, k->spill_len);
		got_add(k, "[S:", 3);
		got_add(k, k->spill, k->spill_len);
		k->spill_len = 0;	/* handed over: delivery removes it */
		k->handed++;
	} else {
		b = session_take_body(s, &len);
		ck_assert_uint_eq(len, m->body_len);
		got_add(k, "[M:", 3);
		got_add(k, b, len);
		free(b);
	}
	got_add(k, "]", 1);
	session_delivered(s, SESSION_DELIVERED, "Q1");
}

/* A session with the memory limit and the sink. */
static struct session *
new_session(struct sink *k, size_t limit, unsigned max_size)
{
	struct session_params p = {
		.hostname = "mx.test",
		.max_line = 512,
		.max_message_size = max_size,
		.max_recipients = 10,
		.max_errors = 50,
		.rcpt_check = rcpt_ok,
		.body_memory_limit = limit,
		.body_write = sink_write,
		.body_drop = sink_drop,
		.arg = k,
	};
	struct session *s = session_new(&p);

	session_greet(s, SESSION_GREET_OK);
	return s;
}

/* Feed in pieces of `piece` bytes (0: whole), like conn.c does: bytes
 * "arrive" piece by piece, unconsumed ones are fed again. */
static void
run(struct session *s, struct sink *k, const char *in, size_t len, size_t piece)
{
	size_t off = 0, avail = 0, o;

	for (;;) {
		if (off == avail) {	/* all that arrived is consumed: more */
			if (avail == len)
				break;
			avail = piece == 0 || avail + piece > len ? len : avail + piece;
		}
		size_t used = session_feed(s, in + off, avail - off);

		ck_assert_uint_le(session_body_memory(s), 8192);
		off += used;
		(void)session_output(s, &o);
		session_output_drain(s, o);
		if (session_event(s) == SESSION_EV_MESSAGE)
			take_message(s, k);
		else if (session_event(s) == SESSION_EV_CLOSE)
			break;
		else if (used == 0) {	/* a partial line: wait for more */
			if (avail == len)
				break;
			avail = avail + piece > len ? len : avail + piece;
		}
	}
}

struct bcase {
	const char *name;
	const char *in;
	unsigned max_size;	/* 0: 1000 */
	const char *want;	/* the messages */
	unsigned drops;
	bool free_early;	/* session_free before the input ends */
};

static const struct bcase cases[] = {
	{ "small body stays in memory",
	  TXN "DATA\r\nshort\r\n.\r\n", 0, "[M:short\r\n]", 0, false },
	{ "body past the limit is spilled",
	  TXN "DATA\r\n0123456789\r\nabcdefghij\r\n..dot\r\n.\r\n", 0,
	  "[S:0123456789\r\nabcdefghij\r\n.dot\r\n]", 0, false },
	{ "exactly the limit stays in memory",
	  TXN "DATA\r\n0123456789abcd\r\n.\r\n", 0, "[M:0123456789abcd\r\n]", 0, false },
	{ "BDAT chunks spill across chunks",
	  TXN "BDAT 10\r\n0123456789BDAT 10\r\nabcdefghijBDAT 3 LAST\r\nxyz", 0,
	  "[S:0123456789abcdefghijxyz]", 0, false },
	{ "spilled then too big: refused, dropped",
	  TXN "DATA\r\n0123456789012345678901234567890123456789\r\n.\r\nNOOP\r\n", 30,
	  "", 1, false },
	{ "spilled then a bare LF: refused, dropped",
	  TXN "DATA\r\n0123456789012345678\n9\r\n.\r\n", 0, "", 1, false },
	{ "a spilled message, then one in memory",
	  TXN "DATA\r\n0123456789012345678\r\n.\r\nMAIL FROM:<a@x.test>\r\n"
	  "RCPT TO:<c@y.test>\r\nDATA\r\nsmall\r\n.\r\n", 0,
	  "[S:0123456789012345678\r\n][M:small\r\n]", 0, false },
	{ "cut off while spilling: dropped at free",
	  TXN "DATA\r\n0123456789012345678901234\r\n", 0, "", 1, true },
	{ "BDAT spilled then RSET: dropped",
	  TXN "BDAT 20\r\n01234567890123456789RSET\r\n", 0, "", 1, false },
};

/* Each case whole, byte by byte and in 7-byte pieces. */
START_TEST(test_body_cases)
{
	const struct bcase *c = &cases[_i];
	size_t pieces[] = { 0, 1, 7 };

	for (size_t i = 0; i < sizeof(pieces) / sizeof(pieces[0]); i++) {
		struct sink k = { 0 };
		struct session *s = new_session(&k, LIMIT, c->max_size ? c->max_size : 1000);

		run(s, &k, c->in, strlen(c->in), pieces[i]);
		if (!c->free_early)
			ck_assert_int_eq(session_event(s), SESSION_EV_NONE);
		session_free(s);
		ck_assert_msg(strcmp(k.got, c->want) == 0, "%s (piece %zu): got \"%s\"",
		    c->name, pieces[i], k.got);
		/* every spill file begun is handed over or dropped, once */
		ck_assert_msg(k.begun == k.handed + k.drops, "%s (piece %zu): %u begun, "
		    "%u handed, %u drops", c->name, pieces[i], k.begun, k.handed, k.drops);
		ck_assert_msg(k.drops <= c->drops, "%s (piece %zu): %u drops", c->name,
		    pieces[i], k.drops);
		if (pieces[i] == 1)	/* byte by byte, the limit is always met first */
			ck_assert_uint_eq(k.drops, c->drops);
		ck_assert_uint_eq(k.spill_len, 0);
	}
}
END_TEST

/* Memory is short: the body held so far is spilled at once. */
START_TEST(test_spill_now)
{
	struct sink k = { 0 };
	struct session *s = new_session(&k, 1000, 5000);
	const char *a = TXN "DATA\r\nfirst part\r\n", *b = "second part\r\n.\r\n";

	ck_assert_uint_eq(session_spill_now(s), 0);	/* no body yet */
	run(s, &k, a, strlen(a), 0);
	ck_assert_uint_gt(session_body_memory(s), 0);
	ck_assert_uint_gt(session_spill_now(s), 0);
	ck_assert_uint_eq(session_body_memory(s), 0);
	ck_assert_uint_eq(k.spill_len, 12);
	ck_assert_uint_eq(session_spill_now(s), 0);	/* once */
	run(s, &k, b, strlen(b), 0);
	ck_assert_str_eq(k.got, "[S:first part\r\nsecond part\r\n]");
	session_free(s);
	ck_assert_uint_eq(k.drops, 0);
}
END_TEST

/* A big body never holds more than the limit in memory. */
START_TEST(test_big_body_bounded)
{
	struct sink k = { .discard = true };
	struct session *s = new_session(&k, 8192, 0);
	char line[1000];
	size_t total = 0, o;

	memset(line, 'x', sizeof(line) - 2);
	memcpy(line + sizeof(line) - 2, "\r\n", 2);
	run(s, &k, TXN "DATA\r\n", strlen(TXN "DATA\r\n"), 0);
	for (int i = 0; i < 200; i++) {
		ck_assert_uint_eq(session_feed(s, line, sizeof(line)), sizeof(line));
		total += sizeof(line);
		ck_assert_uint_le(session_body_memory(s), 8192);
	}
	(void)session_output(s, &o);
	ck_assert_uint_gt(total, 8192);
	session_free(s);
	ck_assert_uint_eq(k.drops, 1);
}
END_TEST

/* The suite (run by check_main.c). */
Suite *
unit_suite(void)
{
	Suite *s = suite_create("session-body");
	TCase *tc = tcase_create("core");

	tcase_add_loop_test(tc, test_body_cases, 0, (int)(sizeof(cases) / sizeof(cases[0])));
	tcase_add_test(tc, test_spill_now);
	tcase_add_test(tc, test_big_body_bounded);
	suite_add_tcase(s, tc);
	return s;
}
