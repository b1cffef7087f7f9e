"""smtpgate-inbound: what a sending host expects of a receiving host (issue 19).

One test class per convention, each with the real daemon as the service
user and smtplib (or swaks) as the client: address extensions
(recipient_delimiter), postmaster (RFC 5321 4.5.1) and the start-up
refusal without one, quoted local parts, the per-mailbox size limit (452
4.2.2, a reader deleting mail makes room), the spool's free-space reserve
(452 4.3.1, on a small tmpfs) and the DATA line length bound.
"""

import email
import os
import shutil
import smtplib
import subprocess
import tempfile
import time
import unittest

import harness
from inbound_util import InboundCase, maildir_messages, message, new_count, wait_until

EX_CONFIG = 78
MAILBOXES = {"alice": ["alice@example.com"], "bob": ["bob@example.com", "alice+list@example.com"],
             "pm": ["postmaster@example.com"]}


def rcpt_reply(port, rcpt, size=None):
    """(code, text) of RCPT TO:<rcpt> in a fresh transaction (SIZE= when given)."""
    with smtplib.SMTP("127.0.0.1", port, timeout=10) as s:
        s.ehlo("client.test")
        code, text = s.mail("s@client.test", ["SIZE=%d" % size] if size else [])
        if code != 250:
            return code, text.decode()
        code, text = s.rcpt(rcpt)
        return code, text.decode()


def mail_reply(port, size=None):
    """(code, text) of MAIL FROM (with SIZE= when given)."""
    with smtplib.SMTP("127.0.0.1", port, timeout=10) as s:
        s.ehlo("client.test")
        code, text = s.mail("s@client.test", ["SIZE=%d" % size] if size else [])
        return code, text.decode()


def delivered_to(spool, name, want=0):
    """The Delivered-To values of every message in a mailbox's new/, once
    at least want are published there."""
    return [email.message_from_bytes(raw)["Delivered-To"]
            for _, raw in maildir_messages(spool, name, want)]


class DelimiterTest(InboundCase):
    """recipient_delimiter: user+tag goes to user's mailbox, exact first."""

    def test_extension_goes_to_the_base_mailbox(self):
        self.inbound(extra='recipient_delimiter = "+"', mailboxes=MAILBOXES)
        with smtplib.SMTP("127.0.0.1", self.port, timeout=10) as s:
            s.ehlo("client.test")
            refused = s.sendmail("s@client.test", ["alice+tag@example.com", "Alice+Other@Example.com",
                                                   "alice+list@example.com"], message())
            self.assertEqual(refused, {})
            with self.assertRaises(smtplib.SMTPRecipientsRefused) as cm:
                s.sendmail("s@client.test", ["carol+tag@example.com"], message())
            self.assertEqual(cm.exception.recipients["carol+tag@example.com"][0], 550)
        # one file for alice with both extended addresses kept whole; the
        # listed alice+list@ went to bob (the exact address wins)
        self.assertEqual(delivered_to(self.spool, "alice", 1), ["alice+tag@example.com"])
        raw = maildir_messages(self.spool, "alice")[0][1]
        self.assertIn(b"Delivered-To: Alice+Other@Example.com\n", raw)
        self.assertEqual(delivered_to(self.spool, "bob", 1), ["alice+list@example.com"])

    def test_off_by_default(self):
        self.inbound(mailboxes=MAILBOXES)
        code, text = rcpt_reply(self.port, "alice+tag@example.com")
        self.assertEqual(code, 550, text)

    def test_swaks(self):
        self.inbound(extra='recipient_delimiter = "+-"', mailboxes=MAILBOXES)
        r = harness.run(["swaks", "--server", "127.0.0.1", "--port", str(self.port),
                         "--from", "s@client.test", "--to", "alice-news@example.com",
                         "--helo", "client.test", "--body", "via swaks"])
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertEqual(delivered_to(self.spool, "alice", 1), ["alice-news@example.com"])


