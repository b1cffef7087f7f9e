/*
 * smtpgate-queue: the administrator's view of the outbound queue.
 *
 *   smtpgate-queue [-c FILE] list [--json] | show ID | retry ID|all |
 *                  delete ID | status
 *
 * list, show and status only read the spool, so they are safe while the
 * daemon runs, and work for any member of the queue's group (the config
 * is read without the smart host's secret).  retry and delete go through
 * <spool>/control/ when the daemon holds the spool lock, and otherwise
 * take the lock themselves and edit the queue directly (only the spool's
 * owner can).  Run as root, the tool first becomes the spool's owner (uid
 * and gid of <spool>, that gid its only group), so it never leaves a file
 * the daemon cannot read.  Exit codes: 0 ok, 1 no such message, 64 usage,
 * 75 spool missing, busy or unreadable, 77 not allowed, 78 configuration.
 *
 * Must not know: SMTP, the scheduler's internals, or the .env text format
 * (queue.c owns it).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "escape.h"
#include "fsutil.h"
#include "header.h"
#include "log.h"
#include "privs.h"
#include "queue.h"
#include "spool.h"
#include "util.h"

#define PROG "smtpgate-queue"
#define EXIT_NOMSG 1
#define HEADER_MAX (1024 * 1024)

struct tool {
	struct outbound_config *cfg;
	const char *spool;
	int spoolfd;			/* -1: the spool does not exist yet */
	int queuefd;			/* -1: no queue/ yet (empty queue) */
	struct stat spool_st;		/* of <spool>: its owner may edit the queue */
	char holder[256];		/* "host=H pid=P" when the daemon runs */
	int64_t now;
};

struct entries {
	struct queue_entry *v;
	size_t n, cap;
	int queuefd;
};

/* Print "smtpgate-queue: ..." and exit with code (util_die). */
#define die(...) util_die(PROG, __VA_ARGS__)

#define QUEUE_USAGE "usage: " PROG " [-c FILE] list [--json] | show ID | retry ID|all | " \
	"delete ID | status\n       " PROG " -V | --version | -h | --help"

/* Print the usage to stderr and exit 64. */
static _Noreturn void
usage(void)
{
	die(EX_USAGE, QUEUE_USAGE);
}

/* Open a directory below dirfd; -1 (errno ENOENT) when missing, exit otherwise. */
static int
open_subdir(int dirfd, const char *spool, const char *sub)
{
	char err[1024];
	int fd = fsutil_open_dir(dirfd, spool, sub, O_RDONLY, err, sizeof(err));

	if (fd < 0 && errno != ENOENT)
		die(EX_TEMPFAIL, "%s", err);
	return fd;
}

/* Run as root: become the owner of the spool (its uid and gid, that gid
 * the only group) before anything in it is touched. */
static void
tool_become_owner(struct tool *t)
{
	char err[512];

	if (fstat(t->spoolfd, &t->spool_st) < 0)
		die(EX_TEMPFAIL, "%s: fstat: %s", t->spool, strerror(errno));
	/* a spool of root's stays root's: the daemon refuses it anyway, and
	 * its message says to chown -R the whole spool */
	if (geteuid() != 0 || t->spool_st.st_uid == 0)
		return;
	if (privs_become(t->spool_st.st_uid, t->spool_st.st_gid, err, sizeof(err)) < 0)
		die(EX_OSERR, "cannot become the owner of %s: %s", t->spool, err);
}

/* Load the config, become the spool's owner when root, check the
 * spool's role, open what exists. */
