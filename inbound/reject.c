/*
 * reject: the reason of a refusal, from the reply line the session sent.
 * Matched on the reply code and enhanced status code (RFC 3463), and on a
 * few words where one code serves two refusals.  Pure: the table is the
 * module; tests/unit/inbound/test_reject.c feeds it every refusal the
 * session makes.
 */
#include <string.h>

#include "reject.h"

static const struct {
	const char *code;		/* the line starts with it */
	const char *words;		/* and contains these (NULL: any) */
	enum reject_reason reason;
} reject_table[] = {
	{ "550 5.1.1", NULL, REJECT_UNKNOWN_USER },
	{ "552 5.3.4", NULL, REJECT_SIZE },
	{ "554 5.7.1", NULL, REJECT_RELAY_DENIED },
	{ "421 4.7.0", "Too many connections", REJECT_OVER_CAP },
	{ "421 4.7.0", "too many errors", REJECT_TOO_MANY_ERRORS },
	{ "421 4.3.2", "shutting down", REJECT_SHUTDOWN },
	{ "421 4.3.2", NULL, REJECT_BUDGET },
	{ "421 4.4.2", NULL, REJECT_TIMEOUT },
	{ "554 5.5.1", "before greeting", REJECT_EARLY_TALKER },
	{ "554 5.5.1", "recipients", REJECT_NO_RECIPIENTS },
	{ "452 4.5.3", NULL, REJECT_TOO_MANY_RECIPIENTS },
	{ "553 5.6.7", NULL, REJECT_SMTPUTF8 },
	{ "530 5.7.0", NULL, REJECT_TLS_REQUIRED },
	{ "454 4.7.0", NULL, REJECT_TLS_UNAVAILABLE },
	{ "550 5.5.2", NULL, REJECT_BAD_DATA },
	{ "500 5.5.2", "bare LF", REJECT_BARE_LF },
	{ "500 5.5.2", "too long", REJECT_LINE_TOO_LONG },
	{ "500 ", NULL, REJECT_SYNTAX },
	{ "501 ", NULL, REJECT_SYNTAX },
	{ "555 ", NULL, REJECT_SYNTAX },
	{ "503 ", NULL, REJECT_SEQUENCE },
	{ "452 4.3.1", NULL, REJECT_DISK_FULL },
	{ "451 4.3.0", NULL, REJECT_LOCAL_ERROR },
	{ "452 4.2.2", NULL, REJECT_MAILBOX_FULL },
	{ "554 5.6.0", NULL, REJECT_DATA_LINE },
};

static const char *const reject_names[REJECT_NREASONS] = {
	[REJECT_UNKNOWN_USER] = "unknown_user",
	[REJECT_SIZE] = "size",
	[REJECT_RELAY_DENIED] = "relay_denied",
	[REJECT_OVER_CAP] = "over_cap",
	[REJECT_BUDGET] = "budget",
	[REJECT_EARLY_TALKER] = "early_talker",
	[REJECT_TIMEOUT] = "timeout",
	[REJECT_DEADLINE] = "deadline",
	[REJECT_TOO_MANY_ERRORS] = "too_many_errors",
	[REJECT_TOO_MANY_RECIPIENTS] = "too_many_recipients",
	[REJECT_NO_RECIPIENTS] = "no_recipients",
	[REJECT_SMTPUTF8] = "smtputf8",
	[REJECT_TLS_REQUIRED] = "tls_required",
	[REJECT_TLS_UNAVAILABLE] = "tls_unavailable",
	[REJECT_BAD_DATA] = "bad_data",
	[REJECT_BARE_LF] = "bare_lf",
	[REJECT_LINE_TOO_LONG] = "line_too_long",
	[REJECT_SYNTAX] = "syntax",
	[REJECT_SEQUENCE] = "sequence",
	[REJECT_SHUTDOWN] = "shutdown",
	[REJECT_DISK_FULL] = "disk_full",
	[REJECT_LOCAL_ERROR] = "local_error",
	[REJECT_MAILBOX_FULL] = "mailbox_full",
	[REJECT_DATA_LINE] = "data_line_too_long",
	[REJECT_OTHER] = "other",
};

/* 1 when words occur in line[0..len). */
static int
reject_has(const char *line, size_t len, const char *words)
{
	size_t n = strlen(words), i;

	for (i = 0; i + n <= len; i++)
		if (memcmp(line + i, words, n) == 0)
			return 1;
	return 0;
}

/* The reason of a reply line (see reject.h). */
int
reject_classify(const char *line, size_t len)
{
	size_t i, n;

	if (len < 4 || (line[0] != '4' && line[0] != '5'))
		return -1;
	for (i = 0; i < sizeof(reject_table) / sizeof(reject_table[0]); i++) {
		n = strlen(reject_table[i].code);
		if (len >= n && memcmp(line, reject_table[i].code, n) == 0 &&
		    (reject_table[i].words == NULL ||
		    reject_has(line, len, reject_table[i].words)))
			return (int)reject_table[i].reason;
	}
	return REJECT_OTHER;
}

/* The label value of a reason. */
const char *
reject_name(enum reject_reason r)
{
	return (unsigned)r < REJECT_NREASONS ? reject_names[r] : "other";
}
