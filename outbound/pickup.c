/*
 * pickup: take a file a producer dropped in maildrop/ or pickup/ and
 * queue a copy of it (see pickup.h for the steps and the format).
 *
 * Trust boundary.  maildrop/ (1730, group submit_group) holds files of
 * any local user who ran smtpgate-sendmail; pickup/ (1730, the service
 * group) files of trusted producers.  Either may hold anything a user can
 * create: a symbolic link, a FIFO, a directory, a hard link, a file the
 * daemon cannot read, a file its owner keeps open and rewrites.  So: the
 * type and link count are checked (fstatat, no symlink followed) before
 * the file is renamed into tmp/ (0700, ours: the name can no longer be
 * swapped), it is opened O_NOFOLLOW|O_NONBLOCK|O_NOCTTY (a FIFO or a
 * device put there meanwhile cannot block us), checked again by fstat
 * (same inode, regular, one link, size), and read through that descriptor
 * into memory (fsutil_read_fd: refused as too large once it holds more
 * than PICKUP_MAX_SIZE bytes, however much it grows).  What is queued is a copy
 * in files of our own; the producer's inode is dropped (or kept in bad/).
 *
 * This module knows nothing about inotify, scanning, SMTP or the
 * scheduler: the daemon decides when to take and what to do next.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include "fsutil.h"
#include "id.h"
#include "log.h"
#include "pickup.h"
#include "pickup_int.h"
#include "queue.h"
#include "util.h"

#define BAD_NAME_MAX	100	/* longer names go to bad/ as bad/<id> */

/* The source directory of src. */
static int
src_fd(const struct pickup_dirs *d, enum pickup_source src)
{
	return src == PICKUP_SRC_MAILDROP ? d->maildrop : d->pickup;
}

/* The name of src's directory, for messages. */
static const char *
src_label(enum pickup_source src)
{
	return src == PICKUP_SRC_MAILDROP ? "maildrop" : "pickup";
}

/* The claim file name for id (see pickup_int.h). */
void
pickup_claim_name(char *buf, size_t sz, enum pickup_source src, const char *id)
{
	snprintf(buf, sz, "%s%s", src == PICKUP_SRC_MAILDROP ? PICKUP_DROP_PREFIX :
	    PICKUP_CLAIM_PREFIX, id);
}

/* name escaped for a log line or an error (one helper: log_printable). */
static const char *
esc(const char *name, char *buf, size_t sz)
{
	return log_printable(name, strlen(name), buf, sz);
}

/* What a file type is called in a reason. */
static const char *
type_name(mode_t m)
{
	if (S_ISDIR(m))
		return "directory";
	if (S_ISLNK(m))
		return "symbolic link";
	if (S_ISFIFO(m))
		return "FIFO";
	if (S_ISSOCK(m))
		return "socket";
	if (S_ISCHR(m) || S_ISBLK(m))
		return "device";
	return "regular file";
}

/* A reason when st is not a file to take (not regular, links), else 0. */
static int
check_stat(const struct stat *st, char *reason, size_t reasonlen)
{
	if (!S_ISREG(st->st_mode)) {
		snprintf(reason, reasonlen, "not a regular file (%s)", type_name(st->st_mode));
		return 1;
	}
	if (st->st_nlink != 1) {
		snprintf(reason, reasonlen, "hard-linked file (%ju links)",
		    (uintmax_t)st->st_nlink);
		return 1;
	}
	if (st->st_size > (off_t)PICKUP_MAX_SIZE) {
		snprintf(reason, reasonlen, "message too large (%jd bytes, limit %u)",
		    (intmax_t)st->st_size, PICKUP_MAX_SIZE);
		return 1;
	}
	return 0;
}

/* true for an errno that says nothing about the file (the daemon is out
 * of descriptors or memory, the disk failed): try again later, do not
 * condemn the file to bad/. */
static bool
transient(int e)
{
	return e == EMFILE || e == ENFILE || e == ENOMEM || e == EIO || e == EINTR ||
	    e == ENOBUFS;
}

/*
 * Open and read the claim cname (in tmp/): 0 with *buf, 1 not acceptable
 * (t->reason), -1 I/O error (t->err).  expect: the inode seen before the
 * claim, when there was one.  A file that grows past PICKUP_MAX_SIZE
 * while it is read is too large, as the parser would say.
 */
