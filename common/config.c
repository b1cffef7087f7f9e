/*
 * config: read inbound.conf / outbound.conf with libconfuse into typed,
 * validated structs (SPEC.md "Configuration").
 *
 * Each role has a cfg_opt_t table; ranges and formats are checked by
 * validate callbacks while libconfuse still knows the line, so every error
 * reads "FILE:LINE: key: reason".  The cfg_t never leaves this file: it is
 * copied into a struct inbound_config / outbound_config and freed.
 * This module knows nothing about sockets in use, the spool's contents or
 * TLS contexts; it only checks that the files it names can be read.
 */
#include <arpa/inet.h>
#include <confuse.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "privs.h"
#include "util.h"

/* A numeric key's allowed range. */
struct config_range {
	const char *key;
	long min, max;
};

/* The state of one load, reached from libconfuse's callbacks. */
struct config_ctx {
	const char *path;
	char *err;
	size_t errlen;
	const struct config_range *ranges;
	char **addresses;		/* inbound: every address seen so far */
	char **owners;			/* ... and the mailbox that claimed it */
	size_t naddresses;
	int retry_max_line;
};

static _Thread_local struct config_ctx *config_ctx;

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
	{ NULL, 0, 0 },
};

static const struct config_range outbound_ranges[] = {
	{ "port", 1, 65535 },
	{ "max_connections", 1, 10000 },
	{ "messages_per_connection", 1, 100000 },
	{ "retry_min", 1, 86400 },
	{ "retry_max", 1, 2592000 },
	{ "max_queue_lifetime", 60, 5184000 },
	{ "delay_warning", 0, 5184000 },
	{ "scan_interval", 1, 86400 },
	{ "timeout_connect", 1, 86400 },
	{ "timeout_greeting", 1, 86400 },
	{ "timeout_command", 1, 86400 },
	{ "timeout_data_init", 1, 86400 },
	{ "timeout_data_block", 1, 86400 },
	{ "timeout_data_end", 1, 86400 },
	{ NULL, 0, 0 },
};

/* Record the first error of this load as "path:line: message". */
static void
config_errfunc(cfg_t *cfg, const char *fmt, va_list ap)
{
	struct config_ctx *ctx = config_ctx;
	char msg[512];

	if (ctx == NULL || ctx->err[0] != '\0')
		return;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	if (cfg != NULL && cfg->line > 0)
		snprintf(ctx->err, ctx->errlen, "%s:%d: %s", ctx->path, cfg->line, msg);
	else
		snprintf(ctx->err, ctx->errlen, "%s: %s", ctx->path, msg);
}

/* The key as shown in messages: "port" in a section gets its title. */
static void
config_keyname(cfg_t *cfg, const char *key, char *buf, size_t bufsz)
{
	const char *title = cfg_title(cfg);

	if (strcmp(cfg_name(cfg), "root") == 0)
		snprintf(buf, bufsz, "%s", key);
	else if (title != NULL)
		snprintf(buf, bufsz, "%s \"%s\": %s", cfg_name(cfg), title, key);
	else
		snprintf(buf, bufsz, "%s: %s", cfg_name(cfg), key);
}

/* Report an error about `key` of section cfg at the current line. */
static int __attribute__((format(printf, 3, 4)))
config_fail(cfg_t *cfg, const char *key, const char *fmt, ...)
{
	char name[128], msg[384];
	va_list ap;

	config_keyname(cfg, key, name, sizeof(name));
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	cfg_error(cfg, "%s: %s", name, msg);
	return -1;
}

/* Validate callback: a number within its range for this role. */
static int
config_check_range(cfg_t *cfg, cfg_opt_t *opt)
{
	long v = cfg_opt_getnint(opt, 0);
	const struct config_range *r;

	for (r = config_ctx->ranges; r->key != NULL; r++)
		if (strcmp(r->key, opt->name) == 0)
			break;
	if (r->key == NULL)
		return 0;
	if (strcmp(opt->name, "retry_max") == 0)
		config_ctx->retry_max_line = cfg->line;
	if (v < r->min || v > r->max)
		return config_fail(cfg, opt->name, "%ld is out of range (%ld..%ld)",
		    v, r->min, r->max);
	return 0;
}

