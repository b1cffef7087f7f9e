/*
 * smtpgate-sendmail: the sendmail-compatible injector.  Reads a message on
 * stdin, completes its header (From:, Date:, Message-ID: when missing),
 * and drops it into the outbound spool's maildrop/ directory (submit.c
 * builds the file, maildrop.c writes it with the set-group-id discipline,
 * this file handles the command line and the modes).  With -bs it speaks
 * SMTP on stdin/stdout instead (submit_bs.c the dialogue, sendmail_bs.c
 * the descriptors) and drops each accepted message the same way.
 *
 * Installed root:smtpgate-submit 2755 (set-group-id, never set-user-id):
 * maildrop/ is <service user>:<submit group> 1730, so only this program's
 * group may create files there, nobody but the daemon may list or read it,
 * and the sticky bit keeps each user to his own files.  The file's owner is
 * the submitting user: the daemon records that uid.
 *
 * Trust boundary: the caller is any local user, who controls the command
 * line (-C FILE), the environment, stdin, signals and resource limits.  At
 * start the effective group goes back to the real group (maildrop.c); it
 * is raised again only around the calls that create, rename, remove or
 * probe inside maildrop/.  Everything else (the config file, default or
 * -C, the role marker, the password database, stdin, the -bs dialogue) is
 * read with the user's own ids, so no message or reply can show a byte of
 * a file the user could not read himself.  -bp drops the group for good
 * before it runs smtpgate-queue.
 *
 * The maildrop file (see maildrop.c for how it is written).  Content
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
 *  - -f/-r take an address list as Postfix does and use its first address:
 *    "App <x@example.org>", "<x@example.org>", "x@example.org (App)" are
 *    x@example.org; "" and "<>" the null sender; more than one address is
 *    a warning on stderr.
 *  - -bs: the SMTP dialogue of submit_bs.h; recipients or -t with it are
 *    EX_USAGE.  Each message gets "250" only once its file is durable in
 *    maildrop/ ("451" when it could not be written, and the session goes
 *    on); exit 0 after QUIT or an end of input between commands, 76 when
 *    the input ends inside DATA (that message is not queued).
 *  - -bv: no message is read and none is sent (Postfix mails a report;
 *    this prints it): one line per address on stdout, "deliverable" with
 *    the qualified address and the first smart host, or "undeliverable"
 *    with the reason; exit 0 when all are deliverable, else 65.
 *  - -q, -qR<site>, -qI<id>: exit 0 with one line on stderr saying the
 *    daemon retries by itself; -q<interval> likewise and, as in Postfix,
 *    whatever else the command line says (nothing is read or sent).
 *    -q with recipients or -q<other letter> is EX_USAGE.
 *  - -bi, -I and running as "newaliases": exit 0 with one line (there is
 *    no alias database); with recipients EX_USAGE.
 *  - -bd, -bl (a daemon) and other -b letters are EX_USAGE.
 *  - Accepted and ignored: -n -U -v -m -G, and with a value (attached or
 *    the next argument) -A -B -d -h -L -N -O -p -R -V -X; -oX (-oi is -i).
 *  - --help prints the usage, --version the version (exit 0); a bare -V as
 *    the only argument prints the version too (with others it is -V ENVID).
 *    A bare "-d" at the end is accepted too.
 *  - Header addresses are not rewritten (only the envelope is qualified).
 *  - The config is loaded without secrets: the smart hosts'
 *    auth_password_file and ca_file are never opened.
 *  - Missing spool or maildrop/ is EX_TEMPFAIL (75): the daemon creates
 *    them; a spool whose role marker is not outbound is EX_CONFIG (78);
 *    permission denied on the spool or in maildrop/ (not installed
 *    set-group-id to the submission group, or the user cannot reach the
 *    spool) is EX_NOPERM (77); other write errors are EX_TEMPFAIL (75).
 *
 * Must not know: the queue format, the SMTP protocol (submit_bs.c does),
 * or anything about the running daemon.  It never takes the spool lock, never creates the spool, and
 * never writes anywhere but maildrop/.
 */
