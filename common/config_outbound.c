/*
 * config_outbound: the outbound role's configuration (beside config.c):
 * its option table and ranges, the smarthost sections and their TLS mode,
 * the cross-key checks (retry_max >= retry_min), the copy into struct
 * outbound_config, its load and its free.
 *
 * Must not know the inbound role's keys, nor what the daemon does with
 * the values (connections, the queue, credentials); libconfuse stays
 * inside config*.c.
 */
#include <confuse.h>
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "config_int.h"
#include "smtp_addr.h"
#include "util.h"

/* The outbound numeric keys, each a field of struct outbound_config of
 * the same name: X(key, default, min, max), in the option table's order. */
#define OUTBOUND_NUMBERS(X)						\
	X(max_connections, 8, 1, 10000)					\
	X(messages_per_connection, 100, 1, 100000)			\
	X(retry_min, 60, 1, 86400)					\
	X(retry_max, 3600, 1, 2592000)					\
	X(max_queue_lifetime, 432000, 60, 5184000)			\
	X(delay_warning, 14400, 0, 5184000)				\
	X(scan_interval, 30, 1, 86400)					\
	X(timeout_connect, 30, 1, 86400)				\
	X(timeout_greeting, 300, 1, 86400)				\
	X(timeout_command, 300, 1, 86400)				\
	X(timeout_data_init, 120, 1, 86400)				\
	X(timeout_data_block, 180, 1, 86400)				\
	X(timeout_data_end, 600, 1, 86400)				\
	X(timeout_idle, 10, 1, 3600)
#define OUTBOUND_RANGE(key, def, lo, hi)				\
	CONFIG_RANGE(struct outbound_config, key, lo, hi),

static const struct config_range outbound_ranges[] = {
	{ "port", 1, 65535, 0, 0 },	/* smarthost { port }: not a root field */
	OUTBOUND_NUMBERS(OUTBOUND_RANGE)
	{ NULL, 0, 0, 0, 0 },
};

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