/* Validate callback: a file we must be able to read at load time. */
static int
config_check_readable(cfg_t *cfg, cfg_opt_t *opt)
{
	const char *path = cfg_opt_getnstr(opt, 0);
	int fd;

	if (path == NULL || path[0] == '\0')
		return config_fail(cfg, opt->name, "empty file name");
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return config_fail(cfg, opt->name, "%s: %s", path, strerror(errno));
	close(fd);
	return 0;
}

/* Validate callback: a host name (or [address literal]) we may announce. */
static int
config_check_hostname(cfg_t *cfg, cfg_opt_t *opt)
{
	const char *s = cfg_opt_getnstr(opt, 0);
	size_t len = s == NULL ? 0 : strlen(s);

	if (len == 0 || len > 253)
		return config_fail(cfg, opt->name, "must be 1..253 characters");
	if (strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
	    "0123456789.-_[]:") != len)
		return config_fail(cfg, opt->name, "\"%s\" is not a host name", s);
	return 0;
}

/* Validate callback: the spool is an absolute path, not "/" itself. */
static int
config_check_spool(cfg_t *cfg, cfg_opt_t *opt)
{
	const char *s = cfg_opt_getnstr(opt, 0);

	if (s == NULL || s[0] != '/')
		return config_fail(cfg, opt->name, "\"%s\" is not an absolute path",
		    s == NULL ? "" : s);
	if (strspn(s, "/") == strlen(s))
		return config_fail(cfg, opt->name, "the root directory cannot be a spool");
	if (strlen(s) >= PATH_MAX - 64)
		return config_fail(cfg, opt->name, "path too long");
	return 0;
}

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

/* Validate callback: metrics_listen is empty (off) or ip:port. */
static int
config_check_metrics(cfg_t *cfg, cfg_opt_t *opt)
{
	struct config_sockaddr sa;
	const char *s = cfg_opt_getnstr(opt, 0);

	if (s == NULL || s[0] == '\0')
		return 0;
	if (config_parse_sockaddr(s, &sa) != 0)
		return config_fail(cfg, opt->name, "\"%s\" is not a numeric "
		    "address:port (e.g. 127.0.0.1:9325)", s);
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

		if (config_parse_cidr(s, &c) != 0)
			return config_fail(cfg, opt->name, "\"%s\" is not an address "
			    "or CIDR (e.g. 192.0.2.0/24, 2001:db8::/32)", s);
	}
	return 0;
}

/* Validate callback: user is a name or number, and never uid 0. */
static int
config_check_user(cfg_t *cfg, cfg_opt_t *opt)
{
	const char *s = cfg_opt_getnstr(opt, 0);

	if (s == NULL || !privs_name_ok(s))
		return config_fail(cfg, opt->name, "\"%s\" is not a user name or "
		    "number", s == NULL ? "" : s);
	if (privs_user_is_root(s))
		return config_fail(cfg, opt->name, "\"%s\" is root (uid 0): a daemon "
		    "never keeps root; name the unprivileged service user", s);
	return 0;
}

/* Validate callback: group is "" (the user's) or a name or number. */
static int
config_check_group(cfg_t *cfg, cfg_opt_t *opt)
{
	const char *s = cfg_opt_getnstr(opt, 0);

	if (s != NULL && s[0] != '\0' && !privs_name_ok(s))
		return config_fail(cfg, opt->name, "\"%s\" is not a group name or "
		    "number", s);
	return 0;
}

/* Validate callback: log is "stderr" or "syslog". */
static int
config_check_log(cfg_t *cfg, cfg_opt_t *opt)
{
	const char *s = cfg_opt_getnstr(opt, 0);

	if (s == NULL || (strcmp(s, "stderr") != 0 && strcmp(s, "syslog") != 0))
		return config_fail(cfg, opt->name, "\"%s\" is not stderr or syslog",
		    s == NULL ? "" : s);
	return 0;
}

/* Parse a smarthost tls mode; -1 when unknown. */
static int
config_tls_mode(const char *s, enum smarthost_tls *out)
{
	static const struct { const char *name; enum smarthost_tls mode; } modes[] = {
		{ "starttls", SMARTHOST_TLS_STARTTLS },
		{ "opportunistic", SMARTHOST_TLS_OPPORTUNISTIC },
		{ "implicit", SMARTHOST_TLS_IMPLICIT },
		{ "none", SMARTHOST_TLS_NONE },
	};

	for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
		if (s != NULL && strcmp(s, modes[i].name) == 0) {
			*out = modes[i].mode;
			return 0;
		}
	}
	return -1;
}

