/*
 * preflight: the start-time checks of a loaded configuration, shared by
 * the daemons' start, their -t and smtpgate-check (see preflight.h).
 *
 * Each check is the one the daemon itself relies on: the same tls.c
 * context builders, spool_check() (the read-only half of spool_open()),
 * spool_check_owner() with the lists of what each daemon keeps (they live
 * here, and the daemons call this module at start instead of keeping
 * their own), privs_check_member() for the Maildirs' group, and a write
 * probe of the spool that the daemon would otherwise only meet as an
 * error in spool_open() (exit 73, and a restart loop under systemd).
 * Refusals are one line "FILE: what: reason", naming the path and the
 * errno text; warnings come from the loader and are only printed here.
 *
 * Must not know sockets, sessions, the queue or Maildir delivery.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sysexits.h>
#include <unistd.h>

#include <openssl/ssl.h>

#include "log.h"
#include "preflight.h"
#include "privs.h"
#include "spool.h"
#include "tls.h"
#include "util.h"

/* Refuse with code and "FILE: message"; returns code. */
static int __attribute__((format(printf, 4, 5)))
preflight_refuse(struct preflight *pf, int code, const char *file, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	snprintf(pf->err, sizeof(pf->err), "%s: %s", file, msg);
	pf->code = code;
	return code;
}

/* The uid and gid the daemon runs as: ours, or as root the config's user
 * and group (the ids a daemon started as root takes); false when they do
 * not resolve (the daemon then refuses to start as root, not here). */
static bool
preflight_ids(const char *user, const char *group, uid_t *uid, gid_t *gid)
{
	struct privs_ids ids;
	char err[256];

	if (geteuid() != 0) {
		*uid = geteuid();
		*gid = getegid();
		return true;
	}
	if (privs_resolve(user, group, &ids, err, sizeof(err)) != EX_OK)
		return false;
	*uid = ids.uid;
	*gid = ids.gid;
	return true;
}

/* dir (an existing directory) takes new files from us: 0, or -1 with
 * errno.  access(2) first; then an unnamed file (O_TMPFILE, no trace
 * left) where the file system supports it, which also meets a read-only
 * mount and a full inode table the way a real write would. */
static int
preflight_probe_dir(const char *dir)
{
	int fd;

	if (faccessat(AT_FDCWD, dir, W_OK | X_OK, AT_EACCESS) != 0)
		return -1;
	fd = open(dir, O_TMPFILE | O_WRONLY | O_CLOEXEC, 0600);
	if (fd >= 0) {
		(void)close(fd);
		return 0;
	}
	/* not supported here, or a full disk: a start-up is not refused for those */
	if (errno == EOPNOTSUPP || errno == EISDIR || errno == EINVAL ||
	    errno == ENOSPC || errno == EDQUOT)
		return 0;
	return -1;
}

/* The deepest existing ancestor of path (path itself when it exists) into
 * dir; 0, or -1 with errno (other than ENOENT). */
static int
preflight_existing(const char *path, char *dir, size_t dirlen, struct stat *st)
{
	util_strlcpy(dir, path, dirlen);
	while (stat(dir, st) != 0) {
		char *slash = strrchr(dir, '/');

		if (errno != ENOENT)
			return -1;
		if (slash == NULL || slash == dir) {
			util_strlcpy(dir, "/", dirlen);
			return stat(dir, st);
		}
		*slash = '\0';
	}
	return 0;
}

/* The spool can be created, or written, by the user running this: not on
 * a read-only file system, and its directory (or the one it will be made
 * in) and its tmp/ writable.  0, or a refusal. */
static int
preflight_spool_writable(const char *file, const char *spool, struct preflight *pf)
{
	char dir[PATH_MAX], tmp[PATH_MAX + 8];
	struct statvfs vfs;
	struct stat st;
	bool exists;

	if (preflight_existing(spool, dir, sizeof(dir), &st) != 0)
		return preflight_refuse(pf, EX_CANTCREAT, file, "spool %s: %s: %s", spool,
		    dir, strerror(errno));
	exists = strcmp(dir, spool) == 0;
	if (!S_ISDIR(st.st_mode))	/* the spool itself: spool_check() said so */
		return preflight_refuse(pf, EX_CANTCREAT, file, "spool %s: cannot be "
		    "created: %s is not a directory", spool, dir);
	if (statvfs(dir, &vfs) == 0 && (vfs.f_flag & ST_RDONLY))
		return preflight_refuse(pf, EX_CANTCREAT, file, "spool %s: %s is on a "
		    "read-only file system (%s); the daemon must write there", spool,
		    dir, strerror(EROFS));
	snprintf(tmp, sizeof(tmp), "%s/tmp", spool);
	if (preflight_probe_dir(dir) != 0)
		return preflight_refuse(pf, EX_CANTCREAT, file, exists ? "spool %s: "
		    "%s is not writable by uid %lu (gid %lu): %s" : "spool %s: cannot "
		    "be created in %s by uid %lu (gid %lu): %s", spool, dir,
		    (unsigned long)geteuid(), (unsigned long)getegid(), strerror(errno));
	if (exists && stat(tmp, &st) == 0 && S_ISDIR(st.st_mode) && preflight_probe_dir(tmp) != 0)
		return preflight_refuse(pf, EX_CANTCREAT, file, "spool %s: %s is not "
		    "writable by uid %lu (gid %lu): %s", spool, tmp,
		    (unsigned long)geteuid(), (unsigned long)getegid(), strerror(errno));
	return EX_OK;
}

