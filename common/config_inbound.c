/*
 * config_inbound: the inbound role's configuration (beside config.c): its
 * option table and ranges, the validators of inbound-only keys (listen,
 * relay_hosts, tls { }, mailbox sections, the Maildirs' group and modes),
 * the copy into struct inbound_config, its load and its free.
 *
 * Must not know the outbound role's keys, nor what the daemon does with
 * the values (sockets, Maildirs, TLS contexts); libconfuse stays inside
 * config*.c.
 */
#include <arpa/inet.h>
#include <confuse.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/types.h>

#include "config.h"
#include "config_int.h"
#include "privs.h"
#include "util.h"

static const struct config_range inbound_ranges[] = {
	{ "max_message_size", 1024, 4294967296L },
	{ "max_recipients", 1, 100000 },
	{ "max_connections", 1, 1000000 },
	{ "max_connections_per_client", 1, 1000000 },
	{ "max_errors", 1, 1000 },
	{ "max_line_length", 512, 65536 },
	{ "timeout_command", 1, 86400 },
	{ "timeout_data", 1, 86400 },
	{ "deadline_command", 1, 86400 },
	{ "deadline_data", 1, 86400 },
	{ "min_data_rate", 0, 1000000000 },
	{ "data_rate_grace", 1, 86400 },
	{ "deadline_tls_handshake", 1, 86400 },
	{ "deadline_session", 0, 604800 },
	{ "client_prefix_ipv4", 1, 32 },
	{ "client_prefix_ipv6", 1, 128 },
	{ "max_connections_per_relay_host", 0, 1000000 },
	{ "refusal_log_interval", 1, 3600 },
	{ "body_memory_limit", 4096, 16777216 },
	{ "memory_budget", 1048576, 68719476736L },
	{ "mailbox_size_limit", 0, 1125899906842624L },
	{ "max_data_line_length", 1000, 16777216 },
	{ NULL, 0, 0 },
};

/* Validate callback: every element of a listen list is ip:port. */
static int
config_check_listen(cfg_t *cfg, cfg_opt_t *opt)
{
	struct config_sockaddr sa;
	unsigned i;

	if (opt->nvalues == 0)
		return config_fail(cfg, opt->name, "at least one address is needed");
	for (i = 0; i < opt->nvalues; i++) {
		const char *s = cfg_opt_getnstr(opt, i);

		if (config_parse_sockaddr(s, &sa) != 0)
			return config_fail(cfg, opt->name, "\"%s\" is not a numeric "
			    "address:port (e.g. 127.0.0.1:25, [::1]:25)", s);
	}
	return 0;
}

/* Validate callback: every relay_hosts element is a CIDR. */
static int
config_check_cidrs(cfg_t *cfg, cfg_opt_t *opt)
{
	struct config_cidr c;
	unsigned i;

	for (i = 0; i < opt->nvalues; i++) {
		const char *s = cfg_opt_getnstr(opt, i);

		char net[INET6_ADDRSTRLEN + 8];

		if (config_parse_cidr(s, &c) != 0)
			return config_fail(cfg, opt->name, "\"%s\" is not an address "
			    "or CIDR (e.g. 192.0.2.0/24, 2001:db8::/32)", s);
		if (config_cidr_host_bits(s, net, sizeof(net)))
			return config_fail(cfg, opt->name, "\"%s\" has host bits set "
			    "beyond /%u: write \"%s\" for the network, or the address "
			    "alone for one host", s, c.prefix, net);
	}
	return 0;
}

/* Validate callback: inbound tls { } is coherent. */
static int
config_check_tls_section(cfg_t *cfg, cfg_opt_t *opt)
{
	cfg_t *tls = cfg_opt_getnsec(opt, 0);
	bool cert = cfg_getstr(tls, "certificate") != NULL;

	if (!cert && cfg_getstr(tls, "key") != NULL)
		return config_fail(tls, "key", "set without tls.certificate");
	if (!cert && cfg_getbool(tls, "require"))
		return config_fail(tls, "require", "true without tls.certificate");
	return 0;
}