/* Validate callback: a smarthost tls mode. */
static int
config_check_tls_mode(cfg_t *cfg, cfg_opt_t *opt)
{
	enum smarthost_tls mode;
	const char *s = cfg_opt_getnstr(opt, 0);

	if (config_tls_mode(s, &mode) != 0)
		return config_fail(cfg, opt->name, "\"%s\" is not one of starttls, "
		    "opportunistic, implicit, none", s == NULL ? "" : s);
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

/* Remember that mailbox claims addr; the earlier claimant or NULL. */
static const char *
config_claim_address(const char *addr, const char *mailbox)
{
	struct config_ctx *ctx = config_ctx;

	for (size_t i = 0; i < ctx->naddresses; i++)
		if (strcmp(ctx->addresses[i], addr) == 0)
			return ctx->owners[i];
	ctx->addresses = xrealloc(ctx->addresses,
	    (ctx->naddresses + 1) * sizeof(*ctx->addresses));
	ctx->owners = xrealloc(ctx->owners, (ctx->naddresses + 1) * sizeof(*ctx->owners));
	ctx->addresses[ctx->naddresses] = xstrdup(addr);
	ctx->owners[ctx->naddresses++] = xstrdup(mailbox);
	return NULL;
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

/* Validate callback: the smarthost section just read is complete. */
static int
config_check_smarthost(cfg_t *cfg, cfg_opt_t *opt)
{
	cfg_t *sh = cfg_opt_getnsec(opt, opt->nvalues - 1);
	const char *host = cfg_getstr(sh, "host");
	const char *user = cfg_getstr(sh, "auth_user");
	const char *pwfile = cfg_getstr(sh, "auth_password_file");

	if (host == NULL || host[0] == '\0')
		return config_fail(sh, "host", "missing (required)");
	if (strspn(host, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
	    "0123456789.-_:[]") != strlen(host))
		return config_fail(sh, "host", "\"%s\" is not a host name or address", host);
	if (user != NULL && pwfile == NULL)
		return config_fail(sh, "auth_password_file", "required with auth_user");
	if (user == NULL && pwfile != NULL)
		return config_fail(sh, "auth_user", "required with auth_password_file");
	if (user != NULL && strcmp(cfg_getstr(sh, "tls"), "none") == 0)
		return config_fail(sh, "auth_user", "AUTH is only sent over TLS, "
		    "but tls = \"none\"");
	return 0;
}

/* Options shared by both roles' root tables. */
#define CONFIG_COMMON_OPTS(spooldef)					\
	CFG_STR("hostname", NULL, CFGF_NONE),				\
	CFG_STR("spool", spooldef, CFGF_NONE),				\
	CFG_STR("metrics_listen", NULL, CFGF_NONE),			\
	CFG_STR("log", "stderr", CFGF_NONE),				\
	CFG_STR("user", "smtpgate", CFGF_NONE),				\
	CFG_STR("group", "", CFGF_NONE)

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
		CFG_STR_LIST("listen", "{\"127.0.0.1:25\"}", CFGF_NONE),
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
		CFG_END()
	};
	static const char *const ints[] = { "max_message_size", "max_recipients",
	    "max_connections", "max_connections_per_client", "max_errors",
	    "max_line_length", "timeout_command", "timeout_data", CONFIG_INBOUND_LIMIT_KEYS,
	    "body_memory_limit", "memory_budget" };
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
	return cfg;
}

