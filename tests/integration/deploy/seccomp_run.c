/*
 * seccomp_run: run a program under the seccomp filters a unit's sandbox
 * settings make systemd install, where PID 1 is not systemd (the tests).
 *
 *   seccomp_run -f LIST [-e] [-m] [-n] [-p] [-r] [-a FAMILIES] -- PROGRAM [ARG...]
 *
 * -f LIST      syscall names, whitespace separated ('#' starts a comment):
 *              the allow-list, i.e. the unit's SystemCallFilter= expanded
 *              by the test.  Names this architecture does not have are
 *              skipped, as systemd skips them.
 * -e           a syscall outside the list fails with EPERM (the unit's
 *              SystemCallErrorNumber=EPERM); without -e the process is
 *              killed with SIGSYS, so a miss cannot go unnoticed.
 * -m           MemoryDenyWriteExecute=yes, by the rules systemd 252 loads:
 *              mmap with PROT_WRITE|PROT_EXEC, mprotect and pkey_mprotect
 *              with PROT_EXEC, shmat with SHM_EXEC fail with EPERM.
 * -a FAMILIES  RestrictAddressFamilies=, e.g. "unix,inet,inet6": socket(2)
 *              of any other family fails with EAFNOSUPPORT.
 * -n           RestrictNamespaces=yes: setns fails, unshare and clone with a
 *              CLONE_NEW* flag fail with EPERM, clone3 with ENOSYS (its flags
 *              cannot be seen; glibc falls back to clone), as systemd 252.
 * -p           LockPersonality=yes: personality(2) other than PER_LINUX fails.
 * -r           RestrictRealtime=yes: sched_setscheduler to a policy other
 *              than SCHED_OTHER, SCHED_BATCH or SCHED_IDLE fails with EPERM.
 *
 * Sets no_new_privs (NoNewPrivileges=yes, and what lets an unprivileged
 * process load a filter), loads the filters, then execs PROGRAM.  Only
 * foreign architectures are refused outright (SystemCallArchitectures=
 * native).  A test helper, never installed.
 */
#include <errno.h>
#include <sched.h>
#include <seccomp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/shm.h>
#include <sys/socket.h>
#include <unistd.h>

#define SR_MAX_FAMILIES	64


/* Print a failure with what failed and exit 70 (EX_SOFTWARE). */
static void
sr_die(const char *what, int err)
{
	fprintf(stderr, "seccomp_run: %s: %s\n", what, strerror(err));
	exit(70);
}

/* Add rule: action when syscall name's argument arg has all of bits set. */
static void
sr_rule_bits(scmp_filter_ctx ctx, uint32_t action, const char *name, unsigned arg,
    scmp_datum_t bits)
{
	int nr = seccomp_syscall_resolve_name(name);
	int rc;

	if (nr < 0)
		return;
	rc = seccomp_rule_add(ctx, action, nr, 1, SCMP_CMP(arg, SCMP_CMP_MASKED_EQ, bits, bits));
	if (rc != 0)
		sr_die(name, -rc);
}

/* Load the filter ctx and free it; what names it in errors. */
static void
sr_load(scmp_filter_ctx ctx, const char *what)
{
	int rc;

	if ((rc = seccomp_load(ctx)) != 0)
		sr_die(what, -rc);
	seccomp_release(ctx);
}

/* Allow every syscall named in the file at path; returns how many. */
static int
sr_allow_file(scmp_filter_ctx ctx, const char *path)
{
	char tok[128], line[4096];
	FILE *f = fopen(path, "r");
	int n = 0;

	if (f == NULL)
		sr_die(path, errno);
	while (fgets(line, sizeof(line), f) != NULL) {
		char *p = line, *hash = strchr(line, '#');
		int used;

		if (hash != NULL)
			*hash = '\0';
		while (sscanf(p, "%127s%n", tok, &used) == 1) {
			int nr = seccomp_syscall_resolve_name(tok);
			int rc;

			p += used;
			if (nr < 0)	/* not on this architecture */
				continue;
			if ((rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 0)) != 0)
				sr_die(tok, -rc);
			n++;
		}
	}
	if (ferror(f))
		sr_die(path, errno);
	fclose(f);
	return n;
}

/* The MemoryDenyWriteExecute= filter (default: allow). */
static void
sr_load_mdwe(void)
{
	scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);
	const uint32_t no = SCMP_ACT_ERRNO(EPERM);

	if (ctx == NULL)
		sr_die("seccomp_init", ENOMEM);
	sr_rule_bits(ctx, no, "mmap", 2, PROT_WRITE | PROT_EXEC);
	sr_rule_bits(ctx, no, "mmap2", 2, PROT_WRITE | PROT_EXEC);
	sr_rule_bits(ctx, no, "mprotect", 2, PROT_EXEC);
	sr_rule_bits(ctx, no, "pkey_mprotect", 2, PROT_EXEC);
	sr_rule_bits(ctx, no, "shmat", 2, SHM_EXEC);
	sr_load(ctx, "seccomp_load (memory deny write execute)");
}

/* The family number of a RestrictAddressFamilies= name, or -1. */
static int
sr_family(const char *name)
{
	if (strcmp(name, "unix") == 0)
		return AF_UNIX;
	if (strcmp(name, "inet") == 0)
		return AF_INET;
	if (strcmp(name, "inet6") == 0)
		return AF_INET6;
	if (strcmp(name, "netlink") == 0)
		return AF_NETLINK;
	return -1;
}

