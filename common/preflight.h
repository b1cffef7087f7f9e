/*
 * preflight: the start-time checks of a loaded configuration, one set
 * shared by the daemons' start, their -t and smtpgate-check, so that what
 * the check and -t accept the daemon accepts (issue 18).
 *
 * A role's preflight checks what its daemon needs before it serves: the
 * TLS contexts it will build (inbound key and certificate, outbound CA
 * files), the groups it gives its Maildirs and maildrop/, and the spool: its role marker (no
 * lock is taken), that what the daemon keeps there is the service user's,
 * and that the service user can create it or write in it (not on a
 * read-only file system).  Run as root it checks the spool with the ids
 * the daemon will take (the config's user and group), in a child process.
 * The secrets (auth_password_file) and everything about the file itself
 * are checked by the loader (config.h), which also gathers the warnings.
 *
 * Must not know sockets, sessions or the queue.
 */
#ifndef SMTPGATE_PREFLIGHT_H
#define SMTPGATE_PREFLIGHT_H

#include <stdio.h>

#include "config.h"

/* Flags of preflight_inbound/outbound. */
#define PREFLIGHT_OWN_TLS 0x01	/* the caller builds its TLS contexts itself,
				 * with the same tls.c functions (a daemon's
				 * start, where they are loaded before or after
				 * the switch to the service user) */

/* The verdict of one preflight. */
struct preflight {
	int code;			/* EX_OK, or the sysexits code of the refusal */
	char err[1280];			/* the refusal: "FILE: what: reason" */
	char holder[256];		/* the spool lock's holder "host=H pid=P", or "" */
};

/* The checks of one role (see above); pf->code, with pf->err on refusal. */
int preflight_inbound(const struct inbound_config *c, unsigned flags, struct preflight *pf);
int preflight_outbound(const struct outbound_config *c, unsigned flags, struct preflight *pf);

/*
 * Load path as role and preflight it, writing its warnings ("warning:
 * FILE:LINE: key: reason") and its refusal (one line) to f.  Returns the
 * exit code (EX_CONFIG when it does not load); the loaded config goes to
 * *in or *out when they are non-NULL (else it is freed).
 */
int preflight_file(const char *path, enum config_role role, FILE *f, struct preflight *pf,
    struct inbound_config **in, struct outbound_config **out);

/* A daemon's -t: preflight_file() to stderr, then "ok" on stdout; the exit code. */
int preflight_test(const char *path, enum config_role role);

/* A config's warnings: to f as "warning: LINE", or logged (log_warnx). */
void preflight_print_warnings(FILE *f, char *const *warnings, size_t n);
void preflight_log_warnings(char *const *warnings, size_t n);

#endif
