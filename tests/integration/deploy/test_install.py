"""`meson install` puts the five programs, the example configs, the
systemd units and the sysusers.d/tmpfiles.d entries in place (issue 2)."""
import os
import shutil
import subprocess
import unittest

import harness


@unittest.skipUnless(shutil.which("meson"), "meson is not installed")
class InstallTest(harness.GatewayTestCase):
    def test_install_tree(self):
        dest = self.path("dest")
        r = subprocess.run(["meson", "install", "-C", harness.BUILD, "--no-rebuild",
                            "--destdir", dest], capture_output=True, text=True, timeout=120)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        files = set()
        for root, _dirs, names in os.walk(dest):
            for n in names:
                files.add(os.path.relpath(os.path.join(root, n), dest))
        tails = {f.split("/", 1)[1] if f.startswith("usr/") else f for f in files}

        def has(suffix):
            return any(f.endswith(suffix) for f in files)

        for prog in ("sbin/smtpgate-inbound", "sbin/smtpgate-outbound", "sbin/smtpgate-sendmail",
                     "sbin/smtpgate-queue", "bin/smtpgate-check"):
            self.assertTrue(has(prog), "%s not installed: %s" % (prog, sorted(tails)))
        for conf in ("smtpgate/inbound.conf", "smtpgate/outbound.conf",
                     "systemd/system/smtpgate-inbound.service",
                     "systemd/system/smtpgate-outbound.service",
                     "systemd/system/smtpgate-inbound@.service",
                     "systemd/system/smtpgate-outbound@.service",
                     "sysusers.d/smtpgate.conf", "tmpfiles.d/smtpgate.conf"):
            self.assertTrue(has(conf), "%s not installed" % conf)
        for f in files:
            if f.endswith(".service"):
                with open(os.path.join(dest, f)) as fh:
                    text = fh.read()
                self.assertNotIn("@sbindir@", text)
                self.assertNotIn("@bindir@", text)


if __name__ == "__main__":
    harness.main()
