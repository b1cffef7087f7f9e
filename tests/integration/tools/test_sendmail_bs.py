"""smtpgate-sendmail -bs, -q, -bi, -bv, -f "App <x@y>" against real clients.

-bs is driven by the programs that use it: Python's smtplib over a socket
pair given to the injector as stdin and stdout (as Symfony Mailer and
Laravel do with a pipe), swaks --pipe, and raw pipelined bytes.  Each
accepted message must be in maildrop/ exactly as a -bm submission is
(same envelope lines, same Received: line naming the uid, same limits:
552 over 50 MiB, 452 past 10,000 recipients).  The end-to-end class runs
smtpgate-outbound as the service user and a fake smart host, and submits
over -bs as root, USER_A and USER_B through the set-group-id injector.
git send-email (--smtp-server=<injector>) is the sendmail-mode client.
"""

import os
import shutil
import smtplib
import socket
import subprocess
import sys
import unittest
from email.message import EmailMessage

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "outbound"))
import harness  # noqa: E402
from fakesmtp import FakeSMTP  # noqa: E402
from maildrop import install_setgid, make_spool, parse_maildrop  # noqa: E402

SM = harness.binary("smtpgate-sendmail")
Q = harness.binary("smtpgate-queue")
MAX_SIZE = 50 << 20	# PICKUP_MAX_SIZE
MAX_RCPTS = 10000	# PICKUP_MAX_RCPTS


class PipeSMTP(smtplib.SMTP):
    """smtplib talking to `argv` (an injector in -bs mode) over a socket
    pair that is the program's stdin and stdout."""

    def __init__(self, argv):
        self.argv = argv
        self.proc = None
        super().__init__(timeout=60)
        self.connect("pipe", 0)

    def _get_socket(self, host, port, timeout):
        mine, theirs = socket.socketpair()
        self.proc = subprocess.Popen(self.argv, stdin=theirs, stdout=theirs,
                                     stderr=subprocess.PIPE)
        theirs.close()
        mine.settimeout(timeout)
        return mine

    def finish(self):
        """QUIT, then the program's exit code and stderr."""
        self.quit()
        err = self.proc.stderr.read().decode()
        return self.proc.wait(30), err


def message(subject, body="hello\n", **headers):
    m = EmailMessage()
    m["Subject"] = subject
    for k, v in headers.items():
        m[k.replace("_", "-")] = v
    m.set_content(body)
    return m


class BsBase(harness.GatewayTestCase):

    def setUp(self):
        super().setUp()
        self.spool = self.path("spool")
        make_spool(self.spool)
        self.conf = self.write("outbound.conf", harness.outbound_config(
            self.spool, [{"host": "127.0.0.1", "port": 2525, "tls": "none"}]))
        os.chmod(self.conf, 0o644)

    def drops(self):
        """The maildrop files, parsed, oldest name first; removes them."""
        md = os.path.join(self.spool, "maildrop")
        names = sorted(os.listdir(md), key=lambda n: os.stat(os.path.join(md, n)).st_mtime_ns)
        self.assertEqual([n for n in names if n.startswith(".")], [])
        out = []
        for n in names:
            with open(os.path.join(md, n), "rb") as f:
                out.append(parse_maildrop(f.read()))
            os.unlink(os.path.join(md, n))
        return out

    def raw(self, data, args=(), code=0, sm=SM, prefix=()):
        """Run -bs on bytes; returns (reply lines, stderr)."""
        r = harness.run(list(prefix) + [sm, "-C", self.conf, "-bs"] + list(args), input=data,
                        timeout=120)
        self.assertEqual(r.returncode, code, r.stderr)
        return r.stdout.decode().split("\r\n")[:-1], r.stderr.decode()


