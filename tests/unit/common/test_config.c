/*
 * Unit tests of common/config.c: every default, every key read, every kind
 * of error with its "file:line:" and key, detect_role, and the example
 * configs shipped in conf/.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check_main.h"
#include "config.h"
#include "util.h"

static char tmpdir[64];
static int nfiles;

/* Create the scratch directory and the readable files some cases name. */
static void
setup(void)
{
	char path[512];
	FILE *f;

	testdir_make(tmpdir, sizeof(tmpdir));
	const char *names[] = { "cert.pem", "key.pem", "ca.pem", "secret", "opensecret",
	    "emptysecret" };
	const mode_t modes[] = { 0644, 0600, 0644, 0640, 0644, 0600 };
	for (size_t i = 0; i < 6; i++) {
		snprintf(path, sizeof(path), "%s/%s", tmpdir, names[i]);
		f = fopen(path, "w");
		ck_assert_ptr_nonnull(f);
		fputs(i == 5 ? "\n" : "x\n", f);
		fclose(f);
		ck_assert_int_eq(chmod(path, modes[i]), 0);
	}
}

/* Remove the scratch directory. */
static void
teardown(void)
{
	ck_assert_int_eq(testdir_remove(tmpdir), 0);
}

/* Write text to a new file in tmpdir, "@DIR@" replaced by tmpdir; returns
 * its path (static buffer). */
static const char *
write_conf(const char *text)
{
	static char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/c%d.conf", tmpdir, nfiles++);
	f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	for (const char *p = text; *p != '\0'; p++) {
		if (strncmp(p, "@DIR@", 5) == 0) {
			fputs(tmpdir, f);
			p += 4;
		} else {
			fputc(*p, f);
		}
	}
	ck_assert_int_eq(fclose(f), 0);
	return path;
}

/* ------------------------------------------------------------------ */
/* Defaults */

START_TEST(inbound_defaults)
{
	char err[512];
	const char *path = write_conf("mailbox \"a\" { address = {\"a@example.com\"} }\npostmaster = \"a\"\n");
	struct inbound_config *c = config_load_inbound(path, err, sizeof(err));

	ck_assert_msg(c != NULL, "%s", err);
	ck_assert_str_eq(c->path, path);
	ck_assert_str_eq(c->hostname, util_hostname());
	ck_assert_str_eq(c->spool, "/var/spool/smtpgate/inbound");
	ck_assert_uint_eq(c->nlisten, 1);
	ck_assert_str_eq(c->listen[0].text, "127.0.0.1:25");
	ck_assert_int_eq(c->listen[0].ss.ss_family, AF_INET);
	ck_assert_uint_eq(c->nrelay_hosts, 0);
	ck_assert_uint_eq(c->max_message_size, 10485760);
	ck_assert_uint_eq(c->max_recipients, 100);
	ck_assert_uint_eq(c->max_connections, 1000);
	ck_assert_uint_eq(c->max_connections_per_client, 50);
	ck_assert_uint_eq(c->max_errors, 10);
	ck_assert_uint_eq(c->max_line_length, 2048);
	ck_assert_uint_eq(c->timeout_command, 300);
	ck_assert_uint_eq(c->timeout_data, 600);
	ck_assert_uint_eq(c->deadline_command, 300);
	ck_assert_uint_eq(c->deadline_data, 1800);
	ck_assert_uint_eq(c->min_data_rate, 1024);
	ck_assert_uint_eq(c->data_rate_grace, 60);
	ck_assert_uint_eq(c->deadline_tls_handshake, 60);
	ck_assert_uint_eq(c->deadline_session, 3600);
	ck_assert_uint_eq(c->client_prefix_ipv4, 24);
	ck_assert_uint_eq(c->client_prefix_ipv6, 64);
	ck_assert_uint_eq(c->max_connections_per_relay_host, 1000);	/* = max_connections */
	ck_assert_uint_eq(c->refusal_log_interval, 10);
	ck_assert_ptr_null(c->tls_certificate);
	ck_assert_ptr_null(c->tls_key);
	ck_assert(!c->tls_require);
	ck_assert(!c->metrics_enabled);
	ck_assert_int_eq(c->log, LOG_TARGET_STDERR);
	ck_assert_str_eq(c->user, "smtpgate");
	ck_assert_str_eq(c->group, "");
	/* issue 19: receiving host conventions */
	ck_assert_str_eq(c->recipient_delimiter, "");
	ck_assert_uint_eq(c->postmaster, 0);
	ck_assert_uint_eq(c->mailbox_size_limit, 0);
	ck_assert_uint_eq(c->spool_min_free, 1);
	ck_assert(c->spool_min_free_percent);
	ck_assert_uint_eq(c->max_data_line_length, 65536);
	ck_assert_uint_eq(c->nmailboxes, 1);
	config_free_inbound(c);
}
END_TEST

START_TEST(outbound_defaults)
{
	char err[512];
	const char *path = write_conf("smarthost \"r\" { host = \"relay.example.com\" }\n");
	struct outbound_config *c = config_load_outbound(path, err, sizeof(err));

	ck_assert_msg(c != NULL, "%s", err);
	ck_assert_str_eq(c->hostname, util_hostname());
	ck_assert_str_eq(c->spool, "/var/spool/smtpgate/outbound");
	ck_assert_uint_eq(c->nsmarthosts, 1);
	ck_assert_str_eq(c->smarthosts[0].name, "r");
	ck_assert_str_eq(c->smarthosts[0].host, "relay.example.com");
	ck_assert_uint_eq(c->smarthosts[0].port, 25);
	ck_assert_int_eq(c->smarthosts[0].tls, SMARTHOST_TLS_STARTTLS);
	ck_assert(c->smarthosts[0].tls_verify);
	ck_assert_ptr_null(c->smarthosts[0].ca_file);
	ck_assert_ptr_null(c->smarthosts[0].auth_user);
	ck_assert_ptr_null(c->smarthosts[0].auth_password_file);
	ck_assert_uint_eq(c->max_connections, 8);
	ck_assert_uint_eq(c->messages_per_connection, 100);
	ck_assert_uint_eq(c->retry_min, 60);
	ck_assert_uint_eq(c->retry_max, 3600);
	ck_assert_uint_eq(c->max_queue_lifetime, 432000);
	ck_assert_uint_eq(c->delay_warning, 14400);
	ck_assert_uint_eq(c->scan_interval, 30);
	ck_assert_uint_eq(c->timeout_connect, 30);
	ck_assert_uint_eq(c->timeout_greeting, 300);
	ck_assert_uint_eq(c->timeout_command, 300);
	ck_assert_uint_eq(c->timeout_data_init, 120);
	ck_assert_uint_eq(c->timeout_data_block, 180);
	ck_assert_uint_eq(c->timeout_data_end, 600);
	ck_assert_uint_eq(c->timeout_idle, 10);
	ck_assert(!c->metrics_enabled);
	ck_assert_int_eq(c->log, LOG_TARGET_STDERR);
	ck_assert_str_eq(c->user, "smtpgate");
	ck_assert_str_eq(c->group, "");
	ck_assert_str_eq(c->admin_address, "");
	ck_assert_uint_eq(c->nlocal_domains, 0);
	ck_assert_str_eq(c->mailname_file, "/etc/mailname");
	ck_assert_str_eq(c->sender_domain, "");
	ck_assert_str_eq(c->sender_address, "");
	ck_assert_ptr_null(c->postmaster_address);
	config_free_outbound(c);
}
END_TEST

