/*
 * Unit tests for clog_format: the commit log's records (encoded, decoded
 * whole and fed one byte at a time, every single-byte corruption found,
 * bad fields refused), segment scans (stop at zeros, a torn record, a gap
 * in the sequence, an older recycled record), checkpoint slots (the newer
 * valid one wins, a torn one is ignored) and the recovery decision table.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check_main.h"
#include "clog_format.h"

/* Encode one record into a malloc'd buffer; *lenp its size. */
static char *
make(enum clog_kind kind, uint64_t seq, const char *box, const char *name, const char *msg,
    size_t *lenp)
{
	struct iovec iov[2] = { { (void *)msg, strlen(msg) / 2 },
	    { (void *)(msg + strlen(msg) / 2), strlen(msg) - strlen(msg) / 2 } };
	struct clog_rec r = { .seq = seq, .kind = kind, .mailbox = box,
	    .mailbox_len = strlen(box), .name = name, .name_len = strlen(name),
	    .msg_len = strlen(msg) };
	size_t head, size;
	char *buf;

	r.msg_crc = clog_crc_iov(iov, 2);
	head = clog_head_size(&r);
	size = clog_rec_size(&r);
	buf = malloc(size);
	clog_encode_head(buf, &r);
	if (kind == CLOG_INLINE)
		memcpy(buf + head, msg, strlen(msg));
	*lenp = size;
	return buf;
}

/* Whole: every field back as it went in. */
START_TEST(test_roundtrip)
{
	size_t len;
	char *b = make(CLOG_INLINE, 42, "alice", "1.M2P3Q4.host,S=11", "Subject: x\n", &len);
	struct clog_rec r;

	ck_assert_int_eq(clog_decode(b, len, &r), 1);
	ck_assert_uint_eq(r.size, len);
	ck_assert_uint_eq(r.seq, 42);
	ck_assert_int_eq(r.kind, CLOG_INLINE);
	ck_assert_int_eq((int)r.mailbox_len, 5);
	ck_assert(memcmp(r.mailbox, "alice", 5) == 0);
	ck_assert(memcmp(r.name, "1.M2P3Q4.host,S=11", r.name_len) == 0);
	ck_assert_uint_eq(r.msg_len, 11);
	ck_assert(memcmp(r.msg, "Subject: x\n", 11) == 0);
	ck_assert_uint_eq(r.msg_crc, clog_crc(0, "Subject: x\n", 11));
	free(b);
}
END_TEST

/* A reference carries no message bytes, only its length and CRC. */
START_TEST(test_reference)
{
	size_t len;
	char *b = make(CLOG_REF, 7, "bob", "n,S=5", "hello", &len);
	struct clog_rec r;

	ck_assert_uint_eq(len, CLOG_HDR + 3 + 5);
	ck_assert_int_eq(clog_decode(b, len, &r), 1);
	ck_assert_int_eq(r.kind, CLOG_REF);
	ck_assert_ptr_null(r.msg);
	ck_assert_uint_eq(r.msg_len, 5);
	ck_assert_uint_eq(r.msg_crc, clog_crc(0, "hello", 5));
	free(b);
}
END_TEST

/* Fed one byte at a time: "needs more" for every proper prefix, then 1. */
START_TEST(test_byte_by_byte)
{
	size_t len;
	char *b = make(CLOG_INLINE, 1, "alice", "x,S=20", "0123456789abcdefghij", &len);
	struct clog_rec r;

	for (size_t n = 0; n < len; n++) {
		char *p = malloc(n ? n : 1);	/* exactly n bytes: ASan sees overreads */

		memcpy(p, b, n);
		ck_assert_msg(clog_decode(p, n, &r) == 0, "prefix %zu", n);
		free(p);
	}
	ck_assert_int_eq(clog_decode(b, len, &r), 1);
	free(b);
}
END_TEST

/* Every single flipped bit of the record is found (never decoded as a
 * record of the same bytes). */
START_TEST(test_every_corruption)
{
	size_t len;
	char *b = make(CLOG_INLINE, 9, "alice", "y,S=5", "hello", &len);
	struct clog_rec r;

	for (size_t i = 0; i < len; i++)
		for (int bit = 0; bit < 8; bit++) {
			b[i] ^= (char)(1 << bit);
			ck_assert_msg(clog_decode(b, len, &r) != 1, "byte %zu bit %d", i, bit);
			b[i] ^= (char)(1 << bit);
		}
	ck_assert_int_eq(clog_decode(b, len, &r), 1);
	free(b);
}
END_TEST

/* Zeros, names with '/' or "..", an unknown kind: not records. */
START_TEST(test_bad_fields)
{
	char zeros[64] = { 0 };
	struct clog_rec r;
	size_t len;
	char *b;

	ck_assert_int_eq(clog_decode(zeros, sizeof(zeros), &r), -1);
	ck_assert_int_eq(clog_decode(zeros, 0, &r), 0);
	b = make(CLOG_INLINE, 1, "../etc", "n", "m", &len);
	ck_assert_int_eq(clog_decode(b, len, &r), -1);
	free(b);
	b = make(CLOG_INLINE, 1, "alice", "..", "m", &len);
	ck_assert_int_eq(clog_decode(b, len, &r), -1);
	free(b);
	b = make(CLOG_INLINE, 1, "", "n", "m", &len);
	ck_assert_int_eq(clog_decode(b, len, &r), -1);
	free(b);
	b = make((enum clog_kind)3, 1, "alice", "n", "m", &len);
	ck_assert_int_eq(clog_decode(b, len, &r), -1);
	free(b);
}
END_TEST

