/*
 * smtpgate-sendmail: the sendmail-compatible injector.  Reads a message on
 * stdin, completes its header (From:, Date:, Message-ID: when missing),
 * and drops it into the outbound spool's maildrop/ directory (submit.c
 * builds the file, this file handles the command line, the ids and the
 * disk).
 *
 * Installed root:smtpgate-submit 2755 (set-group-id, never set-user-id):
 * maildrop/ is <service user>:<submit group> 1730, so only this program's
 * group may create files there, nobody but the daemon may list or read it,
 * and the sticky bit keeps each user to his own files.  The file's owner is
 * the submitting user: the daemon records that uid.
 *
 * Trust boundary: the caller is any local user, who controls the command
 * line (-C FILE), the environment, stdin, signals and resource limits.  At
 * start the effective group goes back to the real group (the saved
 * set-group-id is kept); it is raised again only around the calls that
 * create, rename, remove or probe inside maildrop/.  Everything else (the
 * config file, default or -C, the role marker, the password database,
 * stdin) is read with the user's own ids, so no message can show a byte of
 * a file the user could not read himself.  -bp drops the group for good
 * before it runs smtpgate-queue.
 *
 * The maildrop file: maildrop/.w.<unique> (a dot name the daemon skips)
 * created O_EXCL, written, fchmod 0644, fsynced, renamed to
 * maildrop/<unique> (no replace), fsynced again (maildrop/ cannot be opened
 * for reading by the group, and on a journalling file system this commits
 * the rename, which touched the file's inode; maildrop/ itself is fsynced
 * too when we may open it, e.g. as root), then the commit probe.  Content
 * (CRLF): "X-Sender: <addr>", one "X-Receiver: <addr>" per recipient,
 * "X-Smtpgate-Envelope: end", "Received: by <host> (smtpgate-sendmail,
 * from userid <uid>); <date>", the message.  Whatever the message itself
 * starts with (X-Receiver: ...) comes after the end line: message header,
 * never envelope.
 *
 * Choices (where sendmail implementations differ):
 *  - Recipients are the argument addresses plus, with -t, the To:, Cc: and
 *    Bcc: addresses -- or, when the message has any Resent-To:, Resent-Cc:
 *    or Resent-Bcc: field (it is being resent), those instead, as sendmail
 *    and Postfix do; duplicates dropped.
 *  - Bcc: and Resent-Bcc: are always removed here, so the file never
 *    carries them.
 *  - A full name (-F or the GECOS field) with bytes outside printable ASCII
 *    goes into From: as RFC 2047 encoded-words (UTF-8, "B"), else quoted.
 *  - An address without '@' is qualified with the config's hostname.
 *  - No recipient at all is EX_USAGE (64); a malformed address EX_DATAERR (65).
 *  - The daemon's limits are enforced here (pickup.h): more than
 *    PICKUP_MAX_SIZE bytes of input or of the file, or more than
 *    PICKUP_MAX_RCPTS distinct recipients, is EX_DATAERR (65) with one
 *    line, and nothing is left in maildrop/.
 *  - A leading mbox "From " line is dropped.  Lines are written with CRLF.
 *  - A NUL byte or a CR not followed by LF is EX_DATAERR (SMTP cannot carry it).
 *  - -bp (and running as "mailq") runs `smtpgate-queue -c FILE list` with
 *    the user's own ids only.
 *  - Accepted and ignored: -n -U -v -m, and with a value (attached or the
 *    next argument) -B -d -h -L -N -O -p -q -R -V -X; -oX (-oi is -i); -bm.
 *  - --help prints the usage, --version the version (exit 0); a bare -V as
 *    the only argument prints the version too (with others it is -V ENVID).
 *    A bare "-q"/"-d" at the end is accepted too.
 *  - Header addresses are not rewritten (only the envelope is qualified).
 *  - The config is loaded without secrets: the smart hosts'
 *    auth_password_file and ca_file are never opened.
 *  - Missing spool or maildrop/ is EX_TEMPFAIL (75): the daemon creates
 *    them; a spool whose role marker is not outbound is EX_CONFIG (78);
 *    permission denied on the spool or in maildrop/ (not installed
 *    set-group-id to the submission group, or the user cannot reach the
 *    spool) is EX_NOPERM (77); other write errors are EX_TEMPFAIL (75).
 *
 * Must not know: the queue format, SMTP, or anything about the running
 * daemon.  It never takes the spool lock, never creates the spool, and
 * never writes anywhere but maildrop/.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/stat.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "fsutil.h"
#include "id.h"
#include "log.h"
#include "pickup.h"
#include "submit.h"
#include "util.h"

#define PROG "smtpgate-sendmail"
#define NAME_TRIES 5		/* fresh names tried when one exists already */