/* The keys of mail this host originates: values read, the mailname file
 * read (trimmed, lower-cased) or absent, postmaster_address defaulting
 * to admin_address and "" turning it off, a bad mailname refused. */
START_TEST(outbound_origin)
{
	char err[512], path[600];
	struct outbound_config *c;
	FILE *f;

	snprintf(path, sizeof(path), "%s/mailname", tmpdir);
	f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fputs("  Mail.Example.ORG \nsecond line\n", f);
	ck_assert_int_eq(fclose(f), 0);
	c = config_load_outbound(write_conf("smarthost \"r\" { host = \"relay\" }\n"
	    "admin_address = \"ops@example.org\"\nlocal_domains = {\"a.example\", \"b.example\"}\n"
	    "mailname_file = \"@DIR@/mailname\"\nsender_address = \"noreply@example.org\"\n"),
	    err, sizeof(err));
	ck_assert_msg(c != NULL, "%s", err);
	ck_assert_str_eq(c->admin_address, "ops@example.org");
	ck_assert_uint_eq(c->nlocal_domains, 2);
	ck_assert_str_eq(c->local_domains[1], "b.example");
	ck_assert_str_eq(c->mailname, "mail.example.org");
	ck_assert_str_eq(c->sender_address, "noreply@example.org");
	ck_assert_str_eq(c->postmaster_address, "ops@example.org");
	config_free_outbound(c);
	c = config_load_outbound(write_conf("smarthost \"r\" { host = \"relay\" }\n"
	    "admin_address = \"ops@example.org\"\npostmaster_address = \"\"\n"
	    "mailname_file = \"@DIR@/none\"\nsender_domain = \"example.org\"\n"), err, sizeof(err));
	ck_assert_msg(c != NULL, "%s", err);
	ck_assert_ptr_null(c->postmaster_address);
	ck_assert_ptr_null(c->mailname);
	ck_assert_str_eq(c->sender_domain, "example.org");
	config_free_outbound(c);
	f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fputs("not a domain\n", f);
	ck_assert_int_eq(fclose(f), 0);
	c = config_load_outbound(write_conf("smarthost \"r\" { host = \"relay\" }\n"
	    "# the mail domain\nmailname_file = \"@DIR@/mailname\"\n"), err, sizeof(err));
	ck_assert_ptr_null(c);
	ck_assert_msg(strstr(err, ":3: mailname_file: ") != NULL && strstr(err,
	    "/mailname: \"not a domain\" is not a domain (letters, digits") != NULL, "%s", err);
	/* the tools (sendmail) do not read it: a broken one never stops them */
	c = config_load_outbound_opts(write_conf("smarthost \"r\" { host = \"relay\" }\n"
	    "mailname_file = \"@DIR@/mailname\"\n"), CONFIG_NO_SECRETS, err, sizeof(err));
	ck_assert_msg(c != NULL, "%s", err);
	ck_assert_ptr_null(c->mailname);
	config_free_outbound(c);
}
END_TEST

/* user and group as names or numbers, in both roles. */
START_TEST(user_and_group)
{
	char err[512];
	struct inbound_config *in = config_load_inbound(write_conf(
	    "listen = {\"127.0.0.1:25\"}\nuser = \"64101\"\ngroup = \"mail-readers\"\n"
	    "mailbox \"pm\" { address = {\"postmaster@example.com\"} }\n"), err, sizeof(err));
	struct outbound_config *out = config_load_outbound(write_conf(
	    "smarthost \"r\" { host = \"relay\" }\nuser = \"gw_out\"\ngroup = \"64102\"\n"),
	    err, sizeof(err));

	ck_assert_msg(in != NULL, "%s", err);
	ck_assert_msg(out != NULL, "%s", err);
	ck_assert_str_eq(in->user, "64101");
	ck_assert_str_eq(in->group, "mail-readers");
	ck_assert_str_eq(out->user, "gw_out");
	ck_assert_str_eq(out->group, "64102");
	config_free_inbound(in);
	config_free_outbound(out);
}
END_TEST

/* The tools' loader does not open auth_password_file; the daemons' does. */
START_TEST(outbound_nosecret)
{
	char err[512];
	const char *path = write_conf("smarthost \"r\" {\n host = \"relay\"\n"
	    " auth_user = \"u\"\n auth_password_file = \"/nonexistent/secret\"\n}\n");
	struct outbound_config *c = config_load_outbound_opts(path, CONFIG_NO_SECRETS, err,
	    sizeof(err));

	ck_assert_msg(c != NULL, "%s", err);
	ck_assert_str_eq(c->smarthosts[0].auth_password_file, "/nonexistent/secret");
	config_free_outbound(c);
	ck_assert_ptr_null(config_load_outbound(path, err, sizeof(err)));
	ck_assert_ptr_nonnull(strstr(err, "No such file"));
}
END_TEST

START_TEST(outbound_implicit_port)
{
	char err[512];
	const char *path = write_conf(
	    "smarthost \"a\" { host = \"r1\" tls = \"implicit\" }\n"
	    "smarthost \"b\" { host = \"r2\" tls = \"implicit\" port = 2465 }\n");
	struct outbound_config *c = config_load_outbound(path, err, sizeof(err));

	ck_assert_msg(c != NULL, "%s", err);
	ck_assert_uint_eq(c->smarthosts[0].port, 465);
	ck_assert_uint_eq(c->smarthosts[1].port, 2465);
	config_free_outbound(c);
}
END_TEST

/* ------------------------------------------------------------------ */
/* Every key read into the struct (values all differ from the defaults) */

