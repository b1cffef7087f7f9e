/*
 * privs: the one place a program changes its user and groups.
 *
 * A daemon started as root binds what needs root (the inbound's ports),
 * then calls privs_drop() with the ids of its `user` / `group` keys: the
 * supplementary groups of the account (initgroups), or just the group for
 * a numeric user without an account; then setresgid, setresuid, and a
 * check that root cannot be regained (setuid(0) fails, no effective
 * capability left).  smtpgate-queue run as root becomes the owner of the
 * spool with privs_become().  Started as another user, a daemon keeps its
 * ids and gives up any capability it was given once its ports are bound.
 *
 * Knows nothing about configs, spools or sockets.
 */
#ifndef SMTPGATE_PRIVS_H
#define SMTPGATE_PRIVS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#define PRIVS_NAME_MAX	64

/* The ids a daemon runs as, resolved from its user and group keys. */
struct privs_ids {
	uid_t uid;
	gid_t gid;
	bool account;			/* the user has a passwd entry */
	char user[PRIVS_NAME_MAX];	/* the account name, or the number */
};

/*
 * Pure: 1 when s is a decimal id (digits only, no sign, at most 10 digits,
 * below 2^32-1) with the value in *id; 0 otherwise.
 */
int privs_parse_number(const char *s, unsigned long *id);

/*
 * Pure: 1 when s may name a user or group: a decimal id, or 1..32
 * characters of [A-Za-z0-9._-] (a trailing '$' allowed) not starting with
 * '-'; 0 otherwise.
 */
int privs_name_ok(const char *s);

/*
 * The gid a group key names: a decimal number (no group entry needed) or
 * an existing group's name.  1 with *gid, or 0 when the name is no group
 * (or not a name at all).  The one lookup of group keys (group,
 * submit_group, mailbox_group).
 */
int privs_group_id(const char *group, gid_t *gid);

/* 1 when user names uid 0 (the number 0, or an account whose uid is 0). */
int privs_user_is_root(const char *user);

/*
 * Resolve user (name or number) and group (name, number, or "" for the
 * user's primary group; for a number without an account, the same
 * number).  0, or EX_NOUSER (67) with one line in err when a name does
 * not resolve, EX_CONFIG (78) when the user is uid 0.
 */
int privs_resolve(const char *user, const char *group, struct privs_ids *ids,
    char *err, size_t errlen);

/*
 * Become ids for good (see above): 0, or -1 with err naming the step
 * that failed.  Only call it as root.
 */
int privs_drop(const struct privs_ids *ids, char *err, size_t errlen);

/*
 * Become uid:gid with gid as the only group (setgroups, setresgid,
 * setresuid, then the same check): 0, or -1 with err.
 */
int privs_become(uid_t uid, gid_t gid, char *err, size_t errlen);

/*
 * What a daemon does at start, once its sockets are bound: when it runs as
 * root, privs_resolve() the user and group keys and privs_drop() to them;
 * as any other user its ids stay, and any capability it was given (the
 * inbound unit's CAP_NET_BIND_SERVICE) is given up.  0, or a sysexits code with one line in err: EX_NOUSER (67)
 * unknown user or group, EX_CONFIG (78) uid 0, EX_OSERR (71) a failed
 * switch.
 */
/*
 * May this process give its files the group gid (root, its effective
 * group, or a supplementary one)?  0, or -1 with "KEY G: this daemon (uid
 * U) is not a member, so it cannot give WHAT that group ..." in err (key:
 * the config key naming the group; what: "the Maildirs", "maildrop/").
 */
int privs_check_member(gid_t gid, const char *key, const char *what, char *err,
    size_t errlen);

int privs_daemon_start(const char *user, const char *group, char *err,
    size_t errlen);

/* A user's name, or the number when it has no account, into buf. */
const char *privs_uid_name(uid_t uid, char *buf, size_t buflen);
/* A group's name, or the number when it has no entry, into buf. */
const char *privs_gid_name(gid_t gid, char *buf, size_t buflen);

#endif