/* Build a cfg_t for the outbound table and set its callbacks. */
static cfg_t *
config_init_outbound(unsigned flags)
{
	static cfg_opt_t smarthost_opts[] = {
		CFG_STR("host", NULL, CFGF_NONE),
		CFG_INT("port", 0, CFGF_NONE),
		CFG_STR("tls", "starttls", CFGF_NONE),
		CFG_BOOL("tls_verify", cfg_true, CFGF_NONE),
		CFG_STR("ca_file", NULL, CFGF_NONE),
		CFG_STR("auth_user", NULL, CFGF_NONE),
		CFG_STR("auth_password_file", NULL, CFGF_NONE),
		CFG_END()
	};
	static cfg_opt_t opts[] = {
		CONFIG_COMMON_OPTS("/var/spool/smtpgate/outbound"),
		CFG_SEC("smarthost", smarthost_opts, CFGF_MULTI | CFGF_TITLE | CFGF_NO_TITLE_DUPES),
		CFG_INT("max_connections", 8, CFGF_NONE),
		CFG_INT("messages_per_connection", 100, CFGF_NONE),
		CFG_INT("retry_min", 60, CFGF_NONE),
		CFG_INT("retry_max", 3600, CFGF_NONE),
		CFG_INT("max_queue_lifetime", 432000, CFGF_NONE),
		CFG_INT("delay_warning", 14400, CFGF_NONE),
		CFG_INT("scan_interval", 30, CFGF_NONE),
		CFG_STR("submit_group", "", CFGF_NONE),
		CFG_INT("timeout_connect", 30, CFGF_NONE),
		CFG_INT("timeout_greeting", 300, CFGF_NONE),
		CFG_INT("timeout_command", 300, CFGF_NONE),
		CFG_INT("timeout_data_init", 120, CFGF_NONE),
		CFG_INT("timeout_data_block", 180, CFGF_NONE),
		CFG_INT("timeout_data_end", 600, CFGF_NONE),
		CFG_END()
	};
	cfg_t *cfg = cfg_init(opts, CFGF_NONE);

	if (cfg == NULL)
		fatalx("cfg_init failed");
	for (const struct config_range *r = outbound_ranges; r->key != NULL; r++)
		if (strcmp(r->key, "port") != 0)
			cfg_set_validate_func(cfg, r->key, config_check_range);
	cfg_set_validate_func(cfg, "smarthost|port", config_check_range);
	cfg_set_validate_func(cfg, "smarthost|tls", config_check_tls_mode);
	if (!(flags & CONFIG_NO_SECRETS)) {
		cfg_set_validate_func(cfg, "smarthost|ca_file", config_check_readable);
		cfg_set_validate_func(cfg, "smarthost|auth_password_file",
		    config_check_readable);
	}
	cfg_set_validate_func(cfg, "smarthost", config_check_smarthost);
	return cfg;
}

/* Callbacks both roles share, then parse path; 0 ok, -1 with err set. */
static int
config_parse_file(cfg_t *cfg, struct config_ctx *ctx)
{
	int rc;

	cfg_set_error_function(cfg, config_errfunc);
	cfg_set_validate_func(cfg, "hostname", config_check_hostname);
	cfg_set_validate_func(cfg, "spool", config_check_spool);
	cfg_set_validate_func(cfg, "metrics_listen", config_check_metrics);
	cfg_set_validate_func(cfg, "log", config_check_log);
	cfg_set_validate_func(cfg, "user", config_check_user);
	cfg_set_validate_func(cfg, "group", config_check_group);
	config_ctx = ctx;
	errno = 0;
	rc = cfg_parse(cfg, ctx->path);
	config_ctx = NULL;
	if (rc == CFG_FILE_ERROR) {
		snprintf(ctx->err, ctx->errlen, "%s: %s", ctx->path,
		    strerror(errno != 0 ? errno : ENOENT));
		return -1;
	}
	if (rc != CFG_SUCCESS) {
		if (ctx->err[0] == '\0')
			snprintf(ctx->err, ctx->errlen, "%s: parse error", ctx->path);
		return -1;
	}
	return 0;
}

/* Free the address list gathered while loading. */
static void
config_ctx_free(struct config_ctx *ctx)
{
	for (size_t i = 0; i < ctx->naddresses; i++) {
		free(ctx->addresses[i]);
		free(ctx->owners[i]);
	}
	free(ctx->addresses);
	free(ctx->owners);
}

/* A copy of the spool path without trailing slashes. */
static char *
config_spool_copy(const char *s)
{
	char *p = xstrdup(s);
	size_t len = strlen(p);

	while (len > 1 && p[len - 1] == '/')
		p[--len] = '\0';
	return p;
}

/* Fill the fields both roles share. */
static void
config_fill_common(cfg_t *cfg, char **hostname, char **spool, bool *metrics_enabled,
    struct config_sockaddr *metrics, enum log_target *log)
{
	const char *host = cfg_getstr(cfg, "hostname");
	const char *m = cfg_getstr(cfg, "metrics_listen");

