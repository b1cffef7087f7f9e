/*
 * queue: the outbound queue on disk -- queue/<id>.msg (the message, written
 * once) and queue/<id>.env (its state as key=value text, replaced whole).
 *
 * The .env text itself (format, parse) is queue_env.c, pure.
 *
 * This module knows nothing about SMTP, scheduling or the daemon: it only
 * reads and writes the files and applies retry/delete requests.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include "fsutil.h"
#include "id.h"
#include "queue.h"
#include "util.h"

/* Write "<id>.<ext>" into name. */
static void
id_name(char *name, size_t sz, const char *id, const char *ext)
{
	snprintf(name, sz, "%s.%s", id, ext);
}

/* Read a whole regular file dirfd/name (<= max bytes); errno preserved. */
static char *
read_whole(int dirfd, const char *name, size_t max, size_t *lenp, char *err, size_t errlen)
{
	struct stat st;
	char *buf;
	int fd, saved;

	if ((fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) < 0) {
		saved = errno;
		snprintf(err, errlen, "%s: open: %s", name, strerror(errno));
		errno = saved;
		return NULL;
	}
	if (fstat(fd, &st) < 0) {
		saved = errno;
		snprintf(err, errlen, "%s: fstat: %s", name, strerror(errno));
		close(fd);
		errno = saved;
		return NULL;
	}
	if (!S_ISREG(st.st_mode) || (uint64_t)st.st_size > max) {
		snprintf(err, errlen, "%s: %s", name,
		    S_ISREG(st.st_mode) ? "file too large" : "not a regular file");
		close(fd);
		errno = S_ISREG(st.st_mode) ? EFBIG : EINVAL;
		return NULL;
	}
	if ((buf = fsutil_read_fd(fd, (size_t)st.st_size, max, lenp)) == NULL) {
		saved = errno;
		snprintf(err, errlen, "%s: read: %s", name, strerror(errno));
		close(fd);
		errno = saved;
		return NULL;
	}
	close(fd);
	return buf;
}

/* Read queue/<id>.env; 0, or -1 with err (ENOENT: errno preserved). */
int
queue_entry_load(int queuedirfd, const char *id, struct queue_entry *e,
    char *err, size_t errlen)
{
	char name[ID_LEN + 8], perrbuf[200];
	size_t len;
	char *buf;
	int rc;

	memset(e, 0, sizeof(*e));
	if (!id_valid(id)) {
		snprintf(err, errlen, "bad queue id \"%.40s\"", id);
		errno = EINVAL;
		return -1;
	}
	id_name(name, sizeof(name), id, "env");
	if ((buf = read_whole(queuedirfd, name, QUEUE_ENV_MAX, &len, err, errlen)) == NULL)
		return -1;
	rc = queue_env_parse(buf, len, e, perrbuf, sizeof(perrbuf));
	free(buf);
	if (rc < 0) {
		snprintf(err, errlen, "%s: %s", name, perrbuf);
		errno = EINVAL;
		return -1;
	}
	if (strcmp(e->id, id) != 0) {
		snprintf(err, errlen, "%s: holds id %s", name, e->id);
		queue_entry_free(e);
		errno = EINVAL;
		return -1;
	}
	return 0;
}

/* Replace queue/<id>.env atomically (via tmpdirfd); fsync when sync. */
int
queue_entry_store(int tmpdirfd, int queuedirfd, const struct queue_entry *e,
    bool sync, char *err, size_t errlen)
{
	char name[ID_LEN + 8];
	size_t len;
	char *text;
	int rc;

	if (!id_valid(e->id)) {
		snprintf(err, errlen, "bad queue id \"%.40s\"", e->id);
		return -1;
	}
	id_name(name, sizeof(name), e->id, "env");
	text = queue_env_format(e, &len);
	rc = fsutil_write_atomic(&(struct fsutil_atomic){ tmpdirfd, queuedirfd, sync }, name,
	    text, len, err, errlen);
	free(text);
	return rc;
}

