"""Root and the tools (issue 16, point 4).

A daemon started by hand as root binds what it must (the inbound's port,
here a privileged one) and then drops to its `user`/`group` for good:
/proc shows the service ids and no capability, and what it creates is
owned by the service user.  `user` naming root is a config error (78), an
unknown user 67.  A spool holding something of another user is refused at
start with 77, naming the path and the `chown` that fixes it; files that
other users may put in the spool (producers' drops) are not.
smtpgate-queue run as root works as the spool's owner, so `retry all` with
the daemon stopped leaves nothing the daemon cannot load; on a missing
spool `list`/`status` fail (75); operators of the queue's group read the
queue without the smart host's secret.

The ids are the harness's numeric ones (no account): user = "64101".
"""
import os
import random
import re
import signal
import smtplib
import socket
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "outbound"))

import harness      # noqa: E402
import fakesmtp     # noqa: E402
from outbound_case import FAST, message  # noqa: E402

UID = harness.DAEMON_UID
GID = harness.DAEMON_GID
QUEUE = harness.binary("smtpgate-queue")
USER_LINE = 'user = "%d"\n' % UID


def proc_status(pid):
    """The Uid, Gid, Groups, CapEff and CapPrm lines of /proc/<pid>/status."""
    out = {}
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            key, _, value = line.partition(":")
            if key in ("Uid", "Gid", "Groups", "CapEff", "CapPrm", "CapAmb"):
                out[key] = value.split()
    return out


def privileged_port():
    """A free TCP port below 1024 on 127.0.0.1 (only root may bind it)."""
    ports = list(range(600, 1024))
    random.shuffle(ports)
    for p in ports:
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", p))
                return p
            except OSError:
                continue
    raise AssertionError("no free port below 1024")


def owners(top):
    """{relative path: uid} of top and everything below it."""
    out = {".": os.lstat(top).st_uid}
    for root, dirs, files in os.walk(top):
        for n in dirs + files:
            p = os.path.join(root, n)
            out[os.path.relpath(p, top)] = os.lstat(p).st_uid
    return out


