/*
 * rewrite: what a send-only host decides for mail it originates, pure
 * (nullmailer's adminaddr, Postfix's masquerade_domains and
 * sender_canonical_maps, /etc/mailname as the mail domain).
 *
 * A local address is one whose domain is this host's (hostname, the
 * mailname, "localhost", or one of local_domains): nobody outside can
 * deliver to it.
 *
 *   Recipients (maildrop/ and pickup/): with admin_address set, every
 *   local recipient becomes admin_address (duplicates dropped); the
 *   caller logs each change, and when every recipient went to the admin
 *   an "X-Original-To:" field names the original ones (only then: other
 *   recipients never learn of a Bcc'd local one).
 *   Senders, envelope and From:/Sender: addresses:
 *     - any source: a local address gets sender_domain (default: the
 *       mailname) as its domain ("root@gw" -> "root@example.org");
 *     - maildrop/ only (local users): with sender_address set, the
 *       envelope sender and every From: address become sender_address;
 *       the original From: address (with sender_domain applied) goes into
 *       a new Reply-To: when there was none and it is not local.
 *   The null sender <> is never changed.
 *
 * Must not know: files (the mailname is read by the config loader), the
 * queue on disk, the log, SMTP sessions.
 */
#ifndef SMTPGATE_REWRITE_H
#define SMTPGATE_REWRITE_H

#include <stdbool.h>
#include <stddef.h>

#include "config.h"
#include "queue.h"
#include "smtp_addr.h"

/* The settings, copied from the configuration (every string owned). */
struct rewrite_policy {
	char *hostname;
	char *mailname;			/* NULL: none */
	char **local_domains;
	size_t nlocal_domains;
	char *admin_address;		/* NULL: recipients kept */
	char *sender_domain;		/* NULL: local senders kept */
	char *sender_address;		/* NULL: maildrop senders kept */
};

/* A copy of cfg's settings (NULL when nothing is ever rewritten). */
struct rewrite_policy *rewrite_policy_new(const struct outbound_config *cfg);
void rewrite_policy_free(struct rewrite_policy *p);

/* true when addr ("local@domain") is an address of this host. */
bool rewrite_is_local(const struct rewrite_policy *p, const char *addr);

/*
 * Where a notice (a bounce, a delay warning) to sender goes: admin_address
 * when sender is local and one is set (nobody can deliver to a local
 * address; Postfix would deliver it to the local mailbox), else sender.
 * Reads the configuration directly (the scheduler has no policy).
 */
const char *rewrite_notice_recipient(const struct outbound_config *cfg, const char *sender);

/*
 * The new address for the sender addr (envelope or From:), or NULL when it
 * stays.  untrusted: from maildrop/ (sender_address applies).  A malloc'd
 * string.
 */
char *rewrite_sender(const struct rewrite_policy *p, bool untrusted, const char *addr);

/* One change, for the caller's log. */
struct rewrite_change {
	const char *what;		/* "rcpt", "sender", "from", "sender_header" */
	char *from, *to;
};

/* What rewrite_message() changed. */
struct rewrite_changes {
	struct rewrite_change *v;
	size_t n;
};

void rewrite_changes_free(struct rewrite_changes *c);

/*
 * Apply the policy to a parsed message: e's sender and recipients, and
 * msg[0..*len) (a stored message, CRLF line ends), which is replaced by a
 * new malloc'd one (the old freed) when its header changes.  Every change
 * is listed in ch.  untrusted: from maildrop/.
 */
void rewrite_message(const struct rewrite_policy *p, bool untrusted, struct queue_entry *e,
    char **msg, size_t *len, struct rewrite_changes *ch);

#endif