class PostmasterTest(InboundCase):
    """RCPT TO:<postmaster> (any case, no domain) and postmaster@ a served domain."""

    def test_bare_and_domain_postmaster(self):
        mbs = {"alice": ["alice@example.com"], "ops": ["ops@example.com"],
               "branch": ["@branch.example.org"]}
        self.inbound(extra='postmaster = "ops"', mailboxes=mbs)
        rcpts = ["postmaster", "PostMaster", "POSTMASTER@EXAMPLE.COM",
                 "postmaster@branch.example.org"]
        with smtplib.SMTP("127.0.0.1", self.port, timeout=10) as s:
            s.ehlo("client.test")
            for r in rcpts:
                self.assertEqual(s.sendmail("s@client.test", [r], message()), {}, r)
        self.assertEqual(rcpt_reply(self.port, "postmaster@unknown.test")[0], 550)
        self.assertEqual(new_count(self.spool, "ops", want=4), 4)
        self.assertEqual(sorted(delivered_to(self.spool, "ops")),
                         sorted(["postmaster", "postmaster", "POSTMASTER@EXAMPLE.COM",
                                 "postmaster@branch.example.org"]))
        self.assertEqual(new_count(self.spool, "branch"), 0)

    def test_default_is_the_first_domains_postmaster(self):
        self.inbound(mailboxes=MAILBOXES)	# pm holds postmaster@example.com
        with smtplib.SMTP("127.0.0.1", self.port, timeout=10) as s:
            s.ehlo("client.test")
            self.assertEqual(s.sendmail("s@client.test", ["Postmaster"], message()), {})
        self.assertEqual(delivered_to(self.spool, "pm", 1), ["postmaster"])

    def test_config_without_postmaster_is_refused(self):
        spool = self.path("in-spool")
        conf = self.write("inbound.conf",
                          'spool = "%s"\nlisten = {"127.0.0.1:%d"}\n'
                          '# only alice\n'
                          'mailbox "alice" { address = {"alice@example.com"} }\n'
                          % (spool, harness.free_port()))
        want = ("%s:4: postmaster: no mailbox receives postmaster@example.com "
                "(RFC 5321 4.5.1)" % conf)
        # -t, the daemon's start, and smtpgate-check all refuse it
        for argv in ([harness.binary("smtpgate-inbound"), "-t", "-c", conf],
                     [harness.binary("smtpgate-inbound"), "-f", "-c", conf],
                     [harness.binary("smtpgate-check"), conf]):
            r = harness.run_daemon_user(argv, timeout=20)
            self.assertEqual(r.returncode, EX_CONFIG, r.stdout + r.stderr)
            self.assertIn(want, r.stderr, argv)
        with open(conf) as f:
            text = f.read()
        self.write("inbound.conf", text + 'postmaster = "bob"\n')
        r = harness.run_daemon_user([harness.binary("smtpgate-inbound"), "-t", "-c", conf])
        self.assertEqual(r.returncode, EX_CONFIG)
        self.assertIn('%s:5: postmaster: no mailbox "bob" is configured' % conf, r.stderr)
        self.write("inbound.conf", text + 'postmaster = "alice"\n')
        os.makedirs(spool, exist_ok=True)
        os.chown(spool, harness.DAEMON_UID, harness.DAEMON_GID)
        r = harness.run_daemon_user([harness.binary("smtpgate-inbound"), "-t", "-c", conf])
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)


class QuotedLocalPartTest(InboundCase):
    """"demo"@example.com is demo@example.com; quotes that matter stay."""

    def test_quotes_that_change_nothing(self):
        self.inbound(mailboxes=MAILBOXES)
        with smtplib.SMTP("127.0.0.1", self.port, timeout=10) as s:
            s.ehlo("client.test")
            self.assertEqual(s.sendmail("s@client.test", ['"alice"@example.com'], message()), {})
            self.assertEqual(s.sendmail("s@client.test", ['"ALICE"@example.com'], message()), {})
            self.assertEqual(s.sendmail("s@client.test", ["ALICE@EXAMPLE.COM"], message()), {})
            s.mail("s@client.test")
            code, text = s.rcpt('"john doe"@example.com')
            self.assertEqual(code, 550, text)
            code, text = s.rcpt('"alice "@example.com')
            self.assertEqual(code, 550, text)
        # stored under the unquoted form; the case as the client wrote it
        self.assertEqual(sorted(delivered_to(self.spool, "alice", 3)),
                         ["ALICE@EXAMPLE.COM", "ALICE@example.com", "alice@example.com"])


