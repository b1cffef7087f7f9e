/*
 * Unit tests for common/spool.c: the dedicated-topology rules 0-3 and the
 * path comparison of rule 5 (SPEC.md).
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <sysexits.h>
#include <unistd.h>

#include "check_main.h"
#include "fsutil.h"
#include "id.h"
#include "spool.h"
#include "util.h"

static char tdir[PATH_MAX];
static char spath[PATH_MAX + 32];

static void
setup(void)
{
	testdir_make(tdir, sizeof(tdir));
	snprintf(spath, sizeof(spath), "%s/spool", tdir);
}

static void
teardown(void)
{
	testdir_remove(tdir);
}

/* Read dir/name into a static buffer ("" when missing). */
static const char *
slurp(const char *dir, const char *name)
{
	static char buf[4096];
	char p[PATH_MAX * 2];
	FILE *f;
	size_t n;

	snprintf(p, sizeof(p), "%s/%s", dir, name);
	buf[0] = '\0';
	f = fopen(p, "r");
	if (f == NULL)
		return buf;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

/* The value of "key=" on its own line in text, copied into out. */
static const char *
line_value(const char *text, const char *key, char *out, size_t outsz)
{
	char pat[64];
	const char *p;

	snprintf(pat, sizeof(pat), "%s=", key);
	out[0] = '\0';
	for (p = text; p != NULL && *p != '\0'; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL) {
		if (strncmp(p, pat, strlen(pat)) == 0) {
			size_t n = strcspn(p + strlen(pat), "\n");

			snprintf(out, outsz, "%.*s", (int)n, p + strlen(pat));
			return out;
		}
	}
	return out;
}

static int
exists(const char *dir, const char *name)
{
	char p[PATH_MAX * 2];
	struct stat st;

	snprintf(p, sizeof(p), "%s/%s", dir, name);
	return lstat(p, &st) == 0;
}

/* Rule 0+1: a missing spool is created with tmp/, marker and lock. */
START_TEST(test_fresh_spool_initialised)
{
	struct spool *s = NULL;
	char err[1024], v[256], marker[4096];
	struct stat st;
	unsigned y, mo, d, h, mi, se;
	char z = 0;

	ck_assert_int_eq(spool_open(spath, SPOOL_ROLE_INBOUND, &s, err, sizeof(err)), 0);
	ck_assert_ptr_nonnull(s);
	ck_assert_str_eq(spool_path(s), spath);
	ck_assert_int_ge(spool_dirfd(s), 0);
	ck_assert_int_ge(spool_tmpfd(s), 0);
	ck_assert_int_eq(stat(spath, &st), 0);
	ck_assert(S_ISDIR(st.st_mode));
	ck_assert_int_eq(st.st_mode & 027, 0);	/* 0750 at most */
	ck_assert(exists(spath, "tmp"));
	snprintf(marker, sizeof(marker), "%s", slurp(spath, ".smtpgate"));
	ck_assert_str_eq(line_value(marker, "role", v, sizeof(v)), "inbound");
	ck_assert(id_valid(line_value(marker, "instance", v, sizeof(v))));
	ck_assert_str_eq(line_value(marker, "host", v, sizeof(v)), util_hostname());
	line_value(marker, "created", v, sizeof(v));
	ck_assert_int_eq(sscanf(v, "%4u-%2u-%2uT%2u:%2u:%2u%c", &y, &mo, &d, &h, &mi, &se, &z), 7);
	ck_assert_int_eq(z, 'Z');
	ck_assert_uint_ge(y, 2024);
	snprintf(v, sizeof(v), "host=%s pid=%ld\n", util_hostname(), (long)getpid());
	ck_assert_str_eq(slurp(spath, ".lock"), v);
	spool_close(s);
	/* reopening with the same role is fine and keeps the marker */
	ck_assert_int_eq(spool_open(spath, SPOOL_ROLE_INBOUND, &s, err, sizeof(err)), 0);
	ck_assert_str_eq(slurp(spath, ".smtpgate"), marker);
	spool_close(s);
}
END_TEST

/* tmp/ holds nothing after the marker was written. */
START_TEST(test_tmp_empty_after_open)
{
	struct spool *s = NULL;
	char err[1024], tmp[PATH_MAX * 2], cmd[PATH_MAX * 3];

	ck_assert_int_eq(spool_open(spath, SPOOL_ROLE_OUTBOUND, &s, err, sizeof(err)), 0);
	snprintf(tmp, sizeof(tmp), "%s/tmp", spath);
	snprintf(cmd, sizeof(cmd), "test -z \"$(ls -A '%s')\"", tmp);
	ck_assert_int_eq(system(cmd), 0);
	ck_assert_str_eq(line_value(slurp(spath, ".smtpgate"), "role", tmp, sizeof(tmp)),
	    "outbound");
	spool_close(s);
}
END_TEST

/* Rule 0: an existing empty directory is initialised. */
START_TEST(test_empty_dir_initialised)
{
	struct spool *s = NULL;
	char err[1024], v[64];

	ck_assert_int_eq(mkdir(spath, 0700), 0);
	ck_assert_int_eq(spool_open(spath, SPOOL_ROLE_OUTBOUND, &s, err, sizeof(err)), 0);
	ck_assert_str_eq(line_value(slurp(spath, ".smtpgate"), "role", v, sizeof(v)),
	    "outbound");
	spool_close(s);
}
END_TEST

/* Rule 2: a marker of the other role is refused with EX_CONFIG. */
START_TEST(test_other_role_refused)
{
	struct spool *s = NULL;
	char err[1024], marker[PATH_MAX * 2];

	ck_assert_int_eq(spool_open(spath, SPOOL_ROLE_INBOUND, &s, err, sizeof(err)), 0);
	spool_close(s);
	s = NULL;
	err[0] = '\0';
	ck_assert_int_eq(spool_open(spath, SPOOL_ROLE_OUTBOUND, &s, err, sizeof(err)), EX_CONFIG);
	ck_assert_ptr_null(s);
	snprintf(marker, sizeof(marker), "%s/.smtpgate", spath);
	ck_assert_ptr_nonnull(strstr(err, spath));
	ck_assert_ptr_nonnull(strstr(err, marker));
	ck_assert_ptr_nonnull(strstr(err, "role=inbound"));
	ck_assert_ptr_nonnull(strstr(err, "outbound"));
	ck_assert_ptr_nonnull(strstr(err, "a spool belongs to one direction"));
	ck_assert_ptr_null(strchr(err, '\n'));
	/* the read-only check says the same */
	ck_assert_int_eq(spool_check(spath, SPOOL_ROLE_OUTBOUND, NULL, 0, err, sizeof(err)),
	    EX_CONFIG);
	ck_assert_ptr_nonnull(strstr(err, "role=inbound"));
}
END_TEST

/* A marker without a valid role line is refused too. */
START_TEST(test_bad_marker_refused)
{
	struct spool *s = NULL;
	char err[1024], p[PATH_MAX * 2];
	FILE *f;

	ck_assert_int_eq(mkdir(spath, 0750), 0);
	snprintf(p, sizeof(p), "%s/.smtpgate", spath);
	f = fopen(p, "w");
	ck_assert_ptr_nonnull(f);
	fputs("role=sideways\n", f);
	fclose(f);
	ck_assert_int_eq(spool_open(spath, SPOOL_ROLE_INBOUND, &s, err, sizeof(err)), EX_CONFIG);
	ck_assert_ptr_nonnull(strstr(err, p));
}
END_TEST

/* Write text as spath/.smtpgate. */
static void
put_marker(const char *text, size_t n)
{
	char p[PATH_MAX * 2];
	FILE *f;

	snprintf(p, sizeof(p), "%s/.smtpgate", spath);
	f = fopen(p, "w");
	ck_assert_ptr_nonnull(f);
	ck_assert_uint_eq(fwrite(text, 1, n, f), n);
	fclose(f);
}

/* spool_read_role: the role= line's text of what a daemon wrote, of a
 * wrong or missing line (cut to the buffer), no marker, a huge marker. */
START_TEST(test_read_role)
{
	static const struct {
		const char *text, *want;
	} cases[] = {
		{ "instance=x\nrole=outbound\nhost=h\n", "outbound" },
		{ "role=inbound\r\n", "inbound" },
		{ "role=sideways-and-much-longer-than-that\n", "sideways-and-much-lon" },
		{ "host=h\n", "" },
		{ "", "" },
	};
	struct spool *s = NULL;
	char err[1024], role[22], big[5000];
	int dfd;

	ck_assert_int_eq(spool_open(spath, SPOOL_ROLE_OUTBOUND, &s, err, sizeof(err)), 0);
	dfd = open(spath, O_PATH | O_DIRECTORY | O_CLOEXEC);
	ck_assert_int_ge(dfd, 0);
	ck_assert_int_eq(spool_read_role(dfd, role, sizeof(role), err, sizeof(err)), 0);
	ck_assert_str_eq(role, "outbound");
	spool_close(s);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		put_marker(cases[i].text, strlen(cases[i].text));
		ck_assert_int_eq(spool_read_role(dfd, role, sizeof(role), err, sizeof(err)), 0);
		ck_assert_str_eq(role, cases[i].want);
	}
	memset(big, 'x', sizeof(big));
	put_marker(big, sizeof(big));
	ck_assert_int_eq(spool_read_role(dfd, role, sizeof(role), err, sizeof(err)), -1);
	ck_assert_int_eq(errno, EFBIG);
	ck_assert_ptr_nonnull(strstr(err, ".smtpgate"));
	snprintf(big, sizeof(big), "%s/.smtpgate", spath);
	ck_assert_int_eq(unlink(big), 0);
	ck_assert_int_eq(spool_read_role(dfd, role, sizeof(role), err, sizeof(err)), -1);
	ck_assert_int_eq(errno, ENOENT);
	close(dfd);
}
END_TEST

