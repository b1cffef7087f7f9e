/*
 * pickup_recover: crash recovery of the pickup hand-over, and the pool of
 * spare inodes.
 *
 * At start-up (pickup_recover) every tmp/claim.<id> and tmp/drop.<id> a
 * crash left is finished (its queue entry is complete: the claim goes) or
 * redone (whatever is in queue/ under its id goes, the claim is taken
 * again, into the queue or bad/); a removal cut short (a .msg or .env
 * alone) is finished; an older version's uncommitted queue/<id>.new (its
 * zero-copy claim) becomes a claim and is redone as a copy.  One claim
 * that cannot be recovered is logged and left for the next start: it
 * never stops the others or the daemon.
 *
 * Spare inodes: on this kind of file system creating a file (allocating
 * an inode, and its blocks) costs far more than renaming or overwriting
 * one (ext4 without a journal scans past every inode freed in the last
 * minute).  A finished message's .env and .msg are kept as tmp/spare.<n>
 * and tmp/mspare.<n> (pickup_release.c) and the next copy is written over
 * them (pwrite, truncated only when it was longer) and renamed into
 * queue/.  A spare is never part of the queue, so a crash with one
 * half-written loses nothing.  .msg spares keep their blocks, so only
 * files up to SPARE_MSG_FILE_MAX are kept, SPARE_MSG_BYTES in all (about:
 * concurrent releases may pass it by a group).  tmp/ is the daemon's own
 * (0700), but a spare is still checked before it is trusted: at start
 * only regular files of our euid with one link are kept (anything else is
 * removed, one log line each), and it is opened O_NOFOLLOW|O_NONBLOCK and
 * checked again by fstat when written.  A spare never holds a producer's
 * inode: it was a queue file the daemon wrote itself.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fsutil.h"
#include "id.h"
#include "header.h"
#include "log.h"
#include "pickup.h"
#include "pickup_int.h"
#include "queue.h"
#include "util.h"

/*
 * The pools, one per kind.  A .env spare is small; a .msg spare holds its
 * blocks for the next message (no allocation when the sizes are alike), so
 * the .msg pool is bounded in bytes too: only files up to
 * SPARE_MSG_FILE_MAX are kept, SPARE_MSG_BYTES at most in all.
 */
#define SPARE_MAX		4096
#define SPARE_MSG_MAX		1024
#define SPARE_MSG_FILE_MAX	(1u << 20)
#define SPARE_MSG_BYTES		(64u << 20)

/* One spare of a pool: its number and the size it had when pooled. */
struct spare {
	unsigned n;
	uint32_t size;
};

/* The bounds of each kind's pool. */
static const struct {
	const char *prefix;	/* tmp/<prefix><n> */
	size_t max;		/* spares at most */
	uint64_t max_bytes;	/* bytes at most (0: no bound) */
} kinds[2] = {
	[PICKUP_SPARE_ENV] = { PICKUP_SPARE_PREFIX, SPARE_MAX, 0 },
	[PICKUP_SPARE_MSG] = { PICKUP_MSPARE_PREFIX, SPARE_MSG_MAX, SPARE_MSG_BYTES },
};

/* A pool of spare inodes of one kind. */
struct spare_pool {
	struct spare *s;
	size_t n, cap;
	uint64_t bytes;		/* sizes of the spares in the pool */
	unsigned next;		/* the next free number */
};

/* The pools of both kinds (pickup.h); lock covers both. */
struct pickup_spares {
	pthread_mutex_t lock;
	struct spare_pool pools[2];
};

/* New, empty pools. */
struct pickup_spares *
pickup_spares_new(void)
{
	struct pickup_spares *sp = xcalloc(1, sizeof(*sp));

	pthread_mutex_init(&sp->lock, NULL);
	return sp;
}

