/*
 * spool: ownership of a gateway's spool directory -- the dedicated-topology
 * rules of SPEC.md.  A spool belongs to one role (marker file .smtpgate,
 * written atomically on first use) and to one running instance (exclusive
 * fcntl lock on .lock, holding "host=... pid=..." for the error message).
 * All temporary files of a daemon live in <spool>/tmp.
 *
 * This module knows nothing about Maildirs or queues; each side creates its
 * own sub-directories below the spool.
 */
#ifndef SMTPGATE_SPOOL_H
#define SMTPGATE_SPOOL_H

#include <stddef.h>
#include <sys/types.h>

enum spool_role { SPOOL_ROLE_INBOUND, SPOOL_ROLE_OUTBOUND };

struct spool;

const char *spool_role_name(enum spool_role role);	/* "inbound" / "outbound" */

/*
 * Open the spool for a running daemon: create it (and tmp/) if missing,
 * write the role marker if the directory is empty or unmarked-and-empty,
 * refuse a marker of the other role (EX_CONFIG), refuse a directory that is
 * not empty and not marked (EX_CONFIG), take the lock (EX_TEMPFAIL naming
 * the holder's host and pid).  Returns 0 (EX_OK) and *out, or a sysexits
 * code with one clear line in err naming the path(s) and the rule.
 */
int spool_open(const char *path, enum spool_role role, struct spool **out,
    char *err, size_t errlen);

/*
 * The checks of spool_open without changing anything and without taking
 * the lock (for -t and smtpgate-check): 0 when the spool is usable by
 * `role` (a missing spool is fine: it will be created), else a sysexits
 * code and err.  If the lock is held, *holder (when non-NULL) receives
 * "host=H pid=P" (else "").
 */
int spool_check(const char *path, enum spool_role role, char *holder,
    size_t holderlen, char *err, size_t errlen);

/*
 * The role a spool's marker names, read with the caller's own ids from
 * the spool directory dirfd (O_PATH will do): the text of its "role="
 * line ("" when it has none), cut to rolesz - 1 bytes, for a program that
 * only checks the role (the injector).  0, or -1 with errno (ENOENT: no
 * marker; EFBIG: over 4 KiB, not a marker of ours) and err naming the
 * file.
 */
int spool_read_role(int dirfd, char *role, size_t rolesz, char *err, size_t errlen);

/*
 * 1 when the two spool paths collide under the isolation rule (same
 * directory by name, one inside the other, or the same directory through a
 * symlink or a bind mount, compared by device and inode of each existing
 * ancestor), with the reason in why; 0 when isolated.  Paths need not exist.
 */
int spool_paths_conflict(const char *a, const char *b, char *why, size_t whylen);

/*
 * What a daemon keeps in its spool besides .smtpgate, .lock and tmp/ (whose
 * files are always its own): NULL-terminated lists of names below the
 * spool.  dirs: directories that must be the daemon's, parents before
 * children ("mailboxes", "mailboxes/x"); filedirs: those of dirs whose
 * every entry is the daemon's too ("queue"); foreign: name prefixes in
 * tmp/ of other users' files the daemon took in ("claim."); shared:
 * names others may replace (a Maildir's tmp, new, cur, in a directory its
 * readers may write): refused only when root's, as a start as root left
 * them; anything else there is for the daemon's own code to judge.
 */
struct spool_owned {
	const char *const *dirs;
	const char *const *filedirs;
	const char *const *foreign;
	const char *const *shared;
};

/*
 * Refuse a spool (or anything listed in owned, and the marker, lock, tmp/
 * and its files) owned by another uid than uid: EX_NOPERM (77) with one
 * line in err naming the path, its owner and the command that fixes it
 * ("chown -R user:group <path>", names when they resolve).  What does not
 * exist yet is fine.  One fstatat per checked name.  EX_OK otherwise.
 * Implemented in spool_owner.c.
 */
int spool_check_owner(const char *path, uid_t uid, gid_t gid,
    const struct spool_owned *owned, char *err, size_t errlen);

const char *spool_path(const struct spool *s);
int spool_dirfd(const struct spool *s);		/* O_DIRECTORY fd of the spool */
int spool_tmpfd(const struct spool *s);		/* O_DIRECTORY fd of <spool>/tmp */
/* Release the lock and free. */
void spool_close(struct spool *s);

#endif
