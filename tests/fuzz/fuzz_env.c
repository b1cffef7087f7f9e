/*
 * fuzz_env: the queue's .env text format (outbound/queue.c,
 * queue_env_parse / queue_env_format), pure: no files.  Whatever the
 * input, parsing must not crash; a text that parses must describe a
 * message the relay can send (an id, a sender, at least one recipient,
 * no address holding a control byte that would end an SMTP command
 * early), and formatting it must give a text that parses again and
 * formats to the same bytes (format is a fixed point after one parse).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "id.h"
#include "queue.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* abort() unless s is a non-NULL text with no ASCII control byte. */
static void
check_addr(const char *s)
{
	if (s == NULL)
		abort();
	for (; *s != '\0'; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			abort();
}

/* The invariants of a parsed entry. */
static void
check_entry(const struct queue_entry *e)
{
	const char *st = queue_entry_state(e);

	if (e->nrcpts == 0 || !id_valid(e->id))
		abort();
	check_addr(e->sender);
	for (size_t i = 0; i < e->nrcpts; i++) {
		check_addr(e->rcpts[i].addr);
		if (e->rcpts[i].addr[0] == '\0')
			abort();
	}
	if (strcmp(st, "queued") != 0 && strcmp(st, "deferred") != 0 && strcmp(st, "done") != 0)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct queue_entry e, again;
	char err[256], err2[256];
	char *t1, *t2;
	size_t l1, l2;

	if (queue_env_parse((const char *)data, size, &e, err, sizeof(err)) != 0) {
		if (err[0] == '\0' || e.rcpts != NULL || e.sender != NULL)
			abort();	/* an error is explained, nothing is kept */
		return 0;
	}
	check_entry(&e);
	t1 = queue_env_format(&e, &l1);
	if (queue_env_parse(t1, l1, &again, err2, sizeof(err2)) != 0)
		abort();	/* what we write, we read back */
	check_entry(&again);
	t2 = queue_env_format(&again, &l2);
	if (l1 != l2 || memcmp(t1, t2, l1) != 0)
		abort();
	free(t1);
	free(t2);
	queue_entry_free(&e);
	queue_entry_free(&again);
	return 0;
}
