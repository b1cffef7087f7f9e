"""smtpgate-sendmail installed set-group-id, run by ordinary users.

The built injector is copied into the test directory as a package installs
it (root:SUBMIT_GID 02755; the test directory is on a file system that
honours set-group-id) and run as USER_A and USER_B (setpriv to numeric ids,
no supplementary group) and as root, against a spool laid out as the
daemon lays it out (maildrop/ DAEMON_UID:SUBMIT_GID 1730, <spool> 0751).
No daemon runs; test_tools_daemon.py sends through one.

Exit code chosen for "may not write into maildrop/" (the injector is not
set-group-id to the submission group): 77 (EX_NOPERM), with one line that
says so.
"""

import os
import stat
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
import harness  # noqa: E402
from maildrop import install_setgid, make_spool, parse_maildrop  # noqa: E402

A, B = harness.USER_A, harness.USER_B
SECRET = "Sup3rS3cretRelayPassw0rd"
MAX_SIZE = 50 << 20	# PICKUP_MAX_SIZE


@unittest.skipUnless(harness.privileged(), "needs root to switch ids")
class SetgidInjectorTest(harness.GatewayTestCase):

    def setUp(self):
        super().setUp()
        self.sm = install_setgid(self.path("bin"))
        self.spool = self.path("spool")
        make_spool(self.spool)
        self.conf = self.write("outbound.conf", harness.outbound_config(
            self.spool, [{"host": "127.0.0.1", "port": 2525, "tls": "none"}]))
        os.chmod(self.conf, 0o644)

    def secret_file(self, name, mode=0o640, group=harness.SUBMIT_GID):
        """A file holding SECRET as its first token, root:group mode."""
        p = self.write(name, SECRET + "\n")
        os.chown(p, 0, group)
        os.chmod(p, mode)
        return p

    def inject(self, uid, args, message="Subject: x\n\nb\n", sm=None, config=None,
               prefix=()):
        """Run the injector as uid (its own gid, no other group; root: as is)."""
        argv = list(prefix) + [sm or self.sm, "-C", config or self.conf] + list(args)
        data = message.encode() if isinstance(message, str) else message
        if uid == 0:
            return harness.run(argv, input=data)
        return harness.run_as(uid, uid, argv, input=data)

    def drops(self):
        return sorted(os.listdir(os.path.join(self.spool, "maildrop")))

    def assert_nothing_left(self):
        """Nothing in maildrop/ (not even a .w. file), tmp/ or pickup/."""
        for d in ("maildrop", "tmp", "pickup"):
            self.assertEqual(os.listdir(os.path.join(self.spool, d)), [], d)

    def take(self):
        """The only maildrop file: (stat, parsed); removes it."""
        names = self.drops()
        self.assertEqual(len(names), 1, names)
        self.assertFalse(names[0].startswith("."), names)
        for d in ("tmp", "pickup"):
            self.assertEqual(os.listdir(os.path.join(self.spool, d)), [], d)
        path = os.path.join(self.spool, "maildrop", names[0])
        st = os.lstat(path)
        with open(path, "rb") as f:
            data = f.read()
        os.unlink(path)
        return st, parse_maildrop(data)

    def test_installed_mode(self):
        st = os.stat(self.sm)
        self.assertEqual(stat.S_IMODE(st.st_mode), 0o2755)
        self.assertEqual((st.st_uid, st.st_gid), (0, harness.SUBMIT_GID))
        st = os.stat(os.path.join(self.spool, "maildrop"))
        self.assertEqual(stat.S_IMODE(st.st_mode), 0o1730)
        self.assertEqual((st.st_uid, st.st_gid), (harness.DAEMON_UID, harness.SUBMIT_GID))
        # an ordinary user can neither list maildrop/ nor write it himself
        r = harness.run_as(A, A, ["ls", os.path.join(self.spool, "maildrop")])
        self.assertNotEqual(r.returncode, 0)
        r = harness.run_as(A, A, ["touch", os.path.join(self.spool, "maildrop", "x")])
        self.assertNotEqual(r.returncode, 0)
        self.assertEqual(self.drops(), [])

    def test_users_and_root_submit(self):
        for uid in (A, B, 0):
            r = self.inject(uid, ["alice@example.com"])
            self.assertEqual(r.returncode, 0, (uid, r.stderr))
            self.assertEqual(r.stderr, b"")
            st, (sender, rcpts, got_uid, hdr, body) = self.take()
            self.assertEqual(st.st_uid, uid)		# the recorded owner
            self.assertEqual(stat.S_IMODE(st.st_mode), 0o644)
            self.assertTrue(stat.S_ISREG(st.st_mode))
            self.assertEqual(st.st_nlink, 1)
            self.assertEqual(got_uid, uid)
            self.assertEqual(rcpts, ["<alice@example.com>"])
            self.assertRegex(sender, r"^<[^@<>]+@gw-out\.test>$")
            self.assertEqual(body, "b\r\n")
            self.assertIn("Subject: x", hdr)

    def test_without_setgid_bit_permission_denied(self):
        plain = install_setgid(self.path("plain"), setgid=False)
        r = self.inject(A, ["alice@example.com"], sm=plain)
        self.assertEqual(r.returncode, 77, r.stderr)
        self.assertRegex(r.stderr.decode(), r"^smtpgate-sendmail: \S+/maildrop/\.w\.\S+: create: "
                         r"Permission denied \(smtpgate-sendmail must be installed set-group-id "
                         r"to the submission group that owns maildrop/\)\n$")
        self.assert_nothing_left()

    def test_config_readable_only_by_the_group_is_not_shown(self):
        # sendmail -C FILE: the file is read with the user's own ids
        secret = self.secret_file("secret.conf")
        r = self.inject(A, ["alice@example.com"], config=secret)
        self.assertEqual(r.returncode, 78, r.stderr)
        err = r.stderr.decode()
        self.assertEqual(err, "smtpgate-sendmail: %s: Permission denied\n" % secret)
        self.assertNotIn(SECRET, err + r.stdout.decode())
        # the group could have read it: the leak the issue saw
        r = harness.run_as(A, harness.SUBMIT_GID, ["cat", secret])
        self.assertEqual(r.stdout, SECRET + "\n")
        self.assert_nothing_left()

    def test_config_readable_by_the_user_may_say_what_is_wrong(self):
        # the control: a file the user can read himself is reported as usual
        mine = self.write("mine.conf", SECRET + "\n")
        os.chmod(mine, 0o644)
        r = self.inject(A, ["alice@example.com"], config=mine)
        self.assertEqual(r.returncode, 78, r.stderr)
        self.assertIn(SECRET, r.stderr.decode())

    def test_unreadable_password_file_does_not_matter(self):
        pw = self.secret_file("relay.pw", mode=0o600, group=0)
        conf = self.write("auth.conf", harness.outbound_config(
            self.spool, [{"host": "127.0.0.1", "port": 2525, "tls": "starttls",
                          "auth_user": "relay", "auth_password_file": pw}]))
        os.chmod(conf, 0o644)
        r = self.inject(A, ["alice@example.com"], config=conf)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertNotIn(SECRET.encode(), r.stderr)
        st, _ = self.take()
        self.assertEqual(st.st_uid, A)
        # nor one the group could read
        pw2 = self.secret_file("relay2.pw")
        conf2 = self.write("auth2.conf", harness.outbound_config(
            self.spool, [{"host": "127.0.0.1", "port": 2525, "tls": "starttls",
                          "auth_user": "relay", "auth_password_file": pw2}]))
        os.chmod(conf2, 0o644)
        r = self.inject(A, ["alice@example.com"], config=conf2)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.take()

    def test_envelope_cannot_be_extended_by_the_message(self):
        msg = ("X-Receiver: <x@evil.example>\nX-Sender: <>\nX-Smtpgate-Envelope: end\n"
               "Subject: s\n\nb\n")
        r = self.inject(A, ["alice@example.com"], message=msg)
        self.assertEqual(r.returncode, 0, r.stderr)
        _, (sender, rcpts, uid, hdr, _) = self.take()
        self.assertEqual(rcpts, ["<alice@example.com>"])
        self.assertNotEqual(sender, "<>")
        self.assertEqual(uid, A)
        self.assertEqual(hdr[:3], ["X-Receiver: <x@evil.example>", "X-Sender: <>",
                                   "X-Smtpgate-Envelope: end"])
        # a message that starts with X-Sender: only is accepted and sent as is
        r = self.inject(B, ["-f", "b@example.org", "alice@example.com"],
                        message="X-Sender: <boss@example.com>\n\nb\n")
        self.assertEqual(r.returncode, 0, r.stderr)
        _, (sender, rcpts, _, hdr, _) = self.take()
        self.assertEqual((sender, rcpts), ("<b@example.org>", ["<alice@example.com>"]))
        self.assertEqual(hdr[0], "X-Sender: <boss@example.com>")

    def test_over_the_limits_nothing_is_left(self):
        line = b"y" * 998 + b"\n"
        data = b"Subject: big\n\n" + line * (MAX_SIZE // len(line) + 2)
        r = self.inject(A, ["alice@example.com"], message=data)
        self.assertEqual(r.returncode, 65, r.stderr)
        self.assertEqual(r.stderr.decode(), "smtpgate-sendmail: message too large (%d bytes, "
                         "limit %d)\n" % (len(data), MAX_SIZE))
        self.assert_nothing_left()
        rcpts = ",\n ".join("r%d@example.com" % i for i in range(10001))
        r = self.inject(A, ["-t"], message="To: %s\nSubject: many\n\nb\n" % rcpts)
        self.assertEqual(r.returncode, 65, r.stderr)
        self.assertIn("too many recipients (more than 10000", r.stderr.decode())
        self.assert_nothing_left()

    def test_write_error_removes_the_unfinished_file(self):
        # a file size limit the user set: write() fails (SIGXFSZ ignored),
        # the .w. file is removed with the group raised again, exit 75
        r = self.inject(A, ["alice@example.com"], message="Subject: x\n\n" + "z" * 100000,
                        prefix=["prlimit", "--fsize=4096", "--"])
        self.assertEqual(r.returncode, 75, r.stderr)
        self.assertRegex(r.stderr.decode(), r"^smtpgate-sendmail: \S+/maildrop/\.w\.\S+: write: "
                         r"File too large\n$")
        self.assert_nothing_left()

    def fake_queue(self, directory):
        """A smtpgate-queue beside the injector that reports its ids (in
        Python: a shell would reset a differing effective group itself; the
        system's python3, which every user may run)."""
        q = os.path.join(directory, "smtpgate-queue")
        os.unlink(q)
        with open(q, "w") as f:
            f.write("#!%s\nimport sys\nfor ln in open('/proc/self/status'):\n"
                    "    if ln.startswith(('Gid:', 'Groups:')):\n        print(ln, end='')\n"
                    "print('args: ' + ' '.join(sys.argv[1:]))\n" % "/usr/bin/python3")
        os.chmod(q, 0o755)

    def test_bp_gives_the_group_up_for_good(self):
        self.fake_queue(self.path("bin"))
        secret = self.secret_file("secret.conf")
        os.symlink("smtpgate-sendmail", self.path("bin", "mailq"))
        for argv in ([self.sm, "-C", secret, "-bp"], [self.path("bin", "mailq"), "-C", secret]):
            r = harness.run_as(A, A, argv)
            self.assertEqual(r.returncode, 0, r.stderr)
            out = r.stdout
            # real, effective, saved and file-system gid: the user's own
            self.assertRegex(out, r"(?m)^Gid:\t%d\t%d\t%d\t%d$" % (A, A, A, A))
            self.assertRegex(out, r"(?m)^Groups:\s*$")
            self.assertIn("args: -c %s list" % secret, out)
            self.assertNotIn(str(harness.SUBMIT_GID), out)
        # while injecting, the group is there: the same check on a submission
        # would show it (the saved set-group-id is kept until maildrop/)
        r = self.inject(A, ["alice@example.com"])
        self.assertEqual(r.returncode, 0, r.stderr)
        st, _ = self.take()
        self.assertEqual(st.st_gid, harness.SUBMIT_GID)


if __name__ == "__main__":
    harness.main()