START_TEST(inbound_all_keys)
{
	char err[512];
	const char *path = write_conf(
	    "hostname = \"gw-in.example.com\"\n"
	    "spool = \"/srv/in//\"\n"
	    "listen = {\"127.0.0.1:2525\", \"[::1]:2526\"}\n"
	    "relay_hosts = {\"192.0.2.10/32\", \"2001:db8::10\"}\n"
	    "max_message_size = 2048\n"
	    "max_recipients = 7\n"
	    "max_connections = 9\n"
	    "max_connections_per_client = 3\n"
	    "max_errors = 4\n"
	    "max_line_length = 1000\n"
	    "timeout_command = 11\n"
	    "timeout_data = 12\n"
	    "deadline_command = 13\ndeadline_data = 14\nmin_data_rate = 0\n"
	    "data_rate_grace = 15\ndeadline_tls_handshake = 16\ndeadline_session = 0\n"
	    "client_prefix_ipv4 = 32\nclient_prefix_ipv6 = 48\n"
	    "max_connections_per_relay_host = 5\nrefusal_log_interval = 2\n"
	    "tls {\n  certificate = \"@DIR@/cert.pem\"\n  key = \"@DIR@/key.pem\"\n"
	    "  require = true\n}\n"
	    "mailbox \"alice\" { address = {\"Alice@Example.COM\", \"a.smith@example.com\"} }\n"
	    "mailbox \"po2\" { address = {\"@Branch.example.com\"} }\n"
	    "postmaster = \"po2\"\nrecipient_delimiter = \"+-\"\n"
	    "mailbox_size_limit = 1048576\nspool_min_free = \"100M\"\n"
	    "max_data_line_length = 1000\n"
	    "metrics_listen = \"127.0.0.1:9325\"\n"
	    "log = \"syslog\"\n");
	struct inbound_config *c = config_load_inbound(path, err, sizeof(err));
	char want[600];

	ck_assert_msg(c != NULL, "%s", err);
	ck_assert_str_eq(c->hostname, "gw-in.example.com");
	ck_assert_str_eq(c->spool, "/srv/in");
	ck_assert_uint_eq(c->nlisten, 2);
	ck_assert_str_eq(c->listen[1].text, "[::1]:2526");
	ck_assert_int_eq(c->listen[1].ss.ss_family, AF_INET6);
	ck_assert_uint_eq(c->nrelay_hosts, 2);
	ck_assert_uint_eq(c->relay_hosts[1].prefix, 128);
	ck_assert_uint_eq(c->max_message_size, 2048);
	ck_assert_uint_eq(c->max_recipients, 7);
	ck_assert_uint_eq(c->max_connections, 9);
	ck_assert_uint_eq(c->max_connections_per_client, 3);
	ck_assert_uint_eq(c->max_errors, 4);
	ck_assert_uint_eq(c->max_line_length, 1000);
	ck_assert_uint_eq(c->timeout_command, 11);
	ck_assert_uint_eq(c->timeout_data, 12);
	ck_assert_uint_eq(c->deadline_command, 13);
	ck_assert_uint_eq(c->deadline_data, 14);
	ck_assert_uint_eq(c->min_data_rate, 0);
	ck_assert_uint_eq(c->data_rate_grace, 15);
	ck_assert_uint_eq(c->deadline_tls_handshake, 16);
	ck_assert_uint_eq(c->deadline_session, 0);
	ck_assert_uint_eq(c->client_prefix_ipv4, 32);
	ck_assert_uint_eq(c->client_prefix_ipv6, 48);
	ck_assert_uint_eq(c->max_connections_per_relay_host, 5);
	ck_assert_uint_eq(c->refusal_log_interval, 2);
	snprintf(want, sizeof(want), "%s/cert.pem", tmpdir);
	ck_assert_str_eq(c->tls_certificate, want);
	snprintf(want, sizeof(want), "%s/key.pem", tmpdir);
	ck_assert_str_eq(c->tls_key, want);
	ck_assert(c->tls_require);
	ck_assert_uint_eq(c->nmailboxes, 2);
	ck_assert_str_eq(c->mailboxes[0].name, "alice");
	ck_assert_uint_eq(c->mailboxes[0].naddresses, 2);
	ck_assert_str_eq(c->mailboxes[0].addresses[0], "alice@example.com");
	ck_assert_str_eq(c->mailboxes[0].addresses[1], "a.smith@example.com");
	ck_assert_str_eq(c->mailboxes[1].addresses[0], "@branch.example.com");
	ck_assert_uint_eq(c->postmaster, 1);
	ck_assert_str_eq(c->recipient_delimiter, "+-");
	ck_assert_uint_eq(c->mailbox_size_limit, 1048576);
	ck_assert_uint_eq(c->spool_min_free, 100 << 20);
	ck_assert(!c->spool_min_free_percent);
	ck_assert_uint_eq(c->max_data_line_length, 1000);
	ck_assert(c->metrics_enabled);
	ck_assert_str_eq(c->metrics_listen.text, "127.0.0.1:9325");
	ck_assert_int_eq(c->log, LOG_TARGET_SYSLOG);
	config_free_inbound(c);
}
END_TEST

START_TEST(inbound_cert_only_uses_cert_as_key)
{
	char err[512];
	const char *path = write_conf("listen = {\"127.0.0.1:25\"}\n"
	    "tls { certificate = \"@DIR@/cert.pem\" }\n"
	    "mailbox \"pm\" { address = {\"postmaster@example.com\"} }\n");
	struct inbound_config *c = config_load_inbound(path, err, sizeof(err));

	ck_assert_msg(c != NULL, "%s", err);
	ck_assert_str_eq(c->tls_key, c->tls_certificate);
	config_free_inbound(c);
}
END_TEST

