/*
 * Unit tests for common/fsutil.c: exclusive and atomic writes, clean-up on
 * failure, Maildir creation and unique Maildir names across threads.
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check_main.h"
#include "fsutil.h"

static char tdir[PATH_MAX];
static int tfd = -1;
static struct rlimit saved_fsize;

static void
setup(void)
{
	getrlimit(RLIMIT_FSIZE, &saved_fsize);
	testdir_make(tdir, sizeof(tdir));
	tfd = open(tdir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	ck_assert_int_ge(tfd, 0);
}

static void
teardown(void)
{
	setrlimit(RLIMIT_FSIZE, &saved_fsize);
	close(tfd);
	testdir_remove(tdir);
}

/* Number of entries in dir (without . and ..). */
static int
count_entries(const char *dir)
{
	char cmd[PATH_MAX + 64];
	FILE *p;
	int n = -1;

	snprintf(cmd, sizeof(cmd), "ls -A '%s' | wc -l", dir);
	p = popen(cmd, "r");
	if (p == NULL || fscanf(p, "%d", &n) != 1)
		n = -1;
	if (p != NULL)
		pclose(p);
	return n;
}

/* Make tdir/name as a directory and return an fd for it. */
static int
subdir_fd(const char *name)
{
	char p[PATH_MAX * 2];
	int fd;

	snprintf(p, sizeof(p), "%s/%s", tdir, name);
	ck_assert_int_eq(mkdir(p, 0750), 0);
	fd = open(p, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	ck_assert_int_ge(fd, 0);
	return fd;
}

/* write_new with two iovecs reads back the same bytes. */
START_TEST(test_write_new_roundtrip)
{
	struct iovec iov[2] = {
		{ .iov_base = (char[]){ "hello, " }, .iov_len = 7 },
		{ .iov_base = (char[]){ "world\n" }, .iov_len = 6 },
	};
	char err[512];
	size_t len = 0;
	char *got;

	ck_assert_int_eq(fsutil_write_new(tfd, "f", &(struct fsutil_new){ iov, 2, true, NULL },
	    err, sizeof(err)), 0);
	got = fsutil_read_file(tfd, "f", 1024, &len, err, sizeof(err));
	ck_assert_ptr_nonnull(got);
	ck_assert_uint_eq(len, 13);
	ck_assert_str_eq(got, "hello, world\n");
	free(got);
}
END_TEST

/* O_EXCL clash: -1, EEXIST, the existing file untouched, path in err. */
START_TEST(test_write_new_exclusive)
{
	struct iovec one = { .iov_base = (char[]){ "first" }, .iov_len = 5 };
	struct iovec two = { .iov_base = (char[]){ "second" }, .iov_len = 6 };
	char err[PATH_MAX + 256], want[PATH_MAX + 64];
	char *got;

	ck_assert_int_eq(fsutil_write_new(tfd, "f", &(struct fsutil_new){ &one, 1, false, NULL },
	    err, sizeof(err)), 0);
	errno = 0;
	ck_assert_int_eq(fsutil_write_new(tfd, "f", &(struct fsutil_new){ &two, 1, true, NULL },
	    err, sizeof(err)), -1);
	ck_assert_int_eq(errno, EEXIST);
	snprintf(want, sizeof(want), "%s/f: open: %s", tdir, strerror(EEXIST));
	ck_assert_str_eq(err, want);
	got = fsutil_read_file(tfd, "f", 1024, NULL, err, sizeof(err));
	ck_assert_str_eq(got, "first");
	free(got);
}
END_TEST

/* Cap the file size so write(2) fails part way with EFBIG. */
static void
limit_file_size(rlim_t bytes)
{
	struct rlimit rl = { .rlim_cur = bytes, .rlim_max = RLIM_INFINITY };

	signal(SIGXFSZ, SIG_IGN);
	getrlimit(RLIMIT_FSIZE, &rl);
	rl.rlim_cur = bytes;
	ck_assert_int_eq(setrlimit(RLIMIT_FSIZE, &rl), 0);
}

/* A write that fails part way leaves no file and keeps errno. */
START_TEST(test_write_new_partial_failure)
{
	static char big[8192];
	struct iovec iov = { .iov_base = big, .iov_len = sizeof(big) };
	char err[PATH_MAX + 256], want[PATH_MAX + 64];

	memset(big, 'x', sizeof(big));
	limit_file_size(1000);
	errno = 0;
	ck_assert_int_eq(fsutil_write_new(tfd, "big", &(struct fsutil_new){ &iov, 1, true, NULL },
	    err, sizeof(err)), -1);
	ck_assert_int_eq(errno, EFBIG);
	snprintf(want, sizeof(want), "%s/big: write: %s", tdir, strerror(EFBIG));
	ck_assert_str_eq(err, want);
	ck_assert_int_eq(faccessat(tfd, "big", F_OK, 0), -1);
	ck_assert_int_eq(count_entries(tdir), 0);
}
END_TEST

/* write_atomic creates and replaces; nothing stays in tmp. */
START_TEST(test_write_atomic_roundtrip)
{
	char err[512], tmp[PATH_MAX + 8], *got;
	int tmpfd = subdir_fd("tmp"), dstfd = subdir_fd("dst");

	ck_assert_int_eq(fsutil_write_atomic(&(struct fsutil_atomic){ tmpfd, dstfd, true },
	    "state", "v1", 2, err, sizeof(err)), 0);
	ck_assert_int_eq(fsutil_write_atomic(&(struct fsutil_atomic){ tmpfd, dstfd, true },
	    "state", "version 2", 9, err, sizeof(err)), 0);
	got = fsutil_read_file(dstfd, "state", 64, NULL, err, sizeof(err));
	ck_assert_str_eq(got, "version 2");
	free(got);
	snprintf(tmp, sizeof(tmp), "%s/tmp", tdir);
	ck_assert_int_eq(count_entries(tmp), 0);
	close(tmpfd);
	close(dstfd);
}
END_TEST

/* write_atomic failing part way keeps the old file and leaves no temp. */
START_TEST(test_write_atomic_failure_keeps_old)
{
	static char big[8192];
	char err[512], tmp[PATH_MAX + 8], *got;
	int tmpfd = subdir_fd("tmp"), dstfd = subdir_fd("dst");

	ck_assert_int_eq(fsutil_write_atomic(&(struct fsutil_atomic){ tmpfd, dstfd, true },
	    "state", "old", 3, err, sizeof(err)), 0);
	limit_file_size(100);
	errno = 0;
	ck_assert_int_eq(fsutil_write_atomic(&(struct fsutil_atomic){ tmpfd, dstfd, true },
	    "state", big, sizeof(big), err, sizeof(err)), -1);
	ck_assert_int_eq(errno, EFBIG);
	ck_assert_ptr_nonnull(strstr(err, tdir));
	ck_assert_ptr_nonnull(strstr(err, ": write: "));
	got = fsutil_read_file(dstfd, "state", 64, NULL, err, sizeof(err));
	ck_assert_str_eq(got, "old");
	free(got);
	snprintf(tmp, sizeof(tmp), "%s/tmp", tdir);
	ck_assert_int_eq(count_entries(tmp), 0);
	close(tmpfd);
	close(dstfd);
}
END_TEST

/* A failed rename (target is a non-empty directory) removes the temp file. */
START_TEST(test_write_atomic_rename_failure)
{
	char err[PATH_MAX + 256], tmp[PATH_MAX + 8];
	int tmpfd = subdir_fd("tmp"), dstfd = subdir_fd("dst");
	int blocker = subdir_fd("dst/state");

	ck_assert_int_eq(mkdirat(blocker, "inner", 0750), 0);
	ck_assert_int_eq(fsutil_write_atomic(&(struct fsutil_atomic){ tmpfd, dstfd, true },
	    "state", "x", 1, err, sizeof(err)), -1);
	ck_assert(errno == EISDIR || errno == ENOTEMPTY || errno == EEXIST);
	ck_assert_ptr_nonnull(strstr(err, "/dst/state: rename: "));
	snprintf(tmp, sizeof(tmp), "%s/tmp", tdir);
	ck_assert_int_eq(count_entries(tmp), 0);
	close(blocker);
	close(tmpfd);
	close(dstfd);
}
END_TEST

/* read_file refuses a file larger than maxlen with EFBIG. */
START_TEST(test_read_file_limits)
{
	struct iovec iov = { .iov_base = (char[]){ "0123456789" }, .iov_len = 10 };
	char err[PATH_MAX + 256];

	ck_assert_int_eq(fsutil_write_new(tfd, "f", &(struct fsutil_new){ &iov, 1, false, NULL },
	    err, sizeof(err)), 0);
	errno = 0;
	ck_assert_ptr_null(fsutil_read_file(tfd, "f", 9, NULL, err, sizeof(err)));
	ck_assert_int_eq(errno, EFBIG);
	ck_assert_ptr_nonnull(strstr(err, "/f: read: "));
	ck_assert_ptr_null(fsutil_read_file(tfd, "missing", 9, NULL, err, sizeof(err)));
	ck_assert_int_eq(errno, ENOENT);
	ck_assert_ptr_nonnull(strstr(err, "/missing: open: "));
}
END_TEST

/* read_fd reads a pipe fed piece by piece exactly as the same text whole,
 * whatever the size hint; more than maxlen is EFBIG. */
START_TEST(test_read_fd_pieces)
{
	char text[10000];
	size_t hints[] = { 0, 1, 10000, 1u << 20 };

	for (size_t i = 0; i < sizeof(text); i++)
		text[i] = (char)('a' + i % 26);
	for (size_t h = 0; h < sizeof(hints) / sizeof(hints[0]); h++) {
		for (size_t piece = 1; piece <= 4096; piece *= 8) {
			int p[2];
			size_t len = 0;
			char *got;

			ck_assert_int_eq(pipe(p), 0);
			if (fork() == 0) {
				close(p[0]);
				for (size_t o = 0; o < sizeof(text); o += piece) {
					size_t n = sizeof(text) - o < piece ? sizeof(text) - o : piece;
					if (write(p[1], text + o, n) != (ssize_t)n)
						_exit(1);
				}
				_exit(0);
			}
			close(p[1]);
			got = fsutil_read_fd(p[0], hints[h], sizeof(text), &len);
			close(p[0]);
			wait(NULL);
			ck_assert_ptr_nonnull(got);
			ck_assert_uint_eq(len, sizeof(text));
			ck_assert_int_eq(memcmp(got, text, len), 0);
			ck_assert_int_eq(got[len], '\0');
			free(got);
		}
	}
	{
		struct iovec iov = { .iov_base = text, .iov_len = 100 };
		char err[PATH_MAX + 256];
		size_t len = 7;
		int fd;

		ck_assert_int_eq(fsutil_write_new(tfd, "g", &(struct fsutil_new){ &iov, 1, false, NULL },
		    err, sizeof(err)), 0);
		fd = openat(tfd, "g", O_RDONLY);
		errno = 0;
		ck_assert_ptr_null(fsutil_read_fd(fd, 100, 99, &len));
		ck_assert_int_eq(errno, EFBIG);
		ck_assert_uint_eq(len, 7);
		close(fd);
	}
}
END_TEST

/* pread_full reads up to len at an offset, fewer at the end of the file. */
START_TEST(test_pread_full)
{
	struct iovec iov = { .iov_base = (char[]){ "0123456789" }, .iov_len = 10 };
	char err[PATH_MAX + 256], buf[16];
	int fd;

	ck_assert_int_eq(fsutil_write_new(tfd, "p", &(struct fsutil_new){ &iov, 1, false, NULL },
	    err, sizeof(err)), 0);
	fd = openat(tfd, "p", O_RDONLY);
	ck_assert_int_eq(fsutil_pread_full(fd, buf, 4, 3), 4);
	ck_assert_int_eq(memcmp(buf, "3456", 4), 0);
	ck_assert_int_eq(fsutil_pread_full(fd, buf, sizeof(buf), 6), 4);
	ck_assert_int_eq(memcmp(buf, "6789", 4), 0);
	ck_assert_int_eq(fsutil_pread_full(fd, buf, sizeof(buf), 20), 0);
	close(fd);
	ck_assert_int_eq(fsutil_pread_full(-1, buf, 1, 0), -1);
	ck_assert_int_eq(errno, EBADF);
}
END_TEST

/* open_dir opens a folder (O_RDONLY or O_PATH), never a symlink or a
 * file, and names the path in err. */
START_TEST(test_open_dir)
{
	char p[PATH_MAX + 64], err[PATH_MAX + 256];
	int fd;

	snprintf(p, sizeof(p), "%s/queue", tdir);
	ck_assert_int_eq(mkdir(p, 0700), 0);
	snprintf(p, sizeof(p), "%s/link", tdir);
	ck_assert_int_eq(symlink("queue", p), 0);
	snprintf(p, sizeof(p), "%s/file", tdir);
	ck_assert_int_eq(close(open(p, O_CREAT | O_WRONLY, 0600)), 0);
	ck_assert_int_ge(fd = fsutil_open_dir(tfd, "/sp", "queue", O_RDONLY, err, sizeof(err)), 0);
	ck_assert_int_eq(fsync(fd), 0);
	close(fd);
	ck_assert_int_ge(fd = fsutil_open_dir(tfd, "/sp", "queue", O_PATH, err, sizeof(err)), 0);
	ck_assert_int_ne(fcntl(fd, F_GETFD) & FD_CLOEXEC, 0);
	close(fd);
	ck_assert_int_eq(fsutil_open_dir(tfd, "/sp", "link", O_RDONLY, err, sizeof(err)), -1);
	ck_assert_int_eq(errno, ENOTDIR);
	ck_assert_str_eq(err, "/sp/link: Not a directory");
	ck_assert_int_eq(fsutil_open_dir(tfd, "/sp", "file", O_PATH, err, sizeof(err)), -1);
	ck_assert_int_eq(errno, ENOTDIR);
	ck_assert_int_eq(fsutil_open_dir(tfd, "/sp", "none", O_RDONLY, err, sizeof(err)), -1);
	ck_assert_int_eq(errno, ENOENT);
	ck_assert_str_eq(err, "/sp/none: No such file or directory");
}
END_TEST

/* count_dir counts a folder's entries but dot files and a suffix, of a
 * folder by name or of dirfd itself; a missing folder is ENOENT. */
START_TEST(test_count_dir)
{
	static const char *names[] = { "a", "b.reason", ".hidden", ".w.x", "c.reasonx", "d" };
	char p[PATH_MAX + 64];
	int fd;

	snprintf(p, sizeof(p), "%s/bad", tdir);
	ck_assert_int_eq(mkdir(p, 0700), 0);
	ck_assert_int_eq(fsutil_count_dir(tfd, "bad", NULL), 0);
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		snprintf(p, sizeof(p), "%s/bad/%s", tdir, names[i]);
		ck_assert_int_eq(close(open(p, O_CREAT | O_WRONLY, 0600)), 0);
	}
	ck_assert_int_eq(fsutil_count_dir(tfd, "bad", NULL), 4);
	ck_assert_int_eq(fsutil_count_dir(tfd, "bad", ".reason"), 3);
	fd = openat(tfd, "bad", O_RDONLY | O_DIRECTORY);
	ck_assert_int_eq(fsutil_count_dir(fd, ".", ".reason"), 3);
	ck_assert_int_eq(fsutil_count_dir(fd, ".", ".reason"), 3);	/* again: own offset */
	close(fd);
	ck_assert_int_eq(fsutil_count_dir(tfd, "none", NULL), -1);
	ck_assert_int_eq(errno, ENOENT);
}
END_TEST

