/*
 * privs: resolve the service user and group, and give up root for good.
 *
 * The drop is the classic order: supplementary groups first (initgroups
 * for an account, setgroups with the one group for a bare number), then
 * setresgid, then setresuid, and then a check that it held: every uid and
 * gid is the new one, setuid(0) fails, and no capability is left in the
 * effective or permitted set (capget(2), the same sets /proc/self/status
 * shows as CapEff and CapPrm).
 *
 * Knows nothing about configs, spools or sockets.
 */
#include <errno.h>
#include <grp.h>
#include <linux/capability.h>
#include <pwd.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sysexits.h>
#include <unistd.h>

#include "privs.h"
#include "util.h"

#define PRIVS_ID_MAX	4294967294UL	/* (uid_t)-1 means "unchanged" */

/* 1 when s is a decimal id, with its value (see privs.h). */
int
privs_parse_number(const char *s, unsigned long *id)
{
	size_t len = strlen(s);
	unsigned long v = 0;

	if (len == 0 || len > 10 || strspn(s, "0123456789") != len)
		return 0;
	for (size_t i = 0; i < len; i++)
		v = v * 10 + (unsigned long)(s[i] - '0');
	if (v > PRIVS_ID_MAX)
		return 0;
	*id = v;
	return 1;
}

/* 1 when s may name a user or group (see privs.h). */
int
privs_name_ok(const char *s)
{
	size_t len = strlen(s), body = len;
	unsigned long id;

	if (privs_parse_number(s, &id))
		return 1;
	if (len > 0 && s[len - 1] == '$')
		body--;		/* Samba machine accounts */
	return len > 0 && len <= 32 && body > 0 && s[0] != '-' &&
	    strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
	    "0123456789._-") == body;
}

/* The gid of a group key (see privs.h). */
int
privs_group_id(const char *group, gid_t *gid)
{
	struct group gr, *res = NULL;
	size_t len = 4096;
	unsigned long id;
	char *buf;
	int rc;

	if (privs_parse_number(group, &id)) {
		*gid = (gid_t)id;
		return 1;
	}
	if (!privs_name_ok(group))
		return 0;
	/* a group with many members does not fit a fixed buffer (ERANGE) */
	buf = xmalloc(len);
	while ((rc = getgrnam_r(group, &gr, buf, len, &res)) == ERANGE && len < (1u << 20)) {
		len *= 2;
		buf = xrealloc(buf, len);
	}
	if (rc == 0 && res != NULL)
		*gid = res->gr_gid;
	free(buf);
	return rc == 0 && res != NULL;
}

/* 1 when user names uid 0. */
int
privs_user_is_root(const char *user)
{
	unsigned long id;
	struct passwd *pw;

	if (privs_parse_number(user, &id))
		return id == 0;
	pw = getpwnam(user);
	return pw != NULL && pw->pw_uid == 0;
}

/* Fill ids->uid, account, user from the user key; a sysexits code. */
static int
privs_resolve_user(const char *user, struct privs_ids *ids, gid_t *primary,
    char *err, size_t errlen)
{
	unsigned long id;
	struct passwd *pw;

	if (privs_parse_number(user, &id)) {
		pw = getpwuid((uid_t)id);
		ids->uid = (uid_t)id;
		*primary = (gid_t)id;	/* a bare number: the same group number */
	} else {
		pw = getpwnam(user);
		if (pw == NULL) {
			snprintf(err, errlen, "user \"%s\": no such user (create it, "
			    "or set user to an existing name or a number)", user);
			return EX_NOUSER;
		}
		ids->uid = pw->pw_uid;
	}
	ids->account = pw != NULL;
	if (pw != NULL)
		*primary = pw->pw_gid;
	util_strlcpy(ids->user, pw != NULL ? pw->pw_name : user, sizeof(ids->user));
	if (ids->uid == 0) {
		snprintf(err, errlen, "user \"%s\" is root (uid 0): a daemon never "
		    "keeps root; name the unprivileged service user", user);
		return EX_CONFIG;
	}
	return EX_OK;
}

/* Resolve the user and group keys (see privs.h). */
int
privs_resolve(const char *user, const char *group, struct privs_ids *ids,
    char *err, size_t errlen)
{
	gid_t primary = 0;
	int rc;

	memset(ids, 0, sizeof(*ids));
	if ((rc = privs_resolve_user(user, ids, &primary, err, errlen)) != EX_OK)
		return rc;
	if (group == NULL || group[0] == '\0') {
		ids->gid = primary;
	} else if (!privs_group_id(group, &ids->gid)) {
		snprintf(err, errlen, "group \"%s\": no such group (create it, "
		    "or set group to an existing name or a number)", group);
		return EX_NOUSER;
	}
	return EX_OK;
}

/* 1 when the effective or permitted capability set is not empty. */
static int
privs_have_caps(void)
{
	struct __user_cap_header_struct hdr = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct data[2];

	memset(data, 0, sizeof(data));
	if (syscall(SYS_capget, &hdr, data) != 0)
		return 1;	/* cannot tell: assume the worst */
	return (data[0].effective | data[1].effective |
	    data[0].permitted | data[1].permitted) != 0;
}

