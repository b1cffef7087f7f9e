/*
 * config: read inbound.conf / outbound.conf with libconfuse into typed,
 * validated structs (SPEC.md "Configuration").
 *
 * Each role has a cfg_opt_t table (config_inbound.c, config_outbound.c);
 * ranges and formats are checked by validate callbacks while libconfuse
 * still knows the line, so every error reads "FILE:LINE: key: reason".
 * This file holds what both roles share: the load's context and its
 * error-line machinery, the validators of the common keys, the parse
 * step, the common fillers, the role detection and the address/CIDR
 * parsers.  The cfg_t never leaves config*.c: it is copied into a struct
 * inbound_config / outbound_config and freed.
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
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "config_int.h"
#include "fsutil.h"
#include "privs.h"
#include "util.h"

_Thread_local struct config_ctx *config_ctx;

/* The key as shown in messages: "port" in a section gets its title. */
void
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
int __attribute__((format(printf, 3, 4)))
config_fail(cfg_t *cfg, const char *key, const char *fmt, ...)
{
	struct config_ctx *ctx = config_ctx;
	char name[128], msg[384];
	va_list ap;

	if (ctx == NULL || ctx->err[0] != '\0')
		return -1;
	config_keyname(cfg, key, name, sizeof(name));
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	config_error_at(ctx, config_key_line(ctx, cfg, key), "%s: %s", name, msg);
	return -1;
}

/* Record the first error of this load as "path:line: message" (line 0:
 * "path: message"). */
void
config_error_at(struct config_ctx *ctx, int line, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	if (ctx->err[0] != '\0')
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (line > 0)
		snprintf(ctx->err, ctx->errlen, "%s:%d: %s", ctx->path, line, msg);
	else
		snprintf(ctx->err, ctx->errlen, "%s: %s", ctx->path, msg);
}

/* Note a warning of this load as "path:line: message" (line 0: "path:
 * message"); the loaded config carries it (config.h). */
void
config_warn_at(struct config_ctx *ctx, int line, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	ctx->warnings = xrealloc(ctx->warnings, (ctx->nwarnings + 1) * sizeof(*ctx->warnings));
	ctx->warnings[ctx->nwarnings++] = line > 0 ? xasprintf("%s:%d: %s", ctx->path,
	    line, msg) : xasprintf("%s: %s", ctx->path, msg);
}

/* Note a warning about `key` of section cfg at its line. */
void
config_warn(cfg_t *cfg, const char *key, const char *fmt, ...)
{
	struct config_ctx *ctx = config_ctx;
	char name[128], msg[384];
	va_list ap;

	if (ctx == NULL)
		return;
	config_keyname(cfg, key, name, sizeof(name));
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	config_warn_at(ctx, config_key_line(ctx, cfg, key), "%s: %s", name, msg);
}

/* Give the warnings gathered by ctx to a loaded config. */
void
config_take_warnings(struct config_ctx *ctx, char ***warnings, size_t *n)
{
	*warnings = ctx->warnings;
	*n = ctx->nwarnings;
	ctx->warnings = NULL;
	ctx->nwarnings = 0;
}

/* Free a config's warnings. */
void
config_free_warnings(char **warnings, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(warnings[i]);
	free(warnings);
}

/* Validate callback: a number within its range for this role. */
int
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
int
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

/* The first line of a secret file read from fd into *out; 0, or -1 with
 * the reason (no path) in why. */
static int
config_secret_line(int fd, char **out, char *why, size_t whylen)
{
	char buf[4097];
	size_t len = 0;
	ssize_t n;

	while (len < sizeof(buf) - 1 &&
	    (n = read(fd, buf + len, sizeof(buf) - 1 - len)) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			snprintf(why, whylen, "read: %s", strerror(errno));
			explicit_bzero(buf, sizeof(buf));
			return -1;
		}
		len += (size_t)n;
	}
	buf[len] = '\0';
	buf[strcspn(buf, "\r\n")] = '\0';
	if (buf[0] == '\0')
		snprintf(why, whylen, "empty: its first line must hold the password");
	else
		*out = xstrdup(buf);
	explicit_bzero(buf, sizeof(buf));
	return *out != NULL ? 0 : -1;
}

/* Read a secret's first line (see config.h): a regular file nobody but
 * its owner and group may read, not empty. */
