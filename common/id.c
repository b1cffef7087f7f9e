/*
 * id: unique, file-name-safe ids: 10 hex digits of the wall clock in
 * milliseconds followed by 6 hex digits: a random base from getrandom(2),
 * drawn once per process (again after fork), plus a per-process counter, so
 * ids of one process never repeat (short of 16M ids in one millisecond) and
 * ids of different processes collide only by chance.
 *
 * Knows nothing about what the ids name (sessions, messages, queue entries).
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "id.h"
#include "log.h"

/* Wall clock in milliseconds. */
static uint64_t
id_clock_ms(void)
{
	struct timespec ts;

	if (clock_gettime(CLOCK_REALTIME, &ts) != 0)
		fatal("clock_gettime");
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* 24 random bits from the kernel. */
static uint32_t
id_random24(void)
{
	unsigned char b[3];
	size_t got = 0;

	while (got < sizeof(b)) {
		ssize_t n = getrandom(b + got, sizeof(b) - got, 0);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			fatal("getrandom");
		got += (size_t)n;
	}
	return (uint32_t)b[0] << 16 | (uint32_t)b[1] << 8 | b[2];
}

static _Atomic uint32_t id_base;
static _Atomic uint32_t id_counter;
static pthread_once_t id_once = PTHREAD_ONCE_INIT;

/* Draw a fresh random base (at first use and in each forked child). */
static void
id_reseed(void)
{
	atomic_store(&id_base, id_random24());
}

/* First use: seed, and reseed in children so they do not repeat us. */
static void
id_init(void)
{
	id_reseed();
	pthread_atfork(NULL, NULL, id_reseed);
}

/* Write a new id and its NUL into out. */
void
id_generate(char out[ID_LEN + 1])
{
	uint64_t ms = id_clock_ms() & 0xffffffffffULL;
	uint32_t low;

	pthread_once(&id_once, id_init);
	low = (atomic_load(&id_base) + atomic_fetch_add(&id_counter, 1)) & 0xffffffu;
	snprintf(out, ID_LEN + 1, "%010llx%06lx", (unsigned long long)ms,
	    (unsigned long)low);
}

/* 1 when s is exactly ID_LEN lower-case hex digits. */
int
id_valid(const char *s)
{
	size_t i;

	if (s == NULL)
		return 0;
	for (i = 0; i < ID_LEN; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return 0;
	return s[ID_LEN] == '\0';
}
