/*
 * fuzz_addr: the RFC 5321 path parser with every flag combination (the
 * first byte), checking that what it accepts is bounded and re-parses to
 * the same address.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "smtp_addr.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	unsigned flags = data[0] & 0x0f;
	char out[SMTP_ADDR_MAX + 1], again[SMTP_ADDR_MAX + 1];
	size_t used = 0;
	enum smtp_addr_err e = smtp_addr_parse_path((const char *)data + 1, size - 1, flags,
	    out, sizeof(out), &used);
	smtp_addr_strerror(e);
	if (e != SMTP_ADDR_OK)
		return 0;
	if (used > size - 1 || strlen(out) > SMTP_ADDR_MAX)
		abort();
	/* what was accepted must parse again, bracketed, to itself */
	char bracketed[SMTP_ADDR_MAX + 3];
	size_t n = strlen(out);
	bracketed[0] = '<';
	memcpy(bracketed + 1, out, n);
	bracketed[n + 1] = '>';
	size_t used2;
	if (smtp_addr_parse_path(bracketed, n + 2, flags | SMTP_ADDR_ALLOW_NULL |
	    SMTP_ADDR_POSTMASTER_OK, again, sizeof(again), &used2) != SMTP_ADDR_OK ||
	    strcmp(out, again) != 0)
		abort();
	/* the unquoted form is never longer, and parses again as a mailbox */
	char canon[SMTP_ADDR_MAX + 1];
	if (smtp_addr_unquote(out, canon, strlen(out) + 1)) {
		n = strlen(canon);
		if (n >= strlen(out) || n + 2 > sizeof(bracketed))
			abort();
		bracketed[0] = '<';
		memcpy(bracketed + 1, canon, n);
		bracketed[n + 1] = '>';
		if (smtp_addr_parse_path(bracketed, n + 2, flags | SMTP_ADDR_UTF8, again,
		    sizeof(again), &used2) != SMTP_ADDR_OK || strcmp(canon, again) != 0)
			abort();
	}
	if (strchr(out, '@') != NULL)
		smtp_addr_ext_base(out, (size_t)(strrchr(out, '@') - out), "+-");
	smtp_addr_normalize_domain(out);
	smtp_addr_domain(out);
	return 0;
}
