/*
 * Unit tests for outbound/queue.c: the .env text format (round trip,
 * every parse error, truncation at every byte) and the spool operations
 * (create, load, store, remove, foreach, apply, control) on a temp spool.
 */
#include <check.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "check_main.h"
#include "queue.h"
#include "spooltest.h"

#define ID1 "0123456789abcdef"

/* A filled entry with awkward text in every field. */
static void
sample_entry(struct queue_entry *e)
{
	memset(e, 0, sizeof(*e));
	strcpy(e->id, ID1);
	e->sender = strdup("\"odd\\\\sender\"@example.com");
	e->created = 1700000000;
	e->next_attempt = 1700003600;
	e->size = 12345;
	e->attempts = 3;
	e->delay_warned = true;
	e->bounced = false;
	e->last_reply = strdup("451 4.3.0 line1\r\nline2\\ tab\t bell\x07 caf\xc3\xa9");
	e->nrcpts = 3;
	e->rcpts = calloc(3, sizeof(*e->rcpts));
	e->rcpts[0].addr = strdup("a@example.com");
	e->rcpts[0].state = QUEUE_RCPT_PENDING;
	e->rcpts[1].addr = strdup("b@example.org");
	e->rcpts[1].state = QUEUE_RCPT_DELIVERED;
	e->rcpts[1].reply = strdup("250 2.0.0 ok");
	e->rcpts[2].addr = strdup("c@example.net");
	e->rcpts[2].state = QUEUE_RCPT_FAILED;
	e->rcpts[2].reply = strdup("550 5.1.1 no such user");
}

/* Compare two entries field by field. */
static void
assert_same(const struct queue_entry *a, const struct queue_entry *b)
{
	size_t i;

	ck_assert_str_eq(a->id, b->id);
	ck_assert_str_eq(a->sender, b->sender);
	ck_assert(a->created == b->created);
	ck_assert(a->next_attempt == b->next_attempt);
	ck_assert(a->size == b->size);
	ck_assert_uint_eq(a->attempts, b->attempts);
	ck_assert_int_eq(a->delay_warned, b->delay_warned);
	ck_assert_int_eq(a->bounced, b->bounced);
	if (a->last_reply == NULL)
		ck_assert_ptr_null(b->last_reply);
	else
		ck_assert_str_eq(a->last_reply, b->last_reply);
	ck_assert_uint_eq(a->nrcpts, b->nrcpts);
	for (i = 0; i < a->nrcpts; i++) {
		ck_assert_str_eq(a->rcpts[i].addr, b->rcpts[i].addr);
		ck_assert_int_eq(a->rcpts[i].state, b->rcpts[i].state);
		if (a->rcpts[i].reply == NULL)
			ck_assert_ptr_null(b->rcpts[i].reply);
		else
			ck_assert_str_eq(a->rcpts[i].reply, b->rcpts[i].reply);
	}
}

START_TEST(env_round_trip)
{
	struct queue_entry a, b;
	char err[256];
	size_t len, len2;
	char *t1, *t2;

	sample_entry(&a);
	t1 = queue_env_format(&a, &len);
	ck_assert_uint_eq(strlen(t1), len);
	ck_assert_ptr_nonnull(strstr(t1, "version=1\nid=" ID1 "\n"));
	ck_assert_ptr_nonnull(strstr(t1, "\nrcpt=failed c@example.net\nrcpt_reply=550 5.1.1 no such user\n"));
	ck_assert_ptr_nonnull(strstr(t1, "\nlast_reply=451 4.3.0 line1\\r\\nline2\\\\ tab\\x09 bell\\x07 caf\xc3\xa9\n"));
	ck_assert_int_eq(queue_env_parse(t1, len, &b, err, sizeof(err)), 0);
	assert_same(&a, &b);
	t2 = queue_env_format(&b, &len2);
	ck_assert_uint_eq(len, len2);
	ck_assert_mem_eq(t1, t2, len);
	free(t1);
	free(t2);
	queue_entry_free(&a);
	queue_entry_free(&b);
}
END_TEST

