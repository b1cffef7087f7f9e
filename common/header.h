/*
 * header: the one scanner of a message's header block (RFC 5322 2.2):
 * where a field starts and what it is called, where the block ends, one
 * field's body (for log lines: the Message-ID).  Pure: works on bytes in
 * memory, CRLF or LF line ends; knows nothing of files or of what a field
 * means.
 */
#ifndef SMTPGATE_HEADER_H
#define SMTPGATE_HEADER_H

#include <stddef.h>

/*
 * The length of the field name when the line l[0..n) (its line end
 * removed) starts a header field ("Name:", white space allowed before the
 * colon as the obsolete syntax does; the name visible ASCII but ':'),
 * else 0 (a continuation line, the empty line, or body text).
 */
size_t header_name_len(const char *l, size_t n);

/*
 * When the line l[0..n) starts the field called name (case-insensitive),
 * the offset of its body (just past the colon), else 0.
 */
size_t header_is(const char *l, size_t n, const char *name);

/*
 * The length of the header field that starts at h[0..n): its first line,
 * its continuation lines (starting with a space or a tab) and the line
 * end of the last (LF or CRLF); n when it runs to the end.
 */
size_t header_field_len(const char *h, size_t n);

/*
 * The length of the header block at the start of msg[0..n): up to and
 * including the line end before the empty line (LF or CRLF) that ends it,
 * or n when there is none.
 */
size_t header_block_len(const char *msg, size_t n);

/*
 * The body of the first field called name (case-insensitive) in the
 * header block at the start of msg[0..len) (it ends at the first empty
 * line or at len), unfolded (line breaks dropped, the folding white space
 * kept) and trimmed, copied into out (NUL-terminated, cut at outsz - 1).
 * Returns the length of out, or -1 when there is no such field.
 */
long header_get(const char *msg, size_t len, const char *name, char *out, size_t outsz);

/*
 * The message-id value to log for msg: "<...>" of its Message-ID field
 * (the angle-bracketed part, or the whole body when it has none), escaped
 * by log_printable(), or "none" without one.  Returns out.
 */
const char *header_msgid_for_log(const char *msg, size_t len, char *out, size_t outsz);

#endif
