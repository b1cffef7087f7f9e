/*
 * spool: the dedicated-topology rules of SPEC.md for one gateway's spool.
 *
 *   0. create the spool (and tmp/) if missing; an empty directory is
 *      initialised;
 *   1. the role marker .smtpgate (role, instance, host, created) is written
 *      atomically: tmp/ file, fsync, rename, fsync of the spool;
 *   2. a marker of the other role is refused (EX_CONFIG);
 *   3. one running instance per spool: exclusive fcntl lock on .lock, which
 *      holds "host=H pid=P" so a second instance can name the holder
 *      (EX_TEMPFAIL);
 *   4. temporary files live in <spool>/tmp.
 * Plus the path comparison used by smtpgate-check (rule 5).
 *
 * It knows nothing about Maildirs, queues or configs: callers create their
 * own sub-directories below the spool.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include "fsutil.h"
#include "id.h"
#include "spool.h"
#include "util.h"

#define SPOOL_MARKER	".smtpgate"
#define SPOOL_MARKER_MAX 4096	/* a longer marker is not ours */
#define SPOOL_LOCK	".lock"
#define SPOOL_TMP	"tmp"
#define SPOOL_MODE	0750
#define SPOOL_LOCK_MODE	0640
/* Everybody who may reach the spool may read its role: smtpgate-sendmail
 * checks it with the submitting user's own ids. */
#define SPOOL_MARKER_MODE	0644
#define SPOOL_RULE	"a spool belongs to one direction; give each gateway its own spool"

struct spool {
	char	*path;
	int	 dirfd;
	int	 tmpfd;
	int	 lockfd;
	dev_t	 lock_dev;
	ino_t	 lock_ino;
};

/* What the directory looks like before we touch it. */
enum spool_state {
	SPOOL_EMPTY,		/* nothing, or only what a crashed start left */
	SPOOL_MARKED,		/* marker of our role */
	SPOOL_REFUSED,		/* err filled, code in *code */
};

/*
 * Locks held by this process.  fcntl locks belong to the process, so a
 * second open in the same process would "succeed", and closing any fd of
 * the lock file would drop the lock; this list prevents both.
 */
static pthread_mutex_t spool_held_mtx = PTHREAD_MUTEX_INITIALIZER;
static struct spool *spool_held[16];

/* "inbound" / "outbound". */
const char *
spool_role_name(enum spool_role role)
{
	return role == SPOOL_ROLE_INBOUND ? "inbound" : "outbound";
}

/* The value of a marker's "role=" line and its length, or NULL. */
static const char *
spool_marker_value(const char *text, size_t *len)
{
	const char *p = text;

	while (p != NULL && *p != '\0') {
		if (strncmp(p, "role=", 5) == 0) {
			*len = strcspn(p + 5, "\r\n");
			return p + 5;
		}
		p = strchr(p, '\n');
		if (p != NULL)
			p++;
	}
	return NULL;
}

/* The role named by a marker's "role=" line, or -1. */
static int
spool_marker_role(const char *text)
{
	size_t n;
	const char *v = spool_marker_value(text, &n);

	if (v != NULL && n == 7 && strncmp(v, "inbound", 7) == 0)
		return SPOOL_ROLE_INBOUND;
	if (v != NULL && n == 8 && strncmp(v, "outbound", 8) == 0)
		return SPOOL_ROLE_OUTBOUND;
	return -1;
}

/* The text of the marker's role= line (see spool.h). */
int
spool_read_role(int dirfd, char *role, size_t rolesz, char *err, size_t errlen)
{
	size_t n = 0;
	const char *v;
	char *text = fsutil_read_file(dirfd, SPOOL_MARKER, SPOOL_MARKER_MAX, NULL,
	    err, errlen);

	if (text == NULL)
		return -1;
	if ((v = spool_marker_value(text, &n)) == NULL)
		v = "";
	if (rolesz > 0) {
		n = n < rolesz - 1 ? n : rolesz - 1;
		memcpy(role, v, n);
		role[n] = '\0';
	}
	free(text);
	return 0;
}

