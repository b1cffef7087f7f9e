/*
 * spill: the file a message body is streamed to once it is too big to
 * hold in memory (session.h body_write), in the spool's private tmp/
 * (0700, the daemon's own): made with O_CREAT|O_EXCL|O_NOFOLLOW|O_CLOEXEC,
 * mode 0600, named "spill-<session id>-<n>".  Written on the event loop
 * in pieces, buffered page-cache writes only (never fsync'd here: the
 * delivery worker copies it into the mailbox files and makes those
 * durable before the 250).  A spilled body is either handed to delivery
 * (spill_release), which removes the file once the message is published
 * or refused, or discarded here (spill_discard).  Files of this name left
 * by a crash are removed at the next start (delivery_clean_tmp).
 *
 * Must not know about SMTP, sessions or sockets.
 */
#ifndef SMTPGATE_SPILL_H
#define SMTPGATE_SPILL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SPILL_PREFIX "spill-"
#define SPILL_NAME_MAX 64

struct spill;

/*
 * Make a new spill file in tmpfd, named after tag (a session id) and seq
 * (that session's count of spill files).  NULL with errno and
 * "path: reason" in err (EEXIST: the name is taken).
 */
struct spill *spill_open(int tmpfd, const char *tag, unsigned seq, char *err,
    size_t errlen);

/*
 * Append n bytes.  The first failure is kept (spill_error) and later
 * writes are dropped: the message is refused at its end, never cut.
 */
void spill_write(struct spill *sp, const char *p, size_t n);

/* 0, or the errno of the first failed write. */
int spill_error(const struct spill *sp);

/* Bytes written so far. */
uint64_t spill_length(const struct spill *sp);

/* Close and remove the file, free sp (NULL is fine). */
void spill_discard(struct spill *sp);

/*
 * Hand the file over: *fd gets its descriptor (read-write, at offset
 * spill_length), name (SPILL_NAME_MAX) its tmp/ name; sp is freed and
 * the new owner removes the file.
 */
void spill_release(struct spill *sp, int *fd, char *name);

/* The buffer spill_copy_lf needs (two pieces and one byte). */
#define SPILL_PIECE (64 * 1024)
#define SPILL_COPY_BUF (2 * SPILL_PIECE + 1)

/*
 * Worker side: read a spilled body (CRLF lines) from fd at offset 0 in
 * pieces, converting CRLF to LF (mailfile_to_lf_piece); with outfd >= 0
 * write the result there.  buf: SPILL_COPY_BUF bytes.  *lenp gets the LF
 * length; with crcp, *crcp is continued (clog_crc) over the LF bytes.
 * 0, or -1 with errno (of the read or the write).
 */
int spill_copy_lf(int fd, int outfd, char *buf, size_t *lenp, uint32_t *crcp);

/* true for a tmp/ name spill_open makes. */
bool spill_is_name(const char *name);

#endif