START_TEST(env_null_sender_and_replies)
{
	struct queue_entry a, b;
	char err[256];
	size_t len;
	char *t;

	sample_entry(&a);
	free(a.sender);
	a.sender = strdup("");
	free(a.last_reply);
	a.last_reply = NULL;
	free(a.rcpts[2].reply);
	a.rcpts[2].reply = NULL;
	t = queue_env_format(&a, &len);
	ck_assert_ptr_nonnull(strstr(t, "\nsender=\n"));
	ck_assert_ptr_nonnull(strstr(t, "\nlast_reply=\n"));
	ck_assert_int_eq(queue_env_parse(t, len, &b, err, sizeof(err)), 0);
	assert_same(&a, &b);
	free(t);
	queue_entry_free(&a);
	queue_entry_free(&b);
}
END_TEST

/* Number of "rcpt=" lines in t[0..n). */
static size_t
count_rcpt_lines(const char *t, size_t n)
{
	size_t i, c = 0;

	for (i = 0; i + 5 <= n; i++)
		if ((i == 0 || t[i - 1] == '\n') && memcmp(t + i, "rcpt=", 5) == 0)
			c++;
	return c;
}

/* Every prefix of a valid file that does not end after a whole recipient
 * line must fail (no half-read value, no missing key). */
START_TEST(env_truncated_at_every_byte)
{
	struct queue_entry a, b;
	char err[256];
	size_t len, i;
	char *t;
	int ok;

	sample_entry(&a);
	t = queue_env_format(&a, &len);
	for (i = 0; i < len; i++) {
		ok = queue_env_parse(t, i, &b, err, sizeof(err)) == 0;
		if (ok) {
			/* only at a line end after a whole recipient line; it
			 * then holds exactly the recipients of that prefix */
			ck_assert_int_eq(t[i - 1], '\n');
			ck_assert_uint_eq(b.nrcpts, count_rcpt_lines(t, i));
			ck_assert_uint_ge(b.nrcpts, 1);
			queue_entry_free(&b);
		} else {
			ck_assert_uint_eq(b.nrcpts, 0);
			ck_assert_ptr_null(b.sender);
		}
	}
	ck_assert_int_eq(queue_env_parse(t, len, &b, err, sizeof(err)), 0);
	queue_entry_free(&b);
	free(t);
	queue_entry_free(&a);
}
END_TEST

#define HEAD "version=1\nid=" ID1 "\nsender=s@x.org\ncreated=1\nnext_attempt=2\n" \
	"size=3\nattempts=0\ndelay_warned=0\nbounced=0\nlast_reply=\n"