/* Remove a message: .env first, then .msg. */
int
queue_entry_remove(int queuedirfd, const char *id, char *err, size_t errlen)
{
	char name[ID_LEN + 8];
	int rc = 0, saved;

	if (!id_valid(id)) {
		snprintf(err, errlen, "bad queue id \"%.40s\"", id);
		errno = EINVAL;
		return -1;
	}
	id_name(name, sizeof(name), id, "env");
	if (unlinkat(queuedirfd, name, 0) < 0) {
		saved = errno;
		snprintf(err, errlen, "queue/%s: unlink: %s", name, strerror(errno));
		if (saved != ENOENT) {
			errno = saved;
			return -1;
		}
		rc = -1;
	}
	id_name(name, sizeof(name), id, "msg");
	if (unlinkat(queuedirfd, name, 0) < 0 && errno != ENOENT) {
		saved = errno;
		snprintf(err, errlen, "queue/%s: unlink: %s", name, strerror(errno));
		errno = saved;
		return -1;
	}
	if (rc < 0)
		errno = ENOENT;
	return rc;
}

/* Write e's .env as a new file (tmp/ then rename, never replacing). */
static int
create_env(int tmpdirfd, int queuedirfd, const struct queue_entry *e, bool sync,
    char *err, size_t errlen)
{
	char name[ID_LEN + 8], tname[ID_LEN + 16];
	struct iovec iov;
	size_t len;
	char *text;
	int rc;

	id_name(name, sizeof(name), e->id, "env");
	snprintf(tname, sizeof(tname), "env.%s", e->id);
	text = queue_env_format(e, &len);
	iov.iov_base = text;
	iov.iov_len = len;
	(void)unlinkat(tmpdirfd, tname, 0);
	rc = fsutil_write_new(tmpdirfd, tname, &(struct fsutil_new){ &iov, 1, sync, NULL },
	    err, errlen);
	free(text);
	if (rc < 0)
		return -1;
	if (renameat(tmpdirfd, tname, queuedirfd, name) < 0) {
		snprintf(err, errlen, "tmp/%s -> queue/%s: rename: %s", tname, name,
		    strerror(errno));
		(void)unlinkat(tmpdirfd, tname, 0);
		return -1;
	}
	return 0;
}

/* Queue a new message under the given id (see queue.h). */
int
queue_entry_create_id(int tmpdirfd, int queuedirfd, const struct queue_new *n,
    struct queue_entry *e, char *err, size_t errlen)
{
	char name[ID_LEN + 8];
	struct iovec iov;
	int saved;

	if (!id_valid(n->id) || n->nrcpts == 0) {
		snprintf(err, errlen, "queue: %s", n->nrcpts ? "bad id" : "no recipients");
		memset(e, 0, sizeof(*e));
		return -1;
	}
	queue_entry_init(e, n);
	id_name(name, sizeof(name), n->id, "msg");
	iov.iov_base = (void *)n->msg;
	iov.iov_len = n->msglen;
	if (fsutil_write_new(queuedirfd, name, &(struct fsutil_new){ &iov, 1, n->sync, NULL },
	    err, errlen) < 0)
		goto fail;
	/* the .msg must be durable in queue/ before the .env makes it live */
	if (n->sync && fsutil_fsync_dirfd(queuedirfd, "queue", err, errlen) < 0)
		goto fail_msg;
	if (create_env(tmpdirfd, queuedirfd, e, n->sync, err, errlen) < 0)
		goto fail_msg;
	if (n->sync && fsutil_fsync_dirfd(queuedirfd, "queue", err, errlen) < 0) {
		saved = errno;
		(void)queue_entry_remove(queuedirfd, n->id, NULL, 0);
		errno = saved;
		goto fail;
	}
	return 0;
fail_msg:
	saved = errno;
	(void)unlinkat(queuedirfd, name, 0);
	errno = saved;
fail:
	saved = errno;
	queue_entry_free(e);
	errno = saved;
	return -1;
}

/* Queue a new message under a fresh id (see queue.h). */
int
queue_entry_create(int tmpdirfd, int queuedirfd, const struct queue_new *n,
    struct queue_entry *e, char *err, size_t errlen)
{
	char id[ID_LEN + 1];
	struct queue_new fresh = *n;
	int tries;

	fresh.id = id;
	for (tries = 0; tries < 5; tries++) {
		id_generate(id);
		errno = 0;
		if (queue_entry_create_id(tmpdirfd, queuedirfd, &fresh, e, err, errlen) == 0)
			return 0;
		if (errno != EEXIST)
			return -1;
	}
	return -1;
}

#define PUT_PREFIX	"put."