#include <ctype.h>
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

#include "addrlist.h"
#include "config.h"
#include "fsutil.h"
#include "id.h"
#include "log.h"
#include "maildrop.h"
#include "pickup.h"
#include "sendmail_bs.h"
#include "rewrite.h"
#include "submit.h"
#include "submit_bs.h"
#include "util.h"

#define PROG "smtpgate-sendmail"

struct strvec {
	char **v;
	size_t n, cap;
};

/* What the command line asks for (-b<letter>, -q, or the program's name). */
enum sm_mode {
	MODE_DELIVER,		/* -bm, the default */
	MODE_MAILQ,		/* -bp, mailq */
	MODE_ALIASES,		/* -bi, -I, newaliases */
	MODE_FLUSH,		/* -q, -qR<site>, -qI<id> */
	MODE_SMTP,		/* -bs */
	MODE_VERIFY,		/* -bv */
};

struct opts {
	const char *config;
	const char *sender;		/* -f / -r (first address); NULL: login@hostname */
	char *sender_buf;		/* what sender points to when set */
	enum sm_mode mode;
	const char *qinterval;		/* -q<interval> */
	const char *flush;		/* -q's value: "", "R<site>", "I<id>" */
	const char *fullname;		/* -F */
	bool from_headers;		/* -t */
	bool dot_ok;			/* -i / -oi */
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

/* Print "smtpgate-sendmail: ..." and exit with code (util_die). */
#define die(...) util_die(PROG, __VA_ARGS__)

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
	"[-bm|-bv] [--] [RECIPIENT...]\n       " PROG " [-C FILE] -bs | -bp | -bi | -q\n" \
	"       " PROG " -V | --version | --help"

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
	return strchr("BdhLNOpRVXA", c) != NULL;
}

/* Options without a value that are ignored. */
static bool
opt_ignored_flag(int c)
{
	return strchr("nUvmG", c) != NULL;
}

/* -b<val>: the mode (Postfix's letters; -bd and -bl would be a daemon). */
static void
opt_mode(struct opts *o, const char *val)
{
	static const struct {
		const char *letter;
		enum sm_mode mode;
	} modes[] = {
		{ "m", MODE_DELIVER }, { "p", MODE_MAILQ }, { "i", MODE_ALIASES },
		{ "s", MODE_SMTP }, { "v", MODE_VERIFY },
	};

	for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++)
		if (strcmp(val, modes[i].letter) == 0) {
			o->mode = modes[i].mode;
			return;
		}
	if (strcmp(val, "d") == 0 || strcmp(val, "l") == 0)
		die(EX_USAGE, "-b%s is not supported: smtpgate-outbound is the daemon, "
		    "started by its own unit", val);
	die(EX_USAGE, "-b%s is not supported (-bm, -bs, -bv, -bp, -bi are)", val);
}

/*
 * -q[...], the value attached only (a bare "-q" is a queue run, as in
 * Postfix): "-q" / "-qR<site>" / "-qI<id>" ask for a queue run now,
 * "-q<interval>" (a digit first) for periodic runs.
 */
