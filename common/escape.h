/*
 * escape: the one way both gateways make text they did not write (a
 * peer's words, a reply, a file name, an address from a message) safe to
 * put into a log line, a report or a header field.  Each use names its
 * policy; the policies differ only in which bytes stay and what the
 * others become.  Pure: no I/O, no allocation, thread-safe.
 */
#ifndef SMTPGATE_ESCAPE_H
#define SMTPGATE_ESCAPE_H

#include <stdbool.h>
#include <stddef.h>

enum escape_policy {
	/* log lines (key=value): printable ASCII stays except \ " =; any
	 * other byte is \xHH; text that does not fit ends in "..." */
	ESCAPE_LOG,
	/* a smart host's reply kept for logs, `smtpgate-queue` and bounces:
	 * printable ASCII stays except \; any other byte is \xHH; "..." */
	ESCAPE_REPLY,
	/* a header field's text (a bounce's fields): control bytes become
	 * spaces, bytes outside ASCII '?'; cut silently */
	ESCAPE_HEADER,
	/* one word of a header field (the HELO name in Received:): visible
	 * ASCII but ( and ) stays, anything else is '?'; cut silently */
	ESCAPE_WORD,
	/* a finished line for a terminal or a log: control bytes (and DEL)
	 * become '?', everything else stays; cut silently */
	ESCAPE_CONTROLS,
};

/* A writer into a caller's buffer, for text built from several pieces. */
struct escape_out {
	char *buf;
	size_t size;		/* of buf, the NUL included */
	size_t n;		/* bytes written */
	size_t safe;		/* bytes that leave room for "..." */
	bool full;		/* a piece did not fit: nothing more is taken */
	enum escape_policy policy;
};

/* Start writing into buf[0..bufsz) under policy. */
void escape_start(struct escape_out *e, enum escape_policy policy, char *buf,
    size_t bufsz);
/* Append our own text (a code, a separator) as it is, all or nothing. */
void escape_raw(struct escape_out *e, const char *s, size_t n);
/* Append foreign bytes s[0..n), escaped as the policy says. */
void escape_bytes(struct escape_out *e, const char *s, size_t n);
/* NUL-terminate (cut with "..." when something did not fit and the
 * policy says so); returns the buffer. */
const char *escape_finish(struct escape_out *e);

/*
 * s[0..len) made safe under policy into buf (always NUL-terminated when
 * bufsz > 0; cut as the policy says).  Returns buf.  For the policies
 * that replace byte for byte (HEADER, WORD, CONTROLS) buf may be s.
 */
const char *escape_text(enum escape_policy policy, const char *s, size_t len,
    char *buf, size_t bufsz);

#endif
