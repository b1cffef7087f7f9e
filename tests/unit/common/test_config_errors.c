/*
 * The operator's view of config errors (issue 18): realistic mistakes in
 * commented files, each checked against the exact "FILE:LINE: key: reason"
 * line.  libconfuse 3.3 counts each comment line three times, so every case
 * has comments before its mistake; the shipped conf/inbound.conf and
 * conf/outbound.conf are copied with one line changed, found by its text
 * (@L@ in the wanted message is that line, @A@ the anchor's line).
 * Then the warnings (a key set twice, a host name without a dot), each an
 * exact line.  "test-config_errors --export DIR" writes every refused case
 * as DIR/caseN.conf with its role and wanted line (caseN.role, caseN.want):
 * tests/integration/common/test_preflight.py gives them to smtpgate-check
 * and the daemons' -t, so the table is not copied.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check_main.h"
#include "config.h"

enum base { TEXT, SHIPPED_IN, SHIPPED_OUT };

struct mistake {
	enum config_role role;		/* which loader reads it */
	enum base base;
	const char *match;		/* SHIPPED_*: the line starting so is replaced */
	const char *text;		/* TEXT: the file; else the new line ("" drops it) */
	const char *anchor;		/* a line starting so gives @A@, or NULL */
	const char *want;		/* @F@ path, @L@ match line, @A@ anchor line */
};

#define C "# a comment\n# another\n\n"
#define IN C "listen = {\"127.0.0.1:25\"}  # trailing comment\n"
#define OUT C "smarthost \"r\" {\n  # the relay\n  host = \"relay.example.com\"\n}\n"

