/*
 * Unit tests for outbound/dueheap.c: random pushes, removals (by id, as a
 * delete request does), pops and key changes (a retry request, "retry
 * all") checked against a sorted reference, and the heap order after each.
 */
#include <check.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check_main.h"
#include "dueheap.h"

#define REF_MAX	4096

/* The reference: the items in the heap, in no order. */
static struct dueheap_item ref[REF_MAX];
static size_t nref;

/* A small deterministic generator (the same run every time). */
static uint64_t
rnd(uint64_t *state)
{
	*state = *state * 6364136223846793005ull + 1442695040888963407ull;
	return *state >> 33;
}

/* Index of the reference's earliest item (by next, then created). */
static size_t
ref_min(void)
{
	size_t i, m = 0;

	for (i = 1; i < nref; i++)
		if (dueheap_before(&ref[i], &ref[m]))
			m = i;
	return m;
}

/* Drop reference item i. */
static void
ref_del(size_t i)
{
	ref[i] = ref[--nref];
}

/* Every parent is due no later than its children; the sizes match. */
static void
check_heap(const struct dueheap *h)
{
	size_t i, bad = 0;

	ck_assert_uint_eq(h->nheap, nref);
	ck_assert_uint_le(h->nheap, h->capheap);
	for (i = 1; i < h->nheap; i++)	/* one check per call: Check's are costly */
		bad += dueheap_before(&h->heap[i], &h->heap[(i - 1) / 2]);
	ck_assert_uint_eq(bad, 0);
}

/* Push an item with a random next attempt (many ties: created decides). */
static void
op_push(struct dueheap *h, uint64_t *st, int64_t *created)
{
	char id[ID_LEN + 1];
	int64_t next = (int64_t)(rnd(st) % 50);

	snprintf(id, sizeof(id), "%016" PRIx64, (uint64_t)*created);
	dueheap_push(h, id, next, *created);
	ck_assert_uint_lt(nref, REF_MAX);
	ref[nref].next = next;
	ref[nref].created = *created;
	memcpy(ref[nref].id, id, sizeof(id));
	nref++;
	(*created)++;
}

/* Remove a random item found by id (a delete request). */
static void
op_remove(struct dueheap *h, uint64_t *st)
{
	size_t r = rnd(st) % nref;
	long i = dueheap_find(h, ref[r].id);

	ck_assert_int_ge(i, 0);
	ck_assert_str_eq(h->heap[i].id, ref[r].id);
	dueheap_remove(h, (size_t)i);
	ck_assert_int_eq(dueheap_find(h, ref[r].id), -1);
	ref_del(r);
}

/* Pop: the reference's earliest item comes out. */
static void
op_pop(struct dueheap *h)
{
	struct dueheap_item it;
	size_t m = ref_min();

	ck_assert(dueheap_pop(h, &it));
	ck_assert_str_eq(it.id, ref[m].id);
	ck_assert_int_eq(it.next, ref[m].next);
	ck_assert_int_eq(it.created, ref[m].created);
	ck_assert(!it.retry);
	ref_del(m);
}

/* Make a random item due now (a retry request) and sift it up. */
static void
op_retry(struct dueheap *h, uint64_t *st)
{
	size_t r = rnd(st) % nref;
	long i = dueheap_find(h, ref[r].id);

	ck_assert_int_ge(i, 0);
	h->heap[i].next = 0;
	ref[r].next = 0;
	dueheap_sift_up(h, (size_t)i);
}

/* Make every other item due at a new time, then heapify ("retry all"). */
static void
op_retry_all(struct dueheap *h, uint64_t *st)
{
	size_t i, r;
	long k;

	for (i = 0; i < h->nheap; i += 2)
		h->heap[i].next = (int64_t)(rnd(st) % 50);
	for (r = 0; r < nref; r++) {
		k = dueheap_find(h, ref[r].id);
		if (k < 0)
			ck_abort_msg("%s is not in the heap", ref[r].id);
		ref[r].next = h->heap[k].next;
	}
	dueheap_heapify(h);
}

/* Random operations against the reference, then drain in order. */
START_TEST(random_against_reference)
{
	struct dueheap h = { NULL, 0, 0 };
	uint64_t st = 0x5eed0000u + (uint64_t)_i;
	int64_t created = 1, last_next = INT64_MIN, last_created = INT64_MIN;
	struct dueheap_item it;
	size_t step, op;

	nref = 0;
	for (step = 0; step < 20000; step++) {
		op = rnd(&st) % 16;
		if (step % 1000 == 999)
			op_retry_all(&h, &st);
		else if (nref == 0 || (op < 7 && nref < REF_MAX - 1))
			op_push(&h, &st, &created);
		else if (op < 10)
			op_remove(&h, &st);
		else if (op < 14)
			op_pop(&h);
		else
			op_retry(&h, &st);
		check_heap(&h);
	}
	while (dueheap_pop(&h, &it)) {	/* the rest comes out sorted */
		ck_assert(it.next > last_next || (it.next == last_next &&
		    it.created > last_created));
		last_next = it.next;
		last_created = it.created;
		nref--;
	}
	ck_assert_uint_eq(nref, 0);
	ck_assert(!dueheap_pop(&h, &it));
	dueheap_free(&h);
	ck_assert_ptr_null(h.heap);
}
END_TEST

/* Edge cases: empty heap, one item, the order of ties, growth. */
START_TEST(edges)
{
	struct dueheap h = { NULL, 0, 0 };
	struct dueheap_item it;
	char id[ID_LEN + 1];
	int64_t gone;
	int i;

	ck_assert(!dueheap_pop(&h, &it));
	ck_assert_int_eq(dueheap_find(&h, "0000000000000001"), -1);
	dueheap_heapify(&h);
	dueheap_push(&h, "00000000000000aa", 5, 2);
	dueheap_push(&h, "00000000000000bb", 5, 1);	/* same time, older */
	dueheap_push(&h, "00000000000000cc", 4, 9);
	ck_assert_str_eq(h.heap[0].id, "00000000000000cc");
	ck_assert(dueheap_pop(&h, &it) && strcmp(it.id, "00000000000000cc") == 0);
	ck_assert(dueheap_pop(&h, &it) && strcmp(it.id, "00000000000000bb") == 0);
	ck_assert(dueheap_pop(&h, &it) && strcmp(it.id, "00000000000000aa") == 0);
	for (i = 3000; i > 0; i--) {	/* past the first allocation */
		snprintf(id, sizeof(id), "%016x", i);
		dueheap_push(&h, id, i, i);
	}
	ck_assert_uint_eq(h.nheap, 3000);
	gone = h.heap[h.nheap - 1].next;
	dueheap_remove(&h, h.nheap - 1);	/* the last slot: no sifting */
	for (i = 1; i <= 3000; i++) {
		if (i == gone)
			continue;
		ck_assert(dueheap_pop(&h, &it));
		ck_assert_int_eq(it.next, i);
	}
	ck_assert_uint_eq(h.nheap, 0);
	dueheap_free(&h);
}
END_TEST

/* The suite (run by check_main.c). */
Suite *
unit_suite(void)
{
	Suite *s = suite_create("dueheap");
	TCase *tc = tcase_create("dueheap");

	tcase_set_timeout(tc, 60);
	tcase_add_loop_test(tc, random_against_reference, 0, 4);
	tcase_add_test(tc, edges);
	suite_add_tcase(s, tc);
	return s;
}
