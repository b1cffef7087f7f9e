/*
 * mboxsize: the bytes each Maildir holds, kept by a scanner thread (see
 * mboxsize.h).  This file owns the thread, its mutex and every field of
 * struct mbox_entry; the loop only calls mboxsize_get/_add/_watch.
 *
 * Trust: new/ and cur/ belong to the Maildir's readers too (group
 * writable).  They are opened with O_NOFOLLOW|O_DIRECTORY and read only:
 * a symlink there is not followed, a file a reader made is counted by
 * its name or its lstat size, nothing is opened or changed.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "bgthread.h"
#include "log.h"
#include "mboxsize.h"
#include "util.h"

#define NBUCKETS	1024
#define DIRTY_NS	(2LL * 1000000000LL)	/* mtime this close to a scan: look again */

struct mbox_entry {
	struct mbox_entry *next;	/* bucket chain */
	struct mbox_entry *qnext;	/* the scanner's queue */
	char *name;
	/* under m->lock */
	uint64_t size;			/* bytes at the last scan */
	int64_t added;			/* bytes handed to delivery since it began */
	uint64_t checked_ms;		/* when the last look ended; 0 never */
	bool queued;
	/* the scanner's own */
	struct timespec mtime[2];	/* new/, cur/ at the last scan */
	ino_t ino[2];
	bool scanned, dirty;
};

struct mboxsize {
	char *root;			/* <spool>/mailboxes */
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t wake;
	struct mbox_entry *buckets[NBUCKETS];
	struct mbox_entry *qhead, *qtail;
	unsigned long scans;
	bool stop;
};

/* The hash of a name, reduced to a bucket. */
static size_t
bucket_of(const char *s)
{
	return (size_t)(util_hash_str(s) % NBUCKETS);
}

/* The entry of name, made when missing (m->lock held). */
static struct mbox_entry *
entry_get(struct mboxsize *m, const char *name)
{
	size_t b = bucket_of(name);
	struct mbox_entry *e;

	for (e = m->buckets[b]; e != NULL; e = e->next)
		if (strcmp(e->name, name) == 0)
			return e;
	e = xcalloc(1, sizeof(*e));
	e->name = xstrdup(name);
	e->next = m->buckets[b];
	m->buckets[b] = e;
	return e;
}

/* Put e on the scanner's queue unless it is there (m->lock held). */
static void
entry_queue(struct mboxsize *m, struct mbox_entry *e)
{
	if (e->queued)
		return;
	e->queued = true;
	e->qnext = NULL;
	if (m->qtail != NULL)
		m->qtail->qnext = e;
	else
		m->qhead = e;
	m->qtail = e;
	pthread_cond_signal(&m->wake);
}

/* The size a Maildir file name states (",S=<digits>"). */
bool
mboxsize_name_size(const char *name, uint64_t *size)
{
	const char *info = strchr(name, ':');
	const char *p = strstr(name, ",S=");
	uint64_t v = 0;

	if (p == NULL || (info != NULL && p > info))
		return false;
	p += 3;
	if (*p < '0' || *p > '9')
		return false;
	for (; *p >= '0' && *p <= '9'; p++) {
		if (v > (UINT64_MAX - 9) / 10)
			return false;
		v = v * 10 + (uint64_t)(*p - '0');
	}
	*size = v;
	return true;
}

/* Bytes of the messages in directory path: their names' sizes, else
 * their lstat sizes; *ok false when it cannot be read. */
static uint64_t
scan_dir(const char *path, bool *ok)
{
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	uint64_t total = 0, sz;
	struct dirent *de;
	struct stat st;
	DIR *d;

	if (fd < 0 || (d = fdopendir(fd)) == NULL) {
		if (fd >= 0)
			close(fd);
		*ok = false;
		return 0;
	}
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		if (mboxsize_name_size(de->d_name, &sz))
			total += sz;
		else if (fstatat(fd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
		    S_ISREG(st.st_mode))
			total += (uint64_t)st.st_size;
	}
	closedir(d);
	return total;
}

/* true when the two times differ. */
static bool
ts_differ(const struct timespec *a, const struct timespec *b)
{
	return a->tv_sec != b->tv_sec || a->tv_nsec != b->tv_nsec;
}

/* Look at e's Maildir (no lock held): scan when new/ or cur/ changed, when
 * it was dirty, or when force; true with *size when it scanned. */
