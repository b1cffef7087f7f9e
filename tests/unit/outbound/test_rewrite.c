/*
 * Unit tests for outbound/rewrite.c: which addresses are local; the
 * sender decision (masquerading any source, sender_address for maildrop/
 * only, <> never); whole messages: cron mail to root goes to the admin
 * with X-Original-To:, mixed recipients keep the others and get no
 * X-Original-To:, duplicates collapse, From:/Sender: change where the
 * address is written (display names, comments, folding kept), Reply-To:
 * added only when absent and not local, an unparsable From: is left
 * alone, and nothing changes without a policy's settings.
 */
#include <check.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check_main.h"
#include "config.h"
#include "queue.h"
#include "rewrite.h"

#define HOST "gw-out.test"

/* A policy from these settings ("" = unset). */
static struct rewrite_policy *
policy(const char *admin, const char *sdomain, const char *saddr, const char *mailname)
{
	static char local0[] = "internal.example";
	static char *locals[] = { local0 };
	struct outbound_config c;

	memset(&c, 0, sizeof(c));
	c.hostname = (char[]){ HOST };
	c.admin_address = (char *)admin;
	c.sender_domain = (char *)sdomain;
	c.sender_address = (char *)saddr;
	c.mailname = mailname[0] != '\0' ? (char *)mailname : NULL;
	c.local_domains = locals;
	c.nlocal_domains = 1;
	return rewrite_policy_new(&c);
}

START_TEST(local_addresses)
{
	struct rewrite_policy *p = policy("", "", "", "mail.example");

	ck_assert(rewrite_is_local(p, "root@gw-out.test"));
	ck_assert(rewrite_is_local(p, "root@GW-OUT.test"));
	ck_assert(rewrite_is_local(p, "a@localhost"));
	ck_assert(rewrite_is_local(p, "a@mail.example"));
	ck_assert(rewrite_is_local(p, "a@internal.example"));
	ck_assert(rewrite_is_local(p, "root"));
	ck_assert(!rewrite_is_local(p, "a@example.org"));
	ck_assert(!rewrite_is_local(p, "a@sub.gw-out.test"));
	ck_assert(!rewrite_is_local(p, ""));
	rewrite_policy_free(p);
}
END_TEST

/* Notices to a local sender go to the admin, others to the sender. */
START_TEST(notice_recipient)
{
	static char local0[] = "internal.example";
	static char *locals[] = { local0 };
	struct outbound_config c;

	memset(&c, 0, sizeof(c));
	c.hostname = (char[]){ HOST };
	c.admin_address = (char[]){ "ops@example.org" };
	c.local_domains = locals;
	c.nlocal_domains = 1;
	ck_assert_str_eq(rewrite_notice_recipient(&c, "root@gw-out.test"), "ops@example.org");
	ck_assert_str_eq(rewrite_notice_recipient(&c, "a@Internal.Example"), "ops@example.org");
	ck_assert_str_eq(rewrite_notice_recipient(&c, "a@example.net"), "a@example.net");
	ck_assert_str_eq(rewrite_notice_recipient(&c, ""), "");
	c.admin_address = (char[]){ "" };
	ck_assert_str_eq(rewrite_notice_recipient(&c, "root@gw-out.test"), "root@gw-out.test");
}
END_TEST

static const struct {
	const char *sdomain, *saddr, *mailname;
	bool untrusted;
	const char *addr;
	const char *want;	/* NULL: unchanged */
} senders[] = {
	{ "example.org", "", "", false, "root@gw-out.test", "root@example.org" },
	{ "example.org", "", "", true, "alice@localhost", "alice@example.org" },
	{ "example.org", "", "", true, "alice@elsewhere.example", NULL },
	{ "example.org", "", "", true, "alice@example.org", NULL },
	{ "", "", "mail.example", true, "alice@gw-out.test", "alice@mail.example" },
	{ "", "", "mail.example", true, "alice@mail.example", NULL },
	{ "", "", "", true, "alice@gw-out.test", NULL },
	{ "", "noreply@example.org", "", true, "alice@elsewhere.example", "noreply@example.org" },
	{ "", "noreply@example.org", "", true, "NoReply@example.org", NULL },
	{ "", "noreply@example.org", "", false, "alice@elsewhere.example", NULL },
	{ "example.org", "noreply@example.org", "", false, "app@gw-out.test", "app@example.org" },
	{ "example.org", "noreply@example.org", "", true, "", NULL },
	{ "example.org", "", "", false, "", NULL },
	{ "example.org", "", "", false, "\"a b\"@gw-out.test", "\"a b\"@example.org" },
};