/* Check that uid:gid holds and root cannot come back; 0 or -1 with err. */
static int
privs_verify(uid_t uid, gid_t gid, char *err, size_t errlen)
{
	uid_t ru, eu, su;
	gid_t rg, eg, sg;

	if (getresuid(&ru, &eu, &su) != 0 || getresgid(&rg, &eg, &sg) != 0 ||
	    ru != uid || eu != uid || su != uid || rg != gid || eg != gid || sg != gid) {
		snprintf(err, errlen, "after the switch to uid %lu gid %lu the ids "
		    "are not all changed", (unsigned long)uid, (unsigned long)gid);
		return -1;
	}
	if (setuid(0) != -1) {
		snprintf(err, errlen, "root could be regained after the switch to uid %lu",
		    (unsigned long)uid);
		return -1;
	}
	if (privs_have_caps()) {
		snprintf(err, errlen, "capabilities are left after the switch to uid %lu",
		    (unsigned long)uid);
		return -1;
	}
	return 0;
}

/* setresgid then setresuid to uid:gid, then verify; 0 or -1 with err. */
static int
privs_switch(uid_t uid, gid_t gid, char *err, size_t errlen)
{
	if (setresgid(gid, gid, gid) != 0) {
		snprintf(err, errlen, "setresgid %lu: %s", (unsigned long)gid, strerror(errno));
		return -1;
	}
	if (setresuid(uid, uid, uid) != 0) {
		snprintf(err, errlen, "setresuid %lu: %s", (unsigned long)uid, strerror(errno));
		return -1;
	}
	return privs_verify(uid, gid, err, errlen);
}

/* Become ids for good (see privs.h). */
int
privs_drop(const struct privs_ids *ids, char *err, size_t errlen)
{
	if (ids->account) {
		if (initgroups(ids->user, ids->gid) != 0) {
			snprintf(err, errlen, "initgroups %s: %s", ids->user, strerror(errno));
			return -1;
		}
	} else if (setgroups(1, &ids->gid) != 0) {
		snprintf(err, errlen, "setgroups %lu: %s", (unsigned long)ids->gid,
		    strerror(errno));
		return -1;
	}
	return privs_switch(ids->uid, ids->gid, err, errlen);
}

/* Become uid:gid with gid as the only group (see privs.h). */
int
privs_become(uid_t uid, gid_t gid, char *err, size_t errlen)
{
	if (setgroups(1, &gid) != 0) {
		snprintf(err, errlen, "setgroups %lu: %s", (unsigned long)gid, strerror(errno));
		return -1;
	}
	return privs_switch(uid, gid, err, errlen);
}

/* Give up every capability a non-root process holds (the inbound unit's
 * CAP_NET_BIND_SERVICE, once the ports are bound); 0 or -1 with err. */
static int
privs_clear_caps(char *err, size_t errlen)
{
	struct __user_cap_header_struct hdr = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct data[2];

	if (!privs_have_caps())
		return 0;
	memset(data, 0, sizeof(data));
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) != 0 ||
	    syscall(SYS_capset, &hdr, data) != 0) {
		snprintf(err, errlen, "cannot give up capabilities: %s", strerror(errno));
		return -1;
	}
	if (privs_have_caps()) {
		snprintf(err, errlen, "capabilities are left after capset");
		return -1;
	}
	return 0;
}

/* Drop root at a daemon's start, if it has it (see privs.h). */
int
privs_daemon_start(const char *user, const char *group, char *err, size_t errlen)
{
	struct privs_ids ids;
	char why[256];
	int rc;

	if (geteuid() != 0 && getuid() != 0)	/* started as the service user */
		return privs_clear_caps(err, errlen) == 0 ? EX_OK : EX_OSERR;
	if ((rc = privs_resolve(user, group, &ids, err, errlen)) != EX_OK)
		return rc;
	if (privs_drop(&ids, why, sizeof(why)) != 0) {
		snprintf(err, errlen, "cannot drop root to user %s (uid %lu, gid %lu): %s",
		    ids.user, (unsigned long)ids.uid, (unsigned long)ids.gid, why);
		return EX_OSERR;
	}
	return EX_OK;
}

/* name into buf when there is one (an entry was found), else id. */
static const char *
privs_name_or_id(const char *name, unsigned long id, char *buf, size_t buflen)
{
	if (name != NULL)
		snprintf(buf, buflen, "%s", name);
	else
		snprintf(buf, buflen, "%lu", id);
	return buf;
}

/* A user's name, or its number (see privs.h). */
const char *
privs_uid_name(uid_t uid, char *buf, size_t buflen)
{
	struct passwd *pw = getpwuid(uid);

	return privs_name_or_id(pw != NULL ? pw->pw_name : NULL, (unsigned long)uid,
	    buf, buflen);
}

/* A group's name, or its number (see privs.h). */
const char *
privs_gid_name(gid_t gid, char *buf, size_t buflen)
{
	struct group *gr = getgrgid(gid);

	return privs_name_or_id(gr != NULL ? gr->gr_name : NULL, (unsigned long)gid,
	    buf, buflen);
}

/* true when this process may give its files the group gid: root, its
 * effective group, or one of its supplementary groups. */
static bool
privs_in_group(gid_t gid)
{
	int n = getgroups(0, NULL);
	gid_t *groups;
	bool in = false;

	if (geteuid() == 0 || gid == getegid())
		return true;
	if (n <= 0)
		return false;
	groups = xcalloc((size_t)n, sizeof(*groups));
	n = getgroups(n, groups);
	for (int i = 0; i < n && !in; i++)
		in = groups[i] == gid;
	free(groups);
	return in;
}

/* The membership a group key needs (see privs.h). */
int
privs_check_member(gid_t gid, const char *key, const char *what, char *err,
    size_t errlen)
{
	if (privs_in_group(gid))
		return 0;
	snprintf(err, errlen, "%s %lu: this daemon (uid %lu) is not a member, so it "
	    "cannot give %s that group (the unit's SupplementaryGroups= names it)",
	    key, (unsigned long)gid, (unsigned long)geteuid(), what);
	return -1;
}