/* The RestrictAddressFamilies= filter for the comma list spec. */
static void
sr_load_families(const char *spec)
{
	int allowed[SR_MAX_FAMILIES] = { 0 };
	char buf[256], *save = NULL;
	scmp_filter_ctx ctx;
	int rc;

	snprintf(buf, sizeof(buf), "%s", spec);
	for (char *t = strtok_r(buf, ",", &save); t != NULL; t = strtok_r(NULL, ",", &save)) {
		int fam = sr_family(t);

		if (fam < 0) {
			fprintf(stderr, "seccomp_run: unknown address family %s\n", t);
			exit(64);
		}
		allowed[fam] = 1;
	}
	if ((ctx = seccomp_init(SCMP_ACT_ALLOW)) == NULL)
		sr_die("seccomp_init", ENOMEM);
	for (int fam = 0; fam < SR_MAX_FAMILIES; fam++) {
		if (allowed[fam])
			continue;
		rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EAFNOSUPPORT), SCMP_SYS(socket), 1,
		    SCMP_A0(SCMP_CMP_EQ, (scmp_datum_t)fam, 0));
		if (rc != 0)
			sr_die("seccomp_rule_add socket", -rc);
	}
	rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EAFNOSUPPORT), SCMP_SYS(socket), 1,
	    SCMP_A0(SCMP_CMP_GE, (scmp_datum_t)SR_MAX_FAMILIES, 0));
	if (rc != 0)
		sr_die("seccomp_rule_add socket", -rc);
	sr_load(ctx, "seccomp_load (address families)");
}

/* The RestrictNamespaces=yes, LockPersonality=yes and RestrictRealtime=yes
 * filters (each asked for), in one default-allow filter. */
static void
sr_load_restrict(int namespaces, int personality, int realtime)
{
	static const unsigned long ns_flags[] = { CLONE_NEWNS, CLONE_NEWCGROUP, CLONE_NEWUTS,
	    CLONE_NEWIPC, CLONE_NEWUSER, CLONE_NEWPID, CLONE_NEWNET };
	scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);
	int rc = 0;

	if (ctx == NULL)
		sr_die("seccomp_init", ENOMEM);
	if (namespaces) {
		rc |= seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(setns), 0);
		rc |= seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(clone3), 0);
		for (size_t i = 0; i < sizeof(ns_flags) / sizeof(ns_flags[0]); i++) {
			sr_rule_bits(ctx, SCMP_ACT_ERRNO(EPERM), "unshare", 0, ns_flags[i]);
			sr_rule_bits(ctx, SCMP_ACT_ERRNO(EPERM), "clone", 0, ns_flags[i]);
		}
	}
	if (personality)
		rc |= seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(personality), 1,
		    SCMP_A0(SCMP_CMP_NE, 0, 0));	/* PER_LINUX */
	if (realtime) {
		rc |= seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(sched_setscheduler), 1,
		    SCMP_A1(SCMP_CMP_EQ, SCHED_FIFO, 0));
		rc |= seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(sched_setscheduler), 1,
		    SCMP_A1(SCMP_CMP_EQ, SCHED_RR, 0));
		rc |= seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(sched_setscheduler), 1,
		    SCMP_A1(SCMP_CMP_EQ, 4, 0));	/* unused policy number */
		rc |= seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(sched_setscheduler), 1,
		    SCMP_A1(SCMP_CMP_GT, SCHED_IDLE, 0));	/* SCHED_DEADLINE, RESET_ON_FORK */
	}
	if (rc != 0)
		sr_die("seccomp_rule_add (restrictions)", EINVAL);
	sr_load(ctx, "seccomp_load (restrictions)");
}

/* The SystemCallFilter= allow-list filter from the file at path. */
static void
sr_load_allow(const char *path, int use_errno)
{
	scmp_filter_ctx ctx;

	ctx = seccomp_init(use_errno ? SCMP_ACT_ERRNO(EPERM) : SCMP_ACT_KILL_PROCESS);
	if (ctx == NULL)
		sr_die("seccomp_init", ENOMEM);
	if (sr_allow_file(ctx, path) == 0) {
		fprintf(stderr, "seccomp_run: %s names no syscall\n", path);
		exit(64);
	}
	sr_load(ctx, "seccomp_load (allow-list)");
}

int
main(int argc, char **argv)
{
	const char *list = NULL, *families = NULL;
	int use_errno = 0, mdwe = 0, ns = 0, pers = 0, rt = 0, c;

	while ((c = getopt(argc, argv, "+f:ema:npr")) != -1) {
		switch (c) {
		case 'f': list = optarg; break;
		case 'e': use_errno = 1; break;
		case 'm': mdwe = 1; break;
		case 'a': families = optarg; break;
		case 'n': ns = 1; break;
		case 'p': pers = 1; break;
		case 'r': rt = 1; break;
		default: goto usage;
		}
	}
	if (list == NULL || optind >= argc)
		goto usage;
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
		sr_die("prctl PR_SET_NO_NEW_PRIVS", errno);
	if (mdwe)
		sr_load_mdwe();
	if (families != NULL)
		sr_load_families(families);
	if (ns || pers || rt)
		sr_load_restrict(ns, pers, rt);
	sr_load_allow(list, use_errno);	/* last: the others' syscalls are in it */
	execv(argv[optind], argv + optind);
	sr_die(argv[optind], errno);
usage:
	fprintf(stderr, "usage: seccomp_run -f LIST [-e] [-m] [-n] [-p] [-r] [-a FAMILIES] "
	    "-- PROGRAM [ARG...]\n");
	return 64;
}