/* Rule 0: a non-empty unmarked directory is refused and left untouched. */
START_TEST(test_nonempty_unmarked_refused)
{
	struct spool *s = NULL;
	char err[1024], p[PATH_MAX * 2];
	FILE *f;

	ck_assert_int_eq(mkdir(spath, 0750), 0);
	snprintf(p, sizeof(p), "%s/somebody-elses-file", spath);
	f = fopen(p, "w");
	ck_assert_ptr_nonnull(f);
	fclose(f);
	ck_assert_int_eq(spool_open(spath, SPOOL_ROLE_INBOUND, &s, err, sizeof(err)), EX_CONFIG);
	ck_assert_ptr_null(s);
	ck_assert_ptr_nonnull(strstr(err, spath));
	ck_assert_ptr_nonnull(strstr(err, "not empty"));
	ck_assert(!exists(spath, ".smtpgate"));
	ck_assert(!exists(spath, ".lock"));
	ck_assert(!exists(spath, "tmp"));
	ck_assert_int_eq(spool_check(spath, SPOOL_ROLE_INBOUND, NULL, 0, err, sizeof(err)),
	    EX_CONFIG);
}
END_TEST

/* A spool path that is a file is a configuration error. */
START_TEST(test_path_is_file)
{
	struct spool *s = NULL;
	char err[1024];
	FILE *f = fopen(spath, "w");

	ck_assert_ptr_nonnull(f);
	fclose(f);
	ck_assert_int_eq(spool_open(spath, SPOOL_ROLE_INBOUND, &s, err, sizeof(err)), EX_CONFIG);
	ck_assert_ptr_nonnull(strstr(err, spath));
	ck_assert_int_eq(spool_check(spath, SPOOL_ROLE_INBOUND, NULL, 0, err, sizeof(err)),
	    EX_CONFIG);
}
END_TEST

