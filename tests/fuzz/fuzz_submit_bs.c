/*
 * fuzz_submit_bs: the -bs dialogue of smtpgate-sendmail (outbound/
 * submit_bs.c) fed raw client bytes the way sendmail_bs.c feeds them:
 * unused bytes are kept and fed again with more.  The first byte picks
 * small limits, how the input is chunked, and whether a message is
 * answered with 250 or 451.  Checks that every reply is a complete line
 * starting with three digits, and that the session never stops taking
 * bytes without an event (no hang).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "submit_bs.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Every queued reply line: "DDD" then ' ' or '-', ended by CRLF. */
static void
check_output(struct submit_bs *s)
{
	size_t len;
	const char *o = submit_bs_output(s, &len), *end = o + len;

	while (o < end) {
		const char *crlf = memchr(o, '\n', (size_t)(end - o));
		if (crlf == NULL || crlf == o || crlf[-1] != '\r' || crlf - o < 5 ||
		    o[0] < '2' || o[0] > '5' || (o[3] != ' ' && o[3] != '-'))
			abort();
		o = crlf + 1;
	}
	submit_bs_output_clear(s);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	uint8_t opts = data[0];
	data++, size--;
	struct submit_bs *s = submit_bs_new(&(struct submit_bs_params){
	    .hostname = "fuzz.example.org", .max_size = (opts & 1) ? 64 : 1 << 20,
	    .max_rcpts = (opts & 2) ? 2 : 100 });
	size_t chunk = (opts & 4) ? 1 : (opts & 8) ? 7 : size, off = 0, end = 0;

	submit_bs_greet(s);
	for (;;) {
		size_t used;
		enum submit_bs_event ev = submit_bs_feed(s, (const char *)data + off, end - off,
		    &used);
		off += used;
		if (ev == SUBMIT_BS_MESSAGE) {
			size_t len;
			const char *d = submit_bs_data(s, &len);
			if (submit_bs_rcpts(s)->list.n == 0 || strlen(d) > len)
				abort();
			submit_bs_done(s, (opts & 16) ? "451 4.3.0 Error: queue file write error" :
			    "250 2.0.0 Ok: queued as X");
		}
		check_output(s);
		if (ev == SUBMIT_BS_CLOSE)
			break;
		if (ev == SUBMIT_BS_MESSAGE)
			continue;
		/* kept bytes are at most one partial command line */
		if (end - off >= SUBMIT_BS_MAX_LINE)
			abort();
		if (end == size)
			break;
		end = end + chunk < size ? end + chunk : size;
	}
	submit_bs_free(s);
	return 0;
}
