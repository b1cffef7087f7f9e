/*
 * util: allocation that cannot fail silently, bounded string copies, clocks
 * and the cached host name.
 *
 * Allocation failure is fatal (fatal() from log.c); nothing here knows about
 * mail, configuration or the spool.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "util.h"

/* malloc or die. */
void *
xmalloc(size_t n)
{
	void *p = malloc(n == 0 ? 1 : n);

	if (p == NULL)
		fatal("malloc %zu bytes", n);
	return p;
}

/* calloc or die. */
void *
xcalloc(size_t nmemb, size_t size)
{
	void *p = calloc(nmemb == 0 ? 1 : nmemb, size == 0 ? 1 : size);

	if (p == NULL)
		fatal("calloc %zu x %zu bytes", nmemb, size);
	return p;
}

/* realloc or die. */
void *
xrealloc(void *p, size_t n)
{
	void *q = realloc(p, n == 0 ? 1 : n);

	if (q == NULL)
		fatal("realloc %zu bytes", n);
	return q;
}

/* strdup or die. */
char *
xstrdup(const char *s)
{
	char *p = strdup(s);

	if (p == NULL)
		fatal("strdup");
	return p;
}

/* strndup or die. */
char *
xstrndup(const char *s, size_t n)
{
	char *p = strndup(s, n);

	if (p == NULL)
		fatal("strndup");
	return p;
}

/* asprintf or die. */
char *
xasprintf(const char *fmt, ...)
{
	va_list ap;
	char *p;
	int n;

	va_start(ap, fmt);
	n = vasprintf(&p, fmt, ap);
	va_end(ap);
	if (n < 0)
		fatal("asprintf");
	return p;
}

/* Format one error line into err and return code. */
int
util_fail(int code, char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return code;
}

/* FNV-1a over the bytes of s (the inbound tables' hash, see util.h). */
uint64_t
util_hash_str(const char *s)
{
	uint64_t h = 1469598103934665603ULL;

	for (; *s != '\0'; s++) {
		h ^= (unsigned char)*s;
		h *= 1099511628211ULL;
	}
	return h;
}

/* A command-line tool's fatal error: "prog: ..." on stderr, exit(code). */
void
util_die(const char *prog, int code, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", prog);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(code);
}

/* Bounded copy; returns strlen(src) so truncation can be detected. */
size_t
util_strlcpy(char *dst, const char *src, size_t dstsz)
{
	size_t len = strlen(src);

	if (dstsz > 0) {
		size_t n = len < dstsz - 1 ? len : dstsz - 1;

		memcpy(dst, src, n);
		dst[n] = '\0';
	}
	return len;
}

/* ASCII lower-case in place (locale-independent). */
char *
util_lowercase(char *s)
{
	for (char *p = s; *p != '\0'; p++)
		if (*p >= 'A' && *p <= 'Z')
			*p = (char)(*p - 'A' + 'a');
	return s;
}

/* CLOCK_MONOTONIC in microseconds. */
uint64_t
util_monotonic_us(void)
{
	struct timespec ts;

	if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0)
		fatal("clock_gettime");
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* CLOCK_MONOTONIC in milliseconds. */
uint64_t
util_monotonic_ms(void)
{
	return util_monotonic_us() / 1000u;
}

static char util_host[256] = "localhost";
static pthread_once_t util_host_once = PTHREAD_ONCE_INIT;

/* Fill util_host once from gethostname(). */
static void
util_host_init(void)
{
	char buf[sizeof(util_host)];

	if (gethostname(buf, sizeof(buf)) != 0 || buf[0] == '\0') {
		log_warn("gethostname (using \"localhost\")");
		return;
	}
	buf[sizeof(buf) - 1] = '\0';
	util_strlcpy(util_host, buf, sizeof(util_host));
}

/* The host name, cached; never NULL. */
const char *
util_hostname(void)
{
	pthread_once(&util_host_once, util_host_init);
	return util_host;
}

static _Atomic long util_pid_cached;
static pthread_once_t util_pid_once = PTHREAD_ONCE_INIT;

/* Forget the cached pid (in a forked child). */
static void
util_pid_reset(void)
{
	atomic_store(&util_pid_cached, 0);
}

/* First use: make children forget the parent's pid. */
static void
util_pid_init(void)
{
	pthread_atfork(NULL, NULL, util_pid_reset);
}

/* getpid(), cached. */
long
util_pid(void)
{
	long pid;

	pthread_once(&util_pid_once, util_pid_init);
	pid = atomic_load(&util_pid_cached);
	if (pid == 0) {
		pid = (long)getpid();
		atomic_store(&util_pid_cached, pid);
	}
	return pid;
}