/* mkdir_p makes parents, accepts existing dirs, refuses a file in the way. */
START_TEST(test_mkdir_p)
{
	char p[PATH_MAX + 64], err[PATH_MAX + 256];
	struct stat st;
	FILE *f;

	snprintf(p, sizeof(p), "%s/x/y/z", tdir);
	ck_assert_int_eq(fsutil_mkdir_p(p, 0750, err, sizeof(err)), 0);
	ck_assert_int_eq(stat(p, &st), 0);
	ck_assert(S_ISDIR(st.st_mode));
	ck_assert_int_eq(fsutil_mkdir_p(p, 0750, err, sizeof(err)), 0);
	snprintf(p, sizeof(p), "%s/file", tdir);
	f = fopen(p, "w");
	ck_assert_ptr_nonnull(f);
	fclose(f);
	snprintf(p, sizeof(p), "%s/file/sub", tdir);
	ck_assert_int_eq(fsutil_mkdir_p(p, 0750, err, sizeof(err)), -1);
	ck_assert_int_eq(errno, ENOTDIR);
	ck_assert_ptr_nonnull(strstr(err, "/file"));
}
END_TEST

/* fsync_path reports the path on failure. */
START_TEST(test_fsync_path)
{
	char p[PATH_MAX + 64], err[PATH_MAX + 256];

	ck_assert_int_eq(fsutil_fsync_path(tdir, err, sizeof(err)), 0);
	ck_assert_int_eq(fsutil_fsync_dirfd(tfd, "label", err, sizeof(err)), 0);
	snprintf(p, sizeof(p), "%s/nope", tdir);
	ck_assert_int_eq(fsutil_fsync_path(p, err, sizeof(err)), -1);
	ck_assert_int_eq(errno, ENOENT);
	ck_assert_ptr_nonnull(strstr(err, p));
}
END_TEST