/* 1 when name is safe as a Maildir directory name under the spool. */
static int
config_mailbox_name_ok(const char *name)
{
	size_t len = strlen(name);

	return len > 0 && len <= 255 && name[0] != '.' &&
	    strspn(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
	    "0123456789._+-") == len;
}

/* 1 when a (lower-cased) mailbox address is "local@domain" or "@domain". */
static int
config_address_ok(const char *a)
{
	const char *at = strchr(a, '@');
	const char *dom;

	if (at == NULL || strchr(at + 1, '@') != NULL)
		return 0;
	for (const unsigned char *p = (const unsigned char *)a; *p != '\0'; p++)
		if (*p <= 0x20 || *p == 0x7f || strchr("<>\"\\,;()[]", *p) != NULL)
			return 0;
	dom = at + 1;
	return dom[0] != '\0' && dom[0] != '.' && dom[strlen(dom) - 1] != '.' &&
	    strstr(dom, "..") == NULL;
}

/* Validate callback: the mailbox section just read has a safe name and a
 * non-empty list of well-formed addresses not claimed before. */
static int
config_check_mailbox(cfg_t *cfg, cfg_opt_t *opt)
{
	cfg_t *mb = cfg_opt_getnsec(opt, opt->nvalues - 1);
	unsigned i, n = cfg_size(mb, "address");
	const char *owner;
	char addr[512];

	if (!config_mailbox_name_ok(cfg_title(mb)))
		return config_fail(mb, "name", "not a safe directory name "
		    "(letters, digits, . _ + -; not starting with .)");
	if (n == 0)
		return config_fail(mb, "address", "empty address list");
	for (i = 0; i < n; i++) {
		util_strlcpy(addr, cfg_getnstr(mb, "address", i), sizeof(addr));
		util_lowercase(addr);
		if (!config_address_ok(addr))
			return config_fail(mb, "address", "\"%s\" is not local@domain "
			    "or @domain", addr);
		owner = config_claim_address(addr, cfg_title(mb));
		if (owner != NULL)
			return config_fail(mb, "address", "\"%s\" is listed twice "
			    "(already in mailbox \"%s\")", addr, owner);
	}
	return 0;
}

/*
 * The Maildirs' permissions (mailbox_dir_mode, mailbox_file_mode): the
 * bits a mode may have and the bits it must have.  Nothing for others:
 * producers and other local users must not read delivered mail (issue
 * 16).  Directories may be set-group-id (new files, the readers' too,
 * get the mailbox group) but not sticky (readers must be able to move
 * and remove the daemon's files); files are never executable or set-id.
 */
static const struct config_mailbox_mode {
	const char *key;
	mode_t allowed, required;
} config_mailbox_modes[] = {
	{ "mailbox_dir_mode", 02770, 0700 },
	{ "mailbox_file_mode", 0660, 0600 },
};

/* Parse 3 to 5 octal digits ("640", "2770", "02770"); -1 when s is not that. */
static int
config_parse_octal_mode(const char *s, mode_t *out)
{
	size_t len = s == NULL ? 0 : strlen(s);

	if (len < 3 || len > 5 || strspn(s, "01234567") != len)
		return -1;
	*out = (mode_t)strtoul(s, NULL, 8);
	return 0;
}

/* Validate callback: a Maildir mode within config_mailbox_modes. */
static int
config_check_mailbox_mode(cfg_t *cfg, cfg_opt_t *opt)
{
	const char *s = cfg_opt_getnstr(opt, 0);
	const struct config_mailbox_mode *m = &config_mailbox_modes[0];
	mode_t mode;

	if (strcmp(opt->name, m->key) != 0)
		m++;
	if (config_parse_octal_mode(s, &mode) != 0)
		return config_fail(cfg, opt->name, "\"%s\" is not an octal mode "
		    "(e.g. \"%04o\")", s == NULL ? "" : s, (unsigned)m->allowed);
	if ((mode & ~m->allowed) != 0 || (mode & m->required) != m->required)
		return config_fail(cfg, opt->name, "%04o: only bits of %04o are allowed "
		    "(nothing for others) and %04o must be set", (unsigned)mode,
		    (unsigned)m->allowed, (unsigned)m->required);
	return 0;
}

