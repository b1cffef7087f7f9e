/*
 * backoff: the failure table (see backoff.h): a chained hash table of
 * keys, each with its failure count and the time it may be tried again.
 * Knows nothing about files, logging or threads.
 */
#include <stdlib.h>
#include <string.h>

#include "backoff.h"
#include "util.h"

#define BACKOFF_BUCKETS	1024

struct backoff_entry {
	struct backoff_entry *next;
	int64_t until;		/* may be tried at or after this time */
	unsigned fails;
	bool marked;		/* seen since the last sweep */
	char key[];
};

struct backoff {
	struct backoff_entry *bucket[BACKOFF_BUCKETS];
	size_t n;
};

/* FNV-1a of key, as a bucket number. */
static size_t
backoff_hash(const char *key)
{
	uint32_t h = 2166136261u;

	for (; *key != '\0'; key++)
		h = (h ^ (unsigned char)*key) * 16777619u;
	return h % BACKOFF_BUCKETS;
}

/* The entry of key, or NULL. */
static struct backoff_entry *
backoff_find(const struct backoff *b, const char *key)
{
	struct backoff_entry *e;

	for (e = b->bucket[backoff_hash(key)]; e != NULL; e = e->next)
		if (strcmp(e->key, key) == 0)
			return e;
	return NULL;
}

/* A new, empty table. */
struct backoff *
backoff_new(void)
{
	return xcalloc(1, sizeof(struct backoff));
}

/* Free the table and every entry. */
void
backoff_free(struct backoff *b)
{
	struct backoff_entry *e, *next;
	size_t i;

	if (b == NULL)
		return;
	for (i = 0; i < BACKOFF_BUCKETS; i++)
		for (e = b->bucket[i]; e != NULL; e = next) {
			next = e->next;
			free(e);
		}
	free(b);
}

/* May key be tried at now? */
bool
backoff_ready(const struct backoff *b, const char *key, int64_t now)
{
	const struct backoff_entry *e = backoff_find(b, key);

	return e == NULL || now >= e->until;
}

/* Record a failure: the wait doubles from BACKOFF_FIRST to BACKOFF_MAX. */
unsigned
backoff_fail(struct backoff *b, const char *key, int64_t now, int64_t *wait)
{
	struct backoff_entry *e = backoff_find(b, key);
	int64_t w = BACKOFF_FIRST;
	size_t len, h;
	unsigned i;

	if (e == NULL) {
		len = strlen(key);
		e = xcalloc(1, sizeof(*e) + len + 1);
		memcpy(e->key, key, len + 1);
		h = backoff_hash(key);
		e->next = b->bucket[h];
		b->bucket[h] = e;
		b->n++;
	}
	if (e->fails < 1000)
		e->fails++;
	for (i = 1; i < e->fails && w < BACKOFF_MAX; i++)
		w *= 2;
	if (w > BACKOFF_MAX)
		w = BACKOFF_MAX;
	e->until = now + w;
	e->marked = true;
	if (wait != NULL)
		*wait = w;
	return e->fails;
}

/* Forget key. */
void
backoff_forget(struct backoff *b, const char *key)
{
	struct backoff_entry **pp, *e;

	for (pp = &b->bucket[backoff_hash(key)]; (e = *pp) != NULL; pp = &e->next)
		if (strcmp(e->key, key) == 0) {
			*pp = e->next;
			free(e);
			b->n--;
			return;
		}
}

/* Mark key as still there. */
void
backoff_mark(struct backoff *b, const char *key)
{
	struct backoff_entry *e = backoff_find(b, key);

	if (e != NULL)
		e->marked = true;
}

/* Forget the keys not marked since the last sweep; clear the marks. */
size_t
backoff_sweep(struct backoff *b)
{
	struct backoff_entry **pp, *e;
	size_t i, gone = 0;

	for (i = 0; i < BACKOFF_BUCKETS; i++)
		for (pp = &b->bucket[i]; (e = *pp) != NULL;) {
			if (e->marked) {
				e->marked = false;
				pp = &e->next;
				continue;
			}
			*pp = e->next;
			free(e);
			b->n--;
			gone++;
		}
	return gone;
}

/* Number of keys in the table. */
size_t
backoff_size(const struct backoff *b)
{
	return b->n;
}