class BsDialogueTest(BsBase):
    """-bs without a daemon: the replies and the maildrop files."""

    def test_smtplib_two_messages_and_rset(self):
        c = PipeSMTP([SM, "-C", self.conf, "-bs"])
        code, ehlo = c.ehlo("client.test")
        self.assertEqual(code, 250)
        for ext in ("pipelining", "8bitmime", "size", "enhancedstatuscodes", "vrfy"):
            self.assertTrue(c.has_extn(ext), ext)
        self.assertEqual(c.esmtp_features["size"], str(MAX_SIZE))
        refused = c.send_message(message("one", To="Jane <jane@example.com>"),
                                 from_addr="app@example.org",
                                 to_addrs=["jane@example.com", "root"])
        self.assertEqual(refused, {})
        self.assertEqual(c.mail("dropped@example.org")[0], 250)
        self.assertEqual(c.rcpt("nobody@example.com")[0], 250)
        self.assertEqual(c.rset()[0], 250)
        c.send_message(message("two", body="..leading dots\n.\n"), from_addr="",
                       to_addrs=["bob@example.net"])
        self.assertEqual(c.verify("root"), (252, b"2.0.0 root@gw-out.test"))
        self.assertEqual(c.docmd("HELP")[0], 502)
        rc, err = c.finish()
        self.assertEqual((rc, err), (0, ""))
        # two files written within one timestamp tick: told apart by sender
        (s1, r1, uid1, h1, b1), (s2, r2, uid2, h2, b2) = sorted(
            self.drops(), key=lambda d: d[0] != "<app@example.org>")
        self.assertEqual((s1, r1, uid1), ("<app@example.org>",
                                          ["<jane@example.com>", "<root@gw-out.test>"], 0))
        self.assertIn("Subject: one", h1)
        self.assertIn("From: <app@example.org>", h1)	# completed as -bm does
        self.assertTrue(any(h.startswith("Message-ID: ") for h in h1), h1)
        self.assertEqual((s2, r2, uid2), ("<>", ["<bob@example.net>"], 0))
        self.assertEqual(b2, "..leading dots\r\n.\r\n")

    def test_pipelined_input_answered_in_order(self):
        data = (b"EHLO c\r\nMAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.com>\r\n"
                b"RCPT TO:<bad@@x>\r\nDATA\r\nSubject: p\r\n\r\nbody\r\n.\r\n"
                b"MAIL FROM:<a@example.org>\r\nRCPT TO:<c@example.com>\r\nRSET\r\n"
                b"NOOP\r\nQUIT\r\n")
        lines, err = self.raw(data)
        codes = [ln[:4] for ln in lines]
        self.assertEqual(codes, ["220 ", "250-", "250-", "250-", "250-", "250-", "250 ",
                                 "250 ", "250 ", "501 ", "354 ", "250 ", "250 ", "250 ",
                                 "250 ", "250 ", "221 "])
        self.assertRegex(lines[11], r"^250 2\.0\.0 Ok: queued as \S+$")
        ((s, r, uid, h, b),) = self.drops()
        self.assertEqual((s, r, b), ("<a@example.org>", ["<b@example.com>"], "body\r\n"))

    def test_message_over_the_size_limit(self):
        # SIZE= over the limit is refused at MAIL (smtplib sends it)
        c = PipeSMTP([SM, "-C", self.conf, "-bs"])
        big = b"Subject: big\r\n\r\n" + (b"x" * 998 + b"\r\n") * (MAX_SIZE // 1000 + 1)
        with self.assertRaises(smtplib.SMTPSenderRefused) as cm:
            c.sendmail("a@example.org", ["b@example.com"], big)
        self.assertEqual(cm.exception.smtp_code, 552)
        self.assertEqual(c.finish()[0], 0)
        # without SIZE= the data is read to its end, refused with 552, and
        # the session goes on with the next message
        data = (b"MAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.com>\r\nDATA\r\n" + big +
                b".\r\nMAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.com>\r\nDATA\r\n"
                b"Subject: small\r\n\r\nok\r\n.\r\nQUIT\r\n")
        lines, _ = self.raw(data)
        self.assertEqual(lines[4], "552 5.3.4 Message size exceeds fixed limit")
        self.assertRegex(lines[8], r"^250 2\.0\.0 Ok: queued as ")
        ((s, r, uid, h, b),) = self.drops()
        self.assertIn("Subject: small", h)

    def test_too_many_recipients(self):
        rcpts = b"".join(b"RCPT TO:<r%d@example.com>\r\n" % i for i in range(MAX_RCPTS + 1))
        data = (b"MAIL FROM:<a@example.org>\r\n" + rcpts + b"RCPT TO:<r0@example.com>\r\n"
                b"DATA\r\nSubject: many\r\n\r\nb\r\n.\r\nQUIT\r\n")
        lines, _ = self.raw(data)
        self.assertEqual(lines.count("250 2.1.5 Ok"), MAX_RCPTS + 1)	# + the duplicate
        self.assertEqual(lines[1 + 1 + MAX_RCPTS], "452 4.5.3 Error: too many recipients")
        ((s, r, uid, h, b),) = self.drops()
        self.assertEqual(len(r), MAX_RCPTS)

    def test_bad_input_gets_replies_never_a_hang(self):
        junk = (b"\x00\xff garbage\r\n" + b"A" * 10000 + b"\r\nMAIL FROM:<a@b.c\r\n"
                b"DATA\r\n")
        lines, _ = self.raw(junk)
        self.assertEqual(lines[1:], ["500 5.5.2 Error: bad syntax",
                                     "500 5.5.2 Error: line too long",
                                     "501 5.5.4 Syntax: MAIL FROM:<address>",
                                     "503 5.5.1 Error: need RCPT command"])
        # the input ends inside DATA: nothing queued, exit 76 and one line
        lines, err = self.raw(b"MAIL FROM:<a@b.c>\r\nRCPT TO:<d@e.f>\r\nDATA\r\npartial\r\n",
                              code=76)
        self.assertIn("ended inside DATA", err)
        self.assertEqual(self.drops(), [])
        # twenty errors end the session with 421
        lines, _ = self.raw(b"BOGUS\r\n" * 30)
        self.assertEqual(lines[-1], "421 4.7.0 gw-out.test Error: too many errors")
        self.assertEqual(len(lines), 1 + 20 + 1)

    def test_bs_refuses_recipients_and_t(self):
        r = harness.run([SM, "-C", self.conf, "-bs", "x@example.com"], input="")
        self.assertEqual(r.returncode, 64)
        self.assertIn("-bs takes no recipients", r.stderr)
        r = harness.run([SM, "-C", self.conf, "-bs", "-t"], input="")
        self.assertEqual(r.returncode, 64)

    def test_write_failure_is_451_and_the_session_goes_on(self):
        md = os.path.join(self.spool, "maildrop")
        os.rename(md, md + ".away")
        data = (b"MAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.com>\r\nDATA\r\nx\r\n.\r\n"
                b"NOOP\r\nQUIT\r\n")
        lines, err = self.raw(data)
        self.assertRegex(lines[4], r"^451 4\.3\.0 Error: queue file write error: \S+/maildrop: "
                         r"No such file or directory")
        self.assertEqual(lines[5:], ["250 2.0.0 Ok", "221 2.0.0 Bye"])
        self.assertIn("maildrop", err)
        os.rename(md + ".away", md)
        self.assertEqual(self.drops(), [])

    def test_250_only_once_durable(self):
        # the fault shim records create/fsync/rename: by the time the client
        # has its 250, the file was fsynced before and after its rename
        trace = self.path("fstrace")
        env = self.shim_env(SMTPGATE_FSTRACE_FILE=trace)
        mine, theirs = socket.socketpair()
        p = subprocess.Popen([SM, "-C", self.conf, "-bs"], stdin=theirs, stdout=theirs,
                             env=env, stderr=subprocess.PIPE)
        theirs.close()
        f = mine.makefile("rwb")
        self.assertTrue(f.readline().startswith(b"220 "))
        f.write(b"MAIL FROM:<a@b.example>\r\nRCPT TO:<c@d.example>\r\nDATA\r\n")
        f.flush()
        self.assertEqual([f.readline()[:3] for _ in range(3)], [b"250", b"250", b"354"])
        f.write(b"Subject: d\r\n\r\nx\r\n.\r\n")
        f.flush()
        reply = f.readline()
        self.assertTrue(reply.startswith(b"250 2.0.0 Ok: queued as "), reply)
        name = reply.split()[-1].decode()
        mdir = os.path.join(self.spool, "maildrop")
        with open(trace) as t:
            lines = t.read().splitlines()
        self.assertEqual(lines[:4], ["create %s/.w.%s" % (mdir, name),
                                     "fsync %s/.w.%s" % (mdir, name),
                                     "rename %s/.w.%s %s/%s" % (mdir, name, mdir, name),
                                     "fsync %s/%s" % (mdir, name)])
        f.write(b"QUIT\r\n")
        f.flush()
        self.assertTrue(f.readline().startswith(b"221"))
        f.close()
        mine.close()
        self.assertEqual(p.wait(30), 0)
        p.stderr.close()

    def test_swaks_pipe(self):
        swaks = shutil.which("swaks")
        self.assertIsNotNone(swaks, "swaks (scripts/bootstrap installs it)")
        for extra in ([], ["--pipeline"]):
            r = harness.run([swaks, "--pipe", "%s -C %s -bs" % (SM, self.conf),
                             "--from", "app@example.org", "--to", "jane@example.com,joe",
                             "--header", "Subject: via swaks"] + extra, timeout=60)
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
            self.assertIn("250 2.0.0 Ok: queued as", r.stdout)
            ((s, rc, uid, h, b),) = self.drops()
            self.assertEqual((s, rc, uid), ("<app@example.org>",
                                            ["<jane@example.com>", "<joe@gw-out.test>"], 0))
            self.assertIn("Subject: via swaks", h)

    def test_as_users_through_setgid(self):
        if not harness.privileged():
            self.skipTest("needs root to switch ids")
        sm = install_setgid(self.path("bin"))
        for uid in (harness.USER_A, harness.USER_B):
            c = PipeSMTP(harness.as_ids(uid, uid) + [sm, "-C", self.conf, "-bs"])
            c.send_message(message("from %d" % uid), from_addr="u%d@example.org" % uid,
                           to_addrs=["x@example.com"])
            self.assertEqual(c.finish(), (0, ""))
            ((s, r, got_uid, h, b),) = self.drops()
            self.assertEqual((s, r, got_uid), ("<u%d@example.org>" % uid, ["<x@example.com>"],
                                               uid))


    def test_privileges_during_a_session(self):
        # between messages the session runs with the user's own group (the
        # submission group only saved); a config only the group could read
        # is never shown; the smart host's password file is never opened
        if not harness.privileged():
            self.skipTest("needs root to set a group and switch ids")
        secret = "Sup3rS3cretRelayPassw0rd"
        sm = install_setgid(self.path("bin"))
        a = harness.USER_A
        pw = self.write("relay.pw", secret + "\n")
        os.chmod(pw, 0o600)
        conf = self.write("auth.conf", harness.outbound_config(
            self.spool, [{"host": "127.0.0.1", "port": 2525, "tls": "starttls",
                          "auth_user": "relay", "auth_password_file": pw}]))
        os.chmod(conf, 0o644)
        c = PipeSMTP(harness.as_ids(a, a) + [sm, "-C", conf, "-bs"])
        c.send_message(message("one"), from_addr="a@example.org", to_addrs=["x@example.com"])
        with open("/proc/%d/status" % c.proc.pid) as f:
            gids = [ln.split()[1:] for ln in f if ln.startswith("Gid:")][0]
        self.assertEqual(gids, [str(a), str(a), str(harness.SUBMIT_GID), str(a)])
        self.assertEqual(c.verify("root"), (252, b"2.0.0 root@gw-out.test"))
        self.assertEqual(c.finish(), (0, ""))
        ((s_, r, uid, h, b),) = self.drops()
        self.assertEqual(uid, a)
        self.assertNotIn(secret, "\n".join(h) + b)
        group_only = self.write("secret.conf", secret + "\n")
        os.chown(group_only, 0, harness.SUBMIT_GID)
        os.chmod(group_only, 0o640)
        r = harness.run_as(a, a, [sm, "-C", group_only, "-bs"], input=b"QUIT\r\n")
        self.assertEqual(r.returncode, 78)
        self.assertEqual(r.stdout, b"")
        self.assertNotIn(secret.encode(), r.stderr)


class ModesTest(BsBase):
    """-q, -bi (newaliases), -bv and -f as Postfix's sendmail takes them."""

    def test_q_variants_succeed_and_say_so(self):
        for args in (["-q"], ["-q30m"], ["-qRexample.org"], ["-qIABC"], ["-q1h", "x@y.z"]):
            r = harness.run([SM, "-C", self.conf] + args, input="")
            self.assertEqual(r.returncode, 0, (args, r.stderr))
            self.assertRegex(r.stderr, r"^smtpgate-sendmail: -q\S*: (nothing to do|ignored): "
                             r"smtpgate-outbound ", args)
        self.assertEqual(self.drops(), [])	# -q<interval> reads and sends nothing
        for args, why in ((["-qX"], "-qX is not supported"), (["-qR"], "specify -qRsite"),
                          (["-q", "x@y.z"], "-q takes no recipients")):
            r = harness.run([SM, "-C", self.conf] + args, input="")
            self.assertEqual(r.returncode, 64, args)
            self.assertIn(why, r.stderr)

    def test_bi_and_newaliases(self):
        link = self.path("newaliases")
        os.symlink(SM, link)
        for argv in ([SM, "-C", self.conf, "-bi"], [SM, "-C", self.conf, "-I"],
                     [link, "-C", self.conf]):
            r = harness.run(argv, input="")
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertIn("no alias database", r.stderr)
        r = harness.run([link, "-C", self.conf, "root"], input="")
        self.assertEqual(r.returncode, 64)

    def test_mailq_name_lists_the_queue(self):
        link = self.path("mailq")
        os.symlink(SM, link)
        r = harness.run([link, "-C", self.conf], input="")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout, harness.run([Q, "-c", self.conf, "list"]).stdout)

    def test_bv_reports_each_address(self):
        r = harness.run([SM, "-C", self.conf, "-bv", "root", "Jane <jane@Example.COM>, bad@@x",
                         "x@example.org (X)"], input="")
        self.assertEqual(r.returncode, 65, r.stderr)
        self.assertEqual(r.stdout.splitlines(), [
            "root: deliverable: <root@gw-out.test> via smart host 127.0.0.1:2525",
            "jane@Example.COM: deliverable: <jane@example.com> via smart host 127.0.0.1:2525",
            "bad@@x: undeliverable: syntax error in address",
            "x@example.org: deliverable: <x@example.org> via smart host 127.0.0.1:2525"])
        r = harness.run([SM, "-C", self.conf, "-bv", "a@example.org"], input="")
        self.assertEqual(r.returncode, 0)
        self.assertEqual(self.drops(), [])	# nothing is sent, no report mail
        r = harness.run([SM, "-C", self.conf, "-bv"], input="")
        self.assertEqual(r.returncode, 64)

    def test_bv_names_the_admin_address_for_local_recipients(self):
        with open(self.conf) as f:
            text = f.read()
        conf = self.path("admin.conf")
        with open(conf, "w") as f:
            f.write(text + 'admin_address = "ops@example.org"\n')
        r = harness.run([SM, "-C", conf, "-bv", "root", "x@example.org"], input="")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout.splitlines(), [
            "root: deliverable: <root@gw-out.test> is local: to <ops@example.org>"
            " (admin_address) via smart host 127.0.0.1:2525",
            "x@example.org: deliverable: <x@example.org> via smart host 127.0.0.1:2525"])

    def test_f_with_display_name_or_comment(self):
        for f, want in (("App <x@example.org>", "<x@example.org>"),
                        ("<x@example.org>", "<x@example.org>"),
                        ("x@example.org (App)", "<x@example.org>"),
                        ('"App, Inc." <x@example.org>', "<x@example.org>"),
                        ("<>", "<>"), ("App <app>", "<app@gw-out.test>")):
            for opt in ("-f", "-r"):
                r = harness.run([SM, "-C", self.conf, opt, f, "to@example.com"],
                                input="Subject: f\n\nb\n")
                self.assertEqual(r.returncode, 0, (f, r.stderr))
                ((s, rc, uid, h, b),) = self.drops()
                self.assertEqual(s, want, f)
        r = harness.run([SM, "-C", self.conf, "-f", "a@example.org, b@example.org",
                         "to@example.com"], input="Subject: f\n\nb\n")
        self.assertEqual(r.returncode, 0)
        self.assertIn("warning", r.stderr)
        self.assertEqual(self.drops()[0][0], "<a@example.org>")

    def test_git_send_email(self):
        git = shutil.which("git")
        probe = harness.run([git, "send-email", "-h"])
        self.assertNotIn("is not a git command", probe.stderr,
                         "git-email (scripts/bootstrap installs it)")
        repo = self.path("repo")
        env = dict(os.environ, GIT_AUTHOR_NAME="Dev", GIT_AUTHOR_EMAIL="dev@example.org",
                   GIT_COMMITTER_NAME="Dev", GIT_COMMITTER_EMAIL="dev@example.org",
                   HOME=self.tmp, GIT_CONFIG_NOSYSTEM="1")
        r = harness.run([git, "init", "-q", repo], env=env)
        self.assertEqual(r.returncode, 0, r.stderr)
        with open(os.path.join(repo, "file.txt"), "w") as f:
            f.write("content\n")
        for argv in (["-C", repo, "add", "file.txt"],
                     ["-C", repo, "commit", "-q", "-m", "a change"],
                     ["-C", repo, "format-patch", "-1", "-o", self.path("patches")]):
            r = harness.run([git] + argv, env=env)
            self.assertEqual(r.returncode, 0, r.stderr)
        (patch,) = os.listdir(self.path("patches"))
        r = harness.run([git, "-C", repo, "send-email", "--confirm=never", "--quiet", "--suppress-cc=all",
                         "--smtp-server=" + SM, "--smtp-server-option=-C",
                         "--smtp-server-option=" + self.conf,
                         "--from=Dev <dev@example.org>", "--to=list@example.com",
                         "--envelope-sender=Dev <bounces@example.org>",
                         os.path.join(self.path("patches"), patch)], env=env, timeout=60)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        ((s, rc, uid, h, b),) = self.drops()
        self.assertEqual((s, rc), ("<bounces@example.org>", ["<list@example.com>"]))
        self.assertIn("Subject: [PATCH] a change", h)


