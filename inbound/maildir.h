/*
 * maildir: the inbound spool's directories and who may do what in them
 * (issue 16).  The daemon (service user) owns everything; Maildir readers
 * (Dovecot, a user's client) are members of mailbox_group:
 *
 *   <spool>/                 0711   readers pass through, list nothing
 *   <spool>/tmp/             0700   the daemon's files being written
 *   <spool>/mailboxes/       0750   group mailbox_group: readers traverse,
 *                                   cannot rename or add mailboxes
 *   mailboxes/<name>/{,tmp,new,cur}/  mailbox_dir_mode (2770), group
 *                                   mailbox_group: readers flag, move and
 *                                   expunge
 *   message files            mailbox_file_mode (0640), group mailbox_group
 *
 * A reader can replace what is inside mailboxes/<name>/ (new/ by a symlink
 * or a FIFO, say): nothing here ever follows a symlink below <spool>, and
 * the publisher opens new/ by descriptors (maildir_open_new).
 * Knows nothing about SMTP, sessions or the delivery threads.
 */
#ifndef SMTPGATE_MAILDIR_H
#define SMTPGATE_MAILDIR_H

#include <stddef.h>
#include <sys/types.h>

#include "fsutil.h"

struct inbound_config;

/*
 * Make what is missing of the layout above and give every directory of it
 * the mode and group of cfg (fchmod/fchown through descriptors, a symlink
 * never followed); one log line when existing directories were changed.
 * A mailbox a reader broke (its tmp/ new/ cur/ a symlink or another file,
 * or a directory the daemon may not change) is logged and left: its mail
 * is deferred until it is repaired.  0, or -1 with err (the daemon is not
 * in mailbox_group; the spool, tmp/ or mailboxes/ cannot be made right; a
 * file system error).
 */
int maildir_prepare(const char *spool_path, const struct inbound_config *cfg,
    char *err, size_t errlen);

/* The group of mailbox files and directories under cfg: mailbox_group, or
 * the daemon's effective group when that is "". */
gid_t maildir_gid(const struct inbound_config *cfg);

/* The mode and group of a new message file under cfg; umask is the
 * process's (decides whether fchmod is needed). */
struct fsutil_perm maildir_file_perm(const struct inbound_config *cfg, mode_t umask);

/* Open <spool>/mailboxes (by path: the spool is the admin's). */
int maildir_open_root(const char *spool_path, char *err, size_t errlen);

/*
 * Open mailboxes/<mailbox>/new/ below rootfd for publishing, by
 * descriptors and never through a symlink: O_PATH|O_DIRECTORY|O_NOFOLLOW
 * at each step.  Returns the descriptor, or -1 with errno and err
 * ("mailbox NAME: new/: not a directory (a symlink is not followed)").
 */
int maildir_open_new(int rootfd, const char *mailbox, char *err, size_t errlen);

#endif
