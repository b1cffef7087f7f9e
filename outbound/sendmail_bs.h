/*
 * sendmail_bs: the I/O edge of `smtpgate-sendmail -bs`.  Reads the
 * client's bytes from a descriptor, feeds them to the pure dialogue
 * (submit_bs.c), hands each complete message to the caller's put function
 * (which writes it into maildrop/ and says how that went) and writes the
 * replies, one write per pipelined group.
 *
 * Must not know: the message format, the spool, ids.
 */
#ifndef SMTPGATE_SENDMAIL_BS_H
#define SMTPGATE_SENDMAIL_BS_H

#include <stddef.h>

#include "submit_bs.h"

#define SENDMAIL_BS_TIMEOUT_MS	300000	/* no input for this long: "421" and the end */

/* Drop the session's complete message; reply (one line) says how it went. */
typedef void (*sendmail_bs_put_fn)(void *arg, const struct submit_bs *s, char *reply,
    size_t replysz);

/*
 * Run one session on in/out until QUIT, the end of the input or an error.
 * Returns the exit code: 0 after QUIT or an end of input between commands,
 * 76 (EX_PROTOCOL) when the input ended inside DATA or timed out, 74 when
 * reading or writing failed.
 */
int sendmail_bs_run(int in, int out, const struct submit_bs_params *p,
    sendmail_bs_put_fn put, void *arg);

#endif