static void
tool_open(struct tool *t, const char *config)
{
	char err[1024];
	int rc;

	t->cfg = config_load_outbound_opts(config, CONFIG_NO_SECRETS, err, sizeof(err));
	if (t->cfg == NULL)
		die(EX_CONFIG, "%s", err);
	t->spool = t->cfg->spool;
	t->holder[0] = '\0';
	t->spoolfd = open(t->spool, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (t->spoolfd < 0 && errno == ENOENT)
		die(EX_TEMPFAIL, "spool %s does not exist: smtpgate-outbound creates it "
		    "when it first starts (is %s the right configuration?)", t->spool,
		    config);
	if (t->spoolfd < 0)
		die(EX_TEMPFAIL, "%s: %s", t->spool, strerror(errno));
	tool_become_owner(t);
	rc = spool_check(t->spool, SPOOL_ROLE_OUTBOUND, t->holder, sizeof(t->holder),
	    err, sizeof(err));
	if (rc != 0 && !(rc == EX_TEMPFAIL && t->holder[0] != '\0'))
		die(rc, "%s", err);
	t->queuefd = open_subdir(t->spoolfd, t->spool, "queue");
	t->now = (int64_t)time(NULL);
}

/* Close what tool_open opened. */
static void
tool_close(struct tool *t)
{
	if (t->queuefd >= 0)
		close(t->queuefd);
	if (t->spoolfd >= 0)
		close(t->spoolfd);
	config_free_outbound(t->cfg);
	if (fflush(stdout) != 0)
		die(EX_IOERR, "writing the output: %s", strerror(errno));
}

/* queue_foreach callback: load one entry (skip one removed meanwhile). */
static int
collect_one(void *arg, const char *id)
{
	struct entries *es = arg;
	char err[512];

	if (es->n == es->cap) {
		es->cap = es->cap ? es->cap * 2 : 64;
		es->v = xrealloc(es->v, es->cap * sizeof(*es->v));
	}
	memset(&es->v[es->n], 0, sizeof(es->v[es->n]));
	if (queue_entry_load(es->queuefd, id, &es->v[es->n], err, sizeof(err)) < 0) {
		if (errno != ENOENT)
			fprintf(stderr, PROG ": %s\n", err);
		return 0;
	}
	es->n++;
	return 0;
}

/* Oldest first, then by id. */
static int
entry_cmp(const void *a, const void *b)
{
	const struct queue_entry *x = a, *y = b;

	if (x->created != y->created)
		return x->created < y->created ? -1 : 1;
	return strcmp(x->id, y->id);
}

/* Load every queued entry, sorted oldest first. */
static void
load_all(const struct tool *t, struct entries *es)
{
	char err[512];

	memset(es, 0, sizeof(*es));
	es->queuefd = t->queuefd;
	if (t->queuefd < 0)
		return;
	if (queue_foreach(t->queuefd, collect_one, es, err, sizeof(err)) < 0)
		die(EX_TEMPFAIL, "%s", err);
	if (es->n > 0)
		qsort(es->v, es->n, sizeof(*es->v), entry_cmp);
}

static void
entries_free(struct entries *es)
{
	for (size_t i = 0; i < es->n; i++)
		queue_entry_free(&es->v[i]);
	free(es->v);
}

/* "45s", "12m", "3h05m", "2d04h". */
static const char *
fmt_duration(int64_t secs, char *buf, size_t len)
{
	if (secs < 0)
		secs = 0;
	if (secs < 60)
		snprintf(buf, len, "%" PRId64 "s", secs);
	else if (secs < 3600)
		snprintf(buf, len, "%" PRId64 "m", secs / 60);
	else if (secs < 86400)
		snprintf(buf, len, "%" PRId64 "h%02" PRId64 "m", secs / 3600, secs / 60 % 60);
	else
		snprintf(buf, len, "%" PRId64 "d%02" PRId64 "h", secs / 86400, secs / 3600 % 24);
	return buf;
}

/* "now" or "in 5m". */
static const char *
fmt_next(int64_t next, int64_t now, char *buf, size_t len)
{
	char d[32];

	if (next <= now)
		snprintf(buf, len, "now");
	else
		snprintf(buf, len, "in %s", fmt_duration(next - now, d, sizeof(d)));
	return buf;
}

static const char *
rcpt_state_name(enum queue_rcpt_state s)
{
	switch (s) {
	case QUEUE_RCPT_PENDING:
		return "pending";
	case QUEUE_RCPT_DELIVERED:
		return "delivered";
	case QUEUE_RCPT_FAILED:
		return "failed";
	}
	return "unknown";
}

/* The recipients joined by ',' (malloc'd). */
static char *
rcpt_list(const struct queue_entry *e)
{
	size_t len = 1;
	char *s;

	for (size_t i = 0; i < e->nrcpts; i++)
		len += strlen(e->rcpts[i].addr) + 1;
	s = xmalloc(len);
	s[0] = '\0';
	for (size_t i = 0; i < e->nrcpts; i++) {
		if (i > 0)
			strcat(s, ",");
		strcat(s, e->rcpts[i].addr);
	}
	return s;
}

/* Length of a valid UTF-8 sequence at p (n bytes left), or 0. */
static size_t
utf8_len(const unsigned char *p, size_t n)
{
	size_t len;
	unsigned min;

	if (p[0] >= 0xc2 && p[0] <= 0xdf)
		len = 2, min = 0x80;
	else if (p[0] >= 0xe0 && p[0] <= 0xef)
		len = 3, min = 0x800;
	else if (p[0] >= 0xf0 && p[0] <= 0xf4)
		len = 4, min = 0x10000;
	else
		return 0;
	if (len > n)
		return 0;
	unsigned cp = p[0] & (0x7f >> len);
	for (size_t i = 1; i < len; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (p[i] & 0x3f);
	}
	if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return len;
}

/* Print s as a JSON string (or null); bad UTF-8 becomes U+FFFD. */
static void
json_str(FILE *f, const char *s)
{
	if (s == NULL) {
		fputs("null", f);
		return;
	}
	fputc('"', f);
	for (const unsigned char *p = (const unsigned char *)s; *p; ) {
		size_t n;
		if (*p == '"' || *p == '\\')
			fprintf(f, "\\%c", *p++);
		else if (*p == '\n')
			fputs("\\n", f), p++;
		else if (*p < 0x20 || *p == 0x7f)
			fprintf(f, "\\u%04x", *p++);
		else if (*p < 0x80)
			fputc(*p++, f);
		else if ((n = utf8_len(p, strlen((const char *)p))) > 0)
			fwrite(p, 1, n, f), p += n;
		else
			fputs("\\ufffd", f), p++;
	}
	fputc('"', f);
}

/* One entry as a JSON object. */
static void
json_entry(FILE *f, const struct queue_entry *e, int64_t now)
{
	fputs("{\"id\":", f);
	json_str(f, e->id);
	fprintf(f, ",\"age\":%" PRId64 ",\"size\":%" PRIu64 ",\"sender\":",
	    now > e->created ? now - e->created : 0, e->size);
	json_str(f, e->sender);
	fputs(",\"recipients\":[", f);
	for (size_t i = 0; i < e->nrcpts; i++) {
		fputs(i ? ",{\"address\":" : "{\"address\":", f);
		json_str(f, e->rcpts[i].addr);
		fputs(",\"state\":", f);
		json_str(f, rcpt_state_name(e->rcpts[i].state));
		fputs(",\"reply\":", f);
		json_str(f, e->rcpts[i].reply);
		fputc('}', f);
	}
	fputs("],\"state\":", f);
	json_str(f, queue_entry_state(e));
	fprintf(f, ",\"next_attempt\":%" PRId64 ",\"last_reply\":", e->next_attempt);
	json_str(f, e->last_reply);
	fputc('}', f);
}

/* list --json: a JSON array, one object per line. */
static void
list_json(const struct entries *es, int64_t now)
{
	fputc('[', stdout);
	for (size_t i = 0; i < es->n; i++) {
		fputs(i ? ",\n" : "\n", stdout);
		json_entry(stdout, &es->v[i], now);
	}
	fputs(es->n ? "\n]\n" : "]\n", stdout);
}

enum { COL_ID, COL_AGE, COL_SIZE, COL_SENDER, COL_RCPTS, COL_STATE, COL_NEXT,
	COL_REPLY, NCOLS };

/* Show control bytes of s as '?' (in place), for a terminal; returns s. */
static char *
sanitize(char *s)
{
	size_t n = strlen(s);

	escape_text(ESCAPE_CONTROLS, s, n, s, n + 1);
	return s;
}

/* A sanitized copy of s, "-" for NULL. */
static char *
printable(const char *s)
{
	return sanitize(xstrdup(s ? s : "-"));
}

/* The table cells of one entry (malloc'd strings). */
static void
table_row(const struct queue_entry *e, int64_t now, char *cell[NCOLS])
{
	char b[64];

	cell[COL_ID] = xstrdup(e->id);
	cell[COL_AGE] = xstrdup(fmt_duration(now - e->created, b, sizeof(b)));
	cell[COL_SIZE] = xasprintf("%" PRIu64, e->size);
	cell[COL_SENDER] = sanitize(xasprintf("<%s>", e->sender));
	cell[COL_RCPTS] = sanitize(rcpt_list(e));
	cell[COL_STATE] = xstrdup(queue_entry_state(e));
	cell[COL_NEXT] = xstrdup(fmt_next(e->next_attempt, now, b, sizeof(b)));
	cell[COL_REPLY] = printable(e->last_reply);
}

/* Print one row padded to the column widths (the last column unpadded). */
static void
table_print(const char *const cell[NCOLS], const size_t width[NCOLS])
{
	for (int c = 0; c < NCOLS - 1; c++)
		printf("%-*s  ", (int)width[c], cell[c]);
	printf("%s\n", cell[NCOLS - 1]);
}

/* list: an aligned table, oldest first. */
static void
list_table(const struct entries *es, int64_t now)
{
	static const char *const head[NCOLS] = { "ID", "AGE", "SIZE", "SENDER", "RECIPIENTS",
	    "STATE", "NEXT", "LAST REPLY" };
	size_t width[NCOLS];
	char *(*rows)[NCOLS] = xcalloc(es->n ? es->n : 1, sizeof(*rows));

	for (int c = 0; c < NCOLS; c++)
		width[c] = strlen(head[c]);
	for (size_t i = 0; i < es->n; i++) {
		table_row(&es->v[i], now, rows[i]);
		for (int c = 0; c < NCOLS; c++)
			if (strlen(rows[i][c]) > width[c])
				width[c] = strlen(rows[i][c]);
	}
	table_print(head, width);
	for (size_t i = 0; i < es->n; i++) {
		table_print((const char *const *)rows[i], width);
		for (int c = 0; c < NCOLS; c++)
			free(rows[i][c]);
	}
	free(rows);
	if (es->n == 0)
		printf("queue is empty\n");
}

static int
cmd_list(const struct tool *t, int argc, char **argv)
{
	struct entries es;
	bool json = false;

	for (int i = 0; i < argc; i++)
		json = json || strcmp(argv[i], "--json") == 0;
	load_all(t, &es);
	if (json)
		list_json(&es, t->now);
	else
		list_table(&es, t->now);
	entries_free(&es);
	return 0;
}

/* Load entry id or exit 1 ("no such message"). */
static void
load_or_die(const struct tool *t, const char *id, struct queue_entry *e)
{
	char err[512];

	if (!id_valid(id))
		die(EXIT_NOMSG, "%s: not a queue id (16 lower-case hex digits)", id);
	if (t->queuefd < 0)
		die(EXIT_NOMSG, "%s: no such message in %s", id, t->spool);
	memset(e, 0, sizeof(*e));
	if (queue_entry_load(t->queuefd, id, e, err, sizeof(err)) < 0) {
		if (errno == ENOENT)
			die(EXIT_NOMSG, "%s: no such message in %s", id, t->spool);
		die(EX_TEMPFAIL, "%s", err);
	}
}

/* Print the header of queue/<id>.msg (CR removed, other control bytes
 * but LF and TAB shown as '?'). */
static void
print_headers(const struct tool *t, const char *id)
{
	char name[ID_LEN + 8], *buf;
	ssize_t n;
	size_t len;
	int fd;

	snprintf(name, sizeof(name), "%s.msg", id);
	fd = openat(t->queuefd, name, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		printf("(%s/queue/%s: %s)\n", t->spool, name, strerror(errno));
		return;
	}
	buf = xmalloc(HEADER_MAX);
	n = fsutil_pread_full(fd, buf, HEADER_MAX, 0);
	close(fd);
	if (n <= 0 || buf[0] == '\n' || (n > 1 && buf[0] == '\r' && buf[1] == '\n'))
		len = 0;	/* no header at all */
	else
		len = header_block_len(buf, (size_t)n);
	for (size_t i = 0; i < len; i++) {
		if (buf[i] == '\r')
			continue;
		putchar((unsigned char)buf[i] < 0x20 && buf[i] != '\n' && buf[i] != '\t' ?
		    '?' : buf[i]);
	}
	free(buf);
}

/* Make every text of e safe for a terminal (in place). */
static void
entry_sanitize(struct queue_entry *e)
{
	sanitize(e->sender);
	if (e->last_reply != NULL)
		sanitize(e->last_reply);
	for (size_t i = 0; i < e->nrcpts; i++) {
		sanitize(e->rcpts[i].addr);
		if (e->rcpts[i].reply != NULL)
			sanitize(e->rcpts[i].reply);
	}
}

static int
cmd_show(const struct tool *t, int argc, char **argv)
{
	struct queue_entry e;
	char a[64], b[64];

	load_or_die(t, argv[0], &e);
	entry_sanitize(&e);
	printf("id: %s\nstate: %s\nsender: <%s>\n", e.id, queue_entry_state(&e), e.sender);
	printf("created: %" PRId64 " (%s ago)\nsize: %" PRIu64 "\nattempts: %u\n",
	    e.created, fmt_duration(t->now - e.created, a, sizeof(a)), e.size, e.attempts);
	printf("next attempt: %" PRId64 " (%s)\n", e.next_attempt,
	    fmt_next(e.next_attempt, t->now, b, sizeof(b)));
	printf("delay warned: %s\nbounced: %s\nlast reply: %s\n", e.delay_warned ? "yes" : "no",
	    e.bounced ? "yes" : "no", e.last_reply ? e.last_reply : "-");
	for (size_t i = 0; i < e.nrcpts; i++)
		printf("recipient: <%s> %s %s\n", e.rcpts[i].addr,
		    rcpt_state_name(e.rcpts[i].state), e.rcpts[i].reply ? e.rcpts[i].reply : "-");
	printf("\n");
	print_headers(t, e.id);
	queue_entry_free(&e);
	return 0;
}

/*
 * Post verb/target to the running daemon: control/<verb>.<target>.<unique>
 * created in place (the daemon reads only the name, so no tmp/ file is
 * needed, and an operator of the queue's group, who cannot write tmp/,
 * may post too), fsynced, and control/ fsynced when we may read it (an
 * operator may only write and search it: mode 1730).
 */
static void
post_request(const struct tool *t, const char *verb, const char *target)
{
	char name[96], uniq[ID_LEN + 1], body[96], err[512];
	int ctlfd, fd, n;
	bool readable = true;

	ctlfd = fsutil_open_dir(t->spoolfd, t->spool, "control", O_RDONLY, err,
	    sizeof(err));
	if (ctlfd < 0 && errno == EACCES) {
		readable = false;
		ctlfd = fsutil_open_dir(t->spoolfd, t->spool, "control", O_PATH, err,
		    sizeof(err));
	}
	if (ctlfd < 0)
		die(EX_TEMPFAIL, "%s (it is how the running daemon is reached)", err);
	id_generate(uniq);
	snprintf(name, sizeof(name), "%s.%s.%s", verb, target, uniq);
	n = snprintf(body, sizeof(body), "%s %s\n", verb, target);
	fd = openat(ctlfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0640);
	if (fd < 0 || write(fd, body, (size_t)n) != n || fsync(fd) < 0 || close(fd) < 0)
		die(EX_TEMPFAIL, "%s/control/%s: %s", t->spool, name, strerror(errno));
	if (readable && fsutil_fsync_dirfd(ctlfd, "control", err, sizeof(err)) < 0)
		die(EX_TEMPFAIL, "%s: %s", t->spool, err);
	printf("%s %s: requested from the running daemon (%s)\n", verb, target, t->holder);
	close(ctlfd);
}

/* Take the spool lock and apply verb/target; false when the daemon won the race. */
static bool
apply_locked(const struct tool *t, const char *verb, const char *target)
{
	struct spool *s;
	char err[1024];
	int rc, queuefd;

	rc = spool_open(t->spool, SPOOL_ROLE_OUTBOUND, &s, err, sizeof(err));
	if (rc == EX_TEMPFAIL)
		return false;
	if (rc != 0)
		die(rc, "%s", err);
	queuefd = fsutil_open_dir(spool_dirfd(s), t->spool, "queue", O_RDONLY, err,
	    sizeof(err));
	if (queuefd < 0)
		die(EX_TEMPFAIL, "%s", err);
	if (queue_apply(spool_tmpfd(s), queuefd, verb, target, err, sizeof(err)) < 0) {
		int e = errno;
		close(queuefd);
		spool_close(s);
		if (e == ENOENT)
			die(EXIT_NOMSG, "%s: no such message in %s", target, t->spool);
		die(EX_TEMPFAIL, "%s", err);
	}
	close(queuefd);
	spool_close(s);
	printf("%s %s: done\n", verb, target);
	return true;
}

/* retry/delete: check the target, then apply directly or via control/. */
static int
cmd_request(struct tool *t, const char *verb, int argc, char **argv)
{
	struct queue_entry e;
	char err[1024];

	if (strcmp(argv[0], "all") == 0) {
		if (strcmp(verb, "retry") != 0)
			die(EX_USAGE, "%s takes one queue id (there is no \"%s all\")", verb, verb);
		if (t->queuefd < 0) {
			printf("retry all: the queue is empty\n");
			return 0;
		}
	} else {
		load_or_die(t, argv[0], &e);
		queue_entry_free(&e);
	}
	if (t->holder[0] == '\0' && geteuid() != t->spool_st.st_uid)
		die(EX_NOPERM, "%s %s: smtpgate-outbound is not running, and only the "
		    "owner of %s or root may change the queue then: start the daemon, "
		    "or run this as root", verb, argv[0], t->spool);
	if (t->holder[0] == '\0' && apply_locked(t, verb, argv[0]))
		return 0;
	if (t->holder[0] == '\0')	/* the daemon started meanwhile: ask who */
		spool_check(t->spool, SPOOL_ROLE_OUTBOUND, t->holder, sizeof(t->holder),
		    err, sizeof(err));
	post_request(t, verb, argv[0]);
	return 0;
}

/* Count the entries of sub/ (no dot files; skip names ending in
 * skip_suffix); 0 when it is missing, -1 (errno) when it cannot be read
 * (maildrop/ and pickup/ are not readable by the operators' group). */
static long
count_dir(const struct tool *t, const char *sub, const char *skip_suffix)
{
	long n = fsutil_count_dir(t->spoolfd, sub, skip_suffix);

	return n < 0 && errno == ENOENT ? 0 : n;
}

/* "name: N", or "name: - (reason)" when count_dir could not read it. */
static void
print_count(const char *name, long n)
{
	if (n >= 0)
		printf("%s: %ld\n", name, n);
	else
		printf("%s: - (%s)\n", name, strerror(errno));
}

static int
cmd_status(const struct tool *t, int argc, char **argv)
{
	struct entries es;
	long deferred = 0;
	uint64_t bytes = 0;
	int64_t oldest = 0;
	char a[64];

	load_all(t, &es);
	for (size_t i = 0; i < es.n; i++) {
		deferred += strcmp(queue_entry_state(&es.v[i]), "deferred") == 0;
		bytes += es.v[i].size;
		if (t->now - es.v[i].created > oldest)
			oldest = t->now - es.v[i].created;
	}
	printf("spool: %s\n", t->spool);
	if (t->holder[0] != '\0')
		printf("daemon: running (%s)\n", t->holder);
	else
		printf("daemon: not running\n");
	printf("queued: %zu\nbytes: %" PRIu64 "\ndeferred: %ld\n", es.n, bytes, deferred);
	printf("oldest: %s\n", es.n ? fmt_duration(oldest, a, sizeof(a)) : "-");
	printf("oldest_seconds: %" PRId64 "\n", oldest);
	print_count("maildrop", count_dir(t, "maildrop", NULL));
	print_count("pickup", count_dir(t, "pickup", NULL));
	print_count("bad", count_dir(t, "bad", ".reason"));
	entries_free(&es);
	return 0;
}

/* The commands, with how many arguments each takes. */
static const struct command {
	const char *name;
	int minargs, maxargs;
} commands[] = {
	{ "list", 0, 1 },
	{ "show", 1, 1 },
	{ "retry", 1, 1 },
	{ "delete", 1, 1 },
	{ "status", 0, 0 },
};

/* Find cmd in the table and check its argument count; exits 64 if wrong. */
static void
check_command(const char *cmd, int nargs, char **args)
{
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
		if (strcmp(commands[i].name, cmd) != 0)
			continue;
		if (nargs < commands[i].minargs || nargs > commands[i].maxargs)
			usage();
		if (strcmp(cmd, "list") == 0 && nargs == 1 && strcmp(args[0], "--json") != 0)
			usage();
		return;
	}
	fprintf(stderr, PROG ": unknown command \"%s\"\n", cmd);
	usage();
}

