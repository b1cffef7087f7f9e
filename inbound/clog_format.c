/*
 * clog_format: encoding and decoding of the commit log's records, segments
 * and checkpoint slots (see clog_format.h).  Little-endian fields, CRC32
 * from zlib.  Pure: no I/O, no clock.
 */
#include <string.h>
#include <zlib.h>

#include "clog_format.h"

/* Store v little-endian in n bytes at p. */
static void
put_le(char *p, uint64_t v, int n)
{
	for (int i = 0; i < n; i++)
		p[i] = (char)(v >> (8 * i));
}

/* Read n little-endian bytes at p. */
static uint64_t
get_le(const char *p, int n)
{
	uint64_t v = 0;

	for (int i = n - 1; i >= 0; i--)
		v = v << 8 | (unsigned char)p[i];
	return v;
}

/* CRC32 of buf continuing from crc; zlib takes at most UINT_MAX a call. */
uint32_t
clog_crc(uint32_t crc, const void *buf, size_t len)
{
	const unsigned char *p = buf;

	while (len > 0) {
		uInt n = len > (1u << 30) ? (1u << 30) : (uInt)len;

		crc = (uint32_t)crc32(crc, p, n);
		p += n;
		len -= n;
	}
	return crc;
}

/* The CRC32 of a then b, from their CRCs a and b (blen: b's length). */
uint32_t
clog_crc_join(uint32_t a, uint32_t b, size_t blen)
{
	return (uint32_t)crc32_combine(a, b, (z_off_t)blen);
}

/* CRC32 of the pieces iov[0..n). */
uint32_t
clog_crc_iov(const struct iovec *iov, int n)
{
	uint32_t crc = 0;

	for (int i = 0; i < n; i++)
		crc = clog_crc(crc, iov[i].iov_base, iov[i].iov_len);
	return crc;
}

/* Header, mailbox and name. */
size_t
clog_head_size(const struct clog_rec *r)
{
	return CLOG_HDR + r->mailbox_len + r->name_len;
}

/* The whole record. */
size_t
clog_rec_size(const struct clog_rec *r)
{
	return clog_head_size(r) + (r->kind == CLOG_INLINE ? (size_t)r->msg_len : 0);
}

/* Encode the head of r; the record CRC runs over the message too, joined
 * from r->msg_crc rather than read again. */
void
clog_encode_head(char *out, const struct clog_rec *r)
{
	size_t head = clog_head_size(r);
	uint32_t crc;

	put_le(out, CLOG_MAGIC, 4);
	put_le(out + 8, clog_rec_size(r), 4);
	put_le(out + 12, r->kind, 2);
	put_le(out + 14, r->mailbox_len, 2);
	put_le(out + 16, r->seq, 8);
	put_le(out + 24, r->name_len, 4);
	put_le(out + 28, r->msg_crc, 4);
	put_le(out + 32, r->msg_len, 8);
	memcpy(out + CLOG_HDR, r->mailbox, r->mailbox_len);
	memcpy(out + CLOG_HDR + r->mailbox_len, r->name, r->name_len);
	crc = clog_crc(0, out + 8, head - 8);
	if (r->kind == CLOG_INLINE)
		crc = clog_crc_join(crc, r->msg_crc, (size_t)r->msg_len);
	put_le(out + 4, crc, 4);
}

/* A name is 1..CLOG_NAME_MAX bytes without '/' or NUL. */
static bool
name_ok(const char *p, size_t n)
{
	return n > 0 && n <= CLOG_NAME_MAX && memchr(p, '/', n) == NULL &&
	    memchr(p, '\0', n) == NULL && !(n <= 2 && p[0] == '.' && p[n - 1] == '.');
}

/* Check the fixed header's fields; the record's size or 0 when invalid. */
static size_t
head_check(const char *buf, struct clog_rec *r)
{
	uint64_t size;

	if (get_le(buf, 4) != CLOG_MAGIC)
		return 0;
	size = get_le(buf + 8, 4);
	r->kind = (enum clog_kind)get_le(buf + 12, 2);
	r->mailbox_len = get_le(buf + 14, 2);
	r->seq = get_le(buf + 16, 8);
	r->name_len = get_le(buf + 24, 4);
	r->msg_crc = (uint32_t)get_le(buf + 28, 4);
	r->msg_len = get_le(buf + 32, 8);
	if ((r->kind != CLOG_INLINE && r->kind != CLOG_REF) || r->mailbox_len > CLOG_NAME_MAX ||
	    r->name_len > CLOG_NAME_MAX || r->msg_len > UINT32_MAX)
		return 0;
	if (size != clog_rec_size(r))
		return 0;
	return (size_t)size;
}

