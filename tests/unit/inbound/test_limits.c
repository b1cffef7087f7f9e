/*
 * Unit tests of inbound's pure limits (issue 17): deadline_check (the
 * command, DATA with its rate rule, TLS phases), fairshare_key (network
 * keys, v4-mapped IPv6, relay hosts) and the logflood summariser.  Tables,
 * one row per case.
 */
#include <arpa/inet.h>
#include <check.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check_main.h"
#include "config.h"
#include "deadline.h"
#include "fairshare.h"
#include "logflood.h"

/* ---- deadline_check ---- */

static const struct deadline_limits lim = {
	.command = 2, .data = 60, .min_data_rate = 1000, .data_rate_grace = 5,
	.tls_handshake = 3, .session = 100,
};

struct deadline_case {
	enum deadline_phase phase;
	uint64_t elapsed_ms, bytes;
	enum deadline_kind want;
	uint64_t wait_ms;		/* when want is DEADLINE_OK */
};

static const struct deadline_case deadline_cases[] = {
	{ DEADLINE_PHASE_NONE, 999999, 0, DEADLINE_OK, UINT64_MAX },
	{ DEADLINE_PHASE_COMMAND, 0, 0, DEADLINE_OK, 2000 },
	{ DEADLINE_PHASE_COMMAND, 1999, 50, DEADLINE_OK, 1 },
	{ DEADLINE_PHASE_COMMAND, 2000, 0, DEADLINE_COMMAND, 0 },
	{ DEADLINE_PHASE_TLS, 100, 0, DEADLINE_OK, 2900 },
	{ DEADLINE_PHASE_TLS, 3000, 0, DEADLINE_TLS, 0 },
	/* within the grace nothing is asked of the rate */
	{ DEADLINE_PHASE_DATA, 0, 0, DEADLINE_OK, 5000 },
	{ DEADLINE_PHASE_DATA, 4999, 0, DEADLINE_OK, 1 },
	/* after it, bytes must be >= rate * elapsed */
	{ DEADLINE_PHASE_DATA, 5000, 0, DEADLINE_DATA_RATE, 0 },
	{ DEADLINE_PHASE_DATA, 5000, 4999, DEADLINE_DATA_RATE, 0 },
	{ DEADLINE_PHASE_DATA, 5000, 5000, DEADLINE_DATA_RATE, 0 },
	{ DEADLINE_PHASE_DATA, 5000, 5001, DEADLINE_OK, 1 },
	{ DEADLINE_PHASE_DATA, 5000, 20000, DEADLINE_OK, 15000 },
	{ DEADLINE_PHASE_DATA, 30000, 29000, DEADLINE_DATA_RATE, 0 },
	/* the whole phase wins over a fast rate */
	{ DEADLINE_PHASE_DATA, 50000, 1000000, DEADLINE_OK, 10000 },
	{ DEADLINE_PHASE_DATA, 60000, 1000000, DEADLINE_DATA, 0 },
	{ DEADLINE_PHASE_DATA, 0, UINT64_MAX, DEADLINE_OK, 60000 },
};

START_TEST(deadline_table)
{
	const struct deadline_case *tc = &deadline_cases[_i];
	uint64_t wait = 12345;
	enum deadline_kind k = deadline_check(&lim, tc->phase, tc->elapsed_ms, tc->bytes, &wait);

	ck_assert_msg(k == tc->want, "case %d: kind %d, want %d", _i, k, tc->want);
	if (k == DEADLINE_OK)
		ck_assert_msg(wait == tc->wait_ms, "case %d: wait %llu, want %llu", _i,
		    (unsigned long long)wait, (unsigned long long)tc->wait_ms);
}
END_TEST

START_TEST(deadline_off)
{
	struct deadline_limits off = { .command = 2, .data = 10, .min_data_rate = 0 };
	uint64_t wait;

	/* no rate rule: only the whole phase */
	ck_assert_int_eq(deadline_check(&off, DEADLINE_PHASE_DATA, 9000, 0, &wait), DEADLINE_OK);
	ck_assert_uint_eq(wait, 1000);
	/* a grace of 0 still gives a fresh phase one second */
	off.min_data_rate = 10;
	ck_assert_int_eq(deadline_check(&off, DEADLINE_PHASE_DATA, 0, 0, &wait), DEADLINE_OK);
	ck_assert_uint_eq(wait, 1000);
	ck_assert_str_eq(deadline_name(DEADLINE_DATA_RATE), "data-rate");
	ck_assert_str_eq(deadline_name(DEADLINE_TLS), "tls-handshake");
	ck_assert_uint_eq(deadline_seconds(&lim, DEADLINE_SESSION), 100);
}
END_TEST

