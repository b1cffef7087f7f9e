/*
 * fuzz_pickup: the pure parser of dropped files (outbound/pickup_parse.c):
 * each input parsed both ways, as a pickup/ file (the loose convention:
 * X-Sender/X-Receiver lines or the header-derived envelope, Bcc removal)
 * and as a maildrop/ file (strict: envelope and end line required).
 * What parses then goes through what the daemon does next (issue 19): the
 * rewriting of rewrite.c (admin map, masquerading, sender_address) and
 * longline.c, whose re-encoded body never has a line over 998.
 * Links only the parser and what it needs (addresses, queue entries).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "longline.h"
#include "pickup.h"
#include "rewrite.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A policy that changes as much as it can. */
static struct rewrite_policy *
fuzz_policy(void)
{
	static char local0[] = "y.org";
	static char *locals[] = { local0 };
	struct outbound_config c;

	memset(&c, 0, sizeof(c));
	c.hostname = (char[]){ "x.org" };
	c.admin_address = (char[]){ "ops@example.org" };
	c.sender_domain = (char[]){ "example.org" };
	c.sender_address = (char[]){ "noreply@example.org" };
	c.local_domains = locals;
	c.nlocal_domains = 1;
	return rewrite_policy_new(&c);
}

/* The body of m has no line over LONGLINE_MAX (CRLF ends). */
static void
check_short(const char *m, size_t n)
{
	const char *b = memmem(m, n, "\r\n\r\n", 4), *nl;
	size_t off;

	if (b == NULL)
		return;
	for (off = (size_t)(b + 4 - m); off < n; off = (size_t)(nl - m) + 1) {
		nl = memchr(m + off, '\n', n - off);
		if (nl == NULL)
			nl = m + n;
		if ((size_t)(nl - m) - off > LONGLINE_MAX + 1)
			abort();
	}
}

/* What the daemon does with a parsed message. */
static void
fuzz_originate(struct queue_entry *e, char **msg, size_t *msglen, unsigned flags)
{
	static struct rewrite_policy *p;
	struct rewrite_changes ch = { NULL, 0 };
	struct longline_result r;
	char *out;
	size_t outlen;

	if (p == NULL)
		p = fuzz_policy();
	rewrite_message(p, flags == PICKUP_STRICT, e, msg, msglen, &ch);
	rewrite_changes_free(&ch);
	if (e->nrcpts == 0)
		abort();
	if (longline_fix(*msg, *msglen, &out, &outlen, &r) == LONGLINE_FIXED) {
		check_short(out, outlen);
		free(out);
	}
}

/* Parse once with flags; a parsed file always has a sender and a recipient. */
static void
fuzz_one(const uint8_t *data, size_t size, unsigned flags)
{
	struct pickup_msg m = { 0 };
	char reason[256];

	if (pickup_parse((const char *)data, size, flags, &m, reason, sizeof(reason)) == 0) {
		if (m.e.nrcpts == 0 || m.msg == NULL || m.e.sender == NULL)
			abort();	/* a queued message always has a recipient */
		fuzz_originate(&m.e, &m.msg, &m.msglen, flags);
	}
	free(m.msg);
	queue_entry_free(&m.e);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_one(data, size, 0);
	fuzz_one(data, size, PICKUP_STRICT);
	return 0;
}
