/*
 * smtpgate-sendmail: the sendmail-compatible injector.  Reads a message on
 * stdin, completes its header (From:, Date:, Message-ID: when missing),
 * and drops it into the outbound spool's pickup/ directory as a pickup file
 * led by "X-Sender:" and "X-Receiver:" envelope lines.  The file is written
 * in <spool>/tmp/, fsynced, renamed into pickup/, and pickup/ is fsynced.
 *
 * Choices (where sendmail implementations differ):
 *  - Recipients are the argument addresses plus, with -t, the To:, Cc: and
 *    Bcc: addresses -- or, when the message has any Resent-To:, Resent-Cc:
 *    or Resent-Bcc: field (it is being resent), those instead, as sendmail
 *    and Postfix do; duplicates dropped.
 *  - Bcc: and Resent-Bcc: are always removed here, so the pickup file never
 *    carries them.
 *  - A full name (-F or the GECOS field) with bytes outside printable ASCII
 *    goes into From: as RFC 2047 encoded-words (UTF-8, "B"), else quoted.
 *  - An address without '@' is qualified with the config's hostname.
 *  - No recipient at all is EX_USAGE (64); a malformed address EX_DATAERR (65).
 *  - A leading mbox "From " line is dropped.  Lines are written with CRLF.
 *  - A NUL byte or a CR not followed by LF is EX_DATAERR (SMTP cannot carry it).
 *  - -bp (and running as "mailq") runs `smtpgate-queue -c FILE list`.
 *  - Accepted and ignored: -n -U -v -m, and with a value (attached or the
 *    next argument) -B -d -h -L -N -O -p -q -R -V -X; -oX (-oi is -i); -bm.
 *    A bare "-q"/"-d" at the end is accepted too.
 *  - Header addresses are not rewritten (only the envelope is qualified).
 *  - Missing spool or pickup/ is EX_TEMPFAIL (75): the daemon creates them;
 *    a spool whose role marker is not outbound is EX_CONFIG (78).
 *
 * Must not know: the queue format, SMTP, or anything about the running
 * daemon.  It never takes the spool lock and never creates the spool.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "config.h"
#include "fsutil.h"
#include "id.h"
#include "log.h"
#include "smtp_addr.h"
#include "util.h"

#define PROG "smtpgate-sendmail"

struct strvec {
	char **v;
	size_t n, cap;
};

struct buf {
	char *p;
	size_t len, cap;
};

struct line {
	const char *p;
	size_t len;
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

/* true when s is already in the vector. */
static bool
strvec_has(const struct strvec *sv, const char *s)
{
	for (size_t i = 0; i < sv->n; i++)
		if (strcmp(sv->v[i], s) == 0)
			return true;
	return false;
}

/* Append n bytes to a buffer. */
static void
buf_add(struct buf *b, const char *p, size_t n)
{
	if (b->len + n + 1 > b->cap) {
		while (b->len + n + 1 > b->cap)
			b->cap = b->cap ? b->cap * 2 : 4096;
		b->p = xrealloc(b->p, b->cap);
	}
	memcpy(b->p + b->len, p, n);
	b->len += n;
	b->p[b->len] = '\0';
}

/* Append a NUL-terminated string. */
static void
buf_adds(struct buf *b, const char *s)
{
	buf_add(b, s, strlen(s));
}

/* Append one line and CRLF. */
static void
buf_addline(struct buf *b, const char *p, size_t n)
{
	buf_add(b, p, n);
	buf_add(b, "\r\n", 2);
}

