/*
 * check_main: what every unit test program shares.  A test file includes
 * this header, defines unit_suite() (and, when it takes arguments,
 * unit_args()); check_main.c holds the one main() that runs the suite in
 * UTC and exits 0 only when every check passed.  Also the scratch
 * directory of the tests that need files: testdir_make / testdir_remove.
 */
#ifndef SMTPGATE_CHECK_MAIN_H
#define SMTPGATE_CHECK_MAIN_H

#include <check.h>
#include <stddef.h>

/* The suite of this test program (defined by each test file). */
Suite *unit_suite(void);

/* Optional (weak): sees the program's arguments before the suite runs. */
void unit_args(int argc, char **argv) __attribute__((weak));

/* Make a fresh scratch directory (mkdtemp under $TMPDIR, else /tmp); its
 * path goes into buf.  Aborts when it cannot (a test cannot go on). */
void testdir_make(char *buf, size_t bufsz);

/* Remove path and everything below it, following no symlink; 0, or -1
 * when something could not be removed. */
int testdir_remove(const char *path);

#endif