/* maildir_at makes tmp, new and cur with the mode asked (not the umask's);
 * run again it changes nothing; a wrong mode is fixed and counted. */
START_TEST(test_maildir_at)
{
	static const char *const subs[] = { "", "/tmp", "/new", "/cur" };
	char p[PATH_MAX + 64], s[PATH_MAX + 80], err[PATH_MAX + 256];
	struct fsutil_dir_count count = { 0, 0 };
	const struct fsutil_perm mbperm = { 02770, (gid_t)-1, false };
	mode_t old = umask(027);
	struct stat st;

	snprintf(p, sizeof(p), "%s/mailboxes", tdir);
	ck_assert_int_eq(mkdir(p, 0750), 0);
	int root = open(p, O_RDONLY | O_DIRECTORY);
	ck_assert_int_ge(root, 0);
	ck_assert_int_eq(fsutil_maildir_at(root, "alice", &mbperm, &count,
	    err, sizeof(err)), 0);
	ck_assert_uint_eq(count.created, 4);
	ck_assert_uint_eq(count.fixed, 0);
	for (size_t i = 0; i < 4; i++) {
		snprintf(s, sizeof(s), "%s/alice%s", p, subs[i]);
		ck_assert_int_eq(lstat(s, &st), 0);
		ck_assert(S_ISDIR(st.st_mode));
		ck_assert_uint_eq(st.st_mode & 07777, 02770);
	}
	ck_assert_int_eq(fsutil_maildir_at(root, "alice", &mbperm, &count,
	    err, sizeof(err)), 0);
	ck_assert_uint_eq(count.created + count.fixed, 4);
	snprintf(s, sizeof(s), "%s/alice/cur", p);
	ck_assert_int_eq(chmod(s, 0755), 0);
	ck_assert_int_eq(fsutil_maildir_at(root, "alice", &mbperm, &count,
	    err, sizeof(err)), 0);
	ck_assert_uint_eq(count.fixed, 1);
	ck_assert_int_eq(lstat(s, &st), 0);
	ck_assert_uint_eq(st.st_mode & 07777, 02770);
	close(root);
	umask(old);
}
END_TEST