@unittest.skipUnless(harness.privileged(), "needs root to start the daemons as root")
class RootStartTest(harness.GatewayTestCase):
    """Both daemons started as root drop to the configured user."""

    def assert_dropped(self, pid):
        st = proc_status(pid)
        self.assertEqual(st["Uid"], [str(UID)] * 4, st)
        self.assertEqual(st["Gid"], [str(GID)] * 4, st)
        self.assertEqual(st["Groups"], [str(GID)], st)	# a number without an account
        self.assertEqual(int(st["CapEff"][0], 16), 0, st)
        self.assertEqual(int(st["CapPrm"][0], 16), 0, st)

    def inbound_conf(self, port, extra=USER_LINE, spool=None):
        self.in_spool = spool or self.path("in-spool")
        return self.write("inbound.conf", harness.inbound_config(
            self.in_spool, port, {"alice": ["alice@example.com"]}, extra=extra))

    def outbound_conf(self, fake_port, extra=USER_LINE):
        self.out_spool = self.path("out-spool")
        return self.write("outbound.conf", harness.outbound_config(
            self.out_spool, [{"host": "127.0.0.1", "port": fake_port, "tls": "none"}],
            FAST + extra))

    def test_inbound_binds_port_below_1024_then_drops(self):
        port = privileged_port()
        d = self.start("smtpgate-inbound", self.inbound_conf(port), ids=[], wait_port=port)
        self.assert_dropped(d.pid)
        with smtplib.SMTP("127.0.0.1", port, timeout=10) as s:
            s.sendmail("s@example.org", ["alice@example.com"],
                       "Subject: as root\r\n\r\nhello\r\n")
        new = os.path.join(self.in_spool, "mailboxes", "alice", "new")
        harness.wait_for(lambda: os.listdir(new), 10, "the delivered file")
        self.assertTrue(d.alive())
        own = owners(self.in_spool)
        self.assertEqual({p: u for p, u in own.items() if u != UID}, {}, own)
        self.assertEqual(d.stop(), 0, d.log())

    def test_reload_keeps_the_ids(self):
        port = harness.free_port()
        conf = self.inbound_conf(port)
        d = self.start("smtpgate-inbound", conf, ids=[], wait_port=port)
        self.inbound_conf(port, 'user = "%d"\n' % harness.USER_A)
        d.send_signal(signal.SIGHUP)
        d.wait_log(r"reload: user/group changed; they apply after a restart as root")
        d.wait_log(r"reload: config=")
        self.assert_dropped(d.pid)
        self.inbound_conf(port, 'user = "root"\n')
        d.send_signal(signal.SIGHUP)
        d.wait_log(r"user: \"root\" is root \(uid 0\).*keeping the running configuration")
        self.assert_dropped(d.pid)

    def test_unit_capability_given_up_after_bind(self):
        # as the inbound unit runs it: the service user with CAP_NET_BIND_SERVICE
        port = privileged_port()
        ids = harness.daemon_ids()[:-1] + ["--inh-caps=+net_bind_service",
                                           "--ambient-caps=+net_bind_service", "--"]
        d = self.start("smtpgate-inbound", self.inbound_conf(port, extra=""), ids=ids,
                       wait_port=port)
        st = proc_status(d.pid)
        self.assertEqual(st["Uid"], [str(UID)] * 4, st)
        for cap in ("CapEff", "CapPrm", "CapAmb"):
            self.assertEqual(int(st[cap][0], 16), 0, st)
        with smtplib.SMTP("127.0.0.1", port, timeout=10) as s:
            self.assertEqual(s.noop()[0], 250)

    def test_outbound_drops_before_the_spool(self):
        fake = fakesmtp.FakeSMTP().start()
        self.addCleanup(fake.stop)
        d = self.start("smtpgate-outbound", self.outbound_conf(fake.port), ids=[])
        harness.wait_for(lambda: "start version=" in d.log() or not d.alive(), 10, "start")
        self.assertTrue(d.alive(), d.log())
        self.assert_dropped(d.pid)
        # a trusted producer (the service user) hands a message over
        tmp = os.path.join(self.out_spool, "pickup", ".m")
        harness.run_daemon_user(["sh", "-c", "cat > %s && mv %s %s" % (
            tmp, tmp, os.path.join(self.out_spool, "pickup", "m"))],
            input=message("a@example.org", ["b@example.net"], subject="as root"))
        harness.wait_for(lambda: fake.message_count() >= 1, 20, "the message sent")
        own = owners(self.out_spool)
        self.assertEqual({p: u for p, u in own.items() if u != UID}, {}, own)
        self.assertEqual(d.stop(), 0, d.log())

    def test_user_root_is_a_config_error(self):
        for user in ("root", "0"):
            for prog, conf in (("smtpgate-inbound", self.inbound_conf(harness.free_port(),
                                                                      'user = "%s"\n' % user)),
                               ("smtpgate-outbound", self.outbound_conf(2525,
                                                                        'user = "%s"\n' % user))):
                r = harness.run([harness.binary(prog), "-f", "-c", conf], timeout=20)
                self.assertEqual(r.returncode, 78, "%s user=%s: %s" % (prog, user, r.stderr))
                self.assertRegex(r.stderr, r"user: \"%s\" is root \(uid 0\)" % user)
                r = harness.run([harness.binary("smtpgate-check"), conf])
                self.assertEqual(r.returncode, 78, r.stdout + r.stderr)

    def test_unknown_user_or_group_67(self):
        for extra, what in (('user = "smtpgate-no-such-user"\n', "no such user"),
                            (USER_LINE + 'group = "smtpgate-no-such-group"\n', "no such group")):
            port = harness.free_port()
            for prog, conf in (("smtpgate-inbound", self.inbound_conf(port, extra)),
                               ("smtpgate-outbound", self.outbound_conf(2525, extra))):
                r = harness.run([harness.binary(prog), "-f", "-c", conf], timeout=20)
                self.assertEqual(r.returncode, 67, "%s: %s" % (prog, r.stderr))
                self.assertEqual(len([ln for ln in r.stderr.splitlines() if what in ln]), 1,
                                 r.stderr)
            self.assertFalse(harness.port_open(port))
        # started as the service user, the keys are not looked up
        port = harness.free_port()
        d = self.start("smtpgate-inbound",
                       self.inbound_conf(port, 'user = "smtpgate-no-such-user"\n'),
                       wait_port=port)
        self.assertTrue(d.alive())

    def test_group_key_sets_the_group(self):
        port = harness.free_port()
        d = self.start("smtpgate-inbound", self.inbound_conf(
            port, USER_LINE + 'group = "%d"\n' % harness.MAIL_GID), ids=[], wait_port=port)
        st = proc_status(d.pid)
        self.assertEqual(st["Uid"], [str(UID)] * 4, st)
        self.assertEqual(st["Gid"], [str(harness.MAIL_GID)] * 4, st)
        self.assertEqual(st["Groups"], [str(harness.MAIL_GID)], st)


