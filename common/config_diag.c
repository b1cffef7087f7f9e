/*
 * config_diag: what a config error says.  libconfuse's own messages
 * ("no such option 'mailbox'", "premature end of file") become one
 * "FILE:LINE: key: reason" line that names the mistake (a "}" missing, the
 * other gateway's file given, a key of the other role), with the help of
 * config_scan's notes on the text.  Also the role checks: a file of the
 * other role is refused before libconfuse reads it, and
 * config_detect_role() tells the two kinds apart for smtpgate-check.
 * Must not know what the daemons do with the values.
 */
#include <confuse.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "config_int.h"
#include "util.h"

/* Top-level keys only one role has (enough to tell a file's role). */
static const char *const config_inbound_only[] = { "listen", "mailbox", "relay_hosts",
	"tls", "max_message_size", "max_recipients", "max_connections_per_client",
	"max_errors", "max_line_length", "timeout_data", "mailbox_group",
	"recipient_delimiter", "mailbox_size_limit", "spool_min_free",
	"max_data_line_length", NULL };
static const char *const config_outbound_only[] = { "smarthost",
	"messages_per_connection", "retry_min", "retry_max", "max_queue_lifetime",
	"delay_warning", "scan_interval", "submit_group", "timeout_connect",
	"timeout_greeting", "timeout_data_init", "timeout_data_block",
	"timeout_data_end", "timeout_idle", "admin_address", "local_domains", "mailname_file",
	"sender_domain", "sender_address", "postmaster_address", NULL };

static const char *const config_role_names[] = { "inbound", "outbound" };

/* 1 when name is in the NULL-terminated list. */
static int
config_in_list(const char *const *list, const char *name)
{
	for (; *list != NULL; list++)
		if (strcmp(*list, name) == 0)
			return 1;
	return 0;
}

/* The quoted 'NAME' of a libconfuse message (after prefix) into buf; 0 ok. */
static int
config_quoted(const char *msg, const char *prefix, char *buf, size_t bufsz)
{
	size_t plen = strlen(prefix), n;
	const char *end;

	if (strncmp(msg, prefix, plen) != 0)
		return -1;
	end = strchr(msg + plen, '\'');
	if (end == NULL)
		return -1;
	n = (size_t)(end - (msg + plen));
	if (n >= bufsz)
		n = bufsz - 1;
	memcpy(buf, msg + plen, n);
	buf[n] = '\0';
	return 0;
}

/* A section as messages show it: mailbox "alice", tls. */
static void
config_block_name(const struct config_block *b, char *buf, size_t bufsz)
{
	if (b->title[0] != '\0')
		snprintf(buf, bufsz, "%s \"%s\"", b->word, b->title);
	else
		snprintf(buf, bufsz, "%s", b->word);
}

/* The error for a block never closed. */
static void
config_unclosed(struct config_ctx *ctx, const struct config_block *b, int line,
    const char *found)
{
	char name[160];

	config_block_name(b, name, sizeof(name));
	if (b->list)
		config_error_at(ctx, b->open_line, "%s: no \"}\" closes the list "
		    "opened on this line", name);
	else if (found != NULL)
		config_error_at(ctx, b->open_line, "%s: no \"}\" closes this section "
		    "before line %d (%s belongs outside it)", name, line, found);
	else
		config_error_at(ctx, b->open_line, "%s: no \"}\" closes this section "
		    "(the file ends inside it)", name);
}

/* What follows key on line of the clean text, past a title: '=', '{',
 * another character, or 0 when key is not on that line. */
static char
config_after_key(const struct config_scan *s, int line, const char *key)
{
	const char *p = s->clean, *end, *k;

	for (int l = 1; l < line && p != NULL; l++)
		p = strchr(p, '\n') != NULL ? strchr(p, '\n') + 1 : NULL;
	if (p == NULL || (k = strstr(p, key)) == NULL)
		return 0;
	end = strchr(p, '\n');
	if (end != NULL && k > end)
		return 0;
	k += strlen(key);
	k += strspn(k, " \t");
	if (*k == '"' && strchr(k + 1, '"') != NULL) {
		k = strchr(k + 1, '"') + 1;
		k += strspn(k, " \t");
	}
	return *k;
}

