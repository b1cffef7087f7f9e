/*
 * Unit tests of spool_check_owner: a spool whose every kept name is ours
 * passes, a missing one too; the spool itself, a file in tmp/ or in a
 * listed file directory, or a listed directory of another uid is refused
 * with 77 and one line naming it, its owner and the chown that fixes it;
 * producers' files (unlisted directories, foreign tmp/ prefixes) are not
 * looked at.  The cases with files of another uid need root (chown).
 */
#include <check.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sysexits.h>
#include <unistd.h>

#include "check_main.h"
#include "spool.h"

#define OTHER_UID 64111

static char dir[PATH_MAX];
static char spool[PATH_MAX + 16];

static const char *const dirs[] = { "queue", "bad", "pickup", "mailboxes",
    "mailboxes/a", NULL };
static const char *const filedirs[] = { "queue", NULL };
static const char *const foreign[] = { "claim.", NULL };
static const char *const shared[] = { "mailboxes/a/new", NULL };
static const struct spool_owned owned = { dirs, filedirs, foreign, shared };

/* Make <spool>/rel: a directory when it ends in '/', else a file. */
static void
make(const char *rel)
{
	char p[PATH_MAX * 2];
	size_t n = strlen(rel);

	snprintf(p, sizeof(p), "%s/%s", spool, rel);
	if (rel[n - 1] == '/') {
		ck_assert_int_eq(mkdir(p, 0750), 0);
	} else {
		int fd = open(p, O_WRONLY | O_CREAT | O_EXCL, 0640);

		ck_assert_int_ge(fd, 0);
		close(fd);
	}
}

/* Give <spool>/rel to OTHER_UID. */
static void
give_away(const char *rel)
{
	char p[PATH_MAX * 2];

	snprintf(p, sizeof(p), "%s/%s", spool, rel);
	ck_assert_int_eq(lchown(p, OTHER_UID, OTHER_UID), 0);
}

static void
setup(void)
{
	static const char *const names[] = { "", ".smtpgate", ".lock", "tmp/", "tmp/spare.1",
	    "queue/", "queue/0000000001aaaaaa.env", "queue/0000000001aaaaaa.msg", "bad/",
	    "pickup/", "mailboxes/", "mailboxes/a/", "mailboxes/a/new/",
	    "mailboxes/a/new/1.x", NULL };

	testdir_make(dir, sizeof(dir));
	snprintf(spool, sizeof(spool), "%s/spool", dir);
	ck_assert_int_eq(mkdir(spool, 0750), 0);
	for (size_t i = 1; names[i] != NULL; i++)
		make(names[i]);
}

static void
teardown(void)
{
	testdir_remove(dir);
}

/* Run the check as the caller's ids; the sysexits code, err filled. */
static int
check(char *err, size_t errlen)
{
	err[0] = '\0';
	return spool_check_owner(spool, getuid(), getgid(), &owned, err, errlen);
}

START_TEST(all_ours_or_missing)
{
	char err[1024], missing[PATH_MAX * 2];

	ck_assert_int_eq(check(err, sizeof(err)), EX_OK);
	snprintf(missing, sizeof(missing), "%s/nothing", dir);
	ck_assert_int_eq(spool_check_owner(missing, getuid(), getgid(), &owned, err,
	    sizeof(err)), EX_OK);
}
END_TEST

START_TEST(spool_of_another_uid)
{
	char err[1024], want[PATH_MAX * 3];

	/* a service uid with no account: named by its number */
	ck_assert_int_eq(spool_check_owner(spool, 4000000001U, 4000000002U, &owned, err,
	    sizeof(err)), EX_NOPERM);
	ck_assert_ptr_nonnull(strstr(err, "the spool directory is owned by"));
	ck_assert_ptr_nonnull(strstr(err, "not by the service user (uid 4000000001)"));
	snprintf(want, sizeof(want), "run chown -R 4000000001:4000000002 %s", spool);
	ck_assert_ptr_nonnull(strstr(err, want));
	ck_assert_ptr_nonnull(strstr(err, spool));
}
END_TEST

/* Refused: which name is given away, what err must name, the fix's path. */
struct refusal_case {
	const char *give;
	const char *named;
	const char *fix;
};

static const struct refusal_case refusal_cases[] = {
	{ "queue/0000000001aaaaaa.msg", "queue/0000000001aaaaaa.msg", "/queue" },
	{ "tmp/spare.1", "tmp/spare.1", "/tmp" },
	{ ".lock", ".lock", "/.lock" },
	{ ".smtpgate", ".smtpgate", "/.smtpgate" },
	{ "tmp", "tmp", "/tmp" },
	{ "bad", "bad", "/bad" },
	{ "mailboxes/a", "mailboxes/a", "/mailboxes/a" },
};

START_TEST(refused)
{
	const struct refusal_case *tc = &refusal_cases[_i];
	char err[1024], want[PATH_MAX * 3];

	if (geteuid() != 0)
		return;		/* chown needs root */
	give_away(tc->give);
	ck_assert_int_eq(check(err, sizeof(err)), EX_NOPERM);
	snprintf(want, sizeof(want), "%s is owned by uid %d, not by the service user",
	    tc->named, OTHER_UID);
	ck_assert_msg(strstr(err, want) != NULL, "\"%s\" not in \"%s\"", want, err);
	snprintf(want, sizeof(want), " %s%s", spool, tc->fix);
	ck_assert_msg(strstr(err, want) != NULL, "\"%s\" not in \"%s\"", want, err);
	ck_assert_ptr_null(strchr(err, '\n'));
}
END_TEST

