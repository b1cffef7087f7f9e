/*
 * mboxsize: what each Maildir holds (bytes in new/ and cur/), for
 * mailbox_size_limit (issue 19), known without scanning a Maildir on the
 * event loop.  One thread of its own scans a mailbox (readdir, the size
 * from each name's ",S=", stat only for a name without it) when asked
 * and only when new/ or cur/ changed since its last look (their mtime
 * and inode; a change within 2 s of a scan is looked at again, since a
 * directory's mtime may not move within one clock tick).  The loop
 * reads the last value under a mutex and adds the bytes of messages it
 * handed to delivery since that scan began; it never waits for a scan.
 * A reader deleting or moving mail changes cur/ or new/, so the size
 * drops at the next look.
 *
 * Must not know SMTP, sessions or how messages are written.
 */
#ifndef SMTPGATE_MBOXSIZE_H
#define SMTPGATE_MBOXSIZE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MBOXSIZE_FRESH_MS 1000	/* a size older than this asks for a new look */

struct mboxsize;

/* Start the scanner for the Maildirs under <spool>/mailboxes; NULL with
 * err when the thread cannot start. */
struct mboxsize *mboxsize_new(const char *spool, char *err, size_t errlen);

/* Stop the thread (after the scan under way) and free. */
void mboxsize_free(struct mboxsize *m);

/*
 * Loop thread: the bytes Maildir name holds as last seen, plus what was
 * added since (mboxsize_add).  When that is older than MBOXSIZE_FRESH_MS
 * (now_ms: util_monotonic_ms), a new look is queued for the scanner; the
 * answer is the value known now (0 plus additions before the first look).
 */
uint64_t mboxsize_get(struct mboxsize *m, const char *name, uint64_t now_ms);

/* Queue a first look at name (at start and after a reload). */
void mboxsize_watch(struct mboxsize *m, const char *name);

/* Loop thread: bytes handed to delivery for name (counted until the next
 * scan that began after them). */
void mboxsize_add(struct mboxsize *m, const char *name, uint64_t bytes);

/* Scans done so far (for tests and the measurement). */
unsigned long mboxsize_scans(struct mboxsize *m);

/* Pure: the size a Maildir file name states (",S=<digits>" before ':'
 * or the end); false when it states none. */
bool mboxsize_name_size(const char *name, uint64_t *size);

#endif
