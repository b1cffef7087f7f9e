/*
 * clog: the commit log's files (see clog.h).  <spool>/log/ holds the
 * segments "W.K" (writer W, segment K) and "checkpoint" (two slots).
 * Every write into a segment overwrites blocks that exist already, so
 * its fdatasync commits data alone, no journal transaction.
 *
 * Must not know about SMTP, Maildirs or the event loop.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#include "clog.h"
#include "fsutil.h"
#include "util.h"

#define CLOG_IOV 512		/* iovecs gathered before a pwritev */
#define CLOG_ZERO_PIECE (256u << 10)

struct clog_head {
	struct clog_head *next;
	char buf[];
};

struct clog_writer {
	struct clog *c;
	unsigned id;
	int fd[CLOG_SEGMENTS];
	uint64_t segmax[CLOG_SEGMENTS];	/* last sequence number in each */
	bool dirty[CLOG_SEGMENTS];
	unsigned cur;
	size_t off;		/* next write position in cur */
	uint64_t next_seq;
	/* the state after the last good clog_sync */
	unsigned sync_cur;
	size_t sync_off;
	uint64_t sync_seq;
	/* gathered, not yet written: a run starting at run_off in cur */
	struct iovec iov[CLOG_IOV];
	int niov;
	size_t run_off, run_len;
	struct clog_head *heads;
};

struct clog {
	int dirfd;
	char *path;
	unsigned nworkers;
	size_t segsize;
	int ckfd;
	int ckslot;		/* the slot written last (-1: none) */
	uint64_t ckcounter;
	pthread_mutex_t lock;
	pthread_cond_t space;	/* writers waiting for a checkpoint */
	pthread_cond_t kickc;	/* the checkpoint thread waiting */
	bool kicked, stopping;
	uint64_t ckpt[CLOG_MAX_WORKERS];	/* under lock */
	uint64_t maxseq[CLOG_MAX_WORKERS];	/* seen by clog_replay */
	_Atomic uint64_t published[CLOG_MAX_WORKERS];
	_Atomic unsigned fails, fixed;
	_Atomic int fail_errno;
	struct clog_writer w[CLOG_MAX_WORKERS];
};

/* Fill err with "<log>/name: what: strerror(errno)", errno kept. */
static int
clog_err(struct clog *c, const char *name, const char *what, char *err, size_t errlen)
{
	int e = errno;

	snprintf(err, errlen, "%s/%s: %s: %s", c->path, name, what, strerror(e));
	errno = e;
	return -1;
}

/* Write n zero bytes into fd from off; 0 or -1 with errno. */
static int
zero_range(int fd, size_t off, size_t n)
{
	static const char zeros[64 << 10];

	while (n > 0) {
		size_t m = n < sizeof(zeros) ? n : sizeof(zeros);
		ssize_t k = pwrite(fd, zeros, m, (off_t)off);

		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0) {
			if (k == 0)
				errno = EIO;
			return -1;
		}
		off += (size_t)k;
		n -= (size_t)k;
	}
	return 0;
}

/* Write len zero bytes into fd from offset 0, then fsync; 0 or -1. */
static int
zero_fill(int fd, size_t len)
{
	if (zero_range(fd, 0, len) == -1)
		return -1;
	return fsync(fd);
}

/*
 * A pre-written file of len zero bytes at name: made as name.new, filled,
 * synced and renamed into place (the caller syncs the directory).  The
 * open descriptor (read-write), or -1 with err.
 */
static int
clog_make_file(struct clog *c, const char *name, size_t len, char *err, size_t errlen)
{
	char tmp[64];
	int fd;

	snprintf(tmp, sizeof(tmp), "%s.new", name);
	if (unlinkat(c->dirfd, tmp, 0) == -1 && errno != ENOENT)
		return clog_err(c, tmp, "unlink", err, errlen);
	fd = openat(c->dirfd, tmp, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd == -1)
		return clog_err(c, tmp, "create", err, errlen);
	if (zero_fill(fd, len) == -1 || renameat(c->dirfd, tmp, c->dirfd, name) == -1) {
		clog_err(c, tmp, "write", err, errlen);
		int e = errno;
		close(fd);
		unlinkat(c->dirfd, tmp, 0);
		errno = e;
		return -1;
	}
	return fd;
}