	*hostname = xstrdup(host != NULL ? host : util_hostname());
	*spool = config_spool_copy(cfg_getstr(cfg, "spool"));
	*metrics_enabled = m != NULL && m[0] != '\0';
	if (*metrics_enabled && config_parse_sockaddr(m, metrics) != 0)
		fatalx("metrics_listen \"%s\" passed validation but not parsing", m);
	*log = strcmp(cfg_getstr(cfg, "log"), "syslog") == 0 ?
	    LOG_TARGET_SYSLOG : LOG_TARGET_STDERR;
}

/* Copy a string option, or NULL when unset. */
static char *
config_strdup_opt(cfg_t *cfg, const char *key)
{
	const char *s = cfg_getstr(cfg, key);

	return s == NULL ? NULL : xstrdup(s);
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
config_fill_inbound(cfg_t *cfg, const char *path)
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
	return c;
}

/* Checks on the whole inbound file (empty lists skip the callbacks). */
static int
config_check_inbound_whole(cfg_t *cfg, struct config_ctx *ctx)
{
	if (cfg_size(cfg, "listen") == 0) {
		snprintf(ctx->err, ctx->errlen, "%s: listen: empty list "
		    "(at least one address:port is needed)", ctx->path);
		return -1;
	}
	return 0;
}

/* Load and validate an inbound config; NULL with err set on any error. */
struct inbound_config *
config_load_inbound(const char *path, char *err, size_t errlen)
{
	struct config_ctx ctx = { .path = path, .err = err, .errlen = errlen,
	    .ranges = inbound_ranges };
	struct inbound_config *c = NULL;
	cfg_t *cfg;

	err[0] = '\0';
	cfg = config_init_inbound();
	if (config_parse_file(cfg, &ctx) == 0 &&
	    config_check_inbound_whole(cfg, &ctx) == 0)
		c = config_fill_inbound(cfg, path);
	cfg_free(cfg);
	config_ctx_free(&ctx);
	return c;
}

/* Copy one parsed smarthost section. */
static void
config_fill_smarthost(cfg_t *sh, struct outbound_smarthost *h)
{
	long port = cfg_getint(sh, "port");

	h->name = xstrdup(cfg_title(sh));
	h->host = xstrdup(cfg_getstr(sh, "host"));
	if (config_tls_mode(cfg_getstr(sh, "tls"), &h->tls) != 0)
		fatalx("smarthost tls mode passed validation but not parsing");
	h->port = port != 0 ? (unsigned)port : h->tls == SMARTHOST_TLS_IMPLICIT ? 465 : 25;
	h->tls_verify = cfg_getbool(sh, "tls_verify");
	h->ca_file = config_strdup_opt(sh, "ca_file");
	h->auth_user = config_strdup_opt(sh, "auth_user");
	h->auth_password_file = config_strdup_opt(sh, "auth_password_file");
}

/* Copy a parsed outbound cfg_t into a new typed struct. */
static struct outbound_config *
config_fill_outbound(cfg_t *cfg, const char *path)
{
	struct outbound_config *c = xcalloc(1, sizeof(*c));

	c->path = xstrdup(path);
	config_fill_common(cfg, &c->hostname, &c->spool, &c->metrics_enabled,
	    &c->metrics_listen, &c->log);
	c->user = xstrdup(cfg_getstr(cfg, "user"));
	c->group = xstrdup(cfg_getstr(cfg, "group"));
	c->nsmarthosts = cfg_size(cfg, "smarthost");
	c->smarthosts = xcalloc(c->nsmarthosts, sizeof(*c->smarthosts));
	for (size_t i = 0; i < c->nsmarthosts; i++)
		config_fill_smarthost(cfg_getnsec(cfg, "smarthost", (unsigned)i),
		    &c->smarthosts[i]);
	c->max_connections = (unsigned)cfg_getint(cfg, "max_connections");
	c->messages_per_connection = (unsigned)cfg_getint(cfg, "messages_per_connection");
	c->retry_min = (unsigned)cfg_getint(cfg, "retry_min");
	c->retry_max = (unsigned)cfg_getint(cfg, "retry_max");
	c->max_queue_lifetime = (unsigned)cfg_getint(cfg, "max_queue_lifetime");
	c->delay_warning = (unsigned)cfg_getint(cfg, "delay_warning");
	c->scan_interval = (unsigned)cfg_getint(cfg, "scan_interval");
	c->submit_group = xstrdup(cfg_getstr(cfg, "submit_group") != NULL ?
	    cfg_getstr(cfg, "submit_group") : "");
	c->timeout_connect = (unsigned)cfg_getint(cfg, "timeout_connect");
	c->timeout_greeting = (unsigned)cfg_getint(cfg, "timeout_greeting");
	c->timeout_command = (unsigned)cfg_getint(cfg, "timeout_command");
	c->timeout_data_init = (unsigned)cfg_getint(cfg, "timeout_data_init");
	c->timeout_data_block = (unsigned)cfg_getint(cfg, "timeout_data_block");
	c->timeout_data_end = (unsigned)cfg_getint(cfg, "timeout_data_end");
	return c;
}