/* dir_at never follows a symlink, nor changes what it points to. */
START_TEST(test_dir_at_symlink)
{
	char p[PATH_MAX + 64], t[PATH_MAX + 64], err[PATH_MAX + 256];
	enum fsutil_dir_done done;
	struct stat st;
	int dfd = open(tdir, O_RDONLY | O_DIRECTORY);

	snprintf(t, sizeof(t), "%s/elsewhere", tdir);
	ck_assert_int_eq(mkdir(t, 0700), 0);
	snprintf(p, sizeof(p), "%s/new", tdir);
	ck_assert_int_eq(symlink("elsewhere", p), 0);
	ck_assert_int_eq(fsutil_dir_at(dfd, "new", &(struct fsutil_perm){ 02770, (gid_t)-1, false },
	    &done, err, sizeof(err)), -1);
	ck_assert_int_eq(errno, ENOTDIR);
	ck_assert_ptr_nonnull(strstr(err, "symlink"));
	ck_assert_int_eq(stat(t, &st), 0);
	ck_assert_uint_eq(st.st_mode & 07777, 0700);
	snprintf(p, sizeof(p), "%s/fifo", tdir);
	ck_assert_int_eq(mkfifo(p, 0600), 0);
	ck_assert_int_eq(fsutil_dir_at(dfd, "fifo", &(struct fsutil_perm){ 0700, (gid_t)-1, false },
	    &done, err, sizeof(err)), -1);
	ck_assert_int_eq(errno, ENOTDIR);
	close(dfd);
}
END_TEST