static const struct mistake mistakes[] = {
	/* the shipped inbound.conf, one line changed */
	{ CONFIG_INBOUND, SHIPPED_IN, "max_recipients =", "max_recipients = 0", NULL,
	    "@F@:@L@: max_recipients: 0 is out of range (1..100000)" },
	{ CONFIG_INBOUND, SHIPPED_IN, "max_recipients =", "max_recipents = 100", NULL,
	    "@F@:@L@: max_recipents: unknown key (did you mean max_recipients?)" },
	{ CONFIG_INBOUND, SHIPPED_IN, "max_errors =", "max_errors = ten", NULL,
	    "@F@:@L@: max_errors: not a whole number in range" },
	{ CONFIG_INBOUND, SHIPPED_IN, "spool =", "spool = \"/var/spool/smtpgate/inbound", NULL,
	    "@F@:@L@: spool: missing closing quote (the string opened on this line runs past its end)" },
	{ CONFIG_INBOUND, SHIPPED_IN, "listen =", "listen = {\"127.0.0.1:25\", \"[::1]:25\"", NULL,
	    "@F@:@L@: listen: no \"}\" closes the list opened on this line" },
	{ CONFIG_INBOUND, SHIPPED_IN, "listen =", "listen = {\"127.0.0.1:25\" \"[::1]:25\"}", NULL,
	    "@F@:@L@: listen: \",\" missing before \"[::1]:25\"" },
	{ CONFIG_INBOUND, SHIPPED_IN, "mailbox \"alice\"",
	    "mailbox \"alice\"      { address = {\"alice@example.com\", \"a.smith@example.com\"}", NULL,
	    "@F@:@L@: mailbox \"alice\": no \"}\" closes this section before line @A@ (mailbox belongs outside it)" },
	{ CONFIG_INBOUND, SHIPPED_IN, "mailbox \"po2\"", "mailbox \"alice\" { address = {\"x@example.com\"} }", NULL,
	    "@F@:@L@: mailbox \"alice\": defined twice" },
	{ CONFIG_INBOUND, SHIPPED_IN, "mailbox \"po2\"", "mailbox \"po2\" { address = {\"alice@example.com\"} }", NULL,
	    "@F@:@L@: mailbox \"po2\": address: \"alice@example.com\" is listed twice (already in mailbox \"alice\")" },
	/* issue 19: the receiving host's keys */
	{ CONFIG_INBOUND, SHIPPED_IN, "#recipient_delimiter", "recipient_delimiter = \"@\"", NULL,
	    "@F@:@L@: recipient_delimiter: \"@\" is not up to 8 of the characters "
	    "+ - _ = # $ % & ' * / ? ^ ` { | } ~ !" },
	{ CONFIG_INBOUND, SHIPPED_IN, "#spool_min_free", "spool_min_free = \"60%\"", NULL,
	    "@F@:@L@: spool_min_free: \"60%\" is not bytes (e.g. 104857600, 100M, 1G) "
	    "or a percentage of the file system (0%..50%)" },
	{ CONFIG_INBOUND, SHIPPED_IN, "#spool_min_free", "spool_min_free = \"5T\"", NULL,
	    "@F@:@L@: spool_min_free: \"5T\" is not bytes (e.g. 104857600, 100M, 1G) "
	    "or a percentage of the file system (0%..50%)" },
	{ CONFIG_INBOUND, SHIPPED_IN, "#mailbox_size_limit", "mailbox_size_limit = -1", NULL,
	    "@F@:@L@: mailbox_size_limit: -1 is out of range (0..1125899906842624)" },
	{ CONFIG_INBOUND, SHIPPED_IN, "#max_data_line_length", "max_data_line_length = 999", NULL,
	    "@F@:@L@: max_data_line_length: 999 is out of range (1000..16777216)" },
	{ CONFIG_INBOUND, SHIPPED_IN, "#postmaster", "postmaster = \"nobody\"", NULL,
	    "@F@:@L@: postmaster: no mailbox \"nobody\" is configured (name a mailbox section)" },
	{ CONFIG_INBOUND, SHIPPED_IN, "mailbox \"postmaster\"",
	    "mailbox \"postmaster\" { address = {\"abuse@example.com\"} }", NULL,
	    "@F@:@L@: postmaster: no mailbox receives postmaster@example.com (RFC 5321 4.5.1); "
	    "add it to a mailbox's addresses or name one with postmaster = \"NAME\"" },
	{ CONFIG_INBOUND, SHIPPED_IN, "relay_hosts =", "relay_hosts = {\"127.0.0.1/33\"}", NULL,
	    "@F@:@L@: relay_hosts: \"127.0.0.1/33\" is not an address or CIDR (e.g. 192.0.2.0/24, 2001:db8::/32)" },
	{ CONFIG_INBOUND, SHIPPED_IN, "log =", "log = \"journal\"", NULL,
	    "@F@:@L@: log: \"journal\" is not stderr or syslog" },
	{ CONFIG_INBOUND, SHIPPED_IN, "max_errors =", "max_errors: 10", NULL,
	    "@F@:@L@: max_errors: write \"key = value\", not \"key: value\"" },
	{ CONFIG_INBOUND, SHIPPED_IN, "max_errors =", "max_errors 10", NULL,
	    "@F@:@L@: max_errors: \"=\" missing after the key" },
	{ CONFIG_INBOUND, SHIPPED_IN, "max_errors =", "max_errors = 10 20", NULL,
	    "@F@:@L@: max_errors: unexpected \"20\" after its value (a list goes in { }, a value with spaces in \"quotes\")" },
	{ CONFIG_INBOUND, SHIPPED_IN, "#mailbox_dir_mode", "mailbox_dir_mode = \"0777\"", NULL,
	    "@F@:@L@: mailbox_dir_mode: 0777: only bits of 2770 are allowed (nothing for others) and 0700 must be set" },
	{ CONFIG_INBOUND, SHIPPED_IN, "#tls {", "tls = {", "#}",
	    "@F@:@L@: tls: a section: write tls { ... } (no \"=\")" },
	/* the shipped outbound.conf, one line changed */
	{ CONFIG_OUTBOUND, SHIPPED_OUT, "retry_max =", "retry_max = 10", NULL,
	    "@F@:@L@: retry_max: 10 is below retry_min 60" },
	{ CONFIG_OUTBOUND, SHIPPED_OUT, "  tls =", "  tls = \"ssl\"", NULL,
	    "@F@:@L@: smarthost \"primary\": tls: \"ssl\" is not one of starttls, opportunistic, implicit, none" },
	{ CONFIG_OUTBOUND, SHIPPED_OUT, "  port =", "  port = 70000", NULL,
	    "@F@:@L@: smarthost \"primary\": port: 70000 is out of range (1..65535)" },
	{ CONFIG_OUTBOUND, SHIPPED_OUT, "  tls_verify =", "  tls_verify = maybe", NULL,
	    "@F@:@L@: smarthost \"primary\": tls_verify: not true or false" },
	{ CONFIG_OUTBOUND, SHIPPED_OUT, "  host =", "  hots = \"relay.example.com\"", NULL,
	    "@F@:@L@: smarthost \"primary\": hots: not a key of this section (did you mean host?)" },
	{ CONFIG_OUTBOUND, SHIPPED_OUT, "  host =", "  host = \"relay.example.com", NULL,
	    "@F@:@L@: host: missing closing quote (the string opened on this line runs past its end)" },
	{ CONFIG_OUTBOUND, SHIPPED_OUT, "}", "", "smarthost \"primary\"",
	    "@F@:@A@: smarthost \"primary\": no \"}\" closes this section before line 32 (max_connections belongs outside it)" },
	{ CONFIG_OUTBOUND, SHIPPED_OUT, "smarthost \"primary\"", "smarthost {", NULL,
	    "@F@:@L@: smarthost: a name in quotes is needed: smarthost \"NAME\" { ... }" },
	{ CONFIG_OUTBOUND, SHIPPED_OUT, "smarthost \"primary\"", "smarthost \"primary\" {", NULL,
	    NULL },	/* unchanged: loads (checks the harness) */
	{ CONFIG_OUTBOUND, SHIPPED_OUT, "  #auth_user", "  auth_user = \"gateway\"", "}",
	    "@F@:@A@: smarthost \"primary\": auth_password_file: required with auth_user" },
	{ CONFIG_OUTBOUND, SHIPPED_OUT, "  #ca_file", "  ca_file = \"/nonexistent/ca.pem\"", NULL,
	    "@F@:@L@: smarthost \"primary\": ca_file: /nonexistent/ca.pem: No such file or directory" },
	{ CONFIG_OUTBOUND, SHIPPED_OUT, "max_connections =", "max_connections = 8}", NULL,
	    "@F@:@L@: }: nothing to close here (no section or list is open)" },
	{ CONFIG_OUTBOUND, SHIPPED_OUT, "#admin_address", "admin_address = \"root\"", NULL,
	    "@F@:@L@: admin_address: \"root\" is not a mail address (local@domain, without <>)" },
	{ CONFIG_OUTBOUND, SHIPPED_OUT, "#sender_domain", "sender_domain = \"example org\"", NULL,
	    "@F@:@L@: sender_domain: \"example org\" is not a domain (letters, digits, \"-\" and dots only)" },
	{ CONFIG_OUTBOUND, SHIPPED_OUT, "submit_group =", "listen = {\"127.0.0.1:25\"}", NULL,
	    "@F@:@L@: listen: a key of smtpgate-inbound, not of smtpgate-outbound" },
	/* the other gateway's file */
	{ CONFIG_INBOUND, SHIPPED_OUT, "spool =", "spool = \"/var/spool/smtpgate/outbound\"", "smarthost \"primary\"",
	    "@F@:@A@: smarthost: this file configures smtpgate-outbound (outbound.conf), not smtpgate-inbound" },
	{ CONFIG_OUTBOUND, SHIPPED_IN, "spool =", "spool = \"/var/spool/smtpgate/inbound\"", "listen =",
	    "@F@:@A@: listen: this file configures smtpgate-inbound (inbound.conf), not smtpgate-outbound" },
	/* small files with comments everywhere */
	{ CONFIG_OUTBOUND, TEXT, NULL, C "spool = \"/srv/out\"\n# smarthost \"r\" { host = \"x\" }\n", NULL,
	    "@F@:5: smarthost: commented out, and at least one smarthost section is required" },
	{ CONFIG_OUTBOUND, TEXT, NULL, C "spool = \"/srv/out\" # no relay\nretry_min = 60\n", NULL,
	    "@F@: smarthost: none; at least one smarthost \"NAME\" { host = \"...\" } section is required" },
	{ CONFIG_INBOUND, TEXT, NULL, IN "/* a C comment\n   over lines */\nmax_errors = 0\n", NULL,
	    "@F@:7: max_errors: 0 is out of range (1..1000)" },
	{ CONFIG_INBOUND, TEXT, NULL, IN "// a C++ comment\n/* one */ /* two */\nmax_errors = 0 // after\n", NULL,
	    "@F@:7: max_errors: 0 is out of range (1..1000)" },
	{ CONFIG_INBOUND, TEXT, NULL, IN "spool = \"/srv/in#1\" # a # in a string\nmax_errors = 0\n", NULL,
	    "@F@:6: max_errors: 0 is out of range (1..1000)" },
	{ CONFIG_INBOUND, TEXT, NULL, IN "hostname = 'it''s # here\nmax_errors = 1\n", NULL,
	    "@F@:5: hostname: missing closing quote (the string opened on this line runs past its end)" },
	{ CONFIG_INBOUND, TEXT, NULL, IN "/* never closed\nmax_errors = 1\n", NULL,
	    "@F@:5: /*: comment never closed (no */ after it)" },
	{ CONFIG_INBOUND, TEXT, NULL, IN "mailbox \"a\" {\n  # the address\n  address = {\"a@example.com\"}\n  # end\n", NULL,
	    "@F@:5: mailbox \"a\": no \"}\" closes this section (the file ends inside it)" },
	{ CONFIG_INBOUND, TEXT, NULL, IN "mailbox \"a\" {\n  # the list\n  address = {}\n}\n", NULL,
	    "@F@:7: mailbox \"a\": address: empty address list" },
	{ CONFIG_INBOUND, TEXT, NULL, IN "tls {\n  # no certificate\n  require = true\n}\n", NULL,
	    "@F@:7: tls: require: true without tls.certificate" },
	{ CONFIG_INBOUND, TEXT, NULL, IN "# the end\nmax_errors =\n", NULL,
	    "@F@:6: max_errors: the file ends before its value" },
	{ CONFIG_INBOUND, TEXT, NULL, IN "hostname = \"bad\\9\"\n", NULL,
	    "@F@:5: hostname: bad escape sequence in a quoted string (write \\\\ for a backslash)" },
	{ CONFIG_OUTBOUND, TEXT, NULL, OUT "retry_min = 1m  # one minute\n", NULL,
	    "@F@:8: retry_min: not a whole number in range" },
	{ CONFIG_OUTBOUND, TEXT, NULL, OUT "# twice\nsmarthost \"r\" { host = \"b\" }\n", NULL,
	    "@F@:9: smarthost \"r\": defined twice" },
	{ CONFIG_OUTBOUND, TEXT, NULL, OUT "user = \"root\" # no\n", NULL,
	    "@F@:8: user: \"root\" is root (uid 0): a daemon never keeps root; name the unprivileged service user" },
};

