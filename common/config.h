/*
 * config: both daemons' configuration files (libconfuse) read into typed,
 * validated, read-only structs.  Nothing outside config.c sees a cfg_t.
 *
 * Both loaders live here because smtpgate-check validates both kinds.
 * Every error message names the file, the line (right in commented files
 * too: config_scan.c blanks comments before libconfuse counts) and the
 * key, e.g.
 *   "/etc/smtpgate/inbound.conf:12: max_recipients: 0 is out of range (1..100000)"
 * Callers exit EX_CONFIG (78) on error.  Defaults are those of SPEC.md.
 */
#ifndef SMTPGATE_CONFIG_H
#define SMTPGATE_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

#include "log.h"

#define CONFIG_DEFAULT_INBOUND  "/etc/smtpgate/inbound.conf"
#define CONFIG_DEFAULT_OUTBOUND "/etc/smtpgate/outbound.conf"

enum config_role { CONFIG_INBOUND, CONFIG_OUTBOUND };

/* A listen / metrics address: "1.2.3.4:25", "[::1]:25", "localhost:25" is NOT
 * accepted (numeric only, so start-up never waits on DNS). */
struct config_sockaddr {
	struct sockaddr_storage ss;
	socklen_t len;
	char text[80];			/* as written in the file */
};

/* A relay_hosts entry: "192.0.2.10/32", "2001:db8::/32"; a bare address
 * means a host (/32 or /128). IPv4-mapped IPv6 peers match IPv4 entries. */
struct config_cidr {
	int family;			/* AF_INET or AF_INET6 */
	unsigned char addr[16];
	unsigned prefix;
};

struct inbound_mailbox {
	char *name;			/* the Maildir under <spool>/mailboxes/ */
	char **addresses;		/* lower-cased; "@domain" = catch-all */
	size_t naddresses;
};

struct inbound_config {
	char *path;			/* the file this came from */
	char *hostname;			/* default: util_hostname() */
	char *spool;			/* absolute path */
	char *user;			/* "smtpgate": name or number, never uid 0 */
	char *group;			/* "": the user's primary group */
	struct config_sockaddr *listen;	/* default: 127.0.0.1:25 */
	size_t nlisten;
	struct config_cidr *relay_hosts; /* empty = any client */
	size_t nrelay_hosts;
	uint64_t max_message_size;	/* 10485760 */
	unsigned max_recipients;	/* 100 */
	unsigned max_connections;	/* 1000 */
	unsigned max_connections_per_client; /* 50 */
	unsigned max_errors;		/* 10 */
	unsigned max_line_length;	/* 2048 (not in SPEC's example, key "max_line_length") */
	unsigned timeout_command;	/* 300 s */
	unsigned timeout_data;		/* 600 s */
	/* deadlines that activity does not reset (seconds; 0 = off where noted) */
	unsigned deadline_command;	/* 300: one whole command line */
	unsigned deadline_data;		/* 1800: a whole DATA / BDAT phase */
	unsigned min_data_rate;		/* 1024 bytes/s average in DATA; 0 = off */
	unsigned data_rate_grace;	/* 60 s before min_data_rate applies */
	unsigned deadline_tls_handshake; /* 60 */
	unsigned deadline_session;	/* 3600; 0 = off */
	/* fair share: max_connections_per_client counts a network */
	unsigned client_prefix_ipv4;	/* 24 */
	unsigned client_prefix_ipv6;	/* 64 */
	unsigned max_connections_per_relay_host; /* 0 in the file = max_connections */
	unsigned refusal_log_interval;	/* 10 s between refusal summaries */
	size_t body_memory_limit;	/* 131072: a body past it is spilled to tmp/ */
	size_t memory_budget;		/* 67108864: buffered input, output, bodies */
	char *tls_certificate;		/* NULL: no STARTTLS */
	char *tls_key;
	bool tls_require;		/* false */
	struct inbound_mailbox *mailboxes;
	size_t nmailboxes;
	gid_t mailbox_gid;		/* mailbox_group; (gid_t)-1 = "": the daemon's group */
	mode_t mailbox_dir_mode;	/* mailbox_dir_mode, 02770 (within 02770, 0700 set) */
	mode_t mailbox_file_mode;	/* mailbox_file_mode, 0640 (within 0660, 0600 set) */
	/* receiving host conventions (issue 19) */
	char *recipient_delimiter;	/* "": off; "+", "+-": user+tag -> user */
	size_t postmaster;		/* index of the postmaster's mailbox */
	uint64_t mailbox_size_limit;	/* bytes in a Maildir's new/ + cur/; 0 = none */
	uint64_t spool_min_free;	/* bytes, or a percentage when _percent */
	bool spool_min_free_percent;	/* "1%" (default) */
	unsigned max_data_line_length;	/* 65536 octets with CRLF, DATA and BDAT */
	bool metrics_enabled;
	struct config_sockaddr metrics_listen;
	enum log_target log;		/* stderr */
	char **warnings;		/* "FILE:LINE: key: reason" lines: mistakes */
	size_t nwarnings;		/* that do not stop the daemon (preflight.h) */
};