/* write_new_perm gives the file the mode asked, past the umask. */
START_TEST(test_write_new_perm_mode)
{
	char err[PATH_MAX + 256];
	struct iovec iov = { (void *)"x\n", 2 };
	struct fsutil_perm perm = { 0660, (gid_t)-1, true };
	mode_t old = umask(027);
	struct stat st;

	ck_assert_int_eq(fsutil_write_new(tfd, "m", &(struct fsutil_new){ &iov, 1, false, &perm },
	    err,
	    sizeof(err)), 0);
	ck_assert_int_eq(fstatat(tfd, "m", &st, 0), 0);
	ck_assert_uint_eq(st.st_mode & 07777, 0660);
	ck_assert_uint_eq((uintmax_t)st.st_size, 2);
	umask(old);
}
END_TEST

/* The name has the Maildir shape, size and escaped host. */
START_TEST(test_maildir_name_format)
{
	char buf[256], want[64];
	size_t n;

	n = fsutil_maildir_name(buf, sizeof(buf), "gw/in:1", 1234);
	ck_assert_uint_eq(n, strlen(buf));
	ck_assert_ptr_nonnull(strstr(buf, ".gw\\057in\\0721,S=1234"));
	snprintf(want, sizeof(want), "P%ldQ", (long)getpid());
	ck_assert_ptr_nonnull(strstr(buf, want));
	ck_assert_ptr_nonnull(strstr(buf, ".M"));
	ck_assert_ptr_null(strchr(buf, '/'));
	ck_assert_ptr_null(strchr(buf, ':'));
	/* the default host is used when none is given */
	ck_assert_uint_gt(fsutil_maildir_name(buf, sizeof(buf), NULL, 0), 0);
	ck_assert_ptr_nonnull(strstr(buf, ",S=0"));
}
END_TEST