class BsEndToEndTest(harness.GatewayTestCase):
    """-bs through a running smtpgate-outbound (service user) to a smart host."""

    def test_root_and_users_reach_the_smart_host(self):
        fake = FakeSMTP().start()
        self.addCleanup(fake.stop)
        spool = self.path("spool")
        conf = self.write("outbound.conf", harness.outbound_config(
            spool, [{"host": "127.0.0.1", "port": fake.port, "tls": "none"}],
            extra='retry_min = 60\nscan_interval = 1\nsubmit_group = "%d"\n'
            % harness.SUBMIT_GID))
        os.chmod(conf, 0o644)
        d = self.start("smtpgate-outbound", conf)
        harness.wait_for(lambda: not d.alive() or (
            os.path.isdir(os.path.join(spool, "maildrop")) and
            "daemon: running" in harness.run([Q, "-c", conf, "status"]).stdout), 10,
            "smtpgate-outbound holding its spool")
        self.assertTrue(d.alive(), d.log())
        users = [0]
        sm = SM
        if harness.privileged():
            users += [harness.USER_A, harness.USER_B]
            sm = install_setgid(self.path("bin"))
        for uid in users:
            prefix = harness.as_ids(uid, uid) if uid else []
            c = PipeSMTP(prefix + [sm, "-C", conf, "-bs"])
            c.send_message(message("from uid %d" % uid), from_addr="u%d@example.org" % uid,
                           to_addrs=["jane@example.com", "joe"])
            self.assertEqual(c.finish(), (0, ""))
        harness.wait_for(lambda: fake.message_count() == len(users), 20,
                         "%d messages at the smart host" % len(users))
        _, msgs = fake.snapshot()
        got = {}
        for m in msgs:
            self.assertEqual(sorted(m["rcpts"]), ["jane@example.com", "joe@gw-out.test"])
            head = m["data"].split(b"\r\n\r\n", 1)[0].decode()
            first = head.split("\r\n")[0]
            self.assertRegex(first, r"^Received: by gw-out\.test \(smtpgate-sendmail, from "
                             r"userid \d+\);$")
            got[int(first.rsplit(" ", 1)[1].rstrip(");"))] = m["sender"]
        self.assertEqual(got, {uid: "u%d@example.org" % uid for uid in users})


if __name__ == "__main__":
    harness.main()