/* Warnings: the file loads, and carries exactly these lines. */
struct warning_case {
	enum config_role role;
	const char *text;
	const char *want;		/* the warnings, "\n" after each; @F@ the path */
};

static const struct warning_case warnings[] = {
	{ CONFIG_INBOUND, IN "hostname = \"gw.example.com\"\nmax_errors = 5\n# again\nmax_errors = 7\n"
	    "mailbox \"pm\" { address = {\"postmaster@x.example\"} }\n",
	    "@F@:8: max_errors: set again (first on line 6); the value on line 8 is used "
	    "and the one on line 6 ignored\n" },
	{ CONFIG_INBOUND, IN "hostname = \"gw\"\nmailbox \"pm\" { address = {\"postmaster@x.example\"} }\n",
	    "@F@:5: hostname: \"gw\" has no dot: it is the name in HELO and in the addresses "
	    "of bounces, and other hosts expect a fully qualified name (e.g. \"gw.example.com\")\n" },
	{ CONFIG_OUTBOUND, OUT "hostname = \"gw.example.com\"\nsmarthost \"b\" {\n  host = \"a\"\n  port = 25\n  # x\n  port = 587\n}\n",
	    "@F@:13: smarthost \"b\": port: set again (first on line 11); the value on line 13 "
	    "is used and the one on line 11 ignored\n" },
	/* not repeats: a list grown with +=, sections, the same key in two sections */
	{ CONFIG_INBOUND, IN "hostname = \"gw.example.com\"\nlisten += {\"127.0.0.1:26\"}\n"
	    "mailbox \"a\" { address = {\"a@x.example\"} }\nmailbox \"b\" { address = {\"b@x.example\"} }\n"
	    "postmaster = \"a\"\n", "" },
	{ CONFIG_OUTBOUND, OUT "hostname = \"[192.0.2.1]\"\nsmarthost \"b\" { host = \"b\" }\n", "" },
};