static bool
entry_look(struct mboxsize *m, struct mbox_entry *e, bool force, uint64_t *size)
{
	static const char *const sub[2] = { "new", "cur" };
	char path[2][4096];
	struct stat st[2];
	bool changed = force || !e->scanned || e->dirty, ok = true;
	struct timespec now;

	for (int i = 0; i < 2; i++) {
		snprintf(path[i], sizeof(path[i]), "%s/%s/%s", m->root, e->name, sub[i]);
		if (lstat(path[i], &st[i]) != 0 || !S_ISDIR(st[i].st_mode))
			return false;	/* not made yet, or a reader broke it */
		changed = changed || ts_differ(&st[i].st_mtim, &e->mtime[i]) ||
		    st[i].st_ino != e->ino[i];
	}
	if (!changed)
		return false;
	clock_gettime(CLOCK_REALTIME, &now);
	*size = scan_dir(path[0], &ok) + scan_dir(path[1], &ok);
	if (!ok)
		return false;
	e->dirty = false;
	for (int i = 0; i < 2; i++) {
		e->mtime[i] = st[i].st_mtim;
		e->ino[i] = st[i].st_ino;
		if ((now.tv_sec - st[i].st_mtim.tv_sec) * 1000000000LL +
		    (now.tv_nsec - st[i].st_mtim.tv_nsec) < DIRTY_NS)
			e->dirty = true;
	}
	e->scanned = true;
	return true;
}

/* The scanner thread: take queued mailboxes, look at each. */
static void *
scanner_main(void *arg)
{
	struct mboxsize *m = arg;
	struct mbox_entry *e;
	uint64_t size = 0, t0;
	int64_t added;
	bool scanned;

	pthread_mutex_lock(&m->lock);
	for (;;) {
		while (!m->stop && m->qhead == NULL)
			pthread_cond_wait(&m->wake, &m->lock);
		if (m->stop)
			break;
		e = m->qhead;
		m->qhead = e->qnext;
		if (m->qhead == NULL)
			m->qtail = NULL;
		added = e->added;
		pthread_mutex_unlock(&m->lock);
		t0 = util_monotonic_us();
		scanned = entry_look(m, e, added != 0, &size);
		if (scanned)
			log_debug("mboxsize: mailbox=%s bytes=%llu scan_us=%llu", e->name,
			    (unsigned long long)size,
			    (unsigned long long)(util_monotonic_us() - t0));
		pthread_mutex_lock(&m->lock);
		if (scanned) {
			e->size = size;
			e->added -= added;
			m->scans++;
		}
		e->checked_ms = util_monotonic_ms();
		e->queued = false;
	}
	pthread_mutex_unlock(&m->lock);
	return NULL;
}

/* Start the scanner thread. */
struct mboxsize *
mboxsize_new(const char *spool, char *err, size_t errlen)
{
	struct mboxsize *m = xcalloc(1, sizeof(*m));
	int e;

	m->root = xasprintf("%s/mailboxes", spool);
	pthread_mutex_init(&m->lock, NULL);
	pthread_cond_init(&m->wake, NULL);
	if ((e = bgthread_start(&m->thread, scanner_main, m, "mboxsize")) != 0) {
		snprintf(err, errlen, "mailbox size scanner: pthread_create: %s", strerror(e));
		pthread_mutex_destroy(&m->lock);
		pthread_cond_destroy(&m->wake);
		free(m->root);
		free(m);
		return NULL;
	}
	return m;
}

/* Stop the scanner and free every entry. */
void
mboxsize_free(struct mboxsize *m)
{
	struct mbox_entry *e, *next;

	if (m == NULL)
		return;
	pthread_mutex_lock(&m->lock);
	m->stop = true;
	pthread_cond_signal(&m->wake);
	pthread_mutex_unlock(&m->lock);
	pthread_join(m->thread, NULL);
	for (size_t b = 0; b < NBUCKETS; b++)
		for (e = m->buckets[b]; e != NULL; e = next) {
			next = e->next;
			free(e->name);
			free(e);
		}
	pthread_mutex_destroy(&m->lock);
	pthread_cond_destroy(&m->wake);
	free(m->root);
	free(m);
}

/* The known size of name; a new look when it is old (see mboxsize.h). */
uint64_t
mboxsize_get(struct mboxsize *m, const char *name, uint64_t now_ms)
{
	struct mbox_entry *e;
	int64_t v;

	pthread_mutex_lock(&m->lock);
	e = entry_get(m, name);
	if (e->checked_ms == 0 || now_ms - e->checked_ms >= MBOXSIZE_FRESH_MS)
		entry_queue(m, e);
	v = (int64_t)e->size + e->added;
	pthread_mutex_unlock(&m->lock);
	return v > 0 ? (uint64_t)v : 0;
}

/* Queue a first look at name. */
void
mboxsize_watch(struct mboxsize *m, const char *name)
{
	pthread_mutex_lock(&m->lock);
	entry_queue(m, entry_get(m, name));
	pthread_mutex_unlock(&m->lock);
}

/* Bytes handed to delivery for name. */
void
mboxsize_add(struct mboxsize *m, const char *name, uint64_t bytes)
{
	pthread_mutex_lock(&m->lock);
	entry_get(m, name)->added += (int64_t)bytes;
	pthread_mutex_unlock(&m->lock);
}

/* Scans done so far. */
unsigned long
mboxsize_scans(struct mboxsize *m)
{
	unsigned long n;

	pthread_mutex_lock(&m->lock);
	n = m->scans;
	pthread_mutex_unlock(&m->lock);
	return n;
}