/* 1 when key is written as "key =" or "key [title] {" on line. */
static int
config_key_on_line(const struct config_scan *s, int line, const char *key)
{
	char c = config_after_key(s, line, key);

	return c == '=' || c == '{';
}

/* The line of key inside the section cfg (section validators run at its
 * "}"); cfg->line when the text does not show it. */
int
config_key_line(struct config_ctx *ctx, cfg_t *cfg, const char *key)
{
	const struct config_block *b = NULL;
	const char *title = cfg_title(cfg) != NULL ? cfg_title(cfg) : "";

	for (size_t i = 0; i < ctx->scan.nblocks; i++) {
		const struct config_block *c = &ctx->scan.blocks[i];

		if (!c->list && c->open_line <= cfg->line && strcmp(c->word, cfg_name(cfg)) == 0 &&
		    strcmp(c->title, title) == 0)
			b = c;
	}
	if (b == NULL || strcmp(cfg_name(cfg), "root") == 0)
		return cfg->line;
	for (size_t i = 0; i < ctx->scan.nwords; i++) {
		const struct config_word *w = &ctx->scan.words[i];

		if (w->depth == b->depth + 1 && w->line >= b->open_line &&
		    (b->close_line == 0 || w->line <= b->close_line) &&
		    strcmp(w->name, key) == 0)
			return w->line;
	}
	return cfg->line;
}

/* Edit distance of a and b, capped at 3 (names are short). */
static int
config_distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	int row[65];

	if (la > 64 || lb > 64)
		return 3;
	for (size_t j = 0; j <= lb; j++)
		row[j] = (int)j;
	for (size_t i = 1; i <= la; i++) {
		int diag = row[0];

		row[0] = (int)i;
		for (size_t j = 1; j <= lb; j++) {
			int up = row[j], best = diag + (a[i - 1] != b[j - 1]);

			best = up + 1 < best ? up + 1 : best;
			best = row[j - 1] + 1 < best ? row[j - 1] + 1 : best;
			diag = up;
			row[j] = best;
		}
	}
	return row[lb] < 3 ? row[lb] : 3;
}

/* " (did you mean NAME?)" for the closest key of cfg's table, or "". */
static void
config_suggest(cfg_t *cfg, const char *key, char *buf, size_t bufsz)
{
	const char *best = NULL;
	int bestd = 3;

	buf[0] = '\0';
	for (const cfg_opt_t *o = cfg->opts; o != NULL && o->name != NULL; o++) {
		int d = config_distance(key, o->name);

		if (d < bestd) {
			bestd = d;
			best = o->name;
		}
	}
	if (best != NULL)
		snprintf(buf, bufsz, " (did you mean %s?)", best);
}

/* "no such option 'X'": a missing "}", a key of the other role, or unknown. */
static void
config_no_such(struct config_ctx *ctx, cfg_t *cfg, const char *key)
{
	const char *const *other = ctx->role == CONFIG_INBOUND ?
	    config_outbound_only : config_inbound_only;
	const struct config_word *w;
	char name[200];

	if (strcmp(cfg_name(cfg), "root") != 0 &&
	    config_scan_unclosed(&ctx->scan) != NULL &&
	    cfg_getopt(ctx->root, key) != NULL) {
		config_unclosed(ctx, config_scan_unclosed(&ctx->scan), cfg->line, key);
		return;
	}
	config_keyname(cfg, key, name, sizeof(name));
	w = NULL;	/* the key before it on its line */
	for (size_t i = 0; i < ctx->scan.nwords; i++) {
		if (ctx->scan.words[i].line != cfg->line)
			continue;
		if (strcmp(ctx->scan.words[i].name, key) == 0)
			break;
		w = &ctx->scan.words[i];
	}
	if (w != NULL && !config_key_on_line(&ctx->scan, cfg->line, key))
		config_error_at(ctx, cfg->line, "%s: unexpected \"%s\" after its value "
		    "(a list goes in { }, a value with spaces in \"quotes\")", w->name, key);
	else if (strcmp(cfg_name(cfg), "root") == 0 && config_in_list(other, key))
		config_error_at(ctx, cfg->line, "%s: a key of smtpgate-%s, not of "
		    "smtpgate-%s", name, config_role_names[!ctx->role],
		    config_role_names[ctx->role]);
	else if (key[0] != '\0' && key[strlen(key) - 1] == ':')
		config_error_at(ctx, cfg->line, "%.*s: write \"key = value\", "
		    "not \"key: value\"", (int)strlen(name) - 1, name);
	else {
		char hint[96];

		config_suggest(cfg, key, hint, sizeof(hint));
		config_error_at(ctx, cfg->line, "%s: %s%s", name, strcmp(cfg_name(cfg),
		    "root") != 0 ? "not a key of this section" : "unknown key", hint);
	}
}

