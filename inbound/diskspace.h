/*
 * diskspace: the spool's free-space reserve (spool_min_free, issue 19).
 * New mail is refused with 452 4.3.1 at MAIL and RCPT once the spool's
 * file system has less free than the reserve (plus the SIZE= a client
 * declared), before the disk is full.  statvfs is asked at most once per
 * DISKSPACE_CACHE_MS, whatever the number of commands.
 *
 * Must not know SMTP or sessions; the decision itself is pure
 * (diskspace_short) and unit-tested.
 */
#ifndef SMTPGATE_DISKSPACE_H
#define SMTPGATE_DISKSPACE_H

#include <stdbool.h>
#include <stdint.h>

#define DISKSPACE_CACHE_MS 1000

struct diskspace;

/* Watch the file system of directory descriptor fd (not owned). */
struct diskspace *diskspace_new(int fd);
void diskspace_free(struct diskspace *d);

/*
 * Pure: would size more bytes leave less than the reserve?  avail and
 * total in bytes (statvfs f_bavail and f_blocks times f_frsize);
 * min_free bytes, or a percentage of total when percent.
 */
bool diskspace_short(uint64_t avail, uint64_t total, uint64_t min_free, bool percent,
    uint64_t size);

/*
 * Loop thread: diskspace_short for the watched file system, statvfs'd
 * again when the last answer is older than DISKSPACE_CACHE_MS (now_ms:
 * util_monotonic_ms).  A failing statvfs is logged once and reads as
 * enough space (delivery still answers 452 on ENOSPC).
 */
bool diskspace_low(struct diskspace *d, uint64_t min_free, bool percent, uint64_t size,
    uint64_t now_ms);

#endif