/* Child: open the spool, report the result on `up`, wait for `down` to close. */
static void
child_hold(int up, int down)
{
	struct spool *s = NULL;
	char err[1024], c;
	int rc = spool_open(spath, SPOOL_ROLE_INBOUND, &s, err, sizeof(err));

	c = rc == 0 ? 'y' : 'n';
	if (write(up, &c, 1) != 1)
		_exit(2);
	while (read(down, &c, 1) > 0)
		;
	spool_close(s);
	_exit(0);
}

/* Rule 3: a spool held by another live process gives EX_TEMPFAIL naming it. */
START_TEST(test_lock_held_by_other_process)
{
	struct spool *s = NULL;
	char err[1024], holder[256], want[128];
	int up[2], down[2], status;
	pid_t pid;
	char c = 0;

	ck_assert_int_eq(pipe(up), 0);
	ck_assert_int_eq(pipe(down), 0);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		close(up[0]);
		close(down[1]);
		child_hold(up[1], down[0]);
	}
	close(up[1]);
	close(down[0]);
	ck_assert_int_eq(read(up[0], &c, 1), 1);
	ck_assert_int_eq(c, 'y');

	ck_assert_int_eq(spool_open(spath, SPOOL_ROLE_INBOUND, &s, err, sizeof(err)),
	    EX_TEMPFAIL);
	ck_assert_ptr_null(s);
	snprintf(want, sizeof(want), "pid=%ld", (long)pid);
	ck_assert_msg(strstr(err, want) != NULL, "no %s in: %s", want, err);
	snprintf(want, sizeof(want), "host=%s", util_hostname());
	ck_assert_msg(strstr(err, want) != NULL, "no %s in: %s", want, err);
	ck_assert_ptr_nonnull(strstr(err, spath));

	/* the read-only check is fine with a held spool and names the holder */
	ck_assert_int_eq(spool_check(spath, SPOOL_ROLE_INBOUND, holder, sizeof(holder),
	    err, sizeof(err)), 0);
	snprintf(want, sizeof(want), "host=%s pid=%ld", util_hostname(), (long)pid);
	ck_assert_str_eq(holder, want);

	close(down[1]);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	close(up[0]);

	ck_assert_int_eq(spool_check(spath, SPOOL_ROLE_INBOUND, holder, sizeof(holder),
	    err, sizeof(err)), 0);
	ck_assert_str_eq(holder, "");
	ck_assert_int_eq(spool_open(spath, SPOOL_ROLE_INBOUND, &s, err, sizeof(err)), 0);
	spool_close(s);
}
END_TEST