static const struct {
	const char *text;
	const char *err;	/* substring expected in the error */
} bad_envs[] = {
	{ "", "missing key \"version\"" },
	{ "id=" ID1 "\nversion=1\n", "line 1: the first line must be version=1" },
	{ "version=2\n", "line 1: unsupported version" },
	{ HEAD "rcpt=pending a@x.org", "line 11: no line end" },
	{ HEAD "rcpt=pending a@x.org\ncolour=blue\n", "line 12: unknown key \"colour\"" },
	{ HEAD "rcpt=pending a@x.org\nnoequals\n", "line 12: expected key=value" },
	{ HEAD "rcpt=pending a@x.org\nsize=4\n", "line 12: duplicate key \"size\"" },
	{ HEAD, "no recipients" },
	{ "version=1\nid=" ID1 "\nrcpt=pending a@x\n", "missing key \"sender\"" },
	{ HEAD "rcpt=waiting a@x.org\n", "line 11: rcpt: unknown state \"waiting\"" },
	{ HEAD "rcpt=pending\n", "line 11: rcpt: expected" },
	{ HEAD "rcpt=pending \n", "line 11: rcpt: empty address" },
	{ HEAD "rcpt_reply=250 ok\n", "line 11: rcpt_reply without its rcpt line" },
	{ HEAD "rcpt=pending a@x.org\nrcpt_reply=1\nrcpt_reply=2\n", "line 13: rcpt_reply without" },
	{ HEAD "rcpt=pending a@x.org\nrcpt_reply=bad \\q escape\n", "line 12: bad escape" },
	{ HEAD "rcpt=pending a@x.org\nrcpt_reply=bad \\x00 nul\n", "line 12: bad escape" },
	{ HEAD "rcpt=pending a@x.org\nrcpt_reply=trailing\\\n", "line 12: bad escape" },
	{ HEAD "rcpt=pending a@x.org\nrcpt_reply=raw\rcr\n", "line 12: raw control byte 0x0d" },
	{ "version=1\nid=0123456789ABCDEF\n", "line 2: bad id" },
	{ "version=1\nid=0123\n", "line 2: bad id" },
	{ "version=1\ncreated=-5\n", "line 2: bad number" },
	{ "version=1\ncreated=\n", "line 2: bad number" },
	{ "version=1\nsize=99999999999999999999\n", "line 2: number out of range" },
	{ "version=1\nattempts=4294967296\n", "line 2: number out of range" },
	{ "version=1\ncreated=9223372036854775808\n", "line 2: number out of range" },
	{ "version=1\nnext_attempt=1x\n", "line 2: bad number" },
	{ "version=1\ndelay_warned=yes\n", "line 2: expected 0 or 1" },
	{ "version=1\nbounced=2\n", "line 2: expected 0 or 1" },
	/* an escaped control byte in an address: it would end an SMTP command */
	{ "version=1\nid=" ID1 "\nsender=a\\r\\nRSET@x.org\n", "line 3: control byte 0x0d in address" },
	{ HEAD "rcpt=pending a@x.org\\x0aRSET\n", "line 11: control byte 0x0a in address" },
	{ HEAD "rcpt=failed a\\x7f@x.org\n", "line 11: control byte 0x7f in address" },
};

START_TEST(env_parse_errors)
{
	struct queue_entry e;
	char err[256];
	const char *t = bad_envs[_i].text;

	err[0] = '\0';
	ck_assert_int_eq(queue_env_parse(t, strlen(t), &e, err, sizeof(err)), -1);
	ck_assert_msg(strstr(err, bad_envs[_i].err) != NULL, "case %d: got \"%s\", want \"%s\"",
	    _i, err, bad_envs[_i].err);
	ck_assert_uint_eq(e.nrcpts, 0);
}
END_TEST

START_TEST(env_size_caps)
{
	struct queue_entry e;
	char err[256];
	char *t;
	size_t n;

	/* an over-long line */
	n = strlen(HEAD) + 20000;
	t = malloc(n + 64);
	strcpy(t, HEAD "rcpt=pending a@x.org\nrcpt_reply=");
	memset(t + strlen(t), 'r', 20000);
	strcpy(t + n, "\n");
	ck_assert_int_eq(queue_env_parse(t, strlen(t), &e, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "line 12: line too long"));
	free(t);
	/* an over-long address */
	{
		char a[1024] = HEAD "rcpt=pending ";
		n = strlen(a);
		memset(a + n, 'a', 400);
		memcpy(a + n + 400, "@x\n", 4);
		ck_assert_int_eq(queue_env_parse(a, strlen(a), &e, err, sizeof(err)), -1);
		ck_assert_ptr_nonnull(strstr(err, "line 11: address too long"));
	}
}
END_TEST

START_TEST(entry_state)
{
	struct queue_entry e;

	sample_entry(&e);
	e.attempts = 0;
	ck_assert_str_eq(queue_entry_state(&e), "queued");
	e.attempts = 2;
	ck_assert_str_eq(queue_entry_state(&e), "deferred");
	e.rcpts[0].state = QUEUE_RCPT_FAILED;
	ck_assert_str_eq(queue_entry_state(&e), "done");
	queue_entry_free(&e);
}
END_TEST

static const char *const rcpts2[] = { "x@example.com", "y@example.com" };