/* The gid of mailbox_group: "" -> (gid_t)-1, a decimal number (no group
 * entry needed), or a group name; -1 with the reason in why. */
static int
config_mailbox_gid(const char *s, gid_t *out, char *why, size_t whylen)
{
	if (s == NULL || s[0] == '\0') {
		*out = (gid_t)-1;
		return 0;
	}
	if (!privs_group_id(s, out)) {
		if (strspn(s, "0123456789") == strlen(s))
			snprintf(why, whylen, "\"%s\" is out of range", s);
		else if (privs_name_ok(s))
			snprintf(why, whylen, "group \"%s\" does not exist", s);
		else
			snprintf(why, whylen, "\"%s\" is not a group name or number", s);
		return -1;
	}
	if (*out == 0) {
		snprintf(why, whylen, "\"%s\" is the root group: readers of mail "
		    "need a group of their own", s);
		return -1;
	}
	return 0;
}

/* Validate callback: mailbox_group names an existing group or a number. */
static int
config_check_mailbox_group(cfg_t *cfg, cfg_opt_t *opt)
{
	char why[256];
	gid_t gid;

	if (config_mailbox_gid(cfg_opt_getnstr(opt, 0), &gid, why, sizeof(why)) != 0)
		return config_fail(cfg, opt->name, "%s", why);
	return 0;
}

/* Validate callback: recipient_delimiter is "" or up to 8 of the
 * characters an address extension may start with. */
static int
config_check_delimiter(cfg_t *cfg, cfg_opt_t *opt)
{
	const char *s = cfg_opt_getnstr(opt, 0);
	size_t len = s == NULL ? 0 : strlen(s);

	if (len > 8 || strspn(s == NULL ? "" : s, "+-_=#$%&'*/?^`{|}~!") != len)
		return config_fail(cfg, opt->name, "\"%s\" is not up to 8 of the "
		    "characters + - _ = # $ %% & ' * / ? ^ ` { | } ~ !", s);
	return 0;
}

/* Parse spool_min_free: "N" bytes (K, M, G suffixes: 1024-based) or
 * "N%" (0..50) of the file system; -1 when s is not that. */
static int
config_parse_min_free(const char *s, uint64_t *v, bool *percent)
{
	char *end;
	unsigned long long n;
	int shift = 0;

	if (s == NULL || s[0] < '0' || s[0] > '9' || strlen(s) > 20)
		return -1;
	n = strtoull(s, &end, 10);
	*percent = *end == '%';
	if (*percent && (end[1] != '\0' || n > 50))
		return -1;
	if (!*percent && *end != '\0') {
		const char *u = strchr("KMG", *end);

		if (u == NULL || end[1] != '\0')
			return -1;
		shift = 10 * (int)(u - "KMG" + 1);
		if (n > (1ULL << 50) >> shift)
			return -1;
	}
	*v = (uint64_t)n << shift;
	return 0;
}

/* Validate callback: spool_min_free is bytes or a percentage. */
static int
config_check_min_free(cfg_t *cfg, cfg_opt_t *opt)
{
	const char *s = cfg_opt_getnstr(opt, 0);
	uint64_t v;
	bool pct;

	if (config_parse_min_free(s, &v, &pct) != 0)
		return config_fail(cfg, opt->name, "\"%s\" is not bytes (e.g. 104857600, "
		    "100M, 1G) or a percentage of the file system (0%%..50%%)",
		    s == NULL ? "" : s);
	return 0;
}

/* Inbound deadlines, fair share and refusal logging (issue 17); the
 * defaults are documented in conf/inbound.conf and README.md. */
#define CONFIG_INBOUND_LIMIT_OPTS					\
	CFG_INT("deadline_command", 300, CFGF_NONE),			\
	CFG_INT("deadline_data", 1800, CFGF_NONE),			\
	CFG_INT("min_data_rate", 1024, CFGF_NONE),			\
	CFG_INT("data_rate_grace", 60, CFGF_NONE),			\
	CFG_INT("deadline_tls_handshake", 60, CFGF_NONE),		\
	CFG_INT("deadline_session", 3600, CFGF_NONE),			\
	CFG_INT("client_prefix_ipv4", 24, CFGF_NONE),			\
	CFG_INT("client_prefix_ipv6", 64, CFGF_NONE),			\
	CFG_INT("max_connections_per_relay_host", 0, CFGF_NONE),	\
	CFG_INT("refusal_log_interval", 10, CFGF_NONE)
