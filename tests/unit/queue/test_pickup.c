/*
 * Unit tests for outbound/pickup.c: pickup_parse() table (each good case
 * fed with LF and with CRLF line ends), every rejection with its reason,
 * and pickup_claim/commit/recover end to end in a temp spool, including
 * simulated crashes recovered exactly once.
 */
#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "pickup.h"
#include "queue.h"
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

/* Parse in (as given, or with CRLF line ends) and check against good[i]. */
static void
check_good(int i, int with_crlf)
{
	struct queue_entry e;
	char reason[256] = "", got[512], *msg = NULL, *want, *in;
	size_t msglen, wantlen, inlen;

	memset(&e, 0, sizeof(e));
	in = with_crlf ? crlf(good[i].in, &inlen) : strdup(good[i].in);
	if (!with_crlf)
		inlen = strlen(in);
	ck_assert_msg(pickup_parse(in, inlen, &e, &msg, &msglen, reason, sizeof(reason)) == 0,
	    "good %d (crlf %d): %s", i, with_crlf, reason);
	ck_assert_str_eq(e.sender, good[i].sender);
	join_rcpts(&e, got, sizeof(got));
	ck_assert_str_eq(got, good[i].rcpts);
	want = crlf(good[i].msg, &wantlen);
	ck_assert_msg(msglen == wantlen && memcmp(msg, want, wantlen) == 0,
	    "good %d: stored \"%.*s\"", i, (int)msglen, msg);
	free(want);
	free(msg);
	free(in);
	queue_entry_free(&e);
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

/* Every prefix of every good case, copied to an exact-size buffer (so a
 * read past the end is caught under ASan): it parses or fails with a
 * reason, and a parsed one is stored CRLF-terminated. */
START_TEST(parse_prefixes)
{
	struct queue_entry e;
	char reason[256], *msg, *buf;
	size_t msglen, n, len = strlen(good[_i].in);

	for (n = 0; n <= len; n++) {
		memset(&e, 0, sizeof(e));
		buf = malloc(n ? n : 1);
		memcpy(buf, good[_i].in, n);
		reason[0] = '\0';
		msg = NULL;
		if (pickup_parse(buf, n, &e, &msg, &msglen, reason, sizeof(reason)) == 0) {
			ck_assert_uint_ge(msglen, 2);
			ck_assert(msg[msglen - 2] == '\r' && msg[msglen - 1] == '\n');
			ck_assert_uint_ge(e.nrcpts, 1);
			free(msg);
			queue_entry_free(&e);
		} else {
			ck_assert_int_ne(reason[0], '\0');
			ck_assert_ptr_null(msg);
		}
		free(buf);
	}
}
END_TEST

START_TEST(parse_bad)
{
	struct queue_entry e;
	char reason[256] = "", *msg = NULL;
	size_t msglen = 0, len = bad[_i].len ? bad[_i].len : strlen(bad[_i].in);

	memset(&e, 0, sizeof(e));
	ck_assert_int_eq(pickup_parse(bad[_i].in, len, &e, &msg, &msglen, reason,
	    sizeof(reason)), -1);
	ck_assert_msg(strstr(reason, bad[_i].reason) != NULL, "bad %d: \"%s\", want \"%s\"",
	    _i, reason, bad[_i].reason);
	ck_assert_ptr_null(msg);
	ck_assert_ptr_null(e.sender);
	ck_assert_uint_eq(e.nrcpts, 0);
}
END_TEST

START_TEST(parse_limits)
{
	struct queue_entry e;
	char reason[256] = "", *msg = NULL, *big;
	size_t msglen, n = (50u << 20) + 1, i, off;

	memset(&e, 0, sizeof(e));
	big = malloc(n);
	memset(big, 'a', n);
	memcpy(big, "From: a@x.org\nTo: b@y.org\n\n", 27);
	ck_assert_int_eq(pickup_parse(big, n, &e, &msg, &msglen, reason, sizeof(reason)), -1);
	ck_assert_ptr_nonnull(strstr(reason, "message too large"));
	ck_assert_int_eq(pickup_parse(big, n - 1, &e, &msg, &msglen, reason, sizeof(reason)), 0);
	ck_assert_uint_eq(msglen, n - 1 + 3 + 2);	/* 3 CRs added, CRLF at the end */
	free(msg);
	queue_entry_free(&e);
	/* 10001 distinct recipients */
	off = (size_t)sprintf(big, "From: a@x.org\nTo: ");
	for (i = 0; i < 10001; i++)
		off += (size_t)sprintf(big + off, "%sr%zu@y.org", i ? ",\n " : "", i);
	off += (size_t)sprintf(big + off, "\n\n");
	ck_assert_int_eq(pickup_parse(big, off, &e, &msg, &msglen, reason, sizeof(reason)), -1);
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
	struct pickup_dirs d = { s->tmp, s->pickup, s->queue, s->bad };

	return d;
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
	struct pickup_dirs d;
	struct queue_entry e;
	char reason[256], err[256], id[ID_LEN + 1];

	tspool_open(&s);
	d = dirs_of(&s);
	tspool_put(s.pickup, "m1", okmsg, sizeof(okmsg) - 1);
	ck_assert_int_eq(pickup_claim(&d, "m1", 500, true, &e, reason, sizeof(reason),
	    err, sizeof(err)), PICKUP_QUEUED);
	ck_assert(e.created == 500);
	ck_assert_uint_eq(e.nrcpts, 3);
	ck_assert_int_eq(tspool_count(s.pickup, NULL), 0);
	ck_assert_int_eq(tspool_count(s.tmp, NULL), 0);
	only_queued(&s, id);
	ck_assert_str_eq(id, e.id);
	assert_queued_ok(&s, id);
	queue_entry_free(&e);
	/* claimed already: gone */
	ck_assert_int_eq(pickup_claim(&d, "m1", 500, true, &e, reason, sizeof(reason),
	    err, sizeof(err)), PICKUP_GONE);
	ck_assert_int_eq(pickup_claim(&d, "../m1", 500, true, &e, reason, sizeof(reason),
	    err, sizeof(err)), PICKUP_ERROR);
	ck_assert_int_eq(pickup_claim(&d, ".hidden", 500, true, &e, reason, sizeof(reason),
	    err, sizeof(err)), PICKUP_ERROR);
	tspool_close(&s);
}
END_TEST

START_TEST(claim_bad)
{
	struct tspool s;
	struct pickup_dirs d;
	struct queue_entry e;
	char reason[256], err[256], name[64], *r, *m;
	size_t len;

	tspool_open(&s);
	d = dirs_of(&s);
	tspool_put(s.pickup, "b1", "hello world\n", 12);
	ck_assert_int_eq(pickup_claim(&d, "b1", 500, true, &e, reason, sizeof(reason),
	    err, sizeof(err)), PICKUP_BAD);
	ck_assert_ptr_nonnull(strstr(reason, "not a header field"));
	m = tspool_get(s.bad, "b1", &len);
	ck_assert_ptr_nonnull(m);
	ck_assert_mem_eq(m, "hello world\n", 12);
	free(m);
	r = tspool_get(s.bad, "b1.reason", &len);
	ck_assert_ptr_nonnull(r);
	ck_assert_int_eq(r[len - 1], '\n');
	ck_assert_ptr_null(memchr(r, '\n', len - 1));
	ck_assert_mem_eq(r, reason, len - 1);
	free(r);
	/* the same name again goes next to it, not over it */
	tspool_put(s.pickup, "b1", "x\n", 2);
	ck_assert_int_eq(pickup_claim(&d, "b1", 500, true, &e, reason, sizeof(reason),
	    err, sizeof(err)), PICKUP_BAD);
	ck_assert_int_eq(tspool_count(s.bad, "b1."), 3);	/* b1.reason, b1.<id>, b1.<id>.reason */
	ck_assert_int_eq(tspool_count(s.bad, NULL), 4);
	/* a directory, a symbolic link */
	ck_assert_int_eq(mkdirat(s.pickup, "dir", 0700), 0);
	ck_assert_int_eq(pickup_claim(&d, "dir", 500, true, &e, reason, sizeof(reason),
	    err, sizeof(err)), PICKUP_BAD);
	ck_assert_ptr_nonnull(strstr(reason, "not a regular file"));
	ck_assert_int_eq(symlinkat("/etc/passwd", s.pickup, "link"), 0);
	ck_assert_int_eq(pickup_claim(&d, "link", 500, true, &e, reason, sizeof(reason),
	    err, sizeof(err)), PICKUP_BAD);
	ck_assert_ptr_nonnull(strstr(reason, "not a regular file"));
	snprintf(name, sizeof(name), "link.reason");
	ck_assert(tspool_exists(s.bad, name));
	ck_assert_int_eq(tspool_count(s.tmp, NULL), 0);
	ck_assert_int_eq(tspool_count(s.queue, NULL), 0);
	ck_assert_int_eq(tspool_count(s.pickup, NULL), 0);
	tspool_close(&s);
}
END_TEST

START_TEST(claim_batch_commit)
{
	struct tspool s;
	struct pickup_dirs d;
	struct queue_entry e;
	char reason[256], err[256], name[16];
	int i;

	tspool_open(&s);
	d = dirs_of(&s);
	for (i = 0; i < 5; i++) {
		snprintf(name, sizeof(name), "m%d", i);
		tspool_put(s.pickup, name, okmsg, sizeof(okmsg) - 1);
		ck_assert_int_eq(pickup_claim(&d, name, 500, false, &e, reason, sizeof(reason),
		    err, sizeof(err)), PICKUP_QUEUED);
		assert_queued_ok(&s, e.id);
		queue_entry_free(&e);
	}
	ck_assert_int_eq(tspool_count(s.tmp, "claim."), 5);
	ck_assert_int_eq(pickup_commit(&d, err, sizeof(err)), 0);
	ck_assert_int_eq(tspool_count(s.tmp, NULL), 0);
	ck_assert_int_eq(tspool_count(s.queue, NULL), 10);
	ck_assert_int_eq(pickup_commit(&d, err, sizeof(err)), 0);	/* nothing to do */
	ck_assert_int_eq(pickup_recover(&d, 600, err, sizeof(err)), 0);
	ck_assert_int_eq(tspool_count(s.queue, NULL), 10);
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
	struct pickup_dirs d;
	struct queue_entry e;
	const char *rc[] = { "b@y.org", "c@y.org", "d@y.org" };
	char err[256], id[ID_LEN + 1];

	tspool_open(&s);
	d = dirs_of(&s);
	put_claim(&s, CID, okmsg, sizeof(okmsg) - 1);
	if (_i == 1)
		tspool_put(s.queue, CID ".msg", okstored, 10);
	if (_i == 2 || _i == 4) {
		ck_assert_int_eq(queue_entry_create_id(s.tmp, s.queue, CID, "a@x.org", rc, 3,
		    okstored, sizeof(okstored) - 1, 100, false, &e, err, sizeof(err)), 0);
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
	ck_assert_int_eq(pickup_recover(&d, 700, err, sizeof(err)), 1);
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
	ck_assert_int_eq(pickup_recover(&d, 800, err, sizeof(err)), 0);
	only_queued(&s, id);
	tspool_close(&s);
}
END_TEST

START_TEST(recover_bad_claim)
{
	struct tspool s;
	struct pickup_dirs d;
	char err[256];

	tspool_open(&s);
	d = dirs_of(&s);
	put_claim(&s, CID, "garbage\n", 8);
	ck_assert_int_eq(pickup_recover(&d, 700, err, sizeof(err)), 1);
	ck_assert(tspool_exists(s.bad, "claim." CID));
	ck_assert(tspool_exists(s.bad, "claim." CID ".reason"));
	ck_assert_int_eq(tspool_count(s.tmp, NULL), 0);
	ck_assert_int_eq(tspool_count(s.queue, NULL), 0);
	ck_assert_int_eq(pickup_recover(&d, 700, err, sizeof(err)), 0);
	tspool_close(&s);
}
END_TEST

/* Envelope lines and LF line ends only: queued without a copy. */
static const char rawmsg[] = "X-Sender: <a@x.org>\nX-Receiver: <b@y.org>\n"
    "From: a@x.org\nTo: b@y.org\n\nhello\n.dot\n";
static const char rawstored[] = "From: a@x.org\r\nTo: b@y.org\r\n\r\nhello\r\n.dot\r\n";
#define RAWOFF 42	/* strlen of the two envelope lines */

/* Assert queue/<id> is rawmsg queued as it is, from RAWOFF. */
static void
assert_queued_raw(const struct tspool *s, const char *id, int64_t created)
{
	struct queue_entry e;
	char err[256];

	ck_assert_int_eq(queue_entry_load(s->queue, id, &e, err, sizeof(err)), 0);
	ck_assert_str_eq(e.sender, "a@x.org");
	ck_assert_uint_eq(e.nrcpts, 1);
	ck_assert_str_eq(e.rcpts[0].addr, "b@y.org");
	ck_assert(e.size == sizeof(rawstored) - 1);
	ck_assert(e.offset == RAWOFF);
	ck_assert(e.created == created);
	queue_entry_free(&e);
	assert_msg_file(s, id, rawmsg, sizeof(rawmsg) - 1);
}

START_TEST(claim_raw)
{
	struct tspool s;
	struct pickup_dirs d;
	struct queue_entry e;
	char reason[256], err[256], id[ID_LEN + 1], name[64], *msg = NULL;
	size_t msglen = 0;

	ck_assert_int_eq(memcmp(rawmsg + RAWOFF, "From:", 5), 0);
	tspool_open(&s);
	d = dirs_of(&s);
	tspool_put(s.pickup, "r1", rawmsg, sizeof(rawmsg) - 1);
	ck_assert_int_eq(pickup_claim_body(&d, "r1", 500, false, &e, &msg, &msglen,
	    reason, sizeof(reason), err, sizeof(err)), PICKUP_QUEUED);
	ck_assert_uint_eq(msglen, sizeof(rawstored) - 1);
	ck_assert_mem_eq(msg, rawstored, msglen);
	free(msg);
	ck_assert(e.offset == RAWOFF);
	only_queued(&s, id);
	ck_assert_str_eq(id, e.id);
	/* renamed straight into queue/ as <id>.new: no claim file, no copy */
	snprintf(name, sizeof(name), "%s.new", id);
	ck_assert(tspool_exists(s.queue, name));
	ck_assert_int_eq(tspool_count(s.tmp, NULL), 0);
	ck_assert_int_eq(tspool_count(s.pickup, NULL), 0);
	ck_assert_int_eq(pickup_commit(&d, err, sizeof(err)), 0);
	ck_assert(!tspool_exists(s.queue, name));
	ck_assert_int_eq(tspool_count(s.tmp, NULL), 0);
	assert_queued_raw(&s, id, 500);
	/* finished: the .env's inode becomes a spare, used by the next claim */
	ck_assert_int_eq(pickup_release(&d, id, err, sizeof(err)), 0);
	ck_assert_int_eq(tspool_count(s.queue, NULL), 0);
	ck_assert_int_eq(tspool_count(s.tmp, "spare."), 1);
	queue_entry_free(&e);
	tspool_put(s.pickup, "r2", rawmsg, sizeof(rawmsg) - 1);
	ck_assert_int_eq(pickup_claim(&d, "r2", 600, false, &e, reason, sizeof(reason),
	    err, sizeof(err)), PICKUP_QUEUED);
	ck_assert_int_eq(tspool_count(s.tmp, "spare."), 0);
	ck_assert_int_eq(pickup_commit(&d, err, sizeof(err)), 0);
	only_queued(&s, id);
	assert_queued_raw(&s, id, 600);
	queue_entry_free(&e);
	ck_assert_int_eq(pickup_release(&d, id, err, sizeof(err)), 0);
	ck_assert_int_eq(pickup_release(&d, id, err, sizeof(err)), -1);	/* gone */
	/* a spare left from an earlier run is found and used */
	ck_assert_int_eq(pickup_recover(&d, 700, err, sizeof(err)), 0);
	tspool_put(s.pickup, "r3", rawmsg, sizeof(rawmsg) - 1);
	ck_assert_int_eq(pickup_claim(&d, "r3", 700, false, &e, reason, sizeof(reason),
	    err, sizeof(err)), PICKUP_QUEUED);
	ck_assert_int_eq(tspool_count(s.tmp, "spare."), 0);
	ck_assert_int_eq(pickup_commit(&d, err, sizeof(err)), 0);
	only_queued(&s, id);
	assert_queued_raw(&s, id, 700);
	queue_entry_free(&e);
	tspool_close(&s);
}
END_TEST

/* Assert queue/<id>.msg holds want (copied) and the entry was made at created. */
static void
assert_queued_ok_as(const struct tspool *s, const char *id, const char *want, size_t wlen,
    int64_t created)
{
	struct queue_entry e;
	char err[256];

	ck_assert_int_eq(queue_entry_load(s->queue, id, &e, err, sizeof(err)), 0);
	ck_assert(e.offset == 0);
	ck_assert(e.size == wlen);
	ck_assert(e.created == created);
	queue_entry_free(&e);
	assert_msg_file(s, id, want, wlen);
}

/*
 * Crash states of a claim queued without a copy, and of its removal:
 * 0 .new and .env (not committed): redone as a copy;
 * 1 .new only (no .env yet): redone as a copy;
 * 2 .msg and .env (committed): kept as it was;
 * 3 .msg only (removal: the .env went first): the .msg goes;
 * 4 .env only (the .msg went too, the .env came back): the .env goes;
 * 5 as 2 with tmp/claim.<id> as a second link of the .msg (an older
 *   version's claim): kept, the claim dropped;
 * 6 as 2 with a stale spare in tmp/: kept.
 */
START_TEST(recover_raw)
{
	struct tspool s;
	struct pickup_dirs d;
	struct queue_entry e;
	char reason[256], err[256], id[ID_LEN + 1], name[64], cname[64];

	tspool_open(&s);
	d = dirs_of(&s);
	tspool_put(s.pickup, "r1", rawmsg, sizeof(rawmsg) - 1);
	ck_assert_int_eq(pickup_claim(&d, "r1", 500, false, &e, reason, sizeof(reason),
	    err, sizeof(err)), PICKUP_QUEUED);
	util_strlcpy(id, e.id, sizeof(id));
	queue_entry_free(&e);
	if (_i >= 2)
		ck_assert_int_eq(pickup_commit(&d, err, sizeof(err)), 0);
	snprintf(name, sizeof(name), "%s.%s", id, _i == 4 ? "msg" : "env");
	if (_i == 1 || _i == 3 || _i == 4)
		ck_assert_int_eq(unlinkat(s.queue, name, 0), 0);
	if (_i == 5) {
		snprintf(name, sizeof(name), "%s.msg", id);
		snprintf(cname, sizeof(cname), "claim.%s", id);
		ck_assert_int_eq(linkat(s.queue, name, s.tmp, cname, 0), 0);
	}
	if (_i == 6)
		tspool_put(s.tmp, "spare.7", "version=1\nid=zz\n", 16);
	ck_assert_int_eq(pickup_recover(&d, 800, err, sizeof(err)),
	    _i == 2 || _i == 6 ? 0 : 1);
	ck_assert_int_eq(tspool_count(s.tmp, "claim."), 0);
	if (_i == 3 || _i == 4) {
		ck_assert_int_eq(tspool_count(s.queue, NULL), 0);
		ck_assert_int_eq(tspool_count(s.pickup, NULL), 0);
		tspool_close(&s);
		return;
	}
	only_queued(&s, id);
	if (_i <= 1)
		assert_queued_ok_as(&s, id, rawstored, sizeof(rawstored) - 1, 800);
	else
		assert_queued_raw(&s, id, 500);
	ck_assert_int_eq(pickup_recover(&d, 900, err, sizeof(err)), 0);
	only_queued(&s, id);
	tspool_close(&s);
}
END_TEST

/* Batches taken one after the other are committed separately, also in
 * the other order; a merged batch commits both. */
START_TEST(claim_batches)
{
	struct tspool s;
	struct pickup_dirs d;
	struct queue_entry e;
	struct pickup_batch *b1, *b2;
	char reason[256], err[256];

	tspool_open(&s);
	d = dirs_of(&s);
	tspool_put(s.pickup, "r1", rawmsg, sizeof(rawmsg) - 1);
	tspool_put(s.pickup, "m1", okmsg, sizeof(okmsg) - 1);
	tspool_put(s.pickup, "r2", rawmsg, sizeof(rawmsg) - 1);
	ck_assert_int_eq(pickup_claim(&d, "r1", 500, false, &e, reason, sizeof(reason),
	    err, sizeof(err)), PICKUP_QUEUED);
	queue_entry_free(&e);
	ck_assert_int_eq(pickup_claim(&d, "m1", 500, false, &e, reason, sizeof(reason),
	    err, sizeof(err)), PICKUP_QUEUED);
	queue_entry_free(&e);
	b1 = pickup_batch_take();
	ck_assert_uint_eq(pickup_batch_size(b1), 2);
	ck_assert_int_eq(pickup_claim(&d, "r2", 500, false, &e, reason, sizeof(reason),
	    err, sizeof(err)), PICKUP_QUEUED);
	queue_entry_free(&e);
	b2 = pickup_batch_take();
	ck_assert_uint_eq(pickup_batch_size(b2), 1);
	ck_assert_int_eq(tspool_count(s.tmp, "claim."), 1);	/* m1 needs a copy */
	if (_i == 0) {
		ck_assert_int_eq(pickup_batch_commit(&d, b2, err, sizeof(err)), 0);
		ck_assert_int_eq(tspool_count(s.tmp, "claim."), 1);
		ck_assert_int_eq(pickup_batch_commit(&d, b1, err, sizeof(err)), 0);
		pickup_batch_free(b1);
	} else {
		pickup_batch_merge(b2, b1);
		ck_assert_uint_eq(pickup_batch_size(b2), 3);
		ck_assert_int_eq(pickup_batch_commit(&d, b2, err, sizeof(err)), 0);
	}
	pickup_batch_free(b2);
	ck_assert_int_eq(tspool_count(s.tmp, NULL), 0);
	ck_assert_int_eq(tspool_count(s.queue, NULL), 6);
	ck_assert_int_eq(pickup_recover(&d, 600, err, sizeof(err)), 0);
	ck_assert_int_eq(tspool_count(s.queue, NULL), 6);
	tspool_close(&s);
}
END_TEST

/* The suite. */
static Suite *
pickup_suite(void)
{
	Suite *s = suite_create("pickup");
	TCase *tc = tcase_create("parse");
	int ngood = (int)(sizeof(good) / sizeof(good[0]));

	tcase_add_loop_test(tc, parse_good_lf, 0, ngood);
	tcase_add_loop_test(tc, parse_good_crlf, 0, ngood);
	tcase_add_loop_test(tc, parse_prefixes, 0, ngood);
	tcase_add_loop_test(tc, parse_bad, 0, (int)(sizeof(bad) / sizeof(bad[0])));
	tcase_add_test(tc, parse_limits);
	tcase_set_timeout(tc, 60);
	suite_add_tcase(s, tc);
	tc = tcase_create("claim");
	tcase_add_test(tc, claim_queued);
	tcase_add_test(tc, claim_bad);
	tcase_add_test(tc, claim_batch_commit);
	tcase_add_loop_test(tc, recover_crash, 0, 5);
	tcase_add_test(tc, recover_bad_claim);
	tcase_add_test(tc, claim_raw);
	tcase_add_loop_test(tc, recover_raw, 0, 7);
	tcase_add_loop_test(tc, claim_batches, 0, 2);
	suite_add_tcase(s, tc);
	return s;
}

/* Run the suite; the exit status says whether every check passed. */
int
main(void)
{
	SRunner *sr = srunner_create(pickup_suite());
	int nfailed;

	srunner_run_all(sr, CK_NORMAL);
	nfailed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return nfailed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
