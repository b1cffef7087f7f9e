"""smtpgate-queue: list / show / retry / delete / status on a real spool.

No daemon is needed: the queue is populated by writing queue/<id>.msg and
queue/<id>.env in the format outbound/queue.c defines, and a running daemon
is imitated by holding the fcntl lock on <spool>/.lock from this process.
The spool is owned by the service user, as the daemon leaves it; the tool
runs as root (it then works as the spool's owner), as the owner, or as an
operator of the queue's group.
"""

import fcntl
import json
import os
import re
import sys
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
import harness  # noqa: E402

Q = harness.binary("smtpgate-queue")
SM = harness.binary("smtpgate-sendmail")

ID_A = "0000000001aaaaaa"
ID_B = "0000000002bbbbbb"
ID_C = "0000000003cccccc"
REPLY_B = '451 4.3.0 "busy" \\ try\x01 later'
REPLY_C = "452 4.2.2 Postfach voll \u2014 \u00fcber"


def env_escape(s):
    """queue.c's value escaping: \\ \\n \\r and \\xHH for other control bytes."""
    out = []
    for ch in s:
        if ch == "\\":
            out.append("\\\\")
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\r":
            out.append("\\r")
        elif ord(ch) < 0x20 or ord(ch) == 0x7f:
            out.append("\\x%02x" % ord(ch))
        else:
            out.append(ch)
    return "".join(out)


def write_entry(spool, qid, sender, rcpts, created, next_attempt=0, attempts=0,
                last_reply=None, subject="test", body="BODYTEXT\r\n"):
    """Queue a message the way queue_entry_create / _store leave it.

    rcpts: list of (address, state, reply-or-None).
    """
    msg = ("From: <%s>\r\nTo: <%s>\r\nSubject: %s\r\n\r\n%s"
           % (sender or "mailer-daemon@x", rcpts[0][0], subject, body)).encode()
    qdir = os.path.join(spool, "queue")
    with open(os.path.join(qdir, qid + ".msg"), "wb") as f:
        f.write(msg)
    lines = ["version=1", "id=" + qid, "sender=" + env_escape(sender),
             "created=%d" % created, "next_attempt=%d" % next_attempt,
             "size=%d" % len(msg), "attempts=%d" % attempts, "delay_warned=0",
             "bounced=0", "last_reply=" + env_escape(last_reply or "")]
    for addr, state, reply in rcpts:
        lines.append("rcpt=%s %s" % (state, env_escape(addr)))
        if reply:
            lines.append("rcpt_reply=" + env_escape(reply))
    with open(os.path.join(qdir, qid + ".env"), "wb") as f:
        f.write(("\n".join(lines) + "\n").encode())
    return len(msg)


def own(top):
    """Give top and everything below it to the service user with the
    daemon's modes (dirs 0750, files 0640), as the daemon leaves its spool
    (the owner is changed only when the tests run as root)."""
    for root, dirs, files in os.walk(top):
        # control/: operators of the group post requests there (design of issue 16)
        os.chmod(root, 0o1730 if os.path.basename(root) == "control" else 0o750)
        for n in files:
            os.chmod(os.path.join(root, n), 0o640)
        if harness.privileged():
            for n in [root] + [os.path.join(root, x) for x in dirs + files]:
                os.lchown(n, harness.DAEMON_UID, harness.DAEMON_GID)


def foreign_owned(top):
    """The paths below top not owned by the service user."""
    out = []
    for root, dirs, files in os.walk(top):
        for n in [root] + [os.path.join(root, x) for x in dirs + files]:
            st = os.lstat(n)
            if (st.st_uid, st.st_gid) != (harness.DAEMON_UID, harness.DAEMON_GID):
                out.append((os.path.relpath(n, top), st.st_uid, st.st_gid))
    return out


def read_env(spool, qid):
    with open(os.path.join(spool, "queue", qid + ".env"), "rb") as f:
        return f.read()


def env_value(spool, qid, key):
    for line in read_env(spool, qid).decode().splitlines():
        if line.startswith(key + "="):
            return line[len(key) + 1:]
    return None