/* Free the pools (the spare files stay in tmp/ for the next start). */
void
pickup_spares_free(struct pickup_spares *sp)
{
	if (sp == NULL)
		return;
	free(sp->pools[PICKUP_SPARE_ENV].s);
	free(sp->pools[PICKUP_SPARE_MSG].s);
	pthread_mutex_destroy(&sp->lock);
	free(sp);
}

/* true when pool kind of sp has room for one more file of size bytes
 * (sp->lock held). */
static bool
spare_room(const struct pickup_spares *sp, enum pickup_spare_kind kind, uint64_t size)
{
	const struct spare_pool *p = &sp->pools[kind];

	return p->n < kinds[kind].max && pickup_spare_fits(kind, size) &&
	    (kinds[kind].max_bytes == 0 || p->bytes + size <= kinds[kind].max_bytes);
}

/* true when a file of size bytes may join pool kind (not too big). */
bool
pickup_spare_fits(enum pickup_spare_kind kind, uint64_t size)
{
	return kind != PICKUP_SPARE_MSG || size <= SPARE_MSG_FILE_MAX;
}

/* Add spare number n (of size bytes) to pool kind. */
void
pickup_spare_push(struct pickup_spares *sp, enum pickup_spare_kind kind, unsigned n,
    uint64_t size)
{
	struct spare_pool *p = &sp->pools[kind];

	pthread_mutex_lock(&sp->lock);
	if (p->n == p->cap) {
		p->cap = p->cap ? p->cap * 2 : 256;
		p->s = xrealloc(p->s, p->cap * sizeof(*p->s));
	}
	p->s[p->n].n = n;
	p->s[p->n++].size = (uint32_t)size;
	p->bytes += size;
	if (n >= p->next)
		p->next = n + 1;
	pthread_mutex_unlock(&sp->lock);
}

/* Take a spare number of pool kind (1), or reserve a new number for a
 * file of size bytes when the pool has room for it (0), or neither (-1). */
int
pickup_spare_take(struct pickup_spares *sp, enum pickup_spare_kind kind, unsigned *n,
    bool want_new, uint64_t size)
{
	struct spare_pool *p = &sp->pools[kind];
	int rc = -1;

	pthread_mutex_lock(&sp->lock);
	if (!want_new && p->n > 0) {
		p->n--;
		*n = p->s[p->n].n;
		p->bytes -= p->s[p->n].size;
		rc = 1;
	} else if (want_new && spare_room(sp, kind, size)) {
		*n = p->next++;
		rc = 0;
	}
	pthread_mutex_unlock(&sp->lock);
	return rc;
}

/* The name of spare n of pool kind. */
void
pickup_spare_name(enum pickup_spare_kind kind, char *buf, size_t sz, unsigned n)
{
	snprintf(buf, sz, "%s%u", kinds[kind].prefix, n);
}

/* true when st is a spare we may write over: a regular file of our euid
 * with one link. */
static bool
spare_ok(const struct stat *st)
{
	return S_ISREG(st->st_mode) && st->st_nlink == 1 && st->st_uid == geteuid();
}

