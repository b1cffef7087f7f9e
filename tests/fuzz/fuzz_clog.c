/*
 * fuzz_clog: the commit log's parsers as recovery meets them after a
 * crash: any bytes as a segment (clog_scan, clog_decode) and as the
 * checkpoint file (clog_ckpt_pick).  Never reads past the input; every
 * record found lies inside it and encodes back to the same bytes.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "clog_format.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Check one record found by the scan against its bytes. */
static int
fuzz_check(void *arg, const struct clog_rec *r, size_t offset)
{
	const char *seg = arg;
	char *head = malloc(clog_head_size(r));

	if (head == NULL)
		abort();
	clog_encode_head(head, r);
	if (memcmp(head, seg + offset, clog_head_size(r)) != 0)
		abort();	/* decode and encode disagree */
	free(head);
	return 0;
}

/* One input. */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *seg = malloc(size ? size : 1);
	struct clog_ckpt c;
	struct clog_rec r;
	size_t count, end;

	if (seg == NULL)
		abort();
	memcpy(seg, data, size);
	end = clog_scan(seg, size, fuzz_check, seg, &count);
	if (end > size)
		abort();
	for (size_t n = 0; n <= size && n < 128; n++)
		(void)clog_decode(seg, n, &r);
	if (size >= 2 * CLOG_CKPT_SLOT)
		(void)clog_ckpt_pick(seg, &c);
	free(seg);
	return 0;
}