START_TEST(outbound_all_keys)
{
	char err[512];
	const char *path = write_conf(
	    "hostname = \"gw-out.example.com\"\n"
	    "spool = \"/srv/out\"\n"
	    "smarthost \"primary\" {\n"
	    "  host = \"relay.example.com\"\n  port = 587\n  tls = \"opportunistic\"\n"
	    "  tls_verify = false\n  ca_file = \"@DIR@/ca.pem\"\n"
	    "  auth_user = \"gateway\"\n  auth_password_file = \"@DIR@/secret\"\n}\n"
	    "smarthost \"backup\" { host = \"192.0.2.1\" port = 26 tls = \"none\" }\n"
	    "max_connections = 2\nmessages_per_connection = 3\nretry_min = 4\n"
	    "retry_max = 5\nmax_queue_lifetime = 600\ndelay_warning = 0\n"
	    "scan_interval = 7\ntimeout_connect = 8\ntimeout_greeting = 9\n"
	    "timeout_command = 10\ntimeout_data_init = 11\ntimeout_data_block = 12\n"
	    "timeout_data_end = 13\ntimeout_idle = 14\nmetrics_listen = \"[::1]:9326\"\nlog = \"syslog\"\n");
	struct outbound_config *c = config_load_outbound(path, err, sizeof(err));
	const struct outbound_smarthost *h;
	char want[600];

	ck_assert_msg(c != NULL, "%s", err);
	ck_assert_str_eq(c->hostname, "gw-out.example.com");
	ck_assert_str_eq(c->spool, "/srv/out");
	ck_assert_uint_eq(c->nsmarthosts, 2);
	h = &c->smarthosts[0];
	ck_assert_str_eq(h->name, "primary");
	ck_assert_str_eq(h->host, "relay.example.com");
	ck_assert_uint_eq(h->port, 587);
	ck_assert_int_eq(h->tls, SMARTHOST_TLS_OPPORTUNISTIC);
	ck_assert(!h->tls_verify);
	snprintf(want, sizeof(want), "%s/ca.pem", tmpdir);
	ck_assert_str_eq(h->ca_file, want);
	ck_assert_str_eq(h->auth_user, "gateway");
	snprintf(want, sizeof(want), "%s/secret", tmpdir);
	ck_assert_str_eq(h->auth_password_file, want);
	h = &c->smarthosts[1];
	ck_assert_str_eq(h->name, "backup");
	ck_assert_uint_eq(h->port, 26);
	ck_assert_int_eq(h->tls, SMARTHOST_TLS_NONE);
	ck_assert_uint_eq(c->max_connections, 2);
	ck_assert_uint_eq(c->messages_per_connection, 3);
	ck_assert_uint_eq(c->retry_min, 4);
	ck_assert_uint_eq(c->retry_max, 5);
	ck_assert_uint_eq(c->max_queue_lifetime, 600);
	ck_assert_uint_eq(c->delay_warning, 0);
	ck_assert_uint_eq(c->scan_interval, 7);
	ck_assert_uint_eq(c->timeout_connect, 8);
	ck_assert_uint_eq(c->timeout_greeting, 9);
	ck_assert_uint_eq(c->timeout_command, 10);
	ck_assert_uint_eq(c->timeout_data_init, 11);
	ck_assert_uint_eq(c->timeout_data_block, 12);
	ck_assert_uint_eq(c->timeout_data_end, 13);
	ck_assert_uint_eq(c->timeout_idle, 14);
	ck_assert(c->metrics_enabled);
	ck_assert_int_eq(c->metrics_listen.ss.ss_family, AF_INET6);
	ck_assert_int_eq(c->log, LOG_TARGET_SYSLOG);
	config_free_outbound(c);
}
END_TEST

/* ------------------------------------------------------------------ */
/* Errors: each names file:line (line 0 = no line known) and the key */

struct error_case {
	enum config_role role;
	const char *text;
	int line;
	const char *key;
	const char *why;		/* another substring the message must hold */
};

#define IN_OK "listen = {\"127.0.0.1:25\"}\n"
#define OUT_OK "smarthost \"r\" { host = \"relay\" }\n"

