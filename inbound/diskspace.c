/*
 * diskspace: the spool's free-space reserve, statvfs cached (see
 * diskspace.h).  Loop thread only; no lock.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>

#include "diskspace.h"
#include "log.h"
#include "util.h"

struct diskspace {
	int fd;
	uint64_t avail, total;		/* bytes at the last statvfs */
	uint64_t when_ms;		/* its time; 0 never */
	bool failed;			/* statvfs failed: logged once */
};

/* Watch the file system of fd. */
struct diskspace *
diskspace_new(int fd)
{
	struct diskspace *d = xcalloc(1, sizeof(*d));

	d->fd = fd;
	return d;
}

/* Free the watcher (the descriptor is the caller's). */
void
diskspace_free(struct diskspace *d)
{
	free(d);
}

/* Would size more bytes leave less than the reserve? */
bool
diskspace_short(uint64_t avail, uint64_t total, uint64_t min_free, bool percent,
    uint64_t size)
{
	uint64_t reserve = percent ? total / 100 * min_free + total % 100 * min_free / 100 :
	    min_free;

	if (reserve == 0 && size == 0)
		return false;
	return avail < reserve || avail - reserve < size;
}

/* statvfs again when the last answer is old. */
static void
diskspace_refresh(struct diskspace *d, uint64_t now_ms)
{
	struct statvfs sv;

	if (d->when_ms != 0 && now_ms - d->when_ms < DISKSPACE_CACHE_MS)
		return;
	d->when_ms = now_ms != 0 ? now_ms : 1;
	if (fstatvfs(d->fd, &sv) != 0) {
		if (!d->failed)
			log_warn("spool: statvfs (for spool_min_free)");
		d->failed = true;
		d->avail = UINT64_MAX;
		d->total = 0;
		return;
	}
	d->failed = false;
	d->avail = (uint64_t)sv.f_bavail * sv.f_frsize;
	d->total = (uint64_t)sv.f_blocks * sv.f_frsize;
}

/* diskspace_short for the watched file system. */
bool
diskspace_low(struct diskspace *d, uint64_t min_free, bool percent, uint64_t size,
    uint64_t now_ms)
{
	diskspace_refresh(d, now_ms);
	if (d->failed)
		return false;
	return diskspace_short(d->avail, d->total, min_free, percent, size);
}
