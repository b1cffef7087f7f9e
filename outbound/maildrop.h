/*
 * maildrop: how smtpgate-sendmail writes into the outbound spool's
 * maildrop/ -- its set-group-id discipline and the atomic, durable file.
 * Used once per process by -bm and once per message by -bs.
 *
 * The injector is installed root:smtpgate-submit 2755 (set-group-id, never
 * set-user-id).  maildrop_priv_init() runs first in main and takes the
 * user's real group as the effective one (the saved set-group-id is kept);
 * the submission group is raised again only around the calls that create,
 * rename, remove or probe inside maildrop/.  Everything else is read with
 * the user's own ids.
 *
 * Must not know: the message format, the command line, SMTP.
 */
#ifndef SMTPGATE_MAILDROP_H
#define SMTPGATE_MAILDROP_H

#include <stddef.h>

#include "submit.h"

#define MAILDROP_NAME_MAX 512	/* a maildrop file name, NUL included */

struct maildrop;

/* At start: when set-group-id, run with the real group from now on. */
void maildrop_priv_init(void);

/* Give the submission group up for good (before running another program). */
void maildrop_priv_drop(void);

/*
 * Open <spool> and its maildrop/ (O_PATH: no read permission needed),
 * checking the spool's role marker with the user's own ids.  0, or a
 * sysexits code with err: 75 missing, 77 permission, 78 not outbound.
 */
int maildrop_open(const char *spool, struct maildrop **md, char *err, size_t errlen);

/*
 * Write b as a new file of maildrop/ (.w.<name> created O_EXCL, written,
 * 0644, fsynced, renamed to <name> without replacing, fsynced again, the
 * commit probe).  name gets the file name.  0, or a
 * sysexits code with err, and then nothing of ours is left in maildrop/
 * (except when the file system stopped committing: 75 says so).
 */
int maildrop_put(struct maildrop *md, const char *host, const struct strbuf *b,
    char name[MAILDROP_NAME_MAX], char *err, size_t errlen);

void maildrop_close(struct maildrop *md);

#endif