class QueueToolTest(harness.GatewayTestCase):

    def setUp(self):
        super().setUp()
        self.spool = self.path("spool")
        os.makedirs(self.spool)
        with open(os.path.join(self.spool, ".smtpgate"), "w") as f:
            f.write("role=outbound\ninstance=0123456789abcdef\nhost=test\n"
                    "created=2024-01-01T00:00:00Z\n")
        for d in ("pickup", "tmp", "queue", "control", "bad"):
            os.mkdir(os.path.join(self.spool, d))
        self.conf = self.write("outbound.conf", harness.outbound_config(
            self.spool, [{"host": "127.0.0.1", "port": 2525, "tls": "none"}]))
        self.now = int(time.time())
        # A's age is 2h00m30s: the tool's time(2) reads the kernel's coarse
        # clock, which can still be in the second before self.now, so an age
        # of exactly 7200 could read as 7199 ("1h59m").
        self.age_a = 7230
        self.size_a = write_entry(self.spool, ID_A, "alice@example.com",
                                  [("x@example.net", "pending", None),
                                   ("y@example.net", "pending", None)],
                                  created=self.now - self.age_a, subject="test A")
        self.size_b = write_entry(self.spool, ID_B, "bob@example.com",
                                  [("d@example.net", "delivered", "250 2.0.0 ok"),
                                   ("p@example.net", "pending", "451 4.3.0 busy"),
                                   ("f@example.net", "failed", "550 5.1.1 no such user")],
                                  created=self.now - 300, next_attempt=self.now + 600,
                                  attempts=2, last_reply=REPLY_B, subject="test B")
        self.size_c = write_entry(self.spool, ID_C, "", [("z@example.net", "pending", REPLY_C)],
                                  created=self.now - 60, next_attempt=self.now + 30,
                                  attempts=1, last_reply=REPLY_C, subject="test C")
        own(self.spool)
        self.lockfd = None

    def tearDown(self):
        if self.lockfd is not None:
            os.close(self.lockfd)
        super().tearDown()

    def q(self, *args, code=0, conf=None):
        r = harness.run([Q, "-c", conf or self.conf] + list(args))
        self.assertEqual(r.returncode, code, "exit %d\nstdout: %s\nstderr: %s"
                         % (r.returncode, r.stdout, r.stderr))
        return r

    def hold_lock(self):
        """Imitate a running daemon: the fcntl lock on .lock with its stamp."""
        self.lockfd = os.open(os.path.join(self.spool, ".lock"), os.O_RDWR | os.O_CREAT, 0o640)
        own(self.spool)
        os.ftruncate(self.lockfd, 0)
        os.write(self.lockfd, b"host=testhost pid=%d\n" % os.getpid())
        fcntl.lockf(self.lockfd, fcntl.LOCK_EX | fcntl.LOCK_NB, 0, 0, os.SEEK_SET)

    def control_files(self):
        return sorted(os.listdir(os.path.join(self.spool, "control")))

    def assert_lock_free(self):
        fd = os.open(os.path.join(self.spool, ".lock"), os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB, 0, 0, os.SEEK_SET)
        finally:
            os.close(fd)

    # --- list ----------------------------------------------------------

    def test_list_table(self):
        out = self.q("list").stdout
        lines = out.splitlines()
        self.assertRegex(lines[0], r"^ID\s+AGE\s+SIZE\s+SENDER\s+RECIPIENTS\s+STATE\s+NEXT\s+"
                                   r"LAST REPLY$")
        self.assertEqual([ln.split()[0] for ln in lines[1:]], [ID_A, ID_B, ID_C])
        row_a, row_b, row_c = lines[1:]
        self.assertIn("<alice@example.com>", row_a)
        self.assertIn("x@example.net,y@example.net", row_a)
        self.assertRegex(row_a, r"\bqueued\s+now\b")
        self.assertRegex(row_a, r"^%s\s+2h00m\s+%d\s" % (ID_A, self.size_a))
        self.assertRegex(row_b, r"\bdeferred\s+in (9|10)m\s+451 4\.3\.0")
        self.assertIn("<>", row_c)
        # columns line up: the STATE column starts at the same offset on every row
        col = lines[0].index("STATE")
        self.assertEqual(row_a[col:col + 6], "queued")
        self.assertEqual(row_b[col:col + 8], "deferred")

    def test_list_json(self):
        data = json.loads(self.q("list", "--json").stdout)
        self.assertEqual([e["id"] for e in data], [ID_A, ID_B, ID_C])
        keys = {"id", "age", "size", "sender", "recipients", "state", "next_attempt",
                "last_reply"}
        for e in data:
            self.assertEqual(set(e), keys)
        a, b, c = data
        self.assertTrue(self.age_a - 1 <= a["age"] <= self.age_a + 60, a["age"])
        self.assertEqual(a["size"], self.size_a)
        self.assertEqual(a["sender"], "alice@example.com")
        self.assertEqual(a["state"], "queued")
        self.assertEqual(a["next_attempt"], 0)
        self.assertIsNone(a["last_reply"])
        self.assertEqual(a["recipients"], [
            {"address": "x@example.net", "state": "pending", "reply": None},
            {"address": "y@example.net", "state": "pending", "reply": None}])
        self.assertEqual(b["state"], "deferred")
        self.assertEqual(b["next_attempt"], self.now + 600)
        self.assertEqual(b["last_reply"], REPLY_B)
        self.assertEqual([(r["address"], r["state"], r["reply"]) for r in b["recipients"]], [
            ("d@example.net", "delivered", "250 2.0.0 ok"),
            ("p@example.net", "pending", "451 4.3.0 busy"),
            ("f@example.net", "failed", "550 5.1.1 no such user")])
        self.assertEqual(c["sender"], "")
        self.assertEqual(c["last_reply"], REPLY_C)
        self.assertEqual(c["recipients"][0]["reply"], REPLY_C)

    def test_list_json_escapes_bad_utf8(self):
        qid = "0000000004dddddd"
        write_entry(self.spool, qid, "s@example.com", [("r@example.net", "pending", None)],
                    created=self.now, attempts=1, next_attempt=self.now + 5)
        path = os.path.join(self.spool, "queue", qid + ".env")
        with open(path, "rb") as f:
            text = f.read()
        with open(path, "wb") as f:
            f.write(text.replace(b"last_reply=\n", b"last_reply=421 bad \xff\xfe byte\n"))
        out = self.q("list", "--json").stdout
        entry = [e for e in json.loads(out) if e["id"] == qid][0]
        self.assertEqual(entry["last_reply"], "421 bad \ufffd\ufffd byte")

    def test_empty_queue(self):
        for qid in (ID_A, ID_B, ID_C):
            self.q("delete", qid)
        self.assertIn("queue is empty", self.q("list").stdout)
        self.assertEqual(json.loads(self.q("list", "--json").stdout), [])
        self.assertRegex(self.q("status").stdout, r"(?m)^queued: 0$")
        self.q("retry", "all")
        self.q("show", ID_A, code=1)

    def test_missing_spool_is_an_error(self):
        # not "queue is empty": a wrong -c or a daemon that never started
        conf = self.write("none.conf", harness.outbound_config(
            self.path("nospool"), [{"host": "127.0.0.1", "port": 2525, "tls": "none"}]))
        for args in (["list"], ["list", "--json"], ["status"], ["retry", "all"],
                     ["show", ID_A]):
            r = self.q(*args, conf=conf, code=75)
            self.assertRegex(r.stderr, r"^smtpgate-queue: spool %s does not exist"
                             % re.escape(self.path("nospool")))
        self.assertFalse(os.path.exists(self.path("nospool")))

    def test_sendmail_bp(self):
        r = harness.run([SM, "-C", self.conf, "-bp"], input="")
        self.assertEqual(r.returncode, 0, r.stderr)
        for qid in (ID_A, ID_B, ID_C):
            self.assertIn(qid, r.stdout)

    # --- show ----------------------------------------------------------

    def test_show(self):
        out = self.q("show", ID_B).stdout
        self.assertRegex(out, r"(?m)^id: %s$" % ID_B)
        self.assertRegex(out, r"(?m)^state: deferred$")
        self.assertRegex(out, r"(?m)^sender: <bob@example.com>$")
        self.assertRegex(out, r"(?m)^attempts: 2$")
        self.assertRegex(out, r"(?m)^size: %d$" % self.size_b)
        self.assertRegex(out, r"(?m)^recipient: <f@example.net> failed 550 5.1.1 no such user$")
        self.assertRegex(out, r"(?m)^recipient: <d@example.net> delivered 250 2.0.0 ok$")
        self.assertRegex(out, r"(?m)^Subject: test B$")
        self.assertNotIn("BODYTEXT", out)
        self.assertNotIn("\r", out)

    def test_show_unknown(self):
        r = self.q("show", "00000000000fffff", code=1)
        self.assertRegex(r.stderr, r"^smtpgate-queue: 00000000000fffff: no such message")
        self.q("show", "../../etc/passwd", code=1)

    # --- retry / delete without a daemon --------------------------------

    def test_retry_direct(self):
        before_a = read_env(self.spool, ID_A)
        self.q("retry", ID_B)
        self.assertEqual(env_value(self.spool, ID_B, "next_attempt"), "0")
        self.assertEqual(env_value(self.spool, ID_B, "attempts"), "2")
        self.assertEqual(read_env(self.spool, ID_A), before_a)
        self.assertEqual(self.control_files(), [])
        self.assert_lock_free()
        data = json.loads(self.q("list", "--json").stdout)
        self.assertEqual([e["next_attempt"] for e in data if e["id"] == ID_B], [0])

    def test_retry_all_direct(self):
        self.q("retry", "all")
        for qid in (ID_A, ID_B, ID_C):
            self.assertEqual(env_value(self.spool, qid, "next_attempt"), "0", qid)
        self.assertEqual(self.control_files(), [])

    def test_delete_direct(self):
        self.q("delete", ID_A)
        self.assertFalse(os.path.exists(os.path.join(self.spool, "queue", ID_A + ".env")))
        self.assertFalse(os.path.exists(os.path.join(self.spool, "queue", ID_A + ".msg")))
        ids = [e["id"] for e in json.loads(self.q("list", "--json").stdout)]
        self.assertEqual(ids, [ID_B, ID_C])
        self.q("delete", ID_A, code=1)
        self.assert_lock_free()

    def test_delete_all_refused(self):
        self.q("delete", "all", code=64)
        self.assertEqual(len(os.listdir(os.path.join(self.spool, "queue"))), 6)

    # --- with a running daemon (lock held): control requests ---------------

    def test_retry_posts_control_request_when_locked(self):
        self.hold_lock()
        before = read_env(self.spool, ID_B)
        r = self.q("retry", ID_B)
        self.assertIn("pid=%d" % os.getpid(), r.stdout)
        self.assertEqual(read_env(self.spool, ID_B), before)
        files = self.control_files()
        self.assertEqual(len(files), 1, files)
        self.assertTrue(files[0].startswith("retry.%s." % ID_B), files)
        with open(os.path.join(self.spool, "control", files[0])) as f:
            self.assertEqual(f.read(), "retry %s\n" % ID_B)
        self.assertEqual(os.listdir(os.path.join(self.spool, "tmp")), [])

    def test_delete_and_retry_all_post_when_locked(self):
        self.hold_lock()
        self.q("delete", ID_A)
        self.q("retry", "all")
        self.assertTrue(os.path.exists(os.path.join(self.spool, "queue", ID_A + ".env")))
        files = self.control_files()
        self.assertEqual(len(files), 2, files)
        self.assertTrue(any(f.startswith("delete.%s." % ID_A) for f in files), files)
        self.assertTrue(any(f.startswith("retry.all.") for f in files), files)
        self.q("retry", "00000000000fffff", code=1)
        self.assertEqual(len(self.control_files()), 2)

    # --- root and operators ----------------------------------------------

    @unittest.skipUnless(harness.privileged(), "needs root")
    def test_root_works_as_the_spool_owner(self):
        # retry all and delete rewrite and remove files; nothing left is root's
        self.q("retry", "all")
        self.q("delete", ID_C)
        self.assertEqual(foreign_owned(self.spool), [])
        # the daemon running: the request is posted as the owner too
        self.hold_lock()
        self.q("retry", ID_A)
        self.assertEqual(foreign_owned(self.spool), [])
        self.assertEqual(len(self.control_files()), 1)

    @unittest.skipUnless(harness.privileged(), "needs root")
    def test_root_on_a_root_owned_spool_stays_root(self):
        # the owner is root: nothing to switch to (the daemon refuses such a
        # spool and names the chown -R that fixes all of it)
        os.chown(self.spool, 0, 0)
        self.q("retry", "all")
        self.assertEqual(env_value(self.spool, ID_B, "next_attempt"), "0")

    @unittest.skipUnless(harness.privileged(), "needs root to switch ids")
    def test_operator_reads_without_the_secret(self):
        secret = self.write("relay.secret", "Sup3rS3cret\n")
        os.chmod(secret, 0o600)
        conf = self.write("op.conf", harness.outbound_config(self.spool, [{
            "host": "127.0.0.1", "port": 2525, "auth_user": "gw",
            "auth_password_file": secret}]))
        op = [harness.USER_A, harness.USER_A, (harness.USER_A, harness.DAEMON_GID)]
        r = harness.run_as(*op[:2], [Q, "-c", conf, "list", "--json"], groups=op[2])
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual([e["id"] for e in json.loads(r.stdout)], [ID_A, ID_B, ID_C])
        self.assertNotIn("Sup3r", r.stdout + r.stderr)
        r = harness.run_as(*op[:2], [Q, "-c", conf, "show", ID_B], groups=op[2])
        self.assertRegex(r.stdout, r"(?m)^Subject: test B$")
        r = harness.run_as(*op[:2], [Q, "-c", conf, "status"], groups=op[2])
        self.assertRegex(r.stdout, r"(?m)^queued: 3$")
        # not the owner, daemon stopped: no direct edit
        r = harness.run_as(*op[:2], [Q, "-c", conf, "retry", ID_B], groups=op[2])
        self.assertEqual(r.returncode, 77, r.stderr)
        self.assertEqual(env_value(self.spool, ID_B, "next_attempt"), str(self.now + 600))
        # daemon running: a request in control/ (mode 1730), no tmp/ needed
        self.hold_lock()
        r = harness.run_as(*op[:2], [Q, "-c", conf, "retry", ID_B], groups=op[2])
        self.assertEqual(r.returncode, 0, r.stderr)
        files = self.control_files()
        self.assertEqual(len(files), 1, files)
        self.assertTrue(files[0].startswith("retry.%s." % ID_B), files)
        self.assertEqual(os.stat(os.path.join(self.spool, "control", files[0])).st_uid,
                         harness.USER_A)
        # someone outside the group reads nothing
        r = harness.run_as(harness.USER_B, harness.USER_B, [Q, "-c", conf, "list"])
        self.assertEqual(r.returncode, 75, r.stdout + r.stderr)
        self.assertNotIn(ID_A, r.stdout)

    # --- status ----------------------------------------------------------

    def test_status(self):
        for name in ("p1", "p2"):
            with open(os.path.join(self.spool, "pickup", name), "w") as f:
                f.write("X-Receiver: <a@b.c>\n\nx\n")
        os.makedirs(os.path.join(self.spool, "maildrop"), exist_ok=True)
        with open(os.path.join(self.spool, "maildrop", "m1"), "w") as f:
            f.write("X-Sender: <a@b.c>\r\nX-Receiver: <a@b.c>\r\n"
                    "X-Smtpgate-Envelope: end\r\n\r\nx\r\n")
        with open(os.path.join(self.spool, "bad", "broken"), "w") as f:
            f.write("junk")
        with open(os.path.join(self.spool, "bad", "broken.reason"), "w") as f:
            f.write("no recipients")
        out = self.q("status").stdout
        self.assertRegex(out, r"(?m)^daemon: not running$")
        self.assertRegex(out, r"(?m)^queued: 3$")
        self.assertRegex(out, r"(?m)^deferred: 2$")
        self.assertRegex(out, r"(?m)^bytes: %d$" % (self.size_a + self.size_b + self.size_c))
        self.assertRegex(out, r"(?m)^oldest: 2h00m$")
        self.assertRegex(out, r"(?m)^maildrop: 1$")
        self.assertRegex(out, r"(?m)^pickup: 2$")
        self.assertRegex(out, r"(?m)^bad: 1$")
        self.hold_lock()
        out = self.q("status").stdout
        self.assertRegex(out, r"(?m)^daemon: running \(host=testhost pid=%d\)$" % os.getpid())

    # --- usage and configuration errors ------------------------------------

    def test_usage_errors(self):
        for args in ([], ["frobnicate"], ["list", "--bogus"], ["show"], ["retry"],
                     ["delete", ID_A, ID_B], ["status", "x"]):
            r = self.q(*args, code=64)
            self.assertIn("usage:", r.stderr)
        r = harness.run([Q, "-x", "list"])
        self.assertEqual(r.returncode, 64)
        self.assertTrue(os.path.exists(os.path.join(self.spool, "queue", ID_A + ".env")))

    def test_config_errors(self):
        bad = self.write("bad.conf", "spool = \n")
        r = self.q("list", conf=bad, code=78)
        self.assertTrue(r.stderr.startswith("smtpgate-queue: "))
        inb = self.path("in")
        os.makedirs(inb)
        with open(os.path.join(inb, ".smtpgate"), "w") as f:
            f.write("role=inbound\n")
        own(inb)
        conf = self.write("in.conf", harness.outbound_config(
            inb, [{"host": "127.0.0.1", "port": 2525, "tls": "none"}]))
        r = self.q("status", conf=conf, code=78)
        self.assertIn("inbound", r.stderr)


if __name__ == "__main__":
    harness.main()