/* The daemon a spool is checked for: its config file (named in refusals),
 * its spool, and the user and group it runs as (NULL: not configured). */
struct preflight_daemon {
	const char *file;
	const char *spool;
	const char *user;
	const char *group;
};

/* The spool for role: what the daemon keeps belongs to it (first, as a
 * spool of another owner may not even be readable), spool_check() (marker,
 * lock holder), then the write probe. */
static int
preflight_spool(const struct preflight_daemon *d, enum spool_role role,
    const struct spool_owned *owned, struct preflight *pf)
{
	const char *file = d->file, *spool = d->spool;
	char err[1024];
	uid_t uid;
	gid_t gid;
	int rc;

	if (preflight_ids(d->user, d->group, &uid, &gid) &&
	    (rc = spool_check_owner(spool, uid, gid, owned, err, sizeof(err))) != EX_OK)
		return preflight_refuse(pf, rc, file, "%s", err);
	rc = spool_check(spool, role, pf->holder, sizeof(pf->holder), err, sizeof(err));
	if (rc != EX_OK)
		return preflight_refuse(pf, rc, file, "%s", err);
	return preflight_spool_writable(file, spool, pf);
}

/* The inbound daemon's start-time checks (see preflight.h). */
int
preflight_inbound(const struct inbound_config *c, unsigned flags, struct preflight *pf)
{
	static const char *const subs[] = { "tmp", "new", "cur" };
	size_t nm = c->nmailboxes, k = 0;
	char **names, err[1024];
	const char **dirs, **shared;
	int rc;

	memset(pf, 0, sizeof(*pf));
	if (!(flags & PREFLIGHT_OWN_TLS) && c->tls_certificate != NULL) {
		SSL_CTX *ctx = tls_server_ctx_new(c->tls_certificate, c->tls_key,
		    err, sizeof(err));

		if (ctx == NULL)
			return preflight_refuse(pf, EX_CONFIG, c->path, "%s", err);
		SSL_CTX_free(ctx);
	}
	if (c->mailbox_gid != (gid_t)-1 &&
	    privs_check_member(c->mailbox_gid, "mailbox_group", "the Maildirs",
	    err, sizeof(err)) != 0)
		return preflight_refuse(pf, EX_CANTCREAT, c->path, "%s", err);
	/* what the inbound keeps: mailboxes/ and each Maildir; a Maildir's tmp,
	 * new and cur are its readers' to replace (refused only when root's) */
	names = xcalloc(nm * 4 + 1, sizeof(*names));
	dirs = xcalloc(nm + 2, sizeof(*dirs));
	shared = xcalloc(nm * 3 + 1, sizeof(*shared));
	dirs[0] = "mailboxes";
	for (size_t i = 0; i < nm; i++) {
		dirs[i + 1] = names[k++] = xasprintf("mailboxes/%s", c->mailboxes[i].name);
		for (size_t j = 0; j < 3; j++)
			shared[i * 3 + j] = names[k++] = xasprintf("mailboxes/%s/%s",
			    c->mailboxes[i].name, subs[j]);
	}
	rc = preflight_spool(&(struct preflight_daemon){ c->path, c->spool, c->user, c->group },
	    SPOOL_ROLE_INBOUND, &(struct spool_owned){ dirs, NULL, NULL, shared }, pf);
	for (size_t i = 0; i < k; i++)
		free(names[i]);
	free(names);
	free(dirs);
	free(shared);
	return rc;
}

/* submit_group as outbound/spooldirs.c needs it at start: a group that
 * exists, and that the daemon can give maildrop/ (a member, or maildrop/
 * has it already). */
