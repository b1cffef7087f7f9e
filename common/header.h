/*
 * header: find one field in a message's header block (RFC 5322 2.2),
 * for log lines (Message-ID).  Pure: works on bytes in memory, CRLF or
 * LF line ends; knows nothing of files or of what a field means.
 */
#ifndef SMTPGATE_HEADER_H
#define SMTPGATE_HEADER_H

#include <stddef.h>

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