struct strvec {
	char **v;
	size_t n, cap;
};

struct opts {
	const char *config;
	const char *sender;		/* -f / -r; NULL: login@hostname */
	const char *fullname;		/* -F */
	bool from_headers;		/* -t */
	bool dot_ok;			/* -i / -oi */
	bool list_queue;		/* -bp */
	struct strvec args;		/* recipient arguments, raw */
};

#if defined(__SANITIZE_ADDRESS__)		/* gcc */
#define SENDMAIL_ASAN 1
#elif defined(__has_feature)			/* clang */
#if __has_feature(address_sanitizer)
#define SENDMAIL_ASAN 1
#endif
#endif

#ifdef SENDMAIL_ASAN
const char *__asan_default_options(void);

/*
 * Sanitizer builds only: no leak check when running set-group-id.
 * LeakSanitizer stops the world with ptrace, which a set-group-id process
 * (not dumpable) refuses, so it would end every run with exit 1; nor can
 * ASAN_OPTIONS turn it off, as /proc/self/environ is root's then.  Runs
 * that are not set-group-id are still checked.
 */
const char *
__asan_default_options(void)
{
	return getauxval(AT_SECURE) ? "detect_leaks=0" : "";
}
#endif

/* The real group and the saved set-group-id (see priv_init). */
static gid_t priv_rgid, priv_sgid;
static bool priv_setgid;