@unittest.skipUnless(harness.privileged(), "needs root to plant files of other users")
class SpoolOwnerTest(harness.GatewayTestCase):
    """A spool with anything of another user in what the daemon keeps: 77."""

    def outbound(self, fake_port=2525):
        self.spool = self.path("out-spool")
        conf = self.write("outbound.conf", harness.outbound_config(
            self.spool, [{"host": "127.0.0.1", "port": fake_port, "tls": "none"}], FAST))
        return conf

    def first_start(self, prog, conf, port=None):
        """Start once (as the service user) so the spool exists, then stop."""
        d = self.start(prog, conf, wait_port=port)
        if port is None:
            harness.wait_for(lambda: "start version=" in d.log() or not d.alive(), 10, "start")
        self.assertEqual(d.stop(), 0, d.log())

    def refused(self, prog, conf, rel, fix, who="root (uid 0)"):
        r = harness.run_daemon_user([harness.binary(prog), "-f", "-c", conf], timeout=20)
        self.assertEqual(r.returncode, 77, r.stdout + r.stderr)
        lines = [ln for ln in (r.stdout + r.stderr).splitlines() if "owned by" in ln]
        self.assertEqual(len(lines), 1, r.stdout + r.stderr)
        self.assertIn("%s is owned by %s, not by the service user (uid %d)" % (rel, who, UID),
                      lines[0])
        self.assertIn("run chown -R %d:%d %s" % (UID, GID, fix), lines[0])
        return lines[0]

    def plant(self, path, uid=0):
        with open(path, "w") as f:
            f.write("x")
        os.chown(path, uid, uid)

    def test_outbound_root_files_in_queue_and_tmp(self):
        conf = self.outbound()
        self.first_start("smtpgate-outbound", conf)
        bad = os.path.join(self.spool, "queue", "0000000001aaaaaa.env")
        self.plant(bad)
        self.refused("smtpgate-outbound", conf, "queue/0000000001aaaaaa.env",
                     os.path.join(self.spool, "queue"))
        os.unlink(bad)
        bad = os.path.join(self.spool, "tmp", "spare.1")
        self.plant(bad, harness.USER_A)
        self.refused("smtpgate-outbound", conf, "tmp/spare.1", os.path.join(self.spool, "tmp"),
                     who="uid %d" % harness.USER_A)
        os.unlink(bad)
        os.chown(os.path.join(self.spool, "bad"), 0, 0)
        self.refused("smtpgate-outbound", conf, "bad", os.path.join(self.spool, "bad"))
        os.chown(os.path.join(self.spool, "bad"), UID, GID)
        os.chown(os.path.join(self.spool, ".lock"), 0, 0)
        self.refused("smtpgate-outbound", conf, ".lock", os.path.join(self.spool, ".lock"))
        os.chown(os.path.join(self.spool, ".lock"), UID, GID)
        # what producers and operators put in the spool is theirs: no refusal
        for sub in ("pickup", "maildrop", "control", "bad"):
            os.makedirs(os.path.join(self.spool, sub), exist_ok=True)
            os.chown(os.path.join(self.spool, sub), UID, GID)
        self.plant(os.path.join(self.spool, "maildrop", "from-user-a"), harness.USER_A)
        self.plant(os.path.join(self.spool, "bad", "old-drop"), harness.USER_A)
        self.plant(os.path.join(self.spool, "tmp", "claim.0000000002bbbbbb"), harness.USER_A)
        d = self.start("smtpgate-outbound", conf)
        harness.wait_for(lambda: "start version=" in d.log() or not d.alive(), 10, "start")
        self.assertTrue(d.alive(), d.log())

    def test_root_owned_spool(self):
        conf = self.outbound()
        self.first_start("smtpgate-outbound", conf)
        os.chown(self.spool, 0, 0)
        self.refused("smtpgate-outbound", conf, "the spool directory", self.spool)

    def test_inbound_root_files(self):
        port = harness.free_port()
        spool = self.path("in-spool")
        conf = self.write("inbound.conf", harness.inbound_config(spool, port))
        self.first_start("smtpgate-inbound", conf, port)
        new = os.path.join(spool, "mailboxes", "alice", "new")
        os.chown(new, 0, 0)
        self.refused("smtpgate-inbound", conf, "mailboxes/alice/new", new)
        os.chown(new, UID, GID)
        alice = os.path.join(spool, "mailboxes", "alice")
        os.chown(alice, harness.READER_UID, harness.MAIL_GID)
        self.refused("smtpgate-inbound", conf, "mailboxes/alice", alice,
                     who="uid %d" % harness.READER_UID)
        os.chown(alice, UID, GID)
        self.plant(os.path.join(spool, "tmp", "x"))
        self.refused("smtpgate-inbound", conf, "tmp/x", os.path.join(spool, "tmp"))
        os.unlink(os.path.join(spool, "tmp", "x"))
        # a reader's own file in a Maildir is not the daemon's business, nor
        # stops the gateway a Maildir directory a reader replaced (the
        # delivery refuses that one mailbox): only root's leftovers do
        self.plant(os.path.join(new, "1.reader"), harness.READER_UID)
        self.plant(os.path.join(spool, "mailboxes", "alice", "dovecot-uidlist"),
                   harness.READER_UID)
        os.chown(os.path.join(spool, "mailboxes", "bob", "cur"), harness.READER_UID,
                 harness.MAIL_GID)
        self.start("smtpgate-inbound", conf, wait_port=port)