/* libconfuse's error callback: its message as "key: reason" at the line
 * it was found (our own validators write theirs with config_fail()). */
void
config_errfunc(cfg_t *cfg, const char *fmt, va_list ap)
{
	struct config_ctx *ctx = config_ctx;
	const struct config_word *w;
	char msg[512], key[128], name[200];
	int line;

	if (ctx == NULL || ctx->err[0] != '\0')
		return;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	line = cfg != NULL ? cfg->line : 0;
	w = config_scan_word_before(&ctx->scan, line);
	if (config_quoted(msg, "no such option '", key, sizeof(key)) == 0) {
		config_no_such(ctx, cfg, key);
		return;
	}
	if (config_quoted(msg, "invalid integer value for option '", key, sizeof(key)) == 0 ||
	    config_quoted(msg, "integer value for option '", key, sizeof(key)) == 0) {
		config_keyname(cfg, key, name, sizeof(name));
		config_error_at(ctx, line, "%s: not a whole number in range", name);
	} else if (config_quoted(msg, "invalid boolean value for option '", key,
	    sizeof(key)) == 0) {
		config_keyname(cfg, key, name, sizeof(name));
		config_error_at(ctx, line, "%s: not true or false", name);
	} else if (config_quoted(msg, "missing equal sign after option '", key,
	    sizeof(key)) == 0) {
		config_keyname(cfg, key, name, sizeof(name));
		config_error_at(ctx, line, "%s: \"=\" missing after the key", name);
	} else if (config_quoted(msg, "missing opening brace for section '", key,
	    sizeof(key)) == 0) {
		int titled = cfg_getopt(cfg, key) != NULL &&
		    (cfg_getopt(cfg, key)->flags & CFGF_TITLE);

		if (config_after_key(&ctx->scan, line, key) == '=')
			config_error_at(ctx, line, "%s: a section: write %s %s{ ... } "
			    "(no \"=\")", key, key, titled ? "\"NAME\" " : "");
		else if (titled)
			config_error_at(ctx, line, "%s: a name in quotes is needed: "
			    "%s \"NAME\" { ... }", key, key);
		else
			config_error_at(ctx, line, "%s: \"{\" missing after it", key);
	} else if (config_quoted(msg, "missing title for section '", key, sizeof(key)) == 0) {
		config_error_at(ctx, line, "%s: a name in quotes is needed: "
		    "%s \"NAME\" { ... }", key, key);
	} else if (config_quoted(msg, "found duplicate title '", key, sizeof(key)) == 0) {
		const char *sec = "section";

		for (size_t i = 0; i < ctx->scan.nblocks; i++)
			if (!ctx->scan.blocks[i].list &&
			    strcmp(ctx->scan.blocks[i].title, key) == 0)
				sec = ctx->scan.blocks[i].word;
		config_error_at(ctx, line, "%s \"%s\": defined twice", sec, key);
	} else if (strcmp(msg, "unexpected closing brace") == 0) {
		config_error_at(ctx, line, "}: nothing to close here (no section or "
		    "list is open)");
	} else if (strcmp(msg, "premature end of file") == 0) {
		const struct config_block *b = config_scan_unclosed(&ctx->scan);

		if (b != NULL)
			config_unclosed(ctx, b, 0, NULL);
		else
			config_error_at(ctx, w != NULL ? w->line : line, "%s: the file "
			    "ends before its value", w != NULL ? w->name : "?");
	} else if (config_quoted(msg, "unexpected token '", key, sizeof(key)) == 0) {
		const struct config_block *b = NULL;

		for (size_t i = 0; i < ctx->scan.nblocks; i++)	/* innermost open before line */
			if (ctx->scan.blocks[i].open_line < line &&
			    (ctx->scan.blocks[i].close_line == 0 ||
			    ctx->scan.blocks[i].close_line >= line))
				b = &ctx->scan.blocks[i];
		if (b == NULL)
			b = config_scan_block_at(&ctx->scan, line);
		if (b != NULL && b->list && line > b->open_line &&
		    config_key_on_line(&ctx->scan, line, key))
			config_unclosed(ctx, b, line, NULL);
		else if (b != NULL && b->list)
			config_error_at(ctx, line, "%s: \",\" missing before \"%s\"",
			    b->word, key);
		else
			config_error_at(ctx, line, "%s: unexpected \"%s\"",
			    w != NULL ? w->name : "?", key);
	} else {
		config_error_at(ctx, line, "%s: %s", w != NULL ? w->name : "?", msg);
	}
}

