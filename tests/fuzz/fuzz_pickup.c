/*
 * fuzz_pickup: the pure parser of dropped files (outbound/pickup_parse.c):
 * each input parsed both ways, as a pickup/ file (the loose convention:
 * X-Sender/X-Receiver lines or the header-derived envelope, Bcc removal)
 * and as a maildrop/ file (strict: envelope and end line required).
 * Links only the parser and what it needs (addresses, queue entries).
 */
#include <stdint.h>
#include <stdlib.h>

#include "pickup.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Parse once with flags; a parsed file always has a sender and a recipient. */
static void
fuzz_one(const uint8_t *data, size_t size, unsigned flags)
{
	struct queue_entry e = { 0 };
	char *msg = NULL, reason[256];
	size_t msglen = 0;

	if (pickup_parse((const char *)data, size, flags, &e, &msg, &msglen, reason,
	    sizeof(reason)) == 0) {
		if (e.nrcpts == 0 || msg == NULL || e.sender == NULL)
			abort();	/* a queued message always has a recipient */
	}
	free(msg);
	queue_entry_free(&e);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_one(data, size, 0);
	fuzz_one(data, size, PICKUP_STRICT);
	return 0;
}