#define CONFIG_INBOUND_LIMIT_KEYS "deadline_command", "deadline_data",	\
	"min_data_rate", "data_rate_grace", "deadline_tls_handshake",	\
	"deadline_session", "client_prefix_ipv4", "client_prefix_ipv6",	\
	"max_connections_per_relay_host", "refusal_log_interval"

/* Build a cfg_t for the inbound table and set its callbacks. */
static cfg_t *
config_init_inbound(void)
{
	/* libconfuse wants a char * default (a literal is const here) */
	static char listen_default[] = "{\"127.0.0.1:25\"}";
	static cfg_opt_t tls_opts[] = {
		CFG_STR("certificate", NULL, CFGF_NONE),
		CFG_STR("key", NULL, CFGF_NONE),
		CFG_BOOL("require", cfg_false, CFGF_NONE),
		CFG_END()
	};
	static cfg_opt_t mailbox_opts[] = {
		CFG_STR_LIST("address", NULL, CFGF_NONE),
		CFG_END()
	};
	static cfg_opt_t opts[] = {
		CONFIG_COMMON_OPTS("/var/spool/smtpgate/inbound"),
		CFG_STR_LIST("listen", listen_default, CFGF_NONE),
		CFG_STR_LIST("relay_hosts", NULL, CFGF_NONE),
		CFG_INT("max_message_size", 10485760, CFGF_NONE),
		CFG_INT("max_recipients", 100, CFGF_NONE),
		CFG_INT("max_connections", 1000, CFGF_NONE),
		CFG_INT("max_connections_per_client", 50, CFGF_NONE),
		CFG_INT("max_errors", 10, CFGF_NONE),
		CFG_INT("max_line_length", 2048, CFGF_NONE),
		CFG_INT("timeout_command", 300, CFGF_NONE),
		CFG_INT("timeout_data", 600, CFGF_NONE),
		CONFIG_INBOUND_LIMIT_OPTS,
		CFG_INT("body_memory_limit", 131072, CFGF_NONE),
		CFG_INT("memory_budget", 67108864, CFGF_NONE),
		CFG_SEC("tls", tls_opts, CFGF_NONE),
		CFG_SEC("mailbox", mailbox_opts, CFGF_MULTI | CFGF_TITLE | CFGF_NO_TITLE_DUPES),
		CFG_STR("mailbox_group", "", CFGF_NONE),
		CFG_STR("mailbox_dir_mode", "2770", CFGF_NONE),
		CFG_STR("mailbox_file_mode", "0640", CFGF_NONE),
		CFG_STR("recipient_delimiter", "", CFGF_NONE),
		CFG_STR("postmaster", "", CFGF_NONE),
		CFG_INT("mailbox_size_limit", 0, CFGF_NONE),
		CFG_STR("spool_min_free", "1%", CFGF_NONE),
		CFG_INT("max_data_line_length", 65536, CFGF_NONE),
		CFG_END()
	};
	static const char *const ints[] = { "max_message_size", "max_recipients",
	    "max_connections", "max_connections_per_client", "max_errors",
	    "max_line_length", "timeout_command", "timeout_data", CONFIG_INBOUND_LIMIT_KEYS,
	    "body_memory_limit", "memory_budget", "mailbox_size_limit",
	    "max_data_line_length" };
	cfg_t *cfg = cfg_init(opts, CFGF_NONE);

	if (cfg == NULL)
		fatalx("cfg_init failed");
	for (size_t i = 0; i < sizeof(ints) / sizeof(ints[0]); i++)
		cfg_set_validate_func(cfg, ints[i], config_check_range);
	cfg_set_validate_func(cfg, "listen", config_check_listen);
	cfg_set_validate_func(cfg, "relay_hosts", config_check_cidrs);
	cfg_set_validate_func(cfg, "tls|certificate", config_check_readable);
	cfg_set_validate_func(cfg, "tls|key", config_check_readable);
	cfg_set_validate_func(cfg, "tls", config_check_tls_section);
	cfg_set_validate_func(cfg, "mailbox", config_check_mailbox);
	cfg_set_validate_func(cfg, "mailbox_group", config_check_mailbox_group);
	cfg_set_validate_func(cfg, "mailbox_dir_mode", config_check_mailbox_mode);
	cfg_set_validate_func(cfg, "mailbox_file_mode", config_check_mailbox_mode);
	cfg_set_validate_func(cfg, "recipient_delimiter", config_check_delimiter);
	cfg_set_validate_func(cfg, "spool_min_free", config_check_min_free);
	return cfg;
}

