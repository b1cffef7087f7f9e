/*
 * sched_body: the outbound scheduler's message bodies.  A message is sent
 * from memory: the copy a just-picked-up message came with, a due one's
 * body read ahead by the worker (sched_body_read), or queue/<id>.msg
 * mapped read-only (its pages read in by a worker when it is too big to
 * hold).  Also the header block a DSN quotes, and the relay job built
 * from the entry and its body.
 *
 * Called by the event loop and by the worker's threads; a function works
 * only on the delivery it is given.  It must not know about the heap, the
 * worker's lists or SMTP.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fsutil.h"
#include "header.h"
#include "log.h"
#include "queue.h"
#include "sched_int.h"
#include "util.h"

/* Open queue/<id>.msg of d (dirfd: queue/) and fill st; the descriptor,
 * or -1 with err set (also when it is shorter than the entry's offset). */
int
sched_msg_open(int dirfd, const struct sched_delivery *d, struct stat *st, char *err,
    size_t errlen)
{
	char name[ID_LEN + 8];
	int fd;

	snprintf(name, sizeof(name), "%s.msg", d->e.id);
	fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC);
	if (fd == -1 || fstat(fd, st) == -1) {
		snprintf(err, errlen, "queue/%s: %s", name, strerror(errno));
		if (fd != -1)
			close(fd);
		return -1;
	}
	if ((uint64_t)st->st_size < d->e.offset) {
		snprintf(err, errlen, "queue/%s: shorter than its offset %" PRIu64, name,
		    d->e.offset);
		close(fd);
		return -1;
	}
	return fd;
}

/*
 * Map the open queue/<id>.msg fd (its status st) read-only into d.  With
 * prefault, its pages are read in now by MADV_POPULATE_READ, so that a
 * worker pays the disk's time and the event loop later sends from memory;
 * a read error shows here, not as a SIGBUS when the loop sends.  A kernel
 * without it (before 5.14) is said once; its pages then come in as the
 * message is sent.  0, or -1 with err set.
 */
int
sched_map_fd(int fd, const struct stat *st, struct sched_delivery *d, bool prefault,
    char *err, size_t errlen)
{
	static atomic_bool no_populate;

	d->owned = false;
	d->maplen = (size_t)st->st_size;
	if (d->maplen > 0)
		d->map = mmap(NULL, d->maplen, PROT_READ, MAP_PRIVATE, fd, 0);
	if (d->map == MAP_FAILED) {
		d->map = NULL;
		snprintf(err, errlen, "queue/%s.msg: mmap: %s", d->e.id, strerror(errno));
		return -1;
	}
	if (prefault && d->map != NULL && !atomic_load(&no_populate) &&
	    madvise(d->map, d->maplen, MADV_POPULATE_READ) == -1) {
		if (errno == EINVAL) {
			if (!atomic_exchange(&no_populate, true))
				log_warnx("scheduler: MADV_POPULATE_READ: %s (large messages "
				    "are read from the disk as they are sent)", strerror(errno));
			return 0;
		}
		snprintf(err, errlen, "queue/%s.msg: read: %s", d->e.id, strerror(errno));
		munmap(d->map, d->maplen);
		d->map = NULL;
		d->maplen = 0;
		return -1;
	}
	return 0;
}

/* Map queue/<id>.msg of d (dirfd: queue/), see sched_map_fd; 0 or -1. */
int
sched_map(int dirfd, struct sched_delivery *d, bool prefault, char *err, size_t errlen)
{
	struct stat st;
	int fd, rc;

	if ((fd = sched_msg_open(dirfd, d, &st, err, errlen)) == -1)
		return -1;
	rc = sched_map_fd(fd, &st, d, prefault, err, errlen);
	close(fd);
	return rc;
}

/* Worker: read queue/<id>.msg (dirfd: queue/) from the entry's offset
 * into memory when it fits in budget bytes, else map it; false when
 * unreadable. */
