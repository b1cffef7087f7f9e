/*
 * spill: a message body streamed to a file of its own in the spool's
 * tmp/ (see spill.h).  Made and written on the event loop: plain write(2)
 * into the page cache, no fsync; read back by a delivery worker
 * (spill_copy_lf).  Must not know about SMTP, sessions or sockets.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "clog_format.h"
#include "fsutil.h"
#include "log.h"
#include "mailfile.h"
#include "spill.h"
#include "util.h"

struct spill {
	int tmpfd;		/* the spool's tmp/ (not ours) */
	int fd;
	char name[SPILL_NAME_MAX];
	uint64_t len;
	int err;
};

/* Make tmp/spill-<tag>-<seq> exclusively, mode 0600. */
struct spill *
spill_open(int tmpfd, const char *tag, unsigned seq, char *err, size_t errlen)
{
	struct spill *sp = xcalloc(1, sizeof(*sp));

	sp->tmpfd = tmpfd;
	snprintf(sp->name, sizeof(sp->name), SPILL_PREFIX "%.40s-%u", tag, seq);
	sp->fd = openat(tmpfd, sp->name, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW |
	    O_CLOEXEC, 0600);
	if (sp->fd == -1) {
		int e = errno;

		snprintf(err, errlen, "tmp/%s: open: %s", sp->name, strerror(e));
		free(sp);
		errno = e;
		return NULL;
	}
	return sp;
}

/* Append n bytes; keep the first error and drop what follows it. */
void
spill_write(struct spill *sp, const char *p, size_t n)
{
	while (n > 0 && sp->err == 0) {
		ssize_t w = write(sp->fd, p, n);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			sp->err = errno;
			log_warn("spill: tmp/%s: write", sp->name);
			return;
		}
		p += w;
		n -= (size_t)w;
		sp->len += (uint64_t)w;
	}
}

/* The first write error, or 0. */
int
spill_error(const struct spill *sp)
{
	return sp->err;
}

/* Bytes written. */
uint64_t
spill_length(const struct spill *sp)
{
	return sp->len;
}

/* Close and unlink the file; free sp. */
void
spill_discard(struct spill *sp)
{
	if (sp == NULL)
		return;
	close(sp->fd);
	if (unlinkat(sp->tmpfd, sp->name, 0) == -1 && errno != ENOENT)
		log_warn("spill: unlink tmp/%s", sp->name);
	free(sp);
}

/* Give the descriptor and name to the next owner; free sp. */
void
spill_release(struct spill *sp, int *fd, char *name)
{
	*fd = sp->fd;
	util_strlcpy(name, sp->name, SPILL_NAME_MAX);
	free(sp);
}

/* A name spill_open makes? */
bool
spill_is_name(const char *name)
{
	return strncmp(name, SPILL_PREFIX, sizeof(SPILL_PREFIX) - 1) == 0;
}


/* Read the spilled body in pieces, CRLF -> LF, into outfd (see spill.h). */
int
spill_copy_lf(int fd, int outfd, char *buf, size_t *lenp, uint32_t *crcp)
{
	struct mailfile_lf st = { 0 };
	char *out = buf + SPILL_PIECE;
	off_t off = 0;

	*lenp = 0;
	for (;;) {
		ssize_t n = pread(fd, buf, SPILL_PIECE, off);
		size_t m;

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		off += n;
		m = mailfile_to_lf_piece(&st, buf, (size_t)n, out, n == 0);
		*lenp += m;
		if (crcp != NULL)
			*crcp = clog_crc(*crcp, out, m);
		if (outfd >= 0 && m > 0 && fsutil_write_all(outfd, out, m) < 0)
			return -1;
		if (n == 0)
			return 0;
	}
}
