/*
 * smtpgate-check FILE...: validate gateway configurations together
 * (SPEC.md "The dedicated topology", rules 5 and 6).
 *
 * Each file is loaded with the role it configures and given the start-time
 * checks its daemon runs (preflight.c: TLS files, the spool without taking
 * its lock, as this runs as ExecStartPre maybe while the daemon runs, its
 * owner and that it can be written); then every pair must have isolated
 * spools, and no address or catch-all domain may be claimed by two inbound
 * configs.  Warnings ("warning: FILE:LINE: key: reason") do not change the
 * exit code: 0 when all is valid and isolated, 78 for a config refused, the
 * daemon's own code for a spool refused (73, 77), 64 on usage errors.
 * It knows nothing about SMTP; it only reads configs and inspects spools.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>

#include "config.h"
#include "preflight.h"
#include "spool.h"
#include "util.h"

/* One file named on the command line. */
struct check_file {
	const char *file;
	enum config_role role;
	struct inbound_config *in;	/* when role is inbound and it loaded */
	struct outbound_config *out;	/* when role is outbound and it loaded */
	const char *spool;		/* NULL when the file did not load */
};

/* Print usage to f; return EX_USAGE. */
static int
check_usage(FILE *f)
{
	fprintf(f, "usage: smtpgate-check FILE... | -V | --version | -h | --help\n"
	    "  check each configuration file (inbound or outbound) and its spool;\n"
	    "  exit 0 when all are valid, 78 otherwise\n");
	return EX_USAGE;
}

/* The spool role matching a config role. */
static enum spool_role
check_spool_role(enum config_role role)
{
	return role == CONFIG_INBOUND ? SPOOL_ROLE_INBOUND : SPOOL_ROLE_OUTBOUND;
}

/* Load f->file with its detected role and run the start-time checks its
 * daemon runs (preflight.h): warnings and the refusal go to stderr, the
 * verdict line to stdout; the exit code. */
static int
check_file(struct check_file *f)
{
	struct preflight pf;
	enum spool_role role;
	char err[1024];
	int rc;

	if (config_detect_role(f->file, &f->role, err, sizeof(err)) != 0) {
		fprintf(stderr, "%s\n", err);
		return EX_CONFIG;
	}
	rc = preflight_file(f->file, f->role, stderr, &pf, &f->in, &f->out);
	if (f->in == NULL && f->out == NULL)
		return rc;
	f->spool = f->in != NULL ? f->in->spool : f->out->spool;
	if (rc != EX_OK)
		return rc;
	role = check_spool_role(f->role);
	if (pf.holder[0] != '\0')
		printf("%s: ok (%s, spool %s; in use by %s)\n", f->file,
		    spool_role_name(role), f->spool, pf.holder);
	else
		printf("%s: ok (%s, spool %s)\n", f->file, spool_role_name(role), f->spool);
	return EX_OK;
}

/* Rule 5: every pair of loaded configs has isolated spools. */
static int
check_spool_pairs(const struct check_file *files, int n)
{
	char why[1024];
	int rc = EX_OK;

	for (int i = 0; i < n; i++) {
		for (int j = i + 1; j < n; j++) {
			const struct check_file *a = &files[i], *b = &files[j];

			if (a->spool == NULL || b->spool == NULL)
				continue;
			why[0] = '\0';
			if (spool_paths_conflict(a->spool, b->spool, why, sizeof(why)) == 0)
				continue;
			fprintf(stderr, "smtpgate-check: %s (spool %s) and %s (spool %s) "
			    "share a spool: %s; every gateway needs its own spool "
			    "(dedicated topology rule 5)\n", a->file, a->spool,
			    b->file, b->spool, why[0] != '\0' ? why : "conflict");
			rc = EX_CONFIG;
		}
	}
	return rc;
}

/* Find addr among b's mailboxes; the mailbox name or NULL. */
static const char *
check_find_address(const struct inbound_config *b, const char *addr)
{
	for (size_t i = 0; i < b->nmailboxes; i++)
		for (size_t j = 0; j < b->mailboxes[i].naddresses; j++)
			if (strcmp(b->mailboxes[i].addresses[j], addr) == 0)
				return b->mailboxes[i].name;
	return NULL;
}

/* Rule 6 for one pair: no address of a is claimed by b. */
static int
check_claims_pair(const struct check_file *a, const struct check_file *b)
{
	int rc = EX_OK;

	for (size_t i = 0; i < a->in->nmailboxes; i++) {
		const struct inbound_mailbox *m = &a->in->mailboxes[i];

		for (size_t j = 0; j < m->naddresses; j++) {
			const char *addr = m->addresses[j];
			const char *other = check_find_address(b->in, addr);

			if (other == NULL)
				continue;
			fprintf(stderr, "smtpgate-check: %s %s is claimed by both %s "
			    "(mailbox \"%s\") and %s (mailbox \"%s\"); each address "
			    "and catch-all domain belongs to one inbound gateway "
			    "(dedicated topology rule 6)\n",
			    addr[0] == '@' ? "catch-all domain" : "address", addr,
			    a->file, m->name, b->file, other);
			rc = EX_CONFIG;
		}
	}
	return rc;
}

/* Rule 6: no address or catch-all domain in two inbound configs. */
static int
check_claims(const struct check_file *files, int n)
{
	int rc = EX_OK;

	for (int i = 0; i < n; i++)
		for (int j = i + 1; j < n; j++)
			if (files[i].in != NULL && files[j].in != NULL &&
			    check_claims_pair(&files[i], &files[j]) != EX_OK)
				rc = EX_CONFIG;
	return rc;
}

/* Fold a result into the overall exit code: EX_CONFIG wins, then the first. */
static int
check_merge(int sofar, int rc)
{
	if (sofar == EX_CONFIG || rc == EX_OK)
		return sofar;
	if (rc == EX_CONFIG || sofar == EX_OK)
		return rc;
	return sofar;
}

/* Check every file, then every pair; returns the exit code. */
static int
check_all(struct check_file *files, int n)
{
	int rc = EX_OK;

	for (int i = 0; i < n; i++) {
		rc = check_merge(rc, check_file(&files[i]));
	}
	rc = check_merge(rc, check_spool_pairs(files, n));
	rc = check_merge(rc, check_claims(files, n));
	return rc;
}

/* Entry point: smtpgate-check [-V] FILE... */
int
main(int argc, char *argv[])
{
	struct check_file *files;
	int ch, n, rc;

	log_init("smtpgate-check", LOG_TARGET_STDERR);
	for (int i = 1; i < argc && argv[i][0] == '-' && strcmp(argv[i], "--") != 0; i++) {
		if (strcmp(argv[i], "--version") == 0)
			argv[i] = (char *)"-V";
		else if (strcmp(argv[i], "--help") == 0)
			argv[i] = (char *)"-h";
	}
	while ((ch = getopt(argc, argv, "Vh")) != -1) {
		switch (ch) {
		case 'V':
			printf("smtpgate-check %s\n", SMTPGATE_VERSION);
			return EX_OK;
		case 'h':
			check_usage(stdout);
			return EX_OK;
		default:
			return check_usage(stderr);
		}
	}
	n = argc - optind;
	if (n < 1)
		return check_usage(stderr);
	files = xcalloc((size_t)n, sizeof(*files));
	for (int i = 0; i < n; i++)
		files[i].file = argv[optind + i];
	rc = check_all(files, n);
	for (int i = 0; i < n; i++) {
		config_free_inbound(files[i].in);
		config_free_outbound(files[i].out);
	}
	free(files);
	fflush(stdout);
	return rc;
}
