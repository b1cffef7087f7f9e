/*
 * Unit tests for outbound/pickup*.c: pickup_parse() tables, loose
 * (pickup/) and strict (maildrop/), each good case fed with LF and with
 * CRLF line ends and every prefix of it byte by byte, every rejection with
 * its reason; and pickup_take/commit/recover end to end in a temp spool:
 * copies never the producer's inode, files that are not regular or are
 * hard-linked go to bad/, simulated crashes recovered exactly once (claims
 * from pickup/ and from maildrop/), spares that are not ours removed; two
 * contexts side by side share no batch and no spare pool.
 */
#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "check_main.h"
#include "config.h"
#include "pickup.h"
#include "queue.h"
#include "rewrite.h"
#include "spooltest.h"
#include "util.h"

static const struct {
	const char *in;		/* LF line ends */
	const char *sender;
	const char *rcpts;	/* joined by '|' */
	const char *msg;	/* what is stored, LF here (CRLF in the result) */
} good[] = {
	/* 0: envelope lines with brackets */
	{ "X-Sender: <s@x.org>\nX-Receiver: <a@y.org>\nX-Receiver: <b@y.org>\n"
	  "From: s@x.org\nTo: other@z.org\nSubject: hi\n\nbody\n",
	  "s@x.org", "a@y.org|b@y.org",
	  "From: s@x.org\nTo: other@z.org\nSubject: hi\n\nbody\n" },
	/* 1: without brackets, odd case and spacing */
	{ "x-sender:s@x.org\nX-RECEIVER:   a@y.org  \nSubject: hi\n\nbody\n",
	  "s@x.org", "a@y.org", "Subject: hi\n\nbody\n" },
	/* 2: null sender */
	{ "X-Sender: <>\nX-Receiver: a@y.org\nSubject: bounce\n\nb\n",
	  "", "a@y.org", "Subject: bounce\n\nb\n" },
	/* 3: envelope from the headers; Bcc (folded) and Return-Path removed */
	{ "Return-Path: <rp@x.org>\nFrom: Alice <a@x.org>\nTo: b@y.org, Carol <c@y.org>\n"
	  "Cc: d@y.org\nBcc: e@y.org,\n f@y.org\nSubject: s\n\nbody\n",
	  "rp@x.org", "b@y.org|c@y.org|d@y.org|e@y.org|f@y.org",
	  "From: Alice <a@x.org>\nTo: b@y.org, Carol <c@y.org>\nCc: d@y.org\nSubject: s\n\nbody\n" },
	/* 4: sender from From:, duplicates merged, Bcc last with tab folding */
	{ "From: \"A, B\" <a@x.org>\nTo: b@y.org\nCc: b@Y.ORG, (c) c@y.org\n"
	  "Bcc:\n\tz@y.org\n\nBcc: in body\n",
	  "a@x.org", "b@y.org|c@y.org|z@y.org",
	  "From: \"A, B\" <a@x.org>\nTo: b@y.org\nCc: b@Y.ORG, (c) c@y.org\n\nBcc: in body\n" },
	/* 5: group with no members plus Bcc */
	{ "From: a@x.org\nTo: undisclosed-recipients:;\nBcc: x@y.org\nSubject: s\n\n",
	  "a@x.org", "x@y.org", "From: a@x.org\nTo: undisclosed-recipients:;\nSubject: s\n\n" },
	/* 6: headers only, no final line end */
	{ "From: a@x.org\nTo: b@y.org", "a@x.org", "b@y.org", "From: a@x.org\nTo: b@y.org\n" },
	/* 7: X-Receiver only: sender from the headers, To: not used */
	{ "X-Receiver: r@y.org\nFrom: a@x.org\nTo: not-used@y.org\n\nb\n",
	  "a@x.org", "r@y.org", "From: a@x.org\nTo: not-used@y.org\n\nb\n" },
	/* 8: X-Sender only: recipients from the headers */
	{ "X-Sender: s@x.org\nFrom: a@x.org\nTo: t@y.org\n\nb\n",
	  "s@x.org", "t@y.org", "From: a@x.org\nTo: t@y.org\n\nb\n" },
	/* 9: an X-Sender header after the first header is just a header */
	{ "From: a@x.org\nX-Sender: z@z.org\nTo: b@y.org\n\nb\n",
	  "a@x.org", "b@y.org", "From: a@x.org\nX-Sender: z@z.org\nTo: b@y.org\n\nb\n" },
	/* 10: Return-Path: <> gives the null sender */
	{ "Return-Path: <>\nFrom: a@x.org\nTo: b@y.org\n\n", "", "b@y.org",
	  "From: a@x.org\nTo: b@y.org\n\n" },
	/* 11: a folded To: and an obsolete space before the colon */
	{ "From: a@x.org\nTo : b@y.org,\n   c@y.org\nSubject: x\n\n.\n..\n",
	  "a@x.org", "b@y.org|c@y.org",
	  "From: a@x.org\nTo : b@y.org,\n   c@y.org\nSubject: x\n\n.\n..\n" },
	/* 12: a bad address where the envelope is given does not matter */
	{ "X-Sender: s@x.org\nX-Receiver: r@y.org\nFrom: ???\nTo: no address\n\nb\n",
	  "s@x.org", "r@y.org", "From: ???\nTo: no address\n\nb\n" },
	/* 13: the end line ends the envelope: what follows is message */
	{ "X-Sender: <s@x.org>\nX-Receiver: <a@y.org>\nX-Smtpgate-Envelope: end\n"
	  "X-Receiver: <evil@z.org>\nFrom: s@x.org\nTo: a@y.org\n\nb\n",
	  "s@x.org", "a@y.org",
	  "X-Receiver: <evil@z.org>\nFrom: s@x.org\nTo: a@y.org\n\nb\n" },
	/* 14: the end line alone: the envelope comes from the header */
	{ "X-Smtpgate-Envelope: end\nFrom: a@x.org\nTo: b@y.org\n\nb\n",
	  "a@x.org", "b@y.org", "From: a@x.org\nTo: b@y.org\n\nb\n" },
};

/* The maildrop format (PICKUP_STRICT), as smtpgate-sendmail writes it. */
static const struct {
	const char *in;
	const char *sender;
	const char *rcpts;
	const char *msg;
} sgood[] = {
	/* 0: the whole format; the message's own X-Receiver stays message */
	{ "X-Sender: <s@x.org>\nX-Receiver: <a@y.org>\nX-Receiver: <b@y.org>\n"
	  "X-Smtpgate-Envelope: end\nReceived: by h (smtpgate-sendmail, from userid 64111);\n"
	  "\tMon, 23 Nov 2026 12:00:00 +0000\nX-Receiver: <evil@z.org>\nX-Sender: <e@z.org>\n"
	  "From: s@x.org\nBcc: hidden@y.org\n\nbody\n",
	  "s@x.org", "a@y.org|b@y.org",
	  "Received: by h (smtpgate-sendmail, from userid 64111);\n"
	  "\tMon, 23 Nov 2026 12:00:00 +0000\nX-Receiver: <evil@z.org>\nX-Sender: <e@z.org>\n"
	  "From: s@x.org\n\nbody\n" },
	/* 1: null sender, spacing and case of the end line */
	{ "X-Sender: <>\nX-Receiver: a@y.org\nx-smtpgate-envelope:   END \nSubject: b\n\n",
	  "", "a@y.org", "Subject: b\n\n" },
};