/* Checks across keys that no single callback can make. */
static int
config_check_outbound_whole(cfg_t *cfg, struct config_ctx *ctx)
{
	if (cfg_size(cfg, "smarthost") == 0) {
		snprintf(ctx->err, ctx->errlen, "%s: smarthost: no smarthost section "
		    "(at least one is required)", ctx->path);
		return -1;
	}
	if (cfg_getint(cfg, "retry_max") < cfg_getint(cfg, "retry_min")) {
		snprintf(ctx->err, ctx->errlen, "%s:%d: retry_max: %ld is below "
		    "retry_min %ld", ctx->path, ctx->retry_max_line,
		    cfg_getint(cfg, "retry_max"), cfg_getint(cfg, "retry_min"));
		return -1;
	}
	return 0;
}

/* Load and validate an outbound config; NULL with err set on any error. */
struct outbound_config *
config_load_outbound(const char *path, char *err, size_t errlen)
{
	return config_load_outbound_opts(path, 0, err, errlen);
}

/* The same with CONFIG_* flags (CONFIG_NO_SECRETS: for the tools). */
struct outbound_config *
config_load_outbound_opts(const char *path, unsigned flags, char *err, size_t errlen)
{
	struct config_ctx ctx = { .path = path, .err = err, .errlen = errlen,
	    .ranges = outbound_ranges };
	struct outbound_config *c = NULL;
	cfg_t *cfg;

	err[0] = '\0';
	cfg = config_init_outbound(flags);
	if (config_parse_file(cfg, &ctx) == 0 &&
	    config_check_outbound_whole(cfg, &ctx) == 0)
		c = config_fill_outbound(cfg, path);
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
	free(c->listen);
	free(c->relay_hosts);
	free(c->tls_certificate);
	free(c->tls_key);
	free(c->user);
	free(c->group);
	free(c->spool);
	free(c->hostname);
	free(c->path);
	free(c);
}

/* Free an outbound config and everything it owns. */
void
config_free_outbound(struct outbound_config *c)
{
	if (c == NULL)
		return;
	for (size_t i = 0; i < c->nsmarthosts; i++) {
		struct outbound_smarthost *h = &c->smarthosts[i];

		free(h->name);
		free(h->host);
		free(h->ca_file);
		free(h->auth_user);
		free(h->auth_password_file);
	}
	free(c->smarthosts);
	free(c->submit_group);
	free(c->user);
	free(c->group);
	free(c->spool);
	free(c->hostname);
	free(c->path);
	free(c);
}

/* Skip a comment or a quoted string starting at p; returns the next char
 * to look at, or p itself when p starts neither. */
static const char *
config_scan_skip(const char *p)
{
	if (*p == '#' || (p[0] == '/' && p[1] == '/'))
		return p + strcspn(p, "\n");
	if (p[0] == '/' && p[1] == '*') {
		const char *end = strstr(p + 2, "*/");

		return end != NULL ? end + 2 : p + strlen(p);
	}
	if (*p == '"' || *p == '\'') {
		char q = *p++;

		while (*p != '\0' && *p != q)
			p += (*p == '\\' && p[1] != '\0') ? 2 : 1;
		return *p != '\0' ? p + 1 : p;
	}
	return p;
}

/* 1 when c may be part of a bare libconfuse word. */
static int
config_scan_wordchar(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9') || c == '_' || c == '-' || c == '.';
}

