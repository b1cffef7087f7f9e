"""--help, -V and --version on every program, and the reload check.

Every program prints its usage on stdout and exits 0 for --help, prints
"<program> <version>" and exits 0 for -V and --version, and still refuses an
unknown option with 64 and the usage on stderr.  smtpgate-sendmail keeps
sendmail's -V ENVID: only a bare -V (the sole argument) prints the version.
The units' ExecReload runs the daemon's -t on the config before the SIGHUP:
that check must pass while the daemon runs on the same spool and fail on a
broken config.
"""

import os
import re
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
import harness  # noqa: E402

PROGRAMS = ["smtpgate-inbound", "smtpgate-outbound", "smtpgate-sendmail",
            "smtpgate-queue", "smtpgate-check"]


def project_version():
    """The version in the top-level meson.build."""
    with open(os.path.join(harness.SRC, "meson.build")) as f:
        return re.search(r"version\s*:\s*'([^']+)'", f.read()).group(1)


class CliTests(harness.GatewayTestCase):

    def test_help(self):
        for prog in PROGRAMS:
            r = harness.run([harness.binary(prog), "--help"])
            self.assertEqual(r.returncode, 0, "%s --help: %s" % (prog, r.stderr))
            self.assertTrue(r.stdout.startswith("usage: " + prog + " "), (prog, r.stdout))
            self.assertIn("--version", r.stdout, prog)
            self.assertEqual(r.stderr, "", prog)

    def test_version(self):
        want = "%s %s\n" % ("%s", project_version())
        for prog in PROGRAMS:
            for opt in ("-V", "--version"):
                r = harness.run([harness.binary(prog), opt])
                self.assertEqual(r.returncode, 0, "%s %s: %s" % (prog, opt, r.stderr))
                self.assertEqual(r.stdout, want % prog, (prog, opt))
                self.assertEqual(r.stderr, "", (prog, opt))

    def test_unknown_option_is_usage_error(self):
        for prog in PROGRAMS:
            r = harness.run([harness.binary(prog), "--no-such-option"])
            self.assertEqual(r.returncode, 64, prog)
            self.assertIn("usage: " + prog, r.stderr, prog)
            self.assertEqual(r.stdout, "", prog)

    def test_help_after_other_options(self):
        # the long forms are found among the options, not only first
        for prog, args in (("smtpgate-inbound", ["-c", "/nonexistent", "--help"]),
                           ("smtpgate-outbound", ["-v", "--version"]),
                           ("smtpgate-queue", ["-c", "/nonexistent", "--version"]),
                           ("smtpgate-sendmail", ["-C", "/nonexistent", "--help"])):
            r = harness.run([harness.binary(prog)] + args)
            self.assertEqual(r.returncode, 0, (prog, args, r.stderr))
            self.assertTrue(r.stdout.startswith(("usage: " + prog, prog + " ")), (prog, args))

    def test_sendmail_V_with_a_value_is_the_envelope_id(self):
        sm = harness.binary("smtpgate-sendmail")
        # -V ENVID alone: taken as the envelope id, no version line; the
        # submission then goes on (and stops at the missing config)
        r = harness.run([sm, "-V", "envid-1", "-C", self.path("missing.conf")], input="")
        self.assertEqual(r.returncode, 78, r.stderr)
        self.assertEqual(r.stdout, "")
        self.assertIn("missing.conf", r.stderr)
        # -V ENVID with a recipient: a submission attempt (here: no config)
        r = harness.run([sm, "-C", self.path("missing.conf"), "-V", "envid-1",
                         "bob@example.com"], input="Subject: x\n\nhi\n")
        self.assertNotEqual(r.returncode, 0)
        self.assertEqual(r.stdout, "")
        self.assertIn("missing.conf", r.stderr)

    def test_reload_check(self):
        # what ExecReload runs before the SIGHUP: ok beside the running daemon
        d, port, spool = self.start_inbound()
        conf = self.path("inbound.conf")
        r = harness.run(harness.daemon_ids() + [harness.binary("smtpgate-inbound"),
                                                "-t", "-c", conf])
        self.assertEqual((r.returncode, r.stdout), (0, "ok\n"), r.stderr)
        # a broken config fails the check (so `systemctl reload` fails) ...
        with open(conf, "a") as f:
            f.write("no_such_key = 1\n")
        r = harness.run(harness.daemon_ids() + [harness.binary("smtpgate-inbound"),
                                                "-t", "-c", conf])
        self.assertEqual(r.returncode, 78, r.stderr)
        self.assertIn("no_such_key", r.stderr)
        # ... and the daemon is untouched by it
        self.assertTrue(d.alive())
        self.assertTrue(harness.port_open(port))


if __name__ == "__main__":
    harness.main()