/* ---- fairshare_key ---- */

struct fair_case {
	const char *addr;		/* numeric, v4 or v6 */
	unsigned p4, p6;
	const char *key;
	bool relay;
};

static const char *const relay_entries[] = { "10.0.0.0/8", "10.1.2.3/32", "192.0.2.0/24",
	"2001:db8::10/128", "2001:db8::/32" };

static const struct fair_case fair_cases[] = {
	{ "127.0.0.1", 24, 64, "127.0.0.0/24", false },
	{ "127.0.0.255", 24, 64, "127.0.0.0/24", false },
	{ "127.0.1.7", 24, 64, "127.0.1.0/24", false },
	{ "127.0.1.7", 32, 64, "127.0.1.7/32", false },
	{ "127.0.1.7", 16, 64, "127.0.0.0/16", false },
	{ "203.0.113.77", 20, 64, "203.0.112.0/20", false },
	{ "203.0.113.77", 1, 64, "128.0.0.0/1", false },
	{ "::ffff:127.0.0.9", 24, 64, "127.0.0.0/24", false },	/* mapped: as IPv4 */
	{ "2001:db9:1:2:3:4:5:6", 24, 64, "2001:db9:1:2::/64", false },
	{ "2001:db9:1:2:3:4:5:6", 24, 48, "2001:db9:1::/48", false },
	{ "2001:db9:1:2:3:4:5:6", 24, 60, "2001:db9:1::/60", false },
	{ "2001:db9:1:2:3:4:5:6", 24, 63, "2001:db9:1:2::/63", false },
	{ "::1", 24, 128, "::1/128", false },
	/* relay hosts: an entry no wider than the prefix names one */
	{ "10.1.2.3", 24, 64, "relay 10.1.2.3/32", true },
	{ "10.1.2.4", 24, 64, "10.1.2.0/24", false },		/* only in the /8 */
	{ "192.0.2.200", 24, 64, "relay 192.0.2.0/24", true },
	{ "192.0.2.200", 28, 64, "192.0.2.192/28", false },	/* /24 wider than /28 */
	{ "::ffff:10.1.2.3", 24, 64, "relay 10.1.2.3/32", true },
	{ "2001:db8::10", 24, 64, "relay 2001:db8::10/128", true },
	{ "2001:db8::11", 24, 64, "2001:db8::/64", false },
};

/* A sockaddr for a numeric address. */
static void
fair_sockaddr(const char *text, struct sockaddr_storage *ss)
{
	memset(ss, 0, sizeof(*ss));
	if (strchr(text, ':')) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;

		s6->sin6_family = AF_INET6;
		ck_assert_int_eq(inet_pton(AF_INET6, text, &s6->sin6_addr), 1);
	} else {
		struct sockaddr_in *s4 = (struct sockaddr_in *)ss;

		s4->sin_family = AF_INET;
		ck_assert_int_eq(inet_pton(AF_INET, text, &s4->sin_addr), 1);
	}
}

START_TEST(fair_table)
{
	const struct fair_case *tc = &fair_cases[_i];
	size_t nrelay = sizeof(relay_entries) / sizeof(relay_entries[0]);
	struct config_cidr relay[sizeof(relay_entries) / sizeof(relay_entries[0])];
	struct fairshare_prefix p = { tc->p4, tc->p6 };
	struct sockaddr_storage ss;
	char key[FAIRSHARE_KEY_LEN];
	bool r;

	for (size_t i = 0; i < nrelay; i++)
		ck_assert_int_eq(config_parse_cidr(relay_entries[i], &relay[i]), 0);
	fair_sockaddr(tc->addr, &ss);
	r = fairshare_key((struct sockaddr *)&ss, &p, relay, nrelay, key, sizeof(key));
	ck_assert_msg(strcmp(key, tc->key) == 0, "case %d %s: key \"%s\", want \"%s\"", _i,
	    tc->addr, key, tc->key);
	ck_assert_msg(r == tc->relay, "case %d: relay %d", _i, r);
	/* no relay list: never a relay host */
	ck_assert(!fairshare_key((struct sockaddr *)&ss, &p, NULL, 0, key, sizeof(key)));
}
END_TEST

