/*
 * pickup_release: the end of a delivered message's files.
 *
 * A finished message's .env and .msg inodes are renamed to tmp/spare.<n>
 * and tmp/mspare.<n> (the pools, struct pickup_spares, are
 * pickup_recover.c's; the daemon owns them) and later copies
 * are written over them, so that a copy costs no inode (nor, for a .msg
 * of a like size, any block) allocation.  They join the pools only after
 * queue/ is fsynced: a spare written over before its rename out of
 * queue/ is durable could, after a crash, be queue/<id>.* again holding
 * another message's bytes.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fsutil.h"
#include "id.h"
#include "pickup.h"
#include "pickup_int.h"
#include "queue.h"
#include "util.h"

/*
 * Spares renamed out of queue/ by a release group, not in a pool yet: a
 * spare is written over only once its rename is durable, or a crash could
 * bring back queue/<id>.* holding another message's bytes.
 */
struct held_spares {
	struct {
		enum pickup_spare_kind kind;
		unsigned n;
		uint64_t size;
	} *s;
	size_t n, cap;
};

/* Note spare n of kind (size bytes) as held until the group is durable. */
static void
held_add(struct held_spares *h, enum pickup_spare_kind kind, unsigned n, uint64_t size)
{
	if (h->n == h->cap) {
		h->cap = h->cap ? h->cap * 2 : 64;
		h->s = xrealloc(h->s, h->cap * sizeof(*h->s));
	}
	h->s[h->n].kind = kind;
	h->s[h->n].n = n;
	h->s[h->n++].size = size;
}

/* Rename queue/<name> (size bytes) to a new spare of kind when the pool
 * has room: 1 (held), 0 no room or not there (errno), -1 rename error. */
static int
release_to_spare(const struct pickup_ctx *c, enum pickup_spare_kind kind, const char *name,
    uint64_t size, struct held_spares *h)
{
	char sname[32];
	unsigned n;

	if (pickup_spare_take(c->spares, kind, &n, true, size) != 0)
		return 0;
	pickup_spare_name(kind, sname, sizeof(sname), n);
	if (renameat(c->dirs->queue, name, c->dirs->tmp, sname) < 0)
		return errno == ENOENT ? 0 : -1;
	held_add(h, kind, n, size);
	return 1;
}

/* Remove one finished message (.env first, then .msg), keeping its inodes
 * as spares (held) where the pools have room; 0, or -1 with err (ENOENT:
 * errno preserved, as queue_entry_remove()). */
static int
release_one(const struct pickup_ctx *c, const char *id, struct held_spares *h, char *err,
    size_t errlen)
{
	const struct pickup_dirs *d = c->dirs;
	char name[ID_LEN + 8];
	struct stat st;
	int rc;

	if (!id_valid(id)) {
		snprintf(err, errlen, "bad queue id \"%.40s\"", id);
		errno = EINVAL;
		return -1;
	}
	snprintf(name, sizeof(name), "%s.env", id);
	if ((rc = release_to_spare(c, PICKUP_SPARE_ENV, name, 0, h)) == 0)
		return queue_entry_remove(d->queue, id, err, errlen);
	if (rc < 0) {
		snprintf(err, errlen, "queue/%s -> tmp: rename: %s", name, strerror(errno));
		return -1;
	}
	snprintf(name, sizeof(name), "%s.msg", id);
	if (fstatat(d->queue, name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode) &&
	    (rc = release_to_spare(c, PICKUP_SPARE_MSG, name, (uint64_t)st.st_size, h)) != 0) {
		if (rc > 0)
			return 0;
		snprintf(err, errlen, "queue/%s -> tmp: rename: %s", name, strerror(errno));
		return -1;
	}
	if (unlinkat(d->queue, name, 0) == 0 || errno == ENOENT)
		return 0;
	snprintf(err, errlen, "queue/%s: unlink: %s", name, strerror(errno));
	return -1;
}

/* Remove finished messages as one group (see pickup.h). */
int
pickup_release_group(const struct pickup_ctx *c, const char (*ids)[ID_LEN + 1], size_t n,
    char (*errs)[PICKUP_ERR_MAX], char *err, size_t errlen)
{
	struct held_spares h = { NULL, 0, 0 };
	size_t i;
	int rc = 0;

	for (i = 0; i < n; i++)
		if (release_one(c, ids[i], &h, errs[i], PICKUP_ERR_MAX) == 0 || errno == ENOENT)
			errs[i][0] = '\0';	/* gone already: nothing to do */
	/* the spares' renames are durable with queue/: only then written over */
	if (fsutil_fsync_dirfd(c->dirs->queue, "queue", err, errlen) < 0)
		rc = -1;	/* then left in tmp/ unused: pooled at the next start */
	for (i = 0; rc == 0 && i < h.n; i++)
		pickup_spare_push(c->spares, h.s[i].kind, h.s[i].n, h.s[i].size);
	free(h.s);
	return rc;
}

/* Remove one finished message (see pickup.h). */
int
pickup_release(const struct pickup_ctx *c, const char *id, char *err, size_t errlen)
{
	char ids[1][ID_LEN + 1], errs[1][PICKUP_ERR_MAX];

	util_strlcpy(ids[0], id, sizeof(ids[0]));
	if (pickup_release_group(c, (const char (*)[ID_LEN + 1])ids, 1, errs, err, errlen) < 0)
		return -1;
	if (errs[0][0] == '\0')
		return 0;
	util_strlcpy(err, errs[0], errlen);
	return -1;
}