/* 1 when the word w (n bytes), followed by `after`, is used as a key:
 * "key =", "section {", "section "title"" or "section title {". */
static int
config_scan_is_key(const char *w, size_t n, const char *after)
{
	if (*after == '=' || *after == '{' || *after == '"' || *after == '\'')
		return 1;
	if (n != 9 || strncmp(w, "smarthost", 9) != 0 || !config_scan_wordchar(*after))
		return 0;
	while (config_scan_wordchar(*after))
		after++;
	return after[strspn(after, " \t\r\n")] == '{';
}

/* Which role keys appear in text: bit 1 smarthost, bit 2 listen or mailbox. */
static int
config_scan_roles(const char *text)
{
	const char *p = text;
	int found = 0;

	while (*p != '\0') {
		const char *q = config_scan_skip(p), *w;
		size_t n;

		if (q != p || !config_scan_wordchar(*p)) {
			p = q != p ? q : p + 1;
			continue;
		}
		for (w = p; config_scan_wordchar(*p); p++)
			;
		n = (size_t)(p - w);
		if (!config_scan_is_key(w, n, p + strspn(p, " \t\r\n")))
			continue;
		if (n == 9 && strncmp(w, "smarthost", 9) == 0)
			found |= 1;
		else if ((n == 6 && strncmp(w, "listen", 6) == 0) ||
		    (n == 7 && strncmp(w, "mailbox", 7) == 0))
			found |= 2;
	}
	return found;
}

/* Read a whole (small) config file into a NUL-terminated buffer. */
static char *
config_slurp(const char *path, char *err, size_t errlen)
{
	FILE *f = fopen(path, "re");
	char *buf = NULL;
	size_t len = 0, n;
	char chunk[4096];

	if (f == NULL) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return NULL;
	}
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0) {
		buf = xrealloc(buf, len + n + 1);
		memcpy(buf + len, chunk, n);
		len += n;
	}
	if (ferror(f)) {
		snprintf(err, errlen, "%s: read: %s", path, strerror(errno));
		fclose(f);
		free(buf);
		return NULL;
	}
	fclose(f);
	if (buf == NULL)
		buf = xstrdup("");
	buf[len] = '\0';
	return buf;
}

/* Tell inbound from outbound by a textual scan of the file. */
int
config_detect_role(const char *path, enum config_role *role, char *err, size_t errlen)
{
	char *text = config_slurp(path, err, errlen);
	int found;

	if (text == NULL)
		return -1;
	found = config_scan_roles(text);
	free(text);
	if (found & 1) {
		*role = CONFIG_OUTBOUND;
		return 0;
	}
	if (found & 2) {
		*role = CONFIG_INBOUND;
		return 0;
	}
	snprintf(err, errlen, "%s: cannot tell whether this configures inbound or "
	    "outbound (no smarthost section, no listen or mailbox)", path);
	return -1;
}

/* Parse a decimal port 1..65535 spanning all of s. */
static int
config_parse_port(const char *s, unsigned short *port)
{
	unsigned long v = 0;

	if (*s == '\0' || strlen(s) > 5 || strspn(s, "0123456789") != strlen(s))
		return -1;
	v = strtoul(s, NULL, 10);
	if (v == 0 || v > 65535)
		return -1;
	*port = (unsigned short)v;
	return 0;
}

/* Fill out->ss from a numeric host and port. */
static int
config_sockaddr_set(const char *host, int v6, unsigned short port,
    struct config_sockaddr *out)
{
	memset(&out->ss, 0, sizeof(out->ss));
	if (v6) {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&out->ss;

		if (inet_pton(AF_INET6, host, &sin6->sin6_addr) != 1)
			return -1;
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(port);
		out->len = sizeof(*sin6);
	} else {
		struct sockaddr_in *sin = (struct sockaddr_in *)&out->ss;

		if (inet_pton(AF_INET, host, &sin->sin_addr) != 1)
			return -1;
		sin->sin_family = AF_INET;
		sin->sin_port = htons(port);
		out->len = sizeof(*sin);
	}
	return 0;
}