/* A lock file with no stamp still names the holder's pid (F_GETLK). */
START_TEST(test_lock_holder_fallback_pid)
{
	struct spool *s = NULL;
	char err[1024], want[64], p[PATH_MAX * 2];
	int up[2], down[2], fd;
	pid_t pid;
	char c = 0;

	ck_assert_int_eq(spool_open(spath, SPOOL_ROLE_INBOUND, &s, err, sizeof(err)), 0);
	spool_close(s);
	s = NULL;
	snprintf(p, sizeof(p), "%s/.lock", spath);
	ck_assert_int_eq(pipe(up), 0);
	ck_assert_int_eq(pipe(down), 0);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET };

		close(up[0]);
		close(down[1]);
		fd = open(p, O_RDWR | O_TRUNC);
		c = fd >= 0 && fcntl(fd, F_SETLK, &fl) == 0 ? 'y' : 'n';
		if (write(up[1], &c, 1) != 1)
			_exit(2);
		while (read(down[0], &c, 1) > 0)
			;
		_exit(0);
	}
	close(up[1]);
	close(down[0]);
	ck_assert_int_eq(read(up[0], &c, 1), 1);
	ck_assert_int_eq(c, 'y');
	ck_assert_int_eq(spool_open(spath, SPOOL_ROLE_INBOUND, &s, err, sizeof(err)),
	    EX_TEMPFAIL);
	snprintf(want, sizeof(want), "pid=%ld", (long)pid);
	ck_assert_msg(strstr(err, want) != NULL, "no %s in: %s", want, err);
	close(down[1]);
	waitpid(pid, NULL, 0);
	close(up[0]);
}
END_TEST

/* A second open in the same process is refused and keeps the first lock. */
START_TEST(test_same_process_twice)
{
	struct spool *s = NULL, *s2 = NULL;
	char err[1024], holder[256];

	ck_assert_int_eq(spool_open(spath, SPOOL_ROLE_INBOUND, &s, err, sizeof(err)), 0);
	ck_assert_int_eq(spool_open(spath, SPOOL_ROLE_INBOUND, &s2, err, sizeof(err)),
	    EX_TEMPFAIL);
	ck_assert_ptr_null(s2);
	ck_assert_int_eq(spool_check(spath, SPOOL_ROLE_INBOUND, holder, sizeof(holder),
	    err, sizeof(err)), 0);
	ck_assert_ptr_nonnull(strstr(holder, "pid="));
	spool_close(s);
}
END_TEST

/* spool_check: a missing spool is fine and nothing is created. */
START_TEST(test_check_missing_ok)
{
	char err[256], holder[64] = "junk";

	ck_assert_int_eq(spool_check(spath, SPOOL_ROLE_OUTBOUND, holder, sizeof(holder),
	    err, sizeof(err)), 0);
	ck_assert_str_eq(holder, "");
	ck_assert(!exists(tdir, "spool"));
}
END_TEST

struct conflict_case {
	const char *a, *b;	/* relative to tdir; "@" prefix = absolute as is */
	int want;
	const char *why;	/* substring of why, or NULL */
};