static const struct error_case error_cases[] = {
	/* unknown key, wrong type */
	{ CONFIG_INBOUND, IN_OK "bogus = 1\n", 2, "bogus", "unknown key" },
	{ CONFIG_INBOUND, IN_OK "mailbox \"a\" {\n address = {\"a@b.c\"}\n colour = 1\n}\n",
	    4, "colour", "not a key of this section" },
	{ CONFIG_OUTBOUND, OUT_OK "listen = {\"127.0.0.1:25\"}\n", 2, "listen", "a key of smtpgate-inbound" },
	{ CONFIG_INBOUND, IN_OK "max_recipients = \"many\"\n", 2, "max_recipients", "not a whole number" },
	{ CONFIG_INBOUND, IN_OK "tls {\n require = maybe\n}\n", 3, "require", "not true or false" },
	{ CONFIG_OUTBOUND, OUT_OK "retry_min = 1.5\n", 2, "retry_min", "not a whole number" },
	/* out of range */
	{ CONFIG_INBOUND, IN_OK "max_recipients = 0\n", 2, "max_recipients", "out of range (1..100000)" },
	{ CONFIG_INBOUND, IN_OK "\nmax_message_size = 100\n", 3, "max_message_size", "out of range" },
	{ CONFIG_INBOUND, IN_OK "max_connections = -1\n", 2, "max_connections", "out of range" },
	{ CONFIG_INBOUND, IN_OK "max_connections_per_client = 0\n", 2, "max_connections_per_client", "out of range" },
	{ CONFIG_INBOUND, IN_OK "max_errors = 0\n", 2, "max_errors", "out of range" },
	{ CONFIG_INBOUND, IN_OK "max_line_length = 100\n", 2, "max_line_length", "out of range" },
	{ CONFIG_INBOUND, IN_OK "timeout_command = 0\n", 2, "timeout_command", "out of range" },
	{ CONFIG_INBOUND, IN_OK "timeout_data = 999999\n", 2, "timeout_data", "out of range" },
	{ CONFIG_INBOUND, IN_OK "deadline_command = 0\n", 2, "deadline_command", "out of range" },
	{ CONFIG_INBOUND, IN_OK "deadline_data = 0\n", 2, "deadline_data", "out of range" },
	{ CONFIG_INBOUND, IN_OK "min_data_rate = -1\n", 2, "min_data_rate", "out of range" },
	{ CONFIG_INBOUND, IN_OK "data_rate_grace = 0\n", 2, "data_rate_grace", "out of range" },
	{ CONFIG_INBOUND, IN_OK "deadline_tls_handshake = 0\n", 2, "deadline_tls_handshake", "out of range" },
	{ CONFIG_INBOUND, IN_OK "deadline_session = 999999999\n", 2, "deadline_session", "out of range" },
	{ CONFIG_INBOUND, IN_OK "client_prefix_ipv4 = 33\n", 2, "client_prefix_ipv4", "out of range (1..32)" },
	{ CONFIG_INBOUND, IN_OK "client_prefix_ipv6 = 0\n", 2, "client_prefix_ipv6", "out of range (1..128)" },
	{ CONFIG_INBOUND, IN_OK "max_connections_per_relay_host = -5\n", 2, "max_connections_per_relay_host", "out of range" },
	{ CONFIG_INBOUND, IN_OK "refusal_log_interval = 0\n", 2, "refusal_log_interval", "out of range" },
	{ CONFIG_OUTBOUND, OUT_OK "max_connections = 0\n", 2, "max_connections", "out of range" },
	{ CONFIG_OUTBOUND, OUT_OK "messages_per_connection = 0\n", 2, "messages_per_connection", "out of range" },
	{ CONFIG_OUTBOUND, OUT_OK "retry_min = 0\n", 2, "retry_min", "out of range" },
	{ CONFIG_OUTBOUND, OUT_OK "max_queue_lifetime = 1\n", 2, "max_queue_lifetime", "out of range" },
	{ CONFIG_OUTBOUND, OUT_OK "delay_warning = -5\n", 2, "delay_warning", "out of range" },
	{ CONFIG_OUTBOUND, OUT_OK "scan_interval = 0\n", 2, "scan_interval", "out of range" },
	{ CONFIG_OUTBOUND, OUT_OK "timeout_connect = 0\n", 2, "timeout_connect", "out of range" },
	{ CONFIG_OUTBOUND, OUT_OK "timeout_greeting = 0\n", 2, "timeout_greeting", "out of range" },
	{ CONFIG_OUTBOUND, OUT_OK "timeout_command = 0\n", 2, "timeout_command", "out of range" },
	{ CONFIG_OUTBOUND, OUT_OK "timeout_data_init = 0\n", 2, "timeout_data_init", "out of range" },
	{ CONFIG_OUTBOUND, OUT_OK "timeout_data_block = 0\n", 2, "timeout_data_block", "out of range" },
	{ CONFIG_OUTBOUND, OUT_OK "timeout_data_end = 0\n", 2, "timeout_data_end", "out of range" },
	{ CONFIG_OUTBOUND, OUT_OK "timeout_idle = 0\n", 2, "timeout_idle", "out of range" },
	{ CONFIG_OUTBOUND, OUT_OK "timeout_idle = 3601\n", 2, "timeout_idle", "out of range" },
	{ CONFIG_OUTBOUND, "smarthost \"r\" {\n host = \"relay\"\n port = 70000\n}\n", 3, "port", "out of range (1..65535)" },
	{ CONFIG_OUTBOUND, OUT_OK "retry_min = 600\nretry_max = 60\n", 3, "retry_max", "below retry_min" },
	/* mail this host originates (issue 19) */
	{ CONFIG_OUTBOUND, OUT_OK "admin_address = \"root\"\n", 2, "admin_address", "\"root\" is not a mail address (local@domain, without <>)" },
	{ CONFIG_OUTBOUND, OUT_OK "sender_address = \"<a@example.org>\"\n", 2, "sender_address", "not a mail address" },
	{ CONFIG_OUTBOUND, OUT_OK "postmaster_address = \"a b@example.org\"\n", 2, "postmaster_address", "not a mail address" },
	{ CONFIG_OUTBOUND, OUT_OK "sender_domain = \"example..org\"\n", 2, "sender_domain", "\"example..org\" is not a domain (an empty label)" },
	{ CONFIG_OUTBOUND, OUT_OK "sender_domain = \"example.org.\"\n", 2, "sender_domain", "ends with a dot" },
	{ CONFIG_OUTBOUND, OUT_OK "local_domains = {\"a.example\", \"b_c.example\"}\n", 2, "local_domains", "\"b_c.example\" is not a domain" },
	{ CONFIG_OUTBOUND, OUT_OK "mailname_file = \"etc/mailname\"\n", 2, "mailname_file", "not an absolute path" },
	{ CONFIG_OUTBOUND, OUT_OK "\nmailname_file = \"@DIR@\"\n", 3, "mailname_file", "Is a directory" },
	/* unreadable TLS files */
	{ CONFIG_INBOUND, IN_OK "tls {\n certificate = \"@DIR@/missing.crt\"\n}\n", 3, "certificate", "No such file" },
	{ CONFIG_INBOUND, IN_OK "tls {\n certificate = \"@DIR@/cert.pem\"\n key = \"@DIR@/nokey\"\n}\n", 4, "key", "No such file" },
	{ CONFIG_OUTBOUND, "smarthost \"r\" {\n host = \"relay\"\n ca_file = \"/nonexistent/ca.pem\"\n}\n", 3, "ca_file", "No such file" },
	{ CONFIG_OUTBOUND, "smarthost \"r\" {\n host = \"relay\"\n auth_user = \"u\"\n auth_password_file = \"@DIR@/nosecret\"\n}\n", 4, "auth_password_file", "No such file" },
	/* secrets others may read, or empty (issue 18) */
	{ CONFIG_OUTBOUND, "smarthost \"r\" {\n host = \"relay\"\n auth_user = \"u\"\n auth_password_file = \"@DIR@/opensecret\"\n}\n", 4, "auth_password_file", "readable by every user (mode 0644)" },
	{ CONFIG_OUTBOUND, "smarthost \"r\" {\n host = \"relay\"\n auth_user = \"u\"\n auth_password_file = \"@DIR@/emptysecret\"\n}\n", 4, "auth_password_file", "empty: its first line must hold the password" },
	{ CONFIG_OUTBOUND, "smarthost \"r\" {\n host = \"relay\"\n auth_user = \"u\"\n auth_password_file = \"@DIR@\"\n}\n", 4, "auth_password_file", "not a regular file" },
	/* addresses */
	{ CONFIG_INBOUND, "listen = {\"localhost:25\"}\n", 1, "listen", "localhost:25" },
	{ CONFIG_INBOUND, "listen = {\"127.0.0.1:25\",\n  \"127.0.0.1\"}\n", 2, "listen", "\"127.0.0.1\"" },
	{ CONFIG_INBOUND, "listen = {\"127.0.0.1:0\"}\n", 1, "listen", "127.0.0.1:0" },
	{ CONFIG_INBOUND, "listen = {\"127.0.0.1:65536\"}\n", 1, "listen", "65536" },
	{ CONFIG_INBOUND, "listen = {\"::1:25\"}\n", 1, "listen", "::1:25" },
	{ CONFIG_INBOUND, "listen = {\"[::1]25\"}\n", 1, "listen", "[::1]25" },
	{ CONFIG_INBOUND, "listen = {}\n", 0, "listen", "empty" },
	{ CONFIG_INBOUND, IN_OK "metrics_listen = \"127.0.0.1\"\n", 2, "metrics_listen", "127.0.0.1" },
	{ CONFIG_OUTBOUND, OUT_OK "metrics_listen = \"*:9326\"\n", 2, "metrics_listen", "*:9326" },
	{ CONFIG_INBOUND, IN_OK "relay_hosts = {\"10.0.0.0/33\"}\n", 2, "relay_hosts", "10.0.0.0/33" },
	{ CONFIG_INBOUND, IN_OK "relay_hosts = {\"10.0.0.0/8\", \"2001:db8::/129\"}\n", 2, "relay_hosts", "2001:db8::/129" },
	{ CONFIG_INBOUND, IN_OK "relay_hosts = {\"10.1.2\"}\n", 2, "relay_hosts", "10.1.2" },
	{ CONFIG_INBOUND, IN_OK "relay_hosts = {\"10.0.0.0/\"}\n", 2, "relay_hosts", "10.0.0.0/" },
	{ CONFIG_INBOUND, IN_OK "relay_hosts = {\"example.com/24\"}\n", 2, "relay_hosts", "example.com" },
	{ CONFIG_INBOUND, IN_OK "relay_hosts = {\"10.1.2.3/8\"}\n", 2, "relay_hosts", "\"10.1.2.3/8\" has host bits set beyond /8: write \"10.0.0.0/8\"" },
	{ CONFIG_INBOUND, IN_OK "relay_hosts = {\"127.0.0.1/32\",\n \"2001:db8::1/32\"}\n", 3, "relay_hosts", "write \"2001:db8::/32\"" },
	/* tls mode, log, spool, smarthost */
	{ CONFIG_OUTBOUND, "smarthost \"r\" {\n host = \"relay\"\n tls = \"ssl\"\n}\n", 3, "tls", "\"ssl\"" },
	{ CONFIG_OUTBOUND, OUT_OK "log = \"file\"\n", 2, "log", "stderr or syslog" },
	{ CONFIG_INBOUND, IN_OK "spool = \"var/spool/in\"\n", 2, "spool", "absolute" },
	{ CONFIG_OUTBOUND, OUT_OK "spool = \"./out\"\n", 2, "spool", "absolute" },
	{ CONFIG_INBOUND, IN_OK "spool = \"/\"\n", 2, "spool", "root" },
	{ CONFIG_OUTBOUND, "max_connections = 8\n", 0, "smarthost", "at least one" },
	{ CONFIG_OUTBOUND, "smarthost \"r\" {\n port = 25\n}\n", 3, "host", "missing" },
	{ CONFIG_OUTBOUND, OUT_OK "smarthost \"r\" { host = \"x\" }\n", 2, "smarthost \"r\"", "defined twice" },
	{ CONFIG_OUTBOUND, "smarthost \"r\" {\n host = \"relay\"\n auth_user = \"u\"\n}\n", 4, "auth_password_file", "required" },
	{ CONFIG_OUTBOUND, "smarthost \"r\" {\n host = \"relay\"\n tls = \"none\"\n auth_user = \"u\"\n auth_password_file = \"@DIR@/secret\"\n}\n", 4, "auth_user", "TLS" },
	{ CONFIG_INBOUND, IN_OK "hostname = \"bad host\"\n", 2, "hostname", "not a host name" },
	/* user, group: names or numbers, never root */
	{ CONFIG_INBOUND, IN_OK "user = \"root\"\n", 2, "user", "is root (uid 0)" },
	{ CONFIG_OUTBOUND, OUT_OK "user = \"0\"\n", 2, "user", "is root (uid 0)" },
	{ CONFIG_INBOUND, IN_OK "user = \"-x\"\n", 2, "user", "not a user name" },
	{ CONFIG_OUTBOUND, OUT_OK "user = \"\"\n", 2, "user", "not a user name" },
	{ CONFIG_OUTBOUND, OUT_OK "user = \"a b\"\n", 2, "user", "not a user name" },
	{ CONFIG_INBOUND, IN_OK "group = \"x:y\"\n", 2, "group", "not a group name" },
	/* inbound tls section coherence */
	{ CONFIG_INBOUND, IN_OK "tls {\n key = \"@DIR@/key.pem\"\n}\n", 3, "key", "without tls.certificate" },
	{ CONFIG_INBOUND, IN_OK "tls {\n require = true\n}\n", 3, "require", "without tls.certificate" },
	/* mailboxes */
	{ CONFIG_INBOUND, IN_OK "mailbox \"a\" {\n address = {\"a@example.com\"}\n}\n"
	    "mailbox \"b\" { address = {\"x@example.com\", \"A@Example.com\"} }\n", 5, "address", "a@example.com\" is listed twice" },
	{ CONFIG_INBOUND, IN_OK "mailbox \"a\" { address = {\"@d.example\", \"@D.example\"} }\n", 2, "address", "@d.example\" is listed twice" },
	{ CONFIG_INBOUND, IN_OK "mailbox \"a\" {\n}\n", 3, "address", "empty address list" },
	{ CONFIG_INBOUND, IN_OK "mailbox \"a\" { address = {} }\n", 2, "address", "empty address list" },
	{ CONFIG_INBOUND, IN_OK "mailbox \"a\" { address = {\"alice\"} }\n", 2, "address", "\"alice\"" },
	{ CONFIG_INBOUND, IN_OK "mailbox \"a\" { address = {\"a@b@c\"} }\n", 2, "address", "a@b@c" },
	{ CONFIG_INBOUND, IN_OK "mailbox \"a\" { address = {\"a b@c\"} }\n", 2, "address", "a b@c" },
	{ CONFIG_INBOUND, IN_OK "mailbox \"a\" { address = {\"a@\"} }\n", 2, "address", "\"a@\"" },
	{ CONFIG_INBOUND, IN_OK "mailbox \"../etc\" { address = {\"a@b.c\"} }\n", 2, "name", "directory" },
	{ CONFIG_INBOUND, IN_OK "mailbox \"a/b\" { address = {\"a@b.c\"} }\n", 2, "name", "directory" },
	{ CONFIG_INBOUND, IN_OK "mailbox \"a\" { address = {\"a@b.c\"} }\n"
	    "mailbox \"a\" { address = {\"b@b.c\"} }\n", 3, "mailbox \"a\"", "defined twice" },
	/* syntax */
	{ CONFIG_INBOUND, IN_OK "max_errors = \n", 2, "max_errors", "ends before its value" },
	{ CONFIG_INBOUND, IN_OK "}\n", 2, "", "" },
	{ CONFIG_OUTBOUND, OUT_OK "smarthost {\n host = \"x\"\n}\n", 2, "", "" },
};