static char tmpdir[64];

/* The scratch directory. */
static void
setup(void)
{
	testdir_make(tmpdir, sizeof(tmpdir));
}

/* Remove it. */
static void
teardown(void)
{
	ck_assert_int_eq(testdir_remove(tmpdir), 0);
}

/* Read a shipped example into a new buffer. */
static char *
read_shipped(const char *name)
{
	char path[512], *buf = calloc(1, 65536);
	FILE *f;
	size_t n;

	snprintf(path, sizeof(path), "%s/conf/%s", SMTPGATE_SRCDIR, name);
	f = fopen(path, "r");
	ck_assert_ptr_nonnull(f);
	n = fread(buf, 1, 65535, f);
	fclose(f);
	buf[n] = '\0';
	return buf;
}

/* Write the case's file; *line, *anchor: the replaced and anchor lines. */
static void
build_file(const struct mistake *m, const char *path, int *line, int *anchor)
{
	FILE *f = fopen(path, "w");
	char *text, *p, *next;
	int n = 1, comments = 0;

	ck_assert_ptr_nonnull(f);
	*line = *anchor = 0;
	if (m->base == TEXT) {
		fputs(m->text, f);
		fclose(f);
		return;
	}
	text = read_shipped(m->base == SHIPPED_IN ? "inbound.conf" : "outbound.conf");
	for (p = text; *p != '\0'; p = next, n++) {
		next = strchr(p, '\n');
		next = next != NULL ? next + 1 : p + strlen(p);
		comments += p[strspn(p, " ")] == '#';
		if (*line == 0 && strncmp(p, m->match, strlen(m->match)) == 0) {
			*line = n;
			if (m->text[0] != '\0')
				fprintf(f, "%s\n", m->text);
			continue;
		}
		if (m->anchor != NULL && *anchor == 0 && strncmp(p, m->anchor, strlen(m->anchor)) == 0)
			*anchor = n;
		fwrite(p, 1, (size_t)(next - p), f);
	}
	ck_assert_msg(*line > 0, "no line starts with \"%s\"", m->match);
	ck_assert_msg(comments >= 10, "the shipped example has too few comments");
	if (m->anchor == NULL)
		*anchor = *line + 1;
	else if (*anchor > *line && m->text[0] == '\0')
		(*anchor)--;
	ck_assert_int_eq(fclose(f), 0);
	free(text);
}

