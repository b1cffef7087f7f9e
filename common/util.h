/*
 * util: allocation that cannot fail silently, bounded string copies, clocks.
 * Allocation failure is fatal (the daemons cannot do anything sensible
 * without memory); everything else reports errors to the caller.
 */
#ifndef SMTPGATE_UTIL_H
#define SMTPGATE_UTIL_H

#include <stddef.h>
#include <stdint.h>

void *xmalloc(size_t n);
void *xcalloc(size_t nmemb, size_t size);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
/* asprintf that exits on failure. */
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Write one error line into err (the convention written in log.h) and
 * return code: `return util_fail(EX_CONFIG, err, errlen, "...", ...);`. */
int util_fail(int code, char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* For the command-line tools: print "prog: ..." and a newline on stderr,
 * then exit(code). */
_Noreturn void util_die(const char *prog, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Copy at most dstsz-1 bytes and NUL-terminate; returns strlen(src). */
size_t util_strlcpy(char *dst, const char *src, size_t dstsz);
/* ASCII lower-case in place; returns s. */
char *util_lowercase(char *s);

/* FNV-1a over the bytes of a string, for in-memory hash tables (the
 * policy map, the mailbox sizes).  Its offset basis is not FNV's
 * standard one; kept as it was, so the tables keep their layout. */
uint64_t util_hash_str(const char *s);

/* Monotonic clock in milliseconds / microseconds. */
uint64_t util_monotonic_ms(void);
uint64_t util_monotonic_us(void);

/* The host name (gethostname), cached; never NULL. */
const char *util_hostname(void);
/* getpid(), cached (refreshed in a forked child): log lines and file names
 * ask for it on every message. */
long util_pid(void);

#endif
