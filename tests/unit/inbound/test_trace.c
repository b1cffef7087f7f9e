/*
 * Golden output of the inbound trace block (inbound/mailfile.c,
 * mailfile_header): the exact bytes of Return-Path, Delivered-To and
 * Received for a table of requests -- plain and TLS, one and several
 * recipients in a mailbox, IPv4 and IPv6 clients, the null sender, UTF-8
 * addresses (SMTPUTF8), peer text made safe and bounded -- and the shape
 * every block must have (LF only, continuation lines start with a tab).
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check_main.h"
#include "delivery.h"
#include "mailfile.h"

/* 2026-12-04 10:20:30 UTC */
#define NOW ((time_t)1796379630)
#define DATE_UTC "Fri, 04 Dec 2026 10:20:30 +0000"

static const struct delivery_rcpt rcpts_plain[] = {
	{ "alice@example.com", "alice" },
	{ "a.smith@example.com", "alice" },
	{ "bob@example.com", "bob" },
};

static const struct delivery_rcpt rcpts_utf8[] = {
	{ "j\xc3\xb6rg@b\xc3\xbc" "cher.example", "joerg" },
	{ "\xe7\x94\xa8\xe6\x88\xb7@\xe4\xbe\x8b\xe5\xad\x90.example", "yonghu" },
	{ "\"quoted local\"@example.com", "joerg" },
};

/* 300 'h's: a HELO longer than the header keeps (255 bytes). */
#define H10 "hhhhhhhhhh"
#define H100 H10 H10 H10 H10 H10 H10 H10 H10 H10 H10
#define H255 H100 H100 H10 H10 H10 H10 H10 "hhhhh"

struct trace_case {
	const char *name;
	const char *helo, *ip, *from, *proto, *tls, *cipher;
	const struct delivery_rcpt *rcpts;
	size_t nrcpts;
	const char *mailbox;
	const char *want;
};