/* Read the checkpoint file (made when missing); 0 or -1 with err. */
static int
clog_read_ckpt(struct clog *c, char *err, size_t errlen)
{
	char buf[2 * CLOG_CKPT_SLOT];
	struct clog_ckpt ck;
	ssize_t n;

	c->ckfd = openat(c->dirfd, "checkpoint", O_RDWR | O_NOFOLLOW | O_CLOEXEC);
	if (c->ckfd == -1 && errno == ENOENT) {
		c->ckfd = clog_make_file(c, "checkpoint", sizeof(buf), err, errlen);
		if (c->ckfd == -1)
			return -1;
		if (fsutil_fsync_dirfd(c->dirfd, c->path, err, errlen) == -1)
			return -1;
	}
	if (c->ckfd == -1)
		return clog_err(c, "checkpoint", "open", err, errlen);
	n = pread(c->ckfd, buf, sizeof(buf), 0);
	if (n < 0)
		return clog_err(c, "checkpoint", "read", err, errlen);
	if ((size_t)n < sizeof(buf))
		memset(buf + n, 0, sizeof(buf) - (size_t)n);
	c->ckslot = clog_ckpt_pick(buf, &ck);
	c->ckcounter = ck.counter;
	for (unsigned i = 0; i < CLOG_MAX_WORKERS; i++)
		c->ckpt[i] = i < ck.nworkers ? ck.seq[i] : 0;
	return 0;
}

/* Open the log directory and its checkpoint. */
struct clog *
clog_open(int spoolfd, const char *spool_path, unsigned nworkers, char *err, size_t errlen)
{
	struct clog *c = xcalloc(1, sizeof(*c));
	enum fsutil_dir_done done;

	c->path = xmalloc(strlen(spool_path) + 5);
	sprintf(c->path, "%s/log", spool_path);
	c->nworkers = nworkers > CLOG_MAX_WORKERS ? CLOG_MAX_WORKERS : nworkers;
	c->ckfd = -1;
	pthread_mutex_init(&c->lock, NULL);
	pthread_cond_init(&c->space, NULL);
	pthread_cond_init(&c->kickc, NULL);
	for (unsigned i = 0; i < CLOG_MAX_WORKERS; i++) {
		c->w[i].c = c;
		c->w[i].id = i;
		for (unsigned k = 0; k < CLOG_SEGMENTS; k++)
			c->w[i].fd[k] = -1;
	}
	c->dirfd = fsutil_dir_at(spoolfd, "log", &(struct fsutil_perm){ 0700, (gid_t)-1, false },
	    &done, err, errlen);
	if (c->dirfd == -1 || clog_read_ckpt(c, err, errlen) == -1) {
		clog_free(c);
		return NULL;
	}
	return c;
}

/* Close and free. */
void
clog_free(struct clog *c)
{
	if (c == NULL)
		return;
	for (unsigned i = 0; i < CLOG_MAX_WORKERS; i++) {
		clog_rewind(&c->w[i]);
		for (unsigned k = 0; k < CLOG_SEGMENTS; k++)
			if (c->w[i].fd[k] >= 0)
				close(c->w[i].fd[k]);
	}
	if (c->ckfd >= 0)
		close(c->ckfd);
	if (c->dirfd >= 0)
		close(c->dirfd);
	pthread_mutex_destroy(&c->lock);
	pthread_cond_destroy(&c->space);
	pthread_cond_destroy(&c->kickc);
	free(c->path);
	free(c);
}

struct replay_ctx {
	struct clog *c;
	unsigned w;
	const uint64_t *upto;
	clog_replay_fn fn;
	void *arg;
	int failed;
};

/* clog_scan callback: hand on the records after the checkpoint. */
static int
replay_one(void *arg, const struct clog_rec *r, size_t offset)
{
	struct replay_ctx *x = arg;

	(void)offset;
	if (r->seq > x->c->maxseq[x->w])
		x->c->maxseq[x->w] = r->seq;
	if (r->seq <= x->c->ckpt[x->w] || (x->upto != NULL && r->seq > x->upto[x->w]))
		return 0;
	if (x->fn(x->arg, r) != 0)
		x->failed++;
	return 0;
}