int
config_read_secret(const char *path, char **out, char *err, size_t errlen)
{
	char why[256] = "";
	struct stat st;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);

	*out = NULL;
	if (fd < 0)
		snprintf(why, sizeof(why), "%s", strerror(errno));
	else if (fstat(fd, &st) < 0)
		snprintf(why, sizeof(why), "fstat: %s", strerror(errno));
	else if (!S_ISREG(st.st_mode))
		snprintf(why, sizeof(why), "not a regular file");
	else if ((st.st_mode & (S_IROTH | S_IWOTH)) != 0)
		snprintf(why, sizeof(why), "%s by every user (mode %04o); make it "
		    "0640 root:<service group> (chmod o-rwx)", st.st_mode & S_IROTH ?
		    "readable" : "writable", (unsigned)(st.st_mode & 07777));
	else
		(void)config_secret_line(fd, out, why, sizeof(why));
	if (fd >= 0)
		(void)close(fd);
	if (*out != NULL)
		return 0;
	snprintf(err, errlen, "%s: %s", path, why);
	return -1;
}

/* Validate callback: a secret file config_read_secret() accepts. */
int
config_check_secret(cfg_t *cfg, cfg_opt_t *opt)
{
	const char *path = cfg_opt_getnstr(opt, 0);
	char err[PATH_MAX + 300], *secret;

	if (path == NULL || path[0] == '\0')
		return config_fail(cfg, opt->name, "empty file name");
	if (config_read_secret(path, &secret, err, sizeof(err)) != 0)
		return config_fail(cfg, opt->name, "%s", err);
	explicit_bzero(secret, strlen(secret));
	free(secret);
	return 0;
}

/* Validate callback: a host name (or [address literal]) we may announce;
 * a name without a dot is only a warning (mail would go out as user@vm). */
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
	if (strchr(s, '.') == NULL && s[0] != '[')
		config_warn(cfg, opt->name, "\"%s\" has no dot: it is the name in "
		    "HELO and in the addresses of bounces, and other hosts expect a "
		    "fully qualified name (e.g. \"%s.example.com\")", s, s);
	return 0;
}

/* After a parse: a key set twice in one section (the last value wins),
 * and a host name left to the system's when that has no dot. */
static void
config_parse_warnings(cfg_t *cfg, struct config_ctx *ctx)
{
	const struct config_word *w, *first;
	const char *host = util_hostname();
	size_t next = 0;

	while ((w = config_scan_repeat(&ctx->scan, &next, &first)) != NULL) {
		const struct config_block *b = w->block >= 0 ?
		    &ctx->scan.blocks[w->block] : NULL;
		char name[200];

		if (b != NULL && b->title[0] != '\0')
			snprintf(name, sizeof(name), "%s \"%s\": %s", b->word, b->title, w->name);
		else if (b != NULL)
			snprintf(name, sizeof(name), "%s: %s", b->word, w->name);
		else
			snprintf(name, sizeof(name), "%s", w->name);
		config_warn_at(ctx, w->line, "%s: set again (first on line %d); the "
		    "value on line %d is used and the one on line %d ignored", name,
		    first->line, w->line, first->line);
	}
	if (cfg_getstr(cfg, "hostname") == NULL && strchr(host, '.') == NULL)
		config_warn_at(ctx, 0, "hostname: not set, and this host's name \"%s\" "
		    "has no dot: HELO and bounces would say \"%s\"; set hostname to "
		    "a fully qualified name", host, host);
}

/* Write a rule's reason into why; returns why. */
const char *
config_why(char *why, size_t whylen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, whylen, fmt, ap);
	va_end(ap);
	return why;
}

/* spool: an absolute path, not "/" itself. */
static const char *
config_spool_problem(const char *s, char *why, size_t whylen)
{
	if (s[0] != '/')
		return config_why(why, whylen, "\"%s\" is not an absolute path", s);
	if (strspn(s, "/") == strlen(s))
		return "the root directory cannot be a spool";
	return strlen(s) >= PATH_MAX - 64 ? "path too long" : NULL;
}

/* metrics_listen: empty (off) or ip:port. */
static const char *
config_metrics_problem(const char *s, char *why, size_t whylen)
{
	struct config_sockaddr sa;

	if (s[0] == '\0' || config_parse_sockaddr(s, &sa) == 0)
		return NULL;
	return config_why(why, whylen, "\"%s\" is not a numeric address:port "
	    "(e.g. 127.0.0.1:9325)", s);
}