START_TEST(fair_unknown_family)
{
	struct sockaddr sa = { .sa_family = AF_UNIX };
	struct fairshare_prefix p = { 24, 64 };
	char key[FAIRSHARE_KEY_LEN];

	ck_assert(!fairshare_key(&sa, &p, NULL, 0, key, sizeof(key)));
	ck_assert_str_eq(key, "unknown");
}
END_TEST

/* ---- logflood ---- */

/* One step of a summariser script: a refusal (client set) or a sweep. */
struct flood_step {
	uint64_t t;
	const char *client;		/* NULL: sweep */
	const char *reason;
	int first;			/* refusal: want first (1) or counted (0) */
	const char *lines;		/* sweep: the summaries, "client reason count;..." */
	size_t held;			/* sweep: pairs still held */
};

#define R(t, c, r, f) { t, c, r, f, NULL, 0 }
#define S(t, l, h) { t, NULL, NULL, 0, l, h }

static const struct flood_step flood_script[] = {
	R(0, "a/24", "busy", 1),
	R(10, "a/24", "busy", 0),
	R(20, "a/24", "busy", 0),
	R(30, "b/24", "busy", 1),
	R(40, "a/24", "denied", 1),	/* another reason: its own pair */
	S(500, "", 3),			/* no interval over yet */
	R(900, "a/24", "busy", 0),
	S(1000, "a/24 busy 4;", 3),	/* the first included */
	S(1100, "", 3),			/* b and a/denied were alone: no summary */
	R(1200, "a/24", "busy", 0),
	R(1300, "a/24", "busy", 0),
	S(2000, "a/24 busy 2;", 3),
	S(2100, "", 1),			/* b and a/denied idle a whole interval: forgotten */
	S(3000, "", 0),			/* a quiet interval: forgotten */
	R(3100, "a/24", "busy", 1),	/* a first line again */
	R(3200, "c/24", "busy", 1),
	R(3300, "d/24", "busy", 1),	/* the table (max 3) is full now */
	R(3400, "e/24", "busy", 1),	/* counted as "other" */
	R(3500, "f/24", "busy", 0),
	S(4400, "other busy 2;", 4),
};

static char flood_out[256];

/* Sweep callback: append "client reason count;". */
static void
flood_emit(void *arg, const struct logflood_line *l)
{
	size_t n = strlen(flood_out);

	(void)arg;
	snprintf(flood_out + n, sizeof(flood_out) - n, "%s %s %llu;", l->client, l->reason,
	    (unsigned long long)l->count);
}

START_TEST(flood_table)
{
	struct logflood *f = logflood_new(1000, 3);

	for (size_t i = 0; i < sizeof(flood_script) / sizeof(flood_script[0]); i++) {
		const struct flood_step *st = &flood_script[i];

		if (st->client) {
			bool first = logflood_refused(f, st->client, st->reason, st->t);

			ck_assert_msg(first == (st->first != 0), "step %zu: first %d", i, first);
			continue;
		}
		flood_out[0] = '\0';
		size_t held = logflood_sweep(f, st->t, flood_emit, NULL);

		ck_assert_msg(strcmp(flood_out, st->lines) == 0, "step %zu: \"%s\", want \"%s\"",
		    i, flood_out, st->lines);
		ck_assert_msg(held == st->held, "step %zu: held %zu, want %zu", i, held, st->held);
	}
	logflood_free(f);
}
END_TEST

START_TEST(flood_burst_counts_all)
{
	struct logflood *f = logflood_new(10000, 256);
	unsigned firsts = 0;

	for (unsigned i = 0; i < 5000; i++)
		firsts += logflood_refused(f, "198.51.100.0/24", "busy", i);
	ck_assert_uint_eq(firsts, 1);
	flood_out[0] = '\0';
	logflood_sweep(f, 10000, flood_emit, NULL);
	ck_assert_str_eq(flood_out, "198.51.100.0/24 busy 5000;");
	logflood_free(f);
}
END_TEST

/* The suite. */
Suite *
unit_suite(void)
{
	Suite *s = suite_create("limits");
	TCase *tc = tcase_create("limits");

	tcase_add_loop_test(tc, deadline_table, 0,
	    (int)(sizeof(deadline_cases) / sizeof(deadline_cases[0])));
	tcase_add_test(tc, deadline_off);
	tcase_add_loop_test(tc, fair_table, 0, (int)(sizeof(fair_cases) / sizeof(fair_cases[0])));
	tcase_add_test(tc, fair_unknown_family);
	tcase_add_test(tc, flood_table);
	tcase_add_test(tc, flood_burst_counts_all);
	suite_add_tcase(s, tc);
	return s;
}
