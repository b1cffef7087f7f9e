/*
 * Unit tests for mailfile: the trace block of a stored message (exact
 * text, LF line ends, Delivered-To per recipient of the mailbox, "for"
 * with one recipient only, TLS line, peer text made safe) and the CRLF ->
 * LF conversion (table: every shape of CR and LF, and the whole of a
 * larger message compared with a reference done byte by byte).
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

static const struct delivery_rcpt rcpts[] = {
	{ "alice@example.com", "alice" },
	{ "a.smith@example.com", "alice" },
	{ "bob@example.com", "bob" },
};

/* A request for the rcpts above from a plain ESMTP client. */
static struct delivery_request
request(size_t nrcpts)
{
	struct delivery_request r = {
		.queue_id = "Q1", .helo = "client.test", .client_ip = "192.0.2.1",
		.hostname = "gw-in.test", .mail_from = "s@client.test",
		.rcpts = rcpts, .nrcpts = nrcpts, .protocol = "ESMTP",
	};

	return r;
}

/* The block for bob (one recipient): "for <bob@...>", LF only. */
START_TEST(test_header_one_rcpt)
{
	struct delivery_request r = request(3);
	size_t len;
	char *h = mailfile_header(&r, "bob", NOW, &len);

	ck_assert_str_eq(h,
	    "Return-Path: <s@client.test>\n"
	    "Delivered-To: bob@example.com\n"
	    "Received: from client.test ([192.0.2.1])\n"
	    "\tby gw-in.test (smtpgate) with ESMTP id Q1\n"
	    "\tfor <bob@example.com>; Fri, 04 Dec 2026 10:20:30 +0000\n");
	ck_assert_uint_eq(len, strlen(h));
	ck_assert_ptr_null(strchr(h, '\r'));
	free(h);
}
END_TEST

/* Two recipients in alice: two Delivered-To, no "for"; TLS; bad HELO. */
START_TEST(test_header_two_rcpts_tls)
{
	struct delivery_request r = request(3);
	size_t len;
	char *h;

	r.tls_version = "TLSv1.3";
	r.tls_cipher = "TLS_AES_256_GCM_SHA384";
	r.helo = "evil (x)\r\nX-Injected: 1";
	r.client_ip = "2001:db8::1";
	r.mail_from = "";
	h = mailfile_header(&r, "alice", NOW, &len);
	ck_assert_str_eq(h,
	    "Return-Path: <>\n"
	    "Delivered-To: alice@example.com\n"
	    "Delivered-To: a.smith@example.com\n"
	    "Received: from evil??x???X-Injected:?1 ([IPv6:2001:db8::1])\n"
	    "\tby gw-in.test (smtpgate) with ESMTP id Q1\n"
	    "\t(using TLSv1.3 with cipher TLS_AES_256_GCM_SHA384)\n"
	    "\t; Fri, 04 Dec 2026 10:20:30 +0000\n");
	ck_assert_uint_eq(len, strlen(h));
	free(h);
}
END_TEST

struct lf_case {
	const char *in, *out;
};

static const struct lf_case lf_cases[] = {
	{ "", "" },
	{ "no line end", "no line end" },
	{ "a\r\n", "a\n" },
	{ "a\r\nb\r\n", "a\nb\n" },
	{ "\r\n\r\n", "\n\n" },
	{ "a\nb\n", "a\nb\n" },			/* LF already */
	{ "a\rb\r\n", "a\rb\n" },		/* a lone CR stays */
	{ "a\r", "a\r" },			/* CR at the very end */
	{ "\r\r\n", "\r\n" },
	{ "\r\n\r", "\n\r" },
	{ "x\r\n.\r\n", "x\n.\n" },
	{ "\n\r", "\n\r" },
};

/* Each table case converted in place. */
START_TEST(test_to_lf_table)
{
	const struct lf_case *c = &lf_cases[_i];
	size_t len = strlen(c->in);
	char *buf = malloc(len + 1);

	memcpy(buf, c->in, len + 1);
	len = mailfile_to_lf(buf, len);
	ck_assert_uint_eq(len, strlen(c->out));
	ck_assert_mem_eq(buf, c->out, len);
	free(buf);
}
END_TEST