/* 1 when name is "put.<id>.msg" or "put.<id>.env". */
int
queue_put_is_temp(const char *name)
{
	size_t k = strlen(PUT_PREFIX);
	char id[ID_LEN + 1];

	if (strncmp(name, PUT_PREFIX, k) != 0 || strlen(name) != k + ID_LEN + 4 ||
	    (strcmp(name + k + ID_LEN, ".msg") != 0 && strcmp(name + k + ID_LEN, ".env") != 0))
		return 0;
	memcpy(id, name + k, ID_LEN);
	id[ID_LEN] = '\0';
	return id_valid(id);
}

/* tmp/ name of put p. */
static void
put_temp(char *buf, size_t sz, const struct queue_put *p)
{
	snprintf(buf, sz, PUT_PREFIX "%s", p->name);
}

/* Mark put p failed with reason (printf-style), removing its temp file. */
static void __attribute__((format(printf, 3, 4)))
put_fail(int tmpdirfd, struct queue_put *p, const char *fmt, ...)
{
	char tname[ID_LEN + 16];
	va_list ap;

	if (p->ok) {
		put_temp(tname, sizeof(tname), p);
		(void)unlinkat(tmpdirfd, tname, 0);
	}
	p->ok = false;
	va_start(ap, fmt);
	vsnprintf(p->err, sizeof(p->err), fmt, ap);
	va_end(ap);
}

/* The puts of one queue_put_group() call and the folders they go between. */
struct put_group {
	int tmpdirfd, queuedirfd;
	struct queue_put *v;
	size_t n;
};

/* Rename the written puts whose name ends in ext into queue/, then fsync
 * queue/ once; -1 (err) when that fsync fails. */
static int
put_publish(const struct put_group *g, const char *ext, char *err, size_t errlen)
{
	int tmpdirfd = g->tmpdirfd, queuedirfd = g->queuedirfd;
	struct queue_put *v = g->v;
	size_t n = g->n;
	char tname[ID_LEN + 16];
	size_t i, moved = 0;
	int rc;

	for (i = 0; i < n; i++) {
		size_t nl = strlen(v[i].name);

		if (nl < 4 || strcmp(v[i].name + nl - 4, ext) != 0 || !v[i].ok)
			continue;
		if (v[i].after_prev && (i == 0 || !v[i - 1].ok)) {
			put_fail(tmpdirfd, &v[i], "not stored: %.200s",
			    i == 0 ? "nothing before it" : v[i - 1].err);
			continue;
		}
		put_temp(tname, sizeof(tname), &v[i]);
		rc = v[i].replace ? renameat(tmpdirfd, tname, queuedirfd, v[i].name) :
		    renameat2(tmpdirfd, tname, queuedirfd, v[i].name, RENAME_NOREPLACE);
		if (rc == -1) {
			put_fail(tmpdirfd, &v[i], "tmp/%s -> queue/%s: rename: %s", tname,
			    v[i].name, strerror(errno));
			continue;
		}
		moved++;
	}
	return moved > 0 ? fsutil_fsync_dirfd(queuedirfd, "queue", err, errlen) : 0;
}

/* Store a group of files with one sync (see queue.h). */
int
queue_put_group(int tmpdirfd, int queuedirfd, struct queue_put *v, size_t n,
    char *err, size_t errlen)
{
	const struct put_group g = { tmpdirfd, queuedirfd, v, n };
	char tname[ID_LEN + 16];
	struct iovec iov;
	size_t i, written = 0;

	for (i = 0; i < n; i++) {
		v[i].ok = false;
		v[i].err[0] = '\0';
		if (v[i].after_prev && (i == 0 || !v[i - 1].ok)) {
			snprintf(v[i].err, sizeof(v[i].err), "not stored: %.200s",
			    i == 0 ? "nothing before it" : v[i - 1].err);
			continue;
		}
		put_temp(tname, sizeof(tname), &v[i]);
		(void)unlinkat(tmpdirfd, tname, 0);	/* left by a crash */
		iov.iov_base = (void *)(uintptr_t)v[i].text;
		iov.iov_len = v[i].len;
		if (fsutil_write_new(tmpdirfd, tname, &(struct fsutil_new){ &iov, 1, false, NULL },
		    v[i].err, sizeof(v[i].err)) == 0) {
			v[i].ok = true;
			written++;
		}
	}
	if (written == 0)
		return 0;
	if (syncfs(tmpdirfd) == -1) {
		snprintf(err, errlen, "tmp: syncfs: %s", strerror(errno));
		goto fail;
	}
	if (put_publish(&g, ".msg", err, errlen) == -1 ||
	    put_publish(&g, ".env", err, errlen) == -1)
		goto fail;
	return 0;
fail:
	for (i = 0; i < n; i++)
		put_fail(tmpdirfd, &v[i], "%s", err);
	return -1;
}