/* Other users' files where they may be: not the daemon's business. */
START_TEST(producers_files_pass)
{
	char err[1024];

	if (geteuid() != 0)
		return;
	make("pickup/from-a");
	give_away("pickup/from-a");
	make("bad/old");
	give_away("bad/old");
	make("tmp/claim.0000000002bbbbbb");
	give_away("tmp/claim.0000000002bbbbbb");
	give_away("mailboxes/a/new/1.x");
	ck_assert_int_eq(check(err, sizeof(err)), EX_OK);
}
END_TEST

/* A shared name (a Maildir's new/) is refused when root's only: a reader's
 * directory or symlink there is the delivery's business, not a stop. */
START_TEST(shared_refused_only_when_roots)
{
	char err[1024], p[PATH_MAX * 2], moved[PATH_MAX * 2];

	if (geteuid() != 0)
		return;
	give_away("mailboxes/a/new");
	ck_assert_int_eq(check(err, sizeof(err)), EX_OK);
	snprintf(p, sizeof(p), "%s/mailboxes/a/new", spool);
	snprintf(moved, sizeof(moved), "%s/mailboxes/a/new.moved", spool);
	ck_assert_int_eq(rename(p, moved), 0);
	ck_assert_int_eq(symlink("/etc", p), 0);
	ck_assert_int_eq(lchown(p, OTHER_UID, OTHER_UID), 0);
	ck_assert_int_eq(check(err, sizeof(err)), EX_OK);
	ck_assert_int_eq(unlink(p), 0);
	ck_assert_int_eq(mkdir(p, 0750), 0);
	ck_assert_int_eq(lchown(p, 0, 0), 0);
	ck_assert_int_eq(spool_check_owner(spool, OTHER_UID + 1, getgid(), &owned, err,
	    sizeof(err)), EX_NOPERM);	/* the spool first: it is not OTHER_UID+1's */
	ck_assert_int_eq(lchown(spool, OTHER_UID + 1, OTHER_UID + 1), 0);
	for (const char *const *d = dirs; *d != NULL; d++) {
		char q[PATH_MAX * 2];

		snprintf(q, sizeof(q), "%s/%s", spool, *d);
		ck_assert_int_eq(lchown(q, OTHER_UID + 1, OTHER_UID + 1), 0);
	}
	snprintf(p, sizeof(p), "%s/tmp", spool);
	ck_assert_int_eq(lchown(p, OTHER_UID + 1, OTHER_UID + 1), 0);
	snprintf(p, sizeof(p), "%s/tmp/spare.1", spool);
	ck_assert_int_eq(lchown(p, OTHER_UID + 1, OTHER_UID + 1), 0);
	snprintf(p, sizeof(p), "%s/.smtpgate", spool);
	ck_assert_int_eq(lchown(p, OTHER_UID + 1, OTHER_UID + 1), 0);
	snprintf(p, sizeof(p), "%s/.lock", spool);
	ck_assert_int_eq(lchown(p, OTHER_UID + 1, OTHER_UID + 1), 0);
	snprintf(p, sizeof(p), "%s/queue/0000000001aaaaaa.env", spool);
	ck_assert_int_eq(lchown(p, OTHER_UID + 1, OTHER_UID + 1), 0);
	snprintf(p, sizeof(p), "%s/queue/0000000001aaaaaa.msg", spool);
	ck_assert_int_eq(lchown(p, OTHER_UID + 1, OTHER_UID + 1), 0);
	ck_assert_int_eq(spool_check_owner(spool, OTHER_UID + 1, getgid(), &owned, err,
	    sizeof(err)), EX_NOPERM);
	ck_assert_msg(strstr(err, "mailboxes/a/new is owned by root (uid 0)") != NULL, "%s", err);
}
END_TEST

/* A name with control bytes is shown with '?' (one line). */
START_TEST(name_made_printable)
{
	char err[1024];

	if (geteuid() != 0)
		return;
	make("tmp/a\nb\x1b[0m");
	give_away("tmp/a\nb\x1b[0m");
	ck_assert_int_eq(check(err, sizeof(err)), EX_NOPERM);
	ck_assert_ptr_nonnull(strstr(err, "tmp/a?b?[0m is owned by"));
}
END_TEST

Suite *
unit_suite(void)
{
	Suite *s = suite_create("spool_owner");
	TCase *tc = tcase_create("spool_owner");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, all_ours_or_missing);
	tcase_add_test(tc, spool_of_another_uid);
	tcase_add_loop_test(tc, refused, 0, sizeof(refusal_cases) / sizeof(refusal_cases[0]));
	tcase_add_test(tc, producers_files_pass);
	tcase_add_test(tc, shared_refused_only_when_roots);
	tcase_add_test(tc, name_made_printable);
	suite_add_tcase(s, tc);
	return s;
}
