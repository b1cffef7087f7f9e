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

/* The inbound numeric keys, each a field of struct inbound_config of the
 * same name: X(key, default, min, max).  The deadlines, fair share and
 * refusal logging (issue 17) are documented in conf/inbound.conf. */
#define INBOUND_NUMBERS(X)						\
	X(max_message_size, 10485760, 1024, 4294967296L)		\
	X(max_recipients, 100, 1, 100000)				\
	X(max_connections, 1000, 1, 1000000)				\
	X(max_connections_per_client, 50, 1, 1000000)			\
	X(max_errors, 10, 1, 1000)					\
	X(max_line_length, 2048, 512, 65536)				\
	X(timeout_command, 300, 1, 86400)				\
	X(timeout_data, 600, 1, 86400)					\
	X(deadline_command, 300, 1, 86400)				\
	X(deadline_data, 1800, 1, 86400)				\
	X(min_data_rate, 1024, 0, 1000000000)				\
	X(data_rate_grace, 60, 1, 86400)				\
	X(deadline_tls_handshake, 60, 1, 86400)				\
	X(deadline_session, 3600, 0, 604800)				\
	X(client_prefix_ipv4, 24, 1, 32)				\
	X(client_prefix_ipv6, 64, 1, 128)				\
	X(max_connections_per_relay_host, 0, 0, 1000000)		\
	X(refusal_log_interval, 10, 1, 3600)				\
	X(body_memory_limit, 131072, 4096, 16777216)			\
	X(memory_budget, 67108864, 1048576, 68719476736L)		\
	X(mailbox_size_limit, 0, 0, 1125899906842624L)			\
	X(max_data_line_length, 65536, 1000, 16777216)
#define INBOUND_RANGE(key, def, lo, hi)					\
	CONFIG_RANGE(struct inbound_config, key, lo, hi),