static int
preflight_submit_group(const struct outbound_config *c, struct preflight *pf)
{
	char path[PATH_MAX], err[512];
	struct stat st;
	gid_t gid;

	if (c->submit_group[0] == '\0')
		return EX_OK;
	if (!privs_group_id(c->submit_group, &gid))
		return preflight_refuse(pf, EX_CONFIG, c->path, "submit_group \"%.64s\": "
		    "no such group", c->submit_group);
	snprintf(path, sizeof(path), "%s/maildrop", c->spool);
	if (stat(path, &st) == 0 && st.st_gid == gid)
		return EX_OK;
	if (privs_check_member(gid, "submit_group", "maildrop/", err, sizeof(err)) != 0)
		return preflight_refuse(pf, EX_NOPERM, c->path, "%s", err);
	return EX_OK;
}

/* The outbound daemon's start-time checks (see preflight.h). */
int
preflight_outbound(const struct outbound_config *c, unsigned flags, struct preflight *pf)
{
	/* what the outbound keeps: its directories and queue/ files; not
	 * producers' files (maildrop/, pickup/, ... entries, tmp/ claims) */
	static const char *const dirs[] = { "queue", "bad", "control", "pickup",
	    "maildrop", "staging", NULL };
	static const char *const filedirs[] = { "queue", NULL };
	static const char *const foreign[] = { "claim.", "drop.", NULL };
	char err[1024];

	memset(pf, 0, sizeof(*pf));
	for (size_t i = 0; !(flags & PREFLIGHT_OWN_TLS) && i < c->nsmarthosts; i++) {
		const struct outbound_smarthost *sh = &c->smarthosts[i];
		SSL_CTX *ctx;

		if (sh->tls == SMARTHOST_TLS_NONE)
			continue;
		if ((ctx = tls_client_ctx_new(sh->ca_file, sh->tls_verify, err,
		    sizeof(err))) == NULL)
			return preflight_refuse(pf, EX_CONFIG, c->path, "smarthost %s: %s",
			    sh->name, err);
		SSL_CTX_free(ctx);
	}
	if (preflight_spool(&(struct preflight_daemon){ c->path, c->spool, c->user, c->group },
	    SPOOL_ROLE_OUTBOUND, &(struct spool_owned){ dirs, filedirs, foreign, NULL },
	    pf) != EX_OK)
		return pf->code;
	return preflight_submit_group(c, pf);
}

/* A config's warnings to f, one "warning: " line each. */
void
preflight_print_warnings(FILE *f, char *const *warnings, size_t n)
{
	for (size_t i = 0; i < n; i++)
		fprintf(f, "warning: %s\n", warnings[i]);
}

/* A config's warnings logged (a daemon's start and reload). */
void
preflight_log_warnings(char *const *warnings, size_t n)
{
	for (size_t i = 0; i < n; i++)
		log_warnx("warning: %s", warnings[i]);
}

/* Load path as role and preflight it (see preflight.h). */
int
preflight_file(const char *path, enum config_role role, FILE *f, struct preflight *pf,
    struct inbound_config **inp, struct outbound_config **outp)
{
	struct inbound_config *in = NULL;
	struct outbound_config *out = NULL;

	memset(pf, 0, sizeof(*pf));
	if (inp != NULL)
		*inp = NULL;	/* also when the file does not load */
	if (outp != NULL)
		*outp = NULL;
	if (role == CONFIG_INBOUND)
		in = config_load_inbound(path, pf->err, sizeof(pf->err));
	else
		out = config_load_outbound(path, pf->err, sizeof(pf->err));
	if (in == NULL && out == NULL) {
		fprintf(f, "%s\n", pf->err);
		return pf->code = EX_CONFIG;
	}
	if (in != NULL) {
		preflight_print_warnings(f, in->warnings, in->nwarnings);
		preflight_inbound(in, 0, pf);
	} else {
		preflight_print_warnings(f, out->warnings, out->nwarnings);
		preflight_outbound(out, 0, pf);
	}
	if (pf->code != EX_OK)
		fprintf(f, "%s\n", pf->err);
	if (inp != NULL)
		*inp = in;
	else
		config_free_inbound(in);
	if (outp != NULL)
		*outp = out;
	else
		config_free_outbound(out);
	return pf->code;
}

/* A daemon's -t (see preflight.h). */
int
preflight_test(const char *path, enum config_role role)
{
	struct preflight pf;
	int rc = preflight_file(path, role, stderr, &pf, NULL, NULL);

	if (rc == EX_OK)
		printf("ok\n");
	fflush(stdout);
	return rc;
}
