/*
 * config_int: private to config*.c, the one place libconfuse may be
 * included.  The load's context, the range table type, the options both
 * roles' tables share, and the helpers config.c offers the two role files
 * (config_inbound.c, config_outbound.c).  Nothing outside common/config*.c
 * includes it: the rest of the program sees only config.h's typed structs.
 */
#ifndef SMTPGATE_CONFIG_INT_H
#define SMTPGATE_CONFIG_INT_H

#include <confuse.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>

#include "config.h"
#include "config_scan.h"

/* A numeric key's allowed range, and where config_fill_numbers() copies
 * its value in the role's typed struct (size 0: a key inside a section). */
struct config_range {
	const char *key;
	long min, max;
	size_t off, size;
};

/* A range row for the field of type that has the key's name. */
#define CONFIG_RANGE(type, field, lo, hi)				\
	{ #field, lo, hi, offsetof(type, field), sizeof(((type *)0)->field) }
/* The option of a numeric key, from a role's X(key, default, min, max) list. */
#define CONFIG_INT_OPT(key, def, lo, hi) CFG_INT(#key, def, CFGF_NONE),

/* A string key's check: NULL when s (never NULL: "" when unset) is fine,
 * else the reason that follows "key: " in the error (in why, or a
 * constant). */
typedef const char *config_problem_fn(const char *s, char *why, size_t whylen);
/* One row of a role's checks: key as cfg_set_validate_func() names it,
 * and either a string rule (problem) or a validate callback of its own. */
struct config_value_rule {
	const char *key;
	config_problem_fn *problem;
	cfg_validate_callback_t validate;
};
/* From a role's X(key, default, problem) list of string keys: the
 * option, and the check. */
#define CONFIG_STR_OPT(key, def, problem) CFG_STR(#key, def, CFGF_NONE),
#define CONFIG_RULE(key, def, problem) { #key, problem, NULL },

/* The state of one load, reached from libconfuse's callbacks. */
struct config_ctx {
	const char *path;
	char *err;
	size_t errlen;
	const struct config_range *ranges;
	const struct config_value_rule *rules;	/* the role's checks */
	char **addresses;		/* inbound: every address seen so far */
	char **owners;			/* ... and the mailbox that claimed it */
	size_t naddresses;
	int retry_max_line;
	enum config_role role;		/* the loader's role */
	cfg_t *root;			/* the cfg_t being parsed */
	struct config_scan scan;	/* the file's text, comments blanked */
	char **warnings;		/* "path:line: key: reason", handed to the config */
	size_t nwarnings;
};

/* The load under way (libconfuse's callbacks reach it here). */
extern _Thread_local struct config_ctx *config_ctx;

/* Options shared by both roles' root tables. */
#define CONFIG_COMMON_OPTS(spooldef)					\
	CFG_STR("hostname", NULL, CFGF_NONE),				\
	CFG_STR("spool", spooldef, CFGF_NONE),				\
	CFG_STR("metrics_listen", NULL, CFGF_NONE),			\
	CFG_STR("log", "stderr", CFGF_NONE),				\
	CFG_STR("user", "smtpgate", CFGF_NONE),				\
	CFG_STR("group", "", CFGF_NONE)

/* Report an error about `key` of section cfg at the current line; -1. */
int config_fail(cfg_t *cfg, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Record the first error of this load: "path:line: ..." ("path: ..." at 0). */
void config_error_at(struct config_ctx *ctx, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Note a warning of this load as "path:line: ..." ("path: ..." at 0). */
void config_warn_at(struct config_ctx *ctx, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Note a warning about `key` of section cfg at its line. */
void config_warn(cfg_t *cfg, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Give the warnings gathered by ctx to a loaded config. */
void config_take_warnings(struct config_ctx *ctx, char ***warnings, size_t *n);
/* Free a config's warnings. */
void config_free_warnings(char **warnings, size_t n);

/* 1 when the CIDR text has host bits set beyond its prefix, with the
 * network it means ("10.0.0.0/8") in net; 0 otherwise or when not a CIDR. */
int config_cidr_host_bits(const char *text, char *net, size_t netlen);

/* The key as messages show it: "port", "smarthost \"a\": port". */
void config_keyname(cfg_t *cfg, const char *key, char *buf, size_t bufsz);

/* config_diag.c: libconfuse's messages as "key: reason"; refuse the other
 * role's file; after the parse, a block never closed; 0 or -1. */
void config_errfunc(cfg_t *cfg, const char *fmt, va_list ap) LOG_PRINTF(2, 0);
int config_check_role(struct config_ctx *ctx);
int config_check_blocks(struct config_ctx *ctx);
/* The line of key inside section cfg as written (else cfg->line). */
int config_key_line(struct config_ctx *ctx, cfg_t *cfg, const char *key);
/* outbound: the error for a file without a smarthost section. */
void config_no_smarthost(struct config_ctx *ctx);

/* Read a whole (small) file, NUL-terminated; NULL with err set. */
char *config_slurp(const char *path, char *err, size_t errlen);

/* Validate callbacks both roles use: a number within its range for this
 * role (ctx->ranges), a file readable at load time. */
int config_check_range(cfg_t *cfg, cfg_opt_t *opt);
int config_check_readable(cfg_t *cfg, cfg_opt_t *opt);
/* Validate callback: a secret file config_read_secret() accepts. */
int config_check_secret(cfg_t *cfg, cfg_opt_t *opt);

/* Write a rule's reason (printf-style) into why; returns why. */
const char *config_why(char *why, size_t whylen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Set the validate callback of each row of rules (a rule's: config.c's
 * string check). */
void config_set_value_rules(cfg_t *cfg, const struct config_value_rule *rules);
/* Set config_check_range on the root keys of ranges. */
void config_set_range_checks(cfg_t *cfg, const struct config_range *ranges);
/* Copy the numeric root keys of ranges into the typed struct c. */
void config_fill_numbers(cfg_t *cfg, void *c, const struct config_range *ranges);

/* One role's part in config_load_role(). */
struct config_role_ops {
	enum config_role role;
	const struct config_range *ranges;	/* its numeric keys */
	const struct config_value_rule *rules;	/* its checks */
	cfg_t *(*init)(unsigned flags);		/* its option table */
	/* after the parse: whole-file checks and the copy; NULL with ctx's error */
	void *(*build)(cfg_t *cfg, struct config_ctx *ctx, unsigned flags);
};
/* Parse path with ops' table and checks, then ops->build; NULL with err. */
void *config_load_role(const struct config_role_ops *ops, const char *path,
    unsigned flags, char *err, size_t errlen);

/* Remember that mailbox claims addr in this load; the earlier claimant or NULL. */
const char *config_claim_address(const char *addr, const char *mailbox);

/* Callbacks both roles share, then parse ctx->path; 0 ok, -1 with err set. */
int config_parse_file(cfg_t *cfg, struct config_ctx *ctx);

/* Free the address list gathered while loading. */
void config_ctx_free(struct config_ctx *ctx);

/* Fill the fields both roles share. */
void config_fill_common(cfg_t *cfg, char **hostname, char **spool, bool *metrics_enabled,
    struct config_sockaddr *metrics, enum log_target *log);

/* Free what both roles' configs hold: { path, hostname, spool, user,
 * group } and the warnings. */
void config_free_common(char *const shared[5], char **warnings, size_t nwarnings);

/* Copy a string option, or NULL when unset. */
char *config_strdup_opt(cfg_t *cfg, const char *key);

#endif