/* Create a message in s and return its entry. */
static void
make_msg(struct tspool *s, struct queue_entry *e, bool sync)
{
	char err[256];
	int rc;

	rc = queue_entry_create(s->tmp, s->queue, &(struct queue_new){
	    .sender = "from@example.com", .rcpts = rcpts2, .nrcpts = 2,
	    .msg = "Subject: x\r\n\r\nbody\r\n", .msglen = 21, .now = 1000, .sync = sync },
	    e, err, sizeof(err));
	ck_assert_msg(rc == 0, "create: %s", err);
}

START_TEST(spool_create_load_store_remove)
{
	struct tspool s;
	struct queue_entry e, l;
	char err[256], name[64], id[ID_LEN + 1];
	char *msg;
	size_t len;

	tspool_open(&s);
	make_msg(&s, &e, _i == 1);
	ck_assert(id_valid(e.id));
	ck_assert_str_eq(e.sender, "from@example.com");
	ck_assert(e.created == 1000 && e.next_attempt == 1000);
	ck_assert(e.size == 21);
	ck_assert_uint_eq(e.nrcpts, 2);
	ck_assert_int_eq(e.rcpts[1].state, QUEUE_RCPT_PENDING);
	snprintf(name, sizeof(name), "%s.msg", e.id);
	msg = tspool_get(s.queue, name, &len);
	ck_assert_ptr_nonnull(msg);
	ck_assert_uint_eq(len, 21);
	ck_assert_mem_eq(msg, "Subject: x\r\n\r\nbody\r\n", 21);
	free(msg);
	ck_assert_int_eq(tspool_count(s.tmp, NULL), 0);

	ck_assert_int_eq(queue_entry_load(s.queue, e.id, &l, err, sizeof(err)), 0);
	assert_same(&e, &l);
	ck_assert_str_eq(queue_entry_state(&l), "queued");
	strcpy(id, e.id);
	l.attempts = 1;
	l.rcpts[0].state = QUEUE_RCPT_DELIVERED;
	l.last_reply = strdup("421 4.4.2 timeout");
	ck_assert_int_eq(queue_entry_store(s.tmp, s.queue, &l, _i == 1, err, sizeof(err)), 0);
	queue_entry_free(&e);
	ck_assert_int_eq(queue_entry_load(s.queue, id, &e, err, sizeof(err)), 0);
	assert_same(&l, &e);
	queue_entry_free(&l);
	ck_assert_str_eq(queue_entry_state(&e), "deferred");
	ck_assert_int_eq(tspool_count(s.tmp, NULL), 0);

	ck_assert_int_eq(queue_entry_remove(s.queue, e.id, err, sizeof(err)), 0);
	ck_assert_int_eq(tspool_count(s.queue, NULL), 0);
	ck_assert_int_eq(queue_entry_remove(s.queue, e.id, err, sizeof(err)), -1);
	ck_assert_int_eq(errno, ENOENT);
	ck_assert_int_eq(queue_entry_load(s.queue, e.id, &l, err, sizeof(err)), -1);
	ck_assert_int_eq(errno, ENOENT);
	queue_entry_free(&e);
	tspool_close(&s);
}
END_TEST

START_TEST(spool_load_checks)
{
	struct tspool s;
	struct queue_entry e;
	char err[256];
	const char *other = HEAD "rcpt=pending a@x.org\n";

	tspool_open(&s);
	ck_assert_int_eq(queue_entry_load(s.queue, "../etc/passwd", &e, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "bad queue id"));
	/* a file holding another id */
	tspool_put(s.queue, "fedcba9876543210.env", other, strlen(other));
	ck_assert_int_eq(queue_entry_load(s.queue, "fedcba9876543210", &e, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "holds id " ID1));
	/* a corrupt one names the file and the line */
	tspool_put(s.queue, ID1 ".env", "version=1\nbogus=1\n", 18);
	ck_assert_int_eq(queue_entry_load(s.queue, ID1, &e, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, ID1 ".env: line 2: unknown key \"bogus\""));
	tspool_close(&s);
}
END_TEST