enum smarthost_tls {
	SMARTHOST_TLS_STARTTLS,		/* default: required, never downgraded */
	SMARTHOST_TLS_OPPORTUNISTIC,
	SMARTHOST_TLS_IMPLICIT,		/* port 465 */
	SMARTHOST_TLS_NONE,
};

struct outbound_smarthost {
	char *name;			/* the section title */
	char *host;			/* required */
	unsigned port;			/* default 25; 465 for implicit */
	enum smarthost_tls tls;
	bool tls_verify;		/* true */
	char *ca_file;			/* NULL: the system store */
	char *auth_user;		/* NULL: no AUTH */
	char *auth_password_file;	/* required with auth_user; checked readable */
};

struct outbound_config {
	char *path;
	char *hostname;
	char *spool;
	char *user;			/* "smtpgate": name or number, never uid 0 */
	char *group;			/* "": the user's primary group */
	struct outbound_smarthost *smarthosts;	/* at least one, in order */
	size_t nsmarthosts;
	unsigned max_connections;	/* 8 */
	unsigned messages_per_connection; /* 100 */
	unsigned retry_min;		/* 60 */
	unsigned retry_max;		/* 3600 */
	unsigned max_queue_lifetime;	/* 432000 */
	unsigned delay_warning;		/* 14400; 0 = off */
	unsigned scan_interval;		/* 30 */
	char *submit_group;		/* group of maildrop/; "" = the service group */
	unsigned timeout_connect;	/* 30 */
	unsigned timeout_greeting;	/* 300 */
	unsigned timeout_command;	/* 300 */
	unsigned timeout_data_init;	/* 120 */
	unsigned timeout_data_block;	/* 180 */
	unsigned timeout_data_end;	/* 600 */
	unsigned timeout_idle;		/* 10: an idle connection waits for more */
	bool metrics_enabled;
	struct config_sockaddr metrics_listen;
	enum log_target log;
	char **warnings;		/* as in struct inbound_config */
	size_t nwarnings;
	/* mail this host originates (outbound/rewrite.h); "" = off */
	char *admin_address;		/* local recipients go here */
	char **local_domains;		/* domains of this host besides hostname,
					 * the mailname and "localhost" */
	size_t nlocal_domains;
	char *mailname_file;		/* "/etc/mailname"; "": none */
	char *mailname;			/* its first line, lower-cased; NULL: no file */
	char *sender_domain;		/* of local senders; "": the mailname, if any */
	char *sender_address;		/* maildrop/ senders and From: */
	char *postmaster_address;	/* double bounces; NULL: dropped.  Unset:
					 * admin_address */
};

/* Load and validate; NULL with a message in err on any error. */
struct inbound_config *config_load_inbound(const char *path, char *err, size_t errlen);
struct outbound_config *config_load_outbound(const char *path, char *err, size_t errlen);

/* Flags of config_load_outbound_opts(). */
#define CONFIG_NO_SECRETS 0x01	/* open no file only the daemon needs: the smart
				 * hosts' auth_password_file and ca_file are
				 * neither opened nor checked, mailname_file is
				 * not read (mailname NULL): the tools, so a
				 * broken /etc/mailname never stops sendmail */

/* config_load_outbound() with flags (0: the same as config_load_outbound). */
struct outbound_config *config_load_outbound_opts(const char *path, unsigned flags,
    char *err, size_t errlen);
void config_free_inbound(struct inbound_config *c);
void config_free_outbound(struct outbound_config *c);

/*
 * Tell which daemon a file configures: by the top-level keys only one role
 * has (smarthost, retry_min, ... outbound; listen, mailbox, max_errors, ...
 * inbound; a smarthost section wins when both appear), else by the file
 * name ("outbound"/"inbound" in it), else a commented-out smarthost means
 * outbound.  -1 with a message in err when it is unreadable, broken ("FILE:
 * LINE: key: reason", e.g. a missing closing quote) or none of these.
 */
int config_detect_role(const char *path, enum config_role *role, char *err, size_t errlen);

/*
 * Read a secret (auth_password_file): its first line, without the line
 * end, into *out (free it with explicit_bzero first).  Refused, -1 with
 * "PATH: reason" in err: a file that cannot be read, that is not a regular
 * file, that others may read or write (mode 0640 root:smtpgate is the
 * way), or whose first line is empty.  The loader checks it with the same
 * function when it loads the daemon's config.
 */
int config_read_secret(const char *path, char **out, char *err, size_t errlen);

/* Parse "a.b.c.d:port" or "[v6]:port"; 0 ok, -1 bad. */
int config_parse_sockaddr(const char *text, struct config_sockaddr *out);
/* Parse "addr[/prefix]"; 0 ok, -1 bad. */
int config_parse_cidr(const char *text, struct config_cidr *out);
/* true when sa (AF_INET or AF_INET6, v4-mapped handled) lies in c. */
bool config_cidr_match(const struct config_cidr *c, const struct sockaddr *sa);

#endif