/* Print "smtpgate-sendmail: ..." and exit with code. */
static _Noreturn void LOG_PRINTF(2, 3)
die(int code, const char *fmt, ...)
{
	va_list ap;

	fputs(PROG ": ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(code);
}

/* Set the effective group; a failure is fatal (never go on with the wrong one). */
static void
priv_set_egid(gid_t g)
{
	if (setresgid((gid_t)-1, g, (gid_t)-1) < 0 || getegid() != g)
		die(EX_OSERR, "cannot set the effective group to %lu: %s",
		    (unsigned long)g, strerror(errno));
}

/* At start: when set-group-id, run with the real group from now on,
 * keeping the saved set-group-id for priv_raise(). */
static void
priv_init(void)
{
	priv_rgid = getgid();
	priv_sgid = getegid();
	priv_setgid = priv_sgid != priv_rgid;
	if (priv_setgid)
		priv_set_egid(priv_rgid);
}

/* Take the submission group as the effective group (for maildrop/ only). */
static void
priv_raise(void)
{
	if (priv_setgid)
		priv_set_egid(priv_sgid);
}

/* Back to the user's own group, keeping errno. */
static void
priv_lower(void)
{
	int e = errno;

	if (priv_setgid)
		priv_set_egid(priv_rgid);
	errno = e;
}

/* Give the submission group up for good: real, effective and saved. */
static void
priv_drop(void)
{
	gid_t r, e, s;

	if (setresgid(priv_rgid, priv_rgid, priv_rgid) < 0 ||
	    getresgid(&r, &e, &s) < 0 || r != priv_rgid || e != priv_rgid || s != priv_rgid)
		die(EX_OSERR, "cannot give up the submission group: %s", strerror(errno));
	priv_setgid = false;
}

/* The exit code for a failed call: 77 when permission was denied, else 75. */
static int
errno_code(int e)
{
	return (e == EACCES || e == EPERM) ? EX_NOPERM : EX_TEMPFAIL;
}

/* Append a string to a vector. */
static void
strvec_push(struct strvec *sv, char *s)
{
	if (sv->n == sv->cap) {
		sv->cap = sv->cap ? sv->cap * 2 : 8;
		sv->v = xrealloc(sv->v, sv->cap * sizeof(*sv->v));
	}
	sv->v[sv->n++] = s;
}

#define SENDMAIL_USAGE "usage: " PROG " [-C FILE] [-f ADDR] [-F NAME] [-t] [-i] " \
	"[-bm|-bp] [--] [RECIPIENT...]\n       " PROG " -V | --version | --help"

/* Print the usage line and exit 64. */
static void
usage(void)
{
	die(EX_USAGE, SENDMAIL_USAGE);
}

/*
 * --help and --version anywhere before "--"; -V only when it is the sole
 * argument: with anything else it is sendmail's -V ENVID, taken and ignored.
 */
static void
parse_info_opts(int argc, char **argv)
{
	if (argc == 2 && strcmp(argv[1], "-V") == 0) {
		printf(PROG " %s\n", SMTPGATE_VERSION);
		exit(EX_OK);
	}
	for (int i = 1; i < argc && strcmp(argv[i], "--") != 0; i++) {
		if (strcmp(argv[i], "--version") == 0) {
			printf(PROG " %s\n", SMTPGATE_VERSION);
			exit(EX_OK);
		}
		if (strcmp(argv[i], "--help") == 0) {
			printf("%s\n", SENDMAIL_USAGE);
			exit(EX_OK);
		}
	}
}

/* Options taking a value (attached or the next argument) that are ignored. */
static bool
opt_ignored_with_value(int c)
{
	return strchr("BdhLNOpqRVX", c) != NULL;
}

/* Options without a value that are ignored. */
static bool
opt_ignored_flag(int c)
{
	return strchr("nUvm", c) != NULL;
}

/* Handle one option that takes a value. */
static void
opt_value(struct opts *o, int c, const char *val)
{
	switch (c) {
	case 'C':
		o->config = val;
		break;
	case 'f':
	case 'r':
		o->sender = val;
		break;
	case 'F':
		o->fullname = val;
		break;
	case 'o':
		/* -oi: dots are data; -oX anything else (-odb, -oem...) ignored */
		if (strcmp(val, "i") == 0)
			o->dot_ok = true;
		break;
	case 'b':
		if (strcmp(val, "m") == 0)
			o->list_queue = false;
		else if (strcmp(val, "p") == 0)
			o->list_queue = true;
		else
			die(EX_USAGE, "-b%s is not supported (only -bm and -bp)", val);
		break;
	default:
		break;		/* the ignored ones */
	}
}

/* true when option c needs a value. */
static bool
opt_takes_value(int c)
{
	return strchr("CfrFob", c) != NULL || opt_ignored_with_value(c);
}

/* Parse one "-xyz" cluster at argv[*ip] the way getopt would. */
static void
parse_cluster(struct opts *o, int argc, char **argv, int *ip)
{
	const char *a = argv[*ip] + 1;

	for (; *a != '\0'; a++) {
		int c = (unsigned char)*a;

		if (opt_takes_value(c)) {
			const char *val = a + 1;
			if (*val == '\0') {
				if (*ip + 1 < argc)
					val = argv[++*ip];
				else if (opt_ignored_with_value(c))
					val = "";	/* e.g. a bare "-q" */
				else
					die(EX_USAGE, "option -%c needs a value", c);
			}
			opt_value(o, c, val);
			return;
		}
		if (c == 't')
			o->from_headers = true;
		else if (c == 'i')
			o->dot_ok = true;
		else if (!opt_ignored_flag(c)) {
			fprintf(stderr, PROG ": unknown option -%c\n", c);
			usage();
		}
	}
}

/* Parse the command line into o. */
static void
parse_args(struct opts *o, int argc, char **argv)
{
	const char *base = strrchr(argv[0], '/');

	base = base ? base + 1 : argv[0];
	o->config = CONFIG_DEFAULT_OUTBOUND;
	if (strcmp(base, "mailq") == 0)
		o->list_queue = true;
	parse_info_opts(argc, argv);
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--") == 0) {
			while (++i < argc)
				strvec_push(&o->args, argv[i]);
			break;
		}
		if (argv[i][0] == '-' && argv[i][1] != '\0')
			parse_cluster(o, argc, argv, &i);
		else
			strvec_push(&o->args, argv[i]);
	}
}

/*
 * Read all of stdin into b, keeping at most limit + 1 bytes: beyond that
 * the rest is read and counted only, and the submission fails (65).
 */
static void
read_input(int fd, struct submit_buf *b, size_t limit)
{
	char chunk[65536];
	uintmax_t total = 0;

	for (;;) {
		ssize_t n = read(fd, chunk, sizeof(chunk));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			die(EX_IOERR, "reading the message from stdin: %s", strerror(errno));
		if (n == 0)
			break;
		total += (uintmax_t)n;
		if (total <= (uintmax_t)limit + 1)
			submit_buf_add(b, chunk, (size_t)n);
	}
	if (total > limit)
		die(EX_DATAERR, "message too large (%ju bytes, limit %zu)", total, limit);
	if (b->p == NULL)
		submit_buf_add(b, "", 0);
}

