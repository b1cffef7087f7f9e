/*
 * clog_format: the commit log's on-disk format, apart from the disk
 * (pure; unit-tested and fuzzed).  A record holds one stored message file
 * (or a reference to one in tmp/): mailbox, Maildir file name, the bytes,
 * a sequence number and CRC32s; a segment is records packed from offset
 * 0; the checkpoint file holds two slots of per-worker sequence numbers.
 * inbound/README.md "The commit log" has the table of fields.
 *
 * Must not know about files, threads, SMTP or the clock.
 */
#ifndef SMTPGATE_CLOG_FORMAT_H
#define SMTPGATE_CLOG_FORMAT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#define CLOG_MAGIC 0x31474c53u
#define CLOG_HDR 40		/* bytes before the mailbox name */
#define CLOG_NAME_MAX 255	/* mailbox and file names */
#define CLOG_MAX_WORKERS 16
#define CLOG_CKPT_SLOT 512	/* bytes of one checkpoint slot */
#define CLOG_CKPT_MAGIC 0x4b43474cu

enum clog_kind {
	CLOG_INLINE = 1,	/* the message's bytes follow */
	CLOG_REF = 2,		/* the message is tmp/<name>, synced before */
};

/* One record, decoded (pointers into the buffer) or to encode. */
struct clog_rec {
	uint64_t seq;
	enum clog_kind kind;
	const char *mailbox;
	size_t mailbox_len;
	const char *name;
	size_t name_len;
	const char *msg;	/* decoded inline records: the message */
	uint64_t msg_len;
	uint32_t msg_crc;	/* CRC32 of the message bytes */
	size_t size;		/* decoded: bytes of the whole record */
};

/* CRC32 (zlib's polynomial) of buf, continuing from crc (0 to start). */
uint32_t clog_crc(uint32_t crc, const void *buf, size_t len);

/* The CRC32 of bytes A then bytes B, from crc(A), crc(B) and B's length. */
uint32_t clog_crc_join(uint32_t a, uint32_t b, size_t blen);

/* CRC32 of the concatenated pieces iov[0..n). */
uint32_t clog_crc_iov(const struct iovec *iov, int n);

/* Bytes of the header part of r (header, mailbox, name) and of the
 * whole record (an inline one also carries msg_len bytes). */
size_t clog_head_size(const struct clog_rec *r);
size_t clog_rec_size(const struct clog_rec *r);

/*
 * Encode the header part of record r into out (clog_head_size bytes).
 * An inline record's message bytes are written by the caller right after
 * the head; r->msg_crc must be set already (for a reference, the file's
 * CRC; for inline, the CRC of those bytes).  The record CRC covers
 * everything after itself, message included (joined from r->msg_crc).
 */
void clog_encode_head(char *out, const struct clog_rec *r);

/*
 * Decode the record at buf[0..len).  1: *r filled (r->size bytes used,
 * pointers into buf); 0: buf is a proper prefix of a record that could be
 * whole (needs more bytes); -1: not a record (bad magic, lengths, kind or
 * CRC).  Never reads past len.
 */
int clog_decode(const char *buf, size_t len, struct clog_rec *r);

/* Called for each record clog_scan finds; non-zero stops the scan. */
typedef int (*clog_rec_fn)(void *arg, const struct clog_rec *r, size_t offset);

/*
 * Walk a segment's bytes: records from offset 0 while they decode and each
 * sequence number is the one before + 1.  Returns the offset where the
 * valid records end (the next write position); *count gets how many.
 */
size_t clog_scan(const char *seg, size_t len, clog_rec_fn fn, void *arg, size_t *count);

/* A checkpoint: per worker, every record up to seq[w] is durable in its
 * Maildir; counter orders the slots. */
struct clog_ckpt {
	uint64_t counter;
	unsigned nworkers;
	uint64_t seq[CLOG_MAX_WORKERS];
};

/* Encode c into one slot (CLOG_CKPT_SLOT bytes, zero padded). */
void clog_ckpt_encode(char *out, const struct clog_ckpt *c);

/* Decode one slot; 0, or -1 when it is not a whole, valid slot. */
int clog_ckpt_decode(const char *in, struct clog_ckpt *c);

/* The newer valid one of the two slots at buf (2 * CLOG_CKPT_SLOT bytes);
 * its index (0 or 1), or -1 when neither is valid (*c zeroed). */
int clog_ckpt_pick(const char *buf, struct clog_ckpt *c);

/* What recovery does with one record. */
enum clog_action {
	CLOG_KEEP,	/* new/ or cur/ holds exactly its bytes */
	CLOG_PUBLISH,	/* no file of its name: publish into new/ */
	CLOG_REPLACE,	/* a file of its name, empty, short or different */
};

/*
 * The recovery decision for a record of rec_len bytes: found says whether
 * new/ or cur/ holds a file of its name, found_len its length, same
 * whether its bytes equal the record's (only meaningful when the lengths
 * are equal).
 */
enum clog_action clog_decide(bool found, uint64_t found_len, bool same, uint64_t rec_len);

#endif