/* A segment: n records with consecutive numbers from first, then zeros. */
static char *
segment(uint64_t first, int n, size_t segsize, size_t *ends)
{
	char *seg = calloc(1, segsize), msg[64], name[64];
	size_t off = 0;

	for (int i = 0; i < n; i++) {
		size_t len;
		char *b;

		snprintf(msg, sizeof(msg), "message %d\n", i);
		snprintf(name, sizeof(name), "n%d,S=%zu", i, strlen(msg));
		b = make(CLOG_INLINE, first + (uint64_t)i, "alice", name, msg, &len);
		memcpy(seg + off, b, len);
		off += len;
		ends[i] = off;
		free(b);
	}
	return seg;
}

/* The scan stops at zeros, at a torn last record and at a gap. */
START_TEST(test_scan)
{
	size_t ends[5], count, end;
	char *seg = segment(100, 5, 4096, ends);

	end = clog_scan(seg, 4096, NULL, NULL, &count);
	ck_assert_uint_eq(count, 5);
	ck_assert_uint_eq(end, ends[4]);
	/* torn last record: its second half never written */
	memset(seg + ends[3] + (ends[4] - ends[3]) / 2, 0, (ends[4] - ends[3]) / 2);
	end = clog_scan(seg, 4096, NULL, NULL, &count);
	ck_assert_uint_eq(count, 4);
	ck_assert_uint_eq(end, ends[3]);
	/* the log cut in the middle of a record */
	end = clog_scan(seg, ends[2] + 10, NULL, NULL, &count);
	ck_assert_uint_eq(count, 3);
	free(seg);
}
END_TEST

/* A recycled segment: newer records over older ones; the older ones
 * after them (lower numbers) are not taken, even at a record boundary. */
START_TEST(test_scan_recycled)
{
	size_t ends_old[5], ends_new[5], count;
	char *old = segment(10, 5, 4096, ends_old);
	char *new = segment(50, 2, 4096, ends_new);

	/* the same sizes: the new records end where an old one begins */
	memcpy(old, new, ends_new[1]);
	ck_assert_uint_eq(ends_new[1], ends_old[1]);
	ck_assert_uint_eq(clog_scan(old, 4096, NULL, NULL, &count), ends_new[1]);
	ck_assert_uint_eq(count, 2);
	free(old);
	free(new);
}
END_TEST

/* Checkpoint slots: the newer valid one; a torn one ignored. */
START_TEST(test_checkpoint_slots)
{
	char buf[2 * CLOG_CKPT_SLOT];
	struct clog_ckpt a = { .counter = 5, .nworkers = 2, .seq = { 10, 20 } };
	struct clog_ckpt b = { .counter = 6, .nworkers = 2, .seq = { 11, 25 } }, got;

	memset(buf, 0, sizeof(buf));
	ck_assert_int_eq(clog_ckpt_pick(buf, &got), -1);
	ck_assert_uint_eq(got.seq[0], 0);
	clog_ckpt_encode(buf, &a);
	ck_assert_int_eq(clog_ckpt_pick(buf, &got), 0);
	ck_assert_uint_eq(got.seq[1], 20);
	clog_ckpt_encode(buf + CLOG_CKPT_SLOT, &b);
	ck_assert_int_eq(clog_ckpt_pick(buf, &got), 1);
	ck_assert_uint_eq(got.seq[0], 11);
	ck_assert_uint_eq(got.seq[1], 25);
	buf[CLOG_CKPT_SLOT + 30] ^= 1;		/* the newer one torn */
	ck_assert_int_eq(clog_ckpt_pick(buf, &got), 0);
	ck_assert_uint_eq(got.counter, 5);
	a.nworkers = CLOG_MAX_WORKERS + 1;	/* nonsense is refused */
	clog_ckpt_encode(buf, &a);
	ck_assert_int_eq(clog_ckpt_decode(buf, &got), -1);
}
END_TEST

/* The recovery decision, every case of the README's rule. */
START_TEST(test_decide)
{
	static const struct {
		bool found;
		uint64_t found_len;
		bool same;
		uint64_t rec_len;
		enum clog_action want;
	} t[] = {
		{ false, 0, false, 100, CLOG_PUBLISH },	/* never published, or deleted */
		{ true, 100, true, 100, CLOG_KEEP },	/* there, whole */
		{ true, 0, false, 100, CLOG_REPLACE },	/* rename durable, data not */
		{ true, 60, false, 100, CLOG_REPLACE },	/* short */
		{ true, 100, false, 100, CLOG_REPLACE },	/* same length, other bytes */
		{ true, 120, false, 100, CLOG_REPLACE },	/* longer */
		{ true, 0, true, 0, CLOG_KEEP },	/* an empty message stored whole */
	};

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		ck_assert_msg(clog_decide(t[i].found, t[i].found_len, t[i].same, t[i].rec_len) ==
		    t[i].want, "case %zu", i);
}
END_TEST

/* The CRC is zlib's CRC-32 (the check value of "123456789"). */
START_TEST(test_crc)
{
	ck_assert_uint_eq(clog_crc(0, "123456789", 9), 0xcbf43926u);
	ck_assert_uint_eq(clog_crc(clog_crc(0, "1234", 4), "56789", 5), 0xcbf43926u);
}
END_TEST

/* The suite. */
Suite *
unit_suite(void)
{
	Suite *s = suite_create("clog_format");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_roundtrip);
	tcase_add_test(tc, test_reference);
	tcase_add_test(tc, test_byte_by_byte);
	tcase_add_test(tc, test_every_corruption);
	tcase_add_test(tc, test_bad_fields);
	tcase_add_test(tc, test_scan);
	tcase_add_test(tc, test_scan_recycled);
	tcase_add_test(tc, test_checkpoint_slots);
	tcase_add_test(tc, test_decide);
	tcase_add_test(tc, test_crc);
	suite_add_tcase(s, tc);
	return s;
}