/* A big pseudo-random message against a byte-at-a-time reference. */
START_TEST(test_to_lf_big)
{
	size_t n = 1 << 20, len, k = 0;
	char *buf = malloc(n), *ref = malloc(n);
	unsigned x = 12345;

	for (size_t i = 0; i < n; i++) {
		x = x * 1103515245 + 12345;
		unsigned v = (x >> 16) % 64;
		buf[i] = v == 0 ? '\r' : v == 1 ? '\n' : 'a' + (char)(v % 26);
		if (v == 2 && i + 1 < n) {	/* plenty of real CRLFs */
			buf[i++] = '\r';
			buf[i] = '\n';
		}
	}
	for (size_t i = 0; i < n; i++)
		if (!(buf[i] == '\r' && i + 1 < n && buf[i + 1] == '\n'))
			ref[k++] = buf[i];
	len = mailfile_to_lf(buf, n);
	ck_assert_uint_eq(len, k);
	ck_assert_int_eq(memcmp(buf, ref, k), 0);
	free(buf);
	free(ref);
}
END_TEST

/* Convert in[0..n) in pieces of `piece` bytes (0: whole) into out. */
static size_t
to_lf_pieces(const char *in, size_t n, size_t piece, char *out)
{
	struct mailfile_lf st = { 0 };
	size_t o = 0, off = 0;

	if (piece == 0)
		piece = n ? n : 1;
	while (off < n) {
		size_t k = n - off < piece ? n - off : piece;

		o += mailfile_to_lf_piece(&st, in + off, k, out + o, 0);
		off += k;
	}
	return o + mailfile_to_lf_piece(&st, in, 0, out + o, 1);
}

/* Every table case fed whole, byte by byte and in 2- and 3-byte pieces
 * gives what mailfile_to_lf gives. */
START_TEST(test_to_lf_pieces_table)
{
	const struct lf_case *c = &lf_cases[_i];
	size_t len = strlen(c->in), pieces[] = { 0, 1, 2, 3 };
	char out[64];

	for (size_t i = 0; i < sizeof(pieces) / sizeof(pieces[0]); i++) {
		size_t n = to_lf_pieces(c->in, len, pieces[i], out);

		ck_assert_msg(n == strlen(c->out) && memcmp(out, c->out, n) == 0,
		    "case %d piece %zu", _i, pieces[i]);
	}
}
END_TEST

/* A big pseudo-random body in 1-, 7- and 65536-byte pieces. */
START_TEST(test_to_lf_pieces_big)
{
	size_t n = 1 << 18, pieces[] = { 1, 7, 65536 };
	char *in = malloc(n), *ref = malloc(n), *out = malloc(n + 1);
	unsigned x = 777;
	size_t rlen;

	for (size_t i = 0; i < n; i++) {
		x = x * 1103515245 + 12345;
		unsigned v = (x >> 16) % 8;
		in[i] = v == 0 ? '\r' : v == 1 ? '\n' : 'a' + (char)v;
	}
	memcpy(ref, in, n);
	rlen = mailfile_to_lf(ref, n);
	for (size_t i = 0; i < sizeof(pieces) / sizeof(pieces[0]); i++) {
		size_t o = to_lf_pieces(in, n, pieces[i], out);

		ck_assert_uint_eq(o, rlen);
		ck_assert_int_eq(memcmp(out, ref, o), 0);
	}
	free(in);
	free(ref);
	free(out);
}
END_TEST

/* The suite. */
Suite *
unit_suite(void)
{
	Suite *s = suite_create("mailfile");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_header_one_rcpt);
	tcase_add_test(tc, test_header_two_rcpts_tls);
	tcase_add_loop_test(tc, test_to_lf_table, 0, sizeof(lf_cases) / sizeof(lf_cases[0]));
	tcase_add_test(tc, test_to_lf_big);
	tcase_add_loop_test(tc, test_to_lf_pieces_table, 0,
	    sizeof(lf_cases) / sizeof(lf_cases[0]));
	tcase_add_test(tc, test_to_lf_pieces_big);
	suite_add_tcase(s, tc);
	return s;
}