/* 1 when name is "<id>.env". */
static int
is_env_name(const char *name)
{
	char id[ID_LEN + 1];

	if (strlen(name) != ID_LEN + 4 || strcmp(name + ID_LEN, ".env") != 0)
		return 0;
	memcpy(id, name, ID_LEN);
	id[ID_LEN] = '\0';
	return id_valid(id);
}

/* Collect every queued id into a malloc'd array of ID_LEN+1 slots. */
static int
collect_ids(int queuedirfd, char (**idsp)[ID_LEN + 1], size_t *np,
    char *err, size_t errlen)
{
	char (*ids)[ID_LEN + 1] = NULL;
	size_t n = 0, cap = 0;
	struct dirent *de;
	DIR *d;
	int fd;

	if ((fd = fsutil_open_dir(queuedirfd, "queue", ".", O_RDONLY, err, errlen)) < 0)
		return -1;
	if ((d = fdopendir(fd)) == NULL) {
		snprintf(err, errlen, "queue: opendir: %s", strerror(errno));
		close(fd);
		return -1;
	}
	while ((errno = 0, de = readdir(d)) != NULL) {
		if (!is_env_name(de->d_name))
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 64;
			ids = xrealloc(ids, cap * sizeof(*ids));
		}
		memcpy(ids[n], de->d_name, ID_LEN);
		ids[n++][ID_LEN] = '\0';
	}
	if (errno != 0) {
		snprintf(err, errlen, "queue: readdir: %s", strerror(errno));
		closedir(d);
		free(ids);
		return -1;
	}
	closedir(d);
	*idsp = ids;
	*np = n;
	return 0;
}

/* Call fn for every queued id; a non-zero return from fn stops and is returned. */
int
queue_foreach(int queuedirfd, int (*fn)(void *arg, const char *id),
    void *arg, char *err, size_t errlen)
{
	char (*ids)[ID_LEN + 1] = NULL;
	size_t i, n = 0;
	int rc = 0;

	if (collect_ids(queuedirfd, &ids, &n, err, errlen) < 0)
		return -1;
	for (i = 0; i < n && rc == 0; i++)
		rc = fn(arg, ids[i]);
	free(ids);
	return rc;
}

struct apply_ctx {
	int tmpfd, queuefd;
	char *err;
	size_t errlen;
};

/* Make one message due now. */
static int
apply_retry(int tmpfd, int queuefd, const char *id, char *err, size_t errlen)
{
	struct queue_entry e;
	int rc;

	if (queue_entry_load(queuefd, id, &e, err, errlen) < 0) {
		if (errno == ENOENT)
			snprintf(err, errlen, "%s: no such message", id);
		return -1;
	}
	e.next_attempt = 0;
	rc = queue_entry_store(tmpfd, queuefd, &e, true, err, errlen);
	queue_entry_free(&e);
	return rc;
}

#define RETRY_GROUP	256	/* entries rewritten per group store */

/* A queue_retry_ids() run: its folders, the group being filled, how many
 * entries failed so far and the first reason. */
struct retry_run {
	int tmpdirfd, queuedirfd;
	struct queue_put *v;
	size_t failed;
	char *err;
	size_t errlen;
};

/* Store the group of rewritten entries r->v[0..n) (texts freed); the
 * number that could not be stored, the first reason in r->err when none
 * had failed before. */
static size_t
retry_group_store(struct retry_run *r, size_t n)
{
	char gerr[256];
	size_t i, bad = 0;

	(void)queue_put_group(r->tmpdirfd, r->queuedirfd, r->v, n, gerr, sizeof(gerr));
	for (i = 0; i < n; i++) {
		if (!r->v[i].ok && r->failed + bad++ == 0)
			snprintf(r->err, r->errlen, "%s", r->v[i].err);
		free((char *)(uintptr_t)r->v[i].text);
	}
	r->failed += bad;
	return bad;
}

