/*
 * fuzz_pickup: the pickup-file envelope parser (X-Sender/X-Receiver lines
 * or the header-derived envelope, Bcc removal).
 */
#include <stdint.h>
#include <stdlib.h>

#include "pickup.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct queue_entry e = { 0 };
	char *msg = NULL, reason[256];
	size_t msglen = 0;
	if (pickup_parse((const char *)data, size, &e, &msg, &msglen, reason, sizeof(reason)) == 0) {
		if (e.nrcpts == 0 || msg == NULL)
			abort();	/* a queued message always has a recipient */
	}
	free(msg);
	queue_entry_free(&e);
	return 0;
}