class MailboxSizeLimitTest(InboundCase):
    """mailbox_size_limit: 452 4.2.2 for that recipient alone; a reader's
    deletion makes room."""

    LIMIT = 20000

    def test_full_mailbox_refuses_that_recipient_only(self):
        mport = harness.free_port()
        self.inbound(extra="mailbox_size_limit = %d\nmailbox_group = \"%d\"\n"
                     "metrics_listen = \"127.0.0.1:%d\"" % (self.LIMIT, harness.MAIL_GID, mport),
                     mailboxes=MAILBOXES)
        big = message(body="x" * 15000 + "\r\n")
        with smtplib.SMTP("127.0.0.1", self.port, timeout=10) as s:
            s.ehlo("client.test")
            self.assertEqual(s.sendmail("s@client.test", ["alice@example.com"], big), {})
        # 15,000 bytes held: a declared 10,000 more would pass the limit
        wait_until(lambda: rcpt_reply(self.port, "alice@example.com", 10000)[0] == 452,
                   10, "452 for alice with SIZE=10000")
        code, text = rcpt_reply(self.port, "alice@example.com", 10000)
        self.assertIn("4.2.2", text)
        self.assertEqual(rcpt_reply(self.port, "alice@example.com", 1000)[0], 250)
        with smtplib.SMTP("127.0.0.1", self.port, timeout=10) as s:
            s.ehlo("client.test")
            # smtplib declares SIZE= (about 9,100 here): too much for alice only
            refused = s.sendmail("s@client.test", ["alice@example.com", "bob@example.com"],
                                 message(body="y" * 9000 + "\r\n"))
            self.assertEqual(list(refused), ["alice@example.com"])
            self.assertEqual(refused["alice@example.com"][0], 452)
            # without SIZE= the mailbox as it is (under the limit) decides
            self.assertEqual(s.mail("s@client.test")[0], 250)
            self.assertEqual(s.rcpt("alice@example.com")[0], 250)
            self.assertEqual(s.data(big)[0], 250)
        self.assertEqual(new_count(self.spool, "bob", want=1), 1)
        self.assertEqual(new_count(self.spool, "alice", want=2), 2)
        # now over the limit: refused even with nothing declared
        wait_until(lambda: rcpt_reply(self.port, "alice@example.com")[0] == 452, 10,
                   "452 for alice over the limit")
        self.assertEqual(rcpt_reply(self.port, "bob@example.com")[0], 250)
        # a reader (not the daemon) deletes one message: room again
        new = os.path.join(self.spool, "mailboxes", "alice", "new")
        victim = os.path.join(new, sorted(os.listdir(new))[0])
        r = harness.run_as(harness.READER_UID, harness.MAIL_GID, ["rm", victim],
                           groups=(harness.MAIL_GID,))
        self.assertEqual(r.returncode, 0, r.stderr)
        wait_until(lambda: rcpt_reply(self.port, "alice@example.com")[0] == 250, 10,
                   "room in alice after the reader deleted")
        self.assertRegex(harness.scrape(mport),
                         r'(?m)^smtpgate_inbound_rejections_total\{reason="mailbox_full"\} [1-9]')
        # the scanner thread stops with the daemon (a clean exit, also under ASan)
        self.assertEqual(self.daemon.stop(), 0, self.daemon.log())

    def test_ten_thousand_files(self):
        """A Maildir of 10,000 files: the size is right, and the scan runs
        on its own thread (its time is logged with -v)."""
        self.port = harness.free_port()
        self.spool = self.path("in-spool")
        conf = self.write("inbound.conf", harness.inbound_config(
            self.spool, self.port, MAILBOXES, "mailbox_size_limit = 50000000"))
        d = harness.Daemon(harness.daemon_ids() + [harness.binary("smtpgate-inbound"), "-f",
                                                    "-v", "-c", conf], self.path("in.log"))
        self.daemons.append(d)
        wait_until(lambda: harness.port_open(self.port), 10, "listening")
        cur = os.path.join(self.spool, "mailboxes", "alice", "cur")
        for i in range(10000):
            p = os.path.join(cur, "1733.M%dP1.gw,S=4900:2,S" % i)
            with open(p, "w") as f:
                f.write("x")
            os.chown(p, harness.DAEMON_UID, harness.DAEMON_GID)
        # 10,000 x 4,900 = 49,000,000: 1,000,001 more would pass 50,000,000
        wait_until(lambda: rcpt_reply(self.port, "alice@example.com", 1000001)[0] == 452,
                   20, "the 10,000 files counted")
        self.assertEqual(rcpt_reply(self.port, "alice@example.com", 999999)[0], 250)
        scan = d.wait_log(r"mboxsize: mailbox=alice bytes=49000000 scan_us=(\d+)")
        print("scan of a 10,000-file Maildir (its own thread): %s us" % scan.group(1))
        t0 = time.monotonic()
        with smtplib.SMTP("127.0.0.1", self.port, timeout=10) as s:
            s.ehlo("client.test")
            s.mail("s@client.test")
            for _ in range(200):
                self.assertEqual(s.rcpt("alice@example.com")[0], 250)
        print("200 RCPTs to a 10,000-file mailbox: %.1f ms" % ((time.monotonic() - t0) * 1000))