/* Decode one record (see the header). */
int
clog_decode(const char *buf, size_t len, struct clog_rec *r)
{
	size_t size;
	uint32_t crc;

	if (len < 4)
		return get_le(buf, len) == (CLOG_MAGIC & ((1ull << (8 * len)) - 1)) ? 0 : -1;
	if (get_le(buf, 4) != CLOG_MAGIC)
		return -1;
	if (len < CLOG_HDR)
		return 0;
	if ((size = head_check(buf, r)) == 0)
		return -1;
	if (len < size)
		return 0;
	crc = clog_crc(0, buf + 8, size - 8);
	if (crc != (uint32_t)get_le(buf + 4, 4))
		return -1;
	r->mailbox = buf + CLOG_HDR;
	r->name = r->mailbox + r->mailbox_len;
	r->msg = r->kind == CLOG_INLINE ? r->name + r->name_len : NULL;
	if (!name_ok(r->mailbox, r->mailbox_len) || !name_ok(r->name, r->name_len))
		return -1;
	if (r->kind == CLOG_INLINE && clog_crc(0, r->msg, (size_t)r->msg_len) != r->msg_crc)
		return -1;
	r->size = size;
	return 1;
}

/* Walk the valid records of a segment. */
size_t
clog_scan(const char *seg, size_t len, clog_rec_fn fn, void *arg, size_t *count)
{
	size_t off = 0, n = 0;
	struct clog_rec r;
	uint64_t prev = 0;

	while (off < len && clog_decode(seg + off, len - off, &r) == 1) {
		if (n > 0 && r.seq != prev + 1)
			break;
		if (fn != NULL && fn(arg, &r, off) != 0)
			break;
		prev = r.seq;
		off += r.size;
		n++;
	}
	if (count != NULL)
		*count = n;
	return off;
}

/* Slot layout: magic 4, crc 4 (of bytes 8..SLOT), counter 8, nworkers 4,
 * 4 spare, then CLOG_MAX_WORKERS sequence numbers of 8 bytes. */
void
clog_ckpt_encode(char *out, const struct clog_ckpt *c)
{
	memset(out, 0, CLOG_CKPT_SLOT);
	put_le(out, CLOG_CKPT_MAGIC, 4);
	put_le(out + 8, c->counter, 8);
	put_le(out + 16, c->nworkers, 4);
	for (unsigned i = 0; i < CLOG_MAX_WORKERS; i++)
		put_le(out + 24 + 8 * i, i < c->nworkers ? c->seq[i] : 0, 8);
	put_le(out + 4, clog_crc(0, out + 8, CLOG_CKPT_SLOT - 8), 4);
}

/* Decode one checkpoint slot. */
int
clog_ckpt_decode(const char *in, struct clog_ckpt *c)
{
	memset(c, 0, sizeof(*c));
	if (get_le(in, 4) != CLOG_CKPT_MAGIC ||
	    get_le(in + 4, 4) != clog_crc(0, in + 8, CLOG_CKPT_SLOT - 8))
		return -1;
	c->counter = get_le(in + 8, 8);
	c->nworkers = (unsigned)get_le(in + 16, 4);
	if (c->nworkers > CLOG_MAX_WORKERS) {
		memset(c, 0, sizeof(*c));
		return -1;
	}
	for (unsigned i = 0; i < c->nworkers; i++)
		c->seq[i] = get_le(in + 24 + 8 * i, 8);
	return 0;
}

/* The newer valid slot of two. */
int
clog_ckpt_pick(const char *buf, struct clog_ckpt *c)
{
	struct clog_ckpt a, b;
	int va = clog_ckpt_decode(buf, &a) == 0, vb = clog_ckpt_decode(buf + CLOG_CKPT_SLOT, &b) == 0;

	if (va && (!vb || a.counter >= b.counter)) {
		*c = a;
		return 0;
	}
	if (vb) {
		*c = b;
		return 1;
	}
	memset(c, 0, sizeof(*c));
	return -1;
}

/* The recovery rule of inbound/README.md. */
enum clog_action
clog_decide(bool found, uint64_t found_len, bool same, uint64_t rec_len)
{
	if (!found)
		return CLOG_PUBLISH;
	if (found_len == rec_len && same)
		return CLOG_KEEP;
	return CLOG_REPLACE;
}
