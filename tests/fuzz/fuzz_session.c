/*
 * fuzz_session: the inbound server state machine fed raw client bytes
 * through its real line splitter and DATA decoder.  The first byte picks
 * the session options (TLS offered/required, small limits) and how the
 * input is chunked, so pipelining and byte-at-a-time paths are explored.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "session.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Accept every recipient except those in a "nobody" domain (unknown)
 * or a "full" one (the mailbox's size limit). */
static int
fuzz_rcpt_check(void *arg, const char *addr)
{
	(void)arg;
	if (strstr(addr, "@full"))
		return SESSION_RCPT_FULL;
	return strstr(addr, "@nobody") ? SESSION_RCPT_UNKNOWN : SESSION_RCPT_OK;
}

/*
 * Handle the event the session raised, like conn.c does; returns 0 when
 * the session is over.  STARTTLS discards everything received so far.
 */
static int
fuzz_session_event(struct session *s, uint8_t opts, size_t *off, size_t end)
{
	size_t len;
	switch (session_event(s)) {
	case SESSION_EV_MESSAGE:
		free(session_take_body(s, &len));
		session_delivered(s, (enum session_delivery)(opts % 3), "0123456789abcdef");
		return 1;
	case SESSION_EV_STARTTLS:
		*off = end;
		session_tls_started(s);
		return 1;
	case SESSION_EV_CLOSE:
		return 0;
	case SESSION_EV_NONE:
		return 1;
	}
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	uint8_t opts = data[0];
	data++, size--;
	struct session_params p = {
		.hostname = "fuzz.example.org",
		.max_line = (opts & 1) ? 64 : 2048,
		.max_message_size = (opts & 2) ? 100 : 1 << 20,
		.max_recipients = (opts & 4) ? 2 : 100,
		.max_errors = (opts & 8) ? 3 : 10,
		.tls_available = (opts & 16) != 0,
		.tls_required = (opts & 32) != 0,
		.rcpt_check = fuzz_rcpt_check,
		.max_data_line = (opts & 2) ? 40 : 1000,
	};
	struct session *s = session_new(&p);
	session_greet(s, SESSION_GREET_OK);
	/* data[off..end) is what the edge has received and not yet consumed */
	size_t chunk = (opts & 64) ? 1 : size, off = 0, end = 0;
	for (long guard = 0; guard < 10000000; guard++) {
		size_t used = session_feed(s, (const char *)data + off, end - off);
		off += used;
		size_t outlen;
		session_output(s, &outlen);
		session_output_drain(s, outlen);
		enum session_event ev = session_event(s);
		if (!fuzz_session_event(s, opts, &off, end))
			break;
		if (ev != SESSION_EV_NONE || (used > 0 && off < end))
			continue;
		if (end == size)
			break;		/* nothing more will arrive */
		end = size - end < chunk ? size : end + chunk;
	}
	if (opts & 128)
		session_timeout(s);
	else
		session_shutdown(s);
	session_free(s);
	return 0;
}
