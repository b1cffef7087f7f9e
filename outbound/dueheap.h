/*
 * dueheap: the outbound queue in memory, a binary min-heap of small items
 * (id, next attempt, creation time), earliest next attempt first, then
 * oldest message first.  The scheduler keeps every queued message here
 * while it waits; its entry and body stay on disk.
 *
 * Pure data structure: no I/O, no libevent, no threads; the caller owns
 * the heap and passes the times in.  heap[0] is the item due first;
 * heap[i] may be read and its fields changed by the caller, who then
 * restores the order (dueheap_sift_up, dueheap_heapify).
 */
#ifndef SMTPGATE_DUEHEAP_H
#define SMTPGATE_DUEHEAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "id.h"

/* One queued message as the scheduler keeps it (40 bytes of key). */
struct dueheap_item {
	int64_t next;		/* next attempt, unix time */
	int64_t created;
	char id[ID_LEN + 1];
	bool retry;		/* a "retry all" has yet to reach it */
};

/* The heap: heap[0..nheap) in heap order, room for capheap. */
struct dueheap {
	struct dueheap_item *heap;
	size_t nheap, capheap;
};

/* Heap order: true when a is due before b. */
bool dueheap_before(const struct dueheap_item *a, const struct dueheap_item *b);

/* Add a message (retry mark cleared). */
void dueheap_push(struct dueheap *h, const char *id, int64_t next, int64_t created);

/* Take the item due first into *out; false when the heap is empty. */
bool dueheap_pop(struct dueheap *h, struct dueheap_item *out);

/* Remove item i (i < nheap). */
void dueheap_remove(struct dueheap *h, size_t i);

/* Index of id, or -1 (a linear search: for control requests only). */
long dueheap_find(const struct dueheap *h, const char *id);

/* Move item i up to its place after its key became earlier. */
void dueheap_sift_up(struct dueheap *h, size_t i);

/* Restore the heap order after many keys changed. */
void dueheap_heapify(struct dueheap *h);

/* Free the items (the heap is empty and usable again). */
void dueheap_free(struct dueheap *h);

#endif