static int
read_claim(const struct pickup_dirs *d, const char *cname, const struct stat *expect,
    char **buf, size_t *lenp, struct pickup_taken *t)
{
	struct stat st;
	int fd, rc;

	fd = openat(d->tmp, cname, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
	if (fd < 0 && transient(errno)) {
		snprintf(t->err, sizeof(t->err), "tmp/%s: open: %s", cname, strerror(errno));
		return -1;
	}
	if (fd < 0) {
		if (errno == ELOOP)
			snprintf(t->reason, sizeof(t->reason), "not a regular file (symbolic link)");
		else
			snprintf(t->reason, sizeof(t->reason), "cannot open: %s", strerror(errno));
		return 1;
	}
	if (fstat(fd, &st) < 0) {
		snprintf(t->err, sizeof(t->err), "tmp/%s: fstat: %s", cname, strerror(errno));
		close(fd);
		return -1;
	}
	t->uid = st.st_uid;
	t->have_uid = true;
	if (expect != NULL && (st.st_dev != expect->st_dev || st.st_ino != expect->st_ino)) {
		snprintf(t->reason, sizeof(t->reason), "file replaced while being taken");
		close(fd);
		return 1;
	}
	if (check_stat(&st, t->reason, sizeof(t->reason))) {
		close(fd);
		return 1;
	}
	*buf = fsutil_read_fd(fd, (size_t)st.st_size, PICKUP_MAX_SIZE, lenp);
	rc = *buf != NULL ? 0 : 1;
	if (rc != 0 && transient(errno)) {
		snprintf(t->err, sizeof(t->err), "tmp/%s: read: %s", cname, strerror(errno));
		rc = -1;
	} else if (rc != 0 && errno == EFBIG)	/* grew past the limit meanwhile */
		snprintf(t->reason, sizeof(t->reason), "message too large (%zu bytes, limit %u)",
		    (size_t)PICKUP_MAX_SIZE + 1, PICKUP_MAX_SIZE);
	else if (rc != 0)
		snprintf(t->reason, sizeof(t->reason), "cannot read: %s", strerror(errno));
	close(fd);
	return rc;
}

/* Read and parse a claim (see pickup_int.h). */
int
pickup_load_claim(const struct pickup_ctx *c, const struct pickup_claim_ref *ref,
    const struct stat *expect, struct pickup_msg *m, struct pickup_taken *t)
{
	char cname[PICKUP_CNAME_MAX], *buf = NULL;
	size_t len = 0;
	int rc;

	memset(m, 0, sizeof(*m));
	pickup_claim_name(cname, sizeof(cname), ref->src, ref->id);
	if ((rc = read_claim(c->dirs, cname, expect, &buf, &len, t)) != 0)
		return rc;
	rc = pickup_parse(buf, len, ref->src == PICKUP_SRC_MAILDROP ? PICKUP_STRICT : 0, m,
	    t->reason, sizeof(t->reason)) < 0 ? 1 : 0;
	free(buf);
	if (rc == 0)
		pickup_originate(c->policies, ref->src, ref->id, m);
	return rc;
}

/* true when name may keep its name in bad/: short, [A-Za-z0-9._+=,@-]. */
static bool
bad_name_ok(const char *name)
{
	size_t i;

	for (i = 0; name[i] != '\0'; i++)
		if (!((name[i] >= 'a' && name[i] <= 'z') || (name[i] >= 'A' && name[i] <= 'Z') ||
		    (name[i] >= '0' && name[i] <= '9') || strchr("._+=,@-", name[i]) != NULL))
			return false;
	return i > 0 && i <= BAD_NAME_MAX && name[0] != '.';
}

/* Write bad/<bname>.reason: the reason, the original name escaped, the
 * owner.  Only text we made printable. */
static int
write_reason(const struct pickup_ctx *c, enum pickup_source src, const char *origname,
    const struct pickup_taken *t, char *err, size_t errlen)
{
	char rname[sizeof(t->bname) + 8], text[2048], ename[800], ereason[700];
	int n;

	snprintf(rname, sizeof(rname), "%s.reason", t->bname);
	n = snprintf(text, sizeof(text), "reason=\"%s\"\nsource=%s\nname=\"%s\"\n",
	    log_printable(t->reason, strlen(t->reason), ereason, sizeof(ereason)),
	    src_label(src), esc(origname, ename, sizeof(ename)));
	if (t->have_uid && n > 0 && (size_t)n < sizeof(text))
		n += snprintf(text + n, sizeof(text) - (size_t)n, "uid=%ju\n", (uintmax_t)t->uid);
	if (n < 0 || (size_t)n >= sizeof(text))
		n = (int)strlen(text);
	return fsutil_write_atomic(&(struct fsutil_atomic){ c->dirs->tmp, c->dirs->bad,
	    c->batch == NULL }, rname, text, (size_t)n, err, errlen);
}

/*
 * Move fromdir/fromname (taken from ref->src) to bad/ (named after
 * origname, or <ref->id>; with ".<id>" when taken) and write its reason
 * (durable in the durable mode).  0; or -1 with t->err when it
 * could not be moved (it is then where it was).  A reason file that
 * cannot be written is said in t->err, the move stands.
 */
static int
move_to_bad(const struct pickup_ctx *c, const struct pickup_claim_ref *ref, int fromdir,
    const char *fromname, const char *origname, struct pickup_taken *t)
{
	const struct pickup_dirs *d = c->dirs;
	const char *id = ref->id;
	char e1[256], e2[512];
	int rc;

	if (bad_name_ok(origname))
		util_strlcpy(t->bname, origname, sizeof(t->bname));
	else
		util_strlcpy(t->bname, id, sizeof(t->bname));
	rc = renameat2(fromdir, fromname, d->bad, t->bname, RENAME_NOREPLACE);
	if (rc < 0 && errno == EEXIST) {
		snprintf(t->bname + strlen(t->bname), sizeof(t->bname) - strlen(t->bname),
		    ".%s", id);
		rc = renameat2(fromdir, fromname, d->bad, t->bname, RENAME_NOREPLACE);
	}
	if (rc < 0) {
		snprintf(t->err, sizeof(t->err), "cannot move to bad/ (%.200s): %s", t->reason,
		    strerror(errno));
		t->bname[0] = '\0';
		return -1;
	}
	if (write_reason(c, ref->src, origname, t, e2, sizeof(e2)) < 0)
		snprintf(t->err, sizeof(t->err), "bad/%s.reason: %s", t->bname,
		    log_printable(e2, strlen(e2), e1, sizeof(e1)));
	return 0;
}

/* Unlink the claim of src, id (see pickup_int.h). */
int
pickup_drop_claim(const struct pickup_dirs *d, enum pickup_source src, const char *id,
    bool fsync_tmp, char *err, size_t errlen)
{
	char cname[PICKUP_CNAME_MAX];

	pickup_claim_name(cname, sizeof(cname), src, id);
	if (unlinkat(d->tmp, cname, 0) < 0 && errno != ENOENT) {
		snprintf(err, errlen, "tmp/%s: unlink: %s", cname, strerror(errno));
		return -1;
	}
	return fsync_tmp ? fsutil_fsync_dirfd(d->tmp, "tmp", err, errlen) : 0;
}

/*
 * Write queue/<id>.<ext> (new, not synced) from data: over a spare of kind
 * when there is one (renamed into queue/), else as a new file (the .env in
 * tmp/ first, the .msg straight in queue/: it means nothing without its
 * .env).
 */
static int
write_queue_file(const struct pickup_ctx *c, enum pickup_spare_kind kind, const char *id,
    const struct iovec *data, char *err, size_t errlen)
{
	const struct pickup_dirs *d = c->dirs;
	const char *ext = kind == PICKUP_SPARE_MSG ? "msg" : "env";
	char tname[64], name[ID_LEN + 8];
	unsigned n;

	snprintf(name, sizeof(name), "%s.%s", id, ext);
	if (pickup_spare_take(c->spares, kind, &n, false, 0) == 1 &&
	    pickup_spare_write(d, kind, n, data, err, errlen) == 0) {
		pickup_spare_name(kind, tname, sizeof(tname), n);
	} else if (kind == PICKUP_SPARE_MSG) {	/* no spare (or it is gone) */
		return fsutil_write_new(d->queue, name, &(struct fsutil_new){ data, 1, false, NULL },
		    err, errlen);
	} else {
		snprintf(tname, sizeof(tname), "env.%s", id);
		(void)unlinkat(d->tmp, tname, 0);
		if (fsutil_write_new(d->tmp, tname, &(struct fsutil_new){ data, 1, false, NULL },
		    err, errlen) < 0)
			return -1;
	}
	if (renameat2(d->tmp, tname, d->queue, name, RENAME_NOREPLACE) < 0) {
		snprintf(err, errlen, "tmp/%s -> queue/%s: rename: %s", tname, name,
		    strerror(errno));
		(void)unlinkat(d->tmp, tname, 0);
		return -1;
	}
	return 0;
}

/*
 * The batched mode's copy: queue/<id>.msg, then its .env, each written
 * over a spare inode when there is one, neither synced: the batch commit
 * makes them durable.  m's envelope moves to t->e (errors in t->err).
 */
static int
queue_copy(const struct pickup_ctx *c, const char *id, struct pickup_msg *m,
    struct pickup_taken *t)
{
	struct queue_entry *e = &t->e;
	struct iovec iov = { m->msg, m->msglen };
	char name[ID_LEN + 8];
	int rc;

	snprintf(name, sizeof(name), "%s.msg", id);
	if (write_queue_file(c, PICKUP_SPARE_MSG, id, &iov, t->err, sizeof(t->err)) < 0)
		return -1;
	*e = m->e;
	memset(&m->e, 0, sizeof(m->e));
	util_strlcpy(e->id, id, sizeof(e->id));
	e->created = e->next_attempt = c->now;
	e->size = m->msglen;
	e->offset = 0;
	iov.iov_base = queue_env_format(e, &iov.iov_len);
	rc = write_queue_file(c, PICKUP_SPARE_ENV, id, &iov, t->err, sizeof(t->err));
	free(iov.iov_base);
	if (rc < 0) {
		queue_entry_free(e);
		(void)unlinkat(c->dirs->queue, name, 0);
	}
	return rc;
}

/* The durable mode's copy: queue_entry_create_id does every fsync; the
 * new entry in t->e (errors in t->err). */
static int
queue_copy_durable(const struct pickup_ctx *c, const char *id, const struct pickup_msg *m,
    struct pickup_taken *t)
{
	const struct pickup_dirs *d = c->dirs;
	const struct queue_entry *p = &m->e;
	struct queue_entry *e = &t->e;
	char *err = t->err;
	size_t errlen = sizeof(t->err);
	const char **rcpts = xcalloc(p->nrcpts, sizeof(*rcpts));
	size_t i;
	int rc;

	for (i = 0; i < p->nrcpts; i++)
		rcpts[i] = p->rcpts[i].addr;
	rc = queue_entry_create_id(d->tmp, d->queue, &(struct queue_new){ .id = id,
	    .sender = p->sender, .rcpts = rcpts, .nrcpts = p->nrcpts, .msg = m->msg,
	    .msglen = m->msglen, .now = c->now, .sync = true }, e, err, errlen);
	free(rcpts);
	if (rc == 0 && p->last_reply != NULL) {	/* refused at once (pickup_originate) */
		for (i = 0; i < p->nrcpts && i < e->nrcpts; i++) {
			e->rcpts[i].state = p->rcpts[i].state;
			e->rcpts[i].reply = p->rcpts[i].reply != NULL ?
			    xstrdup(p->rcpts[i].reply) : NULL;
		}
		e->last_reply = xstrdup(p->last_reply);
		rc = queue_entry_store(d->tmp, d->queue, e, true, err, errlen);
	}
	return rc;
}

/* A claim that could not be queued or moved to bad/: back to its source
 * name when there is one (the caller backs off), else left for recovery. */
static enum pickup_outcome
unclaim(const struct pickup_dirs *d, const struct pickup_claiming *cl)
{
	char cname[PICKUP_CNAME_MAX];

	pickup_claim_name(cname, sizeof(cname), cl->ref.src, cl->ref.id);
	if (cl->back != NULL)
		(void)renameat2(d->tmp, cname, src_fd(d, cl->ref.src), cl->back,
		    RENAME_NOREPLACE);
	return PICKUP_ERROR;
}

/* Remember a batched claim for its commit. */
static void
batch_add(struct pickup_batch *b, const struct pickup_claim_ref *ref);

/* Queue a claim in c's mode (see pickup_int.h). */
enum pickup_outcome
pickup_process(const struct pickup_ctx *c, const struct pickup_claiming *cl,
    struct pickup_taken *t)
{
	const struct pickup_claim_ref *ref = &cl->ref;
	struct pickup_msg m;
	char cname[PICKUP_CNAME_MAX];
	int rc;

	pickup_claim_name(cname, sizeof(cname), ref->src, ref->id);
	rc = pickup_load_claim(c, ref, cl->expect, &m, t);
	if (rc == 1) {
		if (move_to_bad(c, ref, c->dirs->tmp, cname, cl->origname, t) < 0)
			return unclaim(c->dirs, cl);
		return PICKUP_BAD;
	}
	if (rc == 0)
		rc = c->batch == NULL ? queue_copy_durable(c, ref->id, &m, t) :
		    queue_copy(c, ref->id, &m, t);
	queue_entry_free(&m.e);
	if (rc == 0 && c->want_body) {
		t->msg = m.msg;
		t->msglen = m.msglen;
		m.msg = NULL;
	}
	free(m.msg);
	if (rc < 0)
		return unclaim(c->dirs, cl);
	if (c->batch != NULL) {
		batch_add(c->batch, ref);
		return PICKUP_QUEUED;
	}
	/* queued and durable; a claim left behind is dropped by pickup_recover() */
	(void)pickup_drop_claim(c->dirs, ref->src, ref->id, true, t->err, sizeof(t->err));
	return PICKUP_QUEUED;
}

/* true when name may be a dropped file: not empty, no '/', not hidden. */
static bool
valid_name(const char *name)
{
	return name[0] != '\0' && name[0] != '.' && strchr(name, '/') == NULL &&
	    strlen(name) <= NAME_MAX;
}

/* Take a dropped file and queue a copy (see pickup.h). */
enum pickup_outcome
pickup_take(const struct pickup_ctx *c, enum pickup_source src, const char *name,
    struct pickup_taken *t)
{
	const struct pickup_dirs *d = c->dirs;
	struct pickup_claiming cl = { .ref.src = src, .origname = name, .back = name };
	char cname[PICKUP_CNAME_MAX], ename[300];
	struct stat st;
	int fd = src_fd(d, src);

	memset(t, 0, sizeof(*t));
	if (!valid_name(name)) {
		snprintf(t->err, sizeof(t->err), "not a name to take");
		return PICKUP_ERROR;
	}
	if (fstatat(fd, name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
		if (errno == ENOENT)
			return PICKUP_GONE;
		snprintf(t->err, sizeof(t->err), "%s/%s: stat: %s", src_label(src),
		    esc(name, ename, sizeof(ename)), strerror(errno));
		return PICKUP_ERROR;
	}
	t->uid = st.st_uid;
	t->have_uid = true;
	id_generate(cl.ref.id);
	if (!S_ISREG(st.st_mode) || st.st_nlink != 1) {
		/* never opened, not even claimed: straight to bad/ */
		(void)check_stat(&st, t->reason, sizeof(t->reason));
		if (move_to_bad(c, &cl.ref, fd, name, name, t) < 0)
			return errno == ENOENT ? PICKUP_GONE : PICKUP_ERROR;
		return PICKUP_BAD;
	}
	pickup_claim_name(cname, sizeof(cname), src, cl.ref.id);
	if (renameat2(fd, name, d->tmp, cname, RENAME_NOREPLACE) < 0) {
		if (errno == ENOENT)
			return PICKUP_GONE;
		snprintf(t->err, sizeof(t->err), "%s/%s -> tmp/%s: rename: %s",
		    src_label(src), esc(name, ename, sizeof(ename)), cname, strerror(errno));
		return PICKUP_ERROR;
	}
	cl.expect = &st;
	return pickup_process(c, &cl, t);
}

/* pickup_take() from pickup/ without the body (see pickup.h). */
enum pickup_outcome
pickup_claim(const struct pickup_ctx *c, const char *name, struct queue_entry *e,
    char *why, size_t whylen)
{
	struct pickup_taken *t = xcalloc(1, sizeof(*t));
	struct pickup_ctx c1 = *c;
	enum pickup_outcome o;

	c1.want_body = false;
	o = pickup_take(&c1, PICKUP_SRC_PICKUP, name, t);
	*e = t->e;
	util_strlcpy(why, o == PICKUP_BAD ? t->reason : o == PICKUP_ERROR ? t->err : "",
	    whylen);
	free(t);
	return o;
}

/* fsync queue/<id>.<ext>. */
static int
fsync_queue_file(const struct pickup_dirs *d, const char *id, const char *ext,
    char *err, size_t errlen)
{
	char name[ID_LEN + 8];
	int fd, rc;

	snprintf(name, sizeof(name), "%s.%s", id, ext);
	if ((fd = openat(d->queue, name, O_RDONLY | O_CLOEXEC)) < 0) {
		snprintf(err, errlen, "queue/%s: open: %s", name, strerror(errno));
		return -1;
	}
	if ((rc = fsync(fd)) < 0)
		snprintf(err, errlen, "queue/%s: fsync: %s", name, strerror(errno));
	close(fd);
	return rc;
}

/*
 * How pickup_commit() makes a batch durable: syncfs(2) of the queue's file
 * system (one call; reports writeback errors since Linux 5.8), or an fsync
 * of every .msg and .env and then the directories.  Measured on ext4 (8 KiB
 * messages, batches of 10-500, loaded shared disk): syncfs took 2-4x less
 * time per commit (e.g. 50 messages: 13-30 ms against 33-275 ms), so it is
 * the default.  Its cost: it also flushes other dirty data on that file
 * system.  Build with -DPICKUP_COMMIT_SYNCFS=0 for the per-file variant.
 */
#ifndef PICKUP_COMMIT_SYNCFS
#define PICKUP_COMMIT_SYNCFS 1
#endif
static const bool commit_with_syncfs = PICKUP_COMMIT_SYNCFS;

/* Make the queue files of a batch durable (and the claims' renames out of
 * pickup/ and maildrop/). */
static int
sync_batch(const struct pickup_dirs *d, const struct pickup_claim_ref *c, size_t n,
    char *err, size_t errlen)
{
	size_t i;

	if (commit_with_syncfs) {
		if (syncfs(d->queue) < 0) {
			snprintf(err, errlen, "queue: syncfs: %s", strerror(errno));
			return -1;
		}
		return 0;
	}
	for (i = 0; i < n; i++)
		if (fsync_queue_file(d, c[i].id, "msg", err, errlen) < 0 ||
		    fsync_queue_file(d, c[i].id, "env", err, errlen) < 0)
			return -1;
	if (fsutil_fsync_dirfd(d->queue, "queue", err, errlen) < 0 ||
	    fsutil_fsync_dirfd(d->pickup, "pickup", err, errlen) < 0)
		return -1;
	return d->maildrop >= 0 ? fsutil_fsync_dirfd(d->maildrop, "maildrop", err, errlen) : 0;
}

/* The batched claims waiting for one commit. */
struct pickup_batch {
	struct pickup_claim_ref *c;
	size_t n, cap;
};

/* A new, empty batch (see pickup.h). */
struct pickup_batch *
pickup_batch_new(void)
{
	return xcalloc(1, sizeof(struct pickup_batch));
}

/* Remember a batched claim for its commit. */
static void
batch_add(struct pickup_batch *b, const struct pickup_claim_ref *ref)
{
	if (b->n == b->cap) {
		b->cap = b->cap ? b->cap * 2 : 64;
		b->c = xrealloc(b->c, b->cap * sizeof(*b->c));
	}
	b->c[b->n++] = *ref;
}

/* Number of claims in a batch. */
size_t
pickup_batch_size(const struct pickup_batch *b)
{
	return b != NULL ? b->n : 0;
}

/* Make a batch durable, then drop its claim files (see pickup.h). */
int
pickup_batch_commit(const struct pickup_dirs *d, const struct pickup_batch *b,
    char *err, size_t errlen)
{
	size_t i;

	if (b == NULL || b->n == 0)
		return 0;
	/* on failure the claims stay in tmp/ for pickup_recover() */
	if (sync_batch(d, b->c, b->n, err, errlen) < 0)
		return -1;
	for (i = 0; i < b->n; i++)
		if (pickup_drop_claim(d, b->c[i].src, b->c[i].id, false, err, errlen) < 0)
			return -1;
	/* the claims are in tmp/, which the queue's syncs do not cover */
	return fsutil_fsync_dirfd(d->tmp, "tmp", err, errlen);
}

/* Move the claims of from into into; from is freed. */
void
pickup_batch_merge(struct pickup_batch *into, struct pickup_batch *from)
{
	if (from == NULL)
		return;
	if (from->n > 0) {
		into->c = xrealloc(into->c, (into->n + from->n) * sizeof(*into->c));
		memcpy(into->c + into->n, from->c, from->n * sizeof(*from->c));
		into->n += from->n;
		into->cap = into->n;
	}
	pickup_batch_free(from);
}

/* Free a batch. */
void
pickup_batch_free(struct pickup_batch *b)
{
	if (b == NULL)
		return;
	free(b->c);
	free(b);
}

/* Commit a batch, then empty it for the next claims (see pickup.h). */
int
pickup_commit(const struct pickup_dirs *d, struct pickup_batch *b, char *err, size_t errlen)
{
	int rc = pickup_batch_commit(d, b, err, errlen);

	b->n = 0;
	return rc;
}
