/*
 * bgthread: the inbound's background threads, started one way (see
 * bgthread.h).
 *
 * Must not know about what the threads do.
 */
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <string.h>

#include "bgthread.h"
#include "log.h"

/* Start a background thread (see bgthread.h). */
int
bgthread_start(pthread_t *t, void *(*fn)(void *), void *arg, const char *name)
{
	struct sched_param sp = { .sched_priority = 0 };
	sigset_t all, old;
	int e;

	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	e = pthread_create(t, NULL, fn, arg);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (e != 0)
		return e;
	if ((e = pthread_setschedparam(*t, SCHED_BATCH, &sp)) != 0)
		log_warnx("thread %s: SCHED_BATCH: %s; it runs as the other threads do", name,
		    strerror(e));
	(void)pthread_setname_np(*t, name);
	return 0;
}