/* Load case i and check that it fails with "path:line: " and both strings. */
START_TEST(config_errors)
{
	const struct error_case *tc = &error_cases[_i];
	const char *path = write_conf(tc->text);
	char err[1024] = "", want[600];
	void *c;

	if (tc->role == CONFIG_INBOUND)
		c = config_load_inbound(path, err, sizeof(err));
	else
		c = config_load_outbound(path, err, sizeof(err));
	ck_assert_msg(c == NULL, "case %d loaded: %s", _i, tc->text);
	if (tc->line > 0)
		snprintf(want, sizeof(want), "%s:%d: ", path, tc->line);
	else
		snprintf(want, sizeof(want), "%s: ", path);
	ck_assert_msg(strncmp(err, want, strlen(want)) == 0,
	    "case %d: \"%s\" does not start with \"%s\"", _i, err, want);
	ck_assert_msg(strstr(err, tc->key) != NULL, "case %d: no key \"%s\" in \"%s\"",
	    _i, tc->key, err);
	ck_assert_msg(strstr(err, tc->why) != NULL, "case %d: no \"%s\" in \"%s\"",
	    _i, tc->why, err);
}
END_TEST

START_TEST(missing_file)
{
	char err[512];

	ck_assert_ptr_null(config_load_inbound("/nonexistent/in.conf", err, sizeof(err)));
	ck_assert_str_eq(err, "/nonexistent/in.conf: No such file or directory");
	ck_assert_ptr_null(config_load_outbound("/nonexistent/out.conf", err, sizeof(err)));
	ck_assert_str_eq(err, "/nonexistent/out.conf: No such file or directory");
}
END_TEST

