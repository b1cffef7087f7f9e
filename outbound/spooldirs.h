/*
 * spooldirs: the outbound spool's layout as the daemon enforces it at
 * start (see README.md in this folder for the table): every sub-directory
 * created when missing, owned by the daemon, given its mode with fchmod
 * and its group with fchown (a mode or group that differs, as an older
 * version left it, is fixed and logged once).
 *
 * It must not know about queue files or pickup: only directories.
 */
#ifndef SMTPGATE_SPOOLDIRS_H
#define SMTPGATE_SPOOLDIRS_H

#include <stddef.h>

/* The open sub-directories (O_DIRECTORY fds). */
struct spooldirs {
	int pickup, maildrop, queue, bad, control;
};

/* The spool whose layout is enforced. */
struct spooldirs_at {
	int spoolfd;			/* the spool */
	int tmpfd;			/* its tmp/ */
	const char *spoolpath;		/* its path, for messages */
	const char *submit_group;	/* the group of maildrop/: a name, a
					   number, or "" for the daemon's own */
};

/*
 * Create and check the sub-directories of the spool at, enforce the modes
 * of the spool, tmp/ and each sub-directory.  0 (EX_OK) with d filled, or
 * a sysexits code (EX_NOPERM: owned by someone else or a group the daemon
 * cannot give; EX_CONFIG: no such group; EX_CANTCREAT) with one line in err
 * naming the path and the fix; the fds opened so far are closed then.
 */
int spooldirs_open(const struct spooldirs_at *at, struct spooldirs *d, char *err,
    size_t errlen);

/* Close what spooldirs_open() opened. */
void spooldirs_close(struct spooldirs *d);

#endif