/* Fill the inbound listen and relay_hosts arrays. */
static void
config_fill_addresses(cfg_t *cfg, struct inbound_config *c)
{
	size_t i;

	c->nlisten = cfg_size(cfg, "listen");
	c->listen = xcalloc(c->nlisten, sizeof(*c->listen));
	for (i = 0; i < c->nlisten; i++)
		if (config_parse_sockaddr(cfg_getnstr(cfg, "listen", i), &c->listen[i]) != 0)
			fatalx("listen entry passed validation but not parsing");
	c->nrelay_hosts = cfg_size(cfg, "relay_hosts");
	c->relay_hosts = xcalloc(c->nrelay_hosts, sizeof(*c->relay_hosts));
	for (i = 0; i < c->nrelay_hosts; i++)
		if (config_parse_cidr(cfg_getnstr(cfg, "relay_hosts", i), &c->relay_hosts[i]) != 0)
			fatalx("relay_hosts entry passed validation but not parsing");
}

/* Fill the inbound mailbox array, addresses lower-cased. */
static void
config_fill_mailboxes(cfg_t *cfg, struct inbound_config *c)
{
	c->nmailboxes = cfg_size(cfg, "mailbox");
	c->mailboxes = xcalloc(c->nmailboxes, sizeof(*c->mailboxes));
	for (size_t i = 0; i < c->nmailboxes; i++) {
		cfg_t *mb = cfg_getnsec(cfg, "mailbox", (unsigned)i);
		struct inbound_mailbox *m = &c->mailboxes[i];

		m->name = xstrdup(cfg_title(mb));
		m->naddresses = cfg_size(mb, "address");
		m->addresses = xcalloc(m->naddresses, sizeof(*m->addresses));
		for (size_t j = 0; j < m->naddresses; j++)
			m->addresses[j] = util_lowercase(
			    xstrdup(cfg_getnstr(mb, "address", (unsigned)j)));
	}
}

/* The Maildirs' group and modes (validated already). */
static void
config_fill_mailbox_perms(cfg_t *cfg, struct inbound_config *c)
{
	char why[256];

	if (config_mailbox_gid(cfg_getstr(cfg, "mailbox_group"), &c->mailbox_gid,
	    why, sizeof(why)) != 0 ||
	    config_parse_octal_mode(cfg_getstr(cfg, "mailbox_dir_mode"),
	    &c->mailbox_dir_mode) != 0 ||
	    config_parse_octal_mode(cfg_getstr(cfg, "mailbox_file_mode"),
	    &c->mailbox_file_mode) != 0)
		fatalx("mailbox_group or a mailbox mode passed validation but not parsing");
}

/* The deadline, fair-share and refusal-log keys. */
static void
config_fill_inbound_limits(cfg_t *cfg, struct inbound_config *c)
{
	c->deadline_command = (unsigned)cfg_getint(cfg, "deadline_command");
	c->deadline_data = (unsigned)cfg_getint(cfg, "deadline_data");
	c->min_data_rate = (unsigned)cfg_getint(cfg, "min_data_rate");
	c->data_rate_grace = (unsigned)cfg_getint(cfg, "data_rate_grace");
	c->deadline_tls_handshake = (unsigned)cfg_getint(cfg, "deadline_tls_handshake");
	c->deadline_session = (unsigned)cfg_getint(cfg, "deadline_session");
	c->client_prefix_ipv4 = (unsigned)cfg_getint(cfg, "client_prefix_ipv4");
	c->client_prefix_ipv6 = (unsigned)cfg_getint(cfg, "client_prefix_ipv6");
	c->max_connections_per_relay_host =
	    (unsigned)cfg_getint(cfg, "max_connections_per_relay_host");
	if (c->max_connections_per_relay_host == 0)
		c->max_connections_per_relay_host = c->max_connections;
	c->refusal_log_interval = (unsigned)cfg_getint(cfg, "refusal_log_interval");
}

