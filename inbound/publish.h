/*
 * publish: putting a stored message file into its Maildir, for the
 * delivery workers after the 250 and for recovery (inbound/README.md "The
 * commit log").  A file is written in the spool's private tmp/ and moved
 * into mailboxes/<box>/new/ by a rename that never replaces; new/ and
 * cur/ are reached by descriptors, never through a symlink (a reader
 * owns what is inside a mailbox).  No sync here: the checkpoint makes
 * published files durable.
 *
 * Must not know about SMTP, sessions, the commit log's files or threads.
 */
#ifndef SMTPGATE_PUBLISH_H
#define SMTPGATE_PUBLISH_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/uio.h>

#include "clog_format.h"
#include "fsutil.h"

struct publisher {
	int tmpfd;		/* <spool>/tmp */
	int rootfd;		/* <spool>/mailboxes (O_PATH) */
	const char *spool;
	_Atomic bool link_only;	/* no RENAME_NOREPLACE on this file system */
};

/*
 * Move tmp/name into the new/ open as newfd under the same name, never
 * replacing (link and unlink where RENAME_NOREPLACE is missing, logged
 * once).  0, or -1 with errno.
 */
int publish_rename(struct publisher *p, const char *name, int newfd);

/*
 * Write tmp/name from data (its iov and perm; exclusive, no symlink, no
 * sync whatever data says) and publish_rename it into newfd.  0, or -1
 * with errno and err (the tmp/ file removed).
 */
int publish_file(struct publisher *p, int newfd, const char *name,
    const struct fsutil_new *data, char *err, size_t errlen);

/*
 * Bring record r into its Maildir by the recovery rule: kept when new/ or
 * cur/ (any flags) holds a file of its name with exactly its bytes,
 * published when there is none, replaced when it is empty, short or
 * different.  With force an inline record's file is written again even
 * when it looks right (after a write-back error the page cache can show
 * bytes the disk does not have).  A by-reference record comes from
 * tmp/<name> (its length and CRC checked).  0, or -1 (logged).
 */
int publish_replay(struct publisher *p, const struct clog_rec *r, bool force,
    const struct fsutil_perm *perm);

#endif