/* Check an existing marker against role: SPOOL_MARKED or SPOOL_REFUSED. */
static enum spool_state
spool_check_marker(const char *path, int dirfd, enum spool_role role,
    int *code, char *err, size_t errlen)
{
	char rerr[PATH_MAX + 128];
	char *text;
	int found;

	text = fsutil_read_file(dirfd, SPOOL_MARKER, SPOOL_MARKER_MAX, NULL, rerr,
	    sizeof(rerr));
	if (text == NULL) {
		snprintf(err, errlen, "spool %s: cannot read role marker %s/%s: %s",
		    path, path, SPOOL_MARKER, strerror(errno));
		*code = errno == EFBIG ? EX_CONFIG : EX_NOPERM;
		return SPOOL_REFUSED;
	}
	found = spool_marker_role(text);
	free(text);
	if (found == (int)role)
		return SPOOL_MARKED;
	*code = EX_CONFIG;
	if (found < 0)
		snprintf(err, errlen, "spool %s: role marker %s/%s has no valid "
		    "role= line (expected role=%s); %s", path, path, SPOOL_MARKER,
		    spool_role_name(role), SPOOL_RULE);
	else
		snprintf(err, errlen, "spool %s: role marker %s/%s says "
		    "role=%s but this is the %s gateway; %s", path, path,
		    SPOOL_MARKER, spool_role_name((enum spool_role)found),
		    spool_role_name(role), SPOOL_RULE);
	return SPOOL_REFUSED;
}

/* 1 when tmp/ is empty or holds only leftovers of a marker write. */
static int
spool_tmp_is_leftover(int dirfd)
{
	struct dirent *de;
	DIR *d;
	int fd, ok = 1;

	fd = openat(dirfd, SPOOL_TMP, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return 0;
	d = fdopendir(fd);
	if (d == NULL) {
		(void)close(fd);
		return 0;
	}
	while (ok && (de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		/* fsutil_write_atomic's temporary names end in ".<name>.tmp" */
		if (strstr(de->d_name, "." SPOOL_MARKER ".tmp") == NULL)
			ok = 0;
	}
	closedir(d);
	return ok;
}

/*
 * 1 when the directory counts as empty: nothing but what an interrupted
 * first start leaves (.lock, tmp/ with at most a marker temporary file).
 */
static int
spool_dir_is_empty(int dirfd, const char *path, char *err, size_t errlen)
{
	struct dirent *de;
	DIR *d;
	int fd, empty = 1;

	fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0 || (d = fdopendir(fd)) == NULL) {
		snprintf(err, errlen, "spool %s: cannot list: %s", path, strerror(errno));
		if (fd >= 0)
			(void)close(fd);
		return -1;
	}
	while (empty && (de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0 ||
		    strcmp(de->d_name, SPOOL_LOCK) == 0)
			continue;
		if (strcmp(de->d_name, SPOOL_TMP) == 0 && spool_tmp_is_leftover(dirfd))
			continue;
		empty = 0;
	}
	closedir(d);
	return empty;
}

/* Classify the spool directory (rules 0-2), without changing anything. */
static enum spool_state
spool_classify(const char *path, int dirfd, enum spool_role role, int *code,
    char *err, size_t errlen)
{
	struct stat st;
	int empty;

	if (fstatat(dirfd, SPOOL_MARKER, &st, AT_SYMLINK_NOFOLLOW) == 0)
		return spool_check_marker(path, dirfd, role, code, err, errlen);
	if (errno != ENOENT) {
		snprintf(err, errlen, "spool %s: %s/%s: %s", path, path,
		    SPOOL_MARKER, strerror(errno));
		*code = EX_NOPERM;
		return SPOOL_REFUSED;
	}
	empty = spool_dir_is_empty(dirfd, path, err, errlen);
	if (empty == 1)
		return SPOOL_EMPTY;
	*code = empty < 0 ? EX_NOPERM : EX_CONFIG;
	if (empty == 0)
		snprintf(err, errlen, "spool %s: directory is not empty and has no "
		    "role marker %s/%s; refusing to take over a directory that is "
		    "not a smtpgate spool (%s)", path, path, SPOOL_MARKER, SPOOL_RULE);
	return SPOOL_REFUSED;
}

/* Open path as a directory fd; EX_CONFIG / EX_NOPERM and err on failure. */
static int
spool_open_dir(const char *path, int *fdp, char *err, size_t errlen)
{
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd < 0) {
		snprintf(err, errlen, "spool %s: open: %s", path, strerror(errno));
		return errno == ENOTDIR ? EX_CONFIG : EX_NOPERM;
	}
	*fdp = fd;
	return EX_OK;
}

