/*
 * dueheap: the scheduler's binary min-heap of queued messages (see
 * dueheap.h).  Knows nothing about files, the clock, libevent or threads.
 */
#include <stdlib.h>
#include <string.h>

#include "dueheap.h"
#include "util.h"

/* Heap order: earlier next attempt first, then older message first. */
bool
dueheap_before(const struct dueheap_item *a, const struct dueheap_item *b)
{
	if (a->next != b->next)
		return a->next < b->next;
	return a->created < b->created;
}

/* Swap two heap slots. */
static void
dueheap_swap(struct dueheap *h, size_t i, size_t j)
{
	struct dueheap_item t = h->heap[i];

	h->heap[i] = h->heap[j];
	h->heap[j] = t;
}

/* Move heap item i up to its place. */
void
dueheap_sift_up(struct dueheap *h, size_t i)
{
	while (i > 0 && dueheap_before(&h->heap[i], &h->heap[(i - 1) / 2])) {
		dueheap_swap(h, i, (i - 1) / 2);
		i = (i - 1) / 2;
	}
}

/* Move heap item i down to its place. */
static void
dueheap_sift_down(struct dueheap *h, size_t i)
{
	size_t l, r, m;

	for (;;) {
		l = 2 * i + 1;
		r = l + 1;
		m = i;
		if (l < h->nheap && dueheap_before(&h->heap[l], &h->heap[m]))
			m = l;
		if (r < h->nheap && dueheap_before(&h->heap[r], &h->heap[m]))
			m = r;
		if (m == i)
			return;
		dueheap_swap(h, i, m);
		i = m;
	}
}

/* Add a message to the heap. */
void
dueheap_push(struct dueheap *h, const char *id, int64_t next, int64_t created)
{
	struct dueheap_item *it;

	if (h->nheap == h->capheap) {
		h->capheap = h->capheap ? h->capheap * 2 : 1024;
		h->heap = xrealloc(h->heap, h->capheap * sizeof(*h->heap));
	}
	it = &h->heap[h->nheap];
	it->next = next;
	it->created = created;
	it->retry = false;
	util_strlcpy(it->id, id, sizeof(it->id));
	dueheap_sift_up(h, h->nheap++);
}

/* Remove heap item i. */
void
dueheap_remove(struct dueheap *h, size_t i)
{
	h->heap[i] = h->heap[--h->nheap];
	if (i < h->nheap) {
		dueheap_sift_up(h, i);
		dueheap_sift_down(h, i);
	}
}

/* Take the item due first. */
bool
dueheap_pop(struct dueheap *h, struct dueheap_item *out)
{
	if (h->nheap == 0)
		return false;
	*out = h->heap[0];
	dueheap_remove(h, 0);
	return true;
}

/* Index of id in the heap, or -1 (linear: only for control requests). */
long
dueheap_find(const struct dueheap *h, const char *id)
{
	size_t i;

	for (i = 0; i < h->nheap; i++)
		if (strcmp(h->heap[i].id, id) == 0)
			return (long)i;
	return -1;
}

/* Rebuild the heap order after many keys changed. */
void
dueheap_heapify(struct dueheap *h)
{
	size_t i;

	for (i = h->nheap / 2; i-- > 0;)
		dueheap_sift_down(h, i);
}

/* Free the items. */
void
dueheap_free(struct dueheap *h)
{
	free(h->heap);
	h->heap = NULL;
	h->nheap = h->capheap = 0;
}