@unittest.skipUnless(harness.privileged(), "needs root")
class QueueToolRootTest(harness.GatewayTestCase):
    """smtpgate-queue as root and for operators of the queue's group."""

    def setUp(self):
        super().setUp()
        self.fake = fakesmtp.FakeSMTP(script={"rcpt": "451 4.3.0 try later"}).start()
        self.addCleanup(self.fake.stop)
        self.spool = self.path("out-spool")
        # deferred for an hour: only `retry` makes it due before the test ends
        self.conf = self.write("outbound.conf", harness.outbound_config(
            self.spool, [{"host": "127.0.0.1", "port": self.fake.port, "tls": "none"}],
            FAST.replace("retry_min = 1", "retry_min = 3600").replace(
                "retry_max = 2", "retry_max = 3600")))

    def queue_one(self):
        """Start the daemon, queue one message, wait until it is deferred."""
        d = self.start("smtpgate-outbound", self.conf)
        harness.wait_for(lambda: "start version=" in d.log() or not d.alive(), 10, "start")
        tmp = os.path.join(self.spool, "pickup", ".m")
        r = harness.run_daemon_user(["sh", "-c", "cat > %s && mv %s %s" % (
            tmp, tmp, os.path.join(self.spool, "pickup", "m"))],
            input=message("a@example.org", ["b@example.net"], subject="deferred"))
        self.assertEqual(r.returncode, 0, r.stderr)
        m = d.wait_log(r"id=([0-9a-f]{16})\b.*status=deferred", 20)
        return d, m.group(1)

    def q(self, *args, code=0, ids=None, conf=None):
        argv = [QUEUE, "-c", conf or self.conf] + list(args)
        r = harness.run((ids or []) + argv)
        self.assertEqual(r.returncode, code, "exit %d\n%s%s" % (r.returncode, r.stdout, r.stderr))
        return r

    def test_retry_all_as_root_with_the_daemon_stopped(self):
        d, qid = self.queue_one()
        self.assertEqual(d.stop(), 0, d.log())
        self.fake.set(rcpt="250 2.1.5 ok")
        r = self.q("retry", "all")
        self.assertIn("done", r.stdout)
        own = owners(self.spool)
        self.assertEqual({p: u for p, u in own.items() if u != UID}, {}, own)
        gids = {p: os.lstat(os.path.join(self.spool, p)).st_gid for p in own}
        self.assertEqual({p: g for p, g in gids.items() if g != GID}, {}, gids)
        d = self.start("smtpgate-outbound", self.conf)
        harness.wait_for(lambda: self.fake.message_count() >= 1 or not d.alive(), 20,
                         "the retried message sent")
        self.assertTrue(d.alive(), d.log())
        self.assertIn(qid, d.log())

    def test_missing_spool_75(self):
        conf = self.write("none.conf", harness.outbound_config(
            self.path("nospool"), [{"host": "127.0.0.1", "port": 2525, "tls": "none"}]))
        for args in (["list"], ["list", "--json"], ["status"]):
            r = self.q(*args, code=75, conf=conf)
            self.assertRegex(r.stderr, r"^smtpgate-queue: spool .*nospool does not exist")
            self.assertEqual(r.stdout, "")
        self.assertFalse(os.path.exists(self.path("nospool")))

    def test_operator_of_the_group_without_the_secret(self):
        d, qid = self.queue_one()
        secret = self.write("relay.secret", "s3cret\n")
        os.chmod(secret, 0o600)		# root's alone: the operator cannot read it
        op_conf = self.write("operator.conf", harness.outbound_config(
            self.spool, [{"host": "127.0.0.1", "port": self.fake.port, "tls": "starttls",
                          "auth_user": "gw", "auth_password_file": secret}]))
        operator = harness.as_ids(harness.USER_A, harness.USER_A, (harness.USER_A, GID))
        stranger = harness.as_ids(harness.USER_B, harness.USER_B)
        self.assertIn(qid, self.q("list", ids=operator, conf=op_conf).stdout)
        out = self.q("status", ids=operator, conf=op_conf).stdout
        self.assertRegex(out, r"(?m)^queued: 1$")
        self.assertRegex(out, r"(?m)^daemon: running \(.*pid=%d\)$" % d.pid)
        self.assertRegex(self.q("show", qid, ids=operator, conf=op_conf).stdout,
                         r"(?m)^Subject: deferred$")
        r = self.q("list", ids=stranger, conf=op_conf, code=75)
        self.assertIn("Permission denied", r.stderr)
        # retry by an operator: a request the running daemon acts on
        os.chmod(os.path.join(self.spool, "control"), 0o1730)
        self.fake.set(rcpt="250 2.1.5 ok")
        r = self.q("retry", qid, ids=operator, conf=op_conf)
        self.assertIn("requested from the running daemon", r.stdout)
        harness.wait_for(lambda: self.fake.message_count() >= 1, 20, "the retried message sent")
        d.wait_log(r"control verb=retry target=%s status=ok" % qid)
        # with the daemon stopped, an operator cannot change the queue
        self.assertEqual(d.stop(), 0, d.log())
        self.fake.set(rcpt="451 4.3.0 try later")
        d2, qid2 = self.queue_one()
        self.assertEqual(d2.stop(), 0, d2.log())
        r = self.q("delete", qid2, ids=operator, conf=op_conf, code=77)
        self.assertIn("not running", r.stderr)
        self.assertTrue(os.path.exists(os.path.join(self.spool, "queue", qid2 + ".env")))


if __name__ == "__main__":
    harness.main()