/* Read the whole file name into a buffer; NULL with err. */
static char *
clog_slurp(struct clog *c, const char *name, size_t *lenp, char *err, size_t errlen)
{
	int fd = openat(c->dirfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	struct stat st;
	char *buf;
	size_t off = 0;

	if (fd == -1 || fstat(fd, &st) == -1) {
		clog_err(c, name, "open", err, errlen);
		if (fd != -1)
			close(fd);
		return NULL;
	}
	buf = xmalloc((size_t)st.st_size + 1);
	while (off < (size_t)st.st_size) {
		ssize_t n = pread(fd, buf + off, (size_t)st.st_size - off, (off_t)off);

		if (n <= 0) {
			if (n < 0 && errno == EINTR)
				continue;
			if (n == 0)
				break;
			clog_err(c, name, "read", err, errlen);
			free(buf);
			close(fd);
			return NULL;
		}
		off += (size_t)n;
	}
	close(fd);
	*lenp = off;
	return buf;
}

/* Replay every segment of the log directory (see clog.h). */
int
clog_replay(struct clog *c, const uint64_t *upto, clog_replay_fn fn, void *arg,
    char *err, size_t errlen)
{
	int fd = openat(c->dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC), failed = 0;
	DIR *dir = fd == -1 ? NULL : fdopendir(fd);
	struct dirent *de;

	if (dir == NULL) {
		if (fd != -1)
			close(fd);
		return clog_err(c, ".", "open", err, errlen);
	}
	while ((de = readdir(dir)) != NULL) {
		unsigned w, k;
		char tail;
		size_t len;
		char *buf;

		if (sscanf(de->d_name, "%u.%u%c", &w, &k, &tail) != 2 || w >= CLOG_MAX_WORKERS)
			continue;
		if ((buf = clog_slurp(c, de->d_name, &len, err, errlen)) == NULL) {
			closedir(dir);
			return -1;
		}
		struct replay_ctx x = { c, w, upto, fn, arg, 0 };
		clog_scan(buf, len, replay_one, &x, NULL);
		failed += x.failed;
		free(buf);
	}
	closedir(dir);
	return failed;
}

/* The segment size for the log's file system: 1/64 of it, within bounds. */
static size_t
clog_pick_size(struct clog *c)
{
	struct statvfs sv;
	uint64_t size;

	if (fstatvfs(c->dirfd, &sv) == -1)
		return CLOG_SEG_MIN;
	size = (uint64_t)sv.f_blocks * sv.f_frsize / 64;
	if (size < CLOG_SEG_MIN)
		size = CLOG_SEG_MIN;
	if (size > CLOG_SEG_MAX)
		size = CLOG_SEG_MAX;
	return (size_t)(size & ~(uint64_t)0xffff);
}

/* Open segment name at the chosen size, making it when needed; *made set
 * when a file was made (the directory needs a sync). */
static int
clog_segment(struct clog *c, const char *name, bool *made, char *err, size_t errlen)
{
	struct stat st;
	int fd;

	if (fstatat(c->dirfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode) &&
	    (size_t)st.st_size == c->segsize) {
		fd = openat(c->dirfd, name, O_RDWR | O_NOFOLLOW | O_CLOEXEC);
		if (fd == -1)
			return clog_err(c, name, "open", err, errlen);
		return fd;
	}
	*made = true;
	return clog_make_file(c, name, c->segsize, err, errlen);
}

/* Make or open every writer's segments and start the writers. */
int
clog_prepare(struct clog *c, char *err, size_t errlen)
{
	bool made = false;

	c->segsize = clog_pick_size(c);
	for (unsigned i = 0; i < c->nworkers; i++) {
		struct clog_writer *w = &c->w[i];

		for (unsigned k = 0; k < CLOG_SEGMENTS; k++) {
			char name[32];

			snprintf(name, sizeof(name), "%u.%u", i, k);
			if ((w->fd[k] = clog_segment(c, name, &made, err, errlen)) == -1)
				return -1;
			w->segmax[k] = 0;
		}
		w->next_seq = (c->maxseq[i] > c->ckpt[i] ? c->maxseq[i] : c->ckpt[i]) + 1;
		w->sync_seq = w->next_seq;
		atomic_store(&c->published[i], w->next_seq - 1);
	}
	if (made && fsutil_fsync_dirfd(c->dirfd, c->path, err, errlen) == -1)
		return -1;
	return 0;
}

/* Writer w. */
struct clog_writer *
clog_writer(struct clog *c, unsigned w)
{
	return &c->w[w];
}

/* The segment size. */
size_t
clog_segment_size(const struct clog *c)
{
	return c->segsize;
}

/* Write the gathered run into the current segment. */
static int
clog_flush_run(struct clog_writer *w, char *err, size_t errlen)
{
	struct iovec *iov = w->iov;
	int n = w->niov;
	off_t off = (off_t)w->run_off;
	char name[32];

	while (n > 0) {
		ssize_t k = pwritev(w->fd[w->cur], iov, n, off);

		if (k < 0) {
			if (errno == EINTR)
				continue;
			snprintf(name, sizeof(name), "%u.%u", w->id, w->cur);
			return clog_err(w->c, name, "write", err, errlen);
		}
		off += k;
		while (n > 0 && (size_t)k >= iov->iov_len) {
			k -= (ssize_t)iov->iov_len;
			iov++;
			n--;
		}
		if (n > 0) {
			iov->iov_base = (char *)iov->iov_base + k;
			iov->iov_len -= (size_t)k;
		}
	}
	if (w->run_len > 0)
		w->dirty[w->cur] = true;
	w->niov = 0;
	w->run_off = w->off;
	w->run_len = 0;
	return 0;
}

/* Move to the next segment, waiting until the checkpoint frees it. */
static int
clog_next_segment(struct clog_writer *w, char *err, size_t errlen)
{
	struct clog *c = w->c;
	unsigned next = (w->cur + 1) % CLOG_SEGMENTS;
	struct timespec until;
	int rc = 0;
	bool full;

	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += CLOG_WAIT_MS / 1000;
	pthread_mutex_lock(&c->lock);
	/* a checkpoint now only when this segment or the one after it is not
	 * free yet: a kick at every move made one per 4 MiB of traffic and
	 * undid the longer interval (measured, inbound/README.md) */
	if (w->segmax[next] > c->ckpt[w->id] ||
	    w->segmax[(next + 1) % CLOG_SEGMENTS] > c->ckpt[w->id]) {
		c->kicked = true;
		pthread_cond_signal(&c->kickc);
	}
	while (w->segmax[next] > c->ckpt[w->id] && rc == 0 && !c->stopping)
		rc = pthread_cond_timedwait(&c->space, &c->lock, &until);
	full = w->segmax[next] > c->ckpt[w->id];
	pthread_mutex_unlock(&c->lock);
	if (full) {
		snprintf(err, errlen, "%s: the commit log is full (no checkpoint for %d ms)",
		    c->path, CLOG_WAIT_MS);
		errno = EAGAIN;
		return -1;
	}
	w->cur = next;
	w->off = 0;
	w->run_off = 0;
	w->segmax[next] = 0;
	return 0;
}

/* Add one record (see clog.h). */
int
clog_add(struct clog_writer *w, struct clog_rec *r, const struct iovec *msg, int n,
    char *err, size_t errlen)
{
	struct clog *c = w->c;
	size_t size, head;
	struct clog_head *h;

	r->seq = w->next_seq;
	size = clog_rec_size(r);
	head = clog_head_size(r);
	if (size > c->segsize) {
		snprintf(err, errlen, "%s: a record of %zu bytes is larger than a segment",
		    c->path, size);
		errno = EFBIG;
		return -1;
	}
	if (w->off + size > c->segsize || w->niov + 1 + n > CLOG_IOV) {
		if (clog_flush_run(w, err, errlen) == -1)
			return -1;
		if (w->off + size > c->segsize && clog_next_segment(w, err, errlen) == -1)
			return -1;
	}
	h = xmalloc(sizeof(*h) + head);
	clog_encode_head(h->buf, r);
	h->next = w->heads;
	w->heads = h;
	w->iov[w->niov++] = (struct iovec){ h->buf, head };
	for (int i = 0; r->kind == CLOG_INLINE && i < n; i++)
		if (msg[i].iov_len > 0)
			w->iov[w->niov++] = msg[i];
	w->off += size;
	w->run_len += size;
	w->segmax[w->cur] = r->seq;
	w->next_seq++;
	return 0;
}

static void clog_wipe(struct clog_writer *w);

/* Free the gathered heads. */
static void
clog_free_heads(struct clog_writer *w)
{
	while (w->heads) {
		struct clog_head *h = w->heads;

		w->heads = h->next;
		free(h);
	}
	w->niov = 0;
	w->run_len = 0;
}

/* Forget everything since the last good sync, and wipe what of it was
 * written already: records of the same sizes written later over them
 * could otherwise end right where one of these begins, with the next
 * sequence number. */
void
clog_rewind(struct clog_writer *w)
{
	clog_wipe(w);
	clog_free_heads(w);
	w->cur = w->sync_cur;
	w->off = w->sync_off;
	w->run_off = w->off;
	w->next_seq = w->sync_seq;
}

/* Zero n bytes of segment k from off (page cache; best effort). */
static void
clog_zero(struct clog_writer *w, unsigned k, size_t off, size_t n)
{
	(void)zero_range(w->fd[k], off, n);
}

/*
 * After a failed write or fdatasync: wipe what was written since the last
 * good sync, so that records whose batch was answered 451 cannot be found
 * by a recovery even if their bytes reach the disk later.
 */
static void
clog_wipe(struct clog_writer *w)
{
	if (w->cur == w->sync_cur) {
		if (w->off > w->sync_off)
			clog_zero(w, w->cur, w->sync_off, w->off - w->sync_off);
		return;
	}
	clog_zero(w, w->sync_cur, w->sync_off, w->c->segsize - w->sync_off);
	clog_zero(w, w->cur, 0, w->off);
}

/* Write and fdatasync what was added (see clog.h). */
int
clog_sync(struct clog_writer *w, char *err, size_t errlen)
{
	char name[32];

	if (clog_flush_run(w, err, errlen) == -1) {
		int e = errno;
		clog_rewind(w);
		errno = e;
		return -1;
	}
	for (unsigned k = 0; k < CLOG_SEGMENTS; k++) {
		if (!w->dirty[k])
			continue;
		if (CLOG_DURABLE && fdatasync(w->fd[k]) == -1) {
			snprintf(name, sizeof(name), "%u.%u", w->id, k);
			clog_err(w->c, name, "fdatasync", err, errlen);
			int e = errno;
			clog_rewind(w);
			errno = e;
			return -1;
		}
		w->dirty[k] = false;
	}
	clog_free_heads(w);
	w->sync_cur = w->cur;
	w->sync_off = w->off;
	w->sync_seq = w->next_seq;
	return 0;
}

/* Every record up to seq is published. */
void
clog_published(struct clog_writer *w, uint64_t seq)
{
	atomic_store(&w->c->published[w->id], seq);
}

/* Every record up to seq was tried, some failed with e: both at once
 * under the lock clog_snapshot reads under (see clog.h). */
void
clog_published_failed(struct clog_writer *w, uint64_t seq, int e)
{
	struct clog *c = w->c;

	pthread_mutex_lock(&c->lock);
	clog_fail(c, e);
	atomic_store(&c->published[w->id], seq);
	pthread_mutex_unlock(&c->lock);
}

/* The published numbers and the failures, read together (see clog.h). */
int
clog_snapshot(struct clog *c, uint64_t *seq, unsigned *gen)
{
	int failed;

	pthread_mutex_lock(&c->lock);
	clog_published_all(c, seq);
	*gen = clog_fail_count(c);
	failed = clog_failed(c);
	pthread_mutex_unlock(&c->lock);
	return failed;
}

/* The published numbers. */
void
clog_published_all(struct clog *c, uint64_t *seq)
{
	for (unsigned i = 0; i < CLOG_MAX_WORKERS; i++)
		seq[i] = i < c->nworkers ? atomic_load(&c->published[i]) : c->ckpt[i];
}

/* The checkpointed numbers. */
void
clog_checkpointed(struct clog *c, uint64_t *seq)
{
	pthread_mutex_lock(&c->lock);
	memcpy(seq, c->ckpt, sizeof(c->ckpt));
	pthread_mutex_unlock(&c->lock);
}

/* Write a checkpoint into the other slot and wake the writers. */
int
clog_checkpoint(struct clog *c, const uint64_t *seq, char *err, size_t errlen)
{
	char slot[CLOG_CKPT_SLOT];
	struct clog_ckpt ck = { .counter = c->ckcounter + 1, .nworkers = CLOG_MAX_WORKERS };
	int to = c->ckslot == 0 ? 1 : 0;

	for (unsigned i = 0; i < CLOG_MAX_WORKERS; i++)
		ck.seq[i] = i < c->nworkers || seq[i] > c->maxseq[i] ? seq[i] : c->maxseq[i];
	clog_ckpt_encode(slot, &ck);
	if (pwrite(c->ckfd, slot, sizeof(slot), (off_t)to * CLOG_CKPT_SLOT) != (ssize_t)sizeof(slot)) {
		if (errno == 0)
			errno = EIO;
		return clog_err(c, "checkpoint", "write", err, errlen);
	}
	if (fdatasync(c->ckfd) == -1)
		return clog_err(c, "checkpoint", "fdatasync", err, errlen);
	c->ckslot = to;
	c->ckcounter = ck.counter;
	pthread_mutex_lock(&c->lock);
	memcpy(c->ckpt, ck.seq, sizeof(c->ckpt));
	pthread_cond_broadcast(&c->space);
	pthread_mutex_unlock(&c->lock);
	return 0;
}

/* A checkpoint covering every record clog_replay saw. */
int
clog_checkpoint_seen(struct clog *c, char *err, size_t errlen)
{
	uint64_t seq[CLOG_MAX_WORKERS];

	for (unsigned i = 0; i < CLOG_MAX_WORKERS; i++)
		seq[i] = c->maxseq[i] > c->ckpt[i] ? c->maxseq[i] : c->ckpt[i];
	return clog_checkpoint(c, seq, err, errlen);
}

/* A failure: stop acknowledging until repaired. */
void
clog_fail(struct clog *c, int e)
{
	atomic_store(&c->fail_errno, e ? e : EIO);
	atomic_fetch_add(&c->fails, 1);
}

/* 0, or the errno of an unrepaired failure. */
int
clog_failed(struct clog *c)
{
	if (atomic_load(&c->fails) == atomic_load(&c->fixed))
		return 0;
	return atomic_load(&c->fail_errno);
}

/* The failure count. */
unsigned
clog_fail_count(struct clog *c)
{
	return atomic_load(&c->fails);
}

/* Failures up to gen are repaired. */
void
clog_repaired(struct clog *c, unsigned gen)
{
	atomic_store(&c->fixed, gen);
}

/* Ask for a checkpoint soon. */
void
clog_kick(struct clog *c)
{
	pthread_mutex_lock(&c->lock);
	c->kicked = true;
	pthread_cond_signal(&c->kickc);
	pthread_mutex_unlock(&c->lock);
}

/* Checkpoint thread: wait for a kick or ms. */
bool
clog_wait_kick(struct clog *c, unsigned ms)
{
	struct timespec until;
	bool run;

	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_nsec += (long)(ms % 1000) * 1000000L;
	until.tv_sec += ms / 1000 + until.tv_nsec / 1000000000L;
	until.tv_nsec %= 1000000000L;
	pthread_mutex_lock(&c->lock);
	while (!c->kicked && !c->stopping &&
	    pthread_cond_timedwait(&c->kickc, &c->lock, &until) == 0)
		;
	c->kicked = false;
	run = !c->stopping;
	pthread_mutex_unlock(&c->lock);
	return run;
}

/* Stop: wake the checkpoint thread and any waiting writer. */
void
clog_stop(struct clog *c)
{
	pthread_mutex_lock(&c->lock);
	c->stopping = true;
	pthread_cond_broadcast(&c->kickc);
	pthread_cond_broadcast(&c->space);
	pthread_mutex_unlock(&c->lock);
}