static const struct {
	const char *in;
	const char *reason;
} sbad[] = {
	{ "X-Sender: <s@x.org>\nX-Receiver: <a@y.org>\nFrom: s@x.org\n\nb\n",
	  "no \"X-Smtpgate-Envelope: end\" line" },
	{ "X-Receiver: <a@y.org>\nX-Sender: <s@x.org>\nX-Smtpgate-Envelope: end\nS: x\n\n",
	  "line 1: the first line must be X-Sender" },
	{ "From: s@x.org\nTo: a@y.org\n\nb\n", "no envelope" },
	{ "X-Smtpgate-Envelope: end\nFrom: s@x.org\nTo: a@y.org\n\nb\n", "no envelope" },
	{ "X-Sender: <s@x.org>\nX-Smtpgate-Envelope: end\nTo: a@y.org\n\nb\n",
	  "no X-Receiver line" },
	{ "X-Sender: <s@x.org>\nX-Receiver: <a@y.org>\nX-Sender: <t@x.org>\n", "X-Sender given twice" },
	{ "X-Sender: <s@x.org>\nX-Receiver: <a@y.org>\nX-Smtpgate-Envelope: later\nS: x\n\n",
	  "bad X-Smtpgate-Envelope line" },
	{ "X-Sender: <s@x.org>\nX-Receiver: <a@y.org>\nX-Smtpgate-Envelope: end\n", "no header fields" },
	{ "X-Sender: <s@x.org>\nX-Receiver: <a@y.org>\nX-Smtpgate-Envelope: end\nnot a field\n\n",
	  "line 4 is not a header field" },
	{ "", "empty file" },
};

static const struct {
	const char *in;
	size_t len;		/* 0: strlen */
	const char *reason;
} bad[] = {
	{ "", 0, "empty file" },
	{ "hello world\n", 0, "not a message: line 1 is not a header field" },
	{ "From: a@x.org\nTo: b@y.org\nno colon line\n\nbody\n", 0, "line 3 is not a header field" },
	{ ": no name\n\n", 0, "line 1 is not a header field" },
	{ " continuation\nFrom: a@x.org\n", 0, "continuation line before any header field" },
	{ "\nbody\n", 0, "not a message: no header fields" },
	{ "X-Receiver: b@y.org\n\nbody\n", 0, "not a message: no header fields" },
	{ "From: a@x.org\0\nTo: b@y.org\n\n", 27, "NUL byte at offset 13" },
	{ "From: a@x.org\rTo: b@y.org\n\n", 0, "bare CR at offset 13" },
	{ "From: a@x.org\nTo: b@y.org\n\nbody\r", 0, "bare CR at offset 31" },
	{ "From: a@x.org\nSubject: x\n\nb\n", 0, "no recipient" },
	{ "To: b@y.org\n\nb\n", 0, "no sender" },
	{ "From: a@x.org\nTo: not an address\n\n", 0, "line 2: To: header: " },
	{ "From: a@x.org\nSubject: s\nCc: ok@y.org,\n bad@@y.org\n\n", 0, "line 3: Cc: header: bad address" },
	{ "From: Alice\nTo: b@y.org\n\n", 0, "line 1: From: header: not an address" },
	{ "Return-Path: <a@x.org>, <b@x.org>\nTo: b@y.org\n\n", 0, "Return-Path: must hold one address" },
	{ "X-Receiver: bad@@x\nFrom: a@x.org\n\n", 0, "line 1: bad X-Receiver address" },
	{ "X-Receiver: <>\nFrom: a@x.org\n\n", 0, "bad X-Receiver address" },
	{ "X-Sender: a@x.org\nX-Sender: b@x.org\nX-Receiver: c@y.org\nS: x\n\n", 0, "line 2: X-Sender given twice" },
	{ "X-Sender: a@x.org trailing\nX-Receiver: c@y.org\nS: x\n\n", 0, "bad X-Sender address" },
};

/* s with every LF turned into CRLF (malloc'd). */
static char *
crlf(const char *s, size_t *lenp)
{
	char *o = malloc(strlen(s) * 2 + 1);
	size_t n = 0;

	for (; *s != '\0'; s++) {
		if (*s == '\n')
			o[n++] = '\r';
		o[n++] = *s;
	}
	o[n] = '\0';
	*lenp = n;
	return o;
}

/* e's recipients joined by '|'. */
static void
join_rcpts(const struct queue_entry *e, char *buf, size_t sz)
{
	size_t i;

	buf[0] = '\0';
	for (i = 0; i < e->nrcpts; i++) {
		if (i > 0)
			strncat(buf, "|", sz - strlen(buf) - 1);
		strncat(buf, e->rcpts[i].addr, sz - strlen(buf) - 1);
		ck_assert_int_eq(e->rcpts[i].state, QUEUE_RCPT_PENDING);
	}
}

/* Parse in (as given, or with CRLF line ends) with flags and check the
 * result against sender, rcpts and the stored message. */
static void
check_parse(const char *given, unsigned flags, const char *sender, const char *rcpts,
    const char *stored, int i, int with_crlf)
{
	struct pickup_msg m;
	struct queue_entry e;
	char reason[256] = "", got[512], *msg = NULL, *want, *in;
	size_t msglen, wantlen, inlen;

	memset(&m, 0, sizeof(m));
	in = with_crlf ? crlf(given, &inlen) : strdup(given);
	if (!with_crlf)
		inlen = strlen(in);
	ck_assert_msg(pickup_parse(in, inlen, flags, &m, reason,
	    sizeof(reason)) == 0, "good %d (crlf %d, flags %u): %s", i, with_crlf, flags,
	    reason);
	e = m.e;
	msg = m.msg;
	msglen = m.msglen;
	ck_assert_str_eq(e.sender, sender);
	join_rcpts(&e, got, sizeof(got));
	ck_assert_str_eq(got, rcpts);
	want = crlf(stored, &wantlen);
	ck_assert_msg(msglen == wantlen && memcmp(msg, want, wantlen) == 0,
	    "good %d: stored \"%.*s\"", i, (int)msglen, msg);
	free(want);
	free(msg);
	free(in);
	queue_entry_free(&e);
}

/* Parse in (as given, or with CRLF line ends) and check against good[i]. */
static void
check_good(int i, int with_crlf)
{
	check_parse(good[i].in, 0, good[i].sender, good[i].rcpts, good[i].msg, i, with_crlf);
}

START_TEST(parse_good_lf)
{
	check_good(_i, 0);
}
END_TEST

START_TEST(parse_good_crlf)
{
	check_good(_i, 1);
}
END_TEST

/* Every prefix of in, copied to an exact-size buffer (so a read past the
 * end is caught under ASan), fed byte by byte: it parses or fails with a
 * reason, and a parsed one is stored CRLF-terminated. */
static void
check_prefixes(const char *in, unsigned flags)
{
	struct pickup_msg m;
	struct queue_entry e;
	char reason[256], *msg, *buf;
	size_t msglen, n, len = strlen(in);

	for (n = 0; n <= len; n++) {
		memset(&m, 0, sizeof(m));
		buf = malloc(n ? n : 1);
		memcpy(buf, in, n);
		reason[0] = '\0';
		msg = NULL;
		if (pickup_parse(buf, n, flags, &m, reason, sizeof(reason)) == 0) {
			e = m.e;
			msg = m.msg;
			msglen = m.msglen;
			ck_assert_uint_ge(msglen, 2);
			ck_assert(msg[msglen - 2] == '\r' && msg[msglen - 1] == '\n');
			ck_assert_uint_ge(e.nrcpts, 1);
			free(msg);
			queue_entry_free(&e);
		} else {
			ck_assert_int_ne(reason[0], '\0');
			ck_assert_ptr_null(m.msg);
		}
		free(buf);
	}
}