/* Expand @F@, @L@, @A@ in want. */
static void
expand(const char *want, const char *path, int line, int anchor, char *out, size_t outsz)
{
	size_t o = 0;

	for (const char *p = want; *p != '\0' && o + 1 < outsz; ) {
		if (strncmp(p, "@F@", 3) == 0 || strncmp(p, "@L@", 3) == 0 ||
		    strncmp(p, "@A@", 3) == 0) {
			char v[512];

			if (p[1] == 'F')
				snprintf(v, sizeof(v), "%s", path);
			else
				snprintf(v, sizeof(v), "%d", p[1] == 'L' ? line : anchor);
			o += (size_t)snprintf(out + o, outsz - o, "%s", v);
			p += 3;
		} else {
			out[o++] = *p++;
		}
	}
	out[o < outsz ? o : outsz - 1] = '\0';
}

/* Each mistake: refused with exactly the wanted line. */
START_TEST(mistake)
{
	const struct mistake *m = &mistakes[_i];
	char path[128], err[1024] = "", want[1024];
	int line, anchor;
	void *c;

	snprintf(path, sizeof(path), "%s/case%d.conf", tmpdir, _i);
	build_file(m, path, &line, &anchor);
	if (m->role == CONFIG_INBOUND) {
		c = config_load_inbound(path, err, sizeof(err));
		config_free_inbound(c);
	} else {
		c = config_load_outbound(path, err, sizeof(err));
		config_free_outbound(c);
	}
	if (m->want == NULL) {
		ck_assert_msg(c != NULL, "case %d: %s", _i, err);
		return;
	}
	ck_assert_msg(c == NULL, "case %d loaded", _i);
	expand(m->want, path, line, anchor, want, sizeof(want));
	ck_assert_msg(strcmp(err, want) == 0, "case %d:\n got  \"%s\"\n want \"%s\"", _i, err, want);
}
END_TEST

/* Each warning case loads with exactly its warning lines. */
START_TEST(warning)
{
	const struct warning_case *w = &warnings[_i];
	char path[128], err[1024] = "", want[2048], got[2048] = "";
	struct inbound_config *in = NULL;
	struct outbound_config *out = NULL;
	char **lines;
	size_t n, o = 0;
	FILE *f;

	snprintf(path, sizeof(path), "%s/warn%d.conf", tmpdir, _i);
	f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fputs(w->text, f);
	ck_assert_int_eq(fclose(f), 0);
	if (w->role == CONFIG_INBOUND)
		in = config_load_inbound(path, err, sizeof(err));
	else
		out = config_load_outbound(path, err, sizeof(err));
	ck_assert_msg(in != NULL || out != NULL, "case %d: %s", _i, err);
	lines = in != NULL ? in->warnings : out->warnings;
	n = in != NULL ? in->nwarnings : out->nwarnings;
	for (size_t i = 0; i < n; i++)
		o += (size_t)snprintf(got + o, sizeof(got) - o, "%s\n", lines[i]);
	expand(w->want, path, 0, 0, want, sizeof(want));
	ck_assert_msg(strcmp(got, want) == 0, "case %d:\n got  \"%s\"\n want \"%s\"", _i, got, want);
	config_free_inbound(in);
	config_free_outbound(out);
}
END_TEST