static void
usage(void)
{
	die(EX_USAGE, "usage: " PROG " [-C FILE] [-f ADDR] [-F NAME] [-t] [-i] "
	    "[-bm|-bp] [--] [RECIPIENT...]");
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

/* Read all of fd into b. */
static void
read_all(int fd, struct buf *b)
{
	char chunk[65536];

	for (;;) {
		ssize_t n = read(fd, chunk, sizeof(chunk));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			die(EX_IOERR, "reading the message from stdin: %s", strerror(errno));
		if (n == 0)
			break;
		buf_add(b, chunk, (size_t)n);
	}
}

/* Refuse what SMTP cannot carry (the daemon would set it aside in bad/). */
static void
check_line(const char *p, size_t len, size_t lineno)
{
	if (memchr(p, '\0', len) != NULL)
		die(EX_DATAERR, "line %zu of the message: NUL byte", lineno);
	if (memchr(p, '\r', len) != NULL)
		die(EX_DATAERR, "line %zu of the message: CR not followed by LF", lineno);
}

/*
 * Split raw input into lines (LF or CRLF), stopping at a lone "." unless
 * dot_ok; a leading mbox "From " line is dropped.  Returns the count.
 */
static size_t
split_lines(const struct buf *raw, bool dot_ok, struct line **out)
{
	size_t n = 0, cap = 0, pos = 0, lineno = 0;
	struct line *v = NULL;

	while (pos < raw->len) {
		const char *p = raw->p + pos;
		const char *nl = memchr(p, '\n', raw->len - pos);
		size_t len = nl ? (size_t)(nl - p) : raw->len - pos;

		pos += len + (nl ? 1 : 0);
		lineno++;
		if (len > 0 && p[len - 1] == '\r')
			len--;
		check_line(p, len, lineno);
		if (!dot_ok && len == 1 && p[0] == '.')
			break;
		if (n == 0 && len >= 5 && memcmp(p, "From ", 5) == 0)
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 256;
			v = xrealloc(v, cap * sizeof(*v));
		}
		v[n].p = p;
		v[n].len = len;
		n++;
	}
	*out = v;
	return n;
}

/* Length of the field name when l starts a header field ("Name:"), else 0. */
static size_t
header_name_len(const struct line *l)
{
	size_t i = 0;

	while (i < l->len && l->p[i] >= 33 && l->p[i] <= 126 && l->p[i] != ':')
		i++;
	if (i == 0)
		return 0;
	size_t name = i;
	while (i < l->len && (l->p[i] == ' ' || l->p[i] == '\t'))
		i++;
	return (i < l->len && l->p[i] == ':') ? name : 0;
}

/* true when l continues a folded header field. */
static bool
is_continuation(const struct line *l)
{
	return l->len > 0 && (l->p[0] == ' ' || l->p[0] == '\t');
}

/* true when the field starting at l is named name (case-insensitive). */
static bool
field_is(const struct line *l, const char *name)
{
	size_t n = header_name_len(l);

	return n == strlen(name) && strncasecmp(l->p, name, n) == 0;
}

/* A parsed message: header fields as line ranges, then the body. */
struct message {
	struct line *lines;
	size_t nlines;
	size_t nheader;		/* header lines are lines[0..nheader) */
	size_t body;		/* body starts at lines[body] */
};

/* Find where the header ends and the body starts. */
static void
message_split(struct message *m)
{
	size_t i = 0;

	while (i < m->nlines) {
		if (header_name_len(&m->lines[i]) > 0 ||
		    (i > 0 && is_continuation(&m->lines[i])))
			i++;
		else
			break;
	}
	m->nheader = i;
	m->body = i;
	if (i < m->nlines && m->lines[i].len == 0)
		m->body = i + 1;	/* skip the separator; we write our own */
}

/* Index just past the field starting at header line i. */
static size_t
field_end(const struct message *m, size_t i)
{
	i++;
	while (i < m->nheader && is_continuation(&m->lines[i]))
		i++;
	return i;
}

/* true when the header has a field named name. */
static bool
message_has(const struct message *m, const char *name)
{
	for (size_t i = 0; i < m->nheader; i = field_end(m, i))
		if (field_is(&m->lines[i], name))
			return true;
	return false;
}

/* The unfolded value of the field at line i (malloc'd). */
static char *
field_value(const struct message *m, size_t i)
{
	struct buf b = { 0 };
	const struct line *l = &m->lines[i];
	const char *colon = memchr(l->p, ':', l->len);
	size_t end = field_end(m, i);

	buf_add(&b, colon + 1, l->len - (size_t)(colon + 1 - l->p));
	for (size_t j = i + 1; j < end; j++)
		buf_add(&b, m->lines[j].p, m->lines[j].len);
	if (b.p == NULL)
		buf_add(&b, "", 0);
	return b.p;
}

