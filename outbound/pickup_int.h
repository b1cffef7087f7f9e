/*
 * pickup_int: what the pickup files (pickup.c: taking and committing,
 * pickup_recover.c: crash recovery and the spare inodes, pickup_release.c,
 * pickup_origin.c) share.  Not for
 * any other module: pickup.h is the interface.
 */
#ifndef SMTPGATE_PICKUP_INT_H
#define SMTPGATE_PICKUP_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/uio.h>

#include "id.h"
#include "pickup.h"

#define PICKUP_CLAIM_PREFIX	"claim."	/* tmp/claim.<id>: from pickup/ */
#define PICKUP_DROP_PREFIX	"drop."		/* tmp/drop.<id>: from maildrop/ */
#define PICKUP_SPARE_PREFIX	"spare."	/* tmp/spare.<n>: a spare .env inode */
#define PICKUP_MSPARE_PREFIX	"mspare."	/* tmp/mspare.<n>: a spare .msg inode */
#define PICKUP_CNAME_MAX	32

/* A claim: tmp/claim.<id> or tmp/drop.<id>. */
struct pickup_claim_ref {
	char id[ID_LEN + 1];
	enum pickup_source src;
};

/* The claim file name of id for src ("claim.<id>" or "drop.<id>"). */
void pickup_claim_name(char *buf, size_t sz, enum pickup_source src, const char *id);

/* One claim to queue: tmp/<claim of ref>, where it came from. */
struct pickup_claiming {
	struct pickup_claim_ref ref;
	const char *origname;		/* its name in bad/ when it is bad */
	const char *back;		/* on an I/O error it goes back to
					   <source>/<back>; NULL: it stays in
					   tmp/ for recovery */
	const struct stat *expect;	/* the inode seen before the claim, or NULL */
};

/*
 * Queue a claim in c's mode (pickup.h): read, parse, copy into queue/.  A
 * bad one goes to bad/ (named after cl->origname).
 */
enum pickup_outcome pickup_process(const struct pickup_ctx *c,
    const struct pickup_claiming *cl, struct pickup_taken *t);

/*
 * Read and parse the claim ref (its inode was expect when not NULL), and
 * apply the policy of c (pickup_originate): 0 parsed (*m), 1 not
 * acceptable (t->reason), -1 I/O error (t->err).
 */
int pickup_load_claim(const struct pickup_ctx *c, const struct pickup_claim_ref *ref,
    const struct stat *expect, struct pickup_msg *m, struct pickup_taken *t);

/*
 * pickup_origin.c: apply the daemon's decisions to a message just parsed
 * from src (the admin map and sender rewriting of the policy in force in
 * pp, none when NULL; body lines over 998 characters re-encoded or every
 * recipient failed with the reason), with one log line per change.
 */
void pickup_originate(struct pickup_policies *pp, enum pickup_source src, const char *id,
    struct pickup_msg *m);

/* Unlink the claim of src, id; with fsync_tmp, make that durable. */
int pickup_drop_claim(const struct pickup_dirs *d, enum pickup_source src,
    const char *id, bool fsync_tmp, char *err, size_t errlen);

/* Spare inodes (pickup_recover.c), one pool for .env files, one for .msg. */
enum pickup_spare_kind {
	PICKUP_SPARE_ENV,
	PICKUP_SPARE_MSG,
};

/* true when a file of size bytes may be kept as a spare of kind. */
bool pickup_spare_fits(enum pickup_spare_kind kind, uint64_t size);
/* Add number n (a file of size bytes) to pool kind of sp. */
void pickup_spare_push(struct pickup_spares *sp, enum pickup_spare_kind kind, unsigned n,
    uint64_t size);
/* Take a spare (1), or reserve a new number for a file of size bytes when
 * the pool may grow (0), or neither (-1). */
int pickup_spare_take(struct pickup_spares *sp, enum pickup_spare_kind kind, unsigned *n,
    bool want_new, uint64_t size);
void pickup_spare_name(enum pickup_spare_kind kind, char *buf, size_t sz, unsigned n);
/* Write data over spare n: exactly its bytes (0), or -1 (the spare is removed). */
int pickup_spare_write(const struct pickup_dirs *d, enum pickup_spare_kind kind, unsigned n,
    const struct iovec *data, char *err, size_t errlen);

#endif