static void
opt_queue(struct opts *o, const char *val)
{
	if (isdigit((unsigned char)val[0])) {
		o->qinterval = val;
		return;
	}
	if ((val[0] == 'R' || val[0] == 'I') && val[1] == '\0')
		die(EX_USAGE, "specify -q%c%s", val[0], val[0] == 'R' ? "site" : "queueid");
	if (val[0] != '\0' && val[0] != 'R' && val[0] != 'I')
		die(EX_USAGE, "-q%c is not supported (-q, -q<interval>, -qR<site>, "
		    "-qI<queueid> are)", val[0]);
	o->mode = MODE_FLUSH;
	o->flush = val;
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
		opt_mode(o, val);
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

		if (c == 'q') {
			opt_queue(o, a + 1);
			return;
		}
		if (opt_takes_value(c)) {
			const char *val = a + 1;
			if (*val == '\0') {
				if (*ip + 1 < argc)
					val = argv[++*ip];
				else if (opt_ignored_with_value(c))
					val = "";	/* e.g. a bare "-d" */
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
		else if (c == 'I')
			o->mode = MODE_ALIASES;		/* Postfix: -I is -bi */
		else if (!opt_ignored_flag(c)) {
			fprintf(stderr, PROG ": unknown option -%c\n", c);
			usage();
		}
	}
}

/*
 * -f/-r as Postfix reads them: an address list of which the first address
 * is the sender, so "App <x@example.org>", "<x@example.org>" and
 * "x@example.org (App)" all give x@example.org; "" or "<>" the null sender.
 */
static void
sender_from_option(struct opts *o)
{
	struct addrlist l = { 0 };

	if (o->sender == NULL)
		return;
	addrlist_split(o->sender, strlen(o->sender), &l);
	if (l.n > 1)
		fprintf(stderr, PROG ": warning: -f \"%s\" holds %zu addresses; the first "
		    "is the sender\n", o->sender, l.n);
	o->sender = o->sender_buf = xstrdup(l.n > 0 ? l.addrs[0] : "");
	addrlist_free(&l);
}

/* Parse the command line into o. */
static void
parse_args(struct opts *o, int argc, char **argv)
{
	const char *base = strrchr(argv[0], '/');

	base = base ? base + 1 : argv[0];
	o->config = CONFIG_DEFAULT_OUTBOUND;
	if (strcmp(base, "mailq") == 0)
		o->mode = MODE_MAILQ;
	else if (strcmp(base, "newaliases") == 0)
		o->mode = MODE_ALIASES;
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
	sender_from_option(o);
}

/*
 * The modes that need no message, answered as Postfix answers them but
 * saying what happens: -q<interval> (before anything else, whatever the
 * mode), -q / -qR / -qI, -bi.  Returns only for the other modes.
 */
static void
run_info_modes(const struct opts *o)
{
	if (o->qinterval != NULL)
		die(EX_OK, "-q%s: ignored: smtpgate-outbound runs its queue by itself "
		    "(retry_min/retry_max in the configuration)", o->qinterval);
	if ((o->mode == MODE_FLUSH || o->mode == MODE_ALIASES || o->mode == MODE_SMTP) &&
	    o->args.n > 0)
		die(EX_USAGE, "%s takes no recipients", o->mode == MODE_FLUSH ? "-q" :
		    o->mode == MODE_SMTP ? "-bs" : "-bi (newaliases)");
	if ((o->mode == MODE_SMTP || o->mode == MODE_VERIFY) && o->from_headers)
		die(EX_USAGE, "-t can be used only in delivery mode");
	if (o->mode == MODE_FLUSH)
		die(EX_OK, "-q%s: nothing to do: smtpgate-outbound retries deferred mail by "
		    "itself; `smtpgate-queue retry all` (root) tries them now", o->flush);
	if (o->mode == MODE_ALIASES)
		die(EX_OK, "-bi (newaliases): nothing to do: there is no alias database, "
		    "every address goes to the smart host as written (qualified with the "
		    "hostname when it has no domain)");
}

/*
 * Read all of stdin into b, keeping at most limit + 1 bytes: beyond that
 * the rest is read and counted only, and the submission fails (65).
 */
static void
read_input(int fd, struct strbuf *b, size_t limit)
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
			strbuf_add(b, chunk, (size_t)n);
	}
	if (total > limit)
		die(EX_DATAERR, "message too large (%ju bytes, limit %zu)", total, limit);
	if (b->p == NULL)
		strbuf_add(b, "", 0);
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

/* -bp: run smtpgate-queue list (next to this program, else on PATH), with
 * the submission group given up for good first. */