START_TEST(spool_create_id_exists)
{
	struct tspool s;
	struct queue_entry e;
	char err[256];

	tspool_open(&s);
	tspool_put(s.queue, ID1 ".msg", "x", 1);
	errno = 0;
	ck_assert_int_eq(queue_entry_create_id(s.tmp, s.queue, &(struct queue_new){
	    .id = ID1, .sender = "", .rcpts = rcpts2, .nrcpts = 2, .msg = "m\r\n",
	    .msglen = 3, .now = 5, .sync = true }, &e, err, sizeof(err)), -1);
	ck_assert_int_eq(errno, EEXIST);
	ck_assert(!tspool_exists(s.queue, ID1 ".env"));
	ck_assert_int_eq(queue_entry_create_id(s.tmp, s.queue, &(struct queue_new){
	    .id = ID1, .sender = "", .rcpts = rcpts2, .nrcpts = 0, .msg = "m\r\n",
	    .msglen = 3, .now = 5, .sync = true }, &e, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "no recipients"));
	tspool_close(&s);
}
END_TEST

struct seen {
	char ids[8][ID_LEN + 1];
	int n;
	int stop_at;
};

/* Record each id; stop with 7 after stop_at ids. */
static int
record_id(void *arg, const char *id)
{
	struct seen *v = arg;

	strcpy(v->ids[v->n++], id);
	return v->n == v->stop_at ? 7 : 0;
}

/* 1 when id is in v. */
static int
seen_has(const struct seen *v, const char *id)
{
	int i;

	for (i = 0; i < v->n; i++)
		if (strcmp(v->ids[i], id) == 0)
			return 1;
	return 0;
}

START_TEST(spool_foreach)
{
	struct tspool s;
	struct queue_entry e[3];
	struct seen v = { .n = 0, .stop_at = -1 };
	char err[256];
	int i;

	tspool_open(&s);
	for (i = 0; i < 3; i++)
		make_msg(&s, &e[i], false);
	tspool_put(s.queue, "junk.env", "x", 1);
	tspool_put(s.queue, "0123456789abcdef.msg", "x", 1);
	ck_assert_int_eq(queue_foreach(s.queue, record_id, &v, err, sizeof(err)), 0);
	ck_assert_int_eq(v.n, 3);
	for (i = 0; i < 3; i++)
		ck_assert(seen_has(&v, e[i].id));
	v.n = 0;
	v.stop_at = 2;
	ck_assert_int_eq(queue_foreach(s.queue, record_id, &v, err, sizeof(err)), 7);
	ck_assert_int_eq(v.n, 2);
	for (i = 0; i < 3; i++)
		queue_entry_free(&e[i]);
	tspool_close(&s);
}
END_TEST

START_TEST(spool_apply)
{
	struct tspool s;
	struct queue_entry e[2], l;
	char err[256];
	int i;

	tspool_open(&s);
	for (i = 0; i < 2; i++)
		make_msg(&s, &e[i], false);
	ck_assert_int_eq(queue_apply(s.tmp, s.queue, "retry", e[0].id, err, sizeof(err)), 0);
	ck_assert_int_eq(queue_entry_load(s.queue, e[0].id, &l, err, sizeof(err)), 0);
	ck_assert(l.next_attempt == 0);
	queue_entry_free(&l);
	ck_assert_int_eq(queue_entry_load(s.queue, e[1].id, &l, err, sizeof(err)), 0);
	ck_assert(l.next_attempt == 1000);
	queue_entry_free(&l);
	ck_assert_int_eq(queue_apply(s.tmp, s.queue, "retry", "all", err, sizeof(err)), 0);
	ck_assert_int_eq(queue_entry_load(s.queue, e[1].id, &l, err, sizeof(err)), 0);
	ck_assert(l.next_attempt == 0);
	queue_entry_free(&l);

	ck_assert_int_eq(queue_apply(s.tmp, s.queue, "delete", e[0].id, err, sizeof(err)), 0);
	ck_assert(!tspool_exists(s.queue, e[0].id));
	ck_assert_int_eq(tspool_count(s.queue, e[0].id), 0);
	ck_assert_int_eq(tspool_count(s.queue, e[1].id), 2);
	ck_assert_int_eq(queue_apply(s.tmp, s.queue, "delete", e[0].id, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "no such message"));
	ck_assert_int_eq(queue_apply(s.tmp, s.queue, "retry", e[0].id, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "no such message"));
	ck_assert_int_eq(queue_apply(s.tmp, s.queue, "delete", "all", err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "delete takes one id"));
	ck_assert_int_eq(queue_apply(s.tmp, s.queue, "flush", "all", err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "unknown request"));
	ck_assert_int_eq(queue_apply(s.tmp, s.queue, "retry", "../x", err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "bad queue id"));
	ck_assert_int_eq(tspool_count(s.tmp, NULL), 0);
	for (i = 0; i < 2; i++)
		queue_entry_free(&e[i]);
	tspool_close(&s);
}
END_TEST