/* Build the scratch tree used by the path cases. */
static void
make_tree(void)
{
	char p[PATH_MAX * 2], t[PATH_MAX * 2];

	snprintf(p, sizeof(p), "%s/a", tdir);
	ck_assert_int_eq(mkdir(p, 0755), 0);
	snprintf(p, sizeof(p), "%s/a/spool", tdir);
	ck_assert_int_eq(mkdir(p, 0755), 0);
	snprintf(p, sizeof(p), "%s/a/spool2", tdir);
	ck_assert_int_eq(mkdir(p, 0755), 0);
	snprintf(p, sizeof(p), "%s/a/spool/in", tdir);
	ck_assert_int_eq(mkdir(p, 0755), 0);
	snprintf(t, sizeof(t), "%s/a/spool", tdir);
	snprintf(p, sizeof(p), "%s/link", tdir);
	ck_assert_int_eq(symlink(t, p), 0);
	snprintf(t, sizeof(t), "%s/a", tdir);
	snprintf(p, sizeof(p), "%s/plink", tdir);
	ck_assert_int_eq(symlink(t, p), 0);
}

static const struct conflict_case conflict_cases[] = {
	{ "a/spool", "a/spool", 1, "same directory" },
	{ "a/spool/", "a/spool", 1, "same directory" },
	{ "a/spool", "a/spool//", 1, "same directory" },
	{ "a/./spool", "a/spool2/../spool", 1, "same directory" },
	{ "a/spool", "a/spool/in", 1, "is inside" },
	{ "a/spool/in", "a/spool", 1, "is inside" },
	{ "a/spool", "a/spool/new/deeper", 1, "is inside" },
	{ "a/spool", "a/spool2", 0, NULL },
	{ "a/spool2", "a/spool", 0, NULL },
	{ "a/spool/in", "a/spool2/in", 0, NULL },
	{ "link", "a/spool", 1, "symlink or bind mount" },
	{ "link/", "a/spool", 1, "device" },
	{ "link/in", "a/spool", 1, "is inside" },
	{ "plink", "a/spool", 1, "is inside" },
	{ "plink/spool", "a/spool", 1, "symlink or bind mount" },
	{ "plink/spool2", "a/spool", 0, NULL },
	{ "plink/x/y", "a/x", 1, "is inside" },
	{ "nx/one", "nx/one", 1, "same directory" },
	{ "nx/one", "nx/one/two", 1, "is inside" },
	{ "nx/one", "nx/one2", 0, NULL },
	{ "nx/one", "nx/two", 0, NULL },
	{ "plink/nx/q", "a/nx/q", 1, "symlink or bind mount" },
	{ "a/spool", "@/", 1, "is inside" },
};

/* Rule 5: each case in both orders. */
START_TEST(test_paths_conflict_table)
{
	const struct conflict_case *c = &conflict_cases[_i];
	char a[PATH_MAX * 2], b[PATH_MAX * 2], why[1024];
	int got;

	make_tree();
	snprintf(a, sizeof(a), "%s/%s", tdir, c->a);
	if (c->b[0] == '@')
		snprintf(b, sizeof(b), "%s", c->b + 1);
	else
		snprintf(b, sizeof(b), "%s/%s", tdir, c->b);
	got = spool_paths_conflict(a, b, why, sizeof(why));
	ck_assert_msg(got == c->want, "%s vs %s: got %d (%s)", c->a, c->b, got, why);
	if (c->why != NULL)
		ck_assert_msg(strstr(why, c->why) != NULL, "%s vs %s: why=%s", c->a,
		    c->b, why);
	got = spool_paths_conflict(b, a, why, sizeof(why));
	ck_assert_msg(got == c->want, "%s vs %s (swapped): got %d (%s)", c->a, c->b,
	    got, why);
	if (c->want == 0)
		ck_assert_str_eq(why, "");
}
END_TEST

/* "X is inside Y" names the inner path first. */
START_TEST(test_paths_conflict_names)
{
	char a[PATH_MAX * 2], b[PATH_MAX * 2], why[PATH_MAX * 5], want[PATH_MAX * 5];

	make_tree();
	snprintf(a, sizeof(a), "%s/a/spool", tdir);
	snprintf(b, sizeof(b), "%s/a/spool/in", tdir);
	ck_assert_int_eq(spool_paths_conflict(a, b, why, sizeof(why)), 1);
	snprintf(want, sizeof(want), "%s is inside %s", b, a);
	ck_assert_str_eq(why, want);
}
END_TEST