/* Skip a (possibly nested) comment starting at s[*i] == '('. */
static void
skip_comment(const char *s, size_t len, size_t *i)
{
	int depth = 0;

	for (; *i < len; (*i)++) {
		if (s[*i] == '\\' && *i + 1 < len)
			(*i)++;
		else if (s[*i] == '(')
			depth++;
		else if (s[*i] == ')' && --depth == 0)
			return;
	}
}

/* Copy a quoted string starting at s[*i] == '"' into b (quotes kept). */
static void
copy_quoted(const char *s, size_t len, size_t *i, struct buf *b)
{
	buf_add(b, "\"", 1);
	for ((*i)++; *i < len && s[*i] != '"'; (*i)++) {
		if (s[*i] == '\\' && *i + 1 < len)
			buf_add(b, &s[(*i)++], 1);
		buf_add(b, &s[*i], 1);
	}
	buf_add(b, "\"", 1);
}

/* Emit the mailbox collected so far (angle address preferred). */
static void
addrlist_flush(struct buf *plain, struct buf *angle, bool had_angle, struct strvec *out)
{
	struct buf *use = had_angle ? angle : plain;

	if (use->len > 0)
		strvec_push(out, xstrndup(use->p, use->len));
	plain->len = angle->len = 0;
}

/*
 * Split an RFC 5322 address list ("A <a@x>, b@y, grp: c@z;") into bare
 * address texts, dropping display names, comments and group names.
 */
static void
addrlist_split(const char *s, size_t len, struct strvec *out)
{
	struct buf plain = { 0 }, angle = { 0 };
	bool in_angle = false, had_angle = false;

	for (size_t i = 0; i < len; i++) {
		char c = s[i];
		struct buf *cur = in_angle ? &angle : &plain;

		if (c == '(') {
			skip_comment(s, len, &i);
		} else if (c == '"') {
			copy_quoted(s, len, &i, cur);
		} else if (c == '<' && !in_angle) {
			in_angle = had_angle = true;
			angle.len = 0;
		} else if (c == '>' && in_angle) {
			in_angle = false;
		} else if (!in_angle && (c == ',' || c == ';')) {
			addrlist_flush(&plain, &angle, had_angle, out);
			had_angle = false;
		} else if (!in_angle && c == ':') {
			plain.len = 0;		/* a group name */
		} else if (c != ' ' && c != '\t' && c != '\r' && c != '\n') {
			buf_add(cur, &c, 1);
		}
	}
	addrlist_flush(&plain, &angle, had_angle, out);
	free(plain.p);
	free(angle.p);
}

/*
 * Turn a bare address into "local@domain" (qualified with host when it has
 * no '@'; "" for the null path when allow_null).  0, or -1 with a reason.
 */
static int
addr_normalize(const char *raw, const char *host, bool allow_null,
    char out[SMTP_ADDR_MAX + 1], const char **why)
{
	unsigned flags = SMTP_ADDR_NO_BRACKETS_OK | SMTP_ADDR_UTF8;
	char *text;
	size_t consumed = 0;
	enum smtp_addr_err e;

	if (allow_null)
		flags |= SMTP_ADDR_ALLOW_NULL;
	if (allow_null && (raw[0] == '\0' || strcmp(raw, "<>") == 0)) {
		out[0] = '\0';
		return 0;
	}
	if (strchr(raw, '@') == NULL && raw[0] != '\0' && raw[0] != '<')
		text = xasprintf("%s@%s", raw, host);
	else
		text = xstrdup(raw);
	e = smtp_addr_parse_path(text, strlen(text), flags, out, SMTP_ADDR_MAX + 1, &consumed);
	if (e == SMTP_ADDR_OK && consumed != strlen(text))
		e = SMTP_ADDR_SYNTAX;
	free(text);
	if (e != SMTP_ADDR_OK) {
		*why = smtp_addr_strerror(e);
		return -1;
	}
	smtp_addr_normalize_domain(out);
	return 0;
}