START_TEST(sender_table)
{
	struct rewrite_policy *p = policy("", senders[_i].sdomain, senders[_i].saddr,
	    senders[_i].mailname);
	char *got = rewrite_sender(p, senders[_i].untrusted, senders[_i].addr);

	if (senders[_i].want == NULL)
		ck_assert_msg(got == NULL, "case %d: %s", _i, got);
	else {
		ck_assert_ptr_nonnull(got);
		ck_assert_str_eq(got, senders[_i].want);
	}
	free(got);
	rewrite_policy_free(p);
}
END_TEST

/* An entry with this sender and recipients. */
static void
entry(struct queue_entry *e, const char *sender, const char *const *rcpts)
{
	size_t n = 0;

	memset(e, 0, sizeof(*e));
	while (rcpts[n] != NULL)
		n++;
	e->sender = strdup(sender);
	e->rcpts = calloc(n, sizeof(*e->rcpts));
	e->nrcpts = n;
	for (n = 0; n < e->nrcpts; n++)
		e->rcpts[n].addr = strdup(rcpts[n]);
}

/* Run rewrite_message on a copy of text; the result (malloc'd). */
static char *
run(const struct rewrite_policy *p, bool untrusted, struct queue_entry *e, const char *text,
    struct rewrite_changes *ch)
{
	size_t len = strlen(text);
	char *m = malloc(len + 1);

	memcpy(m, text, len + 1);
	rewrite_message(p, untrusted, e, &m, &len, ch);
	m = realloc(m, len + 1);
	m[len] = '\0';
	return m;
}

#define BODY "\r\nbody line\r\n"

START_TEST(cron_to_root)
{
	static const char *const rcpts[] = { "root@gw-out.test", "postmaster@localhost", NULL };
	struct rewrite_policy *p = policy("ops@example.org", "example.org", "", "");
	struct rewrite_changes ch = { NULL, 0 };
	struct queue_entry e;
	char *m;

	entry(&e, "root@gw-out.test", rcpts);
	m = run(p, true, &e, "From: Cron Daemon <root@gw-out.test>\r\nTo: root\r\n"
	    "Subject: cron\r\n" BODY, &ch);
	ck_assert_uint_eq(e.nrcpts, 1);
	ck_assert_str_eq(e.rcpts[0].addr, "ops@example.org");
	ck_assert_str_eq(e.sender, "root@example.org");
	ck_assert_str_eq(m, "From: Cron Daemon <root@example.org>\r\nTo: root\r\n"
	    "Subject: cron\r\nX-Original-To: root@gw-out.test, postmaster@localhost\r\n" BODY);
	ck_assert_uint_eq(ch.n, 4);	/* two rcpt, the sender, From: */
	ck_assert_str_eq(ch.v[0].what, "rcpt");
	ck_assert_str_eq(ch.v[0].from, "root@gw-out.test");
	ck_assert_str_eq(ch.v[0].to, "ops@example.org");
	rewrite_changes_free(&ch);
	queue_entry_free(&e);
	free(m);
	rewrite_policy_free(p);
}
END_TEST

/* Others keep their address and see no X-Original-To:; duplicates go. */
START_TEST(mixed_recipients)
{
	static const char *const rcpts[] = { "alice@example.net", "root@gw-out.test",
	    "ops@example.org", "daemon@GW-OUT.TEST", NULL };
	struct rewrite_policy *p = policy("ops@example.org", "", "", "");
	struct rewrite_changes ch = { NULL, 0 };
	struct queue_entry e;
	const char *text = "From: <x@example.net>\r\nTo: alice@example.net\r\n" BODY;
	char *m;

	entry(&e, "x@example.net", rcpts);
	m = run(p, true, &e, text, &ch);
	ck_assert_uint_eq(e.nrcpts, 2);
	ck_assert_str_eq(e.rcpts[0].addr, "alice@example.net");
	ck_assert_str_eq(e.rcpts[1].addr, "ops@example.org");
	ck_assert_str_eq(e.sender, "x@example.net");
	ck_assert_str_eq(m, text);
	ck_assert_uint_eq(ch.n, 2);
	rewrite_changes_free(&ch);
	queue_entry_free(&e);
	free(m);
	rewrite_policy_free(p);
}
END_TEST

/* sender_address: envelope and From: for maildrop/; Reply-To: added when
 * absent and not local; Sender: masqueraded only. */
