/*
 * log: one line per call, "<ident>[pid]: message", to stderr (one write(2)
 * per line, so concurrent threads never interleave) or to syslog(3) with the
 * LOG_MAIL facility.  When stderr is the journal's stream (systemd sets
 * JOURNAL_STREAM to its device:inode), a line is "<N>message" instead: the
 * journal reads N as the priority (sd-daemon(3)) and adds the program and
 * pid itself, so `journalctl -p warning` finds the warnings and nothing is
 * shown twice.
 *
 * This module formats and emits lines; it knows nothing about sessions,
 * queues or what the key=value pairs mean.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <syslog.h>
#include <unistd.h>

#include "log.h"
#include "util.h"

#define LOG_LINE_MAX 2048

static char log_ident[64] = "smtpgate";
static _Atomic int log_target = LOG_TARGET_STDERR;
static _Atomic int log_verbose;
static _Atomic int log_journal;		/* stderr is the journal's stream */

/* 1 when JOURNAL_STREAM names the file stderr is (see the top). */
static int
log_stderr_is_journal(void)
{
	const char *js = getenv("JOURNAL_STREAM");
	unsigned long long dev, ino;
	struct stat st;
	char end;

	if (js == NULL || sscanf(js, "%llu:%llu%c", &dev, &ino, &end) != 2 ||
	    fstat(STDERR_FILENO, &st) != 0)
		return 0;
	return (unsigned long long)st.st_dev == dev && (unsigned long long)st.st_ino == ino;
}

/* Start logging as `ident` to `target`. */
void
log_init(const char *ident, enum log_target target)
{
	const char *slash = strrchr(ident, '/');

	if (slash != NULL)
		ident = slash + 1;
	snprintf(log_ident, sizeof(log_ident), "%s", ident);
	atomic_store(&log_journal, log_stderr_is_journal());
	log_set_target(target);
}

/* Switch target; opening syslog here keeps the first message cheap. */
void
log_set_target(enum log_target target)
{
	if (target == LOG_TARGET_SYSLOG)
		openlog(log_ident, LOG_PID | LOG_NDELAY, LOG_MAIL);
	else if (atomic_load(&log_target) == LOG_TARGET_SYSLOG)
		closelog();
	atomic_store(&log_target, target);
}

/* Enable or disable log_debug output. */
void
log_set_verbose(int verbose)
{
	atomic_store(&log_verbose, verbose != 0);
}

/* Write all of buf to stderr, retrying short writes and EINTR. */
static void
log_write_all(const char *buf, size_t len)
{
	while (len > 0) {
		ssize_t n = write(STDERR_FILENO, buf, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return;
		buf += n;
		len -= (size_t)n;
	}
}

/*
 * The last guard of one event, one line: a control byte that reached a
 * formatted line (a caller forgot log_printable() on text from a peer or
 * from a file name) becomes '?', so nothing can end the line early, forge
 * another one or send escape sequences to a terminal.
 */
static void
log_flatten(char *msg)
{
	for (unsigned char *p = (unsigned char *)msg; *p != '\0'; p++)
		if (*p < 0x20 || *p == 0x7f)
			*p = '?';
}

/* Format one line (with an optional ": strerror" suffix) and emit it. */
LOG_PRINTF(3, 0)
static void
log_vemit(int prio, int errnum, const char *fmt, va_list ap)
{
	char msg[LOG_LINE_MAX], line[LOG_LINE_MAX + 128];
	int n;

	vsnprintf(msg, sizeof(msg), fmt, ap);
	log_flatten(msg);
	if (atomic_load(&log_target) == LOG_TARGET_SYSLOG) {
		if (errnum != 0)
			syslog(prio, "%s: %s", msg, strerror(errnum));
		else
			syslog(prio, "%s", msg);
		return;
	}
	if (atomic_load(&log_journal))
		n = snprintf(line, sizeof(line), "<%d>%s%s%s\n", prio, msg,
		    errnum ? ": " : "", errnum ? strerror(errnum) : "");
	else if (errnum != 0)
		n = snprintf(line, sizeof(line), "%s[%ld]: %s: %s\n", log_ident,
		    util_pid(), msg, strerror(errnum));
	else
		n = snprintf(line, sizeof(line), "%s[%ld]: %s\n", log_ident,
		    util_pid(), msg);
	if (n < 0)
		return;
	if ((size_t)n >= sizeof(line)) {
		n = sizeof(line) - 1;
		line[n - 1] = '\n';
	}
	log_write_all(line, (size_t)n);
}

/* Debug detail, only when verbose. */
void
log_debug(const char *fmt, ...)
{
	va_list ap;
	int saved = errno;

	if (!atomic_load(&log_verbose))
		return;
	va_start(ap, fmt);
	log_vemit(LOG_DEBUG, 0, fmt, ap);
	va_end(ap);
	errno = saved;
}

/* A normal event. */
void
log_info(const char *fmt, ...)
{
	va_list ap;
	int saved = errno;

	va_start(ap, fmt);
	log_vemit(LOG_INFO, 0, fmt, ap);
	va_end(ap);
	errno = saved;
}

/* Something failed (errno says what); we carry on. */
void
log_warn(const char *fmt, ...)
{
	va_list ap;
	int saved = errno;

	va_start(ap, fmt);
	log_vemit(LOG_WARNING, saved, fmt, ap);
	va_end(ap);
	errno = saved;
}

/* Something failed (no errno); we carry on. */
void
log_warnx(const char *fmt, ...)
{
	va_list ap;
	int saved = errno;

	va_start(ap, fmt);
	log_vemit(LOG_WARNING, 0, fmt, ap);
	va_end(ap);
	errno = saved;
}

/* A bug or an impossible state, with errno: log and exit 70. */
void
fatal(const char *fmt, ...)
{
	va_list ap;
	int saved = errno;

	va_start(ap, fmt);
	log_vemit(LOG_CRIT, saved, fmt, ap);
	va_end(ap);
	exit(70);
}

/* A bug or an impossible state: log and exit 70. */
void
fatalx(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vemit(LOG_CRIT, 0, fmt, ap);
	va_end(ap);
	exit(70);
}

/* 1 when byte c may be logged as itself. */
static int
log_plain_byte(unsigned char c)
{
	return c >= 0x20 && c < 0x7f && c != '\\' && c != '"' && c != '=';
}

/* Escape s into buf using at most `room` bytes; returns the bytes consumed. */
static size_t
log_escape(const char *s, size_t len, char *buf, size_t room, size_t *outlen)
{
	static const char hex[] = "0123456789abcdef";
	size_t i, o = 0;

	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (log_plain_byte(c)) {
			if (o + 1 > room)
				break;
			buf[o++] = (char)c;
			continue;
		}
		if (o + 4 > room)
			break;
		buf[o++] = '\\';
		buf[o++] = 'x';
		buf[o++] = hex[c >> 4];
		buf[o++] = hex[c & 0xf];
	}
	*outlen = o;
	return i;
}

/* Copy peer text into buf as printable ASCII, escaping as \xHH. */
const char *
log_printable(const char *s, size_t len, char *buf, size_t bufsz)
{
	size_t o, dots;

	if (bufsz == 0)
		return buf;
	if (log_escape(s, len, buf, bufsz - 1, &o) == len) {
		buf[o] = '\0';
		return buf;
	}
	dots = bufsz - 1 < 3 ? bufsz - 1 : 3;
	log_escape(s, len, buf, bufsz - 1 - dots, &o);
	memcpy(buf + o, "...", dots);
	buf[o + dots] = '\0';
	return buf;
}