static const struct config_range inbound_ranges[] = {
	INBOUND_NUMBERS(INBOUND_RANGE)
	{ NULL, 0, 0, 0, 0 },
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

/* A Maildir mode within m. */
static const char *
config_mode_problem(const struct config_mailbox_mode *m, const char *s, char *why,
    size_t whylen)
{
	mode_t mode;

	if (config_parse_octal_mode(s, &mode) != 0)
		return config_why(why, whylen, "\"%s\" is not an octal mode "
		    "(e.g. \"%04o\")", s, (unsigned)m->allowed);
	if ((mode & ~m->allowed) != 0 || (mode & m->required) != m->required)
		return config_why(why, whylen, "%04o: only bits of %04o are allowed "
		    "(nothing for others) and %04o must be set", (unsigned)mode,
		    (unsigned)m->allowed, (unsigned)m->required);
	return NULL;
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

/* mailbox_dir_mode, mailbox_file_mode: within config_mailbox_modes. */
static const char *
config_dir_mode_problem(const char *s, char *why, size_t whylen)
{
	return config_mode_problem(&config_mailbox_modes[0], s, why, whylen);
}

/* The same for mailbox_file_mode. */
static const char *
config_file_mode_problem(const char *s, char *why, size_t whylen)
{
	return config_mode_problem(&config_mailbox_modes[1], s, why, whylen);
}

/* mailbox_group: "", an existing group or a number (not root's). */
static const char *
config_mailbox_group_problem(const char *s, char *why, size_t whylen)
{
	gid_t gid;

	return config_mailbox_gid(s, &gid, why, whylen < 256 ? whylen : 256) == 0 ?
	    NULL : why;
}

/* recipient_delimiter: "" or up to 8 of the characters an address
 * extension may start with. */
static const char *
config_delimiter_problem(const char *s, char *why, size_t whylen)
{
	size_t len = strlen(s);

	return len <= 8 && strspn(s, "+-_=#$%&'*/?^`{|}~!") == len ? NULL :
	    config_why(why, whylen, "\"%s\" is not up to 8 of the "
	    "characters + - _ = # $ %% & ' * / ? ^ ` { | } ~ !", s);
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

/* spool_min_free: bytes or a percentage. */
static const char *
config_min_free_problem(const char *s, char *why, size_t whylen)
{
	uint64_t v;
	bool pct;

	return config_parse_min_free(s, &v, &pct) == 0 ? NULL : config_why(why, whylen,
	    "\"%s\" is not bytes (e.g. 104857600, 100M, 1G) or a percentage of the "
	    "file system (0%%..50%%)", s);
}

/* The inbound string keys checked by a rule: X(key, default, problem),
 * in the option table's order. */
#define INBOUND_STRINGS(X)						\
	X(mailbox_group, "", config_mailbox_group_problem)		\
	X(mailbox_dir_mode, "2770", config_dir_mode_problem)		\
	X(mailbox_file_mode, "0640", config_file_mode_problem)		\
	X(recipient_delimiter, "", config_delimiter_problem)		\
	X(spool_min_free, "1%", config_min_free_problem)

/* Build a cfg_t for the inbound table (its checks: config_load_inbound). */
static cfg_t *
config_init_inbound(unsigned flags)
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
		INBOUND_NUMBERS(CONFIG_INT_OPT)
		CFG_SEC("tls", tls_opts, CFGF_NONE),
		CFG_SEC("mailbox", mailbox_opts, CFGF_MULTI | CFGF_TITLE | CFGF_NO_TITLE_DUPES),
		INBOUND_STRINGS(CONFIG_STR_OPT)
		CFG_STR("postmaster", "", CFGF_NONE),
		CFG_END()
	};
	cfg_t *cfg = cfg_init(opts, CFGF_NONE);

	(void)flags;
	if (cfg == NULL)
		fatalx("cfg_init failed");
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
	config_fill_numbers(cfg, c, inbound_ranges);
	if (c->max_connections_per_relay_host == 0)	/* 0 in the file: the same */
		c->max_connections_per_relay_host = c->max_connections;
	c->tls_certificate = config_strdup_opt(tls, "certificate");
	c->tls_key = config_strdup_opt(tls, "key");
	if (c->tls_key == NULL && c->tls_certificate != NULL)
		c->tls_key = xstrdup(c->tls_certificate);	/* one PEM with both */
	c->tls_require = cfg_getbool(tls, "require");
	config_fill_mailboxes(cfg, c);
	config_fill_mailbox_perms(cfg, c);
	c->recipient_delimiter = xstrdup(cfg_getstr(cfg, "recipient_delimiter"));
	c->postmaster = ctx_postmaster;
	if (config_parse_min_free(cfg_getstr(cfg, "spool_min_free"), &c->spool_min_free,
	    &c->spool_min_free_percent) != 0)
		fatalx("spool_min_free passed validation but not parsing");
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

/* After the parse: the whole-file checks, the copy with the load's
 * warnings; NULL with ctx's error. */
static void *
config_build_inbound(cfg_t *cfg, struct config_ctx *ctx, unsigned flags)
{
	struct inbound_config *c;
	size_t postmaster = 0;

	(void)flags;
	if (config_check_inbound_whole(cfg, ctx, &postmaster) != 0)
		return NULL;
	c = config_fill_inbound(cfg, ctx->path, postmaster);
	config_take_warnings(ctx, &c->warnings, &c->nwarnings);
	return c;
}

/* Load and validate an inbound config; NULL with err set on any error. */
struct inbound_config *
config_load_inbound(const char *path, char *err, size_t errlen)
{
	static const struct config_value_rule rules[] = {
		{ "listen", NULL, config_check_listen },
		{ "relay_hosts", NULL, config_check_cidrs },
		{ "tls|certificate", NULL, config_check_readable },
		{ "tls|key", NULL, config_check_readable },
		{ "tls", NULL, config_check_tls_section },
		{ "mailbox", NULL, config_check_mailbox },
		INBOUND_STRINGS(CONFIG_RULE)
		{ NULL, NULL, NULL },
	};
	static const struct config_role_ops ops = { CONFIG_INBOUND, inbound_ranges,
	    rules, config_init_inbound, config_build_inbound };

	return config_load_role(&ops, path, 0, err, errlen);
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
	config_free_common((char *[]){ c->path, c->hostname, c->spool, c->user, c->group },
	    c->warnings, c->nwarnings);
	free(c);
}