/* Write the role marker atomically through tmp/. */
static int
spool_write_marker(struct spool *s, enum spool_role role, char *err,
    size_t errlen)
{
	char text[512], id[ID_LEN + 1], when[32], ferr[PATH_MAX + 128];
	time_t now = time(NULL);
	struct tm tm;
	int n;

	id_generate(id);
	gmtime_r(&now, &tm);
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
	n = snprintf(text, sizeof(text), "role=%s\ninstance=%s\nhost=%s\ncreated=%s\n",
	    spool_role_name(role), id, util_hostname(), when);
	if (n < 0 || (size_t)n >= sizeof(text))
		n = (int)strlen(text);
	if (fsutil_write_atomic(&(struct fsutil_atomic){ s->tmpfd, s->dirfd, true },
	    SPOOL_MARKER, text, (size_t)n, ferr, sizeof(ferr)) < 0) {
		snprintf(err, errlen, "spool %s: cannot write role marker: %s",
		    s->path, ferr);
		return EX_CANTCREAT;
	}
	return EX_OK;
}

/* Give the role marker SPOOL_MARKER_MODE (a marker written by an older
 * version, or under the unit's umask, has 0640), without following a link. */
static int
spool_marker_mode(struct spool *s, char *err, size_t errlen)
{
	struct stat st;
	int fd;

	fd = openat(s->dirfd, SPOOL_MARKER, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) < 0 ||
	    ((st.st_mode & 07777) != SPOOL_MARKER_MODE && fchmod(fd, SPOOL_MARKER_MODE) < 0)) {
		snprintf(err, errlen, "spool %s: %s/%s: cannot make it readable (0%o): %s",
		    s->path, s->path, SPOOL_MARKER, SPOOL_MARKER_MODE, strerror(errno));
		if (fd >= 0)
			close(fd);
		return EX_CANTCREAT;
	}
	close(fd);
	return EX_OK;
}

/* Open (creating if needed) <spool>/tmp. */
static int
spool_open_tmp(struct spool *s, char *err, size_t errlen)
{
	if (mkdirat(s->dirfd, SPOOL_TMP, SPOOL_MODE) < 0 && errno != EEXIST) {
		snprintf(err, errlen, "spool %s: mkdir %s/%s: %s", s->path, s->path,
		    SPOOL_TMP, strerror(errno));
		return EX_CANTCREAT;
	}
	s->tmpfd = openat(s->dirfd, SPOOL_TMP,
	    O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
	if (s->tmpfd < 0) {
		snprintf(err, errlen, "spool %s: open %s/%s: %s", s->path, s->path,
		    SPOOL_TMP, strerror(errno));
		return EX_CANTCREAT;
	}
	return EX_OK;
}

/* The spool of this process holding the lock file (dev, ino), or NULL. */
static struct spool *
spool_held_find(dev_t dev, ino_t ino)
{
	size_t i;

	for (i = 0; i < sizeof(spool_held) / sizeof(spool_held[0]); i++)
		if (spool_held[i] != NULL && spool_held[i]->lock_dev == dev &&
		    spool_held[i]->lock_ino == ino)
			return spool_held[i];
	return NULL;
}

/* Remember (add) or forget (!add) s in the held list. */
static void
spool_held_set(struct spool *s, bool add)
{
	size_t i;

	pthread_mutex_lock(&spool_held_mtx);
	for (i = 0; i < sizeof(spool_held) / sizeof(spool_held[0]); i++) {
		if (add && spool_held[i] == NULL) {
			spool_held[i] = s;
			break;
		}
		if (!add && spool_held[i] == s) {
			spool_held[i] = NULL;
			break;
		}
	}
	pthread_mutex_unlock(&spool_held_mtx);
}

/* Read "host=H pid=P" from the lock file into holder (one line). */
static void
spool_read_holder(int fd, pid_t fallback, char *holder, size_t holderlen)
{
	char buf[256];
	ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);

	if (n > 0) {
		buf[n] = '\0';
		buf[strcspn(buf, "\r\n")] = '\0';
	}
	if (n > 0 && strncmp(buf, "host=", 5) == 0 && strstr(buf, " pid=") != NULL)
		snprintf(holder, holderlen, "%s", buf);
	else
		snprintf(holder, holderlen, "host=unknown pid=%ld", (long)fallback);
}