/* user: a name or number, and never uid 0. */
static const char *
config_user_problem(const char *s, char *why, size_t whylen)
{
	if (!privs_name_ok(s))
		return config_why(why, whylen, "\"%s\" is not a user name or number", s);
	if (privs_user_is_root(s))
		return config_why(why, whylen, "\"%s\" is root (uid 0): a daemon never "
		    "keeps root; name the unprivileged service user", s);
	return NULL;
}

/* group: "" (the user's) or a name or number. */
static const char *
config_group_problem(const char *s, char *why, size_t whylen)
{
	return s[0] == '\0' || privs_name_ok(s) ? NULL :
	    config_why(why, whylen, "\"%s\" is not a group name or number", s);
}

/* log: "stderr" or "syslog". */
static const char *
config_log_problem(const char *s, char *why, size_t whylen)
{
	bool ok = strcmp(s, "stderr") == 0 || strcmp(s, "syslog") == 0;

	return ok ? NULL : config_why(why, whylen, "\"%s\" is not stderr or syslog", s);
}

/* The checks of the keys both roles share. */
static const struct config_value_rule config_common_rules[] = {
	{ "hostname", NULL, config_check_hostname },
	{ "spool", config_spool_problem, NULL },
	{ "metrics_listen", config_metrics_problem, NULL },
	{ "log", config_log_problem, NULL },
	{ "user", config_user_problem, NULL },
	{ "group", config_group_problem, NULL },
	{ NULL, NULL, NULL },
};

/* The rule for opt (its name after any "section|") in rules, or NULL. */
static const struct config_value_rule *
config_find_rule(const struct config_value_rule *rules, const char *name)
{
	for (; rules != NULL && rules->key != NULL; rules++) {
		const char *bar = strrchr(rules->key, '|');

		if (rules->problem != NULL &&
		    strcmp(bar != NULL ? bar + 1 : rules->key, name) == 0)
			return rules;
	}
	return NULL;
}

/* Validate callback: a string key against its rule (the common ones,
 * then the role's); the rule's reason becomes the load's error. */
static int
config_check_value(cfg_t *cfg, cfg_opt_t *opt)
{
	const struct config_value_rule *r = config_find_rule(config_common_rules, opt->name);
	const char *s = cfg_opt_getnstr(opt, 0), *why;
	char buf[384];

	if (r == NULL)
		r = config_find_rule(config_ctx->rules, opt->name);
	if (r == NULL || (why = r->problem(s != NULL ? s : "", buf,
	    sizeof(buf))) == NULL)
		return 0;
	return config_fail(cfg, opt->name, "%s", why);
}

/* Set each row's validate callback (config_check_value for a rule). */
void
config_set_value_rules(cfg_t *cfg, const struct config_value_rule *rules)
{
	for (; rules != NULL && rules->key != NULL; rules++)
		cfg_set_validate_func(cfg, rules->key, rules->validate != NULL ?
		    rules->validate : config_check_value);
}

/* Set config_check_range on every key of ranges that is a root field. */
void
config_set_range_checks(cfg_t *cfg, const struct config_range *ranges)
{
	for (const struct config_range *r = ranges; r->key != NULL; r++)
		if (r->size != 0)
			cfg_set_validate_func(cfg, r->key, config_check_range);
}

/* Copy every numeric root key of ranges into its field of the typed
 * struct c (an unsigned, or a 64-bit uint64_t / size_t). */
void
config_fill_numbers(cfg_t *cfg, void *c, const struct config_range *ranges)
{
	for (const struct config_range *r = ranges; r->key != NULL; r++) {
		long v = cfg_getint(cfg, r->key);
		unsigned u = (unsigned)v;
		uint64_t u64 = (uint64_t)v;

		if (r->size == sizeof(u))
			memcpy((char *)c + r->off, &u, sizeof(u));
		else if (r->size == sizeof(u64))
			memcpy((char *)c + r->off, &u64, sizeof(u64));
		else if (r->size != 0)
			fatalx("config key %s: a field of %zu bytes", r->key, r->size);
	}
}

/* The steps of every role's load: parse with the role's table and rules,
 * then the role's whole-file checks and copy (ops->build); NULL with err
 * set on any error. */
