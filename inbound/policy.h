/*
 * policy: who may connect and who may receive, from the inbound config.
 * Pure lookups: the relay_hosts allowlist and the mailbox map (exact
 * addresses, then "@domain" catch-alls).  Built once per (re)load; never
 * does I/O.
 */
#ifndef SMTPGATE_POLICY_H
#define SMTPGATE_POLICY_H

#include <stdbool.h>
#include <sys/socket.h>

#include "config.h"

struct policy;

struct policy *policy_new(const struct inbound_config *cfg);
void policy_free(struct policy *p);

/* true when relay_hosts is empty or sa lies in one of its entries. */
bool policy_client_allowed(const struct policy *p, const struct sockaddr *sa);

/*
 * The mailbox index (0..n-1, into cfg->mailboxes) that receives addr, or
 * -1.  The domain is compared case-insensitively, the local part too
 * (as Postfix does for its lookups; mail administrators expect it), and a
 * quoted local part as its unquoted form where the quotes change nothing
 * ("demo"@x is demo@x).  In order: the exact address; "postmaster" (no
 * domain) or postmaster@ any domain of the map: cfg->postmaster's
 * mailbox; with recipient_delimiter, user+tag@x as user@x (exact or
 * postmaster, as before); then "@domain".
 */
int policy_lookup(const struct policy *p, const char *addr);
const char *policy_mailbox_name(const struct policy *p, int idx);
size_t policy_mailbox_count(const struct policy *p);

#endif