int
main(int argc, char **argv)
{
	struct tool t = { 0 };
	const char *config = CONFIG_DEFAULT_OUTBOUND;
	const char *cmd;
	int c, rc;

	log_init(PROG, LOG_TARGET_STDERR);
	for (int i = 1; i < argc && argv[i][0] == '-' && strcmp(argv[i], "--") != 0; i++) {
		if (strcmp(argv[i], "--version") == 0)
			argv[i] = (char *)"-V";
		else if (strcmp(argv[i], "--help") == 0)
			argv[i] = (char *)"-h";
		else if (strcmp(argv[i], "-c") == 0)
			i++;	/* skip the file name */
	}
	while ((c = getopt(argc, argv, "+c:hV")) != -1) {
		if (c == 'c')
			config = optarg;
		else if (c == 'V') {
			printf(PROG " %s\n", SMTPGATE_VERSION);
			return EX_OK;
		} else if (c == 'h') {
			printf("%s\n", QUEUE_USAGE);
			return EX_OK;
		} else
			usage();
	}
	if (optind >= argc)
		usage();
	cmd = argv[optind++];
	argc -= optind;
	argv += optind;
	check_command(cmd, argc, argv);
	tool_open(&t, config);
	if (strcmp(cmd, "list") == 0)
		rc = cmd_list(&t, argc, argv);
	else if (strcmp(cmd, "show") == 0)
		rc = cmd_show(&t, argc, argv);
	else if (strcmp(cmd, "status") == 0)
		rc = cmd_status(&t, argc, argv);
	else
		rc = cmd_request(&t, cmd, argc, argv);
	tool_close(&t);
	return rc;
}