/* Refuse a file of the other role before libconfuse reads it: it has keys
 * only the other role has and none only ours has; 0 or -1. */
int
config_check_role(struct config_ctx *ctx)
{
	const char *const *mine = ctx->role == CONFIG_INBOUND ?
	    config_inbound_only : config_outbound_only;
	const char *const *other = ctx->role == CONFIG_INBOUND ?
	    config_outbound_only : config_inbound_only;
	const struct config_word *w = config_scan_find(&ctx->scan, other);

	if (w == NULL || config_scan_find(&ctx->scan, mine) != NULL)
		return 0;
	config_error_at(ctx, w->line, "%s: this file configures smtpgate-%s "
	    "(%s.conf), not smtpgate-%s", w->name, config_role_names[!ctx->role],
	    config_role_names[!ctx->role], config_role_names[ctx->role]);
	return -1;
}

/* After a parse libconfuse accepted: a block the file never closes; 0/-1. */
int
config_check_blocks(struct config_ctx *ctx)
{
	const struct config_block *b = config_scan_unclosed(&ctx->scan);

	if (b == NULL)
		return 0;
	config_unclosed(ctx, b, 0, NULL);
	return -1;
}

/* The error for an outbound file without a smarthost section. */
void
config_no_smarthost(struct config_ctx *ctx)
{
	if (ctx->scan.commented_smarthost > 0)
		config_error_at(ctx, ctx->scan.commented_smarthost, "smarthost: "
		    "commented out, and at least one smarthost section is required");
	else
		config_error_at(ctx, 0, "smarthost: none; at least one "
		    "smarthost \"NAME\" { host = \"...\" } section is required");
}

/* Tell inbound from outbound: keys only one role has decide; then the file
 * name; then a commented-out smarthost (outbound).  Text that cannot be
 * scanned (a missing closing quote) gets its own "FILE:LINE: key: reason". */
int
config_detect_role(const char *path, enum config_role *role, char *err, size_t errlen)
{
	char *text = config_slurp(path, err, errlen);
	struct config_scan s;
	const char *base = strrchr(path, '/') != NULL ? strrchr(path, '/') + 1 : path;
	int in, out, rc = 0;

	if (text == NULL)
		return -1;
	if (config_scan_text(&s, text) != 0) {	/* broken text: say where */
		snprintf(err, errlen, "%s:%d: %s", path, s.err_line, s.err);
		config_scan_free(&s);
		free(text);
		return -1;
	}
	free(text);
	in = config_scan_find(&s, config_inbound_only) != NULL;
	out = config_scan_find(&s, config_outbound_only) != NULL;
	if (in != out)
		*role = in ? CONFIG_INBOUND : CONFIG_OUTBOUND;
	else if (in)	/* both: the sections decide, the loader reports the rest */
		*role = config_scan_find(&s, (const char *const[]){ "smarthost", NULL })
		    != NULL ? CONFIG_OUTBOUND : CONFIG_INBOUND;
	else if (strstr(base, "outbound") != NULL || s.commented_smarthost > 0)
		*role = CONFIG_OUTBOUND;
	else if (strstr(base, "inbound") != NULL)
		*role = CONFIG_INBOUND;
	else {
		snprintf(err, errlen, "%s: cannot tell whether this configures "
		    "inbound or outbound: it has no smarthost section (outbound), "
		    "no listen and no mailbox (inbound)", path);
		rc = -1;
	}
	config_scan_free(&s);
	return rc;
}
