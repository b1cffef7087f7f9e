"""`ninja -C BUILD install-sendmail-names` installs the names a Debian MTA
provides (/usr/sbin/sendmail, /usr/lib/sendmail, /usr/bin/mailq,
/usr/bin/newaliases) as symlinks to smtpgate-sendmail; a plain `meson
install` installs none of them, and an existing name (another MTA's) is
never replaced.

The run target is driven in the suite's own build directory with DESTDIR
(its prefix is the build's); for a private prefix the same script
(conf/install-sendmail-names) is run with that prefix's directories, and
the links are then used: the injector is root:SUBMIT_GID 2755 as the
package installs it, USER_A submits through lib/sendmail (a symlink to a
set-group-id program keeps its group), newaliases says it has nothing to
do, mailq lists the queue, sbin/sendmail -bs queues a message.
"""
import json
import os
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tools"))
import harness  # noqa: E402
from maildrop import install_setgid, make_spool, parse_maildrop  # noqa: E402

NAMES = ("sbin/sendmail", "lib/sendmail", "bin/mailq", "bin/newaliases")
SCRIPT = os.path.join(harness.SRC, "conf", "install-sendmail-names")


def build_prefix():
    """The prefix the suite's build directory was configured with."""
    r = subprocess.run(["meson", "introspect", "--buildoptions", harness.BUILD],
                       capture_output=True, text=True, timeout=120, check=True)
    return next(o["value"] for o in json.loads(r.stdout) if o["name"] == "prefix")


class SendmailNamesTest(harness.GatewayTestCase):

    def run_target(self, destdir):
        env = dict(os.environ, DESTDIR=destdir)
        return subprocess.run(["ninja", "-C", harness.BUILD, "install-sendmail-names"],
                              capture_output=True, text=True, timeout=300, env=env)

    def test_meson_install_puts_no_names(self):
        r = subprocess.run(["meson", "introspect", "--installed", harness.BUILD],
                           capture_output=True, text=True, timeout=120)
        self.assertEqual(r.returncode, 0, r.stderr)
        installed = json.loads(r.stdout).values()
        self.assertTrue(any(p.endswith("/smtpgate-sendmail") for p in installed))
        for p in installed:
            self.assertNotRegex(p, r"/(sendmail|mailq|newaliases)$", p)

    def test_debian_layout_under_destdir(self):
        dest = self.path("dest")
        r = self.run_target(dest)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        prefix = build_prefix()
        for n in NAMES:
            p = dest + os.path.join(prefix, n)
            self.assertTrue(os.path.islink(p), n)
            self.assertEqual(os.readlink(p), os.path.join(prefix, "sbin", "smtpgate-sendmail"))
        r = self.run_target(dest)	# again: nothing to do, still 0
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertEqual(r.stdout.count("(already)"), 4, r.stdout)

    def test_another_mta_keeps_its_sendmail(self):
        dest = self.path("dest2")
        theirs = dest + os.path.join(build_prefix(), "sbin", "sendmail")
        os.makedirs(os.path.dirname(theirs))
        with open(theirs, "w") as f:
            f.write("#!/bin/sh\n")
        r = self.run_target(dest)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("exists (another MTA's?); left alone", r.stdout + r.stderr)
        with open(theirs) as f:
            self.assertEqual(f.read(), "#!/bin/sh\n")
        self.assertTrue(os.path.islink(dest + os.path.join(build_prefix(), "bin", "mailq")))

    def test_names_work_through_the_setgid_injector(self):
        if not harness.privileged():
            self.skipTest("needs root to set a group and switch ids")
        prefix = self.path("prefix")
        install_setgid(os.path.join(prefix, "sbin"))
        r = subprocess.run([SCRIPT, prefix + "/sbin", prefix + "/bin", prefix + "/lib"],
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
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