START_TEST(parse_prefixes)
{
	check_prefixes(good[_i].in, 0);
}
END_TEST

START_TEST(strict_good)
{
	check_parse(sgood[_i].in, PICKUP_STRICT, sgood[_i].sender, sgood[_i].rcpts,
	    sgood[_i].msg, _i, 0);
	check_parse(sgood[_i].in, PICKUP_STRICT, sgood[_i].sender, sgood[_i].rcpts,
	    sgood[_i].msg, _i, 1);
	check_prefixes(sgood[_i].in, PICKUP_STRICT);
}
END_TEST

/* A strict rejection; the file without its envelope is no strict file
 * either, and every good loose case without an end line is refused. */
START_TEST(strict_bad)
{
	struct pickup_msg m;
	char reason[256] = "";

	memset(&m, 0, sizeof(m));
	ck_assert_int_eq(pickup_parse(sbad[_i].in, strlen(sbad[_i].in), PICKUP_STRICT, &m,
	    reason, sizeof(reason)), -1);
	ck_assert_msg(strstr(reason, sbad[_i].reason) != NULL, "sbad %d: \"%s\", want \"%s\"",
	    _i, reason, sbad[_i].reason);
	ck_assert_ptr_null(m.msg);
	ck_assert_ptr_null(m.e.sender);
}
END_TEST

START_TEST(strict_needs_end)
{
	struct pickup_msg m;
	char reason[256] = "";

	memset(&m, 0, sizeof(m));
	if (strstr(good[_i].in, "X-Smtpgate-Envelope") != NULL)
		return;
	ck_assert_int_eq(pickup_parse(good[_i].in, strlen(good[_i].in), PICKUP_STRICT, &m,
	    reason, sizeof(reason)), -1);
	ck_assert_ptr_null(m.msg);
}
END_TEST

START_TEST(parse_bad)
{
	struct pickup_msg m;
	char reason[256] = "";
	size_t len = bad[_i].len ? bad[_i].len : strlen(bad[_i].in);

	memset(&m, 0, sizeof(m));
	ck_assert_int_eq(pickup_parse(bad[_i].in, len, 0, &m, reason,
	    sizeof(reason)), -1);
	ck_assert_msg(strstr(reason, bad[_i].reason) != NULL, "bad %d: \"%s\", want \"%s\"",
	    _i, reason, bad[_i].reason);
	ck_assert_ptr_null(m.msg);
	ck_assert_ptr_null(m.e.sender);
	ck_assert_uint_eq(m.e.nrcpts, 0);
}
END_TEST

START_TEST(parse_limits)
{
	struct pickup_msg m;
	char reason[256] = "", *big;
	size_t n = (50u << 20) + 1, i, off;

	memset(&m, 0, sizeof(m));
	big = malloc(n);
	memset(big, 'a', n);
	memcpy(big, "From: a@x.org\nTo: b@y.org\n\n", 27);
	ck_assert_int_eq(pickup_parse(big, n, 0, &m, reason, sizeof(reason)), -1);
	ck_assert_ptr_nonnull(strstr(reason, "message too large"));
	ck_assert_int_eq(pickup_parse(big, n - 1, 0, &m, reason, sizeof(reason)), 0);
	ck_assert_uint_eq(m.msglen, n - 1 + 3 + 2);	/* 3 CRs added, CRLF at the end */
	free(m.msg);
	queue_entry_free(&m.e);
	memset(&m, 0, sizeof(m));
	/* 10001 distinct recipients */
	off = (size_t)sprintf(big, "From: a@x.org\nTo: ");
	for (i = 0; i < 10001; i++)
		off += (size_t)sprintf(big + off, "%sr%zu@y.org", i ? ",\n " : "", i);
	off += (size_t)sprintf(big + off, "\n\n");
	ck_assert_int_eq(pickup_parse(big, off, 0, &m, reason, sizeof(reason)), -1);
	ck_assert_ptr_nonnull(strstr(reason, "too many recipients"));
	free(big);
}
END_TEST

static const char okmsg[] = "From: a@x.org\r\nTo: b@y.org, c@y.org\r\nBcc: d@y.org\r\n\r\nhello\r\n";
static const char okstored[] = "From: a@x.org\r\nTo: b@y.org, c@y.org\r\n\r\nhello\r\n";

/* Directories of s for pickup. */
static struct pickup_dirs
dirs_of(const struct tspool *s)
{
	struct pickup_dirs d = { s->tmp, s->pickup, s->maildrop, s->queue, s->bad };

	return d;
}

/* A test's pickup context on a spool: its directories, spare pools of its
 * own, no policy (take_originate sets one), and one batch for the
 * batched mode. */
struct tpk {
	struct pickup_dirs d;
	struct pickup_ctx c;
	struct pickup_batch *b;
};

/* Set pk up on s. */
static void
tpk_open(struct tpk *pk, const struct tspool *s)
{
	memset(pk, 0, sizeof(*pk));
	pk->d = dirs_of(s);
	pk->c.dirs = &pk->d;
	pk->c.spares = pickup_spares_new();
	pk->b = pickup_batch_new();
}

/* pk's context for one call: time now, the durable mode when durable
 * (else the batched mode, into pk->b), the body kept when want_body. */
static const struct pickup_ctx *
tpk(struct tpk *pk, int64_t now, bool durable, bool want_body)
{
	pk->c.now = now;
	pk->c.batch = durable ? NULL : pk->b;
	pk->c.want_body = want_body;
	return &pk->c;
}

/* The batch of the claims made so far; pk claims into a new one. */
static struct pickup_batch *
tpk_batch_take(struct tpk *pk)
{
	struct pickup_batch *b = pk->b;

	pk->b = pickup_batch_new();
	return b;
}

/* Free what pk holds. */
static void
tpk_close(struct tpk *pk)
{
	pickup_batch_free(pk->b);
	pickup_spares_free(pk->c.spares);
	pickup_policies_free(pk->c.policies);
}