/* smarthost tls: one of the modes config_tls_mode() knows. */
static const char *
config_tls_mode_problem(const char *s, char *why, size_t whylen)
{
	enum smarthost_tls mode;

	return config_tls_mode(s, &mode) == 0 ? NULL : config_why(why, whylen,
	    "\"%s\" is not one of starttls, opportunistic, implicit, none", s);
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

/* NULL when s is a domain name (letters, digits, "-", dots between
 * labels of 1..63, at most 253), else why not. */
static const char *
config_domain_problem(const char *s)
{
	size_t len = strlen(s), lab = 0;

	if (len == 0 || len > 253)
		return "must be 1..253 characters";
	for (size_t i = 0; i < len; i++) {
		if (s[i] == '.') {
			if (lab == 0)
				return "is not a domain (an empty label)";
			lab = 0;
		} else if (isalnum((unsigned char)s[i]) || s[i] == '-') {
			if (++lab > 63)
				return "is not a domain (a label over 63 characters)";
		} else
			return "is not a domain (letters, digits, \"-\" and dots only)";
	}
	return lab == 0 ? "is not a domain (ends with a dot)" : NULL;
}

/* Validate callback: a domain, or "" (off); each value of a list. */
static int
config_check_domain(cfg_t *cfg, cfg_opt_t *opt)
{
	const char *s, *why;

	for (unsigned i = 0; i < opt->nvalues; i++) {
		s = cfg_opt_getnstr(opt, i);
		if (s == NULL || (s[0] == '\0' && !(opt->flags & CFGF_LIST)))
			continue;
		if ((why = config_domain_problem(s)) != NULL)
			return config_fail(cfg, opt->name, "\"%s\" %s", s, why);
	}
	return 0;
}

/* admin_address, sender_address, postmaster_address: a mail address
 * "local@domain", or "" (off). */
static const char *
config_address_problem(const char *s, char *why, size_t whylen)
{
	char out[SMTP_ADDR_MAX + 1];
	size_t used = 0, n = strlen(s);

	if (n == 0 || (smtp_addr_parse_path(s, n, SMTP_ADDR_NO_BRACKETS_OK | SMTP_ADDR_UTF8,
	    out, sizeof(out), &used) == SMTP_ADDR_OK && used == n &&
	    strchr(out, '@') != NULL && s[0] != '<'))
		return NULL;
	return config_why(why, whylen, "\"%s\" is not a mail address "
	    "(local@domain, without <>)", s);
}

/* mailname_file: an absolute path, or "" (none). */
static const char *
config_abs_path_problem(const char *s, char *why, size_t whylen)
{
	return s[0] == '\0' || s[0] == '/' ? NULL :
	    config_why(why, whylen, "\"%s\" is not an absolute path", s);
}

/* The outbound string keys checked by a rule: X(key, default, problem),
 * in the option table's order. */
#define OUTBOUND_STRINGS(X)						\
	X(admin_address, "", config_address_problem)			\
	X(mailname_file, "/etc/mailname", config_abs_path_problem)	\
	X(sender_address, "", config_address_problem)			\
	X(postmaster_address, NULL, config_address_problem)

/* Build a cfg_t for the outbound table and set the checks of the
 * secret files (not for the tools); the others: config_load_outbound_opts. */
static cfg_t *
config_init_outbound(unsigned flags)
{
	/* libconfuse wants a char * default (a literal is const here) */
	static char empty_list[] = "{}";
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
		OUTBOUND_NUMBERS(CONFIG_INT_OPT)
		CFG_STR("submit_group", "", CFGF_NONE),
		OUTBOUND_STRINGS(CONFIG_STR_OPT)
		CFG_STR_LIST("local_domains", empty_list, CFGF_NONE),
		CFG_STR("sender_domain", "", CFGF_NONE),
		CFG_END()
	};
	cfg_t *cfg = cfg_init(opts, CFGF_NONE);

	if (cfg == NULL)
		fatalx("cfg_init failed");
	if (!(flags & CONFIG_NO_SECRETS)) {
		cfg_set_validate_func(cfg, "smarthost|ca_file", config_check_readable);
		cfg_set_validate_func(cfg, "smarthost|auth_password_file",
		    config_check_secret);
	}
	return cfg;
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

/* Copy the keys of mail this host originates (the mailname is read by
 * config_read_mailname()). */
static void
config_fill_origin(cfg_t *cfg, struct outbound_config *c)
{
	const char *pm = cfg_getstr(cfg, "postmaster_address");

	c->admin_address = xstrdup(cfg_getstr(cfg, "admin_address"));
	c->nlocal_domains = cfg_size(cfg, "local_domains");
	c->local_domains = xcalloc(c->nlocal_domains + 1, sizeof(char *));
	for (size_t i = 0; i < c->nlocal_domains; i++)
		c->local_domains[i] = xstrdup(cfg_getnstr(cfg, "local_domains", (unsigned)i));
	c->mailname_file = xstrdup(cfg_getstr(cfg, "mailname_file"));
	c->sender_domain = xstrdup(cfg_getstr(cfg, "sender_domain"));
	c->sender_address = xstrdup(cfg_getstr(cfg, "sender_address"));
	if (pm == NULL)
		pm = c->admin_address;
	c->postmaster_address = pm[0] != '\0' ? xstrdup(pm) : NULL;
}

/*
 * The mail domain from mailname_file (Debian's /etc/mailname): its first
 * line, trimmed and lower-cased, into *out (NULL when the file does not
 * exist or the key is "").  -1 with ctx's error when it cannot be read or
 * does not hold a domain.
 */
static int
config_read_mailname(cfg_t *cfg, struct config_ctx *ctx, char **out)
{
	const char *path = cfg_getstr(cfg, "mailname_file"), *why;
	char err[300], *text, *p;
	int line = 0;

	for (size_t i = 0; i < ctx->scan.nwords; i++)	/* where the key is written, if it is */
		if (ctx->scan.words[i].depth == 0 &&
		    strcmp(ctx->scan.words[i].name, "mailname_file") == 0)
			line = ctx->scan.words[i].line;
	*out = NULL;
	if (path == NULL || path[0] == '\0' || (access(path, F_OK) < 0 && errno == ENOENT))
		return 0;
	if ((text = config_slurp(path, err, sizeof(err))) == NULL) {
		config_error_at(ctx, line, "mailname_file: %s", err);
		return -1;
	}
	text[strcspn(text, "\r\n")] = '\0';
	for (p = text + strlen(text); p > text && isspace((unsigned char)p[-1]); p--)
		p[-1] = '\0';
	for (p = text; isspace((unsigned char)*p); p++)
		;
	memmove(text, p, strlen(p) + 1);
	util_lowercase(text);
	if ((why = config_domain_problem(text)) != NULL) {
		config_error_at(ctx, line, "mailname_file: %s: \"%.100s\" %s", path, text, why);
		free(text);
		return -1;
	}
	*out = text;
	return 0;
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
	config_fill_numbers(cfg, c, outbound_ranges);
	c->submit_group = xstrdup(cfg_getstr(cfg, "submit_group") != NULL ?
	    cfg_getstr(cfg, "submit_group") : "");
	config_fill_origin(cfg, c);
	return c;
}

/* Checks across keys that no single callback can make. */
static int
config_check_outbound_whole(cfg_t *cfg, struct config_ctx *ctx)
{
	if (cfg_size(cfg, "smarthost") == 0) {
		config_no_smarthost(ctx);
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

/* After the parse: the cross-key checks, the mailname (not for the
 * tools), the copy with the load's warnings; NULL with ctx's error. */
static void *
config_build_outbound(cfg_t *cfg, struct config_ctx *ctx, unsigned flags)
{
	struct outbound_config *c;
	char *mailname = NULL;

	if (config_check_outbound_whole(cfg, ctx) != 0 ||
	    (!(flags & CONFIG_NO_SECRETS) && config_read_mailname(cfg, ctx, &mailname) != 0))
		return NULL;
	c = config_fill_outbound(cfg, ctx->path);
	c->mailname = mailname;
	config_take_warnings(ctx, &c->warnings, &c->nwarnings);
	return c;
}

/* The same with CONFIG_* flags (CONFIG_NO_SECRETS: for the tools). */
struct outbound_config *
config_load_outbound_opts(const char *path, unsigned flags, char *err, size_t errlen)
{
	static const struct config_value_rule rules[] = {
		{ "smarthost|port", NULL, config_check_range },
		{ "smarthost|tls", config_tls_mode_problem, NULL },
		{ "smarthost", NULL, config_check_smarthost },
		OUTBOUND_STRINGS(CONFIG_RULE)
		{ "local_domains", NULL, config_check_domain },
		{ "sender_domain", NULL, config_check_domain },
		{ NULL, NULL, NULL },
	};
	static const struct config_role_ops ops = { CONFIG_OUTBOUND, outbound_ranges,
	    rules, config_init_outbound, config_build_outbound };

	return config_load_role(&ops, path, flags, err, errlen);
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
	for (size_t i = 0; i < c->nlocal_domains; i++)
		free(c->local_domains[i]);
	free(c->local_domains);
	free(c->admin_address);
	free(c->mailname_file);
	free(c->mailname);
	free(c->sender_domain);
	free(c->sender_address);
	free(c->postmaster_address);
	free(c->submit_group);
	config_free_common((char *[]){ c->path, c->hostname, c->spool, c->user, c->group },
	    c->warnings, c->nwarnings);
	free(c);
}
