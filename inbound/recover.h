/*
 * recover: the inbound commit log at start (inbound/README.md "The commit
 * log"): every record after the checkpoint brought into its Maildir by
 * the recovery rule (publish_replay), made durable, a checkpoint covering
 * them, the segments made ready.  Runs before the delivery threads start
 * and before anything listens.
 *
 * Must not know about SMTP, sessions or the event loop.
 */
#ifndef SMTPGATE_RECOVER_H
#define SMTPGATE_RECOVER_H

#include <stddef.h>

#include "clog.h"
#include "publish.h"

/*
 * Open <spool>/log (p->spool) for nworkers writers and recover it,
 * publishing with perm.  The log ready for the writers, or NULL with err
 * (the log unreadable, a record that could not be stored: the log is
 * kept for the next start).
 */
struct clog *recover_open(struct publisher *p, const struct fsutil_perm *perm,
    unsigned nworkers, char *err, size_t errlen);

#endif