/* pid of the process holding a conflicting lock on fd, 0 if none, -1 error. */
static pid_t
spool_lock_owner(int fd)
{
	struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET };

	if (fcntl(fd, F_GETLK, &fl) < 0)
		return -1;
	return fl.l_type == F_UNLCK ? 0 : fl.l_pid;
}

/* Report a held lock (rule 3). */
static int
spool_lock_busy(struct spool *s, int fd, char *err, size_t errlen)
{
	char holder[256];
	pid_t pid = spool_lock_owner(fd);

	spool_read_holder(fd, pid > 0 ? pid : 0, holder, sizeof(holder));
	snprintf(err, errlen, "spool %s is in use by another running instance "
	    "(%s, lock %s/%s); one instance per spool: stop it or give this "
	    "gateway its own spool", s->path, holder, s->path, SPOOL_LOCK);
	return EX_TEMPFAIL;
}

/* Write "host=H pid=P\n" into the locked file. */
static int
spool_lock_stamp(struct spool *s, char *err, size_t errlen)
{
	char line[320];
	int n = snprintf(line, sizeof(line), "host=%s pid=%ld\n", util_hostname(),
	    (long)getpid());

	if (n < 0 || (size_t)n >= sizeof(line))
		n = (int)strlen(line);
	if (ftruncate(s->lockfd, 0) < 0 || pwrite(s->lockfd, line, (size_t)n, 0) != n ||
	    fsync(s->lockfd) < 0) {
		snprintf(err, errlen, "spool %s: write %s/%s: %s", s->path, s->path,
		    SPOOL_LOCK, strerror(errno));
		return EX_CANTCREAT;
	}
	return EX_OK;
}