/* The invoking user's login name (getpwuid), or "uid<N>". */
static char *
login_name(const char **gecos)
{
	struct passwd *pw = getpwuid(getuid());

	*gecos = NULL;
	if (pw == NULL || pw->pw_name == NULL || pw->pw_name[0] == '\0')
		return xasprintf("uid%u", (unsigned)getuid());
	if (pw->pw_gecos != NULL && pw->pw_gecos[0] != '\0' && pw->pw_gecos[0] != ',')
		*gecos = pw->pw_gecos;
	return xstrdup(pw->pw_name);
}

/*
 * The envelope sender (-f/-r, or login@hostname; "" for the null sender)
 * and the From: address and name to use if the message has no From:.
 * Exits 65 on a bad -f address.
 */
static void
resolve_sender(const struct opts *o, const char *host, char sender[SMTP_ADDR_MAX + 1],
    char **from_addr, char **fullname)
{
	const char *why, *gecos;
	char *login = login_name(&gecos);
	char *raw = o->sender ? xstrdup(o->sender) : xasprintf("%s@%s", login, host);

	if (submit_addr_normalize(raw, host, o->sender != NULL, sender, &why) < 0)
		die(EX_DATAERR, "bad sender address \"%s\": %s", raw, why);
	if (o->fullname != NULL)
		*fullname = xstrdup(o->fullname);
	else if (o->sender == NULL && gecos != NULL)
		*fullname = xstrndup(gecos, strcspn(gecos, ","));
	else
		*fullname = NULL;
	*from_addr = sender[0] ? xstrdup(sender) : xasprintf("%s@%s", login, host);
	free(login);
	free(raw);
}

/* The value of the "role=" line of a marker text ("" when none). */
static const char *
marker_role(const char *text, size_t *len)
{
	const char *p = text;

	while (p != NULL) {
		if (strncmp(p, "role=", 5) == 0) {
			*len = strcspn(p + 5, "\r\n");
			return p + 5;
		}
		p = strchr(p, '\n');
		if (p != NULL)
			p++;
	}
	*len = 0;
	return "";
}

/* Refuse a spool whose role marker is not outbound (exit 78).  Read with
 * the user's own ids. */
static void
check_role(int spoolfd, const char *spool)
{
	char err[512];
	const char *role;
	size_t len;
	char *marker = fsutil_read_file(spoolfd, ".smtpgate", 65536, &len, err, sizeof(err));

	if (marker == NULL) {
		if (errno == ENOENT)
			return;		/* not initialised: maildrop/ decides below */
		die(errno_code(errno), "%s", err);
	}
	role = marker_role(marker, &len);
	if (len != 8 || strncmp(role, "outbound", 8) != 0)
		die(EX_CONFIG, "%s/.smtpgate: the spool's role is \"%.*s\", not outbound; "
		    "smtpgate-sendmail writes only into an outbound spool", spool,
		    (int)(len > 32 ? 32 : len), role);
	free(marker);
}

/* The spool and its maildrop/ as O_PATH descriptors (no read permission
 * needed: the spool is 0751, maildrop/ 1730); exits 75 when missing. */
