/*
 * log: one line per event, key=value, to stderr or syslog.
 *
 * Severity ladder: log_debug < log_info < log_warn[x] (something failed but
 * we carry on) < fatal[x] (a bug or an impossible state: exit 70).  Bad
 * environment at start-up is not fatal(): callers print one clear line with
 * log_warnx() and exit with a sysexits code.  log_warn() and fatal() append
 * ": strerror(errno)".  Peer-supplied text must go through log_printable()
 * before it is logged.  Thread-safe (one write(2) per line, under a lock).
 *
 * Errors that a caller reports (one convention for the whole tree): a
 * function that can fail for a reason worth a line takes `char *err,
 * size_t errlen` as its last two parameters and, on failure, returns -1
 * (or NULL, or a sysexits code where the exit code is the answer) with
 * one line in err that names the path or the peer and ends in
 * strerror(errno) when a call failed ("/var/spool/x/queue: open: No such
 * file or directory"); errno is kept for the caller to branch on (ENOENT,
 * EFBIG).  The function does not log: the caller decides the severity
 * above.  See fsutil_read_file() and fsutil_open_dir() for examples.
 */
#ifndef SMTPGATE_LOG_H
#define SMTPGATE_LOG_H

#include <stddef.h>
#include <stdnoreturn.h>

enum log_target { LOG_TARGET_STDERR, LOG_TARGET_SYSLOG };

#define LOG_PRINTF(a, b) __attribute__((format(printf, a, b)))

/* Start logging as `ident` (the program name) to `target`. */
void log_init(const char *ident, enum log_target target);
/* Switch target (SIGHUP reload). */
void log_set_target(enum log_target target);
/* Enable log_debug output. */
void log_set_verbose(int verbose);
/*
 * Repeats: the same priority and whole text within the window (30 s by
 * default) is counted instead of written; when the window is over, one
 * "message repeated N more times in S s: <text>" line (at the next line
 * logged, or at exit through atexit).  The first occurrence is always
 * written.  window_ms 0 turns this off.
 */
void log_set_repeat_window(unsigned window_ms);
/* Write every pending summary now. */
void log_flush_repeats(void);

void log_debug(const char *fmt, ...) LOG_PRINTF(1, 2);
void log_info(const char *fmt, ...) LOG_PRINTF(1, 2);
void log_warn(const char *fmt, ...) LOG_PRINTF(1, 2);
void log_warnx(const char *fmt, ...) LOG_PRINTF(1, 2);
noreturn void fatal(const char *fmt, ...) LOG_PRINTF(1, 2);
noreturn void fatalx(const char *fmt, ...) LOG_PRINTF(1, 2);

/*
 * Copy peer text `s` (len bytes) into buf as printable ASCII: control bytes,
 * backslash, '"', '=' and bytes >= 0x7f become \xHH; truncated to bufsz-1
 * with a trailing "..." when it does not fit.  Returns buf.
 */
const char *log_printable(const char *s, size_t len, char *buf, size_t bufsz);

#endif