/* Add every address in an address list to rcpts; exit 65 on a bad one. */
static void
add_recipients(const char *list, const char *host, struct strvec *rcpts)
{
	struct strvec raw = { 0 };
	char addr[SMTP_ADDR_MAX + 1];
	const char *why;

	addrlist_split(list, strlen(list), &raw);
	for (size_t i = 0; i < raw.n; i++) {
		if (addr_normalize(raw.v[i], host, false, addr, &why) < 0)
			die(EX_DATAERR, "bad recipient address \"%s\": %s", raw.v[i], why);
		if (!strvec_has(rcpts, addr))
			strvec_push(rcpts, xstrdup(addr));
		free(raw.v[i]);
	}
	free(raw.v);
}

/* Is field l one of the recipient fields: To/Cc/Bcc, or their Resent- form? */
static bool
field_is_rcpt(const struct line *l, bool resent)
{
	if (resent)
		return field_is(l, "Resent-To") || field_is(l, "Resent-Cc") ||
		    field_is(l, "Resent-Bcc");
	return field_is(l, "To") || field_is(l, "Cc") || field_is(l, "Bcc");
}

/* Collect the recipients: the arguments, then with -t the To:/Cc:/Bcc:
 * fields, or the Resent- ones when the message has any. */
static void
collect_recipients(const struct opts *o, const struct message *m,
    const char *host, struct strvec *rcpts)
{
	bool resent = false;

	for (size_t i = 0; i < o->args.n; i++)
		add_recipients(o->args.v[i], host, rcpts);
	if (!o->from_headers)
		return;
	for (size_t i = 0; i < m->nheader && !resent; i = field_end(m, i))
		resent = field_is_rcpt(&m->lines[i], true);
	for (size_t i = 0; i < m->nheader; i = field_end(m, i)) {
		if (field_is_rcpt(&m->lines[i], resent)) {
			char *v = field_value(m, i);
			add_recipients(v, host, rcpts);
			free(v);
		}
	}
	if (rcpts->n == 0)
		die(EX_USAGE, "No recipient addresses found in header");
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

	if (addr_normalize(raw, host, o->sender != NULL, sender, &why) < 0)
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

#define EW_CHUNK 45	/* bytes per encoded-word: 60 base64 + 12 = 72 <= 75 */

/* Does a phrase need RFC 2047 encoding (a byte outside printable ASCII)? */
static bool
phrase_needs_encoding(const char *s)
{
	for (const unsigned char *p = (const unsigned char *)s; *p; p++)
		if (*p < 0x20 || *p > 0x7e)
			return true;
	return false;
}

/*
 * Append name as RFC 2047 "B" encoded-words in UTF-8, at most EW_CHUNK
 * bytes each (never splitting a UTF-8 sequence), separated by folding
 * whitespace, which a reader drops between adjacent encoded-words.
 */
static void
add_encoded_words(struct buf *b, const char *name)
{
	size_t len = strlen(name);

	for (size_t i = 0; i < len;) {
		unsigned char enc[4 * ((EW_CHUNK + 2) / 3) + 1];
		size_t n = len - i < EW_CHUNK ? len - i : EW_CHUNK;
		size_t keep = n;

		while (i + keep < len && keep > 0 &&
		    ((unsigned char)name[i + keep] & 0xc0) == 0x80)
			keep--;		/* back to the start of a character */
		if (keep > 0)
			n = keep;
		EVP_EncodeBlock(enc, (const unsigned char *)name + i, (int)n);
		if (i > 0)
			buf_adds(b, "\r\n ");
		buf_adds(b, "=?UTF-8?B?");
		buf_adds(b, (const char *)enc);
		buf_adds(b, "?=");
		i += n;
	}
}

/* Append a From: header for addr and an optional full name (quoted, or
 * encoded-words when it is not plain ASCII). */
static void
add_from(struct buf *b, const char *addr, const char *fullname)
{
	buf_adds(b, "From: ");
	if (fullname != NULL && fullname[0] != '\0') {
		char *name = xmalloc(strlen(fullname) + 1);
		size_t n = 0;

		for (const char *p = fullname; *p; p++)
			if (*p != '\r' && *p != '\n')
				name[n++] = *p;
		name[n] = '\0';
		if (phrase_needs_encoding(name))
			add_encoded_words(b, name);
		else {
			buf_adds(b, "\"");
			for (const char *p = name; *p; p++) {
				if (*p == '"' || *p == '\\')
					buf_add(b, "\\", 1);
				buf_add(b, p, 1);
			}
			buf_adds(b, "\"");
		}
		buf_adds(b, " ");
		free(name);
	}
	buf_adds(b, "<");
	buf_adds(b, addr);
	buf_adds(b, ">\r\n");
}

/* Append "Date: " in RFC 5322 form, local time with its offset. */
static void
add_date(struct buf *b)
{
	static const char *const days[] = { "Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat" };
	static const char *const months[] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun",
	    "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
	time_t now = time(NULL);
	struct tm tm;
	char line[80];
	long off;

	localtime_r(&now, &tm);
	off = tm.tm_gmtoff / 60;
	snprintf(line, sizeof(line), "Date: %s, %d %s %d %02d:%02d:%02d %c%02ld%02ld\r\n",
	    days[tm.tm_wday], tm.tm_mday, months[tm.tm_mon], tm.tm_year + 1900,
	    tm.tm_hour, tm.tm_min, tm.tm_sec, off < 0 ? '-' : '+',
	    labs(off) / 60, labs(off) % 60);
	buf_adds(b, line);
}

/* Append "Message-ID: <id.pid@host>". */
static void
add_message_id(struct buf *b, const char *host)
{
	char id[ID_LEN + 1];
	char *line;

	id_generate(id);
	line = xasprintf("Message-ID: <%s.%ld@%s>\r\n", id, (long)getpid(), host);
	buf_adds(b, line);
	free(line);
}

/* Build the pickup file: envelope lines, header (completed), body. */
static void
build_pickup(struct buf *b, const struct message *m, const char *sender,
    const char *from_addr, const char *fullname, const struct strvec *rcpts,
    const char *host)
{
	buf_adds(b, "X-Sender: <");
	buf_adds(b, sender);
	buf_adds(b, ">\r\n");
	for (size_t i = 0; i < rcpts->n; i++) {
		buf_adds(b, "X-Receiver: <");
		buf_adds(b, rcpts->v[i]);
		buf_adds(b, ">\r\n");
	}
	for (size_t i = 0; i < m->nheader; i = field_end(m, i)) {
		if (field_is(&m->lines[i], "Bcc") || field_is(&m->lines[i], "Resent-Bcc"))
			continue;
		for (size_t j = i; j < field_end(m, i); j++)
			buf_addline(b, m->lines[j].p, m->lines[j].len);
	}
	if (!message_has(m, "From"))
		add_from(b, from_addr, fullname);
	if (!message_has(m, "Date"))
		add_date(b);
	if (!message_has(m, "Message-ID"))
		add_message_id(b, host);
	buf_add(b, "\r\n", 2);
	for (size_t i = m->body; i < m->nlines; i++)
		buf_addline(b, m->lines[i].p, m->lines[i].len);
}

/* Open an existing directory below the spool; exit 75 when it is missing. */
static int
open_spool_dir(int spoolfd, const char *spool, const char *sub)
{
	int fd = openat(spoolfd, sub, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd < 0)
		die(EX_TEMPFAIL, "%s/%s: %s (is smtpgate-outbound set up on this spool?)",
		    spool, sub, strerror(errno));
	return fd;
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

/* Refuse a spool whose role marker is not outbound (exit 78). */
static void
check_role(int spoolfd, const char *spool)
{
	char err[512];
	const char *role;
	size_t len;
	char *marker = fsutil_read_file(spoolfd, ".smtpgate", 65536, &len, err, sizeof(err));

	if (marker == NULL) {
		if (errno == ENOENT)
			return;		/* not initialised: pickup/ decides below */
		die(EX_TEMPFAIL, "%s", err);
	}
	role = marker_role(marker, &len);
	if (len != 8 || strncmp(role, "outbound", 8) != 0)
		die(EX_CONFIG, "%s/.smtpgate: the spool's role is \"%.*s\", not outbound; "
		    "smtpgate-sendmail writes only into an outbound spool", spool,
		    (int)(len > 32 ? 32 : len), role);
	free(marker);
}

/*
 * Before exit 0, prove that the file system still commits: a directory
 * made and removed in tmp/.  When a journal commit fails, ext4 aborts the
 * journal and reports it to the one thread that waited for that commit
 * (the daemon's, say); an fsync of pickup/ that then finds the commit of
 * our rename already over returns 0.  Every journal operation fails from
 * then on, so one made now shows that the rename reached the disk.
 */
static void
commit_probe(int tmpfd, const char *spool, const char *name)
{
	char probe[600];

	snprintf(probe, sizeof(probe), ".probe.%s", name);
	if (mkdirat(tmpfd, probe, 0700) == 0 && unlinkat(tmpfd, probe, AT_REMOVEDIR) == 0)
		return;
	die(EX_TEMPFAIL, "%s/tmp/%s: the file system takes no more changes: %s "
	    "(the message may not be queued)", spool, probe, strerror(errno));
}

/* Write the pickup file: tmp/ (synced), rename into pickup/, fsync pickup/,
 * then commit_probe(). */
static void
deliver(const char *spool, const char *host, const struct buf *b)
{
	char name[512], err[1024];
	int spoolfd, tmpfd, pickupfd;
	struct iovec iov = { .iov_base = b->p, .iov_len = b->len };

	spoolfd = open(spool, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (spoolfd < 0)
		die(EX_TEMPFAIL, "%s: %s (is smtpgate-outbound set up?)", spool, strerror(errno));
	check_role(spoolfd, spool);
	pickupfd = open_spool_dir(spoolfd, spool, "pickup");
	tmpfd = open_spool_dir(spoolfd, spool, "tmp");
	fsutil_maildir_name(name, sizeof(name), host, b->len);
	if (fsutil_write_new(tmpfd, name, &iov, 1, true, err, sizeof(err)) < 0)
		die(EX_TEMPFAIL, "%s", err);
	if (renameat(tmpfd, name, pickupfd, name) < 0) {
		int e = errno;
		unlinkat(tmpfd, name, 0);
		die(EX_TEMPFAIL, "rename %s/tmp/%s to %s/pickup/: %s", spool, name, spool,
		    strerror(e));
	}
	if (fsutil_fsync_dirfd(pickupfd, "pickup", err, sizeof(err)) < 0)
		die(EX_TEMPFAIL, "%s/%s", spool, err);
	commit_probe(tmpfd, spool, name);
	close(tmpfd);
	close(pickupfd);
	close(spoolfd);
}

/* -bp: run smtpgate-queue list (next to this program, else on PATH). */
static _Noreturn void
list_queue(const char *config)
{
	char self[PATH_MAX], *slash;
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 32);
	char *argv[] = { "smtpgate-queue", "-c", (char *)config, "list", NULL };

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

int
main(int argc, char **argv)
{
	struct opts o = { 0 };
	struct outbound_config *cfg;
	struct buf raw = { 0 }, out = { 0 };
	struct message m = { 0 };
	struct strvec rcpts = { 0 };
	char err[1024], sender[SMTP_ADDR_MAX + 1], *from_addr, *fullname;

	log_init(PROG, LOG_TARGET_STDERR);
	parse_args(&o, argc, argv);
	if (o.list_queue)
		list_queue(o.config);
	cfg = config_load_outbound(o.config, err, sizeof(err));
	if (cfg == NULL)
		die(EX_CONFIG, "%s", err);
	resolve_sender(&o, cfg->hostname, sender, &from_addr, &fullname);
	read_all(STDIN_FILENO, &raw);
	if (raw.p == NULL)
		buf_add(&raw, "", 0);
	m.nlines = split_lines(&raw, o.dot_ok, &m.lines);
	message_split(&m);
	collect_recipients(&o, &m, cfg->hostname, &rcpts);
	if (rcpts.n == 0)
		die(EX_USAGE, "no recipients: give addresses as arguments or use -t");
	build_pickup(&out, &m, sender, from_addr, fullname, &rcpts, cfg->hostname);
	deliver(cfg->spool, cfg->hostname, &out);
	for (size_t i = 0; i < rcpts.n; i++)
		free(rcpts.v[i]);
	free(rcpts.v);
	free(o.args.v);
	free(m.lines);
	free(raw.p);
	free(out.p);
	free(from_addr);
	free(fullname);
	config_free_outbound(cfg);
	return EX_OK;
}