/* Copy a parsed inbound cfg_t into a new typed struct. */
static struct inbound_config *
config_fill_inbound(cfg_t *cfg, const char *path, size_t ctx_postmaster)
{
	struct inbound_config *c = xcalloc(1, sizeof(*c));
	cfg_t *tls = cfg_getsec(cfg, "tls");

	c->path = xstrdup(path);
	config_fill_common(cfg, &c->hostname, &c->spool, &c->metrics_enabled,
	    &c->metrics_listen, &c->log);
	c->user = xstrdup(cfg_getstr(cfg, "user"));
	c->group = xstrdup(cfg_getstr(cfg, "group"));
	config_fill_addresses(cfg, c);
	c->max_message_size = (uint64_t)cfg_getint(cfg, "max_message_size");
	c->max_recipients = (unsigned)cfg_getint(cfg, "max_recipients");
	c->max_connections = (unsigned)cfg_getint(cfg, "max_connections");
	c->max_connections_per_client = (unsigned)cfg_getint(cfg, "max_connections_per_client");
	c->max_errors = (unsigned)cfg_getint(cfg, "max_errors");
	c->max_line_length = (unsigned)cfg_getint(cfg, "max_line_length");
	c->timeout_command = (unsigned)cfg_getint(cfg, "timeout_command");
	c->timeout_data = (unsigned)cfg_getint(cfg, "timeout_data");
	config_fill_inbound_limits(cfg, c);
	c->body_memory_limit = (size_t)cfg_getint(cfg, "body_memory_limit");
	c->memory_budget = (size_t)cfg_getint(cfg, "memory_budget");
	c->tls_certificate = config_strdup_opt(tls, "certificate");
	c->tls_key = config_strdup_opt(tls, "key");
	if (c->tls_key == NULL && c->tls_certificate != NULL)
		c->tls_key = xstrdup(c->tls_certificate);	/* one PEM with both */
	c->tls_require = cfg_getbool(tls, "require");
	config_fill_mailboxes(cfg, c);
	config_fill_mailbox_perms(cfg, c);
	c->recipient_delimiter = xstrdup(cfg_getstr(cfg, "recipient_delimiter"));
	c->postmaster = ctx_postmaster;
	c->mailbox_size_limit = (uint64_t)cfg_getint(cfg, "mailbox_size_limit");
	if (config_parse_min_free(cfg_getstr(cfg, "spool_min_free"), &c->spool_min_free,
	    &c->spool_min_free_percent) != 0)
		fatalx("spool_min_free passed validation but not parsing");
	c->max_data_line_length = (unsigned)cfg_getint(cfg, "max_data_line_length");
	return c;
}

/* The index of the mailbox section titled name, or -1. */
static long
config_mailbox_index(cfg_t *cfg, const char *name)
{
	for (unsigned i = 0; i < cfg_size(cfg, "mailbox"); i++)
		if (strcmp(cfg_title(cfg_getnsec(cfg, "mailbox", i)), name) == 0)
			return (long)i;
	return -1;
}

/* The mailbox that receives addr (lower-cased "local@domain"): an exact
 * address first, then a "@domain" catch-all; -1 when none. */
static long
config_mailbox_for(cfg_t *cfg, const char *addr)
{
	const char *dom = strchr(addr, '@');

	for (int pass = 0; pass < 2; pass++)
		for (unsigned i = 0; i < cfg_size(cfg, "mailbox"); i++) {
			cfg_t *mb = cfg_getnsec(cfg, "mailbox", i);

			for (unsigned j = 0; j < cfg_size(mb, "address"); j++)
				if (strcasecmp(cfg_getnstr(mb, "address", j),
				    pass == 0 ? addr : dom) == 0)
					return (long)i;
		}
	return -1;
}