/* A relative path is compared as seen from the current directory. */
START_TEST(test_paths_conflict_relative)
{
	char b[PATH_MAX * 2], why[1024];

	make_tree();
	ck_assert_int_eq(chdir(tdir), 0);
	snprintf(b, sizeof(b), "%s/a/spool", tdir);
	ck_assert_int_eq(spool_paths_conflict("a/spool", b, why, sizeof(why)), 1);
	ck_assert_int_eq(spool_paths_conflict("a/spool2", b, why, sizeof(why)), 0);
	ck_assert_int_eq(spool_paths_conflict("link/in", "a/spool/in", why, sizeof(why)), 1);
}
END_TEST

/* Rule 5 through a bind mount (needs a private mount namespace: root). */
START_TEST(test_paths_conflict_bind_mount)
{
	char a[PATH_MAX * 2], b[PATH_MAX * 2], why[PATH_MAX * 5];

	make_tree();
	if (unshare(CLONE_NEWNS) < 0 ||
	    mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0) {
		fprintf(stderr, "bind mount case skipped: %s\n", strerror(errno));
		return;
	}
	snprintf(a, sizeof(a), "%s/a/spool", tdir);
	snprintf(b, sizeof(b), "%s/mnt", tdir);
	ck_assert_int_eq(mkdir(b, 0755), 0);
	ck_assert_int_eq(mount(a, b, NULL, MS_BIND, NULL), 0);
	ck_assert_int_eq(spool_paths_conflict(a, b, why, sizeof(why)), 1);
	ck_assert_msg(strstr(why, "bind mount (device") != NULL, "%s", why);
	snprintf(b, sizeof(b), "%s/mnt/in", tdir);
	ck_assert_int_eq(spool_paths_conflict(a, b, why, sizeof(why)), 1);
	ck_assert_msg(strstr(why, "is inside") != NULL, "%s", why);
	snprintf(b, sizeof(b), "%s/mnt/not-yet", tdir);
	ck_assert_int_eq(spool_paths_conflict(b, a, why, sizeof(why)), 1);
	snprintf(a, sizeof(a), "%s/a/spool2", tdir);
	snprintf(b, sizeof(b), "%s/mnt", tdir);
	ck_assert_int_eq(spool_paths_conflict(a, b, why, sizeof(why)), 0);
	snprintf(a, sizeof(a), "%s/a/spool/in/x", tdir);
	snprintf(b, sizeof(b), "%s/mnt/in/x", tdir);
	ck_assert_int_eq(spool_paths_conflict(a, b, why, sizeof(why)), 1);
	ck_assert_msg(strstr(why, "same directory reached") != NULL, "%s", why);
	ck_assert_int_eq(umount(b), -1);	/* not a mount point: only tdir/mnt is */
	snprintf(b, sizeof(b), "%s/mnt", tdir);
	ck_assert_int_eq(umount(b), 0);
}
END_TEST

Suite *
unit_suite(void)
{
	Suite *s = suite_create("spool");
	TCase *tc = tcase_create("rules");
	TCase *tp = tcase_create("paths");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_fresh_spool_initialised);
	tcase_add_test(tc, test_tmp_empty_after_open);
	tcase_add_test(tc, test_empty_dir_initialised);
	tcase_add_test(tc, test_other_role_refused);
	tcase_add_test(tc, test_bad_marker_refused);
	tcase_add_test(tc, test_read_role);
	tcase_add_test(tc, test_nonempty_unmarked_refused);
	tcase_add_test(tc, test_path_is_file);
	tcase_add_test(tc, test_lock_held_by_other_process);
	tcase_add_test(tc, test_lock_holder_fallback_pid);
	tcase_add_test(tc, test_same_process_twice);
	tcase_add_test(tc, test_check_missing_ok);
	suite_add_tcase(s, tc);
	tcase_add_checked_fixture(tp, setup, teardown);
	tcase_add_loop_test(tp, test_paths_conflict_table, 0,
	    (int)(sizeof(conflict_cases) / sizeof(conflict_cases[0])));
	tcase_add_test(tp, test_paths_conflict_names);
	tcase_add_test(tp, test_paths_conflict_relative);
	tcase_add_test(tp, test_paths_conflict_bind_mount);
	suite_add_tcase(s, tp);
	return s;
}