void *
config_load_role(const struct config_role_ops *ops, const char *path, unsigned flags,
    char *err, size_t errlen)
{
	struct config_ctx ctx = { .path = path, .err = err, .errlen = errlen,
	    .ranges = ops->ranges, .rules = ops->rules, .role = ops->role };
	void *c = NULL;
	cfg_t *cfg;

	err[0] = '\0';
	cfg = ops->init(flags);
	config_set_range_checks(cfg, ops->ranges);
	config_set_value_rules(cfg, ops->rules);
	if (config_parse_file(cfg, &ctx) == 0)
		c = ops->build(cfg, &ctx, flags);
	cfg_free(cfg);
	config_ctx_free(&ctx);
	return c;
}

/* Remember that mailbox claims addr; the earlier claimant or NULL. */
const char *
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

/* Callbacks both roles share, then read, scan and parse ctx->path with
 * comments blanked (libconfuse 3.3 miscounts their lines); 0 ok, -1 with
 * err set. */
int
config_parse_file(cfg_t *cfg, struct config_ctx *ctx)
{
	char *text = config_slurp(ctx->path, ctx->err, ctx->errlen);
	int rc = -1;

	if (text == NULL)
		return -1;
	cfg_set_error_function(cfg, config_errfunc);
	config_set_value_rules(cfg, config_common_rules);
	if (config_scan_text(&ctx->scan, text) != 0)
		config_error_at(ctx, ctx->scan.err_line, "%s", ctx->scan.err);
	else if (config_check_role(ctx) == 0) {
		config_ctx = ctx;
		ctx->root = cfg;
		rc = cfg_parse_buf(cfg, ctx->scan.clean);
		config_ctx = NULL;
		rc = rc == CFG_SUCCESS && config_check_blocks(ctx) == 0 ? 0 : -1;
		if (rc == 0)
			config_parse_warnings(cfg, ctx);
	}
	free(text);
	if (rc != 0 && ctx->err[0] == '\0')
		config_error_at(ctx, 0, "parse error");
	return rc;
}

/* Free the address list gathered while loading. */
void
config_ctx_free(struct config_ctx *ctx)
{
	for (size_t i = 0; i < ctx->naddresses; i++) {
		free(ctx->addresses[i]);
		free(ctx->owners[i]);
	}
	free(ctx->addresses);
	free(ctx->owners);
	config_free_warnings(ctx->warnings, ctx->nwarnings);
	config_scan_free(&ctx->scan);
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
void
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

/* Free what both roles' configs hold (see config_int.h). */
void
config_free_common(char *const shared[5], char **warnings, size_t nwarnings)
{
	for (size_t i = 0; i < 5; i++)
		free(shared[i]);
	config_free_warnings(warnings, nwarnings);
}

/* Copy a string option, or NULL when unset. */
char *
config_strdup_opt(cfg_t *cfg, const char *key)
{
	const char *s = cfg_getstr(cfg, key);

	return s == NULL ? NULL : xstrdup(s);
}

/* Read a whole (small) config file into a NUL-terminated buffer. */
char *
config_slurp(const char *path, char *err, size_t errlen)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	size_t len;
	char *buf;

	if (fd < 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return NULL;
	}
	if ((buf = fsutil_read_fd(fd, 0, SIZE_MAX, &len)) == NULL)
		snprintf(err, errlen, "%s: read: %s", path, strerror(errno));
	close(fd);
	return buf;
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

/* 1 when text ("10.1.2.3/8") has bits set beyond its prefix, with the
 * network it stands for ("10.0.0.0/8") in net; 0 otherwise. */
int
config_cidr_host_bits(const char *text, char *net, size_t netlen)
{
	struct config_cidr c;
	unsigned char raw[16];
	char host[INET6_ADDRSTRLEN + 1], masked[INET6_ADDRSTRLEN];
	size_t hlen = strcspn(text, "/");

	if (config_parse_cidr(text, &c) != 0 || hlen >= sizeof(host))
		return 0;
	memcpy(host, text, hlen);
	host[hlen] = '\0';
	if (inet_pton(c.family, host, raw) != 1 ||
	    memcmp(raw, c.addr, c.family == AF_INET ? 4 : 16) == 0)
		return 0;
	inet_ntop(c.family, c.addr, masked, sizeof(masked));
	snprintf(net, netlen, "%s/%u", masked, c.prefix);
	return 1;
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