/*
 * The postmaster's mailbox (RFC 5321 4.5.1: "postmaster" must be
 * accepted): the mailbox named by `postmaster`, else the one receiving
 * postmaster@ of the first domain in the file; 0 with *idx, or -1 and
 * the error ("FILE:LINE: postmaster: reason").
 */
static int
config_find_postmaster(cfg_t *cfg, struct config_ctx *ctx, size_t *idx)
{
	static const char *const key[] = { "postmaster", NULL };
	const struct config_word *w = config_scan_find(&ctx->scan, key);
	const char *name = cfg_getstr(cfg, "postmaster");
	char addr[512];
	cfg_t *first;
	long i;

	if (name != NULL && name[0] != '\0') {
		if ((i = config_mailbox_index(cfg, name)) < 0) {
			config_error_at(ctx, w != NULL ? w->line : 0, "postmaster: no mailbox "
			    "\"%s\" is configured (name a mailbox section)", name);
			return -1;
		}
		*idx = (size_t)i;
		return 0;
	}
	if (cfg_size(cfg, "mailbox") == 0) {
		config_error_at(ctx, 0, "postmaster: no mailbox is configured, so "
		    "nothing receives postmaster (RFC 5321 4.5.1)");
		return -1;
	}
	first = cfg_getnsec(cfg, "mailbox", 0);
	snprintf(addr, sizeof(addr), "postmaster%s",
	    strchr(cfg_getnstr(first, "address", 0), '@'));
	util_lowercase(addr);
	if ((i = config_mailbox_for(cfg, addr)) < 0) {
		config_error_at(ctx, config_key_line(ctx, first, "address"), "postmaster: no "
		    "mailbox receives %s (RFC 5321 4.5.1); add it to a mailbox's addresses "
		    "or name one with postmaster = \"NAME\"", addr);
		return -1;
	}
	*idx = (size_t)i;
	return 0;
}

/* Checks on the whole inbound file (empty lists skip the callbacks). */
static int
config_check_inbound_whole(cfg_t *cfg, struct config_ctx *ctx, size_t *postmaster)
{
	if (cfg_size(cfg, "listen") == 0) {
		snprintf(ctx->err, ctx->errlen, "%s: listen: empty list "
		    "(at least one address:port is needed)", ctx->path);
		return -1;
	}
	return config_find_postmaster(cfg, ctx, postmaster);
}

/* Load and validate an inbound config; NULL with err set on any error. */
struct inbound_config *
config_load_inbound(const char *path, char *err, size_t errlen)
{
	struct config_ctx ctx = { .path = path, .err = err, .errlen = errlen,
	    .ranges = inbound_ranges, .role = CONFIG_INBOUND };
	struct inbound_config *c = NULL;
	size_t postmaster = 0;
	cfg_t *cfg;

	err[0] = '\0';
	cfg = config_init_inbound();
	if (config_parse_file(cfg, &ctx) == 0 &&
	    config_check_inbound_whole(cfg, &ctx, &postmaster) == 0)
		c = config_fill_inbound(cfg, path, postmaster);
	if (c != NULL)
		config_take_warnings(&ctx, &c->warnings, &c->nwarnings);
	cfg_free(cfg);
	config_ctx_free(&ctx);
	return c;
}

/* Free an inbound config and everything it owns. */
void
config_free_inbound(struct inbound_config *c)
{
	if (c == NULL)
		return;
	for (size_t i = 0; i < c->nmailboxes; i++) {
		for (size_t j = 0; j < c->mailboxes[i].naddresses; j++)
			free(c->mailboxes[i].addresses[j]);
		free(c->mailboxes[i].addresses);
		free(c->mailboxes[i].name);
	}
	free(c->mailboxes);
	free(c->recipient_delimiter);
	free(c->listen);
	free(c->relay_hosts);
	free(c->tls_certificate);
	free(c->tls_key);
	free(c->user);
	free(c->group);
	free(c->spool);
	free(c->hostname);
	free(c->path);
	config_free_warnings(c->warnings, c->nwarnings);
	free(c);
}