START_TEST(spool_control_post)
{
	struct tspool s;
	char err[256];
	struct dirent *de;
	DIR *d;
	int n = 0;

	tspool_open(&s);
	ck_assert_int_eq(queue_control_post(s.tmp, s.control, "retry", "all", err, sizeof(err)), 0);
	ck_assert_int_eq(queue_control_post(s.tmp, s.control, "retry", "all", err, sizeof(err)), 0);
	ck_assert_int_eq(queue_control_post(s.tmp, s.control, "delete", ID1, err, sizeof(err)), 0);
	ck_assert_int_eq(queue_control_post(s.tmp, s.control, "delete", "all", err, sizeof(err)), -1);
	ck_assert_int_eq(queue_control_post(s.tmp, s.control, "retry", "x/y", err, sizeof(err)), -1);
	ck_assert_int_eq(tspool_count(s.control, "retry.all."), 2);
	ck_assert_int_eq(tspool_count(s.control, "delete." ID1 "."), 1);
	ck_assert_int_eq(tspool_count(s.control, NULL), 3);
	ck_assert_int_eq(tspool_count(s.tmp, NULL), 0);
	d = fdopendir(openat(s.control, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		/* <verb>.<target>.<16 hex> */
		ck_assert(id_valid(strrchr(de->d_name, '.') + 1));
		n++;
	}
	closedir(d);
	ck_assert_int_eq(n, 3);
	tspool_close(&s);
}
END_TEST

/* "retry all" over more entries than one group store: every entry due,
 * everything else kept. */
START_TEST(spool_apply_retry_all_groups)
{
	enum { N = 600 };
	struct tspool s;
	struct queue_entry e, l;
	char err[256], (*ids)[ID_LEN + 1] = calloc(N, ID_LEN + 1);
	int i;

	tspool_open(&s);
	for (i = 0; i < N; i++) {
		make_msg(&s, &e, false);
		e.attempts = (unsigned)i;
		e.next_attempt = 5000 + i;
		ck_assert_int_eq(queue_entry_store(s.tmp, s.queue, &e, false, err, sizeof(err)), 0);
		strcpy(ids[i], e.id);
		queue_entry_free(&e);
	}
	ck_assert_int_eq(queue_apply(s.tmp, s.queue, "retry", "all", err, sizeof(err)), 0);
	for (i = 0; i < N; i++) {
		ck_assert_int_eq(queue_entry_load(s.queue, ids[i], &l, err, sizeof(err)), 0);
		ck_assert(l.next_attempt == 0);
		ck_assert_uint_eq(l.attempts, (unsigned)i);
		queue_entry_free(&l);
	}
	ck_assert_int_eq(tspool_count(s.tmp, NULL), 0);
	ck_assert_int_eq(tspool_count(s.queue, NULL), 2 * N);
	free(ids);
	tspool_close(&s);
}
END_TEST

/* One entry that cannot be read does not hold back the others. */
START_TEST(spool_retry_ids_past_a_bad_entry)
{
	struct tspool s;
	struct queue_entry e[3], l;
	char err[256], ids[4][ID_LEN + 1], name[64];
	int i;

	tspool_open(&s);
	for (i = 0; i < 3; i++) {
		make_msg(&s, &e[i], false);
		strcpy(ids[i], e[i].id);
		queue_entry_free(&e[i]);
	}
	id_generate(ids[3]);			/* never queued: skipped */
	snprintf(name, sizeof(name), "%s.env", ids[1]);
	tspool_put(s.queue, name, "garbage\n", 8);
	ck_assert_int_eq(queue_retry_ids(s.tmp, s.queue, (const char (*)[ID_LEN + 1])ids, 4,
	    err, sizeof(err)), -1);
	ck_assert_msg(strstr(err, name) != NULL, "%s", err);
	for (i = 0; i < 3; i += 2) {
		ck_assert_int_eq(queue_entry_load(s.queue, ids[i], &l, err, sizeof(err)), 0);
		ck_assert(l.next_attempt == 0);
		queue_entry_free(&l);
	}
	ck_assert_int_eq(tspool_count(s.tmp, NULL), 0);
	tspool_close(&s);
}
END_TEST

/* A put of queue/<id>.<ext> with text. */
static void
put_set(struct queue_put *p, const char *id, const char *ext, const char *text,
    bool replace, bool after_prev)
{
	memset(p, 0, sizeof(*p));
	snprintf(p->name, sizeof(p->name), "%s.%s", id, ext);
	p->text = text;
	p->len = strlen(text);
	p->replace = replace;
	p->after_prev = after_prev;
}

START_TEST(spool_put_group)
{
	struct tspool s;
	struct queue_entry e, e2, l;
	struct queue_put v[5];
	char err[256], name[64], dsn[ID_LEN + 1], *text, *got;
	const char *to = "from@example.com";
	size_t len;

	tspool_open(&s);
	make_msg(&s, &e, false);
	/* a new entry (its .msg, then its .env) and a replaced .env, one group */
	id_generate(dsn);
	text = queue_env_new(&(struct queue_new){ .id = dsn, .sender = "", .rcpts = &to,
	    .nrcpts = 1, .msglen = 6, .now = 2000 }, &len);
	ck_assert_int_eq(queue_env_parse(text, len, &l, err, sizeof(err)), 0);
	ck_assert_str_eq(l.id, dsn);
	ck_assert_str_eq(l.sender, "");
	ck_assert(l.created == 2000 && l.next_attempt == 2000 && l.size == 6);
	ck_assert_uint_eq(l.nrcpts, 1);
	ck_assert_int_eq(l.rcpts[0].state, QUEUE_RCPT_PENDING);
	queue_entry_free(&l);
	e.attempts = 3;
	e.rcpts[0].state = QUEUE_RCPT_DELIVERED;
	char *etext = queue_env_format(&e, &len);
	put_set(&v[0], dsn, "msg", "hello\n", false, false);
	put_set(&v[1], dsn, "env", text, false, true);
	put_set(&v[2], e.id, "env", etext, true, false);
	ck_assert_int_eq(queue_put_group(s.tmp, s.queue, v, 3, err, sizeof(err)), 0);
	ck_assert(v[0].ok && v[1].ok && v[2].ok);
	ck_assert_int_eq(tspool_count(s.tmp, NULL), 0);
	snprintf(name, sizeof(name), "%s.msg", dsn);
	got = tspool_get(s.queue, name, &len);
	ck_assert_ptr_nonnull(got);
	ck_assert_mem_eq(got, "hello\n", 6);
	free(got);
	ck_assert_int_eq(queue_entry_load(s.queue, dsn, &l, err, sizeof(err)), 0);
	queue_entry_free(&l);
	ck_assert_int_eq(queue_entry_load(s.queue, e.id, &l, err, sizeof(err)), 0);
	assert_same(&e, &l);
	queue_entry_free(&l);

	/* a new .msg that exists already is never replaced; what depends on it
	 * is dropped, an independent put goes on */
	put_set(&v[0], dsn, "msg", "other\n", false, false);
	put_set(&v[1], dsn, "env", text, false, true);
	put_set(&v[2], e.id, "env", etext, true, true);
	make_msg(&s, &e2, false);
	e2.attempts = 7;
	char *e2text = queue_env_format(&e2, &len);
	put_set(&v[3], e2.id, "env", e2text, true, false);
	ck_assert_int_eq(queue_put_group(s.tmp, s.queue, v, 4, err, sizeof(err)), 0);
	ck_assert(!v[0].ok && !v[1].ok && !v[2].ok && v[3].ok);
	ck_assert_msg(strstr(v[0].err, "File exists") != NULL, "%s", v[0].err);
	ck_assert_msg(strstr(v[1].err, "not stored") != NULL, "%s", v[1].err);
	ck_assert_msg(strstr(v[2].err, "not stored") != NULL, "%s", v[2].err);
	ck_assert_int_eq(queue_entry_load(s.queue, e2.id, &l, err, sizeof(err)), 0);
	ck_assert_uint_eq(l.attempts, 7);
	queue_entry_free(&l);
	queue_entry_free(&e2);
	free(e2text);
	got = tspool_get(s.queue, name, &len);
	ck_assert_mem_eq(got, "hello\n", 6);
	free(got);
	ck_assert_int_eq(tspool_count(s.tmp, NULL), 0);

	/* a first put with after_prev has nothing to follow */
	put_set(&v[0], e.id, "env", etext, true, true);
	ck_assert_int_eq(queue_put_group(s.tmp, s.queue, v, 1, err, sizeof(err)), 0);
	ck_assert(!v[0].ok);
	free(text);
	free(etext);
	queue_entry_free(&e);
	tspool_close(&s);
}
END_TEST

START_TEST(spool_put_temp_names)
{
	char id[ID_LEN + 1], name[64];

	id_generate(id);
	snprintf(name, sizeof(name), "put.%s.msg", id);
	ck_assert_int_eq(queue_put_is_temp(name), 1);
	snprintf(name, sizeof(name), "put.%s.env", id);
	ck_assert_int_eq(queue_put_is_temp(name), 1);
	snprintf(name, sizeof(name), "put.%s.new", id);
	ck_assert_int_eq(queue_put_is_temp(name), 0);
	snprintf(name, sizeof(name), "put.%s.env.x", id);
	ck_assert_int_eq(queue_put_is_temp(name), 0);
	ck_assert_int_eq(queue_put_is_temp("put.nothex0000000000.env"), 0);
	ck_assert_int_eq(queue_put_is_temp("producer.eml"), 0);
}
END_TEST

/* The suite. */
Suite *
unit_suite(void)
{
	Suite *s = suite_create("queue");
	TCase *tc = tcase_create("env");

	tcase_add_test(tc, env_round_trip);
	tcase_add_test(tc, env_null_sender_and_replies);
	tcase_add_test(tc, env_truncated_at_every_byte);
	tcase_add_loop_test(tc, env_parse_errors, 0, (int)(sizeof(bad_envs) / sizeof(bad_envs[0])));
	tcase_add_test(tc, env_size_caps);
	tcase_add_test(tc, entry_state);
	suite_add_tcase(s, tc);
	tc = tcase_create("spool");
	/* real files and syncs: Check's 4 s default is too short for 600
	 * entries under the sanitizers on a loaded machine */
	tcase_set_timeout(tc, 60);
	tcase_add_loop_test(tc, spool_create_load_store_remove, 0, 2);
	tcase_add_test(tc, spool_load_checks);
	tcase_add_test(tc, spool_create_id_exists);
	tcase_add_test(tc, spool_foreach);
	tcase_add_test(tc, spool_apply);
	tcase_add_test(tc, spool_apply_retry_all_groups);
	tcase_add_test(tc, spool_retry_ids_past_a_bad_entry);
	tcase_add_test(tc, spool_control_post);
	tcase_add_test(tc, spool_put_group);
	tcase_add_test(tc, spool_put_temp_names);
	suite_add_tcase(s, tc);
	return s;
}