START_TEST(reload_after_error)
{
	char err[512];
	struct inbound_config *c;

	ck_assert_ptr_null(config_load_inbound(write_conf(IN_OK "max_errors = 0\n"),
	    err, sizeof(err)));
	c = config_load_inbound(write_conf(IN_OK "max_errors = 5\n"
	    "mailbox \"pm\" { address = {\"@example.com\"} }\n"), err, sizeof(err));
	ck_assert_msg(c != NULL, "%s", err);
	ck_assert_uint_eq(c->max_errors, 5);
	config_free_inbound(c);
}
END_TEST

/* ------------------------------------------------------------------ */
/* detect_role */

struct role_case {
	const char *text;
	int rc;
	enum config_role role;
};

static const struct role_case role_cases[] = {
	{ "smarthost \"a\" { host = \"x\" }\n", 0, CONFIG_OUTBOUND },
	{ "spool = \"/s\"\nsmarthost primary { host = x }\n", 0, CONFIG_OUTBOUND },
	{ "listen = {\"127.0.0.1:25\"}\n", 0, CONFIG_INBOUND },
	{ "mailbox \"a\" { address = {\"a@b\"} }\n", 0, CONFIG_INBOUND },
	{ "# smarthost \"a\" { }\nlisten={\"1.2.3.4:5\"}\n", 0, CONFIG_INBOUND },
	{ "/* smarthost \"a\" {} */ mailbox \"x\" {}\n", 0, CONFIG_INBOUND },
	{ "hostname = \"smarthost\"\nlisten = {\"127.0.0.1:25\"}\n", 0, CONFIG_INBOUND },
	{ "hostname = \"listen = {\"\nsmarthost \"a\" {}\n", 0, CONFIG_OUTBOUND },
	{ "spool = \"/s\"\n", -1, CONFIG_INBOUND },
	{ "hostname = smarthost\nspool = \"/x\"\n", -1, CONFIG_INBOUND },
	{ "", -1, CONFIG_INBOUND },
	{ "// listen = {}\nspool=\"/x\"\n", -1, CONFIG_INBOUND },
};

START_TEST(detect_role)
{
	const struct role_case *tc = &role_cases[_i];
	const char *path = write_conf(tc->text);
	enum config_role role = tc->role == CONFIG_INBOUND ? CONFIG_OUTBOUND : CONFIG_INBOUND;
	char err[512] = "";
	int rc = config_detect_role(path, &role, err, sizeof(err));

	ck_assert_msg(rc == tc->rc, "case %d: rc %d (%s)", _i, rc, err);
	if (rc == 0)
		ck_assert_msg(role == tc->role, "case %d: wrong role", _i);
	else
		ck_assert_msg(strncmp(err, path, strlen(path)) == 0, "case %d: %s", _i, err);
}
END_TEST

