/*
 * mailfile: the format of a stored message file, apart from the disk
 * (pure; unit-tested).  A Maildir file is the trace block (Return-Path,
 * one Delivered-To per recipient of that mailbox, Received) and the
 * message, with LF line ends as the Maildir convention has them (Postfix
 * local/virtual, Dovecot's LDA): readers that rewrite a file keep its
 * ",S=" size right only when what is stored is what they read.
 */
#ifndef SMTPGATE_MAILFILE_H
#define SMTPGATE_MAILFILE_H

#include <stddef.h>
#include <time.h>

struct delivery_request;

/*
 * The trace block for the file of one mailbox, LF line ends: Return-Path,
 * Delivered-To for each recipient of r mapped to mailbox, Received (with
 * "for <addr>" when there is exactly one).  malloc'd; *lenp its length.
 */
char *mailfile_header(const struct delivery_request *r, const char *mailbox,
    time_t now, size_t *lenp);

/*
 * Turn every CRLF of buf[0..len) into LF, in place; a CR not followed by
 * LF stays.  Returns the new length (never more than len).
 */
size_t mailfile_to_lf(char *buf, size_t len);

/* CRLF -> LF over a body read in pieces: a CR at the end of one piece
 * waits for the next (cr_held). */
struct mailfile_lf {
	int cr_held;
};

/*
 * Convert the next piece in[0..len) into out (room for len + 1 bytes);
 * with last, a held CR is flushed too.  Returns the bytes put in out.
 * Fed whole or in any pieces, the output is that of mailfile_to_lf.
 */
size_t mailfile_to_lf_piece(struct mailfile_lf *st, const char *in, size_t len,
    char *out, int last);

#endif