/* The one queued id in s (asserting there is exactly one). */
static void
only_queued(const struct tspool *s, char id[ID_LEN + 1])
{
	DIR *d = fdopendir(openat(s->queue, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
	struct dirent *de;
	int n = 0;

	while ((de = readdir(d)) != NULL) {
		size_t l = strlen(de->d_name);
		if (l > 4 && strcmp(de->d_name + l - 4, ".env") == 0) {
			memcpy(id, de->d_name, ID_LEN);
			id[ID_LEN] = '\0';
			n++;
		}
	}
	closedir(d);
	ck_assert_int_eq(n, 1);
	ck_assert_int_eq(tspool_count(s->queue, NULL), 2);
}

/* Assert queue/<id>.msg holds exactly want (wlen bytes). */
static void
assert_msg_file(const struct tspool *s, const char *id, const char *want, size_t wlen)
{
	char name[64], *m;
	size_t len;

	snprintf(name, sizeof(name), "%s.msg", id);
	m = tspool_get(s->queue, name, &len);
	ck_assert_ptr_nonnull(m);
	ck_assert_uint_eq(len, wlen);
	ck_assert_mem_eq(m, want, len);
	free(m);
}

/* Assert queue/<id> holds okmsg's entry. */
static void
assert_queued_ok(const struct tspool *s, const char *id)
{
	struct queue_entry e;
	char err[256];

	ck_assert_int_eq(queue_entry_load(s->queue, id, &e, err, sizeof(err)), 0);
	ck_assert_str_eq(e.sender, "a@x.org");
	ck_assert_uint_eq(e.nrcpts, 3);
	ck_assert_str_eq(e.rcpts[2].addr, "d@y.org");
	ck_assert(e.size == sizeof(okstored) - 1);
	queue_entry_free(&e);
	assert_msg_file(s, id, okstored, sizeof(okstored) - 1);
}

START_TEST(claim_queued)
{
	struct tspool s;
	struct tpk pk;
	struct queue_entry e;
	char reason[256], id[ID_LEN + 1];

	tspool_open(&s);
	tpk_open(&pk, &s);
	tspool_put(s.pickup, "m1", okmsg, sizeof(okmsg) - 1);
	ck_assert_int_eq(pickup_claim(tpk(&pk, 500, true, false), "m1", &e, reason,
	    sizeof(reason)), PICKUP_QUEUED);
	ck_assert(e.created == 500);
	ck_assert_uint_eq(e.nrcpts, 3);
	ck_assert_int_eq(tspool_count(s.pickup, NULL), 0);
	ck_assert_int_eq(tspool_count(s.tmp, NULL), 0);
	only_queued(&s, id);
	ck_assert_str_eq(id, e.id);
	assert_queued_ok(&s, id);
	queue_entry_free(&e);
	/* claimed already: gone */
	ck_assert_int_eq(pickup_claim(tpk(&pk, 500, true, false), "m1", &e, reason,
	    sizeof(reason)), PICKUP_GONE);
	ck_assert_int_eq(pickup_claim(tpk(&pk, 500, true, false), "../m1", &e, reason,
	    sizeof(reason)), PICKUP_ERROR);
	ck_assert_int_eq(pickup_claim(tpk(&pk, 500, true, false), ".hidden", &e, reason,
	    sizeof(reason)), PICKUP_ERROR);
	tpk_close(&pk);
	tspool_close(&s);
}
END_TEST

START_TEST(claim_bad)
{
	struct tspool s;
	struct tpk pk;
	struct queue_entry e;
	char reason[256], name[64], *r, *m;
	size_t len;

	tspool_open(&s);
	tpk_open(&pk, &s);
	tspool_put(s.pickup, "b1", "hello world\n", 12);
	ck_assert_int_eq(pickup_claim(tpk(&pk, 500, true, false), "b1", &e, reason,
	    sizeof(reason)), PICKUP_BAD);
	ck_assert_ptr_nonnull(strstr(reason, "not a header field"));
	m = tspool_get(s.bad, "b1", &len);
	ck_assert_ptr_nonnull(m);
	ck_assert_mem_eq(m, "hello world\n", 12);
	free(m);
	r = tspool_get(s.bad, "b1.reason", &len);
	ck_assert_ptr_nonnull(r);
	ck_assert_int_eq(r[len - 1], '\n');
	ck_assert_int_eq(strncmp(r, "reason=\"", 8), 0);
	ck_assert_ptr_nonnull(strstr(r, "line 1 is not a header field (no \\x22Name:\\x22)\"\n"));
	ck_assert_ptr_nonnull(strstr(r, "\nsource=pickup\nname=\"b1\"\n"));
	free(r);
	/* the same name again goes next to it, not over it */
	tspool_put(s.pickup, "b1", "x\n", 2);
	ck_assert_int_eq(pickup_claim(tpk(&pk, 500, true, false), "b1", &e, reason,
	    sizeof(reason)), PICKUP_BAD);
	ck_assert_int_eq(tspool_count(s.bad, "b1."), 3);	/* b1.reason, b1.<id>, b1.<id>.reason */
	ck_assert_int_eq(tspool_count(s.bad, NULL), 4);
	/* a directory, a symbolic link */
	ck_assert_int_eq(mkdirat(s.pickup, "dir", 0700), 0);
	ck_assert_int_eq(pickup_claim(tpk(&pk, 500, true, false), "dir", &e, reason,
	    sizeof(reason)), PICKUP_BAD);
	ck_assert_ptr_nonnull(strstr(reason, "not a regular file"));
	ck_assert_int_eq(symlinkat("/etc/passwd", s.pickup, "link"), 0);
	ck_assert_int_eq(pickup_claim(tpk(&pk, 500, true, false), "link", &e, reason,
	    sizeof(reason)), PICKUP_BAD);
	ck_assert_ptr_nonnull(strstr(reason, "not a regular file"));
	snprintf(name, sizeof(name), "link.reason");
	ck_assert(tspool_exists(s.bad, name));
	ck_assert_int_eq(tspool_count(s.tmp, NULL), 0);
	ck_assert_int_eq(tspool_count(s.queue, NULL), 0);
	ck_assert_int_eq(tspool_count(s.pickup, NULL), 0);
	tpk_close(&pk);
	tspool_close(&s);
}
END_TEST

START_TEST(claim_batch_commit)
{
	struct tspool s;
	struct tpk pk;
	struct queue_entry e;
	char reason[256], err[256], name[16];
	int i;

	tspool_open(&s);
	tpk_open(&pk, &s);
	for (i = 0; i < 5; i++) {
		snprintf(name, sizeof(name), "m%d", i);
		tspool_put(s.pickup, name, okmsg, sizeof(okmsg) - 1);
		ck_assert_int_eq(pickup_claim(tpk(&pk, 500, false, false), name, &e, reason,
	    sizeof(reason)), PICKUP_QUEUED);
		assert_queued_ok(&s, e.id);
		queue_entry_free(&e);
	}
	ck_assert_int_eq(tspool_count(s.tmp, "claim."), 5);
	ck_assert_int_eq(pickup_commit(&pk.d, pk.b, err, sizeof(err)), 0);
	ck_assert_int_eq(tspool_count(s.tmp, NULL), 0);
	ck_assert_int_eq(tspool_count(s.queue, NULL), 10);
	ck_assert_int_eq(pickup_commit(&pk.d, pk.b, err, sizeof(err)), 0);	/* nothing to do */
	ck_assert_int_eq(pickup_recover(tpk(&pk, 600, true, false), err, sizeof(err)), 0);
	ck_assert_int_eq(tspool_count(s.queue, NULL), 10);
	tpk_close(&pk);
	tspool_close(&s);
}
END_TEST

/* Put a claim file for id into tmp/. */
static void
put_claim(struct tspool *s, const char *id, const char *text, size_t len)
{
	char name[64];

	snprintf(name, sizeof(name), "claim.%s", id);
	tspool_put(s->tmp, name, text, len);
}

#define CID "00000000000000aa"

/*
 * Crash states: 0 claim only; 1 claim and a partial .msg; 2 claim and a
 * complete queue entry; 3 claim, .msg and a corrupt .env; 4 claim, a
 * complete .env but a truncated .msg.  Each recovers to exactly one entry,
 * exactly once.
 */
START_TEST(recover_crash)
{
	struct tspool s;
	struct tpk pk;
	struct queue_entry e;
	const char *rc[] = { "b@y.org", "c@y.org", "d@y.org" };
	char err[256], id[ID_LEN + 1];

	tspool_open(&s);
	tpk_open(&pk, &s);
	put_claim(&s, CID, okmsg, sizeof(okmsg) - 1);
	if (_i == 1)
		tspool_put(s.queue, CID ".msg", okstored, 10);
	if (_i == 2 || _i == 4) {
		ck_assert_int_eq(queue_entry_create_id(s.tmp, s.queue, &(struct queue_new){
		    .id = CID, .sender = "a@x.org", .rcpts = rc, .nrcpts = 3, .msg = okstored,
		    .msglen = sizeof(okstored) - 1, .now = 100 }, &e, err, sizeof(err)), 0);
		queue_entry_free(&e);
	}
	if (_i == 3) {
		tspool_put(s.queue, CID ".msg", okstored, sizeof(okstored) - 1);
		tspool_put(s.queue, CID ".env", "version=1\nid=", 13);
	}
	if (_i == 4)
		tspool_put(s.queue, CID ".msg", okstored, 10);
	tspool_put(s.tmp, "env." CID, "version=1\n", 10);
	/* a group store cut short (queue_put_group's temporary files) */
	tspool_put(s.tmp, "put." CID ".env", "version=1\n", 10);
	tspool_put(s.tmp, "put." CID ".msg", "x", 1);
	tspool_put(s.tmp, "producer-writing.eml", "x", 1);
	ck_assert_int_eq(pickup_recover(tpk(&pk, 700, true, false), err, sizeof(err)), 1);
	ck_assert(tspool_exists(s.tmp, "producer-writing.eml"));	/* not ours */
	ck_assert_int_eq(unlinkat(s.tmp, "producer-writing.eml", 0), 0);
	ck_assert_int_eq(tspool_count(s.tmp, NULL), 0);
	only_queued(&s, id);
	ck_assert_str_eq(id, CID);
	assert_queued_ok(&s, id);
	ck_assert_int_eq(queue_entry_load(s.queue, id, &e, err, sizeof(err)), 0);
	ck_assert(e.created == (_i == 2 ? 100 : 700));	/* a good entry is kept as it was */
	queue_entry_free(&e);
	/* again: nothing left to do, still one entry */
	ck_assert_int_eq(pickup_recover(tpk(&pk, 800, true, false), err, sizeof(err)), 0);
	only_queued(&s, id);
	tpk_close(&pk);
	tspool_close(&s);
}
END_TEST

START_TEST(recover_bad_claim)
{
	struct tspool s;
	struct tpk pk;
	char err[256];

	tspool_open(&s);
	tpk_open(&pk, &s);
	put_claim(&s, CID, "garbage\n", 8);
	ck_assert_int_eq(pickup_recover(tpk(&pk, 700, true, false), err, sizeof(err)), 1);
	ck_assert(tspool_exists(s.bad, "claim." CID));
	ck_assert(tspool_exists(s.bad, "claim." CID ".reason"));
	ck_assert_int_eq(tspool_count(s.tmp, NULL), 0);
	ck_assert_int_eq(tspool_count(s.queue, NULL), 0);
	ck_assert_int_eq(pickup_recover(tpk(&pk, 700, true, false), err, sizeof(err)), 0);
	tpk_close(&pk);
	tspool_close(&s);
}
END_TEST

static const char dropmsg[] = "X-Sender: <a@x.org>\r\nX-Receiver: <b@y.org>\r\n"
    "X-Smtpgate-Envelope: end\r\nX-Receiver: <evil@z.org>\r\nFrom: a@x.org\r\n"
    "To: b@y.org\r\n\r\nhello\r\n";
static const char dropstored[] = "X-Receiver: <evil@z.org>\r\nFrom: a@x.org\r\n"
    "To: b@y.org\r\n\r\nhello\r\n";

/*
 * A maildrop/ file is taken strictly, its owner recorded, and copied: the
 * queued .msg is another inode, and what the producer writes into its
 * file afterwards (it kept the descriptor) changes nothing queued.
 */
START_TEST(take_maildrop_copy)
{
	struct tspool s;
	struct tpk pk;
	struct pickup_taken t;
	struct stat st, qst;
	char name[64];
	int fd;

	tspool_open(&s);
	tpk_open(&pk, &s);
	tspool_put(s.maildrop, "u1", dropmsg, sizeof(dropmsg) - 1);
	if (geteuid() == 0)
		ck_assert_int_eq(fchownat(s.maildrop, "u1", 64111, 64111, 0), 0);
	fd = openat(s.maildrop, "u1", O_WRONLY | O_CLOEXEC);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(fstat(fd, &st), 0);
	ck_assert_int_eq(pickup_take(tpk(&pk, 500, false, true), PICKUP_SRC_MAILDROP, "u1", &t),
	    PICKUP_QUEUED);
	ck_assert(t.have_uid);
	ck_assert_uint_eq(t.uid, st.st_uid);
	ck_assert_uint_eq(t.e.nrcpts, 1);
	ck_assert_str_eq(t.e.rcpts[0].addr, "b@y.org");
	ck_assert_uint_eq(t.msglen, sizeof(dropstored) - 1);
	ck_assert_mem_eq(t.msg, dropstored, t.msglen);
	ck_assert_int_eq(tspool_count(s.tmp, "drop."), 1);	/* until the commit */
	ck_assert_int_eq(pickup_commit(&pk.d, pk.b, t.err, sizeof(t.err)), 0);
	ck_assert_int_eq(tspool_count(s.tmp, NULL), 0);
	ck_assert_int_eq(tspool_count(s.maildrop, NULL), 0);
	/* the producer rewrites and truncates the file it dropped */
	ck_assert_int_eq(pwrite(fd, "garbage", 7, 0), 7);
	ck_assert_int_eq(ftruncate(fd, 3), 0);
	close(fd);
	snprintf(name, sizeof(name), "%s.msg", t.e.id);
	ck_assert_int_eq(fstatat(s.queue, name, &qst, AT_SYMLINK_NOFOLLOW), 0);
	ck_assert(qst.st_ino != st.st_ino);
	ck_assert_uint_eq(qst.st_uid, geteuid());
	ck_assert_int_eq(qst.st_mode & 022, 0);
	assert_msg_file(&s, t.e.id, dropstored, sizeof(dropstored) - 1);
	free(t.msg);
	queue_entry_free(&t.e);
	tpk_close(&pk);
	tspool_close(&s);
}
END_TEST

/*
 * The daemon's decisions as a file is taken (pickup_origin.c): with a
 * policy, a local recipient goes to the admin and a local sender is
 * masqueraded; a body line over 998 characters is re-encoded in the copy
 * queued; a multipart one is queued with every recipient failed (the
 * reason stored in the .env, also by the durable path of recovery).
 */
START_TEST(take_originate)
{
	static const char *const none[] = { NULL };
	struct outbound_config c;
	struct queue_entry e;
	struct tspool s;
	struct tpk pk;
	struct pickup_taken t;
	char *text, *line = xmalloc(2001);
	char err[256];

	memset(&c, 0, sizeof(c));
	c.hostname = (char[]){ "gw.test" };
	c.admin_address = (char[]){ "ops@example.org" };
	c.sender_domain = (char[]){ "example.org" };
	c.local_domains = (char **)none;
	memset(line, 'z', 2000);
	line[2000] = '\0';
	tspool_open(&s);
	tpk_open(&pk, &s);
	pk.c.policies = pickup_policies_new();
	pickup_policies_set(pk.c.policies, rewrite_policy_new(&c));
	text = xasprintf("X-Sender: <cron@gw.test>\nX-Receiver: <root@gw.test>\n"
	    "X-Smtpgate-Envelope: end\nFrom: cron@gw.test\nSubject: s\n\n%s\n", line);
	tspool_put(s.maildrop, "o1", text, strlen(text));
	free(text);
	ck_assert_int_eq(pickup_take(tpk(&pk, 500, false, true), PICKUP_SRC_MAILDROP, "o1", &t),
	    PICKUP_QUEUED);
	ck_assert_str_eq(t.e.sender, "cron@example.org");
	ck_assert_uint_eq(t.e.nrcpts, 1);
	ck_assert_str_eq(t.e.rcpts[0].addr, "ops@example.org");
	ck_assert_ptr_nonnull(memmem(t.msg, t.msglen, "\r\nContent-Transfer-Encoding: "
	    "quoted-printable\r\n", 45));
	ck_assert_ptr_null(memmem(t.msg, t.msglen, line, 999));
	ck_assert_int_eq(pickup_commit(&pk.d, pk.b, err, sizeof(err)), 0);
	assert_msg_file(&s, t.e.id, t.msg, t.msglen);
	free(t.msg);
	queue_entry_free(&t.e);
	text = xasprintf("X-Sender: <a@x.org>\nX-Receiver: <b@y.org>\nMIME-Version: 1.0\n"
	    "Content-Type: multipart/mixed; boundary=q\n\n--q\n\n%s\n--q--\n", line);
	tspool_put(s.pickup, "o2", text, strlen(text));
	free(text);
	ck_assert_int_eq(pickup_take(tpk(&pk, 500, true, false), PICKUP_SRC_PICKUP, "o2", &t),
	    PICKUP_QUEUED);
	ck_assert_int_eq(queue_entry_load(s.queue, t.e.id, &e, err, sizeof(err)), 0);
	ck_assert_int_eq(e.rcpts[0].state, QUEUE_RCPT_FAILED);
	ck_assert_ptr_nonnull(strstr(e.rcpts[0].reply, "554 5.6.0 line 3 of the body has "
	    "2000 characters"));
	queue_entry_free(&e);
	queue_entry_free(&t.e);
	tpk_close(&pk);
	tspool_close(&s);
	free(line);
}
END_TEST

/* A maildrop/ file without the end line, or a loose one, goes to bad/. */
START_TEST(take_maildrop_strict)
{
	struct tspool s;
	struct tpk pk;
	struct pickup_taken t;
	static const char loose[] = "X-Sender: <a@x.org>\nX-Receiver: <b@y.org>\n"
	    "X-Receiver: <evil@z.org>\nFrom: a@x.org\n\nhi\n";

	tspool_open(&s);
	tpk_open(&pk, &s);
	tspool_put(s.maildrop, "n1", loose, sizeof(loose) - 1);
	ck_assert_int_eq(pickup_take(tpk(&pk, 500, false, true), PICKUP_SRC_MAILDROP, "n1", &t),
	    PICKUP_BAD);
	ck_assert_ptr_nonnull(strstr(t.reason, "X-Smtpgate-Envelope: end"));
	ck_assert_str_eq(t.bname, "n1");
	ck_assert(tspool_exists(s.bad, "n1.reason"));
	ck_assert_int_eq(tspool_count(s.queue, NULL), 0);
	ck_assert_int_eq(tspool_count(s.tmp, NULL), 0);
	/* the same file in pickup/ is a trusted producer's: taken */
	tspool_put(s.pickup, "n1", loose, sizeof(loose) - 1);
	ck_assert_int_eq(pickup_take(tpk(&pk, 500, true, false), PICKUP_SRC_PICKUP, "n1", &t),
	    PICKUP_QUEUED);
	ck_assert_uint_eq(t.e.nrcpts, 2);
	queue_entry_free(&t.e);
	tpk_close(&pk);
	tspool_close(&s);
}
END_TEST

/* What is not a regular file with one link goes to bad/ unopened, and a
 * name that is long or not plain goes there as bad/<id> with the name
 * escaped in its reason. */
START_TEST(take_odd_files)
{
	struct tspool s;
	struct tpk pk;
	struct pickup_taken t;
	char longname[251], odd[] = "x\nstatus=sent \033[31m", *r;
	size_t len;

	tspool_open(&s);
	tpk_open(&pk, &s);
	ck_assert_int_eq(mkfifoat(s.pickup, "fifo", 0600), 0);
	ck_assert_int_eq(pickup_take(tpk(&pk, 500, false, true), PICKUP_SRC_PICKUP, "fifo", &t),
	    PICKUP_BAD);
	ck_assert_ptr_nonnull(strstr(t.reason, "not a regular file (FIFO)"));
	tspool_put(s.pickup, "h1", okmsg, sizeof(okmsg) - 1);
	ck_assert_int_eq(linkat(s.pickup, "h1", s.tmp, "keep", 0), 0);
	ck_assert_int_eq(pickup_take(tpk(&pk, 500, false, true), PICKUP_SRC_PICKUP, "h1", &t),
	    PICKUP_BAD);
	ck_assert_ptr_nonnull(strstr(t.reason, "hard-linked file"));
	ck_assert_int_eq(unlinkat(s.tmp, "keep", 0), 0);
	memset(longname, 'n', 250);
	longname[250] = '\0';
	tspool_put(s.pickup, longname, "junk\n", 5);
	ck_assert_int_eq(pickup_take(tpk(&pk, 500, false, true), PICKUP_SRC_PICKUP, longname, &t),
	    PICKUP_BAD);
	ck_assert_uint_eq(strlen(t.bname), ID_LEN);
	tspool_put(s.pickup, odd, "junk\n", 5);
	ck_assert_int_eq(pickup_take(tpk(&pk, 500, false, true), PICKUP_SRC_PICKUP, odd, &t),
	    PICKUP_BAD);
	ck_assert_uint_eq(strlen(t.bname), ID_LEN);
	strcat(t.bname, ".reason");
	r = tspool_get(s.bad, t.bname, &len);
	ck_assert_ptr_nonnull(r);
	ck_assert_ptr_nonnull(strstr(r, "name=\"x\\x0astatus\\x3dsent \\x1b[31m\"\n"));
	ck_assert_ptr_null(strchr(r, '\033'));
	free(r);
	ck_assert_int_eq(tspool_count(s.pickup, NULL), 0);
	ck_assert_int_eq(tspool_count(s.tmp, NULL), 0);
	ck_assert_int_eq(tspool_count(s.queue, NULL), 0);
	tpk_close(&pk);
	tspool_close(&s);
}
END_TEST

/* A claim that became a FIFO (the producer raced the checks) does not
 * block: opened non-blocking, refused by the second look. */
START_TEST(recover_fifo_claim)
{
	struct tspool s;
	struct tpk pk;
	char err[256];

	tspool_open(&s);
	tpk_open(&pk, &s);
	ck_assert_int_eq(mkfifoat(s.tmp, "claim." CID, 0600), 0);
	ck_assert_int_eq(pickup_recover(tpk(&pk, 700, true, false), err, sizeof(err)), 1);
	ck_assert(tspool_exists(s.bad, "claim." CID));
	ck_assert_int_eq(tspool_count(s.tmp, NULL), 0);
	ck_assert_int_eq(tspool_count(s.queue, NULL), 0);
	tpk_close(&pk);
	tspool_close(&s);
}
END_TEST

/* tmp/drop.<id> is recovered strictly: a good one queued once, one
 * without the end line to bad/. */
START_TEST(recover_drop)
{
	struct tspool s;
	struct tpk pk;
	char err[256], id[ID_LEN + 1];

	tspool_open(&s);
	tpk_open(&pk, &s);
	tspool_put(s.tmp, "drop." CID, dropmsg, sizeof(dropmsg) - 1);
	tspool_put(s.tmp, "drop.00000000000000bb", okmsg, sizeof(okmsg) - 1);
	ck_assert_int_eq(pickup_recover(tpk(&pk, 700, true, false), err, sizeof(err)), 2);
	only_queued(&s, id);
	ck_assert_str_eq(id, CID);
	assert_msg_file(&s, id, dropstored, sizeof(dropstored) - 1);
	ck_assert(tspool_exists(s.bad, "drop.00000000000000bb.reason"));
	ck_assert_int_eq(tspool_count(s.tmp, NULL), 0);
	ck_assert_int_eq(pickup_recover(tpk(&pk, 800, true, false), err, sizeof(err)), 0);
	only_queued(&s, id);
	tpk_close(&pk);
	tspool_close(&s);
}
END_TEST

/* Spares: only regular files of ours with one link are kept at start
 * (.env spares and .msg spares alike); a good one is used by the next
 * take, a release makes a new one of each kind; a .msg spare written
 * over holds exactly the new message, however long it was before. */
START_TEST(spares_checked)
{
	struct tspool s;
	struct tpk pk;
	struct pickup_taken t;
	char err[256], big[4096];

	tspool_open(&s);
	tpk_open(&pk, &s);
	ck_assert_int_eq(mkfifoat(s.tmp, "spare.1", 0600), 0);
	ck_assert_int_eq(symlinkat("/etc/passwd", s.tmp, "spare.2"), 0);
	tspool_put(s.tmp, "spare.3", "x", 1);
	ck_assert_int_eq(linkat(s.tmp, "spare.3", s.bad, "other", 0), 0);
	tspool_put(s.tmp, "spare.4", "version=1\n", 10);
	ck_assert_int_eq(mkfifoat(s.tmp, "mspare.1", 0600), 0);
	ck_assert_int_eq(symlinkat("/etc/passwd", s.tmp, "mspare.2"), 0);
	memset(big, 'z', sizeof(big));
	tspool_put(s.tmp, "mspare.5", big, sizeof(big));	/* longer than okstored */
	ck_assert_int_eq(pickup_recover(tpk(&pk, 700, true, false), err, sizeof(err)), 0);
	ck_assert_int_eq(tspool_count(s.tmp, NULL), 2);
	ck_assert(tspool_exists(s.tmp, "spare.4"));
	ck_assert(tspool_exists(s.tmp, "mspare.5"));
	tspool_put(s.pickup, "m1", okmsg, sizeof(okmsg) - 1);
	ck_assert_int_eq(pickup_take(tpk(&pk, 800, false, false), PICKUP_SRC_PICKUP, "m1", &t),
	    PICKUP_QUEUED);
	ck_assert_int_eq(tspool_count(s.tmp, "spare."), 0);
	ck_assert_int_eq(tspool_count(s.tmp, "mspare."), 0);
	ck_assert_int_eq(pickup_commit(&pk.d, pk.b, err, sizeof(err)), 0);
	assert_queued_ok(&s, t.e.id);	/* the 4096 bytes are gone */
	ck_assert_int_eq(pickup_release(&pk.c, t.e.id, err, sizeof(err)), 0);
	ck_assert_int_eq(tspool_count(s.tmp, "spare."), 1);
	ck_assert_int_eq(tspool_count(s.tmp, "mspare."), 1);
	ck_assert_int_eq(tspool_count(s.queue, NULL), 0);
	queue_entry_free(&t.e);
	/* and round again, over the spares the release made */
	tspool_put(s.pickup, "m2", okmsg, sizeof(okmsg) - 1);
	ck_assert_int_eq(pickup_take(tpk(&pk, 900, false, false), PICKUP_SRC_PICKUP, "m2", &t),
	    PICKUP_QUEUED);
	ck_assert_int_eq(tspool_count(s.tmp, "spare."), 0);
	ck_assert_int_eq(tspool_count(s.tmp, "mspare."), 0);
	ck_assert_int_eq(pickup_commit(&pk.d, pk.b, err, sizeof(err)), 0);
	assert_queued_ok(&s, t.e.id);
	queue_entry_free(&t.e);
	tpk_close(&pk);
	tspool_close(&s);
}
END_TEST

/* A .msg spare of ours that is not regular, or too big to keep, is not
 * used: the copy is written as a new file. */
START_TEST(spare_msg_replaced)
{
	struct tspool s;
	struct tpk pk;
	struct pickup_taken t;
	char err[256];
	int fd;

	tspool_open(&s);
	tpk_open(&pk, &s);
	tspool_put(s.tmp, "mspare.3", "x", 1);
	ck_assert_int_eq(pickup_recover(tpk(&pk, 700, true, false), err, sizeof(err)), 0);
	/* swapped for a FIFO after the start: open O_NONBLOCK, fstat, refused */
	ck_assert_int_eq(unlinkat(s.tmp, "mspare.3", 0), 0);
	ck_assert_int_eq(mkfifoat(s.tmp, "mspare.3", 0600), 0);
	fd = openat(s.tmp, "mspare.3", O_RDONLY | O_NONBLOCK);	/* a reader */
	ck_assert_int_ge(fd, 0);
	tspool_put(s.pickup, "m1", okmsg, sizeof(okmsg) - 1);
	ck_assert_int_eq(pickup_take(tpk(&pk, 800, false, false), PICKUP_SRC_PICKUP, "m1", &t),
	    PICKUP_QUEUED);
	close(fd);
	ck_assert(!tspool_exists(s.tmp, "mspare.3"));
	ck_assert_int_eq(pickup_commit(&pk.d, pk.b, err, sizeof(err)), 0);
	assert_queued_ok(&s, t.e.id);
	queue_entry_free(&t.e);
	tpk_close(&pk);
	tspool_close(&s);
}
END_TEST

/* Batches taken one after the other are committed separately, also in
 * the other order; a merged batch commits both. */
START_TEST(claim_batches)
{
	struct tspool s;
	struct tpk pk;
	struct queue_entry e;
	struct pickup_batch *b1, *b2;
	char reason[256], err[256];

	tspool_open(&s);
	tpk_open(&pk, &s);
	tspool_put(s.pickup, "r1", okmsg, sizeof(okmsg) - 1);
	tspool_put(s.pickup, "m1", okmsg, sizeof(okmsg) - 1);
	tspool_put(s.maildrop, "r2", dropmsg, sizeof(dropmsg) - 1);
	ck_assert_int_eq(pickup_claim(tpk(&pk, 500, false, false), "r1", &e, reason,
	    sizeof(reason)), PICKUP_QUEUED);
	queue_entry_free(&e);
	ck_assert_int_eq(pickup_claim(tpk(&pk, 500, false, false), "m1", &e, reason,
	    sizeof(reason)), PICKUP_QUEUED);
	queue_entry_free(&e);
	b1 = tpk_batch_take(&pk);
	ck_assert_uint_eq(pickup_batch_size(b1), 2);
	{
		struct pickup_taken t;

		ck_assert_int_eq(pickup_take(tpk(&pk, 500, false, false), PICKUP_SRC_MAILDROP, "r2",
		    &t), PICKUP_QUEUED);
		queue_entry_free(&t.e);
	}
	b2 = tpk_batch_take(&pk);
	ck_assert_uint_eq(pickup_batch_size(b2), 1);
	ck_assert_int_eq(tspool_count(s.tmp, "claim."), 2);
	ck_assert_int_eq(tspool_count(s.tmp, "drop."), 1);
	if (_i == 0) {
		ck_assert_int_eq(pickup_batch_commit(&pk.d, b2, err, sizeof(err)), 0);
		ck_assert_int_eq(tspool_count(s.tmp, "drop."), 0);
		ck_assert_int_eq(tspool_count(s.tmp, "claim."), 2);
		ck_assert_int_eq(pickup_batch_commit(&pk.d, b1, err, sizeof(err)), 0);
		pickup_batch_free(b1);
	} else {
		pickup_batch_merge(b2, b1);
		ck_assert_uint_eq(pickup_batch_size(b2), 3);
		ck_assert_int_eq(pickup_batch_commit(&pk.d, b2, err, sizeof(err)), 0);
	}
	pickup_batch_free(b2);
	ck_assert_int_eq(tspool_count(s.tmp, NULL), 0);
	ck_assert_int_eq(tspool_count(s.queue, NULL), 6);
	ck_assert_int_eq(pickup_recover(tpk(&pk, 600, true, false), err, sizeof(err)), 0);
	ck_assert_int_eq(tspool_count(s.queue, NULL), 6);
	tpk_close(&pk);
	tspool_close(&s);
}
END_TEST

/* An older version's uncommitted zero-copy claim (queue/<id>.new and its
 * .env) is redone as a copy. */
START_TEST(recover_old_new)
{
	struct tspool s;
	struct tpk pk;
	char err[256], id[ID_LEN + 1];

	tspool_open(&s);
	tpk_open(&pk, &s);
	tspool_put(s.queue, CID ".new", okmsg, sizeof(okmsg) - 1);
	tspool_put(s.queue, CID ".env", "version=1\n", 10);
	ck_assert_int_eq(pickup_recover(tpk(&pk, 700, true, false), err, sizeof(err)), 1);
	only_queued(&s, id);
	ck_assert_str_eq(id, CID);
	assert_queued_ok(&s, id);
	tpk_close(&pk);
	tspool_close(&s);
}
END_TEST

/*
 * Two daemons' state side by side (issue 20: no process-wide state): each
 * context's batch holds only its own claims and commits only them, and a
 * release fills only its own context's spare pools.
 */
START_TEST(contexts_independent)
{
	struct tspool s1, s2;
	struct tpk pk1, pk2;
	struct pickup_taken t;
	char err[256];

	tspool_open(&s1);
	tspool_open(&s2);
	tpk_open(&pk1, &s1);
	tpk_open(&pk2, &s2);
	tspool_put(s1.pickup, "m1", okmsg, sizeof(okmsg) - 1);
	tspool_put(s2.pickup, "m1", okmsg, sizeof(okmsg) - 1);
	ck_assert_int_eq(pickup_take(tpk(&pk1, 500, false, false), PICKUP_SRC_PICKUP, "m1", &t),
	    PICKUP_QUEUED);
	queue_entry_free(&t.e);
	ck_assert_int_eq(pickup_take(tpk(&pk2, 500, false, false), PICKUP_SRC_PICKUP, "m1", &t),
	    PICKUP_QUEUED);
	queue_entry_free(&t.e);
	ck_assert_uint_eq(pickup_batch_size(pk1.b), 1);
	ck_assert_uint_eq(pickup_batch_size(pk2.b), 1);
	ck_assert_int_eq(pickup_commit(&pk1.d, pk1.b, err, sizeof(err)), 0);
	ck_assert_int_eq(tspool_count(s1.tmp, "claim."), 0);
	ck_assert_int_eq(tspool_count(s2.tmp, "claim."), 1);	/* not pk1's to commit */
	ck_assert_int_eq(pickup_commit(&pk2.d, pk2.b, err, sizeof(err)), 0);
	ck_assert_int_eq(tspool_count(s2.tmp, "claim."), 0);
	/* a release in s1 makes spares for pk1 only */
	tspool_put(s1.pickup, "m2", okmsg, sizeof(okmsg) - 1);
	ck_assert_int_eq(pickup_take(tpk(&pk1, 600, true, false), PICKUP_SRC_PICKUP, "m2", &t),
	    PICKUP_QUEUED);
	ck_assert_int_eq(pickup_release(&pk1.c, t.e.id, err, sizeof(err)), 0);
	queue_entry_free(&t.e);
	ck_assert_int_eq(tspool_count(s1.tmp, "spare."), 1);
	ck_assert_int_eq(tspool_count(s1.tmp, "mspare."), 1);
	tspool_put(s2.pickup, "m2", okmsg, sizeof(okmsg) - 1);
	ck_assert_int_eq(pickup_take(tpk(&pk2, 600, false, false), PICKUP_SRC_PICKUP, "m2", &t),
	    PICKUP_QUEUED);
	queue_entry_free(&t.e);
	ck_assert_int_eq(pickup_commit(&pk2.d, pk2.b, err, sizeof(err)), 0);
	ck_assert_int_eq(tspool_count(s1.tmp, "spare."), 1);	/* still pk1's */
	ck_assert_int_eq(tspool_count(s1.tmp, "mspare."), 1);
	tspool_put(s1.pickup, "m3", okmsg, sizeof(okmsg) - 1);
	ck_assert_int_eq(pickup_take(tpk(&pk1, 700, false, false), PICKUP_SRC_PICKUP, "m3", &t),
	    PICKUP_QUEUED);
	ck_assert_int_eq(pickup_commit(&pk1.d, pk1.b, err, sizeof(err)), 0);
	assert_queued_ok(&s1, t.e.id);
	queue_entry_free(&t.e);
	ck_assert_int_eq(tspool_count(s1.tmp, "spare."), 0);	/* used by pk1's next copy */
	ck_assert_int_eq(tspool_count(s1.tmp, "mspare."), 0);
	tpk_close(&pk2);
	tpk_close(&pk1);
	tspool_close(&s2);
	tspool_close(&s1);
}
END_TEST

/* The suite. */
Suite *
unit_suite(void)
{
	Suite *s = suite_create("pickup");
	TCase *tc = tcase_create("parse");
	int ngood = (int)(sizeof(good) / sizeof(good[0]));

	tcase_add_loop_test(tc, parse_good_lf, 0, ngood);
	tcase_add_loop_test(tc, parse_good_crlf, 0, ngood);
	tcase_add_loop_test(tc, parse_prefixes, 0, ngood);
	tcase_add_loop_test(tc, parse_bad, 0, (int)(sizeof(bad) / sizeof(bad[0])));
	tcase_add_test(tc, parse_limits);
	tcase_add_loop_test(tc, strict_good, 0, (int)(sizeof(sgood) / sizeof(sgood[0])));
	tcase_add_loop_test(tc, strict_bad, 0, (int)(sizeof(sbad) / sizeof(sbad[0])));
	tcase_add_loop_test(tc, strict_needs_end, 0, ngood);
	tcase_set_timeout(tc, 60);
	suite_add_tcase(s, tc);
	tc = tcase_create("claim");
	tcase_add_test(tc, claim_queued);
	tcase_add_test(tc, claim_bad);
	tcase_add_test(tc, claim_batch_commit);
	tcase_add_loop_test(tc, recover_crash, 0, 5);
	tcase_add_test(tc, recover_bad_claim);
	tcase_add_test(tc, take_maildrop_copy);
	tcase_add_test(tc, take_maildrop_strict);
	tcase_add_test(tc, take_originate);
	tcase_add_test(tc, take_odd_files);
	tcase_add_test(tc, recover_fifo_claim);
	tcase_add_test(tc, recover_drop);
	tcase_add_test(tc, spares_checked);
	tcase_add_test(tc, spare_msg_replaced);
	tcase_add_loop_test(tc, claim_batches, 0, 2);
	tcase_add_test(tc, recover_old_new);
	tcase_add_test(tc, contexts_independent);
	suite_add_tcase(s, tc);
	return s;
}