static int
open_maildrop(const char *spool, int *spoolfd)
{
	int fd;

	*spoolfd = open(spool, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (*spoolfd < 0)
		die(errno_code(errno), "%s: %s (is smtpgate-outbound set up?)", spool,
		    strerror(errno));
	check_role(*spoolfd, spool);
	fd = openat(*spoolfd, "maildrop", O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		die(errno_code(errno), "%s/maildrop: %s (is smtpgate-outbound set up on "
		    "this spool?)", spool, strerror(errno));
	return fd;
}

/* Remove our maildrop/name (with the group) after a failure; keeps errno. */
static void
drop_undo(int dropfd, const char *name)
{
	int e = errno;

	priv_raise();
	(void)unlinkat(dropfd, name, 0);
	priv_lower();
	errno = e;
}

/* Undo and exit with the code for errno: "<spool>/maildrop/<name>: <what>: <error>". */
static _Noreturn void
drop_fail(int dropfd, const char *spool, const char *name, const char *what)
{
	int e = errno;

	drop_undo(dropfd, name);
	die(errno_code(e), "%s/maildrop/%s: %s: %s%s", spool, name, what, strerror(e),
	    (e == EACCES || e == EPERM) ? " (smtpgate-sendmail must be installed "
	    "set-group-id to the submission group that owns maildrop/)" : "");
}

/* Write all of b to fd; 0 or -1 with errno. */
static int
write_all(int fd, const struct submit_buf *b)
{
	size_t off = 0;

	while (off < b->len) {
		ssize_t n = write(fd, b->p + off, b->len - off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		off += (size_t)n;
	}
	return 0;
}

/*
 * Create maildrop/<wname> (with the group), write b, fchmod 0644, fsync.
 * Returns the open fd, or -1 when the name exists already; exits on errors.
 */
static int
drop_write(int dropfd, const char *spool, const char *wname, const struct submit_buf *b)
{
	int fd;

	priv_raise();
	fd = openat(dropfd, wname, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	priv_lower();
	if (fd < 0 && errno == EEXIST)
		return -1;
	if (fd < 0) {
		int e = errno;
		die(errno_code(e), "%s/maildrop/%s: create: %s%s", spool, wname, strerror(e),
		    (e == EACCES || e == EPERM) ? " (smtpgate-sendmail must be installed "
		    "set-group-id to the submission group that owns maildrop/)" : "");
	}
	if (write_all(fd, b) < 0)
		drop_fail(dropfd, spool, wname, "write");
	if (fchmod(fd, 0644) < 0)
		drop_fail(dropfd, spool, wname, "fchmod");
	if (fsync(fd) < 0)
		drop_fail(dropfd, spool, wname, "fsync");
	return fd;
}

/* Rename maildrop/<from> to maildrop/<to> without replacing; 0 or -1. */
static int
drop_rename(int dropfd, const char *from, const char *to)
{
	int rc;

	priv_raise();
	rc = renameat2(dropfd, from, dropfd, to, RENAME_NOREPLACE);
	if (rc < 0 && errno == EINVAL)
		rc = renameat(dropfd, from, dropfd, to);	/* no RENAME_NOREPLACE here */
	priv_lower();
	return rc;
}

/*
 * Before exit 0, prove that the file system still commits: a directory
 * made and removed in maildrop/.  When a journal commit fails, ext4 aborts
 * the journal and reports it to the one thread that waited for that commit
 * (the daemon's, say); an fsync that then finds the commit of our rename
 * already over returns 0.  Every journal operation fails from then on, so
 * one made now shows that the rename reached the disk.
 */
static void
commit_probe(int dropfd, const char *spool, const char *name)
{
	char probe[600];
	int rc;

	snprintf(probe, sizeof(probe), ".probe.%s", name);
	priv_raise();
	rc = mkdirat(dropfd, probe, 0700);
	if (rc == 0)
		rc = unlinkat(dropfd, probe, AT_REMOVEDIR);
	priv_lower();
	if (rc < 0)
		die(EX_TEMPFAIL, "%s/maildrop/%s: the file system takes no more changes: %s "
		    "(the message may not be queued)", spool, probe, strerror(errno));
}

/*
 * Make the rename durable: fsync the file again (its inode changed with
 * the rename, so a journalling file system commits the rename with it),
 * and maildrop/ itself when we may open it (root, the owner).
 */
static void
drop_sync(int fd, int spoolfd, const char *spool, const char *name)
{
	char err[1024];
	int dfd;

	if (fsync(fd) < 0 || close(fd) < 0)
		die(EX_TEMPFAIL, "%s/maildrop/%s: fsync after the rename: %s (the message "
		    "may not be queued)", spool, name, strerror(errno));
	dfd = openat(spoolfd, "maildrop", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (dfd < 0)
		return;		/* the group may not read maildrop/: the file fsync did it */
	if (fsutil_fsync_dirfd(dfd, "maildrop", err, sizeof(err)) < 0)
		die(EX_TEMPFAIL, "%s/%s (the message may not be queued)", spool, err);
	close(dfd);
}

/* Write the maildrop file (see the top of this file). */
static void
deliver(const char *spool, const char *host, const struct submit_buf *b)
{
	char name[512], wname[520];
	int spoolfd, dropfd, fd = -1;

	dropfd = open_maildrop(spool, &spoolfd);
	for (int tries = 0; fd < 0; tries++) {
		if (tries == NAME_TRIES)
			die(EX_TEMPFAIL, "%s/maildrop: no free name after %d tries", spool, tries);
		fsutil_maildir_name(name, sizeof(name), host, b->len);
		snprintf(wname, sizeof(wname), ".w.%s", name);
		fd = drop_write(dropfd, spool, wname, b);
		if (fd >= 0 && drop_rename(dropfd, wname, name) < 0) {
			if (errno != EEXIST)
				drop_fail(dropfd, spool, wname, "rename");
			drop_undo(dropfd, wname);
			close(fd);
			fd = -1;
		}
	}
	drop_sync(fd, spoolfd, spool, name);
	commit_probe(dropfd, spool, name);
	close(dropfd);
	close(spoolfd);
}

/* -bp: run smtpgate-queue list (next to this program, else on PATH), with
 * the submission group given up for good first. */
static _Noreturn void
list_queue(const char *config)
{
	char self[PATH_MAX], *slash;
	ssize_t n;
	char *argv[] = { (char *)"smtpgate-queue", (char *)"-c", (char *)config, (char *)"list", NULL };

	priv_drop();
	n = readlink("/proc/self/exe", self, sizeof(self) - 32);
	if (n > 0) {
		self[n] = '\0';
		slash = strrchr(self, '/');
		if (slash != NULL) {
			strcpy(slash + 1, "smtpgate-queue");
			execv(self, argv);
		}
	}
	execvp("smtpgate-queue", argv);
	die(EX_UNAVAILABLE, "cannot run smtpgate-queue: %s", strerror(errno));
}

/* Build the maildrop file for the message in raw; exits on any error. */
static void
build(const struct opts *o, const char *host, const struct submit_buf *raw,
    struct submit_buf *out)
{
	struct submit_msg m;
	struct submit_rcpts rcpts = { 0 };
	char err[1024], sender[SMTP_ADDR_MAX + 1], *from_addr, *fullname, *msgid;
	char id[ID_LEN + 1];
	int rc;

	resolve_sender(o, host, sender, &from_addr, &fullname);
	if ((rc = submit_parse(raw->p, raw->len, o->dot_ok, &m, err, sizeof(err))) != 0)
		die(rc, "%s", err);
	rc = submit_recipients(&m, o->args.v, o->args.n, o->from_headers, host,
	    PICKUP_MAX_RCPTS, &rcpts, err, sizeof(err));
	if (rc != 0)
		die(rc, "%s", err);
	id_generate(id);
	msgid = xasprintf("%s.%ld", id, (long)getpid());
	submit_build(out, &m, &(struct submit_envelope){ .sender = sender, .rcpts = &rcpts,
	    .from_addr = from_addr, .fullname = fullname, .host = host,
	    .uid = (unsigned long)getuid(), .now = time(NULL), .msgid = msgid });
	if (out->len > PICKUP_MAX_SIZE)
		die(EX_DATAERR, "message too large (%zu bytes, limit %u)", out->len,
		    PICKUP_MAX_SIZE);
	free(msgid);
	free(from_addr);
	free(fullname);
	submit_rcpts_free(&rcpts);
	submit_msg_free(&m);
}

int
main(int argc, char **argv)
{
	struct opts o = { 0 };
	struct outbound_config *cfg;
	struct submit_buf raw = { 0 }, out = { 0 };
	char err[1024];

	priv_init();			/* before anything else: the user's own group */
	signal(SIGXFSZ, SIG_IGN);	/* a file size limit fails write(), checked */
	log_init(PROG, LOG_TARGET_STDERR);
	parse_args(&o, argc, argv);
	if (o.list_queue)
		list_queue(o.config);
	cfg = config_load_outbound_opts(o.config, CONFIG_NO_SECRETS, err, sizeof(err));
	if (cfg == NULL)
		die(EX_CONFIG, "%s", err);
	read_input(STDIN_FILENO, &raw, PICKUP_MAX_SIZE);
	build(&o, cfg->hostname, &raw, &out);
	deliver(cfg->spool, cfg->hostname, &out);
	free(o.args.v);
	submit_buf_free(&raw);
	submit_buf_free(&out);
	config_free_outbound(cfg);
	return EX_OK;
}
