/*
 * session_refusal: what the refusal being replied is about, kept beside
 * session.c for the connection's "reject" log line (session.h,
 * session_refusal_context): the command's verb and the address of a
 * MAIL or RCPT, parsed or as sent.  Pure, like the session: no I/O.
 */
#include <ctype.h>
#include <string.h>

#include "session.h"
#include "session_int.h"
#include "util.h"

/* The current command is verb[0..n) ("-" and "connect" for no command);
 * an unknown verb is kept upper-cased when it is 1-12 letters, else
 * "unknown".  The command's address is forgotten. */
void
session_refusal_verb(struct session *s, const char *verb, size_t n, bool unknown)
{
	size_t i;

	s->cmd_addr[0] = '\0';
	if (!unknown) {
		if (n >= sizeof(s->verb))
			n = sizeof(s->verb) - 1;
		memcpy(s->verb, verb, n);
		s->verb[n] = '\0';
		return;
	}
	for (i = 0; i < n && i < 12 && isalpha((unsigned char)verb[i]); i++)
		s->verb[i] = (char)toupper((unsigned char)verb[i]);
	s->verb[i] = '\0';
	if (i == 0 || i != n)
		util_strlcpy(s->verb, "unknown", sizeof(s->verb));
}

/* The path of a MAIL/RCPT argument as sent, without its angle brackets
 * (the address did not parse). */
void
session_refusal_path(struct session *s, const char *p)
{
	size_t n;

	if (*p == '<')
		p++;
	n = strcspn(p, "> ");
	if (n >= sizeof(s->cmd_addr))
		n = sizeof(s->cmd_addr) - 1;
	memcpy(s->cmd_addr, p, n);
	s->cmd_addr[n] = '\0';
}

/* What the refusal being replied is about (see session.h). */
void
session_refusal_context(const struct session *s, struct session_refusal *r)
{
	bool mail = strcmp(s->verb, "MAIL") == 0, rcpt = strcmp(s->verb, "RCPT") == 0;

	r->cmd = s->verb[0] ? s->verb : "-";
	r->from = mail && s->cmd_addr[0] ? s->cmd_addr : s->from_set ? s->t.mail_from : NULL;
	r->to = rcpt && s->cmd_addr[0] ? s->cmd_addr : NULL;
}
