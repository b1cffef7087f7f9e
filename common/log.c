/*
 * log: one line per call, "<ident>[pid]: message", to stderr (one write(2)
 * per line, so concurrent threads never interleave) or to syslog(3) with the
 * LOG_MAIL facility.  When stderr is the journal's stream (systemd sets
 * JOURNAL_STREAM to its device:inode), a line is "<N>message" instead: the
 * journal reads N as the priority (sd-daemon(3)) and adds the program and
 * pid itself, so `journalctl -p warning` finds the warnings and nothing is
 * shown twice.
 *
 * Repeats are held back (logrepeat.c): the same priority and whole text
 * again within LOG_REPEAT_WINDOW_MS is counted, not written, and one
 * "message repeated N more times in S s: <text>" line follows when the
 * window is over (written with the next line, or at exit).  One mutex
 * serialises the table and the write, since the delivery workers and the
 * outbound disk worker log too.
 *
 * This module formats and emits lines; it knows nothing about sessions,
 * queues or what the key=value pairs mean.
 */
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <syslog.h>
#include <unistd.h>

#include "escape.h"
#include "log.h"
#include "logrepeat.h"
#include "util.h"

#define LOG_LINE_MAX LOGREP_TEXT
#define LOG_REPEAT_WINDOW_MS 30000

static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
static struct logrep log_repeats = { .window_ms = LOG_REPEAT_WINDOW_MS };
static bool log_atexit_set;

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
	pthread_mutex_lock(&log_lock);
	if (!log_atexit_set)
		log_atexit_set = atexit(log_flush_repeats) == 0;
	pthread_mutex_unlock(&log_lock);
}

/* Switch target; opening syslog here keeps the first message cheap. */
void
log_set_target(enum log_target target)
{
	pthread_mutex_lock(&log_lock);	/* no line is being written meanwhile */
	if (target == LOG_TARGET_SYSLOG)
		openlog(log_ident, LOG_PID | LOG_NDELAY, LOG_MAIL);
	else if (atomic_load(&log_target) == LOG_TARGET_SYSLOG)
		closelog();
	atomic_store(&log_target, target);
	pthread_mutex_unlock(&log_lock);
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
	size_t n = strlen(msg);

	escape_text(ESCAPE_CONTROLS, msg, n, msg, n + 1);
}

/* Emit one finished message (errno text included) at prio; lock held. */
static void
log_emit_locked(void *arg, int prio, const char *msg)
{
	char line[LOG_LINE_MAX + 128];
	int n;

	(void)arg;
	if (atomic_load(&log_target) == LOG_TARGET_SYSLOG) {
		syslog(prio, "%s", msg);
		return;
	}
	if (atomic_load(&log_journal))
		n = snprintf(line, sizeof(line), "<%d>%s\n", prio, msg);
	else
		n = snprintf(line, sizeof(line), "%s[%ld]: %s\n", log_ident, util_pid(), msg);
	if (n < 0)
		return;
	if ((size_t)n >= sizeof(line)) {
		n = sizeof(line) - 1;
		line[n - 1] = '\n';
	}
	log_write_all(line, (size_t)n);
}

/* Format one line (with an optional ": strerror" suffix) and emit it,
 * unless it repeats a recent one. */
static void
log_vemit(int prio, int errnum, const char *fmt, va_list ap)
{
	char msg[LOG_LINE_MAX];
	uint64_t now;
	int n;

	n = vsnprintf(msg, sizeof(msg), fmt, ap);
	if (n >= 0 && errnum != 0 && (size_t)n < sizeof(msg))
		snprintf(msg + n, sizeof(msg) - (size_t)n, ": %s", strerror(errnum));
	log_flatten(msg);
	now = util_monotonic_ms();	/* outside the lock: it may call fatal() */
	pthread_mutex_lock(&log_lock);
	if (logrep_line(&log_repeats, prio, msg, now, log_emit_locked, NULL))
		log_emit_locked(NULL, prio, msg);
	pthread_mutex_unlock(&log_lock);
}

/* Write the summaries of repeats still held back (at exit, or for tests). */
void
log_flush_repeats(void)
{
	uint64_t now = util_monotonic_ms();

	pthread_mutex_lock(&log_lock);
	logrep_flush(&log_repeats, now, true, log_emit_locked, NULL);
	pthread_mutex_unlock(&log_lock);
}

/* Hold back repeats for window_ms (0: never); pending summaries go first. */
void
log_set_repeat_window(unsigned window_ms)
{
	uint64_t now = util_monotonic_ms();

	pthread_mutex_lock(&log_lock);
	logrep_flush(&log_repeats, now, true, log_emit_locked, NULL);
	logrep_init(&log_repeats, window_ms);
	pthread_mutex_unlock(&log_lock);
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

/* Copy peer text into buf as printable ASCII, escaping as \xHH. */
const char *
log_printable(const char *s, size_t len, char *buf, size_t bufsz)
{
	return escape_text(ESCAPE_LOG, s, len, buf, bufsz);
}