/* Make the given messages due now (see queue.h). */
int
queue_retry_ids(int tmpdirfd, int queuedirfd, const char (*ids)[ID_LEN + 1], size_t n,
    char *err, size_t errlen)
{
	struct retry_run r = { tmpdirfd, queuedirfd, xcalloc(RETRY_GROUP, sizeof(*r.v)),
	    0, err, errlen };
	struct queue_put *v = r.v;
	struct queue_entry e;
	char lerr[256];
	size_t i, k = 0;

	for (i = 0; i < n; i++) {
		if (queue_entry_load(queuedirfd, ids[i], &e, lerr, sizeof(lerr)) < 0) {
			if (errno != ENOENT && r.failed++ == 0)	/* gone meanwhile is fine */
				snprintf(err, errlen, "%s", lerr);
			continue;
		}
		e.next_attempt = 0;
		memset(&v[k], 0, sizeof(v[k]));
		id_name(v[k].name, sizeof(v[k].name), e.id, "env");
		v[k].text = queue_env_format(&e, &v[k].len);
		v[k].replace = true;
		queue_entry_free(&e);
		if (++k == RETRY_GROUP) {
			retry_group_store(&r, k);
			k = 0;
		}
	}
	if (k > 0)
		retry_group_store(&r, k);
	free(v);
	if (r.failed == 0)
		return 0;
	if (r.failed > 1) {
		size_t len = strlen(err);

		snprintf(err + len, errlen > len ? errlen - len : 0,
		    " (and %zu more not rewritten)", r.failed - 1);
	}
	return -1;
}

/* "retry all": every entry in queue/ (see queue_retry_ids). */
static int
apply_retry_all(struct apply_ctx *c)
{
	char (*ids)[ID_LEN + 1] = NULL;
	size_t n = 0;
	int rc;

	if (collect_ids(c->queuefd, &ids, &n, c->err, c->errlen) < 0)
		return -1;
	rc = queue_retry_ids(c->tmpfd, c->queuefd, (const char (*)[ID_LEN + 1])ids, n,
	    c->err, c->errlen);
	free(ids);
	return rc;
}

/* Check verb and target of a request. */
static int
check_request(const char *verb, const char *target, char *err, size_t errlen)
{
	bool retry = strcmp(verb, "retry") == 0;

	if (!retry && strcmp(verb, "delete") != 0) {
		snprintf(err, errlen, "unknown request \"%.32s\" (retry or delete)", verb);
		return -1;
	}
	if (retry && strcmp(target, "all") == 0)
		return 0;
	if (!id_valid(target)) {
		snprintf(err, errlen, "%s: bad queue id \"%.40s\"%s", verb, target,
		    retry ? "" : " (delete takes one id)");
		return -1;
	}
	return 0;
}

/* Apply retry/delete directly (see queue.h). */
int
queue_apply(int tmpdirfd, int queuedirfd, const char *verb,
    const char *target, char *err, size_t errlen)
{
	struct apply_ctx c = { tmpdirfd, queuedirfd, err, errlen };

	if (check_request(verb, target, err, errlen) < 0)
		return -1;
	if (strcmp(verb, "delete") == 0) {
		if (queue_entry_remove(queuedirfd, target, err, errlen) < 0) {
			if (errno == ENOENT)
				snprintf(err, errlen, "%s: no such message", target);
			return -1;
		}
		return 0;
	}
	if (strcmp(target, "all") == 0)
		return apply_retry_all(&c);
	return apply_retry(tmpdirfd, queuedirfd, target, err, errlen);
}

/* Post a request as control/<verb>.<target>.<unique> (tmp/ + rename). */
int
queue_control_post(int tmpdirfd, int controldirfd, const char *verb,
    const char *target, char *err, size_t errlen)
{
	char name[96], uniq[ID_LEN + 1], body[96];
	int n;

	if (check_request(verb, target, err, errlen) < 0)
		return -1;
	id_generate(uniq);
	snprintf(name, sizeof(name), "%s.%s.%s", verb, target, uniq);
	n = snprintf(body, sizeof(body), "%s %s\n", verb, target);
	return fsutil_write_atomic(&(struct fsutil_atomic){ tmpdirfd, controldirfd, true }, name,
	    body, (size_t)n, err, errlen);
}