/* 1 when this process already holds the lock of the spool at dirfd. */
static int
spool_held_here(int dirfd)
{
	struct stat st;
	struct spool *mine;

	if (fstatat(dirfd, SPOOL_LOCK, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return 0;
	pthread_mutex_lock(&spool_held_mtx);
	mine = spool_held_find(st.st_dev, st.st_ino);
	pthread_mutex_unlock(&spool_held_mtx);
	return mine != NULL;
}

/* Take the exclusive lock on .lock and record who holds it (rule 3). */
static int
spool_lock(struct spool *s, char *err, size_t errlen)
{
	struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET };
	struct stat st;
	int fd, rc;

	/* checked before opening: closing a second fd would drop our lock */
	if (spool_held_here(s->dirfd)) {
		snprintf(err, errlen, "spool %s is already open in this process "
		    "(host=%s pid=%ld, lock %s/%s)", s->path, util_hostname(),
		    (long)getpid(), s->path, SPOOL_LOCK);
		return EX_TEMPFAIL;
	}
	fd = openat(s->dirfd, SPOOL_LOCK, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW,
	    SPOOL_LOCK_MODE);
	if (fd < 0 || fstat(fd, &st) < 0) {
		snprintf(err, errlen, "spool %s: open %s/%s: %s", s->path, s->path,
		    SPOOL_LOCK, strerror(errno));
		if (fd >= 0)
			(void)close(fd);
		return EX_CANTCREAT;
	}
	if (fcntl(fd, F_SETLK, &fl) < 0) {
		if (errno == EAGAIN || errno == EACCES)
			rc = spool_lock_busy(s, fd, err, errlen);
		else {
			snprintf(err, errlen, "spool %s: lock %s/%s: %s", s->path,
			    s->path, SPOOL_LOCK, strerror(errno));
			rc = EX_TEMPFAIL;
		}
		(void)close(fd);
		return rc;
	}
	s->lockfd = fd;
	s->lock_dev = st.st_dev;
	s->lock_ino = st.st_ino;
	spool_held_set(s, true);
	return spool_lock_stamp(s, err, errlen);
}

/* Allocate an unopened spool handle. */
static struct spool *
spool_alloc(const char *path)
{
	struct spool *s = xcalloc(1, sizeof(*s));

	s->path = xstrdup(path);
	s->dirfd = s->tmpfd = s->lockfd = -1;
	return s;
}

/* Take the lock, then create tmp/ and the marker under it. */
static int
spool_claim(struct spool *s, enum spool_role role, char *err, size_t errlen)
{
	enum spool_state st;
	int rc, code = EX_OK;

	rc = spool_lock(s, err, errlen);
	if (rc != EX_OK)
		return rc;
	rc = spool_open_tmp(s, err, errlen);
	if (rc != EX_OK)
		return rc;
	/* again under the lock: another role may have won a start-up race */
	st = spool_classify(s->path, s->dirfd, role, &code, err, errlen);
	if (st == SPOOL_REFUSED)
		return code;
	if (st == SPOOL_EMPTY && (rc = spool_write_marker(s, role, err, errlen)) != EX_OK)
		return rc;
	return spool_marker_mode(s, err, errlen);
}

/* Open a spool for a running daemon (see spool.h). */
int
spool_open(const char *path, enum spool_role role, struct spool **out,
    char *err, size_t errlen)
{
	char ferr[PATH_MAX + 128];
	struct spool *s;
	int rc, code = EX_OK;

	*out = NULL;
	if (fsutil_mkdir_p(path, SPOOL_MODE, ferr, sizeof(ferr)) < 0) {
		snprintf(err, errlen, "spool %s: cannot create it: %s", path, ferr);
		return errno == ENOTDIR || errno == EEXIST ? EX_CONFIG : EX_CANTCREAT;
	}
	s = spool_alloc(path);
	rc = spool_open_dir(path, &s->dirfd, err, errlen);
	if (rc == EX_OK &&
	    spool_classify(path, s->dirfd, role, &code, err, errlen) == SPOOL_REFUSED)
		rc = code;
	if (rc == EX_OK)
		rc = spool_claim(s, role, err, errlen);
	if (rc != EX_OK) {
		spool_close(s);
		return rc;
	}
	*out = s;
	return EX_OK;
}

/* Probe the lock without taking it; fills holder ("" when free). */
static void
spool_probe_lock(int dirfd, char *holder, size_t holderlen)
{
	pid_t pid;
	int fd;

	if (holder == NULL || holderlen == 0)
		return;
	holder[0] = '\0';
	if (spool_held_here(dirfd)) {
		/* ours: opening and closing the file would drop the lock */
		snprintf(holder, holderlen, "host=%s pid=%ld", util_hostname(),
		    (long)getpid());
		return;
	}
	fd = openat(dirfd, SPOOL_LOCK, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return;
	pid = spool_lock_owner(fd);
	if (pid > 0)
		spool_read_holder(fd, pid, holder, holderlen);
	(void)close(fd);
}

/* The checks of spool_open, read-only (see spool.h). */
int
spool_check(const char *path, enum spool_role role, char *holder,
    size_t holderlen, char *err, size_t errlen)
{
	struct stat st;
	int fd = -1, rc, code = EX_OK;

	if (holder != NULL && holderlen > 0)
		holder[0] = '\0';
	if (stat(path, &st) < 0 && errno == ENOENT)
		return EX_OK;	/* created at start-up */
	rc = spool_open_dir(path, &fd, err, errlen);
	if (rc != EX_OK)
		return rc;
	if (spool_classify(path, fd, role, &code, err, errlen) == SPOOL_REFUSED)
		rc = code;
	else
		spool_probe_lock(fd, holder, holderlen);
	(void)close(fd);
	return rc;
}

/* A path as components, with the device and inode of each existing prefix. */
#define SPOOL_MAXCOMP 128
struct spool_pathinfo {
	const char *path;		/* as the caller wrote it, for messages */
	char	 lex[PATH_MAX];		/* absolute, "." and ".." folded, no symlinks resolved */
	char	 canon[PATH_MAX];	/* realpath of the deepest existing ancestor + rest */
	char	 buf[PATH_MAX];		/* canon split into comp[] */
	char	*comp[SPOOL_MAXCOMP];
	size_t	 ncomp;
	bool	 exists[SPOOL_MAXCOMP + 1];	/* [i]: prefix of i components */
	dev_t	 dev[SPOOL_MAXCOMP + 1];
	ino_t	 ino[SPOOL_MAXCOMP + 1];
};

/* Append component c to the absolute path out, folding "." and "..". */
static int
spool_path_push(char *out, size_t outsz, const char *c, size_t clen)
{
	size_t len = strlen(out);
	char *slash;

	if (clen == 0 || (clen == 1 && c[0] == '.'))
		return 0;
	if (clen == 2 && c[0] == '.' && c[1] == '.') {
		slash = strrchr(out, '/');
		if (slash != NULL)
			slash[slash == out ? 1 : 0] = '\0';
		return 0;
	}
	if (len + clen + 2 > outsz)
		return -1;
	if (len > 1)
		out[len++] = '/';
	memcpy(out + len, c, clen);
	out[len + clen] = '\0';
	return 0;
}

/* Append every component of rel to out (see spool_path_push). */
static int
spool_path_append(char *out, size_t outsz, const char *rel)
{
	while (*rel != '\0') {
		size_t n = strcspn(rel, "/");

		if (spool_path_push(out, outsz, rel, n) < 0)
			return -1;
		rel += n;
		rel += strspn(rel, "/");
	}
	return 0;
}

/* The absolute form of in, without resolving anything. */
static int
spool_path_absolute(const char *in, char *out, size_t outsz)
{
	char cwd[PATH_MAX];

	if (in[0] == '\0')
		return -1;
	snprintf(out, outsz, "/");
	if (in[0] != '/') {
		if (getcwd(cwd, sizeof(cwd)) == NULL ||
		    spool_path_append(out, outsz, cwd) < 0)
			return -1;
	}
	return spool_path_append(out, outsz, in);
}

/* realpath of the deepest existing ancestor of path p, plus the rest. */
static int
spool_path_canon(const char *p, char *out, size_t outsz)
{
	char raw[PATH_MAX], resolved[PATH_MAX], cwd[PATH_MAX];
	char *slash;
	size_t cut;

	if (p[0] == '/')
		cut = (size_t)snprintf(raw, sizeof(raw), "%s", p);
	else if (getcwd(cwd, sizeof(cwd)) != NULL)
		cut = (size_t)snprintf(raw, sizeof(raw), "%s/%s", cwd, p);
	else
		return -1;
	if (cut >= sizeof(raw))
		return -1;
	/* raw[0..cut) is the part tried; raw + cut the rest, folded later */
	for (;;) {
		char save = raw[cut];

		raw[cut] = '\0';
		if (realpath(cut == 0 ? "/" : raw, resolved) != NULL) {
			raw[cut] = save;
			break;
		}
		slash = strrchr(raw, '/');
		raw[cut] = save;
		if (cut == 0 || slash == NULL)
			return -1;
		cut = (size_t)(slash - raw);
	}
	snprintf(out, outsz, "%s", resolved);
	return spool_path_append(out, outsz, raw + cut);
}

/* Fill pi for path p; -1 when it cannot be made absolute. */
static int
spool_pathinfo_fill(struct spool_pathinfo *pi, const char *p)
{
	char prefix[PATH_MAX] = "/";
	struct stat st;
	char *save = NULL, *c;
	size_t i;

	if (spool_path_absolute(p, pi->lex, sizeof(pi->lex)) < 0 ||
	    spool_path_canon(p, pi->canon, sizeof(pi->canon)) < 0)
		return -1;
	snprintf(pi->buf, sizeof(pi->buf), "%s", pi->canon);
	pi->ncomp = 0;
	for (c = strtok_r(pi->buf, "/", &save); c != NULL && pi->ncomp < SPOOL_MAXCOMP;
	    c = strtok_r(NULL, "/", &save))
		pi->comp[pi->ncomp++] = c;
	if (c != NULL)
		return -1;	/* deeper than SPOOL_MAXCOMP: compare names only */
	for (i = 0; i <= pi->ncomp; i++) {
		if (i > 0)
			(void)spool_path_push(prefix, sizeof(prefix), pi->comp[i - 1],
			    strlen(pi->comp[i - 1]));
		pi->exists[i] = stat(prefix, &st) == 0 && S_ISDIR(st.st_mode);
		pi->dev[i] = pi->exists[i] ? st.st_dev : 0;
		pi->ino[i] = pi->exists[i] ? st.st_ino : 0;
	}
	return 0;
}

/* 1 when the components of a after ia are a prefix of those of b after ib. */
static int
spool_tail_prefix(const struct spool_pathinfo *a, size_t ia,
    const struct spool_pathinfo *b, size_t ib)
{
	size_t k;

	if (a->ncomp - ia > b->ncomp - ib)
		return 0;
	for (k = 0; ia + k < a->ncomp; k++)
		if (strcmp(a->comp[ia + k], b->comp[ib + k]) != 0)
			return 0;
	return 1;
}

/* 1 when lexical path in lies below lexical path outer. */
static int
spool_lex_inside(const char *in, const char *outer)
{
	size_t n = strlen(outer);

	if (strcmp(outer, "/") == 0)
		return strcmp(in, "/") != 0;
	return strncmp(in, outer, n) == 0 && in[n] == '/';
}

/* Word the conflict found at prefix ia of pa and ib of pb. */
static void
spool_conflict_why(const struct spool_pathinfo *pa, size_t ia,
    const struct spool_pathinfo *pb, size_t ib, char *why, size_t whylen)
{
	const char *a = pa->path, *b = pb->path;
	bool a_in_b = pa->ncomp - ia > pb->ncomp - ib;
	bool b_in_a = pb->ncomp - ib > pa->ncomp - ia;
	size_t i = ia;

	if (!a_in_b && !b_in_a) {
		if (strcmp(pa->lex, pb->lex) == 0) {
			snprintf(why, whylen, "same directory");
			return;
		}
		while (i < pa->ncomp && pa->exists[i + 1])
			i++;	/* name the directory itself when it exists */
		snprintf(why, whylen, "same directory reached through a symlink or "
		    "bind mount (device %ju inode %ju)", (uintmax_t)pa->dev[i],
		    (uintmax_t)pa->ino[i]);
		return;
	}
	if (a_in_b ? spool_lex_inside(pa->lex, pb->lex) : spool_lex_inside(pb->lex, pa->lex))
		snprintf(why, whylen, "%s is inside %s", a_in_b ? a : b, a_in_b ? b : a);
	else
		snprintf(why, whylen, "%s is inside %s, reached through a symlink or "
		    "bind mount (device %ju inode %ju)", a_in_b ? a : b, a_in_b ? b : a,
		    (uintmax_t)pa->dev[ia], (uintmax_t)pa->ino[ia]);
}

/* Search every pair of existing prefixes that are the same directory. */
static int
spool_conflict_search(const struct spool_pathinfo *pa, const struct spool_pathinfo *pb,
    char *why, size_t whylen)
{
	size_t i, j;

	for (i = pa->ncomp + 1; i-- > 0;) {
		if (!pa->exists[i])
			continue;
		for (j = pb->ncomp + 1; j-- > 0;) {
			if (!pb->exists[j] || pa->dev[i] != pb->dev[j] ||
			    pa->ino[i] != pb->ino[j])
				continue;
			if (spool_tail_prefix(pa, i, pb, j) || spool_tail_prefix(pb, j, pa, i)) {
				spool_conflict_why(pa, i, pb, j, why, whylen);
				return 1;
			}
		}
	}
	return 0;
}

/* 1 when spools a and b collide under the isolation rule (see spool.h). */
int
spool_paths_conflict(const char *a, const char *b, char *why, size_t whylen)
{
	struct spool_pathinfo *pa = xcalloc(2, sizeof(*pa)), *pb = pa + 1;
	int rc = 0;

	if (why != NULL && whylen > 0)
		why[0] = '\0';
	pa->path = a;
	pb->path = b;
	if (spool_pathinfo_fill(pa, a) < 0 || spool_pathinfo_fill(pb, b) < 0) {
		/* cannot tell them apart: compare the names as written */
		rc = strcmp(a, b) == 0;
		if (rc)
			snprintf(why, whylen, "same directory");
	} else {
		rc = spool_conflict_search(pa, pb, why, whylen);
	}
	free(pa);
	return rc;
}

/* The path the spool was opened with. */
const char *
spool_path(const struct spool *s)
{
	return s->path;
}

/* O_DIRECTORY fd of the spool. */
int
spool_dirfd(const struct spool *s)
{
	return s->dirfd;
}

/* O_DIRECTORY fd of <spool>/tmp. */
int
spool_tmpfd(const struct spool *s)
{
	return s->tmpfd;
}

/* Release the lock and free. */
void
spool_close(struct spool *s)
{
	if (s == NULL)
		return;
	if (s->lockfd >= 0) {
		spool_held_set(s, false);
		(void)close(s->lockfd);
	}
	if (s->tmpfd >= 0)
		(void)close(s->tmpfd);
	if (s->dirfd >= 0)
		(void)close(s->dirfd);
	free(s->path);
	free(s);
}