bool
sched_body_read(int dirfd, struct sched_delivery *d, size_t budget, size_t *bytes)
{
	char err[512];
	struct stat st;
	size_t len, got = 0;
	ssize_t n;
	int fd;

	if ((fd = sched_msg_open(dirfd, d, &st, err, sizeof(err))) == -1) {
		log_warnx("queue id=%s: %s", d->e.id, err);
		return false;
	}
	if ((len = (size_t)st.st_size - (size_t)d->e.offset) > budget) {
		/* too big to hold: mapped, its pages read in here */
		bool ok = sched_map_fd(fd, &st, d, true, err, sizeof(err)) == 0;

		close(fd);
		if (!ok)
			log_warnx("queue id=%s: %s", d->e.id, err);
		return ok;
	}
	d->map = xmalloc(len ? len : 1);
	if ((n = fsutil_pread_full(fd, d->map, len, (off_t)d->e.offset)) == -1) {
		log_warn("queue id=%s: read queue/%s.msg", d->e.id, d->e.id);
		free(d->map);
		d->map = NULL;
		close(fd);
		return false;
	}
	got = (size_t)n;
	close(fd);
	d->maplen = got;	/* a file that shrank meanwhile is sent as it is */
	d->owned = true;
	*bytes = got;
	return true;
}

/* true when s has a byte >= 0x80 (eight bytes at a time: bodies are
 * scanned once per delivery). */
static bool
sched_has_8bit(const char *p, size_t n)
{
	const uint64_t high = 0x8080808080808080ull;
	uint64_t acc = 0, w;
	size_t i = 0;

	for (; i + 8 <= n; i += 8) {
		memcpy(&w, p + i, 8);
		acc |= w;
		if ((i & 511) == 504 && (acc & high) != 0)
			return true;
	}
	for (; i < n; i++)
		acc |= (unsigned char)p[i];
	return (acc & high) != 0;
}

/* The message to send: a just-picked-up one in memory, else the mapped
 * .msg from the entry's offset on. */
const char *
sched_body(const struct sched_delivery *d, size_t *lenp)
{
	size_t off = d->owned ? 0 : (size_t)d->e.offset;

	if (d->map == NULL || off > d->maplen) {
		*lenp = 0;
		return "";
	}
	*lenp = d->maplen - off;
	return (const char *)d->map + off;
}

/* Read the start of queue/<id>.msg for the DSN's header part. */
char *
sched_read_headers(struct sched *s, const struct sched_delivery *d, size_t *lenp)
{
	char name[ID_LEN + 8], *buf;
	const char *body;
	size_t n = 0, blen;
	ssize_t r;
	int fd;

	if (d->map != NULL) {
		body = sched_body(d, &blen);
		*lenp = header_block_len(body, blen);
		return xstrndup(body, *lenp);
	}
	buf = xmalloc(SCHED_HEADERS_MAX + 1);
	snprintf(name, sizeof(name), "%s.msg", d->e.id);
	fd = openat(s->dirs.queue, name, O_RDONLY | O_CLOEXEC);
	if (fd != -1 && (r = fsutil_pread_full(fd, buf, SCHED_HEADERS_MAX,
	    (off_t)d->e.offset)) > 0)
		n = (size_t)r;
	if (fd != -1)
		close(fd);
	*lenp = header_block_len(buf, n);
	buf[*lenp] = '\0';
	return buf;
}

/* Fill the relay job from the entry's pending recipients. */
void
sched_build_job(struct sched_delivery *d)
{
	struct queue_entry *e = &d->e;
	struct client_message *m = &d->job.msg;
	size_t i, k = 0;

	d->idx = xcalloc(e->nrcpts, sizeof(*d->idx));
	d->rcpts = xcalloc(e->nrcpts, sizeof(*d->rcpts));
	m->smtputf8 = sched_has_8bit(e->sender, strlen(e->sender));
	for (i = 0; i < e->nrcpts; i++) {
		if (e->rcpts[i].state != QUEUE_RCPT_PENDING)
			continue;
		d->idx[k] = i;
		d->rcpts[k++] = e->rcpts[i].addr;
		if (sched_has_8bit(e->rcpts[i].addr, strlen(e->rcpts[i].addr)))
			m->smtputf8 = true;
	}
	d->job.id = e->id;
	m->sender = e->sender;
	m->rcpts = d->rcpts;
	m->nrcpts = k;
	d->job.body = sched_body(d, &d->job.bodylen);
	m->size = e->size ? e->size : d->job.bodylen;
	m->eightbit = sched_has_8bit(d->job.body, d->job.bodylen);
}

