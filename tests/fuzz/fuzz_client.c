/*
 * fuzz_client: the outbound SMTP client state machine (and through it the
 * reply parser) fed raw server bytes.  The first byte picks the TLS mode,
 * AUTH and chunking; whenever the client is READY it is given a message,
 * up to three, then told to QUIT.
 */
#include <stdint.h>
#include <stdlib.h>

#include "client.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const fuzz_rcpts[] = { "a@example.com", "b@example.com", "c@example.net" };

/* React to the client's event like relay.c would; returns 0 to stop. */
static int
fuzz_client_event(struct client *c, int *sent)
{
	size_t n;
	struct client_message m = {
		.sender = (*sent % 2) ? "" : "s@example.org",
		.rcpts = fuzz_rcpts, .nrcpts = 1 + (size_t)(*sent % 3),
		.size = 1000, .eightbit = *sent == 1,
	};
	switch (client_event(c)) {
	case CLIENT_EV_READY:
		if (*sent >= 3) {
			client_quit(c);
			return 1;
		}
		(*sent)++;
		client_send_message(c, &m);
		return 1;
	case CLIENT_EV_STARTTLS:
		client_tls_started(c);
		return 1;
	case CLIENT_EV_BODY:
		client_body_sent(c);
		return 1;
	case CLIENT_EV_DONE:
		client_results(c, &n);
		client_ack_done(c);
		return 1;
	case CLIENT_EV_FAILED:
		client_failure(c);
		return 0;
	case CLIENT_EV_CLOSED:
		return 0;
	case CLIENT_EV_NONE:
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
	struct client_params p = {
		.helo_name = "fuzz.example.org",
		.tls = (enum smarthost_tls)(opts & 3),
		.auth_user = (opts & 4) ? "user" : NULL,
		.auth_password = (opts & 4) ? "secret" : NULL,
		.max_reply = (opts & 8) ? 512 : 65536,
	};
	struct client *c = client_new(&p, p.tls == SMARTHOST_TLS_IMPLICIT);
	/* data[off..end) is what the edge has received and not yet consumed */
	size_t chunk = (opts & 16) ? 1 : size, off = 0, end = 0;
	int sent = 0;
	for (long guard = 0; guard < 10000000; guard++) {
		size_t outlen;
		client_output(c, &outlen);
		client_output_drain(c, outlen);
		enum client_event ev = client_event(c);
		if (ev == CLIENT_EV_STARTTLS)
			off = end;	/* the edge discards what the server sent ahead */
		if (!fuzz_client_event(c, &sent))
			break;
		if (ev != CLIENT_EV_NONE)
			continue;
		size_t used = client_feed(c, (const char *)data + off, end - off);
		off += used;
		if (client_event(c) != CLIENT_EV_NONE || (used > 0 && off < end))
			continue;
		if (end == size)
			break;		/* nothing more will arrive */
		end = size - end < chunk ? size : end + chunk;
	}
	client_stage(c);
	client_free(c);
	return 0;
}
