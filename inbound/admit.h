/*
 * admit: may this transaction or recipient come in, given the space
 * (issue 19)?  The recipient's mailbox from the map (policy), the spool's
 * free-space reserve (diskspace, 452 4.3.1) and the mailbox's size limit
 * (mboxsize, 452 4.2.2), with the transaction's declared SIZE=.  Loop
 * thread; no syscall of its own (diskspace caches statvfs, mboxsize
 * answers from memory).  Answers are session.h's SESSION_RCPT_*.
 *
 * Must not know SMTP replies, sockets or how mail is written.
 */
#ifndef SMTPGATE_ADMIT_H
#define SMTPGATE_ADMIT_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "policy.h"

struct diskspace;
struct mboxsize;

/* What admission looks at; space and sizes may be NULL (not checked). */
struct admit {
	const struct inbound_config *cfg;
	const struct policy *policy;
	struct diskspace *space;
	struct mboxsize *sizes;
};

/* MAIL: SESSION_RCPT_OK, or _NOSPACE below the reserve (size: SIZE=). */
int admit_mail(const struct admit *a, uint64_t size);

/* RCPT: _UNKNOWN (no mailbox), _NOSPACE, _FULL (its mailbox would pass
 * mailbox_size_limit with size more bytes), or _OK. */
int admit_rcpt(const struct admit *a, const char *addr, uint64_t size);

/* A message of size bytes was handed to delivery for these mailbox
 * names (each counted once). */
void admit_delivering(const struct admit *a, const char *const *mailboxes, size_t n,
    uint64_t size);

#endif