START_TEST(detect_role_missing)
{
	enum config_role role;
	char err[512];

	ck_assert_int_eq(config_detect_role("/nonexistent/x.conf", &role, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "/nonexistent/x.conf: No such file or directory");
}
END_TEST

/* ------------------------------------------------------------------ */
/* The shipped examples load (conf/ in the source tree) */

START_TEST(example_configs)
{
	char err[1024];
	enum config_role role;
	struct inbound_config *in;
	struct outbound_config *out;
	const char *inpath = SMTPGATE_SRCDIR "/conf/inbound.conf";
	const char *outpath = SMTPGATE_SRCDIR "/conf/outbound.conf";

	ck_assert_int_eq(config_detect_role(inpath, &role, err, sizeof(err)), 0);
	ck_assert_int_eq(role, CONFIG_INBOUND);
	ck_assert_int_eq(config_detect_role(outpath, &role, err, sizeof(err)), 0);
	ck_assert_int_eq(role, CONFIG_OUTBOUND);
	in = config_load_inbound(inpath, err, sizeof(err));
	ck_assert_msg(in != NULL, "%s", err);
	ck_assert_uint_ge(in->nmailboxes, 1);
	for (size_t i = 0; i < in->nlisten; i++)
		ck_assert_msg(strncmp(in->listen[i].text, "127.", 4) == 0 ||
		    strncmp(in->listen[i].text, "[::1]", 5) == 0,
		    "example listens beyond loopback: %s", in->listen[i].text);
	config_free_inbound(in);
	out = config_load_outbound(outpath, err, sizeof(err));
	ck_assert_msg(out != NULL, "%s", err);
	ck_assert_uint_ge(out->nsmarthosts, 1);
	config_free_outbound(out);
}
END_TEST

/* Read a whole small file into buf. */
static void
slurp(const char *path, char *buf, size_t bufsz)
{
	FILE *fp = fopen(path, "r");
	size_t n;

	ck_assert_ptr_nonnull(fp);
	n = fread(buf, 1, bufsz - 1, fp);
	buf[n] = '\0';
	fclose(fp);
}

/* 1 when some line of text, '#' and blanks stripped, starts with "key "
 * or "key=" and the line above it is a comment. */
static int
key_documented(const char *text, const char *key)
{
	const char *prev = NULL, *line = text;
	size_t klen = strlen(key);

	while (*line != '\0') {
		const char *p = line + strspn(line, " \t#");
		const char *q = prev == NULL ? "" : prev + strspn(prev, " \t");

		if (strncmp(p, key, klen) == 0 && (p[klen] == ' ' || p[klen] == '=') &&
		    *q == '#')
			return 1;
		prev = line;
		line += strcspn(line, "\n");
		if (*line == '\n')
			line++;
	}
	return 0;
}

/* Every key is in the example, set or commented out, under a comment. */
START_TEST(example_configs_mention_every_key)
{
	static const char *const in_keys[] = { "hostname", "spool", "listen",
	    "relay_hosts", "max_message_size", "max_recipients", "max_connections",
	    "max_connections_per_client", "max_errors", "max_line_length",
	    "timeout_command", "timeout_data", "tls", "certificate", "key",
	    "require", "mailbox", "metrics_listen", "log", "user", "group", NULL };
	static const char *const out_keys[] = { "hostname", "spool", "smarthost",
	    "host", "port", "tls", "tls_verify", "ca_file", "auth_user",
	    "auth_password_file", "max_connections", "messages_per_connection",
	    "retry_min", "retry_max", "max_queue_lifetime", "delay_warning",
	    "scan_interval", "timeout_connect", "timeout_greeting",
	    "timeout_command", "timeout_data_init", "timeout_data_block",
	    "timeout_data_end", "timeout_idle", "metrics_listen", "log", "user", "group",
	    "admin_address", "local_domains", "mailname_file", "sender_domain",
	    "sender_address", "postmaster_address", NULL };
	const char *files[2] = { SMTPGATE_SRCDIR "/conf/inbound.conf",
	    SMTPGATE_SRCDIR "/conf/outbound.conf" };
	const char *const *keys[2] = { in_keys, out_keys };
	static char text[65536];

	for (int f = 0; f < 2; f++) {
		slurp(files[f], text, sizeof(text));
		for (const char *const *k = keys[f]; *k != NULL; k++)
			ck_assert_msg(key_documented(text, *k), "%s: %s is missing or has "
			    "no comment line above it", files[f], *k);
	}
}
END_TEST

/* ------------------------------------------------------------------ */
/* The Maildirs' group and modes (issue 16) */

/* Defaults: the daemon's group, 2770, 0640; numbers and names read. */
START_TEST(mailbox_perms)
{
	char err[512];
	struct inbound_config *c = config_load_inbound(write_conf(
	    "mailbox \"a\" { address = {\"a@example.com\", \"postmaster@example.com\"} }\n"), err, sizeof(err));

	ck_assert_msg(c != NULL, "%s", err);
	ck_assert_uint_eq(c->mailbox_gid, (gid_t)-1);
	ck_assert_uint_eq(c->mailbox_dir_mode, 02770);
	ck_assert_uint_eq(c->mailbox_file_mode, 0640);
	config_free_inbound(c);
	c = config_load_inbound(write_conf("mailbox \"a\" { address = {\"a@example.com\", \"postmaster@example.com\"} }\n"
	    "mailbox_group = \"64103\"\nmailbox_dir_mode = \"02750\"\n"
	    "mailbox_file_mode = \"600\"\n"), err, sizeof(err));
	ck_assert_msg(c != NULL, "%s", err);
	ck_assert_uint_eq(c->mailbox_gid, 64103);
	ck_assert_uint_eq(c->mailbox_dir_mode, 02750);
	ck_assert_uint_eq(c->mailbox_file_mode, 0600);
	config_free_inbound(c);
	c = config_load_inbound(write_conf("mailbox \"a\" { address = {\"a@example.com\", \"postmaster@example.com\"} }\n"
	    "mailbox_group = \"daemon\"\n"), err, sizeof(err));
	ck_assert_msg(c != NULL, "%s", err);
	ck_assert_uint_ne(c->mailbox_gid, (gid_t)-1);
	config_free_inbound(c);
}
END_TEST

static const struct { const char *line, *want; } mailbox_perm_errors[] = {
	{ "mailbox_group = \"no-such-group-16\"",
	  ":2: mailbox_group: group \"no-such-group-16\" does not exist" },
	{ "mailbox_group = \"0\"", ":2: mailbox_group: \"0\" is the root group" },
	{ "mailbox_group = \"99999999999\"", ":2: mailbox_group: \"99999999999\" is out of range" },
	{ "mailbox_dir_mode = \"2777\"", ":2: mailbox_dir_mode: 2777: only bits of 2770" },
	{ "mailbox_dir_mode = \"1770\"", ":2: mailbox_dir_mode: 1770: only bits" },
	{ "mailbox_dir_mode = \"4770\"", ":2: mailbox_dir_mode: 4770: only bits" },
	{ "mailbox_dir_mode = \"0070\"", "and 0700 must be set" },
	{ "mailbox_dir_mode = \"77\"", ":2: mailbox_dir_mode: \"77\" is not an octal mode" },
	{ "mailbox_dir_mode = \"12770\"", ":2: mailbox_dir_mode: 12770: only bits" },
	{ "mailbox_dir_mode = \"002770\"", "is not an octal mode" },
	{ "mailbox_dir_mode = \"2790\"", "is not an octal mode" },
	{ "mailbox_file_mode = \"0644\"", ":2: mailbox_file_mode: 0644: only bits of 0660" },
	{ "mailbox_file_mode = \"0740\"", "only bits of 0660" },
	{ "mailbox_file_mode = \"2640\"", "only bits of 0660" },
	{ "mailbox_file_mode = \"0440\"", "and 0600 must be set" },
};

/* Each bad value: NULL and "file:2: key: reason". */
START_TEST(mailbox_perm_error)
{
	char text[256], err[512];
	const char *path;

	snprintf(text, sizeof(text), "mailbox \"a\" { address = {\"a@example.com\"} }\n%s\n",
	    mailbox_perm_errors[_i].line);
	path = write_conf(text);
	ck_assert_ptr_null(config_load_inbound(path, err, sizeof(err)));
	ck_assert_msg(strncmp(err, path, strlen(path)) == 0, "%s", err);
	ck_assert_msg(strstr(err, mailbox_perm_errors[_i].want) != NULL, "%s", err);
}
END_TEST

/* The example config documents the three keys. */
START_TEST(mailbox_perm_keys_documented)
{
	static char text[65536];

	slurp(SMTPGATE_SRCDIR "/conf/inbound.conf", text, sizeof(text));
	ck_assert(key_documented(text, "mailbox_group"));
	ck_assert(key_documented(text, "mailbox_dir_mode"));
	ck_assert(key_documented(text, "mailbox_file_mode"));
}
END_TEST

/* The suite. */
Suite *
unit_suite(void)
{
	Suite *s = suite_create("config");
	TCase *tc = tcase_create("config");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, inbound_defaults);
	tcase_add_test(tc, outbound_defaults);
	tcase_add_test(tc, outbound_origin);
	tcase_add_test(tc, outbound_implicit_port);
	tcase_add_test(tc, user_and_group);
	tcase_add_test(tc, outbound_nosecret);
	tcase_add_test(tc, inbound_all_keys);
	tcase_add_test(tc, inbound_cert_only_uses_cert_as_key);
	tcase_add_test(tc, outbound_all_keys);
	tcase_add_loop_test(tc, config_errors, 0,
	    (int)(sizeof(error_cases) / sizeof(error_cases[0])));
	tcase_add_test(tc, missing_file);
	tcase_add_test(tc, reload_after_error);
	tcase_add_loop_test(tc, detect_role, 0,
	    (int)(sizeof(role_cases) / sizeof(role_cases[0])));
	tcase_add_test(tc, detect_role_missing);
	tcase_add_test(tc, example_configs);
	tcase_add_test(tc, example_configs_mention_every_key);
	tcase_add_test(tc, mailbox_perms);
	tcase_add_loop_test(tc, mailbox_perm_error, 0,
	    sizeof(mailbox_perm_errors) / sizeof(mailbox_perm_errors[0]));
	tcase_add_test(tc, mailbox_perm_keys_documented);
	suite_add_tcase(s, tc);
	return s;
}
