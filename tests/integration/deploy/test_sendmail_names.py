"""-Dsendmail_names=true installs the names a Debian MTA provides
(/usr/sbin/sendmail, /usr/lib/sendmail, /usr/bin/mailq, /usr/bin/newaliases)
as symlinks to smtpgate-sendmail; the default installs none of them.

Each case configures a fresh build directory from the source tree, puts
the built injector where a full install puts it (meson installs targets
before symlinks, and refuses a link to a missing file), and runs `meson
install --tags sendmail-names --no-rebuild`, which installs only the links
(nothing needs building).  The links are then used: the injector is
root:SUBMIT_GID 2755 as the package installs it, and
USER_A submits through /usr/lib/sendmail (a symlink to a set-group-id
program keeps its group), newaliases says it has nothing to do, mailq
lists the queue.
"""
import os
import shutil
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tools"))
import harness  # noqa: E402
from maildrop import install_setgid, make_spool, parse_maildrop  # noqa: E402

NAMES = ("sbin/sendmail", "lib/sendmail", "bin/mailq", "bin/newaliases")


class SendmailNamesTest(harness.GatewayTestCase):

    def install(self, prefix, enabled, destdir=None):
        """Configure a build dir with the option, put the injector in
        place (set-group-id) and install the links; returns the install
        root (destdir + prefix, or prefix)."""
        root = destdir + prefix if destdir else prefix
        install_setgid(os.path.join(root, "sbin"))
        build = self.path("build-%s-%s" % (enabled, "d" if destdir else "p"))
        r = subprocess.run(["meson", "setup", build, harness.SRC, "--prefix", prefix,
                            "-Dsendmail_names=%s" % ("true" if enabled else "false")],
                           capture_output=True, text=True, timeout=300)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        argv = ["meson", "install", "-C", build, "--no-rebuild", "--tags", "sendmail-names"]
        if destdir:
            argv += ["--destdir", destdir]
        env = {k: v for k, v in os.environ.items() if k != "DESTDIR"}
        r = subprocess.run(argv, capture_output=True, text=True, timeout=300, env=env)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        return root

    def test_default_installs_no_names(self):
        root = self.install("/usr", False, destdir=self.path("dest"))
        for n in NAMES:
            self.assertFalse(os.path.lexists(os.path.join(root, n)), n)

    def test_debian_layout_under_destdir(self):
        root = self.install("/usr", True, destdir=self.path("dest"))
        for n in NAMES:
            p = os.path.join(root, n)
            self.assertTrue(os.path.islink(p), n)
            self.assertEqual(os.readlink(p), "/usr/sbin/smtpgate-sendmail", n)

    def test_names_work_through_the_setgid_injector(self):
        if not harness.privileged():
            self.skipTest("needs root to set a group and switch ids")
        prefix = self.path("prefix")
        self.install(prefix, True)
        for n in NAMES:
            self.assertEqual(os.readlink(os.path.join(prefix, n)),
                             os.path.join(prefix, "sbin", "smtpgate-sendmail"))
        spool = self.path("spool")
        make_spool(spool)
        conf = self.write("outbound.conf", harness.outbound_config(
            spool, [{"host": "127.0.0.1", "port": 2525, "tls": "none"}]))
        os.chmod(conf, 0o644)
        a = harness.USER_A
        r = harness.run_as(a, a, [os.path.join(prefix, "lib", "sendmail"), "-C", conf,
                                  "-f", "App <app@example.org>", "jane@example.com"],
                           input=b"Subject: via the name\n\nb\n")
        self.assertEqual(r.returncode, 0, r.stderr)
        md = os.path.join(spool, "maildrop")
        (name,) = os.listdir(md)
        with open(os.path.join(md, name), "rb") as f:
            sender, rcpts, uid, _, _ = parse_maildrop(f.read())
        self.assertEqual((sender, rcpts, uid), ("<app@example.org>", ["<jane@example.com>"], a))
        self.assertEqual(os.stat(os.path.join(md, name)).st_uid, a)
        r = harness.run_as(a, a, [os.path.join(prefix, "bin", "newaliases"), "-C", conf])
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("no alias database", r.stderr)
        r = harness.run([os.path.join(prefix, "bin", "mailq"), "-C", conf])
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("queue is empty", r.stdout)
        r = harness.run_as(a, a, [os.path.join(prefix, "sbin", "sendmail"), "-C", conf, "-bs"],
                           input=b"MAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.com>\r\n"
                           b"DATA\r\nx\r\n.\r\nQUIT\r\n")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn(b"250 2.0.0 Ok: queued as", r.stdout)
        self.assertEqual(len(os.listdir(md)), 2)


if __name__ == "__main__":
    harness.main()