#define NAME_THREADS	4
#define NAME_PER_THREAD	10000
static char (*names)[128];

/* Thread body: fill its share of names[]. */
static void *
name_worker(void *arg)
{
	size_t base = (size_t)(uintptr_t)arg * NAME_PER_THREAD, i;

	for (i = 0; i < NAME_PER_THREAD; i++)
		fsutil_maildir_name(names[base + i], sizeof(names[0]), "host", 1);
	return NULL;
}

static int
cmp_names(const void *a, const void *b)
{
	return strcmp(a, b);
}

/* 40,000 names from 4 threads are all different. */
START_TEST(test_maildir_name_unique_threads)
{
	pthread_t th[NAME_THREADS];
	size_t i, total = NAME_THREADS * NAME_PER_THREAD;

	names = calloc(total, sizeof(names[0]));
	ck_assert_ptr_nonnull(names);
	for (i = 0; i < NAME_THREADS; i++)
		ck_assert_int_eq(pthread_create(&th[i], NULL, name_worker,
		    (void *)(uintptr_t)i), 0);
	for (i = 0; i < NAME_THREADS; i++)
		pthread_join(th[i], NULL);
	qsort(names, total, sizeof(names[0]), cmp_names);
	for (i = 1; i < total; i++)
		ck_assert_msg(strcmp(names[i - 1], names[i]) != 0, "duplicate %s",
		    names[i]);
	free(names);
}
END_TEST

Suite *
unit_suite(void)
{
	Suite *s = suite_create("fsutil");
	TCase *tc = tcase_create("files");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_write_new_roundtrip);
	tcase_add_test(tc, test_write_new_exclusive);
	tcase_add_test(tc, test_write_new_partial_failure);
	tcase_add_test(tc, test_write_atomic_roundtrip);
	tcase_add_test(tc, test_write_atomic_failure_keeps_old);
	tcase_add_test(tc, test_write_atomic_rename_failure);
	tcase_add_test(tc, test_read_file_limits);
	tcase_add_test(tc, test_read_fd_pieces);
	tcase_add_test(tc, test_pread_full);
	tcase_add_test(tc, test_open_dir);
	tcase_add_test(tc, test_count_dir);
	tcase_add_test(tc, test_mkdir_p);
	tcase_add_test(tc, test_fsync_path);
	tcase_add_test(tc, test_maildir_at);
	tcase_add_test(tc, test_dir_at_symlink);
	tcase_add_test(tc, test_write_new_perm_mode);
	tcase_add_test(tc, test_maildir_name_format);
	tcase_add_test(tc, test_maildir_name_unique_threads);
	tcase_set_timeout(tc, 60);
	suite_add_tcase(s, tc);
	return s;
}