START_TEST(sender_address_maildrop)
{
	static const char *const rcpts[] = { "bob@example.net", NULL };
	struct rewrite_policy *p = policy("", "example.org", "noreply@example.org", "");
	struct rewrite_changes ch = { NULL, 0 };
	struct queue_entry e;
	char *m;

	entry(&e, "alice@gw-out.test", rcpts);
	m = run(p, true, &e, "From: \"Alice (ops)\" <alice@gw-out.test> (comment)\r\n"
	    "Sender: alice@gw-out.test\r\nTo: bob@example.net\r\n" BODY, &ch);
	ck_assert_str_eq(e.sender, "noreply@example.org");
	ck_assert_str_eq(m, "From: \"Alice (ops)\" <noreply@example.org> (comment)\r\n"
	    "Sender: alice@example.org\r\nTo: bob@example.net\r\n"
	    "Reply-To: <alice@example.org>\r\n" BODY);
	rewrite_changes_free(&ch);
	queue_entry_free(&e);
	free(m);
	/* a Reply-To: already there is kept, none added */
	entry(&e, "alice@gw-out.test", rcpts);
	m = run(p, true, &e, "Reply-To: team@example.org\r\nFrom: alice@gw-out.test\r\n" BODY,
	    &ch);
	ck_assert_str_eq(m, "Reply-To: team@example.org\r\nFrom: noreply@example.org\r\n" BODY);
	rewrite_changes_free(&ch);
	queue_entry_free(&e);
	free(m);
	/* pickup/ (trusted): only local addresses are masqueraded */
	entry(&e, "app@gw-out.test", rcpts);
	m = run(p, false, &e, "From: App <app@gw-out.test>\r\n" BODY, &ch);
	ck_assert_str_eq(e.sender, "app@example.org");
	ck_assert_str_eq(m, "From: App <app@example.org>\r\n" BODY);
	rewrite_changes_free(&ch);
	queue_entry_free(&e);
	free(m);
	rewrite_policy_free(p);
}
END_TEST

/* Without a sender_domain, a local original From: gives no Reply-To:. */
START_TEST(no_local_reply_to)
{
	static const char *const rcpts[] = { "bob@example.net", NULL };
	struct rewrite_policy *p = policy("", "", "noreply@example.org", "");
	struct rewrite_changes ch = { NULL, 0 };
	struct queue_entry e;
	char *m;

	entry(&e, "alice@gw-out.test", rcpts);
	m = run(p, true, &e, "From: alice@gw-out.test\r\n" BODY, &ch);
	ck_assert_str_eq(m, "From: noreply@example.org\r\n" BODY);
	rewrite_changes_free(&ch);
	queue_entry_free(&e);
	free(m);
	/* a non-local original is kept for replies */
	entry(&e, "alice@home.example", rcpts);
	m = run(p, true, &e, "From: alice@home.example\r\n" BODY, &ch);
	ck_assert_str_eq(m, "From: noreply@example.org\r\nReply-To: <alice@home.example>\r\n"
	    BODY);
	rewrite_changes_free(&ch);
	queue_entry_free(&e);
	free(m);
	rewrite_policy_free(p);
}
END_TEST

/* Folded From: with two addresses; an unparsable one left alone; <> kept;
 * a policy without settings changes nothing. */
START_TEST(odd_headers)
{
	static const char *const rcpts[] = { "bob@example.net", NULL };
	struct rewrite_policy *p = policy("", "example.org", "", "");
	struct rewrite_policy *none = policy("", "", "", "");
	struct rewrite_changes ch = { NULL, 0 };
	struct queue_entry e;
	const char *bad = "From: <<broken@gw-out.test\r\n" BODY;
	const char *plain = "From: a@gw-out.test\r\nTo: root@gw-out.test\r\n" BODY;
	char *m;

	entry(&e, "", rcpts);
	m = run(p, false, &e, "From: a@gw-out.test,\r\n B <b@GW-OUT.test>\r\n" BODY, &ch);
	ck_assert_str_eq(e.sender, "");
	ck_assert_str_eq(m, "From: a@example.org,\r\n B <b@example.org>\r\n" BODY);
	rewrite_changes_free(&ch);
	free(m);
	m = run(p, false, &e, bad, &ch);
	ck_assert_str_eq(m, bad);
	ck_assert_uint_eq(ch.n, 0);
	free(m);
	queue_entry_free(&e);
	entry(&e, "a@gw-out.test", rcpts);
	m = run(none, true, &e, plain, &ch);
	ck_assert_str_eq(m, plain);
	ck_assert_str_eq(e.sender, "a@gw-out.test");
	ck_assert_uint_eq(ch.n, 0);
	free(m);
	queue_entry_free(&e);
	rewrite_policy_free(p);
	rewrite_policy_free(none);
}
END_TEST

Suite *
unit_suite(void)
{
	Suite *s = suite_create("rewrite");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, local_addresses);
	tcase_add_test(tc, notice_recipient);
	tcase_add_loop_test(tc, sender_table, 0, (int)(sizeof(senders) / sizeof(senders[0])));
	tcase_add_test(tc, cron_to_root);
	tcase_add_test(tc, mixed_recipients);
	tcase_add_test(tc, sender_address_maildrop);
	tcase_add_test(tc, no_local_reply_to);
	tcase_add_test(tc, odd_headers);
	suite_add_tcase(s, tc);
	return s;
}