static const struct trace_case cases[] = {
	{ "plain, IPv4, one recipient of three: for <addr>",
	  "client.test", "192.0.2.1", "s@client.test", "ESMTP", NULL, NULL,
	  rcpts_plain, 3, "bob",
	  "Return-Path: <s@client.test>\n"
	  "Delivered-To: bob@example.com\n"
	  "Received: from client.test ([192.0.2.1])\n"
	  "\tby gw-in.test (smtpgate) with ESMTP id Q1\n"
	  "\tfor <bob@example.com>; " DATE_UTC "\n" },
	{ "TLS, two recipients in one mailbox: no for",
	  "mx.client.test", "198.51.100.7", "s@client.test", "ESMTPS", "TLSv1.3",
	  "TLS_AES_256_GCM_SHA384", rcpts_plain, 3, "alice",
	  "Return-Path: <s@client.test>\n"
	  "Delivered-To: alice@example.com\n"
	  "Delivered-To: a.smith@example.com\n"
	  "Received: from mx.client.test ([198.51.100.7])\n"
	  "\tby gw-in.test (smtpgate) with ESMTPS id Q1\n"
	  "\t(using TLSv1.3 with cipher TLS_AES_256_GCM_SHA384)\n"
	  "\t; " DATE_UTC "\n" },
	{ "TLS without a cipher name",
	  "c", "192.0.2.1", "s@c.test", "ESMTPSA", "TLSv1.2", NULL,
	  rcpts_plain, 1, "alice",
	  "Return-Path: <s@c.test>\n"
	  "Delivered-To: alice@example.com\n"
	  "Received: from c ([192.0.2.1])\n"
	  "\tby gw-in.test (smtpgate) with ESMTPSA id Q1\n"
	  "\t(using TLSv1.2 with cipher unknown)\n"
	  "\tfor <alice@example.com>; " DATE_UTC "\n" },
	{ "IPv6 client, null sender",
	  "[IPv6:2001:db8::25]", "2001:db8::25", "", "ESMTP", NULL, NULL,
	  rcpts_plain, 3, "bob",
	  "Return-Path: <>\n"
	  "Delivered-To: bob@example.com\n"
	  "Received: from [IPv6:2001:db8::25] ([IPv6:2001:db8::25])\n"
	  "\tby gw-in.test (smtpgate) with ESMTP id Q1\n"
	  "\tfor <bob@example.com>; " DATE_UTC "\n" },
	{ "IPv4-mapped IPv6 client, plain SMTP (HELO)",
	  "old.client.test", "::ffff:192.0.2.9", "s@old.client.test", "SMTP", NULL, NULL,
	  rcpts_plain, 2, "alice",
	  "Return-Path: <s@old.client.test>\n"
	  "Delivered-To: alice@example.com\n"
	  "Delivered-To: a.smith@example.com\n"
	  "Received: from old.client.test ([IPv6:::ffff:192.0.2.9])\n"
	  "\tby gw-in.test (smtpgate) with SMTP id Q1\n"
	  "\t; " DATE_UTC "\n" },
	{ "UTF-8 sender and recipient (SMTPUTF8 over TLS), one in the mailbox",
	  "client.test", "192.0.2.1", "s\xc3\xa9@exa\xcc\x88mple.test", "UTF8SMTPS",
	  "TLSv1.3", "TLS_CHACHA20_POLY1305_SHA256", rcpts_utf8, 3, "yonghu",
	  "Return-Path: <s\xc3\xa9@exa\xcc\x88mple.test>\n"
	  "Delivered-To: \xe7\x94\xa8\xe6\x88\xb7@\xe4\xbe\x8b\xe5\xad\x90.example\n"
	  "Received: from client.test ([192.0.2.1])\n"
	  "\tby gw-in.test (smtpgate) with UTF8SMTPS id Q1\n"
	  "\t(using TLSv1.3 with cipher TLS_CHACHA20_POLY1305_SHA256)\n"
	  "\tfor <\xe7\x94\xa8\xe6\x88\xb7@\xe4\xbe\x8b\xe5\xad\x90.example>; " DATE_UTC "\n" },
	{ "UTF-8 and quoted local part, two in the mailbox",
	  "client.test", "192.0.2.1", "", "UTF8SMTP", NULL, NULL, rcpts_utf8, 3, "joerg",
	  "Return-Path: <>\n"
	  "Delivered-To: j\xc3\xb6rg@b\xc3\xbc" "cher.example\n"
	  "Delivered-To: \"quoted local\"@example.com\n"
	  "Received: from client.test ([192.0.2.1])\n"
	  "\tby gw-in.test (smtpgate) with UTF8SMTP id Q1\n"
	  "\t; " DATE_UTC "\n" },
	{ "HELO with spaces, parentheses, CRLF and UTF-8: each byte '?'",
	  "evil (x)\r\nX-Injected: 1 \xc3\xa9", "192.0.2.1", "s@c.test", "ESMTP", NULL, NULL,
	  rcpts_plain, 3, "bob",
	  "Return-Path: <s@c.test>\n"
	  "Delivered-To: bob@example.com\n"
	  "Received: from evil??x???X-Injected:?1??? ([192.0.2.1])\n"
	  "\tby gw-in.test (smtpgate) with ESMTP id Q1\n"
	  "\tfor <bob@example.com>; " DATE_UTC "\n" },
	{ "empty HELO: unknown",
	  "", "192.0.2.1", "s@c.test", "ESMTP", NULL, NULL, rcpts_plain, 3, "bob",
	  "Return-Path: <s@c.test>\n"
	  "Delivered-To: bob@example.com\n"
	  "Received: from unknown ([192.0.2.1])\n"
	  "\tby gw-in.test (smtpgate) with ESMTP id Q1\n"
	  "\tfor <bob@example.com>; " DATE_UTC "\n" },
	{ "a 300-byte HELO is cut to 255",
	  H255 "hhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhh", "192.0.2.1", "s@c.test",
	  "ESMTP", NULL, NULL, rcpts_plain, 3, "bob",
	  "Return-Path: <s@c.test>\n"
	  "Delivered-To: bob@example.com\n"
	  "Received: from " H255 " ([192.0.2.1])\n"
	  "\tby gw-in.test (smtpgate) with ESMTP id Q1\n"
	  "\tfor <bob@example.com>; " DATE_UTC "\n" },
	{ "no recipient in that mailbox: no Delivered-To, no for",
	  "client.test", "192.0.2.1", "s@client.test", "ESMTP", NULL, NULL,
	  rcpts_plain, 3, "carol",
	  "Return-Path: <s@client.test>\n"
	  "Received: from client.test ([192.0.2.1])\n"
	  "\tby gw-in.test (smtpgate) with ESMTP id Q1\n"
	  "\t; " DATE_UTC "\n" },
};