/* Write len bytes of buf at offset 0 of fd; 0, or -1. */
static int
spare_pwrite_all(int fd, const char *buf, size_t len)
{
	size_t off = 0;
	ssize_t n;

	while (off < len) {
		n = pwrite(fd, buf + off, len - off, (off_t)off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		off += (size_t)n;
	}
	return 0;
}

/* Write data over spare n of pool kind: a file of exactly its bytes; 0,
 * or -1 (the spare is then removed).  Truncated only when it was longer. */
int
pickup_spare_write(const struct pickup_dirs *d, enum pickup_spare_kind kind, unsigned n,
    const struct iovec *data, char *err, size_t errlen)
{
	const char *text = data->iov_base;
	size_t len = data->iov_len;
	char sname[32];
	struct stat st;
	int fd;

	pickup_spare_name(kind, sname, sizeof(sname), n);
	fd = openat(d->tmp, sname, O_WRONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
	if (fd >= 0 && fstat(fd, &st) == 0 && spare_ok(&st) &&
	    spare_pwrite_all(fd, text, len) == 0 &&
	    (st.st_size <= (off_t)len || ftruncate(fd, (off_t)len) == 0) && close(fd) == 0)
		return 0;
	snprintf(err, errlen, "tmp/%s: write: %s", sname, fd < 0 ? strerror(errno) :
	    "not a spare of ours, short write or truncate failure");
	if (fd >= 0)
		close(fd);
	(void)unlinkat(d->tmp, sname, 0);
	return -1;
}

/* 1 when name is "<prefix><n>" (a number below 10^9), with n. */
static int
is_spare(const char *name, const char *prefix, unsigned *n)
{
	size_t k = strlen(prefix), i;
	unsigned long v = 0;

	if (strncmp(name, prefix, k) != 0 || name[k] == '\0' ||
	    strlen(name + k) > 9)
		return 0;
	for (i = k; name[i] != '\0'; i++) {
		if (name[i] < '0' || name[i] > '9')
			return 0;
		v = v * 10 + (unsigned long)(name[i] - '0');
	}
	*n = (unsigned)v;
	return 1;
}

/* A spare found at start: into its pool when it is one of ours (a .msg
 * spare too big, or beyond the pool's bounds, is removed quietly), else
 * removed with one log line. */
static void
spare_found(const struct pickup_ctx *c, enum pickup_spare_kind kind, const char *name,
    unsigned n)
{
	const struct pickup_dirs *d = c->dirs;
	struct pickup_spares *sp = c->spares;
	struct spare_pool *p = &sp->pools[kind];
	struct stat st;
	bool room;

	if (fstatat(d->tmp, name, &st, AT_SYMLINK_NOFOLLOW) == 0 && spare_ok(&st)) {
		pthread_mutex_lock(&sp->lock);
		room = spare_room(sp, kind, (uint64_t)st.st_size);
		if (n >= p->next)	/* never reused while the file is there */
			p->next = n + 1;
		pthread_mutex_unlock(&sp->lock);
		if (room)
			pickup_spare_push(sp, kind, n, (uint64_t)st.st_size);
		else
			(void)unlinkat(d->tmp, name, 0);
		return;
	}
	log_warnx("pickup spare=tmp/%s status=removed reason=\"not a regular file of "
	    "ours with one link\"", name);
	if (unlinkat(d->tmp, name, 0) < 0 && errno == EISDIR)
		(void)unlinkat(d->tmp, name, AT_REMOVEDIR);
}

/* A growing array of claims. */
struct claimlist {
	struct pickup_claim_ref *c;
	size_t n, cap;
};

/* Add a claim to l. */
static void
claimlist_add(struct claimlist *l, const char *id, enum pickup_source src)
{
	if (l->n == l->cap) {
		l->cap = l->cap ? l->cap * 2 : 16;
		l->c = xrealloc(l->c, l->cap * sizeof(*l->c));
	}
	memcpy(l->c[l->n].id, id, ID_LEN + 1);
	l->c[l->n++].src = src;
}

/* 1 when name is "<prefix><id>", with the id copied out. */
static int
is_claim_of(const char *name, const char *prefix, char id[ID_LEN + 1])
{
	size_t k = strlen(prefix);

	if (strncmp(name, prefix, k) != 0 || strlen(name) != k + ID_LEN)
		return 0;
	memcpy(id, name + k, ID_LEN + 1);
	return id_valid(id);
}

/* Look at one name of tmp/ at start. */
static void
tmp_entry(const struct pickup_ctx *c, const char *name, struct claimlist *l)
{
	const struct pickup_dirs *d = c->dirs;
	char id[ID_LEN + 1];
	unsigned sn;

	if (strncmp(name, "env.", 4) == 0 && id_valid(name + 4))
		(void)unlinkat(d->tmp, name, 0);	/* a .env half-written */
	else if (queue_put_is_temp(name))
		(void)unlinkat(d->tmp, name, 0);	/* a group store cut short */
	else if (is_spare(name, PICKUP_SPARE_PREFIX, &sn))
		spare_found(c, PICKUP_SPARE_ENV, name, sn);
	else if (is_spare(name, PICKUP_MSPARE_PREFIX, &sn))
		spare_found(c, PICKUP_SPARE_MSG, name, sn);
	else if (is_claim_of(name, PICKUP_CLAIM_PREFIX, id))
		claimlist_add(l, id, PICKUP_SRC_PICKUP);
	else if (is_claim_of(name, PICKUP_DROP_PREFIX, id))
		claimlist_add(l, id, PICKUP_SRC_MAILDROP);
}

/* Every claim in tmp/; spares go to the pool, leftovers are removed. */
static int
list_claims(const struct pickup_ctx *c, struct claimlist *l, char *err, size_t errlen)
{
	struct dirent *de;
	DIR *dir;
	int fd;

	if ((fd = fsutil_open_dir(c->dirs->tmp, "tmp", ".", O_RDONLY, err, errlen)) < 0)
		return -1;
	if ((dir = fdopendir(fd)) == NULL) {
		snprintf(err, errlen, "tmp: opendir: %s", strerror(errno));
		close(fd);
		return -1;
	}
	while ((de = readdir(dir)) != NULL)
		tmp_entry(c, de->d_name, l);
	closedir(dir);
	return 0;
}

/* 1 when queue/<id>.env parses and queue/<id>.msg holds exactly msg. */
static int
already_queued(const struct pickup_dirs *d, const char *id, const char *msg, size_t msglen)
{
	struct queue_entry q;
	char name[ID_LEN + 8], err[256];
	char *have;
	size_t hlen;
	int same;

	if (queue_entry_load(d->queue, id, &q, err, sizeof(err)) < 0)
		return 0;
	queue_entry_free(&q);
	snprintf(name, sizeof(name), "%s.msg", id);
	have = fsutil_read_file(d->queue, name, msglen, &hlen, err, sizeof(err));
	same = have != NULL && hlen == msglen && memcmp(have, msg, msglen) == 0;
	free(have);
	return same;
}

/* Finish or redo one claim (ctx in the durable mode, with the body); 0
 * done, -1 error (t->err). */
static int
recover_one(const struct pickup_ctx *ctx, const struct pickup_claim_ref *c,
    struct pickup_taken *t)
{
	const struct pickup_dirs *d = ctx->dirs;
	char cname[PICKUP_CNAME_MAX], name[ID_LEN + 8], ereason[700];
	struct pickup_claiming cl = { .ref = *c, .origname = cname };
	struct pickup_msg m;
	int rc;

	pickup_claim_name(cname, sizeof(cname), c->src, c->id);
	rc = pickup_load_claim(ctx, c, NULL, &m, t);
	if (rc < 0)
		return -1;
	if (rc == 0) {
		queue_entry_free(&m.e);
		rc = already_queued(d, c->id, m.msg, m.msglen);
		free(m.msg);
		if (rc)
			return pickup_drop_claim(d, c->src, c->id, true, t->err, sizeof(t->err));
	}
	/* half-written or never written: clear what is there and redo */
	snprintf(name, sizeof(name), "%s.env", c->id);
	(void)unlinkat(d->queue, name, 0);
	snprintf(name, sizeof(name), "%s.msg", c->id);
	(void)unlinkat(d->queue, name, 0);
	memset(t, 0, sizeof(*t));
	switch (pickup_process(ctx, &cl, t)) {
	case PICKUP_QUEUED:
		log_info("pickup id=%s claim=tmp/%s status=recovered message-id=%s", t->e.id,
		    cname, header_msgid_for_log(t->msg, t->msglen, ereason, sizeof(ereason)));
		free(t->msg);
		queue_entry_free(&t->e);
		return 0;
	case PICKUP_BAD:
		log_warnx("pickup claim=tmp/%s status=bad bad=%s reason=\"%s\"", cname,
		    t->bname, log_printable(t->reason, strlen(t->reason), ereason,
		    sizeof(ereason)));
		return 0;
	default:
		return -1;
	}
}

/* A growing array of ids. */
struct idlist {
	char (*ids)[ID_LEN + 1];
	size_t n, cap;
};

/* qsort/bsearch order of ids. */
static int
id_cmp(const void *a, const void *b)
{
	return strcmp(a, b);
}

/* Add id to l. */
static void
idlist_add(struct idlist *l, const char *id)
{
	if (l->n == l->cap) {
		l->cap = l->cap ? l->cap * 2 : 64;
		l->ids = xrealloc(l->ids, l->cap * sizeof(*l->ids));
	}
	memcpy(l->ids[l->n++], id, ID_LEN + 1);
}

/* Sort l. */
static void
idlist_sort(struct idlist *l)
{
	if (l->n > 1)
		qsort(l->ids, l->n, sizeof(*l->ids), id_cmp);
}

/* true when l (sorted) holds id. */
static bool
idlist_has(const struct idlist *l, const char *id)
{
	return l->n > 0 && bsearch(id, l->ids, l->n, sizeof(*l->ids), id_cmp) != NULL;
}

/* The ids of queue/<id>.msg, .env and .new, each list sorted. */
static int
list_queue(const struct pickup_dirs *d, struct idlist *msgs, struct idlist *envs,
    struct idlist *news, char *err, size_t errlen)
{
	char id[ID_LEN + 1];
	struct dirent *de;
	DIR *dir;
	int fd;

	if ((fd = fsutil_open_dir(d->queue, "queue", ".", O_RDONLY, err, errlen)) < 0)
		return -1;
	if ((dir = fdopendir(fd)) == NULL) {
		snprintf(err, errlen, "queue: opendir: %s", strerror(errno));
		close(fd);
		return -1;
	}
	while ((de = readdir(dir)) != NULL) {
		if (strlen(de->d_name) != ID_LEN + 4)
			continue;
		memcpy(id, de->d_name, ID_LEN);
		id[ID_LEN] = '\0';
		if (!id_valid(id))
			continue;
		if (strcmp(de->d_name + ID_LEN, ".msg") == 0)
			idlist_add(msgs, id);
		else if (strcmp(de->d_name + ID_LEN, ".env") == 0)
			idlist_add(envs, id);
		else if (strcmp(de->d_name + ID_LEN, ".new") == 0)
			idlist_add(news, id);
	}
	closedir(dir);
	idlist_sort(msgs);
	idlist_sort(envs);
	idlist_sort(news);
	return 0;
}

/* Unlink queue/<id>.<ext> (gone already is fine). */
static int
unlink_queue_file(const struct pickup_dirs *d, const char *id, const char *ext,
    char *err, size_t errlen)
{
	char name[ID_LEN + 8];

	snprintf(name, sizeof(name), "%s.%s", id, ext);
	if (unlinkat(d->queue, name, 0) < 0 && errno != ENOENT) {
		snprintf(err, errlen, "queue/%s: unlink: %s", name, strerror(errno));
		return -1;
	}
	return 0;
}

/* An older version's uncommitted zero-copy claim queue/<id>.new: it
 * becomes tmp/claim.<id> (redone as a copy), its .env goes. */
static int
reclaim_new(const struct pickup_dirs *d, const char *id, char *err, size_t errlen)
{
	char nname[ID_LEN + 8], cname[PICKUP_CNAME_MAX];

	if (unlink_queue_file(d, id, "env", err, errlen) < 0)
		return -1;
	snprintf(nname, sizeof(nname), "%s.new", id);
	pickup_claim_name(cname, sizeof(cname), PICKUP_SRC_PICKUP, id);
	if (renameat2(d->queue, nname, d->tmp, cname, RENAME_NOREPLACE) < 0) {
		snprintf(err, errlen, "queue/%s -> tmp/%s: rename: %s", nname, cname,
		    strerror(errno));
		return -1;
	}
	return 0;
}

/* true when id has a claim in l. */
static bool
has_claim(const struct claimlist *l, const char *id)
{
	size_t i;

	for (i = 0; i < l->n; i++)
		if (strcmp(l->c[i].id, id) == 0)
			return true;
	return false;
}

/*
 * The queue's loose ends, for ids without a claim in tmp/ (those are
 * recover_one()'s): a .new becomes a claim (added to claims) and is
 * redone; a .msg without its .env is a removal that did not finish (the
 * .env goes first), and so is a .env alone -- both are removed.  The
 * number of removals finished, or -1.
 */
static int
recover_queue(const struct pickup_dirs *d, struct claimlist *claims, char *err,
    size_t errlen)
{
	struct idlist msgs = { NULL, 0, 0 }, envs = { NULL, 0, 0 }, news = { NULL, 0, 0 };
	struct idlist held = { NULL, 0, 0 };
	size_t i;
	int done = 0, rc = 0;

	for (i = 0; i < claims->n; i++)
		idlist_add(&held, claims->c[i].id);
	idlist_sort(&held);
	if (list_queue(d, &msgs, &envs, &news, err, errlen) < 0)
		rc = -1;
	for (i = 0; rc == 0 && i < news.n; i++) {
		if (has_claim(claims, news.ids[i]))
			continue;
		if ((rc = reclaim_new(d, news.ids[i], err, errlen)) == 0)
			claimlist_add(claims, news.ids[i], PICKUP_SRC_PICKUP);
	}
	for (i = 0; rc == 0 && i < msgs.n; i++) {
		if (idlist_has(&envs, msgs.ids[i]) || idlist_has(&held, msgs.ids[i]))
			continue;
		if ((rc = unlink_queue_file(d, msgs.ids[i], "msg", err, errlen)) == 0)
			done++;
	}
	for (i = 0; rc == 0 && i < envs.n; i++) {
		if (idlist_has(&msgs, envs.ids[i]) || idlist_has(&news, envs.ids[i]) ||
		    idlist_has(&held, envs.ids[i]))
			continue;
		if ((rc = unlink_queue_file(d, envs.ids[i], "env", err, errlen)) == 0)
			done++;
	}
	if (rc == 0 && done > 0)
		rc = fsutil_fsync_dirfd(d->queue, "queue", err, errlen);
	free(msgs.ids);
	free(envs.ids);
	free(news.ids);
	free(held.ids);
	return rc < 0 ? -1 : done;
}

/* At start-up: finish or redo interrupted claims (see pickup.h). */
int
pickup_recover(const struct pickup_ctx *c, char *err, size_t errlen)
{
	struct claimlist claims = { NULL, 0, 0 };
	struct pickup_taken *t = xcalloc(1, sizeof(*t));
	struct pickup_ctx durable = *c;
	char cname[PICKUP_CNAME_MAX];
	size_t i;
	int done = -1;

	durable.batch = NULL;		/* each claim redone with every fsync */
	durable.want_body = true;	/* for its Message-ID in the log line */
	if (list_claims(c, &claims, err, errlen) < 0 ||
	    (done = recover_queue(c->dirs, &claims, err, errlen)) < 0)
		goto out;
	for (i = 0; i < claims.n; i++) {
		memset(t, 0, sizeof(*t));
		if (recover_one(&durable, &claims.c[i], t) == 0) {
			done++;
			continue;
		}
		pickup_claim_name(cname, sizeof(cname), claims.c[i].src, claims.c[i].id);
		log_warnx("pickup claim=tmp/%s status=error: %s (left for the next start)",
		    cname, t->err);
	}
out:
	free(claims.c);
	free(t);
	return done;
}