static const char *export_dir;	/* --export DIR */

/* --export DIR: every refused case as DIR/caseN.conf, .role and .want
 * (for the integration test that gives them to smtpgate-check); 0 or 1.
 * Run as a test of its own: build_file() asserts. */
static int
export_cases(const char *dir)
{
	char path[512], want[1024];
	int line, anchor;

	for (size_t i = 0; i < sizeof(mistakes) / sizeof(mistakes[0]); i++) {
		const struct mistake *m = &mistakes[i];
		FILE *f;

		if (m->want == NULL)
			continue;
		snprintf(path, sizeof(path), "%s/case%zu.conf", dir, i);
		build_file(m, path, &line, &anchor);
		expand(m->want, path, line, anchor, want, sizeof(want));
		snprintf(path, sizeof(path), "%s/case%zu.want", dir, i);
		if ((f = fopen(path, "w")) == NULL)
			return 1;
		fprintf(f, "%s\n", want);
		fclose(f);
		snprintf(path, sizeof(path), "%s/case%zu.role", dir, i);
		if ((f = fopen(path, "w")) == NULL)
			return 1;
		fprintf(f, "%s\n", m->role == CONFIG_INBOUND ? "inbound" : "outbound");
		fclose(f);
	}
	return 0;
}

/* The export, as a test (Check's asserts need a running test). */
START_TEST(export)
{
	ck_assert_int_eq(export_cases(export_dir), 0);
}
END_TEST

/* smtpgate-check's role detection: keys of one role, the file name, and a
 * broken file's own error instead of "cannot tell". */
START_TEST(detect_shipped)
{
	char path[128], err[512];
	enum config_role role;
	FILE *f;

	snprintf(path, sizeof(path), "%s/x.conf", tmpdir);
	f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fputs("# relay\nspool = \"/srv/out\"\nretry_min = 60\n", f);
	fclose(f);
	ck_assert_int_eq(config_detect_role(path, &role, err, sizeof(err)), 0);
	ck_assert_int_eq(role, CONFIG_OUTBOUND);
	f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fputs("# only this\nspool = \"/srv/x\"\n", f);
	fclose(f);
	ck_assert_int_eq(config_detect_role(path, &role, err, sizeof(err)), -1);
	f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fputs("# a quote is missing\nhostname = \"gw.example.com\nlisten = {\"127.0.0.1:25\"}\n", f);
	fclose(f);
	ck_assert_int_eq(config_detect_role(path, &role, err, sizeof(err)), -1);
	ck_assert_str_eq(strrchr(err, '/'), "/x.conf:2: hostname: missing closing quote "
	    "(the string opened on this line runs past its end)");
	snprintf(path, sizeof(path), "%s/outbound.conf", tmpdir);
	f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fputs("# only this\nspool = \"/srv/x\"\n", f);
	fclose(f);
	ck_assert_int_eq(config_detect_role(path, &role, err, sizeof(err)), 0);
	ck_assert_int_eq(role, CONFIG_OUTBOUND);
}
END_TEST

/* The suite. */
Suite *
unit_suite(void)
{
	Suite *s = suite_create("config_errors");
	TCase *tc = tcase_create("mistakes");

	if (export_dir != NULL) {
		tcase_add_test(tc, export);
		suite_add_tcase(s, tc);
		return s;
	}
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_loop_test(tc, mistake, 0, (int)(sizeof(mistakes) / sizeof(mistakes[0])));
	tcase_add_test(tc, detect_shipped);
	tcase_add_loop_test(tc, warning, 0, (int)(sizeof(warnings) / sizeof(warnings[0])));
	suite_add_tcase(s, tc);
	return s;
}

/* --export DIR: write the table's cases there instead (it-preflight). */
void
unit_args(int argc, char **argv)
{
	if (argc == 3 && strcmp(argv[1], "--export") == 0)
		export_dir = argv[2];
}
