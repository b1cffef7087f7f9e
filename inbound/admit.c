/*
 * admit: the space checks at MAIL and RCPT (see admit.h).
 */
#include <string.h>

#include "admit.h"
#include "diskspace.h"
#include "mboxsize.h"
#include "session.h"
#include "util.h"

/* MAIL: the spool's reserve, with the declared size. */
int
admit_mail(const struct admit *a, uint64_t size)
{
	if (a->space != NULL && diskspace_low(a->space, a->cfg->spool_min_free,
	    a->cfg->spool_min_free_percent, size, util_monotonic_ms()))
		return SESSION_RCPT_NOSPACE;
	return SESSION_RCPT_OK;
}

/* RCPT: the map, the spool's reserve, the mailbox's size limit. */
int
admit_rcpt(const struct admit *a, const char *addr, uint64_t size)
{
	int idx = policy_lookup(a->policy, addr);
	uint64_t limit = a->cfg->mailbox_size_limit, have;

	if (idx < 0)
		return SESSION_RCPT_UNKNOWN;
	if (admit_mail(a, size) != SESSION_RCPT_OK)
		return SESSION_RCPT_NOSPACE;
	if (limit == 0 || a->sizes == NULL)
		return SESSION_RCPT_OK;
	have = mboxsize_get(a->sizes, policy_mailbox_name(a->policy, idx),
	    util_monotonic_ms());
	if (have >= limit || size > limit - have)
		return SESSION_RCPT_FULL;
	return SESSION_RCPT_OK;
}

/* Count the message's bytes once for each distinct mailbox. */
void
admit_delivering(const struct admit *a, const char *const *mailboxes, size_t n,
    uint64_t size)
{
	if (a->sizes == NULL || a->cfg->mailbox_size_limit == 0)
		return;
	for (size_t i = 0; i < n; i++) {
		size_t j = 0;

		while (j < i && strcmp(mailboxes[j], mailboxes[i]) != 0)
			j++;
		if (j == i && mailboxes[i][0] != '\0')
			mboxsize_add(a->sizes, mailboxes[i], size);
	}
}