@unittest.skipUnless(harness.privileged(), "mounting a tmpfs needs root")
class SpoolMinFreeTest(InboundCase):
    """spool_min_free: 452 4.3.1 at MAIL and RCPT before the disk is full."""

    def setUp(self):
        super().setUp()
        base = tempfile.mkdtemp(prefix="smtpgate-minfree-")
        self.addCleanup(shutil.rmtree, base, True)
        subprocess.run(["mount", "-t", "tmpfs", "-o", "size=8m,mode=0755", "tmpfs", base],
                       check=True)
        self.addCleanup(subprocess.run, ["umount", "-l", base])
        self.mnt = base
        os.mkdir(os.path.join(base, "in-spool"), 0o750)
        os.chown(os.path.join(base, "in-spool"), harness.DAEMON_UID, harness.DAEMON_GID)

    def path(self, *parts):
        """The spool goes on the small tmpfs, everything else as usual."""
        if parts == ("in-spool",):
            return os.path.join(self.mnt, "in-spool")
        return super().path(*parts)

    def test_reserve_refuses_new_mail(self):
        self.inbound(extra='spool_min_free = "3M"', mailboxes=MAILBOXES)
        self.assertTrue(self.spool.startswith(self.mnt))
        self.assertEqual(mail_reply(self.port)[0], 250)
        # with SIZE= the declared bytes must fit above the reserve too
        self.assertEqual(mail_reply(self.port, 6 << 20)[0], 452)
        filler = os.path.join(self.mnt, "filler")
        free = os.statvfs(self.mnt).f_bavail * os.statvfs(self.mnt).f_frsize
        with open(filler, "wb") as f:
            f.write(b"\0" * (free - (2 << 20)))	# 2 MB left: below the reserve
        wait_until(lambda: mail_reply(self.port)[0] == 452, 10, "452 at MAIL")
        code, text = mail_reply(self.port)
        self.assertIn("452 4.3.1", "%d %s" % (code, text))
        with smtplib.SMTP("127.0.0.1", self.port, timeout=10) as s:
            s.ehlo("client.test")
            with self.assertRaises(smtplib.SMTPSenderRefused) as cm:
                s.sendmail("s@client.test", ["alice@example.com"], message())
            self.assertEqual(cm.exception.smtp_code, 452)
        self.assertEqual(new_count(self.spool, "alice"), 0)
        os.unlink(filler)
        wait_until(lambda: mail_reply(self.port)[0] == 250, 10, "250 at MAIL again")
        with smtplib.SMTP("127.0.0.1", self.port, timeout=10) as s:
            s.ehlo("client.test")
            self.assertEqual(s.sendmail("s@client.test", ["alice@example.com"], message()), {})
        self.assertEqual(new_count(self.spool, "alice", want=1), 1)


class DataLineLengthTest(InboundCase):
    """Lines over 1000 octets are stored unchanged up to max_data_line_length;
    past it the message is refused whole (554 5.6.0), never cut."""

    def test_long_lines(self):
        self.inbound(mailboxes=MAILBOXES)
        line5k = "L" * 5000
        with smtplib.SMTP("127.0.0.1", self.port, timeout=10) as s:
            s.ehlo("client.test")
            self.assertEqual(s.sendmail("s@client.test", ["alice@example.com"],
                                        message(body=line5k + "\r\nend\r\n")), {})
            with self.assertRaises(smtplib.SMTPDataError) as cm:
                s.sendmail("s@client.test", ["bob@example.com"],
                           message(body="ok\r\n" + "M" * 65535 + "\r\nend\r\n"))
            self.assertEqual(cm.exception.smtp_code, 554)
            self.assertIn(b"5.6.0", cm.exception.smtp_error)
            self.assertIn(b"65536", cm.exception.smtp_error)
            # the session goes on; 65,534 characters and CRLF fit exactly
            self.assertEqual(s.sendmail("s@client.test", ["bob@example.com"],
                                        message(body="N" * 65534 + "\r\n")), {})
        raw = maildir_messages(self.spool, "alice", want=1)[0][1]
        self.assertIn(b"\n" + line5k.encode() + b"\nend\n", raw)
        msgs = maildir_messages(self.spool, "bob", want=1)
        self.assertEqual(len(msgs), 1)
        self.assertIn(b"\n" + b"N" * 65534 + b"\n", msgs[0][1])
        self.assertRegex(self.daemon.log(), r"line-too-long-in-data")
        self.assertEqual(self.daemon.stop(), 0, self.daemon.log())

    def test_configured_bound(self):
        self.inbound(extra="max_data_line_length = 1000", mailboxes=MAILBOXES)
        with smtplib.SMTP("127.0.0.1", self.port, timeout=10) as s:
            s.ehlo("client.test")
            self.assertEqual(s.sendmail("s@client.test", ["alice@example.com"],
                                        message(body="a" * 998 + "\r\n")), {})
            with self.assertRaises(smtplib.SMTPDataError) as cm:
                s.sendmail("s@client.test", ["alice@example.com"], message(body="a" * 999 + "\r\n"))
            self.assertEqual(cm.exception.smtp_code, 554)
        self.assertEqual(new_count(self.spool, "alice", want=1), 1)


if __name__ == "__main__":
    harness.main()