static _Noreturn void
list_queue(const char *config)
{
	char self[PATH_MAX], *slash;
	ssize_t n;
	char *argv[] = { (char *)"smtpgate-queue", (char *)"-c", (char *)config, (char *)"list", NULL };

	maildrop_priv_drop();
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
build(const struct opts *o, const char *host, const struct strbuf *raw,
    struct strbuf *out)
{
	struct submit_msg m;
	struct addrset rcpts = { 0 };
	char err[1024], sender[SMTP_ADDR_MAX + 1], *from_addr, *fullname, *msgid;
	char id[ID_LEN + 1];
	int rc;

	resolve_sender(o, host, sender, &from_addr, &fullname);
	if ((rc = submit_parse(raw->p, raw->len, o->dot_ok, &m, err, sizeof(err))) != 0)
		die(rc, "%s", err);
	rc = submit_recipients(&m, &(struct submit_rcpt_args){ .args = o->args.v,
	    .nargs = o->args.n, .from_headers = o->from_headers, .host = host,
	    .max = PICKUP_MAX_RCPTS }, &rcpts, err, sizeof(err));
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
	addrset_free(&rcpts);
	submit_msg_free(&m);
}

/*
 * -bv: verify each recipient argument as far as this host can, without
 * sending anything: the address list syntax, the qualification with the
 * hostname, the address the daemon would be given.  One line per address
 * on stdout; exit 0 when all look deliverable, 65 when one does not.
 */
static int
verify(const struct opts *o, const struct outbound_config *cfg)
{
	struct rewrite_policy *pol = rewrite_policy_new(cfg);
	int bad = 0, seen = 0;

	for (size_t i = 0; i < o->args.n; i++) {
		struct addrlist l = { 0 };
		char **v;

		addrlist_split(o->args.v[i], strlen(o->args.v[i]), &l);
		v = l.addrs;
		for (size_t j = 0; j < l.n; j++, seen++) {
			char addr[SMTP_ADDR_MAX + 1];
			const char *why;

			if (submit_addr_normalize(v[j], cfg->hostname, false, addr, &why) < 0) {
				printf("%s: undeliverable: %s\n", v[j], why);
				bad++;
			} else if (pol != NULL && pol->admin_address != NULL &&
			    rewrite_is_local(pol, addr))
				printf("%s: deliverable: <%s> is local: to <%s> (admin_address)"
				    " via smart host %s:%u\n", v[j], addr, pol->admin_address,
				    cfg->smarthosts[0].host, cfg->smarthosts[0].port);
			else
				printf("%s: deliverable: <%s> via smart host %s:%u\n", v[j], addr,
				    cfg->smarthosts[0].host, cfg->smarthosts[0].port);
		}
		addrlist_free(&l);
	}
	rewrite_policy_free(pol);
	if (seen == 0)
		die(EX_USAGE, "-bv: no recipients: give the addresses to verify as arguments");
	return bad > 0 ? EX_DATAERR : EX_OK;
}

/* What bs_put() needs besides the session. */
struct bs_ctx {
	const struct opts *o;
	const struct outbound_config *cfg;
};

/*
 * -bs: build the maildrop file of the session's complete message exactly
 * as -bm does (same Received: line and uid, same completed header, same
 * limits) and write it; the reply says whether it is in maildrop/.
 */
static void
bs_put(void *arg, const struct submit_bs *s, char *reply, size_t replysz)
{
	const struct bs_ctx *c = arg;
	struct opts o = *c->o;
	const char *host = c->cfg->hostname;
	struct strbuf out = { 0 };
	struct submit_msg m;
	struct maildrop *md = NULL;
	char err[1024], sender[SMTP_ADDR_MAX + 1], *from_addr, *fullname, *msgid;
	char id[ID_LEN + 1], name[MAILDROP_NAME_MAX];
	size_t len;
	const char *data = submit_bs_data(s, &len);
	int rc;

	o.sender = submit_bs_sender(s);
	if (submit_parse(data, len, true, &m, err, sizeof(err)) != 0) {
		snprintf(reply, replysz, "554 5.6.0 Error: message content rejected: %s", err);
		return;
	}
	resolve_sender(&o, host, sender, &from_addr, &fullname);
	id_generate(id);
	msgid = xasprintf("%s.%ld", id, (long)getpid());
	submit_build(&out, &m, &(struct submit_envelope){ .sender = sender,
	    .rcpts = submit_bs_rcpts(s), .from_addr = from_addr, .fullname = fullname,
	    .host = host, .uid = (unsigned long)getuid(), .now = time(NULL), .msgid = msgid });
	if (out.len > PICKUP_MAX_SIZE)
		snprintf(reply, replysz, "552 5.3.4 Message size exceeds fixed limit");
	else if ((rc = maildrop_open(c->cfg->spool, &md, err, sizeof(err))) != 0 ||
	    (rc = maildrop_put(md, host, &out, name, err, sizeof(err))) != 0) {
		fprintf(stderr, PROG ": %s\n", err);
		snprintf(reply, replysz, "451 %s Error: queue file write error: %.700s",
		    rc == EX_TEMPFAIL ? "4.3.0" : "4.3.5", err);
	} else
		snprintf(reply, replysz, "250 2.0.0 Ok: queued as %s", name);
	maildrop_close(md);
	free(msgid);
	free(from_addr);
	free(fullname);
	strbuf_free(&out);
	submit_msg_free(&m);
}

/* -bs: the SMTP dialogue on stdin/stdout; returns the exit code. */
static int
smtp_session(const struct opts *o, const struct outbound_config *cfg)
{
	struct bs_ctx c = { .o = o, .cfg = cfg };

	signal(SIGPIPE, SIG_IGN);	/* a client gone is a failed write, checked */
	return sendmail_bs_run(STDIN_FILENO, STDOUT_FILENO, &(struct submit_bs_params){
	    .hostname = cfg->hostname, .max_size = PICKUP_MAX_SIZE,
	    .max_rcpts = PICKUP_MAX_RCPTS }, bs_put, &c);
}

int
main(int argc, char **argv)
{
	struct opts o = { 0 };
	struct outbound_config *cfg;
	struct strbuf raw = { 0 }, out = { 0 };
	struct maildrop *md;
	char err[1024], name[MAILDROP_NAME_MAX];
	int rc;

	maildrop_priv_init();		/* before anything else: the user's own group */
	signal(SIGXFSZ, SIG_IGN);	/* a file size limit fails write(), checked */
	log_init(PROG, LOG_TARGET_STDERR);
	parse_args(&o, argc, argv);
	run_info_modes(&o);
	if (o.mode == MODE_MAILQ)
		list_queue(o.config);
	cfg = config_load_outbound_opts(o.config, CONFIG_NO_SECRETS, err, sizeof(err));
	if (cfg == NULL)
		die(EX_CONFIG, "%s", err);
	if (o.mode == MODE_VERIFY || o.mode == MODE_SMTP) {
		rc = o.mode == MODE_VERIFY ? verify(&o, cfg) : smtp_session(&o, cfg);
		config_free_outbound(cfg);
		free(o.sender_buf);
		free(o.args.v);
		return rc;
	}
	read_input(STDIN_FILENO, &raw, PICKUP_MAX_SIZE);
	build(&o, cfg->hostname, &raw, &out);
	if ((rc = maildrop_open(cfg->spool, &md, err, sizeof(err))) != 0 ||
	    (rc = maildrop_put(md, cfg->hostname, &out, name, err, sizeof(err))) != 0)
		die(rc, "%s", err);
	maildrop_close(md);
	free(o.sender_buf);
	free(o.args.v);
	strbuf_free(&raw);
	strbuf_free(&out);
	config_free_outbound(cfg);
	return EX_OK;
}