/* The request of case c. */
static struct delivery_request
request_of(const struct trace_case *c)
{
	struct delivery_request r = {
		.queue_id = "Q1", .helo = c->helo, .client_ip = c->ip,
		.hostname = "gw-in.test", .mail_from = c->from, .rcpts = c->rcpts,
		.nrcpts = c->nrcpts, .protocol = c->proto, .tls_version = c->tls,
		.tls_cipher = c->cipher,
	};

	return r;
}

/* Every line ends with LF (no CR); only the first three kinds of line
 * start a field, the rest are continuations starting with a tab. */
static void
check_shape(const char *h, size_t len)
{
	const char *p = h;

	ck_assert_uint_eq(len, strlen(h));
	ck_assert_ptr_null(strchr(h, '\r'));
	ck_assert_int_eq(h[len - 1], '\n');
	while (*p != '\0') {
		const char *nl = strchr(p, '\n');

		ck_assert_ptr_nonnull(nl);
		ck_assert_msg(*p == '\t' || strncmp(p, "Return-Path: ", 13) == 0 ||
		    strncmp(p, "Delivered-To: ", 14) == 0 || strncmp(p, "Received: ", 10) == 0,
		    "unexpected line start: %.20s", p);
		p = nl + 1;
	}
}

/* Each case: exactly the expected bytes, and the shape of a header. */
START_TEST(test_trace_golden)
{
	const struct trace_case *c = &cases[_i];
	struct delivery_request r = request_of(c);
	size_t len;
	char *h = mailfile_header(&r, c->mailbox, NOW, &len);

	ck_assert_msg(strcmp(h, c->want) == 0, "case %d (%s):\n got: %s\nwant: %s",
	    _i, c->name, h, c->want);
	check_shape(h, len);
	free(h);
}
END_TEST

/* The date is local time with its offset (a zone west of UTC here). */
START_TEST(test_trace_local_time)
{
	struct delivery_request r = request_of(&cases[0]);
	size_t len;
	char *h;

	setenv("TZ", "EST5", 1);
	tzset();
	h = mailfile_header(&r, "bob", NOW, &len);
	setenv("TZ", "UTC", 1);
	tzset();
	ck_assert_str_eq(h,
	    "Return-Path: <s@client.test>\n"
	    "Delivered-To: bob@example.com\n"
	    "Received: from client.test ([192.0.2.1])\n"
	    "\tby gw-in.test (smtpgate) with ESMTP id Q1\n"
	    "\tfor <bob@example.com>; Fri, 04 Dec 2026 05:20:30 -0500\n");
	free(h);
}
END_TEST

/* The suite. */
Suite *
unit_suite(void)
{
	Suite *s = suite_create("trace");
	TCase *tc = tcase_create("inbound");

	tcase_add_loop_test(tc, test_trace_golden, 0, sizeof(cases) / sizeof(cases[0]));
	tcase_add_test(tc, test_trace_local_time);
	suite_add_tcase(s, tc);
	return s;
}