/* Parse "a.b.c.d:port" or "[v6]:port"; 0 ok, -1 bad. */
int
config_parse_sockaddr(const char *text, struct config_sockaddr *out)
{
	char host[INET6_ADDRSTRLEN + 1];
	const char *colon, *hs = text;
	size_t hlen;
	unsigned short port;
	int v6 = text[0] == '[';

	if (strlen(text) >= sizeof(out->text))
		return -1;
	if (v6) {
		const char *close = strchr(text, ']');

		if (close == NULL || close[1] != ':')
			return -1;
		hs = text + 1;
		hlen = (size_t)(close - hs);
		colon = close + 1;
	} else {
		colon = strrchr(text, ':');
		if (colon == NULL || memchr(text, ':', (size_t)(colon - text)) != NULL)
			return -1;
		hlen = (size_t)(colon - text);
	}
	if (hlen == 0 || hlen >= sizeof(host) || config_parse_port(colon + 1, &port) != 0)
		return -1;
	memcpy(host, hs, hlen);
	host[hlen] = '\0';
	if (config_sockaddr_set(host, v6, port, out) != 0)
		return -1;
	util_strlcpy(out->text, text, sizeof(out->text));
	return 0;
}

/* Clear the bits of addr beyond prefix. */
static void
config_cidr_mask(unsigned char *addr, size_t nbytes, unsigned prefix)
{
	for (size_t i = 0; i < nbytes; i++) {
		unsigned bits = prefix >= 8 * (i + 1) ? 8 :
		    prefix <= 8 * i ? 0 : prefix - 8 * (unsigned)i;

		addr[i] &= (unsigned char)(0xff00u >> bits);
	}
}

/* Parse "addr[/prefix]"; 0 ok, -1 bad. */
int
config_parse_cidr(const char *text, struct config_cidr *out)
{
	char host[INET6_ADDRSTRLEN + 1];
	const char *slash = strchr(text, '/');
	size_t hlen = slash != NULL ? (size_t)(slash - text) : strlen(text);
	unsigned maxbits;

	if (hlen == 0 || hlen >= sizeof(host))
		return -1;
	memcpy(host, text, hlen);
	host[hlen] = '\0';
	memset(out, 0, sizeof(*out));
	if (inet_pton(AF_INET, host, out->addr) == 1)
		out->family = AF_INET;
	else if (inet_pton(AF_INET6, host, out->addr) == 1)
		out->family = AF_INET6;
	else
		return -1;
	maxbits = out->family == AF_INET ? 32 : 128;
	out->prefix = maxbits;
	if (slash != NULL) {
		const char *p = slash + 1;

		if (*p == '\0' || strlen(p) > 3 || strspn(p, "0123456789") != strlen(p))
			return -1;
		out->prefix = (unsigned)strtoul(p, NULL, 10);
		if (out->prefix > maxbits)
			return -1;
	}
	config_cidr_mask(out->addr, maxbits / 8, out->prefix);
	return 0;
}

/* 1 when the first `prefix` bits of a and b agree. */
static bool
config_prefix_equal(const unsigned char *a, const unsigned char *b, unsigned prefix)
{
	unsigned full = prefix / 8, rest = prefix % 8;

	if (memcmp(a, b, full) != 0)
		return false;
	if (rest == 0)
		return true;
	return ((a[full] ^ b[full]) & (0xff00u >> rest) & 0xff) == 0;
}

/* true when sa lies in c; IPv4-mapped IPv6 peers match IPv4 entries and
 * IPv4 peers match ::ffff:0:0/96-style entries. */
bool
config_cidr_match(const struct config_cidr *c, const struct sockaddr *sa)
{
	static const unsigned char mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
	unsigned char v6[16];
	const unsigned char *v4 = NULL;

	if (sa->sa_family == AF_INET) {
		v4 = (const unsigned char *)&((const struct sockaddr_in *)sa)->sin_addr;
		memcpy(v6, mapped, 12);
		memcpy(v6 + 12, v4, 4);
	} else if (sa->sa_family == AF_INET6) {
		memcpy(v6, &((const struct sockaddr_in6 *)sa)->sin6_addr, 16);
		if (memcmp(v6, mapped, 12) == 0)
			v4 = v6 + 12;
	} else {
		return false;
	}
	if (c->family == AF_INET)
		return v4 != NULL && config_prefix_equal(c->addr, v4, c->prefix);
	return config_prefix_equal(c->addr, v6, c->prefix);
}
